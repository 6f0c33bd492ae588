"""Each notebook's finding in words, *computed from the metrics it recorded*: the sentences of the
collection's front page (:mod:`slmlab.frontpage`), with the spread and the verdict of the collection's
one comparison rule (:func:`slmlab.experiment.compare`) wherever the notebook recorded one.

A notebook's finding comes from :data:`LESSONS` (question + a function of its metrics). A function
that meets a missing or malformed metric does not break the page: the notebook then gets the
generic finding (its recorded comparisons, else its first few numbers), and a new notebook without
an entry gets the same.
"""
from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from typing import Callable

from . import _checks
from .experiment import Comparison
from .plots import arm_name

__all__ = ["Lesson", "LESSONS", "find_comparisons", "in_words", "finding"]

COMPARISON_FIELDS = [f.name for f in fields(Comparison)]
# the fields every recorded comparison has; the interval fields came later and may be absent
_REQUIRED_FIELDS = [f.name for f in fields(Comparison) if f.default is MISSING]


@dataclass(frozen=True)
class Lesson:
    question: str
    finding: Callable[[dict], list[str]]  # metrics -> sentences; may raise on a missing metric

    def __post_init__(self):
        _checks.text("question", self.question)
        _checks.callable_("finding", self.finding, "(metrics -> list of sentences)")


def _pct(x) -> str:
    return f"{100 * float(x):.0f}%"


def find_comparisons(metrics, path: str = "") -> dict[str, Comparison]:
    """Every :class:`Comparison` recorded (as ``Comparison.to_dict()``) anywhere in ``metrics``,
    keyed by where it sits (``"comparisons.accuracy"``)."""
    if not isinstance(metrics, dict):  # the recursion below passes dicts only
        raise TypeError(f"metrics must be a dict of a notebook's metrics (summary['notebooks'][name]['metrics']), "
                        f"got {type(metrics).__name__}")
    found: dict[str, Comparison] = {}
    if isinstance(metrics, dict):
        if all(k in metrics for k in _REQUIRED_FIELDS):
            try:
                found[path] = Comparison(**{k: metrics[k] for k in COMPARISON_FIELDS if k in metrics})
            except TypeError:
                pass
            return found
        for key, value in metrics.items():
            if isinstance(value, dict):  # only a dict can hold a comparison
                found.update(find_comparisons(value, f"{path}.{key}" if path else str(key)))
    return found


def _noise(c: Comparison) -> str:
    return "the noise of seeds and eval items" if getattr(c, "n_items", 0) else "the seed spread"


def verdict_words(c: Comparison) -> str:
    """The verdict for a reader: which arm did better on this metric (whichever way "better" points),
    or that neither did beyond the noise; the arms by their readable names."""
    if c.a_beats_b or c.b_beats_a:
        winner = c.a if c.a_beats_b else c.b
        return f"{arm_name(winner)} did better, beyond {_noise(c)}"
    verdict = c.verdict
    for ident in (c.a, c.b):
        verdict = verdict.replace(ident, arm_name(ident))
    return "no difference beyond " + verdict[len("within "):] if verdict.startswith("within ") else verdict


def in_words(c: Comparison) -> str:
    """One comparison as a clause: both means with their spreads, the seeds, the interval of the
    difference when the comparison has one, and the verdict in words."""
    if not isinstance(c, Comparison):
        raise TypeError(f"c must be a Comparison (find_comparisons gives them), got {type(c).__name__}")
    seeds = f"{c.n_a} seed{'s' * (c.n_a != 1)} each" if c.n_a == c.n_b else f"{c.n_a} and {c.n_b} seeds"
    if getattr(c, "n_items", 0):
        seeds += f", {c.n_items} eval items"
    better = "higher" if c.higher_is_better else "lower"
    lo, hi = getattr(c, "ci_low", None), getattr(c, "ci_high", None)
    interval = f"; difference 95% interval [{lo:+.3g}, {hi:+.3g}]" if lo is not None and hi is not None else ""
    return (f"{c.metric} ({better} is better): {arm_name(c.a)} {c.a_mean:.3g} ± {c.a_spread:.2g} vs "
            f"{arm_name(c.b)} {c.b_mean:.3g} ± {c.b_spread:.2g} ({seeds}{interval}) — {verdict_words(c)}")


