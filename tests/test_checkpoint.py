import pytest
import torch

from istvt.checkpoint import CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint
from istvt.model import ISTVT

from .conftest import tiny_config


def test_round_trip_gives_the_same_logits(tmp_path):
    cfg = tiny_config()
    model = ISTVT(cfg).eval()
    path = save_checkpoint(tmp_path / "m.pth", model, extra={"epoch": 3})
    loaded = load_checkpoint(path, expected=cfg).eval()
    x = torch.randn(1, 4, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    payload = read_checkpoint(path)
    assert payload["model_config"]["embed_dim"] == 32
    assert payload["extra"] == {"epoch": 3}
    assert "torch" in payload["versions"] and "timm" in payload["versions"]


def test_plain_weights_only_load(tmp_path):
    path = save_checkpoint(tmp_path / "m.pth", ISTVT(tiny_config()))
    payload = torch.load(path, weights_only=True)
    assert set(payload) >= {"state_dict", "model_config", "versions"}


def test_mismatch_names_the_differing_keys(tmp_path):
    path = save_checkpoint(tmp_path / "m.pth", ISTVT(tiny_config()))
    other = tiny_config(num_layers=3, embed_dim=48)
    with pytest.raises(CheckpointError, match="embed_dim: requested 48, checkpoint has 32") as e:
        load_checkpoint(path, expected=other)
    assert "num_layers: requested 3, checkpoint has 2" in str(e.value)
    assert "sequence_length" not in str(e.value)


class Payload:
    def __reduce__(self):
        return (print, ("code ran",))


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"format": "istvt-checkpoint", "obj": Payload()}, path)
    with pytest.raises(CheckpointError, match="not a readable weights-only checkpoint"):
        read_checkpoint(path)


def test_foreign_files_are_explained(tmp_path):
    path = tmp_path / "sd.pth"
    torch.save({"a": torch.zeros(1)}, path)
    with pytest.raises(CheckpointError, match="convert-authors"):
        read_checkpoint(path)
    with pytest.raises(FileNotFoundError):
        read_checkpoint(tmp_path / "missing.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError):
        read_checkpoint(tmp_path / "junk.pth")


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path):
    save_checkpoint(tmp_path / "m.pth", ISTVT(tiny_config()))
    assert [p.name for p in tmp_path.iterdir()] == ["m.pth"]
