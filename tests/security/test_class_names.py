"""Class names people see are plain text, as dataset names are: a class folder named with control,
bidi-override or zero-width characters, too long, or a twin of another (NFC/NFD, Cat/cat) fails
its build with an error naming the folder, and leaves nothing behind; an .npz's class_names the same
is refused with a 400 naming the entry."""

import io
import unicodedata
import zipfile

import numpy as np
import pytest
from PIL import Image

from tests.conftest import signed_in
from webapp.datasets import builder, folders


def png():
    """Give the bytes of a 4×4 grey PNG."""
    out = io.BytesIO()
    Image.new("L", (4, 4), 90).save(out, format="PNG")
    return out.getvalue()


def build(services, classes):
    """Build a .zip with two images in each class folder under pets/ (as a spawned builder would); give its row."""
    out, data = io.BytesIO(), png()
    with zipfile.ZipFile(out, "w") as z:
        for name in classes:
            for i in range(2):
                z.writestr(f"pets/{name}/{i}.png", data)
    ds_id = services.datasets.begin("pets", None, {"format": "zip", "archive": "pets.zip", "options":
                                                   folders.Options().to_dict(), "limits": {"max_images": 100,
                                                                                           "max_bytes": 2**20}})
    services.datasets.incoming(ds_id, "zip").write_bytes(out.getvalue())
    builder.build_recorded(services.datasets, ds_id, lambda event: None)
    return services.datasets.info(ds_id)


CAFE = "caf\u00e9"   # NFC: é as one character


@pytest.mark.parametrize("classes, named", [
    (["dog", "bell\x07"], "bell\\x07"),
    (["dog", "photos\u202egnp.exe"], "photos\\u202egnp.exe"),
    (["dog", "zero\u200bwidth"], "zero\\u200bwidth"),
    (["dog", "x" * 10_000], "x" * 60),
    (["dog", "x" * 101], "x" * 101),
    (["dog", CAFE, unicodedata.normalize("NFD", CAFE)], CAFE),
    (["dog", "Cat", "cat"], "cat"),
    (["dog", " cat"], " cat"),
], ids=["control", "bidi override", "zero width", "10,000 characters", "101 characters", "NFC/NFD twins",
        "Cat/cat", "a space in front"])
def test_a_class_folder_not_named_in_plain_text_fails_its_build_naming_the_folder(services, classes, named):
    ds = build(services, classes)
    assert ds["state"] == "failed" and f"pets/{named}" in ds["error"], ds["error"]
    assert not ds["available"]
    assert [p.name for p in (services.data_dir / "datasets").rglob("*") if p.is_file()] == []


def test_class_folders_in_any_script_still_build(services):
    ds = build(services, ["Katze · 猫", "perro", CAFE, "İstanbul"])
    assert ds["state"] == "ready", ds["error"]
    assert ds["class_names"] == sorted(["Katze · 猫", "perro", CAFE, "İstanbul"])


@pytest.mark.parametrize("names", [["dog", "bell\x07"], ["dog", "photos\u202egnp.exe"], ["dog", "zero\u200bwidth"],
                                   ["dog", "x" * 10_000], ["Cat", "cat"], [CAFE, unicodedata.normalize("NFD", CAFE)]],
                         ids=["control", "bidi override", "zero width", "10,000 characters", "Cat/cat", "NFC/NFD twins"])
def test_an_npz_whose_class_names_are_not_plain_text_is_refused_with_400(app, names):
    member = signed_in(app, "bob", "member")
    out = io.BytesIO()
    x, y = np.zeros((4, 6, 6), np.uint8), np.array([0, 1] * 2)
    np.savez(out, x_train=x, y_train=y, x_test=x, y_test=y, class_names=np.array(names))
    answer = member.post("/api/datasets", data={"name": "pets", "file": (io.BytesIO(out.getvalue()), "p.npz")},
                         content_type="multipart/form-data")
    assert answer.status_code == 400
    assert answer.get_json()["error"]["message"].startswith("class_names[1]:")
    assert all(d["source"] != "upload" for d in member.get("/api/datasets").get_json()["datasets"])
