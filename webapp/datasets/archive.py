"""A .zip or .tar.gz of class folders listed safely: members checked by name, type and declared size, never unpacked.

What `keras.utils.image_dataset_from_directory` reads, as an archive: `root/<class>/**/<image>`, or
`root/train/<class>/…` with `root/test/<class>/…` for a given split. A single wrapping folder
(what "compress this folder" makes) is looked through. Everything that could write outside the
archive, point elsewhere or unpack without end is refused here, before a byte of an image is read:
absolute or `..` paths, symlinks and hard links, nested archives, more than `max_images` images,
members that declare more bytes than the decoded dataset may take, and member paths deeper than
MAX_DEPTH parts or longer than MAX_PATH characters (the listing's cost is linear in the paths' length).

The listing is kept in columns (a path string, a label and a split per image, and where it is in
numpy arrays), not an object per image: at 784-byte images the bookkeeping would weigh more than the pixels.
The folders are a tree (`Folder`), each member's path walked once into it.
"""

import array
import posixpath
import re
import stat
import struct
import tarfile
from dataclasses import dataclass

import numpy as np

from .npz import UploadError, check_class_names

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")   # Keras's ALLOWLIST_FORMATS
ARCHIVE_EXTENSIONS = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".npz")
IGNORED = ("__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini")
MAX_RATIO = 200    # a PNG or JPEG barely compresses again; a member that shrank 200 times is a bomb
MAX_DEPTH = 32     # parts of a member's path (folders and the file); Keras's own layouts need 3 or 4
MAX_PATH = 1024    # characters of a member's path (Linux allows 4096, Windows 260 without long paths)
LAYOUT = ("class folders: root/<class>/<image> (or root/train/<class>/… and root/test/<class>/…), "
          "images in PNG, JPEG, BMP, GIF or WebP (or .txt files: texts)")
SERIES_NAME = re.compile(r"_(TRAIN|TEST)(\.tsv|\.csv|\.txt)?$", re.IGNORECASE)   # the UCR archive's FordA_TRAIN.tsv
SNIFF_FILES = 1000   # members of a .tar.gz looked at to tell images from texts (it is read in order)
SPLIT_CODES = {None: -1, "train": 0, "test": 1}
END = struct.Struct("<4s4H2LH")            # end of central directory record
END64 = struct.Struct("<4sQ2H2L4Q")        # its Zip64 version, found through the 20-byte locator before END
CENTRAL = struct.Struct("<4s4B4HL2L5H2L")  # one central directory entry (then name, extra field, comment)


@dataclass(frozen=True)
class Files:
    """What class folders hold: the file names that count, and the words a message uses for them."""

    extensions: tuple
    noun: str              # "image", "text"
    formats: str           # shown in messages
    limit: str             # the KD_* setting on their count
    shared_classes: bool = False   # a given split keeps the folders train/ and test/ share (aclImdb's train/unsup)


IMAGES = Files(IMAGE_EXTENSIONS, "image", "PNG, JPEG, BMP, GIF or WebP", "KD_MAX_IMAGES")
TEXTS = Files((".txt",), "text", ".txt files", "KD_MAX_TEXTS", shared_classes=True)


@dataclass
class Listing:
    """What an archive holds: its images (columns, in archive order) by class, the class names (sorted), the split.

    where: zip — (n, 5) int64 rows (offset of the local header, packed size, size, method, encrypted),
    where a member's bytes are; .tar.gz — (n,) the member's position among the archive's entries.
    """

    kind: str
    paths: list            # each image's path below the archive's root
    labels: np.ndarray     # int32 class index
    splits: np.ndarray     # int8: 0 train, 1 test (a given split), -1 to be drawn
    where: np.ndarray
    class_names: list
    given_split: bool
    ignored: int = 0
    odd_names: dict | None = None   # zip members neither stored nor deflated: {index: name}, read through zipfile
    skipped: tuple = ()             # class folders of one split only, left out (TEXTS.shared_classes)


def kind_of(filename):
    """Give "zip", "tar", "npz", "csv" or "tsv" by the uploaded file's name, or None for anything else."""
    low = (filename or "").lower()
    if low.endswith(".zip"):
        return "zip"
    if low.endswith((".tar.gz", ".tgz")):
        return "tar"
    if low.endswith(".npz"):
        return "npz"
    if low.endswith((".csv", ".tsv")):   # series, the UCR archive's layout
        return low[-3:]
    return None


