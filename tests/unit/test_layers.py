"""The house's rules, read from the source with ast: who may import Flask and Keras, and no import circles."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "webapp"
# The app factory, its extensions and its CLI bind Flask; everything else that knows Flask is in web/.
FLASK_OUTSIDE_WEB = {"webapp.factory", "webapp.extensions", "webapp.commands"}
# Where a model is built, trained or run (ARCHITECTURE.md), and the CLI's keras.datasets fetch:
# nowhere else imports Keras or TensorFlow, or asks spec.build.init_keras for them.
# The inside view and the augmentation preview run a saved or a built model.
KERAS = {"webapp.modelspec.build", "webapp.modelspec.exporters.train_script", "webapp.runs.trainer", "webapp.runs.feed", "webapp.runs.callbacks",
         "webapp.runs.local", "webapp.runs.startup", "webapp.predict.saved_models", "webapp.commands", "webapp.predict.inside", "webapp.predict.saliency",
         "webapp.datasets.augment"}


def module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules():
    """Give {module name: its ast}, for every module of the webapp package but Alembic's scripts."""
    return {module_name(p): ast.parse(p.read_text(), str(p)) for p in sorted(PACKAGE.rglob("*.py"))
            if "versions" not in p.parts and p.name != "env.py"}


def imports(name, tree, known=()):
    """Give every module `name` imports, at the top or inside a function, relative ones made absolute.

    known: the package's module names, to tell `from package import module` from a name in a module.
    """
    package = name if (PACKAGE / Path(*name.split(".")[1:]) / "__init__.py").exists() else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            # `from . import journal` imports the module journal; `from .store import Run`, the module store.
            found |= {f"{module}.{alias.name}" if f"{module}.{alias.name}" in known else module for alias in node.names}
    return found


def graph():
    """Give {module: the webapp modules it imports}."""
    mods = modules()
    return {name: {m for m in imports(name, tree, mods) if m in mods and m != name} for name, tree in mods.items()}


def test_only_the_web_layer_and_the_factory_import_flask():
    found = {name for name, tree in modules().items()
             if any(m.split(".")[0] in ("flask", "flask_socketio", "flask_login", "flask_wtf") for m in imports(name, tree))}
    assert {n for n in found if not n.startswith("webapp.web")} <= FLASK_OUTSIDE_WEB


def uses_keras(name, tree):
    """Say whether a module imports Keras or TensorFlow, directly or through init_keras."""
    return (any(m.split(".")[0] in ("keras", "tensorflow") for m in imports(name, tree))
            or any(getattr(n, "attr", getattr(n, "id", None)) == "init_keras" for n in ast.walk(tree)
                   if isinstance(n, (ast.Name, ast.Attribute))))


def test_keras_is_imported_only_where_a_model_is_built_trained_or_run():
    found = {name for name, tree in modules().items() if uses_keras(name, tree)}
    assert found <= KERAS
    assert not any(n.startswith("webapp.web") for n in found)


def cycles(edges):
    """Give the strongly connected groups of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while not group or w != v:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return groups


def test_cycles_finds_a_circle_through_a_lazy_import():
    tree = ast.parse("def f():\n    from .b import g\n")
    assert imports("webapp.runs.a", tree) == {"webapp.runs.b"}
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_one_that_imports_it_back():
    edges = graph()
    # The web package's __init__ and its blueprints register each other by design (Flask's pattern:
    # `bp` is made in __init__, the route modules add to it); that is one room, not a circle.
    rooms = {m: ("webapp.web.api" if m.startswith("webapp.web.api") else m) for m in edges}
    merged = {}
    for m, targets in edges.items():
        merged.setdefault(rooms[m], set()).update(rooms[t] for t in targets if rooms[t] != rooms[m])
    assert cycles(merged) == []


def test_a_dataset_builder_imports_no_flask_alembic_or_socketio():
    # The builder is a process of its own per upload: `webapp/__init__` must not pull the web app in.
    import subprocess
    import sys

    code = ("import sys, webapp.datasets.builder, webapp.runs.rq_worker\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'flask', 'alembic', 'flask_socketio', 'keras'}))")
    done = subprocess.run([sys.executable, "-P", "-c", code], cwd=ROOT, env={"PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
