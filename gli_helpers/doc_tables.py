"""The results tables of the documents, printed from the committed CSVs under results/.

Each table is a function of the repository root that returns a Markdown table; ``TABLES`` names them, and
``python -m gli_helpers tables NAME`` prints one. A document shows a table under the comment
``<!-- table: python -m gli_helpers tables NAME -->`` (or a ``compare`` command), and tests/test_docs.py checks
that the table is what the command prints now. Spread over seeds is the sample standard deviation (ddof 1).
Ranks are among the distinct methods (GLI and the seven baselines); GLI's L1 and cosine variants are unranked.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ConfigError, DataError
from .unlearning import METHODS, method_label, method_order

REFERENCE_ROWS = ("original", "retrained")
MUFAC = Path("results") / "mufac"


def distinct(methods) -> list[str]:
    """The methods that are ranked: registry methods that are not a variant of another (GLI (L1), GLI (cosine))."""
    return [m for m in methods if m not in REFERENCE_ROWS and not (m in METHODS and METHODS[m].fixed)]


def ranks(means: pd.Series) -> pd.Series:
    """Rank 1 = the highest mean, among the distinct methods of ``means`` (index: method names)."""
    keep = distinct(means.index)
    return means[keep].rank(ascending=False, method="min").astype(int)


def _results(root: Path, protocol: str) -> pd.DataFrame:
    return pd.read_csv(root / MUFAC / protocol / "results.csv")


def _row(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _table(header, rows) -> str:
    return "\n".join([_row(header), "|---" * len(header) + "|", *(_row(r) for r in rows)]) + "\n"


def _spread(v: np.ndarray, signed: bool = False) -> str:
    v = np.asarray(v, dtype=float)
    mean = f"{v.mean():+.3f}" if signed else f"{v.mean():.3f}"
    return f"{mean} ± {v.std(ddof=1):.3f}" if len(v) > 1 else mean


# --- the verdict -------------------------------------------------------------------------------------------

VERDICT_SETTINGS = (  # (label, protocol folder, procedure, methods: the paper's eight, "field": every method on
    # the seeds where the field's current baselines all ran, or "all": every method the file holds, shown where it
    # holds at least one of the field's baselines)
    ("48 px, honest (protocol 2)", "regime", "honest", "paper"),
    ("48 px, authors' procedure (protocol 2)", "regime", "authors", "paper"),
    ("48 px, honest, with the field's baselines (protocol 2b)", "regime", "honest", "field"),
    ("48 px, authors', with the field's baselines (protocol 2b)", "regime", "authors", "field"),
    ("48 px, every method tuned (protocol 5)", "tuned", "tuned", "paper"),
    ("48 px, tuned, with the field's baselines (protocol 5)", "tuned", "tuned", "all"),
    ("128 px, honest (protocol 6)", "paper-resolution", "honest", "paper"),
    ("128 px, authors' procedure (protocol 6)", "paper-resolution", "authors", "paper"),
)
def seed_ranks(rows: pd.DataFrame, column: str, method: str = "gli") -> list[int]:
    """``method``'s rank on each seed of ``rows`` by ``column``: final scores and gains rank from the highest, gaps
    from the lowest, among the distinct methods of that seed."""
    sign = -1 if column in ("avg_gap",) else 1
    return [int(ranks(sign * of_seed.groupby("method")[column].mean())[method])
            for _, of_seed in rows.groupby("seed")]


def _rank_range(per_seed: list[int]) -> str:
    """'6-7', or '7' where every seed gives the same rank."""
    low, high = min(per_seed), max(per_seed)
    return f"{low}" if low == high else f"{low}-{high}"


def _seed_ranks(rows: pd.DataFrame, column: str) -> str:
    """'; per seed 6-7': GLI's range of ranks over the seeds, where there is more than one."""
    per_seed = seed_ranks(rows, column)
    return f"; per seed {_rank_range(per_seed)}" if len(per_seed) > 1 else ""


