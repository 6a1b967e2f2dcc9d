"""The inside view of one image, and what recording histograms costs the trainer, each beside plain Keras.

One invocation prints:

1. inside view: Keras's MNIST convnet (keras.io/examples/vision/mnist_convnet) trained one epoch
   through the dashboard (`python wsgi.py`, tests/live.py) on a synthetic 28×28 upload; then
   GET /api/runs/ID/inside/INDEX over HTTP: the first call (the web process loads model.keras and
   builds the probe), warm calls on new images (one forward pass of every layer's output plus
   Grad-CAM, each image once), and the same image again (cached). Goal: warm ≤ 150 ms. Beside
   them, plain Keras on the same image in this process: model.predict(x, verbose=0) and
   model.predict_on_batch(x).
2. trainer throughput with the inside recorders (weight histograms and the sample's probabilities,
   what the trainer adds at each epoch end) against without: the same convnet and data, plain
   model.fit(verbose=0) in this process, in alternating order; samples/s over epochs 2..E
   (epoch 1 holds tracing). Goal: ratio ≥ 0.98.

The machine may be shared: the load average is printed at the start and the end.

Usage: .venv/bin/python bench/inside.py [--calls 30] [--samples 10000] [--epochs 4] [--repeat 3] [--only view,throughput]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.measure import ms, stats, synthetic, upload  # noqa: E402
from tests.live import LiveServer  # noqa: E402

MNIST_CONVNET = [{"type": "Conv2D", "filters": 32, "kernel_size": [3, 3], "activation": "relu"},
                 {"type": "MaxPooling2D", "pool_size": [2, 2]},
                 {"type": "Conv2D", "filters": 64, "kernel_size": [3, 3], "activation": "relu"},
                 {"type": "MaxPooling2D", "pool_size": [2, 2]},
                 {"type": "Flatten"},
                 {"type": "Dropout", "rate": 0.5},
                 {"type": "Dense", "units": 10, "activation": "softmax"}]


def inside_view(args, tmp, npz):
    """Print the inside view's latency over HTTP beside plain Keras on the same image."""
    server = LiveServer(tmp / "data").start().sign_in()
    try:
        dataset = upload(server, npz, "synthetic")
        spec = {"name": "bench-inside", "dataset": dataset, "model": {"layers": MNIST_CONVNET},
                "compile": {"optimizer": {"type": "Adam"}, "loss": "categorical_crossentropy", "metrics": ["accuracy"]},
                "fit": {"epochs": 1, "batch_size": 128, "validation": "none"}}
        run_id = server.post("/api/runs", json=spec, expect=201).json()["run"]["id"]
        run = server.wait_run(run_id, lambda r: r["status"] not in ("queued", "running"), timeout=900)
        if run["status"] != "completed":
            raise SystemExit(f"run {run_id} ended {run['status']}: {run['error']}{server.output()}")
        timings = []
        for index in range(args.calls + 1):
            t = time.perf_counter()
            server.get(f"/api/runs/{run_id}/inside/{index}")
            timings.append(ms(time.perf_counter() - t))
        cached = []
        for _ in range(args.calls):
            t = time.perf_counter()
            server.get(f"/api/runs/{run_id}/inside/1")
            cached.append(ms(time.perf_counter() - t))
        model_path = server.data_dir / "runs" / str(run_id) / "model.keras"
        plain, on_batch = plain_predict(model_path, npz, args.calls)
    finally:
        server.close()
    print(f"\ninside view of one image: the MNIST convnet on 28×28, {args.calls} warm calls (goal: warm ≤ 150 ms)")
    print(f"  {'GET /api/runs/ID/inside/0, first call (loads model.keras)':<62} {timings[0]:8.1f} ms")
    print(f"  {'GET /api/runs/ID/inside/N, warm (a new image each call)':<62} {stats(timings[1:])}")
    print(f"  {'GET /api/runs/ID/inside/1 again (cached pass and Grad-CAM)':<62} {stats(cached)}")
    print(f"  {'plain Keras in-process: model.predict(x, verbose=0)':<62} {stats(plain)}")
    print(f"  {'plain Keras in-process: model.predict_on_batch(x)':<62} {stats(on_batch)}")


def plain_predict(model_path, npz, calls):
    """Give (model.predict ms, model.predict_on_batch ms) per call on test image 1, after 5 untimed calls."""
    from webapp.modelspec.build import init_keras

    model = init_keras().saving.load_model(model_path, compile=False)
    with np.load(npz) as f:
        x = f["x_test"][1:2].astype("float32") / 255.0
    plain, on_batch = [], []
    for _ in range(calls + 5):
        t = time.perf_counter()
        model.predict(x, verbose=0)
        plain.append(ms(time.perf_counter() - t))
        t = time.perf_counter()
        model.predict_on_batch(x)
        on_batch.append(ms(time.perf_counter() - t))
    return plain[5:], on_batch[5:]


