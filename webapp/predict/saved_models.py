"""A run's saved `.keras` models loaded in the web process, kept warm, and run one call at a time.

The web layer's predict-one (and any view that runs a run's model) calls `ModelCache`; this is the
one module outside the trainer that loads a saved model, so the web layer never imports Keras. It
imports TensorFlow on the first load only: a web process that never predicts never pays for it.
No Flask.
"""

import collections
import threading
from pathlib import Path

from ..modelspec.build import init_keras


class ModelCache:
    """The last few loaded models of runs; a model saved again (new mtime or size) is loaded again.

    One lock guards loading and running: Keras models are not meant to be called from several
    threads at once, and loading the same model twice in parallel would only waste memory.

    Args:
        size: how many loaded models to keep (least recently used go first).

    Example:

    ```python
    models = ModelCache()
    outputs = models.predict(paths.artifact(data_dir, run_id, paths.MODEL), x)   # loads once
    layers = models.call(path, lambda model: [layer.name for layer in model.layers])
    ```
    """

    def __init__(self, size=3):
        self.size = size
        self._models = collections.OrderedDict()
        self._lock = threading.Lock()

    def call(self, path, use):
        """Give `use(model)` for the model saved at `path`, loaded once per saved version, under the lock."""
        stat = Path(path).stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        with self._lock:
            model = self._models.get(key)
            if model is None:
                model = init_keras().saving.load_model(path, compile=False)
                for old in [k for k in self._models if k[0] == key[0]]:
                    del self._models[old]
                self._models[key] = model
            self._models.move_to_end(key)
            while len(self._models) > self.size:
                self._models.popitem(last=False)
            return use(model)

    def predict(self, path, x):
        """Give the outputs of the model saved at `path` for the batch x."""
        return self.call(path, lambda model: model.predict_on_batch(x))
