"""Batched sampling with a KV cache (transformers' ``generate``), temperature, top-p and a seed."""
from __future__ import annotations

import copy
import inspect
import math

import torch

__all__ = ["sample", "sample_shared_prompt", "thought_token_ids"]


def thought_token_ids(tokenizer) -> tuple[int | None, int | None]:
    """Ids of ``<think>`` and ``</think>``, or None for a tokenizer that lacks them (a hub model)."""
    ids = [tokenizer.convert_tokens_to_ids(t) for t in ("<think>", "</think>")]
    return tuple(i if i is not None and i != tokenizer.unk_token_id else None for i in ids)


@torch.no_grad()
def sample(model, tokenizer, prompts: list[str], max_new_tokens: int = 64, temperature: float = 1.0,
           top_p: float = 1.0, min_p: float | None = None, seed: int = 0, batch_size: int = 64,
           allow_thinking: bool = True, stop_at_newline: bool = True) -> list[str]:
    """Continue each prompt and return the new text only (special tokens kept, padding removed).

    ``temperature=0`` is greedy. ``allow_thinking=False`` forbids ``<think>`` so the model must answer
    directly. Sampling uses its own seeded stream, so the same seed gives the same samples.
    """
    if isinstance(prompts, str) or not isinstance(prompts, (list, tuple)) or not prompts:
        raise ValueError("prompts must be a non-empty list of strings")
    if not all(isinstance(p, str) for p in prompts):
        raise ValueError("prompts must contain only strings")
    if not isinstance(temperature, (int, float)) or not math.isfinite(temperature) or temperature < 0:
        raise ValueError(f"temperature={temperature!r} must be a finite number >= 0 (0: greedy)")
    if not (isinstance(top_p, (int, float)) and 0 < top_p <= 1):
        raise ValueError(f"top_p={top_p!r} must lie in (0, 1]")
    if min_p is not None and not (isinstance(min_p, (int, float)) and 0 <= min_p < 1):
        raise ValueError(f"min_p={min_p!r} must be None or lie in [0, 1)")
    if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens={max_new_tokens!r} must be a positive int")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} must be a positive int")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative int")
    n_ctx = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if isinstance(n_ctx, int):
        longest = max(len(ids) for ids in tokenizer(list(prompts))["input_ids"])
        if longest + max_new_tokens > n_ctx:
            raise ValueError(f"a prompt of {longest} tokens + max_new_tokens={max_new_tokens} exceeds the model's "
                             f"context of {n_ctx} tokens; shorten the prompts or lower max_new_tokens")
    device = next(model.parameters()).device
    think_open, _ = thought_token_ids(tokenizer)
    eos = [tokenizer.eos_token_id]
    if stop_at_newline:
        nl = tokenizer.convert_tokens_to_ids("Ċ")  # byte-level newline: one answer per line
        if nl is not None and nl != tokenizer.unk_token_id:
            eos.append(nl)
    gen_kwargs = dict(max_new_tokens=max_new_tokens, eos_token_id=eos, pad_token_id=tokenizer.pad_token_id,
                      use_cache=True)
    if temperature == 0:
        gen_kwargs.update(do_sample=False)
    else:
        gen_kwargs.update(do_sample=True, temperature=float(temperature), top_p=float(top_p), top_k=0)
        if min_p:
            gen_kwargs["min_p"] = float(min_p)
    if not allow_thinking and think_open is not None:
        gen_kwargs["suppress_tokens"] = [think_open]
    out: list[str] = []
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        for i in range(0, len(prompts), batch_size):
            batch = tokenizer(list(prompts[i: i + batch_size]), return_tensors="pt", padding=True).to(device)
            seqs = model.generate(**batch, **gen_kwargs)
            new = seqs[:, batch["input_ids"].shape[1]:]
            for row in new:
                text = tokenizer.decode(row, skip_special_tokens=False)
                for tok in (tokenizer.pad_token, tokenizer.eos_token):
                    if tok:
                        text = text.replace(tok, "")
                out.append(text.rstrip("\n"))
    return out


@torch.no_grad()
def sample_shared_prompt(model, tokenizer, prompt: str, n: int, max_new_tokens: int = 64, temperature: float = 1.0,
                         top_p: float = 1.0, seed: int = 0, stop_at_newline: bool = False,
                         batch_size: int = 64) -> list[str]:
    """``n`` continuations of one ``prompt`` (new text only, special tokens removed), its KV cache
    computed once and shared by the ``n`` rows: for a long prompt (a chat template, k in-context
    examples) this saves n-1 passes over it, which on a CPU cost more than the answers themselves.
    Stops at the end-of-sequence token (and a newline with ``stop_at_newline``). At most
    ``batch_size`` rows decode at once (each holds its own copy of the prompt's cache: a long prompt
    times many rows is most of the memory). The same seed gives the same samples."""
    if not isinstance(prompt, str) or not prompt:
        raise ValueError("prompt must be a non-empty string")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n={n!r} must be a positive int")
    if not isinstance(temperature, (int, float)) or not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature={temperature!r} must be a finite number > 0 (this function samples)")
    if not (isinstance(top_p, (int, float)) and 0 < top_p <= 1):
        raise ValueError(f"top_p={top_p!r} must lie in (0, 1]")
    if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens={max_new_tokens!r} must be a positive int")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative int")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} must be a positive int")
    device = next(model.parameters()).device
    ids = tokenizer(prompt, return_tensors="pt")["input_ids"].to(device)   # (1, L)
    if ids.shape[1] < 2:
        raise ValueError("prompt must encode to at least 2 tokens (the cache holds all but the last)")
    eos = [tokenizer.eos_token_id]
    if stop_at_newline:
        nl = tokenizer.convert_tokens_to_ids("Ċ")
        if nl is not None and nl != tokenizer.unk_token_id:
            eos.append(nl)
    # transformers 5.x renames ``past_key_values`` to ``cache``: pass and read whichever this model uses
    kw = "cache" if "cache" in inspect.signature(type(model).forward).parameters else "past_key_values"
    out = model(input_ids=ids[:, :-1], use_cache=True, logits_to_keep=1)
    names = set(out.keys())
    prefix = getattr(out, "cache" if "cache" in names else "past_key_values")   # (1, heads, L-1, d) per layer
    texts: list[str] = []
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        for start in range(0, n, batch_size):
            rows = min(batch_size, n - start)
            cache = copy.deepcopy(prefix)
            cache.batch_repeat_interleave(rows)                             # (rows, heads, L-1, d)
            batch = ids.repeat(rows, 1)                                     # (rows, L): only the last is new
            seqs = model.generate(input_ids=batch, attention_mask=torch.ones_like(batch),
                                  max_new_tokens=max_new_tokens, do_sample=True, temperature=float(temperature),
                                  top_p=float(top_p), top_k=0, eos_token_id=eos, pad_token_id=tokenizer.pad_token_id,
                                  use_cache=True, **{kw: cache})
            texts += [tokenizer.decode(r[ids.shape[1]:], skip_special_tokens=True).strip() for r in seqs]
            del cache, seqs
    return texts
