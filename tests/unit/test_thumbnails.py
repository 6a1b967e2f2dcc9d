"""The sprite's layout, bounds, identity and cache (no Flask, no TensorFlow)."""

import io

import numpy as np
import pytest
from PIL import Image

from webapp.predict import thumbnails
from webapp.predict.user_image import png_bytes


def test_tiles_go_ten_a_row_and_the_sprite_is_the_singles_side_by_side():
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (3, 5, 3), dtype=np.uint8) for _ in range(13)]
    assert thumbnails.layout(13, 3, 5, 2) == (10, 2, 100, 12)
    assert thumbnails.layout(4, 3, 5, 2) == (4, 1, 40, 6)
    sprite = np.asarray(Image.open(io.BytesIO(thumbnails.sprite_png(images, 2))))
    assert sprite.shape == (12, 100, 3)
    for k, img in enumerate(images):
        single = np.asarray(Image.open(io.BytesIO(png_bytes(img, 2))))
        top, left = 6 * (k // 10), 10 * (k % 10)
        assert np.array_equal(sprite[top:top + 6, left:left + 10], single)
    assert not sprite[6:, 30:].any()


@pytest.mark.parametrize("count, side, scale, field", [(201, 8, 1, "limit"), (200, 8, 32, "scale"), (1, 3000, 1, "scale")])
def test_too_many_tiles_or_pixels_are_refused_naming_the_field(count, side, scale, field):
    with pytest.raises(thumbnails.SpriteError, match=f"^{field}:"):
        thumbnails.check(count, side, side, scale)


def test_the_gallery_page_of_mnist_and_cifar_sized_images_is_allowed():
    thumbnails.check(100, 28, 28, 3)
    thumbnails.check(100, 32, 32, 3)
    thumbnails.check(200, 8, 8, 9)


def test_the_etag_follows_the_pixels_only():
    tag = thumbnails.etag("digits", None, [3, 1, 2], 9)
    assert tag == thumbnails.etag("digits", None, np.array([3, 1, 2]), 9)
    others = [thumbnails.etag("digits", None, [1, 2, 3], 9), thumbnails.etag("digits", None, [3, 1, 2], 8),
              thumbnails.etag("other", None, [3, 1, 2], 9), thumbnails.etag("digits", "2026-01-01", [3, 1, 2], 9)]
    assert tag not in others and len(set(others)) == 4


def test_the_cache_forgets_the_least_recently_used_beyond_its_bytes():
    cache = thumbnails.SpriteCache(max_bytes=10)
    cache.put("a", b"aaaa")
    cache.put("b", b"bbbb")
    assert cache.get("a") == b"aaaa"     # now b is the least recently used
    cache.put("c", b"cccc")
    assert cache.get("b") is None and cache.get("a") == b"aaaa" and cache.get("c") == b"cccc"
