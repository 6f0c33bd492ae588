import pytest

from slmlab import problems, evaluation


def test_embedded_model_meets_its_card_floor(tiny):
    model, tok = tiny
    ev = problems.make_problems(40, seed=0, split="eval", cfg=problems.ProblemConfig(max_steps=2))
    res = evaluation.answer_accuracy(model, tok, ev, with_steps=True)
    assert res["by_steps"][1] >= 0.9 and res["by_steps"][2] >= 0.75
    direct = evaluation.answer_accuracy(model, tok, ev, with_steps=False, max_new_tokens=8)
    assert direct["accuracy"] < res["accuracy"]
    assert len(res["completions"]) == 40 and set(res["by_steps"]) == {1, 2}


def test_losses_and_logprobs(tiny, small_corpus):
    model, tok = tiny
    ev = small_corpus["eval"]
    assert 0 < evaluation.token_loss(model, tok, ev["text"]) < 2
    with_steps = evaluation.answer_logprob(model, tok, ev, with_steps=True)
    direct = evaluation.answer_logprob(model, tok, ev, with_steps=False)
    assert direct < with_steps <= 0


def test_wrong_answers_are_scored_wrong(tiny, small_corpus):
    model, tok = tiny
    rows = small_corpus["eval"].select(range(8)).to_list()
    for r in rows:
        r["answer"] += 1
    assert evaluation.answer_accuracy(model, tok, rows)["accuracy"] <= 0.25


def test_bad_input(tiny):
    model, tok = tiny
    with pytest.raises(ValueError, match="empty"):
        evaluation.answer_accuracy(model, tok, [])
    with pytest.raises(ValueError, match="answer"):
        evaluation.answer_accuracy(model, tok, [{"prompt": "x"}])
    with pytest.raises(ValueError, match="empty"):
        evaluation.token_loss(model, tok, [])


def test_answer_loss_scores_the_worked_answer_after_the_prompt(tiny):
    model, tok = tiny
    ev = problems.make_problems(24, seed=0, split="eval")
    hard = problems.make_problems(24, seed=0, split="eval", cfg=problems.HARDER)
    easy_loss, hard_loss = evaluation.answer_loss(model, tok, ev), evaluation.answer_loss(model, tok, hard)
    assert 0 < easy_loss < hard_loss   # numbers outside the model's training ranges are harder to predict
    # the prompt and the worked answer, tokenized apart, are the document's tokens: nothing is lost at the seam
    r = ev[0]
    whole = tok(r["text"])["input_ids"]
    parts = tok(r["prompt"])["input_ids"] + tok(r["text"][len(r["prompt"]):], add_special_tokens=False)["input_ids"]
    assert whole == parts
    # a wrong final answer costs more than the right one
    wrong = [{**x, "answer": x["answer"] + 1} for x in ev.to_list()]
    assert evaluation.answer_loss(model, tok, wrong) > easy_loss


def test_answer_loss_equals_the_document_loss_after_the_prompt(tiny):
    """Independent of the batched scorer: one forward pass over each whole document, the mean
    cross-entropy of the tokens that follow the prompt (steps, </think>, answer) over all documents."""
    import torch
    model, tok = tiny
    rows = problems.make_problems(6, seed=1, split="eval", cfg=problems.HARDER).to_list()
    nll, count = 0.0, 0
    with torch.no_grad():
        for r in rows:
            ids = torch.tensor([tok(r["text"])["input_ids"]])
            n_prompt = len(tok(r["prompt"])["input_ids"])
            logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)
            target = ids[0, 1:]
            picked = logp.gather(-1, target[:, None]).squeeze(-1)[n_prompt - 1:]
            nll, count = nll - float(picked.sum()), count + len(picked)
    assert evaluation.answer_loss(model, tok, rows) == pytest.approx(nll / count, rel=1e-4)
