"""Every unlearning method on smoke data, the properties each must have, and the registry."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch

from gli_helpers.config import preset
from gli_helpers.errors import ConfigError
from gli_helpers.experiment import Experiment
from gli_helpers.metrics import evaluate
from gli_helpers.models import blocks
from gli_helpers.runner import run_benchmark, unlearn_data
from gli_helpers.train import train_model
from gli_helpers.unlearning import (
    METHODS,
    PAPER_METHODS,
    default_config,
    distinct_methods,
    get_method,
    gli_perturb,
    parse_method_overrides,
    parse_methods,
)
from gli_helpers.unlearning.eu_k import reinitialize_last

CPU = torch.device("cpu")
FAST = {"epochs": 1}  # one pass is enough to see each method act


def grid(exp: Experiment, methods, log=lambda *a: None, **fields):
    """``run_benchmark`` on an experiment the test built around an in-memory benchmark: the run specification
    that describes it (its benchmark, run folder, smoke recipe and data options), with the grid's fields."""
    from gli_helpers.data import DataConfig
    from gli_helpers.spec import RunSpec
    base = preset("smoke", exp.bench.name).to_dict()
    changed = {k: v for k, v in exp.cfg.to_dict().items() if v != base[k] and k not in ("arch", "seed")}
    spec = RunSpec(exp.bench.name, exp.run_dir, exp.run_dir, "smoke", exp.cfg.arch, methods=methods,
                   overrides=changed, data=DataConfig(**exp.bench.data_config), **fields)
    return run_benchmark(spec, log, experiment=exp)


def trained(bench, epochs=3, **recipe):
    model, _ = train_model(bench, "train", preset("smoke", bench.name, epochs=epochs, seed=0, **recipe), CPU,
                           progress=False)
    return model


@pytest.fixture(scope="module")
def mufac_setup(mufac_bench):
    exp = Experiment(mufac_bench, preset("smoke"), CPU, None)
    return trained(mufac_bench), unlearn_data(exp, 0), mufac_bench


@pytest.fixture(scope="module")
def mucac_setup(mucac_bench):
    exp = Experiment(mucac_bench, preset("smoke", "mucac"), CPU, None)
    return trained(mucac_bench, 1), unlearn_data(exp, 0), mucac_bench


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name", distinct_methods())
def test_method_changes_weights_keeps_them_finite(mufac_setup, name):
    original, data, bench = mufac_setup
    model = copy.deepcopy(original)
    before = weights(model)
    steps = []
    cfg = default_config(name, "multiclass", **({"selection": "none"} if name == "gli" else {}), **FAST)
    out, report = get_method(name).unlearn(model, data, cfg, on_step=lambda s, m: steps.append(s))
    after = out.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert all(torch.isfinite(v.float()).all() for v in after.values())
    assert steps == list(range(1, report["optimizer_steps"] + 1))  # every step reported, in order (SSD takes none)
    from gli_helpers.metrics import predict
    # the model it hands back is the one it changed: its outputs on the forget images moved
    assert not torch.allclose(predict(out, data.forget, CPU), predict(original, data.forget, CPU))


# What each method must move on the multi-label task, with BatchNorm frozen so that only its gradient steps act:
# (split, the quantity, the direction). Fine-tuning-like methods lower the retain loss; the methods that push the
# forget images away raise their loss, or (SCRUB, whose max pass is its forgetting step) their KL to the Original;
# Random Labels and SalUn pull the forget images toward their wrong labels ("wrong": the loss on those), which ends
# below fine-tuning's with the same budget ("below finetune": the small model here is barely trained, so a few steps
# on retain images move every loss by themselves, and the forget set is a small share of the batches). SSD runs
# with alpha 1 (at its default of 10 no parameter of this model is ten times more important to the forget set, and
# it rightly changes nothing).
MULTILABEL_DIRECTION = {
    "finetune": ("retain", "loss", "down"), "cf_k": ("retain", "loss", "down"), "eu_k": ("forget", "loss", "up"),
    "neggrad": ("forget", "loss", "up"), "unsir": ("retain", "loss", "down"), "scrub": ("forget", "kl", "up"),
    "bad_teaching": ("forget", "loss", "up"), "gli": ("retain", "loss", "down"),
    "neggrad_plus": ("retain", "loss", "down"), "l1_sparse": ("retain", "loss", "down"),
    "random_labels": ("forget", "wrong", "below finetune"), "salun": ("forget", "wrong", "below finetune"),
    "ssd": ("forget", "loss", "up"),
}
MULTILABEL_SETTINGS = {"gli": {"selection": "none"}, "ssd": {"alpha": 1.0}}


