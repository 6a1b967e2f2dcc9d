"""Series made into a dataset: the UCR archive's layout (the label first, then the values), a .csv/.tsv or a zip of *_TRAIN and *_TEST.

It is what keras-io's timeseries_classification_from_scratch.py reads with
`np.loadtxt(filename, delimiter="\\t")`, read here a line at a time with every bound checked
before the line is split: a line longer than the longest series allowed (KD_MAX_SERIES_LENGTH
values) is refused by its length, never read whole; ragged rows, a value that is not a finite
number, and a decoded size past KD_MAX_DATASET_MB are refused naming the file and line. Labels
(-1/1, 1..K, or any text) are mapped in sorted order to 0..K-1 and kept as class names; the
series are float32 (N, length, 1). Without a test file the split is drawn as for folder archives.
"""

import array
import contextlib
import tarfile
import time
import zipfile

import numpy as np

from .archive import SERIES_NAME, _entries, _ignored, tar_members
from .folders import stratified
from .npz import UploadError, check_class_names

MAX_VALUE_CHARS = 32   # "-1.2345678901234567e+00" and its delimiter fit; a longer line is refused unread
FORMAT = "the label first, then the values, one series a line (the UCR archive's layout)"


class Reader:
    """One file's series read line by line: labels as written, values in one growing float32 buffer."""

    def __init__(self, name, limits, rows_before=0):
        self.name, self.limits = name, limits
        self.labels, self.values, self.length, self.rows_before = [], array.array("f"), None, rows_before
        self.delimiter = None

    def read(self, stream):
        """Read every line of the binary `stream`; UploadError names the file and line of the first problem."""
        most = self.limits["max_series_length"]
        line_limit = (most + 1) * MAX_VALUE_CHARS
        number = 0
        while raw := stream.readline(line_limit + 1):
            number += 1
            if len(raw) > line_limit and not raw.endswith(b"\n"):
                raise self.error(number, f"longer than {line_limit} characters, more than a series of at most "
                                         f"{most} values takes (KD_MAX_SERIES_LENGTH); it was not read whole")
            try:
                text = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise self.error(number, "not UTF-8 text; is this a CSV file?") from None
            if text:
                self.row(number, text)
        if not self.labels:
            raise UploadError(f"{self.name}: no series in it; expected {FORMAT}.")
        return self

    def row(self, number, text):
        """Check and keep one line's label and values."""
        delimiter = "\t" if "\t" in text else "," if "," in text else None   # None: whitespace, as np.loadtxt's default
        self.delimiter = delimiter if self.length is None else self.delimiter
        # counted before the line is split: a million values are refused without a million strings
        count = text.count(delimiter) if delimiter else len(text.split()) - 1
        if count > self.limits["max_series_length"]:
            raise self.error(number, f"{count} values, more than the {self.limits['max_series_length']} a series may "
                                     f"have here (KD_MAX_SERIES_LENGTH)")
        cells = text.split(delimiter)
        if count < 1:
            raise self.error(number, f"a label and no values; expected {FORMAT}")
        if self.length is None:
            self.length = count
        elif count != self.length:
            raise self.error(number, f"{count} values where the first line has {self.length}: every series needs "
                                     f"the same length (ragged rows; pad or cut them to one length)")
        rows = self.rows_before + len(self.labels) + 1
        if rows > self.limits["max_rows"] or rows * self.length * 4 > self.limits["max_bytes"]:
            raise self.error(number, f"one series too many: at most {self.limits['max_rows']} series and "
                                     f"{self.limits['max_bytes'] / 2**20:.0f} MB of float32 values in all "
                                     f"(KD_MAX_IMAGES, KD_MAX_DATASET_MB)")
        try:
            values = np.array(cells[1:], np.float32)
        except ValueError:
            values = None
        if values is None or not np.isfinite(values).all():
            column = next(c for c, v in enumerate(cells[1:], 2) if not _finite(v))
            raise self.error(number, f"column {column} is {cells[column - 1].strip()[:40]!r}, not a finite number "
                                     f"(a series holds numbers only, no header row and no missing values)")
        self.labels.append(cells[0].strip())
        self.values.frombytes(values.tobytes())

    def error(self, number, what):
        """Give the UploadError for line `number` of this file."""
        return UploadError(f"{self.name}, line {number}: {what}.")

    def array(self):
        """Give the values as float32 (n, length, 1), sharing the buffer."""
        return np.frombuffer(self.values, np.float32).reshape(len(self.labels), self.length, 1)


