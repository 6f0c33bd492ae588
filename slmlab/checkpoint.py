"""Checkpoints of long runs (pretraining, RLP, the synthesis loop): save atomically, find the
newest one that loads, refuse to resume with other settings, prune old ones.

A checkpoint is a folder ``<prefix>-<index>`` (``checkpoint-250``, ``round-0003``) holding whatever
the run writes plus a marker, ``slmlab_checkpoint.json``, written last: the index, the run's
settings and a SHA-256 of every file. Only folders with a readable marker count, so a
``checkpoint-best`` saved by hand beside them is never mistaken for one (nor deleted). Loading
checks every file against its hash first; a damaged newest checkpoint (a crash mid-copy, a full
disk, a flipped bit) is skipped with a warning naming the file, and the previous one is used.

    def write(folder):                                   # the run's own files
        save_file(model.state_dict(), folder / "model.safetensors")
    save(out_dir, step, write, config=asdict(cfg), keep=2)
    found = load_latest(out_dir, read, config=asdict(cfg), free=("steps",))
    if found: folder, marker, state = found

``read(folder)`` should read everything into memory and change nothing (use :func:`read_tensors`,
:func:`read_torch`, :func:`read_json`); the caller applies the state once ``load_latest`` returns,
so a checkpoint that fails half-way never leaves a half-loaded model.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import warnings
from pathlib import Path

from . import _checks

__all__ = ["MARKER", "DamagedCheckpoint", "check_out_dir", "save", "checkpoints", "latest", "load_latest",
           "check_same_settings", "check_keep", "read_tensors", "read_torch", "read_json", "load_tensors",
           "save_model_folder", "write_folder"]

MARKER = "slmlab_checkpoint.json"
_FORMAT = 1


class DamagedCheckpoint(Exception):
    """A file of a checkpoint is missing, unreadable or differs from its recorded hash."""

    def __init__(self, file, reason: str):
        super().__init__(f"{file}: {reason}")
        self.file, self.reason = Path(file), reason


def check_keep(keep) -> None:
    """``keep`` is how many checkpoints pruning leaves: None (all) or an int >= 1."""
    if keep is not None and (not isinstance(keep, int) or isinstance(keep, bool) or keep < 1):
        raise ValueError(f"keep_checkpoints={keep!r} must be an int >= 1 (or None: keep all); "
                         "0 would delete the checkpoint just written")


def check_out_dir(out_dir, name: str = "out_dir", need: str = "checkpoints need a folder") -> Path:
    """``out_dir`` as a Path; ValueError if it names a file, or a checkpoint folder or a folder inside
    one (a run resumed from ``out_dir=latest(...)`` would nest its checkpoints in the old one's),
    checked before a run, not at its first save. ``name`` and ``need`` word the message for the caller."""
    if not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError(f"{name}={out_dir!r} must be a folder path (str or Path)")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"{name}={str(out_dir)!r} is a file; {need}")
    for folder in (out_dir, *out_dir.parents):
        if (folder / MARKER).is_file():
            raise ValueError(f"{name}={str(out_dir)!r} is inside the checkpoint {str(folder)!r}; pass the run's "
                             f"folder that holds the checkpoints ({str(folder.parent)!r}), which resumes from the newest")
    return out_dir


def _check_prefix(prefix) -> None:
    if not isinstance(prefix, str) or not prefix or "/" in prefix or os.sep in prefix:
        raise ValueError(f"prefix={prefix!r} must be a non-empty name without a path separator (e.g. 'checkpoint')")


def _check_config(config) -> None:
    if config is not None and not isinstance(config, dict):
        raise TypeError(f"config must be a dict of the run's settings or None, got {type(config).__name__}; "
                        "for a dataclass pass dataclasses.asdict(cfg)")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _plain(config) -> dict:
    """Settings as JSON would give them back (tuples become lists), so saved and current compare."""
    return json.loads(json.dumps(config or {}, default=str))


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MARKER)


def save(out_dir, index: int, write, *, prefix: str = "checkpoint", width: int = 0, config: dict | None = None,
         keep: int | None = None, meta: dict | None = None) -> Path:
    """Write checkpoint ``index`` to ``out_dir/<prefix>-<index>`` and return its path.

    ``write(folder)`` writes the run's files into a temporary folder; the marker goes in last and the
    folder is renamed into place, so a crash never leaves a half checkpoint under a real name.
    ``width`` zero-pads the index in the name. Then only the ``keep`` newest checkpoints stay (None:
    all); the one just written always stays, and any with a higher index (a damaged one skipped at
    resume, or the rest of a run restarted with ``resume=False``) is removed, as that run is over."""
    check_keep(keep)
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise ValueError(f"index={index!r} must be an int >= 0")
    _checks.callable_("write", write, "write(folder) that writes the run's files into folder")
    _check_prefix(prefix)
    _checks.integer("width", width, low=0)
    _check_config(config)
    if meta is not None and not isinstance(meta, dict):
        raise TypeError(f"meta must be a dict or None, got {type(meta).__name__}")
    out_dir = check_out_dir(out_dir)

    def write_marked(tmp):
        write(tmp)
        if not _files(tmp):
            raise ValueError(f"write(folder) wrote no files into the folder it was given ({str(tmp)!r}); it must "
                             "write the run's files there (e.g. folder / 'model.safetensors'), not into out_dir or "
                             "elsewhere")
        marker = {"format": _FORMAT, "prefix": prefix, "index": index, "config": _plain(config),
                  "files": {p.relative_to(tmp).as_posix(): _sha256(p) for p in _files(tmp)}, **(meta or {})}
        (tmp / MARKER).write_text(json.dumps(marker, indent=1))
    final = _replace_folder(out_dir / f"{prefix}-{index:0{width}d}", write_marked)
    _prune(out_dir, prefix, index, keep)
    return final


def _replace_folder(folder: Path, write) -> Path:
    """``write(tmp)`` into an empty ``.tmp-<name>`` beside ``folder``, then put it in ``folder``'s
    place in one rename: a crash leaves the old folder or the new one, never half of one."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    # unique names: two processes writing the same folder at once each finish their own copy
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{folder.name}-", dir=folder.parent))
    old = Path(tempfile.mkdtemp(prefix=f".old-{folder.name}-", dir=folder.parent))
    old.rmdir()
    tmp.chmod(0o755)  # mkdtemp makes it private; a finished folder reads like any other
    try:
        write(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if folder.exists():
        os.replace(folder, old)  # set aside, not deleted, until the new one is in place
    os.replace(tmp, folder)
    shutil.rmtree(old, ignore_errors=True)
    return folder


def write_folder(folder, write) -> Path:
    """Write a finished folder (a model, a copy of shipped files) atomically: ``write(tmp)`` fills an
    empty temporary folder beside ``folder``, which then replaces ``folder`` whole, so a reader never
    finds half of it under the real name. Returns the folder."""
    folder = check_out_dir(folder, "folder", "a finished folder needs a folder")
    _checks.callable_("write", write, "write(folder) that writes the files into folder")
    return _replace_folder(folder, write)


def _prune(out_dir: Path, prefix: str, index: int, keep: int | None) -> None:
    found = [(i, p) for i, p in _marked(out_dir, prefix) if i != index]
    later = [p for i, p in found if i > index]
    earlier = [p for i, p in found if i < index]
    drop = later + (earlier[: max(0, len(earlier) - (keep - 1))] if keep is not None else [])
    for p in drop:
        shutil.rmtree(p, ignore_errors=True)


def _read_marker(folder: Path) -> dict:
    path = folder / MARKER
    try:
        marker = json.loads(path.read_text())
        if not isinstance(marker, dict) or not isinstance(marker.get("index"), int):
            raise ValueError("no integer 'index'")
    except Exception as err:
        raise DamagedCheckpoint(path, f"unreadable marker ({type(err).__name__}: {err})") from err
    return marker


def _marked(out_dir: Path, prefix: str) -> list[tuple[int, Path]]:
    """(index, folder) of the folders ``save`` wrote, oldest first. A marker that cannot be read
    still counts (by the index in the folder's name) so that loading can warn about it."""
    out = []
    if not Path(out_dir).is_dir():
        return out
    for p in Path(out_dir).glob(f"{prefix}-*"):
        if not p.is_dir() or not (p / MARKER).exists():
            continue  # not written by save(): a hand-made checkpoint-best, a folder being copied in
        try:
            marker = _read_marker(p)
            if marker.get("prefix", prefix) != prefix:
                continue
            idx = marker["index"]
        except DamagedCheckpoint:
            tail = p.name[len(prefix) + 1:]
            if not tail.isdigit():
                continue
            idx = int(tail)
        out.append((idx, p))
    return sorted(out, key=lambda t: t[0])


def checkpoints(out_dir, prefix: str = "checkpoint") -> list[Path]:
    """Checkpoint folders in ``out_dir`` written by :func:`save`, oldest first."""
    _check_prefix(prefix)
    return [p for _, p in _marked(check_out_dir(out_dir), prefix)]


def latest(out_dir, prefix: str = "checkpoint") -> Path | None:
    """The newest checkpoint folder in ``out_dir`` (by index, not by name), or None. Does not check
    its files; :func:`load_latest` does."""
    found = checkpoints(out_dir, prefix)
    return found[-1] if found else None


def check_same_settings(saved: dict, current: dict, free=(), where="the checkpoint") -> None:
    """Raise ValueError listing every setting (outside ``free``) whose value differs between the
    run that wrote ``where`` and this one."""
    free = _checks.names("free", free)
    _checks.dict_("saved", saved, what="the settings the checkpoint recorded")
    _checks.dict_("current", current, what="this run's settings")
    saved, current = _plain(saved), _plain(current)
    keys = sorted((set(saved) | set(current)) - set(free))
    diff = [k for k in keys if not _same(saved.get(k, "<absent>"), current.get(k, "<absent>"))]
    if diff:
        listed = "; ".join(f"{k}: saved {saved.get(k, '<absent>')!r}, now {current.get(k, '<absent>')!r}"
                           for k in diff)
        raise ValueError(f"{where} was written by a run with other settings ({listed}); pass resume=False "
                         "or another out_dir to start afresh")


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _verify(folder: Path, marker: dict) -> None:
    files = marker.get("files")
    if not isinstance(files, dict) or not files:
        raise DamagedCheckpoint(folder / MARKER, "marker lists no files")
    for rel, digest in files.items():
        path = folder / rel
        if not path.is_file():
            raise DamagedCheckpoint(path, "missing")
        if _sha256(path) != digest:
            raise DamagedCheckpoint(path, "contents differ from the hash recorded when it was saved")


def load_latest(out_dir, read, *, prefix: str = "checkpoint", config: dict | None = None, free=()):
    """The newest checkpoint in ``out_dir`` that loads: ``(folder, marker, read(folder))``, or None
    when there is none (a fresh start).

    With ``config`` the run must use the same settings as the one that wrote it, keys in ``free``
    aside (ValueError otherwise). A damaged checkpoint (missing or changed file, or ``read`` raising
    :class:`DamagedCheckpoint`) is skipped with a warning naming the file; the previous one is tried.
    """
    _checks.callable_("read", read, "read(folder) that returns the checkpoint's state")
    _check_prefix(prefix)
    _check_config(config)
    free = _checks.names("free", free)
    found = _marked(check_out_dir(out_dir), prefix) if out_dir is not None else []
    for n, (_, folder) in enumerate(reversed(found)):
        try:
            marker = _read_marker(folder)
            if config is not None:
                check_same_settings(marker.get("config", {}), config, free, where=folder)
            _verify(folder, marker)
            return folder, marker, read(folder)
        except DamagedCheckpoint as err:
            left = len(found) - n - 1
            then = "trying the previous checkpoint" if left else "no older checkpoint: starting from the beginning"
            warnings.warn(f"checkpoint {folder} is damaged, {err.file} {err.reason}; {then}", stacklevel=2)
    return None


def _reader(kind):
    def wrap(fn):
        def read(folder, name, *args, **kwargs):
            path = Path(folder) / name
            try:
                return fn(path, *args, **kwargs)
            except Exception as err:
                raise DamagedCheckpoint(path, f"cannot be read as {kind} ({type(err).__name__}: {err})") from err
        read.__doc__ = fn.__doc__
        read.__name__ = fn.__name__
        return read
    return wrap


@_reader("safetensors")
def read_tensors(path: Path, device: str = "cpu") -> dict:
    """``folder/name`` as a dict of tensors (safetensors), or DamagedCheckpoint naming the file."""
    from safetensors.torch import load_file
    return load_file(path, device=device)


@_reader("a torch state (weights_only)")
def read_torch(path: Path) -> dict:
    """``folder/name`` saved with ``torch.save``, loaded with ``weights_only=True``."""
    import torch
    return torch.load(path, weights_only=True, map_location="cpu")


@_reader("JSON")
def read_json(path: Path):
    """``folder/name`` parsed as JSON."""
    return json.loads(path.read_text())


def load_tensors(module, tensors: dict, where="the checkpoint") -> None:
    """Copy ``tensors`` (from :func:`read_tensors`) into ``module``. A tensor may be absent only
    where it shares storage with one present (tied embeddings: safetensors stores them once)."""
    import torch
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module to load the tensors into, got {type(module).__name__}")
    _checks.dict_("tensors", tensors, what="name -> tensor, as read_tensors returns")
    missing, unexpected = module.load_state_dict(tensors, strict=False)
    state = module.state_dict()
    loaded = {state[k].data_ptr() for k in tensors if k in state}
    untied = [k for k in missing if state[k].data_ptr() not in loaded]
    if untied or unexpected:
        raise ValueError(f"{where} does not fit this model: missing {untied[:5]}, unexpected {list(unexpected)[:5]}")


def save_model_folder(folder, model, tokenizer, files: dict | None = None) -> Path:
    """Write a finished model as a plain ``from_pretrained`` folder — safetensors weights, config,
    tokenizer, and ``files`` ({name: text}, e.g. a model card) — atomically: everything goes into a
    temporary folder beside it, which then replaces ``folder`` whole. Returns the folder."""
    folder = check_out_dir(folder, "folder", "a model needs a folder")
    if not hasattr(model, "save_pretrained") or not hasattr(tokenizer, "save_pretrained"):
        raise TypeError(f"model and tokenizer must be transformers objects with save_pretrained; got "
                        f"{type(model).__name__} and {type(tokenizer).__name__}")
    if files is not None and (not isinstance(files, dict)
                              or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items())):
        raise TypeError("files must be a dict {file name: text}")

    def write(tmp):
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        for name, text in (files or {}).items():
            (tmp / name).write_text(text)
    return _replace_folder(folder, write)
