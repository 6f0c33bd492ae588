"""The front page states each notebook's finding in words computed from its recorded numbers, with
the comparison rule's spread and verdict, and degrades gracefully when a number is missing."""
import json
import re

import pytest

from slmlab import findings, frontpage
from slmlab.experiment import compare

CURATION = {"kept_fraction": 0.62, "n_docs": 20000,
            "contaminated_gap": {"before": 0.01, "raw": {"mean": 0.25, "sd": 0.03},
                                 "decontaminated": {"mean": 0.04, "sd": 0.02}},
            "comparisons": {"accuracy": compare([0.30, 0.32, 0.31], [0.20, 0.21, 0.19], names=("curated", "raw"),
                                                metric="accuracy").to_dict(),
                            "contamination_accuracy": compare([0.22, 0.25, 0.28], [0.02, 0.04, 0.06],
                                                              names=("raw", "decontaminated"),
                                                              metric="leaked minus unseen").to_dict()}}


def _said(words: str, numbers: str, verdict: str) -> bool:
    """``numbers`` then the seeds and the interval of the difference in brackets, then ``verdict``."""
    return re.search(re.escape(numbers) + r" \(3 seeds each; difference 95% interval \[[-+0-9.e]+, [-+0-9.e]+\]\) — "
                     + re.escape(verdict), words) is not None


def test_comparisons_are_found_wherever_recorded():
    nested = {"comparisons": {"rlp": {"vendi": compare([1, 1.1], [3, 3.1], names=("rlp", "base")).to_dict()}},
              "x": 1, "rounds": [1, 2]}
    found = findings.find_comparisons(nested)
    assert list(found) == ["comparisons.rlp.vendi"]
    assert found["comparisons.rlp.vendi"].verdict == "base beats rlp"


def test_finding_is_computed_from_the_metrics():
    words = " ".join(findings.finding("01_data_curation", CURATION))
    assert "62%" in words and "20,000" in words
    assert "Before training, the model answered leaked eval problems 1.0 points better than unseen ones" in words
    assert "after training on the raw pile, which holds copies of them, 25.0 ± 3.0 points better than unseen ones" in words
    assert "without what 13-gram decontamination removed, 4.0 ± 2.0 points better than unseen ones" in words
    # the verdict read for the reader: what the leaks did, not "raw beats decontaminated"
    assert "leaked problems gained 24.0 points over unseen ones in the raw arm and gained 3.0 points after " \
           "decontamination: the raw arm's gap is the larger" in words and "raw beats" not in words
    assert "decontamination took most of that gain away" in words
    # a summary recorded before the gap was split by arm still reads, the sign in words
    old = " ".join(findings.finding("01_data_curation", dict(CURATION, contaminated_gap=-0.007)))
    assert "leaked eval problems score 0.7 points worse than unseen ones" in old
    assert _said(words, "curated set 0.31 ± 0.01 vs raw pile 0.2 ± 0.01", "curated set did better, beyond the seed spread")
    # the numbers move, the words follow
    flipped = dict(CURATION, comparisons={"accuracy": compare([0.2, 0.21], [0.2, 0.22], names=("curated", "raw"),
                                                              metric="accuracy").to_dict()})
    assert "no difference beyond the seed spread" in " ".join(findings.finding("01_data_curation", flipped))
    # a gap the seed spread cannot tell apart is not called an effect
    noisy = dict(CURATION, comparisons=dict(CURATION["comparisons"], contamination_accuracy=compare(
        [0.0, 0.3, 0.1], [0.1, 0.0, 0.05], names=("raw", "decontaminated"), metric="leaked minus unseen").to_dict()))
    words = " ".join(findings.finding("01_data_curation", noisy))
    assert "do not differ beyond the seed spread" in words and "inflated" not in words


def test_missing_metric_falls_back_to_the_generic_finding():
    words = " ".join(findings.finding("01_data_curation", {"comparisons": CURATION["comparisons"]}))
    assert "curated set did better" in words  # kept_fraction missing: the recorded comparison still speaks
    assert findings.finding("00_welcome_tiny_lm", {"params": 5}) == ["Headline numbers: params 5."]
    assert findings.finding("07_new", {}) == ["This notebook recorded no headline numbers."]


