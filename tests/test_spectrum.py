"""Spectrum tuning: tasks, formats and their loss masks, the masked training path, and the metrics
on hand-computed cases."""
import copy
import math

import pytest
import torch

import slmlab
from slmlab import distributional as D
from slmlab import spectrum as S
from slmlab import training


@pytest.fixture(scope="module")
def tiny():
    return slmlab.load_model()


@pytest.fixture(scope="module")
def tasks():
    return D.make_tasks(0)


# ---- distributions and tasks ----------------------------------------------------------------

@pytest.mark.parametrize("bad, match", [({}, "empty"), ({"a": 0.5, "b": 0.4}, "sums to"),
                                        ({"a": 1.5, "b": -0.5}, "negative"), ({"a": float("nan")}, "finite"),
                                        ([0.5, 0.5], "dict")])
def test_bad_distributions_name_the_argument(bad, match):
    with pytest.raises(ValueError, match=match) as err:
        D.check_distribution(bad, "target")
    assert "target" in str(err.value)
    with pytest.raises(ValueError, match="p"):
        S.js_divergence(bad, {"a": 1.0})


def test_splits_share_no_description_and_are_seeded(tasks):
    descs = {s: {t.description for t in ts} for s, ts in tasks.items()}
    assert not (descs["train"] & descs["heldout"]) and not (descs["train"] & descs["dev"])
    assert not (descs["dev"] & descs["heldout"])
    assert {t.family for t in tasks["heldout"]} == set(D.FAMILIES)
    again = D.make_tasks(0)
    assert [t.name for t in again["heldout"]] == [t.name for t in tasks["heldout"]]
    assert [t.target for t in again["heldout"]] == [t.target for t in tasks["heldout"]]
    other = D.make_tasks(1)
    comm = lambda ts: {t.name: t.target for t in ts["train"] + ts["dev"] + ts["heldout"] if t.family == "community"}
    a, b = comm(tasks), comm(other)
    assert any(a[k] != b[k] for k in a)          # another seed: other community preferences
    for t in tasks["train"]:
        assert abs(sum(t.target.values()) - 1) < 1e-9 and t.valid


def test_communities_disagree_on_the_same_question(tasks):
    same_q = [t for t in tasks["train"] if t.family == "community" and t.description.endswith("best season?")]
    assert len(same_q) >= 2
    pairs = [S.js_divergence(a.target, b.target) for i, a in enumerate(same_q) for b in same_q[i + 1:]]
    assert sum(pairs) / len(pairs) > 0.05 and max(pairs) > 0.2


def test_unknown_task_and_bad_arguments(tasks):
    assert D.find_task(tasks, tasks["heldout"][0].name) is tasks["heldout"][0]
    with pytest.raises(ValueError, match="task='nope'"):
        D.find_task(tasks, "nope")
    with pytest.raises(ValueError, match="families"):
        D.make_tasks(0, families=("urn", "poems"))
    with pytest.raises(ValueError, match="n_heldout"):
        D.make_tasks(0, n_heldout=0)
    with pytest.raises(ValueError, match="family"):
        D.Task("x", "poems", "d", {"a": 1.0})


def test_samples_follow_the_target(tasks):
    t = next(t for t in tasks["train"] if t.family == "urn")
    draws = D.sample_answers(t, 4000, seed=0)
    assert D.sample_answers(t, 50, seed=0) == draws[:50]
    assert S.js_divergence(S.empirical_distribution(draws), t.target) < 0.005


# ---- formats and the loss mask --------------------------------------------------------------

def _masked_text(tok, segments):
    ids, mask = S.encode_segments(tok, segments)
    return tok.decode([i for i, m in zip(ids, mask) if m])


def test_spectrum_mask_covers_exactly_outputs_and_their_end(tiny):
    _, tok = tiny
    segs = S.spectrum_segments("A bag has 3 red and 1 blue balls. Draw one.", [(None, "red"), (None, "blue")])
    assert "".join(t for t, _ in segs) == ("Question: A bag has 3 red and 1 blue balls. Draw one.\n"
                                           "Answer: red\nAnswer: blue\n")
    assert _masked_text(tok, segs) == " red\n blue\n"
    # Without a description the first output cannot be predicted: it takes no loss.
    segs = S.spectrum_segments("ignored", [(None, "red"), (None, "blue")], include_description=False)
    assert _masked_text(tok, segs) == " blue\n"
    # Inputs take no loss either.
    segs = S.spectrum_segments("Add one.", [("4", "5"), ("7", "8")])
    assert _masked_text(tok, segs) == " 5\n 8\n"
    ids, mask = S.encode_segments(tok, segs)
    assert tok.decode(ids[1:]) == "".join(t for t, _ in segs)   # the whole text, after <s>