def _capital(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


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
        base = m.get("base_accuracy")
        start = f" from a base model that answered {base:.3f} of the unseen eval problems" if base is not None else ""
        below = base is not None and max(acc.a_mean, acc.b_mean) < base
        out.append(f"Continued training for the same steps on each{start}, {in_words(acc)}"
                   + ("" if not below else "; both arms end below the base, so \"did better\" means lost less"
                      if acc.a_beats_b or acc.b_beats_a else "; both arms end below the base") + ".")
        loss = _comparison(m, "comparisons.solution_loss")
        if loss:
            base_loss = m.get("base_solution_loss")
            out.append(_capital((f"From the base model's {base_loss:.3g}, " if base_loss is not None else "")
                                + in_words(loss) + "."))
    elif "curated_accuracy" in m and "raw_accuracy" in m:
        out.append(f"Continued training for the same steps on each, accuracy on unseen problems was "
                   f"{m['curated_accuracy']:.3g} ± {m.get('curated_accuracy_spread', 0):.2g} on the curated set vs "
                   f"{m['raw_accuracy']:.3g} ± {m.get('raw_accuracy_spread', 0):.2g} on the raw pile (no verdict recorded).")
    gap = m.get("contaminated_gap")
    if isinstance(gap, dict):  # leaked minus unseen direct accuracy, per training arm (and before training)
        raw, dec = gap["raw"], gap["decontaminated"]
        before = gap.get("before")
        start = (f"Before training, the model answered leaked eval problems {_points(before)} unseen ones of the "
                 f"same length (answering directly, without steps); after" if before is not None else
                 "Answering directly, without steps, after")
        out.append(f"{start} training on the raw pile, which holds copies of them, {_points(raw['mean'], raw['sd'])} "
                   f"unseen ones; after training on the same pile without what 13-gram decontamination removed, "
                   f"{_points(dec['mean'], dec['sd'])} unseen ones.")
        cmp = _comparison(m, "comparisons.contamination_accuracy")
        if before is not None:
            raw_gain, dec_gain = 100 * (raw["mean"] - before), 100 * (dec["mean"] - before)
            gained = (f"leaked problems {_gained(raw_gain)} over unseen ones in the raw arm and {_gained(dec_gain)} after "
                      f"decontamination")
            if cmp is None or min(cmp.n_a, cmp.n_b) < 2:
                out.append(f"So {gained} (no verdict: it needs two seeds per arm).")
            elif cmp.a_beats_b:
                rest = ("" if raw_gain <= 0 else ", and decontamination took most of that gain away"
                        if dec_gain < raw_gain / 2 else ", and decontamination took only part of that gain away")
                out.append(f"So {gained}: the raw arm's gap is the larger beyond {_noise(cmp)} — the copies that "
                           f"decontamination removed inflated the score{rest}.")
            elif cmp.b_beats_a:
                out.append(f"So {gained}: unexpectedly, the decontaminated arm's gap is the larger, beyond {_noise(cmp)}.")
            else:
                out.append(f"So {gained}, but the two gaps do not differ beyond {_noise(cmp)}: at this size the leaks' "
                           f"effect is not measured apart from noise.")
    elif gap is not None:
        out.append(f"After training on the raw pile, leaked eval problems score {_points(gap)} "
                   f"unseen ones (direct answers).")
    return out


def _points(x: float, sd: float | None = None) -> str:
    """A difference of two accuracies in percentage points, for a sentence: "9.5 ± 5.3 points better than"."""
    x = 100 * float(x)
    spread = f" ± {100 * float(sd):.1f}" if sd is not None else ""
    if abs(x) < 0.05:
        return f"as well as ({spread.strip(' ±') or '0'} points spread)" if spread else "as well as"
    return f"{abs(x):.1f}{spread} points {'better' if x > 0 else 'worse'} than"


def _gained(points: float) -> str:
    """A change in percentage points as a verb phrase: "gained 9.5 points", "lost 2.0 points", "gained nothing"."""
    if points >= 0.05:
        return f"gained {points:.1f} points"
    return f"lost {-points:.1f} points" if points <= -0.05 else "gained nothing"


def _synthetic(m: dict) -> list[str]:
    valid = m["valid_rate"]
    out = [f"Over {len(valid)} generate → verify → filter rounds, {_pct(valid[0])}"
           + (f" to {_pct(valid[-1])}" if len(valid) > 1 else "") + " of generated problems were valid"
           + (f"; {m['synthetic_kept']:,} new problems were kept beside a seed pool of {m['seed_pool_size']:,}."
              if "synthetic_kept" in m and "seed_pool_size" in m else ".")]
    fixed = m.get("vendi_fixed")
    if isinstance(fixed, list) and len(fixed) >= 2:  # at one sample size: the whole pool's Vendi grows with the pool
        out.append(f"Measured on {m.get('vendi_fixed_n', 'the same number of')} problems drawn from the pool, its "
                   f"Vendi score went from {fixed[0]:.2f} (the seed pool) to {fixed[-1]:.2f} after the last round.")
    acc, loss = _comparison(m, "comparisons.accuracy"), _comparison(m, "comparisons.answer_loss")
    base = f" (the base model's accuracy is {m['base_accuracy']:.3f})" if "base_accuracy" in m else ""
    if acc:
        out.append(f"Continuing to train the embedded model on harder problems{base} for the same steps, {in_words(acc)}.")
        if loss:
            start = f"From the base model's {m['base_answer_loss']:.3g}, " if "base_answer_loss" in m else ""
            if loss.b_beats_a:
                reading = (": the synthetic problems made the worked answers less likely"
                           + (", and did not help accuracy." if not acc.a_beats_b else "."))
            elif loss.a_beats_b:
                reading = ": the synthetic problems made the worked answers more likely."
            else:
                reading = "."
            out.append(_capital(f"{start}{in_words(loss)}{reading}"))
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
                      " (with no headroom, nothing to see)." if m["headroom"] <= 0 else
                      " (more than half the headroom: a null verdict is no evidence of no effect)."))
    c = _comparison(m, "verdict_b")
    if c:
        steps = f"{m['rlp_steps']} RLP steps, " if "rlp_steps" in m else ""
        out.append(f"At matched FLOPs from the same start ({steps}both learning rates chosen on dev), {in_words(c)}"
                   + (": with no headroom at the start, RL had nothing to sharpen." if not c.a_beats_b
                      and m["headroom"] <= 0 else "."))
    own = _comparison(m, "verdict_b_vs_start")
    if own:
        out.append(f"Against the start RLP moved from, {_moved(own)}.")
    c = _comparison(m, "verdict_a")
    if c:
        why = ("" if not (c.a_beats_b or c.b_beats_a) else
               ": imitating the worked chains, which CPT reads token by token, beat reinforcing the model's own "
               "thoughts, rewarded on the answer digits only" if c.b_beats_a else
               ": reinforcing the model's own thoughts beat imitating the worked chains CPT reads")
        out.append(f"RL on answers against imitation of the gold chains (design A), {in_words(c)}{why}.")
    return out


