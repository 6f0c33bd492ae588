"""Data curation as a pipeline of small, measurable stages over ``datasets.Dataset`` batches.

Every stage is a plain function of a batch (``dict`` of column -> list), so it runs under
``Dataset.map(batched=True, num_proc=N)``, inside a datatrove step (:mod:`slmlab.curation_datatrove`)
or by hand. A filtering stage returns a ``<stage>_reason`` column: ``""`` keeps the document,
anything else says why it goes. Deduplication needs the whole corpus at once, so it is split the
way FineWeb splits it: a per-batch step computes fingerprints (hashes, MinHash signatures) in
parallel, then one global pass over the fingerprints, in document order, marks the copies.

Stages, in pipeline order (:data:`STAGES`):

1. ``normalise``: Unicode NFKC, control characters out, runs of spaces collapsed, lines stripped.
2. ``heuristics``: Gopher quality and repetition rules and C4/FineWeb line rules (Rae et al. 2021,
   App. A; datatrove's defaults), adapted where our documents are 15-70 words long
   (:class:`HeuristicRules` says where and why).
3. ``exact_dedup``: SHA-1 of the normalised text; keep the first.
4. ``near_dedup``: MinHash LSH with FineWeb's settings, 112 permutations in 14 bands x 8 rows
   (candidates with probability 1/2 at Jaccard 0.69; (1/14)^(1/8) = 0.72), seed 1, via
   ``datasketch``; shingles are word 3-grams instead of FineWeb's 5-grams, because our documents
   are 15-70 words long (see :class:`MinHashParams`).
5. ``quality``: a learned scorer (hashed word and character n-grams, logistic regression) trained
   on a few hundred labelled examples, the FineWeb-Edu / DCLM idea at toy scale.
6. ``verifier``: recomputes every worked solution and drops the wrong ones.
7. ``decontamination``: drops documents sharing a word 13-gram (the GPT-3 convention) with the eval
   questions and answers (:func:`eval_reference_texts`; worked steps are left out, as different
   problems often start with the same step). Adapted: the 13-gram must hold a number of two or more
   digits, since our problems share their wording (templates) and the small factors 2-6. Short leaks (an 18-word question and its answer)
   have few 13-grams, one without a two-digit number has none that counts, and a paraphrase
   (:mod:`slmlab.leaks`) or a renamed person breaks them all, so expect misses and some collisions.
"""
from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
from datasets import Dataset

from . import _checks
from .problems import THINK_CLOSE, THINK_OPEN, format_document, parse_answer, parse_document, verify

__all__ = ["STAGES", "STAGE_TARGETS", "HeuristicRules", "MinHashParams", "CurationConfig",
           "CurationResult", "normalise_batch", "heuristic_reasons", "heuristic_batch",
           "content_hash_batch", "exact_duplicate_reasons", "minhash_batch",
           "minhash_near_duplicates", "QualityScorer", "fit_quality_scorer", "quality_batch",
           "verify_solution", "verifier_batch", "eval_ngram_index", "eval_reference_texts",
           "decontamination_batch",
           "simplify_text", "check_dataset", "curate", "stage_precision_recall",
           "lsh_match_probability"]

STAGES = ("normalise", "heuristics", "exact_dedup", "near_dedup", "quality", "verifier",
          "decontamination")
# The ground-truth labels each stage is meant to catch (for precision and recall).
STAGE_TARGETS = {
    "heuristics": {"boilerplate", "spam", "gibberish", "truncated"},
    "exact_dedup": {"exact_duplicate", "near_duplicate"},
    "near_dedup": {"near_duplicate", "exact_duplicate"},
    "quality": {"boilerplate", "spam", "gibberish", "truncated"},
    "verifier": {"wrong_solution"},
    "decontamination": {"contaminated"},
}


