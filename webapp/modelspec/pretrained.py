"""The table of `keras.applications` backbones a spec may name: arguments, sizes, scaling and weights files.

Pure data: no Keras import. Every figure is Keras 3's own, read from its applications' source
(`keras/src/applications/*.py`) and pinned by tests/unit/test_pretrained.py: `params` and `layers`
are the no-top model's `count_params()` and `len(model.layers)` (its InputLayer included, as
`base_model.layers[:249]` counts) at the default arguments and size; `scaling` is what the
application's own `preprocess_input` does to [0, 255] pixels ("tf": x / 127.5 - 1; "torch": x / 255
then the ImageNet mean and std; "caffe": RGB to BGR, minus the ImageNet mean; None: the model
carries its own preprocessing and takes [0, 255]). `weights_file` gives the exact name Keras's
`get_file(..., cache_subdir="models")` looks for with `weights="imagenet", include_top=False`.
"""

from dataclasses import dataclass, field

# ImageNet's per-channel statistics as Keras's imagenet_utils uses them (RGB order; caffe is BGR).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
SCALINGS = ("tf", "torch", "caffe", None)


@dataclass(frozen=True)
class Backbone:
    """One application: how to call it, what it accepts, and what it holds.

    args: the Keras arguments accepted here beyond weights/include_top/pooling/input_shape, each
    name -> (Keras default, the values accepted: a tuple, or "bool"). weight_sizes: the square
    sizes for which Keras has ImageNet no-top weights (None: any size from min_size, the weights
    do not depend on it). scaling_raw: the scaling when include_preprocessing is False.
    """

    type: str
    module: str                 # keras.applications.<module>, where its preprocess_input lives
    default_size: int
    min_size: int
    params: int
    layers: int
    scaling: str | None
    file: str                   # the no-top file name pattern; see weights_file()
    features: int               # channels of the last feature map (the pooled output's width)
    args: dict = field(default_factory=dict)
    weight_sizes: tuple | None = None
    scaling_raw: str | None = None
    # EfficientNetV2 looks its block configuration up by its `name`: it keeps Keras's own.
    takes_name: bool = True

    @property
    def function(self):
        """Give the dotted Keras name of the application's function."""
        return f"keras.applications.{self.type}"


_MNV2_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
_V3_ARGS = {"alpha": (1.0, (0.75, 1.0)), "minimalistic": (False, "bool"),
            "include_preprocessing": (True, "bool")}
_EFFB = "{name}_notop.h5"
_TF_KERNELS = "{name}_weights_tf_dim_ordering_tf_kernels_notop.h5"


def _eff(n, size, params, layers, features):
    """Give EfficientNetB<n>'s row: its preprocessing is inside the model, its file name its own."""
    return Backbone(f"EfficientNetB{n}", "efficientnet", size, 32, params, layers, None,
                    f"efficientnetb{n}_notop.h5", features)


