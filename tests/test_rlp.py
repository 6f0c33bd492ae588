"""Correctness of RLP (slmlab.rlp): the reward, the advantage, where gradient flows, the EMA,
resume, and a 2-process run against a 1-process one."""
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dataclasses import replace

from slmlab.problems import HARDER, format_document, make_problems
from slmlab.ema import ema_copy, ema_update
from slmlab.models import build_model, tiny_llama_config, train_tokenizer
from slmlab.rlp import (RLPConfig, answer_positions, build_thought_batch, clipped_thought_loss,
                        information_gain_reward, leave_one_out_advantage, rlp_step, sample_thoughts,
                        score_thoughts, thought_format, train_rlp, uniform_positions)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny():
    """A 2-layer, hidden-32 model and the corpus tokenizer, untrained (random but fixed)."""
    docs = [format_document(p) for p in make_problems(300, 0, "train").to_list()]
    tok = train_tokenizer(docs, vocab_size=320)
    model = build_model(tiny_llama_config(tok, hidden_size=32, n_layers=2, n_heads=2), seed=0).eval()
    return model, tok


@pytest.fixture(scope="module")
def problems():
    return make_problems(12, 0, "train")


def _perturbed(model, seed=1):
    other = ema_copy(model)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in other.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    return other


def _direct_logprob(model, tok, prefix: str, target: str) -> float:
    pre = tok(prefix, add_special_tokens=True)["input_ids"]
    tgt = tok(target, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([pre + tgt])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits[0].float(), -1)
    return sum(float(logp[len(pre) + j - 1, t]) for j, t in enumerate(tgt))


def test_reward_equals_two_forward_computation(tiny):
    model, tok = tiny
    ema = _perturbed(model)
    cfg = RLPConfig(mixed_precision="no")
    fmt = thought_format(tok, cfg)
    prompt = "Question: Mia has 7 apples. She buys 5 more. How many apples now?\nAnswer: "
    pos = answer_positions(tok, [{"prompt": prompt, "answer": 12}])
    helpful, unhelpful = "7+5=12.", "7-5=2. 2*3=6."
    thoughts = [tok(t + "</think>", add_special_tokens=False)["input_ids"] for t in (helpful, unhelpful)]
    r = information_gain_reward(model, ema, pos, thoughts, fmt, group_size=2)
    base = _direct_logprob(ema, tok, prompt, "12")
    for g, t in enumerate((helpful, unhelpful)):
        with_thought = _direct_logprob(model, tok, f"{prompt}<think>{t}</think> ", "12")
        assert r[0, g].item() == pytest.approx(with_thought - base, abs=1e-4)
    # a thought cut at the cap (no </think>) is closed by the wrapper, exactly as in the text format
    cut = tok(helpful, add_special_tokens=False)["input_ids"]
    r_cut = information_gain_reward(model, ema, pos, [cut, cut], fmt, group_size=2)
    assert r_cut[0, 0].item() == pytest.approx(r[0, 0].item(), abs=1e-5)
    # reward_tokens=1 scores only the first answer digit
    r1 = information_gain_reward(model, ema, pos, thoughts, fmt, 2, reward_tokens=1)
    one = _direct_logprob(model, tok, f"{prompt}<think>{helpful}</think> ", "1") - _direct_logprob(ema, tok, prompt, "1")
    assert r1[0, 0].item() == pytest.approx(one, abs=1e-4)


