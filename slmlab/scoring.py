"""Teacher-forced scoring: log p(continuation | prefix) under a causal LM, batched.

One forward pass per batch reads every continuation token's log-probability at once: the prefix and
the continuation are concatenated, and the logits at position j-1 score token j. Sequences are
right-padded, so real tokens keep positions 0..L-1 and no pad is ever attended to by a real token
(causal attention): the result does not depend on the batch, the batch size or the tokenizer's
padding side, up to float rounding. Only the rows of the softmax that are read are formed, which
keeps big vocabularies cheap.

Used by :mod:`slmlab.evaluation` (token loss, answer log-probability), the RLP baseline in
:mod:`slmlab.thoughts` (log p of the target with no thought) and the notebooks.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass

import torch

from . import _checks

__all__ = ["ContinuationScores", "continuation_logprobs", "masked_token_logprobs", "selected_token_logprobs"]


def selected_token_logprobs(logits: torch.Tensor, ids: torch.Tensor, select: torch.Tensor,
                            temperature: float = 1.0):
    """log p(ids[:, j] | ids[:, <j]) at the positions ``select`` (N, T) bool marks, from ``logits``
    (N, T, V) of the same sequences, at ``temperature``. Returns ``(logp (M,), logits rows (M, V),
    log-partition (M,))`` in float32, in row-major order of the selected positions; position 0 has
    nothing before it and is never scored."""
    if not (isinstance(logits, torch.Tensor) and logits.ndim == 3):
        raise ValueError(f"logits must be a (N, T, V) tensor, got {_shape(logits)}")
    if not (isinstance(ids, torch.Tensor) and ids.shape == logits.shape[:2]):
        raise ValueError(f"ids must be a (N, T) tensor of the logits' first two sizes {tuple(logits.shape[:2])}, "
                         f"got {_shape(ids)}")
    if not (isinstance(select, torch.Tensor) and select.dtype == torch.bool and select.shape == ids.shape):
        raise ValueError(f"select must be a bool tensor of the ids' shape {tuple(ids.shape)}, got {_shape(select)}")
    _checks.number("temperature", temperature, low=0.0, low_open=True)
    sel = select[:, 1:]
    lg = logits[:, :-1][sel].float() / temperature  # (M, V)
    tok = ids[:, 1:][sel]                           # (M,)
    logz = torch.logsumexp(lg, -1)
    return lg.gather(-1, tok[:, None]).squeeze(-1) - logz, lg, logz


@dataclass
class ContinuationScores:
    """Per sequence: ``sums`` (N,) Σ log p(continuation tokens | prefix), ``counts`` (N,) how many
    continuation tokens were scored, ``token_logprobs`` one (count,) tensor each. On the model's device."""

    sums: torch.Tensor
    counts: torch.Tensor
    token_logprobs: list

    def __post_init__(self):
        for name in ("sums", "counts"):
            if not (isinstance(getattr(self, name), torch.Tensor) and getattr(self, name).ndim == 1):
                raise ValueError(f"{name} must be a 1-D tensor (one entry per sequence), got {_shape(getattr(self, name))}")
        if not isinstance(self.token_logprobs, list):
            raise TypeError(f"token_logprobs must be a list of tensors, got {type(self.token_logprobs).__name__}")
        if not len(self.sums) == len(self.counts) == len(self.token_logprobs):
            raise ValueError(f"sums, counts and token_logprobs must have one entry per sequence, got "
                             f"{len(self.sums)}, {len(self.counts)} and {len(self.token_logprobs)}")

    def mean_per_token(self) -> float:
        """Σ log p over all continuation tokens / their number (a loss is minus this)."""
        total = int(self.counts.sum())
        if total == 0:
            raise ValueError("no continuation token was scored (every continuation is empty)")
        return float(self.sums.sum()) / total


def _shape(x) -> str:
    return f"shape {tuple(x.shape)} {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__


def _check_model(model):
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module (a causal LM), got {type(model).__name__}")


def _as_ids(name: str, items, tokenizer, special: bool) -> list[list[int]]:
    """Token ids of ``items``: strings are tokenized (``special``: with the tokenizer's ``<s>``),
    lists of ints are taken as they are."""
    if all(isinstance(x, str) for x in items):
        if tokenizer is None:
            raise ValueError(f"{name} are strings: pass the tokenizer, or pass token-id lists")
        return [list(x) for x in tokenizer(list(items), add_special_tokens=special)["input_ids"]]
    out = []
    for i, x in enumerate(items):
        if isinstance(x, torch.Tensor):
            x = x.tolist()
        try:
            if isinstance(x, (str, bytes)) or any(isinstance(t, bool) for t in x):
                raise TypeError
            out.append([operator.index(t) for t in x])
        except TypeError:
            raise TypeError(f"{name}[{i}] must be a string or a list of token ids (ints), got {x!r:.60}; "
                            f"{name} must be all strings or all token-id lists") from None
    return out


