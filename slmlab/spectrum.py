"""Spectrum Tuning (Sorensen et al., arXiv 2510.06084) against plain SFT: formats, masked
training, and the authors' metrics of distributional alignment, valid-output coverage and in-context
steerability.

**Spectrum format.** One training sequence holds one task: an optional description, then several
i.i.d. samples of that task, each an optional input and an output::

    Question: A bag has 3 red and 1 blue balls. Draw one.      <- description (optional)
    Answer: red                                                 <- output 1
    Answer: red                                                 <- output 2
    Answer: blue                                                <- output 3

Cross-entropy falls on the output contents and their end token (the newline) only; headers,
description and inputs take none, and without a description the first output takes none either (it
cannot be predicted). A model trained so learns to read a distribution from a description and to
update it from the examples before it.

**SFT format.** The same samples, one question and one answer per document (the answer and its
``</s>`` take the loss): ``Question: {description} {input}\\nAnswer: {output}</s>``.

Where we depart from the authors' code (``format_utils.py``): the roles are written with plain-text
headers (:data:`HEADERS`) rather than new special tokens, and the end of an output is a newline
rather than an end-of-turn token. The embedded tokenizer has 512 entries and no chat roles, but
``Question`` and ``Answer`` are single tokens its model already reads; naming the description and
output roles with them gives both formats the same head start, so the comparison isolates the
structure (several samples per sequence, optional description) rather than new vocabulary. Both
formats draw from one stream of samples and train for the same number of packed tokens.
"""
from __future__ import annotations

import math
import random

import numpy as np
import torch

from . import training
from .distributional import Task, check_distribution, sample_target
from .sampling import sample
from .scoring import masked_token_logprobs

__all__ = ["FORMATS", "spectrum_segments", "sft_segments", "in_context_prompt", "encode_segments",
           "pack_masked", "episodes", "format_episode", "training_blocks", "train_format",
           "js_divergence", "empirical_distribution", "coverage_metrics", "sample_outputs",
           "answer_probabilities", "renormalise", "steerability_curve", "icl_loss_accuracy"]

FORMATS = ("spectrum", "sft")
HEADERS = {"description": "Question:", "input": "Input:", "output": "Answer:"}  # the spectrum roles
IGNORE = -100  # label of a token that takes no loss (the transformers convention)


def _check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"fmt={fmt!r} must be one of {list(FORMATS)}")
    return fmt


# ----------------------------------------------------------------------------------------------
# Formats: a document is a list of (text, takes_loss) segments.

def spectrum_segments(description: str | None, samples, include_description: bool = True) -> list:
    """Segments of one spectrum sequence; ``samples`` is a list of ``(input or None, output)``."""
    samples = list(samples)
    if not samples:
        raise ValueError("samples is empty: a spectrum sequence needs at least one output")
    has_description = bool(include_description and description)
    segs = [(f"{HEADERS['description']} {description}\n", False)] if has_description else []
    for j, (inp, out) in enumerate(samples):
        if inp is not None:
            segs.append((f"{HEADERS['input']} {inp}\n", False))
        segs.append((HEADERS["output"], False))
        # Without a description the first output is unpredictable: it takes no loss (as the authors').
        segs.append((f" {out}\n", has_description or j > 0))
    return segs


def sft_segments(prompt: str, outputs) -> list:
    """Segments of ``len(outputs)`` plain question-answer documents, one answer each, back to back
    (one output: an SFT training document; several: the few-shot prompt of an SFT model)."""
    outputs = list(outputs)
    if not outputs:
        raise ValueError("outputs is empty: an SFT document needs an answer")
    segs = []
    for j, out in enumerate(outputs):
        segs.append((("<s>" if j else "") + f"Question: {prompt}\nAnswer:", False))
        segs.append((f" {out}</s>", True))
    return segs


