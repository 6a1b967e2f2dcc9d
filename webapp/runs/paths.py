"""Where a run's files live: its folder under KD_DATA_DIR, the names of its artifacts, atomic writes.

The one place for these facts: the service (continue, delete), the views (which artifacts exist),
the trainer and its callbacks (write them), the web API (downloads, predict-one, the gallery) all
ask here. No Flask, no Keras. The prediction files beside the artifacts are named in
`webapp/predict/predictions.py`.
"""

import json
import os
from pathlib import Path

MODEL = "model.keras"          # the last finished epoch, optimizer state included (continue reloads it)
BEST = "best.keras"            # ModelCheckpoint's best epoch, when the spec asks for a checkpoint
MODEL_JSON = "model.json"      # model.to_json(), for keras.models.model_from_json
HISTORY = "history.csv"        # one row per epoch, one column per Keras log key
SCRIPT = "train.py"            # the spec as a runnable Keras script
ARTIFACTS = (MODEL, BEST, MODEL_JSON, HISTORY, SCRIPT)   # what a user can download, in this order
EXPORTS = "exports"            # deploy/records.py: each export's EID.json record and EID.zip download


def run_dir(data_dir, run_id, create=False):
    """Give the folder of a run's files, KD_DATA_DIR/runs/<id>; `create` makes it if it is missing."""
    path = Path(data_dir) / "runs" / str(run_id)
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def artifact(data_dir, run_id, name):
    """Give the path of one of a run's files (an artifact or a predictions file)."""
    return run_dir(data_dir, run_id) / name


def existing_artifacts(data_dir, run_id):
    """Give the names of the run's artifacts that are there, in ARTIFACTS order."""
    folder = run_dir(data_dir, run_id)
    return [name for name in ARTIFACTS if (folder / name).exists()]


def atomic_write(path, write):
    """Write a file through `write(tmp_path)` and move it into place, so no reader sees half of it."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    write(tmp)
    os.replace(tmp, path)


def json_text(doc):
    """Give a document as compact JSON text (the run's JSON records: histograms, dynamics, lr_finder)."""
    return json.dumps(doc, separators=(",", ":"))


def read_json(path):
    """Give the JSON document stored at `path`, or None when the run has written none (yet)."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None
