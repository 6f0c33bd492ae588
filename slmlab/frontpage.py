"""The collection's front page (``index.html`` of a report): for each notebook the question it asks,
its finding in a sentence or two *computed from the metrics it recorded*, with the spread and the
verdict of the collection's one comparison rule (:func:`slmlab.experiment.compare`) wherever the
notebook recorded one, one key figure, its time and peak memory, and links to the executed notebook
and its HTML page. Everything it loads sits in the report folder, so the page reads offline.

A notebook's finding comes from :data:`LESSONS` (question + a function of its metrics). A function
that meets a missing or malformed metric does not break the page: the notebook then gets the
generic finding (its recorded comparisons, else its first few numbers), and a new notebook without
an entry gets the same, with its title as the question.
"""
from __future__ import annotations

import html
import json
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Callable

from .experiment import RULE, Comparison

__all__ = ["Lesson", "LESSONS", "find_comparisons", "in_words", "finding", "key_figure", "front_page"]

COMPARISON_FIELDS = [f.name for f in fields(Comparison)]
# the fields every recorded comparison has; the interval fields came later and may be absent
_REQUIRED_FIELDS = [f.name for f in fields(Comparison) if f.default is MISSING]


@dataclass(frozen=True)
class Lesson:
    question: str
    finding: Callable[[dict], list[str]]  # metrics -> sentences; may raise on a missing metric


def _pct(x) -> str:
    return f"{100 * float(x):.0f}%"


def find_comparisons(metrics, path: str = "") -> dict[str, Comparison]:
    """Every :class:`Comparison` recorded (as ``Comparison.to_dict()``) anywhere in ``metrics``,
    keyed by where it sits (``"comparisons.accuracy"``)."""
    found: dict[str, Comparison] = {}
    if isinstance(metrics, dict):
        if all(k in metrics for k in _REQUIRED_FIELDS):
            try:
                found[path] = Comparison(**{k: metrics[k] for k in COMPARISON_FIELDS if k in metrics})
            except TypeError:
                pass
            return found
        for key, value in metrics.items():
            found.update(find_comparisons(value, f"{path}.{key}" if path else str(key)))
    return found


def in_words(c: Comparison) -> str:
    """One comparison as a clause: both means with their spreads, the seeds, and the verdict."""
    return (f"{c.metric}: {c.a} {c.a_mean:.3g} ± {c.a_spread:.2g} vs {c.b} {c.b_mean:.3g} ± {c.b_spread:.2g} "
            f"(n={c.n_a} and {c.n_b}) — {c.verdict}")


def _comparison(m: dict, key: str) -> Comparison | None:
    return find_comparisons(m).get(key)


# --- one finding function per notebook: each reads only the headline numbers its notebook records ---

def _welcome(m: dict) -> list[str]:
    out = [f"The embedded model ({m['params']:,} parameters) reaches an eval loss of {m['eval_loss']:.3f} and "
           f"answers {_pct(m['accuracy'])} of held-out problems when it writes its steps"
           + (f", {_pct(m['accuracy_direct'])} when it answers directly." if "accuracy_direct" in m else ".")]
    by_steps = {int(k): v for k, v in m.get("accuracy_by_steps", {}).items()}
    if len(by_steps) >= 2:
        lo, hi = min(by_steps), max(by_steps)
        out.append(f"Accuracy goes from {_pct(by_steps[lo])} at {lo} step{'s' * (lo != 1)} to "
                   f"{_pct(by_steps[hi])} at {hi} steps.")
    return out


