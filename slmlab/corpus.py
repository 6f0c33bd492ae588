"""Built-in corpora: grade-school arithmetic word problems with worked, verifiable solutions, and
short open-ended prompts with several valid answers.

Every problem is a chain of 1-4 operations on one quantity. A document comes in two formats that
share the same prefix, so a thought can be inserted between prefix and answer (notebook 03):

    think:   "Question: {q}\\nAnswer: <think>{steps}</think> {answer}"
    direct:  "Question: {q}\\nAnswer: {answer}"

Train and eval problems never coincide: a problem's split is a stable hash of its content.
"""
from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass

from datasets import Dataset

__all__ = ["ProblemConfig", "make_problem", "make_problems", "make_splits", "format_document",
           "parse_answer", "check_steps", "open_ended_prompts", "open_ended_documents", "problem_key", "HARDER",
           "ANSWER_PREFIX", "THINK_OPEN",
           "THINK_CLOSE"]

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_PREFIX = "\nAnswer: "

NAMES = ["Mia", "Leo", "Ava", "Noah", "Zoe", "Omar", "Lena", "Ravi", "Sara", "Ken", "Ines", "Tom",
         "Yuki", "Ada", "Ben", "Nia", "Ivan", "Maya", "Jon", "Lila"]
OBJECTS = ["apples", "pencils", "stickers", "marbles", "cards", "books", "coins", "shells",
           "cookies", "stamps", "beads", "eggs", "plums", "toys", "rocks", "cups"]
START = ["{n} has {a} {o}.", "{n} starts with {a} {o}.", "There are {a} {o} in {n}'s bag.",
         "{n} collected {a} {o}."]
ADD = ["{p} buys {b} more {o}.", "{p} finds {b} more.", "A friend gives {n} {b} {o}.",
       "Then {q} gets {b} more {o}."]
SUB = ["{p} gives {b} {o} away.", "{p} loses {b} of them.", "Then {q} uses {b} {o}.",
       "{n} sells {b} {o}."]
MUL = ["Then the number of {o} becomes {b} times as many.", "{p} multiplies the {o} by {b}.",
       "Each {o_one} is swapped for {b} new ones."]
DIV = ["{p} splits the {o} into {b} equal groups and keeps one group.",
       "{p} shares them equally with {b} people, {q} included, and keeps one share.",
       "Then {q} keeps only one of {b} equal parts."]
QUESTION = ["How many {o} does {n} have now?", "How many {o} are there at the end?",
            "How many {o} now?", "What is the number of {o} now?"]
SYMBOL = {"add": "+", "sub": "-", "mul": "*", "div": "/"}


@dataclass(frozen=True)
class ProblemConfig:
    """Controls what :func:`make_problem` draws."""

    min_steps: int = 1
    max_steps: int = 4
    max_value: int = 50          # starting amount and add/sub operands stay in 1..max_value
    max_result: int = 200        # intermediate results stay in 1..max_result
    ops: tuple = ("add", "sub", "mul", "div")
    max_factor: int = 6          # multiply / divide operands stay in 2..max_factor

    def __post_init__(self):
        if not (1 <= self.min_steps <= self.max_steps <= 8):
            raise ValueError(f"need 1 <= min_steps <= max_steps <= 8, got {self.min_steps}, {self.max_steps}")
        if self.max_value < 2 or self.max_result < self.max_value:
            raise ValueError("max_value must be >= 2 and max_result >= max_value")
        bad = set(self.ops) - set(SYMBOL)
        if bad or not self.ops:
            raise ValueError(f"ops={self.ops!r}: choose a non-empty subset of {sorted(SYMBOL)}")


# Where the embedded model is not saturated: the same chains with numbers up to 999.
HARDER = ProblemConfig(max_value=99, max_result=999, max_factor=9)


