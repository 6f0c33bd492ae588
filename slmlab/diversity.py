"""Diversity of a set of samples, and the homogeneity of models ("artificial hivemind").

Set-level measures: the Vendi score of embeddings, distinct-n and self-BLEU of the words, mean
pairwise embedding similarity, and the entropy of a categorical answer distribution. Hivemind
measures (Jiang et al., arXiv 2510.22954, at toy scale): intra-model repetition (mean pairwise
similarity of one model's samples for one prompt, averaged over prompts), inter-model homogeneity
(mean cross-model similarity per prompt; the share of each response's nearest neighbours written by
other models), each with a shuffled-prompt baseline: the same number computed after the responses'
prompt labels are shuffled, i.e. the similarity expected between unrelated answers. A similarity is
only high relative to that baseline.

The Vendi score (Friedman & Dieng, arXiv 2210.02410) is the exponential of the entropy of the
eigenvalues of ``K / n``, where ``K`` is a similarity matrix with a unit diagonal: the "effective
number of distinct samples", between 1 (all the same) and n (all orthogonal). With unit-norm
embeddings ``X`` (n x d) and the cosine kernel ``K = X Xᵀ``, the non-zero eigenvalues of ``X Xᵀ/n``
are those of ``Xᵀ X/n`` (d x d), so for d < n the cost is one ``Xᵀ X`` product and one small
eigendecomposition, never the n x n matrix. The order-q version (Pasarkar & Dieng, arXiv 2310.12952)
swaps Shannon entropy for Rényi entropy: q < 1 counts rare directions more, q > 1 less, q = inf
gives 1 / largest eigenvalue.
"""
from __future__ import annotations

import math
from collections import Counter

import numpy as np

__all__ = ["unit_rows", "vendi_score", "vendi_score_kernel", "eigenvalue_entropy", "distinct_n", "self_bleu",
           "mean_pairwise_similarity", "answer_entropy", "intra_model_similarity",
           "inter_model_similarity", "cross_model_neighbour_share", "shuffled_prompt_baseline", "answer_clusters"]


def _check_q(q) -> float:
    if isinstance(q, str) and q.lower() in ("inf", "infinity"):
        return math.inf
    if isinstance(q, bool) or not isinstance(q, (int, float)) or math.isnan(q) or q < 0:
        raise ValueError(f"q={q!r} must be a number >= 0 or 'inf'")
    return float(q)


def eigenvalue_entropy(eigenvalues, q: float = 1.0) -> float:
    """Rényi entropy of order ``q`` of a probability vector of eigenvalues (Shannon at q = 1).

    Eigenvalues at or below round-off (relative to the largest, times the dimension) are treated as
    exact zeros: they are what floating point leaves of a zero, and at q = 0 they would count."""
    q = _check_q(q)
    w = np.asarray(eigenvalues, dtype=np.float64).ravel()
    if w.size == 0:
        raise ValueError("eigenvalues is empty")
    if not np.isfinite(w).all():
        raise ValueError("eigenvalues contain NaN or inf; they must be finite")
    top = w.max()
    if not top > 0:
        raise ValueError("eigenvalues must contain a positive value (a kernel with a unit diagonal has trace n)")
    w = w[w > top * w.size * np.finfo(np.float64).eps]
    w = w / w.sum()  # the eigenvalues of K/n sum to 1 in exact arithmetic; remove the drift
    if q == 1.0:
        return float(-(w * np.log(w)).sum())
    if math.isinf(q):
        return float(-np.log(w.max()))
    return float(np.log((w ** q).sum()) / (1.0 - q))


def vendi_score_kernel(K, q: float = 1.0) -> float:
    """Vendi score of a similarity matrix ``K`` (n x n, symmetric positive semi-definite, unit
    diagonal): ``exp(H_q(eigenvalues of K / n))``."""
    K = np.asarray(K, dtype=np.float64)
    if K.ndim != 2 or K.shape[0] != K.shape[1] or K.shape[0] == 0:
        raise ValueError(f"K must be a non-empty square matrix, got shape {K.shape}")
    if not np.isfinite(K).all():
        raise ValueError("K contains NaN or inf; a similarity matrix must be finite")
    if not np.allclose(K, K.T, atol=1e-8):
        raise ValueError("K must be symmetric")
    if not np.allclose(np.diagonal(K), 1.0, atol=1e-6):
        raise ValueError("K must have a unit diagonal (k(x, x) = 1); normalise it first")
    return float(np.exp(eigenvalue_entropy(np.linalg.eigvalsh(K / K.shape[0]), q)))


