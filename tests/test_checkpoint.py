"""The checkpoint module on its own: atomic save, pruning, what counts as a checkpoint, fallback."""
import json
import warnings

import pytest
import torch
from safetensors.torch import save_file

from slmlab import checkpoint


def _write(value):
    def write(folder):
        save_file({"w": torch.full((3,), float(value))}, folder / "w.safetensors")
        (folder / "note.json").write_text(json.dumps({"value": value}))
    return write


def _read(folder):
    return {"w": checkpoint.read_tensors(folder, "w.safetensors"), "note": checkpoint.read_json(folder, "note.json")}


def test_save_marks_the_folder_and_load_reads_the_newest(tmp_path):
    for step in (5, 10, 20):
        checkpoint.save(tmp_path, step, _write(step), config={"lr": 0.1})
    assert [p.name for p in checkpoint.checkpoints(tmp_path)] == ["checkpoint-5", "checkpoint-10", "checkpoint-20"]
    folder, marker, state = checkpoint.load_latest(tmp_path, _read, config={"lr": 0.1})
    assert folder.name == "checkpoint-20" and marker["index"] == 20 and state["note"]["value"] == 20
    assert not list(tmp_path.glob(".tmp-*")) and not list(tmp_path.glob(".old-*"))


def test_a_folder_it_did_not_write_is_neither_read_nor_deleted(tmp_path):
    checkpoint.save(tmp_path, 100, _write(1))
    best = tmp_path / "checkpoint-best"   # saved by hand: today's name sort would crash on int("best")
    best.mkdir()
    (best / "model.safetensors").write_bytes(b"not ours")
    (tmp_path / "checkpoint-200").mkdir()  # a folder with a step name but no marker (being copied in)
    assert checkpoint.latest(tmp_path).name == "checkpoint-100"
    checkpoint.save(tmp_path, 300, _write(3), keep=1)
    assert best.is_dir() and (tmp_path / "checkpoint-200").is_dir()
    assert [p.name for p in checkpoint.checkpoints(tmp_path)] == ["checkpoint-300"]


def test_keep_prunes_old_ones_but_never_the_newest(tmp_path):
    for step in range(1, 6):
        checkpoint.save(tmp_path, step, _write(step), keep=2)
    assert [p.name for p in checkpoint.checkpoints(tmp_path)] == ["checkpoint-4", "checkpoint-5"]
    checkpoint.save(tmp_path, 6, _write(6), keep=1)
    assert [p.name for p in checkpoint.checkpoints(tmp_path)] == ["checkpoint-6"]
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="keep_checkpoints"):
            checkpoint.save(tmp_path, 7, _write(7), keep=bad)
    assert [p.name for p in checkpoint.checkpoints(tmp_path)] == ["checkpoint-6"]


def test_a_rerun_that_starts_over_removes_the_old_runs_later_checkpoints(tmp_path):
    for step in (5, 10):
        checkpoint.save(tmp_path, step, _write(step))
    checkpoint.save(tmp_path, 5, _write(-5), keep=2)  # resume=False: a new run writes step 5 again
    assert [p.name for p in checkpoint.checkpoints(tmp_path)] == ["checkpoint-5"]
    assert checkpoint.load_latest(tmp_path, _read)[2]["note"]["value"] == -5


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete", "marker"])
def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_with_a_warning(tmp_path, damage):
    for step in (1, 2):
        checkpoint.save(tmp_path, step, _write(step))
    newest = tmp_path / "checkpoint-2"
    target = newest / ("slmlab_checkpoint.json" if damage == "marker" else "w.safetensors")
    data = target.read_bytes()
    if damage == "truncate":
        target.write_bytes(data[:10])
    elif damage == "flip":
        target.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    elif damage == "delete":
        target.unlink()
    else:
        target.write_text("{ not json")
    with pytest.warns(UserWarning, match=rf"checkpoint-2.*{target.name}") as caught:
        folder, _, state = checkpoint.load_latest(tmp_path, _read)
    assert folder.name == "checkpoint-1" and state["note"]["value"] == 1
    assert "previous checkpoint" in str(caught[0].message)


def test_a_file_the_reader_cannot_parse_is_damaged_even_if_its_hash_matches(tmp_path):
    checkpoint.save(tmp_path, 1, _write(1))
    checkpoint.save(tmp_path, 2, lambda f: (f / "w.safetensors").write_bytes(b"\x00garbage"))
    with pytest.warns(UserWarning, match="w.safetensors cannot be read as safetensors"):
        assert checkpoint.load_latest(tmp_path, _read)[0].name == "checkpoint-1"


def test_every_checkpoint_damaged_starts_afresh_with_warnings(tmp_path):
    checkpoint.save(tmp_path, 1, _write(1))
    (tmp_path / "checkpoint-1" / "w.safetensors").write_bytes(b"x")
    with pytest.warns(UserWarning, match="starting from the beginning"):
        assert checkpoint.load_latest(tmp_path, _read) is None
    assert checkpoint.load_latest(tmp_path / "nowhere", _read) is None


def test_resume_with_other_settings_lists_every_difference(tmp_path):
    checkpoint.save(tmp_path, 1, _write(1), config={"lr": 0.1, "betas": (0.9, 0.95), "steps": 10, "seed": 0})
    with pytest.raises(ValueError, match=r"other settings \(betas: saved \[0.9, 0.95\], now \[0.9, 0.99\]; lr: "
                                         r"saved 0.1, now 0.2\)"):
        checkpoint.load_latest(tmp_path, _read, config={"lr": 0.2, "betas": (0.9, 0.99), "steps": 20, "seed": 0},
                               free=("steps",))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = checkpoint.load_latest(tmp_path, _read, config={"lr": 0.1, "betas": [0.9, 0.95], "steps": 20,
                                                                 "seed": 0}, free=("steps",))
    assert found[0].name == "checkpoint-1"


def test_load_tensors_accepts_tied_weights_only(tmp_path):
    a = torch.nn.Linear(2, 2, bias=False)
    b = torch.nn.Linear(2, 2, bias=False)
    b.weight = a.weight

    class Tied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = a, b
    m = Tied()
    checkpoint.load_tensors(m, {"a.weight": torch.ones(2, 2)})  # b.weight shares a.weight's storage
    assert torch.equal(m.b.weight, torch.ones(2, 2))
    with pytest.raises(ValueError, match=r"does not fit this model: missing \[.weight., .bias.\], unexpected \[.other.\]"):
        checkpoint.load_tensors(torch.nn.Linear(2, 2), {"other": torch.ones(1)})


def test_write_folder_replaces_the_folder_whole_or_not_at_all(tmp_path):
    target = tmp_path / "model"
    checkpoint.write_folder(target, lambda f: (f / "a.txt").write_text("one"))
    checkpoint.write_folder(target, lambda f: (f / "b.txt").write_text("two"))
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]  # replaced, not merged

    def crash(folder):
        (folder / "half.txt").write_text("half")
        raise OSError("disk full")
    with pytest.raises(OSError, match="disk full"):
        checkpoint.write_folder(target, crash)
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]  # the old folder stays whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no temporary folder left behind
    with pytest.raises(TypeError, match="write must be a callable"):
        checkpoint.write_folder(target, "b.txt")
