"""Hostile names in real Chromium: run, dataset, class and layer-ish texts that look like HTML are
shown as text on every page, and nothing in them runs.

The CSP would stop an injected script from running anyway, so the tests also check that no element
was made from a payload (no <img src=x>, no extra <script>), and that the payload reads as text.
"""

import re

import numpy as np
import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import Screens, watch_dialogs

pytestmark = pytest.mark.browser

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = '"><script>alert(1)</script>'
CLASS_NAMES = [IMG, "b&amp;c", "plain"]


def expect_nothing_injected(page):
    """Check that no element was made from a payload: no <img src=x>, no script but the page's own."""
    expect(page.locator('img[src="x"]')).to_have_count(0)
    extra = page.locator("script").evaluate_all(
        "(all) => all.filter((s) => !s.src && s.type !== 'application/json').map((s) => s.outerHTML)")
    assert extra == [], extra


def hostile_npz(path):
    """Write a small .npz (6x6 images, 3 classes, one bright column per class) with hostile class names."""
    def images(labels):
        x = np.zeros((len(labels), 6, 6), dtype=np.uint8)
        for i, label in enumerate(labels):
            x[i, :, 1 + 2 * label] = 255
            x[i, i % 6, :] = 100
        return x

    y_train, y_test = [0, 1, 2] * 8, [0, 1, 2] * 3
    np.savez(path, x_train=images(y_train), y_train=np.array(y_train), x_test=images(y_test),
             y_test=np.array(y_test), class_names=np.array(CLASS_NAMES))
    return path


def test_hostile_names_are_text_on_every_page(open_page, live_server, tmp_path, request):
    page = open_page("bob")
    dialogs = watch_dialogs(page)
    screens = Screens(page, request.node.name)

    # A dataset named like markup, with a class named like markup, uploaded through its page.
    dataset_name = f"{SCRIPT} set"
    page.goto("/datasets")
    page.locator("#upload-name").fill(dataset_name)
    page.locator("#upload-file").set_input_files(str(hostile_npz(tmp_path / "hostile.npz")))
    page.get_by_role("button", name="Upload", exact=True).click()
    page.wait_for_url(re.compile(r"/datasets/[^/]+$"))
    ds_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("h1")).to_have_text(dataset_name)
    expect(page.locator(".ds-counts tbody tr").first.locator("td").first).to_have_text(f"0 · {IMG}")
    expect_nothing_injected(page)
    screens("dataset-page")
    page.goto("/datasets")
    expect(page.locator(f'#datasets-table tr[data-id="{ds_id}"] a')).to_have_text(dataset_name)
    expect_nothing_injected(page)

    # A run named like markup in the builder's name field; the dataset's name in its select.
    page.goto("/")
    expect(page.locator("#check-status")).to_have_text("✓ builds")
    expect(page.locator(f'#dataset-select option[value="{ds_id}"]')).to_contain_text(dataset_name)
    page.locator("#dataset-select").select_option("digits")
    page.get_by_role("button", name="Small MLP", exact=True).click()
    page.locator("#model-name").fill(IMG)
    page.locator('[data-field="fit.epochs"] input').fill("1")
    expect(page.locator("#check-status")).to_have_text("✓ builds")
    # A pasted script whose layer argument is markup: the refusal quotes it, as text.
    page.locator("#import-format").select_option("python")
    page.locator("#import-source").fill(
        f"model = keras.Sequential([layers.Flatten(), layers.Dense(10, activation='{IMG}')])")
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("#import-messages li.error")).to_contain_text(f"got '{IMG}'")
    expect_nothing_injected(page)
    screens("builder")
    page.locator("#train-button").click()
    page.wait_for_url(re.compile(r"/runs/\d+$"), timeout=30_000)
    first = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("#run-name")).to_have_text(IMG)
    expect(page).to_have_title(re.compile(re.escape(IMG)))
    assert live_server.wait_run(first, {"completed", "failed", "stopped"})["status"] == "completed"

    # A second run, on the hostile dataset, named with the other payload; renamed on its page.
    body = {"name": SCRIPT, "dataset": ds_id, "model": {"layers": [{"type": "Flatten"},
            {"type": "Dense", "units": 3, "activation": "softmax"}]},
            "compile": {"optimizer": {"type": "Adam"}, "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
            "fit": {"epochs": 2, "batch_size": 8, "validation": "test"}}
    answer = requests.post(f"{live_server}/api/runs", json=body, headers=live_server.headers(), timeout=60)
    assert answer.status_code == 201, answer.text
    second = answer.json()["run"]["id"]
    assert live_server.wait_run(second, {"completed", "failed", "stopped"})["status"] == "completed"

    page.goto("/runs")
    for run_id, name in ((first, IMG), (second, SCRIPT)):
        expect(page.locator(f'#runs-body tr[data-run-id="{run_id}"] .run-name a')).to_have_text(name)
    page.locator("#filter-q").fill("<script>")
    expect(page.locator("#runs-body tr")).to_have_count(1)
    expect(page.locator("#runs-body .run-name a")).to_have_text(SCRIPT)
    expect_nothing_injected(page)
    screens("runs-list")

    page.goto(f"/runs/{second}")
    expect(page.locator("#run-name")).to_have_text(SCRIPT)
    expect(page.locator("#run-dataset")).to_have_text(ds_id)
    renamed = f"{IMG} renamed"
    page.locator("#rename-button").click()
    page.locator("#rename-input").fill(renamed)
    page.locator("#rename-save").click()
    expect(page.locator("#run-name")).to_have_text(renamed)
    expect(page.locator("#who-did-what")).to_contain_text(f"bob renamed it to “{renamed}”")
    expect_nothing_injected(page)
    screens("run-page")
    page.reload()
    expect(page.locator("#run-name")).to_have_text(renamed)

    page.goto(f"/runs/{second}/gallery")
    expect(page.locator("#gallery-title")).to_have_text(f"Predictions · {renamed}")
    expect(page.locator("#gallery")).to_have_attribute("data-state", "ready")
    expect(page.locator("#filter-true option").nth(1)).to_have_text(f"0 · {IMG}")
    expect(page.locator("#filter-true option").nth(2)).to_have_text("1 · b&amp;c")
    expect_nothing_injected(page)
    screens("gallery")

    page.goto(f"/compare?runs={first},{second}")
    expect(page.locator("#compare-charts")).to_have_attribute("data-state", "ready")
    labels = [f"#{first} {IMG}", f"#{second} {renamed}"]
    assert page.locator('.chart[data-metric="loss"] .legendtext').all_text_contents() == labels
    expect(page.locator("#spec-diff thead th").nth(1)).to_have_text(labels[0])
    expect(page.locator("#spec-diff thead th").nth(2)).to_have_text(labels[1])
    expect(page.locator('#spec-diff tr[data-path="dataset"] td')).to_have_text(["digits", ds_id])
    expect(page.locator(f'#compare-runs li[data-run-id="{second}"] .compare-run-name')).to_have_text(labels[1])
    expect_nothing_injected(page)
    screens("compare")

    admin = open_page("ada")
    admin_dialogs = watch_dialogs(admin)
    admin.goto("/admin")
    rename = admin.locator('#actions-body tr[data-action="run.rename"]').first
    expect(rename.locator(".action-text")).to_have_text(f"renamed it to “{renamed}”")
    expect(rename.locator(".run-name a")).to_have_text(f"#{second} {renamed}")
    expect_nothing_injected(admin)
    Screens(admin, request.node.name + "-admin")("admin-actions")
    assert dialogs == [] and admin_dialogs == [], (dialogs, admin_dialogs)
