"""Distributional tasks with known targets, for spectrum tuning (notebook 06).

A task is one data-generating distribution: a ``description`` (what a reader would be told about
it), an optional ``input``, and a ``target`` — the probability of every answer. Four families, each
a toy version of a kind of task in the Spectrum Suite (Sorensen et al., arXiv 2510.06084):

- ``urn``: a random choice with non-uniform weights that the description states
  ("A bag has 3 red, 1 blue and 2 green balls. Draw one.");
- ``valid_set``: a question with several valid answers, all equally good (the target is uniform
  over the known valid set: "Name a fruit.", "Name a multiple of 4 from 10 to 40.");
- ``numeric``: numbers from a stated random process (a range, coin flips, dice sums);
- ``community``: the same question asked of different communities whose answer distributions
  differ ("People in Oakton answer: What is the best pet?"); the description names the community
  but not its preferences, so only examples of its answers can reveal them.

Answers use words the embedded model saw in pretraining (the open-ended prompts of
:mod:`slmlab.corpus`) and numbers, which its tokenizer spells digit by digit.

Every family's tasks are split into train, dev and held-out by a seeded shuffle; the three splits
share no description (checked). One ``seed`` fixes the split and the communities' preferences.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from itertools import combinations
from math import comb

import numpy as np

from .open_ended import open_ended_prompts

__all__ = ["Task", "FAMILIES", "SPLITS", "check_distribution", "make_tasks", "find_task", "sample_answers",
           "sample_target", "community_predictive", "COMMUNITY_ALPHA"]

FAMILIES = ("urn", "valid_set", "numeric", "community")
COMMUNITY_ALPHA = 0.7   # the Dirichlet prior each community's preferences are drawn from
SPLITS = ("train", "dev", "heldout")
COLOURS = ["red", "blue", "green", "yellow", "black", "white", "pink", "brown"]
COMMUNITIES = ["Oakton", "Riverby", "Hillford", "Lakeside", "Stonebridge", "Maplewood", "Ashfield", "Brookvale",
               "Cedar Bay", "Elmstead", "Foxton", "Glenmoor", "Harbor Point", "Ivydale", "Juniper", "Kingsley"]
COMMUNITY_QUESTIONS = {"What is the best season?": ["summer", "spring", "autumn", "winter"],
                       "What is the best pet?": ["dog", "cat", "fish", "rabbit", "bird", "hamster"],
                       "What is the best fruit?": ["apple", "banana", "pear", "plum", "mango", "kiwi"]}


def check_distribution(dist, name: str = "target", tol: float = 1e-6) -> dict[str, float]:
    """``dist`` as a plain ``{answer: probability}`` dict, after checking it is one: non-empty,
    string answers, finite probabilities >= 0 that sum to 1 (within ``tol``). Else ValueError
    naming ``name``."""
    if not isinstance(dist, dict):
        raise ValueError(f"{name} must be a dict {{answer: probability}}; got {type(dist).__name__}")
    if not dist:
        raise ValueError(f"{name} is empty: a distribution needs at least one answer")
    out = {}
    for answer, p in dist.items():
        if not isinstance(answer, str):
            raise ValueError(f"{name} has answer {answer!r}; answers must be strings")
        if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)) or not math.isfinite(p):
            raise ValueError(f"{name}[{answer!r}]={p!r} must be a finite number")
        if p < 0:
            raise ValueError(f"{name}[{answer!r}]={p!r} is negative; probabilities must be >= 0")
        out[answer] = float(p)
    total = sum(out.values())
    if abs(total - 1.0) > tol:
        raise ValueError(f"{name} sums to {total:.6g}, not 1; probabilities must sum to 1 (normalise it first)")
    return out


@dataclass(frozen=True)
class Task:
    """One distribution to learn. ``valid`` is the set of acceptable answers (the target's support
    for every family here); ``target`` gives each valid answer's probability."""

    name: str                      # unique, e.g. "urn/3 red, 1 blue"
    family: str                    # one of FAMILIES
    description: str
    target: dict = field(hash=False, compare=False)
    input: str | None = None       # the question, where the description does not ask it

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"family={self.family!r} must be one of {list(FAMILIES)}")
        object.__setattr__(self, "target", check_distribution(self.target, f"target of task {self.name!r}"))

    @property
    def valid(self) -> frozenset:
        return frozenset(a for a, p in self.target.items() if p > 0)

    @property
    def prompt(self) -> str:
        """Description and input as one line: what a one-question format (plain SFT) is asked."""
        return self.description if self.input is None else f"{self.description} {self.input}"


