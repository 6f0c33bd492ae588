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
# Names: the same kind of size has the same name in every notebook: `train_steps` (optimizer steps of one
# run), `batch_size` (blocks per step), `lr_grid` (learning rates tried on the dev split; a single rate is a
# parameter, not a size). A notebook whose phases differ in one of them names each phase first:
# `cpt_train_steps`, `rlp_train_steps`, `proxy_train_steps`, `cpt_batch_size`, `rlp_lr_grid`, `mix_lr_grid`,
# `loop_lr_grid`; likewise `n_seeds` (training seeds per arm: `mix_n_seeds`, `design_a_n_seeds`) and
# `max_new_tokens` (cap on a generated answer, as `sampling.sample` calls it: `real_max_new_tokens`).
# RLP's batch counts positions, not blocks, and keeps RLPConfig's name `batch_positions`.
# tests/test_profiles.py holds every notebook to this.
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
        # labelled: examples for the quality scorer; train_steps x batch_size x block: each continued-
        # training run; n_unseen: unleaked eval problems scored; n_seeds: runs per arm; max_new_tokens:
        # greedy cap; run_datatrove: also run the stages as a datatrove pipeline; n_dev: dev problems
        # (training side, in no document of the pile) choosing each arm's rate; lr_grid: the rates tried
        "smoke": dict(n_docs=400, n_eval=48, n_leaked=4, leak_rate=0.15, labelled=200, train_steps=3,
                      batch_size=8, block=128, n_unseen=8, n_seeds=1, max_new_tokens=48, run_datatrove=False,
                      n_dev=8, lr_grid=(1e-3,)),
        "default": dict(n_docs=20_000, n_eval=400, n_leaked=20, leak_rate=0.15, labelled=400, train_steps=45,
                        batch_size=16, block=256, n_unseen=150, n_seeds=3, max_new_tokens=64, run_datatrove=True,
                        n_dev=64, lr_grid=(3e-4, 1e-3, 3e-3)),
        "gpu": dict(n_docs=200_000, n_eval=2_000, n_leaked=100, leak_rate=0.05, labelled=1_000, train_steps=600,
                    batch_size=64, block=256, n_unseen=1_000, n_seeds=5, max_new_tokens=96, run_datatrove=True,
                    n_dev=256, lr_grid=(3e-4, 1e-3, 3e-3)),
    },
    "02_synthetic_data": {
        # seed_pool: expert problems of the target distribution the loop starts from (and the seed-only arm);
        # rounds x prompts_per_round: the loop; per_template: requests per prompt template; sweep: temperatures
        # swept, per_temp requests each; max_new_tokens: generation cap (loop and greedy eval);
        # train_steps x batch_size x block: each continued-training run (both arms); n_eval: held-out problems;
        # n_dev: dev problems (training side) for the learning rate; lr_grid: the rates tried; n_seeds: runs per arm;
        # per_level: one-example prompts per step count measuring what the generator writes next;
        # corpus_docs: documents of the embedded model's training stream whose step order is counted
        "smoke": dict(seed_pool=24, rounds=2, prompts_per_round=8, per_template=4, sweep=(0.7, 1.3), per_temp=6,
                      max_new_tokens=64, train_steps=2, batch_size=2, block=256, n_eval=16, n_dev=8, lr_grid=(3e-4,),
                      n_seeds=2, per_level=3, corpus_docs=2_000),
        "default": dict(seed_pool=40, rounds=3, prompts_per_round=80, per_template=32, sweep=(0.5, 0.8, 1.0, 1.3),
                        per_temp=40, max_new_tokens=128, train_steps=40, batch_size=4, block=256, n_eval=200,
                        n_dev=64, lr_grid=(1e-4, 3e-4, 1e-3), n_seeds=3, per_level=16, corpus_docs=20_000),
        "gpu": dict(seed_pool=200, rounds=5, prompts_per_round=512, per_template=128,
                    sweep=(0.3, 0.5, 0.8, 1.0, 1.3, 1.6), per_temp=128, max_new_tokens=128, train_steps=400,
                    batch_size=16, block=256, n_eval=1_000, n_dev=256, lr_grid=(1e-4, 3e-4, 1e-3), n_seeds=5,
                    per_level=64, corpus_docs=20_000),
    },
    "03_rlp_information_gain": {
        # n_target: target problems (the documents of both designs; design B adds as many replay
        # documents); n_dev: dev split cut from the same pool (regime, learning rates); n_eval: held-out
        # problems; cpt_train_steps x cpt_batch_size (x 256 tokens): CPT(F), the common start;
        # rlp_train_steps x batch_positions x group_size: one RLP(F) run (CPT's second budget is matched
        # to its FLOPs; batch_positions is RLPConfig's own name: RLP's batch counts positions, not blocks);
        # max_thought: thought cap (the notebook lowers it to the longest gold chain); max_new_tokens:
        # greedy answer cap; n_seeds: seeds per arm of design B (the headline); design_a_n_seeds: of
        # design A;
        # rlp_lr_grid / cpt_lr_grid: each arm's rates tried on the dev split (same size: same search)
        "smoke": dict(n_target=48, n_dev=8, n_eval=8, cpt_train_steps=2, cpt_batch_size=2, rlp_train_steps=2,
                      batch_positions=2, group_size=2, max_thought=16, max_new_tokens=40, n_seeds=2,
                      design_a_n_seeds=2, rlp_lr_grid=(1e-4,), cpt_lr_grid=(3e-4,)),
        # default: 100 RLP steps of 4 positions x 8 thoughts (warmup 10), 3 seeds x 200 problems; the
        # notebook prints whether that can see half the measured headroom (it sizes the design first).
        # Grids: a first default run (2026-12-03) tried (3e-4, 1e-3) for both arms; on dev, 1e-3 collapsed
        # RLP (0%) and set CPT back (54.7% vs 59.4%), both chose the grid's lower edge: moved down one step
        "default": dict(n_target=2_000, n_dev=64, n_eval=200, cpt_train_steps=20, cpt_batch_size=8,
                        rlp_train_steps=100, batch_positions=4, group_size=8, max_thought=48, max_new_tokens=80,
                        n_seeds=3, design_a_n_seeds=2, rlp_lr_grid=(1e-4, 3e-4), cpt_lr_grid=(1e-4, 3e-4)),
        # gpu: the same designs, longer RLP, more seeds and eval problems (with the embedded model, or
        # a larger one passed as the notebook's `model`)
        "gpu": dict(n_target=20_000, n_dev=256, n_eval=1_000, cpt_train_steps=400, cpt_batch_size=32,
                    rlp_train_steps=400, batch_positions=32, group_size=16, max_thought=48, max_new_tokens=96, n_seeds=5,
                    design_a_n_seeds=5, rlp_lr_grid=(3e-5, 1e-4, 3e-4), cpt_lr_grid=(1e-4, 3e-4, 1e-3)),
    },
    "04_mode_collapse": {
        # n_samples: answers per prompt, model and temperature; temperatures: swept (models compared at
        # 1.0, or the middle one); train_steps: fine-tuning steps per variant;
        # n_redraw: extra sampling draws per compared model (the spread a verdict is read against);
        # synth_prompts: prompts of the one-round loop run when notebook 02's pool is missing;
        # real_*: the real-model section (SmolLM2-135M-Instruct, Q4_1): real_prompts of its open-ended
        # prompts, real_samples answers each per temperature (real_temperatures, the first is the usual
        # one) at top-p real_top_p, answers cut at real_max_new_tokens tokens; target_problems x target_k: where
        # RLP acted, notebook 03's target problems (eval split), k thoughts each at its thought temperature
        "smoke": dict(n_samples=4, temperatures=(0.7, 1.5), train_steps=3, n_redraw=1, synth_prompts=8,
                      real_prompts=2, real_samples=2, real_temperatures=(1.0, 1.5), real_top_p=0.9,
                      real_max_new_tokens=8, target_problems=8, target_k=4),
        "default": dict(n_samples=16, temperatures=(0.7, 1.0, 1.5), train_steps=60, n_redraw=3,
                        synth_prompts=64, real_prompts=8, real_samples=12, real_temperatures=(1.0, 1.5),
                        real_top_p=0.9, real_max_new_tokens=24, target_problems=64, target_k=8),
        "gpu": dict(n_samples=32, temperatures=(0.5, 0.7, 1.0, 1.5, 2.0), train_steps=200, n_redraw=3,
                    synth_prompts=256, real_prompts=10, real_samples=50, real_temperatures=(1.0, 1.5),
                    real_top_p=0.9, real_max_new_tokens=48, target_problems=256, target_k=16),
    },
}


