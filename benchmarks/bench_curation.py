"""Curation throughput (documents/s) at two corpus sizes, with num_proc 1 and 2, and against a
named peer: the same stages run by datatrove's LocalPipelineExecutor with 2 tasks.

    nice -n 19 .venv/bin/python benchmarks/bench_curation.py            # 10k and 100k documents
    nice -n 19 .venv/bin/python benchmarks/bench_curation.py --sizes 2000 10000 --no-datatrove

Prints documents/s per run and the ratios that matter: the per-document cost growth from the small
to the large corpus (1.0 = linear), the num_proc=2 speed-up, and in-process vs datatrove.
"""
from __future__ import annotations

import argparse
import tempfile
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--no-datatrove", action="store_true", help="skip the datatrove peer")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from slmlab.problems import make_problems
    from slmlab.curation import curate, eval_reference_texts, fit_quality_scorer
    from slmlab.raw_corpus import make_quality_examples, make_raw_corpus

    eval_split = make_problems(400, args.seed, "eval")
    eval_texts = eval_reference_texts(eval_split)
    scorer = fit_quality_scorer(*make_quality_examples(400, args.seed), seed=args.seed)
    rate = {}
    for n in args.sizes:
        raw = make_raw_corpus(n, args.seed, eval_split)
        for num_proc in (1, 2):
            t0 = time.perf_counter()
            res = curate(raw, scorer, eval_texts, num_proc=num_proc)
            dt = time.perf_counter() - t0
            rate[n, num_proc] = n / dt
            slow = max(res.report, key=lambda r: r["seconds"])
            print(f"curate n={n:>7} num_proc={num_proc}: {n / dt:8.0f} docs/s  ({dt:6.1f} s, "
                  f"kept {len(res.kept) / n:.2f}, slowest stage {slow['stage']} {slow['seconds']:.1f} s)", flush=True)
        if not args.no_datatrove and n == min(args.sizes):
            from slmlab.curation_datatrove import run_datatrove_curation
            with tempfile.TemporaryDirectory() as work:
                t0 = time.perf_counter()
                kept = run_datatrove_curation(raw, work, scorer, eval_texts, tasks=2)
                dt = time.perf_counter() - t0
            rate["datatrove", n] = n / dt
            print(f"datatrove n={n:>7} tasks=2:    {n / dt:8.0f} docs/s  ({dt:6.1f} s, kept {len(kept) / n:.2f})",
                  flush=True)
    small, large = min(args.sizes), max(args.sizes)
    print("\nratios")
    for p in (1, 2):
        if small != large:
            print(f"  per-document cost, {large} vs {small} docs (num_proc={p}): "
                  f"{rate[small, p] / rate[large, p]:.2f}x  (1.0 = linear growth)")
    for n in args.sizes:
        print(f"  num_proc=2 vs 1 at {n} docs: {rate[n, 2] / rate[n, 1]:.2f}x throughput")
    if ("datatrove", small) in rate:
        print(f"  in-process num_proc=2 vs datatrove LocalPipelineExecutor (2 tasks) at {small} docs: "
              f"{rate[small, 2] / rate['datatrove', small]:.2f}x throughput")


if __name__ == "__main__":
    main()
