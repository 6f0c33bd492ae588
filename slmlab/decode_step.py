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
are taken, and only when nothing lives in a module call that this step would skip — a hook, a
wrapped or subclassed module (:func:`why_not_decode_step`): the sampler must draw from the model that
is scored and updated. Any other model decodes through its own forward.
"""
from __future__ import annotations

import importlib

import torch
import torch.nn.functional as F

try:
    from transformers.activations import SiLUActivation
except ImportError:  # older transformers use torch's own
    SiLUActivation = torch.nn.SiLU

from .prefix_attention import SharedPrefix, shared_prefix_attention

__all__ = ["supports_decode_step", "why_not_decode_step", "decode_step"]

# model types whose decoder layer is: x + attn(norm(x)), then x + mlp(norm(x)), with a SiLU-gated
# MLP, rotary q/k and nothing else (no q/k norms, no sliding window, no embedding scale); the class
# name prefix of their modules in transformers
_LLAMA_LIKE = {"llama": "Llama", "qwen2": "Qwen2"}


def _module_types(model_type: str) -> dict:
    """The exact module classes of ``model_type`` that :func:`decode_step` computes without calling."""
    prefix = _LLAMA_LIKE[model_type]
    mod = importlib.import_module(f"transformers.models.{model_type}.modeling_{model_type}")
    return {"model": getattr(mod, f"{prefix}ForCausalLM"), "inner": getattr(mod, f"{prefix}Model"),
            "layer": getattr(mod, f"{prefix}DecoderLayer"), "self_attn": getattr(mod, f"{prefix}Attention"),
            "mlp": getattr(mod, f"{prefix}MLP"), "norm": getattr(mod, f"{prefix}RMSNorm")}


def why_not_decode_step(model) -> str | None:
    """Why :func:`decode_step` would not compute what ``model``'s own modules compute, or None.

    It reads the weights and never calls the modules, so anything that lives in a module call is
    invisible to it: a forward hook or pre-hook (on any module, or a global one), a module replaced
    by a wrapper or a subclass (a LoRA-style adapter around a projection, a parametrized weight, a
    patched norm), a ``forward`` set on an instance (accelerate's offloading hooks), dropout in
    training mode. Each of those is caught here by what it changes — exact module classes, hook
    tables, instance attributes — and the sampler then goes through the modules instead."""
    model = getattr(model, "module", model)
    cfg, inner = getattr(model, "config", None), getattr(model, "model", None)
    if cfg is None or inner is None or getattr(cfg, "model_type", None) not in _LLAMA_LIKE:
        return "not a Llama-family causal LM"
    if getattr(cfg, "hidden_act", None) != "silu" or getattr(cfg, "pretraining_tp", 1) != 1:
        return "its MLP is not the SiLU-gated one in one piece"
    if any(t != "full_attention" for t in (getattr(cfg, "layer_types", None) or [])):
        return "a sliding-window layer attends to a window, not to every token before it"
    if model.training and float(getattr(cfg, "attention_dropout", 0.0) or 0.0) > 0:
        return "attention dropout is active (training mode)"
    types = _module_types(cfg.model_type)
    if type(model) is not types["model"] or type(inner) is not types["inner"]:
        return f"{type(model).__name__} is not {types['model'].__name__} exactly"
    if not all(hasattr(inner, a) for a in ("embed_tokens", "layers", "norm", "rotary_emb")):
        return "the decoder lacks one of embed_tokens, layers, norm, rotary_emb"
    want = {inner.embed_tokens: torch.nn.Embedding, inner.norm: types["norm"], model.lm_head: torch.nn.Linear}
    for i, layer in enumerate(inner.layers):
        want[layer] = types["layer"]
        for part in ("self_attn", "mlp"):
            want[getattr(layer, part, None)] = types[part]
        for part in ("input_layernorm", "post_attention_layernorm"):
            want[getattr(layer, part, None)] = types["norm"]
        for part, projs in (("self_attn", ("q_proj", "k_proj", "v_proj", "o_proj")),
                            ("mlp", ("gate_proj", "up_proj", "down_proj"))):
            for proj in projs:
                want[getattr(getattr(layer, part, None), proj, None)] = torch.nn.Linear
        if type(getattr(getattr(layer, "mlp", None), "act_fn", None)) not in _SILU:
            return f"layer {i}'s activation is {type(layer.mlp.act_fn).__name__}, not SiLU"
    for module, cls in want.items():
        if type(module) is not cls:  # a wrapper or subclass may compute something else
            return f"{type(module).__name__} stands where {cls.__name__} is expected (a wrapper or subclass)"
    if _has_global_hooks():
        return "a global module forward hook is registered"
    for name, module in model.named_modules():
        if module._forward_hooks or module._forward_pre_hooks:
            return f"module {name or '(the model)'} has a forward hook"
        if "forward" in vars(module):
            return f"module {name or '(the model)'} has its forward replaced on the instance"
    return None


def supports_decode_step(model) -> bool:
    """Whether ``model`` (a causal LM, possibly wrapped) is one :func:`decode_step` computes exactly:
    a Llama-family architecture whose modules are the library's own, unhooked (see
    :func:`why_not_decode_step`)."""
    return why_not_decode_step(model) is None


def _has_global_hooks() -> bool:
    from torch.nn.modules import module as m
    return bool(m._global_forward_hooks or m._global_forward_pre_hooks)


_SILU = (SiLUActivation, torch.nn.SiLU)


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
