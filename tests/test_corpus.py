import random

import pytest

from slmlab import corpus


def test_same_seed_same_problems_other_seed_other_problems():
    a = corpus.make_problems(50, seed=1)
    b = corpus.make_problems(50, seed=1)
    c = corpus.make_problems(50, seed=2)
    assert a.to_list() == b.to_list()
    assert a["text"] != c["text"]


def test_splits_never_share_a_problem():
    s = corpus.make_splits(2000, 200, seed=0)
    assert not set(s["train"]["key"]) & set(s["eval"]["key"])
    assert not set(s["train"]["question"]) & set(s["eval"]["question"])
    assert len(set(s["train"]["key"])) == 2000


def test_every_worked_solution_is_correct_and_formats_share_the_prefix():
    s = corpus.make_problems(500, seed=3, direct_share=0.3)
    for r in s:
        assert corpus.check_steps(r["steps"])
        assert r["text"].startswith(r["prompt"])
        completion = r["text"][len(r["prompt"]):]
        assert corpus.parse_answer(completion) == r["answer"]
        assert ("<think>" in completion) == r["with_steps"]
    share = 1 - sum(s["with_steps"]) / len(s)
    assert 0.2 < share < 0.4
    assert set(s["n_steps"]) == {1, 2, 3, 4}


def test_config_controls_steps_and_ranges():
    cfg = corpus.ProblemConfig(min_steps=2, max_steps=3, max_value=20, max_result=60, ops=("add", "sub"))
    s = corpus.make_problems(100, seed=0, cfg=cfg)
    assert set(s["n_steps"]) == {2, 3}
    assert all(0 < a <= 60 for a in s["answer"])
    assert all("*" not in st and "/" not in st for st in s["steps"])
    p = corpus.make_problem(random.Random(0), 4)
    assert p["n_steps"] == 4 and len(p["ops"]) == 4


def test_check_steps_catches_wrong_arithmetic_and_broken_chains():
    assert corpus.check_steps("3+4=7. 7*2=14.")
    assert not corpus.check_steps("3+4=8.")
    assert not corpus.check_steps("3+4=7. 6*2=12.")
    assert not corpus.check_steps("7/2=3.")
    assert not corpus.check_steps("no steps here")


def test_parse_answer():
    assert corpus.parse_answer("<think>1+2=3.</think> 3") == 3
    assert corpus.parse_answer(" 42") == 42
    assert corpus.parse_answer("<think>1+2=3.") is None
    assert corpus.parse_answer("banana") is None


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="n=0"):
        corpus.make_problems(0, seed=0)
    with pytest.raises(ValueError, match="split='test'"):
        corpus.make_problems(5, seed=0, split="test")
    with pytest.raises(ValueError, match="ops"):
        corpus.ProblemConfig(ops=("pow",))
    with pytest.raises(ValueError, match="min_steps"):
        corpus.ProblemConfig(min_steps=3, max_steps=2)


def test_open_ended_prompts_have_several_answers():
    p = corpus.open_ended_prompts()
    assert len(p) >= 10 and {"list", "number", "creative", "opinion"} <= set(p["type"])
    assert all(len(a) >= 4 for a in p["answers"])
    assert all(abs(sum(w) - 1) < 1e-9 for w in p["weights"])
    docs = corpus.open_ended_documents(200, seed=0)
    assert docs == corpus.open_ended_documents(200, seed=0) and len(set(docs)) > 20
