"""How an exported script writes values: repr() literals (no name or string can break out) and its indent."""

INDENT = "    "


def literal(value, tuples=True):
    """Give a value as Python source via repr(): lists as tuples (as Keras guides write shapes), strings in double quotes."""
    if isinstance(value, (list, tuple)):
        items = [literal(v, tuples) for v in value]
        if not tuples:
            return "[" + ", ".join(items) + "]"
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    text = repr(value)
    if isinstance(value, str) and text.startswith("'") and '"' not in value:
        text = '"' + text[1:-1] + '"'   # repr chose ' only because the text has no ' (or has both quotes)
    return text
