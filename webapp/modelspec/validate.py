"""Check a run spec against the catalog: give a canonical spec, or every field error at once.

Pure data in and out, no Keras. The canonical form fills in every default under its Keras name, so
two specs that mean the same model compare equal.
"""

from dataclasses import dataclass, field

from . import catalog, graph, pretrained
# FieldError and SpecError live in fields.py; callers outside modelspec/ import them from here too.
from .fields import MAX_NAME, FieldError, SpecError, check_params, is_int, is_number, show, suggest  # noqa: F401

TOP_LEVEL = ("name", "dataset", "dataset_options", "model", "compile", "fit", "predict")
MAX_PREDICT = 1000
MAX_OPTIONS, MAX_OPTION_TEXT = 32, 200   # dataset_options: names and values; datasets/options.py checks which
MAX_LAYERS = 200


@dataclass
class Spec:
    """A checked, canonical run spec."""

    name: str
    dataset: str
    layers: list
    compile: dict | None
    fit: dict | None
    predict: dict | None = None   # {"indexes": [...]}: test images the gallery opens on after training
    dataset_options: dict = field(default_factory=dict)   # checked against the dataset by datasets/options.py

    @property
    def is_graph(self):
        """Say whether the layers name their inputs (a functional keras.Model) rather than stack."""
        return graph.is_graph(self.layers)

    @property
    def label_mode(self):
        """Give how labels are encoded for this spec's loss: onehot, sparse or binary."""
        return catalog.LOSSES[self.compile["loss"]]["label"] if self.compile else "onehot"

    def to_dict(self):
        """Give the canonical spec as JSON-ready data."""
        out = {"name": self.name, "dataset": self.dataset, "model": {"layers": self.layers},
               "compile": self.compile, "fit": self.fit}
        if self.dataset_options:   # left out when empty, so the specs stored before it stay as they were
            out["dataset_options"] = dict(self.dataset_options)
        if self.predict is not None:
            out["predict"] = self.predict
        return out


def check_layer(index, data, errors):
    """Give the canonical form of one layer dict, or None; append FieldErrors."""
    if not isinstance(data, dict):
        errors.append(FieldError(index, None, f"Layer {index} must be an object like {{\"type\": \"Dense\", \"units\": 10}}."))
        return None
    kind = data.get("type")
    entry = catalog.LAYERS.get(kind) if isinstance(kind, str) else None
    if entry is None:
        errors.append(FieldError(index, "type", f"Layer {index}: '{show(kind).strip(chr(39))}' is not an allowed layer."
                                 f"{suggest(kind, catalog.LAYERS)} Allowed: {', '.join(catalog.LAYERS)}."))
        return None
    params = {k: v for k, v in data.items() if k not in ("name", "inputs")}
    before = len(errors)
    out = {"type": entry.type, **check_params(entry, params, errors, index, what=f"Layer {index} ({entry.type})")}
    if entry.type in pretrained.BACKBONES and len(errors) == before:
        pretrained.check_layer(index, out, errors, FieldError)
    if "name" in data and graph.check_name(index, data["name"], errors, FieldError):
        out["name"] = data["name"]
    return out


def check_optimizer(value, errors):
    """Give the canonical optimizer dict; accepts Keras's string names ("adam") too."""
    if isinstance(value, str):
        value = {"type": value}
    kind = value.get("type") if isinstance(value, dict) else None
    kind = catalog.OPTIMIZER_ALIASES.get(kind.lower(), kind) if isinstance(kind, str) else kind
    entry = catalog.OPTIMIZERS.get(kind) if isinstance(kind, str) else None
    if entry is None:
        errors.append(FieldError(None, "compile.optimizer", f"Unknown optimizer {show(kind)}. "
                                 f"Allowed: {', '.join(catalog.OPTIMIZERS)}."))
        return None
    given = {k: v for k, v in value.items() if k not in ("type", "schedule")}
    out = {"type": entry.type, **check_params(entry, given, errors, None, "compile.optimizer.", entry.type)}
    schedule = value.get("schedule")
    if schedule is not None:
        out["schedule"] = check_schedule(schedule, errors)
    return out


