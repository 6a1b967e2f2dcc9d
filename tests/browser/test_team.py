"""A team in real Chromium: a viewer watches a member's run live, a share link opens one run until it
is revoked, the runs list filters and sorts, and the compare page overlays finished runs."""

import re

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import Screens
from tests.live import wait_until
from tests.specs import MLP, spec

pytestmark = pytest.mark.browser

RUN_WAIT_S = 180      # a run's start or end on two shared cores: patient, never a measured limit
EPOCH_WAIT_MS = 60_000
# Batches of 4 make an epoch of the 1437 digits 360 steps: about a second here, long enough to watch.
WATCHED = spec(name="watched together", fit={"epochs": 200, "batch_size": 4})


def call(server, method, path, user="bob", **kwargs):
    """Give the answer of one API call made as a script would, with `user`'s API token."""
    return requests.request(method, f"{server}{path}", headers=server.headers(user), timeout=60, **kwargs)


@pytest.fixture
def watched_run(live_server):
    """Give the id of a long run of bob's that is training now; stop it afterwards."""
    run_id = live_server.start_run(WATCHED)
    live_server.wait_run(run_id, {"running"})
    yield run_id
    if call(live_server, "GET", f"/api/runs/{run_id}").json()["run"]["status"] in ("queued", "running"):
        call(live_server, "POST", f"/api/runs/{run_id}/stop", "ada", json={})
    live_server.wait_run(run_id, {"stopped", "completed", "failed"})


def points(page, metric="loss"):
    """Give how many epochs the chart of `metric` draws."""
    return int(page.locator(f'.chart[data-metric="{metric}"]').get_attribute("data-points"))


def expect_growing(page, metric="loss", more=2):
    """Wait until the chart of `metric` gains `more` epochs on this page, live."""
    page.wait_for_selector(f'.chart[data-metric="{metric}"]', state="attached", timeout=EPOCH_WAIT_MS)
    start = points(page)
    for n in range(start + 1, start + more + 1):
        page.wait_for_selector(f'.chart[data-metric="{metric}"][data-points="{n}"]', state="attached",
                               timeout=EPOCH_WAIT_MS)


def fetch_with_csrf(page, method, path):
    """Send a JSON call from the page as its own scripts do (session cookie + X-CSRFToken); give [status, body]."""
    return page.evaluate("""async ([method, path]) => {
        const token = document.querySelector('meta[name="csrf-token"]').content;
        const r = await fetch(path, {method, credentials: "same-origin", body: "{}",
            headers: {"Content-Type": "application/json", "X-CSRFToken": token}});
        return [r.status, await r.json()];
    }""", [method, path])


def test_a_viewer_watches_a_members_run_live_but_cannot_stop_it(open_page, live_server, watched_run, request):
    run_id = watched_run
    owner = open_page("bob")
    owner.goto(f"/runs/{run_id}")
    expect(owner.locator("#stop-button")).to_be_enabled()

    viewer = open_page("vic")
    screens = Screens(viewer, request.node.name)
    viewer.goto(f"/runs/{run_id}")
    expect(viewer.locator("#run-status")).to_have_attribute("data-status", "running")
    expect(viewer.locator("#connection")).to_have_attribute("data-state", "connected")
    expect(viewer.locator("#run-owner")).to_have_text("bob")
    expect_growing(viewer)
    # No dead buttons: the viewer has none of the owner's controls, and is told why.
    for control in ("#stop-button", "#continue-button", "#continue-epochs", "#rename-button", "#share-button",
                    "#delete-button"):
        expect(viewer.locator(control)).to_have_count(0)
    expect(viewer.locator("#readonly-note")).to_have_text(
        "Read-only: only bob and admins can stop, continue or change this run.")
    expect(viewer.locator("#gallery-link")).to_be_visible()
    screens("viewer-watching")

    # The API says no as well, to the viewer's own signed-in session with its CSRF token.
    status, body = fetch_with_csrf(viewer, "POST", f"/api/runs/{run_id}/stop")
    assert status == 403, body
    assert body["error"]["message"] == "Viewers can read but not change anything."
    assert live_server.wait_run(run_id, {"running", "stopping", "stopped"})["status"] == "running"
    expect_growing(viewer, more=1)

    # The owner stops it; the viewer sees it stop, and who stopped it.
    owner.locator("#stop-button").click()
    expect(viewer.locator("#run-status")).to_have_attribute("data-status", "stopped", timeout=RUN_WAIT_S * 1000)
    who = viewer.locator("#who-did-what li")
    expect(who.filter(has_text="stopped the run")).to_contain_text("bob stopped the run")
    expect(who.first).to_contain_text("bob created the run")
    screens("viewer-sees-stop")


