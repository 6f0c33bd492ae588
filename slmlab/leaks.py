"""How a benchmark problem leaks into a web pile: several copies, in the forms copies take online.

A benchmark that is public gets copied: the question with its answer as the benchmark stores it, the
worked solution, the same pair pasted into a page with menus and a footer, a forum post that
quotes it as "Q: ... A: 42", and a paraphrase — someone rewrote the sentences but kept the numbers
and the answer. :func:`leak_copy` writes one copy of an eval problem in one of these forms
(:data:`LEAK_KINDS`); :func:`slmlab.raw_corpus.make_raw_corpus` scatters them through the pile.

The kinds differ in what n-gram decontamination (:mod:`slmlab.curation`) can see: every kind but
``paraphrase`` keeps the question's wording, so it shares 13-grams with the eval split; a
paraphrase shares only numbers, and slips through. That is the lesson, not a flaw of the generator.
:func:`number_leak_matches` is a detector for what the wording leaves: it matches a document to an
eval problem by the problem's numbers, in order, followed by its answer.
"""
from __future__ import annotations

import random
import re

from .problems import THINK_CLOSE, THINK_OPEN, format_document, recompute_question, write_question

__all__ = ["LEAK_KINDS", "PARAPHRASE_TEMPLATES", "leak_copy", "paraphrase_question", "check_leak_kinds",
           "number_leak_matches"]

LEAK_KINDS = ("verbatim", "worked", "page", "forum", "paraphrase")

# Sentences none of which shares a run of words with slmlab.problems.TEMPLATES beyond a name, an
# object or a number, so a paraphrase keeps the problem and loses the wording. No pronouns: the
# person is named each time, which needs no gender.
PARAPHRASE_TEMPLATES = {
    "start": ["At first {n} owns {a} {o}.", "In the beginning, {n}'s box holds {a} {o}.",
              "{n} begins the day with {a} {o}."],
    "add": ["Later {n} picks up another {b} {o}.", "After that, {b} extra {o} are added to the box.",
            "Next, {n} receives {b} further {o} from a cousin."],
    "sub": ["Later {n} hands {b} {o} to a neighbour.", "After that, {b} of the {o} get lost.",
            "Next, {n} drops {b} {o} on the way home."],
    "mul": ["After that, the count of {o} grows to {b} times what it was.",
            "Next, every single one turns into {b} {o}."],
    "div": ["After that, the {o} are shared out into {b} equal piles and {n} keeps a single pile.",
            "Next, {n} splits the {o} {b} ways and holds on to just one portion."],
    "question": ["What is the final count of {o} for {n}?", "So how many {o} are left for {n} in the end?",
                 "Find the number of {o} {n} ends up with."],
}

_SITES = ["MathHub", "KidsLearn", "WorksheetWorld", "HomeworkHelp", "StudyCorner"]
_NAV = ["Home", "Worksheets", "Grade 3", "Grade 4", "Answers", "Login", "Contact", "Blog"]
_FOOTERS = ["Was this answer helpful? Yes / No", "Share this problem", "See more practice problems",
            "Report an error", "Print this page"]
_FORUM = ["Q: {q}\nA: {a}", "Can someone check this one? {q} I got {a}.\nReply: yes, {a} is right.",
          "{q} The answer is {a}."]


def check_leak_kinds(leak_kinds) -> tuple:
    """``leak_kinds`` as a tuple, or ValueError naming the allowed kinds."""
    if isinstance(leak_kinds, str) or not isinstance(leak_kinds, (tuple, list)) or not leak_kinds \
            or set(leak_kinds) - set(LEAK_KINDS):
        raise ValueError(f"leak_kinds={leak_kinds!r} must be a non-empty tuple of kinds from {LEAK_KINDS}")
    return tuple(leak_kinds)