def check_schedule(value, errors):
    """Give the canonical learning-rate schedule; learning_rate is its initial rate."""
    kind = value.get("type") if isinstance(value, dict) else None
    entry = catalog.SCHEDULES.get(kind) if isinstance(kind, str) else None
    if entry is None:
        errors.append(FieldError(None, "compile.optimizer.schedule", f"Unknown learning-rate schedule {show(kind)}. "
                                 f"Allowed: {', '.join(catalog.SCHEDULES)}, or null."))
        return None
    given = {k: v for k, v in value.items() if k != "type"}
    return {"type": entry.type, **check_params(entry, given, errors, None, "compile.optimizer.schedule.", entry.type)}


def check_compile(data, errors):
    """Give the canonical compile dict: optimizer, loss and metrics."""
    if not isinstance(data, dict):
        errors.append(FieldError(None, "compile", "compile must be an object with optimizer, loss and metrics."))
        return None
    for key in set(data) - {"optimizer", "loss", "metrics"}:
        errors.append(FieldError(None, f"compile.{key}", f"compile has no option '{key}'. Its options: optimizer, loss, metrics."))
    optimizer = check_optimizer(data.get("optimizer", "adam"), errors)
    loss = data.get("loss")
    if not isinstance(loss, str) or loss not in catalog.LOSSES:
        errors.append(FieldError(None, "compile.loss", f"Unknown loss {show(loss)}.{suggest(loss, catalog.LOSSES)} "
                                 f"Allowed: {', '.join(catalog.LOSSES)}."))
    metrics = data.get("metrics", [])
    if not isinstance(metrics, list):
        errors.append(FieldError(None, "compile.metrics", "compile.metrics must be a list such as [\"accuracy\"]."))
        metrics = []
    for m in metrics:
        if not isinstance(m, str) or m not in catalog.METRICS:
            errors.append(FieldError(None, "compile.metrics", f"Unknown metric {show(m)}.{suggest(m, catalog.METRICS)} "
                                     f"Allowed: {', '.join(catalog.METRICS)}."))
        elif isinstance(loss, str) and loss in catalog.LOSSES and catalog.LOSSES[loss]["label"] not in catalog.METRICS[m]["labels"]:
            errors.append(FieldError(None, "compile.metrics", f"{m} does not work with {loss}'s "
                                     f"{catalog.LOSSES[loss]['label']} labels; use categorical_crossentropy for one-hot labels."))
    return {"optimizer": optimizer, "loss": loss, "metrics": list(dict.fromkeys(m for m in metrics if isinstance(m, str)))}


def log_keys(compile_spec, validation):
    """Give the log keys Keras will report for this compile and validation choice."""
    keys = ["loss"] + [catalog.METRICS[m]["key"] for m in compile_spec["metrics"] if m in catalog.METRICS]
    return keys + (["val_" + k for k in keys] if validation != "none" else [])


def _check_validation(value, errors):
    if value in ("test", "none"):
        return value
    if is_number(value) and 0 < value < 1:
        return float(value)
    errors.append(FieldError(None, "fit.validation", f"fit.validation must be \"test\", \"none\" or a fraction "
                             f"between 0 and 1 such as 0.1; got {show(value)}."))
    return "test"


