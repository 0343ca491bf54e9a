"""The one merge of every results file (a group of rows with the same keys is replaced where it stood, new groups
go last, every other stored row is kept), the gap scores, and the upgrade of stored results."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from gli_helpers.errors import DataError
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
