"""What each figure function of ``gli_helpers.plots`` draws: its series, their labels and styles, the reference
lines, the whiskers named in the legend, the title. The ``check_*`` helpers are shared with test_findings.py;
each test that uses one also shows it fails on a figure with a series or reference line dropped."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402

from gli_helpers import plots  # noqa: E402
from gli_helpers.unlearning import METHODS  # noqa: E402

GLI = to_hex(plots.GLI_COLOR)


# ---------------------------------------------------------------------------------------------------- inspection

def legend_texts(fig) -> list[str]:
    texts = [t.get_text() for lg in fig.legends for t in lg.get_texts()]
    for ax in fig.axes:
        if ax.get_legend() is not None:
            texts += [t.get_text() for t in ax.get_legend().get_texts()]
    return texts


def horizontal_lines(ax) -> list[tuple[float, str]]:
    """(y, colour) of every axhline of ``ax``."""
    out = []
    for line in ax.get_lines():
        x, y = line.get_data()
        if len(x) == 2 and list(map(float, x)) == [0.0, 1.0] and float(y[0]) == float(y[1]):
            out.append((float(y[0]), to_hex(line.get_color())))
    return out


def check_reference_lines(ax, original: float | None, retrained: float | None, tol: float = 1e-9):
    """The Original (grey dashed) and the Retrained model (black dash-dot) at these values."""
    lines = horizontal_lines(ax)
    for value, colour, name in ((original, plots.ORIGINAL_COLOR, "Original"), (retrained, plots.RETRAINED_COLOR, "Retrained")):
        if value is None:
            continue
        assert any(abs(y - value) <= tol and c == to_hex(colour) for y, c in lines), (name, value, lines)
    for line in ax.get_lines():
        if to_hex(line.get_color()) in (to_hex(plots.ORIGINAL_COLOR), to_hex(plots.RETRAINED_COLOR)) and \
                len(line.get_xdata()) == 2:
            assert line.get_linestyle() != "-", "reference lines are dashed"


def errorbar_points(ax) -> list[dict]:
    """Every errorbar's mean marker: x, y, colour, marker, filled, and whether it has whiskers."""
    out = []
    for c in ax.containers:
        if isinstance(c, ErrorbarContainer):
            line = c.lines[0]
            x, y = line.get_data()
            out.append({"x": float(np.asarray(x, float)[0]), "y": float(np.asarray(y, float)[0]),
                        "color": to_hex(line.get_color()), "marker": line.get_marker(),
                        "filled": to_hex(line.get_mfc()) != "#ffffff", "whiskers": bool(c.lines[2])})
    return out


def check_points(ax, expected: dict, tol: float = 1e-9):
    """``expected``: tick label -> list of means drawn at that tick (in procedure order)."""
    ticks = {t.get_text(): t.get_position()[0] for t in ax.get_xticklabels()}
    points = errorbar_points(ax)
    for name, means in expected.items():
        assert name in ticks, (name, list(ticks))
        here = sorted((p for p in points if abs(p["x"] - ticks[name]) < 0.45), key=lambda p: p["x"])
        assert [round(p["y"], 9) for p in here] == [round(m, 9) for m in means], (name, here, means)


def line_labels(fig) -> list[str]:
    return [line.get_label() for ax in fig.axes for line in ax.get_lines() if not line.get_label().startswith("_")]


# ---------------------------------------------------------------------------------------------------- data

def _results(procedures=("honest", "authors"), seeds=(0, 1, 2)):
    rng = np.random.default_rng(0)
    cfg = '{"resolution": 48, "epochs": 30}'
    rows = []
    for p in procedures:
        for m in ("original", "retrained", "finetune", "scrub", "gli", "gli_l1"):
            for s in seeds:
                rows.append({"benchmark": "mufac", "arch": "resnet18", "procedure": p, "method": m, "seed": s,
                             "preset": "cpu", "final_score": 0.5 + 0.01 * len(m) + rng.normal(0, 0.01),
                             "method_config": cfg if m in ("original", "retrained") else "{}"})
    r = pd.DataFrame(rows)
    refs = r.method.isin(["original", "retrained"])  # the same reference models under every procedure
    r.loc[refs, "final_score"] = r[refs].groupby(["method", "seed"]).final_score.transform("first")
    return r