def test_every_lesson_reads_plausible_metrics():
    metrics = {
        "00": {"params": 1115264, "eval_loss": 0.91, "accuracy": 0.5, "accuracy_direct": 0.2,
               "accuracy_by_steps": {"1": 0.9, "4": 0.1}},
        "02": {"valid_rate": [0.4, 0.6], "vendi": [3.0, 3.5], "synthetic_kept": 120,
               "with_synthetic_accuracy": 0.3, "seed_only_accuracy": 0.2, "base_accuracy": 0.27},
        "03": {"reward_start": -0.1, "reward_end": 0.2, "reward_end_std": 0.05, "rlp_accuracy": 0.3,
               "cpt_accuracy": 0.35, "base_accuracy": 0.25},
        "04": {"temperature": 1.0, "models": {
            "base": {"intra_similarity": 0.5, "shuffled_baseline": {"intra_similarity": 0.3}, "vendi": 4.1,
                     "valid_vendi": 2.3, "percent_valid": 0.78},
            "sharpened": {"intra_similarity": 0.8, "vendi": 1.1, "valid_vendi": 1.0, "percent_valid": 0.99},
            "raw_pile": {"intra_similarity": 0.25, "vendi": 11.3, "valid_vendi": 0.4, "percent_valid": 0.09}},
               "verdicts": {"sharpened": "REDUCES", "rlp": "does not clearly change"},
               "references": {"rlp": "cpt_start"}},
    }
    expect = {"00": "90% at 1 step to 10% at 4 steps", "02": "40% to 60%",
              "02b": "0.3 ± 0 vs seed pool alone 0.2 ± 0 accuracy (the base model's accuracy is 0.270)", "03": "-0.100 to +0.200",
              "04": "Counting only valid answers, among the 2 of 3 tiny models that answer validly at least half the "
                    "time at T=1.0, the most diverse is the base model (Vendi score 2.30 over its valid answers, 78% "
                    "valid) and the least the sharpened model (Vendi score 1.00 over its valid answers, 99% valid)"}
    words_04 = " ".join(findings.finding("04_x", metrics["04"]))
    # no reference recorded: base
    assert "The sharpened model against the base model, the model it was made from: narrowed diversity." in words_04
    assert "RLP against the CPT start, the model it was made from: no clear change in diversity." in words_04
    # junk is not diversity: a mostly invalid model is named as such, not ranked among the diverse
    assert ("The raw-pile model writes a valid answer only 9% of the time (Vendi 11.3 over all its outputs, 0.40 over "
            "its valid ones)") in words_04
    assert "more alike (similarity 0.50) than answers to different prompts (0.30)" in words_04
    assert "real chat model" not in words_04   # nothing recorded about it: nothing said
    real = dict(metrics["04"], real_intra_similarity=0.41, real_shuffled_baseline=0.19,
                real_model={"name": "smollm2-135m-instruct", "quantisation": "Q4_1, dequantised to float32",
                            "temperatures": [1.0, 1.5]})
    assert ("smollm2-135m-instruct (Q4_1, dequantised to float32), on open-ended prompts at T=1.0: intra-model "
            "similarity 0.410 against a shuffled-prompt baseline of 0.190, a gap of +0.220: its answers to one prompt "
            "are more alike than answers to different prompts.") in " ".join(findings.finding("04_x", real))
    skipped = dict(metrics["04"], real_model={"name": "smollm2-135m-instruct", "skipped": "no network"})
    assert "real-model section was skipped" in " ".join(findings.finding("04_x", skipped))
    for nb, m in metrics.items():
        words = " ".join(findings.finding(nb + "_x", m))
        assert expect[nb] in words, (nb, words)
    with_verdict = dict(metrics["02"], comparisons={"accuracy": compare(
        [0.40, 0.42, 0.41], [0.30, 0.31, 0.32], names=("with_synthetic", "seed_only"), metric="accuracy").to_dict()})
    words = " ".join(findings.finding("02_x", with_verdict))
    assert "the base model's accuracy is 0.270" in words and "seed pool + synthetic did better, beyond the seed spread" in words
    assert expect["02b"] in " ".join(findings.finding("02_x", metrics["02"]))
    # the Vendi score is said at one sample size only: the whole pool's grows with the pool
    fixed = " ".join(findings.finding("02_x", dict(metrics["02"], vendi_fixed=[9.1, 9.4, 9.3], vendi_fixed_n=40)))
    assert "Measured on 40 problems drawn from the pool, its Vendi score went from 9.10 (the seed pool) to 9.30" in fixed
    assert "3.0" not in fixed.split("Measured")[0]


def test_rlp_lesson_reads_the_two_design_metrics():
    # what notebook 03 records now: the regime before training and one verdict per design
    m = {"pass_at_1": 0.5, "pass_at_k": 0.75, "k": 8, "mixed_group_frac": 0.375,
         "verdict_a": compare([0.60, 0.61, 0.62], [0.69, 0.70, 0.71], names=("CPT(F)->RLP(F)", "CPT(F)->CPT(F)"),
                              metric="design A greedy accuracy").to_dict(),
         "verdict_b": compare([0.45, 0.50, 0.40], [0.48, 0.43, 0.53], names=("CPT(F)->RLP(F)", "CPT(F)->CPT(F)"),
                              metric="design B greedy accuracy").to_dict()}
    words = " ".join(findings.finding("03_rlp_information_gain", m))
    assert "greedy decoding solved 50%" in words and "at least one of 8 sampled thoughts" in words and "75%" in words
    assert "worked steps, design A" in words and "CPT(F)->CPT(F) did better, beyond the seed spread" in words
    assert "answer-only documents plus replay, design B" in words and "no difference beyond the seed spread" in words
    assert "information-gain reward moved" not in words  # the old design's sentence needs metrics 03 no longer records


