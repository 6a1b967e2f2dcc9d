"""Older Keras in a pasted script, read as Keras 3 with a note for each change (the table is `old_keras.py`).

Which Keras the script was written for, Keras 1 layer arguments, ImageDataGenerator's augmentation
and the predict step. Functions of the PythonImport that reads the script (`imp`).
"""

from .. import catalog, keras_names as kn
from . import old_keras
from .python_values import Call, Flow, NotStatic, Ref, Rows

# Data handling the dashboard does itself: (now, why, field) for the note.
DATA_CALLS = {
    "load_data": ("the dataset chosen in the builder", "the dashboard trains on a dataset you pick or upload "
                  "(an .npz with x_train, y_train, x_test, y_test)", "dataset"),
    "to_categorical": ("done by the dashboard", "labels are encoded for the loss (one-hot for "
                       "categorical_crossentropy) by the dashboard", "compile.loss"),
}
DATA_MODULES = ("keras", "tf", "np", "numpy", "utils", "mnist", "cifar10", "fashion_mnist")

# Strongest first: a Keras 1 name settles it; tf.keras beats the Keras 2 idioms it also accepted.
_ORDER = ("keras1", "tf_keras", "keras2", "keras3")


def generation(reader, chosen=None):
    """Give (generation, note): which Keras the script targets, as detected or as the user chose."""
    found = dict(reader.markers)   # a Keras idiom says more than Python 2's print (Reader.marker)
    detected = next((g for g in _ORDER if g in found), "keras3")
    used = chosen if chosen in old_keras.GENERATIONS else detected
    line, text = found.get(used, found.get(detected, (None, "")))
    rates = ", ".join(f"{k} {v!r}" for k, v in old_keras.OLD_LEARNING_RATES.items())
    if chosen in old_keras.GENERATIONS:
        why = "chosen by you"
    elif found:
        why = f"{text!s:.60} dates it"
    else:
        why = "nothing in it dates it to an older Keras"
    defaults = (f"its optimizers' default learning rates ({rates}) are used where the script leaves them out"
                if used in old_keras.OLD_DEFAULTS else "Keras 3's optimizer defaults are used")
    return used, {"detected": detected, "used": used, "choices": old_keras.GENERATIONS,
                  "why": f"Read as {old_keras.GENERATIONS[used]}: {why}; {defaults}.", "line": line,
                  "was": text if found and chosen not in old_keras.GENERATIONS else ""}


def layer_arguments(imp, call, kind, index, positional):
    """Give a layer call's arguments by Keras 3 name: Keras 1's renamed, merged or dropped, each noted."""
    given = {**dict(zip(positional, call.args)), **call.kwargs}
    _, out, changes = old_keras.translate_layer(call.name, given, imp.text)
    for was, now, why, field in changes:
        imp.note(call.line, was, now, why, index, field)
    return out


def positional(imp, call, kind):
    """Give the names of a call's positional arguments in the Keras its class name comes from."""
    if call.name in old_keras.KERAS1_CLASSES:
        return old_keras.POSITIONAL[call.name]
    legacy = (kind == "Conv2D" and len(call.args) == 3 and all(isinstance(a, int) for a in call.args)
              and imp.generation in old_keras.OLD_DEFAULTS)
    if legacy:   # Keras 2 still read Conv2D(32, 3, 3) as Keras 1's (nb_filter, nb_row, nb_col)
        return old_keras.POSITIONAL["Convolution2D"]
    return kn.POSITIONAL.get(kind, ())


def augmentation(imp, flow):
    """Give the augmentation layers an ImageDataGenerator's arguments make, in order, noting each."""
    call = flow.generator.call
    given = dict(call.kwargs)
    layers, line = {}, call.line
    for key, value in given.items():
        try:
            value = imp.plain(value, line)
        except NotStatic as exc:
            imp.warn(line, f"ImageDataGenerator: {key} = {exc} cannot be read without running the script; left out")
            continue
        if key in old_keras.AUGMENTATION and value:
            kind, param, how = old_keras.AUGMENTATION[key]
            layer = layers.setdefault(kind, {"type": kind})
            layer[param] = _augment_value(key, value, how, layer)
        elif key in old_keras.AUGMENTATION_DROPPED:
            imp.note(line, f"{key}={imp.text(value)}", "left out", old_keras.AUGMENTATION_DROPPED[key])
    if "RandomTranslation" in layers:
        for side in ("height_factor", "width_factor"):
            layers["RandomTranslation"].setdefault(side, 0.0)
    order = [k for k in ("RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom") if k in layers]
    out = [layers[k] for k in order]
    for index, layer in enumerate(out):
        imp.note(line, "ImageDataGenerator(" + ", ".join(_sources(layer["type"], given)) + ")",
                 imp.text_layer(layer), "Keras 3 augments inside the model: this layer changes images while "
                 "fit runs and passes them through at evaluate and predict time", index, "type")
    return out


