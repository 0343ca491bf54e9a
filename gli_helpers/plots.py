"""Figures, drawn from result files (so a figure can be redrawn without rerunning anything).

One style for all, readable at paper width, colour-blind safe (Okabe-Ito colours, and a marker and line style per
method as well, so that no series is told apart by colour alone). GLI is always vermillion and drawn on top; the
Original and Retrained models are neutral: the Original a grey dashed line, the Retrained model a black dash-dot
line. Dot plots show each seed, the mean and its 95% t-interval (sample standard deviation, ddof 1), and say so in
the legend; bar charts start at 0. Every figure carries a title naming the benchmark, architecture, resolution,
seeds and procedure (``describe``). ``save`` writes a PNG atomically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .io import atomic_path
from .unlearning import REFERENCES, method_label, method_order

METRIC_LABELS = {"test_acc": "test accuracy", "mia": "MIA accuracy", "final_score": "final score (NoMUS)",
                 "forgetting_score": "forgetting score |MIA - 0.5|", "retain_acc": "retain accuracy",
                 "forget_acc": "forget accuracy"}

# Okabe & Ito (2008), the colour-blind-safe palette; vermillion is GLI's alone.
OKABE_ITO = {"orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73", "yellow": "#F0E442", "blue": "#0072B2",
             "vermillion": "#D55E00", "purple": "#CC79A7", "black": "#000000"}
GLI_COLOR = OKABE_ITO["vermillion"]
ORIGINAL_COLOR, RETRAINED_COLOR = "#5f5f5f", "#000000"
BASELINE_COLOR = "#444444"
AUTHORS_RUN_COLOR = OKABE_ITO["blue"]  # the authors' stored GLI run (paper_data)
WHISKERS = "whiskers: 95% t-interval over seeds"


@dataclass(frozen=True)
class Style:
    color: str
    marker: str
    ls: object
    lw: float = 1.6
    zorder: float = 3


STYLES = {
    "original": Style(ORIGINAL_COLOR, "o", "--", 1.4, 2),
    "retrained": Style(RETRAINED_COLOR, "s", (0, (6, 2, 1.5, 2)), 1.4, 2),
    "finetune": Style(OKABE_ITO["sky"], "s", "-"),
    "cf_k": Style(OKABE_ITO["green"], "D", (0, (5, 2))),
    "eu_k": Style(OKABE_ITO["orange"], "P", (0, (3, 1, 1, 1))),
    "neggrad": Style(OKABE_ITO["blue"], "v", (0, (1, 1))),
    "unsir": Style(OKABE_ITO["purple"], "X", "-"),
    "scrub": Style("#332288", "*", (0, (5, 2))),
    "bad_teaching": Style("#999933", "h", (0, (3, 1, 1, 1))),
    # the field's current baselines (a method without an entry here gets a neutral style of its own)
    "neggrad_plus": Style(OKABE_ITO["blue"], "<", "-"),
    "l1_sparse": Style("#44AA99", "p", (0, (2, 1))),
    "random_labels": Style("#882255", ">", (0, (5, 1))),
    "salun": Style("#117733", "d", "-"),
    "ssd": Style("#AA4499", "8", (0, (1, 2))),
    "gli": Style(GLI_COLOR, "o", "-", 2.6, 6),
    "gli_l1": Style(GLI_COLOR, "^", (0, (4, 2)), 1.3, 5),
    "gli_cosine": Style(GLI_COLOR, "v", (0, (1, 1.5)), 1.3, 5),
}
_OTHER = [Style(c, m, "-") for c, m in (("#7f7f7f", "o"), ("#882255", "s"), ("#44AA99", "D"), ("#117733", "^"))]
REFERENCE_LEGEND = {"original": "Original (no unlearning)", "retrained": "Retrained (the target)"}


def method_style(name: str) -> Style:
    """The fixed style of a method or reference row; ``<method>-<procedure>`` rows take their method's colour;
    unknown names get a neutral style of their own (never GLI's colour)."""
    if name in STYLES:
        return STYLES[name]
    base = str(name).split("-")[0]
    if base in STYLES:
        s = STYLES[base]
        return Style(s.color, "D" if s.marker != "D" else "o", (0, (2, 1)), s.lw, s.zorder)
    return _OTHER[sum(map(ord, str(name))) % len(_OTHER)]


def use_style() -> None:
    sns.set_theme(context="paper", style="whitegrid", font_scale=1.2,
                  palette=[OKABE_ITO[k] for k in ("blue", "orange", "green", "purple", "sky", "yellow")])
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 160, "savefig.bbox": "tight", "legend.frameon": False,
                         "axes.titlesize": 11, "figure.titlesize": 12})


def label(method: str) -> str:
    return method_label(method)


def save(fig, path) -> str:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return str(path)


# ---------------------------------------------------------------------------------------------------- descriptions

ARCH_LABELS = {"resnet18": "ResNet18", "wide_resnet50_2": "WideResNet50-2", "efficientnet_b0": "EfficientNet-B0"}


def benchmark_label(name: str) -> str:
    name = str(name)
    return f"synthetic {name[len('synthetic-'):].upper()}" if name.startswith("synthetic-") else name.upper()


def seeds_text(seeds) -> str:
    s = sorted({int(x) for x in seeds if pd.notna(x)})
    if not s:
        return "no seeds"
    if len(s) == 1:
        return f"seed {s[0]}"
    if s == list(range(s[0], s[-1] + 1)):
        return f"{len(s)} seeds ({s[0]}-{s[-1]})"
    return f"{len(s)} seeds ({', '.join(map(str, s))})"


