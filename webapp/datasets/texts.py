"""Text folders made into a dataset: class folders of .txt files read as `keras.utils.text_dataset_from_directory` reads them.

Its defaults: class names are the sorted folder names and labels follow that order, only `.txt`
files count (in sub-folders too), one text per file, UTF-8. The archive is listed as image
archives are (archive.py: paths checked, nothing unpacked; a `train/` and `test/` layout keeps its
split, and folders only one of them has, such as aclImdb's `train/unsup`, are left out with a note).
Each file is decoded once, in archive order, and appended to one UTF-8 blob; the dataset file
(an .npz, read with allow_pickle=False) holds the blob and each split's (start, end) byte offsets
into it in Keras's order (keras_order), so the memory a build takes is the text once.
"""

import array
import io
import time
import zipfile

import numpy as np

from . import folders
from .archive import TEXTS, list_archive
from .npz import UploadError

KEYS = ("texts", "at_train", "y_train", "at_test", "y_test")   # the dataset file's arrays


def check_text(path, data, max_text_bytes):
    """Give the file's text; UploadError naming `path` when it is too long, binary (NUL bytes) or not UTF-8."""
    if len(data) > max_text_bytes:
        raise UploadError(f"{path}: {len(data) / 1024:.0f} KB, more than the {max_text_bytes // 1024} KB a text may "
                          f"have here (KD_MAX_TEXT_KB). Split it into several files.")
    if b"\0" in data:
        raise UploadError(f"{path}: holds NUL bytes, so it is a binary file named .txt, not a text. Remove it "
                          f"(a text folder holds UTF-8 .txt files, one text each).")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UploadError(f"{path}: not UTF-8 (byte {exc.start}: {data[exc.start:exc.start + 1]!r}); "
                          f"text_dataset_from_directory reads UTF-8. Save it as UTF-8.") from None


def ingest(path, kind, opts, limits, progress=None):
    """Give (arrays dict, class names, notes, facts) of a text archive; UploadError says why it cannot be one.

    limits: {"max_texts", "max_text_bytes", "max_bytes"}; progress(done, total) while reading.
    """
    started = time.monotonic()
    listing = list_archive(path, kind, limits["max_texts"], limits["max_bytes"], TEXTS)
    splits = listing.splits if listing.given_split else folders.stratified(   # drawn in the order train.py reads
        listing.labels, np.ones(len(listing.paths), bool), len(listing.class_names), opts,
        lambda i: keras_order(listing, i))
    if not (splits == 1).any():
        raise UploadError("No text went to the test split: each class needs at least 2 texts (or give test/).")
    blob, starts, ends, total = bytearray(), array.array("q"), array.array("q"), len(listing.paths)
    for done, (i, data) in enumerate(folders._each_file(path, listing), 1):
        check_text(listing.paths[i], data, limits["max_text_bytes"])
        starts.append(len(blob))
        blob += data
        ends.append(len(blob))
        if len(blob) > limits["max_bytes"]:
            raise UploadError(f"The texts decode to more than the {limits['max_bytes'] / 2**20:.0f} MB this server "
                              f"accepts (KD_MAX_DATASET_MB), at {listing.paths[i]}; send fewer texts.")
        if progress:
            progress(done, total)
    at = np.stack([np.frombuffer(starts, np.int64), np.frombuffer(ends, np.int64)], axis=1)
    arrays = {"texts": np.frombuffer(blob, np.uint8)}
    for s, split_name in enumerate(("train", "test")):
        members = sorted(np.flatnonzero(splits == s).tolist(), key=lambda i: keras_order(listing, i))
        arrays[f"at_{split_name}"] = at[members]
        arrays[f"y_{split_name}"] = listing.labels[members].astype(np.int64)
    notes = _notes(listing)
    facts = {"texts": total, "decoded_bytes": len(blob), "ignored_files": listing.ignored,
             "given_split": listing.given_split, "skipped_folders": list(listing.skipped),
             "seconds": round(time.monotonic() - started, 2)}
    return arrays, listing.class_names, notes, facts


def keras_order(listing, i):
    """Give file i's place in text_dataset_from_directory(shuffle=False)'s order: by class, then folder, then file name.

    Keras walks each class folder and sorts the walk by folder, then each folder's files by name
    (keras/src/utils/dataset_utils.py iter_valid_files; tests/unit/test_exports.py pins it).
    """
    folder, _, name = listing.paths[i].rpartition("/")
    return int(listing.labels[i]), folder, name


def _notes(listing):
    """Give the sentences a user reads about what was left out."""
    notes = []
    if listing.skipped:
        notes.append(f"The folder(s) {', '.join(listing.skipped)} are in only one of train/ and test/, so they are not "
                     f"classes here and were left out (as aclImdb's train/unsup, which has no labels).")
    if listing.ignored:
        notes.append(f"{listing.ignored} file(s) that are not .txt were ignored, as text_dataset_from_directory does.")
    return notes


def load(path):
    """Give (x_train, y_train, x_test, y_test) of a stored text dataset: object arrays of str, int64 labels.

    The blob is read front to back, each text decoded into its slot as it comes, so loading takes
    the texts' memory once (np.load would hold the whole blob beside them).
    """
    try:
        with zipfile.ZipFile(path) as archive:
            small = {k: np.load(io.BytesIO(archive.read(f"{k}.npy")), allow_pickle=False) for k in KEYS[1:]}
            out = {s: np.empty(len(small[f"at_{s}"]), object) for s in ("train", "test")}
            spans = sorted((a, b, s, i) for s in ("train", "test") for i, (a, b) in enumerate(small[f"at_{s}"].tolist()))
            with archive.open("texts.npy") as f:
                if np.lib.format.read_magic(f) != (1, 0) or np.lib.format.read_array_header_1_0(f)[2] != np.uint8:
                    raise ValueError("its texts are not a uint8 blob as the builder writes it")
                at = 0
                for a, b, s, i in spans:
                    if a < at or len(f.read(a - at)) != a - at:
                        raise ValueError(f"the offsets of text {i} of the {s} split do not fit its blob")
                    out[s][i] = f.read(b - a).decode("utf-8")
                    at = b
    except (OSError, ValueError, KeyError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
        raise ValueError(f"the text dataset file {path} could not be read: {exc}") from None
    return out["train"], small["y_train"], out["test"], small["y_test"]


def stats(arrays, num_classes):
    """Give the shape, sizes, class counts and sample indexes of built text arrays (data.stats for texts)."""
    from .data import _samples

    return {"input_shape": [], "input_dtype": "string", "train_size": len(arrays["y_train"]),
            "test_size": len(arrays["y_test"]),
            "train_counts": np.bincount(arrays["y_train"], minlength=num_classes).tolist(),
            "test_counts": np.bincount(arrays["y_test"], minlength=num_classes).tolist(),
            "samples": {"train": _samples(arrays["y_train"], num_classes),
                        "test": _samples(arrays["y_test"], num_classes)}}

