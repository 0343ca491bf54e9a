"""The real-MUFAC findings, from the committed result files alone (no dataset, no model): one function per
finding, each returning a ``Finding`` (its question, the figure that answers it, a sentence whose numbers are
computed from the files, and the table behind it). Notebook 08 calls them one by one; ``draw_all`` writes every
figure (``make mufac-figures`` into results/mufac/figures/). ``root`` is the results folder (default
results/mufac/ of this project); each protocol's sub-folder is described in its PROTOCOL.md.

Conventions: spreads are sample standard deviations (ddof 1) and intervals 95% t-intervals over seeds; ranks are
among the distinct methods (GLI and the seven baselines), GLI's distance variants (L1, cosine) listed apart."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import plots
from .errors import DataError
from .paper import authors_gli_trajectory, published_rows
from .tables import field_rows, paper_rows
from .unlearning import REFERENCES, distinct_methods, method_label, method_order


@dataclass
class Finding:
    name: str  # the figure's file stem
    question: str
    figure: object  # a matplotlib Figure
    sentence: str
    table: pd.DataFrame = field(default_factory=pd.DataFrame)


def results_root(root=None) -> Path:
    if root is not None:
        return Path(root)
    from .notebook import project_root
    return project_root() / "results" / "mufac"


def _csv(root, rel: str) -> pd.DataFrame:
    path = results_root(root) / rel
    if not path.is_file():
        raise DataError(f"{path} does not exist: the findings read the committed results/mufac/ folders "
                        f"(see results/mufac/PROTOCOL.md for the run that writes {rel}).")
    return pd.read_csv(path)


def _json(root, rel: str) -> dict:
    path = results_root(root) / rel
    if not path.is_file():
        raise DataError(f"{path} does not exist (see results/mufac/PROTOCOL.md for the run that writes it).")
    return json.loads(path.read_text())


def _ci(values) -> str:
    mean, half, n = plots.t_interval(values)
    return f"{mean:.3f} [{mean - half:.3f}, {mean + half:.3f}]" if n > 1 else f"{mean:.3f} (1 seed)"


def _join(values, fmt: str) -> str:
    return ", ".join(format(float(v), fmt) for v in values)


def _train_config(results: pd.DataFrame) -> dict:
    for text in results[results.method == "original"].method_config.dropna():
        return json.loads(text)
    return {}


def published_final_scores() -> dict:
    """The paper's MUFAC / ResNet18 final scores per method (main table; Table 1 for the GLI distances)."""
    pub, _ = published_rows("mufac", "resnet18")
    return pub["final_score"].dropna().to_dict()


def ranks(means: pd.Series) -> pd.Series:
    """Rank (1 = highest) among the distinct methods (the registry's, without variants); other rows get no rank."""
    distinct = means[[m for m in means.index if m in distinct_methods()]]
    return distinct.rank(ascending=False, method="min").astype(int)


# ---------------------------------------------------------------------------------------------------- memorisation

def reference_models(root=None) -> pd.DataFrame:
    """The Original and Retrained models of every protocol, one row per protocol, seed and role: forgetting
    score, MIA, test, retain and forget accuracy, the resolution and epochs of their recipe."""
    rows = []
    for folder, protocol in (("full", "protocol 1"), ("dedup", "protocol 1, deduplicated"), ("regime", "protocol 2"),
                             ("paper-resolution", "protocol 6")):
        r = _csv(root, f"{folder}/results.csv")
        if "procedure" in r:
            r = r[r.procedure == r.procedure.iloc[0]]
        cfg = _train_config(r)
        for _, x in r[r.method.isin(list(REFERENCES))].iterrows():
            rows.append({"folder": folder, "protocol": protocol, "resolution": cfg.get("resolution"),
                         "epochs": cfg.get("epochs"), "seed": int(x.seed), "role": x.method,
                         **{k: x[k] for k in ("forgetting_score", "mia", "test_acc", "retain_acc", "forget_acc")}})
    record = _json(root, "paper-resolution/gli-ablations-64/configs/authors.json")  # the 64 px pair
    for role in REFERENCES:
        m = record[f"{role}_metrics"]
        rows.append({"folder": "paper-resolution/gli-ablations-64", "protocol": "protocol 6",
                     "resolution": record["train_config"]["resolution"], "epochs": record["train_config"]["epochs"],
                     "seed": int(record["train_config"]["seed"]), "role": role,
                     **{k: m[k] for k in ("forgetting_score", "mia", "test_acc", "retain_acc", "forget_acc")}})
    t = pd.DataFrame(rows)
    t["setting"] = [f"{r} px" + (" deduplicated" if "dedup" in p else "") + f"\n{e} epochs\n{p.split(',')[0]}"
                    for r, e, p in zip(t.resolution, t.epochs, t.protocol, strict=True)]
    return t.sort_values(["resolution"], kind="stable").reset_index(drop=True)


# results/mufac/PROTOCOL.md, protocol 2: the regime in which the Original memorises (its forgetting score, and its
# forget-accuracy gap to the Retrained model of the same recipe)
MEMORISATION_BAR = (0.15, 0.10)


