"""The collection's one rule for "A beats B", counting both noises an experiment here has.

Every arm is trained over several seeds and scored on one fixed eval set, so a difference between
two arms carries two kinds of noise: the **seeds** (another seed trains another model) and the **eval
items** (another eval set of the same size would score it differently). The rule, stated once here
and printed by every verdict:

    A beats B  when the 95% interval of mean(A) - mean(B), from a paired hierarchical bootstrap,
    lies wholly above 0 (below 0 when lower is better).

One bootstrap draw resamples each arm's seeds with replacement (independently: the arms are separate
training runs) and resamples the eval items with replacement *once for both arms* (paired: both are
scored on the same items), then takes the difference of the two arms' means over the drawn seeds and
items. The interval is the 2.5th and 97.5th percentile of 4,000 draws (percentile bootstrap, fixed
seed, so the same numbers give the same verdict). An arm needs at least two seeds for a verdict.

Without per-item scores there is nothing to resample but three or so seeds, and a bootstrap of three
numbers is too narrow (it sees ten distinct resamples). Then the interval is Welch's t interval over
seeds instead, and the verdict says "within the seed spread". With items, the item resampling also
re-draws each item's seed-to-seed noise, which the seed resampling already counts: the two errors
(too few seeds, noise counted twice) pull opposite ways, and on simulated 0/1 scores like the
notebooks' (3 seeds, 120 items) the rule passed a null difference in under 5% of runs and an effect of
:func:`minimal_detectable_effect`'s size in about 75% (``tests/test_experiment.py``). The sample sd
over seeds is printed beside every mean so a reader sees both noises.

Before training, :func:`minimal_detectable_effect` says how large a true difference a design can
see: with standard error SE of mean(A) - mean(B) (seed noise of each arm plus the item noise of the
paired per-item difference), a two-sided test at ``alpha`` detects with probability ``power`` an effect
of (z_{1-alpha/2} + z_power)·SE, about 2.8·SE at the defaults. :func:`detectable_from_items` estimates
the two noises from a pilot arm's per-seed, per-item scores.

Where the question is not "does A beat B" but "does a score rank several arms like their outcome"
(notebook 05: does G-Vendi rank data mixes like the accuracy they produce), :func:`rank_correlation_test`
gives Spearman's rho and a permutation p-value (exact over every re-pairing when there are few).
"""
from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from . import _checks

__all__ = ["RULE", "Comparison", "mean_spread", "compare",
           "minimal_detectable_effect", "detectable_from_items", "rank_correlation_test"]

RULE = ("A beats B when the 95% interval of mean(A) - mean(B) excludes 0; the interval from a paired "
        "hierarchical bootstrap that resamples each arm's seeds and the shared eval items, or Welch's t over seeds "
        "when there are no per-item scores (each arm >= 2 seeds)")
N_BOOT = 4000


def _number(v, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}={v!r} must be a number")
    v = float(v)
    if not math.isfinite(v):
        raise ValueError(f"{name}={v!r} must be finite (a NaN or inf result cannot be compared)")
    return v


def _numbers(values, name: str) -> list[float]:
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a list of numbers, one per seed; got {type(values).__name__}")
    out = [_number(v, f"{name}[{i}]") for i, v in enumerate(values)]
    if not out:
        raise ValueError(f"{name} is empty: run the arm over at least one seed")
    return out


def _item_matrix(items, name: str) -> np.ndarray:
    """Per-seed, per-item scores as a (seeds, items) float array, checked."""
    if isinstance(items, np.ndarray):
        items = items.tolist()
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence) or not items:
        raise TypeError(f"{name} must be a non-empty list with one list of per-item scores per seed")
    rows = [_numbers(row, f"{name}[{s}]") for s, row in enumerate(items)]
    lengths = {len(r) for r in rows}
    if len(lengths) != 1:
        raise ValueError(f"{name} has seeds scored on different numbers of items {sorted(lengths)}: "
                         "every seed must be scored on the same eval items")
    return np.asarray(rows, dtype=np.float64)


