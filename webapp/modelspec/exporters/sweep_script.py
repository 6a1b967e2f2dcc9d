"""A sweep -> a runnable sweep.py that does the same search with Optuna and plain Keras alone.

The script is train.py's data, model, compile and fit (`train_script.py`'s pieces) inside an Optuna
objective. Each searched PATH of the space is a `trial.suggest_*` call, named by its PATH, where
that value is used: a layer's argument, the optimizer's argument or type, fit's batch_size or
epochs. A small Keras callback reports the objective after every epoch, so the pruner can stop a
trial (never at its last epoch, as the dashboard's sweeps do); the grid is the dashboard's. Every value from the sweep is written with repr(); names written bare (layer and optimizer
classes, samplers, pruners) come from the catalog and the tables here. A categorical choice that
is not a plain value (a kernel size such as (3, 3)) is suggested by its index in the choices.
"""

from .. import catalog
from ..fields import FieldError, SpecError, is_int, is_number
from ..validate import check_optimizer, log_keys, validate
from . import script_text
from .script_data import data_source
from .source_text import INDENT, literal
from .train_script import PYTHON_NAMES, compile_lines, fit_lines, header, labels, model_lines, optimizer_call, \
    script_names

SAMPLERS = {"tpe": "TPESampler()", "random": "RandomSampler()", "grid": "GridSampler(SEARCH_SPACE)"}
PRUNERS = {"median": "MedianPruner()", "hyperband": "HyperbandPruner(min_resource=1, max_resource={epochs})",
           "none": "NopPruner()"}
DIRECTIONS = ("maximize", "minimize")
FIT_PATHS = ("epochs", "batch_size")
MOST_GRID = 100_000   # values of one setting the grid sampler's SEARCH_SPACE may list (as the dashboard's grid)
PLAIN = (str, int, float, bool, type(None))   # what Optuna takes as a categorical choice

DOC = [
    "Search a Keras model's settings with Optuna, as a sweep of the Keras dashboard did.",
    "",
    "Each trial trains the model with the values Optuna suggests for the searched settings (each named by its",
    "path in the dashboard's run spec) and gives OBJECTIVE at its last epoch; the pruner may stop a trial after",
    "any epoch. The best trial's value and settings are printed at the end.",
    "Run it with `python sweep.py`; `--trials N` overrides the sweep's number of trials.",
]

CALLBACK = '''class ReportEpochs(keras.callbacks.Callback):
    """Reports the objective to Optuna after every epoch, and stops a trial the pruner prunes.

    Args:
        trial: the Optuna trial being trained.
        metric: the log key the study optimizes, such as "val_accuracy".

    Example:
        model.fit(x_train, y_train, callbacks=[ReportEpochs(trial, "val_accuracy")])
    """

    def __init__(self, trial, metric):
        super().__init__()
        self.trial, self.metric = trial, metric

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.metric)
        if value is None:
            return
        self.trial.report(float(value), epoch + 1)   # steps count epochs from 1, as the dashboard reports them
        if epoch + 1 < self.params["epochs"] and self.trial.should_prune():   # a trial at its last epoch completes
            raise optuna.TrialPruned(f"pruned after epoch {epoch + 1}: {self.metric} = {value:.4f}")'''


def sweep_script(base, space, objective, trials, sampler, pruner, dataset):
    """Give sweep.py for a sweep, or raise SpecError naming the field it cannot write.

    base: a canonical run spec; space: {PATH: FIELD}; objective: {"metric", "direction"}; trials: how many;
    sampler: tpe, random or grid; pruner: median, hyperband or none; dataset: a dataset description.
    """
    spec = validate(base, require_run=True)
    _check(spec, objective, trials, sampler, pruner)
    if not isinstance(space, dict) or not space:
        raise _error("space", "space must name at least one setting to search, such as {\"fit.batch_size\": ...}.")
    layers, optimizer, fit = place(spec, space)
    head = "\n\n".join([_header(spec, objective["metric"], trials, dataset), "\n".join(data_source(dataset)),
                         labels(spec.label_mode, dataset)])
    tail = _study(space, objective["direction"], sampler, pruner, _most_epochs(spec.fit, space))

    def script(model):
        if script_text.kind(dataset) == "text":   # each trial's TextVectorization learns its vocabulary first
            model = model + "\n" + script_text.adapt_lines(spec.fit)
        trial = _objective(model, spec.compile, space, optimizer, _fit(spec.fit, fit))
        return "\n\n\n".join([head, CALLBACK, trial, tail]) + "\n"

    # Read from the script itself, so a name it uses is never a layer's variable too (as train.py does).
    reserved = PYTHON_NAMES | script_names(script("pass"))
    return script(model_lines(spec, dataset, reserved, layers, summary=False))


