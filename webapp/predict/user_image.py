"""A user's own image (an upload or a canvas drawing) made into an input the run's model expects.

The model was trained on the dataset's images scaled to [0, 1], so a new image must look like
them: the same channels and size, the same scaling, and for digit-like data (grayscale, light ink on
a dark background, like MNIST and the 8×8 digits) the same conventions: white on black, the digit
cropped to its ink and centred with the margin the dataset's digits have. Pure numpy and Pillow.
"""

import io
import warnings
from dataclasses import dataclass

import numpy as np

MAX_BYTES = 10 * 2**20
# Pixels decoded at full size are the memory an upload costs (a 165 KB PNG can declare 6300×6300),
# so the header's size is checked before decoding: at most MAX_PIXELS after a JPEG's own shrinking.
MAX_PIXELS = 16_000_000
WORK_SIDE = 1024             # every image is shrunk to fit this square before any conversion
WORK_PIXELS = WORK_SIDE * WORK_SIDE
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")   # no formats that call external programs (EPS)
TOO_MANY = (f"too many pixels to decode (at most {MAX_PIXELS // 1_000_000} million; a JPEG may be larger, "
            "it is shrunk while decoding); send a smaller image.")
INK = 0.25                   # a pixel brighter than this (of the image's range) is ink on a dark background


class ImageError(ValueError):
    """An image that cannot be used; str() says what is wrong and what would be accepted."""


@dataclass
class Look:
    """What a dataset's images look like: shape, pixel range, brightness, and how much a digit fills."""

    height: int
    width: int
    channels: int
    pixel_max: float
    mean: float          # mean brightness in [0, 1]
    fill: float          # median share of the frame a digit's ink spans (MNIST about 0.7, 8×8 digits 1.0)

    @property
    def digit_like(self):
        """Give True for grayscale images of light ink on a dark background (MNIST, digits, Fashion-MNIST)."""
        return self.channels == 1 and self.mean < 0.4

    def to_dict(self):
        """Give the look as JSON-ready data (the gallery page shows the canvas for digit-like data)."""
        return {"height": self.height, "width": self.width, "channels": self.channels, "pixel_max": self.pixel_max,
                "mean": round(self.mean, 4), "fill": round(self.fill, 4), "digit_like": self.digit_like}


def dataset_look(x_train, pixel_max, sample=1000):
    """Give the Look of a dataset from (up to) its first `sample` training images (N, H, W, C)."""
    x = np.asarray(x_train[:sample], dtype=np.float32) / float(pixel_max)
    _, height, width, channels = x.shape
    fills = []
    for img in x[:300, :, :, 0] if channels == 1 else []:
        rows, cols = np.flatnonzero((img > INK).any(axis=1)), np.flatnonzero((img > INK).any(axis=0))
        if rows.size:
            fills.append(max((rows[-1] - rows[0] + 1) / height, (cols[-1] - cols[0] + 1) / width))
    return Look(height, width, channels, float(pixel_max), float(x.mean()) if x.size else 0.0,
                float(np.median(fills)) if fills else 1.0)


def read_image(stream, max_bytes=MAX_BYTES):
    """Give the decoded Pillow image of an uploaded file, at most WORK_SIDE pixels a side.

    ImageError says why it cannot be used. The size is judged from the header, before decoding.
    """
    from PIL import Image, UnidentifiedImageError

    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImageError(f"image: the file is larger than {max_bytes // 2**20} MB; send a smaller image.")
    if not data:
        raise ImageError("image: the file is empty; send a PNG, JPEG, GIF, BMP, WebP or TIFF image.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return _decode_small(Image.open(io.BytesIO(data), formats=FORMATS))
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError("image: the file is not an image; send a PNG, JPEG, GIF, BMP, WebP or TIFF image.") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"image: the image has {TOO_MANY}") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
        raise ImageError(f"image: the file is damaged or truncated and could not be decoded ({exc}).") from None


def _decode_small(img):
    """Decode an opened image shrunk to fit WORK_SIDE: a JPEG while decoding (draft), others right after."""
    from PIL import ImageOps

    width, height = img.size
    img.draft(img.mode if img.mode in ("L", "RGB") else None, (WORK_SIDE, WORK_SIDE))   # JPEG only: 1/2..1/8
    if img.width * img.height > MAX_PIXELS:
        raise ImageError(f"image: {width}×{height} is {width * height / 1e6:.1f} million pixels, {TOO_MANY}")
    img.load()
    img.thumbnail((WORK_SIDE, WORK_SIDE), reducing_gap=None)   # the model's input is smaller still
    return ImageOps.exif_transpose(img)