def _curation(m: dict) -> list[str]:
    out = [f"Curation kept {_pct(m['kept_fraction'])} of the raw pile"
           + (f" of {m['n_docs']:,} documents." if "n_docs" in m else ".")]
    acc = _comparison(m, "comparisons.accuracy")
    if acc:
        out.append(f"Trained for the same steps, {in_words(acc)}.")
    elif "curated_accuracy" in m and "raw_accuracy" in m:
        out.append(f"Trained for the same steps, curated {m['curated_accuracy']:.3g} ± "
                   f"{m.get('curated_accuracy_spread', 0):.2g} vs raw {m['raw_accuracy']:.3g} ± "
                   f"{m.get('raw_accuracy_spread', 0):.2g} accuracy (no verdict recorded).")
    gap = m.get("contaminated_gap")
    if isinstance(gap, dict):  # leaked minus unseen direct accuracy, per training arm (and before training)
        before = f" ({100 * gap['before']:+.1f} before training)" if "before" in gap else ""
        out.append(f"Answering directly, leaked eval problems score {100 * gap['raw']['mean']:+.1f} ± "
                   f"{100 * gap['raw']['sd']:.1f} points above unseen ones after training on the raw pile and "
                   f"{100 * gap['decontaminated']['mean']:+.1f} ± {100 * gap['decontaminated']['sd']:.1f} after "
                   f"13-gram decontamination{before}.")
        cmp = _comparison(m, "comparisons.contamination_accuracy")
        if cmp:
            out.append(f"Raw vs decontaminated, {in_words(cmp)}.")
    elif gap is not None:
        out.append(f"After training on the raw pile, leaked eval problems score {100 * gap:+.1f} "
                   f"points above unseen ones (direct answers).")
    return out


def _synthetic(m: dict) -> list[str]:
    valid, vendi = m["valid_rate"], m.get("vendi", [])
    out = [f"Over {len(valid)} generate → verify → filter rounds, {_pct(valid[0])}"
           + (f" to {_pct(valid[-1])}" if len(valid) > 1 else "") + " of generated problems were valid"
           + (f" (Vendi score {vendi[0]:.2f} → {vendi[-1]:.2f})" if vendi else "")
           + (f"; {m['synthetic_kept']:,} were kept." if "synthetic_kept" in m else ".")]
    acc = _comparison(m, "comparisons.accuracy")
    base = f" (base model {_pct(m['base_accuracy'])})" if "base_accuracy" in m else ""
    if acc:
        out.append(f"Continuing to train the embedded model on harder problems{base}, seed pool + synthetic vs the "
                   f"seed pool alone at equal steps, {in_words(acc)}.")
    elif "with_synthetic_accuracy" in m:
        out.append(f"With synthetic data {m['with_synthetic_accuracy']:.3g} ± {m.get('with_synthetic_accuracy_spread', 0):.2g}"
                   f" vs seed pool alone {m['seed_only_accuracy']:.3g} ± {m.get('seed_only_accuracy_spread', 0):.2g}"
                   f" accuracy{base} (no verdict recorded).")
    return out


def _rlp_sized(m: dict) -> list[str]:
    """The sized design-B notebook: the judged metric with <think> forced, the start, headroom and MDE."""
    start = m["design_b"].get("cpt_f", {})
    out = []
    if "accuracy_forced_think" in start:
        out.append(f"Design B (the target documents' reasoning absent from the text) starts from CPT(F) at "
                   f"{_pct(start['accuracy_forced_think'])} ± {_pct(start.get('accuracy_forced_think_spread', 0))} "
                   f"accuracy with <think> forced ({_pct(start.get('think_rate', 0))} of its free greedy answers open "
                   f"<think>); sampled thoughts left a headroom (pass@k − pass@1) of {m['headroom'] * 100:+.1f} points, "
                   f"and the design could detect {m['mde_b']['mde'] * 100:.1f} points"
                   + (" (half the headroom or less)." if m["mde_b"].get("can_see_half_headroom") else
                      " (more than half the headroom: a null verdict is no evidence of no effect)."))
    c = _comparison(m, "verdict_b")
    if c:
        steps = f"{m['rlp_steps']} RLP steps, " if "rlp_steps" in m else ""
        out.append(f"At matched FLOPs from the same start ({steps}both learning rates chosen on dev), {in_words(c)}.")
    c = _comparison(m, "verdict_a")
    if c:
        out.append(f"RL on answers against imitation of the gold chains (design A), {in_words(c)}.")
    return out


