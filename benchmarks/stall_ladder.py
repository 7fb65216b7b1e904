"""Where does learning stall? A ladder of models trained alone on a finished run's shards
and scored on the validation split only (the test split is never read).

Every rung takes the same recipe (the config's ``train`` section unless overridden:
AdamW, batch, epochs, warm-up, cosine, horizontal flips), the same seeded clip order and
one thread. Rungs:

* ``probe``: logistic regression on colour/Laplacian cues (``cue_probe.py``'s features);
* ``entry_pool``: our Xception entry flow + global average pool + linear, per frame,
  clip logit = mean of the frame logits;
* ``istvt``: the model of the run's config; ``istvt:key=value,...`` changes model
  fields (``readout=mean``, ``init=authors``, ``num_layers=1``...) and recipe knobs
  (``lr=1e-3``, ``head_bias=prior``: the head's bias starts at the training prior's
  log-odds; ``tokens=normal`` / ``linears=torch``: the two halves of ``init=authors``,
  N(0, 1) tokens and position embedding / PyTorch's default linear layers;
  ``entry_group_lr=1e-3``: the entry flow in its own optimiser group at that peak lr;
  ``aux=1.0``: plus that weight times the loss of a per-frame linear head on the pooled
  entry-flow features, a training-only head; ``self_blend=0.5``: that share of the
  batch's real clips gets a self-blended copy labelled fake, ``istvt.selfblend``;
  ``entry_epochs=8`` (and ``entry_lr``): the recipe's entry-flow stage, the entry flow
  first trained that many epochs as ``entry_pool`` on the same training clips).

FF++ data sets (and the DFDC demo, per DFDC method) also print
(and write, column ``method_aucs``) the clip AUC of each method's fakes against all
validation reals.

Per rung it prints, at initialisation, the gradient norm reaching the entry flow (mean
over the first 4 batches) and, per epoch, train loss, validation clip AUC and the
spread of validation logits (std): a model at the class prior has train loss at the
prior's entropy, validation AUC near 0.5 and a spread near 0.

    python benchmarks/stall_ladder.py RUN_DIR ffpp_demo dfdc_demo \\
        --rungs probe entry_pool istvt istvt:readout=mean --csv ladder.csv
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
import yaml
from bench_utils import cpu_line
from sklearn.metrics import roc_auc_score
from torch import nn

from istvt.config import ModelConfig
from istvt.data.dataset import split_dataset
from istvt.data.demo import load_kinds
from istvt.data.manifest import read_manifest
from istvt.inference import resolve_precision
from istvt.metrics import auc_per_method
from istvt.model import ISTVT
from istvt.model.xception import XceptionEntryFlow
from istvt.selfblend import add_self_blends
from istvt.train import PerFrameModel, TrainConfig, lr_at, make_optimizer, seed_everything

#: recipe knobs a rung may change (everything else is a ModelConfig field)
RECIPE_KEYS = {
    "lr": float,
    "epochs": int,
    "weight_decay": float,
    "precision": str,
    "head_bias": str,
    "tokens": str,
    "linears": str,
    "self_blend": float,
    "aux": float,
    "entry_group_lr": float,
    "entry_epochs": int,
    "entry_lr": float,
}


def entry_pool() -> PerFrameModel:
    """Entry flow + global average pool + linear, per frame; clip logit = mean."""
    flow = XceptionEntryFlow()
    flow.set_channels_last(True)
    return PerFrameModel(flow)


def first_people(manifest: pd.DataFrame, split: str, people: int) -> pd.DataFrame:
    """The manifest without the ``split`` videos whose target person (the first of the
    ``identities``) is not among the split's first ``people`` in sorted order: each kept
    person keeps the videos it has, as in a run with that many people."""
    rows = manifest[manifest.split == split]
    targets = rows.identities.astype(str).str.split("|").str[0]
    kept = set(sorted(set(targets))[:people])
    return manifest.drop(index=rows.index[~targets.isin(kept)])


def load_split(
    run: Path, dataset: str, split: str, people: int | None = None
) -> tuple[torch.Tensor, np.ndarray, list]:
    """A split's clips; ``people``: only those of the split's first ``people`` people
    (``first_people``)."""
    manifest = read_manifest(run / "results/manifests" / f"{dataset}.csv")
    if people is not None:
        manifest = first_people(manifest, split, people)
    clips, _ = split_dataset(manifest, run / "results/faces" / dataset, split, normalize=False)
    x = torch.stack([clips[k][0] for k in range(len(clips))])  # uint8 (N, T, 3, S, S)
    return x, clips.labels.astype(np.float32), clips.video_ids


def parse_rung(spec: str) -> tuple[str, dict, dict]:
    name, _, rest = spec.partition(":")
    model, recipe = {}, {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        if key in RECIPE_KEYS:
            recipe[key] = RECIPE_KEYS[key](value)
        else:
            model[key] = yaml.safe_load(value)
    return name, model, recipe


def normalise(x: torch.Tensor) -> torch.Tensor:
    return (x.float() / 255.0 - 0.5) / 0.5


def scores(model: nn.Module, x: torch.Tensor, batch: int = 16) -> np.ndarray:
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out.append(model(normalise(x[i : i + batch])).float())
    return torch.cat(out).numpy()


def method_aucs(labels: np.ndarray, s: np.ndarray, video_ids, kinds=None) -> dict[str, float]:
    """Clip AUC of each manipulation method's fakes against all real clips: the kind the
    demo's ``kinds.csv`` records for a video (DFDC), else the first part of its id (FF++)."""
    kinds = kinds or {}
    return auc_per_method(labels, s, [kinds.get(str(v), str(v).split("/")[0]) for v in video_ids])


