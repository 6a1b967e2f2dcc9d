"""Training with the dynamics recorded (fit.dynamics) against without: samples/s, in one process, median of pairs.

Each side is the trainer's model of a bench spec (bench/measure.py's MODELS, Adam, categorical
cross-entropy) on synthetic 28x28x1 images fed as the trainer feeds them (runs/feed.py), trained by
`model.fit` with the trainer's Progress callback; the "on" side is also instrumented
(fit_dynamics.instrument) with the TrainingDynamics callback writing dynamics.json and queueing its
events, as a run does. Pairs alternate which side goes first; a side's samples/s is over epochs
2..E (epoch 1 holds the trace), and beside it samples per CPU second of this process (steadier
than the wall clock on a machine others share). Then each train function's own step: Keras's, the
guarded and the recorded, called in turn on one model, the least of several runs. Goal: the median ratio of samples/s on / off with
the default `every` (catalog.DYNAMICS_EVERY) >= 0.97. `every: 1` (a record at every step) is
reported beside it.

Usage: .venv/bin/python bench/dynamics.py [--model mlp|cnn] [--samples 20000] [--epochs 4] [--pairs 5]
       [--batch-size 32] [--every N] [--every-one-pairs 2]
The last line is `RESULT dynamics: ratio X` (the default every's median ratio).
"""

import argparse
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from bench.measure import MODELS  # noqa: E402
from webapp.modelspec import catalog  # noqa: E402
from webapp.modelspec.build import init_keras  # noqa: E402
from webapp.modelspec.validate import validate  # noqa: E402


def data(samples, seed=0):
    """Give (x uint8 (N, 28, 28, 1), one-hot float32 labels): a template per class plus noise."""
    rng = np.random.default_rng(seed)
    templates = rng.integers(0, 256, (10, 28, 28, 1))
    labels = rng.integers(0, 10, samples)
    x = np.clip(templates[labels] * 0.6 + rng.integers(0, 102, (samples, 28, 28, 1)), 0, 255).astype(np.uint8)
    return x, np.eye(10, dtype="float32")[labels]


def side(args, x, y, every, folder):
    """Train one side (every=None: no dynamics) in a fresh `folder`; give (samples/s, samples per CPU second) over
    epochs 2..E and the records kept."""
    keras = init_keras(gpu=True)
    from webapp.runs import dynamics, feed, fit_dynamics, startup, trainer
    from webapp.runs.callbacks import Progress
    from webapp.runs.dynamics_callbacks import TrainingDynamics

    keras.backend.clear_session()
    gc.collect()
    keras.utils.set_random_seed(1)
    spec = validate({"name": "bench", "dataset": "bench", "model": {"layers": MODELS[args.model]},
                     "compile": {"optimizer": {"type": "Adam", "learning_rate": 0.001},
                                 "loss": "categorical_crossentropy", "metrics": ["accuracy"]},
                     "fit": {"epochs": args.epochs, "batch_size": args.batch_size, "validation": "none"}},
                    require_run=True)
    model = trainer.new_model(spec, {"input_shape": [28, 28, 1]})
    startup.build_state(model, feed.scaled(x[:1], 1 / 255), y)
    train, _ = feed.fit_inputs(x, y, None, None, spec.fit, 1 / 255)
    events = []
    callbacks = [Progress(lambda kind, data: events.append(kind), lambda: False, args.batch_size)]
    watch = None
    if every:
        watch = TrainingDynamics(fit_dynamics.instrument(model, every), lambda kind, data: events.append(kind),
                                 Path(folder) / dynamics.FILE)
        callbacks.insert(0, watch)
    times = []   # (wall, CPU) at each epoch's begin and end
    now = lambda: (time.perf_counter(), time.process_time())  # noqa: E731
    clock = keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: times.append([now()]),
                                           on_epoch_end=lambda e, logs: times[-1].append(now()))
    model.fit(train, epochs=args.epochs, shuffle=False, verbose=0, callbacks=[clock, *callbacks])
    samples = len(x) * (len(times) - 1)
    wall, cpu = (sum(end[i] - begin[i] for begin, end in times[1:]) for i in (0, 1))
    return samples / wall, samples / cpu, len(watch.doc["steps"]) if watch else 0


