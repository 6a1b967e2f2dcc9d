"""Real training through the embedded executor: spawned processes, the journal, the artifacts."""

import pytest

from tests.conftest import signed_in
from tests.integration.runs_helpers import get, start, wait_for
from tests.specs import MLP, spec
from webapp.runs import paths
from webapp.modelspec.validate import validate
from webapp.db.store import RunEvent


def test_run_completes_with_keras_history_and_loadable_artifacts(client, services):
    run_id = start(client, spec(MLP, name="mlp <b>", fit={"epochs": 2, "batch_size": 64}))
    run = wait_for(lambda: get(client, run_id))
    assert run["status"] == "completed", run["error"]
    assert run["epochs_done"] == 2 and run["name"] == "mlp <b>"
    assert set(run["history"]) == {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"}
    assert all(len(v) == 2 for v in run["history"].values())
    assert set(run["artifacts"]) >= {"model.keras", "model.json", "history.csv", "train.py"}
    script = client.get(f"/api/runs/{run_id}/artifacts/train.py").get_data(as_text=True)
    assert "keras.Sequential" in script and "epochs" in script and "load_digits" in script
    r = client.get(f"/api/runs/{run_id}/artifacts/model.keras")
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]

    from webapp.modelspec.build import init_keras
    keras = init_keras()
    model = keras.saving.load_model(paths.artifact(services.data_dir, run_id, paths.MODEL))
    assert model.count_params() == run["summary"]["total_params"]
    assert model.optimizer.iterations.numpy() == 2 * 23   # 1437 samples / 64 per batch, twice

    csv = client.get(f"/api/runs/{run_id}/artifacts/history.csv").get_data(as_text=True).splitlines()
    assert csv[0].startswith("epoch,") and len(csv) == 3

    with services.store.session() as s:
        events = s.query(RunEvent).filter_by(run_id=run_id).order_by(RunEvent.seq).all()
    kinds = [e.kind for e in events]
    assert kinds[0] == "run_status" and kinds.count("run_epoch") == 2
    assert [e.payload["status"] for e in events if e.kind == "run_status"] == ["queued", "running", "completed"]
    assert [e.payload["epoch"] for e in events if e.kind == "run_epoch"] == [1, 2]
    assert [e.seq for e in events if e.kind != "run_batch"] == sorted(e.seq for e in events if e.kind != "run_batch")

    # Continue needs a whole number of epochs (checked on this finished run: no run of its own to pay for).
    for epochs in (0, -1, "2", None, True):
        r = client.post(f"/api/runs/{run_id}/continue", json={"epochs": epochs})
        assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "epochs", (epochs, r.get_json())


def test_invalid_spec_is_422_and_stores_nothing(client):
    r = client.post("/api/runs", json=spec(MLP, model={"layers": [{"type": "Dense", "units": 0}]}))
    assert r.status_code == 422
    assert r.get_json()["errors"][0]["field"] == "units"
    assert client.get("/api/runs").get_json()["runs"] == []


def test_unknown_run_is_404(client):
    assert client.get("/api/runs/999").status_code == 404
    assert client.post("/api/runs/999/stop").status_code == 404
    assert client.get("/api/runs/999/artifacts/model.keras").status_code == 404


LONG = {"epochs": 50, "batch_size": 8, "validation": "test"}


def test_stop_keeps_what_was_learned_and_continue_goes_on(client, services):
    run_id = start(client, spec(MLP, fit=LONG))
    wait_for(lambda: get(client, run_id), ("running",), until=lambda r: r["progress"] or r["epochs_done"])
    r = client.post(f"/api/runs/{run_id}/continue", json={"epochs": 1})   # not while it runs
    assert r.status_code == 409 and "running" in r.get_json()["error"]["message"]
    r = client.post(f"/api/runs/{run_id}/stop")
    assert r.status_code == 202 and r.get_json()["run"]["status"] == "stopping"
    run = wait_for(lambda: get(client, run_id))
    assert run["status"] == "stopped" and run["error"] is None
    done = run["epochs_done"]
    assert 1 <= done < 50 and "model.keras" in run["artifacts"]
    assert client.post(f"/api/runs/{run_id}/stop").status_code == 409

    keras = __import__("webapp.modelspec.build", fromlist=["init_keras"]).init_keras()
    path = paths.artifact(services.data_dir, run_id, paths.MODEL)
    steps_before = int(keras.saving.load_model(path).optimizer.iterations.numpy())

    r = client.post(f"/api/runs/{run_id}/continue", json={"epochs": 1})
    assert r.status_code == 202
    run = wait_for(lambda: get(client, run_id), until=lambda r: r["epochs_done"] == done + 1)
    assert run["status"] == "completed", run["error"]
    assert all(len(v) == done + 1 for v in run["history"].values())
    # The optimizer state came back with the model: its step count goes on from where it stopped.
    assert int(keras.saving.load_model(path).optimizer.iterations.numpy()) == steps_before + 180