# ---------------------------------------------------------------------------------------------------- styles

def test_gli_has_one_fixed_colour_of_its_own_and_references_are_neutral():
    others = {to_hex(plots.method_style(m).color) for m in METHODS if not m.startswith("gli")}
    assert GLI not in others and GLI not in {to_hex(plots.ORIGINAL_COLOR), to_hex(plots.RETRAINED_COLOR)}
    assert {to_hex(plots.method_style(m).color) for m in ("gli", "gli_l1", "gli_cosine", "gli-authors")} == {GLI}
    assert to_hex(plots.method_style("my_new_method").color) != GLI
    # every method differs from every other by its marker or its line style as well as its colour
    keys = [(plots.method_style(m).marker, str(plots.method_style(m).ls)) for m in METHODS]
    assert len(set(keys)) == len(keys)
    assert plots.STYLES["gli"].zorder > max(plots.method_style(m).zorder for m in METHODS if m != "gli")


def test_describe_names_benchmark_architecture_resolution_seeds_and_procedure():
    text = plots.describe(_results())
    assert text == "MUFAC, ResNet18, 48 px, 30 epochs (cpu preset), 3 seeds (0-2), honest and authors procedure"
    assert plots.seeds_text([0]) == "seed 0" and plots.seeds_text([0, 2]) == "2 seeds (0, 2)"


def test_t_interval_uses_the_sample_standard_deviation():
    mean, half, n = plots.t_interval([1.0, 2.0, 3.0])
    assert (mean, n) == (2.0, 3) and half == pytest.approx(4.302653 * 1.0 / np.sqrt(3), rel=1e-6)
    assert np.isnan(plots.t_interval([1.0])[1])


# ---------------------------------------------------------------------------------------------------- scores

def test_procedure_plot_draws_every_method_and_procedure_with_references(monkeypatch):
    r = _results()
    fig = plots.procedure_plot(r, published={"gli": 0.7538})
    ax = fig.axes[0]
    means = r.groupby(["method", "procedure"]).final_score.mean()
    check_points(ax, {plots.label(m): [means[(m, "honest")], means[(m, "authors")]]
                      for m in ("finetune", "scrub", "gli", "gli_l1")})
    refs = r[r.procedure == "honest"].groupby("method").final_score.mean()
    check_reference_lines(ax, refs["original"], refs["retrained"])
    gli = [p for p in errorbar_points(ax) if p["color"] == GLI]
    assert len(gli) == 4 and all(p["whiskers"] for p in gli)  # GLI and GLI (L1), two procedures each
    assert [p["filled"] for p in sorted(gli, key=lambda p: p["x"])] == [True, False, True, False]
    texts = legend_texts(fig)
    assert any("95% t-interval" in t for t in texts) and any("published" in t for t in texts)
    assert any(t.startswith("Original") for t in texts) and any(t.startswith("Retrained") for t in texts)
    assert "Original" not in [t.get_text() for t in ax.get_xticklabels()]  # references are lines, not points
    assert fig._suptitle.get_text().startswith("MUFAC, ResNet18, 48 px, 30 epochs (cpu preset), 3 seeds (0-2)")
    # the checks notice a dropped series or reference line
    with pytest.raises(AssertionError):
        check_points(plots.procedure_plot(r[r.method != "scrub"]).axes[0], {"SCRUB": [means[("scrub", "honest")]]})
    monkeypatch.setattr(plots, "reference_lines", lambda *a, **k: [])
    with pytest.raises(AssertionError):
        check_reference_lines(plots.procedure_plot(r).axes[0], refs["original"], refs["retrained"])


