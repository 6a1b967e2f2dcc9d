"""Loading imdb from the Keras cache with dataset_options: the dashboard's registry beside keras.datasets.imdb.load_data + pad_sequences.

One synthetic imdb.npz in Keras's format (tests/keras_cache.write_imdb: 25,000 + 25,000 reviews of
~230 ranks, 88,000 words) in a temporary KERAS_HOME; then, each in a fresh process:

1. the dashboard: `Registry.load("imdb", {"num_words": N, "maxlen": M})` (the restricted read of
   the npz, the default split's statistics, load_data's steps, the padding), and with
   `{"num_words": 1000, "mode": "binary"}` (the bag of words of reuters_mlp.py);
2. Keras: `keras.datasets.imdb.load_data(num_words=N)` + `keras.utils.pad_sequences(x, maxlen=M)`
   after `import keras` (the file's hash check is skipped: it is not Keras's own file).

Printed: wall and CPU seconds, RSS after imports and the peak (VmHWM), and whether the arrays are
equal. Run: `.venv/bin/python bench/sequences.py [--reviews 25000] [--num-words 20000] [--maxlen 80]`.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = r"""
import json, resource, sys, time
import numpy as np
which, num_words, maxlen, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def rss():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1]) / 1024
if which == "keras":
    import keras
    import keras.src.utils.file_utils as file_utils
    file_utils.validate_file = lambda *a, **k: True
else:
    from webapp.datasets import Registry
    registry = Registry(sys.argv[5])
base, wall, cpu = rss(), time.time(), time.process_time()
if which == "keras":
    (x, y), (xt, yt) = keras.datasets.imdb.load_data(num_words=num_words)
    x, xt = keras.utils.pad_sequences(x, maxlen=maxlen), keras.utils.pad_sequences(xt, maxlen=maxlen)
else:
    options = {"num_words": num_words, "maxlen": maxlen}
    if which == "binary":
        options = {"num_words": 1000, "mode": "binary"}   # reuters_mlp.py's max_words
    data = registry.load("imdb", options)
    x, y, xt, yt = data.x_train, data.y_train, data.x_test, data.y_test
wall, cpu = time.time() - wall, time.process_time() - cpu
peak = int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024
np.savez(out, x=x, y=y, xt=xt, yt=yt)
print(json.dumps({"wall": wall, "cpu": cpu, "rss_after_imports": base, "peak": peak, "shape": list(x.shape)}))
"""


def run(which, args, home, data_dir, out):
    """Give the child's figures for `which` (dashboard, binary or keras)."""
    env = {**os.environ, "KERAS_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", CHILD, which, str(args.num_words), str(args.maxlen), str(out),
                           str(data_dir)], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    """Write the synthetic cache, time the three loads, print them with the load average."""
    import numpy as np

    from tests.keras_cache import write_imdb

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reviews", type=int, default=25000, help="reviews per split")
    parser.add_argument("--num-words", type=int, default=20000)
    parser.add_argument("--maxlen", type=int, default=80)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_imdb(tmp / "keras" / "datasets", n_train=args.reviews, n_test=args.reviews, length=230,
                   vocabulary=88000)
        figures = {which: run(which, args, tmp / "keras", tmp / f"data-{which}", tmp / f"{which}.npz")
                   for which in ("dashboard", "keras", "binary")}
        with np.load(tmp / "dashboard.npz") as ours, np.load(tmp / "keras.npz") as theirs:
            same = all(np.array_equal(ours[k], theirs[k]) for k in ("x", "y", "xt", "yt"))
    for which, f in figures.items():
        print(f"{which:9s} wall {f['wall']:5.1f} s  cpu {f['cpu']:5.1f} s  rss after imports {f['rss_after_imports']:6.0f} MB"
              f"  peak {f['peak']:6.0f} MB (+{f['peak'] - f['rss_after_imports']:.0f})  x_train {f['shape']}")
    print(f"dashboard / keras wall: {figures['dashboard']['wall'] / figures['keras']['wall']:.2f}; "
          f"arrays equal to Keras's: {same}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