def _recipe(results: pd.DataFrame) -> dict:
    """The reference models' training configuration (``method_config`` of their rows): resolution, epochs, ..."""
    if "method_config" not in results or "method" not in results:
        return {}
    for text in results[results.method.isin(list(REFERENCES))].method_config.dropna():
        try:
            cfg = json.loads(text)
        except (TypeError, ValueError):
            continue
        if "resolution" in cfg:
            return cfg
    return {}


def describe(results: pd.DataFrame, procedure: str | None = None, resolution: int | None = None) -> str:
    """"MUFAC, ResNet18, 48 px, 30 epochs (cpu preset), 3 seeds (0-2), honest procedure": what a figure title must
    say (the recipe is read from the reference rows' configuration)."""
    parts = []
    if "benchmark" in results and results.benchmark.notna().any():
        parts.append(" + ".join(benchmark_label(b) for b in dict.fromkeys(results.benchmark.dropna())))
    if "arch" in results and results.arch.notna().any():
        parts.append(" + ".join(ARCH_LABELS.get(a, a) for a in dict.fromkeys(results.arch.dropna())))
    recipe = _recipe(results)
    res = resolution or recipe.get("resolution")
    preset = ", ".join(dict.fromkeys(results.preset.dropna().astype(str))) if "preset" in results else ""
    what = ", ".join(p for p in (f"{res} px" if res else "", f"{recipe['epochs']} epochs" if recipe.get("epochs") else "")
                     if p)
    if what or preset:
        parts.append(" ".join(p for p in (what, f"({preset} preset)" if preset else "") if p))
    if "seed" in results:
        parts.append(seeds_text(results.seed))
    if procedure is None and "procedure" in results and results.procedure.notna().any():
        procedure = " and ".join(dict.fromkeys(results.procedure.dropna().astype(str)))
    if procedure:
        parts.append(procedure if procedure.endswith(("procedure", "procedures")) else f"{procedure} procedure")
    return ", ".join(parts)


# ---------------------------------------------------------------------------------------------------- statistics

def t_interval(values) -> tuple[float, float, int]:
    """(mean, half-width of the 95% t-interval with the sample standard deviation, n); the half-width is nan for
    fewer than two values."""
    from scipy import stats
    v = np.asarray(pd.Series(values, dtype=float).dropna(), dtype=float)
    if not len(v):
        return float("nan"), float("nan"), 0
    if len(v) == 1:
        return float(v[0]), float("nan"), 1
    return float(v.mean()), float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))), len(v)


# ---------------------------------------------------------------------------------------------------- building blocks

def _point(ax, x, values, name, filled=True, marker=None, label_text=None, horizontal=False, size=7.5):
    """The seeds as small hollow dots, the mean as a big marker with its 95% t-interval."""
    st = method_style(name)
    v = pd.Series(values, dtype=float).dropna().to_numpy()
    mean, half, n = t_interval(v)
    if not n:
        return
    jitter = np.linspace(-0.09, 0.09, n) if n > 1 else np.zeros(1)
    pos = np.full(n, x, dtype=float) + jitter
    if horizontal:
        ax.scatter(v, pos, s=16, facecolors="none", edgecolors=st.color, lw=0.9, alpha=0.8, zorder=st.zorder)
    else:
        ax.scatter(pos, v, s=16, facecolors="none", edgecolors=st.color, lw=0.9, alpha=0.8, zorder=st.zorder)
    err = None if not np.isfinite(half) else half
    kw = dict(fmt=marker or st.marker, color=st.color, mfc=st.color if filled else "white", mec=st.color, ms=size,
              capsize=4, elinewidth=1.6, mew=1.5, zorder=st.zorder + 1, label=label_text)
    if horizontal:
        ax.errorbar(mean, x, xerr=err, **kw)
    else:
        ax.errorbar(x, mean, yerr=err, **kw)


def reference_lines(ax, refs: dict, horizontal: bool = True, band: bool = True, label_suffix: str = "") -> list:
    """Dashed neutral lines at the Original's and the Retrained model's mean (``refs``: name -> values), with a
    light band for the 95% t-interval when there are several seeds. Returns the legend handles."""
    handles = []
    for name in ("original", "retrained"):
        if name not in refs:
            continue
        mean, half, n = t_interval(refs[name])
        if not n:
            continue
        st = STYLES[name]
        line = ax.axhline if horizontal else ax.axvline
        line(mean, color=st.color, ls=st.ls, lw=st.lw, zorder=1)
        if band and np.isfinite(half):
            span = ax.axhspan if horizontal else ax.axvspan
            span(mean - half, mean + half, color=st.color, alpha=0.08, lw=0, zorder=0)
        text = f"{REFERENCE_LEGEND[name]}: {mean:.3f}" + (f" (mean of {n}, band: 95% t-interval)" if n > 1 else "")
        handles.append(Line2D([], [], color=st.color, ls=st.ls, lw=st.lw, label=text + label_suffix))
    return handles


def _seed_handles(n_seeds: int | None = None) -> list:
    what = "mean" + (f", {WHISKERS}" if (n_seeds or 2) > 1 else "")
    return [Line2D([], [], ls="none", marker="o", mfc="none", mec="#444444", ms=5, label="one seed"),
            Line2D([], [], ls="none", marker="o", color="#444444", ms=7, label=what)]


def _finish(fig, title: str | None, legend_handles=None, ncol: int = 3, legend_y: float = -0.02):
    if title:
        fig.suptitle(title, y=1.0)
    fig.tight_layout()
    if legend_handles:
        fig.legend(handles=legend_handles, loc="upper center", bbox_to_anchor=(0.5, legend_y), ncol=ncol,
                   fontsize=9)
    return fig


