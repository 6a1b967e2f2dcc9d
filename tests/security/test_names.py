"""Names people see are plain text: a dataset name with control characters or a bidi override
(U+202E turns "gnp.exe" around) is refused with a 400 naming the field."""

import io

import numpy as np
import pytest

from tests.conftest import signed_in


def tiny_npz():
    """Give a small valid .npz upload (8 6×6 images per split, 2 classes)."""
    out = io.BytesIO()
    x, y = np.zeros((8, 6, 6), np.uint8), np.array([0, 1] * 4)
    np.savez(out, x_train=x, y_train=y, x_test=x, y_test=y)
    out.seek(0)
    return out


@pytest.mark.parametrize("name", ["photos\u202egnp.exe", "bell\x07", "two\nlines", "zero\u200bwidth"])
def test_a_dataset_name_with_control_or_bidi_characters_is_refused(app, name):
    member = signed_in(app, "bob", "member")
    answer = member.post("/api/datasets", data={"name": name, "file": (tiny_npz(), "d.npz")},
                         content_type="multipart/form-data")
    assert answer.status_code == 400
    assert answer.get_json()["error"]["message"].startswith("name:")
    assert member.get("/api/datasets").get_json()["datasets"][-1]["source"] != "upload"


def test_a_plain_dataset_name_in_any_script_is_kept(app):
    member = signed_in(app, "bob", "member")
    answer = member.post("/api/datasets", data={"name": "Ziffern · 数字 ✓", "file": (tiny_npz(), "d.npz")},
                         content_type="multipart/form-data")
    assert answer.status_code == 201 and answer.get_json()["dataset"]["name"] == "Ziffern · 数字 ✓"
