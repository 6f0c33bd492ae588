import hashlib
import json
import random

import pytest

from slmlab import open_ended, problems


def test_same_seed_same_problems_other_seed_other_problems():
    a = problems.make_problems(50, seed=1)
    b = problems.make_problems(50, seed=1)
    c = problems.make_problems(50, seed=2)
    assert a.to_list() == b.to_list()
    assert a["text"] != c["text"]


def test_splits_never_share_a_problem():
    s = problems.make_splits(2000, 200, seed=0)
    assert not set(s["train"]["key"]) & set(s["eval"]["key"])
    assert not set(s["train"]["question"]) & set(s["eval"]["question"])
    assert len(set(s["train"]["key"])) == 2000


def test_every_worked_solution_is_correct_and_formats_share_the_prefix():
    s = problems.make_problems(500, seed=3, direct_share=0.3)
    for r in s:
        assert problems.check_steps(r["steps"])
        assert r["text"].startswith(r["prompt"])
        completion = r["text"][len(r["prompt"]):]
        assert problems.parse_answer(completion) == r["answer"]
        assert ("<think>" in completion) == r["with_steps"]
    share = 1 - sum(s["with_steps"]) / len(s)
    assert 0.2 < share < 0.4
    assert set(s["n_steps"]) == {1, 2, 3, 4}


def test_config_controls_steps_and_ranges():
    cfg = problems.ProblemConfig(min_steps=2, max_steps=3, max_value=20, max_result=60, ops=("add", "sub"))
    s = problems.make_problems(100, seed=0, cfg=cfg)
    assert set(s["n_steps"]) == {2, 3}
    assert all(0 < a <= 60 for a in s["answer"])
    assert all("*" not in st and "/" not in st for st in s["steps"])
    p = problems.make_problem(random.Random(0), 4)
    assert p["n_steps"] == 4 and len(p["ops"]) == 4


def test_check_steps_catches_wrong_arithmetic_and_broken_chains():
    assert problems.check_steps("3+4=7. 7*2=14.")
    assert not problems.check_steps("3+4=8.")
    assert not problems.check_steps("3+4=7. 6*2=12.")
    assert not problems.check_steps("7/2=3.")
    assert not problems.check_steps("no steps here")


