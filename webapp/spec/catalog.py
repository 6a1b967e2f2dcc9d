"""The allow-list: every layer, optimizer, loss, metric and callback a spec may name.

Nothing outside this catalog reaches Keras. Names and defaults are Keras's own, so a user who
knows `keras.layers.Conv2D(filters, kernel_size, strides=(1, 1), padding="valid")` finds the same
here. Pure data: no Keras import.
"""

from dataclasses import asdict, dataclass, field
from typing import Any

ACTIVATIONS = (
    "linear", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "silu", "swish", "mish",
    "sigmoid", "hard_sigmoid", "tanh", "softmax", "log_softmax", "softplus", "softsign",
    "exponential",
)
RECURRENT = ("LSTM", "GRU", "SimpleRNN")


@dataclass(frozen=True)
class Param:
    """One constructor argument, under its Keras name.

    kind: int, float, bool, choice, ints (an int or a list of `length` ints), shape (a list of
    ints, one of them may be -1), layer (a nested recurrent layer, for Bidirectional).
    `default` is Keras's default, or for a required argument the value the builder suggests.
    """

    name: str
    kind: str
    default: Any = None
    required: bool = False
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    max_exclusive: bool = False
    choices: tuple = ()
    length: int | None = None
    help: str = ""

    def to_dict(self):
        """Give the JSON form used by `GET /api/layers`."""
        d = {k: v for k, v in asdict(self).items()
             if k in ("name", "kind", "default", "required", "nullable") or (v is not None and v != () and v != "")}
        for flag in ("min_exclusive", "max_exclusive"):
            if not d.get(flag):
                d.pop(flag, None)
        if self.choices:
            d["choices"] = list(self.choices)
        return d


@dataclass(frozen=True)
class Entry:
    """One allowed Keras class (layer, optimizer, metric) and its parameters."""

    type: str
    params: tuple
    doc: str
    input_rank: int | None = None   # rank per sample the layer needs; None: any rank >= 1
    input_hint: str = ""            # names the axes, for messages ("timesteps, features")
    category: str = ""
    extra: dict = field(default_factory=dict)

    def param(self, name):
        """Give the Param called `name`, or None."""
        return next((p for p in self.params if p.name == name), None)

    def to_dict(self):
        """Give the JSON form used by `GET /api/layers`."""
        d = {"type": self.type, "category": self.category, "doc": self.doc,
             "params": [p.to_dict() for p in self.params]}
        if self.input_rank:
            d["input_rank"] = self.input_rank
            d["input_hint"] = self.input_hint
        return d


def _units(default=32):
    return Param("units", "int", default, required=True, min=1, max=1_000_000,
                 help="Dimensionality of the output space.")


def _activation(default="linear", required=False):
    return Param("activation", "choice", default, required=required, nullable=not required,
                 choices=ACTIVATIONS, help="Activation function (None or linear: a(x) = x).")


def _rate(help_text="Fraction of the input units to drop."):
    return Param("rate", "float", 0.5, required=True, min=0.0, max=1.0, max_exclusive=True,
                 help=help_text)


def _ints(name, default, length, *, required=False, nullable=False, help_text=""):
    return Param(name, "ints", default, required=required, nullable=nullable, min=1,
                 max=4096, length=length, help=help_text)


def _padding(choices=("valid", "same")):
    return Param("padding", "choice", "valid", choices=choices,
                 help='"valid" means no padding; "same" keeps the spatial size (with strides 1).')


USE_BIAS = Param("use_bias", "bool", True, help="Whether the layer uses a bias vector.")
RETURN_SEQUENCES = Param("return_sequences", "bool", False,
                         help="Return the full sequence (for a next recurrent layer) or only the last output.")
DROPOUT = Param("dropout", "float", 0.0, min=0.0, max=1.0, max_exclusive=True,
                help="Fraction of the input units to drop.")
