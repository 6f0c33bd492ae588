"""An exponential moving average (EMA) copy of a model: the lagged no-think baseline of RLP.

φ starts as an exact copy of θ and after every optimizer step moves a fraction 1 − τ towards it:
φ ← τ·φ + (1 − τ)·θ. It never receives gradients and always runs in eval mode.
"""
from __future__ import annotations

import copy

import torch

from . import _checks

__all__ = ["ema_copy", "ema_update"]


def ema_copy(model) -> torch.nn.Module:
    """A frozen deep copy of ``model`` (same device, dtype and tied weights), in eval mode."""
    _checks.module("model", model)
    ema = copy.deepcopy(model)
    ema.eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    return ema


@torch.no_grad()
def ema_update(ema, model, decay: float) -> None:
    """φ ← decay·φ + (1 − decay)·θ for every parameter; buffers (rotary tables) are copied.

    Parameters are matched by name, so tied weights are updated once and both models must share
    the same architecture."""
    if not (isinstance(decay, (int, float)) and 0.0 <= decay <= 1.0):
        raise ValueError(f"decay={decay!r} must lie in [0, 1] (the paper uses 0.999)")
    ema_params = dict(ema.named_parameters())
    model_params = dict(model.named_parameters())
    if ema_params.keys() != model_params.keys():
        raise ValueError("ema and model have different parameters; build ema with ema_copy(model)")
    names = list(model_params)
    # lerp: φ + (1 − τ)(θ − φ) == τφ + (1 − τ)θ, one fused kernel over all tensors
    torch._foreach_lerp_([ema_params[n] for n in names],
                         [model_params[n].detach().to(ema_params[n].dtype) for n in names], 1.0 - decay)
    for (_, b_ema), (_, b) in zip(ema.named_buffers(), model.named_buffers()):
        b_ema.copy_(b)
