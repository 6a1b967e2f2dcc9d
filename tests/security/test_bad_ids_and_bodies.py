"""Ids past what the database holds are 404 like any unknown id, and JSON nested too deep is 400,
never a 500, on every kind of address that takes an id."""

import pytest

from tests.conftest import signed_in
from tests.security.conftest import socket
from webapp import create_app

HUGE = "99999999999999999999999"   # past SQLite's and PostgreSQL's 64-bit integers


@pytest.fixture(scope="module")
def admin(tmp_path_factory):
    """Give one admin's client on one app for every case here (nothing here changes anything)."""
    app = create_app({"KD_DATA_DIR": str(tmp_path_factory.mktemp("ids")), "KD_WARM_SPARE": "0", "TESTING": True})
    return signed_in(app)


@pytest.mark.parametrize("method, url", [
    ("GET", f"/api/runs/{HUGE}"), ("GET", f"/runs/{HUGE}"), ("GET", f"/runs/{HUGE}/gallery"),
    ("GET", f"/api/runs/{HUGE}/artifacts/model.keras"), ("GET", f"/api/runs/{HUGE}/predictions"),
    ("GET", f"/api/runs/{HUGE}/confusion"), ("GET", f"/api/runs/{HUGE}/predictions/sprite.png"),
    ("POST", f"/api/runs/{HUGE}/shares"),
    ("DELETE", f"/api/runs/{HUGE}/shares/some-token"), ("POST", f"/api/runs/{HUGE}/stop"),
    ("PATCH", f"/api/users/{HUGE}"), ("GET", f"/api/datasets/digits/images/test/{HUGE}.png"),
    ("GET", f"/api/runs/-1"), ("POST", f"/api/runs/{HUGE}/exports"),
    ("GET", f"/api/runs/1/exports/{HUGE}/download"),
])
def test_an_id_past_the_databases_range_is_404(admin, method, url):
    answer = admin.open(url, method=method, json={})
    assert answer.status_code == 404


def test_subscribing_to_an_id_past_the_range_says_there_is_no_such_run(admin):
    viewer = socket(admin.application, token=admin.token)
    answer = viewer.emit("subscribe", {"run_id": int(HUGE)}, namespace="/runs", callback=True)
    assert answer["ok"] is False and "no run" in answer["error"]


@pytest.mark.parametrize("url", ["/api/runs", "/api/models/check", "/api/users", "/api/models/import"])
def test_json_nested_too_deep_is_400_saying_so(admin, url):
    answer = admin.post(url, data="[" * 100_000, content_type="application/json")
    assert answer.status_code == 400
    assert "nested" in answer.get_json()["error"]["message"]