def test_parse_answer():
    assert problems.parse_answer("<think>1+2=3.</think> 3") == 3
    assert problems.parse_answer(" 42") == 42
    assert problems.parse_answer("<think>1+2=3.") is None
    assert problems.parse_answer("banana") is None


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="n=0"):
        problems.make_problems(0, seed=0)
    with pytest.raises(ValueError, match="split='test'"):
        problems.make_problems(5, seed=0, split="test")
    with pytest.raises(ValueError, match="ops"):
        problems.ProblemConfig(ops=("pow",))
    with pytest.raises(ValueError, match="min_steps"):
        problems.ProblemConfig(min_steps=3, max_steps=2)
    with pytest.raises(ValueError, match="max_factor"):
        problems.ProblemConfig(max_factor=1)
    with pytest.raises(ValueError, match="ProblemConfig.max_value"):
        problems.ProblemConfig(max_value=float("nan"))
    with pytest.raises(ValueError, match="eval_share"):
        problems.make_problems(5, seed=0, eval_share=1.5)
    with pytest.raises(ValueError, match="cfg"):
        problems.make_problems(5, seed=0, cfg={"max_steps": 2})
    with pytest.raises(ValueError, match="n_steps"):
        problems.make_problem(random.Random(0), 0)
    with pytest.raises(ValueError, match="op="):
        problems.apply_operation("pow", 2, 3)
    with pytest.raises(ValueError, match="n=-1"):
        open_ended.open_ended_documents(-1, seed=0)


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(split="eval", eval_share=0.0), "eval_share=0.0"),         # the eval split can never fill
    (dict(split="train", eval_share=1.0), "eval_share=1.0"),        # nor can train
    (dict(split="eval", eval_share=1e-12), "eval_share=1e-12"),     # possible in principle, never in practice
])
def test_impossible_split_is_refused_not_looped(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        problems.make_problems(5, seed=0, **kwargs)


def test_impossible_operand_setting_is_refused_not_looped():
    # subtracting from at most 3 items: no chain of 4 steps exists
    cfg = problems.ProblemConfig(min_steps=4, max_steps=4, max_value=3, max_result=3, ops=("sub",))
    with pytest.raises(ValueError, match="ops=\\('sub',\\), max_value=3"):
        problems.make_problem(random.Random(0), 4, cfg)
    with pytest.raises(ValueError, match="n_steps=4"):
        problems.make_problems(3, seed=0, cfg=cfg)
    # a space with fewer distinct problems than asked for
    small = problems.ProblemConfig(min_steps=1, max_steps=1, max_value=2, max_result=4, ops=("add",))
    with pytest.raises(ValueError, match="could not draw n=50"):
        problems.make_problems(50, seed=0, cfg=small)


def test_open_ended_prompts_have_several_answers():
    p = open_ended.open_ended_prompts()
    assert len(p) >= 10 and {"list", "number", "creative", "opinion"} <= set(p["type"])
    assert all(len(a) >= 4 for a in p["answers"])
    assert all(abs(sum(w) - 1) < 1e-9 for w in p["weights"])
    docs = open_ended.open_ended_documents(200, seed=0)
    assert docs == open_ended.open_ended_documents(200, seed=0) and len(set(docs)) > 20


def _fingerprint(x) -> str:
    return hashlib.sha256(json.dumps(x, sort_keys=True).encode()).hexdigest()[:16]


def test_same_seed_same_data_as_before_the_grammar_moved():
    """Fingerprints computed with slmlab/corpus.py before problems.py replaced it (same procedure):
    the same seed must keep giving the same problems, raw pile and open-ended documents."""
    from slmlab.raw_corpus import make_quality_examples, make_raw_corpus
    assert _fingerprint(problems.make_problems(50, seed=0).to_list()) == "8edf2599fbf51df0"
    assert _fingerprint(problems.make_problems(50, seed=0, split="eval").to_list()) == "b249e14b89ad6c87"
    s = problems.make_splits(300, 60, seed=7)
    assert _fingerprint([s["train"].to_list(), s["eval"].to_list()]) == "f783d14ecbda0aaa"
    harder = problems.make_problems(40, seed=2, split="eval", cfg=problems.HARDER, direct_share=0.5)
    assert _fingerprint(harder.to_list()) == "53e3f64cfd22748c"
    cfg = problems.ProblemConfig(min_steps=2, max_steps=3, max_value=20, max_result=60, ops=("add", "sub"))
    assert _fingerprint(problems.make_problems(60, seed=1, cfg=cfg).to_list()) == "135ae42287045578"
    assert _fingerprint([problems.make_problem(random.Random(i), 1 + i % 4) for i in range(50)]) == "241de9bd648199f1"
    pile = make_raw_corpus(300, seed=0, eval_problems=problems.make_problems(40, seed=0, split="eval")).to_list()
    # contaminated copies became web-like leak kinds (slmlab.leaks); the other documents are unchanged:
    assert _fingerprint([{k: v for k, v in r.items() if k not in ("edit", "doc_id", "source")} for r in pile
                         if r["defect"] != "contaminated"]) == "f66135f59afeca33"
    assert _fingerprint([{k: v for k, v in r.items() if k != "edit"} for r in pile]) == "e9460aed3ba44db6"
    # the wrong-solution labels were arithmetic/final_answer/misread; they are now FAILURES' names
    assert _fingerprint([r["edit"] for r in pile]) == "d7d2bcfc686a6d84"
    assert _fingerprint(make_quality_examples(60, 0)) == "c5ed0eadbfd3b7ed"
    assert _fingerprint(open_ended.open_ended_documents(100, 0)) == "50299e426b744c4d"
    assert _fingerprint(open_ended.open_ended_prompts().to_list()) == "e0afe68afefe17ce"


def test_parse_document_reads_what_format_document_writes():
    rng = random.Random(2)
    for _ in range(50):
        p = problems.make_problem(rng, rng.randint(1, 4))
        assert problems.parse_document(problems.format_document(p)) == {
            "question": p["question"], "steps": p["steps"], "answer": p["answer"]}
        assert problems.parse_document(problems.format_document(p, with_steps=False)) == {
            "question": p["question"], "steps": None, "answer": p["answer"]}
        assert problems.parse_steps(p["steps"]) == [
            (a, problems.SYMBOL[op], b, problems.apply_operation(op, a, b))
            for a, op, b in zip([p["start"]] + [int(s.split("=")[1].rstrip(".")) for s in p["steps"].split()][:-1],
                                p["ops"], p["operands"])]
    assert problems.parse_document("Mia has 3 apples.") is None
    assert problems.parse_document(None) is None


def test_verify_names_each_failure_from_the_one_vocabulary():
    p = problems.make_problem(random.Random(4), 2)
    q, steps, ans = p["question"], p["steps"], p["answer"]
    a, rest = steps.split("=", 1)
    wrong = a + "=" + str(int(rest.split(".")[0]) + 1) + "." + rest.split(".", 1)[1]
    cases = {
        "unparseable": None,
        "no_steps": {"question": q, "steps": None, "answer": ans},
        "wrong_arithmetic": {"question": q, "steps": wrong, "answer": ans},
        "wrong_final_answer": {"question": q, "steps": steps, "answer": ans + 1},
        "question_unreadable": {"question": "Write me a poem. Please? Now.", "steps": steps, "answer": ans},
        "impossible_operation": {"question": "Mia has 10 apples. She splits the apples into 3 equal groups and "
                                             "keeps one group. How many apples now?", "steps": "10-1=9. 9/3=3.",
                                 "answer": 3},
        "inconsistent_entities": {"question": "Mia has 10 apples. She buys 5 more apples. Mia sells 3 rocks. "
                                              "How many apples does Mia have now?", "steps": "10+5=15. 15-3=12.",
                                  "answer": 12},
        "question_mismatch": {"question": problems.make_problem(random.Random(5), 2)["question"], "steps": steps,
                              "answer": ans},
    }
    for name, problem in cases.items():
        assert problems.verify(problem) == name
    free = {"question": "A farm has 12 cows and buys 5 more. How many?", "steps": "12+5=17.", "answer": 17}
    assert problems.verify(free, strict=False) == ""
    assert problems.verify({**free, "steps": "12+6=18.", "answer": 18}, strict=False) == "misread_number"
    assert set(cases) | {"misread_number"} == set(problems.FAILURES)
    assert problems.verify({"question": q, "steps": steps, "answer": ans}) == ""


def test_write_question_rewords_an_exercise_the_verifier_still_reads():
    """A problem's own question is write_question of its chain; another wording of the same chain
    recomputes to the same answer, and the strict verifier accepts it with the original steps."""
    rng = random.Random(3)
    for _ in range(30):
        p = problems.make_problem(rng, rng.randint(1, 4))
        again = problems.write_question(p["start"], p["ops"], p["operands"], "Leo", "cards", rng.choice)
        assert problems.recompute_question(again)["answer"] == p["answer"]
        assert problems.verify({**p, "question": again}) == ""
    first = problems.write_question(5, ["add"], [3], "Mia", "apples")
    assert first == "Mia has 5 apples. She buys 3 more apples. How many apples does Mia have now?"


def test_fits_tells_a_problem_s_distribution():
    small, hard = problems.ProblemConfig(), problems.HARDER
    drawn = problems.make_problems(200, seed=3, cfg=hard)
    assert all(problems.fits(q, hard) for q in drawn["question"])      # every draw fits its own config
    inside = [problems.fits(q, small) for q in drawn["question"]]
    assert 0 < sum(inside) < len(inside)                               # HARDER reaches past the small ranges
    assert all(problems.fits(q, hard) for q in problems.make_problems(100, seed=3, cfg=small)["question"])
    q = "Mia has 40 apples. She buys 30 more apples. How many apples now?"
    assert problems.fits(q, problems.ProblemConfig(max_value=50, max_result=70))
    assert not problems.fits(q, problems.ProblemConfig(max_value=50, max_result=69))   # result 70 too big
    assert not problems.fits(q, problems.ProblemConfig(max_value=35, max_result=200))  # start 40 too big
    assert not problems.fits(q, problems.ProblemConfig(min_steps=2))                   # one step only
    assert not problems.fits(q, problems.ProblemConfig(ops=("sub", "mul", "div")))      # adds
    m = "Mia has 4 apples. She multiplies the apples by 8. How many apples now?"
    assert not problems.fits(m, problems.ProblemConfig()) and problems.fits(m, problems.ProblemConfig(max_factor=8))
