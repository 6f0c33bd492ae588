"""The recipe of the embedded default model: ``python -m slmlab train-embedded``.

Data: the built-in arithmetic corpus (1-4 steps, 20% of documents answer-only) plus a small share of
open-ended answers. Model: a 4-layer Llama, hidden 128 (1.1M parameters), digit-level BPE tokenizer.
Trains on a 2-core CPU in about 35 minutes with bf16 autocast, checkpoints as it goes (re-running
the command resumes), then writes the model folder and its model card.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .checkpoint import save_model_folder
from .evaluation import answer_accuracy, answer_logprob, token_loss
from .models import EMBEDDED_MODEL, build_model, count_parameters, tiny_llama_config, train_tokenizer
from .open_ended import open_ended_documents
from .problems import HARDER, ProblemConfig, make_problems, make_splits
from .runtime import pick_device, seed_everything
from .training import TrainConfig, pretrain

__all__ = ["Recipe", "train_embedded", "model_card"]


@dataclass
class Recipe:
    seed: int = 0
    n_train: int = 200_000
    n_eval: int = 400
    direct_share: float = 0.2
    open_ended_share: float = 0.03
    vocab_size: int = 512
    hidden_size: int = 128
    n_layers: int = 4
    n_heads: int = 4
    steps: int = 3_500
    batch_size: int = 32
    block_size: int = 256
    lr: float = 3e-3
    warmup_steps: int = 100


def train_embedded(recipe: Recipe = Recipe(), out: Path = Path("runs/slmlab-tiny"),
                   work_dir: Path = Path("runs/embedded"), device: str = "cpu") -> dict:
    """Train the default model from scratch and write it, with ``model_card.json`` and ``README.md``,
    to ``out`` (pass ``slmlab.EMBEDDED_MODEL`` to replace the shipped one). Resumes from checkpoints
    in ``work_dir``. The recipe is sized for a 2-core CPU;
    ``device="cuda"`` runs the same recipe faster (bf16 autocast either way)."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "config.json").exists())):
        raise ValueError(f"out={str(out)!r} exists and is not a model folder; it would be replaced: name a new "
                         "folder (or a model folder to overwrite)")
    cfg = TrainConfig(steps=recipe.steps, batch_size=recipe.batch_size, block_size=recipe.block_size,
                      lr=recipe.lr, warmup_steps=recipe.warmup_steps, eval_every=500,
                      checkpoint_every=250, seed=recipe.seed)  # checked before minutes of data making
    t0 = time.time()
    seed_everything(recipe.seed)
    data = make_splits(recipe.n_train, recipe.n_eval, recipe.seed, ProblemConfig(), recipe.direct_share)
    train_texts = list(data["train"]["text"])
    train_texts += open_ended_documents(int(recipe.open_ended_share * len(train_texts)), recipe.seed)
    tokenizer = train_tokenizer(train_texts[:20_000] + train_texts[len(data["train"]):], recipe.vocab_size)
    model = build_model(tiny_llama_config(tokenizer, recipe.hidden_size, recipe.n_layers, recipe.n_heads),
                        seed=recipe.seed).to(pick_device(device))
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    run = pretrain(model, tokenizer, train_texts, cfg, eval_texts=list(data["eval"]["text"]), out_dir=work_dir)
    model = run["model"].eval()
    train_seconds = time.time() - t0
    card = model_card(model, tokenizer, data["eval"], recipe, run["tokens"], train_seconds)
    card["trained_on"] = _device_name(model)
    model = model.to("cpu")
    save_model_folder(out, model, tokenizer, {"model_card.json": json.dumps(card, indent=1),
                                              "README.md": _card_markdown(card),
                                              "history.json": json.dumps(run["history"])})
    return card


def _device_name(model) -> str:
    import platform

    import torch
    dev = next(model.parameters()).device
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"


def model_card(model, tokenizer, eval_set, recipe: Recipe, tokens: int, train_seconds: float) -> dict:
    """The figures a model card states, all measured on the held-out split."""
    think = answer_accuracy(model, tokenizer, eval_set, with_steps=True)
    direct = answer_accuracy(model, tokenizer, eval_set, with_steps=False)
    harder_set = make_problems(len(eval_set), recipe.seed, "eval", HARDER)
    harder = answer_accuracy(model, tokenizer, harder_set, with_steps=True, max_new_tokens=96)
    return {"params": count_parameters(model), "recipe": asdict(recipe), "train_tokens": tokens,
            "train_minutes": round(train_seconds / 60, 1),
            "eval_loss": round(token_loss(model, tokenizer, eval_set["text"]), 4),
            "eval_problems": len(eval_set),
            "accuracy_with_steps": round(think["accuracy"], 4),
            "accuracy_by_steps": {str(k): round(v, 4) for k, v in think["by_steps"].items()},
            "accuracy_direct": round(direct["accuracy"], 4),
            "accuracy_direct_by_steps": {str(k): round(v, 4) for k, v in direct["by_steps"].items()},
            "accuracy_harder": round(harder["accuracy"], 4),
            "accuracy_harder_by_steps": {str(k): round(v, 4) for k, v in harder["by_steps"].items()},
            "answer_logprob_with_steps": round(answer_logprob(model, tokenizer, eval_set, True), 4),
            "answer_logprob_direct": round(answer_logprob(model, tokenizer, eval_set, False), 4)}


def _card_markdown(card: dict) -> str:
    r = card["recipe"]
    by = " / ".join(f"{k}: {v:.0%}" for k, v in card["accuracy_by_steps"].items())
    hb = " / ".join(f"{k}: {v:.0%}" for k, v in card["accuracy_harder_by_steps"].items())
    byd = " / ".join(f"{k}: {v:.0%}" for k, v in card["accuracy_direct_by_steps"].items())
    return f"""# slmlab-tiny

The embedded default model of slmlab: a {r['n_layers']}-layer Llama (hidden {r['hidden_size']},
{card['params']:,} parameters, vocabulary {r['vocab_size']}, digits one per token, `<think>` and `</think>`
as single tokens), trained from scratch on slmlab's generated arithmetic word problems
({r['n_train']:,} problems of 1-4 steps, {r['direct_share']:.0%} written answer-only, plus
{r['open_ended_share']:.0%} open-ended answers). License: Apache-2.0, like the repository.

Rebuild: `python -m slmlab train-embedded --out embedded` (seed {r['seed']}; about 30 minutes on a free 2-core CPU).
This copy was trained on {card['trained_on']} in {card['train_minutes']} minutes.

| figure | value |
|---|---|
| training steps x batch x block | {r['steps']} x {r['batch_size']} x {r['block_size']} |
| training tokens | {card['train_tokens']:,} |
| eval loss (nats/token, all tokens) | {card['eval_loss']} |
| greedy accuracy, with steps ({card['eval_problems']} held-out problems) | {card['accuracy_with_steps']:.1%} |
| by number of steps | {by} |
| greedy accuracy, answering directly | {card['accuracy_direct']:.1%} |
| by number of steps, directly | {byd} |
| greedy accuracy with steps, numbers up to 999 (`problems.HARDER`) | {card['accuracy_harder']:.1%} ({hb}) |
| mean log p(answer token), after reference steps / directly | {card['answer_logprob_with_steps']} / {card['answer_logprob_direct']} |

The default problems (1-4 steps, numbers up to 200) are nearly solved when the model writes its
steps, and hardly at all when it must answer directly; with larger numbers it is far from saturated,
which is where notebooks 01-03 find room to show a difference.

Prompt format: `Question: ...\\nAnswer: ` then `<think>steps</think> answer`, or the answer directly.
"""
