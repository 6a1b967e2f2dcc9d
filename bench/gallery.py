"""The gallery after a run ends, and predict-one: how long a user waits.

One invocation starts `python wsgi.py` on a temporary data dir (tests/live.py) and prints:

1. first gallery page: a run ends (its status is seen completed by polling GET /api/runs/ID every
   20 ms); then, as a browser opens the gallery: the page's HTML (timed apart: the first one after
   the server starts loads the dataset in the web process), GET /api/runs/ID/predictions?limit=100
   (the web process loads predictions.npz for the first time), then that page's one sprite of 100
   thumbnails (.../predictions/sprite.png?...&scale=1&v=VERSION, which the page enlarges; goal
   ≤ 300 ms for both). Then the same sprite for another viewer, its 304, page 2, a filtered
   confidence-sorted page, and for comparison the 100 single thumbnails the page fetched before
   sprites (6 at a time as a browser); beside them, how long the trainer took to predict the whole
   test split (predictions.npz written after model.keras). On the built-in digits (360 test
   images) and a synthetic 28×28 upload with 10000 test images (MNIST's test size). The gallery's
   requests go as a browser's do, with the session cookie of the login form (an API token's check
   writes its last use on every request).
2. predict-one: POST /api/runs/ID/predict with a 280×280 PNG drawing, the first call (the web
   process loads model.keras) and warm calls (median, p95); beside them, plain Keras in this
   process: model.predict(x, verbose=0) and model.predict_on_batch(x) on one image.

Usage: .venv/bin/python bench/gallery.py [--repeat 2] [--calls 20]
"""

import argparse
import io
import math
import os
import re
import secrets
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import requests
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.measure import ms, stats  # noqa: E402
from tests.live import LiveServer  # noqa: E402
from webapp.runs import paths  # noqa: E402

MLP = [{"type": "Flatten"}, {"type": "Dense", "units": 64, "activation": "relu"},
       {"type": "Dense", "units": 10, "activation": "softmax"}]


def synthetic(path, n_train, n_test, seed=0):
    """Write an .npz of 28×28×1 uint8 digit-like images (a bright template per class on black, plus noise)."""
    rng = np.random.default_rng(seed)
    templates = (rng.random((10, 28, 28, 1)) > 0.8) * 200

    def split(n):
        """Give n images and their labels."""
        y = rng.integers(0, 10, n)
        return np.clip(templates[y] + rng.integers(0, 40, (n, 28, 28, 1)), 0, 255).astype(np.uint8), y.astype(np.uint8)

    (x_train, y_train), (x_test, y_test) = split(n_train), split(n_test)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


def drawing():
    """Give the PNG bytes of a 280×280 canvas with a white "7" on black."""
    img = Image.new("L", (280, 280), 0)
    ImageDraw.Draw(img).line([(60, 50), (220, 50), (120, 240)], fill=255, width=26)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def train(server, dataset, name):
    """Train one epoch of a small MLP; give (run id, the perf_counter time its end was seen)."""
    spec = {"name": name, "dataset": dataset, "model": {"layers": MLP},
            "compile": {"optimizer": "adam", "loss": "categorical_crossentropy", "metrics": ["accuracy"]},
            "fit": {"epochs": 1, "batch_size": 64, "validation": "none"}}
    run_id = server.post("/api/runs", json=spec, expect=201).json()["run"]["id"]
    run = server.wait_run(run_id, lambda r: r["status"] not in ("queued", "running"), timeout=900, poll=0.02)
    seen = time.perf_counter()
    if run["status"] != "completed":
        raise SystemExit(f"run {run_id} ended {run['status']}: {run['error']}{server.output()}")
    return run_id, seen


