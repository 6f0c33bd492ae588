"""Teacher-forced continuation scoring: equals a plain one-sequence forward pass, whatever the batch,
the batch size or the tokenizer's padding side; refuses what it cannot score."""
import pytest
import torch

from slmlab.scoring import ContinuationScores, continuation_logprobs, masked_token_logprobs

PREFIXES = ["Question: Mia has 3 apples. She buys 4 more apples. How many apples now?\nAnswer: ",
            "Question: Name a fruit.\nAnswer: ",
            "",
            "Question: Leo has 12 cards. He loses 5 of them. How many cards now?\nAnswer: <think>"]
CONTINUATIONS = ["<think>3+4=7.</think> 7", "banana", "Question: Name a color.\nAnswer: red", "12-5=7.</think> 7"]


@torch.no_grad()
def plain_logprobs(model, tok, prefix, continuation):
    """The definition, one sequence at a time: log_softmax of the full vocabulary, no padding."""
    pre = tok(prefix, add_special_tokens=True)["input_ids"]
    cont = tok(continuation, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([pre + cont])
    logp = torch.log_softmax(model(input_ids=ids).logits[0].float(), -1)
    return torch.stack([logp[len(pre) + j - 1, t] for j, t in enumerate(cont)])


def test_agrees_with_a_plain_forward_pass(tiny):
    model, tok = tiny
    for batch_size in (1, 3, 64):
        got = continuation_logprobs(model, tok, PREFIXES, CONTINUATIONS, batch_size=batch_size)
        assert isinstance(got, ContinuationScores)
        for i, (p, c) in enumerate(zip(PREFIXES, CONTINUATIONS)):
            want = plain_logprobs(model, tok, p, c)
            assert int(got.counts[i]) == len(want)
            torch.testing.assert_close(got.token_logprobs[i], want, atol=1e-5, rtol=0)
            assert abs(float(got.sums[i]) - float(want.sum())) < 1e-5
    want_mean = sum(float(plain_logprobs(model, tok, p, c).sum()) for p, c in zip(PREFIXES, CONTINUATIONS)) / \
        int(got.counts.sum())
    assert abs(got.mean_per_token() - want_mean) < 1e-5


def test_padding_side_and_token_ids_do_not_change_results(tiny):
    model, tok = tiny
    side = tok.padding_side
    try:
        tok.padding_side = "right"
        right = continuation_logprobs(model, tok, PREFIXES, CONTINUATIONS)
        tok.padding_side = "left"
        left = continuation_logprobs(model, tok, PREFIXES, CONTINUATIONS)
    finally:
        tok.padding_side = side
    torch.testing.assert_close(left.sums, right.sums, atol=0, rtol=0)
    pre = [tok(p)["input_ids"] for p in PREFIXES]
    cont = [tok(c, add_special_tokens=False)["input_ids"] for c in CONTINUATIONS]
    by_ids = continuation_logprobs(model, None, pre, cont)
    torch.testing.assert_close(by_ids.sums, right.sums, atol=0, rtol=0)


def test_empty_continuation_scores_nothing(tiny):
    model, tok = tiny
    got = continuation_logprobs(model, tok, ["Question: Name a fruit.\nAnswer: "] * 2, ["", "apple"])
    assert int(got.counts[0]) == 0 and float(got.sums[0]) == 0.0 and int(got.counts[1]) >= 1
    with pytest.raises(ValueError, match="no continuation token"):
        continuation_logprobs(model, tok, ["Question: x"], [""]).mean_per_token()


def test_strings_need_the_tokenizer(tiny):
    model, _ = tiny
    with pytest.raises(ValueError, match="pass the tokenizer"):
        continuation_logprobs(model, None, ["a"], ["b"])


def test_masked_tokens_need_not_be_contiguous(tiny):
    """Two answers in one document: the masked scorer reads each answer's tokens after everything
    before it, as a plain forward pass does, and marks which are the model's top token."""
    model, tok = tiny
    first = tok(PREFIXES[0], add_special_tokens=True)["input_ids"]
    a = tok(CONTINUATIONS[0], add_special_tokens=False)["input_ids"]
    second = tok("\nQuestion: Name a fruit.\nAnswer: ", add_special_tokens=False)["input_ids"]
    b = tok("banana", add_special_tokens=False)["input_ids"]
    ids = first + a + second + b
    mask = [False] * len(first) + [True] * len(a) + [False] * len(second) + [True] * len(b)
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0].float()
    logp = torch.log_softmax(logits, -1)
    want = torch.stack([logp[j - 1, ids[j]] for j in range(1, len(ids)) if mask[j]])
    want_hit = torch.tensor([bool(logits[j - 1].argmax() == ids[j]) for j in range(1, len(ids)) if mask[j]])
    for batch_size in (1, 2):
        (got, hit), (short, _) = masked_token_logprobs(model, [ids, first + a], [mask, mask[:len(first + a)]],
                                                       batch_size=batch_size)
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
        assert torch.equal(hit, want_hit)
        torch.testing.assert_close(short, want[:len(a)], atol=1e-5, rtol=0)


def test_masks_must_match_their_sequences(tiny):
    model, _ = tiny
    with pytest.raises(ValueError, match="masks"):
        masked_token_logprobs(model, [[1, 2, 3]], [[False, True]])
    with pytest.raises(ValueError, match="same length"):
        masked_token_logprobs(model, [[1, 2, 3]], [])
