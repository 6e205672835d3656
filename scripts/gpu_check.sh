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
#      checkpointing, caches), the largest frames within the per-rank budget.
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