TABLE = [
    Backbone("MobileNet", "mobilenet", 224, 32, 3_228_864, 86, "tf",
             "mobilenet_{alpha_text}_{size}_tf_no_top.h5", 1024,
             {"alpha": (1.0, (0.25, 0.5, 0.75, 1.0))}, (128, 160, 192, 224)),
    Backbone("MobileNetV2", "mobilenet_v2", 224, 32, 2_257_984, 154, "tf",
             "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_{size}_no_top.h5", 1280,
             {"alpha": (1.0, _MNV2_ALPHAS)}, (96, 128, 160, 192, 224)),
    Backbone("MobileNetV3Small", "mobilenet_v3", 224, 32, 939_120, 157, None,
             "weights_mobilenet_v3_small{minimalistic}_224_{alpha}_float_no_top_v2.h5", 576,
             _V3_ARGS, None, "tf"),
    Backbone("MobileNetV3Large", "mobilenet_v3", 224, 32, 2_996_352, 187, None,
             "weights_mobilenet_v3_large{minimalistic}_224_{alpha}_float_no_top_v2.h5", 960,
             _V3_ARGS, None, "tf"),
    _eff(0, 224, 4_049_571, 237, 1280),
    _eff(1, 240, 6_575_239, 339, 1280),
    _eff(2, 260, 7_768_569, 339, 1408),
    _eff(3, 300, 10_783_535, 384, 1536),
    Backbone("EfficientNetV2B0", "efficientnet_v2", 224, 32, 5_919_312, 270, None,
             "efficientnetv2-b0_notop.h5", 1280, {"include_preprocessing": (True, "bool")}, None, "tf", False),
    Backbone("ResNet50", "resnet", 224, 32, 23_587_712, 175, "caffe",
             _TF_KERNELS.format(name="resnet50"), 2048),
    Backbone("ResNet50V2", "resnet_v2", 224, 32, 23_564_800, 190, "tf",
             _TF_KERNELS.format(name="resnet50v2"), 2048),
    Backbone("DenseNet121", "densenet", 224, 32, 7_037_504, 427, "torch",
             _TF_KERNELS.format(name="densenet121"), 1024),
    Backbone("Xception", "xception", 299, 71, 20_861_480, 132, "tf",
             _TF_KERNELS.format(name="xception"), 2048),
    Backbone("InceptionV3", "inception_v3", 299, 75, 21_802_784, 311, "tf",
             _TF_KERNELS.format(name="inception_v3"), 2048),
    Backbone("ConvNeXtTiny", "convnext", 224, 32, 27_820_128, 133, None,
             "convnext_tiny_notop.h5", 768, {"include_preprocessing": (True, "bool")}, None, "torch"),
]
BACKBONES = {b.type: b for b in TABLE}


def arguments(kind, given=None):
    """Give the backbone's Keras arguments (beyond weights/pooling/input_shape), defaults filled."""
    out = {name: default for name, (default, _) in BACKBONES[kind].args.items()}
    out.update({k: v for k, v in (given or {}).items() if k in out})
    return out


def scaling(kind, given=None):
    """Give the scaling its preprocess_input does for these arguments: "tf", "torch", "caffe" or None."""
    b = BACKBONES[kind]
    if b.scaling_raw and not arguments(kind, given).get("include_preprocessing", True):
        return b.scaling_raw
    return b.scaling


def weights_size(kind, size):
    """Give the size whose ImageNet file Keras loads for a square input of `size` (None: any)."""
    b = BACKBONES[kind]
    if b.weight_sizes is None:
        return None
    return size if size in b.weight_sizes else None


def weights_file(kind, given=None, size=None):
    """Give the file name Keras looks for in its cache for "imagenet" no-top weights, or None if none exist.

    `size` is the square input side (None: the default size); MobileNet and MobileNetV2 have one
    file per size, the others one file for every size.
    """
    b = BACKBONES[kind]
    args = arguments(kind, given)
    size = b.default_size if size is None else size
    if b.weight_sizes is not None and size not in b.weight_sizes:
        return None
    alpha = args.get("alpha")
    if b.type == "MobileNet":
        text = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}[alpha]
        return b.file.format(alpha_text=text, size=size)
    if b.type.startswith("MobileNetV3"):
        if args["minimalistic"] and alpha != 1.0:
            return None   # Keras has minimalistic ImageNet weights only at alpha 1.0
        return b.file.format(minimalistic="_minimalistic" if args["minimalistic"] else "", alpha=str(float(alpha)))
    return b.file.format(alpha=float(alpha) if alpha is not None else None, size=size)


def check_size(kind, rows, cols, imagenet):
    """Give a message saying why this input size is not accepted, or None when it is."""
    b = BACKBONES[kind]
    if rows < b.min_size or cols < b.min_size:
        return f"{kind} needs images of at least {b.min_size}×{b.min_size}; got {rows}×{cols}."
    if imagenet and b.weight_sizes is not None and (rows != cols or rows not in b.weight_sizes):
        sizes = ", ".join(str(s) for s in b.weight_sizes)
        return (f"{kind}'s ImageNet weights exist for square inputs of {sizes} only; got {rows}×{cols}. "
                f"Pick one of those, or weights null to train it from scratch.")
    return None


