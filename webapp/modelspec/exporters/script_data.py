"""The data part of an exported train.py: how the script loads its dataset as the dashboard did.

scikit-learn's digits, keras.datasets (imdb and reuters with `load_data`'s arguments, then
`keras.utils.pad_sequences` or the Tokenizer's binary bag of words in NumPy, as the run's
dataset_options say), an uploaded .npz, or, for a dataset built from an archive of
class folders, `keras.utils.image_dataset_from_directory` on the unpacked folder with the size,
colour mode and class names the dashboard used, in the dashboard's order (by class, then path) and
with its test split drawn again (same seed, same per-class draw); the dashboard's .npz stays an option.
"""

from . import script_text
from .source_text import INDENT, literal

# keras.datasets modules a dataset may be loaded from (the registry's source "keras").
KERAS_DATASETS = ("mnist", "fashion_mnist", "cifar10", "imdb", "reuters")
# load_data's arguments (Keras's defaults) as dataset_options name them; filter_maxlen is load_data's maxlen.
LOAD_DATA = {"num_words": None, "skip_top": 0, "filter_maxlen": False, "seed": 113, "start_char": 1, "oov_char": 2,
             "index_from": 3}
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".zip")


def kind(dataset):
    """Give how the script loads the dataset: digits, keras (keras.datasets), folders (an archive), upload (.npz),
    or text / series (script_text.py)."""
    if script_text.kind(dataset):
        return script_text.kind(dataset)
    if dataset["id"] == "digits":
        return "digits"
    if dataset["id"] in KERAS_DATASETS and dataset.get("source", "keras") == "keras":
        return "keras"
    return "folders" if (dataset.get("provenance") or {}).get("format") in ("zip", "tar") else "upload"


def data_imports(dataset):
    """Give the import lines the data part needs beside argparse, keras and numpy."""
    if kind(dataset) in ("text", "series"):
        return script_text.imports(dataset)
    return {"digits": ["from sklearn.datasets import load_digits", "from sklearn.model_selection import train_test_split"],
            "folders": ["import os", "import random"]}.get(kind(dataset), [])


def data_arguments(dataset):
    """Give the argparse lines for where the data is: --data (an .npz) and, for an archive's dataset, --folder."""
    npz = literal(dataset["id"] + ".npz")
    if kind(dataset) in ("text", "series"):
        return script_text.arguments(dataset)
    if kind(dataset) == "upload":
        return [f'parser.add_argument("--data", default={npz}, '
                'help="the .npz file with x_train, y_train, x_test, y_test")']
    if kind(dataset) != "folders":
        return []
    archive = (dataset.get("provenance") or {}).get("archive") or "images"
    folder = next((archive[:-len(s)] for s in ARCHIVE_SUFFIXES if archive.lower().endswith(s)), archive)
    return [f'parser.add_argument("--folder", default={literal(folder or "images")}, '
            'help="the unpacked archive: a folder per class (or train/ and test/ of class folders)")',
            f'parser.add_argument("--data", default=None, help="or the dashboard\'s .npz of the same images ({npz[1:-1]})")']


def data_source(dataset):
    """Give the lines that load the dataset as the dashboard does: x_* (N, H, W, C) in [0, 1], y_* integers."""
    ds_id, how = dataset["id"], kind(dataset)
    if how in ("text", "series"):
        return script_text.source(dataset)
    if how == "digits":
        return [
            "# The data: scikit-learn's 8x8 digits (pixels 0..16), split as the dashboard splits them:",
            "# 80/20, stratified by class, random_state=0.",
            "digits = load_digits()",
            "x_train, x_test, y_train, y_test = train_test_split(",
            f"{INDENT}digits.images[..., None] / 16.0, digits.target, test_size=0.2, random_state=0, stratify=digits.target",
            ")",
        ]
    if how == "keras" and dataset.get("kind") == "sequence":
        return _sequence_source(dataset)
    if how == "keras":
        gray = list(dataset.get("input_shape") or [0])[-1] == 1
        scale = "[..., None] / 255.0  # adds the channel axis" if gray else " / 255.0"
        return [
            f"# The data: keras.datasets.{ds_id} (downloaded on first use), pixels 0..255 scaled to [0, 1].",
            f"(x_train, y_train), (x_test, y_test) = keras.datasets.{ds_id}.load_data()",
            f"x_train = x_train{scale}",
            f"x_test = x_test{scale}",
            "y_train, y_test = y_train.ravel(), y_test.ravel()",
        ]
    if how == "folders":
        return _folder_source(dataset)
    return [*_upload_origin(dataset), *_npz_source(dataset)]


