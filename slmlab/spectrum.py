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
formats draw from one stream of samples and train on the same number of blocks.

**Packing.** As the authors' one task per sequence requires, a block never cuts a document: documents
go whole into blocks of ``block_size`` tokens (:func:`pack_episodes`; the rest of a block is padding)
and attention never crosses a document (:func:`slmlab.training.document_inputs`), so every output
that takes the loss sees its own description or earlier outputs and nothing of another task.
Evaluation never cuts a prompt to fit the model's window either (:func:`max_examples` says how many
examples fit; a longer sequence raises).
"""
from __future__ import annotations

import dataclasses
import math
import random
import tempfile

import numpy as np
import torch

from . import _checks, training
from .distributional import Task, check_distribution, sample_target
from .sampling import sample
from .scoring import masked_token_logprobs

__all__ = ["FORMATS", "spectrum_segments", "sft_segments", "in_context_prompt", "encode_segments",
           "pack_episodes", "episodes", "format_episode", "training_blocks", "train_format",
           "js_divergence", "empirical_distribution", "coverage_metrics", "sample_outputs",
           "answer_probabilities", "renormalise", "steerability_curve", "icl_loss_accuracy", "max_examples"]

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
    given = samples
    samples = None if isinstance(samples, (str, dict)) else list(samples)  # a string would give its letters
    if samples is None or not all(isinstance(s, (tuple, list)) and len(s) == 2 for s in samples):
        raise ValueError(f"samples={given!r:.60} must be a list of (input or None, output) pairs, "
                         "e.g. [(None, 'heads')]")
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


def pack_episodes(encoded, block_size: int, pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Place encoded documents ``[(ids, mask), ...]`` whole, in order, into blocks of ``block_size``:
    a document that does not fit in what is left of a block starts the next one, and the rest is
    padding (``pad_id``, no loss). Returns ``(input_ids, labels, documents)``: labels -100 where a
    token takes no loss, and per token the index of its document (-1 on padding), which
    :func:`slmlab.training.document_inputs` turns into attention that never crosses a document.
    A block never starts mid-document, so no loss token loses the description or examples before it."""
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 2:
        raise ValueError(f"block_size={block_size!r} must be an int >= 2")
    rows, row = [], ([], [], [])

    def close(r):
        pad = block_size - len(r[0])
        rows.append((r[0] + [pad_id] * pad, r[1] + [IGNORE] * pad, r[2] + [-1] * pad))

    for d, (doc_ids, doc_mask) in enumerate(encoded):
        if len(doc_ids) != len(doc_mask):
            raise ValueError("each encoded document needs one mask entry per token")
        if len(doc_ids) > block_size:
            raise ValueError(f"document {d} holds {len(doc_ids)} tokens, more than block_size={block_size}; "
                             "use fewer samples per episode or a larger block")
        if len(row[0]) + len(doc_ids) > block_size:
            close(row)
            row = ([], [], [])
        row[0].extend(doc_ids)
        row[1].extend(i if m else IGNORE for i, m in zip(doc_ids, doc_mask))
        row[2].extend([d] * len(doc_ids))
    if row[0]:
        close(row)
    if not rows:
        raise ValueError("encoded is empty: nothing to pack")
    ids, labels, docs = (torch.tensor([r[i] for r in rows]) for i in range(3))
    return ids, labels, docs


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
    # checked here, at the call: a generator's own checks would wait for the first draw
    return _episodes(tasks, seed, lo, hi, include_description_prob)


def _episodes(tasks, seed, lo, hi, include_description_prob):
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
    """Exactly ``n_blocks`` blocks of format ``fmt``, filled from :func:`episodes` in order, each
    document whole (:func:`pack_episodes`): a spectrum episode is one document, an SFT episode one
    document per output. Returns ``(input_ids, labels, documents, info)``; ``info`` counts the
    answers, loss tokens and real (unpadded) tokens in the blocks."""
    if isinstance(n_blocks, bool) or not isinstance(n_blocks, int) or n_blocks < 1:
        raise ValueError(f"n_blocks={n_blocks!r} must be a positive int")
    stream = episodes(tasks, seed, **episode_kw)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    encoded, n_answers, placed, need = [], [], 0, n_blocks * block_size
    while True:
        task, outputs, with_desc = next(stream)
        for doc in format_episode(fmt, task, outputs, with_desc):
            encoded.append(encode_segments(tokenizer, doc + ([("</s>", False)] if fmt == "spectrum" else [])))
            n_answers.append(len(outputs) if fmt == "spectrum" else 1)
            placed += len(encoded[-1][0])
        # Enough tokens to fill the blocks (padding aside) before packing; pack again if padding left one short.
        if placed >= need:
            x, y, d = pack_episodes(encoded, block_size, pad)
            if len(x) > n_blocks:   # the last block may be cut short of documents: keep only full ones
                break
            need = placed + (n_blocks + 1 - len(x)) * block_size
    x, y, d = x[:n_blocks], y[:n_blocks], d[:n_blocks]
    kept = sorted(set(d.unique().tolist()) - {-1})
    info = {"answers": sum(n_answers[i] for i in kept), "documents": len(kept),
            "loss_tokens": int((y != IGNORE).sum()), "real_tokens": int((d != -1).sum())}
    return x, y, d, info


