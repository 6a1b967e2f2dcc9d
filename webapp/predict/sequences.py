"""Texts and series as the gallery, the inside view and try-your-own show and take them: bounded, tokenised, checked.

Word ranks follow `keras.datasets.imdb.load_data` (and reuters'): a review is `[start_char] +
[rank + index_from ...]`, ranks at or past `num_words` (or below `skip_top`) become `oov_char`, and
0 is padding (`Data.text` decodes them). A user's sentence is tokenised as a Keras user would with
`imdb.get_word_index()` (lower-case, split as Keras's `text_to_word_sequence` splits) and then
given those same steps.
Pure Python and numpy: no Keras, no Flask.
"""

import re

import numpy as np

MAX_TEXT_CHARS = 2000       # a gallery card's review: its first characters, whatever the review's length
MAX_SERIES_POINTS = 1000    # a series sent to the page: evenly thinned past this many points
MAX_TOKENS = 2000           # tokens (with their attributions) an inside view sends
# Keras's text_to_word_sequence: lower-case, its default filters (punctuation, tabs, newlines) and spaces
# split words; letters, digits and apostrophes stay ("don't", "10"), as the imdb word index has them.
SPLIT = re.compile(r"[\s!\"#$%&()*+,\-./:;<=>?@\[\\\]^_`{|}~]+")


class InputError(ValueError):
    """A text or series a model cannot take; str() names the field and what is accepted."""


def clip(text, limit=MAX_TEXT_CHARS):
    """Give text cut to `limit` characters, an ellipsis marking a cut."""
    text = str(text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def word_ids(text, word_index, options, vocabulary_size=None):
    """Give the ids `imdb.load_data` would give the sentence's words (before padding): start, shifted ranks, oov.

    options: the run's checked dataset_options (datasets/options.py); without num_words, ids from
    vocabulary_size on (words the training data never had: no Embedding row) are oov too.
    """
    start, oov, skip = options["start_char"], options["oov_char"], options["skip_top"]
    limit = options["num_words"] or vocabulary_size
    ranks = [word_index.get(w) for w in SPLIT.split(str(text).lower()) if w]
    ids = ([start] if start is not None else []) + [
        r + options["index_from"] if r is not None else (oov if oov is not None else None) for r in ranks]
    ids = [i for i in ids if i is not None]   # oov_char None: Keras drops the unknown words
    if oov is not None:
        ids = [i if skip <= i and (limit is None or i < limit) else oov for i in ids]
    elif limit is not None:
        ids = [i for i in ids if skip <= i < limit]
    return ids


def token_rows(words, attribution, limit=MAX_TOKENS):
    """Give [{"token", "attribution"}] of parallel words and numbers (padding already left out), at most `limit`."""
    return [{"token": str(w), "attribution": round(float(a), 7)} for w, a in list(zip(words, attribution))[:limit]]


def series_points(values, limit=MAX_SERIES_POINTS):
    """Give a series as a list of floats, evenly thinned to at most `limit` points (non-finite values as None)."""
    a = np.asarray(values, dtype=np.float64).reshape(-1)
    if len(a) > limit:
        a = a[np.linspace(0, len(a) - 1, limit).round().astype(np.int64)]
    return [float(v) if np.isfinite(v) else None for v in a]


def parse_series(value, length, max_points):
    """Give the series input (1, length, 1) float32 of a request's `series`; InputError names what is accepted."""
    if not isinstance(value, list) or not value:
        raise InputError(f"series: send a list of {length or 'some'} numbers, e.g. [0.1, 0.5, 0.2].")
    if len(value) > max_points:
        raise InputError(f"series: {len(value):,} values is more than this server takes ({max_points:,}, KD_MAX_SERIES_POINTS).")
    if length is not None and len(value) != length:
        raise InputError(f"series: this model takes series of exactly {length} values; got {len(value)}.")
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
            raise InputError(f"series: value {i} is {str(v)[:20]!r}; every value must be a finite number.")
    return np.asarray(value, dtype=np.float32).reshape(1, -1, 1)


def parse_text(value, max_chars):
    """Give a request's `text`, stripped; InputError when it is not a string, is empty, or is too long."""
    if not isinstance(value, str) or not value.strip():
        raise InputError("text: send a sentence as a non-empty string, e.g. {\"text\": \"a wonderful film\"}.")
    if len(value) > max_chars:
        raise InputError(f"text: {len(value):,} characters is more than this server takes ({max_chars:,}, KD_MAX_TEXT_CHARS).")
    return value.strip()