def _rlp(m: dict) -> list[str]:
    if "headroom" in m and "mde_b" in m and "design_b" in m:
        return _rlp_sized(m)
    if "verdict_a" in m or "verdict_b" in m:  # the two-design notebook: CPT(F)->RLP(F) vs CPT(F)->CPT(F)
        out = []
        if "pass_at_1" in m and "pass_at_k" in m:
            out.append(f"Before training, greedy decoding solved {_pct(m['pass_at_1'])} of the dev problems and "
                       f"at least one of {m.get('k', 'k')} sampled thoughts reached the answer on {_pct(m['pass_at_k'])}"
                       + (f"; {_pct(m['mixed_group_frac'])} of the groups had rewards of both signs."
                          if "mixed_group_frac" in m else "."))
        for key, what in (("verdict_a", "documents with worked steps"), ("verdict_b", "answer-only documents plus replay")):
            c = _comparison(m, key)
            if c:
                out.append(f"At matched FLOPs from the same CPT(F) start, on {what}, {in_words(c)}.")
        return out
    out = [f"The held-out information-gain reward moved from {m['reward_start']:+.3f} to {m['reward_end']:+.3f} "
           f"nats during RLP training" + (f" (seed spread {m['reward_end_std']:.2g})." if "reward_end_std" in m else ".")]
    cmp = find_comparisons(m)
    acc = next((c for k, c in cmp.items() if "accuracy" in k), None)
    if acc:
        out.append(f"At matched compute, {in_words(acc)}.")
    elif "rlp_accuracy" in m and "cpt_accuracy" in m:
        out.append(f"At matched compute, RLP {m['rlp_accuracy']:.3g} ± {m.get('rlp_accuracy_std', 0):.2g} vs "
                   f"continued pretraining {m['cpt_accuracy']:.3g} ± {m.get('cpt_accuracy_std', 0):.2g} accuracy"
                   + (f" (base model {m['base_accuracy']:.3g}; no verdict recorded)." if "base_accuracy" in m
                      else " (no verdict recorded)."))
    return out


def _collapse(m: dict) -> list[str]:
    models = m["models"]
    ranked = sorted(models, key=lambda n: models[n]["intra_similarity"])
    base = models.get("base")
    out = [f"Across {len(models)} tiny models at T={m.get('temperature', '?')}, the most repetitive is "
           f"{ranked[-1]} (intra-model similarity {models[ranked[-1]]['intra_similarity']:.3f}) and the least "
           f"{ranked[0]} ({models[ranked[0]]['intra_similarity']:.3f})"
           + (f"; base {base['intra_similarity']:.3f} against a shuffled-prompt baseline of "
              f"{base['shuffled_baseline']['intra_similarity']:.3f}." if base and "shuffled_baseline" in base else ".")]
    for name, verdict in m.get("verdicts", {}).items():
        entropy = _comparison(m, f"comparisons.{name}.answer_entropy")
        ref = m.get("references", {}).get(name, "base")
        out.append(f"{name.capitalize()} {verdict.lower()} diversity relative to {ref}"
                   + (f" ({in_words(entropy)})." if entropy else "."))
    return out


def _rho(x) -> str:
    return "undefined (one side constant)" if x is None else f"{float(x):+.2f}"


