"""Whole numbers from outside (a query, a path, a cookie, a socket event): ASCII digits only, within bounds.

`str.isdigit()` is true for `²`, `١` and `１` too, and `int()` fails on the first and reads the
others; past 4,300 digits `int()` refuses any text. So nothing that comes with a request is turned
into a number by hand: `whole` gives the number, or None for anything else, and the caller answers
400 (a query) or 404 (a path part) naming what it accepts. Here, the bottom room, so that every room
that reads a request (web/, predict/) may import it. Pure Python.
"""

MAX_ID = 2**63 - 1   # the largest id a database integer holds


def whole(text, lo=0, hi=MAX_ID):
    """Give the whole number `text` spells in ASCII digits (spaces around allowed) when within lo..hi, else None."""
    if not isinstance(text, str):
        return None
    digits = text.strip()
    if not (digits.isascii() and digits.isdigit()):
        return None
    digits = digits.lstrip("0") or "0"
    if len(digits) > len(str(hi)):       # past hi, and int() is never asked to read thousands of digits
        return None
    value = int(digits)
    return value if lo <= value <= hi else None


def wholes(text, most, lo=0, hi=MAX_ID):
    """Give the comma-separated whole numbers in `text` as a tuple of 1 to `most`, else None."""
    if not isinstance(text, str):
        return None
    parts = text.split(",", most)        # at most most + 1 parts, however long the text
    if len(parts) > most:
        return None
    values = tuple(whole(part, lo, hi) for part in parts)
    return None if None in values else values
