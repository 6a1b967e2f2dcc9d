"""Command-line tools: `flask --app wsgi users create|token|tokens|revoke`, `datasets list|fetch NAME`,
`db upgrade|current|revision`, `worker`."""

import os

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from .team import accounts
from .db import migrations
from .datasets import keras_cache

datasets_cli = AppGroup("datasets", help="List datasets; fetch keras.datasets into Keras's cache.")


@datasets_cli.command("list")
def list_datasets():
    """Print every dataset with its sizes and whether it is available here."""
    for d in current_app.extensions["kd"].datasets.list():
        state = "available" if d["available"] else {"ready": "unavailable"}.get(d["state"], d["state"])
        click.echo(f"{d['id']:<24} {d['source']:<8} {state:<11} {d['train_size']}/{d['test_size']}  {d['name']}")
        if d.get("message"):
            click.echo(f"    {d['message']}")


@datasets_cli.command("fetch")
@click.argument("name", type=click.Choice(sorted(keras_cache.KERAS)))
def fetch(name):
    """Download a keras.datasets dataset into Keras's cache (needs internet), as load_data() does."""
    click.echo(f"Fetching {name} with keras.datasets.{name}.load_data() into {keras_cache.cache_dir()} ...")
    try:
        import keras

        (x_train, _), (x_test, _) = getattr(keras.datasets, name).load_data()
        if name in keras_cache.SEQUENCES:   # the word index, to show the reviews and newswires as words
            getattr(keras.datasets, name).get_word_index()
    except Exception as exc:   # offline, or a refused/corrupt download: a message, not a traceback
        raise click.ClickException(
            f"Could not fetch {name}: {exc}\nThis machine may be offline. Run this command (or "
            f"`keras.datasets.{name}.load_data()`) on a machine with internet and copy its Keras cache "
            f"(~/.keras/datasets/) to {keras_cache.cache_dir()}/.") from None
    what = "sequences" if name in keras_cache.SEQUENCES else "images"
    click.echo(f"{name} is cached: {len(x_train)} training and {len(x_test)} test {what}. "
               f"The dashboard lists it as available now.")


db_cli = AppGroup("db", help="Schema migrations (Alembic) of the KD_DATABASE_URL database.")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision):
    """Bring the database to REVISION (default: the newest); run it once per deployment update."""
    engine = current_app.extensions["kd"].store.engine
    before = migrations.upgrade(engine, revision)
    with engine.connect() as conn:
        click.echo(f"Database {engine.url.render_as_string(hide_password=True)}: "
                   f"revision {before or 'none'} -> {migrations.current(conn)}.")


@db_cli.command("current")
def db_current():
    """Print the database's revision and the newest one."""
    with current_app.extensions["kd"].store.engine.connect() as conn:
        click.echo(f"database: {migrations.current(conn) or 'none'}  newest: {migrations.head()}")


@db_cli.command("revision")
@click.option("-m", "--message", required=True, help="What the revision changes, in a few words.")
def db_revision(message):
    """Write a new revision from what the models in webapp/db/store.py add (see webapp/db/migrations/README.md)."""
    click.echo(f"Wrote {migrations.revision(current_app.extensions['kd'].store.engine, message)}; read it before committing.")


@click.command("worker")
@with_appcontext
@click.option("--name", help="The worker's name in RQ (default: a random one).")
@click.option("--burst", is_flag=True, help="Train what is queued, then exit.")
def worker(name, burst):
    """Train runs from KD_RQ_QUEUE on Redis (KD_EXECUTOR=rq), each in a fresh work-horse process.

    One worker trains one run at a time: start one per GPU, each with its CUDA_VISIBLE_DEVICES.
    SIGTERM or Ctrl-C stops it after the current run; twice, at once.
    """
    cfg = current_app.config
    kd = current_app.extensions["kd"]
    with kd.store.engine.connect() as conn:
        at, newest = migrations.current(conn), migrations.head()
    if at != newest:
        raise click.ClickException(f"The database is at revision {at or 'none'}, not {newest}: "
                                   "run `flask --app wsgi db upgrade` first.")
    # Nothing of the web app's database pool may live on in the forked work-horses.
    kd.store.engine.dispose()
    from .runs import rq_worker

    click.echo(f"Worker on {cfg['KD_REDIS_URL']} queue {cfg['KD_RQ_QUEUE']}, "
               f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '(all)')}")
    rq_worker.work(cfg, name=name, burst=burst)


users_cli = AppGroup("users", help="Accounts: create users; make, list and revoke API tokens for scripts.")


@users_cli.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(accounts.ROLES), default="member", show_default=True)
@click.option("--password", help="Omit it to be asked (hidden); a token-only account has none.")
@click.option("--no-password", is_flag=True, help="Create an account that signs in with API tokens only.")
def create_user(name, role, password, no_password):
    """Create an account NAME with a role (admin, member, viewer)."""
    if password is None and not no_password:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = accounts.create_user(current_app.extensions["kd"].store, name, role, None if no_password else password)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created {user.role} {user.name}.")


def _user_named(store, name):
    user = accounts.find_user(store, name)
    if user is None:
        raise click.ClickException(f"There is no user called {name}.")
    return user


@users_cli.command("token")
@click.argument("name")
@click.option("--days", type=click.IntRange(min=0), default=accounts.TOKEN_DAYS, show_default=True,
              help="How long the token works; 0: until revoked.")
@click.option("--label", default="cli", show_default=True, help="What the token is for (shown by `users tokens`).")
def user_token(name, days, label):
    """Print a new API token for NAME (send it as `Authorization: Bearer TOKEN`); it is shown only once."""
    store = current_app.extensions["kd"].store
    click.echo(accounts.new_api_token(store, _user_named(store, name).id, label=label[:64], days=days))


@users_cli.command("tokens")
@click.argument("name", required=False)
def user_tokens(name):
    """List the API tokens of NAME (or everyone's): id, user, label, created, last used, expires."""
    store = current_app.extensions["kd"].store
    rows = accounts.list_tokens(store, _user_named(store, name).id if name else None)
    for t in rows:
        click.echo(f"{t['id']:<6} {t['user']:<16} {t['label']:<16} created {_day(t['created_at'])}  "
                   f"last used {_day(t['last_used_at'], 'never')}  expires {_day(t['expires_at'], 'never')}")
    if not rows:
        click.echo("No API tokens.")


def _day(iso, none="-"):
    return iso[:16].replace("T", " ") if iso else none


@users_cli.command("revoke")
@click.argument("token_id", type=int)
def revoke_token(token_id):
    """Revoke the API token TOKEN_ID (from `users tokens`): it stops working at once."""
    if not accounts.revoke_token(current_app.extensions["kd"].store, token_id):
        raise click.ClickException(f"There is no API token {token_id}.")
    click.echo(f"Revoked API token {token_id}.")


def register_commands(app):
    """Add the command groups to `flask --app wsgi`."""
    app.cli.add_command(users_cli)
    app.cli.add_command(datasets_cli)
    app.cli.add_command(db_cli)
    app.cli.add_command(worker)
