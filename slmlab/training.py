"""Next-token pretraining: AdamW, linear warmup + cosine decay, gradient clipping, periodic eval
loss, checkpoints with optimizer/scheduler/RNG state, and exact resume.

The batch at step ``s`` is a pure function of (seed, s), so a run resumed from a checkpoint sees
the same data as an uninterrupted one and ends with the same weights. Under ``accelerate launch`` /
``torchrun`` each process takes its slice of every global batch and DDP averages the gradients.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from accelerate import Accelerator

from . import _checks, _trainer_loop, checkpoint

__all__ = ["TrainConfig", "pack_documents", "document_exposures", "document_inputs", "pretrain", "latest_checkpoint",
           "autocast_dtype"]


@dataclass
class TrainConfig:
    steps: int = 300              # optimizer steps
    batch_size: int = 32          # global batch, in packed blocks
    block_size: int = 256         # tokens per packed block
    lr: float = 3e-3              # peak learning rate (tiny models like it high)
    min_lr_ratio: float = 0.1     # cosine decays to lr * min_lr_ratio
    warmup_steps: int = 30
    warmup_ratio: float | None = None  # share of steps spent warming up; when set it replaces warmup_steps
    weight_decay: float = 0.1
    betas: tuple = (0.9, 0.95)
    grad_clip: float = 1.0
    eval_every: int = 100         # steps between eval-loss measurements (0: only at the end)
    checkpoint_every: int = 0     # steps between checkpoints (0: none)
    keep_checkpoints: int = 2     # newest checkpoints kept (>= 1; None: all); older ones are deleted
    seed: int = 0
    mixed_precision: str = "auto"  # "auto" (bf16 where the hardware has it), "bf16", "no"
    progress: bool = True

    def __post_init__(self):
        for name in ("steps", "batch_size", "block_size"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name}={v!r} must be a positive int")
        if self.warmup_ratio is not None:
            _checks.number("warmup_ratio", self.warmup_ratio, low=0.0, high=1.0)
            # at least one warmup step when asked for any, so Adam's first, largest step is damped
            self.warmup_steps = max(1, round(self.warmup_ratio * self.steps)) if self.warmup_ratio > 0 else 0
        for name in ("warmup_steps", "eval_every", "checkpoint_every", "seed"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError(f"{name}={v!r} must be an int >= 0")
        if self.warmup_steps > self.steps:
            raise ValueError(f"warmup_steps={self.warmup_steps} must be <= steps={self.steps} (the cosine "
                             "decay would never start)")
        _checks.number("lr", self.lr, low=0.0, low_open=True)
        _checks.number("min_lr_ratio", self.min_lr_ratio, low=0.0, high=1.0)
        _checks.number("weight_decay", self.weight_decay, low=0.0)
        _checks.number("grad_clip", self.grad_clip, low=0.0, why="max gradient norm; 0 turns clipping off, "
                      "a negative value would flip every gradient")
        _checks.betas(self.betas)
        checkpoint.check_keep(self.keep_checkpoints)
        if self.mixed_precision not in ("auto", "bf16", "no"):
            raise ValueError(f"mixed_precision={self.mixed_precision!r} must be 'auto', 'bf16' or 'no'")


def autocast_dtype(device: torch.device, mixed_precision: str = "auto") -> torch.dtype | None:
    """bfloat16 autocast where the hardware runs it natively (CUDA with bf16; a CPU with AVX-512 BF16
    or AMX, measured 1.4-1.8x faster for the tiny model), else None (plain float32)."""
    if not isinstance(device, torch.device):
        raise TypeError(f"device must be a torch.device (e.g. slmlab.pick_device('auto')), got {device!r}")
    if mixed_precision not in ("auto", "bf16", "no"):
        raise ValueError(f"mixed_precision={mixed_precision!r} must be 'auto', 'bf16' or 'no'")
    if mixed_precision == "no":
        return None
    if mixed_precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    if device.type == "cpu":
        check = getattr(torch.backends.cpu, "get_cpu_capability", lambda: "")
        return torch.bfloat16 if "AVX512" in str(check()) and _cpu_has_bf16() else None
    return None


def _cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _document_tokens(tokenizer, texts) -> list[list[int]]:
    """Each text as ``<s> text </s>`` token ids, checked: what :func:`pack_documents` concatenates."""
    texts = _checks.strings("texts", texts, allow_empty=True)
    if not texts:
        raise ValueError("texts is empty: nothing to train on")
    if not callable(tokenizer):
        raise TypeError(f"tokenizer must be a transformers tokenizer, got {type(tokenizer).__name__}")
    ids = tokenizer(texts, add_special_tokens=True)["input_ids"]
    eos, bos = tokenizer.eos_token_id, tokenizer.bos_token_id
    out = []
    for row in ids:
        if bos is not None and (not row or row[0] != bos):
            row = [bos] + row
        out.append(row + [eos])
    return out


def pack_documents(tokenizer, texts, block_size: int) -> torch.Tensor:
    """Tokenize ``texts`` (each becomes ``<s> text </s>``), concatenate, and cut into blocks of
    ``block_size`` tokens; the ragged tail is dropped. Returns a (n_blocks, block_size) LongTensor."""
    _checks.integer("block_size", block_size, low=1)
    flat = [t for row in _document_tokens(tokenizer, texts) for t in row]
    n_blocks = len(flat) // block_size
    if n_blocks == 0:
        raise ValueError(f"texts hold {len(flat)} tokens, fewer than one block of {block_size}")
    return torch.tensor(flat[: n_blocks * block_size], dtype=torch.long).view(n_blocks, block_size)


def document_exposures(tokenizer, texts, cfg: "TrainConfig", seeds=None) -> list:
    """How many times :func:`pretrain` with ``cfg`` trains on each of ``texts``: the number of
    batches, over ``cfg.steps`` steps, that hold the block with the document's last token (its
    answer, for a question/answer document). 0 for a document in the dropped ragged tail. Counted
    from the same packing and the same seeded block order as training, not estimated. With
    ``seeds`` (a sequence of ints), one such list per seed, in that order (the texts are tokenized once)."""
    if seeds is not None and (isinstance(seeds, (str, int)) or not list(seeds)
                              or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)):
        raise ValueError(f"seeds={seeds!r} must be None or a non-empty sequence of ints")
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig, got {type(cfg).__name__}")
    lengths = [len(row) for row in _document_tokens(tokenizer, texts)]
    n_blocks = sum(lengths) // cfg.block_size
    if n_blocks == 0:
        raise ValueError(f"texts hold {sum(lengths)} tokens, fewer than one block of {cfg.block_size}")
    # The last token before </s> of document i sits at position end_i - 2 of the concatenation.
    block = ((torch.cumsum(torch.tensor(lengths), 0) - 2) // cfg.block_size).tolist()
    out = []
    for seed in ([cfg.seed] if seeds is None else list(seeds)):
        trained = torch.zeros(n_blocks, dtype=torch.long)
        for step in range(cfg.steps):
            idx = torch.tensor(_trainer_loop.batch_indices(n_blocks, cfg.batch_size, step, seed))
            trained += torch.bincount(idx, minlength=n_blocks)
        out.append([int(trained[b]) if b < n_blocks else 0 for b in block])
    return out[0] if seeds is None else out


def _lr_lambda(cfg: TrainConfig):
    def f(step):
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
        return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    return f


# Beside _trainer_loop.RESUME_FREE: when the eval loss is measured changes no weight.
_RESUME_FREE = ("eval_every",)


def latest_checkpoint(out_dir) -> Path | None:
    """The checkpoint folder with the highest step in ``out_dir`` (written by :func:`pretrain`), or None.
    ``out_dir`` is the run's folder (the one given to :func:`pretrain`), not a checkpoint inside it."""
    return checkpoint.latest(out_dir)