def test_score_plot_keeps_references_as_points_and_lines():
    r = _results(("default",))
    fig = plots.score_plot(r)
    ax = fig.axes[0]
    means = r.groupby("method").final_score.mean()
    check_points(ax, {plots.label(m): [means[m]] for m in means.index})
    check_reference_lines(ax, means["original"], means["retrained"])
    assert any("95% t-interval" in t for t in legend_texts(fig))
    assert "default procedure" in fig._suptitle.get_text()


# ---------------------------------------------------------------------------------------------------- lines

def _traj():
    rows = []
    for m in ("finetune", "gli", "gli_l1"):
        for s in (0, 1):
            for step in range(0, 25, 5):
                rows.append({"benchmark": "synthetic-mufac", "arch": "resnet18", "method": m, "seed": s, "step": step,
                             "test_acc": 0.3 + 0.001 * step + 0.01 * s, "mia": 0.6 - 0.002 * step,
                             "final_score": 0.55 + 0.001 * step})
    return pd.DataFrame(rows)


def test_trajectory_plot_draws_each_method_gli_on_top_and_the_references():
    traj = _traj()
    refs = _results(("default",), (0, 1)).assign(test_acc=0.3, mia=0.6)
    fig = plots.trajectory_plot(traj, refs)
    for ax, metric in zip(fig.axes, ("test_acc", "mia", "final_score"), strict=True):
        drawn = {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}
        assert set(drawn) == {"Fine-tuning", "GLI", "GLI (L1)"}
        gli = drawn["GLI"]
        assert to_hex(gli.get_color()) == GLI and gli.get_zorder() > drawn["Fine-tuning"].get_zorder()
        want = traj[traj.method == "gli"].groupby("step")[metric].mean()
        assert np.allclose(gli.get_ydata(), want.values)
        means = refs.groupby("method")[metric].mean()
        check_reference_lines(ax, means["original"], means["retrained"])
    assert any("range over seeds" in t for t in legend_texts(fig))


def test_gli_ablation_plot_lines_per_variant_stored_run_and_target():
    traj = pd.DataFrame([{"variant": v, "benchmark": "mufac", "arch": "resnet18", "seed": 0, "step": s,
                          "batch": float(s) if s else np.nan, "test_acc": 0.46 - 0.001 * s, "mia": 0.68 - 0.001 * s,
                          "task_loss_before": 0.3, "distance_before": 10.0, "distance_after": 14.0}
                         for v in ("authors", "honest") for s in range(4)])
    authors = pd.DataFrame({"batch": [0, 1, 2], "test_acc": [0.6, 0.59, 0.58], "mia": [0.71, 0.7, 0.69]})
    fig = plots.gli_ablation_plot(traj, authors, ("test_acc", "mia"), retrained={"test_acc": 0.44, "mia": 0.55})
    for ax, key in zip(fig.axes, ("test_acc", "mia"), strict=True):
        labels = {line.get_label(): line for line in ax.get_lines()}
        assert to_hex(labels["honest (the package's GLI)"].get_color()) == GLI
        assert "authors (the authors' loop)" in labels and "authors' stored run (their 128 px Original)" in labels
        check_reference_lines(ax, None, {"test_acc": 0.44, "mia": 0.55}[key])
    assert "GLI variants batch by batch" in fig._suptitle.get_text()


