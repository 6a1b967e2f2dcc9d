"""The import answer's `"dataset": {"id", "options"}`: the data a pasted script loads, read without running it.

`keras.datasets.X.load_data(...)` names the dataset (imdb and reuters with their options: Keras 1's
`nb_words` is `num_words`, `maxlen` there is the length filter, `filter_maxlen`);
`pad_sequences(x, maxlen=N)` (keras.preprocessing.sequence, keras.utils) gives `maxlen`;
`Tokenizer(num_words=N).sequences_to_matrix(x, mode="binary")` gives `"mode": "binary"`;
`text_dataset_from_directory(DIR)` gives `{"id": null, "options": {}, "folder": DIR}`: the folder is
to be uploaded as a text dataset, and the builder picks an uploaded one of that name. Whatever else a
script does to the arrays it loaded (imdb_fasttext's n-grams) is noted as not carried. Functions of
the Reader (`python_source.py`) that reads the script.
"""

import ast

from .python_values import Call, Ref, Unknown

KERAS_DATASETS = ("mnist", "fashion_mnist", "cifar10", "imdb", "reuters")
SEQUENCES = ("imdb", "reuters")
# load_data's arguments (Keras 3's positional order) -> the option each becomes; None: not an option.
LOAD_ARGUMENTS = {"imdb": ("path", "num_words", "skip_top", "maxlen", "seed", "start_char", "oov_char", "index_from"),
                  "reuters": ("path", "num_words", "skip_top", "maxlen", "test_split", "seed", "start_char",
                              "oov_char", "index_from")}
OPTION = {"num_words": "num_words", "nb_words": "num_words", "skip_top": "skip_top", "maxlen": "filter_maxlen",
          "seed": "seed", "start_char": "start_char", "oov_char": "oov_char", "index_from": "index_from"}
PAD_POSITIONAL = ("sequences", "maxlen", "dtype", "padding", "truncating", "value")
PAD_DEFAULTS = {"padding": "pre", "truncating": "pre", "value": 0.0, "dtype": "int32"}
TEXT_FOLDER = "text_dataset_from_directory"
# What a script may do to the arrays it loaded that the dashboard does too (the dataset's options,
# label encoding, dtype): anything else assigned to them is noted as not carried.
CARRIED = {"pad_sequences", "sequences_to_matrix", "to_categorical", "astype", "array", "asarray"}


class Data:
    """What the script loads: the dataset's id, its options, the lines that set them, the arrays' names."""

    def __init__(self):
        self.id = None
        self.found = False          # a load the answer reports (a Keras dataset, or a text folder)
        self.options = {}
        self.folder = None
        self.names = set()          # x_train, y_train, ...: what load_data gave
        self.load_line = None
        self.tokenizers = {}        # id of a Tokenizer(...) Call -> its num_words


def call(reader, call_):
    """Read a call that loads or shapes data; give True when it was one (its note is made here)."""
    path = call_.func.path if isinstance(call_.func, Ref) else ""
    parts = path.split(".")
    if parts[-1] == "load_data" and len(parts) >= 2 and parts[-2] in KERAS_DATASETS:
        _load(reader, call_, parts[-2])
        return True
    if parts[-1] == "pad_sequences" and (parts[0] == "keras" or len(parts) == 1):
        _pad(reader, call_)
        return True
    if parts[-1] == TEXT_FOLDER and (parts[0] == "keras" or len(parts) == 1):
        _folder(reader, call_)
        return True
    if parts[-1] == "Tokenizer" and (parts[0] == "keras" or len(parts) == 1):
        given = call_.kwargs.get("num_words", call_.kwargs.get("nb_words", call_.args[0] if call_.args else None))
        reader.data.tokenizers[id(call_)] = given
        return True
    return False


