"""The trainer's callbacks for the inside view: weight histograms and the sample's probabilities per epoch.

Runs inside the trainer process only (it imports Keras). Both write into the run's folder
atomically at each epoch end, before Progress reports the epoch, so a viewer that refetches on
`run_epoch` finds the epoch there.
"""

import logging
from pathlib import Path

import keras
import numpy as np

from .. import inside, weight_histograms
from .trainer import atomic_write

log = logging.getLogger(__name__)


class WeightHistograms(keras.callbacks.Callback):
    """Records a fixed-bin histogram of every weight tensor of every layer at each epoch end.

    Cheap: one copy of the weights and one `np.histogram` per tensor per epoch, never per batch.

    Args:
        path: the JSON file to write (`weight_histograms.FILE` in the run's folder); a continued
            run appends to what is there.
        bins: bins per tensor (the same at every epoch; the edges follow the values' range).

    Example:

    ```python
    hist = WeightHistograms(folder / "histograms.json")
    model.fit(x, y, epochs=2, callbacks=[hist], verbose=0)
    doc = weight_histograms.load(folder / "histograms.json")
    assert [e["epoch"] for e in doc["layers"][0]["weights"][0]["epochs"]] == [1, 2]
    ```
    """

    def __init__(self, path, bins=weight_histograms.BINS):
        super().__init__()
        self.path, self.bins = Path(path), bins
        self.doc = weight_histograms.empty()

    def on_train_begin(self, logs=None):
        """Start from the epochs already recorded (a continued run), else from none."""
        self.doc = weight_histograms.load(self.path) or weight_histograms.empty()

    def on_epoch_end(self, epoch, logs=None):
        """Record every layer's weights (Keras counts epochs from 0; the file from 1)."""
        try:
            layers = [(layer.name, [(w.name, keras.ops.convert_to_numpy(w)) for w in layer.weights])
                      for layer in self.model.layers if layer.weights]
            weight_histograms.record(self.doc, epoch + 1, layers, self.bins)
            atomic_write(self.path, lambda p: Path(p).write_text(weight_histograms.dumps(self.doc)))
        except Exception:  # a missing histogram must not end the training
            log.exception("could not record the weight histograms to %s", self.path)


class SampleProbabilities(keras.callbacks.Callback):
    """Predicts a fixed sample of test images at each epoch end and keeps every epoch's probabilities.

    The inside view of a sample image draws them as the "watch it learn" strip: this image's class
    probabilities epoch by epoch.

    Args:
        path: the .npz file to write (`inside.LEARNING_FILE` in the run's folder).
        x: the sample's images, as the model takes them.
        index: their positions in the test split.

    Example:

    ```python
    cb = SampleProbabilities(folder / inside.LEARNING_FILE, x_test[:10], np.arange(10))
    model.fit(x, y, epochs=2, callbacks=[cb], verbose=0)
    assert inside.learning(folder, 3)["epochs"] == [1, 2]
    ```
    """

    def __init__(self, path, x, index):
        super().__init__()
        self.path, self.x, self.index = Path(path), x, np.asarray(index, dtype=np.int64)
        self.epochs, self.probabilities = [], []

    def on_train_begin(self, logs=None):
        """Start from the epochs already kept (a continued run with the same sample), else from none."""
        self.epochs, self.probabilities = [], []
        found = inside.load_learning(self.path)
        if found is not None and np.array_equal(found["index"], self.index):
            self.epochs, self.probabilities = list(found["epochs"]), list(found["probabilities"])

    def on_epoch_end(self, epoch, logs=None):
        """Predict the sample; keep its probabilities under this epoch (an epoch done again replaces them)."""
        from ..predictions import class_probabilities

        try:
            probs = class_probabilities(self.model.predict_on_batch(self.x)).astype(np.float32)
            keep = [i for i, e in enumerate(self.epochs) if e < epoch + 1]
            self.epochs = [self.epochs[i] for i in keep] + [epoch + 1]
            self.probabilities = [self.probabilities[i] for i in keep] + [probs]
            arrays = {"index": self.index, "epochs": np.asarray(self.epochs, np.int64),
                      "probabilities": np.stack(self.probabilities)}
            atomic_write(self.path, lambda p: np.savez(p, **arrays))
        except Exception:  # a missing strip must not end the training
            log.exception("could not save the sample's probabilities to %s", self.path)
