"""Training: SGD with warm-up, BCE, model selection on the validation split, resumable.

One process, or N data-parallel processes under ``torchrun --nproc_per_node N``
(:mod:`istvt.distributed`). ``train.batch_size`` is the *global* batch: every rank takes
``batch_size / N`` clips of the same seeded global order, so N processes take the same
steps as one and a run resumes under a different N.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import random
import signal
import threading
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from istvt import distributed
from istvt.checkpoint import save_checkpoint
from istvt.config import ENTRY_FLOW_CHANNELS, LOADER_KEYS, ModelConfig, TrainConfig
from istvt.data.dataset import ClipDataset, model_input, split_dataset
from istvt.fsutil import atomic_path
from istvt.inference import evaluate_split, resolve_precision
from istvt.model import ISTVT
from istvt.provenance import provenance as make_provenance

log = logging.getLogger(__name__)

LOG_COLUMNS = [
    "epoch",
    "lr",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_clip_acc",
    "val_clip_auc",
    "val_video_acc",
    "val_video_auc",
    "select_score",
    "seconds",
    "selected",
]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def lr_at(cfg: TrainConfig, step: int, steps_per_epoch: int) -> float:
    """Linear warm-up over ``warmup_epochs``, then cosine decay (or constant)."""
    warm = cfg.warmup_epochs * steps_per_epoch
    if step < warm:
        return cfg.lr * (step + 1) / warm
    if cfg.schedule == "constant":
        return cfg.lr
    total = max(1, cfg.epochs * steps_per_epoch - warm)
    return 0.5 * cfg.lr * (1 + math.cos(math.pi * (step - warm) / total))


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(
        model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
    )


def train(
    model_cfg: ModelConfig,
    cfg: TrainConfig,
    train_set: ClipDataset,
    val_set: ClipDataset,
    out_model: str | Path,
    state_path: str | Path,
    log_csv: str | Path,
    device: str | None = None,
    provenance: dict | None = None,
    clock: Clock | None = None,
    attempt: int = 1,
    keep_finished: bool = False,
) -> dict:
    """Train, keep the checkpoint that is best on validation, and resume if interrupted.

    ``state_path`` (outside the declared outputs) holds the last saved state: every
    finished epoch, every ``train.checkpoint_minutes`` mid-epoch, and whenever
    ``clock`` (:class:`Clock`) says stop, which raises :class:`TrainingSuspended`. A
    rerun with the same configuration continues from it, bit-identically, with any
    number of processes. With ``keep_finished`` a finished training leaves a small state
    (the selected weights and the log): attempt 2 or later of the same job (Snakemake's
    retry of a job killed after it finished) only rewrites the outputs from it; attempt
    1 (a new run of the job) trains afresh. Without it the state is deleted at the end.

    Inside a process group (``torchrun``) every rank runs this function; rank 0 alone
    logs and writes files. The steps: check the splits and the batch, build the model
    and optimiser (:func:`_setup`), resume (:func:`_resume`), then per epoch train
    (:func:`_train_epoch`, saving mid-epoch as the clock says), validate and select
    (:func:`_select`), log and save the state; finally write the selected model.
    """
    world = distributed.current()
    local_batch = _check_inputs(cfg, train_set, val_set, world)
    run = _setup(model_cfg, cfg, train_set, val_set, device, world)
    state_path, out_model, log_csv = Path(state_path), Path(out_model), Path(log_csv)
    resumed = _resume(run, state_path, world, attempt)
    if not resumed and cfg.entry_epochs:
        _train_entry_flow(run, train_set, val_set, world, local_batch)
    net = _wrap(run.model, run.device, world)
    sampler = _sampler(cfg, train_set, world)
    steps = math.ceil(len(sampler) / local_batch)
    clock = clock or Clock(cfg.checkpoint_minutes)
    t_start = time.perf_counter()
    for epoch in range(run.start_epoch, cfg.epochs):
        t0 = time.perf_counter()
        lr, loss, acc, clips = _train_epoch(
            run, net, train_set, sampler, epoch, steps, local_batch, clock, state_path, world
        )
        t_val = time.perf_counter()
        metrics = evaluate_split(run.model, val_set, local_batch, run.device, run.precision)
        clock.validation_seconds = time.perf_counter() - t_val
        row = {"epoch": epoch + 1, "lr": lr, "train_loss": loss, "train_acc": acc, **metrics}
        run.rows.append(row)
        row["select_score"] = selection_score(cfg, run.rows, run.chance)
        row["seconds"] = round(time.perf_counter() - t0 + run.carried_seconds, 2)  # resumed
        run.carried_seconds = 0.0
        row["selected"] = int(_select(run, row))
        run.start_batch, run.partial = 0, None
        if world.is_main:
            _log_epoch(run, row, clips, t_start)
            _write_log(run.rows, log_csv)
            _save_state(run.state(world), state_path)
        clock.saved()
        distributed.barrier()  # nobody runs ahead of a state that might be resumed
    best_row = max((r for r in run.rows if r["selected"]), key=lambda r: r["epoch"])
    if world.is_main:
        run.model.load_state_dict(run.best_state)
        save_checkpoint(
            out_model,
            run.model,
            extra={
                "train": asdict(cfg),
                "best_epoch": best_row["epoch"],
                "precision_used": run.precision,
                "world_size": world.size,
                **{k: float(v) for k, v in best_row.items() if k.startswith("val_")},
                "provenance": provenance or make_provenance(),
            },
        )
        _write_log(run.rows, log_csv)
        if keep_finished:
            # the selected weights and the log, no optimiser: a job killed after this
            # point (its time limit, a node) is restored from it by Snakemake's retry
            # instead of training again (docs/cluster.md)
            _save_state(run.finished_state(world), state_path)
        else:
            state_path.unlink(missing_ok=True)
    distributed.barrier()
    return best_row


class TrainingSuspended(Exception):
    """The training saved its state mid-way and stopped before the job's time limit (or
    on a signal); the next attempt of the job resumes from that state."""


class Clock:
    """When a training saves its state mid-epoch, and when it stops before its limit.

    * every ``checkpoint_minutes`` (0: never mid-epoch);
    * before ``time_left`` seconds run out (:func:`istvt.cluster.slurm_time_left` in a
      Slurm job): it stops when the next step, or the next validation at an epoch's end,
      plus a margin (a tenth of the time it was given, 10 s to 5 min) would not fit;
    * at SIGUSR1 or SIGTERM (Slurm's kill at the limit, Snakemake cancelling the job),
      at the end of the current step; outside the steps (validation, the entry-flow
      stage), or at a second signal, the process exits at once.

    ``stop_after_steps`` stops after that many steps of this process (tests).
    """

    def __init__(
        self,
        checkpoint_minutes: float = 0.0,
        time_left: float | None = None,
        stop_after_steps: int | None = None,
    ) -> None:
        now = time.monotonic()
        self.interval = checkpoint_minutes * 60 if checkpoint_minutes else math.inf
        self.deadline = None if time_left is None else now + time_left
        self.margin = None if time_left is None else min(300.0, max(10.0, 0.1 * time_left))
        self.stop_after_steps = stop_after_steps
        self.last_save, self.steps, self.step_seconds = now, 0, 0.0
        self.validation_seconds = 0.0
        self.signal: str | None = None
        self.stepping = False  # inside an epoch's steps, where a stop can be saved

    def catch_signals(self) -> None:
        """Turn SIGUSR1 and SIGTERM into a stop at the next step boundary (main thread)."""
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGUSR1, signal.SIGTERM):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum, frame) -> None:
        if not self.stepping or self.signal:  # outside the steps, or asked twice: now
            raise SystemExit(128 + signum)
        self.signal = signal.Signals(signum).name

    def step_done(self, seconds: float) -> None:
        self.steps += 1
        self.step_seconds = max(self.step_seconds, seconds)

    def saved(self) -> None:
        self.last_save = time.monotonic()

    def due(self, end_of_epoch: bool) -> tuple[bool, str | None]:
        """(save now?, why stop now or None) at a step boundary."""
        now = time.monotonic()
        if self.signal:
            return True, f"{self.signal} received"
        if self.stop_after_steps is not None and self.steps >= self.stop_after_steps:
            return True, f"stopping after {self.steps} steps as asked"
        if self.deadline is not None:
            ahead = self.validation_seconds if end_of_epoch else self.step_seconds
            if now + ahead + self.margin >= self.deadline:
                left = self.deadline - now
                return True, f"{left:.0f} s left before the time limit"
        # at an epoch's end the epoch's own save follows validation
        return not end_of_epoch and now - self.last_save >= self.interval, None


@dataclass
class _Run:
    """What one training run carries from epoch to epoch."""

    cfg: TrainConfig
    model: ISTVT
    opt: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    device: torch.device
    amp_dtype: torch.dtype | None
    pos_weight: torch.Tensor | None
    signature: dict
    chance: dict  # what each validation metric reads for a model that knows nothing
    start_epoch: int = 0  # epochs finished
    start_batch: int = 0  # steps of the next epoch already taken (a mid-epoch state)
    partial: dict | None = None  # that epoch's running sums at start_batch
    carried_seconds: float = 0.0  # that epoch's seconds before the resume
    best: list | None = None  # the selection key of the best epoch so far
    best_state: dict | None = None
    rows: list = field(default_factory=list)  # one log row per finished epoch

    @property
    def precision(self) -> str:
        """The path validation takes: the training autocast's (fp32, bf16 or fp16)."""
        return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(self.amp_dtype, "fp32")

    def state(self, world) -> dict:
        """Everything a bit-identical resume needs, at an epoch's end or mid-epoch."""
        state = {
            "signature": self.signature,
            "epoch": self.rows[-1]["epoch"] if self.rows else 0,
            "batch": self.start_batch,
            "partial": self.partial,
            "world_size": world.size,
            "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": torch.get_rng_state(),
            "best": self.best,
            "best_model": self.best_state,
            "rows": self.rows,
        }
        if self.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        return state

    def finished_state(self, world) -> dict:
        """What rewrites a finished training's outputs: the selected weights and log."""
        return {
            "signature": self.signature,
            "finished": True,
            "epoch": self.rows[-1]["epoch"],
            "world_size": world.size,
            "best": self.best,
            "best_model": self.best_state,
            "rows": self.rows,
        }


def _check_inputs(cfg: TrainConfig, train_set, val_set, world) -> int:
    """Both splits hold clips and the global batch divides over the processes; returns
    the per-process batch."""
    if len(train_set) == 0 or len(val_set) == 0:
        raise ValueError(
            f"empty split: {len(train_set)} training and {len(val_set)} "
            f"validation clips; check the manifest splits and preprocessing status"
        )
    if cfg.batch_size % world.size:
        raise ValueError(
            f"train.batch_size = {cfg.batch_size} is the global batch and must divide evenly "
            f"over the {world.size} training processes; choose a multiple of {world.size}"
        )
    return cfg.batch_size // world.size


def training_attention(device: torch.device, amp_dtype: torch.dtype | None) -> str:
    """The attention path a training takes (:meth:`ISTVT.set_attention_impl`). PyTorch's
    fused CPU attention is slow to differentiate in bf16 on the demo's short token rows
    (17 positions, 7 rows): the explicit softmax path trains 1.18x faster there, and no
    faster in fp32 (benchmarks/demo_step.py). A rule, not a timing: the same run takes
    the same path on every CPU."""
    return "explicit" if device.type == "cpu" and amp_dtype is not None else "sdpa"


def _setup(model_cfg, cfg: TrainConfig, train_set, val_set, device, world) -> _Run:
    """Seeded model (NHWC entry flow), optimiser, loss scaler, class weight, and the
    signature a resumable state must match."""
    device = distributed.training_device(device, world)
    seed_everything(cfg.seed)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    amp_dtype = resolve_precision(cfg.precision, device)
    model = ISTVT(model_cfg).to(device)
    model.set_activation_checkpointing(cfg.activation_checkpointing)
    model.set_attention_impl(training_attention(device, amp_dtype))
    if world.distributed and cfg.sync_batchnorm:
        # before the optimizer is made: the conversion replaces the BatchNorm parameters
        model = distributed.synchronise_batchnorm(model, device)
    pos_weight = None
    if cfg.balance_classes:
        fakes = int(train_set.labels.sum())
        reals = len(train_set) - fakes
        if fakes == 0 or reals == 0:
            raise ValueError(f"training split has {reals} real and {fakes} fake clips: need both")
        pos_weight = torch.tensor(reals / fakes, device=device)
    signature = {
        "model": model_cfg.architecture(),
        "train": {k: v for k, v in asdict(cfg).items() if k not in LOADER_KEYS},
        "train_clips": len(train_set),
        "val_clips": len(val_set),
    }
    run = _Run(
        cfg,
        model,
        make_optimizer(model, cfg),
        torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16),
        device,
        amp_dtype,
        pos_weight,
        signature,
        chance_metrics(val_set),
    )
    if world.is_main:
        log.info("train.precision %s: %s autocast on %s", cfg.precision, run.precision, device)
    return run