def _texts(batch, text_column: str) -> list[str]:
    """The text column of a batch, checked: stages fail loudly on the wrong input."""
    if not isinstance(batch, Mapping):
        raise ValueError("batch must be a dict of column -> list (as a batched Dataset.map passes "
                         f"it), got {type(batch).__name__}")
    if text_column not in batch:
        raise ValueError(f"text_column={text_column!r} is not in the batch; columns are {sorted(batch)}")
    if isinstance(batch[text_column], str):  # list() would split it into letters
        raise ValueError(f"text_column={text_column!r} holds a single string, not a list of texts; a batch holds "
                         f"one list per column, e.g. {{{text_column!r}: [{batch[text_column]!r:.30}]}}")
    texts = list(batch[text_column])
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise ValueError(f"text_column={text_column!r} must hold strings; row {bad[0]} is "
                         f"{type(texts[bad[0]]).__name__} ({texts[bad[0]]!r:.40})")
    return texts


# --------------------------------------------------------------------------------------------
# 1. normalisation
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u3000]+")
_CONTROL = re.compile(r"[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200c-\u200f\ufeff]")


def _normalise(text: str) -> str:
    text = _CONTROL.sub("", unicodedata.normalize("NFKC", text.replace("\r\n", "\n")))
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def normalise_batch(batch: dict, text_column: str = "text") -> dict:
    """Unicode NFKC, control characters removed, spaces collapsed, blank lines dropped. Removes
    nothing; reports which documents changed (``normalise_changed``)."""
    texts = _texts(batch, text_column)
    out = [_normalise(t) for t in texts]
    return {text_column: out, "normalise_changed": [a != b for a, b in zip(texts, out)]}


# --------------------------------------------------------------------------------------------
# 2. heuristic rules
@dataclass(frozen=True)
class HeuristicRules:
    """Gopher (Rae et al. 2021, App. A) and FineWeb/C4 line rules, as datatrove sets them by default,
    with the adaptations our short documents need marked ``adapted``."""

    min_words: int = 8                # Gopher 50; adapted: a one-step problem has ~15 words
    max_words: int = 100_000          # Gopher
    min_mean_word_length: float = 3.0  # Gopher
    max_mean_word_length: float = 10.0  # Gopher
    max_symbol_word_ratio: float = 0.1  # Gopher: '#' and '...' per word
    max_bullet_lines: float = 0.9      # Gopher
    max_ellipsis_lines: float = 0.3    # Gopher
    min_alnum_words: float = 0.8       # Gopher asks for alphabetic words; adapted: numbers are our content
    min_stop_words: int = 2            # Gopher, but counted over a wider list (adapted, see _STOP_WORDS)
    max_duplicate_lines: float = 0.3   # Gopher repetition
    max_duplicate_line_chars: float = 0.2  # Gopher repetition
    # Gopher: the most frequent 2/3/4-gram may cover at most this share of characters. Adapted: the
    # thresholds were set on web pages; in a 60-word problem "splits the pencils into" twice already
    # covers 0.16, so the rule only applies to documents of repetition_min_words words or more.
    max_top_ngram_chars: tuple = ((2, 0.20), (3, 0.18), (4, 0.16))
    repetition_min_words: int = 100
    max_short_lines: float = 0.67     # FineWeb: share of lines of <= 30 characters
    short_line_chars: int = 30
    max_newlines_per_word: float = 0.3  # FineWeb
    require_complete_answer: bool = True  # C4's "ends in terminal punctuation", adapted to Q/A documents

    def __post_init__(self):
        if self.min_words < 1 or self.max_words < self.min_words:
            raise ValueError(f"need 1 <= min_words <= max_words, got {self.min_words}, {self.max_words}")


# Gopher's list is {the, be, to, of, and, that, have, with}, meant for 50+ word documents. "How
# many apples now?" has none of them, so we count a wider list of English function words.
_STOP_WORDS = frozenset("the be to of and that have with a an is are was has had he she it its "
                        "in on for how many what does do now then more one each there at by".split())
_WORD_STRIP = re.compile(r"^\W+|\W+$")
_TERMINAL = (".", "!", "?", '"', "'")