def test_rlp_lesson_reads_the_sized_design_b():
    # notebook 03's third edition: design B judged with <think> forced, its start, headroom and MDE
    items = lambda ps: [[1.0] * round(p * 20) + [0.0] * (20 - round(p * 20)) for p in ps]
    m = {"headroom": 0.094, "mde_b": {"mde": 0.12, "can_see_half_headroom": False}, "rlp_steps": 100,
         "design_b": {"cpt_f": {"accuracy_forced_think": 0.58, "accuracy_forced_think_spread": 0.01, "think_rate": 0.7}},
         "verdict_b": compare(items_a=items([0.6, 0.65, 0.6]), items_b=items([0.55, 0.6, 0.6]),
                              names=("CPT(F)->RLP(F)", "CPT(F)->CPT(F)"),
                              metric="design B accuracy, <think> forced").to_dict(),
         "verdict_a": compare([0.60, 0.61, 0.62], [0.69, 0.70, 0.71], names=("CPT(F)->RLP(F)", "CPT(F)->CPT(F)"),
                              metric="design A accuracy, <think> forced").to_dict()}
    words = " ".join(findings.finding("03_rlp_information_gain", m))
    assert "starts from CPT(F) at 58%" in words and "70% of its free greedy answers open <think>" in words
    assert "headroom (pass@k − pass@1) of +9.4 points" in words and "could detect 12.0 points" in words
    assert "no evidence of no effect" in words and "100 RLP steps" in words
    assert "design B accuracy, <think> forced" in words and "imitation of the gold chains" in words
    assert "CPT(F)->CPT(F) did better, beyond the seed spread" in words


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
    assert findings.LESSONS["01"].question.split(",")[0] in page
    assert "curated set did better" in page and "1.0 min" in page and "812 MB" in page
    assert 'href="01_data_curation.html"' in page and 'href="01_data_curation.ipynb"' in page
    assert '<script src="plotly.min.js">' in page and "curated vs raw" in page
    assert "Something new" in page and "FAILED at cell 7" in page and "&lt;boom&gt;" in page
    assert "http" not in page.replace("http://www.w3.org", "")  # nothing to fetch


def _cmp(a, b, names, metric, higher_is_better=True):
    return compare(a, b, names=names, metric=metric, higher_is_better=higher_is_better).to_dict()


PRISMATIC = {
    "pair": [{"dataset": "reworded", "n": 8, "embedding_vendi": 8.5, "g_vendi": 4.3},
             {"dataset": "renumbered", "n": 8, "embedding_vendi": 2.6, "g_vendi": 25.8}],
    "mixes": [{"mix": str(i)} for i in range(6)], "gvendi_accuracy_spearman": 0.71,
    "embedding_vendi_accuracy_spearman": -0.54, "base_accuracy": {"id": 0.28, "ood": 0.2},
    "comparisons": {
        "g_vendi": _cmp([26.0, 27.0, 26.5], [19.0, 20.0, 19.5], ("prismatic", "uniform"), "G-Vendi of the final pool"),
        "embedding_vendi": _cmp([12.0, 12.5, 11.8], [12.6, 12.2, 13.0], ("prismatic", "uniform"), "embedding Vendi"),
        "acc": _cmp([0.25, 0.20, 0.30], [0.27, 0.22, 0.31], ("prismatic", "uniform"), "held-out accuracy"),
        "acc_ood": _cmp([0.10, 0.11, 0.12], [0.20, 0.21, 0.22], ("prismatic", "uniform"), "accuracy OOD")}}


def test_prismatic_finding_follows_the_numbers():
    words = " ".join(findings.finding("05_prismatic_synthesis", PRISMATIC))
    assert "embedding Vendi rates reworded more diverse but G-Vendi rates renumbered" in words
    assert "Over 6 equal-size data mixes (one seed each" in words and "+0.71 for G-Vendi and -0.54" in words
    assert _said(words, "prismatic seeding 26.5 ± 0.5 vs uniform seeding 19.5 ± 0.5", "prismatic seeding did better")
    assert "embedding Vendi (higher is better): prismatic seeding 12.1" in words
    assert "held-out accuracy (higher is better): prismatic seeding 0.25 ± 0.05 vs uniform seeding 0.267" in words
    assert "— no difference beyond the seed spread (base model 28% in distribution, 20% OOD)" in words
    # each split's own verdict, not the pooled one, by readable names
    assert "accuracy OOD: uniform seeding did better, beyond the seed spread" in words
    # the verdicts flip with the numbers: accuracy beyond the spread, G-Vendi within it
    flipped = dict(PRISMATIC, comparisons=dict(
        PRISMATIC["comparisons"],
        g_vendi=_cmp([26.0, 20.0, 23.0], [19.0, 25.0, 22.0], ("prismatic", "uniform"), "G-Vendi of the final pool"),
        acc=_cmp([0.40, 0.41, 0.42], [0.27, 0.28, 0.29], ("prismatic", "uniform"), "held-out accuracy")))
    words = " ".join(findings.finding("05_prismatic_synthesis", flipped))
    assert _said(words, "G-Vendi of the final pool (higher is better): prismatic seeding 23 ± 3 vs uniform seeding 22 ± 3",
                 "no difference beyond the seed spread")
    assert _said(words, "held-out accuracy (higher is better): prismatic seeding 0.41 ± 0.01 vs uniform seeding 0.28 ± 0.01",
                 "prismatic seeding did better")
    # both measures agreeing on the pair is said as agreement
    agree = dict(PRISMATIC, pair=[dict(PRISMATIC["pair"][0], g_vendi=30.0), PRISMATIC["pair"][1]])
    assert "both measures rate reworded more diverse" in " ".join(findings.finding("05_x", agree))


