"""G-Vendi: the diversity of a dataset measured in the gradient space of a small proxy model
(Jung et al., "Prismatic Synthesis", arXiv 2505.20161).

For every example (prompt, solution) we take the gradient of the proxy model's *mean* next-token
loss on the solution tokens (the prompt is context only), with respect to a stated subset of the
proxy's parameters. Gradients are long (tens of thousands of numbers even for a subset), so each is
projected to a fixed dimension ``k`` with a seeded Rademacher matrix ``R`` (entries ±1, scaled by
1/sqrt(k)): by Johnson-Lindenstrauss, ``(R g_i)·(R g_j) ≈ g_i·g_j``. The projected gradients are
L2-normalised, and G-Vendi is the Vendi score of them under the cosine kernel, i.e. the effective
number of distinct *learning directions* in the data.

Where this departs from the authors' code, and why:
- the proxy is the embedded 1.1M-parameter model, not Qwen2.5-0.5B-Instruct, and only a subset of
  its parameters (default: the last block's MLP down projection, 65k numbers) carries gradients, so it fits a CPU;
- per-example gradients come from one ``torch.func`` call per batch (``vmap(grad(functional_call))``)
  instead of batch-size-1 backward passes; the tests check both give the same numbers;
- ``R`` is never held: rows are generated block by block from a seeded generator (TRAK's
  ``BasicProjector`` does the same); the rows of ``R`` depend only on (seed, row), so the result
  does not depend on the block size;
- the projected features are cached as safetensors keyed by a hash of the model's weights, the
  token ids, the parameter subset, the projection dimension and the seed;
- a second, independent proxy (:func:`train_proxy`) is a smaller model trained from scratch by the
  embedded model's recipe (its data mixture, learning rate and schedule) for a few hundred steps
  with its own seed, sharing the embedded tokenizer: the authors' proxy is an off-the-shelf
  pretrained model, and a measure that the prismatic loop did not optimise needs a model the loop
  never saw.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch.func import functional_call, grad, vmap
from tqdm.auto import tqdm

from . import _checks
from .diversity import vendi_score

__all__ = ["solution_batch", "default_parameters", "rademacher_rows", "rademacher_matrix", "project",
           "per_example_gradients", "gradient_features", "g_vendi", "train_proxy", "ROW_GROUP"]

ROW_GROUP = 2048   # rows of R drawn from one seeded generator; the unit that makes R block-size free


def _check_pairs(prompts, solutions) -> tuple[list[str], list[str]]:
    for name, v in (("prompts", prompts), ("solutions", solutions)):
        if isinstance(v, str) or not hasattr(v, "__iter__"):
            raise ValueError(f"{name} must be a list of strings, not {type(v).__name__}")
    prompts, solutions = list(prompts), list(solutions)
    if not prompts:
        raise ValueError("the dataset is empty: prompts and solutions need at least one example")
    if len(prompts) != len(solutions):
        raise ValueError(f"prompts has {len(prompts)} items but solutions has {len(solutions)}; pass one solution per prompt")
    for name, v in (("prompts", prompts), ("solutions", solutions)):
        bad = [i for i, t in enumerate(v) if not isinstance(t, str)]
        if bad:
            raise ValueError(f"{name}[{bad[0]}] is {type(v[bad[0]]).__name__}; every item must be a string")
    return prompts, solutions


def solution_batch(tokenizer, prompts, solutions, max_length: int = 320) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids of ``prompt + solution`` (right-padded) and labels that are the ids on solution
    tokens and -100 elsewhere. Returns ``(input_ids, labels)``, both (n, T) long.

    Right padding needs no attention mask: a causal model never lets a later pad influence an earlier
    token. An example whose solution has no tokens (or is cut off by ``max_length``) is an error: its
    mean loss would be 0/0."""
    prompts, solutions = _check_pairs(prompts, solutions)
    pre = tokenizer(prompts, add_special_tokens=True)["input_ids"]
    sol = tokenizer(solutions, add_special_tokens=False)["input_ids"]
    for i, (p, s) in enumerate(zip(pre, sol)):
        if not s:
            raise ValueError(f"example {i} has no solution tokens (solutions[{i}]={solutions[i]!r}); "
                             "every example needs a non-empty solution")
        if len(p) >= max_length:
            raise ValueError(f"example {i}: the prompt alone has {len(p)} tokens, >= max_length={max_length}, "
                             "so no solution token is left; shorten it or raise max_length")
    width = min(max_length, max(len(p) + len(s) for p, s in zip(pre, sol)))
    ids = torch.full((len(pre), width), tokenizer.pad_token_id, dtype=torch.long)
    labels = torch.full((len(pre), width), -100, dtype=torch.long)
    for i, (p, s) in enumerate(zip(pre, sol)):
        seq = (p + s)[:width]
        ids[i, :len(seq)] = torch.tensor(seq)
        labels[i, len(p):len(seq)] = torch.tensor(seq[len(p):])
    return ids, labels


