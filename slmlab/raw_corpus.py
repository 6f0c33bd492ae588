"""A raw, web-like pile of arithmetic documents with known defects, for measuring curation.

Every document carries its ground truth, so each curation stage can be scored for precision and
recall: ``defect`` is the main label and ``defects`` lists all that apply (a copy of a leaked eval
problem is both ``contaminated`` and a duplicate). The kinds, and how each is made:

- ``clean``: a worked problem (or answer-only, ``direct_share`` of them) from :mod:`slmlab.problems`;
- ``exact_duplicate``: a verbatim copy of an earlier clean document;
- ``near_duplicate``: an earlier clean document with small edits (spacing, punctuation, a renamed
  person, a dropped or inserted word, two words swapped);
- ``boilerplate`` (navigation, cookie banners, footers), ``spam`` (adverts, keyword lists);
- ``gibberish``: random letters, other scripts, or a clean document's words shuffled (word salad);
- ``truncated``: a clean document cut off before its final answer;
- ``wrong_solution``: worked steps with an arithmetic slip, a wrong final answer, or a misread number
  (``edit`` names which, in :data:`slmlab.problems.FAILURES`' words: ``wrong_arithmetic``,
  ``wrong_final_answer``, ``misread_number``);
- ``contaminated``: copies of *eval* problems, several per leaked problem, in the forms benchmark
  copies take on the web (:mod:`slmlab.leaks`): verbatim question and answer, the worked solution,
  the pair inside page boilerplate, a forum quote, a paraphrase with the same numbers and answer.

Copies always come after their original in the pile, so "keep the first" is the right answer.
"""
from __future__ import annotations

import random
import re
from dataclasses import asdict, dataclass

from datasets import Dataset

from . import _checks
from .leaks import LEAK_KINDS, check_leak_kinds, leak_copy
from .problems import (NAMES, OBJECTS, ProblemConfig, apply_operation, format_document, make_problems,
                       parse_steps, question_numbers)

__all__ = ["DefectRates", "DEFECTS", "QUALITY_JUNK", "make_raw_corpus", "make_quality_examples"]

DEFECTS = ("clean", "exact_duplicate", "near_duplicate", "boilerplate", "spam", "gibberish",
           "truncated", "wrong_solution", "contaminated")


@dataclass(frozen=True)
class DefectRates:
    """Share of the pile given to each defect; the rest is clean. Defaults imitate a scraped pile."""

    exact_duplicate: float = 0.06
    near_duplicate: float = 0.08
    boilerplate: float = 0.04
    spam: float = 0.04
    gibberish: float = 0.04
    truncated: float = 0.04
    wrong_solution: float = 0.15
    contaminated: float = 0.03

    def __post_init__(self):
        for name, value in asdict(self).items():
            if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                raise ValueError(f"DefectRates.{name}={value!r} must be a number in [0, 1)")
        if sum(asdict(self).values()) > 0.9:
            raise ValueError(f"defect rates sum to {sum(asdict(self).values()):.2f}; keep them <= 0.9 "
                             "so at least 10% of the pile is clean")


_NAV = ["Home", "About us", "Products", "Blog", "Contact", "Login", "Sign up", "Cart", "FAQ", "Help",
        "Careers", "Press", "Shop", "Deals", "Account"]
_BANNERS = ["We use cookies to improve your experience.", "Accept all cookies", "Cookie settings",
            "Subscribe to our newsletter", "Enter your email", "Follow us on social media",
            "Privacy policy | Terms of use", "Skip to main content", "Back to top", "Read more >>",
            "Share this page", "Loading..."]
_ADS = ["Buy cheap {o} online today!", "Best prices on {o}, free shipping on every order.",
        "Click here to win {n} free {o}!!!", "Limited offer: {n}% off all {o}.", "Order now and save big.",
        "Visit our store for the lowest prices on {o}.", "Act fast, only {n} left in stock!",
        "Top rated {o} shop, trusted by {n}000 buyers.", "Get {n} {o} for the price of one."]