def test_leave_one_out_advantage_algebra():
    g = torch.Generator().manual_seed(0)
    r = torch.randn(5, 4, generator=g, dtype=torch.float64)
    a = leave_one_out_advantage(r)
    for b in range(5):
        for i in range(4):
            others = torch.cat([r[b, :i], r[b, i + 1:]])
            assert a[b, i].item() == pytest.approx((r[b, i] - others.mean()).item(), abs=1e-12)
    assert torch.allclose(a.sum(1), torch.zeros(5, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(leave_one_out_advantage(3 * r), 3 * a)  # no std division
    assert torch.allclose(leave_one_out_advantage(r + 7.0), a)    # shift-invariant
    with pytest.raises(ValueError, match="G >= 2"):
        leave_one_out_advantage(r[:, :1])
    valid = torch.tensor([[True, True, False, True], [True, False, False, False]] + [[True] * 4] * 3)
    am = leave_one_out_advantage(r, valid)
    others = torch.stack([r[0, 1], r[0, 3]]).mean()
    assert am[0, 0].item() == pytest.approx((r[0, 0] - others).item(), abs=1e-12)
    assert am[0, 2].item() == 0.0 and torch.all(am[1] == 0)  # invalid, and a group of one
    assert torch.allclose(am[2:], a[2:])


def test_gradient_flows_only_through_thought_tokens(tiny, problems):
    model, tok = tiny
    model = ema_copy(model).requires_grad_(True)
    ema = ema_copy(model)
    cfg = RLPConfig(mixed_precision="no", max_thought_tokens=6, group_size=3)
    fmt = thought_format(tok, cfg)
    pos = answer_positions(tok, problems)[:2]
    thoughts = sample_thoughts(model, pos, fmt, 3, 6, 1.0, seed=0)
    batch = build_thought_batch(pos, thoughts, fmt, 3)
    captured = []

    def keep(_module, _inp, out):
        out.retain_grad()
        captured.append(out)

    handle = model.get_output_embeddings().register_forward_hook(keep)
    s_pred, logp, _ = score_thoughts(model, batch, cfg.temperature)
    handle.remove()
    assert not s_pred.requires_grad  # the reward is a constant
    adv = torch.tensor([1.0, -2.0, 0.5, 3.0, -1.0, 0.25])
    loss, _ = clipped_thought_loss(logp, logp.detach(), adv, batch.thought_mask, 0.2, 0.28)
    loss.backward()
    context_logits, suffix_logits = captured  # contexts run once, their G suffixes on the cache
    assert context_logits.grad is None or not context_logits.grad.any()
    grad = suffix_logits.grad[:, :-1].abs().sum(-1)  # (N, T-1): logits at j predict token j+1
    predicts_thought = batch.thought_mask[:, 1:]
    assert grad[~predicts_thought].max().item() == 0.0  # context, delimiters, target: nothing
    assert (grad[predicts_thought] > 0).all()           # every thought token: something
    assert batch.target_mask.any() and not (batch.target_mask & batch.thought_mask).any()
    assert all(p.grad is None for p in ema.parameters())


def test_ema_update():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    ema = ema_copy(model)
    assert all(not p.requires_grad for p in ema.parameters())
    before = [p.clone() for p in ema.parameters()]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    ema_update(ema, model, 0.9)
    for e, b, m in zip(ema.parameters(), before, model.parameters()):
        assert torch.allclose(e, 0.9 * b + 0.1 * m, atol=1e-6)
    ema_update(ema, model, 0.0)
    assert all(torch.equal(e, m) for e, m in zip(ema.parameters(), model.parameters()))
    with pytest.raises(ValueError, match="decay"):
        ema_update(ema, model, 1.5)


def test_step_reward_matches_reward_function_and_sampling_is_seeded(tiny, problems):
    model, tok = tiny
    model = ema_copy(model).requires_grad_(True)
    ema = _perturbed(model)
    cfg = RLPConfig(mixed_precision="no", max_thought_tokens=6, group_size=3, seed=5)
    fmt = thought_format(tok, cfg)
    pos = answer_positions(tok, problems)[:4]
    th = sample_thoughts(model, pos, fmt, 3, 6, cfg.temperature, cfg.seed, step=0)
    assert th == sample_thoughts(model, pos, fmt, 3, 6, cfg.temperature, cfg.seed, step=0)
    # a position's thoughts do not depend on which other positions share the batch
    assert th[3:6] == sample_thoughts(model, pos[1:2], fmt, 3, 6, cfg.temperature, cfg.seed, 0, [1])
    assert th != sample_thoughts(model, pos, fmt, 3, 6, cfg.temperature, cfg.seed, step=1)
    # the G rows of a position share one prefilled cache; G = 1 prefills inside generate: same thought
    assert th[::3] == sample_thoughts(model, pos, fmt, 1, 6, cfg.temperature, cfg.seed, step=0)
    expected = information_gain_reward(model, ema, pos, th, fmt, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    row = rlp_step(model, ema, opt, pos, cfg, fmt, step=0)
    assert row["reward"] == pytest.approx(expected.mean().item(), abs=1e-5)
    assert row["info_gain_positive_frac"] == pytest.approx((expected > 0).float().mean().item())
    for name in ("reward_std", "frac_reward_zero_std", "entropy", "thought_length", "clip_ratio"):
        assert name in row
    # a 1-token cap: </think> is barred as a first token, so every thought is cut by the cap and,
    # with mask_truncated, none of them may move the model
    short = RLPConfig(mixed_precision="no", max_thought_tokens=1, group_size=3)
    row = rlp_step(model, ema, opt, pos, short, fmt, step=0)
    assert row["truncated_frac"] == 1.0 and row["thought_length"] == 1.0 and row["grad_norm"] == 0.0


def test_micro_batches_give_the_same_update(tiny, problems):
    model, tok = tiny
    pos = answer_positions(tok, problems)[:4]
    after = []
    for micro in (0, 3, 7):  # all at once, one group per pass, two groups per pass
        m = ema_copy(model).requires_grad_(True)
        cfg = RLPConfig(mixed_precision="no", max_thought_tokens=6, group_size=3, micro_batch=micro,
                        mask_truncated=False)  # the untrained model never closes its thoughts
        opt = torch.optim.SGD(m.parameters(), lr=1.0)
        row = rlp_step(m, ema_copy(m), opt, pos, cfg, thought_format(tok, cfg), step=0)
        after.append((row, [p.detach().clone() for p in m.parameters()]))
    for row, params in after[1:]:
        assert row["reward"] == pytest.approx(after[0][0]["reward"], abs=1e-5)
        assert row["grad_norm"] == pytest.approx(after[0][0]["grad_norm"], rel=1e-4)
        for p, q in zip(params, after[0][1]):
            assert torch.allclose(p, q, atol=1e-6)
    assert not torch.equal(after[0][1][0], model.get_input_embeddings().weight)


def test_every_parameter_changes_after_one_step(tiny, problems):
    model, tok = tiny
    model = ema_copy(model).requires_grad_(True)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    cfg = RLPConfig(steps=1, batch_positions=4, group_size=3, max_thought_tokens=6, lr=1e-3,
                    warmup_steps=1, mixed_precision="no", progress=False, mask_truncated=False)
    run = train_rlp(model, tok, answer_positions(tok, problems), cfg)
    unchanged = [n for n, p in run["model"].named_parameters() if torch.equal(p.detach(), before[n])]
    assert not unchanged, f"parameters that did not move: {unchanged}"
    # the EMA moved by exactly (1 - tau) of the way
    for n, p in run["ema_model"].named_parameters():
        want = cfg.ema_decay * before[n] + (1 - cfg.ema_decay) * dict(run["model"].named_parameters())[n]
        assert torch.allclose(p, want, atol=1e-6)


def test_exact_resume_from_checkpoint(tiny, problems, tmp_path):
    model, tok = tiny
    pos = answer_positions(tok, problems)
    cfg = RLPConfig(steps=4, batch_positions=4, group_size=3, max_thought_tokens=6, lr=1e-2, warmup_steps=2,
                    mixed_precision="no", progress=False, checkpoint_every=2, mask_truncated=False)
    full = train_rlp(ema_copy(model).requires_grad_(True), tok, pos, cfg, out_dir=tmp_path / "a")
    train_rlp(ema_copy(model).requires_grad_(True), tok, pos, cfg, out_dir=tmp_path / "b", stop_after=2)
    assert (tmp_path / "b" / "checkpoint-2").is_dir() and not (tmp_path / "b" / "checkpoint-4").exists()
    resumed = train_rlp(ema_copy(model).requires_grad_(True), tok, pos, cfg, out_dir=tmp_path / "b")
    for (n, p), q in zip(full["model"].named_parameters(), resumed["model"].parameters()):
        assert torch.equal(p, q), n
    for p, q in zip(full["ema_model"].parameters(), resumed["ema_model"].parameters()):
        assert torch.equal(p, q)
    strip = lambda h: [{k: v for k, v in r.items() if not k.endswith("_s")} for r in h]
    assert strip(full["history"]) == strip(resumed["history"])
    with pytest.raises(ValueError, match="other settings"):
        train_rlp(ema_copy(model).requires_grad_(True), tok, pos, RLPConfig(**{**cfg.__dict__, "lr": 1.0}),
                  out_dir=tmp_path / "b")


def test_resume_after_a_damaged_newest_checkpoint_continues_from_the_previous(tiny, problems, tmp_path):
    model, tok = tiny
    pos = answer_positions(tok, problems)
    cfg = RLPConfig(steps=3, batch_positions=4, group_size=3, max_thought_tokens=6, lr=1e-2, warmup_steps=1,
                    mixed_precision="no", progress=False, checkpoint_every=1, mask_truncated=False)
    full = train_rlp(ema_copy(model).requires_grad_(True), tok, pos, cfg)
    train_rlp(ema_copy(model).requires_grad_(True), tok, pos, cfg, out_dir=tmp_path, stop_after=2)
    ema_file = tmp_path / "checkpoint-2" / "ema.safetensors"
    ema_file.write_bytes(ema_file.read_bytes()[:-8])  # truncated: the newest checkpoint is damaged
    with pytest.warns(UserWarning, match=r"checkpoint-2.*ema\.safetensors.*previous checkpoint"):
        resumed = train_rlp(ema_copy(model).requires_grad_(True), tok, pos, cfg, out_dir=tmp_path)
    assert [r["step"] for r in resumed["history"]] == [1, 2, 3]  # step 1 from checkpoint-1, then 2 and 3 again
    for (n, p), q in zip(full["model"].named_parameters(), resumed["model"].parameters()):
        assert torch.equal(p, q), n
    for p, q in zip(full["ema_model"].parameters(), resumed["ema_model"].parameters()):
        assert torch.equal(p, q)


def test_uniform_positions_and_plain_text_delimiters(tiny):
    model, tok = tiny
    docs = [format_document(p, with_steps=False) for p in make_problems(5, 1, "train").to_list()]
    pos = uniform_positions(tok, docs, n=6, seed=0, target_tokens=2, min_context=4)
    assert len(pos) == 6 and all(len(p["target_ids"]) == 2 and len(p["context_ids"]) >= 4 for p in pos)
    full = tok(docs, add_special_tokens=True)["input_ids"]
    assert all(any(d[:len(p["context_ids"]) + 2] == p["context_ids"] + p["target_ids"] for d in full) for p in pos)
    assert pos == uniform_positions(tok, docs, n=6, seed=0, target_tokens=2, min_context=4)
    # a tokenizer without thought tokens: multi-token plain-text delimiters work the same way
    cfg = RLPConfig(think_open="(thinking:", think_close=")", mixed_precision="no")
    fmt = thought_format(tok, cfg)
    assert len(fmt.open_ids) > 1
    th = sample_thoughts(model, pos[:2], fmt, 2, 5, 1.0, seed=0)
    r = information_gain_reward(model, model, pos[:2], th, fmt, 2)
    assert r.shape == (2, 2) and torch.isfinite(r).all()


def test_bad_config_raises():
    with pytest.raises(ValueError, match="group_size"):
        RLPConfig(group_size=1)
    with pytest.raises(ValueError, match="reward_tokens"):
        RLPConfig(reward_tokens=0)
    with pytest.raises(ValueError, match="temperature"):
        RLPConfig(temperature=0)
    with pytest.raises(ValueError, match="grad_clip=-1.0 .*flip every gradient"):
        RLPConfig(grad_clip=-1.0)
    with pytest.raises(ValueError, match="keep_checkpoints=0"):
        RLPConfig(keep_checkpoints=0)


@pytest.fixture(scope="module")
def one_and_two_processes(tiny, tmp_path_factory):
    """A short RLP run of each step path under one process and under two (one torchrun launch each)."""
    model, tok = tiny
    tmp_path = tmp_path_factory.mktemp("ddp")
    model.save_pretrained(tmp_path / "model")
    tok.save_pretrained(tmp_path / "model")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    worker = str(ROOT / "tests" / "rlp_ddp_worker.py")
    for n in (1, 2):
        subprocess.run(torchrun + [f"--nproc_per_node={n}", worker, str(tmp_path / "model"), str(tmp_path / f"w{n}"),
                                   "dense,sparse"],
                       check=True, env=env, cwd=ROOT, timeout=300, capture_output=True)
    return tmp_path


@pytest.mark.slow
@pytest.mark.parametrize("step_path", ["dense", "sparse"])
def test_two_processes_equal_one_process(tiny, one_and_two_processes, step_path):
    model, _ = tiny
    one, two = (torch.load(one_and_two_processes / f"w{n}-{step_path}.pt", weights_only=True) for n in (1, 2))
    start = model.state_dict()
    assert any(not torch.equal(one["state"][k], start[k]) for k in start)  # it trained
    for k in one["state"]:
        update_one, update_two = one["state"][k] - start[k], two["state"][k] - start[k]
        assert torch.allclose(update_one, update_two, atol=1e-6, rtol=1e-4), k
        assert torch.allclose(one["ema"][k], two["ema"][k], atol=1e-6), k
    assert [r["thought_length"] for r in one["history"]] == [r["thought_length"] for r in two["history"]]
    for name in ("reward", "grad_norm"):  # sums of float32 log-probs of size ~10: 1e-6 is rounding
        assert [r[name] for r in one["history"]] == pytest.approx([r[name] for r in two["history"]], abs=1e-5)


# ---------------------------------------------------------------- the learning rule, against naive code
# These three tests recompute, one thought at a time with unpadded forward passes, what rlp_step
# does in batches. Each was checked to fail when the loss sign is flipped, when baselines are
# paired with the wrong positions, or when raw rewards replace the advantages (see issue 10).

@pytest.fixture(scope="module")
def trained():
    """The embedded model: it closes its thoughts itself, at lengths that differ (real padding)."""
    from slmlab.models import load_model
    model, tok = load_model()
    return model.eval(), tok


def _next_token_logprobs(model, ids, start, temperature=1.0):
    """[log p(ids[j] | ids[:j]) for j >= start], one unpadded forward pass."""
    logits = model(input_ids=torch.tensor([ids])).logits[0].float() / temperature
    logp = torch.log_softmax(logits, -1)
    return torch.stack([logp[j - 1, ids[j]] for j in range(start, len(ids))])


def _naive(model, ema, positions, thoughts, fmt, G, temperature):
    """Per thought: reward, closed?, and the thought's mean policy log-prob (with gradient)."""
    rewards, closed, mean_logp = [], [], []
    k = len(fmt.close_ids)
    for i, th in enumerate(thoughts):
        p = positions[i // G]
        ctx, tgt = list(p["context_ids"]), list(p["target_ids"])
        shut = len(th) >= k and tuple(th[-k:]) == fmt.close_ids
        prefix = ctx + list(fmt.open_ids) + list(th) + ([] if shut else list(fmt.close_ids)) + list(fmt.sep_ids)
        with torch.no_grad():
            s_pred = _next_token_logprobs(model, prefix + tgt, len(prefix)).sum()
            s_ema = _next_token_logprobs(ema, ctx + tgt, len(ctx)).sum()
        rewards.append(float(s_pred - s_ema))
        closed.append(shut)
        a = len(ctx) + len(fmt.open_ids)
        mean_logp.append(_next_token_logprobs(model, ctx + list(fmt.open_ids) + list(th), a, temperature).mean())
    return torch.tensor(rewards).view(-1, G), torch.tensor(closed).view(-1, G), torch.stack(mean_logp)


def _naive_advantage(rewards, valid):
    """A_i = r_i − mean of the other valid r_j in i's group; 0 for invalid thoughts and lone ones."""
    adv = torch.zeros_like(rewards)
    for b in range(rewards.shape[0]):
        for i in range(rewards.shape[1]):
            others = [rewards[b, j] for j in range(rewards.shape[1]) if j != i and valid[b, j]]
            if valid[b, i] and others:
                adv[b, i] = rewards[b, i] - torch.stack(others).mean()
    return adv


def _setup(trained, seed=0):
    model, tok = trained
    policy = ema_copy(model).requires_grad_(True)
    ema = ema_copy(model)
    with torch.no_grad():  # a baseline with negated logits, worse than any thought: every reward > 0
        ema.model.norm.weight.neg_()
    # positions of different lengths: contexts and answers both padded in the batch
    problems = make_problems(8, 1, "eval", replace(HARDER, min_steps=3, max_steps=4))  # not all solved
    pos = answer_positions(tok, problems)
    assert len({len(p["context_ids"]) for p in pos}) > 1 and len({len(p["target_ids"]) for p in pos}) > 1
    cfg = RLPConfig(mixed_precision="no", group_size=4, max_thought_tokens=24, micro_batch=8, grad_clip=0.0,
                    temperature=1.5, seed=seed)  # micro_batch 8: two positions per pass, four passes
    return policy, ema, pos, cfg, thought_format(tok, cfg)


def _step(policy, ema, pos, cfg, fmt, lr):
    """One rlp_step with plain SGD; returns its details and the EMA as it was during the step."""
    details, ema_then = {}, ema_copy(ema)  # the step moves the EMA afterwards
    rlp_step(policy, ema, torch.optim.SGD(policy.parameters(), lr=lr), pos, cfg, fmt, step=0, details=details)
    return details, ema_then


@pytest.fixture(params=["dense", "sparse"])
def path(request, monkeypatch):
    """Each learning-rule test runs both steps: dense (every thought back-propagated in the pass that
    gives the rewards) and sparse (rewards from the distinct thoughts, then the update on those whose
    advantage can be non-zero, each once, weighted by its copies)."""
    from slmlab import rlp
    monkeypatch.setattr(rlp, "_SPARSE_MAX_COST", 0.0 if request.param == "dense" else math.inf)
    return request.param


def test_padded_batch_rewards_and_advantages_equal_naive_per_thought(trained, path):
    policy, ema, pos, cfg, fmt = _setup(trained)
    details, ema = _step(policy, ema, pos, cfg, fmt, lr=0.0)
    rewards, closed, _ = _naive(policy, ema, pos, details["thoughts"], fmt, cfg.group_size, cfg.temperature)
    lengths = {len(t) for t in details["thoughts"]}
    assert len(lengths) > 2 and closed.any() and not closed.all()  # real padding, and both kinds of thought
    assert details["rewards"].shape == (len(pos), cfg.group_size)
    assert torch.allclose(details["rewards"], rewards, atol=2e-4), (details["rewards"] - rewards).abs().max()
    advantages = _naive_advantage(rewards, closed)
    assert torch.allclose(details["advantages"], advantages, atol=3e-4), (details["advantages"] - advantages).abs().max()


def test_one_sgd_step_raises_the_best_thought_and_lowers_the_worst(trained, path):
    policy, ema, pos, cfg, fmt = _setup(trained)
    before = ema_copy(policy)
    details, ema = _step(policy, ema, pos, cfg, fmt, lr=0.05)
    thoughts = details["thoughts"]
    rewards, closed, logp_before = _naive(before, ema, pos, thoughts, fmt, cfg.group_size, cfg.temperature)
    # every reward is positive, so an update by raw rewards would push every thought up
    assert (rewards > 0).all()
    adv = _naive_advantage(rewards, closed).reshape(-1)
    valid = closed.reshape(-1)
    best = int(torch.where(valid, adv, -math.inf).argmax())
    worst = int(torch.where(valid, adv, math.inf).argmin())
    assert adv[best] > 0 > adv[worst]
    with torch.no_grad():
        _, _, logp_after = _naive(policy, ema, pos, thoughts, fmt, cfg.group_size, cfg.temperature)
    assert logp_after[best] > logp_before[best] + 1e-4
    assert logp_after[worst] < logp_before[worst] - 1e-4


def test_update_equals_gradient_of_the_naive_loss(trained, path):
    """With SGD and one PPO epoch the ratio is 1, so the step is −lr·∇ of
    L = −(1/N) Σ_i A_i · mean_t log π(c_i,t), summed one thought at a time."""
    policy, ema, pos, cfg, fmt = _setup(trained)
    lr = 0.1
    naive = ema_copy(policy).requires_grad_(True)
    details, ema = _step(policy, ema, pos, cfg, fmt, lr=lr)
    rewards, closed, mean_logp = _naive(naive, ema, pos, details["thoughts"], fmt, cfg.group_size, cfg.temperature)
    adv = _naive_advantage(rewards, closed).reshape(-1)
    loss = -(adv * mean_logp).sum() / len(adv)
    loss.backward()
    moved = 0
    for (name, p), q in zip(naive.named_parameters(), policy.parameters()):
        want = p.detach() - lr * p.grad
        assert torch.allclose(q.detach(), want, atol=2e-6, rtol=1e-4), name
        moved += int(not torch.equal(q.detach(), p.detach()))
    assert moved > 0


def test_a_group_of_equal_thoughts_does_not_move_the_model(trained, monkeypatch):
    """Equal thoughts on one context get equal rewards, so their advantages are 0 and so is their
    gradient. The sparse step makes them exactly 0 and leaves the weights as they were; the dense
    step, on these positions, computes r − mean(r) over 3-7 valid thoughts and is left with ~1e-7 of
    rounding, which moves the weights at this learning rate (and which Adam would scale up)."""
    from slmlab import rlp
    from slmlab.problems import ProblemConfig
    model, tok = trained
    problems = make_problems(16, 0, "train", ProblemConfig(min_steps=3, max_steps=4))  # in its ranges: sure of itself
    pos = answer_positions(tok, problems)[8:]
    cfg = RLPConfig(mixed_precision="no", group_size=8, max_thought_tokens=32, temperature=0.7, micro_batch=0,
                    grad_clip=0.0)
    fmt = thought_format(tok, cfg)
    moved, adv = {}, {}
    for name, cost in (("sparse", math.inf), ("dense", 0.0)):
        monkeypatch.setattr(rlp, "_SPARSE_MAX_COST", cost)
        policy, before = ema_copy(model).requires_grad_(True), ema_copy(model)
        details = {}
        rlp_step(policy, ema_copy(model), torch.optim.SGD(policy.parameters(), lr=1e3), pos, cfg, fmt, step=1,
                 details=details)
        th = details["thoughts"]
        assert all(len({tuple(t) for t in th[i:i + 8]}) == 1 for i in range(0, len(th), 8))  # all groups equal
        adv[name] = details["advantages"]
        moved[name] = max(float((p.detach() - q).abs().max()) for p, q in zip(policy.parameters(), before.parameters()))
    assert (adv["sparse"] == 0).all() and moved["sparse"] == 0.0
    assert (adv["dense"] != 0).any() and adv["dense"].abs().max() < 1e-5 and moved["dense"] > 0


def test_sparse_plan_marks_the_rows_that_can_move(trained):
    """A row can move when it is valid and its group holds two valid thoughts that differ."""
    from slmlab import rlp
    _, tok = trained
    fmt = thought_format(tok, RLPConfig())
    c = fmt.close_ids[0]
    pos = [{"context_ids": [0, 40, 41], "target_ids": [50]}, {"context_ids": [0, 42], "target_ids": [51]},
           {"context_ids": [0, 43], "target_ids": [52]}]
    th = [[60, c], [60, c], [61, c], [62, 63],  # differ among the valid: the three closed ones move
          [60, c], [60, c], [60, c], [61, 62],  # the valid ones are equal: none moves
          [70, 71], [70, 72], [60, c], [61, 62]]  # one valid thought: none moves
    batch = build_thought_batch(pos, th, fmt, 4)
    valid = ~batch.truncated.view(-1, 4)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rlp, "_SPARSE_MAX_COST", math.inf)
        distinct, inverse, counts, can_move = rlp._sparse_plan(batch, valid, 4)
        assert can_move.tolist() == [True, True, True, False] + [False] * 8
        assert counts.tolist() == [2, 1, 1, 3, 1, 1, 1, 1, 1] and len(distinct) == 9
        # without the truncation mask every group has two different thoughts
        assert rlp._sparse_plan(batch, None, 4)[3].all()
        mp.setattr(rlp, "_SPARSE_MAX_COST", 0.0)
        assert rlp._sparse_plan(batch, valid, 4) is None  # not cheaper: the dense step


def test_sparse_step_equals_the_dense_step(trained, monkeypatch):
    """The same step both ways, with AdamW, two PPO epochs and micro-batches: same thoughts, rewards,
    advantages (within rounding), metrics and weights; and the sparse one counts fewer FLOPs. (Copies
    of one thought share a position, so they sit in one group, one micro-batch.)"""
    from slmlab import rlp
    runs = {}
    for name, cost in (("sparse", math.inf), ("dense", 0.0)):
        monkeypatch.setattr(rlp, "_SPARSE_MAX_COST", cost)
        policy, ema, pos, cfg, fmt = _setup(trained)
        cfg = replace(cfg, ppo_epochs=2, temperature=1.1)  # some moving thoughts have copies here
        details = {}
        opt = torch.optim.AdamW(policy.parameters(), lr=1e-3, eps=1e-3)  # eps: rounding noise stays small
        row = rlp_step(policy, ema, opt, pos, cfg, fmt, step=0, details=details)
        runs[name] = (details, row, [p.detach().clone() for p in policy.parameters()])
    (sd, srow, sp), (dd, drow, dp) = runs["sparse"], runs["dense"]
    assert sd["thoughts"] == dd["thoughts"]
    assert torch.allclose(sd["rewards"], dd["rewards"], atol=1e-5)
    assert torch.allclose(sd["advantages"], dd["advantages"], atol=1e-5)
    assert (sd["advantages"] == 0).any() and (sd["advantages"] != 0).any()
    movers = [tuple(t) for t, a in zip(sd["thoughts"], sd["advantages"].reshape(-1)) if a != 0]
    assert len(set(movers)) < len(movers)  # a distinct thought stands for copies: its weight matters
    for key in ("reward", "entropy", "clip_ratio", "loss", "grad_norm", "truncated_frac"):
        assert srow[key] == pytest.approx(drow[key], rel=1e-4, abs=1e-6), key
    assert drow["clip_ratio"] > 0  # the second epoch's ratio leaves the clip range somewhere
    for p, q in zip(sp, dp):
        assert torch.allclose(p, q, atol=1e-6)
    assert srow["flops"] < drow["flops"]


def test_selected_rows_score_as_in_the_whole_batch(trained):
    """score_thoughts on any subset of rows, in any order and with repeats, gives those rows' values."""
    from slmlab.thoughts import distinct_rows, select_rows
    model, tok = trained
    fmt = thought_format(tok, RLPConfig())
    pos = answer_positions(tok, make_problems(3, 2, "eval", replace(HARDER, min_steps=3, max_steps=4)))
    th = sample_thoughts(model, pos, fmt, 4, 20, 1.5, 0)
    th[1] = th[0]  # a copy: one distinct row for two
    batch = build_thought_batch(pos, th, fmt, 4)
    with torch.no_grad():
        s_all, logp_all, _ = score_thoughts(model, batch, 1.5)
        rows = torch.tensor([11, 0, 5, 5, 8])
        s_sub, logp_sub, _ = score_thoughts(model, select_rows(batch, rows), 1.5)
    assert torch.allclose(s_sub, s_all[rows], atol=1e-5)
    width = logp_sub.shape[1]
    assert torch.allclose(logp_sub, logp_all[rows, :width], atol=1e-5) and not logp_all[rows, width:].any()
    first, inverse = distinct_rows(batch)
    assert len(first) < len(th) and inverse[1] == inverse[0]
    assert all(th[int(first[inverse[i]])] == th[i] for i in range(len(th)))


# ---------------------------------------------------------------- the fast path against the plain one
# sample_thoughts decodes with shared-prefix attention (the context's keys read once by its G rows)
# in a loop of its own that drops finished positions; the plain path repeats the context's cache G
# times and calls generate. Same seed: the same thoughts, token for token, and the same step.

def test_shared_prefix_decoding_gives_the_thoughts_of_generate(tiny, problems, trained):
    model, tok = tiny
    pos = answer_positions(tok, problems)
    for cfg in (RLPConfig(), RLPConfig(think_open="<t>", think_close="</t>")):  # one- and four-token close
        fmt = thought_format(tok, cfg)
        for G, cap, temperature in ((3, 6, 0.7), (1, 6, 0.7), (4, 24, 1.5)):
            plain = sample_thoughts(model, pos, fmt, G, cap, temperature, 5, 0, shared=False)
            assert sample_thoughts(model, pos, fmt, G, cap, temperature, 5, 0, shared=True) == plain
    model, tok = trained  # closes its thoughts at different lengths: positions leave the batch early
    fmt = thought_format(tok, RLPConfig())
    pos = answer_positions(tok, make_problems(8, 1, "eval", replace(HARDER, min_steps=3, max_steps=4)))
    for amp in (None, torch.bfloat16):
        plain = sample_thoughts(model, pos, fmt, 4, 48, 0.7, 3, 1, amp=amp, shared=False)
        assert len({len(t) for t in plain}) > 3 and any(len(t) < 48 for t in plain)
        assert sample_thoughts(model, pos, fmt, 4, 48, 0.7, 3, 1, amp=amp, shared=True) == plain


def test_fast_step_equals_the_plain_step(trained, monkeypatch):
    """One rlp_step by each path from the same weights: same thoughts, rewards and advantages within
    float rounding (1e-5), same update within 1e-6."""
    from slmlab import thoughts
    runs = []
    for shared in (True, False):
        if not shared:
            monkeypatch.setattr(thoughts, "supports_shared_prefix", lambda model: False)
        policy, ema, pos, cfg, fmt = _setup(trained)
        details, _ = _step(policy, ema, pos, cfg, fmt, lr=0.05)
        runs.append((details, [p.detach().clone() for p in policy.parameters()]))
    (fast, fast_params), (plain, plain_params) = runs
    assert fast["thoughts"] == plain["thoughts"]
    assert torch.allclose(fast["rewards"], plain["rewards"], atol=1e-5)
    assert torch.allclose(fast["advantages"], plain["advantages"], atol=1e-5)
    for p, q in zip(fast_params, plain_params):
        assert torch.allclose(p, q, atol=1e-6)


@pytest.mark.parametrize("arch", ["gpt2", "qwen2"])
def test_shared_prefix_decoding_on_other_architectures(arch):
    """GPT-2 (learned positions) and Qwen2 (grouped-query attention) decode the same thoughts both ways."""
    from transformers import GPT2Config, GPT2LMHeadModel, Qwen2Config, Qwen2ForCausalLM
    from slmlab.thoughts import ThoughtFormat
    torch.manual_seed(0)
    model = (GPT2LMHeadModel(GPT2Config(vocab_size=64, n_positions=128, n_embd=32, n_layer=2, n_head=2,
                                        bos_token_id=0, eos_token_id=0)) if arch == "gpt2" else
             Qwen2ForCausalLM(Qwen2Config(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                          num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)))
    fmt = ThoughtFormat(open_ids=(5,), close_ids=(6,), sep_ids=(7,), pad_id=0, banned_ids=(0, 5))
    g = torch.Generator().manual_seed(1)
    pos = [{"context_ids": torch.randint(8, 64, (n,), generator=g).tolist(), "target_ids": [9]} for n in (5, 9, 12)]
    plain = sample_thoughts(model.eval(), pos, fmt, 4, 12, 1.5, 0, shared=False)
    assert sample_thoughts(model, pos, fmt, 4, 12, 1.5, 0, shared=True) == plain


# ---------------------------------------------------------------- FLOPs of the work actually done
@pytest.mark.parametrize("micro", [0, 8])
def test_generation_flops_count_only_the_rows_still_decoding(trained, path, micro):
    """The decoder drops a position once its G thoughts are closed, so generation runs G rows per
    position for as many steps as that position's longest thought: Σ_b G·max_g len, less than N rows
    to the longest thought of all (here one position finishes early). Counting finished rows, or the
    contexts twice (once for sampling, once for scoring), fails here. The dense step's whole count is
    checked against its passes: the contexts, decoding, the EMA pass, one forward and one backward."""
    from slmlab.rlp import step_flops
    from slmlab.thoughts import _left_padded_contexts
    model, tok = trained
    policy, ema, pos, cfg, fmt = _setup(trained)
    cfg = replace(cfg, micro_batch=micro, temperature=0.7, max_thought_tokens=48)  # lengths differ by position
    details = {}
    row = rlp_step(policy, ema, torch.optim.SGD(policy.parameters(), lr=0.0), pos, cfg, fmt, step=0, details=details)
    G, th = cfg.group_size, details["thoughts"]
    decoded = sum(G * max(len(t) for t in th[b * G:(b + 1) * G]) for b in range(len(pos)))
    assert decoded < len(th) * max(map(len, th))  # some position finished before the longest thought
    contexts = len(pos) * max(len(p["context_ids"]) for p in pos)
    assert row["gen_tokens"] == contexts + decoded
    if path == "dense":
        ema_pass = len(pos) * max(len(p["context_ids"]) + len(p["target_ids"]) for p in pos)
        per = micro // G or len(pos)
        scored = [build_thought_batch(pos[a:a + per], th[a * G:(a + per) * G], fmt, G) for a in range(0, len(pos), per)]
        padded = sum(b.padded_tokens for b in scored)
        shared = contexts if micro == 0 else 0  # one pass of the contexts serves sampling and scoring
        n_params = sum(p.numel() for p in {id(p): p for p in policy.parameters()}.values())
        assert row["flops"] == step_flops(n_params, row["gen_tokens"] + ema_pass + padded - shared, padded)
    # the sampler's own count, both decoders: the plain one runs every row to the longest thought
    for shared_path, want in ((True, decoded), (False, len(th) * max(map(len, th)))):
        work = {}
        assert sample_thoughts(model, pos, fmt, G, cfg.max_thought_tokens, cfg.temperature, cfg.seed, 0,
                               work=work, shared=shared_path) == th
        assert work == {"prefill": contexts, "decode": want}


# ---------------------------------------------------------------- where RLP acts: the decision to think, diversity
def test_think_accuracy_scores_the_free_and_the_forced_answer(trained):
    """Forced-think accuracy equals decoding every problem after a forced <think>; think_rate is the share
    of free greedy answers that open one (some problems here answer directly, so both paths run)."""
    from slmlab.evaluation import answer_accuracy
    from slmlab.rlp import think_accuracy
    model, tok = trained
    problems = make_problems(24, 3, "eval", replace(HARDER, min_steps=1, max_steps=2))
    think = tok.convert_tokens_to_ids("<think>")

    def shy(module, inputs, logits):  # the model opens <think> less often: some answers go direct
        logits[..., think] -= 2.0
        return logits

    handle = model.lm_head.register_forward_hook(shy)
    try:
        out = think_accuracy(model, tok, problems, max_new_tokens=48)
        free = answer_accuracy(model, tok, problems, max_new_tokens=48)
        forced = answer_accuracy(model, tok, [{**r, "prompt": r["prompt"] + "<think>"} for r in problems.to_list()],
                                 max_new_tokens=48)
    finally:
        handle.remove()
    assert out["accuracy"] == [float(c) for c in free["correct"]]
    assert out["accuracy_forced_think"] == [float(c) for c in forced["correct"]]
    assert out["think_rate"] == [float(c.startswith("<think>")) for c in free["completions"]]
    assert 0 < sum(out["think_rate"]) < len(problems)  # both kinds of answer occur
    assert out["accuracy_forced_think"] != out["accuracy"]  # forcing the thought changes some answers


def test_thought_diversity_measures_samples_after_a_forced_think(trained):
    from slmlab.rlp import thought_diversity
    model, tok = trained
    problems = make_problems(4, 5, "eval", replace(HARDER, min_steps=3, max_steps=4))
    cold = thought_diversity(model, tok, problems, k=4, temperature=1e-3, seed=0)
    hot = thought_diversity(model, tok, problems, k=4, temperature=2.0, seed=0)
    assert cold["answer_entropy"] == 0.0 and all(len(v) == 4 for v in cold["per_problem"].values())
    assert hot["distinct_n"] > cold["distinct_n"] and hot["answer_entropy"] > 0
    assert 0 <= hot["valid_share"] <= 1 and 0 <= hot["correct_share"] <= 1
    with pytest.raises(ValueError, match="k=1"):
        thought_diversity(model, tok, problems, k=1)
