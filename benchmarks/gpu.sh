#!/usr/bin/env bash
# The GPU figures of the README in one command (3-4 minutes on an H200):
#   bash benchmarks/gpu.sh OUT_DIR [PARTS...]     PARTS: speed loader ddp (default: all)
# model speed at paper size (fp32 explicit / SDPA / bf16 fused SDPA / torch.compile),
# loader vs model step, and a DDP check: two processes sharing the GPU (gloo) against one.
set -uo pipefail
out=${1:-results/benchmarks/gpu}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv | tee "$out/gpu.txt"
$py -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$out/gpu.txt"

parts=" ${*:2} "
[ "$parts" = "  " ] && parts=" speed loader ddp "
if [[ $parts == *" speed "* ]]; then
echo "== model speed"
timeout 300 $py benchmarks/model_speed.py --device cuda --sizes paper \
  --variants temporal_first joint --batch 32 --repeats 5 --compile \
  --out "$out/model_speed.md" 2>&1 | tail -n 40
echo "== joint at batch 32: bf16 with activation checkpointing"
timeout 300 $py benchmarks/model_speed.py --device cuda --sizes paper \
  --variants joint --batch 32 --repeats 3 --checkpointing \
  --out "$out/model_speed_joint_ckpt.md" 2>&1 | tail -n 12
echo "== ISTVT-LRP per clip at paper size"
timeout 200 $py benchmarks/lrp_speed.py --device cuda --out "$out/lrp_speed.md" 2>&1 | tail -n 8

fi
if [[ $parts == *" loader "* ]]; then
echo "== loader vs model step"
timeout 240 $py benchmarks/train_throughput.py --device cuda --batch 32 \
  --workers 0 4 8 12 --batches 12 --steps 5 --out "$out/train_throughput.md" 2>&1 | tail -n 20

fi
if [[ $parts == *" ddp "* ]]; then
echo "== DDP: 2 processes (gloo, one GPU) vs 1, fp32 and SyncBatchNorm"
tmp=$(mktemp -d)
$py - "$tmp" <<'PY'
import sys
sys.path.insert(0, ".")
from tests.test_train import synthetic_shard
for d in ("one", "two"):
    synthetic_shard(f"{sys.argv[1]}/{d}/train.npz", videos=8, seed=0)
    synthetic_shard(f"{sys.argv[1]}/{d}/val.npz", videos=4, seed=1)
PY
fp32="--device cuda:0 --precision fp32 --no-tf32"
timeout 120 $py tests/helpers/ddp_train.py "$tmp/one" "$tmp/out1" $fp32 > "$out/ddp.log" 2>&1
timeout 120 $py tests/helpers/ddp_train.py "$tmp/one" "$tmp/again" $fp32 >> "$out/ddp.log" 2>&1
timeout 180 $py -m torch.distributed.run --standalone --nproc_per_node 2 tests/helpers/ddp_train.py \
  "$tmp/two" "$tmp/out2" $fp32 --backend gloo >> "$out/ddp.log" 2>&1
timeout 120 $py tests/helpers/ddp_train.py "$tmp/one" "$tmp/bf16" --device cuda:0 --precision bf16 \
  >> "$out/ddp.log" 2>&1
tail -n 5 "$out/ddp.log"
$py - "$tmp" <<'PY' | tee "$out/ddp.txt"
import sys
import torch
from istvt.checkpoint import read_checkpoint
d = sys.argv[1]
def w(name):
    try:
        return read_checkpoint(f"{d}/{name}/model.pth")["state_dict"]
    except Exception as exc:
        print(name, "failed:", exc)
a = w("out1")
for name, label in (
    ("again", "the same run repeated (GPU kernels' run-to-run noise)"),
    ("out2", "2 processes fp32"),
    ("bf16", "1 process bf16"),
):
    other = w(name)
    if a and other:
        diffs = sorted(((a[k].float() - other[k].float()).abs().max().item(), k) for k in a)
        print(f"max |weight difference| 1 process fp32 vs {label}: {diffs[-1][0]:.2e} ({diffs[-1][1]})")
PY
fi