def _references_of(results: pd.DataFrame, metric: str) -> dict:
    refs = {}
    for name in REFERENCES:
        r = results[results.method == name]
        if "procedure" in r and r.procedure.nunique() > 1:  # the same models under every procedure: count each once
            r = r.drop_duplicates(subset=["seed"])
        if len(r):
            refs[name] = r[metric].to_numpy(dtype=float)
    return refs


# ---------------------------------------------------------------------------------------------------- scores

def score_plot(results: pd.DataFrame, metric: str = "final_score", title: str | None = None):
    """``metric`` per method in the paper's order: a dot per seed, the mean with its 95% t-interval; the Original
    and Retrained models at their own places (grey) and as dashed reference lines across."""
    use_style()
    order = method_order(results.method)
    fig, ax = plt.subplots(figsize=(max(6.5, 0.8 * len(order)), 4.2))
    for i, m in enumerate(order):
        _point(ax, i, results.loc[results.method == m, metric], m)
    handles = reference_lines(ax, _references_of(results, metric))
    ax.set_xticks(range(len(order)), [label(m) for m in order], rotation=30, ha="right")
    ax.set(xlabel="", ylabel=METRIC_LABELS.get(metric, metric), xlim=(-0.6, len(order) - 0.4))
    n = int(results.groupby("method").seed.nunique().max()) if "seed" in results and len(results) else 1
    title = title or f"{describe(results)}: {METRIC_LABELS.get(metric, metric)} per method"
    return _finish(fig, title, _seed_handles(n) + handles, ncol=2)


PROCEDURE_MARKERS = [("o", True), ("D", False), ("s", True), ("^", False)]
PROCEDURE_TEXT = {"honest": "honest (the final model)",
                  "authors": "authors' (checkpoint chosen on test and unseen)", "default": "each method's default",
                  "tuned": "tuned on a validation split"}


def procedure_plot(results: pd.DataFrame, metric: str = "final_score", title: str | None = None,
                   procedures=None, published: dict | None = None):
    """``metric`` per unlearning method under each procedure side by side (marker and fill tell the procedures
    apart, colour the method): a dot per seed, the mean and its 95% t-interval; the Original and Retrained models
    as dashed reference lines (their mean, band: 95% t-interval). ``published``: {method: value} drawn as stars."""
    use_style()
    procedures = list(procedures or dict.fromkeys(results.procedure.fillna("default")))
    methods = [m for m in method_order(results.method) if m not in REFERENCES]
    fig, ax = plt.subplots(figsize=(max(7.5, 0.85 * len(methods) + 2), 4.6))
    width = 0.7 / max(1, len(procedures))
    for j, proc in enumerate(procedures):
        marker, filled = PROCEDURE_MARKERS[j % len(PROCEDURE_MARKERS)]
        rows = results[results.procedure.fillna("default") == proc]
        for i, m in enumerate(methods):
            _point(ax, i - 0.35 + width * (j + 0.5), rows.loc[rows.method == m, metric], m, filled, marker)
    handles = reference_lines(ax, _references_of(results, metric))
    for i, m in enumerate(methods):
        if published and m in published:
            ax.scatter([i], [published[m]], marker="*", s=170, color=method_style(m).color, edgecolor="black", lw=0.6,
                       zorder=8)
    ax.set_xticks(range(len(methods)), [label(m) for m in methods], rotation=30, ha="right")
    ax.set(xlabel="", ylabel=METRIC_LABELS.get(metric, metric), xlim=(-0.6, len(methods) - 0.4))
    n = int(results.groupby("method").seed.nunique().max()) if len(results) else 1
    proc_handles = [Line2D([], [], ls="none", marker=PROCEDURE_MARKERS[j % 4][0], ms=7, mec="#444444",
                           mfc="#444444" if PROCEDURE_MARKERS[j % 4][1] else "white",
                           label=f"{PROCEDURE_TEXT.get(p, p)}: mean" + (f", {WHISKERS}" if n > 1 else ""))
                    for j, p in enumerate(procedures)]
    seed = [Line2D([], [], ls="none", marker="o", mfc="none", mec="#444444", ms=5, label="one seed")]
    star = [Line2D([], [], ls="none", marker="*", ms=11, color="#999999", mec="black", mew=0.6,
                   label="published in the paper")] if published else []
    title = title or f"{describe(results, ' vs '.join(procedures))}: {METRIC_LABELS.get(metric, metric)} per method"
    return _finish(fig, title, proc_handles + seed + star + handles, ncol=2)


# ---------------------------------------------------------------------------------------------------- trajectories

