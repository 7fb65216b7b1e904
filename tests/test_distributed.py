"""Data-parallel training: N gloo processes on CPU take the steps of one process."""

import os
import subprocess
import sys

import pandas as pd
import pytest
import torch
import torch.distributed as dist

from istvt.checkpoint import read_checkpoint
from istvt.distributed import GlobalBatchNorm2d, World, synchronise_batchnorm

from .conftest import REPO
from .test_train import synthetic_shard

HELPER = REPO / "tests" / "helpers" / "ddp_train.py"


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    synthetic_shard(root / "train.npz", videos=8, seed=0)  # 16 clips: 4 global batches of 4
    synthetic_shard(root / "val.npz", videos=4, seed=1)
    return root


def launch(data, out, processes=1, *extra, check=True):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    prefix = [sys.executable]
    if processes > 1:
        prefix += [
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={processes}",
        ]
    if "--precision" not in extra:
        # one process = N processes is a property of fp32 arithmetic; CPU bf16 autocast
        # (auto, where the CPU has it) rounds differently when the batch is split
        extra = (*extra, "--precision", "fp32")
    cmd = [*prefix, str(HELPER), str(data), str(out), *extra]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if check and done.returncode:
        raise AssertionError(f"{cmd} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def weights(out):
    return read_checkpoint(out / "model.pth")["state_dict"]


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        if a[k].is_floating_point():
            torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=k)
        else:
            assert torch.equal(a[k], b[k]), k


def data_dirs(shards, root, *names):
    """A folder per run, each linking the shared shards (and holding its own state)."""
    dirs = []
    for n in names:
        (root / n).mkdir()
        for name in ("train.npz", "val.npz"):
            (root / n / name).symlink_to(shards / name)
        dirs.append(root / n)
    return dirs


def test_two_gloo_processes_match_one_process(shards, tmp_path):
    data_one, data_two = data_dirs(shards, tmp_path, "one", "two")
    # one process with two loader workers against two processes with none: the
    # augmentation and batch order depend on neither
    launch(data_one, tmp_path / "out1", 1, "--workers", "2")
    launch(data_two, tmp_path / "out2", 2)
    one, two = weights(tmp_path / "out1"), weights(tmp_path / "out2")
    assert_same_weights(one, two)
    # training moved the weights (BatchNorm scales start at 1), so the comparison is not
    # between two initialisations, and it moved the BatchNorm parameters of both runs
    for w in (one, two):
        assert (w["entry_flow.bn1.weight"] != 1).any()
    log1 = pd.read_csv(tmp_path / "out1" / "log.csv")
    log2 = pd.read_csv(tmp_path / "out2" / "log.csv")
    assert log1.epoch.tolist() == log2.epoch.tolist() == [1, 2, 3]
    pd.testing.assert_series_equal(log1.train_loss, log2.train_loss, rtol=1e-4)
    pd.testing.assert_series_equal(log1.val_loss, log2.val_loss, rtol=1e-4)
    assert log1.train_loss.iloc[0] != log1.train_loss.iloc[-1]
    payload = read_checkpoint(tmp_path / "out2" / "model.pth")
    assert payload["extra"]["world_size"] == 2


def test_the_entry_flow_stage_divides_over_processes(shards, tmp_path):
    """train.entry_epochs under two processes takes the steps of one: the model's first
    epoch, which starts from the stage's entry flow, reads the same losses (float noise
    then grows over the epochs, so the weights are compared in the test above only)."""
    data_one, data_two, plain = data_dirs(shards, tmp_path, "one", "two", "plain")
    launch(data_one, tmp_path / "out1", 1, "--entry-epochs", "1")
    launch(data_two, tmp_path / "out2", 2, "--entry-epochs", "1")
    log1 = pd.read_csv(tmp_path / "out1" / "log.csv").iloc[0]
    log2 = pd.read_csv(tmp_path / "out2" / "log.csv").iloc[0]
    for column in ("train_loss", "val_loss"):
        assert log1[column] == pytest.approx(log2[column], rel=1e-5), column
    # and the stage changed the start: without it the first epoch reads otherwise
    launch(plain, tmp_path / "out3", 1)
    log3 = pd.read_csv(tmp_path / "out3" / "log.csv").iloc[0]
    assert log3.train_loss != pytest.approx(log1.train_loss, rel=1e-3)


def test_a_run_killed_under_two_processes_resumes_under_one(shards, tmp_path):
    ref_data, data = data_dirs(shards, tmp_path, "ref", "resumed")
    launch(ref_data, tmp_path / "ref_out", 1)
    died = launch(data, tmp_path / "out", 2, "--die-in-epoch", "2", check=False)
    assert died.returncode != 0
    assert (data / "state.pt").is_file() and not (tmp_path / "out" / "model.pth").exists()
    state = torch.load(data / "state.pt", weights_only=True)
    assert state["epoch"] == 1 and state["world_size"] == 2
    launch(data, tmp_path / "out", 1)
    assert_same_weights(weights(tmp_path / "ref_out"), weights(tmp_path / "out"))
    assert not (data / "state.pt").exists()


def test_global_batch_must_divide_over_the_processes(monkeypatch, tmp_path):
    import istvt.train as train_module
    from istvt.data.dataset import ClipDataset
    from istvt.train import TrainConfig

    from .conftest import tiny_config

    synthetic_shard(tmp_path / "t.npz", videos=2)
    ds = ClipDataset([tmp_path / "t.npz"])
    monkeypatch.setattr(train_module.distributed, "current", lambda: World(0, 3, 0))
    with pytest.raises(ValueError, match="batch_size = 4 is the global batch.*3 training"):
        train_module.train(
            tiny_config(),
            TrainConfig(batch_size=4),
            ds,
            ds,
            tmp_path / "m",
            tmp_path / "s",
            tmp_path / "l",
        )


def test_global_batchnorm_is_batchnorm_for_one_process():
    assert not dist.is_initialized()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    reference = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    reference.load_state_dict(model.state_dict())
    synchronise_batchnorm(model, torch.device("cpu"))
    assert isinstance(model[1], GlobalBatchNorm2d)
    x = torch.randn(5, 3, 8, 8)
    torch.testing.assert_close(model(x), reference(x))
    assert model.state_dict().keys() == reference.state_dict().keys()


def test_two_nodes_meeting_through_c10d_match_one_process(shards, tmp_path):
    """Two torchrun agents on this machine, as two nodes of a Slurm job would be (one
    agent per node, c10d rendezvous at the first node): the same model as one process.
    The agents' command is the workflow's (istvt.train.torchrun_command) with the test's
    training script in place of the job."""
    import socket

    from istvt.train import torchrun_command

    data_one, data_two = data_dirs(shards, tmp_path, "one", "nodes")
    launch(data_one, tmp_path / "out1", 1)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = torchrun_command(tmp_path / "job.json", 1, nodes=2, endpoint=f"127.0.0.1:{port}")
    assert "--nnodes=2" in cmd and "--rdzv-backend=c10d" in cmd
    cmd = cmd[: cmd.index("-m", 3)] + [str(HELPER), str(data_two), str(tmp_path / "out2")]
    cmd += ["--precision", "fp32"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    agents = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    outputs = [agent.communicate(timeout=600)[0] for agent in agents]
    assert all(agent.returncode == 0 for agent in agents), "\n".join(o[-2000:] for o in outputs)
    assert read_checkpoint(tmp_path / "out2" / "model.pth")["extra"]["world_size"] == 2
    assert_same_weights(weights(tmp_path / "out1"), weights(tmp_path / "out2"))
