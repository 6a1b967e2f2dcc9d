"""Predictions without Flask or Keras: probabilities, filters, the confusion matrix, a user's image."""

import io
import itertools
import os

import numpy as np
import pytest
from PIL import Image, ImageDraw
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from webapp.predict import predictions as preds
from webapp.predict import user_image
from webapp.datasets.data import _digits

# -- probabilities and top classes ------------------------------------------------------------------


def test_softmax_outputs_are_kept_and_ranked_like_argmax():
    out = np.array([[0.1, 0.7, 0.2], [0.5, 0.25, 0.25]], dtype=np.float32)
    predicted, confidence, top, top_p = preds.top_classes(out)
    assert predicted.tolist() == np.argmax(out, -1).tolist() == [1, 0]
    assert confidence == pytest.approx([0.7, 0.5])
    assert top.tolist() == [[1, 2, 0], [0, 1, 2]]   # a tie keeps the lower class first, as argmax does
    assert top_p[0] == pytest.approx([0.7, 0.2, 0.1])


def test_scores_that_are_not_probabilities_go_through_softmax_keeping_the_argmax():
    logits = np.array([[2.0, -1.0, 0.5], [-3.0, 4.0, 1.0]])
    probs = preds.class_probabilities(logits)
    assert probs.sum(axis=1) == pytest.approx([1, 1])
    assert np.argmax(probs, -1).tolist() == np.argmax(logits, -1).tolist()
    expected = np.exp(logits[0]) / np.exp(logits[0]).sum()
    assert probs[0] == pytest.approx(expected)


def test_one_sigmoid_unit_gives_two_classes_one_minus_p_and_p():
    out = np.array([[0.9], [0.2], [0.5]], dtype=np.float32)
    assert preds.class_probabilities(out) == pytest.approx(np.array([[0.1, 0.9], [0.8, 0.2], [0.5, 0.5]]))
    predicted, confidence, top, top_p = preds.top_classes(out)
    assert predicted.tolist() == [1, 0, 0]          # p > 0.5 is class 1; a tie stays class 0
    assert confidence == pytest.approx([0.9, 0.8, 0.5])
    assert top.shape == (3, 2) and top[0].tolist() == [1, 0]


def test_one_unit_of_logits_goes_through_the_sigmoid():
    probs = preds.class_probabilities(np.array([[2.0], [-1.0]]))
    assert probs[:, 1] == pytest.approx(1 / (1 + np.exp([-2.0, 1.0])))


def test_top_keeps_five_of_many_classes():
    rng = np.random.default_rng(0)
    out = rng.dirichlet(np.ones(12), size=20)
    _, _, top, top_p = preds.top_classes(out)
    assert top.shape == (20, 5)
    assert top.tolist() == np.argsort(-out, axis=1, kind="stable")[:, :5].tolist()
    assert np.all(np.diff(top_p, axis=1) <= 0)


def test_sample_indexes_spread_over_the_split_and_never_repeat():
    idx = preds.sample_indexes(360)
    assert len(idx) == 100 and idx[0] == 0 and idx[-1] == 359 and len(set(idx.tolist())) == 100
    assert preds.sample_indexes(7).tolist() == list(range(7))
    assert preds.sample_indexes(0).tolist() == []


# -- stored predictions, filters and sorting ---------------------------------------------------------


@pytest.fixture
def stored(tmp_path):
    """Give predictions of 40 images over 4 classes saved and loaded back, with the arrays they came from."""
    rng = np.random.default_rng(1)
    outputs = rng.dirichlet(np.ones(4), size=40).astype(np.float32)
    outputs[5] = outputs[6]                         # two equal confidences: ties keep index order
    y = rng.integers(0, 4, 40)
    path = tmp_path / preds.FILE
    np.savez(path, **preds.arrays(outputs, y, epoch=3))
    return preds.Predictions.load(path), outputs, y