def trajectory_plot(traj: pd.DataFrame, references: pd.DataFrame | None = None,
                    metrics=("test_acc", "mia", "final_score"), title: str | None = None):
    """Figure 3: one panel per metric, one line per method (mean over seeds), against unlearning steps; GLI on
    top, with a band for its range over seeds; the Original and Retrained models as dashed reference lines (band:
    the range over their seeds, to show how much of a difference the seeds alone make)."""
    use_style()
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.0 * len(metrics), 3.9), squeeze=False)
    methods = method_order(traj.method)
    handles = []
    for k, (ax, metric) in enumerate(zip(axes[0], metrics, strict=True)):
        for m in methods:
            st = method_style(m)
            g = traj[traj.method == m].groupby("step")[metric]
            d = g.mean()
            every = max(1, len(d) // 6)
            ax.plot(d.index, d.values, color=st.color, ls=st.ls, lw=st.lw, marker=st.marker, markevery=every, ms=5,
                    zorder=st.zorder, label=label(m))
            if m == "gli" and traj[traj.method == m].seed.nunique() > 1:
                ax.fill_between(d.index, g.min().values, g.max().values, color=st.color, alpha=0.15, lw=0, zorder=1)
        if references is not None:
            refs = {r: references.loc[references.method == r, metric].to_numpy(dtype=float) for r in REFERENCES
                    if (references.method == r).any()}
            for name, v in refs.items():
                st = STYLES[name]
                ax.axhline(v.mean(), color=st.color, ls=st.ls, lw=st.lw, zorder=1)
                if len(v) > 1:
                    ax.axhspan(v.min(), v.max(), color=st.color, alpha=0.08, lw=0, zorder=0)
            if k == 0:
                handles = [Line2D([], [], color=STYLES[n].color, ls=STYLES[n].ls, label=REFERENCE_LEGEND[n]
                                  + (" (band: range over seeds)" if len(v) > 1 else "")) for n, v in refs.items()]
        ax.set(xlabel="unlearning step (batches)", ylabel=METRIC_LABELS.get(metric, metric))
    lines = axes[0][0].get_legend_handles_labels()[0]
    band = [Patch(color=GLI_COLOR, alpha=0.15, label="GLI: range over seeds")] if traj[traj.method == "gli"].seed.nunique() > 1 \
        else []
    source = references if references is not None and len(references) else traj
    title = title or f"{describe(source)}: every method step by step (lines: mean over seeds)"
    return _finish(fig, title, lines + band + handles, ncol=min(6, len(lines) + len(handles)))


# ---------------------------------------------------------------------------------------------------- reference models

def training_curves(histories: dict[str, list[dict]], title: str | None = None):
    """Loss and accuracy per epoch of each reference model (Original: grey dashed, Retrained: black dash-dot)."""
    use_style()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for name, hist in histories.items():
        h = pd.DataFrame(hist)
        if h.empty:
            continue
        role = "retrained" if name.lower().startswith("retrained") else "original" if name.lower().startswith(
            "original") else name
        st = method_style(role)
        for ax, key in zip(axes, ("loss", "acc"), strict=True):
            ax.plot(h.epoch, h[key], color=st.color, ls=st.ls, marker=st.marker, ms=4, mfc="white", lw=1.4, label=name)
    axes[0].set(xlabel="epoch", ylabel="training loss")
    axes[1].set(xlabel="epoch", ylabel="training accuracy")
    return _finish(fig, title or "Reference models: training loss and accuracy per epoch",
                   axes[0].get_legend_handles_labels()[0], ncol=2)


SPLIT_COLORS = {"forget": OKABE_ITO["purple"], "unseen": OKABE_ITO["blue"], "retain": OKABE_ITO["green"],
                "test": OKABE_ITO["orange"]}


def loss_distributions(losses: dict[str, dict[str, np.ndarray]], mia_values: dict[str, float], title: str | None = None):
    """Per model: forget vs unseen per-sample loss densities; the membership-inference gap as a picture."""
    use_style()
    fig, axes = plt.subplots(1, len(losses), figsize=(5 * len(losses), 3.8), sharey=True, squeeze=False)
    for ax, (name, d) in zip(axes[0], losses.items(), strict=True):
        hi = np.percentile(np.concatenate(list(d.values())), 98)
        for (split, v), ls in zip(d.items(), ("-", "--", ":", "-."), strict=False):
            sns.kdeplot(np.clip(v, 0, hi), ax=ax, fill=True, alpha=0.3, label=f"{split} (n={len(v)})", clip=(0, hi),
                        warn_singular=False, color=SPLIT_COLORS.get(split), ls=ls, lw=1.6)
        ax.set(title=f"{name}: MIA {mia_values[name]:.3f}", xlabel="per-sample loss (clipped at the 98th percentile)")
        ax.legend()
    return _finish(fig, title)


# ---------------------------------------------------------------------------------------------------- images

def face_rows(rows: dict, titles=None, title: str | None = None, row_extras: dict | None = None):
    """One row of images per entry of ``rows`` (name -> tensor (N, 3, H, W) in [0, 1]), the name on the left.
    ``row_extras``: name -> (cmap, vmax) for rows of one channel (N, H, W) drawn with a diverging map and a
    colour bar in pixel units."""
    use_style()
    n = len(next(iter(rows.values())))
    fig, axes = plt.subplots(len(rows), n, figsize=(1.9 * n + 0.9, 2.05 * len(rows) + 0.4), squeeze=False)
    for r, (name, images) in enumerate(rows.items()):
        im = None
        for i in range(n):
            ax = axes[r][i]
            ax.grid(False)
            if row_extras and name in row_extras:
                cmap, vmax = row_extras[name]
                im = ax.imshow(images[i].cpu().numpy(), cmap=cmap, vmin=-vmax, vmax=vmax, interpolation="nearest")
            else:
                ax.imshow(images[i].permute(1, 2, 0).cpu().numpy(), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_ylabel(name, fontsize=9)
            if r == 0 and titles:
                ax.set_title(titles[i], fontsize=8)
        if im is not None:
            bar = fig.colorbar(im, ax=list(axes[r]), fraction=0.025, pad=0.01)
            bar.ax.tick_params(labelsize=7)
            bar.set_label("pixel change", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def wrap_name(text: str, width: int = 24) -> str:
    """A file name on lines of ``width`` characters (whole, never cut)."""
    text = str(text)
    return "\n".join(text[i:i + width] for i in range(0, len(text), width))


def face_pairs(original, perturbed, titles=None, *, steps: int | None = None, alpha: float | None = None,
               distance: str | None = None, title: str | None = None, transpose: bool = False):
    """Rows: the original images, their GLI-perturbed versions, and the change (perturbed - original, the mean
    over the colour channels) on a diverging colour map whose ends are +-K x alpha, the L-infinity bound, so that
    the scale is the same for every image and stated on the colour bar. ``transpose``: one row per image (the
    three pictures side by side, as the interactive viewer shows one image). Tensors (N, 3, H, W) in [0, 1]."""
    change = (perturbed - original).mean(dim=1)
    bound = steps * alpha if steps and alpha else float(change.abs().max()) or 1.0
    what = ", ".join(p for p in (f"K = {steps} sign steps" if steps else "", f"alpha = {alpha:g}" if alpha else "",
                                 f"distance {distance.upper() if distance in ('l1', 'l2') else distance}" if distance else "")
                     if p)
    head = title or "GLI-perturbed retain images"
    head = f"{head}\n{what} (change at most K x alpha = {bound:g} per pixel)" if what else head
    names = [wrap_name(t) for t in titles] if titles else None
    if not transpose:
        rows = {"original": original, "GLI-perturbed": perturbed, "change\n(mean over RGB)": change}
        return face_rows(rows, names, head, {"change\n(mean over RGB)": ("PuOr", bound)})
    use_style()
    n = len(original)
    fig, axes = plt.subplots(n, 3, figsize=(8.4, 2.9 * n + 0.6), squeeze=False)
    for i in range(n):
        for j, (what_, img) in enumerate((("original", original[i]), ("GLI-perturbed", perturbed[i]),
                                          ("change (mean over RGB)", change[i]))):
            ax = axes[i][j]
            ax.grid(False)
            ax.set_xticks([])
            ax.set_yticks([])
            if j < 2:
                ax.imshow(img.permute(1, 2, 0).cpu().numpy(), interpolation="nearest")
            else:
                im = ax.imshow(img.cpu().numpy(), cmap="PuOr", vmin=-bound, vmax=bound, interpolation="nearest")
                fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03).set_label("pixel change", fontsize=9)
            if i == 0:
                ax.set_title(what_, fontsize=11)
            if j == 0 and names:
                ax.set_ylabel(names[i].replace("\n", ""), fontsize=9)
    fig.suptitle(head, fontsize=11)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------------- per-example audit

AUDIT_LABELS = {"original": "Original", "retrained_vs_retrained": "Retrained vs\nRetrained",
                "gli-authors": "GLI, authors'\nloop + selection"}


def audit_label(name: str, n: int | None = None) -> str:
    base = AUDIT_LABELS.get(name) or (f"{label(name.split('-')[0])}\n({name.split('-', 1)[1]})" if "-" in name
                                      else label(name))
    return f"{base}\nN={n}" if n is not None else base


def _audit_color(name: str) -> str:
    if name == "original":
        return ORIGINAL_COLOR
    if name == "retrained_vs_retrained":
        return RETRAINED_COLOR
    return method_style(name).color


def _audit_panels(axes, table: pd.DataFrame) -> list:
    """F and the attack's accuracy per row with their intervals (drawn as ranges: a percentile bootstrap need not
    contain the estimate of a maximum such as the attack's best accuracy). Returns the legend handles."""
    x = np.arange(len(table))
    names = [audit_label(m, n) for m, n in zip(table.method, table.n_models, strict=True)]
    for ax, key, ylabel in ((axes[0], "f", "forgetting quality F\n(higher: closer to retraining)"),
                            (axes[1], "attack_acc", "per-example attack accuracy\n(0.5: cannot tell)")):
        for xi, m, v in zip(x, table.method, table[key], strict=True):
            if m == "retrained_vs_retrained":  # a reference: neutral, hollow
                ax.bar(xi, v, color="#eeeeee", edgecolor=RETRAINED_COLOR, hatch="..", lw=1)
            else:
                ax.bar(xi, v, color=_audit_color(m), alpha=0.9, edgecolor="white", hatch="//" if m.endswith("-authors") else "")
        if f"{key}_lo" in table:
            lo, hi = table[f"{key}_lo"].to_numpy(float), table[f"{key}_hi"].to_numpy(float)
            ok = np.isfinite(lo) & np.isfinite(hi)
            ax.vlines(x[ok], lo[ok], hi[ok], color="black", lw=1.6, zorder=4)
            ax.hlines(np.r_[lo[ok], hi[ok]], np.r_[x[ok], x[ok]] - 0.15, np.r_[x[ok], x[ok]] + 0.15, color="black",
                      lw=1.6, zorder=4)
        ax.set_xticks(x, names, fontsize=8)
        ax.set(ylabel=ylabel, ylim=(0, 1.05 if key == "attack_acc" else max(0.3, float(table[key].max()) * 1.25)))
    handles = [Line2D([], [], color="black", lw=1.6, marker="_", ms=10,
                      label="whiskers: 95% bootstrap interval over forget examples (models fixed)")]
    if "f_half" in table and table.f_half.notna().any():
        ok = table.f_half.notna()
        axes[0].scatter(x[ok.to_numpy()], table.f_half[ok], marker="D", s=40, color="white", edgecolor="black", zorder=5)
        handles.append(Line2D([], [], ls="none", marker="D", mfc="white", mec="black",
                              label="F at N/2 (comparable with Retrained vs Retrained)"))
    rvr = table[table.method == "retrained_vs_retrained"]
    if len(rvr):
        axes[0].axhline(float(rvr.f.iloc[0]), color=RETRAINED_COLOR, ls=STYLES["retrained"].ls, lw=1.2)
        axes[1].axhline(float(rvr.attack_acc.iloc[0]), color=RETRAINED_COLOR, ls=STYLES["retrained"].ls, lw=1.2)
        handles.append(Line2D([], [], color=RETRAINED_COLOR, ls=STYLES["retrained"].ls,
                              label=f"Retrained vs Retrained (N={int(rvr.n_models.iloc[0])}): what retraining reaches"))
    axes[1].axhline(0.5, color="#999999", ls=":", lw=1.2)
    handles.append(Line2D([], [], color="#999999", ls=":", label="attack accuracy 0.5: cannot tell"))
    return handles


def _epsilon_panels(axes, examples: pd.DataFrame, methods, cap: float = 50.0):
    finite = examples.epsilon[examples.epsilon < cap]
    top = float(finite.max()) + 0.5 if len(finite) else 1.0
    bins = np.linspace(0, top + 0.5, 20)
    for ax, m in zip(axes, methods, strict=True):
        e = examples[examples.method == m].epsilon
        capped = float((e >= cap).mean())
        ax.hist(e.clip(upper=top + 0.25), bins=bins, color=_audit_color(m), alpha=0.85)
        ax.set_title(f"{audit_label(m).replace(chr(10), ' ')}\n{capped:.0%} at the cap (last bin)", fontsize=9)
        ax.set(xlabel="per-example epsilon")
    axes[0].set_ylabel("forget examples")


def audit_intervals_plot(table: pd.DataFrame, title: str | None = None):
    """F and the attack's accuracy per method with their bootstrap intervals over forget examples
    (columns f, f_lo, f_hi, attack_acc, attack_acc_lo, attack_acc_hi; one row per method, N in the labels)."""
    use_style()
    fig, axes = plt.subplots(1, 2, figsize=(max(9, 1.7 * len(table)), 4.2))
    handles = _audit_panels(axes, table)
    return _finish(fig, title or f"{describe(table)}: per-example audit", handles, ncol=2)


def epsilon_histograms(examples: pd.DataFrame, cap: float = 50.0, title: str | None = None):
    """The per-example epsilon of each method (capped values shown in the last bin)."""
    use_style()
    methods = [m for m in dict.fromkeys(examples.method)]
    fig, axes = plt.subplots(1, len(methods), figsize=(3.2 * len(methods), 3.4), sharey=True, squeeze=False)
    _epsilon_panels(axes[0], examples, methods, cap)
    return _finish(fig, title or "Per-example epsilon: how well the best threshold rule tells unlearned from retrained")


def audit_plot(table: pd.DataFrame, examples: pd.DataFrame, title: str | None = None, cap: float = 50.0):
    """The per-example audit in one figure: F and the attack's accuracy with their intervals (top), and the
    epsilon histogram of every unlearning method (bottom)."""
    use_style()
    methods = [m for m in dict.fromkeys(examples.method) if m not in ("original", "retrained_vs_retrained")]
    fig = plt.figure(figsize=(max(11, 2.8 * len(methods)), 8.2))
    grid = fig.add_gridspec(2, 2 * len(methods), height_ratios=[1.25, 1])
    half = len(methods)
    top = [fig.add_subplot(grid[0, :half]), fig.add_subplot(grid[0, half:])]
    handles = _audit_panels(top, table)
    bottom = [fig.add_subplot(grid[1, 2 * i:2 * i + 2]) for i in range(len(methods))]
    for ax in bottom[1:]:
        ax.sharey(bottom[0])
    _epsilon_panels(bottom, examples, methods, cap)
    return _finish(fig, title or f"{describe(table)}: per-example audit", handles, ncol=2)


# ---------------------------------------------------------------------------------------------------- GLI batch by batch

ABLATION_PANELS = {"test_acc": "test accuracy", "mia": "MIA accuracy", "final_score": "final score (NoMUS)",
                   "task_loss_before": "retain CE before the sign step", "distance_ratio": "logit distance after / before step"}
VARIANT_STYLES = {"honest": Style(GLI_COLOR, "o", "-", 2.4, 6), "authors": Style("#332288", "s", "-", 1.8, 5)}
_VARIANT_CYCLE = [Style(OKABE_ITO["sky"], "D", (0, (4, 2))), Style(OKABE_ITO["green"], "^", (0, (1, 1))),
                  Style(OKABE_ITO["orange"], "v", (0, (3, 1, 1, 1))), Style(OKABE_ITO["purple"], "P", (0, (5, 2))),
                  Style("#999933", "X", "-"), Style("#882255", "h", (0, (2, 1)))]
VARIANT_LABELS = {"honest": "honest (the package's GLI)", "authors": "authors (the authors' loop)"}
AUTHORS_RUN_STYLE = Style(AUTHORS_RUN_COLOR, "x", (0, (1, 1.2)), 1.8, 4)


def _prepared(t: pd.DataFrame) -> pd.DataFrame:
    t = t.copy()
    t["batch"] = t["batch"].fillna(0) if "step" not in t else t["batch"].where(t["step"] > 0, 0)
    if {"distance_after", "distance_before"} <= set(t.columns):
        t["distance_ratio"] = t["distance_after"] / t["distance_before"]
    return t.sort_values("batch")


def variant_style(name: str, i: int) -> Style:
    base = str(name).split(",")[0].strip()
    return VARIANT_STYLES.get(base) or _VARIANT_CYCLE[i % len(_VARIANT_CYCLE)]


def gli_ablation_plot(traj: pd.DataFrame, authors: pd.DataFrame | None = None, panels=("test_acc", "mia",
                      "task_loss_before", "distance_ratio"), retrained: dict | None = None, title: str | None = None):
    """GLI variants batch by batch (``gli_ablations.run_gli_ablations``'s trajectories), one line per variant (the
    package's honest GLI in vermillion), beside the authors' stored run (blue, dotted; ``paper.authors_gli_trajectory``)
    and, with ``retrained`` (its metrics), the Retrained model as the target (black dash-dot). Batch 0 is the Original."""
    use_style()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels), 3.8), squeeze=False)
    variants = list(dict.fromkeys(traj.variant))
    ours = _prepared(traj)
    theirs = _prepared(authors) if authors is not None else None
    for ax, key in zip(axes[0], panels, strict=True):
        for i, v in enumerate(variants):
            st = variant_style(v, i)
            d = ours[ours.variant == v].dropna(subset=[key])
            ax.plot(d.batch, d[key], color=st.color, ls=st.ls, lw=st.lw, marker=st.marker, markevery=5, ms=5,
                    zorder=st.zorder, label=VARIANT_LABELS.get(v, v))
        if theirs is not None and key in theirs:
            d = theirs.dropna(subset=[key])
            ax.plot(d.batch, d[key], color=AUTHORS_RUN_STYLE.color, ls=AUTHORS_RUN_STYLE.ls, lw=AUTHORS_RUN_STYLE.lw,
                    marker="x", markevery=5, ms=6, label="authors' stored run (their 128 px Original)")
        if retrained and key in retrained:
            ax.axhline(retrained[key], color=RETRAINED_COLOR, ls=STYLES["retrained"].ls, lw=1.4,
                       label="Retrained (the target)")
        ax.set(xlabel="batch (0: the Original)", ylabel=ABLATION_PANELS.get(key, key))
    handles = {}
    for ax in axes[0]:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(lab, h)
    if title is None:
        title = f"{describe(traj.drop(columns=['procedure'], errors='ignore'))}: GLI variants batch by batch, no selection"
    return _finish(fig, title, list(handles.values()), ncol=4)


