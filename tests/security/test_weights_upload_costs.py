"""Uploaded backbone weights: what one user may keep, and how many checks (each a process loading a whole
application) run at once, are bounded before the upload is written or a process started."""

import io
import time

from tests.conftest import signed_in
from webapp.db.store import Weights
from webapp.runs import uploaded_weights
from webapp.team import accounts


def upload(client):
    """Post a small weights file for MobileNetV2; give the answer."""
    return client.post("/api/weights", data={"file": (io.BytesIO(b"\x89HDF\r\n" + b"0" * 4096), "mine.weights.h5"),
                                              "model": "MobileNetV2"}, content_type="multipart/form-data")


def kept_files(app):
    """Give the files in the data dir's weights folder (partial uploads included)."""
    folder = uploaded_weights.folder(app.config["KD_DATA_DIR"])
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_user_past_kd_max_weights_per_user_is_refused_before_the_file_is_written_or_checked(app):
    app.config["KD_MAX_WEIGHTS_PER_USER"] = 2
    client = signed_in(app, "mia", "member")
    store = app.extensions["kd"].store
    owner = accounts.find_user(store, "mia").id
    with store.session() as s:
        s.add_all([Weights(owner_id=owner, model="MobileNetV2", name=f"w{i}.weights.h5", args={}, size_bytes=1)
                   for i in range(2)])
    started = time.monotonic()
    r = upload(client)
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "file"
    assert time.monotonic() - started < 5   # no process loading MobileNetV2 was started (that takes seconds)
    assert kept_files(app) == []
    assert len(client.get("/api/weights").get_json()["weights"]) == 2


def test_an_upload_while_another_is_checked_is_told_to_wait_and_leaves_nothing(app):
    client = signed_in(app, "mia", "member")
    assert uploaded_weights.CHECKING.acquire(blocking=False)   # a check in progress
    try:
        started = time.monotonic()
        r = upload(client)
    finally:
        uploaded_weights.CHECKING.release()
    assert r.status_code == 429
    assert time.monotonic() - started < 5
    assert kept_files(app) == []
    assert client.get("/api/weights").get_json()["weights"] == []
