"""The one merge of every results file (a group of rows with the same keys is replaced where it stood, new groups
go last, every other stored row is kept), the gap scores, and the upgrade of stored results."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from gli_helpers.errors import ConfigError, DataError
from gli_helpers.io import merge_rows


def test_merge_replaces_groups_in_place_and_keeps_the_rest():
    old = pd.DataFrame({"method": ["a", "b", "b", "c"], "seed": [0, 0, 1, 0], "v": [1, 2, 3, 4]})
    new = pd.DataFrame({"method": ["b", "d"], "seed": [1, 0], "v": [30, 50]})
    merged = merge_rows(old, new, ["method", "seed"])
    assert merged.to_dict("list") == {"method": ["a", "b", "b", "c", "d"], "seed": [0, 0, 1, 0, 0], "v": [1, 2, 30, 4, 50]}
    by_method = merge_rows(old, new, ["method"])  # the whole group "b" is replaced by new's one row
    assert by_method.to_dict("list") == {"method": ["a", "b", "c", "d"], "seed": [0, 1, 0, 0], "v": [1, 30, 4, 50]}
    assert merge_rows(None, new, ["method"]).equals(new)


def test_merge_refuses_stored_rows_without_the_keys():
    with pytest.raises(DataError, match=r"no column\(s\) \['seed'\]"):
        merge_rows(pd.DataFrame({"method": ["a"]}), pd.DataFrame({"method": ["a"], "seed": [0]}), ["method", "seed"])


def test_gap_scores_by_hand():
    from gli_helpers.metrics import gap_scores
    gaps = {"forget_acc_gap": 0.4, "retain_acc_gap": -0.1, "test_acc_gap": 0.05, "mia_gap": -0.15}
    scores = gap_scores(gaps)
    assert scores["avg_gap"] == pytest.approx((0.4 + 0.1 + 0.05 + 0.15) / 4)
    assert scores["tow"] == pytest.approx(0.6 * 0.9 * 0.95)
    assert gap_scores({**gaps, "mia_gap": float("nan")}) == {} and gap_scores({"forget_acc_gap": 0.1}) == {}
    assert gap_scores(dict.fromkeys(gaps, 0.0)) == {"avg_gap": 0.0, "tow": 1.0}  # the Retrained model itself


def test_upgrade_results_adds_the_scores_renames_the_selection_and_changes_nothing_else(tmp_path):
    from gli_helpers.cli import main
    stored = pd.DataFrame({"benchmark": ["mufac"] * 3, "method": ["original", "gli", "finetune"], "seed": [0, 0, 1],
                           "final_score": [0.5, 0.6, 0.7], "test_acc_gap": [0.1, 0.0, None],
                           "retain_acc_gap": [0.0, -0.2, None], "forget_acc_gap": [0.5, 0.3, None],
                           "mia_gap": [0.1, 0.1, None], "selection": ["", "paper", "none"]})
    path = tmp_path / "results.csv"
    stored.to_csv(path, index=False)
    assert main(["upgrade-results", str(path)]) == 0
    new = pd.read_csv(path, keep_default_na=False, na_values=[""])
    assert new.avg_gap.tolist()[:2] == pytest.approx([0.175, 0.15]) and pd.isna(new.avg_gap[2])
    assert new.tow[0] == pytest.approx(0.9 * 1.0 * 0.5)
    assert new.selection.fillna("").tolist() == ["", "on_test", "none"]
    pd.testing.assert_frame_equal(new[["method", "seed", "final_score", "mia_gap"]],
                                  stored[["method", "seed", "final_score", "mia_gap"]])
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    assert main(["upgrade-results", str(tmp_path / "other.csv")]) == 2  # not a results table: refused, left as it is
    assert (tmp_path / "other.csv").read_text() == "a,b\n1,2\n"


def test_export_keeps_the_numbers_and_names_the_data_without_this_machines_paths(tmp_path):
    from gli_helpers.records import export_results
    run = tmp_path / "run"
    (run / "configs").mkdir(parents=True)
    (run / "results.csv").write_text("benchmark,method,seed\nmufac,gli,0\n")
    record = {"source": str(tmp_path / "somewhere" / "mufac.zip"), "data_fingerprint": "abc", "metrics": {"mia": 0.6}}
    (run / "configs" / "gli-seed0.json").write_text(json.dumps(record))
    (run / "model.pt").write_bytes(b"weights")  # a checkpoint: never exported
    copied = export_results(run, tmp_path / "numbers")
    assert sorted(copied) == ["configs/gli-seed0.json", "results.csv"]
    exported = json.loads((tmp_path / "numbers" / "configs" / "gli-seed0.json").read_text())
    assert exported == {**record, "source": "mufac.zip"}
    assert json.loads((run / "configs" / "gli-seed0.json").read_text()) == record  # the run folder is not touched


def _results_file(path, rows):
    cols = ["benchmark", "arch", "procedure", "method", "seed", "test_acc", "mia", "final_score", "test_acc_gap"]
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=cols).to_csv(path, index=False)


def test_export_refuses_to_swap_the_reference_models_other_rows_were_measured_against(tmp_path):
    from gli_helpers.cli import main
    from gli_helpers.records import export_results
    dest, run = tmp_path / "committed", tmp_path / "run"
    stored = [["mufac", "resnet18", "honest", m, 1, acc, 0.6, 0.7, gap] for m, acc, gap in
              (("original", 0.50, 0.05), ("retrained", 0.45, 0.0), ("gli", 0.44, -0.01))]
    _results_file(dest / "results.csv", stored)
    (dest / "retrained-resnet18-seed1").mkdir()
    (dest / "retrained-resnet18-seed1" / "metrics.json").write_text('{"test_acc": 0.45}')
    rerun = [["mufac", "resnet18", "honest", "original", 1, 0.51, 0.6, 0.7, 0.03],
             ["mufac", "resnet18", "honest", "retrained", 1, 0.48, 0.6, 0.7, 0.0],  # retrained elsewhere: differs
             ["mufac", "resnet18", "honest", "ssd", 1, 0.47, 0.6, 0.7, -0.01]]
    _results_file(run / "results.csv", rerun)
    (run / "retrained-resnet18-seed1").mkdir()
    (run / "retrained-resnet18-seed1" / "metrics.json").write_text('{"test_acc": 0.48}')
    before = (dest / "results.csv").read_bytes()

    with pytest.raises(DataError, match=r"retrained of seed 1: test_acc differs by 0\.0300.*\(gli\)"):
        export_results(run, dest)
    assert main(["export-results", str(run), str(dest)]) == 2  # the command refuses too
    assert (dest / "results.csv").read_bytes() == before  # nothing written
    assert (dest / "retrained-resnet18-seed1" / "metrics.json").read_text() == '{"test_acc": 0.45}'

    copied = export_results(run, dest, references="keep")
    out = pd.read_csv(dest / "results.csv").set_index("method")
    assert out.loc["retrained", "test_acc"] == 0.45 and out.loc["original", "test_acc"] == 0.50  # stored kept
    assert out.loc["ssd", "test_acc"] == 0.47 and out.loc["gli", "test_acc"] == 0.44  # the new method added
    assert "retrained-resnet18-seed1/metrics-rerun.json" in copied
    assert json.loads((dest / "retrained-resnet18-seed1" / "metrics.json").read_text()) == {"test_acc": 0.45}
    assert json.loads((dest / "retrained-resnet18-seed1" / "metrics-rerun.json").read_text()) == {"test_acc": 0.48}

    export_results(run, dest, references="replace")
    out = pd.read_csv(dest / "results.csv").set_index("method")
    assert out.loc["retrained", "test_acc"] == 0.48 and out.loc["gli", "test_acc"] == 0.44
    assert json.loads((dest / "retrained-resnet18-seed1" / "metrics.json").read_text()) == {"test_acc": 0.48}


def test_export_of_equal_reference_models_or_without_dependent_rows_needs_no_choice(tmp_path):
    from gli_helpers.records import export_results
    dest, run = tmp_path / "committed", tmp_path / "run"
    _results_file(dest / "results.csv", [["mufac", "resnet18", "honest", "retrained", 1, 0.45, 0.6, 0.7, 0.0],
                                         ["mufac", "resnet18", "honest", "gli", 1, 0.44, 0.6, 0.7, -0.01]])
    _results_file(run / "results.csv", [["mufac", "resnet18", "honest", "retrained", 1, 0.45, 0.6, 0.7, 0.0],
                                        ["mufac", "resnet18", "honest", "ssd", 1, 0.47, 0.6, 0.7, 0.02]])
    export_results(run, dest)  # the same Retrained model: merged as before
    assert sorted(pd.read_csv(dest / "results.csv").method) == ["gli", "retrained", "ssd"]
    _results_file(run / "results.csv", [["mufac", "resnet18", "honest", "retrained", 1, 0.48, 0.6, 0.7, 0.0],
                                        ["mufac", "resnet18", "honest", "gli", 1, 0.43, 0.6, 0.7, -0.05],
                                        ["mufac", "resnet18", "honest", "ssd", 1, 0.47, 0.6, 0.7, -0.01]])
    export_results(run, dest)  # every stored method of the seed rerun against the new model: nothing depends on it
    assert pd.read_csv(dest / "results.csv").set_index("method").loc["retrained", "test_acc"] == 0.48
    with pytest.raises(ConfigError, match="use 'keep' or 'replace'"):
        export_results(run, dest, references="overwrite")


def test_export_of_a_tuning_run_for_new_methods_keeps_the_committed_trials(tmp_path):
    from gli_helpers.records import export_results
    dest, run = tmp_path / "committed", tmp_path / "run"
    cols = "benchmark,arch,method,trial,validation_score,chosen,config\n"
    dest.mkdir()
    run.mkdir()
    (dest / "tune.csv").write_text(cols + 'mufac,resnet18,gli,0,0.52,True,"{""alpha"": 0.01}"\n'
                                   'mufac,resnet18,gli,1,0.50,False,"{""alpha"": 0.02}"\n')
    (run / "tune.csv").write_text(cols + 'mufac,resnet18,ssd,0,0.55,False,"{""alpha"": 10}"\n'
                                  'mufac,resnet18,ssd,1,0.56,True,"{""alpha"": 5}"\n')
    (run / "results.csv").write_text("benchmark,arch,procedure,method,seed,test_acc\nmufac,resnet18,tuned,ssd,0,0.4\n"
                                     "mufac,resnet18,tuned,retrained,0,0.45\n")
    (dest / "results.csv").write_text("benchmark,arch,procedure,method,seed,test_acc\nmufac,resnet18,tuned,gli,0,0.4\n"
                                      "mufac,resnet18,tuned,retrained,0,0.44\n")
    export_results(run, dest, references="keep")  # a Retrained model trained again: the tuning log has no seed column
    tune = pd.read_csv(dest / "tune.csv")
    assert tune[["method", "trial"]].values.tolist() == [["gli", 0], ["gli", 1], ["ssd", 0], ["ssd", 1]]
    assert tune.config.tolist()[0] == '{"alpha": 0.01}'  # JSON text kept as it was
    assert pd.read_csv(dest / "results.csv").set_index("method").test_acc.to_dict() == {"gli": 0.4, "retrained": 0.44,
                                                                                       "ssd": 0.4}


def _audit_files(folder, rows, test_acc_retrained):
    """An audit folder: audit.csv rows (method, n_models, f, attack_acc, seconds), one face per row in
    audit_examples.csv, and a Retrained model's record."""
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame([["mufac", "resnet18", m, n, f, a, s] for m, n, f, a, s in rows],
                 columns=["benchmark", "arch", "method", "n_models", "f", "attack_acc", "seconds"]).to_csv(
        folder / "audit.csv", index=False)
    pd.DataFrame([[m, n, 0, f] for m, n, f, _, _ in rows], columns=["method", "n_models", "example", "epsilon"]).to_csv(
        folder / "audit_examples.csv", index=False)
    (folder / "retrained-resnet18-seed0").mkdir(exist_ok=True)
    (folder / "retrained-resnet18-seed0" / "metrics.json").write_text(
        json.dumps({"source": "/data/mufac.zip", "metrics": {"test_acc": test_acc_retrained}}))


