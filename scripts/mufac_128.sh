#!/usr/bin/env bash
# Protocol 6 of results/mufac/PROTOCOL.md: the paper's resolution (128 px, `paper` preset) on the CPU, seed 0,
# then GLI batch by batch at 64 and 128 px. Resumable at every stage: reference models resume per epoch,
# finished methods and variants are reused. Exports to results/mufac/paper-resolution/ (no checkpoints, no
# images).   Usage: scripts/mufac_128.sh [STAGES]   (default: references methods ablations)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
ZIP=${MUFAC_ZIP:-${GLI_MUFAC_ZIP:-data/mufac}}  # the MUFAC zip or folder
OUT=runs/mufac-128
DEST=results/mufac/paper-resolution
STAGES=${1:-references methods ablations}
COMMON=(--benchmark mufac --root "$ZIP" --quiet)
for stage in $STAGES; do
  case $stage in
    references)
      for role in original retrained; do
        $PY -m gli_helpers train "${COMMON[@]}" --preset paper --role $role --seed 0 --out $OUT > "$OUT-$role.json"
        echo "$role done: $OUT-$role.json"
      done ;;
    methods)
      # the authors' procedure runs GLI as the authors' loop (quirks "authors"), the baselines under the same rule
      $PY -m gli_helpers run "${COMMON[@]}" --preset paper --methods gli,finetune,neggrad,scrub --seeds 0 \
        --procedure honest --trajectory-every 0 --out $OUT
      $PY -m gli_helpers run "${COMMON[@]}" --preset paper --methods gli,finetune,neggrad,scrub --seeds 0 \
        --procedure authors --method-config '{"gli": {"quirks": "authors"}}' --trajectory-every 0 --out $OUT
      $PY -m gli_helpers export-results $OUT $DEST > /dev/null
      echo "methods done: $DEST/results.csv" ;;
    ablations)
      $PY -m gli_helpers gli-ablations "${COMMON[@]}" --preset paper --out $OUT --results $DEST/gli-ablations-128 \
        --batches 40 --variants authors,honest
      $PY -m gli_helpers gli-ablations "${COMMON[@]}" --preset cpu --resolution 64 --epochs 30 \
        --set milestones=10,20 --out runs/mufac-regime-64 --results $DEST/gli-ablations-64 --batches 40 \
        --variants authors,honest
      $PY scripts/gli_resolution_figure.py $DEST/gli_resolutions.png "48 px=results/mufac/regime/gli-ablations" \
        "64 px=$DEST/gli-ablations-64" "128 px=$DEST/gli-ablations-128"
      echo "ablations done: $DEST/gli-ablations-128, $DEST/gli-ablations-64, $DEST/gli_resolutions.png" ;;
    *) echo "unknown stage $stage (references, methods, ablations)" >&2; exit 2 ;;
  esac
done
