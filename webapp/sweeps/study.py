"""A sweep's Optuna study, in the project's own database: samplers, pruners, ask, report, tell, importance.

Optuna does the searching (ask-and-tell), the pruning and the importance; this module only maps a
sweep's names onto Optuna's. Its storage is an `RDBStorage` on KD_DATABASE_URL, so every web instance
sees the same studies and a sweep outlives the process that started it. Everything used here is
Optuna's public API (a test in tests/unit/test_sweep_study.py pins what the scheduler relies on).
"""

import functools
import logging
import threading

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from .space import grid_values

optuna.logging.set_verbosity(optuna.logging.WARNING)   # a line per trial would flood the server's log
log = logging.getLogger(__name__)
MIN_FOR_IMPORTANCE = 4   # complete trials before importance means anything
_lock = threading.Lock()


@functools.cache
def storage(url):
    """Give the one RDBStorage of this process for a database URL (it holds an engine and its pool)."""
    kwargs = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    with _lock:
        return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)


def distribution(field):
    """Give the Optuna distribution of one FIELD."""
    if field["type"] == "categorical":
        return CategoricalDistribution(field["choices"])
    kind = IntDistribution if field["type"] == "int" else FloatDistribution
    return kind(field["low"], field["high"], log=field["log"], step=field.get("step", 1 if kind is IntDistribution else None))


class GridSearch(optuna.samplers.GridSampler):
    """Optuna's grid sampler for ask-and-tell: its `after_trial` calls `study.stop()`, which only
    `optimize()` accepts (elsewhere it raises, and the last trial's tell never lands). The scheduler
    ends a sweep at its planned trials, which a grid's size bounds."""

    def after_trial(self, study, trial, state, values):
        """Do nothing (see the class)."""


def sampler(config):
    """Give the sampler a sweep names (TPE, random or grid)."""
    if config["sampler"] == "grid":
        return GridSearch({p: grid_values(f) for p, f in config["space"].items()})
    if config["sampler"] == "random":
        return optuna.samplers.RandomSampler()
    return optuna.samplers.TPESampler()


def pruner(config):
    """Give the pruner a sweep names: the median of earlier trials at the same epoch, Hyperband, or none."""
    if config["pruner"] == "hyperband":   # its largest budget: the most epochs a trial may train
        field = config["space"].get("fit.epochs")
        most = (max(field["choices"]) if field["type"] == "categorical" else field["high"]) if field else None
        epochs = max(int(most or config["base"]["fit"]["epochs"]), 1)
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs)
    if config["pruner"] == "median":
        return optuna.pruners.MedianPruner()   # Optuna's defaults: from the 6th trial, at any epoch
    return optuna.pruners.NopPruner()


def create(url, name, config):
    """Create the study of a new sweep."""
    direction = config["objective"]["direction"]
    optuna.create_study(storage=storage(url), study_name=name, direction=direction)


def load(url, name, config):
    """Give the study with the sweep's sampler and pruner (neither is stored: they are made again each time)."""
    return optuna.load_study(study_name=name, storage=storage(url), sampler=sampler(config), pruner=pruner(config))


def delete(url, name):
    """Delete a study (a sweep that could not be made)."""
    try:
        optuna.delete_study(study_name=name, storage=storage(url))
    except KeyError:
        pass


def ask(study, config):
    """Ask the study for a new trial of the sweep's space; give (number, params)."""
    trial = study.ask({path: distribution(field) for path, field in config["space"].items()})
    return trial.number, dict(trial.params)


def finish_ask(url, study, number, config):
    """Give a running trial's params, suggesting those its ask never stored; the same trial, not a new one.

    Optuna's `ask` makes the trial and then stores one value at a time: a process killed in between
    (a web instance restarted mid-pass) leaves a trial with part of the space, which the instance
    that takes the sweep over completes here before starting its run.
    """
    trial = live_trial(url, study, number)
    for path, field in config["space"].items():
        if path not in trial.params:
            suggest(trial, path, field)
    return dict(trial.params)


def suggest(trial, path, field):
    """Suggest one FIELD on a live trial through Optuna's public suggest_* (the sampler picks it)."""
    if field["type"] == "categorical":
        return trial.suggest_categorical(path, field["choices"])
    if field["type"] == "int":
        return trial.suggest_int(path, field["low"], field["high"], step=field.get("step", 1), log=field["log"])
    return trial.suggest_float(path, field["low"], field["high"], step=field.get("step"), log=field["log"])


def live_trial(url, study, number):
    """Give an `optuna.trial.Trial` for a running trial's number (to report, prune or tell it)."""
    store = storage(url)
    study_id = store.get_study_id_from_name(study.study_name)
    return optuna.trial.Trial(study, store.get_trial_id_from_study_id_trial_number(study_id, number))


def report(trial, epoch, value):
    """Report the objective at an epoch's end (1-based step); give whether the pruner says stop."""
    trial.report(value, epoch)
    return trial.should_prune()


def tell(study, trial, state, value=None):
    """End a trial: complete with `value`, pruned (Optuna takes its last report), or failed."""
    states = {"complete": TrialState.COMPLETE, "pruned": TrialState.PRUNED, "failed": TrialState.FAIL}
    study.tell(trial, value if state == "complete" else None, state=states[state], skip_if_finished=True)


def importance(study):
    """Give Optuna's parameter importance as {PATH: share}, or None with too few complete trials."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < MIN_FOR_IMPORTANCE or len({repr(t.params) for t in complete}) < 2:
        return None
    try:
        found = optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError) as exc:   # e.g. every trial had the same value
        log.info("no importance for %s: %s", study.study_name, exc)
        return None
    return {path: round(float(share), 4) for path, share in found.items()}