def vendi_score(embeddings, q: float = 1.0, normalize: bool = True, dtype=np.float64) -> float:
    """Vendi score of embeddings ``X`` (n x d) under the cosine kernel.

    Rows are L2-normalised (``normalize=True``; pass False only for rows that already have unit
    norm). Uses the d x d form ``Xᵀ X / n`` when d < n, else the n x n Gram matrix. ``dtype`` may be
    ``np.float32`` for about twice the speed at ~1e-6 relative error."""
    q = _check_q(q)
    X = np.asarray(embeddings)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"embeddings must be a non-empty 2-D array (n samples x d), got shape {X.shape}")
    if np.dtype(dtype) not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype={dtype!r} must be np.float32 or np.float64")
    X = X.astype(dtype, copy=True)
    if not np.isfinite(X).all():
        raise ValueError("embeddings contain NaN or inf")
    n, d = X.shape
    if normalize:
        norms = np.sqrt(np.einsum("ij,ij->i", X, X))
        if (norms == 0).any():
            raise ValueError("embeddings has an all-zero row; its cosine similarity is undefined")
        # Fold the 1/n of K/n into the rows: (X/sqrt(n))ᵀ (X/sqrt(n)) = XᵀX/n, one pass fewer.
        X /= (norms * math.sqrt(n))[:, None]
    else:
        X /= math.sqrt(n)
    gram = X.T @ X if d < n else X @ X.T   # (d, d) or (n, n): same non-zero spectrum
    return float(np.exp(eigenvalue_entropy(np.linalg.eigvalsh(gram), q)))


def _ngrams(tokens: list, n: int):
    return zip(*(tokens[i:] for i in range(n)))


def distinct_n(texts, n: int = 2, pad: bool = False) -> float:
    """Distinct-n (Li et al. 2016): unique word n-grams over all word n-grams in ``texts``, pooled
    over the whole list. Words are whitespace-split and lower-cased. 1.0 means no n-gram repeats.

    ``pad=True`` adds n-1 boundary markers at both ends of every text (as NLTK's padded n-grams do),
    so texts shorter than n words still count: for one-word answers distinct-2 is then the share of
    distinct answers."""
    if isinstance(texts, str) or not hasattr(texts, "__iter__"):
        raise ValueError("texts must be a list of strings, not a single string")
    texts = list(texts)
    if not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError("texts must be a non-empty list of strings")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n={n!r} must be a positive int")
    counts: Counter = Counter()
    left, right = (["\x00<s>"] * (n - 1), ["\x00</s>"] * (n - 1)) if pad else ([], [])
    for t in texts:
        words = t.lower().split()
        if words:
            counts.update(_ngrams(left + words + right, n))
    total = sum(counts.values())
    if total == 0:
        raise ValueError(f"texts hold no {n}-grams (every text has fewer than {n} words)")
    return len(counts) / total


def _check_texts(texts, name: str = "texts", min_len: int = 1) -> list[str]:
    if isinstance(texts, str) or not hasattr(texts, "__iter__"):
        raise ValueError(f"{name} must be a list of strings, not a single string")
    texts = list(texts)
    if not all(isinstance(t, str) for t in texts):
        raise ValueError(f"{name} must contain only strings")
    if len(texts) < min_len:
        raise ValueError(f"{name} needs at least {min_len} items, got {len(texts)}")
    return texts


def self_bleu(texts, max_ngram_order: int = 4) -> float:
    """Self-BLEU (Zhu et al. 2018, Texygen) in [0, 1]: the mean over samples of sacrebleu's sentence
    BLEU of each sample against all the others as references (effective order, so one-word answers
    count). 1 means every sample is repeated by another; lower is more diverse."""
    from sacrebleu.metrics import BLEU
    texts = _check_texts(texts, min_len=2)
    if isinstance(max_ngram_order, bool) or not isinstance(max_ngram_order, int) or max_ngram_order < 1:
        raise ValueError(f"max_ngram_order={max_ngram_order!r} must be a positive int (BLEU uses 4)")
    bleu = BLEU(effective_order=True, max_ngram_order=max_ngram_order)
    scores = [bleu.sentence_score(h, texts[:i] + texts[i + 1:]).score for i, h in enumerate(texts)]
    return float(np.mean(scores) / 100.0)


