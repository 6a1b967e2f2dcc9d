"""What older Keras called things, and what it did by default: one table both importers read.

Keras 1 argument and class names, old module paths, old log keys, and the optimizer defaults of each
Keras generation, each with the sentence a note gives as its "why". Pure data and small lookups:
no Keras import. `keras_names.py` holds Keras 3's own names; this module only what changed.
"""

# Which Keras a script was written for. "standalone" Keras (1.x, 2.0-2.3, `import keras` before
# TensorFlow 2) had other optimizer defaults than tf.keras (TF 2.x) and Keras 3.
GENERATIONS = {
    "keras1": "Keras 1.x",
    "keras2": "standalone Keras 2.0–2.3",
    "tf_keras": "tf.keras (TensorFlow 2)",
    "keras3": "Keras 3",
}
OLD_DEFAULTS = ("keras1", "keras2")

# Learning rates that differ between generations; the catalog holds Keras 3's.
OLD_LEARNING_RATES = {"Adadelta": 1.0, "Adagrad": 0.01, "Adamax": 0.002, "Nadam": 0.002}

# Old module paths -> Keras 3's. Longest prefixes first, so keras.layers.core wins over keras.
MODULES = {
    "keras.layers.core": "keras.layers",
    "keras.layers.convolutional_recurrent": "keras.layers",
    "keras.layers.convolutional": "keras.layers",
    "keras.layers.recurrent": "keras.layers",
    "keras.layers.normalization": "keras.layers",
    "keras.layers.advanced_activations": "keras.layers",
    "keras.layers.pooling": "keras.layers",
    "keras.layers.embeddings": "keras.layers",
    "keras.layers.noise": "keras.layers",
    "keras.layers.wrappers": "keras.layers",
    "keras.layers.local": "keras.layers",
    "keras.layers.experimental.preprocessing": "keras.layers",
    "keras.optimizers.legacy": "keras.optimizers",
    "keras.preprocessing.image": "keras.preprocessing.image",
    "tensorflow.python.keras": "keras",
    "tensorflow.keras": "keras",
    "tf.keras": "keras",
    "keras_core": "keras",
}
# The Keras generation an old module path dates a script to (others: standalone Keras 2), and why it moved.
MODULE_ERAS = {
    "tensorflow.python.keras": ("tf_keras", "tf.keras was TensorFlow 2's copy of Keras; Keras 3 is imported as keras"),
    "tensorflow.keras": ("tf_keras", "tf.keras was TensorFlow 2's copy of Keras; Keras 3 is imported as keras"),
    "tf.keras": ("tf_keras", "tf.keras was TensorFlow 2's copy of Keras; Keras 3 is imported as keras"),
    "keras_core": ("keras3", "keras_core was the preview of Keras 3; it is imported as keras now"),
}


def module_era(old):
    """Give (generation, why) for an old module path the script imports."""
    return MODULE_ERAS.get(old, ("keras2", f"Keras 3 has no module {old}; its names are in {MODULES.get(old, 'keras')}"))

# Keras 1 (and 2) class names -> Keras 3's.
CLASSES = {
    "Convolution1D": "Conv1D", "Convolution2D": "Conv2D", "Convolution3D": "Conv3D",
    "AtrousConvolution1D": "Conv1D", "AtrousConvolution2D": "Conv2D", "Deconvolution2D": "Conv2DTranspose",
    "SeparableConvolution2D": "SeparableConv2D", "CuDNNLSTM": "LSTM", "CuDNNGRU": "GRU",
    "MaxPool1D": "MaxPooling1D", "MaxPool2D": "MaxPooling2D", "MaxPool3D": "MaxPooling3D",
    "AvgPool1D": "AveragePooling1D", "AvgPool2D": "AveragePooling2D", "AvgPool3D": "AveragePooling3D",
    "GlobalAvgPool1D": "GlobalAveragePooling1D", "GlobalAvgPool2D": "GlobalAveragePooling2D",
    "GlobalMaxPool1D": "GlobalMaxPooling1D", "GlobalMaxPool2D": "GlobalMaxPooling2D",
}

KERAS1_CLASSES = {"Convolution1D", "Convolution2D", "Convolution3D", "AtrousConvolution1D", "AtrousConvolution2D",
                  "Deconvolution2D", "SeparableConvolution2D"}
KERAS2_CLASSES = {"CuDNNLSTM", "CuDNNGRU"}