def test_sft_mask_covers_answer_and_eos(tiny):
    _, tok = tiny
    segs = S.sft_segments("Name a fruit.", ["apple"])
    assert _masked_text(tok, segs) == " apple</s>"
    ids, mask = S.encode_segments(tok, segs)
    assert ids[-1] == tok.eos_token_id and mask[-1] and not mask[0]


def test_in_context_prompt_ends_where_an_output_starts(tiny, tasks):
    t = next(t for t in tasks["heldout"] if t.family == "urn")
    p = S.in_context_prompt("spectrum", t, ["red", "blue", "red"], 2)
    assert p == f"Question: {t.description}\nAnswer: red\nAnswer: blue\nAnswer:"
    p = S.in_context_prompt("sft", t, ["red"], 1)
    assert p == f"Question: {t.description}\nAnswer: red</s><s>Question: {t.description}\nAnswer:"
    with pytest.raises(ValueError, match="k=4 is larger than the 3 samples"):
        S.in_context_prompt("spectrum", t, ["a", "b", "c"], 4)
    with pytest.raises(ValueError, match="fmt"):
        S.in_context_prompt("chat", t, [], 0)


def test_packed_blocks_keep_labels_aligned(tiny, tasks):
    _, tok = tiny
    x, y, d, info = S.training_blocks("spectrum", tok, tasks["train"], 3, 256, seed=0)
    assert x.shape == y.shape == d.shape == (3, 256)
    kept = y != S.IGNORE
    assert torch.equal(x[kept], y[kept]) and 0 < kept.sum() < x.numel()
    assert info["loss_tokens"] == int(kept.sum()) and info["real_tokens"] == int((d != -1).sum())
    assert not kept[d == -1].any() and (x[d == -1] == tok.pad_token_id).all()   # padding: no loss
    x2, y2, d2, _ = S.training_blocks("sft", tok, tasks["train"], 3, 256, seed=0)
    assert x2.shape == x.shape and not torch.equal(x, x2)
    with pytest.raises(ValueError, match="block_size"):
        S.pack_episodes([([0] * 10, [False] * 10)], 8, pad_id=2)


def _loss_without_context(tok, x, y, d):
    """Loss tokens whose document, read from its start in the block, has neither the description nor
    an earlier output before them; and documents split over blocks or not starting with <s>."""
    bad, seen = [], set()
    for b in range(x.shape[0]):
        for doc in d[b].unique().tolist():
            if doc == -1:
                continue
            where = (d[b] == doc).nonzero().flatten()
            if doc in seen or x[b, where[0]] != tok.bos_token_id:      # cut over two blocks, or headless
                bad.append((b, doc, "split or not whole"))
            seen.add(doc)
            for pos in where[(y[b, where] != S.IGNORE)].tolist():
                before = tok.decode(x[b, where[0]:pos].tolist())
                # the description, or a finished earlier output ("Answer: ...\n" then this "Answer:")
                if not (before.startswith("<s>Question:") or before.count("Answer:") >= 2):
                    bad.append((b, doc, pos))
    return bad


@pytest.mark.parametrize("fmt", S.FORMATS)
def test_no_output_takes_loss_without_its_description(tiny, tasks, fmt):
    _, tok = tiny
    x, y, d, _ = S.training_blocks(fmt, tok, tasks["train"], 4, 256, seed=0)
    assert _loss_without_context(tok, x, y, d) == []
    # The check has teeth: blocks cut from one stream at a shifted offset (packing that ignores
    # episode boundaries, as before) start mid-episode and are caught.
    n = x.numel()
    shift = int((d.flatten() != -1).nonzero()[5])
    x3, y3, d3 = (t.flatten().roll(-shift - 7)[: n - 256].view(-1, 256) for t in (x, y, d))
    assert _loss_without_context(tok, x3, y3, d3)


