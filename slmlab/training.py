"""Next-token pretraining: AdamW, linear warmup + cosine decay, gradient clipping, periodic eval
loss, checkpoints with optimizer/scheduler/RNG state, and exact resume.

The batch at step ``s`` is a pure function of (seed, s), so a run resumed from a checkpoint sees
the same data as an uninterrupted one and ends with the same weights. Under ``accelerate launch`` /
``torchrun`` each process takes its slice of every global batch and DDP averages the gradients.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from accelerate import Accelerator
from tqdm.auto import tqdm

from . import checkpoint

__all__ = ["TrainConfig", "pack_documents", "document_exposures", "pretrain", "latest_checkpoint", "autocast_dtype"]


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
            _check_number("warmup_ratio", self.warmup_ratio, low=0.0, high=1.0)
            # at least one warmup step when asked for any, so Adam's first, largest step is damped
            self.warmup_steps = max(1, round(self.warmup_ratio * self.steps)) if self.warmup_ratio > 0 else 0
        for name in ("warmup_steps", "eval_every", "checkpoint_every", "seed"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError(f"{name}={v!r} must be an int >= 0")
        if self.warmup_steps > self.steps:
            raise ValueError(f"warmup_steps={self.warmup_steps} must be <= steps={self.steps} (the cosine "
                             "decay would never start)")
        _check_number("lr", self.lr, low=0.0, low_open=True)
        _check_number("min_lr_ratio", self.min_lr_ratio, low=0.0, high=1.0)
        _check_number("weight_decay", self.weight_decay, low=0.0)
        _check_number("grad_clip", self.grad_clip, low=0.0, why="max gradient norm; 0 turns clipping off, "
                      "a negative value would flip every gradient")
        _check_betas(self.betas)
        checkpoint.check_keep(self.keep_checkpoints)
        if self.mixed_precision not in ("auto", "bf16", "no"):
            raise ValueError(f"mixed_precision={self.mixed_precision!r} must be 'auto', 'bf16' or 'no'")


def _check_number(name, v, low=None, high=None, low_open=False, why=""):
    """A finite real number within [low, high] (``low_open``: strictly above low), else ValueError."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"{name}={v!r} must be a number")
    lo = "" if low is None else (f"> {low}" if low_open else f">= {low}")
    hi = "" if high is None else f"<= {high}"
    allowed = " and ".join(x for x in (lo, hi) if x) or "finite"
    if not math.isfinite(v) or (low is not None and (v <= low if low_open else v < low)) \
            or (high is not None and v > high):
        raise ValueError(f"{name}={v!r} must be a finite number {allowed}" + (f" ({why})" if why else ""))


def _check_betas(betas):
    if not (isinstance(betas, (tuple, list)) and len(betas) == 2 and all(
            not isinstance(b, bool) and isinstance(b, (int, float)) and math.isfinite(b) and 0 <= b < 1 for b in betas)):
        raise ValueError(f"betas={betas!r} must be two numbers in [0, 1)")


def autocast_dtype(device: torch.device, mixed_precision: str = "auto") -> torch.dtype | None:
    """bfloat16 autocast where the hardware runs it natively (CUDA with bf16; a CPU with AVX-512 BF16
    or AMX, measured 1.4-1.8x faster for the tiny model), else None (plain float32)."""
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
    texts = list(texts)
    if not texts:
        raise ValueError("texts is empty: nothing to train on")
    if not all(isinstance(t, str) for t in texts):
        raise ValueError("texts must contain only strings")
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
            trained += torch.bincount(_batch_indices(n_blocks, cfg.batch_size, step, seed), minlength=n_blocks)
        out.append([int(trained[b]) if b < n_blocks else 0 for b in block])
    return out[0] if seeds is None else out


