"""The arithmetic language of the collection: grade-school word problems with worked, verifiable
solutions. One home for generating, formatting, parsing, recomputing and verifying them.

Every problem is a chain of 1-4 operations on one quantity. A document comes in two formats that
share the same prefix, so a thought can be inserted between prefix and answer (notebook 03):

    think:   "Question: {q}\\nAnswer: <think>{steps}</think> {answer}"
    direct:  "Question: {q}\\nAnswer: {answer}"

Steps are ``a op b = c`` equations, ``op`` one of ``+ - * /`` (whole-number division only).
Train and eval problems never coincide: a problem's split is a stable hash of its content.

Failure names (:data:`FAILURES`), the one vocabulary that curation, synthesis and the notebooks
use for a worked problem that does not check out, in the order :func:`verify` tests them:

- ``unparseable``: no ``Question: ...\\nAnswer: ...`` document could be read;
- ``no_steps``: there are no worked steps to check;
- ``wrong_arithmetic``: a step's equation is false, or a step does not start from the previous result;
- ``wrong_final_answer``: the final answer is not the last step's result;
- ``misread_number``: a step reads a number the question does not contain (checked without ``strict``);
- with ``strict`` (the question must be in this language), instead of ``misread_number``:
  ``question_unreadable`` (a sentence this grammar does not write), ``impossible_operation`` (e.g. 7
  items split into 3 equal groups), ``inconsistent_entities`` (mixes people or objects),
  ``question_mismatch`` (the answer recomputed from the question differs, or the steps are not the
  question's operations).
"""
from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass

from datasets import Dataset

from . import _checks

__all__ = ["ProblemConfig", "HARDER", "FAILURES", "make_problem", "make_problems", "make_splits",
           "problem_key", "split_of", "format_prompt", "format_document", "parse_answer", "parse_steps", "check_steps",
           "question_numbers", "parse_document", "parse_generation", "recompute_question", "verify",
           "apply_operation", "write_question", "fits", "ANSWER_PREFIX", "THINK_OPEN", "THINK_CLOSE", "NAMES", "OBJECTS", "SYMBOL",
           "TEMPLATES"]

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_PREFIX = "\nAnswer: "

FAILURES = {
    "unparseable": "no Question/Answer document could be read",
    "no_steps": "no worked steps to check",
    "wrong_arithmetic": "a step's equation is false or does not start from the previous result",
    "wrong_final_answer": "the final answer is not the last step's result",
    "misread_number": "a step reads a number the question does not contain",
    "question_unreadable": "a sentence of the question is not one this grammar writes",
    "impossible_operation": "an operation cannot be done in whole items",
    "inconsistent_entities": "the question mixes people or objects",
    "question_mismatch": "the steps are not the question's operations, or give another answer",
}

NAMES = ["Mia", "Leo", "Ava", "Noah", "Zoe", "Omar", "Lena", "Ravi", "Sara", "Ken", "Ines", "Tom",
         "Yuki", "Ada", "Ben", "Nia", "Ivan", "Maya", "Jon", "Lila"]
_SHE = {"Mia", "Ava", "Zoe", "Lena", "Sara", "Ines", "Yuki", "Ada", "Nia", "Maya", "Lila"}
OBJECTS = ["apples", "pencils", "stickers", "marbles", "cards", "books", "coins", "shells",
           "cookies", "stamps", "beads", "eggs", "plums", "toys", "rocks", "cups"]
