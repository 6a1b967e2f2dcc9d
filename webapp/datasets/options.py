"""A run's `dataset_options`: which ones a dataset takes, checked and filled in, the input shape they give, and applied.

A dataset's description names its options' table in "options_schema" (None: it takes none). The
table for keras.datasets.imdb and reuters ("keras_sequence") has load_data's arguments under
their Keras names, `maxlen` (keras.utils.pad_sequences) and `mode` ("binary": the Tokenizer's
bag of words of reuters_mlp.py); `filter_maxlen` is load_data's own `maxlen` filter. Other kinds
add their table to SCHEMAS (and, if their options change the input, to SHAPES and APPLY).
Errors are the spec's: FieldError(None, "dataset_options.NAME", message).
"""

import json

from ..modelspec.entries import Entry, Param
from ..modelspec.fields import FieldError, SpecError, check_params, is_int, show
from . import sequences
from .data import Data

MAX_NUM_WORDS = 1_000_000    # ranks; the decoded size (KD_MAX_DATASET_MB) is what bounds a dataset in the end
MAX_MAXLEN = 100_000
MAX_RANK = 2**31 - 1

_INT = dict(nullable=True, min=0, max=MAX_RANK)
KERAS_SEQUENCE = Entry("keras_sequence", (
    Param("num_words", "int", None, nullable=True, min=1, max=MAX_NUM_WORDS,
          help="Keep the num_words most frequent words (ranks below it); the others become oov_char."),
    Param("maxlen", "int", None, nullable=True, min=1, max=MAX_MAXLEN,
          help="Pad and cut every sequence to this length, as keras.utils.pad_sequences does (zeros in front)."),
    Param("skip_top", "int", 0, min=0, max=MAX_NUM_WORDS, help="Make the skip_top most frequent words oov_char."),
    Param("start_char", "int", 1, **{**_INT, "help": "The rank put at the start of every sequence."}),
    Param("oov_char", "int", 2, **{**_INT, "help": "The rank of a word cut by num_words or skip_top."}),
    Param("index_from", "int", 3, min=0, max=MAX_NUM_WORDS, help="Shift every word's rank by this much."),
    Param("seed", "int", 113, min=0, max=2**32 - 1, help="The seed of load_data's shuffle."),
    Param("mode", "choice", "sequences", choices=("sequences", "binary"),
          help="sequences: word ranks; binary: a num_words bag of words (Tokenizer.sequences_to_matrix)."),
), "keras.datasets load_data's arguments, then pad_sequences or a bag of words.")
FILTER = Param("filter_maxlen", "int", False, min=1, max=MAX_MAXLEN,
               help="load_data's maxlen: drop the sequences of this many ranks or more (true: maxlen's value).")

SCHEMAS = {"keras_sequence": KERAS_SEQUENCE}


def schema(info):
    """Give the options table (an Entry) of a dataset's description, or None when it takes no options."""
    return SCHEMAS.get((info or {}).get("options_schema"))


def params_json(name):
    """Give the options of table `name` as GET /api/layers gives parameters (name, kind, default, bounds, help)."""
    entry = SCHEMAS[name]
    out = [p.to_dict() for p in entry.params]
    if entry is KERAS_SEQUENCE:
        out.append({**FILTER.to_dict(), "kind": "int_or_bool"})
    return out


def check(info, options, max_bytes=None):
    """Give the options normalized (every default filled in), or raise SpecError naming dataset_options.NAME.

    max_bytes: refuse options whose decoded arrays (estimated before they are made) would pass it
    (KD_MAX_DATASET_MB).
    """
    options = {} if options is None else options
    entry = schema(info)
    if entry is None:
        if options:
            name = next(iter(options))
            raise SpecError([FieldError(None, f"dataset_options.{name}", f"The dataset {info.get('id')!r} takes no "
                                        f"dataset_options; got {show(name)}. Send {{}} or leave it out.")])
        return {}
    errors = []
    given = {k: v for k, v in options.items() if k != FILTER.name or entry is not KERAS_SEQUENCE}
    out = check_params(entry, given, errors, None, "dataset_options.", f"dataset_options of {info.get('id')}")
    if entry is KERAS_SEQUENCE:
        out[FILTER.name] = _filter(options.get(FILTER.name, False), out.get("maxlen"), errors)
        if not errors:
            _check_sequence(info, out, errors, max_bytes)
    if errors:
        raise SpecError(errors)
    return out


