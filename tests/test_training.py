import subprocess
import sys
import textwrap

import pytest
import torch
from safetensors.torch import load_file

from slmlab import problems, models, training


@pytest.fixture(scope="module")
def setup():
    data = problems.make_splits(400, 16, seed=0)
    texts = list(data["train"]["text"])
    tok = models.train_tokenizer(texts, vocab_size=400)
    cfg = models.tiny_llama_config(tok, hidden_size=32, n_layers=2, n_heads=2, max_positions=64)
    return tok, cfg, texts, list(data["eval"]["text"])


def _cfg(**kw):
    base = dict(steps=12, batch_size=4, block_size=32, warmup_steps=2, eval_every=6, seed=0,
                mixed_precision="no", progress=False)
    return training.TrainConfig(**{**base, **kw})


def test_loss_goes_down_and_history_is_logged(setup):
    tok, cfg, texts, ev = setup
    model = models.build_model(cfg, seed=0)
    run = training.pretrain(model, tok, texts, _cfg(steps=30, lr=1e-2), eval_texts=ev)
    losses = [h["loss"] for h in run["history"]]
    assert len(losses) == 30 and sum(losses[-5:]) < sum(losses[:5])
    assert run["final_eval_loss"] is not None and run["tokens"] == 30 * 4 * 32
    assert [h["step"] for h in run["history"] if "eval_loss" in h] == [6, 12, 18, 24, 30]


def _uninterrupted_and_stopped(setup, out_dir, checkpoint_every):
    """An uninterrupted run, and the same run stopped after step 7 with checkpoints every few steps."""
    tok, cfg, texts, _ = setup
    full = models.build_model(cfg, seed=0)
    training.pretrain(full, tok, texts, _cfg())
    part = models.build_model(cfg, seed=0)
    training.pretrain(part, tok, texts, _cfg(checkpoint_every=checkpoint_every), out_dir=out_dir, stop_after=7)
    return full, part


def test_interrupted_run_resumes_to_the_same_weights(setup, tmp_path):
    tok, cfg, texts, _ = setup
    full, _ = _uninterrupted_and_stopped(setup, tmp_path, checkpoint_every=5)
    ckpt = training.latest_checkpoint(tmp_path)
    assert ckpt.name == "checkpoint-5" and (ckpt / "model.safetensors").exists()
    resumed = models.build_model(cfg, seed=123)  # different init: everything must come from the checkpoint
    run = training.pretrain(resumed, tok, texts, _cfg(checkpoint_every=5), out_dir=tmp_path)
    assert run["history"][0]["step"] == 6
    for a, b in zip(full.parameters(), resumed.parameters()):
        assert torch.equal(a, b)
    assert training.latest_checkpoint(tmp_path).name == "checkpoint-12"
    assert len(list(tmp_path.glob("checkpoint-*"))) == 2  # keep_checkpoints


def test_resume_skips_a_damaged_newest_checkpoint_and_a_folder_it_did_not_write(setup, tmp_path):
    tok, cfg, texts, _ = setup
    full, part = _uninterrupted_and_stopped(setup, tmp_path, checkpoint_every=3)
    part.save_pretrained(tmp_path / "checkpoint-best")  # a hand-saved copy beside the checkpoints
    weights = tmp_path / "checkpoint-6" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # the newest checkpoint, damaged (a disk filled up)
    resumed = models.build_model(cfg, seed=123)
    with pytest.warns(UserWarning, match=r"checkpoint-6.*model\.safetensors.*previous checkpoint"):
        run = training.pretrain(resumed, tok, texts, _cfg(checkpoint_every=3), out_dir=tmp_path)
    assert run["history"][0]["step"] == 4  # continued from checkpoint-3
    for a, b in zip(full.parameters(), resumed.parameters()):
        assert torch.equal(a, b)
    assert (tmp_path / "checkpoint-best" / "model.safetensors").exists()  # not ours: left alone


def test_config_refuses_values_that_would_silently_break_training():
    for kw, fragment in [({"grad_clip": -1.0}, "grad_clip"), ({"grad_clip": float("nan")}, "grad_clip"),
                         ({"lr": float("nan")}, "lr"), ({"lr": float("inf")}, "lr"), ({"lr": -1e-3}, "lr"),
                         ({"warmup_steps": 400}, "warmup_steps=400 must be <= steps=300"),
                         ({"keep_checkpoints": 0}, "keep_checkpoints=0")]:
        with pytest.raises(ValueError, match=fragment):
            training.TrainConfig(**kw)
    training.TrainConfig(grad_clip=0.0, keep_checkpoints=None, warmup_steps=0)  # off / keep all / no warmup


def test_resume_refuses_a_checkpoint_of_another_run(setup, tmp_path):
    tok, cfg, texts, _ = setup
    training.pretrain(models.build_model(cfg), tok, texts, _cfg(checkpoint_every=5), out_dir=tmp_path, stop_after=5)
    with pytest.raises(ValueError, match="other settings.*lr"):
        training.pretrain(models.build_model(cfg), tok, texts, _cfg(checkpoint_every=5, lr=1e-4), out_dir=tmp_path)


