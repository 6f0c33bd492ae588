"""RLP: reinforcement learning as a pretraining objective, with an information-gain reward
(Hatamizadeh et al., arXiv 2510.01265).

At a position t of a document the model first samples a thought c after ``<think>``, then is
rewarded by how much that thought raised the log-probability of the tokens that really come next,
against a lagged no-think copy of itself:

    r(c) = log p_θ(x_t | x_<t, <think> c </think>) − log p_φ(x_t | x_<t),   φ = EMA(θ)

Only the thought tokens receive gradient (a clipped policy-gradient surrogate); there is no
next-token loss. :func:`rlp_step` is the paper's Algorithm 1, written in the same stages. Where
thoughts go, how they are sampled and scored lives in :mod:`slmlab.thoughts`; this module holds the
config, the reward, the advantage, the loss, the step and the run (checkpoints, DDP).

Where this implementation departs from the paper, and why:

- Thoughts are short (``max_thought_tokens`` 32, paper 2048) and G is small (8, paper 16): a
  1M-parameter model on a 2-core CPU writes 20-token arithmetic chains, not essays.
- The paper does not say how positions are chosen. Both are here: :func:`uniform_positions` draws
  token positions uniformly from documents; :func:`answer_positions` puts them at the answer of
  worked problems (the notebook's choice: the answer is where thinking helps).
- The reward may sum the log-probabilities of the next k tokens (``reward_tokens``; None = the whole
  target span, e.g. every digit of the answer) instead of one token: the first digit alone is often
  guessable without thinking, so one token carries little signal at this scale.
- Clip values ε_ℓ, ε_h are not given in the paper; we use 0.2 / 0.28 (DAPO's "clip higher").
- One optimizer pass per batch of thoughts (``ppo_epochs=1``, not stated in the paper): θ_old = θ,
  so the ratio is exactly 1 and clipping only acts when ``ppo_epochs > 1``.
- The sampled closing ``</think>`` is part of the action (the policy's decision to stop); a thought
  cut at the length cap is closed by the wrapper for scoring, and that ``</think>`` is no action.
- Thoughts are sampled with per-(position, g) random streams (Gumbel-max over the logits), so the
  same seed gives the same thoughts however positions are split over processes; this is what makes
  a 2-process run equal a 1-process run.
- Thoughts cut by the length cap are left out of the update (``mask_truncated``, as TRL's
  ``mask_truncated_completions``/DAPO's overlong filtering): at this scale a weak model otherwise
  learns to ramble to the cap, restating question text, whose forced close still earns a reward.
  The leave-one-out baseline is then taken over the group's closed thoughts only.
- The models run in eval mode (no dropout) for sampling, scoring and the update.

Where it departs from GRPO (as in TRL's ``GRPOTrainer``), following the paper:

- The reward is dense and self-supervised (information gain from the model's own log-probs), not a
  verifier or a reward model; it needs no answer checker and works on any text.
- The baseline inside the reward is an EMA copy of the policy (τ = 0.999), not a fixed reference.
- The advantage is leave-one-out, G/(G−1)·(r − mean r), with no division by the group std.
- No KL term by default (β = 0); ``kl_beta > 0`` adds GRPO's k3 estimator to a frozen copy of θ₀.
- S_pred is read off the same forward pass that gives the policy log-probs for the update (θ is
  still θ_old then), so scoring costs no pass of its own; a GRPO reward function scores separately.
  (A sparse step, below, scores the distinct thoughts without gradient instead: cheaper than
  back-propagating every thought when most cannot move.)
- A position's context is run once for its G thoughts, both when sampling (one prefill whose keys
  the G rows read with shared-prefix attention, no copy per row) and when scoring (the G suffixes
  run on the context's cache, and the gradient flows back through the cache), instead of once per
  thought as a GRPO trainer does. Sampling stops running a position once its G thoughts are closed.
- Policy log-probs are length-normalised per thought, then averaged over thoughts (GRPO's original
  per-sequence normalisation, not DAPO's per-token one).
- Only thoughts that can move are back-propagated (``sparse_update``). A thought cut by the cap, or
  one in a group whose valid thoughts are all the same, has advantage 0 and so no gradient; the step
  then scores each distinct (position, thought) once without gradient for the rewards, and runs the
  update's forward and backward on the distinct thoughts that can move, each weighted by its copies.
  It is the same update up to rounding, and it makes those advantages exactly 0: computing r − mean r
  in floats leaves ~1e-7 of rounding there, which Adam would scale up to a full-sized step. The step
  takes this path when its estimated cost is lower (a model whose G thoughts often coincide), and
  its FLOP count is that of the passes it runs.
"""
from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import dataclass

import torch
from accelerate import Accelerator
from safetensors.torch import save_model as save_safetensors_model

from . import _checks, _trainer_loop, checkpoint
from .ema import ema_copy, ema_update
from .thoughts import (ThoughtFormat, answer_positions, baseline_logprob, build_thought_batch, distinct_rows,
                       forward_contexts, sample_thoughts, score_thoughts, select_rows, uniform_positions)
