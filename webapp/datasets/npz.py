"""An uploaded .npz read safely into a dataset's arrays; every mistake is an UploadError saying what is wrong.

Safety first: the zip is inspected before numpy reads it (sizes and array headers, so a zip bomb or an
array header that promises terabytes is refused without allocating anything), arrays are loaded
with allow_pickle=False, and the result is written with a temporary file and os.replace.
"""

import contextlib
import os
import tempfile
import unicodedata
import zipfile

import numpy as np

REQUIRED = ("x_train", "y_train", "x_test", "y_test")
OPTIONAL = ("class_names",)
CHANNELS = (1, 3, 4)
MAX_CLASSES = 1000
MAX_NAME = 100
ACCEPTED = ("an .npz (as numpy.savez writes) with x_train, y_train, x_test, y_test and optionally class_names; "
            "images (N, H, W) or (N, H, W, C) with C = 1, 3 or 4; labels as integers 0..K-1 or one-hot (N, K)")


class UploadError(ValueError):
    """A file or name that cannot become a dataset; str() is the message for the user."""


def check_name(name, field="name", what="the dataset"):
    """Give the trimmed name, or raise UploadError naming `field` when it is empty, too long or not plain text.

    The one rule for the names people see: a dataset's, and each of its classes' (check_class_names).
    """
    name = (name or "").strip()
    if not name:
        raise UploadError(f"{field}: give {what} a name (1 to {MAX_NAME} characters).")
    if len(name) > MAX_NAME:
        raise UploadError(f"{field}: at most {MAX_NAME} characters; this one has {len(name)}.")
    if not name.replace(" ", "").isprintable():   # control characters, bidi overrides (U+202E), zero widths
        odd = next(c for c in name if c != " " and not c.isprintable())
        raise UploadError(f"{field}: letters, digits, punctuation and spaces only; U+{ord(odd):04X} is not shown "
                          f"as text.")
    return name


def check_class_names(names, field, exact=False):
    """Give the class names, each held to check_name, no two equal but for case or Unicode form (NFC/NFD).

    Such twins show as one class, and merge into one folder on macOS and Windows. field(i) names the
    i-th in a message; exact: the names are folders', kept as they are (spaces at either end refused).
    """
    out, seen = [], {}
    for i, name in enumerate(names):
        kept = check_name(name, field(i), "each class")
        if exact and kept != name:
            raise UploadError(f"{field(i)}: spaces at either end of a class name are not kept; remove them.")
        key = unicodedata.normalize("NFD", unicodedata.normalize("NFD", kept).casefold())   # caseless, any form
        if key in seen:
            raise UploadError(f"{field(i)}: the same name as {field(seen[key])} but for case or Unicode form "
                              f"(NFC/NFD); they would show as one class, or merge into one folder on macOS and "
                              f"Windows. Rename one.")
        seen[key] = i
        out.append(kept)
    return out


def read(stream, max_bytes, max_dataset_bytes=None, max_images=None):
    """Give the checked arrays of an uploaded .npz (see `normalize`); raise UploadError when it is not one.

    The decoded size (every conversion, the label work and the saved copy; see `peak_bytes`) is
    bounded by max_dataset_bytes from the array headers alone, before anything is allocated.
    """
    keys = list(check(stream, max_bytes, max_dataset_bytes, max_images))
    stream.seek(0)
    try:
        with np.load(stream, allow_pickle=False) as npz:
            raw = {k: npz[k] for k in keys}
    except ValueError as exc:   # numpy says "Object arrays cannot be loaded when allow_pickle=False" here
        raise UploadError(f"The .npz could not be read: {exc}.") from None
    except (OSError, EOFError, zipfile.BadZipFile, NotImplementedError, MemoryError) as exc:
        raise UploadError(f"The .npz is damaged and could not be read ({exc}).") from None
    return normalize(raw)