def _prismatic(m: dict) -> list[str]:
    out = []
    pair = m.get("pair") or []
    if len(pair) == 2:  # two hand-built sets on which surface and gradient diversity may disagree
        (p, q), ev, gv = pair, "embedding_vendi", "g_vendi"
        emb_hi, g_hi = (max(pair, key=lambda r: r[k])["dataset"] for k in (ev, gv))
        nums = f"{p['dataset']} vs {q['dataset']}: embedding Vendi {p[ev]:.2f} vs {q[ev]:.2f}, G-Vendi {p[gv]:.2f} vs {q[gv]:.2f}"
        out.append("On two same-size sets, " + (f"both measures rate {emb_hi} more diverse ({nums})." if emb_hi == g_hi else
                   f"embedding Vendi rates {emb_hi} more diverse but G-Vendi rates {g_hi} ({nums})."))
    if "gvendi_accuracy_spearman" in m:
        mixes = m.get("mixes") or []
        out.append(f"Over {len(mixes) or 'the'} equal-size data mixes (one seed each: a direction, not a verdict), "
                   f"Spearman rho with held-out accuracy is {_rho(m['gvendi_accuracy_spearman'])} for G-Vendi and "
                   f"{_rho(m.get('embedding_vendi_accuracy_spearman'))} for embedding Vendi.")
    g, e, acc = (_comparison(m, f"comparisons.{k}") for k in ("g_vendi", "embedding_vendi", "acc"))
    if g:
        out.append("Prismatic vs uniform seeding at the same generation budget, " + in_words(g)
                   + (f"; {in_words(e)}." if e else "."))
    elif "gvendi_prismatic" in m and "gvendi_uniform" in m:
        out.append(f"G-Vendi of the final pool: prismatic {m['gvendi_prismatic']:.3g} ± "
                   f"{m.get('gvendi_prismatic_spread', 0):.2g} vs uniform {m['gvendi_uniform']:.3g} ± "
                   f"{m.get('gvendi_uniform_spread', 0):.2g} (no verdict recorded).")
    base = m.get("base_accuracy")
    base = (f" (base model {_pct(base['id'])} in distribution, {_pct(base['ood'])} OOD)"
            if isinstance(base, dict) and "id" in base and "ood" in base else "")
    if acc:
        splits = [c for c in (_comparison(m, "comparisons.acc_id"), _comparison(m, "comparisons.acc_ood")) if c]
        out.append(f"After training on each pool, {in_words(acc)}{base}"
                   + (" [" + "; ".join(f"{c.metric}: {c.verdict}" for c in splits) + "]" if splits else "") + ".")
    elif "accuracy_prismatic" in m and "accuracy_uniform" in m:
        out.append(f"After training on each pool, held-out accuracy prismatic {m['accuracy_prismatic']:.3g} ± "
                   f"{m.get('accuracy_prismatic_spread', 0):.2g} vs uniform {m['accuracy_uniform']:.3g} ± "
                   f"{m.get('accuracy_uniform_spread', 0):.2g}{base} (no verdict recorded).")
    return out


def _spectrum(m: dict) -> list[str]:
    cmp = {k.split(".", 1)[1]: c for k, c in find_comparisons(m).items() if k.startswith("comparisons.")}
    setup = (f"Fine-tuned at equal tokens ({m['tokens_per_run']:,} per run)" if "tokens_per_run" in m
             else "Fine-tuned at equal tokens") + (
        f", spectrum format vs plain SFT, scored on {m['n_heldout_tasks']} held-out tasks"
        if "n_heldout_tasks" in m else ", spectrum format vs plain SFT, scored on held-out tasks")
    n = f" at N={m['n_samples']}" if "n_samples" in m else ""
    refs = "; ".join(f"{what} {m[k]:.3g}" for k, what in (("jsd_base", "base model before tuning"),
                                                           ("jsd_perfect_sampler", f"a perfect sampler{n}, the floor"))
                     if isinstance(m.get(k), (int, float)))
    js = cmp.get("js_divergence")
    if js:
        out = [f"{setup}: {in_words(js)}" + (f" ({refs})." if refs else ".")]
    else:
        out = [f"{setup}: JS divergence to the target spectrum {m['jsd_spectrum']:.3g} ± "
               f"{m.get('jsd_spectrum_spread', 0):.2g} vs SFT {m['jsd_sft']:.3g} ± {m.get('jsd_sft_spread', 0):.2g}"
               + (f" ({refs}; no verdict recorded)." if refs else " (no verdict recorded).")]
    rest = [cmp[k] for k in ("valid_set_coverage", "steerability") if k in cmp]
    if rest:
        out.append("On the same tasks, " + "; ".join(in_words(c) for c in rest) + ".")
    if len(cmp) > 1:  # the tally over every recorded comparison, so no single verdict is picked out alone
        groups: dict[str, list[str]] = {}
        for c in cmp.values():
            groups.setdefault(c.verdict, []).append(c.metric)
        tally = [f"{len(ms)} {v}" if v.startswith(("within", "no verdict")) else f"{v} on {', '.join(ms)}"
                 for v, ms in sorted(groups.items(), key=lambda kv: (not kv[0].startswith(("within", "no verdict")), kv[0]))]
        out.append(f"Of all {len(cmp)} comparisons: " + "; ".join(tally) + ".")
    return out


