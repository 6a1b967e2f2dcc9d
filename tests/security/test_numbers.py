"""A number from outside is ASCII digits within bounds, or refused: `²` (which int() cannot read),
`١` and `１` (which it reads), a sign, an exponent or 5,000 digits (past what int() reads) in a
query are a 400 and in a path a 404 on every route that takes a number, never a 500 and never
read as another number; a socket's subscribe to such a run id gets an error ack."""

import io
import zipfile
from urllib.parse import quote

import pytest

from tests.conftest import signed_in
from tests.integration.runs_helpers import get, start, wait_for
from tests.security.conftest import socket
from tests.specs import MLP, spec
from webapp import create_app

BAD = {"superscript": "²", "arabic-indic": "١", "fullwidth": "１", "negative": "-1", "exponent": "1e3",
       "5,000 digits": "9" * 5000}

# (what, address with {run} and {v}, the status for a bad {v}, a good {v}); {v} is quoted.
ROUTES = [
    ("inside index", "/api/runs/{run}/inside/{v}", 404, "1"),
    ("inside class", "/api/runs/{run}/inside/0?class={v}", 400, "3"),
    ("saliency class", "/api/runs/{run}/inside/0/saliency.png?class={v}", 400, "3"),
    ("layer page", "/api/runs/{run}/inside/0/layers/0.png?page={v}", 400, "0"),
    ("predictions offset", "/api/runs/{run}/predictions?offset={v}", 400, "10"),
    ("predictions indexes", "/api/runs/{run}/predictions?indexes=1,{v}", 400, "2"),
    ("predictions scale", "/api/runs/{run}/predictions/sprite.png?scale={v}", 400, "2"),
    ("dataset image scale", "/api/datasets/digits/images/test/0.png?scale={v}", 400, "2"),
    ("samples limit", "/api/datasets/digits/samples?limit={v}", 400, "5"),
    ("compare runs", "/compare?runs={run},{v}", 400, "{run}"),
    ("run id", "/api/runs/{v}", 404, "{run}"),
    ("dataset image index", "/api/datasets/digits/images/test/{v}.png", 404, "7"),
]
TINY_CNN = spec(MLP, model={"layers": [{"type": "Conv2D", "filters": 4, "kernel_size": 3, "activation": "relu"},
                                       {"type": "Flatten"}, {"type": "Dense", "units": 10, "activation": "softmax"}]},
                fit={"epochs": 1, "batch_size": 64, "validation": "test"})


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Give (admin's client, a run trained one epoch on the digits): every route above has its model and predictions."""
    app = create_app({"KD_DATA_DIR": str(tmp_path_factory.mktemp("numbers")), "KD_WARM_SPARE": "0", "TESTING": True})
    client = signed_in(app)
    run_id = start(client, TINY_CNN)
    run = wait_for(lambda: get(client, run_id), timeout=600)
    assert run["status"] == "completed", run["error"]
    return client, run_id


def url(address, run_id, value):
    """Give the address with the run's id and the value (quoted) filled in."""
    return address.format(run=run_id, v=quote(value.format(run=run_id), safe=""))


@pytest.mark.keras
@pytest.mark.parametrize("value", BAD.values(), ids=BAD.keys())
@pytest.mark.parametrize("what, address, status, good", ROUTES, ids=[r[0] for r in ROUTES])
def test_a_number_that_is_not_ascii_digits_within_bounds_is_refused(world, what, address, status, good, value):
    client, run_id = world
    assert client.get(url(address, run_id, value)).status_code == status


@pytest.mark.keras
@pytest.mark.parametrize("what, address, status, good", ROUTES, ids=[r[0] for r in ROUTES])
def test_the_same_routes_answer_ascii_digits(world, what, address, status, good):
    client, run_id = world
    assert client.get(url(address, run_id, good)).status_code == 200


@pytest.mark.keras
@pytest.mark.parametrize("value", BAD.values(), ids=BAD.keys())
def test_subscribing_to_a_run_id_that_is_not_ascii_digits_gets_an_error_ack(world, value):
    client, _ = world
    viewer = socket(client.application, token=client.token)
    answer = viewer.emit("subscribe", {"run_id": value}, namespace="/runs", callback=True)
    assert answer["ok"] is False


def tiny_zip():
    """Give a .zip of two class folders with one small PNG each."""
    from PIL import Image

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for klass in ("a", "b"):
            png = io.BytesIO()
            Image.new("L", (4, 4)).save(png, "PNG")
            z.writestr(f"{klass}/1.png", png.getvalue())
    return out.getvalue()


@pytest.mark.parametrize("value", BAD.values(), ids=BAD.keys())
@pytest.mark.parametrize("field, text", [("image_size", "{v},8"), ("seed", "{v}")])
def test_an_upload_option_that_is_not_ascii_digits_is_400(app, value, field, text):
    client = signed_in(app)
    form = {"file": (io.BytesIO(tiny_zip()), "shapes.zip"), field: text.format(v=value)}
    answer = client.post("/api/datasets", data=form, content_type="multipart/form-data")
    assert answer.status_code == 400
