"""Sequence data: dataset_options checked and applied, load_data and pad_sequences as Keras does them, the spec's field."""

import numpy as np
import pytest

from tests.keras_cache import write_imdb, write_reuters
from webapp.datasets import options, sequences
from webapp.datasets.data import Data, describe
from webapp.modelspec.validate import SpecError, validate

IMDB_INFO = {"id": "imdb", "options_schema": "keras_sequence", "input_shape": [None], "train_size": 25000,
             "test_size": 25000, "vocabulary_size": None}
MODEL = {"layers": [{"type": "Dense", "units": 1}]}


def errors(exc):
    return [(e.field, e.message) for e in exc.value.errors]


def opts(**given):
    return options.check(IMDB_INFO, given)


def test_pad_is_keras_pad_sequences():
    import keras

    rng = np.random.default_rng(0)
    seqs = [list(rng.integers(1, 50, n)) for n in (0, 1, 5, 12, 30)]
    for maxlen in (None, 1, 7, 12, 40):
        ours, theirs = sequences.pad(seqs, maxlen), keras.utils.pad_sequences(seqs, maxlen=maxlen)
        assert ours.dtype == theirs.dtype == np.int32
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("layout", ["imdb", "reuters"])
def test_load_data_is_keras_load_data(tmp_path, monkeypatch, layout):
    """The same lists and labels as keras.datasets.*.load_data on the same file, for a spread of options."""
    import keras
    from keras.src.datasets import imdb, reuters

    module = imdb if layout == "imdb" else reuters
    path = tmp_path / f"{layout}.npz"
    arrays = write_imdb(tmp_path) if layout == "imdb" else write_reuters(tmp_path)
    # load_data would download the real file (its hash differs): hand it the trimmed one instead.
    monkeypatch.setattr(module, "get_file", lambda fname, origin, file_hash: str(path))
    raw = arrays if layout == "imdb" else (arrays[0], arrays[1], np.empty(0, object), np.empty(0, np.int64))
    cases = [{}, {"num_words": 100, "skip_top": 20}, {"seed": 7, "start_char": None, "oov_char": None},
             {"filter_maxlen": 45, "index_from": 0, "num_words": 300}]
    for given in cases:
        ours = sequences.load_data(*raw, layout, options.check(IMDB_INFO, given))
        kwargs = {("maxlen" if k == "filter_maxlen" else k): v for k, v in given.items()}
        (xt, yt), (xs, ys) = keras.datasets.imdb.load_data(**kwargs) if layout == "imdb" else \
            keras.datasets.reuters.load_data(**kwargs)
        assert [s.tolist() for s in ours[0]] == list(xt) and [s.tolist() for s in ours[2]] == list(xs), given
        np.testing.assert_array_equal(ours[1], yt)
        np.testing.assert_array_equal(ours[3], ys)


def test_binary_is_the_tokenizers_bag_of_words():
    m = sequences.binary([[1, 3, 3, 9], [], [0, 12]], 10)
    assert m.dtype == np.float32 and m.shape == (3, 10)
    assert m[0].tolist() == [0, 1, 0, 1, 0, 0, 0, 0, 0, 1] and not m[1].any() and m[2].tolist() == [1] + [0] * 9


def test_options_defaults_and_unknown_option_named():
    assert opts() == {"num_words": None, "maxlen": None, "skip_top": 0, "start_char": 1, "oov_char": 2,
                      "index_from": 3, "seed": 113, "mode": "sequences", "filter_maxlen": False}
    with pytest.raises(SpecError) as exc:
        opts(num_wrds=10)
    (field, message), = errors(exc)
    assert field == "dataset_options.num_wrds" and "num_words" in message and "maxlen" in message


def test_options_bounds_and_combinations():
    with pytest.raises(SpecError) as exc:
        opts(maxlen=0, mode="bag", filter_maxlen="x")
    assert {f for f, _ in errors(exc)} == {"dataset_options.maxlen", "dataset_options.mode",
                                          "dataset_options.filter_maxlen"}
    with pytest.raises(SpecError) as exc:
        opts(mode="binary")
    assert errors(exc)[0][0] == "dataset_options.num_words"
    assert opts(maxlen=80, filter_maxlen=True)["filter_maxlen"] == 80
    with pytest.raises(SpecError) as exc:   # 50,000 × 20,000 × 4 bytes = 3.8 GB
        options.check(IMDB_INFO, {"num_words": 20000, "mode": "binary"}, max_bytes=2000 * 2**20)
    assert errors(exc)[0][0] == "dataset_options.num_words" and "KD_MAX_DATASET_MB" in errors(exc)[0][1]
    with pytest.raises(SpecError) as exc:
        options.check({"id": "digits", "input_shape": [8, 8, 1]}, {"maxlen": 3})
    assert errors(exc)[0][0] == "dataset_options.maxlen"
    assert options.check({"id": "digits"}, {}) == {}