def mean_spread(values: Sequence[float], name: str = "values") -> tuple[float, float]:
    """Mean and sample standard deviation over seeds (0.0 for a single seed)."""
    xs = _numbers(values, name)
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def _welch_interval(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Welch's t interval of mean(a) - mean(b) over seeds (unequal variances)."""
    from scipy.stats import t
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    diff = float(a.mean() - b.mean())
    if va + vb == 0:
        return diff, diff
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = float(t.ppf(0.5 + level / 2, df) * np.sqrt(va + vb))
    return diff - half, diff + half


def _bootstrap_difference(a, b, *, paired_items: bool, n_boot: int = N_BOOT, seed: int = 0) -> np.ndarray:
    """``n_boot`` draws of mean(A) - mean(B) under the hierarchical bootstrap of :data:`RULE`.

    ``a`` and ``b`` are (seeds, items) arrays; with ``paired_items`` both share one item resample per
    draw, otherwise (one column each: per-seed numbers only) just the seeds are resampled."""
    rng = np.random.default_rng(seed)
    (n_a, n_i), n_b = a.shape, b.shape[0]
    # a draw's weights: how often each seed (and item) was drawn, as a share of the draw
    w_a = rng.multinomial(n_a, np.full(n_a, 1 / n_a), size=n_boot) / n_a           # (n_boot, n_a)
    w_b = rng.multinomial(n_b, np.full(n_b, 1 / n_b), size=n_boot) / n_b           # (n_boot, n_b)
    if paired_items:
        w_i = rng.multinomial(n_i, np.full(n_i, 1 / n_i), size=n_boot) / n_i       # (n_boot, n_i)
        mean_a = np.einsum("bs,si,bi->b", w_a, a, w_i)
        mean_b = np.einsum("bs,si,bi->b", w_b, b, w_i)
    else:
        mean_a, mean_b = w_a @ a.mean(1), w_b @ b.mean(1)
    return mean_a - mean_b


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
    ci_low: float | None = None    # the 95% interval of mean(A) - mean(B) (None: recorded before the rule had one)
    ci_high: float | None = None
    n_items: int = 0               # eval items resampled (0: seeds only)

    def __post_init__(self):
        # also built from summary.json (frontpage): a hand-edited or truncated record is refused here
        for name in ("a", "b", "metric"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"Comparison.{name}={getattr(self, name)!r} must be a str")
        for name in ("a_mean", "a_spread", "b_mean", "b_spread", "ci_low", "ci_high"):
            v = getattr(self, name)
            if (v is not None or name in ("a_mean", "a_spread", "b_mean", "b_spread")) and (
                    isinstance(v, bool) or not isinstance(v, (int, float))):
                raise TypeError(f"Comparison.{name}={v!r} must be a number")
        for name in ("n_a", "n_b", "n_items"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"Comparison.{name}={v!r} must be an int >= 0")
        for name in ("higher_is_better", "a_beats_b", "b_beats_a"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"Comparison.{name}={getattr(self, name)!r} must be True or False")
        if self.a_beats_b and self.b_beats_a:
            raise ValueError("Comparison.a_beats_b and b_beats_a cannot both be True")

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
        return "within the noise of seeds and eval items" if self.n_items else "within the seed spread"

    def to_dict(self) -> dict:
        return dict(asdict(self), difference=self.difference, verdict=self.verdict)

    def __str__(self) -> str:
        better = "higher" if self.higher_is_better else "lower"
        where = f"seeds and {self.n_items} eval items" if self.n_items else "seeds"
        interval = (f" [95% interval {self.ci_low:+.3g} to {self.ci_high:+.3g} over {where}]"
                    if self.ci_low is not None else "")
        return (f"{self.metric} ({better} is better): {self.a} {self.a_mean:.4g} ± {self.a_spread:.2g} "
                f"(n={self.n_a}) vs {self.b} {self.b_mean:.4g} ± {self.b_spread:.2g} (n={self.n_b}); "
                f"difference {self.difference:+.4g}{interval} -> {self.verdict}")


def compare(a: Sequence[float] | None = None, b: Sequence[float] | None = None, *,
            names: tuple[str, str] = ("A", "B"), metric: str = "metric", higher_is_better: bool = True,
            items_a=None, items_b=None, seed: int = 0) -> Comparison:
    """Apply the collection's rule (:data:`RULE`) to arms ``a`` and ``b``.

    ``a``/``b``: one number per seed. ``items_a``/``items_b``: optionally each seed's per-item scores
    (seeds × items, both arms on the same eval items in the same order); then the per-seed numbers are
    their means (pass ``a``/``b`` as None, or equal to those means) and the interval resamples items too.
    """
    if not (isinstance(names, (tuple, list)) and len(names) == 2 and all(isinstance(n, str) for n in names)):
        raise ValueError(f"names={names!r} must be two strings, e.g. ('rlp', 'cpt')")
    if not isinstance(higher_is_better, bool):
        raise TypeError(f"higher_is_better={higher_is_better!r} must be True or False")
    if not isinstance(metric, str):
        raise TypeError(f"metric={metric!r} must be a string naming what is compared")
    if (items_a is None) != (items_b is None):
        raise ValueError("items_a and items_b go together: give both arms' per-item scores, or neither")
    _checks.seed(seed)  # None would draw the bootstrap from fresh entropy: the same numbers, another verdict
    arms = []
    for name, seeds_, items in (("a", a, items_a), ("b", b, items_b)):
        if items is None:
            if seeds_ is None:
                raise ValueError(f"{name} is missing: give one number per seed (or items_{name})")
            arms.append(np.asarray(_numbers(seeds_, name))[:, None])
            continue
        matrix = _item_matrix(items, f"items_{name}")
        if seeds_ is not None:
            given = np.asarray(_numbers(seeds_, name))
            if len(given) != len(matrix) or not np.allclose(given, matrix.mean(1), atol=1e-6):
                raise ValueError(f"{name} must be the per-seed means of items_{name} (or None): got {given.tolist()} "
                                 f"against {matrix.mean(1).tolist()}")
        arms.append(matrix)
    mat_a, mat_b = arms
    paired = items_a is not None
    if paired and mat_a.shape[1] != mat_b.shape[1]:
        raise ValueError(f"items_a scores {mat_a.shape[1]} items and items_b {mat_b.shape[1]}: both arms must be "
                         "scored on the same eval items")
    a_mean, a_sd = mean_spread(mat_a.mean(1).tolist(), "a")
    b_mean, b_sd = mean_spread(mat_b.mean(1).tolist(), "b")
    n_a, n_b = len(mat_a), len(mat_b)
    if min(n_a, n_b) < 2:
        return Comparison(names[0], names[1], metric, a_mean, a_sd, b_mean, b_sd, n_a, n_b, higher_is_better,
                          False, False, None, None, mat_a.shape[1] if paired else 0)
    if paired:
        draws = _bootstrap_difference(mat_a, mat_b, paired_items=True, seed=seed)
        low, high = (float(x) for x in np.percentile(draws, [2.5, 97.5]))
    else:
        low, high = _welch_interval(mat_a[:, 0], mat_b[:, 0])
    above, below = low > 0, high < 0
    return Comparison(names[0], names[1], metric, a_mean, a_sd, b_mean, b_sd, n_a, n_b, higher_is_better,
                      a_beats_b=above if higher_is_better else below,
                      b_beats_a=below if higher_is_better else above,
                      ci_low=low, ci_high=high, n_items=mat_a.shape[1] if paired else 0)


def _z(p: float) -> float:
    return statistics.NormalDist().inv_cdf(p)


def minimal_detectable_effect(*, seed_sd: float, n_seeds: int, n_items: int, item_sd: float,
                              alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest true difference mean(A) - mean(B) the design detects with probability ``power``
    in a two-sided test at level ``alpha``: (z_{1-alpha/2} + z_power) · SE, with

        SE² = 2·seed_sd²/n_seeds + item_sd²/n_items

    ``seed_sd``: sd of one arm's eval score over seeds (same eval set); ``item_sd``: sd over eval items
    of the per-item difference between the two arms (for 0/1 scores of independent arms at accuracy p,
    at most sqrt(2·p·(1-p)); paired arms from one start are usually well below that)."""
    for name, v in (("seed_sd", seed_sd), ("item_sd", item_sd)):
        if _number(v, name) < 0:
            raise ValueError(f"{name}={v!r} must be >= 0 (a standard deviation)")
    for name, v in (("n_seeds", n_seeds), ("n_items", n_items)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name}={v!r} must be a positive int")
    for name, v, lo in (("alpha", alpha, 0.0), ("power", power, 0.0)):
        if not (0 < _number(v, name) < 1):
            raise ValueError(f"{name}={v!r} must lie strictly between 0 and 1")
    se = math.sqrt(2 * seed_sd ** 2 / n_seeds + item_sd ** 2 / n_items)
    return (_z(1 - alpha / 2) + _z(power)) * se


def detectable_from_items(items, *, n_seeds: int | None = None, n_items: int | None = None,
                          alpha: float = 0.05, power: float = 0.8) -> dict:
    """:func:`minimal_detectable_effect` of a design whose two arms behave like a pilot arm, from the
    pilot's per-seed, per-item scores (seeds × items) — measured before the experiment is trained.

    ``seed_sd`` is the sd of the pilot's per-seed means. ``item_sd`` is the sd over items of the
    per-item difference between two such arms' seed means when nothing differs but the seeds:
    sqrt(2 · mean over items of the variance over seeds / n_seeds). (Items' difficulty cancels in the
    paired difference; a real effect adds arm-by-item variance the pilot cannot show.) ``n_seeds`` and
    ``n_items`` (default: the pilot's) ask what a larger design would detect, assuming the per-item
    noise stays as measured (the seed sd is not shrunk for more items). Returns the inputs with ``mde``."""
    matrix = _item_matrix(items, "items")
    if matrix.shape[0] < 2:
        raise ValueError("items holds one seed: a pilot needs >= 2 seeds to measure the seed spread")
    pilot_seeds, pilot_items = matrix.shape
    n_seeds = pilot_seeds if n_seeds is None else n_seeds
    n_items = pilot_items if n_items is None else n_items
    for name, v in (("n_seeds", n_seeds), ("n_items", n_items)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name}={v!r} must be a positive int")
    # kept as measured for any n_items: part of a seed's effect shifts every item alike, and that part
    # does not shrink with a larger eval set (conservative)
    seed_sd = float(matrix.mean(1).std(ddof=1))
    item_sd = math.sqrt(2 * float(matrix.var(0, ddof=1).mean()) / n_seeds)
    mde = minimal_detectable_effect(seed_sd=seed_sd, n_seeds=n_seeds, n_items=n_items, item_sd=item_sd,
                                    alpha=alpha, power=power)
    return {"seed_sd": seed_sd, "item_sd": item_sd, "n_seeds": n_seeds, "n_items": n_items, "mde": mde}


def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean of their positions), 0-based, along the last axis."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=float)
    for v in np.unique(x):             # ties: the mean of their ranks
        tie = x == v
        if tie.sum() > 1:
            ranks[tie] = ranks[tie].mean()
    return ranks


def rank_correlation_test(x, y, n_permutations: int = 10_000, seed: int = 0) -> tuple[float, float]:
    """Spearman's rho between ``x`` and ``y`` and its two-sided permutation p-value.

    The null hypothesis: the pairing of ``x`` with ``y`` is arbitrary (e.g. a diversity score says nothing
    about the accuracy it is set against). The p-value is the share of re-pairings of ``y`` with |rho| at least the
    observed |rho|: every permutation when there are at most ``n_permutations`` of them (exact),
    otherwise ``n_permutations`` random ones drawn with ``seed`` plus the observed pairing itself
    ((hits + 1) / (n + 1), never 0). Returns ``(nan, nan)`` when either side is constant (no ranking)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"x and y must be 1-d and the same length, got shapes {x.shape} and {y.shape}")
    if len(x) < 3:
        raise ValueError(f"need at least 3 pairs for a rank correlation, got {len(x)}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("x and y must be finite numbers (drop the NaN pairs first)")
    if isinstance(n_permutations, bool) or not isinstance(n_permutations, int) or n_permutations < 1:
        raise ValueError(f"n_permutations={n_permutations!r} must be a positive int")
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan"), float("nan")
    rx, ry = _ranks(x), _ranks(y)
    rx, ry = (rx - rx.mean()) / np.linalg.norm(rx - rx.mean()), (ry - ry.mean()) / np.linalg.norm(ry - ry.mean())
    rho = float(rx @ ry)                                   # Pearson on ranks = Spearman
    exact = math.factorial(len(x)) <= n_permutations
    if exact:
        from itertools import permutations
        perms = np.array(list(permutations(range(len(x)))))
    else:
        rng = np.random.default_rng(seed)
        perms = np.argsort(rng.random((n_permutations, len(x))), axis=1)
    null = ry[perms] @ rx                                  # (n_perms,) rho of each re-pairing
    hits = int((np.abs(null) >= abs(rho) - 1e-12).sum())
    p = hits / len(perms) if exact else (hits + 1) / (len(perms) + 1)
    return rho, float(p)