def _entries(path, kind, max_bytes):
    """Yield (name, is_file, where) of every member after checking its type and the running declared size."""
    total = 0
    for name, is_file, size, packed, link, where in (_zip_entries(path) if kind == "zip" else _tar_entries(path)):
        if link:
            raise UploadError(f"The archive holds the link {name!r}; links are refused (they could point "
                              f"outside the archive). Archive the files themselves.")
        total += size
        if total > max_bytes or (size > 2**20 and size > MAX_RATIO * max(packed, 1)):
            raise UploadError(f"The archive unpacks to more than it may ({name!r} declares {size / 2**20:.1f} MB "
                              f"from {packed / 2**20:.2f} MB packed; at most {max_bytes / 2**20:.0f} MB in all, "
                              f"KD_MAX_DATASET_MB); it looks like a zip bomb and was not unpacked.")
        yield name, is_file, where


def _zip_entries(path):
    """Yield (name, is_file, size, packed size, is_link, where) of a zip's members, one central directory entry at a time.

    zipfile.ZipFile would hold a ZipInfo (~0.5 KB) per member at once; this reads them as a stream.
    """
    try:
        with open(path, "rb") as f:
            count, start, shift = _central_directory(f)
            f.seek(start)
            for _ in range(count):
                entry = f.read(CENTRAL.size)
                if len(entry) < CENTRAL.size or entry[:4] != b"PK\x01\x02":
                    raise ValueError("its central directory is cut short")
                (_, _, _, _, _, flags, method, _, _, _, packed, size, n_name, n_extra, n_comment, _, _, attr,
                 offset) = CENTRAL.unpack(entry)
                name = f.read(n_name).decode("utf-8" if flags & 0x800 else "cp437").split("\0")[0]
                size, packed, offset = _zip64(f.read(n_extra), size, packed, offset)
                f.seek(n_comment, 1)
                yield (name, not name.endswith("/"), size, packed, stat.S_ISLNK(attr >> 16),
                       (offset + shift, packed, size, method, flags & 1))
    except (OSError, EOFError, ValueError, struct.error) as exc:
        raise UploadError(f"The file is not a readable .zip ({exc}); expected {LAYOUT}.") from None


def _central_directory(f):
    """Give (entries, where the central directory starts, shift of every offset) from the end record(s).

    shift: bytes before the zip's own first byte (a self-extracting stub), as zipfile allows.
    """
    f.seek(0, 2)
    end = f.tell()
    tail_at = max(0, end - END.size - 65535)   # the record, then a comment of at most 64 KB
    f.seek(tail_at)
    tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < END.size:
        raise ValueError("no end of central directory")
    _, _, _, _, count, size, offset, _ = END.unpack_from(tail, at)
    record_at = tail_at + at
    if count == 0xFFFF or 0xFFFFFFFF in (size, offset):   # Zip64: the real figures are in its own record
        f.seek(record_at - 20 - END64.size)
        record = f.read(END64.size + 20)
        if len(record) < END64.size + 20 or record[:4] != b"PK\x06\x06" or record[END64.size:][:4] != b"PK\x06\x07":
            raise ValueError("its Zip64 end record is missing")
        count, size, offset = END64.unpack_from(record)[7:]
        record_at -= 20 + END64.size
    shift = record_at - size - offset
    if shift < 0:
        raise ValueError("its central directory lies outside the file")
    return count, offset + shift, shift


def _zip64(extra, size, packed, offset):
    """Give (size, packed, offset) with the 0xFFFFFFFF ones read from the entry's Zip64 extra field."""
    at = 0
    while at + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, at)
        if tag == 1:
            values = list(struct.unpack_from(f"<{length // 8}Q", extra, at + 4))
            out = [values.pop(0) if v == 0xFFFFFFFF and values else v for v in (size, packed, offset)]
            if 0xFFFFFFFF in out:
                raise ValueError("a Zip64 extra field lacks a size")
            return tuple(out)
        at += 4 + length
    if 0xFFFFFFFF in (size, packed, offset):
        raise ValueError("a member's size needs a Zip64 extra field it lacks")
    return size, packed, offset