def test_nan_loss_fails_the_run_with_a_reason(client):
    diverging = spec(MLP, model={"layers": [{"type": "Flatten"}, {"type": "Dense", "units": 10}]},
                     compile={"optimizer": {"type": "SGD", "learning_rate": 100.0}, "loss": "mean_squared_error"},
                     fit={"epochs": 5, "batch_size": 32})
    run_id = start(client, diverging)
    run = wait_for(lambda: get(client, run_id))
    assert run["status"] == "failed"
    assert "The loss became NaN at epoch 1" in run["error"] and "learning_rate" in run["error"]


def test_sigkill_mid_epoch_fails_the_run_and_continue_resumes(client, services):
    import os
    import signal

    run_id = start(client, spec(MLP, fit=LONG))
    wait_for(lambda: get(client, run_id), ("running",), until=lambda r: r["epochs_done"] >= 1)
    pid = services.runs.executor.pid(run_id)
    os.kill(pid, signal.SIGKILL)
    run = wait_for(lambda: get(client, run_id))
    assert run["status"] == "failed" and "killed by signal 9" in run["error"]
    done = run["epochs_done"]
    r = client.post(f"/api/runs/{run_id}/continue", json={"epochs": 1})
    assert r.status_code == 202
    run = wait_for(lambda: get(client, run_id), until=lambda r: r["epochs_done"] == done + 1)
    assert run["status"] == "completed" and len(run["history"]["loss"]) == done + 1


def test_queue_runs_one_at_a_time_in_order_and_a_stopped_queued_run_never_starts(client):
    first = start(client, spec(MLP, fit=LONG))
    dropped = start(client, spec(MLP, fit={"epochs": 1}))
    second = start(client, spec(MLP, fit={"epochs": 1}))
    assert client.post(f"/api/runs/{dropped}/stop").status_code == 202
    assert get(client, dropped)["status"] == "stopped"
    queued = get(client, second)
    assert queued["status"] == "queued" and queued["queue_position"] == 1
    client.post(f"/api/runs/{first}/stop")
    assert wait_for(lambda: get(client, second))["status"] == "completed"
    assert get(client, first)["status"] == "stopped"
    assert get(client, dropped)["status"] == "stopped" and get(client, dropped)["started_at"] is None


def test_a_fit_time_error_fails_the_run_with_keras_words(client):
    # Pixels of 1.0 become index 1, outside an Embedding of input_dim 1: only fit can tell.
    bad = spec(MLP, model={"layers": [{"type": "Embedding", "input_dim": 1, "output_dim": 4}, {"type": "Flatten"},
                                      {"type": "Dense", "units": 10, "activation": "softmax"}]},
               fit={"epochs": 1})
    run_id = start(client, bad)
    run = wait_for(lambda: get(client, run_id))
    assert run["status"] == "failed" and run["error"].startswith("Training failed:")
    assert "Traceback" not in run["error"]


def test_a_run_that_ignores_stop_is_killed_after_the_grace_period(tmp_path):
    from webapp import create_app

    client = signed_in(create_app({"KD_DATA_DIR": str(tmp_path), "KD_WARM_SPARE": "0", "KD_STOP_GRACE_S": "0.01"}))
    run_id = start(client, spec(MLP, fit=LONG))
    wait_for(lambda: get(client, run_id), ("running",), until=lambda r: r["epochs_done"] >= 1)
    client.post(f"/api/runs/{run_id}/stop")
    run = wait_for(lambda: get(client, run_id))
    assert run["status"] == "stopped" and "did not stop within 0.01 s" in run["error"]
    assert "model.keras" in run["artifacts"]