def _finite(text):
    """Say whether a cell is a finite number."""
    try:
        return np.isfinite(np.float32(text))
    except ValueError:
        return False


def class_names(labels):
    """Give the distinct labels sorted (numerically when all are numbers), each as its class name."""
    distinct = sorted(set(labels))
    try:
        numbers = {label: float(label) for label in distinct}
    except ValueError:
        return distinct, dict(zip(distinct, distinct))
    ordered = sorted(distinct, key=numbers.__getitem__)
    shown = {label: str(int(numbers[label])) if numbers[label].is_integer() else label for label in ordered}
    names = list(dict.fromkeys(shown[label] for label in ordered))   # "1" and "1.0" are one class
    return names, shown


def ingest(path, kind, opts, limits, progress=None, name=None):
    """Give (arrays dict, class names, notes, facts) of a series upload (kind csv, tsv, zip or tar); UploadError why not.

    name: the uploaded file's name, for messages about a .csv/.tsv.
    """
    started = time.monotonic()
    limits = {"max_rows": limits.get("max_images", 10**6), "max_series_length": limits.get("max_series_length", 10**5),
              **limits}
    with _files(path, kind, limits["max_bytes"], name) as files:
        readers = []
        for name, stream in files:
            readers.append(Reader(name, limits, sum(len(r.labels) for r in readers)).read(stream))
            if progress:
                progress(len(readers), len(files))
    if len(readers) == 2 and readers[0].length != readers[1].length:
        raise UploadError(f"{readers[1].name} has series of {readers[1].length} values, {readers[0].name} of "
                          f"{readers[0].length}: both need the same length.")
    names, shown = class_names([label for r in readers for label in r.labels])
    if len(names) < 2:
        raise UploadError(f"{readers[0].name}: every series has the label {names[0]!r}; a classifier needs at least "
                          f"2 classes.")
    check_class_names(names, lambda i: f"label {names[i]!r}")
    code = {label: names.index(name) for label, name in shown.items()}
    ys = [np.array([code[label] for label in r.labels], np.int64) for r in readers]
    if len(readers) == 2:
        arrays = {"x_train": readers[0].array(), "y_train": ys[0], "x_test": readers[1].array(), "y_test": ys[1]}
    else:
        arrays = _split(readers[0].array(), ys[0], len(names), opts)
    facts = {"series": sum(len(y) for y in ys), "length": readers[0].length, "given_split": len(readers) == 2,
             "files": [r.name for r in readers], "delimiter": readers[0].delimiter,
             "seconds": round(time.monotonic() - started, 2)}
    return arrays, names, [], facts


def _split(x, y, num_classes, opts):
    """Give the arrays of one file split as folder archives are (seeded, stratified)."""
    splits = stratified(y, np.ones(len(y), bool), num_classes, opts)
    if not (splits == 1).any():
        raise UploadError("No series went to the test split: each class needs at least 2 series (or send a zip "
                          "with *_TRAIN and *_TEST files).")
    return {"x_train": x[splits == 0], "y_train": y[splits == 0], "x_test": x[splits == 1], "y_test": y[splits == 1]}


@contextlib.contextmanager
def _files(path, kind, max_bytes, name=None):
    """Give [(name, binary stream)]: the one uploaded file, or an archive's *_TRAIN then *_TEST member."""
    if kind in ("csv", "tsv"):
        with open(path, "rb") as f:
            yield [(name or f"the uploaded .{kind}", f)]
        return
    found = {}
    for name, is_file, _ in _entries(path, kind, max_bytes):
        match = SERIES_NAME.search(name.rsplit("/", 1)[-1])
        if is_file and match and not _ignored(name.split("/")):
            if match.group(1).upper() in found:
                raise UploadError(f"The archive holds more than one *_{match.group(1).upper()} file "
                                  f"({found[match.group(1).upper()]}, {name}); send one dataset's files.")
            found[match.group(1).upper()] = name
    if "TRAIN" not in found:
        raise UploadError("The archive holds no *_TRAIN file (the UCR archive's layout: NAME_TRAIN.tsv and "
                          "NAME_TEST.tsv).")
    order = [found[k] for k in ("TRAIN", "TEST") if k in found]
    with contextlib.ExitStack() as stack:
        if kind == "zip":
            archive = stack.enter_context(zipfile.ZipFile(path))
            yield [(n, stack.enter_context(archive.open(n))) for n in order]
        else:
            archive = stack.enter_context(tarfile.open(path, "r:gz"))
            members = {info.name: info for info in tar_members(archive) if info.name in order}
            yield [(n, stack.enter_context(archive.extractfile(members[n]))) for n in order]