def _context_limit(model) -> int | None:
    """Positions the model has (``max_position_embeddings``; GPT-2 maps ``n_positions`` onto it), or None."""
    limit = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    return limit if isinstance(limit, int) and not isinstance(limit, bool) else None


@torch.no_grad()
def _eval_loss(model, blocks: torch.Tensor, device, amp, batch_size: int = 32) -> float:
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(blocks), batch_size):
        x = blocks[i: i + batch_size].to(device)
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            loss = model(input_ids=x, labels=x).loss
        total += float(loss) * len(x)
        count += len(x)
    model.train()
    return total / count


def document_inputs(documents: torch.Tensor) -> dict:
    """Attention that never crosses a document: for packed blocks whose token ``(i, t)`` belongs to
    document ``documents[i, t]`` (documents contiguous within a block), the keyword arguments of a
    causal LM's forward — a (B, 1, T, T) boolean mask, True where a token may read an earlier token of
    its own document, and position ids counted from each document's start — so each document is
    computed as if it stood alone in the block."""
    if not isinstance(documents, torch.Tensor) or documents.ndim != 2:
        raise ValueError("documents must be a (blocks, block_size) tensor of document ids")
    b, t = documents.shape
    causal = torch.ones(t, t, dtype=torch.bool, device=documents.device).tril()
    mask = (documents[:, :, None] == documents[:, None, :]) & causal          # (B, T, T)
    arange = torch.arange(t, device=documents.device).expand(b, t)
    starts = torch.ones_like(documents, dtype=torch.bool)
    starts[:, 1:] = documents[:, 1:] != documents[:, :-1]
    first = torch.where(starts, arange, torch.zeros_like(arange)).cummax(dim=1).values
    return {"attention_mask": mask[:, None], "position_ids": arange - first}