def test_unfinished_runs_become_interrupted_when_a_server_starts(tmp_path):
    from webapp import create_app
    from webapp.db.store import Run

    first = create_app({"KD_DATA_DIR": str(tmp_path), "KD_WARM_SPARE": "0"})
    with first.extensions["kd"].store.session() as s:
        for status in ("queued", "running", "stopping", "completed"):
            s.add(Run(name=status, status=status, dataset="digits", spec={}, history={}))
    second = signed_in(create_app({"KD_DATA_DIR": str(tmp_path), "KD_WARM_SPARE": "0"}))
    runs = {r["name"]: r for r in second.get("/api/runs").get_json()["runs"]}
    assert {name: r["status"] for name, r in runs.items()} == {
        "queued": "interrupted", "running": "interrupted", "stopping": "interrupted", "completed": "completed"}
    assert "restarted" in runs["running"]["error"]


def test_a_run_posted_while_the_spare_warms_up_is_checked_and_trained_once_in_that_spare(tmp_path, monkeypatch):
    from webapp import create_app
    from webapp.extensions import socketio
    from webapp.modelspec import build
    from webapp.db.store import Run

    keras, summarize = build.init_keras(), build.summarize   # for the test's own use; the web process
    monkeypatch.setattr(build, "keras_loaded", lambda: False)  # it stands for has no TensorFlow yet, so the
    monkeypatch.setattr(build, "summarize", None)              # spare checks the models, never this process
    app = create_app({"KD_DATA_DIR": str(tmp_path), "KD_WARM_SPARE": "1"})
    runs = app.extensions["kd"].runs
    client = signed_in(app)
    runs.begin()                       # as `python wsgi.py` does before it serves
    spare = runs.executor._spare
    try:
        warming = not spare.ready.is_set()
        flat = spec(MLP, model={"layers": [{"type": "Flatten"}, {"type": "Conv2D", "filters": 2, "kernel_size": 3}]})
        r = client.post("/api/runs", json=flat)   # the spare's answer, once it is ready
        assert r.status_code == 422 and r.get_json()["errors"][0]["layer"] == 1, r.get_json()
        run_id = start(client, spec(MLP, fit={"epochs": 2, "batch_size": 64}))
        assert warming, "the spare was ready before the run was posted: this test did not test the warm-up"
        # The run waits for the spare: no second trainer process was started for it.
        assert runs.executor._slots == {run_id: spare} and runs.executor._spare is None
        viewer = socketio.test_client(app, namespace="/runs", auth={"token": client.token}, flask_test_client=client)
        assert viewer.emit("subscribe", {"run_id": run_id}, namespace="/runs", callback=True)["ok"]
        run = wait_for(lambda: get(client, run_id))
        assert run["status"] == "completed", run["error"]
        registry = app.extensions["kd"].datasets
        checked = validate(spec(MLP), datasets=registry.ids(), require_run=True)
        assert run["summary"] == summarize(checked, registry.info("digits"))   # as this process checks it
        with app.extensions["kd"].store.session() as s:
            assert s.get(Run, run_id).worker.endswith(f":{spare.process.pid}")   # the spare trained it
        # Neither its warm-up fit nor the checks left their mark: the layers have a fresh process's names.
        saved = keras.saving.load_model(paths.artifact(tmp_path, run_id, paths.MODEL))
        assert [layer.name for layer in saved.layers] == ["flatten", "dense", "dropout", "dense_1"]
        received = [(e["name"], e["args"][0]) for e in viewer.get_received("/runs") if e["name"] != "run_history"]
        seqs = [data["seq"] for _, data in received]
        assert seqs == sorted(set(seqs)) and seqs[-1] == run["last_seq"]
        assert [d["epoch"] for name, d in received if name == "run_epoch"] == [1, 2]
        assert received[-1][1]["status"] == "completed"
    finally:
        runs.executor.shutdown()