def _resume(run: _Run, state_path: Path, world, attempt: int = 1) -> bool:
    """Continue from ``state_path`` if it was saved by the same configuration; True if
    it was. A finished training's state counts on a retry (``attempt`` > 1) only."""
    if not state_path.is_file():
        return False
    state = torch.load(state_path, map_location="cpu", weights_only=True)
    if state.get("signature") != run.signature:
        if world.is_main:
            log.warning("%s belongs to another configuration: starting afresh", state_path)
        return False
    if state.get("finished"):
        if attempt <= 1:
            if world.is_main:
                log.info(
                    "%s holds a finished training; a new run of the job trains afresh",
                    state_path,
                )
            return False
        run.start_epoch, run.best, run.rows = state["epoch"], state["best"], state["rows"]
        run.best_state = state["best_model"]
        if world.is_main:
            log.info(
                "attempt %d: the training had finished (epoch %d); rewriting its outputs "
                "from %s, nothing trained",
                attempt,
                run.start_epoch,
                state_path,
            )
        return True
    run.model.load_state_dict(state["model"])
    run.opt.load_state_dict(state["optimizer"])
    if "scaler" in state:
        run.scaler.load_state_dict(state["scaler"])
    torch.set_rng_state(state["rng"])
    if "cuda_rng" in state and run.device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda_rng"], run.device)
    run.start_epoch, run.best, run.rows = state["epoch"], state["best"], state["rows"]
    run.start_batch, run.partial = state.get("batch", 0), state.get("partial")
    run.best_state = state["best_model"]
    if world.is_main:
        log.info(
            "resuming after epoch %d%s from %s (saved by %s process(es), now %d)",
            run.start_epoch,
            f", step {run.start_batch} of epoch {run.start_epoch + 1}" if run.start_batch else "",
            state_path,
            state.get("world_size", 1),
            world.size,
        )
    return True