class Browser:
    """A signed-in browser's requests: the session cookie from the login form (no API token, whose
    check writes the token's last use on every request), so the figures are what a page pays."""

    def __init__(self, server, name, password):
        self.url, self.http = server.url, requests.Session()
        form = self.http.get(f"{self.url}/login", timeout=60).text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        r = self.http.post(f"{self.url}/login", data={"csrf_token": csrf, "name": name, "password": password},
                           timeout=60, allow_redirects=False)
        assert r.status_code == 302, (r.status_code, r.text[:500])

    def get(self, path, expect=200, headers=None):
        """GET a path as the page would; give the response (its status must be `expect`)."""
        r = self.http.get(self.url + path, headers=headers or {}, timeout=60)
        assert r.status_code == expect, (path, r.status_code, r.text[:500])
        return r


def sprite(browser, run_id, query, scale, version, tag=None):
    """GET a page's sprite as the gallery asks for it: at scale 1 (the page enlarges each tile `scale` times
    itself), pinned to the predictions' version; give the response."""
    return browser.get(f"/api/runs/{run_id}/predictions/sprite.png?{query}&scale=1&v={version}",
                       expect=304 if tag else 200, headers={"If-None-Match": tag} if tag else None)


def page(browser, run_id, query, scale):
    """Load one gallery page as the browser does: the JSON, then its one sprite; give the JSON."""
    body = browser.get(f"/api/runs/{run_id}/predictions?{query}").json()
    if body["items"]:   # nothing matches: the page asks for no sprite
        assert sprite(browser, run_id, query, scale, body["version"]).content[:4] == b"\x89PNG"
    return body


def first_page(browser, run_id, scale):
    """Give the timings (ms) of the gallery's pages right after the run ended, the sprite beside 100 single images."""
    first = "offset=0&limit=100"
    t_html = time.perf_counter()
    assert 'id="page-data"' in browser.get(f"/runs/{run_id}/gallery").text   # the page itself
    t0 = time.perf_counter()
    body = page(browser, run_id, first, scale)
    t_page = time.perf_counter()
    r = sprite(browser, run_id, first, scale, body["version"])      # another viewer: drawn already
    t_again = time.perf_counter()
    sprite(browser, run_id, first, scale, body["version"], tag=r.headers["ETag"])
    t_304 = time.perf_counter()
    page(browser, run_id, "offset=100&limit=100", scale)
    t_next = time.perf_counter()
    page(browser, run_id, "offset=0&limit=100&filter=wrong&sort=confidence", scale)
    t_filtered = time.perf_counter()
    with ThreadPoolExecutor(max_workers=6) as pool:   # before sprites: 100 requests, 6 at a time as a browser
        sizes = list(pool.map(lambda i: len(browser.get(f"{i['image_url']}?scale={scale}").content), body["items"]))
    t_singles = time.perf_counter()
    assert len(body["items"]) == 100 and all(sizes)
    return {"html": ms(t0 - t_html), "first": ms(t_page - t0), "again": ms(t_again - t_page), "304": ms(t_304 - t_again),
            "next": ms(t_next - t_304), "filtered": ms(t_filtered - t_next), "singles": ms(t_singles - t_filtered)}


FIGURES = (("html", "the page GET /runs/ID/gallery (first: loads the dataset)", ""),
           ("first", "first page: JSON + its sprite (first read, first draw)", "goal ≤ 300 ms"),
           ("again", "the same sprite for another viewer (drawn already)", ""),
           ("304", "the same sprite revalidated (If-None-Match → 304)", ""),
           ("next", "page 2: JSON + sprite", "goal ≤ 300 ms"),
           ("filtered", "wrong, by confidence: JSON + sprite", "goal ≤ 300 ms"),
           ("singles", "before: the page's 100 single thumbnails (6 at a time)", "(was the cost)"))


def split_prediction_ms(server, run_id):
    """Give how long after model.keras the trainer wrote predictions.npz (the whole-split predict)."""
    folder = paths.run_dir(server.data_dir, run_id)
    return ms((folder / "predictions.npz").stat().st_mtime - (folder / "model.keras").stat().st_mtime)