def _sequence_source(dataset):
    """Give the lines that load imdb or reuters with the run's dataset_options: load_data, then padded or a bag of words."""
    ds_id, opts = dataset["id"], dataset.get("options") or {}
    args = [f"{'maxlen' if k == 'filter_maxlen' else k}={literal(opts[k])}" for k, default in LOAD_DATA.items()
            if k in opts and opts[k] != default]
    lines = [f"# The data: keras.datasets.{ds_id} (downloaded on first use): lists of word ranks, as the dashboard",
             "# loaded them (the run's dataset_options).",
             f"(x_train, y_train), (x_test, y_test) = keras.datasets.{ds_id}.load_data({', '.join(args)})"]
    if opts.get("mode") == "binary":
        return lines + [
            "# A bag of words, as Keras 2's Tokenizer(num_words).sequences_to_matrix(x, mode=\"binary\") made it:",
            "# 1 where a word of rank below num_words occurs.",
            f"num_words = {literal(opts['num_words'])}",
            "x_train_ranks, x_test_ranks = x_train, x_test",
            'x_train = np.zeros((len(x_train_ranks), num_words), dtype="float32")',
            'x_test = np.zeros((len(x_test_ranks), num_words), dtype="float32")',
            "for matrix, ranks in ((x_train, x_train_ranks), (x_test, x_test_ranks)):",
            f"{INDENT}for row, sequence in zip(matrix, ranks):",
            f"{INDENT * 2}sequence = np.asarray(sequence, dtype=int)",
            f"{INDENT * 2}row[sequence[(sequence >= 0) & (sequence < num_words)]] = 1.0",
        ]
    maxlen = literal(opts["maxlen"]) if opts.get("maxlen") else "max(len(s) for s in [*x_train, *x_test])"
    return lines + [
        "# Every sequence padded (zeros in front) or cut (its end kept) to maxlen, pad_sequences' defaults.",
        f"maxlen = {maxlen}",
        "x_train = keras.utils.pad_sequences(x_train, maxlen=maxlen)",
        "x_test = keras.utils.pad_sequences(x_test, maxlen=maxlen)",
    ]


def _npz_source(dataset):
    """Give the lines that load the dashboard's .npz of a dataset from args.data."""
    pixel_max = dataset.get("pixel_max")
    scale = literal(float(pixel_max)) if pixel_max else "(255.0 if x_train.max() > 1 else 1.0)"
    return [
        f"# The dashboard keeps it in KD_DATA_DIR/datasets/ as {literal(dataset['id'] + '.npz')}; pass your copy "
        "with --data.",
        "data = np.load(args.data, allow_pickle=False)",
        'x_train, y_train, x_test, y_test = (data[key] for key in ("x_train", "y_train", "x_test", "y_test"))',
        *(["if x_train.ndim == 3:  # grayscale images without a channel axis",
           f"{INDENT}x_train, x_test = x_train[..., None], x_test[..., None]"] if _grey_images(dataset) else []),
        f"pixel_max = {scale}",
        "x_train, x_test = x_train / pixel_max, x_test / pixel_max",
        "if y_train.ndim == 2 and y_train.shape[1] > 1:  # one-hot labels in the file: back to integers",
        f"{INDENT}y_train, y_test = y_train.argmax(-1), y_test.argmax(-1)",
        "y_train, y_test = y_train.ravel(), y_test.ravel()",
    ]


