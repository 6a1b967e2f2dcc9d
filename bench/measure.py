"""What bench/runs.py measures with: synthetic data, bench run specs, CPU clocks, dashboard and plain-Keras runs."""

import json
import math
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from tests.live import Viewer, ended

ROOT = Path(__file__).resolve().parent.parent

MODELS = {
    # A small convnet: an epoch of 20000 images takes seconds on two cores.
    "cnn": [{"type": "Conv2D", "filters": 16, "kernel_size": [3, 3], "activation": "relu"},
            {"type": "MaxPooling2D", "pool_size": [2, 2]},
            {"type": "Conv2D", "filters": 32, "kernel_size": [3, 3], "activation": "relu"},
            {"type": "MaxPooling2D", "pool_size": [2, 2]},
            {"type": "Flatten"},
            {"type": "Dense", "units": 10, "activation": "softmax"}],
    # A frozen pretrained backbone (MobileNetV2, alpha 0.35, from scratch: no weights file needed) on the images
    # resized to 32x32 RGB, and a new head: the transfer-learning shape, where the forward pass dominates.
    "backbone": [{"type": "MobileNetV2", "alpha": 0.35, "input_shape": [32, 32, 3], "weights": None,
                  "pooling": "avg", "trainable": False},
                 {"type": "Dense", "units": 10, "activation": "softmax"}],
    # An MLP: many cheap batches, so a per-batch cost shows most.
    "mlp": [{"type": "Flatten"},
            {"type": "Dense", "units": 256, "activation": "relu"},
            {"type": "Dropout", "rate": 0.2},
            {"type": "Dense", "units": 10, "activation": "softmax"}],
}


def synthetic(path, n_train, n_test, seed=0):
    """Write an .npz of 28x28x1 uint8 images in 10 classes (a template per class plus noise); give path."""
    rng = np.random.default_rng(seed)
    templates = rng.integers(0, 256, (10, 28, 28, 1))

    def split(n):
        y = rng.integers(0, 10, n)
        x = np.clip(templates[y] * 0.6 + rng.integers(0, 102, (n, 28, 28, 1)), 0, 255).astype(np.uint8)
        return x, y.astype(np.uint8)

    (x_train, y_train), (x_test, y_test) = split(n_train), split(n_test)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


def upload(server, path, name):
    """Upload an .npz through POST /api/datasets; give the dataset id."""
    with open(path, "rb") as f:
        r = server.post("/api/datasets", files={"file": (path.name, f)}, data={"name": name}, expect=201)
    return r.json()["dataset"]["id"]


def run_spec(model, dataset, epochs, batch_size, name):
    """Give the run spec of a bench run (Adam, categorical cross-entropy, the test split as validation)."""
    return {"name": name, "dataset": dataset, "model": {"layers": MODELS[model]},
            "compile": {"optimizer": {"type": "Adam", "learning_rate": 0.001},
                        "loss": "categorical_crossentropy", "metrics": ["accuracy"]},
            "fit": {"epochs": epochs, "batch_size": batch_size, "validation": "test", "shuffle": True}}


def warm_web(server):
    """Make the web process import TensorFlow now (a model check), so no measured POST pays for it."""
    server.post("/api/models/check", json={"dataset": "digits", "model": {"layers": [{"type": "Flatten"}]}},
                expect=200)


def cpu_seconds(pid):
    """Give the CPU seconds (user + system, all threads) process `pid` has used; 0.0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(server, timeout=180):
    """Wait until the server and its processes (a warm spare importing TensorFlow) use no CPU for a second."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = sum(cpu_seconds(pid) for pid in server.group())
        time.sleep(1.0)
        if sum(cpu_seconds(pid) for pid in server.group()) - before < 0.05:
            return
    print(f"  (the server did not go idle within {timeout} s; measuring anyway)")


def trainer_pid(server, run_id):
    """Give the process id training a run, from the run's `worker` (host:pid) in the server's database."""
    with sqlite3.connect(server.data_dir / "dashboard.db", timeout=30) as db:
        worker = db.execute("SELECT worker FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
    return int(worker.rsplit(":", 1)[1])


def dashboard_run(server, spec, transports=("websocket",), on_event=None):
    """Train a spec through the dashboard, watched by one Viewer per transport; give (run, viewers)."""
    viewers = [Viewer(server.url, transport=t, auth=server.auth, on_event=on_event if i == 0 else None).connect()
               for i, t in enumerate(transports)]
    try:
        run_id = server.post("/api/runs", json=spec, expect=201).json()["run"]["id"]
        for viewer in viewers:
            assert viewer.subscribe(run_id)["ok"]
        for viewer in viewers:
            viewer.wait(ended(), timeout=3600, what=f"the end of run {run_id}")
    finally:
        for viewer in viewers:
            viewer.disconnect()
    run = server.run(run_id)
    if run["status"] != "completed":
        raise SystemExit(f"run {run_id} ended {run['status']}: {run['error']}{server.output()}")
    return run, viewers


def baseline(npz, model, epochs, batch_size, first_batch=False):
    """Run bench/fit_baseline.py in a fresh process; give its JSON and the time it was launched.

    The process gets a session of its own, as the dashboard's server and trainers have (tests/live.py):
    with the kernel's autogroup scheduling, a session is one scheduling group, so both sides compete
    with the rest of the machine on the same footing.
    """
    t_launch = time.time()
    cmd = [sys.executable, str(ROOT / "bench" / "fit_baseline.py"), "--data", str(npz), "--layers",
           json.dumps(MODELS[model]), "--epochs", str(epochs), "--batch-size", str(batch_size)]
    done = subprocess.run(cmd + (["--first-batch"] if first_batch else []), capture_output=True, text=True,
                          start_new_session=True)
    if done.returncode:
        raise SystemExit(f"the baseline failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), t_launch


def rate(samples, times):
    """Give samples/s over the epochs after the first: samples x (E - 1) / (t_E - t_1)."""
    return samples * (len(times) - 1) / (times[-1] - times[0])


def per_epoch(values):
    """Give the mean increase per epoch after the first: (v_E - v_1) / (E - 1)."""
    return (values[-1] - values[0]) / (len(values) - 1)


def pct(values, q):
    """Give the q-th percentile of values (linear interpolation)."""
    return float(np.percentile(values, q))


def ms(seconds):
    """Give seconds as milliseconds."""
    return seconds * 1000.0


def stats(values):
    """Give 'median X ms  p95 Y ms' of millisecond values."""
    values = sorted(values)
    return f"median {statistics.median(values):8.1f} ms   p95 {values[max(0, math.ceil(len(values) * 0.95) - 1)]:8.1f} ms"