def _plain(reader, value, line, what):
    """Give a number or string read from the script, or None with a warning when only running it would give it."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    reader.warn(line, f"{what} = {reader.text(value) if isinstance(value, (Call, Unknown)) else value!r:.60} "
                      "cannot be read without running the script; Keras's default is used")
    return None


def _load(reader, call_, name):
    """Read keras.datasets.NAME.load_data(...): the dataset, and imdb's and reuters' options."""
    data = reader.data
    if data.found:
        reader.warn(call_.line, f"a second dataset is loaded ({name}); the one on line {data.load_line} is imported")
        return
    data.found, data.id, data.load_line = True, name, call_.line
    if name not in SEQUENCES:
        if call_.args or call_.kwargs:
            reader.note(call_.line, reader.text(call_), f"dataset {name}", "the dashboard reads the dataset from "
                        "Keras's cache itself; load_data's arguments (a path) are not needed", field="dataset")
        else:
            reader.note(call_.line, reader.text(call_), f"dataset {name}", "the builder selects the same Keras "
                        "dataset, read from Keras's cache", field="dataset")
        return
    given = {**dict(zip(LOAD_ARGUMENTS[name], call_.args)), **call_.kwargs}
    for key, value in given.items():
        option = OPTION.get(key)
        value = _plain(reader, value, call_.line, f"{name}.load_data: {key}")
        if option is not None and value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            reader.warn(call_.line, f"{name}.load_data: {key} = {value!r:.40} is not a whole number; Keras's "
                                    "default is used")
            continue
        if option is None or value is None:
            if key != "path" and value is not None and not (name == "reuters" and key == "test_split" and value == 0.2):
                reader.warn(call_.line, f"{name}.load_data: {key} = {value!r:.40} is not a dataset option; the "
                                        "dataset's own train and test split are used")
            continue
        data.options[option] = value
        if key == "nb_words":
            reader.note(call_.line, f"nb_words={value!r}", f"num_words={value!r}", "Keras 1's nb_words is Keras 2 "
                        "and 3's num_words: the most frequent words kept", field="dataset.options.num_words")
        if key == "maxlen":
            reader.note(call_.line, f"maxlen={value!r}", f"filter_maxlen={value!r}", "load_data's maxlen drops the "
                        "reviews longer than it; the dataset option filter_maxlen does the same (its maxlen pads "
                        "and cuts, as pad_sequences)", field="dataset.options.filter_maxlen")
    reader.note(call_.line, reader.text(call_), f"dataset {name} {_brief(data.options)}", "the builder selects "
                "Keras's own dataset, read from Keras's cache as load_data reads it, with these options",
                field="dataset")


def _pad(reader, call_):
    """Read pad_sequences(x, maxlen=N): the dataset pads and cuts to maxlen as Keras's default does."""
    given = {**dict(zip(PAD_POSITIONAL, call_.args)), **call_.kwargs}
    data = reader.data
    maxlen = _plain(reader, given.get("maxlen"), call_.line, "pad_sequences: maxlen")
    if not isinstance(maxlen, int) or isinstance(maxlen, bool):
        reader.warn(call_.line, "pad_sequences without a whole-number maxlen pads to the longest sequence; the "
                                "dataset needs a maxlen: choose it in the builder's dataset options")
        return
    if data.options.get("maxlen") == maxlen:
        pass   # x_test padded as x_train was: the note of the first says it
    elif "maxlen" in data.options:
        reader.warn(call_.line, f"pad_sequences: maxlen = {maxlen!r} differs from the one before "
                                f"({data.options['maxlen']!r}); the first is used")
    else:
        data.options["maxlen"] = maxlen
        reader.note(call_.line, reader.text(call_), f"dataset option maxlen={maxlen!r}", "the dataset pads and "
                    "cuts each sequence to maxlen as pad_sequences does by default (zeros in front, cut from "
                    "the front)", field="dataset.options.maxlen")
    for key, default in PAD_DEFAULTS.items():
        value = given.get(key, default)
        if value != default and not isinstance(value, (Call, Unknown, Ref)):
            reader.warn(call_.line, f"pad_sequences: {key} = {value!r:.40} is not carried; the dataset pads "
                                    f"with {key} = {default!r}, Keras's default")


