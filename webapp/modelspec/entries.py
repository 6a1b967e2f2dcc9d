"""The catalog's building blocks: Param and Entry, and the parameters many layers share.

Pure data: no Keras import. `layers.py` and `catalog.py` build their tables from these.
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
        if "min_inputs" in self.extra:   # a merge layer: how many inputs it joins
            d.update(min_inputs=self.extra["min_inputs"], max_inputs=self.extra["max_inputs"])
        if self.input_rank:
            d["input_rank"] = self.input_rank
            d["input_hint"] = self.input_hint
        return d


def units(default=32):
    """Give the `units` parameter of Dense and the recurrent layers."""
    return Param("units", "int", default, required=True, min=1, max=1_000_000,
                 help="Dimensionality of the output space.")


def activation(default="linear", required=False):
    """Give an `activation` parameter (None means linear, as in Keras)."""
    return Param("activation", "choice", default, required=required, nullable=not required,
                 choices=ACTIVATIONS, help="Activation function (None or linear: a(x) = x).")


def rate(help_text="Fraction of the input units to drop."):
    """Give the `rate` of a dropout layer."""
    return Param("rate", "float", 0.5, required=True, min=0.0, max=1.0, max_exclusive=True,
                 help=help_text)


def ints(name, default, length, *, required=False, nullable=False, low=1, help_text=""):
    """Give a parameter that is one int or a list of `length` ints (sizes, strides, paddings)."""
    return Param(name, "ints", default, required=required, nullable=nullable, min=low,
                 max=4096, length=length, help=help_text)


def padding(choices=("valid", "same")):
    """Give a convolution's or pooling's `padding` choice."""
    return Param("padding", "choice", "valid", choices=choices,
                 help='"valid" means no padding; "same" keeps the spatial size (with strides 1).')


def number(name, default, *, low=None, high=None, required=False, help_text=""):
    """Give a float parameter with optional bounds."""
    return Param(name, "float", default, required=required, min=low, max=high, help=help_text)


USE_BIAS = Param("use_bias", "bool", True, help="Whether the layer uses a bias vector.")
RETURN_SEQUENCES = Param("return_sequences", "bool", False,
                         help="Return the full sequence (for a next recurrent layer) or only the last output.")
DROPOUT = Param("dropout", "float", 0.0, min=0.0, max=1.0, max_exclusive=True,
                help="Fraction of the input units to drop.")
RECURRENT_DROPOUT = Param("recurrent_dropout", "float", 0.0, min=0.0, max=1.0, max_exclusive=True,
                          help="Fraction of the recurrent units to drop.")
RECURRENT_ACTIVATION = Param("recurrent_activation", "choice", "sigmoid", choices=ACTIVATIONS,
                             help="Activation of the recurrent step (gates).")
GO_BACKWARDS = Param("go_backwards", "bool", False, help="Process the sequence backwards.")
EPSILON_LAYER = Param("epsilon", "float", 0.001, min=0.0, min_exclusive=True, max=1.0,
                      help="Small float added to the variance to avoid dividing by zero.")
CENTER = Param("center", "bool", True, help="Add an offset beta.")
SCALE = Param("scale", "bool", True, help="Multiply by gamma.")
DEPTH_MULTIPLIER = Param("depth_multiplier", "int", 1, min=1, max=1024,
                         help="Output channels per input channel of the depthwise step.")
SEQ = "timesteps, features"
IMG = "height, width, channels"
VOL = "depth, height, width, channels"


def window(dims, *, filters=True, depth_multiplier=False, act_default="linear"):
    """Give a convolution's parameters in Keras's order: filters, kernel_size, strides, padding..."""
    kernel_default = [3] * dims if dims > 1 else 3
    one = [1] * dims if dims > 1 else 1
    params = [Param("filters", "int", 32, required=True, min=1, max=100_000,
                    help="Number of output filters in the convolution.")] if filters else []
    params += [
        ints("kernel_size", kernel_default, dims, required=True, help_text="Size of the convolution window."),
        ints("strides", one, dims, help_text="Step of the convolution along each axis."),
        padding(("valid", "same", "causal") if dims == 1 and filters else ("valid", "same")),
        ints("dilation_rate", one, dims, help_text="Dilation rate for dilated convolution."),
    ]
    if depth_multiplier:
        params.append(DEPTH_MULTIPLIER)
    return tuple(params + [activation(act_default), USE_BIAS])


def conv(dims):
    """Give Conv1D/2D/3D's parameters."""
    return window(dims)


def pool(dims):
    """Give a pooling layer's parameters: pool_size, strides (None: pool_size), padding."""
    default = [2] * dims if dims > 1 else 2
    return (
        ints("pool_size", default, dims, help_text="Size of the pooling window."),
        ints("strides", None, dims, nullable=True,
             help_text="Step of the pooling window; None means pool_size."),
        padding(),
    )


def recurrent(kind):
    """Give LSTM's, GRU's or SimpleRNN's parameters."""
    params = [units(32), activation("tanh")]
    if kind != "SimpleRNN":
        params.append(RECURRENT_ACTIVATION)
    params += [USE_BIAS, RETURN_SEQUENCES, DROPOUT, RECURRENT_DROPOUT, GO_BACKWARDS]
    return tuple(params)
