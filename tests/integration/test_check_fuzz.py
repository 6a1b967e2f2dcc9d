"""Some two thousand random and mutated specs against `POST /api/models/check`: never a 500.

Every answer is a 200 with a summary or a 422 whose errors point at a real layer and say something.
"""

import copy
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.specs import BRANCHES, CNN, MLP, RESIDUAL
from webapp.modelspec import catalog

FUZZ = settings(max_examples=600, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])
# Valid models among the mutated presets (some 180 of 600 here): the fuzz reaches the summary too.
# Random catalog stacks rarely build (one or two in 600), so only their count is held.
# 600 examples a strategy (400 random JSON bodies; Hypothesis's default is 100): each answer costs
# some 20-30 ms on two busy cores, and the suite's time is shared. Raise them locally to hunt harder.
BUILT_MUTATED = 100
# Of 500 rewired graphs 7 to 20 build, a different number each run (Hypothesis draws anew, and most
# rewirings break the graph): 2 shows the fuzz reaches the summary for graphs too without flaking
# (a full suite run drew 7 where 8 was asked).
BUILT_GRAPHS = 2
GRAPH_NAMES = ["input", "stem", "wide", "narrow", "conv2d", "conv2d_1", "add", "concatenate", "flatten",
               "dense", "activation", "output", "nope"]
MERGES = [e.type for e in catalog.LAYERS.values() if e.category == "Merge"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10, 300), st.integers(), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["relu", "softmax", "same", "valid", "test", "none", "Dense"]))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                           max_leaves=12)


def param_values(p):
    """Give a strategy mixing good values for a Param with near misses and junk."""
    good = {"int": st.integers(int(p.min or 0), int(min(p.max or 64, 64))),
            "float": st.floats(p.min or 0.0, min(p.max or 1.0, 2.0)),
            "bool": st.booleans(),
            "choice": st.sampled_from(p.choices or ("x",)),
            "str": st.sampled_from(["loss", "val_loss", "accuracy", "val_accuracy", "nope"]),
            "ints": st.one_of(st.integers(1, 9), st.lists(st.integers(1, 9), min_size=1, max_size=3)),
            "shape": st.lists(st.sampled_from([-1, 1, 2, 4, 8, 16, 64]), min_size=1, max_size=4),
            "weights": st.sampled_from(["imagenet", None, 1, "x"]),   # a backbone's
            "layer": st.fixed_dictionaries({"type": st.sampled_from(catalog.RECURRENT + ("Dense",)),
                                            "units": st.integers(-1, 16)})}[p.kind]
    return st.one_of(good, good, st.just(p.default), scalars)


@st.composite
def catalog_layer(draw):
    """Give a layer of a random allowed type with random (often valid) parameters."""
    entry = draw(st.sampled_from(list(catalog.LAYERS.values())))
    layer = {"type": entry.type}
    for p in entry.params:
        if draw(st.integers(0, 9)) < 7:
            layer[p.name] = draw(param_values(p))
    if draw(st.integers(0, 19)) == 0:
        layer[draw(st.text(min_size=1, max_size=6))] = draw(scalars)
    return layer


@st.composite
def catalog_spec(draw):
    """Give a spec of 1 to 8 catalog layers, a random compile and fit."""
    layers = draw(st.lists(catalog_layer(), min_size=1, max_size=8))
    if draw(st.booleans()):
        layers += [{"type": "Flatten"}, {"type": "Dense", "units": 10, "activation": "softmax"}]
    loss = draw(st.sampled_from(list(catalog.LOSSES) + ["hinge"]))
    metrics = draw(st.lists(st.sampled_from(list(catalog.METRICS) + ["f1"]), max_size=3))
    optimizer = draw(st.one_of(st.sampled_from(list(catalog.OPTIMIZERS) + ["adam", "sgd"]),
                               st.builds(lambda t, lr: {"type": t, "learning_rate": lr},
                                         st.sampled_from(list(catalog.OPTIMIZERS)), scalars)))
    fit = {"epochs": draw(st.integers(0, 5)), "batch_size": draw(st.integers(0, 256)),
           "validation": draw(st.sampled_from(["test", "none", 0.1, 1.0, "x"])),
           "callbacks": {"checkpoint": draw(st.sampled_from([None, True, {"monitor": "val_accuracy"},
                                                             {"monitor": "loss", "mode": "max"}]))}}
    return {"dataset": "digits", "model": {"layers": layers},
            "compile": {"optimizer": optimizer, "loss": loss, "metrics": metrics}, "fit": fit}