def test_prismatic_finding_reads_the_independent_judge():
    # the loop's own G-Vendi rises by construction; the finding reports the judge's, the seeds and the p-value
    m = dict(PRISMATIC, mix_seeds=2, mix_spearman_p=0.0312, mixes_above_base=7, mixes=[{"mix": str(i)} for i in range(8)],
             base_accuracy={"all": 0.23, "id": 0.28, "ood": 0.2},
             comparisons=dict(PRISMATIC["comparisons"], gvendi_independent=_cmp(
                 [5.0, 5.2, 5.1], [5.3, 5.1, 5.2], ("prismatic", "uniform"), "G-Vendi of the final pool, independent judge")))
    words = " ".join(findings.finding("05_prismatic_synthesis", m))
    assert "Over 8 equal-size data mixes (2 seeds each, each mix's rate from dev)" in words
    assert "+0.71 (permutation p = 0.031: a ranking better than chance) for G-Vendi" in words and "7 of 8 mixes end above the base student (23%)" in words
    assert ("judged by what the loop did not optimise: G-Vendi of the final pool, independent judge (higher is better): "
            "prismatic seeding 5.1") in words
    assert "no difference beyond the seed spread" in words and "prismatic 26.5" not in words


def test_prismatic_finding_degrades_gracefully():
    # smoke: every accuracy equal makes rho undefined (recorded as None); older summary without comparisons
    smoke = {"gvendi_accuracy_spearman": None, "embedding_vendi_accuracy_spearman": None, "mixes": [{}, {}],
             "gvendi_prismatic": 5.0, "gvendi_prismatic_spread": 1.0, "gvendi_uniform": 4.0, "gvendi_uniform_spread": 0.5,
             "accuracy_prismatic": 0.0, "accuracy_uniform": 0.0}
    words = " ".join(findings.finding("05_prismatic_synthesis", smoke))
    assert "undefined (one side constant) for G-Vendi" in words
    assert "prismatic 5 ± 1 vs uniform 4 ± 0.5 (no verdict recorded)" in words
    assert "accuracy prismatic 0 ± 0 vs uniform 0 ± 0 (no verdict recorded)" in words
    assert "beats" not in words
    # only the comparisons left: the lesson still speaks from them
    only = " ".join(findings.finding("05_prismatic_synthesis", {"comparisons": PRISMATIC["comparisons"]}))
    assert "prismatic seeding did better" in only and "Spearman" not in only


SPECTRUM = {
    "tokens_per_run": 102400, "n_heldout_tasks": 24, "jsd_base": 0.47, "jsd_perfect_sampler": 0.0155, "n_samples": 32,
    "comparisons": {
        "js_divergence": _cmp([0.29, 0.295, 0.291], [0.28, 0.30, 0.285], ("spectrum", "sft"), "JS divergence",
                              higher_is_better=False),
        "valid_set_coverage": _cmp([0.80, 0.82, 0.81], [0.76, 0.80, 0.79], ("spectrum", "sft"), "coverage"),
        "steerability": _cmp([0.0, 0.01, 0.01], [-0.02, 0.0, 0.0], ("spectrum", "sft"), "steerability"),
        "percent_valid": _cmp([0.57, 0.56, 0.58], [0.62, 0.63, 0.61], ("spectrum", "sft"), "percent_valid"),
        "all_acc_geq_1": _cmp([0.24, 0.23, 0.25], [0.16, 0.15, 0.17], ("spectrum", "sft"), "all_acc_geq_1")}}


