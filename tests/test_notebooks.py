"""Every notebook: structure (parameters cell, no outputs, python3 kernel) and a headless papermill run at the
smoke preset on the synthetic benchmark, checking the files each must write and their values."""

from __future__ import annotations

import json

import nbformat
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from gli_helpers.reproduce import declared_parameters, notebooks, reproduce

from .conftest import REPO

COMMON = {"BENCHMARK", "DATA_ROOT", "ARCHS", "PRESET", "SEEDS", "RUN_DIR", "FIG_DIR", "DEVICE", "CACHE_DIR",
          "PROGRESS"}
NAMES = ["01_train_models", "02_unlearning_benchmark", "03_distance_loss_ablation", "04_gli_images",
         "05_sota_trajectories", "06_paper_audit", "07_per_example_audit"]


def test_all_notebooks_present():
    assert [p.stem for p in notebooks()] == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_notebook_structure(name):
    path = REPO / "notebooks" / f"{name}.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert all(not c.get("outputs") and not c.get("execution_count") for c in nb.cells if c.cell_type == "code")
    declared = set(declared_parameters(path))
    assert COMMON <= declared, COMMON - declared
    tagged = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    # literals only, one per line, each with a comment
    for line in tagged.source.splitlines():
        assert " = " in line and "  # " in line, line


@pytest.fixture(scope="module")
def executed(tmp_path_factory, small_mufac, small_mucac, cache_dir):
    run = tmp_path_factory.mktemp("nb") / "run"
    figs = run.parent / "figures"
    params = {"BENCHMARK": "synthetic-mufac", "DATA_ROOT": str(small_mufac), "PRESET": "smoke", "SEEDS": [0, 1],
              "RUN_DIR": str(run), "FIG_DIR": str(figs), "CACHE_DIR": str(cache_dir), "PROGRESS": False,
              "MULTILABEL_ROOT": str(small_mucac), "MULTILABEL_RUN_DIR": str(run.parent / "run-mucac"),
              "INTERACTIVE": True, "N_IMAGES": 4, "TRAJECTORY_EVERY": 2, "PROCEDURES": ["default", "authors"],
              "AUDIT_METHODS": "gli,neggrad", "N_MODELS": 6, "BOOTSTRAP": 50, "N_FACES": 3}
    for path in notebooks():
        assert set(params) & set(declared_parameters(path)) >= COMMON - {"DEVICE", "ARCHS"}
    done = reproduce(params, run, progress=False, log=lambda m: None)
    return run, figs, done


def _png_ok(path):
    assert path.is_file() and path.stat().st_size > 10_000, path
    img = np.asarray(Image.open(path).convert("L"), dtype=float)
    assert img.shape[0] > 200 and img.shape[1] > 300 and img.std() > 10, path


def test_every_notebook_executed_without_error(executed):
    _, _, done = executed
    assert [p.stem for p in done] == NAMES
    for p in done:
        nb = nbformat.read(str(p), as_version=4)
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
        assert not errors, (p.name, errors[:1])


def test_01_reference_metrics(executed):
    run, figs, _ = executed
    m = pd.read_csv(run / "01_reference_metrics.csv")
    assert set(m.role) == {"original", "retrained"} and set(m.seed) == {0, 1}
    assert m[["test_acc", "mia", "retain_acc"]].apply(lambda c: c.between(0, 1)).all().all()
    gaps = pd.read_csv(run / "01_gaps_to_retrained.csv").set_index("seed")
    by_role = m.set_index(["seed", "role"])
    for seed in (0, 1):
        for key in ("test_acc", "retain_acc", "forget_acc", "mia"):
            want = by_role.at[(seed, "original"), key] - by_role.at[(seed, "retrained"), key]
            assert gaps.at[seed, f"{key}_gap"] == pytest.approx(want)
    _png_ok(figs / "synthetic-mufac_resnet18_training_curves.png")
    _png_ok(figs / "synthetic-mufac_resnet18_loss_distributions.png")


