import pytest

from istvt.config import ConfigError, ModelConfig, load_model_config


def test_defaults_are_the_paper_model():
    cfg = ModelConfig()
    assert (cfg.sequence_length, cfg.num_layers, cfg.num_heads, cfg.dim_head) == (6, 12, 8, 64)
    assert (cfg.image_size, cfg.embed_dim, cfg.mlp_dim) == (300, 728, 2912)
    assert cfg.feature_size == 19 and cfg.num_tokens == 362
    assert cfg.attention == "temporal_first" and cfg.self_subtract


def test_load_from_yaml(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  sequence_length: 4\n  num_layers: 2\n  embed_dim: 64\n")
    cfg = load_model_config(path)
    assert (cfg.sequence_length, cfg.num_layers, cfg.embed_dim) == (4, 2, 64)


def test_unknown_key_is_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  depth: 4\n")
    with pytest.raises(ConfigError, match=r"c\.yaml.*unknown key\(s\) depth"):
        load_model_config(path)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"num_layers": 0}, "model.num_layers must be a positive integer"),
        ({"attention": "diagonal"}, "unknown variant 'diagonal'"),
        ({"attention": "joint"}, "set model.self_subtract: false"),
        ({"image_size": 16}, "model.image_size must be at least 40"),
        ({"dropout": 1.5}, r"model.dropout must be in \[0, 1\)"),
        ({"sequence_length": 1}, "needs model.sequence_length >= 2"),
    ],
)
def test_invalid_values_name_the_key(changes, message):
    with pytest.raises(ConfigError, match=message):
        ModelConfig(**changes)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_model_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_model_config(bad)


@pytest.mark.parametrize("size, side", [(300, 19), (299, 19), (224, 14), (64, 4)])
def test_feature_size_matches_the_entry_flow(size, side):
    import torch

    from istvt.model.xception import XceptionEntryFlow

    assert ModelConfig(image_size=size).feature_size == side
    with torch.device("meta"):
        out = XceptionEntryFlow()(torch.empty(1, 3, size, size))
    assert tuple(out.shape) == (1, 728, side, side)


def test_exponent_numbers_that_yaml_reads_as_strings_are_taken_as_floats():
    import yaml

    from istvt.train import TrainConfig

    section = yaml.safe_load("lr: 1e-4\nweight_decay: 5e-2\n")
    assert section["lr"] == "1e-4"  # YAML 1.1: no dot, no float
    cfg = TrainConfig.from_dict(section)
    assert cfg.lr == 1e-4 and cfg.weight_decay == 0.05
    with pytest.raises(ConfigError, match=r"train\.lr: expected a number, got 'fast'"):
        TrainConfig.from_dict({"lr": "fast"})
