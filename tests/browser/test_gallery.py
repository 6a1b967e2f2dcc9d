"""The gallery in real Chromium: filter the wrong ones, click a confusion cell, open an image, try your own."""

import base64
import io
import re

import numpy as np
import pytest
import requests
from PIL import Image
from playwright.sync_api import expect

from tests.integration.test_predictions_api import digits_test_split
from tests.specs import MLP, spec

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def finished_run(live_server):
    """Give the id of an MLP run on the digits that completed 2 epochs."""
    run_id = live_server.start_run(spec(MLP, fit={"epochs": 2, "batch_size": 64}))
    assert live_server.wait_run(run_id, lambda r: r["status"] not in ("queued", "running"))["status"] == "completed"
    return run_id


def cell_centre(page, true_class, predicted):
    """Give the page coordinates of a confusion-matrix cell, from Plotly's own axes."""
    return page.evaluate("""([t, p]) => {
        const gd = document.getElementById("confusion-chart");
        const box = gd.getBoundingClientRect(), full = gd._fullLayout;
        return [box.left + full.xaxis._offset + full.xaxis.d2p(p), box.top + full.yaxis._offset + full.yaxis.d2p(t)];
    }""", [true_class, predicted])


def tile_values(page, name):
    """Give a data-* value of every tile shown."""
    return page.locator("#gallery .tile").evaluate_all(f"(tiles) => tiles.map((t) => t.dataset.{name})")


def image_requests(page):
    """Give the list (filled as the page goes) of the image URLs the page requests, and the API's JSON calls."""
    seen = []
    page.on("request", lambda r: seen.append(r.url) if r.resource_type == "image" or "/api/" in r.url else None)
    return seen


def thumbnails_of(seen):
    """Give the requests among `seen` that fetch gallery thumbnails: sprites and single test images."""
    return [u for u in seen if "/sprite.png" in u or "/images/test/" in u]


def tile_pixels(page, k):
    """Give the grey levels tile k's canvas shows, read back from the canvas itself."""
    url = page.locator("#gallery .tile canvas").nth(k).evaluate("(c) => c.toDataURL('image/png')")
    rgba = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGBA"))
    assert (rgba[..., 3] == 255).all() and (rgba[..., 0] == rgba[..., 1]).all()
    return rgba[..., 0]


def test_filter_wrong_click_a_confusion_cell_and_open_an_image(browser_page, screens, live_server, finished_run):
    page, run_id = browser_page, finished_run
    api = f"{live_server}/api/runs/{run_id}"
    seen = image_requests(page)
    page.goto(f"/runs/{run_id}/gallery")
    expect(page.locator("#gallery")).to_have_attribute("data-state", "ready")
    expect(page.locator("#gallery-count")).to_have_text("Showing 1–100 of 360")
    expect(page.locator("#gallery .tile")).to_have_count(100)
    # The page's 100 thumbnails come in one request: the sprite; each tile shows its own cell of it.
    expect(page.locator("#gallery")).to_have_attribute("data-thumbs", "ready")
    assert len(thumbnails_of(seen)) == 1 and "/predictions/sprite.png?" in thumbnails_of(seen)[0], seen
    for k in (0, 13, 99):
        index = int(tile_values(page, "index")[k])
        single = requests.get(f"{live_server}/api/datasets/digits/images/test/{index}.png?scale=9",
                              headers=live_server.headers(), timeout=30)
        assert np.array_equal(tile_pixels(page, k), np.asarray(Image.open(io.BytesIO(single.content)))), k
    expect(page.locator("#confusion-chart")).to_have_attribute("data-state", "ready")
    screens("all")

    wrong = requests.get(f"{api}/predictions?filter=wrong&limit=1000", headers=live_server.headers(), timeout=30).json()
    page.get_by_role("button", name=re.compile(r"^Wrong")).click()
    expect(page.locator("#gallery-count")).to_have_text(f"Showing 1–{min(100, wrong['total'])} of {wrong['total']}")
    assert set(tile_values(page, "correct")) == {"false"}
    assert [int(i) for i in tile_values(page, "index")] == [i["index"] for i in wrong["items"][:100]]
    assert "filter=wrong" in page.url
    expect(page.locator("#gallery")).to_have_attribute("data-thumbs", "ready")
    assert len(thumbnails_of(seen)) == 2 and "filter=wrong" in thumbnails_of(seen)[1]   # a filter: one more
    screens("wrong")

    matrix = requests.get(f"{api}/confusion", headers=live_server.headers(), timeout=30).json()["matrix"]
    t, p = max(((t, p) for t in range(10) for p in range(10) if t != p), key=lambda c: matrix[c[0]][c[1]])
    assert matrix[t][p] > 0
    page.mouse.click(*cell_centre(page, t, p))
    expect(page.locator("#filter-true")).to_have_value(str(t))
    expect(page.locator("#filter-pred")).to_have_value(str(p))
    expect(page.locator("#gallery-count")).to_have_text(f"Showing 1–{matrix[t][p]} of {matrix[t][p]}")
    assert set(tile_values(page, "true")) == {str(t)} and set(tile_values(page, "predicted")) == {str(p)}
    screens("confusion-cell")

    page.locator("#gallery .tile-button").first.click()
    expect(page.locator("#detail")).to_be_visible()
    expect(page.locator("#detail-chart")).to_have_attribute("data-bars", "5")
    expect(page.locator("#detail-true")).to_have_text(str(t))
    expect(page.locator("#detail-predicted")).to_have_text(str(p))
    expect(page.locator("#detail-verdict")).to_have_text("✗ Wrong")
    expect(page.locator("#detail-chart .bars .point")).to_have_count(5)
    screens("image-detail")
    page.locator("#detail-close").click()
    expect(page.locator("#detail")).to_be_hidden()