RECURRENT_DROPOUT = Param("recurrent_dropout", "float", 0.0, min=0.0, max=1.0, max_exclusive=True,
                          help="Fraction of the recurrent units to drop.")
EPSILON_LAYER = Param("epsilon", "float", 0.001, min=0.0, min_exclusive=True, max=1.0,
                      help="Small float added to the variance to avoid dividing by zero.")
SEQ = ("timesteps, features")
IMG = ("height, width, channels")


def _conv(dims):
    kernel_default = [3] * dims if dims > 1 else 3
    one = [1] * dims if dims > 1 else 1
    padding = ("valid", "same", "causal") if dims == 1 else ("valid", "same")
    return (
        Param("filters", "int", 32, required=True, min=1, max=100_000,
              help="Number of output filters in the convolution."),
        _ints("kernel_size", kernel_default, dims, required=True,
              help_text="Size of the convolution window."),
        _ints("strides", one, dims, help_text="Step of the convolution along each axis."),
        _padding(padding),
        _ints("dilation_rate", one, dims, help_text="Dilation rate for dilated convolution."),
        _activation(),
        USE_BIAS,
    )


def _pool(dims):
    default = [2] * dims if dims > 1 else 2
    return (
        _ints("pool_size", default, dims, help_text="Size of the pooling window."),
        _ints("strides", None, dims, nullable=True,
              help_text="Step of the pooling window; None means pool_size."),
        _padding(),
    )


def _recurrent(kind):
    params = [_units(32), _activation("tanh")]
    if kind != "SimpleRNN":
        params.append(Param("recurrent_activation", "choice", "sigmoid", choices=ACTIVATIONS,
                            help="Activation of the recurrent step (gates)."))
    params += [USE_BIAS, RETURN_SEQUENCES, DROPOUT, RECURRENT_DROPOUT,
               Param("go_backwards", "bool", False, help="Process the sequence backwards.")]
    return tuple(params)


