"""Arms × seeds: train each arm per seed with its own learning rate chosen on a dev split, evaluate
on the eval split item by item, and judge arms by the collection's rule (:mod:`slmlab.comparison`).

Every notebook that compares training arms calls :func:`run_arms`::

    results = run_arms({"cpt": train_cpt, "rlp": train_rlp}, seeds, evaluate=evaluate,
                       lr_grid={"cpt": [1e-4, 3e-4, 1e-3], "rlp": [3e-5, 1e-4, 3e-4]}, select="accuracy")
    print(results.compare("rlp", "cpt", "accuracy"))
    record("03_...", {"design_b": results.summary()})

``train(seed, lr)`` returns a trained model (lr is None without a grid); ``evaluate(model, split)``
returns a dict of metrics for ``split`` "dev" or "eval", where a metric may be a list of per-item
scores (its per-seed value is their mean and :meth:`ArmResults.compare` resamples the items).

**The tuning procedure, the same for every arm**: for each rate of the arm's grid, train at the first
seed (``tune_seed``) and evaluate on "dev"; keep the rate with the best ``select``; ties go to the
smaller rate. The eval split is never read while tuning. The run at the tuning seed and the chosen
rate is the arm's result for that seed (the same training, not repeated). Grids of the same size for
every arm keep the search fair; a notebook prints :meth:`ArmResults.describe_tuning`.

Arms are matched by compute, counted the same way everywhere: training FLOPs = 6·N·T (N parameters,
T tokens processed; 2·N forward + 4·N backward per token, attention ignored, padded tokens counted
because they are work actually done). :func:`tokens_per_step` reads T per step from a ``TrainConfig``
and :func:`matched_steps` turns another arm's FLOPs into a step count.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from tqdm.auto import tqdm

from .comparison import RULE, Comparison, compare, mean_spread

__all__ = ["RULE", "Comparison", "mean_spread", "compare", "ArmResults", "run_arms", "collect",
           "finetune_copy", "train_flops", "tokens_per_step", "matched_steps"]


def _check_seeds(seeds) -> list[int]:
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise TypeError(f"seeds={seeds!r} must be a list of seeds, e.g. [0, 1, 2]")
    seeds = list(seeds)
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
        raise ValueError(f"seeds={seeds!r} must be a non-empty list of non-negative ints")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds={seeds!r} repeats a seed; each seed must appear once")
    return seeds


def _check_grid(grid, arm: str) -> list[float]:
    if isinstance(grid, (str, bytes)) or not isinstance(grid, Sequence) or not grid:
        raise ValueError(f"lr_grid for arm {arm!r} must be a non-empty list of learning rates; got {grid!r}")
    for lr in grid:
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
            raise ValueError(f"lr_grid for arm {arm!r} holds {lr!r}: every rate must be a finite number > 0")
    return sorted(float(x) for x in grid)


def _split_metrics(metrics, where: str) -> tuple[dict, dict]:
    """A metrics dict -> (per-seed numbers, per-item lists); a list's number is its mean."""
    if not isinstance(metrics, Mapping):
        raise TypeError(f"{where} returned {type(metrics).__name__}; it must return a dict of metrics")
    numbers, items = {}, {}
    for key, value in metrics.items():
        if isinstance(value, (list, tuple)) and value and all(
                isinstance(v, (int, float)) and not isinstance(v, str) for v in value):
            items[key] = [float(v) for v in value]
            numbers[key] = sum(items[key]) / len(items[key])
        else:
            numbers[key] = value
    return numbers, items


