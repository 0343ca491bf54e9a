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


ARCH_NAMES = {"resnet18": "ResNet18", "wide_resnet50_2": "WideResNet50-2", "efficientnet_b0": "EfficientNet-B0"}
TABLE_OF_ARCH = {"resnet18": "main", "wide_resnet50_2": "S2", "efficientnet_b0": "S3"}


def paper_task(benchmark: str) -> str:
    """The paper's task name for one of our benchmarks (synthetic ones map to the real task they imitate)."""
    if benchmark.endswith("young"):
        return "MUCAC-young"
    return "MUCAC" if benchmark.endswith("mucac") else "MUFAC"


def published(benchmark: str, arch: str) -> pd.DataFrame:
    """The paper's rows for our (benchmark, arch): method x metric, with our metric names (test_acc for
    MUCAC's avg_test_acc). Table 4 (binary young) exists for ResNet18 only."""
    task = paper_task(benchmark)
    table = "S4" if task == "MUCAC-young" else TABLE_OF_ARCH.get(arch)
    t = paper_tables()
    t = t[(t.table == table) & (t.architecture == ARCH_NAMES.get(arch)) & (t.task == task)]
    t = t.assign(metric=t.metric.replace({"avg_test_acc": "test_acc"}))
    inverse = {v: k for k, v in METHOD_NAMES.items()}
    return t.assign(method=t.method.map(inverse)).pivot_table(index="method", columns="metric", values="value")


def comparison(ours: pd.DataFrame, benchmark: str, arch: str,
               metrics=("test_acc", "top2_acc", "forgetting_score", "final_score")) -> pd.DataFrame:
    """Paper beside ours (mean over seeds) and the difference, one row per method, for every metric both have."""
    paper = published(benchmark, arch)
    mine = ours.groupby("method")[[m for m in metrics if m in ours]].mean()
    rows = []
    for method in [m for m in METHOD_NAMES if m in mine.index or m in paper.index]:
        row = {"method": METHOD_NAMES[method]}
        for m in metrics:
            p = paper.at[method, m] if method in paper.index and m in paper else float("nan")
            o = mine.at[method, m] if method in mine.index and m in mine else float("nan")
            if pd.isna(p) and pd.isna(o):
                continue
            row[f"{m} paper"], row[f"{m} ours"], row[f"{m} diff"] = p, o, o - p
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")


def ordering_check(ours: pd.DataFrame, metric: str = "final_score") -> dict:
    """The paper's claim: GLI's final score is above every baseline's and above Retrained's."""
    mean = ours.groupby("method")[metric].mean()
    if "gli" not in mean:
        return {"gli_present": False}
    others = mean.drop(index=[m for m in ("gli", "gli_l1", "gli_cosine", "original") if m in mean.index])
    best_other = others.idxmax() if len(others) else None
    return {"gli_present": True, "gli": float(mean["gli"]), "best_other": best_other,
            "best_other_value": float(others.max()) if len(others) else float("nan"),
            "margin": float(mean["gli"] - others.max()) if len(others) else float("nan"),
            "gli_wins": bool(len(others) and mean["gli"] > others.max())}


def published_ablation(benchmark: str) -> pd.DataFrame:
    """Supplementary Table 1 for the benchmark's task: distance x metric (test_acc for MUCAC's avg_test_acc)."""
    t = paper_distance_ablation()
    t = t[t.task == paper_task(benchmark)]
    t = t.assign(metric=t.metric.replace({"avg_test_acc": "test_acc"}))
    return t.pivot_table(index="distance", columns="metric", values="value")