_LAYERS = [
    Entry("Dense", (_units(), _activation(), USE_BIAS),
          "Densely connected layer: output = activation(dot(input, kernel) + bias).", category="Core"),
    Entry("Activation", (_activation("relu", required=True),),
          "Applies an activation function to its input.", category="Core"),
    Entry("Embedding", (
        Param("input_dim", "int", 256, required=True, min=1, max=10_000_000,
              help="Size of the vocabulary: largest integer index + 1."),
        Param("output_dim", "int", 32, required=True, min=1, max=100_000,
              help="Dimension of the dense embedding."),
        Param("mask_zero", "bool", False, help="Treat 0 as padding to be masked."),
    ), "Turns non-negative integers (indexes) into dense vectors of fixed size.", category="Core"),
    Entry("Conv1D", _conv(1), "1-D convolution over a sequence (timesteps, features).",
          input_rank=2, input_hint=SEQ, category="Convolution"),
    Entry("Conv2D", _conv(2), "2-D convolution over images (height, width, channels).",
          input_rank=3, input_hint=IMG, category="Convolution"),
    Entry("MaxPooling1D", _pool(1), "Max pooling over a sequence.",
          input_rank=2, input_hint=SEQ, category="Pooling"),
    Entry("AveragePooling1D", _pool(1), "Average pooling over a sequence.",
          input_rank=2, input_hint=SEQ, category="Pooling"),
    Entry("MaxPooling2D", _pool(2), "Max pooling over images: the largest value in each window.",
          input_rank=3, input_hint=IMG, category="Pooling"),
    Entry("AveragePooling2D", _pool(2), "Average pooling over images.",
          input_rank=3, input_hint=IMG, category="Pooling"),
    Entry("GlobalAveragePooling1D", (), "Averages over the time axis: (timesteps, features) -> (features,).",
          input_rank=2, input_hint=SEQ, category="Pooling"),
    Entry("GlobalMaxPooling1D", (), "Max over the time axis: (timesteps, features) -> (features,).",
          input_rank=2, input_hint=SEQ, category="Pooling"),
    Entry("GlobalAveragePooling2D", (), "Averages over height and width: (h, w, c) -> (c,).",
          input_rank=3, input_hint=IMG, category="Pooling"),
    Entry("GlobalMaxPooling2D", (), "Max over height and width: (h, w, c) -> (c,).",
          input_rank=3, input_hint=IMG, category="Pooling"),
    Entry("Flatten", (), "Flattens the input per sample: (h, w, c) -> (h*w*c,).", category="Reshaping"),
    Entry("Reshape", (
        Param("target_shape", "shape", [64], required=True,
              help="Shape per sample, without the batch axis; one entry may be -1."),
    ), "Reshapes the input per sample to target_shape.", category="Reshaping"),
    Entry("ZeroPadding2D", (
        _ints("padding", [1, 1], 2, help_text="Rows and columns of zeros added on each side."),
    ), "Adds rows and columns of zeros around an image.", input_rank=3, input_hint=IMG,
        category="Reshaping"),
    Entry("UpSampling2D", (
        _ints("size", [2, 2], 2, help_text="Upsampling factors for rows and columns."),
        Param("interpolation", "choice", "nearest", choices=("nearest", "bilinear", "bicubic", "lanczos3", "lanczos5", "area")),
    ), "Repeats rows and columns of an image.", input_rank=3, input_hint=IMG, category="Reshaping"),
    Entry("Dropout", (_rate(),), "Randomly sets input units to 0 while training, against overfitting.",
          category="Regularization"),
    Entry("SpatialDropout2D", (_rate("Fraction of the channels to drop."),),
          "Drops whole feature maps (channels) instead of single units.", input_rank=3,
          input_hint=IMG, category="Regularization"),
    Entry("BatchNormalization", (
        Param("momentum", "float", 0.99, min=0.0, max=1.0, help="Momentum for the moving average."),
        EPSILON_LAYER,
        Param("center", "bool", True, help="Add an offset beta."),
        Param("scale", "bool", True, help="Multiply by gamma."),
    ), "Normalizes its inputs to mean 0 and standard deviation 1, per batch.",
        category="Normalization"),
    Entry("LayerNormalization", (
        Param("epsilon", "float", 0.001, min=0.0, min_exclusive=True, max=1.0,
              help="Small float added to the variance."),
        Param("center", "bool", True, help="Add an offset beta."),
        Param("scale", "bool", True, help="Multiply by gamma."),
    ), "Normalizes each sample over its last axis.", category="Normalization"),
    Entry("LSTM", _recurrent("LSTM"), "Long Short-Term Memory layer (Hochreiter 1997).",
          input_rank=2, input_hint=SEQ, category="Recurrent"),
    Entry("GRU", _recurrent("GRU"), "Gated Recurrent Unit (Cho et al. 2014).",
          input_rank=2, input_hint=SEQ, category="Recurrent"),
    Entry("SimpleRNN", _recurrent("SimpleRNN"), "Fully-connected RNN: output fed back to input.",
          input_rank=2, input_hint=SEQ, category="Recurrent"),
    Entry("Bidirectional", (
        Param("layer", "layer", {"type": "LSTM", "units": 32}, required=True, choices=RECURRENT,
              help="The recurrent layer (LSTM, GRU or SimpleRNN) run forwards and backwards."),
        Param("merge_mode", "choice", "concat", nullable=True, choices=("concat", "sum", "mul", "ave"),
              help="How the forward and backward outputs are combined."),
    ), "Runs a recurrent layer in both directions.", input_rank=2, input_hint=SEQ,
        category="Recurrent"),
]
LAYERS = {e.type: e for e in _LAYERS}

_LR = "Learning rate."


def _lr(default):
    return Param("learning_rate", "float", default, min=0.0, min_exclusive=True, max=100.0, help=_LR)


