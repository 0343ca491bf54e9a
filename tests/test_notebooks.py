"""Every notebook: structure (parameters cell, no outputs, python3 kernel, a closing "what this shows" and a summary
computed from its own results) and a headless papermill run at the smoke preset on the synthetic benchmark,
checking the files each must write and their values; notebook 08 (the real-MUFAC findings, from the committed
results alone) and notebook 06 pointed at a committed results file, each writing only to its RUN_DIR."""

from __future__ import annotations

import json

import nbformat
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from gli_helpers.reproduce import declared_parameters, notebooks, reproduce

from .conftest import REPO

COMMON = {"BENCHMARK", "DATA_ROOT", "ARCHS", "PRESET", "RUN_DIR", "FIG_DIR", "DEVICE", "CACHE_DIR", "PROGRESS"}
NAMES = ["01_train_models", "02_unlearning_benchmark", "03_distance_loss_ablation", "04_gli_images",
         "05_sota_trajectories", "06_paper_audit", "07_per_example_audit", "08_mufac_findings"]
# the parameters each notebook must declare (06 and 08 read result files only: no data, no models)
DECLARED = {name: COMMON | {"SEEDS"} for name in NAMES[:5]}
DECLARED |= {"06_paper_audit": {"BENCHMARK", "RUN_DIR", "RESULTS", "PROCEDURE"},
             "07_per_example_audit": COMMON | {"PROCEDURE", "METHOD_CONFIG", "N_MODELS"},
             "08_mufac_findings": {"RESULTS_DIR", "RUN_DIR"}}
RESULTS = REPO / "results" / "mufac"


def _data_files(root):
    """Every committed result file but the prose (others may edit a README while the tests run)."""
    return {p: p.stat().st_mtime for p in root.rglob("*") if p.is_file() and p.suffix != ".md"}


def _errors(path):
    nb = nbformat.read(str(path), as_version=4)
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]