def _header(spec, metric, trials, dataset):
    """Give sweep.py's head: docstring, imports, RUN_NAME, OBJECTIVE, DATASET and the --trials option."""
    constants = [f"RUN_NAME = {literal(spec.name)}  # the sweep's base run", f"OBJECTIVE = {literal(metric)}"]
    arguments = [f'parser.add_argument("--trials", type=int, default={literal(int(trials))}, help="trials to run")']
    return header(DOC, dataset, constants, arguments, imports=["import optuna"])


def _check(spec, objective, trials, sampler, pruner):
    """Refuse an objective the run does not log, a direction, sampler or pruner not known, trials not a count."""
    metric = objective.get("metric") if isinstance(objective, dict) else None
    keys = log_keys(spec.compile, spec.fit["validation"])
    if metric not in keys:
        raise _error("objective.metric", f"objective.metric must be a key the run logs: {', '.join(keys)}.")
    if objective.get("direction") not in DIRECTIONS:
        raise _error("objective.direction", "objective.direction must be maximize or minimize.")
    if not is_int(trials) or trials < 1:
        raise _error("trials", "trials must be a whole number of at least 1.")
    if sampler not in SAMPLERS:
        raise _error("sampler", f"sampler must be one of {', '.join(SAMPLERS)}.")
    if pruner not in PRUNERS:
        raise _error("pruner", f"pruner must be one of {', '.join(PRUNERS)}.")


def _error(field, message):
    return SpecError([FieldError(None, field, message)])


def place(spec, space):
    """Give where each searched path goes: ({layer index: {argument: suggest}}, {optimizer argument: suggest},
    {fit key: suggest}); the optimizer's type is read from the space where it is written."""
    layers, optimizer, fit = {}, {}, {}
    names = {layer["name"]: i for i, layer in enumerate(spec.layers) if layer.get("name")}
    for path, field in space.items():
        parts = path.split(".") if isinstance(path, str) else []
        call = suggest(path, field)
        if parts[:2] == ["model", "layers"] and len(parts) == 4:
            index = int(parts[2]) if parts[2].isdigit() else names.get(parts[2])
            if index is None or index >= len(spec.layers):
                raise _error(f"space.{path}", f"the model has no layer {parts[2]!r}: give its index "
                                              f"(0..{len(spec.layers) - 1}) or its name.")
            _check_argument(path, spec.layers[index], parts[3])
            layers.setdefault(index, {})[parts[3]] = call
        elif parts[:2] == ["compile", "optimizer"] and len(parts) == 3:
            _check_optimizer_argument(path, spec.compile["optimizer"], space, parts[2])
            optimizer[parts[2]] = call
        elif parts[:1] == ["fit"] and len(parts) == 2 and parts[1] in FIT_PATHS:
            fit[parts[1]] = call
        else:
            raise _error(f"space.{path}", "a searched path is model.layers.INDEX.ARG (or NAME.ARG), "
                                          "compile.optimizer.ARG, compile.optimizer.type, fit.batch_size or fit.epochs.")
    return layers, optimizer, fit


def _check_argument(path, layer, name):
    """Refuse a layer argument the layer's catalog entry does not have (or one that is a whole layer)."""
    param = catalog.LAYERS[layer["type"]].param(name)
    if param is None or param.kind == "layer":
        takes = ", ".join(p.name for p in catalog.LAYERS[layer["type"]].params if p.kind != "layer")
        raise _error(f"space.{path}", f"{layer['type']} has no argument {name!r} to search; it takes {takes}.")