def test_imdb_with_planted_words_trains_an_embedding_and_reuters_a_bag_of_words(client, tmp_path, monkeypatch):
    """Sequences from a Keras-format cache train through the same feed (no scaling), to high accuracy.

    imdb_lstm.py's LSTM is checked here (its shapes); trained is imdb_fasttext.py's pooled embedding,
    through the same build and feed: an LSTM run took ~18 s longer here (its graph's tracing), past
    this suite's budget.
    """
    from tests.keras_cache import write_imdb, write_reuters
    from tests.specs import IMDB_FASTTEXT, IMDB_LSTM, REUTERS_MLP

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))   # the spawned trainer inherits it
    write_imdb(tmp_path / "keras" / "datasets", n_train=400, n_test=200, length=40)
    write_reuters(tmp_path / "keras" / "datasets", n=300)
    r = client.post("/api/models/check", json=IMDB_LSTM)
    assert r.status_code == 200 and [row["output_shape"] for row in r.get_json()["layers"]] == [
        [None, 60, 16], [None, 16], [None, 1]]
    info = client.get("/api/datasets/imdb").get_json()["dataset"]   # reads it: the default split's statistics
    assert info["kind"] == "sequence" and info["train_size"] == 400 and info["vocabulary_size"] > 500
    page = client.get("/datasets/imdb").get_data(as_text=True)   # its samples decoded with the word index
    assert 'id="ds-texts"' in page and "great" in page and "awful" in page and "[start]" in page
    for url in ("/api/datasets/imdb/images/test/0.png", "/api/datasets/imdb/stats"):   # no pictures: a 404 that says so
        r = client.get(url)
        assert r.status_code == 404 and "holds sequences, not images" in r.get_json()["error"]["message"], url
    r = client.post("/api/models/check", json=spec(IMDB_LSTM, model={"layers": [
        {"type": "Embedding", "input_dim": 300, "output_dim": 8}, {"type": "GlobalAveragePooling1D"},
        {"type": "Dense", "units": 1, "activation": "sigmoid"}]}))
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "input_dim"
    imdb_run, reuters_run = start(client, IMDB_FASTTEXT), start(client, REUTERS_MLP)
    for run_id in (imdb_run, reuters_run):
        run = wait_for(lambda: get(client, run_id), timeout=120)
        assert run["status"] == "completed", run["error"]
    imdb, reuters = get(client, imdb_run), get(client, reuters_run)
    assert imdb["history"]["val_accuracy"][-1] >= 0.9, imdb["history"]
    assert reuters["history"]["val_accuracy"][-1] >= 0.8, reuters["history"]
    assert imdb["spec"]["dataset_options"] == {"num_words": 600, "maxlen": 60}
    script = client.get(f"/api/runs/{imdb_run}/artifacts/train.py").get_data(as_text=True)
    assert "keras.datasets.imdb.load_data(num_words=600)" in script and "maxlen = 60" in script
    assert "keras.Input(shape=(60,))" in script
    r = client.post("/api/runs", json=spec(IMDB_LSTM, dataset_options={"num_words": 600, "maxlength": 60}))
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "dataset_options.maxlength"


def test_an_imdb_npz_in_another_format_is_a_dataset_message_not_a_5xx(client, tmp_path, monkeypatch):
    import numpy as np

    from tests.specs import IMDB_LSTM

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    (tmp_path / "keras" / "datasets").mkdir(parents=True)
    path = tmp_path / "keras" / "datasets" / "imdb.npz"
    np.savez(path, x_train=np.zeros((4, 3)), y_train=np.zeros(4), x_test=np.zeros((4, 3)), y_test=np.zeros(4))
    datasets = {d["id"]: d for d in client.get("/api/datasets").get_json()["datasets"]}
    assert datasets["imdb"]["kind"] == "sequence" and datasets["mnist"]["kind"] == "image"
    r = client.get("/api/datasets/imdb")   # the listing only looks for the file; one dataset's page reads it
    info = r.get_json()["dataset"]
    assert r.status_code == 200 and not info["available"] and str(path) in info["message"]
    assert "one-dimensional" in info["message"]
    r = client.post("/api/runs", json=IMDB_LSTM)
    assert r.status_code == 422 and str(path) in r.get_json()["errors"][0]["message"]
