"""Threads beside a busy neighbour: notebook 03's evaluation and CPT steps, alone and beside a process
that wakes often (the project's own RLP tests in a loop, one thread, nice 19 — as a browser, a Jupyter
server or a second kernel would), at several thread settings. Prints seconds and the ratio
beside/alone for each setting. The setting `fit` is what a notebook does: `import slmlab` before torch
(so OpenMP waits passively unless OMP_WAIT_POLICY says otherwise), then `slmlab.fit_threads()` picks the
threads itself when the work starts (alone: every usable CPU; beside the neighbour: it leaves the
busy one alone); its rows say how many it picked.

    python benchmarks/bench_threads.py [--repeats 3] [--settings "fit,2:passive,1"]

Each setting runs in a fresh process, since OpenMP reads its wait policy once, when torch loads.
Run it with nothing else on the machine: its own neighbour is the only load it should see.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = r"""
import json, os, sys, time
os.environ["TQDM_DISABLE"] = "1"
if sys.argv[1] == "fit":
    import slmlab  # first, as in a notebook: OpenMP reads slmlab's passive wait policy when torch loads
import torch
from slmlab import load_model, problems
from slmlab.evaluation import answer_accuracy
from slmlab.training import TrainConfig, pretrain
import copy
repeats = int(sys.argv[2])
if sys.argv[1] == "fit":
    threads = slmlab.fit_threads()
else:
    threads = int(sys.argv[1]); torch.set_num_threads(threads)
model, tok = load_model()
target = problems.ProblemConfig(min_steps=3, max_steps=4, max_value=60, max_result=300, max_factor=7)
evalset = problems.make_problems(64, 0, "eval", target)
texts = list(problems.make_problems(400, 0, "train", target)["text"])
cfg = TrainConfig(steps=6, batch_size=8, block_size=256, warmup_steps=1, progress=False, mixed_precision="no")
answer_accuracy(model, tok, evalset.select(range(8)), max_new_tokens=80)  # warm up
out = {"eval": [], "cpt": []}
for _ in range(repeats):
    t = time.perf_counter(); answer_accuracy(model, tok, evalset, max_new_tokens=80); out["eval"].append(time.perf_counter() - t)
    m = copy.deepcopy(model)
    t = time.perf_counter(); pretrain(m, tok, texts, cfg); out["cpt"].append(time.perf_counter() - t)
print(json.dumps({**{k: min(v) for k, v in out.items()}, "threads": threads}))
"""


def run(setting: str, repeats: int) -> dict:
    threads, _, policy = setting.partition(":")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    if threads != "fit":
        env["OMP_NUM_THREADS"] = threads
    if policy:
        env["OMP_WAIT_POLICY"] = policy.upper()
    done = subprocess.run([sys.executable, "-c", WORK, threads, str(repeats)], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def neighbour() -> subprocess.Popen:
    loop = (f"while true; do OMP_NUM_THREADS=1 nice -n 19 {sys.executable} -m pytest -q -x "
            "tests/test_rlp.py >/dev/null 2>&1; done")
    return subprocess.Popen(["bash", "-c", loop], cwd=ROOT, start_new_session=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--settings", default="fit,2:passive,1")
    args = ap.parse_args()
    settings = args.settings.split(",")
    alone = {s: run(s, args.repeats) for s in settings}
    n = neighbour()
    try:
        time.sleep(5)
        beside = {s: run(s, args.repeats) for s in settings}
    finally:
        os.killpg(n.pid, 15)
    print(f"{'setting':14s} {'part':5s} {'alone s':>8s} {'beside s':>9s} {'ratio':>6s}  threads alone/beside")
    for s in settings:
        for part in ("eval", "cpt"):
            print(f"{s:14s} {part:5s} {alone[s][part]:8.2f} {beside[s][part]:9.2f} "
                  f"{beside[s][part] / alone[s][part]:6.2f}  {alone[s]['threads']}/{beside[s]['threads']}")


if __name__ == "__main__":
    main()
