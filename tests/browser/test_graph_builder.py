"""The builder's graph in real Chromium: a residual block made from the convnet preset by branching and
merging, its drawing and shapes updating, and the model trained."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_builder import card, choose_preset, field, import_python, open_builder, summary_rows

pytestmark = pytest.mark.browser


def test_branch_and_merge_the_convnet_into_a_residual_block_and_train_it(browser_page, screens, live_server):
    page = browser_page
    open_builder(page)
    choose_preset(page, "MNIST convnet")
    graph = page.locator("#model-graph")
    expect(graph).to_have_attribute("data-edges", "8")   # a straight line: input → 8 layers

    # Branch: a Conv2D beside conv2d_1, taking conv2d's output; it leads nowhere yet, and the check says so.
    page.locator("#add-layer-type").select_option("Conv2D")
    card(page, 0).get_by_role("button", name="Branch from layer 0").click()
    expect(card(page, 1).locator(".layer-name")).to_have_text("conv2d_2")
    expect(field(page, 1, "inputs").locator("input")).to_have_value("conv2d")
    expect(card(page, 1)).to_contain_text("does not lead to the output")

    # Merge: Add after conv2d_1, joining it with the branch; 64 and 32 filters do not add up.
    page.locator("#add-layer-type").select_option("Add")
    page.locator("#add-layer-position").select_option(label="after 2 conv2d_1")
    page.locator("#add-merge-with").select_option("conv2d_2")
    page.get_by_role("button", name="Add layer", exact=True).click()
    expect(field(page, 3, "inputs").locator("input")).to_have_value("conv2d_1, conv2d_2")
    expect(card(page, 3)).to_contain_text("(4, 4, 64) from conv2d_1 and (4, 4, 32) from conv2d_2")

    # Fix it: conv2d_1 with 32 filters. The shapes and the drawing follow.
    field(page, 2, "filters").locator("input").fill("32")
    expect(page.locator("#check-status")).to_have_text("✓ builds")
    assert ("add (Add)", "(None, 4, 4, 32)", "0") in summary_rows(page)
    expect(card(page, 4).locator(".layer-shape")).to_have_text("→ (None, 2, 2, 32)")
    expect(graph).to_have_attribute("data-state", "checked")
    expect(graph).to_have_attribute("data-edges", "11")
    expect(graph.locator('[data-name="add"]')).to_contain_text("(None, 4, 4, 32)")
    screens("residual")

    # A node is reachable from the keyboard and opens its card.
    graph.locator('[data-name="conv2d_2"]').focus()
    page.keyboard.press("Enter")
    expect(card(page, 1).locator("input").first).to_be_focused()

    page.locator('[data-field="fit.epochs"] input').fill("1")
    expect(page.locator("#check-status")).to_have_text("✓ builds")
    page.locator("#train-button").click()
    page.wait_for_url(re.compile(r"/runs/\d+$"), timeout=30_000)
    run = live_server.wait_run(int(page.url.rsplit("/", 1)[1]), lambda r: r["status"] not in ("queued", "running"))
    assert run["status"] == "completed", run["error"]
    add = next(layer for layer in run["spec"]["model"]["layers"] if layer["type"] == "Add")
    assert add["inputs"] == ["conv2d_1", "conv2d_2"]


FUNCTIONAL = '''\
import keras
from keras import layers

inputs = keras.Input(shape=(8, 8, 1))
wide = layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
narrow = layers.Conv2D(4, 1, activation="relu")(inputs)
x = layers.concatenate([wide, narrow])
x = layers.Flatten()(x)
outputs = layers.Dense(10, activation="softmax")(x)
model = keras.Model(inputs, outputs)
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
'''


def test_import_a_functional_script_and_see_its_drawing(browser_page, screens):
    page = browser_page
    open_builder(page)
    import_python(page, FUNCTIONAL)
    expect(page.locator("#import-status")).to_contain_text("Imported 5 layers")
    expect(page.locator("#check-status")).to_have_text("✓ builds")
    graph = page.locator("#model-graph")
    expect(graph).to_have_attribute("data-state", "checked")
    expect(graph).to_have_attribute("data-nodes", "5")
    expect(graph).to_have_attribute("data-edges", "6")   # input feeds both branches, both feed the merge
    expect(graph.locator('[data-name="concatenate"]')).to_contain_text("(None, 8, 8, 8)")
    for name in ("conv2d", "conv2d_1"):
        expect(graph.locator(f'polyline[data-from="input"][data-to="{name}"]')).to_have_count(1)
        expect(graph.locator(f'polyline[data-from="{name}"][data-to="concatenate"]')).to_have_count(1)
    expect(field(page, 2, "inputs").locator("input")).to_have_value("conv2d, conv2d_1")
    screens("imported-graph")
