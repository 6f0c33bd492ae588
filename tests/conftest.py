import json
import os

import pytest

# Tests never touch the network: a hub id must fail fast with our own error.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")


@pytest.fixture(scope="session")
def tiny():
    """The embedded model and tokenizer, loaded once."""
    import slmlab
    return slmlab.load_model()


@pytest.fixture(scope="session")
def small_corpus():
    from slmlab import problems
    return problems.make_splits(300, 16, seed=0)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """The whole collection executed once per test session at the smoke profile, through the runner (as
    CI's main job would): ``(report folder, summary)``. It runs the *exercise versions* (solution cells
    replaced by their task, as ``python -m slmlab exercises`` writes them), so this one run also proves
    they execute. Every test that reads executed notebooks or their pages shares it."""
    from slmlab import exercises, runner
    out = tmp_path_factory.mktemp("report")
    written = exercises.write_exercises(tmp_path_factory.mktemp("exercises"))
    assert [p.stem for p in written] == [p.stem for p in runner.find_notebooks()]
    assert not any(exercises.solution_cells(json.loads(p.read_text())) for p in written)
    summary = runner.run_collection("smoke", out=out, folder=written[0].parent)
    return out, summary
