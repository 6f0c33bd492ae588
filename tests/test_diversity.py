import math
import warnings

import numpy as np
import pytest

from slmlab.diversity import distinct_n, eigenvalue_entropy, vendi_score, vendi_score_kernel

vendi = pytest.importorskip("vendi_score.vendi")


def _ref_K(K, q):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy.sparse.csr deprecation inside the package
        return float(vendi.score_K(K, q=q))


@pytest.mark.parametrize("q", [0.5, 1, 2, "inf"])
@pytest.mark.parametrize("shape", [(60, 8), (25, 40)])  # dual (d < n) and primal (d >= n) forms
def test_vendi_matches_reference_on_random_embeddings(shape, q):
    rng = np.random.default_rng(hash((shape, str(q))) % 2**32)
    X = rng.standard_normal(shape)
    ours = vendi_score(X, q=q)
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    assert ours == pytest.approx(_ref_K(Xn @ Xn.T, q), abs=1e-6)
    assert ours == pytest.approx(float(vendi.score_dual(X, q=q)), abs=1e-6)


@pytest.mark.parametrize("q", [0.5, 1, 3])
def test_vendi_kernel_matches_reference(q):
    rng = np.random.default_rng(7)
    X = rng.standard_normal((30, 5))
    K = np.exp(-((X[:, None] - X[None]) ** 2).sum(-1) / 10)  # RBF kernel: unit diagonal, full rank
    assert vendi_score_kernel(K, q=q) == pytest.approx(_ref_K(K, q), abs=1e-6)


def test_vendi_readme_examples():
    assert vendi_score_kernel([[1, .9, 0], [.9, 1, 0], [0, 0, 1]]) == pytest.approx(2.1573, abs=1e-4)


def test_vendi_extremes():
    same = np.tile(np.array([[1.0, 2.0, 3.0]]), (10, 1))
    assert vendi_score(same) == pytest.approx(1.0, abs=1e-9)
    assert vendi_score(np.eye(5)) == pytest.approx(5.0, abs=1e-9)
    assert vendi_score(np.eye(5), q="inf") == pytest.approx(5.0, abs=1e-9)
    # two clusters of identical points: two effective samples whatever their sizes at q = inf/1
    two = np.vstack([np.tile([1.0, 0.0], (4, 1)), np.tile([0.0, 1.0], (4, 1))])
    assert vendi_score(two) == pytest.approx(2.0, abs=1e-9)


def test_vendi_float32_close():
    X = np.random.default_rng(1).standard_normal((500, 32))
    assert vendi_score(X, dtype=np.float32) == pytest.approx(vendi_score(X), rel=1e-4)


def test_vendi_bad_input():
    with pytest.raises(ValueError, match="embeddings"):
        vendi_score(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="embeddings"):
        vendi_score([1.0, 2.0])
    with pytest.raises(ValueError, match="all-zero"):
        vendi_score(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="q="):
        vendi_score(np.eye(3), q=-1)
    with pytest.raises(ValueError, match="unit diagonal"):
        vendi_score_kernel(2 * np.eye(3))
    with pytest.raises(ValueError, match="square"):
        vendi_score_kernel(np.ones((2, 3)))


def test_eigenvalue_entropy_orders():
    w = np.array([0.5, 0.25, 0.25])
    assert eigenvalue_entropy(w, 1) == pytest.approx(-(w * np.log(w)).sum())
    assert eigenvalue_entropy(w, 0) == pytest.approx(math.log(3))
    assert eigenvalue_entropy(w, 2) == pytest.approx(-math.log((w ** 2).sum()))
    assert eigenvalue_entropy(w, "inf") == pytest.approx(-math.log(0.5))


def test_distinct_n_hand_counted():
    texts = ["the cat sat", "the cat ran"]
    # unigrams: the, cat, sat, the, cat, ran -> 4 unique of 6
    assert distinct_n(texts, 1) == pytest.approx(4 / 6)
    # bigrams: (the cat) x2, (cat sat), (cat ran) -> 3 unique of 4
    assert distinct_n(texts, 2) == pytest.approx(3 / 4)
    assert distinct_n(["a b c", "A B C"], 3) == pytest.approx(1 / 2)  # case-folded
    assert distinct_n(["same words here"] * 5, 2) == pytest.approx(2 / 10)


def test_distinct_n_bad_input():
    with pytest.raises(ValueError, match="texts"):
        distinct_n([])
    with pytest.raises(ValueError, match="texts"):
        distinct_n("a single string")
    with pytest.raises(ValueError, match="n="):
        distinct_n(["a b"], 0)
    with pytest.raises(ValueError, match="no 3-grams"):
        distinct_n(["a b"], 3)