def pretrain(model, tokenizer, texts, cfg: TrainConfig = TrainConfig(), eval_texts=None,
             out_dir=None, resume: bool = True, stop_after: int | None = None, labels=None,
             documents=None) -> dict:
    """Train ``model`` in place on ``texts`` (strings, or blocks already made by :func:`pack_documents`)
    by next-token prediction. Returns
    ``{"history": [{step, loss, lr, eval_loss?}], "tokens": int, "final_eval_loss": float|None}``.

    With ``out_dir`` and ``checkpoint_every`` it checkpoints; with ``resume`` it continues from the
    latest checkpoint found there. ``stop_after`` ends the run early at that step (to simulate an
    interruption in tests) without changing the schedule. ``labels`` (with ``texts`` given as packed
    blocks) is a tensor of the blocks' shape whose -100 entries take no loss: the fine-tuning path,
    where only answer tokens are learned (see :mod:`slmlab.spectrum`). ``documents`` (a long tensor of
    the blocks' shape, one id per token) keeps attention inside each document (:func:`document_inputs`).
    """
    out_dir = checkpoint.check_out_dir(out_dir) if out_dir is not None else None  # before any work
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig, got {type(cfg).__name__}; e.g. TrainConfig(steps=100, lr=1e-3)")
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module (e.g. from slmlab.load_model()), got {type(model).__name__}")
    if stop_after is not None:
        _checks.integer("stop_after", stop_after, low=0)
    limit = _context_limit(model)
    if limit is not None and cfg.block_size > limit:
        raise ValueError(f"block_size={cfg.block_size} is longer than the model's context of {limit} positions; "
                         f"set TrainConfig(block_size=...) to at most {limit}")
    accel = Accelerator(cpu=next(model.parameters()).device.type == "cpu")
    device = accel.device
    blocks = texts if isinstance(texts, torch.Tensor) else pack_documents(tokenizer, texts, cfg.block_size)
    if blocks.ndim != 2 or blocks.shape[1] != cfg.block_size or blocks.dtype != torch.long:
        raise ValueError(f"texts given as a tensor must be packed blocks of shape (n, {cfg.block_size}), "
                         f"dtype long; got {tuple(blocks.shape)} {blocks.dtype}")
    if labels is not None and (not isinstance(labels, torch.Tensor) or labels.shape != blocks.shape
                               or labels.dtype != torch.long):
        raise ValueError(f"labels must be a long tensor of the blocks' shape {tuple(blocks.shape)}; got "
                         f"{type(labels).__name__} {tuple(getattr(labels, 'shape', ()))}")
    if documents is not None and (not isinstance(documents, torch.Tensor) or documents.shape != blocks.shape
                                  or documents.dtype != torch.long):
        raise ValueError(f"documents must be a long tensor of the blocks' shape {tuple(blocks.shape)}; got "
                         f"{type(documents).__name__} {tuple(getattr(documents, 'shape', ()))}")
    eval_blocks = pack_documents(tokenizer, eval_texts, cfg.block_size) if eval_texts is not None else None
    if cfg.batch_size % accel.num_processes:
        raise ValueError(f"batch_size={cfg.batch_size} must divide evenly over {accel.num_processes} processes")
    amp = autocast_dtype(device, cfg.mixed_precision)

    model.to(device).train()
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=cfg.betas)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(cfg))
    start, state = _trainer_loop.resume(out_dir if resume else None, cfg, device, model, optimizer, scheduler,
                                       free=_RESUME_FREE)
    if state is not None:
        torch.set_rng_state(state["trainer"]["rng"])
    model, optimizer = accel.prepare(model, optimizer)

    history = []

    def step_body(step, mine):
        x = blocks[mine].to(device)
        y = x if labels is None else labels[mine].to(device)   # -100: no loss (the model shifts labels itself)
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            extra = {} if documents is None else document_inputs(documents[mine].to(device))
            loss = model(input_ids=x, labels=y, **extra).loss
        accel.backward(loss)
        if cfg.grad_clip:
            accel.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        done = step + 1
        row = {"step": done, "loss": loss.item(), "lr": scheduler.get_last_lr()[0],
               "tokens": done * cfg.batch_size * cfg.block_size}
        if eval_blocks is not None and ((cfg.eval_every and done % cfg.eval_every == 0) or done == cfg.steps):
            row["eval_loss"] = _eval_loss(model, eval_blocks, device, amp)
        history.append(row)
        return row

    def save_at(done):  # the RNG state too: a resumed run draws what an uninterrupted one would
        _trainer_loop.save(accel, out_dir, done, cfg, model, tokenizer, optimizer, scheduler,
                          state_extra={"rng": torch.get_rng_state()})
    done = _trainer_loop.run_steps(step_body, cfg, accel, len(blocks), cfg.batch_size, start, desc="pretrain",
                                  stop_after=stop_after, save_at=save_at if out_dir is not None else None,
                                  postfix=lambda row: {"loss": f"{row['loss']:.3f}"})
    tokens = done * cfg.batch_size * cfg.block_size
    evals = [r["eval_loss"] for r in history if "eval_loss" in r]
    return {"history": history, "tokens": tokens, "final_eval_loss": evals[-1] if evals else None,
            "model": accel.unwrap_model(model)}
