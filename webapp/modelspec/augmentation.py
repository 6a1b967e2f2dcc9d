"""Keras's image preprocessing and augmentation layers, as catalog entries.

The Random* layers change images only while `fit` runs (`training=True`), exactly as in Keras; at
evaluate and predict time they pass images through. Rescaling and Resizing act always. An importer
maps `ImageDataGenerator` arguments onto these (see `importers/old_keras.py`). Pure data: no Keras import.
"""

from .entries import IMG, Entry, Param, number

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("bilinear", "nearest")
_WHERE = {"input_rank": 3, "input_hint": IMG, "category": "Augmentation"}


def _factor(name, default, help_text, *, required=True, nullable=False, low=-1.0):
    return Param(name, "float", default, required=required, nullable=nullable, min=low, max=1.0,
                 help=help_text)


def _fill():
    return (Param("fill_mode", "choice", "reflect", choices=FILL_MODES, help="How points outside the image are filled."),
            Param("interpolation", "choice", "bilinear", choices=INTERPOLATIONS, help="How pixels are resampled."),
            number("fill_value", 0.0, low=-1e6, high=1e6, help_text="The value used with fill_mode constant."))


def _size(name):
    return Param(name, "int", 24, required=True, min=1, max=8192, help=f"Output {name} in pixels.")


LAYERS = [
    Entry("Rescaling", (
        number("scale", 1.0, low=-1e6, high=1e6, required=True, help_text="Multiplies every value."),
        number("offset", 0.0, low=-1e6, high=1e6, help_text="Added after scaling."),
    ), "Scales every value: x * scale + offset (always, not only while training).", category="Augmentation"),
    Entry("Resizing", (
        _size("height"), _size("width"),
        Param("interpolation", "choice", "bilinear", choices=("bilinear", "nearest", "bicubic", "area",
                                                              "lanczos3", "lanczos5")),
        Param("crop_to_aspect_ratio", "bool", False, help="Crop instead of stretching to the new aspect ratio."),
    ), "Resizes images to height x width (always, not only while training).", **_WHERE),
    Entry("RandomFlip", (
        Param("mode", "choice", "horizontal_and_vertical", choices=("horizontal", "vertical", "horizontal_and_vertical"),
              help="Which flips are drawn."),
    ), "Flips images at random while training.", **_WHERE),
    Entry("RandomRotation", (
        _factor("factor", 0.1, "Largest rotation as a fraction of a full turn (0.1: up to 36 degrees).", low=0.0),
        *_fill(),
    ), "Rotates images by a random angle while training.", **_WHERE),
    Entry("RandomZoom", (
        _factor("height_factor", 0.1, "Zoom range as a fraction of the height (negative: zoom in)."),
        _factor("width_factor", None, "Zoom range for the width (None: keeps the aspect ratio).",
                required=False, nullable=True),
        *_fill(),
    ), "Zooms images in or out at random while training.", **_WHERE),
    Entry("RandomTranslation", (
        _factor("height_factor", 0.1, "Largest vertical shift as a fraction of the height."),
        _factor("width_factor", 0.1, "Largest horizontal shift as a fraction of the width."),
        *_fill(),
    ), "Shifts images at random while training.", **_WHERE),
    Entry("RandomContrast", (
        _factor("factor", 0.1, "Contrast changes by a random factor in [1 - factor, 1 + factor].", low=0.0),
    ), "Changes the contrast of each image at random while training.", **_WHERE),
    Entry("RandomCrop", (_size("height"), _size("width")),
          "Crops a random height x width window while training. Keras 3 leaves images uncropped at "
          "evaluate and predict time (keras-team/keras#21868), so only layers that take any size may follow.",
          **_WHERE),
]