def _complete_answer(text: str) -> bool:
    """A question/answer document must end with its final answer (after ``</think>`` when it thinks);
    anything else must end its last line with terminal punctuation (the C4 rule)."""
    if text.startswith("Question:"):
        if "\nAnswer:" not in text:
            return False
        tail = text.split("\nAnswer:", 1)[1].strip()
        if THINK_OPEN in tail and THINK_CLOSE not in tail:
            return False
        return parse_answer(tail) is not None and bool(re.search(r"\d\s*$", tail))
    return text.rstrip().endswith(_TERMINAL)


def heuristic_reasons(text: str, rules: HeuristicRules = HeuristicRules()) -> list[str]:
    """Every rule ``text`` breaks (empty list: it passes)."""
    _checks.text("text", text)
    if not isinstance(rules, HeuristicRules):
        raise TypeError(f"rules must be a HeuristicRules, got {type(rules).__name__}")
    out = []
    words = text.split()
    # Gopher counts "non-symbol" words: drop tokens that are only punctuation or symbols.
    clean = [w for w in (_WORD_STRIP.sub("", w) for w in words) if w]
    n = len(clean)
    if not (rules.min_words <= n <= rules.max_words):
        out.append("word_count")
    if n and not (rules.min_mean_word_length <= sum(map(len, clean)) / n <= rules.max_mean_word_length):
        out.append("mean_word_length")
    symbols = max(text.count("#"), text.count("...") + text.count("…"))
    if words and symbols / len(words) > rules.max_symbol_word_ratio:
        out.append("symbol_ratio")
    lines = [line for line in text.split("\n") if line.strip()]
    if lines:
        def share(hits):  # share of the lines for which the test holds
            return sum(hits) / len(lines)
        if share(line.lstrip().startswith(("•", "-")) for line in lines) > rules.max_bullet_lines:
            out.append("bullet_lines")
        if share(line.rstrip().endswith(("...", "…")) for line in lines) > rules.max_ellipsis_lines:
            out.append("ellipsis_lines")
        counts = Counter(lines)
        dup = [line for line in lines if counts[line] > 1]
        if (len(dup) / len(lines) > rules.max_duplicate_lines
                or sum(map(len, dup)) / max(1, len(text)) > rules.max_duplicate_line_chars):
            out.append("duplicate_lines")
        short = share(len(line) <= rules.short_line_chars for line in lines)
        if len(lines) > 1 and short > rules.max_short_lines:
            out.append("short_lines")
    if words and sum(any(c.isalnum() for c in w) for w in words) / len(words) < rules.min_alnum_words:
        out.append("alnum_words")
    if len({w.lower() for w in clean} & _STOP_WORDS) < rules.min_stop_words:
        out.append("stop_words")
    if words and text.count("\n") / len(words) > rules.max_newlines_per_word:
        out.append("newlines_per_word")
    lower = [w.lower() for w in clean]
    total_chars = max(1, sum(map(len, lower)))
    for k, limit in rules.max_top_ngram_chars:
        grams = Counter(tuple(lower[i:i + k]) for i in range(len(lower) - k + 1))
        if grams and n >= rules.repetition_min_words:
            gram, count = grams.most_common(1)[0]
            if count > 1 and count * sum(map(len, gram)) / total_chars > limit:
                out.append(f"top_{k}gram")
                break
    if rules.require_complete_answer and not _complete_answer(text):
        out.append("incomplete")
    return out


def heuristic_batch(batch: dict, text_column: str = "text",
                    rules: HeuristicRules = HeuristicRules()) -> dict:
    """``heuristics_reason``: the rules each document breaks, comma-separated ("" keeps it)."""
    texts = _texts(batch, text_column)
    return {"heuristics_reason": [",".join(heuristic_reasons(t, rules)) for t in texts]}


# --------------------------------------------------------------------------------------------
# 3. exact deduplication
def content_hash_batch(batch: dict, text_column: str = "text") -> dict:
    """``content_hash``: SHA-1 of the (already normalised) text, hex."""
    return {"content_hash": [hashlib.sha1(t.encode()).hexdigest() for t in _texts(batch, text_column)]}


