"""The house's rules, read from the source with ast: rooms import downward, Flask and Keras only where listed, no circles."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "webapp"
ROOMS_DOC = ROOT / "docs" / "rooms.md"
# What may lie loose at the top of webapp/: the factory and what it binds; every other module is in a room.
TOP = {"__init__", "factory", "config", "extensions", "commands"}
# The app factory, its extensions and its CLI bind Flask; everything else that knows Flask is in web/.
FLASK_OUTSIDE_WEB = {"webapp.factory", "webapp.extensions", "webapp.commands"}
# Where a model is built, trained or run (ARCHITECTURE.md), and the CLI's keras.datasets fetch:
# nowhere else imports Keras or TensorFlow, or asks modelspec.build.init_keras for them.
# The inside view and the augmentation preview run a saved or a built model in the web process.
KERAS = {"webapp.modelspec.build", "webapp.runs.weights_check", "webapp.runs.fine_tune", "webapp.runs.trainer", "webapp.runs.feed", "webapp.runs.callbacks", "webapp.runs.local",
         "webapp.runs.fit_dynamics", "webapp.runs.dynamics_callbacks",
         "webapp.runs.startup", "webapp.predict.saved_models", "webapp.predict.inside", "webapp.predict.saliency",
         "webapp.predict.rnn_steps",
         "webapp.datasets.augment", "webapp.commands", "webapp.deploy.convert", "webapp.deploy.verify"}
# Which rooms each room may import (docs/rooms.md says why): the house's floors, bottom to top.
# config and extensions are leaves anyone may import; a name with a dot is one module of a room.
ROOMS = {
    "db": set(),
    "team": {"db"},
    "modelspec": set(),
    "datasets": {"db", "modelspec", "runs.rq_shared"},   # a build rides the runs' queue and channel
    "predict": {"modelspec", "datasets"},
    "runs": {"db", "modelspec", "datasets", "predict"},
    "sweeps": {"db", "modelspec", "datasets", "runs"},
    "deploy": {"db", "modelspec", "datasets", "predict", "runs"},
    "web": {"db", "team", "modelspec", "datasets", "predict", "runs", "sweeps", "deploy"},
    "commands": {"db", "team", "modelspec", "datasets", "predict", "runs", "sweeps", "deploy"},
    "factory": {"db", "team", "modelspec", "datasets", "predict", "runs", "sweeps", "deploy", "web", "commands"},
    "__init__": {"factory"},
}
LEAVES = {"config", "extensions"}


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


def room(module):
    """Give the room a webapp module lives in: its folder under webapp/, or its own name at the top."""
    return module.split(".")[1] if module.count(".") else "__init__"


def test_every_module_but_the_factory_and_its_binders_lives_in_a_room():
    loose = {p.stem for p in PACKAGE.glob("*.py")}
    assert loose <= TOP
    assert set(ROOMS) | LEAVES >= {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"} | TOP


def test_rooms_import_only_the_rooms_below_them():
    wrong = set()
    for module, targets in graph().items():
        for target in targets:
            here, there = room(module), room(target)
            inside = target.split(".", 2)[1] + "." + target.split(".", 2)[2] if target.count(".") > 1 else there
            if here != there and there not in LEAVES | ROOMS[here] and inside not in ROOMS[here]:
                wrong.add(f"{module} -> {target}")
    assert wrong == set()


def test_every_room_and_module_opens_with_a_sentence_saying_what_it_is():
    silent = [name for name, tree in modules().items() if not (ast.get_docstring(tree) or "").strip()]
    assert silent == []
    assert all((folder / "__init__.py").exists() for folder in PACKAGE.rglob("*") if folder.is_dir()
               and any(folder.glob("*.py")) and folder.name != "versions")


def documented():
    """Give {folder under webapp/: the module names docs/rooms.md lists under its heading}."""
    found, folder = {}, None
    for line in ROOMS_DOC.read_text().splitlines():
        heading = re.match(r"#+ .*\(`webapp/([\w/]*?)/?`\)", line)
        if heading:
            folder = heading.group(1)
            found[folder] = set()
        elif folder is not None and line.startswith("| `"):
            found[folder] |= set(re.findall(r"`(\w+)\.py`", line.split("|")[1]))
    return found


def test_docs_rooms_md_lists_every_room_and_every_module_in_it():
    tree = {str(folder.relative_to(PACKAGE)): {p.stem for p in folder.glob("*.py")} - {"__init__"}
            for folder in PACKAGE.rglob("*") if folder.is_dir() and any(folder.glob("*.py"))
            and folder.name not in ("versions", "__pycache__")}
    tree[""] = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    tree.pop("db/migrations")   # Alembic's own files (env.py); rooms.md names the folder in db/
    assert documented() == tree


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
    assert found == KERAS
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
