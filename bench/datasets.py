"""Ingesting a folder archive: time and peak memory, beside keras.utils.image_dataset_from_directory on the same folder.

Three measurements on one synthetic set of 28×28 grayscale PNGs in 10 class folders:

1. the dashboard end to end: `python wsgi.py` (KD_WARM_SPARE=0), `POST /api/datasets` with the
   .zip, until `GET /api/datasets/ID` says ready; the RSS of every process of the server's group
   (web process, spawned builder) sampled every 10 ms, peak and growth over the web process's
   idle RSS;
2. the builder alone in a fresh process: `folders.ingest` + `npz.save`, and `webapp.datasets.builder.build`
   as a spawned builder runs it (ingest, the .npz saved, pixel statistics, the row's fields made;
   the web process writes the row): wall time, RSS after imports and the peak (VmHWM), so the
   growth is what building took; and the builder process's start-up (its imports), best of 3;
3. Keras: `image_dataset_from_directory(folder, color_mode="grayscale", image_size=(28, 28))`
   iterated to the end and gathered into numpy arrays (what our builder keeps) in a fresh process:
   wall time after `import keras`, RSS after imports and the peak.

Goals: the dashboard's time within 2× Keras's; memory growth under 2× the decoded size. CPU
seconds (Keras's process, all threads; the dashboard's web process and builder) are printed beside
the times: on a shared machine they move less than wall time.
Run: `.venv/bin/python bench/datasets.py [--images 10000]`.

`--texts 25000` measures a text-folder archive instead (issue 24): reviews of about 230 words in
two class folders; the dashboard's builder.build in a fresh process, then the trainer's side
(texts.load, TextVectorization(max_tokens=20000, output_sequence_length=250) adapted, TensorFlow
imported before the baseline), beside text_classification_from_scratch.py's
`text_dataset_from_directory` + `TextVectorization.adapt` in one fresh process. Goals: time ≤ 1.5×
Keras's, memory growth ≤ 2× the decoded text.
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
MEASURE = """
import json, sys, threading, time
def rss(key):
    return int(next(l for l in open('/proc/self/status') if l.startswith(key)).split()[1]) * 1024
class Anon(threading.Thread):  # the private memory's peak (VmHWM counts code pages read on first use too)
    def __init__(self):
        super().__init__(daemon=True); self.peak, self.done = rss('RssAnon'), False; self.start()
    def run(self):
        while not self.done:
            self.peak = max(self.peak, rss('RssAnon')); time.sleep(0.002)
def measure(work):
    global anon_base
    base, anon_base, anon = rss('VmRSS'), rss('RssAnon'), Anon(); t, cpu = time.perf_counter(), time.process_time()
    out = work()
    seconds, cpu, anon.done = time.perf_counter() - t, time.process_time() - cpu, True
    anon.join()
    print(json.dumps({'seconds': seconds, 'cpu': cpu, 'base': base, 'peak': rss('VmHWM'), 'anon_base': anon_base,
                      'anon_peak': anon.peak, 'out': out}))