def check_fit(data, compile_spec, errors):
    """Give the canonical fit dict: epochs, batch_size, shuffle, validation, callbacks, dynamics and find_lr."""
    if not isinstance(data, dict):
        errors.append(FieldError(None, "fit", "fit must be an object with epochs, batch_size, validation..."))
        return None
    entry = catalog.Entry("fit", catalog.FIT, "")
    plain = {k: v for k, v in data.items() if k not in ("validation", "callbacks", "dynamics", "find_lr", "fine_tune")}
    out = check_params(entry, plain, errors, None, "fit.", "fit")
    out["validation"] = _check_validation(data.get("validation", "test"), errors)
    out["dynamics"] = _check_dynamics(data.get("dynamics"), errors)
    out["find_lr"] = _check_find_lr(data.get("find_lr"), errors)
    fine = data.get("fine_tune")
    if fine is not None:   # null is the default, and left out of the canonical fit (as every spec before had it)
        out["fine_tune"] = check_fine_tune(fine, errors, "fit.fine_tune.", need_epochs=True)
    callbacks = data.get("callbacks") or {}
    if not isinstance(callbacks, dict):
        errors.append(FieldError(None, "fit.callbacks", "fit.callbacks must be an object such as {\"early_stopping\": {\"patience\": 3}}."))
        callbacks = {}
    out["callbacks"] = {}
    keys = log_keys(compile_spec, out["validation"]) if compile_spec and compile_spec.get("loss") else None
    for name in callbacks:
        if name not in catalog.CALLBACKS:
            errors.append(FieldError(None, f"fit.callbacks.{name}", f"Unknown callback '{name}'. Allowed: {', '.join(catalog.CALLBACKS)}."))
    for name, params in catalog.CALLBACKS.items():
        given = callbacks.get(name)
        if given is None or given is False:
            out["callbacks"][name] = None
            continue
        given = {} if given is True else given
        if not isinstance(given, dict):
            errors.append(FieldError(None, f"fit.callbacks.{name}", f"fit.callbacks.{name} must be an object, true or null."))
            continue
        cb = check_params(catalog.Entry(name, params, ""), given, errors, None, f"fit.callbacks.{name}.", name)
        if keys is not None and cb.get("monitor") not in keys:
            errors.append(FieldError(None, f"fit.callbacks.{name}.monitor", f"{name} watches {show(cb.get('monitor'))}, "
                                     f"which this run will not log. It logs: {', '.join(keys)}."))
        out["callbacks"][name] = cb
    return out


MAX_UNFREEZE = 100_000


def check_fine_tune(value, errors, prefix="", need_epochs=False):
    """Give {"epochs", "unfreeze", "learning_rate"} canonical: a fine-tuning phase (fit.fine_tune, or a continue's body).

    unfreeze: how many layers from the top of each backbone become trainable (a whole number or
    "all"); learning_rate: the rate the model is recompiled at.
    """
    if not isinstance(value, dict):
        errors.append(FieldError(None, prefix.rstrip(".") or "fine_tune", "fine-tuning must be an object such as "
                                 '{"epochs": 5, "unfreeze": 20, "learning_rate": 1e-5}.'))
        return None
    for key in set(value) - {"epochs", "unfreeze", "learning_rate"}:
        errors.append(FieldError(None, prefix + str(key), f"fine-tuning has no option '{key}': epochs, unfreeze, learning_rate."))
    epochs, unfreeze, rate = value.get("epochs"), value.get("unfreeze"), value.get("learning_rate")
    if (need_epochs or epochs is not None) and not (is_int(epochs) and 1 <= epochs <= 100_000):
        errors.append(FieldError(None, prefix + "epochs", f"epochs must be a whole number from 1 to 100000; got {show(epochs)}."))
    if not (unfreeze == "all" or is_int(unfreeze) and 1 <= unfreeze <= MAX_UNFREEZE):
        errors.append(FieldError(None, prefix + "unfreeze", "unfreeze must be how many layers from the top of the "
                                 f"backbone to train (1 to {MAX_UNFREEZE}) or \"all\"; got {show(unfreeze)}."))
    if not (is_number(rate) and 0 < rate <= 10):
        errors.append(FieldError(None, prefix + "learning_rate", "learning_rate must be a number above 0 and at most "
                                 f"10 (fine-tuning uses a low one, such as 1e-5); got {show(rate)}."))
    return {"epochs": int(epochs) if is_int(epochs) else None, "unfreeze": unfreeze if unfreeze == "all" or not is_int(unfreeze) else int(unfreeze),
            "learning_rate": float(rate) if is_number(rate) else None}


