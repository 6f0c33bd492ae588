import random

import pytest

from slmlab.problems import (format_document, make_problem, make_problems, parse_generation,
                             recompute_question)
from slmlab.synthesis import (DOC_SEP, SynthesisConfig, build_prompts, filter_novel, pool_from_problems,
                              propose, render_prompt, run_synthesis, verify_problem)


@pytest.fixture(scope="module")
def seed_pool():
    return pool_from_problems(make_problems(30, seed=5))


# ---- prompt rendering -------------------------------------------------------------------------
def test_document_prompts_are_documents_then_question(seed_pool):
    rows = seed_pool.to_list()[:2]
    few = render_prompt("few_shot", rows, style="document")
    assert few["prompt"] == rows[0]["text"] + DOC_SEP + rows[1]["text"] + DOC_SEP + "Question:"
    assert few["opening"] == "Question:"
    zero = render_prompt("zero_shot", style="document")
    assert zero["prompt"] == "Question:"
    attrs = {"name": "Mia", "object": "plums", "start": 17, "n_steps": 2, "operation": "mul",
             "difficulty": "medium", "opening": 0}
    att = render_prompt("attribute", rows[:1], attrs, style="document")
    assert att["prompt"].endswith(DOC_SEP + "Question: Mia has 17 plums.")
    assert att["opening"] == "Question: Mia has 17 plums."


def test_instruction_and_chat_prompts(seed_pool):
    rows = seed_pool.to_list()[:2]
    attrs = {"name": "Leo", "object": "coins", "start": 9, "n_steps": 3, "operation": "div",
             "difficulty": "medium", "opening": 1}
    ins = render_prompt("attribute", rows, attrs, style="instruction")
    assert rows[0]["text"] in ins["prompt"] and "exactly 3 step" in ins["prompt"] and "a division" in ins["prompt"]
    assert ins["prompt"].endswith("Question:")

    class ChatTok:  # the one method of a chat tokenizer that rendering uses
        chat_template = "{{ messages }}"

        def apply_chat_template(self, messages, tokenize, add_generation_prompt):
            assert not tokenize and add_generation_prompt
            return "<|user|>" + messages[0]["content"] + "<|assistant|>"

    chat = render_prompt("few_shot", rows, tokenizer=ChatTok(), style="chat")
    assert chat["prompt"].startswith("<|user|>") and chat["prompt"].endswith("<|assistant|>")
    assert rows[1]["text"] in chat["prompt"] and chat["opening"] == ""


def test_render_prompt_bad_input(seed_pool):
    with pytest.raises(ValueError, match="template"):
        render_prompt("two_shot", style="document")
    with pytest.raises(ValueError, match="attributes"):
        render_prompt("attribute", style="document")
    with pytest.raises(ValueError, match="zero_shot"):
        render_prompt("zero_shot", seed_pool.to_list()[:1], style="document")
    with pytest.raises(ValueError, match="chat template"):
        render_prompt("few_shot", style="chat")


def test_build_prompts_cycles_templates_and_attribute_examples_match(seed_pool):
    rows = make_problems(200, seed=1).to_list()
    reqs = build_prompts(rows, 9, ("zero_shot", "few_shot", "attribute"), 2, random.Random(0), style="document")
    assert [r["template"] for r in reqs] == ["zero_shot", "few_shot", "attribute"] * 3
    assert all(r["prompt"] == "Question:" for r in reqs[0::3])
    for r in reqs[2::3]:
        ex = [x for x in rows if x["key"] in r["examples"]]
        assert len(ex) == 2
        assert all(x["n_steps"] == r["attributes"]["n_steps"] for x in ex)
        assert r["prompt"].endswith(r["opening"]) and r["attributes"]["name"] in r["opening"]