def _check_optimizer_argument(path, optimizer, space, name):
    """Refuse an optimizer argument that neither the base optimizer nor a searched type takes, and a type
    that is not searched among choices."""
    types = (space.get("compile.optimizer.type") or {}).get("choices")
    if name == "type":
        if not isinstance(types, list):
            raise _error(f"space.{path}", "the optimizer's type is searched among choices: "
                                          "{\"type\": \"categorical\", \"choices\": [\"Adam\", \"SGD\"]}.")
        return
    kinds = [optimizer["type"]] + [catalog.OPTIMIZER_ALIASES.get(t.lower(), "") for t in types or () if isinstance(t, str)]
    if not any(kind in catalog.OPTIMIZERS and catalog.OPTIMIZERS[kind].param(name) for kind in kinds):
        raise _error(f"space.{path}", f"{' or '.join(dict.fromkeys(k for k in kinds if k))} takes no argument "
                                      f"{name!r} to search.")


def suggest(path, field):
    """Give the `trial.suggest_*` call for one searched path (a choice that is not a plain value by its index)."""
    kind, name = field.get("type") if isinstance(field, dict) else None, literal(path)
    if kind in ("int", "float"):
        low, high, step = field.get("low"), field.get("high"), field.get("step")
        fits = is_int if kind == "int" else is_number
        if not (fits(low) and fits(high) and low <= high and (step is None or fits(step) and step > 0)):
            raise _error(f"space.{path}", f"an {kind} field needs low <= high (and a step above 0), {kind}s.")
        if field.get("log") and (low <= 0 or step not in (None, 1)):
            raise _error(f"space.{path}", "a field searched on a log scale needs low above 0 and no step.")
        if step is not None and not (high - low) / step < MOST_GRID:
            raise _error(f"space.{path}", f"a step makes at most {MOST_GRID:,} values between low and high.")
        if kind == "int":   # 16.0 is 16: suggest_int takes ints
            low, high, step = int(low), int(high), None if step is None else int(step)
        extra = ([f"step={literal(step)}"] if step is not None else []) + (["log=True"] if field.get("log") else [])
        return f"trial.suggest_{kind}({', '.join([name, literal(low), literal(high), *extra])})"
    choices = field.get("choices") if kind == "categorical" else None
    if not isinstance(choices, list) or not choices:
        raise _error(f"space.{path}", "a field is {\"type\": \"int\" | \"float\", \"low\", \"high\"} or "
                                      "{\"type\": \"categorical\", \"choices\": [...]} with at least one choice.")
    if all(isinstance(c, PLAIN) for c in choices):
        return f"trial.suggest_categorical({name}, {literal(choices, tuples=False)})"
    return f"{literal(choices)}[trial.suggest_categorical({name}, {literal(list(range(len(choices))), tuples=False)})]"


def _optimizer(compile_spec, space, given):
    """Give the lines choosing the optimizer when its type is searched (else none: compile writes it)."""
    if "type" not in given:
        return []
    choices = space["compile.optimizer.type"]["choices"]
    lines = [f"optimizer_type = {given['type']}"]
    for i, choice in enumerate(choices):
        kind = catalog.OPTIMIZER_ALIASES.get(choice.lower()) if isinstance(choice, str) else None
        if kind is None:
            raise _error("space.compile.optimizer.type", f"each choice must be an optimizer: "
                                                         f"{', '.join(catalog.OPTIMIZERS)}.")
        test = "else:" if i == len(choices) - 1 and i else f"{'el' if i else ''}if optimizer_type == {literal(choice)}:"
        lines += [test, f"{INDENT}optimizer = {optimizer_call(_typed(compile_spec['optimizer'], kind), given)}"]
    return ["\n".join(lines)]