def _check_dynamics(value, errors):
    """Give fit.dynamics canonical: {"every": N} (null or true: the default N), or False (off)."""
    if value is False:
        return False
    if value is None or value is True:
        value = {}
    if not isinstance(value, dict):
        errors.append(FieldError(None, "fit.dynamics", "fit.dynamics must be an object such as {\"every\": "
                                 f"{catalog.DYNAMICS_EVERY}}}, true, null or false; got {show(value)}."))
        return {"every": catalog.DYNAMICS_EVERY}
    return check_params(catalog.Entry("dynamics", catalog.DYNAMICS, ""), value, errors, None, "fit.dynamics.", "fit.dynamics")


def _check_find_lr(value, errors):
    """Give fit.find_lr canonical ({"min_lr", "max_lr", "steps"}, min_lr below max_lr), or None (a normal run)."""
    if value is None or value is False:
        return None
    if value is True:
        value = {}
    if not isinstance(value, dict):
        errors.append(FieldError(None, "fit.find_lr", "fit.find_lr must be an object such as {\"min_lr\": 1e-6, "
                                 f"\"max_lr\": 1, \"steps\": 100}}, or null; got {show(value)}."))
        return None
    out = check_params(catalog.Entry("find_lr", catalog.FIND_LR, ""), value, errors, None, "fit.find_lr.", "fit.find_lr")
    if isinstance(out.get("min_lr"), float) and isinstance(out.get("max_lr"), float) and out["min_lr"] >= out["max_lr"]:
        errors.append(FieldError(None, "fit.find_lr.max_lr", f"fit.find_lr.max_lr ({out['max_lr']:g}) must be above "
                                 f"min_lr ({out['min_lr']:g}): the test raises the rate from min_lr to max_lr."))
    return out


def validate(data, *, datasets=None, require_run=False, weights=None, download=False):
    """Give the canonical Spec for `data`, or raise SpecError with every problem found.

    datasets: the ids a spec may name (None skips that check). require_run: compile and fit must be
    given, as for `POST /api/runs`; `POST /api/models/check` leaves them optional. weights: {id:
    application type} of the uploaded weights the user may use; given, every backbone's weights
    must be here (ImageNet's in Keras's cache, unless `download`: KD_DOWNLOAD_WEIGHTS); None skips that.
    """
    if not isinstance(data, dict):
        raise SpecError([FieldError(None, None, "The spec must be a JSON object with dataset, model, compile and fit.")])
    errors = []
    for key in data:
        if key not in TOP_LEVEL:
            errors.append(FieldError(None, str(key), f"Unknown field '{key}'. A spec has: {', '.join(TOP_LEVEL)}."))
    name = data.get("name") or ""
    if not isinstance(name, str) or len(name) > MAX_NAME:
        errors.append(FieldError(None, "name", f"name must be a text of at most {MAX_NAME} characters."))
        name = ""
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    dataset = data.get("dataset")
    if not isinstance(dataset, str) or not dataset:
        errors.append(FieldError(None, "dataset", "dataset must name a dataset, such as \"digits\"."))
    elif datasets is not None and dataset not in datasets:
        errors.append(FieldError(None, "dataset", f"Unknown dataset '{show(dataset)[1:-1]}'. Known: {', '.join(datasets)}."))
    dataset_options = _check_dataset_options(data.get("dataset_options"), errors)
    layers = _check_model(data.get("model"), errors)
    if weights is not None:
        for index, layer in enumerate(layers):
            refused = any(e.layer == index for e in errors)
            if layer and layer["type"] in pretrained.BACKBONES and not refused \
                    and not (download and layer["weights"] == "imagenet"):
                pretrained.check_weights(index, layer, weights, errors, FieldError)
    compile_spec = fit = None
    if data.get("compile") is not None or require_run:
        compile_spec = check_compile(data.get("compile"), errors)
    if data.get("fit") is not None or require_run:
        fit = check_fit(data.get("fit", {}) if data.get("fit") is not None else {}, compile_spec, errors)
    predict = _check_predict(data["predict"], errors) if data.get("predict") is not None else None
    if compile_spec and compile_spec.get("optimizer") and compile_spec["optimizer"].get("schedule") and fit \
            and fit["callbacks"].get("reduce_lr_on_plateau"):
        errors.append(FieldError(None, "fit.callbacks.reduce_lr_on_plateau", "reduce_lr_on_plateau cannot change "
                                 "a learning rate that a schedule sets; drop one of them."))
    if fit and fit.get("fine_tune") and not any(layer and layer["type"] in pretrained.BACKBONES for layer in layers):
        errors.append(FieldError(None, "fit.fine_tune", "fit.fine_tune unfreezes a pretrained backbone; this model "
                                 f"has none (add one of {', '.join(pretrained.BACKBONES)})."))
    if errors:
        raise SpecError(errors)
    return Spec(name=name, dataset=dataset, layers=layers, compile=compile_spec, fit=fit, predict=predict,
                dataset_options=dataset_options)


