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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="istvt", description="ISTVT deepfake detection: model, data, training, analysis"
    )
    sub = parser.add_subparsers(dest="command", required=True)

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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, FileNotFoundError, KeyError, ValueError) as exc:
        print(f"istvt {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