def memorisation(root=None) -> Finding:
    refs = reference_models(root)
    wide = refs.pivot_table(index=["setting", "resolution", "seed"], columns="role",
                            values=["forgetting_score", "forget_acc", "retain_acc"]).reset_index()
    gaps = pd.DataFrame({"setting": wide["setting"], "resolution": wide["resolution"], "seed": wide["seed"],
                         "forget_acc_gap": wide[("forget_acc", "original")] - wide[("forget_acc", "retrained")],
                         "retain_acc_gap": wide[("retain_acc", "original")] - wide[("retain_acc", "retrained")]})
    order = list(dict.fromkeys(refs.setting))
    pub = published_rows("mufac", "resnet18")[0]
    plots.use_style()
    fig, axes = plots.plt.subplots(1, 2, figsize=(13, 4.8))
    styles = {"original": {"color": plots.ORIGINAL_COLOR, "label": "Original"},
              "retrained": {"color": "white", "edge": "black", "hatch": "//", "label": "Retrained"}}
    plots.grouped_bars(axes[0], refs, "setting", "role", "forgetting_score", styles, order, ["original", "retrained"],
                       points="seed")
    for role, ls in (("original", plots.STYLES["original"].ls), ("retrained", plots.STYLES["retrained"].ls)):
        axes[0].axhline(pub.at[role, "forgetting_score"], color=plots.STYLES[role].color, ls=ls, lw=1.3,
                        label=f"the paper's {method_label(role)} (128 px): {pub.at[role, 'forgetting_score']:.4f}")
    axes[0].set(ylabel=plots.METRIC_LABELS["forgetting_score"], title="How far the MIA is from chance")
    long = gaps.melt(id_vars=["setting", "seed"], value_vars=["forget_acc_gap", "retain_acc_gap"], var_name="gap")
    plots.grouped_bars(axes[1], long, "setting", "gap", "value",
                       {"forget_acc_gap": {"color": plots.OKABE_ITO["purple"], "label": "forget accuracy gap"},
                        "retain_acc_gap": {"color": plots.OKABE_ITO["green"], "hatch": "..", "label":
                                           "retain accuracy gap"}}, order, points="seed")
    axes[1].set(ylabel="Original - Retrained", title="What the Original knows of the forget faces that retraining does not")
    for ax in axes:
        ax.tick_params(axis="x", labelsize=8)
        ax.legend(fontsize=8, loc="upper left")
    plots._finish(fig, "MUFAC, ResNet18, every protocol's reference models: does the Original memorise its training "
                  "faces?\n(bars: mean over seeds; dots: the seeds; whiskers: 95% t-interval where there are several)")
    og = refs[refs.role == "original"].groupby("setting", sort=False).forgetting_score
    g = gaps.groupby("setting", sort=False)
    meets = {s: og.get_group(s).mean() >= MEMORISATION_BAR[0] and g.get_group(s).forget_acc_gap.mean() >= MEMORISATION_BAR[1]
             for s in order}
    met = [s.split(chr(10))[0] for s in order if meets[s]]
    unmet = [s.split(chr(10))[0] for s in order if not meets[s]]
    parts = [f"{s.split(chr(10))[0]}: forgetting score {_ci(og.get_group(s))}, forget-accuracy gap "
             f"{_ci(g.get_group(s).forget_acc_gap)} (retain gap {g.get_group(s).retain_acc_gap.mean():+.3f})"
             for s in order]
    sentence = ("The Original's forgetting score and its forget-accuracy gap to the Retrained model, per protocol: "
                + "; ".join(parts) + f". The paper's Original: forgetting score {pub.at['original', 'forgetting_score']:.4f}. "
                f"Protocol 2's bar (forgetting score >= {MEMORISATION_BAR[0]}, forget-accuracy gap >= "
                f"{MEMORISATION_BAR[1]}) is met at: {' / '.join(met) or 'none'}; not at: {' / '.join(unmet) or 'none'}.")
    table = gaps.groupby("setting", sort=False)[["forget_acc_gap", "retain_acc_gap"]].mean().join(
        og.mean().rename("original_forgetting_score")).join(
        refs[refs.role == "retrained"].groupby("setting", sort=False).forgetting_score.mean().rename(
            "retrained_forgetting_score"))
    table.index = [s.replace("\n", " ") for s in table.index]
    return Finding("memorisation", "Does the Original memorise its training faces, and in which protocol?", fig, sentence,
                   table)


# ---------------------------------------------------------------------------------------------------- final scores

PROCEDURE_NAMES = {"honest": "honest procedure", "authors": "authors' procedure", "no selection": "paper's configuration "
                   "without checkpoint selection"}


def _procedure_sentence(r: pd.DataFrame, procedure: str, pub: dict) -> tuple[str, pd.DataFrame]:
    rows = r[r.procedure == procedure]
    means = rows.groupby("method").final_score.mean()
    rk = ranks(means)
    n_distinct = len(rk)
    best = rk.idxmin()
    variants = ", ".join(f"{method_label(v)} {means[v]:.3f}" for v in ("gli_l1", "gli_cosine") if v in means)
    variants = f" (its distance variants, not ranked: {variants})" if variants else ""
    ref = {m: _ci(rows[rows.method == m].final_score) for m in REFERENCES if m in means}
    text = (f"under the {PROCEDURE_NAMES.get(procedure, procedure)} GLI scores {_ci(rows[rows.method == 'gli'].final_score)}, "
            f"rank {rk['gli']} of {n_distinct} distinct methods{variants}; the best is "
            f"{method_label(best)} {_ci(rows[rows.method == best].final_score)}; Original {ref.get('original')}, "
            f"Retrained {ref.get('retrained')}")
    table = pd.DataFrame({"mean": means, "rank": rk}).loc[method_order(means.index)]
    table.insert(0, "procedure", procedure)
    return text, table