def matrix(reader, tokenizer, call_):
    """Read tokenizer.sequences_to_matrix(x, mode=...): reuters_mlp's bag of words, the option mode."""
    data = reader.data
    mode = _plain(reader, call_.kwargs.get("mode", call_.args[1] if len(call_.args) > 1 else "binary"),
                  call_.line, "sequences_to_matrix: mode")
    if mode != "binary":
        reader.warn(call_.line, f"sequences_to_matrix: mode = {mode!r:.40} is not carried; the dataset's "
                                "bag of words is binary (mode=\"binary\")")
    if data.options.get("mode") == "binary":
        return call_
    data.options["mode"] = "binary"
    words = _plain(reader, data.tokenizers.get(id(tokenizer)), call_.line, "Tokenizer: num_words")
    if words is not None and data.options.setdefault("num_words", words) != words:
        reader.warn(call_.line, f"Tokenizer: num_words = {words!r} differs from load_data's "
                                f"({data.options['num_words']!r}); load_data's is used")
    reader.note(call_.line, reader.text(call_), "dataset option mode=\"binary\"", "each sequence becomes a "
                "vector of num_words 0/1 entries, as Tokenizer.sequences_to_matrix(mode=\"binary\") makes it",
                field="dataset.options.mode")
    return call_


def _folder(reader, call_):
    """Read text_dataset_from_directory(DIR, ...): a text dataset to upload (or pick) by that folder's name."""
    data = reader.data
    folder = call_.args[0] if call_.args else call_.kwargs.get("directory")
    if data.found:
        if data.folder is None or folder != data.folder:
            reader.note(call_.line, reader.text(call_), "the dataset's own test split", "the dashboard splits "
                        "the uploaded folder into training and test itself", field="dataset")
        return
    data.found, data.load_line = True, call_.line
    data.folder = folder if isinstance(folder, str) else None
    where = f"the folder {folder!r:.60}" if data.folder else "the script's folder"
    reader.note(call_.line, reader.text(call_), "a text dataset you upload", f"upload {where} (a .zip or .tar.gz "
                "of its class folders of .txt files) as a text dataset and pick it in the builder; the "
                "dashboard reads it as text_dataset_from_directory does, with its defaults", field="dataset")
    for key in call_.kwargs:
        if key not in ("directory", "labels", "label_mode", "batch_size", "seed", "shuffle", "validation_split",
                       "subset"):
            reader.warn(call_.line, f"text_dataset_from_directory: {key} is not carried; Keras's default is used")


def assignment(reader, targets, value, line):
    """See an assignment (its ast targets): load_data's arrays named, or changed by code the dashboard does not run."""
    names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    assigned(reader, names, value, line)
    loaded(reader, names, value)


def assigned(reader, targets, value, line):
    """Note an assignment to the arrays load_data gave that the dashboard does not do (n-grams, say)."""
    data = reader.data
    if data.id not in SEQUENCES:   # an image script's scaling and reshaping the dashboard does itself
        return
    names = {t for t in targets if t in data.names}
    called = getattr(value.func, "last", getattr(value.func, "name", "")) if isinstance(value, Call) else ""
    if not names or called in CARRIED:
        return
    reader.warn(line, f"{', '.join(sorted(names))} changed here by code the dashboard does not run; not carried: "
                      "it trains on the dataset as loaded, with its options")


def loaded(reader, targets, value):
    """Remember the names load_data's arrays are bound to: (x_train, y_train), (x_test, y_test)."""
    if isinstance(value, Call) and value.name == "load_data":
        reader.data.names.update(targets)


def answer(data):
    """Give the answer's "dataset": {"id", "options"} (and "folder" for a text folder), or None."""
    if not data.found:
        return None
    out = {"id": data.id, "options": dict(data.options)}
    if data.id is None:
        out["folder"] = data.folder
    return out


def _brief(options):
    return "{" + ", ".join(f"{k}: {v!r}" for k, v in options.items()) + "}" if options else ""
