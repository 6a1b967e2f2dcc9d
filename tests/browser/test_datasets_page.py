"""The datasets pages in real Chromium: what is available, uploads good and bad, a dataset's images and counts."""

import json
import re
import urllib.request

import numpy as np
import pytest
from playwright.sync_api import expect

from tests.conftest import require

pytestmark = pytest.mark.browser

HOSTILE_NAME = "<img src=x onerror=alert(1)> shapes"
CLASS_NAMES = ["cat", "dog", "bird"]


def api_datasets(base_url):
    """Give GET /api/datasets as a script sees it."""
    request = urllib.request.Request(f"{base_url}/api/datasets", headers=base_url.headers())
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)["datasets"]


def small_npz(path, y_train, y_test):
    """Write an .npz as numpy.savez does: 6x6 uint8 images, one bright column per class, and class names."""
    def images(labels):
        """Give one image per label."""
        x = np.zeros((len(labels), 6, 6), dtype=np.uint8)
        for i, label in enumerate(labels):
            x[i, :, 1 + 2 * label] = 255
            x[i, i % 6, :] = 120   # a second stroke, so no two images are the same
        return x

    np.savez(path, x_train=images(y_train), y_train=np.array(y_train), x_test=images(y_test),
             y_test=np.array(y_test), class_names=np.array(CLASS_NAMES))
    return path


def upload(page, name, path):
    """Fill the upload form and send it; give the server's answer."""
    page.locator("#upload-name").fill(name)
    page.locator("#upload-file").set_input_files(str(path))
    with page.expect_response(re.compile(r"/api/datasets$")) as answer:
        page.get_by_role("button", name="Upload", exact=True).click()
    return answer.value


def expect_images_loaded(images):
    """Check that every image of the locator loaded (complete, with a real width), scrolling each into view."""
    assert images.count() > 0
    for i in range(images.count()):
        image = images.nth(i)
        image.scroll_into_view_if_needed()   # they load lazily
        expect(image).to_have_js_property("complete", True)
        assert image.evaluate("img => img.naturalWidth") > 0, f"image {image.get_attribute('src')} did not load"


def test_the_list_shows_digits_available_and_uncached_keras_datasets_with_their_message(
        browser_page, live_server, screens):
    page = browser_page
    datasets = {d["id"]: d for d in api_datasets(live_server)}
    page.goto("/datasets")
    expect(page.locator("#datasets-table tbody tr")).to_have_count(len(datasets))
    digits = page.locator('#datasets-table tr[data-id="digits"]')
    expect(digits.locator(".ds-ok")).to_have_text("available")
    expect(digits).not_to_have_class(re.compile(r"\bds-unavailable\b"))
    expect(digits).to_contain_text("8 × 8 × 1")
    expect(digits.locator("td").nth(4)).to_have_text("1437")
    screens("list")

    missing = [d for d in datasets.values() if d["source"] == "keras" and not d["available"]]
    for d in missing:
        row = page.locator(f'#datasets-table tr[data-id="{d["id"]}"]')
        expect(row).to_have_class(re.compile(r"\bds-unavailable\b"))
        expect(row.locator(".ds-no")).to_have_text("not available")
        expect(row.locator(".ds-message")).to_have_text(d["message"])
        expect(row.locator(".ds-ok")).to_have_count(0)
    require(missing, "a keras.datasets dataset that is not in this machine's Keras cache")
    page.locator(f'#datasets-table tr[data-id="{missing[0]["id"]}"] a').click()
    expect(page.locator(".error-box.ds-message")).to_have_text(missing[0]["message"])
    expect(page.locator(".ds-grid img")).to_have_count(0)
    screens("unavailable-dataset")


