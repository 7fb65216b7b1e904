"""Data-parallel training under ``torchrun``: process group, device, synchronised BatchNorm.

``torchrun --nproc_per_node N`` starts N copies of the same command and sets ``RANK``,
``LOCAL_RANK`` and ``WORLD_SIZE``; :func:`process_group` joins them (NCCL on GPUs, gloo
on CPUs) and leaves again. Without those variables everything here is a no-op and the
training loop runs as a single process.

The loop keeps a *global* batch (``train.batch_size``) split evenly over the ranks, so
that N processes take the same optimisation steps as one: gradients are averaged by
:class:`~torch.nn.parallel.DistributedDataParallel` and the entry flow's BatchNorm
normalises over the whole global batch (:func:`synchronise_batchnorm`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class World:
    """This process's place among the training processes."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the only process that logs, writes files and keeps the best weights."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def current() -> World:
    """The world of an initialised process group, else a single process."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size(), _env_int("LOCAL_RANK", 0))
    return World()


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


def launched_world() -> World:
    """The world ``torchrun`` describes in the environment (size 1 without it)."""
    return World(_env_int("RANK", 0), _env_int("WORLD_SIZE", 1), _env_int("LOCAL_RANK", 0))


def training_device(requested: str | None, world: World) -> torch.device:
    """``requested`` (cpu, cuda, cuda:K), or the rank's own GPU when there is one."""
    if requested:
        device = torch.device(requested)
        if device.type == "cuda" and device.index is None and world.distributed:
            device = torch.device("cuda", world.local_rank)
        return device
    if torch.cuda.is_available():
        return torch.device("cuda", world.local_rank if world.distributed else 0)
    return torch.device("cpu")


@contextlib.contextmanager
def process_group(device: str | None = None, timeout_minutes: int = 120) -> Iterator[World]:
    """Join the process group ``torchrun`` set up (if any) for the duration of the block.

    NCCL when the processes train on GPUs, gloo otherwise. The timeout is long because
    rank 0 alone writes checkpoints and a slow shared file system must not kill the job.
    """
    world = launched_world()
    created = False
    if world.distributed and not dist.is_initialized():
        target = training_device(device, world)
        if target.type == "cuda":
            torch.cuda.set_device(target)
        backend = "nccl" if target.type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=timedelta(minutes=timeout_minutes))
        created = True
    try:
        yield current()
    finally:
        if created:
            dist.destroy_process_group()


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks; the gradient of a sum is the sum of every rank's gradient."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        y = x.clone()
        dist.all_reduce(y)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics cover the batches of all ranks.

    For the gloo backend (CPU), which :class:`torch.nn.SyncBatchNorm` does not support:
    per-channel sums, sums of squares and counts are all-reduced with autograd-aware
    collectives, so the backward pass is exact too. Same parameters and buffers as
    BatchNorm2d, so state dicts are interchangeable.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        n_local = x.numel() // x.shape[1]
        xf = x.float()
        stats = torch.cat(
            [
                xf.sum((0, 2, 3)),
                (xf * xf).sum((0, 2, 3)),
                torch.tensor([float(n_local)], device=x.device),
            ]
        )
        stats = _AllReduceSum.apply(stats)
        c = x.shape[1]
        n = stats[-1]
        mean = stats[:c] / n
        var = (stats[c : 2 * c] / n - mean * mean).clamp_min(0)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = (
                    self.momentum
                    if self.momentum is not None
                    else 1.0 / float(self.num_batches_tracked)
                )
                unbiased = var * n / (n - 1).clamp_min(1)
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(unbiased.detach(), alpha=m)
        y = (xf - mean[None, :, None, None]) * torch.rsqrt(var + self.eps)[None, :, None, None]
        if self.affine:
            y = y * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return y.to(x.dtype)


def synchronise_batchnorm(model: nn.Module, device: torch.device) -> nn.Module:
    """Make every BatchNorm2d normalise over the global batch.

    :class:`torch.nn.SyncBatchNorm` on GPUs (its fused kernels), :class:`GlobalBatchNorm2d`
    on CPUs. Parameters and buffers are kept (moved, not copied).
    """
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    for name, child in list(model.named_children()):
        if type(child) is nn.BatchNorm2d:
            bn = GlobalBatchNorm2d(
                child.num_features,
                child.eps,
                child.momentum,
                child.affine,
                child.track_running_stats,
            )
            bn.load_state_dict(child.state_dict())
            bn.to(child.weight.device if child.affine else device)
            setattr(model, name, bn)
        else:
            synchronise_batchnorm(child, device)
    return model


def all_sum(values: list[float], device: torch.device) -> list[float]:
    """Element-wise sum of ``values`` over all ranks (identity for one process)."""
    if not (dist.is_initialized() and dist.get_world_size() > 1):
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def broadcast(obj, src: int = 0):
    """``obj`` of rank ``src`` on every rank (identity for one process)."""
    if not (dist.is_initialized() and dist.get_world_size() > 1):
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def gather(obj) -> list:
    """The ``obj`` of every rank, in rank order (``[obj]`` for one process)."""
    if not (dist.is_initialized() and dist.get_world_size() > 1):
        return [obj]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()
