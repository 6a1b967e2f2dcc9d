"""A run in real Chromium: start it from the builder, watch it live, reload, stop, continue, list it."""

import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import OWNER
from tests.live import wait_until
from tests.specs import spec

pytestmark = pytest.mark.browser

RUN_WAIT_MS = 180_000   # a run's start or end on two shared cores: patient, never a measured limit
EPOCH_WAIT_MS = 60_000  # one more epoch
# Batches of 4 make an epoch of 1437 digits 360 steps: about a second here, long enough to watch.
WATCHED_FIT = {"epochs": 200, "batch_size": 4}


def api(base_url, method, path, body=None, user=OWNER):
    """Give the JSON answer of one API call made as a script would (the test's own eyes on the server)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base_url}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json", "Accept": "application/json",
                                              **base_url.headers(user)})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def get_run(base_url, run_id):
    """Give the run as GET /api/runs/ID tells it."""
    return api(base_url, "GET", f"/api/runs/{run_id}")["run"]


@pytest.fixture(autouse=True)
def _stop_leftover_runs(live_server):
    """Stop any run a failed test left training, so it does not hold the one training slot."""
    yield
    for run in api(live_server, "GET", "/api/runs")["runs"]:
        if run["status"] in ("queued", "running"):
            api(live_server, "POST", f"/api/runs/{run['id']}/stop", {}, user="ada")   # the admin may stop any


def wait_attached(page, selector, timeout=EPOCH_WAIT_MS):
    """Wait until an element matching `selector` (attribute selectors, so no eval under the CSP) exists."""
    page.wait_for_selector(selector, state="attached", timeout=timeout)


def points(page, metric="loss"):
    """Give how many epochs the chart of `metric` says it draws."""
    return int(page.locator(f'.chart[data-metric="{metric}"]').get_attribute("data-points"))


def wait_points(page, n, metric="loss"):
    """Wait until the chart of `metric` draws n epochs."""
    wait_attached(page, f'.chart[data-metric="{metric}"][data-points="{n}"]')


def chart_traces(page):
    """Give every chart's Plotly traces as {history key: (x list, y list)}; check each x axis shows its points."""
    charts = page.locator(".chart")
    traces = {}
    for i in range(charts.count()):
        chart = charts.nth(i)
        keys = chart.get_attribute("data-keys").split()
        data = chart.evaluate("node => node.data.map((t) => [Array.from(t.x), Array.from(t.y)])")
        low, high = chart.evaluate("node => node.layout.xaxis.range")
        assert len(data) == len(keys), f"chart {keys} has {len(data)} traces"
        for key, (x, y) in zip(keys, data):
            assert key not in traces, f"{key} is drawn twice"
            assert all(low < epoch < high for epoch in x), f"{key}: epochs {x} outside the x axis {low}..{high}"
            traces[key] = (x, y)
    return traces


def expect_charts_match(page, history):
    """Check the charts draw exactly the API's history: one point per epoch 1..n, same values, no duplicates."""
    traces = chart_traces(page)
    assert set(traces) == set(history)
    for key, values in history.items():
        x, y = traces[key]
        assert x == list(range(1, len(values) + 1)), f"{key}: x is {x}"
        assert y == values, f"{key}: the chart's values differ from the API's history"


def status_log(page):
    """Give the texts of the event log's status lines, in order."""
    return [t.strip() for t in page.locator("#event-log li.log-entry[data-kind=status] .log-text").all_inner_texts()]


def start_from_builder(page, fit):
    """On a fresh builder, pick the Small MLP preset on digits, set the fit, press Train; give the run id."""
    page.goto("/")
    expect(page.locator("#check-status")).to_have_text("✓ builds")
    page.locator("#dataset-select").select_option("digits")
    page.get_by_role("button", name="Small MLP", exact=True).click()
    expect(page.locator("#check-status")).to_have_text("✓ builds")
    for name, value in fit.items():
        page.locator(f'[data-field="fit.{name}"] input').fill(str(value))
    expect(page.locator("#check-status")).to_have_text("✓ builds")
    page.locator("#train-button").click()
    page.wait_for_url(re.compile(r"/runs/\d+$"), timeout=30_000)
    return int(page.url.rsplit("/", 1)[1])


