#!/usr/bin/env bash
# The prepared CUDA check (W8), one run on a GPU machine, about 6 minutes on an H200:
#   1. correctness on CUDA: the LoRA-off, copy and cached references give one loss under bf16
#      autocast; the workbench sampler equals diffusers' WanPipeline / WanImageToVideoPipeline;
#   2. `workbench bench memory` on the real Wan2.1-T2V-1.3B architecture (random weights,
#      UMT5-XXL-sized text encoder) at 480x832: naive against default, 80 GB budget;
#   2b. `workbench bench train-step` (W10): naive, default, cached reference and compiled
#      Reg-DPO steps of the embedded model on the GPU (about 2 minutes);
#   3. with two or more GPUs (W9): `workbench bench memory --nproc N` over NCCL, FSDP2 alone
#      against the full stack (fused pair, LoRA-off reference, Ulysses CP, activation
#      checkpointing, caches), the largest frames within the per-rank budget; and
#      `--build` (W14): each rank's host and device memory to build a sharded 1.3b full
#      fine-tune, loaded whole on every rank against built on meta and loaded after;
#   4. (W14) one NCCL rank through the real CLI with mp4 I/O: a world, a base, GT-Pairs, then
#      a bf16 full Reg-DPO fine-tune under FSDP2 on a lone torchrun worker (every collective
#      and the sharded save on NCCL), s = 0 at step 0 read back from the store;
#   5. (W14) the attention backends (native, _native_flash, _native_efficient, flash where
#      installed) on the 1.3b architecture: step time, peak memory and model FLOP utilisation
#      (FlopCounterMode FLOPs / step time / the GPU's dense bf16 peak, PEAK_TFLOPS);
#   6. (W18) the VideoReward judge at Qwen2-VL-2B's size with random weights: videos per second.
# Results land in $OUT (default ./gpu-out). Packages the machine lacks can come as wheels in
# .whl/ (diffusers, duckdb, importlib_metadata); see the README's "GPU check".
set -uo pipefail
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD" PYTHONUNBUFFERED=1
export HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 TOKENIZERS_PARALLELISM=false

{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    python3 -c "import torch, diffusers, transformers, peft; print('torch', torch.__version__,
'diffusers', diffusers.__version__, 'transformers', transformers.__version__, 'peft',
peft.__version__)"
} 2>&1 | tee "$OUT/machine.txt"

timeout 240 python3 -m pytest -q -p no:cacheprovider tests/test_preference.py \
    tests/test_wan_checkpoints.py -k "three_references or sampler_matches" >"$OUT/pytest.txt" 2>&1
grep -E "^(PASSED|FAILED|ERROR|E  )|passed|failed" "$OUT/pytest.txt" | head -n 40

# ARCH, SIZE, FRAMES, BUDGET_MB override the sizes (a dry run on a CPU: ARCH=tiny SIZE=32x32).
[ "${SKIP_BENCH:-0}" = 1 ] && exit 0
timeout 240 python3 -m workbench bench train-step --out "$OUT/train-step.json" >"$OUT/train-step.log" 2>&1
cat "$OUT/train-step.json" 2>/dev/null | python3 -c "
import json, sys
r = json.load(sys.stdin)
print('train-step s', {k: round(v, 4) for k, v in r['step_s'].items()}, 'compiled',
      r['compiled_cached_reference'], 'utilisation', round(r['utilisation'], 3))" ||
    tail -n 3 "$OUT/train-step.log"
timeout 420 python3 -m workbench bench memory --arch "${ARCH:-1.3b}" --size "${SIZE:-480x832}" \
    --frames "${FRAMES:-5,9,17,33,49,81,121}" --budget-mb "${BUDGET_MB:-80000}" --repeats 1 --max-step-s 60 \
    --out "$OUT/memory.json" 2>&1 | grep -v '^ ' | tail -n 5
