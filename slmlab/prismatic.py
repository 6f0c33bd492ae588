"""Prismatic synthesis (Jung et al., arXiv 2505.20161): steer generation toward the sparse regions
of a proxy model's gradient space, measured with :mod:`slmlab.gvendi` features.

One round, as in the authors' ``cluster_filter.py``:

1. cluster the pool's gradient features with cosine (spherical) k-means, k = 10% of the pool;
2. the *sparse* clusters are the smallest 50% by member count;
3. seed the generator with examples drawn from the sparse clusters;
4. featurise the candidates, assign each to its nearest centroid (cosine), and keep it only when
   that cluster is sparse; append the kept ones to the pool.

The baseline (``targeted=False``) seeds the generator uniformly from the pool and keeps a uniform
random subset of its candidates, as many as the targeted arm kept in that round when
``keep_counts`` is given: the same generation budget and the same final size, so the arms differ
only in *where* they seed and what they keep.

The generator here is a stand-in (:func:`variant_generator`): it writes a new problem that shares
the seed's attributes (chain length and set of operations, each changed with probability
``mutate``) and draws everything else (numbers, names, wording) at random from the built-in grammar.
It plays the role of the authors' Qwen2.5-72B few-shot generator, which also writes "a new problem
like these": the embedded 1.1M-parameter model cannot write new valid problems reliably enough for a
loop of several rounds in seconds, and a stand-in with known attributes lets the notebook show *what*
the loop changed (the mix of chain lengths and operations), not only that a number moved.

Where this departs from the authors: scikit-learn's k-means (k-means++ init, seeded) on unit vectors
with centroids renormalised, instead of 20 Lloyd steps from the first k points; ties among equally
small clusters are broken at random (seeded) so that exactly half the clusters are sparse.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from sklearn.cluster import KMeans

from . import _checks
from .diversity import unit_rows
from .problems import (ANSWER_PREFIX, SYMBOL, ProblemConfig, format_document, make_problem, problem_key,
                       split_of)

__all__ = ["spherical_kmeans", "sparse_clusters", "nearest_cluster", "problem_row", "variant_generator",
           "RoundLog", "prismatic_synthesis"]


def spherical_kmeans(features, k: int, seed: int = 0, n_iter: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Cosine k-means: k-means on L2-normalised rows, centroids renormalised, every row assigned to
    the centroid of highest cosine. Returns ``(labels (n,), centroids (k, d) unit rows)``."""
    X = unit_rows(features, "features")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k={k!r} must be a positive int")
    if len(X) < k:
        raise ValueError(f"fewer examples ({len(X)}) than clusters (k={k}); need at least k examples")
    km = KMeans(n_clusters=k, n_init=1, max_iter=n_iter, random_state=seed).fit(X)
    C = km.cluster_centers_
    C = C / np.maximum(np.linalg.norm(C, axis=1, keepdims=True), 1e-12)
    return nearest_cluster(X, C), C


def nearest_cluster(features, centroids) -> np.ndarray:
    """Index of the centroid with the highest cosine similarity to each row."""
    X, C = unit_rows(features), unit_rows(centroids, "centroids")
    if X.shape[1] != C.shape[1]:
        raise ValueError(f"features have dimension {X.shape[1]} but centroids {C.shape[1]}")
    return np.argmax(X @ C.T, axis=1)


def sparse_clusters(labels, k: int, ratio: float = 0.5, seed: int = 0) -> np.ndarray:
    """The ``floor(ratio * k)`` (at least 1) smallest of clusters 0..k-1 by member count (empty
    clusters count as size 0); ties broken at random with ``seed``."""
    _checks.integer("k", k, low=1, why="the number of clusters the labels come from")
    labels = np.asarray(labels)
    if not (isinstance(ratio, (int, float)) and 0 < ratio < 1):
        raise ValueError(f"ratio={ratio!r} must lie strictly between 0 and 1")
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"labels must lie in 0..{k - 1}")
    sizes = np.bincount(labels, minlength=k)
    tiebreak = np.random.default_rng(seed).permutation(k)
    order = np.lexsort((tiebreak, sizes))        # by size, then by the random tiebreak
    return np.sort(order[: max(1, int(ratio * k))])


def problem_row(p: dict) -> dict:
    """A generated problem as a pool row: ``prompt`` (the question) and ``solution`` (what the
    model is trained and featurised on), plus its attributes."""
    _checks.dict_("p", p, keys=("question", "steps", "answer", "n_steps", "start", "ops", "operands"),
                  what="a problem from slmlab.problems.make_problem")
    prompt = f"Question: {p['question']}{ANSWER_PREFIX}"
    text = format_document(p, with_steps=True)
    return {"prompt": prompt, "solution": text[len(prompt):], "text": text, "question": p["question"],
            "steps": p["steps"], "answer": p["answer"], "n_steps": p["n_steps"], "ops": list(p["ops"]),
            "key": problem_key(p)}


