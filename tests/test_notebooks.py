"""Execute the whole collection once, at the smoke profile, through the runner (as CI's main job would).

This is the one execution of the notebooks per ``make test``; every test of an executed notebook reads
it. It runs the notebooks as committed, solutions included. It also stands for two more runs:
- the *exercise versions* (``python -m slmlab exercises``): their code is this code without the
  solution cells, which come last (``tests/test_exercises.py`` checks that no other code follows them),
  so they execute whenever these do;
- nbval's lax check: the cells tagged ``nbval-check-output`` must print what they print in the
  committed notebook (:func:`test_checked_outputs_match_the_committed_ones`, the comparison
  ``pytest --nbval-lax`` makes, on this run's outputs; ``make nbval`` runs nbval itself)."""
import json

import pytest

from conftest import per_notebook_params
from slmlab import pages, runner

# Headline numbers each notebook must record (the names its issue gives).
EXPECTED = {
    "00_welcome_tiny_lm": {"params", "eval_loss", "accuracy_by_steps"},
    "01_data_curation": {"precision", "recall", "near_dup_precision", "near_dup_recall", "raw_accuracy",
                         "curated_accuracy", "kept_fraction", "contaminated_gap"},
    "02_synthetic_data": {"valid_rate", "novel_rate", "vendi", "seed_only_accuracy", "with_synthetic_accuracy",
                          "seed_only_accuracy_spread", "with_synthetic_accuracy_spread", "base_accuracy", "verdict",
                          "seed_only_answer_loss", "with_synthetic_answer_loss", "synthetic_kept"},
    "03_rlp_information_gain": {"pass_at_1", "pass_at_k", "mixed_group_frac", "design_a", "design_b",
                                "rlp_beats_cpt_a", "rlp_beats_cpt_b", "base", "rlp_steps", "mde_b", "headroom",
                                "lr_choice", "verdict_b"},
    "04_mode_collapse": {"models"},
    "05_prismatic_synthesis": {f"{m}_{arm}{tail}" for m in ("gvendi", "gvendi_independent", "student_accuracy")
                               for arm in ("prismatic", "uniform") for tail in ("", "_spread")}
                              | {"student_accuracy_verdict", "mix_spearman_p", "gvendi_accuracy_spearman",
                                 "embedding_vendi_accuracy_spearman", "base_accuracy", "mixes"},
    "06_spectrum_tuning": {f"{m}_{arm}{tail}" for m in ("jsd", "coverage", "steerability")
                           for arm in ("sft", "spectrum") for tail in ("", "_spread")},
}
PER_MODEL = {"intra_similarity", "inter_similarity", "vendi", "distinct_2", "self_bleu", "shuffled_baseline",
             "percent_valid", "valid_vendi", "valid_answer_entropy", "unique_valid_count"}


# smoke_run (tests/conftest.py): the collection's one execution per test session, shared with the
# page and output checks below and in test_browser.py.


@pytest.mark.notebooks
def test_every_notebook_runs_at_smoke(smoke_run):
    out, summary = smoke_run
    names = [p.stem for p in runner.find_notebooks()]
    assert list(summary["notebooks"]) == names
    for name, entry in summary["notebooks"].items():
        assert entry.get("ok", True), f"{name}: {entry.get('error')}"
        assert entry["peak_rss_mb"] < 2048, f"{name} peaked at {entry['peak_rss_mb']} MB"
        missing = EXPECTED.get(name, set()) - set(entry["metrics"])
        assert not missing, f"{name} did not record {sorted(missing)}"
        assert (out / f"{name}.html").stat().st_size > 0
    rlp = summary["notebooks"]["03_rlp_information_gain"]["metrics"]
    arms = {"cpt_2f", "cpt_f_rlp_f", "cpt_f"}
    assert set(rlp["design_a"]) == arms and set(rlp["design_b"]) == arms
    assert all({"accuracy", "accuracy_spread", "accuracy_forced_think", "think_rate", "per_seed"} <= set(arm)
               for d in ("design_a", "design_b") for arm in rlp[d].values())
    assert set(rlp["lr_choice"]) >= {"cpt_f_rlp_f", "cpt_2f"}
    where = summary["notebooks"]["04_mode_collapse"]["metrics"]["where_rlp_acted"]   # RLP judged where it acted
    assert {"cpt_start", "rlp"} <= set(where) and "distinct_n" in where["rlp"]
    mixes = summary["notebooks"]["05_prismatic_synthesis"]["metrics"]["mixes"]
    assert all({"acc", "acc_spread", "base_acc", "lr"} <= set(r) for r in mixes)  # every mix beside the base
    models = summary["notebooks"]["04_mode_collapse"]["metrics"]["models"]
    assert {"base", "sharpened", "cpt_start", "rlp", "raw_pile", "curated_pile"} <= set(models)
    refs = summary["notebooks"]["04_mode_collapse"]["metrics"]["references"]
    assert refs == {"sharpened": "base", "cpt_start": "base", "rlp": "cpt_start"}  # RLP judged against its start
    assert all(PER_MODEL <= set(m) for m in models.values())
    assert json.loads((out / "summary.json").read_text()) == summary


