"""How long `POST /api/models/check` takes for the classic Keras MNIST convnet, beside plain Keras.

Prints medians and p95 over many calls (the same model again and again: re-checks, whose unchanged
layers are remembered, as in the builder after an edit; the graph's first check is measured too):
- the HTTP endpoint (Flask test client, validation + shape trace + loss checks), on the built-in digits;
- the same check on MNIST's shape (28, 28, 1), called in-process;
- plain Keras: keras.Sequential([...]) on (28, 28, 1) plus count_params(), what a user would run;
- the HTTP endpoint on a 50-layer residual graph (16 blocks of Conv2D, Conv2D, Add), against its goal
  of 100 ms: re-checked as the builder re-checks after an edit (unchanged layers remembered,
  modelspec/shape_memo.py), and as a first check with nothing remembered; the load average beside them.

Usage: .venv/bin/python bench/check_latency.py [--repeat 200]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import signed_in  # noqa: E402
from tests.specs import CNN  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.modelspec import build, shape_memo  # noqa: E402
from webapp.modelspec.catalog import ACTIVATIONS  # noqa: E402
from webapp.modelspec.validate import validate  # noqa: E402


def timed(fn, repeat):
    """Give the sorted durations (ms) of `repeat` calls of fn, after 5 warm-up calls."""
    for _ in range(5):
        fn()
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return sorted(out)


def line(label, ms):
    """Give one result line: median and p95 in milliseconds."""
    return f"{label:<58} median {statistics.median(ms):7.2f} ms   p95 {ms[int(len(ms) * 0.95) - 1]:7.2f} ms"


def plain_keras():
    """Build the MNIST convnet with plain Keras and count its parameters, as a user would."""
    keras = build.init_keras()
    layers = keras.layers
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Dropout(0.25),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])
    return model.count_params()


GRAPH_GOAL_MS = 100


def residual_graph(blocks=16, distinct=False):
    """Give a spec of 2 + 3 * blocks layers: a stem, residual blocks (Conv2D, Conv2D, Add), pooling and Dense.

    distinct: each block's convolutions get their own activations, so no two are alike and a first
    check builds every one of them (alike blocks are built once and remembered).
    """
    layers = [{"type": "Conv2D", "filters": 16, "kernel_size": 3, "padding": "same", "name": "block0"}]
    acts = ACTIVATIONS if distinct else ["relu"] * len(ACTIVATIONS)
    for b in range(1, blocks + 1):
        conv = {"type": "Conv2D", "filters": 16, "kernel_size": 3, "padding": "same"}
        layers += [{**conv, "activation": acts[b % len(acts)], "name": f"c{b}a", "inputs": [f"block{b - 1}"]},
                   {**conv, "activation": acts[(b + 7) % len(acts)] if distinct else "linear", "name": f"c{b}b"},
                   {"type": "Add", "name": f"block{b}", "inputs": [f"block{b - 1}", f"c{b}b"]}]
    layers += [{"type": "GlobalAveragePooling2D"}, {"type": "Dense", "units": 10, "activation": "softmax"}]
    return {**CNN, "name": "residual-50", "model": {"layers": layers}}


def main():
    """Run the three measurements and print them side by side."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"KD_DATA_DIR": tmp, "KD_WARM_SPARE": "0"})
        client = signed_in(app, "bench", "member")

        def http_check():
            r = client.post("/api/models/check", json=CNN)
            assert r.status_code == 200, r.get_json()

        spec = validate(CNN)
        mnist = {"input_shape": [28, 28, 1], "num_classes": 10}
        results = [
            line("POST /api/models/check, MNIST convnet on digits (8x8x1)", timed(http_check, args.repeat)),
            line("check in-process, MNIST convnet on MNIST's (28, 28, 1)",
                 timed(lambda: build.summarize(spec, mnist), args.repeat)),
            line("plain Keras: Sequential(...) + count_params(), (28, 28, 1)", timed(plain_keras, args.repeat)),
        ]
        graph = residual_graph()

        def graph_check():
            r = client.post("/api/models/check", json=graph)
            assert r.status_code == 200, r.get_json()

        distinct = residual_graph(distinct=True)

        def first_graph_check():
            shape_memo.SHAPES.clear()   # nothing remembered: as a model's first check
            r = client.post("/api/models/check", json=distinct)
            assert r.status_code == 200, r.get_json()

        size = len(graph["model"]["layers"])
        results.append(line(f"POST /api/models/check, {size}-layer residual graph, re-check",
                            timed(graph_check, args.repeat)) + f"   goal <= {GRAPH_GOAL_MS} ms (median)")
        results.append(line(f"POST /api/models/check, {size}-layer graph, first check, no two alike",
                            timed(first_graph_check, max(args.repeat // 4, 10))))
    print(f"model check latency, {args.repeat} calls each (after 5 warm-up calls)")
    print("\n".join(results))
    print("load average (1, 5, 15 min): " + ", ".join(f"{v:.2f}" for v in os.getloadavg()))


if __name__ == "__main__":
    main()
