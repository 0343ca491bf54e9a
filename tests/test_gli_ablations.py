"""GLI variants batch by batch (the gli-ablations command), the authors' selection read off a trajectory, and the
authors' stored run shipped as package data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gli_helpers.gli_ablations import paper_selection, variant_config
from gli_helpers.paper import authors_gli_trajectory


def test_paper_selection_keeps_the_best_batch_and_stops_after_patience():
    scores = [0.50, 0.60, 0.62, 0.61, 0.63, 0.62, 0.62, 0.61, 0.90]  # step 0 is the Original
    traj = pd.DataFrame({"step": range(len(scores)), "final_score": scores})
    assert paper_selection(traj) == 4  # 0.63; three batches without gain stop it before 0.90
    assert paper_selection(traj, patience=10) == 8
    original_best = pd.DataFrame({"step": [0, 1, 2], "final_score": [0.9, 0.5, 0.4]})
    assert paper_selection(original_best) == 1  # the Original is not a candidate


def test_variants_are_the_authors_loop_with_one_change():
    authors = variant_config("authors", {}, "multiclass", False, 45)
    assert (authors.quirks, authors.first_batch_train, authors.bn_eval, authors.selection, authors.max_steps,
            authors.diagnostics) == ("authors", True, True, "none", 45, True)
    assert variant_config("x", {"first_batch_train": False}, "multiclass", False, 45).first_batch_train is False
    honest = variant_config("honest", {"quirks": "none", "bn_eval": False}, "multiclass", False, 45)
    assert (honest.quirks, honest.bn_eval, honest.first_batch_train, honest.recompute_forget) == ("none", False, False, False)


def test_authors_stored_run_is_consistent_with_its_own_final_score():
    t = authors_gli_trajectory()
    assert t.batch.iloc[0] == 0 and 24 not in set(t.batch) and t.batch.max() == 41  # batch 24 skipped, stop at 41
    recomputed = (t.test_acc + 1 - 2 * (t.mia - 0.5).abs()) / 2
    assert np.allclose(recomputed, t.final_score, atol=1e-6)
    b2 = t.set_index("batch").loc[2]
    assert b2.task_loss_after / b2.task_loss_before > 10 and b2.distance_after > 3 * b2.distance_before
    assert t.set_index("batch").loc[38, "mia"] == pytest.approx(0.4993, abs=1e-4)


@pytest.mark.slow
def test_gli_ablations_command_runs_resumes_and_refuses_bad_input(tmp_path, small_mufac, cache_dir):
    base = [sys.executable, "-m", "gli_helpers", "gli-ablations", "--benchmark", "synthetic-mufac", "--root",
            str(small_mufac), "--preset", "smoke", "--epochs", "2", "--cache-dir", str(cache_dir), "--quiet",
            "--out", str(tmp_path / "run"), "--results", str(tmp_path / "abl")]
    bad = subprocess.run([*base, "--variants", "authors,nope"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown GLI variant" in bad.stderr and not (tmp_path / "run").exists()
    res = subprocess.run([*base, "--variants", "authors,distance_only,honest", "--batches", "2", "--no-retrained",
                          "--figure", str(tmp_path / "fig.png")], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert not list((tmp_path / "run").glob("retrained-*"))  # the Original alone
    table = [line for line in res.stdout.splitlines() if line.startswith("| ")]
    assert [line.split(" | ")[0] for line in table[1:]] == ["| authors", "| distance_only", "| honest"]
    summary = pd.read_csv(tmp_path / "abl" / "summary.csv")
    assert list(summary.variant) == ["authors", "distance_only", "honest"] and (summary.batches == 2).all()
    assert not [c for c in summary.columns if c.endswith("_gap_last")]
    traj = pd.read_csv(tmp_path / "abl" / "trajectories.csv")
    assert traj.groupby("variant").step.apply(list).to_dict() == {v: [0, 1, 2] for v in summary.variant}
    steps = traj[traj.step > 0]
    assert steps[["task_loss_before", "distance_before", "share_following_distance"]].notna().all().all()
    assert (steps[steps.variant == "distance_only"].share_following_distance == 1.0).all()
    assert (tmp_path / "fig.png").stat().st_size > 10_000 and not list((tmp_path / "abl").glob("*.png"))
    loud = [a for a in base if a != "--quiet"]
    again = subprocess.run([*loud, "--variants", "authors", "--batches", "2"], capture_output=True, text=True)
    assert again.returncode == 0 and "authors: reused" in again.stderr
    assert len(pd.read_csv(tmp_path / "abl" / "trajectories.csv")) == len(traj)  # nothing lost or doubled
    # with the Retrained model now trained, the reused variant gains its gaps to it, in the summary and its record
    retrained = json.loads((tmp_path / "run" / "retrained-resnet18-seed0" / "metrics.json").read_text())["metrics"]
    row = pd.read_csv(tmp_path / "abl" / "summary.csv").iloc[0]
    last = traj[(traj.variant == "authors") & (traj.step == 2)].iloc[0]
    assert row.mia_gap_last == pytest.approx(last.mia - retrained["mia"])
    for split in ("retain", "forget", "test", "unseen"):  # the loss gaps too: inflation or forgetting
        assert row[f"{split}_loss_gap_last"] == pytest.approx(last[f"{split}_loss"] - retrained[f"{split}_loss"])
    record = json.loads((tmp_path / "abl" / "configs" / "authors.json").read_text())
    assert record["retrained_metrics"]["mia"] == pytest.approx(retrained["mia"])
    # --no-retrained trains nothing, but reads the Retrained model the run folder holds: the gaps stay
    kept = subprocess.run([*base, "--variants", "authors", "--batches", "2", "--no-retrained"], capture_output=True,
                          text=True)
    assert kept.returncode == 0, kept.stderr
    assert pd.read_csv(tmp_path / "abl" / "summary.csv").iloc[0].mia_gap_last == pytest.approx(row.mia_gap_last)


@pytest.mark.slow
def test_gli_ablations_controls_evaluated_every_few_batches(tmp_path, cache_dir):
    from gli_helpers.data import make_synthetic_mufac
    root = tmp_path / "mufac"  # enough test families for a held-out share of more than one batch of 64
    make_synthetic_mufac(root, seed=2, families=(12, 16, 4), forget_families=3, image_size=32)
    base = [sys.executable, "-m", "gli_helpers", "gli-ablations", "--benchmark", "synthetic-mufac", "--root",
            str(root), "--preset", "smoke", "--epochs", "2", "--cache-dir", str(cache_dir), "--quiet",
            "--out", str(tmp_path / "run"), "--results", str(tmp_path / "abl"), "--no-retrained", "--batches", "3"]
    no_split = subprocess.run([*base, "--variants", "authors", "--push-from", "nonmember"], capture_output=True, text=True)
    assert no_split.returncode == 2 and "--validation-share" in no_split.stderr and not (tmp_path / "run").exists()
    wrong = subprocess.run([*base, "--push-from", "forget,test"], capture_output=True, text=True)
    assert wrong.returncode == 2 and "unknown --push-from test" in wrong.stderr
    res = subprocess.run([*base, "--variants", "authors", "--push-from", "forget,retain,nonmember,noise",
                          "--validation-share", "0.3", "--eval-every", "2"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    summary = pd.read_csv(tmp_path / "abl" / "summary.csv")
    assert list(summary.variant) == ["authors", "authors+push_retain", "authors+push_nonmember", "authors+push_noise"]
    assert (summary.evaluations == 2).all() and summary.selected_step.isna().all()  # after batches 2 and 3 (the last)
    traj = pd.read_csv(tmp_path / "abl" / "trajectories.csv")
    authors = traj[traj.variant == "authors"]
    assert list(authors.step) == [0, 1, 2, 3] and list(authors.dropna(subset=["mia"]).step) == [0, 2, 3]
    assert authors[authors.step > 0].task_loss_before.notna().all()  # the diagnostics of every batch
    starts = traj[traj.step == 0].mia
    assert starts.nunique() == 1  # the same Original for every control
    assert summary.retain_loss_last.nunique() == 4  # what the steps push away from changes the run
    record = json.loads((tmp_path / "abl" / "configs" / "authors+push_noise.json").read_text())
    assert record["method_config"]["push_from"] == "noise" and record["eval_every"] == 2
    again = subprocess.run([arg for arg in base if arg != "--quiet"] + ["--variants", "authors", "--push-from", "noise",
                           "--validation-share", "0.3", "--eval-every", "2"], capture_output=True, text=True)
    assert again.returncode == 0 and "authors+push_noise: reused" in again.stderr
    assert list(pd.read_csv(tmp_path / "abl" / "summary.csv").variant) == list(summary.variant)  # the folder's summary


@pytest.mark.slow
def test_resolution_figure_labels_each_resolution_and_names_a_missing_folder(tmp_path):
    root = Path(__file__).resolve().parents[1]
    script, committed = root / "scripts" / "gli_resolution_figure.py", root / "results/mufac/regime/gli-ablations"
    other = tmp_path / "64px"
    other.mkdir()
    t = pd.read_csv(committed / "trajectories.csv")  # the committed 48 px results
    t[t.variant == "authors"].to_csv(other / "trajectories.csv", index=False)
    sys.path.insert(0, str(script.parent))
    try:
        from gli_resolution_figure import combined
    finally:
        sys.path.remove(str(script.parent))
    both = combined({"48 px": committed, "64 px": other})
    assert set(both.variant) == {"authors, 48 px", "honest, 48 px", "authors, 64 px"}  # the other variants left out
    out = tmp_path / "fig.png"
    ok = subprocess.run([sys.executable, str(script), str(out), f"48 px={committed}", f"64 px={other}"],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and out.stat().st_size > 10_000, ok.stderr
    missing = subprocess.run([sys.executable, str(script), str(tmp_path / "x.png"), f"128 px={tmp_path / 'none'}"],
                             capture_output=True, text=True)
    assert missing.returncode == 1 and "for 128 px first" in missing.stderr and not (tmp_path / "x.png").exists()
