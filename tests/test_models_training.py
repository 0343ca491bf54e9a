"""Models, presets, checkpoints, training (incl. kill-and-resume), run-folder reuse, and the train CLI."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
import torch

from gli_helpers.checkpoint import load_checkpoint, save_checkpoint
from gli_helpers.config import parse_setting, preset
from gli_helpers.errors import CheckpointError, ConfigError
from gli_helpers.models import ARCHS, blocks, build_model
from gli_helpers.runtime import cpu_budget, pick_device
from gli_helpers.train import train_model, train_or_load

from .conftest import REPO

CPU = torch.device("cpu")


@pytest.mark.parametrize("arch, n", [("resnet18", 8), ("wide_resnet50_2", 3), ("efficientnet_b0", 2)])
def test_build_model_shapes_and_blocks(arch, n):
    m = build_model(arch, n).eval()
    with torch.no_grad():
        assert m(torch.rand(2, 3, 32, 32)).shape == (2, n)
    names = [b for b, _ in blocks(m)]
    assert names[-1] in ("fc", "classifier") and len(names) >= 6


def test_unknown_arch_and_preset_list_valid_names():
    with pytest.raises(ConfigError, match="valid: " + ", ".join(ARCHS)):
        build_model("vgg16", 8)
    with pytest.raises(ConfigError, match="valid: paper, cpu, smoke"):
        preset("fast")


def test_presets_follow_the_paper_recipe():
    mufac, ml, young = preset("paper"), preset("paper", "mucac"), preset("paper", "mucac-young")
    assert (mufac.epochs, mufac.lr, mufac.momentum, mufac.milestones, mufac.gamma) == (30, 0.01, 0.9, (10, 20), 0.1)
    assert ml.epochs == 8 and young.gamma == 0.2 and mufac.resolution == 128
    assert (ml.momentum, ml.milestones) == (0.0, (10, 20))  # the benchmark's multi-label recipe: plain SGD
    assert preset("cpu", epochs=3).epochs == 3 and preset("smoke").epochs == 1


@pytest.mark.slow
def test_any_recipe_setting_can_be_overridden_from_the_command_line():
    settings = dict(parse_setting(t) for t in ("momentum=0.8", "milestones=5,10", "augment=false", "weight-decay=5e-4",
                                               "gamma=0.5"))
    assert settings == {"momentum": 0.8, "milestones": (5, 10), "augment": False, "weight_decay": 5e-4, "gamma": 0.5}
    assert parse_setting("milestones=") == ("milestones", ())
    cfg = preset("cpu", **settings)
    assert (cfg.momentum, cfg.milestones, cfg.augment, cfg.epochs) == (0.8, (5, 10), False, 15)
    for bad, why in (("momentum", "KEY=VALUE"), ("nesterov=1", "KEY one of"), ("epochs=ten", "must be of type int"),
                     ("augment=maybe", "true or false")):
        with pytest.raises(ConfigError, match=why):
            parse_setting(bad)
    out = subprocess.run([sys.executable, "-m", "gli_helpers", "train", "--benchmark", "synthetic-mufac", "--root", "x",
                          "--role", "original", "--out", "y", "--set", "nesterov=1"], cwd=REPO, capture_output=True,
                         text=True)
    assert out.returncode != 0 and "nesterov" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("bad, why", [(dict(epochs=0), "epochs must be positive"),
                                      (dict(batch_size=1), "BatchNorm"), (dict(lr=0.0), "lr must be positive"),
                                      (dict(momentum=1.0), "momentum"), (dict(milestones=(20, 10)), "milestones"),
                                      (dict(epochs="3"), "epochs must be of type int"),
                                      (dict(augment=1), "augment must be of type bool")])
def test_invalid_recipes_are_refused_before_training(bad, why):
    with pytest.raises(ConfigError, match=why):
        preset("cpu", **bad)
    assert preset("cpu", lr=1).to_dict() == preset("cpu", lr=1.0).to_dict()
    assert isinstance(preset("cpu", lr=1).lr, float) and preset("cpu", milestones=[3, 5]).milestones == (3, 5)


def test_checkpoint_roundtrip_and_refusals(tmp_path):
    m = build_model("resnet18", 8)
    p = tmp_path / "m.pt"
    save_checkpoint(p, m, arch="resnet18", num_outputs=8, data_fingerprint="abc", config={"x": 1}, metrics={"a": 0.5})
    ck = load_checkpoint(p, arch="resnet18", num_outputs=8, data_fingerprint="abc")
    assert ck["metrics"] == {"a": 0.5} and not list(tmp_path.glob(".*tmp"))
    for kw, what in ((dict(arch="efficientnet_b0"), "arch"), (dict(num_outputs=3), "num_outputs"),
                     (dict(data_fingerprint="zzz"), "data_fingerprint")):
        with pytest.raises(CheckpointError, match=what):
            load_checkpoint(p, **kw)
    (tmp_path / "bad.pt").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_checkpoint(tmp_path / "bad.pt")


@pytest.mark.slow
def test_training_is_repeatable_and_learns(mufac_bench):
    cfg = preset("smoke", epochs=4, lr=0.001, seed=3)  # at the preset's 0.01 it overshoots on some CPUs
    a, info = train_model(mufac_bench, "train", cfg, CPU, progress=False)
    b, _ = train_model(mufac_bench, "train", cfg, CPU, progress=False)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=False):
        assert torch.equal(va, vb), k
    first, last = info["history"][0], info["history"][-1]
    assert len(info["history"]) == 4
    assert last["loss"] < first["loss"] and last["acc"] > first["acc"]  # it learns


def test_multilabel_training_runs(mucac_bench):
    model, info = train_model(mucac_bench, "retain", preset("smoke", "mucac"), CPU, progress=False)
    assert info["history"][0]["loss"] < 0.75  # BCE starts at log 2 = 0.69 and cannot blow up in one epoch


def test_progress_bar_shows_running_loss_and_accuracy_quiet_shows_nothing(mufac_bench, capsys):
    train_model(mufac_bench, "retain", preset("smoke"), CPU, progress=True)
    err = capsys.readouterr().err
    assert "retain epoch 1/1" in err and "loss=" in err and "acc=" in err
    train_model(mufac_bench, "retain", preset("smoke"), CPU, progress=False)
    assert capsys.readouterr().err == ""


def test_cpu_budget_follows_a_cgroup_quota(tmp_path):
    import os
    pinned = len(os.sched_getaffinity(0))
    for text, want in (("max 100000", pinned), ("100000 100000", 1), ("150000 100000", min(2, pinned)),
                       ("50000 100000", 1), ("garbage", pinned)):
        (tmp_path / "cpu.max").write_text(text + "\n")
        assert cpu_budget(tmp_path / "cpu.max") == want, text
    assert cpu_budget(tmp_path / "missing") == pinned


def test_device_choice():
    assert pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert pick_device("cpu").type == "cpu"
    with pytest.raises(ConfigError, match="unknown device 'gpu0'"):
        pick_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA device"):
            pick_device("cuda")


@pytest.mark.slow
def test_roles_train_on_their_splits_with_one_recipe(tmp_path, mufac_bench):
    cfg = preset("smoke")
    for role, split in (("original", "train"), ("retrained", "retain")):
        train_or_load(tmp_path, role, mufac_bench, cfg, CPU, progress=False)
        record = json.loads((tmp_path / f"{role}-resnet18-seed0" / "metrics.json").read_text())
        assert record["train_split"] == split and record["config"] == cfg.to_dict()
        assert record["data_fingerprint"] == mufac_bench.fingerprint(split)
    assert mufac_bench.fingerprint("train") != mufac_bench.fingerprint("retain")
    assert len(mufac_bench.splits["train"]) == len(mufac_bench.splits["retain"]) + len(mufac_bench.splits["forget"])


def test_run_folder_reuses_and_refuses(tmp_path, mufac_bench):
    cfg = preset("smoke")
    _, first = train_or_load(tmp_path, "retrained", mufac_bench, cfg, CPU, progress=False)
    assert not first["reused"] and 0 <= first["test_acc"] <= 1 and first["train_seconds"] > 0
    before = (tmp_path / "retrained-resnet18-seed0" / "model.pt").read_bytes()
    _, again = train_or_load(tmp_path, "retrained", mufac_bench, cfg, CPU, progress=False)
    assert again["reused"] and again["test_acc"] == first["test_acc"]
    with pytest.raises(CheckpointError, match="another configuration"):
        train_or_load(tmp_path, "retrained", mufac_bench, preset("smoke", lr=0.5), CPU, progress=False)
    assert (tmp_path / "retrained-resnet18-seed0" / "model.pt").read_bytes() == before


def test_a_reused_model_is_evaluated_again_on_other_evaluation_splits(tmp_path, mufac_bench, small_mufac, cache_dir):
    """A validation share takes families out of the test split and leaves the train split alone: the stored
    Original is reused, but its numbers must describe the test split of this run, not of the run that trained it."""
    from gli_helpers.data import load_benchmark
    from gli_helpers.metrics import evaluate
    cfg = preset("smoke")
    _, first = train_or_load(tmp_path, "original", mufac_bench, cfg, CPU, progress=False)
    stored = (tmp_path / "original-resnet18-seed0" / "model.pt").read_bytes()
    held_out = load_benchmark("synthetic-mufac", small_mufac, 16, cache_dir=cache_dir, validation_share=0.5)
    assert held_out.fingerprint("train") == mufac_bench.fingerprint("train")
    assert len(held_out.splits["test"]) < len(mufac_bench.splits["test"])
    model, again = train_or_load(tmp_path, "original", held_out, cfg, CPU, progress=False)
    fresh = evaluate(model, held_out, CPU, cfg.eval_batch_size, seed=cfg.seed)
    assert again["reused"] and again["reevaluated"] and again["train_seconds"] == first["train_seconds"]
    assert again["test_acc"] == fresh["test_acc"] and again["mia"] == fresh["mia"] and "validation_acc" in again
    assert (tmp_path / "original-resnet18-seed0" / "model.pt").read_bytes() == stored  # the file is left as it was
    _, same = train_or_load(tmp_path, "original", mufac_bench, cfg, CPU, progress=False)
    assert same["reused"] and "reevaluated" not in same and same["test_acc"] == first["test_acc"]


def _train_cmd(root, out, cache):
    return [sys.executable, "-m", "gli_helpers", "train", "--benchmark", "synthetic-mufac", "--root", str(root),
            "--preset", "smoke", "--epochs", "4", "--role", "original", "--seed", "1", "--out", str(out),
            "--cache-dir", str(cache), "--quiet"]


@pytest.mark.slow
def test_kill_mid_epoch_then_resume_equals_uninterrupted(tmp_path, small_mufac, cache_dir):
    killed = tmp_path / "killed"
    proc = subprocess.Popen(_train_cmd(small_mufac, killed, cache_dir), cwd=REPO)
    state = killed / "original-resnet18-seed1" / "state.pt"
    deadline = time.time() + 120
    while not state.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert state.exists(), "training never wrote its resume state"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "original-resnet18-seed1" / "model.pt").exists(), "the kill came too late to interrupt training"
    saved = torch.load(state, weights_only=True)["info"]["epochs_done"]
    assert 1 <= saved < 4
    resumed = json.loads(subprocess.run(_train_cmd(small_mufac, killed, cache_dir), cwd=REPO, check=True,
                                        capture_output=True, text=True).stdout)
    straight = json.loads(subprocess.run(_train_cmd(small_mufac, tmp_path / "straight", cache_dir), cwd=REPO,
                                         check=True, capture_output=True, text=True).stdout)
    a = load_checkpoint(killed / "original-resnet18-seed1" / "model.pt")["state_dict"]
    b = load_checkpoint(tmp_path / "straight" / "original-resnet18-seed1" / "model.pt")["state_dict"]
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert resumed["test_acc"] == straight["test_acc"]
    assert set(straight) >= {"test_acc", "top2_acc", "mia", "forgetting_score", "final_score", "retain_acc",
                             "forget_acc", "train_seconds", "js_distance"}
    assert 0 <= straight["js_distance"] <= 1 and straight["forgetting_score"] == pytest.approx(abs(straight["mia"] - 0.5))
    assert straight["final_score"] == pytest.approx((straight["test_acc"] + 1 - 2 * straight["forgetting_score"]) / 2)


@pytest.mark.slow
def test_train_cli_reports_gaps_to_the_retrained_model(tmp_path, small_mufac, cache_dir):
    def train(role, *extra):
        cmd = _train_cmd(small_mufac, tmp_path, cache_dir)
        cmd[cmd.index("--role") + 1] = role
        cmd[cmd.index("--epochs") + 1] = "1"
        cmd += ["--set", "momentum=0.5", "--set", "milestones=", *extra]
        return json.loads(subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, text=True).stdout)

    alone = train("original")
    assert "gaps_to_retrained" not in alone  # no Retrained model yet: nothing to compare with
    retrained = train("retrained")
    assert "gaps_to_retrained" not in retrained and retrained["data_fingerprint"] != alone["data_fingerprint"]
    original = train("original")
    assert original["reused"] and original["test_acc"] == alone["test_acc"]
    config = json.loads((tmp_path / "original-resnet18-seed1" / "metrics.json").read_text())["config"]
    assert (config["momentum"], config["milestones"], config["epochs"]) == (0.5, [], 1)
    gaps = original["gaps_to_retrained"]
    for key in ("test_acc", "retain_acc", "forget_acc", "mia"):
        assert gaps[f"{key}_gap"] == pytest.approx(original[key] - retrained[key])
    # other evaluation splits (a validation share taken from test): the Original is evaluated again, but the
    # Retrained model's stored numbers describe the old splits, so no gaps are made from them
    moved = train("original", "--validation-share", "0.3")
    assert moved["reused"] and moved["test_acc"] != original["test_acc"] and "gaps_to_retrained" not in moved