@pytest.mark.parametrize("name", distinct_methods())
def test_multilabel_path_every_method(mucac_setup, name):
    from gli_helpers.metrics import predict, task_loss
    from gli_helpers.unlearning.common import distill_kl
    original, data, bench = mucac_setup
    model = copy.deepcopy(original)
    cfg = default_config(name, "multilabel", **MULTILABEL_SETTINGS.get(name, {}), **FAST, bn_eval=True, augment=False)
    assert name != "gli" or cfg.perturbation_steps == 5  # the multi-label default K
    out, _ = get_method(name).unlearn(model, data, cfg)
    split_name, quantity, direction = MULTILABEL_DIRECTION[name]
    split = getattr(data, split_name)

    def measure(m):
        logits = predict(m, split, CPU)
        if quantity == "kl":
            return float(distill_kl(logits, predict(original, split, CPU), "multilabel", 1.0))
        if quantity == "wrong":
            from gli_helpers.unlearning.random_labels import forget_targets
            return float(task_loss(logits, forget_targets(data), "multilabel"))
        return float(task_loss(logits, split.labels, "multilabel"))
    if direction == "below finetune":
        before = measure(get_method("finetune").unlearn(copy.deepcopy(original), data, default_config(
            "finetune", "multilabel", **FAST, bn_eval=True, augment=False))[0])
    else:
        before = measure(original)
    after = measure(out)
    assert (after > before) if direction == "up" else (after < before), (name, split_name, quantity, before, after)
    assert "top2_acc" not in evaluate(out, bench, CPU)  # no top-2 accuracy for multi-label outputs


def test_neggrad_lowers_forget_accuracy(mufac_setup):
    _, data, bench = mufac_setup
    # A model that has learnt its forget faces: at the smoke preset's lr the 16 px model can end at a constant
    # prediction on some CPUs (Intel Xeon, AVX-512: forget accuracy 0.164 before and after), which no method lowers.
    original = trained(bench, 4, lr=0.001)
    before = evaluate(original, bench, CPU)
    out, _ = get_method("neggrad").unlearn(copy.deepcopy(original), data, default_config("neggrad", "multiclass", lr=0.01))
    after = evaluate(out, bench, CPU)
    assert after["forget_acc"] < before["forget_acc"]
    assert after["forget_loss"] > before["forget_loss"]


def test_cf_k_leaves_frozen_layers_bit_identical(mufac_setup):
    original, data, _ = mufac_setup
    model = copy.deepcopy(original)
    get_method("cf_k").unlearn(model, data, default_config("cf_k", "multiclass", **FAST), on_step=lambda s, m: None)
    frozen_names = [n for n, _ in blocks(model)[:-3]]
    assert frozen_names == ["stem", "layer1", "layer2"]
    for (_, a), (_, b) in zip(blocks(model)[:-3], blocks(original)[:-3], strict=False):
        for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=False):
            assert torch.equal(va, vb), k  # weights and BatchNorm statistics
    assert not torch.equal(model.layer4[0].conv1.weight, original.layer4[0].conv1.weight)


