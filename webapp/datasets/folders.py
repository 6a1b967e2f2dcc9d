"""Class folders made into a dataset's arrays: options with Keras's defaults, headers first, then decoding.

Pillow and numpy only (no TensorFlow), so a builder process starts in a moment. Two passes over
the archive: the first reads each image's header (size and mode) and so knows the decoded size
before any pixel is decoded, refusing what would pass KD_MAX_DATASET_MB; the second decodes each
image straight into its place in the final uint8 arrays (train and test allocated once), so the
memory taken is the decoded size plus one image.
"""

import collections
import random
import tarfile
import time
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np

from ..modelspec.numbers import whole
from .archive import list_archive, tar_members
from .images import GRAY_MODES, head_size, is_gray, open_image, pixels
from .npz import UploadError

DEFAULT_SIDE_CAP = 256              # Keras's own default image_size is (256, 256)
MAX_SIDE = 1024
MAX_SEED = 2**32 - 1                # the split's seed, as NumPy's seeds go
MAX_BAD_SHARE = 0.1                 # more unreadable images than this share and the archive is refused


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
        parts = [whole(p, 1, MAX_SIDE) for p in size.lower().replace("x", ",").replace("×", ",").split(",", 2)]
        if len(parts) != 2 or None in parts:
            raise UploadError(f"image_size: give height,width (e.g. 28,28), each 1..{MAX_SIDE}; got {size[:40]!r}.")
        out.image_size = tuple(parts)
    if mode not in (None, "grayscale", "rgb"):
        raise UploadError(f"color_mode: grayscale or rgb (or empty: from the images); got {mode!r}.")
    out.seed = whole(form.get("seed") or "0", 0, MAX_SEED)
    if out.seed is None:
        raise UploadError(f"seed must be a whole number from 0 to {MAX_SEED}; got {form.get('seed')[:40]!r}.")
    try:
        out.test_fraction = float(form.get("test_fraction") or 0.2)
    except ValueError:
        raise UploadError("test_fraction must be a number between 0 and 1 (e.g. 0.2).") from None
    if not 0 < out.test_fraction < 1:
        raise UploadError(f"test_fraction must be between 0 and 1 (e.g. 0.2); got {out.test_fraction:g}.")
    return out


class Unreadable:
    """The images that could not be read: how many, and the first few (path, reason) to name."""

    KEEP = 20

    def __init__(self):
        self.count, self.examples = 0, []

    def add(self, path, reason):
        """Count one more unreadable image, keeping its path and reason while there are few."""
        self.count += 1
        if len(self.examples) < self.KEEP:
            self.examples.append((path, reason))

    def refuse_if_too_many(self, total):
        """Raise UploadError when more than MAX_BAD_SHARE of the `total` images could not be read."""
        if self.count > MAX_BAD_SHARE * total:
            path, reason = self.examples[0]
            raise UploadError(f"{self.count} of {total} images could not be read (more than {MAX_BAD_SHARE:.0%}), "
                              f"e.g. {path}: {reason}. Nothing was stored.")


def _each_file(path, listing, head=None):
    """Yield (index in the listing, bytes) of every listed image, in the archive's order (one pass for a .tar.gz).

    head: from a .tar.gz, read only this many bytes of each file, and the rest only when
    `head_size` cannot tell the size from them (a header pass over PNGs reads 33 bytes a file).
    """
    def read(f):
        data = f.read(head or -1)
        return data if head is None or head_size(data) else data + f.read()

    if listing.kind == "zip":
        yield from _zip_files(path, listing)
        return
    positions, i = listing.where, 0   # the listing's members are in the archive's order
    with tarfile.open(path, "r:gz") as archive:
        for position, info in enumerate(tar_members(archive)):
            if i < len(positions) and position == positions[i]:
                yield i, read(archive.extractfile(info))
                i += 1


