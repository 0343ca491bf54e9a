"""The paper's published numbers (shipped as package data) and their self-consistency check (docs/METHODS.md)."""

from __future__ import annotations

from importlib import resources

import pandas as pd

from .errors import DataError
from .metrics import final_score
from .unlearning import PAPER_METHODS, REFERENCES, method_label, method_order

# Registry names <-> the paper's method names (the registry's labels of the references and main methods).
METHOD_NAMES = {m: method_label(m) for m in method_order([*REFERENCES, *PAPER_METHODS])}


def _read(name: str) -> pd.DataFrame:
    with resources.files("gli_helpers.paper_data").joinpath(name).open() as f:
        return pd.read_csv(f)


def paper_tables() -> pd.DataFrame:
    """Long format: table, architecture, task, metric, method, value, source."""
    return _read("paper_tables.csv")


def paper_distance_ablation() -> pd.DataFrame:
    """Supplementary Table 1: table, architecture, task, metric, distance, value, source."""
    return _read("paper_distance_ablation.csv")


def authors_gli_trajectory() -> pd.DataFrame:
    """The authors' stored GLI run on MUFAC (128 px), batch by batch, read from their notebook's printed outputs by
    scripts/authors_gli_trajectory.py: test and unseen accuracy, MIA, final score, the task weight, and the logit
    MSE and retain cross-entropy before/after the first sign step. Batch 0 is the Original; batch 24 was skipped
    (its forget batch was short)."""
    return _read("authors_gli_mufac_trajectory.csv")


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
    from .data.registry import get_benchmark
    return get_benchmark(benchmark).paper_task


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
    for method in method_order([*mine.index, *paper.index]):
        row = {"method": method_label(method)}
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


def published_rows(benchmark: str, arch: str) -> tuple[pd.DataFrame, set[str]]:
    """The paper's numbers for each of our result rows (method x metric, the GLI distance variants from
    supplementary Table 1), and the rows whose published final score contradicts their own accuracy and
    forgetting score."""
    task = paper_task(benchmark)
    table = "S4" if task == "MUCAC-young" else TABLE_OF_ARCH.get(arch)
    pub = published(benchmark, arch)
    bad = audit_final_scores().query("not consistent and task == @task")
    flagged = {m for m, name in METHOD_NAMES.items() if name in set(bad[bad.table == table].method)}
    if arch == "resnet18":  # Table 1 (distances) exists for ResNet18 only
        variants = published_ablation(benchmark).drop(index="l2", errors="ignore")
        pub = pd.concat([pub, variants.rename(index=lambda d: f"gli_{d}")])
        flagged |= {f"gli_{d}" for d in bad[bad.table == "S1"].method if d != "l2"}
    return pub, flagged


def choose_rows(results: pd.DataFrame, name: str, benchmark: str | None = None, arch: str | None = None,
                procedure: str | None = None, every_procedure: bool = False, methods: list[str] | None = None,
                seeds: list[int] | None = None) -> tuple[pd.DataFrame, str, str]:
    """The rows ``compare`` tables: only ``methods`` (and the reference rows) and ``seeds`` when given; one benchmark
    and architecture (named, or the only ones in the file), and one procedure (named, or the only one) unless
    ``every_procedure``; (rows, benchmark, arch). ``name`` is the file's name in the errors, which say what to
    choose."""
    if not {"benchmark", "arch"} <= set(results.columns):
        raise DataError(f"{name} has no benchmark and arch columns; give a results.csv written by "
                        "python -m gli_helpers run (or notebook 02).")
    if methods is not None:
        from .unlearning import REFERENCES
        results = results[results.method.isin([*REFERENCES, *methods])]
    if seeds is not None:
        results = results[results.seed.isin(seeds)]
    if results.empty:
        raise DataError(f"{name} holds no rows of methods {methods or 'any'} and seeds {seeds or 'any'}.")
    if "procedure" in results.columns and not every_procedure:
        procedures = sorted(set(results.procedure.fillna("default")))
        if procedure is None and len(procedures) > 1:
            raise DataError(f"{name} holds several procedures {procedures}; choose one with --procedure.")
        if procedure is not None:
            if procedure not in procedures:
                raise DataError(f"{name} holds no rows of procedure {procedure!r}; it has {procedures}.")
            results = results[results.procedure.fillna("default") == procedure]
    pairs = sorted(set(zip(results.benchmark, results.arch, strict=True)))
    chosen = [(b, a) for b, a in pairs if benchmark in (None, b) and arch in (None, a)]
    if not chosen:
        raise DataError(f"{name} holds no rows of benchmark {benchmark or 'any'} and architecture {arch or 'any'}; it "
                        f"has {pairs}: choose with --benchmark and --arch.")
    benchmark, arch = chosen[0] if len(chosen) == 1 else (benchmark, arch)
    if benchmark is None or arch is None:
        raise DataError(f"{name} holds several benchmarks/architectures {pairs}; choose with --benchmark and --arch.")
    return results[(results.benchmark == benchmark) & (results.arch == arch)], benchmark, arch