cat "$OUT/memory.json" 2>/dev/null | python3 -c "
import json, sys
r = json.load(sys.stdin)
for row in r['rows']:
    print(row['setting'], row['frames'], 'oom' if row['oom'] else
          f\"{row['peak_mb'] / 1024:.1f} GiB {row['step_s']:.2f} s\")
print('largest', r['largest_frames'], 'ratio', r.get('capacity_ratio_frames'))"

# 4. One NCCL rank through the CLI (mp4 files, the store, FSDP2 in bf16, a sharded save).
H=$(mktemp -d)
W="python3 -m workbench --home $H"
{
    $W world make --n 16 && $W train --name base --steps 4 --batch-size 4 &&
        $W gtpair build --generators base --n 4 --steps 2 &&
        timeout 300 python3 -m torch.distributed.run --standalone --nproc-per-node 1 -m workbench \
            -- --home "$H" train --method regdpo --pairs gt-shapes --init base --full \
            --precision bf16 --steps 4 --batch-size 4 --checkpoint-every 2 --name nccl-one
} >"$OUT/nccl-one.log" 2>&1
echo "one NCCL rank: exit $? $(python3 -c "
from workbench.store import Store
sql = 'SELECT m.value FROM train_metrics m JOIN runs r ON r.id = m.run_id WHERE m.name = ? AND r.config->>? = ? ORDER BY m.step'
rows = Store('$H').query(sql, ['s', 'name', 'nccl-one'])
print('s per step', [r['value'] for r in rows])" 2>&1 | tail -n 1)"

# 5. Attention backends on the 1.3b architecture: time, memory, MFU.
for BACKEND in native _native_flash _native_efficient flash; do
    timeout 240 python3 -m workbench bench memory --arch "${ARCH:-1.3b}" --size "${SIZE:-480x832}" \
        --frames "${ATTN_FRAMES:-33}" --settings default --budget-mb "${BUDGET_MB:-80000}" \
        --repeats 2 --attention "$BACKEND" --flops --out "$OUT/attention-$BACKEND.json" \
        >"$OUT/attention-$BACKEND.log" 2>&1 || { echo "$BACKEND: $(grep error: "$OUT/attention-$BACKEND.log" | tail -n 1)"; continue; }
    python3 -c "
import json
r = json.load(open('$OUT/attention-$BACKEND.json'))['rows'][0]
peak = ${PEAK_TFLOPS:-989} * 1e12
print('$BACKEND', r['frames'], 'frames:', f\"{r['step_s']:.2f} s, {r['peak_mb'] / 1024:.1f} GiB,\",
      f\"MFU {r['flops_per_s'] / peak:.3f}\")"
done

# 6. (W18) VideoReward at Qwen2-VL-2B's size (random weights in the authors' layout): videos
#    per second on the GPU in bf16, batches of 4, the model loaded.
timeout 300 python3 -c "
from pathlib import Path
from evaluators.random_videoreward import save_random_videoreward
save_random_videoreward(Path('$OUT/videoreward-2b'), '2b')" >"$OUT/videoreward.log" 2>&1 &&
timeout 300 python3 -m workbench bench eval --n 8 --judges videoreward \
    --weights "$OUT/videoreward-2b" --out "$OUT/videoreward.json" >>"$OUT/videoreward.log" 2>&1 &&
python3 -c "
import json
r = json.load(open('$OUT/videoreward.json'))
print('videoreward 2b:', f\"{r['judge_videos_per_s']['videoreward']:.2f} videos/s\")" ||
    echo "videoreward: $(grep -i error "$OUT/videoreward.log" | tail -n 1)"
rm -rf "$OUT/videoreward-2b"

# 3. Several GPUs: the capacity benchmark on NCCL (NCCL refuses two ranks on one device).
GPUS=$(nvidia-smi -L | wc -l)
if [ "$GPUS" -lt 2 ]; then
    echo "bench memory --nproc: skipped, $GPUS GPU (NCCL needs one device per rank)"
    exit 0
fi
timeout 900 python3 -m workbench bench memory --nproc "$GPUS" --arch "${ARCH:-1.3b}" \
    --size "${SIZE:-480x832}" --budget-mb "${BUDGET_MB:-80000}" --max-frames "${MAX_FRAMES:-321}" \
    --max-step-s 60 --out "$OUT/memory-parallel.json" 2>&1 | grep -v '^ ' | tail -n 5
cat "$OUT/memory-parallel.json" 2>/dev/null | python3 -c "
import json, sys
r = json.load(sys.stdin)
for row in r['rows']:
    print(row['setting'], row['frames'], 'oom' if row['oom'] else
          f\"{max(row['peak_mb_per_rank']) / 1024:.1f} GiB {row['step_s']:.2f} s\")
print('largest', r['largest_frames'], 'ratio', r.get('capacity_ratio_frames'))"
timeout 600 python3 -m workbench bench memory --nproc "$GPUS" --build --arch "${ARCH:-1.3b}" \
    --out "$OUT/memory-build.json" 2>&1 | grep -v '^ ' | tail -n 5