def _zip_files(path, listing):
    """Yield (index, bytes) of a zip's images, read from the local headers' offsets with zlib.

    zipfile.ZipFile.open costs about 100 µs a member, most of the time a small image takes. A
    stored or deflated member is read here; any other (encrypted, bzip2, lzma) through zipfile.
    """
    with open(path, "rb") as f:
        for i in range(len(listing.paths)):
            offset, packed, size, method, _ = (int(v) for v in listing.where[i])
            if i in listing.odd_names:
                with zipfile.ZipFile(path) as archive, archive.open(listing.odd_names[i]) as member:
                    yield i, member.read()
                continue
            f.seek(offset)
            local = f.read(30)
            f.seek(offset + 30 + int.from_bytes(local[26:28], "little") + int.from_bytes(local[28:30], "little"))
            raw = f.read(packed)
            try:   # never more than the size checked at listing, whatever the data says
                data = raw if method == zipfile.ZIP_STORED else zlib.decompressobj(-15).decompress(raw, size + 1)
            except zlib.error:
                data = b""   # Pillow then calls it unreadable, and it is counted
            yield i, data[:size]


def read_headers(path, listing):
    """Give (heads, unreadable): heads (n, 3) int32 rows of height, width, 1 if grayscale; -1 rows unreadable."""
    heads, bad = np.full((len(listing.paths), 3), -1, np.int32), Unreadable()
    for i, data in _each_file(path, listing, head=33):
        size = head_size(data)
        img = None if size else open_image(data)
        if isinstance(img, str):
            bad.add(listing.paths[i], img)
        else:
            heads[i] = (*size[:2], size[2] in GRAY_MODES) if size else (img.height, img.width, is_gray(img))
    return heads, bad


def target(heads, opts):
    """Give (height, width, channels): the most common size capped at 256 a side (aspect kept), and the mode."""
    readable = heads[heads[:, 0] >= 0]
    if opts.image_size:
        h, w = opts.image_size
    else:
        (h, w), _ = collections.Counter(zip(readable[:, 0].tolist(), readable[:, 1].tolist())).most_common(1)[0]
        scale = min(1.0, DEFAULT_SIDE_CAP / max(h, w))
        h, w = max(1, round(h * scale)), max(1, round(w * scale))
    mode = opts.color_mode or ("grayscale" if readable[:, 2].all() else "rgb")
    return h, w, 1 if mode == "grayscale" else 3


def split(listing, heads, opts):
    """Give each image's split (int8: 0 train, 1 test, -1 unreadable): the given split, else seeded and stratified."""
    readable = heads[:, 0] >= 0
    if listing.given_split:
        return np.where(readable, listing.splits, -1).astype(np.int8)
    # by path, whatever the archive's order
    return stratified(listing.labels, readable, len(listing.class_names), opts, listing.paths.__getitem__)


def stratified(labels, kept, num_classes, opts, key=None):
    """Give each sample's split (int8: 0 train, 1 test, -1 not kept): opts.test_fraction of each class drawn with opts.seed.

    key: the order the members of a class are drawn in (their index by default).
    """
    # Python's random, not numpy's: numpy.random imports OpenSSL (through `secrets`), 6 MB more of a builder's memory.
    rng, out = random.Random(opts.seed), np.full(len(labels), -1, np.int8)
    for k in range(num_classes):
        members = np.array(sorted(np.flatnonzero(kept & (labels == k)).tolist(), key=key), np.int64)
        n_test = 0 if len(members) < 2 else min(len(members) - 1, max(1, round(len(members) * opts.test_fraction)))
        out[members] = 0
        out[members[rng.sample(range(len(members)), n_test)]] = 1   # train.py draws it again the same way
    return out


def check(listing, heads, bad, max_bytes, shape, splits):
    """Raise UploadError for too many unreadable images, an empty class or split, or a decoded size past the limit."""
    bad.refuse_if_too_many(len(listing.paths))
    readable = heads[:, 0] >= 0
    for k, name in enumerate(listing.class_names):
        if not (readable & (listing.labels == k)).any():
            raise UploadError(f"The class folder {name!r} holds no readable image; every class needs at least one.")
    if not (splits == 1).any():
        raise UploadError("No image went to the test split: each class needs at least 2 images (or give test/).")
    n = int(readable.sum())
    decoded = n * int(np.prod(shape))
    if decoded > max_bytes:
        raise UploadError(f"The {n} images would decode to {decoded / 2**20:.0f} MB at "
                          f"{shape[0]}×{shape[1]}×{shape[2]}, more than the {max_bytes / 2**20:.0f} MB this server "
                          f"accepts (KD_MAX_DATASET_MB); choose a smaller image_size or send fewer images.")


