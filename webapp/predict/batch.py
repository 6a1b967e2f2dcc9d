"""A batch predict request made into one model input: several uploaded images, or pixel arrays in the dataset's shape, each checked and bounded.

Pure numpy (and Pillow through user_image.py). An array is in the dataset's own pixel values
(0..pixel_max: 0..16 for the 8×8 digits, 0..255 for most images) and is scaled here as the
trainer scales (/ pixel_max); an image goes through the same steps as predict-one's upload.
"""

import numpy as np

from . import user_image

MAX_TOTAL_BYTES = 32 * 2**20   # one batch request's body: every image part, or the JSON of its instances


class BatchError(ValueError):
    """A batch that cannot be predicted: the field (`instances[3]`, `image[1]`, ...) and what would be accepted."""

    def __init__(self, field, message):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, f"{field}: {message}"


def counted(items, field, max_count):
    """Give `items` as a list of 1..max_count, or raise BatchError naming `field`."""
    if not isinstance(items, list) or not items:
        raise BatchError(field, "send a non-empty list (one entry per instance).")
    if len(items) > max_count:
        raise BatchError(field, f"{len(items)} instances, more than the {max_count} one request may send "
                                "(KD_MAX_PREDICT_BATCH); split them into several requests.")
    return items


def from_arrays(instances, shape, pixel_max, max_count):
    """Give float32 (N, *shape) scaled to [0, 1] from JSON pixel arrays; BatchError names the first wrong instance.

    An instance is nested lists of numbers of the dataset's shape (H, W, C); one channel may leave C out.
    """
    counted(instances, "instances", max_count)
    shape = tuple(int(n) for n in shape)
    allowed = [shape] + ([shape[:-1]] if shape[-1] == 1 else [])
    out = np.empty((len(instances), *shape), dtype=np.float32)
    for i, instance in enumerate(instances):
        field = f"instances[{i}]"
        try:
            array = np.asarray(instance, dtype=np.float32)
        except (ValueError, TypeError):
            raise BatchError(field, f"not an array of numbers of shape {list(shape)} (nested lists, all rows alike).") from None
        if array.shape not in allowed:
            raise BatchError(field, f"shape {list(array.shape)}; this run's dataset takes {list(shape)}"
                                    f"{' (or ' + str(list(shape[:-1])) + ')' if len(allowed) > 1 else ''}.")
        if not np.isfinite(array).all() or array.min() < 0 or array.max() > pixel_max:
            raise BatchError(field, f"values must be the dataset's pixel values, 0 to {pixel_max:g}.")
        out[i] = array.reshape(shape) / np.float32(pixel_max)
    return out


def from_images(files, look, max_count, max_bytes=user_image.MAX_BYTES):
    """Give float32 (N, H, W, C) from uploaded image files, each read and fitted as predict-one's upload."""
    counted(files, "image", max_count)
    out = np.empty((len(files), look.height, look.width, look.channels), dtype=np.float32)
    for i, file in enumerate(files):
        try:
            out[i] = user_image.to_input(user_image.read_image(file.stream, max_bytes), look)[0][0]
        except user_image.ImageError as exc:
            raise BatchError(f"image[{i}]", str(exc).removeprefix("image: ")) from None
    return out


def chunks(n, per_call):
    """Give the (start, stop) slices that run n instances at most `per_call` at a time."""
    per_call = max(1, int(per_call))
    return [(start, min(n, start + per_call)) for start in range(0, n, per_call)]
