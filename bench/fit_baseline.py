"""Plain Keras, no dashboard: the baseline bench/runs.py compares the dashboard with.

Loads an .npz (x_train, y_train, x_test, y_test; uint8 pixels), scales pixels to [0, 1] and one-hots
the labels as the dashboard's trainer does, builds keras.Sequential from a list of layer specs
({"type": KerasClassName, ...constructor arguments}), compiles it with Adam and categorical
cross-entropy, runs model.fit(verbose=0) with the test split as validation_data, and prints one
line of JSON:
  {"epoch_begin": [time.time() at each epoch's start], "train_end": [... at its last training batch,
   when validation starts], "epoch_end": [... at its end], "epoch_end_cpu": [time.process_time() at
   its end], "train_samples", "params"}
With --first-batch it stops after the first batch and prints {"first_batch_at": time.time()}.

Timing uses epoch-level hooks only (on_epoch_begin/end, on_test_begin): a batch-level hook would make
Keras call back synchronously after every batch, which is the very cost being measured.

Usage: python bench/fit_baseline.py --data D.npz --layers JSON --epochs E --batch-size B [--first-batch]
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # webapp's table of backbones


def load(path):
    """Give (x_train, y_train, x_test, y_test) as the trainer prepares them: float32 in [0, 1], one-hot."""
    import keras
    import numpy as np

    with np.load(path) as npz:
        arrays = {k: npz[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    classes = int(max(arrays["y_train"].max(), arrays["y_test"].max())) + 1
    scale = np.float32(1.0 / 255)

    def onehot(y):   # float32 as the trainer's: to_categorical gives float64, which trains ~1.5x slower
        return keras.utils.to_categorical(y, classes).astype("float32")

    return (arrays["x_train"].astype("float32") * scale, onehot(arrays["y_train"]),
            arrays["x_test"].astype("float32") * scale, onehot(arrays["y_test"]))


def backbone(d, shape):
    """Give the plain Keras layers of a pretrained backbone spec: the Keras guide's frozen keras.applications
    block, and in front the Resizing, grey-to-RGB Conv2D and scaling the dashboard adds (the same table
    says which: webapp/modelspec/pretrained.py)."""
    import keras

    from webapp.modelspec import pretrained

    # (a "caffe" scaling's fixed Conv2D would need its weights set: no backbone benched here has one)
    front = [getattr(keras.layers, f["type"])(**f["kwargs"]) for f in pretrained.front(d, "base", shape)]
    base = getattr(keras.applications, d["type"])(
        include_top=False, weights=d.get("weights"), input_shape=tuple(d["input_shape"]), pooling=d.get("pooling"),
        **{k: d[k] for k in pretrained.BACKBONES[d["type"]].args if k in d})
    base.trainable = d.get("trainable", False)
    return front + [base]


def model_from(layers, input_shape):
    """Give the compiled keras.Sequential of these layer specs."""
    import keras

    made = []
    for d in layers:
        if d["type"][0].isupper() and hasattr(keras.applications, d["type"]):
            made += backbone(d, input_shape)
        else:
            made.append(getattr(keras.layers, d["type"])(**{k: v for k, v in d.items() if k != "type"}))
    model = keras.Sequential([keras.Input(shape=input_shape)] + made)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.001), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def main():
    """Train as asked and print the timings as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--layers", required=True, help="JSON list of layer specs")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--first-batch", action="store_true", help="stop after the first batch; print its time")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    x, y, x_test, y_test = load(args.data)
    model = model_from(json.loads(args.layers), x.shape[1:])
    out = {"epoch_begin": [], "train_end": [], "epoch_end": [], "epoch_end_cpu": [], "train_samples": len(x),
           "params": model.count_params()}

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            out["epoch_begin"].append(time.time())

        def on_test_begin(self, logs=None):
            out["train_end"].append(time.time())

        def on_epoch_end(self, epoch, logs=None):
            out["epoch_end"].append(time.time())
            out["epoch_end_cpu"].append(time.process_time())

    class FirstBatch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            out.setdefault("first_batch_at", time.time())
            self.model.stop_training = True

    model.fit(x, y, epochs=args.epochs, batch_size=args.batch_size, shuffle=True, verbose=0,
              validation_data=(x_test, y_test), callbacks=[FirstBatch() if args.first_batch else Clock()])
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
