import random
from collections import Counter

import numpy as np
import pytest

from slmlab import prismatic
from slmlab.problems import HARDER, make_problem, split_of


def _features(rows):
    """A stand-in for gradient features: the chain length and operations, one-hot, plus a little
    noise so that no two rows coincide."""
    out = []
    for r in rows:
        v = np.zeros(8)
        v[r["n_steps"] - 1] = 1.0
        for op in r["ops"]:
            v[4 + ["add", "sub", "mul", "div"].index(op)] += 0.5
        rng = np.random.default_rng(abs(hash(r["key"])) % 2**32)
        out.append(v + 0.01 * rng.standard_normal(8))
    return np.array(out)


def _skewed_pool(n=60, seed=0):
    rng = random.Random(seed)
    # 80% one-step problems, 20% three- or four-step ones: the long chains are the sparse region
    return [prismatic.problem_row(make_problem(rng, 1 if i % 5 else rng.choice((3, 4)), HARDER)) for i in range(n)]


def test_sparse_clusters_are_the_smallest_half():
    labels = np.array([0] * 10 + [1] * 2 + [2] * 5 + [3] * 1)
    assert prismatic.sparse_clusters(labels, 4).tolist() == [1, 3]
    assert prismatic.sparse_clusters(labels, 5).tolist() == [3, 4]   # an empty cluster (4) is the sparsest
    with pytest.raises(ValueError, match="ratio"):
        prismatic.sparse_clusters(labels, 4, ratio=1.0)


def test_spherical_kmeans_groups_directions_not_lengths():
    X = np.array([[1, 0], [10, 0.1], [0, 1], [0.1, 5]], dtype=float)
    labels, C = prismatic.spherical_kmeans(X, 2, seed=0)
    assert labels[0] == labels[1] != labels[2] == labels[3]
    np.testing.assert_allclose(np.linalg.norm(C, axis=1), 1.0)


def test_loop_moves_the_pool_toward_its_sparse_region():
    pool = _skewed_pool()
    gen = prismatic.variant_generator(HARDER, mutate=0.0)
    t_rows, t_feats, t_logs = prismatic.prismatic_synthesis(pool, _features(pool), _features, gen, rounds=2,
                                                            per_round=60, seed=1)
    counts = [log.kept for log in t_logs]
    u_rows, u_feats, u_logs = prismatic.prismatic_synthesis(pool, _features(pool), _features, gen, rounds=2,
                                                            per_round=60, targeted=False, keep_counts=counts, seed=1)
    assert [log.kept for log in u_logs] == counts and len(t_rows) == len(u_rows) and sum(counts) > 0
    assert all(log.generated == 60 for log in t_logs + u_logs)
    assert t_feats.shape == (len(t_rows), 8) and u_feats.shape == (len(u_rows), 8)
    long_share = lambda rows: np.mean([r["n_steps"] > 1 for r in rows[len(pool):]])
    assert long_share(t_rows) > long_share(u_rows) + 0.3
    assert len({r["key"] for r in t_rows}) == len(t_rows)   # nothing added twice


def test_bad_input_is_a_clear_error():
    pool = _skewed_pool(10)
    gen = prismatic.variant_generator(HARDER)
    with pytest.raises(ValueError, match="fewer examples"):
        prismatic.spherical_kmeans(_features(pool), 11)
    with pytest.raises(ValueError, match="empty"):
        prismatic.prismatic_synthesis([], np.zeros((0, 8)), _features, gen)
    with pytest.raises(ValueError, match="empty"):
        prismatic.spherical_kmeans(np.zeros((0, 4)), 2)
    with pytest.raises(ValueError, match="pool_features"):
        prismatic.prismatic_synthesis(pool, _features(pool)[:5], _features, gen)
    with pytest.raises(ValueError, match="keep_counts"):
        prismatic.prismatic_synthesis(pool, _features(pool), _features, gen, rounds=2, keep_counts=[1])
    with pytest.raises(ValueError, match="NaN"):
        prismatic.spherical_kmeans(np.full((4, 2), np.nan), 2)


def test_variant_generator_keeps_attributes_without_mutation():
    gen = prismatic.variant_generator(HARDER, mutate=0.0)
    seed_row = prismatic.problem_row(make_problem(random.Random(0), 3, HARDER))
    rng = random.Random(1)
    for _ in range(40):
        c = gen(seed_row, rng)
        assert c["n_steps"] == 3 and set(c["ops"]) <= set(seed_row["ops"])
        assert c["text"] == c["prompt"] + c["solution"]
        assert split_of(c["key"], 0.1) == "train"   # never a held-out problem
    assert Counter(gen(seed_row, rng)["key"] for _ in range(10)).most_common(1)[0][1] < 10