def exact_duplicate_reasons(hashes: list[str], doc_ids: list | None = None) -> list[str]:
    """Global pass in document order: ``"copy of <id>"`` for every repeat of an earlier hash."""
    hashes = _checks.strings("hashes", hashes, allow_empty=True)
    doc_ids = list(range(len(hashes))) if doc_ids is None else list(doc_ids)
    if len(doc_ids) != len(hashes):
        raise ValueError(f"doc_ids has {len(doc_ids)} entries but hashes has {len(hashes)}; give one id per hash")
    first: dict[str, object] = {}
    out = []
    for h, d in zip(hashes, doc_ids):
        out.append(f"copy of {first[h]}" if h in first else "")
        first.setdefault(h, d)
    return out


# --------------------------------------------------------------------------------------------
# 4. near deduplication
@dataclass(frozen=True)
class MinHashParams:
    """FineWeb's MinHash settings (datatrove ``MinhashConfig``): 14 bands x 8 rows = 112
    permutations, seed 1. Two changes for our short documents. Shingles are word 3-grams, not 5-grams:
    one edited word breaks n shingles, and in a 25-word document a renamed person or two swapped
    words leave 5-gram Jaccard near 0.70, under the 0.72 threshold, while 3-grams keep it near 0.78.
    And datatrove's normalisation replaces every number by 0, which would make all problems written
    with one template look identical, so numbers stay."""

    n_gram: int = 3
    bands: int = 14
    rows: int = 8
    seed: int = 1

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows

    def __post_init__(self):
        for name in ("n_gram", "bands", "rows"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"MinHashParams.{name}={getattr(self, name)!r} must be a positive int")


_PUNCT = re.compile(r"[^\w\s]")


def simplify_text(text: str) -> str:
    """FineWeb's shingling normalisation minus number folding: lowercase, punctuation to spaces,
    one space between words."""
    _checks.text("text", text)
    return " ".join(_PUNCT.sub(" ", text.lower()).split())


def _shingles(text: str, n: int) -> list[bytes]:
    words = simplify_text(text).split()
    if len(words) <= n:  # a short text is one shingle, not zero (zero would make all of them collide)
        return [" ".join(words).encode()]
    return [" ".join(words[i:i + n]).encode() for i in range(len(words) - n + 1)]


def minhash_batch(batch: dict, text_column: str = "text", params: MinHashParams = MinHashParams()) -> dict:
    """``minhash``: the datasketch MinHash signature (``params.num_perm`` ints) of each document."""
    if not isinstance(params, MinHashParams):
        raise TypeError(f"params must be a MinHashParams, got {type(params).__name__}")
    from datasketch import MinHash
    texts = _texts(batch, text_column)
    sigs = MinHash.bulk([_shingles(t, params.n_gram) for t in texts], num_perm=params.num_perm, seed=params.seed,
                        scheme="affine32")
    return {"minhash": [m.hashvalues.astype(np.int64).tolist() for m in sigs]}


def lsh_match_probability(similarity, bands: int = 14, rows: int = 8):
    """P(two documents share a band) at Jaccard ``similarity``: 1 - (1 - s^rows)^bands."""
    s = np.asarray(similarity, dtype=float)
    if not np.all((s >= 0) & (s <= 1)):   # NaN fails both comparisons
        raise ValueError(f"similarity={similarity!r} must be a Jaccard similarity in [0, 1]")
    for name, v in (("bands", bands), ("rows", rows)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name}={v!r} must be a positive int")
    return 1 - (1 - s ** rows) ** bands


def minhash_near_duplicates(signatures, params: MinHashParams = MinHashParams(),
                            doc_ids: list | None = None) -> list[str]:
    """Global pass in document order through a datasketch ``MinHashLSH`` index (``params.bands`` x
    ``params.rows``): a document sharing a band with any earlier one is ``"near copy of <id>"``."""
    from datasketch import MinHash, MinHashLSH
    signatures = list(signatures)
    doc_ids = list(range(len(signatures))) if doc_ids is None else list(doc_ids)
    if len(doc_ids) != len(signatures):
        raise ValueError(f"doc_ids has {len(doc_ids)} entries but signatures has {len(signatures)}; "
                         "give one id per signature")
    lsh = MinHashLSH(num_perm=params.num_perm, params=(params.bands, params.rows))
    out = []
    for i, sig in enumerate(signatures):
        if len(sig) != params.num_perm:
            raise ValueError(f"signature {i} has {len(sig)} values, expected num_perm={params.num_perm}")
        m = MinHash(num_perm=params.num_perm, seed=params.seed, scheme="affine32",
                    hashvalues=np.asarray(sig, dtype=np.uint64))
        hits = lsh.query(m)
        out.append(f"near copy of {doc_ids[min(hits)]}" if hits else "")
        lsh.insert(i, m, check_duplication=False)
    return out


