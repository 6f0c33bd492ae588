"""The README's minutes and every notebook's time line agree with the committed run summaries
(results/summary-<profile>.json), and `python -m slmlab minutes` is what writes them."""
import json
import shutil

import pytest

from slmlab import minutes
from slmlab.runner import find_notebooks

COMMITTED = sorted((minutes.ROOT / "results").glob("summary-*.json"))


def test_readme_and_notebook_headers_agree_with_the_committed_summaries():
    if not COMMITTED:  # the first one is committed from a full run (see the README's "minutes" note)
        pytest.skip("results/ holds no summary-<profile>.json yet: run `python -m slmlab run --profile default`, "
                    "copy report/summary.json to results/summary-default.json, then `python -m slmlab minutes "
                    "results/summary-default.json`")
    differ = minutes.apply(COMMITTED, check=True)
    assert not differ, (f"{[p.name for p in differ]} disagree with {[p.name for p in COMMITTED]}: run "
                        f"python -m slmlab minutes {' '.join(str(p.relative_to(minutes.ROOT)) for p in COMMITTED)}")


def _summary(profile, seconds, tmp_path, **extra):
    books = {p.stem: {"seconds": seconds, "peak_rss_mb": 1536.0, "metrics": {}} for p in find_notebooks()}
    books.update(extra)
    s = {"profile": profile, "seed": 0, "machine": {"cpus": 2, "gpu": None, "load_average": 0.5},
         "total_seconds": seconds * len(books), "notebooks": books}
    path = tmp_path / f"summary-{profile}.json"
    path.write_text(json.dumps(s))
    return path


@pytest.fixture
def copy(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(minutes.ROOT / "README.md", root / "README.md")
    shutil.copytree(minutes.ROOT / "notebooks", root / "notebooks")
    return root


def test_minutes_are_written_from_the_summaries(copy, tmp_path):
    default, smoke = _summary("default", 150.0, tmp_path), _summary("smoke", 12.0, tmp_path)
    assert minutes.apply([smoke, default], root=copy)  # order given does not matter
    readme = (copy / "README.md").read_text()
    assert "| notebook | what you learn | minutes at `default` (2 CPUs, load 0.5 at the start) | minutes at " \
           "`smoke`" in readme
    row = next(line for line in readme.splitlines() if line.startswith("| [03"))
    assert "(notebooks/03_rlp_information_gain.ipynb)" in row and row.endswith(" | 2.5 | 0.2 |")
    total = 150.0 * len(find_notebooks()) / 60
    assert f"The whole collection: {total:.1f} minutes at `default` (peak memory 1.5 GB" in readme
    title = "".join(json.loads((copy / "notebooks" / "00_welcome_tiny_lm.ipynb").read_text())["cells"][0]["source"])
    assert "*Time, measured:* `default` 2.5 min (peak 1.5 GB; 2 CPUs" in title and "`smoke` 0.2 min" in title
    assert title.startswith("# 00 ·")
    assert minutes.apply([default, smoke], root=copy, check=True) == []  # idempotent
    again = _summary("default", 90.0, tmp_path)
    assert len(minutes.apply([again, smoke], root=copy, check=True)) == 1 + len(find_notebooks())


def test_bad_summaries(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.json"):
        minutes.load_summaries([tmp_path / "absent.json"])
    one = _summary("smoke", 1.0, tmp_path)
    with pytest.raises(ValueError, match="two summaries for profile 'smoke'"):
        minutes.load_summaries([one, one])
    bad = _summary("default", 1.0, tmp_path, **{"09_x": {"seconds": 1, "peak_rss_mb": 1, "ok": False}})
    with pytest.raises(ValueError, match=r"\['09_x'\] failed"):
        minutes.load_summaries([bad])
    with pytest.raises(ValueError, match="at least one"):
        minutes.load_summaries([])
