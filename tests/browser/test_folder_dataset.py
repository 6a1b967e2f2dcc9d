"""A folder archive in real Chromium: upload it, watch its build, read its page, preview and train with augmentation."""

import contextlib
import io
import os
import re
import signal
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.browser.test_runs_page import RUN_WAIT_MS

pytestmark = pytest.mark.browser
N = 8000   # tiny images, but enough that decoding them takes a moment to watch


def class_folders(path, n=N):
    """Write a .zip of 8×8 RGB PNGs in shapes/<class>/: "dark" noise and "light" noise, half each."""
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(path, "w") as z:
        for i in range(n):
            light = i % 2
            pixels = rng.integers(128 * light, 128 + 127 * light, (8, 8, 3), dtype=np.uint8)
            out = io.BytesIO()
            Image.fromarray(pixels).save(out, format="PNG")
            z.writestr(f"shapes/{'light' if light else 'dark'}/{i}.png", out.getvalue())
    return path


# Every text the build's status line shows, kept across the page's reload: the whole decode of these
# tiny images can take a third of a second, shorter than expect()'s polling steps.
RECORD_STATUS = """
new MutationObserver(() => {
  const status = document.getElementById("build-status");
  if (status) sessionStorage.setItem("kd-build-texts", (sessionStorage.getItem("kd-build-texts") || "")
                                                         + status.textContent + "\\n");
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


@contextlib.contextmanager
def builder_held_until_watched(page, server):
    """Pause the build's process (`python -m webapp.datasets.builder`) as soon as it appears, until the
    page has subscribed to the build (its section aria-busy): on a busy machine the page can load after
    a whole build, and then it rightly shows no progress at all."""
    watched, held = threading.Event(), set()

    def hold():
        """SIGSTOP every builder process of the server until the page watches (then SIGCONT them)."""
        while not watched.is_set():
            for pid in set(server.group()) - held:
                try:
                    if b"webapp.datasets.builder" in Path(f"/proc/{pid}/cmdline").read_bytes():
                        os.kill(pid, signal.SIGSTOP)
                        held.add(pid)
                except OSError:
                    pass
            time.sleep(0.005)
        for pid in held:
            os.kill(pid, signal.SIGCONT)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    try:
        yield
        expect(page.locator("#ds-building")).to_have_attribute("aria-busy", "true", timeout=60_000)
    finally:
        watched.set()
        thread.join()


def test_upload_a_folder_archive_watch_it_build_preview_augmentation_and_train(browser_page, live_server, tmp_path,
                                                                             screens):
    page = browser_page
    page.add_init_script(RECORD_STATUS)
    page.goto("/datasets")
    page.locator("#upload-name").fill("Light or dark")
    page.locator("#upload-file").set_input_files(str(class_folders(tmp_path / "shapes.zip")))
    with builder_held_until_watched(page, live_server):
        with page.expect_response(re.compile(r"/api/datasets$")) as answer:
            page.get_by_role("button", name="Upload", exact=True).click()
        assert answer.value.status == 202
        page.wait_for_url(re.compile(r"/datasets/[^/]+$"))
    ds_id = page.url.rsplit("/", 1)[1]

    # The build's progress bar counts the images, then the page reloads with the ready dataset.
    expect(page.locator(".ds-counts tbody tr")).to_have_count(2, timeout=RUN_WAIT_MS)
    shown = page.evaluate("sessionStorage.getItem('kd-build-texts')").splitlines()
    assert any(re.match(rf"^\d+ / {N} images decoded", text) for text in shown), shown
    expect(page.locator("#ds-archive")).to_contain_text("shapes.zip")
    expect(page.locator("#ds-uploader")).to_contain_text("bob")
    expect(page.locator(".ds-counts tbody tr").first).to_contain_text("dark")
    expect(page.locator(".ds-counts tbody tr").first.locator("td").nth(1)).to_have_text(str(N // 2 * 4 // 5))
    expect(page.locator(".ds-counts img.ds-mean")).to_have_count(2)
    expect(page.locator("#ds-histogram svg rect")).to_have_count(32 * 3)

    # Fresh augmented samples of one image on each click (Keras runs them on the server).
    page.locator("#augment-button").click()
    grid = page.locator("#augment-grid img")
    expect(grid).to_have_count(8, timeout=RUN_WAIT_MS)
    first = grid.first.get_attribute("src")
    page.locator("#augment-button").click()
    expect(grid.first).not_to_have_attribute("src", first, timeout=RUN_WAIT_MS)
    screens("ready")

    # The builder: the Small MLP on this dataset, the augmentation block in front, one epoch.
    page.goto("/")
    page.locator("#dataset-select").select_option(ds_id)
    page.get_by_role("button", name="Small MLP", exact=True).click()
    page.get_by_role("button", name="Add augmentation", exact=True).click()
    expect(page.locator("#layer-list > li").first).to_contain_text("RandomFlip")
    page.locator('[data-field="fit.epochs"] input').fill("1")
    expect(page.locator("#check-status")).to_have_text("✓ builds")
    screens("builder")
    page.locator("#train-button").click()
    page.wait_for_url(re.compile(r"/runs/\d+$"), timeout=30_000)
    run = live_server.wait_run(int(page.url.rsplit("/", 1)[1]), lambda r: r["status"] not in ("queued", "running"))
    assert run["status"] == "completed", run["error"]
    assert [layer["type"] for layer in run["spec"]["model"]["layers"]][:3] == ["RandomFlip", "RandomRotation",
                                                                               "RandomZoom"]
    assert run["dataset"] == ds_id and len(run["history"]["accuracy"]) == 1
