"""No model may ask for more activation memory than the server allows: a run whose training step
would pass KD_MAX_ACTIVATION_MB is refused with a 422 naming fit.batch_size and its largest layer,
in milliseconds and before anything is stored or queued; the check answers the estimate; and a
stored run past KD_MAX_WEB_ACTIVATION_MB is never loaded or run in the web process."""

import copy
import time

import pytest
from sqlalchemy import func, select

from tests.conftest import signed_in
from tests.specs import CNN, MLP
from webapp import create_app
from webapp.db.store import Run
from webapp.runs import paths
from webapp.modelspec.validate import validate

pytestmark = pytest.mark.keras
HEAD = [{"type": "GlobalAveragePooling2D"}, {"type": "Dense", "units": 10, "activation": "softmax"}]
# Each needs 4-256 GiB of activations per sample on the 8x8 digits; none passes KD_MAX_PARAMS.
ATTACKS = {
    "upsampling_4096": [{"type": "UpSampling2D", "size": [4096, 4096]}, *HEAD],
    "dense_then_repeat_vector": [{"type": "Flatten"}, {"type": "Dense", "units": 100_000},
                                 {"type": "RepeatVector", "n": 100_000}, {"type": "GlobalAveragePooling1D"},
                                 {"type": "Dense", "units": 10, "activation": "softmax"}],
    "conv2d_transpose_strides_4096": [{"type": "Conv2DTranspose", "filters": 1, "kernel_size": 1, "strides": 4096,
                                       "padding": "same"}, *HEAD],
    "zero_padding_then_1000_filters": [{"type": "ZeroPadding2D", "padding": 4096},
                                       {"type": "Conv2D", "filters": 1000, "kernel_size": 3}, *HEAD],
    "32_branches_concatenated": [
        {"type": "UpSampling2D", "size": 64, "name": "big"},
        *[{"type": "Conv2D", "filters": 64, "kernel_size": 1, "name": f"branch{i}", "inputs": ["big"]} for i in range(32)],
        {"type": "Concatenate", "inputs": [f"branch{i}" for i in range(32)]}, *HEAD],
    # An LSTM keeps its state at every step for the backward pass, though it returns only the last.
    "lstm_over_100000_steps": [{"type": "Flatten"}, {"type": "RepeatVector", "n": 100_000},
                               {"type": "LSTM", "units": 2000}, {"type": "Dense", "units": 10, "activation": "softmax"}],
}
CPU_S = 2.0          # CPU seconds one refusal may take (the fixed code needs ~0.02 s once TensorFlow is in)


def with_layers(layers, batch_size=1, base=MLP):
    """Give the base spec with these layers and batch size."""
    out = copy.deepcopy(base)
    out["model"]["layers"], out["fit"]["batch_size"] = copy.deepcopy(layers), batch_size
    return out


@pytest.fixture
def idle(tmp_path):
    """Give an app that starts no trainer (no slot): an accepted attack would wait, never allocate."""
    return create_app({"KD_DATA_DIR": str(tmp_path / "data"), "KD_WARM_SPARE": "0", "TESTING": True,
                       "KD_MAX_CONCURRENT_RUNS": "0"})


def stored_runs(app):
    """Give how many runs the database holds."""
    with app.extensions["kd"].store.session() as s:
        return s.scalar(select(func.count()).select_from(Run))


@pytest.mark.parametrize("name", ATTACKS)
def test_a_model_whose_activations_pass_KD_MAX_ACTIVATION_MB_is_refused_at_batch_size_1_quickly_and_unqueued(idle, name):
    member = signed_in(idle, "bob", "member")
    assert member.post("/api/models/check", json=MLP).status_code == 200   # TensorFlow imported before the clock
    began = time.process_time()
    answer = member.post("/api/runs", json=with_layers(ATTACKS[name]))
    spent = time.process_time() - began
    assert answer.status_code == 422, answer.get_json()
    (error,) = answer.get_json()["errors"]
    assert error["field"] == "fit.batch_size"
    assert isinstance(error["layer"], int) and 0 <= error["layer"] < len(ATTACKS[name])
    assert spent < CPU_S
    assert stored_runs(idle) == 0


def test_the_refusal_follows_the_batch_size_and_names_the_largest_layer(idle):
    member = signed_in(idle, "bob", "member")
    layers = [{"type": "UpSampling2D", "size": 16}, {"type": "Conv2D", "filters": 16, "kernel_size": 3}, *HEAD]
    assert member.post("/api/runs", json=with_layers(layers, batch_size=8)).status_code == 201   # ~26 MB
    refused = member.post("/api/runs", json=with_layers(layers, batch_size=4096))                # ~13 GB
    assert refused.status_code == 422
    assert [(e["layer"], e["field"]) for e in refused.get_json()["errors"]] == [(1, "fit.batch_size")]
    assert stored_runs(idle) == 1


