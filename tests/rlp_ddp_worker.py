"""Worker for tests/test_rlp.py: a short RLP run on a saved tiny model, under 1 or N processes.

Usage: torchrun --nproc_per_node N tests/rlp_ddp_worker.py MODEL_DIR OUT_PREFIX [dense,sparse]
For each step path named (one launch runs them all: a launch costs seconds), rank 0 writes the trained
weights and the history to OUT_PREFIX-PATH.pt (torch.save). ``sparse`` makes every step take the
sparse update (each process then back-propagates a different number of thoughts)."""
import math
import sys

import torch
import torch.distributed as dist

from slmlab.problems import make_problems
from slmlab.models import load_model
from slmlab import rlp
from slmlab.rlp import RLPConfig, answer_positions, train_rlp


def main(model_dir: str, out_prefix: str, paths: str = "dense") -> None:
    torch.set_num_threads(1)
    for path in paths.split(","):
        run_one(model_dir, f"{out_prefix}-{path}.pt", path)
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()  # else rank 1 can abort at exit


def run_one(model_dir: str, out_file: str, path: str) -> None:
    rlp._SPARSE_MAX_COST = math.inf if path == "sparse" else 0.0
    model, tokenizer = load_model(model_dir)
    positions = answer_positions(tokenizer, make_problems(12, 0, "train"))
    cfg = RLPConfig(steps=2, batch_positions=4, group_size=3, max_thought_tokens=6, lr=0.5, micro_batch=3, mask_truncated=False,
                    adam_eps=1.0,  # Adam's g/(|g|+eps) would magnify float noise in tiny gradients
                    warmup_steps=1, mixed_precision="no", progress=False, seed=3)
    run = train_rlp(model, tokenizer, positions, cfg)
    if not dist.is_initialized() or dist.get_rank() == 0:
        torch.save({"state": {k: v.clone() for k, v in run["model"].state_dict().items()},
                    "ema": {k: v.clone() for k, v in run["ema_model"].state_dict().items()},
                    "history": run["history"]}, out_file)


if __name__ == "__main__":
    main(*sys.argv[1:4])