def test_build_prompts_fits_token_budget():
    from slmlab.models import train_tokenizer
    rows = make_problems(50, seed=2).to_list()
    tok = train_tokenizer([r["text"] for r in rows], vocab_size=300)
    lengths = sorted(len(tok(r["text"] + DOC_SEP)["input_ids"]) for r in rows)
    budget = 2 * lengths[len(lengths) // 2] + 10   # two typical examples fit, four never do
    assert sum(lengths[:4]) > budget
    reqs = build_prompts(rows, 12, ("few_shot",), 4, random.Random(0), tok, "document", max_prompt_tokens=budget)
    assert all(len(tok(r["prompt"])["input_ids"]) <= budget for r in reqs)
    assert all(len(r["examples"]) < 4 for r in reqs)
    assert sum(len(r["examples"]) >= 1 for r in reqs) >= 10   # trimmed, not emptied
    with pytest.raises(ValueError, match="tokenizer"):
        build_prompts(rows, 2, ("few_shot",), 2, random.Random(0), None, "document", max_prompt_tokens=100)


# ---- parsing -----------------------------------------------------------------------------------
def test_parse_generation_well_formed():
    p = make_problem(random.Random(3), 3)
    got = parse_generation(format_document(p) + "</s>trailing")
    assert got == {"question": p["question"], "steps": p["steps"], "answer": p["answer"]}
    # A chat model's answer with chatter around the document
    got = parse_generation("Sure! Here it is:\n\n" + format_document(p) + "\n\nHope this helps.")
    assert got["answer"] == p["answer"]
    assert parse_generation("Question: Ann has 3 cups. How many cups now?\nAnswer: 3")["steps"] is None


@pytest.mark.parametrize("bad", [None, 17, b"bytes", "", "Question:", "Question: x\nAnswer:",
                                 "Question: x\nAnswer: <think>1+1=2.</think>", "random words 12 + 3",
                                 "Question: \nAnswer: 5", "Answer: 4\nQuestion: y"])
def test_parse_generation_malformed_is_none(bad):
    assert parse_generation(bad) is None
    assert verify_problem(parse_generation(bad)) == "unparseable"


# ---- verifier ----------------------------------------------------------------------------------
def test_recompute_question_reads_every_corpus_problem():
    rng = random.Random(11)
    for _ in range(300):
        p = make_problem(rng, rng.randint(1, 4))
        s = recompute_question(p["question"])
        assert s is not None, p["question"]
        assert (s["answer"], s["ops"], s["operands"], s["start"]) == (p["answer"], p["ops"], p["operands"], p["start"])
        assert s["consistent"] and s["possible"]
        assert verify_problem({"question": p["question"], "steps": p["steps"], "answer": p["answer"]}) == ""


def test_verifier_rejects_with_reasons():
    p = make_problem(random.Random(4), 2)
    q, steps, ans = p["question"], p["steps"], p["answer"]
    assert verify_problem({"question": q, "steps": None, "answer": ans}) == "no_steps"
    a, rest = steps.split("=", 1)
    wrong = a + "=" + str(int(rest.split(".")[0]) + 1) + "." + rest.split(".", 1)[1]
    assert verify_problem({"question": q, "steps": wrong, "answer": ans}) == "wrong_arithmetic"
    assert verify_problem({"question": q, "steps": steps, "answer": ans + 1}) == "wrong_final_answer"
    assert verify_problem({"question": "Write me a poem. Please? Now.", "steps": steps, "answer": ans}) == "question_unreadable"
    # correct steps, but for another question
    other = make_problem(random.Random(5), 2)
    assert verify_problem({"question": other["question"], "steps": steps, "answer": ans}) == "question_mismatch"
    mixed = "Mia has 10 apples. She buys 5 more apples. Mia sells 3 rocks. How many apples does Mia have now?"
    assert verify_problem({"question": mixed, "steps": "10+5=15. 15-3=12.", "answer": 12}) == "inconsistent_entities"
    # non-strict: free-form question, steps must read numbers from it
    free = {"question": "A farm has 12 cows and buys 5 more. How many?", "steps": "12+5=17.", "answer": 17}
    assert verify_problem(free, strict=False) == ""
    assert verify_problem({**free, "steps": "12+6=18.", "answer": 18}, strict=False) == "misread_number"


def test_verifier_rejects_impossible_operations():
    q = "Mia has 10 apples. She splits the apples into 3 equal groups and keeps one group. How many apples now?"
    assert recompute_question(q)["possible"] is False
    assert verify_problem({"question": q, "steps": "10/3=3.", "answer": 3}) == "wrong_arithmetic"
    # steps that dodge the impossible division still do not make the problem valid
    assert verify_problem({"question": q, "steps": "10-1=9. 9/3=3.", "answer": 3}) == "impossible_operation"


# ---- novelty -----------------------------------------------------------------------------------
def _cand(p, template="few_shot"):
    from slmlab.synthesis import _problem_record
    prob = {"question": p["question"], "steps": p["steps"], "answer": p["answer"]}
    return {"template": template, "problem": prob, "reason": verify_problem(prob), "row": _problem_record(prob, True)}


def test_filter_novel_marks_copies(seed_pool):
    rows = seed_pool.to_list()
    rng = random.Random(99)
    fresh = make_problem(rng, 3)
    copy_of_pool = {"question": rows[0]["question"], "steps": rows[0]["steps"], "answer": rows[0]["answer"]}
    cands = [_cand(fresh), _cand(fresh), _cand(copy_of_pool), _cand(make_problem(rng, 4))]
    filter_novel(cands, rows)
    assert [c["reason"] for c in cands] == ["", "duplicate_in_round", "duplicate_of_pool", ""]
    # a re-punctuated copy whose key we pretend differs: only MinHash can catch it
    c = _cand({"question": rows[1]["question"], "steps": rows[1]["steps"], "answer": rows[1]["answer"]})
    c["row"]["question"] = rows[1]["question"].replace(".", " ;").replace("?", " !")
    c["row"]["key"] = "a-key-not-in-the-pool"
    filter_novel([c], rows)
    assert c["reason"] == "near_duplicate_of_pool"


def test_filter_novel_excludes_eval(seed_pool):
    from slmlab.curation import eval_ngram_index
    ev = make_problems(5, seed=5, split="eval").to_list()
    c = _cand({"question": ev[0]["question"], "steps": ev[0]["steps"], "answer": ev[0]["answer"]})
    filter_novel([c], seed_pool.to_list(), exclude_keys={ev[0]["key"]})
    assert c["reason"] == "eval_overlap"
    c = _cand({"question": ev[1]["question"], "steps": ev[1]["steps"], "answer": ev[1]["answer"]})
    filter_novel([c], seed_pool.to_list(), exclude_index=eval_ngram_index([e["text"] for e in ev]))
    assert c["reason"] == "eval_overlap"


# ---- the loop ----------------------------------------------------------------------------------
def fake_generator(prompts, seed):
    """A stand-in generator with every failure mode: new problems, wrong arithmetic, garbage,
    truncation, and copies of the prompt's first example."""
    rng = random.Random(seed)
    out = []
    for i, prompt in enumerate(prompts):
        p = make_problem(rng, rng.randint(1, 4))
        body = " " + p["question"] + "\nAnswer: <think>" + p["steps"] + "</think> " + str(p["answer"])
        kind = i % 6
        if kind == 1:
            body = body.replace("</think> ", "</think> 1")  # wrong final answer
        elif kind == 2:
            body = "".join(rng.choice("ab?<>/ 0123\n") for _ in range(40))
        elif kind == 3:
            body = body[: len(body) // 2]  # truncated by max_new_tokens
        elif kind == 4 and DOC_SEP in prompt:
            body = prompt.split(DOC_SEP)[0][len("Question:"):]  # copies an example
        out.append(body)
    return out


def _toy_encoder(texts):
    import numpy as np
    vecs = np.zeros((len(texts), 64))
    for i, t in enumerate(texts):
        for w in t.split():
            vecs[i, hash(w) % 64] += 1.0
    return vecs


def test_run_synthesis_counts_and_grows_pool(seed_pool):
    cfg = SynthesisConfig(rounds=2, prompts_per_round=24, style="document", seed=3)
    res = run_synthesis(None, None, seed_pool, cfg, encoder=_toy_encoder, progress=False, generate_fn=fake_generator)
    h = res["history"]
    assert [r["round"] for r in h] == [1, 2]
    for r in h:
        assert r["generated"] == 24
        assert r["generated"] >= r["parsed"] >= r["valid"] >= r["novel"] >= r["kept"]
        assert r["parsed"] < r["generated"] and r["valid"] < r["parsed"]  # garbage and wrong answers
        assert sum(r["reasons"].values()) == 24 and r["reasons"]["kept"] == r["kept"]
        assert r["reasons"].get("unparseable", 0) >= 4
        assert 1.0 <= r["vendi"] <= r["pool_size"]
    assert len(res["pool"]) == len(seed_pool) + sum(r["kept"] for r in h)
    assert res["pool"]["source"].count("synthetic") == sum(r["kept"] for r in h)
    assert len(set(res["pool"]["key"])) == len(res["pool"])   # no two pool rows are the same problem
    for row in res["pool"].to_list():
        assert verify_problem(parse_generation(row["text"])) == ""
    assert {x["reason"] for x in res["rejected"]} >= {"unparseable", "wrong_final_answer"}


def test_run_synthesis_resumes_to_the_same_pool(tmp_path, seed_pool):
    cfg = SynthesisConfig(rounds=3, prompts_per_round=18, style="document", seed=1)
    kw = dict(encoder=False, progress=False, generate_fn=fake_generator)
    full = run_synthesis(None, None, seed_pool, cfg, **kw)
    part = run_synthesis(None, None, seed_pool, cfg, out_dir=tmp_path, stop_after=1, **kw)
    assert len(part["history"]) == 1 and (tmp_path / "round-0001" / "state.json").exists()
    calls = []
    resumed = run_synthesis(None, None, seed_pool, cfg, out_dir=tmp_path,
                            **{**kw, "generate_fn": lambda p, s: calls.append(s) or fake_generator(p, s)})
    assert len(calls) == 2                      # rounds 2 and 3 only
    assert resumed["pool"].to_list() == full["pool"].to_list()
    assert resumed["history"] == full["history"]   # the loop logs no wall-clock times: all of it must match
    with pytest.raises(ValueError, match="other settings"):
        run_synthesis(None, None, seed_pool, SynthesisConfig(rounds=4, prompts_per_round=18, style="document",
                                                             seed=1, temperature=0.5), out_dir=tmp_path, **kw)


def test_run_synthesis_resumes_from_the_previous_round_when_the_newest_is_damaged(tmp_path, seed_pool):
    cfg = SynthesisConfig(rounds=3, prompts_per_round=18, style="document", seed=1)
    kw = dict(encoder=False, progress=False, generate_fn=fake_generator)
    full = run_synthesis(None, None, seed_pool, cfg, **kw)
    run_synthesis(None, None, seed_pool, cfg, out_dir=tmp_path, stop_after=2, **kw)
    (tmp_path / "round-0002" / "state.json").write_text("{")
    with pytest.warns(UserWarning, match=r"round-0002.*state\.json"):
        resumed = run_synthesis(None, None, seed_pool, cfg, out_dir=tmp_path, **kw)
    assert resumed["pool"].to_list() == full["pool"].to_list()


def test_malformed_model_output_never_crashes_the_loop(seed_pool):
    """A real (untrained) model writes garbage: every candidate is counted, as unparseable."""
    from slmlab.models import build_model, tiny_llama_config, train_tokenizer
    tok = train_tokenizer(list(seed_pool["text"]) * 3, vocab_size=300)
    # a byte-level vocabulary makes 2-shot prompts ~420 tokens long: give the model the context for them
    model = build_model(tiny_llama_config(tok, hidden_size=16, n_layers=1, n_heads=2, max_positions=512),
                        seed=0).eval()
    cfg = SynthesisConfig(rounds=1, prompts_per_round=6, max_new_tokens=12, templates=("zero_shot", "few_shot",
                                                                                          "attribute"))
    res = run_synthesis(model, tok, seed_pool, cfg, encoder=False, progress=False)
    r = res["history"][0]
    assert r["generated"] == 6 and r["kept"] == 0
    assert sum(r["reasons"].values()) == 6
    cands = propose(model, tok, seed_pool.to_list(), cfg, seed=0)
    assert all(c["reason"] for c in cands)


def test_config_bad_input():
    with pytest.raises(ValueError, match="templates"):
        SynthesisConfig(templates=("five_shot",))
    with pytest.raises(ValueError, match="rounds"):
        SynthesisConfig(rounds=0)
    with pytest.raises(ValueError, match="style"):
        SynthesisConfig(style="poem")
    with pytest.raises(ValueError, match="worked steps"):
        pool_from_problems([{"question": "q", "steps": "", "answer": 1}])


def test_same_seed_same_pool_as_before_the_grammar_moved():
    """Fingerprints computed before the grammar moved into slmlab.problems (same procedure; reasons
    then named answer_mismatch / steps_not_from_question, now wrong_final_answer / misread_number)."""
    import hashlib
    import json

    def fingerprint(x):
        return hashlib.sha256(json.dumps(x, sort_keys=True).encode()).hexdigest()[:16]

    seed_pool = pool_from_problems(make_problems(30, seed=5))
    assert fingerprint(seed_pool.to_list()) == "b8d75fb217ac28ed"
    ev = make_problems(40, seed=0, split="eval")
    want = {True: ("93f4375379c90640", "b4173eafb970cdd8"), False: ("31265d38db837354", "149f93e9b8b2c995")}
    for strict, (pool_fp, history_fp) in want.items():
        cfg = SynthesisConfig(rounds=3, prompts_per_round=24, style="document", seed=3, strict=strict,
                              templates=("zero_shot", "few_shot", "attribute"))
        res = run_synthesis(None, None, seed_pool, cfg, encoder=False, progress=False, generate_fn=fake_generator,
                            exclude=ev)
        assert fingerprint(res["pool"].to_list()) == pool_fp
        history = [{**r, "reasons": dict(sorted(r["reasons"].items()))} for r in res["history"]]
        assert fingerprint(history) == history_fp


# ---- a target distribution ---------------------------------------------------------------------
def test_attributes_follow_the_target_and_default_draws_are_unchanged():
    from slmlab.problems import HARDER, ProblemConfig
    from slmlab.synthesis import draw_attributes
    # without a target, the same draws as before the option existed (other notebooks' pools stay the same)
    a, b = draw_attributes(random.Random(4)), draw_attributes(random.Random(4), None)
    assert a == b and 2 <= a["start"] <= 50 and 1 <= a["n_steps"] <= 4
    target = ProblemConfig(min_steps=3, max_steps=4, max_value=99, max_result=999, max_factor=9, ops=("add", "mul"))
    drawn = [draw_attributes(random.Random(i), target) for i in range(300)]
    assert {d["n_steps"] for d in drawn} == {3, 4} and {d["operation"] for d in drawn} == {"add", "mul"}
    assert max(d["start"] for d in drawn) > 50 and all(2 <= d["start"] <= 99 for d in drawn)
    assert {d["difficulty"] for d in drawn} == {"medium", "hard"}
    reqs = build_prompts([], 40, ("attribute",), 0, random.Random(0), style="document", target=HARDER)
    assert any(r["attributes"]["start"] > 50 for r in reqs)
    assert all(f" {r['attributes']['start']} " in r["opening"] for r in reqs)   # the prompt writes that start


def test_outside_target_problems_are_dropped(seed_pool):
    from slmlab.problems import ProblemConfig, fits
    small = ProblemConfig(max_steps=2, max_value=50, max_result=200, max_factor=6)

    def writes(prompts, seed):   # one-step and four-step problems in turn; all correct
        rng = random.Random(seed)
        out = []
        for i in range(len(prompts)):
            p = make_problem(rng, 1 if i % 2 == 0 else 4)
            out.append(" " + p["question"] + "\nAnswer: <think>" + p["steps"] + "</think> " + str(p["answer"]))
        return out
    cfg = SynthesisConfig(prompts_per_round=10, style="document", target=small, seed=2)
    cands = propose(None, None, seed_pool.to_list(), cfg, generate_fn=writes)
    assert [c["reason"] for c in cands] == ["", "outside_target"] * 5   # four steps: outside max_steps=2
    assert all(fits(c["row"]["question"], small) for c in cands if not c["reason"])
    assert all(c["row"] is None for c in cands if c["reason"])
    untargeted = propose(None, None, seed_pool.to_list(), SynthesisConfig(prompts_per_round=10, style="document",
                                                                          seed=2), generate_fn=writes)
    assert all(not c["reason"] for c in untargeted)


def test_a_target_round_trips_through_saved_settings(tmp_path, seed_pool):
    from slmlab.problems import HARDER
    cfg = SynthesisConfig(rounds=2, prompts_per_round=12, style="document", target=HARDER, seed=1)
    assert SynthesisConfig(**cfg.to_dict()).target == HARDER   # as a resumed run reads it back
    kw = dict(encoder=False, progress=False, generate_fn=fake_generator)
    full = run_synthesis(None, None, seed_pool, cfg, **kw)
    run_synthesis(None, None, seed_pool, cfg, out_dir=tmp_path, stop_after=1, **kw)
    resumed = run_synthesis(None, None, seed_pool, cfg, out_dir=tmp_path, **kw)
    assert resumed["pool"]["key"] == full["pool"]["key"]


# ---- the step count an attribute prompt asks for -----------------------------------------------
_NEXT_IN_STREAM = {1: 2, 2: 3, 3: 4, 4: 2}   # the embedded model's corpus order (problems.make_problems)


def stream_generator(prompts, seed):
    """Writes what the embedded model writes: a correct problem with the step count that follows the
    prompt's last example in its training stream (1->2, 2->3, 3->4, 4->2), continuing the prompt's
    opening sentence when it has one."""
    import re

    from slmlab.problems import NAMES, OBJECTS, SYMBOL, apply_operation, write_question
    rng = random.Random(seed)
    out = []
    for prompt in prompts:
        *examples, opening = prompt.split(DOC_SEP)
        last = recompute_question(parse_generation(examples[-1])["question"]) if examples else None
        n = _NEXT_IN_STREAM[len(last["ops"])] if last else rng.randint(1, 4)
        words = re.findall(r"[A-Za-z]+|\d+", opening[len("Question:"):])   # the opening's who, how many, what
        s = opening != "Question:"
        start, name, obj = ((int(next(w for w in words if w.isdigit())), next(w for w in words if w in NAMES),
                             next(w for w in words if w in OBJECTS)) if s else (rng.randint(2, 50), "Mia", "plums"))
        operands = [rng.randint(1, 9) for _ in range(n)]
        question = write_question(start, ["add"] * n, operands, name, obj)
        body = question.split(". ", 1)[1] if s else question   # the opening already wrote the first sentence
        x, steps = start, []
        for b in operands:
            steps.append(f"{x}{SYMBOL['add']}{b}={apply_operation('add', x, b)}.")
            x += b
        out.append(" " + body + "\nAnswer: <think>" + " ".join(steps) + "</think> " + str(x))
    return out


def test_step_succession_and_cue_steps_make_attribute_prompts_get_the_steps_they_ask_for():
    """The notebook's steps_as_asked was 0.0: examples of the wanted count make a stream-following
    generator write the next count. The measured cue fixes it (fails before example_steps existed)."""
    from slmlab.synthesis import cue_steps, step_succession, steps_written
    rows = make_problems(200, seed=1).to_list()
    succ = step_succession(None, None, rows, n_per_level=5, cfg=SynthesisConfig(style="document"),
                           generate_fn=stream_generator)
    assert succ == {1: {2: 5}, 2: {3: 5}, 3: {4: 5}, 4: {2: 5}}
    cue = cue_steps(succ)
    assert cue == {1: 1, 2: 1, 3: 2, 4: 3}   # 1 is never written: no cue makes it, it keeps 1

    def as_asked(example_steps):
        cfg = SynthesisConfig(prompts_per_round=40, templates=("attribute",), k_shot=1, style="document",
                              example_steps=example_steps, seed=4)
        cands = [c for c in propose(None, None, rows, cfg, generate_fn=stream_generator) if not c["reason"]]
        assert len(cands) == 40   # every output is a valid problem: only the step count is in question
        return {n: [steps_written(c["problem"]) == n for c in cands if c["attributes"]["n_steps"] == n]
                for n in range(1, 5)}
    same = as_asked(None)
    assert all(not any(v) for v in same.values())   # examples of n steps -> n+1 (4 -> 2): never as asked
    cued = as_asked(cue)
    assert all(all(cued[n]) and cued[n] for n in (2, 3, 4)) and not any(cued[1])


def test_example_steps_round_trips_and_rejects_bad_input(tmp_path, seed_pool):
    from slmlab.synthesis import cue_steps, step_succession
    cfg = SynthesisConfig(rounds=2, prompts_per_round=12, style="document", example_steps={2: 1, 3: 2}, seed=1)
    assert SynthesisConfig(**cfg.to_dict()).example_steps == {2: 1, 3: 2}   # as a resumed run reads it back
    kw = dict(encoder=False, progress=False, generate_fn=fake_generator)
    run_synthesis(None, None, seed_pool, cfg, out_dir=tmp_path, stop_after=1, **kw)
    resumed = run_synthesis(None, None, seed_pool, cfg, out_dir=tmp_path, **kw)
    assert resumed["history"][-1]["round"] == 2
    for bad in ({2: 0}, {"x": 1}, {2: 1.5}, [(2, 1)], {9: 1}, {2: True}):
        with pytest.raises(ValueError, match="example_steps"):
            SynthesisConfig(example_steps=bad)
    with pytest.raises(ValueError, match="n_per_level"):
        step_succession(None, None, seed_pool.to_list(), n_per_level=0, cfg=SynthesisConfig(style="document"),
                        generate_fn=fake_generator)
    with pytest.raises(ValueError, match="empty"):
        step_succession(None, None, [], cfg=SynthesisConfig(style="document"), generate_fn=fake_generator)
    assert cue_steps({1: {}, 2: {None: 3}}) == {1: 1, 2: 2, 3: 3, 4: 4}   # nothing written: no cue