def _moved(c: Comparison) -> str:
    """Where one arm went from the model it started from (``c.b``), in words that follow the verdict."""
    interval = (f", difference {100 * c.difference:+.1f} points, 95% interval [{100 * c.ci_low:+.1f}, {100 * c.ci_high:+.1f}]"
                if c.ci_low is not None and c.ci_high is not None else "")
    went = (f"{c.a_mean:.3g} ± {c.a_spread:.2g} from {c.b_mean:.3g} ± {c.b_spread:.2g} on {c.metric}{interval}")
    if c.ci_low is None:
        return f"{arm_name(c.a)} reached {went} (no verdict: one seed)"
    if c.a_beats_b or c.b_beats_a:  # a verdict: the interval excludes 0, so the difference's sign is the direction
        return f"{arm_name(c.a)} {'rose' if c.difference > 0 else 'fell'} to {went}, beyond {_noise(c)}"
    return f"{arm_name(c.a)} reached {went}: no change beyond {_noise(c)}"


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
    t = m.get("temperature", "?")
    out = []
    if all("valid_vendi" in v and "percent_valid" in v for v in models.values()):
        # diversity counts among valid answers: varied junk is not diversity (the notebook's own point), so
        # the ranking is over the models that answer validly at least half the time, junk said apart
        valid = sorted((n for n in models if models[n]["percent_valid"] >= 0.5), key=lambda n: -models[n]["valid_vendi"])
        junk = [n for n in models if models[n]["percent_valid"] < 0.5]

        def said(n):
            return (f"{_the(n)} (Vendi score {models[n]['valid_vendi']:.2f} over its valid answers, "
                    f"{_pct(models[n]['percent_valid'])} valid)")
        if len(valid) >= 2:
            out.append(f"Counting only valid answers, among the {len(valid)} of {len(models)} tiny models that answer "
                       f"validly at least half the time at T={t}, the most diverse is {said(valid[0])} and the least "
                       f"{said(valid[-1])}.")
        else:  # too few valid models to rank apart: rank them all by valid answers, the share beside each
            every = sorted(models, key=lambda n: -models[n]["valid_vendi"])
            out.append(f"At T={t}, " + (f"only {said(valid[0])} answers" if valid else
                                         f"none of the {len(models)} tiny models answers")
                       + f" validly at least half the time; counting only valid answers, the most diverse is "
                         f"{said(every[0])} and the least {said(every[-1])}.")
        if junk and len(junk) > 3:
            out.append(f"{'All' if len(junk) == len(models) else f'{len(junk)} of the'} {len(models)} models write a "
                       f"valid answer less than half the time: the "
                       f"diversity of all their outputs is mostly invalid output.")
        elif junk:
            vendi = all("vendi" in models[n] for n in junk)
            each = [f"{_pct(models[n]['percent_valid'])} of the time" + (
                f" (Vendi {models[n]['vendi']:.1f} over all its outputs, {models[n]['valid_vendi']:.2f} over its valid ones)"
                if vendi else "") for n in junk]
            out.append(f"{_capital(' and '.join(_the(n) for n in junk))} "
                       f"{'writes' if len(junk) == 1 else 'write'} a valid answer only {' and '.join(each)}: "
                       f"the diversity of all their outputs is mostly invalid output.")
    base = models.get("base")
    if base and "shuffled_baseline" in base and "intra_similarity" in base:
        out.append(f"The base model's answers to one prompt are more alike (similarity {base['intra_similarity']:.2f}) "
                   f"than answers to different prompts ({base['shuffled_baseline']['intra_similarity']:.2f})"
                   if base["intra_similarity"] > base["shuffled_baseline"]["intra_similarity"] else
                   f"The base model's answers to one prompt are no more alike (similarity {base['intra_similarity']:.2f}) "
                   f"than answers to different prompts ({base['shuffled_baseline']['intra_similarity']:.2f})")
        out[-1] += "."
    for name, verdict in m.get("verdicts", {}).items():
        out.append(_diversity_change(name, m.get("references", {}).get(name, "base"), verdict,
                                     _comparison(m, f"comparisons.{name}.answer_entropy"),
                                     _comparison(m, f"comparisons.{name}.vendi")))
    where = m.get("where_rlp_acted")
    if isinstance(where, dict) and isinstance(where.get("rlp"), dict) and isinstance(where.get("cpt_start"), dict):
        s, r = where["cpt_start"], where["rlp"]
        parts = [f"{what} {s[k]:.3f} → {r[k]:.3f}" for k, what in (
            ("answer_entropy", "entropy of the answers its thoughts reach (bits)"), ("correct_share", "share correct"),
            ("valid_share", "share valid"), ("distinct_n", "distinct-2 of the thoughts")) if k in s and k in r]
        if parts:
            out.append(f"Where RLP acted, on {where.get('problems', 'the')} of notebook 03's target problems with "
                       f"{where.get('k', 'k')} thoughts each, from its CPT start to RLP: " + ", ".join(parts)
                       + " (one trained model each: a direction for one seed, not a verdict).")
    if not out:
        raise KeyError("valid_vendi")
    real = m.get("real_model") if isinstance(m.get("real_model"), dict) else {}
    if isinstance(m.get("real_intra_similarity"), (int, float)) and isinstance(m.get("real_shuffled_baseline"), (int, float)):
        temps = real.get("temperatures") or ["?"]
        gap = m["real_intra_similarity"] - m["real_shuffled_baseline"]
        out.append(f"A real chat model, {real.get('name', 'the real model')} ({real.get('quantisation', 'quantised')}), "
                   f"on open-ended prompts at T={temps[0]}: intra-model similarity {m['real_intra_similarity']:.3f} "
                   f"against a shuffled-prompt baseline of {m['real_shuffled_baseline']:.3f}, "
                   + (f"a gap of {gap:+.3f}: its answers to one prompt are more alike than answers to different prompts."
                      if gap > 0 else f"a gap of {gap:+.3f}: its answers to one prompt are no more alike than answers "
                                      f"to different prompts."))
    elif real.get("skipped"):
        out.append("The real-model section was skipped (the model was neither cached nor obtainable).")
    return out


