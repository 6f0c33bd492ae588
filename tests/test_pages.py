"""Report pages read offline: MathJax comes from a package into the report folder, and a headless
Chromium with every host unreachable typesets the math of a page."""
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
