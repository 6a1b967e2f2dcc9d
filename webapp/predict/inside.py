"""Inside a saved model: every layer's output for one image in one forward pass, bounded and cached.

One `keras.Model` whose outputs are every layer's output (the "probe") runs the image once; each
output is kept per (saved model version, image) with big feature maps averaged down, so memory is
bounded whatever the model. Panels (what the inside view draws) and their PNGs are made from that.
Keras is imported only when a model is loaded (the web process pays for TensorFlow on first use).
"""

import collections
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import heatmaps, rnn_steps
from .predictions import class_name, class_probabilities, top_classes

MAX_SIDE = 64             # a channel's map is kept at most this wide and tall (area-averaged)
MAX_CHANNELS = 1024       # channels kept per layer (the strongest); the rest are counted, not drawn
CACHE_BYTES = 256 * 2**20  # kept passes, all images and models together (a pass of a big model is MBs)
MAX_BARS = 512            # a dense output longer than this is shown as the max |value| of equal chunks
PER_PAGE = 32             # channel tiles per page: about a screenful
# Layers that change nothing when Keras predicts: they act only in fit (training=True).
IDENTITY = {"Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
            "GaussianDropout", "AlphaDropout", "ActivityRegularization"}


class InsideError(ValueError):
    """A request the inside view cannot answer (bad class, layer or page); str() says what is accepted."""


def saved_version(path):
    """Give the key of a saved model file's version: its path, modification time and size."""
    stat = Path(path).stat()
    return str(path), stat.st_mtime_ns, stat.st_size


@dataclass
class Loaded:
    """A loaded model with its probe (every layer's output) and the facts the panels need."""

    model: object
    probe: object
    layers: list                                   # the model's layers, InputLayer left out
    tensors: dict                                  # layer name -> its output in the model's graph
    saliency_models: dict = field(default_factory=dict)
    steps: dict | None = None                      # layer index -> (model to its input, a copy returning every step)

    def shape(self, layer):
        """Give a layer's output shape in the model's graph, batch first (None)."""
        return tuple(self.tensors[layer.name].shape)

    @property
    def feature_layers(self):
        """Give the names of layers with (H, W, C) outputs: the ones Grad-CAM can weigh."""
        return [layer.name for layer in self.layers if len(self.shape(layer)) == 4]

    @property
    def conv_layers(self):
        """Give the names of the convolution layers (the last is Grad-CAM's default)."""
        return [layer.name for layer in self.layers if "Conv" in type(layer).__name__ and len(self.shape(layer)) == 4]


@dataclass
class Forward:
    """One image's pass: each layer's kept output, its full-size stats, and the class probabilities."""

    outputs: list              # per layer: the kept (maybe averaged-down) output for one image
    stats: list                # per layer: dict of full-size facts (channel means and maxima, ...)
    probabilities: np.ndarray
    raw: np.ndarray            # the model's own output for the image
    predicted: int             # as np.argmax(model.predict(x), -1) gives it (or p > 0.5 for one sigmoid)
    steps: dict = field(default_factory=dict)   # layer index -> an RNN's output at every step (T, units), kept


def graph_tensors(model):
    """Give {layer name: its output tensor} along the graph from model.inputs to model.outputs.

    A loaded Sequential's `layer.output` may belong to an earlier call of the layer than the graph
    the model runs; tensors taken from that graph make one pass, with gradients between them.
    """
    found, stack = {}, list(model.outputs)
    while stack:
        tensor = stack.pop()
        operation, node_index, _ = tensor._keras_history
        if operation.name not in found:
            found[operation.name] = tensor
            stack.extend(operation._inbound_nodes[node_index].input_tensors)
    return found


def build_probe(model):
    """Give (probe, layers, tensors): one keras.Model from the model's inputs to every layer's output."""
    from ..modelspec.build import init_keras

    keras = init_keras()
    tensors = graph_tensors(model)
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer" and layer.name in tensors]
    return keras.Model(model.inputs, [tensors[layer.name] for layer in layers]), layers, tensors


