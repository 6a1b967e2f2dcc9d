"""The Keras dashboard. `create_app(config=None)`, in `webapp.factory`, builds the Flask app and its services.

It is imported on first use: a process that needs only part of the package (a dataset builder,
an RQ worker) imports no Flask, Alembic or Socket.IO through this file.
"""


def __getattr__(name):
    """Give `create_app` or `Services` from the factory, importing it the first time it is asked for."""
    if name in ("create_app", "Services"):
        from . import factory

        return getattr(factory, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
