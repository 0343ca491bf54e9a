"""The real-MUFAC findings (``gli_helpers.findings``) drawn from the committed results/mufac/ files, no data needed:
each figure is checked against numbers read from the files independently of the drawing code (its series, labels,
reference lines), each sentence against the same numbers, and the committed figures against the functions."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from gli_helpers import findings, plots  # noqa: E402
from gli_helpers.paper import authors_gli_trajectory  # noqa: E402
from gli_helpers.unlearning import FIELD_METHODS  # noqa: E402

from .conftest import REPO  # noqa: E402
from .test_plots import GLI, check_points, check_reference_lines, horizontal_lines, legend_texts  # noqa: E402

RESULTS = REPO / "results" / "mufac"
COMMITTED = RESULTS / "figures"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plots.plt.close("all")


def _csv(rel):
    return pd.read_csv(RESULTS / rel)


def test_every_finding_has_a_committed_figure_and_nothing_else_is_left():
    assert sorted(p.stem for p in COMMITTED.glob("*.png")) == sorted(findings.FINDINGS)
    assert {"memorisation", "final_scores", "tuning", "gli_batches", "loss_gaps", "audit"} <= set(findings.FINDINGS)
    others = [p for p in RESULTS.rglob("*.png") if p.parent != COMMITTED]
    assert not others, others  # the figures the findings replaced are gone


@pytest.mark.slow
def test_draw_all_writes_only_into_its_folder(tmp_path):
    import shutil
    root = tmp_path / "mufac"
    shutil.copytree(RESULTS, root, ignore=shutil.ignore_patterns("*.png", "*.md"))
    before = {p: p.stat().st_mtime for p in root.rglob("*")}
    sentences = findings.draw_all(tmp_path / "figs", root=root, log=None)
    assert sorted(p.stem for p in (tmp_path / "figs").iterdir()) == sorted(findings.FINDINGS) == sorted(sentences)
    assert {p: p.stat().st_mtime for p in root.rglob("*")} == before


def test_memorisation_bars_are_the_reference_models_of_each_protocol():
    f = findings.memorisation()
    ax = f.figure.axes[0]
    regime = _csv("regime/results.csv").query("procedure == 'honest'")
    heights = sorted(round(p.get_height(), 9) for p in ax.patches)
    for role in ("original", "retrained"):
        assert round(regime[regime.method == role].forgetting_score.mean(), 9) in heights
    record = json.loads((RESULTS / "paper-resolution/gli-ablations-64/configs/authors.json").read_text())
    assert round(record["original_metrics"]["forgetting_score"], 9) in heights
    assert len(ax.patches) == 2 * 5  # Original and Retrained, five settings
    check_reference_lines(ax, 0.2136, 0.0445)  # the paper's
    orig = regime[regime.method == "original"].forgetting_score
    assert f"0.191 [{orig.mean() - plots.t_interval(orig)[1]:.3f}" in f.sentence and "48 px" in f.sentence


def test_final_scores_every_method_both_procedures_references_and_the_published_score():
    f = findings.final_scores()
    ax = f.figure.axes[0]
    r = _csv("regime/results.csv")
    means = r.groupby(["method", "procedure"]).final_score.mean()
    methods = ["finetune", "cf_k", "neggrad", "unsir", "scrub", "bad_teaching", "eu_k", "gli", "gli_l1", "gli_cosine"]
    check_points(ax, {plots.label(m): [means[(m, "honest")], means[(m, "authors")]] for m in methods})
    check_reference_lines(ax, means[("original", "honest")], means[("retrained", "honest")])
    gli_tick = next(t.get_position()[0] for t in ax.get_xticklabels() if t.get_text() == "GLI")
    assert all(p["color"] == GLI for p in plots_points(ax) if abs(p["x"] - gli_tick) < 0.45)
    stars = [c for c in ax.collections if c.get_offsets().shape[0] == 1 and abs(c.get_offsets()[0][0] - gli_tick) < 1e-9]
    assert any(abs(c.get_offsets()[0][1] - 0.7538) < 1e-9 for c in stars)
    title = f.figure._suptitle.get_text()
    assert all(w in title for w in ("MUFAC", "ResNet18", "48 px", "3 seeds (0-2)", "honest vs authors procedures"))
    assert any("95% t-interval" in t for t in legend_texts(f.figure))
    gli = r[(r.method == "gli") & (r.procedure == "honest")].final_score
    mean, half, _ = plots.t_interval(gli)
    assert f"GLI scores {mean:.3f} [{mean - half:.3f}, {mean + half:.3f}], rank 7 of 8 distinct methods" in f.sentence


def plots_points(ax):
    from .test_plots import errorbar_points
    return errorbar_points(ax)


def test_tuning_draws_paper_and_tuned_scores_per_method():
    f = findings.tuning()
    left, right = f.figure.axes[:2]
    r = _csv("tuned/results.csv")
    tune = _csv("tuned/tune.csv")
    ticks = [t.get_text() for t in right.get_xticklabels()]
    paper_eight = ("finetune", "cf_k", "neggrad", "unsir", "scrub", "bad_teaching", "eu_k", "gli")
    tuned_field = [m for m in FIELD_METHODS if m in set(tune.method)]  # the field's five, as far as they are tuned
    assert sorted(ticks) == sorted(plots.label(m) for m in (*paper_eight, *tuned_field))
    points = {(round(float(x), 9), round(float(y), 9)) for line in right.get_lines()
              for x, y in zip(*line.get_data(), strict=True)}
    for proc in ("honest", "tuned"):
        g = r[(r.procedure == proc) & (r.method == "gli")].final_score.iloc[0]
        assert (float(ticks.index("GLI")), round(g, 9)) in points, proc
    ref = r[r.procedure == "honest"].set_index("method").final_score
    check_reference_lines(right, ref["original"], ref["retrained"])
    assert sum(len(c.get_offsets()) for c in left.collections) == len(tune) + 2 * tune.method.nunique()
    tuned = r[r.procedure == "tuned"].set_index("method").final_score.drop(["original", "retrained"])
    place = int((tuned > tuned["gli"]).sum()) + 1  # counted here, not with the package's ranks()
    assert f"and {place} of {len(tuned)} tuned" in f.sentence
    assert place >= 8  # last of the paper's eight (protocol 5), whatever the field's five add


def test_gli_batches_lines_per_resolution_beside_the_stored_run_and_the_targets():
    f = findings.gli_batches()
    axes = np.array(f.figure.axes).reshape(3, 3)
    assert [ax.get_title().split(" ")[0:2] for ax in axes[0]] == [["48", "px"], ["64", "px"], ["128", "px"]]
    stored = authors_gli_trajectory().dropna(subset=["mia"])
    for col, rel in enumerate(findings.RESOLUTION_SOURCES.values()):
        traj = pd.read_csv(RESULTS / rel / "trajectories.csv")
        retrained = json.loads((RESULTS / rel / "configs" / "authors.json").read_text())["retrained_metrics"]
        for row, key in enumerate(("mia", "test_acc", "final_score")):
            ax = axes[row][col]
            lines = {line.get_label(): line for line in ax.get_lines()}
            for variant, name in (("authors", "GLI, the authors' loop"), ("honest", "GLI, the package's (honest)")):
                want = traj[traj.variant == variant].sort_values("step")[key].to_numpy()
                assert np.allclose(lines[name].get_ydata(), want), (rel, key, variant)
                assert to_hex(lines[name].get_color()) == GLI
            assert np.allclose(lines["authors' stored run (their 128 px Original)"].get_ydata(),
                               stored.dropna(subset=[key])[key])
            start = traj[traj.step == 0][key].iloc[0]
            check_reference_lines(ax, start, retrained[key])
    assert any(abs(y - 0.7538) < 1e-12 for y, _ in horizontal_lines(axes[2][0]))
    assert "0.704 to 0.575 (128 px)" in f.sentence


def test_loss_gaps_are_the_summaries_gaps_to_the_retrained_model():
    f = findings.loss_gaps()
    for ax, rel in zip(f.figure.axes, findings.RESOLUTION_SOURCES.values(), strict=True):
        heights = {round(p.get_height(), 9) for p in ax.patches}
        summary = pd.read_csv(RESULTS / rel / "summary.csv").set_index("variant")
        for split in findings.SPLITS:
            col = f"{split}_loss_gap_last"
            if col in summary:  # 64 and 128 px record them; the 48 px summary predates them
                for v in ("authors", "honest"):
                    assert round(summary.at[v, col], 9) in heights, (rel, split, v)
        if "retain_loss_gap_last" not in summary:
            assert "n/a" in [t.get_text() for t in ax.texts]
    assert "128 px: retain +0.83, forget -0.29, test +1.18, unseen +0.93" in f.sentence
    assert "at: 128 px;" in f.sentence


def test_audit_bars_intervals_and_references_come_from_audit_csv():
    f = findings.audit()
    table = _csv("audit/audit.csv")
    f_ax, acc_ax = f.figure.axes[:2]
    assert [round(p.get_height(), 9) for p in f_ax.patches] == [round(v, 9) for v in table.f]
    assert [round(p.get_height(), 9) for p in acc_ax.patches] == [round(v, 9) for v in table.attack_acc]
    rvr = table.set_index("method").loc["retrained_vs_retrained"]
    assert any(abs(y - rvr.f) < 1e-12 for y, _ in horizontal_lines(f_ax))
    assert any(abs(y - 0.5) < 1e-12 for y, _ in horizontal_lines(acc_ax))
    assert len(f.figure.axes) == 2 + len(table) - 2  # one epsilon histogram per unlearning row
    assert "N = 8" in f.figure._suptitle.get_text() and "32 px" in f.figure._suptitle.get_text()
    assert "GLI 0.888 [0.882, 0.894]" in f.sentence


def test_duplicates_and_the_other_final_scores():
    f = findings.duplicates()
    dedup = _csv("dedup/results.csv").set_index("method")
    assert f"falls from 0.037 to {dedup.at['original', 'forgetting_score']:.3f}" in f.sentence
    check_reference_lines(f.figure.axes[1], dedup.at["original", "final_score"], dedup.at["retrained", "final_score"])
    f32 = findings.final_scores_32px()
    full = _csv("full/results.csv")
    means = full.groupby("method").final_score.mean()
    check_reference_lines(f32.figure.axes[0], means["original"], means["retrained"])
    check_points(f32.figure.axes[0], {"GLI": [means["gli"]], "SCRUB": [means["scrub"]]})
    f128 = findings.final_scores_128px()
    assert "SCRUB (0.718, retain accuracy 0.628) scores above the Retrained model (0.704" in f128.sentence


@pytest.mark.slow
def test_committed_figures_are_what_the_functions_draw(tmp_path):
    """The committed PNGs were redrawn after the last change of the code or the files (make mufac-figures)."""
    from PIL import Image
    findings.draw_all(tmp_path, log=None)
    for name in findings.FINDINGS:
        a = np.asarray(Image.open(COMMITTED / f"{name}.png").convert("L"), dtype=float)
        b = np.asarray(Image.open(tmp_path / f"{name}.png").convert("L"), dtype=float)
        assert a.shape == b.shape and np.abs(a - b).mean() < 1.0, f"{name}.png is stale: run make mufac-figures"


def test_field_baselines_ranks_gli_among_every_method_on_the_seeds_where_the_five_ran():
    f = findings.field_baselines()
    r = _csv("regime/results.csv")
    seeds = sorted(s for s, g in r.groupby("seed") if set(FIELD_METHODS) <= set(g.method))
    assert seeds == [0, 1, 2]  # protocol 2b's three seeds
    r = r[r.seed.isin(seeds)]
    honest = r[r.procedure == "honest"].groupby("method").final_score.mean()
    ax = f.figure.axes[0]
    authors = r[r.procedure == "authors"].groupby("method").final_score.mean()
    check_points(ax, {plots.label(m): [honest[m], authors[m]] for m in [*FIELD_METHODS, "gli", "eu_k"]})
    table = f.table[f.table.procedure == "honest"]
    assert table.at["gli", "rank"] == 12 and int(table["rank"].max()) == 13
    assert "GLI ranks 12 of 13 by final score" in f.sentence and "by Avg Gap" in f.sentence
    assert "3 seeds (0-2)" in f.sentence
    # protocol 2's own figure keeps to the paper's eight methods
    assert "SalUn" not in {t.get_text() for t in findings.final_scores().figure.axes[0].get_xticklabels()}


def test_control_reading_follows_the_protocols_rule():
    assert findings.control_reading(0.9, 0.05) == "does not depend on the forget set"
    assert findings.control_reading(0.8, 0.05) == "does not depend on the forget set"
    assert findings.control_reading(0.2, 0.05) == "depends on the forget set"
    assert findings.control_reading(0.5, 0.05) == "depends partly"
    assert findings.control_reading(0.9, 0.005).startswith("unread")  # the forget variant barely moved the MIA
    assert findings.control_reading(np.nan, np.nan).startswith("unread")


def test_controls_compare_each_control_with_its_own_forget_variant():
    f = findings.controls()
    t = f.table
    summary = _csv("controls/48/summary.csv").set_index("variant")
    assert set(t.push) == {"forget", "retain", "nonmember", "noise"} and len(t) == len(summary)
    for base, d in t.groupby("base"):
        drop = summary.at[base, "mia_start"] - summary.at[base, "mia_last"]
        for r in d[d.push != "forget"].itertuples():
            own = summary.at[f"{base}+push_{r.push}", "mia_start"] - summary.at[f"{base}+push_{r.push}", "mia_last"]
            assert r.mia_drop == pytest.approx(own) and r.share_of_forget_drop == pytest.approx(own / drop)
            assert r.reading == findings.control_reading(own / drop, drop)
            assert f"{r.push} {own:.3f} ({own / drop:.0%})" in f.sentence
    # the figure: the MIA panel holds one line per variant, starting from the Original's MIA
    lines = [ln for ln in f.figure.axes[0].get_lines() if ln.get_marker() == "o"]  # not the Retrained model's line
    assert len(lines) == len(summary)
    assert {round(float(ln.get_ydata()[0]), 9) for ln in lines} == {round(v, 9) for v in summary.mia_start}
    assert sorted(round(float(ln.get_ydata()[-1]), 9) for ln in lines) == sorted(round(v, 9) for v in summary.mia_last)


def test_relearning_reads_every_method_against_the_retrained_models_rise():
    from gli_helpers.relearn import relearn_table
    f = findings.relearning()
    frame = _csv("relearn/relearn.csv")
    expected = relearn_table(frame).set_index("method")
    assert set(f.table.method) == set(frame.method) and {"original", "retrained", "gli"} <= set(frame.method)
    for r in f.table.itertuples():
        assert r.forget_excess == pytest.approx(expected.at[r.method, "forget_excess"])
        rise = frame.set_index("method")
        own = rise.at[r.method, "forget_acc_relearned"] - rise.at[r.method, "forget_acc"]
        ref = rise.at["retrained", "forget_acc_relearned"] - rise.at["retrained", "forget_acc"]
        assert r.forget_excess == pytest.approx(own - ref)
    came_back = expected[(expected.forget_excess >= findings.RELEARN_EXCESS) & ~expected.index.isin(["original", "retrained"])]
    for m in came_back.index:
        assert f"({expected.at[m, 'forget_excess']:+.3f})" in f.sentence
    # one arrow per model in each panel, from its value before to after relearning
    for ax, (before, after) in zip(f.figure.axes[:2], (("forget_acc", "forget_acc_relearned"), ("mia", "mia_relearned")),
                                   strict=True):
        arrows = sorted((round(a.xyann[0], 9), round(a.xy[0], 9)) for a in ax.texts)
        assert arrows == sorted((round(b, 9), round(a, 9)) for b, a in zip(expected[before], expected[after], strict=True))