def final_scores(root=None, folder: str = "regime", name: str = "final_scores") -> Finding:
    r = paper_rows(_csv(root, f"{folder}/results.csv"))  # protocol 2 as defined; 2b is drawn by field_baselines
    pub = published_final_scores()
    procs = [p for p in ("honest", "authors") if p in set(r.procedure)]
    title = f"{plots.describe(r, ' vs '.join(procs) + (' procedures' if len(procs) > 1 else ''))}: final score per method"
    fig = plots.procedure_plot(r, "final_score", title=title, procedures=procs, published=pub)
    texts, tables = zip(*(_procedure_sentence(r, p, pub) for p in procs), strict=True)
    authors = r[(r.procedure == procs[-1]) & (r.method == "gli")].final_score
    mean, half, n = plots.t_interval(authors)
    sd = authors.std(ddof=1) if n > 1 else float("nan")
    away = (f"; the published GLI score {pub['gli']:.4f} lies {(pub['gli'] - mean) / sd:.0f} standard deviations "
            f"from the {PROCEDURE_NAMES[procs[-1]]}'s mean, {'inside' if abs(pub['gli'] - mean) <= half else 'outside'} "
            "its 95% interval"
            if n > 1 else f"; the published GLI score is {pub['gli']:.4f}")
    sentence = f"{plots.describe(r, '')}: " + "; ".join(texts) + away + "."
    return Finding(name, "Does GLI rank first, under the honest and under the authors' procedure?", fig, sentence,
                   pd.concat(tables))


def field_baselines(root=None) -> Finding:
    """Protocol 2b: every method, on the seeds where the field's five current baselines ran, under both procedures;
    final score by figure, and GLI's ranks by final score and by Avg Gap in the sentence."""
    from .metrics import with_gap_scores
    r = field_rows(with_gap_scores(_csv(root, "regime/results.csv")))
    if r.empty:
        raise DataError("results/mufac/regime/results.csv holds no seed on which the field's baselines ran "
                        "(protocol 2b); run make mufac-regime-field first.")
    procs = [p for p in ("honest", "authors") if p in set(r.procedure)]
    title = (f"{plots.describe(r, ' vs '.join(procs) + ' procedures')}: final score, the paper's methods and the "
             "field's current baselines")
    fig = plots.procedure_plot(r, "final_score", title=title, procedures=procs, published=published_final_scores())
    texts, tables = [], []
    for p in procs:
        rows = r[r.procedure == p]
        score, gap = rows.groupby("method").final_score.mean(), rows.groupby("method").avg_gap.mean()
        rk, gap_rk = ranks(score), ranks(-gap[[m for m in gap.index if m in score.index]])
        best, best_gap = rk.idxmin(), gap_rk.idxmin()
        texts.append(f"under the {PROCEDURE_NAMES.get(p, p)} GLI ranks {rk['gli']} of {len(rk)} by final score "
                     f"({score['gli']:.3f}; best {method_label(best)} {score[best]:.3f}) and {gap_rk['gli']} of "
                     f"{len(gap_rk)} by Avg Gap ({gap['gli']:.3f}; best {method_label(best_gap)} {gap[best_gap]:.3f})")
        table = pd.DataFrame({"final_score": score, "rank": rk, "avg_gap": gap, "avg_gap_rank": gap_rk}).loc[
            method_order(score.index)]
        table.insert(0, "procedure", p)
        tables.append(table)
    sentence = f"{plots.describe(r, '')}: " + "; ".join(texts) + "."
    return Finding("field_baselines", "Does GLI beat the field's current baselines (SalUn, SSD, Random Labels, "
                   "NegGrad+, l1-sparse)?", fig, sentence, pd.concat(tables))


def final_scores_32px(root=None) -> Finding:
    """Protocol 1 (32 px, 15 epochs, no selection, clean batches): the run in which the Original barely memorises."""
    r = _csv(root, "full/results.csv").assign(procedure="no selection")
    pub = published_final_scores()
    title = (f"{plots.describe(r.drop(columns=['procedure']))}, no checkpoint selection: final score per method "
             "(protocol 1)")
    fig = plots.procedure_plot(r, "final_score", title=title, published=pub)
    text, table = _procedure_sentence(r, "no selection", pub)
    return Finding("final_scores_32px", "At 32 px, where the Original barely memorises, how do the methods rank?", fig,
                   f"{plots.describe(r, '')}: {text}.", table)


def final_scores_128px(root=None) -> Finding:
    """Protocol 6's methods at 128 px (seed 0), under both procedures."""
    f = final_scores(root, "paper-resolution", "final_scores_128px")
    f.question = "At the paper's 128 px, which methods come near retraining under each procedure?"
    r = _csv(root, "paper-resolution/results.csv")
    a = r[r.procedure == "authors"].set_index("method")
    above = [m for m in a.index if m not in REFERENCES and a.at[m, "final_score"] > a.at["retrained", "final_score"]]
    if above:
        f.sentence += (" Under the authors' procedure " + ", ".join(
            f"{method_label(m)} ({a.at[m, 'final_score']:.3f}, retain accuracy {a.at[m, 'retain_acc']:.3f})" for m in above)
            + f" scores above the Retrained model ({a.at['retrained', 'final_score']:.3f}, retain accuracy "
            f"{a.at['retrained', 'retain_acc']:.3f}).")
    return f


# ---------------------------------------------------------------------------------------------------- tuning