def paraphrase_question(question: str, rng: random.Random) -> str:
    """The same problem (person, object, numbers, operations, answer) in other sentences.
    ValueError when ``question`` is not written in the grammar of :mod:`slmlab.problems`."""
    s = recompute_question(question)
    if s is None:
        raise ValueError(f"question={question[:60]!r} is not in the problems grammar; cannot paraphrase it")
    return write_question(s["start"], s["ops"], s["operands"], s["name"], s["object"], rng.choice,
                          templates=PARAPHRASE_TEMPLATES)


def leak_copy(row: dict, kind: str, rng: random.Random) -> str:
    """One copy of eval problem ``row`` (``question``, ``steps``, ``answer``) in the form ``kind``:

    - ``verbatim``: the question and answer as the benchmark stores them (``Question: ...\\nAnswer: 42``);
    - ``worked``: the benchmark's worked solution, steps and all;
    - ``page``: the verbatim pair inside page boilerplate (navigation, a title, a footer);
    - ``forum``: the question quoted in a post with its answer ("Q: ... A: 42" and the like);
    - ``paraphrase``: reworded sentences, same numbers and answer, answer-only or worked."""
    if kind not in LEAK_KINDS:
        raise ValueError(f"kind={kind!r} must be one of {LEAK_KINDS}")
    if kind == "verbatim":
        return format_document(row, with_steps=False)
    if kind == "worked":
        return format_document(row, with_steps=True)
    if kind == "page":
        site = rng.choice(_SITES)
        return "\n".join([" | ".join(rng.sample(_NAV, rng.randint(3, 6))),
                          f"{site}: practice problem {rng.randint(1, 400)}",
                          format_document(row, with_steps=False),
                          rng.choice(_FOOTERS), f"© {rng.randint(2012, 2026)} {site}."])
    if kind == "forum":
        return rng.choice(_FORUM).format(q=row["question"], a=row["answer"])
    question = paraphrase_question(row["question"], rng)
    return format_document(dict(row, question=question), with_steps=rng.random() < 0.5)


_NUMBER = re.compile(r"\d+")
_THOUGHT = re.compile(re.escape(THINK_OPEN) + ".*?" + re.escape(THINK_CLOSE), re.S)
_STRETCH = re.compile(r"[\n?]")  # a question never spans a line break or a question mark


def number_leak_matches(texts, problems) -> list[int]:
    """For each of ``texts``, the index of the first row of ``problems`` (dicts with ``question`` and
    ``answer``) it copies by its numbers, or -1: what a paraphrase keeps when it loses the wording.

    Outside its worked steps (``<think>...</think>``, where every step ``a op b = c`` reads as a
    one-step problem with its answer), a document matches a problem when a stretch of it between
    line breaks and question marks holds exactly the question's numbers (start, then each operand,
    in order) and the next number, first in a later stretch, is the answer ("...?\nAnswer: 42",
    "...? I got 42."). A question is one such stretch, so asking for all of its numbers keeps out a
    longer chain that starts or ends like an eval problem. What still matches by chance: another
    problem with the same numbers whose other operations give the same answer."""
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of strings, not one string")
    rows = problems.to_list() if hasattr(problems, "to_list") else list(problems)
    if not rows or not all(isinstance(r, dict) and {"question", "answer"} <= set(r) for r in rows):
        raise ValueError("problems must be a non-empty sequence of rows with 'question' and 'answer'")
    index: dict[tuple, int] = {}  # the question's numbers, then the answer -> first such row
    for i, r in enumerate(rows):
        index.setdefault((*map(int, _NUMBER.findall(r["question"])), int(r["answer"])), i)
    out = []
    for t in texts:
        if not isinstance(t, str):
            raise TypeError(f"texts must hold strings, got {type(t).__name__}")
        parts = [tuple(map(int, _NUMBER.findall(p))) for p in _STRETCH.split(_THOUGHT.sub(" ", t))]
        parts = [numbers for numbers in parts if numbers]
        keys = (numbers + nxt[:1] for numbers, nxt in zip(parts, parts[1:]))  # a stretch, then the next number
        out.append(next((index[k] for k in keys if k in index), -1))
    return out
