"""A sweep's life: create (checked, bounded), stop, resume; the scheduler that turns its study into trial runs.

States: running -> completed, or running -> stopping -> stopped; failed if its study cannot be read.
The scheduler is one thread per web process. Each pass it takes a lease on each running sweep
(one process schedules a sweep at a time; another takes over when a lease lapses, as after a
restart), reads the study and the sweep's runs, reports new epoch values to the study, stops a
run the pruner gives up on, tells the study how ended runs did, and asks for new trials while
fewer than `parallel` run. Its state is the study and the runs table, nothing in memory, so a
restarted instance picks a sweep up where it was. No Flask: the web layer passes `notify`.
"""

import logging
import os
import socket
import threading
import uuid
from datetime import timedelta

from sqlalchemy import or_, select, update

from ..db.store import Run, Sweep, utcnow
from ..modelspec.validate import FieldError, SpecError, validate
from ..runs import journal
from ..runs.service import RunError
from . import space, study, views

log = logging.getLogger(__name__)
POLL_S = 0.5     # a pass at least this often; a run event of this process wakes it sooner
LEASE_S = 6.0    # a sweep whose scheduler has not renewed its lease for this long is taken over
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
        self.me = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake, self._closed = threading.Event(), threading.Event()
        self._tick_lock = threading.Lock()
        self._sent = {}      # sweep id -> {trial number: the trial as last sent}
        self._thread = None

    # -- what users ask -------------------------------------------------------------------------

    def create(self, data, owner_id=None):
        """Check the request and the cost of its largest trials, create the study and the sweep; give its id."""
        datasets = self.runs.datasets
        config = space.check(data, datasets.ids(), self.max_trials)
        dataset = datasets.info(config["base"]["dataset"])
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
        self._wake.set()
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
        self._status(sweep_id, "stopping")
        self._wake.set()

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
        self._status(sweep_id, "running")
        self._wake.set()

    def get(self, sweep_id, detail=True):
        """Give a sweep's JSON, or raise 404."""
        with self.store.session() as s:
            row = self._sweep(s, sweep_id)
            return views.sweep_json(s, row, self._study(row), detail)

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
            return views.history_payload(s, row, self._study(row)) if row else None

    def script(self, sweep_id):
        """Give sweep.py: the same search with Optuna and plain Keras, runnable without the dashboard."""
        from ..modelspec.exporters.sweep_script import sweep_script

        with self.store.session() as s:
            row = self._sweep(s, sweep_id)
        config = row.config
        dataset = self.runs.datasets.info(config["base"]["dataset"])
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

    # -- the scheduler --------------------------------------------------------------------------

    def start(self):
        """Start the scheduler thread (once; RunService.begin calls this as the server starts)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="kd-sweeps", daemon=True)
            self._thread.start()

    def shutdown(self):
        """Stop the scheduler thread; sweeps go on under another instance, or this one restarted."""
        self._closed.set()
        self._wake.set()

    def on_run_event(self, event):
        """A run of this process changed: schedule now rather than at the next poll."""
        if event and event[0] in ("run_status", "run_epoch"):
            self._wake.set()

    def _loop(self):
        while not self._closed.is_set():
            self._wake.wait(POLL_S)
            self._wake.clear()
            try:
                self.tick()
            except Exception:   # the database away for a moment: try again next pass
                log.exception("the sweep scheduler's pass failed")

    def tick(self):
        """One pass over every running or stopping sweep whose lease this process holds or can take."""
        with self._tick_lock:
            with self.store.session() as s:
                ids = list(s.scalars(select(Sweep.id).where(Sweep.status.in_(("running", "stopping")))))
            for sweep_id in ids:
                if self._claim(sweep_id):
                    try:
                        self._step(sweep_id)
                    except Exception as exc:
                        log.exception("sweep %s: a scheduling pass failed", sweep_id)
                        self._fail(sweep_id, f"The scheduler could not go on: {exc}")

    def _claim(self, sweep_id):
        """Take or renew this process's lease on a sweep; say whether it holds it."""
        now = utcnow()
        with self.store.session() as s:
            done = s.execute(update(Sweep).where(Sweep.id == sweep_id, or_(
                Sweep.lease.is_(None), Sweep.lease == self.me, Sweep.lease_until < now)).values(
                lease=self.me, lease_until=now + timedelta(seconds=LEASE_S)))
            return done.rowcount == 1

    def _step(self, sweep_id):
        with self.store.session() as s:
            row = s.get(Sweep, sweep_id)
        config, st = row.config, self._study(row)
        runs = self._runs(sweep_id)
        for trial in st.get_trials(deepcopy=False, states=(study.TrialState.RUNNING,)):
            run = runs.get(trial.number)
            if run is None and row.status == "running":
                self._start_trial(row, st, trial.number, trial.params)
            elif run is None:
                self._end(st, trial.number, "failed", "stopped")
            else:
                self._follow(row, st, trial, run)
        running = len(st.get_trials(deepcopy=False, states=(study.TrialState.RUNNING,)))
        total = len(st.get_trials(deepcopy=False))
        if row.status == "running":
            for _ in range(max(min(row.trials_planned - total, config["parallel"] - running), 0)):
                number, params = study.ask(st, config)
                total, running = total + 1, running + 1   # (a failed start is told at once: counted next pass)
                if not self._start_trial(row, st, number, params):
                    break   # the owner's queue is full: the asked trial starts on a later pass
            if total < row.trials_planned:
                self.runs.expect_run()   # more trials to come: a spare ready when one ends (bench/sweeps.py)
        self._send_changes(row, st)
        if running == 0 and (row.status == "stopping" or total >= row.trials_planned):
            self._finish(row, st, "stopped" if row.status == "stopping" else "completed")

    def _runs(self, sweep_id):
        with self.store.session() as s:
            return {r.sweep_trial: r for r in s.scalars(select(Run).where(Run.sweep_id == sweep_id))}

    def _start_trial(self, row, st, number, params):
        """Submit a trial's run (the base spec with its values); give False when the owner's queue is full."""
        spec = space.apply(row.config["base"], params)
        spec["name"] = f"{row.name} · trial {number}"[:100]
        try:
            self.runs.create(spec, owner_id=row.owner_id, sweep=(row.id, number))
        except RunError as exc:
            if exc.status == 429:
                return False
            self._end(st, number, "failed", "failed", exc.message)
        except SpecError as exc:   # a sample the corners did not foresee: this trial fails, the sweep goes on
            self._end(st, number, "failed", "failed", str(exc))
        return True

    def _follow(self, row, st, trial, run):
        """Report a trial run's new epochs, stop it if the pruner says so, and tell the study when it ended."""
        metric = row.config["objective"]["metric"]
        curve = (run.history or {}).get(metric) or []
        live = None
        for epoch, value in enumerate(curve, 1):
            if value is None or epoch in trial.intermediate_values:
                continue
            live = live or study.live_trial(self.url, st, trial.number)
            stop = study.report(live, epoch, value)
            if stop and epoch < run.epochs_planned and run.status == "running" and row.status == "running":
                live.set_user_attr("kd_state", "pruned")
                self._stop_run(run.id)
        if row.status == "stopping" and run.status in ("queued", "running"):
            self._stop_run(run.id)
        if run.status not in journal.ENDED:
            return
        pruned = "pruned" in (trial.user_attrs.get("kd_state"), live and live.user_attrs.get("kd_state"))
        if run.status == "completed" and curve and curve[-1] is not None:
            self._end(st, trial.number, "complete", value=curve[-1])
        elif run.status == "stopped" and pruned:
            self._end(st, trial.number, "pruned", "pruned")
        elif run.status == "stopped":
            self._end(st, trial.number, "failed", "stopped")
        else:
            why = run.error or f"The run ended without a value of {metric} at its last epoch (NaN, or no epoch)."
            self._end(st, trial.number, "failed", "failed", why)

    def _stop_run(self, run_id):
        try:
            self.runs.stop(run_id)
        except RunError:
            pass   # it ended meanwhile

    def _end(self, st, number, state, why=None, error=None, value=None):
        """Tell the study a trial ended; `why` (stopped, failed, pruned) and `error` are kept on it."""
        live = study.live_trial(self.url, st, number)
        if why:
            live.set_user_attr("kd_state", why)
        if error:
            live.set_user_attr("kd_error", str(error)[:500])
        study.tell(st, live, state, value)

    def _finish(self, row, st, status):
        importance = study.importance(st)
        with self.store.session() as s:
            done = s.execute(update(Sweep).where(Sweep.id == row.id, Sweep.status == row.status).values(
                status=status, finished_at=utcnow(), importance=importance))
        if done.rowcount:
            self._status(row.id, status)

    def _fail(self, sweep_id, message):
        with self.store.session() as s:
            s.execute(update(Sweep).where(Sweep.id == sweep_id).values(status="failed", error=message[:1000],
                                                                      finished_at=utcnow()))
        self._status(sweep_id, "failed")

    # -- the stream ------------------------------------------------------------------------------

    def _next_seq(self, sweep_id):
        with self.store.session() as s:
            return s.execute(update(Sweep).where(Sweep.id == sweep_id).values(last_seq=Sweep.last_seq + 1)
                             .returning(Sweep.last_seq)).scalar_one()

    def _status(self, sweep_id, status):
        self._emit(("sweep_status", {"sweep_id": sweep_id, "seq": self._next_seq(sweep_id), "status": status}))

    def _send_changes(self, row, st):
        """Send sweep_trial for each trial whose state, value or curve changed since it was last sent."""
        with self.store.session() as s:
            trials = views.trials_json(s, row, st)
        sent = self._sent.setdefault(row.id, {})
        for trial in trials:
            if sent.get(trial["number"]) != trial:
                sent[trial["number"]] = trial
                self._emit(("sweep_trial", {"sweep_id": row.id, "seq": self._next_seq(row.id), "trial": trial}))

    def _emit(self, event):
        try:
            self.notify(event)
        except Exception:   # a viewer problem must never break a sweep
            log.exception("could not send %s", event[0])


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
