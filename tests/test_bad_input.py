"""Every public function refuses bad input clearly: one table of (callable, args, exception, fragment).

A row calls ``callable(*args)`` (keyword arguments ride in a ``functools.partial``) and expects the
exception type and a fragment of its message that names the argument or the allowed values. The
placeholders MODEL and TOK stand for the embedded model and its tokenizer, loaded once;
``Place("name")`` stands for a prepared path (a file where a folder is expected, broken model
folders: see the ``places`` fixture). A command-line row expects an int exit code instead: the
command must return it and print exactly one line to stderr, with the fragment and no traceback.
"""
import json
import random
import shutil
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path

import numpy as np
import pytest

import slmlab
from slmlab import (checkpoint, comparison, curation, diversity, ema, embeddings, evaluation, experiment, leaks, models, profiles,
                    raw_corpus, report, rlp, runner, runtime, sampling, synthesis, thoughts, training)
from slmlab.__main__ import main as cli
from slmlab.rlp import RLPConfig
from slmlab.training import TrainConfig

NAN, INF = float("nan"), float("inf")
MODEL, TOK = object(), object()   # replaced by the embedded model and tokenizer at run time

E2 = np.eye(2, 4)                               # two unit rows
E_NAN = np.array([[1.0, 0, 0, 0], [NAN, 1, 0, 0]])   # a NaN embedding
E_INF = np.array([[1.0, 0, 0, 0], [INF, 1, 0, 0]])
PROBLEM = {"prompt": "Question: Mia has 3 apples. She buys 2 more. How many apples now?\nAnswer: ",
           "answer": 5, "n_steps": 1, "steps": "3+2=5.", "question": "Mia has 3 apples. She buys 2 more. How many apples now?"}
POOL = [{"text": "Question: a\nAnswer: 1", "key": "k1", "n_steps": 1, "steps": "1+0=1."},
        {"text": "Question: b\nAnswer: 2", "key": "k2", "n_steps": 1, "steps": "1+1=2."}]


def _tok():
    """The embedded tokenizer, for rows that build a model at import (cheap: a tokenizer file)."""
    from transformers import AutoTokenizer
    from slmlab import EMBEDDED_MODEL
    return AutoTokenizer.from_pretrained(str(EMBEDDED_MODEL))


def _file(name: str, text: str) -> str:
    path = Path(tempfile.gettempdir()) / f"slmlab-bad-input-{name}"
    path.write_text(text)
    return str(path)


BAD_JSON = _file("broken.json", "{not json")
LIST_JSON = _file("list.json", "[1, 2]")


def P(fn, **kw):
    """A partial that reads well in the table."""
    return partial(fn, **kw)


class Place(str):
    """A path prepared by the ``places`` fixture, named in a row before the fixture exists."""