def tuning(root=None) -> Finding:
    r = _csv(root, "tuned/results.csv")
    tune = _csv(root, "tuned/tune.csv")
    paper = r[r.procedure == "honest"].set_index("method").final_score
    tuned = r[r.procedure == "tuned"].set_index("method").final_score
    methods = [m for m in method_order(tuned.index) if m not in REFERENCES]
    plots.use_style()
    fig, axes = plots.plt.subplots(1, 2, figsize=(13.5, 4.8))
    for i, m in enumerate(methods):  # every trial's validation score
        t = tune[tune.method == m]
        st = plots.method_style(m)
        axes[0].scatter(np.full(len(t), i) + np.linspace(-0.15, 0.15, len(t)), t.validation_score, s=18,
                        facecolors="none", edgecolors=st.color, lw=1)
        for mask, marker, size in ((t.paper_config, "s", 70), (t.chosen, "*", 160)):
            axes[0].scatter([i] * int(mask.sum()), t.validation_score[mask], marker=marker, s=size, color=st.color,
                            edgecolor="black", lw=0.6, zorder=5)
    axes[0].set_xticks(range(len(methods)), [method_label(m) for m in methods], rotation=30, ha="right")
    axes[0].set(ylabel="final score on the validation split", title=f"{tune.groupby('method').size().max()} trials per "
                "method (validation split: 20% of the test families)")
    h0 = [plots.Line2D([], [], ls="none", marker="o", mfc="none", mec="#444444", label="left: one trial"),
          plots.Line2D([], [], ls="none", marker="s", color="#444444", mec="black", label="left: the paper's configuration"),
          plots.Line2D([], [], ls="none", marker="*", ms=11, color="#444444", mec="black", label="left: chosen")]
    h1 = plots.dumbbell(axes[1], methods, paper.to_dict(), tuned.to_dict(), "right: the paper's configuration",
                        "right: tuned")
    refs = {m: [paper[m]] for m in REFERENCES if m in paper}
    h1 += plots.reference_lines(axes[1], refs, band=False)
    axes[1].set(ylabel="final score on the other 80% of the test families", title="Test protocol: paper -> tuned")
    plots._finish(fig, f"{plots.describe(r.drop(columns=['procedure']))}: every method tuned with the same budget "
                  "(protocol 5)", h0 + h1, ncol=4)
    rp, rt = ranks(paper.drop(list(REFERENCES), errors="ignore")), ranks(tuned.drop(list(REFERENCES), errors="ignore"))
    gain = (tuned - paper).drop(list(REFERENCES), errors="ignore").sort_values(ascending=False)
    sentence = (f"With {tune.groupby('method').size().max()} trials each, GLI ranks {rp['gli']} of {len(rp)} at the paper's "
                f"configuration ({paper['gli']:.3f}) and {rt['gli']} of {len(rt)} tuned ({tuned['gli']:.3f}); the largest "
                f"gains are {method_label(gain.index[0])} ({gain.iloc[0]:+.3f}) and {method_label(gain.index[1])} "
                f"({gain.iloc[1]:+.3f}); tuned, the best is {method_label(rt.idxmin())} ({tuned[rt.idxmin()]:.3f}) against "
                f"the Retrained model's {paper['retrained']:.3f} and the Original's {paper['original']:.3f} (seed 0, "
                "one run per configuration).")
    table = pd.DataFrame({"paper_config": paper, "paper_rank": rp, "tuned": tuned, "tuned_rank": rt,
                          "gain": tuned - paper}).loc[method_order(paper.index)]
    return Finding("tuning", "What does tuning every method with the same budget change?", fig, sentence, table)


# ---------------------------------------------------------------------------------------------------- GLI batch by batch

RESOLUTION_SOURCES = {"48 px": "regime/gli-ablations", "64 px": "paper-resolution/gli-ablations-64",
                      "128 px": "paper-resolution/gli-ablations-128"}
RESOLUTION_VARIANTS = ("authors", "honest")


def combined(sources: dict, variants=RESOLUTION_VARIANTS) -> pd.DataFrame:
    """The ``variants``' trajectories of every source folder (label -> folder holding trajectories.csv), each
    variant renamed "<variant>, <label>"."""
    frames = []
    for lab, folder in sources.items():
        path = Path(folder) / "trajectories.csv"
        if not path.is_file():
            raise DataError(f"{path} does not exist: run `python -m gli_helpers gli-ablations ... --results {folder}` "
                            f"for {lab} first.")
        t = pd.read_csv(path)
        t = t[t.variant.isin(variants)].copy()
        if t.empty:
            raise DataError(f"{path} holds none of the variants {', '.join(variants)}.")
        t["variant"] = t.variant + ", " + lab
        frames.append(t)
    return pd.concat(frames, ignore_index=True)


def resolution_runs(sources: dict) -> dict:
    """label -> {"traj", "retrained", "record"} for ``gli_resolution_plot``: each folder's trajectories and the
    Retrained model's metrics its configurations hold (None when it was not trained)."""
    runs = {}
    combined(sources)  # the same checks and messages
    for lab, folder in sources.items():
        folder = Path(folder)
        traj = pd.read_csv(folder / "trajectories.csv")
        record_path = folder / "configs" / "authors.json"
        record = json.loads(record_path.read_text()) if record_path.is_file() else {}
        runs[lab] = {"traj": traj[traj.variant.isin(RESOLUTION_VARIANTS)], "retrained": record.get("retrained_metrics"),
                     "record": record}
    return runs


def resolution_figure(sources: dict, title: str | None = None):
    """GLI batch by batch at each source's resolution beside the authors' stored run, the Retrained target and the
    published GLI final score."""
    runs = resolution_runs(sources)
    labelled = {}
    for lab, run in runs.items():
        rec = run["record"]
        m = rec.get("original_metrics", {})
        head = f"{lab} Original" + (f" (test {m['test_acc']:.3f}, MIA {m['mia']:.3f})" if m else "")
        labelled[head] = run
    if title is None:
        rec = next(iter(runs.values()))["record"]
        mc = rec.get("method_config", {})
        seeds = {r["record"].get("train_config", {}).get("seed") for r in runs.values()}
        what = f"alpha {mc['alpha']:g}, K {mc['perturbation_steps']}, " if mc else ""
        title = (f"MUFAC, ResNet18, {plots.seeds_text([s for s in seeds if s is not None])}: GLI batch by batch "
                 f"({what}no selection) at {', '.join(runs)}")
    return plots.gli_resolution_plot(labelled, authors_gli_trajectory(), published=published_final_scores()["gli"],
                                     title=title)