@torch.no_grad()
def masked_token_logprobs(model, sequences, masks, batch_size: int = 64, amp: torch.dtype | None = None,
                          pad: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Teacher-forced log-probabilities of the tokens of each sequence that its mask marks, and
    whether each is the model's top token: one ``(logp (M_i,), hit (M_i,) bool)`` per sequence, on
    the model's device. ``sequences`` are token-id lists; ``masks[i][j]`` True scores token j of sequence i
    (token 0 has nothing before it and is never scored). The marked tokens need not be contiguous
    (several answers in one document). ``pad`` fills the right padding (never read by a real token)."""
    _check_model(model)
    _checks.integer("batch_size", batch_size, low=1)
    _checks.integer("pad", pad, low=0)
    sequences = _as_ids("sequences", list(sequences), None, False)
    if isinstance(masks, (str, torch.Tensor)) or not hasattr(masks, "__len__"):
        raise TypeError(f"masks must be a list of bool lists, one per sequence, got {type(masks).__name__}")
    if len(sequences) != len(masks):
        raise ValueError(f"sequences and masks must have the same length, got {len(sequences)} and {len(masks)}")
    for i, (s, m) in enumerate(zip(sequences, masks)):
        if len(s) != len(m):
            raise ValueError(f"sequences[{i}] has {len(s)} tokens but masks[{i}] has {len(m)} entries")
    limit = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if isinstance(limit, int) and sequences and max(map(len, sequences)) > limit:
        i = max(range(len(sequences)), key=lambda j: len(sequences[j]))
        raise ValueError(f"sequences[{i}] is {len(sequences[i])} tokens, longer than the model's context "
                         f"(model.config.max_position_embeddings={limit}); shorten it")
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(sequences), batch_size):
        seqs, marks = sequences[start:start + batch_size], masks[start:start + batch_size]
        width = max(map(len, seqs))
        ids = torch.full((len(seqs), width), pad, dtype=torch.long)
        att = torch.zeros_like(ids)
        target = torch.zeros_like(ids, dtype=torch.bool)
        for r, (s, m) in enumerate(zip(seqs, marks)):
            ids[r, :len(s)], att[r, :len(s)] = torch.tensor(s, dtype=torch.long), 1
            target[r, :len(s)] = torch.tensor(m, dtype=torch.bool)
        ids, att, target = ids.to(device), att.to(device), target.to(device)
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            logits = model(input_ids=ids, attention_mask=att, use_cache=False).logits  # (B, T, V)
        lp, rows, _ = selected_token_logprobs(logits, ids, target)
        hit = rows.argmax(-1) == ids[:, 1:][target[:, 1:]]
        n = target[:, 1:].sum(1).tolist()
        out.extend(zip(lp.split(n), hit.split(n)))
    return out


@torch.no_grad()
def continuation_logprobs(model, tokenizer, prefixes, continuations, batch_size: int = 64,
                          amp: torch.dtype | None = None) -> ContinuationScores:
    """Teacher-forced log-probabilities of ``continuations[i]`` after ``prefixes[i]``.

    Both are lists of strings (prefixes are tokenized with the tokenizer's special tokens, i.e.
    ``<s>`` first, continuations without; the ids are concatenated, never the texts) or lists of
    token-id lists (``tokenizer`` may then be None). ``batch_size`` sequences per forward pass;
    ``amp``: autocast dtype of the forward pass (None: the model's own). Returns
    :class:`ContinuationScores`."""
    _check_model(model)
    if isinstance(prefixes, str) or isinstance(continuations, str):
        raise ValueError("prefixes and continuations must be lists (of strings or token-id lists), not a single string")
    prefixes, continuations = list(prefixes), list(continuations)
    if len(prefixes) != len(continuations):
        raise ValueError(f"prefixes and continuations must have the same length, got {len(prefixes)} "
                         f"and {len(continuations)}")
    if not prefixes:
        raise ValueError("prefixes is empty: pass at least one prefix/continuation pair")
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} must be a positive int")
    pre = _as_ids("prefixes", prefixes, tokenizer, True)
    cont = _as_ids("continuations", continuations, tokenizer, False)
    limit = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    for i, (p, c) in enumerate(zip(pre, cont)):
        if not p:
            raise ValueError(f"prefixes[{i}] has no tokens: the first continuation token needs a token "
                             "before it (string prefixes get the tokenizer's <s>)")
        if limit is not None and len(p) + len(c) > limit:
            raise ValueError(f"prefixes[{i}] + continuations[{i}] is {len(p) + len(c)} tokens, longer than the "
                             f"model's context (model.config.max_position_embeddings={limit})")
    device = next(model.parameters()).device
    pad = getattr(tokenizer, "pad_token_id", None)
    scored = masked_token_logprobs(model, [p + c for p, c in zip(pre, cont)],
                                   [[False] * len(p) + [True] * len(c) for p, c in zip(pre, cont)],
                                   batch_size, amp, 0 if pad is None else pad)
    per_token = [lp for lp, _ in scored]
    return ContinuationScores(torch.stack([lp.sum() for lp in per_token]) if per_token else torch.zeros(0),
                              torch.tensor([len(lp) for lp in per_token], device=device), per_token)
