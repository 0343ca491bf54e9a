"""GLI's controls (``push_from``: what the sign steps push away from, in place of the forget images), the
gli-ablations variants that change one setting of the authors' loop, and trajectories evaluated every few batches."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from gli_helpers.config import preset
from gli_helpers.errors import ConfigError
from gli_helpers.experiment import Experiment
from gli_helpers.gli_ablations import summarize, variant_names
from gli_helpers.runner import unlearn_data
from gli_helpers.train import train_model
from gli_helpers.unlearning import default_config, get_method
from gli_helpers.unlearning.common import Run
from gli_helpers.unlearning.gli import Control

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def setup(mufac_bench):
    model, _ = train_model(mufac_bench, "train", preset("smoke", mufac_bench.name, epochs=3, seed=0), CPU, progress=False)
    data = unlearn_data(Experiment(mufac_bench, preset("smoke"), CPU, None), 0)
    return model.eval(), dataclasses.replace(data, validation=mufac_bench.test)  # a stand-in held-out split


def weights_after(model, data, **settings):
    cfg = default_config("gli", "multiclass", quirks="authors", selection="none", max_steps=3, skip_short_forget=False,
                         batch_size=16, **settings)
    out, _ = get_method("gli").unlearn(copy.deepcopy(model), data, cfg)
    return out.state_dict()


def same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("kind", ["retain", "nonmember", "noise"])
def test_a_control_changes_only_the_images_pushed_away_from(setup, kind):
    """With the distance term off (and batch 1's perturbation search in eval mode, where the forget images would
    also move BatchNorm's statistics), what GLI pushes away from plays no part: a control then ends bit-identical
    to GLI (the same retain batches, augmentation and forget cycle); with it on, the control's weights differ."""
    model, data = setup
    blind = dict(objective="task", first_batch_train=False)
    assert same(weights_after(model, data, **blind), weights_after(model, data, **blind, push_from=kind))
    assert not same(weights_after(model, data), weights_after(model, data, push_from=kind))


def test_the_retain_control_draws_other_retain_images_of_the_forget_batch_size(setup):
    model, data = setup
    cfg = default_config("gli", "multiclass", push_from="retain", augment=False, batch_size=16)
    control = Control(Run(model, data, cfg), "retain")
    n = len(data.retain)
    left_out = torch.arange(8)  # the batch is every retain image but these eight: the control must be them
    images = control.like(torch.zeros(8, *data.retain.images.shape[1:]), torch.arange(8, n))
    expected = data.retain.images[left_out].float().div(255)
    assert images.shape == expected.shape
    assert sorted(map(tuple, images.flatten(1)[:, :64].tolist())) == sorted(map(tuple, expected.flatten(1)[:, :64].tolist()))
    with pytest.raises(ConfigError, match="needs 9 images per batch and the pool holds 8"):
        control.like(torch.zeros(9, *data.retain.images.shape[1:]), torch.arange(8, n))


def test_noise_and_nonmember_controls_and_their_refusals(setup):
    model, data = setup
    cfg = default_config("gli", "multiclass", batch_size=16)
    xf = torch.zeros(5, *data.retain.images.shape[1:])
    noise = Control(Run(model, data, cfg), "noise").like(xf, torch.arange(4))
    assert noise.shape == xf.shape and 0 <= noise.min() and noise.max() <= 1 and noise.std() > 0.2
    nonmember = Control(Run(model, data, dataclasses.replace(cfg, augment=False)), "nonmember").like(xf, torch.arange(4))
    pool = {tuple(r) for r in data.validation.images.float().div(255).flatten(1)[:, :64].tolist()}
    assert all(tuple(r) in pool for r in nonmember.flatten(1)[:, :64].tolist())
    with pytest.raises(ConfigError, match="--validation-share"):
        Control(Run(model, dataclasses.replace(data, validation=None), cfg), "nonmember")
    with pytest.raises(ConfigError, match="unknown GLI push_from 'test'"):
        default_config("gli", "multiclass", push_from="test")


def test_variant_names_cross_each_variant_with_each_control_and_change_one_setting():
    names = variant_names(["authors", "honest"], ["forget", "noise"])
    assert list(names) == ["authors", "authors+push_noise", "honest", "honest+push_noise"]
    assert names["authors+push_noise"] == {"push_from": "noise"} and names["honest"] == {"quirks": "none", "bn_eval": False}
    with pytest.raises(ConfigError, match="unknown push_from everything"):
        variant_names(["authors"], ["everything"])
    from gli_helpers.catalog import GLI_VARIANTS, PUSH_FROM
    from gli_helpers.gli_ablations import variant_config
    from gli_helpers.unlearning.gli import PUSH_FROM as IN_GLI
    assert PUSH_FROM == IN_GLI
    authors = variant_config("authors", {}, "multiclass", False, 40).to_dict()
    honest = variant_config("honest", GLI_VARIANTS["honest"], "multiclass", False, 40).to_dict()
    loop_settings = ("bn_eval", "first_batch_train", "recompute_forget", "skip_short_forget", "lr", "momentum")
    assert [k for k in loop_settings if authors[k] != honest[k]] == ["bn_eval", "first_batch_train", "recompute_forget",
                                                                      "skip_short_forget"]
    one_at_a_time = [n for n in GLI_VARIANTS if n.startswith(("authors_", "honest_"))]
    assert len(one_at_a_time) == 8
    for name in one_at_a_time:  # each takes one setting of the other loop, and only one
        base, other = (authors, honest) if name.startswith("authors_") else (honest, authors)
        cfg = variant_config(name, GLI_VARIANTS[name], "multiclass", False, 40).to_dict()
        changed = [k for k in loop_settings if cfg[k] != base[k]]
        assert len(changed) == 1 and cfg[changed[0]] == other[changed[0]], (name, changed)


def trajectory(steps, evaluated):
    """A trajectory of one variant with diagnostics at every step and metrics at ``evaluated`` steps only."""
    rows = []
    for s in steps:
        m = {k: (0.5 + 0.01 * s if s in evaluated else np.nan) for k in
             ("test_acc", "mia", "final_score", "retain_acc", "forget_acc", "retain_loss", "forget_loss", "test_loss",
              "unseen_loss")}
        diag = {"task_loss_before": 1.0, "task_loss_after": 0.5, "distance_before": 1.0, "distance_after": 2.0,
                "share_following_distance": 0.9} if s else {}
        rows.append({"variant": "v", "step": s, **m, **diag})
    return pd.DataFrame(rows)


def test_summary_of_a_trajectory_evaluated_every_few_batches():
    every = summarize(trajectory(range(5), range(5))).iloc[0]
    assert every.evaluations == 4 and every.selected_step == 4 and every.test_acc_last == pytest.approx(0.54)
    sparse = summarize(trajectory(range(5), [0, 2, 4])).iloc[0]
    assert sparse.evaluations == 2 and sparse.batches == 4 and sparse.test_acc_last == pytest.approx(0.54)
    assert np.isnan(sparse.selected_step) and np.isnan(sparse.final_score_selected)  # not read off every batch
    assert sparse.step_loss_ratio == pytest.approx(0.5)  # the diagnostics of all four batches