def summary(kind):
    """Give the JSON form GET /api/pretrained lists for one backbone (weights availability added there)."""
    b = BACKBONES[kind]
    return {"type": b.type, "function": b.function, "module": f"keras.applications.{b.module}",
            "input_sizes": list(b.weight_sizes) if b.weight_sizes else None, "min_size": b.min_size,
            "default_size": b.default_size, "params": b.params, "layers": b.layers,
            "scaling": b.scaling, "features": b.features,
            "args": {n: {"default": d, "choices": list(c) if c != "bool" else [False, True]}
                     for n, (d, c) in b.args.items()}}


# -- as catalog layers --------------------------------------------------------------------------

CATEGORY = "Pretrained"


def _entry(b):
    """Give the catalog Entry of one backbone: the arguments it is called with, under Keras's names."""
    from .entries import IMG, Entry, Param

    params = [
        Param("weights", "weights", "imagenet", nullable=True,
              help='"imagenet": the file Keras caches; null: the architecture from scratch; or an uploaded weights id.'),
        Param("include_top", "bool", False, help="Keep ImageNet's 1000-class classifier: not here; add your own head."),
        Param("pooling", "choice", None, nullable=True, choices=("avg", "max"),
              help="Pool the last feature map to one vector (avg or max), or keep it (null)."),
        Param("trainable", "bool", False, help="Train the backbone's weights too (false: frozen, only the head learns)."),
        Param("input_shape", "shape", None, nullable=True,
              help=f"[rows, cols, 3] the images are resized to; null: {b.default_size}×{b.default_size}."),
    ]
    for name, (default, choices) in b.args.items():
        kind = "bool" if choices == "bool" else "float"
        params.append(Param(name, kind, default, min=0.0 if kind == "float" else None,
                            help=f"keras.applications.{b.type}'s {name}" +
                                 ("" if kind == "bool" else f": one of {', '.join(map(str, choices))}.")))
    doc = (f"keras.applications.{b.type}, without its top, as one block: {b.params:,} parameters, "
           f"{b.layers} layers; input at least {b.min_size}×{b.min_size}, default {b.default_size}×{b.default_size}.")
    return Entry(b.type, tuple(params), doc, input_rank=3, input_hint=IMG, category=CATEGORY,
                 extra={"pretrained": True})


def entries():
    """Give the catalog entries of every backbone, in the table's order."""
    return [_entry(b) for b in TABLE]


def keras_cache(env=None):
    """Give the folder Keras's get_file keeps "models" downloads in: $KERAS_HOME/models or ~/.keras/models."""
    import os
    from pathlib import Path

    env = os.environ if env is None else env
    home = env.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def input_size(layer):
    """Give (rows, cols) the backbone of a canonical layer dict takes."""
    b = BACKBONES[layer["type"]]
    shape = layer.get("input_shape") or [b.default_size, b.default_size, 3]
    return shape[0], shape[1]


def check_layer(index, layer, errors, error):
    """Append the errors of a backbone layer's arguments beyond their kinds: sizes, alpha, include_top."""
    kind, b = layer["type"], BACKBONES[layer["type"]]
    imagenet = layer.get("weights") == "imagenet"
    for name, (_, choices) in b.args.items():
        if choices != "bool" and layer.get(name) not in choices:
            errors.append(error(index, name, f"{kind}: {name} must be one of {', '.join(map(str, choices))} "
                                             f"(the values Keras has ImageNet weights for); got {layer.get(name)!r}."))
            return
    if layer.get("include_top"):
        errors.append(error(index, "include_top", f"{kind}: include_top must be false: ImageNet's 1000-class top "
                                                  "fits no dataset here. Add your own head after it "
                                                  "(pooling \"avg\", then Dense with one unit per class)."))
    shape = layer.get("input_shape")
    if shape is not None and (len(shape) != 3 or shape[2] != 3 or min(shape) < 1):
        errors.append(error(index, "input_shape", f"{kind}: input_shape must be [rows, cols, 3] (the dashboard "
                                                  f"turns grey images into three channels); got {shape}."))
        return
    rows, cols = input_size(layer)
    problem = check_size(kind, rows, cols, imagenet)
    if problem:
        errors.append(error(index, "input_shape", problem))
        return
    if imagenet and weights_file(kind, layer, rows if rows == cols else None) is None:
        errors.append(error(index, "weights", f"{kind}: Keras has no ImageNet weights for these arguments "
                                              f"({', '.join(f'{k}={layer.get(k)}' for k in b.args)}); use weights null."))


