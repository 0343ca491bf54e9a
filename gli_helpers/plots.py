"""Figures, drawn from result files (so a figure can be redrawn without rerunning anything).

One seaborn style for all; sizes readable at paper width. ``save`` writes a PNG atomically.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .io import atomic_path
from .unlearning import method_label, method_order

METRIC_LABELS = {"test_acc": "test accuracy", "mia": "MIA accuracy", "final_score": "final score (NoMUS)",
                 "forgetting_score": "forgetting score", "retain_acc": "retain accuracy", "forget_acc": "forget accuracy"}


def use_style() -> None:
    sns.set_theme(context="paper", style="whitegrid", palette="tab10", font_scale=1.2)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 160, "savefig.bbox": "tight"})


def label(method: str) -> str:
    return method_label(method)


def save(fig, path) -> str:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return str(path)


def training_curves(histories: dict[str, list[dict]]):
    """Loss and accuracy per epoch of each reference model."""
    use_style()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for name, hist in histories.items():
        h = pd.DataFrame(hist)
        if h.empty:
            continue
        axes[0].plot(h.epoch, h.loss, marker="o", label=name)
        axes[1].plot(h.epoch, h.acc, marker="o", label=name)
    axes[0].set(xlabel="epoch", ylabel="training loss")
    axes[1].set(xlabel="epoch", ylabel="training accuracy")
    axes[1].legend()
    fig.tight_layout()
    return fig


def loss_distributions(losses: dict[str, dict[str, np.ndarray]], mia_values: dict[str, float]):
    """Per model: forget vs unseen per-sample loss densities; the membership-inference gap as a picture."""
    use_style()
    fig, axes = plt.subplots(1, len(losses), figsize=(5 * len(losses), 3.6), sharey=True, squeeze=False)
    for ax, (name, d) in zip(axes[0], losses.items(), strict=True):
        hi = np.percentile(np.concatenate(list(d.values())), 98)
        for split, v in d.items():
            sns.kdeplot(np.clip(v, 0, hi), ax=ax, fill=True, alpha=0.35, label=split, clip=(0, hi), warn_singular=False)
        ax.set(title=f"{name}: MIA {mia_values[name]:.3f}", xlabel="per-sample loss")
        ax.legend()
    fig.tight_layout()
    return fig


def score_plot(results: pd.DataFrame, metric: str = "final_score"):
    """A dot per seed and a bar for the mean, per method, in the paper's order."""
    use_style()
    order = method_order(results.method)
    df = results.assign(label=results.method.map(label))
    fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(order)), 3.8))
    sns.barplot(df, x="label", y=metric, order=[label(m) for m in order], errorbar="sd", ax=ax, color="#9ecae1")
    sns.stripplot(df, x="label", y=metric, order=[label(m) for m in order], ax=ax, color="#08306b", size=5)
    lo = max(0.0, df[metric].min() - 0.05)
    ax.set(xlabel="", ylabel=METRIC_LABELS.get(metric, metric), ylim=(lo, min(1.0, df[metric].max() + 0.03)))
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    return fig


