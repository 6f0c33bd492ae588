"""Arms × seeds, and the collection's one rule for "A beats B beyond the seed spread".

Every notebook that compares two training arms runs each arm over the same seeds, collects one
number per seed, and calls :func:`compare`. The rule, stated once here and printed by every verdict:

    A beats B  when  mean(A) - mean(B) > sd(A) + sd(B),

where ``sd`` is the sample standard deviation over seeds (``ddof=1``) and each arm has at least two
seeds. (With "lower is better", the sign flips.) The sum of the two spreads is deliberately
conservative: two arms whose one-sd bars overlap are called "within the seed spread", however the
means fall. One seed has no spread, so it never yields a verdict.

Arms are matched by compute, counted the same way everywhere: training FLOPs = 6·N·T (N parameters,
T tokens processed; 2·N forward + 4·N backward per token, attention ignored, padded tokens counted
because they are work actually done). :func:`tokens_per_step` reads T per step from a
``TrainConfig`` and :func:`matched_steps` turns another arm's FLOPs into a step count, so no
notebook copies a token count by hand.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass
from typing import Callable, Mapping, Sequence

from tqdm.auto import tqdm

__all__ = ["RULE", "Comparison", "mean_spread", "compare", "run_arms", "collect",
           "train_flops", "tokens_per_step", "matched_steps"]

RULE = "A beats B when mean(A) - mean(B) > sd(A) + sd(B) (sample sd over seeds, each arm >= 2 seeds)"


def _numbers(values, name: str) -> list[float]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a list of numbers, one per seed; got {type(values).__name__}")
    out = []
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError(f"{name}[{i}]={v!r} must be a number")
        if not math.isfinite(v):
            raise ValueError(f"{name}[{i}]={v!r} must be finite (a NaN or inf result cannot be compared)")
        out.append(float(v))
    if not out:
        raise ValueError(f"{name} is empty: run the arm over at least one seed")
    return out


def mean_spread(values: Sequence[float], name: str = "values") -> tuple[float, float]:
    """Mean and sample standard deviation over seeds (0.0 for a single seed)."""
    xs = _numbers(values, name)
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


@dataclass(frozen=True)
class Comparison:
    """The outcome of :func:`compare`; ``str()`` is the one verdict line every notebook prints."""

    a: str
    b: str
    metric: str
    a_mean: float
    a_spread: float
    b_mean: float
    b_spread: float
    n_a: int
    n_b: int
    higher_is_better: bool
    a_beats_b: bool
    b_beats_a: bool

    @property
    def difference(self) -> float:
        return self.a_mean - self.b_mean

    @property
    def verdict(self) -> str:
        if min(self.n_a, self.n_b) < 2:
            return "no verdict (needs >= 2 seeds per arm)"
        if self.a_beats_b:
            return f"{self.a} beats {self.b}"
        if self.b_beats_a:
            return f"{self.b} beats {self.a}"
        return "within the seed spread"

    def to_dict(self) -> dict:
        return dict(asdict(self), difference=self.difference, verdict=self.verdict)

    def __str__(self) -> str:
        better = "higher" if self.higher_is_better else "lower"
        return (f"{self.metric} ({better} is better): {self.a} {self.a_mean:.4g} ± {self.a_spread:.2g} "
                f"(n={self.n_a}) vs {self.b} {self.b_mean:.4g} ± {self.b_spread:.2g} (n={self.n_b}); "
                f"difference {self.difference:+.4g}, spread sum {self.a_spread + self.b_spread:.2g} "
                f"-> {self.verdict}")


def compare(a: Sequence[float], b: Sequence[float], *, names: tuple[str, str] = ("A", "B"),
            metric: str = "metric", higher_is_better: bool = True) -> Comparison:
    """Apply the collection's rule (:data:`RULE`) to per-seed results ``a`` and ``b``."""
    if not (isinstance(names, (tuple, list)) and len(names) == 2 and all(isinstance(n, str) for n in names)):
        raise ValueError(f"names={names!r} must be two strings, e.g. ('rlp', 'cpt')")
    if not isinstance(higher_is_better, bool):
        raise TypeError(f"higher_is_better={higher_is_better!r} must be True or False")
    a_mean, a_sd = mean_spread(a, "a")
    b_mean, b_sd = mean_spread(b, "b")
    n_a, n_b = len(a), len(b)
    enough = min(n_a, n_b) >= 2
    sign = 1.0 if higher_is_better else -1.0
    margin = sign * (a_mean - b_mean)
    return Comparison(names[0], names[1], metric, a_mean, a_sd, b_mean, b_sd, n_a, n_b, higher_is_better,
                      a_beats_b=enough and margin > a_sd + b_sd, b_beats_a=enough and -margin > a_sd + b_sd)


def run_arms(arms: Mapping[str, Callable[[int], Mapping[str, float]]], seeds: Sequence[int],
             progress: bool = True) -> dict[str, list[dict]]:
    """Run every arm once per seed: ``arms[name](seed)`` returns a dict of metrics.

    Seeds are the outer loop so an interrupted run has every arm at the same number of seeds.
    Returns ``{arm: [metrics for seed 0, metrics for seed 1, ...]}`` with ``seed`` added to each.
    """
    if not isinstance(arms, Mapping) or not arms:
        raise ValueError("arms must be a non-empty dict {name: function(seed) -> dict of metrics}")
    for name, fn in arms.items():
        if not callable(fn):
            raise TypeError(f"arms[{name!r}] must be callable as fn(seed) -> dict; got {type(fn).__name__}")
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise TypeError(f"seeds={seeds!r} must be a list of seeds, e.g. [0, 1, 2]")
    seeds = list(seeds)
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
        raise ValueError(f"seeds={seeds!r} must be a non-empty list of non-negative ints")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds={seeds!r} repeats a seed; each seed must appear once")
    results: dict[str, list[dict]] = {name: [] for name in arms}
    bar = tqdm(total=len(arms) * len(seeds), desc="arms x seeds", disable=not progress)
    for seed in seeds:
        for name, fn in arms.items():
            metrics = fn(seed)
            if not isinstance(metrics, Mapping):
                raise TypeError(f"arms[{name!r}]({seed}) returned {type(metrics).__name__}; it must return a dict")
            results[name].append({**metrics, "seed": seed})
            bar.update(1)
    bar.close()
    return results


def collect(results: Mapping[str, Sequence[Mapping]], arm: str, metric: str) -> list[float]:
    """The per-seed values of ``metric`` for ``arm`` from :func:`run_arms`' output."""
    if arm not in results:
        raise ValueError(f"arm={arm!r} is not among {sorted(results)}")
    rows = results[arm]
    missing = [r.get("seed") for r in rows if metric not in r]
    if missing:
        raise ValueError(f"metric={metric!r} is missing for arm {arm!r} at seeds {missing}")
    return [r[metric] for r in rows]


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
