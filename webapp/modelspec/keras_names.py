"""What Keras itself calls things: constructor argument order, Keras's own defaults, name aliases.

Shared by the importers (Keras JSON, pasted Python) and the exporter. Pure data and small pure
functions: no Keras import. Checked against Keras 3's signatures (`inspect.signature`).
"""

import math
import re
import struct

from . import catalog

# Keras's positional order for each layer's first arguments (`Conv2D(32, (3, 3), ...)`).
POSITIONAL = {
    "Dense": ("units", "activation", "use_bias"),
    "Activation": ("activation",),
    "Embedding": ("input_dim", "output_dim"),
    "Conv1D": ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
               "groups", "activation", "use_bias"),
    "Conv2D": ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
               "groups", "activation", "use_bias"),
    "MaxPooling1D": ("pool_size", "strides", "padding"),
    "AveragePooling1D": ("pool_size", "strides", "padding"),
    "MaxPooling2D": ("pool_size", "strides", "padding"),
    "AveragePooling2D": ("pool_size", "strides", "padding"),
    "Reshape": ("target_shape",),
    "ZeroPadding2D": ("padding",),
    "UpSampling2D": ("size", "data_format", "interpolation"),
    "Dropout": ("rate",),
    "SpatialDropout2D": ("rate",),
    "BatchNormalization": ("axis", "momentum", "epsilon", "center", "scale"),
    "LayerNormalization": ("axis", "epsilon", "center", "scale"),
    "LSTM": ("units", "activation", "recurrent_activation", "use_bias"),
    "GRU": ("units", "activation", "recurrent_activation", "use_bias"),
    "SimpleRNN": ("units", "activation", "use_bias"),
    "Bidirectional": ("layer", "merge_mode"),
    "TimeDistributed": ("layer",),
    "Masking": ("mask_value",),
    "Conv3D": ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
               "groups", "activation", "use_bias"),
    "Conv2DTranspose": ("filters", "kernel_size", "strides", "padding", "output_padding", "data_format",
                        "dilation_rate", "activation", "use_bias"),
    "SeparableConv2D": ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
                        "depth_multiplier", "activation", "use_bias"),
    "DepthwiseConv2D": ("kernel_size", "strides", "padding", "depth_multiplier", "data_format",
                        "dilation_rate", "activation", "use_bias"),
    "ConvLSTM2D": ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
                   "activation", "recurrent_activation", "use_bias"),
    "MaxPooling3D": ("pool_size", "strides", "padding"),
    "AveragePooling3D": ("pool_size", "strides", "padding"),
    "Permute": ("dims",),
    "RepeatVector": ("n",),
    "ZeroPadding1D": ("padding",),
    "Cropping1D": ("cropping",),
    "Cropping2D": ("cropping",),
    "UpSampling1D": ("size",),
    "ReLU": ("max_value", "negative_slope", "threshold"),
    "LeakyReLU": ("negative_slope",),
    "ELU": ("alpha",),
    "Softmax": ("axis",),
    "SpatialDropout1D": ("rate",),
    "GaussianDropout": ("rate",),
    "AlphaDropout": ("rate",),
    "GaussianNoise": ("stddev",),
    "ActivityRegularization": ("l1", "l2"),
    "GroupNormalization": ("groups", "axis", "epsilon", "center", "scale"),
    "UnitNormalization": ("axis",),
    "Rescaling": ("scale", "offset"),
    "Resizing": ("height", "width", "interpolation", "crop_to_aspect_ratio"),
    "RandomFlip": ("mode",),
    "RandomRotation": ("factor", "fill_mode", "interpolation"),
    "RandomZoom": ("height_factor", "width_factor", "fill_mode", "interpolation"),
    "RandomTranslation": ("height_factor", "width_factor", "fill_mode", "interpolation"),
    "RandomContrast": ("factor",),
    "RandomCrop": ("height", "width"),
}
# How many of those an exported script writes positionally, as the Keras guides do.
EXPORT_POSITIONAL = {"Dense": 1, "Activation": 1, "Embedding": 2, "Conv1D": 2, "Conv2D": 2,
                     "MaxPooling1D": 1, "AveragePooling1D": 1, "MaxPooling2D": 1, "AveragePooling2D": 1,
                     "Reshape": 1, "Dropout": 1, "SpatialDropout2D": 1, "LSTM": 1, "GRU": 1,
                     "SimpleRNN": 1, "Bidirectional": 1, "TimeDistributed": 1, "Conv3D": 2,
                     "Conv2DTranspose": 2, "SeparableConv2D": 2, "DepthwiseConv2D": 1, "ConvLSTM2D": 2,
                     "MaxPooling3D": 1, "AveragePooling3D": 1, "Permute": 1, "RepeatVector": 1,
                     "SpatialDropout1D": 1, "GaussianDropout": 1, "AlphaDropout": 1, "GaussianNoise": 1,
                     "Rescaling": 1, "Resizing": 2, "RandomCrop": 2, "RandomRotation": 1, "RandomZoom": 1,
                     "RandomContrast": 1}