def _apply(op: str, x: int, b: int) -> int:
    return {"add": x + b, "sub": x - b, "mul": x * b, "div": x // b}[op]


def _pick_operand(rng: random.Random, op: str, x: int, cfg: ProblemConfig) -> int | None:
    if op == "add":
        hi = min(cfg.max_value, cfg.max_result - x)
        return rng.randint(1, hi) if hi >= 1 else None
    if op == "sub":
        hi = min(cfg.max_value, x - 1)
        return rng.randint(1, hi) if hi >= 1 else None
    if op == "mul":
        hi = min(cfg.max_factor, cfg.max_result // max(x, 1))
        return rng.randint(2, hi) if hi >= 2 and x > 0 else None
    divisors = [d for d in range(2, cfg.max_factor + 1) if x % d == 0]
    return rng.choice(divisors) if divisors else None


def make_problem(rng: random.Random, n_steps: int, cfg: ProblemConfig = ProblemConfig()) -> dict:
    """Draw one problem with exactly ``n_steps`` operations. Returns plain data: the question text,
    the worked steps, the final answer and the structure (``ops``, ``operands``) behind them."""
    name, obj = rng.choice(NAMES), rng.choice(OBJECTS)
    pron = "she" if name in {"Mia", "Ava", "Zoe", "Lena", "Sara", "Ines", "Yuki", "Ada", "Nia", "Maya", "Lila"} else "he"
    while True:
        x0 = rng.randint(2, cfg.max_value)
        x, ops, operands, steps = x0, [], [], []
        for _ in range(n_steps):
            choices = list(cfg.ops)
            rng.shuffle(choices)
            for op in choices:
                b = _pick_operand(rng, op, x, cfg)
                if b is not None:
                    break
            else:
                break
            y = _apply(op, x, b)
            ops.append(op); operands.append(b)
            steps.append(f"{x}{SYMBOL[op]}{b}={y}")
            x = y
        if len(ops) == n_steps:
            break
    fill = dict(n=name, p=pron.capitalize(), q=pron, o=obj, o_one=obj[:-1])
    sentences = [rng.choice(START).format(a=x0, **fill)]
    for op, b in zip(ops, operands):
        table = {"add": ADD, "sub": SUB, "mul": MUL, "div": DIV}[op]
        sentences.append(rng.choice(table).format(b=b, **fill))
    sentences.append(rng.choice(QUESTION).format(**fill))
    return {"question": " ".join(sentences), "steps": " ".join(s + "." for s in steps),
            "answer": x, "n_steps": n_steps, "start": x0, "ops": ops, "operands": operands}


def problem_key(p: dict) -> str:
    """Content identity of a problem (numbers and operations, not wording): two problems with the
    same key are the same exercise, so they must land in the same split."""
    return f"{p['start']}|{','.join(p['ops'])}|{','.join(map(str, p['operands']))}"


def _split_of(key: str, eval_share: float) -> str:
    h = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64
    return "eval" if h < eval_share else "train"


def format_document(p: dict, with_steps: bool = True) -> str:
    """The text a model trains on. Both formats share ``Question: ...\\nAnswer: `` as prefix."""
    head = f"Question: {p['question']}{ANSWER_PREFIX}"
    if with_steps:
        return f"{head}{THINK_OPEN}{p['steps']}{THINK_CLOSE} {p['answer']}"
    return f"{head}{p['answer']}"


def make_problems(n: int, seed: int, split: str = "train", cfg: ProblemConfig = ProblemConfig(),
                  direct_share: float = 0.0, eval_share: float = 0.1) -> Dataset:
    """``n`` distinct problems of ``split`` ("train" or "eval"), with step counts spread evenly over
    cfg.min_steps..cfg.max_steps. ``direct_share`` of them are written answer-only (column
    ``with_steps`` False). Columns: text, prompt, question, steps, answer, n_steps, with_steps, key."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n={n!r} must be a positive int")
    if split not in ("train", "eval"):
        raise ValueError(f"split={split!r} must be 'train' or 'eval'")
    if not 0.0 <= direct_share <= 1.0:
        raise ValueError(f"direct_share={direct_share!r} must lie in [0, 1]")
    rng = random.Random(f"{seed}-{split}")
    seen, rows = set(), []
    levels = list(range(cfg.min_steps, cfg.max_steps + 1))
    misses = dict.fromkeys(levels, 0)
    while len(rows) < n:
        # Short chains have few distinct problems: a level that keeps repeating itself is retired and
        # the longer ones fill the rest, so every problem stays distinct.
        live = [lv for lv in levels if misses[lv] < 500]
        if not live:
            raise ValueError(f"could not draw {n} distinct {split} problems with {cfg}; widen max_value or steps")
        level = live[len(rows) % len(live)]
        p = make_problem(rng, level, cfg)
        key = problem_key(p)
        if key in seen or _split_of(key, eval_share) != split:
            misses[level] += key in seen
            continue
        misses[level] = 0
        seen.add(key)
        with_steps = rng.random() >= direct_share
        rows.append({"text": format_document(p, with_steps), "prompt": f"Question: {p['question']}{ANSWER_PREFIX}",
                     "question": p["question"], "steps": p["steps"], "answer": p["answer"],
                     "n_steps": p["n_steps"], "with_steps": with_steps, "key": key})
    return Dataset.from_list(rows)


def make_splits(n_train: int, n_eval: int, seed: int, cfg: ProblemConfig = ProblemConfig(),
                direct_share: float = 0.2) -> dict[str, Dataset]:
    """Train (with ``direct_share`` answer-only documents) and eval (all with steps) splits."""
    return {"train": make_problems(n_train, seed, "train", cfg, direct_share),
            "eval": make_problems(n_eval, seed, "eval", cfg, 0.0)}


_ANSWER_RE = re.compile(r"^\s*(-?\d+)")


def parse_answer(completion: str) -> int | None:
    """Final answer of a completion (the text after ``Answer: ``): the first integer after the last
    ``</think>``, or at the start when there is no thought. None when there is none."""
    tail = completion.rsplit(THINK_CLOSE, 1)[-1] if THINK_CLOSE in completion else completion
    if THINK_OPEN in tail:
        return None
    m = _ANSWER_RE.match(tail)
    return int(m.group(1)) if m else None


_STEP_RE = re.compile(r"(-?\d+)\s*([+\-*/])\s*(-?\d+)\s*=\s*(-?\d+)")


def check_steps(steps: str) -> bool:
    """True when every ``a op b = c`` in ``steps`` is correct and each step uses the previous result."""
    found = _STEP_RE.findall(steps)
    if not found:
        return False
    prev = None
    for a, op, b, c in found:
        a, b, c = int(a), int(b), int(c)
        want = {"+": a + b, "-": a - b, "*": a * b, "/": a // b if b else None}[op]
        if want != c or (op == "/" and b and a % b) or (prev is not None and a != prev):
            return False
        prev = c
    return True


# Open-ended prompts: each has several valid answers. `weights` is the skew the embedded model is
# trained with (a few popular answers and a long tail), so the diversity notebooks have a mode to find.
_OPEN = {
    "list": [("Name a fruit.", ["apple", "banana", "pear", "plum", "mango", "kiwi", "grape", "lemon", "peach", "cherry"]),
             ("Name a color.", ["red", "blue", "green", "yellow", "purple", "orange", "pink", "black", "white", "brown"]),
             ("Name an animal.", ["cat", "dog", "horse", "lion", "tiger", "fox", "owl", "bear", "wolf", "frog"]),
             ("Name a tool.", ["hammer", "saw", "drill", "wrench", "shovel", "rake", "knife", "ruler"]),
             ("Name a sport.", ["soccer", "tennis", "golf", "rugby", "hockey", "chess", "boxing", "rowing"]),
             ("Name a drink.", ["water", "tea", "coffee", "milk", "juice", "cocoa", "soda", "lemonade"])],
    "number": [("Pick a number from 1 to 10.", [str(i) for i in (7, 3, 5, 4, 8, 2, 6, 9, 1, 10)]),
               ("Pick a number from 1 to 50.", [str(i) for i in (37, 17, 42, 27, 7, 23, 13, 33, 48, 11)])],
    "creative": [("Give a name for a pet.", ["Max", "Luna", "Bella", "Milo", "Coco", "Rocky", "Daisy", "Ziggy"]),
                 ("Give a name for a boat.", ["Sea Star", "Wave", "Blue Bird", "Nora", "Drifter", "Gull"]),
                 ("Write a word that rhymes with cat.", ["hat", "bat", "mat", "rat", "sat", "flat", "chat"]),
                 ("Give a title for a story.", ["The Lost Key", "Night Train", "The Red Door", "Echo", "Home Again"])],
    "opinion": [("What is the best season?", ["summer", "spring", "autumn", "winter"]),
                ("What is the best pet?", ["dog", "cat", "fish", "rabbit", "bird", "hamster"])],
}


def open_ended_prompts() -> Dataset:
    """Short open-ended prompts with their valid answers and a prompt type (list, number, creative,
    opinion). Columns: prompt, type, answers, weights (Zipf-like popularity used in training)."""
    rows = []
    for kind, items in _OPEN.items():
        for prompt, answers in items:
            weights = [1.0 / (i + 1) ** 1.2 for i in range(len(answers))]
            total = sum(weights)
            rows.append({"prompt": prompt, "type": kind, "answers": answers,
                         "weights": [w / total for w in weights]})
    return Dataset.from_list(rows)


def open_ended_documents(n: int, seed: int) -> list[str]:
    """``n`` training documents answering the open-ended prompts, answers drawn by popularity."""
    rng = random.Random(f"{seed}-open")
    prompts = open_ended_prompts().to_list()
    docs = []
    for _ in range(n):
        row = rng.choice(prompts)
        ans = rng.choices(row["answers"], weights=row["weights"])[0]
        docs.append(f"Question: {row['prompt']}{ANSWER_PREFIX}{ans}")
    return docs
