"""The relearning test: fine-tuning an unlearned model on the retain set alone, beside the Retrained model under
the same budget (``run --relearn-steps``, relearn.csv, relearn_table)."""

from __future__ import annotations

import copy
import subprocess
import sys

import pandas as pd
import pytest
import torch

from gli_helpers.config import preset
from gli_helpers.errors import ConfigError
from gli_helpers.experiment import Experiment
from gli_helpers.metrics import evaluate
from gli_helpers.relearn import Relearn, relearn_markdown, relearn_table, relearned
from gli_helpers.runner import unlearn_data
from gli_helpers.train import train_model
from gli_helpers.unlearning import default_config, get_method

CPU = torch.device("cpu")


def test_relearning_brings_back_what_negative_gradient_pushed_down(mufac_bench):
    original, _ = train_model(mufac_bench, "train", preset("smoke", mufac_bench.name, epochs=4, seed=0), CPU, progress=False)
    exp = Experiment(mufac_bench, preset("smoke"), CPU, None)
    inputs = unlearn_data(exp, 0)
    cfg = default_config("neggrad", "multiclass", lr=0.02, epochs=1, selection="none")
    pushed, _ = get_method("neggrad").unlearn(copy.deepcopy(original.eval()), inputs, cfg)
    before = evaluate(pushed, mufac_bench, CPU, seed=0)
    weights = [p.detach().clone() for p in pushed.parameters()]
    # 40 steps: after 20 the collapsed model still predicted one class on some CPUs (Intel Xeon, AVX-512)
    _, after = relearned(pushed, exp, inputs, Relearn(steps=40))
    assert after["forget_acc"] > before["forget_acc"] + 0.05  # the forget images come back with retain data alone
    assert after["retain_acc"] > before["retain_acc"]
    assert all(torch.equal(w, p) for w, p in zip(weights, pushed.parameters(), strict=True))  # its input is kept
    with pytest.raises(ConfigError, match="--relearn-steps must be at least 1"):
        Relearn(steps=0)


def test_relearn_table_measures_the_rise_beyond_the_retrained_models():
    row = dict(benchmark="b", arch="a", procedure="honest", seed=0, relearn_steps=5, relearn_lr=0.01,
               relearn_momentum=0.9, test_acc=0.5, test_acc_relearned=0.5, retain_acc=0.9, retain_acc_relearned=0.9)
    frame = pd.DataFrame([
        {**row, "method": "retrained", "forget_acc": 0.50, "forget_acc_relearned": 0.55, "mia": 0.50, "mia_relearned": 0.52},
        {**row, "method": "neggrad", "forget_acc": 0.30, "forget_acc_relearned": 0.60, "mia": 0.45, "mia_relearned": 0.60},
        {**row, "method": "gli", "forget_acc": 0.80, "forget_acc_relearned": 0.82, "mia": 0.60, "mia_relearned": 0.61}])
    t = relearn_table(frame).set_index("method")
    assert t.loc["neggrad", "forget_excess"] == pytest.approx(0.25) and t.loc["neggrad", "mia_excess"] == pytest.approx(0.13)
    assert t.loc["gli", "forget_excess"] == pytest.approx(-0.03) and t.loc["retrained", "forget_excess"] == 0
    assert "| honest | NegGrad | 0.300 -> 0.600 | +0.250 | 0.450 -> 0.600 | +0.130 |" in relearn_markdown(
        frame, {"neggrad": "NegGrad"})


@pytest.mark.slow
def test_run_with_relearning_writes_relearn_csv_and_reuses_only_the_same_budget(tmp_path, small_mufac, cache_dir):
    base = [sys.executable, "-m", "gli_helpers", "run", "--benchmark", "synthetic-mufac", "--root", str(small_mufac),
            "--preset", "smoke", "--epochs", "2", "--cache-dir", str(cache_dir), "--methods", "finetune,neggrad",
            "--procedure", "honest", "--trajectory-every", "0", "--out", str(tmp_path / "run")]
    ray = subprocess.run([*base, "--relearn-steps", "3", "--engine", "ray"], capture_output=True, text=True)
    assert ray.returncode == 2 and "local engine" in ray.stderr and not (tmp_path / "run").exists()
    first = subprocess.run([*base, "--relearn-steps", "3"], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert "relearning (3 steps" in first.stdout and "| honest | NegGrad |" in first.stdout
    rel = pd.read_csv(tmp_path / "run" / "relearn.csv")
    assert sorted(rel.method) == ["finetune", "neggrad", "original", "retrained"] and (rel.relearn_steps == 3).all()
    assert rel[["forget_acc", "forget_acc_relearned", "mia", "mia_relearned"]].notna().all().all()
    results = pd.read_csv(tmp_path / "run" / "results.csv").set_index("method")
    for r in rel.itertuples():  # "before" is the model the results row reports
        assert r.forget_acc == pytest.approx(results.loc[r.method, "forget_acc"])
    again = subprocess.run([*base, "--relearn-steps", "3"], capture_output=True, text=True)
    assert again.returncode == 0 and again.stderr.count(", reused)") == 2, again.stderr
    assert pd.read_csv(tmp_path / "run" / "relearn.csv").equals(rel)  # the same numbers, nothing doubled
    other = subprocess.run([*base, "--relearn-steps", "4"], capture_output=True, text=True)
    assert other.returncode == 0 and ", reused)" not in other.stderr  # another budget: the methods run again
    assert (pd.read_csv(tmp_path / "run" / "relearn.csv").relearn_steps == 4).all()
