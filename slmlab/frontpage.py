"""The collection's front page (``index.html`` of a report): for each notebook the question it asks,
its finding in a sentence or two computed from the metrics it recorded (:mod:`slmlab.findings`), one
key figure, its time and peak memory, and links to the executed notebook and its HTML page.
Everything it loads sits in the report folder, so the page reads offline. A notebook without an
entry in :data:`slmlab.findings.LESSONS` gets its title as the question.
"""
from __future__ import annotations

import html
import json
from pathlib import Path

from . import _checks
from .experiment import RULE
from .findings import LESSONS, find_comparisons, finding, in_words

__all__ = ["GLOSSARY", "key_figure", "front_page"]

# The metric names that reach the reader as they are recorded (summary.json keeps them; the notebooks
# print them), in words. The front page lists those it uses under the findings.
GLOSSARY: dict[str, str] = {
    "Vendi score": "the effective number of different items in a sample: the exponential of the entropy of the "
                   "eigenvalues of their similarity matrix (1 = all alike, n = all different)",
    "G-Vendi": "the Vendi score of the examples' gradients (under a small proxy model) instead of their text embeddings",
    "intra-model similarity": "mean cosine similarity of one model's answers to the same prompt",
    "answer entropy": "entropy (bits) of the distribution of distinct answers to one prompt",
    "percent_valid": "share of generated answers that are valid for the task",
    "unique_gens_pct": "distinct valid answers / valid answers",
    "unique_valid_count": "number of distinct valid answers per task",
    "valid_set_coverage": "share of the task's valid answers that the model produced",
    "steerability": "JS(k=0) - JS(k=max): how far k in-context examples moved the model toward a target it could not know",
    "loss_geq_1": "in one sequence of 16 sampled answers per task, the mean summed loss (nats) of each answer after the "
                  "first (the spectrum-tuning authors' eval_icl)",
    "all_acc_geq_1": "in the same sequences, the share of answers after the first whose every token is the model's top "
                     "prediction (exact match)",
    "answers after the first": "the spectrum-tuning authors' eval_icl (loss_geq_1, all_acc_geq_1): in one sequence "
                               "of sampled answers per task, each answer after the first scored with the earlier ones in "
                               "context",
    "JS divergence": "Jensen-Shannon divergence between the model's answer distribution and the task's target (0 = same)",
    "distinct-2": "the share of distinct word pairs among a set of answers (1 = no pair repeats)",
    "pass@k": "share of problems where at least one of k sampled answers is right",
    "CPT": "continued pretraining (next-token prediction); F is one FLOP budget, 2F twice it",
    "RLP": "reinforcement learning as a pretraining objective: thoughts rewarded by the information they add about "
           "the next tokens",
}


def key_figure(figures: list[tuple[dict, list[str]]]) -> dict | None:
    """The figure of a cell tagged ``key-figure``; else the notebook's last figure outside the
    exercise solutions (the lesson's experiment comes last)."""
    if isinstance(figures, (str, dict)) or not all(isinstance(f, (tuple, list)) and len(f) == 2 for f in figures):
        raise TypeError("figures must be a list of (figure, cell tags) pairs, as pages.plotly_figures returns")
    tagged = [fig for fig, tags in figures if "key-figure" in tags]
    if tagged:
        return tagged[0]
    lesson = [fig for fig, tags in figures if "solution" not in tags]
    return lesson[-1] if lesson else None


def _title(executed: Path) -> str | None:
    """``NN · Title`` from the notebook's title cell, or None when it cannot be read."""
    try:
        first = "".join(json.loads(executed.read_text())["cells"][0]["source"]).splitlines()[0]
    except (OSError, AttributeError, KeyError, IndexError, ValueError):
        return None
    return first.lstrip("#").strip() or None


def _question(name: str, executed: Path) -> str:
    if name[:2] in LESSONS:
        return LESSONS[name[:2]].question
    title = _title(executed)  # a notebook without an entry: its title says what it is about
    return title.split("·", 1)[-1].strip() if title else name


def _glossary(text: str) -> str:
    """The glossary entries for the terms that ``text`` uses, as an HTML definition list."""
    used = [(term, meaning) for term, meaning in GLOSSARY.items() if term.lower() in text.lower()]
    if not used:
        return ""
    items = "".join(f"<dt>{html.escape(t)}</dt><dd>{html.escape(d)}</dd>" for t, d in used)
    return f'<section class="glossary"><h2>Words used above</h2><dl>{items}</dl></section>'


def front_page(summary: dict, out, plotly_url: str | None = None, figures: dict | None = None) -> str:
    """HTML of the front page for a run's ``summary`` (as written to ``summary.json``). ``figures``
    maps notebook name to its key figure (plotly JSON); ``plotly_url`` is where plotly.js sits."""
    _checks.dict_("summary", summary, keys=("notebooks", "profile"), what="a run's summary.json, as read")
    import plotly.io as pio
    out = Path(out)
    figures = figures or {}
    sections, said = [], []
    for name, entry in summary["notebooks"].items():
        n = html.escape(name)
        executed = out / f"{name}.ipynb"
        ok = entry.get("ok", True)
        error = (entry.get("error") or "").splitlines()[:1] or [""]
        sentences = finding(name, entry.get("metrics", {})) if ok else [
            f"FAILED at cell {entry.get('cell')}: {error[0][:300]}"]
        cmp = find_comparisons(entry.get("metrics", {}))
        verdicts = "".join(f"<li>{html.escape(in_words(c))}</li>" for c in cmp.values())
        said.append(" ".join(sentences) + " " + " ".join(in_words(c) for c in cmp.values()))
        fig = figures.get(name)
        fig_html = (pio.to_html(fig, include_plotlyjs=False, full_html=False, default_height=360,
                                config={"displayModeBar": False}) if fig and plotly_url else
                    "<p class='muted'>no figure</p>")
        sections.append(f"""<section class="nb">
<h2><a href="{n}.html">{html.escape(_title(executed) or name)}</a></h2>
<p class="q"><b>Question.</b> {html.escape(_question(name, executed))}</p>
<p class="f"><b>Finding.</b> {html.escape(' '.join(sentences))}</p>
{f'<details><summary>every comparison by the collection rule ({len(cmp)})</summary><ul>{verdicts}</ul></details>' if cmp else ''}
<div class="fig">{fig_html}</div>
<p class="muted">{entry.get('seconds', 0) / 60:.1f} min · peak memory {entry.get('peak_rss_mb', 0):.0f} MB ·
<a href="{n}.html">HTML page</a> · <a href="{n}.ipynb">executed notebook</a></p>
</section>""")
    script = f'<script src="{html.escape(plotly_url)}"></script>' if plotly_url else ""
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>slmlab: what the notebooks found</title>
{script}
<style>body{{font-family:sans-serif;margin:2em auto;max-width:60em;line-height:1.45}}
section.nb{{border-top:1px solid #ccc;padding-top:.5em;margin-top:1.5em}}.muted{{color:#666;font-size:90%}}
details li{{font-size:90%}}dt{{font-weight:bold;margin-top:.4em}}</style></head><body>
<h1>slmlab: how small language models learn to reason — what each notebook found</h1>
<p>Profile <code>{html.escape(str(summary['profile']))}</code>, seed {html.escape(str(summary.get('seed', 0)))},
{summary.get('total_seconds', 0) / 60:.1f} minutes in all. Every sentence below is computed from the numbers the
notebook recorded (<a href="summary.json">summary.json</a>); a comparison counts only under the collection's
rule: <i>{html.escape(RULE)}</i>.</p>
{''.join(sections)}
{_glossary(' '.join(said))}
</body></html>"""
