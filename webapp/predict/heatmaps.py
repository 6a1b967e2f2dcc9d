"""Small PNG pictures of arrays: channel heat-map grids, time × units maps, saliency overlays, kernels.

Pure numpy and Pillow (no Keras, no Flask). Every picture is bounded in size whatever the array:
big maps are shrunk by area averaging, grids are paged, and the scale never exceeds MAX_SIDE.
"""

import io

import numpy as np

MAX_SIDE = 1024          # no picture is wider or taller than this
TILE = 40                # a channel tile's side, about, in pixels
GAP = 2
# Viridis at 9 stops (matplotlib's), for activations: dark is zero, yellow the layer's strongest.
VIRIDIS = np.array([[68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
                    [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37]], dtype=np.float32)
# Blue, white, red, for signed numbers (kernels): white is zero.
DIVERGING = np.array([[33, 102, 172], [146, 197, 222], [247, 247, 247], [244, 165, 130], [178, 24, 43]],
                     dtype=np.float32)
# Transparent to red to yellow, for saliency laid over the image.
HOT = np.array([[0, 0, 0], [180, 0, 0], [255, 80, 0], [255, 200, 0], [255, 255, 160]], dtype=np.float32)


def colour(values, stops):
    """Give uint8 RGB (..., 3) of values in [0, 1] through the colour stops, linearly between them."""
    v = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float32)), 0.0, 1.0) * (len(stops) - 1)
    low = np.minimum(np.floor(v).astype(np.int64), len(stops) - 2)
    frac = (v - low)[..., None]
    return (stops[low] * (1 - frac) + stops[low + 1] * frac + 0.5).astype(np.uint8)


def shrink(a, max_side):
    """Give a 2-D-leading array (H, W, ...) averaged over blocks so that neither side exceeds max_side."""
    a = np.asarray(a, dtype=np.float32)
    fh, fw = -(-a.shape[0] // max_side), -(-a.shape[1] // max_side)
    if fh == 1 and fw == 1:
        return a
    h, w = a.shape[0] // fh * fh or fh, a.shape[1] // fw * fw or fw
    a = a[:h, :w]
    return a.reshape(h // fh, fh, w // fw, fw, *a.shape[2:]).mean(axis=(1, 3))


def png(rgb):
    """Give PNG bytes of a uint8 (H, W, 3) or (H, W, 4) array."""
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(out, format="PNG", optimize=False)
    return out.getvalue()


def _enlarge(rgb, scale):
    return np.repeat(np.repeat(rgb, scale, axis=0), scale, axis=1) if scale > 1 else rgb


def grid(maps, columns=8, tile=TILE, stops=VIRIDIS, lo=None, hi=None):
    """Give PNG bytes of maps (N, H, W) as a grid of tiles, all on one scale lo..hi (default: their range)."""
    columns = max(1, min(columns, len(maps)))
    maps = np.moveaxis(shrink(np.moveaxis(np.asarray(maps, dtype=np.float32), 0, 2), MAX_SIDE // columns - GAP), 2, 0)
    n, h, w = maps.shape
    lo = float(np.nanmin(maps)) if lo is None else lo
    hi = float(np.nanmax(maps)) if hi is None else hi
    norm = (maps - lo) / (hi - lo) if hi > lo else np.zeros_like(maps)
    scale = max(1, min(tile // max(h, w), (MAX_SIDE // columns - GAP) // max(h, w, 1)))
    return png(_tiled([_enlarge(colour(m, stops), scale) for m in norm], columns))


def matrix(values, max_side=512):
    """Give PNG bytes of a 2-D array (time × units) as one heat-map, rows top to bottom."""
    a = shrink(np.asarray(values, dtype=np.float32), max_side)
    lo, hi = float(a.min()), float(a.max())
    norm = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    scale = max(1, min(8, max_side // max(a.shape)))
    return png(_enlarge(colour(norm, VIRIDIS), scale))


def overlay(image, heat, alpha=0.55, side=192):
    """Give PNG bytes of the image (H, W, C) in [0, 1] with the heat (h, w) in [0, 1] laid over it."""
    from PIL import Image

    img = np.asarray(image, dtype=np.float32)
    gray = img.mean(axis=2) if img.shape[2] != 3 else None
    base = np.repeat(gray[..., None], 3, axis=2) if gray is not None else img
    h, w = base.shape[:2]
    scale = max(1, side // max(h, w)) if max(h, w) < side else 1
    size = (w * scale, h * scale)
    base_img = Image.fromarray((np.clip(base, 0, 1) * 255 + 0.5).astype(np.uint8)).resize(size, Image.Resampling.NEAREST)
    heat_img = Image.fromarray(np.asarray(heat, dtype=np.float32)).resize(size, Image.Resampling.BILINEAR)
    heat = np.clip(np.asarray(heat_img), 0, 1)[..., None]
    mixed = np.asarray(base_img, dtype=np.float32) * (1 - alpha * heat) + colour(heat[..., 0], HOT) * (alpha * heat)
    return png((mixed + 0.5).astype(np.uint8))


def kernels(kernel, tile=48, max_tiles=256):
    """Give PNG bytes of conv kernels (kh, kw, in, out): one tile per filter (per input channel unless RGB)."""
    k = np.asarray(kernel, dtype=np.float32)
    kh, kw, cin, cout = k.shape
    bound = float(np.abs(k).max()) or 1.0
    norm = k / (2 * bound) + 0.5          # zero is white on the blue-white-red scale
    if cin == 3:                          # an RGB filter reads as a colour: one tile per filter
        tiles = [(np.clip(norm[:, :, :, f], 0, 1) * 255 + 0.5).astype(np.uint8) for f in range(cout)]
        columns = 8
    else:
        tiles = [colour(norm[:, :, c, f], DIVERGING) for f in range(cout) for c in range(cin)]
        columns = cin if 1 < cin <= 16 else 8
    scale = max(1, tile // max(kh, kw))
    return png(_tiled([_enlarge(t, scale) for t in tiles[:max_tiles]], columns))


def _tiled(tiles, columns):
    """Give one uint8 RGB picture of equal-sized tiles laid out `columns` wide on white."""
    columns = max(1, min(columns, len(tiles)))
    rows = -(-len(tiles) // columns)
    th, tw = tiles[0].shape[:2]
    out = np.full((rows * (th + GAP) - GAP, columns * (tw + GAP) - GAP, 3), 255, dtype=np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, columns)
        out[r * (th + GAP):r * (th + GAP) + th, c * (tw + GAP):c * (tw + GAP) + tw] = t
    return out
