"""Shared-prefix attention: the G rows that continue one context read that context's keys once.

RLP samples and scores G thoughts after the same context. A plain batched pass repeats the
context's key/value cache G times and attends row by row: G copies in memory, and N·heads tiny
(1 × d)·(d × L) products per layer and decoded token. Here the context's keys stay at (B, …) and the
G rows' queries are stacked, so each position's scores against its context are one (G·T × d)·(d × Lc)
product; each row then attends causally to its own tokens (thought, delimiters, target) and one
softmax spans both parts. The sums are the same as attention over the concatenated sequence, up to
float rounding (the order of the reductions differs).

:func:`shared_prefix` switches a Hugging Face causal LM to this attention for the duration of a
``with`` block; the model's forward then takes ``shared_prefix=SharedPrefix(...)`` as a keyword.
Every attention layer must go through ``transformers``' attention interface (Llama, Qwen2, GPT-2
and most others do); :func:`SharedPrefix.check` refuses a pass in which a layer did not.
"""
from __future__ import annotations

import contextlib
import math

import torch
from transformers import AttentionInterface, DynamicCache
from transformers.cache_utils import DynamicLayer
from transformers.masking_utils import AttentionMaskInterface

from . import _checks

__all__ = ["SharedPrefix", "OwnTokensCache", "shared_prefix", "supports_shared_prefix", "NAME"]

NAME = "slmlab_shared_prefix"


class SharedPrefix:
    """The B contexts' per-layer keys and values (each (B, kv_heads, Lc, d), from a forward pass with a
    cache), their padding mask (B, Lc), and G: row n of the batch continues context n // G."""

    def __init__(self, cache, context_mask: torch.Tensor, group_size: int):
        if not getattr(cache, "layers", None):
            raise TypeError(f"cache must be the transformers cache of a forward pass over the contexts "
                            f"(use_cache=True), got {type(cache).__name__}")
        _checks.integer("group_size", group_size, low=1, why="the rows that continue each context")
        self.keys = [layer.keys for layer in cache.layers]
        self.values = [layer.values for layer in cache.layers]
        self.group_size = group_size
        # additive bias: 0 on real context tokens, -inf on left padding; (B, 1, 1, Lc)
        bias = torch.zeros(context_mask.shape, dtype=self.keys[0].dtype, device=context_mask.device)
        self.bias = bias.masked_fill_(context_mask == 0, -math.inf)[:, None, None, :]
        self.calls = 0

    def select(self, keep: torch.Tensor) -> None:
        """Keep only the contexts ``keep`` (indices into B), e.g. once all their G rows are done."""
        self.keys = [k[keep] for k in self.keys]
        self.values = [v[keep] for v in self.values]
        self.bias = self.bias[keep]

    def check(self, n_layers: int) -> None:
        """Raise unless every one of ``n_layers`` attention layers read the prefix since the last check."""
        calls, self.calls = self.calls, 0
        if calls != n_layers:
            raise RuntimeError(f"shared-prefix attention ran in {calls} of {n_layers} layers: this model's "
                               "attention does not go through transformers' attention interface")