def expected_order(outputs, y, q):
    """Give the indexes a query selects, computed by brute force from the raw outputs."""
    pred, conf = np.argmax(outputs, -1), outputs.max(axis=1)
    keep = [i for i in range(len(y))
            if (q.filter == "all" or (pred[i] == y[i]) == (q.filter == "right"))
            and (q.true is None or y[i] == q.true) and (q.pred is None or pred[i] == q.pred)]
    if q.sort == "confidence":
        return sorted(keep, key=lambda i: (-conf[i] if q.order == "desc" else conf[i], i))
    return sorted(keep, reverse=q.order == "desc")


def test_every_filter_and_sort_selects_what_brute_force_does(stored):
    found, outputs, y = stored
    assert found.epoch == 3
    for filt, true, pred, (sort, order) in itertools.product(
            preds.FILTERS, (None, 0, 2), (None, 1, 3),
            (("index", "asc"), ("index", "desc"), ("confidence", "desc"), ("confidence", "asc"))):
        q = preds.Query(filter=filt, true=true, pred=pred, sort=sort, order=order)
        assert found.index[found.select(q)].tolist() == expected_order(outputs, y, q), q


def test_rows_carry_the_contract_fields(stored):
    found, outputs, y = stored
    row = found.rows([4], ["zero", "one", "two", "three"])[0]
    assert set(row) == {"index", "true", "predicted", "confidence", "top"}
    assert row["index"] == 4 and row["true"] == int(y[4]) and row["predicted"] == int(np.argmax(outputs[4]))
    assert row["top"][0] == {"class": row["predicted"], "name": ["zero", "one", "two", "three"][row["predicted"]],
                             "p": pytest.approx(float(outputs[4].max()))}
    assert len(row["top"]) == 4   # fewer classes than five: all of them


def test_counts_follow_the_class_filters(stored):
    found, outputs, y = stored
    right = np.argmax(outputs, -1) == y
    assert found.counts(preds.Query()) == {"all": 40, "right": int(right.sum()), "wrong": int((~right).sum())}
    assert found.counts(preds.Query(true=2))["all"] == int((y == 2).sum())


def test_epoch_samples_say_which_predictions_changed(tmp_path):
    arrays = preds.arrays(np.eye(3)[[0, 1, 2]], [0, 1, 1], epoch=2, index=[0, 5, 9])
    arrays["previous"] = np.array([0, 2, -1])
    np.savez(tmp_path / "s.npz", **arrays)
    rows = preds.Predictions.load(tmp_path / "s.npz").rows([0, 1, 2], ["a", "b", "c"])
    assert [r["index"] for r in rows] == [0, 5, 9]
    assert [(r["previous"], r["changed"]) for r in rows] == [(0, False), (2, True), (None, False)]


@pytest.mark.parametrize("args, field", [
    ({"offset": "-1"}, "offset"), ({"limit": "0"}, "limit"), ({"limit": "1001"}, "limit"), ({"limit": "x"}, "limit"),
    ({"filter": "bad"}, "filter"), ({"true": "10"}, "true"), ({"pred": "-2"}, "pred"), ({"sort": "name"}, "sort"),
    ({"order": "up"}, "order"), ({"indexes": "1,x"}, "indexes"), ({"indexes": ",".join(["1"] * 1001)}, "indexes"),
])
def test_a_bad_query_parameter_is_named(args, field):
    with pytest.raises(preds.QueryError, match=f"^{field} "):
        preds.parse_query(args, num_classes=10)


def test_indexes_keep_only_an_imported_scripts_predict_step(tmp_path):
    arrays = preds.arrays(np.eye(3)[[0, 1, 2, 1, 0]], [0, 1, 1, 1, 2], epoch=1)
    np.savez(tmp_path / "p.npz", **arrays)
    found = preds.Predictions.load(tmp_path / "p.npz")
    query = preds.parse_query({"indexes": "3,1,4"}, 3)
    assert [found.index[i] for i in found.select(query)] == [1, 3, 4]
    assert found.counts(query) == {"all": 3, "right": 2, "wrong": 1}


