"""Our model reproduces the logit of the authors' published model code."""

import pytest
import torch

from istvt.checkpoint import load_checkpoint
from istvt.cli import main
from istvt.model import ISTVT
from istvt.model.convert import (
    ConversionError,
    convert_authors_state_dict,
    infer_authors_config,
)

from .conftest import shared_path


@pytest.fixture(scope="module")
def authors():
    ref = shared_path("data", "reference")
    state = torch.load(ref / "authors_istvt_depth1_state_dict.pth", weights_only=True)
    io = torch.load(ref / "authors_istvt_depth1_io.pt", weights_only=True)
    return state, io


def test_structure_read_off_their_weights(authors):
    cfg = infer_authors_config(authors[0])
    assert (cfg.sequence_length, cfg.num_layers, cfg.embed_dim, cfg.image_size) == (6, 1, 728, 300)
    assert cfg.mlp_dim == 2912 and cfg.attention == "temporal_first" and cfg.self_subtract


@pytest.mark.parametrize("impl", ["sdpa", "explicit"])
def test_same_logit_as_the_authors_code(authors, impl):
    state, io = authors
    converted, cfg = convert_authors_state_dict(state)
    model = ISTVT(cfg).eval()
    model.load_state_dict(converted)
    model.set_attention_impl(impl)
    with torch.inference_mode():
        out = model(io["input"])
    assert out.shape == (1,)
    torch.testing.assert_close(out, io["output"].reshape(1), rtol=0, atol=1e-6)


def test_the_reference_is_sensitive_to_self_subtract(authors):
    """Guard against an equivalence test that cannot fail."""
    state, io = authors
    converted, cfg = convert_authors_state_dict(state)
    model = ISTVT(cfg.replace(self_subtract=False)).eval()
    model.load_state_dict(converted)
    with torch.inference_mode():
        out = model(io["input"])
    assert (out - io["output"].reshape(1)).abs().item() > 1e-3


def test_unused_xception_tail_is_ignored_other_keys_are_reported(authors):
    state = dict(authors[0])
    state["xcep.model.block7.rep.1.pointwise.weight"] = torch.zeros(728, 728, 1, 1)
    state["xcep.model.last_linear.1.weight"] = torch.zeros(2, 2048)
    state["xcep.model.bn4.running_mean"] = torch.zeros(2048)
    converted, _ = convert_authors_state_dict(state)  # tail keys ignored
    assert not any("block7" in k for k in converted)
    state["vit.some_new_layer.weight"] = torch.zeros(3)
    state["xcep.model.stem.weight"] = torch.zeros(3)
    expected = "2 key.*vit.some_new_layer.weight, xcep.model.stem.weight"
    with pytest.raises(ConversionError, match=expected):
        convert_authors_state_dict(state)


def test_missing_keys_are_reported(authors):
    state = {k: v for k, v in authors[0].items() if "layers.0.1.fn.to_qkv" not in k}
    with pytest.raises(ConversionError, match="blocks.0.spatial.attn.qk.weight"):
        convert_authors_state_dict(state)


def test_dataparallel_prefix_is_accepted(authors):
    state = {f"module.{k}": v for k, v in authors[0].items()}
    converted, _ = convert_authors_state_dict(state)
    assert "entry_flow.block3.skip.weight" in converted


def test_cli_convert_then_load(authors, tmp_path, capsys):
    ref = shared_path("data", "reference", "authors_istvt_depth1_state_dict.pth")
    out = tmp_path / "converted.pth"
    assert main(["convert-authors", str(ref), str(out)]) == 0
    assert "num_layers" in capsys.readouterr().out
    model = load_checkpoint(out).eval()
    with torch.inference_mode():
        logit = model(authors[1]["input"])
    torch.testing.assert_close(logit, authors[1]["output"].reshape(1), rtol=0, atol=1e-4)


def test_cli_convert_rejects_a_foreign_file(tmp_path, capsys):
    src = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(1)}, src)
    assert main(["convert-authors", str(src), str(tmp_path / "o.pth")]) == 2
    assert "no 'vit.pos_embedding'" in capsys.readouterr().err
