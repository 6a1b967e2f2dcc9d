"""How a run reads as JSON: the contract's run object, the runs list, and `run_history`."""

from sqlalchemy import func, select

from ..db.store import Action, Run, User
from . import dynamics, journal, lr_range, paths

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
    owner = session.get(User, run.owner_id) if run.owner_id else None
    out.update(owner=owner.name if owner else None, created_at=_iso(run.created_at), started_at=_iso(run.started_at),
               finished_at=_iso(run.finished_at), queue_position=queue_position(session, run),
               final=final_logs(run.history), last_seq=run.last_seq, worker=run.worker,
               sweep={"id": run.sweep_id, "trial": run.sweep_trial} if run.sweep_id is not None else None)
    if detail:
        out.update(spec=run.spec, summary=run.summary, history=run.history or {}, progress=run.progress,
                   artifacts=paths.existing_artifacts(data_dir, run.id),
                   actions=run_actions(session, run.id), phases=run.phases or [])
        if _fit_of(run).get("find_lr"):   # a learning-rate range test: its answer once it has ended
            out["lr_finder"] = lr_range.load(paths.run_dir(data_dir, run.id))
    return out


def _fit_of(run):
    return (run.spec or {}).get("fit") or {}


def dynamics_json(store, data_dir, run_id):
    """Give GET /api/runs/ID/dynamics: dynamics.json with the run_dynamics events stored after it; None for no run.

    The events are read first: an epoch end between the two reads writes the file and prunes the
    events, so the file then holds them; what is stored after the read reaches a subscribed viewer live.
    """
    with store.session() as s:
        run = s.get(Run, run_id)
        if run is None:
            return None
        fit = _fit_of(run)
    events = journal.dynamics_events(store, run_id)
    stored = paths.read_json(paths.run_dir(data_dir, run_id) / dynamics.FILE)
    every = 1 if fit.get("find_lr") else (fit.get("dynamics") or {}).get("every", 0)
    return dynamics.answer(stored, events, every)


def run_actions(session, run_id):
    """Give who did what to a run (created, stopped, continued, renamed, shared), oldest first."""
    rows = session.execute(select(Action, User.name).outerjoin(User, Action.user_id == User.id)
                           .where(Action.run_id == run_id).order_by(Action.id)).all()
    return [{"action": a.action, "user": name, "at": _iso(a.at), "detail": a.detail} for a, name in rows]


def get_run(store, data_dir, run_id):
    """Give one run's full JSON, or None."""
    with store.session() as s:
        run = s.get(Run, run_id)
        return run_json(s, run, data_dir) if run else None


def list_runs(store, data_dir, owner=None, status=None, dataset=None, q=None, sort=None, order="desc"):
    """Give the runs that match, without the heavy fields: newest first, or by a final metric.

    owner: a user name; status, dataset: exact; q: part of the name (any case); sort: "created" or
    a history key such as val_accuracy (runs without it last); order: asc or desc.
    """
    query = select(Run).order_by(Run.created_at.desc(), Run.id.desc())
    if owner:
        query = query.join(User, Run.owner_id == User.id).where(func.lower(User.name) == owner.lower())
    if status:
        query = query.where(Run.status == status)
    if dataset:
        query = query.where(Run.dataset == dataset)
    if q:
        query = query.where(func.lower(Run.name).contains(q.lower(), autoescape=True))
    with store.session() as s:
        runs = [run_json(s, run, data_dir, detail=False) for run in s.scalars(query)]
    if sort and sort != "created":
        have = [r for r in runs if isinstance(r["final"].get(sort), (int, float))]
        have.sort(key=lambda r: r["final"][sort], reverse=order != "asc")
        return have + [r for r in runs if r not in have]
    return runs if order != "asc" else runs[::-1]


def history_payload(store, run_id):
    """Give the `run_history` answer to a subscribe: everything a late viewer needs, with last_seq."""
    with store.session() as s:
        run = s.get(Run, run_id)
        if run is None:
            return None
        return {"run_id": run.id, "status": run.status, "history": run.history or {}, "last_seq": run.last_seq,
                "epochs_done": run.epochs_done, "epochs_planned": run.epochs_planned,
                "progress": run.progress, "error": run.error, "queue_position": queue_position(s, run)}