def test_spectrum_finding_follows_the_numbers():
    words = " ".join(findings.finding("06_spectrum_tuning", SPECTRUM))
    assert "equal tokens (102,400 per run)" in words and "24 held-out tasks" in words
    assert _said(words, "JS divergence (lower is better): spectrum tuning 0.292 ± 0.0026 vs plain SFT 0.288 ± 0.01",
                 "no difference beyond the seed spread")
    assert "(base model before tuning 0.47; a perfect sampler at N=32, the floor 0.0155)" in words
    assert "coverage (higher is better): spectrum tuning 0.81 ± 0.01 vs plain SFT 0.783 ± 0.021 (3 seeds each;" in words
    assert "steerability (higher is better): spectrum tuning 0.00667 ± 0.0058 vs plain SFT -0.00667 ± 0.012" in words
    assert "Of all 5 comparisons: plain SFT did better on percent_valid; spectrum tuning did better on " \
           "all_acc_geq_1; the other 3 show no difference beyond the seed spread." in words
    # lower JS is better: a clearly lower spectrum JS is said as a win for spectrum, and the tally moves
    better = dict(SPECTRUM, comparisons=dict(SPECTRUM["comparisons"], js_divergence=_cmp(
        [0.20, 0.21, 0.22], [0.28, 0.29, 0.30], ("spectrum", "sft"), "JS divergence", higher_is_better=False)))
    words = " ".join(findings.finding("06_spectrum_tuning", better))
    assert _said(words, "JS divergence (lower is better): spectrum tuning 0.21 ± 0.01 vs plain SFT 0.29 ± 0.01",
                 "spectrum tuning did better")
    assert "spectrum tuning did better on JS divergence; all_acc_geq_1; the other 2 show no difference" in words


def test_spectrum_finding_degrades_gracefully():
    # smoke: one seed per format, so every comparison says it has no verdict
    one = {k: _cmp([0.3], [0.2], ("spectrum", "sft"), k) for k in ("js_divergence", "valid_set_coverage", "steerability")}
    words = " ".join(findings.finding("06_spectrum_tuning", {"comparisons": one}))
    assert "Fine-tuned at equal tokens, spectrum format vs plain SFT, scored on held-out tasks" in words
    assert "Of all 3 comparisons: 3 have no verdict (fewer than 2 seeds per arm)." in words
    assert "beats" not in words and "did better" not in words
    # an older summary with only the headline numbers
    old = {"jsd_spectrum": 0.3, "jsd_spectrum_spread": 0.01, "jsd_sft": 0.28, "jsd_base": 0.47}
    words = " ".join(findings.finding("06_spectrum_tuning", old))
    assert "spectrum 0.3 ± 0.01 vs SFT 0.28 ± 0 (base model before tuning 0.47; no verdict recorded)" in words


def test_glossary_explains_the_metric_names_the_page_uses(tmp_path):
    summary = {"profile": "smoke", "seed": 0, "total_seconds": 1.0, "notebooks": {
        "06_spectrum_tuning": {"seconds": 1.0, "peak_rss_mb": 1.0, "metrics": SPECTRUM}}}
    page = frontpage.front_page(summary, tmp_path)
    glossary = page.split('<section class="glossary">')[1]
    assert "<dt>all_acc_geq_1</dt>" in glossary and "<dt>percent_valid</dt>" in glossary
    assert "<dt>G-Vendi</dt>" not in glossary  # only the words the page uses
    assert '<section class="glossary">' not in frontpage.front_page(
        {"profile": "smoke", "notebooks": {"07_x": {"metrics": {"n": 1}}}}, tmp_path)


def _gap_metrics(before, raw, dec, raw_seeds, dec_seeds):
    return dict(CURATION, contaminated_gap={"before": before, "raw": {"mean": raw, "sd": 0.01},
                                            "decontaminated": {"mean": dec, "sd": 0.01}},
                comparisons=dict(CURATION["comparisons"], contamination_accuracy=compare(
                    raw_seeds, dec_seeds, names=("raw", "decontaminated"), metric="leaked minus unseen").to_dict()))


def test_curation_contamination_reads_right_in_every_direction():
    """Leaks are never said to help, a partial removal is not called most, and one seed gives no verdict."""
    said = lambda m: " ".join(findings.finding("01_data_curation", m))
    # raw gap larger, but decontamination kept most of the gain: "only part", never "most"
    part = said(_gap_metrics(0.0, 0.20, 0.15, [0.19, 0.20, 0.21], [0.14, 0.15, 0.16]))
    assert "gained 20.0 points over unseen ones in the raw arm and gained 15.0 points after decontamination" in part
    assert "took only part of that gain away" in part and "most of" not in part
    # the decontaminated arm's gap the larger: said as unexpected, never as contamination being good
    flipped = said(_gap_metrics(0.05, 0.0, 0.2, [-0.01, 0.0, 0.01], [0.19, 0.2, 0.21]))
    assert "leaked problems lost 5.0 points over unseen ones in the raw arm and gained 15.0 points" in flipped
    assert "unexpectedly, the decontaminated arm's gap is the larger" in flipped
    assert "inflated" not in flipped and "decontaminated did better" not in flipped
    # one seed per arm: numbers, no verdict either way
    single = said(_gap_metrics(0.0, 0.1, 0.0, [0.1], [0.0]))
    assert "(no verdict: it needs two seeds per arm)" in single
    assert "do not differ" not in single and "inflated" not in single


