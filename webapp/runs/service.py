"""A run's life: create, queue, start, stop, continue.

States: queued -> running -> completed / stopped / failed, with stopping between running and
stopped, and interrupted for runs a restart found unfinished. Ended runs can be continued (back to
queued). The executor (local processes or RQ) does the training; this module decides what runs when.
No Flask: the web layer passes `notify`, which sends stored events to viewers.
"""

import logging
import shutil
import threading
from pathlib import Path

from sqlalchemy import func, select

from ..modelspec import build, memory, pretrained
from ..modelspec.validate import FieldError, SpecError, check_fine_tune, validate
from ..db.store import Run, utcnow
from . import journal, paths, uploaded_weights

log = logging.getLogger(__name__)


class RunError(Exception):
    """A request about a run that cannot be done now; `status` is the HTTP status to answer."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


class RunService:
    """Creates runs, keeps at most `max_concurrent` training, and relays their events."""

    def __init__(self, store, datasets, data_dir, max_concurrent=1, notify=None, max_params=None, max_queued=None,
                 max_activation_mb=None):
        self.store, self.datasets, self.data_dir = store, datasets, Path(data_dir)
        self.max_concurrent = max_concurrent
        self.max_params, self.max_queued = max_params, max_queued   # KD_MAX_PARAMS, KD_MAX_QUEUED_PER_USER
        self.max_activation_mb = max_activation_mb                   # KD_MAX_ACTIVATION_MB
        self.notify = notify or (lambda event: None)
        self.watchers = []      # called with every event this process stores (the sweep scheduler's wake-up)
        self.executor = None
        self._lock = threading.RLock()
        self._begun, self._begin_lock = False, threading.Lock()
        self.at_start_up = []   # more to do once as the server starts, under begin's lock (Builds.start_up)
        self.download_weights = False   # KD_DOWNLOAD_WEIGHTS: Keras may download ImageNet weights it lacks

    def attach(self, executor):
        """Use this executor; it calls back `on_event(event)` and `on_exit(run_id, note)`."""
        self.executor = executor

    # -- what users ask -------------------------------------------------------------------------

    def create(self, data, owner_id=None, sweep=None):
        """Check the spec, store the run as queued, and start it when a slot is free.

        sweep: (sweep id, trial number) when a sweep's scheduler submits the run as one of its trials.
        """
        spec = validate(data, datasets=self.datasets.ids(), require_run=True, weights=self.usable_weights(owner_id),
                        download=self.download_weights)
        dataset = self.datasets.info(spec.dataset, spec.dataset_options)   # SpecError names a bad dataset option
        if not dataset["available"]:
            raise SpecError([FieldError(None, "dataset", dataset.get("message") or "This dataset is not available.")])
        summary = self.check_cost(spec, dataset)
        self.check_queue(owner_id)
        sweep_id, trial = sweep or (None, None)
        with self.store.session() as s:
            run = Run(name=spec.name or f"{spec.dataset}-{len(spec.layers)}-layers", owner_id=owner_id,
                      status="queued", dataset=spec.dataset, spec=spec.to_dict(), summary=summary,
                      epochs_planned=1 if spec.fit["find_lr"] else spec.fit["epochs"] + _fine_tune_epochs(spec), history={},
                      sweep_id=sweep_id, sweep_trial=trial)   # a range test trains its steps as one epoch
            s.add(run)
        self._emit(journal.announce(self.store, run.id))
        self.schedule()
        return run.id

    def usable_weights(self, owner_id):
        """Give {id: backbone type} of the uploaded weights a spec of this owner may name (None: any owner's)."""
        return uploaded_weights.usable(self.store, owner_id)

    def check_cost(self, spec, dataset):
        """Give the summary of a checked spec, or raise SpecError when the server would not train it (size, memory)."""
        summary = self.summarize(spec, dataset)
        self._check_size(summary)
        self._check_activations(summary, spec.fit["batch_size"])
        return summary

    def summarize(self, spec, dataset):
        """Give build.summarize's answer for a checked spec, or raise SpecError; the same wherever it is built.

        A web process that has not imported TensorFlow yet (`begin` starts that import beside the
        spare's) has the spare check the model, rather than wait seconds for its own import.
        """
        if not build.keras_loaded():
            answer = self.executor.check(spec, dataset, give_up=build.keras_loaded)
            if answer and answer[0] == "invalid":
                raise SpecError(answer[1])
            if answer:
                return answer[1]
        return build.summarize(spec, dataset)

    def _check_size(self, summary):
        """Refuse a model with more parameters than KD_MAX_PARAMS, naming its largest layer."""
        total = summary["total_params"]
        if self.max_params is None or total <= self.max_params:
            return
        largest = max(summary["layers"], key=lambda row: row["params"])
        raise SpecError([FieldError(largest["index"], "model", (
            f"The model has {total:,} parameters (layer {largest['index']}, {largest['type']}, has "
            f"{largest['params']:,}); this server trains at most {self.max_params:,} (KD_MAX_PARAMS)."))])

    def _check_activations(self, summary, batch_size):
        """Refuse a training step whose activations would pass KD_MAX_ACTIVATION_MB, naming the largest layer and fit.batch_size."""
        if self.max_activation_mb is None:
            return
        found, limit = summary["activations"], self.max_activation_mb * 2**20
        per_sample = found["per_sample_bytes"]
        if per_sample * batch_size <= limit:
            return
        index = found["largest_layer"]
        row = next((r for r in summary["layers"] if r["index"] == index), {"type": "input", "output_shape": [None]})
        fits = memory.largest_batch(per_sample, limit)
        remedy = (f"Lower fit.batch_size to at most {fits:,}, or make the model's outputs smaller" if fits else
                  f"Even one sample needs more than that: make the outputs smaller, starting with layer {index}'s "
                  "(fewer filters, units or branches; a smaller size, stride or padding)")
        layer = (f"layer {index}, {row['type']}, with output {build.shape_text(row['output_shape'][1:])}, keeps "
                 f"{memory.readable(found['largest_layer_bytes'])} of it")
        raise SpecError([FieldError(index, "fit.batch_size", (
            f"A training step at batch_size {batch_size:,} needs about {memory.readable(per_sample * batch_size)} "
            f"for activations ({memory.readable(per_sample)} per sample; {layer}); this server allows "
            f"{self.max_activation_mb:,} MB (KD_MAX_ACTIVATION_MB). {remedy}."))])

    def check_queue(self, owner_id):
        """Refuse (429) one more waiting run for an owner who has KD_MAX_QUEUED_PER_USER waiting."""
        if self.max_queued is None or owner_id is None:
            return
        with self.store.session() as s:
            waiting = s.scalar(select(func.count()).where(Run.owner_id == owner_id, Run.status == "queued"))
        if waiting >= self.max_queued:
            raise RunError(429, f"You have {waiting} runs waiting in the queue, the most one user may "
                                f"(KD_MAX_QUEUED_PER_USER = {self.max_queued}); wait for one to start, or stop one.")

    def stop(self, run_id):
        """Stop a run: a queued one at once, a running one after its current batch."""
        with self._lock:
            run = self._run(run_id)
            if run.status == "queued":
                self._emit(journal.set_status(self.store, run_id, "stopped"))
            elif run.status == "running":
                self._emit(journal.set_status(self.store, run_id, "stopping"))
                self.executor.stop(run_id)
            elif run.status != "stopping":
                raise RunError(409, f"Run {run_id} is {run.status}; only a queued or running run can be stopped.")
        self.schedule()

    def continue_(self, run_id, epochs, unfreeze=None, learning_rate=None):
        """Queue `epochs` more epochs of an ended run, from its saved model and optimizer state.

        unfreeze (N or "all") with learning_rate: fine-tune, the top N layers of its backbones trainable
        and the model recompiled at that rate (runs/fine_tune.py), a phase the run's charts mark.
        """
        if isinstance(epochs, bool) or not isinstance(epochs, int) or not 1 <= epochs <= 100_000:
            raise SpecError([FieldError(None, "epochs", "epochs must be a whole number from 1 to 100000.")])
        phase = self._phase(run_id, unfreeze, learning_rate)
        with self._lock:
            run = self._run(run_id)
            if run.status not in journal.ENDED:
                raise RunError(409, f"Run {run_id} is {run.status}; stop it or wait until it ends to continue it.")
            if ((run.spec or {}).get("fit") or {}).get("find_lr"):
                raise RunError(409, f"Run {run_id} was a learning-rate range test, whose weights are thrown away: "
                                    "start a run at its suggested rate instead.")
            self.check_queue(run.owner_id)
            saved = paths.artifact(self.data_dir, run_id, paths.MODEL).exists()
            if run.epochs_done and not saved:
                raise RunError(409, f"Run {run_id} has no saved model to continue from.")
            planned = run.epochs_done + epochs
            phases = list(run.phases or []) + ([{**phase, "epoch": run.epochs_done}] if phase else [])
            self._emit(journal.set_status(self.store, run_id, "queued", epochs_planned=planned, queued_at=utcnow(),
                                          phases=phases))
        self.schedule()

    def _phase(self, run_id, unfreeze, learning_rate):
        """Give a continue's fine-tuning phase {"unfreeze", "learning_rate"}, None without unfreeze; raise SpecError."""
        if unfreeze is None and learning_rate is None:
            return None
        errors = []
        phase = check_fine_tune({"unfreeze": unfreeze, "learning_rate": learning_rate}, errors)
        if not errors:
            spec = self._run(run_id).spec or {}
            if not any(layer.get("type") in pretrained.BACKBONES for layer in spec.get("model", {}).get("layers", [])):
                errors.append(FieldError(None, "unfreeze", f"Run {run_id} has no pretrained backbone to unfreeze."))
        if errors:
            raise SpecError(errors)
        return {"unfreeze": phase["unfreeze"], "learning_rate": phase["learning_rate"]}

    def delete(self, run_id):
        """Delete an ended run: its record, events, share links and artifacts."""
        with self._lock:
            run = self._run(run_id)
            if run.status not in journal.ENDED:
                raise RunError(409, f"Run {run_id} is {run.status}; stop it before deleting it.")
            with self.store.session() as s:
                s.delete(s.get(Run, run_id))
        shutil.rmtree(paths.run_dir(self.data_dir, run_id), ignore_errors=True)

    def rename(self, run_id, name):
        """Give a run a new name (1 to 100 printable characters)."""
        if not isinstance(name, str) or not name.strip() or len(name) > 100 or not name.isprintable():
            raise SpecError([FieldError(None, "name", "name must be 1 to 100 printable characters.")])
        self._run(run_id)
        with self.store.session() as s:
            s.get(Run, run_id).name = name.strip()

    # -- the queue ------------------------------------------------------------------------------

    def begin(self, warm_keras=False):
        """Once per server, as it starts serving: mark unfinished runs interrupted, run at_start_up, warm the executor.

        warm_keras: also import TensorFlow in this process, on a thread; until it has, the spare
        checks models (`summarize`), so the first POST /api/runs does not wait for this import.
        A run posted before the spare is ready waits for that spare (LocalExecutor.start).
        """
        if self._begun:   # every request asks: answer without a lock once begun
            return
        with self._begin_lock:   # a request arriving meanwhile waits: it must not see runs not yet marked
            if self._begun:
                return
            self.start_up()
            for task in self.at_start_up:
                task()
            self.executor.warm()
            if warm_keras:
                build.warm_in_background()
            self._begun = True

    def start_up(self):
        """Mark runs left unfinished by a previous server as interrupted (they can be continued)."""
        with self.store.session() as s:
            ids = list(s.scalars(select(Run.id).where(Run.status.in_(journal.ACTIVE))))
        for run_id in ids:
            self._emit(journal.set_status(self.store, run_id, "interrupted",
                                          "The server restarted while this run was unfinished; continue it to go on."))

    def schedule(self):
        """Start the oldest queued runs while fewer than max_concurrent are training."""
        with self._lock:
            with self.store.session() as s:
                busy = s.scalar(select(func.count()).where(Run.status.in_(("running", "stopping"))))
                waiting = list(s.scalars(select(Run.id).where(Run.status == "queued")
                                         .order_by(Run.queued_at, Run.id)))
            started = 0
            for run_id in waiting[:max(self.max_concurrent - busy, 0)]:
                event = journal.set_status(self.store, run_id, "running")
                if event:
                    self._emit(event)
                    self.executor.start(run_id)
                    started += 1
            # A spare only when a slot is free: importing TensorFlow takes ~5 CPU-seconds, which a
            # spare warming beside a training run takes from that run (measured in bench/runs.py).
            if busy + started < self.max_concurrent:
                self.executor.warm()

    def expect_run(self):
        """Warm the spare now, even beside training runs: another run is sure to come (a sweep's next trial).

        schedule() warms one only when a slot is free, so that a run that may be the last is not
        slowed for nothing; then each trial waited for a new spare's TensorFlow import (~4-5 s,
        bench/sweeps.py). When a run is certain to follow, that import overlaps the current ones.
        """
        self.executor.warm()

    def on_event(self, event):
        """Relay a stored event from a trainer to viewers."""
        self._emit(event)

    def on_exit(self, run_id, note):
        """A trainer process ended: a run it left running failed (or stopped, if a stop was asked).

        note None: it ended cleanly, having set its run's status itself; only the queue moves on.
        """
        with self._lock:
            run = self._run(run_id) if note is not None else None
            if run is not None and run.status == "stopping":
                self._emit(journal.set_status(self.store, run_id, "stopped", note))
            elif run is not None and run.status == "running":
                self._emit(journal.set_status(self.store, run_id, "failed", note))
        self.schedule()

    def _emit(self, event):
        if event:
            for call in (self.notify, *self.watchers):
                try:
                    call(event)
                except Exception:  # a viewer problem must never break a run
                    log.exception("could not send %s", event[0])

    def _run(self, run_id):
        with self.store.session() as s:
            run = s.get(Run, run_id)
        if run is None:
            raise RunError(404, f"There is no run {run_id}.")
        return run


def _fine_tune_epochs(spec):
    """Give the epochs of the spec's planned fine-tuning phase (fit.fine_tune), 0 without one."""
    return (spec.fit.get("fine_tune") or {}).get("epochs") or 0
