"""The spec checker: canonical forms, defaults, and a located message for every mistake."""

import pytest

from tests.specs import CNN, MLP, spec
from webapp.modelspec.validate import SpecError, log_keys, validate


def errors_of(data, **kw):
    with pytest.raises(SpecError) as info:
        validate(data, **kw)
    return [e.to_dict() for e in info.value.errors]


def test_canonical_form_fills_keras_defaults():
    s = validate(CNN, datasets=["digits"])
    conv = s.layers[0]
    assert conv == {"type": "Conv2D", "filters": 32, "kernel_size": [3, 3], "strides": [1, 1],
                    "padding": "valid", "dilation_rate": [1, 1], "activation": "relu", "use_bias": True}
    assert s.layers[2]["strides"] is None
    assert s.compile["optimizer"] == {"type": "Adadelta", "learning_rate": 1.0, "rho": 0.95,
                                      "epsilon": 1e-7, "clipnorm": None}
    assert s.fit["validation"] == "test" and s.fit["shuffle"] is True
    assert s.fit["callbacks"] == {"checkpoint": None, "early_stopping": None, "reduce_lr_on_plateau": None}


def test_canonical_form_is_a_fixed_point():
    once = validate(CNN).to_dict()
    assert validate(once).to_dict() == once


def test_int_kernel_size_is_spread_and_1d_is_an_int():
    s = validate(spec(model={"layers": [{"type": "Conv2D", "filters": 4, "kernel_size": 5},
                                        {"type": "Conv1D", "filters": 4, "kernel_size": [3]}]}))
    assert s.layers[0]["kernel_size"] == [5, 5]
    assert s.layers[1]["kernel_size"] == 3


def test_null_activation_means_linear_as_in_keras():
    s = validate(spec(model={"layers": [{"type": "Dense", "units": 3, "activation": None}]}))
    assert s.layers[0]["activation"] == "linear"


def test_optimizer_may_be_a_keras_string():
    s = validate(spec(compile={"optimizer": "rmsprop", "loss": "categorical_crossentropy"}))
    assert s.compile["optimizer"]["type"] == "RMSprop"
    assert s.compile["optimizer"]["learning_rate"] == 0.001


def test_unknown_layer_is_refused_with_a_suggestion():
    errs = errors_of(spec(model={"layers": [{"type": "Dence", "units": 3}]}))
    assert errs[0]["layer"] == 0 and errs[0]["field"] == "type"
    assert "Did you mean 'Dense'" in errs[0]["message"]


def test_lambda_is_not_allowed():
    errs = errors_of(spec(model={"layers": [{"type": "Lambda", "function": "x"}]}))
    assert "not an allowed layer" in errs[0]["message"]


def test_unknown_parameter_names_the_layer_and_suggests():
    errs = errors_of(spec(model={"layers": [{"type": "Flatten"}, {"type": "Dense", "unit": 3}]}))
    fields = {e["field"]: e for e in errs}
    assert fields["unit"]["layer"] == 1
    assert "Did you mean 'units'" in fields["unit"]["message"]
    assert fields["units"]["message"].startswith("Layer 1 (Dense) needs units")


@pytest.mark.parametrize("value", [0, -3, 2.5, "ten", True, None, [4]])
def test_bad_units_are_located(value):
    errs = errors_of(spec(model={"layers": [{"type": "Dense", "units": value}]}))
    assert errs == [{"layer": 0, "field": "units",
                     "message": errs[0]["message"]}]
    assert "units must be a whole number ≥ 1" in errs[0]["message"]


def test_every_error_is_reported_at_once():
    errs = errors_of({"dataset": "nope", "model": {"layers": [{"type": "Dropout", "rate": 1.5},
                                                               {"type": "Conv2D"}]},
                      "compile": {"optimizer": "adam", "loss": "hinge?"}}, datasets=["digits"])
    located = {(e["layer"], e["field"]) for e in errs}
    assert {(None, "dataset"), (0, "rate"), (1, "filters"), (1, "kernel_size"), (None, "compile.loss")} <= located


def test_bidirectional_wraps_only_recurrent_layers():
    ok = validate(spec(model={"layers": [{"type": "Bidirectional", "layer": {"type": "GRU", "units": 8}}]}))
    assert ok.layers[0]["layer"]["type"] == "GRU" and ok.layers[0]["merge_mode"] == "concat"
    errs = errors_of(spec(model={"layers": [{"type": "Bidirectional", "layer": {"type": "Dense", "units": 8}}]}))
    assert errs[0]["field"] == "layer.type"
    errs = errors_of(spec(model={"layers": [{"type": "Bidirectional", "layer": {"type": "LSTM", "units": -1}}]}))
    assert errs[0]["field"] == "layer.units" and errs[0]["layer"] == 0


