"""The codebase stays ruff-clean and the workflow snakemake-lint-clean."""

import shutil
import subprocess
import sys

import pytest

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


@pytest.mark.parametrize(
    "yaml_text, message",
    [
        ("model:\n  num_layers: 0\n", "model.num_layers must be a positive integer"),
        ("demo:\n  identities: 3\n", "demo.identities must be at least 6"),
        ("preprocess:\n  clip_per_video: 3\n", "preprocess: unknown key(s) clip_per_video"),
    ],
)
def test_invalid_config_fails_before_any_job(tmp_path, yaml_text, message):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml_text)
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--configfile", str(bad)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