# The sentences of the language, per kind: the opening, one per operation, the closing question.
TEMPLATES = {
    "start": ["{n} has {a} {o}.", "{n} starts with {a} {o}.", "There are {a} {o} in {n}'s bag.",
              "{n} collected {a} {o}."],
    "add": ["{p} buys {b} more {o}.", "{p} finds {b} more.", "A friend gives {n} {b} {o}.",
            "Then {q} gets {b} more {o}."],
    "sub": ["{p} gives {b} {o} away.", "{p} loses {b} of them.", "Then {q} uses {b} {o}.",
            "{n} sells {b} {o}."],
    "mul": ["Then the number of {o} becomes {b} times as many.", "{p} multiplies the {o} by {b}.",
            "Each {o_one} is swapped for {b} new ones."],
    "div": ["{p} splits the {o} into {b} equal groups and keeps one group.",
            "{p} shares them equally with {b} people, {q} included, and keeps one share.",
            "Then {q} keeps only one of {b} equal parts."],
    "question": ["How many {o} does {n} have now?", "How many {o} are there at the end?",
                 "How many {o} now?", "What is the number of {o} now?"],
}
SYMBOL = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
_OP_OF_SYMBOL = {s: op for op, s in SYMBOL.items()}
MAX_ATTEMPTS = 10_000   # draws before a setting that cannot produce what was asked is refused


def apply_operation(op: str, a: int, b: int) -> int:
    """``a op b`` for an operation name (``add``/``sub``/``mul``/``div``) or symbol; ``div`` floors."""
    op = _OP_OF_SYMBOL.get(op, op) if isinstance(op, str) else op
    _checks.integer("a", a)
    _checks.integer("b", b)
    if op == "div" and b == 0:
        raise ValueError(f"b=0: {a} / 0 is not a whole number; a division needs b != 0")
    if op == "add":
        return a + b
    if op == "sub":
        return a - b
    if op == "mul":
        return a * b
    if op == "div":
        return a // b
    raise ValueError(f"op={op!r} must be one of {sorted(SYMBOL)} or {sorted(_OP_OF_SYMBOL)}")


# ---------------------------------------------------------------------------------------------
# generate
def _positive_int(name: str, value, low: int = 1) -> None:
    _checks.integer(name, value, low=low)


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
        for name in ("min_steps", "max_steps", "max_value", "max_result", "max_factor"):
            _positive_int(f"ProblemConfig.{name}", getattr(self, name))
        if not (1 <= self.min_steps <= self.max_steps <= 8):
            raise ValueError(f"need 1 <= min_steps <= max_steps <= 8, got {self.min_steps}, {self.max_steps}")
        if self.max_value < 2 or self.max_result < self.max_value:
            raise ValueError(f"max_value={self.max_value} must be >= 2 and max_result={self.max_result} "
                             ">= max_value")
        if self.max_factor < 2:
            raise ValueError(f"max_factor={self.max_factor} must be >= 2 (multiply/divide operands are 2..max_factor)")
        if isinstance(self.ops, str) or not self.ops or set(self.ops) - set(SYMBOL):
            raise ValueError(f"ops={self.ops!r}: choose a non-empty subset of {sorted(SYMBOL)}")