def test_watch_a_run_live_reload_it_stop_it_continue_it_and_see_a_refused_continue(browser_page, live_server, screens):
    page = browser_page
    websockets = []    # CSP connect-src 'self' must let Socket.IO upgrade to a websocket (CSP3: same host)
    page.on("websocket", lambda ws: websockets.append(ws))
    run_id = start_from_builder(page, WATCHED_FIT)
    expect(page.locator("#run-page")).to_have_attribute("data-run-id", str(run_id))
    wait_attached(page, '#run-status[data-status="running"]', RUN_WAIT_MS)
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    expect(page.locator("#stop-button")).to_be_enabled()
    expect(page.locator("#continue-button")).to_be_disabled()
    screens("running")

    # The bar moves within an epoch, as Keras's verbose=1 bar does.
    wait_attached(page, '#progress[data-state="running"]:not([data-batch="0"])')
    batch = page.locator("#progress").get_attribute("data-batch")
    wait_attached(page, f'#progress:not([data-batch="{batch}"]):not([data-batch="0"])')
    expect(page.locator("#progress-epoch")).to_have_text(re.compile(r"^Epoch \d+/200$"))
    expect(page.locator("#progress-batches")).to_have_text(re.compile(r"^\d+/360$"))

    # The loss chart gains points live, one per epoch, on the same page (no navigation).
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
    charts_box = page.locator("#charts").element_handle()
    wait_attached(page, '.chart[data-metric="loss"]', RUN_WAIT_MS)
    start = points(page)
    for n in range(max(start, 1), max(start, 1) + 3):
        wait_points(page, n)
    assert navigations == [] and charts_box.evaluate("node => node.isConnected")
    assert any("/socket.io/" in ws.url and "transport=websocket" in ws.url and not ws.is_closed() for ws in websockets)
    expect(page.locator('.chart[data-metric="accuracy"]')).to_have_attribute("data-keys", "accuracy val_accuracy")
    screens("charts-growing")

    # Reload mid-run: every epoch so far is drawn from the start, then the charts keep growing.
    done_before = get_run(live_server, run_id)["epochs_done"]
    assert done_before >= 3
    page.reload()   # returns at the load event: the page's module has run, the live history may not be in yet
    assert page.locator('.chart[data-metric="loss"]').count() == 1, "no loss chart right after the reload"
    after_reload = points(page)
    assert after_reload >= done_before
    wait_attached(page, '#connection[data-state="connected"]')
    # run_history may bring several epochs at once after the reload: wait for more, not for one number.
    wait_until(lambda: points(page) >= after_reload + 2, EPOCH_WAIT_MS / 1000, "two more epochs after the reload")
    expect(page.locator("#charts")).to_have_attribute("data-epochs", re.compile(r"^\d+$"))
    assert int(page.locator("#charts").get_attribute("data-epochs")) >= after_reload + 2
    screens("after-reload")

    # Stop: stopping, then stopped after the current batch, with the model saved.
    page.locator("#stop-button").click()
    wait_attached(page, '#run-status[data-status="stopped"]', RUN_WAIT_MS)
    expect(page.locator("#stop-button")).to_be_disabled()
    expect(page.locator("#continue-button")).to_be_enabled()
    expect(page.locator("#continue-epochs")).to_be_enabled()
    expect(page.locator('#artifacts li[data-artifact="model.keras"] a')).to_have_attribute(
        "href", f"/api/runs/{run_id}/artifacts/model.keras")
    logged = status_log(page)
    assert logged[-2:] == ["Stopping", "Stopped"], logged
    stopped = get_run(live_server, run_id)
    done = stopped["epochs_done"]
    assert stopped["status"] == "stopped" and all(len(v) == done for v in stopped["history"].values())
    wait_points(page, done)
    expect_charts_match(page, stopped["history"])
    expect(page.locator("#progress-epoch")).to_have_text(f"Stopped: {done} of 200 epochs")
    download = page.request.get(f"/api/runs/{run_id}/artifacts/model.keras")
    assert download.status == 200 and len(download.body()) > 1000
    screens("stopped")

    # Continue for 2 more epochs: queued, running, completed; the x axis goes on from where it stopped.
    page.locator("#continue-epochs").fill("2")
    page.locator("#continue-button").click()
    wait_attached(page, '#run-status[data-status="completed"]', RUN_WAIT_MS)
    finished = get_run(live_server, run_id)
    assert finished["epochs_done"] == done + 2
    assert all(len(v) == done + 2 for v in finished["history"].values())
    assert {k: v[:done] for k, v in finished["history"].items()} == stopped["history"]
    wait_points(page, done + 2)
    expect_charts_match(page, finished["history"])
    assert status_log(page)[-4:] == ["Stopped", "Queued", "Running", "Completed"], status_log(page)
    expect(page.locator("#run-epochs")).to_have_text(f"{done + 2} of {done + 2}")
    expect(page.locator("#stop-button")).to_be_disabled()
    screens("continued")

    # The runs list shows it completed, with the last epoch's metrics.
    page.goto("/runs")
    row = page.locator(f'#runs-body tr[data-run-id="{run_id}"]')
    expect(row).to_have_attribute("data-status", "completed")
    expect(row.locator("td[data-col=epochs]")).to_have_text(f"{done + 2}/{done + 2}")
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        expect(row.locator(f"td[data-col={key}]")).to_have_text(f"{finished['history'][key][-1]:.4f}")
    expect(page.locator("#runs-empty")).to_be_hidden()
    screens("runs-list")

    # Back on the completed run, a refused Continue shows the server's message (no run of its own to train).
    page.goto(f"/runs/{run_id}")
    expect_refused_continue(page, live_server, run_id, screens)


