"""Execute the notebooks in order with papermill and write the report.

For each notebook: the executed ``.ipynb``, its HTML rendering, and an entry in ``summary.json``
(seconds, peak RSS of its kernel, the metrics it recorded). ``index.html`` links them all.
Each notebook runs in a child process, so the peak RSS measured is that notebook's alone.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from .frontpage import front_page, key_figure
from .pages import drop_progress_bars, notebook_html, plotly_figures, ship_mathjax, ship_plotly
from .report import atomic_write_text, read_metrics
from .profiles import PROFILE_NAMES

__all__ = ["run_collection", "find_notebooks", "write_front_page", "NOTEBOOK_DIR"]

# The notebooks live beside the package in a checkout (an editable install); a plain `pip install`
# copies only the package, so then the runner looks in ./notebooks (run it from a checkout).
NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
# Plotly under papermill would store only its JSON mimetype, which the HTML pages cannot draw;
# "notebook" adds an HTML rendering with plotly.js inlined once per executed notebook.
PLOTLY_RENDERER = "plotly_mimetype+notebook"
# Nobody watches a progress bar in a headless run, and what it leaves in the saved notebook is its
# first frame ("Loading weights 0/38"): datasets' map/save bars, the hub's (transformers' loading bar)
# and plain tqdm are off in the executed notebooks; tqdm.auto's widget bars, which ignore TQDM_DISABLE,
# are removed from the executed notebook afterwards (pages.drop_progress_bars).
QUIET_PROGRESS = {"TQDM_DISABLE": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
# A cell that runs longer than this fails the run instead of hanging it (seconds, per profile).
CELL_TIMEOUT = {"smoke": 300, "default": 1800, "gpu": 7200}
# Notebooks that read what earlier ones saved (04: notebook 02's synthetic pool and notebook 03's models):
# with jobs > 1 a notebook starts only after those it needs have finished.
NEEDS = {"04": ("02", "03")}


def _notebook_folder(folder) -> Path:
    if folder is not None:
        return Path(folder)
    for candidate in (NOTEBOOK_DIR, Path.cwd() / "notebooks"):
        if candidate.is_dir():
            return candidate
    raise ValueError(f"no notebooks folder: slmlab was installed without its notebooks (looked in {NOTEBOOK_DIR} "
                     f"and {Path.cwd() / 'notebooks'}); run from a checkout of the repository, which has notebooks/")


def find_notebooks(only: str | None = None, folder: Path | None = None) -> list[Path]:
    """Notebooks ``NN_*.ipynb`` in order; ``only="00,03"`` keeps those numbers. ``folder`` defaults to
    the checkout's notebooks/ (beside the package, else in the current directory)."""
    folder = _notebook_folder(folder)
    if not folder.is_dir():
        raise ValueError(f"notebooks folder {str(folder)!r} does not exist")
    books = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if only:
        wanted = {w.strip().zfill(2) for w in str(only).split(",") if w.strip()}
        unknown = wanted - {p.name[:2] for p in books}
        if unknown:
            raise ValueError(f"--only {only!r}: no notebook numbered {sorted(unknown)}; "
                             f"have {[p.name[:2] for p in books]}")
        books = [p for p in books if p.name[:2] in wanted]
    if not books:
        raise ValueError(f"no notebooks found in {folder}")
    return books


def _execute_one(src: str, dst: str, params_json: str, status_file: str) -> None:
    """Child-process entry: run one notebook, then write status (error, peak RSS) as JSON."""
    import papermill as pm
    status = {"ok": True}
    sampled = _PeakSampler() if _resource() is None else None
    try:
        params = json.loads(params_json)
        pm.execute_notebook(src, dst, parameters=params, cwd=str(Path(src).parent), progress_bar=False,
                            kernel_name="python3", log_output=False,
                            execution_timeout=CELL_TIMEOUT.get(params.get("profile"), 1800))
    except pm.PapermillExecutionError as err:
        status = {"ok": False, "cell": _source_cell_number(dst, err.cell_index),
                  "error": f"{err.ename}: {err.evalue}"}
    except Exception as err:  # kernel died, bad notebook: still report which notebook
        status = {"ok": False, "cell": None, "error": f"{type(err).__name__}: {err}"}
    status["peak_rss_mb"] = _children_peak_rss_mb(sampled)
    Path(status_file).write_text(json.dumps(status))


def _resource():
    """The POSIX ``resource`` module, or None (Windows has none)."""
    try:
        import resource
    except ImportError:
        return None
    return resource