# Where the embedded model is not saturated: the same chains with numbers up to 999.
HARDER = ProblemConfig(max_value=99, max_result=999, max_factor=9)


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
    the worked steps, the final answer and the structure (``ops``, ``operands``) behind them.
    ValueError when ``cfg`` cannot make a chain that long (after :data:`MAX_ATTEMPTS` draws)."""
    if not isinstance(rng, random.Random):
        raise ValueError(f"rng must be a random.Random, got {type(rng).__name__}")
    _positive_int("n_steps", n_steps)
    name, obj = rng.choice(NAMES), rng.choice(OBJECTS)
    for _ in range(MAX_ATTEMPTS):
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
            y = apply_operation(op, x, b)
            ops.append(op); operands.append(b)
            steps.append(f"{x}{SYMBOL[op]}{b}={y}")
            x = y
        if len(ops) == n_steps:
            break
    else:
        raise ValueError(f"n_steps={n_steps}: no chain of {n_steps} operations fits cfg (ops={cfg.ops}, "
                         f"max_value={cfg.max_value}, max_result={cfg.max_result}, max_factor={cfg.max_factor}) "
                         f"in {MAX_ATTEMPTS} draws; widen the ranges, add ops or ask for fewer steps")
    return {"question": write_question(x0, ops, operands, name, obj, rng.choice), "steps": " ".join(s + "." for s in steps),
            "answer": x, "n_steps": n_steps, "start": x0, "ops": ops, "operands": operands}


def write_question(start: int, ops, operands, name: str, obj: str, pick=lambda options: options[0],
                   templates: dict | None = None) -> str:
    """The question of the chain ``start`` then ``ops``/``operands``, told about ``name`` and ``obj``
    in this language's sentences: ``pick(options)`` chooses each sentence's template (``rng.choice``
    for a random wording, the default always the first). Same chain, other wording: same exercise.
    ``templates``: other sentences of the same shape as :data:`TEMPLATES` (a paraphrase, :mod:`slmlab.leaks`)."""
    templates = TEMPLATES if templates is None else templates
    if name not in NAMES:
        raise ValueError(f"name={name!r} is not one of the language's names {NAMES}")
    if obj not in OBJECTS:
        raise ValueError(f"obj={obj!r} is not one of the language's objects {OBJECTS}")
    ops, operands = list(ops), list(operands)
    if len(ops) != len(operands):
        raise ValueError(f"ops and operands must have the same length, got {len(ops)} and {len(operands)}")
    if unknown := [op for op in ops if op not in SYMBOL]:
        raise ValueError(f"ops {unknown} are not operations of the language; use {list(SYMBOL)}")
    pron = "she" if name in _SHE else "he"
    fill = dict(n=name, p=pron.capitalize(), q=pron, o=obj, o_one=obj[:-1])
    sentences = [pick(templates["start"]).format(a=start, **fill)]
    sentences += [pick(templates[op]).format(b=b, **fill) for op, b in zip(ops, operands)]
    sentences.append(pick(templates["question"]).format(**fill))
    return " ".join(sentences)


def problem_key(p: dict) -> str:
    """Content identity of a problem (numbers and operations, not wording): two problems with the
    same key are the same exercise, so they must land in the same split."""
    _checks.dict_("p", p, keys=("start", "ops", "operands"), what="a problem from make_problem")
    return f"{p['start']}|{','.join(p['ops'])}|{','.join(map(str, p['operands']))}"


def split_of(key: str, eval_share: float) -> str:
    """"eval" for the ``eval_share`` of problem keys a stable hash puts there, else "train"."""
    _checks.text("key", key)
    _checks.number("eval_share", eval_share, low=0.0, high=1.0)
    h = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64
    return "eval" if h < eval_share else "train"


def make_problems(n: int, seed: int, split: str = "train", cfg: ProblemConfig = ProblemConfig(),
                  direct_share: float = 0.0, eval_share: float = 0.1) -> Dataset:
    """``n`` distinct problems of ``split`` ("train" or "eval"), with step counts spread evenly over
    cfg.min_steps..cfg.max_steps. ``direct_share`` of them are written answer-only (column
    ``with_steps`` False); ``eval_share`` of all problems (by content hash) belong to "eval".
    Columns: text, prompt, question, steps, answer, n_steps, with_steps, key."""
    _positive_int("n", n)
    if split not in ("train", "eval"):
        raise ValueError(f"split={split!r} must be 'train' or 'eval'")
    if not isinstance(cfg, ProblemConfig):
        raise ValueError(f"cfg must be a ProblemConfig, got {type(cfg).__name__}")
    if not isinstance(direct_share, (int, float)) or not 0.0 <= direct_share <= 1.0:
        raise ValueError(f"direct_share={direct_share!r} must lie in [0, 1]")
    if not isinstance(eval_share, (int, float)) or not 0.0 <= eval_share <= 1.0:
        raise ValueError(f"eval_share={eval_share!r} must lie in [0, 1]")
    if (split == "eval" and eval_share == 0.0) or (split == "train" and eval_share == 1.0):
        raise ValueError(f"split={split!r} is empty when eval_share={eval_share}: choose 0 < eval_share < 1")
    _checks.seed(seed)  # random.Random would take None or 'abc' silently
    rng = random.Random(f"{seed}-{split}")
    seen, rows = set(), []
    levels = list(range(cfg.min_steps, cfg.max_steps + 1))
    misses = dict.fromkeys(levels, 0)
    since_last = 0
    while len(rows) < n:
        # Short chains have few distinct problems: a level that keeps repeating itself is retired and
        # the longer ones fill the rest, so every problem stays distinct.
        live = [lv for lv in levels if misses[lv] < 500]
        if not live or since_last >= MAX_ATTEMPTS:
            raise ValueError(f"could not draw n={n} distinct {split} problems with {cfg} and "
                             f"eval_share={eval_share} (got {len(rows)}); widen max_value or steps")
        level = live[len(rows) % len(live)]
        p = make_problem(rng, level, cfg)
        key = problem_key(p)
        if key in seen or split_of(key, eval_share) != split:
            misses[level] += key in seen
            since_last += 1
            continue
        misses[level], since_last = 0, 0
        seen.add(key)
        with_steps = rng.random() >= direct_share
        rows.append({"text": format_document(p, with_steps), "prompt": format_prompt(p["question"]),
                     "question": p["question"], "steps": p["steps"], "answer": p["answer"],
                     "n_steps": p["n_steps"], "with_steps": with_steps, "key": key})
    return Dataset.from_list(rows)


def make_splits(n_train: int, n_eval: int, seed: int, cfg: ProblemConfig = ProblemConfig(),
                direct_share: float = 0.2) -> dict[str, Dataset]:
    """Train (with ``direct_share`` answer-only documents) and eval (all with steps) splits."""
    return {"train": make_problems(n_train, seed, "train", cfg, direct_share),
            "eval": make_problems(n_eval, seed, "eval", cfg, 0.0)}


# ---------------------------------------------------------------------------------------------
# format
def format_prompt(question: str) -> str:
    """What a model is asked: ``Question: {question}\\nAnswer: ``."""
    _checks.text("question", question)
    return f"Question: {question}{ANSWER_PREFIX}"


def format_document(p: dict, with_steps: bool = True) -> str:
    """The text a model trains on, from ``question``, ``steps`` and ``answer``. Both formats share
    :func:`format_prompt` as prefix."""
    _checks.dict_("p", p, keys=("question", "answer") + (("steps",) if with_steps else ()),
                  what="a problem with its question, steps and answer")
    if with_steps:
        return f"{format_prompt(p['question'])}{THINK_OPEN}{p['steps']}{THINK_CLOSE} {p['answer']}"
    return f"{format_prompt(p['question'])}{p['answer']}"


# ---------------------------------------------------------------------------------------------
# parse
_ANSWER_RE = re.compile(r"^\s*(-?\d+)")
_STEP_RE = re.compile(r"(-?\d+)\s*([+\-*/])\s*(-?\d+)\s*=\s*(-?\d+)")
_NUMBER_RE = re.compile(r"\d+")


def parse_answer(completion: str) -> int | None:
    """Final answer of a completion (the text after ``Answer: ``): the first integer after the last
    ``</think>``, or at the start when there is no thought. None when there is none."""
    _checks.text("completion", completion)
    tail = completion.rsplit(THINK_CLOSE, 1)[-1] if THINK_CLOSE in completion else completion
    if THINK_OPEN in tail:
        return None
    m = _ANSWER_RE.match(tail)
    return int(m.group(1)) if m else None


def parse_steps(steps: str) -> list[tuple[int, str, int, int]]:
    """Every ``a op b = c`` in ``steps``, as ``(a, op symbol, b, c)``."""
    _checks.text("steps", steps)
    return [(int(a), op, int(b), int(c)) for a, op, b, c in _STEP_RE.findall(steps)]


def check_steps(steps: str) -> bool:
    """True when every ``a op b = c`` in ``steps`` is correct (whole-number division only) and each
    step uses the previous result."""
    found = parse_steps(steps)
    if not found:
        return False
    prev = None
    for a, op, b, c in found:
        want = None if op == "/" and not b else apply_operation(op, a, b)
        if want != c or (op == "/" and b and a % b) or (prev is not None and a != prev):
            return False
        prev = c
    return True


def question_numbers(question: str) -> set[str]:
    """The numbers written in a question, as digit strings."""
    _checks.text("question", question)
    return set(_NUMBER_RE.findall(question))


_DOCUMENT_RE = re.compile(r"^Question: (?P<q>.*?)\nAnswer: (?:<think>(?P<steps>.*?)</think>)?(?P<tail>.*)$", re.S)


def parse_document(text: str) -> dict | None:
    """A whole text written as this language writes it, as ``{"question", "steps" (None without
    a complete thought), "answer" (None when there is no final integer)}``; None when ``text`` is
    not a ``Question: ...\\nAnswer: ...`` document."""
    if not isinstance(text, str):
        return None
    m = _DOCUMENT_RE.match(text)
    if not m:
        return None
    steps = m["steps"]
    answer = parse_answer(THINK_CLOSE + m["tail"] if steps is not None else m["tail"])
    return {"question": m["q"], "steps": steps, "answer": answer}


_GENERATION_RE = re.compile(r"Question:[ \t]*(?P<q>[^\n]*?)[ \t]*\n+[ \t]*Answer:[ \t]*"
                            r"(?:<think>(?P<steps>[^\n]*?)</think>)?[ \t]*(?P<answer>-?\d+)")


def parse_generation(text) -> dict | None:
    """The first ``Question: ...\\nAnswer: [<think>steps</think>] N`` anywhere in a model's output
    (chatter around it is ignored), as ``{"question", "steps" (None without a thought), "answer"}``;
    None when there is none (any malformed input, including non-strings, gives None, not an error)."""
    if not isinstance(text, str):
        return None
    m = _GENERATION_RE.search(text)
    if not m or not m["q"].strip():
        return None
    steps = m["steps"].strip() if m["steps"] is not None else None
    return {"question": m["q"].strip(), "steps": steps, "answer": int(m["answer"])}


# ---------------------------------------------------------------------------------------------
# recompute: read a question back into its structure
def _template_regex(tpl: str) -> re.Pattern:
    fields = {"n": r"(?P<name>[A-Z][a-z]+)", "a": r"(?P<num>\d+)", "b": r"(?P<num>\d+)",
              "o": r"(?P<obj>[a-z]+)", "o_one": r"(?P<one>[a-z]+)", "p": r"(?:He|She)", "q": r"(?:he|she)"}
    parts = re.split(r"\{(\w+)\}", tpl)
    out, seen = [], set()
    for i, part in enumerate(parts):
        if i % 2 == 0:
            out.append(re.escape(part))
        else:
            pat = fields[part]
            group = re.search(r"\?P<(\w+)>", pat)
            if group and group[1] in seen:   # a field used twice must name the same thing
                pat = f"(?P={group[1]})"
            elif group:
                seen.add(group[1])
            out.append(pat)
    return re.compile("^" + "".join(out) + "$")


_SENTENCES = {kind: [_template_regex(t) for t in tpls] for kind, tpls in TEMPLATES.items()}
_SPLIT = re.compile(r"(?<=[.?])\s+")


def _match(kind: str, sentence: str):
    for rx in _SENTENCES[kind]:
        m = rx.match(sentence)
        if m:
            return m
    return None


def recompute_question(question: str) -> dict | None:
    """Read a question written in this language back into its structure and recompute the
    answer: ``{"start", "ops", "operands", "answer", "values", "name", "object", "consistent",
    "possible"}``. ``consistent`` is False when the sentences mix people or objects (a problem about
    stamps that sells rocks); ``possible`` is False when an operation cannot be done in whole items
    (a division that does not come out even, a count that drops to zero or below). None when a
    sentence is not one the grammar writes."""
    if not isinstance(question, str):
        return None
    sentences = _SPLIT.split(question.strip())
    if len(sentences) < 3:
        return None
    first, *middle, last = sentences
    m = _match("start", first)
    if m is None or _match("question", last) is None:
        return None
    x = int(m["num"])
    name, obj = m["name"], m["obj"]
    names, objects = {name}, {obj}
    ops, operands, values, possible = [], [], [x], True
    for s in middle:
        for op in SYMBOL:
            mm = _match(op, s)
            if mm:
                break
        else:
            return None
        b = int(mm["num"])
        gd = mm.groupdict()
        if gd.get("name"):
            names.add(gd["name"])
        if gd.get("obj"):
            objects.add(gd["obj"])
        if gd.get("one"):
            objects.add(gd["one"] + "s")
        if op == "sub" and b >= x or op == "div" and (b == 0 or x % b) or op == "mul" and b < 2:
            possible = False
        x = 0 if op == "div" and b == 0 else apply_operation(op, x, b)
        ops.append(op)
        operands.append(b)
        values.append(x)
    if not ops:
        return None
    lq = _match("question", last).groupdict()
    if lq.get("name"):
        names.add(lq["name"])
    if lq.get("obj"):
        objects.add(lq["obj"])
    return {"start": values[0], "ops": ops, "operands": operands, "answer": x, "values": values,
            "name": name, "object": obj, "consistent": len(names) == 1 and len(objects) == 1,
            "possible": possible}


def fits(question: str, cfg: ProblemConfig) -> bool:
    """True when the problem written in ``question`` (a question of this language) is one
    :func:`make_problem` could draw under ``cfg``: its number of steps and operations allowed, the
    start and add/subtract operands in 1..max_value (start >= 2), multiply/divide factors in
    2..max_factor, divisions exact, every intermediate result in 1..max_result. Tells whether a
    generated problem belongs to a target distribution, and whether a problem stays inside the ranges
    a model was trained on. ValueError when ``question`` is not written in this language."""
    if not isinstance(cfg, ProblemConfig):
        raise ValueError(f"cfg must be a ProblemConfig, got {type(cfg).__name__}")
    s = recompute_question(question)
    if s is None:
        raise ValueError(f"question={question!r:.80} is not written in this grammar's sentences "
                         "(recompute_question cannot read it)")
    if not (cfg.min_steps <= len(s["ops"]) <= cfg.max_steps) or set(s["ops"]) - set(cfg.ops):
        return False
    if not (s["possible"] and 2 <= s["start"] <= cfg.max_value):
        return False
    for op, b in zip(s["ops"], s["operands"]):
        if not (1 <= b <= cfg.max_value if op in ("add", "sub") else 2 <= b <= cfg.max_factor):
            return False
    return all(1 <= v <= cfg.max_result for v in s["values"][1:])


# ---------------------------------------------------------------------------------------------
# verify
def verify(problem: dict | None, strict: bool = True) -> str:
    """Why a worked problem (``{"question", "steps", "answer"}``, as :func:`parse_document` or
    :func:`parse_generation` return it) does not check out, as one of :data:`FAILURES`, or ``""``
    when it does. ``strict``: the question must also be written in this language, and the steps
    must be its operations; without it (free-form questions), steps must read their numbers from
    the question."""
    if problem is not None and not isinstance(problem, dict):
        raise TypeError(f"problem must be a dict from parse_document/parse_generation (or None), "
                        f"got {type(problem).__name__}")
    if not problem:
        return "unparseable"
    steps = problem.get("steps")
    if not steps:
        return "no_steps"
    found = _STEP_RE.findall(steps)   # as written: a number is read from the question digit for digit
    if not found or not check_steps(steps):
        return "wrong_arithmetic"
    if problem.get("answer") is None or int(found[-1][3]) != int(problem["answer"]):
        return "wrong_final_answer"
    if not strict:
        numbers = question_numbers(problem["question"])
        used = [found[0][0]] + [b for _, _, b, _ in found]
        return "" if all(u.lstrip("-") in numbers for u in used) else "misread_number"
    structure = recompute_question(problem["question"])
    if structure is None:
        return "question_unreadable"
    if not structure["possible"]:
        return "impossible_operation"
    if not structure["consistent"]:
        return "inconsistent_entities"
    want = [f"{a}{SYMBOL[op]}{b}" for a, op, b in zip(structure["values"], structure["ops"], structure["operands"])]
    got = [f"{a}{op}{b}" for a, op, b, _ in found]
    if structure["answer"] != int(problem["answer"]) or want != got:
        return "question_mismatch"
    return ""
