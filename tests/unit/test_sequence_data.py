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
        assert ours[0] == list(xt) and ours[2] == list(xs), given
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
