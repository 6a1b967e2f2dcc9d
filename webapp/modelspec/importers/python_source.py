"""Read a Keras script the way a person reads it: with `ast`, never running a line of it.

Module-level statements are followed in order, and so are the bodies of what a script builds its
model in: `if __name__ == "__main__":`, `with ...:`, a top-level function the script calls, a loop
over constants, an `if` on constants (`python_flow.py`). Names bound to constants, to arithmetic on
them, to Keras objects or to argparse defaults are remembered; `keras.Sequential`, `model.add`,
`compile`, `fit` (and `fit_generator`), `predict_classes` and `ImageDataGenerator` are recorded.
Old module paths (`keras.layers.core`, `tf.keras`) are read as Keras 3's, each with a note. The data
the script loads is read by `python_dataset.py`, `keras.applications` backbones and what the script
makes trainable by `python_backbone.py`.
Anything else has no value here: when the model needs it, a warning names its line. Every value
built and the work of the whole import are bounded (`python_cost.py`). `python_import.py` turns
what is read into a spec.
"""

import ast
import re

from . import (python_backbone, python_cost, python_data, python_dataset, python_flow, python_graph, python_legacy,
               python_tuner)
from .import_answer import MAX_KEPT, note, note_key
from .python_values import (Backbone, Call, Flow, Function, Generator, Method, Model, Namespace, Parser, Ref,
                            Rows, Unknown)
from ..fields import FieldError, SpecError

MODEL_METHODS = ("add", "pop", "compile", "fit", "fit_generator", "predict", "predict_classes", "predict_proba")


