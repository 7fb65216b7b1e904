"""config/README.md documents every key, from the workflow's schema."""

import copy
import dataclasses

from istvt.config import ModelConfig
from istvt.configdoc import CONFIGS, load, render, undocumented
from istvt.data.demo import DemoOptions
from istvt.data.faces import FaceOptions
from istvt.data.preprocess import PreprocessOptions
from istvt.plan import SCHEMA
from istvt.train import TrainConfig

from .conftest import REPO

SCHEMA_DOC = load(SCHEMA)


def _fields(cls, drop=()):
    return {f.name for f in dataclasses.fields(cls)} - set(drop)


def test_every_key_of_both_configs_has_a_description():
    for path in CONFIGS.values():
        assert undocumented(load(REPO / path), SCHEMA_DOC) == [], path


def test_config_readme_is_the_generated_reference():
    configs = {name: load(REPO / path) for name, path in CONFIGS.items()}
    assert (REPO / "config" / "README.md").read_text().strip() == render(
        SCHEMA_DOC, configs
    ).strip(), "config/README.md is stale: python -m istvt.configdoc > config/README.md"


def test_typed_sections_list_every_field_of_their_config_class():
    """A new field of a typed config without a description in the schema fails here."""
    sections = {
        "model": _fields(ModelConfig),
        "demo": _fields(DemoOptions),
        "train": _fields(TrainConfig),
        # one flat section; T and the crop size follow the model section
        "preprocess": _fields(PreprocessOptions, ("sequence_length", "faces"))
        | _fields(FaceOptions, ("image_size",)),
    }
    for section, fields in sections.items():
        described = SCHEMA_DOC["properties"][section]["properties"]
        assert set(described) == fields, section
        assert all(node.get("description") for node in described.values()), section


def test_a_key_without_a_description_is_found():
    config = {
        "model": {"num_layers": 2},
        "experiments": {"x": {"dataset": "d", "train": {"lr": 1}}},
    }
    assert undocumented(config, SCHEMA_DOC) == []
    config["experiments"]["x"]["train"]["new_knob"] = 1
    config["brand_new"] = 1
    assert undocumented(config, SCHEMA_DOC) == ["experiments.x.train.new_knob", "brand_new"]
    schema = copy.deepcopy(SCHEMA_DOC)
    del schema["properties"]["model"]["properties"]["num_layers"]["description"]
    assert undocumented({"model": {"num_layers": 2}}, schema) == ["model.num_layers"]
