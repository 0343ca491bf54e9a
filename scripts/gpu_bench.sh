#!/usr/bin/env bash
# GPU measurements for docs/PERFORMANCE.md: the paper preset at 128x128 on the synthetic benchmark
# (nothing to download). Run from the project root after `make setup`, on a machine with CUDA.
set -euo pipefail
PY=${PY:-.venv/bin/python}
DATA=${DATA:-data/synthetic-mufac-128}
[ -d "$DATA" ] || $PY -m gli_helpers make-synthetic --format mufac --out "$DATA" --image-size 128
echo "== training throughput, bf16 autocast + channels-last"
$PY -m gli_helpers bench train --root "$DATA" --resolution 128 --steps 50 --device cuda --no-reference
echo "== training throughput, fp32, contiguous"
$PY -m gli_helpers bench train --root "$DATA" --resolution 128 --steps 50 --device cuda --no-reference --no-amp --no-channels-last
echo "== GLI per batch (K=2), forget logits once vs every step"
$PY -m gli_helpers bench gli --root "$DATA" --resolution 128 --k 2 --steps 20 --device cuda
echo "== the notebook suite at the paper preset (1 seed)"
start=$(date +%s)
$PY -m gli_helpers reproduce --root "$DATA" --preset paper --seeds 0 --out runs/gpu-paper --quiet > /dev/null
echo "suite wall time: $(( $(date +%s) - start )) s"
