import os
import threading

import pytest

# Tests never touch the network: a hub id must fail fast with our own error.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
# The tests run beside the collection's kernels (smoke_run below): threads that wait by spinning would stall
# each other (slmlab sets the same on import; a test module may load torch before slmlab).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _uses_smoke_run(item) -> bool:
    return "smoke_run" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config, items):
    """The tests that read the executed collection run last: it executes in the background meanwhile."""
    items[:] = [i for i in items if not _uses_smoke_run(i)] + [i for i in items if _uses_smoke_run(i)]


@pytest.fixture(scope="session")
def tiny():
    """The embedded model and tokenizer, loaded once."""
    import slmlab
    return slmlab.load_model()


@pytest.fixture(scope="session")
def small_corpus():
    from slmlab import problems
    return problems.make_splits(300, 16, seed=0)


@pytest.fixture(scope="session", autouse=True)
def _smoke_run_started(request, tmp_path_factory):
    """Starts the collection run of ``smoke_run`` before the first test when the session has a test that
    reads it: its kernels (most of the session's wall-clock) then run while the other tests do. The
    thread only waits on the kernels' processes; the runner's progress lines land in the captured output
    of whichever test is running (shown only if that test fails: they are not that test's)."""
    if not any(_uses_smoke_run(i) for i in request.session.items):
        yield None
        return
    from slmlab import runner
    out = tmp_path_factory.mktemp("report")
    run = {"out": out}

    def execute():
        try:
            run["summary"] = runner.run_collection("smoke", out=out, jobs=2)
        except BaseException as exc:  # re-raised by smoke_run, in the tests that read the run
            run["error"] = exc

    run["thread"] = threading.Thread(target=execute, name="smoke-collection", daemon=True)
    run["thread"].start()
    yield run
    if run["thread"].is_alive():  # the session ended early (-x, Ctrl-C): stop the kernels it started
        import psutil
        for child in psutil.Process().children(recursive=True):
            child.kill()


@pytest.fixture(scope="session")
def smoke_run(_smoke_run_started):
    """The whole collection executed once per test session at the smoke profile, through the runner (as
    CI's main job would; two notebooks at a time, since only the results count here): ``(report folder,
    summary)``. It runs the notebooks as committed, solutions included; the exercise versions are that
    code without the solutions (tests/test_exercises.py), and the cells nbval would check are compared in
    tests/test_notebooks.py. Every test that reads executed notebooks or their pages shares it; it starts
    with the session (``_smoke_run_started``) and these tests run last."""
    run = _smoke_run_started
    run["thread"].join()
    if "error" in run:
        raise run["error"]
    return run["out"], run["summary"]


def raw_widget_notebooks() -> set[str]:
    """Notebooks whose panels are still drawn with ipywidgets directly, not slmlab.widgets.Panel: their
    pages have no still picture of the panel (issue 23), so the tests that check one expect a failure."""
    from slmlab import runner
    return {p.stem for p in runner.find_notebooks()
            if "ipywidgets" in p.read_text() and "widgets.Panel(" not in p.read_text()}


def per_notebook_params():
    """Every notebook's name as a test parameter, those in raw_widget_notebooks() marked xfail (named)."""
    from slmlab import runner
    raw = raw_widget_notebooks()
    return [pytest.param(p.stem, marks=pytest.mark.xfail(
        reason=f"{p.name} draws its panel with raw ipywidgets: switch it to slmlab.widgets.Panel")) if p.stem in raw
        else p.stem for p in runner.find_notebooks()]