def sample_target(target: dict, n: int, rng: random.Random) -> list[str]:
    """``n`` i.i.d. draws from ``target`` with ``rng``."""
    target = check_distribution(target)
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n={n!r} must be an int >= 0")
    answers, weights = zip(*target.items())
    return rng.choices(answers, weights=weights, k=n)


def sample_answers(task: Task, n: int, seed: int) -> list[str]:
    """``n`` i.i.d. answers of ``task``; the same (task, seed) gives the same answers."""
    if not isinstance(task, Task):
        raise ValueError(f"task must be a Task; got {type(task).__name__}")
    return sample_target(task.target, n, random.Random(f"{seed}-{task.name}"))


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _urn_tasks() -> list[Task]:
    out = []
    for k in (2, 3):
        for colours in combinations(COLOURS[:6], k):
            for counts in ([1, 3, 2, 4][:k], [4, 1, 2, 3][:k], [2, 5, 1, 1][:k], [1, 1, 4, 2][:k]):
                total = sum(counts)
                desc = f"A bag has {_join([f'{c} {col}' for c, col in zip(counts, colours)])} balls. Draw one."
                out.append(Task(f"urn/{desc}", "urn", desc, {col: c / total for c, col in zip(counts, colours)}))
    return out


def _valid_set_tasks() -> list[Task]:
    out = []
    for row in open_ended_prompts().to_list():
        prompt, answers = row["prompt"], row["answers"]
        if row["type"] not in ("list", "creative") or " " in "".join(answers) or len(answers) < 6:
            continue   # one-word answers only: a title such as "The Lost Key" is several answers' worth of tokens
        out.append(Task(f"valid_set/{prompt}", "valid_set", prompt, {a: 1 / len(answers) for a in answers}))
    for m in range(2, 10):
        for lo, hi in ((1, 30), (10, 50), (20, 60)):
            valid = [str(x) for x in range(lo, hi + 1) if x % m == 0]
            if 3 <= len(valid) <= 12:
                desc = f"Name a multiple of {m} from {lo} to {hi}."
                out.append(Task(f"valid_set/{desc}", "valid_set", desc, {a: 1 / len(valid) for a in valid}))
    return out


def _numeric_tasks() -> list[Task]:
    out = []
    for lo in (1, 5, 10, 20, 30):
        for width in (3, 5, 8):
            hi = lo + width - 1
            desc = f"Pick a random number from {lo} to {hi}."
            out.append(Task(f"numeric/{desc}", "numeric", desc, {str(x): 1 / width for x in range(lo, hi + 1)}))
    for n in range(2, 7):
        desc = f"Flip {n} coins. How many heads?"
        out.append(Task(f"numeric/{desc}", "numeric", desc, {str(h): comb(n, h) / 2 ** n for h in range(n + 1)}))
    for sides in range(3, 7):
        counts = {}
        for a in range(1, sides + 1):
            for b in range(1, sides + 1):
                counts[str(a + b)] = counts.get(str(a + b), 0) + 1
        desc = f"Roll two dice with {sides} sides. Add them."
        out.append(Task(f"numeric/{desc}", "numeric", desc, {s: c / sides ** 2 for s, c in counts.items()}))
    return out


