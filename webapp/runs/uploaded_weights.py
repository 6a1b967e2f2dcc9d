"""Uploaded weights files for pretrained backbones: received, checked in a process of their own, stored, listed, deleted.

A file is kept as `<data dir>/weights/<id><.weights.h5 | .h5>` (the suffix tells Keras's
load_weights which layout it is), with a row in the `weights` table. Pure bookkeeping here; the
loading happens in weights_check.py's process, so the web process never holds a big model.
"""

import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path, PurePath

from sqlalchemy import select

from ..db.store import Weights
from ..modelspec import pretrained

SUFFIXES = (".weights.h5", ".h5")
FOLDER = "weights"
CHECK_TIMEOUT_S = 300
# One check at a time per web process: each loads a whole application (TensorFlow and up to ~100 MB of
# weights) in a process of its own, so many uploads at once would cost many such processes.
CHECKING = threading.BoundedSemaphore(1)


class WeightsError(ValueError):
    """A refused upload or request: `status` (400, 404, 422, 429), `field`, and the message."""

    def __init__(self, status, field, message):
        super().__init__(message)
        self.status, self.field = status, field


def folder(data_dir):
    """Give the folder uploaded weights files are kept in."""
    return Path(data_dir) / FOLDER


def _suffix(filename):
    """Give the Keras weights suffix the file's name ends in, or None."""
    name = PurePath(filename or "").name.lower()
    return next((s for s in SUFFIXES if name.endswith(s)), None)


def _checked(model, args, path):
    """Give weights_check's answer for a file, from its own process (bounded by CHECK_TIMEOUT_S)."""
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    try:
        done = subprocess.run([sys.executable, "-m", "webapp.runs.weights_check", model, json.dumps(args), str(path)],
                              capture_output=True, text=True, timeout=CHECK_TIMEOUT_S, env=env, cwd=root)
    except subprocess.TimeoutExpired:
        return {"ok": False, "message": f"loading it took longer than {CHECK_TIMEOUT_S} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"ok": False, "message": "it could not be read as a Keras weights file"}
    return json.loads(lines[-1])


def receive(store, data_dir, owner_id, model, args, filename, save, max_per_owner=None):
    """Check and keep an uploaded file; give its JSON description or raise WeightsError.

    save(path) writes the upload to a path (werkzeug's FileStorage.save).
    """
    if model not in pretrained.BACKBONES:
        raise WeightsError(422, "model", f"model must name a backbone: {', '.join(pretrained.BACKBONES)}; got {model!r:.60}.")
    suffix = _suffix(filename)
    if suffix is None:
        raise WeightsError(400, "file", f"file must be a Keras weights file ending in .weights.h5 or .h5; got {filename!r:.80}.")
    if max_per_owner is not None and len(listing(store, owner_id)) >= max_per_owner:
        raise WeightsError(422, "file", f"You keep {max_per_owner} weights files, the most one user may "
                                        "(KD_MAX_WEIGHTS_PER_USER); delete one you no longer use first.")
    if not CHECKING.acquire(blocking=False):
        raise WeightsError(429, "file", "Another weights file is being checked on this server; try again in a minute.")
    try:
        return _keep(store, data_dir, owner_id, model, args, filename, save, suffix)
    finally:
        CHECKING.release()


def _keep(store, data_dir, owner_id, model, args, filename, save, suffix):
    """Save the upload beside the others, check it loads into `model`, and record it; give its description."""
    target = folder(data_dir)
    target.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=target, suffix=".part" + suffix)
    os.close(handle)
    try:
        save(temp)
        answer = _checked(model, args, temp)
        if not answer.get("ok"):
            raise WeightsError(422, "file", f"{PurePath(filename).name} does not fit {model}: {answer.get('message')}")
        with store.session() as s:
            row = Weights(owner_id=owner_id, model=model, name=PurePath(filename).name[:200], args=args,
                          size_bytes=os.path.getsize(temp))
            s.add(row)
            s.flush()
            os.replace(temp, target / f"{row.id}{suffix}")   # inside the transaction: no row without its file
            return describe(row)
    finally:
        if os.path.exists(temp):
            os.remove(temp)


def describe(row):
    """Give the JSON form of one weights row."""
    return {"id": row.id, "model": row.model, "name": row.name, "args": row.args, "size_bytes": row.size_bytes,
            "owner_id": row.owner_id, "created_at": row.created_at.isoformat() if row.created_at else None}


def listing(store, owner_id=None):
    """Give the weights a user may use (every one for owner_id None), newest first."""
    with store.session() as s:
        query = select(Weights).order_by(Weights.id.desc())
        if owner_id is not None:
            query = query.where(Weights.owner_id == owner_id)
        return [describe(row) for row in s.scalars(query)]


def usable(store, owner_id=None):
    """Give {id: application type} of the weights a spec of this user may name."""
    return {w["id"]: w["model"] for w in listing(store, owner_id)}


def delete(store, data_dir, weights_id):
    """Delete one upload and its file; raise WeightsError 404 when there is none."""
    with store.session() as s:
        row = s.get(Weights, weights_id)
        if row is None:
            raise WeightsError(404, None, f"There are no uploaded weights {weights_id}.")
        s.delete(row)
    for suffix in SUFFIXES:
        path = folder(data_dir) / f"{weights_id}{suffix}"
        if path.exists():
            path.unlink()
