"""How a run reads as JSON: the contract's run object, the runs list, and `run_history`."""

from pathlib import Path

from sqlalchemy import func, select

from ..store import Run
from .service import ARTIFACTS

LIST_FIELDS = ("id", "name", "status", "dataset", "epochs_done", "epochs_planned", "error")


def _iso(value):
    return value.isoformat() if value else None


def queue_position(session, run):
    """Give the run's 1-based place in the queue while it is queued, else None."""
    if run.status != "queued":
        return None
    ahead = session.scalar(select(func.count()).where(
        Run.status == "queued", (Run.queued_at < run.queued_at) | ((Run.queued_at == run.queued_at) & (Run.id < run.id))))
    return ahead + 1


def final_logs(history):
    """Give the last epoch's value of every history key."""
    return {k: v[-1] for k, v in (history or {}).items() if v}


def run_json(session, run, data_dir, detail=True):
    """Give the contract's run object; detail adds spec, summary, history and artifacts."""
    out = {k: getattr(run, k) for k in LIST_FIELDS}
    out.update(owner=None, created_at=_iso(run.created_at), started_at=_iso(run.started_at),
               finished_at=_iso(run.finished_at), queue_position=queue_position(session, run),
               final=final_logs(run.history), last_seq=run.last_seq)
    if detail:
        folder = Path(data_dir) / "runs" / str(run.id)
        out.update(spec=run.spec, summary=run.summary, history=run.history or {}, progress=run.progress,
                   artifacts=[name for name in ARTIFACTS if (folder / name).exists()])
    return out


def get_run(store, data_dir, run_id):
    """Give one run's full JSON, or None."""
    with store.session() as s:
        run = s.get(Run, run_id)
        return run_json(s, run, data_dir) if run else None


def list_runs(store, data_dir):
    """Give every run, newest first, without the heavy fields."""
    with store.session() as s:
        runs = s.scalars(select(Run).order_by(Run.created_at.desc(), Run.id.desc()))
        return [run_json(s, run, data_dir, detail=False) for run in runs]


def history_payload(store, run_id):
    """Give the `run_history` answer to a subscribe: everything a late viewer needs, with last_seq."""
    with store.session() as s:
        run = s.get(Run, run_id)
        if run is None:
            return None
        return {"run_id": run.id, "status": run.status, "history": run.history or {}, "last_seq": run.last_seq,
                "epochs_done": run.epochs_done, "epochs_planned": run.epochs_planned,
                "progress": run.progress, "error": run.error, "queue_position": queue_position(s, run)}
