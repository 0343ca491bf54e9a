#!/usr/bin/env bash
# The pilot of results/mufac/PROTOCOL.md, protocol 2: find the cheapest CPU recipe in which the
# Original model memorises its training people (forgetting score >= 0.15 and forget-accuracy gap to
# Retrained >= 0.10, seed 0). Resumable: every model is reused from its run folder. Writes the
# decision to runs/mufac-regime-pilot.json and prints it.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
ZIP=${MUFAC_ZIP:-${GLI_MUFAC_ZIP:-data/mufac}}  # the MUFAC zip or folder
train() {  # resolution role
  $PY -m gli_helpers train --benchmark mufac --root "$ZIP" --preset cpu --resolution "$1" --epochs 30 \
    --set milestones=10,20 --role "$2" --seed 0 --out "runs/mufac-regime-$1" --quiet > "runs/pilot-$1-$2.json"
}
field() { $PY -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }
mkdir -p runs
chosen=""
for res in 48 64; do
  train "$res" original
  f=$(field "runs/pilot-$res-original.json" forgetting_score)
  echo "candidate ${res} px: Original forgetting score $f"
  if $PY -c "import sys; sys.exit(0 if float(sys.argv[1]) >= 0.15 else 1)" "$f"; then
    train "$res" retrained
    gap=$($PY -c "import json; o=json.load(open('runs/pilot-$res-original.json')); r=json.load(open('runs/pilot-$res-retrained.json')); print(o['forget_acc']-r['forget_acc'])")
    echo "candidate ${res} px: forget-accuracy gap to Retrained $gap"
    if $PY -c "import sys; sys.exit(0 if float(sys.argv[1]) >= 0.10 else 1)" "$gap"; then chosen=$res; break; fi
  fi
done
$PY - "$chosen" <<'PY'
import json, sys
from pathlib import Path
out = {"chosen_resolution": int(sys.argv[1]) if sys.argv[1] else None, "candidates": {}}
for p in sorted(Path("runs").glob("pilot-*-*.json")):
    _, res, role = p.stem.split("-")
    out["candidates"].setdefault(res, {})[role] = json.loads(p.read_text())
Path("runs/mufac-regime-pilot.json").write_text(json.dumps(out, indent=2))
print(json.dumps({"chosen_resolution": out["chosen_resolution"]}))
PY
