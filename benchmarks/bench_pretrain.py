"""Pretraining throughput: slmlab.training.pretrain vs transformers' Trainer, side by side.

Same model (the embedded recipe's architecture, freshly initialised), same packed blocks, same batch,
same number of steps, same precision. Prints tokens/s for each and the ratio.

    python benchmarks/bench_pretrain.py [--steps 40] [--batch 32] [--block 256] [--bf16]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch
from transformers import Trainer, TrainingArguments

from slmlab import problems, models, training


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--block", type=int, default=256)
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast in both")
    args = ap.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")
    texts = list(problems.make_problems(5_000, seed=0)["text"])
    _, tok = models.load_model()
    cfg = models.tiny_llama_config(tok)
    blocks = training.pack_documents(tok, texts, args.block)
    tokens = args.steps * args.batch * args.block

    model = models.build_model(cfg, seed=0)
    t0 = time.perf_counter()
    training.pretrain(model, tok, blocks, training.TrainConfig(
        steps=args.steps, batch_size=args.batch, block_size=args.block, progress=False,
        mixed_precision="bf16" if args.bf16 else "no"))
    ours = tokens / (time.perf_counter() - t0)

    class Blocks(torch.utils.data.Dataset):
        def __len__(self):
            return len(blocks)

        def __getitem__(self, i):
            return {"input_ids": blocks[i], "labels": blocks[i]}

    model = models.build_model(cfg, seed=0)
    with tempfile.TemporaryDirectory() as out:
        targs = TrainingArguments(output_dir=out, per_device_train_batch_size=args.batch, max_steps=args.steps,
                                  learning_rate=3e-3, warmup_steps=3, lr_scheduler_type="cosine", weight_decay=0.1,
                                  max_grad_norm=1.0, logging_steps=10_000, save_strategy="no", report_to=[],
                                  use_cpu=not torch.cuda.is_available(), bf16=args.bf16, disable_tqdm=True,
                                  dataloader_num_workers=0, seed=0)
        t0 = time.perf_counter()
        Trainer(model=model, args=targs, train_dataset=Blocks()).train()
        theirs = tokens / (time.perf_counter() - t0)
    print(f"tokens per run: {tokens:,} ({args.steps} steps x {args.batch} x {args.block}, bf16={args.bf16})")
    print(f"slmlab.pretrain        {ours:10,.0f} tokens/s")
    print(f"transformers.Trainer   {theirs:10,.0f} tokens/s")
    print(f"ratio (slmlab / Trainer): {ours / theirs:.2f}x")


if __name__ == "__main__":
    main()
