"""Evaluation: greedy exact-match accuracy of final answers (by number of steps) and per-token loss."""
from __future__ import annotations

from collections import defaultdict

import torch

from .problems import parse_answer
from .sampling import sample

__all__ = ["answer_accuracy", "token_loss", "answer_logprob"]


def _check_problems(problems):
    if problems is None or len(problems) == 0:
        raise ValueError("problems is empty: pass a Dataset or list of dicts with 'prompt', 'answer', 'n_steps'")
    rows = problems.to_list() if hasattr(problems, "to_list") else list(problems)
    missing = {"prompt", "answer"} - set(rows[0])
    if missing:
        raise ValueError(f"problems lack column(s) {sorted(missing)}")
    return rows


def answer_accuracy(model, tokenizer, problems, with_steps: bool = True, max_new_tokens: int = 64,
                    batch_size: int = 64, temperature: float = 0.0, seed: int = 0) -> dict:
    """Exact-match accuracy of the final answer. ``with_steps=False`` forbids ``<think>`` (the
    "answer directly" baseline). Returns ``{"accuracy", "by_steps": {n: acc}, "completions",
    "correct"}``."""
    rows = _check_problems(problems)
    outs = sample(model, tokenizer, [r["prompt"] for r in rows], max_new_tokens=max_new_tokens,
                  temperature=temperature, seed=seed, batch_size=batch_size, allow_thinking=with_steps)
    correct = [parse_answer(o) == int(r["answer"]) for o, r in zip(outs, rows)]
    groups = defaultdict(list)
    for r, c in zip(rows, correct):
        groups[int(r.get("n_steps", 0))].append(c)
    return {"accuracy": sum(correct) / len(correct),
            "by_steps": {n: sum(v) / len(v) for n, v in sorted(groups.items())},
            "completions": outs, "correct": correct}


@torch.no_grad()
def _sequence_token_logprobs(model, tokenizer, prefixes, continuations, batch_size=64):
    """Sum and count of log p(continuation tokens | prefix) for each pair, under teacher forcing."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} must be a positive int")
    n_ctx = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    device = next(model.parameters()).device
    results = []
    for i in range(0, len(prefixes), batch_size):
        pre = tokenizer(list(prefixes[i:i + batch_size]), add_special_tokens=True)["input_ids"]
        cont = tokenizer(list(continuations[i:i + batch_size]), add_special_tokens=False)["input_ids"]
        seqs = [p + c for p, c in zip(pre, cont)]
        width = max(map(len, seqs))
        if isinstance(n_ctx, int) and width > n_ctx:
            raise ValueError(f"a sequence of {width} tokens exceeds the model's context of {n_ctx} tokens; "
                             "shorten the texts (their scores past the context would be meaningless)")
        ids = torch.full((len(seqs), width), tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        target = torch.zeros_like(ids, dtype=torch.bool)
        for j, (p, s) in enumerate(zip(pre, seqs)):
            ids[j, :len(s)] = torch.tensor(s)   # right padding: positions need no shift
            mask[j, :len(s)] = 1
            target[j, len(p):len(s)] = True
        logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()
        logp = torch.log_softmax(logits[:, :-1], -1).gather(-1, ids[:, 1:].to(device).unsqueeze(-1)).squeeze(-1)
        tmask = target[:, 1:].to(device)
        results.extend(zip((logp * tmask).sum(1).tolist(), tmask.sum(1).tolist()))
    return results


def token_loss(model, tokenizer, texts, batch_size: int = 64) -> float:
    """Mean next-token cross-entropy (nats/token) over all tokens of ``texts`` after ``<s>``."""
    if isinstance(texts, str):
        raise ValueError("texts must be a list of strings, not a single string")
    texts = list(texts)
    if not texts:
        raise ValueError("texts is empty")
    if not all(isinstance(t, str) for t in texts):
        raise ValueError("texts must contain only strings")
    res = _sequence_token_logprobs(model, tokenizer, [""] * len(texts), texts, batch_size)
    return -sum(s for s, _ in res) / sum(n for _, n in res)


def answer_logprob(model, tokenizer, problems, with_steps: bool = True, batch_size: int = 64) -> float:
    """Mean log-probability per answer token of the correct answer, teacher-forced after the prompt
    (with the reference steps in ``<think>`` when ``with_steps``). Higher is better."""
    rows = _check_problems(problems)
    if with_steps and "steps" not in rows[0]:
        raise ValueError("problems lack column 'steps', needed with with_steps=True (or pass with_steps=False)")
    if with_steps:
        prefixes = [f"{r['prompt']}<think>{r['steps']}</think> " for r in rows]
    else:
        prefixes = [r["prompt"] for r in rows]
    res = _sequence_token_logprobs(model, tokenizer, prefixes, [str(r["answer"]) for r in rows], batch_size)
    return sum(s for s, _ in res) / sum(n for _, n in res)