def check(stream, max_bytes, max_dataset_bytes=None, max_images=None):
    """Give {name: (shape, dtype)} of the arrays to load, from the zip's directory and the array headers only.

    UploadError when the file is not such an .npz, or would decode past max_dataset_bytes (`bound`).
    """
    heads = _inspect(stream, max_bytes)
    if max_dataset_bytes is not None:
        bound(heads, max_dataset_bytes, max_images)
    return heads


def _inspect(stream, max_bytes):
    """Give the array names to load after checking the zip's members, total size and array headers."""
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, EOFError):
        raise UploadError(f"The file is not an .npz archive; expected {ACCEPTED}.") from None
    with archive:
        members = {i.filename[:-4]: i for i in archive.infolist() if i.filename.endswith(".npy")}
        absent = [k for k in REQUIRED if k not in members]
        if absent:
            found = ", ".join(sorted(members)) or "no arrays"
            raise UploadError(f"The .npz has no {', '.join(absent)} (it holds: {found}); expected {ACCEPTED}.")
        keys = [k for k in REQUIRED + OPTIONAL if k in members]
        total = sum(members[k].file_size for k in keys)
        if total > max_bytes:
            raise UploadError(f"The .npz unpacks to {total / 2**20:.1f} MB, more than the {max_bytes / 2**20:.0f} MB "
                              f"this server accepts (4 × KD_MAX_UPLOAD_MB).")
        return {k: _check_header(archive, members[k], k) for k in keys}


def peak_bytes(heads):
    """Give the most memory reading these arrays can take, from their headers: (shape, dtype) by name.

    Counted: each array as read; images again as float32 unless both are uint8; labels as int64 plus
    the argsort, one-hot check and bincount work on them (4 × 8 bytes a label); and the copy
    np.savez may make of the final arrays.
    """
    size = {k: int(np.prod(shape, dtype=np.float64)) for k, (shape, _) in heads.items()}
    raw = sum(size[k] * dtype.itemsize for k, (_, dtype) in heads.items())
    uint8 = all(heads[k][1] == np.uint8 for k in ("x_train", "x_test"))
    images = 0 if uint8 else 4 * (size["x_train"] + size["x_test"])
    labels = 32 * (size["y_train"] + size["y_test"])
    final = (1 if uint8 else 4) * (size["x_train"] + size["x_test"]) + 8 * (size["y_train"] + size["y_test"])
    return raw + images + labels + final


def bound(heads, max_dataset_bytes, max_images=None):
    """Raise UploadError when the arrays would decode past max_dataset_bytes, or hold more than max_images."""
    peak = peak_bytes(heads)
    if peak > max_dataset_bytes:
        raise UploadError(f"The .npz would take {peak / 2**20:.0f} MB to read and convert (its headers say "
                          f"{', '.join(f'{k} {list(s)} {d}' for k, (s, d) in heads.items())}), more than the "
                          f"{max_dataset_bytes / 2**20:.0f} MB this server accepts (KD_MAX_DATASET_MB). "
                          f"Send fewer or smaller images, as uint8 with integer labels.")
    count = sum(int(heads[k][0][0]) if heads[k][0] else 1 for k in ("x_train", "x_test"))
    if max_images is not None and count > max_images:
        raise UploadError(f"The .npz holds {count} images, more than the {max_images} this server accepts "
                          f"(KD_MAX_IMAGES).")


def _check_header(archive, info, key):
    """Give (shape, dtype) of a member; UploadError for an object array or a header promising more than it holds."""
    fmt = np.lib.format
    try:
        with archive.open(info) as f:
            version = fmt.read_magic(f)
            # Version 3 differs from 2 only in the header's text encoding; the layout is the same.
            reader = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, _fortran, dtype = reader(f)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, NotImplementedError) as exc:
        raise UploadError(f"{key} in the .npz is not a numpy array file ({exc}).") from None
    if dtype.hasobject:
        raise UploadError(f"{key} holds Python objects (dtype=object); such arrays are not loaded "
                          f"(allow_pickle=False). Save plain numeric arrays, and class_names as strings.")
    if int(np.prod(shape, dtype=np.float64)) * dtype.itemsize > info.file_size:
        raise UploadError(f"{key}: its header promises shape {shape} of {dtype}, more than the file holds.")
    return shape, dtype


