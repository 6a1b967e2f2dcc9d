"""KD_EXECUTOR=rq: a folder archive is built by a worker of the run queue, its events reach the web's viewers."""

import io
import threading

from tests.integration.test_folder_datasets import image, make_zip
from tests.integration.test_rq import team  # noqa: F401  (the fixture: Redis, database, workers, web instances)
from tests.live import Viewer

NAMESPACE = "/runs"


def test_an_archive_is_built_by_an_rq_worker_with_progress_on_the_datasets_room(team):  # noqa: F811
    team.worker()
    web = team.web("a")
    files = {f"{c}/{i}.png": image((6, 6), "L", (30 * k,)) for k, c in enumerate("xyz") for i in range(20)}
    got, done = [], threading.Event()
    viewer = Viewer(web.url, auth=web.auth)
    for name in ("dataset_progress", "dataset_state"):
        viewer.sio.on(name, lambda data, name=name: (got.append((name, data)),
                                                    name == "dataset_state" and done.set()), namespace=NAMESPACE)
    with viewer:
        r = web.post("/api/datasets", files={"file": ("xyz.zip", io.BytesIO(make_zip(files)))}, data={"name": "xyz"},
                     expect=202)
        ds_id = r.json()["dataset"]["id"]
        ack = viewer.sio.call("subscribe_dataset", {"dataset_id": ds_id}, namespace=NAMESPACE, timeout=30)
        assert ack["ok"] and ack["state"] in ("building", "ready")
        if ack["state"] == "building":
            assert done.wait(120), f"no dataset_state within 120 s; got {got}"
            assert got[-1][1]["state"] == "ready" and any(n == "dataset_progress" for n, _ in got)
    ds = web.get(f"/api/datasets/{ds_id}").json()["dataset"]
    assert ds["state"] == "ready" and ds["class_names"] == ["x", "y", "z"]
    assert ds["input_shape"] == [6, 6, 1] and ds["train_counts"] == [16, 16, 16] and ds["test_counts"] == [4, 4, 4]
