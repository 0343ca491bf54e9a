"""The audit command end to end on a small synthetic benchmark: units reused, reference rows, bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
import torch

from gli_helpers.audit import _unit, unit_path
from gli_helpers.config import preset
from gli_helpers.errors import GLIError
from gli_helpers.experiment import Experiment


@pytest.mark.slow
def test_audit_command(tmp_path, small_mufac, cache_dir):
    run = tmp_path / "run"
    base = [sys.executable, "-m", "gli_helpers", "audit", "--benchmark", "synthetic-mufac", "--root", str(small_mufac),
            "--preset", "smoke", "--epochs", "2", "--cache-dir", str(cache_dir), "--out", str(run)]
    for extra, why in ((["--models", "1"], "at least 2"), (["--models", "4", "--methods", "original"], "reference rows")):
        bad = subprocess.run([*base, "--quiet", *extra], capture_output=True, text=True)
        assert bad.returncode == 2 and why in bad.stderr, bad.stderr
    res = subprocess.run([*base, "--quiet", "--models", "4", "--methods", "gli,neggrad"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    table = pd.read_csv(run / "audit.csv").set_index("method")
    assert list(table.index) == ["original", "retrained_vs_retrained", "gli", "neggrad"]
    assert (table.n_models == [4, 2, 4, 4]).all() and table.loc["gli", "n_half"] == 2
    assert table.loc["original", "f"] == 0.0  # one model N times: a constant sample, the floor
    assert table[["f", "attack_acc"]].loc[["gli", "neggrad"]].notna().all().all()
    assert ((table.f >= 0) & (table.f <= 1)).all()
    examples = pd.read_csv(run / "audit_examples.csv")
    n_forget = len(examples[examples.method == "gli"])
    assert n_forget > 0 and len(examples) == 4 * n_forget
    assert len(list((run / "audit_units").glob("*.json"))) == 4 + 1 + 2 * 4  # retrained, original, 2 methods

    again = subprocess.run([*base, "--models", "4", "--methods", "gli", "--bootstrap", "30"], capture_output=True,
                           text=True)
    assert again.returncode == 0 and "audit unit" not in again.stderr  # every unit reused
    redone = pd.read_csv(run / "audit.csv").set_index("method")
    assert set(redone.index) == set(table.index)  # neggrad's row kept
    gli = redone.loc["gli"]  # the same F, now inside its interval over forget examples
    assert gli.f == table.loc["gli", "f"] and gli.f_lo <= gli.f <= gli.f_hi
    assert gli.attack_acc_lo <= gli.attack_acc <= gli.attack_acc_hi
    negative = subprocess.run([*base, "--quiet", "--models", "4", "--bootstrap", "-1"], capture_output=True, text=True)
    assert negative.returncode == 2 and "number of resamples" in negative.stderr
    before = (run / "audit.csv").read_bytes()
    other = subprocess.run([*base, "--quiet", "--models", "4", "--methods", "gli", "--epochs", "3"],
                           capture_output=True, text=True)
    assert other.returncode == 2 and "another configuration" in other.stderr
    assert (run / "audit.csv").read_bytes() == before and len(list((run / "audit_units").glob("*.json"))) == 13
    changed = subprocess.run([*base, "--quiet", "--models", "4", "--methods", "gli", "--method-config",
                              '{"gli": {"alpha": 0.02}}'], capture_output=True, text=True)  # gli's units: alpha 0.01
    assert changed.returncode == 2 and "gli seed 0 run with another configuration" in changed.stderr, changed.stderr
    assert (run / "audit.csv").read_bytes() == before and len(list((run / "audit_units").glob("*.json"))) == 13

    authors = subprocess.run([*base, "--quiet", "--models", "4", "--methods", "gli", "--procedure", "authors",
                              "--method-config", '{"gli": {"quirks": "authors"}}'], capture_output=True, text=True)
    assert authors.returncode == 0, authors.stderr
    both = pd.read_csv(run / "audit.csv").set_index("method")
    assert list(both.index) == ["original", "retrained_vs_retrained", "gli", "neggrad", "gli-authors"]  # order kept
    assert both.loc[["original", "gli", "neggrad"], "f"].tolist() == table.loc[["original", "gli", "neggrad"], "f"].tolist()
    config = json.loads(both.loc["gli-authors", "method_config"])
    assert config["quirks"] == "authors" and config["selection"] == "on_test" and config["bn_eval"]
    assert json.loads(both.loc["gli", "method_config"])["selection"] == "none"
    assert len(list((run / "audit_units").glob("gli-authors-seed*.json"))) == 4  # 4 new units, the others reused

    exported = subprocess.run([sys.executable, "-m", "gli_helpers", "export-results", str(run), str(tmp_path / "numbers")],
                              capture_output=True, text=True)  # an audit folder has no results.csv: its tables go
    assert exported.returncode == 0, exported.stderr
    files = sorted(p.name for p in (tmp_path / "numbers").rglob("*") if p.is_file())
    assert {"audit.csv", "audit_examples.csv", "audit.json"} <= set(files)
    assert all(name.endswith((".csv", ".json")) for name in files)  # numbers only, no model or image


def test_a_failing_unit_names_itself_and_keeps_the_finished_ones(tmp_path, mufac_bench):
    exp = Experiment(mufac_bench, preset("smoke"), torch.device("cpu"), tmp_path)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(mufac_bench.num_outputs))
    model(torch.zeros(1, 3, 16, 16))
    _unit(exp, "finetune", 0, {"lr": 0.1}, lambda: model, log=lambda *a: None)

    def broken():
        raise RuntimeError("loss is nan")
    with pytest.raises(GLIError, match="finetune seed 1 failed: RuntimeError: loss is nan.*run the same command again"):
        _unit(exp, "finetune", 1, {"lr": 0.1}, broken, log=lambda *a: None)
    assert unit_path(tmp_path, "finetune", 0).is_file() and not unit_path(tmp_path, "finetune", 1).exists()
