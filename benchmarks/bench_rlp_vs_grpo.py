"""One RLP step (slmlab.rlp) vs TRL's GRPOTrainer doing the same shape of work, side by side.

Same model, same prompts (``Question: ...\\nAnswer: <think>``), same G, thought cap, temperature and
batch; both in float32 (``--bf16`` puts both under bf16 autocast). GRPO is given the same
information-gain reward as a reward function (it scores each thought with the policy and an EMA
copy, which a callback updates after every step), with β = 0 and no std scaling, so both do:
sample B·G thoughts, score them, one optimizer step. Throughput = thought tokens/s and
positions/s; time is split into generation, scoring (reward) and update (everything else).

    python benchmarks/bench_rlp_vs_grpo.py [--model PATH] [--workload base|notebook03] [--positions 8]
                                           [--G 8] [--max-thought N] [--temperature T] [--steps 6]
                                           [--rounds 2] [--threads 0] [--bf16] [--dense]

The two take turns in rounds (RLP then GRPO, ``--steps`` each, the first step of every block
discarded as warm-up) so load from other processes on a shared CPU hits both alike; medians are
printed. Tokens/s counts only generated thought tokens, the same definition for both. CPU time
(process time) per step is printed too: on a shared machine it moves far less than wall time;
``--threads 1`` keeps it free of thread spin-waiting.

Measured (defaults, ``--threads 1``, embedded model, a 2-core CPU; medians of each run's steps; the
base workload unless named):
- before shared-prefix decoding (:mod:`slmlab.prefix_attention`), on a CPU shared at load ≈ 4, RLP did
  2.8x GRPOTrainer's thought tokens per second; after it, 3.0x (four runs each, 2.8-3.4x).
- on an otherwise idle CPU, the lean Llama-family decoding step (:mod:`slmlab.decode_step`) and one
  context pass per step shared by sampling and scoring (:func:`slmlab.thoughts.forward_contexts`),
  runs alternating before/after: before 2.95-3.39x (eight runs, median 3.22x), after 3.01-3.52x (six
  runs, median 3.28x). The RLP step's median went from 0.965 s to 0.906 s (-6%): generation -19% when
  the two decoders alternate in one process, the scoring pass ~-15% (one context pass fewer). The
  run-to-run spread on this machine (about ±8%, GRPOTrainer's step 2.7-3.3 s) is larger than the
  gain in the ratio.
- the sparse update (``RLPConfig.sparse_update``: rewards from each distinct thought once without
  gradient, forward and backward only on the thoughts whose advantage can be non-zero), idle CPU,
  runs alternating with the code before it (72d1274), four runs each:
  base workload: before 3.73/3.01/2.98/3.36x (median 3.19x), after 5.45/6.27/5.40/6.62x (median 5.86x);
  RLP step 0.97 s -> 0.52 s. Here every group's thoughts come out the same (100% of groups without
  reward spread): there is nothing to learn, and the step now runs its update on one thought (with advantage 0)
  instead of back-propagating rounding noise for all 64. notebook03 workload (31% of groups without spread, 38% with
  rewards of both signs): before 3.53/3.13/3.08/3.06x (median 3.11x), after 5.02/5.22/4.85/4.82x
  (median 4.94x); RLP step 1.21 s -> 0.80 s, its scoring + update 0.74 s -> 0.29 s.
Where an RLP step goes now (notebook03 workload, about 0.8 s): generation ~0.46-0.53 s (48 decoding
steps at most, of 64 rows, each a few ms of small matmuls, attention and elementwise ops at this CPU's
speed), the pass over distinct thoughts and the update's forward+backward ~0.3 s, the EMA baseline,
optimizer and EMA update the rest. Tried without gain: shared-prefix attention in the scoring pass
(slower than SDPA over the repeated cache), fusing q/k/v and gate/up projections.
"""
from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch


def _default_model() -> str | None:
    import slmlab
    if (slmlab.EMBEDDED_MODEL / "config.json").exists():
        return None
    from slmlab.checkpoint import latest
    ckpt = latest("runs/embedded")
    return str(ckpt) if ckpt else None


def bench_rlp(model, tokenizer, positions, args, rounds_out: list):
    from slmlab.ema import ema_copy
    from slmlab.rlp import RLPConfig, rlp_step, thought_format
    extra = {"sparse_update": False} if args.dense else {}  # (an older slmlab has no such field)
    cfg = RLPConfig(batch_positions=args.positions, group_size=args.G, max_thought_tokens=args.max_thought,
                    temperature=args.temperature, lr=1e-5, mixed_precision="bf16" if args.bf16 else "no",
                    progress=False, **extra)
    fmt = thought_format(tokenizer, cfg)
    ema = ema_copy(model)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=cfg.betas, weight_decay=0.0)
    state = {"step": 0}

    def run_block(n_steps):
        rows = []
        for _ in range(n_steps):
            s = state["step"]
            idx = [(s * args.positions + i) % len(positions) for i in range(args.positions)]
            t0, c0 = time.perf_counter(), time.process_time()
            row = rlp_step(model, ema, opt, [positions[i] for i in idx], cfg, fmt, s, position_ids=idx)
            row["total_s"], row["cpu_s"] = time.perf_counter() - t0, time.process_time() - c0
            rows.append(row)
            state["step"] += 1
        rounds_out.extend(rows[1:])
    return run_block


