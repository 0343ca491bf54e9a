#!/usr/bin/env bash
# Protocol 2 of results/mufac/PROTOCOL.md: every method under the honest and the authors' procedure on real
# MUFAC, in the recipe the pilot chose (runs/mufac-regime-pilot.json, from scripts/mufac_regime_pilot.sh).
# Resumable: reference models resume per epoch, finished methods are reused. After each seed the numbers are
# exported to results/mufac/regime/ (no checkpoints, no images); REFERENCES=keep keeps the committed reference rows
# when the retrained ones differ (export-results --references).   Usage: scripts/mufac_regime.sh [SEEDS]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
ZIP=${MUFAC_ZIP:-${GLI_MUFAC_ZIP:-data/mufac}}  # the MUFAC zip or folder
SEEDS=${1:-0 1 2}
mkdir -p runs
if [ ! -f runs/mufac-regime-pilot.json ]; then  # the committed decision, else the pilot (about 2 h)
  if [ -f results/mufac/regime/pilot.json ]; then cp results/mufac/regime/pilot.json runs/mufac-regime-pilot.json
  else scripts/mufac_regime_pilot.sh; fi
fi
RES=$($PY -c "import json; r=json.load(open('runs/mufac-regime-pilot.json')); print(r['chosen_resolution'] or max(r['candidates'], key=lambda k: r['candidates'][k]['original']['forgetting_score']))")
METHODS=${METHODS:-gli,gli_l1,gli_cosine,finetune,cf_k,eu_k,neggrad,unsir,scrub,bad_teaching}  # protocol 2b: the five field baselines
for seed in $SEEDS; do
  for procedure in honest authors; do
    $PY -m gli_helpers run --benchmark mufac --root "$ZIP" --preset cpu --resolution "$RES" --epochs 30 \
      --set milestones=10,20 --methods "$METHODS" --seeds "$seed" --procedure "$procedure" \
      --trajectory-every 0 --out "runs/mufac-regime-$RES" --quiet
  done
  $PY -m gli_helpers export-results "runs/mufac-regime-$RES" results/mufac/regime ${REFERENCES:+--references "$REFERENCES"} > /dev/null
  [ -f results/mufac/regime/pilot.json ] || cp runs/mufac-regime-pilot.json results/mufac/regime/pilot.json  # the committed pilot stays
  echo "seed $seed done: results/mufac/regime/results.csv"
done