class _PeakSampler:
    """Where ``getrusage`` is missing (Windows), the kernel's peak RSS is sampled with psutil: the
    largest sum over this process's children seen every 0.2 s (a short spike may be missed)."""

    def __init__(self, every: float = 0.2):
        import threading

        import psutil
        self.peak, self._stop = 0, threading.Event()
        me = psutil.Process()

        def poll():
            while not self._stop.wait(every):
                total = 0
                for child in me.children(recursive=True):
                    try:
                        total += child.memory_info().rss
                    except psutil.Error:
                        pass  # exited between listing and reading
                self.peak = max(self.peak, total)
        threading.Thread(target=poll, daemon=True).start()

    def stop(self) -> int:
        self._stop.set()
        return self.peak


def _children_peak_rss_mb(sampled: _PeakSampler | None) -> float:
    resource = _resource()
    if resource is None:
        return round(sampled.stop() / 2**20, 1)
    # ru_maxrss of waited-for children: the kernel (KiB on Linux, bytes on macOS)
    kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(kib / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def _source_cell_number(executed: str, index: int) -> int:
    """1-based number of the failing cell in the notebook as the user wrote it (papermill inserts an
    ``injected-parameters`` cell, which would shift every number after it)."""
    import nbformat
    cells = nbformat.read(executed, as_version=4).cells[: index + 1]
    injected = sum("injected-parameters" in c.metadata.get("tags", []) for c in cells)
    return index + 1 - injected


def _to_html(executed: Path, target: Path, mathjax_url: str) -> None:
    notebook_html(executed, target, mathjax_url)


def _index_html(summary: dict, out: Path) -> str:
    """The front page (slmlab.frontpage), with each notebook's key figure and plotly.js beside it."""
    figures = {name: key_figure(plotly_figures(out / f"{name}.ipynb")) for name in summary["notebooks"]
               if (out / f"{name}.ipynb").exists()}
    plotly_url = ship_plotly(out) if any(figures.values()) else None
    return front_page(summary, out, plotly_url=plotly_url, figures=figures)


def write_front_page(out) -> Path:
    """Rewrite ``index.html`` of an existing report folder from its ``summary.json``."""
    out = Path(out).resolve()
    if not (out / "summary.json").is_file():
        raise FileNotFoundError(f"{out / 'summary.json'} not found: pass a report folder written by `slmlab run`")
    summary = json.loads((out / "summary.json").read_text())
    atomic_write_text(out / "index.html", _index_html(summary, out))
    return out / "index.html"


def _machine() -> dict:
    """What the times in summary.json were measured on: the CPUs the run may use, the GPU if any, and
    the 1-minute load average at the start (a shared machine runs everything slower)."""
    import torch
    from .runtime import usable_cpus
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"cpus": usable_cpus(), "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "load_average": None if load is None else round(load, 1)}


def _writable_folder(out) -> Path:
    """``out`` resolved and created, or ValueError naming why it cannot hold the report."""
    out = Path(out).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {str(out)!r} is a file, not a folder; name a folder for the report")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".slmlab-write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise ValueError(f"--out {str(out)!r} cannot be written ({err.strerror or err}); name a folder you "
                         "can write to") from err
    return out


def _check_model(model: str) -> None:
    """A local model folder is checked before any notebook starts (a hub id is left to the notebooks)."""
    path = Path(model).expanduser()
    if path.exists() or str(model).startswith((".", "/", "~")) or str(model).count("/") > 1:
        if not path.is_dir():
            raise ValueError(f"--model {model!r}: no such folder (give a model folder or a hub id)")
        from .models import _check_model_folder  # imports torch: only when a folder is given
        try:
            _check_model_folder(path)
        except (FileNotFoundError, ValueError) as err:
            raise ValueError(f"--model: {err}") from err


def _launch(src: Path, out: Path, env: dict, params: dict) -> dict:
    """Start one notebook in a child process (its output to a log file, so a full pipe never stalls it)."""
    name = src.stem
    metrics_file = out / "metrics" / f"{name}.json"
    metrics_file.unlink(missing_ok=True)
    log = open(out / f".{name}.log", "w+")
    code = "from slmlab.runner import _execute_one; import sys; _execute_one(*sys.argv[1:])"
    proc = subprocess.Popen([sys.executable, "-c", code, str(src), str(out / f"{name}.ipynb"), json.dumps(params),
                             str(out / f".{name}.status.json")],
                            env=dict(env, SLMLAB_METRICS_FILE=str(metrics_file)), stdout=log, stderr=subprocess.STDOUT,
                            text=True)
    return {"proc": proc, "log": log, "t0": time.time(), "metrics": metrics_file}


def _finish(src: Path, run: dict, out: Path, mathjax_url: str) -> tuple[dict, dict]:
    """A finished child's summary entry and status; its page written, its scratch files removed."""
    name, seconds = src.stem, time.time() - run["t0"]
    dst, status_file = out / f"{name}.ipynb", out / f".{name}.status.json"
    run["log"].seek(0)
    tail = run["log"].read()[-2000:]
    run["log"].close()
    Path(run["log"].name).unlink(missing_ok=True)
    status = json.loads(status_file.read_text()) if status_file.exists() else {
        "ok": False, "cell": None, "error": f"runner child exited {run['proc'].returncode}: {tail}",
        "peak_rss_mb": 0.0}
    status_file.unlink(missing_ok=True)
    entry = {"seconds": round(seconds, 1), "peak_rss_mb": status["peak_rss_mb"], "metrics": read_metrics(run["metrics"])}
    if dst.exists():
        drop_progress_bars(dst)  # a bar's saved first frame is junk in the notebook and its page
        _to_html(dst, out / f"{name}.html", mathjax_url)
    if not status["ok"]:
        entry.update(ok=False, cell=status["cell"], error=status["error"])
    return entry, status


def run_collection(profile: str = "default", only: str | None = None, out="report", seed: int = 0,
                   device: str = "auto", model: str | None = None, folder: Path | None = None,
                   jobs: int = 1) -> dict:
    """Execute the notebooks; write executed notebooks, HTML pages, ``index.html`` and
    ``summary.json`` to ``out``. Raises RuntimeError naming the notebook and cell on failure.

    ``jobs``: notebooks run at once (in order, each after the ones it needs, :data:`NEEDS`). Keep 1 to
    time them: beside each other they share the CPU (the tests use 2, where only the results count)."""
    if profile not in PROFILE_NAMES:
        raise ValueError(f"profile={profile!r} is not a known profile; choose one of {list(PROFILE_NAMES)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed={seed!r} must be an int >= 0")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs={jobs!r} must be a positive int (notebooks run at once)")
    books = find_notebooks(only, folder)
    if device != "auto":
        from .runtime import pick_device  # imports torch: only when a device is named
        pick_device(device)
    if model is not None:
        _check_model(model)
    out = _writable_folder(out)
    env = dict(os.environ, PLOTLY_RENDERER=PLOTLY_RENDERER, SLMLAB_ARTIFACTS=str(out / "artifacts"),
               PYTHONUNBUFFERED="1", **QUIET_PROGRESS)
    if model is None:  # the collection runs offline unless the user asked for a hub model
        env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    params = {"profile": profile, "seed": seed, "device": device, "model": model}
    summary = {"profile": profile, "seed": seed, "machine": _machine(), "total_seconds": 0.0, "notebooks": {}}
    mathjax_url = ship_mathjax(out)  # the pages typeset their math without a network
    start = time.time()
    failure = None
    entries, running, waiting, done = {}, {}, list(books), set()
    present = {p.name[:2] for p in books}

    def ready(src):  # every notebook it needs, among those run, has finished
        return all(need in done for need in NEEDS.get(src.name[:2], ()) if need in present)

    while waiting or running:
        while not failure and len(running) < jobs and any(ready(p) for p in waiting):
            src = next(p for p in waiting if ready(p))
            waiting.remove(src)
            running[src] = _launch(src, out, env, params)
            print(f"[{books.index(src) + 1}/{len(books)}] {src.stem} ...", end=" " if jobs == 1 else "\n", flush=True)
        if not running:
            break  # a failure stopped the launches, or nothing left can start
        finished = [src for src, run in running.items() if run["proc"].poll() is not None]
        if not finished:
            # one child: block until it ends (a parent that wakes often slows the notebook's torch threads);
            # several: look once a second
            if len(running) == 1:
                next(iter(running.values()))["proc"].wait()
            else:
                time.sleep(1.0)
            continue
        for src in finished:
            entry, status = _finish(src, running.pop(src), out, mathjax_url)
            entries[src.stem] = entry
            done.add(src.name[:2])
            if not status["ok"]:
                failure = failure or f"notebook {src.stem} failed at cell {status['cell']}: {status['error']}"
            print(f"{'' if jobs == 1 else src.stem + ' '}{'ok' if status['ok'] else 'FAILED'} "
                  f"{entry['seconds']:.1f} s, peak {status['peak_rss_mb']:.0f} MB", flush=True)
    summary["notebooks"] = {p.stem: entries[p.stem] for p in books if p.stem in entries}
    summary["total_seconds"] = round(time.time() - start, 1)
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=1))
    atomic_write_text(out / "index.html", _index_html(summary, out))
    print(f"report: {out / 'index.html'} ({summary['total_seconds']:.0f} s)")
    if failure:
        raise RuntimeError(failure)
    return summary