def community_predictive(task: Task, examples) -> dict[str, float]:
    """The best any reader can do on a community it has never seen: the Bayes posterior predictive
    under the Dirichlet(``COMMUNITY_ALPHA``) prior the communities are drawn from, after the answers
    ``examples`` — uniform with none, moving toward the examples' shares as they come. (The 0.01
    floor of the targets is ignored; it moves nothing visible.) The reference curve of notebook 06."""
    if not isinstance(task, Task) or task.family != "community":
        raise ValueError("task must be a community Task: only they have a known prior over targets")
    counts = {a: COMMUNITY_ALPHA for a in task.target}
    for e in examples:
        if e not in counts:
            raise ValueError(f"examples holds {e!r}, not an answer of {task.name!r}")
        counts[e] += 1
    total = sum(counts.values())
    return {a: c / total for a, c in counts.items()}


def _community_tasks(seed: int, communities: list[str]) -> list[Task]:
    """Each community answers each question with its own preferences: a Dirichlet(0.7) draw per
    (community, question), so communities disagree and most have a clear favourite."""
    out = []
    for town in communities:
        for question, answers in COMMUNITY_QUESTIONS.items():
            rng = np.random.default_rng(random.Random(f"{seed}-{town}-{question}").getrandbits(63))
            p = rng.dirichlet([COMMUNITY_ALPHA] * len(answers))
            p = np.maximum(p, 0.01)      # every valid answer stays possible
            p = p / p.sum()
            # The question sits in the description (no input): 16 examples must fit the model's
            # 320 positions, and a repeated input would cost ~20 tokens per example.
            desc = f"People in {town} answer: {question}"
            out.append(Task(f"community/{town}/{question}", "community", desc, dict(zip(answers, p.tolist()))))
    return out


def make_tasks(seed: int = 0, n_heldout: int = 6, n_dev: int = 4, families=FAMILIES) -> dict[str, list[Task]]:
    """Train, dev and held-out tasks of every family: ``{"train": [...], "dev": [...], "heldout": [...]}``.

    Per family, ``n_heldout`` and ``n_dev`` tasks are drawn by a seeded shuffle and the rest are for
    training (communities are split by community, so a held-out community is new as a whole). No
    description appears in two splits."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed={seed!r} must be an int >= 0")
    for name, v in (("n_heldout", n_heldout), ("n_dev", n_dev)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name}={v!r} must be a positive int")
    families = tuple(families)
    unknown = [f for f in families if f not in FAMILIES]
    if unknown or not families:
        raise ValueError(f"families={families!r}: choose a non-empty subset of {list(FAMILIES)}")
    splits = {s: [] for s in SPLITS}
    rng = random.Random(f"{seed}-tasks")
    for family in families:
        if family == "community":
            towns = COMMUNITIES[:]
            rng.shuffle(towns)
            per_town = len(COMMUNITY_QUESTIONS)
            n_h, n_d = -(-n_heldout // per_town), -(-n_dev // per_town)   # whole communities
            groups = {"heldout": towns[:n_h], "dev": towns[n_h:n_h + n_d], "train": towns[n_h + n_d:]}
            parts = {s: _community_tasks(seed, g) for s, g in groups.items()}
        else:
            tasks = {"urn": _urn_tasks, "valid_set": _valid_set_tasks, "numeric": _numeric_tasks}[family]()
            rng.shuffle(tasks)
            parts = {"heldout": tasks[:n_heldout], "dev": tasks[n_heldout:n_heldout + n_dev],
                     "train": tasks[n_heldout + n_dev:]}
        if min(len(v) for v in parts.values()) == 0:
            raise ValueError(f"n_heldout={n_heldout} and n_dev={n_dev} leave no {family} task for some split")
        for s in SPLITS:
            splits[s].extend(parts[s])
    seen = {}
    for s in SPLITS:
        for t in splits[s]:
            if seen.setdefault(t.description, s) != s:
                raise AssertionError(f"description {t.description!r} is in both {seen[t.description]} and {s}")
    return splits


def find_task(tasks, name: str) -> Task:
    """The task called ``name`` among ``tasks`` (a list, or :func:`make_tasks`' dict of splits)."""
    pool = [t for ts in tasks.values() for t in ts] if isinstance(tasks, dict) else list(tasks)
    for t in pool:
        if t.name == name:
            return t
    names = [t.name for t in pool]
    raise ValueError(f"task={name!r} is unknown; known tasks: {names[:8]}{' ...' if len(names) > 8 else ''}")