def test_control_plot_a_colour_per_variant_a_line_style_per_source_and_gaps_to_retrained():
    rows = []
    for v in ("authors", "authors+push_noise", "alpha_0.04", "alpha_0.04+push_retain"):
        for s in range(0, 41):
            evaluated = s % 10 == 0
            rows.append({"variant": v, "benchmark": "mufac", "arch": "resnet18", "seed": 0, "step": s,
                         "mia": 0.7 - 0.002 * s if evaluated else np.nan, "retain_loss": 0.3 + 0.01 * s if evaluated else np.nan,
                         "test_loss": 1.5, "forget_loss": 0.2, "task_loss_before": 0.3})
    fig = plots.control_plot(pd.DataFrame(rows), retrained={"mia": 0.55, "retain_loss": 0.25, "test_loss": 1.4,
                                                             "forget_loss": 1.6})
    mia, retain = fig.axes[0], fig.axes[1]
    lines = [line for line in mia.get_lines() if len(line.get_xdata()) > 2]
    assert len(lines) == 4 and all(len(line.get_xdata()) == 5 for line in lines)  # the evaluated batches only
    styles = {(to_hex(line.get_color()), line.get_linestyle()) for line in lines}
    assert len({c for c, _ in styles}) == 2 and {ls for _, ls in styles} == {"-", ":", "--"}
    assert to_hex(lines[0].get_color()) == GLI  # the first variant in GLI's colour, the forget images solid
    first = [line for line in retain.get_lines() if len(line.get_xdata()) > 2][0]
    assert first.get_ydata()[0] == pytest.approx(0.05)  # retain loss 0.30 minus the Retrained model's 0.25
    assert "minus the Retrained model's" in retain.get_ylabel()
    assert {"pushed from uniform noise", "pushed from other retain images", "the Retrained model"} <= set(legend_texts(fig))


def test_gli_resolution_plot_one_column_per_resolution():
    def run(mia_end):
        return {"traj": pd.DataFrame([{"variant": v, "step": s, "batch": float(s) if s else np.nan, "test_acc": 0.5,
                                       "mia": 0.7 - (mia_end if v == "authors" else 0) * s / 3, "final_score": 0.55}
                                      for v in ("authors", "honest") for s in range(4)]),
                "retrained": {"mia": 0.53, "test_acc": 0.47, "final_score": 0.7}}
    fig = plots.gli_resolution_plot({"48 px": run(0.0), "128 px": run(0.1)}, published=0.7538,
                                    title="MUFAC, ResNet18, seed 0")
    axes = np.array(fig.axes).reshape(3, 2)
    assert [ax.get_title() for ax in axes[0]] == ["48 px", "128 px"]
    for ax in axes.ravel():
        labels = [line.get_label() for line in ax.get_lines()]
        assert {"GLI, the authors' loop", "GLI, the package's (honest)", "Original (batch 0)",
                "Retrained (the target)"} <= set(labels), labels
    authors_128 = next(line for line in axes[0][1].get_lines() if line.get_label() == "GLI, the authors' loop")
    assert authors_128.get_ydata()[-1] == pytest.approx(0.6) and to_hex(authors_128.get_color()) == GLI
    check_reference_lines(axes[0][1], 0.7, 0.53)
    assert any(abs(y - 0.7538) < 1e-12 for y, _ in horizontal_lines(axes[2][0]))  # the published score


def test_training_curves_and_loss_distributions():
    hist = [{"epoch": e, "loss": 2.0 / e, "acc": 0.2 * e} for e in range(1, 4)]
    fig = plots.training_curves({"original (resnet18, seed 0)": hist, "retrained (resnet18, seed 0)": hist},
                                title="synthetic MUFAC")
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    assert to_hex(lines["original (resnet18, seed 0)"].get_color()) == to_hex(plots.ORIGINAL_COLOR)
    assert to_hex(lines["retrained (resnet18, seed 0)"].get_color()) == to_hex(plots.RETRAINED_COLOR)
    rng = np.random.default_rng(0)
    losses = {"original": {"forget": rng.gamma(1, 0.3, 200), "unseen": rng.gamma(2, 0.5, 200)}}
    fig = plots.loss_distributions(losses, {"original": 0.64})
    assert fig.axes[0].get_title() == "original: MIA 0.640"
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["forget (n=200)", "unseen (n=200)"]


# ---------------------------------------------------------------------------------------------------- bars

