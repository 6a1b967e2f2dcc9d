"""The learning-rate range test's arithmetic (Smith 2017): the rising rates, the smoothed loss, when to stop, the suggestion.

Pure Python and numpy; the trainer's LearningRateRangeTest callback (runs/fit_dynamics.py) sets the
rates and records the losses, and writes `result` to FILE in the run's folder, which
`GET /api/runs/ID` gives as `lr_finder`.
"""

import math
from pathlib import Path

import numpy as np

from .paths import read_json

FILE = "lr_finder.json"
# The loss's exponential moving average, bias-corrected, as fastai's LRFinder smooths it; its 0.98 spans ~50
# batches, half of a 100-step test, and lagged the loss past its lowest point here: 0.9 spans ~10.
BETA = 0.9
RUNAWAY = 4.0       # the test stops once the smoothed loss is this many times its lowest
SETTLE = 5          # the runaway rule waits this many steps: the first smoothed losses are a few batches' mean
SKIP = 0.1          # the suggestion leaves out the first tenth of the rates (at least 3): their smoothing is young


def rate(min_lr, max_lr, steps, index):
    """Give the learning rate of batch `index` (from 0) of `steps`: min_lr to max_lr, exponentially."""
    return min_lr * (max_lr / min_lr) ** (index / max(steps - 1, 1))


def smooth(losses, beta=BETA):
    """Give the bias-corrected exponential moving average of the losses (a non-finite loss ends it)."""
    out, mean = [], 0.0
    for i, loss in enumerate(losses, 1):
        if loss is None or not math.isfinite(loss):
            break
        mean = beta * mean + (1 - beta) * loss
        out.append(mean / (1 - beta ** i))
    return out


def runaway(losses):
    """Say whether the loss has run away: not finite, or its smoothed value past RUNAWAY × its lowest."""
    if losses and (losses[-1] is None or not math.isfinite(losses[-1])):
        return True
    smoothed = smooth(losses)
    return len(smoothed) > SETTLE and smoothed[-1] > RUNAWAY * min(smoothed)


def suggest(lrs, losses):
    """Give the rate where the smoothed loss falls fastest against log(rate), before its lowest point; None when it never falls."""
    smoothed = np.asarray(smooth(losses))
    start = max(3, int(len(smoothed) * SKIP))
    lowest = int(np.argmin(smoothed[start:])) + start if len(smoothed) > start + 2 else 0
    if lowest < start + 2:
        return None
    slope = np.gradient(smoothed[start:lowest + 1], np.log(np.asarray(lrs[start:lowest + 1], dtype=float)))
    steepest = int(np.argmin(slope[:-1]))
    return float(f"{lrs[start + steepest]:.3g}") if slope[steepest] < 0 else None


def result(lrs, losses):
    """Give the contract's lr_finder: {"lrs", "losses", "suggested"}, with the smoothed losses beside them."""
    clean = [float(f"{x:.7g}") if x is not None and math.isfinite(x) else None for x in losses]
    return {"lrs": [float(f"{x:.7g}") for x in lrs], "losses": clean,
            "smoothed": [float(f"{x:.7g}") for x in smooth(losses)], "suggested": suggest(lrs, losses)}


def load(folder):
    """Give a run's stored lr_finder, or None until its range test has ended."""
    return read_json(Path(folder) / FILE)
