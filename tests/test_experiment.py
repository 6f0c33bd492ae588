"""The collection's comparison rule (seeds and eval items), the detectable effect, and the arms harness."""
import math

import numpy as np
import pytest

from slmlab.comparison import detectable_from_items, minimal_detectable_effect, rank_correlation_test
from slmlab.experiment import collect, compare, finetune_copy, mean_spread, run_arms


def _items(n_seeds, n_items, right):
    """0/1 scores: every seed right on the items in ``right``."""
    return [[1.0 if i in right else 0.0 for i in range(n_items)] for _ in range(n_seeds)]


def test_a_difference_that_is_all_item_noise_does_not_pass():
    # A is right on 2 more of 40 items than B, on every seed: no seed noise at all, so the old
    # spread-sum rule called it a win; another eval set could well hold neither item
    a, b = _items(3, 40, set(range(12))), _items(3, 40, set(range(10)))
    c = compare(items_a=a, items_b=b, names=("a", "b"))
    assert c.a_spread == 0 and c.b_spread == 0 and c.difference == pytest.approx(0.05)
    assert c.ci_low <= 0 < c.ci_high and not c.a_beats_b and not c.b_beats_a
    assert c.verdict == "within the noise of seeds and eval items" and "40 eval items" in str(c)


def test_a_large_consistent_difference_passes():
    c = compare(items_a=_items(3, 40, set(range(30))), items_b=_items(3, 40, set(range(10))), names=("rlp", "cpt"))
    assert c.a_beats_b and not c.b_beats_a and c.verdict == "rlp beats cpt" and c.ci_low > 0.3


def test_seed_noise_alone_blocks_a_verdict_and_a_clear_gap_passes():
    # per-seed numbers only: the interval resamples seeds
    wide = compare([0.50, 0.70, 0.90], [0.45, 0.65, 0.85])
    assert not wide.a_beats_b and wide.verdict == "within the seed spread" and wide.n_items == 0
    clear = compare([0.80, 0.81, 0.82], [0.60, 0.61, 0.62], names=("rlp", "cpt"))
    assert clear.a_beats_b and clear.ci_low > 0


def test_lower_is_better_flips_the_sign():
    c = compare([1.0, 1.01, 0.99], [2.0, 2.01, 1.99], names=("curated", "raw"), higher_is_better=False)
    assert c.a_beats_b and not c.b_beats_a
    assert compare([2.0, 2.01, 1.99], [1.0, 1.01, 0.99], higher_is_better=False).b_beats_a


def test_one_seed_never_gives_a_verdict():
    c = compare([0.9], [0.1])
    assert not c.a_beats_b and not c.b_beats_a and c.verdict.startswith("no verdict")


def test_the_rule_is_deterministic_and_takes_numpy_numbers():
    a, b = np.array([0.7, 0.72, 0.69]), [np.float32(0.6), np.float64(0.62), 0.61]
    assert compare(a, b) == compare(a, b)


def test_spread_is_the_sample_sd():
    m, s = mean_spread([1.0, 2.0, 3.0])
    assert m == 2.0 and math.isclose(s, 1.0)


def test_minimal_detectable_effect_is_the_power_formula():
    mde = minimal_detectable_effect(seed_sd=0.02, n_seeds=3, n_items=200, item_sd=0.3)
    se = math.sqrt(2 * 0.02 ** 2 / 3 + 0.3 ** 2 / 200)
    assert mde == pytest.approx((1.959964 + 0.841621) * se, rel=1e-5)
    # more seeds and items detect less
    assert minimal_detectable_effect(seed_sd=0.02, n_seeds=6, n_items=800, item_sd=0.3) < mde


def test_the_rule_sees_an_effect_of_the_detectable_size_about_as_often_as_promised():
    # simulated arms: per-item 0/1 scores with a seed effect; B is A shifted by the pilot's MDE
    rng = np.random.default_rng(0)
    n_seeds, n_items = 3, 120
    difficulty = rng.uniform(0.2, 0.8, n_items)

    def arm(shift, seeds=n_seeds):
        skill = rng.normal(0, 0.03, seeds)[:, None]
        return (rng.random((seeds, n_items)) < np.clip(difficulty + skill + shift, 0, 1)).astype(float)

    # a pilot of 10 seeds measures the noise; the design has 3
    mde = detectable_from_items(arm(0.0, seeds=10), n_seeds=n_seeds)["mde"]
    hits = sum(compare(items_a=arm(mde), items_b=arm(0.0), seed=k).a_beats_b for k in range(60))
    nulls = sum(compare(items_a=arm(0.0), items_b=arm(0.0), seed=k).a_beats_b for k in range(60))
    assert 0.1 < mde < 0.4
    assert hits >= 36 and nulls <= 4   # power about 0.8 at the MDE; few false wins without an effect