LESSONS: dict[str, Lesson] = {
    "00": Lesson("What can a 1.1M-parameter model do, and does writing its steps help it?", _welcome),
    "01": Lesson("Does a curated pile train a better model than the raw one at the same compute, and what "
                 "does a leaked eval set do to a score?", _curation),
    "02": Lesson("Can a tiny generator, with a verify-and-filter loop, write valid and diverse training "
                 "data that helps when expert data is scarce?", _synthetic),
    "03": Lesson("Does rewarding thoughts by the information they add (RLP) beat continued pretraining at "
                 "matched compute?", _rlp),
    "04": Lesson("How repetitive is one model, how alike are several, and do sharpening and RLP narrow them?",
                 _collapse),
    "05": Lesson("Does seeding a generator from the sparse regions of gradient space (Prismatic Synthesis) "
                 "make data that is more diverse and teaches more than uniform seeding, and does G-Vendi "
                 "rank data mixes like the accuracy they produce?", _prismatic),
    "06": Lesson("Does training on many samples of a task in one sequence (spectrum tuning) make a model "
                 "cover a distribution and follow in-context examples better than plain SFT at equal tokens?",
                 _spectrum),
}


def _generic(m: dict) -> list[str]:
    cmp = find_comparisons(m)
    if cmp:
        return [in_words(c) + "." for c in list(cmp.values())[:3]]
    plain = [(k, v) for k, v in m.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if plain:
        return ["Headline numbers: " + ", ".join(f"{k} {v:.4g}" for k, v in plain[:6]) + "."]
    return ["This notebook recorded no headline numbers."]


def finding(name: str, metrics: dict) -> list[str]:
    """The notebook's finding in sentences, from its metrics; the generic one when a metric is missing."""
    lesson = LESSONS.get(name[:2])
    if lesson is not None:
        try:
            sentences = lesson.finding(metrics)
            if sentences:
                return sentences
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, ZeroDivisionError):
            pass  # a metric renamed or missing: say what can be said rather than break the page
    return _generic(metrics)


def key_figure(figures: list[tuple[dict, list[str]]]) -> dict | None:
    """The figure of a cell tagged ``key-figure``; else the notebook's last figure outside the
    exercise solutions (the lesson's experiment comes last)."""
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


def front_page(summary: dict, out, plotly_url: str | None = None, figures: dict | None = None) -> str:
    """HTML of the front page for a run's ``summary`` (as written to ``summary.json``). ``figures``
    maps notebook name to its key figure (plotly JSON); ``plotly_url`` is where plotly.js sits."""
    import plotly.io as pio
    out = Path(out)
    figures = figures or {}
    sections = []
    for name, entry in summary["notebooks"].items():
        n = html.escape(name)
        executed = out / f"{name}.ipynb"
        ok = entry.get("ok", True)
        error = (entry.get("error") or "").splitlines()[:1] or [""]
        sentences = finding(name, entry.get("metrics", {})) if ok else [
            f"FAILED at cell {entry.get('cell')}: {error[0][:300]}"]
        cmp = find_comparisons(entry.get("metrics", {}))
        verdicts = "".join(f"<li>{html.escape(str(c))}</li>" for c in cmp.values())
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
details li{{font-family:monospace;font-size:85%}}</style></head><body>
<h1>slmlab: how small language models learn to reason — what each notebook found</h1>
<p>Profile <code>{html.escape(str(summary['profile']))}</code>, seed {html.escape(str(summary.get('seed', 0)))},
{summary.get('total_seconds', 0) / 60:.1f} minutes in all. Every sentence below is computed from the numbers the
notebook recorded (<a href="summary.json">summary.json</a>); a comparison counts only under the collection's
rule: <i>{html.escape(RULE)}</i>.</p>
{''.join(sections)}
</body></html>"""