def test_predict_an_uploaded_photo(browser_page, screens, live_server, finished_run, tmp_path):
    page, api = browser_page, f"{live_server}/api/runs/{finished_run}"
    page.goto(f"/runs/{finished_run}/gallery")
    # A test digit as a user photographs it: dark ink on white paper.
    x_test, _ = digits_test_split()
    photo = tmp_path / "my-digit.png"
    Image.fromarray((255 - x_test[5] / 16.0 * 255).astype(np.uint8)).resize((120, 120), Image.Resampling.NEAREST).save(photo)
    answer = requests.post(f"{api}/predict", files={"image": ("my-digit.png", photo.read_bytes(), "image/png")},
                           headers=live_server.headers(), timeout=60).json()
    page.locator("#try-file").set_input_files(str(photo))
    expect(page.locator("#try-answer")).to_have_text(f"Predicted {answer['predicted']} ({100 * answer['confidence']:.1f}%)")
    expect(page.locator("#try-chart")).to_have_attribute("data-bars", "5")
    expect(page.locator("#try-seen")).to_have_attribute("src", answer["input_image"])
    screens("uploaded")


def test_draw_a_digit_on_the_canvas(browser_page, screens, finished_run):
    page = browser_page
    page.goto(f"/runs/{finished_run}/gallery")
    canvas = page.locator("#try-canvas")
    canvas.scroll_into_view_if_needed()
    expect(canvas).to_be_visible()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.15)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * (0.15 + 0.07 * step))
    page.mouse.up()
    expect(canvas).to_have_attribute("data-strokes", "1")
    expect(page.locator("#try-answer")).to_have_text(re.compile(r"^Predicted \d \(\d+\.\d%\)$"))
    expect(page.locator("#try-seen")).to_have_attribute("src", re.compile("^data:image/png;base64,"))
    screens("drawn")
    page.locator("#canvas-clear").click()
    expect(canvas).to_have_attribute("data-strokes", "0")
    expect(page.locator("#canvas-predict")).to_be_disabled()


def test_a_running_run_shows_each_epochs_sample_then_the_whole_test_split(browser_page, screens, live_server,
                                                                          finished_run):
    page = browser_page
    run_id = live_server.start_run(spec(MLP, fit={"epochs": 50, "batch_size": 8, "validation": "test"}))
    try:
        live_server.wait_run(run_id, lambda r: r["status"] == "running")
        page.goto(f"/runs/{run_id}/gallery")
        expect(page.locator('[data-source="epoch"]')).to_have_attribute("aria-pressed", "true")
        expect(page.locator("#gallery-about")).to_contain_text(re.compile(r"After epoch ([2-9]|\d\d+):"), timeout=120_000)
        expect(page.locator("#gallery .tile")).to_have_count(100)
        expect(page.locator("#gallery-count")).to_have_text("Showing 1–100 of 100")
        # Every tile marked as changed says what it was, and that differs from what it is now.
        tiles = page.locator("#gallery .tile").evaluate_all("""(tiles) => tiles.map((t) => [t.dataset.changed,
            t.dataset.predicted, (t.querySelector('.tile-changed') || {}).textContent || null])""")
        for changed, predicted, was in tiles:
            assert (was is not None) == (changed == "true")
            assert was is None or was != f"was {predicted}"
        screens("epoch-sample")
    finally:
        requests.post(f"{live_server}/api/runs/{run_id}/stop", headers=live_server.headers(), timeout=30)
    expect(page.locator("#run-status")).to_have_text("Stopped", timeout=60_000)
    expect(page.locator('[data-source="final"]')).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#gallery-count")).to_have_text("Showing 1–100 of 360")
    expect(page.locator("#confusion-chart")).to_have_attribute("data-state", "ready")
    screens("stopped")