def expect_refused_continue(page, live_server, run_id, screens):
    """On a completed run's page: Continue with too many epochs shows the server's 422 message, and nothing runs."""
    expect(page.locator("#run-status")).to_have_attribute("data-status", "completed")
    expect(page.locator("#stop-button")).to_be_disabled()   # Stop on a completed run cannot be pressed
    action_error = page.locator("#action-error")

    page.locator("#continue-epochs").fill("100001")
    with page.expect_response(f"**/api/runs/{run_id}/continue") as answer:
        page.locator("#continue-button").click()
    assert answer.value.status == 422
    expect(action_error).to_be_visible()
    expect(action_error).to_have_text(answer.value.json()["errors"][0]["message"])
    expect(action_error).to_contain_text("epochs must be a whole number from 1 to 100000")
    expect(page.locator("#run-status")).to_have_attribute("data-status", "completed")
    expect(page.locator("#continue-button")).to_be_enabled()
    screens("continue-refused")
    assert get_run(live_server, run_id)["status"] == "completed"


def test_stop_on_a_stale_page_shows_the_servers_refusal_and_catches_up(browser_page, live_server, screens):
    page = browser_page
    long_fit = {"epochs": 1000, "batch_size": 4}
    run_id = api(live_server, "POST", "/api/runs", spec(name="stale", fit=long_fit))["run"]["id"]
    live_server.wait_run(run_id, {"running"})
    # The live connection never gets through (its requests hang), so the page knows only what it loaded.
    page.route("**/socket.io/**", lambda route: None)
    page.goto(f"/runs/{run_id}")
    expect(page.locator("#run-status")).to_have_attribute("data-status", "running")
    api(live_server, "POST", f"/api/runs/{run_id}/stop", {})
    live_server.wait_run(run_id, {"stopped"})
    expect(page.locator("#run-status")).to_have_attribute("data-status", "running")

    with page.expect_response(f"**/api/runs/{run_id}/stop") as answer:
        page.locator("#stop-button").click()
    assert answer.value.status == 409
    expect(page.locator("#action-error")).to_have_text(answer.value.json()["error"]["message"])
    expect(page.locator("#action-error")).to_contain_text(f"Run {run_id} is stopped")
    # The refusal tells the page it is behind: it fetches the run again and shows the truth.
    expect(page.locator("#run-status")).to_have_attribute("data-status", "stopped")
    expect(page.locator("#continue-button")).to_be_enabled()
    screens("stop-refused")


