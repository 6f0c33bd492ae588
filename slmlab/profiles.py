"""Sizes for every notebook under each profile, as plain data, in one place.

A notebook names its profile in its papermill ``parameters`` cell and reads its sizes with
:func:`sizes`; any parameter the notebook exposes overrides the profile's value when it is not None::

    cfg = profiles.sizes("03_rlp_information_gain", profile, n_eval=n_eval)
    cfg.n_eval, cfg.n_seeds

``smoke`` proves a notebook runs (CI, seconds; numbers not meaningful), ``default`` is a lesson on a
2-core CPU with ~2 GB RAM (minutes), ``gpu`` scales up on a GPU kernel. Every profile runs offline.
"""
from __future__ import annotations

import math
from types import MappingProxyType
from typing import Any, Mapping

__all__ = ["PROFILE_NAMES", "SIZES", "Sizes", "sizes"]

PROFILE_NAMES = ("smoke", "default", "gpu")

# {notebook: {profile: {field: value}}}. Every profile of a notebook has the same fields.
# A notebook's entry is added by whoever writes the notebook; keep one comment per field.
SIZES: dict[str, dict[str, dict[str, Any]]] = {
    "00_welcome_tiny_lm": {
        # n_train: training problems drawn (one is shown as a document); n_eval: held-out problems;
        # n_samples: samples per temperature; max_new_tokens: cap on a worked answer;
        # card_eval: evaluate on the model card's own eval set (so its figures are reproduced)
        "smoke": dict(n_train=400, n_eval=24, n_samples=3, max_new_tokens=48, card_eval=False),
        "default": dict(n_train=20_000, n_eval=200, n_samples=8, max_new_tokens=64, card_eval=True),
        "gpu": dict(n_train=200_000, n_eval=1_000, n_samples=16, max_new_tokens=96, card_eval=True),
    },
    "01_data_curation": {
        # n_docs: raw pile; n_eval: eval problems drawn; n_leaked: of them leaked into the pile;
        # leak_rate: share of the pile that is copies of them (each run must meet each leak many times);
        # labelled: examples for the quality scorer; train_steps/batch/block: continued training per run;
        # n_unseen: unleaked eval problems scored; n_seeds: runs per arm; max_new_tokens: greedy cap;
        # run_datatrove: also run the stages as a datatrove pipeline; n_dev: dev problems (training side,
        # in no document of the pile) choosing each arm's rate; lr_grid: the rates tried
        "smoke": dict(n_docs=400, n_eval=48, n_leaked=4, leak_rate=0.15, labelled=200, train_steps=3, batch=8,
                      block=128, n_unseen=8, n_seeds=1, max_new_tokens=48, run_datatrove=False, n_dev=8,
                      lr_grid=(1e-3,)),
        "default": dict(n_docs=20_000, n_eval=400, n_leaked=20, leak_rate=0.15, labelled=400, train_steps=45, batch=16,
                        block=256, n_unseen=150, n_seeds=3, max_new_tokens=64, run_datatrove=True, n_dev=64,
                        lr_grid=(3e-4, 1e-3, 3e-3)),
        "gpu": dict(n_docs=200_000, n_eval=2_000, n_leaked=100, leak_rate=0.05, labelled=1_000, train_steps=600,
                    batch=64, block=256, n_unseen=1_000, n_seeds=5, max_new_tokens=96, run_datatrove=True, n_dev=256,
                    lr_grid=(3e-4, 1e-3, 3e-3)),
    },
    "02_synthetic_data": {
        # seed_pool: expert problems of the target distribution the loop starts from (and the seed-only arm);
        # rounds x prompts_per_round: the loop; per_template: requests per prompt template; sweep: temperatures
        # swept, per_temp requests each; max_new_tokens: generation cap (loop and greedy eval);
        # train_steps x batch x block: each continued-training run (both arms); n_eval: held-out problems;
        # n_dev: dev problems (training side) for the learning rate; lrs: the rates tried; n_seeds: runs per arm;
        # per_level: one-example prompts per step count measuring what the generator writes next;
        # corpus_docs: documents of the embedded model's training stream whose step order is counted
        "smoke": dict(seed_pool=24, rounds=2, prompts_per_round=8, per_template=4, sweep=(0.7, 1.3), per_temp=6,
                      max_new_tokens=64, train_steps=2, batch=2, block=256, n_eval=16, n_dev=8, lrs=(3e-4,),
                      n_seeds=2, per_level=3, corpus_docs=2_000),
        "default": dict(seed_pool=40, rounds=3, prompts_per_round=80, per_template=32, sweep=(0.5, 0.8, 1.0, 1.3),
                        per_temp=40, max_new_tokens=128, train_steps=40, batch=4, block=256, n_eval=200, n_dev=64,
                        lrs=(1e-4, 3e-4, 1e-3), n_seeds=3, per_level=16, corpus_docs=20_000),
        "gpu": dict(seed_pool=200, rounds=5, prompts_per_round=512, per_template=128,
                    sweep=(0.3, 0.5, 0.8, 1.0, 1.3, 1.6), per_temp=128, max_new_tokens=128, train_steps=400,
                    batch=16, block=256, n_eval=1_000, n_dev=256, lrs=(1e-4, 3e-4, 1e-3), n_seeds=5,
                    per_level=64, corpus_docs=20_000),
    },
    "03_rlp_information_gain": {
        # n_target: target problems (the documents of both designs; design B adds as many replay
        # documents); n_dev: dev split cut from the same pool (regime, RLP lr); n_eval: held-out problems;
        # cpt_steps x cpt_batch (x 256 tokens): CPT(F), the common start; rlp_steps x batch_positions x
        # group_size: one RLP(F) run (CPT's second budget is matched to its FLOPs); max_thought: thought
        # cap; gen_cap: greedy answer cap; n_seeds: seeds per arm; lr_grid: RLP lrs tried on the dev split
        "smoke": dict(n_target=48, n_dev=8, n_eval=8, cpt_steps=2, cpt_batch=2, rlp_steps=1, batch_positions=2,
                      group_size=2, max_thought=16, gen_cap=40, n_seeds=2, lr_grid=(1e-4,)),
        "default": dict(n_target=2_000, n_dev=64, n_eval=200, cpt_steps=20, cpt_batch=8, rlp_steps=8,
                        batch_positions=8, group_size=8, max_thought=48, gen_cap=80, n_seeds=3,
                        lr_grid=(3e-5, 1e-4)),
        "gpu": dict(n_target=20_000, n_dev=256, n_eval=1_000, cpt_steps=400, cpt_batch=32, rlp_steps=120,
                    batch_positions=32, group_size=16, max_thought=48, gen_cap=96, n_seeds=5,
                    lr_grid=(1e-5, 3e-5, 1e-4)),
    },
    "04_mode_collapse": {
        # n_samples: answers per prompt, model and temperature; temperatures: swept (models compared at
        # 1.0, or the middle one); ft_steps: fine-tuning steps per variant;
        # n_redraw: extra sampling draws per compared model (the spread a verdict is read against);
        # synth_prompts: prompts of the one-round loop run when notebook 02's pool is missing
        "smoke": dict(n_samples=4, temperatures=(0.7, 1.5), ft_steps=3, n_redraw=1, synth_prompts=8),
        "default": dict(n_samples=16, temperatures=(0.7, 1.0, 1.5), ft_steps=60, n_redraw=3,
                        synth_prompts=64),
        "gpu": dict(n_samples=32, temperatures=(0.5, 0.7, 1.0, 1.5, 2.0), ft_steps=200, n_redraw=3,
                    synth_prompts=256),
    },
}


