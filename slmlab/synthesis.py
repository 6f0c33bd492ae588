"""Synthetic data by prompt design, and the generate -> verify -> filter loop around the generator.

Prompt templates (:data:`TEMPLATES`) ask a generator model for a *new* worked problem:

- ``zero_shot``: just the opening of a document, ``Question:``;
- ``few_shot``: ``k`` problems drawn from the pool, then ``Question:``;
- ``attribute``: few-shot examples chosen for the wanted attributes (one operation, and the number
  of steps that makes the generator write the wanted number: see below), and the new problem's first
  sentence written in the prompt (who, which object, how many), so topic and start are fixed and the
  model writes the rest.

A base model continues its training stream, it does not copy an example. The embedded model's corpus
lists problems in a fixed cycle of step counts (1, 2, 3, 4, then 2, 3, 4 once the few one-step
problems are used up, :func:`slmlab.problems.make_problems`), so after an ``n``-step document it writes
the *next* count of that cycle, not ``n``. :func:`step_succession` measures what a generator writes
after examples of each step count, :func:`cue_steps` inverts it, and ``SynthesisConfig.example_steps``
makes attribute prompts show the examples that lead to the wanted count.

Rendering depends on what the generator understands (:func:`prompt_style`). The embedded slmlab-tiny
model only knows documents ``Question: ...\\nAnswer: <think>steps</think> answer`` separated by
``</s><s>``, so a prompt *is* a few such documents followed by ``Question:``; it continues with a
new problem of the same kind (a base model follows a pattern, not an instruction). A hub chat model
gets the same request as an instruction through its tokenizer's chat template; a hub base model
without one gets the instruction as plain text.

The loop (:func:`run_synthesis`), one round: draw prompts from the pool -> generate (batched,
temperature / top-p / min-p, seeded) -> parse -> verify (recompute the answer from the question;
reject what does not parse) -> drop copies of the pool and of the eval split (exact problem key, then
MinHash LSH with notebook 01's settings from :mod:`slmlab.curation`, and its eval 13-gram
decontamination) -> add the rest -> save the pool with ``datasets``. A rerun resumes from the last
saved round and gives the same pool as an uninterrupted run. With a ``target`` distribution
(:class:`slmlab.problems.ProblemConfig`) attribute prompts draw their start, steps and operation from it
and a correct problem outside it is dropped as ``outside_target``: the loop writes data *of* that
distribution (notebook 02 uses it for problems harder than the generator's own).
"""
from __future__ import annotations

import hashlib
import json
import math
import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from datasets import Dataset, load_from_disk
from tqdm.auto import tqdm

from . import _checks, checkpoint
from . import problems as grammar
from .curation import (MinHashParams, decontamination_batch, eval_ngram_index, minhash_batch,
                       minhash_near_duplicates, simplify_text)
from .diversity import distinct_n, vendi_score
from .problems import (format_document, format_prompt, parse_generation, parse_steps, problem_key,
                       recompute_question, verify)
from .sampling import sample, thought_token_ids

__all__ = ["TEMPLATES", "STYLES", "SynthesisConfig", "prompt_style", "draw_attributes", "render_prompt",
           "build_prompts", "verify_problem", "propose", "step_succession", "cue_steps", "steps_written",
           "filter_novel", "run_synthesis", "pool_from_problems", "DOC_SEP"]

TEMPLATES = ("zero_shot", "few_shot", "attribute")
STYLES = ("document", "chat", "instruction")
DOC_SEP = "</s><s>"   # how documents follow each other in the embedded model's training stream
OP_WORDS = {"add": "an addition", "sub": "a subtraction", "mul": "a multiplication", "div": "a division"}
POOL_COLUMNS = ("text", "prompt", "question", "steps", "answer", "n_steps", "key", "source", "round",
                "template")


