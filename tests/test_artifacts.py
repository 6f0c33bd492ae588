"""Models passed between notebooks by name, and finished model folders written whole."""
import json

import pytest

from slmlab import artifacts, checkpoint


def test_a_saved_model_loads_back_by_name(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("SLMLAB_ARTIFACTS", str(tmp_path))
    model, tok = tiny
    folder = artifacts.save_model_artifact("03_rlp_information_gain", "rlp_model", model, tok,
                                           {"arm": "rlp", "seed": 0, "profile": "smoke"})
    assert (folder / "model.safetensors").is_file() and not list(tmp_path.rglob(".tmp-*"))
    back, _, made_by = artifacts.load_model_artifact("03_rlp_information_gain", "rlp_model", profile="smoke")
    assert made_by["arm"] == "rlp" and made_by["notebook"] == "03_rlp_information_gain"
    assert all((a == b).all() for a, b in zip(model.state_dict().values(), back.state_dict().values()))
    with pytest.raises(artifacts.ArtifactMissing, match="at profile 'smoke', not 'default'"):
        artifacts.load_model_artifact("03_rlp_information_gain", "rlp_model", profile="default")


def test_a_missing_model_names_the_notebook_to_run(tmp_path, monkeypatch):
    monkeypatch.setenv("SLMLAB_ARTIFACTS", str(tmp_path))
    with pytest.raises(artifacts.ArtifactMissing, match=r"run that notebook first \(python -m slmlab run --only 03"):
        artifacts.load_model_artifact("03_rlp_information_gain", "rlp_model")
    with pytest.raises(ValueError, match="name='../x' must be a plain name"):
        artifacts.model_artifact_path("03_rlp_information_gain", "../x")


def test_save_model_folder_replaces_a_folder_whole(tiny, tmp_path):
    model, tok = tiny
    target = tmp_path / "m"
    target.mkdir()
    (target / "stale.txt").write_text("from an older run")
    checkpoint.save_model_folder(target, model, tok, {"card.json": json.dumps({"a": 1})})
    assert not (target / "stale.txt").exists() and json.loads((target / "card.json").read_text()) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    with pytest.raises(TypeError, match="save_pretrained"):
        checkpoint.save_model_folder(tmp_path / "n", object(), tok)