def _sources(root) -> dict:
    base = results_root(root)
    return {lab: base / rel for lab, rel in RESOLUTION_SOURCES.items()}


def gli_batches(root=None) -> Finding:
    runs = resolution_runs(_sources(root))
    fig = resolution_figure(_sources(root))
    stored = authors_gli_trajectory()
    rows = []
    for lab, run in runs.items():
        t = run["traj"]
        for v in RESOLUTION_VARIANTS:
            d = t[t.variant == v].sort_values("step")
            if d.empty:
                continue
            last, peak = d.iloc[-1], d.loc[d.final_score.idxmax()]
            rows.append({"resolution": lab, "variant": v, "batches": int(last.step), "mia_start": d.mia.iloc[0],
                         "mia_last": last.mia, "test_acc_last": last.test_acc, "final_score_last": last.final_score,
                         "final_score_peak": peak.final_score, "peak_batch": int(peak.step),
                         "retrained_mia": (run["retrained"] or {}).get("mia", np.nan)})
    table = pd.DataFrame(rows)
    a = table[table.variant == "authors"].set_index("resolution")
    h = table[table.variant == "honest"].set_index("resolution")
    last_stored = stored.dropna(subset=["mia"]).iloc[-1]
    best = a.final_score_peak.idxmax()
    pub = published_final_scores()["gli"]
    reached = "reaches" if a.at[best, "final_score_peak"] >= pub else "stays below"
    sentence = (f"After {int(a.batches.iloc[0])} batches the authors' loop takes the MIA from "
                + ", ".join(f"{a.at[r, 'mia_start']:.3f} to {a.at[r, 'mia_last']:.3f} ({r})" for r in a.index)
                + f" (the Retrained models: {_join(a.retrained_mia, '.3f')}; the authors' stored run ends at "
                f"{last_stored.mia:.3f}, batch {int(last_stored.batch)}); the package's honest GLI ends at "
                f"{_join(h.mia_last, '.3f')}. The authors' loop's final score peaks at {a.at[best, 'final_score_peak']:.3f} "
                f"({best}, batch {a.at[best, 'peak_batch']}), which {reached} the published {pub:.4f}.")
    return Finding("gli_batches", "Batch by batch, where does the authors' GLI loop take the MIA, and at which resolution?",
                   fig, sentence, table)


def gli_variants(root=None) -> Finding:
    """Protocol 3: the GLI variants from the 48 px Original (alpha doses, objectives, batch 1's mode)."""
    folder = results_root(root) / "regime" / "gli-ablations"
    traj = _csv(root, "regime/gli-ablations/trajectories.csv")
    summary = _csv(root, "regime/gli-ablations/summary.csv")
    record = _json(root, "regime/gli-ablations/configs/authors.json")
    res = record["train_config"]["resolution"]
    title = (f"MUFAC, ResNet18, {res} px Original, seed {record['train_config']['seed']}: GLI variants batch by batch, "
             "no selection (protocol 3)")
    fig = plots.gli_ablation_plot(traj, authors_gli_trajectory(), ("test_acc", "mia", "task_loss_before",
                                  "distance_ratio"), retrained=record.get("retrained_metrics"), title=title)
    s = summary.set_index("variant")
    doses = [v for v in ("authors", "alpha_0.02", "alpha_0.04") if v in s.index]
    alphas = {v: json.loads((folder / "configs" / f"{v}.json").read_text())["method_config"]["alpha"] for v in doses}
    sentence = (f"At {res} px, after {int(s.batches.iloc[0])} batches, the MIA is "
                + ", ".join(f"{s.at[v, 'mia_last']:.3f} at alpha {alphas[v]:g}" for v in doses)
                + " and test accuracy " + ", ".join(f"{s.at[v, 'test_acc_last']:.3f}" for v in doses)
                + f"; the median step loss ratio is {_join(s.loc[doses, 'step_loss_ratio'], '.2f')}; "
                f"the package's honest GLI ends at MIA {s.at['honest', 'mia_last']:.3f}, the Retrained model is at "
                f"{record['retrained_metrics']['mia']:.3f}.")
    return Finding("gli_variants", f"At {res} px, which ingredient of the authors' loop moves the MIA?", fig, sentence,
                   summary[["variant", "selected_step", "step_loss_ratio", "distance_ratio", "mia_start", "mia_last",
                            "test_acc_last", "final_score_selected"]])


# ---------------------------------------------------------------------------------------------------- loss inflation

SPLITS = ("retain", "forget", "test", "unseen")
INFLATION = 0.1  # a loss gap to the Retrained model above this on a split counts as overshooting it


def loss_gap_table(root=None) -> pd.DataFrame:
    """Per resolution and model (the Original = batch 0, each variant after its last batch): each split's mean loss
    minus the Retrained model's (nan where the Retrained model's loss on that split was not recorded)."""
    rows = []
    for lab, run in resolution_runs(_sources(root)).items():
        ret = run["retrained"] or {}
        t = run["traj"]
        start = t[t.step == 0].iloc[0]
        ends = {"original": start, **{v: t[t.variant == v].sort_values("step").iloc[-1] for v in RESOLUTION_VARIANTS
                                      if (t.variant == v).any()}}
        for model, x in ends.items():
            for split in SPLITS:
                ref = ret.get(f"{split}_loss")
                rows.append({"resolution": lab, "model": model, "split": split,
                             "batches": int(x.step), "loss": x[f"{split}_loss"], "retrained_loss": ref,
                             "gap": x[f"{split}_loss"] - ref if ref is not None else np.nan})
    return pd.DataFrame(rows)


