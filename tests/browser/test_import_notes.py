"""A Keras 1 script pasted in the builder: the notes of what changed, each taking the user to its field,
the one-click switch of the Keras it is read as, and a run that trains what was imported."""

import pathlib
import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_builder import card, expect_builds, open_builder

pytestmark = pytest.mark.browser

KERAS1_CNN = (pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "keras_scripts" / "keras1_cnn.py").read_text()


def test_a_keras1_script_imports_with_notes_that_lead_to_their_fields_and_trains(browser_page, live_server, screens):
    page = browser_page
    open_builder(page)
    page.locator("#import-format").select_option("python")
    page.locator("#import-source").fill(KERAS1_CNN)
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("#import-status")).to_contain_text("Imported 9 layers")
    expect_builds(page)
    notes = page.locator("#import-notes-list .note-link")
    expect(page.locator("#import-notes")).to_be_visible()
    expect(notes.filter(has_text="line 40: nb_epoch=3 → epochs=3")).to_have_count(1)
    expect(page.locator("#keras-version button[aria-pressed=true]")).to_have_text("Keras 1.x (detected)")
    # The script loads MNIST, which this server's empty Keras cache lacks: said, and the dataset kept.
    expect(page.locator("#dataset-imported")).to_have_text(
        "The script loads mnist, which is not available here; the dataset stays as chosen.")
    expect(page.locator("#dataset-select")).to_have_value("digits")
    screens("notes")

    # A note names the field it changed: clicking it brings that field into view and focuses it.
    page.get_by_role("button", name="line 33: output_dim=64 → units=64").click()
    units = card(page, 5).locator('[data-field="units"]')
    expect(units).to_have_class(re.compile(r"\bnote-target\b"))
    expect(units.locator("input")).to_be_focused()
    expect(units.locator("input")).to_have_value("64")
    page.get_by_role("button", name=re.compile(r"^line 38: Adagrad\(\) → ")).click()
    rate = page.locator('[data-field="compile.optimizer.learning_rate"]')
    expect(rate).to_have_class(re.compile(r"\bnote-target\b"))
    expect(rate.locator("input")).to_have_value("0.01")   # Keras 1's Adagrad default, not Keras 3's 0.001
    screens("note-clicked")

    # One click reads the script as Keras 3 instead: Keras 3's default learning rate, and back.
    page.locator('#keras-version button[data-version="keras3"]').click()
    expect(page.locator("#keras-version button[aria-pressed=true]")).to_have_text("Keras 3")
    expect(rate.locator("input")).to_have_value("0.001")
    page.locator('#keras-version button[data-version="keras1"]').click()
    expect(rate.locator("input")).to_have_value("0.01")

    page.locator('[data-field="fit.epochs"] input').fill("1")
    expect_builds(page)
    page.locator("#train-button").click()
    page.wait_for_url(re.compile(r"/runs/\d+$"), timeout=30_000)
    run = live_server.wait_run(int(page.url.rsplit("/", 1)[1]), {"completed", "failed"})
    assert run["status"] == "completed", run["error"]
    assert run["spec"]["compile"]["optimizer"] == {**run["spec"]["compile"]["optimizer"], "type": "Adagrad",
                                                   "learning_rate": 0.01}
    assert [layer["type"] for layer in run["spec"]["model"]["layers"]][:2] == ["Conv2D", "Activation"]
    screens("trained")
