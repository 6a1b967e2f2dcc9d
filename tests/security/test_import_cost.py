"""The promise about pasted Python (`POST /api/models/import`, any role): the reader evaluates what a
script writes (unpacking, literals, arithmetic, loops, calls) within bounds, so one request stays
within tens of MB and a few seconds of CPU, answers 200 or 422 (never 500), and keeps nothing once
it has answered (measured with the garbage collector off: no reference cycle may hold an import).
The payloads are the reported ones and their cousins; each cost 1-1.7 GB, 3-60 s or a 500 before."""

import ast
import gc
import time
import tracemalloc

import pytest

from tests.security.conftest import peak_while

MB = 2**20
HEAD = "import keras\nfrom keras import layers\n"
MODEL = "model = keras.Sequential([layers.Dense(10)])\n"


def starred(levels, open_="[", close="]"):
    """Give a script whose names unpack the one before ten times over: 1000 items, then 10**4, ..."""
    lines = [f"a0 = {open_}" + "0, " * 1000 + close]
    lines += [f"a{i} = {open_}" + ", ".join([f"*a{i - 1}"] * 10) + f",{close}" for i in range(1, levels + 1)]
    return HEAD + "\n".join(lines) + "\n" + MODEL


def doubling(times):
    """Give a script that doubles a list in a loop by unpacking it twice."""
    return HEAD + f"a = [0]\nfor i in range({times}):\n    a = [*a, *a]\n" + MODEL


def huge_hex(digits, times):
    """Give a script with hex literals of `digits` digits (no 4,300-digit limit for them) used in a loop."""
    return (HEAD + f"x = 0x{'f' * digits}\ny = 0x{'e' * (digits // 2)}\nfor i in range({times}):\n"
            "    q = x // y\n    r = x % y\n    m = x * y\n" + MODEL)


def huge_powers():
    """Give a script of big powers and shifts, on small and on huge integers."""
    return (HEAD + f"x = 0x{'f' * 5000}\nfor i in range(1000):\n    p = (2 ** 64) ** 64\n    q = 10 ** 64 ** 2\n"
            "    s = 1 << 100000\n    t = x ** 2\n    u = x << 100000\n" + MODEL)


def shared(width, depth):
    """Give a script whose layer argument holds one list `width` times a level: small written, width**depth flat."""
    lines = [f"a0 = [0] * {width}"] + [f"a{i} = [a{i - 1}] * {width}" for i in range(1, depth + 1)]
    return HEAD + "\n".join(lines) + f"\nmodel = keras.Sequential([layers.Dense(10, foo=a{depth})])\n"


def deep(levels):
    """Give a script that nests a list in itself `levels` times and hands it to a layer."""
    loop = f"a = []\nfor i in range({levels}):\n    a = [a]\n"
    return HEAD + loop + "model = keras.Sequential([layers.Dense(10, foo=a)])\n"


def big_statement_in_a_loop(items, times):
    """Give a script that evaluates a literal list of `items` numbers `times` times."""
    return HEAD + f"for i in range({times}):\n    x = [" + "0," * items + "]\n" + MODEL


def calls_with_many_names(names, calls):
    """Give a script that binds `names` names in one statement, then calls a function `calls` times (20 a statement)."""
    return (HEAD + ",".join(f"v{i}" for i in range(names)) + " = x\ndef f():\n    pass\n"
            f"for i in range({calls // 20}):\n    x = [" + "f(), " * 20 + "]\n" + MODEL)


def notes_in_a_loop(calls, times):
    """Give a script whose statement makes `calls` notes (to_categorical), followed `times` times."""
    return HEAD + f"for i in range({times}):\n    y = [" + "keras.utils.to_categorical(y), " * calls + "]\n" + MODEL


def a_function_with_many_names(statements, names):
    """Give a script whose function of `statements` statements, never called, is bound to `names` names."""
    body = "".join(f"    x{i} = keras.Sequential()\n" for i in range(statements))
    return HEAD + "def build():\n" + body + " = ".join(f"a{i}" for i in range(names)) + " = build\n" + MODEL


ATTACKS = {
    "nested starred lists (10**8 items)": starred(5),
    "nested starred tuples (10**8 items)": starred(5, "(", ")"),
    "a list doubled in a loop (2**27 items)": doubling(27),
    "hex literals of 10**5 digits in a loop": huge_hex(100_000, 50),
    "big powers and shifts": huge_powers(),
    "one list shared 10**7 times, flattened": shared(220, 2),
    "a list nested 1000 deep": deep(1000),
    "a 20,000-item statement followed 1000 times": big_statement_in_a_loop(20_000, 1000),
    "a function called 18,000 times with 40,000 names bound": calls_with_many_names(40_000, 18_000),
    "1000 notes a statement, followed 100 times": notes_in_a_loop(1000, 100),
    "a 3000-statement function under 20,000 names": a_function_with_many_names(3000, 20_000),
}


