"""The sweep scheduler: one thread per web process that turns each running sweep's study into trial runs.

Each pass it takes a lease on each running sweep (one process schedules a sweep at a time; another
takes over when a lease lapses, as after a restart), reads the study and the sweep's runs, reports
new epoch values to the study, stops a run the pruner gives up on, tells the study how ended runs
did, and asks for new trials while fewer than `parallel` run. Its state is the study and the runs
table, nothing else, so a restarted instance picks a sweep up where it was. Pruning acts at epoch
ends and stops a run as a user's stop does (after its batch), never once the run is in its last
epoch (a 2-epoch trial is never pruned: its stop could only cut the last epoch short).
"""

import logging
import os
import socket
import threading
import uuid
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from ..db.store import Run, Sweep, utcnow
from ..modelspec.validate import SpecError
from ..runs import journal
from ..runs.service import RunError
from . import space, views

log = logging.getLogger(__name__)
POLL_S = 0.5     # a pass at least this often; a run event of this process wakes it sooner
LEASE_S = 6.0    # a sweep whose scheduler has not renewed its lease for this long is taken over
FAILED_PASSES = 10   # passes in a row that raised before a sweep is marked failed (not one busy moment)


class _Study:
    """`study`, imported at first use: Optuna takes about 0.5 s to import, which a web process (and
    every CLI command) would otherwise pay at start-up, sweeps or not."""

    def __getattr__(self, name):
        from . import study as module

        return getattr(module, name)


study = _Study()


class Scheduler:
    """Schedules every running sweep's trials as runs of the run service; `notify` sends its events."""

    def __init__(self, store, runs, url, notify):
        self.store, self.runs, self.url, self.notify = store, runs, url, notify
        self.me = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake, self._closed = threading.Event(), threading.Event()
        self._tick_lock, self._start_lock = threading.Lock(), threading.Lock()
        self._sent = {}      # sweep id -> {trial number: the trial as last sent}
        self._failures = {}  # sweep id -> passes failed in a row
        self._told = 0       # trials this pass has ended (told the study)
        self._thread = None

    def wake(self):
        """Make a pass now rather than at the next poll (starting the thread if it had ended)."""
        self._wake.set()
        self.start()

    def start(self):
        """Start the thread unless it runs (RunService.begin, a sweep made, resumed or watched, a run event).

        It runs only while some sweep is running or stopping, and ends after a pass that finds none:
        a process without sweeps (every CLI command, most test apps) keeps no thread polling the database.
        """
        with self._start_lock:
            if self._thread is None and not self._closed.is_set():
                self._thread = threading.Thread(target=self._loop, name="kd-sweeps", daemon=True)
                self._thread.start()

    def start_up(self):
        """As the server starts (RunService.begin): start the thread if a sweep is running, to go on with it."""
        try:
            active = self._active()
        except Exception:   # e.g. a team database not upgraded yet: its sweeps wait for a pass started later
            log.exception("could not look for running sweeps")
            return
        if active:
            self.start()

    def shutdown(self):
        """Stop the scheduler thread; sweeps go on under another instance, or this one restarted."""
        self._closed.set()
        self._wake.set()

    def on_run_event(self, event):
        """A run changed (this process's, or under RQ a worker's): schedule now rather than at the next poll.

        Under RQ it also starts the thread of an instance that was up before the sweep was made, so it
        takes the sweep over should the instance scheduling it die.
        """
        if event and event[0] in ("run_status", "run_epoch"):
            self._wake.set()
            self.start()

    def _loop(self):
        while not self._closed.is_set():
            self._wake.wait(POLL_S)
            self._wake.clear()
            try:
                active = self.tick()
            except Exception:   # the database away for a moment: try again next pass
                log.exception("the sweep scheduler's pass failed")
                active = True
            if not active:
                with self._start_lock:   # a sweep made meanwhile either is seen here or starts a new thread
                    if not self._active():
                        self._thread = None
                        return

    def _active(self):
        with self.store.session() as s:
            return list(s.scalars(select(Sweep.id).where(Sweep.status.in_(("running", "stopping")))))

    def tick(self):
        """One pass over every running or stopping sweep whose lease this process holds or can take; give how many there were."""
        with self._tick_lock:
            ids = self._active()
            for sweep_id in ids:
                if self._claim(sweep_id):
                    try:
                        self._step(sweep_id)
                        self._failures.pop(sweep_id, None)
                    except Exception as exc:   # the database busy for a moment, or a sweep it cannot go on with
                        log.exception("sweep %s: a scheduling pass failed", sweep_id)
                        self._failures[sweep_id] = self._failures.get(sweep_id, 0) + 1
                        if self._failures[sweep_id] >= FAILED_PASSES:
                            self._fail(sweep_id, f"The scheduler could not go on ({FAILED_PASSES} passes failed): {exc}")
            return len(ids)

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
        # One read of the study per pass (each costs milliseconds of the web process's CPU); what this
        # pass tells it is counted in self._told rather than read back.
        trials, self._told = st.get_trials(deepcopy=False), 0
        active = [t for t in trials if t.state == study.TrialState.RUNNING]
        for trial in active:
            run = runs.get(trial.number)
            if run is None and row.status == "running":
                params = trial.params
                if set(params) != set(config["space"]):   # its asker died between Optuna's writes
                    params = study.finish_ask(self.url, st, trial.number, config)
                self._start_trial(row, st, trial.number, params)
            elif run is None:
                self._end(st, trial.number, "failed", "stopped")
            else:
                self._follow(row, st, trial, run)
        running, total = len(active) - self._told, len(trials)
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
        """Submit a trial's run (the base spec with its values); give False when it must wait (a full queue, a lost lease)."""
        spec = space.apply(row.config["base"], params)
        spec["name"] = f"{row.name} · trial {number}"[:100]
        if not self._claim(row.id):
            return False   # the lease lapsed during this pass (a slow model check): the new holder starts it
        try:
            self.runs.create(spec, owner_id=row.owner_id, sweep=(row.id, number))
        except IntegrityError:
            pass   # another process's scheduler submitted this trial's run first: one run per trial
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
            # Never in its last epoch: a stop lands after a batch, and it would cut the last epoch short.
            if stop and run.epochs_done < run.epochs_planned - 1 and run.status == "running" and row.status == "running":
                live.set_user_attr("kd_state", "pruned")
                self._stop_run(run.id)
        if row.status == "stopping" and run.status in ("queued", "running"):
            self._stop_run(run.id)
            with self.store.session() as s:
                run = s.get(Run, run.id)   # a queued run stops at once: tell the study in this pass
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
        self._told += 1
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
            self.status(row.id, status)

    def _fail(self, sweep_id, message):
        with self.store.session() as s:
            s.execute(update(Sweep).where(Sweep.id == sweep_id).values(status="failed", error=message[:1000],
                                                                      finished_at=utcnow()))
        self.status(sweep_id, "failed")

    # -- the stream ------------------------------------------------------------------------------

    def _next_seq(self, sweep_id):
        with self.store.session() as s:
            return s.execute(update(Sweep).where(Sweep.id == sweep_id).values(last_seq=Sweep.last_seq + 1)
                             .returning(Sweep.last_seq)).scalar_one()

    def status(self, sweep_id, status):
        """Send sweep_status with the sweep's next seq."""
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



    def _study(self, row):
        return study.load(self.url, row.study_name, row.config)

