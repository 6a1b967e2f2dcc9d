"""Predict-your-own images are bounded while decoding: a picture too large is refused from its header,
before any pixel is decoded, with a message that says so; a large JPEG is shrunk while it decodes."""

import io
import struct
import zlib

import pytest
from PIL import Image

from webapp.predict import user_image
from webapp.predict.user_image import ImageError, read_image


def png_header_only(width, height):
    """Give a PNG that declares width×height RGB but carries almost no pixel data (a few bytes of a bomb)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [6300, 7000])   # 39.7 and 49 million pixels
def test_a_huge_png_is_refused_from_its_header_with_a_true_message(side):
    with pytest.raises(ImageError) as refused:
        read_image(io.BytesIO(png_header_only(side, side)))
    message = str(refused.value)
    assert f"{side}×{side}" in message and "pixels" in message
    assert "damaged" not in message and "truncated" not in message   # it was never decoded


def test_a_large_jpeg_is_shrunk_while_it_decodes():
    out = io.BytesIO()
    Image.new("RGB", (6000, 4000), (200, 30, 30)).save(out, format="JPEG", quality=50)
    img = read_image(io.BytesIO(out.getvalue()))
    assert img.width * img.height <= user_image.WORK_PIXELS
    assert (img.width, img.height) == (1500, 1000) or max(img.size) <= user_image.WORK_SIDE


def test_what_is_decoded_is_bounded_before_any_conversion():
    out = io.BytesIO()
    Image.new("L", (3000, 3000), 0).save(out, format="PNG")
    img = read_image(io.BytesIO(out.getvalue()))
    assert max(img.size) <= user_image.WORK_SIDE
