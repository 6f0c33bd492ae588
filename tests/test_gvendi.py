import math

import numpy as np
import pytest
import torch

from slmlab import gvendi, models
from slmlab.problems import ProblemConfig, make_problems

PROMPTS = ["Question: Mia has 3 apples. She buys 2 more apples. How many apples now?\nAnswer: ",
           "Question: Leo has 12 cards.\nAnswer: ",
           "Question: Ava has 40 coins. She gives 5 coins away. Then she uses 7 coins. How many coins now?\nAnswer: ",
           "Question: Tom has 6 cups.\nAnswer: ",
           "Question: Zoe has 9 beads. She multiplies the beads by 3. How many beads now?\nAnswer: "]
SOLUTIONS = ["<think>3+2=5.</think> 5", "12", "<think>40-5=35. 35-7=28.</think> 28", "6",
             "<think>9*3=27.</think> 27"]


@pytest.fixture(scope="module")
def tiny():
    _, tok = models.load_model()
    cfg = models.tiny_llama_config(tok, hidden_size=32, n_layers=2, n_heads=2)
    model = models.build_model(cfg, seed=3).eval()
    return model, tok


def _loop_features(model, tok, params, dim, seed):
    """Reference: one plain ``loss.backward()`` per example, HF's own shifted mean loss over the
    solution tokens, the full gradient flattened, then the dense projection."""
    rows = []
    for p, s in zip(PROMPTS, SOLUTIONS):
        pre = tok(p, add_special_tokens=True)["input_ids"]
        sol = tok(s, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([pre + sol])
        labels = torch.tensor([[-100] * len(pre) + sol])
        model.zero_grad(set_to_none=True)
        model(input_ids=ids, labels=labels).loss.backward()
        named = dict(model.named_parameters())
        rows.append(torch.cat([named[n].grad.reshape(-1) for n in params]))
    G = torch.stack(rows)
    P = G @ gvendi.rademacher_matrix(seed, G.shape[1], dim) / math.sqrt(dim)
    return (P / P.norm(dim=1, keepdim=True)).numpy()


def test_features_match_a_plain_backward_loop(tiny):
    model, tok = tiny
    params = gvendi.default_parameters(model)
    assert params == ["model.layers.1.mlp.down_proj.weight"]
    ours = gvendi.gradient_features(model, tok, PROMPTS, SOLUTIONS, dim=64, seed=5, batch_size=2,
                                    project_batch=3, progress=False)
    ref = _loop_features(model, tok, params, 64, 5)
    assert ours.shape == (5, 64)
    np.testing.assert_allclose(ours, ref, atol=2e-5)
    # another subset (attention + norm) through the same path
    other = ["model.layers.0.self_attn.v_proj.weight", "model.norm.weight"]
    ours2 = gvendi.gradient_features(model, tok, PROMPTS, SOLUTIONS, params=other, dim=32, seed=1,
                                     batch_size=3, progress=False)
    np.testing.assert_allclose(ours2, _loop_features(model, tok, other, 32, 1), atol=2e-5)


def test_blockwise_projection_equals_dense():
    g = torch.randn(4, 5000, generator=torch.Generator().manual_seed(0))
    dense = g @ gvendi.rademacher_matrix(7, 5000, 48) / math.sqrt(48)
    for block in (1, 777, 2048, 4999, 10_000):   # blocks that cut across the generator's row groups
        # equal up to float32 summation order (the blocks are added one after another)
        torch.testing.assert_close(gvendi.project(g, 48, seed=7, block_rows=block), dense, rtol=1e-5, atol=2e-4)
    R = gvendi.rademacher_matrix(7, 5000, 48)
    cuts = [0, 1, 700, 2047, 2048, 2049, 4100, 5000]
    assert torch.equal(torch.cat([gvendi.rademacher_rows(7, a, b, 48) for a, b in zip(cuts, cuts[1:])]), R)
    assert set(R.unique().tolist()) == {-1.0, 1.0} and abs(float(R.mean())) < 0.02
    assert not torch.equal(R, gvendi.rademacher_matrix(8, 5000, 48))
    assert not torch.equal(R[:2048], R[2048:4096])   # each row group draws its own rows
    # Johnson-Lindenstrauss: inner products survive the projection approximately
    big = gvendi.project(g, 2048, seed=0)
    cos = lambda a, b: float(a @ b / a.norm() / b.norm())
    assert abs(cos(big[0], big[0] + big[1]) - cos(g[0], g[0] + g[1])) < 0.05


def test_cache_is_reused_and_keyed(tiny, tmp_path, monkeypatch):
    model, tok = tiny
    first = gvendi.gradient_features(model, tok, PROMPTS, SOLUTIONS, dim=16, cache_dir=tmp_path, progress=False)
    assert len(list(tmp_path.glob("gvendi-*.safetensors"))) == 1

    def boom(*a, **k):
        raise AssertionError("recomputed despite the cache")
    monkeypatch.setattr(gvendi, "per_example_gradients", boom)
    again = gvendi.gradient_features(model, tok, PROMPTS, SOLUTIONS, dim=16, cache_dir=tmp_path, progress=False)
    np.testing.assert_array_equal(first, again)
    with pytest.raises(AssertionError, match="recomputed"):   # another seed is another key
        gvendi.gradient_features(model, tok, PROMPTS, SOLUTIONS, dim=16, seed=1, cache_dir=tmp_path, progress=False)


def test_g_vendi_counts_learning_directions(tiny):
    model, tok = tiny
    same = gvendi.gradient_features(model, tok, [PROMPTS[0]] * 4, [SOLUTIONS[0]] * 4, dim=32, progress=False)
    assert gvendi.g_vendi(same) == pytest.approx(1.0, abs=1e-4)
    mixed = gvendi.gradient_features(model, tok, PROMPTS, SOLUTIONS, dim=32, progress=False)
    assert 1.0 < gvendi.g_vendi(mixed) <= 5.0


def test_embedded_model_runs_on_generated_problems():
    model, tok = models.load_model()
    ds = make_problems(6, 0, cfg=ProblemConfig(max_steps=2))
    sols = [t[len(p):] for t, p in zip(ds["text"], ds["prompt"])]
    feats = gvendi.gradient_features(model, tok, ds["prompt"], sols, dim=32, progress=False)
    assert feats.shape == (6, 32) and np.allclose(np.linalg.norm(feats, axis=1), 1.0, atol=1e-5)
    assert model.config._attn_implementation == "sdpa"   # restored after the eager pass


def test_bad_input_is_a_clear_error(tiny):
    model, tok = tiny
    with pytest.raises(ValueError, match="no solution tokens"):
        gvendi.gradient_features(model, tok, PROMPTS[:2], [SOLUTIONS[0], ""], progress=False)
    with pytest.raises(ValueError, match="empty"):
        gvendi.gradient_features(model, tok, [], [], progress=False)
    with pytest.raises(ValueError, match="one solution per prompt"):
        gvendi.gradient_features(model, tok, PROMPTS, SOLUTIONS[:2], progress=False)
    with pytest.raises(ValueError, match="not parameters"):
        gvendi.gradient_features(model, tok, PROMPTS, SOLUTIONS, params=["nope"], progress=False)
    with pytest.raises(ValueError, match="max_length"):
        gvendi.gradient_features(model, tok, PROMPTS, SOLUTIONS, max_length=8, progress=False)
    with pytest.raises(ValueError, match="dim"):
        gvendi.project(torch.zeros(2, 3), 0)


def test_train_proxy_is_seeded_and_learns():
    _, tok = models.load_model()
    a, ha = gvendi.train_proxy(tok, seed=1, hidden_size=16, n_layers=1, steps=6, batch_size=2, n_docs=64,
                               progress=False)
    b, _ = gvendi.train_proxy(tok, seed=1, hidden_size=16, n_layers=1, steps=6, batch_size=2, n_docs=64,
                              progress=False)
    c, _ = gvendi.train_proxy(tok, seed=2, hidden_size=16, n_layers=1, steps=6, batch_size=2, n_docs=64,
                              progress=False)
    wa, wb, wc = (m.model.layers[0].mlp.down_proj.weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)
    assert ha["loss"][-1] < ha["loss"][0] and ha["eval_loss"] is not None and ha["tokens"] == 6 * 2 * 256
    with pytest.raises(ValueError, match="seed"):
        gvendi.train_proxy(tok, seed=-1)
    with pytest.raises(ValueError, match="n_docs"):
        gvendi.train_proxy(tok, seed=0, n_docs=1)