def test_a_viewer_gets_no_controls_the_server_would_refuse(open_page, request):
    viewer = open_page("vic")
    screens = Screens(viewer, request.node.name)
    viewer.goto("/")
    expect(viewer.locator("#check-status")).to_have_text("✓ builds")   # building and checking is reading
    expect(viewer.locator("#train-button")).to_be_disabled()
    expect(viewer.locator("#train-status")).to_have_text("Viewers build and check models; members and admins start runs.")
    screens("builder")
    viewer.goto("/datasets")
    expect(viewer.locator("#datasets-table tr[data-id=digits]")).to_be_visible()
    expect(viewer.locator("#upload-form")).to_have_count(0)
    expect(viewer.locator("#upload-note")).to_be_visible()
    expect(viewer.get_by_role("link", name="Admin")).to_have_count(0)
    assert viewer.request.get("/admin").status == 403


def test_a_share_link_shows_the_run_live_and_the_gallery_until_it_is_revoked(open_page, live_server, watched_run,
                                                                              request):
    run_id = watched_run
    owner = open_page("bob")
    owner.context.grant_permissions(["clipboard-read", "clipboard-write"])
    screens = Screens(owner, request.node.name)
    owner.goto(f"/runs/{run_id}")
    owner.locator("#share-button").click()
    link_field = owner.locator("#share-url")
    expect(link_field).to_have_value(re.compile(rf"^{re.escape(str(live_server))}/runs/{run_id}\?share=[\w-]+$"))
    link = link_field.input_value()
    token = link.rsplit("=", 1)[1]
    owner.locator("#share-copy").click()
    expect(owner.locator("#share-state")).to_have_text("Copied to the clipboard.")
    assert owner.evaluate("navigator.clipboard.readText()") == link
    screens("link-made")

    # Someone without an account opens it: the run, live, read-only, and nothing else of the site.
    guest = open_page()
    guest_screens = Screens(guest, request.node.name + "-guest")
    guest.goto(link)
    expect(guest.locator("#run-page")).to_have_attribute("data-run-id", str(run_id))
    expect(guest.locator("#run-name")).to_have_text("watched together")
    expect(guest.locator("#connection")).to_have_attribute("data-state", "connected")
    expect_growing(guest)
    expect(guest.locator("#stop-button")).to_have_count(0)
    expect(guest.locator("#share-button")).to_have_count(0)
    expect(guest.locator("#readonly-note")).to_contain_text("Shared with you read-only")
    expect(guest.locator(".topbar nav a")).to_have_count(0)
    expect(guest.locator("#current-user")).to_have_count(0)
    assert guest.request.get("/api/runs").status == 401
    assert guest.request.get(f"/api/runs?share={token}").status == 401
    guest_screens("guest-watching")

    gallery = guest.locator("#gallery-link")
    expect(gallery).to_have_attribute("href", f"/runs/{run_id}/gallery?share={token}")
    gallery.click()
    expect(guest.locator("#gallery .tile")).to_have_count(100, timeout=120_000)
    # The page's thumbnails come as one sprite through the share link, drawn into every tile.
    expect(guest.locator("#gallery")).to_have_attribute("data-thumbs", "ready", timeout=60_000)
    inked = guest.locator("#gallery .tile canvas").evaluate_all("""(canvases) => canvases.map((c) =>
        c.getContext("2d").getImageData(0, 0, c.width, c.height).data.some((v, i) => i % 4 !== 3 && v > 0))""")
    assert len(inked) == 100 and all(inked), "a test image did not load through the share link"
    guest.locator("#gallery-title").scroll_into_view_if_needed()
    expect(guest.locator(".try-card")).to_have_count(0)
    guest_screens("guest-gallery")
    guest.locator("#run-link").click()
    expect(guest.locator("#connection")).to_have_attribute("data-state", "connected")

    # Revoked: the live stream is cut at once, and the link opens nothing any more.
    owner.locator("#share-revoke").click()
    expect(owner.locator("#share-state")).to_contain_text("Revoked")
    expect(owner.locator("#share-url")).to_be_hidden()
    expect(guest.locator("#connection")).to_have_attribute("data-state", "refused")
    guest_screens("guest-cut-off")
    assert guest.request.get(f"/api/runs/{run_id}?share={token}").status == 401
    guest.reload()
    expect(guest.locator("#login-form")).to_be_visible()
    expect(guest.locator("#run-page")).to_have_count(0)
    screens("link-revoked")
    who = [t for t in owner.locator("#who-did-what li").all_inner_texts()]
    assert any("bob made a share link" in t for t in who) and any("bob revoked a share link" in t for t in who), who


