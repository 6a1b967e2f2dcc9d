"""Inside fit: the dynamics measured in the compiled train step, checked against Keras itself on a few hundred digits.

The model is the trainer's (`trainer.new_model` of a spec, its state built as the trainer builds
it), instrumented with `fit_dynamics.instrument`, trained in-process with plain `model.fit`.
"""

import math

import numpy as np
import pytest

from tests.specs import CNN, MLP, spec
from webapp.datasets.data import BUILTIN
from webapp.modelspec.build import init_keras
from webapp.modelspec.validate import validate
from webapp.runs import dynamics, dynamics_warnings, lr_range
from webapp.runs.paths import read_json

DIGITS = BUILTIN["digits"]
SAMPLES = 512


@pytest.fixture(scope="module")
def keras():
    """Give Keras, loaded as a trainer loads it."""
    return init_keras()


@pytest.fixture(scope="module")
def digits():
    """Give (x, labels, x_test, labels_test): 512 training digits scaled to [0, 1], integer labels."""
    data = DIGITS["loader"]()
    scale = np.float32(1 / data.pixel_max)
    return (data.x_train[:SAMPLES].astype("float32") * scale, data.y_train[:SAMPLES],
            data.x_test.astype("float32") * scale, data.y_test)


def model_of(keras, layers=None, optimizer=None, loss="sparse_categorical_crossentropy", base=MLP, seed=1):
    """Give the trainer's compiled model of a spec (its optimizer and metrics built, as the trainer builds them,
    from one sample whose label is as the loss takes it)."""
    from webapp.runs import startup, trainer

    keras.utils.set_random_seed(seed)
    body = spec(base, compile={"optimizer": optimizer or base["compile"]["optimizer"], "loss": loss, "metrics": ["accuracy"]})
    if layers is not None:
        body["model"] = {"layers": layers}
    model = trainer.new_model(validate(body, require_run=True), DIGITS)
    label = np.zeros(1, "int64") if loss.startswith("sparse") else np.eye(10, dtype="float32")[:1]
    startup.build_state(model, np.zeros((1, 8, 8, 1), "float32"), label)
    return model


def record(model, folder, x, y, every, epochs=1, batch_size=32, **kwargs):
    """Fit with the dynamics recorded every `every` steps; give (the TrainingDynamics callback, its events)."""
    from webapp.runs import fit_dynamics
    from webapp.runs.dynamics_callbacks import TrainingDynamics

    events = []
    cb = TrainingDynamics(fit_dynamics.instrument(model, every), lambda kind, data: events.append(data),
                          folder / dynamics.FILE, **kwargs)
    model.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0, callbacks=[cb])
    return cb, events