def _expand_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(…, kv_heads, L, d) -> (…, heads, L, d) for grouped-query attention."""
    rep = heads // x.shape[-3]
    return x if rep == 1 else x.repeat_interleave(rep, dim=-3)


def shared_prefix_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0,
                            shared_prefix: SharedPrefix | None = None, **kwargs):
    """Attention of N = B·G rows over [their context (shared by G rows), their own tokens (causal)].

    ``query`` (N, H, Tq, d); ``key``/``value`` (N, kv_heads, Tk, d): the rows' own tokens so far (a
    cache of them while decoding), the last Tq of which are the queries. Returns (N, Tq, H, d)."""
    p = shared_prefix
    if p is None:
        raise ValueError("shared-prefix attention needs shared_prefix=SharedPrefix(...) in the forward call")
    p.calls += 1
    i = module.layer_idx
    kc, vc = p.keys[i], p.values[i]
    n, h, tq, d = query.shape
    b, g, tk = kc.shape[0], p.group_size, key.shape[-2]
    if n != b * g:
        raise ValueError(f"{n} rows do not split into {b} contexts x G={g}")
    scaling = d ** -0.5 if scaling is None else scaling
    kc, vc, key, value = (_expand_heads(x, h) for x in (kc, vc, key, value))
    # the context: one product per position for its G rows, (B, H, G·Tq, d)·(B, H, d, Lc)
    qg = query.view(b, g, h, tq, d).transpose(1, 2).reshape(b, h, g * tq, d)
    s_ctx = torch.matmul(qg, kc.transpose(-1, -2)) * scaling + p.bias  # (B, H, G·Tq, Lc)
    s_ctx = s_ctx.view(b, h, g, tq, -1).transpose(1, 2).reshape(n, h, tq, -1)  # (N, H, Tq, Lc)
    # the row's own tokens, causal: query j sits at own index tk - tq + j
    s_own = torch.matmul(query, key.transpose(-1, -2)) * scaling  # (N, H, Tq, Tk)
    if tq > 1:
        future = torch.ones(tq, tk, dtype=torch.bool, device=query.device).triu_(tk - tq + 1)
        s_own = s_own.masked_fill(future, -math.inf)
    w = torch.softmax(torch.cat([s_ctx, s_own], -1), -1, dtype=torch.float32).to(query.dtype)
    lc = kc.shape[-2]
    w_ctx = w[..., :lc].reshape(b, g, h, tq, lc).transpose(1, 2).reshape(b, h, g * tq, lc)
    out = torch.matmul(w_ctx, vc).view(b, h, g, tq, d).transpose(1, 2).reshape(n, h, tq, d)
    out = out + torch.matmul(w[..., lc:], value)
    return out.transpose(1, 2).contiguous(), None


class _OwnTokensLayer(DynamicLayer):
    """One layer's keys/values of the rows' own tokens, in a buffer allocated once for ``capacity``
    tokens: each decoded token is written in place, where a growing cache copies all of them."""

    def __init__(self, capacity: int):
        super().__init__()
        self.capacity, self.length = capacity, 0

    def update(self, key_states, value_states, *args, **kwargs):
        if not self.is_initialized:
            n, h, _, d = key_states.shape
            self.buf_k = key_states.new_empty(n, h, self.capacity, d)
            self.buf_v = value_states.new_empty(n, value_states.shape[1], self.capacity, value_states.shape[3])
            self.device, self.is_initialized = key_states.device, True
        end = self.length + key_states.shape[-2]
        if end > self.capacity:
            raise ValueError(f"the cache holds {self.capacity} tokens; {end} were written")
        self.buf_k[:, :, self.length:end] = key_states
        self.buf_v[:, :, self.length:end] = value_states
        self.length = end
        self.keys, self.values = self.buf_k[:, :, :end], self.buf_v[:, :, :end]
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self.length

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        if self.is_initialized:
            self.buf_k, self.buf_v = self.buf_k[indices], self.buf_v[indices]
            self.keys, self.values = self.buf_k[:, :, :self.length], self.buf_v[:, :, :self.length]


def OwnTokensCache(n_layers: int, capacity: int) -> DynamicCache:
    """A KV cache for the rows' own tokens (the context lives in :class:`SharedPrefix`), preallocated
    for ``capacity`` tokens per row."""
    _checks.integer("n_layers", n_layers, low=1, why="the model's config.num_hidden_layers")
    _checks.integer("capacity", capacity, low=1, why="the most tokens a row writes")
    cache = DynamicCache()
    cache.layers = [_OwnTokensLayer(capacity) for _ in range(n_layers)]
    return cache


def _no_mask(*args, **kwargs):
    return None  # the attention builds its own: context padding bias + causal own part


AttentionInterface.register(NAME, shared_prefix_attention)
AttentionMaskInterface.register(NAME, _no_mask)


def supports_shared_prefix(model) -> bool:
    """Whether ``model`` dispatches attention by ``config._attn_implementation`` with layer indices."""
    _checks.module("model", model)
    model = getattr(model, "module", model)
    cfg = getattr(model, "config", None)
    return cfg is not None and hasattr(cfg, "_attn_implementation") and all(
        hasattr(m, "layer_idx") for m in model.modules() if type(m).__name__.endswith("Attention"))


def shared_prefix(model):
    """Within the block, ``model`` attends with :func:`shared_prefix_attention`."""
    # checked here, at the call: a generator's own checks would wait for the ``with``
    if not supports_shared_prefix(model):
        raise ValueError(f"model ({type(model).__name__}) does not dispatch attention through transformers' "
                         "attention interface; check supports_shared_prefix(model) before using it")
    return _shared_prefix(model)


@contextlib.contextmanager
def _shared_prefix(model):
    cfg = getattr(model, "module", model).config
    old = cfg._attn_implementation
    cfg._attn_implementation = NAME
    try:
        yield
    finally:
        cfg._attn_implementation = old
