"""Class folders made into a dataset's arrays: options with Keras's defaults, headers first, then decoding.

Pillow and numpy only (no TensorFlow), so a builder process starts in a moment. Two passes over
the archive: the first reads each image's header (size and mode) and so knows the decoded size
before any pixel is decoded, refusing what would pass KD_MAX_DATASET_MB; the second decodes each
image straight into its place in the final uint8 arrays (train and test allocated once), so the
memory taken is the decoded size plus one image.
"""

import collections
import io
import tarfile
import time
import warnings
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np

from .archive import list_archive
from .npz import UploadError

FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
MAX_PIXELS = 40_000_000             # one image larger than this is not decoded (a decompression bomb)
DEFAULT_SIDE_CAP = 256              # Keras's own default image_size is (256, 256)
MAX_SIDE = 1024
MAX_BAD_SHARE = 0.1                 # more unreadable images than this share and the archive is refused
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")


@dataclass
class Options:
    """How to build: image_size (height, width) or None (the most common size), color_mode, test split."""

    image_size: tuple | None = None
    color_mode: str | None = None      # "grayscale" or "rgb"; None: grayscale when every image is
    test_fraction: float = 0.2
    seed: int = 0

    def to_dict(self):
        """Give the options as JSON-ready data (kept in the dataset's provenance)."""
        return {"image_size": list(self.image_size) if self.image_size else None, "color_mode": self.color_mode,
                "test_fraction": self.test_fraction, "seed": self.seed}


def options(form):
    """Give Options from form fields (strings; empty means the default); UploadError names a bad field."""
    size, mode = (form.get("image_size") or "").strip(), (form.get("color_mode") or "").strip() or None
    out = Options(color_mode=mode)
    if size:
        parts = size.lower().replace("x", ",").replace("×", ",").split(",")
        if len(parts) != 2 or not all(p.strip().isdigit() and 1 <= int(p) <= MAX_SIDE for p in parts):
            raise UploadError(f"image_size: give height,width (e.g. 28,28), each 1..{MAX_SIDE}; got {size!r}.")
        out.image_size = tuple(int(p) for p in parts)
    if mode not in (None, "grayscale", "rgb"):
        raise UploadError(f"color_mode: grayscale or rgb (or empty: from the images); got {mode!r}.")
    try:
        out.test_fraction = float(form.get("test_fraction") or 0.2)
        out.seed = int(form.get("seed") or 0)
    except ValueError:
        raise UploadError("test_fraction must be a number in (0, 1) and seed a whole number.") from None
    if not 0 < out.test_fraction < 1:
        raise UploadError(f"test_fraction must be between 0 and 1 (e.g. 0.2); got {out.test_fraction:g}.")
    return out


def _each_file(path, listing, head=None):
    """Yield (member, bytes) of every listed image, in the archive's own order (one pass for a .tar.gz).

    head: from a .tar.gz, read only this many bytes of each file, and the rest only when
    `head_size` cannot tell the size from them (a header pass over PNGs reads 33 bytes a file).
    """
    def read(f):
        data = f.read(head or -1)
        return data if head is None or head_size(data) else data + f.read()

    if listing.kind == "zip":
        yield from _zip_files(path, listing.members)
        return
    wanted = {m.name: m for m in listing.members}
    with tarfile.open(path, "r:gz") as archive:
        for info in archive:
            m = wanted.get(info.name)
            if m is not None and info.isfile():
                yield m, read(archive.extractfile(info))


def _zip_files(path, members):
    """Yield (member, bytes) of a zip's images, read from the local headers' offsets with zlib.

    zipfile.ZipFile.open costs about 100 µs a member, most of the time a small image takes, and a
    ZipFile's directory ~0.5 KB a member: the listing kept where each member is (`Member.where`)
    after checking names, sizes and ratios. A stored or deflated member is read here; any other
    (encrypted, bzip2, lzma) through zipfile.
    """
    with open(path, "rb") as f:
        for m in members:
            offset, packed, size, method, encrypted = m.where
            if method not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or encrypted:
                with zipfile.ZipFile(path) as archive, archive.open(m.name) as member:
                    yield m, member.read()
                continue
            f.seek(offset)
            local = f.read(30)
            f.seek(offset + 30 + int.from_bytes(local[26:28], "little") + int.from_bytes(local[28:30], "little"))
            raw = f.read(packed)
            try:   # never more than the size checked at listing, whatever the data says
                data = raw if method == zipfile.ZIP_STORED else zlib.decompressobj(-15).decompress(raw, size + 1)
            except zlib.error:
                data = b""   # Pillow then calls it unreadable, and it is counted
            yield m, data[:size]


