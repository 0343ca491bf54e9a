"""The paper's published numbers (shipped as package data) and their self-consistency check (SPEC section 7)."""

from __future__ import annotations

from importlib import resources

import pandas as pd

from .metrics import final_score

# Registry names <-> the paper's method names.
METHOD_NAMES = {"original": "Original", "retrained": "Retrained", "finetune": "Fine-tuning", "cf_k": "CF-k",
                "neggrad": "NegGrad", "unsir": "UNSIR", "scrub": "SCRUB", "bad_teaching": "Bad Teaching",
                "eu_k": "EU-k", "gli": "GLI"}


def _read(name: str) -> pd.DataFrame:
    with resources.files("gli_helpers.paper_data").joinpath(name).open() as f:
        return pd.read_csv(f)


def paper_tables() -> pd.DataFrame:
    """Long format: table, architecture, task, metric, method, value, source."""
    return _read("paper_tables.csv")


def paper_distance_ablation() -> pd.DataFrame:
    """Supplementary Table 1: table, architecture, task, metric, distance, value, source."""
    return _read("paper_distance_ablation.csv")


def audit_final_scores(tol: float = 6e-4) -> pd.DataFrame:
    """Recompute every published final score from its accuracy and forgetting score.

    One row per (table, architecture, task, method or distance): published accuracy, forgetting
    score and final score, the recomputed final score, the difference, and ``consistent`` when
    they agree within ``tol`` (rounding of four-decimal cells).
    """
    rows = []
    for frame, key in ((paper_tables(), "method"), (paper_distance_ablation(), "distance")):
        wide = frame.pivot_table(index=["table", "architecture", "task", key], columns="metric", values="value")
        for idx, r in wide.iterrows():
            acc = r.get("test_acc") if pd.notna(r.get("test_acc")) else r.get("avg_test_acc")
            if pd.isna(acc) or pd.isna(r.get("forgetting_score")) or pd.isna(r.get("final_score")):
                continue
            recomputed = final_score(acc, r["forgetting_score"])
            rows.append({"table": idx[0], "architecture": idx[1], "task": idx[2], "method": idx[3],
                         "accuracy": acc, "forgetting_score": r["forgetting_score"],
                         "published_final": r["final_score"], "recomputed_final": recomputed,
                         "difference": r["final_score"] - recomputed,
                         "consistent": abs(r["final_score"] - recomputed) <= tol})
    return pd.DataFrame(rows)