@dataclass
class SynthesisConfig:
    """Knobs of the loop. Sampling knobs are those of :func:`slmlab.sampling.sample`."""

    rounds: int = 3                  # generate-verify-filter rounds
    prompts_per_round: int = 64      # one candidate problem per prompt
    templates: tuple = ("few_shot",)  # cycled over a round's prompts; any of TEMPLATES
    k_shot: int = 2                  # pool examples per few-shot / attribute prompt. The embedded
    #                                  model saw 256-token windows: 2 examples + a new problem fit
    temperature: float = 1.0
    top_p: float = 0.95
    min_p: float | None = None
    max_new_tokens: int = 128        # a 4-step problem with its solution is ~115 tokens
    batch_size: int = 64             # prompts per generate() call
    strict: bool = True              # True: the answer must be recomputed from the question's words;
    #                                  False (free-form hub generators): steps must check out and read
    #                                  their numbers from the question
    style: str = "auto"              # auto | document | chat | instruction
    max_prompt_tokens: int | None = None  # drop few-shot examples until a prompt fits (the embedded
    #                                  model trained on 256-token windows: prompt + new problem <= 256)
    minhash: MinHashParams = field(default_factory=MinHashParams)  # notebook 01's near-dup settings
    target: grammar.ProblemConfig | None = None  # the distribution wanted (strict only): attribute
    #                                  prompts draw start, steps and operation from it, and a valid
    #                                  problem outside it is dropped ("outside_target"); None: any
    example_steps: dict | None = None  # attribute prompts asking for n steps show examples of
    #                                  example_steps[n] steps (cue_steps(step_succession(...)) measures the
    #                                  map for a generator); None or a missing n: examples of n steps
    seed: int = 0

    def __post_init__(self):
        for name in ("rounds", "prompts_per_round", "max_new_tokens", "batch_size"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name}={v!r} must be a positive int")
        if isinstance(self.templates, str):
            self.templates = (self.templates,)
        self.templates = tuple(self.templates)
        bad = [t for t in self.templates if t not in TEMPLATES]
        if bad or not self.templates:
            raise ValueError(f"templates={self.templates!r}: choose from {TEMPLATES}")
        if not isinstance(self.k_shot, int) or self.k_shot < 0:
            raise ValueError(f"k_shot={self.k_shot!r} must be an int >= 0")
        if not isinstance(self.temperature, (int, float)) or not math.isfinite(self.temperature) or self.temperature < 0:
            raise ValueError(f"temperature={self.temperature!r} must be a finite number >= 0 (0: greedy)")
        if not (isinstance(self.top_p, (int, float)) and 0 < self.top_p <= 1):
            raise ValueError(f"top_p={self.top_p!r} must lie in (0, 1]")
        if self.min_p is not None and not (isinstance(self.min_p, (int, float)) and 0 <= self.min_p < 1):
            raise ValueError(f"min_p={self.min_p!r} must be None or lie in [0, 1)")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed={self.seed!r} must be a non-negative int")
        if self.style not in ("auto",) + STYLES:
            raise ValueError(f"style={self.style!r} must be 'auto' or one of {STYLES}")
        if self.max_prompt_tokens is not None and (not isinstance(self.max_prompt_tokens, int)
                                                   or self.max_prompt_tokens < 1):
            raise ValueError(f"max_prompt_tokens={self.max_prompt_tokens!r} must be None or a positive int")
        if isinstance(self.minhash, dict):
            self.minhash = MinHashParams(**self.minhash)
        if isinstance(self.target, dict):   # read back from a saved round's settings
            self.target = grammar.ProblemConfig(**{**self.target, "ops": tuple(self.target.get("ops", ()))})
        if self.target is not None and not isinstance(self.target, grammar.ProblemConfig):
            raise ValueError(f"target={self.target!r} must be None or a slmlab.problems.ProblemConfig")
        self.example_steps = _step_map(self.example_steps)
        if self.target is not None and not self.strict:
            raise ValueError("target needs strict=True: only a question in the grammar's sentences can be "
                             "read back into the numbers that decide whether it fits the target")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["templates"] = list(self.templates)
        if self.example_steps is not None:   # JSON keys are strings: saved settings compare as written
            d["example_steps"] = {str(n): m for n, m in sorted(self.example_steps.items())}
        return d


def _step_map(example_steps) -> dict | None:
    """``example_steps`` as ``{wanted steps: examples' steps}`` with int keys (a saved config has
    string keys); ValueError naming the argument otherwise."""
    if example_steps is None:
        return None
    if not isinstance(example_steps, dict):
        raise ValueError(f"example_steps={example_steps!r} must be None or a dict {{wanted steps: examples' steps}}")
    out = {}
    for n, m in example_steps.items():
        try:
            n_int = int(n)
        except (TypeError, ValueError):
            n_int = None
        if n_int is None or isinstance(n, bool) or isinstance(m, bool) or not isinstance(m, int) \
                or not (1 <= n_int <= 8 and 1 <= m <= 8) or str(n_int) != str(n).strip():
            raise ValueError(f"example_steps={example_steps!r}: keys and values must be step counts, ints in 1..8")
        out[n_int] = m
    return out