def post(client, body):
    """POST an import; give the status."""
    r = client.post("/api/models/import", json=body)
    r.close()
    return r.status_code


def cost_of(client, body):
    """POST an import three times; give (statuses, CPU s of the first, peak MB of the last, MB and objects it left).

    The first is timed alone (tracemalloc slows Python down). The second refills what Python keeps
    for reuse (the free lists gc.collect() empties). The last runs with the collector off: what it
    leaves, a reference cycle would keep until a full collection. Python's table of interned names,
    which parsing grows and shrinks as it likes, is not counted as left (it is allocated in ast.py;
    a tree that stayed would still count, in objects).
    """
    started = time.process_time()
    statuses = {post(client, body)}
    cpu = time.process_time() - started
    gc.collect()
    gc.disable()
    try:
        statuses.add(post(client, body))
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        objects = len(gc.get_objects())
        statuses.add(post(client, body))
        objects = len(gc.get_objects()) - objects
        peak = tracemalloc.get_traced_memory()[1]
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
        gc.enable()
    parsing = [tracemalloc.Filter(False, ast.__file__)]
    held = sum(s.size_diff for s in after.filter_traces(parsing).compare_to(before.filter_traces(parsing), "filename"))
    return statuses, cpu, peak / MB, held / MB, objects


@pytest.mark.parametrize("source", ATTACKS.values(), ids=ATTACKS.keys())
def test_a_script_costs_bounded_memory_and_cpu_and_leaves_nothing_behind(client, source):
    statuses, cpu, peak, held, objects = cost_of(client, {"format": "python", "source": source})
    *_, request = cost_of(client, {"format": "none", "source": source})   # refused before it is read
    assert statuses <= {200, 422}
    assert cpu < 3
    assert peak < 50
    assert held < 2
    assert objects - request < 10   # what the test client's request and answer leave (Werkzeug's own cycles)


def test_a_script_that_unpacks_and_computes_imports_as_before(client):
    source = HEAD + ("units = 0x20 * 2\nhidden = [layers.Dense(units), layers.Dense(units // 2)]\n"
                     "head = (layers.Dense(10, activation='softmax'),)\n"
                     "model = keras.Sequential([*hidden, *[layers.Dropout(0.5)] * 2, *head])\n")
    r = client.post("/api/models/import", json={"format": "python", "source": source})
    assert r.status_code == 200, r.get_json()
    got = [(layer["type"], layer.get("units", layer.get("rate"))) for layer in r.get_json()["model"]["layers"]]
    assert got == [("Dense", 64), ("Dense", 32), ("Dropout", 0.5), ("Dropout", 0.5), ("Dense", 10)]


def test_a_value_past_a_bound_is_read_as_one_only_running_the_script_would_give(client):
    def answer(units):
        source = HEAD + f"model = keras.Sequential([layers.Dense({units}), layers.Dense(10)])\n"
        r = client.post("/api/models/import", json={"format": "python", "source": source})
        assert r.status_code == 200, r.get_json()
        return r.get_json()

    unknown = answer("int(sys.argv[1])")
    deep = "1"
    for _ in range(21):
        deep = f"({deep},)"
    for units in ("0x" + "f" * 100_000, "[*[0] * 1000, 1]", deep):
        got = answer(units)
        assert got["model"] == unknown["model"]
        assert len(got["warnings"]) == len(unknown["warnings"]) == 1


def test_a_script_past_the_work_budget_is_refused_on_its_source(client):
    r = client.post("/api/models/import", json={"format": "python", "source": big_statement_in_a_loop(20_000, 1000)})
    assert r.status_code == 422
    assert [e["field"] for e in r.get_json()["errors"]] == ["source"]


def test_a_python_source_too_long_to_parse_cheaply_is_refused_before_it_is_parsed(client):
    # ast.parse of dense literals takes ~470 bytes a character: 1 MB of them was 470 MB and 3.3 s.
    source = HEAD + "x = [" + "1," * 499_990 + "1]\n" + MODEL
    started = time.process_time()
    r, peak = peak_while(lambda: client.post("/api/models/import", json={"format": "python", "source": source}))
    cpu, peak = time.process_time() - started, peak / MB
    assert r.status_code == 422 and [e["field"] for e in r.get_json()["errors"]] == ["source"]
    assert cpu < 1 and peak < 50
