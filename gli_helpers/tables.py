"""Tables from results rows: mean and spread per method, the two procedures side by side with intervals and ranks
(``compare --by-procedure``), and the rows of one procedure."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import DataError
from .metrics import with_gap_scores
from .unlearning import FIELD_METHODS, PAPER_METHODS, REFERENCES, method_label, method_order


def paper_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of the paper's comparison: its eight methods, GLI's distance variants and the references."""
    return frame[frame.method.isin([*REFERENCES, *PAPER_METHODS, "gli_l1", "gli_cosine"])]


def field_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Every row of the seeds on which the field's current baselines all ran (protocol 2b); empty when none."""
    seeds = [s for s, g in frame.groupby("seed") if set(FIELD_METHODS) <= set(g.method)]
    return frame[frame.seed.isin(seeds)]


def summary_table(results: pd.DataFrame, metrics=("test_acc", "top2_acc", "forgetting_score", "final_score",
                                                  "retain_acc", "forget_acc", "unlearn_seconds")) -> pd.DataFrame:
    """Mean and sample standard deviation (ddof 1; 0 for a single seed) over seeds, one row per method, in the
    paper's order."""
    cols = [m for m in metrics if m in results and results[m].notna().any()]
    g = results.groupby("method")[cols]
    table = g.mean().join(g.std(ddof=1).fillna(0.0).add_suffix("_std"))
    table["seeds"] = results.groupby("method").size()
    return table.loc[method_order(table.index)]


def format_table(table: pd.DataFrame) -> str:
    lines = []
    metrics = [c for c in table.columns if not c.endswith("_std") and c != "seeds"]
    lines.append(f"{'method':>14} " + " ".join(f"{m:>17}" for m in metrics))
    for name, r in table.iterrows():
        cells = [f"{r[m]:.4f} ± {r[m + '_std']:.4f}" if m != "unlearn_seconds" else f"{r[m]:9.1f} ± {r[m + '_std']:.1f}"
                 for m in metrics]
        lines.append(f"{name:>14} " + " ".join(f"{c:>17}" for c in cells))
    return "\n".join(lines)


def procedure_table(results: pd.DataFrame, metric: str = "final_score", base: str = "honest",
                    other: str = "authors") -> pd.DataFrame:
    """One row per method: ``metric`` under each procedure as mean, standard deviation (ddof 1) and a 95%
    t-interval over seeds, and the gap ``other`` - ``base`` of the means (what the other procedure buys)."""
    from scipy import stats
    if "procedure" not in results.columns:
        raise DataError("these results have no procedure column; run with --procedure honest and --procedure authors.")
    rows = {}
    for (method, procedure), g in results.groupby(["method", "procedure"]):
        v = g[metric].dropna().to_numpy(dtype=float)
        half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan")
        row = rows.setdefault(method, {})
        row.update({f"{procedure} mean": v.mean(), f"{procedure} std": v.std(ddof=1) if len(v) > 1 else float("nan"),
                    f"{procedure} ci95": half, f"{procedure} seeds": len(v)})
    table = pd.DataFrame.from_dict(rows, orient="index")
    if f"{base} mean" in table and f"{other} mean" in table:
        table[f"{other} - {base}"] = table[f"{other} mean"] - table[f"{base} mean"]
    return table.loc[method_order(table.index)]


def main_procedure(frame: pd.DataFrame, prefer=("default", "honest")) -> pd.DataFrame:
    """The rows of one procedure (the first of ``prefer`` present, else the first in the file), so that tables
    and figures never average rows of different procedures; files without a procedure column are returned as they are."""
    if "procedure" not in frame.columns or frame.empty:
        return frame
    present = list(dict.fromkeys(frame.procedure.fillna("default")))
    chosen = next((p for p in prefer if p in present), present[0])
    return frame[frame.procedure.fillna("default") == chosen]


def procedure_markdown(results: pd.DataFrame, metric: str = "final_score", base: str = "honest",
                       other: str = "authors") -> str:
    """``procedure_table`` as a Markdown table: mean ± standard deviation [95% interval] per procedure, the gap,
    and each procedure's rank of the method among the distinct unlearning methods (references and GLI's distance
    variants, which are GLI with one setting pinned, are not ranked); then the Avg Gap to the Retrained model per
    procedure the same way, ranked from the lowest."""
    from .unlearning import METHODS
    results = with_gap_scores(results)
    t = procedure_table(results, metric, base, other)
    procs = [p for p in (base, other) if f"{p} mean" in t]
    methods = [m for m in t.index if m not in ("original", "retrained") and not (m in METHODS and METHODS[m].fixed)]
    ranks = {p: t.loc[methods, f"{p} mean"].rank(ascending=False, method="min") for p in procs}
    gaps = procedure_table(results, "avg_gap", base, other) if "avg_gap" in results and results.avg_gap.notna().any() \
        else None  # Avg Gap: lower is better, ranked so
    gap_ranks = {p: gaps.loc[methods, f"{p} mean"].rank(ascending=True, method="min") for p in procs} \
        if gaps is not None else {}

    def cell(t, ranks, m, p):
        mean, sd, ci, n = (t.at[m, f"{p} {k}"] for k in ("mean", "std", "ci95", "seeds"))
        if pd.isna(mean):
            return "-"
        spread = f" ± {sd:.4f} [{mean - ci:.4f}, {mean + ci:.4f}]" if n > 1 else " (1 seed)"
        rank = f" (#{int(ranks[p][m])})" if m in methods else ""
        return f"{mean:.4f}{spread}{rank}"
    gap = f"{other} - {base}"
    gap_heads = [f"{p} Avg Gap" for p in procs] if gaps is not None else []
    lines = [f"| method | {' | '.join(procs)} | {gap} |" + "".join(f" {h} |" for h in gap_heads),
             "|---" * (len(procs) + 2 + len(gap_heads)) + "|"]
    for m in t.index:
        g = t.at[m, gap] if gap in t else float("nan")
        extra = "".join(f" {cell(gaps, gap_ranks, m, p)} |" for p in procs) if gaps is not None else ""
        lines.append(f"| {method_label(m)} | " + " | ".join(cell(t, ranks, m, p) for p in procs) + f" | {g:+.4f} |"
                     + extra)
    return "\n".join(lines) + "\n"