def test_metric_must_fit_the_labels():
    errs = errors_of(spec(compile={"optimizer": "adam", "loss": "sparse_categorical_crossentropy",
                                   "metrics": ["precision"]}))
    assert errs[0]["field"] == "compile.metrics"


def test_callback_monitor_must_be_logged():
    bad = spec(fit={"validation": "none", "callbacks": {"checkpoint": {"monitor": "val_accuracy"}}})
    errs = errors_of(bad)
    assert errs[0]["field"] == "fit.callbacks.checkpoint.monitor"
    assert "It logs: loss, accuracy" in errs[0]["message"]


def test_log_keys_are_keras_keys():
    compile_spec = validate(MLP).compile
    assert log_keys(compile_spec, "test") == ["loss", "accuracy", "val_loss", "val_accuracy"]


@pytest.mark.parametrize("validation", ["test", "none", 0.1])
def test_validation_choices(validation):
    assert validate(spec(fit={"validation": validation})).fit["validation"] == validation


def test_validation_fraction_out_of_range():
    assert errors_of(spec(fit={"validation": 1.5}))[0]["field"] == "fit.validation"


def test_run_needs_compile_and_fit_but_check_does_not():
    bare = {"dataset": "digits", "model": MLP["model"]}
    assert validate(bare).compile is None
    assert {e["field"] for e in errors_of(bare, require_run=True)} == {"compile"}


@pytest.mark.parametrize("junk", [None, 3, "spec", [], {"model": []}, {"model": {"layers": "x"}},
                                  {"model": {"layers": [[]]}}, {"model": {"layers": [{"type": ["Dense"]}]}},
                                  {"compile": {"loss": ["x"], "metrics": [{}], "optimizer": [1]}}])
def test_junk_gives_spec_errors_not_crashes(junk):
    with pytest.raises(SpecError):
        validate(junk)


def test_fit_dynamics_and_find_lr_are_canonical_and_every_mistake_names_its_field():
    s = validate(MLP)
    assert s.fit["dynamics"] == {"every": 50} and s.fit["find_lr"] is None
    assert validate(spec(fit={"dynamics": False})).fit["dynamics"] is False
    assert validate(spec(fit={"dynamics": {"every": 3}, "find_lr": {"steps": 40}})).fit["find_lr"] == \
        {"min_lr": 1e-6, "max_lr": 1.0, "steps": 40}
    cases = [({"dynamics": {"every": 0}}, "fit.dynamics.every"), ({"dynamics": {"every": "x"}}, "fit.dynamics.every"),
             ({"dynamics": {"each": 5}}, "fit.dynamics.each"), ({"dynamics": 7}, "fit.dynamics"),
             ({"find_lr": {"min_lr": 0}}, "fit.find_lr.min_lr"), ({"find_lr": {"steps": 10**6}}, "fit.find_lr.steps"),
             ({"find_lr": {"min_lr": 0.1, "max_lr": 0.01}}, "fit.find_lr.max_lr"), ({"find_lr": [1]}, "fit.find_lr")]
    for fit, field in cases:
        assert [e["field"] for e in errors_of(spec(fit={"epochs": 1, **fit}))] == [field], fit


def test_fit_fine_tune_is_checked_and_needs_a_backbone():
    from webapp.modelspec.validate import validate as check

    backbone = {"type": "MobileNetV2", "alpha": 0.35, "input_shape": [96, 96, 3], "weights": None, "pooling": "avg"}
    base = {"dataset": "digits", "model": {"layers": [backbone, {"type": "Dense", "units": 10, "activation": "softmax"}]},
            "compile": {"optimizer": "adam", "loss": "categorical_crossentropy"}}
    fine = {"epochs": 2, "unfreeze": "all", "learning_rate": 1e-5}
    assert check({**base, "fit": {"epochs": 1, "fine_tune": fine}}, require_run=True).fit["fine_tune"] == fine
    assert "fine_tune" not in check({**base, "fit": {"epochs": 1}}, require_run=True).fit   # null: left out
    with pytest.raises(SpecError) as bad:
        check({**base, "fit": {"fine_tune": {"epochs": 0, "unfreeze": -3, "learning_rate": 0, "x": 1}}}, require_run=True)
    assert {e.field for e in bad.value.errors} == {"fit.fine_tune.epochs", "fit.fine_tune.unfreeze",
                                                   "fit.fine_tune.learning_rate", "fit.fine_tune.x"}
    with pytest.raises(SpecError) as none:
        check({**base, "model": {"layers": [{"type": "Flatten"}, {"type": "Dense", "units": 10}]},
               "fit": {"fine_tune": fine}}, require_run=True)
    assert [e.field for e in none.value.errors] == ["fit.fine_tune"]