def _wrap(model: ISTVT, device: torch.device, world) -> torch.nn.Module:
    """DistributedDataParallel inside a process group, the model itself otherwise."""
    if not world.distributed:
        return model
    # 1x1 convolutions' gradients: strides of size-1 dimensions differ, harmlessly
    warnings.filterwarnings("ignore", message="Grad strides do not match bucket view")
    return torch.nn.parallel.DistributedDataParallel(
        model,
        device_ids=[device.index] if device.type == "cuda" else None,
        gradient_as_bucket_view=True,  # gradients live in the all-reduce buckets
    )


def _sampler(cfg: TrainConfig, train_set, world):
    """Every rank takes its slice of one seeded global order: rank r's k-th batch holds
    positions k*B + r, k*B + r + N, ... of it, so the N slices of step k together are
    exactly the k-th global batch of a single process."""
    if hasattr(train_set, "set_epoch"):
        train_set.seed = cfg.seed  # augmentation follows the training seed
    if cfg.clips_per_video is None:
        return DistributedSampler(
            train_set, world.size, world.rank, shuffle=True, seed=cfg.seed, drop_last=False
        )
    return ClipsPerVideoSampler(
        train_set.video_ids, cfg.clips_per_video, world.size, world.rank, cfg.seed
    )


class PerFrameModel(torch.nn.Module):
    """An entry flow read per frame: global average pool of its maps, a linear head,
    the clip's logit the mean of its frames' logits. ``train.entry_epochs`` trains an
    ISTVT's own entry flow (shared, not copied) this way before the whole model."""

    def __init__(self, entry_flow: torch.nn.Module) -> None:
        super().__init__()
        self.entry_flow = entry_flow
        self.head = torch.nn.Linear(ENTRY_FLOW_CHANNELS, 1)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        b = frames.shape[0]
        feats = self.entry_flow(frames.flatten(0, 1)).mean(dim=(2, 3))
        return self.head(feats).view(b, -1).mean(dim=1)