def in_context_prompt(fmt: str, task: Task, samples, k: int, include_description: bool = True) -> str:
    """The prompt that asks ``task`` for one more output after the first ``k`` of ``samples`` (its
    earlier outputs) as in-context examples, in format ``fmt``; generation continues from its end."""
    _check_format(fmt)
    samples = list(samples)
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"k={k!r} must be an int >= 0")
    if k > len(samples):
        raise ValueError(f"k={k} is larger than the {len(samples)} samples available; draw more samples")
    if fmt == "spectrum":
        head = f"{HEADERS['description']} {task.description}\n" if include_description and task.description else ""
        ask = (f"{HEADERS['input']} {task.input}\n" if task.input is not None else "") + HEADERS["output"]
        return head + "".join(f"{ask} {s}\n" for s in samples[:k]) + ask
    ask = f"Question: {task.prompt}\nAnswer:"
    return "".join(f"{ask} {s}</s><s>" for s in samples[:k]) + ask


def encode_segments(tokenizer, segments, segment_index: bool = False):
    """Token ids of the joined segments (``<s>`` first) and, per token, whether it takes the loss
    (and, with ``segment_index``, which segment it came from; -1 for the leading ``<s>``).

    The text is tokenized whole (so tokens are those the model sees at generation time) and each
    token is assigned to the segment its characters come from; a token that straddles two segments
    means the format is ill-chosen, and raises."""
    segments = list(segments)
    if not segments or not all(isinstance(t, str) and isinstance(f, bool) for t, f in segments):
        raise ValueError("segments must be a non-empty list of (text, takes_loss) pairs")
    text = "".join(t for t, _ in segments)
    bounds = np.cumsum([0] + [len(t) for t, _ in segments])
    enc = tokenizer(text, add_special_tokens=True, return_offsets_mapping=True)
    ids, mask, where = [], [], []
    for tid, (a, b) in zip(enc["input_ids"], enc["offset_mapping"]):
        if a == b:                                   # the <s> the tokenizer adds
            ids.append(tid)
            mask.append(False)
            where.append(-1)
            continue
        seg = int(np.searchsorted(bounds, a, side="right")) - 1
        if b > bounds[seg + 1]:
            raise ValueError(f"token {text[a:b]!r} straddles segments {seg} and {seg + 1}; "
                             "end the earlier segment with whitespace or punctuation")
        ids.append(tid)
        mask.append(segments[seg][1])
        where.append(seg)
    return (ids, mask, where) if segment_index else (ids, mask)


