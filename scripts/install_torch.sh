#!/usr/bin/env bash
# Install PyTorch the right way for this machine, before `pip install -e .`:
#  - already importable        -> keep it (Colab, a GPU image, a conda env)
#  - an NVIDIA GPU is present  -> the default PyPI wheel, which is a CUDA build
#  - macOS                     -> the default PyPI wheel (CPU + MPS)
#  - otherwise (Linux CPU)     -> the CPU build, a few hundred MB instead of several GB: the
#                                 +cpu wheel if pip can already see one (a local wheel cache),
#                                 else from PyTorch's CPU index
# Override with TORCH_SPEC (e.g. TORCH_SPEC="torch==2.6.0") and TORCH_INDEX_URL.
set -euo pipefail
PY=${PYTHON:-python}
if "$PY" -c "import torch" 2>/dev/null; then
  echo "torch $("$PY" -c 'import torch; print(torch.__version__)') already installed"; exit 0
fi
if [ -n "${TORCH_SPEC:-}" ]; then
  exec "$PY" -m pip install ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "$TORCH_SPEC"
fi
if { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; } || [ "$(uname -s)" = Darwin ]; then
  exec "$PY" -m pip install "torch>=2.4,<2.16"
fi
"$PY" -m pip install "torch==2.13.0+cpu" \
  || "$PY" -m pip install "torch>=2.4,<2.16" --index-url "${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}"