class Arrays:
    """The final arrays, allocated once; each image has its slot from the start, so they fill in any order.

    Slots are in Keras's order: by class, then by path (what the exported train.py rebuilds from the
    unpacked folder), whatever order the archive holds its members in.
    """

    def __init__(self, listing, splits, shape):
        counts = np.bincount(splits[splits >= 0], minlength=2)
        self.x = [np.empty((counts[s], *shape), np.uint8) for s in (0, 1)]
        self.y = [np.empty(counts[s], np.int64) for s in (0, 1)]
        self.done = [np.zeros(counts[s], bool) for s in (0, 1)]
        self.labels, self.splits = listing.labels, splits
        self.slots, taken = np.full(len(splits), -1, np.int64), [0, 0]
        for i in sorted(np.flatnonzero(splits >= 0).tolist(), key=lambda i: (int(listing.labels[i]), listing.paths[i])):
            s = int(splits[i])
            self.slots[i], taken[s] = taken[s], taken[s] + 1

    def put(self, i, pixels):
        """Store image i's pixels and label in its slot."""
        s, at = int(self.splits[i]), self.slots[i]
        self.x[s][at], self.y[s][at], self.done[s][at] = pixels, self.labels[i], True

    def result(self):
        """Give (x_train, y_train, x_test, y_test), the slots of images that failed to decode closed up in place."""
        out = []
        for s in (0, 1):
            kept = np.flatnonzero(self.done[s])
            for to, at in enumerate(kept.tolist() if len(kept) < len(self.done[s]) else ()):
                self.x[s][to], self.y[s][to] = self.x[s][at], self.y[s][at]   # to <= at: nothing is overwritten unread
            out += [self.x[s][:len(kept)], self.y[s][:len(kept)]]
        return tuple(out)


def decode(path, listing, splits, shape, bad, progress=None):
    """Give (x_train, y_train, x_test, y_test): every image decoded into the final arrays; failures counted in bad."""
    arrays = Arrays(listing, splits, shape)
    done, total = 0, int((splits >= 0).sum())
    for i, data in _each_file(path, listing):
        if splits[i] < 0:
            continue
        try:
            arrays.put(i, pixels(data, shape))
        except (OSError, SyntaxError, ValueError) as exc:   # a truncated file fails only while decoding
            bad.add(listing.paths[i], f"unreadable ({exc})")
        done += 1
        if progress:
            progress(done, total)
    return arrays.result()


def ingest(path, kind, opts, limits, progress=None):
    """Give (arrays dict, class names, notes, provenance facts) of an archive; UploadError says why it cannot be one.

    limits: {"max_images", "max_bytes"}; progress(done, total) is called while decoding.
    """
    started = time.monotonic()
    listing = list_archive(path, kind, limits["max_images"], limits["max_bytes"])
    heads, bad = read_headers(path, listing)
    shape = target(heads, opts) if (heads[:, 0] >= 0).any() else (1, 1, 1)
    splits = split(listing, heads, opts)
    check(listing, heads, bad, limits["max_bytes"], shape, splits)
    resized = int((((heads[:, 0] != shape[0]) | (heads[:, 1] != shape[1])) & (splits >= 0)).sum())
    heads = None   # not needed any more: its memory goes back before the arrays are allocated
    x_train, y_train, x_test, y_test = decode(path, listing, splits, shape, bad, progress)
    bad.refuse_if_too_many(len(listing.paths))
    notes = _notes(listing, bad, resized, shape)
    facts = {"images": len(listing.paths), "unreadable": [f"{p}: {r}" for p, r in bad.examples],
             "unreadable_count": bad.count, "resized": resized, "ignored_files": listing.ignored,
             "given_split": listing.given_split, "image_size": list(shape[:2]),
             "color_mode": "grayscale" if shape[2] == 1 else "rgb", "seconds": round(time.monotonic() - started, 2)}
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    return arrays, listing.class_names, notes, facts


def _notes(listing, bad, resized, shape):
    """Give the sentences a user reads about what was skipped, resized or ignored."""
    notes = []
    if bad.count:
        path, reason = bad.examples[0]
        notes.append(f"{bad.count} image(s) could not be read and were skipped (e.g. {path}: {reason}).")
    if resized:
        notes.append(f"{resized} image(s) of another size were resized to {shape[0]}×{shape[1]} (bilinear, "
                     f"aspect ratio not kept, as keras.utils.image_dataset_from_directory does).")
    if listing.ignored:
        notes.append(f"{listing.ignored} file(s) that are not images were ignored.")
    return notes