def _folder_source(dataset):
    """Give the lines that read the unpacked class folders with Keras (or, with --data, the dashboard's .npz)."""
    origin = dataset.get("provenance") or {}
    options, facts = origin.get("options") or {}, origin.get("facts") or {}
    height, width, channels = list(dataset["input_shape"])
    mode = "grayscale" if channels == 1 else "rgb"
    fraction, seed = options.get("test_fraction", 0.2), options.get("seed", 0)
    lines = [
        *_upload_origin(dataset),
        "# Unpack it and pass the folder with --folder: keras.utils.image_dataset_from_directory reads it as the",
        f"# dashboard did ({height}x{width}, {mode}, class names sorted), in the dashboard's order (by class, then",
        "# path); images the dashboard skipped as unreadable must be removed first. Or pass the .npz with --data.",
        f"CLASS_NAMES = {literal(list(dataset['class_names']))}",
        *_load_folder(mode, height, width),
        "if args.data:",
        *[INDENT + line for line in _npz_source(dataset)],
    ]
    if facts.get("given_split"):
        return lines + [
            "else:  # the archive's own train/ and test/ folders",
            f'{INDENT}x_train, y_train = load_folder(os.path.join(args.folder, "train"))',
            f'{INDENT}x_test, y_test = load_folder(os.path.join(args.folder, "test"))',
            f"{INDENT}x_train, x_test = x_train / 255.0, x_test / 255.0",
        ]
    return lines + [
        f"else:  # the test split drawn as the dashboard drew it: {fraction:g} of each class, seed {seed}",
        f"{INDENT}x, y = load_folder(args.folder)",
        f"{INDENT}test, rng = np.zeros(len(y), bool), random.Random({literal(seed)})",
        f"{INDENT}for k in range(len(CLASS_NAMES)):",
        f"{INDENT * 2}members = np.flatnonzero(y == k)",
        f"{INDENT * 2}n_test = 0 if len(members) < 2 else min(len(members) - 1, max(1, round(len(members) * "
        f"{literal(fraction)})))",
        f"{INDENT * 2}test[members[rng.sample(range(len(members)), n_test)]] = True",
        f"{INDENT}x_train, y_train, x_test, y_test = x[~test] / 255.0, y[~test], x[test] / 255.0, y[test]",
    ]


def _load_folder(mode, height, width):
    """Give the script's load_folder function: Keras reads the folder, then images are sorted as the dashboard does."""
    return [
        "",
        "",
        "def load_folder(folder):",
        f'{INDENT}"""Give (images 0..255, integer labels) of class folders, sorted by class, then path."""',
        f"{INDENT}images = keras.utils.image_dataset_from_directory(",
        f"{INDENT * 2}folder, class_names=CLASS_NAMES, color_mode={literal(mode)}, image_size={literal((height, width))},",
        f'{INDENT * 2}interpolation="bilinear", shuffle=False, batch_size=256, verbose=False)',
        f"{INDENT}x, y = (np.concatenate(parts) for parts in zip(*((np.asarray(x), np.asarray(y)) for x, y in images)))",
        f'{INDENT}paths = [os.path.relpath(p, folder).replace(os.sep, "/") for p in images.file_paths]',
        f"{INDENT}order = sorted(range(len(paths)), key=lambda i: (y[i], paths[i]))",
        f"{INDENT}return x[order], y[order]",
        "",
        "",
    ]


def _grey_images(dataset):
    """Say whether the dataset's samples are grey images (h, w, 1), which a file may hold without the channel axis."""
    shape = list(dataset.get("input_shape") or [])
    return len(shape) == 3 and shape[-1] == 1


def _upload_origin(dataset):
    """Give the comment lines naming an uploaded dataset and, when built from class folders, its archive."""
    name = literal(dataset.get("name", dataset["id"]))
    origin = dataset.get("provenance") or {}
    if origin.get("format") not in ("zip", "tar"):
        return [f"# The data: the .npz file uploaded to the dashboard as dataset {name}."]
    return [f"# The data: dataset {name}, built by the dashboard from the class folders of {literal(origin.get('archive') or '')}",
            "# (uint8 images as keras.utils.image_dataset_from_directory would decode them, class names sorted);",
            f"# download it from /api/datasets/{dataset['id']}/download or the dataset's page."]