def class_why(old, new):
    """Give the note's reason for a renamed layer class."""
    if old in KERAS1_CLASSES:
        return f"{old} is Keras 1's name of {new}"
    if old in KERAS2_CLASSES:
        return f"{old} was Keras 2's GPU-only {new}; Keras 3's {new} uses cuDNN by itself when it can"
    return f"{old} is Keras's alias of {new}"


# Keras 1's positional arguments where they differ from Keras 3's (Convolution2D(32, 3, 3)).
POSITIONAL = {
    "Convolution1D": ("nb_filter", "filter_length"),
    "AtrousConvolution1D": ("nb_filter", "filter_length"),
    "Convolution2D": ("nb_filter", "nb_row", "nb_col"),
    "AtrousConvolution2D": ("nb_filter", "nb_row", "nb_col"),
    "SeparableConvolution2D": ("nb_filter", "nb_row", "nb_col"),
    "Deconvolution2D": ("nb_filter", "nb_row", "nb_col", "output_shape"),
    "Convolution3D": ("nb_filter", "kernel_dim1", "kernel_dim2", "kernel_dim3"),
    "Dense": ("output_dim",), "LSTM": ("output_dim",), "GRU": ("output_dim",), "SimpleRNN": ("output_dim",),
    "Dropout": ("p",), "GaussianDropout": ("p",), "GaussianNoise": ("sigma",),
    "SpatialDropout1D": ("p",), "SpatialDropout2D": ("p",),
}

# Keras 1 argument names -> Keras 3's, for every layer (see ARGUMENTS_BY_LAYER for the exceptions).
ARGUMENTS = {
    "output_dim": "units", "nb_filter": "filters", "filter_length": "kernel_size",
    "border_mode": "padding", "subsample": "strides", "subsample_length": "strides",
    "pool_length": "pool_size", "stride": "strides", "atrous_rate": "dilation_rate",
    "init": "kernel_initializer", "inner_init": "recurrent_initializer",
    "W_regularizer": "kernel_regularizer", "b_regularizer": "bias_regularizer",
    "U_regularizer": "recurrent_regularizer", "W_constraint": "kernel_constraint",
    "b_constraint": "bias_constraint", "U_constraint": "recurrent_constraint",
    "dropout_W": "dropout", "dropout_U": "recurrent_dropout", "bias": "use_bias",
    "inner_activation": "recurrent_activation", "p": "rate", "sigma": "stddev",
    "dim_ordering": "data_format", "forget_bias_init": "unit_forget_bias",
}
ARGUMENTS_BY_LAYER = {
    "Embedding": {"output_dim": "output_dim"},          # kept its name
    "LeakyReLU": {"alpha": "negative_slope"},
    "ELU": {"alpha": "alpha"},
}
# Keras 1 arguments with no Keras 3 meaning: dropped, with the reason.
DROPPED = {
    "consume_less": "Keras 1's speed/memory switch for recurrent layers; Keras 3 chooses by itself",
    "mode": "Keras 1's BatchNormalization mode; Keras 3 has one mode (0)",
    "input_length": "the dataset gives the input shape",
}
DIM_ORDERING = {"tf": "channels_last", "th": "channels_first", "default": "channels_last"}

# Keras 1's kernel size in two or three arguments -> Keras 3's kernel_size list.
KERNEL_PARTS = (("nb_row", "nb_col"), ("kernel_dim1", "kernel_dim2", "kernel_dim3"))

LOG_KEYS = {"acc": "accuracy", "val_acc": "val_accuracy"}
FIT_ARGUMENTS = {"nb_epoch": "epochs"}
# fit_generator's positional order: Keras 1 counted samples, Keras 2 steps.
FIT_GENERATOR_POSITIONAL = {
    "keras1": ("generator", "samples_per_epoch", "nb_epoch", "verbose", "callbacks", "validation_data",
               "nb_val_samples"),
    "other": ("generator", "steps_per_epoch", "epochs", "verbose", "callbacks", "validation_data",
              "validation_steps"),
}
FIT_DROPPED = {
    "show_accuracy": "Keras 0.x's switch; the dashboard always shows the compiled metrics",
    "samples_per_epoch": "a generator's epoch length; the dashboard trains on the whole training split",
    "nb_val_samples": "a generator's validation length; the dashboard validates on the whole test split",
    "steps_per_epoch": "a generator's epoch length; the dashboard trains on the whole training split",
    "validation_steps": "a generator's validation length; the dashboard validates on the whole test split",
    "workers": "a generator setting; the dashboard's data is in memory",
    "use_multiprocessing": "a generator setting; the dashboard's data is in memory",
    "max_queue_size": "a generator setting; the dashboard's data is in memory",
    "max_q_size": "a generator setting; the dashboard's data is in memory",
    "nb_worker": "a generator setting; the dashboard's data is in memory",
    "pickle_safe": "a generator setting; the dashboard's data is in memory",
}