def bench_grpo(model, tokenizer, positions_text, answers, args, rounds_out: list):
    from datasets import Dataset
    from transformers import PrinterCallback, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from slmlab.ema import ema_copy, ema_update
    from slmlab.rlp import RLPConfig, answer_positions, information_gain_reward, thought_format

    cfg = RLPConfig(mixed_precision="bf16" if args.bf16 else "no")
    fmt = thought_format(tokenizer, cfg)
    close_id = fmt.close_ids[0]
    # TRL stops a completion at the model's eos ids: add </think> so thoughts end where RLP's do
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, close_id]
    ema = ema_copy(model)
    timers = {"gen": 0.0, "reward": 0.0}

    def info_gain(prompts, completions, completion_ids, answer, **_):
        t0 = time.perf_counter()
        rows = [{"prompt": p[: -len(cfg.think_open)], "answer": a} for p, a in zip(prompts, answer)]
        pos = answer_positions(tokenizer, rows)
        thoughts = [list(c) for c in completion_ids]
        r = information_gain_reward(model, ema, pos, thoughts, fmt, group_size=1, amp=torch.bfloat16 if args.bf16 else None)
        timers["reward"] += time.perf_counter() - t0
        return r.view(-1).tolist()

    ds = Dataset.from_dict({"prompt": positions_text, "answer": answers})
    gcfg = GRPOConfig(output_dir="/tmp/bench_grpo", per_device_train_batch_size=args.positions * args.G,
                      num_generations=args.G, max_completion_length=args.max_thought, temperature=args.temperature,
                      learning_rate=1e-5, beta=0.0, scale_rewards="none", loss_type="grpo",
                      max_steps=args.steps, logging_steps=1, report_to="none", use_cpu=True, bf16=args.bf16,
                      save_strategy="no", disable_tqdm=True, seed=0, top_k=0, dataloader_num_workers=0)

    class Timer(TrainerCallback):
        def on_step_begin(self, a, s, c, **kw):
            self.t0, self.c0 = time.perf_counter(), time.process_time()
            timers.update(gen=0.0, reward=0.0)

        def on_step_end(self, a, s, c, **kw):
            ema_update(ema, model, 0.999)  # the same EMA update RLP does
            self.rows.append({"total_s": time.perf_counter() - self.t0, "cpu_s": time.process_time() - self.c0,
                              "gen_s": timers["gen"],
                              "score_s": timers["reward"]})

        def on_log(self, a, s, c, logs=None, **kw):
            if logs and "completions/mean_length" in logs and self.rows:
                self.rows[-1]["thought_length"] = logs["completions/mean_length"]

    def run_block(n_steps):
        timer = Timer()
        timer.rows = []
        gcfg.max_steps = n_steps
        trainer = GRPOTrainer(model=model, reward_funcs=[info_gain], args=gcfg, train_dataset=ds,
                              processing_class=tokenizer, callbacks=[timer])
        trainer.remove_callback(PrinterCallback)  # keep the output to the summary lines
        original = trainer._generate_single_turn

        def timed(*a, **kw):
            t0 = time.perf_counter()
            out = original(*a, **kw)
            timers["gen"] += time.perf_counter() - t0
            return out
        trainer._generate_single_turn = timed
        trainer.train()
        for row in timer.rows:
            row["positions"] = args.positions
            row["thought_tokens"] = row.get("thought_length", 0.0) * args.positions * args.G
            row["update_s"] = row["total_s"] - row["gen_s"] - row["score_s"]
        rounds_out.extend(timer.rows[1:])
    return run_block