def test_export_of_an_audit_with_retrained_reference_models_keeps_the_committed_rows_on_request(tmp_path):
    from gli_helpers.records import export_results
    dest, run = tmp_path / "committed", tmp_path / "run"
    _audit_files(dest, [("original", 8, 0.0, 0.999, 300.0), ("retrained_vs_retrained", 4, 0.256, 0.504, 1100.0),
                        ("gli", 8, 0.064, 0.888, 440.0)], 0.40)
    _audit_files(run, [("original", 8, 0.0, 0.998, 250.0), ("retrained_vs_retrained", 4, 0.250, 0.515, 900.0),
                       ("ssd", 8, 0.070, 0.880, 60.0)], 0.41)
    before = {name: (dest / name).read_bytes() for name in ("audit.csv", "audit_examples.csv")}

    with pytest.raises(DataError, match=r"retrained_vs_retrained at N = 4: attack_acc differs by 0\.0110.*\(gli\)"):
        export_results(run, dest)
    assert {name: (dest / name).read_bytes() for name in before} == before  # nothing written

    copied = export_results(run, dest, references="keep")
    audit = pd.read_csv(dest / "audit.csv").set_index("method")
    assert audit.attack_acc.to_dict() == {"original": 0.999, "retrained_vs_retrained": 0.504, "gli": 0.888, "ssd": 0.88}
    assert pd.read_csv(dest / "audit_examples.csv").set_index("method").epsilon.to_dict() == {
        "original": 0.0, "retrained_vs_retrained": 0.256, "gli": 0.064, "ssd": 0.07}
    rerun = pd.read_csv(dest / "audit-rerun.csv")  # what the new method was measured against
    assert rerun.method.tolist() == ["original", "retrained_vs_retrained"] and rerun.attack_acc.tolist() == [0.998, 0.515]
    faces = pd.read_csv(dest / "audit_examples-rerun.csv")  # and face by face
    assert faces.method.tolist() == ["original", "retrained_vs_retrained"] and faces.epsilon.tolist() == [0.0, 0.25]
    assert "retrained-resnet18-seed0/metrics-rerun.json" in copied
    assert json.loads((dest / "retrained-resnet18-seed0" / "metrics.json").read_text())["metrics"] == {"test_acc": 0.40}
    assert json.loads((dest / "retrained-resnet18-seed0" / "metrics-rerun.json").read_text())["metrics"] == {
        "test_acc": 0.41}

    export_results(run, dest, references="replace")
    assert pd.read_csv(dest / "audit.csv").set_index("method").attack_acc.to_dict()["retrained_vs_retrained"] == 0.515


