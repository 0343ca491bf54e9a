"""The Ray engine: one task per unit on a local Ray cluster (2 CPUs, no dashboard, always shut down). Same rows as
the local engine; a killed task is retried and resumes from its run folder; a failing unit is recorded and the
rest of the grid finishes; an unreachable address is refused before anything runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from gli_helpers.engine import check_address, run_grid_ray, running_file
from gli_helpers.errors import ConfigError, GLIError

from .conftest import descendants

METRICS = ["test_acc", "mia", "forgetting_score", "final_score", "retain_acc", "forget_acc"]


@pytest.fixture(scope="module")
def local_ray(private_ray):
    """This module's own Ray cluster (tests/conftest.py); its process ids."""
    return private_ray


def local_engine(root, out, cache, epochs=2, extra=()):
    cmd = [sys.executable, "-m", "gli_helpers", "run", "--benchmark", "synthetic-mufac", "--root", str(root), "--preset",
           "smoke", "--epochs", str(epochs), "--methods", "finetune,gli", "--seeds", "0,1", "--threads", "1",
           "--trajectory-every", "2", "--cache-dir", str(cache), "--quiet", "--out", str(out), *extra]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return pd.read_csv(Path(out) / "results.csv")


def spec(root, out, cache, epochs=2, **fields):
    from gli_helpers.data import DataConfig
    from gli_helpers.spec import RunSpec
    grid = {"methods": ["finetune", "gli"], "seeds": [0, 1], "trajectory_every": 2, **fields}
    return RunSpec("synthetic-mufac", str(root), str(out), "smoke", overrides={"epochs": epochs},
                   data=DataConfig(cache_dir=str(cache)), engine="ray", threads=1, **grid)


def same_rows(a: pd.DataFrame, b: pd.DataFrame):
    keys = ["method", "seed"]
    a, b = a.sort_values(keys).reset_index(drop=True), b.sort_values(keys).reset_index(drop=True)
    assert a[keys].equals(b[keys])
    pd.testing.assert_frame_equal(a[METRICS], b[METRICS], check_exact=True)


@pytest.mark.slow
def test_ray_grid_gives_the_local_engines_rows(tmp_path, small_mufac, cache_dir, local_ray):
    local = local_engine(small_mufac, tmp_path / "local", cache_dir)
    rows = run_grid_ray(spec(small_mufac, tmp_path / "ray", cache_dir), log=lambda m: None)
    same_rows(pd.read_csv(tmp_path / "ray" / "results.csv"), local)
    assert len(rows) == 8 and set(rows.method) == {"original", "retrained", "finetune", "gli"}
    t_local = pd.read_csv(tmp_path / "local" / "trajectories.csv").sort_values(["method", "seed", "step"])
    t_ray = pd.read_csv(tmp_path / "ray" / "trajectories.csv").sort_values(["method", "seed", "step"])
    pd.testing.assert_frame_equal(t_local[METRICS[:4]].reset_index(drop=True), t_ray[METRICS[:4]].reset_index(drop=True))
    logs = []
    run_grid_ray(spec(small_mufac, tmp_path / "ray", cache_dir), log=logs.append)
    assert len(logs) == 4 and all("reused" in m for m in logs)  # a second call reuses every unit


@pytest.mark.slow
def test_a_killed_task_is_retried_and_resumes_from_its_run_folder(tmp_path, small_mufac, cache_dir, local_ray):
    epochs = 12
    run = tmp_path / "ray"
    killed = []

    def killer():  # kill the workers training the references once an epoch is saved, before the model is
        state = run / "original-resnet18-seed0" / "state.pt"
        deadline = time.time() + 120
        while time.time() < deadline and not killed:
            marker = running_file(run, "original", 0)
            if state.exists() and not (state.parent / "model.pt").exists() and marker.exists():
                pid = json.loads(marker.read_text())["pid"]
                # the id the task wrote, and only if it is a process of this module's own Ray cluster
                if any(pid in descendants(root) for root in local_ray):
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
            time.sleep(0.05)

    watcher = threading.Thread(target=killer)
    watcher.start()
    run_grid_ray(spec(small_mufac, run, cache_dir, epochs, methods=["finetune"], seeds=[0]), log=lambda m: None)
    watcher.join()
    assert killed, "no reference task was caught mid-training"
    local = local_engine(small_mufac, tmp_path / "local", cache_dir, epochs, ["--methods", "finetune", "--seeds", "0"])
    same_rows(pd.read_csv(run / "results.csv"), local)  # resumed training gives the uninterrupted model


@pytest.mark.slow
def test_a_failing_unit_is_recorded_and_the_rest_finishes(tmp_path, small_mufac, cache_dir, local_ray):
    s = spec(small_mufac, tmp_path / "ray", cache_dir, seeds=[0], method_config={"finetune": {"selection": "validation"}})
    with pytest.raises(GLIError, match="1 unit\\(s\\) failed"):  # validation selection without a validation split
        run_grid_ray(s, log=lambda m: None)
    errors = pd.read_csv(tmp_path / "ray" / "errors.csv")
    assert list(errors.method) == ["finetune"] and "validation split" in errors.error[0]
    assert {"original", "retrained", "gli"} <= set(pd.read_csv(tmp_path / "ray" / "results.csv").method)


@pytest.mark.slow
def test_unreachable_or_malformed_address_is_refused_before_anything_runs(tmp_path, small_mufac):
    with pytest.raises(ConfigError, match="cannot reach the Ray head node"):
        check_address("127.0.0.1:9", timeout=2)
    with pytest.raises(ConfigError, match="HOST:PORT"):
        check_address("headnode")
    res = subprocess.run([sys.executable, "-m", "gli_helpers", "run", "--benchmark", "synthetic-mufac", "--root",
                          str(small_mufac), "--preset", "smoke", "--engine", "ray", "--address", "127.0.0.1:9",
                          "--out", str(tmp_path / "run"), "--quiet"], capture_output=True, text=True)
    assert res.returncode == 2 and "cannot reach" in res.stderr and not (tmp_path / "run").exists()


def test_audit_units_on_ray_equal_the_local_ones(tmp_path, small_mufac, cache_dir, local_ray):
    from gli_helpers.audit import run_audit
    base = [sys.executable, "-m", "gli_helpers", "audit", "--benchmark", "synthetic-mufac", "--root", str(small_mufac),
            "--preset", "smoke", "--epochs", "2", "--cache-dir", str(cache_dir), "--quiet", "--models", "3",
            "--methods", "finetune", "--threads", "1"]
    res = subprocess.run([*base, "--out", str(tmp_path / "local")], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    s = spec(small_mufac, tmp_path / "ray", cache_dir, methods=["finetune"], seeds=[0], procedure="honest")
    table = run_audit(s, 3, log=lambda m: None)  # the Ray engine's units (collect_ray), the same spec otherwise
    local = pd.read_csv(tmp_path / "local" / "audit.csv")
    assert list(table.method) == list(local.method)
    assert table.f.tolist() == local.f.tolist() and table.attack_acc.tolist() == pytest.approx(local.attack_acc.tolist())
    for name in ("retrained-seed2", "finetune-seed1"):
        a = json.loads((tmp_path / "local" / "audit_units" / f"{name}.json").read_text())
        b = json.loads((tmp_path / "ray" / "audit_units" / f"{name}.json").read_text())
        assert a["forget_conf"] == b["forget_conf"]
