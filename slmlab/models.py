"""The tokenizer and the tiny Llama: build, save, load.

``load_model()`` with no argument returns the embedded default shipped inside the package; a local
folder, a hub id or a real model's name (``"smollm2-135m-instruct"``, converted once into a local
folder by :mod:`slmlab.real_models`) goes through the very same ``from_pretrained`` path.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM,
                          PreTrainedTokenizerFast)

from .real_models import REAL_MODELS, ensure_model

__all__ = ["EMBEDDED_MODEL", "SPECIAL_TOKENS", "train_tokenizer", "tiny_llama_config",
           "build_model", "load_model", "count_parameters"]

EMBEDDED_MODEL = Path(__file__).parent / "embedded" / "slmlab-tiny"
SPECIAL_TOKENS = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>"}
THOUGHT_TOKENS = ["<think>", "</think>"]


def train_tokenizer(texts, vocab_size: int = 512) -> PreTrainedTokenizerFast:
    """Byte-level BPE trained on ``texts``. Digits are split one per token (so numbers are spelled
    digit by digit, which tiny models learn arithmetic from far better), ``<think>``/``</think>``
    are single tokens, and every encoded text starts with ``<s>``."""
    texts = list(texts)
    if not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError("texts must be a non-empty iterable of strings")
    if not isinstance(vocab_size, int) or vocab_size < 300:
        raise ValueError(f"vocab_size={vocab_size!r} must be an int >= 300 (256 bytes + specials + merges)")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    specials = list(SPECIAL_TOKENS.values()) + THOUGHT_TOKENS
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    bos = tok.token_to_id(SPECIAL_TOKENS["bos_token"])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B",
                                                       special_tokens=[("<s>", bos)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, **SPECIAL_TOKENS,
                                   additional_special_tokens=THOUGHT_TOKENS)
    fast.padding_side = "left"  # generation pads on the left so every row ends at its prompt
    return fast


def tiny_llama_config(tokenizer, hidden_size: int = 128, n_layers: int = 4, n_heads: int = 4,
                      intermediate_size: int | None = None, max_positions: int = 320) -> LlamaConfig:
    """A Llama-architecture config sized for a CPU (1.1M parameters at the defaults)."""
    ffn = 1 if intermediate_size is None else intermediate_size   # None: 4 x hidden_size
    for name, val in [("hidden_size", hidden_size), ("n_layers", n_layers), ("n_heads", n_heads),
                      ("max_positions", max_positions), ("intermediate_size", ffn)]:
        if isinstance(val, bool) or not isinstance(val, int) or val < 1:
            raise ValueError(f"{name}={val!r} must be a positive int" + (" or None" * (name == "intermediate_size")))
    if hidden_size % n_heads:
        raise ValueError(f"hidden_size={hidden_size} must be divisible by n_heads={n_heads}")
    return LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden_size, num_hidden_layers=n_layers,
        num_attention_heads=n_heads, num_key_value_heads=n_heads,
        intermediate_size=intermediate_size or 4 * hidden_size, max_position_embeddings=max_positions,
        rms_norm_eps=1e-5, tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )


def build_model(config: LlamaConfig, seed: int = 0) -> LlamaForCausalLM:
    """A freshly initialised model; the same seed gives the same weights."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative int")
    if not isinstance(config, LlamaConfig):
        raise TypeError(f"config must be a LlamaConfig (see tiny_llama_config), got {type(config).__name__}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return LlamaForCausalLM(config)


def count_parameters(model) -> int:
    """Distinct trainable parameters (tied embeddings counted once)."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in {id(p): p for p in model.parameters() if p.requires_grad}.values())


def _is_offline() -> bool:
    return any(os.environ.get(k, "").lower() in ("1", "true", "yes")
               for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _check_model_folder(path: Path) -> None:
    """A local model folder must hold a config, a tokenizer and readable safetensors weights; say which
    is missing or damaged here rather than let a library fail later with a message about something else."""
    if not (path / "config.json").is_file():
        what = "is empty" if not any(path.iterdir()) else "has no config.json"
        raise FileNotFoundError(f"model folder {str(path)!r} {what}; a model folder holds config.json, the "
                                "tokenizer files and model.safetensors (as save_pretrained writes them)")
    if not any((path / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json", "vocab.json")):
        raise FileNotFoundError(f"model folder {str(path)!r} has no tokenizer (tokenizer.json or "
                                "tokenizer_config.json); save it with tokenizer.save_pretrained(folder)")
    weights = sorted(path.glob("*.safetensors"))
    if not weights:
        other = sorted(p.name for p in path.glob("*.bin")) + sorted(p.name for p in path.glob("*.pt"))
        hint = f" (found {other}: only safetensors are loaded, never pickles)" if other else ""
        raise FileNotFoundError(f"model folder {str(path)!r} has no *.safetensors weights{hint}")
    from safetensors import safe_open
    for w in weights:
        try:
            with safe_open(str(w), "pt") as fh:  # reads the header, checks it covers the whole file
                fh.keys()
        except Exception as err:
            raise ValueError(f"weights file {str(w)!r} is damaged ({type(err).__name__}: {err}); "
                             "re-save or re-download the model") from err


@contextlib.contextmanager
def _no_loading_bar():
    """transformers' progress bars off for the block (and back on after, if they were on)."""
    from transformers.utils import logging as hf_logging
    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()


def load_model(name_or_path: str | os.PathLike | None = None, device: str | torch.device = "cpu",
               dtype: torch.dtype | None = None):
    """Return ``(model, tokenizer)``, model in eval mode on ``device``.

    ``None`` loads the embedded default (``slmlab.EMBEDDED_MODEL``). A local folder loads from disk.
    A name of :data:`slmlab.real_models.REAL_MODELS` (``"smollm2-135m-instruct"``) loads that model's
    converted folder from the cache, fetching and converting it first when missing
    (:func:`slmlab.real_models.ensure_model`). Anything else is taken as a hub id
    (``"HuggingFaceTB/SmolLM2-135M"``), which needs the network or a cached copy. Weights load from
    safetensors only and no remote code ever runs.
    """
    if name_or_path is None:
        name_or_path = EMBEDDED_MODEL
        if not (EMBEDDED_MODEL / "config.json").exists():
            raise FileNotFoundError(
                f"the embedded model is missing at {EMBEDDED_MODEL}; rebuild it with "
                "`python -m slmlab train-embedded --out embedded`")
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise ValueError(f"name_or_path={name_or_path!r} must be None, a folder path or a hub id string")
    if isinstance(name_or_path, str) and name_or_path.lower() in REAL_MODELS and not Path(name_or_path).is_dir():
        name_or_path = ensure_model(name_or_path)
    path = Path(name_or_path).expanduser()
    looks_local = path.exists() or str(name_or_path).startswith((".", "/", "~")) or str(name_or_path).count("/") > 1
    if looks_local and not path.is_dir():
        raise FileNotFoundError(f"model folder {str(path)!r} does not exist; pass an existing folder, "
                                "a hub id, or None for the embedded default")
    if looks_local:
        _check_model_folder(path)
    kwargs = dict(use_safetensors=True, trust_remote_code=False)
    if dtype is not None:
        kwargs["dtype"] = dtype
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path) if looks_local else name_or_path,
                                                  trust_remote_code=False)
        if looks_local:  # a "Loading weights 0/38" bar for a folder read in milliseconds is noise in every page
            with _no_loading_bar():
                model = AutoModelForCausalLM.from_pretrained(str(path), **kwargs)
        else:  # a hub download keeps its bar
            model = AutoModelForCausalLM.from_pretrained(name_or_path, **kwargs)
    except OSError as err:
        if looks_local:
            raise
        hint = " (HF_HUB_OFFLINE is set)" if _is_offline() else ""
        raise OSError(
            f"could not load {name_or_path!r} from the hub or the local cache{hint}. Offline, use the "
            f"embedded default with load_model() (it lives at {EMBEDDED_MODEL}), or a local folder."
        ) from err
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return model.to(device).eval(), tokenizer