@pytest.fixture(scope="module")
def finished_pair(live_server):
    """Give the ids of two completed runs that differ in units and learning rate: bob's, then ada's."""
    narrow = spec(MLP, name="narrow", fit={"epochs": 3, "batch_size": 64})   # a deep copy
    narrow["model"]["layers"][1]["units"] = 32
    wide = spec(MLP, name="wide", fit={"epochs": 2, "batch_size": 64},
                compile={**MLP["compile"], "optimizer": {"type": "Adam", "learning_rate": 0.01}})
    ids = [live_server.start_run(narrow, "bob"), live_server.start_run(wide, "ada")]
    for run_id in ids:
        assert live_server.wait_run(run_id, {"completed", "stopped", "failed"})["status"] == "completed"
    return ids


def test_the_runs_list_filters_sorts_and_picks_runs_to_compare(open_page, live_server, finished_pair, request):
    narrow, wide = finished_pair
    page = open_page("vic")
    screens = Screens(page, request.node.name)
    page.goto("/runs")
    rows = page.locator("#runs-body tr")

    def shown_ids():
        return [int(i) for i in rows.evaluate_all("(trs) => trs.map((tr) => tr.dataset.runId)")]

    def expect_as_api(**query):
        """Wait until the list shows exactly the runs GET /api/runs gives for this query, in its order."""
        want = [r["id"] for r in call(live_server, "GET", "/api/runs", "vic", params=query).json()["runs"]]
        expect(rows).to_have_count(len(want))
        wait_until(lambda: shown_ids() == want, 10, lambda: f"the list shows {shown_ids()}, not {want}")
        return want

    page.locator("#filter-owner").select_option("ada")
    shown = expect_as_api(owner="ada")
    assert wide in shown and narrow not in shown
    for owner in page.locator('#runs-body td[data-col="owner"]').all_inner_texts():
        assert owner == "ada"
    assert "owner=ada" in page.url
    page.locator("#filter-owner").select_option("")
    page.locator("#filter-status").select_option("completed")
    page.locator("#filter-dataset").select_option("digits")
    page.locator("#filter-q").fill("NARR")
    assert expect_as_api(status="completed", dataset="digits", q="NARR") == [narrow]
    page.locator("#filter-q").fill("")
    page.locator("#filter-status").select_option("")
    page.locator("#filter-dataset").select_option("")

    # Sort by a final metric: the best first (a loss: lowest first), its column marked.
    page.locator("#sort-key").select_option("val_loss")
    expect(page.locator("#sort-order")).to_have_value("asc")
    expect_as_api(sort="val_loss", order="asc")
    expect(page.locator("#runs-head th.sorted")).to_have_text("val_loss")
    page.locator("#sort-key").select_option("val_accuracy")
    expect(page.locator("#sort-order")).to_have_value("desc")
    expect_as_api(sort="val_accuracy", order="desc")
    screens("sorted")

    page.reload()   # the filters live in the address
    expect(page.locator("#sort-key")).to_have_value("val_accuracy")
    expect_as_api(sort="val_accuracy", order="desc")

    compare = page.locator("#compare-button")
    expect(compare).to_be_disabled()
    page.locator(f'#runs-body tr[data-run-id="{narrow}"] .pick-run').check()
    expect(compare).to_be_disabled()
    page.locator(f'#runs-body tr[data-run-id="{wide}"] .pick-run').check()
    expect(compare).to_have_text("Compare 2 runs")
    screens("picked")
    compare.click()
    expect(page).to_have_url(re.compile(rf"/compare\?runs={narrow},{wide}$"))
    expect(page.locator("#compare-runs li")).to_have_count(2)