def test_eu_k_reinitializes_last_blocks(mufac_setup):
    original, data, _ = mufac_setup
    model = copy.deepcopy(original)
    reinitialize_last(model, "resnet18", 8, 3, seed=0)
    assert not torch.equal(model.fc.weight, original.fc.weight)
    assert not torch.equal(model.layer3[0].conv1.weight, original.layer3[0].conv1.weight)
    assert torch.equal(model.layer2[0].conv1.weight, original.layer2[0].conv1.weight)
    # fresh BatchNorm statistics in the re-initialised blocks
    assert torch.equal(model.layer4[0].bn1.running_mean, torch.zeros_like(model.layer4[0].bn1.running_mean))
    out, _ = get_method("eu_k").unlearn(copy.deepcopy(original), data, default_config("eu_k", "multiclass", **FAST))
    assert torch.equal(out.layer1[0].conv1.weight, original.layer1[0].conv1.weight)


def test_gli_perturbation_bound_and_once_per_batch_forget_logits(mufac_setup):
    original, data, _ = mufac_setup
    model = copy.deepcopy(original).eval()
    x, y = data.retain.images[:16].float() / 255, data.retain.labels[:16]
    xf = data.forget.images[:16].float() / 255
    kw = dict(perturbation_steps=4, alpha=0.01, weight=200.0, task="multiclass")
    once = gli_perturb(model, x, y, xf, **kw)
    every = gli_perturb(model, x, y, xf, recompute_forget=True, **kw)
    assert torch.equal(once, every)
    assert (once - x).abs().max() <= 4 * 0.01 + 1e-6
    assert (once - x).abs().max() > 0.01  # it moved
    assert once.min() >= 0 and once.max() <= 1
    for d in ("l1", "cosine"):
        p = gli_perturb(model, x, y, xf, distance_kind=d, **kw)
        assert (p - x).abs().max() <= 0.04 + 1e-6
    # the perturbation moves outputs away from the forget outputs (weight 0: distance only)
    far = gli_perturb(model, x, y, xf, perturbation_steps=4, alpha=0.01, weight=0.0, task="multiclass")
    with torch.no_grad():
        zf = model(xf)
        assert ((model(far) - zf) ** 2).mean() > ((model(x) - zf) ** 2).mean()


def test_gli_selection_modes(mufac_setup, small_mufac, cache_dir):
    original, data, _ = mufac_setup
    with pytest.raises(ConfigError, match="validation split"):
        get_method("gli").unlearn(copy.deepcopy(original), data, default_config("gli", "multiclass",
                                                                                 selection="validation"))
    _, report = get_method("gli").unlearn(copy.deepcopy(original), data, default_config("gli", "multiclass",
                                                                                         selection="on_test"))
    assert report["selection"] == "on_test" and report["selected_step"] >= 1


def test_registry_errors_and_presets():
    with pytest.raises(ConfigError, match="valid: finetune, cf_k"):
        get_method("retrain_everything")
    with pytest.raises(ConfigError, match="no setting"):
        default_config("gli", "multiclass", temperature=3)
    assert parse_methods("all") == list(distinct_methods()) and parse_methods("paper") == list(PAPER_METHODS)
    assert set(PAPER_METHODS) < set(distinct_methods())
    assert set(METHODS) - set(distinct_methods()) == {n for n, m in METHODS.items() if m.fixed}  # variants: unranked
    assert default_config("gli_l1", "multiclass").distance == "l1"
    young = default_config("gli", "multiclass", binary=True)
    assert (young.w0, young.w1, young.perturbation_steps) == (800.0, 12000.0, 5)
    assert default_config("gli", "multiclass").perturbation_steps == 2
    with pytest.raises(ConfigError, match="valid: l2, l1, cosine"):
        default_config("gli", "multiclass", distance="l3")


@pytest.mark.parametrize("name, bad, why", [
    ("gli", {"perturbation_steps": 0}, "perturbation_steps must be positive"),
    ("gli", {"steps": 2}, "GLI's K is called perturbation_steps"), ("gli", {"selection": "best"}, "valid: auto, none"),
    ("scrub", {"lr": "0.1"}, "lr must be of type float"), ("scrub", {"forget_pass": 1}, "forget_pass must be of type bool"),
    ("neggrad", {"batch_size": 1}, "BatchNorm"), ("unsir", {"momentum": 1.5}, "momentum must be below 1"),
    ("cf_k", {"k": 2.5}, "k must be of type int"), ("finetune", {"epochs": -1}, "epochs must be positive")])
