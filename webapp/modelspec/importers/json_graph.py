"""A functional model's Keras JSON (`class_name` "Functional", or Keras 2's "Model") -> graph spec layers.

Each layer keeps its Keras name and gets `inputs` from its `inbound_nodes`, in Keras 3's form
(`{"args": [...keras tensors...], "kwargs": {}}`, see keras/src/models/functional.py) or Keras 2's
(`[[name, node_index, tensor_index, kwargs], ...]`). One input and one output; a layer called twice
(shared), a layer with several outputs and a nested model are refused, naming the layer. Pure data.
"""

from .. import graph
from .import_answer import refuse

FUNCTIONAL = ("Functional", "Model")
NESTED = ("Functional", "Model", "Sequential")


def functional_layers(config, json_layer, warnings):
    """Give the spec layers (each with name and inputs) of a functional model's config.

    json_layer(item, index, warnings): the importer's reading of one serialized layer.
    """
    raw = config.get("layers") if isinstance(config, dict) else None
    if not isinstance(raw, list):
        refuse(None, "source", "The functional model has no \"layers\" list in its config.")
    (entry,), (exit_,) = _endpoint(config, "input_layers", "inputs"), _endpoint(config, "output_layers", "outputs")
    layers, inputs = [], {entry}
    for item in raw:
        name = _name(item)
        index = len(layers)
        kind = item.get("class_name") if isinstance(item, dict) else None
        if kind in NESTED:
            refuse(index, "type", f"Layer {index} ({name}) is a nested model ({kind}); nested models cannot be "
                                  "imported. Call its layers directly in the outer model instead.")
        if kind == "InputLayer":
            if name != entry:
                refuse(index, "inputs", f"The model has a second input ({name}); only models with one input "
                                        "(the dataset's) can be imported.")
            json_layer(item, index, warnings)   # notes the input shape it ignores
            continue
        layer = json_layer(item, index, warnings)
        sources = _sources(item, index, name, warnings)
        layer["name"] = name
        layer["inputs"] = [graph.INPUT if s in inputs else s for s in sources]
        layers.append(layer)
    out = [layer for layer in layers if layer["name"] == exit_]
    if not out:
        refuse(None, "source", f"The model's output layer {exit_!s:.60} is not among its layers.")
    return [layer for layer in layers if layer["name"] != exit_] + out   # the output comes last


def _name(item):
    config = item.get("config") if isinstance(item, dict) else None
    name = item.get("name") if isinstance(item, dict) else None
    name = name or (config.get("name") if isinstance(config, dict) else None)
    return name if isinstance(name, str) else "?"


def _endpoint(config, key, what):
    """Give the one layer name of input_layers or output_layers ([name, 0, 0] or [[name, 0, 0]])."""
    value = config.get(key)
    if isinstance(value, list) and value and isinstance(value[0], str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, list) and v and isinstance(v[0], str)
                                                          for v in value):
        refuse(None, "source", f"The functional model has no {key} list in its config.")
    if len(value) != 1:
        names = ", ".join(str(v[0])[:40] for v in value)
        refuse(None, "source", f"The model has {len(value)} {what} ({names}); only models with one input "
                               "and one output can be imported.")
    return [value[0][0]]


def _sources(item, index, name, warnings):
    """Give the names of the layers whose outputs a layer takes, from its one inbound node."""
    nodes = item.get("inbound_nodes")
    if not isinstance(nodes, list) or not nodes:
        refuse(index, "inputs", f"Layer {index} ({name}) is not connected to anything (no inbound_nodes).")
    if len(nodes) > 1:
        refuse(index, "inputs", f"Layer {index} ({name}) is called {len(nodes)} times: a shared layer (one "
                                "layer object used twice) cannot be imported; give each call its own layer.")
    node = nodes[0]
    if isinstance(node, dict):   # Keras 3
        history = [t["config"]["keras_history"] for t in _tensors(node.get("args"))]
        if node.get("kwargs"):
            warnings.append(f"layer {index} ({name}): call arguments {sorted(node['kwargs'])} are not part "
                            "of the spec; ignored")
    elif isinstance(node, list):  # Keras 2: [[name, node_index, tensor_index, kwargs], ...]
        history = node
    else:
        history = []
    if not history or not all(isinstance(h, list) and len(h) >= 3 and isinstance(h[0], str) for h in history):
        refuse(index, "inputs", f"Layer {index} ({name}): its inbound_nodes name no input layers.")
    for source, node_index, tensor_index, *_ in history:
        if node_index != 0:
            refuse(index, "inputs", f"Layer {index} ({name}) takes a second call of layer {source:.60}: a shared "
                                    "layer cannot be imported; give each call its own layer.")
        if tensor_index != 0:
            refuse(index, "inputs", f"Layer {index} ({name}) takes output {tensor_index} of layer {source:.60}; "
                                    "layers with several outputs cannot be imported.")
    return [h[0] for h in history]


def _tensors(value, depth=0):
    """Give the serialized Keras tensors inside a node's args (lists nest them for merge layers)."""
    if depth > 8:
        return []
    if isinstance(value, dict):
        config = value.get("config")
        if value.get("class_name") == "__keras_tensor__" and isinstance(config, dict) \
                and isinstance(config.get("keras_history"), list):
            return [value]
        return []
    if isinstance(value, list):
        return [t for v in value for t in _tensors(v, depth + 1)]
    return []