_SCRIPTS = [(0x0430, 0x044F), (0x03B1, 0x03C9), (0x4E00, 0x4FFF), (0x0627, 0x064A), (0x0905, 0x0939)]
_FILLERS = ["Well,", "So", "Now", "Okay,", "Look:"]
_NUMBER = re.compile(r"\d")


def _boilerplate(rng: random.Random) -> str:
    lines = [" | ".join(rng.sample(_NAV, rng.randint(4, 8)))]
    lines += rng.sample(_BANNERS, rng.randint(3, 6))
    lines.append(f"© {rng.randint(2009, 2026)} {rng.choice(['ShopCo', 'MathHub', 'KidsLearn', 'WebMart'])}."
                 " All rights reserved.")
    return "\n".join(lines)


def _spam(rng: random.Random) -> str:
    obj = rng.choice(OBJECTS)
    if rng.random() < 0.5:  # an advert: reads like English, so only a learned scorer sees it is junk
        return " ".join(rng.choice(_ADS).format(o=obj, n=rng.randint(2, 90)) for _ in range(rng.randint(3, 6)))
    words = [obj, "cheap", "buy", "best", "free", "sale", "online", "deal", "discount", "price"]
    return " ".join(rng.choice(words) for _ in range(rng.randint(15, 40)))


def _gibberish(rng: random.Random, clean_text: str) -> str:
    kind = rng.randrange(3)
    if kind == 0:
        return " ".join("".join(rng.choice("bcdfghjklmnpqrstvwxzaeiou") for _ in range(rng.randint(2, 14)))
                        for _ in range(rng.randint(12, 40)))
    if kind == 1:
        lo, hi = rng.choice(_SCRIPTS)
        return " ".join("".join(chr(rng.randint(lo, hi)) for _ in range(rng.randint(2, 8)))
                        for _ in range(rng.randint(10, 30)))
    words = clean_text.split()  # word salad: the right words in a random order
    rng.shuffle(words)
    return " ".join(words)


def _truncate(rng: random.Random, text: str) -> str:
    # Cut at a word boundary strictly before the final answer, so the document is incomplete.
    cut = rng.randint(int(0.3 * len(text)), max(int(0.3 * len(text)) + 1, len(text) - 4))
    head = text[:cut]
    return head[: head.rfind(" ")] if " " in head else head


def _rename(rng: random.Random, text: str) -> str:
    present = [n for n in NAMES if re.search(rf"\b{n}\b", text)]
    if not present:
        return text
    old = present[0]
    new = rng.choice([n for n in NAMES if n != old])
    return re.sub(rf"\b{old}\b", new, text)


def _near_duplicate(rng: random.Random, text: str) -> tuple[str, str]:
    """A small edit that keeps the document the same exercise. Returns (text, edit name)."""
    edit = rng.choice(["whitespace", "punctuation", "rename", "drop_word", "insert_word", "swap_words"])
    head, sep, tail = text.partition("\nAnswer:")
    words = head.split(" ")
    # Only edit non-number words of the question, never "Question:" itself.
    spots = [i for i, w in enumerate(words) if i > 0 and not _NUMBER.search(w)]
    if edit == "whitespace":
        out = "  ".join(words).replace(". ", ".\n", 1) + sep + tail + rng.choice([" ", "\n", "  \n"])
    elif edit == "punctuation":
        out = head.replace(".", rng.choice(["!", ";", ","]), rng.randint(1, 2)).replace("?", rng.choice(["??", " ?"])) + sep + tail
    elif edit == "rename":
        out = _rename(rng, text)
    elif edit == "drop_word" and len(spots) > 3:
        del words[rng.choice(spots)]
        out = " ".join(words) + sep + tail
    elif edit == "swap_words" and len(spots) > 3:
        i = rng.choice(spots[:-1])
        j = i + 1 if i + 1 in spots else spots[spots.index(i) + 1]
        words[i], words[j] = words[j], words[i]
        out = " ".join(words) + sep + tail
    else:
        edit = "insert_word"
        words.insert(rng.choice(spots) if spots else 1, rng.choice(_FILLERS))
        out = " ".join(words) + sep + tail
    if out == text:  # e.g. no name to rename: fall back to a spacing change
        out, edit = text.replace(" ", "  ", 1), "whitespace"
    return out, edit


