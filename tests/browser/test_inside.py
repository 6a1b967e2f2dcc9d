"""The inside view in real Chromium: from a wrong prediction in the confusion matrix to its layers and
Grad-CAM, another class explained; and the run page's weight histograms growing epoch by epoch."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.test_gallery import cell_centre
from tests.integration.test_inside_api import IMDB_FASTTEXT, SMALL_CNN
from tests.keras_cache import write_imdb
from tests.specs import MLP, spec

pytestmark = pytest.mark.browser


def test_a_wrong_prediction_inside_layers_grad_cam_and_another_class(browser_page, screens, live_server):
    page = browser_page
    run_id = live_server.start_run(SMALL_CNN)
    assert live_server.wait_run(run_id, lambda r: r["status"] not in ("queued", "running"))["status"] == "completed"
    matrix = live_server.get(f"/api/runs/{run_id}/confusion").json()["matrix"]
    t, p = max(((t, p) for t in range(10) for p in range(10) if t != p), key=lambda c: matrix[c[0]][c[1]])
    assert matrix[t][p] > 0, "the small CNN made no mistake to open"
    page.goto(f"/runs/{run_id}/gallery")
    expect(page.locator("#confusion-chart")).to_have_attribute("data-state", "ready")
    # The page settled: its first tiles drawn and its head filled in (a click by coordinates misses a moving chart).
    expect(page.locator("#gallery")).to_have_attribute("data-thumbs", "ready")
    page.mouse.click(*cell_centre(page, t, p))
    expect(page.locator("#gallery-count")).to_have_text(f"Showing 1–{matrix[t][p]} of {matrix[t][p]}")
    page.locator("#show-saliency").check()         # "show where the model looked" across the gallery
    thumb = page.locator("#gallery .tile img").first
    expect(thumb).to_have_attribute("src", re.compile(r"/inside/\d+/saliency\.png$"))
    # The first overlay loads the model and traces Grad-CAM in the web process: seconds on a busy machine.
    expect(thumb).to_have_js_property("complete", True, timeout=60_000)
    assert thumb.evaluate("(i) => i.naturalWidth") > 0
    page.locator("#gallery .tile-button").first.click()
    index = page.locator("#detail").get_attribute("data-index")
    page.locator("#detail-inside").click()

    expect(page).to_have_url(re.compile(rf"/runs/{run_id}/inside/{index}$"))
    expect(page.locator("#inside-page")).to_have_attribute("data-state", "ready")
    expect(page.locator("#verdict")).to_have_text(re.compile(rf"^Predicted {p} .*, true {t} ✗$"))
    layers = page.locator("#layers .inside-layer")
    expect(layers).to_have_count(len(SMALL_CNN["model"]["layers"]))
    assert layers.evaluate_all("(ls) => ls.map((l) => l.dataset.kind)") == [
        "maps", "maps", "maps", "identity", "vector", "vector", "probabilities"]
    expect(layers.nth(3)).to_contain_text("identity when Keras predicts")
    conv = layers.nth(1)
    expect(conv.locator("img.channel-page")).to_have_count(1)
    conv.get_by_role("button", name="Show all 40 channels").click()
    expect(conv.locator("img.channel-page")).to_have_count(2)
    for img in (conv.locator("img.channel-page").last, page.locator("#saliency-image"), page.locator("#kernels-image")):
        expect(img).to_have_js_property("complete", True)
        assert img.evaluate("(i) => i.naturalWidth") > 0
    cam = page.locator("#saliency-image")
    expect(cam).to_have_attribute("data-method", "grad-cam")
    expect(cam).to_have_attribute("data-class", str(p))
    expect(page.locator("#saliency-layer")).to_have_value("conv2d_1")
    expect(page.locator("#saliency-note")).to_contain_text(f"Grad-CAM for class {p}")
    screens("inside-predicted")

    # Explain the true class instead: click its row of the class bars.
    chart = page.locator("#class-chart")
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    row = page.locator("#class-chart .bars .point").nth(t).bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.6, row["y"] + row["height"] / 2)
    expect(cam).to_have_attribute("data-class", str(t))
    expect(chart).to_have_attribute("data-chosen", str(t))
    expect(page.locator("#saliency-note")).to_contain_text(f"Grad-CAM for class {t}")
    page.locator("#saliency-layer").select_option("conv2d")
    expect(cam).to_have_attribute("data-layer", "conv2d")
    expect(cam).to_have_attribute("data-class", str(t))
    screens("inside-true-class")


def test_weight_histograms_grow_during_a_run(browser_page, screens, live_server):
    page = browser_page
    fetches = []
    page.on("request", lambda r: fetches.append(r.url) if "/histograms" in r.url else None)
    # Far more epochs than the test watches: the run is still going whatever the machine's speed, and
    # the test stops it (an ended run, stopped or completed, is what loads the last histograms).
    run_id = live_server.start_run(spec(MLP, fit={"epochs": 200, "batch_size": 4, "validation": "test"}))
    page.goto(f"/runs/{run_id}")
    figures = page.locator("#histograms")
    # Epochs end without a request each: the page offers the latest, and loads the last when the run ends.
    latest = page.locator("#histograms-latest")
    expect(latest).to_have_text(re.compile(r"^Show the weights after epoch [1-9]\d*$"), timeout=120_000)
    first = len(fetches)
    assert first <= 1, fetches                   # the first look only (the section on screen)
    latest.click()
    expect(figures).to_have_attribute("data-epochs", re.compile(r"^[1-9]\d*$"))
    assert live_server.run(run_id)["status"] == "running"
    live_server.post(f"/api/runs/{run_id}/stop", expect=202)
    run = live_server.wait_run(run_id, lambda r: r["status"] not in ("queued", "running", "stopping"))
    assert run["status"] == "stopped" and run["epochs_done"] >= 1, run
    done = str(run["epochs_done"])
    expect(figures).to_have_attribute("data-epochs", done, timeout=60_000)
    expect(latest).to_be_hidden()
    # Flatten has no weights; two Dense layers have a kernel and a bias each.
    expect(page.locator("#histograms figure")).to_have_count(4)
    assert page.locator("#histograms .histogram-chart").evaluate_all("(cs) => cs.map((c) => c.dataset.epochs)") == [done] * 4
    expect(page.locator("#histograms figcaption").first).to_have_text("dense/kernel (64, 64)")
    expect(figures).to_have_attribute("data-loads", str(first + 2))   # besides the first look: asked, run ended
    assert len(fetches) == first + 2, fetches
    screens("histograms")


def test_reviews_in_the_gallery_their_words_coloured_inside_and_a_sentence_tried(browser_page, screens, live_server):
    page = browser_page
    write_imdb(Path(live_server.env["KERAS_HOME"]) / "datasets", n_train=300, n_test=100, vocabulary=300)
    run_id = live_server.start_run(IMDB_FASTTEXT)
    assert live_server.wait_run(run_id, lambda r: r["status"] not in ("queued", "running"))["status"] == "completed"
    page.goto(f"/runs/{run_id}/gallery")
    grid = page.locator("#gallery")
    expect(grid).to_have_attribute("data-state", "ready")
    expect(grid).to_have_attribute("data-kind", "sequence")
    cards = grid.locator(".tile .tile-text")
    expect(cards).to_have_count(100)
    expect(grid.locator(".tile img, .tile canvas")).to_have_count(0)   # words, not thumbnails
    assert all(re.search(r"\b(great|awful)\b", text) for text in cards.all_text_contents()[:10])
    screens("gallery of reviews")
    grid.locator(".tile-button").first.click()
    expect(page.locator("#detail-sample .detail-text")).to_contain_text(re.compile(r"\b(great|awful)\b"))
    page.locator("#detail-inside").click()

    expect(page.locator("#inside-page")).to_have_attribute("data-state", "ready")
    tokens = page.locator("#token-view .token")
    expect(tokens.first).to_be_visible()
    words = tokens.evaluate_all("(ts) => ts.map((t) => [t.textContent, Number(t.dataset.attribution), t.style.backgroundColor])")
    top = max(words, key=lambda w: w[1])
    assert top[0] in ("great", "awful") and top[2] == "rgba(30, 160, 70, 0.75)", top   # the planted word, greenest
    assert page.locator("#input-sample .input-text").text_content().split() == [w[0] for w in words]
    screens("words coloured by attribution")

    page.goto(f"/runs/{run_id}/gallery")
    page.locator("#try-text").fill("<b>A</b> great film & w40")
    page.locator("#try-text-predict").click()
    expect(page.locator("#try-answer")).to_have_text(re.compile(r"^Predicted 1 · positive"))
    # [start], b a b film (not in the word index: [oov]), great, w40; the <b> stays text.
    expect(page.locator("#try-tokens .token")).to_have_count(7)
    expect(page.locator("#try-tokens b")).to_have_count(0)
