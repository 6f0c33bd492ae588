"""Minutes that cannot drift: the README's notebook table and each notebook's ``*Time …*`` line are
written from the ``summary.json`` of real runs (``results/summary-<profile>.json``), never by hand.

    python -m slmlab minutes results/summary-default.json [results/summary-smoke.json ...] [--check]

rewrites the README table's minutes columns (one per profile given), the README line that starts
"The whole collection:", and the time line of every notebook's title cell. ``--check`` writes
nothing and exits 1 when a file disagrees with the summaries (the tests run it on the committed ones).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from . import _checks
from .report import atomic_write_text

__all__ = ["load_summaries", "time_line", "readme_text", "notebook_text", "apply", "ROOT"]

ROOT = Path(__file__).resolve().parent.parent
ORDER = ("default", "gpu", "smoke")  # the profile a reader cares about first
TABLE_HEAD = "| notebook | what you learn |"
TOTAL_START = "The whole collection:"
TIME_START = ("*Time", "Time:", "Time ")
SOURCE = "`python -m slmlab minutes` writes these numbers from `results/summary-*.json`"


def load_summaries(paths) -> dict[str, dict]:
    """``{profile: summary}`` from summary.json files, in reading order (default, gpu, smoke)."""
    if isinstance(paths, (str, os.PathLike)):
        raise ValueError(f"paths={str(paths)!r} is a single path; pass a list of summary.json paths, [{str(paths)!r}]")
    found = {}
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"summary file {path} not found (write one with `python -m slmlab run`)")
        try:
            summary = json.loads(path.read_text())
        except ValueError as err:
            raise ValueError(f"{path} is not valid JSON ({err}); pass a summary.json written by `python -m slmlab run`") from None
        if not isinstance(summary, dict) or "profile" not in summary or not isinstance(summary.get("notebooks"), dict):
            raise ValueError(f"{path} is not a summary.json written by `python -m slmlab run`")
        failed = [n for n, e in summary["notebooks"].items() if not e.get("ok", True)]
        if failed:
            raise ValueError(f"{path}: notebook(s) {failed} failed in that run, so its minutes are not a "
                             f"whole run's; use a run where every notebook finished")
        if summary["profile"] in found:
            raise ValueError(f"two summaries for profile {summary['profile']!r}; pass one per profile")
        found[summary["profile"]] = summary
    if not found:
        raise ValueError("pass at least one summary.json")
    return dict(sorted(found.items(), key=lambda kv: ORDER.index(kv[0]) if kv[0] in ORDER else len(ORDER)))


def _check_summaries(summaries) -> None:
    """``{profile: summary}`` as :func:`load_summaries` returns it."""
    if not isinstance(summaries, dict) or not summaries or not all(
            isinstance(s, dict) and isinstance(s.get("notebooks"), dict) for s in summaries.values()):
        raise ValueError("summaries must be {profile: summary} with a 'notebooks' dict in each summary, as "
                         "load_summaries returns it")


def _min(seconds: float) -> str:
    return f"{seconds / 60:.1f}"


def _machine(summary: dict) -> str:
    m = summary.get("machine") or {}
    where = m.get("gpu") or (f"{m['cpus']} CPU{'s' * (m['cpus'] != 1)}" if m.get("cpus") else "")
    load = m.get("load_average")
    if where and load is not None and not m.get("gpu"):
        where += f", load {load:g} at the start"
    return where


def time_line(name: str, summaries: dict[str, dict]) -> str:
    """The notebook's time line: measured minutes per profile and peak memory."""
    _checks.text("name", name)
    _check_summaries(summaries)
    parts = []
    for profile, s in summaries.items():
        entry = s["notebooks"].get(name)
        if entry is None:
            continue
        where = _machine(s)
        parts.append(f"`{profile}` {_min(entry['seconds'])} min (peak {entry['peak_rss_mb'] / 1024:.1f} GB"
                     + (f"; {where})" if where else ")"))
    body = " · ".join(parts) if parts else "not measured yet"
    return f"*Time, measured:* {body}. ({SOURCE}.)"