_CHANGE = {"REDUCES": "narrowed", "INCREASES": "widened"}


def _diversity_change(name: str, ref: str, verdict: str, entropy: Comparison | None, vendi: Comparison | None) -> str:
    """One trained variant against the model it was made from: the notebook's verdict (both answer entropy and
    Vendi beyond the noise of sampling draws, in one direction) in words, with the numbers it moved between."""
    if entropy:
        interval = (f", difference {entropy.difference:+.2f} with 95% interval [{entropy.ci_low:+.2f}, {entropy.ci_high:+.2f}]"
                    if entropy.ci_low is not None and entropy.ci_high is not None else "")
        nums = (f"answer entropy {entropy.b_mean:.2f} ± {entropy.b_spread:.2g} → {entropy.a_mean:.2f} ± "
                f"{entropy.a_spread:.2g} bits{interval}"
                + (f", Vendi {vendi.b_mean:.2f} → {vendi.a_mean:.2f}" if vendi else "")
                + f", over {entropy.n_a} sampling draws")
    else:
        nums = ""
    head = f"{_the(name)} against {_the(ref)}, the model it was made from"
    if verdict in _CHANGE:
        both = "lower" if verdict == "REDUCES" else "higher"
        return _capital(f"{head}: {_CHANGE[verdict]} diversity ({nums}; entropy and Vendi both {both} beyond the noise "
                        f"of sampling draws)." if nums else f"{head}: {_CHANGE[verdict]} diversity.")
    return _capital(f"{head}: no clear change in diversity ({nums}; entropy and Vendi do not both move beyond the "
                    f"noise of sampling draws in one direction)." if nums else f"{head}: no clear change in diversity.")