def check_weights(index, layer, uploaded, errors, error, env=None):
    """Append an error when the layer's weights are not here: ImageNet's file not in Keras's cache, or an unknown upload.

    uploaded: {id: application type} of the weights this user may use.
    """
    kind, weights = layer["type"], layer.get("weights")
    if weights == "imagenet":
        rows, cols = input_size(layer)
        name = weights_file(kind, layer, rows)
        if name and not (keras_cache(env) / name).is_file():
            errors.append(error(index, "weights", f"{kind}'s ImageNet weights are not here: Keras looks for "
                                                  f"{name} in {keras_cache(env)} (KERAS_HOME/models). Put that "
                                                  "file there (from storage.googleapis.com/tensorflow/keras-"
                                                  "applications/), upload weights, or use weights null."))
    elif weights is not None and uploaded.get(weights) != kind:
        what = f"are for {uploaded[weights]}" if weights in uploaded else "do not exist (or are not yours)"
        errors.append(error(index, "weights", f"{kind}: uploaded weights {weights} {what}; "
                                              "GET /api/weights lists yours."))


def front(layer, name, shape):
    """Give what a backbone needs in front, as [{"type", "kwargs", "note"}] of Keras layers (pure data).

    shape: the (rows, cols, channels) it gets, or None when unknown (an exported script: a Resizing
    always, which leaves an image of that size as it is, and no channel change). The dataset's
    pixels are in [0, 1]; the scaling turns them into what `preprocess_input` makes of [0, 255].
    """
    kind = layer["type"]
    rows, cols = input_size(layer)
    module = f"keras.applications.{BACKBONES[kind].module}.preprocess_input"
    out = []
    if shape is None or tuple(shape[:2]) != (rows, cols):
        got = f"resizes {shape[0]}×{shape[1]} to it" if shape else "resizes to it"
        out.append({"type": "Resizing", "kwargs": {"height": rows, "width": cols, "name": f"{name}_resizing"},
                    "note": f"{kind} takes {rows}×{cols} images (input_shape): {got}"})
    if shape is not None and shape[2] == 1:
        out.append({"type": "Conv2D", "kwargs": {"filters": 3, "kernel_size": 1, "use_bias": False,
                                                 "kernel_initializer": "ones", "trainable": False, "name": f"{name}_to_rgb"},
                    "note": f"{kind} takes three channels: a fixed 1×1 Conv2D (kernel ones, not trained) "
                            "copies grey into R, G and B"})
    mode = scaling(kind, layer)
    if mode == "tf":
        out.append({"type": "Rescaling", "kwargs": {"scale": 2.0, "offset": -1.0, "name": f"{name}_rescaling"},
                    "note": f"[0, 1] pixels to [-1, 1], as {module} does (x / 127.5 - 1 on [0, 255])"})
    elif mode == "torch":
        out.append({"type": "Normalization", "kwargs": {"mean": list(IMAGENET_MEAN), "variance": [
                        round(s * s, 6) for s in IMAGENET_STD], "name": f"{name}_normalization"},
                    "note": f"[0, 1] pixels minus ImageNet's mean, over its standard deviation, as {module} does"})
    elif mode == "caffe":
        out.append({"type": "Conv2D", "kwargs": {"filters": 3, "kernel_size": 1, "trainable": False,
                                                 "name": f"{name}_caffe"},
                    "note": f"RGB to BGR, × 255, minus ImageNet's mean, as {module} does (a fixed 1×1 Conv2D, "
                            "not trained)", "weights": caffe_weights()})
    else:
        out.append({"type": "Rescaling", "kwargs": {"scale": 255.0, "name": f"{name}_rescaling"},
                    "note": f"[0, 1] pixels to [0, 255]: {kind} does its own preprocessing inside"})
    return out


def caffe_weights():
    """Give the fixed caffe Conv2D's [kernel (1, 1, 3, 3), bias (3,)] as lists: RGB to BGR × 255, minus the mean."""
    kernel = [[[[255.0 if out == 2 - rgb else 0.0 for out in range(3)] for rgb in range(3)]]]
    return [kernel, [-m for m in CAFFE_MEAN_BGR]]
