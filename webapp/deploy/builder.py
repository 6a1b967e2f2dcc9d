"""The worker side of an export: a run's model.keras converted, loaded back in its own runtime, measured, zipped with its labels.

It runs outside the web process — a freshly spawned `python -m webapp.deploy.builder` (embedded
executor) or an RQ job in a work-horse (KD_EXECUTOR=rq), never TensorFlow in a request — and
writes the export's record itself (records.py): `ready` with its figures, or `failed` with the
converter's or runtime's reason. It builds in a hidden temporary folder and moves the verified
.zip into place last, so a failed export leaves no file.
"""

import json
import logging
import shutil
import sys
import zipfile

import numpy as np

from ..predict import predictions
from ..runs import paths
from . import formats, records

log = logging.getLogger(__name__)
TIMED_OUT = ("Building this export took longer than {} s, the most an export may take here (KD_MAX_EXPORT_S), "
             "so it was stopped; nothing was stored.")
MAX_REASON = 600   # characters of a converter's message kept in the record


def event(run_id, record):
    """Give the `run_export` event of a record, for the run's room."""
    return "run_export", {"run_id": run_id, "export": records.view(record)}


def reason(exc):
    """Give a converter's or runtime's exception in words: its message's informative lines, bounded."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip() and not line.strip().startswith("File ")]
    text = " ".join(lines) or type(exc).__name__
    return text if len(text) <= MAX_REASON else text[:MAX_REASON - 1] + "…"


def inputs(data_dir, database_url, dataset):
    """Give (x_train sample, x_test, y_test, class names, num_classes, pixel_max) scaled as the trainer scales."""
    from ..datasets import Registry
    from ..db.store import Store

    registry = Registry(data_dir, Store(database_url))
    info, data = registry.info(dataset), registry.load(dataset)
    scale = np.float32(1.0 / data.pixel_max)
    pick = np.linspace(0, len(data.x_train) - 1, min(formats.CALIBRATION_SIZE, len(data.x_train))).astype(int)
    return (data.x_train[pick].astype(np.float32) * scale, data.x_test.astype(np.float32) * scale, data.y_test,
            list(info.get("class_names") or data.class_names), int(info["num_classes"]), float(data.pixel_max))


def keras_classes(folder, model, x_test):
    """Give the Keras model's predicted classes on the test split: the run's saved test predictions."""
    try:
        return predictions.Predictions.load(folder / predictions.FILE).predicted
    except FileNotFoundError:
        return predictions.top_classes(model.predict(x_test, verbose=0))[0]


def build(settings, run_id, eid, order):
    """Build export `eid` of run `run_id` as `order` says ({format, quantization, dataset}); give its final record."""
    data_dir = settings["KD_DATA_DIR"]
    where = records.folder(data_dir, run_id)
    work, partial = where / f".{eid}.partial", where / f".{eid}.partial.zip"
    try:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()   # in exports/, made with the record: a run deleted meanwhile is not made again
        fields = made(settings, run_id, order, work)
        zip_folder(work, partial)
        partial.replace(records.download_path(data_dir, run_id, eid))
    except ExportFailed as exc:
        fields = {"state": "failed", "error": str(exc)}
    except Exception as exc:   # a fault of ours: the user still gets a state and a message, not a hang
        log.exception("export %s of run %s failed", eid, run_id)
        fields = {"state": "failed", "error": f"The export could not be built ({type(exc).__name__}: {reason(exc)})."}
    finally:
        shutil.rmtree(work, ignore_errors=True)
        partial.unlink(missing_ok=True)
    record = records.read(data_dir, run_id, eid)
    if record is None:   # the run was deleted meanwhile
        return None
    return records.write(data_dir, run_id, {**record, **fields})


def made(settings, run_id, order, work):
    """Convert the run's model into `work`, verify it in its runtime, add the labels; give the record's fields."""
    from . import convert, verify

    data_dir, fmt, quantization = settings["KD_DATA_DIR"], order["format"], order["quantization"]
    calibration, x_test, y_test, names, num_classes, pixel_max = inputs(data_dir, settings["KD_DATABASE_URL"],
                                                                        order["dataset"])
    model = convert.load_model(paths.artifact(data_dir, run_id, paths.MODEL))
    try:
        written = convert.export(model, work, fmt, quantization, calibration)
    except Exception as exc:
        raise ExportFailed(f"The {fmt} converter could not convert this model: {reason(exc)}") from None
    try:
        figures = verify.measure(verify.runtime(fmt, written), x_test, y_test,
                                 keras_classes(paths.run_dir(data_dir, run_id), model, x_test),
                                 verify.keras_call(model), formats.LATENCY_SAMPLE)
    except Exception as exc:
        raise ExportFailed(f"The {fmt} export was written but its runtime could not run it: {reason(exc)}") from None
    (work / formats.LABELS).write_text(formats.labels_text(names, num_classes))
    (work / formats.README).write_text(formats.readme_text(fmt, quantization, pixel_max, x_test.shape[1:]))
    return {"state": "ready", "size_bytes": convert.size_bytes(written), **figures}


class ExportFailed(Exception):
    """A conversion or a runtime refused the model; str() says why, in words."""


def zip_folder(folder, target):
    """Write every file under `folder` into the zip `target`, paths relative to the folder."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())


def build_job(run_id, eid, order):
    """The RQ job (in a work-horse): build, then send `run_export` through Socket.IO's Redis message queue."""
    from ..runs import rq_shared

    settings = rq_shared.settings()
    record = build(settings, run_id, eid, order)
    if record is not None:
        rq_shared.Emitter(settings["KD_REDIS_URL"], settings["KD_SOCKETIO_CHANNEL"])(event(run_id, record))
    return record and record["state"]


def on_failure(job, connection, exc_type, exc, traceback):
    """RQ's failure callback: the work-horse died or timed out; the export fails, leaving nothing."""
    from ..runs import rq_shared

    settings = rq_shared.settings()
    run_id, eid = job.args[0], job.args[1]
    timed_out = exc_type is not None and exc_type.__name__ == "JobTimeoutException"
    message = (TIMED_OUT.format(job.timeout) if timed_out else
               f"The worker building this export stopped ({exc_type.__name__ if exc_type else 'lost'}: {exc}); nothing was stored.")
    for leftover in (f".{eid}.partial.zip",):
        (records.folder(settings["KD_DATA_DIR"], run_id) / leftover).unlink(missing_ok=True)
    shutil.rmtree(records.folder(settings["KD_DATA_DIR"], run_id) / f".{eid}.partial", ignore_errors=True)
    record = records.fail(settings["KD_DATA_DIR"], run_id, eid, message)
    if record is not None:
        rq_shared.Emitter(settings["KD_REDIS_URL"], settings["KD_SOCKETIO_CHANNEL"])(event(run_id, record))


if __name__ == "__main__":   # exports.py starts `python -m webapp.deploy.builder SETTINGS_JSON RUN_ID EID ORDER_JSON`
    logging.basicConfig(level=logging.WARNING)
    build(json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4]))