@pytest.mark.notebooks
def test_figures_reach_the_html_pages(smoke_run):
    out, _ = smoke_run
    page = (out / "00_welcome_tiny_lm.html").read_text()
    assert page.count("Plotly.newPlot") >= 3


@pytest.mark.notebooks
def test_no_warnings_in_the_executed_notebooks(smoke_run):
    """A reader sees no red deprecation text: our calls are fixed, and anything filtered in a notebook
    says why (issue 13)."""
    out, summary = smoke_run
    for name in summary["notebooks"]:
        for i, cell in enumerate(json.loads((out / f"{name}.ipynb").read_text())["cells"]):
            for o in cell.get("outputs", []):
                text = "".join(o.get("text", "")) if o.get("name") == "stderr" else ""
                assert "warn" not in text.lower(), f"{name}, cell {i}: {text[:800]}"


def _printed(outputs) -> dict:
    """What a cell printed, as nbval compares it: each stream's text, then each result's plain text."""
    streams: dict[str, str] = {}
    results = []
    for o in outputs:
        if o["output_type"] == "stream":
            streams[o["name"]] = streams.get(o["name"], "") + "".join(o["text"])
        elif o["output_type"] in ("execute_result", "display_data") and "text/plain" in o.get("data", {}):
            results.append("".join(o["data"]["text/plain"]))
        elif o["output_type"] == "error":
            results.append(f"{o['ename']}: {o['evalue']}")
    return {"streams": {k: v.rstrip() for k, v in streams.items() if k == "stdout"}, "results": results}


@pytest.mark.notebooks
def test_checked_outputs_match_the_committed_ones(smoke_run):
    out, _ = smoke_run
    checked = 0
    for book in runner.find_notebooks():
        committed = json.loads(book.read_text())["cells"]
        executed = {c.get("id"): c for c in json.loads((out / f"{book.stem}.ipynb").read_text())["cells"]}
        for cell in committed:
            if "nbval-check-output" not in cell.get("metadata", {}).get("tags", []):
                continue
            checked += 1
            assert cell.get("id") in executed, f"{book.stem}: the checked cell {cell.get('id')} was not executed"
            assert _printed(executed[cell["id"]]["outputs"]) == _printed(cell["outputs"]), (
                f"{book.stem}, cell {cell['id']}: its output changed; if the change is meant, rerun the notebook at "
                "the smoke profile and commit that cell's new output")
    assert checked >= 1


@pytest.mark.notebooks
@pytest.mark.parametrize("name", per_notebook_params())
def test_outputs_read_clean(smoke_run, name):
    """Issue 23: no output longer than 60 lines but tables, no ANSI escapes, no markup shown as text, no
    progress-bar leftovers, every widget with a still picture for the page (slmlab.pages.output_problems)."""
    out, _ = smoke_run
    found = pages.output_problems(out / f"{name}.ipynb")
    assert not found, "\n".join(found)


@pytest.mark.notebooks
def test_real_model_sections_record_or_say_why_they_skipped(smoke_run):
    """Notebooks 04 and 06 end with a section on SmolLM2-135M-Instruct (slmlab.real_models): its
    numbers when the model is in the cache or can be fetched, else the reason it was skipped."""
    _, summary = smoke_run
    for name, keys in (("04_mode_collapse", {"real_intra_similarity", "real_shuffled_baseline"}),
                       ("06_spectrum_tuning", {"real_jsd_by_k"})):
        metrics = summary["notebooks"][name]["metrics"]
        real = metrics["real_model"]
        if "skipped" in real:
            assert real["skipped"], f"{name} skipped the real model without saying why"
            continue
        assert keys <= set(metrics), f"{name} did not record {sorted(keys - set(metrics))}"
        assert real["parameters"] == 134_515_008 and real["quantisation"].startswith("Q4_1")