def entry_grad_norm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int) -> float:
    model.train()
    norms = []
    for i in range(4):
        model.zero_grad(set_to_none=True)
        xb, yb = normalise(x[i * batch : (i + 1) * batch]), y[i * batch : (i + 1) * batch]
        F.binary_cross_entropy_with_logits(model(xb), yb).backward()
        grads = [p.grad.norm() for p in model.entry_flow.parameters() if p.grad is not None]
        norms.append(float(torch.stack(grads).norm()))
    model.zero_grad(set_to_none=True)
    return float(np.mean(norms))


def train_rung(spec: str, cfg: dict, data: dict, seed: int, keep: list | None = None) -> list[dict]:
    """Train one rung; its rows per epoch (``keep``, when given, receives the model)."""
    name, model_changes, recipe = parse_rung(spec)
    tcfg = TrainConfig.from_dict(
        {k: v for k, v in cfg["train"].items() if k in TrainConfig.__dataclass_fields__}
        | {k: v for k, v in recipe.items() if k in TrainConfig.__dataclass_fields__}
        | {"seed": seed}
    )
    xtr, ytr, _ = data["train"]
    xva, yva, vids = data["val"]
    seed_everything(seed)
    if name == "entry_pool":
        model = entry_pool()
    elif name == "istvt":
        model = ISTVT(ModelConfig.from_dict(cfg["model"] | model_changes))
    else:
        raise SystemExit(f"unknown rung {name!r}")
    if name == "istvt" and tcfg.entry_epochs:  # the entry flow first, alone, per frame
        trained: list = []
        stage = f"entry_pool:lr={tcfg.entry_lr},epochs={tcfg.entry_epochs},entry_epochs=0"
        train_rung(stage, cfg, data, seed, trained)
        model.entry_flow.load_state_dict(trained[0].entry_flow.state_dict())
    yt = torch.from_numpy(ytr)
    if recipe.get("tokens") == "normal":  # one half of init=authors
        for p in (model.pos_embed, model.space_token, model.temporal_token):
            nn.init.normal_(p)
    if recipe.get("linears") == "torch":  # the other half: torch's default linear init
        for m in model.modules():
            if isinstance(m, nn.Linear):
                m.reset_parameters()
    if recipe.get("head_bias") == "prior":
        with torch.no_grad():
            model.head.bias.fill_(math.log(ytr.mean() / (1 - ytr.mean())))
    grad0 = entry_grad_norm(model, xtr, yt, tcfg.batch_size)
    seed_everything(seed)
    aux_weight = recipe.get("aux", 0.0)
    frame_feats = []
    if aux_weight > 0:  # a per-frame head on the pooled entry-flow features
        aux_head = nn.Linear(XceptionEntryFlow.out_channels, 1)
        model.add_module("aux_head", aux_head)
        model.entry_flow.register_forward_hook(
            lambda _m, _i, out: frame_feats.append(out.float().mean(dim=(2, 3)))
        )
    opt = make_optimizer(model, tcfg)
    if "entry_group_lr" in recipe:  # the entry flow in its own group, at its own peak lr
        entry = list(model.entry_flow.parameters())
        rest = [p for p in model.parameters() if all(p is not q for q in entry)]
        opt = torch.optim.AdamW(
            [
                {"params": entry, "scale": recipe["entry_group_lr"] / tcfg.lr},
                {"params": rest, "scale": 1.0},
            ],
            lr=tcfg.lr,
            weight_decay=tcfg.weight_decay,
        )
    steps = math.ceil(len(xtr) / tcfg.batch_size)
    gen = torch.Generator().manual_seed(seed)
    amp = resolve_precision(tcfg.precision, torch.device("cpu"))
    autocast = torch.autocast("cpu", dtype=amp or torch.float32, enabled=amp is not None)
    rows = []
    for epoch in range(tcfg.epochs):
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(len(xtr), generator=gen)
        flips = torch.rand(len(xtr), generator=gen) < 0.5
        losses = []
        for b in range(steps):
            idx = order[b * tcfg.batch_size : (b + 1) * tcfg.batch_size]
            xb, yb = xtr[idx], yt[idx]
            if tcfg.hflip:
                xb = torch.where(flips[idx, None, None, None, None], xb.flip(-1), xb)
            xb, yb = add_self_blends(xb, yb, recipe.get("self_blend", 0.0), gen)
            for group in opt.param_groups:
                group["lr"] = lr_at(tcfg, epoch * steps + b, steps) * group.get("scale", 1.0)
            frame_feats.clear()
            with autocast:
                logits = model(normalise(xb)).float()
            loss = F.binary_cross_entropy_with_logits(logits, yb)
            if frame_feats:
                frame_logits = model.aux_head(frame_feats[0]).view(len(yb), -1)
                loss = loss + aux_weight * F.binary_cross_entropy_with_logits(
                    frame_logits, yb[:, None].expand_as(frame_logits)
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        s = scores(model, xva)
        by_method = method_aucs(yva, s, vids, data["kinds"]) if data["by_method"] else {}
        rows.append(
            {
                "rung": spec,
                "epoch": epoch + 1,
                "train_loss": float(np.mean(losses)),
                "val_clip_auc": float(roc_auc_score(yva, s)),
                "val_loss": float(
                    F.binary_cross_entropy_with_logits(torch.from_numpy(s), torch.from_numpy(yva))
                ),
                "val_logit_std": float(s.std()),
                "entry_grad_init": grad0,
                "seconds": time.perf_counter() - t0,
            }
        )
        methods = " ".join(f"{m} {v:.2f}" for m, v in by_method.items())
        rows[-1]["method_aucs"] = methods  # one column whatever the data set: one CSV
        print(
            f"  {spec} epoch {epoch + 1}: loss {rows[-1]['train_loss']:.3f} val clip AUC "
            f"{rows[-1]['val_clip_auc']:.3f} logit std {rows[-1]['val_logit_std']:.3f}"
            + (f" ({methods})" if len(by_method) > 1 else ""),
            flush=True,
        )
    if keep is not None:
        keep.append(model)
    return rows


def probe_rung(run: Path, dataset: str) -> list[dict]:
    from cue_probe import features
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    xtr, ytr = features(run, dataset, "train")
    xva, yva = features(run, dataset, "val")
    scaler = StandardScaler().fit(xtr)
    clf = LogisticRegression(C=1.0, max_iter=2000).fit(scaler.transform(xtr), ytr)
    auc = roc_auc_score(yva, clf.predict_proba(scaler.transform(xva))[:, 1])
    return [{"rung": "probe", "epoch": 0, "val_clip_auc": float(auc)}]


def summarise(csv: Path) -> str:
    """One markdown row per rung: val clip AUC at epochs 4, 8, 12 and the best, per data
    set, and the entry-flow gradient at initialisation."""
    table = pd.read_csv(csv)
    if "train_people" in table:  # runs with --train-people: a rung per people count
        table["dataset"] += ", people " + table.train_people.fillna("all").astype(str)
    rows = []
    for (rung, dataset), g in table.groupby(["rung", "dataset"], sort=False):
        by_epoch = g.set_index("epoch").val_clip_auc
        cells = {e: by_epoch.get(e, float("nan")) for e in (4, 8, 12)}
        grad = g.entry_grad_init.iloc[0] if "entry_grad_init" in g else float("nan")
        rows.append(
            {
                "rung": rung,
                "data set": dataset,
                "AUC ep 4": cells[4],
                "ep 8": cells[8],
                "ep 12": cells[12],
                "best": by_epoch.max(),
                "entry-flow grad at init": grad,
            }
        )
    return pd.DataFrame(rows).to_markdown(index=False, floatfmt=".2f")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, nargs="?", help="a run (results/manifests, faces)")
    parser.add_argument("datasets", nargs="*")
    parser.add_argument("--summarise", type=Path, help="print the table of a --csv file")
    parser.add_argument("--rungs", nargs="+", default=["probe", "entry_pool", "istvt"])
    parser.add_argument("--config", type=Path, default=None, help="default: RUN/config")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--csv", type=Path, default=None, help="append every epoch's row")
    parser.add_argument(
        "--train-people",
        type=int,
        default=None,
        help="train on the videos of the first N training people only (the effect of "
        "more identities, measured on the same validation split)",
    )
    args = parser.parse_args(argv)
    if args.summarise:
        print(summarise(args.summarise))
        return 0
    if args.run is None or not args.datasets:
        parser.error("RUN and at least one data set are needed (or --summarise CSV)")
    torch.set_num_threads(args.threads)
    cfg = yaml.safe_load((args.config or args.run / "config/config.yaml").read_text())
    print(cpu_line())
    for dataset in args.datasets:
        data = {
            "train": load_split(args.run, dataset, "train", args.train_people),
            "val": load_split(args.run, dataset, "val"),
        }
        dataset_cfg = cfg["datasets"][dataset]
        demo = dataset_cfg.get("demo", False)
        data["kinds"] = load_kinds(args.run / dataset_cfg["root"]) if demo else {}
        data["by_method"] = dataset_cfg.get("layout") == "ffpp" or bool(data["kinds"])
        print(f"{dataset}: {len(data['train'][0])} train, {len(data['val'][0])} val clips")
        for spec in args.rungs:
            if spec == "probe":
                rows = probe_rung(args.run, dataset)
            else:
                rows = train_rung(spec, cfg, data, args.seed)
            table = pd.DataFrame(rows).assign(
                dataset=dataset, train_people=args.train_people or "all"
            )
            last = table.iloc[-1]
            print(
                f"{dataset} {spec}: val clip AUC best {table.val_clip_auc.max():.3f}, last "
                f"{last.val_clip_auc:.3f}"
                + (
                    f", entry grad at init {last.entry_grad_init:.2f}"
                    if "entry_grad_init" in last
                    else ""
                ),
                flush=True,
            )
            if args.csv:
                table.to_csv(args.csv, mode="a", header=not args.csv.exists(), index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