def trace_table(chart):
    """Give a chart's traces as [(name, dash, x list, y list)]."""
    return chart.evaluate("""node => node.data.map((t) => [t.name, t.line.dash, Array.from(t.x), Array.from(t.y)])""")


def test_the_compare_page_overlays_curves_and_shows_what_differs(open_page, live_server, finished_pair, request):
    narrow, wide = finished_pair
    runs = {i: call(live_server, "GET", f"/api/runs/{i}").json()["run"] for i in finished_pair}
    page = open_page("bob")
    screens = Screens(page, request.node.name)
    page.goto(f"/compare?runs={narrow},{wide}")
    expect(page.locator("#compare-charts")).to_have_attribute("data-state", "ready")
    labels = {narrow: f"#{narrow} narrow", wide: f"#{wide} wide"}

    # One chart per metric; each run's training solid and validation dashed, as the API's history.
    for metric, keys in (("loss", ("loss", "val_loss")), ("accuracy", ("accuracy", "val_accuracy"))):
        chart = page.locator(f'.chart[data-metric="{metric}"]')
        expect(chart).to_have_attribute("data-traces", "4")
        traces = trace_table(chart)
        expected = [[labels[i], "solid" if k == keys[0] else "dash", list(range(1, len(runs[i]["history"][k]) + 1)),
                     runs[i]["history"][k]] for i in (narrow, wide) for k in keys]
        assert traces == expected
        legend = chart.locator(".legendtext").all_text_contents()
        assert legend == [labels[narrow], labels[wide]], legend
    screens("curves")

    # Only what differs, by default: units of layer 1, the learning rate, epochs, the layer types stay alike.
    table = page.locator("#spec-diff")
    diff = {tr.get_attribute("data-path"): tr.locator("td").all_inner_texts()
            for tr in table.locator("tbody tr").all()}
    assert diff == {"model.layers[1].units": ["32", "64"], "compile.optimizer.learning_rate": ["0.001", "0.01"],
                    "fit.epochs": ["3", "2"]}, diff
    expect(table.locator("thead th").nth(1)).to_have_text(labels[narrow])
    expect(table.locator("thead th").nth(2)).to_have_text(labels[wide])
    table.scroll_into_view_if_needed()
    screens("differences")

    page.locator("#show-all").check()
    same = table.locator('tbody tr[data-path="fit.batch_size"]')
    expect(same).to_have_attribute("data-differs", "false")
    expect(same.locator("td")).to_have_text(["64", "64"])
    expect(table.locator('tbody tr[data-path="layer types"] td').first).to_have_text("Flatten → Dense → Dropout → Dense")
    expect(table.locator('tbody tr[data-path="model.layers[1].units"]')).to_have_attribute("data-differs", "true")

    # Take one out, put it back through "Add a run".
    page.locator(f'#compare-runs li[data-run-id="{wide}"] .compare-remove').click()
    expect(page).to_have_url(re.compile(rf"/compare\?runs={narrow}$"))
    expect(page.locator("#compare-note")).to_be_visible()
    page.locator("#add-run").select_option(str(wide))
    expect(page).to_have_url(re.compile(rf"/compare\?runs={narrow},{wide}$"))
    expect(page.locator('.chart[data-metric="loss"]')).to_have_attribute("data-traces", "4")