def step_costs(args, x, y, reps=7, steps=200):
    """Give {train function: the least µs a step took over `reps` runs of `steps`}: Keras's own, the guarded, the recorded.

    The three are called directly on one model, in turn, so the machine's load falls on all three;
    the least of several runs is the step's own cost, the rest is others' work.
    """
    keras = init_keras(gpu=True)
    from webapp.runs import feed, fit_dynamics, startup, trainer

    keras.backend.clear_session()
    spec = validate({"name": "bench", "dataset": "bench", "model": {"layers": MODELS[args.model]},
                     "compile": {"optimizer": {"type": "Adam", "learning_rate": 0.001},
                                 "loss": "categorical_crossentropy", "metrics": ["accuracy"]},
                     "fit": {"epochs": 1, "batch_size": args.batch_size, "validation": "none"}}, require_run=True)
    model = trainer.new_model(spec, {"input_shape": [28, 28, 1]})
    startup.build_state(model, feed.scaled(x[:1], 1 / 255), y)
    train, _ = feed.fit_inputs(x, y, None, None, spec.fit, 1 / 255)
    model.make_train_function()
    keras_own = model.train_function
    probe = fit_dynamics.instrument(model, catalog.DYNAMICS_EVERY)
    functions = {"Keras's own": keras_own, "guarded": probe.plain, "recorded": probe.recorded}
    batches = iter(train.repeat())
    for fn in functions.values():
        for _ in range(20):   # traced and warm
            fn(batches)
    least = dict.fromkeys(functions, float("inf"))
    for _ in range(reps):
        for name, fn in functions.items():
            start = time.perf_counter()
            for _ in range(steps):
                logs = fn(batches)
            float(logs["loss"])
            least[name] = min(least[name], (time.perf_counter() - start) / steps * 1e6)
    return least


def pairs(args, x, y, every, count):
    """Measure `count` pairs (on, off) in alternating order; give [(on, off)] of side()'s figures."""
    out = []
    with tempfile.TemporaryDirectory() as folder:
        for n in range(count):
            order = (every, None) if n % 2 else (None, every)
            got = {}
            for chosen in order:
                got[chosen] = side(args, x, y, chosen, tempfile.mkdtemp(dir=folder))   # no side continues another's file
            on, off = got[every], got[None]
            print(f"   pair {n + 1} ({'on' if order[0] else 'off'} first): on {on[0]:7.0f}  off {off[0]:7.0f} samples/s, "
                  f"ratio {on[0] / off[0]:.3f};  per CPU second {on[1] / off[1]:.3f};  {on[2]} records kept", flush=True)
            out.append((on, off))
    return out


def medians(found):
    """Give the median ratios on / off: samples/s, and samples per CPU second."""
    return (statistics.median(on[0] / off[0] for on, off in found), statistics.median(on[1] / off[1] for on, off in found))


def main():
    """Print the pairs of both strides and the median ratios; the last line is the RESULT."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="mlp")
    parser.add_argument("--samples", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--every", type=int, default=catalog.DYNAMICS_EVERY)
    parser.add_argument("--every-one-pairs", type=int, default=2)
    args = parser.parse_args()
    x, y = data(args.samples)
    steps = -(-args.samples // args.batch_size)
    print(f"== dynamics on vs off: {args.model}, {args.samples} images 28x28x1, batch_size {args.batch_size} "
          f"({steps} steps an epoch), {args.epochs} epochs; samples/s over epochs 2..{args.epochs}")
    print(f"-- every {args.every} (the default: catalog.DYNAMICS_EVERY = {catalog.DYNAMICS_EVERY})")
    ratio, cpu = medians(pairs(args, x, y, args.every, args.pairs))
    print(f"   median ratio on / off: {ratio:.3f} samples/s   (goal >= 0.97: {'met' if ratio >= 0.97 else 'NOT met'}); "
          f"{cpu:.3f} samples per CPU second")
    if args.every_one_pairs:
        print("-- every 1 (a record at every step; reported, no goal)")
        ones, ones_cpu = medians(pairs(args, x, y, 1, args.every_one_pairs))
        print(f"   median ratio on / off: {ones:.3f} samples/s; {ones_cpu:.3f} samples per CPU second")
    costs = step_costs(args, x, y)
    print("-- one step, the train function alone (the least of 7 runs of 200 steps): " + ", ".join(
        f"{name} {us:.0f} µs" for name, us in costs.items()))
    own = costs["Keras's own"]
    extra = (costs["recorded"] - costs["guarded"]) / args.every + costs["guarded"] - own
    print(f"   so every {args.every} steps cost {extra:+.0f} µs a step in the compiled step, {extra / own:+.1%} "
          "(the callback's reading and recording of each record come on top)")
    print(f"RESULT dynamics: ratio {ratio:.3f}")


if __name__ == "__main__":
    main()