def unit_rows(embeddings, name: str = "embeddings", min_rows: int = 1) -> np.ndarray:
    """Rows scaled to unit length (cosine geometry), refusing what has no direction: NaN/inf or zero rows."""
    X = np.asarray(embeddings, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] == 0:
        raise ValueError(f"{name} must be a 2-D array (n samples x d), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty: it needs at least {min_rows} row(s)")
    if X.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} rows, got {X.shape[0]}")
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or inf; embeddings must be finite")
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError(f"{name} has an all-zero row; its cosine similarity is undefined")
    return X / norms


def mean_pairwise_similarity(embeddings) -> float:
    """Mean cosine similarity over the n(n-1)/2 distinct pairs of rows (1 for identical samples)."""
    X = unit_rows(embeddings, min_rows=2)
    n = len(X)
    total = X.sum(0)
    # sum over i != j of x_i . x_j = |sum x|^2 - sum |x_i|^2, so no n x n matrix is needed
    return float((total @ total - n) / (n * (n - 1)))


def answer_entropy(answers, base: float = 2.0, normalise: bool = True) -> float:
    """Shannon entropy (bits by default) of the empirical distribution of categorical answers.
    ``normalise`` strips, lower-cases and drops trailing punctuation first, so "Apple." == "apple".
    0 when every answer is the same; log(k) for k equally frequent answers."""
    answers = _check_texts(answers, "answers", min_len=1)
    if not (isinstance(base, (int, float)) and base > 1):
        raise ValueError(f"base={base!r} must be a number > 1")
    if normalise:
        answers = [a.strip().lower().rstrip(".!?,;:").strip() for a in answers]
    counts = np.array(list(Counter(answers).values()), dtype=np.float64)
    p = counts / counts.sum()
    return max(0.0, float(-(p * np.log(p)).sum() / math.log(base)))   # never "-0.0"


def _groups(embeddings_by_prompt, name: str, min_rows: int) -> list[np.ndarray]:
    if isinstance(embeddings_by_prompt, np.ndarray) and embeddings_by_prompt.ndim == 3:
        embeddings_by_prompt = list(embeddings_by_prompt)
    groups = list(embeddings_by_prompt) if embeddings_by_prompt is not None else []
    if not groups:
        raise ValueError(f"{name} is empty: pass one (samples x d) array per prompt")
    out = [unit_rows(g, f"{name}[{i}]", min_rows) for i, g in enumerate(groups)]
    for i, g in enumerate(out):
        if g.shape[1] != out[0].shape[1]:
            raise ValueError(f"{name}[{i}] has dimension {g.shape[1]} but {name}[0] has {out[0].shape[1]}; "
                             "every prompt's embeddings must come from one encoder")
    return out


def intra_model_similarity(embeddings_by_prompt) -> float:
    """Intra-model repetition: for each prompt, the mean pairwise cosine similarity of one model's
    samples (needs >= 2 per prompt); then the mean over prompts."""
    groups = _groups(embeddings_by_prompt, "embeddings_by_prompt", 2)
    return float(np.mean([mean_pairwise_similarity(g) for g in groups]))


def inter_model_similarity(embeddings_a, embeddings_b) -> float:
    """Inter-model homogeneity of two models: for each prompt, the mean cosine similarity over all
    (sample of A, sample of B) pairs; then the mean over prompts. Both lists are aligned by prompt."""
    a = _groups(embeddings_a, "embeddings_a", 1)
    b = _groups(embeddings_b, "embeddings_b", 1)
    if len(a) != len(b):
        raise ValueError(f"embeddings_a has {len(a)} prompts but embeddings_b has {len(b)}; align them by prompt")
    if a[0].shape[1] != b[0].shape[1]:
        raise ValueError("embeddings_a and embeddings_b must come from the same encoder (same dimension)")
    return float(np.mean([(x @ y.T).mean() for x, y in zip(a, b)]))


