"""Alembic's environment: migrate the connection `webapp.db.migrations.config()` hands over."""

from alembic import context
from sqlalchemy import create_engine

from webapp.db import migrations
from webapp.db.store import Base

target_metadata = Base.metadata


def run(connection):
    """Run the pending revisions on `connection` (batch mode, so SQLite can alter tables too)."""
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                      **migrations.options())
    with context.begin_transaction():
        context.run_migrations()


def main():
    """Migrate the given connection, or the one `sqlalchemy.url` names (the `alembic` command line)."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run(connection)
        return
    engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        run(conn)


if context.is_offline_mode():
    raise SystemExit("Offline (--sql) migrations are not supported; run `flask --app wsgi db upgrade`.")
main()