def gallery(args, server, browser, dataset, label, test_size, side):
    """Print the first-page figures of `repeat` runs on one dataset; give the last run's id."""
    scale = max(1, math.ceil(72 / side))
    rows, split_ms = [], []
    for i in range(args.repeat):
        run_id, _ = train(server, dataset, f"bench-gallery-{dataset}-{i}")
        rows.append(first_page(browser, run_id, scale))
        split_ms.append(split_prediction_ms(server, run_id))
    print(f"\nfirst gallery page after a run ends: {label}, {test_size} test images, thumbnails ?scale={scale} "
          f"({side * scale} px), {args.repeat} runs; load average {os.getloadavg()[0]:.2f}")
    for key, text, goal in FIGURES:
        print(f"  {text:<58} {stats([r[key] for r in rows])}   {goal}")
    print(f"  {'trainer: predict the test split + write predictions.npz':<58} {stats(split_ms)}   (before the end is reported)")
    return run_id


def predict_one(args, server, run_id, label):
    """Print predict-one latency over HTTP, cold and warm, beside plain Keras on one image."""
    png = drawing()
    timings = []
    for _ in range(args.calls + 1):
        t = time.perf_counter()
        server.post(f"/api/runs/{run_id}/predict", files={"image": ("drawing.png", png, "image/png")}, expect=200)
        timings.append(ms(time.perf_counter() - t))
    from webapp.modelspec.build import init_keras

    keras = init_keras()
    model = keras.saving.load_model(paths.artifact(server.data_dir, run_id, paths.MODEL), compile=False)
    x = np.zeros((1, *model.input_shape[1:]), dtype=np.float32)
    plain, on_batch = [], []
    for _ in range(args.calls + 5):
        t = time.perf_counter()
        model.predict(x, verbose=0)
        plain.append(ms(time.perf_counter() - t))
        t = time.perf_counter()
        model.predict_on_batch(x)
        on_batch.append(ms(time.perf_counter() - t))
    print(f"\npredict-one: {label}, a 280×280 PNG drawing, {args.calls} warm calls")
    print(f"  {'POST /api/runs/ID/predict, first call (loads model.keras)':<58} {timings[0]:8.1f} ms")
    print(f"  {'POST /api/runs/ID/predict, warm':<58} {stats(timings[1:])}")
    print(f"  {'plain Keras in-process: model.predict(x, verbose=0)':<58} {stats(plain[5:])}")
    print(f"  {'plain Keras in-process: model.predict_on_batch(x)':<58} {stats(on_batch[5:])}")


def main():
    """Start a server, train small runs, and print the gallery and predict-one figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=2, help="runs per dataset")
    parser.add_argument("--calls", type=int, default=20, help="warm predict-one calls")
    parser.add_argument("--test", type=int, default=10000, help="test images of the synthetic upload")
    args = parser.parse_args()
    print(f"bench/gallery.py on {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} at the start")
    with tempfile.TemporaryDirectory(prefix="kd-bench-gallery-") as tmp:
        tmp = Path(tmp)
        password = secrets.token_urlsafe(16)
        server = LiveServer(tmp / "data").start().sign_in(password=password)
        browser = Browser(server, "admin", password)
        try:
            npz = synthetic(tmp / "synthetic.npz", 2000, args.test)
            with open(npz, "rb") as f:
                upload = server.post("/api/datasets", files={"file": (npz.name, f)}, data={"name": "synthetic"}, expect=201)
            synthetic_id = upload.json()["dataset"]["id"]
            digits_run = gallery(args, server, browser, "digits", "built-in digits (8×8)", 360, 8)
            synthetic_run = gallery(args, server, browser, synthetic_id, "synthetic upload (28×28)", args.test, 28)
            predict_one(args, server, digits_run, "digits MLP")
            predict_one(args, server, synthetic_run, "28×28 MLP")
        finally:
            server.close()
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end (other work on the machine shifts every figure)")


if __name__ == "__main__":
    main()