def test_curation_reads_the_base_and_the_solution_loss():
    loss = compare([0.020, 0.021, 0.022], [0.030, 0.031, 0.032], names=("curated", "raw"),
                   metric="solution-token loss", higher_is_better=False).to_dict()
    m = dict(CURATION, base_accuracy=1.0, base_solution_loss=0.01,
             comparisons=dict(CURATION["comparisons"], solution_loss=loss))
    words = " ".join(findings.finding("01_data_curation", m))
    # an already perfect model: both arms below it, so "did better" is read as "lost less"
    assert "from a base model that answered 1.000 of the unseen eval problems" in words
    assert "both arms end below the base, so \"did better\" means lost less" in words
    assert "From the base model's 0.01, solution-token loss (lower is better): curated set 0.021" in words
    above = " ".join(findings.finding("01_data_curation", dict(m, base_accuracy=0.2)))
    assert "end below the base" not in above


def test_synthetic_reads_both_verdicts_beside_the_base():
    def said(acc_a, acc_b, loss_a, loss_b):
        comparisons = {"accuracy": compare(acc_a, acc_b, names=("with_synthetic", "seed_only"), metric="accuracy"),
                       "answer_loss": compare(loss_a, loss_b, names=("with_synthetic", "seed_only"),
                                              metric="answer loss", higher_is_better=False)}
        m = {"valid_rate": [0.4], "base_accuracy": 0.24, "base_answer_loss": 0.5,
             "comparisons": {k: c.to_dict() for k, c in comparisons.items()}}
        return " ".join(findings.finding("02_synthetic_data", m))

    same = [0.30, 0.31, 0.32]
    hurt = said(same, same, [0.43, 0.42, 0.44], [0.37, 0.372, 0.374])
    assert "the base model's accuracy is 0.240" in hurt and "From the base model's 0.5, answer loss" in hurt
    assert "seed pool only did better, beyond the seed spread: the synthetic problems made the worked answers less " \
           "likely, and did not help accuracy." in hurt
    helped = said(same, same, [0.37, 0.372, 0.374], [0.43, 0.42, 0.44])
    assert "made the worked answers more likely" in helped and "less likely" not in helped
    tied = said(same, same, [0.40, 0.42, 0.44], [0.41, 0.43, 0.42])
    assert "no difference beyond the seed spread" in tied and "likely" not in tied


def _collapse_metrics(verdict, entropy_rlp, entropy_start, vendi_rlp, vendi_start):
    cmp = {k: compare(a, b, names=("RLP", "CPT start"), metric=f"{k} at T=1.0, over sampling draws").to_dict()
           for k, a, b in (("answer_entropy", entropy_rlp, entropy_start), ("vendi", vendi_rlp, vendi_start))}
    return {"temperature": 1.0, "models": {
        "base": {"intra_similarity": 0.5, "shuffled_baseline": {"intra_similarity": 0.3}, "vendi": 4.1,
                 "valid_vendi": 2.3, "percent_valid": 0.78},
        "rlp": {"intra_similarity": 0.5, "vendi": 4.0, "valid_vendi": 2.4, "percent_valid": 0.8},
        "curated_pile": {"intra_similarity": 0.2, "vendi": 10.0, "valid_vendi": 0.5, "percent_valid": 0.11},
        "raw_pile": {"intra_similarity": 0.25, "vendi": 11.3, "valid_vendi": 0.4, "percent_valid": 0.09}},
        "verdicts": {"rlp": verdict}, "references": {"rlp": "cpt_start"}, "comparisons": {"rlp": cmp},
        "where_rlp_acted": {"problems": 40, "k": 8, "temperature": 0.7,
                            "cpt_start": {"distinct_n": 0.5, "answer_entropy": 0.824, "valid_share": 0.9, "correct_share": 0.523},
                            "rlp": {"distinct_n": 0.45, "answer_entropy": 0.648, "valid_share": 0.92, "correct_share": 0.576}}}


@pytest.mark.parametrize("verdict, ent, ven, want, never", [
    ("REDUCES", ([1.0, 1.1, 1.05], [2.4, 2.3, 2.35]), ([2.0, 2.1, 2.05], [4.0, 4.1, 4.05]),
     "RLP against the CPT start, the model it was made from: narrowed diversity (answer entropy 2.35 ± 0.05 → 1.05",
     ("widened", "no clear change", "did better")),
    ("INCREASES", ([2.4, 2.3, 2.35], [1.0, 1.1, 1.05]), ([4.0, 4.1, 4.05], [2.0, 2.1, 2.05]),
     "RLP against the CPT start, the model it was made from: widened diversity (answer entropy 1.05 ± 0.05 → 2.35",
     ("narrowed", "no clear change", "did better")),
    ("does not clearly change", ([2.4, 2.0, 2.2], [2.3, 2.1, 2.25]), ([4.0, 4.4, 3.9], [4.1, 4.0, 4.2]),
     "RLP against the CPT start, the model it was made from: no clear change in diversity (answer entropy 2.22",
     ("narrowed", "widened", "did better")),
])
def test_collapse_finding_reads_right_for_every_verdict(verdict, ent, ven, want, never):
    words = " ".join(findings.finding("04_mode_collapse", _collapse_metrics(verdict, *ent, *ven)))
    assert want in words, words
    assert not any(w in words for w in never), words
    assert "over 3 sampling draws" in words
    for raw in ("Rlp", "Cpt_start", "cpt_start", "raw_pile", "curated_pile"):
        assert raw not in words
    # diversity ranked among valid answers only: the junk models are said apart, with their valid share
    assert "among the 2 of 4 tiny models that answer validly at least half the time" in words
    assert "the most diverse is RLP (Vendi score 2.40 over its valid answers, 80% valid) and the least the base model" in words
    assert ("The curated-pile model and the raw-pile model write a valid answer only 11% of the time (Vendi 10.0 over all "
            "its outputs, 0.50 over its valid ones) and 9% of the time") in words
    # where RLP acted: the per-problem numbers, from its start, said as one seed's direction
    assert ("from its CPT start to RLP: entropy of the answers its thoughts reach (bits) 0.824 → 0.648, share correct "
            "0.523 → 0.576") in words and "not a verdict" in words