# ---------------------------------------------------------------------------------------------
# prompts
def prompt_style(tokenizer) -> str:
    """``document`` for a tokenizer with ``<think>`` tokens (a model trained on this collection's
    documents), ``chat`` when it has a chat template, else ``instruction``."""
    if thought_token_ids(tokenizer)[0] is not None:
        return "document"
    return "chat" if getattr(tokenizer, "chat_template", None) else "instruction"


def draw_attributes(rng: random.Random, target: grammar.ProblemConfig | None = None) -> dict:
    """Random attributes for an ``attribute`` prompt: who, which object (the topic), how many at the
    start, number of steps (the difficulty) and one operation the problem must use. With ``target``
    (a :class:`slmlab.problems.ProblemConfig`) start, steps and operation are drawn from its ranges,
    so the prompt steers the generator toward that distribution; without it, 1-4 steps from 2-50."""
    if not isinstance(rng, random.Random):
        raise TypeError(f"rng must be a random.Random (e.g. random.Random(seed)), got {type(rng).__name__}")
    if target is not None and not isinstance(target, grammar.ProblemConfig):
        raise ValueError(f"target={target!r} must be None or a slmlab.problems.ProblemConfig")
    lo, hi = (target.min_steps, target.max_steps) if target else (1, 4)
    n_steps = rng.randint(lo, hi)
    return {"name": rng.choice(grammar.NAMES), "object": rng.choice(grammar.OBJECTS),
            "start": rng.randint(2, target.max_value if target else 50), "n_steps": n_steps,
            "operation": rng.choice(sorted(target.ops if target else grammar.SYMBOL)),
            "difficulty": "easy" if n_steps == 1 else "medium" if n_steps <= 3 else "hard",
            "opening": rng.randrange(len(grammar.TEMPLATES["start"]))}


def _opening_sentence(attributes: dict) -> str:
    openings = grammar.TEMPLATES["start"]
    tpl = openings[attributes.get("opening", 0) % len(openings)]
    return tpl.format(n=attributes["name"], a=attributes["start"], o=attributes["object"])


def _example_text(example) -> str:
    if isinstance(example, str):
        return example
    if isinstance(example, dict) and "text" in example:
        return example["text"]
    raise ValueError(f"examples must be documents (str) or pool rows with a 'text' field, got {example!r:.60}")


def _instruction(template: str, examples: list[str], attributes: dict | None) -> str:
    lines = ["Write one new grade-school arithmetic word problem with a worked solution, in exactly "
             "this format (steps as a=b+c style equations inside <think></think>, then the final integer):",
             "Question: <the problem>", "Answer: <think>12+5=17. 17*2=34.</think> 34"]
    if examples:
        lines += ["", "Examples:"] + examples
    if template == "attribute" and attributes:
        lines += ["", f"The problem must be about {attributes['name']} and {attributes['object']}, start with "
                      f"{attributes['start']} {attributes['object']}, take exactly {attributes['n_steps']} "
                      f"step(s) ({attributes['difficulty']}), and use {OP_WORDS[attributes['operation']]}."]
    lines += ["", "Write only the new problem and its answer, nothing else."]
    return "\n".join(lines)


def render_prompt(template: str, examples=(), attributes: dict | None = None, tokenizer=None,
                  style: str = "auto") -> dict:
    """Render one request. Returns ``{"prompt": text to feed the model, "opening": the start of the
    new document already written by the prompt}``; the generated document is ``opening + completion``
    (``opening`` is empty for chat and instruction styles, whose output is parsed as it comes)."""
    if template not in TEMPLATES:
        raise ValueError(f"template={template!r} must be one of {TEMPLATES}")
    if isinstance(examples, (str, dict)):  # iterating it would give its letters (or its keys)
        raise ValueError(f"examples must be a list of documents or pool rows, not one {type(examples).__name__}; "
                         "wrap it in a list")
    examples = [_example_text(e) for e in examples]
    if template == "zero_shot" and examples:
        raise ValueError("template='zero_shot' takes no examples")
    if template == "attribute" and not attributes:
        raise ValueError("template='attribute' needs attributes (see draw_attributes)")
    if style == "auto":
        if tokenizer is None:
            raise ValueError("style='auto' needs the tokenizer to decide; pass tokenizer or a style")
        style = prompt_style(tokenizer)
    if style not in STYLES:
        raise ValueError(f"style={style!r} must be 'auto' or one of {STYLES}")
    if style == "document":
        opening = "Question:"
        if template == "attribute":
            opening += " " + _opening_sentence(attributes)
        prompt = "".join(e + DOC_SEP for e in examples) + opening
        return {"prompt": prompt, "opening": opening}
    text = _instruction(template, examples, attributes)
    if style == "chat":
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise ValueError("style='chat' needs a tokenizer with a chat template")
        text = tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False,
                                             add_generation_prompt=True)
        return {"prompt": text, "opening": ""}
    return {"prompt": text + "\n\nQuestion:", "opening": "Question:"}


