"""Models one notebook trains and a later one reads, by name: notebook 03 saves its RLP model and the
start it came from, notebook 04 asks whether RLP narrowed them.

They live in ``artifacts_dir()/<notebook>/<name>`` as plain ``from_pretrained`` folders (written whole
by :func:`slmlab.checkpoint.save_model_folder`) with ``made_by.json`` saying how. A notebook never
runs another one: when a model is missing, :func:`load_model_artifact` says which notebook to run.
"""
from __future__ import annotations

import json
import re

from .checkpoint import save_model_folder
from .runtime import artifacts_dir

__all__ = ["ArtifactMissing", "model_artifact_path", "save_model_artifact", "load_model_artifact"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ArtifactMissing(FileNotFoundError):
    """A model a notebook needs from an earlier notebook has not been made yet."""


def model_artifact_path(notebook: str, name: str):
    """Where ``notebook`` keeps its model ``name``."""
    for arg, value in (("notebook", notebook), ("name", name)):
        if not isinstance(value, str) or not _NAME.match(value):
            raise ValueError(f"{arg}={value!r} must be a plain name (letters, digits, _ . -), e.g. "
                             "'03_rlp_information_gain' and 'rlp_model'")
    return artifacts_dir() / notebook / name


def save_model_artifact(notebook: str, name: str, model, tokenizer, made_by: dict) -> str:
    """Save ``model`` and ``tokenizer`` as ``notebook``'s artifact ``name``; ``made_by`` (plain JSON:
    arm, seed, profile, learning rate...) is written beside them. Returns the folder."""
    if not isinstance(made_by, dict):
        raise TypeError(f"made_by must be a dict saying how the model was made; got {type(made_by).__name__}")
    card = json.dumps({"notebook": notebook, "name": name, **made_by}, indent=1)
    return save_model_folder(model_artifact_path(notebook, name), model, tokenizer, {"made_by.json": card})


def load_model_artifact(notebook: str, name: str, *, device=None, profile: str | None = None):
    """``(model, tokenizer, made_by)`` of ``notebook``'s artifact ``name``, in eval mode.

    Missing: :class:`ArtifactMissing`, naming the notebook to run first. ``profile``, when given, must
    match the profile the artifact was made at (a smoke model read by a default run would mislead)."""
    from .models import load_model
    folder = model_artifact_path(notebook, name)
    card = folder / "made_by.json"
    if not card.is_file():
        raise ArtifactMissing(
            f"the model {name!r} that notebook {notebook} saves is not in {folder.parent}: run that notebook "
            f"first (python -m slmlab run --only {notebook[:2]}{f' --profile {profile}' if profile else ''}), with "
            "the same SLMLAB_ARTIFACTS folder")
    made_by = json.loads(card.read_text())
    if profile is not None and made_by.get("profile") not in (None, profile):
        raise ArtifactMissing(
            f"the model {name!r} in {folder} was made by notebook {notebook} at profile "
            f"{made_by.get('profile')!r}, not {profile!r}: run that notebook at profile {profile!r} first")
    model, tokenizer = load_model(str(folder), device=device or "cpu")
    return model.eval(), tokenizer, made_by
