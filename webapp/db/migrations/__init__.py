"""Schema migrations with Alembic: the database is brought to the models' schema by revisions.

`upgrade(engine)` applies every revision not applied yet (it only reads one row when the database
is up to date), `revision(engine, message)` writes a new revision file from what the models add.
Both run on the Store's engine, so SQLite pragmas and any SQLAlchemy URL work as elsewhere.
See README.md beside this file for how to add a revision.

Our revision is kept in the table `kd_schema_version`, not Alembic's default `alembic_version`:
Optuna's storage (sweeps/, in the same database) keeps its own schema's revision there and refuses
a database whose `alembic_version` holds another's. Databases from before are moved over on upgrade.
"""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from ..store import Base

FOLDER = Path(__file__).resolve().parent
# The revision that matches the tables `Store.create_all()` made before migrations existed.
INITIAL = "0001"
VERSION_TABLE = "kd_schema_version"
LEGACY_TABLE = "alembic_version"   # where our revision was kept before Optuna shared the database


def options():
    """Give the MigrationContext options every comparison and migration here uses (env.py too)."""
    return {"version_table": VERSION_TABLE, "include_name": ours, "compare_type": True}


def ours(name, type_, parent_names):
    """Say whether a database object is the models' to compare: not Optuna's tables, nor version tables."""
    if type_ == "table":
        return name in Base.metadata.tables
    return True


def config(connection=None):
    """Give an Alembic Config for this folder; `connection` is what env.py migrates."""
    cfg = Config()
    cfg.set_main_option("script_location", str(FOLDER))
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    cfg.attributes["connection"] = connection
    return cfg


def head():
    """Give the newest revision id."""
    return ScriptDirectory.from_config(config()).get_current_head()


def current(connection):
    """Give the revision the database is at (None for an empty or unversioned one)."""
    return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_revision()


def upgrade(engine, revision="head"):
    """Bring the database to `revision`; give the revision it was at before.

    A database made by `create_all()` before migrations existed (tables, but no version) is
    stamped with the initial revision first, since its tables are exactly that revision's.
    """
    with engine.begin() as conn:
        before = current(conn) or _adopt_legacy_version(conn)
        if before is None and inspect(conn).has_table("runs"):
            command.stamp(config(conn), INITIAL)
        if before != head() or revision != "head":
            command.upgrade(config(conn), revision)
    return before


def _adopt_legacy_version(conn):
    """Move our revision from `alembic_version` (where it was kept before) to VERSION_TABLE; give it, or None."""
    if not inspect(conn).has_table(LEGACY_TABLE):
        return None
    known = {script.revision for script in ScriptDirectory.from_config(config()).walk_revisions()}
    legacy = MigrationContext.configure(conn).get_current_revision()
    if legacy not in known:
        return None   # Optuna's revision, or nothing: not ours
    command.stamp(config(conn), legacy)
    conn.execute(text(f"DROP TABLE {LEGACY_TABLE}"))   # Optuna stamps its own there when it first opens
    return legacy


def revision(engine, message):
    """Write a new revision file with what the models have and the database lacks; give its path."""
    cfg = config()
    number = len(list(ScriptDirectory.from_config(cfg).walk_revisions())) + 1
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        script = command.revision(cfg, message=message, autogenerate=True, rev_id=f"{number:04d}")
    return Path(script.path)