class Sizes(Mapping):
    """A read-only mapping of one notebook's sizes that also reads as attributes (``cfg.n_eval``);
    ``cfg.notebook`` and ``cfg.profile`` say whose sizes they are, at which profile."""

    def __init__(self, notebook: str, profile: str, values: Mapping[str, Any]):
        if not isinstance(notebook, str) or not isinstance(profile, str):
            raise TypeError(f"notebook={notebook!r} and profile={profile!r} must be names (str); "
                            "use sizes(notebook, profile) rather than Sizes(...)")
        if not isinstance(values, Mapping):
            raise TypeError(f"values must be a mapping of size name -> value, got {type(values).__name__}")
        self._values = MappingProxyType(dict(values))
        self.notebook, self.profile = notebook, profile

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
        return f"Sizes({self.notebook!r}, {self.profile!r}: {body})"


def _check_override(notebook: str, key: str, default: Any, value: Any) -> Any:
    """An override must have the default's type (an int where an int is expected: no silent 2.7 -> 2)
    and its sign: a count whose default is >= 1 stays >= 1 (``batch_size=0`` would divide by zero
    deep in a run), a number whose default is > 0 (a learning rate, a temperature) stays > 0, a
    ``*_rate``/``*_share`` stays <= 1; numbers in a list follow the same rules, element by element."""
    where = f"({notebook}; the profile's value is {default!r})"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise TypeError(f"{key}={value!r} must be True or False {where}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{key}={value!r} must be an int {where}")
        low = 1 if default >= 1 else 0
        if value < low:
            raise ValueError(f"{key}={value!r} must be >= {low} {where}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{key}={value!r} must be a number {where}")
        _check_number(notebook, key, default, value)
        return float(value)
    if isinstance(default, (tuple, list)):
        if not isinstance(value, (tuple, list)):
            raise TypeError(f"{key}={value!r} must be a list or tuple {where}")
        if default and not value:
            raise ValueError(f"{key}={value!r} must not be empty {where}")
        if default and all(isinstance(d, (int, float)) and not isinstance(d, bool) for d in default):
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value):
                raise ValueError(f"{key}={value!r} must hold finite numbers {where}")
            if all(isinstance(d, int) for d in default) and not all(isinstance(v, int) for v in value):
                raise ValueError(f"{key}={value!r} must hold ints {where}")
            for v in value:
                _check_number(notebook, key, min(default), v, whole=value)
        return type(default)(value)
    return value


