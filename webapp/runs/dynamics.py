"""A run's training dynamics as data: the recorded steps, each weight's norms lined up with them, the warnings, bounded.

The trainer's TrainingDynamics callback (runs/fit_dynamics.py) adds a record every `every` steps
(`append`), keeps at most `most` of them (`thin`: past it `every` doubles and the records off the
new grid go), sends what is new as `run_dynamics` events (`since`) and writes the whole document
to FILE in the run's folder at each epoch end. The API's answer is that file with the events
stored after it (`merge`). Pure Python, no Keras, no Flask. The document is the contract's answer:

    {"every", "steps": [{"step", "epoch", "batch", "loss", "learning_rate"}],
     "weights": [{"layer", "name", "grad_norm": [...], "weight_norm": [...], "update_norm": [...]}],
     "warnings": [{"kind", "layer", "epoch", "batch", "step", "message"}]}

`step` counts the optimizer's steps from 1 (a continued run goes on counting); the record of step
s was taken when s - 1 was a multiple of `every`, so the first step is always recorded.
"""

import math

FILE = "dynamics.json"
MOST = 500          # records kept when KD_DYNAMICS_MAX_STEPS does not say
FIGURES = ("grad_norm", "weight_norm", "update_norm")


def empty(every, weights=()):
    """Give a document with no records: weights is [(layer name, weight name), ...] in the model's order."""
    return {"every": int(every), "steps": [],
            "weights": [{"layer": layer, "name": name, **{f: [] for f in FIGURES}} for layer, name in weights],
            "warnings": []}


def number(value):
    """Give a JSON-safe float: rounded to 7 significant digits (float32's), NaN and infinity as None."""
    value = float(value)
    return float(f"{value:.7g}") if math.isfinite(value) else None


def append(doc, step, figures):
    """Add one record: step is {"step", "epoch", "batch", "loss", "learning_rate"}, figures one
    (grad norm, weight norm, update norm) per weight, in the document's order."""
    doc["steps"].append({"step": int(step["step"]), "epoch": int(step["epoch"]), "batch": int(step["batch"]),
                         "loss": number(step["loss"]), "learning_rate": number(step["learning_rate"])})
    for entry, values in zip(doc["weights"], figures):
        for key, value in zip(FIGURES, values):
            entry[key].append(number(value))


def keep(doc, positions):
    """Keep only the records at these positions (rising) in the steps and every weight's arrays."""
    doc["steps"] = [doc["steps"][i] for i in positions]
    for entry in doc["weights"]:
        for key in FIGURES:
            entry[key] = [entry[key][i] for i in positions]


def thin(doc, most=MOST):
    """Double `every` until at most `most` records lie on its grid, and drop the rest; give whether it changed."""
    changed = False
    while len(doc["steps"]) > most:
        doc["every"] *= 2
        keep(doc, [i for i, s in enumerate(doc["steps"]) if (s["step"] - 1) % doc["every"] == 0])
        changed = True
    return changed


def drop_from(doc, step):
    """Forget the records of `step` and after (a continued run that resumes from an earlier save)."""
    keep(doc, [i for i, s in enumerate(doc["steps"]) if s["step"] < step])
    doc["warnings"] = [w for w in doc["warnings"] if w.get("step", 0) < step]


def last_step(doc):
    """Give the step of the last record, or 0."""
    return doc["steps"][-1]["step"] if doc["steps"] else 0


def since(doc, after_step, warnings_from=0):
    """Give the `run_dynamics` payload of what is new: the records after `after_step`, the warnings from index `warnings_from`."""
    first = next((i for i, s in enumerate(doc["steps"]) if s["step"] > after_step), len(doc["steps"]))
    return {"every": doc["every"], "steps": doc["steps"][first:],
            "weights": [{"layer": w["layer"], "name": w["name"], **{f: w[f][first:] for f in FIGURES}}
                        for w in doc["weights"]],
            "warnings": doc["warnings"][warnings_from:]}


def merge(doc, part):
    """Add an event's records after the document's last step, and its warnings not there yet; give doc.

    The file is written at each epoch end and the events of finished epochs are then pruned, so an
    event may hold records the file has already: those are skipped.
    """
    last = last_step(doc)
    new = [i for i, s in enumerate(part.get("steps") or []) if s["step"] > last]
    doc["every"] = max(doc["every"], int(part.get("every") or 0))
    if new:
        doc["steps"] += [part["steps"][i] for i in new]
        by_key = {(w["layer"], w["name"]): w for w in doc["weights"]}
        for w in part.get("weights") or []:
            entry = by_key.get((w["layer"], w["name"]))
            if entry is None:
                entry = by_key[(w["layer"], w["name"])] = {"layer": w["layer"], "name": w["name"],
                                                            **{f: [None] * (len(doc["steps"]) - len(new)) for f in FIGURES}}
                doc["weights"].append(entry)
            for key in FIGURES:
                entry[key] += [w[key][i] for i in new]
    seen = {_warning_key(w) for w in doc["warnings"]}
    doc["warnings"] += [w for w in part.get("warnings") or [] if _warning_key(w) not in seen]
    return doc


def _warning_key(warning):
    return warning.get("kind"), warning.get("layer"), warning.get("epoch"), warning.get("batch")



def answer(stored, events, every):
    """Give GET /api/runs/ID/dynamics: the stored document (or an empty one of `every`) with the events merged in, in order."""
    doc = stored or empty(every or 0)
    for part in events:
        merge(doc, part)
    return doc
