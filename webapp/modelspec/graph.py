"""The topology of a spec: layer names, which layer feeds which, and the checks of a branching graph.

A spec is a graph when a layer names its `inputs`; then every layer gets a `name` and `inputs`
(a layer without `inputs` takes the layer before it), `"input"` is the dataset's input, the
output is the layer named `"output"` or else the last one, and the canonical order is
topological. A spec whose layers name no inputs stays the sequential stack. Pure data: no Keras.
"""

import heapq
import re

from . import catalog

INPUT = "input"
OUTPUT = "output"
MAX_INPUTS = 32
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,99}")
NAME_RULE = ("a text of 1 to 100 letters, digits, '_', '.' or '-' starting with a letter "
             f"(not \"{INPUT}\", which names the dataset's input)")


def is_graph(layers):
    """Say whether these (given or canonical) layers name their inputs, making the spec a graph."""
    return any(isinstance(layer, dict) and "inputs" in layer for layer in layers)


def merge_arity(kind):
    """Give (fewest, most) inputs for a merge layer type (most None: no limit), or None for other layers."""
    entry = catalog.LAYERS.get(kind)
    return (entry.extra["min_inputs"], entry.extra["max_inputs"]) if entry and "min_inputs" in entry.extra else None


def snake_case(name):
    """Give Keras's default layer name for a class name: Conv2D -> conv2d, SimpleRNN -> simple_rnn."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def layer_names(layers):
    """Give each layer its name: the given one, else the one a fresh Keras session would give
    (dense, dense_1, conv2d...), skipping names already given to other layers."""
    taken = {layer.get("name") for layer in layers if layer and layer.get("name")}
    seen, names = {}, []
    for layer in layers:
        if layer and layer.get("name"):
            names.append(layer["name"])
            continue
        base = snake_case(layer["type"]) if layer else "layer"
        while True:
            count = seen.get(base, 0)
            seen[base] = count + 1
            name = base if count == 0 else f"{base}_{count}"
            if name not in taken:
                break
        names.append(name)
    return names


def wiring(layers):
    """Give (names, inputs): each canonical layer's name and the names it takes, for a stack or a graph."""
    names = layer_names(layers)
    if is_graph(layers):
        return names, [list(layer["inputs"]) for layer in layers]
    return names, [[INPUT]] + [[name] for name in names[:-1]]


def check_name(index, value, errors, error):
    """Give a layer's `name` if it is valid, else None; append an error."""
    if isinstance(value, str) and NAME.fullmatch(value) and value != INPUT:
        return value
    errors.append(error(index, "name", f"Layer {index}: name must be {NAME_RULE}; got {value!r:.40}."))
    return None


def check_graph(layers, given, errors, error):
    """Give the graph's layers in topological order, each with its name and inputs; append errors.

    layers: the canonical layer dicts (None where a layer was refused), given: the layers as sent.
    error(layer, field, message) makes one error. Errors name the layer by its index as given.
    """
    names = layer_names([layer or {"type": "Layer"} for layer in layers])
    inputs = [_inputs_of(i, raw, names, errors, error) for i, raw in enumerate(given)]
    index_of = {}
    for i, name in enumerate(names):
        if name in index_of:
            errors.append(error(i, "name", f"Layer {i}: the name '{name}' is taken by layer {index_of[name]}; "
                                           "each layer needs its own name."))
        index_of.setdefault(name, i)
    for i, (layer, wanted) in enumerate(zip(layers, inputs)):
        for name in wanted or ():
            if name != INPUT and name not in index_of:
                # The known names are not listed: repeated in each such error they made the answer
                # grow with the product of layers and inputs. The user's own spec lists them.
                errors.append(error(i, "inputs", f"Layer {i} ({names[i]}): its inputs name '{name:.100}', which "
                                                 "is no layer of the model. Inputs name other layers by their "
                                                 f"\"name\" (or \"{INPUT}\", the dataset's input)."))
        if layer is not None and wanted is not None:
            _check_arity(i, layer["type"], names[i], wanted, errors, error)
    if errors:
        return []
    edges = [[index_of[n] for n in wanted if n != INPUT] for wanted in inputs]
    order = _topological(edges)
    if len(order) < len(layers):
        return _cycle(edges, order, names, errors, error)
    output = index_of.get(OUTPUT, len(layers) - 1)
    _dangling(edges, output, names, errors, error)
    return [{**layers[i], "name": names[i], "inputs": inputs[i]} for i in order]