PNG_MODES = {0: "L", 2: "RGB", 3: "P", 4: "LA", 6: "RGBA"}


def head_size(data):
    """Give (height, width, mode) from a PNG's IHDR (its first 33 bytes), or None for anything else."""
    if len(data) < 33 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    mode = PNG_MODES.get(data[25])
    if mode is None or not width or not height or width * height > MAX_PIXELS:
        return None   # Pillow looks at it, and says what is wrong
    return height, width, "I;16" if mode == "L" and data[24] == 16 else mode


def _open(data):
    """Give the Pillow image of a file's bytes (header read, pixels not yet), or the reason it is unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError:
        return "not an image Pillow recognises"
    except (Image.DecompressionBombError, Image.DecompressionBombWarning, OSError, SyntaxError, ValueError) as exc:
        return f"unreadable ({exc})"
    if img.width * img.height > MAX_PIXELS:
        return f"{img.width}×{img.height} is too many pixels to decode safely"
    return img


def read_headers(path, listing):
    """Give {member path: (height, width, mode)} of the readable images and [(path, reason)] of the rest."""
    heads, bad = {}, []
    for m, data in _each_file(path, listing, head=33):
        size = head_size(data)
        img = size or _open(data)
        if isinstance(img, str):
            bad.append((m.path, img))
        else:
            heads[m.path] = size or (img.height, img.width, img.mode)
    return heads, bad


def target(heads, opts):
    """Give (height, width, channels): the most common size capped at 256 a side (aspect kept), and the mode."""
    if opts.image_size:
        h, w = opts.image_size
    else:
        (h, w), _ = collections.Counter((hh, ww) for hh, ww, _ in heads.values()).most_common(1)[0]
        scale = min(1.0, DEFAULT_SIDE_CAP / max(h, w))
        h, w = max(1, round(h * scale)), max(1, round(w * scale))
    mode = opts.color_mode or ("grayscale" if all(m in GRAY_MODES for *_, m in heads.values()) else "rgb")
    return h, w, 1 if mode == "grayscale" else 3


def split(listing, heads, opts):
    """Give {member path: "train" | "test"}: the given split, else a seeded split stratified by class."""
    readable = [m for m in listing.members if m.path in heads]
    if listing.given_split:
        return {m.path: m.split for m in readable}
    rng, out = np.random.default_rng(opts.seed), {}
    for k in range(len(listing.class_names)):
        paths = sorted(m.path for m in readable if m.label == k)
        n_test = 0 if len(paths) < 2 else min(len(paths) - 1, max(1, round(len(paths) * opts.test_fraction)))
        chosen = set(rng.permutation(len(paths))[:n_test].tolist())
        out.update((p, "test" if i in chosen else "train") for i, p in enumerate(paths))
    return out


def check(listing, heads, bad, max_bytes, shape, splits):
    """Raise UploadError for too many unreadable images, an empty class or split, or a decoded size past the limit."""
    total = len(listing.members)
    if bad and len(bad) > MAX_BAD_SHARE * total:
        path, reason = bad[0]
        raise UploadError(f"{len(bad)} of {total} images could not be read (more than {MAX_BAD_SHARE:.0%}), "
                          f"e.g. {path}: {reason}. Nothing was stored.")
    for k, name in enumerate(listing.class_names):
        if not any(m.path in heads for m in listing.members if m.label == k):
            raise UploadError(f"The class folder {name!r} holds no readable image; every class needs at least one.")
    if "test" not in splits.values():
        raise UploadError("No image went to the test split: each class needs at least 2 images (or give test/).")
    decoded = len(heads) * int(np.prod(shape))
    if decoded > max_bytes:
        raise UploadError(f"The {len(heads)} images would decode to {decoded / 2**20:.0f} MB at "
                          f"{shape[0]}×{shape[1]}×{shape[2]}, more than the {max_bytes / 2**20:.0f} MB this server "
                          f"accepts (KD_MAX_DATASET_MB); choose a smaller image_size or send fewer images.")


class Arrays:
    """The final arrays, allocated once, filled in archive order; `take` gives each image its slot."""

    def __init__(self, listing, splits, shape):
        counts = collections.Counter(splits.values())
        self.x = {s: np.empty((counts[s], *shape), np.uint8) for s in ("train", "test")}
        self.y = {s: np.empty(counts[s], np.int64) for s in ("train", "test")}
        self.filled = {"train": 0, "test": 0}
        self.splits = splits

    def put(self, member, pixels):
        """Store one decoded image and its label in the next free slot of its split."""
        s = self.splits[member.path]
        i = self.filled[s]
        self.x[s][i] = pixels
        self.y[s][i] = member.label
        self.filled[s] = i + 1

    def result(self):
        """Give (x_train, y_train, x_test, y_test): the filled part of each (views, no copy)."""
        return tuple(a[s][:self.filled[s]] for s in ("train", "test") for a in (self.x, self.y))


def _pixels(data, shape):
    """Give an image file's pixels as uint8 (H, W, C) of the target shape: drafted (JPEG), converted, resized.

    The header pass has already bounded its size, so it is opened without the bomb check.
    """
    from PIL import Image

    h, w, c = shape
    mode = "L" if c == 1 else "RGB"
    img = Image.open(io.BytesIO(data), formats=FORMATS)
    if img.format == "JPEG":
        img.draft(mode, (w, h))   # decodes at a reduced scale when that is still >= the target
    if img.mode != mode:
        if img.mode in ("LA", "PA") or (img.mode == "P" and "transparency" in img.info):
            img = img.convert("RGBA")   # transparency: dropped, as Keras's load_img does
        img = img.convert(mode)
    if img.size != (w, h):
        img = img.resize((w, h), Image.Resampling.BILINEAR)   # Keras's default interpolation
    return np.asarray(img).reshape(h, w, c)


def decode(path, listing, splits, shape, progress=None):
    """Give (x_train, y_train, x_test, y_test, resized, failed): every image decoded into the final arrays."""
    arrays, failed = Arrays(listing, splits, shape), []
    done, total = 0, len(splits)
    for m, data in _each_file(path, listing):
        if m.path not in splits:
            continue
        try:
            arrays.put(m, _pixels(data, shape))
        except (OSError, SyntaxError, ValueError) as exc:   # a truncated file fails only while decoding
            failed.append((m.path, f"unreadable ({exc})"))
        done += 1
        if progress:
            progress(done, total)
    return (*arrays.result(), failed)


def ingest(path, kind, opts, limits, progress=None):
    """Give (arrays dict, notes, provenance) of an archive; UploadError says why it cannot be a dataset.

    limits: {"max_images", "max_bytes"}; progress(done, total) is called while decoding.
    """
    started = time.monotonic()
    listing = list_archive(path, kind, limits["max_images"], limits["max_bytes"])
    heads, bad = read_headers(path, listing)
    shape = target(heads, opts) if heads else (1, 1, 1)
    splits = split(listing, heads, opts)
    check(listing, heads, bad, limits["max_bytes"], shape, splits)
    resized = sum(heads[p][:2] != shape[:2] for p in splits)
    heads = None   # not needed any more: its memory goes back before the arrays are allocated
    x_train, y_train, x_test, y_test, failed = decode(path, listing, splits, shape, progress)
    bad += failed
    if len(bad) > MAX_BAD_SHARE * len(listing.members):
        check(listing, {}, bad, limits["max_bytes"], shape, splits)
    notes = _notes(listing, bad, resized, shape)
    facts = {"images": len(listing.members), "unreadable": [f"{p}: {r}" for p, r in bad[:20]],
             "unreadable_count": len(bad), "resized": resized, "ignored_files": listing.ignored,
             "given_split": listing.given_split, "image_size": list(shape[:2]),
             "color_mode": "grayscale" if shape[2] == 1 else "rgb", "seconds": round(time.monotonic() - started, 2)}
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    return arrays, listing.class_names, notes, facts


def _notes(listing, bad, resized, shape):
    """Give the sentences a user reads about what was skipped, resized or ignored."""
    notes = []
    if bad:
        notes.append(f"{len(bad)} image(s) could not be read and were skipped (e.g. {bad[0][0]}: {bad[0][1]}).")
    if resized:
        notes.append(f"{resized} image(s) of another size were resized to {shape[0]}×{shape[1]} (bilinear, "
                     f"aspect ratio not kept, as keras.utils.image_dataset_from_directory does).")
    if listing.ignored:
        notes.append(f"{listing.ignored} file(s) that are not images were ignored.")
    return notes