def test_query_defaults_and_confidence_order():
    q = preds.parse_query({}, 10)
    assert (q.offset, q.limit, q.filter, q.true, q.pred, q.sort, q.order) == (0, 100, "all", None, None, "index", "asc")
    assert preds.parse_query({"sort": "confidence"}, 10).order == "desc"
    assert preds.parse_query({"true": "9", "pred": "0"}, 10).true == 9


def test_confusion_and_scores_agree_with_scikit_learn():
    rng = np.random.default_rng(2)
    y, p = rng.integers(0, 5, 300), rng.integers(0, 5, 300)
    p[y == 4] = 4    # class 4 always right
    p[p == 3] = 2    # class 3 never predicted: precision undefined
    matrix = preds.confusion(y, p, 5)
    assert matrix.tolist() == confusion_matrix(y, p, labels=range(5)).tolist()
    scores = preds.class_scores(matrix, list("abcde"))
    precision, recall, f1, support = precision_recall_fscore_support(y, p, labels=range(5), zero_division=np.nan)
    for k, row in enumerate(scores):
        assert row["support"] == support[k]
        assert row["recall"] == pytest.approx(recall[k])
        if np.isnan(precision[k]):
            assert row["precision"] is None and row["f1"] is None
        else:
            assert row["precision"] == pytest.approx(precision[k]) and row["f1"] == pytest.approx(f1[k])
    assert preds.accuracy(matrix) == pytest.approx(np.mean(y == p))


def test_the_file_cache_sees_a_rewritten_file(tmp_path):
    cache, path = preds.FileCache(), tmp_path / preds.FILE
    assert cache.get(path) is None
    np.savez(path, **preds.arrays(np.eye(2)[[0, 1]], [0, 1], epoch=1))
    first = cache.get(path)
    assert cache.get(path) is first
    tmp = tmp_path / ".p.partial.npz"
    np.savez(tmp, **preds.arrays(np.eye(2)[[1, 1]], [0, 1], epoch=2))
    os.replace(tmp, path)
    assert cache.get(path).epoch == 2


# -- a user's image ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits_look():
    data = _digits()
    return user_image.dataset_look(data.x_train, data.pixel_max)


def png(img, fmt="PNG"):
    out = io.BytesIO()
    img.save(out, format=fmt)
    out.seek(0)
    return out


def test_digits_look_light_on_dark_and_fill_their_frame(digits_look):
    assert (digits_look.height, digits_look.width, digits_look.channels, digits_look.pixel_max) == (8, 8, 1, 16.0)
    assert digits_look.digit_like and 0.2 < digits_look.mean < 0.4 and digits_look.fill == 1.0


def test_a_dark_on_light_drawing_becomes_white_on_black_in_the_datasets_levels(digits_look):
    img = Image.new("RGB", (300, 300), "white")
    ImageDraw.Draw(img).rectangle([100, 30, 160, 270], fill="black")     # a thick "1", off centre
    x, pixels = user_image.to_input(user_image.read_image(png(img)), digits_look)
    assert x.shape == (1, 8, 8, 1) and x.dtype == np.float32 and pixels.shape == (8, 8, 1)
    levels = x[0, :, :, 0] * 16
    assert np.allclose(levels, np.round(levels))      # only the digits' own values 0..16
    assert levels.max() == 16 and levels[:, 0].max() == 0 and levels[:, -1].max() == 0   # ink in the middle
    assert levels[:, 3:5].min() > 0                   # cropped to the ink and centred: a full-height bar
    assert np.array_equal(pixels[..., 0], (x[0, :, :, 0] * 255 + 0.5).astype(np.uint8))


