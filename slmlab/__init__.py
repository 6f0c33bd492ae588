"""slmlab: the helper package behind the notebooks on how small language models gain reasoning.

Importing it is light and needs no Jupyter kernel; each module holds one idea (see DESIGN in the
README): runtime and report at the bottom, problems and models above, then training, evaluation,
and one module per technique.

The names below load their module (torch, transformers) on first use, so ``import slmlab`` and the
command line's error messages stay fast; ``from slmlab import load_model`` works as usual."""
from __future__ import annotations

import importlib
import os

# OpenMP threads that wait for work by spinning stall when another process takes their core: beside a
# neighbour that wakes often (a browser, a Jupyter server, a second kernel), 2-thread torch work on a
# 2-core CPU ran 12x slower (benchmarks/bench_threads.py). Waiting passively avoids that. OpenMP reads
# this once, when torch loads, so it is set here, on `import slmlab`, unless the user set it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS = {
    "artifacts_dir": "runtime", "fit_threads": "runtime", "pick_device": "runtime", "pick_dtype": "runtime",
    "runtime_versions": "runtime", "seed_everything": "runtime", "derive_seed": "runtime",
    "EMBEDDED_MODEL": "models", "load_model": "models",
}
__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value  # next time a plain attribute
        return value
    raise AttributeError(f"module 'slmlab' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_EXPORTS})