def _check_number(notebook: str, key: str, default, value, whole=None) -> None:
    """``value`` finite, > 0 where ``default`` is, >= 0 otherwise, <= 1 for a rate or share."""
    shown = f"{key}={whole if whole is not None else value!r}"
    where = f"({notebook}; the profile's value is {default!r})"
    if not math.isfinite(value):
        raise ValueError(f"{shown} must be finite {where}")
    if default > 0 and value <= 0:
        raise ValueError(f"{shown} must be > 0 {where}")
    if value < 0:
        raise ValueError(f"{shown} must be >= 0 {where}")
    if key.endswith(("_rate", "_share")) and value > 1:
        raise ValueError(f"{shown} must be <= 1: it is a share {where}")


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
        n_dev=6,            # dev problems for choosing each arm's learning rate (never the eval split)
        mix_lr_grid=(1e-4,),  # learning rates tried per data mix on the dev split
        loop_lr_grid=(1e-4,), # learning rates tried per loop arm on the dev split (smaller pools than the mixes)
        train_steps=2,      # optimizer steps of continued training per mix / pool (every arm the same)
        batch_size=4,       # packed 256-token blocks per step
        mix_n_seeds=2,      # training seeds per data mix
        n_seed_pool=16,     # seed pool of the prismatic loop
        rounds=1,           # rounds of the loop
        per_round=8,        # candidates generated per round (both arms)
        n_seeds=2,          # seeds per arm for the loop comparison (each seed its own pool and run)
        dim=32,             # Rademacher projection dimension of the gradients
        proxy_train_steps=4,  # optimizer steps (x 8 blocks) training each small proxy from scratch
        proxy_docs=64,      # problems each proxy is trained on
    ),
    "default": dict(n_pair=48, n_mix=256, n_eval=128, n_dev=64, mix_lr_grid=(3e-5, 1e-4, 3e-4),
                    loop_lr_grid=(1e-4, 3e-4, 1e-3), train_steps=12, batch_size=8, mix_n_seeds=2, n_seed_pool=128,
                    rounds=3, per_round=48, n_seeds=3, dim=256, proxy_train_steps=150, proxy_docs=4000),
    "gpu": dict(n_pair=128, n_mix=1024, n_eval=512, n_dev=256, mix_lr_grid=(3e-5, 1e-4, 3e-4, 1e-3),
                loop_lr_grid=(3e-5, 1e-4, 3e-4, 1e-3), train_steps=64,
                batch_size=16, mix_n_seeds=3, n_seed_pool=400, rounds=4, per_round=150, n_seeds=5, dim=1024,
                proxy_train_steps=1000, proxy_docs=20_000),
}
SIZES["06_spectrum_tuning"] = {
    "smoke": dict(
        n_seeds=1,            # training seeds per format (a verdict needs >= 2; smoke only proves it runs)
        train_steps=2,        # optimizer steps per fine-tuning run, both formats
        batch_size=2,         # 256-token blocks per step (whole documents, attention inside each)
        n_samples=4,          # answers sampled per held-out task at temperature 1
        lr_grid=(1e-3,),      # learning rates tried per format on the dev tasks (seed 0), the same rule for both
        n_heldout=3,          # held-out tasks per family (communities: rounded up to whole communities)
        n_dev=3,              # dev tasks per family, for the learning rate and the regime curve
        ks=(0, 1, 3),         # in-context examples for the steerability curve; the largest must fit the
                              # model's window in both formats (the notebook checks)
        n_contexts=1,         # example draws per community and k
        n_draws=1,            # sequences per community for the loss on the k-th answer
        curve_points=2,       # measurements along each dev run (steerability against training tokens)
    ),
    # default train_steps: 150 steps x 4 blocks = 154k tokens per run, the most that keeps the notebook within
    # 8 min (2 rates x 2 formats at seed 0 + 2 more seeds each). At it, the dev curve of the spectrum format
    # ends above SFT's (+0.033 vs +0.018) and the held-out verdict is "spectrum beats sft" on steerability
    # (2026-12-03). An earlier 800-step probe at lr 3e-3 (scored on held-out communities, n_contexts=2) had
    # spectrum at +0.03..+0.045 from 100 steps on: a look at eval data, used only to see that 100-150 steps suffice.
    "default": dict(n_seeds=3, train_steps=150, batch_size=4, n_samples=32, lr_grid=(1e-3, 3e-3), n_heldout=6, n_dev=4,
                    ks=(0, 1, 3, 6), n_contexts=4, n_draws=8, curve_points=4),
    "gpu": dict(n_seeds=5, train_steps=1000, batch_size=16, n_samples=100, lr_grid=(3e-4, 1e-3, 3e-3), n_heldout=6,
                n_dev=6, ks=(0, 1, 3, 6), n_contexts=8, n_draws=16, curve_points=11),
}

# Notebook 06's real-model section (SmolLM2-135M-Instruct, Q4_1), kept apart from the entry above:
# real_samples answers per prompt, format and k (real_ks: in-context examples drawn from the target),
# real_tasks of its distributional prompts, answers cut at real_max_new_tokens tokens.
for _profile, _real in {
        "smoke": dict(real_samples=2, real_ks=(0, 1), real_tasks=1, real_max_new_tokens=4),
        "default": dict(real_samples=16, real_ks=(0, 1, 4, 16), real_tasks=3, real_max_new_tokens=8),
        "gpu": dict(real_samples=100, real_ks=(0, 1, 4, 16), real_tasks=3, real_max_new_tokens=16)}.items():
    SIZES["06_spectrum_tuning"][_profile].update(_real)
del _profile, _real