def summarise(name, rows):
    med = lambda k: statistics.median(r[k] for r in rows)
    total = med("total_s")
    out = {"step_s": total, "gen_s": med("gen_s"), "score_s": med("score_s"),
           "update_s": med("update_s") if "update_s" in rows[0] else None,
           "thought_len": med("thought_length"),
           "tokens_per_s": statistics.median(r["thought_tokens"] / r["total_s"] for r in rows),
           "positions_per_s": statistics.median(r["positions"] / r["total_s"] for r in rows),
           "cpu_s": med("cpu_s"),
           "tokens_per_cpu_s": statistics.median(r["thought_tokens"] / r["cpu_s"] for r in rows)}
    if out["update_s"] is None:
        out["update_s"] = total - out["gen_s"] - out["score_s"]
    print(f"{name:>5}: step {total:.3f}s | gen {out['gen_s']:.3f}s  score {out['score_s']:.3f}s  "
          f"update+other {out['update_s']:.3f}s | thought len {out['thought_len']:.1f} | "
          f"{out['tokens_per_s']:.0f} thought tok/s, {out['positions_per_s']:.2f} positions/s | "
          f"{out['cpu_s']:.3f} CPU-s/step, {out['tokens_per_cpu_s']:.0f} thought tok/CPU-s")
    if "frac_reward_zero_std" in rows[0]:  # what there is to learn from: groups whose rewards all agree
        zero = statistics.mean(r["frac_reward_zero_std"] for r in rows)
        print(f"       groups with no reward spread {zero:.0%}, rewards of both signs "
              f"{statistics.mean(r['mixed_sign_frac'] for r in rows):.0%}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=_default_model(), help="model folder (default: embedded, else latest checkpoint)")
    ap.add_argument("--positions", type=int, default=8, help="B: prompts per step")
    ap.add_argument("--G", type=int, default=8, help="thoughts per prompt")
    ap.add_argument("--workload", choices=("base", "notebook03"), default="base",
                    help="base: 3-4-step problems in the base model's number ranges at T 0.7 (every group's "
                         "thoughts come out the same: nothing to learn); notebook03: notebook 03's target "
                         "problems at its thought temperature 1.3 and cap 48 (groups disagree)")
    ap.add_argument("--temperature", type=float, default=None, help="thought temperature (default: the workload's)")
    ap.add_argument("--max-thought", type=int, default=None, help="thought length cap (default: the workload's)")
    ap.add_argument("--dense", action="store_true", help="RLP without its sparse update (RLPConfig.sparse_update)")
    ap.add_argument("--steps", type=int, default=6, help="steps per block (first one is warm-up)")
    ap.add_argument("--rounds", type=int, default=2, help="RLP/GRPO alternations")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    ap.add_argument("--bf16", action="store_true", help="both under bf16 autocast")
    args = ap.parse_args()
    notebook03 = args.workload == "notebook03"
    args.temperature = args.temperature or (1.3 if notebook03 else 0.7)
    args.max_thought = args.max_thought or (48 if notebook03 else 32)
    warnings.filterwarnings("ignore")
    if args.threads:
        torch.set_num_threads(args.threads)
    import transformers
    transformers.logging.set_verbosity_error()
    import slmlab
    from slmlab.problems import ProblemConfig, make_problems
    from slmlab.rlp import answer_positions

    # notebook 03's target problems: numbers and factors past the base model's (see its parameters)
    problem_cfg = (ProblemConfig(min_steps=3, max_steps=4, max_value=60, max_result=300, max_factor=7) if notebook03
                   else ProblemConfig(min_steps=3, max_steps=4))
    problems = make_problems(256, 0, "train", problem_cfg).to_list()
    # two copies of the same starting weights, one per contender
    model_rlp, tokenizer = slmlab.load_model(args.model)
    model_grpo, _ = slmlab.load_model(args.model)
    positions = answer_positions(tokenizer, problems)
    rlp_rows, grpo_rows = [], []
    run_rlp = bench_rlp(model_rlp, tokenizer, positions, args, rlp_rows)
    run_grpo = bench_grpo(model_grpo, tokenizer, [p["prompt"] + "<think>" for p in problems],
                          [p["answer"] for p in problems], args, grpo_rows)
    for _ in range(args.rounds):
        run_rlp(args.steps)
        run_grpo(args.steps)
    print(f"model {args.model or 'embedded'} | {args.workload} workload, T {args.temperature} | torch threads "
          f"{torch.get_num_threads()} | B={args.positions} G={args.G} thought cap {args.max_thought} | "
          f"{'bf16' if args.bf16 else 'fp32'}{' | RLP dense' if args.dense else ''} | "
          f"{len(rlp_rows)} + {len(grpo_rows)} timed steps")
    a, b = summarise("RLP", rlp_rows), summarise("GRPO", grpo_rows)
    print(f"ratio RLP / TRL GRPOTrainer: {a['tokens_per_s'] / b['tokens_per_s']:.2f}x thought tokens/s, "
          f"{a['positions_per_s'] / b['positions_per_s']:.2f}x positions/s "
          f"(step time {b['step_s'] / a['step_s']:.2f}x shorter); per CPU-second "
          f"{a['tokens_per_cpu_s'] / b['tokens_per_cpu_s']:.2f}x (robust to other load on a shared CPU)")


if __name__ == "__main__":
    main()