def test_02_results_have_every_method_and_seed(executed):
    run, figs, _ = executed
    r = pd.read_csv(run / "results.csv")
    main = {"original", "retrained", "finetune", "cf_k", "eu_k", "neggrad", "unsir", "scrub", "bad_teaching", "gli"}
    assert main <= set(r.method)
    assert (r[r.method.isin(main)].groupby("method").seed.nunique() == 2).all()
    for col in ("test_acc", "top2_acc", "mia", "final_score", "retain_acc", "forget_acc"):
        assert r[col].between(0, 1).all(), col
    assert r.forgetting_score.between(0, 0.5).all() and (r.unlearn_seconds >= 0).all()
    assert np.allclose(r.final_score, (r.test_acc + 1 - 2 * r.forgetting_score) / 2)
    assert (r[r.method == "retrained"][["test_acc_gap", "retain_acc_gap", "forget_acc_gap"]] == 0).all().all()
    gli = r[r.method == "gli"].iloc[0]
    retrained = r[(r.method == "retrained") & (r.seed == gli.seed)].iloc[0]
    assert np.isclose(gli.forget_acc_gap, gli.forget_acc - retrained.forget_acc)
    gli_cfg = json.loads(r[r.method == "gli"].method_config.iloc[0])
    assert gli_cfg["perturbation_steps"] == 2 and gli_cfg["distance"] == "l2"
    comp = pd.read_csv(run / "02_paper_comparison.csv")
    assert "final_score paper" in comp.columns and len(comp) == 10
    _png_ok(figs / "synthetic-mufac_resnet18_final_scores.png")


def test_02_compares_procedures(executed):
    run, figs, _ = executed
    r = pd.read_csv(run / "results.csv")
    authors = r[(r.procedure == "authors") & ~r.method.isin(["original", "retrained"])]
    assert set(authors.selection) == {"paper"} and authors.quirks.str.contains("bn_eval").all()
    t = pd.read_csv(run / "02_procedures.csv", index_col=[0, 1])
    gli = t.loc[("resnet18", "gli")]
    assert gli["authors - default"] == pytest.approx(gli["authors mean"] - gli["default mean"])
    assert gli["default seeds"] == 2 and gli["default ci95"] > 0
    _png_ok(figs / "synthetic-mufac_resnet18_procedures.png")


def test_03_ablation_table(executed):
    run, _, _ = executed
    t = pd.read_csv(run / "03_distance_ablation.csv", header=[0, 1], index_col=0)
    assert set(t.index) == {"l2", "l1", "cosine"}
    assert t[("paper", "final_score")].between(0.7, 0.76).all()
    assert t[("ours", "final_score")].between(0, 1).all()


def test_04_and_05_figures(executed):
    _, figs, _ = executed
    _png_ok(figs / "synthetic-mufac_resnet18_gli_images.png")
    _png_ok(figs / "synthetic-mucac_resnet18_gli_images.png")
    _png_ok(figs / "synthetic-mufac_resnet18_trajectories.png")


def test_05_trajectories_recorded(executed):
    run, _, _ = executed
    t = pd.read_csv(run / "trajectories.csv")
    assert {"gli", "finetune", "neggrad"} <= set(t.method)
    assert (t.groupby(["method", "seed"]).step.min() == 0).all() and t.step.max() > 2
    assert t.final_score.between(0, 1).all()


def test_06_audit(executed):
    run, _, _ = executed
    a = pd.read_csv(run / "06_paper_audit.csv")
    assert (~a.consistent).sum() == 24
    claims = pd.read_csv(run / "06_claims.csv")
    assert claims.gli_present.all()


def test_07_per_example_audit(executed):
    run, figs, _ = executed
    t = pd.read_csv(run / "07_audit_intervals.csv").set_index("method")
    assert list(t.index) == ["original", "retrained_vs_retrained", "gli", "neggrad"]
    for key in ("f", "attack_acc"):  # percentile intervals over forget examples, inside [0, 1]
        assert ((0 <= t[f"{key}_lo"]) & (t[f"{key}_lo"] <= t[f"{key}_hi"]) & (t[f"{key}_hi"] <= 1)).all(), key
    assert t.loc["original", "f"] == 0.0 and (t.n_models.loc[["gli", "neggrad"]] == 6).all()
    assert t.loc["retrained_vs_retrained", "n_models"] == 3 and t.attack_acc.notna().all()
    for name in ("audit", "audit_epsilon", "audit_faces"):
        _png_ok(figs / f"synthetic-mufac_resnet18_{name}.png")
