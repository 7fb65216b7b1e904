"""Shared fixtures. Tests that read ../shared skip cleanly where it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from istvt.config import ModelConfig

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test when it is not there (a user's machine)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present (project fixtures live beside the repository)")
    return path


@pytest.fixture(autouse=True, scope="session")
def _precision_cache(tmp_path_factory):
    """`precision: auto` remembers its measured choice in $ISTVT_CACHE: a test run keeps
    its own (also for the workflow runs it starts), never the user's ~/.cache."""
    import os

    old = os.environ.get("ISTVT_CACHE")
    os.environ["ISTVT_CACHE"] = str(tmp_path_factory.mktemp("istvt_cache"))
    yield
    if old is None:
        os.environ.pop("ISTVT_CACHE", None)
    else:
        os.environ["ISTVT_CACHE"] = old


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield


#: A CPU-sized model: 64x64 input -> 4x4 tokens, 2 blocks, 32-d, T=4.
TINY = ModelConfig(
    sequence_length=4, num_layers=2, num_heads=2, dim_head=16, image_size=64, embed_dim=32
)


def tiny_config(attention: str = "temporal_first", **kw) -> ModelConfig:
    from istvt.config import SELF_SUBTRACT_VARIANTS

    kw.setdefault("self_subtract", attention in SELF_SUBTRACT_VARIANTS)
    return TINY.replace(attention=attention, **kw)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The tiny workflow run once, locally on 2 cores (tests.workflow_helpers.TINY)."""
    from .workflow_helpers import TINY, snakemake

    workdir = tmp_path_factory.mktemp("workflow")
    proc = snakemake(workdir, TINY, "--cores", "2")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return workdir


@pytest.fixture(scope="session")
def slurm_cluster():
    """A one-node Slurm from Debian's packages (tests/slurm/cluster.sh), up for the rest
    of the session and taken down at its end. Installing needs root and apt-get; without
    them, and without Slurm installed, the tests that use it skip."""
    import os
    import shutil
    import subprocess

    installed = shutil.which("sbatch") and shutil.which("slurmctld")
    if not installed and (os.geteuid() != 0 or shutil.which("apt-get") is None):
        pytest.skip("Slurm is not installed and cannot be (needs root and apt-get)")
    script = REPO / "tests" / "slurm" / "cluster.sh"
    up = subprocess.run(["bash", str(script), "up"], capture_output=True, text=True, timeout=900)
    assert up.returncode == 0, f"{script} up failed:\n{up.stdout[-2000:]}{up.stderr[-3000:]}"
    yield
    subprocess.run(["bash", str(script), "down"], capture_output=True, timeout=120)