def _pick_examples(rows: list[dict], k: int, rng: random.Random, attributes: dict | None,
                   example_steps: dict | None = None) -> list[dict]:
    if k == 0 or not rows:
        return []
    candidates = range(len(rows))
    if attributes:
        # A base model follows the pattern of its stream, it cannot read a spec: the examples use the
        # operation, and have the step count after which the generator writes the wanted one.
        n_cue = (example_steps or {}).get(attributes["n_steps"], attributes["n_steps"])
        want = [i for i, r in enumerate(rows) if int(r["n_steps"]) == n_cue
                and grammar.SYMBOL[attributes["operation"]] in r["steps"]]
        if len(want) >= k:
            candidates = want
    return [rows[i] for i in rng.sample(list(candidates), min(k, len(candidates)))]


def build_prompts(pool_rows: list[dict], n: int, templates, k_shot: int, rng: random.Random,
                  tokenizer=None, style: str = "auto", max_prompt_tokens: int | None = None,
                  target: grammar.ProblemConfig | None = None, example_steps: dict | None = None) -> list[dict]:
    """``n`` requests cycling over ``templates``: each ``{"template", "attributes", "prompt",
    "opening", "examples": [keys]}``. With ``max_prompt_tokens`` (needs ``tokenizer``), examples are
    dropped, first ones first, until the prompt fits. ``target``: attribute prompts draw their
    attributes from this distribution (see :func:`draw_attributes`). ``example_steps``: an attribute
    prompt asking for ``n`` steps shows examples of ``example_steps[n]`` steps (default ``n``)."""
    if isinstance(pool_rows, (str, dict)):
        raise ValueError(f"pool_rows must be a list of pool rows (see pool_from_problems), not one {type(pool_rows).__name__}")
    example_steps = _step_map(example_steps)
    if max_prompt_tokens is not None and tokenizer is None:
        raise ValueError("max_prompt_tokens needs the tokenizer to count tokens")
    templates = (templates,) if isinstance(templates, str) else tuple(templates)
    if not templates or any(t not in TEMPLATES for t in templates):
        raise ValueError(f"templates={templates!r}: choose one or more of {TEMPLATES}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n={n!r} must be an int >= 0 (the number of prompts)")
    if isinstance(k_shot, bool) or not isinstance(k_shot, int) or k_shot < 0:
        raise ValueError(f"k_shot={k_shot!r} must be an int >= 0")
    if k_shot > len(pool_rows) and set(templates) != {"zero_shot"}:
        raise ValueError(f"k_shot={k_shot} is larger than the pool ({len(pool_rows)} rows); lower k_shot or grow "
                         "the pool (a prompt never silently gets fewer examples than asked)")
    out = []
    for i in range(n):
        template = templates[i % len(templates)]
        attributes = draw_attributes(rng, target) if template == "attribute" else None
        examples = [] if template == "zero_shot" else _pick_examples(pool_rows, k_shot, rng, attributes,
                                                                     example_steps)
        req = render_prompt(template, examples, attributes, tokenizer, style)
        while max_prompt_tokens is not None and examples and \
                len(tokenizer(req["prompt"])["input_ids"]) > max_prompt_tokens:
            examples = examples[1:]
            req = render_prompt(template, examples, attributes, tokenizer, style)
        out.append({"template": template, "attributes": attributes, "examples": [e.get("key", "") for e in examples],
                    **req})
    return out


# ---------------------------------------------------------------------------------------------
# verify
def verify_problem(problem: dict | None, strict: bool = True) -> str:
    """Why a generated problem (:func:`slmlab.problems.parse_generation`'s output) is not valid, as
    one of :data:`slmlab.problems.FAILURES`, or ``""`` when it is; see :func:`slmlab.problems.verify`.
    ``strict`` (the embedded generator): the question must be in the grammar's own sentences and the
    answer recomputed from it must match; without it (free-form hub generators) steps must check out
    and read their numbers from the question."""
    return verify(problem, strict)


