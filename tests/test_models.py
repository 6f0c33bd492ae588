import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

import slmlab
from slmlab import models, sampling


def test_tokenizer_splits_digits_and_keeps_thought_tokens(small_corpus):
    tok = models.train_tokenizer(small_corpus["train"]["text"], vocab_size=400)
    pieces = tok.convert_ids_to_tokens(tok("<think>123+45=168.</think> 168")["input_ids"])
    assert pieces[0] == "<s>" and "<think>" in pieces and "</think>" in pieces
    assert [p for p in pieces if p.strip("Ġ").isdigit()] == list("12345168168")
    assert tok.decode(tok("Mia has 7 cups.")["input_ids"], skip_special_tokens=True) == "Mia has 7 cups."


def test_build_is_seeded_and_sized(small_corpus):
    tok = models.train_tokenizer(small_corpus["train"]["text"], vocab_size=400)
    cfg = models.tiny_llama_config(tok, hidden_size=32, n_layers=2, n_heads=2)
    a, b, c = models.build_model(cfg, 0), models.build_model(cfg, 0), models.build_model(cfg, 1)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.model.layers[0].mlp.up_proj.weight, c.model.layers[0].mlp.up_proj.weight)
    # exact size from the config: tied embedding (once), per layer q/k/v/o + gated MLP + two norms, final norm
    h, inter, layers = cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers
    assert a.lm_head.weight is a.model.embed_tokens.weight
    assert models.count_parameters(a) == len(tok) * h + layers * (4 * h * h + 3 * h * inter + 2 * h) + h
    a.lm_head.weight = torch.nn.Parameter(a.lm_head.weight.detach().clone())  # untied: counted twice
    assert models.count_parameters(a) == len(tok) * h * 2 + layers * (4 * h * h + 3 * h * inter + 2 * h) + h
    with pytest.raises(ValueError, match="divisible"):
        models.tiny_llama_config(tok, hidden_size=30, n_heads=4)


def test_save_load_round_trip(tmp_path, small_corpus):
    tok = models.train_tokenizer(small_corpus["train"]["text"], vocab_size=400)
    m = models.build_model(models.tiny_llama_config(tok, hidden_size=32, n_layers=1, n_heads=2))
    m.save_pretrained(tmp_path); tok.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists() and not list(tmp_path.glob("*.bin"))
    m2, tok2 = slmlab.load_model(tmp_path)
    x = tok("Question: Mia has 3 cups.", return_tensors="pt")["input_ids"]
    assert torch.allclose(m(x).logits, m2(x).logits)
    assert tok2("12")["input_ids"] == tok("12")["input_ids"]


def test_embedded_default_loads_with_plain_transformers(tiny):
    model, tok = tiny
    plain = AutoModelForCausalLM.from_pretrained(slmlab.EMBEDDED_MODEL)
    assert AutoTokenizer.from_pretrained(slmlab.EMBEDDED_MODEL)("7")["input_ids"] == tok("7")["input_ids"]
    assert models.count_parameters(plain) == models.count_parameters(model) < 5_000_000
    assert type(model).__name__ == "LlamaForCausalLM" and not model.training


def test_load_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        slmlab.load_model(tmp_path / "nope")
    with pytest.raises(OSError, match="embedded default"):
        slmlab.load_model("some-org/not-cached-model")
    with pytest.raises(ValueError, match="name_or_path"):
        slmlab.load_model(42)


@pytest.mark.parametrize("family", ["gpt2", "qwen2"])
def test_load_model_takes_other_architectures(tmp_path, family, tiny):
    from transformers import GPT2Config, GPT2LMHeadModel, Qwen2Config, Qwen2ForCausalLM
    _, tok = tiny
    if family == "gpt2":
        m = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_embd=32, n_layer=1, n_head=2, n_positions=64))
    else:
        m = Qwen2ForCausalLM(Qwen2Config(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=1, intermediate_size=64))
    m.save_pretrained(tmp_path); tok.save_pretrained(tmp_path)
    loaded, _ = slmlab.load_model(tmp_path)
    assert type(loaded).__name__ == type(m).__name__
    out = sampling.sample(loaded, tok, ["Question: hi"], max_new_tokens=3, temperature=1.0)
    assert isinstance(out[0], str)
