#!/usr/bin/env bash
# The audit's scale measurement of docs/PERFORMANCE.md: synthetic MUFAC at the cpu preset, N = 16, every method,
# from an empty run folder (so every reference model is trained), timed with /usr/bin/time. Run it alone.
# Usage: scripts/audit_scale.sh [RUN_DIR]   (default runs/audit-scale; it must not exist)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${1:-runs/audit-scale}
if [ -e "$OUT" ]; then echo "$OUT exists: give a new folder (the measurement starts from nothing)" >&2; exit 2; fi
mkdir -p "$(dirname "$OUT")"
/usr/bin/time -v -o "$OUT.time" $PY -m gli_helpers audit --benchmark synthetic-mufac --root data/synthetic-mufac \
  --preset cpu --methods paper --models 16 --out "$OUT" --quiet
grep -E "Elapsed|Maximum resident" "$OUT.time"
