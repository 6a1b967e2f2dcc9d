"""Mutated Keras scripts and random tokens against `POST /api/models/import`: never a 500.

The fixtures of every Keras generation (tests/fixtures/keras_scripts/) are mutated line by line and
token by token: numbers changed, names swapped for Keras names old and new, lines dropped, repeated
or indented into a loop, random tokens inserted. Every answer is a 200 with notes, or a 422 whose
errors say something.
"""

import pathlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webapp.modelspec import catalog
from webapp.modelspec.importers import old_keras

SCRIPTS = [p.read_text() for p in sorted((pathlib.Path(__file__).resolve().parents[1] / "fixtures"
                                          / "keras_scripts").glob("*.py"))]
NAMES = sorted({*catalog.LAYERS, *old_keras.CLASSES, *old_keras.ARGUMENTS, *old_keras.FIT_ARGUMENTS, "Sequential",
                "model", "add", "fit", "fit_generator", "predict_classes", "compile", "Lambda", "Model", "range",
                "ImageDataGenerator", "flow", "lr", "decay", "def", "return", "for", "in", "if", "else", "not",
                "lambda", "None", "True", "x_test", "[", "]", "(", ")", ",", ":", "=", "+", "*", "**", "\n", "    "})
TOKENS = st.one_of(st.sampled_from(NAMES), st.integers(-3, 10 ** 6).map(str), st.floats(-1e3, 1e3).map(repr),
                   st.text(max_size=6))
FUZZ = settings(max_examples=400, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@st.composite
def mutated_script(draw):
    """Give a fixture script with a few line and token mutations."""
    lines = draw(st.sampled_from(SCRIPTS)).splitlines()
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.integers(0, 4))
        if kind == 0:
            del lines[at]
        elif kind == 1:
            lines.insert(at, lines[at])
        elif kind == 2:
            lines[at:at + 1] = [f"for i in range({draw(st.integers(0, 2000))}):", "    " + lines[at].lstrip()]
        else:
            words = lines[at].split(" ")
            spot = draw(st.integers(0, len(words)))
            token = draw(TOKENS)
            if kind == 3 and words and spot < len(words):
                words[spot] = token
            else:
                words.insert(spot, token)
            lines[at] = " ".join(words)
        if not lines:
            lines = ["import keras"]
    return "\n".join(lines)


def assert_sound(client, body):
    r = client.post("/api/models/import", json=body)
    assert r.status_code in (200, 422), (r.status_code, body)
    answer = r.get_json()
    if r.status_code == 200:
        assert isinstance(answer["notes"], list) and all(n["why"] for n in answer["notes"])
    else:
        assert answer["errors"] and all(e["message"] for e in answer["errors"])


@FUZZ
@given(source=mutated_script(), version=st.sampled_from([None, *old_keras.GENERATIONS]))
def test_mutated_scripts_never_500(client, source, version):
    assert_sound(client, {"format": "python", "source": source, "keras_version": version})


@settings(FUZZ, max_examples=200)
@given(tokens=st.lists(TOKENS, max_size=40))
def test_random_tokens_never_500(client, tokens):
    assert_sound(client, {"format": "python", "source": "import keras\nmodel = keras.Sequential()\n" + " ".join(tokens)})