def test_document_exposures_count_the_batches_a_document_is_in(setup):
    tok, _, texts, _ = setup
    docs = texts[:60]
    n_blocks = len(training.pack_documents(tok, docs, 32))
    # every block read once per epoch: a document whose answer lies in a kept block is met once per
    # epoch; the ragged tail (under one block, shorter than a document) is never read
    for epochs in (1, 2):
        seen = training.document_exposures(tok, docs, _cfg(steps=epochs * n_blocks, batch_size=1, block_size=32))
        assert len(seen) == len(docs) and set(seen[:-1]) == {epochs} and seen[-1] in (0, epochs)
    # half an epoch meets about half of the documents, and which ones depends on the seed
    half = [training.document_exposures(tok, docs, _cfg(steps=n_blocks // 2, batch_size=1, block_size=32, seed=s))
            for s in (0, 1)]
    assert all(set(h) <= {0, 1} and 0.25 * len(docs) < sum(h) < 0.75 * len(docs) for h in half)
    assert half[0] != half[1]
    assert training.document_exposures(tok, docs, _cfg(steps=n_blocks // 2, batch_size=1, block_size=32),
                                       seeds=[0, 1]) == half


def test_pack_documents(setup):
    tok, _, texts, _ = setup
    blocks = training.pack_documents(tok, texts[:20], 16)
    assert blocks.shape[1] == 16 and blocks.dtype == torch.long
    assert (blocks == tok.eos_token_id).sum() >= 1 and (blocks == tok.bos_token_id).sum() >= 1


def test_bad_input(setup):
    tok, cfg, texts, _ = setup
    with pytest.raises(ValueError, match="empty"):
        training.pretrain(models.build_model(cfg), tok, [], _cfg())
    with pytest.raises(ValueError, match="only strings"):
        training.pack_documents(tok, ["ok", 3], 8)
    with pytest.raises(ValueError, match="steps=0"):
        training.TrainConfig(steps=0)
    with pytest.raises(ValueError, match="mixed_precision"):
        training.TrainConfig(mixed_precision="fp8")
    with pytest.raises(ValueError, match="fewer than one block"):
        training.pack_documents(tok, ["hi"], 512)


SCRIPT = textwrap.dedent("""
    import sys, torch
    from slmlab import problems, models, training
    texts = list(problems.make_problems(200, seed=0)["text"])
    tok = models.train_tokenizer(texts, vocab_size=400)
    cfg = models.tiny_llama_config(tok, hidden_size=32, n_layers=1, n_heads=2, max_positions=64)
    model = models.build_model(cfg, seed=0)
    run = training.pretrain(model, tok, texts, training.TrainConfig(steps=4, batch_size=4, block_size=32,
                            warmup_steps=1, mixed_precision="no", progress=False))
    import torch.distributed as dist
    if not dist.is_initialized() or dist.get_rank() == 0:
        from safetensors.torch import save_file
        world = str(dist.get_world_size() if dist.is_initialized() else 1)
        save_file({k: v.clone() for k, v in run["model"].state_dict().items()}, sys.argv[1], {"world": world})
    if dist.is_initialized():
        dist.destroy_process_group()
""")


@pytest.mark.slow
def test_two_processes_give_the_same_update_as_one(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    one, two = tmp_path / "one.safetensors", tmp_path / "two.safetensors"
    subprocess.run([sys.executable, str(script), str(one)], check=True, timeout=300)
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", str(script), str(two)],
                   check=True, timeout=300, capture_output=True)
    from safetensors import safe_open
    with safe_open(str(two), "pt") as fh:
        assert fh.metadata()["world"] == "2"  # really two processes, each with half of every batch
    a, b = load_file(one), load_file(two)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-5), k


def test_batch_indices_read_seeded_epochs_in_order():
    from slmlab._trainer_loop import batch_indices
    n, batch = 10, 4
    # one epoch is the permutation seeded by seed * 100_003 + epoch (+ salt): the order recorded runs rely on
    perm = lambda seed, epoch, salt=0: torch.randperm(n, generator=torch.Generator().manual_seed(
        seed * 100_003 + epoch + salt)).tolist()
    stream = perm(3, 0) + perm(3, 1) + perm(3, 2)
    got = [i for step in range(7) for i in batch_indices(n, batch, step, 3)]
    assert got == stream[:28]
    assert batch_indices(n, batch, 4, 3) == stream[16:20]  # a step alone: what a resumed run starts with
    assert batch_indices(n, batch, 0, 3, salt=7) == perm(3, 7)[:4] != batch_indices(n, batch, 0, 3)


def test_run_steps_saves_every_checkpoint_every_steps_and_at_the_end():
    from types import SimpleNamespace
    from accelerate import Accelerator
    from slmlab._trainer_loop import run_steps
    accel = Accelerator(cpu=True)
    cfg = SimpleNamespace(steps=7, checkpoint_every=3, seed=0, progress=False)

    def run(start=0, stop_after=None):
        ran, saved = [], []
        done = run_steps(lambda step, mine: ran.append((step, len(mine))) or {}, cfg, accel, 5, 2, start,
                         desc="t", stop_after=stop_after, save_at=saved.append)
        return ran, saved, done
    assert run() == ([(s, 2) for s in range(7)], [3, 6, 7], 7)
    assert run(stop_after=4) == ([(s, 2) for s in range(4)], [3], 4)
    assert run(start=5) == ([(5, 2), (6, 2)], [6, 7], 7)
    assert run(start=5, stop_after=2) == ([], [], 5)
