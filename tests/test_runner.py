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


def test_two_at_a_time_a_notebook_waits_for_the_ones_it_needs(tmp_path, monkeypatch):
    """jobs=2: 02 needs 00's file, which 00 writes 10 s after 01 has ended its cell; 01 runs beside 00
    meanwhile. Without the wait, 02 would start when 01 ends and fail to read the file (00 waits for 01
    rather than for a fixed time, so a slow machine, where 01 takes longer, keeps the test's power)."""
    books = tmp_path / "nb"
    books.mkdir()
    flag, quick_done = tmp_path / "written-by-00", tmp_path / "written-by-01"
    _notebook(books / "00_slow.ipynb", ["profile = 'default'",
                                        f"import os, time\nwhile not os.path.exists({str(quick_done)!r}): time.sleep(0.1)\n"
                                        f"time.sleep(10); open({str(flag)!r}, 'w').write('x')"])
    _notebook(books / "01_quick.ipynb", ["profile = 'default'", f"open({str(quick_done)!r}, 'w').write('x')"])
    _notebook(books / "02_reader.ipynb", ["profile = 'default'", f"assert open({str(flag)!r}).read() == 'x'"])
    monkeypatch.setattr(runner, "NEEDS", {"02": ("00",)})
    summary = runner.run_collection("smoke", out=tmp_path / "out", folder=books, jobs=2)
    assert list(summary["notebooks"]) == ["00_slow", "01_quick", "02_reader"]
    assert all(e.get("ok", True) for e in summary["notebooks"].values())
    with pytest.raises(ValueError, match="jobs=0"):
        runner.run_collection("smoke", out=tmp_path / "out", folder=books, jobs=0)


def test_unknown_profile(tmp_path):
    with pytest.raises(ValueError, match="profile='fast'"):
        runner.run_collection("fast", out=tmp_path)


def test_no_posix_only_import_at_module_level():
    """``import slmlab`` and the runner must work on Windows: POSIX-only modules are imported inside
    the function that needs them, with a fallback."""
    import ast
    from pathlib import Path
    posix_only = {"resource", "fcntl", "pwd", "grp", "termios", "posix", "pty", "tty", "crypt"}
    offenders = []
    for path in sorted(Path(runner.__file__).parent.glob("*.py")):
        for node in ast.parse(path.read_text()).body:  # top level only
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in posix_only]
    assert not offenders


def test_peak_rss_is_sampled_where_getrusage_is_missing(monkeypatch):
    """As on Windows (no ``resource``): the kernel's peak RSS comes from sampling children with psutil."""
    import subprocess
    import sys
    monkeypatch.setattr(runner, "_resource", lambda: None)
    sampler = runner._PeakSampler(every=0.05)
    subprocess.run([sys.executable, "-c", "x = bytearray(300 * 2**20); import time; time.sleep(1.0)"],
                   check=True, timeout=120)
    assert 250 < runner._children_peak_rss_mb(sampler) < 2000  # the child's 300 MB


@pytest.mark.slow
def test_a_plain_pip_install_imports_and_says_where_the_notebooks_are(tmp_path):
    """``pip install .`` (not editable) ships the package and the embedded model, not the notebooks."""
    import subprocess
    import sys
    from pathlib import Path
    import shutil
    repo, src = Path(runner.__file__).resolve().parent.parent, tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "slmlab"):  # a copy: the build writes build/ beside it
        (shutil.copytree if (repo / name).is_dir() else shutil.copy)(repo / name, src / name)
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", str(src), "--target", str(target), "--no-deps", "-q"],
                   check=True, timeout=600, capture_output=True)
    env = {"PYTHONPATH": str(target), "PATH": "", "HF_HUB_OFFLINE": "1"}
    code = ("import slmlab; from pathlib import Path; assert Path(slmlab.__file__).is_relative_to(Path(r'%s'));"
            "assert (slmlab.EMBEDDED_MODEL / 'model.safetensors').exists(); print('ok')") % target
    ok = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert ok.stdout.strip() == "ok", ok.stderr
    cli = subprocess.run([sys.executable, "-m", "slmlab", "run", "--profile", "smoke", "--out", str(tmp_path / "r")],
                         capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert cli.returncode == 1 and cli.stderr.strip().count("\n") == 0
    assert "installed without its notebooks" in cli.stderr and "checkout" in cli.stderr
