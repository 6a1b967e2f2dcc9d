"""A gallery page's thumbnails as one sprite: the page's test images side by side in one PNG.

A page of 100 thumbnails fetched one by one costs 100 requests; one sprite costs one. Tile k of a
sprite sits at column k % columns, row k // columns, each tile the image enlarged `scale` times with
nearest neighbours, exactly as the single-image endpoint draws it (the same `png_bytes`), so a tile's
pixels are the single thumbnail's. The sprite's identity (its ETag) is what decides its pixels: the
dataset, the test indexes in page order, the scale and the layout. Pure numpy and Pillow: no Flask.
"""

import collections
import hashlib
import threading

import numpy as np

from .user_image import png_bytes

COLUMNS = 10                   # tiles per row; the client places tile k from this and the tile size
MAX_TILES = 200                # a sprite shows at most this many images (the gallery asks 100)
MAX_PIXELS = 8_000_000         # a sprite's width × height at most: about 32 MB of RGBA while it is drawn
LAYOUT = "1"                   # changes when the layout rule does, so old ETags stop matching
# zlib level 1: a 100-tile sprite of noisy 28×28 images encodes 2× sooner than at 6 (about 20% larger),
# flat 8×8 digits 10× sooner; the sprite is cached, but the first viewer waits for its encoding.
COMPRESS_LEVEL = 1


class SpriteError(ValueError):
    """A sprite that may not be drawn (too many tiles or pixels); str() says what would be accepted."""


def layout(count, height, width, scale):
    """Give (columns, rows, sprite width, sprite height) for `count` tiles of a height×width image at `scale`."""
    columns = max(1, min(count, COLUMNS))
    rows = -(-count // columns)
    return columns, rows, columns * width * scale, rows * height * scale


def check(count, height, width, scale):
    """Raise SpriteError unless a sprite of `count` tiles stays within MAX_TILES and MAX_PIXELS."""
    if count > MAX_TILES:
        raise SpriteError(f"limit: a sprite shows at most {MAX_TILES} images; got {count}. Ask a smaller limit.")
    _, _, sprite_w, sprite_h = layout(count, height, width, scale)
    if sprite_w * sprite_h > MAX_PIXELS:
        raise SpriteError(f"scale: {count} images of {width}×{height} at scale {scale} would make a {sprite_w}×{sprite_h} "
                          f"sprite, more than {MAX_PIXELS // 1_000_000} million pixels; ask a smaller scale or limit.")


def etag(dataset_id, dataset_version, indexes, scale):
    """Give the strong ETag of the sprite of these test images (page order) of a dataset at `scale`."""
    digest = hashlib.sha256(f"{LAYOUT}|{dataset_id}|{dataset_version}|{scale}|{COLUMNS}|".encode())
    digest.update(np.asarray(indexes, dtype="<i8").tobytes())
    return digest.hexdigest()[:32]


def sprite_png(images, scale):
    """Give the PNG bytes of the sprite of `images` (uint8 (H, W, C) each, all one shape), enlarged `scale` times.

    Call check() first: it bounds what this allocates.
    """
    height, width, channels = images[0].shape
    columns, rows, _, _ = layout(len(images), height, width, 1)
    grid = np.zeros((rows * height, columns * width, channels), dtype=np.uint8)   # unused cells: black / clear
    for k, img in enumerate(images):
        top, left = (k // columns) * height, (k % columns) * width
        grid[top:top + height, left:left + width] = img
    # Enlarging the whole grid with nearest neighbours enlarges every tile alike, by whole pixels.
    return png_bytes(grid, scale, COMPRESS_LEVEL)


class SpriteCache:
    """The last sprites drawn, by ETag, up to `max_bytes` of PNG: a room of viewers asks for the same pages."""

    def __init__(self, max_bytes=32 * 2**20):
        self.max_bytes = max_bytes
        self._items = collections.OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key):
        """Give the PNG bytes kept under `key`, or None."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key, png):
        """Keep `png` under `key`, forgetting the least recently used sprites beyond max_bytes."""
        with self._lock:
            if key not in self._items:
                self._items[key] = png
                self._bytes += len(png)
            while self._bytes > self.max_bytes and self._items:
                self._bytes -= len(self._items.popitem(last=False)[1])
