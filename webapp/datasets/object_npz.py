"""The restricted read of Keras's imdb.npz and reuters.npz: object arrays of lists of word ranks, and integer labels.

Keras saves those ragged sequences as `dtype=object` arrays, which NumPy stores as a pickle and
`np.load(allow_pickle=False)` refuses. Each member's `.npy` header is read first
(`np.lib.format.read_magic` and `read_array_header_*`): a numeric member is then read with
`allow_pickle=False`; an object member's pickle is read by `NumpyOnlyUnpickler`, which rebuilds
NumPy arrays (ndarray, dtype, _reconstruct: the globals Keras's own `npz_utils.RestrictedUnpickler`
allows) and refuses every other global, so nothing but arrays, lists and ints is ever built. What
comes out is then checked: a 1-D array of lists of ints, converted to int32 arrays (a tenth of the
memory of Python ints).
"""

import io
import pickle
import zipfile

import numpy as np


class FormatError(Exception):
    """A file that is not an npz of rank sequences and labels; str() says what is wrong (the caller names the file)."""


class NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds numpy arrays and refuses every other global (no code can run)."""

    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"),
               ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct")}

    def find_class(self, module, name):
        """Give an allowed numpy global; refuse anything else."""
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        # Files pickled by numpy 1 name numpy.core; numpy 2 keeps that as a deprecated alias.
        return super().find_class(module.replace("numpy.core", "numpy._core") if hasattr(np, "_core") else module,
                                  name)


def read(path, sequences, labels):
    """Give {key: array} of the npz at `path`: `sequences` keys as object arrays of int32 rank arrays, `labels` keys int64.

    FormatError says what is not as Keras writes it (missing or extra members, not lists of ints,
    labels that are not whole numbers, lengths that differ).
    """
    with zipfile.ZipFile(path) as archive:
        members = {n[:-4]: n for n in archive.namelist() if n.endswith(".npy")}
        wanted = (*sequences, *labels)
        if set(members) != set(wanted):
            raise FormatError(f"it holds {sorted(members) or 'no arrays'}; Keras's file holds exactly {list(wanted)}")
        out = {}
        for key in wanted:
            with archive.open(members[key]) as raw:
                out[key] = _member(io.BytesIO(raw.read()), key, key in sequences)
    for seq_key, label_key in zip(sequences, labels):
        if len(out[seq_key]) != len(out[label_key]):
            raise FormatError(f"{seq_key} has {len(out[seq_key])} sequences but {label_key} {len(out[label_key])} labels")
    return out


def _member(fp, key, ragged):
    """Give one member's array, its header checked before any of its data is read."""
    version = np.lib.format.read_magic(fp)
    header = np.lib.format.read_array_header_1_0 if version[0] == 1 else np.lib.format.read_array_header_2_0
    shape, _, dtype = header(fp)
    if len(shape) != 1:
        raise FormatError(f"{key} has shape {shape}; Keras's is one-dimensional")
    if not ragged:
        if dtype.kind not in "iu":
            raise FormatError(f"{key} holds {dtype}; Keras's labels are whole numbers")
        fp.seek(0)
        return np.lib.format.read_array(fp, allow_pickle=False).astype(np.int64)
    if dtype != np.dtype(object):
        raise FormatError(f"{key} holds {dtype}; Keras's holds lists of word ranks (an object array)")
    array = NumpyOnlyUnpickler(fp).load()
    if not isinstance(array, np.ndarray) or array.dtype != object or array.shape != shape:
        raise FormatError(f"{key}'s data is not the object array its header announces")
    out = np.empty(len(array), dtype=object)
    for i, seq in enumerate(array):
        if type(seq) is not list or not all(type(w) is int for w in seq):
            raise FormatError(f"{key}[{i}] is {type(seq).__name__}, not a list of whole numbers")
        try:
            out[i] = np.array(seq, dtype=np.int32)
        except OverflowError:
            raise FormatError(f"{key}[{i}] holds a rank outside 32 bits") from None
    return out