def _batch_indices(n_blocks: int, batch_size: int, step: int, seed: int) -> torch.Tensor:
    """Block indices of global step ``step``: epochs are seeded permutations, read in order."""
    start = step * batch_size
    out = []
    while len(out) < batch_size:
        epoch, offset = divmod(start + len(out), n_blocks)
        perm = torch.randperm(n_blocks, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
        out.extend(perm[offset: offset + batch_size - len(out)].tolist())
    return torch.tensor(out)


def _lr_lambda(cfg: TrainConfig):
    def f(step):
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
        return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    return f


# Settings a resumed run may change: they do not alter the weights it ends with.
_RESUME_FREE = ("progress", "checkpoint_every", "keep_checkpoints", "eval_every")


def latest_checkpoint(out_dir) -> Path | None:
    """The checkpoint folder with the highest step in ``out_dir`` (written by :func:`pretrain`), or None."""
    return checkpoint.latest(out_dir)


def _save_checkpoint(accel, model, tokenizer, optimizer, scheduler, step, cfg, out_dir: Path):
    if not accel.is_main_process:
        return

    def write(folder):
        accel.unwrap_model(model).save_pretrained(folder, safe_serialization=True)
        tokenizer.save_pretrained(folder)
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "rng": torch.get_rng_state(), "step": step}, folder / "trainer_state.pt")
    checkpoint.save(out_dir, step, write, config=asdict(cfg), keep=cfg.keep_checkpoints)


def _read_checkpoint(folder: Path, device) -> dict:
    return {"model": checkpoint.read_tensors(folder, "model.safetensors", device=str(device)),
            "trainer": checkpoint.read_torch(folder, "trainer_state.pt")}


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


def pretrain(model, tokenizer, texts, cfg: TrainConfig = TrainConfig(), eval_texts=None,
             out_dir=None, resume: bool = True, stop_after: int | None = None, labels=None) -> dict:
    """Train ``model`` in place on ``texts`` (strings, or blocks already made by :func:`pack_documents`)
    by next-token prediction. Returns
    ``{"history": [{step, loss, lr, eval_loss?}], "tokens": int, "final_eval_loss": float|None}``.

    With ``out_dir`` and ``checkpoint_every`` it checkpoints; with ``resume`` it continues from the
    latest checkpoint found there. ``stop_after`` ends the run early at that step (to simulate an
    interruption in tests) without changing the schedule. ``labels`` (with ``texts`` given as packed
    blocks) is a tensor of the blocks' shape whose -100 entries take no loss: the fine-tuning path,
    where only answer tokens are learned (see :mod:`slmlab.spectrum`).
    """
    out_dir = checkpoint.check_out_dir(out_dir) if out_dir is not None else None  # before any work
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
    start = 0
    found = checkpoint.load_latest(out_dir, lambda f: _read_checkpoint(f, device), config=asdict(cfg),
                                   free=_RESUME_FREE) if out_dir is not None and resume else None
    if found is not None:
        folder, _, state = found
        checkpoint.load_tensors(model, state["model"], where=folder)
        optimizer.load_state_dict(state["trainer"]["optimizer"])
        scheduler.load_state_dict(state["trainer"]["scheduler"])
        torch.set_rng_state(state["trainer"]["rng"])
        start = int(state["trainer"]["step"])
    model, optimizer = accel.prepare(model, optimizer)

    history, tokens = [], start * cfg.batch_size * cfg.block_size
    end = cfg.steps if stop_after is None else min(cfg.steps, stop_after)
    bar = tqdm(range(start, end), desc="pretrain", disable=not (cfg.progress and accel.is_main_process),
               initial=start, total=cfg.steps)
    for step in bar:
        idx = _batch_indices(len(blocks), cfg.batch_size, step, cfg.seed)
        mine = idx[accel.process_index:: accel.num_processes]
        x = blocks[mine].to(device)
        y = x if labels is None else labels[mine].to(device)   # -100: no loss (the model shifts labels itself)
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            loss = model(input_ids=x, labels=y).loss
        accel.backward(loss)
        if cfg.grad_clip:
            accel.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        tokens += cfg.batch_size * cfg.block_size
        row = {"step": step + 1, "loss": loss.item(), "lr": scheduler.get_last_lr()[0], "tokens": tokens}
        done = step + 1
        if eval_blocks is not None and ((cfg.eval_every and done % cfg.eval_every == 0) or done == cfg.steps):
            row["eval_loss"] = _eval_loss(model, eval_blocks, device, amp)
        history.append(row)
        bar.set_postfix(loss=f"{row['loss']:.3f}")
        if out_dir is not None and cfg.checkpoint_every and (done % cfg.checkpoint_every == 0 or done == cfg.steps):
            _save_checkpoint(accel, model, tokenizer, optimizer, scheduler, done, cfg, out_dir)
    bar.close()
    accel.wait_for_everyone()
    evals = [r["eval_loss"] for r in history if "eval_loss" in r]
    return {"history": history, "tokens": tokens, "final_eval_loss": evals[-1] if evals else None,
            "model": accel.unwrap_model(model)}