@dataclass
class ArmResults:
    """What :func:`run_arms` returns: per arm, the chosen rate, the dev scores of its grid, and per
    seed the eval metrics (numbers) and per-item scores (lists)."""

    seeds: list[int]
    per_seed: dict[str, list[dict]] = field(default_factory=dict)   # arm -> [{metric: number, "seed"}]
    items: dict[str, dict[str, list[list[float]]]] = field(default_factory=dict)  # arm -> metric -> seeds x items
    lr: dict[str, float | None] = field(default_factory=dict)
    dev_scores: dict[str, dict[float, float]] = field(default_factory=dict)
    select: str | None = None

    def __post_init__(self):
        self.seeds = _check_seeds(self.seeds)
        for name in ("per_seed", "items", "lr", "dev_scores"):
            if not isinstance(getattr(self, name), dict):
                raise TypeError(f"ArmResults.{name} must be a dict keyed by arm, got {type(getattr(self, name)).__name__}")
        if self.select is not None and not isinstance(self.select, str):
            raise TypeError(f"ArmResults.select={self.select!r} must be None or a metric name")

    def values(self, arm: str, metric: str) -> list[float]:
        """The per-seed values of ``metric`` for ``arm``."""
        return collect(self.per_seed, arm, metric)

    def compare(self, a: str, b: str, metric: str, *, higher_is_better: bool = True,
                names: tuple[str, str] | None = None, label: str | None = None) -> Comparison:
        """The collection's rule on arms ``a`` and ``b``; per-item scores resampled when both have them."""
        items = [self.items.get(arm, {}).get(metric) for arm in (a, b)]
        per_item = all(i is not None for i in items)
        return compare(None if per_item else self.values(a, metric), None if per_item else self.values(b, metric),
                       items_a=items[0] if per_item else None, items_b=items[1] if per_item else None,
                       names=names or (a, b), metric=label or metric, higher_is_better=higher_is_better)

    def summary(self, metrics: Sequence[str] | None = None) -> dict:
        """One recording scheme for summary.json: ``{arm: {metric: mean, "<metric>_spread": sd,
        "per_seed": {metric: [...]}, "lr": chosen rate, "dev": {rate: dev score}}}``."""
        out = {}
        for arm, rows in self.per_seed.items():
            keys = [k for k in (metrics or rows[0]) if k != "seed"
                    and all(isinstance(r.get(k), (int, float)) and not isinstance(r.get(k), bool) for r in rows)]
            entry: dict[str, Any] = {}
            for k in keys:
                entry[k], entry[f"{k}_spread"] = mean_spread([r[k] for r in rows], f"{arm} {k}")
            entry["per_seed"] = {k: [r[k] for r in rows] for k in keys}
            entry["seeds"] = list(self.seeds)
            if self.lr.get(arm) is not None:
                entry["lr"] = self.lr[arm]
                entry["dev"] = {f"{lr:g}": s for lr, s in self.dev_scores.get(arm, {}).items()}
            out[arm] = entry
        return out

    def describe_tuning(self, names: Mapping[str, str] | None = None, metric: str | None = None) -> str:
        """The grid and the choice of every tuned arm, one line each; ``names`` maps an arm to the label
        a reader sees and ``metric`` names the dev measure (default: the arm and metric keys)."""
        if names is not None and not isinstance(names, Mapping):
            raise ValueError(f"names={names!r} must be a dict {{arm: label}} or None")
        if metric is not None and not isinstance(metric, str):
            raise ValueError(f"metric={metric!r} must be a str (the dev measure's readable name) or None")
        lines = []
        for arm, scores in self.dev_scores.items():
            grid = ", ".join(f"{lr:g} -> {s:.4g}" for lr, s in scores.items())
            label = (names or {}).get(arm, arm)
            lines.append(f"{label}: dev {metric or self.select} by learning rate {{{grid}}}; chosen {self.lr[arm]:g}")
        return "\n".join(lines)


def run_arms(arms: Mapping[str, Callable[[int, float | None], Any]], seeds: Sequence[int], *,
             evaluate: Callable[[Any, str], Mapping[str, Any]],
             lr_grid: Sequence[float] | Mapping[str, Sequence[float]] | None = None,
             select: str | None = None, higher_is_better: bool = True, tune_seed: int | None = None,
             progress: bool = True) -> ArmResults:
    """Train every arm once per seed and evaluate it; with ``lr_grid``, first choose each arm's rate
    on the dev split by the module's procedure (see the module docstring).

    ``arms[name](seed, lr)`` returns a trained model; ``evaluate(model, split)`` a dict of metrics (a
    list value = per-item scores). ``lr_grid``: one list for every arm, or ``{arm: list}`` covering
    every arm. ``select``: the dev metric to maximise (minimise with ``higher_is_better=False``)."""
    if not isinstance(arms, Mapping) or not arms:
        raise ValueError("arms must be a non-empty dict {name: train(seed, lr) -> model}")
    for name, fn in arms.items():
        if not isinstance(name, str) or not callable(fn):
            raise TypeError(f"arms[{name!r}] must be a callable train(seed, lr) -> model, keyed by a str name")
    if not callable(evaluate):
        raise TypeError(f"evaluate={evaluate!r} must be a callable evaluate(model, split) -> dict of metrics")
    seeds = _check_seeds(seeds)
    grids: dict[str, list[float]] = {}
    if lr_grid is not None:
        if isinstance(lr_grid, Mapping):
            missing = sorted(set(arms) - set(lr_grid))
            if missing:
                raise ValueError(f"lr_grid has no grid for arm(s) {missing}: give every arm one (the same "
                                 "procedure for every arm)")
            grids = {a: _check_grid(lr_grid[a], a) for a in arms}
        else:
            grids = {a: _check_grid(lr_grid, a) for a in arms}
        if not isinstance(select, str):
            raise ValueError(f"select={select!r} must name the dev metric that chooses the learning rate")
    tune_seed = seeds[0] if tune_seed is None else tune_seed
    if grids and tune_seed not in seeds:
        raise ValueError(f"tune_seed={tune_seed!r} must be one of seeds={seeds}")
    results = ArmResults(seeds=seeds, per_seed={a: [] for a in arms}, items={a: {} for a in arms}, select=select)
    total = sum(len(g) for g in grids.values()) + len(arms) * len(seeds) - len(grids)
    bar = tqdm(total=total, desc="arms x seeds", disable=not progress)
    kept = {}
    for arm, grid in grids.items():
        scores, models = {}, {}
        for lr in grid:
            model = arms[arm](tune_seed, lr)
            dev, _ = _split_metrics(evaluate(model, "dev"), f"evaluate(model of {arm!r}, 'dev')")
            if select not in dev:
                raise ValueError(f"select={select!r} is not among the dev metrics {sorted(dev)}")
            scores[lr] = float(dev[select])
            models[lr] = model
            bar.update(1)
        sign = 1 if higher_is_better else -1
        best = max(grid, key=lambda lr: (sign * scores[lr], -lr))   # ties: the smaller rate
        results.lr[arm], results.dev_scores[arm], kept[arm] = best, scores, models[best]
        del models
    for seed in seeds:   # seeds outer: an interrupted run has every arm at the same number of seeds
        for arm, train in arms.items():
            lr = results.lr.get(arm)
            if arm in kept and seed == tune_seed:
                model = kept.pop(arm)
            else:
                model = train(seed, lr)
                bar.update(1)
            numbers, items = _split_metrics(evaluate(model, "eval"), f"evaluate(model of {arm!r}, 'eval')")
            results.per_seed[arm].append({**numbers, "seed": seed})
            for key, scores in items.items():
                results.items[arm].setdefault(key, []).append(scores)
            del model
    bar.close()
    return results


