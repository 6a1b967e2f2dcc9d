"""One image file's bytes: its size and mode from the header alone, whether it is grey, its pixels at a target shape.

Pillow and numpy only. What counts as grayscale, and how pixels convert, follow what Keras users
get: Pillow's convert("L") for palettes and RGB, and the high byte of 16-bit PNGs (TensorFlow's
decode_png to uint8).
"""

import io
import warnings

import numpy as np

FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
MAX_PIXELS = 40_000_000             # one image larger than this is not decoded (a decompression bomb)
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")
SIXTEEN_BIT = ("I", "I;16", "I;16B", "I;16L")   # 16-bit PNGs (Pillow opens some as I)
PNG_MODES = {0: "L", 2: "RGB", 4: "LA", 6: "RGBA"}   # 3, a palette, is left to Pillow: are its colours grey?


def head_size(data):
    """Give (height, width, mode) from a PNG's IHDR (its first 33 bytes), or None for anything else."""
    if len(data) < 33 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    mode = PNG_MODES.get(data[25])
    if mode is None or not width or not height or width * height > MAX_PIXELS:
        return None   # Pillow looks at it, and says what is wrong
    return height, width, "I;16" if mode == "L" and data[24] == 16 else mode


def is_gray(img):
    """Say whether an image is grayscale as convert("L") sees it: a gray mode, or a palette of greys only."""
    if img.mode in ("P", "PA") and img.palette is not None:
        rawmode, colours = img.palette.getdata()   # the palette as read with the header; no pixel decoded
        rgb = np.frombuffer(colours, np.uint8)[:len(colours) // len(rawmode) * len(rawmode)]
        rgb = rgb.reshape(-1, len(rawmode))[:, :3]
        return rawmode.startswith("RGB") and bool((rgb == rgb[:, :1]).all())
    return img.mode in GRAY_MODES


def open_image(data):
    """Give the Pillow image of a file's bytes (header read, pixels not yet), or the reason it is unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError:
        return "not an image Pillow recognises"
    except (Image.DecompressionBombError, Image.DecompressionBombWarning, OSError, SyntaxError, ValueError) as exc:
        return f"unreadable ({exc})"
    if img.width * img.height > MAX_PIXELS:
        return f"{img.width}×{img.height} is too many pixels to decode safely"
    return img


def pixels(data, shape):
    """Give an image file's pixels as uint8 (H, W, C) of the target shape: drafted (JPEG), converted, resized.

    The header pass has already bounded its size, so it is opened without the bomb check.
    """
    from PIL import Image

    h, w, c = shape
    mode = "L" if c == 1 else "RGB"
    img = Image.open(io.BytesIO(data), formats=FORMATS)
    if img.format == "JPEG":
        img.draft(mode, (w, h))   # decodes at a reduced scale when that is still >= the target
    if img.mode in SIXTEEN_BIT:   # the high byte, as TensorFlow's decode_png gives 16-bit PNGs as uint8
        img = Image.fromarray((np.asarray(img).astype(np.int64).clip(0, 65535) >> 8).astype(np.uint8))
    if img.mode != mode:
        if img.mode in ("LA", "PA") or (img.mode == "P" and "transparency" in img.info):
            img = img.convert("RGBA")   # transparency: dropped, as Keras's load_img does
        img = img.convert(mode)
    if img.size != (w, h):
        img = img.resize((w, h), Image.Resampling.BILINEAR)   # Keras's default interpolation
    return np.asarray(img).reshape(h, w, c)