CONTROL_LINES = {"forget": "-", "retain": "--", "nonmember": "-.", "noise": ":"}  # what GLI pushes away from
CONTROL_LABELS = {"forget": "the forget images (GLI)", "retain": "other retain images", "nonmember":
                  "held-out non-members", "noise": "uniform noise"}


def control_plot(traj: pd.DataFrame, retrained: dict | None = None, splits=("retain", "test", "forget"),
                 title: str | None = None):
    """GLI's controls batch by batch (``gli-ablations --push-from``): the MIA and each split's mean loss (minus the
    Retrained model's, given its metrics ``retrained``) per evaluated batch; one colour per variant, one line style
    per source of the images pushed away from (solid: the forget images; dashed, dash-dot, dotted: the controls)."""
    use_style()
    t = traj.dropna(subset=["mia"]).copy()
    t["base"] = t.variant.str.split("+push_", regex=False).str[0]
    t["push"] = t.variant.str.split("+push_", regex=False).str[1].fillna("forget")
    keys = ["mia", *(f"{s}_loss" for s in splits)]
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.8), squeeze=False)
    bases = list(dict.fromkeys(t.base))
    cycle = [GLI_COLOR, OKABE_ITO["blue"], OKABE_ITO["green"], OKABE_ITO["purple"], OKABE_ITO["orange"], OKABE_ITO["sky"]]
    colors = {b: cycle[i % len(cycle)] for i, b in enumerate(bases)}
    for ax, key in zip(axes[0], keys, strict=True):
        ref = (retrained or {}).get(key)
        for (base, push), d in t.groupby(["base", "push"], sort=False):
            d = d.sort_values("step")
            y = d[key] - ref if ref is not None and key != "mia" else d[key]
            ax.plot(d.step, y, color=colors[base], ls=CONTROL_LINES.get(push, "-"), lw=2.0 if push == "forget" else 1.4,
                    marker="o", ms=3)
        if key == "mia" and ref is not None:
            ax.axhline(ref, color=RETRAINED_COLOR, ls=STYLES["retrained"].ls, lw=1.2)
        elif ref is not None:
            ax.axhline(0, color=RETRAINED_COLOR, ls=STYLES["retrained"].ls, lw=1.2)
        split = key.removesuffix("_loss")
        ax.set(xlabel="batch (0: the Original)", ylabel="MIA accuracy" if key == "mia" else
               f"{split} loss" + (" minus the Retrained model's" if ref is not None else ""))
    handles = [Line2D([], [], color=colors[b], lw=2, label=b) for b in bases]
    handles += [Line2D([], [], color=BASELINE_COLOR, ls=ls, label=f"pushed from {CONTROL_LABELS[p]}")
                for p, ls in CONTROL_LINES.items() if p in set(t.push)]
    if retrained:
        handles.append(Line2D([], [], color=RETRAINED_COLOR, ls=STYLES["retrained"].ls, label="the Retrained model"))
    if title is None:
        title = f"{describe(traj.drop(columns=['procedure'], errors='ignore'))}: GLI and its controls batch by batch"
    return _finish(fig, title, handles, ncol=4)


