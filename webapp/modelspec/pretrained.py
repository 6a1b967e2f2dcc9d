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
             "efficientnetv2-b0_notop.h5", 1280, {"include_preprocessing": (True, "bool")}, None, "tf"),
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