def test_input_shapes():
    assert options.input_shape(IMDB_INFO, {"num_words": 2000, "maxlen": 80}) == [80]
    assert options.input_shape(IMDB_INFO, {"num_words": 1000, "mode": "binary"}) == [1000]
    assert options.input_shape(IMDB_INFO, {}) == [None]
    assert options.input_shape({"input_shape": [8, 8, 1]}) == [8, 8, 1]


def test_apply_pads_decodes_and_binarizes(tmp_path):
    x_train, y_train, x_test, y_test = write_imdb(tmp_path, n_train=20, n_test=10, length=10)
    raw = Data(x_train, y_train, x_test, y_test, ["negative", "positive"], 1.0, kind="sequence",
               meta={"layout": "imdb", "word_index": {"the": 1, "great": 7}})
    data = options.apply(raw, IMDB_INFO, opts(num_words=100, maxlen=8))
    assert data.x_train.shape == (20, 8) and data.x_train.dtype == np.int32 and data.y_train.dtype == np.int64
    assert data.x_train.max() < 100 and data.meta["vocabulary_size"] == 100 and data.pixel_max == 1.0
    words = data.text("train", 0).split()
    assert len(words) <= 8 and set(words) <= {"[start]", "[oov]", "the", "great"}
    whole = options.apply(raw, IMDB_INFO, opts())
    assert whole.x_train.shape[1] == whole.meta["max_length"] and whole.meta["vocabulary_size"] > 100
    assert whole.text("train", 0).startswith("[start] ")
    bag = options.apply(raw, IMDB_INFO, opts(num_words=50, mode="binary"))
    assert bag.x_test.shape == (10, 50) and bag.x_test.dtype == np.float32 and set(np.unique(bag.x_test)) <= {0, 1}


def test_spec_dataset_options():
    spec = validate({"dataset": "imdb", "dataset_options": {"num_words": 2000, "maxlen": 80}, "model": MODEL})
    assert spec.dataset_options == {"num_words": 2000, "maxlen": 80}
    assert spec.to_dict()["dataset_options"] == {"num_words": 2000, "maxlen": 80}
    assert "dataset_options" not in validate({"dataset": "digits", "model": MODEL}).to_dict()
    for bad, field in (([1], "dataset_options"), ({"maxlen": [80]}, "dataset_options.maxlen"),
                       ({f"o{i}": 1 for i in range(40)}, "dataset_options")):
        with pytest.raises(SpecError) as exc:
            validate({"dataset": "imdb", "dataset_options": bad, "model": MODEL})
        assert errors(exc)[0][0] == field


def test_describe_gives_kind_and_vocabulary_size():
    out = describe("digits", {"name": "d", "source": "builtin"})
    assert out["kind"] == "image" and out["vocabulary_size"] is None
    out = describe("imdb", {"name": "i", "source": "keras", "kind": "sequence", "vocabulary_size": 20000})
    assert out["kind"] == "sequence" and out["vocabulary_size"] == 20000


def test_prepare_feeds_sequences_unscaled():
    from webapp.runs.trainer import prepare

    x = np.array([[0, 4, 5], [1, 2, 3]], np.int32)
    data = Data(x, np.array([0, 1]), x, np.array([1, 0]), ["neg", "pos"], 1.0, kind="sequence")
    y, x_test, y_test, scale = prepare(data, 2, "binary")
    assert scale is None and x_test is x and y.tolist() == [[0.0], [1.0]] and y.dtype == np.float32


# -- imdb and reuters read from a (tiny) Keras cache ---------------------------------------------------------

@pytest.fixture
def registry(tmp_path, monkeypatch):
    from webapp.datasets import Registry

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    return Registry(tmp_path / "data", max_dataset_mb=5)


def cache(tmp_path):
    return tmp_path / "keras" / "datasets"


def test_imdb_from_the_cache_with_options(tmp_path, registry):
    info = registry.info("imdb")
    assert not info["available"] and str(cache(tmp_path) / "imdb.npz") in info["message"]
    write_imdb(cache(tmp_path), n_train=30, n_test=20)
    info = registry.info("imdb", {"num_words": 100, "maxlen": 20})
    assert info["available"] and info["kind"] == "sequence" and info["input_shape"] == [20]
    assert info["vocabulary_size"] == 100 and info["options"]["seed"] == 113
    assert {p["name"] for p in info["dataset_options"]} >= {"num_words", "maxlen", "mode", "filter_maxlen"}
    data = registry.load("imdb", {"num_words": 100, "maxlen": 20})
    assert data.x_train.shape == (30, 20) and data.x_test.shape == (20, 20) and data.kind == "sequence"
    assert registry.load("imdb", {"maxlen": 20, "num_words": 100}) is data   # cached per canonical options
    words = data.text("test", 0).split()
    assert ("great" in words) != ("awful" in words) and "[oov]" in words
    details = registry.details("imdb")   # statistics of the default split, without padding every review
    assert details["train_size"] == 30 and sum(details["test_counts"]) == 20 and details["vocabulary_size"] > 100
    first = details["texts"]["train"][1][0].split()   # a positive review's first words, as load_data gives them
    assert first[0] == "[start]" and "great" in first and "awful" not in first
    with pytest.raises(SpecError) as exc:   # 50 × 100,000 × 4 bytes is over the registry's 5 MB
        registry.info("imdb", {"num_words": 100_000, "mode": "binary"})
    assert errors(exc)[0][0] == "dataset_options.num_words"