def _train_entry_flow(run: _Run, train_set, val_set, world, batch: int) -> None:
    """``train.entry_epochs`` epochs of the model's entry flow alone, per frame
    (:class:`PerFrameModel`), at ``train.entry_lr``; logged, not selected on. Without
    it a from-scratch entry flow learns slowly under the transformer: the cls readout
    passes it 2-3x less gradient (docs/model.md, the learning ladder)."""
    cfg = replace(
        run.cfg,
        lr=run.cfg.entry_lr,
        epochs=run.cfg.entry_epochs,
        warmup_epochs=min(run.cfg.warmup_epochs, run.cfg.entry_epochs),
    )
    with torch.random.fork_rng(devices=[]):  # the head's init from the seed alone
        torch.manual_seed(cfg.seed)
        model = PerFrameModel(run.model.entry_flow).to(run.device)
    stage = replace(
        run,
        cfg=cfg,
        model=model,
        opt=make_optimizer(model, cfg),
        scaler=torch.amp.GradScaler("cuda", enabled=run.amp_dtype == torch.float16),
        rows=[],
    )
    net = _wrap(model, run.device, world)
    sampler = _sampler(cfg, train_set, world)
    steps = math.ceil(len(sampler) / batch)
    t_start = time.perf_counter()
    for epoch in range(cfg.epochs):
        _, loss, _, _ = _train_epoch(stage, net, train_set, sampler, epoch, steps, batch)
        metrics = evaluate_split(model, val_set, batch, run.device, run.precision)
        if world.is_main:
            per_epoch = (time.perf_counter() - t_start) / (epoch + 1)
            log.info(
                "entry flow alone, epoch %d/%d: loss %.4f val_loss %.4f val_clip_auc %.3f"
                " | %.1f s/epoch, ETA %.0f s",
                epoch + 1,
                cfg.epochs,
                loss,
                metrics["val_loss"],
                metrics["val_clip_auc"],
                per_epoch,
                per_epoch * (cfg.epochs - epoch - 1),
            )
    distributed.barrier()