def _text(path) -> str:
    nb = nbformat.read(str(path), as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def test_all_notebooks_present():
    assert [p.stem for p in notebooks()] == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_notebook_structure(name):
    path = REPO / "notebooks" / f"{name}.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert all(not c.get("outputs") and not c.get("execution_count") for c in nb.cells if c.cell_type == "code")
    declared = set(declared_parameters(path))
    assert DECLARED[name] <= declared, DECLARED[name] - declared
    tagged = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    # literals only, one per line, each with a comment
    for line in tagged.source.splitlines():
        assert " = " in line and "  # " in line, line
        assert "not used" not in line and "01-06" not in line, line  # parameter comments that are true
    # the shared set-up comes from the package, never a copied helper
    assert not any("def experiment(" in c.source for c in nb.cells), name
    # it ends with what it shows and a summary printed from its own results
    assert nb.cells[-2].cell_type == "markdown" and nb.cells[-2].source.startswith("## What this shows"), name
    assert nb.cells[-1].cell_type == "code" and "print(" in nb.cells[-1].source, name


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
        if path.stem in NAMES[:5]:
            assert set(params) & set(declared_parameters(path)) >= COMMON - {"DEVICE", "ARCHS"}
    done = reproduce(params, run, progress=False, log=lambda m: None)
    return run, figs, done


def _png_ok(path):
    assert path.is_file() and path.stat().st_size > 10_000, path
    img = np.asarray(Image.open(path).convert("L"), dtype=float)
    assert img.shape[0] > 200 and img.shape[1] > 300 and img.std() > 10, path


@pytest.mark.slow
def test_every_notebook_executed_without_error(executed):
    _, _, done = executed
    assert [p.stem for p in done] == NAMES
    for p in done:
        errors = _errors(p)
        assert not errors, (p.name, errors[:1])


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_02_compares_procedures(executed):
    run, figs, _ = executed
    r = pd.read_csv(run / "results.csv")
    authors = r[(r.procedure == "authors") & ~r.method.isin(["original", "retrained"])]
    assert set(authors.selection) == {"on_test"} and authors.quirks.str.contains("bn_eval").all()
    t = pd.read_csv(run / "02_procedures.csv", index_col=[0, 1])
    gli = t.loc[("resnet18", "gli")]
    assert gli["authors - default"] == pytest.approx(gli["authors mean"] - gli["default mean"])
    assert gli["default seeds"] == 2 and gli["default ci95"] > 0
    _png_ok(figs / "synthetic-mufac_resnet18_procedures.png")


@pytest.mark.slow
def test_03_ablation_table(executed):
    run, _, _ = executed
    t = pd.read_csv(run / "03_distance_ablation.csv", header=[0, 1], index_col=0)
    assert set(t.index) == {"l2", "l1", "cosine"}
    assert t[("paper", "final_score")].between(0.7, 0.76).all()
    assert t[("ours", "final_score")].between(0, 1).all()


@pytest.mark.slow
def test_04_and_05_figures(executed):
    _, figs, _ = executed
    _png_ok(figs / "synthetic-mufac_resnet18_gli_images.png")
    _png_ok(figs / "synthetic-mucac_resnet18_gli_images.png")
    _png_ok(figs / "synthetic-mufac_resnet18_trajectories.png")


@pytest.mark.slow
def test_05_trajectories_recorded(executed):
    run, _, _ = executed
    t = pd.read_csv(run / "trajectories.csv")
    assert {"gli", "finetune", "neggrad"} <= set(t.method)
    assert (t.groupby(["method", "seed"]).step.min() == 0).all() and t.step.max() > 2
    assert t.final_score.between(0, 1).all()


@pytest.mark.slow
def test_06_audit(executed):
    run, _, _ = executed
    a = pd.read_csv(run / "06_paper_audit.csv")
    assert (~a.consistent).sum() == 24
    claims = pd.read_csv(run / "06_claims.csv")
    assert claims.gli_present.all()


@pytest.mark.slow
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


@pytest.mark.slow
def test_07_reruns_protocol_7_the_authors_gli_loop_and_selection(executed, small_mufac, cache_dir):
    """PROCEDURE and METHOD_CONFIG reach the audit: GLI as the authors' loop under the authors' procedure, rows named
    gli-authors beside the honest ones, the Retrained models reused."""
    run, figs, _ = executed
    params = {"BENCHMARK": "synthetic-mufac", "DATA_ROOT": str(small_mufac), "PRESET": "smoke", "RUN_DIR": str(run),
              "FIG_DIR": str(figs), "CACHE_DIR": str(cache_dir), "PROGRESS": False, "AUDIT_METHODS": "gli",
              "PROCEDURE": "authors", "METHOD_CONFIG": {"gli": {"quirks": "authors"}}, "N_MODELS": 6, "BOOTSTRAP": 20}
    done = reproduce(params, run / "protocol-7", "07", progress=False, log=lambda m: None)
    assert not _errors(done[0])
    t = pd.read_csv(run / "07_audit_intervals.csv").set_index("method")
    assert list(t.index) == ["original", "retrained_vs_retrained", "gli-authors"]
    config = json.loads(t.at["gli-authors", "method_config"])
    assert config["quirks"] == "authors" and config["selection"] == "on_test" and config["bn_eval"]
    audit = pd.read_csv(run / "audit.csv")
    assert {"gli", "gli-authors"} <= set(audit.method)  # the honest rows are kept
    assert "gli-authors: F" in _text(done[0])


@pytest.mark.slow
def test_08_shows_the_real_mufac_findings_from_the_committed_files_alone(tmp_path):
    """No dataset, no model: notebook 08 reads results/mufac/ and writes only to RUN_DIR/08_findings/, every finding's
    figure and table, and prints each finding's sentence."""
    from gli_helpers import findings
    before = _data_files(RESULTS)
    run = tmp_path / "run"
    done = reproduce({"RUN_DIR": str(run), "RESULTS_DIR": str(RESULTS), "BENCHMARK": "no-such-benchmark",
                      "DATA_ROOT": str(tmp_path / "no-data")}, run, "08", progress=False, log=lambda m: None)
    assert [p.stem for p in done] == ["08_mufac_findings"] and not _errors(done[0])
    out = run / "08_findings"
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.{e}" for n in findings.FINDINGS for e in ("csv", "png"))
    assert sorted(p.name for p in run.iterdir()) == ["08_findings", "notebooks"]  # nothing else written
    assert _data_files(RESULTS) == before
    for name in findings.FINDINGS:
        _png_ok(out / f"{name}.png")
    text = _text(done[0])
    assert "rank 7 of 8 distinct methods" in text and "0.704 to 0.575 (128 px)" in text
    nb = nbformat.read(str(done[0]), as_version=4)
    images = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert images == len(findings.FINDINGS)  # each figure shown where its question is


@pytest.mark.slow
def test_06_checks_a_committed_results_file_and_writes_only_its_run_folder(tmp_path):
    before = _data_files(RESULTS)
    run = tmp_path / "run"
    done = reproduce({"BENCHMARK": "mufac", "RUN_DIR": str(run), "RESULTS": str(RESULTS / "regime" / "results.csv"),
                      "PROCEDURE": "authors"}, run, "06", progress=False, log=lambda m: None)
    assert not _errors(done[0])
    claims = pd.read_csv(run / "06_claims.csv")
    regime = pd.read_csv(RESULTS / "regime" / "results.csv")
    gli = regime[(regime.procedure == "authors") & (regime.method == "gli")].final_score.mean()
    assert claims.gli.iloc[0] == pytest.approx(gli) and not claims.gli_wins.iloc[0]
    assert _data_files(RESULTS) == before
    assert "the claim does not hold" in _text(done[0])