def check_stack(layers, errors, error):
    """Append errors for a sequential stack: a name taken twice, a merge layer (which needs named inputs)."""
    seen = {}
    for i, layer in enumerate(layers):
        if layer is None:
            continue
        if layer.get("name") in seen:
            errors.append(error(i, "name", f"Layer {i}: the name '{layer['name']}' is taken by layer "
                                           f"{seen[layer['name']]}; each layer needs its own name."))
        elif layer.get("name"):
            seen[layer["name"]] = i
        if merge_arity(layer["type"]):
            errors.append(error(i, "inputs", f"Layer {i} ({layer['type']}) merges two or more layers: give it "
                                             "\"inputs\" naming them, such as [\"conv2d\", \"conv2d_1\"] "
                                             "(the model becomes a graph)."))


def _inputs_of(index, raw, names, errors, error):
    """Give the names a given layer takes: its `inputs`, or the layer before it."""
    if "inputs" not in raw:
        return [names[index - 1] if index else INPUT]
    value = raw["inputs"]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_INPUTS or not all(isinstance(v, str) for v in value):
        errors.append(error(index, "inputs", f"Layer {index} ({names[index]}): inputs must be a list of 1 to "
                                             f"{MAX_INPUTS} layer names, \"{INPUT}\" for the dataset's input; "
                                             f"got {value!r:.40}."))
        return None
    if names[index] in value:
        errors.append(error(index, "inputs", f"Layer {index} ({names[index]}) cannot take its own output as input."))
        return None
    return value


def _check_arity(index, kind, name, wanted, errors, error):
    arity = merge_arity(kind)
    fewest, most = arity or (1, 1)
    if fewest <= len(wanted) <= (most or MAX_INPUTS):
        return
    if arity is None:
        text = f"{kind} takes one input; it is given {len(wanted)} ({', '.join(wanted)}). Merge them first " \
               "with Add or Concatenate."
    else:
        count = "exactly two" if most == 2 else "two or more"
        text = f"{kind} merges {count} inputs; it is given {len(wanted)} ({', '.join(wanted)})."
    errors.append(error(index, "inputs", f"Layer {index} ({name}): {text}"))


def _topological(edges):
    """Give the layers' indexes in an order where each comes after its inputs, keeping the given
    order where it allows (Kahn's algorithm, lowest index first); layers on a cycle are left out."""
    waiting = [len(set(e)) for e in edges]
    users = [[] for _ in edges]
    for i, sources in enumerate(edges):
        for s in set(sources):
            users[s].append(i)
    ready = [i for i, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for user in users[i]:
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(ready, user)
    return order


def _cycle(edges, order, names, errors, error):
    """Append the error naming one cycle among the layers left out of the order."""
    left = set(range(len(edges))) - set(order)
    start = min(left)
    path, seen = [start], {start}
    while True:
        step = next(s for s in edges[path[-1]] if s in left)   # a left-out layer has a left-out input
        if step in seen:
            loop = path[path.index(step):] + [step]
            break
        path.append(step)
        seen.add(step)
    first = min(loop)
    text = " ← ".join(names[i] for i in loop)
    errors.append(error(first, "inputs", f"Layer {first} ({names[first]}) is on a cycle: {text}. "
                                         "A layer cannot take, even indirectly, its own output."))
    return []


def _dangling(edges, output, names, errors, error):
    """Append an error for each layer whose output never reaches the model's output."""
    reach, todo = {output}, [output]
    while todo:
        for s in edges[todo.pop()]:
            if s not in reach:
                reach.add(s)
                todo.append(s)
    for i in range(len(edges)):
        if i not in reach:
            errors.append(error(i, "inputs", f"Layer {i} ({names[i]}) does not lead to the output "
                                             f"({names[output]}): use it in a later layer's inputs, or delete it. "
                                             f"The output is the layer named \"{OUTPUT}\", else the last layer."))
