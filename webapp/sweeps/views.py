"""How a sweep reads as JSON (the contract's sweep and trial objects) and as trials.csv.

A trial's state joins the study's (complete, pruned, failed, with why it failed kept on the trial)
and its run's (queued or running while the study has it running). No Flask.
"""

import csv
import io
import json
import math

from sqlalchemy import select

from ..db.store import Run, User

STATES = {"COMPLETE": "complete", "PRUNED": "pruned"}   # Optuna's TrialState names (not imported: see service.py)
CONFIG_FIELDS = ("space", "objective", "sampler", "pruner", "parallel")


def _iso(value):
    return value.isoformat() if value else None


def _number(value):
    return value if value is None or math.isfinite(value) else None


def trial_state(trial, run):
    """Give a trial's state: queued, running, complete, pruned, failed or stopped."""
    if trial.state.name in STATES:
        return STATES[trial.state.name]
    if trial.state.name == "FAIL":
        return "stopped" if trial.user_attrs.get("kd_state") == "stopped" else "failed"
    return "running" if run is not None and run.status in ("running", "stopping") else "queued"


def trial_json(trial, run, metric):
    """Give the contract's trial object, with the objective per epoch (`curve`) and the run's worker."""
    curve = list((run.history or {}).get(metric) or []) if run is not None else []
    value = trial.value if trial.state.name in STATES else None
    return {"number": trial.number, "run_id": run.id if run else None, "state": trial_state(trial, run),
            "params": dict(trial.params), "value": _number(value), "curve": curve,
            "epochs_planned": run.epochs_planned if run else None, "worker": run.worker if run else None,
            "error": trial.user_attrs.get("kd_error") or (run.error if run is not None and run.status == "failed" else None)}


def trials_json(session, row, st):
    """Give every trial of a sweep, by number."""
    runs = {r.sweep_trial: r for r in session.scalars(select(Run).where(Run.sweep_id == row.id))}
    metric = row.config["objective"]["metric"]
    return [trial_json(t, runs.get(t.number), metric) for t in st.get_trials(deepcopy=False)]


def best(trials, direction):
    """Give the best complete trial as {number, run_id, value, params}, or None."""
    done = [t for t in trials if t["state"] == "complete" and t["value"] is not None]
    if not done:
        return None
    pick = (max if direction == "maximize" else min)(done, key=lambda t: t["value"])
    return {k: pick[k] for k in ("number", "run_id", "value", "params")}


def sweep_json(session, row, st, detail=True):
    """Give the contract's sweep object; detail adds the base spec."""
    trials = trials_json(session, row, st)
    owner = session.get(User, row.owner_id) if row.owner_id else None
    out = {"id": row.id, "name": row.name, "owner": owner.name if owner else None, "status": row.status,
           **{k: row.config[k] for k in CONFIG_FIELDS}, "trials_planned": row.trials_planned,
           "trials": trials, "best": best(trials, row.config["objective"]["direction"]),
           "importance": row.importance, "error": row.error, "last_seq": row.last_seq,
           "created_at": _iso(row.created_at), "finished_at": _iso(row.finished_at)}
    if detail:
        out["base"] = row.config["base"]
    return out


def history_payload(session, row, st):
    """Give `sweep_history`: the status and every trial so far, with the last seq sent."""
    return {"sweep_id": row.id, "status": row.status, "trials": trials_json(session, row, st), "last_seq": row.last_seq}


def trials_csv(row, trials):
    """Give trials.csv: one row per trial (number, state, value, run, then each searched field)."""
    paths = list(row.config["space"])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["number", "state", row.config["objective"]["metric"], "run_id", *paths])
    for t in trials:
        values = [t["params"].get(p) for p in paths]
        writer.writerow([t["number"], t["state"], "" if t["value"] is None else t["value"],
                         t["run_id"] or "", *("" if v is None else _cell(v) for v in values)])
    return out.getvalue()


def _cell(value):
    """Give a CSV cell that a spreadsheet reads as text, never as a formula."""
    text = value if isinstance(value, str) else json.dumps(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _numeric(text) else text


def _numeric(text):
    try:
        float(text)
        return True
    except ValueError:
        return False