OPTIMIZER_POSITIONAL = ("learning_rate",)
COMPILE_POSITIONAL = ("optimizer", "loss", "loss_weights", "metrics")
FIT_POSITIONAL = ("x", "y", "batch_size", "epochs", "verbose", "callbacks", "validation_split",
                  "validation_data", "shuffle")

# Layers that carry Python code: never imported.
CODE_LAYERS = {"Lambda", "TFOpLambda", "SlicingOpLambda"}
INPUT_LAYERS = {"Input", "InputLayer"}

# Keras's defaults where they differ from the dashboard's (the catalog suggests friendlier ones).
KERAS_FIT = {"epochs": 1, "batch_size": 32, "shuffle": True, "validation": "none"}
KERAS_COMPILE_OPTIMIZER = "rmsprop"
CALLBACK_CLASSES = {"checkpoint": "ModelCheckpoint", "early_stopping": "EarlyStopping",
                    "reduce_lr_on_plateau": "ReduceLROnPlateau"}
KERAS_CALLBACKS = {
    "checkpoint": {"monitor": "val_loss", "mode": "auto", "save_best_only": False},
    "early_stopping": {"monitor": "val_loss", "patience": 0, "min_delta": 0.0, "mode": "auto",
                       "restore_best_weights": False},
    "reduce_lr_on_plateau": {"monitor": "val_loss", "factor": 0.1, "patience": 10, "min_lr": 0.0,
                             "mode": "auto"},
}

LOSS_ALIASES = {"mse": "mean_squared_error", "mae": "mean_absolute_error", "kld": "kl_divergence",
                "kullback_leibler_divergence": "kl_divergence", "crossentropy": "categorical_crossentropy"}
METRIC_ALIASES = {"acc": "accuracy", "categorical_accuracy": "accuracy",
                  "sparse_categorical_accuracy": "accuracy", "binary_accuracy": "accuracy",
                  "top_k_categorical_accuracy": "top_k_categorical_accuracy",
                  "sparse_top_k_categorical_accuracy": "sparse_top_k_categorical_accuracy",
                  "auc": "auc", "precision": "precision", "recall": "recall"}

# Config keys the catalog does not carry, with the value that changes nothing. ANY: never worth a word.
ANY = object()
INITIALIZERS = {"kernel_initializer": "glorot_uniform", "bias_initializer": "zeros",
                "recurrent_initializer": "orthogonal", "embeddings_initializer": "random_uniform",
                "beta_initializer": "zeros", "gamma_initializer": "ones",
                "moving_mean_initializer": "zeros", "moving_variance_initializer": "ones",
                "alpha_initializer": "zeros", "depthwise_initializer": "glorot_uniform",
                "pointwise_initializer": "glorot_uniform"}