def test_train_with_a_bad_spec_shows_its_problems_and_starts_nothing(browser_page, live_server, screens):
    page = browser_page
    runs_before = len(api(live_server, "GET", "/api/runs")["runs"])
    page.goto("/")
    expect(page.locator("#check-status")).to_have_text("✓ builds")
    page.locator('[data-field="fit.epochs"] input').fill("0")
    with page.expect_response("**/api/runs") as answer:
        page.locator("#train-button").click()
    assert answer.value.status == 422
    expect(page.locator("#train-status")).to_have_text("fix the problems shown first")
    expect(page.locator('[data-field="fit.epochs"] .field-error')).to_contain_text("epochs")
    expect(page.locator("#train-button")).to_be_enabled()
    assert page.url.endswith("/")
    assert len(api(live_server, "GET", "/api/runs")["runs"]) == runs_before
    screens("train-refused")


def test_inside_fit_draws_the_update_strip_and_a_vanishing_warning_live(browser_page, live_server, screens):
    page = browser_page
    layers = [{"type": "Flatten"}] + [{"type": "Dense", "units": 32, "activation": "sigmoid"}] * 12 + \
        [{"type": "Dense", "units": 10, "activation": "softmax"}]
    deep = spec(name="deep sigmoid", model={"layers": layers},
                compile={"optimizer": {"type": "SGD", "learning_rate": 0.1}, "loss": "categorical_crossentropy",
                         "metrics": ["accuracy"]},
                fit={"epochs": 500, "batch_size": 16, "dynamics": {"every": 2}})
    run_id = api(live_server, "POST", "/api/runs", deep)["run"]["id"]
    page.goto(f"/runs/{run_id}")
    # One line per layer with weights (13 Dense), filling live as run_dynamics events arrive.
    wait_attached(page, '#dynamics-ratio[data-layers="13"]:not([data-steps="0"])', RUN_WAIT_MS)
    band = page.locator("#dynamics-ratio").evaluate("node => node.layout.shapes.map((s) => [s.y0, s.y1])")
    assert band == [[1e-4, 1e-2]] and page.locator("#dynamics-ratio").evaluate("node => node.layout.yaxis.type") == "log"
    warning = page.locator('#dynamics-warnings li[data-kind="vanishing"]').first
    expect(warning).to_contain_text("he_normal", timeout=EPOCH_WAIT_MS)
    expect(warning.locator("a")).to_have_text("dense")      # the first Dense layer, a link to it in the builder
    expect(page.locator("#run-status")).to_have_attribute("data-status", "running")
    # Once the loss chart exists (after epoch 1) the warnings are pinned on it.
    wait_attached(page, '.chart[data-metric="loss"]:not([data-pins="0"])')
    steps_drawn = int(page.locator("#dynamics-ratio").get_attribute("data-steps"))
    wait_attached(page, f'#dynamics-ratio:not([data-steps="{steps_drawn}"])')   # still moving
    expect(page.locator("#dynamics-explain")).to_contain_text("gradient")
    screens("inside-fit")
    api(live_server, "POST", f"/api/runs/{run_id}/stop", {})
    warning.locator("a").click()
    page.wait_for_url(re.compile(r"/$"))
    expect(page.locator('.layer-card[data-asked="true"] .layer-name')).to_have_text("dense")


