"""What a built upload leaves: its files in the data dir, and the fields its database row gets.

No database here: a builder process imports this, not the registry, so it starts without
SQLAlchemy. With the embedded executor the builder sends the fields up its pipe and the web
process writes them (`Registry.record`); an RQ work-horse writes them itself through the same call.
"""

import fcntl
import os
from pathlib import Path

from . import npz, pixels, texts
from .data import Data, stats


def upload_dir(data_dir):
    """Give the folder of uploads (arrays, pixel statistics, and incoming/ files) under the data dir."""
    return Path(data_dir) / "datasets"


def arrays_path(folder, ds_id):
    """Give where an upload's arrays are stored (npz.save writes them there)."""
    return folder / f"{ds_id}.npz"


def pixels_path(folder, ds_id):
    """Give where an upload's pixel statistics (mean image per class, histogram) are kept."""
    return folder / f"{ds_id}.pixels.npz"


def incoming(folder, ds_id, kind):
    """Give where an upload's file (`kind`: zip, tar or npz) waits for its builder, creating the folder."""
    (folder / "incoming").mkdir(parents=True, exist_ok=True)
    return folder / "incoming" / f"{ds_id}.{ {'tar': 'tar.gz'}.get(kind, kind)}"


def lock_path(folder, ds_id):
    """Give the file whose flock says that a live process builds an upload (builds.py holds it)."""
    return folder / "incoming" / f"{ds_id}.lock"


def take_lock(folder, ds_id, wait=True):
    """Open and flock an upload's lock file; give its descriptor, or None if another process holds it and not `wait`.

    The lock belongs to the open file, so a builder spawned with this descriptor holds it too, and
    it is released when the last process holding it ends, however it ends (even SIGKILL).
    """
    path = lock_path(folder, ds_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def unlink(folder, ds_id):
    """Delete every file of an upload but its lock: the received file, the arrays (half-written too), the statistics."""
    lock = lock_path(folder, ds_id)
    for path in (arrays_path(folder, ds_id), pixels_path(folder, ds_id), *npz.leftovers(folder, ds_id),
                 *folder.glob(f"incoming/{ds_id}.*")):
        if path != lock:
            path.unlink(missing_ok=True)


def save(folder, ds_id, arrays, class_names, pixel_max, extra=None, kind="image"):
    """Write built arrays as the dataset's file (and an image dataset's pixel statistics); give the fields its row gets (ready).

    kind: "image", "series" (x float32 (N, length, 1)) or "text" (texts.KEYS: a UTF-8 blob and offsets).
    The row is written after this returns, so a ready dataset always has its files.
    """
    k = len(class_names)
    if kind == "text":
        npz.save(folder, ds_id, {key: arrays[key] for key in texts.KEYS})
        fields = {"dtype": "string", "decoded_bytes": int(arrays["texts"].nbytes), **texts.stats(arrays, k)}
    else:
        data = Data(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"], list(class_names),
                    float(pixel_max))
        npz.save(folder, ds_id, {key: arrays[key] for key in npz.REQUIRED})
        if kind == "image":
            pixels.save(pixels_path(folder, ds_id), pixels.compute(data, k))
        fields = {"dtype": str(data.x_train.dtype), "decoded_bytes": data.nbytes, **stats(data, k)}
    return {"num_classes": k, "class_names": list(class_names), "pixel_max": float(pixel_max), "kind": kind,
            **fields, **(extra or {}), "state": "ready", "progress": None}


def failed(message):
    """Give the fields the row of a dataset that could not be built gets (its files are then removed)."""
    return {"state": "failed", "error": message, "progress": None}