def _filter(value, maxlen, errors):
    """Give filter_maxlen as False or an int: true means maxlen's value."""
    field = f"dataset_options.{FILTER.name}"
    if value is None or value is False:
        return False
    if value is True:
        if maxlen is None:
            errors.append(FieldError(None, field, "filter_maxlen true filters at maxlen: give maxlen too, or a number."))
        return maxlen or False
    if is_int(value) and 1 <= value <= MAX_MAXLEN:
        return int(value)
    errors.append(FieldError(None, field, f"filter_maxlen must be true, false or a whole number from 1 to "
                             f"{MAX_MAXLEN:,}; got {show(value)}."))
    return False


def _check_sequence(info, opts, errors, max_bytes):
    """Append the errors of options that cannot go together or would decode too large."""
    if opts["mode"] == "binary" and opts["num_words"] is None:
        errors.append(FieldError(None, "dataset_options.num_words", "mode binary makes a num_words-wide bag of "
                                 "words: give num_words (reuters_mlp.py uses 1000)."))
        return
    count = (info.get("train_size") or 0) + (info.get("test_size") or 0)
    width, field = ((opts["num_words"], "num_words") if opts["mode"] == "binary"
                    else (opts["maxlen"] or info.get("max_length") or 0, "maxlen"))
    need = count * width * 4
    if max_bytes is not None and need > max_bytes:
        errors.append(FieldError(None, f"dataset_options.{field}", (
            f"{count:,} samples × {field} {width:,} × 4 bytes = {need / 2**20:,.0f} MB, over this server's "
            f"{max_bytes / 2**20:,.0f} MB (KD_MAX_DATASET_MB); lower {field}.")))


def input_shape(info, options=None):
    """Give the model's input shape for these options (imdb maxlen 80 -> [80]; mode binary -> [num_words])."""
    entry = schema(info)
    if entry is None:
        return list(info["input_shape"])
    opts = check(info, options)
    return SHAPES[entry.type](info, opts)


def _sequence_shape(info, opts):
    if opts["mode"] == "binary":
        return [opts["num_words"]]
    return [opts["maxlen"]]   # None: as long as the longest sequence, which the model takes as any length


def vocabulary_size(info, opts, data=None):
    """Give the Embedding's input_dim these options need: num_words, else the largest rank + 1 (or the description's)."""
    if opts.get("num_words"):
        return opts["num_words"]
    if data is not None and data.meta.get("max_rank") is not None:
        return data.meta["max_rank"] + 1
    return info.get("vocabulary_size")


def canonical(opts):
    """Give the options as one text: equal options, equal text (the registry's cache key)."""
    return json.dumps(opts, sort_keys=True, separators=(",", ":"))


def apply(raw, info, opts):
    """Give the Data of a raw dataset with its (checked) options applied."""
    entry = schema(info)
    return raw if entry is None else APPLY[entry.type](raw, info, opts)


def _apply_sequence(raw, info, opts):
    """Give imdb/reuters as load_data with these options, then padded (int32) or a binary bag of words (float32)."""
    layout = raw.meta.get("layout", sequences.IMDB)
    x_train, y_train, x_test, y_test = sequences.load_data(raw.x_train, raw.y_train, raw.x_test, raw.y_test,
                                                           layout, opts)
    longest = max(len(s) for s in x_train + x_test) if x_train or x_test else 0
    top = max(sequences.max_rank(x_train), sequences.max_rank(x_test))
    if opts["mode"] == "binary":
        x_train, x_test = sequences.binary(x_train, opts["num_words"]), sequences.binary(x_test, opts["num_words"])
    else:
        width = opts["maxlen"] or longest
        x_train, x_test = sequences.pad(x_train, width), sequences.pad(x_test, width)
    meta = {**raw.meta, **{k: opts[k] for k in ("start_char", "oov_char", "index_from", "maxlen", "mode")},
            "max_rank": top, "max_length": longest}
    data = Data(x_train, y_train, x_test, y_test, list(raw.class_names), 1.0, kind="sequence", meta=meta)
    data.meta["vocabulary_size"] = vocabulary_size(info, opts, data)
    return data


SHAPES = {"keras_sequence": _sequence_shape}
APPLY = {"keras_sequence": _apply_sequence}
