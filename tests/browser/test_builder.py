"""The model builder in real Chromium: presets, live shapes, errors at their layer, import, export, reload."""

import re

import pytest
from playwright.sync_api import expect

from tests.live import wait_until

pytestmark = pytest.mark.browser

# The classic Keras MNIST convnet on 8x8x1 digits, as model.summary() prints it.
CNN_ROWS = [
    ("conv2d (Conv2D)", "(None, 6, 6, 32)", "320"),
    ("conv2d_1 (Conv2D)", "(None, 4, 4, 64)", "18,496"),
    ("max_pooling2d (MaxPooling2D)", "(None, 2, 2, 64)", "0"),
    ("dropout (Dropout)", "(None, 2, 2, 64)", "0"),
    ("flatten (Flatten)", "(None, 256)", "0"),
    ("dense (Dense)", "(None, 128)", "32,896"),
    ("dropout_1 (Dropout)", "(None, 128)", "0"),
    ("dense_1 (Dense)", "(None, 10)", "1,290"),
]
CNN_TOTAL = "53,002"

PASTED = '''\
import keras
from keras import layers

model = keras.Sequential([
    keras.Input(shape=(8, 8, 1)),
    layers.Conv2D(16, kernel_size=(3, 3), activation="relu"),
    layers.MaxPooling2D(pool_size=(2, 2)),
    layers.Flatten(),
    layers.Dropout(0.5),
    layers.Dense(10, activation="softmax"),
])
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=64, epochs=3, validation_split=0.1)
'''


def card(page, index):
    """Give the layer card at this 0-based index."""
    return page.locator(f'#layer-list .layer-card[data-layer-index="{index}"]')


def field(page, index, name):
    """Give the field (label, input, error) of parameter `name` on layer `index`."""
    return card(page, index).locator(f'[data-field="{name}"]')


def summary_rows(page):
    """Give the summary table as the user reads it: (layer (type), output shape, param #) per row."""
    rows = page.locator("#summary-table tbody tr")
    return [tuple(c.strip() for c in rows.nth(i).locator("td").all_inner_texts()) for i in range(rows.count())]


def expect_builds(page):
    """Wait until the live check says the model builds."""
    expect(page.locator("#check-status")).to_have_text("✓ builds")


def total_params(page):
    """Give the 'Total params' line of the summary."""
    return page.locator("#summary-totals dd").first


def open_builder(page):
    """Open the builder and wait for its first check."""
    page.goto("/")
    expect_builds(page)


def import_python(page, source):
    """Paste a Python script into the import panel and import it."""
    page.locator("#import-format").select_option("python")
    page.locator("#import-source").fill(source)
    page.get_by_role("button", name="Import", exact=True).click()


def choose_preset(page, label):
    """Click a preset button and wait until the model it gives has been checked."""
    page.get_by_role("button", name=label, exact=True).click()
    expect_builds(page)


def test_mnist_convnet_preset_shows_keras_shapes_and_params(browser_page, screens):
    page = browser_page
    open_builder(page)
    expect(page.locator("#dataset-info")).to_contain_text("input (8, 8, 1)")
    expect(page.locator("#dataset-info")).to_contain_text("10 classes")
    screens("start")
    choose_preset(page, "MNIST convnet")
    expect(page.locator("#summary-table tbody tr")).to_have_count(8)
    expect(total_params(page)).to_have_text(re.compile(rf"^{CNN_TOTAL} \("))
    expect(page.locator("#summary-totals")).to_contain_text(re.compile(r"Activations:\s*~[\d.]+ [KMG]?B per batch of [\d,]+"))
    assert summary_rows(page) == CNN_ROWS
    expect(card(page, 0).locator(".layer-type")).to_have_text("Conv2D")
    expect(card(page, 0).locator(".layer-shape")).to_have_text("→ (None, 6, 6, 32)")
    expect(field(page, 0, "kernel_size").locator("input")).to_have_value("3, 3")
    expect(page.locator('[data-field="compile.optimizer"] select')).to_have_value("Adadelta")
    expect(page.locator('[data-field="compile.optimizer.learning_rate"] input')).to_have_value("1")
    expect(page.locator('[data-field="fit.batch_size"] input')).to_have_value("128")
    screens("mnist-convnet")


def test_a_bad_value_shows_its_error_at_the_field_and_fixing_clears_it(browser_page, screens):
    page = browser_page
    open_builder(page)
    choose_preset(page, "MNIST convnet")
    units = field(page, 5, "units")
    units.locator("input").fill("0")
    expect(units.locator(".field-error")).to_contain_text("units must be a whole number ≥ 1")
    expect(card(page, 5)).to_have_class(re.compile(r"\bhas-error\b"))
    expect(card(page, 4)).not_to_have_class(re.compile(r"\bhas-error\b"))
    failing = page.locator('#summary-table tbody tr[data-layer-index="5"]')
    expect(failing).to_have_class(re.compile(r"\bhas-error\b"))
    expect(failing).to_contain_text("✖ error")
    expect(page.locator("#check-status")).to_have_text("✖ 1 problem")
    screens("units-zero")

    units.locator("input").fill("128")
    expect_builds(page)
    expect(units.locator(".field-error")).to_be_hidden()
    expect(card(page, 5)).not_to_have_class(re.compile(r"\bhas-error\b"))
    expect(total_params(page)).to_have_text(re.compile(rf"^{CNN_TOTAL} \("))
    screens("fixed")


