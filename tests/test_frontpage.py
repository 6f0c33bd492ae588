"""The front page states each notebook's finding in words computed from its recorded numbers, with
the comparison rule's spread and verdict, and degrades gracefully when a number is missing."""
import json

from slmlab import frontpage
from slmlab.experiment import compare

CURATION = {"kept_fraction": 0.62, "n_docs": 20000,
            "contaminated_gap": {"before": 0.01, "raw": {"mean": 0.25, "sd": 0.03},
                                 "decontaminated": {"mean": 0.04, "sd": 0.02}},
            "comparisons": {"accuracy": compare([0.30, 0.32, 0.31], [0.20, 0.21, 0.19], names=("curated", "raw"),
                                                metric="accuracy").to_dict(),
                            "contamination_accuracy": compare([0.22, 0.25, 0.28], [0.02, 0.04, 0.06],
                                                              names=("raw", "decontaminated"),
                                                              metric="leaked minus unseen").to_dict()}}


def test_comparisons_are_found_wherever_recorded():
    nested = {"comparisons": {"rlp": {"vendi": compare([1, 2], [3, 4], names=("rlp", "base")).to_dict()}},
              "x": 1, "rounds": [1, 2]}
    found = frontpage.find_comparisons(nested)
    assert list(found) == ["comparisons.rlp.vendi"]
    assert found["comparisons.rlp.vendi"].verdict == "base beats rlp"


def test_finding_is_computed_from_the_metrics():
    words = " ".join(frontpage.finding("01_data_curation", CURATION))
    assert "62%" in words and "20,000" in words and "+25.0 ± 3.0 points" in words
    assert "+4.0 ± 2.0 after 13-gram decontamination (+1.0 before training)" in words
    assert "Raw vs decontaminated, leaked minus unseen: raw 0.25" in words and "raw beats decontaminated" in words
    # a summary recorded before the gap was split by arm still reads
    old = " ".join(frontpage.finding("01_data_curation", dict(CURATION, contaminated_gap=-0.007)))
    assert "-0.7 points above unseen ones" in old
    assert "curated 0.31 ± 0.01 vs raw 0.2 ± 0.01" in words and "curated beats raw" in words
    # the numbers move, the words follow
    flipped = dict(CURATION, comparisons={"accuracy": compare([0.2, 0.21], [0.2, 0.22], names=("curated", "raw"),
                                                              metric="accuracy").to_dict()})
    assert "within the seed spread" in " ".join(frontpage.finding("01_data_curation", flipped))


def test_missing_metric_falls_back_to_the_generic_finding():
    words = " ".join(frontpage.finding("01_data_curation", {"comparisons": CURATION["comparisons"]}))
    assert "curated beats raw" in words  # kept_fraction missing: the recorded comparison still speaks
    assert frontpage.finding("00_welcome_tiny_lm", {"params": 5}) == ["Headline numbers: params 5."]
    assert frontpage.finding("07_new", {}) == ["This notebook recorded no headline numbers."]


def test_every_lesson_reads_plausible_metrics():
    metrics = {
        "00": {"params": 1115264, "eval_loss": 0.91, "accuracy": 0.5, "accuracy_direct": 0.2,
               "accuracy_by_steps": {"1": 0.9, "4": 0.1}},
        "02": {"valid_rate": [0.4, 0.6], "vendi": [3.0, 3.5], "synthetic_kept": 120,
               "with_synthetic_accuracy": 0.3, "seed_only_accuracy": 0.2, "base_accuracy": 0.27},
        "03": {"reward_start": -0.1, "reward_end": 0.2, "reward_end_std": 0.05, "rlp_accuracy": 0.3,
               "cpt_accuracy": 0.35, "base_accuracy": 0.25},
        "04": {"temperature": 1.0, "models": {"base": {"intra_similarity": 0.5, "shuffled_baseline":
                                                       {"intra_similarity": 0.3}},
                                              "sharpened": {"intra_similarity": 0.8}},
               "verdicts": {"sharpened": "REDUCES", "rlp": "does not clearly change"},
               "references": {"rlp": "cpt_start"}},
    }
    expect = {"00": "90% at 1 step to 10% at 4 steps", "02": "40% to 60%",
              "02b": "0.3 ± 0 vs seed pool alone 0.2 ± 0 accuracy (base model 27%)", "03": "-0.100 to +0.200",
              "04": "most repetitive is sharpened"}
    words_04 = " ".join(frontpage.finding("04_x", metrics["04"]))
    assert "Sharpened reduces diversity relative to base" in words_04  # no reference recorded: base
    assert "Rlp does not clearly change diversity relative to cpt_start" in words_04
    for nb, m in metrics.items():
        words = " ".join(frontpage.finding(nb + "_x", m))
        assert expect[nb] in words, (nb, words)
    with_verdict = dict(metrics["02"], comparisons={"accuracy": compare(
        [0.40, 0.42, 0.41], [0.30, 0.31, 0.32], names=("with_synthetic", "seed_only"), metric="accuracy").to_dict()})
    words = " ".join(frontpage.finding("02_x", with_verdict))
    assert "base model 27%" in words and "with_synthetic beats seed_only" in words
    assert expect["02b"] in " ".join(frontpage.finding("02_x", metrics["02"]))


