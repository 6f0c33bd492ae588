"""Exercises with solutions: solutions are written once (cells tagged `solution`), the exercise
version is generated from them, and the generated notebooks still execute at the smoke profile."""
import json

import nbformat
import pytest

from slmlab import exercises, runner

BOOKS = runner.find_notebooks()
# Notebooks whose exercises have solutions; a notebook joins when its solutions land.
WITH_SOLUTIONS = {"00", "01", "02", "04"}


@pytest.mark.parametrize("path", BOOKS, ids=lambda p: p.stem)
def test_solutions_cover_every_tier(path):
    cells = exercises.solution_cells(json.loads(path.read_text()))
    if path.name[:2] not in WITH_SOLUTIONS and not cells:
        pytest.skip("no solutions yet")
    tiers = [exercises._tier(c) for c in cells]
    assert None not in tiers, "every solution cell opens with its tier: # Easy / # Medium / # Hard"
    assert set(tiers) == set(exercises.TIERS), f"tiers present: {tiers}"
    md = [i for i, c in enumerate(json.loads(path.read_text())["cells"]) if "## Exercises" in "".join(c["source"])]
    first = json.loads(path.read_text())["cells"].index(cells[0])
    assert md and first > md[-1], "solutions sit under ## Exercises"


def test_exercise_version_keeps_the_task_and_drops_the_code():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("## Exercises"),
        nbformat.v4.new_code_cell("# Easy — add two numbers.\n# (a second line of the task)\nx = 1 + 2\nprint(x)",
                                  metadata={"tags": ["solution"]}),
        nbformat.v4.new_code_cell("y = 3")])
    out = exercises.exercise_version(json.loads(nbformat.writes(nb)))
    stub = "".join(out["cells"][1]["source"])
    assert stub.startswith("# Easy — add two numbers.\n# (a second line of the task)\n")
    assert "x = 1 + 2" not in stub and all(line.startswith("#") for line in stub.splitlines())
    assert out["cells"][1]["metadata"]["tags"] == ["exercise"]
    assert "".join(out["cells"][2]["source"]) == "y = 3"
    bad = json.loads(nbformat.writes(nb))
    bad["cells"][1]["source"] = "x = 1  # no task stated"
    with pytest.raises(ValueError, match="must open with comment lines stating its task"):
        exercises.exercise_version(bad)


@pytest.mark.notebooks
def test_generated_exercise_notebooks_execute_at_smoke(tmp_path):
    only = ",".join(sorted(n for n in WITH_SOLUTIONS))
    written = exercises.write_exercises(tmp_path / "ex", only=only)
    assert written and all(not exercises.solution_cells(json.loads(p.read_text())) for p in written)
    summary = runner.run_collection("smoke", out=tmp_path / "report", folder=tmp_path / "ex")
    assert all(e.get("ok", True) for e in summary["notebooks"].values())
