"""A sweep in real Chromium: fields switched to "search" in the builder, the sweep started, its page
followed live (trials, parallel coordinates, the best trial), Stop; and a refused range shown at its field."""

import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import OWNER
from tests.live import wait_until

pytestmark = pytest.mark.browser

TRIAL_WAIT_MS = 180_000   # a trial's run on two shared cores: patient, never a measured limit
TRIALS = 20               # far more than the test waits for, so the sweep is still going when Stop is pressed


def api(base_url, method, path, body=None, user=OWNER):
    """Give the JSON answer of one API call made as a script would (the test's own eyes on the server)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base_url}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json", "Accept": "application/json",
                                              **base_url.headers(user)})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


@pytest.fixture(autouse=True)
def _stop_leftover_sweeps(live_server):
    """Stop any sweep a failed test left running, so its trials do not hold the training slot."""
    yield
    for sweep in api(live_server, "GET", "/api/sweeps")["sweeps"]:
        if sweep["status"] == "running":
            api(live_server, "POST", f"/api/sweeps/{sweep['id']}/stop", {}, user="ada")   # the admin may stop any


def card(page, index):
    """Give the builder's layer card at this index."""
    return page.locator(f'#layer-list .layer-card[data-layer-index="{index}"]')


def open_mlp(page):
    """Open the builder on the Small MLP preset over digits, one epoch, and wait for its check."""
    page.goto("/")
    expect(page.locator("#check-status")).to_have_text("✓ builds")
    page.locator("#dataset-select").select_option("digits")
    page.get_by_role("button", name="Small MLP", exact=True).click()
    page.locator('[data-field="fit.epochs"] input').fill("1")
    page.locator('[data-field="fit.batch_size"] input').fill("64")
    expect(page.locator("#check-status")).to_have_text("✓ builds")


def search_units(page, low, high):
    """Switch the first Dense layer's units to "search" between low and high."""
    units = card(page, 1).locator('[data-field="units"]')
    units.locator(".search-toggle").click()
    expect(units.locator(".search-toggle")).to_have_attribute("aria-pressed", "true")
    units.locator('input[data-search="low"]').fill(str(low))
    units.locator('input[data-search="high"]').fill(str(high))
    return units


def complete_rows(page):
    """Give the trials table's rows of complete trials."""
    return page.locator('#trials-body tr[data-state="complete"]')


