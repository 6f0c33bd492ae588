"""Issue 23: every exercise has a solution cell. Exercises are counted where the notebooks write them:
the list items under ``## Exercises`` (``- **Easy.** …``, or numbered under tier headings), or else one
markdown cell per exercise after that heading (``**Easy.** …``); solutions are the cells tagged
``solution`` (slmlab.exercises)."""
import json
import re

import pytest

from slmlab import exercises, runner

# Notebooks that still lack solutions (owned by other changes): expected to fail, named, until they have them.
STILL_MISSING: dict[str, str] = {}


def count_exercises(nb: dict) -> int:
    cells = nb["cells"]
    start = next((i for i, c in enumerate(cells) if c["cell_type"] == "markdown"
                  and re.search(r"^## Exercises\s*$", "".join(c["source"]), re.M)), None)
    if start is None:
        return 0
    heading = "".join(cells[start]["source"])
    section = re.split(r"^## Exercises\s*$", heading, flags=re.M)[1]
    items = len(re.findall(r"^(?:- |\d+\. )", section, re.M))
    if items:
        return items
    return sum(1 for c in cells[start + 1:] if c["cell_type"] == "markdown"
               and exercises.SOLUTION_TAG not in c["metadata"].get("tags", [])
               and re.match(r"\s*\*\*(Easy|Medium|Hard)\b", "".join(c["source"])))


def _params():
    return [pytest.param(p, marks=pytest.mark.xfail(reason=f"{p.stem}: {STILL_MISSING[p.stem]}", strict=True))
            if p.stem in STILL_MISSING else p for p in runner.find_notebooks()]


@pytest.mark.parametrize("path", _params(), ids=lambda p: p.stem)
def test_every_exercise_has_a_solution(path):
    nb = json.loads(path.read_text())
    n_exercises, n_solutions = count_exercises(nb), len(exercises.solution_cells(nb))
    assert n_exercises > 0, f"{path.name}: no exercises found under '## Exercises'"
    assert n_solutions == n_exercises, f"{path.name}: {n_exercises} exercises, {n_solutions} solution cells"


def test_the_counter_counts_both_layouts():
    md = lambda s, tags=(): {"cell_type": "markdown", "source": [s], "metadata": {"tags": list(tags)}}
    code = lambda s, tags=(): {"cell_type": "code", "source": [s], "metadata": {"tags": list(tags)}}
    listed = {"cells": [md("## Summary\n\n- a\n\n## Exercises\n\n- **Easy.** x\n- **Hard.** y\n"), code("# Easy", ["solution"])]}
    numbered = {"cells": [md("## Exercises\n\n**Easy**\n1. x\n2. y\n\n**Hard**\n3. z\n")]}
    split = {"cells": [md("## Summary\n\n- not an exercise\n\n## Exercises"), md("**Easy.** x"), code("# Easy", ["solution"]),
                       md("**Hard.** y"), md("*Solution.* z", ["solution"])]}
    assert [count_exercises(nb) for nb in (listed, numbered, split)] == [2, 3, 2]
