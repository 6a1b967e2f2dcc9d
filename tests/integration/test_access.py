"""Who may do what: every endpoint tried as anonymous, a share link, viewer, another member, the
run's owner and an admin, with the exact status each must get. Also: every endpoint has a rule.

KD_MAX_CONCURRENT_RUNS=0 keeps runs queued, so nothing trains here; each case gets fresh runs.
"""

import io

import numpy as np
import pytest

from tests.conftest import signed_in
from tests.specs import MLP
from webapp.team import accounts
from webapp import create_app
from webapp.runs import paths
from webapp.modelspec.validate import validate
from webapp.db.store import Run, Sweep, Weights
from webapp.web.access import RULES

WHO = ("anonymous", "share", "viewer", "member", "owner", "admin")
A, S, V, M, O, AD = WHO


def expect(anonymous, share, viewer, member, owner, admin):
    """Give the statuses per principal, in WHO order."""
    return dict(zip(WHO, (anonymous, share, viewer, member, owner, admin)))


def everyone(status):
    return expect(*[status] * 6)


def signed(status, anonymous=401):
    """Any signed-in role gets `status`; anonymous and share links get `anonymous`."""
    return expect(anonymous, anonymous, status, status, status, status)


def owners(status):
    """Only the run's owner and admins get `status`; other roles 403, no sign-in 401."""
    return expect(401, 401, 403, 403, status, status)


def members(status):
    return expect(401, 401, 403, status, status, status)


def admins(status, anonymous=401):
    return expect(anonymous, anonymous, 403, 403, 403, status)


def shared(status, others=None):
    """Signed-in roles and the run's share link get `status`."""
    return expect(401, status, *[others or status] * 4)


def tiny_npz():
    buf = io.BytesIO()
    np.savez(buf, x_train=np.zeros((4, 4, 4), np.uint8), y_train=np.array([0, 1, 0, 1]),
             x_test=np.zeros((2, 4, 4), np.uint8), y_test=np.array([0, 1]))
    return {"file": (io.BytesIO(buf.getvalue()), "tiny.npz"), "name": "tiny"}