def test_a_sweep_started_in_the_builder_is_followed_live_and_stopped(browser_page, open_page, live_server, screens):
    page = browser_page
    open_mlp(page)
    expect(page.locator("#sweep-button")).to_be_hidden()   # nothing searched: Train only
    search_units(page, 16, 64)
    lr = page.locator('[data-field="compile.optimizer.learning_rate"]')
    lr.locator(".search-toggle").click()
    expect(lr.locator('input[data-search="log"]')).to_be_checked()
    page.locator("#sweep-button").click()
    expect(page.locator('#sweep-space li[data-path="model.layers.1.units"]')).to_contain_text("16 … 64")
    expect(page.locator('#sweep-space li[data-path="compile.optimizer.learning_rate"]')).to_contain_text("log")
    expect(page.locator("#sweep-metric")).to_have_value("val_accuracy")
    expect(page.locator("#sweep-direction")).to_have_value("maximize")
    page.locator("#sweep-name").fill("units and rate")
    page.locator("#sweep-trials").fill(str(TRIALS))
    page.locator("#sweep-parallel").fill("1")
    page.locator("#sweep-sampler").select_option("random")
    screens("builder-sweep-form")
    page.locator("#sweep-start").click()
    page.wait_for_url(re.compile(r"/sweeps/\d+$"), timeout=30_000)
    sweep_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("#sweep-name")).to_have_text("units and rate")
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    expect(page.locator('#trials-head th[data-path="model.layers.1.units"]')).to_have_text("dense.units")

    # Trials arrive live, on the same page: one complete, then a second.
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
    expect(complete_rows(page)).to_have_count(1, timeout=TRIAL_WAIT_MS)
    expect(page.locator("#parcoords")).to_have_attribute("data-lines", "1")
    wait_until(lambda: complete_rows(page).count() >= 2, TRIAL_WAIT_MS / 1000, "a second complete trial")
    assert navigations == []
    screens("trials-arriving")

    # Stop while trials are still to come: the sweep stops, no more trials start.
    expect(page.locator("#stop-button")).to_be_enabled()
    page.locator("#stop-button").click()
    page.wait_for_selector('#sweep-status[data-status="stopped"]', state="attached", timeout=TRIAL_WAIT_MS)
    expect(page.locator("#stop-button")).to_be_disabled()
    expect(page.locator("#resume-button")).to_be_enabled()
    sweep = api(live_server, "GET", f"/api/sweeps/{sweep_id}")["sweep"]
    assert sweep["status"] == "stopped"
    assert len([t for t in sweep["trials"] if t["state"] == "complete"]) < TRIALS
    screens("stopped")

    # The parallel coordinates: Plotly's parcoords SVG, an axis per searched field and the objective,
    # one line per complete trial (the table's and the API's).
    complete = [t for t in sweep["trials"] if t["state"] == "complete"]
    expect(complete_rows(page)).to_have_count(len(complete))
    plot = page.locator("#parcoords")
    expect(plot).to_have_attribute("data-lines", str(len(complete)))
    expect(plot.locator("svg g.parcoords")).to_have_count(1)
    expect(plot).not_to_contain_text("WebGL")   # the strict bundle draws its lines under the CSP
    assert plot.evaluate("node => node.data[0].type") == "parcoords"
    lines = plot.evaluate("node => node.data[0].dimensions.map((d) => Array.from(d.values).length)")
    assert lines == [len(complete)] * 3
    axes = dict(plot.evaluate("node => node.data[0].dimensions.map((d) => [d.label, Array.from(d.values)])"))
    assert set(axes) == {"dense.units", "learning_rate (log)", "val_accuracy"}
    assert sorted(axes["dense.units"]) == sorted(t["params"]["model.layers.1.units"] for t in complete)
    assert sorted(axes["val_accuracy"]) == sorted(t["value"] for t in complete)

    # The best trial: its row marked, linked to its run.
    best = sweep["best"]
    assert best is not None and best["value"] == max(t["value"] for t in complete)
    expect(page.locator("#best-run")).to_have_attribute("href", f"/runs/{best['run_id']}")
    expect(page.locator("#best-run")).to_have_attribute("data-number", str(best["number"]))
    expect(page.locator(f'#trials-body tr.best[data-number="{best["number"]}"] a')).to_have_attribute(
        "href", f"/runs/{best['run_id']}")
    expect(page.locator('#artifacts li[data-artifact="trials.csv"] a')).to_have_attribute(
        "href", f"/api/sweeps/{sweep_id}/artifacts/trials.csv")

    # A share link: its visitor, signed in as nobody, sees the sweep read-only, its runs linked through the link.
    page.locator("#share-button").click()
    expect(page.locator("#share-url")).to_have_value(re.compile(rf"/sweeps/{sweep_id}\?share="))
    link = page.locator("#share-url").input_value()
    token = re.search(r"[?&]share=([^&]+)", link).group(1)
    visitor = open_page(None)
    visitor.goto(link)
    expect(visitor.locator("#sweep-name")).to_have_text("units and rate")
    expect(complete_rows(visitor)).to_have_count(len(complete))
    expect(visitor.locator("#best-run")).to_have_attribute("href", f"/runs/{best['run_id']}?share={token}")
    expect(visitor.locator("#stop-button")).to_have_count(0)
    expect(visitor.locator("#open-in-builder")).to_have_count(0)
    expect(visitor.locator("#readonly-note")).to_be_visible()
    expect(visitor.locator("#parcoords")).to_have_attribute("data-lines", str(len(complete)))

    # The runs page lists the sweep with its trials done and its best value.
    page.goto("/runs")
    row = page.locator(f'#sweeps-body tr[data-sweep-id="{sweep_id}"]')
    expect(row).to_have_attribute("data-status", "stopped")
    expect(row.locator("a")).to_have_attribute("href", f"/sweeps/{sweep_id}")
    expect(row.locator("td[data-col=best]")).to_have_text(f"{best['value']:.4f}")


def test_a_refused_search_range_shows_its_error_beside_the_search_inputs(browser_page):
    page = browser_page
    open_mlp(page)
    units = search_units(page, 64, 16)   # low above high
    page.locator("#sweep-button").click()
    page.locator("#sweep-start").click()
    error = units.locator('[data-field="space.model.layers.1.units"] .field-error')
    expect(error).to_contain_text("space.model.layers.1.units")
    expect(page).to_have_url(re.compile(r"/$"))   # nothing started
    units.locator('input[data-search="high"]').fill("128")
    units.locator(".search-toggle").click()   # search off: the field is fixed again, the sweep button goes
    expect(units.locator("input[type=number]")).to_be_visible()
    expect(page.locator("#sweep-button")).to_be_hidden()
