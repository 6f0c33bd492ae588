import json

import numpy as np
import pytest
import torch

from slmlab import report


def test_record_merges_and_converts(tmp_path, monkeypatch):
    path = tmp_path / "m.json"
    monkeypatch.setenv("SLMLAB_METRICS_FILE", str(path))
    report.record("00_x", {"a": np.float32(0.5), "b": {1: torch.tensor(3)}})
    out = report.record("00_x", {"c": [1, 2.5], "nan": float("nan")})
    assert out == {"a": 0.5, "b": {"1": 3}, "c": [1, 2.5], "nan": None}
    assert json.loads(path.read_text()) == out
    assert not list(tmp_path.glob(".m.json.*"))  # no temporary file left behind


def test_record_rejects_what_json_cannot_hold(tmp_path, monkeypatch):
    monkeypatch.setenv("SLMLAB_METRICS_FILE", str(tmp_path / "m.json"))
    with pytest.raises(ValueError, match=r"00_x\.model"):
        report.record("00_x", {"model": object()})
    with pytest.raises(ValueError, match="notebook"):
        report.record("", {"a": 1})
    with pytest.raises(ValueError, match="dict"):
        report.record("00_x", [1, 2])


def test_default_location(tmp_path, monkeypatch):
    monkeypatch.delenv("SLMLAB_METRICS_FILE", raising=False)
    monkeypatch.delenv("SLMLAB_ARTIFACTS", raising=False)
    monkeypatch.chdir(tmp_path)
    report.record("07_y", {"x": 1})
    assert json.loads((tmp_path / "runs" / "metrics" / "07_y.json").read_text()) == {"x": 1}
    monkeypatch.setenv("SLMLAB_ARTIFACTS", str(tmp_path / "elsewhere"))  # nbval's runs keep notebooks/ clean
    report.record("07_y", {"x": 2})
    assert json.loads((tmp_path / "elsewhere" / "metrics" / "07_y.json").read_text()) == {"x": 2}


def test_record_shows_a_compact_table(tmp_path, monkeypatch):
    monkeypatch.setenv("SLMLAB_METRICS_FILE", str(tmp_path / "m.json"))
    rounds = [{"round": i, "valid_rate": 0.5, "vendi": 11.5 + i, "kept": 40} for i in range(40)]
    out = report.record("02_x", {"accuracy": 0.36166666, "rounds": rounds, "vendi": [11.56, 12.43],
                                 "target": {"max_value": 99, "max_result": 999}, "verdict": "within the seed spread"})
    assert isinstance(out, dict) and out["rounds"] == rounds  # still the recorded dict to code
    text = repr(out)
    assert len(text.splitlines()) == 1 + 5  # a title and one line per metric, not a dump of every round
    assert "accuracy  0.3617" in text and "rounds    list of 40" in text and "vendi     [11.56, 12.43]" in text
    assert "{max_value: 99, max_result: 999}" in text
    assert text.splitlines()[0].startswith("recorded for 02_x (5 metrics")
    html = out._repr_html_()
    assert html.startswith("<details>") and html.count("<tr>") == 5
