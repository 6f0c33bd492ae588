import pytest

from slmlab import problems, sampling


def test_same_seed_same_samples_and_greedy_is_deterministic(tiny):
    model, tok = tiny
    prompts = [f"Question: {p}{problems.ANSWER_PREFIX}" for p in ("Name a fruit.", "Name a color.")] * 4
    a = sampling.sample(model, tok, prompts, temperature=1.0, seed=3, max_new_tokens=6)
    b = sampling.sample(model, tok, prompts, temperature=1.0, seed=3, max_new_tokens=6)
    c = sampling.sample(model, tok, prompts, temperature=1.0, seed=4, max_new_tokens=6)
    assert a == b and a != c
    g1 = sampling.sample(model, tok, prompts[:2], temperature=0, seed=1, max_new_tokens=6)
    g2 = sampling.sample(model, tok, prompts[:2], temperature=0, seed=2, max_new_tokens=6)
    assert g1 == g2


def test_batching_does_not_change_greedy_output(tiny, small_corpus):
    model, tok = tiny
    prompts = small_corpus["eval"]["prompt"][:6]
    whole = sampling.sample(model, tok, list(prompts), temperature=0, max_new_tokens=40, batch_size=6)
    one_by_one = sampling.sample(model, tok, list(prompts), temperature=0, max_new_tokens=40, batch_size=1)
    assert whole == one_by_one


def test_answer_directly_never_thinks(tiny, small_corpus):
    model, tok = tiny
    outs = sampling.sample(model, tok, list(small_corpus["eval"]["prompt"][:8]), temperature=1.0,
                           max_new_tokens=10, allow_thinking=False)
    assert not any("<think>" in o for o in outs)


def test_bad_input(tiny):
    model, tok = tiny
    with pytest.raises(ValueError, match="prompts"):
        sampling.sample(model, tok, "a string")
    with pytest.raises(ValueError, match="prompts"):
        sampling.sample(model, tok, [])
    with pytest.raises(ValueError, match="temperature"):
        sampling.sample(model, tok, ["x"], temperature=-1)
    with pytest.raises(ValueError, match="top_p"):
        sampling.sample(model, tok, ["x"], top_p=0)