def _problem_record(problem: dict, strict: bool) -> dict:
    """A verified problem as a pool row (without provenance)."""
    structure = recompute_question(problem["question"]) if strict else None
    if structure is not None:
        key = problem_key(structure)
        n_steps = len(structure["ops"])
    else:
        key = "q:" + hashlib.sha1(simplify_text(problem["question"]).encode()).hexdigest()[:16]
        n_steps = len(parse_steps(problem["steps"]))
    p = {"question": problem["question"], "steps": problem["steps"], "answer": int(problem["answer"])}
    return {"text": format_document(p), "prompt": format_prompt(p["question"]),
            "question": p["question"], "steps": p["steps"], "answer": p["answer"], "n_steps": n_steps,
            "key": key}


def pool_from_problems(problems, source: str = "seed") -> Dataset:
    """A pool Dataset (columns :data:`POOL_COLUMNS`) from grammar problems (``make_problems``) or any
    rows with ``question``, ``steps`` and ``answer``; rows without worked steps are dropped."""
    if isinstance(problems, (str, dict)):
        raise ValueError(f"problems must be a Dataset or a list of problem dicts, not one {type(problems).__name__}")
    rows = problems.to_list() if hasattr(problems, "to_list") else list(problems)
    if bad := [i for i, r in enumerate(rows) if not isinstance(r, dict)]:
        raise ValueError(f"problems must hold dicts with question, steps and answer; problems[{bad[0]}] is "
                         f"{type(rows[bad[0]]).__name__}")
    out = []
    for r in rows:
        if not r.get("steps"):
            continue
        p = {"question": r["question"], "steps": r["steps"], "answer": int(r["answer"])}
        out.append({"text": format_document(p), "prompt": format_prompt(p["question"]),
                    "question": p["question"], "steps": p["steps"], "answer": p["answer"],
                    "n_steps": int(r.get("n_steps") or len(parse_steps(p["steps"]))),
                    "key": r.get("key") or _problem_record(p, True)["key"], "source": source, "round": 0,
                    "template": ""})
    if not out:
        raise ValueError("problems holds no rows with worked steps (question, steps, answer)")
    return Dataset.from_list(out)


# ---------------------------------------------------------------------------------------------
# one round
def _resolved_style(cfg: SynthesisConfig, tokenizer) -> str:
    if cfg.style == "auto" and tokenizer is None:
        raise ValueError("cfg.style='auto' needs the tokenizer; pass it or set style='document'")
    return prompt_style(tokenizer) if cfg.style == "auto" else cfg.style


def propose(model, tokenizer, pool_rows: list[dict], cfg: SynthesisConfig, n: int | None = None,
            seed: int | None = None, templates=None, generate_fn=None) -> list[dict]:
    """Generate and check one batch of candidates: prompts from ``pool_rows`` -> generate -> parse
    -> verify (-> ``outside_target`` when ``cfg.target`` is set and a valid problem does not fit it). Each candidate: ``{"template", "attributes", "prompt", "text" (the generated
    document), "problem" (parsed, or None), "reason" ("" when valid), "row" (pool row when valid)}``.

    ``generate_fn(prompts, seed) -> completions`` replaces the model (any generator: an API, a
    vLLM engine, a stub in tests); by default :func:`slmlab.sampling.sample` runs ``model``."""
    if not isinstance(cfg, SynthesisConfig):
        raise TypeError(f"cfg must be a SynthesisConfig, got {type(cfg).__name__}")
    n = cfg.prompts_per_round if n is None else n
    seed = cfg.seed if seed is None else _checks.seed(seed)
    if generate_fn is not None:
        _checks.callable_("generate_fn", generate_fn, "generate_fn(prompts, seed) -> completions")
    rng = random.Random(f"{seed}-prompts")
    style = _resolved_style(cfg, tokenizer)
    requests = build_prompts(pool_rows, n, templates or cfg.templates, cfg.k_shot, rng, tokenizer, style,
                             cfg.max_prompt_tokens if tokenizer is not None else None, cfg.target,
                             cfg.example_steps)
    prompts = [r["prompt"] for r in requests]
    if generate_fn is not None:
        completions = list(generate_fn(prompts, seed))
        if len(completions) != len(prompts):
            raise ValueError(f"generate_fn returned {len(completions)} completions for {len(prompts)} prompts")
    else:
        completions = sample(model, tokenizer, prompts, max_new_tokens=cfg.max_new_tokens,
                             temperature=cfg.temperature, top_p=cfg.top_p, min_p=cfg.min_p, seed=seed,
                             batch_size=cfg.batch_size, stop_at_newline=False)
    out = []
    for req, completion in zip(requests, completions):
        text = req["opening"] + (completion if isinstance(completion, str) else "")
        problem = parse_generation(text)
        reason = verify_problem(problem, cfg.strict)
        if not reason and cfg.target is not None and not grammar.fits(problem["question"], cfg.target):
            reason = "outside_target"   # correct, but not of the distribution wanted
        cand = {**req, "completion": completion, "text": text, "problem": problem, "reason": reason, "row": None}
        if not reason:
            cand["row"] = _problem_record(problem, cfg.strict)
        out.append(cand)
    return out


