"""Ingesting a folder archive: time and peak memory, beside keras.utils.image_dataset_from_directory on the same folder.

Three measurements on one synthetic set of 28×28 grayscale PNGs in 10 class folders:

1. the dashboard end to end: `python wsgi.py` (KD_WARM_SPARE=0), `POST /api/datasets` with the
   .zip, until `GET /api/datasets/ID` says ready; the RSS of every process of the server's group
   (web process, spawned builder) sampled every 10 ms, peak and growth over the web process's
   idle RSS;
2. the builder's ingest alone (`webapp.datasets.folders.ingest`, then np.savez) in a fresh process:
   wall time, RSS after imports and the peak (VmHWM), so the growth is what decoding took;
3. Keras: `image_dataset_from_directory(folder, color_mode="grayscale", image_size=(28, 28))`
   iterated to the end and gathered into numpy arrays (what our builder keeps) in a fresh process:
   wall time after `import keras`, RSS after imports and the peak.

Goals: the dashboard's time within 2× Keras's; memory growth under 2× the decoded size.
Run: `.venv/bin/python bench/datasets.py [--images 10000]`.
"""

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.live import LiveServer  # noqa: E402

MB = 2**20
OURS = """
import json, sys, time, numpy as np
import PIL.Image, PIL.PngImagePlugin  # the builder decodes with Pillow: imported before the baseline
from webapp.datasets import folders
def rss(key):
    return int(next(l for l in open('/proc/self/status') if l.startswith(key)).split()[1]) * 1024
base = rss('VmRSS'); t = time.perf_counter()
arrays, names, notes, facts = folders.ingest(sys.argv[1], 'zip', folders.Options(),
                                             {'max_images': 10**7, 'max_bytes': 2000 * 2**20})
with open(sys.argv[2], 'wb') as f:
    np.savez(f, **arrays)
print(json.dumps({'seconds': time.perf_counter() - t, 'base': base, 'peak': rss('VmHWM'),
                  'n': sum(len(a) for k, a in arrays.items() if k.startswith('x'))}))
"""
KERAS = """
import json, os, sys, time
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
import keras, numpy as np
def rss(key):
    return int(next(l for l in open('/proc/self/status') if l.startswith(key)).split()[1]) * 1024
base = rss('VmRSS'); t = time.perf_counter()
ds = keras.utils.image_dataset_from_directory(sys.argv[1], color_mode='grayscale', image_size=(28, 28),
                                              batch_size=256, shuffle=False, verbose=False)
xs, ys = zip(*((x.numpy().astype('uint8'), y.numpy()) for x, y in ds))
x = np.concatenate(xs)
print(json.dumps({'seconds': time.perf_counter() - t, 'base': base, 'peak': rss('VmHWM'), 'n': len(x)}))
"""


def make_set(folder, n, classes=10, seed=0):
    """Write n 28×28 grayscale PNGs into folder/<class>/ and the same as folder.zip; give the zip's path."""
    rng = np.random.default_rng(seed)
    zpath = folder.with_suffix(".zip")
    with zipfile.ZipFile(zpath, "w") as z:
        for i in range(n):
            out = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(out, format="PNG")
            name = f"{i % classes}/{i:05d}.png"
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(out.getvalue())
            z.writestr(f"set/{name}", out.getvalue())
    return zpath


def fresh(code, *args):
    """Run code in a fresh Python process from the repo root; give its JSON line."""
    done = subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=1800, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def rss(pid):
    """Give the resident set size of a process in bytes (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def end_to_end(zpath, tmp):
    """Give (seconds, web idle RSS, {pid: (name, peak RSS)}) of uploading the zip to a live server until ready."""
    server = LiveServer(tmp / "server", env={"KD_WARM_SPARE": "0"}, log_path=tmp / "server.log").start()
    try:
        server.sign_in()
        idle = rss(server.pid)
        peaks, stop = {}, threading.Event()

        def sample():
            while not stop.is_set():
                for pid in server.group():
                    r = rss(pid)
                    name = "web" if pid == server.pid else "builder"
                    peaks[pid] = (name, max(r, peaks.get(pid, (name, 0))[1]))
                time.sleep(0.01)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t = time.perf_counter()
        with open(zpath, "rb") as f:
            ds = server.post("/api/datasets", files={"file": ("set.zip", f)}, data={"name": "bench"},
                             expect=202).json()["dataset"]
        while (state := server.get(f"/api/datasets/{ds['id']}").json()["dataset"])["state"] == "building":
            time.sleep(0.1)   # polling faster takes CPU from the builder on a small machine
        seconds = time.perf_counter() - t
        stop.set()
        sampler.join()
        assert state["state"] == "ready", state
        return seconds, idle, peaks, state["provenance"]["facts"]["seconds"]
    finally:
        server.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = tmp / "set"
        zpath = make_set(folder, args.images)
        decoded = args.images * 28 * 28
        print(f"{args.images} PNGs of 28×28 (grayscale, 10 classes): zip {zpath.stat().st_size / MB:.1f} MB, "
              f"decoded {decoded / MB:.1f} MB; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        keras = fresh(KERAS, folder)
        ours = fresh(OURS, zpath, tmp / "out.npz")
        seconds, idle, peaks, inside = end_to_end(zpath, tmp)
        goal_s, goal_mb = 2 * keras["seconds"], 2 * decoded / MB
        print(f"keras image_dataset_from_directory: {keras['seconds']:.2f} s, RSS {keras['base'] / MB:.0f} MB after "
              f"import → peak {keras['peak'] / MB:.0f} MB (+{(keras['peak'] - keras['base']) / MB:.1f} MB)")
        print(f"builder ingest alone (fresh process): {ours['seconds']:.2f} s (goal ≤ {goal_s:.2f} s, 2× Keras), "
              f"RSS {ours['base'] / MB:.0f} MB after import → peak {ours['peak'] / MB:.0f} MB "
              f"(+{(ours['peak'] - ours['base']) / MB:.1f} MB; goal < {goal_mb:.1f} MB, 2× decoded)")
        print(f"dashboard end to end (POST → ready, builder spawn included): {seconds:.2f} s (goal ≤ {goal_s:.2f} s); "
              f"of which the builder's ingest {inside:.2f} s")
        for pid, (name, peak) in sorted(peaks.items()):
            grow = f" (+{(peak - idle) / MB:.1f} MB over idle {idle / MB:.0f} MB; goal < {goal_mb:.1f} MB)" \
                if name == "web" else ""
            print(f"  {name} pid {pid}: peak RSS {peak / MB:.0f} MB{grow}")   # a 13 MB "builder": spawn's tracker
        print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
