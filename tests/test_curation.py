"""Curation stages: each catches what it is meant to, rejects bad input, and gives the same result
with num_proc=2 as with num_proc=1 and under datatrove's local executor."""
from __future__ import annotations

import collections
import random
import re
import statistics

import pytest
from datasets import Dataset

from slmlab.curation import (STAGES, CurationConfig, content_hash_batch, curate,
                             decontamination_batch, eval_ngram_index, eval_reference_texts,
                             exact_duplicate_reasons,
                             fit_quality_scorer, heuristic_batch, heuristic_reasons,
                             lsh_match_probability, minhash_batch, minhash_near_duplicates,
                             normalise_batch, quality_batch, stage_precision_recall,
                             verifier_batch, verify_solution)
from slmlab.leaks import LEAK_KINDS, leak_copy, number_leak_matches
from slmlab.problems import FAILURES, check_steps, make_problems, parse_answer, parse_document
from slmlab.raw_corpus import DefectRates, make_quality_examples, make_raw_corpus

CLEAN = ("Question: Mia has 23 apples. She buys 15 more apples. Then she gives 8 apples away. "
         "How many apples does Mia have now?\nAnswer: <think>23+15=38. 38-8=30.</think> 30")


@pytest.fixture(scope="module")
def eval_split():
    return make_problems(60, 0, "eval")


@pytest.fixture(scope="module")
def raw(eval_split):
    return make_raw_corpus(1500, 0, eval_split)


@pytest.fixture(scope="module")
def scorer():
    texts, labels = make_quality_examples(300, 0)
    return fit_quality_scorer(texts, labels, seed=0)


@pytest.fixture(scope="module")
def curated(raw, scorer, eval_split):
    return curate(raw, scorer, eval_reference_texts(eval_split))


# ---- the raw corpus ----------------------------------------------------------------------------
def test_raw_corpus_is_seeded_and_labelled(raw, eval_split):
    again = make_raw_corpus(1500, 0, eval_split)
    assert list(again["text"]) == list(raw["text"])
    assert list(make_raw_corpus(1500, 1, eval_split)["text"]) != list(raw["text"])
    counts = collections.Counter(raw["defect"])
    assert counts["wrong_solution"] == round(0.15 * 1500) and counts["contaminated"] == round(0.03 * 1500)
    rows = raw.to_list()
    for r in rows:  # every copy comes after its original and keeps its content
        if r["defect"] in ("exact_duplicate", "near_duplicate"):
            assert r["source"] < r["doc_id"] and rows[r["source"]]["defect"] == "clean"
        if r["defect"] == "exact_duplicate":
            assert r["text"] == rows[r["source"]]["text"]
    leaked = {r["source"] for r in rows if r["defect"] == "contaminated"}
    assert leaked <= set(range(len(eval_split)))


def test_raw_corpus_bad_input(eval_split):
    with pytest.raises(ValueError, match="n_docs"):
        make_raw_corpus(3, 0, eval_split)
    with pytest.raises(ValueError, match="eval_problems"):
        make_raw_corpus(100, 0, None)
    with pytest.raises(ValueError, match="wrong_solution"):
        DefectRates(wrong_solution=1.5)


def test_leaks_come_in_web_forms_and_keep_the_answer(eval_split):
    rng = random.Random(0)
    row = next(r for r in eval_split if r["n_steps"] == 3)
    copies = {kind: leak_copy(row, kind, rng) for kind in LEAK_KINDS}
    assert copies["verbatim"] == eval_reference_texts([row])[0]
    assert copies["worked"] == row["text"]
    assert copies["verbatim"] in copies["page"] and copies["page"].count("\n") >= 4
    assert row["question"] in copies["forum"] and str(row["answer"]) in copies["forum"]
    para = parse_document(copies["paraphrase"])
    # a paraphrase: other sentences, the same numbers in the same order, the same answer
    assert para["answer"] == row["answer"] and para["question"] != row["question"]
    assert re.findall(r"\d+", para["question"]) == re.findall(r"\d+", row["question"])
    assert not set(para["question"].split(". ")) & set(row["question"].split(". "))


