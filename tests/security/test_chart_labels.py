"""Class names reach Plotly as text, never as its HTML-like markup: a label such as <a href=...>
shows as those characters in every chart that names classes (confusion matrix, top-5 bars, the
inside view's class bars and per-epoch lines), in real Chromium drawing with the real Plotly."""

import json
from pathlib import Path

import pytest

from webapp.web.vendor import plotly_dir

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
LABELS = ['<a href="https://evil.example/">link</a>', "<b>bold</b> & <i>it</i>", "x<br>y", "plain"]
SITE = "http://kd.test"
PAGE = """<!doctype html><div id="matrix"></div><div id="bars"></div><div id="classes"></div><div id="learning"></div>
<script src="/vendor/plotly.min.js"></script><script type="module" src="/draw.js"></script>"""
DRAW = """import { drawConfusion, drawTopBars } from "/static/js/lib/prediction-charts.js";
import { drawClassBars, drawLearning } from "/static/js/lib/inside-charts.js";
const labels = %s;
const byId = (id) => document.getElementById(id);
const probabilities = labels.map((_, i) => 0.4 - i / 10);
drawConfusion(byId("matrix"), labels, labels.map((_, t) => labels.map((_, p) => t + p)), () => {});
drawTopBars(byId("bars"), labels.map((name, i) => ({ class: i, name, p: probabilities[i] })));
drawClassBars(byId("classes"), { probabilities, names: labels, predicted: 0, chosen: 0, trueClass: null }, () => {});
drawLearning(byId("learning"), { epochs: [1, 2], probabilities: [probabilities, probabilities] }, labels, null);
document.body.dataset.drawn = "yes";"""


def serve(route):
    """Answer the page's requests from the project's files, as the dashboard serves them."""
    path = route.request.url[len(SITE):].split("?")[0]
    if path == "/":
        return route.fulfill(body=PAGE, content_type="text/html")
    if path == "/draw.js":
        return route.fulfill(body=DRAW % json.dumps(LABELS), content_type="text/javascript")
    if path == "/vendor/plotly.min.js":
        return route.fulfill(path=plotly_dir() / "plotly.min.js", content_type="text/javascript")
    return route.fulfill(path=ROOT / path.lstrip("/"), content_type="text/javascript")


def test_class_names_are_drawn_as_text_in_prediction_charts(chromium):
    page = chromium.new_page()
    try:
        page.route(f"{SITE}/**", serve)
        page.goto(f"{SITE}/")
        page.wait_for_selector("body[data-drawn=yes]")
        assert page.locator("svg a").count() == 0
        ticks = page.locator("#matrix .xtick text").all_text_contents()
        assert ticks == LABELS
        named = sorted(f"{i} · {name}" for i, name in enumerate(LABELS))
        assert sorted(page.locator("#bars .ytick text").all_text_contents()) == named
        assert sorted(page.locator("#classes .ytick text").all_text_contents()) == named
        assert sorted(page.locator("#learning .legendtext").all_text_contents()) == named
    finally:
        page.close()
