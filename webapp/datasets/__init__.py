"""Datasets: the registry, the `.npz` reader, Keras's cache, the folder-archive ingester and the builder.

It may import `db/` and `modelspec/` (the augmentation preview's layers), and `runs/rq_shared.py` for a
build on the workers' queue; never Flask, and Keras only in `augment.py`. Text and series readers go here.
The web layer only receives a file and reports progress; arrays are decoded in a builder process
(`builder.py`), never in the web process. Callers import the registry's names from here; the
registry (and with it SQLAlchemy) is imported the first time one is asked for, so a builder
process that imports `webapp.datasets.builder` starts without it.
"""

from .data import BUILTIN, SPLITS, Data, DatasetError, describe, stats
from .npz import UploadError

__all__ = ["BUILTIN", "SPLITS", "Data", "DatasetError", "InUse", "Registry", "UploadError", "describe", "stats"]


def __getattr__(name):
    """Give `Registry` or `InUse` from the registry, importing it the first time one is asked for."""
    if name in ("InUse", "Registry"):
        from . import registry

        return getattr(registry, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
