"""Plain Optuna + Keras, no dashboard: the baseline bench/sweeps.py compares a sweep with.

The same search in one process, as a script would do it: `study.optimize` with an objective that
builds the digits MLP with the trial's units and learning rate (keras.Sequential, Adam, categorical
cross-entropy, accuracy), fits it with the test split as validation data, and gives val_accuracy at
the last epoch. The data is the dashboard's digits: scikit-learn's 8x8 digits split 80/20
(stratified, random_state=0), pixels / 16, one-hot float32 labels. Prints one line of JSON:
  {"imported_at": time.time() once TensorFlow and Optuna are imported, "end": ... after the last trial,
   "trials": [{"start", "first_batch", "end", "value", "params"}]}

Usage: python bench/sweep_baseline.py --trials 8 --epochs 3 --batch-size 64 --space JSON
(JSON: {PATH: FIELD} over model.layers.1.units and compile.optimizer.learning_rate, as the sweep's)
"""

import argparse
import json
import os
import time


def digits():
    """Give (x_train, y_train, x_test, y_test) as the dashboard's trainer prepares the built-in digits."""
    import keras
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = (bunch.images[..., None] / 16.0).astype("float32")
    x_train, x_test, y_train, y_test = train_test_split(x, bunch.target, test_size=0.2, random_state=0,
                                                        stratify=bunch.target)
    onehot = lambda y: keras.utils.to_categorical(y, 10).astype("float32")   # noqa: E731
    return x_train, onehot(y_train), x_test, onehot(y_test)


def suggest(trial, path, field):
    """Give the trial's value of one searched field (Optuna's suggest_* with the sweep's FIELD)."""
    if field["type"] == "int":
        return trial.suggest_int(path, field["low"], field["high"], step=field.get("step", 1), log=field["log"])
    return trial.suggest_float(path, field["low"], field["high"], log=field["log"])


def main():
    """Run the study and print the timings as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--space", required=True)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    imported_at = time.time()
    space = json.loads(args.space)
    x, y, x_test, y_test = digits()
    trials = []

    class FirstBatch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            trials[-1].setdefault("first_batch", time.time())

    def objective(trial):
        trials.append({"start": time.time()})
        params = {path: suggest(trial, path, field) for path, field in space.items()}
        model = keras.Sequential([keras.Input(shape=x.shape[1:]), keras.layers.Flatten(),
                                  keras.layers.Dense(params["model.layers.1.units"], activation="relu"),
                                  keras.layers.Dropout(0.2), keras.layers.Dense(10, activation="softmax")])
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=params["compile.optimizer.learning_rate"]),
                      loss="categorical_crossentropy", metrics=["accuracy"])
        history = model.fit(x, y, epochs=args.epochs, batch_size=args.batch_size, shuffle=True, verbose=0,
                            validation_data=(x_test, y_test), callbacks=[FirstBatch()])
        value = history.history["val_accuracy"][-1]
        trials[-1].update(end=time.time(), value=value, params=params)
        return value

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler())
    study.optimize(objective, n_trials=args.trials)
    print(json.dumps({"imported_at": imported_at, "end": time.time(), "trials": trials}), flush=True)


if __name__ == "__main__":
    main()