def pack_masked(encoded, block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenate encoded documents ``[(ids, mask), ...]`` and cut them into blocks of
    ``block_size``: ``(input_ids, labels)``, labels -100 where a token takes no loss. The ragged
    tail is dropped (as :func:`slmlab.training.pack_documents` does)."""
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 2:
        raise ValueError(f"block_size={block_size!r} must be an int >= 2")
    ids, labels = [], []
    for doc_ids, doc_mask in encoded:
        if len(doc_ids) != len(doc_mask):
            raise ValueError("each encoded document needs one mask entry per token")
        ids.extend(doc_ids)
        labels.extend(i if m else IGNORE for i, m in zip(doc_ids, doc_mask))
    n = len(ids) // block_size
    if n == 0:
        raise ValueError(f"the documents hold {len(ids)} tokens, fewer than one block of {block_size}")
    shape = (n, block_size)
    return (torch.tensor(ids[: n * block_size]).view(shape), torch.tensor(labels[: n * block_size]).view(shape))


# ----------------------------------------------------------------------------------------------
# Training: one stream of samples, two formats, the same number of packed tokens.

def episodes(tasks, seed: int, samples_per_episode=(2, 16), include_description_prob: float = 0.6):
    """An endless stream of ``(task, outputs, include_description)``: a family, then a task in it,
    drawn uniformly, a
    number of i.i.d. outputs in ``samples_per_episode`` (inclusive), and whether the spectrum format
    shows the description (the authors' default probability is 0.6)."""
    tasks = list(tasks)
    if not tasks or not all(isinstance(t, Task) for t in tasks):
        raise ValueError("tasks must be a non-empty list of Task")
    lo, hi = samples_per_episode
    if not (isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi):
        raise ValueError(f"samples_per_episode={samples_per_episode!r} must be (lo, hi) with 1 <= lo <= hi")
    if not 0 <= include_description_prob <= 1:
        raise ValueError(f"include_description_prob={include_description_prob!r} must lie in [0, 1]")
    rng = random.Random(f"{seed}-episodes")
    by_family = {}
    for t in tasks:
        by_family.setdefault(t.family, []).append(t)
    families = sorted(by_family)
    while True:
        # Family first, then a task in it: families have very different task counts (140 urns).
        task = rng.choice(by_family[rng.choice(families)])
        outputs = sample_target(task.target, rng.randint(lo, hi), rng)
        yield task, outputs, rng.random() < include_description_prob


def format_episode(fmt: str, task: Task, outputs, include_description: bool = True) -> list:
    """An episode as documents (lists of segments): one spectrum sequence, or one SFT document per
    output (SFT always states the question)."""
    if _check_format(fmt) == "spectrum":
        return [spectrum_segments(task.description, [(task.input, o) for o in outputs], include_description)]
    return [sft_segments(task.prompt, [o]) for o in outputs]


def training_blocks(fmt: str, tokenizer, tasks, n_blocks: int, block_size: int, seed: int, **episode_kw):
    """Exactly ``n_blocks`` packed blocks of format ``fmt``, filled from :func:`episodes` in order.
    Returns ``(input_ids, labels, info)``; ``info`` counts the answers and loss tokens used."""
    stream = episodes(tasks, seed, **episode_kw)
    encoded, n_tokens, answers = [], 0, 0
    while n_tokens < n_blocks * block_size:
        task, outputs, with_desc = next(stream)
        for doc in format_episode(fmt, task, outputs, with_desc):
            ids, mask = encode_segments(tokenizer, doc + ([("</s>", False)] if fmt == "spectrum" else []))
            encoded.append((ids, mask))
            n_tokens += len(ids)
        answers += len(outputs)
    x, y = pack_masked(encoded, block_size)
    return x[:n_blocks], y[:n_blocks], {"answers": answers, "loss_tokens": int((y[:n_blocks] != IGNORE).sum())}


def train_format(model, tokenizer, fmt: str, tasks, cfg: training.TrainConfig, **episode_kw) -> dict:
    """Fine-tune ``model`` in place on ``tasks`` in format ``fmt`` for ``cfg.steps`` steps of
    ``cfg.batch_size`` blocks (every block seen once), loss on answer tokens only. Returns
    :func:`slmlab.training.pretrain`'s dict plus ``data`` (answers and loss tokens used)."""
    x, y, info = training_blocks(fmt, tokenizer, tasks, cfg.steps * cfg.batch_size, cfg.block_size, cfg.seed,
                                 **episode_kw)
    out = training.pretrain(model, tokenizer, x, cfg, labels=y)
    out["model"].eval()
    return {**out, "data": info}


# ----------------------------------------------------------------------------------------------
# Metrics (names as in the authors' evaluation code).

def js_divergence(p, q) -> float:
    """Jensen–Shannon divergence ½KL(P‖M) + ½KL(Q‖M), M = (P+Q)/2, natural log, between two
    ``{answer: probability}`` dicts (answers missing from one have probability 0 there). Symmetric,
    between 0 (equal) and ln 2 (disjoint supports)."""
    p, q = check_distribution(p, "p"), check_distribution(q, "q")
    total = 0.0
    for a in set(p) | set(q):
        pa, qa = p.get(a, 0.0), q.get(a, 0.0)
        m = (pa + qa) / 2
        total += (pa * math.log(pa / m) if pa > 0 else 0.0) + (qa * math.log(qa / m) if qa > 0 else 0.0)
    return max(0.0, total / 2)


def empirical_distribution(answers) -> dict[str, float]:
    """Share of each distinct answer (stripped of surrounding spaces) among ``answers``."""
    answers = [a.strip() for a in answers] if isinstance(answers, (list, tuple)) else None
    if not answers:
        raise ValueError("answers must be a non-empty list of strings")
    counts = {}
    for a in answers:
        counts[a] = counts.get(a, 0) + 1
    return {a: c / len(answers) for a, c in counts.items()}


def coverage_metrics(generations, valid) -> dict[str, float]:
    """Valid-output coverage of ``generations`` against the set of ``valid`` answers, as the
    authors' ``eval_diverse_valid.py`` names it: ``percent_valid`` (valid / generated),
    ``unique_gens_pct`` (distinct valid / valid), ``unique_valid_count`` (distinct valid),
    ``usable_unique_pct`` (distinct valid / generated); and ``valid_set_coverage`` (distinct valid /
    size of the valid set: how much of the valid space was reached)."""
    if not isinstance(generations, (list, tuple)) or not generations:
        raise ValueError("generations must be a non-empty list of strings")
    valid = set(valid)
    if not valid:
        raise ValueError("valid is empty: coverage needs the set of valid answers")
    gens = [g.strip() for g in generations]
    ok = [g for g in gens if g in valid]
    unique = len(set(ok))
    return {"percent_valid": len(ok) / len(gens), "unique_gens_pct": unique / len(ok) if ok else 0.0,
            "unique_valid_count": unique, "usable_unique_pct": unique / len(gens),
            "valid_set_coverage": unique / len(valid)}


def sample_outputs(model, tokenizer, fmt: str, task: Task, n: int, seed: int, context=(),
                   max_new_tokens: int = 10) -> list[str]:
    """``n`` answers to ``task`` at temperature 1, no top-p/top-k (the authors' advice), after the
    in-context examples ``context``; stripped of spaces."""
    prompt = in_context_prompt(fmt, task, context, len(context))
    outs = sample(model, tokenizer, [prompt] * n, max_new_tokens=max_new_tokens, temperature=1.0, top_p=1.0,
                  seed=seed, allow_thinking=False, stop_at_newline=True)
    return [o.strip() for o in outs]


def _loss_token_logprobs(model, encoded, batch_size: int = 64):
    """For each encoded document ``(ids, loss mask)``, the log-probability of every loss token and
    whether it is the argmax (teacher forcing): a list of ``(logp array, hit array)``."""
    # A document longer than the model's window keeps its last tokens (the loss tokens are last):
    # the model sees as many earlier examples as fit, as it would when prompted.
    window = getattr(model.config, "max_position_embeddings", None) or 10 ** 9
    scored = masked_token_logprobs(model, [ids[-window:] for ids, _ in encoded],
                                   [mask[-window:] for _, mask in encoded], batch_size)
    return [(lp.cpu().numpy(), hit.cpu().numpy()) for lp, hit in scored]


def answer_probabilities(model, tokenizer, fmt: str, queries, batch_size: int = 64) -> list[dict]:
    """For each query ``(task, context, k)``, the probability the model gives each valid answer of
    the task (its tokens and end token, teacher-forced) after the first ``k`` context outputs.
    Their sum is the authors' ``coverage`` (mass on the valid set); :func:`renormalise` turns them
    into a distribution."""
    encoded, index = [], []
    for q, (task, context, k) in enumerate(queries):
        prompt = in_context_prompt(fmt, task, context, k)
        end = "\n" if fmt == "spectrum" else "</s>"
        for a in sorted(task.valid):
            encoded.append(encode_segments(tokenizer, [(prompt, False), (f" {a}{end}", True)]))
            index.append((q, a))
    if not encoded:
        raise ValueError("queries is empty")
    probs = [dict() for _ in queries]
    for (q, a), (logp, _) in zip(index, _loss_token_logprobs(model, encoded, batch_size)):
        probs[q][a] = float(np.exp(logp.sum()))
    return probs


def renormalise(probs: dict, eps: float = 1e-6) -> dict[str, float]:
    """Probabilities over an answer set, smoothed by ``eps`` and scaled to sum to 1 (the authors'
    step before their divergences)."""
    if not probs:
        raise ValueError("probs is empty")
    if any((not math.isfinite(v)) or v < 0 for v in probs.values()):
        raise ValueError("probs must hold finite numbers >= 0")
    total = sum(probs.values()) + eps * len(probs)
    return {a: (v + eps) / total for a, v in probs.items()}


def steerability_curve(model, tokenizer, fmt: str, tasks, ks=(0, 1, 4, 16), n_contexts: int = 4,
                       seed: int = 0) -> dict:
    """In-context steerability: for each ``k``, the JS divergence between the model's answer
    distribution (renormalised over the valid set) and each task's target after ``k`` i.i.d.
    examples from that target, averaged over tasks and ``n_contexts`` example draws. The contexts are
    nested (the k=1 examples are the first of the k=4 ones), so the curve shows the examples' effect
    rather than a fresh draw's. Returns ``{"ks", "js_divergence": [...], "coverage": [...],
    "steerability": js(k=min) - js(k=max)}`` (how far the examples moved the model toward the target)."""
    ks = sorted(set(ks))
    if not ks or any(isinstance(k, bool) or not isinstance(k, int) or k < 0 for k in ks):
        raise ValueError(f"ks={ks!r} must be a non-empty list of ints >= 0")
    tasks = list(tasks)
    if not tasks:
        raise ValueError("tasks is empty")
    queries, owners = [], []
    for t in tasks:
        for c in range(n_contexts):
            context = sample_target(t.target, max(ks), random.Random(f"{seed}-{c}-{t.name}-steer"))
            for k in ks:
                queries.append((t, context, k))
                owners.append(k)
    probs = answer_probabilities(model, tokenizer, fmt, queries)
    js = {k: [] for k in ks}
    cov = {k: [] for k in ks}
    for (t, _, _), k, p in zip(queries, owners, probs):
        js[k].append(js_divergence(renormalise(p), t.target))
        cov[k].append(sum(p.values()))
    curve = [float(np.mean(js[k])) for k in ks]
    return {"ks": ks, "js_divergence": curve, "coverage": [float(np.mean(cov[k])) for k in ks],
            "steerability": curve[0] - curve[-1]}


def icl_loss_accuracy(model, tokenizer, fmt: str, tasks, n_examples: int = 16, seed: int = 0) -> dict:
    """The authors' ``eval_icl`` measures: one sequence of ``n_examples`` i.i.d. outputs per task,
    teacher-forced; for each output index j, ``loss`` (summed NLL of its tokens and end token),
    ``acc`` (token accuracy), ``all_acc`` (every token the argmax) and ``first_acc``. Returns the
    per-index means (None where no output survived the model's window: a long SFT sequence keeps only
    its last examples), the counts behind them, and the headline ``loss_geq_1`` / ``all_acc_geq_1``
    (means over outputs with at least one earlier example)."""
    tasks = list(tasks)
    if not tasks:
        raise ValueError("tasks is empty")
    if isinstance(n_examples, bool) or not isinstance(n_examples, int) or n_examples < 2:
        raise ValueError(f"n_examples={n_examples!r} must be an int >= 2")
    _check_format(fmt)
    encoded, owner = [], []
    for t in tasks:
        outs = sample_target(t.target, n_examples, random.Random(f"{seed}-{t.name}-icl"))
        segs = (spectrum_segments(t.description, [(t.input, o) for o in outs]) if fmt == "spectrum"
                else sft_segments(t.prompt, outs))
        ids, mask, where = encode_segments(tokenizer, segs, segment_index=True)
        encoded.append((ids, mask))
        # Which output each loss token belongs to: the rank of its segment among the loss segments.
        rank = {seg: j for j, seg in enumerate(i for i, (_, f) in enumerate(segs) if f)}
        owner.append(np.array([rank[w] for w, m in zip(where, mask) if m]))
    rows = {key: [[] for _ in range(n_examples)] for key in ("loss", "acc", "all_acc", "first_acc")}
    for own, (logp, hit) in zip(owner, _loss_token_logprobs(model, encoded)):
        # A sequence longer than the model's window lost its first tokens: keep the outputs whose
        # tokens all survived (the loss tokens kept are the last ones).
        full, own = own, own[len(own) - len(logp):]
        for j in range(n_examples):
            if (own == j).sum() == 0 or (own == j).sum() < (full == j).sum():
                continue
            lp, h = logp[own == j], hit[own == j]
            rows["loss"][j].append(float(-lp.sum()))
            rows["acc"][j].append(float(h.mean()))
            rows["all_acc"][j].append(float(h.all()))
            rows["first_acc"][j].append(float(h[0]))
    per_index = {key: [float(np.mean(v)) if v else None for v in vals] for key, vals in rows.items()}
    later = {key: [x for v in vals[1:] for x in v] for key, vals in rows.items()}
    return {"per_index": per_index, "n_per_index": [len(v) for v in rows["loss"]],
            "loss_geq_1": float(np.mean(later["loss"])), "all_acc_geq_1": float(np.mean(later["all_acc"])),
            "acc_geq_1": float(np.mean(later["acc"]))}
