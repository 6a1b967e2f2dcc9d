"""What one folder archive may cost the builder: its listing is linear in its members' paths (a
path deeper than 32 folders or longer than 1024 characters is refused, naming the member), and a
build takes at most KD_MAX_BUILD_S, so one upload cannot hold the builder from everyone else's."""

import gzip
import io
import tarfile
import threading
import time
import zipfile

import pytest
from PIL import Image

from tests.conftest import signed_in
from webapp import create_app
from webapp.datasets import archive, builder, folders


def png():
    """Give the bytes of a 4×4 grey PNG."""
    out = io.BytesIO()
    Image.new("L", (4, 4), 90).save(out, format="PNG")
    return out.getvalue()


def zip_of(paths):
    """Give a .zip holding a small PNG at each path."""
    out, data = io.BytesIO(), png()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for path in paths:
            z.writestr(path, data)
    return out.getvalue()


def six_images(top=""):
    """Give the paths of an ordinary archive: cat/ and dog/, three images each, below `top`."""
    return [f"{top}{c}/{i}.png" for c in ("cat", "dog") for i in range(3)]


DEEP = "w/" * 5000   # the reported chain: 121 KB zipped, 169 s of CPU to list


@pytest.mark.parametrize("prefix", [DEEP, "w/" * 33, "w/" * 10 + "x" * 1000 + "/"],
                         ids=["5000 levels", "33 levels", "a 1030-character path"])
def test_an_over_deep_or_over_long_member_path_is_refused_quickly(tmp_path, prefix):
    path = tmp_path / "deep.zip"
    path.write_bytes(zip_of(six_images(prefix)))
    started = time.process_time()
    with pytest.raises(folders.UploadError) as refused:
        archive.list_archive(path, "zip", 100, 2**30)
    assert time.process_time() - started < 2   # the chain was cubic: 1000 levels took 1 s, 5000 took minutes
    assert prefix[:60] in str(refused.value)   # the member is named


def test_a_deep_chain_fails_its_build_naming_the_member_and_leaves_nothing(services):
    ds_id = services.datasets.begin("deep", None, {"format": "zip", "archive": "deep.zip", "options":
                                                   folders.Options().to_dict(), "limits": {"max_images": 100,
                                                                                           "max_bytes": 2**30}})
    services.datasets.incoming(ds_id, "zip").write_bytes(zip_of(six_images(DEEP)))
    started = time.process_time()
    builder.build_recorded(services.datasets, ds_id, lambda event: None)
    assert time.process_time() - started < 2
    ds = services.datasets.info(ds_id)
    assert ds["state"] == "failed" and DEEP[:60] in ds["error"]
    assert [p.name for p in (services.data_dir / "datasets").rglob("*") if p.is_file()] == []


def test_a_wrapped_archive_31_folders_deep_still_builds(tmp_path):
    path = tmp_path / "wrapped.zip"
    path.write_bytes(zip_of(six_images("w/" * 30)))   # 30 wrapping folders, the class, the image: 32 parts
    listing = archive.list_archive(path, "zip", 100, 2**30)
    assert listing.class_names == ["cat", "dog"] and len(listing.paths) == 6


def slow_tar_gz(zeros_mb):
    """Give a small .tar.gz of six images then a file of `zeros_mb` MB of zeros, which takes seconds to read past.

    The gzip stream is made of members (as gzip allows): one of the tar's head, then the same
    compressed 16 MB of zeros again and again, so making it here takes no time.
    """
    head, data = io.BytesIO(), png()
    with tarfile.open(fileobj=head, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for path in six_images():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("padding.bin")
        info.size = zeros_mb * 2**20
        tar.addfile(info)   # its header only: the zeros follow, and then the tar's end, zeros too
        prefix = head.getvalue()[:tar.offset]
    zeros = gzip.compress(bytes(16 * 2**20), compresslevel=9)   # 16 KB
    return gzip.compress(prefix) + zeros * (zeros_mb // 16) + gzip.compress(bytes(10240))


SLOW_MB = 6000   # 6 MB to upload, read three times through gzip: 10 s of CPU and more


@pytest.fixture
def quick_builds(tmp_path):
    """Give an app whose builds may take 3 s (and declare up to 8 GB)."""
    return create_app({"KD_DATA_DIR": str(tmp_path / "data"), "KD_WARM_SPARE": "0", "TESTING": True,
                       "KD_MAX_BUILD_S": "3", "KD_MAX_DATASET_MB": "8000"})


def post(client, data, filename):
    """Upload an archive; give the new dataset's id (202, building)."""
    answer = client.post("/api/datasets", data={"name": "pets", "file": (io.BytesIO(data), filename)},
                         content_type="multipart/form-data")
    assert answer.status_code == 202, answer.get_json()
    return answer.get_json()["dataset"]["id"]


def test_a_build_past_KD_MAX_BUILD_S_fails_and_the_next_upload_still_builds(quick_builds):
    eve, bob = signed_in(quick_builds, "eve", "member"), signed_in(quick_builds, "bob", "member")
    started = time.monotonic()
    slow = post(eve, slow_tar_gz(SLOW_MB), "slow.tar.gz")
    small = post(bob, zip_of(six_images()), "pets.zip")   # waits for the one builder
    for thread in threading.enumerate():
        if thread.name == "kd-build-relay":
            thread.join(timeout=120)
    waited = time.monotonic() - started
    slow, small = (eve.get(f"/api/datasets/{ds_id}").get_json()["dataset"] for ds_id in (slow, small))
    assert slow["state"] == "failed" and "KD_MAX_BUILD_S" in slow["error"]
    assert small["state"] == "ready" and small["train_counts"] == [2, 2]
    assert waited < 30
    assert [p.name for p in (quick_builds.extensions["kd"].data_dir / "datasets" / "incoming").iterdir()] == []


def test_a_build_on_an_rq_worker_past_its_job_timeout_fails_saying_so(services):
    """RQ's work-horse raises JobTimeoutException in the job when its timeout (KD_MAX_BUILD_S) passes."""
    from rq.timeouts import JobTimeoutException, UnixSignalDeathPenalty

    ds_id = services.datasets.begin("slow", None, {"format": "tar", "archive": "slow.tar.gz", "options":
                                                   folders.Options().to_dict(), "limits": {
                                                       "max_images": 100, "max_bytes": 8000 * 2**20,
                                                       "max_build_s": 1}})
    services.datasets.incoming(ds_id, "tar").write_bytes(slow_tar_gz(SLOW_MB))
    started = time.monotonic()
    with UnixSignalDeathPenalty(1, JobTimeoutException, job_id="kd-dataset-slow"):   # as RQ's worker calls a job
        builder.build_recorded(services.datasets, ds_id, lambda event: None, (JobTimeoutException,))
    assert time.monotonic() - started < 10
    ds = services.datasets.info(ds_id)
    assert ds["state"] == "failed" and "KD_MAX_BUILD_S" in ds["error"]
    assert [p.name for p in (services.data_dir / "datasets").rglob("*") if p.is_file()] == []
