"""The inference module: precision paths, the measured `auto` choice and its cache."""

import json

import numpy as np
import pytest
import torch

from istvt import inference
from istvt.inference import PRECISIONS, Scorer, pick, predict, prepare
from istvt.model import ISTVT

from .conftest import tiny_config


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ISTVT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "precision.json"


def _model_and_clips(batch=6):
    model = ISTVT(tiny_config()).eval()
    cfg = model.cfg
    x = torch.randn(batch, cfg.sequence_length, 3, cfg.image_size, cfg.image_size)
    return model, x


def test_fp32_is_the_model_itself():
    model, x = _model_and_clips()
    with torch.no_grad():
        expected = model(x)
    assert torch.equal(prepare(model, "fp32", "cpu").logits(x), expected)


def test_low_precision_paths_stay_close_to_fp32():
    """Random-initialised tiny model: logits within 0.02 of fp32 (the trained demo model's
    tolerance, on probabilities and AUC, is tested in test_interpret.py)."""
    model, x = _model_and_clips()
    reference = prepare(model, "fp32", "cpu").logits(x)
    for path in ("bf16", "int8"):
        scorer = prepare(model, path, "cpu")
        assert scorer.precision == path
        got = scorer.logits(x)
        assert got.dtype == torch.float32
        assert (got - reference).abs().max() < 0.02, path


def test_int8_quantises_a_copy_and_keeps_the_head_in_fp32():
    model, _ = _model_and_clips()
    scorer = prepare(model, "int8", "cpu")
    linears = [m for m in model.modules() if type(m) is torch.nn.Linear]
    assert linears and scorer.model is not model  # the original keeps its fp32 layers
    quantised = [
        n
        for n, m in scorer.model.named_modules()
        if "quantized" in type(m).__module__.lower() and not n.endswith("_packed_params")
    ]
    assert len(quantised) == len(linears) - 1, quantised
    assert type(scorer.model.head) is torch.nn.Linear


def test_paths_a_device_lacks_are_refused_with_the_alternative():
    model, _ = _model_and_clips()
    with pytest.raises(ValueError, match="fp16 needs a GPU"):
        prepare(model, "fp16", "cpu")
    with pytest.raises(ValueError, match="one of auto, fp32, bf16, fp16, int8, hardware"):
        prepare(model, "fp8", "cpu")
    assert PRECISIONS == ("auto", "fp32", "bf16", "fp16", "int8", "hardware")
    assert prepare(model, "hardware", "cpu").precision == "fp32"  # on every CPU


def test_pick_takes_another_path_only_when_clearly_faster():
    assert pick({"fp32": 1.0, "bf16": 0.95, "int8": 0.97}) == "fp32"  # within the margin
    assert pick({"fp32": 1.0, "bf16": 0.5, "int8": 0.8}) == "bf16"
    assert pick({"fp32": 1.0, "int8": 0.8}) == "int8"
    assert pick({"fp32": 1.0, "bf16": 3.0}) == "fp32"  # emulated bf16 never wins


def test_auto_measures_once_per_machine_and_model_then_reads_the_cache(cache, monkeypatch):
    model, _ = _model_and_clips()
    calls = []
    real = inference.measure_paths

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(inference, "measure_paths", counting)
    first = prepare(model, "auto", "cpu").precision
    second = prepare(model, "auto", "cpu").precision
    assert len(calls) == 1 and first == second
    stored = next(iter(json.loads(cache.read_text()).values()))
    assert stored["choice"] == first and set(stored["seconds_per_clip"]) >= {"fp32"}
    assert first == pick(stored["seconds_per_clip"])
    assert "flags" in stored and "name" in stored  # which CPU the choice belongs to
    # another architecture is measured afresh
    prepare(ISTVT(tiny_config("joint")), "auto", "cpu")
    assert len(calls) == 2


def test_candidates_leave_out_emulated_bf16(monkeypatch):
    monkeypatch.setattr(inference, "cpu_has_native_bf16", lambda: False)
    assert "bf16" not in inference.candidate_paths(torch.device("cpu"))
    monkeypatch.setattr(inference, "cpu_has_native_bf16", lambda: True)
    assert "bf16" in inference.candidate_paths(torch.device("cpu"))


def test_predict_scores_every_clip_in_order_from_a_module_or_a_scorer(tmp_path):
    from istvt.data.dataset import ClipDataset

    from .test_train import synthetic_shard

    dataset = ClipDataset([synthetic_shard(tmp_path / "s.npz", videos=5, clips=3)])
    model, _ = _model_and_clips()
    scores = predict(model, dataset, batch_size=4, device="cpu", precision="fp32")
    x = torch.stack([dataset[i][0] for i in range(len(dataset))])
    with torch.no_grad():
        expected = torch.sigmoid(model(x)).numpy()
    assert scores.shape == (15,)
    np.testing.assert_allclose(scores, expected, atol=1e-6)
    scorer = Scorer(model, torch.device("cpu"), "fp32")
    np.testing.assert_array_equal(predict(scorer, dataset, batch_size=4), scores)
    # another batch size may round differently in the last bit, never more
    np.testing.assert_allclose(predict(scorer, dataset, batch_size=7), scores, atol=1e-6)
