#!/usr/bin/env bash
# Protocol 6 of results/mufac/PROTOCOL.md: the paper's resolution (128 px, `paper` preset) on the CPU, seed 0,
# and GLI batch by batch at 64 and 128 px. Resumable at every stage: reference models resume per epoch, finished
# methods and variants are reused. Exports to results/mufac/paper-resolution/ (no checkpoints, no images).
# Usage: scripts/mufac_128.sh [STAGES]   (default: original variants retrained methods gaps)
#   original   the 128 px Original            variants  GLI batch by batch from the 128 and 64 px Originals, figure
#   retrained  the 128 px Retrained           methods   GLI honest and authors, Fine-tuning, NegGrad, SCRUB
#   gaps       the variants again with their gaps to the Retrained models (each variant reused)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
ZIP=${MUFAC_ZIP:-${GLI_MUFAC_ZIP:-data/mufac}}  # the MUFAC zip or folder
OUT=runs/mufac-128
DEST=results/mufac/paper-resolution
STAGES=${1:-original variants retrained methods gaps}
COMMON=(--benchmark mufac --root "$ZIP" --quiet)

variants() {  # $@: extra gli-ablations options
  $PY -m gli_helpers gli-ablations "${COMMON[@]}" --preset paper --out $OUT --results $DEST/gli-ablations-128 \
    --batches 40 --eval-every 1 --variants authors,honest "$@"
  $PY -m gli_helpers gli-ablations "${COMMON[@]}" --preset cpu --resolution 64 --epochs 30 \
    --set milestones=10,20 --out runs/mufac-regime-64 --results $DEST/gli-ablations-64 --batches 40 \
    --eval-every 1 --variants authors,honest "$@"
  # the figures of GLI batch by batch at 48, 64 and 128 px and of the loss gaps (results/mufac/figures/)
  $PY -c "from gli_helpers import findings; [findings.draw(n, 'results/mufac/figures') for n in ('gli_batches', 'loss_gaps')]"
}

for stage in $STAGES; do
  case $stage in
    original|retrained)
      $PY -m gli_helpers train "${COMMON[@]}" --preset paper --role $stage --seed 0 --out $OUT > "$OUT-$stage.json"
      echo "$stage done: $OUT-$stage.json" ;;
    variants)
      variants --no-retrained
      echo "variants done: $DEST/gli-ablations-128, $DEST/gli-ablations-64, results/mufac/figures/gli_batches.png" ;;
    methods)
      # the authors' procedure runs GLI as the authors' loop (quirks "authors"), the baselines under the same rule
      $PY -m gli_helpers run "${COMMON[@]}" --preset paper --methods gli,finetune,neggrad,scrub --seeds 0 \
        --procedure honest --trajectory-every 0 --out $OUT
      $PY -m gli_helpers run "${COMMON[@]}" --preset paper --methods gli,finetune,neggrad,scrub --seeds 0 \
        --procedure authors --method-config '{"gli": {"quirks": "authors"}}' --trajectory-every 0 --out $OUT
      $PY -m gli_helpers export-results $OUT $DEST > /dev/null
      echo "methods done: $DEST/results.csv" ;;
    gaps)
      variants
      echo "gaps done: $DEST/gli-ablations-128/summary.csv, $DEST/gli-ablations-64/summary.csv" ;;
    *) echo "unknown stage $stage (original, variants, retrained, methods, gaps)" >&2; exit 2 ;;
  esac
done