def test_raw_corpus_leaks_every_kind_and_decontamination_misses_only_paraphrases(eval_split):
    pile = make_raw_corpus(1500, 0, eval_split, leak_share=0.1)
    rows = [r for r in pile.to_list() if r["defect"] == "contaminated"]
    assert {r["edit"] for r in rows} == set(LEAK_KINDS)
    by_problem = collections.defaultdict(list)
    for r in rows:  # a later copy is an exact duplicate exactly when its text was seen before
        dup = [d for d in r["defects"] if d != "contaminated"]
        assert dup == ([] if not by_problem[r["source"]] else
                       ["exact_duplicate" if r["text"] in by_problem[r["source"]] else "near_duplicate"])
        by_problem[r["source"]].append(r["text"])
    assert len(by_problem) == round(0.1 * len(eval_split))
    index = eval_ngram_index(eval_reference_texts(eval_split), 13)
    caught = decontamination_batch({"text": [r["text"] for r in rows]}, index)["decontamination_reason"]
    rate = {k: statistics.fmean(bool(c) for r, c in zip(rows, caught) if r["edit"] == k) for k in LEAK_KINDS}
    assert rate["paraphrase"] == 0.0
    assert all(rate[k] >= 0.8 for k in LEAK_KINDS if k != "paraphrase"), rate
    only = make_raw_corpus(1500, 0, eval_split, leak_share=0.1, leak_kinds=("verbatim",))
    assert {r["edit"] for r in only.to_list() if r["defect"] == "contaminated"} == {"verbatim"}


def test_number_matching_catches_every_leak_kind_paraphrases_included(eval_split):
    pile = make_raw_corpus(1500, 0, eval_split, leak_share=0.1)
    rows = pile.to_list()
    found = number_leak_matches([r["text"] for r in rows], eval_split)
    leaked = [(r, f) for r, f in zip(rows, found) if r["defect"] == "contaminated"]
    assert {r["edit"] for r, _ in leaked} == set(LEAK_KINDS)
    assert all(f == r["source"] for r, f in leaked)  # each copy, to the problem it copies
    others = [f for r, f in zip(rows, found) if r["defect"] != "contaminated"]
    assert sum(f >= 0 for f in others) <= 0.01 * len(others)


def test_number_matching_wants_the_whole_question_then_the_answer():
    q = "Mia has 8 apples. She gives 2 apples away. How many apples does Mia have now?"
    problem = {"question": q, "answer": 6, "steps": "8-2=6."}
    hit = [f"Question: {q}\nAnswer: 6",
           f"Question: {q}\nAnswer: <think>8-2=6.</think> 6",  # the steps are left out, or 8 would come next
           f"Home | Grade 3 | Answers\nMathHub: practice problem 12\nQuestion: {q}\nAnswer: 6\n© 2020 MathHub.",
           f"Can someone check this one? {q} I got 6.\nReply: yes, 6 is right.",
           "At first Mia owns 8 apples. Next, Mia drops 2 apples on the way home. Find the number of apples "
           "Mia ends up with.\nAnswer: <think>8-2=6.</think> 6"]
    miss = [f"Question: {q}\nAnswer: 7",                            # another answer
            "Question: Mia has 8 apples. She gives 2 apples away.",  # no answer
            "Question: Leo has 8 cards. He loses 2 cards. Each card becomes 6 cards. How many?\nAnswer: 36",
            "Question: Leo has 1 card. It turns into 8 cards. He loses 2 cards. How many cards now?\nAnswer: 6",
            "Question: Leo has 4 cards. He gets 4 more. He loses 2. How many?\nAnswer: <think>4+4=8. 8-2=6.</think> 6"]
    assert number_leak_matches(hit, [problem]) == [0] * len(hit)
    assert number_leak_matches(miss, [problem]) == [-1] * len(miss)
    other = {"question": "Leo has 5 cards. He gets 3 more. How many?", "answer": 8}
    assert number_leak_matches(hit[:1], [other, problem, dict(problem)]) == [1]  # the first row that matches


# ---- stages one by one ----------------------------------------------------------------------
def test_normalise_collapses_spacing_and_reports_changes():
    out = normalise_batch({"text": ["a  b\u00a0c\t d \n\n e ", "plain text"]})
    assert out["text"] == ["a b c d\ne", "plain text"]
    assert out["normalise_changed"] == [True, False]
    assert normalise_batch({"text": ["ﬁve"]})["text"] == ["five"]  # NFKC unfolds the ligature