def _tar_entries(path):
    """Yield (name, is_file, size, packed size, is_link, position) of a .tar.gz's members, reading headers in order."""
    try:
        with tarfile.open(path, "r:gz") as archive:
            for i, info in enumerate(tar_members(archive)):
                yield (info.name, info.isfile(), info.size, info.size, info.issym() or info.islnk()
                       or not (info.isfile() or info.isdir()), i)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise UploadError(f"The file is not a readable .tar.gz ({exc}); expected {LAYOUT}.") from None


def tar_members(archive):
    """Yield a TarFile's members in order without the TarInfo list TarFile keeps of every member read."""
    while (info := archive.next()) is not None:
        archive.members.clear()
        yield info


def _clean(name):
    """Give the member's path split into parts; UploadError for a path that leaves the archive, or too deep or long."""
    depth = name.rstrip("/").count("/") + 1
    if len(name) > MAX_PATH or depth > MAX_DEPTH:   # refused before anything walks the path
        raise UploadError(f"The archive holds the path {_shown(name)}, {len(name)} characters in {depth} parts; a "
                          f"member's path may have at most {MAX_PATH} characters and {MAX_DEPTH} parts (folders and "
                          f"the file). Archive the class folders nearer the top.")
    if name.startswith(("/", "\\")) or "\\" in name or (len(name) > 1 and name[1] == ":"):
        raise UploadError(f"The archive holds the path {name!r}, which is absolute or not a plain relative "
                          f"path; such archives are refused (path traversal).")
    parts = [p for p in posixpath.normpath(name).split("/") if p not in ("", ".")]
    if ".." in name.split("/") or (parts and parts[0] == ".."):
        raise UploadError(f"The archive holds the path {name!r}, which points outside the archive; "
                          f"such archives are refused (path traversal).")
    return parts


def _shown(name, length=120):
    """Give a member's name as a quoted literal (control characters escaped), cut to `length` characters."""
    return repr(name[:length]) + ("…" if len(name) > length else "")


def _ignored(parts):
    """Give True for the operating systems' clutter (__MACOSX, .DS_Store, ._ files): skipped silently."""
    return any(p in IGNORED or p.startswith("._") for p in parts)


class Folder:
    """One folder of the archive: its sub-folders by name, and whether it holds images of its own."""

    __slots__ = ("sub", "loose")

    def __init__(self):
        self.sub, self.loose = {}, False

    def add(self, parts):
        """Give the folder at `parts` below this one, made on the way (one step per part)."""
        node = self
        for part in parts:
            node = node.sub.get(part) or node.sub.setdefault(part, Folder())
        return node


def content(path, kind, max_bytes):
    """Give what an archive holds by its members' names: "series" (UCR *_TRAIN and *_TEST files), "text" or "image".

    A .zip's names are all read (its central directory); a .tar.gz's first SNIFF_FILES files.
    """
    counts, seen = {"image": 0, "text": 0, "TRAIN": 0, "TEST": 0}, 0
    for name, is_file, _ in _entries(path, kind, max_bytes):
        base = name.rsplit("/", 1)[-1]
        if not is_file or _ignored(name.split("/")):
            continue
        series = SERIES_NAME.search(base)
        if series:
            counts[series.group(1).upper()] += 1
        elif base.lower().endswith(IMAGE_EXTENSIONS):
            counts["image"] += 1
        elif base.lower().endswith(TEXTS.extensions):
            counts["text"] += 1
        seen += 1
        if kind == "tar" and seen >= SNIFF_FILES:
            break
    if counts["TRAIN"] == 1 and counts["TEST"] <= 1 and not counts["image"] and not counts["text"]:
        return "series"   # its files are the only ones (a text folder's a_TRAIN.txt does not make it series)
    return "text" if counts["text"] > counts["image"] else "image"