def test_moving_flatten_up_gives_a_conv2d_flat_input_and_moving_it_back_fixes_it(browser_page, screens):
    page = browser_page
    open_builder(page)
    choose_preset(page, "MNIST convnet")
    for index in (4, 3, 2, 1):   # Flatten climbs to the top, one click at a time
        page.get_by_role("button", name=f"Move layer {index} up").click()
    expect(card(page, 0).locator(".layer-type")).to_have_text("Flatten")
    error = card(page, 1).locator(".card-error")
    expect(error).to_contain_text("Conv2D needs 3-D input per sample (height, width, channels); layer 1 gets (64,)")
    expect(card(page, 1)).to_have_class(re.compile(r"\bhas-error\b"))
    expect(page.locator('#summary-table tbody tr[data-layer-index="1"]')).to_have_class(re.compile(r"\bhas-error\b"))
    screens("flatten-first")

    for index in (0, 1, 2, 3):
        page.get_by_role("button", name=f"Move layer {index} down").click()
    expect_builds(page)
    expect(error).to_be_hidden()
    assert summary_rows(page) == CNN_ROWS
    screens("flatten-back")


def test_add_a_bidirectional_layer_and_fix_it_in_its_nested_form(browser_page, screens):
    page = browser_page
    open_builder(page)
    choose_preset(page, "LSTM over rows")
    assert summary_rows(page)[:2] == [("reshape (Reshape)", "(None, 8, 8)", "0"), ("lstm (LSTM)", "(None, 64)", "18,688")]
    page.locator("#add-layer-type").select_option("Bidirectional")
    page.locator("#add-layer-position").select_option(label="after 0 reshape")
    page.get_by_role("button", name="Add layer").click()
    expect(card(page, 1).locator(".layer-type")).to_have_text("Bidirectional")
    # Its LSTM gives one vector per sample, but the LSTM after it needs a sequence.
    expect(card(page, 2).locator(".card-error")).to_contain_text("Set return_sequences=true")
    screens("bidirectional-added")

    nested = field(page, 1, "layer.return_sequences")
    nested.get_by_label("return sequences").check()
    expect_builds(page)
    assert summary_rows(page)[1] == ("bidirectional (Bidirectional)", "(None, 8, 64)", "10,496")
    page.get_by_role("button", name="Remove layer 1").click()
    expect_builds(page)
    expect(page.locator("#summary-table tbody tr")).to_have_count(3)
    screens("bidirectional-removed")


def test_fit_errors_sit_next_to_their_fit_field(browser_page, screens):
    page = browser_page
    open_builder(page)
    page.get_by_label("ModelCheckpoint").check()
    expect_builds(page)
    page.locator('[data-field="fit.validation"] select').select_option("none")
    monitor = page.locator('[data-field="fit.callbacks.checkpoint.monitor"]')
    expect(monitor.locator(".field-error")).to_contain_text("which this run will not log. It logs: loss, accuracy")
    # Only the fit is wrong: the layers still build, and the table still shows their shapes.
    expect(page.locator('#summary-table tbody tr[data-layer-index="3"]')).to_contain_text("(None, 10)")
    screens("monitor-error")
    monitor.locator("input").fill("accuracy")
    expect_builds(page)
    expect(monitor.locator(".field-error")).to_be_hidden()


def test_reload_keeps_the_model(browser_page, screens):
    page = browser_page
    open_builder(page)
    choose_preset(page, "LSTM over rows")
    field(page, 1, "units").locator("input").fill("48")
    expect(page.locator('#summary-table tbody tr[data-layer-index="1"]')).to_contain_text("(None, 48)")
    page.locator("#model-name").fill("rows-48")
    # The builder keeps the spec in localStorage on every edit: wait until it holds the last one
    # (page.evaluate, not wait_for_function, which the strict CSP refuses).
    wait_until(lambda: page.evaluate("""() => {
        const saved = JSON.parse(localStorage.getItem("keras-dashboard:builder:spec") || "null");
        return Boolean(saved) && saved.name === "rows-48" && String(saved.model.layers[1].units) === "48";
    }"""), 10, "the builder saving the edited spec")
    page.reload()
    expect_builds(page)
    expect(page.locator("#model-name")).to_have_value("rows-48")
    expect(field(page, 1, "units").locator("input")).to_have_value("48")
    assert [r[:2] for r in summary_rows(page)] == [
        ("reshape (Reshape)", "(None, 8, 8)"), ("lstm (LSTM)", "(None, 48)"), ("dense (Dense)", "(None, 10)")]
    screens("after-reload")