def keep(output):
    """Give (the kept output of one image, its stats): maps averaged down, strongest channels kept."""
    out = np.asarray(output, dtype=np.float32)
    if out.ndim == 3:                                   # (H, W, C): channel maps
        means, maxima = out.mean(axis=(0, 1)), out.max(axis=(0, 1))
        order = np.argsort(-means, kind="stable")[:MAX_CHANNELS]
        kept = heatmaps.shrink(out[:, :, order], MAX_SIDE)
        return kept, {"order": order, "means": means, "maxima": maxima, "shrunk": out.shape[0] > kept.shape[0]
                      or out.shape[1] > kept.shape[1]}
    if out.ndim == 2:                                   # (T, U): a sequence
        return heatmaps.shrink(out, 512), {}
    flat = out.reshape(-1)
    if flat.size <= MAX_BARS:
        return flat, {}
    chunks = np.array_split(flat, MAX_BARS)
    return np.array([c[np.argmax(np.abs(c))] for c in chunks], np.float32), {"chunked": flat.size}


class Inspector:
    """Runs saved models (loaded through a ModelCache) with their probes, and keeps forward passes.

    Keras models are not meant to be called from several threads at once: every Keras call goes
    through `run`, under the model cache's lock. Share the ModelCache with predict-one, so a run's
    model is loaded once per web process.
    """

    def __init__(self, models=None, passes=64):
        from .saved_models import ModelCache

        self.models = models or ModelCache()
        self._probes = weakref.WeakKeyDictionary()   # a loaded model -> its Loaded; gone with the model
        self._passes = collections.OrderedDict()
        self._size = passes
        self.lock = threading.RLock()

    def run(self, path, use):
        """Give use(Loaded) for the model saved at `path` (loaded once per saved version), under the lock."""
        return self.models.call(path, lambda model: use(self._loaded(model)))

    def loaded(self, path):
        """Give the Loaded model saved at `path`: for reading its layers (run Keras through `run`)."""
        return self.run(path, lambda loaded: loaded)

    def _loaded(self, model):
        found = self._probes.get(model)
        if found is None:
            found = self._probes[model] = Loaded(model, *build_probe(model))
        return found

    def cached(self, key, make):
        """Give make() for a key (which should hold the saved version), computed once while it stays cached."""
        with self.lock:
            if key in self._passes:
                self._passes.move_to_end(key)
                return self._passes[key]
            value = make()
            self._passes[key] = value
            while len(self._passes) > self._size or (
                    len(self._passes) > 1 and sum(_nbytes(v) for v in self._passes.values()) > CACHE_BYTES):
                self._passes.popitem(last=False)
            return value

    def forward(self, path, image_key, x):
        """Give the Forward of the image x (1, H, W, C) through the model at `path`, cached per version and image."""
        return self.cached((saved_version(path), image_key, "forward"),
                           lambda: self.run(path, lambda loaded: run_probe(loaded, x)))


def run_probe(loaded, x):
    """Give the Forward of x through the probe: one call, every layer's output."""
    # predict_on_batch runs Keras's compiled predict function: one graph call, not a layer-by-layer eager walk.
    outputs = loaded.probe.predict_on_batch(x)
    outputs = [np.asarray(o)[0] for o in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]
    kept = [keep(o) for o in outputs]
    raw = np.asarray(outputs[-1], dtype=np.float64).reshape(-1)
    steps = {i: heatmaps.shrink(np.asarray(copy(front([x])))[0], 512) for i, (front, copy) in rnn_steps.models(loaded).items()}
    return Forward([k for k, _ in kept], [s for _, s in kept], class_probabilities(raw[None])[0], raw,
                   int(top_classes(raw[None])[0][0]), steps)


def _nbytes(value):
    """Give about how much memory a cached value holds (a Forward's kept outputs, PNG bytes)."""
    if isinstance(value, Forward):
        return sum(o.nbytes for o in value.outputs) + sum(o.nbytes for o in value.steps.values())
    return len(value) if isinstance(value, bytes) else 0


def layer_kind(loaded, index):
    """Give how a layer's output is drawn: probabilities, identity, maps, sequence or vector."""
    layer = loaded.layers[index]
    if index == len(loaded.layers) - 1:
        return "probabilities"
    if type(layer).__name__ in IDENTITY:
        return "identity"
    return {4: "maps", 3: "sequence"}.get(len(loaded.shape(layer)), "vector")