def test_reuters_binary_split_as_keras_splits(tmp_path, registry):
    write_reuters(cache(tmp_path), n=100)
    data = registry.load("reuters", {"num_words": 60, "mode": "binary"})
    assert data.x_train.shape == (80, 60) and data.x_test.shape == (20, 60) and data.x_train.dtype == np.float32
    assert registry.info("reuters", {"num_words": 60, "mode": "binary"})["input_shape"] == [60]
    assert data.y_train.max() < 4 and len(registry.info("reuters")["class_names"]) == 46


def _npz(path, **members):
    """Write an npz whose members are raw .npy bytes (to hand-make files Keras would never write)."""
    import zipfile

    with zipfile.ZipFile(path, "w") as z:
        for name, raw in members.items():
            z.writestr(f"{name}.npy", raw)


def _npy(array):
    import io

    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=True)
    return buf.getvalue()


def _object_npy_with(pickle_bytes):
    """Give .npy bytes whose header announces an object array of 1 and whose data is `pickle_bytes`."""
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|O", "fortran_order": False, "shape": (1,)})
    return buf.getvalue() + pickle_bytes


class Boom:
    def __reduce__(self):
        import os

        return (os.system, ("touch /tmp/h24d-pwned",))


def test_files_in_another_format_get_one_message_naming_the_file(tmp_path, registry):
    import pickle

    folder = cache(tmp_path)
    path = folder / "imdb.npz"
    y = np.array([0, 1])
    seqs = np.empty(2, object)
    seqs[:] = [[1, 2], [3]]
    strings = np.empty(2, object)
    strings[:] = ["a review", "another"]
    bad = {
        "wrong keys": lambda: np.savez(path, x=seqs, y=y),
        "not lists of ints": lambda: np.savez(path, x_train=strings, y_train=y, x_test=seqs, y_test=y),
        "a float label": lambda: np.savez(path, x_train=seqs, y_train=y * 0.5, x_test=seqs, y_test=y),
        "labels past 1": lambda: np.savez(path, x_train=seqs, y_train=y + 5, x_test=seqs, y_test=y),
        "a pickle of anything else": lambda: _npz(path, x_train=_object_npy_with(pickle.dumps(Boom())),
                                                  y_train=_npy(y[:1]), x_test=_npy(seqs), y_test=_npy(y)),
        "not a zip": lambda: path.write_bytes(b"not an npz at all"),
    }
    folder.mkdir(parents=True)
    for what, write in bad.items():
        write()
        registry._broken.clear()
        with pytest.raises(Exception) as exc:
            registry.load("imdb", {"maxlen": 5})
        assert type(exc.value).__name__ == "DatasetError" and str(path) in str(exc.value), what
        info = registry.info("imdb")
        assert not info["available"] and str(path) in info["message"], what
    assert not (tmp_path / "h24d-pwned").exists() and not __import__("os").path.exists("/tmp/h24d-pwned")
    write_imdb(folder, n_train=4, n_test=4)
    (folder / "imdb_word_index.json").write_text('{"the": "one"}')
    with pytest.raises(Exception) as exc:
        registry.load("imdb")
    assert "imdb_word_index.json" in str(exc.value)


def test_an_embedding_narrower_than_the_vocabulary_is_refused_at_its_input_dim():
    from webapp.modelspec.inputs import check_vocabulary

    def model(input_dim, graph=False):
        layers = [{"type": "Embedding", "input_dim": input_dim, "output_dim": 8}, {"type": "GlobalAveragePooling1D"},
                  {"type": "Dense", "units": 1, "activation": "sigmoid"}]
        if graph:
            layers = [{**layer, "inputs": [previous]} for layer, previous in zip(layers, ["input", "embedding",
                                                                                          "global_average_pooling1d"])]
        return validate({"dataset": "imdb", "model": {"layers": layers}})

    imdb = {"kind": "sequence", "vocabulary_size": 600}
    for graph in (False, True):
        with pytest.raises(SpecError) as exc:
            check_vocabulary(model(100, graph), imdb)
        (layer, field, message), = [(e.layer, e.field, e.message) for e in exc.value.errors]
        assert (layer, field) == (0, "input_dim") and "600" in message and "num_words" in message
        check_vocabulary(model(600, graph), imdb)
    check_vocabulary(model(100), {"kind": "sequence", "vocabulary_size": None})
    check_vocabulary(model(100), {"kind": "image", "vocabulary_size": 600})
