import math
import warnings

import numpy as np
import pytest

from slmlab.diversity import distinct_n, eigenvalue_entropy, vendi_score, vendi_score_kernel

@pytest.fixture(scope="module")
def vendi():
    """The reference package (a dev extra): only the tests that compare against it skip without it."""
    return pytest.importorskip("vendi_score.vendi")


def _ref_K(vendi, K, q):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy.sparse.csr deprecation inside the package
        return float(vendi.score_K(K, q=q))


@pytest.mark.parametrize("q", [0.5, 1, 2, "inf"])
@pytest.mark.parametrize("shape", [(60, 8), (25, 40)])  # dual (d < n) and primal (d >= n) forms
def test_vendi_matches_reference_on_random_embeddings(shape, q, vendi):
    rng = np.random.default_rng(hash((shape, str(q))) % 2**32)
    X = rng.standard_normal(shape)
    ours = vendi_score(X, q=q)
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    assert ours == pytest.approx(_ref_K(vendi, Xn @ Xn.T, q), abs=1e-6)
    assert ours == pytest.approx(float(vendi.score_dual(X, q=q)), abs=1e-6)


@pytest.mark.parametrize("q", [0.5, 1, 3])
def test_vendi_kernel_matches_reference(q, vendi):
    rng = np.random.default_rng(7)
    X = rng.standard_normal((30, 5))
    K = np.exp(-((X[:, None] - X[None]) ** 2).sum(-1) / 10)  # RBF kernel: unit diagonal, full rank
    assert vendi_score_kernel(K, q=q) == pytest.approx(_ref_K(vendi, K, q), abs=1e-6)


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


# ---- issue 6: self-BLEU, similarity, entropy, hivemind measures ---------------------------------
from slmlab.diversity import (answer_entropy, cross_model_neighbour_share, inter_model_similarity,
                              intra_model_similarity, mean_pairwise_similarity, self_bleu,
                              shuffled_prompt_baseline)


def test_self_bleu_matches_sacrebleu():
    from sacrebleu.metrics import BLEU
    texts = ["the cat sat on the mat", "a cat sat on a mat", "dogs run in the park today", "the cat ran"]
    bleu = BLEU(effective_order=True)
    want = np.mean([bleu.sentence_score(t, texts[:i] + texts[i + 1:]).score for i, t in enumerate(texts)]) / 100
    assert self_bleu(texts) == pytest.approx(want, abs=1e-12)
    assert self_bleu(["same answer here"] * 4) == pytest.approx(1.0)
    assert self_bleu(["apple", "banana", "cherry"]) == pytest.approx(0.0)
    assert self_bleu(["apple", "apple", "cherry"]) == pytest.approx(2 / 3)


def test_mean_pairwise_similarity_matches_loop():
    X = np.random.default_rng(3).standard_normal((7, 5))
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    want = np.mean([Xn[i] @ Xn[j] for i in range(7) for j in range(i + 1, 7)])
    assert mean_pairwise_similarity(X) == pytest.approx(want, abs=1e-12)
    assert mean_pairwise_similarity(np.tile([[1.0, 2.0]], (4, 1))) == pytest.approx(1.0)


def test_answer_entropy():
    assert answer_entropy(["apple"] * 5) == 0.0 and math.copysign(1, answer_entropy(["apple"])) == 1
    assert answer_entropy(["a", "b", "c", "d"]) == pytest.approx(2.0)
    assert answer_entropy(["Apple.", "apple", " APPLE"]) == pytest.approx(0.0)
    assert answer_entropy(["x", "x", "y", "y"], base=math.e) == pytest.approx(math.log(2))
    with pytest.raises(ValueError, match="answers"):
        answer_entropy([])
    with pytest.raises(ValueError, match="base"):
        answer_entropy(["a"], base=1)


def test_intra_and_inter_model_similarity():
    rng = np.random.default_rng(0)
    a = [rng.standard_normal((4, 6)) for _ in range(3)]
    b = [rng.standard_normal((5, 6)) for _ in range(3)]
    unit = lambda m: m / np.linalg.norm(m, axis=1, keepdims=True)
    want_intra = np.mean([np.mean([unit(g)[i] @ unit(g)[j] for i in range(4) for j in range(i + 1, 4)]) for g in a])
    assert intra_model_similarity(a) == pytest.approx(want_intra, abs=1e-12)
    want_inter = np.mean([np.mean([x @ y for x in unit(ga) for y in unit(gb)]) for ga, gb in zip(a, b)])
    assert inter_model_similarity(a, b) == pytest.approx(want_inter, abs=1e-12)
    # identical answers: maximal repetition and homogeneity
    same = [np.tile(rng.standard_normal((1, 6)), (3, 1)) for _ in range(2)]
    assert intra_model_similarity(same) == pytest.approx(1.0)
    assert inter_model_similarity(same, same) == pytest.approx(1.0)


