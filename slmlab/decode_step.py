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

from . import _checks
from .prefix_attention import SharedPrefix, shared_prefix_attention

__all__ = ["supports_decode_step", "why_not_decode_step", "DecodePlan", "decode_step"]

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
    _checks.module("model", model)
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
    _checks.module("model", model)
    return why_not_decode_step(model) is None


def _has_global_hooks() -> bool:
    from torch.nn.modules import module as m
    return bool(m._global_forward_hooks or m._global_forward_pre_hooks)


_SILU = (SiLUActivation, torch.nn.SiLU)


def _rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    # the model's RMSNorm, op for op: in float32, scaled by its weight in the input's dtype
    dtype = x.dtype
    if dtype != torch.float32:
        x = x.to(torch.float32)
    x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return weight * (x if dtype == torch.float32 else x.to(dtype))


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, half: int) -> torch.Tensor:
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), -1) * sin


class DecodePlan:
    """What :func:`decode_step` reads from the model, looked up once per decoding loop instead of
    once per token: each layer's weights and norms, and the rotary tables of every position the loop
    can reach (the model's own ``rotary_emb``, run once over them: its values are computed position
    by position, so a table row is the very number a step would compute)."""

    def __init__(self, model, max_position: int):
        _checks.module("model", model)
        _checks.integer("max_position", max_position, low=0, why="the largest position the loop decodes at")
        model = getattr(model, "module", model)
        inner, cfg = model.model, model.config
        self.heads, self.kv_heads = cfg.num_attention_heads, cfg.num_key_value_heads
        self.embed, self.lm_head = inner.embed_tokens.weight, (model.lm_head.weight, model.lm_head.bias)
        self.norm = (inner.norm.weight, inner.norm.variance_epsilon)
        self.layers = []
        for layer in inner.layers:
            a, m = layer.self_attn, layer.mlp
            self.layers.append((a, a.head_dim, a.scaling,
                                (layer.input_layernorm.weight, layer.input_layernorm.variance_epsilon),
                                [(p.weight, p.bias) for p in (a.q_proj, a.k_proj, a.v_proj, a.o_proj)],
                                (layer.post_attention_layernorm.weight, layer.post_attention_layernorm.variance_epsilon),
                                [(p.weight, p.bias) for p in (m.gate_proj, m.up_proj, m.down_proj)]))
        pos = torch.arange(max_position + 1, device=self.embed.device)[None]
        # the rotary module casts to its input's dtype: the embeddings', as in a step
        cos, sin = inner.rotary_emb(self.embed.new_empty((1, 1, 1)), pos)  # (1, P, d) each
        self.cos, self.sin = cos[0], sin[0]


@torch.no_grad()
def decode_step(model, tokens: torch.Tensor, positions: torch.Tensor, prefix: SharedPrefix, cache,
                plan: DecodePlan | None = None) -> torch.Tensor:
    """Logits (rows, V) of the next token after ``tokens`` (rows,), at ``positions`` (rows, 1), for
    rows that attend to their context in ``prefix`` and to their own earlier tokens in ``cache``
    (whose layers' ``update`` appends this token's keys and values, as a ``transformers`` cache does).
    ``plan``: a :class:`DecodePlan` of this model covering ``positions`` (built here when None)."""
    if not isinstance(prefix, SharedPrefix):
        raise TypeError(f"prefix must be a SharedPrefix of the rows' contexts, got {type(prefix).__name__}")
    if tokens.ndim != 1 or tuple(positions.shape) != (tokens.shape[0], 1):
        raise ValueError(f"tokens must be (rows,) and positions (rows, 1); got {tuple(tokens.shape)} and "
                         f"{tuple(positions.shape)}: pass one token and one position per row")
    n = tokens.shape[0]
    x = F.embedding(tokens, plan.embed if plan is not None else getattr(model, "module", model).model.embed_tokens.weight)
    if plan is None:
        plan = DecodePlan(model, int(positions.max()))
    heads, kv_heads = plan.heads, plan.kv_heads
    cos, sin = plan.cos[positions[:, 0]], plan.sin[positions[:, 0]]  # (n, d) each
    cos, sin = cos[:, None, None], sin[:, None, None]  # (n, 1, 1, d): broadcast over heads
    for i, (attn, d, scaling, norm1, (q_p, k_p, v_p, o_p), norm2, (g_p, u_p, dn_p)) in enumerate(plan.layers):
        h = _rms_norm(x, *norm1)
        half = d // 2
        q = _rotate(F.linear(h, *q_p).view(n, heads, 1, d), cos, sin, half)
        k = _rotate(F.linear(h, *k_p).view(n, kv_heads, 1, d), cos, sin, half)
        k, v = cache.layers[i].update(k, F.linear(h, *v_p).view(n, kv_heads, 1, d))
        o, _ = shared_prefix_attention(attn, q, k, v, None, scaling=scaling, shared_prefix=prefix)
        x = x + F.linear(o.reshape(n, heads * d), *o_p)
        h = _rms_norm(x, *norm2)
        x = x + F.linear(F.silu(F.linear(h, *g_p)) * F.linear(h, *u_p), *dn_p)
    return F.linear(_rms_norm(x, *plan.norm), *plan.lm_head)
