"""The codebase stays ruff-clean and the workflow snakemake-lint-clean."""

import shutil
import subprocess
import sys

import pytest
import yaml

from .conftest import REPO


def test_ruff_clean():
    if shutil.which("ruff") is None:
        pytest.skip("ruff not installed (pip install -e '.[test]')")
    proc = subprocess.run(["ruff", "check", "."], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_snakemake_lint_clean():
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--lint"], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Lints for" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_the_workflows_config_check_imports_no_torch():
    """What the Snakefile imports to check a config and plan the jobs stays light (torch
    and timm cost ~3.5 s per snakemake start, before any message): only costing a
    training's priority loads the model."""
    code = (
        "import sys, istvt.plan, istvt.perturb, istvt.data.manifest, istvt.data.preprocess\n"
        "heavy = sorted({'torch', 'timm'} & set(sys.modules))\n"
        "assert not heavy, heavy"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.parametrize(
    "section, change, message",
    [
        ("model", {"num_layers": 0}, "model.num_layers must be a positive integer"),
        ("demo", {"identities": 3}, "demo.identities must be at least 6"),
        ("preprocess", {"clip_per_video": 3}, "preprocess: unknown key(s) clip_per_video"),
        ("preprocess", {"clips_per_video": "most"}, "clips_per_video must be an integer"),
        ("preprocess", {"store": "jpeg"}, "store must be one of raw, webp, png"),
    ],
)
def test_invalid_config_fails_before_any_job(tmp_path, section, change, message):
    # a user's config file replaces the default one: the default with one bad value
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config[section] = {**config[section], **change}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--configfile", str(bad)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr


def test_no_import_cycles_in_the_package():
    """Every `istvt` import, function-level ones included, points one way."""
    import ast

    modules = {}
    for path in (REPO / "istvt").rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in modules.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("istvt"):
                for alias in node.names:  # `from pkg import submodule` imports the submodule
                    sub = f"{node.module}.{alias.name}"
                    deps.add(sub if sub in modules else node.module)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("istvt")}
        graph[name] = deps & set(modules)

    def cycle_from(start):
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for dep in graph[node]:
                if dep == start:
                    return path + [dep]
                if dep not in seen:
                    seen.add(dep)
                    stack.append((dep, path + [dep]))
        return None

    cycles = [c for c in map(cycle_from, graph) if c]
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)