class _Skip(torch.utils.data.Sampler):
    """A sampler's order for one epoch without its first ``skip`` items."""

    def __init__(self, sampler, skip: int) -> None:
        self.sampler, self.skip = sampler, skip

    def __len__(self) -> int:
        return max(0, len(self.sampler) - self.skip)

    def __iter__(self):
        it = iter(self.sampler)
        for _ in range(self.skip):
            next(it, None)
        return it


def _train_epoch(
    run: _Run,
    net,
    train_set,
    sampler,
    epoch: int,
    steps: int,
    batch: int,
    clock: Clock | None = None,
    state_path: Path | None = None,
    world=None,
):
    """One pass over the sampler's clips; returns (last lr, mean loss, accuracy, clips)
    over all processes. With a ``clock``, saves the state mid-epoch when it says so and
    raises :class:`TrainingSuspended` when it says stop; a state saved at step ``b``
    resumes at step ``b`` (``run.start_batch``) with the RNG and running sums it had."""
    cfg, device = run.cfg, run.device
    sampler.set_epoch(epoch)  # order seeded by seed + epoch: the same after a resume
    if hasattr(train_set, "set_epoch"):
        train_set.set_epoch(epoch)
    pin = cfg.pin_memory and device.type == "cuda"
    options: dict = {"num_workers": cfg.num_workers, "pin_memory": pin}
    if cfg.num_workers:
        options.update(prefetch_factor=cfg.prefetch_factor, worker_init_fn=_worker_init)
    first = run.start_batch if epoch == run.start_epoch else 0
    order = _Skip(sampler, first * batch) if first else sampler
    loader = DataLoader(train_set, batch_size=batch, sampler=order, drop_last=False, **options)
    net.train()
    lr, total = cfg.lr, 0
    correct, loss_sum = torch.zeros((), device=device), torch.zeros((), device=device)
    carried = 0.0
    if first:  # rank 0 carries the running sums of all processes up to the saved step
        part = run.partial
        lr, carried = part["lr"], part.get("seconds", 0.0)
        if world is None or world.is_main:
            total = part["total"]
            correct, loss_sum = part["correct"].to(device), part["loss_sum"].to(device)
    run.carried_seconds = carried
    t_epoch = time.perf_counter()
    autocast = torch.autocast(
        device.type, dtype=run.amp_dtype or torch.float32, enabled=run.amp_dtype is not None
    )
    batches = iter(loader)  # draws the loader's seed from the global RNG: before a resume
    if first:  # ... puts back the generator as the saved step left it
        torch.set_rng_state(run.partial["rng"])
        if "cuda_rng" in run.partial and device.type == "cuda":
            torch.cuda.set_rng_state(run.partial["cuda_rng"], device)
    if clock is not None:
        clock.stepping = True
    for b, (x, y, _) in enumerate(batches, start=first):
        t_step = time.monotonic()
        lr = lr_at(cfg, epoch * steps + b, steps)
        for group in run.opt.param_groups:
            group["lr"] = lr
        x = model_input(x, device)  # uint8 from the training loader
        y = y.to(device, non_blocking=True)
        with autocast:
            logits = net(x)
        loss = F.binary_cross_entropy_with_logits(logits.float(), y, pos_weight=run.pos_weight)
        run.opt.zero_grad(set_to_none=True)
        run.scaler.scale(loss).backward()
        run.scaler.step(run.opt)
        run.scaler.update()
        loss_sum += loss.detach() * len(y)  # no host sync per step
        correct += ((logits.detach() > 0).float() == y).sum()
        total += len(y)
        if clock is not None:
            clock.step_done(time.monotonic() - t_step)
            sums = {"lr": lr, "total": total, "correct": correct, "loss_sum": loss_sum}
            sums["seconds"] = carried + time.perf_counter() - t_epoch
            _maybe_save(run, clock, b + 1 == steps, b + 1, sums, state_path, world)
    if clock is not None:
        clock.stepping = False
    loss_sum, correct, total = distributed.all_sum(
        [float(loss_sum), float(correct), float(total)], device
    )
    return lr, loss_sum / total, correct / total, total


