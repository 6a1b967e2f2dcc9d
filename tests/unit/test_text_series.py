"""Text folders and UCR series read into arrays: Keras's layouts and defaults, and a clear message for each bad file."""

import io
import tarfile
import zipfile

import numpy as np
import pytest

from webapp.datasets import archive, folders, npz, series, texts
from webapp.datasets.npz import UploadError

LIMITS = {"max_texts": 1000, "max_text_bytes": 2**10, "max_bytes": 2**20, "max_images": 1000,
          "max_series_length": 1000}


def write_zip(path, files):
    """Write a .zip of {member: bytes or str} at path; give path."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


def write_tgz(path, files):
    """Write a .tar.gz of {member: bytes} at path; give path."""
    with tarfile.open(path, "w:gz") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return path


def acl_imdb():
    """Give aclImdb's layout in small: train/{pos,neg,unsup}, test/{pos,neg}, loose files beside them."""
    files = {f"aclImdb/train/{c}/{i}_7.txt": f"train {c} {i} — très bien".encode() for c in ("pos", "neg", "unsup")
             for i in range(3)}
    files.update({f"aclImdb/test/{c}/{i}_2.txt": f"test {c} {i}".encode() for c in ("pos", "neg") for i in range(2)})
    files.update({"aclImdb/imdbEr.txt": b"0.1", "aclImdb/README": b"read me", "aclImdb/train/urls_pos.txt": b"http://",
                  "aclImdb/train/labeledBow.feat": b"0:1"})
    return files


def test_an_aclimdb_layout_keeps_its_split_and_leaves_unsup_and_loose_files_out(tmp_path):
    path = write_tgz(tmp_path / "aclImdb.tar.gz", acl_imdb())
    assert archive.content(path, "tar", 2**20) == "text"
    arrays, names, notes, facts = texts.ingest(path, "tar", folders.Options(), LIMITS)
    assert names == ["neg", "pos"] and facts["given_split"] and facts["skipped_folders"] == ["unsup"]
    assert "unsup" in notes[0] and "2 file(s) that are not .txt were ignored" in notes[1]
    npz.save(tmp_path, "imdb-1", {k: arrays[k] for k in texts.KEYS})
    x_train, y_train, x_test, y_test = texts.load(tmp_path / "imdb-1.npz")
    assert x_train.dtype == object and x_train.tolist() == [f"train {c} {i} — très bien" for c in ("neg", "pos")
                                                            for i in range(3)]
    assert y_train.tolist() == [0, 0, 0, 1, 1, 1] and y_test.tolist() == [0, 0, 1, 1] and x_test[3] == "test pos 1"
    with np.load(tmp_path / "imdb-1.npz", allow_pickle=False) as f:   # no object array is ever stored
        assert f["texts"].dtype == np.uint8 and f["at_train"].shape == (6, 2)


@pytest.mark.parametrize("files, expected", [
    ({"a/1.png": b"", "a/2.png": b"", "b/1.png": b"", "notes.txt": b""}, "image"),
    ({"a/1.txt": b"", "b/1.txt": b"", "b/x.png": b""}, "text"),
    ({"FordA/FordA_TRAIN.tsv": b"", "FordA/FordA_TEST.tsv": b"", "FordA/README.md": b""}, "series"),
    ({"Old_TRAIN": b"", "Old_TEST": b""}, "series"),
    ({"a/run_TRAIN.txt": b"", "a/1.txt": b"", "b/1.txt": b""}, "text"),
])
def test_what_an_archive_holds_is_told_by_its_members_names(tmp_path, files, expected):
    assert archive.content(write_zip(tmp_path / "a.zip", files), "zip", 2**20) == expected


def test_a_text_past_kd_max_text_kb_is_refused_by_name(tmp_path):
    path = write_zip(tmp_path / "t.zip", {"a/1.txt": "x", "a/2.txt": "y", "b/1.txt": "z", "b/big.txt": "w" * 2000})
    with pytest.raises(UploadError, match=r"b/big\.txt: 2 KB, more than the 1 KB a text may have here \(KD_MAX_TEXT_KB\)"):
        texts.ingest(path, "zip", folders.Options(), LIMITS)


def test_ucr_labels_map_in_numeric_order_and_keep_their_text(tmp_path):
    rows = ["10,1,2", "2,3,4", "1.0000000e+00,5,6", "2,7,8", "10,9,0", "1,1,1"]
    (tmp_path / "s.csv").write_text("\n".join(rows) + "\n\n")   # a blank line at the end is no series
    arrays, names, _, facts = series.ingest(tmp_path / "s.csv", "csv", folders.Options(test_fraction=0.5), LIMITS,
                                            name="s.csv")
    assert names == ["1", "2", "10"] and facts["delimiter"] == "," and facts["length"] == 2
    x = np.concatenate([arrays["x_train"], arrays["x_test"]])
    y = np.concatenate([arrays["y_train"], arrays["y_test"]])
    assert x.dtype == np.float32 and x.shape == (6, 2, 1)
    assert sorted(zip(x[:, 0, 0].tolist(), y.tolist())) == [(1, 0), (1, 2), (3, 1), (5, 0), (7, 1), (9, 2)]


def test_a_ucr_zip_gives_its_train_and_test_files_and_whitespace_is_a_delimiter(tmp_path):
    path = write_zip(tmp_path / "Coffee.zip", {"Coffee/Coffee_TEST": "  1  0.5  0.25\n  0  1.5 -2e-1\n",
                                               "Coffee/Coffee_TRAIN": "0 1 2\n1 3 4\n0 5 6\n"})
    arrays, names, _, facts = series.ingest(path, "zip", folders.Options(), LIMITS)
    assert names == ["0", "1"] and facts["given_split"] and facts["files"] == ["Coffee/Coffee_TRAIN", "Coffee/Coffee_TEST"]
    assert arrays["y_train"].tolist() == [0, 1, 0] and np.allclose(arrays["x_test"][:, :, 0], [[0.5, 0.25], [1.5, -0.2]])


@pytest.mark.parametrize("files, message", [
    ({"F_TRAIN.tsv": "1\t2\t3\n2\t3\t4\n", "F_TEST.tsv": "1\t2\n"}, "F_TEST.tsv has series of 1 values, F_TRAIN.tsv of 2"),
    ({"F_TRAIN.tsv": "1\t2\n2\t\xff\n"}, "F_TRAIN.tsv, line 2: not UTF-8"),
    ({"F_TEST.tsv": "1\t2\n"}, "holds no *_TRAIN file"),
])
def test_a_bad_ucr_zip_is_refused_naming_the_file(tmp_path, files, message):
    path = tmp_path / "f.zip"
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data.encode("latin-1"))
    with pytest.raises(UploadError, match=message.replace("*", r"\*")):
        series.ingest(path, "zip", folders.Options(), LIMITS)


def test_rows_past_the_decoded_size_are_refused_at_the_line_that_passes_it(tmp_path):
    (tmp_path / "s.tsv").write_text("".join(f"{i % 2}\t" + "\t".join(["1"] * 100) + "\n" for i in range(10)))
    with pytest.raises(UploadError, match=r"s\.tsv, line 7: one series too many"):
        series.ingest(tmp_path / "s.tsv", "tsv", folders.Options(), {**LIMITS, "max_bytes": 2400}, name="s.tsv")
