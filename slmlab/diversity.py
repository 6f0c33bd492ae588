"""Diversity of a set of samples: the Vendi score of their embeddings and distinct-n of their words.

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

__all__ = ["vendi_score", "vendi_score_kernel", "eigenvalue_entropy", "distinct_n"]


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


def distinct_n(texts, n: int = 2) -> float:
    """Distinct-n (Li et al. 2016): unique word n-grams over all word n-grams in ``texts``, pooled
    over the whole list. Words are whitespace-split and lower-cased. 1.0 means no n-gram repeats."""
    if isinstance(texts, str) or not isinstance(texts, (list, tuple)) and not hasattr(texts, "__iter__"):
        raise ValueError("texts must be a list of strings, not a single string")
    texts = list(texts)
    if not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError("texts must be a non-empty list of strings")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n={n!r} must be a positive int")
    counts: Counter = Counter()
    for t in texts:
        counts.update(_ngrams(t.lower().split(), n))
    total = sum(counts.values())
    if total == 0:
        raise ValueError(f"texts hold no {n}-grams (every text has fewer than {n} words)")
    return len(counts) / total