def trajectory_plot(traj: pd.DataFrame, references: pd.DataFrame | None = None,
                    metrics=("test_acc", "mia", "final_score")):
    """Figure 3: one panel per metric, one line per method (mean over seeds), against unlearning steps;
    dashed lines for the Original and Retrained models."""
    use_style()
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 3.8))
    methods = method_order(traj.method)
    palette = dict(zip(methods, sns.color_palette("tab10", len(methods)), strict=True))
    for ax, metric in zip(axes, metrics, strict=True):
        for m in methods:
            d = traj[traj.method == m].groupby("step")[metric].mean()
            ax.plot(d.index, d.values, label=label(m), color=palette[m], lw=1.8)
        if references is not None:
            for ref, style in (("original", ":"), ("retrained", "--")):
                v = references.loc[references.method == ref, metric]
                if len(v):
                    ax.axhline(v.mean(), color="grey", ls=style, lw=1.2, label=label(ref))
        ax.set(xlabel="unlearning step (batches)", ylabel=METRIC_LABELS.get(metric, metric))
    axes[-1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    fig.tight_layout()
    return fig


def face_rows(rows: dict, titles=None):
    """One row of images per entry of ``rows`` (name -> tensor (N, 3, H, W) in [0, 1]), the name on the left."""
    use_style()
    n = len(next(iter(rows.values())))
    fig, axes = plt.subplots(len(rows), n, figsize=(1.9 * n, 2.0 * len(rows)), squeeze=False)
    for r, (name, images) in enumerate(rows.items()):
        for i in range(n):
            ax = axes[r][i]
            ax.imshow(images[i].permute(1, 2, 0).cpu().numpy(), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_ylabel(name)
            if r == 0 and titles:
                ax.set_title(titles[i], fontsize=9)
    fig.tight_layout()
    return fig


def face_pairs(original, perturbed, titles=None, amplify: float = 10.0):
    """Rows: original, GLI-perturbed, and the difference amplified around grey. Tensors (N, 3, H, W) in [0, 1]."""
    diff = ((perturbed - original) * amplify + 0.5).clamp(0, 1)
    return face_rows({"original": original, "GLI-perturbed": perturbed, f"difference x{amplify:g}": diff}, titles)


def audit_intervals_plot(table: pd.DataFrame):
    """F and the attack's accuracy per method with their bootstrap intervals over forget examples
    (columns f, f_lo, f_hi, attack_acc, attack_acc_lo, attack_acc_hi; one row per method, N in the labels)."""
    use_style()
    fig, axes = plt.subplots(1, 2, figsize=(max(8, 1.6 * len(table)), 3.8))
    names = [f"{label(m)}\n(N={n})" for m, n in zip(table.method, table.n_models, strict=True)]
    for ax, key, ylabel in ((axes[0], "f", "forgetting quality F (higher: closer to retraining)"),
                            (axes[1], "attack_acc", "per-example attack accuracy (0.5: cannot tell)")):
        x = np.arange(len(table))
        ax.bar(x, table[key], color=sns.color_palette("tab10", len(table)), alpha=0.7)
        # the interval itself (a percentile bootstrap need not contain the estimate of a maximum, such as the
        # attack's best accuracy, so it is drawn as a range, not as +- errors)
        ax.vlines(x, table[f"{key}_lo"], table[f"{key}_hi"], color="black", lw=1.5)
        ax.hlines(np.r_[table[f"{key}_lo"], table[f"{key}_hi"]], np.r_[x, x] - 0.12, np.r_[x, x] + 0.12, color="black", lw=1.5)
        ax.set_xticks(x, names, rotation=30, fontsize=8)
        ax.set(ylabel=ylabel)
    axes[1].axhline(0.5, color="grey", ls="--", lw=1)
    fig.tight_layout()
    return fig


def epsilon_histograms(examples: pd.DataFrame, cap: float = 50.0):
    """The per-example epsilon of each method (capped values shown in the last bin)."""
    use_style()
    methods = list(dict.fromkeys(examples.method))
    fig, axes = plt.subplots(1, len(methods), figsize=(3.2 * len(methods), 3.2), sharey=True, squeeze=False)
    finite = examples.epsilon[examples.epsilon < cap]
    top = float(finite.max()) + 0.5 if len(finite) else 1.0
    bins = np.linspace(0, top + 0.5, 20)
    for ax, m in zip(axes[0], methods, strict=True):
        e = examples[examples.method == m].epsilon.clip(upper=top + 0.25)
        ax.hist(e, bins=bins, color="tab:blue", alpha=0.8)
        ax.set(title=label(m), xlabel="epsilon (capped: last bin)")
    axes[0][0].set_ylabel("forget examples")
    fig.tight_layout()
    return fig


def face_grid(split, label_names, n: int = 24, columns: int = 8, seed: int = 0):
    """A grid of ``n`` images of a split with their labels (a look at a benchmark)."""
    use_style()
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.permutation(len(split))[:n])
    rows = (len(idx) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.85 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), idx, strict=False):
        ax.imshow(split.images[i].permute(1, 2, 0).numpy())
        y = split.labels[i]
        if y.ndim == 0:
            text = label_names[int(y)]
        else:
            text = ", ".join(n for n, v in zip(label_names, y.tolist(), strict=True) if v) or "-"
        ax.set_title(text, fontsize=9)
    fig.tight_layout()
    return fig