def variant_generator(cfg: ProblemConfig, mutate: float = 0.3, eval_share: float = 0.1,
                      max_tries: int = 1000) -> Callable[[dict, random.Random], dict]:
    """The stand-in generator: ``generate(seed_row, rng)`` returns a new problem row with the seed's
    chain length and operation set, each changed with probability ``mutate`` (length +-1 within
    cfg's range; one other operation allowed), and numbers, names and wording drawn afresh.
    Problems of the eval split (``eval_share`` by content hash, as in ``make_problems``) are redrawn,
    so nothing generated can leak into a held-out set."""
    if not 0.0 <= mutate <= 1.0:
        raise ValueError(f"mutate={mutate!r} must lie in [0, 1]")
    if not 0.0 <= eval_share < 1.0:
        raise ValueError(f"eval_share={eval_share!r} must lie in [0, 1)")

    def generate(seed_row: dict, rng: random.Random) -> dict:
        n = int(seed_row["n_steps"])
        ops = set(seed_row["ops"]) & set(cfg.ops) or set(cfg.ops)
        if rng.random() < mutate:
            n = min(cfg.max_steps, max(cfg.min_steps, n + rng.choice((-1, 1))))
        if rng.random() < mutate and len(ops) < len(cfg.ops):
            ops.add(rng.choice(sorted(set(cfg.ops) - ops)))
        sub = ProblemConfig(min_steps=cfg.min_steps, max_steps=cfg.max_steps, max_value=cfg.max_value,
                            max_result=cfg.max_result, ops=tuple(op for op in SYMBOL if op in ops),
                            max_factor=cfg.max_factor)
        for _ in range(max_tries):
            p = make_problem(rng, n, sub)
            if split_of(problem_key(p), eval_share) == "train" or eval_share == 0.0:
                return problem_row(p)
        raise ValueError(f"no train-split problem in {max_tries} draws for n_steps={n}, ops={sub.ops}")
    return generate


@dataclass
class RoundLog:
    round: int
    k: int                       # clusters (10% of the pool)
    n_sparse: int                # clusters counted as sparse
    generated: int               # distinct new candidates written (the generation budget)
    kept: int                    # candidates added to the pool
    kept_keys: list = field(default_factory=list, repr=False)

    def __post_init__(self):
        for name in ("round", "k", "n_sparse", "generated", "kept"):
            _checks.integer(name, getattr(self, name), low=0)


def prismatic_synthesis(pool: list[dict], pool_features, featurize: Callable[[list[dict]], np.ndarray],
                        generate: Callable[[dict, random.Random], dict], rounds: int = 3,
                        per_round: int = 100, targeted: bool = True, keep_counts: list[int] | None = None,
                        k_share: float = 0.1, ratio: float = 0.5, seed: int = 0):
    """Run the loop. ``pool``: rows with ``prompt``/``solution``/``key``; ``pool_features``: their
    gradient features (n, d); ``featurize(rows)`` gives features of new rows; ``generate(seed_row,
    rng)`` one candidate. ``targeted=False`` is the uniform-seeding baseline (with ``keep_counts``
    from the targeted run: the same number kept per round, drawn uniformly from its candidates).

    Returns ``(rows, features, logs)``: the grown pool, its features, one :class:`RoundLog` a round.
    Candidates whose problem key is already in the pool (or among the round's candidates) are
    redrawn, so every round featurises exactly ``per_round`` new problems."""
    if not pool:
        raise ValueError("pool is empty: the loop needs seed examples to cluster and to seed the generator")
    feats = unit_rows(pool_features, "pool_features")
    if len(feats) != len(pool):
        raise ValueError(f"pool has {len(pool)} rows but pool_features has {len(feats)}")
    for name, v in (("rounds", rounds), ("per_round", per_round)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name}={v!r} must be a positive int")
    if keep_counts is not None and (targeted or len(keep_counts) != rounds):
        raise ValueError(f"keep_counts is for the uniform arm (targeted=False) and needs {rounds} entries")
    if not 0 < k_share < 1:
        raise ValueError(f"k_share={k_share!r} must lie strictly between 0 and 1")
    rng = random.Random(f"prismatic-{seed}-{targeted}")
    rows, keys, logs = list(pool), {r["key"] for r in pool}, []
    for r in range(rounds):
        k = max(2, int(k_share * len(rows)))
        if targeted:
            labels, centroids = spherical_kmeans(feats, k, seed=seed + r)
            sparse = sparse_clusters(labels, k, ratio, seed=seed + r)
            seeds = [i for i in range(len(rows)) if labels[i] in set(sparse.tolist())]
        else:
            sparse, seeds = np.arange(0), list(range(len(rows)))
        candidates, seen = [], set()
        for _ in range(20 * per_round):   # copies are redrawn; a bounded number of tries
            c = generate(rows[rng.choice(seeds)], rng)
            if c["key"] not in keys and c["key"] not in seen:
                candidates.append(c)
                seen.add(c["key"])
                if len(candidates) == per_round:
                    break
        else:
            raise ValueError(f"round {r}: the generator gave only {len(candidates)} new problems in "
                             f"{20 * per_round} tries; lower per_round or widen the generator")
        if targeted:
            cand_feats = unit_rows(featurize(candidates), "featurize(candidates)") if candidates else np.zeros((0, feats.shape[1]))
            keep = np.isin(nearest_cluster(cand_feats, centroids), sparse) if candidates else np.zeros(0, bool)
            kept = [c for c, ok in zip(candidates, keep) if ok]
            kept_feats = cand_feats[keep]
        else:
            n_keep = len(candidates) if keep_counts is None else min(int(keep_counts[r]), len(candidates))
            kept = rng.sample(candidates, n_keep)
            kept_feats = unit_rows(featurize(kept), "featurize(kept)") if kept else np.zeros((0, feats.shape[1]))
        rows.extend(kept)
        keys.update(c["key"] for c in kept)
        feats = np.concatenate([feats, kept_feats])
        logs.append(RoundLog(r, k, len(sparse), per_round, len(kept), [c["key"] for c in kept]))
    return rows, feats, logs