def _rlp_metrics(b, b_start, a, headroom=0.094, can_see=False):
    items = lambda ps: [[1.0] * round(p * 20) + [0.0] * (20 - round(p * 20)) for p in ps]
    names = ("CPT(F) → RLP(F)", "CPT(2F)")
    return {"headroom": headroom, "mde_b": {"mde": 0.12, "can_see_half_headroom": can_see}, "rlp_steps": 8,
            "design_b": {"cpt_f": {"accuracy_forced_think": 0.58, "accuracy_forced_think_spread": 0.01, "think_rate": 0.7}},
            "verdict_b": compare(items_a=items(b[0]), items_b=items(b[1]), names=names,
                                 metric="design B accuracy, <think> forced").to_dict(),
            "verdict_b_vs_start": compare(items_a=items(b[0]), items_b=items(b_start), names=(names[0], "CPT(F)"),
                                          metric="design B accuracy, <think> forced").to_dict(),
            "verdict_a": compare(items_a=items(a[0]), items_b=items(a[1]), names=names,
                                 metric="design A accuracy, <think> forced").to_dict()}


HI, LO, MID = [0.9, 0.9, 0.95], [0.3, 0.35, 0.3], [0.6, 0.65, 0.6]


@pytest.mark.parametrize("b, b_start, a, want, never", [
    ((HI, LO), LO, (HI, LO),
     ["CPT(F) → RLP(F) did better, beyond the noise of seeds and eval items", "CPT(F) → RLP(F) rose to 0.917",
      "reinforcing the model's own thoughts beat imitating the worked chains"],
     ["CPT(2F) did better", "fell to", "imitating the worked chains, which CPT reads", "nothing to sharpen"]),
    ((LO, HI), HI, (LO, HI),
     ["CPT(2F) did better, beyond the noise of seeds and eval items", "CPT(F) → RLP(F) fell to 0.317",
      "imitating the worked chains, which CPT reads token by token, beat reinforcing"],
     ["CPT(F) → RLP(F) did better", "rose to", "reinforcing the model's own thoughts beat"]),
    ((MID, MID), MID, (MID, MID),
     ["no difference beyond the noise of seeds and eval items", "no change beyond the noise of seeds and eval items"],
     ["did better", "rose to", "fell to", " beat "]),
])
def test_rlp_finding_reads_right_for_every_direction(b, b_start, a, want, never):
    words = " ".join(findings.finding("03_rlp_information_gain", _rlp_metrics(b, b_start, a)))
    for w in want:
        assert w in words, (w, words)
    for w in never:
        assert w not in words, (w, words)
    assert "Against the start RLP moved from" in words


def test_rlp_finding_without_headroom_or_seeds():
    m = _rlp_metrics((MID, MID), MID, (MID, MID), headroom=-0.1)
    assert "with no headroom at the start, RL had nothing to sharpen" in " ".join(findings.finding("03_x", m))
    one = {k: dict(v, n_a=1, n_b=1, ci_low=None, ci_high=None, a_beats_b=False, b_beats_a=False)
           if k.startswith("verdict") else v for k, v in _rlp_metrics((HI, LO), LO, (HI, LO)).items()}
    words = " ".join(findings.finding("03_x", one))
    assert "no verdict (needs >= 2 seeds per arm)" in words and "(no verdict: one seed)" in words
    assert "did better" not in words and " beat " not in words


