"""slmlab.plots: the arm comparison (points per seed, mean with its spread, the verdict) and training curves."""
import pytest

from slmlab import plots
from slmlab.experiment import compare


def _panels():
    acc = {"seed_only": [0.36, 0.35, 0.38], "with_synthetic": [0.37, 0.36, 0.37]}
    loss = {"seed_only": [0.37, 0.372, 0.375], "with_synthetic": [0.43, 0.42, 0.41]}
    c = compare(acc["with_synthetic"], acc["seed_only"], names=("with_synthetic", "seed_only"), metric="accuracy")
    return [{"metric": "accuracy", "values": acc, "baseline": 0.265, "comparison": c},
            {"metric": "answer loss", "values": loss, "higher_is_better": False}], c


def test_arm_comparison_points_per_seed_one_colour_per_arm():
    panels, c = _panels()
    fig = plots.arm_comparison(panels, title="t", seed_labels=[0, 1, 2])
    points = [t for t in fig.data if t.mode == "markers" and t.error_y.array is None]
    assert len(points) == 4 and all(len(t.y) == 3 for t in points)  # every seed a point, in every panel
    colour = {}
    for t in fig.data:
        colour.setdefault(t.legendgroup, set()).add(t.marker.color)
    assert colour == {"seed pool only": {plots.color("seed_only")}, "seed pool + synthetic": {plots.color("with_synthetic")}}
    assert sum(bool(t.showlegend) for t in fig.data) == 2  # one legend entry per arm, not per panel
    means = [t for t in fig.data if t.error_y.array is not None]
    assert means[0].y[0] == pytest.approx(0.3633333, abs=1e-6) and means[0].error_y.array[0] == pytest.approx(0.0152753, abs=1e-6)
    titles = [a.text for a in fig.layout.annotations]
    assert any(f"seed pool + synthetic − seed pool only = +0.00333 [{c.ci_low:+.3g}, {c.ci_high:+.3g}]" in t
               and c.verdict in t for t in titles)  # the 95% interval of the difference beside the verdict
    assert "base model" in titles
    assert fig.layout.xaxis.ticktext == ("seed pool only", "seed pool + synthetic")


def test_arm_comparison_refuses_bad_input():
    with pytest.raises(ValueError, match="non-empty list"):
        plots.arm_comparison([], title="t")
    with pytest.raises(ValueError, match=r"panels\[0\]"):
        plots.arm_comparison([{"metric": "m"}], title="t")
    with pytest.raises(ValueError, match="finite numbers"):
        plots.arm_comparison([{"metric": "m", "values": {"a": [1.0, float("nan")]}}], title="t")
    with pytest.raises(ValueError, match="list of per-seed numbers"):
        plots.arm_comparison([{"metric": "m", "values": {"a": 0.5}}], title="t")


def test_training_curves():
    rows = [{"step": i, "loss": 1 / (i + 1), "eval_loss": None if i % 2 else 2 / (i + 1)} for i in range(6)]
    fig = plots.training_curves({"cpt_2f seed 1": rows, "eval": rows}, x="step", y="loss", title="t", log_y=True)
    assert [t.name for t in fig.data] == ["CPT(2F) seed 1", "eval"] and fig.layout.yaxis.type == "log"
    assert fig.data[0].line.color == plots.color("cpt_2f")
    fig = plots.training_curves({"eval": rows}, x="step", y="eval_loss", title="t")
    assert list(fig.data[0].x) == [0, 2, 4]  # rows without the value are skipped
    with pytest.raises(ValueError, match="no row with"):
        plots.training_curves({"a": [{"step": 1}]}, x="step", y="loss", title="t")
    with pytest.raises(ValueError, match="without 'step'"):
        plots.training_curves({"a": [{"loss": 1}]}, x="step", y="loss", title="t")


def test_training_curves_with_several_values_draw_one_panel_each():
    rows = [{"step": i, "reward": 0.1 * i, "length": 10 - i} for i in range(1, 5)]
    runs = {"cpt_f_rlp_f seed 0": rows, "cpt_f_rlp_f seed 1": rows[:2]}
    fig = plots.training_curves(runs, x="step", y=["reward", "length"], title="t", y_title="value")
    assert [a.text for a in fig.layout.annotations] == ["reward", "length"]
    assert [(t.xaxis, t.showlegend) for t in fig.data] == [("x", True), ("x2", False), ("x", True), ("x2", False)]
    assert list(fig.data[1].y) == [9, 8, 7, 6] and list(fig.data[3].x) == [1, 2]
    assert {t.line.color for t in fig.data} == {plots.color("cpt_f_rlp_f")}
    assert fig.layout.xaxis2.title.text == "step" and fig.layout.yaxis.title.text == "value"
    with pytest.raises(ValueError, match="no row with 'length'"):
        plots.training_curves({"a": [{"step": 1, "reward": 1}]}, x="step", y=["reward", "length"], title="t")
    for bad in ([], [1], None):
        with pytest.raises(ValueError, match="y="):
            plots.training_curves(runs, x="step", y=bad, title="t")


def test_names_and_colours():
    assert plots.arm_name("cpt_f_rlp_f") == "CPT(F) → RLP(F)" and plots.arm_name("new_arm") == "new arm"
    assert plots.color("something new") == plots.color("something new")  # stable for arms not listed
    assert len(set(plots.ARM_COLORS[a] for a in ("raw", "curated", "decontaminated"))) == 3


def test_arm_comparison_several_verdicts_and_reference_lines():
    panels, c = _panels()
    start = compare([0.37, 0.36, 0.37], [0.30, 0.31, 0.29], names=("with_synthetic", "base"), metric="accuracy")
    panels[0] = dict(panels[0], comparisons=[start], lines=[(0.5, "ceiling: pass@8 at the start")])
    fig = plots.arm_comparison(panels, title="t")
    title = next(a.text for a in fig.layout.annotations if a.text.startswith("accuracy"))
    # both verdicts under the panel title, the panel's comparison first
    assert title.index(c.verdict) < title.index("seed pool + synthetic − base model")
    assert "seed pool + synthetic beats base model" in title  # the verdict in readable names
    assert any(s.y0 == 0.5 and s.line.dash == "dash" for s in fig.layout.shapes)
    assert "ceiling: pass@8 at the start" in [a.text for a in fig.layout.annotations]
    with pytest.raises(ValueError, match=r"panels\[0\]\['lines'\]"):
        plots.arm_comparison([dict(panels[0], lines=[0.5])], title="t")
    with pytest.raises(ValueError, match=r"panels\[0\]\['comparisons'\]"):
        plots.arm_comparison([dict(panels[0], comparisons=start)], title="t")