def test_import_pasted_python_code(browser_page, screens):
    page = browser_page
    open_builder(page)
    import_python(page, PASTED)
    expect(page.locator("#import-status")).to_contain_text("Imported 5 layers")
    # keras.Input's shape is not taken (the dataset gives it), and the note says on which line.
    expect(page.locator("#import-notes-list")).to_contain_text(re.compile(r"line 5\b"))
    expect_builds(page)
    assert summary_rows(page) == [
        ("conv2d (Conv2D)", "(None, 6, 6, 16)", "160"),
        ("max_pooling2d (MaxPooling2D)", "(None, 3, 3, 16)", "0"),
        ("flatten (Flatten)", "(None, 144)", "0"),
        ("dropout (Dropout)", "(None, 144)", "0"),
        ("dense (Dense)", "(None, 10)", "1,450"),
    ]
    expect(field(page, 0, "filters").locator("input")).to_have_value("16")
    expect(page.locator('[data-field="fit.epochs"] input')).to_have_value("3")
    expect(page.locator('[data-field="fit.batch_size"] input')).to_have_value("64")
    expect(page.locator('[data-field="fit.validation"] select')).to_have_value("fraction")
    expect(page.locator('[data-input="fit.validation.fraction"]')).to_have_value("0.1")
    screens("imported")


@pytest.mark.parametrize("button, format_value, marker", [
    ("train.py", "python", "Conv2D"),
    ("Keras JSON", "keras_json", '"class_name"'),
])
def test_export_then_import_gives_the_same_model(browser_page, screens, button, format_value, marker):
    page = browser_page
    open_builder(page)
    choose_preset(page, "MNIST convnet")
    page.get_by_role("button", name=button, exact=True).click()
    source = page.locator("#export-source")
    expect(source).to_have_value(re.compile(re.escape(marker)))
    download = page.locator("#export-download")
    expect(download).to_be_visible()
    assert download.get_attribute("href").startswith("blob:")
    screens(f"exported-{format_value}")

    exported = source.input_value()
    choose_preset(page, "Small MLP")
    page.locator("#import-format").select_option(format_value)
    page.locator("#import-source").fill(exported)
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("#import-status")).to_contain_text("Imported 8 layers")
    expect_builds(page)
    assert summary_rows(page) == CNN_ROWS
    # The compile options come back too (Keras JSON carries compile_config); train.py also keeps fit's.
    expect(page.locator('[data-field="compile.optimizer"] select')).to_have_value("Adadelta")
    expect(page.locator('[data-field="compile.optimizer.learning_rate"] input')).to_have_value("1")
    if format_value == "python":
        expect(page.locator('[data-field="fit.epochs"] input')).to_have_value("12")
        expect(page.locator('[data-field="fit.batch_size"] input')).to_have_value("128")
    screens(f"reimported-{format_value}")


IMDB_LSTM_SCRIPT = '''\
import keras

model = keras.Sequential([
    keras.layers.Embedding(2000, 32),
    keras.layers.LSTM(16),
    keras.layers.Dense(1, activation="sigmoid"),
])
model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
'''


def test_imdb_shows_num_words_and_maxlen_and_the_shapes_follow_them(browser_page, live_server, screens):
    from pathlib import Path

    from tests.keras_cache import write_imdb

    write_imdb(Path(live_server.env["KERAS_HOME"]) / "datasets", n_train=20, n_test=10)
    page = browser_page
    open_builder(page)
    expect(page.locator("#dataset-options")).to_be_hidden()   # digits: images take no options
    page.locator("#dataset-select").select_option("imdb")
    options = page.locator("#dataset-options")
    expect(options).to_be_visible()
    expect(options.locator("input")).to_have_count(2)
    page.locator("#dataset-option-num_words").fill("2000")
    page.locator("#dataset-option-num_words").dispatch_event("change")
    page.locator("#dataset-option-maxlen").fill("80")
    page.locator("#dataset-option-maxlen").dispatch_event("change")
    import_python(page, IMDB_LSTM_SCRIPT)
    expect_builds(page)
    assert summary_rows(page) == [("embedding (Embedding)", "(None, 80, 32)", "64,000"),
                                  ("lstm (LSTM)", "(None, 16)", "3,136"), ("dense (Dense)", "(None, 1)", "17")]
    expect(page.locator("#input-note")).to_have_text("input (None, 80)")
    screens("imdb-maxlen-80")
    page.locator("#dataset-option-maxlen").fill("40")
    page.locator("#dataset-option-maxlen").dispatch_event("change")
    expect(page.locator("#summary-table tbody tr").first).to_contain_text("(None, 40, 32)")
    expect(page.locator("#dataset-info")).to_contain_text("input (40)")
    page.locator("#dataset-option-maxlen").fill("0")   # the server's message sits at the option's field
    page.locator("#dataset-option-maxlen").dispatch_event("change")
    expect(page.locator('[data-field="dataset_options.maxlen"]')).to_contain_text("maxlen must be")
    screens("imdb-maxlen-error")
