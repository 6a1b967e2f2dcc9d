"""Import every Keras script under a folder through `POST /api/models/import`, and print the import rate.

For each `.py` file: imported or refused (and why), the Keras generation it was read as, the layers,
the notes, and the parameter count on the script's own input shape (from its input-shape note; `?`
when the script gives none). Scripts are never run: the importer reads them with `ast`. The API is
called through Flask's test client, in process; parameters are counted with Keras, in process too.

Usage: .venv/bin/python bench/import_corpus.py DIR [--no-params]
"""

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import signed_in  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.modelspec.validate import validate  # noqa: E402

SHAPE = re.compile(r"input shape \(([0-9, ]+)\) ignored")
LENGTH = re.compile(r"input_length=([0-9]+)")


def import_one(client, path):
    """Give (status, answer) of the import API for one file."""
    r = client.post("/api/models/import", json={"format": "python", "source": path.read_text(errors="replace")})
    return r.status_code, r.get_json()


def input_shape(answer):
    """Give the script's own input shape from its notes (input_shape, or an Embedding's input_length), or None."""
    for note in answer["notes"]:
        found = SHAPE.search(note["why"]) or LENGTH.fullmatch(note["was"])
        if found:
            return [int(d) for d in found.group(1).replace(" ", "").split(",") if d]
    return None


def params(answer):
    """Give the model's parameter count on the script's input shape, or a short reason it has none."""
    from webapp.modelspec import build
    from webapp.modelspec.validate import SpecError

    shape = input_shape(answer)
    if not shape:
        return "?"
    try:
        spec = validate({"dataset": "x", "model": answer["model"]})
        _, rows = build.trace(spec, shape, weights=False)
    except SpecError as exc:
        return "builds not: " + exc.errors[0].message[:50]
    return f"{sum(r['params'] for r in rows):,}"


def row(path, status, answer, count):
    """Give one table row."""
    if status == 200:
        layers = answer["model"]["layers"]
        kinds = ",".join(layer["type"] for layer in layers)
        version = (answer.get("keras_version") or {}).get("used", "")
        what = f"imported ({version}; {len(answer['notes'])} notes)"
        return [path.name, what, f"{len(layers)}: {kinds[:60]}", params(answer) if count else "-"]
    reason = "; ".join(e["message"] for e in answer["errors"])
    return [path.name, f"refused ({status}): {reason[:110]}", "", ""]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--no-params", action="store_true", help="skip counting parameters (no Keras import)")
    args = parser.parse_args()
    files = sorted(p for p in args.dir.rglob("*.py") if p.is_file())
    if not files:
        sys.exit(f"No .py files under {args.dir}")
    app = create_app({"KD_DATA_DIR": tempfile.mkdtemp(prefix="kd-corpus-"), "KD_WARM_SPARE": "0", "TESTING": True})
    client = signed_in(app)
    rows, imported = [], 0
    for path in files:
        status, answer = import_one(client, path)
        imported += status == 200
        rows.append(row(path, status, answer, not args.no_params))
    widths = [max(len(r[i]) for r in rows + [["file", "result", "layers", "params"]]) for i in range(4)]
    for r in [["file", "result", "layers", "params"]] + rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
    print(f"\nimported {imported} of {len(files)} scripts: {imported / len(files):.0%}  "
          f"(load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