def loss_gaps(root=None) -> Finding:
    t = loss_gap_table(root)
    resolutions = list(dict.fromkeys(t.resolution))
    plots.use_style()
    fig, axes = plots.plt.subplots(1, len(resolutions), figsize=(4.6 * len(resolutions), 4.3), sharey=True)
    styles = {"original": {"color": plots.ORIGINAL_COLOR, "label": "Original (batch 0)"},
              "honest": {"color": "white", "edge": plots.GLI_COLOR, "hatch": "///", "label": "GLI, the package's (honest)"},
              "authors": {"color": plots.GLI_COLOR, "label": "GLI, the authors' loop"}}
    for ax, res in zip(np.atleast_1d(axes), resolutions, strict=True):
        plots.grouped_bars(ax, t[t.resolution == res], "split", "model", "gap", styles, list(SPLITS),
                           ["original", "honest", "authors"])
        batches = int(t[(t.resolution == res) & (t.model != "original")].batches.max())
        ax.set(title=f"{res}: after {batches} batches", xlabel="split")
    np.atleast_1d(axes)[0].set_ylabel("mean loss minus the Retrained model's")
    handles = [plots.Patch(facecolor=s["color"], edgecolor=s.get("edge", "white"), hatch=s.get("hatch", ""),
                           label=s["label"]) for s in styles.values()]
    handles.append(plots.Line2D([], [], color=plots.BASELINE_COLOR, lw=0.8, label="0: the Retrained model's loss (the target); "
                                "n/a: not recorded for that Retrained model"))
    plots._finish(fig, "MUFAC, ResNet18, seed 0: each split's loss gap to the Retrained model (retain: a fixed sample "
                  "of 512 images for the trajectories)", handles, ncol=2)
    parts, inflated = [], []
    for res in resolutions:
        a = t[(t.resolution == res) & (t.model == "authors")].set_index("split").gap.dropna()
        parts.append(f"{res}: " + ", ".join(f"{s} {a[s]:+.2f}" for s in a.index))
        others = a.drop("forget", errors="ignore")
        if "forget" in a and len(others) == len(SPLITS) - 1 and (others > INFLATION).all() and a["forget"] < 0:
            inflated.append(res)
    missing = sorted({f"{r} ({s})" for r, s in t[t.gap.isna()][["resolution", "split"]].itertuples(index=False)})
    sentence = ("The authors' loop's mean loss minus the Retrained model's, per split after the last batch: "
                + "; ".join(parts) + f". Loss inflation (every split but forget more than {INFLATION} above the Retrained "
                "model's loss while the forget faces stay below it) at: " + (", ".join(inflated) or "none")
                + (f"; not recorded for the Retrained model: {', '.join(missing)}." if missing else "."))
    return Finding("loss_gaps", "Is the MIA's fall forgetting, or loss inflation on every split?", fig, sentence, t)


# ---------------------------------------------------------------------------------------------------- controls

# Protocol 8's reading of a control: its MIA drop as a share of the forget variant's (PROTOCOL.md, "What would mean what")
CONTROL_INDEPENDENT, CONTROL_DEPENDENT, CONTROL_MIN_DROP = 0.8, 0.2, 0.01
RELEARN_EXCESS = 0.05  # protocol 8's threshold: a rise this far beyond the Retrained model's means suppressed traces


def control_reading(share: float, forget_drop: float) -> str:
    """What a control's MIA drop says, by protocol 8's rule (fixed before the runs)."""
    if not forget_drop >= CONTROL_MIN_DROP:
        return f"unread (the forget variant's drop is under {CONTROL_MIN_DROP})"
    if share >= CONTROL_INDEPENDENT:
        return "does not depend on the forget set"
    if share <= CONTROL_DEPENDENT:
        return "depends on the forget set"
    return "depends partly"


def control_table(root=None, folder: str = "controls/48") -> pd.DataFrame:
    """Protocol 8's controls, one row per variant after its last batch: what the sign steps pushed away from, the
    MIA drop from the Original, its share of the same loop's drop when pushing from the forget images, the reading,
    and each split's loss gap to the Retrained model."""
    s = _csv(root, f"{folder}/summary.csv")
    parts = s.variant.str.split("+push_", regex=False)
    s = s.assign(base=parts.str[0], push=parts.str[1].fillna("forget"), mia_drop=s.mia_start - s.mia_last)
    forget = s[s.push == "forget"].set_index("base").mia_drop
    s["forget_drop"] = s.base.map(forget)
    s["share_of_forget_drop"] = s.mia_drop / s.forget_drop
    s["reading"] = [("the forget images (reference)" if p == "forget" else control_reading(share, f))
                    for p, share, f in zip(s.push, s.share_of_forget_drop, s.forget_drop, strict=True)]
    cols = ["base", "push", "variant", "batches", "mia_start", "mia_last", "mia_drop", "share_of_forget_drop",
            "reading", "test_acc_last", "forget_acc_last", *(c for c in s.columns if c.endswith("_loss_gap_last"))]
    s["push"] = pd.Categorical(s.push, categories=list(plots.CONTROL_LINES))  # forget first, then the controls
    s["base"] = pd.Categorical(s.base, categories=list(dict.fromkeys(s.base)))  # the variants in run order
    return s[cols].sort_values(["base", "push"]).astype({"base": str, "push": str}).reset_index(drop=True)