NEUTRAL = {
    "name": ANY, "seed": ANY, "zero_output_for_mask": ANY, "backward_layer": ANY, "implementation": ANY,
    "use_cudnn": ANY, "verbose": ANY, "ema_momentum": ANY, "trainable": True, "data_format": "channels_last",
    "groups": 1, "keepdims": False, "noise_shape": None, "axis": -1, "synchronized": False, "renorm": False,
    "renorm_clipping": None, "renorm_momentum": ANY, "rms_scaling": False, "return_state": False,
    "stateful": False, "unroll": False, "unit_forget_bias": True, "reset_after": True, "time_major": False,
    "quantization_config": None, "lora_rank": None, "lora_alpha": ANY, "weights": None, "sparse": False,
    "ragged": False, "optional": False, "weight_decay": None, "global_clipnorm": None, "clipvalue": None,
    "use_ema": False, "ema_overwrite_frequency": None, "loss_scale_factor": None,
    "gradient_accumulation_steps": None, "jit_compile": ANY, "is_legacy_optimizer": False, "decay": 0.0,
    "run_eagerly": False, "steps_per_execution": 1, "loss_weights": None, "weighted_metrics": None,
    "auto_scale_loss": True, "reduction": "sum_over_batch_size", "from_logits": False,
    "label_smoothing": 0.0, "k": 5, "value_range": [0, 255], "output_padding": None,
    "pad_to_aspect_ratio": False, "antialias": False, "input_dtype": "float32", "thresholds": None, "num_thresholds": 200, "dtype": ANY,
    "encoding": "utf-8", "vocabulary_size": ANY,   # TextVectorization: its vocabulary is adapted again on the training texts
}
# Keras's signatures for those callbacks: positional order and the defaults of what the spec leaves out.
CALLBACK_POSITIONAL = {
    "checkpoint": ("filepath", "monitor", "verbose", "save_best_only", "save_weights_only", "mode"),
    "early_stopping": ("monitor", "min_delta", "patience", "verbose", "mode", "baseline", "restore_best_weights"),
    "reduce_lr_on_plateau": ("monitor", "factor", "patience", "verbose", "mode", "min_delta", "cooldown", "min_lr"),
}
CALLBACK_OTHER_DEFAULTS = {"filepath": ANY, "verbose": ANY, "save_weights_only": False, "save_freq": "epoch",
                           "initial_value_threshold": None, "baseline": None, "start_from_epoch": 0,
                           "min_delta": 0.0001, "cooldown": 0}
QUIET_CALLBACKS = {"TerminateOnNaN", "History", "ProgbarLogger"}   # no effect on the result


def snake_case(name):
    """Give Keras's snake name for a class name: CategoricalCrossentropy -> categorical_crossentropy."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def tidy_float(value):
    """Give a float32 value (0.0010000000474974513) back as the decimal a person typed (0.001)."""
    if not isinstance(value, float) or not math.isfinite(value) or value == 0:
        return value
    try:
        as32 = struct.unpack("f", struct.pack("f", value))[0]
    except OverflowError:
        return value
    if as32 != value:
        return value
    for digits in range(1, 10):
        short = float(f"{value:.{digits}g}")
        if struct.unpack("f", struct.pack("f", short))[0] == value:
            return short
    return value


def initializer_name(value):
    """Give an initializer's snake name, from a string or a serialized {"class_name": ...}."""
    if isinstance(value, dict):
        value = value.get("class_name", "")
    return snake_case(str(value)) if value is not None else None


def is_neutral(key, value):
    """Say whether an ignored config key holds the value that leaves the model as the spec says."""
    if key in INITIALIZERS:
        return value is None or initializer_name(value) == INITIALIZERS[key]
    if key.endswith(("_regularizer", "_constraint")):
        return value is None
    if key == "dtype" and value is not None:
        name = value.get("config", {}).get("name") if isinstance(value, dict) else value
        return name in (None, "float32")
    wanted = NEUTRAL.get(key, None)
    if wanted is ANY:
        return True
    if isinstance(wanted, list) or isinstance(value, list):
        return value == wanted or value == [wanted]
    return value == wanted or value is None or (key not in NEUTRAL and value is False)


def loss_name(name):
    """Give the catalog's loss name for a Keras loss's function or class name, or the name unchanged."""
    name = str(name)
    snake = name if name.islower() else snake_case(name)
    return LOSS_ALIASES.get(snake, snake)


def metric_name(name):
    """Give the catalog's metric name for a Keras metric's function or class name, or the name unchanged."""
    name = str(name)
    snake = name if name.islower() else snake_case(name)
    return METRIC_ALIASES.get(snake, snake)


def activation_name(name):
    """Give the catalog's activation for a Keras activation name (None means linear), or None if unknown."""
    if name is None:
        return "linear"
    name = str(name).lower()
    name = {"leakyrelu": "leaky_relu", "hardsigmoid": "hard_sigmoid"}.get(name, name)
    return name if name in catalog.ACTIVATIONS else None
