"""Texts and series as the gallery, the inside view and try-your-own show them: word ranks decoded, text tokenised, series checked.

Word ranks follow `keras.datasets.imdb.load_data` (and reuters'): a review is `[start_char] +
[rank + index_from ...]`, ranks at or past `num_words` (or below `skip_top`) become `oov_char`, and
0 is padding. Decoding inverts that with the dataset's word index (`imdb.get_word_index()`);
tokenising a user's sentence does what a Keras user would do with that index (lower-case, split on
non-letters). Pure Python and numpy: no Keras, no Flask.
"""

import re

import numpy as np

# keras.datasets.imdb.load_data's defaults.
START_CHAR, OOV_CHAR, INDEX_FROM = 1, 2, 3
START, OOV = "[start]", "[oov]"
MAX_TEXT_CHARS = 2000       # a gallery card's review: its first characters, whatever the review's length
MAX_SERIES_POINTS = 1000    # a series sent to the page: evenly thinned past this many points
WORDS = re.compile(r"[^\W\d_]+")   # letters only (any script): "don't" is "don" and "t", as a split on non-letters gives


class InputError(ValueError):
    """A text or series a model cannot take; str() names the field and what is accepted."""


def options_of(dataset_options):
    """Give the word-rank options (num_words, skip_top, index_from, start_char, oov_char, maxlen) of a run, Keras's defaults filled in."""
    options = dict(dataset_options or {})
    return {"num_words": options.get("num_words"), "skip_top": int(options.get("skip_top") or 0),
            "index_from": int(options.get("index_from", INDEX_FROM)),
            "start_char": options.get("start_char", START_CHAR), "oov_char": options.get("oov_char", OOV_CHAR),
            "maxlen": options.get("maxlen")}


def reverse_index(word_index):
    """Give {rank: word} of a word index {word: rank}."""
    return {int(rank): word for word, rank in (word_index or {}).items()}


def token(i, reverse, options):
    """Give the word a model input id stands for: the word, "[start]", "[oov]", or "#id" when the index has none."""
    i = int(i)
    if options["start_char"] is not None and i == options["start_char"]:
        return START
    if options["oov_char"] is not None and i == options["oov_char"]:
        return OOV
    word = reverse.get(i - options["index_from"]) if i >= options["index_from"] else None
    return word if word is not None else f"#{i}"


def tokens(ids, reverse, options):
    """Give [(position, word)] of a sequence of ids, padding (0) dropped."""
    return [(t, token(i, reverse, options)) for t, i in enumerate(np.asarray(ids).reshape(-1).tolist()) if i != 0]


def text_of(ids, reverse, options, limit=MAX_TEXT_CHARS):
    """Give the review a sequence of ids decodes to (start marker and padding dropped), cut at `limit` characters."""
    words = [w for _, w in tokens(ids, reverse, options) if w != START]
    return clip(" ".join(words), limit)


def clip(text, limit=MAX_TEXT_CHARS):
    """Give text cut to `limit` characters, an ellipsis marking a cut."""
    text = str(text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def word_ids(text, word_index, options):
    """Give the ids `imdb.load_data` would give the sentence's words (before padding): start, shifted ranks, oov."""
    start, oov, skip, limit = options["start_char"], options["oov_char"], options["skip_top"], options["num_words"]
    ranks = [word_index.get(w) for w in WORDS.findall(str(text).lower())]
    ids = ([start] if start is not None else []) + [
        r + options["index_from"] if r is not None else (oov if oov is not None else None) for r in ranks]
    ids = [i for i in ids if i is not None]   # oov_char None: Keras drops the unknown words
    if oov is not None:
        ids = [i if skip <= i and (limit is None or i < limit) else oov for i in ids]
    elif limit is not None:
        ids = [i for i in ids if skip <= i < limit]
    return ids


def pad(ids, maxlen):
    """Give ids as int32 (1, maxlen) padded and cut at the front with 0, as keras.utils.pad_sequences does by default (no maxlen: as they are)."""
    ids = list(ids)
    if maxlen is not None:
        ids = [0] * (maxlen - len(ids)) + ids[-maxlen:] if maxlen else []
    return np.asarray(ids, dtype=np.int32).reshape(1, -1)


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