def _maybe_save(run: _Run, clock: Clock, end: bool, step: int, sums, state_path, world) -> None:
    """At a step boundary: save a mid-epoch state if the clock says so (all processes
    follow rank 0's clock), and raise :class:`TrainingSuspended` if it says stop."""
    save, why = clock.due(end_of_epoch=end)
    if world is not None and world.distributed:
        flags = [float(save), float(why is not None)] if world.is_main else [0.0, 0.0]
        save, stop = (bool(v) for v in distributed.all_sum(flags, run.device))
        if stop and why is None:
            why = "rank 0 stopped"
    else:
        stop = why is not None
    if not save and not stop:
        return
    epoch = run.rows[-1]["epoch"] if run.rows else 0
    partial = {k: (v.detach().cpu().clone() if torch.is_tensor(v) else v) for k, v in sums.items()}
    if world is not None and world.distributed:  # the running sums of every process
        total = distributed.all_sum([float(sums["loss_sum"]), float(sums["correct"])], run.device)
        rank_share = 1.0 if world.is_main else 0.0  # rank 0 carries them after a resume
        partial["loss_sum"] = torch.tensor(total[0] * rank_share)
        partial["correct"] = torch.tensor(total[1] * rank_share)
        partial["total"] = int(distributed.all_sum([float(sums["total"])], run.device)[0])
    partial["rng"] = torch.get_rng_state()
    if run.device.type == "cuda":
        partial["cuda_rng"] = torch.cuda.get_rng_state(run.device)
    run.start_batch, run.partial = step, partial
    if world is None or world.is_main:
        _save_state(run.state(world or distributed.current()), state_path)
        log.info(
            "saved the state at step %d of epoch %d to %s%s",
            step,
            epoch + 1,
            state_path,
            f"; stopping ({why}): the next attempt of the job resumes here" if stop else "",
        )
    clock.saved()
    distributed.barrier()
    run.start_batch, run.partial = 0, None
    if stop:
        raise TrainingSuspended(f"stopped at step {step} of epoch {epoch + 1}: {why}")


def chance_metrics(val_set) -> dict:
    """The validation metrics of a model that knows nothing: one constant score, the
    split's clip prior (loss = the prior's entropy, accuracy = the larger class share of
    the videos, AUC = 0.5)."""
    labels = np.asarray(val_set.labels, dtype=float)
    p = float(np.clip(labels.mean(), 1e-7, 1 - 1e-7))
    v = float(np.mean(list(dict(zip(val_set.video_ids, labels, strict=True)).values())))
    return {
        "val_loss": -(p * math.log(p) + (1 - p) * math.log(1 - p)),
        "val_video_acc": max(v, 1 - v),
        "val_video_auc": 0.5,
        "val_clip_auc": 0.5,
    }


def selection_score(cfg: TrainConfig, rows: list[dict], chance: dict) -> float:
    """The last epoch's selection score: ``select_metric`` averaged over it and the
    ``select_window - 1`` epochs before it, epochs before the first counting at chance
    (:func:`chance_metrics`), NaN (a one-class split) counting at chance too."""
    metric, window = cfg.select_metric, cfg.select_window
    values = [r[metric] for r in rows[-window:]]
    values = [chance[metric] if math.isnan(v) else v for v in values]
    values += [chance[metric]] * (window - len(values))
    return float(np.mean(values))


