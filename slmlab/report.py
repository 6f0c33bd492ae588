"""Record a notebook's headline numbers for the runner's ``summary.json``.

The runner tells each notebook's kernel where to write through ``SLMLAB_METRICS_FILE``; run by
hand, numbers go to ``metrics/<notebook>.json`` under ``$SLMLAB_ARTIFACTS`` (default ``runs/``). Values must be JSON-serialisable plain data
(numbers, strings, lists, dicts); numpy and torch scalars are converted.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

__all__ = ["record", "read_metrics", "metrics_path", "atomic_write_text", "Recorded"]


def metrics_path(notebook: str) -> Path:
    """``$SLMLAB_METRICS_FILE`` (the runner's), else ``metrics/<notebook>.json`` in the artifacts folder
    (``$SLMLAB_ARTIFACTS`` or ./runs, as :func:`slmlab.runtime.artifacts_dir`)."""
    if not isinstance(notebook, str) or not notebook or "/" in notebook or "\\" in notebook:
        raise ValueError(f"notebook={notebook!r} must be the notebook's name, e.g. '00_welcome_tiny_lm'")
    env = os.environ.get("SLMLAB_METRICS_FILE")
    return Path(env) if env else Path(os.environ.get("SLMLAB_ARTIFACTS", "runs")) / "metrics" / f"{notebook}.json"


def atomic_write_text(path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and a rename: readers never see half a file."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"path={str(path)!r} is a folder; pass the path of a file to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is meant to be read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _plain(value, where: str):
    if isinstance(value, dict):
        return {str(k): _plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    raise ValueError(f"metric {where} = {value!r} ({type(value).__name__}) is not a number, string, list or dict")


def _short(value, width: int = 70) -> str:
    """One cell of the compact table: a number to 4 significant digits, a short list or flat dict in
    full, anything longer by its size and first keys."""
    if isinstance(value, bool) or value is None:
        text = str(value)
    elif isinstance(value, float):
        text = f"{value:.4g}"
    elif isinstance(value, (int, str)):
        text = str(value)
    elif isinstance(value, list):
        parts = [_short(v, width) for v in value]
        text = "[" + ", ".join(parts) + "]"
        if len(text) > width:
            text = f"list of {len(value)}"
    elif isinstance(value, dict):
        parts = [f"{k}: {_short(v, width)}" for k, v in value.items()]
        text = "{" + ", ".join(parts) + "}"
        if len(text) > width:
            keys = ", ".join(list(value)[:4])
            text = f"{len(value)} entries: {keys}" + (", …" if len(value) > 4 else "")
    else:
        text = repr(value)
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


class Recorded(dict):
    """What :func:`record` returns: the notebook's metrics (a plain dict to code) that a notebook shows
    as a compact table of one line per metric, not a dictionary dump of hundreds of lines."""

    notebook: str = ""

    def __init__(self, metrics: dict | None = None):
        if metrics is not None and not isinstance(metrics, dict):
            raise TypeError(f"metrics must be a dict of name -> value, got {type(metrics).__name__}")
        super().__init__(metrics or {})

    def table(self) -> list[tuple[str, str]]:
        return [(k, _short(v)) for k, v in self.items()]

    def __repr__(self) -> str:
        rows = self.table()
        width = max((len(k) for k, _ in rows), default=0)
        head = f"recorded for {self.notebook or 'the report'} ({len(rows)} metrics, in summary.json):"
        return "\n".join([head] + [f"  {k:<{width}}  {v}" for k, v in rows])

    def _repr_pretty_(self, p, cycle):
        p.text(repr(self))

    def _repr_html_(self) -> str:
        import html
        rows = "".join(f"<tr><td style='text-align:left'><code>{html.escape(k)}</code></td>"
                       f"<td style='text-align:left'>{html.escape(v)}</td></tr>" for k, v in self.table())
        return (f"<details><summary>recorded for {html.escape(self.notebook or 'the report')}: {len(self)} "
                f"metrics (summary.json)</summary><table>{rows}</table></details>")


def record(notebook: str, metrics: dict) -> Recorded:
    """Merge ``metrics`` into the notebook's metrics file and return everything recorded so far (a
    dict that displays as a compact table)."""
    if not isinstance(notebook, str) or not notebook:
        raise ValueError("notebook must be the notebook's name, e.g. '00_welcome_tiny_lm'")
    if not isinstance(metrics, dict):
        raise ValueError(f"metrics must be a dict of name -> value, got {type(metrics).__name__}")
    path = metrics_path(notebook)
    current = read_metrics(path)
    current.update(_plain(metrics, notebook))
    atomic_write_text(path, json.dumps(current, indent=1, sort_keys=True))
    out = Recorded(current)
    out.notebook = notebook
    return out


def read_metrics(path) -> dict:
    """The metrics recorded at ``path`` ({} when there is no file yet)."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"path={str(path)!r} is a folder; pass a metrics file")
    if not (path.exists() and path.stat().st_size):
        return {}
    try:
        data = json.loads(path.read_text())
    except ValueError as err:
        raise ValueError(f"metrics file {str(path)!r} is not valid JSON ({err}); delete it or fix it") from None
    if not isinstance(data, dict):
        raise ValueError(f"metrics file {str(path)!r} holds a {type(data).__name__}, not a dict of metrics")
    return data