def gli_resolution_plot(runs: dict, authors: pd.DataFrame | None = None, metrics=("mia", "test_acc", "final_score"),
                        published: float | None = None, title: str | None = None):
    """GLI batch by batch from Originals of several resolutions: one column per resolution, one row per metric.
    ``runs``: label -> {"traj": the trajectories of variants ``authors`` (the authors' loop, solid) and ``honest``
    (the package's GLI, dashed), "retrained": the Retrained model's metrics or None}. Beside them the authors'
    stored 128 px run (blue dotted), the Retrained target (black dash-dot) and the Original (batch 0, grey dashed);
    ``published``: the paper's GLI final score, a blue dotted line in the final-score row."""
    use_style()
    fig, axes = plt.subplots(len(metrics), len(runs), figsize=(4.3 * len(runs), 3.0 * len(metrics)), sharex=True,
                             sharey="row", squeeze=False)
    theirs = _prepared(authors) if authors is not None else None
    styles = {"authors": Style(GLI_COLOR, "o", "-", 2.2, 6), "honest": Style(GLI_COLOR, "s", (0, (4, 2)), 1.6, 5)}
    names = {"authors": "GLI, the authors' loop", "honest": "GLI, the package's (honest)"}
    for c, (lab, run) in enumerate(runs.items()):
        t = _prepared(run["traj"])
        for r, key in enumerate(metrics):
            ax = axes[r][c]
            for v, st in styles.items():
                d = t[t.variant == v].dropna(subset=[key])
                if len(d):
                    ax.plot(d.batch, d[key], color=st.color, ls=st.ls, lw=st.lw, marker=st.marker, markevery=5, ms=5,
                            mfc=st.color if v == "authors" else "white", zorder=st.zorder, label=names[v])
            start = t[t.batch == 0][key].dropna()
            if len(start):
                ax.axhline(float(start.iloc[0]), color=ORIGINAL_COLOR, ls=STYLES["original"].ls, lw=1.2, zorder=1,
                           label="Original (batch 0)")
            if run.get("retrained") and key in run["retrained"]:
                ax.axhline(run["retrained"][key], color=RETRAINED_COLOR, ls=STYLES["retrained"].ls, lw=1.4, zorder=1,
                           label="Retrained (the target)")
            if theirs is not None and key in theirs:
                d = theirs.dropna(subset=[key])
                ax.plot(d.batch, d[key], color=AUTHORS_RUN_STYLE.color, ls=AUTHORS_RUN_STYLE.ls, lw=1.6, marker="x",
                        markevery=5, ms=6, zorder=3, label="authors' stored run (their 128 px Original)")
            if published is not None and key == "final_score":
                ax.axhline(published, color=AUTHORS_RUN_COLOR, ls=(0, (6, 3)), lw=1.0,
                           label=f"published GLI final score ({published:.4f})")
            if r == 0:
                ax.set_title(lab)
            if c == 0:
                ax.set_ylabel(METRIC_LABELS.get(key, key))
            if r == len(metrics) - 1:
                ax.set_xlabel("batch (0: the Original)")
    handles = {}
    for ax in axes.ravel():
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(lab, h)
    return _finish(fig, title, list(handles.values()), ncol=3)