def _typed(optimizer, kind):
    """Give the base's optimizer as a `kind`: the arguments that type takes kept, the others its defaults."""
    kept = {p.name: optimizer[p.name] for p in catalog.OPTIMIZERS[kind].params if p.name in optimizer}
    errors = []
    out = check_optimizer({"type": kind, **kept, **({"schedule": optimizer["schedule"]} if optimizer.get("schedule")
                                                    else {})}, errors)
    if errors:
        raise _error("space.compile.optimizer.type", f"{kind} cannot take the base optimizer's settings: "
                                                     f"{errors[0].message}")
    return out


def _fit(fit, given):
    """Give the callbacks and model.fit of a trial: searched epochs and batch size, the objective reported."""
    return fit_lines(fit, given.get("epochs") or literal(fit["epochs"]), given.get("batch_size") or
                     literal(fit["batch_size"]), callbacks=["ReportEpochs(trial, OBJECTIVE)"],
                     checkpoint='f"best-trial-{trial.number}.keras"', verbose=2)


def _objective(model, compile_spec, space, optimizer, fit):
    """Give the objective function: a trial's model, optimizer, compile and fit, then OBJECTIVE at the last epoch."""
    choose = _optimizer(compile_spec, space, optimizer)
    chosen = "optimizer" if choose else optimizer_call(compile_spec["optimizer"], optimizer)
    parts = [model, *choose, compile_lines(compile_spec, chosen), fit, "return history.history[OBJECTIVE][-1]"]
    lines = ["def objective(trial):", f'{INDENT}"""Give OBJECTIVE at the last epoch of the model this trial trains."""',
             f"{INDENT}keras.backend.clear_session()  # each trial starts from a fresh Keras state"]
    for part in parts:
        lines += [INDENT + line if line else line for line in part.split("\n")]
    return "\n".join(lines)


def _most_epochs(fit, space):
    """Give the most epochs a trial trains (the hyperband pruner's largest resource)."""
    field = space.get("fit.epochs")
    if field is None:
        return fit["epochs"]
    return field["high"] if field["type"] == "int" else max(c for c in field["choices"] if is_int(c))


def _study(space, direction, sampler, pruner, epochs):
    """Give the study's lines: the grid (for the grid sampler), create_study, optimize, and the best trial printed."""
    lines = []
    if sampler == "grid":
        lines += ["# The grid the sampler walks: every value of each searched setting, as the dashboard lists them.",
                  "SEARCH_SPACE = {"]
        lines += [f"{INDENT}{literal(path)}: {_grid(path, field)}," for path, field in space.items()] + ["}", ""]
    return "\n".join(lines + [
        "study = optuna.create_study(",
        f"{INDENT}study_name=RUN_NAME,",
        f"{INDENT}direction={literal(direction)},",
        f"{INDENT}sampler=optuna.samplers.{SAMPLERS[sampler]},",
        f"{INDENT}pruner=optuna.pruners.{PRUNERS[pruner].format(epochs=literal(epochs))},",
        ")",
        "study.optimize(objective, n_trials=args.trials)",
        'print("Trials finished:", len(study.trials))',
        'print("Best trial:", study.best_trial.number)',
        'print("Best value:", study.best_value)',
        'print("Best params:", study.best_params)',
    ])


def _grid(path, field):
    """Give the source of the values the grid sampler tries for one field: the choices, every int from low to high
    by step, a float's low + i * step (rounded to 12 places, as the dashboard's grid); refuse a float without a step."""
    if field["type"] == "categorical":
        choices = field["choices"]
        plain = all(isinstance(c, PLAIN) for c in choices)
        return literal(choices if plain else list(range(len(choices))), tuples=False)
    low, high, step = field["low"], field["high"], field.get("step")
    count = (high - low) / (step or 1) if step or field["type"] == "int" else None
    if count is None or not count < MOST_GRID:
        raise _error(f"space.{path}", f"a grid search needs a finite list here: give choices, or a step (at most "
                                      f"{MOST_GRID:,} points).")
    if field["type"] == "int":
        return f"list(range({literal(int(low))}, {literal(int(high) + 1)}, {literal(int(step or 1))}))"
    return f"[round({literal(low)} + i * {literal(step)}, 12) for i in range({literal(int(count + 1e-9) + 1)})]"