def matching_trajectories(traj: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """The trajectories of ``rows``' benchmark, architecture, methods, seeds and procedures (``choose_rows``' rows)."""
    keep = (traj.benchmark.isin(set(rows.benchmark)) & traj.arch.isin(set(rows.arch)) & traj.method.isin(set(rows.method))
            & traj.seed.isin(set(rows.seed)))
    if "procedure" in traj.columns and "procedure" in rows.columns:
        keep &= traj.procedure.fillna("default").isin(set(rows.procedure.fillna("default")))
    return traj[keep]


def comparison_markdown(results: pd.DataFrame, benchmark: str, arch: str) -> str:
    """The paper beside a results.csv (mean ± sample standard deviation over its seeds, ddof 1; 0 for one seed) as a
    Markdown table: test accuracy, top-2 (multi-class), forgetting score and final score, with our difference to the
    paper.
    Published final scores that do not follow from their own accuracy and forgetting score carry a *."""
    missing = {"benchmark", "arch", "method", "seed", "test_acc", "forgetting_score", "final_score"} - set(results.columns)
    if missing:
        raise DataError(f"these results lack the columns {sorted(missing)}; give a results.csv written by "
                        "python -m gli_helpers run (or notebook 02).")
    from .metrics import with_gap_scores
    ours = with_gap_scores(results[(results.benchmark == benchmark) & (results.arch == arch)])
    if ours.empty:
        raise DataError(f"the results hold no rows for benchmark {benchmark!r} and arch {arch!r}; "
                         f"they have {sorted(set(zip(results.benchmark, results.arch, strict=True)))}.")
    g = ours.groupby("method")
    mean, std = g.mean(numeric_only=True), g.std(ddof=1, numeric_only=True).fillna(0.0)
    metrics = [m for m in ("test_acc", "top2_acc", "forgetting_score", "final_score") if mean.get(m) is not None
               and mean[m].notna().any()]
    header = {"test_acc": "test acc (paper / ours / diff)", "top2_acc": "top-2 (paper / ours)",
              "forgetting_score": "forgetting (paper / ours / diff)", "final_score": "final score (paper / ours / diff)",
              "avg_gap": "Avg Gap (ours)", "tow": "ToW (ours)"}
    metrics += [m for m in ("avg_gap", "tow") if m in mean and mean[m].notna().any()]  # the paper reports neither
    seeds = sorted(int(s) for s in ours.seed.unique())
    lines = [f"{benchmark} / {arch} / seeds {', '.join(map(str, seeds))}: mean ± sample standard deviation over seeds",
             "", "| method | " + " | ".join(header[m] for m in metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    pub, flagged = published_rows(benchmark, arch)
    rows = method_order(mean.index)
    for method in rows:
        cells = []
        for m in metrics:
            o, s = mean.at[method, m], std.at[method, m]
            if m in ("avg_gap", "tow"):
                cells.append(f"{o:.4f} ± {s:.4f}" if pd.notna(o) else "-")
                continue
            p = pub.at[method, m] if method in pub.index and m in pub.columns else float("nan")
            mark = "*" if m == "final_score" and method in flagged else ""
            paper_cell = f"{p:.4f}{mark}" if pd.notna(p) else "-"
            diff = f" / {o - p:+.3f}" if pd.notna(p) and m != "top2_acc" else ""
            cells.append(f"{paper_cell} / {o:.4f} ± {s:.4f}{diff}")
        lines.append(f"| {method_label(method)} | " + " | ".join(cells) + " |")
    if flagged & set(rows):
        lines += ["", "\\* published final scores that do not follow from the published accuracy and forgetting "
                      "score (docs/METHODS.md, the published numbers)."]
    check = ordering_check(ours)
    if check.get("gli_present"):
        verdict = "holds" if check["gli_wins"] else "does not hold"
        lines += ["", f"The paper's claim (GLI above every baseline and Retrained) {verdict}: GLI {check['gli']:.4f}, "
                      f"best other {method_label(check['best_other'])} "
                      f"{check['best_other_value']:.4f} (margin {check['margin']:+.4f})."]
    return "\n".join(lines) + "\n"
