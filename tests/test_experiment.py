"""The collection's comparison rule and the arms x seeds harness."""
import math

import pytest

from slmlab.experiment import collect, compare, mean_spread, run_arms


def test_rule_needs_the_gap_to_exceed_both_spreads():
    # means 0.7 vs 0.6, sds 0.02 each: 0.1 > 0.04, a verdict
    c = compare([0.68, 0.70, 0.72], [0.58, 0.60, 0.62], names=("rlp", "cpt"))
    assert c.a_beats_b and not c.b_beats_a and c.verdict == "rlp beats cpt"
    # same means, sds 0.06 each: 0.1 < 0.12, no verdict
    wide = compare([0.64, 0.70, 0.76], [0.54, 0.60, 0.66])
    assert not wide.a_beats_b and wide.verdict == "within the seed spread"
    assert "within the seed spread" in str(wide)


def test_lower_is_better_flips_the_sign():
    c = compare([1.0, 1.01, 0.99], [2.0, 2.01, 1.99], names=("curated", "raw"), higher_is_better=False)
    assert c.a_beats_b and not c.b_beats_a
    assert compare([2.0, 2.01, 1.99], [1.0, 1.01, 0.99], higher_is_better=False).b_beats_a


def test_one_seed_never_gives_a_verdict():
    c = compare([0.9], [0.1])
    assert not c.a_beats_b and not c.b_beats_a and c.verdict.startswith("no verdict")


def test_spread_is_the_sample_sd():
    m, s = mean_spread([1.0, 2.0, 3.0])
    assert m == 2.0 and math.isclose(s, 1.0)


@pytest.mark.parametrize("a,b,exc,fragment", [
    ([], [1.0], ValueError, "a is empty"),
    ([float("nan"), 1.0], [1.0, 2.0], ValueError, "finite"),
    ("0.5", [1.0], TypeError, "list of numbers"),
    ([1.0, None], [1.0], TypeError, "a[1]"),
])
def test_bad_input(a, b, exc, fragment):
    with pytest.raises(exc, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        compare(a, b)


def test_run_arms_runs_each_arm_per_seed_and_collect_reads_it():
    res = run_arms({"a": lambda s: {"acc": s / 10}, "b": lambda s: {"acc": 1.0}}, seeds=[0, 1, 2], progress=False)
    assert collect(res, "a", "acc") == [0.0, 0.1, 0.2]
    assert [r["seed"] for r in res["b"]] == [0, 1, 2]
    with pytest.raises(ValueError, match="repeats a seed"):
        run_arms({"a": lambda s: {}}, seeds=[1, 1])
    with pytest.raises(ValueError, match="missing"):
        collect(res, "a", "loss")


def test_flop_matching_reads_tokens_from_the_config():
    from slmlab.experiment import matched_steps, tokens_per_step, train_flops
    from slmlab.training import TrainConfig
    cfg = TrainConfig(steps=1, batch_size=8, block_size=256, warmup_steps=0)
    assert tokens_per_step(cfg) == 2048
    assert train_flops(1000, 2048) == 6 * 1000 * 2048
    # another arm spent exactly 6 steps' worth (plus a little): 6 steps match it
    target = train_flops(1000, 6 * 2048) + 100.0
    assert matched_steps(target, 1000, cfg) == 6
    # twice the block size halves the steps
    assert matched_steps(target, 1000, TrainConfig(steps=1, batch_size=8, block_size=512, warmup_steps=0)) == 3
    assert matched_steps(0.0, 1000, cfg) == 1 and matched_steps(0.0, 1000, cfg, minimum=3) == 3


@pytest.mark.parametrize("call,fragment", [
    (lambda: __import__("slmlab.experiment").experiment.train_flops(0, 10), "n_params"),
    (lambda: __import__("slmlab.experiment").experiment.train_flops(10, float("nan")), "tokens"),
    (lambda: __import__("slmlab.experiment").experiment.matched_steps(-1.0, 10, __import__("slmlab.training").training.TrainConfig()), "flops"),
])
def test_flop_matching_bad_input(call, fragment):
    with pytest.raises(ValueError, match=fragment):
        call()


def test_tokens_per_step_needs_a_train_config():
    from slmlab.experiment import tokens_per_step
    with pytest.raises(TypeError, match="TrainConfig"):
        tokens_per_step(object())