def normalize(raw):
    """Give dict(x_train, y_train, x_test, y_test, class_names, num_classes, pixel_max) checked and converted.

    Images become (N, H, W, C), uint8 kept as it is, anything else float32; labels int64 0..K-1.
    """
    x_train, x_test = _images(raw["x_train"], "x_train"), _images(raw["x_test"], "x_test")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise UploadError(f"x_train images are {list(x_train.shape[1:])} but x_test images are "
                          f"{list(x_test.shape[1:])} (H, W, C); both splits need the same shape.")
    x_train, x_test, pixel_max = _pixels(x_train, x_test)
    y_train, width_train = _labels(raw["y_train"], "y_train", len(x_train))
    y_test, width_test = _labels(raw["y_test"], "y_test", len(x_test))
    names = _class_names(raw["class_names"]) if "class_names" in raw else None
    num_classes = _num_classes(y_train, y_test, width_train, width_test, names)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test,
            "class_names": names or [str(i) for i in range(num_classes)], "num_classes": num_classes,
            "pixel_max": pixel_max}


def _images(x, key):
    """Give the images as (N, H, W, C); raise UploadError for another shape, no samples or a non-number dtype."""
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise UploadError(f"{key} has shape {list(x.shape)}; images must be (N, H, W) or (N, H, W, C).")
    if x.shape[-1] not in CHANNELS:
        raise UploadError(f"{key} has {x.shape[-1]} channels (shape {list(x.shape)}); accepted: C = 1 (grayscale), "
                          f"3 (RGB) or 4 (RGBA), channels last.")
    if len(x) == 0 or 0 in x.shape[1:]:
        raise UploadError(f"{key} has shape {list(x.shape)}; each split needs at least one image of at least 1×1.")
    if x.dtype.kind not in "buif":
        raise UploadError(f"{key} has dtype {x.dtype}; images must be numbers (e.g. uint8 0..255 or floats 0..1).")
    return x


def _pixels(x_train, x_test):
    """Give (x_train, x_test, pixel_max): uint8 kept with 255, else float32 with 1.0 (data in [0, 1]) or the max."""
    if x_train.dtype == np.uint8 and x_test.dtype == np.uint8:
        return x_train, x_test, 255.0
    x_train, x_test = x_train.astype(np.float32), x_test.astype(np.float32)
    for x, key in ((x_train, "x_train"), (x_test, "x_test")):
        low, high = float(x.min()), float(x.max())   # NaN and inf show up in the extremes
        if not (np.isfinite(low) and np.isfinite(high)):
            raise UploadError(f"{key} contains NaN or infinite values; every pixel must be a finite number.")
        if low < 0:
            raise UploadError(f"{key} has negative pixels (min {low:g}); pixels must be >= 0: uint8 0..255, "
                              f"floats in [0, 1], or any non-negative range (scaled by its maximum).")
    high = max(float(x_train.max()), float(x_test.max()))
    return x_train, x_test, (1.0 if high <= 1.0 else high)


