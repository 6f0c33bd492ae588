"""Command line: ``python -m slmlab run ...`` executes the collection; ``train-embedded`` rebuilds
the embedded default model."""
from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m slmlab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute the notebooks with papermill and write the report")
    run.add_argument("--profile", default="default", help="smoke, default or gpu")
    run.add_argument("--only", default=None, help="comma-separated notebook numbers, e.g. 00,01")
    run.add_argument("--out", default="report", help="output folder (default: report/)")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--device", default="auto")
    run.add_argument("--model", default=None, help="a local folder or hub id instead of the embedded model")
    train = sub.add_parser("train-embedded", help="train the embedded default model from scratch")
    train.add_argument("--steps", type=int, default=None)
    train.add_argument("--out", default=None, help="model folder (default: the embedded one)")
    train.add_argument("--work-dir", default="runs/embedded", help="checkpoints; re-running resumes")
    train.add_argument("--device", default="cpu", help="cpu (the documented recipe) or cuda")
    args = parser.parse_args(argv)
    if args.command == "run":
        from .runner import run_collection
        try:
            run_collection(profile=args.profile, only=args.only, out=args.out, seed=args.seed,
                           device=args.device, model=args.model)
        except (ValueError, RuntimeError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        return 0
    from pathlib import Path
    from .embedded_recipe import EMBEDDED_MODEL, Recipe, train_embedded
    recipe = Recipe() if args.steps is None else Recipe(steps=args.steps)
    card = train_embedded(recipe, Path(args.out) if args.out else EMBEDDED_MODEL, Path(args.work_dir),
                          device=args.device)
    print({k: v for k, v in card.items() if k != "recipe"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