def test_the_audit_tables_show_the_reference_rows_of_a_second_training_beside_the_committed(tmp_path):
    import shutil

    from gli_helpers import doc_tables
    from tests.conftest import REPO
    audit = tmp_path / "results" / "mufac" / "audit"
    audit.mkdir(parents=True)
    for name in ("audit.csv", "audit_examples.csv"):
        shutil.copyfile(REPO / "results" / "mufac" / "audit" / name, audit / name)
    without = doc_tables.audit(tmp_path)
    assert "second training" not in without
    rows = pd.read_csv(audit / "audit.csv")
    rows[rows.method.isin(["original", "retrained_vs_retrained"])].assign(attack_acc=[0.987, 0.512]).to_csv(
        audit / "audit-rerun.csv", index=False)
    faces = pd.read_csv(audit / "audit_examples.csv")
    faces[faces.method == "original"].assign(epsilon=0.0).to_csv(audit / "audit_examples-rerun.csv", index=False)
    table = doc_tables.audit(tmp_path).splitlines()
    assert table[:len(without.splitlines())] == without.splitlines()  # the committed rows first, unchanged
    assert table[-2].startswith("| Original, second training | 8 | 0.000 | 0.000 | 0.987 |")
    assert table[-1].startswith("| Retrained vs Retrained, second training | 4 |") and "| 0.512 [" in table[-1]
    assert doc_tables.audit_faces(tmp_path).splitlines()[-1].startswith("| Original, second training | 0.00 |")