def test_KD_MAX_ACTIVATION_MB_sets_the_bound(tmp_path):
    tight = create_app({"KD_DATA_DIR": str(tmp_path / "data"), "KD_WARM_SPARE": "0", "TESTING": True,
                        "KD_MAX_CONCURRENT_RUNS": "0", "KD_MAX_ACTIVATION_MB": "1"})
    client = signed_in(tight)
    assert client.post("/api/runs", json=with_layers(CNN["model"]["layers"], 16, CNN)).status_code == 201   # ~0.6 MB
    assert client.post("/api/runs", json=with_layers(CNN["model"]["layers"], 128, CNN)).status_code == 422  # ~5 MB


def cnn_estimate(client, batch_size):
    """Give the check's activation estimate of the CNN at a batch size."""
    answer = client.post("/api/models/check", json=with_layers(CNN["model"]["layers"], batch_size, CNN))
    assert answer.status_code == 200
    return answer.get_json()["activations"]


def test_the_check_answers_an_estimate_that_grows_linearly_with_the_batch(client):
    at_32, at_64 = cnn_estimate(client, 32), cnn_estimate(client, 64)
    assert (at_32["batch_size"], at_64["batch_size"]) == (32, 64)
    assert at_64["bytes"] == 2 * at_32["bytes"] == 64 * at_32["per_sample_bytes"]
    # The formula: float32 outputs of every layer, kept for the backward pass with their gradients (x 3).
    outputs = 6 * 6 * 32 + 4 * 4 * 64 + 2 * 2 * 64 + 2 * 2 * 64 + 256 + 128 + 128 + 10
    formula = outputs * 4 * 3 * 32
    assert formula / 2 <= at_32["bytes"] <= formula * 2
    assert at_32["largest_layer"] == 0                          # conv2d: 6 x 6 x 32 outputs


def test_the_check_still_answers_an_attack_model_with_its_estimate(client):
    answer = client.post("/api/models/check", json=with_layers(ATTACKS["zero_padding_then_1000_filters"]))
    assert answer.status_code == 200
    found = answer.get_json()["activations"]
    assert found["largest_layer"] == 1 and found["per_sample_bytes"] > 256 * 2**30


def test_the_estimate_of_a_shape_of_10_to_the_9_by_10_to_the_9_is_a_big_number_at_once():
    from webapp.modelspec import memory

    rows = [{"index": i, "name": f"r{i}", "output_shape": [None, 10**9, 10**9, 10**9]} for i in range(1000)]
    began = time.process_time()
    found = memory.estimate([{"type": "Reshape"}] * 1000, rows, [8, 8, 1], 65_536)
    assert found["bytes"] == (64 + 1000 * 3 * 10**27) * 4 * 65_536          # exact: Python's integers do not overflow
    assert memory.readable(found["bytes"]) == "more than 1024 EB"
    assert time.process_time() - began < 0.5


def stored_run(app, layers, summary=None):
    """Store a completed run of these layers (as one made before the bound, or under a looser one) with a
    model.keras that is not a model: a route that loads it would answer 409."""
    spec = validate(with_layers(layers), require_run=True).to_dict()
    with app.extensions["kd"].store.session() as s:
        run = Run(name="big", status="completed", dataset="digits", spec=spec, summary=summary, history={},
                  epochs_planned=1, epochs_done=1)
        s.add(run)
    (paths.run_dir(app.extensions["kd"].data_dir, run.id, create=True) / paths.MODEL).write_bytes(b"not a model")
    return run.id


def png():
    """Give a small PNG upload."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("L", (8, 8), 255).save(out, "PNG")
    out.seek(0)
    return out


@pytest.mark.parametrize("with_summary", [True, False])
def test_a_stored_run_past_KD_MAX_WEB_ACTIVATION_MB_is_never_loaded_in_the_web_process(idle, with_summary):
    client, layers = signed_in(idle), ATTACKS["upsampling_4096"]
    summary = client.post("/api/models/check", json=with_layers(layers)).get_json() if with_summary else None
    run_id = stored_run(idle, layers, summary)
    began = time.process_time()
    answers = [client.get(f"/api/runs/{run_id}/inside/0"),
               client.get(f"/api/runs/{run_id}/inside/0/saliency.png"),
               client.get(f"/api/runs/{run_id}/inside/0/layers/0.png"),
               client.post(f"/api/runs/{run_id}/inside", data={"image": (png(), "a.png")}),
               client.post(f"/api/runs/{run_id}/predict", data={"image": (png(), "a.png")})]
    spent = time.process_time() - began
    assert [a.status_code for a in answers] == [422] * 5
    assert {(e["layer"], e["field"]) for a in answers for e in a.get_json()["errors"]} == {(0, "model")}
    assert spent < 5 * CPU_S