@pytest.mark.parametrize("kwargs,exc,fragment", [
    (dict(a=[], b=[1.0]), ValueError, "a is empty"),
    (dict(a=[float("nan"), 1.0], b=[1.0, 2.0]), ValueError, "finite"),
    (dict(a="0.5", b=[1.0]), TypeError, "list of numbers"),
    (dict(a=[1.0, None], b=[1.0]), TypeError, "a[1]"),
    (dict(items_a=[[1, 0]], b=[1.0]), ValueError, "go together"),
    (dict(items_a=[[1, 0], [1, 0]], items_b=[[1, 0, 1], [0, 1, 1]]), ValueError, "same eval items"),
    (dict(items_a=[[1, 0], [1]], items_b=[[1, 0], [1, 0]]), ValueError, "different numbers of items"),
    (dict(a=[0.9, 0.9], items_a=[[1, 0], [1, 0]], items_b=[[1, 0], [1, 0]]), ValueError, "per-seed means"),
    (dict(a=None, b=[1.0]), ValueError, "a is missing"),
])
def test_bad_input(kwargs, exc, fragment):
    with pytest.raises(exc, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        compare(**kwargs)


def _toy_arms(calls):
    # a "model" is a number: its dev and eval score peak at the arm's own best rate
    def arm(best):
        def train(seed, lr):
            calls.append((best, seed, lr))
            return {"score": 1 - abs(math.log10(lr / best)) + seed / 100}
        return train

    def evaluate(model, split):
        calls.append(split)
        return {"accuracy": model["score"], "correct": [model["score"] > 0.9, True, False]}
    return {"a": arm(1e-3), "b": arm(1e-4)}, evaluate


def test_run_arms_tunes_each_arm_on_dev_by_the_same_procedure():
    calls = []
    arms, evaluate = _toy_arms(calls)
    res = run_arms(arms, [0, 1, 2], evaluate=evaluate, lr_grid=[1e-4, 1e-3, 1e-2], select="accuracy", progress=False)
    assert res.lr == {"a": 1e-3, "b": 1e-4}                  # each arm its own best rate
    assert list(res.dev_scores["a"]) == [1e-4, 1e-3, 1e-2]
    # the tuning seed's run at the chosen rate is reused: 3 grid runs + 2 more seeds per arm
    assert sum(1 for c in calls if isinstance(c, tuple)) == 2 * (3 + 2)
    assert calls.index("eval") > max(i for i, c in enumerate(calls) if c == "dev" and i < 6)
    assert res.values("a", "accuracy") == pytest.approx([1.0, 1.01, 1.02])
    assert res.items["a"]["correct"] == [[1.0, 1.0, 0.0]] * 3
    c = res.compare("a", "b", "correct")
    assert c.n_items == 3 and c.a_mean == pytest.approx(2 / 3)
    s = res.summary()
    assert s["a"]["lr"] == 1e-3 and s["a"]["per_seed"]["accuracy"] == pytest.approx([1.0, 1.01, 1.02])
    assert "chosen 0.001" in res.describe_tuning()
    said = res.describe_tuning(names={"a": "arm A"}, metric="accuracy")
    assert said.startswith("arm A: dev accuracy by learning rate {") and "chosen 0.001" in said
    with pytest.raises(ValueError, match="names="):
        res.describe_tuning(names=["a"])


def test_run_arms_without_a_grid_passes_no_rate_and_collect_reads_it():
    res = run_arms({"a": lambda s, lr: s / 10, "b": lambda s, lr: 1.0}, [0, 1, 2],
                   evaluate=lambda m, split: {"acc": m}, progress=False)
    assert collect(res.per_seed, "a", "acc") == [0.0, 0.1, 0.2] and res.lr == {}
    with pytest.raises(ValueError, match="missing"):
        collect(res.per_seed, "a", "loss")


@pytest.mark.parametrize("kwargs,exc,fragment", [
    (dict(arms={}), ValueError, "non-empty dict"),
    (dict(arms={"a": 3}), TypeError, "must be a callable"),
    (dict(seeds=[0, 0]), ValueError, "repeats a seed"),
    (dict(seeds=3), TypeError, "seeds=3 must be a list"),
    (dict(lr_grid={"a": [1e-3]}), ValueError, "no grid for arm(s) ['b']"),
    (dict(lr_grid=[1e-3, -1.0]), ValueError, "finite number > 0"),
    (dict(lr_grid=[1e-3]), ValueError, "select=None"),
    (dict(lr_grid=[1e-3], select="accuracy", tune_seed=7), ValueError, "tune_seed=7"),
    (dict(evaluate=None), TypeError, "evaluate=None"),
])
def test_run_arms_bad_input(kwargs, exc, fragment):
    arms, evaluate = _toy_arms([])
    call = dict(arms=arms, seeds=[0, 1], evaluate=evaluate, progress=False) | kwargs
    with pytest.raises(exc, match=fragment.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(").replace(")", r"\)")):
        run_arms(**call)


def test_finetune_copy_trains_a_copy_and_leaves_the_model(tiny):
    from slmlab.training import TrainConfig
    model, tok = tiny
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = TrainConfig(steps=2, batch_size=2, block_size=64, warmup_ratio=0.5, progress=False, mixed_precision="no")
    assert cfg.warmup_steps == 1
    trained, run = finetune_copy(model, tok, ["Question: 1+1?\nAnswer: 2"] * 8, cfg)
    assert trained is not model and "model" not in run and run["tokens"] == 2 * 2 * 64
    assert all(torch_equal(v, model.state_dict()[k]) for k, v in before.items())
    assert any(not torch_equal(v, trained.state_dict()[k]) for k, v in before.items())
    with pytest.raises(TypeError, match="TrainConfig"):
        finetune_copy(model, tok, ["x"], {"steps": 1})


def torch_equal(a, b):
    return bool((a == b).all())


def test_flop_matching_reads_tokens_from_the_config():
    from slmlab.experiment import matched_steps, tokens_per_step, train_flops
    from slmlab.training import TrainConfig
    cfg = TrainConfig(steps=1, batch_size=8, block_size=256, warmup_steps=0)
    assert tokens_per_step(cfg) == 2048
    assert train_flops(1000, 2048) == 6 * 1000 * 2048
    target = train_flops(1000, 6 * 2048) + 100.0
    assert matched_steps(target, 1000, cfg) == 6
    assert matched_steps(target, 1000, TrainConfig(steps=1, batch_size=8, block_size=512, warmup_steps=0)) == 3
    assert matched_steps(0.0, 1000, cfg) == 1 and matched_steps(0.0, 1000, cfg, minimum=3) == 3


def test_tokens_per_step_needs_a_train_config():
    from slmlab.experiment import tokens_per_step
    with pytest.raises(TypeError, match="TrainConfig"):
        tokens_per_step(object())


# ------------------------------------------------- rank correlation with a permutation p-value (notebook 05)
def test_rank_correlation_matches_scipy_and_exact_p():
    from scipy.stats import spearmanr
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=7), rng.normal(size=7)
    y[2] = y[4]                                            # a tie: average ranks, as scipy
    rho, p = rank_correlation_test(x, y)
    assert rho == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)
    # a perfect ranking of 5 pairs: only the identity and the reversal reach |rho| = 1 (exact: 2/120)
    rho, p = rank_correlation_test([1, 2, 3, 4, 5], [10, 20, 25, 40, 41])
    assert rho == pytest.approx(1.0) and p == pytest.approx(2 / 120)
    rho, p = rank_correlation_test([1, 2, 3, 4, 5], [5, 4, 3, 2, 1])
    assert rho == pytest.approx(-1.0) and p == pytest.approx(2 / 120)