def _header(summaries: dict[str, dict]) -> str:
    cols = [f"minutes at `{p}`" + (f" ({_machine(s)})" if _machine(s) else "") for p, s in summaries.items()]
    return TABLE_HEAD + " " + " | ".join(cols) + " |"


def _total(summaries: dict[str, dict]) -> str:
    parts = []
    for profile, s in summaries.items():
        books = s["notebooks"]
        if not books:
            continue
        peak = max(books, key=lambda n: books[n]["peak_rss_mb"])
        parts.append(f"{_min(s['total_seconds'])} minutes at `{profile}` (peak memory "
                     f"{books[peak]['peak_rss_mb'] / 1024:.1f} GB, in notebook {peak[:2]})")
    return f"{TOTAL_START} {' and '.join(parts)}; {SOURCE}."


def readme_text(text: str, summaries: dict[str, dict]) -> str:
    """The README with its notebook table's minutes columns and its total line rewritten."""
    _checks.text("text", text)
    _check_summaries(summaries)
    lines = text.split("\n")
    try:
        head = next(i for i, line in enumerate(lines) if line.startswith(TABLE_HEAD))
    except StopIteration:
        raise ValueError(f"README has no table whose header starts with {TABLE_HEAD!r}") from None
    lines[head] = _header(summaries)
    lines[head + 1] = "|---|---|" + "---|" * len(summaries)
    i = head + 2
    while i < len(lines) and lines[i].startswith("|"):
        cells = lines[i].strip().strip("|").split("|")
        match = re.search(r"notebooks/([0-9]{2}_[A-Za-z0-9_]+)\.ipynb", cells[0])
        if match is None:
            raise ValueError(f"README table row {i + 1} links no notebooks/NN_name.ipynb: {lines[i]!r}")
        name = match.group(1)
        mins = [_min(s["notebooks"][name]["seconds"]) if name in s["notebooks"] else "–"
                for s in summaries.values()]
        lines[i] = "| " + " | ".join(c.strip() for c in cells[:2]) + " | " + " | ".join(mins) + " |"
        i += 1
    totals = [j for j, line in enumerate(lines) if line.startswith(TOTAL_START)]
    if len(totals) != 1:
        raise ValueError(f"README needs exactly one line starting {TOTAL_START!r}; found {len(totals)}")
    # the total is one paragraph: drop its continuation lines, then write it on one line
    j = totals[0]
    end = j + 1
    while end < len(lines) and lines[end].strip():
        end += 1
    lines[j:end] = [_total(summaries)]
    return "\n".join(lines)


def notebook_text(text: str, name: str, summaries: dict[str, dict]) -> str:
    """The notebook (JSON text) with the time paragraph of its title cell rewritten."""
    _checks.text("text", text)
    _check_summaries(summaries)
    try:
        nb = json.loads(text)
    except ValueError as err:
        raise ValueError(f"{name}: text is not a notebook's JSON ({err})") from None
    if not isinstance(nb, dict) or not nb.get("cells"):
        raise ValueError(f"{name}: text is not a notebook with cells")
    cell = nb["cells"][0]
    lines = "".join(cell["source"]).split("\n")
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith(TIME_START))
    except StopIteration:
        raise ValueError(f"{name}: the title cell has no line starting with *Time or Time: "
                         f"(add one; this command fills it in)") from None
    end = start + 1
    while end < len(lines) and lines[end].strip():
        end += 1
    lines[start:end] = [time_line(name, summaries)]
    source = "\n".join(lines)
    cell["source"] = source.splitlines(keepends=True)
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def apply(summary_paths, root=ROOT, check: bool = False) -> list[Path]:
    """Rewrite (or, with ``check``, only compare) README.md and notebooks/NN_*.ipynb under ``root``;
    return the files that differed."""
    summaries = load_summaries(summary_paths)
    root = Path(root)
    targets = {root / "README.md": lambda t: readme_text(t, summaries)}
    for book in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        targets[book] = lambda t, name=book.stem: notebook_text(t, name, summaries)
    differ = []
    for path, rewrite in targets.items():
        before = path.read_text()
        after = rewrite(before)
        if after != before:
            differ.append(path)
            if not check:
                atomic_write_text(path, after)
    return differ
