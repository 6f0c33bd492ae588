"""The collection's recurring figures, drawn one way: arms compared over seeds, and training curves,
with one colour and one readable name per arm across every notebook and the front page.

- :func:`arm_comparison`: one panel per metric; each seed's result as a point (so three seeds read as
  three seeds, not as a box), the mean with its seed spread beside them, the base model as a dotted
  line, and, when a :class:`slmlab.experiment.Comparison` is given, the verdict (and the 95% interval
  of the difference when the comparison carries one) under the panel's title.
- :func:`training_curves`: one line per run (a series of ``{x: ..., y: ...}`` rows), one panel per
  value when several are named.
- :data:`ARM_COLORS` / :func:`color` and :data:`ARM_NAMES` / :func:`arm_name`: an arm keeps its
  colour between subplots and notebooks; identifiers such as ``cpt_f_rlp_f`` reach the reader as
  "CPT(F) → RLP(F)".

Beside the package (as :mod:`slmlab.widgets`): no technique module imports it.
"""
from __future__ import annotations

import math
import statistics
from typing import Mapping, Sequence

from . import _checks

__all__ = ["ARM_COLORS", "ARM_NAMES", "BASE_COLOR", "color", "arm_name", "arm_comparison", "training_curves"]

# One colour per arm across the collection. Arms that play the same part share a hue family: the
# "less/cleaner/new idea" arm is green or purple, the plain baseline red or grey-blue, the start point
# grey. Plotly's qualitative palette serves any arm not listed (by a stable hash of its name).
ARM_COLORS: dict[str, str] = {
    # 00 / shared
    "base": "#7f7f7f", "with steps": "#1f77b4", "directly": "#ff7f0e",
    # 01 data curation
    "raw": "#d62728", "curated": "#2ca02c", "decontaminated": "#1f77b4", "no verifier": "#bcbd22",
    # 02 synthetic data
    "seed_only": "#ff7f0e", "with_synthetic": "#9467bd", "real": "#8c564b", "strict": "#17becf", "lenient": "#e377c2",
    # 03 RLP
    "cpt_f": "#7f7f7f", "cpt_2f": "#1f77b4", "cpt_f_rlp_f": "#d62728",
    # 04 mode collapse
    "sharpened": "#ff7f0e", "cpt_start": "#17becf", "rlp": "#d62728", "raw_pile": "#8c564b", "curated_pile": "#2ca02c",
    # 05 prismatic synthesis
    "uniform": "#1f77b4", "prismatic": "#9467bd",
    # 06 spectrum tuning
    "sft": "#ff7f0e", "spectrum": "#2ca02c",
}
BASE_COLOR = ARM_COLORS["base"]
_FALLBACK = ["#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692", "#b6e880"]

# Readable names for the identifiers the notebooks record (summary.json keeps the identifiers).
ARM_NAMES: dict[str, str] = {
    "base": "base model", "raw": "raw pile", "curated": "curated set", "decontaminated": "decontaminated pile",
    "seed_only": "seed pool only", "with_synthetic": "seed pool + synthetic",
    "cpt_f": "CPT(F)", "cpt_2f": "CPT(2F)", "cpt_f_rlp_f": "CPT(F) → RLP(F)",
    "sharpened": "sharpened model", "cpt_start": "CPT start", "rlp": "RLP", "raw_pile": "raw-pile model",
    "curated_pile": "curated-pile model", "flat_mix": "flat-mix model", "synthetic_mix": "synthetic-mix model",
    "sibling": "sibling model", "uniform": "uniform seeding", "prismatic": "prismatic seeding",
    "sft": "plain SFT", "spectrum": "spectrum tuning",
}


def color(arm: str) -> str:
    """The arm's colour: :data:`ARM_COLORS`, else a fixed pick from plotly's palette."""
    _checks.text("arm", arm)
    if arm in ARM_COLORS:
        return ARM_COLORS[arm]
    return _FALLBACK[sum(map(ord, str(arm))) % len(_FALLBACK)]


def arm_name(arm: str) -> str:
    """The arm's readable name (:data:`ARM_NAMES`), else the identifier with spaces for underscores."""
    _checks.text("arm", arm)
    return ARM_NAMES.get(arm, str(arm).replace("_", " "))