def verdict(root: Path) -> str:
    """GLI beside the best baseline, the Retrained and the Original model: final score per setting, and GLI's Avg
    Gap to the Retrained model with its rank (from the lowest). A rank is that of the mean over seeds, followed
    where there are several seeds by the range of GLI's ranks on the single seeds."""
    from .metrics import with_gap_scores
    from .paper import published
    from .tables import field_rows, paper_rows
    from .unlearning import FIELD_METHODS
    files = {p: with_gap_scores(_results(root, p)) for p in dict.fromkeys(p for _, p, _, _ in VERDICT_SETTINGS)}
    rows = []
    for label, protocol, procedure, scope in VERDICT_SETTINGS:
        everything = files[protocol]
        of_procedure = everything[everything.procedure == procedure]
        r = {"paper": paper_rows, "field": field_rows, "all": lambda rows: rows}[scope](of_procedure)
        field_here = sorted(set(FIELD_METHODS) & set(r.method))
        if r.empty or (scope == "all" and not field_here):  # the field's baselines not run yet
            continue
        if scope == "all" and len(field_here) < len(FIELD_METHODS):
            label = f"{label[:-1]}; {len(field_here)} of the field's {len(FIELD_METHODS)} so far)"
        if not set(REFERENCE_ROWS) <= set(r.method):  # the references: the honest rows of the same folder
            refs = everything.query("procedure == 'honest' and method in @REFERENCE_ROWS")
            r = pd.concat([r, refs[refs.seed.isin(r.seed.unique())]])
        means, seeds = r.groupby("method").final_score.mean(), r.seed.nunique()
        rank = ranks(means)
        best = rank.drop(index="gli").idxmin()
        cell = {m: _spread(r[r.method == m].final_score.to_numpy()) for m in means.index}
        gaps = r.groupby("method").avg_gap.mean()
        gap_rank = ranks(-gaps)
        rows.append([label, seeds, f"{cell['gli']} ({rank['gli']} of {len(rank)}{_seed_ranks(r, 'final_score')})",
                     f"{method_label(best)} {cell[best]}", cell["retrained"], cell["original"],
                     f"{_spread(r[r.method == 'gli'].avg_gap.to_numpy())} ({gap_rank['gli']} of {len(gap_rank)}"
                     f"{_seed_ranks(r, 'avg_gap')})"])
    from .paper import published_rows
    pub = published("mufac", "resnet18").final_score
    flagged = published_rows("mufac", "resnet18")[1]
    pub_rank = ranks(pub)
    best = pub_rank.drop(index="gli").idxmin()
    mark = "*" if best in flagged else ""
    rows.append(["the paper (published), 128 px", "-",
                 f"{pub['gli']:.3f} ({pub_rank['gli']} of {len(pub_rank)})", f"{method_label(best)} {pub[best]:.3f}{mark}",
                 f"{pub['retrained']:.3f}", f"{pub['original']:.3f}", "-"])
    return _table(["setting (MUFAC, ResNet18)", "seeds", "GLI (rank)", "best baseline", "Retrained", "Original",
                   "GLI Avg Gap (rank)"], rows)


# --- protocol 2b: the field's current baselines ------------------------------------------------------------------

def own_original(root: Path, rows: pd.DataFrame, folder: str = "regime") -> pd.Series:
    """The final score of the Original model each row started from. Protocol 2b's five ran from reference models
    trained again; where those differ from the committed ones (``export-results --references keep`` wrote their
    metrics beside as ``metrics-rerun.json``), the five's rows of that seed started from the retrained Original;
    every other row from the committed one (its row in results.csv)."""
    from .unlearning import FIELD_METHODS
    committed = rows[rows.method == "original"].groupby("seed").final_score.first()
    out = rows.seed.map(committed).astype(float)
    for seed in rows.seed.unique():
        rerun = root / MUFAC / folder / f"original-{rows.arch.iloc[0]}-seed{seed}" / "metrics-rerun.json"
        if rerun.is_file():
            at = (rows.seed == seed) & rows.method.isin(FIELD_METHODS)
            out[at] = json.loads(rerun.read_text())["metrics"]["final_score"]
    return out


