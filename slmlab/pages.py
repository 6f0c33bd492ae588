"""HTML pages of the report that read offline: math typeset by a MathJax shipped in a package, figures
with plotly.js beside them, widgets as still pictures, nothing fetched from the network.

nbconvert points MathJax at a CDN by default, so without a network a page shows raw ``$$…$$``.
The ``jupyter-server-mathjax`` package (the Jupyter project's own, BSD) ships MathJax 2.7 — the
version nbconvert's templates configure — as static files; the report folder gets one copy of them
and every page points there with a relative URL, so the folder can be moved or zipped as a whole.

nbconvert's page also loads require.js, the ipywidgets manager (from unpkg) and mermaid (from
cdnjs), and plotly's notebook output loads MathJax 3 from cdnjs: none of it is needed here, so the
page template drops them (:data:`PAGE_TEMPLATE`) and :func:`offline_notebook` removes the network
scripts from the outputs. A widget cannot be drawn without a kernel or that manager; the collection's
panels (:class:`slmlab.widgets.Panel`) carry a static ``text/html`` snapshot of their default state,
which the page shows instead. Progress bars (a widget with nothing but a ``0/38`` text) are dropped.
"""
from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

from . import _checks
from .checkpoint import write_folder
from .report import atomic_write_text

__all__ = ["MATHJAX_CONFIG", "mathjax_source", "ship_mathjax", "notebook_html", "offline_notebook",
           "plotly_figures", "ship_plotly", "output_problems", "drop_progress_bars", "is_progress_bar", "WIDGET_VIEW", "WIDGET_NOTE"]

# The configurations the package ships: TeX input, HTML-CSS output; Safe blocks javascript: links in math.
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"
MATHJAX_DIR = "mathjax"
PLOTLY_JS = "plotly.min.js"
PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = ("An interactive widget without a still picture: run the notebook in JupyterLab to use it "
               "(slmlab.widgets.Panel gives a panel one).")
