"""An export's record: a small JSON file per export in the run's folder (`exports/EID.json`), written atomically.

The builder writes it (building -> ready or failed) wherever it runs, the web side reads it; no
database, so a worker on any machine that shares KD_DATA_DIR reports through the same file. The
download (`exports/EID.zip`) appears beside it only once verified. No Flask, no Keras.
"""

import os
import time
from pathlib import Path

from ..runs import paths

FOLDER = paths.EXPORTS
VIEW = ("id", "format", "quantization", "state", "error", "size_bytes", "agreement", "accuracy",
        "latency_ms", "keras_latency_ms", "created_at")
RESTARTED = "The server restarted while this export was being built; build it again."


def folder(data_dir, run_id, create=False):
    """Give the folder of a run's exports."""
    path = paths.run_dir(data_dir, run_id) / FOLDER
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def record_path(data_dir, run_id, eid):
    """Give the path of an export's record."""
    return folder(data_dir, run_id) / f"{int(eid)}.json"


def download_path(data_dir, run_id, eid):
    """Give the path of an export's download (a .zip of the model file, labels.txt and README.txt)."""
    return folder(data_dir, run_id) / f"{int(eid)}.zip"


def model_version(data_dir, run_id):
    """Give the saved model's version (mtime in ns and size of model.keras): an export is of one version."""
    stat = paths.artifact(data_dir, run_id, paths.MODEL).stat()
    return [stat.st_mtime_ns, stat.st_size]


def read(data_dir, run_id, eid):
    """Give an export's record, or None."""
    return paths.read_json(record_path(data_dir, run_id, eid))


def write(data_dir, run_id, record):
    """Store an export's record atomically; give it."""
    text = paths.json_text(record)
    paths.atomic_write(record_path(data_dir, run_id, record["id"]), lambda tmp: Path(tmp).write_text(text))
    return record


def all_of(data_dir, run_id):
    """Give every export record of a run, oldest first."""
    found = []
    for path in folder(data_dir, run_id).glob("*.json"):
        if path.stem.isdigit():
            record = paths.read_json(path)
            if record is not None:
                found.append(record)
    return sorted(found, key=lambda r: r["id"])


def new(data_dir, run_id, fmt, quantization):
    """Give a new `building` record under the next free id, reserved with an exclusive create (no two servers share one)."""
    where = folder(data_dir, run_id, create=True)
    eid = max([int(p.stem) for p in where.glob("*.json") if p.stem.isdigit()], default=0) + 1
    while True:
        try:
            os.close(os.open(where / f"{eid}.json", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            break
        except FileExistsError:
            eid += 1
    return write(data_dir, run_id, {
        "id": eid, "format": fmt, "quantization": quantization, "state": "building", "error": None,
        "size_bytes": None, "agreement": None, "accuracy": None, "latency_ms": None, "keras_latency_ms": None,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "model_version": model_version(data_dir, run_id)})


def remove(data_dir, run_id, eid):
    """Delete an export's record and download."""
    download_path(data_dir, run_id, eid).unlink(missing_ok=True)
    record_path(data_dir, run_id, eid).unlink(missing_ok=True)


def view(record):
    """Give the contract's export object of a record."""
    return {key: record.get(key) for key in VIEW}


def fail(data_dir, run_id, eid, message):
    """Mark an export failed (if it still says building) and give its record, else None."""
    record = read(data_dir, run_id, eid)
    if record is None or record["state"] != "building":
        return None
    return write(data_dir, run_id, {**record, "state": "failed", "error": message})


def left_building(data_dir):
    """Give (run_id, eid) of every export whose record says building (what a restarted server finds)."""
    for path in Path(data_dir, "runs").glob(f"*/{FOLDER}/*.json"):
        if path.stem.isdigit() and path.parent.parent.name.isdigit():
            record = paths.read_json(path)
            if record and record.get("state") == "building":
                yield int(path.parent.parent.name), int(path.stem)
