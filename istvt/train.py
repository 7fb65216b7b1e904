"""Training: SGD with warm-up, BCE, model selection on the validation split, resumable.

The loop is written for one process; its pieces (seeded sampler, rank-0-only writes via
``is_main``) are where DDP plugs in without restructuring.
"""

from __future__ import annotations

import csv
import logging
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from istvt.checkpoint import save_checkpoint
from istvt.config import ModelConfig, dataclass_from_dict
from istvt.data.dataset import ClipDataset
from istvt.fsutil import atomic_path
from istvt.metrics import point_metrics, video_scores
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
    "val_video_acc",
    "val_video_auc",
    "seconds",
    "selected",
]


@dataclass(frozen=True)
class TrainConfig:
    """The config's ``train`` section (paper §IV-B.2 defaults where it gives them)."""

    epochs: int = 20
    batch_size: int = 16
    lr: float = 5e-4
    optimizer: str = "sgd"  # sgd (paper) or adamw
    momentum: float = 0.9  # sgd only
    weight_decay: float = 0.0
    balance_classes: bool = False  # weight the BCE so real and fake clips count equally
    warmup_epochs: int = 1
    schedule: str = "cosine"  # after warm-up: cosine decay or constant
    select_metric: str = "val_video_acc"  # the paper selects on validation accuracy
    hflip: bool = True
    # the paper's Fig. 8: random dropout of 16x16 squares (sizes of a 300-pixel crop,
    # scaled), the same squares on every frame; with probability dropout_probability
    # a training clip loses 1..dropout_regions squares (0: off)
    dropout_regions: int = 0
    dropout_probability: float = 0.5
    num_workers: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.optimizer not in ("sgd", "adamw"):
            raise ValueError(f"train.optimizer must be sgd or adamw, got {self.optimizer!r}")
        if self.schedule not in ("cosine", "constant"):
            raise ValueError(f"train.schedule must be cosine or constant, got {self.schedule!r}")
        if self.select_metric not in ("val_video_acc", "val_video_auc", "val_loss"):
            raise ValueError(f"train.select_metric {self.select_metric!r} unknown")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("train.epochs and train.batch_size must be >= 1")
        if self.dropout_regions < 0 or not 0 <= self.dropout_probability <= 1:
            raise ValueError(
                "train.dropout_regions must be >= 0 and train.dropout_probability in [0, 1]"
            )

    @classmethod
    def from_dict(cls, data: dict | None) -> TrainConfig:
        return dataclass_from_dict(cls, data, "train")


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


@torch.no_grad()
def predict(
    model: ISTVT, dataset: ClipDataset, batch_size: int = 16, device: torch.device | str = "cpu"
) -> np.ndarray:
    """Fake probability of every clip of ``dataset`` (in dataset order)."""
    model.eval()
    out = np.zeros(len(dataset), dtype=np.float64)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    device = torch.device(device)
    for x, _, idx in loader:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            logits = model(x.to(device))
        out[idx.numpy()] = torch.sigmoid(logits.float()).cpu().numpy()
    return out


