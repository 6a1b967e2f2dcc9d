"""sweeps, and share links to a sweep

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 16:51:31.522393

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('sweeps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('trials_planned', sa.Integer(), nullable=False),
    sa.Column('study_name', sa.String(length=64), nullable=False),
    sa.Column('importance', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.Column('lease', sa.String(length=128), nullable=True),
    sa.Column('lease_until', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('study_name')
    )
    with op.batch_alter_table('sweeps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sweeps_status'), ['status'], unique=False)

    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sweep_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('sweep_trial', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_runs_sweep_id'), ['sweep_id'], unique=False)
        batch_op.create_foreign_key('fk_runs_sweep_id_sweeps', 'sweeps', ['sweep_id'], ['id'], ondelete='SET NULL')
        batch_op.create_unique_constraint('uq_runs_sweep_trial', ['sweep_id', 'sweep_trial'])

    with op.batch_alter_table('shares', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sweep_id', sa.Integer(), nullable=True))
        batch_op.alter_column('run_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_index(batch_op.f('ix_shares_sweep_id'), ['sweep_id'], unique=False)
        batch_op.create_foreign_key('fk_shares_sweep_id_sweeps', 'sweeps', ['sweep_id'], ['id'], ondelete='CASCADE')



def downgrade() -> None:
    """Downgrade schema."""
    op.execute("DELETE FROM shares WHERE run_id IS NULL")   # sweep links go with sweeps
    with op.batch_alter_table('shares', schema=None) as batch_op:
        batch_op.drop_constraint('fk_shares_sweep_id_sweeps', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_shares_sweep_id'))
        batch_op.alter_column('run_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('sweep_id')

    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_constraint('uq_runs_sweep_trial', type_='unique')
        batch_op.drop_constraint('fk_runs_sweep_id_sweeps', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_runs_sweep_id'))
        batch_op.drop_column('sweep_trial')
        batch_op.drop_column('sweep_id')

    with op.batch_alter_table('sweeps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sweeps_status'))

    op.drop_table('sweeps')