def test_a_white_on_black_canvas_is_not_inverted(digits_look):
    img = Image.new("L", (224, 224), 0)
    ImageDraw.Draw(img).ellipse([50, 20, 174, 204], outline=255, width=30)   # a "0"
    x, _ = user_image.to_input(user_image.read_image(png(img)), digits_look)
    levels = x[0, :, :, 0] * 16
    assert levels.mean() < 10 and levels[3:5, 3:5].max() < levels.max()   # the hole stays dark


def test_transparent_strokes_are_set_on_a_background_that_shows_them(digits_look):
    img = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    ImageDraw.Draw(img).rectangle([40, 10, 60, 90], fill=(255, 255, 255, 255))
    x, _ = user_image.to_input(user_image.read_image(png(img)), digits_look)
    assert x.max() == 1.0 and x[0, :, 0, 0].max() == 0


def test_a_colour_dataset_gets_rgb_letterboxed_with_the_edge_colour():
    look = user_image.Look(height=32, width=32, channels=3, pixel_max=255.0, mean=0.45, fill=1.0)
    img = Image.new("RGB", (200, 100), (10, 200, 30))
    ImageDraw.Draw(img).rectangle([90, 40, 110, 60], fill=(255, 0, 0))
    x, pixels = user_image.to_input(user_image.read_image(png(img, "JPEG")), look)
    assert x.shape == (1, 32, 32, 3) and 0 <= x.min() and x.max() <= 1
    assert np.abs(pixels[0, 16].astype(int) - (10, 200, 30)).max() < 12   # the padding: the edge's green
    assert pixels[16, 16, 0] > 150 and pixels[16, 16, 1] < 100             # the red square, aspect kept


def test_grayscale_uploads_for_a_colour_dataset_get_three_channels():
    look = user_image.Look(height=4, width=4, channels=3, pixel_max=255.0, mean=0.5, fill=1.0)
    x, _ = user_image.to_input(user_image.read_image(png(Image.new("L", (8, 8), 128))), look)
    assert x.shape == (1, 4, 4, 3)


def test_a_dataset_of_other_channel_counts_is_refused():
    look = user_image.Look(height=4, width=4, channels=2, pixel_max=1.0, mean=0.5, fill=1.0)
    with pytest.raises(user_image.ImageError, match="2 channels"):
        user_image.to_input(Image.new("L", (8, 8)), look)


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    (b"just some text, not a picture", "not an image"),
    (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "not an image"),   # EPS would run Ghostscript
])
def test_files_that_are_not_images_are_refused(data, words):
    with pytest.raises(user_image.ImageError, match=words):
        user_image.read_image(io.BytesIO(data))


def test_a_truncated_image_is_refused_as_damaged():
    whole = png(Image.effect_noise((64, 64), 50)).getvalue()
    with pytest.raises(user_image.ImageError, match="damaged or truncated"):
        user_image.read_image(io.BytesIO(whole[:len(whole) // 2]))


def test_a_file_over_the_limit_is_refused_before_decoding():
    with pytest.raises(user_image.ImageError, match="larger than 1 MB"):
        user_image.read_image(io.BytesIO(b"\x89PNG" + b"0" * (2**20)), max_bytes=2**20)


@pytest.mark.parametrize("side", [7000, 20000])
def test_a_decompression_bomb_is_refused(side):
    # Blank one-bit pixels compress to a small file but decode to 49 (our limit) or 400 (Pillow's) million.
    bomb = png(Image.new("1", (side, side)))
    assert len(bomb.getvalue()) < 200_000
    with pytest.raises(user_image.ImageError, match=r"^image: .*too many pixels to decode \("):
        user_image.read_image(bomb)


def test_png_bytes_are_enlarged_with_crisp_pixels():
    pixels = np.array([[[0], [255]]], dtype=np.uint8)
    img = Image.open(io.BytesIO(user_image.png_bytes(pixels, 4)))
    assert img.format == "PNG" and img.size == (8, 4)
    assert np.asarray(img)[:, :4].max() == 0 and np.asarray(img)[:, 4:].min() == 255
