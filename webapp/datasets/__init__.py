"""Datasets: the registry, the `.npz` reader, Keras's cache, the folder-archive ingester and the builder.

The web layer only receives a file and reports progress; arrays are decoded in a builder process
(`builder.py`), never in the web process. Callers import the registry's names from here.
"""

from .npz import UploadError
from .data import BUILTIN, SPLITS, Data, DatasetError, describe, stats
from .registry import InUse, Registry

__all__ = ["BUILTIN", "SPLITS", "Data", "DatasetError", "InUse", "Registry", "UploadError", "describe", "stats"]
