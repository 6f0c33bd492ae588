"""One decoding step of a Llama-family model, as plain tensor operations.

Sampling a thought runs the model one token at a time on a few dozen rows. At that size the
``transformers`` forward's own bookkeeping — output capturing, deprecation and kwargs wrappers, a
mask builder, a cache object, about a dozen module calls per layer — costs as much as a good part of
the maths on matrices of 64 × 128. :func:`decode_step` computes the same step from the same weights
with the same operations — RMSNorm, the q/k/v projections, rotary embeddings (the model's own
``rotary_emb``), attention, the SiLU MLP, the final norm and the head — and nothing else: the same
logits, and about a fifth less time per decoded token for the embedded model on one CPU thread
(measured by alternating the two in one process; ``benchmarks/bench_rlp_vs_grpo.py`` has the step).

Attention goes through :func:`slmlab.prefix_attention.shared_prefix_attention`: the context's keys
live in a :class:`~slmlab.prefix_attention.SharedPrefix`, the rows' own tokens in an
:func:`~slmlab.prefix_attention.OwnTokensCache`. Only architectures whose forward is exactly this
are taken (:func:`supports_decode_step`); any other model decodes through its own forward.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .prefix_attention import SharedPrefix, shared_prefix_attention

__all__ = ["supports_decode_step", "decode_step"]

# model types whose decoder layer is: x + attn(norm(x)), then x + mlp(norm(x)), with a SiLU-gated
# MLP, rotary q/k and nothing else (no q/k norms, no sliding window, no embedding scale)
_LLAMA_LIKE = {"llama", "qwen2"}


def supports_decode_step(model) -> bool:
    """Whether ``model`` (a causal LM, possibly wrapped) is one :func:`decode_step` computes exactly."""
    model = getattr(model, "module", model)
    cfg, inner = getattr(model, "config", None), getattr(model, "model", None)
    if cfg is None or inner is None or getattr(cfg, "model_type", None) not in _LLAMA_LIKE:
        return False
    if getattr(cfg, "hidden_act", None) != "silu" or getattr(cfg, "pretraining_tp", 1) != 1:
        return False
    if any(t != "full_attention" for t in (getattr(cfg, "layer_types", None) or [])):
        return False  # a sliding-window layer attends to a window, not to every token before it
    if not all(hasattr(inner, a) for a in ("embed_tokens", "layers", "norm", "rotary_emb")):
        return False
    want = {"self_attn": ("q_proj", "k_proj", "v_proj", "o_proj"), "mlp": ("gate_proj", "up_proj", "down_proj"),
            "input_layernorm": ("weight",), "post_attention_layernorm": ("weight",)}
    return all(hasattr(getattr(layer, part, None), a) for layer in inner.layers
               for part, attrs in want.items() for a in attrs)


def _rms_norm(x: torch.Tensor, norm) -> torch.Tensor:
    # the model's RMSNorm, op for op: in float32, scaled by its weight in the input's dtype
    dtype = x.dtype
    x = x.to(torch.float32)
    x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + norm.variance_epsilon)
    return norm.weight * x.to(dtype)


def _linear(x: torch.Tensor, proj) -> torch.Tensor:
    return F.linear(x, proj.weight, proj.bias)  # the nn.Linear's own maths, without a module call


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), -1) * sin


@torch.no_grad()
def decode_step(model, tokens: torch.Tensor, positions: torch.Tensor, prefix: SharedPrefix, cache) -> torch.Tensor:
    """Logits (rows, V) of the next token after ``tokens`` (rows,), at ``positions`` (rows, 1), for
    rows that attend to their context in ``prefix`` and to their own earlier tokens in ``cache``
    (whose layers' ``update`` appends this token's keys and values, as a ``transformers`` cache does)."""
    model = getattr(model, "module", model)
    inner, cfg = model.model, model.config
    n = tokens.shape[0]
    heads, kv_heads = cfg.num_attention_heads, cfg.num_key_value_heads
    x = F.embedding(tokens, inner.embed_tokens.weight)  # (n, D)
    cos, sin = inner.rotary_emb(x[:, None], positions)  # (n, 1, d) each
    cos, sin = cos[:, None], sin[:, None]               # (n, 1, 1, d): broadcast over heads
    for i, layer in enumerate(inner.layers):
        attn = layer.self_attn
        h = _rms_norm(x, layer.input_layernorm)
        d = attn.head_dim
        q = _rotate(_linear(h, attn.q_proj).view(n, heads, 1, d), cos, sin)
        k = _rotate(_linear(h, attn.k_proj).view(n, kv_heads, 1, d), cos, sin)
        k, v = cache.layers[i].update(k, _linear(h, attn.v_proj).view(n, kv_heads, 1, d))
        o, _ = shared_prefix_attention(attn, q, k, v, None, scaling=attn.scaling, shared_prefix=prefix)
        x = x + _linear(o.reshape(n, heads * d), attn.o_proj)
        mlp = layer.mlp
        h = _rms_norm(x, layer.post_attention_layernorm)
        x = x + _linear(F.silu(_linear(h, mlp.gate_proj)) * _linear(h, mlp.up_proj), mlp.down_proj)
    return _linear(_rms_norm(x, inner.norm), model.lm_head)