def test_cross_model_neighbour_share():
    # two models, each always writing its own answer: all neighbours come from the same model
    X = np.array([[1, 0], [1, 0.01], [1, -0.01], [0, 1], [0.01, 1], [-0.01, 1]], dtype=float)
    labels = ["m1"] * 3 + ["m2"] * 3
    assert cross_model_neighbour_share(X, labels, k=2) == pytest.approx(0.0)
    # both models write the same two answers: half of each response's nearest neighbours are foreign
    Y = np.array([[1, 0], [0, 1], [1, 0.001], [0.001, 1]], dtype=float)
    assert cross_model_neighbour_share(Y, ["m1", "m1", "m2", "m2"], k=1) == pytest.approx(1.0)
    Z = np.vstack([X, [[1, 0.02]]])   # a third model copying m1's answer
    per = cross_model_neighbour_share(Z, labels + ["m3"], k=1, by_model=True)
    assert per["m3"] == pytest.approx(1.0) and per["m2"] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="model_labels"):
        cross_model_neighbour_share(Y, ["m1"] * 4)
    with pytest.raises(ValueError, match="k="):
        cross_model_neighbour_share(Y, ["a", "b", "a", "b"], k=4)


def test_shuffled_baseline_is_below_a_collapsed_model():
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((5, 16))
    collapsed = [c + 0.05 * rng.standard_normal((6, 16)) for c in centres]  # one mode per prompt
    intra = intra_model_similarity(collapsed)
    base = shuffled_prompt_baseline(collapsed, seed=0)
    assert intra > 0.95 and base < 0.5
    assert shuffled_prompt_baseline(collapsed, seed=0) == base   # seeded
    inter_base = shuffled_prompt_baseline(collapsed, collapsed, seed=0)
    assert inter_model_similarity(collapsed, collapsed) > 0.95 > 0.5 > inter_base


@pytest.mark.parametrize("fn,args,match", [
    (self_bleu, ([],), "at least 2"),
    (self_bleu, (["one"],), "at least 2"),
    (self_bleu, ("text",), "single string"),
    (mean_pairwise_similarity, (np.ones((1, 3)),), "at least 2"),
    (intra_model_similarity, ([],), "empty"),
    (intra_model_similarity, ([np.ones((1, 3))],), "at least 2"),
    (inter_model_similarity, ([np.ones((2, 3))], [np.ones((2, 3))] * 2), "prompts"),
    (inter_model_similarity, ([np.ones((2, 3))], [np.ones((2, 4))]), "dimension"),
    (shuffled_prompt_baseline, ([np.ones((2, 3))],), "two prompts"),
])
def test_hivemind_bad_input(fn, args, match):
    with pytest.raises(ValueError, match=match):
        fn(*args)


def test_distinct_n_padded_counts_short_answers():
    # <s> apple </s> | <s> apple </s> | <s> pear </s> -> bigrams: 6 total, 4 unique
    assert distinct_n(["apple", "Apple", "pear"], 2, pad=True) == pytest.approx(4 / 6)
    assert distinct_n(["a b", "a c"], 2, pad=True) == pytest.approx(5 / 6)  # <s>a twice; a b, a c, b</s>, c</s>
    assert distinct_n(["x"] * 4, 2, pad=True) == pytest.approx(2 / 8)


def test_answer_clusters_groups_near_duplicates_largest_first():
    from slmlab.diversity import answer_clusters
    e = np.array([[1.0, 0, 0], [0, 1.0, 0], [0.99, 0.05, 0], [0, 0, 1.0], [0.98, 0, 0.1], [0.05, 0.99, 0]])
    assert answer_clusters(e, threshold=0.9) == [[0, 2, 4], [1, 5], [3]]
    assert answer_clusters(e, threshold=1.0) == [[0], [1], [2], [3], [4], [5]]
    assert answer_clusters(e, threshold=-1.0) == [[0, 1, 2, 3, 4, 5]]
    # an answer joins the most similar leader, not the first one above the threshold
    f = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    assert answer_clusters(f, threshold=0.5) == [[1, 2], [0]]
