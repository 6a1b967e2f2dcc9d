"""A branching spec's topology: names, inputs, cycles, dangling layers, merge arity, topological order."""

import pytest

from tests.specs import BRANCHES, CNN, RESIDUAL, spec
from webapp.modelspec.validate import SpecError, validate


def layers_of(*layers):
    return spec(CNN, model={"layers": list(layers)})


def errors_of(data):
    with pytest.raises(SpecError) as info:
        validate(data)
    return [(e.layer, e.field, e.message) for e in info.value.errors]


def dense(**extra):
    return {"type": "Dense", "units": 10, **extra}


def test_a_stack_stays_a_stack():
    checked = validate(CNN)
    assert not checked.is_graph
    assert all("inputs" not in layer and "name" not in layer for layer in checked.layers)


def test_a_graph_names_every_layer_and_its_inputs():
    checked = validate(RESIDUAL)
    assert checked.is_graph
    wiring = [(layer["name"], layer["inputs"]) for layer in checked.layers]
    assert wiring == [("stem", ["input"]), ("conv2d", ["stem"]), ("conv2d_1", ["conv2d"]),
                      ("add", ["stem", "conv2d_1"]), ("activation", ["add"]),
                      ("global_average_pooling2d", ["activation"]), ("dense", ["global_average_pooling2d"])]


def test_canonical_order_is_topological_and_keeps_the_given_order_where_it_can():
    data = layers_of(dense(name="out", inputs=["cat"]), {"type": "Flatten", "name": "f", "inputs": ["input"]},
                     {"type": "Concatenate", "name": "cat", "inputs": ["f", "g"]},
                     {"type": "Flatten", "name": "g", "inputs": ["input"]})
    data["model"]["layers"][0]["name"] = "output"
    assert [layer["name"] for layer in validate(data).layers] == ["f", "g", "cat", "output"]
    again = spec(CNN, model={"layers": validate(data).layers})
    assert validate(again).layers == validate(data).layers


def test_default_names_skip_names_given_to_other_layers():
    checked = validate(layers_of({"type": "Flatten", "name": "dense"}, dense(inputs=["dense"])))
    assert [layer["name"] for layer in checked.layers] == ["dense", "dense_1"]


@pytest.mark.parametrize("layers, expected", [
    ([dense(name="a", inputs=["b"]), dense(name="b", inputs=["a"]), dense(inputs=["b"])],
     (0, "inputs", "Layer 0 (a) is on a cycle: a ← b ← a.")),
    ([{"type": "Flatten", "name": "a"}, {"type": "Flatten", "name": "lost", "inputs": ["input"]}, dense(inputs=["a"])],
     (1, "inputs", "Layer 1 (lost) does not lead to the output (dense)")),
    ([{"type": "Flatten", "inputs": ["nowhere"]}, dense()],
     (0, "inputs", "Layer 0 (flatten): its inputs name 'nowhere', which is no layer of the model.")),
    ([{"type": "Flatten", "inputs": ["input"]}, {"type": "Add", "inputs": ["flatten"]}, dense()],
     (1, "inputs", "Layer 1 (add): Add merges two or more inputs; it is given 1 (flatten).")),
    ([{"type": "Flatten", "name": "f", "inputs": ["input"]}, {"type": "Subtract", "inputs": ["f", "f", "f"]}, dense()],
     (1, "inputs", "Layer 1 (subtract): Subtract merges exactly two inputs; it is given 3 (f, f, f).")),
    ([{"type": "Flatten", "name": "f", "inputs": ["input"]}, dense(inputs=["f", "input"])],
     (1, "inputs", "Layer 1 (dense): Dense takes one input; it is given 2 (f, input).")),
    ([{"type": "Flatten", "name": "f", "inputs": ["input"]}, dense(name="f")],
     (1, "name", "Layer 1: the name 'f' is taken by layer 0")),
    ([{"type": "Flatten", "name": "input", "inputs": ["input"]}, dense()],
     (0, "name", "Layer 0: name must be")),
    ([{"type": "Flatten", "inputs": "input"}, dense(inputs=["flatten"]), dense(inputs=["dense"])],
     None),
    ([{"type": "Flatten", "inputs": []}, dense()],
     (0, "inputs", "Layer 0 (flatten): inputs must be a list of 1 to 32 layer names")),
    ([{"type": "Flatten"}, {"type": "Add"}, dense()],
     (1, "inputs", "Layer 1 (Add) merges two or more layers: give it \"inputs\"")),
])
def test_graph_errors_name_the_layer_and_its_field(layers, expected):
    data = layers_of(*layers)
    if expected is None:
        assert validate(data).is_graph
        return
    layer, field, start = expected
    found = errors_of(data)
    assert any(e[0] == layer and e[1] == field and e[2].startswith(start) for e in found), found


def test_merge_layers_are_in_the_catalog_with_their_arity():
    from webapp.modelspec.catalog import catalog_json

    merges = {e["type"]: e for e in catalog_json()["layers"] if e["category"] == "Merge"}
    assert set(merges) == {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot"}
    assert (merges["Dot"]["min_inputs"], merges["Dot"]["max_inputs"]) == (2, 2)
    assert merges["Concatenate"]["max_inputs"] is None
    assert validate(BRANCHES).layers[2] == {"type": "Concatenate", "axis": -1, "name": "concatenate",
                                            "inputs": ["wide", "narrow"]}
