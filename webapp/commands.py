"""Command-line tools: `flask --app wsgi datasets list|fetch NAME`."""

import click
from flask import current_app
from flask.cli import AppGroup

from . import keras_datasets

datasets_cli = AppGroup("datasets", help="List datasets; fetch keras.datasets into Keras's cache.")


@datasets_cli.command("list")
def list_datasets():
    """Print every dataset with its sizes and whether it is available here."""
    for d in current_app.extensions["kd"].datasets.list():
        state = "available" if d["available"] else "unavailable"
        click.echo(f"{d['id']:<24} {d['source']:<8} {state:<11} {d['train_size']}/{d['test_size']}  {d['name']}")
        if d.get("message"):
            click.echo(f"    {d['message']}")


@datasets_cli.command("fetch")
@click.argument("name", type=click.Choice(sorted(keras_datasets.KERAS)))
def fetch(name):
    """Download a keras.datasets dataset into Keras's cache (needs internet), as load_data() does."""
    click.echo(f"Fetching {name} with keras.datasets.{name}.load_data() into {keras_datasets.cache_dir()} ...")
    try:
        import keras

        (x_train, _), (x_test, _) = getattr(keras.datasets, name).load_data()
    except Exception as exc:   # offline, or a refused/corrupt download: a message, not a traceback
        raise click.ClickException(
            f"Could not fetch {name}: {exc}\nThis machine may be offline. Run this command (or "
            f"`keras.datasets.{name}.load_data()`) on a machine with internet and copy its Keras cache "
            f"(~/.keras/datasets/) to {keras_datasets.cache_dir()}/.") from None
    click.echo(f"{name} is cached: {len(x_train)} training and {len(x_test)} test images. "
               f"The dashboard lists it as available now.")


def register_commands(app):
    """Add the command groups to `flask --app wsgi`."""
    app.cli.add_command(datasets_cli)
