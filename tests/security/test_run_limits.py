"""No member can ask for more than the server will do: a model past KD_MAX_PARAMS is refused with a
422 naming the field, and past KD_MAX_QUEUED_PER_USER waiting runs a member's next run gets a 429."""

import copy

import pytest

from tests.conftest import signed_in
from tests.security.conftest import a_run
from tests.specs import MLP
from webapp import create_app


def huge_model():
    """Give the small MLP grown to 10¹² parameters (two Dense layers of a million units)."""
    spec = copy.deepcopy(MLP)
    spec["model"]["layers"][1]["units"] = 1_000_000
    spec["model"]["layers"].insert(2, {"type": "Dense", "units": 1_000_000})
    return spec


def test_a_model_past_KD_MAX_PARAMS_is_refused_with_422_naming_the_field(app):
    member = signed_in(app, "bob", "member")
    answer = member.post("/api/runs", json=huge_model())
    assert answer.status_code == 422
    (error,) = answer.get_json()["errors"]
    assert error["field"] == "model" and error["layer"] == 2
    assert "KD_MAX_PARAMS" in error["message"] and "50,000,000" in error["message"]
    assert member.get("/api/runs").get_json()["runs"] == []        # nothing was stored


@pytest.fixture
def small_queue(tmp_path):
    """Give an app that trains nothing (no slot) and lets a member queue 2 runs."""
    return create_app({"KD_DATA_DIR": str(tmp_path / "data"), "KD_WARM_SPARE": "0", "TESTING": True,
                       "KD_MAX_CONCURRENT_RUNS": "0", "KD_MAX_QUEUED_PER_USER": "2"})


def test_a_member_past_KD_MAX_QUEUED_PER_USER_gets_429_and_others_still_queue(small_queue):
    bob, eve = signed_in(small_queue, "bob", "member"), signed_in(small_queue, "eve", "member")
    assert [bob.post("/api/runs", json=MLP).status_code for _ in range(2)] == [201, 201]
    refused = bob.post("/api/runs", json=MLP)
    assert refused.status_code == 429
    assert "2 runs waiting" in refused.get_json()["error"]["message"]
    assert eve.post("/api/runs", json=MLP).status_code == 201


def test_continuing_a_run_counts_against_the_queue_limit(small_queue):
    bob = signed_in(small_queue, "bob", "member")
    ended = a_run(small_queue, "bob", status="stopped")
    assert [bob.post("/api/runs", json=MLP).status_code for _ in range(2)] == [201, 201]
    assert bob.post(f"/api/runs/{ended}/continue", json={"epochs": 1}).status_code == 429
