"""``istvt`` command line: the same package functions the workflow scripts call."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from istvt.config import ConfigError, ModelConfig, load_model_config


def _model_config(args: argparse.Namespace) -> ModelConfig:
    cfg = load_model_config(args.config) if args.config else ModelConfig()
    overrides = {
        k: getattr(args, k)
        for k in (
            "sequence_length",
            "num_layers",
            "num_heads",
            "embed_dim",
            "image_size",
            "attention",
        )
        if getattr(args, k, None) is not None
    }
    if getattr(args, "no_self_subtract", False):
        overrides["self_subtract"] = False
    return cfg.replace(**overrides) if overrides else cfg


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="YAML file with a 'model:' section (default: paper model)")
    p.add_argument("--sequence_length", type=int, help="frames per clip, T")
    p.add_argument("--num_layers", type=int, help="transformer blocks, M")
    p.add_argument("--num_heads", type=int, help="attention heads, N")
    p.add_argument("--embed_dim", type=int, help="token width (728 = no projection)")
    p.add_argument("--image_size", type=int, help="face crop side in pixels")
    p.add_argument("--attention", help="attention variant (paper Table III)")
    p.add_argument("--no_self_subtract", action="store_true", help="disable self-subtract")


def cmd_flops(args: argparse.Namespace) -> int:
    from istvt.model.flops import count_macs, flops_table, format_table

    cfg = _model_config(args)
    cost = count_macs(cfg)
    print(f"model: {json.dumps(cfg.architecture())}")
    print(
        f"per clip: {cost.gmacs:.2f} GMACs (conv {cost.conv / 1e9:.2f} + linear "
        f"{cost.linear / 1e9:.2f}); attention products {cost.attention / 1e9:.2f} GMACs "
        f"(not in the paper's convention); {cost.params / 1e6:.2f} M parameters"
    )
    if args.table:
        rows = flops_table(cfg)
        print("\nPaper Tables IV-V: ours beside the paper's\n")
        print(format_table(rows))
        if args.csv:
            import pandas as pd

            Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
            pd.DataFrame(rows).to_csv(args.csv, index=False)
    return 0


def cmd_convert_authors(args: argparse.Namespace) -> int:
    from istvt.model.convert import convert_authors_checkpoint

    cfg = convert_authors_checkpoint(args.src, args.dst)
    print(f"wrote {args.dst}: {json.dumps(cfg.architecture())}")
    return 0


def _add_option_arg(p: argparse.ArgumentParser, example: str) -> None:
    p.add_argument("--option", action="append", metavar="KEY=VALUE", help=example)


def _parse_options(pairs: list[str]) -> dict:
    """KEY=VALUE pairs -> dict, values parsed as YAML (numbers, lists, null...)."""
    import yaml

    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"--option expects KEY=VALUE, got {pair!r}")
        out[key] = yaml.safe_load(value)
    return out


def cmd_manifest(args: argparse.Namespace) -> int:
    from istvt.data.manifest import (
        build_manifest,
        coverage_markdown,
        coverage_table,
        write_manifest,
    )

    df = build_manifest(args.layout, args.root, **_parse_options(args.option))
    write_manifest(df, args.out)
    counts = df.groupby(["split", "label"]).size().to_dict()
    print(f"wrote {args.out}: {len(df)} videos; (split, label) counts {counts}")
    print(coverage_markdown(coverage_table(df), args.layout, df))  # what is on disk
    return 0


def cmd_demo_data(args: argparse.Namespace) -> int:
    from istvt.data.demo import DemoOptions, generate_demo

    opts = DemoOptions.from_dict(_parse_options(args.option))
    counts = generate_demo(args.out, opts)
    print(f"wrote demo data under {args.out}: {counts}")
    return 0


def cmd_preprocess(args: argparse.Namespace) -> int:
    import logging

    from istvt.data.manifest import read_manifest
    from istvt.data.preprocess import PreprocessOptions, preprocess_dataset

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    options = PreprocessOptions.from_dict(_parse_options(args.option))
    manifest = read_manifest(args.manifest)
    if args.video_ids:
        manifest = manifest[manifest.video_id.isin(args.video_ids)]
    table = preprocess_dataset(manifest, options, args.out_dir, args.shard_size, args.shards)
    print(
        f"{len(table)} videos: "
        + ", ".join(f"{k} {v}" for k, v in table.groupby("status").size().items())
    )
    return 0


def cmd_infer(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from istvt.checkpoint import load_checkpoint
    from istvt.infer import infer_folder, infer_video, options_for
    from istvt.inference import prepare

    if bool(args.video) == bool(args.video_dir):
        raise ValueError("give exactly one of --video FILE or --video_dir DIR")
    if args.video_dir and (args.visualize or args.overlay_video):
        raise ValueError("--visualize and --overlay_video work with --video FILE only")
    model = load_checkpoint(args.model, map_location="cpu").eval()
    options = replace(options_for(model), clips_per_video=args.clips)
    scorer = prepare(model, args.precision, "cpu", batch_size=args.clips)
    print(f"precision {args.precision} -> {scorer.precision}")
    if args.video:
        figure = relevance = overlay = None
        folder, stem = Path(args.output_dir or "."), Path(args.video).stem
        if args.visualize:
            figure = folder / f"{stem}.clips.png"
            relevance = folder / f"{stem}.relevance.png"
        if args.overlay_video:
            overlay = folder / f"{stem}.relevance.mp4"
        row = infer_video(
            model,
            args.video,
            options,
            figure=figure,
            relevance=relevance,
            overlay=overlay,
            target=args.target,
            scorer=scorer,
        )
        if row["status"] != "ok":
            print(f"{args.video}: no score ({row['status']}: {row['detail']})")
            return 1
        print(f"{args.video}: fake probability {row['score']:.4f} ({row['label']})")
        print(f"clip scores: {row['clip_scores']}")
        for path in (figure, relevance, overlay):
            if path:
                print(f"figure: {path}" if path == figure else f"relevance: {path}")
        return 0
    if not args.output_dir:
        raise ValueError("--video_dir needs --output_dir")
    out = Path(args.output_dir) / "predictions.csv"
    table = infer_folder(model, args.video_dir, options, out, scorer=scorer)
    scored = int((table.status == "ok").sum())
    print(
        f"wrote {out}: {scored} of {len(table)} videos scored"
        + ("" if scored == len(table) else "; the others are listed with their reason")
    )
    return 0


def _sections(path: str | None) -> dict:
    from istvt.config import load_yaml

    return load_yaml(path) if path else {}


def cmd_train(args: argparse.Namespace) -> int:
    import logging

    import torch

    from istvt import distributed
    from istvt.data.manifest import read_manifest
    from istvt.train import TrainConfig, train_experiment

    world = distributed.launched_world()  # under torchrun: this process's rank
    logging.basicConfig(
        level=logging.INFO if world.is_main else logging.WARNING,
        format="%(asctime)s %(message)s",
    )
    config = _sections(args.config)
    model_cfg = ModelConfig.from_dict(config.get("model"), where=f"{args.config}: model")
    first_seed = (config.get("seeds") or [config.get("seed", 0)])[0]  # --option seed=S: another
    train_cfg = TrainConfig.from_dict(
        {"seed": first_seed, **config.get("train", {}), **_parse_options(args.option)}
    )
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out_dir)
    with distributed.process_group(args.device):
        best = train_experiment(
            read_manifest(args.manifest),
            args.faces,
            model_cfg,
            train_cfg,
            out / "best_model.pth",
            Path(args.state) if args.state else out / "train_state.pt",
            out / "train_log.csv",
            methods=args.methods,
            device=args.device,
        )
    if not world.is_main:
        return 0
    print(
        f"wrote {out / 'best_model.pth'} (epoch {best['epoch']}, validation video AUC "
        f"{best['val_video_auc']:.3f}, accuracy {best['val_video_acc']:.3f})"
    )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    import logging

    from istvt.data.manifest import read_manifest
    from istvt.evaluate import evaluate

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    out = Path(args.out_dir)
    m = evaluate(
        args.model,
        read_manifest(args.manifest),
        args.faces,
        out / "predictions.csv",
        out / "metrics.json",
        methods=args.methods,
        split=args.split,
        bootstrap=args.bootstrap,
        device=args.device,
        precision=args.precision,
    )
    print(f"precision {args.precision} -> {m['precision']}")
    v, ci = m["video"], m["video_ci95"]
    print(f"{m['scored']} of {m['videos']} videos scored; video level:")
    for k in ("acc", "auc", "eer", "ap"):
        print(f"  {k.upper():4s} {v[k]:.4f}  [{ci[f'{k}_lo']:.4f}, {ci[f'{k}_hi']:.4f}]")
    print(f"wrote {out / 'predictions.csv'} and {out / 'metrics.json'}")
    return 0


def cmd_interpret(args: argparse.Namespace) -> int:
    import logging

    import torch

    from istvt.config import dataclass_from_dict
    from istvt.data.manifest import read_manifest
    from istvt.interpret.experiment import interpret_experiment
    from istvt.interpret.faithfulness import FaithfulnessConfig

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    section = _sections(args.config).get("interpret", {})
    section = {k: v for k, v in section.items() if k not in ("experiments", "heatmaps")}
    cfg = dataclass_from_dict(
        FaithfulnessConfig, {**section, **_parse_options(args.option)}, "interpret"
    )
    out = Path(args.out_dir)
    summary = interpret_experiment(
        args.model,
        read_manifest(args.manifest),
        args.faces,
        cfg,
        out,
        out / "deletion.png",
        heatmaps=args.heatmaps,
        methods=args.methods,
        mask_root=args.masks,
    )
    print((out / "faithfulness.md").read_text().rstrip())
    print(f"wrote {len(summary)} maps' measures and figures under {out}")
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    import yaml

    from istvt.cost import format_plan, plan_summary

    path = Path(args.configfile)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no such config file (run from the checkout's root, or give --configfile)"
        )
    from istvt.config import override

    config = override(yaml.safe_load(path.read_text()), args.config)
    source = " ".join([str(path), *(f"--config {item}" for item in args.config or [])])
    summary = plan_summary(config, source, args.gpu, args.time_limit)
    print(json.dumps(summary, indent=1) if args.json else format_plan(summary))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="istvt", description="ISTVT deepfake detection: model, data, training, analysis"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("plan", help="what a workflow config runs and costs, before anything runs")
    p.add_argument("--configfile", default="config/config.yaml", help="default: config/config.yaml")
    p.add_argument(
        "--config",
        nargs="+",
        metavar="KEY=VALUE",
        help="override top-level keys as snakemake --config does, e.g. seeds=[0,1,2]",
    )
    p.add_argument("--gpu", default="H200", help="the measured GPU of the GPU column")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.add_argument(
        "--time-limit",
        type=float,
        metavar="MINUTES",
        help="a cluster's wall-time limit per job: how many jobs each training takes",
    )
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("flops", help="MACs per clip (paper convention) and Tables IV-V")
    _add_model_args(p)
    p.add_argument("--table", action="store_true", help="print Tables IV-V beside the paper")
    p.add_argument("--csv", help="also write the table to this CSV file")
    p.set_defaults(func=cmd_flops)

    p = sub.add_parser(
        "convert-authors", help="convert weights trained with the authors' code to ours"
    )
    p.add_argument("src", help="state dict saved by the authors' XceptionVidTr")
    p.add_argument("dst", help="output istvt checkpoint (.pth)")
    p.set_defaults(func=cmd_convert_authors)

    p = sub.add_parser("manifest", help="list a dataset's videos, labels and splits as CSV")
    p.add_argument("layout", help="ffpp, celebdf, dfdc, dfdc_preview or folder")
    p.add_argument("root", help="dataset root folder, in the dataset's own layout")
    p.add_argument("out", help="manifest CSV to write")
    _add_option_arg(p, "reader option, e.g. compressions=[c23,c40] or val_fraction=0.1")
    p.set_defaults(func=cmd_manifest)

    p = sub.add_parser("demo-data", help="generate the embedded demo data sets")
    p.add_argument("out", help="output folder (gets ffpp/, celebdf/, dfdc/)")
    _add_option_arg(p, "demo option, e.g. identities=12 or frames=30")
    p.set_defaults(func=cmd_demo_data)

    p = sub.add_parser("preprocess", help="align the face clips of a manifest into shards")
    p.add_argument("manifest", help="manifest CSV")
    p.add_argument("out_dir", help="output folder: shard-K.npz, shard-K.status.csv, status.csv")
    p.add_argument("--shard_size", type=int, help="videos per shard (default: options)")
    p.add_argument("--shards", type=int, nargs="+", help="only these shard numbers")
    p.add_argument("--video_ids", nargs="+", help="only these videos")
    _add_option_arg(p, "preprocess option, e.g. clips_per_video=4 or max_frames=270")
    p.set_defaults(func=cmd_preprocess)

    p = sub.add_parser("train", help="train on a preprocessed data set, select on validation")
    p.add_argument("manifest", help="manifest CSV (istvt manifest)")
    p.add_argument("faces", help="folder of aligned-clip shards (istvt preprocess)")
    p.add_argument("out_dir", help="gets best_model.pth and train_log.csv")
    p.add_argument("--config", help="YAML with 'model:' and 'train:' sections")
    p.add_argument("--methods", nargs="+", help="train on these fake methods only")
    p.add_argument("--state", help="resumable training state (default OUT_DIR/train_state.pt)")
    p.add_argument("--threads", type=int, help="CPU threads for torch")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    _add_option_arg(p, "train option overriding the config, e.g. epochs=5 or lr=1e-4")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="score a split; per-video predictions and metrics")
    p.add_argument("model", help="istvt checkpoint (.pth)")
    p.add_argument("manifest", help="manifest CSV")
    p.add_argument("faces", help="folder of aligned-clip shards")
    p.add_argument("out_dir", help="gets predictions.csv and metrics.json")
    p.add_argument("--methods", nargs="+", help="real videos plus these fake methods only")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--bootstrap", type=int, default=1000, help="resamples for the intervals")
    p.add_argument("--device", help="cpu, cuda ... (default: cuda if available)")
    _add_precision_arg(p, "hardware")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser(
        "interpret", help="relevance maps of a model on its test split and their faithfulness"
    )
    p.add_argument("model", help="istvt checkpoint (.pth)")
    p.add_argument("manifest", help="manifest CSV")
    p.add_argument("faces", help="folder of aligned-clip shards")
    p.add_argument("out_dir", help="gets faithfulness.csv/.md/.json, deletion.*, heatmaps/")
    p.add_argument("--masks", help="root of a demo data set: score the maps against its masks")
    p.add_argument("--methods", nargs="+", help="real videos plus these fake methods only")
    p.add_argument("--config", help="YAML with an 'interpret:' section")
    p.add_argument("--heatmaps", type=int, default=4, help="heatmap figures (default 4)")
    p.add_argument("--threads", type=int, help="CPU threads for torch")
    _add_option_arg(p, "interpret option overriding the config, e.g. max_clips=16")
    p.set_defaults(func=cmd_interpret)

    p = sub.add_parser("infer", help="fake probability of a video or of every video in a folder")
    p.add_argument("--model", required=True, help="istvt checkpoint (.pth)")
    p.add_argument("--video", help="one video file")
    p.add_argument("--video_dir", help="a folder of videos (searched recursively)")
    p.add_argument("--output_dir", help="where predictions.csv (--video_dir) or the figure goes")
    p.add_argument(
        "--visualize",
        action="store_true",
        help="with --video: write VIDEO.clips.png (the aligned clips with their scores) "
        "and VIDEO.relevance.png (ISTVT-LRP heatmaps of the most fake-looking clip, "
        "the paper's Fig. 9 layout)",
    )
    p.add_argument(
        "--overlay_video",
        action="store_true",
        help="with --video: write VIDEO.relevance.mp4, every clip beside its spatial and "
        "temporal relevance overlays",
    )
    p.add_argument(
        "--target",
        choices=["fake", "real"],
        default="fake",
        help="the class the relevance maps explain (default fake, as in the paper)",
    )
    p.add_argument("--clips", type=int, default=4, help="clips per video (default 4)")
    _add_precision_arg(p, "auto")
    p.set_defaults(func=cmd_infer)
    return parser


def _add_precision_arg(p: argparse.ArgumentParser, default: str) -> None:
    from istvt.inference import PRECISIONS

    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=default,
        help=f"fp32; bf16 or fp16 autocast; int8 dynamic quantisation of the linear layers "
        f"(CPU); hardware: bf16 on a GPU that has it, fp32 on a CPU (never a timing); auto: "
        f"bf16 on a GPU, on a CPU the fastest path measured on this machine (once, then "
        f"cached). Default {default}",
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, FileNotFoundError, KeyError, ValueError) as exc:
        print(f"istvt {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