# ImageDataGenerator arguments -> Keras 3 augmentation layers (type, parameter, how to convert).
AUGMENTATION = {
    "rotation_range": ("RandomRotation", "factor", "degrees / 360"),
    "width_shift_range": ("RandomTranslation", "width_factor", "fraction"),
    "height_shift_range": ("RandomTranslation", "height_factor", "fraction"),
    "zoom_range": ("RandomZoom", "height_factor", "fraction"),
    "horizontal_flip": ("RandomFlip", "mode", "horizontal"),
    "vertical_flip": ("RandomFlip", "mode", "vertical"),
}
AUGMENTATION_DROPPED = {
    "rescale": "the dashboard scales pixels to [0, 1] itself",
    "featurewise_center": "no augmentation layer does it; normalize with BatchNormalization instead",
    "featurewise_std_normalization": "no augmentation layer does it; normalize with BatchNormalization instead",
    "samplewise_center": "no augmentation layer does it",
    "samplewise_std_normalization": "no augmentation layer does it",
    "zca_whitening": "no augmentation layer does it",
    "zca_epsilon": "no augmentation layer does it",
    "shear_range": "no Keras 3 augmentation layer shears",
    "channel_shift_range": "no Keras 3 augmentation layer shifts channels",
    "brightness_range": "RandomBrightness needs the pixel range; left out",
    "fill_mode": "the augmentation layers use their own default (reflect)",
    "cval": "the augmentation layers use their own default",
    "validation_split": "the dashboard splits the data itself",
    "data_format": "the dashboard's images are channels_last",
    "dtype": "the dashboard's images are float32",
    "preprocessing_function": "it would run Python code, which is never run here",
}


def module_path(path):
    """Give (Keras 3 path, the old prefix) for a dotted path, or (path, None) when it is current."""
    for old in sorted(MODULES, key=len, reverse=True):
        if path == old or path.startswith(old + "."):
            new = MODULES[old] + path[len(old):]
            return (new, old) if new != path else (path, None)
    return path, None


def argument(layer_type, key):
    """Give (Keras 3 argument name, why) for a layer argument, or (key, None) when it is current."""
    renamed = ARGUMENTS_BY_LAYER.get(layer_type, {})
    if key in renamed:
        new, era = renamed[key], "Keras 2"
    elif key in ARGUMENTS:
        new, era = ARGUMENTS[key], "Keras 1"
    else:
        return key, None
    if new == key:
        return key, None
    return new, f"{era}'s {key} is Keras 3's {new}"


def translate_layer(kind, arguments, show=repr):
    """Give (Keras 3 class, arguments by Keras 3 name, changes) for an old layer's class and arguments.

    Each change is (was, now, why, field) for a note; show(value) writes a value in the note.
    """
    new_kind = CLASSES.get(kind, kind)
    changes = [(kind, new_kind, class_why(kind, new_kind), "type")] if new_kind != kind else []
    out = {}
    for key, value in arguments.items():
        if key in DROPPED and not (key == "mode" and new_kind == "RandomFlip"):
            changes.append((f"{key}={show(value)}", "left out", DROPPED[key], None))
            continue
        new, why = argument(new_kind, key)
        if why:
            value = DIM_ORDERING.get(value, value) if key == "dim_ordering" and isinstance(value, str) else value
            changes.append((f"{key}={show(value)}", f"{new}={show(value)}", why, new))
        out[new] = value
    for parts in KERNEL_PARTS:
        if any(p in out for p in parts):
            sizes = [out.pop(p, 1) for p in parts]
            out["kernel_size"] = sizes
            changes.append((", ".join(f"{p}={show(v)}" for p, v in zip(parts, sizes)),
                            f"kernel_size=({', '.join(show(v) for v in sizes)})",
                            f"Keras 1's {' and '.join(parts)} are Keras 3's kernel_size", "kernel_size"))
    return new_kind, out, changes


def learning_rate_default(optimizer, generation):
    """Give the learning rate an optimizer had by default in that Keras generation, or None if it is Keras 3's."""
    if generation in OLD_DEFAULTS:
        return OLD_LEARNING_RATES.get(optimizer)
    return None


def inverse_time_decay(decay):
    """Give the schedule that is Keras 2's `decay`: lr / (1 + decay * iterations)."""
    return {"type": "InverseTimeDecay", "decay_steps": 1, "decay_rate": decay}
