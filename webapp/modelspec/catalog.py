"""The allow-list: every layer, optimizer, loss, metric and callback a spec may name.

Nothing outside this catalog reaches Keras. Names and defaults are Keras's own, so a user who
knows `keras.layers.Conv2D(filters, kernel_size, strides=(1, 1), padding="valid")` finds the same
here. The layers are tabled in `layers.py` (and `augmentation.py`); optimizers, losses, metrics and
callbacks here. Pure data: no Keras import.
"""

from . import layers
from .entries import ACTIVATIONS, RECURRENT, Entry, Param  # noqa: F401  (the catalog's public names)

_LAYERS = layers.ALL
LAYERS = {e.type: e for e in _LAYERS}

_LR = "Learning rate."


def _lr(default):
    return Param("learning_rate", "float", default, min=0.0, min_exclusive=True, max=100.0, help=_LR)


def _beta(name, default):
    return Param(name, "float", default, min=0.0, max=1.0, max_exclusive=True,
                 help="Exponential decay rate for the moment estimates.")


EPS = Param("epsilon", "float", 1e-7, min=0.0, min_exclusive=True, max=1.0,
            help="Small constant for numerical stability.")
CLIPNORM = Param("clipnorm", "float", None, nullable=True, min=0.0, min_exclusive=True, max=1e6,
                 help="Clip each gradient so its norm is no higher than this.")
AMSGRAD = Param("amsgrad", "bool", False, help="Use the AMSGrad variant.")

_OPTIMIZERS = [
    Entry("SGD", (_lr(0.01), Param("momentum", "float", 0.0, min=0.0, max=1.0, help="Momentum."),
                  Param("nesterov", "bool", False, help="Use Nesterov momentum."), CLIPNORM),
          "Gradient descent, with momentum."),
    Entry("RMSprop", (_lr(0.001), Param("rho", "float", 0.9, min=0.0, max=1.0, help="Discounting factor."),
                      Param("momentum", "float", 0.0, min=0.0, max=1.0, help="Momentum."), EPS,
                      Param("centered", "bool", False, help="Normalize by the estimated variance."), CLIPNORM),
          "Divides the gradient by a moving average of its recent magnitude."),
    Entry("Adam", (_lr(0.001), _beta("beta_1", 0.9), _beta("beta_2", 0.999), EPS, AMSGRAD, CLIPNORM),
          "Adaptive estimates of first- and second-order moments."),
    Entry("AdamW", (_lr(0.001), Param("weight_decay", "float", 0.004, min=0.0, max=1.0, help="Weight decay."),
                    _beta("beta_1", 0.9), _beta("beta_2", 0.999), EPS, AMSGRAD, CLIPNORM),
          "Adam with decoupled weight decay."),
    Entry("Adadelta", (_lr(0.001), Param("rho", "float", 0.95, min=0.0, max=1.0, help="Decay rate."), EPS, CLIPNORM),
          "Adapts learning rates from a moving window of gradient updates."),
    Entry("Adagrad", (_lr(0.001), Param("initial_accumulator_value", "float", 0.1, min=0.0, max=1e6,
                                        help="Starting value of the accumulators."), EPS, CLIPNORM),
          "Per-parameter learning rates adapted to how often a parameter is updated."),
    Entry("Adamax", (_lr(0.001), _beta("beta_1", 0.9), _beta("beta_2", 0.999), EPS, CLIPNORM),
          "A variant of Adam based on the infinity norm."),
    Entry("Nadam", (_lr(0.001), _beta("beta_1", 0.9), _beta("beta_2", 0.999), EPS, CLIPNORM),
          "Adam with Nesterov momentum."),
    Entry("Lion", (_lr(0.001), _beta("beta_1", 0.9), _beta("beta_2", 0.99), CLIPNORM),
          "Sign-based optimizer found by program search (Chen et al. 2023)."),
]
OPTIMIZERS = {e.type: e for e in _OPTIMIZERS}

# An optimizer's optional "schedule": learning_rate is then its initial rate. Keras 2's `decay`
# (lr / (1 + decay * iterations)) is InverseTimeDecay with decay_steps 1.
SCHEDULES = {"InverseTimeDecay": Entry("InverseTimeDecay", (
    Param("decay_steps", "int", 1, min=1, max=10**9, help="Steps over which the rate decays by decay_rate."),
    Param("decay_rate", "float", 0.0, min=0.0, max=1e6, help="lr / (1 + decay_rate * step / decay_steps)."),
    Param("staircase", "bool", False, help="Decay in whole steps of decay_steps."),
), "keras.optimizers.schedules.InverseTimeDecay: lr / (1 + decay_rate * step / decay_steps).")}
OPTIMIZER_ALIASES = {e.type.lower(): e.type for e in _OPTIMIZERS}

