"""The lean decoding step (slmlab.decode_step) against the model's own forward, and an RLP step's
contexts run once (slmlab.thoughts.forward_contexts) against running them for each use."""
import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

from slmlab.decode_step import decode_step, supports_decode_step
from slmlab.models import build_model, tiny_llama_config, train_tokenizer
from slmlab.prefix_attention import OwnTokensCache, SharedPrefix, shared_prefix
from slmlab.problems import format_document, make_problems
from slmlab.rlp import RLPConfig, answer_positions, build_thought_batch, sample_thoughts, score_thoughts, thought_format
from slmlab.thoughts import _cache_kw, _forward_context, forward_contexts


def _llama():
    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=128)).eval()


def _qwen2(**kw):
    torch.manual_seed(0)  # grouped-query attention and q/k/v biases
    return Qwen2ForCausalLM(Qwen2Config(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                                        **kw)).eval()


@pytest.mark.parametrize("make", [_llama, _qwen2], ids=["llama", "qwen2"])
def test_decode_step_gives_the_logits_of_the_model_forward(make):
    """Six decoding steps of 3 contexts x G=2 rows (one context left-padded), each step's logits
    equal to the model's own forward with the same shared-prefix attention."""
    model = make()
    with torch.no_grad():
        for p in model.parameters():  # nonzero biases, so a dropped bias shows
            p.add_(0.02 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    assert supports_decode_step(model)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(3, 64, (3, 7), generator=g)
    mask = torch.ones_like(ids)
    mask[1, :3] = 0
    G, steps = 2, 6
    tok = torch.randint(3, 64, (3 * G, steps), generator=g)
    pos = (mask.sum(1, keepdim=True)).repeat_interleave(G, 0)
    caches = [_forward_context(model, ids, mask) for _ in range(2)]
    prefixes = [SharedPrefix(c, mask, G) for c in caches]
    owns = [OwnTokensCache(2, steps) for _ in range(2)]
    with torch.no_grad(), shared_prefix(model):
        for t in range(steps):
            want = model(input_ids=tok[:, t:t + 1], position_ids=pos + t, use_cache=True, shared_prefix=prefixes[0],
                         **{_cache_kw(model): owns[0]}).logits[:, -1]
            got = decode_step(model, tok[:, t], pos + t, prefixes[1], owns[1])
            assert torch.allclose(got, want, atol=1e-6, rtol=0), t


def test_only_exactly_computed_architectures_take_the_decode_step():
    assert supports_decode_step(_llama()) and supports_decode_step(_qwen2())
    assert not supports_decode_step(_qwen2(use_sliding_window=True, sliding_window=4, max_window_layers=0))
    assert not supports_decode_step(GPT2LMHeadModel(GPT2Config(vocab_size=64, n_positions=64, n_embd=32, n_layer=1,
                                                               n_head=2)))
    assert not supports_decode_step(LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64,
                                                                 num_hidden_layers=1, num_attention_heads=4,
                                                                 hidden_act="gelu")))


@pytest.fixture(scope="module")
def setup():
    problems = make_problems(6, 0, "train")
    tok = train_tokenizer([format_document(p) for p in make_problems(300, 0, "train").to_list()], vocab_size=320)
    model = build_model(tiny_llama_config(tok, hidden_size=32, n_layers=2, n_heads=2), seed=0).eval()
    fmt = thought_format(tok, RLPConfig())
    return model, answer_positions(tok, problems), fmt, tok


def test_contexts_run_once_give_the_same_thoughts_scores_and_gradient(setup):
    """Sampling and scoring from one forward_contexts cache (with gradient) = each running its own."""
    model, pos, fmt, _ = setup
    context = forward_contexts(model, pos, fmt)
    th = sample_thoughts(model, pos, fmt, 3, 8, 1.0, seed=0, context=context)
    assert th == sample_thoughts(model, pos, fmt, 3, 8, 1.0, seed=0)
    batch = build_thought_batch(pos, th, fmt, 3)
    grads, outs = [], []
    for ctx in (context, None):
        model.zero_grad()
        s_pred, logp, _ = score_thoughts(model, batch, 0.7, context=ctx)
        (s_pred.sum() * 0 + logp.sum()).backward()  # the gradient reaches the context through its cache
        outs.append((s_pred.detach(), logp.detach()))
        grads.append([p.grad.clone() for p in model.parameters()])
    assert torch.equal(outs[0][0], outs[1][0]) and torch.equal(outs[0][1], outs[1][1])
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-7)
    assert any(float(g.abs().sum()) > 0 for g in grads[0])


def test_a_context_of_other_positions_is_refused(setup):
    model, pos, fmt, _ = setup
    other = forward_contexts(model, pos[:2], fmt)
    with pytest.raises(ValueError, match="context holds"):
        sample_thoughts(model, pos, fmt, 2, 4, 1.0, seed=0, context=other)
    batch = build_thought_batch(pos, sample_thoughts(model, pos, fmt, 2, 4, 1.0, seed=0), fmt, 2)
    with pytest.raises(ValueError, match="context holds"):
        score_thoughts(model, batch, 1.0, context=other)


