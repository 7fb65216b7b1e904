"""The reference of every configuration key, generated from the workflow's JSON schema
(``workflow/schemas/config.schema.yaml``), with the values of the default config and of
``config/paper.yaml`` beside each description.

    python -m istvt.configdoc > config/README.md     # regenerate
    python -m istvt.configdoc --check                # keys without a description

A test keeps ``config/README.md`` equal to this output and fails when a key of either
config has no description in the schema.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from istvt.plan import SCHEMA

REPO = SCHEMA.parents[2]
CONFIGS = {"default run": "config/config.yaml", "paper": "config/paper.yaml"}
#: nested sections that override a top-level section (experiments.<name>.model, ...)
OVERRIDES = ("model", "train", "preprocess")


def load(path: Path) -> dict:
    return yaml.safe_load(Path(path).read_text())


def _child(node: dict, key: str) -> tuple[dict | None, bool]:
    """(schema node of ``key`` under ``node``, whether it is a named entry of a map)."""
    if key in node.get("properties", {}):
        return node["properties"][key], False
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        return extra, True
    return None, False


def _resolve(schema: dict, node: dict, key: str, depth: int) -> dict:
    """Override sections (experiments.<name>.model) read the top-level section's keys."""
    if depth > 0 and key in OVERRIDES and "properties" not in node:
        return {**schema["properties"][key], **{"description": node.get("description", "")}}
    return node


def undocumented(config: dict, schema: dict) -> list[str]:
    """Key paths of ``config`` that the schema does not describe."""
    missing = []

    def walk(value, node, path, depth):
        if not isinstance(value, dict):
            return
        for key, sub in value.items():
            child, named = _child(node, str(key))
            where = f"{path}.{key}" if path else str(key)
            if child is None or (not named and not child.get("description")):
                missing.append(where)
                continue
            if named and not node.get("description"):
                missing.append(where)
            walk(sub, _resolve(schema, child, str(key), depth), where, depth + 1)

    walk(config, schema, "", 0)
    return missing


def rows(schema: dict) -> list[tuple[str, str]]:
    """(key path, description) of every key the schema names, in schema order; map
    entries as ``<name>``."""
    out = []

    def walk(node, path, depth):
        for key, child in node.get("properties", {}).items():
            where = f"{path}.{key}" if path else key
            out.append((where, child.get("description", "")))
            if depth > 0 and key in OVERRIDES and "properties" not in child:
                continue  # documented at the top level
            walk(child, where, depth + 1)
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) and ("properties" in extra or "additionalProperties" in extra):
            walk(extra, f"{path}.<name>", depth + 1)

    walk(schema, "", 0)
    return out


def _value(config: dict, path: str) -> str:
    node = config
    for part in path.split("."):
        if part == "<name>" or not isinstance(node, dict):
            return ""
        if part not in node:
            return "-"
        node = node[part]
    if isinstance(node, dict):
        return ""
    return f"`{json.dumps(node)}`"


def render(schema: dict, configs: dict[str, dict]) -> str:
    lines = [
        "# Configuration keys",
        "",
        "Every key of a workflow config, generated from `workflow/schemas/config.schema.yaml`",
        "by `python -m istvt.configdoc > config/README.md` (a test keeps this page equal to",
        "that output, and fails when a key of either shipped config has no description).",
        "The two shipped configs: `config/config.yaml`, the default run on the embedded demo,",
        "and `config/paper.yaml`, the paper's protocol on your copies of the data sets. A",
        "`--configfile` replaces the default config; sections it leaves out take the",
        "package's defaults. Values checked by the package's typed configs name the key",
        "when wrong, before any job starts. `-`: not set in that file (the package's default",
        "applies).",
        "",
    ]
    for section, description in [(k, v) for k, v in rows(schema) if "." not in k]:
        lines += [f"## `{section}`", "", " ".join(description.split()), ""]
        body = [(k, d) for k, d in rows(schema) if k.startswith(section + ".")]
        value = [_value(c, section) for c in configs.values()]
        if not body:
            lines += [
                f"{name}: {v or '(not set)'}" for name, v in zip(configs, value, strict=True)
            ] + [""]
            continue
        head = " | ".join(configs)
        lines += [f"| key | {head} | description |", "|---|" + "---|" * len(configs) + "---|"]
        for key, desc in body:
            cells = " | ".join(_value(c, key) for c in configs.values())
            text = " ".join(desc.split()).replace("<", "&lt;")
            lines.append(f"| `{key}` | {cells} | {text} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="list undocumented keys")
    args = parser.parse_args(argv)
    schema = load(SCHEMA)
    configs = {name: load(REPO / path) for name, path in CONFIGS.items()}
    if args.check:
        missing = [
            f"{CONFIGS[name]}: {key}"
            for name, config in configs.items()
            for key in undocumented(config, schema)
        ]
        print("\n".join(missing) or "every key is described")
        return 1 if missing else 0
    print(render(schema, configs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
