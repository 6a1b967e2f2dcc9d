"""What a value read from a Keras script can be: a Ref to a name, a Call, a Model being built, an Unknown.

The Reader (`python_source.py`) makes these; the importer (`python_import.py`) maps them to spec dicts.
Keras Tuner's are here too (`python_tuner.py` reads them): the `hp` object, the values its `hp.*`
calls give, a tuner, a HyperModel class and its instance.
"""

import ast
from dataclasses import dataclass, field


class NotStatic(Exception):
    """A value that only running the script would give; str() is its source text."""


class BuiltList(list):
    """A list the reader built, knowing its size and nesting (python_cost.Cost.build): measuring it costs nothing."""

    __slots__ = ("size", "nesting")


class BuiltTuple(tuple):
    """A tuple the reader built, knowing its size and nesting (in its __dict__: a tuple's subclass has no slots)."""


@dataclass
class Ref:
    """A dotted name such as keras.layers.Dense, layers.Dense or Dense."""

    path: str

    def in_keras(self, group):
        """Say whether this names something in keras.<group>: keras.layers.X, layers.X, tf.keras.layers.X, X."""
        parts = self.path.split(".")
        return len(parts) == 1 or (parts[-2] == group and parts[0] in ("keras", "tf", "tensorflow", group))

    @property
    def last(self):
        """Give the last part of the path: Dense."""
        return self.path.rsplit(".", 1)[-1]

    @property
    def parent(self):
        """Give the part before the last: keras.layers (empty for a bare name)."""
        return self.path.rsplit(".", 1)[0] if "." in self.path else ""


@dataclass
class Call:
    """A call written in the source, with its arguments read as far as they can be."""

    func: object
    args: list
    kwargs: dict
    node: ast.AST
    starred: bool = False   # **kwargs: arguments that only running the script would give

    @property
    def line(self):
        """Give the line the call starts on."""
        return self.node.lineno

    @property
    def name(self):
        """Give the called name's last part (Dense for keras.layers.Dense), or ''."""
        return self.func.last if isinstance(self.func, Ref) else ""


@dataclass
class Unknown:
    """A value that only running the script would give."""

    node: ast.AST

    @property
    def line(self):
        """Give the line the value is written on."""
        return getattr(self.node, "lineno", 0)


@dataclass
class Model:
    """A keras.Sequential being put together: its layers and its compile and fit calls."""

    line: int
    var: str = ""
    items: list = field(default_factory=list)   # Calls (or Unknowns) in order
    compile: Call | None = None
    fit: Call | None = None
    fit_method: str = "fit"                       # or fit_generator
    predict: Call | None = None                   # predict_classes(x[...]) or predict(x[...])
    graph: bool = False                           # a functional keras.Model: items are python_graph Tensors
    tuner: object = None                          # the Tuner whose hypermodel built it (python_tuner.py)
    nested: bool = False                          # a Sequential called on a tensor: its layers are in another model
    phases: list = field(default_factory=list)    # each fit: (the compile then in force, the fit call, trainable events so far)
    wraps: object = None                          # an inference wrapper's model (python_graph.py): items are what goes in front


@dataclass(eq=False)
class Backbone:
    """keras.applications.X(...): a pretrained backbone, one layer of the spec (python_backbone.py).

    input_tensor: the Tensor given as input_tensor= (else its `.input` is an input of its own).
    """

    call: Call
    input_tensor: object = None


@dataclass(eq=False)
class LayerSlice:
    """`base.layers[-20:]` or `model.layers[:249]`: some of a backbone's or a model's layers, by position."""

    owner: object
    start: int | None = None
    stop: int | None = None


@dataclass
class Parser:
    """An argparse.ArgumentParser: its options' defaults, by dest."""

    defaults: dict = field(default_factory=dict)


@dataclass
class Namespace:
    """The result of parse_args(): each option at its default."""

    defaults: dict


@dataclass
class Method:
    """A method looked up on a Model or Parser, ready to be called."""

    owner: object
    name: str


@dataclass
class Function:
    """A function defined at the top level; a call to it is read by following its body."""

    node: ast.FunctionDef


@dataclass
class Generator:
    """A keras.preprocessing.image.ImageDataGenerator(...): its call, read for augmentation."""

    call: Call


@dataclass
class Flow:
    """generator.flow(x, y, batch_size=...) or flow_from_directory(...): what fit_generator trains on."""

    generator: Generator
    call: Call


@dataclass
class Rows:
    """x[10:20] or x[[3, 5]]: some rows of an array, by index."""

    name: str
    indexes: list
    line: int
    node: ast.AST


@dataclass(eq=False)
class Hyper:
    """A keras_tuner.HyperParameters: the `hp` a hypermodel is built with; its hp.* calls give HpValues."""


@dataclass(eq=False)
class HpValue:
    """What hp.Int / Float / Choice / Boolean gives: its default stands in the spec, its field is searched.

    field: the sweep's FIELD ({"type": "int", "low", "high", "step"?, "log"?}, float, or categorical
    {"choices"}); call: the hp.* call; label: how notes name it (hp.Int('units'), or the call's text when
    its name cannot be read); caveat: what the field does not keep of it.
    """

    kind: str
    label: str
    field: dict
    default: object
    call: Call
    caveat: str = ""


@dataclass(eq=False)
class Tuner:
    """A Keras Tuner tuner (RandomSearch, BayesianOptimization, Hyperband, GridSearch) and what it was given."""

    call: Call
    given: dict                   # its arguments by name
    model: object = None          # the Model its hypermodel built, when that could be read
    hypermodel: object = None     # a HyperModel instance, whose fit method search() follows
    searched: bool = False        # tuner.search(...) was called


@dataclass
class HyperModelClass:
    """A class the script derives from keras_tuner.HyperModel: its methods by name (build, fit)."""

    name: str
    methods: dict


@dataclass(eq=False)
class HyperModelInstance:
    """An instance of a HyperModelClass, made by calling it."""

    cls: HyperModelClass
