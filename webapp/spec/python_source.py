"""Read a Keras script the way a person reads it: with `ast`, never running a line of it.

Module-level statements are followed in order (and the bodies of `if __name__ == "__main__":` and
`with ...:`, which are straight-line code). Names bound to constants (`num_classes = 10`), to
arithmetic on them, to Keras objects (`opt = keras.optimizers.Adam(1e-3)`) or to argparse defaults
are remembered; `keras.Sequential`, `model.add`, `model.compile` and `model.fit` are recorded.
Anything else (a function call's result, a loop, a comprehension) has no value here: when the model
needs it, a warning names its line. `python_import.py` turns what is read into a spec.
"""

import ast
import operator
import re
from dataclasses import dataclass, field

from .validate import FieldError, SpecError

MAX_NUMBER = 10 ** 15
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
        ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}


class NotStatic(Exception):
    """A value that only running the script would give; str() is its source text."""


@dataclass
class Ref:
    """A dotted name such as keras.layers.Dense, layers.Dense or Dense."""

    path: str

    def in_keras(self, group):
        """Say whether this names something in keras.<group>: keras.layers.X, layers.X, tf.keras.layers.X, X."""
        parts = self.path.split(".")
        return len(parts) == 1 or (parts[-2] == group and parts[0] in ("keras", "tf", "tensorflow", group))

    @property
    def last(self):
        """Give the last part of the path: Dense."""
        return self.path.rsplit(".", 1)[-1]

    @property
    def parent(self):
        """Give the part before the last: keras.layers (empty for a bare name)."""
        return self.path.rsplit(".", 1)[0] if "." in self.path else ""


@dataclass
class Call:
    """A call written in the source, with its arguments read as far as they can be."""

    func: object
    args: list
    kwargs: dict
    node: ast.AST
    starred: bool = False   # **kwargs: arguments that only running the script would give

    @property
    def line(self):
        """Give the line the call starts on."""
        return self.node.lineno

    @property
    def name(self):
        """Give the called name's last part (Dense for keras.layers.Dense), or ''."""
        return self.func.last if isinstance(self.func, Ref) else ""


@dataclass
class Unknown:
    """A value that only running the script would give."""

    node: ast.AST

    @property
    def line(self):
        """Give the line the value is written on."""
        return getattr(self.node, "lineno", 0)


@dataclass
class Model:
    """A keras.Sequential being put together: its layers and its compile and fit calls."""

    line: int
    var: str = ""
    items: list = field(default_factory=list)   # Calls (or Unknowns) in order
    compile: Call | None = None
    fit: Call | None = None


@dataclass
class Parser:
    """An argparse.ArgumentParser: its options' defaults, by dest."""

    defaults: dict = field(default_factory=dict)


@dataclass
class Namespace:
    """The result of parse_args(): each option at its default."""

    defaults: dict


@dataclass
class Method:
    """A method looked up on a Model or Parser, ready to be called."""

    owner: object
    name: str