def _check_dataset_options(value, errors):
    """Give dataset_options as a dict of scalars (bounded); which names a dataset takes is datasets/options.py's."""
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_OPTIONS:
        errors.append(FieldError(None, "dataset_options", f"dataset_options must be an object of at most {MAX_OPTIONS} "
                                 f"options, such as {{\"num_words\": 20000, \"maxlen\": 80}}; got {show(value)}."))
        return {}
    out = {}
    for key, v in value.items():
        scalar = v is None or isinstance(v, (bool, int, float)) or (isinstance(v, str) and len(v) <= MAX_OPTION_TEXT)
        if not isinstance(key, str) or not 0 < len(key) <= MAX_NAME or not scalar:
            errors.append(FieldError(None, f"dataset_options.{show(key)[1:-1] if isinstance(key, str) else key}",
                                     f"dataset_options.{key} must be a number, true/false, null or a text of at most "
                                     f"{MAX_OPTION_TEXT} characters; got {show(v)}."))
            continue
        out[key] = v
    return out


def _check_predict(value, errors):
    """Give {"indexes": [...]}: the test images a script predicted on, which the gallery opens on."""
    indexes = value.get("indexes") if isinstance(value, dict) else None
    if set(value if isinstance(value, dict) else ()) - {"indexes"} or not isinstance(indexes, list) \
            or not 0 < len(indexes) <= MAX_PREDICT or not all(is_int(i) and 0 <= i < 10_000_000 for i in indexes):
        errors.append(FieldError(None, "predict", f"predict must be {{\"indexes\": [...]}} with 1 to {MAX_PREDICT} "
                                 "test image indexes (whole numbers ≥ 0), or null."))
        return None
    return {"indexes": [int(i) for i in indexes]}


def _check_model(model, errors):
    layers = model.get("layers") if isinstance(model, dict) else None
    if not isinstance(layers, list):
        errors.append(FieldError(None, "model", "model must be an object with a list of layers: {\"layers\": [...]}."))
        return []
    if not layers:
        errors.append(FieldError(None, "model.layers", "The model has no layers: add at least one, such as Dense."))
    if len(layers) > MAX_LAYERS:
        errors.append(FieldError(None, "model.layers", f"A model may have at most {MAX_LAYERS} layers; this one has {len(layers)}."))
        return []
    checked = [check_layer(i, layer, errors) for i, layer in enumerate(layers)]
    if graph.is_graph(layers):
        given = [layer if isinstance(layer, dict) else {} for layer in layers]
        return graph.check_graph(checked, given, errors, FieldError)
    graph.check_stack(checked, errors, FieldError)
    return checked

