"""Vendi score of n = 5,000 embeddings in d = 384 (MiniLM's size): slmlab vs the `vendi-score`
package's fastest path (`score_dual`, the d x d form), and vs the floor of one XᵀX product plus one
d x d eigendecomposition in the same dtype on the same machine.

    python benchmarks/bench_vendi.py [--n 5000] [--d 384] [--repeats 15] [--threads 0]

Prints medians and ratios. A shared CPU makes single timings noisy: read the medians.
"""
from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np


def timeit_interleaved(fns: dict, repeats: int) -> dict:
    """Median seconds per function, the functions taking turns so that load from other processes on
    a shared CPU hits every contender alike."""
    for fn in fns.values():
        fn()  # warm-up (BLAS thread pool, page faults)
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--d", type=int, default=384)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--threads", type=int, default=0, help="BLAS threads (0: library default)")
    args = ap.parse_args()
    if args.threads:
        from threadpoolctl import threadpool_limits
        threadpool_limits(args.threads)
    from vendi_score import vendi
    from slmlab.diversity import vendi_score

    warnings.simplefilter("ignore")
    X = np.random.default_rng(0).standard_normal((args.n, args.d))
    X32 = X.astype(np.float32)
    S64 = X.T @ X / args.n
    S32 = S64.astype(np.float32)
    rows = timeit_interleaved({
        "vendi-score score_dual (float64)": lambda: vendi.score_dual(X),
        "slmlab vendi_score (float64)": lambda: vendi_score(X),
        "slmlab vendi_score (float32)": lambda: vendi_score(X, dtype=np.float32),
        "floor float64: XᵀX + eigvalsh(d x d)": lambda: (X.T @ X, np.linalg.eigvalsh(S64)),
        "floor float32: XᵀX + eigvalsh(d x d)": lambda: (X32.T @ X32, np.linalg.eigvalsh(S32)),
    }, args.repeats)
    ref, ours = float(vendi.score_dual(X)), vendi_score(X)
    print(f"n={args.n} d={args.d} repeats={args.repeats}; scores: vendi-score {ref:.6f}, slmlab {ours:.6f}, "
          f"slmlab float32 {vendi_score(X, dtype=np.float32):.6f}")
    for name, sec in rows.items():
        print(f"  {name:42s} {sec * 1e3:8.2f} ms")
    peer = rows["vendi-score score_dual (float64)"]
    for dt in ("float64", "float32"):
        mine = rows[f"slmlab vendi_score ({dt})"]
        floor = rows[f"floor {dt}: XᵀX + eigvalsh(d x d)"]
        print(f"  {dt}: speed-up vs vendi-score score_dual {peer / mine:5.2f}x (goal >= 3x); "
              f"time / floor {mine / floor:5.2f}x (goal <= 2x)")


if __name__ == "__main__":
    main()