def default_parameters(model) -> list[str]:
    """The stated subset: the last decoder block's MLP down projection (65,536 numbers in the
    embedded model). Late layers carry the most example-specific gradient signal and cost the least
    backward pass; one matrix keeps the projection (D x dim multiply-adds per example) cheap."""
    _checks.module("model", model)
    names = [n for n, _ in model.named_parameters()]
    blocks = sorted({int(n.split(".")[2]) for n in names if n.startswith("model.layers.")})
    if not blocks:
        raise ValueError("model has no 'model.layers.N' parameters; pass params=[names] explicitly")
    return [n for n in names if n.startswith(f"model.layers.{blocks[-1]}.mlp.down_proj.")]


def _check_params(model, params) -> list[str]:
    names = dict(model.named_parameters())
    if params is None:
        return default_parameters(model)
    if isinstance(params, str) or not params:
        raise ValueError("params must be a non-empty list of parameter names (see model.named_parameters())")
    missing = [p for p in params if p not in names]
    if missing:
        raise ValueError(f"params {missing[:3]} are not parameters of the model; e.g. {list(names)[:3]}")
    return list(dict.fromkeys(params))


def _group_rows(seed: int, group: int, dim: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(int(seed) * 1_000_003 + group)
    return torch.randint(0, 2, (ROW_GROUP, dim), generator=gen, dtype=torch.int8)


def rademacher_rows(seed: int, start: int, stop: int, dim: int) -> torch.Tensor:
    """Rows ``start:stop`` of the seeded Rademacher matrix R (float32, entries ±1, shape
    (stop - start, dim)). Row r comes from generator group ``r // ROW_GROUP`` only, so any block
    decomposition of R gives the same matrix."""
    _checks.seed(seed)
    _checks.integer("dim", dim, low=1, why="the projection's width")
    if not (0 <= start <= stop):
        raise ValueError(f"need 0 <= start <= stop, got start={start}, stop={stop}")
    parts = []
    for group in range(start // ROW_GROUP, -(-stop // ROW_GROUP)):
        lo, hi = max(start, group * ROW_GROUP), min(stop, (group + 1) * ROW_GROUP)
        rows = _group_rows(seed, group, dim)[lo - group * ROW_GROUP: hi - group * ROW_GROUP]
        parts.append(rows.to(torch.float32).mul_(2).sub_(1))
    return torch.cat(parts) if parts else torch.empty(0, dim)


def rademacher_matrix(seed: int, n_rows: int, dim: int) -> torch.Tensor:
    """The whole R (n_rows x dim) at once: only for tests and small sizes."""
    _checks.integer("n_rows", n_rows, low=1, why="the gradient's length D")
    return rademacher_rows(seed, 0, n_rows, dim)


def project(gradients: torch.Tensor, dim: int, seed: int = 0, block_rows: int = 8192) -> torch.Tensor:
    """``gradients @ R / sqrt(dim)`` for gradients (n, D), accumulating over blocks of ``block_rows``
    rows of R so at most (block_rows x dim) of R exists at a time."""
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ValueError(f"dim={dim!r} must be a positive int")
    if isinstance(block_rows, bool) or not isinstance(block_rows, int) or block_rows < 1:
        raise ValueError(f"block_rows={block_rows!r} must be a positive int")
    if gradients.ndim != 2:
        raise ValueError(f"gradients must be (n examples, D), got shape {tuple(gradients.shape)}")
    g = gradients.to(torch.float32)
    out = torch.zeros(g.shape[0], dim)
    for lo in range(0, g.shape[1], block_rows):
        hi = min(g.shape[1], lo + block_rows)
        out.addmm_(g[:, lo:hi], rademacher_rows(seed, lo, hi, dim))
    return out / math.sqrt(dim)


def per_example_gradients(model, input_ids: torch.Tensor, labels: torch.Tensor, params: list[str]) -> torch.Tensor:
    """Flattened gradient of each example's mean solution-token loss w.r.t. ``params`` (in that
    order): (n, D). One ``vmap(grad(functional_call))``: the model runs on every example as a batch
    of one, and torch.func batches the work."""
    _checks.module("model", model)
    _checks.strings("params", params)  # a single name would be split into its letters
    if input_ids.ndim != 2 or input_ids.shape != labels.shape:
        raise ValueError(f"input_ids and labels must be (n, T) of one shape, got {tuple(input_ids.shape)} and "
                         f"{tuple(labels.shape)}: build them with solution_batch")
    named = dict(model.named_parameters())
    trainable = {n: named[n].detach() for n in params}
    frozen = {n: p.detach() for n, p in named.items() if n not in trainable}
    frozen.update(dict(model.named_buffers()))

    def mean_solution_loss(theta, ids, lab):                  # ids, lab: (T,)
        logits = functional_call(model, {**frozen, **theta}, (ids.unsqueeze(0),)).logits[0]   # (T, V)
        logp = torch.log_softmax(logits[:-1].float(), dim=-1)
        target = lab[1:]
        mask = (target != -100).float()
        nll = -logp.gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        return (nll * mask).sum() / mask.sum()

    grads = vmap(grad(mean_solution_loss), in_dims=(None, 0, 0))(trainable, input_ids, labels)
    return torch.cat([grads[n].reshape(len(input_ids), -1) for n in params], dim=1)


def _cache_key(model, ids: torch.Tensor, params: list[str], dim: int, seed: int) -> str:
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    h.update(ids.numpy().tobytes())
    h.update(json.dumps({"params": params, "dim": dim, "seed": seed, "shape": list(ids.shape),
                         "row_group": ROW_GROUP}).encode())
    return h.hexdigest()[:24]


def gradient_features(model, tokenizer, prompts, solutions, params=None, dim: int = 512, seed: int = 0,
                      batch_size: int = 32, project_batch: int = 256, block_rows: int = 8192, cache_dir=None,
                      max_length: int = 320, progress: bool = True) -> np.ndarray:
    """L2-normalised projected gradients, (n, dim) float32 numpy, one row per example in order.

    ``params``: parameter names that carry gradients (default :func:`default_parameters`).
    ``batch_size`` examples share one vmapped pass; ``project_batch`` examples' gradients (n x D
    float32) are held at once for one pass over R. With
    ``cache_dir``, the result is stored as ``gvendi-<hash>.safetensors`` and a rerun with the same
    model weights, examples, params, dim and seed loads it instead of recomputing."""
    params = _check_params(model, params)
    for name, v in (("batch_size", batch_size), ("project_batch", project_batch)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name}={v!r} must be a positive int")
    ids, labels = solution_batch(tokenizer, prompts, solutions, max_length)
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"gvendi-{_cache_key(model, ids, params, dim, seed)}.safetensors"
        if path.exists():
            return load_file(path)["features"].numpy()
    # Sequence length = last solution token + 1. Similar lengths in one batch: less padding, and
    # padding is all the forward pass wastes.
    lengths = torch.where(labels != -100, torch.arange(labels.shape[1]), -1).max(1).values + 1
    order = torch.argsort(lengths, stable=True)
    was_impl = getattr(model.config, "_attn_implementation", None)
    if was_impl not in (None, "eager") and hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("eager")   # SDPA's CPU backward has no vmap rule (a slow per-example loop)
    feats = torch.empty(len(ids), dim)
    # Gradients of up to `project_batch` examples are gathered before one pass over R: drawing R's
    # rows costs about as much as multiplying by them, so it is paid once per gather, not per batch.
    step = max(batch_size, project_batch - project_batch % batch_size)
    try:
        with tqdm(total=len(ids), desc="G-Vendi gradients", disable=not progress) as bar:
            for lo in range(0, len(ids), step):
                chunk = order[lo: lo + step]
                grads = []
                for b in range(0, len(chunk), batch_size):
                    idx = chunk[b: b + batch_size]
                    width = int(lengths[idx].max())   # trim right padding
                    grads.append(per_example_gradients(model, ids[idx, :width], labels[idx, :width], params))
                    bar.update(len(idx))
                feats[chunk] = project(torch.cat(grads), dim, seed, block_rows)
                del grads
    finally:
        if was_impl not in (None, "eager") and hasattr(model, "set_attn_implementation"):
            model.set_attn_implementation(was_impl)
    norms = feats.norm(dim=1, keepdim=True)
    if (norms == 0).any():
        i = int((norms[:, 0] == 0).nonzero()[0])
        raise ValueError(f"example {i} has an all-zero gradient on params; choose parameters its loss depends on")
    feats = (feats / norms).contiguous()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        os.close(fd)
        try:
            save_file({"features": feats}, tmp, metadata={"params": json.dumps(params), "dim": str(dim),
                                                          "seed": str(seed)})
            os.replace(tmp, path)   # a half-written cache file never carries the real name
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return feats.numpy()


def g_vendi(features) -> float:
    """G-Vendi of gradient features (n, dim): the Vendi score under the cosine kernel, between 1
    (every example pushes the model the same way) and min(n, dim)."""
    return vendi_score(features, q=1.0, normalize=True)


def train_proxy(tokenizer, seed: int, hidden_size: int = 64, n_layers: int = 2, n_heads: int = 4,
                steps: int = 200, batch_size: int = 8, n_docs: int = 4000, lr: float = 3e-3,
                direct_share: float = 0.2, device="cpu", progress: bool = True):
    """A small proxy model trained from scratch by the embedded model's recipe, shortened: ``n_docs``
    arithmetic problems of the recipe's distribution (1-4 steps, ``direct_share`` answer-only, drawn
    with ``seed``), ``steps`` optimizer steps of ``batch_size`` packed 256-token blocks at the recipe's
    peak rate with cosine decay, weights initialised with ``seed``. Returns ``(model, history)``, the
    model in eval mode; ``history`` holds ``loss`` (per step), ``tokens`` and ``eval_loss`` (nats per
    token on held-out problems of the same distribution).

    Defaults give about 164k parameters and 0.4M training tokens: seconds on a CPU, and a model that
    has learnt the format and the step structure but not yet the arithmetic (its eval loss says how far
    it got). Use it as a proxy the experiment under study never saw; a different ``seed`` (or size)
    gives another. ``device``: where it trains and stays."""
    from .models import build_model, tiny_llama_config
    from .problems import ProblemConfig, make_splits
    from .training import TrainConfig, pretrain

    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative int")
    if isinstance(n_docs, bool) or not isinstance(n_docs, int) or n_docs < batch_size:
        raise ValueError(f"n_docs={n_docs!r} must be an int >= batch_size={batch_size} (documents to train on)")
    data = make_splits(n_docs, max(32, n_docs // 20), seed, ProblemConfig(), direct_share)
    model = build_model(tiny_llama_config(tokenizer, hidden_size, n_layers, n_heads), seed=seed).to(device)
    cfg = TrainConfig(steps=steps, batch_size=batch_size, block_size=256, lr=lr,
                      warmup_steps=max(1, steps // 10), eval_every=0, seed=seed, progress=progress)
    run = pretrain(model, tokenizer, list(data["train"]["text"]), cfg, eval_texts=list(data["eval"]["text"]))
    history = {"loss": [r["loss"] for r in run["history"]], "tokens": run["tokens"],
               "eval_loss": run["final_eval_loss"]}
    return run["model"].eval(), history
