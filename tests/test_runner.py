import json

import nbformat
import pytest

from slmlab import runner


def _notebook(path, cells):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_find_notebooks_orders_and_filters(tmp_path):
    for name in ["01_b", "00_a", "10_c"]:
        _notebook(tmp_path / f"{name}.ipynb", ["profile = 'x'"])
    (tmp_path / "scratch.ipynb").write_text("{}")
    assert [p.stem for p in runner.find_notebooks(folder=tmp_path)] == ["00_a", "01_b", "10_c"]
    assert [p.stem for p in runner.find_notebooks("0, 10", folder=tmp_path)] == ["00_a", "10_c"]
    with pytest.raises(ValueError, match="no notebook numbered"):
        runner.find_notebooks("05", folder=tmp_path)


def test_run_writes_report_and_stops_at_the_failing_cell(tmp_path):
    books = tmp_path / "nb"
    books.mkdir()
    _notebook(books / "00_ok.ipynb", ["profile = 'default'\nseed = 1",
                                      "from slmlab.report import record\nrecord('00_ok', {'p': profile, 's': seed})"])
    _notebook(books / "01_bad.ipynb", ["profile = 'default'", "x = 1", "raise ValueError('boom')"])
    _notebook(books / "02_never.ipynb", ["profile = 'default'"])
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match=r"01_bad failed at cell 3: ValueError: boom"):
        runner.run_collection("smoke", out=out, seed=5, folder=books)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["profile"] == "smoke"
    ok = summary["notebooks"]["00_ok"]
    assert ok["metrics"] == {"p": "smoke", "s": 5} and ok["seconds"] > 0 and ok["peak_rss_mb"] > 10
    assert summary["notebooks"]["01_bad"]["ok"] is False
    assert "02_never" not in summary["notebooks"]
    assert (out / "00_ok.html").exists() and (out / "00_ok.ipynb").exists()
    assert "00_ok.html" in (out / "index.html").read_text()


def test_unknown_profile(tmp_path):
    with pytest.raises(ValueError, match="profile='fast'"):
        runner.run_collection("fast", out=tmp_path)
