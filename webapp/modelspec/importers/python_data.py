"""The data a script writes out, computed by the Reader itself: constants, lists and tuples, arithmetic, subscripts.

`units = 64 * 2`, `layers = [*base, Dense(10)]`, `sizes[1:]`, `x_test[10:20]`, `f"units_{i}"` mean what they mean.
Each value is kept within `python_cost.py`'s bounds, measured before it is built; past them it is
an Unknown, as what only running the script would give.
"""

import ast
import operator

from . import python_backbone, python_cost
from .python_values import Rows, Unknown

MAX_NUMBER = 10 ** 15           # a computed number (its operands are within python_cost.MAX_BITS)
MAX_ROWS = python_cost.MAX_ITEMS  # rows named by x[10:20] or x[[3, 5]]
OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
             ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}


def constant(node):
    """Give a number, string, bool or None written in the script; an Unknown for others and past the bounds."""
    known = isinstance(node.value, (int, float, str, bool, type(None))) and python_cost.small(node.value)
    return node.value if known else Unknown(node)


def items(reader, node):
    """Give a list or tuple written out, `[*base, Dense(10)]` spread; an Unknown past python_cost's bounds."""
    parts = []
    for element in node.elts:
        if isinstance(element, ast.Starred):
            inner = reader.value(element.value)
            parts.append((inner, True) if isinstance(inner, (list, tuple)) else (Unknown(element), False))
        else:
            parts.append((reader.value(element), False))
    built = reader.cost.build(parts, tuple if isinstance(node, ast.Tuple) else list)
    return Unknown(node) if built is None else built


def joined(reader, node):
    """Give an f-string of constants (`f"units_{i}"`) as its text; an Unknown when a part needs running code."""
    parts = []
    for value in node.values:
        if isinstance(value, ast.FormattedValue):
            inner = reader.value(value.value)
            if value.conversion != -1 or value.format_spec is not None or not isinstance(inner, (int, str)):
                return Unknown(node)
            value = str(inner)
        else:
            value = value.value
        parts.append(value)
    reader.cost.charge(len(parts))
    text_size = sum(len(p) for p in parts)
    return "".join(parts) if text_size < python_cost.MAX_SIZE else Unknown(node)


def sign(node, operand):
    """Give -x or +x of a number; an Unknown otherwise."""
    if is_number(operand):
        return -operand if isinstance(node.op, ast.USub) else operand
    return Unknown(node)


def arithmetic(node, left, right, cost):
    """Give +, -, *, /, //, %, ** on numbers, and + and * on lists, with sizes kept small; an Unknown otherwise.

    Numbers are at most python_cost.MAX_BITS bits (written) or MAX_NUMBER (computed), and a power's
    exponent at most 64, so no operation here costs more than a few thousand bits' work.
    """
    built = None
    if isinstance(node.op, ast.Add) and isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        built = cost.build([(left, True), (right, True)])   # Sequential(a + b)
    elif isinstance(node.op, ast.Mult) and isinstance(left, (list, tuple)) and isinstance(right, int):
        built = cost.repeat(left, right)
    if built is not None:
        return built
    if is_number(left) and is_number(right):
        if isinstance(node.op, ast.Pow) and (abs(right) > 64 or abs(left) > MAX_NUMBER):
            return Unknown(node)
        try:
            result = OPERATORS[type(node.op)](left, right)
        except (ArithmeticError, ValueError):
            return Unknown(node)
        if isinstance(result, (int, float)) and not isinstance(result, complex) and abs(result) <= MAX_NUMBER:
            return result
    return Unknown(node)


def subscript(reader, node):
    """Give x[10:20], x[3] or x[[1, 2]] of an array as Rows; an item or a slice of a constant list; else Unknown."""
    base, index = reader.value(node.value), node.slice
    layers = python_backbone.layer_slice(reader, base, index)   # base.layers[-20:]
    if layers is not None:
        return layers
    if isinstance(index, ast.Slice):
        bounds = [reader.value(part) if part is not None else None for part in (index.lower, index.upper, index.step)]
        if all(b is None or _is_int(b) for b in bounds) and bounds[1] is not None:
            rows = range(bounds[0] or 0, bounds[1], bounds[2] or 1) if bounds[2] != 0 else range(0)
            if isinstance(base, (list, tuple)) and bounds[2] != 0:
                return reader.cost.adopt(base[bounds[0]:bounds[1]:bounds[2]])
            return _rows(node, list(rows[:MAX_ROWS + 1]))
        return Unknown(node)
    key = reader.value(index)
    if isinstance(base, (list, tuple)) and _is_int(key) and -len(base) <= key < len(base):
        return base[key]
    if _is_int(key):
        return _rows(node, [key])
    if isinstance(key, list) and key and all(_is_int(k) for k in key):
        return _rows(node, key[:MAX_ROWS + 1])
    return Unknown(node)


def _rows(node, indexes):
    """Give Rows of a named array (x_test[10:20]); other subscripts have no value here."""
    if isinstance(node.value, ast.Name) and indexes and all(i >= 0 for i in indexes):
        return Rows(node.value.id, indexes, node.lineno, node)
    return Unknown(node)


def is_number(value):
    """Say whether a value is an int or a float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)