def evaluate_split(model: ISTVT, dataset: ClipDataset, batch_size: int, device) -> dict:
    """Loss and clip/video accuracy and AUC of a split."""
    import pandas as pd

    scores = predict(model, dataset, batch_size, device)
    labels = dataset.labels.astype(float)
    eps = 1e-7
    loss = float(-np.mean(labels * np.log(scores + eps) + (1 - labels) * np.log(1 - scores + eps)))
    clips = pd.DataFrame({"video_id": dataset.video_ids, "label": dataset.labels, "score": scores})
    videos = video_scores(clips)
    vm = point_metrics(videos.label.to_numpy(), videos.score.to_numpy())
    return {
        "val_loss": loss,
        "val_clip_acc": float(((scores > 0.5) == labels).mean()),
        "val_video_acc": vm["acc"],
        "val_video_auc": vm["auc"],
    }


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
) -> dict:
    """Train, keep the checkpoint that is best on validation, and resume if interrupted.

    ``state_path`` (outside the declared outputs) holds the last finished epoch;
    a rerun with the same configuration continues from it.
    """
    if len(train_set) == 0 or len(val_set) == 0:
        raise ValueError(
            f"empty split: {len(train_set)} training and {len(val_set)} "
            f"validation clips; check the manifest splits and preprocessing status"
        )
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    seed_everything(cfg.seed)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    model = ISTVT(model_cfg).to(device)
    opt = make_optimizer(model, cfg)
    pos_weight = None
    if cfg.balance_classes:
        fakes = int(train_set.labels.sum())
        reals = len(train_set) - fakes
        if fakes == 0 or reals == 0:
            raise ValueError(f"training split has {reals} real and {fakes} fake clips: need both")
        pos_weight = torch.tensor(reals / fakes, device=device)
    signature = {
        "model": model_cfg.architecture(),
        "train": asdict(cfg),
        "train_clips": len(train_set),
        "val_clips": len(val_set),
    }
    state_path, out_model, log_csv = Path(state_path), Path(out_model), Path(log_csv)
    start_epoch, best, best_state, rows = 0, None, None, []
    if state_path.is_file():
        state = torch.load(state_path, map_location="cpu", weights_only=True)
        if state.get("signature") == signature:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            torch.set_rng_state(state["rng"])
            start_epoch, best, rows = state["epoch"], state["best"], state["rows"]
            best_state = state["best_model"]
            log.info("resuming after epoch %d from %s", start_epoch, state_path)
        else:
            log.warning("%s belongs to another configuration: starting afresh", state_path)
    generator = torch.Generator().manual_seed(cfg.seed)
    steps = math.ceil(len(train_set) / cfg.batch_size)
    higher_better = cfg.select_metric != "val_loss"
    t_start = time.perf_counter()
    for epoch in range(start_epoch, cfg.epochs):
        generator.manual_seed(cfg.seed + epoch)  # the same order after a resume
        loader = DataLoader(
            train_set,
            batch_size=cfg.batch_size,
            shuffle=True,
            generator=generator,
            num_workers=cfg.num_workers,
            drop_last=False,
        )
        model.train()
        t0 = time.perf_counter()
        total, correct, loss_sum = 0, 0, 0.0
        for b, (x, y, _) in enumerate(loader):
            lr = lr_at(cfg, epoch * steps + b, steps)
            for group in opt.param_groups:
                group["lr"] = lr
            x, y = x.to(device), y.to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                logits = model(x)
            loss = F.binary_cross_entropy_with_logits(logits.float(), y, pos_weight=pos_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(y)
            correct += int(((logits.detach() > 0).float() == y).sum())
            total += len(y)
        metrics = evaluate_split(model, val_set, cfg.batch_size, device)
        value = metrics[cfg.select_metric]
        tie_break = -metrics["val_loss"]
        key = (value if higher_better else -value, tie_break)
        selected = best is None or key > tuple(best)
        if selected:
            best = list(key)
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        row = {
            "epoch": epoch + 1,
            "lr": lr,
            "train_loss": loss_sum / total,
            "train_acc": correct / total,
            **metrics,
            "seconds": round(time.perf_counter() - t0, 2),
            "selected": int(selected),
        }
        rows.append(row)
        elapsed = time.perf_counter() - t_start
        done = epoch + 1 - start_epoch
        log.info(
            "epoch %d/%d loss %.4f val_loss %.4f val_video_acc %.3f val_video_auc %.3f%s "
            "| %.1f s/epoch, ETA %.0f s",
            epoch + 1,
            cfg.epochs,
            row["train_loss"],
            metrics["val_loss"],
            metrics["val_video_acc"],
            metrics["val_video_auc"],
            " *" if selected else "",
            elapsed / done,
            elapsed / done * (cfg.epochs - epoch - 1),
        )
        _write_log(rows, log_csv)
        _save_state(
            {
                "signature": signature,
                "epoch": epoch + 1,
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "rng": torch.get_rng_state(),
                "best": best,
                "best_model": best_state,
                "rows": rows,
            },
            state_path,
        )
    model.load_state_dict(best_state)
    best_row = max((r for r in rows if r["selected"]), key=lambda r: r["epoch"])
    save_checkpoint(
        out_model,
        model,
        extra={
            "train": asdict(cfg),
            "best_epoch": best_row["epoch"],
            **{k: float(v) for k, v in best_row.items() if k.startswith("val_")},
            "provenance": provenance or make_provenance(),
        },
    )
    state_path.unlink(missing_ok=True)  # finished: nothing left to resume
    return best_row


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

    Draws from torch's generator, so it follows the training seed (and the DataLoader's
    per-worker seeds) and differs from epoch to epoch.
    """
    from istvt.perturb import dropout

    def augment(clip, key):
        if float(torch.rand(())) >= cfg.dropout_probability:
            return clip
        regions = int(torch.randint(1, cfg.dropout_regions + 1, ()))
        rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, ())))
        return dropout(clip, regions, rng)

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
) -> dict:
    """Train on the train split of a preprocessed data set, select on its val split.

    ``methods`` restricts the fakes (e.g. one FF++ method, as in the paper's Table I);
    real videos are always kept. The test split is never read here.
    """
    from istvt.evaluate import split_dataset

    augment = dropout_augmentation(cfg) if cfg.dropout_regions else None
    train_set, rows = split_dataset(
        manifest, faces_dir, "train", methods, hflip=cfg.hflip, transform=augment
    )
    val_set, val_rows = split_dataset(manifest, faces_dir, "val", methods)
    log.info(
        "training on %d clips of %d videos, validating on %d clips of %d videos",
        len(train_set),
        len(rows),
        len(val_set),
        len(val_rows),
    )
    return train(
        model_cfg, cfg, train_set, val_set, out_model, state_path, log_csv, device, provenance
    )