def train_format(model, tokenizer, fmt: str, tasks, cfg: training.TrainConfig, measure=None, measure_at=(),
                 **episode_kw) -> dict:
    """Fine-tune ``model`` in place on ``tasks`` in format ``fmt`` for ``cfg.steps`` steps of
    ``cfg.batch_size`` blocks (every block seen once), loss on answer tokens only, attention kept
    inside each document. Returns :func:`slmlab.training.pretrain`'s dict plus ``data`` (answers,
    loss and real tokens used).

    With ``measure`` (a function of the model returning a dict) and ``measure_at`` (steps, 0 = before
    training), the run pauses at each of those steps — the one run with its own schedule, resumed
    from a checkpoint, so the final model is the one an unpaused run gives — and ``curve`` lists
    ``{"step", "tokens", **measure(model)}``: the metric against training tokens."""
    if not isinstance(cfg, training.TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig, got {type(cfg).__name__}: TrainConfig(steps=..., ...)")
    x, y, d, info = training_blocks(fmt, tokenizer, tasks, cfg.steps * cfg.batch_size, cfg.block_size, cfg.seed,
                                    **episode_kw)
    stops = sorted(set(measure_at))
    if stops and (measure is None or any(isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= cfg.steps
                                         for s in stops)):
        raise ValueError(f"measure_at={measure_at!r} needs a measure function and steps in [0, {cfg.steps}]")
    if not stops:
        out = training.pretrain(model, tokenizer, x, cfg, labels=y, documents=d)
        out["model"].eval()
        return {**out, "data": info}
    curve = []
    paused = dataclasses.replace(cfg, checkpoint_every=math.gcd(*[s for s in stops if s] or [cfg.steps]),
                                 keep_checkpoints=1)
    with tempfile.TemporaryDirectory() as tmp:
        for stop in stops + ([cfg.steps] if stops[-1] != cfg.steps else []):
            if stop:
                out = training.pretrain(model, tokenizer, x, paused, labels=y, documents=d, out_dir=tmp,
                                        stop_after=stop)
                model = out["model"]
            if stop in stops:
                model.eval()
                curve.append({"step": stop, "tokens": stop * cfg.batch_size * cfg.block_size, **measure(model)})
    model.eval()
    return {**out, "model": model, "data": info, "curve": curve}


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
    # Never cut a prompt to fit: a cut one loses its question or its first examples, and the two
    # formats would then be scored on different evidence. Choose k with max_examples instead.
    window = getattr(model.config, "max_position_embeddings", None) or 10 ** 9
    longest = max(len(ids) for ids, _ in encoded)
    if longest > window:
        raise ValueError(f"a scored sequence holds {longest} tokens, more than the model's window of {window}; "
                         "use fewer in-context examples (see max_examples)")
    # Scored in order of length, so a batch pads to sequences of about its own length (2-3x less work
    # for SFT prompts, whose length grows ~35 tokens per example); returned in the order given.
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]))
    scored = masked_token_logprobs(model, [encoded[i][0] for i in order], [encoded[i][1] for i in order], batch_size)
    out = [None] * len(encoded)
    for i, (lp, hit) in zip(order, scored):
        out[i] = (lp.cpu().numpy(), hit.cpu().numpy())
    return out


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
    "steerability": js(k=min) - js(k=max), "per_task": [...]}`` (how far the examples moved the model
    toward the target; per task, in the order of ``tasks``)."""
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
    # per task (the order of ``tasks``): its JS at the smallest k minus at the largest, over its contexts
    per_task = np.subtract(js[ks[0]], js[ks[-1]]).reshape(len(tasks), n_contexts).mean(1).tolist()
    return {"ks": ks, "js_divergence": curve, "coverage": [float(np.mean(cov[k])) for k in ks],
            "steerability": curve[0] - curve[-1], "per_task": per_task}


def icl_loss_accuracy(model, tokenizer, fmt: str, tasks, n_examples: int = 16, seed: int = 0,
                      n_draws: int = 1) -> dict:
    """The authors' ``eval_icl`` measures: ``n_draws`` sequences of ``n_examples`` i.i.d. outputs per task,
    teacher-forced, description (spectrum) or question (SFT) first; for each output index j,
    ``loss`` (summed NLL of its tokens and end token), ``acc`` (token accuracy), ``all_acc`` (every
    token the argmax) and ``first_acc``. Returns the per-index means (``per_index["loss"]`` is the loss
    on the k-th output against k, k = the earlier examples it sees), the headline ``loss_geq_1`` /
    ``all_acc_geq_1`` / ``acc_geq_1`` (means over outputs with at least one earlier example) and
    ``per_task`` lists of those three, one number per task in order, averaged over its draws (for
    the paired comparison).
    A sequence longer than the model's window raises: choose ``n_examples`` with :func:`max_examples`."""
    tasks = list(tasks)
    if not tasks:
        raise ValueError("tasks is empty")
    if isinstance(n_examples, bool) or not isinstance(n_examples, int) or n_examples < 2:
        raise ValueError(f"n_examples={n_examples!r} must be an int >= 2")
    if isinstance(n_draws, bool) or not isinstance(n_draws, int) or n_draws < 1:
        raise ValueError(f"n_draws={n_draws!r} must be a positive int")
    _check_format(fmt)
    encoded, owner = [], []
    for t, draw in ((t, c) for t in tasks for c in range(n_draws)):
        # draw 0 keeps the seed string of a single draw, so n_draws=1 scores the same sequences as before
        outs = sample_target(t.target, n_examples, random.Random(f"{seed}-{t.name}-icl" + (f"-{draw}" if draw else "")))
        segs = (spectrum_segments(t.description, [(t.input, o) for o in outs]) if fmt == "spectrum"
                else sft_segments(t.prompt, outs))
        ids, mask, where = encode_segments(tokenizer, segs, segment_index=True)
        encoded.append((ids, mask))
        # Which output each loss token belongs to: the rank of its segment among the loss segments.
        rank = {seg: j for j, seg in enumerate(i for i, (_, f) in enumerate(segs) if f)}
        owner.append(np.array([rank[w] for w, m in zip(where, mask) if m]))
    keys = ("loss", "acc", "all_acc", "first_acc")
    rows = {key: [[] for _ in range(n_examples)] for key in keys}
    per_task = {f"{key}_geq_1": [] for key in ("loss", "acc", "all_acc")}
    for own, (logp, hit) in zip(owner, _loss_token_logprobs(model, encoded)):
        scores = {key: [] for key in keys}
        for j in range(n_examples):
            lp, h = logp[own == j], hit[own == j]
            for key, v in zip(keys, (-lp.sum(), h.mean(), h.all(), h[0])):
                rows[key][j].append(float(v))
                scores[key].append(float(v))
        for key in ("loss", "acc", "all_acc"):
            per_task[f"{key}_geq_1"].append(float(np.mean(scores[key][1:])))
    per_task = {key: np.reshape(v, (len(tasks), n_draws)).mean(1).tolist() for key, v in per_task.items()}
    per_index = {key: [float(np.mean(v)) for v in vals] for key, vals in rows.items()}
    return {"per_index": per_index, "per_task": per_task,
            **{key: float(np.mean(v)) for key, v in per_task.items()}}


def max_examples(tokenizer, tasks, window: int, fmts=FORMATS) -> int:
    """The largest number of in-context outputs n such that, for every task and format in ``fmts``,
    the sequence of n outputs (each the task's longest valid answer, so any draw fits) stays within
    ``window`` tokens: the ``n_examples`` of :func:`icl_loss_accuracy` and the largest ``k + 1`` of
    :func:`steerability_curve` at which no prompt has to be cut."""
    tasks = list(tasks)
    if not tasks:
        raise ValueError("tasks is empty")
    best = None
    for fmt in fmts:
        _check_format(fmt)
        for t in tasks:
            longest = max(t.valid, key=lambda a: len(tokenizer(f" {a}")["input_ids"]))
            n = 0
            while True:
                outs = [longest] * (n + 1)
                segs = (spectrum_segments(t.description, [(t.input, o) for o in outs]) if fmt == "spectrum"
                        else sft_segments(t.prompt, outs))
                if len(encode_segments(tokenizer, segs)[0]) > window:
                    break
                n += 1
            best = n if best is None else min(best, n)
    return best