def test_method_settings_are_checked_on_creation(name, bad, why):
    with pytest.raises(ConfigError, match=why):
        default_config(name, "multiclass", **bad)
    assert default_config("unsir", "multiclass", lr=1).lr == 1  # an int is a fine float


def test_method_overrides_refused_before_anything_trains(tmp_path, mufac_bench):
    assert parse_method_overrides('{"gli": {"perturbation_steps": 3}}') == {"gli": {"perturbation_steps": 3}}
    assert parse_method_overrides(None) == {}
    for text, why in (("{gli: 3}", "not valid JSON"), ('{"gli": 3}', "map method names"),
                      ('{"glee": {}}', "unknown unlearning method 'glee'")):
        with pytest.raises(ConfigError, match=why):
            parse_method_overrides(text)
    exp = Experiment(mufac_bench, preset("smoke"), CPU, tmp_path / "run")
    for methods, overrides in ((["gli"], {"gli": {"w0": -1.0}}), (["gli"], {"nope": {}}), (["gli", "nope"], {})):
        with pytest.raises(ConfigError):
            grid(exp, methods, method_config=overrides)
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_gli_diagnostics_go_to_the_trajectories_and_old_records_are_reused(tmp_path, mufac_bench):
    """Per-step diagnostics (opt-in) land in trajectories.csv beside each split's loss; a method record written
    before a setting existed (here max_steps, objective, diagnostics) is still reused: the new settings' defaults
    are what that run did."""
    import json

    import pandas as pd
    exp = Experiment(mufac_bench, preset("smoke", epochs=1), CPU, tmp_path / "run")
    logs = []
    grid(exp, ["gli", "finetune"], logs.append, trajectory_every=1,
         method_config={"gli": {"diagnostics": True, "max_steps": 2}})
    traj = pd.read_csv(tmp_path / "run" / "trajectories.csv")
    gli = traj[traj.method == "gli"].set_index("step")
    assert list(gli.index) == [0, 1, 2]
    diag = ["task_loss_before", "task_loss_after", "distance_before", "share_following_distance"]
    assert gli.loc[[1, 2], diag].notna().all().all()
    assert gli.loc[0, ["task_loss_before", "batch"]].isna().all()  # the starting model has no step
    assert gli.loc[[1, 2], "batch"].tolist() == [1, 2]
    assert traj[["retain_loss", "forget_loss", "test_loss", "unseen_loss"]].notna().all().all()
    assert traj[traj.method == "finetune"]["task_loss_before"].isna().all()  # only GLI records them

    path = tmp_path / "run" / "configs" / "finetune-seed0.json"
    record = json.loads(path.read_text())
    del record["method_config"]["max_steps"]  # as written before the setting existed
    path.write_text(json.dumps(record))
    logs.clear()
    grid(exp, ["finetune"], logs.append, trajectory_every=1)
    assert "reused" in logs[-1]
    record["method_config"]["lr"] = 0.5  # a different configuration is run again
    path.write_text(json.dumps(record))
    logs.clear()
    grid(exp, ["finetune"], logs.append, trajectory_every=0)
    assert "reused" not in logs[-1]