def steps_written(problem: dict | None) -> int | None:
    """How many operations a parsed problem's *question* tells (read back by the grammar), or None
    when it does not parse or is not in the grammar's sentences. Counted on the question, not on the
    steps, so an invalid solution still shows what the generator was writing."""
    if problem is not None and not isinstance(problem, dict):
        raise TypeError(f"problem must be a dict from parse_generation (or None), got {type(problem).__name__}")
    s = recompute_question(problem["question"]) if problem else None
    return len(s["ops"]) if s is not None else None


def step_succession(model, tokenizer, pool_rows: list[dict], n_per_level: int = 16, seed: int = 0,
                    cfg: SynthesisConfig | None = None, generate_fn=None) -> dict:
    """What the generator writes after an example of each step count: for every ``m`` in the
    pool's ``n_steps``, ``n_per_level`` one-example prompts (an ``m``-step pool problem, then
    ``Question:``), sampled with ``cfg``'s settings. Returns ``{m: {written steps: count}}``
    (:func:`steps_written`; ``None`` counts outputs whose question cannot be read back).
    ``generate_fn``: see :func:`propose`."""
    if isinstance(n_per_level, bool) or not isinstance(n_per_level, int) or n_per_level < 1:
        raise ValueError(f"n_per_level={n_per_level!r} must be a positive int (prompts per step count)")
    _checks.seed(seed)
    cfg = SynthesisConfig(seed=seed) if cfg is None else cfg
    levels = sorted({int(r["n_steps"]) for r in pool_rows})
    if not levels:
        raise ValueError("pool_rows is empty: step_succession needs examples of each step count")
    rng = random.Random(f"{seed}-succession")
    style = _resolved_style(cfg, tokenizer)
    requests = []
    for m in levels:
        rows = [r for r in pool_rows if int(r["n_steps"]) == m]
        requests += [(m, render_prompt("few_shot", [rng.choice(rows)], tokenizer=tokenizer, style=style))
                     for _ in range(n_per_level)]
    prompts = [req["prompt"] for _, req in requests]
    if generate_fn is not None:
        completions = list(generate_fn(prompts, seed))
    else:
        completions = sample(model, tokenizer, prompts, max_new_tokens=cfg.max_new_tokens,
                             temperature=cfg.temperature, top_p=cfg.top_p, min_p=cfg.min_p, seed=seed,
                             batch_size=cfg.batch_size, stop_at_newline=False)
    out = {m: Counter() for m in levels}
    for (m, req), completion in zip(requests, completions):
        text = req["opening"] + (completion if isinstance(completion, str) else "")
        out[m][steps_written(parse_generation(text))] += 1
    return {m: dict(c) for m, c in out.items()}


def cue_steps(succession: dict, wanted=range(1, 5)) -> dict:
    """Invert :func:`step_succession`: for each wanted step count ``n``, the examples' step count
    ``m`` after which the generator most often wrote ``n`` (ties: ``m == n`` first, then the smaller
    ``m``). A count the generator never wrote keeps ``n`` (no cue makes it)."""
    if not isinstance(succession, dict) or not all(isinstance(c, dict) for c in succession.values()):
        raise ValueError("succession must be {examples' steps: {written steps: count}}, as step_succession returns it")
    wanted = list(wanted) if not isinstance(wanted, (str, int)) else wanted
    if not isinstance(wanted, list) or not all(isinstance(n, int) and not isinstance(n, bool) for n in wanted):
        raise ValueError(f"wanted={wanted!r} must be a list of step counts (ints), e.g. range(1, 5)")
    out = {}
    for n in wanted:
        share = {m: c.get(n, 0) / max(1, sum(c.values())) for m, c in succession.items()}
        best = max(share.values(), default=0.0)
        out[n] = n if best == 0 or share.get(n, 0) == best else min(m for m, v in share.items() if v == best)
    return out


