"""The dataset registry: digits, keras.datasets read from a (tiny) Keras cache, and uploaded .npz files."""

import io
import os
import pickle
import re
import zipfile

import numpy as np
import pytest

from tests.keras_cache import cifar_batch_bytes, write_cifar10, write_fashion_mnist, write_mnist
from webapp.datasets import DatasetError, Registry, UploadError
from webapp.db.store import Dataset, Store

MB = 2**20


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """Give an empty Keras cache folder ($KERAS_HOME/datasets)."""
    home = tmp_path / "keras"
    (home / "datasets").mkdir(parents=True)
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home / "datasets"


@pytest.fixture
def store(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'dashboard.db'}")
    store.create_all()
    return store


@pytest.fixture
def registry(tmp_path, store, cache):
    return Registry(tmp_path / "data", store)


def npz(**arrays):
    """Give an in-memory .npz of these arrays, as numpy.savez writes it."""
    out = io.BytesIO()
    np.savez(out, **arrays)
    out.seek(0)
    return out


def arrays(n_train=12, n_test=6, shape=(5, 4), classes=3, dtype=np.uint8, seed=0):
    """Give valid upload arrays: every class present in both splits."""
    rng = np.random.default_rng(seed)
    high = 256 if dtype == np.uint8 else 1
    x = lambda n: (rng.integers(0, high, (n, *shape)) if dtype == np.uint8 else rng.random((n, *shape))).astype(dtype)
    return {"x_train": x(n_train), "y_train": np.arange(n_train) % classes,
            "x_test": x(n_test), "y_test": np.arange(n_test) % classes}


# ---- built-in digits ------------------------------------------------------------------------------

def test_digits_split_is_reproducible_and_stratified(tmp_path, cache):
    first, second = Registry(tmp_path / "a"), Registry(tmp_path / "b")
    assert first.info("digits")["train_counts"] is None   # nothing read by listing
    a, b = first.load("digits"), second.load("digits")
    assert a.x_train.shape == (1437, 8, 8, 1) and a.x_test.shape == (360, 8, 8, 1)
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    assert a.pixel_max == 16 and a.x_train.max() == 16 and a.y_train.dtype == np.int64
    info = first.info("digits")
    assert info["train_counts"] == np.bincount(a.y_train).tolist() and sum(info["test_counts"]) == 360
    assert min(info["test_counts"]) >= 35   # stratified: every digit about 36 times in the test split


# ---- keras.datasets from Keras's cache ------------------------------------------------------------

def test_empty_cache_lists_keras_datasets_as_unavailable_with_where_to_put_them(registry, cache):
    by_id = {d["id"]: d for d in registry.list()}
    expected = {"mnist": str(cache / "mnist.npz"), "fashion_mnist": str(cache / "fashion-mnist"),
                "cifar10": str(cache / "cifar-10-batches-py-target" / "cifar-10-batches-py")}
    for ds_id, path in expected.items():
        d = by_id[ds_id]
        assert d["available"] is False and d["source"] == "keras"
        assert path in d["message"] and f"keras.datasets.{ds_id}.load_data()" in d["message"]
        with pytest.raises(DatasetError, match=re.escape(path)):
            registry.load(ds_id)
    assert by_id["digits"]["available"] is True and "message" not in by_id["digits"]
    assert str(cache / "cifar-10-batches-py-target_archive") in by_id["cifar10"]["message"]


def test_cached_mnist_npz_is_available_and_loads_as_nhwc(registry, cache):
    x_train, y_train, x_test, y_test = write_mnist(cache)
    assert registry.info("mnist")["available"] is True
    data = registry.load("mnist")
    assert data.x_train.shape == (6, 28, 28, 1) and data.x_test.shape == (3, 28, 28, 1)
    assert data.x_train.dtype == np.uint8 and data.pixel_max == 255
    assert np.array_equal(data.x_train[..., 0], x_train) and np.array_equal(data.y_test, y_test)
    info = registry.info("mnist")
    assert (info["train_size"], info["test_size"]) == (6, 3)
    assert info["train_counts"] == np.bincount(y_train, minlength=10).tolist()


def test_cached_fashion_mnist_idx_files_load(registry, cache):
    x_train, y_train, x_test, y_test = write_fashion_mnist(cache)
    data = registry.load("fashion_mnist")
    assert data.x_train.shape == (4, 28, 28, 1) and np.array_equal(data.x_test[..., 0], x_test)
    assert np.array_equal(data.y_train, y_train) and data.class_names[9] == "Ankle boot"