def _wrong_solution(rng: random.Random, row: dict) -> tuple[str, str]:
    """A worked solution that looks right but is wrong. Returns (text, failure name)."""
    in_question = question_numbers(row["question"])
    # the draw keeps its historical names (they fix the random stream); the label uses FAILURES' names
    kind = rng.choice(["arithmetic", "final_answer", "misread"])
    nums = [list(step) for step in parse_steps(row["steps"])]
    k = rng.randrange(len(nums))
    if kind == "arithmetic":        # one slip, then carried on consistently from the wrong value
        nums[k][3] += rng.choice([-1, 1]) * rng.randint(1, 9)
    elif kind == "misread":         # copies an operand wrongly, then computes correctly from it
        b = nums[k][2]
        choices = [v for v in range(max(2, b - 5), b + 6) if v != b and str(v) not in in_question
                   and (nums[k][1] != "/" or nums[k][0] % v == 0)]
        if not choices:
            kind = "arithmetic"
            nums[k][3] += rng.choice([-1, 1]) * rng.randint(1, 9)
        else:
            nums[k][2] = rng.choice(choices)
            nums[k][3] = apply_operation(nums[k][1], nums[k][0], nums[k][2])
    for i in range(k + 1, len(nums)):
        nums[i][0] = nums[i - 1][3]
        nums[i][3] = apply_operation(nums[i][1], nums[i][0], nums[i][2])
    answer = nums[-1][3]
    if kind == "final_answer":
        answer += rng.choice([-1, 1]) * rng.randint(1, 9)
    steps = " ".join(f"{a}{op}{b}={c}." for a, op, b, c in nums)
    failure = {"arithmetic": "wrong_arithmetic", "final_answer": "wrong_final_answer", "misread": "misread_number"}
    return format_document({"question": row["question"], "steps": steps, "answer": answer}), failure[kind]


