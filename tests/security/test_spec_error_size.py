"""A spec's 422 stays small: however many mistakes a spec holds, the answer lists at most
MAX_ERRORS of them (then says how many more) and no message repeats the model's layer names, so a
graph spec naming thousands of unknown inputs costs a little CPU and a small answer, not megabytes."""

import time

import pytest

from tests.conftest import signed_in
from tests.specs import MLP, spec
from webapp import create_app
from webapp.modelspec.fields import MAX_ERRORS
from webapp.modelspec.graph import MAX_INPUTS
from webapp.modelspec.validate import MAX_LAYERS

ANSWER_BOUND = 1_000_000     # bytes; unbounded, the worst case below answered ~130 MB
CPU_BOUND = 2.0              # seconds of this process's CPU; fixed, the check takes ~0.1 s


@pytest.fixture(scope="module")
def admin(tmp_path_factory):
    """Give one admin's client on one app (nothing here is stored)."""
    app = create_app({"KD_DATA_DIR": str(tmp_path_factory.mktemp("errors")), "KD_WARM_SPARE": "0", "TESTING": True})
    return signed_in(app)


def unknown_inputs(layers, inputs_each):
    """Give a graph spec of `layers` long-named Concatenate layers, each naming unknown inputs."""
    model = [{"type": "Concatenate", "name": f"layer{i:04d}_" + "x" * 90,
              "inputs": [f"u{i}_{j}" for j in range(inputs_each)]} for i in range(layers)]
    return spec(MLP, model={"layers": model})


@pytest.mark.parametrize("url", ["/api/models/check", "/api/runs"])
@pytest.mark.parametrize("layers, inputs_each", [(MAX_LAYERS, MAX_INPUTS), (2_000, 1)])
def test_a_graph_naming_thousands_of_unknown_inputs_gets_a_small_422_quickly(admin, url, layers, inputs_each):
    body = unknown_inputs(layers, inputs_each)
    started = time.process_time()
    answer = admin.post(url, json=body)
    spent = time.process_time() - started
    assert answer.status_code == 422
    assert len(answer.get_data()) < ANSWER_BOUND
    assert len(answer.get_json()["errors"]) <= MAX_ERRORS + 1
    assert spent < CPU_BOUND


def test_past_MAX_ERRORS_one_more_error_counts_the_rest(admin):
    answer = admin.post("/api/models/check", json=unknown_inputs(MAX_LAYERS, MAX_INPUTS)).get_json()
    *shown, rest = answer["errors"]
    assert len(shown) == MAX_ERRORS
    assert all(error["field"] == "inputs" for error in shown)
    total = MAX_LAYERS * MAX_INPUTS
    assert rest["layer"] is None and f"{total - MAX_ERRORS:,}" in rest["message"]