# ---------------------------------------------------------------------------------------------------- comparisons

def grouped_bars(ax, frame: pd.DataFrame, group: str, series: str, value: str, styles: dict, order=None,
                 series_order=None, err: str | None = None, points: str | None = None):
    """Bars from 0: one group per ``group`` value, one bar per ``series`` (styles: series -> dict(color, hatch,
    label)); ``err``: a column of 95% half-widths; ``points``: draw each row of a group as a dot (the seeds).
    Missing bars are marked "n/a"."""
    groups = list(order or dict.fromkeys(frame[group]))
    kinds = list(series_order or dict.fromkeys(frame[series]))
    width = 0.8 / max(1, len(kinds))
    for j, s in enumerate(kinds):
        st = styles[s]
        for i, g in enumerate(groups):
            x = i - 0.4 + width * (j + 0.5)
            rows = frame[(frame[group] == g) & (frame[series] == s)]
            vals = rows[value].dropna()
            if not len(vals):
                ax.text(x, 0, "n/a", ha="center", va="bottom", fontsize=7, rotation=90, color="#666666")
                continue
            mean, half, n = t_interval(vals)
            ax.bar(x, mean, width * 0.92, color=st["color"], hatch=st.get("hatch", ""), edgecolor=st.get("edge", "white"),
                   lw=0.8, label=st["label"] if i == 0 else None, zorder=2)
            if np.isfinite(half):
                ax.errorbar(x, mean, yerr=half, color="black", capsize=3, lw=1.2, zorder=4)
            if points and n > 1:
                ax.scatter(np.full(n, x), vals, s=12, facecolors="white", edgecolors="black", lw=0.7, zorder=5)
    ax.axhline(0, color=BASELINE_COLOR, lw=0.8)  # the bars' baseline (solid; never a reference model's colour)
    ax.set_xticks(range(len(groups)), groups)


def dumbbell(ax, methods, before: dict, after: dict, before_label: str, after_label: str, horizontal: bool = False):
    """Per method an arrow from ``before`` (hollow) to ``after`` (filled), in the method's colour."""
    for i, m in enumerate(methods):
        st = method_style(m)
        if m in before and m in after:
            ax.annotate("", xy=(i, after[m]), xytext=(i, before[m]),
                        arrowprops=dict(arrowstyle="->", color=st.color, lw=1.4), zorder=3)
        if m in before:
            ax.plot(i, before[m], marker=st.marker, ms=8, mfc="white", mec=st.color, mew=1.6, ls="none", zorder=4)
        if m in after:
            ax.plot(i, after[m], marker=st.marker, ms=8, color=st.color, ls="none", zorder=5)
    ax.set_xticks(range(len(methods)), [label(m) for m in methods], rotation=30, ha="right")
    return [Line2D([], [], ls="none", marker="o", mfc="white", mec="#444444", ms=7, label=before_label),
            Line2D([], [], ls="none", marker="o", color="#444444", ms=7, label=after_label)]
