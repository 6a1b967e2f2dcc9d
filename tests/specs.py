"""Specs used across tests: the builder's presets, as a user would send them."""

import copy

MLP = {
    "name": "mlp",
    "dataset": "digits",
    "model": {"layers": [
        {"type": "Flatten"},
        {"type": "Dense", "units": 64, "activation": "relu"},
        {"type": "Dropout", "rate": 0.2},
        {"type": "Dense", "units": 10, "activation": "softmax"},
    ]},
    "compile": {"optimizer": {"type": "Adam", "learning_rate": 0.001},
                "loss": "categorical_crossentropy", "metrics": ["accuracy"]},
    "fit": {"epochs": 2, "batch_size": 64, "validation": "test"},
}

# The classic Keras MNIST convnet (keras.io/examples/vision/mnist_convnet), on 8x8 digits.
CNN = {
    "name": "cnn",
    "dataset": "digits",
    "model": {"layers": [
        {"type": "Conv2D", "filters": 32, "kernel_size": [3, 3], "activation": "relu"},
        {"type": "Conv2D", "filters": 64, "kernel_size": [3, 3], "activation": "relu"},
        {"type": "MaxPooling2D", "pool_size": [2, 2]},
        {"type": "Dropout", "rate": 0.25},
        {"type": "Flatten"},
        {"type": "Dense", "units": 128, "activation": "relu"},
        {"type": "Dropout", "rate": 0.5},
        {"type": "Dense", "units": 10, "activation": "softmax"},
    ]},
    "compile": {"optimizer": {"type": "Adadelta", "learning_rate": 1.0},
                "loss": "categorical_crossentropy", "metrics": ["accuracy"]},
    "fit": {"epochs": 2, "batch_size": 128, "validation": "test"},
}


def spec(base=MLP, **changes):
    """Give a deep copy of a spec with top-level fields replaced."""
    out = copy.deepcopy(base)
    out.update(changes)
    return out


# A residual CNN in the functional API: a shortcut around two convolutions joins them with Add.
RESIDUAL = {
    "name": "residual",
    "dataset": "digits",
    "model": {"layers": [
        {"type": "Conv2D", "filters": 8, "kernel_size": 3, "padding": "same", "activation": "relu", "name": "stem"},
        {"type": "Conv2D", "filters": 8, "kernel_size": 3, "padding": "same", "activation": "relu"},
        {"type": "Conv2D", "filters": 8, "kernel_size": 3, "padding": "same"},
        {"type": "Add", "inputs": ["stem", "conv2d_1"]},
        {"type": "Activation", "activation": "relu"},
        {"type": "GlobalAveragePooling2D"},
        {"type": "Dense", "units": 10, "activation": "softmax"},
    ]},
    "compile": {"optimizer": "adam", "loss": "categorical_crossentropy", "metrics": ["accuracy"]},
    "fit": {"epochs": 1, "batch_size": 64, "validation": "test"},
}

# Two branches (a 3x3 and a 1x1 convolution) of the input joined by Concatenate, Inception-style.
BRANCHES = {
    "name": "branches",
    "dataset": "digits",
    "model": {"layers": [
        {"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same", "activation": "relu",
         "name": "wide", "inputs": ["input"]},
        {"type": "Conv2D", "filters": 4, "kernel_size": 1, "activation": "relu", "name": "narrow",
         "inputs": ["input"]},
        {"type": "Concatenate", "axis": -1, "inputs": ["wide", "narrow"]},
        {"type": "Flatten"},
        {"type": "Dense", "units": 10, "activation": "softmax"},
    ]},
    "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
    "fit": {"epochs": 1, "batch_size": 64, "validation": "test"},
}


# imdb_lstm.py, small: word ranks (tests/keras_cache.write_imdb) -> Embedding -> LSTM -> one sigmoid unit.
IMDB_LSTM = {
    "name": "imdb lstm",
    "dataset": "imdb",
    "dataset_options": {"num_words": 600, "maxlen": 60},
    "model": {"layers": [
        {"type": "Embedding", "input_dim": 600, "output_dim": 16},
        {"type": "LSTM", "units": 16},
        {"type": "Dense", "units": 1, "activation": "sigmoid"},
    ]},
    "compile": {"optimizer": {"type": "Adam", "learning_rate": 0.01}, "loss": "binary_crossentropy",
                "metrics": ["accuracy"]},
    "fit": {"epochs": 2, "batch_size": 16, "validation": "test"},
}

# imdb_fasttext.py, small (without its bigrams): Embedding -> GlobalAveragePooling1D -> one sigmoid unit.
IMDB_FASTTEXT = {**IMDB_LSTM, "name": "imdb fasttext", "model": {"layers": [
    {"type": "Embedding", "input_dim": 600, "output_dim": 16},
    {"type": "GlobalAveragePooling1D"},
    {"type": "Dense", "units": 1, "activation": "sigmoid"},
]}}

# reuters_mlp.py, small: a binary bag of words -> Dense stack -> softmax over the topics.
REUTERS_MLP = {
    "name": "reuters mlp",
    "dataset": "reuters",
    "dataset_options": {"num_words": 500, "mode": "binary"},
    "model": {"layers": [
        {"type": "Dense", "units": 64, "activation": "relu"},
        {"type": "Dropout", "rate": 0.5},
        {"type": "Dense", "units": 46, "activation": "softmax"},
    ]},
    "compile": {"optimizer": {"type": "Adam", "learning_rate": 0.01}, "loss": "categorical_crossentropy",
                "metrics": ["accuracy"]},
    "fit": {"epochs": 3, "batch_size": 16, "validation": "test"},
}