# --------------------------------------------------------------------------------------------
# 5. learned quality scorer
class QualityScorer:
    """P(good) from hashed word 1-2-grams and character 3-5-grams, by logistic regression. Hashing
    keeps it stateless and picklable, so it can travel to ``num_proc`` workers and datatrove tasks."""

    def __init__(self, seed: int = 0, c: float = 4.0):
        _checks.seed(seed)
        _checks.number("c", c, low=0.0, low_open=True, why="inverse regularisation strength of the logistic regression")
        from sklearn.feature_extraction.text import HashingVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline, make_union
        self.model = make_pipeline(
            make_union(HashingVectorizer(ngram_range=(1, 2), n_features=2**18, alternate_sign=False),
                       HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), n_features=2**18,
                                         alternate_sign=False)),
            LogisticRegression(C=c, solver="liblinear", max_iter=2000, random_state=seed))

    def fit(self, texts: list[str], labels: list[int]) -> "QualityScorer":
        texts = _checks.strings("texts", texts, allow_empty=True)
        if isinstance(labels, str):
            raise ValueError(f"labels={labels!r:.40} must be a list of 0/1 labels, one per text")
        labels = [int(v) for v in labels]
        if len(texts) != len(labels) or not texts:
            raise ValueError("texts and labels must be non-empty and of equal length")
        if set(labels) != {0, 1}:
            raise ValueError(f"labels must contain both 0 (junk) and 1 (good), got {sorted(set(labels))}")
        _texts({"text": texts}, "text")
        self.model.fit(texts, labels)
        return self

    def score(self, texts: list[str]) -> np.ndarray:
        return self.model.predict_proba(list(texts))[:, 1]


def fit_quality_scorer(texts, labels, seed: int = 0) -> QualityScorer:
    """Train the scorer on labelled examples (1 = good, 0 = junk)."""
    return QualityScorer(seed=seed).fit(texts, labels)


def quality_batch(batch: dict, scorer: QualityScorer, threshold: float = 0.5,
                  text_column: str = "text") -> dict:
    """``quality_score`` (P(good)) and ``quality_reason`` (``"score 0.12 < 0.5"`` or "")."""
    if not isinstance(scorer, QualityScorer):
        raise ValueError("scorer must be a fitted QualityScorer (see fit_quality_scorer)")
    _checks.number("threshold", threshold, low=0.0, high=1.0, why="a P(good) below it is dropped")
    texts = _texts(batch, text_column)
    scores = scorer.score(texts).tolist() if texts else []
    return {"quality_score": scores,
            "quality_reason": [f"score {s:.2f} < {threshold}" if s < threshold else "" for s in scores]}


