"""The control flow scripts build their models in, followed without running anything.

A top-level function the script calls (`model = build_model()`), a `for` over constants
(`for units in (64, 32):`, `for i in range(3):`), an `if` on constants set earlier
(`if use_dropout:`), a `return`. Each is followed statement by statement with the Reader's own
values; a loop whose bounds only running the script would give is skipped with a warning. Work is
bounded: at most MAX_STEPS statements and MAX_DEPTH nested calls per script, and the Reader's
`python_cost.Cost` is charged for each statement, call and comparison.
"""

import ast
import operator
import weakref

from . import python_backbone, python_tuner
from .python_values import Function, LayerSlice, Unknown
from ..fields import FieldError, SpecError

MAX_STEPS = 20_000
MAX_DEPTH = 8
MAX_LOOP = 1000
_COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
            ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
            ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b}
CONSTANT = (bool, int, float, str, type(None))


class _Return(Exception):
    """A `return` inside a function being followed; carries its value."""

    def __init__(self, value):
        super().__init__()
        self.value = value


class Flow:
    """Follows functions, loops and ifs for a Reader (`python_source.Reader`)."""

    def __init__(self, reader):
        self.reader = weakref.proxy(reader)   # the reader holds its Flow: no cycle, so an import is freed when done
        self.steps = 0
        self.depth = 0
        self.called = set()

    def step(self, stmt):
        """Count one statement followed; refuse a script whose loops and calls would follow too many."""
        self.steps += 1
        self.reader.cost.statement(stmt)
        if self.steps > MAX_STEPS:
            raise SpecError([FieldError(None, "source", f"Line {stmt.lineno}: the script's loops and calls run more "
                                        f"than {MAX_STEPS:,} statements; only simpler scripts are read.")])

    def statement(self, stmt):
        """Follow a def, for, if or return; give False when the statement is not one this reads."""
        if isinstance(stmt, ast.FunctionDef):
            self.reader.env[stmt.name] = Function(stmt)
        elif isinstance(stmt, ast.Return) and self.depth:
            raise _Return(self.reader.value(stmt.value) if stmt.value is not None else None)
        elif isinstance(stmt, ast.If):
            return self.branch(stmt)
        elif isinstance(stmt, ast.For):
            return self.loop(stmt)
        elif isinstance(stmt, ast.ClassDef):
            return python_tuner.hyper_class(self.reader, stmt)
        else:
            return isinstance(stmt, (ast.Pass, ast.Global, ast.Nonlocal))
        return True

    def branch(self, stmt):
        """Follow the branch an if on constants takes; give False when the test needs running code."""
        test = self.constant_test(stmt.test)
        if test is None:
            return False
        self.reader.statements(stmt.body if test else stmt.orelse)
        return True

    def loop(self, stmt):
        """Follow a for loop over a constant list, tuple or range; give False otherwise.

        A loop that adds layers is unrolled with a note; one over a range too long to follow that
        builds the model is refused before a pass is made.
        """
        items = self.reader.value(stmt.iter)
        if isinstance(items, LayerSlice):   # for layer in base.layers[-20:]: layer.trainable = True
            return python_backbone.layer_loop(self.reader, stmt, items)
        jumps = any(isinstance(n, (ast.Break, ast.Continue)) for n in ast.walk(stmt))
        passes = _range_length(items)
        if passes is not None and passes > MAX_LOOP and self.touches_model(stmt):
            raise SpecError([FieldError(None, "source", f"Line {stmt.lineno}: this loop builds the model in "
                                        f"{passes:,} passes; at most {MAX_LOOP:,} are followed.")])
        if not isinstance(items, (list, tuple)) or len(items) > MAX_LOOP or stmt.orelse or jumps:
            return False
        before = self.layer_count()
        for item in items:
            self.reader.bind(stmt.target, item)
            self.reader.statements(stmt.body)
        added = self.layer_count() - before
        if added > 0:
            self.reader.note(stmt.lineno, self.reader.line_text(stmt.lineno), f"{added} layer{'s' * (added != 1)} "
                             f"written out", f"the loop is unrolled: its {len(items)} pass{'es' * (len(items) != 1)} "
                             "add these layers one after another, each in the spec as its own layer")
        return True

    def layer_count(self):
        """Give how many layers the script's models hold or its tensors were made by so far (a loop adding some is unrolled)."""
        return sum(len(m.items) for m in self.reader.models) + len(self.reader.graph_layers)

    def constant_range(self, call):
        """Give range(...) as a list when its bounds are constants, else the Call."""
        args = [python_tuner.settle(self.reader, a, call.line, "sets the bounds of a range()") for a in call.args]
        if call.kwargs or not 1 <= len(args) <= 3 or not all(isinstance(a, int) and not isinstance(a, bool) for a in args):
            return call
        if len(args) == 3 and args[2] == 0:
            return call
        values = range(*args)
        return self.reader.cost.adopt(list(values)) if len(values) <= MAX_LOOP else call

    def constant_test(self, node):
        """Give an if test's truth when it is made of constants (`use_bn`, `n > 2 and not deep`), else None."""
        if isinstance(node, ast.BoolOp):
            parts = [self.constant_test(v) for v in node.values]
            if None in parts:
                return None
            return all(parts) if isinstance(node.op, ast.And) else any(parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner = self.constant_test(node.operand)
            return None if inner is None else not inner
        if isinstance(node, ast.Compare):
            left = self.settled(node.left)
            for op, right_node in zip(node.ops, node.comparators):
                right = self.settled(right_node)
                if not _comparable(left) or not _comparable(right):
                    return None
                self.reader.cost.charge(self.reader.cost.measure(left)[0] + self.reader.cost.measure(right)[0])
                try:
                    if not _COMPARE[type(op)](left, right):
                        return False
                except TypeError:
                    return None
                left = right
            return True
        value = self.settled(node)
        return bool(value) if isinstance(value, CONSTANT) else None

    def settled(self, node):
        """Give the value of a node an if tests: an hp.* value is its default (python_tuner.settle)."""
        return python_tuner.settle(self.reader, self.reader.value(node), node.lineno, "decides an if")

    def call_function(self, function, call):
        """Give what a top-level function returns, following its body with the call's arguments bound."""
        node = function.node
        self.called.add(node.name)
        if self.depth >= MAX_DEPTH or call.starred:
            self.reader.warn(call.line, f"the call {self.reader.text(call)} cannot be read without running the script")
            return Unknown(call.node)
        self.reader.cost.charge(len(self.reader.env))   # the copy below
        saved, self.reader.env = self.reader.env, dict(self.reader.env)
        bound = self.bind_arguments(node.args, call)
        models = len(self.reader.models)
        self.depth += 1
        try:
            self.reader.statements(node.body)
            return None
        except _Return as done:
            return done.value
        finally:
            self.depth -= 1
            self.reader.env = saved
            if len(self.reader.models) > models and bound:
                self.arguments_note(node, call, bound)

    def arguments_note(self, node, call, bound):
        """Note the arguments a function that builds a model was followed with: the call's, else its defaults."""
        shown = ", ".join(f"{name}={value!r}" if isinstance(value, CONSTANT) else name for name, value in bound)
        defaults = [name for name, _ in bound if name not in call.kwargs][len(call.args):]
        why = f"the function {node.name} is read with these arguments" + (
            f" ({', '.join(defaults)} at {'its default' if len(defaults) == 1 else 'their defaults'})"
            if defaults else "") + "; the model it builds is imported as they make it"
        self.reader.note(call.line, self.reader.text(call), f"{node.name}({shown})"[:80], why)

    def bind_arguments(self, args, call):
        """Bind a function's parameters: defaults first, then the call's positional and keyword arguments."""
        names = [a.arg for a in args.posonlyargs + args.args]
        for name, default in zip(names[len(names) - len(args.defaults):], args.defaults):
            self.reader.env[name] = self.reader.value(default)
        for arg, default in zip(args.kwonlyargs, args.kw_defaults):
            self.reader.env[arg.arg] = self.reader.value(default) if default is not None else Unknown(arg)
        for name, value in zip(names, call.args):
            self.reader.env[name] = value
        for name, value in call.kwargs.items():
            self.reader.env[name] = value
        given = names + [a.arg for a in args.kwonlyargs]
        return [(name, self.reader.env[name]) for name in given if name in self.reader.env]

    def skipped(self, stmt, why="only top-level statements, the functions the script calls, and loops and "
                                 "ifs on constants are followed; nothing is run"):
        """Warn when a statement that is not followed (a loop, a def...) touches the model."""
        kind = {ast.For: "a for loop", ast.While: "a while loop", ast.If: "an if block",
                ast.Try: "a try block", ast.FunctionDef: "a function", ast.ClassDef: "a class"}.get(type(stmt))
        what = self.touches_model(stmt) if kind else None
        if what:
            self.reader.warn(stmt.lineno, f"{kind} that {what} is not read ({why}); skipped")

    def touches_model(self, stmt):
        """Give what a statement does to a model ("builds a model", "calls model.add"), or None."""
        models = {m.var for m in self.reader.models if m.var}
        for node in ast.walk(stmt):
            if isinstance(node, ast.Call):
                func = node.func
                builds = isinstance(func, (ast.Name, ast.Attribute)) and (
                    getattr(func, "id", None) or getattr(func, "attr", None)) in ("Sequential", "Model")
                changes = (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                           and func.value.id in models and func.attr in ("add", "compile", "fit", "pop"))
                if builds or changes:
                    return "builds a model" if builds else f"calls {func.value.id}.{func.attr}"
        return None

    def unused_functions(self):
        """Warn about a function that builds a model but that the script never calls at the top level."""
        nodes = {id(v.node): v.node for v in self.reader.env.values() if isinstance(v, Function)}
        for node in nodes.values():   # once each, however many names it has (`f = g = build`)
            if node.name not in self.called:
                self.skipped(node, "it is never called at the top level")


def _range_length(value):
    """Give the passes of a range(...) of whole numbers left as a Call (too long to list), else None."""
    func, args = getattr(value, "func", None), getattr(value, "args", None)
    if getattr(func, "path", None) != "range" or getattr(value, "kwargs", True) or not 1 <= len(args) <= 3:
        return None
    if not all(isinstance(a, int) and not isinstance(a, bool) for a in args) or len(args) == 3 and args[2] == 0:
        return None
    return len(range(*args))   # computed from the bounds: nothing is listed


def _comparable(value):
    return isinstance(value, CONSTANT) or isinstance(value, (list, tuple)) and all(isinstance(v, CONSTANT) for v in value)
