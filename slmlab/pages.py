"""HTML pages of the report that read offline: math typeset by a MathJax shipped in a package, figures
with plotly.js beside them, nothing fetched from a CDN.

nbconvert points MathJax at a CDN by default, so without a network a page shows raw ``$$…$$``.
The ``jupyter-server-mathjax`` package (the Jupyter project's own, BSD) ships MathJax 2.7 — the
version nbconvert's templates configure — as static files; the report folder gets one copy of them
and every page points there with a relative URL, so the folder can be moved or zipped as a whole.
"""
from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

from .report import atomic_write_text

__all__ = ["MATHJAX_CONFIG", "mathjax_source", "ship_mathjax", "notebook_html", "plotly_figures",
           "ship_plotly"]

# The configurations the package ships: TeX input, HTML-CSS output; Safe blocks javascript: links in math.
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"
MATHJAX_DIR = "mathjax"
PLOTLY_JS = "plotly.min.js"
PLOTLY_MIME = "application/vnd.plotly.v1+json"


def mathjax_source() -> Path:
    """The folder holding ``MathJax.js`` inside the installed ``jupyter-server-mathjax`` package."""
    spec = importlib.util.find_spec("jupyter_server_mathjax")  # located, not imported (no server start-up)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("package jupyter-server-mathjax is not installed; it ships the MathJax the "
                                "report pages use offline: pip install 'jupyter-server-mathjax>=0.2.6'")
    static = Path(list(spec.submodule_search_locations)[0]) / "static"
    if not (static / "MathJax.js").is_file():
        raise FileNotFoundError(f"{static / 'MathJax.js'} is missing from jupyter-server-mathjax; reinstall it")
    return static


def ship_mathjax(out) -> str:
    """Copy MathJax into ``out/mathjax`` (once) and return the URL the pages in ``out`` load it from."""
    target = Path(out) / MATHJAX_DIR
    if not (target / "MathJax.js").is_file():
        tmp = Path(out) / f".{MATHJAX_DIR}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(mathjax_source(), tmp)
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)  # a half-copied folder is never taken for a whole one
    return f"{MATHJAX_DIR}/MathJax.js?config={MATHJAX_CONFIG}"


def notebook_html(executed, target, mathjax_url: str) -> None:
    """Render an executed notebook to ``target`` with MathJax loaded from ``mathjax_url``."""
    import nbformat
    from nbconvert import HTMLExporter
    body, _ = HTMLExporter(mathjax_url=mathjax_url).from_notebook_node(nbformat.read(executed, as_version=4))
    atomic_write_text(target, body)


def ship_plotly(out) -> str:
    """Write plotly.js (from the installed plotly package) to ``out`` once; return its relative URL."""
    from plotly.offline import get_plotlyjs
    target = Path(out) / PLOTLY_JS
    if not target.is_file():
        atomic_write_text(target, get_plotlyjs())
    return PLOTLY_JS


def plotly_figures(executed) -> list[tuple[dict, list[str]]]:
    """Every plotly figure an executed notebook displayed, in order: ``(figure JSON, cell tags)``."""
    nb = json.loads(Path(executed).read_text())
    found = []
    for cell in nb.get("cells", []):
        tags = cell.get("metadata", {}).get("tags", [])
        for output in cell.get("outputs", []):
            fig = output.get("data", {}).get(PLOTLY_MIME)
            if isinstance(fig, dict) and fig.get("data") is not None:
                found.append((fig, tags))
    return found
