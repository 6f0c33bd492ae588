"""Thoughts for RLP: where they go, how they are sampled, and how they are scored.

A position is a pair of token-id lists (``context_ids``, ``target_ids``). A thought is inserted
between them as ``{open}{thought}{close}{separator}``; :func:`sample_thoughts` draws G of them per
position in one batched decoding loop with a KV cache, and :func:`score_thoughts` reads, in one
teacher-forced pass, both the log-probability of the target after each thought (the reward's first
term) and the policy log-probabilities of the thought tokens (for the update). Each position's
context is run once and shared by its G thoughts, in both: while sampling its keys are read once by
all G rows (:mod:`slmlab.prefix_attention`), while scoring its KV cache is repeated for each of its
suffixes. An RLP step runs its contexts once for both (:func:`forward_contexts`), and a Llama-family
model decodes through :func:`slmlab.decode_step.decode_step`, the same step without the forward's
wrappers. :func:`select_rows` and :func:`distinct_rows` let a step score only some suffixes, each
distinct one once (``RLPConfig.sparse_update``).
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import inspect
import math
from dataclasses import dataclass, field

import torch
from transformers import (GenerationConfig, LogitsProcessor, LogitsProcessorList, StoppingCriteria,
                          StoppingCriteriaList)

from . import _checks
from .decode_step import DecodePlan, decode_step, supports_decode_step
from .prefix_attention import OwnTokensCache, SharedPrefix, shared_prefix, supports_shared_prefix
from .scoring import continuation_logprobs
from .scoring import selected_token_logprobs as _token_logprobs

__all__ = ["ThoughtFormat", "ThoughtBatch", "answer_positions", "uniform_positions", "sample_thoughts",
           "build_thought_batch", "select_rows", "distinct_rows", "forward_contexts", "score_thoughts",
           "baseline_logprob"]


@dataclass(frozen=True)
class ThoughtFormat:
    """Token ids of the wrapper ``{open}{thought}{close}{separator}`` and the ids a thought may not use."""

    open_ids: tuple
    close_ids: tuple
    sep_ids: tuple
    pad_id: int
    banned_ids: tuple = field(default=())

    def __post_init__(self):
        # tuples: a thought's tail is compared with ``close_ids`` as a tuple, and a list never equals one
        for name in ("open_ids", "close_ids", "sep_ids", "banned_ids"):
            ids = getattr(self, name)
            if not isinstance(ids, tuple) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids) \
                    or (not ids and name in ("open_ids", "close_ids")):
                some = " non-empty" if name in ("open_ids", "close_ids") else ""
                raise ValueError(f"{name}={ids!r:.60} must be a{some} tuple of token ids; "
                                 "rlp.thought_format(tokenizer) builds the format")
        _checks.integer("pad_id", self.pad_id, low=0)


_POSITION_KEYS = ("context_ids", "target_ids")
_POSITION_WHAT = "positions as answer_positions or uniform_positions give them"


def answer_positions(tokenizer, problems) -> list[dict]:
    """One position per worked problem, at its answer: context ``Question: ...\\nAnswer: `` (with
    ``<s>``), target the answer's digits. ``problems``: rows with ``prompt`` and ``answer``."""
    rows = problems.to_list() if hasattr(problems, "to_list") else list(problems)
    if not rows or not {"prompt", "answer"} <= set(rows[0]):
        raise ValueError("problems must be a non-empty Dataset/list of dicts with 'prompt' and 'answer'")
    ctx = tokenizer([r["prompt"] for r in rows], add_special_tokens=True)["input_ids"]
    tgt = tokenizer([str(r["answer"]) for r in rows], add_special_tokens=False)["input_ids"]
    return [{"context_ids": c, "target_ids": t} for c, t in zip(ctx, tgt)]