def _select(run: _Run, row: dict) -> bool:
    """Is this epoch the best so far (its ``select_score``, ties to the lower val loss)?
    If so, keep a copy of its weights."""
    value = row["select_score"]
    higher_better = run.cfg.select_metric != "val_loss"
    key = (value if higher_better else -value, -row["val_loss"])
    if run.best is not None and key <= tuple(run.best):
        return False
    run.best = list(key)
    run.best_state = {k: v.detach().cpu().clone() for k, v in run.model.state_dict().items()}
    return True


def _log_epoch(run: _Run, row: dict, clips: float, t_start: float) -> None:
    elapsed = time.perf_counter() - t_start
    done = row["epoch"] - run.start_epoch
    epochs = run.cfg.epochs
    log.info(
        "epoch %d/%d loss %.4f val_loss %.4f val_clip_auc %.3f val_video_acc %.3f "
        "val_video_auc %.3f select_score %.3f%s | %.1f s/epoch, %.1f clips/s, ETA %.0f s",
        row["epoch"],
        epochs,
        row["train_loss"],
        row["val_loss"],
        row["val_clip_auc"],
        row["val_video_acc"],
        row["val_video_auc"],
        row["select_score"],
        " *" if row["selected"] else "",
        elapsed / done,
        clips / max(row["seconds"], 1e-9),
        elapsed / done * (epochs - row["epoch"]),
    )


class ClipsPerVideoSampler(torch.utils.data.Sampler):
    """Each epoch, ``per_video`` clips of every video (all of a video with fewer), drawn
    and shuffled from ``seed`` and the epoch; under N processes rank r takes positions
    r, r + N, ... of that one global order (padded by its first items to a multiple of
    N, as ``DistributedSampler`` does), so N ranks together take exactly its batches."""

    def __init__(
        self,
        video_ids: list[str],
        per_video: int,
        num_replicas: int = 1,
        rank: int = 0,
        seed: int = 0,
    ) -> None:
        groups: dict[str, list[int]] = {}
        for k, vid in enumerate(video_ids):
            groups.setdefault(vid, []).append(k)
        self.groups = list(groups.values())
        self.per_video, self.replicas, self.rank, self.seed = per_video, num_replicas, rank, seed
        self.epoch = 0
        self.total = sum(min(per_video, len(g)) for g in self.groups)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return math.ceil(self.total / self.replicas)

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        order = [
            k
            for g in self.groups
            for k in rng.choice(g, min(self.per_video, len(g)), replace=False).tolist()
        ]
        order = [order[i] for i in rng.permutation(len(order))]
        order += order[: len(self) * self.replicas - len(order)]
        return iter(order[self.rank :: self.replicas])


def _worker_init(worker_id: int) -> None:
    """Loader workers decode and copy; one thread each keeps them off the model's cores."""
    torch.set_num_threads(1)