# nbconvert's lab page without the scripts it would fetch from the network (MathJax stays: local URL),
# and each exercise's solution (a cell tagged "solution") folded under a "Solution" line, to open on demand.
PAGE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block any_cell scoped -%}
{%- if 'solution' in cell.metadata.get('tags', []) -%}
{%- set first = cell.source.split('\n')[0] -%}
<details class="slmlab-solution"><summary style="cursor:pointer;margin:.3em 0 .3em 6em;color:#444;font-family:sans-serif">
<b>Solution</b>{% if first.startswith('#') %}: {{ first.lstrip('# ') | truncate(110) | e }}{% endif %} <i>(click to show)</i></summary>
{{ super() }}
</details>
{%- else -%}
{{ super() }}
{%- endif -%}
{%- endblock any_cell -%}
"""
_NETWORK_SCRIPT = re.compile(r"<script\b[^>]*\bsrc=[\"']?https?://[^>]*>\s*</script>", re.IGNORECASE)
# a tqdm bar's text: "desc:  40%|####      | 2/5 [00:01<00:02, ...]"
_PROGRESS_BAR = re.compile(r"^[^\n]*\d+%\|[^\n]*\|\s*\d+/\d+")


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
    _checks.not_a_file("out", out)
    target = Path(out) / MATHJAX_DIR
    if not (target / "MathJax.js").is_file():
        source = mathjax_source()
        # atomically: a half-copied folder is never taken for a whole one
        write_folder(target, lambda tmp: shutil.copytree(source, tmp, dirs_exist_ok=True))
    return f"{MATHJAX_DIR}/MathJax.js?config={MATHJAX_CONFIG}"


def is_progress_bar(output) -> bool:
    """A tqdm progress bar's output: a widget view whose only text is a bar's frame."""
    _checks.dict_("output", output, what="one output of a notebook cell")
    data = output.get("data", {})
    return WIDGET_VIEW in data and "text/html" not in data and bool(_PROGRESS_BAR.match(_text(data.get("text/plain"))))


def drop_progress_bars(executed) -> int:
    """Remove progress-bar outputs from an executed notebook file, in place (atomically); returns how
    many. A notebook's tqdm.auto bar is a widget: saved, it is only its first frame ("0/38"), and
    ``TQDM_DISABLE`` does not reach it (tqdm.notebook sets ``disable`` itself)."""
    _checks.existing_file("executed", executed, "an executed notebook (.ipynb)")
    path = Path(executed)
    nb = json.loads(path.read_text())
    dropped = 0
    for cell in nb.get("cells", []):
        if "outputs" in cell:
            kept = [o for o in cell["outputs"] if not is_progress_bar(o)]
            dropped += len(cell["outputs"]) - len(kept)
            cell["outputs"] = kept
    if dropped:
        atomic_write_text(path, json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return dropped


def offline_notebook(nb):
    """``nb`` (a notebook node, changed in place and returned) made fit for an offline page: widget
    state and views out, a widget's ``text/html`` snapshot (:mod:`slmlab.widgets`) in their place,
    progress bars dropped, a widget without a snapshot replaced by a line saying so, and ``<script
    src="http...">`` tags removed from HTML outputs (plotly's MathJax 3 from cdnjs)."""
    if not (hasattr(nb, "metadata") and hasattr(nb, "cells")):
        raise TypeError(f"nb must be a notebook node (nbformat.read(path, as_version=4)), got {type(nb).__name__}")
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        outputs = []
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if is_progress_bar(output):
                continue
            if WIDGET_VIEW in data:
                del data[WIDGET_VIEW]
                if "text/html" not in data:
                    data.clear()
                    data["text/html"] = f'<p class="slmlab-widget-note"><i>{WIDGET_NOTE}</i></p>'
            if "text/html" in data:
                html = data["text/html"]
                html = "".join(html) if isinstance(html, list) else html
                data["text/html"] = _NETWORK_SCRIPT.sub("", html)
            outputs.append(output)
        if "outputs" in cell:
            cell["outputs"] = outputs
    return nb


def notebook_html(executed, target, mathjax_url: str) -> None:
    """Render an executed notebook to ``target`` with MathJax loaded from ``mathjax_url`` and nothing
    loaded from the network (:func:`offline_notebook`, :data:`PAGE_TEMPLATE`)."""
    _checks.existing_file("executed", executed, "an executed notebook (.ipynb)")
    import jinja2
    import nbformat
    from nbconvert import HTMLExporter
    exporter = HTMLExporter(mathjax_url=mathjax_url, template_name="lab", template_file="slmlab_page.html.j2",
                            extra_loaders=[jinja2.DictLoader({"slmlab_page.html.j2": PAGE_TEMPLATE})])
    body, _ = exporter.from_notebook_node(offline_notebook(nbformat.read(executed, as_version=4)))
    atomic_write_text(target, body)


def ship_plotly(out) -> str:
    """Write plotly.js (from the installed plotly package) to ``out`` once; return its relative URL."""
    _checks.not_a_file("out", out)
    from plotly.offline import get_plotlyjs
    target = Path(out) / PLOTLY_JS
    if not target.is_file():
        atomic_write_text(target, get_plotlyjs())
    return PLOTLY_JS


def plotly_figures(executed) -> list[tuple[dict, list[str]]]:
    """Every plotly figure an executed notebook displayed, in order: ``(figure JSON, cell tags)``."""
    _checks.existing_file("executed", executed, "an executed notebook (.ipynb)")
    nb = json.loads(Path(executed).read_text())
    found = []
    for cell in nb.get("cells", []):
        tags = cell.get("metadata", {}).get("tags", [])
        for output in cell.get("outputs", []):
            fig = output.get("data", {}).get(PLOTLY_MIME)
            if isinstance(fig, dict) and fig.get("data") is not None:
                found.append((fig, tags))
    return found


# --- what a reader should never meet in an executed notebook (issue 23: outputs worth reading) ---
MAX_OUTPUT_LINES = 60
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_MARKUP = re.compile(r"</?(b|i|em|strong|pre|br|code|span|div|p|table|tr|td)(\s[^<>]*)?/?>", re.IGNORECASE)


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def output_problems(executed, max_lines: int = MAX_OUTPUT_LINES) -> list[str]:
    """What would get in a reader's way in an executed notebook, one line per problem: an output longer
    than ``max_lines`` lines (HTML tables and figures excepted: a table is read by its rows), ANSI escape
    codes anywhere, HTML markup shown as text (a ``<b>`` in printed output), a widget without a still
    picture for the page, a progress bar's leftover frame. Empty when the notebook reads clean."""
    _checks.existing_file("executed", executed, "an executed notebook (.ipynb)")
    _checks.integer("max_lines", max_lines, low=1)
    nb = json.loads(Path(executed).read_text())
    found = []
    for i, cell in enumerate(nb.get("cells", [])):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            where = f"cell {i} ({output.get('output_type')})"
            if output.get("output_type") == "stream":
                shown = _text(output.get("text"))
            elif "text/html" in data or PLOTLY_MIME in data or any(k.startswith("image/") for k in data):
                shown = None  # rendered, not read as text
            else:
                shown = _text(data.get("text/plain"))
            every = " ".join(_text(v) for v in [output.get("text"), *data.values()] if isinstance(v, (str, list)))
            if _ANSI.search(every) or _ANSI.search(_text(output.get("traceback"))):
                found.append(f"{where}: ANSI escape codes")
            if WIDGET_VIEW in data and "text/html" not in data:
                plain = _text(data.get("text/plain"))
                found.append(f"{where}: " + ("a progress bar's first frame: " + plain[:60] if _PROGRESS_BAR.match(plain)
                                             else "a widget without a still picture (use slmlab.widgets.Panel)"))
                continue
            if shown is None:
                continue
            lines = shown.count("\n") + (not shown.endswith("\n"))
            if lines > max_lines:
                found.append(f"{where}: {lines} lines (more than {max_lines}): {shown[:80]!r}")
            markup = _MARKUP.search(shown)
            if markup:
                found.append(f"{where}: markup shown as text {markup.group()!r}")
    return found