def _beta(name, default):
    return Param(name, "float", default, min=0.0, max=1.0, max_exclusive=True,
                 help="Exponential decay rate for the moment estimates.")


EPS = Param("epsilon", "float", 1e-7, min=0.0, min_exclusive=True, max=1.0,
            help="Small constant for numerical stability.")
CLIPNORM = Param("clipnorm", "float", None, nullable=True, min=0.0, min_exclusive=True, max=1e6,
                 help="Clip each gradient so its norm is no higher than this.")
AMSGRAD = Param("amsgrad", "bool", False, help="Use the AMSGrad variant.")

_OPTIMIZERS = [
    Entry("SGD", (_lr(0.01), Param("momentum", "float", 0.0, min=0.0, max=1.0, help="Momentum."),
                  Param("nesterov", "bool", False, help="Use Nesterov momentum."), CLIPNORM),
          "Gradient descent, with momentum."),
    Entry("RMSprop", (_lr(0.001), Param("rho", "float", 0.9, min=0.0, max=1.0, help="Discounting factor."),
                      Param("momentum", "float", 0.0, min=0.0, max=1.0, help="Momentum."), EPS,
                      Param("centered", "bool", False, help="Normalize by the estimated variance."), CLIPNORM),
          "Divides the gradient by a moving average of its recent magnitude."),
    Entry("Adam", (_lr(0.001), _beta("beta_1", 0.9), _beta("beta_2", 0.999), EPS, AMSGRAD, CLIPNORM),
          "Adaptive estimates of first- and second-order moments."),
    Entry("AdamW", (_lr(0.001), Param("weight_decay", "float", 0.004, min=0.0, max=1.0, help="Weight decay."),
                    _beta("beta_1", 0.9), _beta("beta_2", 0.999), EPS, AMSGRAD, CLIPNORM),
          "Adam with decoupled weight decay."),
    Entry("Adadelta", (_lr(0.001), Param("rho", "float", 0.95, min=0.0, max=1.0, help="Decay rate."), EPS, CLIPNORM),
          "Adapts learning rates from a moving window of gradient updates."),
    Entry("Adagrad", (_lr(0.001), Param("initial_accumulator_value", "float", 0.1, min=0.0, max=1e6,
                                        help="Starting value of the accumulators."), EPS, CLIPNORM),
          "Per-parameter learning rates adapted to how often a parameter is updated."),
    Entry("Adamax", (_lr(0.001), _beta("beta_1", 0.9), _beta("beta_2", 0.999), EPS, CLIPNORM),
          "A variant of Adam based on the infinity norm."),
    Entry("Nadam", (_lr(0.001), _beta("beta_1", 0.9), _beta("beta_2", 0.999), EPS, CLIPNORM),
          "Adam with Nesterov momentum."),
    Entry("Lion", (_lr(0.001), _beta("beta_1", 0.9), _beta("beta_2", 0.99), CLIPNORM),
          "Sign-based optimizer found by program search (Chen et al. 2023)."),
]
OPTIMIZERS = {e.type: e for e in _OPTIMIZERS}
OPTIMIZER_ALIASES = {e.type.lower(): e.type for e in _OPTIMIZERS}

# label: how the trainer encodes labels for this loss ("onehot", "sparse" or "binary").
LOSSES = {
    "categorical_crossentropy": {"label": "onehot", "doc": "Cross-entropy with one-hot labels (softmax output, one unit per class)."},
    "sparse_categorical_crossentropy": {"label": "sparse", "doc": "Cross-entropy with integer labels (softmax output, one unit per class)."},
    "binary_crossentropy": {"label": "binary", "doc": "Cross-entropy for two classes (one sigmoid unit)."},
    "categorical_focal_crossentropy": {"label": "onehot", "doc": "Focal loss: down-weights easy examples."},
    "kl_divergence": {"label": "onehot", "doc": "Kullback-Leibler divergence between labels and predictions."},
    "categorical_hinge": {"label": "onehot", "doc": "Hinge loss for one-hot labels."},
    "mean_squared_error": {"label": "onehot", "doc": "Mean of squared differences to the one-hot labels."},
    "mean_absolute_error": {"label": "onehot", "doc": "Mean of absolute differences to the one-hot labels."},
}
PROBABILISTIC_LOSSES = {"categorical_crossentropy", "sparse_categorical_crossentropy",
                        "binary_crossentropy", "categorical_focal_crossentropy"}

