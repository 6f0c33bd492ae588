"""Evaluation: greedy exact-match accuracy of final answers (by number of steps) and per-token loss."""
from __future__ import annotations

from collections import defaultdict

from .problems import THINK_CLOSE, THINK_OPEN, parse_answer
from .sampling import sample
from .scoring import continuation_logprobs

__all__ = ["answer_accuracy", "token_loss", "answer_logprob", "answer_loss"]


def _check_problems(problems):
    if isinstance(problems, (str, dict)):
        raise ValueError(f"problems must be a Dataset or a list of problem dicts, not one {type(problems).__name__}; "
                         "wrap a single problem in a list")
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


def token_loss(model, tokenizer, texts, batch_size: int = 64) -> float:
    """Mean next-token cross-entropy (nats/token) over all tokens of ``texts`` after ``<s>``."""
    if isinstance(texts, str):
        raise ValueError("texts must be a list of strings, not a single string")
    texts = list(texts)
    if not texts:
        raise ValueError("texts is empty")
    if not all(isinstance(t, str) for t in texts):
        raise ValueError("texts must contain only strings")
    return -continuation_logprobs(model, tokenizer, [""] * len(texts), texts, batch_size).mean_per_token()


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
    return continuation_logprobs(model, tokenizer, prefixes, [str(r["answer"]) for r in rows],
                                 batch_size).mean_per_token()


def answer_loss(model, tokenizer, problems, batch_size: int = 64) -> float:
    """Mean next-token loss (nats per token) of the worked answer ``<think>steps</think> answer``,
    teacher-forced after the question's prompt: the part of a document that training on worked problems
    teaches. Lower is better; it moves before greedy accuracy does, and it does not read the question's
    own tokens (which a model that memorised a few problems would also predict)."""
    rows = _check_problems(problems)
    if "steps" not in rows[0]:
        raise ValueError("problems lack column 'steps': the worked answer is <think>steps</think> answer")
    if any(not r.get("steps") for r in rows):
        raise ValueError("problems hold a row without worked steps (steps empty): answer_loss scores the worked answer")
    continuations = [f"{THINK_OPEN}{r['steps']}{THINK_CLOSE} {r['answer']}" for r in rows]
    return -continuation_logprobs(model, tokenizer, [r["prompt"] for r in rows], continuations,
                                  batch_size).mean_per_token()