def field(root: Path) -> str:
    """Protocol 2b: every distinct method on the seeds where the field's five ran, per procedure: the final score,
    its gain over the Original the method started from (its final score minus that Original's: removes the offset
    between the committed and the retrained Original of a seed) and ToW, mean ± sd over seeds, with ranks (all
    from the highest), and GLI's ranks on the single seeds."""
    from .metrics import with_gap_scores
    from .tables import field_rows
    everything = with_gap_scores(_results(root, "regime"))
    columns, order, seeds = {}, None, 0
    for procedure in ("honest", "authors"):
        r = field_rows(everything[everything.procedure == procedure])
        r = r.assign(gain=r.final_score - own_original(root, r))
        r = r[r.method.isin(distinct(r.method.unique()))]
        seeds = r.seed.nunique()
        for column, signed in (("final_score", False), ("gain", True), ("tow", False)):
            rk = ranks(r.groupby("method")[column].mean())
            order = order or sorted(rk.index, key=lambda m: rk[m])
            cells = {m: f"{_spread(r[r.method == m][column].to_numpy(), signed)} ({rk[m]})" for m in rk.index}
            cells["gli-seeds"] = _rank_range(seed_ranks(r, column))
            columns[procedure, column] = cells
    keys = [(p, c) for p in ("honest", "authors") for c in ("final_score", "gain", "tow")]
    rows = [[method_label(m), *(columns[k][m] for k in keys)] for m in order]
    rows.append(["GLI's rank on each single seed", *(columns[k]["gli-seeds"] for k in keys)])
    return _table([f"method ({seeds} seeds; rank)", "honest: final score", "honest: gain over its Original",
                   "honest: ToW", "authors': final score", "authors': gain over its Original", "authors': ToW"], rows)


# --- protocol 1: duplicates ----------------------------------------------------------------------------------

def dedup(root: Path) -> str:
    """Seed 0 on the full and the deduplicated MUFAC (protocol 1): forgetting and final score per method."""
    full = _results(root, "full").query("seed == 0").set_index("method")
    dd = _results(root, "dedup").query("seed == 0").set_index("method")
    rows = []
    for m in method_order([*full.index, *dd.index]):
        f, d = full.loc[m] if m in full.index else None, dd.loc[m] if m in dd.index else None
        def pair(col, f=f, d=d):
            return " / ".join("-" if x is None else f"{x[col]:.3f}" for x in (f, d))
        rows.append([method_label(m), pair("forgetting_score"), pair("final_score"),
                     "-" if f is None or d is None else f"{d['final_score'] - f['final_score']:+.3f}"])
    return _table(["method (seed 0)", "forgetting score: full / deduplicated", "final score: full / deduplicated",
                   "deduplicated - full"], rows)


# --- protocol 5: tuning ----------------------------------------------------------------------------------------

def tuned(root: Path) -> str:
    """Protocol 5: final score on the test protocol at the paper's and at the chosen configuration, with ranks, and
    the tuned rows' Avg Gap (lower is better) and ToW (higher is better) with their ranks."""
    from .metrics import with_gap_scores
    r = with_gap_scores(_results(root, "tuned"))
    tune = pd.read_csv(root / MUFAC / "tuned" / "tune.csv")
    scores = {p: r[r.procedure == p].groupby("method").final_score.mean() for p in ("honest", "tuned")}
    rk = {p: ranks(s) for p, s in scores.items()}
    of_tuned = r[r.procedure == "tuned"].groupby("method")
    gap, tow = of_tuned.avg_gap.mean(), of_tuned.tow.mean()
    gap_rank, tow_rank = ranks(-gap), ranks(tow)
    rows = []
    for m in sorted(rk["tuned"].index, key=lambda m: -scores["tuned"][m]):
        chosen = json.loads(tune[(tune.method == m) & tune.chosen].config.iloc[0])
        settings = ", ".join(f"{k} {_setting(v)}" for k, v in chosen.items())
        rows.append([method_label(m), f"{scores['honest'][m]:.3f} ({rk['honest'][m]})",
                     f"{scores['tuned'][m]:.3f} ({rk['tuned'][m]})", f"{scores['tuned'][m] - scores['honest'][m]:+.3f}",
                     f"{gap[m]:.3f} ({gap_rank[m]})", f"{tow[m]:.3f} ({tow_rank[m]})", settings])
    for m in REFERENCE_ROWS:
        rows.append([method_label(m), f"{scores['honest'][m]:.3f}", "", "", "", "", ""])
    return _table(["method (seed 0)", "paper configuration (rank)", "tuned (rank)", "gain", "tuned Avg Gap (rank)",
                   "tuned ToW (rank)", "chosen configuration"], rows)


def _setting(v) -> str:
    return f"{v:.2g}" if isinstance(v, float) else str(v)


# --- protocols 3 and 6: GLI batch by batch ----------------------------------------------------------------------