def controls(root=None, folder: str = "controls/48") -> Finding:
    """Protocol 8a: does GLI's MIA drop depend on the forget set? The same loop pushing away from other images."""
    t = control_table(root, folder)
    traj = _csv(root, f"{folder}/trajectories.csv")
    record = _json(root, f"{folder}/configs/authors.json")
    cfg = record["train_config"]
    title = (f"MUFAC, ResNet18, {cfg['resolution']} px, seed {cfg['seed']}: GLI's loop pushing away from the forget "
             "images or from other images, batch by batch (protocol 8)")
    fig = plots.control_plot(traj, record.get("retrained_metrics"), title=title)
    parts, readings = [], []
    for base, d in t.groupby("base", sort=False):
        d = d.set_index("push")
        others = [p for p in d.index if p != "forget"]
        parts.append(f"{base} {d.at['forget', 'mia_drop']:.3f} from the forget images, "
                     + ", ".join(f"{p} {d.at[p, 'mia_drop']:.3f} ({d.at[p, 'share_of_forget_drop']:.0%})" for p in others))
        by_reading = {}
        for p in others:
            by_reading.setdefault(d.at[p, "reading"], []).append(p)
        readings.append(f"{base}: " + "; ".join(f"{r} ({', '.join(ps)})" for r, ps in by_reading.items()))
    sentence = (f"MIA drop after {int(t.batches.max())} batches by what the sign steps push away from: " + "; ".join(parts)
                + f". By the protocol's rule (a control at {CONTROL_INDEPENDENT:.0%} or more of the forget images' drop: "
                f"the drop does not depend on the forget set; {CONTROL_DEPENDENT:.0%} or less: it does): "
                + "; ".join(readings) + ".")
    return Finding("controls", "Does GLI's fall in MIA depend on the forget set at all?", fig, sentence, t)


def relearning(root=None, folder: str = "relearn") -> Finding:
    """Protocol 8a's relearning test: forget accuracy and MIA before and after a small retain-only fine-tuning."""
    from .relearn import relearn_table
    frame = _csv(root, f"{folder}/relearn.csv")
    t = relearn_table(frame)
    refs = t[t.method.isin(REFERENCES)].set_index("method")
    methods = t[~t.method.isin(REFERENCES)]
    methods = methods.set_index("method").loc[method_order(methods.method)].reset_index()
    steps = int(frame.relearn_steps.iloc[0])
    plots.use_style()
    fig, axes = plots.plt.subplots(1, 2, figsize=(11, 0.32 * len(t) + 1.8), sharey=True)
    rows = pd.concat([refs.reset_index(), methods], ignore_index=True)
    y = np.arange(len(rows))[::-1]
    for ax, before, after, label in ((axes[0], "forget_acc", "forget_acc_relearned", "forget accuracy"),
                                     (axes[1], "mia", "mia_relearned", "MIA accuracy")):
        for yi, r in zip(y, rows.itertuples(index=False), strict=True):
            color = plots.GLI_COLOR if r.method.startswith("gli") else plots.BASELINE_COLOR
            ax.annotate("", xy=(getattr(r, after), yi), xytext=(getattr(r, before), yi),
                        arrowprops={"arrowstyle": "->", "color": color, "lw": 1.6})
            ax.plot([getattr(r, before)], [yi], "o", color=color, ms=4)
        ax.axvline(refs.at["retrained", after], color=plots.RETRAINED_COLOR, ls=plots.STYLES["retrained"].ls, lw=1.0)
        ax.set(xlabel=f"{label}: before -> after {steps} retain steps")
    axes[0].set_yticks(y, [method_label(m) for m in rows.method])
    res = _json(root, f"{folder}/original-resnet18-seed{int(frame.seed.iloc[0])}/metrics.json")["config"]["resolution"]
    plots._finish(fig, f"MUFAC, ResNet18, {res} px, seed {int(frame.seed.iloc[0])}, {frame.procedure.iloc[0]} procedure: "
                  f"{steps} fine-tuning steps on the retain set after unlearning", [
                      plots.Line2D([], [], color=plots.RETRAINED_COLOR, ls=plots.STYLES["retrained"].ls,
                                   label="the Retrained model, relearned")], ncol=1)
    came_back = methods[methods.forget_excess >= RELEARN_EXCESS]
    r = refs.loc["retrained"]
    gli = methods.set_index("method").loc["gli"] if "gli" in set(methods.method) else None
    sentence = (f"After {steps} steps on the retain set alone the Retrained model's forget accuracy goes "
                f"{r.forget_acc:.3f} -> {r.forget_acc_relearned:.3f} and its MIA {r.mia:.3f} -> {r.mia_relearned:.3f}; "
                + (f"GLI's forget accuracy goes {gli.forget_acc:.3f} -> {gli.forget_acc_relearned:.3f} "
                   f"({gli.forget_excess:+.3f} beyond the Retrained model's rise). " if gli is not None else "")
                + f"Methods whose forget accuracy rises at least {RELEARN_EXCESS} beyond the Retrained model's (traces "
                "suppressed, not removed): " + (", ".join(f"{method_label(m)} ({e:+.3f})" for m, e in
                                                          zip(came_back.method, came_back.forget_excess, strict=True))
                                                 or "none") + f" of {len(methods)}.")
    return Finding("relearning", "Does a little fine-tuning on the retain set bring the forget faces back?", fig,
                   sentence, t)



# ---------------------------------------------------------------------------------------------------- per-example audit