def test_attention_never_crosses_an_episode(tiny, tasks):
    """One training step on [A, B] and on [C, B], loss on B only: with attention kept inside each
    document, B's gradient cannot see A or C, so the two steps give the same weights."""
    base, tok = tiny
    t = next(t for t in tasks["train"] if t.family == "community")
    b_ids, b_mask = S.encode_segments(tok, S.spectrum_segments(t.description, [(None, "dog"), (None, "cat")]))
    a_ids = S.encode_segments(tok, S.spectrum_segments(t.description, [(None, "red")] * 3))[0]
    c_ids = [a_ids[0]] + a_ids[1:][::-1]                       # same length, other tokens
    cfg = training.TrainConfig(steps=1, batch_size=1, block_size=len(a_ids) + len(b_ids), lr=1e-2,
                               warmup_steps=0, eval_every=0, progress=False, mixed_precision="no")
    labels = torch.tensor([[S.IGNORE] * len(a_ids) + [i if m else S.IGNORE for i, m in zip(b_ids, b_mask)]])
    docs = torch.tensor([[0] * len(a_ids) + [1] * len(b_ids)])

    def step(first, documents):
        m = copy.deepcopy(base)
        training.pretrain(m, tok, torch.tensor([first + b_ids]), cfg, labels=labels, documents=documents)
        return torch.cat([p.detach().flatten() for p in m.parameters()])

    assert torch.allclose(step(a_ids, docs), step(c_ids, docs), atol=1e-6)
    # Without the documents, B reads A (or C): the same check fails.
    assert not torch.allclose(step(a_ids, None), step(c_ids, None), atol=1e-6)
    # The forward pass the step uses: B after A, masked, equals B alone.
    kw = training.document_inputs(docs)
    assert kw["position_ids"][0, len(a_ids)] == 0
    with torch.no_grad():
        packed = base(input_ids=torch.tensor([a_ids + b_ids]), **kw).logits[0, len(a_ids):]
        alone = base(input_ids=torch.tensor([b_ids])).logits[0]
    assert torch.allclose(packed, alone, atol=1e-4)


def test_masked_training_learns_only_answers(tiny, tasks):
    base, tok = tiny
    cfg = training.TrainConfig(steps=2, batch_size=2, block_size=160, lr=1e-3, warmup_steps=1, eval_every=0,
                               progress=False, mixed_precision="no")
    out = S.train_format(copy.deepcopy(base), tok, "spectrum", tasks["train"], cfg)
    assert all(math.isfinite(h["loss"]) for h in out["history"]) and out["tokens"] == 2 * 2 * 160
    changed = any(not torch.equal(p, q) for p, q in zip(out["model"].parameters(), base.parameters()))
    assert changed
    x = torch.zeros((2, 64), dtype=torch.long)
    cfg64 = training.TrainConfig(steps=2, batch_size=2, block_size=64, warmup_steps=1, progress=False)
    with pytest.raises(ValueError, match="labels"):
        training.pretrain(copy.deepcopy(base), tok, x, cfg64, labels=torch.zeros((2, 32), dtype=torch.long))
    with pytest.raises(ValueError, match="documents"):
        training.pretrain(copy.deepcopy(base), tok, x, cfg64, documents=torch.zeros((2, 32), dtype=torch.long))


def test_paused_run_measures_and_ends_where_an_unpaused_one_does(tiny, tasks):
    base, tok = tiny
    cfg = training.TrainConfig(steps=4, batch_size=1, block_size=160, lr=1e-3, warmup_steps=1, eval_every=0,
                               progress=False, mixed_precision="no")
    plain = S.train_format(copy.deepcopy(base), tok, "sft", tasks["train"], cfg)["model"]
    calls = []
    out = S.train_format(copy.deepcopy(base), tok, "sft", tasks["train"], cfg,
                         measure=lambda m: calls.append(1) or {"n": len(calls)}, measure_at=[0, 2, 4])
    assert [r["step"] for r in out["curve"]] == [0, 2, 4] and [r["tokens"] for r in out["curve"]] == [0, 320, 640]
    for p, q in zip(plain.parameters(), out["model"].parameters()):
        assert torch.allclose(p, q, atol=1e-6)
    with pytest.raises(ValueError, match="measure_at"):
        S.train_format(copy.deepcopy(base), tok, "sft", tasks["train"], cfg, measure_at=[2])