def _ablations(root: Path, folder: str, stored_run: bool = False) -> str:
    from .gli_ablations import markdown_table
    text = markdown_table(pd.read_csv(root / MUFAC / folder / "summary.csv"))
    if stored_run:
        text += "\n" + authors_stored_row()
    return text + "\n"


def authors_stored_row() -> str:
    """The authors' stored 128 px GLI run (paper.authors_gli_trajectory) as a row of the ablation table; its retain
    loss is the augmented retain batch's cross-entropy before the sign step, mean of the first and the last 5 batches."""
    from .paper import authors_gli_trajectory
    t = authors_gli_trajectory()
    start, last = t.iloc[0], t.iloc[-1]
    steps = t.dropna(subset=["task_loss_before"])
    loss_ratio = float((steps.task_loss_after / steps.task_loss_before).median())
    dist_ratio = float((steps.distance_after / steps.distance_before).median())
    at = t.loc[t.final_score.idxmax()]  # the checkpoint the stored run kept: its best final score
    return (f"| authors' stored run (128 px, batch {int(last.batch)}) | {start.test_acc:.3f} / {start.mia:.3f} | "
            f"{last.test_acc:.3f} / {last.mia:.3f} | (batch CE {steps.task_loss_before.head(5).mean():.2f} -> "
            f"{steps.task_loss_before.tail(5).mean():.2f}) | - | {loss_ratio:.2f} | {dist_ratio:.2f} | - | "
            f"batch {int(at.batch)} ({at.final_score:.3f}) |")


def step_ratios(root: Path) -> str:
    """The first sign step's retain-loss ratio per batch, summarised for every batch-by-batch run: > 1 means
    the step raised the perturbed batch's task loss (an adversarial step)."""
    from .paper import authors_gli_trajectory
    rows = []
    for folder, resolution in (("regime/gli-ablations", "48 px"), ("paper-resolution/gli-ablations-64", "64 px"),
                               ("paper-resolution/gli-ablations-128", "128 px")):
        t = pd.read_csv(root / MUFAC / folder / "trajectories.csv")
        for variant, g in t.groupby("variant", sort=False):
            rows.append([f"{variant}, {resolution}", *_ratio_cells(g.task_loss_after / g.task_loss_before)])
    a = authors_gli_trajectory().dropna(subset=["task_loss_before"])
    rows.append(["authors' stored run, 128 px", *_ratio_cells(a.task_loss_after / a.task_loss_before)])
    return _table(["run", "batches", "median step loss ratio", "range", "batches with ratio > 1"], rows)


def _ratio_cells(ratio: pd.Series) -> list:
    ratio = ratio.dropna()
    return [len(ratio), f"{ratio.median():.2f}", f"{ratio.min():.2f}-{ratio.max():.2f}", int((ratio > 1).sum())]


# --- protocol 6: the methods at 128 px ----------------------------------------------------------------------------

def _methods_128(root: Path, procedure: str) -> str:
    from .metrics import with_gap_scores
    r = with_gap_scores(_results(root, "paper-resolution"))
    r = r[r.procedure == procedure].set_index("method")
    rows = []
    for m in method_order(r.index):
        x = r.loc[m]
        step = ""
        if procedure == "authors" and m not in REFERENCE_ROWS:
            name = f"{m}-seed0-{procedure}.json"
            report = json.loads((root / MUFAC / "paper-resolution" / "configs" / name).read_text())["report"]
            step = f"{report['selected_step']} / {report['optimizer_steps']}"
        seconds = x.unlearn_seconds if m not in REFERENCE_ROWS else (x.retrain_seconds if m == "retrained" else 0)
        label = "GLI (the authors' loop)" if m == "gli" and procedure == "authors" else method_label(m)
        cells = [label, f"{x.test_acc:.3f}", f"{x.mia:.3f}", f"{x.forgetting_score:.3f}", f"{x.final_score:.3f}",
                 f"{x.retain_acc:.3f} / {x.forget_acc:.3f}", f"{x.forget_acc_gap:+.3f}", f"{x.mia_gap:+.3f}",
                 f"{x.avg_gap:.3f}", f"{x.tow:.3f}"]
        cells += [step] if procedure == "authors" else []
        cells.append("-" if m == "original" else f"{seconds:,.0f} s" + (" (training)" if m == "retrained" else ""))
        rows.append(cells)
    header = [f"128 px, {procedure}, seed 0", "test acc", "MIA", "forgetting score", "final score",
              "retain / forget acc", "forget acc gap", "MIA gap", "Avg Gap", "ToW"]
    header += ["step: chosen / taken"] if procedure == "authors" else []
    return _table(header + ["seconds"], rows)