"""
OURS = MEASURE + """
import PIL.Image, PIL.PngImagePlugin  # the builder decodes with Pillow: imported before the baseline
from webapp.datasets import builder, folders, npz, stored
import shutil
folder, order, zpath = stored.upload_dir(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
def ingest_alone():
    arrays, *_ = folders.ingest(zpath, 'zip', folders.Options(), order['limits'])
    npz.save(folder, 'alone', arrays)
    return 'ready'
def whole_build():   # as a spawned builder does it: the row's fields go up its pipe (here: nowhere)
    shutil.copyfile(zpath, stored.incoming(folder, 'bench', 'zip'))
    return builder.build(folder, 'bench', order, lambda event: None, lambda fields: None)
measure(whole_build if sys.argv[4] == 'build' else ingest_alone)
"""
STARTUP = """
import resource, subprocess, sys, time
t = time.perf_counter()
subprocess.run([sys.executable, '-P', '-c', 'import webapp.datasets.builder'], check=True)
use = resource.getrusage(resource.RUSAGE_CHILDREN)
print('{"seconds": %f, "cpu": %f}' % (time.perf_counter() - t, use.ru_utime + use.ru_stime))
"""
KERAS = MEASURE + """
import os
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
import keras, numpy as np
def load():
    ds = keras.utils.image_dataset_from_directory(sys.argv[1], color_mode='grayscale', image_size=(28, 28),
                                                  batch_size=256, shuffle=False, verbose=False)
    xs, ys = zip(*((x.numpy().astype('uint8'), y.numpy()) for x, y in ds))
    return len(np.concatenate(xs))
measure(load)
"""


OURS_TEXT = MEASURE + """
import os, shutil
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
from webapp.datasets import builder, stored, texts
folder, order, zpath = stored.upload_dir(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
def whole_build():   # as a spawned builder does it: ingest, the .npz saved, the row's fields made
    shutil.copyfile(zpath, stored.incoming(folder, 'bench', 'zip'))
    return builder.build(folder, 'bench', order, lambda event: None, lambda fields: None)
def adapted():   # as the trainer does it: the dataset loaded (Registry -> texts.load), TextVectorization adapted
    from webapp.modelspec import build
    from webapp.runs import trainer
    keras = build.init_keras()
    x_train, *_ = texts.load(stored.arrays_path(folder, 'bench'))
    model = keras.Sequential([keras.Input(shape=(), dtype='string'), keras.layers.TextVectorization(
        max_tokens=20000, output_sequence_length=250)])
    trainer.adapt_text(model, x_train, {'validation': 'test', 'batch_size': 32})
    return model.layers[0].vocabulary_size()
if sys.argv[4] == 'adapt':   # TensorFlow's and the trainer's imports are its start-up, not the data's: before the baseline
    from webapp.modelspec import build
    from webapp.runs import trainer
    build.init_keras()
measure(whole_build if sys.argv[4] == 'build' else adapted)
"""
KERAS_TEXT = MEASURE + """
import os
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
import keras
def load():   # text_classification_from_scratch.py's steps
    raw_train_ds = keras.utils.text_dataset_from_directory(sys.argv[1], batch_size=32, verbose=False)
    vectorize_layer = keras.layers.TextVectorization(max_tokens=20000, output_sequence_length=250)
    vectorize_layer.adapt(raw_train_ds.map(lambda x, y: x))
    return vectorize_layer.vocabulary_size()
measure(load)
"""


def make_reviews(folder, n, words=230, seed=0):
    """Write n reviews of about `words` words (a Zipf-like vocabulary of 30,000) into folder/{neg,pos}/ and folder.zip;
    give (the zip's path, the decoded bytes)."""
    import random

    rng = random.Random(seed)
    vocabulary = [f"w{i}" + "abcdefgh"[i % 8] * (i % 5) for i in range(30000)]
    weights = [1 / (i + 1) for i in range(30000)]
    zpath, decoded = folder.with_suffix(".zip"), 0
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(n):
            label = ("neg", "pos")[i % 2]
            text = " ".join(rng.choices(vocabulary, weights, k=rng.randint(words - 50, words + 50))) + "."
            data = text.encode()
            (folder / label).mkdir(parents=True, exist_ok=True)
            (folder / label / f"{i:05d}.txt").write_bytes(data)
            z.writestr(f"reviews/{label}/{i:05d}.txt", data)
            decoded += len(data)
    return zpath, decoded


def text_main(n):
    """Print the dashboard's text ingest (build, then the trainer's load and adapt) beside Keras's, on n reviews."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        zpath, decoded = make_reviews(tmp / "reviews", n)
        print(f"{n} reviews of ~230 words in 2 class folders: zip {zpath.stat().st_size / MB:.1f} MB, decoded text "
              f"{decoded / MB:.1f} MB; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        keras = fresh(KERAS_TEXT, tmp / "reviews")
        order = json.dumps({**build_order(), "archive": "reviews.zip"})
        built = fresh(OURS_TEXT, tmp / "ours", order, zpath, "build")
        adapted = fresh(OURS_TEXT, tmp / "ours", order, zpath, "adapt")
        assert built["out"] == "ready" and adapted["out"] == keras["out"], (built, adapted, keras)
        ours = built["seconds"] + adapted["seconds"]
        goal_mb = 2 * decoded / MB
        print(f"keras text_dataset_from_directory + TextVectorization.adapt: {memory(keras)}")
        print(f"dashboard builder.build (ingest, .npz), fresh process: {memory(built, None, None)}")
        print(f"dashboard trainer side (texts.load, adapt), fresh process with TensorFlow imported: "
              f"{memory(adapted, None, None)}")
        print(f"dashboard total {ours:.2f} s = {ours / keras['seconds']:.2f}× Keras (goal ≤ 1.5×); memory growth: "
              f"build +{(built['peak'] - built['base']) / MB:.1f} MB, trainer side "
              f"+{(adapted['peak'] - adapted['base']) / MB:.1f} MB (goal ≤ {goal_mb:.1f} MB, 2× the decoded text); "
              f"vocabulary {keras['out']} both")
        print(f"  CPU seconds: Keras {keras['cpu']:.2f}, dashboard {built['cpu'] + adapted['cpu']:.2f}")


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


def build_order():
    """Give the build order an upload of the zip with the default options and limits leaves (Registry.build_order)."""
    from webapp.datasets import builds, folders

    limits = builds.limits({"KD_MAX_DATASET_MB": 2000, "KD_MAX_IMAGES": 10**7, "KD_MAX_UPLOAD_MB": 200,
                            "KD_MAX_TEXTS": 10**7, "KD_MAX_TEXT_KB": 1024, "KD_MAX_SERIES_LENGTH": 10**5,
                            "KD_MAX_BUILD_S": 600})
    return {"format": "zip", "limits": limits, "options": folders.Options().to_dict()}


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


def cpu(pid):
    """Give the CPU seconds (own, waited-for children's) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = [int(v) / os.sysconf("SC_CLK_TCK") for v in fields[11:15]]   # utime stime cutime cstime
    return ticks[0] + ticks[1], ticks[2] + ticks[3]


def end_to_end(zpath, tmp):
    """Give (seconds, CPU seconds, web idle RSS, {pid: (name, peak RSS)}, the ingest's seconds) of uploading the zip.

    The CPU seconds are the web process's and its builder's (counted once it has been waited for).
    """
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
        t, cpu_before = time.perf_counter(), cpu(server.pid)
        with open(zpath, "rb") as f:
            ds = server.post("/api/datasets", files={"file": ("set.zip", f)}, data={"name": "bench"},
                             expect=202).json()["dataset"]
        while (state := server.get(f"/api/datasets/{ds['id']}").json()["dataset"])["state"] == "building":
            time.sleep(0.1)   # polling faster takes CPU from the builder on a small machine
        seconds = time.perf_counter() - t
        stop.set()
        sampler.join()
        assert state["state"] == "ready", state
        # The builder's CPU counts in the web process's once it has been reaped (its /proc entry gone);
        # it may end a moment after the row says ready, and a zombie is no longer in server.group().
        builders = [pid for pid, (name, _) in peaks.items() if name == "builder"]
        while len(server.group()) > 1 or any(Path(f"/proc/{pid}").exists() for pid in builders):
            time.sleep(0.05)
        used = [after - before for after, before in zip(cpu(server.pid), cpu_before)]
        return seconds, used, idle, peaks, state["provenance"]["facts"]["seconds"]
    finally:
        server.close()


def memory(r, goal_s=None, goal_mb=None):
    """Give one measurement as text: time, RSS after imports → peak (growth), private memory's growth, goals."""
    goals = (f" (goal ≤ {goal_s:.2f} s, 2× Keras)", f"; goal < {goal_mb:.1f} MB, 2× decoded") if goal_s else ("", "")
    return (f"{r['seconds']:.2f} s{goals[0]}, RSS {r['base'] / MB:.0f} MB after import → peak {r['peak'] / MB:.0f} MB "
            f"(+{(r['peak'] - r['base']) / MB:.1f} MB{goals[1]}; of it private memory +"
            f"{(r['anon_peak'] - r['anon_base']) / MB:.1f} MB, the rest code pages read on first use)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10000)
    parser.add_argument("--texts", type=int, default=0, help="measure a text-folder archive of this many reviews "
                        "instead (25000: aclImdb's train split)")
    args = parser.parse_args()
    if args.texts:
        return text_main(args.texts)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = tmp / "set"
        zpath = make_set(folder, args.images)
        decoded = args.images * 28 * 28
        print(f"{args.images} PNGs of 28×28 (grayscale, 10 classes): zip {zpath.stat().st_size / MB:.1f} MB, "
              f"decoded {decoded / MB:.1f} MB; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        keras = fresh(KERAS, folder)
        order = json.dumps(build_order())
        alone = fresh(OURS, tmp / "alone", order, zpath, "ingest")
        ours = fresh(OURS, tmp / "alone", order, zpath, "build")
        assert ours["out"] == "ready", ours
        startup = [fresh(STARTUP) for _ in range(3)]
        seconds, cpu_s, idle, peaks, inside = end_to_end(zpath, tmp)
        goal_s, goal_mb = 2 * keras["seconds"], 2 * decoded / MB
        print(f"keras image_dataset_from_directory: {memory(keras)}")
        print(f"builder process start-up (python -P -c 'import webapp.datasets.builder', best of 3): "
              f"{min(r['seconds'] for r in startup):.2f} s wall, {min(r['cpu'] for r in startup):.2f} CPU s")
        for name, r in (("ingest alone (folders.ingest, npz.save)", alone),
                        ("builder.build (ingest, .npz, pixel statistics, the row's fields)", ours)):
            print(f"{name}, fresh process: {memory(r, goal_s, goal_mb)}")
        print(f"dashboard end to end (POST → ready, builder start-up included): {seconds:.2f} s (goal ≤ {goal_s:.2f} s, "
              f"{seconds / keras['seconds']:.2f}× Keras); of which the builder's ingest {inside:.2f} s")
        print(f"  CPU seconds (steadier on a busy machine): Keras {keras['cpu']:.2f} (all its threads); dashboard "
              f"{sum(cpu_s):.2f} (web process {cpu_s[0]:.2f} + builder {cpu_s[1]:.2f}), {sum(cpu_s) / keras['cpu']:.2f}× Keras")
        for pid, (name, peak) in sorted(peaks.items()):
            grow = f" (+{(peak - idle) / MB:.1f} MB over idle {idle / MB:.0f} MB; goal < {goal_mb:.1f} MB)" \
                if name == "web" else ""
            print(f"  {name} pid {pid}: peak RSS {peak / MB:.0f} MB{grow}")
        print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
