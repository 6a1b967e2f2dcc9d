"""A trainer's head start (runs/startup.py): the spare's warm-up leaves no trace in the run; the state built before fit changes no number."""

import numpy as np
import pytest

from tests.specs import MLP, spec
from webapp.runs import startup, trainer
from webapp.modelspec.build import init_keras
from webapp.modelspec.validate import validate

pytestmark = pytest.mark.keras
keras = init_keras()
DIGITS = {"input_shape": [8, 8, 1], "num_classes": 10}
CHECKED = validate(spec(MLP), require_run=True)


def data():
    """Give (x, y): 64 random 8x8x1 images and their one-hot labels of 10 classes."""
    rng = np.random.default_rng(0)
    return rng.random((64, 8, 8, 1), dtype=np.float32), np.eye(10, dtype="float32")[rng.integers(0, 10, 64)]


def trained(prepare):
    """Seed, build the run's model as the trainer does, call prepare(model, x, y), fit one epoch; give (model, traces)."""
    keras.utils.set_random_seed(7)
    model = trainer.new_model(CHECKED, DIGITS)
    traces = []
    step = model.train_step
    model.train_step = lambda batch: traces.append(1) or step(batch)   # runs once per trace of the train function
    x, y = data()
    prepare(model, x, y)
    model.fit(x, y, batch_size=16, epochs=1, shuffle=True, verbose=0)
    return model, len(traces)


@pytest.mark.parametrize("interrupted", [False, True])   # True: a run came after the feed's step
def test_after_the_warm_up_a_run_gets_a_fresh_process_names_and_the_same_seeded_weights(tmp_path, interrupted):
    keras.backend.clear_session()   # what a fresh process has
    fresh, _ = trained(lambda *_: None)
    startup.warm_up(lambda: interrupted)
    warmed, _ = trained(lambda *_: None)
    names = [layer.name for layer in warmed.layers]
    assert names == [layer.name for layer in fresh.layers] == ["flatten", "dense", "dropout", "dense_1"]
    warmed.save(tmp_path / "model.keras")
    assert [layer.name for layer in keras.saving.load_model(tmp_path / "model.keras").layers] == names
    for a, b in zip(fresh.get_weights(), warmed.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_state_built_before_fit_saves_a_trace_and_changes_no_number():
    keras.backend.clear_session()
    plain, plain_traces = trained(lambda *_: None)
    keras.backend.clear_session()
    built, built_traces = trained(startup.build_state)
    assert (plain_traces, built_traces) == (2, 1)   # Keras creates the variables in the first trace, TF traces again
    for a, b in zip(plain.get_weights() + plain.optimizer.variables, built.get_weights() + built.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert [v.name for v in built.metrics_variables] == [v.name for v in plain.metrics_variables]


def fresh_python(code):
    """Run `code` in a new interpreter that imports this webapp; give its (stdout, stderr); fail with its stderr."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    done = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr


def test_a_trainer_imports_tensorflow_without_sklearn_which_imports_as_usual_after():
    # Keras's optional scikit-learn wrappers cost 1.4 of the import's 7.7 CPU s (build._without_sklearn).
    out, err = fresh_python("import sys\nfrom webapp.modelspec import build\nkeras = build.init_keras(gpu=True)\n"
                            "print('sklearn' in sys.modules, keras.layers.Dense(2).units)\n"
                            "from sklearn.datasets import load_digits\nprint(load_digits().images.shape)")
    assert out.split("\n")[:2] == ["False 2", "(1797, 8, 8)"]
    # TensorFlow's start-up lines on a machine without a GPU ("E0000 ... failed call to cuInit") stay off the terminal.
    assert not any(word in err for word in ("cuInit", "cuda drivers", "oneDNN", "absl::InitializeLog")), err


def test_the_web_process_can_load_the_digits_while_it_imports_tensorflow():
    # The web process imports TensorFlow on a thread while requests go on: scikit-learn stays importable.
    out, err = fresh_python("import sys, time\nfrom webapp.modelspec import build\nbuild.warm_in_background()\n"
                            "while 'tensorflow' not in sys.modules: time.sleep(0.01)\n"
                            "from sklearn.datasets import load_digits\nprint(load_digits().images.shape, build.keras_loaded())\n"
                            "print('a request failed meanwhile', file=sys.stderr, flush=True)\n"
                            "build.init_keras()")
    assert out.strip() == "(1797, 8, 8) False"   # loaded while the import was still going on
    # What another thread wrote to stderr while TensorFlow's start-up noise was held comes out, after.
    assert "a request failed meanwhile" in err and "cuInit" not in err