def cli_subprocess(*argv):
    """The real ``python -m slmlab``: returns (exit code, stderr)."""
    proc = subprocess.run([sys.executable, "-m", "slmlab", *argv], capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stderr


def _write_nothing(folder):
    (folder / "x.json").write_text("{}")


CASES = [
    # ---------------------------------------------------------------- diversity
    (diversity.vendi_score, (E_NAN,), ValueError, "NaN"),
    (diversity.vendi_score, (np.zeros((0, 3)),), ValueError, "non-empty 2-D"),
    (diversity.vendi_score, (np.ones(3),), ValueError, "2-D"),
    (diversity.vendi_score, (np.zeros((2, 3)),), ValueError, "all-zero row"),
    (P(diversity.vendi_score, q=-1), (E2,), ValueError, "q=-1"),
    (P(diversity.vendi_score, q=NAN), (E2,), ValueError, "q=nan"),
    (P(diversity.vendi_score, dtype=np.int32), (E2,), ValueError, "dtype="),
    (diversity.vendi_score_kernel, (np.array([[1.0, NAN], [NAN, 1.0]]),), ValueError, "NaN"),
    (diversity.vendi_score_kernel, (np.array([[1.0, 0.5], [0.2, 1.0]]),), ValueError, "symmetric"),
    (diversity.vendi_score_kernel, (np.array([[2.0, 0.0], [0.0, 2.0]]),), ValueError, "unit diagonal"),
    (diversity.vendi_score_kernel, (np.ones((2, 3)),), ValueError, "square"),
    (diversity.eigenvalue_entropy, ([],), ValueError, "eigenvalues is empty"),
    (diversity.eigenvalue_entropy, ([0.5, NAN],), ValueError, "NaN"),
    (diversity.eigenvalue_entropy, ([-1.0, -2.0],), ValueError, "positive value"),
    (diversity.mean_pairwise_similarity, (E_NAN,), ValueError, "NaN"),
    (diversity.mean_pairwise_similarity, (E_INF,), ValueError, "inf"),
    (diversity.mean_pairwise_similarity, (np.eye(1, 3),), ValueError, "at least 2 rows"),
    (diversity.intra_model_similarity, ([E2, E_NAN],), ValueError, "embeddings_by_prompt[1]"),
    (diversity.intra_model_similarity, ([],), ValueError, "is empty"),
    (diversity.intra_model_similarity, ([E2, np.eye(2, 5)],), ValueError, "embeddings_by_prompt[1] has dimension 5"),
    (diversity.inter_model_similarity, ([E2], [E2, E2]), ValueError, "align them by prompt"),
    (diversity.inter_model_similarity, ([E2], [E_NAN]), ValueError, "NaN"),
    (diversity.cross_model_neighbour_share, (np.eye(3), ["a", "b"]), ValueError, "model_labels has 2 entries"),
    (diversity.cross_model_neighbour_share, (np.eye(3), ["a", "a", "a"]), ValueError, "at least two models"),
    (P(diversity.cross_model_neighbour_share, k=3), (np.eye(3), ["a", "b", "a"]), ValueError, "k=3"),
    (P(diversity.cross_model_neighbour_share, k=1), (np.array([[1.0, 0], [NAN, 1], [0, 1]]), ["a", "b", "a"]),
     ValueError, "NaN"),
    (diversity.shuffled_prompt_baseline, ([E2],), ValueError, "at least two prompts"),
    (P(diversity.shuffled_prompt_baseline, n_shuffles=0), ([E2, E2],), ValueError, "n_shuffles=0"),
    (diversity.shuffled_prompt_baseline, ([E2, E2], [E2]), ValueError, "as many prompts"),
    (diversity.distinct_n, ("one string",), ValueError, "not a single string"),
    (diversity.distinct_n, ([],), ValueError, "non-empty list of strings"),
    (P(diversity.distinct_n, n=0), (["a b"],), ValueError, "n=0"),
    (diversity.distinct_n, (["a"],), ValueError, "fewer than 2 words"),
    (diversity.self_bleu, (["only one"],), ValueError, "at least 2"),
    (P(diversity.self_bleu, max_ngram_order=0), (["a b", "a c"],), ValueError, "max_ngram_order=0"),
    (diversity.answer_entropy, ([],), ValueError, "at least 1"),
    (diversity.answer_entropy, (["a", 3],), ValueError, "only strings"),
    (P(diversity.answer_entropy, base=1), (["a"],), ValueError, "base=1"),
    (P(diversity.answer_entropy, base=NAN), (["a"],), ValueError, "base=nan"),
    # ---------------------------------------------------------------- embeddings
    (P(embeddings.embed, encoder=lambda t: np.full((len(t), 3), NAN)), (["a", "b"],), ValueError, "NaN"),
    (P(embeddings.embed, encoder=lambda t: np.zeros((len(t), 3))), (["a", "b"],), ValueError, "all-zero"),
    (P(embeddings.embed, encoder=lambda t: np.ones((1, 3))), (["a", "b"],), ValueError, "expected (2, d)"),
    (embeddings.embed, ("a text",), ValueError, "not a single string"),
    (embeddings.embed, ([],), ValueError, "non-empty list of strings"),
    (P(embeddings.embed, batch_size=0), (["a"],), ValueError, "batch_size=0"),
    (P(embeddings.embed, max_length=0, encoder=lambda t: np.ones((len(t), 2))), (["a"],), ValueError, "max_length=0"),
    (P(embeddings.embed, encoder=42), (["a"],), ValueError, "encoder=42"),
    # ---------------------------------------------------------------- sampling
    (sampling.sample, (MODEL, TOK, "a prompt"), ValueError, "non-empty list of strings"),
    (sampling.sample, (MODEL, TOK, []), ValueError, "non-empty list of strings"),
    (sampling.sample, (MODEL, TOK, ["a", 3]), ValueError, "only strings"),
    (P(sampling.sample, temperature=-0.5), (MODEL, TOK, ["a"]), ValueError, "temperature=-0.5"),
    (P(sampling.sample, temperature=NAN), (MODEL, TOK, ["a"]), ValueError, "temperature=nan"),
    (P(sampling.sample, temperature=INF), (MODEL, TOK, ["a"]), ValueError, "temperature=inf"),
    (P(sampling.sample, top_p=0.0), (MODEL, TOK, ["a"]), ValueError, "top_p=0.0"),
    (P(sampling.sample, top_p=NAN), (MODEL, TOK, ["a"]), ValueError, "top_p=nan"),
    (P(sampling.sample, min_p=1.5), (MODEL, TOK, ["a"]), ValueError, "min_p=1.5"),
    (P(sampling.sample, min_p=NAN), (MODEL, TOK, ["a"]), ValueError, "min_p=nan"),
    (P(sampling.sample, max_new_tokens=0), (MODEL, TOK, ["a"]), ValueError, "max_new_tokens=0"),
    (P(sampling.sample, batch_size=0), (MODEL, TOK, ["a"]), ValueError, "batch_size=0"),
    (P(sampling.sample, seed=-1), (MODEL, TOK, ["a"]), ValueError, "seed=-1"),
    (P(sampling.sample, max_new_tokens=1000), (MODEL, TOK, ["a"]), ValueError, "context"),
    (sampling.sample, (MODEL, TOK, ["word " * 400]), ValueError, "context"),
    # ---------------------------------------------------------------- models
    (models.train_tokenizer, ([],), ValueError, "non-empty iterable of strings"),
    (P(models.train_tokenizer, vocab_size=100), (["abc"],), ValueError, "vocab_size=100"),
    (P(models.tiny_llama_config, hidden_size=0), (TOK,), ValueError, "hidden_size=0"),
    (P(models.tiny_llama_config, hidden_size=10, n_heads=3), (TOK,), ValueError, "divisible by n_heads=3"),
    (P(models.tiny_llama_config, n_layers=2.5), (TOK,), ValueError, "n_layers=2.5"),
    (P(models.tiny_llama_config, max_positions=0), (TOK,), ValueError, "max_positions=0"),
    (P(models.tiny_llama_config, intermediate_size=-4), (TOK,), ValueError, "intermediate_size=-4"),
    (models.build_model, ("not a config",), TypeError, "config must be a LlamaConfig"),
    (P(models.build_model, seed=-1), ("a config",), ValueError, "seed=-1"),
    (models.count_parameters, ("not a model",), TypeError, "model must be a torch.nn.Module"),
    (models.load_model, ("/nonexistent/folder",), FileNotFoundError, "does not exist"),
    (models.load_model, (42,), ValueError, "name_or_path=42"),
    # ---------------------------------------------------------------- runtime
    (runtime.pick_device, ("tpu",), ValueError, "'auto', 'cpu', 'cuda[:N]', 'mps'"),
    (runtime.pick_device, (3,), ValueError, "must be a string"),
    (runtime.pick_dtype, (runtime.pick_device("cpu"), "float8"), ValueError, "dtype='float8'"),
    (runtime.seed_everything, (-1,), ValueError, "seed=-1"),
    (runtime.seed_everything, (1.5,), ValueError, "seed=1.5"),
    (runtime.seed_everything, (True,), ValueError, "seed=True"),
    # ---------------------------------------------------------------- report
    (report.record, ("", {}), ValueError, "notebook must be the notebook's name"),
    (report.record, ("00_x", [1, 2]), ValueError, "metrics must be a dict"),
    (report.record, ("00_x", {"a": object()}), ValueError, "metric 00_x.a"),
    (report.atomic_write_text, ("/tmp", "x"), ValueError, "is a folder"),
    (report.atomic_write_text, ("/tmp/slmlab-bad-input.txt", 3), TypeError, "text must be a str"),
    (report.read_metrics, ("/tmp",), ValueError, "is a folder"),
    (report.read_metrics, (BAD_JSON,), ValueError, "is not valid JSON"),
    (report.read_metrics, (LIST_JSON,), ValueError, "not a dict of metrics"),
    # ---------------------------------------------------------------- experiment
    (experiment.compare, ([1.0, 2.0], [1.0, NAN]), ValueError, "b[1]=nan must be finite"),
    (experiment.compare, ([], [1.0]), ValueError, "a is empty"),
    (experiment.compare, ("0.5", [1.0]), TypeError, "list of numbers"),
    (P(experiment.compare, names=("a",)), ([1.0], [1.0]), ValueError, "two strings"),
    (P(experiment.compare, higher_is_better="yes"), ([1.0], [1.0]), TypeError, "higher_is_better="),
    (P(experiment.run_arms, evaluate=len), ({}, [0]), ValueError, "non-empty dict"),
    (P(experiment.run_arms, evaluate=len), ({"a": 3}, [0]), TypeError, "arms['a'] must be a callable"),
    (P(experiment.run_arms, evaluate=len), ({"a": lambda s, lr: 0}, [0, 0]), ValueError, "repeats a seed"),
    (P(experiment.run_arms, evaluate=len), ({"a": lambda s, lr: 0}, [-1]), ValueError, "non-negative ints"),
    (P(experiment.run_arms, evaluate=lambda m, split: 1.0, progress=False), ({"a": lambda s, lr: 0}, [0]),
     TypeError, "must return a dict"),
    (P(experiment.run_arms, evaluate=len), ({"a": lambda s, lr: 0}, 3), TypeError, "seeds=3 must be a list of seeds"),
    (P(experiment.run_arms, evaluate=len, lr_grid="1e-3", select="x"), ({"a": lambda s, lr: 0}, [0]), ValueError,
     "non-empty list of learning rates"),
    (experiment.finetune_copy, (MODEL, TOK, ["x"], {"steps": 1}), TypeError, "cfg must be a TrainConfig"),
    (P(experiment.compare, items_a=[[1, 0], [0, 1]]), ([1.0], [1.0]), ValueError, "items_a and items_b go together"),
    (P(comparison.minimal_detectable_effect, seed_sd=-0.1, n_seeds=3, n_items=10, item_sd=0.1), (), ValueError,
     "seed_sd=-0.1"),
    (P(comparison.minimal_detectable_effect, seed_sd=0.1, n_seeds=0, n_items=10, item_sd=0.1), (), ValueError,
     "n_seeds=0"),
    (P(comparison.minimal_detectable_effect, seed_sd=0.1, n_seeds=3, n_items=10, item_sd=0.1, power=1.0), (),
     ValueError, "power=1.0"),
    (comparison.detectable_from_items, ([[1, 0, 1]],), ValueError, ">= 2 seeds"),
    (comparison.detectable_from_items, ("abc",), TypeError, "one list of per-item scores per seed"),
    (runtime.derive_seed, (-1, "a"), ValueError, "seed=-1"),
    (runtime.derive_seed, ("abc", "a"), ValueError, "seed='abc'"),
    (runtime.derive_seed, (0, 1.5), TypeError, "names[0]=1.5"),
    (P(TrainConfig, warmup_ratio=1.5), (), ValueError, "warmup_ratio=1.5"),
    (experiment.mean_spread, ([1.0, INF],), ValueError, "values[1]=inf must be finite"),
    (experiment.collect, ({"a": [{"x": 1, "seed": 0}]}, "b", "x"), ValueError, "arm='b' is not among"),
    (experiment.collect, ({"a": [{"x": 1, "seed": 0}]}, "a", "y"), ValueError, "metric='y' is missing"),
    (experiment.train_flops, (0, 100), ValueError, "n_params=0"),
    (experiment.train_flops, (10, NAN), ValueError, "tokens=nan"),
    (experiment.matched_steps, (1.0, 10, runtime), TypeError, "TrainConfig"),
    (experiment.matched_steps, (INF, 10, None), ValueError, "flops=inf"),
    (experiment.matched_steps, (-1.0, 10, None), ValueError, "flops=-1.0"),
    # ---------------------------------------------------------------- profiles
    (profiles.sizes, ("99_nothing", "smoke"), ValueError, "has no sizes"),
    (profiles.sizes, ("01_data_curation", "huge"), ValueError, "not a known profile"),
    (P(profiles.sizes, n_layers=3), ("01_data_curation", "smoke"), ValueError, "not a size of 01_data_curation"),
    (P(profiles.sizes, n_docs=2.5), ("01_data_curation", "smoke"), TypeError, "n_docs=2.5 must be an int"),
    (P(profiles.sizes, temperatures=(0.7, NAN)), ("04_mode_collapse", "smoke"), ValueError, "temperatures"),
    (P(profiles.sizes, temperatures=()), ("04_mode_collapse", "smoke"), ValueError, "temperatures"),
    # ---------------------------------------------------------------- curation
    (curation.normalise_batch, ({"body": ["a"]},), ValueError, "text_column='text' is not in the batch"),
    (curation.normalise_batch, ({"text": ["a", 3]},), ValueError, "must hold strings"),
    (P(curation.HeuristicRules, min_words=10, max_words=5), (), ValueError, "min_words <= max_words"),
    (P(curation.MinHashParams, bands=0), (), ValueError, "bands=0"),
    (curation.exact_duplicate_reasons, (["h1", "h2"], [1]), ValueError, "doc_ids has 1"),
    (curation.minhash_near_duplicates, ([[1, 2, 3]],), ValueError, "expected num_perm=112"),
    (curation.minhash_near_duplicates, ([[1] * 112, [2] * 112], curation.MinHashParams(), [7]), ValueError,
     "doc_ids has 1"),
    (curation.lsh_match_probability, (1.5,), ValueError, "similarity"),
    (curation.lsh_match_probability, (NAN,), ValueError, "similarity"),
    (P(curation.lsh_match_probability, bands=0), (0.5,), ValueError, "bands=0"),
    (curation.fit_quality_scorer, (["a", "b"], [1]), ValueError, "equal length"),
    (curation.fit_quality_scorer, (["a", "b"], [1, 1]), ValueError, "both 0 (junk) and 1 (good)"),
    (curation.quality_batch, ({"text": ["a"]}, "no scorer"), ValueError, "fitted QualityScorer"),
    (curation.eval_ngram_index, ([],), ValueError, "eval_texts is empty"),
    (P(curation.eval_ngram_index, n=0), (["a b c"],), ValueError, "n=0"),
    (curation.eval_reference_texts, ([],), ValueError, "non-empty eval split"),
    (P(curation.decontamination_batch, n=0), ({"text": ["a"]}, frozenset()), ValueError, "n=0"),
    (P(curation.CurationConfig, quality_threshold=NAN), (), ValueError, "quality_threshold=nan"),
    (P(curation.CurationConfig, quality_threshold=1.5), (), ValueError, "quality_threshold=1.5"),
    (P(curation.CurationConfig, stages=("dedup_everything",)), (), ValueError, "unknown"),
    (P(curation.CurationConfig, batch_size=0), (), ValueError, "batch_size=0"),
    (curation.check_dataset, ([{"text": "a"}],), ValueError, "must be a datasets.Dataset"),
    (curation.verify_solution, (None,), TypeError, "text must be a str"),
    # ---------------------------------------------------------------- raw corpus
    (raw_corpus.make_raw_corpus, (5, 0, None), ValueError, "n_docs=5"),
    (P(raw_corpus.make_raw_corpus, leak_share=NAN), (100, 0, None), ValueError, "leak_share=nan"),
    (raw_corpus.make_raw_corpus, (100, 0, None), ValueError, "eval_problems must be a non-empty eval split"),
    (P(raw_corpus.DefectRates, spam=NAN), (), ValueError, "DefectRates.spam=nan"),
    (P(raw_corpus.DefectRates, spam=0.5, wrong_solution=0.5), (), ValueError, "sum to"),
    (raw_corpus.make_quality_examples, (5, 0), ValueError, "n=5"),
    (P(raw_corpus.make_raw_corpus, leak_kinds=("copy",)), (100, 0, None), ValueError, "leak_kinds=('copy',)"),
    (P(raw_corpus.make_raw_corpus, leak_kinds=()), (100, 0, None), ValueError, "leak_kinds=()"),
    (P(raw_corpus.make_raw_corpus, leak_kinds="page"), (100, 0, None), ValueError, "leak_kinds='page'"),
    (leaks.leak_copy, (PROBLEM, "tweet", random.Random(0)), ValueError, "kind='tweet'"),
    (leaks.paraphrase_question, ("Buy cheap apples now.", random.Random(0)), ValueError, "not in the problems grammar"),
    (leaks.number_leak_matches, ("Question: 3 apples", [PROBLEM]), TypeError, "not one string"),
    (leaks.number_leak_matches, (["Question: 3 apples", 7], [PROBLEM]), TypeError, "got int"),
    (leaks.number_leak_matches, (["Question: 3 apples"], []), ValueError, "'question' and 'answer'"),
    (leaks.number_leak_matches, (["Question: 3 apples"], [{"question": "3 apples"}]), ValueError, "problems must"),
    # ---------------------------------------------------------------- synthesis
    (P(synthesis.SynthesisConfig, k_shot=-1), (), ValueError, "k_shot=-1"),
    (P(synthesis.SynthesisConfig, temperature=NAN), (), ValueError, "temperature=nan"),
    (P(synthesis.SynthesisConfig, top_p=1.5), (), ValueError, "top_p=1.5"),
    (P(synthesis.SynthesisConfig, min_p=-0.1), (), ValueError, "min_p=-0.1"),
    (P(synthesis.SynthesisConfig, templates=("essay",)), (), ValueError, "choose from"),
    (P(synthesis.SynthesisConfig, rounds=0), (), ValueError, "rounds=0"),
    (P(synthesis.SynthesisConfig, seed=-3), (), ValueError, "seed=-3"),
    (P(synthesis.SynthesisConfig, target=(99, 999)), (), ValueError, "target=(99, 999) must be None or"),
    (P(synthesis.SynthesisConfig, target=slmlab.problems.HARDER, strict=False), (), ValueError, "target needs strict"),
    (synthesis.draw_attributes, (random.Random(0), {"max_value": 99}), ValueError, "must be None or a slmlab.problems"),
    (P(synthesis.build_prompts, target="HARDER"), ([], 1, "attribute", 0, random.Random(0)), ValueError,
     "target='HARDER'"),
    (P(synthesis.SynthesisConfig, example_steps={2: 0}), (), ValueError, "example_steps="),
    (P(synthesis.build_prompts, example_steps=[(2, 1)]), ([], 1, "attribute", 0, random.Random(0)), ValueError,
     "example_steps="),
    (P(synthesis.step_succession, n_per_level=0), (None, None, [{"n_steps": 1}]), ValueError, "n_per_level=0"),
    (slmlab.problems.fits, ("Mia likes plums.", slmlab.problems.HARDER), ValueError, "not written in this grammar"),
    (slmlab.problems.fits, (PROBLEM["question"], {"max_value": 9}), ValueError, "cfg must be a ProblemConfig"),
    (synthesis.render_prompt, ("essay",), ValueError, "template='essay'"),
    (P(synthesis.render_prompt, style="document"), ("zero_shot", ["x"]), ValueError, "takes no examples"),
    (P(synthesis.render_prompt, style="document"), ("attribute", ["x"]), ValueError, "needs attributes"),
    (synthesis.render_prompt, ("few_shot", ["x"]), ValueError, "needs the tokenizer"),
    (synthesis.build_prompts, (POOL, 3, "few_shot", 5, random.Random(0)), ValueError, "k_shot=5 is larger than"),
    (synthesis.build_prompts, (POOL, -1, "few_shot", 1, random.Random(0)), ValueError, "n=-1"),
    (synthesis.build_prompts, (POOL, 2, (), 1, random.Random(0)), ValueError, "templates"),
    (P(synthesis.build_prompts, max_prompt_tokens=50), (POOL, 2, "few_shot", 1, random.Random(0)), ValueError,
     "needs the tokenizer"),
    (synthesis.pool_from_problems, ([],), ValueError, "problems"),
    (synthesis.verify_problem, ("not a dict",), TypeError, "problem must be"),
    # ---------------------------------------------------------------- EMA and thought positions
    (ema.ema_update, (MODEL, MODEL, NAN), ValueError, "decay=nan"),
    (ema.ema_update, (MODEL, MODEL, 1.5), ValueError, "decay=1.5"),
    (ema.ema_update, (MODEL, models.build_model(models.tiny_llama_config(_tok(), n_layers=1)), 0.9), ValueError,
     "different parameters"),
    (thoughts.answer_positions, (TOK, []), ValueError, "non-empty"),
    (thoughts.uniform_positions, (TOK, "one text", 2, 0), ValueError, "not a single string"),
    (thoughts.uniform_positions, (TOK, ["a b c"], 0, 0), ValueError, "n=0"),
    (P(thoughts.uniform_positions, min_context=0), (TOK, ["a b c"], 2, 0), ValueError, "min_context=0"),
    (thoughts.uniform_positions, (TOK, ["a b c"], 2, -1), ValueError, "seed=-1"),
    (thoughts.uniform_positions, (TOK, ["a b"], 2, 0), ValueError, "no document is longer than"),
    # ---------------------------------------------------------------- evaluation
    (evaluation.answer_accuracy, (MODEL, TOK, []), ValueError, "problems is empty"),
    (evaluation.answer_accuracy, (MODEL, TOK, [{"question": "x"}]), ValueError, "lack column"),
    (P(evaluation.answer_accuracy, max_new_tokens=0), (MODEL, TOK, [PROBLEM]), ValueError, "max_new_tokens=0"),
    (evaluation.token_loss, (MODEL, TOK, []), ValueError, "texts is empty"),
    (evaluation.token_loss, (MODEL, TOK, "one text"), ValueError, "not a single string"),
    (evaluation.token_loss, (MODEL, TOK, ["word " * 400]), ValueError, "context"),
    (P(evaluation.token_loss, batch_size=0), (MODEL, TOK, ["a"]), ValueError, "batch_size=0"),
    (evaluation.answer_logprob, (MODEL, TOK, [{"prompt": "x"}]), ValueError, "lack column"),
    (evaluation.answer_logprob, (MODEL, TOK, [{"prompt": "x", "answer": 3}]), ValueError, "steps"),
    (evaluation.answer_loss, (MODEL, TOK, []), ValueError, "problems is empty"),
    (evaluation.answer_loss, (MODEL, TOK, [{"prompt": "x", "answer": 3}]), ValueError, "lack column 'steps'"),
    (evaluation.answer_loss, (MODEL, TOK, [{**PROBLEM, "steps": ""}]), ValueError, "without worked steps"),
    # ---------------------------------------------------------------- the command line (exit code 1, one line)
    (cli, (["run", "--profile", "smoke", "--out", Place("file")],), 1, "is a file, not a folder"),
    (cli, (["run", "--profile", "smoke", "--out", Place("under_file")],), 1, "cannot be written"),
    (cli, (["run", "--profile", "turbo"],), 1, "profile='turbo' is not a known profile"),
    (cli, (["run", "--profile", "smoke", "--only", "99"],), 1, "no notebook numbered ['99']"),
    (cli, (["run", "--profile", "smoke", "--only", "00,98"],), 1, "no notebook numbered ['98']"),
    (cli, (["run", "--profile", "smoke", "--model", Place("empty_dir")],), 1, "is empty"),
    (cli, (["run", "--profile", "smoke", "--model", Place("corrupt_model")],), 1, "model.safetensors' is damaged"),
    (cli, (["run", "--profile", "smoke", "--model", Place("cut_model")],), 1, "model.safetensors' is damaged"),
    (cli, (["run", "--profile", "smoke", "--model", Place("no_config")],), 1, "has no config.json"),
    (cli, (["run", "--profile", "smoke", "--model", Place("pickle_model")],), 1, "only safetensors are loaded"),
    (cli, (["run", "--profile", "smoke", "--model", Place("missing")],), 1, "no such folder"),
    (cli, (["run", "--profile", "smoke", "--device", "tpu"],), 1, "device='tpu' is not one of"),
    (cli, (["run", "--profile", "smoke", "--seed", "-3"],), 1, "seed=-3 must be an int >= 0"),
    (cli, (["train-embedded", "--out", Place("file")],), 1, "is not a model folder"),
    (cli, (["train-embedded", "--out", Place("not_a_model")],), 1, "is not a model folder"),
    (cli, (["train-embedded", "--steps", "5", "--out", Place("new_dir")],), 1, "warmup_steps=100 must be <= steps=5"),
    (cli_subprocess, ("run", "--profile", "smoke", "--out", Place("file")), 1, "is a file, not a folder"),
    # ---------------------------------------------------------------- loading a model folder
    (models.load_model, (Place("empty_dir"),), FileNotFoundError, "is empty"),
    (models.load_model, (Place("no_config"),), FileNotFoundError, "has no config.json"),
    (models.load_model, (Place("no_tokenizer"),), FileNotFoundError, "has no tokenizer"),
    (models.load_model, (Place("pickle_model"),), FileNotFoundError, "only safetensors are loaded"),
    (models.load_model, (Place("corrupt_model"),), ValueError, "model.safetensors' is damaged"),
    (models.load_model, (Place("cut_model"),), ValueError, "model.safetensors' is damaged"),
    (models.load_model, (Place("file"),), FileNotFoundError, "does not exist"),
    # ---------------------------------------------------------------- the runner
    (runner.find_notebooks, ("99",), ValueError, "no notebook numbered"),
    (P(runner.find_notebooks, folder=Place("missing")), (), ValueError, "does not exist"),
    (P(runner.find_notebooks, folder=Place("empty_dir")), (), ValueError, "no notebooks found"),
    (runner.run_collection, ("fast",), ValueError, "not a known profile"),
    (P(runner.run_collection, out=Place("file")), ("smoke",), ValueError, "is a file"),
    (P(runner.run_collection, seed=1.5), ("smoke",), ValueError, "seed=1.5"),
    # ---------------------------------------------------------------- pretraining settings
    (P(TrainConfig, grad_clip=-1.0), (), ValueError, "grad_clip=-1.0 must be a finite number >= 0.0"),
    (P(TrainConfig, grad_clip=NAN), (), ValueError, "grad_clip=nan"),
    (P(TrainConfig, grad_clip=INF), (), ValueError, "grad_clip=inf"),
    (P(TrainConfig, grad_clip="1"), (), TypeError, "grad_clip='1' must be a number"),
    (P(TrainConfig, lr=0.0), (), ValueError, "lr=0.0 must be a finite number > 0.0"),
    (P(TrainConfig, lr=-3e-3), (), ValueError, "lr=-0.003"),
    (P(TrainConfig, lr=NAN), (), ValueError, "lr=nan"),
    (P(TrainConfig, lr=INF), (), ValueError, "lr=inf"),
    (P(TrainConfig, lr=True), (), TypeError, "lr=True must be a number"),
    (P(TrainConfig, warmup_steps=301), (), ValueError, "warmup_steps=301 must be <= steps=300"),
    (P(TrainConfig, warmup_steps=-1), (), ValueError, "warmup_steps=-1 must be an int >= 0"),
    (P(TrainConfig, warmup_steps=2.5), (), ValueError, "warmup_steps=2.5 must be an int"),
    (P(TrainConfig, keep_checkpoints=0), (), ValueError, "keep_checkpoints=0 must be an int >= 1"),
    (P(TrainConfig, keep_checkpoints=-2), (), ValueError, "keep_checkpoints=-2"),
    (P(TrainConfig, keep_checkpoints=1.5), (), ValueError, "keep_checkpoints=1.5"),
    (P(TrainConfig, min_lr_ratio=1.5), (), ValueError, "min_lr_ratio=1.5 must be a finite number >= 0.0 and <= 1.0"),
    (P(TrainConfig, min_lr_ratio=NAN), (), ValueError, "min_lr_ratio=nan"),
    (P(TrainConfig, weight_decay=-0.1), (), ValueError, "weight_decay=-0.1"),
    (P(TrainConfig, betas=(1.0, 0.95)), (), ValueError, "betas=(1.0, 0.95) must be two numbers in [0, 1)"),
    (P(TrainConfig, betas=(0.9,)), (), ValueError, "betas=(0.9,)"),
    (P(TrainConfig, betas=(NAN, 0.9)), (), ValueError, "betas=(nan, 0.9)"),
    (P(TrainConfig, eval_every=-1), (), ValueError, "eval_every=-1"),
    (P(TrainConfig, checkpoint_every=-5), (), ValueError, "checkpoint_every=-5"),
    (P(TrainConfig, steps=0), (), ValueError, "steps=0 must be a positive int"),
    (P(TrainConfig, steps=10.0), (), ValueError, "steps=10.0 must be a positive int"),
    (P(TrainConfig, batch_size=0), (), ValueError, "batch_size=0"),
    (P(TrainConfig, block_size=-8), (), ValueError, "block_size=-8"),
    (P(TrainConfig, seed=-1), (), ValueError, "seed=-1"),
    (P(TrainConfig, mixed_precision="fp8"), (), ValueError, "mixed_precision='fp8' must be 'auto', 'bf16' or 'no'"),
    # the folder is checked first, before the model is looked at: None stands in for the model here
    (P(training.pretrain, out_dir=Place("file")), (None, None, ["text"]), ValueError, "is a file"),
    (training.document_exposures, (TOK, [], training.TrainConfig()), ValueError, "texts is empty"),
    (training.document_exposures, (TOK, ["hi"], training.TrainConfig(block_size=512)), ValueError,
     "fewer than one block of 512"),
    (P(training.document_exposures, seeds=[]), (TOK, ["hi"], training.TrainConfig()), ValueError, "seeds=[]"),
    (P(training.document_exposures, seeds=[0.5]), (TOK, ["hi"], training.TrainConfig()), ValueError, "seeds=[0.5]"),
    # ---------------------------------------------------------------- RLP settings
    (P(RLPConfig, grad_clip=-1.0), (), ValueError, "grad_clip=-1.0"),
    (P(RLPConfig, grad_clip=NAN), (), ValueError, "grad_clip=nan"),
    (P(RLPConfig, lr=NAN), (), ValueError, "lr=nan"),
    (P(RLPConfig, lr=0), (), ValueError, "lr=0 must be a finite number > 0.0"),
    (P(RLPConfig, adam_eps=0.0), (), ValueError, "adam_eps=0.0"),
    (P(RLPConfig, kl_beta=-0.1), (), ValueError, "kl_beta=-0.1"),
    (P(RLPConfig, kl_beta=NAN), (), ValueError, "kl_beta=nan"),
    (P(RLPConfig, clip_low=-0.2), (), ValueError, "clip_low=-0.2"),
    (P(RLPConfig, clip_high=NAN), (), ValueError, "clip_high=nan"),
    (P(RLPConfig, weight_decay=INF), (), ValueError, "weight_decay=inf"),
    (P(RLPConfig, betas=(0.9, 1.2)), (), ValueError, "betas=(0.9, 1.2)"),
    (P(RLPConfig, temperature=NAN), (), ValueError, "temperature=nan"),
    (P(RLPConfig, temperature=0), (), ValueError, "temperature=0"),
    (P(RLPConfig, ema_decay=NAN), (), ValueError, "ema_decay=nan"),
    (P(RLPConfig, ema_decay=1.5), (), ValueError, "ema_decay=1.5"),
    (P(RLPConfig, warmup_steps=-1), (), ValueError, "warmup_steps=-1"),
    (P(RLPConfig, keep_checkpoints=0), (), ValueError, "keep_checkpoints=0"),
    (P(RLPConfig, checkpoint_every=-1), (), ValueError, "checkpoint_every=-1"),
    (P(RLPConfig, group_size=1), (), ValueError, "group_size=1 must be an int >= 2"),
    (P(RLPConfig, steps=0), (), ValueError, "steps=0"),
    (P(rlp.train_rlp, out_dir=Place("file")), (None, None, [{"context_ids": [1]}]), ValueError, "is a file"),
    # ---------------------------------------------------------------- checkpoints
    (P(checkpoint.save, keep=0), (Place("new_dir"), 1, _write_nothing), ValueError, "keep_checkpoints=0"),
    (checkpoint.save, (Place("new_dir"), -1, _write_nothing), ValueError, "index=-1"),
    (checkpoint.save, (Place("file"), 1, _write_nothing), ValueError, "is a file; checkpoints need a folder"),
    (checkpoint.check_out_dir, (3,), TypeError, "out_dir=3 must be a folder path"),
    (checkpoint.check_same_settings, ({"lr": 0.1, "seed": 0}, {"lr": 0.2, "seed": 0}), ValueError,
     "other settings (lr: saved 0.1, now 0.2)"),
    (checkpoint.check_same_settings, ({"lr": 0.1}, {"lr": 0.1, "seed": 3}), ValueError,
     "seed: saved '<absent>', now 3"),
]


@pytest.fixture(scope="module")
def places(tmp_path_factory):
    """The paths rows name: files where folders are expected, broken model folders."""
    root = tmp_path_factory.mktemp("bad_input")
    p = {name: root / name for name in ("file", "empty_dir", "corrupt_model", "cut_model", "no_config",
                                        "no_tokenizer", "pickle_model", "not_a_model", "missing", "new_dir")}
    p["file"].write_text("a file, not a folder")
    p["under_file"] = p["file"] / "report"          # cannot be created: its parent is a file
    p["empty_dir"].mkdir()
    for name in ("corrupt_model", "cut_model", "no_tokenizer"):
        shutil.copytree(slmlab.EMBEDDED_MODEL, p[name])
    weights = p["corrupt_model"] / "model.safetensors"
    weights.write_bytes(b"\xff" * 64 + weights.read_bytes()[64:])  # the header length is garbage
    weights = p["cut_model"] / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # a download cut short
    for f in p["no_tokenizer"].glob("tokenizer*"):
        f.unlink()
    p["no_config"].mkdir()
    (p["no_config"] / "model.safetensors").write_bytes(b"")
    p["pickle_model"].mkdir()
    (p["pickle_model"] / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (p["pickle_model"] / "tokenizer.json").write_text("{}")
    (p["pickle_model"] / "pytorch_model.bin").write_bytes(b"pickle")
    p["not_a_model"].mkdir()
    (p["not_a_model"] / "notes.txt").write_text("my notes")
    return p


def _resolve(value, tiny, places):
    """MODEL, TOK and Place(...) replaced, inside lists and partials too."""
    if value is MODEL or value is TOK:
        return tiny()[0] if value is MODEL else tiny()[1]
    if isinstance(value, Place):
        return str(places()[value])
    if isinstance(value, list):
        return [_resolve(v, tiny, places) for v in value]
    if isinstance(value, partial):
        return partial(value.func, *value.args, **{k: _resolve(v, tiny, places) for k, v in value.keywords.items()})
    return value


def _name(fn) -> str:
    fn = fn.func if isinstance(fn, partial) else fn
    return getattr(fn, "__qualname__", type(fn).__name__)


@pytest.mark.parametrize("fn,args,exc,fragment",
                         [pytest.param(*c, id=f"{i:03d}-{_name(c[0])}") for i, c in enumerate(CASES)])
def test_bad_call_is_refused_clearly(fn, args, exc, fragment, request, capsys, monkeypatch, tmp_path):
    tiny = lambda: request.getfixturevalue("tiny")
    places = lambda: request.getfixturevalue("places")
    fn, args = _resolve(fn, tiny, places), tuple(_resolve(a, tiny, places) for a in args)
    monkeypatch.chdir(tmp_path)  # whatever a row would write lands in a scratch folder
    if isinstance(exc, int):  # a command line: its exit code and one line on stderr
        if fn is cli:
            code, err = fn(*args), capsys.readouterr().err
        else:
            code, err = fn(*args)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == exc, err
        assert "Traceback" not in err and len(lines) == 1, f"not one line: {err!r}"
        assert fragment in lines[0], f"{lines[0]!r} lacks {fragment!r}"
        return
    with pytest.raises(exc) as info:
        fn(*args)
    assert fragment in str(info.value), f"{exc.__name__} raised, but its message {str(info.value)!r} lacks {fragment!r}"


def test_the_table_is_large_enough():
    assert len(CASES) >= 100
    assert all(len(c) == 4 and isinstance(c[1], tuple)
               and (isinstance(c[2], int) or issubclass(c[2], Exception)) for c in CASES)