# --------------------------------------------------------------------------------------------
# 6. verifier
def verify_solution(text: str) -> str:
    """Why a worked solution is wrong, as one of :data:`slmlab.problems.FAILURES` (``""`` when it
    checks out or has no worked steps to check): every step's arithmetic and chaining, the final
    answer equals the last result, and every number a step reads from the question is really in the
    question (:func:`slmlab.problems.verify` without ``strict``: web text need not be written in the
    grammar's own sentences)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str (one document), got {type(text).__name__}")
    problem = parse_document(text)
    if problem is None or problem["steps"] is None:
        return ""
    return verify(problem, strict=False)


def verifier_batch(batch: dict, text_column: str = "text") -> dict:
    """``verifier_reason``: why each worked solution is wrong ("" keeps it)."""
    return {"verifier_reason": [verify_solution(t) for t in _texts(batch, text_column)]}


# --------------------------------------------------------------------------------------------
# 7. decontamination
def _ngrams(text: str, n: int) -> list[str]:
    words = simplify_text(text).split()
    return [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]


def eval_ngram_index(eval_texts, n: int = 13) -> frozenset:
    """Every word ``n``-gram (after :func:`simplify_text`) of the eval documents."""
    eval_texts = _checks.strings("eval_texts", eval_texts, allow_empty=True)
    if not eval_texts:
        raise ValueError("eval_texts is empty: pass the eval split's documents")
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n={n!r} must be a positive int")
    _texts({"text": eval_texts}, "text")
    return frozenset(g for t in eval_texts for g in _ngrams(t, n))


def _numbers_in(gram: str) -> int:
    """Numbers of two or more digits: 2-6 are the factors every multiply/divide template uses."""
    return sum(w.isdigit() and len(w) >= 2 for w in gram.split())


def eval_reference_texts(problems) -> list[str]:
    """What a benchmark leak copies: each eval problem's question and final answer, without steps."""
    rows = problems.to_list() if hasattr(problems, "to_list") else list(problems)
    if not rows or not {"question", "answer"} <= set(rows[0]):
        raise ValueError("problems must be a non-empty eval split with 'question' and 'answer' columns")
    return [format_document(r, with_steps=False) for r in rows]


def decontamination_batch(batch: dict, index: frozenset, n: int = 13, min_numbers: int = 1,
                          text_column: str = "text") -> dict:
    """``decontamination_reason``: the first ``n``-gram with at least ``min_numbers`` numbers of two
    or more digits that a document shares with the eval split (other n-grams are template wording,
    not a problem)."""
    for name, v in (("n", n), ("min_numbers", min_numbers)):
        if isinstance(v, bool) or not isinstance(v, int) or v < (1 if name == "n" else 0):
            raise ValueError(f"{name}={v!r} must be an int >= {1 if name == 'n' else 0}")
    out = []
    for t in _texts(batch, text_column):
        hit = next((g for g in _ngrams(t, n) if g in index and _numbers_in(g) >= min_numbers), None)
        out.append(f"eval {n}-gram '{hit}'" if hit else "")
    return {"decontamination_reason": out}


# --------------------------------------------------------------------------------------------
# the pipeline
@dataclass
class CurationConfig:
    """Knobs of :func:`curate`; defaults as documented above."""

    rules: HeuristicRules = field(default_factory=HeuristicRules)
    minhash: MinHashParams = field(default_factory=MinHashParams)
    quality_threshold: float = 0.5
    decont_n: int = 13
    decont_min_numbers: int = 1
    batch_size: int = 1000
    stages: tuple = STAGES

    def __post_init__(self):
        self.stages = _checks.names("stages", self.stages)
        unknown = set(self.stages) - set(STAGES)
        if unknown:
            raise ValueError(f"stages={self.stages!r}: unknown {sorted(unknown)}; choose from {STAGES}")
        if not 0.0 <= self.quality_threshold <= 1.0:
            raise ValueError(f"quality_threshold={self.quality_threshold!r} must lie in [0, 1]")
        for name in ("decont_n", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}={v!r} must be a positive int")
        if isinstance(self.decont_min_numbers, bool) or not isinstance(self.decont_min_numbers, int) \
                or self.decont_min_numbers < 0:
            raise ValueError(f"decont_min_numbers={self.decont_min_numbers!r} must be an int >= 0")


@dataclass
class CurationResult:
    kept: Dataset          # the documents that survived every stage (normalised text)
    annotated: Dataset     # every input document, with removed_by, reason (and quality_score)
    report: list           # one dict per stage: n_in, n_removed, reasons, seconds

    def __post_init__(self):
        for name in ("kept", "annotated"):
            if not isinstance(getattr(self, name), Dataset):
                raise TypeError(f"{name} must be a datasets.Dataset, got {type(getattr(self, name)).__name__}")
        if not isinstance(self.report, list):
            raise TypeError(f"report must be a list of per-stage dicts, got {type(self.report).__name__}")