def test_evaluate_thoughts_with_one_context_pass_equals_the_reward_of_its_thoughts(setup):
    """evaluate_thoughts (contexts run once, no graph) = sampling, then information_gain_reward."""
    from slmlab.rlp import evaluate_thoughts, information_gain_reward
    model, pos, fmt, tok = setup
    cfg = RLPConfig(max_thought_tokens=6, temperature=1.0, mixed_precision="no")  # "auto" is bf16 on some CPUs
    ev = evaluate_thoughts(model, model, tok, pos, cfg, group_size=3, seed=2)
    th = sample_thoughts(model, pos, fmt, 3, 6, 1.0, 2, -1, range(len(pos)))
    assert [tok.decode(t) for t in th] == [t for row in ev["thoughts"] for t in row]
    want = information_gain_reward(model, model, pos, th, fmt, group_size=3)
    assert torch.allclose(ev["reward"], want.view(-1, 3), atol=1e-5)
    assert not ev["reward"].requires_grad


# ---------------------------------------------------------------- what the lean step cannot see
# decode_step reads the weights and never calls the modules, so whatever lives in a module call (a
# hook, a wrapper, a subclass) would be skipped while sampling yet used while scoring and updating.

class _LoRALinear(torch.nn.Module):
    """A LoRA-style adapter around a projection: it still has ``.weight``, but computes more."""

    def __init__(self, base, rank=2):
        super().__init__()
        self.base = base
        self.a = torch.nn.Parameter(0.5 * torch.randn(rank, base.in_features))
        self.b = torch.nn.Parameter(0.5 * torch.randn(base.out_features, rank))

    @property
    def weight(self):
        return self.base.weight

    @property
    def bias(self):
        return self.base.bias

    def forward(self, x):
        return self.base(x) + x @ self.a.T @ self.b.T


class _ScaledLinear(torch.nn.Linear):
    def forward(self, x):
        return 2 * super().forward(x)


def test_what_decode_step_cannot_reproduce_sends_the_sampler_through_the_modules():
    model = _qwen2()
    assert supports_decode_step(model)
    changes = {
        "forward hook": lambda m: m.lm_head.register_forward_hook(lambda mod, i, o: o + 1),
        "pre-hook on a layer's MLP": lambda m: m.model.layers[1].mlp.register_forward_pre_hook(lambda mod, a: None),
        "global hook": lambda m: torch.nn.modules.module.register_module_forward_hook(lambda mod, i, o: None),
    }
    for name, add in changes.items():
        handle = add(model)
        assert not supports_decode_step(model), name
        handle.remove()
        assert supports_decode_step(model), name  # removed: the lean step is exact again
    for name, change in {
        "LoRA-style wrapper": lambda m: setattr(m.model.layers[0].self_attn, "q_proj",
                                                _LoRALinear(m.model.layers[0].self_attn.q_proj)),
        "subclass of Linear": lambda m: setattr(m.model.layers[1].mlp, "up_proj", _ScaledLinear(32, 64, bias=False)),
        "patched forward": lambda m: setattr(m.model.norm, "forward", lambda x: x),
        "parametrized weight": lambda m: torch.nn.utils.parametrize.register_parametrization(
            m.lm_head, "weight", _Double()),
    }.items():
        m = _qwen2()
        change(m)
        assert not supports_decode_step(m), name


class _Double(torch.nn.Module):
    def forward(self, w):
        return 2 * w


def test_a_hooked_model_samples_the_thoughts_its_hook_makes():
    """A hook on the output layer that makes closing the thought near-certain: the sampler's thoughts
    close at the first token they may (the close is banned at token 0), as generate's do. Without the
    fallback the lean step would skip the hook and almost no thought would close."""
    from slmlab.thoughts import ThoughtFormat
    model = _qwen2()
    fmt = ThoughtFormat(open_ids=(5,), close_ids=(6,), sep_ids=(7,), pad_id=0, banned_ids=(0, 5))
    g = torch.Generator().manual_seed(1)
    pos = [{"context_ids": torch.randint(8, 64, (n,), generator=g).tolist(), "target_ids": [9]} for n in (5, 9, 12)]
    free = sample_thoughts(model, pos, fmt, 4, 12, 1.0, 0)
    assert sum(t[-1:] == [6] for t in free) < 6  # unhooked, few thoughts close
    boost = torch.zeros(64)
    boost[6] = 1e4

    def push_close(module, inputs, output):
        return output + boost

    handle = model.lm_head.register_forward_hook(push_close)
    try:
        hooked = sample_thoughts(model, pos, fmt, 4, 12, 1.0, 0)
        assert all(len(t) == 2 and t[-1] == 6 for t in hooked)
        assert hooked == sample_thoughts(model, pos, fmt, 4, 12, 1.0, 0, shared=False)  # generate agrees
    finally:
        handle.remove()
    assert sample_thoughts(model, pos, fmt, 4, 12, 1.0, 0) == free
