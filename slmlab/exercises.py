"""Exercise versions of the notebooks, generated so they cannot drift from the solutions.

Solutions are written once, in the notebook itself, in code cells tagged ``solution`` under
``## Exercises``. Each solution cell opens with comment lines that state its task, the first naming
its tier (``# Easy …``, ``# Medium …``, ``# Hard …``). The exercise version keeps every other cell
as it is and replaces each solution cell by a stub: the task comments and a line asking for the
reader's code. (scikit-learn-mooc builds its exercise notebooks from the solution ones the same way.)

    python -m slmlab exercises --out exercises/
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

from .report import atomic_write_text
from .runner import NOTEBOOK_DIR, find_notebooks

__all__ = ["SOLUTION_TAG", "TIERS", "task_of", "solution_cells", "exercise_version", "write_exercises"]

SOLUTION_TAG = "solution"
TIERS = ("easy", "medium", "hard")
STUB_LINE = "# Your solution here: write it, run it, then compare with the solution notebook."


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def task_of(cell) -> str:
    """The comment lines a solution cell opens with: its task, tier first."""
    lines = []
    for line in _source(cell).splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return "\n".join(lines)


def solution_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code" and SOLUTION_TAG in c.get("metadata", {}).get("tags", [])]


def _tier(cell) -> str | None:
    first = task_of(cell).lstrip("# ").lower()
    return next((t for t in TIERS if first.startswith(t)), None)


def exercise_version(nb: dict, name: str = "notebook") -> dict:
    """A copy of ``nb`` with every solution cell replaced by its stub (the task, no code)."""
    out = copy.deepcopy(nb)
    for cell in solution_cells(out):
        task = task_of(cell)
        if not task or _tier(cell) is None:
            raise ValueError(f"{name}: a cell tagged {SOLUTION_TAG!r} must open with comment lines stating its "
                             f"task, the first naming its tier ({', '.join(TIERS)}); got {_source(cell)[:80]!r}")
        cell["source"] = f"{task}\n{STUB_LINE}\n"
        cell["outputs"], cell["execution_count"] = [], None
        tags = [t for t in cell["metadata"].get("tags", []) if t != SOLUTION_TAG]
        cell["metadata"]["tags"] = tags + ["exercise"]
    return out


def write_exercises(out, folder: Path = NOTEBOOK_DIR, only: str | None = None) -> list[Path]:
    """Write the exercise version of each notebook to ``out`` (one without solution cells is copied as
    it is, so the folder holds the whole collection); return the paths."""
    out = Path(out)
    written = []
    for book in find_notebooks(only, folder):
        nb = json.loads(book.read_text())
        target = out / book.name
        atomic_write_text(target, json.dumps(exercise_version(nb, book.stem), indent=1, sort_keys=True,
                                             ensure_ascii=False) + "\n")
        written.append(target)
    return written
