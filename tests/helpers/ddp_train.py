"""Train the tiny model on synthetic shards; run plainly or under torchrun (DDP tests).

python tests/helpers/ddp_train.py DATA_DIR OUT_DIR [--workers N] [--die-in-epoch E]
python -m torch.distributed.run --standalone --nproc_per_node 2 tests/helpers/ddp_train.py ...
"""

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from istvt import distributed  # noqa: E402
from istvt.data.dataset import ClipDataset  # noqa: E402
from istvt.train import TrainConfig, dropout_augmentation, train  # noqa: E402
from tests.conftest import tiny_config  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("data")
parser.add_argument("out")
parser.add_argument("--workers", type=int, default=0)
parser.add_argument("--die-in-epoch", type=int, default=0)
parser.add_argument("--device", default="cpu")
parser.add_argument("--precision", default="auto")
parser.add_argument("--entry-epochs", type=int, default=0, help="train.entry_epochs")
parser.add_argument(
    "--backend", help="initialise the process group with this backend (default: by device)"
)
parser.add_argument("--no-tf32", action="store_true", help="true fp32 convolutions on CUDA")
args = parser.parse_args()
if args.no_tf32:
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False

torch.set_num_threads(1)
cfg = TrainConfig(
    epochs=3,
    batch_size=4,
    lr=0.01,
    warmup_epochs=1,
    seed=3,
    dropout_regions=8,
    num_workers=args.workers,
    precision=args.precision,
    entry_epochs=args.entry_epochs,
)
if args.die_in_epoch:
    import istvt.train as train_module

    real, calls = train_module.evaluate_split, {"n": 0}

    def dies(*a, **k):
        calls["n"] += 1
        if calls["n"] == args.die_in_epoch:
            raise SystemExit(3)  # as if the job were killed
        return real(*a, **k)

    train_module.evaluate_split = dies

data, out = Path(args.data), Path(args.out)
if args.backend:
    import torch.distributed as dist

    dist.init_process_group(args.backend)
with distributed.process_group(args.device):
    train(
        tiny_config(),
        cfg,
        ClipDataset([data / "train.npz"], hflip=True, augment=dropout_augmentation(cfg)),
        ClipDataset([data / "val.npz"]),
        out / "model.pth",
        data / "state.pt",
        out / "log.csv",
        device=args.device,
    )