def filter_novel(candidates: list[dict], pool_rows: list[dict], params: MinHashParams = MinHashParams(),
                 exclude_keys=frozenset(), exclude_index=None) -> list[dict]:
    """Mark valid candidates that copy the pool or the excluded (eval) set, in place, and return
    them. Reasons: ``duplicate_of_pool`` (same problem key: same numbers and operations),
    ``eval_overlap`` (an eval problem's key, or a shared eval 13-gram with 4+ numbers),
    ``near_duplicate_of_pool`` (MinHash LSH on the question, notebook 01's settings),
    ``duplicate_in_round`` (copies an earlier candidate of the same batch)."""
    if not isinstance(candidates, list) or not all(isinstance(c, dict) and "reason" in c for c in candidates):
        raise ValueError("candidates must be a list of dicts with 'reason' (and 'row' when valid), as propose returns")
    pool_rows = pool_rows.to_list() if isinstance(pool_rows, Dataset) else pool_rows
    if isinstance(pool_rows, str) or not all(isinstance(r, dict) and "key" in r for r in pool_rows):
        raise ValueError("pool_rows must be pool rows with a 'key' column (see pool_from_problems)")
    if not isinstance(params, MinHashParams):
        raise TypeError(f"params must be a MinHashParams, got {type(params).__name__}")
    pool_keys = {r["key"] for r in pool_rows}
    live = [c for c in candidates if not c["reason"]]
    if exclude_index is not None and live:
        hits = decontamination_batch({"text": [c["row"]["text"] for c in live]}, exclude_index)["decontamination_reason"]
        for c, hit in zip(live, hits):
            if hit:
                c["reason"] = "eval_overlap"
    seen_keys: set = set()
    for c in live:
        if c["reason"]:
            continue
        key = c["row"]["key"]
        if key in exclude_keys:
            c["reason"] = "eval_overlap"
        elif key in pool_keys:
            c["reason"] = "duplicate_of_pool"
        elif key in seen_keys:
            c["reason"] = "duplicate_in_round"
        seen_keys.add(key)
    live = [c for c in live if not c["reason"]]
    if live:
        questions = [r["question"] for r in pool_rows] + [c["row"]["question"] for c in live]
        sigs = minhash_batch({"q": questions}, "q", params)["minhash"]
        ids = [f"pool:{i}" for i in range(len(pool_rows))] + [f"new:{i}" for i in range(len(live))]
        marks = minhash_near_duplicates(sigs, params, ids)[len(pool_rows):]
        for c, mark in zip(live, marks):
            if mark:
                c["reason"] = "near_duplicate_of_pool" if "pool:" in mark else "duplicate_in_round"
    return candidates


# ---------------------------------------------------------------------------------------------
# the loop
def _save_round(out_dir: Path, r: int, pool: Dataset, state: dict, config: dict) -> None:
    def write(folder):
        pool.save_to_disk(str(folder / "pool"))
        (folder / "state.json").write_text(json.dumps(state, indent=1))
    checkpoint.save(out_dir, r, write, prefix="round", width=4, config=config)  # every round is kept


def _read_round(folder: Path) -> dict:
    state = checkpoint.read_json(folder, "state.json")
    try:
        pool = load_from_disk(str(folder / "pool"))
    except Exception as err:
        raise checkpoint.DamagedCheckpoint(folder / "pool", f"cannot be loaded ({type(err).__name__}: {err})") from err
    return {"state": state, "pool": pool}


def _diversity(questions: list[str], vecs) -> dict:
    out = {"distinct_2": distinct_n(questions, 2) if questions else None, "vendi": None}
    if vecs is not None and len(vecs) >= 1:
        out["vendi"] = vendi_score(vecs)
    return out


