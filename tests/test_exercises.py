"""Exercises with solutions: solutions are written once (cells tagged `solution`) and the exercise
version is generated from them (tests/test_notebooks.py executes the generated versions at smoke)."""
import json

import nbformat
import pytest

from slmlab import exercises, runner

BOOKS = runner.find_notebooks()
# Notebooks whose exercises have solutions; a notebook joins when its solutions land.
WITH_SOLUTIONS = {"00", "01", "02", "03", "04", "05", "06"}


@pytest.mark.parametrize("path", BOOKS, ids=lambda p: p.stem)
def test_solutions_cover_every_tier(path):
    nb = json.loads(path.read_text())
    tasks = exercises.solution_tasks(nb, path.stem)  # raises when a task or its tier is missing
    if path.name[:2] not in WITH_SOLUTIONS and not tasks:
        pytest.skip("no solutions yet")
    tiers = [exercises.tier_of(task) for _, task, _ in tasks]
    assert set(tiers) == set(exercises.TIERS), f"tiers present: {tiers}"
    md = [i for i, c in enumerate(nb["cells"]) if "## Exercises" in "".join(c["source"])]
    assert md and tasks[0][0] > md[-1], "solutions sit under ## Exercises"


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
    words = json.loads(nbformat.writes(nb))  # an answer in words, in a markdown cell
    words["cells"][1] = {"cell_type": "markdown", "metadata": {"tags": ["solution"]}, "source": "*Solution.* 3."}
    words["cells"][0]["source"] = "**Easy.** Add 1 and 2."
    assert "3." not in "".join(exercises.exercise_version(words)["cells"][1]["source"])
    assert "".join(out["cells"][2]["source"]) == "y = 3"
    above = json.loads(nbformat.writes(nb))  # the task in the markdown cell above
    above["cells"][0]["source"] = "**Medium.** Add two numbers."
    above["cells"][1]["source"] = "x = 1 + 2"
    assert exercises.tier_of(exercises.task_of(above["cells"], 1)[0]) == "medium"
    stub = "".join(exercises.exercise_version(above)["cells"][1]["source"])
    assert "x = 1" not in stub and "task is in the cell above" in stub
    above["cells"][0]["source"] = "Add two numbers."  # no tier named
    with pytest.raises(ValueError, match="naming its tier"):
        exercises.exercise_version(above)


@pytest.mark.parametrize("path", BOOKS, ids=lambda p: p.stem)
def test_exercise_versions_run_whenever_the_notebooks_do(path):
    """The collection is executed once per test run, with its solutions (tests/test_notebooks.py). An
    exercise version is the same code without the solution cells; as long as no other code cell comes
    after the first solution, it is a prefix of that code, which that run executed."""
    cells = json.loads(path.read_text())["cells"]
    first = next((i for i, c in enumerate(cells) if "solution" in c["metadata"].get("tags", [])), len(cells))
    late = [i for i, c in enumerate(cells[first:], first)
            if c["cell_type"] == "code" and "solution" not in c["metadata"].get("tags", [])]
    assert not late, f"code cells {late} follow the first solution but are not solutions: the exercise version " \
                     "would run them without the solutions they may need"
    version = exercises.exercise_version(json.loads(path.read_text()), path.stem)
    kept = [c for c in cells if "solution" not in c["metadata"].get("tags", [])]
    assert [c["source"] for c in kept] == [c["source"] for c in version["cells"]
                                           if "exercise" not in c["metadata"].get("tags", [])]
    stubs = [c for c in version["cells"] if "exercise" in c["metadata"].get("tags", []) and c["cell_type"] == "code"]
    assert all(line.startswith("#") for c in stubs for line in "".join(c["source"]).splitlines())
