"""Text, sequence and series runs in the gallery, the inside view and predict-one: samples shown, sentences and series taken, tokens explained.

The routes stay in predictions.py and inside.py; they call here when a run's dataset is not images.
A sample is fed as the trainer feeds it (no scaling); a text is a string tensor shaped to the
model's Input. Attributions are gradient × input (predict/saliency.py), cached with the pass.
"""

import numpy as np
from flask import current_app

from ...datasets import DatasetError, options as dataset_options
from ...datasets import sequences as word_ranks
from ...predict import inside, saliency, sequences
from ...predict.predictions import class_name, top_classes
from .. import services
from . import bp
from .errors import error

IMAGE = "image"
WORDS = ("text", "sequence")


class Unavailable(Exception):
    """Something a text or series request needs is not here (a dataset that cannot be loaded, no word index): 409."""


@bp.errorhandler(Unavailable)
def _unavailable(exc):
    """Answer with 409 and what is missing."""
    return error(409, str(exc))


@bp.errorhandler(sequences.InputError)
def _bad_input(exc):
    """Answer a text or series that cannot be used with 400, naming the field."""
    return error(400, str(exc))


def options(run):
    """Give the run's dataset_options (None when it has none: the dataset's defaults)."""
    return (run.spec or {}).get("dataset_options") or None


def kind_of(run):
    """Give the kind of the run's dataset ("image" when it is unknown or gone)."""
    info = services().datasets.info(run.dataset) or {}
    return info.get("kind") or IMAGE


def load(run):
    """Give the run's Data with its dataset_options applied; Unavailable says why it cannot be loaded."""
    try:
        return services().datasets.load(run.dataset, options(run))
    except DatasetError as exc:
        raise Unavailable(f"The dataset {run.dataset!r} of run {run.id} cannot be loaded here: {exc}") from None


def add_samples(run, items):
    """Give the gallery's items with "text" or "series" in place of the image (image_url null)."""
    data = load(run)
    for item in items:
        item["image_url"] = None
        if data.kind == "series":
            item["series"] = sequences.series_points(data.sample("test", item["index"]))
        else:
            item["text"] = sequences.clip(data.text("test", item["index"]))
    return items


def sample_input(data, index):
    """Give (x: a batch of one test sample as the trainer feeds it, its true class)."""
    x = data.sample("test", index)
    if data.kind == "text":
        return np.array([str(x)], dtype=object), int(data.y_test[index])
    return np.asarray(x)[None], int(data.y_test[index])


def fit_input(model, x):
    """Give a batch x shaped for the model's Input: a text batch (N,) becomes (N, 1) for an Input of shape (1,)."""
    if x.dtype == object and len(model.inputs[0].shape) == 2:
        return x.reshape(-1, 1)
    return x


def shown(data, x):
    """Give the answer's view of an input: {"text"} (decoded or as it is) or {"series"}."""
    if data.kind == "series":
        return {"series": sequences.series_points(x)}
    if data.kind == "text":
        return {"text": sequences.clip(str(x.reshape(-1)[0]))}
    ids = x.reshape(-1)
    if data.meta.get("mode") == "binary":
        ids = np.flatnonzero(ids)
    return {"text": sequences.clip(" ".join(data.token(i) for i in ids if i))}


def explain(loaded, data, x, klass):
    """Give the inside view's fields for a non-image input: tokens with attributions, or attribution over time.

    Run under the model's lock (Inspector.run). A model without the layers an attribution needs
    gets `null` and a note saying why.
    """
    if data.kind == "series":
        attribution = saliency.input_attribution(loaded, x.astype(np.float32), klass)
        return {"series": sequences.series_points(x), "attribution": sequences.series_points(attribution),
                "tokens": None}
    if data.kind == "sequence" and data.meta.get("mode") == "binary":
        attribution = saliency.input_attribution(loaded, x.astype(np.float32), klass)
        present = np.flatnonzero(x.reshape(-1))
        return {"tokens": sequences.token_rows([data.token(i) for i in present], attribution[present]),
                "token_method": "gradient × input on the bag of words (one number per word present)"}
    if saliency.layer_of_type(loaded, "Embedding") is None:
        return {"tokens": None, "note": "This model has no Embedding layer, so its tokens have no attribution to show."}
    ids, attribution = saliency.token_attribution(loaded, x, klass)
    if data.kind == "text":
        vocabulary = saliency.vocabulary(loaded) or []
        word = (lambda i: vocabulary[i] if 0 <= i < len(vocabulary) else str(i))
    else:
        word = data.token
    keep = np.flatnonzero(ids != 0)   # padding: 0 for pad_sequences and TextVectorization alike
    return {"tokens": sequences.token_rows([word(int(ids[t])) for t in keep], attribution[keep]),
            "token_method": "integrated gradients on the Embedding's output (from a zero embedding), summed over the embedding axis"}


def request_input(run, data, body):
    """Give the batch of one a JSON body ({"text"} or {"series"}) asks to predict; InputError names the field."""
    config = current_app.config
    if not isinstance(body, dict):
        raise sequences.InputError(f"{'series' if data.kind == 'series' else 'text'}: send a JSON object, "
                                   + ('{"series": [numbers]}.' if data.kind == "series" else '{"text": "a sentence"}.'))
    if data.kind == "series":
        length = int(data.x_train.shape[1]) if data.x_train.ndim >= 2 else None
        return sequences.parse_series(body.get("series"), length, config["KD_MAX_SERIES_POINTS"])
    text = sequences.parse_text(body.get("text"), config["KD_MAX_TEXT_CHARS"])
    if data.kind == "text":
        return np.array([text], dtype=object)
    word_index = data.meta.get("word_index")
    if not word_index:
        raise Unavailable(f"The dataset {run.dataset!r} has no word index here (its *_word_index.json is not in the "
                          "Keras cache), so a sentence cannot be turned into its word ranks.")
    info = services().datasets.info(run.dataset) or {}
    opts = dataset_options.check(info, options(run))
    ids = sequences.word_ids(text, word_index, opts, data.meta.get("vocabulary_size"))
    if data.meta.get("mode") == "binary":
        return word_ranks.binary([ids], opts["num_words"])
    return word_ranks.pad([ids], data.x_train.shape[1])


def predict(run, path, body, inspector, names):
    """Give predict-one's answer for a text or series: top classes, and each token's (or step's) attribution."""
    data = load(run)
    x = request_input(run, data, body)

    def use(loaded):
        fitted = fit_input(loaded.model, x)
        found = top_classes(loaded.model.predict_on_batch(fitted))
        return found, explain(loaded, data, fitted, int(found[0][0]))

    try:
        inspector.loaded(path)
    except Exception as exc:   # a damaged or half-copied file: say so, never a 500
        raise Unavailable(f"The saved model could not be loaded: {type(exc).__name__}: {exc}") from None
    try:
        (predicted, confidence, top, top_p), explained = inspector.run(path, use)
    except inside.InsideError as exc:
        raise sequences.InputError(str(exc)) from None
    return {"predicted": int(predicted[0]), "name": class_name(names, predicted[0]), "confidence": float(confidence[0]),
            "top": [{"class": int(c), "name": class_name(names, c), "p": float(p)} for c, p in zip(top[0], top_p[0])],
            "input_image": None, **shown(data, x), **explained}