from .training import autocast_dtype

__all__ = ["RLPConfig", "ThoughtFormat", "thought_format", "answer_positions", "uniform_positions",
           "sample_thoughts", "build_thought_batch", "score_thoughts", "baseline_logprob",
           "information_gain_reward", "leave_one_out_advantage", "clipped_thought_loss",
           "evaluate_thoughts", "rlp_step", "train_rlp", "step_flops", "think_accuracy", "thought_diversity"]


@dataclass
class RLPConfig:
    """Every knob of an RLP run. Defaults suit the 1.1M-parameter embedded model on a 2-core CPU;
    the paper's value is given where it differs."""

    steps: int = 100                   # optimizer steps
    batch_positions: int = 16          # B: positions per step, global over all processes (paper: 512)
    group_size: int = 8                # G: thoughts per position, >= 2 (paper: 16; 8 was close)
    max_thought_tokens: int = 32       # length cap of a thought (paper: 2048)
    temperature: float = 0.7           # thought sampling temperature (paper: 0.7)
    reward_tokens: int | None = None   # k: reward sums log p of the next k target tokens; None = all
    lr: float = 1e-4                   # AdamW, constant after warmup (paper: 1e-6 for a 1.7B model)
    warmup_steps: int = 5              # linear warmup
    weight_decay: float = 0.0
    betas: tuple = (0.9, 0.95)
    adam_eps: float = 1e-8             # AdamW epsilon (a large value makes the first steps SGD-like)
    grad_clip: float = 1.0             # max grad norm (0: off)
    clip_low: float = 0.2              # ε_ℓ of the clipped ratio (paper: unstated)
    clip_high: float = 0.28            # ε_h, asymmetric "clip higher" (paper: unstated)
    ppo_epochs: int = 1                # μ: update passes over one batch of thoughts (paper: unstated);
                                       # at 1 the ratio is exactly 1 and the clip never acts
    mask_truncated: bool = True        # thoughts cut by the cap get no gradient and no say in baselines
    micro_batch: int = 64              # thoughts per forward/backward (rounded to whole groups; 0: all)
    sparse_update: bool = True         # back-propagate only thoughts whose advantage can be non-zero, each
                                       # distinct one once, when that is cheaper (same update; kl_beta = 0)
    kl_beta: float = 0.0               # β of a KL to the starting model (paper: 0; 1e-4 hurt)
    ema_decay: float = 0.999           # τ of the EMA baseline φ ← τφ + (1−τ)θ (paper: 0.999)
    think_open: str = "<think>"        # thought delimiters; plain text for a model without the tokens
    think_close: str = "</think>"
    separator: str = " "               # between the closing delimiter and the predicted tokens
    seed: int = 0                      # positions of step s and every thought are functions of (seed, s)
    mixed_precision: str = "auto"      # "auto" (bf16 where native), "bf16", "no"
    checkpoint_every: int = 0          # steps between checkpoints (0: none)
    keep_checkpoints: int = 2          # newest checkpoints kept (>= 1; None: all)
    progress: bool = True

    def __post_init__(self):
        for name in ("steps", "batch_positions", "max_thought_tokens", "ppo_epochs"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name}={v!r} must be a positive int")
        if not isinstance(self.sparse_update, bool):
            raise ValueError(f"sparse_update={self.sparse_update!r} must be True or False")
        if not isinstance(self.micro_batch, int) or self.micro_batch < 0:
            raise ValueError(f"micro_batch={self.micro_batch!r} must be an int >= 0 (0: one pass over all thoughts)")
        if not isinstance(self.group_size, int) or self.group_size < 2:
            raise ValueError(f"group_size={self.group_size!r} must be an int >= 2 (leave-one-out needs two)")
        if self.reward_tokens is not None and (not isinstance(self.reward_tokens, int) or self.reward_tokens < 1):
            raise ValueError(f"reward_tokens={self.reward_tokens!r} must be None or a positive int")
        _checks.number("temperature", self.temperature, low=0.0, low_open=True)
        if not (0.0 <= self.ema_decay <= 1.0):
            raise ValueError(f"ema_decay={self.ema_decay!r} must lie in [0, 1]")
        _checks.number("lr", self.lr, low=0.0, low_open=True)
        _checks.number("adam_eps", self.adam_eps, low=0.0, low_open=True)
        for name in ("kl_beta", "clip_low", "clip_high", "weight_decay"):
            _checks.number(name, getattr(self, name), low=0.0)
        _checks.number("clip_low", self.clip_low, high=1.0, why="the ratio is clipped below at 1 - clip_low")
        _checks.number("grad_clip", self.grad_clip, low=0.0, why="max gradient norm; 0 turns clipping off, "
                      "a negative value would flip every gradient")
        _checks.betas(self.betas)
        for name in ("warmup_steps", "checkpoint_every", "seed"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError(f"{name}={v!r} must be an int >= 0")
        checkpoint.check_keep(self.keep_checkpoints)
        if self.mixed_precision not in ("auto", "bf16", "no"):
            raise ValueError(f"mixed_precision={self.mixed_precision!r} must be 'auto', 'bf16' or 'no'")
        if not self.think_open or not self.think_close:
            raise ValueError("think_open and think_close must be non-empty strings")


# ---------------------------------------------------------------- thought format
def thought_format(tokenizer, cfg: RLPConfig = RLPConfig()) -> ThoughtFormat:
    """Tokenize the delimiters. With the embedded tokenizer ``<think>`` and ``</think>`` are single
    tokens; any other tokenizer spells them as plain text (several tokens), which works the same."""
    if not hasattr(tokenizer, "convert_tokens_to_ids"):
        raise TypeError("tokenizer must be a transformers tokenizer (slmlab.load_model() gives one), "
                        f"got {type(tokenizer).__name__}")
    if not isinstance(cfg, RLPConfig):
        raise TypeError(f"cfg must be an RLPConfig, got {type(cfg).__name__}")
    enc = lambda s: tuple(tokenizer(s, add_special_tokens=False)["input_ids"]) if s else ()
    open_ids, close_ids = enc(cfg.think_open), enc(cfg.think_close)
    if not open_ids or not close_ids:
        raise ValueError("think_open / think_close tokenize to nothing; pick visible delimiters")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    banned = {i for i in (tokenizer.eos_token_id, tokenizer.pad_token_id, tokenizer.bos_token_id) if i is not None}
    if len(open_ids) == 1:
        banned.add(open_ids[0])  # no nested thoughts
    return ThoughtFormat(open_ids, close_ids, enc(cfg.separator), pad, tuple(sorted(banned - set(close_ids))))


@torch.no_grad()  # a reward, not a loss: no graph to build
def information_gain_reward(model, ema_model, positions, thoughts, fmt: ThoughtFormat, group_size: int,
                            reward_tokens=None, amp=None) -> torch.Tensor:
    """r (B, G) = log p_θ(target | context, thought) − log p_φ(target | context), no gradient."""
    _checks.module("model", model)
    _checks.module("ema_model", ema_model)
    batch = build_thought_batch(positions, thoughts, fmt, group_size, reward_tokens)
    s_pred, _, _ = score_thoughts(model, batch, 1.0, amp)
    s_ema = baseline_logprob(ema_model, positions, fmt, reward_tokens, amp)
    return s_pred.view(-1, group_size) - s_ema[:, None]


def leave_one_out_advantage(rewards: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """A (B, G) = G/(G−1)·(r − mean_g r) = r − mean of the other G−1 rewards; no std division.

    With ``valid`` (B, G) bool, only valid thoughts count: each one's baseline is the mean of the
    other valid ones in its group; invalid thoughts, and groups with fewer than two valid, get 0."""
    if rewards.ndim != 2 or rewards.shape[1] < 2:
        raise ValueError(f"rewards must be (B, G) with G >= 2, got shape {tuple(rewards.shape)}")
    if valid is None:
        g = rewards.shape[1]
        return g / (g - 1) * (rewards - rewards.mean(1, keepdim=True))
    if valid.shape != rewards.shape:
        raise ValueError(f"valid must have the shape of rewards {tuple(rewards.shape)}, got {tuple(valid.shape)}")
    v = valid.to(rewards.dtype)
    n = v.sum(1, keepdim=True)  # (B, 1)
    mean = (rewards * v).sum(1, keepdim=True) / n.clamp(min=1)
    return torch.where(valid & (n >= 2), n / (n - 1).clamp(min=1) * (rewards - mean), torch.zeros_like(rewards))


def clipped_thought_loss(logp, old_logp, advantages, thought_mask, clip_low, clip_high, weights=None):
    """The clipped surrogate on thought tokens only, length-normalised per thought (paper eq. 8).

    ``logp``/``old_logp``/``thought_mask`` are (N, T); ``advantages`` (N,). Returns (loss, clip_ratio),
    clip_ratio the share of thought tokens whose ratio left [1−ε_ℓ, 1+ε_h] on the losing side.
    ``weights`` (N,): how many thoughts each row stands for (a distinct thought and its copies);
    the loss is then the weighted mean over rows, and the clip ratio over the weighted tokens."""
    if logp.ndim != 2 or old_logp.shape != logp.shape or thought_mask.shape != logp.shape \
            or tuple(advantages.shape) != (logp.shape[0],):
        raise ValueError(f"logp, old_logp and thought_mask must be (N, T) of one shape and advantages (N,); got "
                         f"{tuple(logp.shape)}, {tuple(old_logp.shape)}, {tuple(thought_mask.shape)} and "
                         f"{tuple(advantages.shape)}")
    m = thought_mask.to(logp.dtype)
    ratio = torch.exp((logp - old_logp) * m)  # (N, T); 1 outside thoughts
    a = advantages.detach()[:, None]
    surrogate = torch.minimum(ratio * a, ratio.clamp(1 - clip_low, 1 + clip_high) * a)  # (N, T)
    per_thought = (surrogate * m).sum(1) / m.sum(1).clamp(min=1)  # (N,)
    clipped = ((ratio < 1 - clip_low) & (a < 0)) | ((ratio > 1 + clip_high) & (a > 0))
    w = torch.ones_like(per_thought) if weights is None else weights.to(logp.dtype)
    clip_ratio = (clipped.float() * m * w[:, None]).sum() / (m * w[:, None]).sum().clamp(min=1)
    return -(w * per_thought).sum() / w.sum(), clip_ratio.detach()


# A sparse step runs the distinct thoughts once without gradient (~1 forward each) and the update on
# those that can move (~3: forward and backward); the dense step runs every thought once (~3). It is
# taken when its estimate is at most this share of the dense one.
_SPARSE_MAX_COST = 0.8


def _sparse_plan(batch, valid, group_size: int):
    """Which rows of ``batch`` can get a non-zero advantage, and whether a sparse step pays.

    A row can move only if it is valid and its group holds at least two valid thoughts that differ:
    equal thoughts on the same context get equal rewards, so a group whose valid thoughts are all the
    same has every advantage 0 (up to rounding), as has a group with fewer than two valid ones.
    Returns None (take the dense step), or (distinct (U,), inverse (N,), counts (U,), can_move (N,))."""
    distinct, inverse = distinct_rows(batch)
    n = len(inverse)
    ok = torch.ones(n, dtype=torch.bool) if valid is None else valid.reshape(-1).cpu()
    groups = inverse.view(-1, group_size)
    differ = torch.tensor([len(set(g[v].tolist())) >= 2 for g, v in zip(groups, ok.view(-1, group_size))])
    can_move = ok & differ.repeat_interleave(group_size)
    movers = len(set(inverse[can_move].tolist()))
    if len(distinct) + 3 * movers > _SPARSE_MAX_COST * 3 * n:
        return None
    return distinct, inverse, torch.bincount(inverse, minlength=len(distinct)), can_move


def step_flops(n_params: int, forward_tokens: int, backward_tokens: int) -> float:
    """Approximate FLOPs of the passes run: 2·P per token of a forward pass, 4·P per token of a
    backward pass (attention ignored). One rule for every pass of every step, dense or sparse: each
    pass counts the padded tokens it really ran, once, where it ran — a decoding step the rows still
    in the batch, a context shared by sampling and scoring the one pass that computed it."""
    _checks.number("n_params", n_params, low=0, low_open=True)
    _checks.number("forward_tokens", forward_tokens, low=0)
    _checks.number("backward_tokens", backward_tokens, low=0)
    return 2.0 * n_params * forward_tokens + 4.0 * n_params * backward_tokens


def _target(position, reward_tokens):
    return list(position["target_ids"])[:reward_tokens] if reward_tokens else list(position["target_ids"])


# ---------------------------------------------------------------- the step
def rlp_step(model, ema_model, optimizer, positions, cfg: RLPConfig, fmt: ThoughtFormat, step: int,
             position_ids=None, accel: Accelerator | None = None, ref_model=None, scheduler=None,
             details: dict | None = None) -> dict:
    """One RLP iteration on this process's share of positions (paper Alg. 1, lines 5-15).

    ``model`` may be wrapped for DDP (gradients are then averaged over processes); ``ema_model`` is
    the EMA baseline φ. Thoughts are scored and back-propagated in micro-batches of whole groups
    (``cfg.micro_batch`` thoughts), so memory is bounded and every group's advantage is complete
    within its micro-batch. Returns the metrics of the step (gathered over processes). A ``details``
    dict, when given, receives this process's ``thoughts`` (B·G id lists), ``rewards`` and
    ``advantages`` (B, G): what the tests check element by element against a naive computation."""
    if not isinstance(cfg, RLPConfig):
        raise TypeError(f"cfg must be an RLPConfig, got {type(cfg).__name__}")
    if not isinstance(fmt, ThoughtFormat):
        raise TypeError(f"fmt must be a ThoughtFormat (thought_format(tokenizer, cfg)), got {type(fmt).__name__}")
    unwrapped = accel.unwrap_model(model) if accel is not None else model
    device = next(unwrapped.parameters()).device
    amp = autocast_dtype(device, cfg.mixed_precision)
    G, t0 = cfg.group_size, time.perf_counter()

    # Stage 1 (Alg. 1 l.5-7): θ_old ← θ; sample G thoughts c ~ π_θold(· | x_<t) per position.
    unwrapped.eval()
    per = max(1, cfg.micro_batch // G) if cfg.micro_batch else len(positions)  # positions per micro-batch
    spans = [(i, min(i + per, len(positions))) for i in range(0, len(positions), per)]
    # With one micro-batch, the contexts run once, with gradient: sampling reads their keys (as the
    # prompts less the open delimiter), the first scoring pass back-propagates through them.
    context = (forward_contexts(unwrapped, positions, fmt, amp)
               if len(spans) == 1 and len(fmt.open_ids) == 1 else None)
    # padded tokens of the forward and backward passes this step runs, each counted where it runs
    ctx_tokens = len(positions) * max(len(p["context_ids"]) for p in positions) if context is not None else 0
    gen_work = {}
    thoughts = sample_thoughts(unwrapped, positions, fmt, G, cfg.max_thought_tokens, cfg.temperature,
                               cfg.seed, step, position_ids, amp, context=context, work=gen_work)  # B·G lists of ids
    gen_tokens = ctx_tokens + gen_work["prefill"] + gen_work["decode"]
    fwd_tok, bwd_tok = gen_tokens, 0
    batches = [build_thought_batch(positions[a:b], thoughts[a * G:b * G], fmt, G, cfg.reward_tokens)
               for a, b in spans]  # each (n_c, T_c), n_c = (b − a)·G
    n_total = len(thoughts)
    t1 = time.perf_counter()

    # Stage 2 (l.10-11): S_ema = log p_φ(x_t | x_<t), no thought; S_pred = log p_θ(x_t | x_<t, c)
    # comes out of the first forward pass of the update itself, under θ = θ_old (a sparse step reads
    # it off a pass without gradient over the distinct thoughts).
    s_ema = baseline_logprob(ema_model, positions, fmt, cfg.reward_tokens, amp)  # (B,)
    fwd_tok += len(positions) * max(len(p["context_ids"]) + len(_target(p, cfg.reward_tokens)) for p in positions)
    ref_logp = [None] * len(batches)
    if cfg.kl_beta > 0:
        with torch.no_grad():
            ref_logp = [score_thoughts(ref_model, b, cfg.temperature, amp)[1] for b in batches]  # (n_c, T_c)
        fwd_tok += sum(b.padded_tokens for b in batches)
    old_logp, rewards, adv = [None] * len(batches), [None] * len(batches), [None] * len(batches)
    trained = [None] * len(batches)  # per micro-batch: (rows back-propagated, their advantages, copies each)
    t_forward, tok_stats, losses, grad_norm = 0.0, [], [], 0.0
    for epoch in range(cfg.ppo_epochs):
        for c, batch in enumerate(batches):
            last = c == len(batches) - 1
            sync = accel.no_sync(model) if (accel is not None and not last) else contextlib.nullcontext()
            with sync:
                tf = time.perf_counter()
                if epoch == 0:
                    a, b = spans[c]
                    valid = ~batch.truncated.to(device).view(-1, G) if cfg.mask_truncated else None
                    plan = _sparse_plan(batch, valid, G) if cfg.sparse_update and cfg.kl_beta == 0 else None
                    if plan is None:  # one pass: rewards and the update's log-probs from the same forward
                        s_pred, logp, entropy = score_thoughts(model, batch, cfg.temperature, amp, context)
                    else:  # rewards from the distinct thoughts, without gradient
                        distinct, inverse, counts, can_move = plan
                        once = select_rows(batch, distinct)
                        with torch.no_grad():
                            s_once, _, entropy = score_thoughts(unwrapped, once, cfg.temperature, amp, context,
                                                                row_weights=counts)
                        fwd_tok += once.padded_tokens - ctx_tokens  # a shared context is read, not run
                        s_pred = s_once[inverse.to(device)]
                    # Stage 3 (l.12): information-gain reward, a constant for the update.
                    rewards[c] = s_pred.view(-1, G) - s_ema[a:b, None]  # (B_c, G)
                    # Stage 4 (l.13): leave-one-out advantage, within each complete group.
                    adv[c] = leave_one_out_advantage(rewards[c], valid).reshape(-1)  # (n_c,)
                    if plan is None:
                        trained[c] = (batch, adv[c], torch.ones_like(adv[c]))
                    else:  # back-propagate each distinct thought that can move, once, weighted by its copies
                        adv[c] = torch.where(can_move.to(device), adv[c], torch.zeros_like(adv[c]))
                        keep = (adv[c][distinct.to(device)] != 0).nonzero()[:, 0].cpu()
                        keep = keep if len(keep) else torch.tensor([0])  # one row (A = 0) keeps DDP in step
                        trained[c] = (select_rows(batch, distinct[keep]), adv[c][distinct[keep].to(device)],
                                      counts[keep].to(device))
                        _, logp, _ = score_thoughts(model, trained[c][0], cfg.temperature, amp, context)
                    old_logp[c] = logp.detach()  # π_θold: θ at sampling time
                    t_forward += time.perf_counter() - tf
                else:
                    _, logp, _ = score_thoughts(model, trained[c][0], cfg.temperature, amp)
                rows, row_adv, weights = trained[c]
                tmask = rows.thought_mask.to(device)
                # this pass: forward (a shared context was run once, above) and backward (into the context)
                fwd_tok += rows.padded_tokens - (ctx_tokens if epoch == 0 else 0)
                bwd_tok += rows.padded_tokens
                # Stage 5 (l.14): clipped surrogate on thought tokens only; no next-token loss.
                loss, clip_ratio = clipped_thought_loss(logp, old_logp[c], row_adv, tmask, cfg.clip_low,
                                                        cfg.clip_high, weights)
                if ref_logp[c] is not None:  # optional KL (β = 0 in the paper): GRPO's k3 estimator
                    d = (ref_logp[c] - logp) * tmask
                    loss = loss + cfg.kl_beta * ((torch.exp(d) - d - 1).sum(1) / tmask.sum(1).clamp(min=1)).mean()
                loss = loss * (float(weights.sum()) / n_total)  # micro-batch means add up to the mean over all thoughts
                (accel.backward(loss) if accel is not None else loss.backward())
            losses.append(float(loss.detach()))
            clipped_tokens = float(clip_ratio) * float((tmask.sum(1) * weights).sum())
            tok_stats.append((float(batch.thought_mask.sum()), float(entropy), clipped_tokens))
        # Stage 6 (l.15): optimizer step, then the EMA baseline follows θ.
        clip_to = cfg.grad_clip or math.inf  # the norm is logged even when clipping is off
        norm = (accel.clip_grad_norm_(model.parameters(), clip_to) if accel is not None
                else torch.nn.utils.clip_grad_norm_(model.parameters(), clip_to))
        grad_norm = float(norm) if epoch == 0 else grad_norm
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        ema_update(ema_model, unwrapped, cfg.ema_decay)
    if scheduler is not None:
        scheduler.step()
    t3 = time.perf_counter()
    if details is not None:
        details.update(thoughts=thoughts, rewards=torch.cat(rewards).detach(),
                       advantages=torch.cat(adv).detach().view(-1, G))

    # Metrics, over all processes (TRL's names where one exists).
    first = tok_stats[:len(batches)]
    n_tok = sum(n for n, _, _ in first) or 1.0
    entropy = sum(n * e for n, e, _ in first) / n_tok
    clip_ratio = sum(k for _, _, k in tok_stats[-len(batches):]) / n_tok  # clipped thought tokens, last pass
    r = torch.cat(rewards).detach().float()  # (B, G)
    # FLOPs count the padded work the passes really ran (step_flops): generation the rows still
    # decoding at each step (a position whose G thoughts have all closed has left the batch), the
    # contexts once, scoring, the EMA pass and the update their padded batches (a sparse step: the
    # distinct thoughts without gradient, then the thoughts that move, with it).
    local = torch.tensor([float(sum(int(b.thought_length.sum()) for b in batches)), float(gen_tokens),
                          float(fwd_tok), float(bwd_tok)])
    if accel is not None and accel.num_processes > 1:
        r = accel.gather(r.contiguous())
        local = accel.reduce(local.to(device), "sum").cpu()
    n_params = sum(p.numel() for p in {id(p): p for p in unwrapped.parameters()}.values())
    gen, gen_tokens, fwd_tok, bwd_tok = (float(v) for v in local)
    # ``loss`` and ``clip_ratio`` are those of the last PPO pass. On the first pass the ratio is 1, so
    # the surrogate is −mean(A), zero by construction (advantages sum to zero in each group) while
    # its gradient is not, and nothing is clipped: both say something only when ppo_epochs > 1.
    return {
        "step": step + 1, "loss": sum(losses[-len(batches):]), "grad_norm": grad_norm,
        "reward": float(r.mean()),
        "reward_std": float(r.std(1).mean()),  # within-group spread, averaged over groups
        "info_gain_positive_frac": float((r > 0).float().mean()),
        "frac_reward_zero_std": float((r.std(1) < 1e-6).float().mean()),
        "entropy": entropy, "thought_length": gen / r.numel(), "clip_ratio": clip_ratio,
        "truncated_frac": float(torch.cat([b.truncated for b in batches]).float().mean()),
        "mixed_sign_frac": float(((r > 0).any(1) & (r < 0).any(1)).float().mean()),
        "gen_s": t1 - t0, "score_s": t_forward, "update_s": t3 - t1 - t_forward,
        "flops": step_flops(n_params, int(fwd_tok), int(bwd_tok)),
        "thought_tokens": gen, "gen_tokens": gen_tokens, "positions": r.shape[0],
    }


# ---------------------------------------------------------------- the run
# RLP's order of positions at a seed differs from pretraining's order of blocks at that seed.
_ORDER_SALT = 7
# Beside _trainer_loop.RESUME_FREE: after warmup the rate is constant, so a run may be extended.
_RESUME_FREE = ("steps",)


def _write_extra(ema, ref, history):
    def write(folder):
        save_safetensors_model(ema, str(folder / "ema.safetensors"))
        if ref is not None:
            save_safetensors_model(ref, str(folder / "reference.safetensors"))
        (folder / "history.json").write_text(json.dumps(history))
    return write


def _read_extra(device, with_ref: bool):
    """RLP's own files of a checkpoint, read into memory; nothing is changed yet."""
    def read(folder):
        tensors = lambda name: checkpoint.read_tensors(folder, name, device=str(device))
        return {"ema": tensors("ema.safetensors"), "ref": tensors("reference.safetensors") if with_ref else None,
                "history": checkpoint.read_json(folder, "history.json")}
    return read


def train_rlp(model, tokenizer, positions, cfg: RLPConfig = RLPConfig(), out_dir=None, resume: bool = True,
              stop_after: int | None = None, callback=None) -> dict:
    """Train ``model`` in place with RLP on ``positions`` (from :func:`answer_positions` or
    :func:`uniform_positions`). Runs as is under ``torchrun``/``accelerate launch``: each process
    takes its share of every global batch and DDP averages the gradients.

    Returns ``{"history": [metrics per step], "model", "ema_model"}``. With ``out_dir`` and
    ``checkpoint_every`` it checkpoints (model, EMA, optimizer, step) and resumes exactly.
    ``callback(metrics)`` is called on the main process after every step."""
    if not positions:
        raise ValueError("positions is empty; build them with answer_positions or uniform_positions")
    out_dir = checkpoint.check_out_dir(out_dir) if out_dir is not None else None
    accel = Accelerator(cpu=next(model.parameters()).device.type == "cpu")
    if cfg.batch_positions % accel.num_processes:
        raise ValueError(f"batch_positions={cfg.batch_positions} must divide over {accel.num_processes} processes")
    fmt = thought_format(tokenizer, cfg)
    model.to(accel.device).eval()
    ema = ema_copy(model)
    ref = ema_copy(model) if cfg.kl_beta > 0 else None
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr,
                                  betas=cfg.betas, eps=cfg.adam_eps, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / max(1, cfg.warmup_steps)))
    start, state = _trainer_loop.resume(out_dir if resume else None, cfg, accel.device, model, optimizer, scheduler,
                                       free=_RESUME_FREE, read_extra=_read_extra(accel.device, ref is not None))
    history = [] if state is None else state["history"]
    if state is not None:
        checkpoint.load_tensors(ema, state["ema"], where=state["folder"])
        if ref is not None:
            checkpoint.load_tensors(ref, state["ref"], where=state["folder"])
    model, optimizer = accel.prepare(model, optimizer)

    def step_body(step, mine):
        row = rlp_step(model, ema, optimizer, [positions[i] for i in mine], cfg, fmt, step,
                       position_ids=mine, accel=accel, ref_model=ref, scheduler=scheduler)
        row["lr"] = scheduler.get_last_lr()[0]
        history.append(row)
        if callback is not None and accel.is_main_process:
            callback(row)
        return row

    def save_at(done):
        _trainer_loop.save(accel, out_dir, done, cfg, model, tokenizer, optimizer, scheduler,
                          write_extra=_write_extra(ema, ref, history))
    _trainer_loop.run_steps(step_body, cfg, accel, len(positions), cfg.batch_positions, start, desc="rlp",
                           stop_after=stop_after, salt=_ORDER_SALT, save_at=save_at if out_dir is not None else None,
                           postfix=lambda row: {"reward": f"{row['reward']:+.2f}",
                                                "len": f"{row['thought_length']:.0f}"})
    return {"history": history, "model": accel.unwrap_model(model).eval(), "ema_model": ema}


@torch.no_grad()
def evaluate_thoughts(model, baseline_model, tokenizer, positions, cfg: RLPConfig = RLPConfig(),
                      group_size: int | None = None, seed: int = 0) -> dict:
    """Sample G thoughts per position from ``model`` and score them against ``baseline_model`` (no
    thought). Returns ``reward`` and ``s_pred`` (B, G), ``s_base`` (B,), ``thought_length`` (B, G) and
    the decoded ``thoughts`` (B lists of G strings); no training."""
    _checks.records("positions", positions, ("context_ids", "target_ids"), "positions from answer_positions")
    if group_size is not None:
        _checks.integer("group_size", group_size, low=2, why="leave-one-out needs two thoughts per position")
    G = group_size or cfg.group_size
    fmt = thought_format(tokenizer, cfg)
    device = next(model.parameters()).device
    amp = autocast_dtype(device, cfg.mixed_precision)
    model.eval()
    out = {k: [] for k in ("s_pred", "s_base", "len", "text")}
    for i in range(0, len(positions), 64):
        chunk = positions[i:i + 64]
        with torch.no_grad():  # no update here: no graph, and one context pass for sampling and scoring
            context = forward_contexts(model, chunk, fmt, amp) if len(fmt.open_ids) == 1 else None
            th = sample_thoughts(model, chunk, fmt, G, cfg.max_thought_tokens, cfg.temperature, seed, -1,
                                 range(i, i + len(chunk)), amp, context=context)
            batch = build_thought_batch(chunk, th, fmt, G, cfg.reward_tokens)
            s_pred, _, _ = score_thoughts(model, batch, 1.0, amp, context)
        out["s_pred"].append(s_pred.view(-1, G).cpu())
        out["s_base"].append(baseline_logprob(baseline_model, chunk, fmt, cfg.reward_tokens, amp).cpu())
        out["len"].append(batch.thought_length.view(-1, G).float())
        out["text"].extend(tokenizer.decode(t) for t in th)
    s_pred, s_base = torch.cat(out["s_pred"]), torch.cat(out["s_base"])
    texts = out["text"]
    return {"reward": s_pred - s_base[:, None], "s_pred": s_pred, "s_base": s_base,
            "thought_length": torch.cat(out["len"]),
            "thoughts": [texts[b * G:(b + 1) * G] for b in range(len(s_base))]}


# ---------------------------------------------------------------- what a trained model does where RLP acts
def _problem_rows(problems) -> list[dict]:
    rows = problems.to_list() if hasattr(problems, "to_list") else list(problems)
    if not rows or not all(isinstance(r, dict) and {"prompt", "answer"} <= set(r) for r in rows):
        raise ValueError("problems must be a non-empty Dataset/list of dicts with 'prompt' and 'answer'")
    return rows


def think_accuracy(model, tokenizer, problems, max_new_tokens: int = 80, think_open: str = "<think>") -> dict:
    """Greedy answers two ways, per problem: free (the model decides whether to open ``<think>``) and
    with ``<think>`` forced after the prompt (where RLP's thoughts start). Returns per-item 0/1 lists
    ``accuracy`` (free), ``accuracy_forced_think`` and ``think_rate`` (the free answer opened a thought).

    RLP's action starts after a forced ``<think>``: it trains what the model thinks, never whether it
    thinks. Free accuracy mixes the two; forced-think accuracy reads the reasoning alone. A free
    greedy answer that opened ``<think>`` is already the forced one (greedy decoding from the same
    prefix), so only the problems answered without a thought are decoded again, forced."""
    from .evaluation import answer_accuracy
    rows = _problem_rows(problems)
    free = answer_accuracy(model.eval(), tokenizer, rows, max_new_tokens=max_new_tokens)
    thinks = [c.lstrip().startswith(think_open) for c in free["completions"]]
    forced = [bool(c) for c in free["correct"]]
    direct = [i for i, t in enumerate(thinks) if not t]
    if direct:
        again = answer_accuracy(model, tokenizer, [{**rows[i], "prompt": rows[i]["prompt"] + think_open} for i in direct],
                                max_new_tokens=max_new_tokens)
        for i, c in zip(direct, again["correct"]):
            forced[i] = bool(c)
    return {"accuracy": [float(c) for c in free["correct"]], "accuracy_forced_think": [float(c) for c in forced],
            "think_rate": [float(t) for t in thinks]}


def thought_diversity(model, tokenizer, problems, k: int = 8, temperature: float = 1.0, max_new_tokens: int = 80,
                      seed: int = 0, n: int = 2, think_open: str = "<think>", think_close: str = "</think>") -> dict:
    """Diversity where RLP acts: ``k`` samples per problem at ``temperature``, each after a forced
    ``<think>`` (a thought, then an answer). Per problem: ``distinct_n`` of its k thoughts (distinct
    n-grams over all n-grams), ``answer_entropy`` of its k parsed answers (normalised to [0, 1]; an
    unparsable answer counts as one more value), ``valid_share`` (thought closed and an answer parsed)
    and ``correct_share``. Returns each as the mean over problems and, under ``per_problem``, the
    lists (so two models compared on the same problems can be paired item by item)."""
    from .diversity import answer_entropy, distinct_n
    from .problems import parse_answer
    from .sampling import sample
    rows = _problem_rows(problems)
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ValueError(f"k={k!r} must be an int >= 2 (diversity needs at least two samples per problem)")
    _checks.number("temperature", temperature, low=0.0, low_open=True)
    prompts = [r["prompt"] + think_open for r in rows for _ in range(k)]
    outs = sample(model.eval(), tokenizer, prompts, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed)
    per = {"distinct_n": [], "answer_entropy": [], "valid_share": [], "correct_share": []}
    for b, r in enumerate(rows):
        group = outs[b * k:(b + 1) * k]
        thoughts = [o.split(think_close, 1)[0] for o in group]
        answers = [parse_answer(o) if think_close in o else None for o in group]
        per["distinct_n"].append(distinct_n([t if t.strip() else "<empty>" for t in thoughts], n=n, pad=True))
        per["answer_entropy"].append(answer_entropy(["none" if a is None else str(a) for a in answers]))
        per["valid_share"].append(sum(a is not None for a in answers) / k)
        per["correct_share"].append(sum(a == int(r["answer"]) for a in answers) / k)
    out = {key: sum(v) / len(v) for key, v in per.items()}
    out.update(per_problem=per, k=k, temperature=temperature, n=n)
    return out
