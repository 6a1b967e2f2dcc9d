"""Folder archives read without HTTP: every image mode's colour-mode default and pixels, and the zip variants the reader meets."""

import io
import tarfile
import zipfile

import numpy as np
import pytest
from PIL import Image

from webapp.datasets import folders

GREY = np.array([[0, 64], [128, 255]], np.uint8)


def png(img, fmt="PNG"):
    out = io.BytesIO()
    img.save(out, format=fmt)
    return out.getvalue()


def grey_palette():
    """A mode P image whose palette holds greys only (as an indexed PNG of a grayscale picture)."""
    img = Image.fromarray(GREY).convert("P")
    assert img.mode == "P"
    return img


def colour_palette():
    img = Image.new("P", (2, 2))
    img.putpalette([255, 0, 0, 0, 0, 255] + [0, 0, 0] * 254)
    img.putdata([0, 1, 0, 1])
    return img


def sixteen_bit():
    return Image.fromarray(GREY.astype(np.uint16) * 257)   # I;16: 0, 64·257, 128·257, 65535


def ingest(tmp_path, images, kind="zip", ext="png", **options):
    """Ingest two classes of two images each, both built by `images()`; give (x of every image, facts)."""
    files = [f"{c}/{i}.{ext}" for c in "ab" for i in range(2)]
    path = tmp_path / ("up.zip" if kind == "zip" else "up.tar.gz")
    if kind == "zip":
        with zipfile.ZipFile(path, "w") as z:
            for name in files:
                z.writestr(name, images())
    else:
        with tarfile.open(path, "w:gz") as t:
            for name in files:
                data = images()
                info = tarfile.TarInfo(name)
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    arrays, _, _, facts = folders.ingest(path, kind, folders.Options(**options),
                                                 {"max_images": 100, "max_bytes": 2**20})
    return np.concatenate([arrays["x_train"], arrays["x_test"]]), facts


def gif():
    return png(Image.fromarray(GREY), "GIF")


@pytest.mark.parametrize("make, mode, first", [
    (lambda: png(grey_palette()), "grayscale", GREY),
    (gif, "grayscale", GREY),
    (lambda: png(Image.fromarray(GREY).convert("LA")), "grayscale", GREY),
    (lambda: png(Image.fromarray(GREY).convert("1")), "grayscale", np.where(GREY >= 128, 255, 0)),
    (lambda: png(sixteen_bit()), "grayscale", GREY),          # the high byte, as TensorFlow decodes 16-bit PNGs
    (lambda: png(colour_palette()), "rgb", np.array([[[255, 0, 0], [0, 0, 255]], [[255, 0, 0], [0, 0, 255]]])),
    (lambda: png(Image.fromarray(np.stack([GREY] * 3 + [GREY], -1), "RGBA")), "rgb", np.stack([GREY] * 3, -1)),
])
@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_each_image_mode_gets_the_colour_mode_and_pixels_convert_gives(tmp_path, make, mode, first, kind):
    x, facts = ingest(tmp_path, make, kind, "gif" if make is gif else "png")
    assert facts["color_mode"] == mode and facts["unreadable_count"] == 0
    assert x.shape == (4, 2, 2, 1 if mode == "grayscale" else 3)
    assert (x == np.asarray(first, np.uint8).reshape(x.shape[1:])).all()


def test_a_grey_palette_beside_rgb_images_makes_the_set_rgb_and_greys_stay_grey(tmp_path):
    count = iter(range(100))

    def mixed():
        return png(grey_palette() if next(count) % 2 else Image.fromarray(np.stack([GREY] * 3, -1)))

    x, facts = ingest(tmp_path, mixed)
    assert facts["color_mode"] == "rgb" and (x == np.stack([GREY] * 3, -1)).all()


def test_an_rgb_palette_asked_for_in_grayscale_is_converted_by_luma(tmp_path):
    x, facts = ingest(tmp_path, lambda: png(colour_palette()), color_mode="grayscale")
    red, blue = Image.new("RGB", (1, 1), (255, 0, 0)).convert("L").getpixel((0, 0)), \
        Image.new("RGB", (1, 1), (0, 0, 255)).convert("L").getpixel((0, 0))
    assert facts["color_mode"] == "grayscale" and (x[:, 0, :, 0] == [red, blue]).all()


def zip_bytes(compression=zipfile.ZIP_DEFLATED, zip64=False, comment=b""):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as z:
        z.comment = comment
        for c in "ab":
            for i in range(2):
                with z.open(f"set/{c}/{i}.png", "w", force_zip64=zip64) as f:
                    f.write(png(Image.fromarray(GREY)))
    return out.getvalue()


@pytest.mark.parametrize("data", [
    zip_bytes(zipfile.ZIP_STORED), zip_bytes(zip64=True), zip_bytes(comment=b"made by a camera"),
    b"#!/bin/sh\nexit 0\n" + zip_bytes(),            # a self-extracting stub before the zip: offsets shift
    zip_bytes(zipfile.ZIP_BZIP2),                     # neither stored nor deflated: read through zipfile
], ids=["stored", "zip64", "comment", "stub", "bzip2"])
def test_the_zip_reader_finds_every_image_of_each_zip_variant(tmp_path, data):
    (tmp_path / "up.zip").write_bytes(data)
    arrays, names, _, facts = folders.ingest(tmp_path / "up.zip", "zip", folders.Options(),
                                                 {"max_images": 100, "max_bytes": 2**20})
    assert names == ["a", "b"] and facts["unreadable_count"] == 0
    assert (np.concatenate([arrays["x_train"], arrays["x_test"]])[..., 0] == GREY).all()


@pytest.mark.parametrize("data", [b"PK\x05\x06" + bytes(10), zip_bytes()[:-30], b"not a zip at all"])
def test_a_cut_or_false_zip_is_refused_as_unreadable(tmp_path, data):
    (tmp_path / "up.zip").write_bytes(data)
    with pytest.raises(folders.UploadError, match="not a readable .zip"):
        folders.ingest(tmp_path / "up.zip", "zip", folders.Options(), {"max_images": 100, "max_bytes": 2**20})


def saved(img, **options):
    out = io.BytesIO()
    img.save(out, format="PNG", **options)
    return out.getvalue()


NOISE = np.random.default_rng(0).integers(0, 256, (200, 300, 3), dtype=np.uint8)
TEXT = __import__("PIL.PngImagePlugin", fromlist=["PngInfo"]).PngInfo()
TEXT.add_text("Comment", "a chunk before the image data")


@pytest.mark.parametrize("data, mode", [
    (saved(Image.fromarray(NOISE[:28, :28, 0])), "L"),
    (saved(Image.fromarray(NOISE)), "RGB"),                                           # several IDAT chunks
    (saved(Image.fromarray(NOISE[:28, :28, 0]), pnginfo=TEXT, transparency=0), "L"),  # tEXt and tRNS first
], ids=["gray", "rgb", "chunks"])
def test_a_png_at_the_target_size_and_mode_reads_as_pillow_opens_it_without_image_open(data, mode, monkeypatch):
    from webapp.datasets import images

    expected = np.asarray(Image.open(io.BytesIO(data)))
    shape = (*expected.shape[:2], 1 if mode == "L" else 3)
    assert data.count(b"IDAT") > (1 if mode == "RGB" else 0)
    monkeypatch.setattr(Image, "open", lambda *a, **k: pytest.fail("Image.open was used"))
    assert np.array_equal(images.pixels(data, shape), expected.reshape(shape))
    with pytest.raises(ValueError):   # its image data cut short: unreadable (decode() counts it)
        images.pixels(data[:len(data) // 2], shape)