class Reader:
    """Walks a module's top-level statements and keeps what can be known without running them."""

    def __init__(self, source):
        self.source = source
        self.lines = re.split(r"\r\n|\r|\n", source)   # as the tokenizer splits them
        self.env = {}
        self.models = []
        self.functional = []      # lines that build keras.Model(...): the functional API
        self.warnings = []

    def text(self, node):
        """Give the source text of a node, shortened for messages (offsets are UTF-8 bytes)."""
        if isinstance(node, (Call, Unknown)):
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
        """Add a warning that names its line."""
        self.warnings.append(f"line {line}: {message}")

    def read(self):
        """Read the whole module; give self."""
        try:
            tree = ast.parse(self.source)
        except SyntaxError as exc:
            raise SpecError([FieldError(None, "source", f"Line {exc.lineno}: Python syntax error: {exc.msg}.")]) from None
        except (ValueError, RecursionError, MemoryError):
            raise SpecError([FieldError(None, "source", "This Python source cannot be parsed.")]) from None
        self.statements(tree.body)
        return self

    def statements(self, body):
        """Follow a list of statements in order."""
        for stmt in body:
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
            for target in stmt.targets:
                self.bind(target, value)
        elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)) and stmt.value is not None:
            node = stmt.value if isinstance(stmt, ast.AnnAssign) else ast.BinOp(
                ast.Name(stmt.target.id, ast.Load()) if isinstance(stmt.target, ast.Name) else stmt.target,
                stmt.op, stmt.value)
            self.bind(stmt.target, self.value(ast.copy_location(node, stmt.value)))
        elif isinstance(stmt, ast.Expr):
            self.value(stmt.value)
        elif isinstance(stmt, ast.If) and _is_main_guard(stmt.test) or isinstance(stmt, ast.With):
            self.statements(stmt.body)   # straight-line code: `with strategy.scope():` is common in guides
        else:
            self.skipped(stmt)

    def imports(self, stmt):
        """Bind imported names to what they name: `from keras import layers` -> keras.layers."""
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                name = alias.asname or alias.name.split(".")[0]
                self.env[name] = Ref(alias.name if alias.asname else name)
        elif isinstance(stmt, ast.ImportFrom):
            for alias in stmt.names:
                if alias.name != "*":
                    self.env[alias.asname or alias.name] = Ref(f"{stmt.module or ''}.{alias.name}".lstrip("."))

    def skipped(self, stmt):
        """Warn when a statement that is not followed (a loop, a def...) touches the model."""
        kind = {ast.For: "a for loop", ast.While: "a while loop", ast.If: "an if block",
                ast.Try: "a try block", ast.FunctionDef: "a function", ast.ClassDef: "a class"}.get(type(stmt))
        if kind is None:
            return
        models = {m.var for m in self.models if m.var}
        for node in ast.walk(stmt):
            if isinstance(node, ast.Call):
                func = node.func
                builds = isinstance(func, (ast.Name, ast.Attribute)) and (
                    getattr(func, "id", None) or getattr(func, "attr", None)) in ("Sequential", "Model")
                changes = (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                           and func.value.id in models and func.attr in ("add", "compile", "fit", "pop"))
                if builds or changes:
                    what = "builds a model" if builds else f"calls {func.value.id}.{func.attr}"
                    self.warn(stmt.lineno, f"{kind} that {what} is not read (only top-level statements "
                                           "are followed, nothing is run); skipped")
                    return

    def bind(self, target, value):
        """Bind a name (or a tuple of names) to a value."""
        if isinstance(target, ast.Name):
            self.env[target.id] = value
            if isinstance(value, Model) and not value.var:
                value.var = target.id
        elif isinstance(target, (ast.Tuple, ast.List)):
            same = isinstance(value, (tuple, list)) and len(value) == len(target.elts)
            for i, element in enumerate(target.elts):
                self.bind(element, value[i] if same else Unknown(element))

    def value(self, node):
        """Give what a node is known to be: a constant, a Ref, a Call, a Model..., or an Unknown."""
        if isinstance(node, ast.Constant):
            return node.value if isinstance(node.value, (int, float, str, bool, type(None))) else Unknown(node)
        if isinstance(node, (ast.Tuple, ast.List)):
            items = [self.value(e) if not isinstance(e, ast.Starred) else Unknown(e) for e in node.elts]
            return tuple(items) if isinstance(node, ast.Tuple) else items
        if isinstance(node, ast.Name):
            return self.env.get(node.id, Ref(node.id))
        if isinstance(node, ast.Attribute):
            return self.attribute(self.value(node.value), node.attr, node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = self.value(node.operand)
            if _is_number(operand):
                return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return self.arithmetic(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        return Unknown(node)

    def attribute(self, base, attr, node):
        """Give base.attr: a longer Ref, a Model's or Parser's method, or an argparse default."""
        if isinstance(base, Ref):
            return Ref(f"{base.path}.{attr}")
        if isinstance(base, (Model, Parser)):
            return Method(base, attr)
        if isinstance(base, Namespace) and attr in base.defaults:
            return base.defaults[attr]
        return Unknown(node)

    def arithmetic(self, node):
        """Give +, -, *, /, //, %, ** on numbers, with sizes kept small; an Unknown otherwise."""
        left, right = self.value(node.left), self.value(node.right)
        if _is_number(left) and _is_number(right):
            if isinstance(node.op, ast.Pow) and (abs(right) > 64 or abs(left) > MAX_NUMBER):
                return Unknown(node)
            try:
                result = _OPS[type(node.op)](left, right)
            except (ArithmeticError, ValueError):
                return Unknown(node)
            if isinstance(result, (int, float)) and not isinstance(result, complex) and abs(result) <= MAX_NUMBER:
                return result
        return Unknown(node)

    def call(self, node):
        """Give a Call record; Sequential gives a Model, model.add/compile/fit are recorded."""
        func = self.value(node.func)
        args = [self.value(a) if not isinstance(a, ast.Starred) else Unknown(a) for a in node.args]
        kwargs = {k.arg: self.value(k.value) for k in node.keywords if k.arg is not None}
        call = Call(func, args, kwargs, node, starred=any(k.arg is None for k in node.keywords))
        if isinstance(func, Method):
            return self.method(func, call)
        if call.name == "Sequential":
            return self.sequential(call)
        if call.name in ("Model", "Functional"):
            self.functional.append(node.lineno)
        if call.name == "ArgumentParser":
            return Parser()
        return call

    def sequential(self, call):
        """Give a new Model for keras.Sequential(layers=[...])."""
        model = Model(call.line)
        items = call.args[0] if call.args else call.kwargs.get("layers")
        if isinstance(items, (list, tuple)):
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
            return Namespace(dict(owner.defaults)) if name == "parse_args" else None
        if name == "add":
            owner.items.append(call.args[0] if call.args else call.kwargs.get("layer", Unknown(call.node)))
        elif name == "pop" and owner.items:
            owner.items.pop()
        elif name in ("compile", "fit"):
            setattr(owner, name, call)
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


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_main_guard(test):
    """Say whether an if test is `__name__ == "__main__"`."""
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"
            and len(test.comparators) == 1 and isinstance(test.comparators[0], ast.Constant)
            and test.comparators[0].value == "__main__")