PAGE = expect(302, 302, 200, 200, 200, 200)
# (name, method, url, body, run status, expected). In urls: {run} a fresh run of the owner's,
# {other} another of theirs that the share link does not open, {token} a live share of {run},
# {dataset} a fresh .npz upload of the owner's, {sweep} a fresh sweep of the owner's ({sweep_token} a live
# share of it; the share principal holds a run's link, which opens no sweep) (in the status
# the case's fifth field names, for a sweep case; it plans one trial, which stays queued).
CASES = [
    ("health", "GET", "/healthz", None, None, everyone(200)),
    ("static file", "GET", "/static/css/app.css", None, None, everyone(200)),
    ("login page", "GET", "/login", None, None, everyone(200)),
    ("setup with a wrong token", "GET", "/setup?token=nope", None, None, everyone(404)),
    ("me", "GET", "/api/me", None, None, signed(200)),
    ("layer catalog", "GET", "/api/layers", None, None, signed(200)),
    ("check a model", "POST", "/api/models/check", MLP, None, signed(200)),
    ("import Python", "POST", "/api/models/import",
     {"format": "python", "source": "model = keras.Sequential([layers.Dense(10)])"}, None, signed(200)),
    ("export train.py", "POST", "/api/models/export", {"format": "python", **MLP}, None, signed(200)),
    ("list datasets", "GET", "/api/datasets", None, None, signed(200)),
    ("one dataset", "GET", "/api/datasets/digits", None, None, signed(200)),
    ("upload a dataset", "POST", "/api/datasets", "npz", None, members(201)),
    ("delete an uploaded dataset", "DELETE", "/api/datasets/{dataset}", None, None, owners(204)),
    ("test image of the run's dataset", "GET", "/api/datasets/digits/images/test/0.png", None, None, shared(200)),
    ("training image", "GET", "/api/datasets/digits/images/train/0.png", None, None, signed(200)),
    ("a page of a class's samples", "GET", "/api/datasets/digits/samples?class=1", None, None, signed(200)),
    ("pixel statistics", "GET", "/api/datasets/digits/stats", None, None, signed(200)),
    ("a class's mean image", "GET", "/api/datasets/digits/means/0.png", None, None, signed(200)),
    ("download a built-in dataset", "GET", "/api/datasets/digits/download", None, None, signed(404)),
    ("augmentation preview of no augmentation", "POST", "/api/datasets/digits/augment",
     {"layers": [{"type": "Dense", "units": 2}]}, None, signed(422)),
    ("list runs", "GET", "/api/runs", None, None, signed(200)),
    ("start a run", "POST", "/api/runs", MLP, None, members(201)),
    ("read the run", "GET", "/api/runs/{run}", None, "completed", shared(200)),
    ("read another run", "GET", "/api/runs/{other}", None, "completed", signed(200)),
    ("download an artifact", "GET", "/api/runs/{run}/artifacts/history.csv", None, "completed", shared(200)),
    ("predictions", "GET", "/api/runs/{run}/predictions", None, "completed", shared(404)),
    ("confusion matrix", "GET", "/api/runs/{run}/confusion", None, "completed", shared(404)),
    ("epoch sample", "GET", "/api/runs/{run}/predictions/epoch", None, "completed", shared(404)),
    ("a predictions page's sprite", "GET", "/api/runs/{run}/predictions/sprite.png", None, "completed", shared(404)),
    ("an epoch sample page's sprite", "GET", "/api/runs/{run}/predictions/epoch/sprite.png", None, "completed",
     shared(404)),
    ("predict an image", "POST", "/api/runs/{run}/predict", "image", "completed", signed(409)),
    ("inside view", "GET", "/api/runs/{run}/inside/0", None, "completed", shared(409)),
    ("inside layer picture", "GET", "/api/runs/{run}/inside/0/layers/0.png", None, "completed", shared(409)),
    ("inside saliency", "GET", "/api/runs/{run}/inside/0/saliency.png", None, "completed", shared(409)),
    ("first kernels", "GET", "/api/runs/{run}/kernels.png", None, "completed", shared(409)),
    ("weight histograms", "GET", "/api/runs/{run}/histograms", None, "completed", shared(200)),
    ("training dynamics", "GET", "/api/runs/{run}/dynamics", None, "completed", shared(200)),
    ("inside view of an upload", "POST", "/api/runs/{run}/inside", "image", "completed", signed(409)),
    ("stop", "POST", "/api/runs/{run}/stop", None, "queued", owners(202)),
    ("continue", "POST", "/api/runs/{run}/continue", {"epochs": 1}, "completed", owners(202)),
    # Exports: reading is the run's viewers'; building one (a worker's time) is the owner's. These runs have no
    # model.keras, so an owner's request gets through to a 409 and nothing is built.
    ("list exports", "GET", "/api/runs/{run}/exports", None, "completed", shared(200)),
    ("export a model", "POST", "/api/runs/{run}/exports", {"format": "onnx"}, "completed", owners(409)),
    ("download an export", "GET", "/api/runs/{run}/exports/1/download", None, "completed", shared(404)),
    ("rename", "PATCH", "/api/runs/{run}", {"name": "renamed"}, "completed", owners(200)),
    ("delete", "DELETE", "/api/runs/{run}", None, "completed", owners(204)),
    ("create a share link", "POST", "/api/runs/{run}/shares", None, "completed", owners(201)),
    ("revoke a share link", "DELETE", "/api/runs/{run}/shares/{token}", None, "completed", owners(204)),
    ("pretrained backbones", "GET", "/api/pretrained", None, None, signed(200)),
    ("list uploaded weights", "GET", "/api/weights", None, None, signed(200)),
    ("upload weights without a file", "POST", "/api/weights", {"model": "MobileNetV2"}, None, members(400)),
    ("delete uploaded weights", "DELETE", "/api/weights/{weights}", None, None, owners(204)),
    ("list sweeps", "GET", "/api/sweeps", None, None, signed(200)),
    ("start a sweep", "POST", "/api/sweeps", "sweep", None, members(201)),
    ("read a sweep", "GET", "/api/sweeps/{sweep}", None, None, signed(200)),
    ("a sweep's trials.csv", "GET", "/api/sweeps/{sweep}/artifacts/trials.csv", None, None, signed(200)),
    ("stop a sweep", "POST", "/api/sweeps/{sweep}/stop", None, "running", owners(202)),
    ("resume a sweep", "POST", "/api/sweeps/{sweep}/resume", {"trials": 1}, "stopped", owners(202)),
    ("sweep page", "GET", "/sweeps/{sweep}", None, None, PAGE),
    ("share a sweep", "POST", "/api/sweeps/{sweep}/shares", None, None, owners(201)),
    ("revoke a sweep's link", "DELETE", "/api/sweeps/{sweep}/shares/{sweep_token}", None, None, owners(204)),
    ("list users", "GET", "/api/users", None, None, admins(200)),
    ("add a user", "POST", "/api/users", {"role": "viewer", "password": "password123"}, None, admins(201)),
    ("change a user", "PATCH", "/api/users/{viewer_id}", {"active": True}, None, admins(200)),
    ("recent actions", "GET", "/api/actions", None, None, admins(200)),
    ("list API tokens", "GET", "/api/tokens", None, None, admins(200)),
    ("revoke an API token", "DELETE", "/api/tokens/999999", None, None, admins(404)),   # none such: admins get through
    ("builder page", "GET", "/", None, None, PAGE),
    ("datasets page", "GET", "/datasets", None, None, PAGE),
    ("dataset page", "GET", "/datasets/digits", None, None, PAGE),
    ("runs page", "GET", "/runs", None, None, PAGE),
    ("run page", "GET", "/runs/{run}", None, "completed", expect(302, 200, 200, 200, 200, 200)),
    ("gallery page", "GET", "/runs/{run}/gallery", None, "completed", expect(302, 200, 200, 200, 200, 200)),
    ("inside page", "GET", "/runs/{run}/inside/0", None, "completed", expect(302, 200, 200, 200, 200, 200)),
    ("another run's page", "GET", "/runs/{other}", None, "completed", PAGE),
    ("compare page", "GET", "/compare?runs={run},{other}", None, "completed", PAGE),
    ("admin page", "GET", "/admin", None, None, expect(302, 302, 403, 403, 403, 200)),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Give the app, a client per principal, and the ids the cases need."""
    app = create_app({"KD_DATA_DIR": str(tmp_path_factory.mktemp("access")), "KD_WARM_SPARE": "0",
                      "KD_MAX_CONCURRENT_RUNS": "0", "TESTING": True,
                      "KD_MAX_QUEUED_PER_USER": "100000"})   # every case queues runs; the limit has its own test
    clients = {AD: signed_in(app, "admin", "admin"), O: signed_in(app, "owner", "member"),
               M: signed_in(app, "member", "member"), V: signed_in(app, "viewer", "viewer"),
               A: app.test_client(), S: app.test_client()}
    store = app.extensions["kd"].store
    ids = {"owner_id": accounts.find_user(store, "owner").id, "viewer_id": accounts.find_user(store, "viewer").id}
    yield app, clients, ids
    app.extensions["kd"].sweeps.shutdown()   # the sweeps left running (their trials never train here)


def new_run(app, owner_id, status):
    """Store a run of the owner's in `status` (no process trains it) and give its id."""
    kd = app.extensions["kd"]
    with kd.store.session() as s:
        run = Run(name="r", owner_id=owner_id, status=status, dataset="digits", history={},
                  spec=validate(MLP, require_run=True).to_dict(), epochs_planned=1)
        s.add(run)
    (paths.run_dir(kd.data_dir, run.id, create=True) / paths.HISTORY).write_text("epoch,loss\n")
    return run.id


SWEEP = {"base": MLP, "space": {"model.layers.1.units": {"type": "int", "low": 8, "high": 16}},
         "objective": {"metric": "val_accuracy", "direction": "maximize"}, "trials": 1}


def new_sweep(app, owner_id, status):
    """Create a sweep of the owner's, then put it in `status` (no trial trains) and give its id."""
    kd = app.extensions["kd"]
    sweep_id = kd.sweeps.create(SWEEP, owner_id)
    with kd.store.session() as s:
        s.get(Sweep, sweep_id).status = status
    return sweep_id


def new_weights(app, owner_id):
    """Store an uploaded-weights row of the owner's (its file is not needed to delete it) and give its id."""
    with app.extensions["kd"].store.session() as s:
        row = Weights(owner_id=owner_id, model="MobileNetV2", name="w.h5", args={"alpha": 1.0}, size_bytes=1)
        s.add(row)
        s.flush()
        return row.id


def body_of(body, n):
    if body == "sweep":
        return {"json": SWEEP}
    if body == "npz":
        return {"data": tiny_npz(), "content_type": "multipart/form-data"}
    if body == "image":
        png = io.BytesIO()
        from PIL import Image
        Image.new("L", (8, 8)).save(png, "PNG")
        return {"data": {"image": (io.BytesIO(png.getvalue()), "x.png")}, "content_type": "multipart/form-data"}
    if isinstance(body, dict) and body.get("role") == "viewer":
        return {"json": {**body, "name": f"new{n}"}}
    return {"json": body} if body is not None else {}


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_access(world, case, who):
    app, clients, ids = world
    name, method, url, body, status, expected = case
    store = app.extensions["kd"].store
    owner = ids["owner_id"]
    run = new_run(app, owner, status or "completed")
    other = new_run(app, owner, status or "completed")
    share = accounts.new_share(store, run, owner)
    token = accounts.new_share(store, run, owner)
    dataset = None
    if "{dataset}" in url:
        dataset = app.extensions["kd"].datasets.add("mine", io.BytesIO(tiny_npz()["file"][0].getvalue()), 2**20,
                                                    owner_id=owner)["id"]
    sweep = new_sweep(app, owner, status or "completed") if "{sweep}" in url else None
    weights = new_weights(app, owner) if "{weights}" in url else None
    sweep_token = accounts.new_share(store, None, owner, sweep_id=sweep) if "{sweep_token}" in url else None
    url = url.format(run=run, other=other, token=token, viewer_id=ids["viewer_id"], dataset=dataset, sweep=sweep,
                     sweep_token=sweep_token, weights=weights)
    if who == S:
        url += ("&" if "?" in url else "?") + f"share={share}"
    r = clients[who].open(url, method=method, **body_of(body, f"{run}{who}"))
    assert r.status_code == expected[who], (name, who, r.status_code, r.get_data(as_text=True)[:300])
    if r.status_code == 302:
        assert "/login" in r.headers["Location"]
    if r.status_code in (401, 403) and url.startswith("/api/"):
        assert r.get_json()["error"]["message"]


def test_every_endpoint_has_a_rule(world):
    app = world[0]
    assert set(app.view_functions) - set(RULES) == set()
    assert set(RULES) - set(app.view_functions) == set()


def allowed_by(rule, who, method, args):
    """Say whether an access rule lets `who` through to an endpoint called with `args` (run 1 is shared)."""
    if rule.who == "public":
        return True
    if who == S:
        opens = {"run": args.get("run_id") == 1, "dataset": args.get("split") == "test"}
        return method in ("GET", "HEAD") and opens.get(rule.share, False)
    return who in {"any": (V, M, O, AD), "member": (M, O, AD), "owner": (O, AD), "admin": (AD,)}[rule.who]


def test_matrix(world, capsys):
    """The roles × actions matrix the cases enforce is the one RULES says, and covers every endpoint."""
    adapter = world[0].url_map.bind("localhost")
    lines = ["| action | " + " | ".join(WHO) + " |", "|---" * (len(WHO) + 1) + "|"]
    covered, wrong = set(), []
    for name, method, url, _, _, exp in CASES:
        lines.append(f"| {name} | " + " | ".join(str(exp[w]) for w in WHO) + " |")
        path = url.split("?")[0].format(run=1, other=2, token="t", viewer_id=3, dataset="d", sweep=4, sweep_token="s",
                                        weights=5)
        endpoint, args = adapter.match(path, method)
        covered.add(endpoint)
        through = {w: exp[w] not in (302, 401, 403) for w in WHO}
        if through != {w: allowed_by(RULES[endpoint], w, method, args) for w in WHO}:
            wrong.append((name, endpoint, RULES[endpoint], exp))
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert wrong == []
    # Every endpoint but static files (tried once above) and logout/setup/vendor (test_auth, test_vendor).
    assert set(RULES) - covered - {"auth.logout", "auth.setup", "vendor.plotly_js"} == set()