def test_collapse_finding_when_few_models_answer_validly():
    m = _collapse_metrics("does not clearly change", [2.4, 2.0, 2.2], [2.3, 2.1, 2.25], [4.0, 4.4, 3.9], [4.1, 4.0, 4.2])
    for model in m["models"].values():
        model["percent_valid"] = 0.3
    words = " ".join(findings.finding("04_x", m))
    # nobody valid half the time: every model ranked by its valid answers, the share beside each, no list of junk
    assert ("At T=1.0, none of the 4 tiny models answers validly at least half the time; counting only valid answers, "
            "the most diverse is RLP (Vendi score 2.40 over its valid answers, 30% valid) and the least the raw-pile "
            "model") in words
    assert "All 4 models write a valid answer less than half the time" in words and "only 30% of the time" not in words
    m["models"]["rlp"]["percent_valid"] = 0.9
    assert "At T=1.0, only RLP (Vendi score 2.40" in " ".join(findings.finding("04_x", m))


# --- every direction a verdict can take reads right (05 and 06), by readable names -------------------------------
_WIN_A, _WIN_B, _TIE = ([0.40, 0.41, 0.42], [0.20, 0.21, 0.22]), ([0.20, 0.21, 0.22], [0.40, 0.41, 0.42]), \
    ([0.30, 0.20, 0.25], [0.26, 0.31, 0.21])
_IDENTIFIER = re.compile(r"\b(sft|spectrum|prismatic|uniform) (beats|did better)|\bbeats\b")


def _direction(case, names, metric, higher_is_better=True):
    a, b = case
    return _cmp(a, b, names, metric, higher_is_better=higher_is_better)


def test_spectrum_finding_reads_right_in_every_direction():
    for js_case, winner in ((_WIN_A, "plain SFT"), (_WIN_B, "spectrum tuning"), (_TIE, None)):
        # JS divergence: lower is better, so higher spectrum numbers (_WIN_A) are a win for plain SFT
        for steer_case, steer_winner in ((_WIN_A, "spectrum tuning"), (_WIN_B, "plain SFT"), (_TIE, None)):
            m = dict(SPECTRUM, steerability_bayes={"heldout": 0.124}, comparisons={
                "js_divergence": _direction(js_case, ("spectrum", "sft"), "JS divergence to the target", False),
                "steerability": _direction(steer_case, ("spectrum", "sft"), "steerability on held-out communities")})
            words = " ".join(findings.finding("06_spectrum_tuning", m))
            assert not _IDENTIFIER.search(words), words
            js = words.split("JS divergence to the target (lower is better): ")[1].split("On the same tasks")[0]
            steer = words.split("steerability on held-out communities (higher is better): ")[1].split("Of all")[0]
            for part, win in ((js, winner), (steer, steer_winner)):
                if win:
                    assert f"— {win} did better, beyond the seed spread" in part
                else:
                    assert "— no difference beyond the seed spread" in part and "did better" not in part.split(";")[0]
            tally = words.split("Of all 2 comparisons: ")[1]
            wins = [w for w in (winner, steer_winner) if w]
            for name in ("plain SFT", "spectrum tuning"):
                said = [w for w in wins if w == name]
                assert (f"{name} did better on" in tally) == bool(said), tally
            if not wins:
                assert tally.startswith("2 show no difference beyond the seed spread"), tally
            assert "a Bayes reader of the community prior reaches a steerability of 0.124" in words


def test_prismatic_finding_reads_right_in_every_direction():
    for case, winner in ((_WIN_A, "prismatic seeding"), (_WIN_B, "uniform seeding"), (_TIE, None)):
        m = dict(PRISMATIC, comparisons={
            "gvendi_independent": _direction(case, ("prismatic", "uniform"), "G-Vendi, independent judge"),
            "acc": _direction(case, ("prismatic", "uniform"), "held-out accuracy"),
            "acc_ood": _direction(case, ("prismatic", "uniform"), "accuracy OOD")})
        words = " ".join(findings.finding("05_prismatic_synthesis", m))
        assert not _IDENTIFIER.search(words), words
        loser = {"prismatic seeding": "uniform seeding", "uniform seeding": "prismatic seeding"}.get(winner)
        if winner:
            assert words.count(f"{winner} did better") == 3 and f"{loser} did better" not in words
        else:
            assert "did better" not in words and words.count("no difference beyond the seed spread") == 3


def test_prismatic_spearman_is_said_against_chance_and_the_regime():
    base = dict(PRISMATIC, mixes=[{"mix": str(i)} for i in range(8)], mix_seeds=2, base_accuracy={"all": 0.23})
    strong = " ".join(findings.finding("05_x", dict(base, mix_spearman_p=0.01, mixes_above_base=5)))
    assert "(permutation p = 0.010: a ranking better than chance) for G-Vendi" in strong
    assert "5 of 8 mixes end above the base student (23%)." in strong
    weak = " ".join(findings.finding("05_x", dict(base, mix_spearman_p=0.2, mixes_above_base=0)))
    assert "(permutation p = 0.200: not distinguishable from chance)" in weak and "better than chance" not in weak
    assert "0 of 8 mixes end above the base student (23%): no ranking of these mixes measures learning." in weak
    undefined = " ".join(findings.finding("05_x", dict(base, gvendi_accuracy_spearman=None, mix_spearman_p=float("nan"))))
    assert "undefined (one side constant)" in undefined and "chance" not in undefined