# The log key Keras uses for each metric, and the label encodings it works with.
METRICS = {
    "accuracy": {"key": "accuracy", "labels": ("onehot", "sparse", "binary"),
                 "doc": "How often predictions match the labels."},
    "top_k_categorical_accuracy": {"key": "top_k_categorical_accuracy", "labels": ("onehot",),
                                   "doc": "How often the label is in the top 5 predictions."},
    "sparse_top_k_categorical_accuracy": {"key": "sparse_top_k_categorical_accuracy", "labels": ("sparse",),
                                          "doc": "Top-5 accuracy for integer labels."},
    "precision": {"key": "precision", "labels": ("onehot", "binary"),
                  "doc": "Precision over all classes (one-hot labels)."},
    "recall": {"key": "recall", "labels": ("onehot", "binary"), "doc": "Recall over all classes (one-hot labels)."},
    "auc": {"key": "auc", "labels": ("onehot", "binary"), "doc": "Area under the ROC curve."},
}

CALLBACKS = {
    "checkpoint": (
        Param("monitor", "str", "val_accuracy", help="Log key to watch."),
        Param("mode", "choice", "auto", choices=("auto", "min", "max")),
        Param("save_best_only", "bool", True, help="Keep only the best epoch as best.keras."),
    ),
    "early_stopping": (
        Param("monitor", "str", "val_loss", help="Log key to watch."),
        Param("patience", "int", 3, min=0, max=100_000, help="Epochs with no improvement before stopping."),
        Param("min_delta", "float", 0.0, min=0.0, max=1e6, help="Smallest change that counts as an improvement."),
        Param("mode", "choice", "auto", choices=("auto", "min", "max")),
        Param("restore_best_weights", "bool", True, help="Go back to the best epoch's weights at the end."),
    ),
    "reduce_lr_on_plateau": (
        Param("monitor", "str", "val_loss", help="Log key to watch."),
        Param("factor", "float", 0.1, min=0.0, min_exclusive=True, max=1.0, max_exclusive=True,
              help="new_lr = lr * factor."),
        Param("patience", "int", 2, min=0, max=100_000, help="Epochs with no improvement before reducing."),
        Param("min_lr", "float", 0.0, min=0.0, max=100.0, help="Lower bound on the learning rate."),
        Param("mode", "choice", "auto", choices=("auto", "min", "max")),
    ),
}

FIT = (
    Param("epochs", "int", 5, min=1, max=100_000, help="Number of passes over the training data."),
    Param("batch_size", "int", 32, min=1, max=65_536, help="Samples per gradient update."),
    Param("shuffle", "bool", True, help="Shuffle the training data before each epoch."),
)


def catalog_json():
    """Give the whole catalog as JSON-ready data (`GET /api/layers`)."""
    return {
        "layers": [e.to_dict() for e in _LAYERS],
        "optimizers": [e.to_dict() for e in _OPTIMIZERS],
        "losses": [{"name": k, "doc": v["doc"]} for k, v in LOSSES.items()],
        "metrics": [{"name": k, "key": v["key"], "doc": v["doc"]} for k, v in METRICS.items()],
        "activations": list(ACTIVATIONS),
        "callbacks": {k: [p.to_dict() for p in v] for k, v in CALLBACKS.items()},
        "fit": [p.to_dict() for p in FIT],
    }
