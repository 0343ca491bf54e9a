#!/usr/bin/env bash
# Protocol 8 of results/mufac/PROTOCOL.md: GLI's controls (what it pushes away from), the authors' loop one setting at
# a time, and the relearning test. Resumable: reference models resume per epoch, finished variants and methods are
# reused. Exports to results/mufac/controls/ and results/mufac/relearn/ (no checkpoints, no images).
# Usage: scripts/mufac_controls.sh [48|128]...   (default: 48)
#   48    8a: protocol 2's 48 px seed-0 references; 12 control variants; the 13 methods relearned (honest, seed 0)
#   128   8b: protocol 6's 128 px seed-0 references (about 2.4 h + 1.7 h to train alone); 13 variants; GLI relearned
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
ZIP=${MUFAC_ZIP:-${GLI_MUFAC_ZIP:-data/mufac}}  # the MUFAC zip or folder
COMMON=(--benchmark mufac --root "$ZIP" --quiet)
R48=(--preset cpu --resolution 48 --epochs 30 --set milestones=10,20)
CONTROLS=forget,retain,nonmember,noise
ONE_AT_A_TIME=authors_bn_train,authors_batch1_eval,authors_fixed_forget,authors_no_skip,honest,honest_bn_eval,honest_batch1_train,honest_recompute_forget,honest_skip_short

for res in ${@:-48}; do
  case $res in
    48)
      for role in original retrained; do  # protocol 2's command and seed: the same models as its committed metrics
        $PY -m gli_helpers train "${COMMON[@]}" "${R48[@]}" --role $role --seed 0 --out runs/mufac-regime-48 > /dev/null
      done
      $PY -m gli_helpers gli-ablations "${COMMON[@]}" "${R48[@]}" --validation-share 0.2 --out runs/mufac-regime-48 \
        --results results/mufac/controls/48 --batches 40 --variants authors,alpha_0.04,distance_only --push-from $CONTROLS
      OUT=runs/mufac-relearn-48
      mkdir -p $OUT
      for role in original retrained; do  # the seed-0 references of protocol 2, not trained again
        [ -e "$OUT/$role-resnet18-seed0" ] || cp -r "runs/mufac-regime-48/$role-resnet18-seed0" "$OUT/"
      done
      $PY -m gli_helpers run "${COMMON[@]}" "${R48[@]}" --methods all --seeds 0 --procedure honest \
        --trajectory-every 0 --relearn-steps 100 --out $OUT
      $PY -m gli_helpers export-results $OUT results/mufac/relearn > /dev/null
      echo "8a done: results/mufac/controls/48, results/mufac/relearn" ;;
    128)
      OUT=runs/mufac-128
      for role in original retrained; do
        $PY -m gli_helpers train "${COMMON[@]}" --preset paper --role $role --seed 0 --out $OUT > "$OUT-$role.json"
      done
      $PY -m gli_helpers gli-ablations "${COMMON[@]}" --preset paper --validation-share 0.2 --out $OUT \
        --results results/mufac/controls/128 --batches 40 --variants authors --push-from $CONTROLS
      $PY -m gli_helpers gli-ablations "${COMMON[@]}" --preset paper --validation-share 0.2 --out $OUT \
        --results results/mufac/controls/128 --batches 40 --variants $ONE_AT_A_TIME
      mkdir -p runs/mufac-relearn-128
      for role in original retrained; do
        [ -e "runs/mufac-relearn-128/$role-resnet18-seed0" ] || cp -r "$OUT/$role-resnet18-seed0" runs/mufac-relearn-128/
      done
      $PY -m gli_helpers run "${COMMON[@]}" --preset paper --methods gli --seeds 0 --procedure authors \
        --method-config '{"gli": {"quirks": "authors"}}' --trajectory-every 0 --relearn-steps 100 --out runs/mufac-relearn-128
      $PY -m gli_helpers run "${COMMON[@]}" --preset paper --methods gli --seeds 0 --procedure honest \
        --trajectory-every 0 --relearn-steps 100 --out runs/mufac-relearn-128
      $PY -m gli_helpers export-results runs/mufac-relearn-128 results/mufac/relearn-128 > /dev/null
      echo "8b done: results/mufac/controls/128, results/mufac/relearn-128" ;;
    *) echo "unknown resolution $res (48 or 128)" >&2; exit 2 ;;
  esac
done