def make_raw_corpus(n_docs: int, seed: int, eval_problems: Dataset, rates: DefectRates = DefectRates(),
                    leak_share: float = 0.5, direct_share: float = 0.2,
                    cfg: ProblemConfig = ProblemConfig(), leak_kinds: tuple = LEAK_KINDS) -> Dataset:
    """``n_docs`` documents with defects at ``rates``, in a seeded order.

    ``eval_problems`` (from :func:`slmlab.problems.make_problems` with split "eval") supplies the
    contamination: ``leak_share`` of its rows leak, each several times (``rates.contaminated`` of the
    pile shared out over them in turn), every copy in a form drawn from ``leak_kinds``
    (:data:`slmlab.leaks.LEAK_KINDS`; the ``edit`` column names it). Columns: ``doc_id`` (position),
    ``text``, ``defect``, ``defects`` (all labels), ``edit`` (how it was made), ``source`` (doc_id of
    the original for copies, eval row for contamination, else -1)."""
    if not isinstance(n_docs, int) or isinstance(n_docs, bool) or n_docs < 10:
        raise ValueError(f"n_docs={n_docs!r} must be an int >= 10")
    if not isinstance(rates, DefectRates):
        raise ValueError(f"rates must be a DefectRates, got {type(rates).__name__}")
    if not 0.0 <= leak_share <= 1.0:
        raise ValueError(f"leak_share={leak_share!r} must lie in [0, 1]")
    leak_kinds = check_leak_kinds(leak_kinds)
    counts = {k: round(v * n_docs) for k, v in asdict(rates).items()}
    if counts["contaminated"] and (eval_problems is None or len(eval_problems) == 0 or leak_share == 0):
        raise ValueError("eval_problems must be a non-empty eval split (and leak_share > 0) when "
                         "rates.contaminated > 0")
    n_clean = n_docs - sum(counts.values())
    rng = random.Random(f"{seed}-raw")
    n_fresh = n_clean + counts["wrong_solution"] + counts["truncated"]
    base = make_problems(n_fresh, seed, "train", cfg, direct_share).to_list()
    rng.shuffle(base)
    clean, wrong, trunc = (base[:n_clean], base[n_clean:n_clean + counts["wrong_solution"]],
                           base[n_clean + counts["wrong_solution"]:])

    # Originals get a position in [0, n); a copy gets a key after its original, so it sorts later.
    items = []  # (sort key, text, defect, defects, edit, source position or eval row)
    for row in clean:
        items.append([rng.random(), row["text"], "clean", ["clean"], "", -1])
    n_orig = len(items)
    for kind in ("exact_duplicate", "near_duplicate"):
        for _ in range(counts[kind]):
            src = items[rng.randrange(n_orig)]
            text, edit = (src[1], "copy") if kind == "exact_duplicate" else _near_duplicate(rng, src[1])
            items.append([rng.uniform(src[0], 1.0), text, kind, [kind], edit, id(src)])
    for row in wrong:
        row = dict(row, with_steps=True)
        text, edit = _wrong_solution(rng, row)
        items.append([rng.random(), text, "wrong_solution", ["wrong_solution"], edit, -1])
    for row in trunc:
        items.append([rng.random(), _truncate(rng, row["text"]), "truncated", ["truncated"], "cut", -1])
    for _ in range(counts["boilerplate"]):
        items.append([rng.random(), _boilerplate(rng), "boilerplate", ["boilerplate"], "", -1])
    for _ in range(counts["spam"]):
        items.append([rng.random(), _spam(rng), "spam", ["spam"], "", -1])
    for _ in range(counts["gibberish"]):
        items.append([rng.random(), _gibberish(rng, rng.choice(clean)["text"]), "gibberish", ["gibberish"], "", -1])
    if counts["contaminated"]:
        n_leak = max(1, round(leak_share * len(eval_problems)))
        leaked = rng.sample(range(len(eval_problems)), n_leak)
        first: dict[int, float] = {}
        for i in range(counts["contaminated"]):
            e = leaked[i % n_leak]
            # Leaks come in the forms benchmark copies take on the web (slmlab.leaks), drawn at random.
            kind = rng.choice(leak_kinds)
            text = leak_copy(eval_problems[e], kind, rng)
            key = first.setdefault(e, rng.random()) if e not in first else rng.uniform(first[e], 1.0)
            items.append([key, text, "contaminated", ["contaminated"], kind, ("eval", e)])

    items.sort(key=lambda it: it[0])
    # In pile order, a later copy of a leaked problem is also a duplicate (the same exercise again):
    # exact when an earlier copy has the same text, near otherwise.
    leak_texts: dict[int, set] = {}
    for it in items:
        if it[2] == "contaminated":
            seen = leak_texts.setdefault(it[5][1], set())
            if seen:
                it[3] = ["contaminated", "exact_duplicate" if it[1] in seen else "near_duplicate"]
            seen.add(it[1])
    position = {id(it): i for i, it in enumerate(items)}
    rows = []
    for i, (_, text, defect, defects, edit, src) in enumerate(items):
        source = src[1] if isinstance(src, tuple) else (position[src] if src != -1 else -1)
        rows.append({"doc_id": i, "text": text, "defect": defect, "defects": defects, "edit": edit,
                     "source": source})
    return Dataset.from_list(rows)


QUALITY_JUNK = ("boilerplate", "spam", "gibberish", "truncated")


def make_quality_examples(n: int, seed: int) -> tuple[list[str], list[int]]:
    """``n`` labelled examples for a quality scorer, drawn from a pile of their own (its own seed, no
    contamination): clean documents are 1, boilerplate, spam and gibberish are 0. Truncated documents
    are left out: the heuristic rules catch them, and beside them an answer-only document looks like junk."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 20:
        raise ValueError(f"n={n!r} must be an int >= 20")
    _checks.seed(seed)
    rates = DefectRates(exact_duplicate=0.0, near_duplicate=0.0, boilerplate=0.15, spam=0.15,
                        gibberish=0.15, truncated=0.0, wrong_solution=0.0, contaminated=0.0)
    pile = make_raw_corpus(n, seed * 7919 + 17, None, rates)
    return list(pile["text"]), [int(d == "clean") for d in pile["defect"]]