def test_grouped_bars_start_at_zero_and_mark_missing_bars():
    import matplotlib.pyplot as plt
    frame = pd.DataFrame({"split": ["retain", "forget", "forget"], "model": ["a", "a", "b"], "gap": [0.5, -1.0, -0.2]})
    fig, ax = plt.subplots()
    plots.grouped_bars(ax, frame, "split", "model", "gap", {"a": {"color": "#000000", "label": "A"},
                                                             "b": {"color": GLI, "label": "B"}})
    heights = sorted(round(p.get_height(), 6) for p in ax.patches)
    assert heights == [-1.0, -0.2, 0.5] and all(p.get_y() == 0 for p in ax.patches)
    assert [t.get_text() for t in ax.texts] == ["n/a"]  # b has no retain bar
    assert (0.0, to_hex(plots.BASELINE_COLOR)) in horizontal_lines(ax)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt
    plt.close("all")


def test_audit_figures_draw_each_row_with_its_interval_and_the_references():
    table = pd.DataFrame({"benchmark": "mufac", "arch": "resnet18",
                          "method": ["original", "retrained_vs_retrained", "gli", "gli-authors"], "n_models": [8, 4, 8, 8],
                          "f": [0.0, 0.25, 0.06, 0.065], "f_lo": [0.0, 0.24, 0.05, 0.06], "f_hi": [0.0, 0.26, 0.07, 0.07],
                          "f_half": [np.nan, np.nan, 0.07, 0.06], "attack_acc": [1.0, 0.5, 0.89, 0.9],
                          "attack_acc_lo": [1.0, 0.49, 0.88, 0.89], "attack_acc_hi": [1.0, 0.51, 0.9, 0.91]})
    examples = pd.DataFrame({"method": np.repeat(["gli", "gli-authors"], 10),
                             "epsilon": np.tile(np.r_[np.linspace(0, 2, 9), 50.0], 2)})
    fig = plots.audit_plot(table, examples, title="MUFAC audit")
    f_ax, acc_ax = fig.axes[:2]
    assert [round(p.get_height(), 6) for p in f_ax.patches] == [0.0, 0.25, 0.06, 0.065]
    assert to_hex(f_ax.patches[2].get_facecolor()) == GLI
    assert [t.get_text().split("\n")[0] for t in f_ax.get_xticklabels()] == ["Original", "Retrained vs", "GLI",
                                                                               "GLI, authors'"]
    assert any(abs(y - 0.25) < 1e-12 for y, _ in horizontal_lines(f_ax))  # Retrained vs Retrained
    assert {0.5} <= {round(y, 6) for y, _ in horizontal_lines(acc_ax)}  # cannot tell
    assert any("bootstrap interval" in t for t in legend_texts(fig))
    assert [ax.get_title().split("\n")[1] for ax in fig.axes[2:]] == ["10% at the cap (last bin)"] * 2
    fig2 = plots.audit_intervals_plot(table)
    assert [round(p.get_height(), 6) for p in fig2.axes[1].patches] == [1.0, 0.5, 0.89, 0.9]
    assert len(plots.epsilon_histograms(examples).axes) == 2


# ---------------------------------------------------------------------------------------------------- images

def test_face_pairs_states_k_and_alpha_and_scales_the_change_to_the_bound():
    x = torch.rand(3, 3, 16, 16)
    adv = (x + 0.02 * torch.sign(torch.randn_like(x))).clamp(0, 1)
    names = ["a_long_file_name_that_must_not_be_cut.png", "b.png", "c.png"]
    fig = plots.face_pairs(x, adv, names, steps=2, alpha=0.01, distance="l2", title="synthetic MUFAC")
    head = fig._suptitle.get_text()
    assert "K = 2" in head and "alpha = 0.01" in head and "0.02" in head
    assert fig.axes[0].get_title().replace("\n", "") == names[0]  # whole, wrapped
    change = [im for ax in fig.axes for im in ax.get_images() if im.get_cmap().name == "PuOr"]
    assert len(change) == 3 and all(im.get_clim() == pytest.approx((-0.02, 0.02)) for im in change)
    single = plots.face_pairs(x[:1], adv[:1], names[:1], steps=2, alpha=0.01, transpose=True)
    assert [ax.get_title() for ax in single.axes[:3]] == ["original", "GLI-perturbed", "change (mean over RGB)"]
