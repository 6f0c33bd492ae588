"""G-Vendi of n generated problems with the embedded model as proxy: wall-clock time and peak memory
at n = 1,000 and 5,000 (each size in a fresh process, so peak RSS is that size's own), how they
grow, and the per-example cost against the named peer: a plain loop of one ``loss.backward()`` per
example (the authors' batch-size-1 recipe) followed by the same blockwise projection.

    python benchmarks/bench_gvendi.py [--sizes 1000 5000] [--dim 512] [--peer 200] [--threads 0]

A shared CPU makes timings noisy: compare ratios measured in the same run.

Measured 2026-11-27 on the 2-core development CPU shared by many jobs (load average 12-20, so
absolute times are several times a free machine's), embedded model, D = 65,536 -> dim = 512:

    n=1000  gradients+projection  428 s (428 ms/example)  vendi 8.5 s   peak RSS 745 MB  G-Vendi 94.2
    n=5000  gradients+projection 1945 s (389 ms/example)  vendi 1.6 s   peak RSS 810 MB  G-Vendi 108.4
    1000 -> 5000 (x5): time x4.54 (linear in n), peak RSS x1.09 (flat: only n x dim features grow)

    peer, 200 examples: plain loss.backward() loop 2234 s vs torch.func batched 72 s -> 31x

The peer projects every example as it comes, drawing R's rows again each time (what a
batch-size-1 pipeline that never holds R must do); most of its time is that draw, not the
backward pass. The batched path pays the draw once per ``project_batch`` examples.
The Vendi step uses the dim x dim form, so its cost does not grow with n (the two timings differ by
load alone). Time is linear in n; memory is bounded by one gathered chunk of gradients
(``project_batch`` x D floats) plus the features.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def _one(n: int, dim: int, batch_size: int) -> dict:
    import torch
    from slmlab import gvendi, load_model, problems
    model, tok = load_model()
    ds = problems.make_problems(n, 0, cfg=problems.HARDER)
    sols = [t[len(p):] for t, p in zip(ds["text"], ds["prompt"])]
    params = gvendi.default_parameters(model)
    t0 = time.perf_counter()
    feats = gvendi.gradient_features(model, tok, ds["prompt"], sols, dim=dim, batch_size=batch_size, progress=False)
    t1 = time.perf_counter()
    score = gvendi.g_vendi(feats)
    t2 = time.perf_counter()
    return {"n": n, "dim": dim, "params": sum(dict(model.named_parameters())[p].numel() for p in params),
            "gradients_s": t1 - t0, "vendi_s": t2 - t1, "g_vendi": score, "threads": torch.get_num_threads(),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _peer(n: int, dim: int) -> dict:
    """The batch-size-1 loop: forward, loss.backward(), flatten, project, per example."""
    import torch
    from slmlab import gvendi, load_model, problems
    model, tok = load_model()
    ds = problems.make_problems(n, 0, cfg=problems.HARDER)
    sols = [t[len(p):] for t, p in zip(ds["text"], ds["prompt"])]
    params = gvendi.default_parameters(model)
    named = dict(model.named_parameters())
    for name, p in named.items():
        p.requires_grad_(name in params)
    t0 = time.perf_counter()
    rows = []
    for p, s in zip(ds["prompt"], sols):
        ids, labels = gvendi.solution_batch(tok, [p], [s])
        model.zero_grad(set_to_none=True)
        model(input_ids=ids, labels=labels).loss.backward()
        g = torch.cat([named[k].grad.reshape(1, -1) for k in params], dim=1)
        rows.append(gvendi.project(g, dim))
    loop_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    gvendi.gradient_features(model, tok, ds["prompt"], sols, dim=dim, progress=False)
    batched_s = time.perf_counter() - t0
    return {"n": n, "loop_s": loop_s, "batched_s": batched_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--peer", type=int, default=200, help="examples for the loop-vs-batched comparison (0: skip)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: library default)")
    ap.add_argument("--one", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--peer-only", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    if args.one:
        print(json.dumps(_one(args.one, args.dim, args.batch_size)))
        return
    if args.peer_only:
        print(json.dumps(_peer(args.peer_only, args.dim)))
        return
    base = [sys.executable, __file__, "--dim", str(args.dim), "--batch-size", str(args.batch_size),
            "--threads", str(args.threads)]
    rows = []
    for n in args.sizes:
        out = subprocess.run(base + ["--one", str(n)], check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        r = rows[-1]
        print(f"n={n:>6}  gradients+projection {r['gradients_s']:7.1f} s ({1e3 * r['gradients_s'] / n:.1f} ms/example)"
              f"  vendi {r['vendi_s'] * 1e3:6.1f} ms  peak RSS {r['peak_rss_mb']:6.0f} MB  G-Vendi {r['g_vendi']:.1f}"
              f"  (D={r['params']:,} -> dim={r['dim']}, {r['threads']} threads)", flush=True)
    for a, b in zip(rows, rows[1:]):
        k = b["n"] / a["n"]
        print(f"{a['n']} -> {b['n']} examples (x{k:g}): time x{b['gradients_s'] / a['gradients_s']:.2f}, "
              f"vendi time x{b['vendi_s'] / max(a['vendi_s'], 1e-9):.2f}, peak RSS x{b['peak_rss_mb'] / a['peak_rss_mb']:.2f}")
    if args.peer:
        out = subprocess.run(base + ["--peer-only", str(args.peer)], check=True, capture_output=True, text=True).stdout
        p = json.loads(out.strip().splitlines()[-1])
        print(f"peer, {p['n']} examples: plain loss.backward() loop {p['loop_s']:.1f} s vs torch.func batched "
              f"{p['batched_s']:.1f} s -> batched is {p['loop_s'] / p['batched_s']:.2f}x the loop's speed")


if __name__ == "__main__":
    main()
