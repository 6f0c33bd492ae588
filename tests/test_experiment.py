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