# ---- metrics --------------------------------------------------------------------------------

def test_js_divergence_hand_computed():
    assert S.js_divergence({"a": 1.0}, {"a": 1.0}) == 0.0
    assert S.js_divergence({"a": 1.0}, {"b": 1.0}) == pytest.approx(math.log(2))
    # P = (1/2, 1/2), Q = (1, 0), M = (3/4, 1/4):
    # KL(P||M) = 1/2 ln(2/3) + 1/2 ln 2, KL(Q||M) = ln(4/3).
    want = 0.5 * (0.5 * math.log(2 / 3) + 0.5 * math.log(2) + math.log(4 / 3))
    assert S.js_divergence({"a": 0.5, "b": 0.5}, {"a": 1.0}) == pytest.approx(want)
    assert S.js_divergence({"a": 1.0}, {"a": 0.5, "b": 0.5}) == pytest.approx(want)   # symmetric


def test_coverage_hand_computed():
    got = S.coverage_metrics(["a", "a", "b", "x", " c "], {"a", "b", "c", "d"})
    assert got == {"percent_valid": 0.8, "unique_gens_pct": 0.75, "unique_valid_count": 3,
                   "usable_unique_pct": 0.6, "valid_set_coverage": 0.75}
    assert S.coverage_metrics(["x"], {"a"})["unique_gens_pct"] == 0.0
    with pytest.raises(ValueError, match="generations"):
        S.coverage_metrics([], {"a"})
    with pytest.raises(ValueError, match="valid"):
        S.coverage_metrics(["a"], set())
    with pytest.raises(ValueError, match="answers"):
        S.empirical_distribution([])


def test_renormalise_and_answer_probabilities(tiny, tasks):
    base, tok = tiny
    assert S.renormalise({"a": 0.2, "b": 0.2}) == pytest.approx({"a": 0.5, "b": 0.5})
    with pytest.raises(ValueError, match="probs"):
        S.renormalise({"a": -1.0})
    t = next(t for t in tasks["heldout"] if t.family == "numeric")
    ctx = D.sample_answers(t, 4, seed=0)
    probs = S.answer_probabilities(base, tok, "sft", [(t, ctx, 0), (t, ctx, 4)])
    for p in probs:
        assert set(p) == set(t.valid) and 0 < sum(p.values()) <= 1 + 1e-6
    with pytest.raises(ValueError, match="k=5"):
        S.answer_probabilities(base, tok, "sft", [(t, ctx, 5)])


def test_steerability_and_icl_shapes(tiny, tasks):
    base, tok = tiny
    comm = [t for t in tasks["heldout"] if t.family == "community"][:1]
    st = S.steerability_curve(base, tok, "spectrum", comm, ks=(0, 2), n_contexts=1)
    assert st["ks"] == [0, 2] and len(st["js_divergence"]) == 2
    assert st["steerability"] == pytest.approx(st["js_divergence"][0] - st["js_divergence"][1])
    assert len(st["per_task"]) == 1 and st["per_task"][0] == pytest.approx(st["steerability"])
    icl = S.icl_loss_accuracy(base, tok, "spectrum", comm, n_examples=3)
    assert len(icl["per_index"]["loss"]) == 3 and icl["loss_geq_1"] > 0 and 0 <= icl["all_acc_geq_1"] <= 1
    assert icl["per_task"]["loss_geq_1"] == [pytest.approx(icl["loss_geq_1"])]
    with pytest.raises(ValueError, match="n_examples"):
        S.icl_loss_accuracy(base, tok, "spectrum", comm, n_examples=1)


def test_max_examples_fits_the_window_and_nothing_is_cut(tiny, tasks):
    base, tok = tiny
    comm = [t for t in tasks["heldout"] if t.family == "community"]
    window = base.config.max_position_embeddings
    n = S.max_examples(tok, comm, window)
    assert 2 <= n < S.max_examples(tok, comm, window, fmts=("spectrum",))   # SFT repeats the question
    S.icl_loss_accuracy(base, tok, "sft", comm, n_examples=n)                # fits: scored whole
    with pytest.raises(ValueError, match="window"):
        S.icl_loss_accuracy(base, tok, "sft", comm, n_examples=n + 3)      # would be cut: refused