def check_dataset(dataset, text_column: str = "text") -> None:
    """ValueError unless ``dataset`` is a non-empty Dataset whose ``text_column`` holds strings."""
    if not isinstance(dataset, Dataset):
        raise ValueError(f"dataset must be a datasets.Dataset, got {type(dataset).__name__}")
    if len(dataset) == 0:
        raise ValueError("dataset is empty: there is nothing to curate")
    if text_column not in dataset.column_names:
        raise ValueError(f"text_column={text_column!r} is not a column of dataset; columns are "
                         f"{dataset.column_names}")
    feature = dataset.features[text_column]
    if getattr(feature, "dtype", None) not in ("string", "large_string"):
        raise ValueError(f"text_column={text_column!r} must hold strings, but its type is {feature}")
    if any(t is None for t in dataset[text_column]):
        raise ValueError(f"text_column={text_column!r} has missing (None) values")


def _procs(num_proc: int, n: int) -> int | None:
    # datasets runs a pool even for num_proc=1; None keeps small jobs in this process.
    return num_proc if num_proc > 1 and n >= 2 * num_proc else None


def _map_column(ds: Dataset, fn, column: str, num_proc: int, batch_size: int, **kwargs) -> list:
    if len(ds) == 0:
        return []
    out = ds.map(fn, batched=True, batch_size=batch_size, num_proc=_procs(num_proc, len(ds)),
                 fn_kwargs=kwargs, remove_columns=ds.column_names, desc=column)
    return list(out[column])


def curate(dataset: Dataset, scorer: QualityScorer | None = None, eval_texts=None,
           config: CurationConfig = CurationConfig(), num_proc: int = 1,
           text_column: str = "text") -> CurationResult:
    """Run the stages of ``config.stages`` in order, each on what the previous ones kept.

    ``scorer`` is needed for the ``quality`` stage and ``eval_texts`` for ``decontamination``. The
    kept set does not depend on ``num_proc`` (each stage is per-document or a global pass in order).
    """
    check_dataset(dataset, text_column)
    if not isinstance(config, CurationConfig):
        raise TypeError(f"config must be a CurationConfig, got {type(config).__name__}")
    if not isinstance(num_proc, int) or num_proc < 1:
        raise ValueError(f"num_proc={num_proc!r} must be a positive int")
    if "quality" in config.stages and not isinstance(scorer, QualityScorer):
        raise ValueError("scorer must be a fitted QualityScorer when the 'quality' stage runs "
                         "(fit_quality_scorer), or leave 'quality' out of config.stages")
    if "decontamination" in config.stages:
        if eval_texts is None:
            raise ValueError("eval_texts must be given when the 'decontamination' stage runs")
        index = eval_ngram_index(eval_texts, config.decont_n)
    n, bs, report = len(dataset), config.batch_size, []
    ids = list(dataset["doc_id"]) if "doc_id" in dataset.column_names else list(range(n))
    ds = dataset
    if "normalise" in config.stages:
        t0 = time.perf_counter()
        normed = ds.map(normalise_batch, batched=True, batch_size=bs, num_proc=_procs(num_proc, n),
                        fn_kwargs={"text_column": text_column}, desc="normalise")
        changed = list(normed["normalise_changed"])
        ds = normed.remove_columns("normalise_changed")
        report.append({"stage": "normalise", "n_in": n, "n_removed": 0, "n_changed": int(sum(changed)),
                       "reasons": {}, "seconds": time.perf_counter() - t0})
    removed_by, reason = [""] * n, [""] * n
    scores = [float("nan")] * n
    alive = np.arange(n)
    for stage in config.stages:
        if stage == "normalise":
            continue
        t0 = time.perf_counter()
        sub = ds.select(alive).select_columns([text_column])
        alive_ids = [ids[i] for i in alive]
        if stage == "heuristics":
            why = _map_column(sub, heuristic_batch, "heuristics_reason", num_proc, bs,
                              text_column=text_column, rules=config.rules)
        elif stage == "exact_dedup":
            hashes = _map_column(sub, content_hash_batch, "content_hash", num_proc, bs,
                                 text_column=text_column)
            why = exact_duplicate_reasons(hashes, alive_ids)
        elif stage == "near_dedup":
            sigs = _map_column(sub, minhash_batch, "minhash", num_proc, bs, text_column=text_column,
                               params=config.minhash)
            why = minhash_near_duplicates(sigs, config.minhash, alive_ids)
        elif stage == "quality":
            out = sub.map(quality_batch, batched=True, batch_size=bs, remove_columns=sub.column_names,
                          num_proc=_procs(num_proc, len(sub)), desc="quality",
                          fn_kwargs={"scorer": scorer, "threshold": config.quality_threshold,
                                     "text_column": text_column}) if len(sub) else None
            why = list(out["quality_reason"]) if out is not None else []
            for i, s in zip(alive, list(out["quality_score"]) if out is not None else []):
                scores[i] = s
        elif stage == "verifier":
            why = _map_column(sub, verifier_batch, "verifier_reason", num_proc, bs, text_column=text_column)
        else:
            why = _map_column(sub, decontamination_batch, "decontamination_reason", num_proc, bs,
                              text_column=text_column, index=index, n=config.decont_n,
                              min_numbers=config.decont_min_numbers)
        for i, w in zip(alive, why):
            if w:
                removed_by[i], reason[i] = stage, w
        report.append({"stage": stage, "n_in": len(alive), "n_removed": sum(bool(w) for w in why),
                       "reasons": dict(Counter(w.split(",")[0] if stage == "heuristics" else _reason_kind(w)
                                               for w in why if w)),
                       "seconds": time.perf_counter() - t0})
        alive = np.array([i for i, w in zip(alive, why) if not w], dtype=np.int64)
    annotated = ds.add_column("removed_by", removed_by).add_column("reason", reason)
    if "quality" in config.stages:
        annotated = annotated.add_column("quality_score", scores)
    return CurationResult(kept=ds.select(alive), annotated=annotated, report=report)