def throughput(args, tmp, npz):
    """Print samples/s and CPU per epoch of model.fit with the inside recorders against without, alternating."""
    import keras

    from webapp.runs.callbacks import inside_recorders

    with np.load(npz) as f:
        x, y = f["x_train"].astype("float32") / 255.0, keras.utils.to_categorical(f["y_train"], 10).astype("float32")
        x_test = f["x_test"].astype("float32") / 255.0
    runs = {"off": [], "on": []}
    for i in range(args.repeat):
        for mode in ("off", "on") if i % 2 == 0 else ("on", "off"):
            folder = tmp / f"fit-{i}-{mode}"
            folder.mkdir()
            runs[mode].append(fit_rate(x, y, args.epochs, inside_recorders(folder, x_test) if mode == "on" else []))
    med = {mode: {key: statistics.median(r[key] for r in runs[mode]) for key in runs[mode][0]} for mode in runs}
    print(f"\ntrainer throughput: the MNIST convnet, {len(x)} samples, batch 128, epochs 2..{args.epochs}, "
          f"{args.repeat} fits each, alternating (goal: ratio ≥ 0.98)")
    for mode, label in (("off", "model.fit, no inside recorders"), ("on", "model.fit + WeightHistograms + SampleProbabilities")):
        rates = ", ".join(f"{r['rate']:.0f}" for r in runs[mode])
        print(f"  {label:<62} {med[mode]['rate']:8.0f} samples/s ({rates})   CPU {med[mode]['cpu']:6.2f} s/epoch")
    print(f"  {'ratio on / off: samples/s (wall clock, shifts with the load)':<62} {med['on']['rate'] / med['off']['rate']:8.3f}")
    print(f"  {'ratio on / off: CPU seconds per epoch, off / on':<62} {med['off']['cpu'] / med['on']['cpu']:8.3f}")
    share = med["on"]["recorders"] / med["on"]["epoch"]
    print(f"  {'the recorders own epoch-end time / the epoch (1 - share)':<62} {1 - share:8.4f}   "
          f"({1000 * med['on']['recorders']:.1f} ms of {med['on']['epoch']:.2f} s)")


def fit_rate(x, y, epochs, callbacks):
    """Give {rate: samples/s, cpu: s/epoch, epoch: s/epoch, recorders: s/epoch in the callbacks} over epochs 2..E."""
    import keras

    model = keras.Sequential([keras.Input(x.shape[1:])] + [getattr(keras.layers, d["type"])(
        **{k: v for k, v in d.items() if k != "type"}) for d in MNIST_CONVNET])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    ends, cpu, spent = [], [], []

    class Clock(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            ends.append(time.perf_counter())
            cpu.append(time.process_time())

    for cb in callbacks:   # time what each recorder does at an epoch's end
        hook = cb.on_epoch_end

        def timed(epoch, logs=None, hook=hook):
            t = time.perf_counter()
            hook(epoch, logs)
            spent.append((epoch, time.perf_counter() - t))
        cb.on_epoch_end = timed
    # The clock last: an epoch ends when every callback, the recorders included, is done with it.
    model.fit(x, y, epochs=epochs, batch_size=128, verbose=0, callbacks=[*callbacks, Clock()])
    n = len(ends) - 1
    return {"rate": len(x) * n / (ends[-1] - ends[0]), "cpu": (cpu[-1] - cpu[0]) / n, "epoch": (ends[-1] - ends[0]) / n,
            "recorders": sum(s for e, s in spent if e > 0) / n}


def main():
    """Print the inside view's latency and the recorders' cost, each beside plain Keras."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=30, help="warm inside-view calls")
    parser.add_argument("--samples", type=int, default=10000, help="training images of the synthetic data")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3, help="fits with and without the recorders")
    parser.add_argument("--only", default="view,throughput", help="which parts: view, throughput")
    args = parser.parse_args()
    print(f"bench/inside.py on {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} at the start")
    with tempfile.TemporaryDirectory(prefix="kd-bench-inside-") as tmp:
        tmp = Path(tmp)
        npz = synthetic(tmp / "synthetic.npz", args.samples, 1000)
        if "view" in args.only:
            inside_view(args, tmp, npz)
        if "throughput" in args.only:
            throughput(args, tmp, npz)
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end (other work on the machine shifts every figure)")


if __name__ == "__main__":
    main()