# --- protocols 4 and 7: the per-example audit -----------------------------------------------------------------------

AUDIT_LABELS = {"original": "Original (no unlearning)", "retrained_vs_retrained": "Retrained vs Retrained",
                "gli-authors": "GLI, the authors' loop and selection (protocol 7)",
                "original-rerun": "Original, second training", "retrained_vs_retrained-rerun":
                "Retrained vs Retrained, second training"}


def _with_rerun(folder: Path, name: str) -> pd.DataFrame:
    """``name`` (audit.csv, audit_examples.csv) with the rows of the reference models trained a second time
    (``export-results --references keep`` writes them to ``<name>-rerun.csv``) after it, their method named
    ``<method>-rerun``."""
    table = pd.read_csv(folder / name)
    rerun = folder / name.replace(".csv", "-rerun.csv")
    if rerun.is_file():
        table = pd.concat([table, pd.read_csv(rerun).assign(method=lambda t: t.method + "-rerun")], ignore_index=True)
    return table


def audit(root: Path) -> str:
    """Protocols 4 and 7: F, the attack and the population numbers per audited method, 95% bootstrap intervals."""
    a = _with_rerun(root / MUFAC / "audit", "audit.csv")
    rows = []
    for _, x in a.iterrows():
        def interval(col, x=x):
            lo, hi = x.get(f"{col}_lo"), x.get(f"{col}_hi")
            return f"{x[col]:.3f}" + (f" [{lo:.3f}, {hi:.3f}]" if pd.notna(lo) and not x.method.startswith("original")
                                      else "")
        rows.append([AUDIT_LABELS.get(x.method, method_label(x.method)), int(x.n_models), interval("f"),
                     "" if pd.isna(x.f_half) else f"{x.f_half:.3f}", interval("attack_acc"), f"{x.attack_auc:.3f}",
                     f"{x.tpr_at_1pct_fpr:.3f}", f"{x.forgetting_score:.3f}", f"{x.retain_acc:.3f}",
                     f"{x.test_acc:.3f}"])
    return _table(["row", "N", "F", "F at N/2", "attack accuracy", "AUC", "TPR at 1% FPR",
                   "population forgetting score", "retain acc", "test acc"], rows)


def audit_faces(root: Path) -> str:
    """Protocols 4 and 7, face by face (audit_examples.csv): how many forget faces stay fully separated from
    retraining (epsilon at its cap), how many stay more confident than under retraining, and how that depends on
    how much the Original memorised each face (quarters of its confidence gap to the Retrained models). A method
    measured against the reference models of a second training (``_with_rerun``) is read with that training's
    Original: the one whose Retrained confidences equal the method's."""
    e = _with_rerun(root / MUFAC / "audit", "audit_examples.csv")
    cap = e.epsilon.max()
    originals = [e[e.method == m].set_index("example") for m in ("original", "original-rerun") if (e.method == m).any()]
    rows = []
    for method in dict.fromkeys(e.method):
        g = e[e.method == method].set_index("example")
        # the Original this method started from: the one measured against the same Retrained models
        o = next((o for o in originals if np.allclose(o.conf_reference, g.conf_reference.reindex(o.index))),
                 originals[-1] if method.endswith("-rerun") else originals[0])
        quarter = (o.conf_unlearned - o.conf_reference).rank(pct=True)
        capped, above = g.epsilon >= cap, g.conf_unlearned > g.conf_reference
        rows.append([AUDIT_LABELS.get(method, method_label(method)), f"{capped.mean():.2f}", f"{above.mean():.2f}",
                     f"{above[capped].mean():.2f}" if capped.any() else "-", f"{capped[quarter > 0.75].mean():.2f}",
                     f"{capped[quarter <= 0.25].mean():.2f}", f"{g.conf_unlearned.mean():.3f}",
                     f"{g.conf_reference.mean():.3f}"])
    return _table(["row", "share fully separated", "share more confident than retrained",
                   "of the separated: more confident", "separated, most memorised quarter",
                   "separated, least memorised quarter", "mean confidence", "mean confidence retrained"], rows)


