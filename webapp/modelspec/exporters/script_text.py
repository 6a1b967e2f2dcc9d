"""The data part of an exported train.py for texts and series: Keras's and NumPy's own readers, as the dashboard read them.

A text dataset is read with `keras.utils.text_dataset_from_directory` from the unpacked class
folders in its shuffle=False order (the one the dashboard keeps), its test split drawn again as the
dashboard drew it; the model's TextVectorization is adapted on the training texts before fit.
A series dataset (the UCR layout) is read with `np.loadtxt`, labels mapped in sorted order.
"""

from .source_text import INDENT, literal

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".zip")


def kind(dataset):
    """Give "text" or "series" for an upload of that kind, else None."""
    if dataset.get("source") != "upload":
        return None
    return dataset.get("kind") if dataset.get("kind") in ("text", "series") else None


def imports(dataset):
    """Give the import lines the data part needs."""
    return ["import os", "import random"] if kind(dataset) == "text" else ["import random"]


def arguments(dataset):
    """Give the argparse lines for where the data is."""
    origin = dataset.get("provenance") or {}
    upload = origin.get("archive") or dataset["id"]
    if kind(dataset) == "text":
        folder = next((upload[:-len(s)] for s in ARCHIVE_SUFFIXES if upload.lower().endswith(s)), upload)
        return [f'parser.add_argument("--folder", default={literal(folder)}, '
                'help="the unpacked archive: a folder of .txt files per class (or train/ and test/ of them)")']
    files = (origin.get("facts") or {}).get("files") or [upload]
    if len(files) == 2:
        return [f'parser.add_argument("--train", default={literal(files[0])}, help="the *_TRAIN file, unpacked")',
                f'parser.add_argument("--test", default={literal(files[1])}, help="the *_TEST file, unpacked")']
    return [f'parser.add_argument("--data", default={literal(upload)}, help="the .csv/.tsv: the label, then the values")']


def source(dataset):
    """Give the lines that load the dataset: x_* (texts, or float32 (N, length, 1)), y_* integers."""
    lines = _text_source(dataset) if kind(dataset) == "text" else _series_source(dataset)
    origin = dataset.get("provenance") or {}
    options, facts = origin.get("options") or {}, origin.get("facts") or {}
    if facts.get("given_split"):
        return lines
    fraction, seed = options.get("test_fraction", 0.2), options.get("seed", 0)
    return lines + [
        f"# The test split drawn as the dashboard drew it: {fraction:g} of each class, seed {seed}.",
        f"test, rng = np.zeros(len(y), bool), random.Random({literal(seed)})",
        "for k in range(len(CLASS_NAMES)):",
        f"{INDENT}members = np.flatnonzero(y == k)",
        f"{INDENT}n_test = 0 if len(members) < 2 else min(len(members) - 1, max(1, round(len(members) * "
        f"{literal(fraction)})))",
        f"{INDENT}test[members[rng.sample(range(len(members)), n_test)]] = True",
        "x_train, y_train, x_test, y_test = x[~test], y[~test], x[test], y[test]",
    ]


def _text_source(dataset):
    """Give the text folder's lines: load_texts with text_dataset_from_directory, then the split."""
    origin = dataset.get("provenance") or {}
    given = (origin.get("facts") or {}).get("given_split")
    return [
        f"# The data: dataset {literal(dataset.get('name', dataset['id']))}, built by the dashboard from the class "
        f"folders of .txt files of {literal(origin.get('archive') or '')}.",
        "# Unpack it and pass the folder with --folder: keras.utils.text_dataset_from_directory reads it as the",
        "# dashboard did (one UTF-8 text per .txt file, class names sorted), in the order the dashboard keeps",
        "# (shuffle=False: by class, then folder, then file name).",
        f"CLASS_NAMES = {literal(list(dataset['class_names']))}",
        "",
        "",
        "def load_texts(folder):",
        f'{INDENT}"""Give (texts as an object array of str, integer labels) of class folders of .txt files."""',
        f"{INDENT}texts = keras.utils.text_dataset_from_directory(",
        f"{INDENT * 2}folder, class_names=CLASS_NAMES, shuffle=False, batch_size=256, verbose=False)",
        f"{INDENT}x, y = (np.concatenate(parts) for parts in zip(*((np.asarray(x), np.asarray(y)) for x, y in texts)))",
        f'{INDENT}return np.array([text.decode("utf-8") for text in x], dtype=object), y',
        "",
        "",
        *(['x_train, y_train = load_texts(os.path.join(args.folder, "train"))',
           'x_test, y_test = load_texts(os.path.join(args.folder, "test"))'] if given else
          ["x, y = load_texts(args.folder)"]),
    ]


def _series_source(dataset):
    """Give the UCR file's lines: np.loadtxt, the labels mapped to 0..K-1 in sorted order."""
    origin = dataset.get("provenance") or {}
    facts = origin.get("facts") or {}
    names = list(dataset["class_names"])
    numeric = all(_is_number(n) for n in names)
    delimiter = facts.get("delimiter")
    read = [
        f"# The data: dataset {literal(dataset.get('name', dataset['id']))}, built by the dashboard from "
        f"{literal(origin.get('archive') or '')}: the UCR archive's layout,",
        "# one series a line, the label first, then the values (read as timeseries_classification_from_scratch.py",
        "# reads it); labels mapped to 0..K-1 in sorted order, the class names.",
        f"CLASS_NAMES = {literal(names)}",
        "",
        "",
        "def read_ucr(filename):",
        f'{INDENT}"""Give (series float32 (N, length, 1), integer labels) of a UCR file."""',
        f"{INDENT}data = np.loadtxt(filename, delimiter={literal(delimiter)}, dtype={'float' if numeric else 'str'}, ndmin=2)",
        f'{INDENT}x = data[:, 1:].astype("float32")[..., None]',
        (f"{INDENT}return x, np.searchsorted(np.array(CLASS_NAMES, float), data[:, 0])" if numeric else
         f"{INDENT}return x, np.array([CLASS_NAMES.index(label.strip()) for label in data[:, 0]])"),
        "",
        "",
    ]
    if facts.get("given_split"):
        return read + ["x_train, y_train = read_ucr(args.train)", "x_test, y_test = read_ucr(args.test)"]
    return read + ["x, y = read_ucr(args.data)"]


def _is_number(text):
    """Say whether a class name is a number (a UCR label)."""
    try:
        float(text)
        return True
    except ValueError:
        return False


def adapt_lines(fit):
    """Give the lines that adapt the model's TextVectorization on the texts fit trains on, as the dashboard did."""
    validation = fit.get("validation", "test")
    texts = "x_train" if isinstance(validation, str) else f"x_train[:int(len(x_train) * {literal(1 - float(validation))})]"
    return "\n".join([
        "# TextVectorization learns its vocabulary from the training texts before fit (model.keras keeps it).",
        "for layer in model.layers:",
        f"{INDENT}if isinstance(layer, keras.layers.TextVectorization):",
        f"{INDENT * 2}layer.adapt({texts}, batch_size=256)  # the vocabulary does not depend on the batch size",
    ])