def collect(results: Mapping[str, Sequence[Mapping]], arm: str, metric: str) -> list[float]:
    """The per-seed values of ``metric`` for ``arm`` from per-seed rows (``ArmResults.per_seed``)."""
    if arm not in results:
        raise ValueError(f"arm={arm!r} is not among {sorted(results)}")
    rows = results[arm]
    missing = [r.get("seed") for r in rows if metric not in r]
    if missing:
        raise ValueError(f"metric={metric!r} is missing for arm {arm!r} at seeds {missing}")
    return [r[metric] for r in rows]


def finetune_copy(model, tokenizer, texts, cfg, *, eval_texts=None, labels=None):
    """A copy of ``model`` trained on ``texts`` with ``cfg`` (a ``TrainConfig``) by
    :func:`slmlab.training.pretrain`; ``model`` itself is left as it was. Returns ``(copy, run)`` where
    ``run`` is pretrain's dict (history, tokens, final_eval_loss) without the model."""
    from .training import TrainConfig, pretrain
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig; got {type(cfg).__name__}")
    clone = copy.deepcopy(model)
    run = pretrain(clone, tokenizer, texts, cfg, eval_texts=eval_texts, labels=labels)
    trained = run.pop("model")
    return trained.eval(), run


# ---------------------------------------------------------------- matching arms by FLOPs
def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive int")
    return value


def train_flops(n_params: int, tokens: int | float) -> float:
    """FLOPs of training ``n_params`` parameters on ``tokens`` tokens: 6·N·T (forward 2·N, backward 4·N
    per token; attention ignored, as in ``rlp.step_flops``)."""
    _positive_int(n_params, "n_params")
    if isinstance(tokens, bool) or not isinstance(tokens, (int, float)) or not math.isfinite(tokens) or tokens < 0:
        raise ValueError(f"tokens={tokens!r} must be a finite number >= 0")
    return 6.0 * n_params * tokens


def tokens_per_step(config) -> int:
    """Tokens one optimizer step processes under a ``TrainConfig``: batch_size × block_size (packed
    blocks, so every token is real work)."""
    for name in ("batch_size", "block_size"):
        if not hasattr(config, name):
            raise TypeError(f"config must be a TrainConfig (with batch_size and block_size); got {type(config).__name__}")
    return _positive_int(config.batch_size, "config.batch_size") * _positive_int(config.block_size, "config.block_size")


def matched_steps(flops: float, n_params: int, config, minimum: int = 1) -> int:
    """Optimizer steps of ``config`` whose training FLOPs (:func:`train_flops`) come nearest ``flops``,
    another arm's measured compute; at least ``minimum``. Report the matched arm's own FLOPs with
    ``train_flops(n_params, steps * tokens_per_step(config))``: rounding leaves a gap under one step."""
    if isinstance(flops, bool) or not isinstance(flops, (int, float)) or not math.isfinite(flops) or flops < 0:
        raise ValueError(f"flops={flops!r} must be a finite number >= 0")
    _positive_int(minimum, "minimum")
    return max(minimum, round(flops / train_flops(n_params, tokens_per_step(config))))