def test_rlp_lesson_reads_the_two_design_metrics():
    # what notebook 03 records now: the regime before training and one verdict per design
    m = {"pass_at_1": 0.5, "pass_at_k": 0.75, "k": 8, "mixed_group_frac": 0.375,
         "verdict_a": compare([0.60, 0.61, 0.62], [0.69, 0.70, 0.71], names=("CPT(F)->RLP(F)", "CPT(F)->CPT(F)"),
                              metric="design A greedy accuracy").to_dict(),
         "verdict_b": compare([0.45, 0.50, 0.40], [0.48, 0.43, 0.53], names=("CPT(F)->RLP(F)", "CPT(F)->CPT(F)"),
                              metric="design B greedy accuracy").to_dict()}
    words = " ".join(frontpage.finding("03_rlp_information_gain", m))
    assert "greedy decoding solved 50%" in words and "at least one of 8 sampled thoughts" in words and "75%" in words
    assert "worked steps, design A" in words and "CPT(F)->CPT(F) beats CPT(F)->RLP(F)" in words
    assert "answer-only documents plus replay, design B" in words and "within the seed spread" in words
    assert "information-gain reward moved" not in words  # the old design's sentence needs metrics 03 no longer records


def test_key_figure_prefers_the_tagged_cell_else_the_last():
    a, b, c = {"data": [1]}, {"data": [2]}, {"data": [3]}
    assert frontpage.key_figure([(a, []), (b, ["key-figure"]), (c, [])]) is b
    assert frontpage.key_figure([(a, []), (c, [])]) is c
    assert frontpage.key_figure([(a, []), (c, ["solution"])]) is a  # an exercise's figure is not the lesson's
    assert frontpage.key_figure([]) is None


def test_front_page_html(tmp_path):
    summary = {"profile": "smoke", "seed": 0, "total_seconds": 90.0, "notebooks": {
        "01_data_curation": {"seconds": 60.0, "peak_rss_mb": 812.0, "metrics": CURATION},
        "05_new": {"seconds": 30.0, "peak_rss_mb": 500.0, "metrics": {}, "ok": False, "cell": 7,
                   "error": "ValueError: <boom>"}}}
    nb = {"cells": [{"cell_type": "markdown", "source": ["# 05 · Something new\n", "text"]}]}
    (tmp_path / "05_new.ipynb").write_text(json.dumps(nb))
    fig = {"data": [{"type": "bar", "y": [1, 2]}], "layout": {"title": {"text": "curated vs raw"}}}
    page = frontpage.front_page(summary, tmp_path, plotly_url="plotly.min.js", figures={"01_data_curation": fig})
    assert frontpage.LESSONS["01"].question.split(",")[0] in page
    assert "curated beats raw" in page and "1.0 min" in page and "812 MB" in page
    assert 'href="01_data_curation.html"' in page and 'href="01_data_curation.ipynb"' in page
    assert '<script src="plotly.min.js">' in page and "curated vs raw" in page
    assert "Something new" in page and "FAILED at cell 7" in page and "&lt;boom&gt;" in page
    assert "http" not in page.replace("http://www.w3.org", "")  # nothing to fetch
