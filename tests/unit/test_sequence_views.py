"""Texts and series in the gallery, the inside view and try-your-own: decoding, tokenising, attributions."""

import numpy as np
import pytest

from webapp.predict import predictions as preds
from webapp.datasets.data import Data
from webapp.predict import sequences

WORD_INDEX = {"the": 1, "film": 2, "was": 3, "wonderful": 4, "awful": 5}


KERAS_DEFAULTS = {"num_words": None, "skip_top": 0, "index_from": 3, "start_char": 1, "oov_char": 2}


def test_ids_decode_as_keras_imdb_convention_one_by_one():
    data = Data(np.zeros((1, 6), np.int32), np.zeros(1, np.int64), np.array([[0, 0, 1, 4, 5, 2, 7, 99]], np.int32),
                np.zeros(1, np.int64), ["negative", "positive"], 1.0, kind="sequence",
                meta={"word_index": WORD_INDEX, "index_from": 3, "start_char": 1, "oov_char": 2})
    assert [data.token(i) for i in data.x_test[0] if i] == ["[start]", "the", "film", "[oov]", "wonderful", "[oov]"]
    assert data.text("test", 0) == " ".join(data.token(i) for i in data.x_test[0] if i)


def test_a_sentence_is_tokenised_as_imdb_load_data_would_give_it():
    options = {**KERAS_DEFAULTS, "num_words": 7}
    assert sequences.word_ids("the\tFilm_was", WORD_INDEX, KERAS_DEFAULTS) == [1, 4, 5, 6]
    # "wonderful" is rank 4 -> id 7, cut by num_words 7; "great" is not in the index: both oov.
    assert sequences.word_ids("The film, WAS wonderful! great", WORD_INDEX, options) == [1, 4, 5, 6, 2, 2]
    # Without num_words, the training data's vocabulary is the limit (no Embedding row past it).
    assert sequences.word_ids("the awful", WORD_INDEX, KERAS_DEFAULTS, vocabulary_size=8) == [1, 4, 2]
    options = {**KERAS_DEFAULTS, "index_from": 0, "start_char": None, "oov_char": None}
    assert sequences.word_ids("the awful great", WORD_INDEX, options) == [1, 5]
    assert sequences.clip("x" * 30, 20) == "x" * 19 + "…"


def test_series_and_text_requests_name_the_field_and_what_is_accepted():
    assert sequences.parse_series([1, 2.5, 3], 3, 10).shape == (1, 3, 1)
    for value, words in (([1, 2], "exactly 3"), ([1, "x", 2], "value 1"), ("1,2,3", "list of 3"),
                         ([1, float("nan"), 2], "finite"), (list(range(20)), "KD_MAX_SERIES_POINTS"),
                         ([1, True, 2], "value 1")):
        with pytest.raises(sequences.InputError, match=words) as found:
            sequences.parse_series(value, 3, 10)
        assert str(found.value).startswith("series:")
    assert sequences.parse_text("  good  ", 10) == "good"
    for value, words in (("", "non-empty"), (3, "string"), ("x" * 11, "KD_MAX_TEXT_CHARS")):
        with pytest.raises(sequences.InputError, match=words):
            sequences.parse_text(value, 10)
    assert sequences.series_points(np.arange(5000.0), 100)[-1] == 4999.0
    assert len(sequences.series_points(np.arange(5000.0), 100)) == 100


def test_one_sigmoid_unit_is_stored_as_two_classes():
    stored = preds.arrays(np.array([[0.2], [0.9], [0.7]], np.float32), np.array([[0.0], [1.0], [0.0]]), 1)
    assert stored["true"].tolist() == [0, 1, 0]
    assert stored["predicted"].tolist() == [0, 1, 1]
    assert stored["top_classes"].tolist() == [[0, 1], [1, 0], [1, 0]]
    np.testing.assert_allclose(stored["top_p"], [[0.8, 0.2], [0.9, 0.1], [0.7, 0.3]], rtol=1e-6)


@pytest.fixture(scope="module")
def keras():
    from webapp.modelspec.build import init_keras

    return init_keras()


def loaded_copy(keras, model, tmp_path, name):
    """Give the inside view's Loaded of the model after a save and load, as the web process sees it."""
    from webapp.predict.inside import Loaded, build_probe

    path = tmp_path / f"{name}.keras"
    model.save(path)
    again = keras.saving.load_model(path, compile=False)
    return Loaded(again, *build_probe(again))


def test_the_token_that_decides_the_class_gets_the_largest_attribution(keras, tmp_path):
    from webapp.predict import saliency

    rng = np.random.default_rng(0)
    model = keras.Sequential([keras.Input((8,), dtype="int32"), keras.layers.Embedding(20, 1),
                              keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1, activation="sigmoid")])
    table = rng.uniform(-0.1, 0.1, (20, 1)).astype(np.float32)
    table[7] = 4.0                                  # token 7 alone makes the review positive
    model.layers[0].set_weights([table])
    model.layers[2].set_weights([np.array([[2.0]], np.float32), np.array([-0.5], np.float32)])
    loaded = loaded_copy(keras, model, tmp_path, "decider")
    x = np.array([[3, 9, 12, 7, 5, 11, 4, 6]], np.int32)
    assert float(model.predict_on_batch(x)[0, 0]) > 0.5
    ids, attribution = saliency.token_attribution(loaded, x, 1)
    assert ids.tolist() == x[0].tolist()
    assert int(np.argmax(attribution)) == 3 and attribution[3] > 0
    # For class 0 (1 - p) the same token pushes hardest the other way.
    _, against = saliency.token_attribution(loaded, x, 0)
    assert int(np.argmin(against)) == 3 and against[3] < 0


