"""What reading one script may cost: a bound on every value the reader builds, and a budget for the whole import.

A value past a bound is never built: a list or tuple is measured from the sizes of its parts before
anything is copied (literals, `+`, `*`, `[*a, *b]`, slices), and an integer or string written in the
script is looked at before it is used. Such a value is Unknown, as if only running the script could
give it; a layer argument that needs it gets the warning any unreadable argument gets. A list or
tuple built knows its size (`BuiltList`, `BuiltTuple`), so measuring a new one costs its own
length, not its contents'. The work of one import has a budget (each statement followed counts its
AST nodes, a call CALL_WORK; each list copied, compared or scanned its items); past it the import
is refused: a 422 on `source` naming the line.
"""

import ast

from ..fields import FieldError, SpecError
from .python_values import BuiltList, BuiltTuple

MAX_ITEMS = 1000       # items in one list or tuple
MAX_SIZE = 100_000     # one value whole: 1 a list, tuple or item in it (nested ones too), +1 a string's character
MAX_NESTING = 20       # lists in lists (whatever reads a value recurses once a level)
MAX_BITS = 64          # an integer written in the script (a computed one stays within python_data.MAX_NUMBER)
MAX_WORK = 500_000     # one import: AST nodes of the statements followed, plus the items of the lists copied
CALL_WORK = 20         # a call counts as this many nodes: it is looked up in several tables, and may add a note


def fits(length, size, nesting):
    """Say whether a list or tuple of this length, size and nesting may be built."""
    return length <= MAX_ITEMS and size <= MAX_SIZE and nesting <= MAX_NESTING


def small(value):
    """Say whether a constant written in the script may be used: an int of MAX_BITS bits, a string under MAX_SIZE."""
    if isinstance(value, int):
        return value.bit_length() <= MAX_BITS
    return not isinstance(value, str) or len(value) < MAX_SIZE


class Cost:
    """The work one import has done; it measures and builds the lists and tuples the reader makes."""

    def __init__(self):
        self.work = 0
        self.line = 0
        self.nodes = {}    # id of a statement -> its AST nodes (the tree is alive while statements are followed)

    def charge(self, units, line=None):
        """Add units of work; refuse the import past MAX_WORK, naming the line."""
        self.work += units
        if self.work > MAX_WORK:
            raise SpecError([FieldError(None, "source", f"Line {line or self.line}: reading this script takes more "
                                        f"than {MAX_WORK:,} units of work (the statements its loops and calls "
                                        "follow, times their size, and the lists they build); only simpler scripts "
                                        "are read.")])

    def statement(self, stmt):
        """Charge following one statement: its AST nodes (a call CALL_WORK), counted once per statement."""
        self.line = stmt.lineno
        if id(stmt) not in self.nodes:
            self.nodes[id(stmt)] = sum(CALL_WORK if isinstance(node, ast.Call) else 1 for node in ast.walk(stmt))
        self.charge(self.nodes[id(stmt)])

    def measure(self, value):
        """Give (size, nesting) of a value: a number or record is 1, a string 1 + its length, a list 1 + its items'."""
        if isinstance(value, str):
            return 1 + len(value), 0
        if isinstance(value, (BuiltList, BuiltTuple)):
            return value.size, value.nesting
        if not isinstance(value, (list, tuple)):
            return 1, 0
        _, size, nesting = self.total([(item, False) for item in value])   # made elsewhere: from its items
        return size, nesting

    def total(self, parts):
        """Give (length, size, nesting) of the list `parts` would make: (value, spread) pairs, spread for *value."""
        length, size, nesting = 0, 1, 1
        for value, spread in parts:
            inner, depth = self.measure(value)
            if spread:
                length, size, nesting = length + len(value), size + inner - 1, max(nesting, depth)
            else:
                length, size, nesting = length + 1, size + inner, max(nesting, depth + 1)
        return length, size, nesting

    def build(self, parts, kind=list):
        """Give the list (or tuple) `parts` make, measured before anything is copied; None past a bound."""
        length, size, nesting = self.total(parts)
        if not fits(length, size, nesting):
            return None
        self.charge(length)
        items = []
        for value, spread in parts:
            if spread:
                items.extend(value)
            else:
                items.append(value)
        return _built(items, kind, size, nesting)

    def repeat(self, value, times):
        """Give list(value) * times, measured first; None past a bound."""
        size, nesting = self.measure(value)
        size = 1 + (size - 1) * times
        if times < 0 or not fits(len(value) * times, size, nesting):
            return None
        self.charge(len(value) * times)
        return _built(list(value) * times, list, size, nesting)

    def adopt(self, value):
        """Give a list or tuple made from bounded ones (a slice, a range) as one the reader built."""
        return self.build([(value, True)], tuple if isinstance(value, tuple) else list)


def _built(items, kind, size, nesting):
    """Give items as a BuiltList or BuiltTuple that knows its size and nesting."""
    value = BuiltTuple(items) if kind is tuple else BuiltList(items)
    value.size, value.nesting = size, nesting
    return value