def _the(arm: str) -> str:
    """An arm's readable name as a noun phrase ("the base model", "the CPT start", but "RLP", "CPT(2F)")."""
    name = arm_name(arm)
    return name if name.isupper() or "(" in name else f"the {name}"


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
        seeds = m.get("mix_seeds")
        how = f"{seeds} seeds each, each mix's rate from dev" if seeds else "one seed each: a direction, not a verdict"
        p = m.get("mix_spearman_p")
        chance = ("" if not isinstance(p, (int, float)) or m["gvendi_accuracy_spearman"] is None else
                  ": a ranking better than chance" if p < 0.05 else ": not distinguishable from chance")
        p = f" (permutation p = {p:.3f}{chance})" if isinstance(p, (int, float)) else ""
        out.append(f"Over {len(mixes) or 'the'} equal-size data mixes ({how}), "
                   f"Spearman rho with held-out accuracy is {_rho(m['gvendi_accuracy_spearman'])}{p} for G-Vendi and "
                   f"{_rho(m.get('embedding_vendi_accuracy_spearman'))} for embedding Vendi"
                   + (f"; {m['mixes_above_base']} of {len(mixes)} mixes end above the base student" + (
                       f" ({_pct(m['base_accuracy']['all'])})" if isinstance(m.get("base_accuracy"), dict)
                       and "all" in m["base_accuracy"] else "")
                      + (": no ranking of these mixes measures learning." if m["mixes_above_base"] == 0 else ".")
                      if "mixes_above_base" in m and mixes else "."))
    g, e, acc = (_comparison(m, f"comparisons.{k}") for k in ("g_vendi", "embedding_vendi", "acc"))
    judge = _comparison(m, "comparisons.gvendi_independent")
    if judge:  # the loop optimises its own proxy's G-Vendi; the finding is what it did not optimise
        out.append("Prismatic vs uniform seeding at the same generation budget, judged by what the loop did not "
                   "optimise: " + in_words(judge) + (f"; {in_words(e)}." if e else "."))
    elif g:
        out.append("Prismatic vs uniform seeding at the same generation budget, " + in_words(g)
                   + (f"; {in_words(e)}." if e else "."))
    elif "gvendi_prismatic" in m and "gvendi_uniform" in m:
        out.append(f"G-Vendi of the final pool: prismatic {m['gvendi_prismatic']:.3g} ± "
                   f"{m.get('gvendi_prismatic_spread', 0):.2g} vs uniform {m['gvendi_uniform']:.3g} ± "
                   f"{m.get('gvendi_uniform_spread', 0):.2g} (no verdict recorded).")
    base = m.get("base_accuracy")
    base = (f" (base model {_pct(base['all']) + ' overall, ' if 'all' in base else ''}{_pct(base['id'])} in "
            f"distribution, {_pct(base['ood'])} OOD)" if isinstance(base, dict) and "id" in base and "ood" in base else "")
    if acc:
        splits = [c for c in (_comparison(m, "comparisons.acc_id"), _comparison(m, "comparisons.acc_ood")) if c]
        out.append(f"After training on each pool, {in_words(acc)}{base}"
                   + (" [" + "; ".join(f"{c.metric}: {verdict_words(c)}" for c in splits) + "]" if splits else "") + ".")
    elif "accuracy_prismatic" in m and "accuracy_uniform" in m:
        out.append(f"After training on each pool, held-out accuracy prismatic {m['accuracy_prismatic']:.3g} ± "
                   f"{m.get('accuracy_prismatic_spread', 0):.2g} vs uniform {m['accuracy_uniform']:.3g} ± "
                   f"{m.get('accuracy_uniform_spread', 0):.2g}{base} (no verdict recorded).")
    return out


