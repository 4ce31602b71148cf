#!/usr/bin/env bash
# The GPU check, one short script for a lent GPU machine: the benchmarks' gpu group (ViT-B-32 training
# throughput, GCL vs ClipLoss, bf16; gradient caching, batch 4096 in chunks of 512 vs 512) into $OUT/bench_gpu.md, CPU vs CUDA evaluation of one model into
# $OUT/eval_devices.{csv,json} (scripts/gpu_eval_devices.py), then the experiment with the `gpu` training preset
# (ViT-B-32 towers, 224 px, batch 512) on SynthShop data, one method at a time (results copied to $OUT after each,
# so a run cut short by a time limit keeps what finished), then the report $OUT/synthshop_gpu.{csv,md}.
# Run from the repository root. A machine with torch but without open_clip_torch, ftfy or wcwidth takes them as
# wheels from .whl/ (pip download them there first). Knobs: STEPS, WARM (warmup steps), DATA, EXP, SETX (more
# TrainConfig overrides), SKIP_BENCH, BENCH_ARGS, SKIP_EVAL_DEVICES.
set -x
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
OUT=${OUT:?set OUT to a folder for the results}
STEPS=${STEPS:-400}; WARM=${WARM:-30}; DATA=${DATA:-runs/synthshop-cpu}; EXP=${EXP:-/tmp/exp}; SETX=${SETX:-}
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH="/tmp/site:$PYTHONPATH" || exit 1
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import torch, open_clip; print('torch', torch.__version__, 'open_clip', open_clip.__version__, torch.cuda.is_available())"
[ -n "${SKIP_BENCH:-}" ] || python3 -m benchmarks --only gpu --out "$OUT/bench_gpu.md" ${BENCH_ARGS:-}
# the same model evaluated on the CPU and on CUDA (results/eval_devices_h100_tf32.md)
[ -n "${SKIP_EVAL_DEVICES:-}" ] || timeout 600 python3 scripts/gpu_eval_devices.py --out "$OUT" --preset cpu --steps 200
experiment() { python3 -m gcl_nb experiment --data "$DATA" --preset gpu --steps "$STEPS" --set warmup="$WARM" $SETX --seeds 0 --out "$EXP" "$@"; }
for method in clip gcl-linear gcl-multipos; do
  experiment --methods "$method"
  cp "$EXP/results.csv" "$EXP/per_query.csv" "$EXP/runs.jsonl" "$OUT/"
done
experiment --methods clip gcl-linear gcl-multipos --results "$OUT/synthshop_gpu"