def procedure_plot(results: pd.DataFrame, metric: str = "final_score"):
    """``metric`` per method under each procedure: the mean over seeds with a 95% t-interval as error bars,
    and a dot per seed."""
    from scipy import stats
    use_style()
    order = method_order(results.method)
    procedures = list(dict.fromkeys(results.procedure))
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(order)), 3.8))
    width = 0.8 / len(procedures)
    colors = sns.color_palette("tab10", len(procedures))
    for j, (proc, color) in enumerate(zip(procedures, colors, strict=True)):
        for i, m in enumerate(order):
            v = results[(results.method == m) & (results.procedure == proc)][metric].dropna().to_numpy(dtype=float)
            if not len(v):
                continue
            x = i - 0.4 + width * (j + 0.5)
            half = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else 0.0
            ax.bar(x, v.mean(), width * 0.9, color=color, alpha=0.5, label=proc if i == 0 else None)
            ax.errorbar(x, v.mean(), yerr=half, color="black", capsize=3, lw=1)
            ax.scatter(np.full(len(v), x), v, color=color, s=12, zorder=3)
    ax.set_xticks(range(len(order)), [label(m) for m in order], rotation=30)
    values = results[metric].dropna()
    ax.set(ylabel=METRIC_LABELS.get(metric, metric), ylim=(max(0.0, values.min() - 0.05), min(1.0, values.max() + 0.05)))
    ax.legend(title="procedure", frameon=False)
    fig.tight_layout()
    return fig


ABLATION_PANELS = {"test_acc": "test accuracy", "mia": "MIA accuracy",
                   "task_loss_before": "retain CE before the sign step", "distance_ratio": "logit distance after / before step"}


def gli_ablation_plot(traj: pd.DataFrame, authors: pd.DataFrame | None = None, panels=tuple(ABLATION_PANELS)):
    """GLI variants batch by batch (``gli_ablations.run_gli_ablations``'s trajectories), one line per variant,
    beside the authors' stored run (black, dashed; ``paper.authors_gli_trajectory``). Batch 0 is the Original."""
    use_style()

    def prepared(t):
        t = t.copy()
        t["batch"] = t["batch"].fillna(0) if "step" not in t else t["batch"].where(t["step"] > 0, 0)
        t["distance_ratio"] = t["distance_after"] / t["distance_before"]
        return t.sort_values("batch")

    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels), 3.6))
    variants = list(dict.fromkeys(traj.variant))
    colors = dict(zip(variants, sns.color_palette("tab10", len(variants)), strict=True))
    ours = prepared(traj)
    theirs = prepared(authors) if authors is not None else None
    for ax, key in zip(np.atleast_1d(axes), panels, strict=True):
        for v in variants:
            d = ours[ours.variant == v].dropna(subset=[key])
            ax.plot(d.batch, d[key], color=colors[v], lw=1.5, label=v)
        if theirs is not None:
            d = theirs.dropna(subset=[key])
            ax.plot(d.batch, d[key], color="black", ls="--", lw=1.8, label="authors' stored run (128 px)")
        ax.set(xlabel="batch", ylabel=ABLATION_PANELS.get(key, key))
    np.atleast_1d(axes)[-1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    fig.tight_layout()
    return fig
