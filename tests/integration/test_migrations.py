"""Alembic migrations: an empty database upgraded to the newest revision has exactly the models' schema,
on SQLite and on a real PostgreSQL; start-up migrates the embedded default; `db` commands work."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from tests.conftest import require
from tests.deployment import PostgresServer, postgres_bin
from webapp import create_app
from webapp.db import migrations
from webapp.runs import journal
from webapp.db.store import Base, Run, Store


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    """Give a throwaway PostgreSQL server (Debian's packages; .ci/run installs them)."""
    require(postgres_bin("initdb") and postgres_bin("postgres"), "PostgreSQL (Debian's postgresql package)")
    server = PostgresServer(tmp_path_factory.mktemp("pg") / "postgres.log")
    yield server
    server.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty(request, tmp_path):
    """Give a Store on an empty database of each kind."""
    if request.param == "sqlite":
        store = Store(f"sqlite:///{tmp_path / 'empty.db'}")
    else:
        server = request.getfixturevalue("postgres")
        store = Store(server.url)
        with store.engine.begin() as conn:   # each test starts from an empty public schema
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    yield store
    store.engine.dispose()


def differences(store):
    """Give what Alembic finds different between the database and the models (empty when equal)."""
    with store.engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts=migrations.options()), Base.metadata)


def test_upgrade_of_an_empty_database_gives_the_models_schema(empty):
    assert migrations.upgrade(empty.engine) is None
    assert differences(empty) == []
    with empty.engine.connect() as conn:
        assert migrations.current(conn) == migrations.head()
    assert migrations.upgrade(empty.engine) == migrations.head()   # up to date: nothing happens


def test_the_journal_works_on_the_migrated_schema(empty):
    migrations.upgrade(empty.engine)
    with empty.session() as s:
        run = Run(name="r", status="queued", dataset="digits", spec={}, history={}, epochs_planned=2)
        s.add(run)
    assert journal.announce(empty, run.id)[1]["seq"] == 1
    assert journal.set_status(empty, run.id, "running")[1]["seq"] == 2
    kind, data = journal.add_epoch(empty, run.id, 1, {"loss": 0.5, "accuracy": float("nan")})
    assert (kind, data["seq"], data["logs"]) == ("run_epoch", 3, {"loss": 0.5, "accuracy": None})
    assert journal.set_status(empty, run.id, "queued") is None      # running -> queued is not a move
    with empty.session() as s:
        assert s.get(Run, run.id).history == {"loss": [0.5], "accuracy": [None]}
    assert [k for k, _ in journal.events_after(empty, run.id, 1)] == ["run_status", "run_epoch"]


def test_a_database_made_before_migrations_is_adopted_with_its_rows(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'old.db'}")
    # The tables create_all() made before migrations existed: those of revision 0001, unversioned
    # (the models have grown columns since, so they are made by that revision, then unstamped).
    migrations.upgrade(store.engine, migrations.INITIAL)
    with store.engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {migrations.VERSION_TABLE}"))
    with store.engine.begin() as conn:   # the columns of revision 0001 only (the models have more)
        conn.execute(text("INSERT INTO runs (name, status, dataset, spec, epochs_done, epochs_planned, history, "
                          "last_seq, created_at, queued_at) VALUES ('kept', 'completed', 'digits', '{}', 0, 0, '{}', "
                          "0, '2026-01-01', '2026-01-01')"))
    migrations.upgrade(store.engine)
    assert differences(store) == []
    with store.session() as s:
        assert [r.name for r in s.query(Run)] == ["kept"]


def test_the_embedded_default_migrates_at_start_up_and_the_db_commands_answer(tmp_path):
    app = create_app({"KD_DATA_DIR": str(tmp_path), "KD_WARM_SPARE": "0"})
    store = app.extensions["kd"].store
    assert differences(store) == []
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "current"])
    assert result.exit_code == 0 and result.output.split() == ["database:", migrations.head(), "newest:",
                                                               migrations.head()]
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0 and f"revision {migrations.head()} -> {migrations.head()}" in result.output


def test_a_team_deployment_does_not_migrate_by_itself(tmp_path):
    # With several web instances and workers, `flask --app wsgi db upgrade` runs once, by hand.
    app = create_app({"KD_DATA_DIR": str(tmp_path), "KD_EXECUTOR": "rq", "KD_REDIS_URL": "redis://127.0.0.1:1/0"})
    assert not inspect(app.extensions["kd"].store.engine).has_table("runs")
    result = app.test_cli_runner().invoke(args=["worker", "--burst"])
    assert result.exit_code != 0 and "run `flask --app wsgi db upgrade` first" in result.output
    assert app.test_cli_runner().invoke(args=["db", "upgrade"]).exit_code == 0
    assert differences(app.extensions["kd"].store) == []


def test_a_database_versioned_in_alembic_version_moves_to_our_table_and_optuna_shares_it(empty):
    # Before sweeps, our revision sat in Alembic's default table, which Optuna's storage claims.
    migrations.upgrade(empty.engine, "0003")
    with empty.engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {migrations.VERSION_TABLE}"))   # Alembic's own default table, as it made it:
        conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                          "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"))
        conn.execute(text("INSERT INTO alembic_version VALUES ('0003')"))
    assert migrations.upgrade(empty.engine) == "0003"
    assert differences(empty) == []
    import optuna
    storage = optuna.storages.RDBStorage(empty.engine.url.render_as_string(hide_password=False))
    study = optuna.create_study(storage=storage, study_name="shared")
    study.tell(study.ask({"x": optuna.distributions.FloatDistribution(0, 1)}), 0.5)
    assert optuna.load_study(study_name="shared", storage=storage).best_value == 0.5
    storage.engine.dispose()
    assert differences(empty) == []          # Optuna's tables are not the models' business
    with empty.engine.connect() as conn:
        assert migrations.current(conn) == migrations.head()
    assert migrations.upgrade(empty.engine) == migrations.head()
