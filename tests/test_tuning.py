"""tune: every method searched with the same trials on the validation split (Ray Tune + Optuna), the paper's
configuration first, then the chosen and the paper's configuration on the test protocol; bad input refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from gli_helpers.errors import ConfigError
from gli_helpers.tuning import check_space
from gli_helpers.unlearning import METHODS, get_method


@pytest.fixture(scope="module")
def local_ray(private_ray):
    """This module's own Ray cluster (tests/conftest.py)."""
    return private_ray


def test_every_method_declares_a_valid_space_that_holds_its_paper_value():
    from gli_helpers.unlearning import default_config
    for name, m in METHODS.items():
        space = m.search_space
        assert space and ("lr" in space or name == "ssd"), name  # SSD takes no gradient steps: no learning rate
        check_space(name, space, m.config_class)
        paper = default_config(name, "multiclass")
        for key, (_, low, high) in space.items():
            assert low <= getattr(paper, key) <= high, (name, key)
    with pytest.raises(ConfigError, match="does not have"):
        check_space("finetune", {"lr": ("log", 1e-4, 1e-2), "w1": ("log", 1.0, 2.0)}, get_method("finetune").config_class)
    with pytest.raises(ConfigError, match="not a valid range"):
        check_space("finetune", {"lr": ("log", 0.0, 1e-2)}, get_method("finetune").config_class)


def _tune(root, cache, out, *extra):
    return subprocess.run([sys.executable, "-m", "gli_helpers", "tune", "--benchmark", "synthetic-mufac", "--root", str(root),
                           "--preset", "smoke", "--epochs", "2", "--cache-dir", str(cache), "--out", str(out), "--quiet",
                           *extra], capture_output=True, text=True)


@pytest.mark.slow
def test_bad_input_is_refused_before_anything_runs(tmp_path, small_mufac, cache_dir):
    out = tmp_path / "run"
    for extra, why in ((["--trials", "0", "--validation-share", "0.3"], "at least 1"),
                       (["--trials", "2"], "--validation-share"),
                       (["--trials", "2", "--validation-share", "0.3", "--methods", "glee"], "unknown unlearning method"),
                       (["--trials", "2", "--validation-share", "0.3", "--address", "127.0.0.1:9"], "cannot reach")):
        res = _tune(small_mufac, cache_dir, out, *extra)
        assert res.returncode == 2 and why in res.stderr, (extra, res.stderr)
    assert not out.exists()


@pytest.mark.slow
def test_tune_searches_on_validation_and_reports_both_configurations(tmp_path, small_mufac, cache_dir, local_ray,
                                                                      monkeypatch):
    from gli_helpers.data import DataConfig
    from gli_helpers.spec import RunSpec
    from gli_helpers.tuning import read_tune, run_tune
    monkeypatch.chdir(tmp_path)  # relative paths, as typed on a command line: Ray Tune runs each trial elsewhere
    spec = RunSpec("synthetic-mufac", os.path.relpath(small_mufac), "run", "smoke", methods=["finetune"],
                   overrides={"epochs": 2}, data=DataConfig(cache_dir=os.path.relpath(cache_dir), validation_share=0.3),
                   engine="ray", threads=1)
    assert spec.run_dir == str(tmp_path.resolve() / "run") and Path(spec.root).is_absolute()
    table = run_tune(spec, 3, log=lambda m: None)
    assert len(table) == 3 and table.paper_config.tolist()[0] and table.paper_config.sum() == 1
    assert json.loads(table.config[0]) == {"epochs": 2, "lr": 0.001}  # the paper's configuration, first
    assert table.chosen.sum() == 1 and table.loc[table.chosen, "validation_score"].item() == table.validation_score.max()
    assert read_tune(tmp_path / "run" / "tune.csv").equals(table)
    results = pd.read_csv(tmp_path / "run" / "results.csv")
    rows = results[results.method == "finetune"].set_index("procedure")
    assert set(rows.index) == {"honest", "tuned"}
    chosen = json.loads(table.loc[table.chosen, "config"].item())
    tuned = json.loads(rows.loc["tuned", "method_config"])
    assert all(tuned[k] == pytest.approx(v) for k, v in chosen.items()) and tuned["selection"] == "none"
    assert {"original", "retrained"} <= set(results[results.procedure == "tuned"].method)

    logs = []  # a second call (a search stopped and started again) reuses the finished method's trials
    again = run_tune(spec, 3, log=logs.append)
    assert any("3 trials reused" in line for line in logs) and again.equals(table)
    assert read_tune(tmp_path / "run" / "tune.csv").equals(table)
    assert sum("reused" in line for line in logs) == 3  # and both test-protocol rows