def test_a_masked_embedding_splits_with_its_mask_and_attributions_sum_to_the_logit(keras, tmp_path):
    from webapp.predict import saliency

    # Embedding -> masked mean -> softmax Dense: the logit is linear in the embedded tokens, so
    # gradient × input sums exactly to logit - bias; padding, masked out, gets nothing. A split that
    # lost the mask would average the padding's embeddings in and break both.
    model = keras.Sequential([keras.Input((6,), dtype="int32"), keras.layers.Embedding(10, 3, mask_zero=True),
                              keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(2, activation="softmax")])
    loaded = loaded_copy(keras, model, tmp_path, "masked")
    x = np.array([[0, 0, 4, 5, 6, 2]], np.int32)
    table = np.asarray(loaded.model.layers[0].embeddings)
    kernel, bias = (np.asarray(w) for w in loaded.model.layers[2].get_weights())
    logits = table[x[0, 2:]].mean(axis=0) @ kernel + bias
    for klass in (0, 1):
        _, attribution = saliency.token_attribution(loaded, x, klass)
        assert np.allclose(attribution[:2], 0.0)
        assert attribution.sum() == pytest.approx(logits[klass] - bias[klass], abs=1e-5)


def test_text_vectorization_tokens_come_from_its_vocabulary(keras, tmp_path):
    from webapp.predict import saliency

    vectorize = keras.layers.TextVectorization(vocabulary=["great", "film", "dull"], output_sequence_length=5)
    inputs = keras.Input(shape=(1,), dtype="string")
    hidden = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(5, 2)(vectorize(inputs)))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(hidden))
    loaded = loaded_copy(keras, model, tmp_path, "text")
    vocabulary = saliency.vocabulary(loaded)
    ids, attribution = saliency.token_attribution(loaded, np.array([["A great film"]]), 1)
    assert [vocabulary[i] for i in ids if i] == ["[UNK]", "great", "film"]
    assert attribution.shape == (5,)


def test_the_step_that_decides_a_series_gets_the_largest_attribution(keras, tmp_path):
    from webapp.predict import saliency

    model = keras.Sequential([keras.Input((12, 1)), keras.layers.Flatten(), keras.layers.Dense(1, activation="sigmoid")])
    weights = np.full((12, 1), 0.05, np.float32)
    weights[5] = 3.0
    model.layers[1].set_weights([weights, np.zeros(1, np.float32)])
    loaded = loaded_copy(keras, model, tmp_path, "series")
    attribution = saliency.input_attribution(loaded, np.ones((1, 12, 1), np.float32), 1)
    assert attribution.shape == (12,) and int(np.argmax(attribution)) == 5


def test_a_bag_of_words_gets_one_attribution_per_word_present(keras, tmp_path):
    from webapp.web.api import sequence_views

    # reuters_mlp.py's input: a binary bag of num_words; the word of id 5 ("wonderful" at index_from 1) decides.
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1, activation="sigmoid")])
    weights = np.full((8, 1), 0.1, np.float32)
    weights[5] = 4.0
    model.layers[0].set_weights([weights, np.zeros(1, np.float32)])
    loaded = loaded_copy(keras, model, tmp_path, "bag")
    x = np.array([[0, 0, 1, 1, 0, 1, 0, 1]], np.float32)
    data = Data(x, np.zeros(1, np.int64), x, np.zeros(1, np.int64), ["a", "b"], 1.0, kind="sequence",
                meta={"word_index": WORD_INDEX, "index_from": 1, "start_char": None, "oov_char": 2, "mode": "binary"})
    found = sequence_views.explain(loaded, data, x, 1)
    assert [t["token"] for t in found["tokens"]] == ["[oov]", "film", "wonderful", "[oov]"]
    assert max(found["tokens"], key=lambda t: t["attribution"])["token"] == "wonderful"
    assert sequence_views.shown(data, x) == {"text": "[oov] film wonderful [oov]"}


def test_an_lstm_that_returns_its_last_step_shows_every_step(keras, tmp_path):
    from webapp.predict import inside

    model = keras.Sequential([keras.Input((7,), dtype="int32"), keras.layers.Embedding(12, 3), keras.layers.LSTM(4),
                              keras.layers.Dense(2, activation="softmax")])
    loaded = loaded_copy(keras, model, tmp_path, "lstm")
    forward = inside.run_probe(loaded, np.array([[3, 1, 4, 1, 5, 9, 2]], np.int32))
    assert list(forward.steps) == [1]                        # the LSTM, not the Embedding or the Dense
    assert forward.steps[1].shape == (7, 4)
    np.testing.assert_allclose(forward.steps[1][-1], forward.outputs[1], atol=1e-5)   # its last step is its output
    panel = inside.panels(loaded, forward, ["a", "b"], lambda i, page: f"/{i}.png?page={page}")[1]
    assert panel["kind"] == "vector" and panel["steps_image_url"] == "/1.png?page=steps"
    assert inside.layer_png(forward, 1, "steps")[:4] == b"\x89PNG"
    with pytest.raises(inside.InsideError, match="only a recurrent layer"):
        inside.layer_png(forward, 2, "steps")
