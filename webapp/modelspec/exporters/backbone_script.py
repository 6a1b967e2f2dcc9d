"""The pretrained backbones of a spec as train.py writes them: the keras.applications block, frozen, the layers in front, and the fine-tuning phase.

As the Keras transfer-learning guide writes it: `base = keras.applications.X(include_top=False,
...)`, `base.trainable = False`, the model around it, fit; then `base.trainable = True` for the top
layers, every BatchNormalization kept frozen, recompile at a low rate, fit again.
"""

import re

from .. import graph, pretrained
from .source_text import INDENT, literal


def variable(name):
    """Give the Python variable a backbone block is bound to (its layer name, made an identifier)."""
    var = re.sub(r"\W", "_", name)
    return var if var.isidentifier() else "base_" + var


def backbones(spec):
    """Give [(index, layer, name)] of the spec's backbone layers."""
    names = graph.layer_names(spec.layers)
    return [(i, layer, layer.get("name") or names[i]) for i, layer in enumerate(spec.layers)
            if layer["type"] in pretrained.BACKBONES]


def definitions(spec):
    """Give the lines that make each backbone block before the model, frozen as the run had it ("" for none)."""
    lines = []
    for _, layer, name in backbones(spec):
        kind, var = layer["type"], variable(name)
        weights = layer["weights"]
        args = [f"include_top=False", f"weights={literal(weights if weights in ('imagenet', None) else None)}",
                f"input_shape={literal(tuple([*pretrained.input_size(layer), 3]))}"]
        args += [f"pooling={literal(layer['pooling'])}"] if layer.get("pooling") else []
        args += [f"{k}={literal(layer[k])}" for k in pretrained.BACKBONES[kind].args]
        lines.append(f"# keras.applications.{kind} without its top, as one block; its weights "
                     + ("from Keras's cache (downloaded once)." if weights == "imagenet" else
                        "from scratch." if weights is None else f"were an upload (id {weights}): load your copy."))
        if pretrained.BACKBONES[kind].takes_name:
            args.append(f"name={literal(name)}")
        lines.append(f"{var} = keras.applications.{kind}({', '.join(args)})")
        if isinstance(weights, int):
            lines.append(f'# {var}.load_weights("your-weights.h5")')
        lines.append(f"{var}.trainable = {bool(layer.get('trainable'))}")
    return "\n".join(lines)


def front_calls(layer, name, shape):
    """Give the `keras.layers.X(...)` calls of what the backbone needs in front, for this input shape (None: unknown)."""
    calls = []
    for f in pretrained.front(layer, name, shape):
        kwargs = ", ".join(f"{k}={literal(v)}" for k, v in f["kwargs"].items())
        calls.append((f"keras.layers.{f['type']}({kwargs})", f["note"], f.get("weights"), f["kwargs"]["name"]))
    return calls


def stack_rows(layer, name, shape):
    """Give the Sequential's rows for a backbone layer: the front layers, then the block's variable."""
    return [call for call, *_ in front_calls(layer, name, shape)] + [variable(name)]


def fixed_weights(spec, shapes):
    """Give the lines that set the fixed (caffe) layers' constant weights after the model is built."""
    lines = []
    for index, layer, name in backbones(spec):
        for _, _, weights, layer_name in front_calls(layer, name, shapes.get(index)):
            if weights:
                lines.append(f"model.get_layer({literal(layer_name)}).set_weights("
                             f"[np.array(w, \"float32\") for w in {literal(weights, tuples=False)}])")
    return "\n".join(lines)


def fine_tune_lines(spec, optimizer_call):
    """Give the second phase of a spec with fit.fine_tune ("" without): unfreeze, recompile, fit again."""
    fine = (spec.fit or {}).get("fine_tune")
    if not fine:
        return ""
    count = fine["unfreeze"]
    lines = [f"# Fine-tuning: the top {count} layers of each backbone trainable, every BatchNormalization",
             "# kept frozen (in inference mode), recompiled at a low rate, then fit again."]
    for _, _, name in backbones(spec):
        var = variable(name)
        lines += [f"{var}.trainable = True"]
        if count != "all":
            lines += [f"for layer in {var}.layers[:-{count}]:", f"{INDENT}layer.trainable = False"]
        lines += [f"for layer in {var}.layers:", f"{INDENT}if isinstance(layer, keras.layers.BatchNormalization):",
                  f"{INDENT * 2}layer.trainable = False"]
    chosen = {k: v for k, v in spec.compile["optimizer"].items() if k != "schedule"}
    lines += ["model.compile(", f"{INDENT}optimizer={optimizer_call({**chosen, 'learning_rate': fine['learning_rate']})},",
              f"{INDENT}loss={literal(spec.compile['loss'])},", f"{INDENT}metrics={literal(spec.compile['metrics'], tuples=False)},", ")"]
    validation = ", validation_data=(x_test, y_test)" if spec.fit.get("validation") == "test" else ""
    lines += ["first_epochs = len(history.epoch)",
              f"history = model.fit(x_train, y_train, epochs=first_epochs + {fine['epochs']}, initial_epoch=first_epochs,",
              f"{INDENT}batch_size=args.batch_size{validation}, callbacks=callbacks)"]
    return "\n".join(lines)
