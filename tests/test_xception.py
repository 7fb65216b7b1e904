from pathlib import Path

import pytest
import timm
import torch

from istvt.model import ISTVT
from istvt.model.xception import XceptionEntryFlow, load_xception_weights

from .conftest import tiny_config


@pytest.fixture(scope="module")
def timm_xception():
    torch.manual_seed(0)
    model = timm.create_model("legacy_xception", pretrained=False).eval()
    for m in model.modules():  # non-trivial BN statistics so a wrong mapping shows
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return model


def test_entry_flow_equals_timm_conv1_to_block3(timm_xception, tmp_path):
    path = tmp_path / "xception_imagenet.pth"
    torch.save(timm_xception.state_dict(), path)
    flow = XceptionEntryFlow().eval()
    load_xception_weights(flow, path)
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        t = timm_xception
        ref = t.act2(t.bn2(t.conv2(t.act1(t.bn1(t.conv1(x))))))
        ref = t.block3(t.block2(t.block1(ref)))
        torch.testing.assert_close(flow(x), ref)


def test_cadene_format_with_2d_pointwise_weights(timm_xception, tmp_path):
    state = {}
    for k, v in timm_xception.state_dict().items():
        if k.endswith("pointwise.weight"):
            v = v[:, :, 0, 0]  # the original Cadene release stores these as 2-D
        state[k.replace("fc.", "last_linear.")] = v
    path = tmp_path / "xception-cadene.pth"
    torch.save(state, path)
    flow = XceptionEntryFlow()
    load_xception_weights(flow, path)
    torch.testing.assert_close(
        flow.block2.rep[1].pointwise.weight, timm_xception.block2.rep[1].pointwise.weight
    )


def test_model_config_key_loads_weights(timm_xception, tmp_path):
    path = tmp_path / "x.pth"
    torch.save(timm_xception.state_dict(), path)
    model = ISTVT(tiny_config(xception_weights=str(path)))
    torch.testing.assert_close(model.entry_flow.conv1.weight, timm_xception.conv1.weight)


def test_missing_file_names_the_config_key(tmp_path):
    with pytest.raises(FileNotFoundError, match="model.xception_weights: .*nope.pth"):
        ISTVT(tiny_config(xception_weights=str(tmp_path / "nope.pth")))


def test_wrong_keys_and_shapes_are_listed(tmp_path):
    path = tmp_path / "resnet.pth"
    torch.save({"layer1.0.conv1.weight": torch.zeros(1)}, path)
    with pytest.raises(KeyError, match="missing .* key"):
        load_xception_weights(XceptionEntryFlow(), path)
    state = XceptionEntryFlow().state_dict()
    state["conv1.weight"] = torch.zeros(32, 1, 3, 3)
    torch.save(state, path)
    with pytest.raises(KeyError, match=r"conv1.weight \(32, 1, 3, 3\) != \(32, 3, 3, 3\)"):
        load_xception_weights(XceptionEntryFlow(), path)


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No route to any hub: every HTTP(S) request goes to a closed local port, and the
    Hugging Face hub client is told it is offline. torch hub's cache: an empty folder."""
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch"


def test_imagenet_weights_come_from_timms_cache_offline(timm_xception, offline):
    from istvt.model.xception import weights_cache

    cached = Path(weights_cache())
    assert cached.parent == offline / "hub" / "checkpoints"  # torch hub's cache, by timm's cfg
    cached.parent.mkdir(parents=True)
    torch.save(timm_xception.state_dict(), cached)  # as if downloaded on an earlier run
    model = ISTVT(tiny_config(xception_weights="imagenet"))
    expected = timm_xception.state_dict()
    for key, value in model.entry_flow.state_dict().items():
        torch.testing.assert_close(value, expected[key], msg=key)


def test_imagenet_weights_offline_without_cache_say_what_to_do(offline):
    from istvt.model.xception import PretrainedWeightsUnavailable

    with pytest.raises(PretrainedWeightsUnavailable) as err:
        ISTVT(tiny_config(xception_weights="imagenet"))
    text = str(err.value)
    assert "legacy_xception.tf_in1k" in text
    assert str(offline / "hub" / "checkpoints") in text
    assert "local Xception checkpoint" in text and "model.xception_weights" in text
