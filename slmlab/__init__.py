"""slmlab: the helper package behind the notebooks on how small language models gain reasoning.

Importing it is light and needs no Jupyter kernel; each module holds one idea (see DESIGN in the
README): runtime and report at the bottom, problems and models above, then training, evaluation,
and one module per technique."""
from .runtime import artifacts_dir, fit_threads, pick_device, pick_dtype, runtime_versions, seed_everything
from .models import EMBEDDED_MODEL, load_model

__version__ = "0.1.0"
__all__ = ["artifacts_dir", "fit_threads", "runtime_versions", "pick_device", "pick_dtype", "seed_everything",
           "EMBEDDED_MODEL", "load_model", "__version__"]
