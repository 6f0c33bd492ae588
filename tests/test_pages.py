"""Report pages read offline: MathJax comes from a package into the report folder, and a headless
Chromium with every host unreachable typesets the math of a page."""
import re
import shutil
import subprocess

import nbformat
import pytest

from slmlab import pages


@pytest.fixture(scope="module")
def math_page(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        r"The reward $r = \log p_\theta(x_t \mid c)$ and a display: $$\sum_i x_i^2$$")])
    nbformat.write(nb, out / "m.ipynb")
    url = pages.ship_mathjax(out)
    pages.notebook_html(out / "m.ipynb", out / "m.html", url)
    return out


def test_pages_load_mathjax_from_the_report_folder(math_page):
    page = (math_page / "m.html").read_text()
    assert f'src="mathjax/MathJax.js?config={pages.MATHJAX_CONFIG}"' in page
    assert "cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7" not in page  # nbconvert's default CDN
    assert (math_page / "mathjax" / "MathJax.js").is_file()
    for config in pages.MATHJAX_CONFIG.split(","):
        assert (math_page / "mathjax" / "config" / f"{config}.js").is_file()
    assert not list(math_page.glob(".mathjax*")), "no half-copied folder left behind"


def test_ship_mathjax_copies_once(math_page):
    marker = math_page / "mathjax" / "kept.txt"
    marker.write_text("x")
    pages.ship_mathjax(math_page)
    assert marker.exists()


@pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed")
def test_math_typesets_with_no_network(math_page):
    dom = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--host-resolver-rules=MAP * ~NOTFOUND",
         "--virtual-time-budget=20000", "--dump-dom", (math_page / "m.html").as_uri()],
        capture_output=True, text=True, timeout=180).stdout
    assert "MathJax-Element-1-Frame" in dom and "MathJax-Element-2-Frame" in dom, dom[-2000:]
    assert "&lt;msub&gt;" in dom  # typeset into MathML, not left as raw TeX


def test_plotly_figures_in_order_with_tags(tmp_path):
    fig = {"data": [{"type": "bar", "y": [1, 2]}], "layout": {}}
    cell = nbformat.v4.new_code_cell("fig", metadata={"tags": ["key-figure"]}, outputs=[
        nbformat.v4.new_output("display_data", data={pages.PLOTLY_MIME: fig, "text/plain": "fig"})])
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1"), cell])
    nbformat.write(nb, tmp_path / "x.ipynb")
    assert pages.plotly_figures(tmp_path / "x.ipynb") == [(fig, ["key-figure"])]
    assert pages.ship_plotly(tmp_path) == "plotly.min.js"
    assert "Plotly" in (tmp_path / "plotly.min.js").read_text()[:5000]


def _output(data):
    return nbformat.v4.new_output("display_data", data=data)


BAR = {pages.WIDGET_VIEW: {"model_id": "m1", "version_major": 2, "version_minor": 0},
       "text/plain": "Loading weights:   0%|          | 0/38 [00:00<?, ?it/s]"}


def test_offline_notebook_shows_snapshots_drops_bars_and_network_scripts():
    panel = {pages.WIDGET_VIEW: {"model_id": "m2", "version_major": 2, "version_minor": 0},
             "text/plain": "[t 1]\nsample", "text/html": "<div class='slmlab-panel-snapshot'><pre>sample</pre></div>"}
    raw = {pages.WIDGET_VIEW: {"model_id": "m3", "version_major": 2, "version_minor": 0}, "text/plain": "VBox(...)"}
    fig = {"text/html": '<div><script src="https://cdnjs.cloudflare.com/ajax/libs/mathjax/3.2.2/es5/tex-svg.min.js">'
                        '</script><script>Plotly.newPlot("x")</script></div>'}
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=[_output(d) for d in (BAR, panel, raw, fig)])])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    out = pages.offline_notebook(nb)
    assert "widgets" not in out.metadata
    datas = [o["data"] for o in out.cells[0].outputs]
    assert len(datas) == 3  # the bar is gone
    assert datas[0] == {"text/plain": "[t 1]\nsample", "text/html": panel["text/html"]}  # the still picture stays
    assert pages.WIDGET_NOTE in datas[1]["text/html"] and set(datas[1]) == {"text/html"}
    assert "cdnjs" not in datas[2]["text/html"] and "Plotly.newPlot" in datas[2]["text/html"]


def test_pages_name_no_network_script(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=[_output(BAR)])])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2}}
    nbformat.write(nb, tmp_path / "w.ipynb")
    pages.notebook_html(tmp_path / "w.ipynb", tmp_path / "w.html", "mathjax/MathJax.js")
    page = (tmp_path / "w.html").read_text()
    assert not re.findall(r"<script[^>]*src=\"https?://", page)
    for host in ("unpkg.com", "cdnjs", "require.min.js", "mermaid"):
        assert host not in page, host


def test_drop_progress_bars_and_output_problems(tmp_path):
    long = "\n".join(f"line {i}" for i in range(61))
    cells = [nbformat.v4.new_code_cell("x", outputs=[
        _output(BAR),
        nbformat.v4.new_output("stream", name="stdout", text="\x1b[32mINFO\x1b[0m done\n"),
        nbformat.v4.new_output("stream", name="stdout", text="drops <b>18</b> documents\n"),
        nbformat.v4.new_output("execute_result", data={"text/plain": long}, execution_count=1),
        nbformat.v4.new_output("execute_result", data={"text/plain": long, "text/html": "<table></table>"},
                               execution_count=2),  # a table: read by its rows, not counted
        nbformat.v4.new_output("stream", name="stdout", text="<think>3+4=7.</think> 7\n")])]  # a sample, not markup
    nbformat.write(nbformat.v4.new_notebook(cells=cells), tmp_path / "x.ipynb")
    found = pages.output_problems(tmp_path / "x.ipynb")
    assert len(found) == 4, found
    assert "progress bar" in found[0] and "ANSI" in found[1] and "'<b>'" in found[2] and "61 lines" in found[3]
    assert pages.drop_progress_bars(tmp_path / "x.ipynb") == 1
    assert len(pages.output_problems(tmp_path / "x.ipynb")) == 3
    assert pages.drop_progress_bars(tmp_path / "x.ipynb") == 0


def test_solutions_are_folded_in_the_page(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("## Exercises\n\n- **Easy.** Add."),
                                         nbformat.v4.new_code_cell("# Easy — add\n1 + 1", metadata={"tags": ["solution"]}),
                                         nbformat.v4.new_code_cell("lesson = 2")])
    nbformat.write(nb, tmp_path / "s.ipynb")
    pages.notebook_html(tmp_path / "s.ipynb", tmp_path / "s.html", "mathjax/MathJax.js")
    page = (tmp_path / "s.html").read_text()
    assert page.count('<details class="slmlab-solution">') == 1
    folded = page.split('<details class="slmlab-solution">')[1].split("</details>")[0]
    assert "Easy" in folded and "lesson" not in folded and "lesson" in page
    assert "<b>Solution</b>: Easy — add" in folded  # the summary line names the exercise