def _save_state(state: dict, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _write_log(rows: list[dict], path: Path) -> None:
    with atomic_path(path) as tmp, tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=LOG_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def dropout_augmentation(cfg: TrainConfig):
    """The training-time random dropout of the paper's Fig. 8 as a clip transform.

    ``augment(clip, rng)`` for :class:`ClipDataset`, which seeds ``rng`` from the
    training seed, the epoch and the clip: it differs from epoch to epoch, not with the
    number of loader workers or processes.
    """
    from istvt.perturb import dropout

    def augment(clip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rng.random() >= cfg.dropout_probability:
            return clip
        return dropout(clip, int(rng.integers(1, cfg.dropout_regions + 1)), rng)

    return augment


def train_experiment(
    manifest,
    faces_dir: str | Path,
    model_cfg: ModelConfig,
    cfg: TrainConfig,
    out_model: str | Path,
    state_path: str | Path,
    log_csv: str | Path,
    methods: list[str] | None = None,
    device: str | None = None,
    provenance: dict | None = None,
    clock: Clock | None = None,
    attempt: int = 1,
    keep_finished: bool = False,
) -> dict:
    """Train on the train split of a preprocessed data set, select on its val split.

    ``methods`` restricts the fakes (e.g. one FF++ method, as in the paper's Table I);
    real videos are always kept. The test split is never read here.
    """
    augment = dropout_augmentation(cfg) if cfg.dropout_regions else None
    # uint8 through the loader workers, normalised on the device (train's model_input)
    train_set, rows = split_dataset(
        manifest,
        faces_dir,
        "train",
        methods,
        hflip=cfg.hflip,
        augment=augment,
        seed=cfg.seed,
        normalize=False,
    )
    val_set, val_rows = split_dataset(manifest, faces_dir, "val", methods)
    log.info(
        "training on %d clips of %d videos, validating on %d clips of %d videos (%d process(es))",
        len(train_set),
        len(rows),
        len(val_set),
        len(val_rows),
        distributed.current().size,
    )
    return train(
        model_cfg,
        cfg,
        train_set,
        val_set,
        out_model,
        state_path,
        log_csv,
        device,
        provenance,
        clock=clock,
        attempt=attempt,
        keep_finished=keep_finished,
    )


def run_job(spec: dict) -> dict:
    """One training job as the workflow describes it (a JSON-able dict), in this process
    or as one rank under ``torchrun``.

    Keys: manifest, faces, model, train, out_model, state, log_csv, methods, provenance,
    device, attempt (Snakemake's attempt of the job, from 1), keep_finished (see
    :func:`train`), stop_after_steps (tests) (the last five optional). Inside a Slurm
    job the training stops before the job's time limit (:class:`Clock`) and raises
    :class:`TrainingSuspended`.
    """
    from istvt.cluster import slurm_time_left
    from istvt.data.manifest import read_manifest

    cfg = TrainConfig.from_dict(spec["train"])
    clock = Clock(cfg.checkpoint_minutes, slurm_time_left(), spec.get("stop_after_steps"))
    clock.catch_signals()
    if clock.deadline is not None:
        log.info(
            "Slurm job %s: %.0f s until its time limit; stopping %.0f s before it",
            os.environ.get("SLURM_JOB_ID"),
            clock.deadline - time.monotonic(),
            clock.margin,
        )
    with distributed.process_group(spec.get("device")):
        return train_experiment(
            read_manifest(spec["manifest"]),
            spec["faces"],
            ModelConfig.from_dict(spec["model"]),
            cfg,
            spec["out_model"],
            spec["state"],
            spec["log_csv"],
            methods=spec.get("methods"),
            device=spec.get("device"),
            provenance=spec.get("provenance"),
            clock=clock,
            attempt=int(spec.get("attempt", 1)),
            keep_finished=bool(spec.get("keep_finished", False)),
        )


def torchrun_command(
    job: str | Path, processes: int, nodes: int = 1, endpoint: str | None = None
) -> list[str]:
    """The command that trains ``job`` with ``processes`` ranks per node.

    One node: torchrun's standalone rendezvous (a free local port). Several nodes: run
    the same command once per node (``srun`` in a Slurm job of that many nodes); the
    agents meet at ``endpoint`` (host:port, the first node's) through c10d and number
    their ranks, ``nodes x processes`` in all. Options for the job live in its JSON
    (e.g. ``log``): torchrun's own parser would take an option such as ``--log`` after
    the module for an abbreviation of its own.
    """
    import sys

    if nodes > 1:
        if not endpoint:
            raise ValueError("several nodes need a rendezvous endpoint (host:port)")
        meet = [
            f"--nnodes={nodes}",
            "--rdzv-backend=c10d",
            f"--rdzv-endpoint={endpoint}",
            f"--rdzv-id={Path(job).parent.name or 'istvt'}",
        ]
    else:
        meet = ["--standalone"]  # one node, a free local rendezvous port
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        *meet,
        f"--nproc_per_node={processes}",
        "-m",
        "istvt.train",
        str(job),
    ]


def main(argv: list[str] | None = None) -> int:
    """``python -m istvt.train JOB.json``: what each rank runs (rank 0 appends its log to
    the job's ``log`` file)."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description="run one training job (see run_job)")
    parser.add_argument("job", help="JSON job description written by the workflow")
    args = parser.parse_args(argv)
    spec = json.loads(Path(args.job).read_text())
    world = distributed.launched_world()
    logging.basicConfig(
        filename=spec.get("log") if world.is_main else None,
        level=logging.INFO if world.is_main else logging.WARNING,
        format=f"%(asctime)s %(levelname)s [rank {world.rank}] %(message)s",
    )
    torch.set_num_threads(spec.get("threads_per_process", 1))
    try:
        best = run_job(spec)
    except TrainingSuspended as stop:
        if world.is_main:
            log.info("%s; the next attempt resumes", stop)
        from istvt.cluster import EXIT_RESUME

        return EXIT_RESUME
    if world.is_main:
        log.info("selected epoch %d: %s", best["epoch"], best)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