def test_rank_correlation_p_is_the_share_of_repairings_at_least_as_extreme():
    from itertools import permutations

    from scipy.stats import spearmanr
    x, y = [3.0, 1.0, 4.0, 1.5, 5.0, 9.0], [2.0, 7.0, 1.0, 8.0, 2.5, 8.5]
    rho, p = rank_correlation_test(x, y)
    null = [spearmanr(x, [y[i] for i in perm]).statistic for perm in permutations(range(6))]
    assert p == pytest.approx(np.mean(np.abs(null) >= abs(rho) - 1e-12))
    # Monte Carlo (fewer draws than 6! = 720) lands near the exact value, never at 0, and is seeded
    p_mc = rank_correlation_test(x, y, n_permutations=500, seed=1)[1]
    assert abs(p_mc - p) < 0.06 and p_mc > 0
    assert p_mc == rank_correlation_test(x, y, n_permutations=500, seed=1)[1]
    # unrelated pairs are rarely significant: over 200 random datasets p < 0.05 about 5% of the time
    rng = np.random.default_rng(3)
    ps = [rank_correlation_test(rng.normal(size=8), rng.normal(size=8), n_permutations=2000, seed=s)[1]
          for s in range(200)]
    assert 0.01 < np.mean(np.array(ps) < 0.05) < 0.12


def test_rank_correlation_bad_input_and_constant_side():
    assert all(math.isnan(v) for v in rank_correlation_test([1, 2, 3], [0.5, 0.5, 0.5]))
    with pytest.raises(ValueError, match="same length"):
        rank_correlation_test([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="at least 3"):
        rank_correlation_test([1, 2], [1, 2])
    with pytest.raises(ValueError, match="finite"):
        rank_correlation_test([1, 2, float("nan")], [1, 2, 3])
    with pytest.raises(ValueError, match="n_permutations"):
        rank_correlation_test([1, 2, 3], [1, 2, 3], n_permutations=0)