def test_heuristics_pass_clean_and_catch_junk(raw):
    assert heuristic_reasons(CLEAN) == []
    assert "stop_words" in heuristic_reasons("qzx vbnm lkjh trew pqowiu zmxncb asdf ghjk poiu lkjhg.")
    assert "incomplete" in heuristic_reasons(CLEAN[:-20])
    nav = "Home | Blog | Contact\nLogin\nSign up\nCart\nAccept all cookies\n© 2024 Co. All rights reserved."
    assert "short_lines" in heuristic_reasons(nav)
    rows = raw.to_list()
    clean = [r["text"] for r in rows if r["defect"] == "clean"][:300]
    assert all(r == "" for r in heuristic_batch({"text": clean})["heuristics_reason"])
    truncated = [r["text"] for r in rows if r["defect"] == "truncated"]
    flagged = heuristic_batch({"text": truncated})["heuristics_reason"]
    assert sum(bool(r) for r in flagged) >= 0.95 * len(truncated)
    # Boilerplate written in full sentences slips past some rules; the learned scorer is for those.
    boiler = [r["text"] for r in rows if r["defect"] == "boilerplate"]
    assert sum(bool(r) for r in heuristic_batch({"text": boiler})["heuristics_reason"]) >= 0.5 * len(boiler)


def test_exact_dedup_keeps_the_first():
    hashes = content_hash_batch({"text": ["a", "b", "a", "a"]})["content_hash"]
    assert exact_duplicate_reasons(hashes, ["x", "y", "z", "w"]) == ["", "", "copy of x", "copy of x"]


def test_near_dedup_finds_small_edits_not_other_problems():
    renamed = CLEAN.replace("Mia", "Zoe")
    dropped = CLEAN.replace("Then she gives", "She gives")
    other = CLEAN.replace("23", "41").replace("38", "56").replace("30", "48")
    sigs = minhash_batch({"text": [CLEAN, renamed, dropped, other]})["minhash"]
    assert len(sigs[0]) == 112
    assert minhash_near_duplicates(sigs) == ["", "near copy of 0", "near copy of 0", ""]
    assert lsh_match_probability(0.685) == pytest.approx(0.5, abs=0.02)  # FineWeb S-curve


def test_quality_scorer_separates_spam_from_problems(scorer):
    spam = ["Buy cheap apples online today! Best prices on apples, free shipping on every order. "
            "Order now and save big."]
    out = quality_batch({"text": [CLEAN] + spam}, scorer)
    assert out["quality_score"][0] > 0.5 > out["quality_score"][1]
    assert out["quality_reason"][0] == "" and out["quality_reason"][1].startswith("score")
    with pytest.raises(ValueError, match="labels"):
        fit_quality_scorer(["a", "b"], [1, 1])
    with pytest.raises(ValueError, match="scorer"):
        quality_batch({"text": [CLEAN]}, scorer=None)


def test_verifier_recomputes_solutions():
    assert verify_solution(CLEAN) == ""
    assert verify_solution(CLEAN.replace("38-8=30", "38-8=31")) == "wrong_arithmetic"
    assert verify_solution(CLEAN.replace("</think> 30", "</think> 32")) == "wrong_final_answer"
    misread = CLEAN.replace("23+15=38. 38-8=30.</think> 30", "23+16=39. 39-8=31.</think> 31")
    assert check_steps("23+16=39. 39-8=31.")  # the arithmetic alone looks fine ...
    assert verify_solution(misread) == "misread_number"  # ... but 16 is not in the question
    assert verify_solution("Question: Mia has 3 apples. How many now?\nAnswer: 3") == ""  # nothing to check
    assert verify_solution(CLEAN.replace("23+15=38. 38-8=30.", "")) == "no_steps"
    assert verifier_batch({"text": [CLEAN, "no solution here"]})["verifier_reason"] == ["", ""]


def test_verifier_and_the_raw_pile_name_failures_alike(raw):
    """The pile labels each wrong solution with the failure it planted, in the verifier's vocabulary.
    They agree, except where a misread operand makes a later division inexact: the verifier then
    stops at the first failure it meets, that step's arithmetic."""
    wrong = [r for r in raw if r["defect"] == "wrong_solution"]
    for row in wrong:
        reason = verify_solution(row["text"])
        assert row["edit"] in FAILURES
        assert reason == row["edit"] or (row["edit"], reason) == ("misread_number", "wrong_arithmetic"), row["text"]
    agree = sum(verify_solution(r["text"]) == r["edit"] for r in wrong)
    assert agree >= 0.95 * len(wrong)


def test_verifier_agrees_with_the_corpus_answers():
    for row in make_problems(200, 3, "train", direct_share=0.0):
        assert verify_solution(row["text"]) == ""
        assert parse_answer(row["text"].split("\nAnswer: ", 1)[1]) == row["answer"]