@st.composite
def mutated_preset(draw):
    """Give a preset (MLP or convnet) with a few random edits: layers dropped, moved, copied, changed."""
    spec = copy.deepcopy(draw(st.sampled_from([MLP, CNN])))
    layers = spec["model"]["layers"]
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["drop", "move", "copy", "change", "insert"]))
        i = draw(st.integers(0, len(layers) - 1)) if layers else 0
        if op == "drop" and layers:
            layers.pop(i)
        elif op == "move" and layers:
            layers.insert(draw(st.integers(0, len(layers))), layers.pop(i))
        elif op == "copy" and layers:
            layers.insert(i, copy.deepcopy(layers[i]))
        elif op == "insert":
            layers.insert(i, draw(catalog_layer()))
        elif op == "change" and layers:
            entry = catalog.LAYERS[layers[i]["type"]]
            if entry.params:
                p = draw(st.sampled_from(entry.params))
                layers[i][p.name] = draw(param_values(p))
    return spec


@st.composite
def mutated_graph(draw):
    """Give a graph preset (residual, two branches) with inputs rewired, merges added, layers dropped or renamed."""
    spec = copy.deepcopy(draw(st.sampled_from([RESIDUAL, BRANCHES])))
    layers = spec["model"]["layers"]
    wiring = st.lists(st.sampled_from(GRAPH_NAMES), max_size=3)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["rewire", "merge", "drop", "insert", "rename", "junk"]))
        i = draw(st.integers(0, len(layers) - 1)) if layers else 0
        if op == "merge":
            layers.insert(i, {"type": draw(st.sampled_from(MERGES)), "inputs": draw(wiring)})
        elif op == "insert":
            layers.insert(i, {**draw(catalog_layer()), **({"inputs": draw(wiring)} if draw(st.booleans()) else {})})
        elif not layers:
            continue
        elif op == "rewire":
            layers[i]["inputs"] = draw(wiring)
        elif op == "drop":
            layers.pop(i)
        elif op == "rename":
            layers[i]["name"] = draw(st.one_of(st.sampled_from(GRAPH_NAMES), scalars))
        else:
            layers[i][draw(st.sampled_from(["inputs", "name"]))] = draw(json_values)
    return spec


def assert_sound_answer(client, body, tried):
    """Post one body and check the answer is a summary or a located 422, never a 500; count it in `tried`."""
    tried["n"] += 1
    r = client.post("/api/models/check", json=body)
    if body is None:  # the test client then sends no body at all
        assert r.status_code == 400 and "must be JSON" in r.get_json()["error"]["message"]
        return
    assert r.status_code in (200, 422), (r.status_code, body, r.get_data(as_text=True)[:500])
    data = r.get_json()
    if r.status_code == 200:
        tried["built"] += 1
        assert data["ok"] is True
        n = len(body["model"]["layers"])
        assert [row["index"] for row in data["layers"]] == list(range(n))
        assert all(isinstance(row["params"], int) and row["params"] >= 0 for row in data["layers"])
        return
    assert data["ok"] is False and data["errors"]
    n = len(body["model"]["layers"]) if isinstance(body, dict) and isinstance(body.get("model"), dict) \
        and isinstance(body["model"].get("layers"), list) else 0
    for e in data["errors"]:
        assert set(e) == {"layer", "field", "message"}
        assert e["layer"] is None or 0 <= e["layer"] < n
        assert e["field"] is None or isinstance(e["field"], str)
        assert isinstance(e["message"], str) and len(e["message"]) > 10


def fuzz(client, what, strategy, examples):
    """Post `examples` bodies drawn from `strategy`, print how many were answered, give the counts."""
    tried = {"n": 0, "built": 0}

    @settings(FUZZ, max_examples=examples)
    @given(body=strategy)
    def post(body):
        assert_sound_answer(client, None if isinstance(body, float) and math.isnan(body) else body, tried)

    post()
    print(f"\n[fuzz] POST /api/models/check answered {tried['n']} {what} without a 500 "
          f"({tried['built']} of them valid models, summarized)")
    return tried


def test_catalog_specs_never_500(client):
    assert fuzz(client, "random catalog specs", catalog_spec(), 600)["n"] >= 600


def test_mutated_presets_never_500(client):
    tried = fuzz(client, "mutated presets", mutated_preset(), 600)
    assert tried["n"] >= 600 and tried["built"] >= BUILT_MUTATED


def test_random_graphs_never_500(client):
    tried = fuzz(client, "rewired graphs", mutated_graph(), 500)
    assert tried["n"] >= 500 and tried["built"] >= BUILT_GRAPHS


RANDOM_JSON = st.one_of(
    json_values, st.fixed_dictionaries({"dataset": st.just("digits"), "model": json_values}),
    st.fixed_dictionaries({"dataset": st.just("digits"),
                           "model": st.fixed_dictionaries({"layers": st.lists(json_values, max_size=5)})}))


def test_random_json_never_500(client):
    assert fuzz(client, "random JSON bodies", RANDOM_JSON, 400)["n"] >= 400
