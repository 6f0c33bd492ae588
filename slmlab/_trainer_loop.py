"""The skeleton that :func:`slmlab.training.pretrain` and :func:`slmlab.rlp.train_rlp` share: which
items a step trains on, resuming from the newest checkpoint, the step loop with its progress bar,
and the save cadence. Each trainer keeps its own step body (the next-token loss, the RLP update).

The items of step ``s`` are a pure function of (seed, s) — epochs are seeded permutations read in
order — so a run resumed at step ``s`` trains on the same data as one that never stopped, and each
process of a ``torchrun`` run takes every ``num_processes``-th item of the same global batch.

A checkpoint holds the model's ``from_pretrained`` files, the tokenizer and ``trainer_state.pt``
(optimizer, scheduler, step, plus what the trainer adds); a trainer writes and reads its other
files (an EMA copy, its history) through ``write_extra`` / ``read_extra``.

Private, like :mod:`slmlab._checks`: the two trainers import it; a notebook calls the trainers.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch
from tqdm.auto import tqdm

from . import checkpoint

__all__ = ["RESUME_FREE", "batch_indices", "resume", "save", "run_steps"]

# Settings any resumed run may change: they do not alter the weights it ends with. A trainer adds
# its own (pretrain: eval_every; RLP: steps, as its rate stays constant after warmup while
# pretraining's cosine decay is laid out over ``steps``).
RESUME_FREE = ("progress", "checkpoint_every", "keep_checkpoints")


def batch_indices(n: int, batch: int, step: int, seed: int, salt: int = 0) -> list[int]:
    """Item indices (of ``n`` items) of global step ``step``, ``batch`` of them: epoch ``e`` is the
    permutation seeded by ``seed * 100_003 + e + salt``, read in order and on into the next epoch.
    ``salt`` keeps one trainer's order apart from another's at the same seed (RLP uses 7)."""
    out, start = [], step * batch
    while len(out) < batch:
        epoch, offset = divmod(start + len(out), n)
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch + salt))
        out.extend(perm[offset: offset + batch - len(out)].tolist())
    return out


def save(accel, out_dir: Path, step: int, cfg, model, tokenizer, optimizer, scheduler, state_extra=None,
         write_extra=None) -> None:
    """Checkpoint ``step`` into ``out_dir`` (main process only), keeping ``cfg.keep_checkpoints``."""
    if not accel.is_main_process:
        return

    def write(folder):
        accel.unwrap_model(model).save_pretrained(folder, safe_serialization=True)
        tokenizer.save_pretrained(folder)
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "step": step,
                    **(state_extra or {})}, folder / "trainer_state.pt")
        if write_extra is not None:
            write_extra(folder)
    checkpoint.save(out_dir, step, write, config=asdict(cfg), keep=cfg.keep_checkpoints)


def resume(out_dir, cfg, device, model, optimizer, scheduler, free=(), read_extra=None) -> tuple[int, dict | None]:
    """Load the newest checkpoint in ``out_dir`` that loads and was written with ``cfg``'s settings
    (those in :data:`RESUME_FREE` and ``free`` aside) into ``model``, ``optimizer`` and ``scheduler``.
    Returns ``(step to start at, the checkpoint's state)``: ``state["trainer"]`` is ``trainer_state.pt``,
    the rest what ``read_extra(folder)`` returned, for the trainer to apply; ``(0, None)`` when there
    is none. Every file is read before anything is changed."""
    if out_dir is None:
        return 0, None

    def read(folder):
        return {"model": checkpoint.read_tensors(folder, "model.safetensors", device=str(device)),
                "trainer": checkpoint.read_torch(folder, "trainer_state.pt"),
                **(read_extra(folder) if read_extra is not None else {})}
    found = checkpoint.load_latest(out_dir, read, config=asdict(cfg), free=RESUME_FREE + tuple(free))
    if found is None:
        return 0, None
    folder, _, state = found
    checkpoint.load_tensors(model, state["model"], where=folder)
    optimizer.load_state_dict(state["trainer"]["optimizer"])
    scheduler.load_state_dict(state["trainer"]["scheduler"])
    return int(state["trainer"]["step"]), {**state, "folder": folder}


def run_steps(body, cfg, accel, n_items: int, batch: int, start: int, *, desc: str, stop_after=None, salt: int = 0,
              save_at=None, postfix=None) -> int:
    """Run steps ``start`` .. ``cfg.steps`` (or ``stop_after``, to simulate an interruption without
    changing the schedule): ``row = body(step, mine)`` with ``mine`` this process's share of the
    step's items (:func:`batch_indices`), then ``save_at(done)`` every ``cfg.checkpoint_every``
    steps and at the last one (when given and ``checkpoint_every`` > 0). ``postfix(row)`` gives the
    progress bar's figures. Returns the number of steps done by the end."""
    end = cfg.steps if stop_after is None else min(cfg.steps, stop_after)
    bar = tqdm(range(start, end), desc=desc, initial=start, total=cfg.steps,
               disable=not (cfg.progress and accel.is_main_process))
    done = start
    for step in bar:
        idx = batch_indices(n_items, batch, step, cfg.seed, salt)
        row = body(step, idx[accel.process_index:: accel.num_processes])
        if postfix is not None:
            bar.set_postfix(**postfix(row))
        done = step + 1
        if save_at is not None and cfg.checkpoint_every and (done % cfg.checkpoint_every == 0 or done == cfg.steps):
            save_at(done)
    bar.close()
    accel.wait_for_everyone()
    return done
