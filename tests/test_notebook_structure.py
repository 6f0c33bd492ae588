"""Every notebook opens and ends the same way (see CONTRIBUTING.md) and is stored without outputs."""
import json
import re

import pytest

from slmlab.runner import find_notebooks

BOOKS = find_notebooks()


@pytest.mark.parametrize("path", BOOKS, ids=lambda p: p.stem)
def test_structure(path):
    cells = json.loads(path.read_text())["cells"]
    first = "".join(cells[0]["source"])
    assert cells[0]["cell_type"] == "markdown" and first.startswith(f"# {path.name[:2]} ·"), "title cell"
    assert "runtime_versions" in "".join(cells[1]["source"]), "second cell prints package versions"
    assert "slmlab.fit_threads()" in "".join(cells[1]["source"]), "second cell fits torch's threads to the CPU quota"
    ids = [c.get("id") for c in cells]
    assert all(ids) and len(set(ids)) == len(ids), "every cell has its own id (nbformat 4.5; nbval warns otherwise)"
    params = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged parameters"
    src = "".join(params[0]["source"])
    for knob in ("profile", "seed", "device", "model"):
        assert re.search(rf"^{knob} *=", src, re.M), f"parameters cell sets {knob}"
    for c in cells:
        if c["cell_type"] != "code":
            continue
        if "nbval-check-output" in c.get("metadata", {}).get("tags", []):
            # nbval compares these committed outputs (smoke profile); it skips a cell without an
            # execution count, so the count stays too
            assert c.get("outputs") and c.get("execution_count"), \
                "a cell tagged nbval-check-output keeps the output nbval compares, and its execution count"
        else:
            assert not c.get("outputs") and not c.get("execution_count"), \
                "outputs are stripped (only cells tagged nbval-check-output keep theirs)"
    md = [("".join(c["source"])) for c in cells if c["cell_type"] == "markdown"]
    heads = [line for m in md for line in m.splitlines() if line.startswith("## ")]
    assert heads[-2:] == ["## Summary", "## Exercises"], "ends with Summary then Exercises"
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert "!pip" not in code and not re.search(r"trust_remote_code\s*=\s*True", code)
    assert f'record("{path.stem}"' in code, "records its headline numbers under its own name"
    assert "widgets" not in json.loads(path.read_text()).get("metadata", {}), "no stored widget state"


@pytest.mark.parametrize("path", BOOKS, ids=lambda p: p.stem)
def test_papermill_reads_every_parameter(path):
    """`papermill --help-notebook` and papermill's type inference read each parameter line; a comment that
    holds '=' (e.g. '<= 10%') makes it warn "Unable to parse line" and drop that parameter."""
    import ast

    import nbformat
    from papermill.translators import PythonTranslator
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assigned = [t.id for node in ast.parse(cell.source).body if isinstance(node, ast.Assign) for t in node.targets]
    assert [p.name for p in PythonTranslator.inspect(cell)] == assigned