def audit(root=None) -> Finding:
    table = _csv(root, "audit/audit.csv")
    examples = _csv(root, "audit/audit_examples.csv")
    record = _json(root, "audit/original-resnet18-seed0/metrics.json")
    res, seed = record["config"]["resolution"], record["config"]["seed"]
    title = (f"MUFAC, ResNet18, {res} px (protocol 4/7), Original seed {seed}, N = {int(table.n_models.max())} runs per "
             "method: can an attacker tell each forget face from retraining?")
    fig = plots.audit_plot(table, examples, title=title)
    t = table.set_index("method")
    methods = [m for m in t.index if m not in ("original", "retrained_vs_retrained")]
    caps = examples.assign(capped=examples.epsilon >= 50).groupby("method").capped.mean()

    def acc(m):
        return f"{t.at[m, 'attack_acc']:.3f} [{t.at[m, 'attack_acc_lo']:.3f}, {t.at[m, 'attack_acc_hi']:.3f}]"
    names = {m: plots.audit_label(m).replace("\n", " ") for m in t.index}
    sentence = (f"The per-example attack tells the Original's forget confidences from retrained ones with accuracy "
                f"{acc('original')}; after unlearning: " + ", ".join(f"{names[m]} {acc(m)}" for m in methods)
                + f", where two sets of Retrained models give {acc('retrained_vs_retrained')}. F at N/2: "
                + ", ".join(f"{names[m]} {t.at[m, 'f_half']:.3f}" for m in methods)
                + f" against {t.at['retrained_vs_retrained', 'f']:.3f} for Retrained vs Retrained; forget faces at the "
                "epsilon cap (fully separated): " + ", ".join(f"{names[m]} {caps[m]:.0%}" for m in methods) + ".")
    return Finding("audit", "Per example, how far is each method from retraining?", fig, sentence,
                   table[["method", "n_models", "f", "f_lo", "f_hi", "f_half", "attack_acc", "attack_acc_lo",
                          "attack_acc_hi", "forgetting_score"]])


# ---------------------------------------------------------------------------------------------------- duplicates

def duplicates(root=None) -> Finding:
    full = _csv(root, "full/results.csv")
    dedup = _csv(root, "dedup/results.csv")
    seed = int(dedup.seed.min())
    f = full[full.seed == seed].set_index("method")
    d = dedup[dedup.seed == seed].set_index("method")
    methods = method_order(d.index)
    plots.use_style()
    fig, axes = plots.plt.subplots(1, 2, figsize=(13, 4.6), gridspec_kw={"width_ratios": [1, 2.6]})
    frame = pd.concat([f.loc[list(REFERENCES), ["forgetting_score"]].assign(data="full"),
                       d.loc[list(REFERENCES), ["forgetting_score"]].assign(data="deduplicated")]).reset_index()
    frame["model"] = frame.method.map(method_label)
    plots.grouped_bars(axes[0], frame, "model", "data", "forgetting_score",
                       {"full": {"color": "#bbbbbb", "label": "full data"},
                        "deduplicated": {"color": "#555555", "label": "deduplicated"}})
    axes[0].set(ylabel=plots.METRIC_LABELS["forgetting_score"], title="The reference models")
    axes[0].legend(fontsize=8)
    h = plots.dumbbell(axes[1], methods, f.final_score.to_dict(), d.final_score.to_dict(), "full data", "deduplicated")
    h += plots.reference_lines(axes[1], {m: [d.at[m, "final_score"]] for m in REFERENCES}, band=False,
                               label_suffix=" (deduplicated)")
    axes[1].set(ylabel=plots.METRIC_LABELS["final_score"], title="Final score per method, full -> deduplicated")
    axes[1].legend(handles=h, fontsize=8, loc="lower left")
    plots._finish(fig, f"{plots.describe(dedup)}, protocol 1's recipe: the same runs on MUFAC without its duplicates")
    rd, rf = ranks(d.final_score), ranks(f.final_score)
    sentence = (f"Without the duplicates the Original's forgetting score (seed {seed}) falls from "
                f"{f.at['original', 'forgetting_score']:.3f} to {d.at['original', 'forgetting_score']:.3f}; GLI ranks "
                f"{rd['gli']} of {len(rd)} deduplicated ({d.at['gli', 'final_score']:.3f}) and {rf['gli']} of {len(rf)} on the "
                f"full data ({f.at['gli', 'final_score']:.3f}); the best deduplicated is {method_label(rd.idxmin())} "
                f"({d.at[rd.idxmin(), 'final_score']:.3f}).")
    table = pd.DataFrame({"full": f.final_score, "deduplicated": d.final_score, "rank_full": rf,
                          "rank_deduplicated": rd}).loc[methods]
    return Finding("duplicates", "Do MUFAC's duplicate images change the picture?", fig, sentence, table)


# ---------------------------------------------------------------------------------------------------- all of them

FINDINGS = {"memorisation": memorisation, "final_scores": final_scores, "field_baselines": field_baselines,
            "final_scores_32px": final_scores_32px,
            "final_scores_128px": final_scores_128px, "tuning": tuning, "gli_batches": gli_batches,
            "gli_variants": gli_variants, "loss_gaps": loss_gaps, "controls": controls, "relearning": relearning,
            "audit": audit,
            "duplicates": duplicates}


def draw(name: str, out_dir, root=None, close: bool = True, table: bool = False) -> Finding:
    """One finding, its figure written to ``out_dir/<name>.png`` (then closed, unless ``close`` is false: a notebook
    shows it) and, with ``table``, its table to ``out_dir/<name>.csv``."""
    if name not in FINDINGS:
        raise DataError(f"no finding {name!r}; there are {', '.join(FINDINGS)}.")
    f = FINDINGS[name](root)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plots.save(f.figure, out / f"{f.name}.png")
    if table:
        f.table.to_csv(out / f"{f.name}.csv")
    if close:
        plots.plt.close(f.figure)
    return f


def draw_all(out_dir, root=None, log=print) -> dict[str, str]:
    """Every finding's figure into ``out_dir``; prints and returns name -> sentence."""
    sentences = {}
    for name in FINDINGS:
        f = draw(name, out_dir, root)
        sentences[name] = f.sentence
        if log:
            log(f"{Path(out_dir) / (name + '.png')}: {f.sentence}")
    return sentences
