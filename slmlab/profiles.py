"""Sizes for every notebook under each profile, as plain data, in one place.

A notebook names its profile in its papermill ``parameters`` cell and reads its sizes with
:func:`sizes`; any parameter the notebook exposes overrides the profile's value when it is not None::

    cfg = profiles.sizes("03_rlp_information_gain", profile, n_eval=n_eval)
    cfg.n_eval, cfg.n_seeds

``smoke`` proves a notebook runs (CI, seconds; numbers not meaningful), ``default`` is a lesson on a
2-core CPU with ~2 GB RAM (minutes), ``gpu`` scales up on a GPU kernel. Every profile runs offline.
"""
from __future__ import annotations

import math
from types import MappingProxyType
from typing import Any, Mapping

__all__ = ["PROFILE_NAMES", "SIZES", "Sizes", "sizes"]

PROFILE_NAMES = ("smoke", "default", "gpu")

# {notebook: {profile: {field: value}}}. Every profile of a notebook has the same fields.
# A notebook's entry is added by whoever writes the notebook; keep one comment per field.
SIZES: dict[str, dict[str, dict[str, Any]]] = {}


class Sizes(Mapping):
    """A read-only mapping of one notebook's sizes that also reads as attributes (``cfg.n_eval``)."""

    def __init__(self, notebook: str, profile: str, values: Mapping[str, Any]):
        self._values = MappingProxyType(dict(values))
        self.notebook, self.name = notebook, profile

    def __getattr__(self, key: str):
        try:
            return self.__dict__["_values"][key]
        except KeyError:
            raise AttributeError(f"{self.notebook} has no size {key!r}; it has {sorted(self._values)}") from None

    def __getitem__(self, key: str):
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"Sizes({self.notebook!r}, {self.name!r}: {body})"


def _check_override(notebook: str, key: str, default: Any, value: Any) -> Any:
    """An override must have the default's type (an int where an int is expected: no silent 2.7 -> 2)."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise TypeError(f"{key}={value!r} must be True or False ({notebook})")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{key}={value!r} must be an int ({notebook})")
        if value < 0:
            raise ValueError(f"{key}={value!r} must be >= 0 ({notebook})")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{key}={value!r} must be a number ({notebook})")
        if not math.isfinite(value):
            raise ValueError(f"{key}={value!r} must be finite ({notebook})")
        return float(value)
    if isinstance(default, (tuple, list)):
        if not isinstance(value, (tuple, list)):
            raise TypeError(f"{key}={value!r} must be a list or tuple ({notebook})")
        return type(default)(value)
    return value


def sizes(notebook: str, profile: str, **overrides: Any) -> Sizes:
    """The sizes of ``notebook`` under ``profile``; overrides that are None are ignored, so a
    notebook can pass its parameters cell straight through."""
    if not isinstance(profile, str) or profile not in PROFILE_NAMES:
        raise ValueError(f"profile={profile!r} is not a known profile; choose one of {list(PROFILE_NAMES)}")
    if notebook not in SIZES:
        raise ValueError(f"notebook={notebook!r} has no sizes; known: {sorted(SIZES)}")
    values = dict(SIZES[notebook][profile])
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in values:
            raise ValueError(f"{key!r} is not a size of {notebook}; sizes are {sorted(values)}")
        values[key] = _check_override(notebook, key, values[key], value)
    return Sizes(notebook, profile, values)