def test_a_bad_file_shows_the_servers_message_next_to_the_form(browser_page, live_server, tmp_path, screens):
    page = browser_page
    bad = tmp_path / "notes.npz"
    bad.write_text("These are my notes, not numpy arrays.\n")
    page.goto("/datasets")
    answer = upload(page, "my notes", bad)
    assert answer.status == 400
    status = page.locator(".ds-upload #upload-status")
    expect(status).to_have_text(answer.json()["error"]["message"])
    expect(status).to_contain_text("not an .npz archive")
    expect(status).to_have_attribute("data-kind", "error")
    assert page.url.endswith("/datasets")
    assert "my notes" not in [d["name"] for d in api_datasets(live_server)]
    screens("bad-file")


def test_an_uploaded_npz_opens_with_its_images_and_counts_its_name_stays_text_and_its_owner_deletes_it(
        browser_page, live_server, tmp_path, screens, no_dialogs):
    page = browser_page
    y_train = [0] * 10 + [1] * 8 + [2] * 6
    y_test = [0, 0, 0, 1, 1, 2, 2, 2, 2]
    path = small_npz(tmp_path / "shapes.npz", y_train, y_test)
    page.goto("/datasets")
    answer = upload(page, HOSTILE_NAME, path)
    assert answer.status == 201
    # The page opens the new dataset at once (its answer's body is gone with the navigation).
    page.wait_for_url(re.compile(r"/datasets/[^/]+$"))
    ds_id = page.url.rsplit("/", 1)[1]
    assert (ds_id, HOSTILE_NAME) in [(d["id"], d["name"]) for d in api_datasets(live_server)]

    expect(page.locator("h1")).to_have_text(HOSTILE_NAME)
    expect(page.locator('img[src="x"]')).to_have_count(0)
    facts = page.locator(".ds-facts")
    for term, value in [("Classes", "3"), ("Training images", "24"), ("Test images", "9")]:
        expect(facts.locator(f'dt:text-is("{term}") + dd')).to_have_text(value)
    expect(facts).to_contain_text("6 × 6 × 1")

    rows = page.locator(".ds-counts tbody tr")
    expect(rows).to_have_count(3)
    for k, name in enumerate(CLASS_NAMES):
        cells = rows.nth(k).locator("td")
        expect(cells.nth(0)).to_have_text(f"{k} · {name}")
        expect(cells.nth(1)).to_have_text(str(y_train.count(k)))
        expect(cells.nth(2)).to_have_text(str(y_test.count(k)))

    train_grid = page.locator('.ds-grid[data-split="train"]')
    expect(train_grid).to_be_visible()
    expect(train_grid.locator(".ds-row")).to_have_count(3)
    for k in range(3):
        expect(train_grid.locator(".ds-row").nth(k).locator("img").first).to_be_visible()
    expect_images_loaded(train_grid.locator("img"))
    screens("train-samples")

    page.get_by_role("button", name="Test", exact=True).click()
    test_grid = page.locator('.ds-grid[data-split="test"]')
    expect(test_grid).to_be_visible()
    expect(train_grid).to_be_hidden()
    expect_images_loaded(test_grid.locator("img"))
    screens("test-samples")

    page.goto("/datasets")
    expect(page.locator(f'#datasets-table tr[data-id="{ds_id}"] a')).to_have_text(HOSTILE_NAME)
    page.goto("/")
    expect(page.locator(f'#dataset-select option[value="{ds_id}"]')).to_contain_text(HOSTILE_NAME)
    expect(page.locator('img[src="x"]')).to_have_count(0)
    screens("listed")

    page.goto(f"/datasets/{ds_id}")
    page.get_by_role("button", name="Delete dataset").click()
    expect(page.locator("#ds-delete-confirm")).to_contain_text(HOSTILE_NAME)
    screens("delete-confirm")
    page.get_by_role("button", name="Delete for good").click()
    page.wait_for_url(re.compile(r"/datasets$"))
    expect(page.locator(f'#datasets-table tr[data-id="{ds_id}"]')).to_have_count(0)
    assert ds_id not in [d["id"] for d in api_datasets(live_server)]
