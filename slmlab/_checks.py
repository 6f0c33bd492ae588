"""Argument checks used across the package, in one place, so every module refuses bad input with
the same words: the argument's name, the value given, and what to pass instead.

Private: modules import these; a reader of a notebook never needs them.
"""
from __future__ import annotations

import math
import numbers
import os
from pathlib import Path

__all__ = ["seed", "integer", "number", "betas", "text", "strings", "names", "callable_", "path", "dict_", "module",
           "records", "existing_file", "not_a_file"]


def seed(value, name: str = "seed") -> int:
    """A seed: an int >= 0 (not a bool, not None, not a string: ``random.Random`` would accept those
    silently and seed from their text)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name}={value!r} must be a non-negative int")
    return value


def integer(name: str, value, low: int | None = None, high: int | None = None, why: str = "") -> int:
    """An int (not a bool) within [low, high], else ValueError naming ``name``."""
    ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok or (low is not None and value < low) or (high is not None and value > high):
        bounds = " and ".join(x for x in ((f">= {low}" if low is not None else ""),
                                          (f"<= {high}" if high is not None else "")) if x)
        raise ValueError(f"{name}={value!r} must be an int{' ' + bounds if bounds else ''}"
                         + (f" ({why})" if why else ""))
    return value


def number(name: str, value, low=None, high=None, low_open: bool = False, why: str = "") -> float:
    """A finite real number within [low, high] (``low_open``: strictly above low). TypeError for a
    non-number (a bool or a string included), ValueError for one out of range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):  # numpy scalars are Real too
        raise TypeError(f"{name}={value!r} must be a number")
    lo = "" if low is None else (f"> {low}" if low_open else f">= {low}")
    hi = "" if high is None else f"<= {high}"
    allowed = " and ".join(x for x in (lo, hi) if x) or "finite"
    if not math.isfinite(value) or (low is not None and (value <= low if low_open else value < low)) \
            or (high is not None and value > high):
        raise ValueError(f"{name}={value!r} must be a finite number {allowed}" + (f" ({why})" if why else ""))
    return value


def betas(value, name: str = "betas") -> tuple:
    """Adam's two decay rates, each in [0, 1)."""
    if not (isinstance(value, (tuple, list)) and len(value) == 2 and all(
            not isinstance(b, bool) and isinstance(b, (int, float)) and math.isfinite(b) and 0 <= b < 1
            for b in value)):
        raise ValueError(f"{name}={value!r} must be two numbers in [0, 1)")
    return tuple(value)


def text(name: str, value) -> str:
    """A str, else TypeError naming the type given."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__} ({value!r:.60})")
    return value


def strings(name: str, values, allow_empty: bool = False) -> list[str]:
    """A list of strings. A single string is refused (iterating it would give its letters)."""
    if isinstance(values, str):
        raise ValueError(f"{name}={values!r:.60} must be a list of strings, not a single string: wrap it, "
                         f"[{values!r:.40}]")
    try:
        values = list(values)
    except TypeError:
        raise TypeError(f"{name} must be a list of strings, got {type(values).__name__}") from None
    if not values and not allow_empty:
        raise ValueError(f"{name} is empty: pass a non-empty list of strings")
    if bad := [i for i, v in enumerate(values) if not isinstance(v, str)]:
        raise ValueError(f"{name} must hold only strings; {name}[{bad[0]}] is {type(values[bad[0]]).__name__}")
    return values


def names(name: str, values) -> tuple:
    """Names of settings or columns, as a tuple (``free=("steps",)``): a single string is refused,
    because ``free="steps"`` would free the settings 's', 't', 'e', 'p'."""
    if isinstance(values, str):
        raise ValueError(f"{name}={values!r} is a single string, not a tuple of names (it would name its letters); "
                         f"pass ({values!r},)")
    return tuple(strings(name, values, allow_empty=True))


def callable_(name: str, value, how: str = "") -> None:
    if not callable(value):
        raise TypeError(f"{name} must be a callable{' ' + how if how else ''}, got {type(value).__name__}")


def path(name: str, value) -> Path:
    """A str or PathLike, as a Path."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name}={value!r:.60} must be a path (str or pathlib.Path)")
    return Path(value)


def dict_(name: str, value, keys=(), what: str = "") -> dict:
    """A dict holding ``keys``."""
    if not isinstance(value, dict):
        raise TypeError(f"{name} must be a dict{' (' + what + ')' if what else ''}, got {type(value).__name__}")
    if missing := [k for k in keys if k not in value]:
        raise ValueError(f"{name} lacks {missing}{' (' + what + ')' if what else ''}")
    return value


def module(name: str, value) -> None:
    """A torch module (a model, possibly wrapped for DDP), else TypeError: a model's name or a path is
    not a model; load it first."""
    import torch  # here, not at import: the checks of plain data need no torch
    if not isinstance(value, torch.nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module (a model: slmlab.load_model() gives one), "
                        f"got {type(value).__name__} ({value!r:.60})")


def records(name: str, values, keys=(), what: str = "") -> list:
    """A non-empty list of dicts, each holding ``keys``. A single dict or a string is refused."""
    how = f" ({what})" if what else ""
    if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__len__"):
        raise TypeError(f"{name} must be a list of dicts{how}, got {type(values).__name__}; "
                        "wrap a single one in a list")
    if not len(values):
        raise ValueError(f"{name} is empty: pass at least one{how}")
    for i, v in enumerate(values):
        if not isinstance(v, dict):
            raise TypeError(f"{name}[{i}] must be a dict{how}, got {type(v).__name__}")
        if missing := [k for k in keys if k not in v]:
            raise ValueError(f"{name}[{i}] lacks {missing}{how}")
    return values


def existing_file(name: str, value, what: str = "") -> Path:
    """The path of a file that exists, else FileNotFoundError naming the argument."""
    p = path(name, value)
    if not p.is_file():
        raise FileNotFoundError(f"{name}={str(value)!r} is not a file{': pass ' + what if what else ''}"
                                + (" (it is a folder)" if p.is_dir() else ""))
    return p


def not_a_file(name: str, value) -> Path:
    """A folder to write into (it may not exist yet), else ValueError when a file stands there."""
    p = path(name, value)
    if p.is_file():
        raise ValueError(f"{name}={str(value)!r} is a file; pass a folder to write into")
    return p