class Sizes(Mapping):
    """A read-only mapping of one notebook's sizes that also reads as attributes (``cfg.n_eval``)."""

    def __init__(self, notebook: str, profile: str, values: Mapping[str, Any]):
        self._values = MappingProxyType(dict(values))
        self.notebook, self.name = notebook, profile

    def __getattr__(self, key: str):
        try:
            return self.__dict__["_values"][key]
        except KeyError:
            raise AttributeError(f"{self.notebook} has no size {key!r}; it has {sorted(self._values)}") from None

    def __getitem__(self, key: str):
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"Sizes({self.notebook!r}, {self.name!r}: {body})"


def _check_override(notebook: str, key: str, default: Any, value: Any) -> Any:
    """An override must have the default's type (an int where an int is expected: no silent 2.7 -> 2)."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise TypeError(f"{key}={value!r} must be True or False ({notebook})")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{key}={value!r} must be an int ({notebook})")
        if value < 0:
            raise ValueError(f"{key}={value!r} must be >= 0 ({notebook})")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{key}={value!r} must be a number ({notebook})")
        if not math.isfinite(value):
            raise ValueError(f"{key}={value!r} must be finite ({notebook})")
        return float(value)
    if isinstance(default, (tuple, list)):
        if not isinstance(value, (tuple, list)):
            raise TypeError(f"{key}={value!r} must be a list or tuple ({notebook})")
        if default and not value:
            raise ValueError(f"{key}={value!r} must not be empty ({notebook})")
        if default and all(isinstance(d, (int, float)) and not isinstance(d, bool) for d in default):
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value):
                raise ValueError(f"{key}={value!r} must hold finite numbers ({notebook})")
        return type(default)(value)
    return value


def sizes(notebook: str, profile: str, **overrides: Any) -> Sizes:
    """The sizes of ``notebook`` under ``profile``; overrides that are None are ignored, so a
    notebook can pass its parameters cell straight through."""
    if not isinstance(profile, str) or profile not in PROFILE_NAMES:
        raise ValueError(f"profile={profile!r} is not a known profile; choose one of {list(PROFILE_NAMES)}")
    if notebook not in SIZES:
        raise ValueError(f"notebook={notebook!r} has no sizes; known: {sorted(SIZES)}")
    values = dict(SIZES[notebook][profile])
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in values:
            raise ValueError(f"{key!r} is not a size of {notebook}; sizes are {sorted(values)}")
        values[key] = _check_override(notebook, key, values[key], value)
    return Sizes(notebook, profile, values)

SIZES["05_prismatic_synthesis"] = {
    "smoke": dict(
        n_pair=8,           # examples in each hand-built dataset (surface vs gradient diversity)
        n_mix=12,           # examples in each data mix (all mixes the same size)
        n_eval=6,           # held-out problems per split (in-distribution 1-3 steps; 4-step chains OOD)
        n_dev=6,            # dev problems for choosing the learning rate (never the eval split)
        lrs=(1e-3,),        # learning rates tried on the dev split
        train_steps=2,      # optimizer steps of continued training per mix / arm
        batch_size=4,       # packed 256-token blocks per step
        n_seed_pool=16,     # seed pool of the prismatic loop
        rounds=1,           # rounds of the loop
        per_round=8,        # candidates generated per round (both arms)
        n_seeds=2,          # seeds per arm for the loop comparison
        dim=32,             # Rademacher projection dimension of the gradients
    ),
    "default": dict(n_pair=48, n_mix=64, n_eval=64, n_dev=48, lrs=(1e-3, 3e-3), train_steps=24, batch_size=8,
                    n_seed_pool=60, rounds=3, per_round=24, n_seeds=3, dim=256),
    "gpu": dict(n_pair=128, n_mix=256, n_eval=256, n_dev=128, lrs=(3e-4, 1e-3, 3e-3), train_steps=120,
                batch_size=16, n_seed_pool=200, rounds=4, per_round=100, n_seeds=5, dim=1024),
}
SIZES["06_spectrum_tuning"] = {
    "smoke": dict(
        n_seeds=1,            # training seeds per format (a verdict needs >= 2; smoke only proves it runs)
        train_steps=2,        # optimizer steps per fine-tuning run, both formats
        batch_size=2,         # packed 256-token blocks per step
        n_samples=4,          # answers sampled per held-out task at temperature 1
        lrs=(1e-3,),          # learning rates tried per format on the dev tasks (seed 0)
        n_heldout=3,          # held-out tasks per family (communities: rounded up to whole communities)
        n_dev=3,              # dev tasks per family, for the learning rate
        ks=(0, 1, 4),         # in-context examples for the steerability curve (the largest also sets the
                              # length of the loss/accuracy sequences)
        n_contexts=1,         # example draws per community and k
    ),
    # default lrs: a (1e-3, 3e-3) sweep on dev picked 1e-3 for both formats (2026-11-27); only the winner
    # is kept so the notebook fits its budget
    "default": dict(n_seeds=3, train_steps=100, batch_size=4, n_samples=32, lrs=(1e-3,), n_heldout=6, n_dev=4,
                    ks=(0, 1, 4, 16), n_contexts=2),
    "gpu": dict(n_seeds=5, train_steps=1000, batch_size=16, n_samples=100, lrs=(3e-4, 1e-3, 3e-3), n_heldout=6,
                n_dev=6, ks=(0, 1, 4, 16), n_contexts=8),
}