def _augment_value(key, value, how, layer):
    if how == "degrees / 360":
        return round(float(value) / 360.0, 6)
    if key.endswith("_flip"):
        both = layer.get("mode") not in (None, how)
        return "horizontal_and_vertical" if both else how
    return float(value[1] - 1 if isinstance(value, list) else value)


def _sources(kind, given):
    return [f"{k}=..." for k, (layer, _, _) in old_keras.AUGMENTATION.items() if layer == kind and k in given]


def fit_source(imp, call):
    """Give (x, batch size) fit trains on: a generator's flow gives its batch size, noted."""
    x = call.args[0] if call.args else call.kwargs.get("x", call.kwargs.get("generator"))
    if not isinstance(x, Flow):
        return x, None
    flow = x.call
    given = {**dict(zip(("x", "y", "batch_size"), flow.args)), **flow.kwargs}
    method = getattr(flow.func, "name", "")
    if method != "flow":
        imp.note(flow.line, imp.text(flow), "the dataset's images",
                 f"{method} reads files; the dashboard trains on the chosen dataset", None, "dataset")
    try:
        batch = imp.plain(given.get("batch_size", 32), flow.line)
    except NotStatic:
        batch = None
    return x, batch


def predict_part(imp, model):
    """Give {"indexes": [...]} from predict_classes(x[10:20]) / predict(x[10:20]), noted; else None."""
    call = model.predict
    if not isinstance(call, Call) or not call.args or not isinstance(call.args[0], Rows):
        return None
    rows = call.args[0]
    indexes = rows.indexes[:1000]
    where = "" if "test" in rows.name.lower() else f" ({rows.name} is read as the test split)"
    old = getattr(call.func, "name", "") == "predict_classes"
    why = ("predict_classes was removed (TensorFlow 2.6, Keras 3): it is np.argmax(model.predict(x), -1). "
           if old else "")
    imp.note(call.line, imp.text(call), f"gallery of test images {_span(indexes)}",
             why + f"After training, the gallery opens on these test images{where}; train.py ends with the same "
             "predict step", None, "predict")
    return {"indexes": indexes}


def _span(indexes):
    if indexes == list(range(indexes[0], indexes[0] + len(indexes))) and len(indexes) > 1:
        return f"{indexes[0]}..{indexes[-1]}"
    return ", ".join(map(str, indexes[:10])) + (" ..." if len(indexes) > 10 else "")


def current_path(reader, path, line):
    """Give Keras 3's path for an old one (keras.layers.core.Dense -> keras.layers.Dense), noting it once."""
    new, old = old_keras.module_path(path)
    if old and old not in reader.renamed:
        reader.renamed.add(old)
        era, why = old_keras.module_era(old)
        reader.marker(era, line, old)
        reader.note(line, old, old_keras.MODULES[old], why)
    return new


def date(reader, call):
    """Note what in a call dates the script: Keras 1 names, Keras 2's lr, Keras 3's learning_rate."""
    name = call.name
    kind = old_keras.CLASSES.get(name, name)
    if name in old_keras.KERAS1_CLASSES:
        reader.marker("keras1", call.line, name)
    for key in call.kwargs:
        why = old_keras.argument(kind, key)[1] if kind in catalog.LAYERS else None
        if key == "nb_epoch" or why:
            reader.marker("keras2" if why and why.startswith("Keras 2") else "keras1", call.line, f"{name}({key}=...)")
        elif key in ("lr", "decay"):
            reader.marker("keras2", call.line, f"{name}({key}=...)")
        elif key == "learning_rate":
            reader.marker("keras3", call.line, f"{name}(learning_rate=...)")


def data_note(reader, call):
    """Note data handling the dashboard does itself: load_data() (the dataset), to_categorical (labels)."""
    if call.name in DATA_CALLS and isinstance(call.func, Ref) and call.func.path.split(".")[0] in DATA_MODULES + (call.name,):
        now, why, field = DATA_CALLS[call.name]
        reader.note(call.line, reader.text(call), now, why, field=field)