def _flatten_alpha(img):
    """Give an RGB image: transparency filled with black under light ink, with white under dark ink.

    A canvas or a sticker-like PNG is only ink where it is opaque, so the fill is whatever makes
    the ink stand out, not a fixed colour.
    """
    from PIL import Image

    rgba = img.convert("RGBA")
    pixels = np.asarray(rgba, dtype=np.float32)
    alpha = pixels[..., 3] / 255.0
    ink = (pixels[..., :3].mean(axis=2) * alpha).sum() / max(alpha.sum(), 1e-6)
    background = Image.new("RGBA", rgba.size, (0, 0, 0, 255) if ink > 127 else (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _ink_box(gray):
    """Give the bounding box (left, top, right, bottom) of the ink of a white-on-black image, or None."""
    rows = np.flatnonzero((gray > INK * 255).any(axis=1))
    cols = np.flatnonzero((gray > INK * 255).any(axis=0))
    if not rows.size:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _fit(img, width, height, fill_colour):
    """Give img scaled to fit width×height, aspect kept, centred on a fill_colour canvas."""
    from PIL import Image

    scale = min(width / img.width, height / img.height)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    # Shrinking averages areas (BOX), as the 8×8 digits were made by counting pixels in 4×4 blocks.
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BICUBIC
    small = img.resize(size, resample)
    canvas = Image.new(img.mode, (width, height), fill_colour)
    canvas.paste(small, ((width - size[0]) // 2, (height - size[1]) // 2))
    return canvas


def _edge_colour(img):
    """Give the median colour of an image's outermost pixels (its background, for padding)."""
    a = np.asarray(img)
    edge = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]]).reshape(-1, 1 if a.ndim == 2 else a.shape[2])
    colour = tuple(int(v) for v in np.median(edge, axis=0))
    return colour[0] if a.ndim == 2 else colour


def to_input(img, look):
    """Give (x float32 (1, H, W, C) scaled as the trainer scales, the same image as uint8 (H, W, C)).

    Steps: flatten transparency; convert to L or RGB by the dataset's channels; invert when the
    image is dark-on-light but the dataset is light-on-dark (or the other way), judged by mean
    brightness; for digit-like data crop to the ink, stretch its contrast, and fit it into the
    share of the frame the dataset's digits fill; otherwise fit the whole image. Fitting keeps the
    aspect ratio and pads (a stretched digit is a different digit; MNIST's are centred with a
    border). Last, pixels are rounded to the dataset's levels (0..16 for the digits) and scaled.
    """
    from PIL import ImageOps

    if look.channels not in (1, 3):
        raise ImageError(f"image: this dataset's images have {look.channels} channels; only grayscale (1) or "
                         "colour (3) inputs can be made from an image file.")
    has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    img = _flatten_alpha(img) if has_alpha else img.convert("RGB")
    img = img.convert("L" if look.channels == 1 else "RGB")
    if look.channels == 1 and abs(look.mean - 0.5) > 0.1:
        image_dark = np.asarray(img, dtype=np.float32).mean() / 255 < 0.5
        if image_dark != (look.mean < 0.5):
            img = ImageOps.invert(img)
    if look.digit_like:
        img = ImageOps.autocontrast(img, cutoff=1)
        box = _ink_box(np.asarray(img))
        if box:
            img = img.crop(box)
        fill = min(max(look.fill, 0.3), 1.0)
        inner = _fit(img, max(1, round(look.width * fill)), max(1, round(look.height * fill)), 0)
        img = _fit(inner, look.width, look.height, 0)
    else:
        img = _fit(img, look.width, look.height, _edge_colour(img))
    pixels = np.asarray(img, dtype=np.float32).reshape(look.height, look.width, look.channels)
    levels = np.round(pixels / 255.0 * look.pixel_max)   # the dataset's own pixel values
    x = (levels / look.pixel_max).astype(np.float32)[None]
    return x, (levels / look.pixel_max * 255 + 0.5).astype(np.uint8)


def png_bytes(pixels, scale=1, compress_level=6):
    """Give PNG bytes of a uint8 (H, W, C) image, enlarged `scale` times with nearest neighbours.

    compress_level is zlib's (0-9): the same pixels either way, a lower level sooner and larger.
    """
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels))
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    out = io.BytesIO()
    img.save(out, format="PNG", compress_level=compress_level)
    return out.getvalue()