def _tally(comparisons: list[Comparison]) -> str:
    """Every comparison in one clause: which arm did better on what, by readable names, and how many
    showed no difference beyond their noise (or had no verdict)."""
    wins: dict[str, list[str]] = {}
    ties: dict[str, int] = {}
    unjudged = 0
    for c in comparisons:
        if c.a_beats_b or c.b_beats_a:
            wins.setdefault(arm_name(c.a if c.a_beats_b else c.b), []).append(c.metric)
        elif min(c.n_a, c.n_b) < 2:
            unjudged += 1
        else:
            ties[_noise(c)] = ties.get(_noise(c), 0) + 1
    parts = [f"{winner} did better on {'; '.join(metrics)}" for winner, metrics in sorted(wins.items())]
    for noise, n in sorted(ties.items()):
        parts.append(f"{'the other ' if parts else ''}{n} show{'s' * (n == 1)} no difference beyond {noise}")
    if unjudged:
        parts.append(f"{unjudged} {'has' if unjudged == 1 else 'have'} no verdict (fewer than 2 seeds per arm)")
    return "; ".join(parts)


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
        ceiling = m.get("steerability_bayes")
        ceiling = (f" (a Bayes reader of the community prior reaches a steerability of {ceiling['heldout']:.3g} with "
                   f"the same examples: the most they allow)"
                   if "steerability" in cmp and isinstance(ceiling, dict)
                   and isinstance(ceiling.get("heldout"), (int, float)) else "")
        out.append("On the same tasks, " + "; ".join(in_words(c) for c in rest) + ceiling + ".")
    if len(cmp) > 1:  # the tally over every recorded comparison, so no single verdict is picked out alone
        out.append(f"Of all {len(cmp)} comparisons: " + _tally(list(cmp.values())) + ".")
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
    _checks.text("name", name)
    _checks.dict_("metrics", metrics, what="the notebook's recorded metrics")
    lesson = LESSONS.get(name[:2])
    if lesson is not None:
        try:
            sentences = lesson.finding(metrics)
            if sentences:
                return sentences
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, ZeroDivisionError):
            pass  # a metric renamed or missing: say what can be said rather than break the page
    return _generic(metrics)