# label: how the trainer encodes labels for this loss ("onehot", "sparse" or "binary").
LOSSES = {
    "categorical_crossentropy": {"label": "onehot", "doc": "Cross-entropy with one-hot labels (softmax output, one unit per class)."},
    "sparse_categorical_crossentropy": {"label": "sparse", "doc": "Cross-entropy with integer labels (softmax output, one unit per class)."},
    "binary_crossentropy": {"label": "binary", "doc": "Cross-entropy for two classes (one sigmoid unit)."},
    "categorical_focal_crossentropy": {"label": "onehot", "doc": "Focal loss: down-weights easy examples."},
    "kl_divergence": {"label": "onehot", "doc": "Kullback-Leibler divergence between labels and predictions."},
    "categorical_hinge": {"label": "onehot", "doc": "Hinge loss for one-hot labels."},
    "mean_squared_error": {"label": "onehot", "doc": "Mean of squared differences to the one-hot labels."},
    "mean_absolute_error": {"label": "onehot", "doc": "Mean of absolute differences to the one-hot labels."},
}
PROBABILISTIC_LOSSES = {"categorical_crossentropy", "sparse_categorical_crossentropy",
                        "binary_crossentropy", "categorical_focal_crossentropy"}

# The log key Keras uses for each metric, and the label encodings it works with.
METRICS = {
    "accuracy": {"key": "accuracy", "labels": ("onehot", "sparse", "binary"),
                 "doc": "How often predictions match the labels."},
    "top_k_categorical_accuracy": {"key": "top_k_categorical_accuracy", "labels": ("onehot",),
                                   "doc": "How often the label is in the top 5 predictions."},
    "sparse_top_k_categorical_accuracy": {"key": "sparse_top_k_categorical_accuracy", "labels": ("sparse",),
                                          "doc": "Top-5 accuracy for integer labels."},
    "precision": {"key": "precision", "labels": ("onehot", "binary"),
                  "doc": "Precision over all classes (one-hot labels)."},
    "recall": {"key": "recall", "labels": ("onehot", "binary"), "doc": "Recall over all classes (one-hot labels)."},
    "auc": {"key": "auc", "labels": ("onehot", "binary"), "doc": "Area under the ROC curve."},
}

CALLBACKS = {
    "checkpoint": (
        Param("monitor", "str", "val_accuracy", help="Log key to watch."),
        Param("mode", "choice", "auto", choices=("auto", "min", "max")),
        Param("save_best_only", "bool", True, help="Keep only the best epoch as best.keras."),
    ),
    "early_stopping": (
        Param("monitor", "str", "val_loss", help="Log key to watch."),
        Param("patience", "int", 3, min=0, max=100_000, help="Epochs with no improvement before stopping."),
        Param("min_delta", "float", 0.0, min=0.0, max=1e6, help="Smallest change that counts as an improvement."),
        Param("mode", "choice", "auto", choices=("auto", "min", "max")),
        Param("restore_best_weights", "bool", True, help="Go back to the best epoch's weights at the end."),
    ),
    "reduce_lr_on_plateau": (
        Param("monitor", "str", "val_loss", help="Log key to watch."),
        Param("factor", "float", 0.1, min=0.0, min_exclusive=True, max=1.0, max_exclusive=True,
              help="new_lr = lr * factor."),
        Param("patience", "int", 2, min=0, max=100_000, help="Epochs with no improvement before reducing."),
        Param("min_lr", "float", 0.0, min=0.0, max=100.0, help="Lower bound on the learning rate."),
        Param("mode", "choice", "auto", choices=("auto", "min", "max")),
    ),
}

FIT = (
    Param("epochs", "int", 5, min=1, max=100_000, help="Number of passes over the training data."),
    Param("batch_size", "int", 32, min=1, max=65_536, help="Samples per gradient update."),
    Param("shuffle", "bool", True, help="Shuffle the training data before each epoch."),
)

# fit.dynamics: how often the trainer measures what a training step does to each weight (runs/dynamics.py).
# The default keeps the measuring within 3 % of plain Keras's samples/s (bench/dynamics.py).
DYNAMICS_EVERY = 50
DYNAMICS = (
    Param("every", "int", DYNAMICS_EVERY, min=1, max=1_000_000,
          help="Training steps between two records of gradient, weight and update norms."),
)
# fit.find_lr: the run becomes a learning-rate range test (Smith 2017), the rate rising exponentially.
FIND_LR = (
    Param("min_lr", "float", 1e-6, min=0.0, min_exclusive=True, max=100.0, help="The rate of the first batch."),
    Param("max_lr", "float", 1.0, min=0.0, min_exclusive=True, max=100.0, help="The rate of the last batch."),
    Param("steps", "int", 100, min=10, max=10_000, help="Batches the test trains, the rate rising at each."),
)


def catalog_json():
    """Give the whole catalog as JSON-ready data (`GET /api/layers`)."""
    return {
        "layers": [e.to_dict() for e in _LAYERS],
        "optimizers": [e.to_dict() for e in _OPTIMIZERS],
        "losses": [{"name": k, "doc": v["doc"]} for k, v in LOSSES.items()],
        "metrics": [{"name": k, "key": v["key"], "doc": v["doc"]} for k, v in METRICS.items()],
        "activations": list(ACTIVATIONS),
        "callbacks": {k: [p.to_dict() for p in v] for k, v in CALLBACKS.items()},
        "fit": [p.to_dict() for p in FIT],
        "dynamics": [p.to_dict() for p in DYNAMICS],
        "find_lr": [p.to_dict() for p in FIND_LR],
    }
