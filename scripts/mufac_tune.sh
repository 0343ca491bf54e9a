#!/usr/bin/env bash
# Protocol 5 of results/mufac/PROTOCOL.md: every method tuned with K = 8 trials on a validation split, in
# protocol 2's recipe (48 px, 30 epochs), seed 0. Protocol 2's seed-0 reference models are copied into the
# tuning folder (the validation split leaves the train split as it is; the folder checks recipe and data), so
# nothing is retrained. Resumable: finished trials and rows are reused. Exports to results/mufac/tuned/.
# METHODS=neggrad_plus,l1_sparse,random_labels,salun,ssd tunes the field's five (protocol 2b) into the same folders
# (with REFERENCES=keep where the reference models were retrained: export-results --references).
# Usage: scripts/mufac_tune.sh [EXTRA TUNE OPTIONS, e.g. --threads 2]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
ZIP=${MUFAC_ZIP:-${GLI_MUFAC_ZIP:-data/mufac}}  # the MUFAC zip or folder
SRC=runs/mufac-regime-48
OUT=runs/mufac-tuned
mkdir -p $OUT
for role in original retrained; do
  if [ ! -e "$OUT/$role-resnet18-seed0" ] && [ -f "$SRC/$role-resnet18-seed0/model.pt" ]; then
    cp -r "$SRC/$role-resnet18-seed0" "$OUT/"
  fi
done
$PY -m gli_helpers tune --benchmark mufac --root "$ZIP" --preset cpu --resolution 48 --epochs 30 \
  --set milestones=10,20 --methods "${METHODS:-paper}" --trials 8 --validation-share 0.2 --out $OUT --quiet "$@"
$PY -m gli_helpers export-results $OUT results/mufac/tuned ${REFERENCES:+--references "$REFERENCES"} > /dev/null
echo "tuning done: results/mufac/tuned/tune.csv, results/mufac/tuned/results.csv"
