"""Who may call what: one table for every endpoint, enforced before each request.

An endpoint missing from the table is refused (and a test fails), so forgetting a rule can never
open a door. Rules: public (no sign-in), any (every signed-in role), member (members and admins),
owner (the run's or sweep's owner or a dataset's uploader, or an admin), admin. `share` says what a share link
opens: "run" (this run's read-only calls and pages), "sweep" (a sweep's) or "dataset" (the test images of the
shared run's dataset). A sweep's link also opens its trials' runs, read-only.
"""

from dataclasses import dataclass

from flask import g, jsonify, redirect, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFProtect

from ..team import accounts
from ..db.store import Dataset, Run, Sweep, Weights
from . import services
from .security import init_url_map

csrf = CSRFProtect()
SAFE = ("GET", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class Rule:
    """Who may call an endpoint, and whether a share link opens it."""

    who: str
    share: str | None = None


PUBLIC = Rule("public")
READ, READ_RUN, READ_IMAGE, READ_SWEEP = Rule("any"), Rule("any", "run"), Rule("any", "dataset"), Rule("any", "sweep")
MEMBER, OWNER, ADMIN = Rule("member"), Rule("owner"), Rule("admin")

RULES = {
    "static": PUBLIC, "vendor.plotly_js": PUBLIC, "pages.healthz": PUBLIC,
    "auth.login": PUBLIC, "auth.setup": PUBLIC, "auth.logout": READ, "auth.me": READ,
    "pages.builder": READ, "pages.datasets": READ, "pages.dataset": READ, "pages.runs": READ,
    "pages.run": READ_RUN, "pages.gallery": READ_RUN, "pages.compare": READ, "pages.admin": ADMIN,
    "api.layers": READ, "api.check": READ, "api.import_model": READ, "api.export_model": READ,
    "api.list_datasets": READ, "api.dataset": READ, "api.image": READ_IMAGE, "api.upload": MEMBER,
    "api.delete_dataset": OWNER,
    "api.samples": READ, "api.pixel_stats": READ, "api.mean_image": READ, "api.download": READ, "api.augment": READ,
    "api.list_runs": READ, "api.get_run": READ_RUN, "api.artifact": READ_RUN, "api.dynamics": READ_RUN,
    "api.predictions": READ_RUN, "api.confusion": READ_RUN, "api.sample": READ_RUN, "api.predict": READ,
    "api.predictions_sprite": READ_RUN, "api.sample_sprite": READ_RUN,
    "api.inside_view": READ_RUN, "api.inside_layer": READ_RUN, "api.inside_saliency": READ_RUN,
    "api.inside_kernels": READ_RUN, "api.histograms": READ_RUN, "api.inside_own": READ, "pages.inside": READ_RUN,
    "api.create_run": MEMBER, "api.stop_run": OWNER, "api.continue_run": OWNER,
    # An export holds a worker as a continue does, so it is the owner's; what it made, anyone who may see the run reads.
    "api.create_export": OWNER, "api.list_exports": READ_RUN, "api.download_export": READ_RUN,
    "api.delete_run": OWNER, "api.rename_run": OWNER, "api.create_share": OWNER, "api.delete_share": OWNER,
    "api.list_users": ADMIN, "api.create_user": ADMIN, "api.update_user": ADMIN, "api.list_actions": ADMIN,
    "api.list_tokens": ADMIN, "api.revoke_token": ADMIN,
    "pages.sweep": READ_SWEEP, "api.list_sweeps": READ, "api.get_sweep": READ_SWEEP, "api.sweep_artifact": READ_SWEEP,
    "api.create_sweep": MEMBER, "api.stop_sweep": OWNER, "api.resume_sweep": OWNER,
    "api.create_sweep_share": OWNER, "api.delete_sweep_share": OWNER,
    "api.pretrained_models": READ, "api.list_weights": READ, "api.upload_weights": MEMBER, "api.delete_weights": OWNER,
}


def init_app(app):
    """Check every request against RULES; CSRF is checked for cookie-signed changes."""
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)   # we call protect() where it applies
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)       # valid for the session's life
    csrf.init_app(app)
    app.before_request(enforce)
    init_url_map(app)   # before the blueprints' routes: an id past the database's range is a 404


def enforce():
    """Refuse the request (401, 403, or the sign-in page) unless RULES allow it."""
    if request.endpoint is None:
        return None   # no such route: a 404 follows
    rule = RULES.get(request.endpoint, ADMIN)
    if rule.who != "public" and not current_user.is_authenticated:
        return None if rule.share and request.method in SAFE and _share_opens(rule) else _unauthorized()
    if request.method not in SAFE and not g.get("token_auth"):
        csrf.protect()   # cookies ride along on cross-site requests; a header token does not
    if rule.who == "public" or _allowed(current_user, rule):
        return None
    return _forbidden()


def _allowed(user, rule):
    if user.role == "admin" or rule.who == "any":
        return True
    if rule.who == "member":
        return user.role == "member"
    if rule.who == "owner":
        return user.role == "member" and _owner() == user.id
    return False


def _owner():
    """Give the owner's id of the run (or sweep, uploaded weights, uploaded dataset) the request names, or None."""
    args = request.view_args or {}
    with services().store.session() as s:
        if "run_id" in args:
            row = s.get(Run, args["run_id"])
        elif "sweep_id" in args:
            row = s.get(Sweep, args["sweep_id"])
        elif "weights_id" in args:
            row = s.get(Weights, args["weights_id"])
        else:
            row = s.get(Dataset, args["ds_id"]) if "ds_id" in args else None
        return row.owner_id if row else None


def _share_opens(rule):
    """Say whether the request's `?share=` token opens this endpoint: a run's link opens that run
    (and its dataset's test images); a sweep's link opens the sweep, its trials' runs and their test images."""
    if rule.share is None:
        return False
    target = accounts.share_target(services().store, request.args.get("share"))
    if target is None:
        return False
    kind, shared = target
    args = request.view_args or {}
    if rule.share == "sweep":
        opens = kind == "sweep" and args.get("sweep_id") == shared
    elif rule.share == "run" and kind == "run":
        opens = args.get("run_id") == shared
    else:
        opens = _sweep_or_dataset_opens(rule, kind, shared, args)
    if opens:
        g.share_run = shared   # pages and image links pass the token on
    return opens


def _sweep_or_dataset_opens(rule, kind, shared, args):
    with services().store.session() as s:
        if rule.share == "run":   # a sweep's link, and a run of that sweep
            run = s.get(Run, args["run_id"]) if "run_id" in args else None
            return run is not None and run.sweep_id == shared
        if rule.share != "dataset" or args.get("split") != "test":
            return False
        if kind == "run":
            run = s.get(Run, shared)
            return bool(run and run.dataset == args.get("ds_id"))
        sweep = s.get(Sweep, shared)
        return bool(sweep and sweep.config["base"]["dataset"] == args.get("ds_id"))


def _unauthorized():
    if request.path.startswith("/api/"):
        return jsonify({"error": {"message": "Sign in first (session), or send Authorization: Bearer TOKEN."}}), 401
    return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))


def _forbidden():
    role = current_user.role
    message = {"viewer": "Viewers can read but not change anything.",
               "member": "Only the run's owner or an admin may do that."}.get(role, "Not allowed.")
    if role == "member" and "ds_id" in (request.view_args or {}):
        message = "Only the dataset's uploader or an admin may do that."
    if RULES.get(request.endpoint) is ADMIN:
        message = "Only admins manage users."
    if request.path.startswith("/api/"):
        return jsonify({"error": {"message": message}}), 403
    return message, 403