def uniform_positions(tokenizer, texts, n: int, seed: int, target_tokens: int = 1,
                      min_context: int = 8) -> list[dict]:
    """``n`` positions drawn uniformly over all token positions of ``texts`` that have at least
    ``min_context`` tokens before them; target = the next ``target_tokens`` tokens."""
    if isinstance(texts, str):
        raise ValueError("texts must be a list of strings, not a single string")
    texts = list(texts)
    if not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError("texts must be a non-empty list of strings")
    if not isinstance(n, int) or n < 1 or not isinstance(target_tokens, int) or target_tokens < 1:
        raise ValueError(f"n={n!r} and target_tokens={target_tokens!r} must be positive ints")
    if isinstance(min_context, bool) or not isinstance(min_context, int) or min_context < 1:
        raise ValueError(f"min_context={min_context!r} must be an int >= 1 (the <s> token at least)")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative int")
    ids = tokenizer(texts, add_special_tokens=True)["input_ids"]
    slots = [(d, t) for d, row in enumerate(ids) for t in range(min_context, len(row) - target_tokens + 1)]
    if not slots:
        raise ValueError(f"no document is longer than min_context={min_context} + target_tokens tokens")
    g = torch.Generator().manual_seed(seed)
    pick = torch.randint(len(slots), (n,), generator=g).tolist()
    return [{"context_ids": ids[d][:t], "target_ids": ids[d][t:t + target_tokens]}
            for d, t in (slots[i] for i in pick)]


# ---------------------------------------------------------------- sampling thoughts
def _row_seed(*parts) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "big") >> 1