class Reader:
    """Walks a module's top-level statements and keeps what can be known without running them."""

    def __init__(self, source):
        self.source = source
        self.lines = re.split(r"\r\n|\r|\n", source)   # as the tokenizer splits them
        self.env = {}
        self.models = []
        self.wrappers = []        # inference wrappers around a trained model (python_graph.py)
        self.functional = []      # lines of keras.Model(...) calls that could not be read as a functional model
        self.graph_layers = {}    # id of a layer object called on a tensor -> line (python_graph.py)
        self.warnings = {}        # text -> None: each once, in order, at most MAX_KEPT
        self.notes = {}           # note_key -> note: each once, in order, at most MAX_KEPT
        self.markers = {}         # generation -> (line, text): what dates the script (old_keras.GENERATIONS)
        self.parsers = []         # argparse parsers made, emptied by close()
        self.cost = python_cost.Cost()
        self.flow = python_flow.Flow(self)
        self.renamed = set()      # old module prefixes already noted
        self.hps = {}             # Keras Tuner's hp.* values by name (python_tuner.py)
        self.data = python_dataset.Data()   # what the script loads: the answer's "dataset"
        self.trainable_events = []  # what the script sets trainable, in order (python_backbone.py)

    def text(self, node):
        """Give the source text of a node, shortened for messages (offsets are UTF-8 bytes)."""
        if isinstance(node, (Call, Unknown, Rows)):
            node = node.node
        rows = [row.encode() for row in self.lines[node.lineno - 1:min(node.end_lineno, node.lineno + 3)]]
        if not rows or max(len(row) for row in rows) > 5000:   # keeps many warnings on a huge line cheap
            return type(node).__name__.lower()
        if node.lineno - 1 + len(rows) == node.end_lineno:
            rows[-1] = rows[-1][:node.end_col_offset]
        rows[0] = rows[0][node.col_offset:]
        text = " ".join(b" ".join(rows).decode(errors="replace").split())
        return text if len(text) <= 60 else text[:57] + "..."

    def warn(self, line, message):
        """Add a warning that names its line; it is a note too (what was left out, and why)."""
        if len(self.warnings) < MAX_KEPT:   # a loop repeats its warnings: each is kept once
            self.warnings[f"line {line}: {message}"] = None
        now = "the dataset's input shape" if message.startswith("input shape") else (
            "default" if "default" in message else "left out")
        self.note(line, self.line_text(line), now, message)

    def note(self, line, was, now, why, layer=None, field=None):
        """Add a note of what the import changed from the script."""
        if len(self.notes) < MAX_KEPT:
            made = note(line, was, now, why, layer, field)
            self.notes.setdefault(note_key(made), made)

    def marker(self, generation, line, text):
        """Remember what dates the script to a Keras generation: the first sign of each, `from __future__` the last."""
        if generation not in self.markers or "__future__" in self.markers[generation][1]:
            self.markers[generation] = (line, text)

    def line_text(self, line):
        """Give a source line, stripped and shortened."""
        text = self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""
        return text if len(text) <= 80 else text[:77] + "..."

    def read(self):
        """Read the whole module; give self."""
        try:
            tree = ast.parse(self.source)
        except SyntaxError as exc:
            raise SpecError([FieldError(None, "source", f"Line {exc.lineno}: Python syntax error: {exc.msg}.")]) from None
        except (ValueError, RecursionError, MemoryError):
            raise SpecError([FieldError(None, "source", "This Python source cannot be parsed.")]) from None
        self.statements(tree.body)
        self.flow.unused_functions()
        return self

    def close(self):
        """Let go of what the script built: a model's compile call refers to the model, so they hold each other."""
        for model in self.models + self.wrappers:
            model.items.clear()
            model.wraps = None
            model.compile = model.fit = model.predict = model.tuner = None   # a tuner refers to its model too
        for parser in self.parsers:
            parser.defaults.clear()
        self.env.clear()
        self.graph_layers.clear()
        self.hps.clear()
        self.data.tokenizers.clear()
        self.trainable_events.clear()
        for model in self.models:
            model.phases.clear()
        self.cost = None

    def statements(self, body):
        """Follow a list of statements in order."""
        for stmt in body:
            self.flow.step(stmt)
            try:
                self.statement(stmt)
            except RecursionError:
                self.warn(stmt.lineno, "this statement is nested too deeply to read; skipped")

    def statement(self, stmt):
        """Follow one statement: imports and assignments bind names, calls are recorded."""
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            self.imports(stmt)
        elif isinstance(stmt, ast.Assign):
            value = self.value(stmt.value)
            python_dataset.assignment(self, stmt.targets, value, stmt.lineno)
            for target in stmt.targets:
                self.bind(target, value)
        elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)) and stmt.value is not None:
            node = stmt.value if isinstance(stmt, ast.AnnAssign) else ast.BinOp(
                ast.Name(stmt.target.id, ast.Load()) if isinstance(stmt.target, ast.Name) else stmt.target,
                stmt.op, stmt.value)
            value = self.value(ast.copy_location(node, stmt.value))
            python_dataset.assignment(self, [stmt.target], value, stmt.lineno)
            self.bind(stmt.target, value)
        elif isinstance(stmt, ast.Expr):
            self.value(stmt.value)
        elif isinstance(stmt, ast.If) and _is_main_guard(stmt.test) or isinstance(stmt, ast.With):
            self.statements(stmt.body)   # straight-line code: `with strategy.scope():` is common in guides
        elif not self.flow.statement(stmt):
            self.flow.skipped(stmt)

    def imports(self, stmt):
        """Bind imported names to what they name: `from keras import layers` -> keras.layers."""
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                path = python_legacy.current_path(self, alias.name, stmt.lineno)
                name = alias.asname or alias.name.split(".")[0]
                self.env[name] = Ref(path if alias.asname else name)
        elif isinstance(stmt, ast.ImportFrom):
            module = stmt.module or ""
            if module == "__future__" or module.split(".")[0] == "keras" and module.endswith("backend"):
                self.marker("keras2", stmt.lineno, self.line_text(stmt.lineno))
            for alias in stmt.names:
                if alias.name == "backend" and module == "keras":
                    self.marker("keras2", stmt.lineno, self.line_text(stmt.lineno))
                if alias.name != "*":
                    path = python_legacy.current_path(self, f"{module}.{alias.name}".lstrip("."), stmt.lineno)
                    self.env[alias.asname or alias.name] = Ref(path)

    def bind(self, target, value):
        """Bind a name (or a tuple of names) to a value."""
        if isinstance(target, ast.Name):
            self.env[target.id] = value
            if isinstance(value, Model) and not value.var:
                value.var = target.id
        elif isinstance(target, ast.Attribute):
            python_backbone.set_trainable(self, target, value, target.lineno)
        elif isinstance(target, (ast.Tuple, ast.List)):
            same = isinstance(value, (tuple, list)) and len(value) == len(target.elts)
            for i, element in enumerate(target.elts):
                self.bind(element, value[i] if same else Unknown(element))

    def value(self, node):
        """Give what a node is known to be: a constant, a Ref, a Call, a Model..., or an Unknown."""
        if isinstance(node, ast.Constant):
            return python_data.constant(node)
        if isinstance(node, (ast.Tuple, ast.List)):
            return python_data.items(self, node)
        if isinstance(node, ast.Name):
            return self.env.get(node.id, Ref(node.id))
        if isinstance(node, ast.Attribute):
            return self.attribute(self.value(node.value), node.attr, node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            return python_data.sign(node, self.value(node.operand))
        if isinstance(node, ast.BinOp) and type(node.op) in python_data.OPERATORS:
            left, right = (python_tuner.settle(self, self.value(n), node.lineno, "is used in arithmetic")
                           for n in (node.left, node.right))
            return python_data.arithmetic(node, left, right, self.cost)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Subscript):
            return python_data.subscript(self, node)
        if isinstance(node, ast.JoinedStr):
            return python_data.joined(self, node)
        return Unknown(node)

    def attribute(self, base, attr, node):
        """Give base.attr: a longer Ref, a Model's or Parser's method, or an argparse default."""
        if isinstance(base, Ref):
            return Ref(python_legacy.current_path(self, f"{base.path}.{attr}", node.lineno))
        if isinstance(base, python_tuner.OWNERS):
            return python_tuner.member(base, attr, node)
        member = python_backbone.member(base, attr)
        if member is not None:
            return member
        if isinstance(base, Backbone):   # base.output, base.input: tensors of the functional API
            return python_graph.backbone_tensor(self, base, attr) if attr in ("input", "output") else Unknown(node)
        if isinstance(base, (Model, Parser, Generator)) or isinstance(base, Call) and id(base) in self.data.tokenizers:
            return Method(base, attr)
        if isinstance(base, Namespace) and attr in base.defaults:
            return base.defaults[attr]
        return Unknown(node)

    def call(self, node):
        """Give a Call record; Sequential gives a Model, model.add/compile/fit are recorded."""
        func = self.value(node.func)
        args = [self.value(a) if not isinstance(a, ast.Starred) else Unknown(a) for a in node.args]
        kwargs = {k.arg: self.value(k.value) for k in node.keywords if k.arg is not None}
        call = Call(func, args, kwargs, node, starred=any(k.arg is None for k in node.keywords))
        python_legacy.date(self, call)
        if python_tuner.owns(func):   # hp.Int(...), kt.RandomSearch(...), tuner.search(...)
            return python_tuner.call(self, call)
        if isinstance(func, Method):
            return self.method(func, call)
        if isinstance(func, Function):
            return self.flow.call_function(func, call)
        made = python_graph.call(self, call)   # the functional API: Input, layer(x), add([x, y]), Model
        if made is not None:
            return made
        if call.name == "Sequential":
            return self.sequential(call)
        backbone = python_backbone.application(self, call)
        if backbone is not None:
            return backbone
        if call.name == "ImageDataGenerator":
            return Generator(call)
        if isinstance(func, Ref) and func.path == "range":
            return self.flow.constant_range(call)
        if python_dataset.call(self, call):
            return call
        python_legacy.data_note(self, call)
        if call.name in ("Model", "Functional"):
            self.functional.append(node.lineno)
        if call.name == "ArgumentParser":
            self.parsers.append(Parser())
            return self.parsers[-1]
        return call

    def sequential(self, call):
        """Give a new Model for keras.Sequential(layers=[...])."""
        model = Model(call.line)
        items = call.args[0] if call.args else call.kwargs.get("layers")
        if isinstance(items, (list, tuple)):
            self.cost.charge(len(items))
            model.items.extend(items)
        elif items is not None:
            self.warn(call.line, f"the layers of {self.text(call)} cannot be read without running the script; skipped")
        self.models.append(model)
        return model

    def method(self, method, call):
        """Record model.add/pop/compile/fit; read argparse's add_argument and parse_args."""
        owner, name = method.owner, method.name
        if isinstance(owner, Parser):
            if name == "add_argument":
                _argument(owner, call)
            if name == "parse_args":
                self.cost.charge(len(owner.defaults))
                return Namespace(dict(owner.defaults))
            return None
        if isinstance(owner, Generator):
            return Flow(owner, call) if name.startswith("flow") else None
        if isinstance(owner, Call):   # a Tokenizer (python_dataset.py)
            return python_dataset.matrix(self, owner, call) if name == "sequences_to_matrix" else None
        if name in ("to_json", "save", "save_weights"):
            self.note(call.line, self.text(call), "the run's artifacts", "every run keeps model.keras, model.json "
                      "(model.to_json()) and history.csv for download")
        if name not in MODEL_METHODS:
            return None
        if name in ("fit_generator", "predict_classes"):
            self.marker("keras2", call.line, f"model.{name}(...)")
        if name == "add":
            owner.items.append(call.args[0] if call.args else call.kwargs.get("layer", Unknown(call.node)))
        elif name == "pop" and owner.items:
            owner.items.pop()
        elif name == "compile":
            owner.compile = call
        elif name in ("fit", "fit_generator"):
            owner.fit, owner.fit_method = call, name
            owner.phases.append((owner.compile, call, len(self.trainable_events)))
        elif name.startswith("predict"):
            owner.predict = call
        return None


def _argument(parser, call):
    """Keep an argparse option's default under its dest (--batch-size -> batch_size)."""
    flags = [a for a in call.args if isinstance(a, str)]
    dest = call.kwargs.get("dest")
    if not isinstance(dest, str):
        longs = [f for f in flags if f.startswith("--")] or flags
        dest = longs[0].lstrip("-").replace("-", "_") if longs else None
    if dest:
        parser.defaults[dest] = call.kwargs.get("default")


def _is_main_guard(test):
    """Say whether an if test is `__name__ == "__main__"`."""
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"
            and len(test.comparators) == 1 and isinstance(test.comparators[0], ast.Constant)
            and test.comparators[0].value == "__main__")