@pytest.mark.keras
def test_plain_sgd_moves_each_weight_by_rate_times_gradient_and_the_saved_model_has_the_last_norms(keras, digits, tmp_path):
    model = model_of(keras, optimizer={"type": "SGD", "learning_rate": 0.5})
    cb, events = record(model, tmp_path, *digits[:2], every=1)
    doc = read_json(tmp_path / dynamics.FILE)
    assert [s["step"] for s in doc["steps"]] == list(range(1, SAMPLES // 32 + 1)) and doc["every"] == 1
    assert {s["learning_rate"] for s in doc["steps"]} == {0.5}
    # Each weight's measured change is the weight after minus before, in float32: rate × gradient to float precision.
    for w in doc["weights"]:
        np.testing.assert_allclose(w["update_norm"], 0.5 * np.asarray(w["grad_norm"]), rtol=1e-4)
    path = tmp_path / "model.keras"
    model.save(path)
    saved = keras.saving.load_model(path)   # no custom objects: the class and its config are plain Keras
    assert type(saved) is keras.Sequential and "train_step" not in vars(saved)
    norms = {(layer.name, w.path.split(f"{layer.name}/", 1)[1]): float(np.linalg.norm(w.numpy()))
             for layer in saved.layers for w in layer.trainable_weights}
    assert {(w["layer"], w["name"]): pytest.approx(w["weight_norm"][-1], rel=1e-6) for w in doc["weights"]} == norms
    # The events carried every record once, and the warnings none.
    assert [s["step"] for e in events for s in e["steps"]] == [s["step"] for s in doc["steps"]]
    assert cb.failure is None and doc["warnings"] == []


@pytest.mark.keras
@pytest.mark.parametrize("every", [1, 3])
def test_the_instrumented_steps_train_exactly_as_kerass_own_train_step(keras, digits, tmp_path, every):
    # fit_dynamics rebuilds Keras's TensorFlow train step from private parts (`_make_function`,
    # `_compute_loss`, `_loss_tracker`, `_call_has_training_arg`, keras.src's loss unscaling): this
    # pins that, with Adam and dropout, it gives Keras's own weights, loss and metrics, step for step.
    layers = [{"type": "Flatten"}, {"type": "Dense", "units": 32, "activation": "relu"},
              {"type": "Dropout", "rate": 0.2}, {"type": "Dense", "units": 10, "activation": "softmax"}]
    x, y, x_val, y_val = digits[0], digits[1], digits[2][:64], digits[3][:64]
    results = []
    for instrumented in (False, True):
        model = model_of(keras, layers=layers, optimizer={"type": "Adam", "learning_rate": 0.01})
        keras.utils.set_random_seed(7)   # the same dropout masks in both fits
        if instrumented:
            from webapp.runs import fit_dynamics
            from webapp.runs.dynamics_callbacks import TrainingDynamics

            callbacks = [TrainingDynamics(fit_dynamics.instrument(model, every), lambda kind, data: None,
                                          tmp_path / dynamics.FILE)]
        else:
            callbacks = []
        history = model.fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0, callbacks=callbacks,
                             validation_data=(x_val, y_val))
        results.append((history.history, [w.numpy() for w in model.trainable_weights]))
    (plain_logs, plain_weights), (logs, weights) = results
    assert logs.keys() == plain_logs.keys()
    for key in plain_logs:
        np.testing.assert_allclose(logs[key], plain_logs[key], rtol=1e-5, err_msg=key)
    for got, want in zip(weights, plain_weights, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.keras
def test_with_momentum_the_update_is_larger_than_rate_times_gradient(keras, digits, tmp_path):
    model = model_of(keras, optimizer={"type": "SGD", "learning_rate": 0.05, "momentum": 0.9})
    record(model, tmp_path, *digits[:2], every=1)
    kernel = next(w for w in read_json(tmp_path / dynamics.FILE)["weights"] if w["name"] == "kernel")
    ratio = np.asarray(kernel["update_norm"]) / (0.05 * np.asarray(kernel["grad_norm"]))
    assert ratio[0] == pytest.approx(1.0, rel=1e-4)        # no velocity yet: the first step is plain SGD's
    assert np.median(ratio[4:]) > 2.0                       # then the velocity carries earlier gradients along


@pytest.mark.keras
def test_a_diverging_run_stops_in_its_first_epoch_at_the_batch_plain_keras_finds_nan(keras, digits, tmp_path):
    layers = [{"type": "Flatten"}, {"type": "Dense", "units": 10}]
    diverging = dict(layers=layers, optimizer={"type": "SGD", "learning_rate": 30.0}, loss="mean_squared_error")
    x, labels = digits[:2]
    y = np.eye(10, dtype="float32")[labels]
    plain, seen = model_of(keras, **diverging), []
    plain.fit(x, y, epochs=3, batch_size=32, shuffle=False, verbose=0, callbacks=[
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(math.isfinite(logs["loss"])))])
    nan_batch = seen.index(False) + 1
    model = model_of(keras, **diverging)
    cb, events = record(model, tmp_path, x, y, every=50, epochs=3)
    assert 1 < nan_batch <= SAMPLES // 32
    assert cb.failure.startswith(f"The loss became NaN at epoch 1, batch {nan_batch}")
    assert "learning_rate" in cb.failure and "dense" in cb.failure
    assert int(model.optimizer.iterations.numpy()) == nan_batch - 1      # the NaN batch's update was not applied
    assert cb.kept_good_weights and all(np.isfinite(w).all() for w in model.get_weights())
    warning = events[-1]["warnings"][-1]
    assert (warning["kind"], warning["epoch"], warning["batch"]) == ("nan", 1, nan_batch)


@pytest.mark.keras
def test_gradients_growing_step_over_step_warn_exploding_before_the_nan_stop(keras, digits, tmp_path):
    x, labels = digits[:2]
    model = model_of(keras, layers=[{"type": "Flatten"}, {"type": "Dense", "units": 10}],
                     optimizer={"type": "SGD", "learning_rate": 10.0}, loss="mean_squared_error")
    cb, _ = record(model, tmp_path, x, np.eye(10, dtype="float32")[labels], every=1)
    assert [(w["kind"], w["layer"]) for w in cb.doc["warnings"]] == [("exploding", "dense"), ("nan", "dense")]
    exploding, nan = cb.doc["warnings"]
    grads = [s for s, g in zip(cb.doc["steps"], cb.doc["weights"][0]["grad_norm"]) if s["step"] <= exploding["step"]]
    assert exploding["step"] < nan["step"] and len(grads) >= dynamics_warnings.EXPLODING_RECORDS + 1
    kernel = cb.doc["weights"][0]["grad_norm"][:len(grads)]
    assert kernel[-1] >= dynamics_warnings.EXPLODING_FACTOR * kernel[-1 - dynamics_warnings.EXPLODING_RECORDS]


@pytest.mark.keras
def test_a_rate_that_kills_relu_units_warns_dead_relu_naming_the_layer(keras, digits, tmp_path):
    layers = [{"type": "Flatten"}, {"type": "Dense", "units": 64, "activation": "relu"},
              {"type": "Dense", "units": 10, "activation": "softmax"}]
    model = model_of(keras, layers=layers, optimizer={"type": "SGD", "learning_rate": 10.0})
    cb, _ = record(model, tmp_path, *digits[:2], every=1)
    dead = [w for w in cb.doc["warnings"] if w["kind"] == "dead_relu"]
    assert [w["layer"] for w in dead] == [model.layers[1].name] and "LeakyReLU" in dead[0]["message"]
    # Those units really output 0 for every input: none of the sample's activations is positive.
    hidden = keras.ops.convert_to_numpy(model.layers[1](model.layers[0](digits[0][:256])))
    assert np.mean((hidden > 0).sum(axis=0) == 0) >= dynamics_warnings.DEAD_FRACTION


@pytest.mark.keras
def test_a_deep_sigmoid_stack_warns_that_its_first_layers_vanish(keras, digits, tmp_path):
    layers = [{"type": "Flatten"}] + [{"type": "Dense", "units": 32, "activation": "sigmoid"}] * 12 + \
        [{"type": "Dense", "units": 10, "activation": "softmax"}]
    model = model_of(keras, layers=layers, optimizer={"type": "SGD", "learning_rate": 0.1})
    cb, _ = record(model, tmp_path, *digits[:2], every=1)   # 16 records: one train function traced, not two
    dense = [layer.name for layer in model.layers if layer.weights]
    vanishing = [w["layer"] for w in cb.doc["warnings"] if w["kind"] == "vanishing"]
    assert dense[0] in vanishing and dense[1] in vanishing
    assert dense[-1] not in vanishing and dense[-2] not in vanishing
    assert all(dense.index(a) < dense.index(b) for a, b in zip(vanishing, vanishing[1:]))   # first layers first
    assert all("he_normal" in w["message"] and w["layer"] in w["message"] for w in cb.doc["warnings"])


@pytest.mark.keras
@pytest.mark.parametrize("base", [MLP, CNN], ids=["dense", "cnn"])
def test_the_builders_examples_train_with_no_warning(keras, digits, tmp_path, base):
    model = model_of(keras, base=base, loss="sparse_categorical_crossentropy")
    cb, _ = record(model, tmp_path, *digits[:2], every=1, epochs=2)
    assert len(cb.doc["steps"]) == 2 * SAMPLES // 32 and cb.doc["warnings"] == []


@pytest.mark.keras
def test_the_range_tests_suggestion_trains_digits_well(keras, digits, tmp_path):
    from webapp.runs import fit_dynamics
    from webapp.runs.dynamics_callbacks import LearningRateRangeTest, TrainingDynamics

    x, labels, x_test, labels_test = digits
    sgd = {"type": "SGD", "learning_rate": 1e-4}
    model = model_of(keras, optimizer=sgd)
    probe = fit_dynamics.instrument(model, 1)
    test = LearningRateRangeTest(probe, tmp_path / lr_range.FILE, 1e-4, 100.0, 100)
    watch = TrainingDynamics(probe, lambda kind, data: None, tmp_path / dynamics.FILE, stop_on_nan=False)
    model.fit(x, labels, epochs=7, batch_size=32, verbose=0, callbacks=[test, watch])
    found = lr_range.load(tmp_path)
    assert found == test.result and 10 < len(found["lrs"]) < 100          # the loss ran away before 100
    assert found["lrs"][:2] == pytest.approx([1e-4, 1e-4 * 1e6 ** (1 / 99)])
    suggested = found["suggested"]
    assert 1e-3 < suggested < found["lrs"][-1]
    fresh = model_of(keras, optimizer={"type": "SGD", "learning_rate": suggested}, seed=2)
    fresh.fit(x, labels, epochs=5, batch_size=32, verbose=0)
    assert fresh.evaluate(x_test, labels_test, verbose=0)[1] > 0.85


def test_thinning_keeps_at_most_most_records_on_a_doubling_stride():
    doc = dynamics.empty(1, [("dense", "kernel")])
    for step in range(1, 1001):
        if (step - 1) % doc["every"] == 0:
            dynamics.append(doc, {"step": step, "epoch": 1, "batch": step, "loss": 1.0, "learning_rate": 0.1}, [(1, 2, 3)])
            dynamics.thin(doc, most=50)
        assert len(doc["steps"]) <= 50
    assert doc["every"] == 32 and all((s["step"] - 1) % 32 == 0 for s in doc["steps"])
    assert len(doc["weights"][0]["grad_norm"]) == len(doc["steps"])


def test_an_event_merges_after_the_stored_records_only():
    stored = dynamics.empty(2, [("dense", "kernel")])
    for step in (1, 3, 5):
        dynamics.append(stored, {"step": step, "epoch": 1, "batch": step, "loss": 1, "learning_rate": 0.1}, [(step, 0, 0)])
    older = dynamics.since(stored, 1)                        # an event the file already holds
    dynamics.append(stored, {"step": 7, "epoch": 1, "batch": 7, "loss": float("nan"), "learning_rate": 0.1}, [(7, 0, 0)])
    newer = dynamics.since(stored, 5)
    newer["warnings"] = [dynamics_warnings.nan_warning(1, 7, 7, float("nan"), "dense")]
    doc = dynamics.answer(None, [], 2)
    doc["weights"] = [{"layer": "dense", "name": "kernel", "grad_norm": [], "weight_norm": [], "update_norm": []}]
    for part in (dynamics.since(stored, 0), older, newer, newer):
        dynamics.merge(doc, part)
    assert [s["step"] for s in doc["steps"]] == [1, 3, 5, 7] and doc["weights"][0]["grad_norm"] == [1, 3, 5, 7]
    assert doc["steps"][-1]["loss"] is None and len(doc["warnings"]) == 1


def test_the_range_test_stops_on_a_runaway_loss_and_suggests_the_steepest_fall():
    lrs = [lr_range.rate(1e-4, 10.0, 60, i) for i in range(60)]
    assert lrs[0] == 1e-4 and lrs[-1] == pytest.approx(10.0)
    # A loss flat at first, falling fastest around 1e-2, lowest near 1e-1, then blowing up.
    losses = [2.3 - 2 / (1 + math.exp(-3 * (math.log10(lr) + 2))) + max(0.0, math.log10(lr) + 1) ** 3 * 20 for lr in lrs]
    stop = next(i for i in range(1, 61) if lr_range.runaway(losses[:i]))
    assert 40 < stop < 60 and not lr_range.runaway(losses[:30])
    suggested = lr_range.suggest(lrs[:stop], losses[:stop])
    assert 3e-3 < suggested < 6e-2
    assert lr_range.runaway([2.0, float("nan")]) and lr_range.suggest(lrs[:5], [2.0] * 5) is None