@pytest.mark.parametrize("folder", ["cifar-10-batches-py-target/cifar-10-batches-py", "cifar-10-batches-py"])
def test_cached_cifar10_batches_load_channels_last(registry, cache, folder):
    rows, labels, test_rows, test_labels = write_cifar10(cache, folder=folder)
    data = registry.load("cifar10")
    assert data.x_train.shape == (10, 32, 32, 3) and data.x_test.shape == (2, 32, 32, 3)
    # A row is the red plane, then green, then blue: pixel (row 1, column 2) of plane c is at c*1024 + 32 + 2.
    for c in range(3):
        assert data.x_train[7, 1, 2, c] == rows[7, c * 1024 + 34]
    assert data.y_train.tolist() == labels.tolist() and data.y_test.tolist() == test_labels.tolist()


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_cifar_pickle_that_would_run_code_is_refused(registry, cache, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_cifar10(cache)
    batch = cache / "cifar-10-batches-py-target" / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(pickle.dumps({b"data": _RunsCode(), b"labels": [0]}, protocol=3))
    with pytest.raises(DatasetError, match="refusing to load posix.system|refusing to load os.system"):
        registry.load("cifar10")
    assert not (tmp_path / "pwned").exists()
    info = registry.info("cifar10")
    assert info["available"] is False and "delete it and fetch it again" in info["message"]
    # A replaced file is tried again.
    batch.write_bytes(cifar_batch_bytes(np.zeros((2, 3072), np.uint8), [1, 2]))
    assert registry.info("cifar10")["available"] is True and len(registry.load("cifar10").x_train) == 10


def test_listing_reads_no_arrays_and_a_broken_cache_file_becomes_unavailable(registry, cache):
    (cache / "mnist.npz").write_bytes(b"not a zip at all")
    assert registry.info("mnist")["available"] is True   # only the file's presence was looked at
    with pytest.raises(DatasetError, match=re.escape(str(cache / "mnist.npz"))):
        registry.load("mnist")
    assert registry.info("mnist")["available"] is False
    assert registry.details("mnist")["available"] is False


def test_fashion_idx_with_a_wrong_header_is_refused(registry, cache):
    write_fashion_mnist(cache)
    import gzip

    with gzip.open(cache / "fashion-mnist" / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(b"\x00\x00\x08\x01" + b"\x00" * 40)
    with pytest.raises(DatasetError, match="not an IDX file"):
        registry.load("fashion_mnist")


# ---- uploads --------------------------------------------------------------------------------------

def test_upload_grayscale_uint8_is_stored_as_nhwc_and_persists(registry, tmp_path, store):
    a = arrays()
    d = registry.add("  Tiny shapes ", npz(**a), MB)
    assert d["name"] == "Tiny shapes" and d["source"] == "upload" and d["available"] is True
    assert d["input_shape"] == [5, 4, 1] and d["num_classes"] == 3 and d["class_names"] == ["0", "1", "2"]
    assert (d["train_size"], d["test_size"], d["train_counts"], d["test_counts"]) == (12, 6, [4, 4, 4], [2, 2, 2])
    assert re.fullmatch(r"tiny-shapes-[0-9a-f]{6}", d["id"]) and d["id"] in registry.ids()
    fresh = Registry(tmp_path / "data", store)   # as after a restart
    assert fresh.info(d["id"]) == d
    data = fresh.load(d["id"])
    assert data.x_train.dtype == np.uint8 and data.pixel_max == 255
    assert np.array_equal(data.x_train[..., 0], a["x_train"]) and np.array_equal(data.y_test, a["y_test"])
    assert fresh.details(d["id"])["samples"]["train"][1] == [1, 4, 7, 10]
    assert sorted(p.name for p in (tmp_path / "data" / "datasets").iterdir()) == [f"{d['id']}.npz",
                                                                                 f"{d['id']}.pixels.npz"]


@pytest.mark.parametrize("x, pixel_max, dtype", [
    (np.full((2, 3, 3), 0.5), 1.0, np.float32),                        # floats already in [0, 1]
    (np.array([[[0, 1000]], [[7, 3]]], np.int16), 1000.0, np.float32),  # another range: its maximum
    (np.ones((2, 2, 2, 3), np.float16) * 40, 40.0, np.float32),
    (np.ones((2, 2, 2), bool), 1.0, np.float32),
    (np.full((2, 2, 2, 4), 9, np.uint8), 255.0, np.uint8),
])
def test_pixel_max_and_stored_dtype(registry, x, pixel_max, dtype):
    d = registry.add("px", npz(x_train=x, y_train=np.array([0, 1]), x_test=x, y_test=[1, 0]), MB)
    data = registry.load(d["id"])
    assert data.pixel_max == pixel_max and data.x_train.dtype == dtype and data.x_train.ndim == 4
    assert d["pixel_max"] == pixel_max   # in the description too, for exported train.py scripts
    assert data.image("test", 1).max() == round(255 * float(x[1].max()) / pixel_max)


def test_one_hot_labels_become_integers_and_give_num_classes(registry):
    a = arrays(classes=3)
    a["y_train"], a["y_test"] = np.eye(4)[a["y_train"]], np.eye(4, dtype=np.uint8)[a["y_test"]]
    d = registry.add("onehot", npz(**a), MB)
    assert d["num_classes"] == 4 and d["train_counts"] == [4, 4, 4, 0]
    assert registry.load(d["id"]).y_train.tolist() == (np.arange(12) % 3).tolist()


def test_class_names_are_kept(registry):
    d = registry.add("pets", npz(**arrays(), class_names=np.array(["cat", "dog", "bird", "fish"])), MB)
    assert d["class_names"] == ["cat", "dog", "bird", "fish"] and d["num_classes"] == 4
    assert registry.load(d["id"]).class_names[3] == "fish"


def _bad(**changes):
    a = arrays()
    a.update(changes)
    return npz(**{k: v for k, v in a.items() if v is not None})


BAD = [
    ("not a zip", lambda: io.BytesIO(b"hello, I am a text file"), "not an .npz archive"),
    ("no y_test", lambda: _bad(y_test=None), "has no y_test"),
    ("object array", lambda: _bad(class_names=np.array(["a", 1, None], dtype=object)), "dtype=object"),
    ("flat images", lambda: _bad(x_train=np.zeros((12, 20))), "must be (N, H, W) or (N, H, W, C)"),
    ("two channels", lambda: _bad(x_test=np.zeros((6, 5, 4, 2))), "accepted: C = 1 (grayscale), 3 (RGB) or 4"),
    ("x and y lengths", lambda: _bad(y_train=np.zeros(11, int)), "y_train has shape [11] for 12 images"),
    ("split shapes", lambda: _bad(x_test=np.zeros((6, 4, 5), np.uint8)), "both splits need the same shape"),
    ("empty split", lambda: _bad(x_test=np.zeros((0, 5, 4)), y_test=np.zeros(0, int)), "at least one image"),
    ("NaN", lambda: _bad(x_train=np.full((12, 5, 4), np.nan)), "x_train contains NaN"),
    ("negative", lambda: _bad(x_test=-np.ones((6, 5, 4))), "x_test has negative pixels"),
    ("text images", lambda: _bad(x_train=np.full((12, 5, 4), "a")), "images must be numbers"),
    ("label past names", lambda: _bad(class_names=np.array(["a", "b"])),
     "has the label 2 but class_names names 2 classes (labels must be 0..1)"),
    ("negative label", lambda: _bad(y_test=np.array([0, 1, 2, -1, 0, 1])), "negative label -1"),
    ("fraction", lambda: _bad(y_train=np.arange(12) / 2), "labels must be whole numbers"),
    ("bad one-hot", lambda: _bad(y_test=np.array([[1, 0, 0], [1, 1, 0]] * 3)), "row 1 is not a single 1"),
    ("one-hot vs names", lambda: _bad(y_test=np.eye(3)[[0, 1, 2, 0, 1, 2]], class_names=np.array(list("abcd"))),
     "one-hot with 3 classes but class_names names 4"),
    ("one class", lambda: _bad(y_train=np.zeros(12, int), y_test=np.zeros(6, int)), "at least 2"),
    ("huge label", lambda: _bad(y_train=np.full(12, 5000)), "at most 1000 classes"),
    ("names 2-D", lambda: _bad(class_names=np.array([["a", "b"], ["c", "d"]])), "1-D array of strings"),
    ("empty name", lambda: _bad(class_names=np.array(["a", " ", "c"])), "give each class a name (1 to 100 characters)"),
]


@pytest.mark.parametrize("case, make, message", BAD, ids=[b[0] for b in BAD])
def test_bad_uploads_are_refused_with_a_message_and_leave_nothing(registry, store, tmp_path, case, make, message):
    with pytest.raises(UploadError) as err:
        registry.add("bad", make(), MB)
    assert message in str(err.value)
    assert not (tmp_path / "data" / "datasets").exists() or not list((tmp_path / "data" / "datasets").iterdir())
    with store.session() as s:
        assert s.query(Dataset).count() == 0


@pytest.mark.parametrize("name, message", [("", "give the dataset a name"), (" ", "give the dataset a name"),
                                           ("x" * 101, "at most 100 characters; this one has 101")])
def test_bad_names_are_refused(registry, name, message):
    with pytest.raises(UploadError, match=re.escape(message)):
        registry.add(name, npz(**arrays()), MB)


def test_zip_bomb_is_refused_before_numpy_reads_it(registry, monkeypatch):
    packed = io.BytesIO()
    np.savez_compressed(packed, x_train=np.zeros((300, 100, 100), np.uint8), y_train=np.zeros(300, int),
                        x_test=np.zeros((1, 100, 100), np.uint8), y_test=np.zeros(1, int))
    assert packed.tell() < 100_000   # 3 MB of zeros packs into a few kilobytes
    packed.seek(0)
    monkeypatch.setattr(np, "load", lambda *a, **k: pytest.fail("np.load must not be reached"))
    with pytest.raises(UploadError, match=r"unpacks to 2\.9 MB, more than the 1 MB"):
        registry.add("bomb", packed, MB)


def test_array_header_promising_more_than_the_file_holds_is_refused(registry):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for k, v in arrays().items():
            with z.open(f"{k}.npy", "w") as f:
                if k == "x_train":   # a header for 6 GB of pixels, followed by 10 bytes
                    np.lib.format.write_array_header_1_0(f, {"descr": "|u1", "fortran_order": False,
                                                             "shape": (10**9, 6, 1)})
                    f.write(b"\0" * 10)
                else:
                    np.lib.format.write_array(f, v)
    out.seek(0)
    with pytest.raises(UploadError, match="x_train: its header promises shape"):
        registry.add("liar", out, MB)


def test_ids_are_slugs_of_the_name_with_a_random_suffix(registry):
    first = registry.add("My Cats & Dogs!", npz(**arrays()), MB)["id"]
    second = registry.add("My Cats & Dogs!", npz(**arrays()), MB)["id"]
    assert re.fullmatch(r"my-cats-dogs-[0-9a-f]{6}", first) and first != second
    assert re.fullmatch(r"dataset-[0-9a-f]{6}", registry.add("猫", npz(**arrays()), MB)["id"])


def test_a_failed_write_leaves_no_file_and_no_row(registry, store, tmp_path, monkeypatch):
    def half_then_fail(f, **arrays):
        f.write(b"PK\x03\x04 half a file")
        raise OSError("disk full")

    upload = npz(**arrays())
    monkeypatch.setattr(np, "savez", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        registry.add("full", upload, MB)
    assert list((tmp_path / "data" / "datasets").iterdir()) == []
    with store.session() as s:
        assert s.query(Dataset).count() == 0


def test_memory_cache_keeps_the_newest_within_its_budget(tmp_path, store, cache):
    registry = Registry(tmp_path / "data", store, cache_mb=1)   # digits alone takes ~0.1 MB
    big = registry.add("big", npz(**arrays(n_train=1000, shape=(32, 32))), MB * 8)
    assert list(registry._cache) == []   # an upload is not kept in memory until something reads it
    registry.load(big["id"])
    assert list(registry._cache) == [big["id"]]
    registry.load("digits")
    assert list(registry._cache) == ["digits"]   # the upload (1 MB) went over the budget and was dropped
    assert registry.load(big["id"]).x_train.shape == (1000, 32, 32, 1)   # read again from its file


def test_a_builder_process_starts_with_pillow_and_numpy_only():
    """A spawned builder sends its row's fields up its pipe: SQLAlchemy (~0.7 s to import), Flask and Keras stay out."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    code = ("import sys, webapp.datasets.builder\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'flask', 'tensorflow', 'keras'}))")
    done = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "PYTHONPATH": str(root)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_digits_are_kept_as_a_file_read_later_without_their_loader(tmp_path, monkeypatch):
    """The first load writes data_dir/builtin/digits.npz; the next process reads it, never importing scikit-learn."""
    from webapp.datasets.data import BUILTIN

    first = Registry(tmp_path).load("digits")
    assert (tmp_path / "builtin" / "digits.npz").exists() and not list((tmp_path / "builtin").glob(".*"))
    monkeypatch.setitem(BUILTIN["digits"], "loader", lambda: pytest.fail("the loader ran again"))
    again = Registry(tmp_path).load("digits")
    for name in ("x_train", "y_train", "x_test", "y_test"):
        a, b = getattr(first, name), getattr(again, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    assert (again.class_names, again.pixel_max) == (first.class_names, first.pixel_max) == ([str(i) for i in range(10)], 16.0)
