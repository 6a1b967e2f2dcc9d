"""The compare page's spec diff (static/js/lib/spec-diff.js, run by Node): a graph's changes read by layer name."""

import json
import subprocess
from pathlib import Path

from tests.conftest import require_program
from tests.specs import RESIDUAL, spec
from webapp.modelspec.validate import validate

MODULE = Path(__file__).resolve().parents[2] / "static" / "js" / "lib" / "spec-diff.js"


def differing_rows(a, b):
    """Give {path: [value per spec]} for the rows that differ, as the compare page shows them."""
    script = (f"import {{ specRows }} from {json.dumps(MODULE.as_uri())};\n"
              f"const rows = specRows({json.dumps([a, b])}).filter((r) => r.differs);\n"
              "console.log(JSON.stringify(Object.fromEntries(rows.map((r) => [r.path, r.values]))));")
    done = subprocess.run([require_program("node"), "--input-type=module", "-e", script],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_an_added_branch_and_a_rewired_input_read_by_layer_name():
    before = validate(RESIDUAL).to_dict()
    data = spec(RESIDUAL)
    data["model"]["layers"].insert(3, {"type": "Conv2D", "filters": 8, "kernel_size": 1, "name": "branch",
                                       "inputs": ["stem"]})
    data["model"]["layers"][4]["inputs"] = ["branch", "conv2d_1"]
    after = validate(data).to_dict()
    rows = differing_rows(before, after)
    assert rows["merges"] == ["add ← stem + conv2d_1", "add ← branch + conv2d_1"]
    assert rows["model.layers[add].inputs"] == ["[stem, conv2d_1]", "[branch, conv2d_1]"]
    assert rows["model.layers[branch].inputs"] == ["—", "[stem]"]
    assert rows["model.layers[branch].kernel_size"] == ["—", "[1, 1]"]
    # The layers after the new branch are the same layers: no row of theirs differs.
    assert not [path for path in rows if path.startswith(("model.layers[dense]", "model.layers[activation]"))]