def test_a_backbone_picked_in_the_builder_trains_frozen_fine_tunes_its_top_and_is_exported(browser_page, live_server, screens):
    from tests.browser.test_builder import card, choose_preset, expect_builds, field, open_builder, summary_rows

    page = browser_page
    open_builder(page)
    choose_preset(page, "Small MLP")
    page.locator("#add-layer-type").select_option("MobileNetV2")
    # The catalog says what the backbone is and that its ImageNet weights are not in this server's Keras cache.
    expect(page.locator("#add-layer-doc")).to_contain_text("ImageNet weights not here")
    page.locator("#add-layer-position").select_option("0")
    page.get_by_role("button", name="Add layer", exact=True).click()
    expect(field(page, 0, "weights")).to_contain_text("mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5")
    field(page, 0, "weights").locator("input").fill("")   # the architecture from scratch
    field(page, 0, "alpha").locator("input").fill("0.35")
    field(page, 0, "input_shape").locator("input").fill("32, 32, 3")   # its smallest: a quick test
    field(page, 0, "pooling").locator("select").select_option("avg")
    expect_builds(page)
    rows = summary_rows(page)
    assert [r[0].endswith("· added") for r in rows[:4]] == [True, True, True, False] and "(MobileNetV2)" in rows[3][0]
    expect(card(page, 0)).to_be_visible()
    page.locator('[data-field="fit.epochs"] input').fill("1")
    expect_builds(page)
    screens("backbone-in-builder")
    page.locator("#train-button").click()
    page.wait_for_url(re.compile(r"/runs/\d+$"), timeout=30_000)
    run_id = int(page.url.rsplit("/", 1)[1])
    run = live_server.wait_run(run_id, lambda r: r["status"] not in ("queued", "running"))
    assert run["status"] == "completed", run["error"]

    # Continue with fine-tuning: the top 10 layers of the backbone at a low rate; the loss chart marks where it began.
    expect(page.locator("#fine-tune-fields")).to_be_visible()
    expect(page.locator("#continue-button")).to_be_enabled()
    page.locator("#continue-epochs").fill("1")
    page.locator("#continue-unfreeze").fill("10")
    page.locator("#continue-rate").fill("0.0001")
    page.locator("#continue-button").click()
    run = live_server.wait_run(run_id, lambda r: r["status"] not in ("queued", "running") and r["epochs_done"] == 2)
    assert run["status"] == "completed", run["error"]
    assert [(p["epoch"], p["unfreeze"], p["learning_rate"]) for p in run["phases"]] == [(1, 10, 0.0001)]
    expect(page.locator('.chart[data-metric="loss"]')).to_have_attribute("data-pins", "1")
    screens("fine-tuned-run")

    # Export the fine-tuned model from the run page: its row fills in live.
    expect(page.locator("#exports-empty")).to_be_visible()
    expect(page.locator("#predict-curl")).to_contain_text(f'-H "Authorization: Bearer $TOKEN" -F image=@one.png')
    expect(page.locator("#predict-curl")).to_contain_text(f"/api/runs/{run_id}/predict")
    page.locator("#export-format").select_option("onnx")
    expect(page.locator("#export-quantization")).to_be_disabled()   # quantization is LiteRT's only
    page.locator("#export-format").select_option("litert")
    page.locator("#export-quantization").select_option("dynamic")
    with page.expect_response(f"**/api/runs/{run_id}/exports") as answer:
        page.locator("#export-build").click()
    assert answer.value.status == 202
    export_id = answer.value.json()["export"]["id"]
    row = page.locator(f'#export-rows tr[data-export-id="{export_id}"]')
    expect(row).to_have_attribute("data-state", "building")
    # run_export fills the row in without a reload, with the figures the API lists.
    expect(row).to_have_attribute("data-state", "ready", timeout=RUN_WAIT_MS)
    listed = api(live_server, "GET", f"/api/runs/{run_id}/exports")["exports"][0]
    expect(row.locator(".export-agreement")).to_have_text(f"{100 * listed['agreement']:.1f} %")
    expect(row.locator("a.export-download")).to_have_attribute("href", f"/api/runs/{run_id}/exports/{export_id}/download")
    screens("export-ready")
