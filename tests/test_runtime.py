import random

import numpy as np
import pytest
import torch

from slmlab import runtime


def test_pick_device():
    assert runtime.pick_device("cpu").type == "cpu"
    assert runtime.pick_device("auto").type in ("cpu", "cuda")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            runtime.pick_device("cuda")
    with pytest.raises(ValueError, match="device='tpu'"):
        runtime.pick_device("tpu")
    with pytest.raises(ValueError, match="must be a string"):
        runtime.pick_device(3)


def test_pick_dtype():
    assert runtime.pick_dtype(torch.device("cpu")) == torch.float32
    assert runtime.pick_dtype(torch.device("cpu"), "bfloat16") == torch.bfloat16
    with pytest.raises(ValueError, match="dtype='half'"):
        runtime.pick_dtype(torch.device("cpu"), "half")


def test_seed_everything_fixes_all_streams():
    def draw():
        runtime.seed_everything(7)
        return random.random(), np.random.rand(), torch.rand(1).item()
    assert draw() == draw()
    runtime.seed_everything(8)
    assert torch.rand(1).item() != draw()[2]
    with pytest.raises(ValueError, match="seed"):
        runtime.seed_everything(-1)
    with pytest.raises(ValueError, match="seed"):
        runtime.seed_everything(1.5)


def test_versions_and_artifacts(tmp_path, monkeypatch):
    v = runtime.runtime_versions()
    assert v["torch"] == torch.__version__ and "transformers" in v
    monkeypatch.setenv("SLMLAB_ARTIFACTS", str(tmp_path / "a"))
    assert runtime.artifacts_dir().is_dir()
