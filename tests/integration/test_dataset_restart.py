"""A build its server left behind: failed at the next start once its builder is gone, left alone while it lives."""

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import signed_in
from tests.integration.test_folder_datasets import image, make_zip
from webapp import create_app

ROOT = Path(__file__).resolve().parents[2]
RESTARTED = "The server restarted while this dataset was being built; upload the archive again."

# The old server: an app on the data dir that answers one archive upload with its test client,
# then waits to be killed. Its builder is the stand-in given as argv[1].
OLD_SERVER = """
import os, sys, time
from webapp import create_app
from webapp.team import accounts
from webapp.datasets import builds
builds.sys.executable = sys.argv[1]
app = create_app({"KD_WARM_SPARE": "0", "TESTING": True})
store = app.extensions["kd"].store
user = accounts.create_user(store, "admin", "admin", "password-of-admin")
client = app.test_client()
client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + accounts.new_api_token(store, user.id)
with open(sys.argv[2], "rb") as f:
    r = client.post("/api/datasets", data={"name": "pets", "file": (f, "pets.zip")}, content_type="multipart/form-data")
os.write(1, f"answered {r.status_code} {r.get_json()['dataset']['id']}\\n".encode())  # one write (the builder prints)
time.sleep(600)
"""

# Stands in for `python -P -m webapp.datasets.builder FD SETTINGS ID ORDER` (it inherits the pipe and
# the lock): it half-writes the arrays as a builder killed while saving would leave them, then works on.
BUILDER = """#!/bin/sh
: > "$KD_DATA_DIR/datasets/.$6.half.tmp"
echo builder $$
exec sleep 600
"""


def read_lines(fd, words, timeout=60):
    """Give {first word: rest} of the lines printed to the pipe `fd` until each of `words` began one."""
    seen, text, deadline = {}, "", time.monotonic() + timeout
    while set(words) - set(seen):
        ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
        chunk = os.read(fd, 4096) if ready else b""   # unbuffered: select sees whatever is not read yet
        assert chunk, f"the old server printed {seen} and then nothing more (ended, or silent for {timeout} s)"
        *lines, text = (text + chunk.decode()).split("\n")
        seen.update(line.partition(" ")[::2] for line in lines)
    return seen


@pytest.fixture
def mid_build(tmp_path):
    """Give (data dir, dataset id, old server Popen, pidfd of its builder) while an archive is being built."""
    data_dir, zip_path, stand_in = tmp_path / "data", tmp_path / "pets.zip", tmp_path / "builder.sh"
    zip_path.write_bytes(make_zip({f"{c}/{i}.png": image((4, 4)) for c in "ab" for i in range(3)}))
    stand_in.write_text(BUILDER)
    stand_in.chmod(0o755)
    server = subprocess.Popen([sys.executable, "-c", OLD_SERVER, str(stand_in), str(zip_path)], cwd=ROOT,
                              env={**os.environ, "KD_DATA_DIR": str(data_dir)}, stdout=subprocess.PIPE,
                              start_new_session=True)   # its own process group: the server and its builder
    builder = None
    try:
        seen = read_lines(server.stdout.fileno(), ("answered", "builder"))
        builder = os.pidfd_open(int(seen["builder"]))   # signals through it never reach a reused pid
        status, ds_id = seen["answered"].split()
        assert status == "202"
        yield data_dir, ds_id, server, builder
    finally:
        server.kill()
        server.wait()
        server.stdout.close()
        if builder is not None:
            with contextlib.suppress(ProcessLookupError):   # already gone
                signal.pidfd_send_signal(builder, signal.SIGKILL)
            os.close(builder)


def files(data_dir):
    """Give the names of the files under the uploads folder."""
    return sorted(p.name for p in (data_dir / "datasets").rglob("*") if p.is_file())


def start_again(data_dir):
    """Start a new app on the data dir as the next server; give a signed-in client (its first request begins it)."""
    return signed_in(create_app({"KD_DATA_DIR": str(data_dir), "KD_WARM_SPARE": "0", "TESTING": True}))


def test_a_build_is_left_to_its_living_builder_then_failed_at_the_next_start_once_it_is_gone(mid_build):
    """One old server for both cases (it costs seconds to start): the same row, left alone, then failed."""
    data_dir, ds_id, server, builder = mid_build
    server.kill()   # the server alone: its builder goes on, and would write its row itself
    server.wait()
    ds = start_again(data_dir).get(f"/api/datasets/{ds_id}").get_json()["dataset"]
    assert ds["state"] == "building" and ds["error"] is None
    assert files(data_dir) == [f".{ds_id}.half.tmp", f"{ds_id}.lock", f"{ds_id}.zip"]

    signal.pidfd_send_signal(builder, signal.SIGKILL)   # now the builder dies too (OOM killer, reboot)
    assert select.select([builder], [], [], 60)[0], "the builder did not end within 60 s of SIGKILL"
    ds = start_again(data_dir).get(f"/api/datasets/{ds_id}").get_json()["dataset"]
    assert (ds["state"], ds["error"], ds["available"]) == ("failed", RESTARTED, False)
    assert ds["provenance"]["archive"] == "pets.zip" and ds["progress"] is None
    assert files(data_dir) == []