def _per_seed(values, where: str) -> list[float]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ValueError(f"{where} must be a list of per-seed numbers, got {values!r}")
    out = []
    for v in values:
        if hasattr(v, "item") and getattr(v, "ndim", 0) == 0:
            v = v.item()
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"{where} holds {v!r}; per-seed results must be finite numbers")
        out.append(float(v))
    if not out:
        raise ValueError(f"{where} is empty: give one number per seed")
    return out


def _verdict_line(c) -> str:
    """The comparison as one line for a panel: its verdict, and its interval when it has one."""
    line = f"{arm_name(c.a)} − {arm_name(c.b)} = {c.a_mean - c.b_mean:+.3g}"
    lo, hi = getattr(c, "ci_low", None), getattr(c, "ci_high", None)
    if lo is not None and hi is not None:
        line += f" [{lo:+.3g}, {hi:+.3g}]"
    verdict = c.verdict
    for ident in (c.a, c.b):
        verdict = verdict.replace(ident, arm_name(ident))
    return f"{line}: {verdict}"


def arm_comparison(panels: Sequence[Mapping], *, title: str, seed_labels: Sequence | None = None,
                   height: int = 420):
    """Arms compared over seeds, one panel per metric.

    Each panel is a dict: ``metric`` (the axis title), ``values`` ({arm: per-seed numbers}), and
    optionally ``baseline`` (a number drawn as a dotted line, e.g. the base model), ``baseline_label``
    (default "base model"), ``comparison`` (a :class:`~slmlab.experiment.Comparison` of two of the
    arms, whose verdict goes under the panel title), ``comparisons`` (several, one line each, after
    ``comparison``), ``lines`` (more reference lines, each ``(y, label)``, dashed: e.g. a ceiling) and
    ``higher_is_better`` (said in the axis title). ``seed_labels`` name the points on hover (default:
    seed 0, 1, ...). Returns a plotly Figure.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if isinstance(panels, Mapping) or not panels:
        raise ValueError("panels must be a non-empty list of dicts with 'metric' and 'values'")
    for i, p in enumerate(panels):
        if not isinstance(p, Mapping) or "metric" not in p or not isinstance(p.get("values"), Mapping) or not p["values"]:
            raise ValueError(f"panels[{i}] must be a dict with 'metric' (a name) and 'values' ({{arm: per-seed numbers}})")
        if isinstance(p.get("comparisons"), (str, bytes, Mapping)) or not hasattr(p.get("comparisons", []), "__iter__"):
            raise ValueError(f"panels[{i}]['comparisons'] must be a list of Comparisons, got {p['comparisons']!r}")
        for line in p.get("lines", []):
            if not (isinstance(line, (tuple, list)) and len(line) == 2 and isinstance(line[0], (int, float))
                    and not isinstance(line[0], bool) and math.isfinite(line[0])):
                raise ValueError(f"panels[{i}]['lines'] holds {line!r}; give each line as (y, label), y a finite number")
    titles, most = [], 0
    for p in panels:
        t = p["metric"]
        shown_cmp = ([p["comparison"]] if p.get("comparison") is not None else []) + list(p.get("comparisons", []))
        for c in shown_cmp:
            t += f"<br><span style='font-size:11px'>{_verdict_line(c)}</span>"
        most = max(most, len(shown_cmp))
        titles.append(t)
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=titles)
    shown = set()
    for col, p in enumerate(panels, start=1):
        arms = list(p["values"])
        for k, arm in enumerate(arms):
            ys = _per_seed(p["values"][arm], f"panels[{col - 1}]['values'][{arm!r}]")
            labels = [f"seed {s}" for s in (seed_labels or range(len(ys)))][:len(ys)]
            name, c = arm_name(arm), color(arm)
            # the points, spread sideways a little so equal results do not hide each other
            xs = [k + (j - (len(ys) - 1) / 2) * 0.08 for j in range(len(ys))]
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", name=name, legendgroup=name,
                                     showlegend=arm not in shown, marker=dict(color=c, size=9, opacity=0.75),
                                     text=labels, hovertemplate="%{text}: %{y:.4g}<extra>" + name + "</extra>"),
                          row=1, col=col)
            mean = statistics.fmean(ys)
            sd = statistics.stdev(ys) if len(ys) > 1 else 0.0
            fig.add_trace(go.Scatter(x=[k + 0.3], y=[mean], mode="markers", legendgroup=name, showlegend=False,
                                     marker=dict(color=c, size=13, symbol="line-ew-open", line=dict(width=3)),
                                     error_y=dict(type="data", array=[sd], color=c, thickness=2, width=6),
                                     hovertemplate=f"mean %{{y:.4g}} ± {sd:.2g} (sd over {len(ys)} seeds)<extra>{name}</extra>"),
                          row=1, col=col)
            shown.add(arm)
        fig.update_xaxes(tickvals=list(range(len(arms))), ticktext=[arm_name(a) for a in arms],
                         range=[-0.6, len(arms) - 0.4], row=1, col=col)
        axis = p["metric"] if "higher_is_better" not in p else (
            f"{p['metric']} ({'higher' if p['higher_is_better'] else 'lower'} is better)")
        fig.update_yaxes(title_text=axis if len(panels) == 1 else None, row=1, col=col)
        if p.get("baseline") is not None:
            fig.add_hline(y=float(p["baseline"]), line_dash="dot", line_color=BASE_COLOR,
                          annotation_text=p.get("baseline_label", "base model"), annotation_position="top left",
                          row=1, col=col)
        for y, label in p.get("lines", []):
            fig.add_hline(y=float(y), line_dash="dash", line_color="#444", annotation_text=str(label),
                          annotation_position="top right", row=1, col=col)
    # room above the panels for the title and one line per verdict
    fig.update_layout(title=dict(text=title, font=dict(size=15)), height=height + 16 * max(0, most - 1),
                      margin=dict(t=110 + 16 * max(0, most - 1)), legend=dict(orientation="h", y=-0.15))
    return fig


def training_curves(runs: Mapping[str, Sequence[Mapping]], *, x: str, y: str | Sequence[str], title: str,
                    y_title: str | None = None, log_y: bool = False, height: int = 380):
    """One line per run: ``runs`` maps a run's name (an arm, or "arm seed 1") to its rows, each a
    dict holding ``x`` and ``y`` (rows without ``y`` are skipped, e.g. steps without an eval). A run
    named after an arm (or "<arm> seed N") takes the arm's colour. ``y`` may list several values
    (a training history's reward, its length...): one panel each, side by side and titled by the
    name, a run keeping its colour and one legend entry across them."""
    import plotly.graph_objects as go

    if not isinstance(runs, Mapping) or not runs:
        raise ValueError("runs must be a non-empty dict of run name -> list of rows")
    ys = [y] if isinstance(y, str) else list(y) if isinstance(y, Sequence) else []
    if not ys or not all(isinstance(key, str) for key in ys):
        raise ValueError(f"y={y!r} must name the value to plot, or list the names (one panel each)")
    if len(ys) == 1:
        fig = go.Figure()
    else:
        from plotly.subplots import make_subplots
        fig = make_subplots(rows=1, cols=len(ys), subplot_titles=ys)
    for name, all_rows in runs.items():
        arm = str(name).split(" seed ")[0]
        for col, key in enumerate(ys, start=1):
            rows = [r for r in all_rows if r.get(key) is not None]
            if not rows:
                raise ValueError(f"run {name!r} has no row with {key!r}")
            if any(x not in r for r in rows):
                raise ValueError(f"run {name!r} has a row without {x!r}")
            trace = go.Scatter(x=[r[x] for r in rows], y=[r[key] for r in rows], mode="lines",
                               name=arm_name(arm) + str(name)[len(arm):], line=dict(color=color(arm)))
            if len(ys) == 1:
                fig.add_trace(trace)
            else:   # one legend entry per run, which shows or hides it in every panel
                trace.update(legendgroup=str(name), showlegend=col == 1)
                fig.add_trace(trace, row=1, col=col)
    if len(ys) == 1:
        fig.update_layout(title=title, height=height, xaxis_title=x, yaxis_title=y_title or ys[0])
    else:
        fig.update_layout(title=title, height=height)
        fig.update_xaxes(title_text=x)
        if y_title:
            fig.update_yaxes(title_text=y_title, row=1, col=1)
    if log_y:
        fig.update_yaxes(type="log")
    return fig