class _GumbelSampler(LogitsProcessor):
    """Sampling as argmax(logits/T + Gumbel noise), the noise drawn from one generator per row: a
    row's thought depends only on its own seed, never on which other rows share the batch."""

    def __init__(self, seeds, temperature, prompt_len, banned, no_first, max_tokens):
        self.gens = [torch.Generator().manual_seed(s) for s in seeds]
        self.t, self.prompt_len, self.banned, self.no_first = temperature, prompt_len, list(banned), list(no_first)
        self.max_tokens, self.chunk, self.noise, self.banned_mask = max_tokens, None, None, None
        self.rows = None  # which rows of the drawn noise are still decoding (None: all)

    def __call__(self, input_ids, scores):
        return self.perturb(input_ids.shape[1] - self.prompt_len, scores)

    def keep(self, rows: list[int]) -> None:
        """Go on with the rows ``rows`` only (indices into the current rows): a row's stream is its
        own, so dropping the others changes none of the kept rows' noise."""
        self.gens = [self.gens[r] for r in rows]
        if self.noise is not None:  # index the drawn noise, not copy it: (n, C, V) is large
            rows = torch.tensor(rows, device=self.noise.device)
            self.rows = rows if self.rows is None else self.rows[rows]

    def perturb(self, step, scores):
        """Logits/T + Gumbel noise at decoding step ``step``, (rows, V) -> (rows, V)."""
        n, vocab = scores.shape
        if self.chunk is None:  # noise is drawn in chunks of steps; bounded memory for big vocabularies
            self.chunk = max(1, min(self.max_tokens, 2**24 // max(1, n * vocab)))
        if step % self.chunk == 0:
            u = torch.stack([torch.rand((self.chunk, vocab), generator=g) for g in self.gens])  # (n, C, V)
            self.noise = -torch.log(-torch.log(u.clamp_(1e-10, 1 - 1e-7))).to(scores.device)
            self.rows = None
        scores = scores.float() / self.t
        if self.banned:
            if self.banned_mask is None or self.banned_mask.shape[0] != vocab:
                self.banned_mask = torch.zeros(vocab, dtype=torch.bool, device=scores.device)
                self.banned_mask[self.banned] = True
            scores.masked_fill_(self.banned_mask, -math.inf)
        if step == 0 and self.no_first:
            scores[:, self.no_first] = -math.inf  # a thought has at least one token (Alg. 1: |c| >= 1)
        noise = self.noise[:, step % self.chunk]  # (rows drawn, V)
        return scores + (noise if self.rows is None else noise[self.rows])


class _StopAtClose(StoppingCriteria):
    def __init__(self, close_ids):
        self.close = torch.tensor(close_ids)

    def __call__(self, input_ids, scores, **kwargs):
        k = len(self.close)
        if input_ids.shape[1] < k:
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        return (input_ids[:, -k:] == self.close.to(input_ids.device)).all(-1)


@torch.no_grad()
def sample_thoughts(model, positions, fmt: ThoughtFormat, group_size: int, max_thought_tokens: int,
                    temperature: float, seed: int, step: int = 0, position_ids=None,
                    amp: torch.dtype | None = None, shared: bool | None = None, context=None,
                    work: dict | None = None) -> list[list[int]]:
    """G thoughts per position, decoded in one batch with a KV cache. Returns B·G lists of token ids
    (row b·G + g), each ending in the close delimiter if the model closed the thought itself.
    ``position_ids`` are the positions' global indices, which seed their random streams.

    Each context is run once. By default (``shared=None``: where the model's attention allows it)
    its G rows then decode on top of it with shared-prefix attention (:mod:`slmlab.prefix_attention`)
    in a loop of our own that stops running a position once its G thoughts are closed;
    ``shared=False`` repeats the context's cache G times and calls ``generate`` instead (the plain
    path, kept as the reference: both give the same thoughts). ``context``: the contexts' cache from
    :func:`forward_contexts`, which the shared path reads instead of running the contexts again (it
    is the prompts less their last token when the open delimiter is one token; the plain path prefills
    its own). ``work``, when given, receives the padded tokens the passes really ran: ``prefill`` (the
    contexts, 0 when ``context`` was given) and ``decode`` (one per row per decoding step, counting
    only the rows still in the batch: a position that has closed its G thoughts costs nothing more)."""
    if not positions:
        raise ValueError("positions is empty")
    position_ids = range(len(positions)) if position_ids is None else position_ids
    device = next(model.parameters()).device
    prompts = [list(p["context_ids"]) + list(fmt.open_ids) for p in positions]  # B prompts, G rows each
    seeds = [_row_seed(seed, step, i, g) for i in position_ids for g in range(group_size)]
    width = max(map(len, prompts))
    ids = torch.full((len(prompts), width), fmt.pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for r, p in enumerate(prompts):  # left padding: every row's thought starts at column `width`
        ids[r, width - len(p):] = torch.tensor(p)
        mask[r, width - len(p):] = 1
    ids, mask = ids.to(device), mask.to(device)
    sampler = _GumbelSampler(seeds, temperature, width, fmt.banned_ids, fmt.close_ids[:1], max_thought_tokens)
    shared = supports_shared_prefix(model) if shared is None else shared
    with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
        if shared and width > 1:
            if context is not None and (len(fmt.open_ids) != 1 or _cache_shape(context) != (ids.shape[0], width - 1)):
                raise ValueError(f"context holds {_cache_shape(context)} (contexts, tokens), the prompts less their open "
                                 f"delimiter need {(ids.shape[0], width - 1)} and a one-token open delimiter: "
                                 "pass forward_contexts(model, positions, fmt) of these positions")
            return _decode_shared(model, ids, mask, fmt, group_size, max_thought_tokens, sampler, context,
                                  {} if work is None else work)
        return _decode_generate(model, ids, mask, fmt, group_size, max_thought_tokens, sampler,
                                {} if work is None else work)


def _decode_shared(model, ids, mask, fmt, group_size, max_tokens, sampler, context=None, work=None) -> list[list[int]]:
    """The contexts (all prompt tokens but the last) run once at (B, …); the B·G rows feed their
    last prompt token, then their own samples, attending to their context through
    :class:`~slmlab.prefix_attention.SharedPrefix` and to their own tokens through a cache allocated
    once. A position leaves the batch when all its G rows have closed their thought."""
    G, k = group_size, len(fmt.close_ids)
    device = ids.device
    work = {} if work is None else work
    work["prefill"] = 0 if context is not None else ids[:, :-1].numel()
    work["decode"] = 0
    cache = context if context is not None else _forward_context(model, ids[:, :-1], mask[:, :-1])
    prefix = SharedPrefix(cache, mask[:, :-1], G)
    n_layers = len(prefix.keys)
    own = OwnTokensCache(n_layers, max_tokens)
    n = ids.shape[0] * G
    close = torch.tensor(fmt.close_ids, device=device)
    # each row's tokens after the open delimiter, behind the prompt's last k-1 tokens, so the stop test
    # reads the same last k tokens as generate's would; `seq` holds the rows still decoding, `hist` all
    seq = torch.full((n, k - 1 + max_tokens), fmt.pad_id, dtype=torch.long, device=device)
    seq[:, :k - 1] = ids[:, ids.shape[1] - (k - 1):].repeat_interleave(G, 0)
    hist = seq.clone()
    length = torch.full((n,), max_tokens, dtype=torch.long)  # a row never closed runs to the cap
    rows = torch.arange(n, device=device)       # the rows still decoding (global indices)
    done = torch.zeros(n, dtype=torch.bool, device=device)
    cur = ids[:, -1:].repeat_interleave(G, 0)   # (n, 1)
    pos = (mask.sum(1, keepdim=True) - 1).repeat_interleave(G, 0)  # positions count real tokens only
    if supports_decode_step(model):  # the same step without the forward's wrappers and module calls
        plan = DecodePlan(model, int(pos.max()) + max_tokens)  # weights and rotary tables, looked up once
        step = lambda cur, pos: decode_step(model, cur[:, 0], pos, prefix, own, plan)  # noqa: E731
    else:
        cache_kw = {_cache_kw(model): own}  # (inspects the signature: once, not per token)
        step = lambda cur, pos: model(input_ids=cur, position_ids=pos, use_cache=True, logits_to_keep=1,  # noqa: E731
                                      shared_prefix=prefix, **cache_kw).logits[:, -1]
    with shared_prefix(model):
        for t in range(max_tokens):
            logits = step(cur, pos)  # (rows, V)
            work["decode"] += cur.shape[0]  # the rows this step really ran
            prefix.check(n_layers)
            nxt = sampler.perturb(t, logits).argmax(-1)  # (rows,)
            seq[:, k - 1 + t] = nxt
            closed = (seq[:, t:t + k] == close).all(-1) & ~done
            if bool(closed.any()):
                length[rows[closed].cpu()] = t + 1
                done |= closed
                if bool(done.all()):
                    break
                finished = done.view(-1, G).all(1)  # (positions,)
                if bool(finished.any()):  # drop positions whose G thoughts are all closed
                    keep_pos = (~finished).nonzero()[:, 0]
                    keep = (keep_pos[:, None] * G + torch.arange(G, device=device)).reshape(-1)
                    prefix.select(keep_pos)
                    own.batch_select_indices(keep)
                    sampler.keep(keep.tolist())
                    hist[rows] = seq
                    rows, seq, done, nxt, pos = rows[keep], seq[keep], done[keep], nxt[keep], pos[keep]
            cur, pos = nxt[:, None], pos + 1
    hist[rows] = seq
    out = hist[:, k - 1:].tolist()
    return [row[:end] for row, end in zip(out, length.tolist())]


def _decode_generate(model, ids, mask, fmt, group_size, max_tokens, sampler, work=None) -> list[list[int]]:
    """The plain path: the contexts' cache repeated G times, then ``generate`` (which runs every row
    until the last one stops)."""
    width = ids.shape[1]
    work = {} if work is None else work
    gen_cfg = GenerationConfig(max_new_tokens=max_tokens, do_sample=False, pad_token_id=fmt.pad_id,
                               eos_token_id=None, use_cache=True)
    # Prefill each prompt once (B rows, all but its last token) and share the KV cache across its
    # G thoughts: the prompt is most of the tokens, so this saves most of the prefill.
    cache = None
    if group_size > 1 and width > 1:
        cache = _forward_context(model, ids[:, :-1], mask[:, :-1])
        if hasattr(cache, "batch_repeat_interleave"):
            cache.batch_repeat_interleave(group_size)  # (B, …) -> (B·G, …), row b·G + g
        else:  # a model whose cache cannot be repeated: prefill every row instead
            cache = None
    work["prefill"] = ids[:, :-1].numel() if cache is not None else ids.numel() * group_size
    out = model.generate(input_ids=ids.repeat_interleave(group_size, 0),
                         attention_mask=mask.repeat_interleave(group_size, 0), **{_cache_kw(model): cache},
                         generation_config=gen_cfg, logits_processor=LogitsProcessorList([sampler]),
                         stopping_criteria=StoppingCriteriaList([_StopAtClose(fmt.close_ids)]))
    new = out[:, width:].tolist()  # (N, ≤L)
    # generate feeds all N rows once per new token but the last (the first feed is the prompt's last
    # token when the context was prefilled, and the whole prompt otherwise)
    work["decode"] = len(new) * (len(new[0]) if cache is not None else max(0, len(new[0]) - 1)) if new else 0
    k = len(fmt.close_ids)
    thoughts = []
    for row in new:
        end = next((j + k for j in range(len(row) - k + 1) if tuple(row[j:j + k]) == fmt.close_ids), len(row))
        thoughts.append(row[:end])  # finished rows are padded after the close: cut there
    return thoughts


@dataclass
class ThoughtBatch:
    """The thoughts of B positions, G each, split where they share work: the B contexts (left-padded,
    run once) and the N = B·G suffixes ``open + thought [+ close] + sep + target`` (right-padded, run
    on top of their context's KV cache). Masks mark, at each suffix token, whether it is a sampled
    thought token or a scored target token."""

    context_ids: torch.Tensor     # (B, Wc), left-padded
    context_mask: torch.Tensor    # (B, Wc)
    input_ids: torch.Tensor       # (N, Ws) suffixes, right-padded
    attention_mask: torch.Tensor  # (N, Ws)
    thought_mask: torch.Tensor    # (N, Ws) bool
    target_mask: torch.Tensor     # (N, Ws) bool
    thought_length: torch.Tensor  # (N,)
    truncated: torch.Tensor       # (N,) bool: stopped by the length cap, closed by the wrapper
    group_size: int
    n_tokens: int                 # real tokens the scoring pass processes: B contexts + N suffixes
    padded_tokens: int = 0        # the same with padding, the work a batched pass really does
    context_index: torch.Tensor | None = None  # (N,) the context each suffix runs on; None: row b·G + g on b

    def __post_init__(self):
        _checks.integer("group_size", self.group_size, low=1, why="the thoughts per position")
        if self.input_ids.ndim != 2 or self.input_ids.shape[0] != self.context_ids.shape[0] * self.group_size \
                and self.context_index is None:
            raise ValueError(f"input_ids {tuple(self.input_ids.shape)} must hold B x group_size={self.group_size} rows "
                             f"for the B={self.context_ids.shape[0]} contexts; build_thought_batch builds a batch")


def build_thought_batch(positions, thoughts, fmt: ThoughtFormat, group_size: int,
                        reward_tokens: int | None = None) -> ThoughtBatch:
    """Insert each thought between its context and target (thought b·G + g belongs to position b)."""
    _checks.records("positions", positions, _POSITION_KEYS, _POSITION_WHAT)
    _checks.integer("group_size", group_size, low=1, why="the thoughts per position")
    if not isinstance(fmt, ThoughtFormat):
        raise TypeError(f"fmt must be a ThoughtFormat (rlp.thought_format(tokenizer)), got {type(fmt).__name__}")
    if len(thoughts) != len(positions) * group_size:
        raise ValueError(f"got {len(thoughts)} thoughts for {len(positions)} positions x G={group_size}: pass "
                         "group_size thoughts per position, position by position")
    k = len(fmt.close_ids)
    cids, cmask = _left_padded_contexts(positions, fmt.pad_id)
    seqs, spans, truncated = [], [], []
    for r, th in enumerate(thoughts):
        p = positions[r // group_size]
        closed = len(th) >= k and tuple(th[-k:]) == fmt.close_ids
        truncated.append(not closed)
        tgt = list(p["target_ids"])[:reward_tokens] if reward_tokens else list(p["target_ids"])
        seq = list(fmt.open_ids) + list(th) + ([] if closed else list(fmt.close_ids)) + list(fmt.sep_ids)
        spans.append((len(fmt.open_ids), len(fmt.open_ids) + len(th), len(seq), len(seq) + len(tgt)))
        seqs.append(seq + tgt)
    width = max(map(len, seqs))
    ids = torch.full((len(seqs), width), fmt.pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    tmask = torch.zeros_like(ids, dtype=torch.bool)
    ymask = torch.zeros_like(tmask)
    for r, (s, (a, b, c, d)) in enumerate(zip(seqs, spans)):
        ids[r, :len(s)] = torch.tensor(s)
        mask[r, :len(s)] = 1
        tmask[r, a:b] = True
        ymask[r, c:d] = True
    return ThoughtBatch(cids, cmask, ids, mask, tmask, ymask, tmask.sum(1), torch.tensor(truncated),
                        group_size, int(cmask.sum() + mask.sum()), cids.numel() + ids.numel())


def _row_contexts(batch: ThoughtBatch) -> torch.Tensor:
    """(N,) the context each suffix of ``batch`` runs on."""
    if batch.context_index is not None:
        return batch.context_index
    return torch.arange(batch.context_ids.shape[0]).repeat_interleave(batch.group_size)


def select_rows(batch: ThoughtBatch, rows) -> ThoughtBatch:
    """The suffixes ``rows`` (indices into the batch) on the same contexts, cut to their own longest:
    a batch of any number of suffixes per context, which :func:`score_thoughts` runs the same way."""
    if not isinstance(batch, ThoughtBatch):
        raise TypeError(f"batch must be a ThoughtBatch (build_thought_batch), got {type(batch).__name__}")
    rows = torch.as_tensor(rows, dtype=torch.long)
    if rows.ndim != 1 or not len(rows):
        raise ValueError("rows must be a non-empty 1-d list of row indices")
    index = _row_contexts(batch)[rows]
    mask = batch.attention_mask[rows]
    width = int(mask.sum(1).max())
    mask = mask[:, :width]
    return dataclasses.replace(
        batch, input_ids=batch.input_ids[rows, :width], attention_mask=mask,
        thought_mask=batch.thought_mask[rows, :width], target_mask=batch.target_mask[rows, :width],
        thought_length=batch.thought_length[rows], truncated=batch.truncated[rows], context_index=index,
        n_tokens=int(batch.context_mask.sum() + mask.sum()), padded_tokens=batch.context_ids.numel() + rows.numel() * width)


def distinct_rows(batch: ThoughtBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows that are the same thought on the same context: ``first`` (U,), the first row of each
    distinct one, and ``inverse`` (N,), which distinct one each row is (row i = row first[inverse[i]])."""
    if not isinstance(batch, ThoughtBatch):
        raise TypeError(f"batch must be a ThoughtBatch (build_thought_batch), got {type(batch).__name__}")
    index = _row_contexts(batch).tolist()
    seen, first, inverse = {}, [], []
    for r, (ids, n) in enumerate(zip(batch.input_ids.tolist(), batch.attention_mask.sum(1).tolist())):
        key = (index[r], tuple(ids[:n]))
        if key not in seen:
            seen[key] = len(first)
            first.append(r)
        inverse.append(seen[key])
    return torch.tensor(first), torch.tensor(inverse)


def _left_padded_contexts(positions, pad_id: int):
    """The B contexts left-padded to the longest: ids (B, Wc) and mask (B, Wc)."""
    ctx = [list(p["context_ids"]) for p in positions]
    wc = max(map(len, ctx))
    cids = torch.full((len(ctx), wc), pad_id, dtype=torch.long)
    cmask = torch.zeros_like(cids)
    for b, c in enumerate(ctx):
        cids[b, wc - len(c):], cmask[b, wc - len(c):] = torch.tensor(c), 1
    return cids, cmask


def forward_contexts(model, positions, fmt: ThoughtFormat, amp=None):
    """Run the positions' contexts once, left-padded as :func:`build_thought_batch` pads them, and
    return their KV cache, with gradient when it is enabled. One RLP step can then run its contexts
    once: :func:`sample_thoughts` reads the cache without gradient, :func:`score_thoughts` with it."""
    _checks.records("positions", positions, _POSITION_KEYS, _POSITION_WHAT)
    device = next(model.parameters()).device
    cids, cmask = _left_padded_contexts(positions, fmt.pad_id)
    with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
        return _forward_context(getattr(model, "module", model), cids.to(device), cmask.to(device))


def _copy_cache(cache):
    """A cache whose layers can be repeated, selected and appended to without touching ``cache``'s
    (the key and value tensors are shared until then, so gradient still flows back into them)."""
    out = copy.copy(cache)
    out.layers = [copy.copy(layer) for layer in cache.layers]
    return out


def _cache_shape(cache) -> tuple:
    """(contexts, tokens) a KV cache holds."""
    keys = cache.layers[0].keys
    return tuple(keys.shape[:1]) + tuple(keys.shape[-2:-1])


def _cache_kw(model) -> str:
    """transformers renames ``past_key_values`` to ``cache`` (5.x); pass whichever this model takes."""
    forward = type(getattr(model, "module", model)).forward
    return "cache" if "cache" in inspect.signature(forward).parameters else "past_key_values"


def _forward_context(model, ids, mask):
    """Run the B contexts once and return their KV cache (with gradient when enabled)."""
    pos = (mask.cumsum(-1) - 1).clamp(min=0)  # left padding: positions count real tokens only
    try:  # only the cache is needed; most causal LMs can skip the context's logits
        out = model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True, logits_to_keep=1)
    except TypeError:
        out = model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True)
    # the output field was renamed with the argument; reading the old name logs a deprecation warning
    names = {f.name for f in dataclasses.fields(out)} if dataclasses.is_dataclass(out) else set(out.keys())
    return getattr(out, "cache" if "cache" in names else "past_key_values")


def score_thoughts(model, batch: ThoughtBatch, temperature: float, amp=None, context=None, row_weights=None):
    """One teacher-forced pass over the thought batch: each context once, then its suffixes on top
    of its KV cache (gradient flows back into the shared context through the cache). Returns
    ``s_pred`` (N,): Σ log p_θ(target | context, thought), no gradient — the reward's first term;
    ``logp`` (N, Ws): log π_θ(thought token | prefix) at temperature T, with gradient (0 elsewhere);
    ``entropy`` (scalar): mean entropy of π_θ over thought tokens, no gradient, each row's tokens
    counted ``row_weights[row]`` times when given (a distinct thought standing for its copies).
    ``context``: the contexts' cache from :func:`forward_contexts` under the same weights, used
    instead of running them again; it is read, not changed, so it can serve several calls."""
    if not isinstance(batch, ThoughtBatch):
        raise TypeError(f"batch must be a ThoughtBatch (build_thought_batch), got {type(batch).__name__}")
    _checks.number("temperature", temperature, low=0, low_open=True)
    device = next(model.parameters()).device
    cids, cmask = batch.context_ids.to(device), batch.context_mask.to(device)
    ids, mask = batch.input_ids.to(device), batch.attention_mask.to(device)
    tmask, ymask = batch.thought_mask.to(device), batch.target_mask.to(device)
    with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
        # the context pass goes around a DDP wrapper: DDP allows one forward per backward, and the
        # gradient through the cache still reaches the same parameters before they are reduced
        if context is not None and _cache_shape(context) != tuple(cids.shape):
            raise ValueError(f"context holds {_cache_shape(context)} (contexts, tokens), this batch's contexts are "
                             f"{tuple(cids.shape)}: pass forward_contexts(model, positions, fmt) of the same positions")
        cache = _copy_cache(context) if context is not None else _forward_context(getattr(model, "module", model),
                                                                                  cids, cmask)
        rows = _row_contexts(batch).to(device)
        cache.batch_select_indices(rows)  # (B, …) -> (N, …): row i on its context
        rows_cmask = cmask[rows]  # (N, Wc)
        full_mask = torch.cat([rows_cmask, mask], 1)  # (N, Wc + Ws)
        pos = rows_cmask.sum(1)[:, None] + torch.arange(ids.shape[1], device=device)  # (N, Ws)
        logits = model(input_ids=ids, attention_mask=full_mask, position_ids=pos, use_cache=True,
                       **{_cache_kw(model): cache}).logits  # (N, Ws, V)
    y_lp, _, _ = _token_logprobs(logits.detach(), ids, ymask)  # reward: the model at T = 1
    s_pred = torch.zeros(ids.shape[0], device=device).index_add_(
        0, ymask[:, 1:].nonzero()[:, 0], y_lp)  # (N,)
    t_lp, t_lg, t_logz = _token_logprobs(logits, ids, tmask, temperature)  # (M,)
    # (N, Ws), in thought-token slots; column 0 (the open delimiter) is never one, so orders agree
    logp = torch.zeros(ids.shape, device=device, dtype=t_lp.dtype).masked_scatter(tmask, t_lp)
    with torch.no_grad():
        probs = torch.softmax(t_lg.detach(), -1)
        h = t_logz.detach() - (probs * t_lg.detach()).sum(-1)  # (M,)
        if not len(t_lp):
            entropy = torch.zeros(())
        elif row_weights is None:
            entropy = h.mean()
        else:  # thought tokens are in row order (masked_scatter above reads them so)
            w = torch.as_tensor(row_weights, dtype=h.dtype, device=device)[tmask[:, 1:].nonzero()[:, 0]]
            entropy = (w * h).sum() / w.sum()
    return s_pred, logp, entropy


@torch.no_grad()
def baseline_logprob(ema_model, positions, fmt: ThoughtFormat, reward_tokens=None, amp=None) -> torch.Tensor:
    """S_ema (B,): Σ log p_φ(target | context) with no thought, teacher-forced in one batch
    (:func:`slmlab.scoring.continuation_logprobs`; it pads on the right, so ``fmt.pad_id`` is never read)."""
    _checks.records("positions", positions, _POSITION_KEYS, _POSITION_WHAT)
    targets = [list(p["target_ids"])[:reward_tokens] if reward_tokens else list(p["target_ids"]) for p in positions]
    return continuation_logprobs(ema_model, None, [list(p["context_ids"]) for p in positions], targets,
                                 batch_size=max(1, len(positions)), amp=amp).sums
