"""Exercise versions of the notebooks, generated so they cannot drift from the solutions.

Solutions are written once, in the notebook itself, in cells tagged ``solution`` under
``## Exercises`` (code, or markdown for an answer in words). A solution's task is its opening comment
lines (``# Easy — …``), or else the markdown cell just above it (``**Easy.** …``); either way it names
its tier first (easy, medium, hard). The exercise version keeps every other cell as it is and
replaces each solution cell by a stub: the task (or a pointer to it) and a line asking for the
reader's own. (scikit-learn-mooc builds its exercise notebooks from the solution ones the same way.)

    python -m slmlab exercises --out exercises/
"""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

from . import _checks
from .report import atomic_write_text
from .runner import NOTEBOOK_DIR, find_notebooks

__all__ = ["SOLUTION_TAG", "TIERS", "task_of", "tier_of", "solution_cells", "solution_tasks", "exercise_version",
           "write_exercises"]

SOLUTION_TAG = "solution"
TIERS = ("easy", "medium", "hard")
STUB_LINE = "# Your solution here: write it, run it, then compare with the solution notebook."
MARKDOWN_STUB = "*Your answer here* (the solution notebook has one to compare with)."


def _check_nb(nb) -> None:
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError(f"nb must be a notebook as a dict with a 'cells' list (json.load of an .ipynb), "
                         f"got {type(nb).__name__}")


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _leading_comments(cell) -> str:
    lines = []
    for line in _source(cell).splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return "\n".join(lines)


def task_of(cells: list[dict], index: int) -> tuple[str, bool]:
    """The task of the solution cell ``cells[index]`` and whether the cell states it itself: its opening
    comment lines, else the markdown cell just above it (``**Easy.** …``)."""
    if not isinstance(cells, list):
        raise TypeError(f"cells must be the notebook's list of cells (nb['cells']), got {type(cells).__name__}")
    _checks.integer("index", index, low=0, high=len(cells) - 1, why=f"an index into the {len(cells)} cells")
    own = _leading_comments(cells[index])
    if own:
        return own, True
    if index > 0 and cells[index - 1]["cell_type"] == "markdown":
        return _source(cells[index - 1]).strip(), False
    return "", False


def tier_of(task: str) -> str | None:
    """easy, medium or hard: the task's first word (markdown and comment marks ignored)."""
    _checks.text("task", task)
    words = re.findall(r"[a-z]+", task.lower())
    return words[0] if words and words[0] in TIERS else None


def _is_solution(cell) -> bool:
    return SOLUTION_TAG in cell.get("metadata", {}).get("tags", [])


def solution_cells(nb: dict) -> list[dict]:
    """Cells tagged ``solution``: code, or markdown for an answer in words."""
    _check_nb(nb)
    return [c for c in nb["cells"] if _is_solution(c)]


def solution_tasks(nb: dict, name: str = "notebook") -> list[tuple[int, str, bool]]:
    """``(cell index, task, stated in the cell)`` for every solution cell; ValueError when a solution's
    task or tier cannot be found."""
    _check_nb(nb)
    out = []
    for i, cell in enumerate(nb["cells"]):
        if not _is_solution(cell):
            continue
        task, own = task_of(nb["cells"], i)
        if not task or tier_of(task) is None:
            raise ValueError(f"{name}: the cell tagged {SOLUTION_TAG!r} at index {i} needs its task, naming its tier "
                             f"({', '.join(TIERS)}) first, in its opening comment lines or in the markdown cell "
                             f"just above it; got {_source(cell)[:80]!r}")
        out.append((i, task, own))
    return out


def exercise_version(nb: dict, name: str = "notebook") -> dict:
    """A copy of ``nb`` with every solution cell replaced by its stub (the task, no code)."""
    _check_nb(nb)
    out = copy.deepcopy(nb)
    for i, task, own in solution_tasks(out, name):
        cell = out["cells"][i]
        if cell["cell_type"] == "markdown":  # an answer in words
            cell["source"] = MARKDOWN_STUB
        else:
            cell["source"] = f"{task if own else '# Exercise: the task is in the cell above.'}\n{STUB_LINE}\n"
            cell["outputs"], cell["execution_count"] = [], None
        tags = [t for t in cell["metadata"].get("tags", []) if t != SOLUTION_TAG]
        cell["metadata"]["tags"] = tags + ["exercise"]
    return out


def write_exercises(out, folder: Path = NOTEBOOK_DIR, only: str | None = None) -> list[Path]:
    """Write the exercise version of each notebook to ``out`` (one without solution cells is copied as
    it is, so the folder holds the whole collection); return the paths."""
    out = _checks.path("out", out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out={str(out)!r} is a file; name a folder for the exercise notebooks")
    written = []
    for book in find_notebooks(only, folder):
        nb = json.loads(book.read_text())
        target = out / book.name
        atomic_write_text(target, json.dumps(exercise_version(nb, book.stem), indent=1, sort_keys=True,
                                             ensure_ascii=False) + "\n")
        written.append(target)
    return written