# --- the paper's own numbers ---------------------------------------------------------------------------------------

def published_inconsistent(root: Path) -> str:
    """The published final scores that do not follow from their own accuracy and forgetting score."""
    from .paper import audit_final_scores
    a = audit_final_scores()
    bad = a[~a.consistent]
    rows = [[x.table, x.architecture, x.task, x.method, f"{x.accuracy:.4f}", f"{x.forgetting_score:.4f}",
             f"{x.published_final:.4f}", f"{x.recomputed_final:.4f}", f"{x.difference:+.4f}"] for x in bad.itertuples()]
    rows.append([f"{len(a) - len(bad)} of {len(a)} cells agree within rounding", "", "", "", "", "", "", "", ""])
    return _table(["table", "architecture", "task", "method", "accuracy", "forgetting score", "published final",
                   "recomputed", "difference"], rows)


# --- protocol 8: the controls and the relearning test ---------------------------------------------------------------

def controls(root: Path, folder: str = "controls/48") -> str:
    from .findings import control_table
    t = control_table(root / MUFAC, folder)
    gaps = [c for c in ("retain_loss_gap_last", "test_loss_gap_last", "forget_loss_gap_last") if c in t.columns]
    rows = [[r["base"], r["push"], int(r["batches"]), f"{r['mia_start']:.3f} -> {r['mia_last']:.3f}", f"{r['mia_drop']:+.3f}",
             "" if r["push"] == "forget" else f"{r['share_of_forget_drop']:.0%}", r["reading"],
             f"{r['test_acc_last']:.3f}", *(f"{r[c]:+.2f}" for c in gaps)] for _, r in t.iterrows()]
    return _table(["variant", "pushed away from", "batches", "MIA", "drop", "share of the forget drop", "reading",
                   "test acc", *(f"{c.split('_')[0]} loss gap" for c in gaps)], rows)


def relearn(root: Path, folder: str = "relearn") -> str:
    from .relearn import relearn_markdown
    return relearn_markdown(pd.read_csv(root / MUFAC / folder / "relearn.csv")) + "\n"


TABLES = {
    "verdict": verdict,
    "dedup": dedup,
    "tuned": tuned,
    "ablations-48": lambda root: _ablations(root, "regime/gli-ablations", stored_run=True),
    "ablations-64": lambda root: _ablations(root, "paper-resolution/gli-ablations-64"),
    "ablations-128": lambda root: _ablations(root, "paper-resolution/gli-ablations-128"),
    "step-ratios": step_ratios,
    "methods-128-honest": lambda root: _methods_128(root, "honest"),
    "methods-128-authors": lambda root: _methods_128(root, "authors"),
    "audit": audit,
    "audit-faces": audit_faces,
    "published-inconsistent": published_inconsistent,
    "controls-48": controls,
    "relearn-48": relearn,
    "relearn-48-lr0.001": lambda root: relearn(root, "relearn/lr0.001"),
    "field-48": field,
}


# The files of results/ that `compare --out` writes whole: path -> the command's arguments. tests/test_docs.py checks
# that each equals what its command prints; scripts/refresh_tables.py rewrites them. Protocol 2's files hold the
# paper's eight methods (and GLI's variants) as that protocol defined them; protocol 2b's rows are tabled apart.
COMMAND_FILES = {
    "results/mufac/full/comparison.md": "compare results/mufac/full/results.csv",
    "results/mufac/dedup/comparison.md": "compare results/mufac/dedup/results.csv",
    "results/mufac/regime/comparison-honest.md":
        "compare results/mufac/regime/results.csv --procedure honest --methods paper,ablation",
    "results/mufac/regime/comparison-authors.md":
        "compare results/mufac/regime/results.csv --procedure authors --methods paper,ablation",
    "results/mufac/regime/procedures.md":
        "compare results/mufac/regime/results.csv --by-procedure honest authors --methods paper,ablation",
}


def table(name: str, root: str | Path = ".") -> str:
    """The Markdown table ``name`` from the committed results under ``root`` (the repository)."""
    if name not in TABLES:
        raise ConfigError(f"unknown table {name!r}; valid: {', '.join(TABLES)}.")
    if not (Path(root) / MUFAC).is_dir():
        raise DataError(f"{Path(root) / MUFAC} is not a folder; run from the repository root or give --root.")
    return TABLES[name](Path(root))