def _labels(y, key, n):
    """Give (labels as int64 (N,), one-hot width or None); raise UploadError for anything else."""
    if y.dtype.kind not in "buif":
        raise UploadError(f"{key} has dtype {y.dtype}; labels must be integers 0..K-1 or one-hot rows.")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim not in (1, 2) or len(y) != n:
        raise UploadError(f"{key} has shape {list(y.shape)} for {n} images; expected ({n},) integer labels "
                          f"or ({n}, K) one-hot rows.")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise UploadError(f"{key} contains NaN or infinite values.")
    if y.ndim == 2:
        good = np.isin(y, (0, 1)).all(axis=1) & (y.sum(axis=1) == 1)
        if not good.all():
            row = int(np.flatnonzero(~good)[0])
            raise UploadError(f"{key} looks one-hot (shape {list(y.shape)}) but row {row} is not a single 1 among "
                              f"0s.")
        return y.argmax(axis=1).astype(np.int64), y.shape[1]
    if y.dtype.kind == "f" and (y != np.round(y)).any():
        raise UploadError(f"{key} holds fractions (e.g. {y[y != np.round(y)][0]:g}); labels must be whole "
                          f"numbers 0..K-1.")
    if y.min() < 0:
        raise UploadError(f"{key} has the negative label {y.min():g}; labels must be 0..K-1.")
    if y.max() >= MAX_CLASSES:
        raise UploadError(f"{key} has the label {y.max():g}; at most {MAX_CLASSES} classes (0..{MAX_CLASSES - 1}).")
    return y.astype(np.int64), None


def _class_names(names):
    """Give class_names as a list of str; raise UploadError unless it is 1-D text or numbers, each a plain name."""
    if names.ndim != 1 or names.dtype.kind not in "USiu":
        raise UploadError(f"class_names must be a 1-D array of strings; got shape {list(names.shape)} "
                          f"of {names.dtype}.")
    try:
        out = [n.decode() if isinstance(n, bytes) else str(n) for n in names.tolist()]
    except UnicodeDecodeError:
        raise UploadError("class_names must be UTF-8 text.") from None
    return check_class_names(out, lambda i: f"class_names[{i}]")


def _num_classes(y_train, y_test, width_train, width_test, names):
    """Give K: len(class_names), else the one-hot width, else the largest label + 1; check every label fits."""
    if width_train and width_test and width_train != width_test:
        raise UploadError(f"y_train is one-hot with {width_train} classes but y_test with {width_test}.")
    width = width_train or width_test
    top = int(max(y_train.max(), y_test.max()))
    if names is not None:
        k, what = len(names), f"class_names names {len(names)} classes"
        if width and width != k:
            raise UploadError(f"The labels are one-hot with {width} classes but {what}; they must agree.")
    else:
        k, what = (width, f"the one-hot labels have {width} columns") if width else (top + 1, "")
    if top >= k:
        split = "y_train" if y_train.max() == top else "y_test"
        raise UploadError(f"{split} has the label {top} but {what} (labels must be 0..{k - 1}).")
    if k < 2:
        raise UploadError("The labels name only one class; a classifier needs at least 2 (labels 0..K-1).")
    if k > MAX_CLASSES:
        raise UploadError(f"{k} classes; at most {MAX_CLASSES} are accepted.")
    return k


def save(folder, ds_id, arrays):
    """Write the arrays to folder/ds_id.npz atomically (temporary file in the same folder, then os.replace)."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{ds_id}.npz"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{ds_id}.", suffix=".tmp")   # leftovers() finds it
    try:
        with os.fdopen(fd, "wb") as f:
            _savez(f, arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return final


def leftovers(folder, ds_id):
    """Give the temporary files save() left in `folder` for `ds_id` (a builder killed while writing)."""
    return folder.glob(f".{ds_id}.*.tmp")   # an id has no dot: no other upload's files match


def _savez(f, arrays, chunk=2**20):
    """Write arrays as numpy.savez does (a stored zip of .npy files), a slice at a time.

    numpy.savez copies each array whole into a buffer as it writes it into a zip member (up to
    16 MB), which would add most of the dataset's size to a builder's peak memory.
    """
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for key, value in arrays.items():
            value = np.ascontiguousarray(value)
            with archive.open(f"{key}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array_header_1_0(member, np.lib.format.header_data_from_array_1_0(value))
                data = memoryview(value.reshape(-1)).cast("B")
                for start in range(0, len(data), chunk):
                    member.write(data[start:start + chunk])
