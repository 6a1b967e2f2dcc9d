"""A sweep's life: create (checked, its cost bounded before anything is made), stop, resume, read.

States: running -> completed, or running -> stopping -> stopped; failed when its scheduler cannot
go on. What runs when is scheduler.py's. No Flask: the web layer sets `notify`.
"""

import uuid

from sqlalchemy import select

from ..db.store import Sweep
from ..modelspec.validate import FieldError, SpecError, validate
from . import space, views
from .scheduler import Scheduler, study

ENDED = ("completed", "stopped", "failed")


class SweepError(Exception):
    """A request about a sweep that cannot be done now; `status` is the HTTP status to answer."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


class SweepService:
    """Creates sweeps and schedules their trials as runs of the run service."""

    def __init__(self, store, runs, url, max_trials, notify=None):
        self.store, self.runs, self.url, self.max_trials = store, runs, url, max_trials
        self.notify = notify or (lambda event: None)
        self.scheduler = Scheduler(store, runs, url, lambda event: self.notify(event))
        self.start_up, self.shutdown, self.tick = self.scheduler.start_up, self.scheduler.shutdown, self.scheduler.tick
        self.on_run_event = self.scheduler.on_run_event

    # -- what users ask -------------------------------------------------------------------------

    def create(self, data, owner_id=None):
        """Check the request and the cost of its largest trials, create the study and the sweep; give its id."""
        datasets = self.runs.datasets
        config = space.check(data, datasets.ids(), self.max_trials)
        dataset = datasets.info(config["base"]["dataset"], config["base"].get("dataset_options"))
        if not dataset["available"]:
            raise SpecError([FieldError(None, "base.dataset", dataset.get("message") or "This dataset is not available.")])
        if config["sampler"] == "grid":
            config["trials"] = min(config["trials"], _grid_size(config["space"]))
        self._check_corners(config, dataset)
        self.runs.check_queue(owner_id)
        name = f"kd-sweep-{uuid.uuid4().hex}"
        study.create(self.url, name, config)
        try:
            with self.store.session() as s:
                row = Sweep(name=config.pop("name"), owner_id=owner_id, status="running",
                            trials_planned=config.pop("trials"), study_name=name, config=dict(config))
                s.add(row)
        except BaseException:
            study.delete(self.url, name)   # nothing half-made is left behind
            raise
        self.scheduler.wake()
        return row.id

    def _check_corners(self, config, dataset):
        """Refuse a space whose smallest or largest trial (space.corners) the run service would refuse."""
        for params in space.corners(config["space"]):
            spec = space.apply(config["base"], params)
            try:
                checked = validate(spec, require_run=True)
                self.runs.check_cost(checked, dataset)
            except SpecError as exc:
                raise SpecError([_located(e, params, config["base"]) for e in exc.errors]) from None

    def stop(self, sweep_id):
        """Stop a sweep: no new trial starts, running ones stop after their batch (the scheduler does it)."""
        with self.store.session() as s:
            row = self._sweep(s, sweep_id)
            if row.status != "running":
                raise SweepError(409, f"Sweep {sweep_id} is {row.status}; only a running sweep can be stopped.")
            row.status = "stopping"
        self.scheduler.status(sweep_id, "stopping")
        self.scheduler.wake()

    def resume(self, sweep_id, trials):
        """Plan `trials` more trials of an ended sweep; the sampler learns from every earlier one."""
        with self.store.session() as s:
            row = self._sweep(s, sweep_id)
            if row.status not in ENDED:
                raise SweepError(409, f"Sweep {sweep_id} is {row.status}; stop it or wait until it ends to resume it.")
            done = len(study.load(self.url, row.study_name, row.config).get_trials(deepcopy=False))
            most = self.max_trials - done
            if isinstance(trials, bool) or not isinstance(trials, int) or not 1 <= trials <= max(most, 0):
                raise SpecError([FieldError(None, "trials", f"trials must be a whole number from 1 to {most}: the sweep "
                                                            f"has {done} trials and this server allows "
                                                            f"{self.max_trials} (KD_MAX_TRIALS).")])
            row.trials_planned, row.status, row.finished_at, row.error = done + trials, "running", None, None
        self.scheduler.status(sweep_id, "running")
        self.scheduler.wake()

    def get(self, sweep_id, detail=True):
        """Give a sweep's JSON, or raise 404."""
        with self.store.session() as s:
            row = self._sweep(s, sweep_id)
            self._scheduled(row)
            return views.sweep_json(s, row, self._study(row), detail)

    def _scheduled(self, row):
        """See that this process's scheduler runs while the sweep does (another instance may have made it and died)."""
        if row.status not in ENDED:
            self.scheduler.start()

    def list(self):
        """Give every sweep, newest first, without its base spec."""
        with self.store.session() as s:
            rows = list(s.scalars(select(Sweep).order_by(Sweep.id.desc())))
            return [views.sweep_json(s, row, self._study(row), detail=False) for row in rows]

    def trials(self, sweep_id):
        """Give (sweep row, [trial JSON]) for artifacts and the stream's history."""
        with self.store.session() as s:
            row = self._sweep(s, sweep_id)
            return row, views.trials_json(s, row, self._study(row))

    def history(self, sweep_id):
        """Give the stream's sweep_history for a sweep, or None when there is none."""
        with self.store.session() as s:
            row = s.get(Sweep, sweep_id)
            if row:
                self._scheduled(row)
            return views.history_payload(s, row, self._study(row)) if row else None

    def script(self, sweep_id):
        """Give sweep.py: the same search with Optuna and plain Keras, runnable without the dashboard."""
        from ..modelspec.exporters.sweep_script import sweep_script

        with self.store.session() as s:
            row = self._sweep(s, sweep_id)
        config = row.config
        dataset = self.runs.datasets.info(config["base"]["dataset"], config["base"].get("dataset_options"))
        return sweep_script(config["base"], config["space"], config["objective"], row.trials_planned,
                            config["sampler"], config["pruner"], dataset)

    def _study(self, row):
        return study.load(self.url, row.study_name, row.config)

    @staticmethod
    def _sweep(session, sweep_id):
        row = session.get(Sweep, sweep_id)
        if row is None:
            raise SweepError(404, f"There is no sweep {sweep_id}.")
        return row

def _grid_size(fields):
    size = 1
    for field in fields.values():
        size *= len(space.grid_values(field))
    return size


def _located(error, params, base):
    """Give a corner's FieldError located at the searched path it most likely comes from."""
    paths = list(params)
    layer = error.layer
    names = {l.get("name"): i for i, l in enumerate(base["model"]["layers"]) if l.get("name")}
    near = [p for p in paths if p.startswith("model.layers.") and
            (p.split(".")[2] == str(layer) or names.get(p.split(".")[2]) == layer)]
    near += [p for p in paths if error.field and (p == error.field or p.endswith("." + str(error.field)))]
    path = (near or paths)[0]
    values = ", ".join(f"{p} = {v!r}" for p, v in params.items())
    return FieldError(layer, f"space.{path}", f"A trial of this space would be refused: with {values}: {error.message}")
