"""Where everything is stored: the SQLAlchemy models and queries (`store`) and their Alembic migrations.

It knows no Flask and no Keras; `team/`, `runs/`, `datasets/` and the factory read and write through it.
"""
