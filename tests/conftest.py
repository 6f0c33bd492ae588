import os

import pytest

# Tests never touch the network: a hub id must fail fast with our own error.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")


@pytest.fixture(scope="session")
def tiny():
    """The embedded model and tokenizer, loaded once."""
    import slmlab
    return slmlab.load_model()


@pytest.fixture(scope="session")
def small_corpus():
    from slmlab import problems
    return problems.make_splits(300, 16, seed=0)
