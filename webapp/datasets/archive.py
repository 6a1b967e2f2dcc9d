"""A .zip or .tar.gz of class folders listed safely: members checked by name, type and declared size, never unpacked.

What `keras.utils.image_dataset_from_directory` reads, as an archive: `root/<class>/**/<image>`, or
`root/train/<class>/…` with `root/test/<class>/…` for a given split. A single wrapping folder
(what "compress this folder" makes) is looked through. Everything that could write outside the
archive, point elsewhere or unpack without end is refused here, before a byte of an image is read:
absolute or `..` paths, symlinks and hard links, nested archives, more than `max_images` images,
and members that declare more bytes than the decoded dataset may take.
"""

import posixpath
import stat
import tarfile
import zipfile
from dataclasses import dataclass, field

from .npz import UploadError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")   # Keras's ALLOWLIST_FORMATS
ARCHIVE_EXTENSIONS = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".npz")
IGNORED = ("__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini")
MAX_RATIO = 200    # a PNG or JPEG barely compresses again; a member that shrank 200 times is a bomb
LAYOUT = ("class folders: root/<class>/<image> (or root/train/<class>/… and root/test/<class>/…), "
          "images in PNG, JPEG, BMP, GIF or WebP")


@dataclass(slots=True)   # one per image: tens of thousands of them
class Member:
    """One image file of the archive: where it is, its class and split (None: to be drawn)."""

    name: str          # the member's name inside the archive, as stored
    path: str          # its normalised path below the archive's root
    label: int = -1
    split: str | None = None
    where: tuple | None = None   # zip: (offset of the local header, packed size, size, method, encrypted)


@dataclass
class Listing:
    """What an archive holds: its images by class, the class names (sorted) and whether splits are given."""

    kind: str
    members: list
    class_names: list
    given_split: bool
    ignored: int = 0
    notes: list = field(default_factory=list)


def kind_of(filename):
    """Give "zip", "tar" or "npz" by the uploaded file's name, or None for anything else."""
    low = (filename or "").lower()
    if low.endswith(".zip"):
        return "zip"
    if low.endswith((".tar.gz", ".tgz")):
        return "tar"
    if low.endswith(".npz"):
        return "npz"
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
    """Yield (name, is_file, size, packed size, is_link, where) of a zip's members from its central directory."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise UploadError(f"The file is not a readable .zip ({exc}); expected {LAYOUT}.") from None
    for info in infos:
        mode = info.external_attr >> 16
        where = (info.header_offset, info.compress_size, info.file_size, info.compress_type, info.flag_bits & 1)
        yield info.filename, not info.is_dir(), info.file_size, info.compress_size, stat.S_ISLNK(mode), where


def _tar_entries(path):
    """Yield (name, is_file, size, packed size, is_link, None) of a .tar.gz's members, reading headers in order."""
    try:
        with tarfile.open(path, "r:gz") as archive:
            for info in archive:
                yield (info.name, info.isfile(), info.size, info.size, info.issym() or info.islnk()
                       or not (info.isfile() or info.isdir()), None)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise UploadError(f"The file is not a readable .tar.gz ({exc}); expected {LAYOUT}.") from None


def _clean(name):
    """Give the member's path split into parts; UploadError for a path that leaves the archive."""
    if name.startswith(("/", "\\")) or "\\" in name or (len(name) > 1 and name[1] == ":"):
        raise UploadError(f"The archive holds the path {name!r}, which is absolute or not a plain relative "
                          f"path; such archives are refused (path traversal).")
    parts = [p for p in posixpath.normpath(name).split("/") if p not in ("", ".")]
    if ".." in name.split("/") or (parts and parts[0] == ".."):
        raise UploadError(f"The archive holds the path {name!r}, which points outside the archive; "
                          f"such archives are refused (path traversal).")
    return parts


def _ignored(parts):
    """Give True for the operating systems' clutter (__MACOSX, .DS_Store, ._ files): skipped silently."""
    return any(p in IGNORED or p.startswith("._") for p in parts)


def list_archive(path, kind, max_images, max_bytes):
    """Give the archive's Listing; UploadError says what is wrong with it (nothing is unpacked)."""
    files, folders, ignored = [], set(), 0
    for name, is_file, where in _entries(path, kind, max_bytes):
        parts = _clean(name)
        if not parts or _ignored(parts):
            continue
        if not is_file:
            folders.add(tuple(parts))
            continue
        folders.update(tuple(parts[:i]) for i in range(1, len(parts)))
        low = parts[-1].lower()
        if low.endswith(ARCHIVE_EXTENSIONS):
            raise UploadError(f"The archive holds another archive, {name!r}; nested archives are not unpacked. "
                              f"Unpack it and archive the folders themselves.")
        if not low.endswith(IMAGE_EXTENSIONS):
            ignored += 1   # as Keras does: only image files count
            continue
        files.append(Member(name, "/".join(parts), where=where))
        if len(files) > max_images:
            raise UploadError(f"The archive holds more than {max_images} images (KD_MAX_IMAGES); send fewer.")
    return _layout(kind, files, folders, ignored)


def _layout(kind, files, folders, ignored):
    """Give the Listing of checked files: look through one wrapping folder, then find classes and splits."""
    prefix = ()
    while True:   # a lone top folder holding folders wraps the rest (a lone folder of images is one class)
        tops = {f[len(prefix)] for f in folders if len(f) > len(prefix) and f[:len(prefix)] == prefix}
        loose = any(len(m.path.split("/")) == len(prefix) + 1 for m in files)
        inner = prefix + tuple(tops)
        nested = len(tops) == 1 and any(len(f) > len(inner) and f[:len(inner)] == inner for f in folders)
        if nested and not loose and not _is_split(tops):
            prefix = inner
            continue
        break
    depth = len(prefix)
    given = _is_split(tops)
    members, classes = [], {}
    for split in (("train", "test") if given else (None,)):
        base = depth + (1 if given else 0)
        names = sorted(f[base] for f in folders if len(f) == base + 1 and f[:depth] == prefix
                       and (not given or f[depth] == split))
        classes[split] = names
        for m in files:
            parts = m.path.split("/")
            if len(parts) > base + 1 and (not given or parts[depth] == split):
                m.split = split
                members.append((m, parts[base]))
    return _classes(kind, members, classes, given, ignored, len(files))


def _is_split(tops):
    """Give True when the top folders are exactly train and test (Keras's given-split layout)."""
    return set(tops) == {"train", "test"}


def _classes(kind, members, classes, given, ignored, n_files):
    """Give the Listing with labels from sorted class names; UploadError when there are not two classes."""
    names = classes["train"] if given else classes[None]
    if given and sorted(set(classes["test"]) - set(names)):
        extra = ", ".join(sorted(set(classes["test"]) - set(names)))
        raise UploadError(f"test/ has class folders that train/ lacks ({extra}); both splits need the same classes.")
    if not names:
        raise UploadError(f"The archive has no class folders ({n_files} image(s) outside any folder); expected "
                          f"{LAYOUT}.")
    if len(names) < 2:
        raise UploadError(f"The archive has one class folder only ({names[0]!r}); a classifier needs at least 2 "
                          f"classes, one folder each.")
    index = {n: i for i, n in enumerate(names)}
    out = []
    for m, cls in members:
        m.label = index[cls]
        out.append(m)
    empty = [n for n in names if not any(m.label == index[n] for m in out)]
    if empty:
        raise UploadError(f"The class folder {empty[0]!r} holds no image (PNG, JPEG, BMP, GIF or WebP); every "
                          f"class needs at least one.")
    return Listing(kind, out, names, given, ignored)