def _reason_kind(reason: str) -> str:
    """A reason without its specifics ("copy of 12" -> "copy of", "score 0.1 < 0.5" -> "score < t")."""
    if reason.startswith(("copy of", "near copy of")):
        return reason.rsplit(" ", 1)[0]
    if reason.startswith("score"):
        return "score below threshold"
    if reason.startswith("eval"):
        return reason.split(" '")[0]
    return reason


def stage_precision_recall(annotated: Dataset, targets: dict = STAGE_TARGETS,
                           label_column: str = "defects", stages=STAGES) -> dict:
    """Per stage, against ground-truth labels: precision = share of its removals that carry one of
    its target labels; recall = share of target-labelled documents *reaching the stage* that it
    removed. Returns ``{stage: {precision, recall, n_removed, n_target}}`` (None where undefined)."""
    if not isinstance(annotated, Dataset):
        raise TypeError(f"annotated must be a datasets.Dataset (CurationResult.annotated), got {type(annotated).__name__}")
    if not isinstance(targets, dict):
        raise TypeError(f"targets must be a dict of stage -> set of defect labels, got {type(targets).__name__}")
    stages = _checks.names("stages", stages)
    for col in ("removed_by", label_column):
        if col not in annotated.column_names:
            raise ValueError(f"annotated lacks column {col!r}; pass CurationResult.annotated from a "
                             "corpus with ground-truth labels")
    removed_by = list(annotated["removed_by"])
    labels = [set(v) if isinstance(v, (list, tuple)) else {v} for v in annotated[label_column]]
    order = {s: i for i, s in enumerate(stages)}
    out = {}
    for stage, want in targets.items():
        if stage not in stages:
            continue
        k = order[stage]
        reached = [r == "" or order.get(r, -1) >= k for r in removed_by]
        hit = [r == stage for r in removed_by]
        is_target = [bool(lab & want) for lab in labels]
        n_removed = sum(hit)
        n_target = sum(t and r for t, r in zip(is_target, reached))
        tp = sum(h and t for h, t in zip(hit, is_target))
        out[stage] = {"precision": tp / n_removed if n_removed else None,
                      "recall": tp / n_target if n_target else None,
                      "n_removed": n_removed, "n_target": n_target}
    return out