def test_decontamination_flags_eval_copies_only(eval_split):
    refs = eval_reference_texts(eval_split)
    assert refs[0] == f"Question: {eval_split[0]['question']}\nAnswer: {eval_split[0]['answer']}"
    index = eval_ngram_index(refs, n=13)
    long_ones = [r for r in eval_split if len(r["question"].split()) >= 20]
    leaked = [long_ones[0]["text"], eval_reference_texts([long_ones[1]])[0]]  # worked and bare Q/A
    clean = make_problems(200, 0, "train")["text"]
    out = decontamination_batch({"text": leaked + list(clean)}, index, n=13)["decontamination_reason"]
    assert out[0].startswith("eval 13-gram") and out[1].startswith("eval 13-gram")
    assert sum(bool(r) for r in out[2:]) <= 10  # template collisions are possible, but rare
    with pytest.raises(ValueError, match="eval_texts"):
        eval_ngram_index([])
    with pytest.raises(ValueError, match="question"):
        eval_reference_texts([{"text": "x"}])


# ---- bad input ----------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [normalise_batch, heuristic_batch, content_hash_batch, minhash_batch,
                                verifier_batch])
def test_batch_functions_reject_bad_batches(fn):
    with pytest.raises(ValueError, match="text_column"):
        fn({"content": ["a"]})
    with pytest.raises(ValueError, match="strings"):
        fn({"text": ["fine", 3]})


def test_curate_rejects_bad_datasets(scorer, eval_split):
    ev = eval_reference_texts(eval_split)
    with pytest.raises(ValueError, match="empty"):
        curate(Dataset.from_dict({"text": []}), scorer, ev)
    with pytest.raises(ValueError, match="text_column"):
        curate(Dataset.from_dict({"body": ["a b c"]}), scorer, ev)
    with pytest.raises(ValueError, match="strings"):
        curate(Dataset.from_dict({"text": [1, 2]}), scorer, ev)
    with pytest.raises(ValueError, match="None"):
        curate(Dataset.from_dict({"text": ["a", None]}), scorer, ev)
    with pytest.raises(ValueError, match="scorer"):
        curate(Dataset.from_dict({"text": ["a"]}), None, ev)
    with pytest.raises(ValueError, match="num_proc"):
        curate(Dataset.from_dict({"text": ["a"]}), scorer, ev, num_proc=0)
    with pytest.raises(ValueError, match="stages"):
        CurationConfig(stages=("normalise", "magic"))


# ---- the whole pipeline -------------------------------------------------------------------
def test_curate_reports_every_stage_and_meets_the_targets(curated, raw):
    assert [r["stage"] for r in curated.report] == list(STAGES)
    assert len(curated.annotated) == len(raw)
    removed = sum(r["n_removed"] for r in curated.report)
    assert len(curated.kept) == len(raw) - removed
    assert set(curated.kept["doc_id"]) == {d for d, r in zip(curated.annotated["doc_id"],
                                                             curated.annotated["removed_by"]) if r == ""}
    pr = stage_precision_recall(curated.annotated)
    assert pr["verifier"]["recall"] >= 0.95 and pr["verifier"]["precision"] >= 0.95
    assert pr["near_dedup"]["precision"] >= 0.9 and pr["near_dedup"]["recall"] >= 0.8
    assert pr["exact_dedup"]["precision"] == 1.0
    assert pr["decontamination"]["recall"] >= 0.8
    kept = collections.Counter(d for d, r in zip(curated.annotated["defect"], curated.annotated["removed_by"])
                               if r == "")
    assert kept["clean"] >= 0.9 * sum(kept.values())


def test_num_proc_two_matches_one(raw, scorer, eval_split, curated):
    two = curate(raw, scorer, eval_reference_texts(eval_split), num_proc=2)
    assert list(two.kept["doc_id"]) == list(curated.kept["doc_id"])
    assert list(two.annotated["reason"]) == list(curated.annotated["reason"])


def test_precision_recall_needs_labels(curated):
    with pytest.raises(ValueError, match="defects"):
        stage_precision_recall(curated.annotated.remove_columns("defects"))


def test_datatrove_pipeline_keeps_the_same_set(tmp_path, raw, scorer, eval_split, curated, capfd):
    from slmlab.curation_datatrove import run_datatrove_curation
    kept = run_datatrove_curation(raw, tmp_path, scorer, eval_reference_texts(eval_split), tasks=2)
    assert kept == sorted(curated.kept["doc_id"])
    assert len(list((tmp_path / "fingerprints").glob("*.jsonl"))) == 2  # two tasks, two shards
    # datatrove's console logs (about 130 lines with colour codes, unsilenced) stay in its log files; the
    # worker processes write to the fd captured here (the forkserver starts in this test, the only datatrove run)
    out, err = capfd.readouterr()
    assert len((out + err).splitlines()) <= 2, (out + err)[-2000:]
    assert list((tmp_path / "logs" / "3_filter" / "logs").glob("task_*.log")), "the log files keep the logs"
