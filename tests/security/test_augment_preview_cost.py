"""The augmentation preview's promise: its cost is reckoned from the layers' output shapes before
any layer runs, and a preview past KD_MAX_PREVIEW_PIXELS is refused with a 422 naming the field,
in the web process's memory it would have taken (`Resizing` to 8192×8192 × 16 samples was 4 GiB)."""

import io

import numpy as np
import pytest

from tests.conftest import signed_in
from tests.security.conftest import peak_while


def preview(client, layers, count=16, dataset="digits"):
    """POST an augmentation preview of a dataset's first image (the built-in digits: 8×8 grey); give the answer."""
    return client.post(f"/api/datasets/{dataset}/augment", json={"layers": layers, "count": count})


@pytest.mark.parametrize("layers, layer, field", [
    ([{"type": "Resizing", "height": 2048, "width": 2048}], 0, "height"),
    ([{"type": "RandomFlip"}, {"type": "RandomCrop", "height": 2048, "width": 1024}, {"type": "RandomFlip"}], 1, "height"),
    ([{"type": "Resizing", "height": 512, "width": 8192}, {"type": "RandomZoom", "height_factor": 0.2}], 0, "width"),
])
def test_a_preview_past_the_pixel_budget_is_refused_with_422_before_any_layer_runs(app, layers, layer, field):
    member = signed_in(app, "bob", "member")
    assert preview(member, [{"type": "RandomFlip"}], count=2).status_code == 200   # Keras imported, outside the peak
    answer, peak = peak_while(lambda: preview(member, layers))
    assert answer.status_code == 422
    (error,) = answer.get_json()["errors"]
    assert (error["layer"], error["field"]) == (layer, field)
    assert peak < 32 * 2**20   # running it: 16 × 2048² float32 values and their copies, hundreds of MB


def large_images(client):
    """Upload an .npz of 1024×1024 RGB images (3M values each: 2 fit the default budget, 16 do not); give its id."""
    out = io.BytesIO()
    x, y = np.zeros((2, 1024, 1024, 3), np.uint8), np.array([0, 1])
    np.savez_compressed(out, x_train=x, y_train=y, x_test=x, y_test=y)
    answer = client.post("/api/datasets", data={"name": "large", "file": (io.BytesIO(out.getvalue()), "large.npz")},
                         content_type="multipart/form-data")
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["dataset"]["id"]


def test_too_many_samples_of_a_large_image_are_refused_naming_count(app):
    member = signed_in(app, "bob", "member")
    ds_id, flip = large_images(member), [{"type": "RandomFlip"}]
    assert preview(member, flip, count=2, dataset=ds_id).status_code == 200
    answer = preview(member, flip, count=16, dataset=ds_id)
    assert answer.status_code == 422
    (error,) = answer.get_json()["errors"]
    assert (error["layer"], error["field"]) == (None, "count")


def test_an_ordinary_preview_still_answers_its_samples(app):
    member = signed_in(app, "bob", "member")
    answer = preview(member, [{"type": "Resizing", "height": 64, "width": 64}, {"type": "RandomRotation", "factor": 0.1}])
    assert answer.status_code == 200 and len(answer.get_json()["images"]) == 16
