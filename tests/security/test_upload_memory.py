"""The instance's promise about uploads and memory: nothing is decoded in the web process, and
nothing is decoded at all when the headers say it would pass KD_MAX_DATASET_MB."""

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from tests.conftest import signed_in
from tests.security.conftest import peak_while
from webapp import create_app
from webapp.datasets import folders

MB = 2**20


def zeros_npz(**arrays):
    """Give a compressed .npz of all-zero arrays {name: (shape, dtype)}, written in chunks (never whole here)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, (shape, dtype) in arrays.items():
            dtype = np.dtype(dtype)
            with z.open(f"{name}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array_header_1_0(f, {"descr": np.lib.format.dtype_to_descr(dtype),
                                                         "fortran_order": False, "shape": shape})
                left, chunk = int(np.prod(shape)) * dtype.itemsize, bytes(8 * MB)
                while left:
                    f.write(chunk[:min(left, len(chunk))])
                    left -= min(left, len(chunk))
    out.seek(0)
    return out


def upload(client, file, filename="big.npz", **form):
    """POST a file as the upload form does; give the response."""
    return client.post("/api/datasets", data={"name": "big", "file": (file, filename), **form},
                       content_type="multipart/form-data")


@pytest.fixture
def app(tmp_path):
    """Give an app with the default limits (KD_MAX_DATASET_MB 2000, KD_MAX_UPLOAD_MB 200)."""
    return create_app({"KD_DATA_DIR": str(tmp_path / "data"), "KD_WARM_SPARE": "0", "TESTING": True})


def test_the_reported_npz_of_1e8_one_pixel_images_is_refused_with_the_default_limits(app):
    client = signed_in(app)
    file = zeros_npz(x_train=((10**8, 1, 1), np.uint8), y_train=((10**8,), np.uint8),
                     x_test=((1, 1, 1), np.uint8), y_test=((1,), np.int64))
    assert len(file.getvalue()) < 2 * MB   # the report's file was 191 KB
    r, peak = peak_while(lambda: upload(client, file))
    assert r.status_code == 400, r.get_json()
    assert "KD_MAX_DATASET_MB" in r.get_json()["error"]["message"]
    assert peak < 20 * MB                  # refused from the headers: no array was allocated
    assert client.get("/api/datasets").get_json()["datasets"][-1]["source"] != "upload"
    assert list((app.extensions["kd"].data_dir / "datasets").rglob("*.np*")) == []


def test_an_npz_whose_conversions_pass_the_limit_is_refused_though_its_raw_arrays_fit(tmp_path):
    app = create_app({"KD_DATA_DIR": str(tmp_path / "data"), "KD_WARM_SPARE": "0", "KD_MAX_DATASET_MB": "40"})
    # 9 MB as stored; with the float32 copy of the images and the int64 work on the labels, ~57 MB.
    file = zeros_npz(x_train=((999_000, 1, 1), np.float64), y_train=((999_000,), np.uint8),
                     x_test=((1, 1, 1), np.float64), y_test=((1,), np.uint8))
    r = upload(signed_in(app), file)
    assert r.status_code == 400 and "KD_MAX_DATASET_MB" in r.get_json()["error"]["message"]


def test_a_valid_npz_is_decoded_outside_the_web_process_and_not_kept_in_it(app):
    client = signed_in(app)
    file = io.BytesIO()
    np.savez_compressed(file, x_train=np.zeros((20000, 28, 28), np.uint8), y_train=np.arange(20000) % 2,
                        x_test=np.zeros((100, 28, 28), np.uint8), y_test=np.arange(100) % 2)
    file.seek(0)
    r, peak = peak_while(lambda: upload(client, file))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["dataset"]["train_size"] == 20000
    assert peak < 8 * MB                   # the 16 MB of images were never in this process
    assert app.extensions["kd"].datasets._cache == {}   # noqa: SLF001 - no copy of the last upload stays


def png_bytes(size):
    out = io.BytesIO()
    Image.new("L", size).save(out, format="PNG")
    return out.getvalue()


def test_an_archive_that_would_decode_past_the_limit_is_refused_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "big.zip"
    with zipfile.ZipFile(path, "w") as z:   # 2 × 40 images of 512×512: 20 MB decoded, 40 KB packed
        for cls in ("a", "b"):
            for i in range(40):
                z.writestr(f"set/{cls}/{i}.png", png_bytes((512, 512)))
    monkeypatch.setattr(folders, "pixels", lambda *a: pytest.fail("an image was decoded"))
    opts = folders.Options(image_size=(512, 512))
    with pytest.raises(folders.UploadError, match=r"80 images would decode to 20 MB at 512×512×1.*KD_MAX_DATASET_MB"):
        folders.ingest(path, "zip", opts, {"max_images": 1000, "max_bytes": 10 * MB})