def panels(loaded, forward, class_names, url):
    """Give one panel per layer (model.layers order): its summary row and what to draw.

    url(index, page) gives the PNG address of a layer's picture (page: the channel page, or None).
    """
    out = []
    for i, layer in enumerate(loaded.layers):
        kind = layer_kind(loaded, i)
        panel = {"index": i, "name": layer.name, "type": type(layer).__name__, "kind": kind,
                 "output_shape": [None if d is None else int(d) for d in loaded.shape(layer)],
                 "params": int(layer.count_params())}
        shown = kind if kind != "identity" else _drawn_as(forward.outputs[i])
        panel.update(_draw(shown, forward, i, class_names, url))
        if kind == "identity":
            panel["note"] = (f"{type(layer).__name__} is the identity when Keras predicts: it acts only in fit "
                             "(training=True), so this output equals its input.")
        out.append(panel)
    return out


def _drawn_as(kept):
    """Give how an identity layer's output is drawn: as what it passes on."""
    return {3: "maps", 2: "sequence"}.get(kept.ndim, "vector")


def _draw(kind, forward, i, class_names, url):
    """Give the fields a panel of this kind draws: probabilities, channel pages, a map or bars."""
    kept, stats = forward.outputs[i], forward.stats[i]
    if kind == "probabilities":
        return {"probabilities": [{"class": k, "name": class_name(class_names, k), "p": float(p)}
                                  for k, p in enumerate(forward.probabilities)]}
    if kind == "maps":
        order = stats["order"]
        return {"channels": int(len(stats["means"])), "drawn": int(len(order)), "per_page": PER_PAGE,
                "pages": [url(i, p) for p in range(-(-len(order) // PER_PAGE))],
                "order": order.tolist(), "means": stats["means"][order].tolist(),
                "maxima": stats["maxima"][order].tolist(), "shrunk": bool(stats["shrunk"]),
                "range": [float(kept.min()), float(kept.max())]}
    if kind == "sequence":
        return {"image_url": url(i, None), "rows": "time steps", "columns": "units",
                "range": [float(kept.min()), float(kept.max())]}
    steps = {"steps_image_url": url(i, "steps")} if i in forward.steps else {}
    return {"values": kept.tolist(), **({"chunked": stats["chunked"]} if "chunked" in stats else {}), **steps}


def layer_png(forward, i, page):
    """Give PNG bytes of a layer's picture: a page of channel tiles, or the time × units map."""
    if page == "steps":
        if i not in forward.steps:
            raise InsideError(f"layer {i}: only a recurrent layer that returns its last step has a picture of its steps.")
        return heatmaps.matrix(forward.steps[i])
    kept = forward.outputs[i]
    if kept.ndim == 2:
        return heatmaps.matrix(kept)
    if kept.ndim != 3:
        raise InsideError(f"layer {i}: its output is a vector, drawn as bars; it has no picture.")
    pages = max(1, -(-kept.shape[2] // PER_PAGE))
    if page is None or not 0 <= page < pages:
        raise InsideError(f"page must be a whole number from 0 to {pages - 1} for layer {i}.")
    maps = np.moveaxis(kept[:, :, page * PER_PAGE:(page + 1) * PER_PAGE], 2, 0)
    # One scale for the whole layer, so a dim tile really is a weak channel.
    return heatmaps.grid(maps, lo=min(0.0, float(kept.min())), hi=float(kept.max()))


def first_conv(loaded):
    """Give the model's first 2-D convolution layer (its kernel is (kh, kw, in, out)), or None."""
    for layer in loaded.layers:
        kernel = getattr(layer, "kernel", None)
        if "Conv" in type(layer).__name__ and kernel is not None and len(kernel.shape) == 4:
            return layer
    return None


def kernels_png(loaded):
    """Give PNG bytes of the first convolution's kernels (the model must have one: see first_conv)."""
    return heatmaps.kernels(np.asarray(first_conv(loaded).kernel))


LEARNING_FILE = "sample_probabilities.npz"   # the epoch sample's class probabilities, every epoch


def load_learning(path):
    """Give {"index", "epochs", "probabilities" (E, S, C)} kept by the trainer, or None."""
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in ("index", "epochs", "probabilities")}
    except FileNotFoundError:
        return None


def learning(folder, index):
    """Give the "watch it learn" strip of test image `index`: {"epochs", "probabilities"}, or None if not in the sample."""
    found = load_learning(Path(folder) / LEARNING_FILE)
    if found is None:
        return None
    where = np.flatnonzero(found["index"] == index)
    if not where.size:
        return None
    return {"epochs": found["epochs"].tolist(),
            "probabilities": np.round(found["probabilities"][:, where[0]], 5).tolist()}