@pytest.mark.slow
def test_a_method_record_is_not_reused_on_other_evaluation_splits(tmp_path, mufac_bench, small_mufac, cache_dir):
    """The same train split with part of the test split held out for validation: the finished record's numbers
    were measured on another test split, so the method runs again; records from before the evaluation
    fingerprint are judged by their data options."""
    import json

    from gli_helpers.data import load_benchmark
    held_out = load_benchmark("synthetic-mufac", small_mufac, 16, cache_dir=cache_dir, validation_share=0.5)
    cfg = preset("smoke", epochs=1)
    logs = []
    grid(Experiment(mufac_bench, cfg, CPU, tmp_path), ["finetune"], logs.append, trajectory_every=0)
    grid(Experiment(mufac_bench, cfg, CPU, tmp_path), ["finetune"], logs.append, trajectory_every=0)
    assert "reused" in logs[-1]
    grid(Experiment(held_out, cfg, CPU, tmp_path), ["finetune"], logs.append, trajectory_every=0)
    assert "reused" not in logs[-1]
    path = tmp_path / "configs" / "finetune-seed0.json"
    record = json.loads(path.read_text())
    del record["eval_fingerprint"]  # as written before the fingerprint existed: the data options decide
    path.write_text(json.dumps(record))
    grid(Experiment(held_out, cfg, CPU, tmp_path), ["finetune"], logs.append, trajectory_every=0)
    assert "reused" in logs[-1]
    grid(Experiment(mufac_bench, cfg, CPU, tmp_path), ["finetune"], logs.append, trajectory_every=0)
    assert "reused" not in logs[-1]


def test_settings_layers_refuse_contradictions():
    from gli_helpers.unlearning.settings import PROCEDURES
    # the layers in order: task default < quirk set < procedure < the run's settings < pinned values
    authors_gli = default_config("gli", "multiclass", procedure="authors", quirks="authors", lr=0.002)
    assert (authors_gli.selection, authors_gli.bn_eval, authors_gli.recompute_forget, authors_gli.lr) == \
        ("on_test", True, True, 0.002)
    assert default_config("gli", "multilabel", procedure="honest").perturbation_steps == 5
    with pytest.raises(ConfigError, match=r"quirk set 'authors' of gli contradicts --procedure honest.*selection='on_test'"):
        default_config("gli", "multiclass", procedure="honest", quirks="authors")
    with pytest.raises(ConfigError, match=r"--procedure honest sets bn_eval=False.*finetune ask for bn_eval=True"):
        default_config("finetune", "multiclass", procedure="honest", bn_eval=True)
    with pytest.raises(ConfigError, match=r"gli_l1 always runs with distance='l1'.*distance='l2'"):
        default_config("gli_l1", "multiclass", distance="l2")
    with pytest.raises(ConfigError, match="unknown procedure 'fair'"):
        default_config("gli", "multiclass", procedure="fair")
    for name in distinct_methods():  # every procedure holds for every method with its own defaults
        for procedure, fixed in PROCEDURES.items():
            cfg = default_config(name, "multiclass", procedure=procedure)
            assert all(getattr(cfg, k) == v for k, v in fixed.items())


def test_old_selection_name_refused_with_hint_and_read_from_records():
    from gli_helpers.records import as_current
    from gli_helpers.unlearning.gli import GLIConfig
    with pytest.raises(ConfigError, match="'paper' is now called 'on_test'"):
        default_config("gli", "multiclass", selection="paper")
    stored = {**default_config("gli", "multiclass", procedure="authors").to_dict(), "selection": "paper"}
    assert as_current(GLIConfig, stored)["selection"] == "on_test"  # a record written before the rename is reused


def test_range_rules_are_declared_by_each_class():
    from gli_helpers.unlearning.common import MethodConfig
    from gli_helpers.unlearning.gli import GLIConfig
    assert "alpha" not in MethodConfig.range_rules()[0] and "alpha" in GLIConfig.range_rules()[0]
    assert "w1" in GLIConfig.range_rules()[1] and "lr" in GLIConfig.range_rules()[0]
    with pytest.raises(ConfigError, match="alpha must be positive"):
        default_config("gli", "multiclass", alpha=0.0)
    with pytest.raises(ConfigError, match="k must be positive"):
        default_config("cf_k", "multiclass", k=0)
    for m in METHODS.values():  # every declared rule names a field of its class
        names = {f.name for f in dataclasses.fields(m.config_class)}
        assert set(sum(m.config_class.range_rules(), ())) <= names, m.name