def list_archive(path, kind, max_images, max_bytes, files=IMAGES):
    """Give the archive's Listing of `files` (IMAGES or TEXTS); UploadError says what is wrong with it (nothing is unpacked)."""
    paths, where, odd, root, ignored = [], array.array("q"), {}, Folder(), 0
    for name, is_file, at in _entries(path, kind, max_bytes):
        parts = _clean(name)
        if not parts or _ignored(parts):
            continue
        if not is_file:
            root.add(parts)
            continue
        folder = root.add(parts[:-1])
        low = parts[-1].lower()
        if low.endswith(ARCHIVE_EXTENSIONS):
            raise UploadError(f"The archive holds another archive, {name!r}; nested archives are not unpacked. "
                              f"Unpack it and archive the folders themselves.")
        if not low.endswith(files.extensions):
            ignored += 1   # as Keras does: only image (or .txt) files count
            continue
        if kind == "zip" and (at[3] not in (0, 8) or at[4]):   # neither stored nor deflated, or encrypted
            odd[len(paths)] = name
        folder.loose = True
        paths.append("/".join(parts))
        where.extend(at if kind == "zip" else (at,))
        if len(paths) > max_images:
            raise UploadError(f"The archive holds more than {max_images} {files.noun}s ({files.limit}); send fewer.")
    where = np.frombuffer(where, np.int64).reshape((-1, 5) if kind == "zip" else (-1,))
    return _layout(kind, paths, where, odd, root, ignored, files)


def _layout(kind, paths, where, odd, root, ignored, files):
    """Give the Listing of checked files: look through one wrapping folder, then find classes and splits."""
    prefix, top = [], root
    # a lone top folder holding folders wraps the rest (a lone folder of images is one class)
    while not top.loose and len(top.sub) == 1 and not _is_split(top.sub):
        (name, inner), = top.sub.items()
        if not inner.sub:
            break
        prefix.append(name)
        top = inner
    depth, given = len(prefix), _is_split(top.sub)
    base = depth + (1 if given else 0)
    classes = ({s: sorted(top.sub[s].sub) for s in ("train", "test")} if given else {None: sorted(top.sub)})
    skipped = ()
    if given and files.shared_classes:   # aclImdb: train/unsup has no labels and no test/ twin
        skipped = tuple(sorted(set(classes["train"]) ^ set(classes["test"])))
        classes = {s: [c for c in classes[s] if c not in skipped] for s in classes}
    names = _class_names(classes, given, len(paths), "".join(f"{p}/" for p in prefix))
    index = {n: i for i, n in enumerate(names)}
    keep, labels, splits = [], array.array("i"), array.array("b")
    for i, p in enumerate(paths):   # archive order, a given split's train and test mixed as they come
        parts = p.split("/")
        if len(parts) > base + 1 and parts[base] in index and (not given or parts[depth] in ("train", "test")):
            keep.append(i)
            labels.append(index[parts[base]])
            splits.append(SPLIT_CODES[parts[depth] if given else None])
    labels = np.frombuffer(labels, np.int32)
    empty = [n for k, n in enumerate(names) if not (labels == k).any()]
    if empty:
        raise UploadError(f"The class folder {empty[0]!r} holds no {files.noun} ({files.formats}); every "
                          f"class needs at least one.")
    keep_at = {i: j for j, i in enumerate(keep)} if odd else {}
    return Listing(kind, [paths[i] for i in keep], labels, np.frombuffer(splits, np.int8), where[keep], names,
                   given, ignored, {keep_at[i]: n for i, n in odd.items() if i in keep_at}, skipped)


def _is_split(tops):
    """Give True when the top folders are exactly train and test (Keras's given-split layout)."""
    return set(tops) == {"train", "test"}


def _class_names(classes, given, n_files, top):
    """Give the sorted class names; UploadError when there are not two classes, test/ has others than train/,
    or a name is not held to the dataset names' rule (check_class_names). top: the path above them."""
    names = classes["train"] if given else classes[None]
    check_class_names(names, lambda i: f"class folder {_shown(top + ('train/' if given else '') + names[i] + '/')}",
                      exact=True)
    if given and sorted(set(classes["test"]) - set(names)):
        extra = ", ".join(sorted(set(classes["test"]) - set(names)))
        raise UploadError(f"test/ has class folders that train/ lacks ({extra}); both splits need the same classes.")
    if not names:
        raise UploadError(f"The archive has no class folders ({n_files} image(s) outside any folder); expected "
                          f"{LAYOUT}.")
    if len(names) < 2:
        raise UploadError(f"The archive has one class folder only ({names[0]!r}); a classifier needs at least 2 "
                          f"classes, one folder each.")
    return names
