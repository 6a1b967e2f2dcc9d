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

    The header pass has already bounded its size, so it is opened without the bomb check. An 8-bit
    PNG already at the target's size and mode goes straight to Pillow's PNG decoder (the same pixels,
    in a third of the time); a truncated or corrupt one raises ValueError there.
    """
    from PIL import Image

    h, w, c = shape
    mode = "L" if c == 1 else "RGB"
    if head_size(data) == (h, w, mode) and data[24] == 8 and data[28] == 0:   # 8-bit, not interlaced
        return np.asarray(Image.frombytes(mode, (w, h), _png_data(data), "zip", mode)).reshape(h, w, c)
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


def _png_data(data):
    """Give a PNG's image data (its IDAT chunks joined), for Pillow's zip decoder to read as Image.open would.

    A PNG already at the target size and mode needs nothing else, and Image.open's chunk reading
    took most of the time such a small image costs (about 100 µs of 120).
    """
    parts, at = [], 33   # after the signature and IHDR
    while at + 8 <= len(data):
        size, kind = int.from_bytes(data[at:at + 4], "big"), data[at + 4:at + 8]
        if kind == b"IEND":
            break
        if kind == b"IDAT":
            parts.append(data[at + 8:at + 8 + size])
        at += 12 + size
    return b"".join(parts)
