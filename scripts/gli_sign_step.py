"""One GLI sign step taken apart on a trained Original model (issue: where the published GLI row comes from).

For the first retain batches of an epoch (augmented, as the authors' loaders) paired with forget batches, prints
the retain task loss and the logit distance to the forget outputs before and after one sign step at weight w0,
and the share of pixels whose sign the distance term decides, in eval mode and in train mode (the authors'
batch 1). Usage: python scripts/gli_sign_step.py RUN_DIR ZIP RESOLUTION [SEED]"""

from __future__ import annotations

import copy
import json
import sys

import torch

from gli_helpers.config import preset
from gli_helpers.data import load_benchmark
from gli_helpers.data.augment import augment
from gli_helpers.train import train_or_load
from gli_helpers.unlearning.common import epoch_batches, fetch
from gli_helpers.unlearning.gli import sign_step_diagnostics

run_dir, root, res = sys.argv[1], sys.argv[2], int(sys.argv[3])
seed = int(sys.argv[4]) if len(sys.argv) > 4 else 0
cfg = preset("cpu", "mufac", resolution=res, epochs=30, milestones=(10, 20), seed=seed)
bench = load_benchmark("mufac", root, res)
cpu = torch.device("cpu")
original, _ = train_or_load(run_dir, "original", bench, cfg, cpu, progress=False)
g = torch.Generator().manual_seed(seed)
retain = epoch_batches(len(bench.retain), 64, seed, 0)[:5]
forget = epoch_batches(len(bench.forget), 64, seed + 1, 0)[:5]
rows = []
for mode in ("eval", "train"):
    for b, (ri, fi) in enumerate(zip(retain, forget, strict=True)):
        model = copy.deepcopy(original).train(mode == "train")
        x, y = fetch(bench.retain, ri, cpu)
        xf, _ = fetch(bench.forget, fi, cpu)
        d = sign_step_diagnostics(model, augment(x, g), y, augment(xf, g), weight=200.0, alpha=0.01, task="multiclass")
        rows.append({"mode": mode, "batch": b + 1, **{k: round(v, 4) for k, v in d.items()}})
print(json.dumps(rows, indent=1))
