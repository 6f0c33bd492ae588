"""Our own calls raise no library deprecation warning in the executed notebooks: reading the KV cache
under its old name (``past_key_values``) logged one in red in notebooks 03 and 04."""
import pytest
import torch
from transformers.utils import generic

from slmlab import thoughts


def test_context_cache_is_read_under_its_current_name(tiny, monkeypatch):
    if not isinstance(getattr(generic.ModelOutput, "past_key_values", None), property):
        pytest.skip("this transformers still calls the field past_key_values (nothing deprecated)")

    def deprecated(self):
        raise AssertionError("read the deprecated output name `past_key_values`")
    monkeypatch.setattr(generic.ModelOutput, "past_key_values", property(deprecated))
    model, tok = tiny
    enc = tok(["12 + 7 = 19", "3 * 4 ="], return_tensors="pt", padding=True)
    with torch.no_grad():
        cache = thoughts._forward_context(model, enc["input_ids"], enc["attention_mask"])
    assert cache.get_seq_length() == enc["input_ids"].shape[1]