def cross_model_neighbour_share(embeddings, model_labels, k: int = 5, by_model: bool = False):
    """Share of each response's ``k`` nearest neighbours (cosine, itself excluded) that were written
    by another model, averaged over responses (``by_model``: a dict model -> mean over that model's
    responses); compute it over the responses to one prompt. With m equally represented models whose
    answers are indistinguishable, expect about (m - 1) / m * n / (n - 1); a model whose answers
    stay apart from the others scores near 0."""
    X = unit_rows(embeddings, min_rows=2)
    labels = list(model_labels)
    if len(labels) != len(X):
        raise ValueError(f"model_labels has {len(labels)} entries but embeddings has {len(X)} rows")
    if len(set(labels)) < 2:
        raise ValueError("model_labels must name at least two models")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k < len(X):
        raise ValueError(f"k={k!r} must be an int in 1..{len(X) - 1}")
    S = X @ X.T
    np.fill_diagonal(S, -np.inf)
    nn = np.argsort(-S, axis=1, kind="stable")[:, :k]   # (n, k)
    lab = np.asarray(labels, dtype=object)
    foreign = (lab[nn] != lab[:, None]).mean(1)   # (n,)
    if by_model:
        return {m: float(foreign[lab == m].mean()) for m in dict.fromkeys(labels)}
    return float(foreign.mean())


def shuffled_prompt_baseline(embeddings_by_prompt, other_by_prompt=None, seed: int = 0,
                             n_shuffles: int = 20) -> float:
    """The similarity expected between unrelated answers. Intra-model: responses are pooled, their
    prompt labels shuffled (group sizes kept) and :func:`intra_model_similarity` recomputed. With
    ``other_by_prompt``: each prompt's responses are compared with the other model's responses to a
    randomly chosen *different* prompt (:func:`inter_model_similarity`). Mean over ``n_shuffles``
    seeded draws."""
    groups = _groups(embeddings_by_prompt, "embeddings_by_prompt", 1 if other_by_prompt is not None else 2)
    if len(groups) < 2:
        raise ValueError("a shuffled-prompt baseline needs at least two prompts")
    if not isinstance(n_shuffles, int) or n_shuffles < 1:
        raise ValueError(f"n_shuffles={n_shuffles!r} must be a positive int")
    rng = np.random.default_rng(seed)
    sizes = np.cumsum([len(g) for g in groups])[:-1]
    pooled = np.concatenate(groups)
    others = None
    if other_by_prompt is not None:
        others = _groups(other_by_prompt, "other_by_prompt", 1)
        if len(others) != len(groups):
            raise ValueError("other_by_prompt must have as many prompts as embeddings_by_prompt")
    values = []
    for _ in range(n_shuffles):
        if others is None:
            values.append(intra_model_similarity(np.split(pooled[rng.permutation(len(pooled))], sizes)))
        else:
            # pair each prompt's answers with the other model's answers to a different prompt
            shift = [others[(i + 1 + rng.integers(len(others) - 1)) % len(others)] for i in range(len(others))]
            values.append(inter_model_similarity(groups, shift))
    return float(np.mean(values))


def answer_clusters(embeddings, threshold: float = 0.7) -> list[list[int]]:
    """Group answers that say nearly the same thing: leader clustering in the given order. Each
    answer joins the cluster whose first answer (its leader) is most similar to it, when that cosine
    similarity reaches ``threshold``, and else starts a new cluster. Returns lists of row indices,
    largest first (ties: earlier leader first); the leader is each list's first index, so it can be
    shown as the cluster's representative. Deterministic; O(n x clusters)."""
    X = unit_rows(embeddings, min_rows=1)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not -1 <= threshold <= 1:
        raise ValueError(f"threshold={threshold!r} must be a cosine similarity in [-1, 1]")
    clusters: list[list[int]] = []
    for i, x in enumerate(X):
        if clusters:
            sims = X[[c[0] for c in clusters]] @ x
            best = int(np.argmax(sims))
            if sims[best] >= threshold:
                clusters[best].append(i)
                continue
        clusters.append([i])
    return sorted(clusters, key=lambda c: (-len(c), c[0]))
