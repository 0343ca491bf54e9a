"""The authors' stored GLI run on MUFAC, batch by batch, from the printed outputs of their notebook
(Dasol-Choi/Guided_Loss_Increasing, 01_MUFAC_MultiClass/MUFAC_Age_Classification_GLI.ipynb: cell 23 evaluates the
Original, cell 26 runs the GLI loop and prints, per batch, the logit MSE and the objective before and after the
first sign step, then test accuracy, unseen accuracy, MIA, JSD and the final score).

The task weight is the notebook's linear_weight_scheduler(batch_idx, 134 batches, 200, 1000); the retain cross-
entropy before/after the first sign step follows from objective = -w * CE + MSE. Batch 0 is the Original.
Usage: python scripts/authors_gli_trajectory.py NOTEBOOK [OUT_CSV]
(default OUT_CSV: gli_helpers/paper_data/authors_gli_mufac_trajectory.csv)"""

from __future__ import annotations

import json
import re
import sys

import pandas as pd

NUM = r"(-?[0-9.]+(?:e-?[0-9]+)?)"
N_BATCHES = 134  # len(retain_dataloader_train): 8,525 retain images in batches of 64


def outputs(cell) -> str:
    return "".join("".join(o.get("text", "")) for o in cell.get("outputs", []))


def parse(nb: dict) -> pd.DataFrame:
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    loop = next(outputs(c) for c in cells if "linear_weight_scheduler(batch_idx" in "".join(c["source"]))
    original = next(outputs(c) for c in cells if "model = load_model(8, model_path)" in "".join(c["source"]))
    rows = [{"batch": 0, **_metrics(original)}]
    parts = re.split(r"Epoch: 1, Batch: (\d+)", loop)  # [losses of batch 1, 1, its metrics + losses of batch 2, ...]
    for i in range(1, len(parts), 2):
        b, before, after = int(parts[i]), parts[i - 1], parts[i + 1]
        mse = [float(v) for v in re.findall(r"loss_perturb:" + NUM, before)][-2:]
        total = [float(v) for v in re.findall(r"total_loss: " + NUM, before)][-2:]
        w = 200 + (1000 - 200) / (N_BATCHES - 1) * (b - 1)
        rows.append({"batch": b, "gli_weight": w, "distance_before": mse[0], "distance_after": mse[1],
                     "task_loss_before": (mse[0] - total[0]) / w, "task_loss_after": (mse[1] - total[1]) / w,
                     **_metrics(after.split("loss_perturb:")[0])})
    return pd.DataFrame(rows)


def _metrics(text: str) -> dict:
    acc = re.findall(r"Acc: \{'Loss': " + NUM + r", 'Acc': " + NUM, text)
    mia = re.search(r"'MIA': " + NUM, text)
    final = re.search(r"Final Score: " + NUM, text)
    out = {"test_acc": float(acc[0][1]), "unseen_acc": float(acc[1][1]), "mia": float(mia.group(1))}
    out["final_score"] = float(final.group(1)) if final else (out["test_acc"] + 1 - 2 * abs(out["mia"] - 0.5)) / 2
    return out


if __name__ == "__main__":
    table = parse(json.load(open(sys.argv[1])))
    out = sys.argv[2] if len(sys.argv) > 2 else "gli_helpers/paper_data/authors_gli_mufac_trajectory.csv"
    table.to_csv(out, index=False, float_format="%.6g")
    print(f"{len(table) - 1} batches -> {out}")