def run_synthesis(model, tokenizer, seed_pool, cfg: SynthesisConfig = SynthesisConfig(), out_dir=None,
                  exclude=None, encoder=None, resume: bool = True, stop_after: int | None = None,
                  progress: bool = True, generate_fn=None) -> dict:
    """Run ``cfg.rounds`` generate-verify-filter rounds starting from ``seed_pool`` (a pool Dataset,
    see :func:`pool_from_problems`, or grammar problems).

    ``exclude``: problems never to produce (the eval split: rows with ``question`` and ``text``).
    ``encoder``: passed to :func:`slmlab.embeddings.embed` for the Vendi score of the questions
    (None: MiniLM); ``False`` skips the Vendi score. ``out_dir``: each round's pool and log are saved
    there; with ``resume`` a rerun continues after the last saved round. ``stop_after`` ends after
    that round (to simulate an interruption). ``generate_fn``: see :func:`propose`.

    Returns ``{"pool": Dataset, "history": [per-round dict], "rejected": [examples], "candidates":
    [last round's candidates]}``. Per round: generated, parsed, valid, novel, kept, valid_rate
    (valid/generated), novel_rate (novel/valid), yield (kept/generated), reasons, pool_size, and
    distinct_2 / vendi of the pool's questions and of the round's kept ones (``new_*``)."""
    if not isinstance(cfg, SynthesisConfig):
        raise ValueError(f"cfg must be a SynthesisConfig, got {type(cfg).__name__}")
    pool = seed_pool if isinstance(seed_pool, Dataset) and set(POOL_COLUMNS) <= set(seed_pool.column_names) \
        else pool_from_problems(seed_pool)
    pool = pool.select_columns(list(POOL_COLUMNS))
    history, rejected, start = [], [], 1
    out_dir = checkpoint.check_out_dir(out_dir) if out_dir is not None else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        found = checkpoint.load_latest(out_dir, _read_round, prefix="round", config=cfg.to_dict(),
                                       free=("rounds",)) if resume else None
        if found is not None:
            state, pool = found[2]["state"], found[2]["pool"]
            history, rejected, start = state["history"], state["rejected"], state["round"] + 1
    exclude_rows = (exclude.to_list() if hasattr(exclude, "to_list") else list(exclude)) if exclude is not None else []
    exclude_keys = set()
    for r in exclude_rows:
        s = recompute_question(r["question"])
        if s is not None:
            exclude_keys.add(problem_key(s))
        if r.get("key"):
            exclude_keys.add(r["key"])
    exclude_index = eval_ngram_index([r["text"] for r in exclude_rows]) if exclude_rows else None

    vecs = None
    if encoder is not False:
        from .embeddings import embed
        vecs = embed(list(pool["question"]), encoder)
    end = cfg.rounds if stop_after is None else min(cfg.rounds, stop_after)
    candidates: list[dict] = []
    for r in tqdm(range(start, end + 1), desc="synthesis rounds", disable=not progress,
                  initial=start - 1, total=cfg.rounds):
        rows = pool.to_list()
        candidates = propose(model, tokenizer, rows, cfg, seed=cfg.seed * 100_003 + r, generate_fn=generate_fn)
        parsed = sum(c["problem"] is not None for c in candidates)
        valid = sum(not c["reason"] for c in candidates)
        filter_novel(candidates, rows, cfg.minhash, exclude_keys, exclude_index)
        kept = [c for c in candidates if not c["reason"]]
        novel = len(kept) + sum(c["reason"] == "duplicate_in_round" for c in candidates)
        new_rows = [{**c["row"], "source": "synthetic", "round": r, "template": c["template"]} for c in kept]
        if new_rows:
            pool = Dataset.from_list(rows + new_rows, features=pool.features)
        new_q = [x["question"] for x in new_rows]
        new_vecs = None
        if vecs is not None and new_q:
            from .embeddings import embed
            new_vecs = embed(new_q, encoder)
            vecs = np.concatenate([vecs, new_vecs])
        pool_div, new_div = _diversity(list(pool["question"]), vecs), _diversity(new_q, new_vecs)
        reasons = Counter(c["reason"] or "kept" for c in candidates)
        n = len(candidates)
        history.append({"round": r, "generated": n, "parsed": parsed, "valid": valid, "novel": novel,
                        "kept": len(kept), "valid_rate": valid / n, "novel_rate": novel / valid if valid else 0.0,
                        "yield": len(kept) / n, "pool_size": len(pool), "reasons": dict(reasons),
                        "distinct_2": pool_div["distinct_2"], "vendi": pool_div["vendi"],
                        "new_distinct_2": new_div["distinct_2"], "new_vendi": new_div["vendi"]})
        per_reason: Counter = Counter()
        for c in candidates:
            if c["reason"] and per_reason[c["reason"]] < 3:
                per_reason[c["reason"]] += 1
                rejected.append({"round": r, "reason": c["reason"], "template": c["template"], "text": c["text"]})
        if out_dir is not None:
            _save_round(out_dir, r, pool, {"round": r, "history": history, "rejected": rejected}, cfg.to_dict())
    return {"pool": pool, "history": history, "rejected": rejected, "candidates": candidates}
