"""Each method moves the model the way it is meant to (the loss it raises goes up, the outputs it pulls move
toward their target), and the settings every method shares (augmentation, frozen BatchNorm, selection) do
what they say. Each test here fails on a method that does nothing or the opposite."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from gli_helpers.config import preset
from gli_helpers.experiment import Experiment
from gli_helpers.metrics import predict, task_loss
from gli_helpers.models import build_model
from gli_helpers.runner import unlearn_data
from gli_helpers.runtime import forward
from gli_helpers.train import train_model
from gli_helpers.unlearning import default_config, distinct_methods, get_method, gli_perturb
from gli_helpers.unlearning.common import Run, distill_kl, epoch_batches, fetch
from gli_helpers.unlearning.gli import weight
from gli_helpers.unlearning.selection import Selector
from gli_helpers.unlearning.unsir import learn_noise

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def setup(mufac_bench):
    model, _ = train_model(mufac_bench, "train", preset("smoke", mufac_bench.name, epochs=4, seed=0), CPU, progress=False)
    return model.eval(), unlearn_data(Experiment(mufac_bench, preset("smoke"), CPU, None), 0)


def batch(split, n=16):
    return fetch(split, torch.arange(min(n, len(split))), CPU)


def kl_on(model, teacher, split, task="multiclass", t=1.0):
    return float(distill_kl(predict(model, split, CPU), predict(teacher, split, CPU), task, t))


def bn_stats(model):
    return {k: v.clone() for k, v in model.state_dict().items() if "running" in k}


@pytest.mark.slow
def test_gli_task_weight_keeps_the_perturbed_images_on_their_labels(setup):
    model, data = setup
    x, y = batch(data.retain)
    xf, _ = batch(data.forget)
    kw = dict(perturbation_steps=3, alpha=0.02, task="multiclass")
    guided = gli_perturb(model, x, y, xf, weight=1000.0, **kw)
    unguided = gli_perturb(model, x, y, xf, weight=0.0, **kw)
    with torch.no_grad():
        assert task_loss(forward(model, guided), y, "multiclass") < task_loss(forward(model, unguided), y, "multiclass")
        # w = 0 is pure distance ascent: the outputs move away from the forget outputs
        zf = forward(model, xf).repeat(2, 1)[:len(x)]
        assert F.mse_loss(forward(model, unguided), zf) > F.mse_loss(forward(model, x), zf)


def test_gli_weight_schedule_end_points():
    cfg = default_config("gli", "multiclass")
    assert weight(cfg, 0, 134) == 200.0 and weight(cfg, 133, 134) == 1000.0
    assert weight(cfg, 1, 134) == pytest.approx(200 + 800 / 133)  # the authors' w = 200 + 800 / 133 * batch
    young = default_config("gli", "multiclass", binary=True)
    assert (weight(young, 0, 10), weight(young, 9, 10)) == (800.0, 12000.0)


def test_scrub_max_pass_raises_the_forget_kl(setup):
    model, data = setup
    kls = {}
    for forget_pass in (False, True):
        cfg = default_config("scrub", "multiclass", epochs=1, lr=0.01, forget_pass=forget_pass, selection="none")
        out, _ = get_method("scrub").unlearn(copy.deepcopy(model), data, cfg)
        kls[forget_pass] = kl_on(out, model, data.forget, t=4.0)
    assert kls[True] > 2 * kls[False], kls


def test_bad_teaching_moves_forget_outputs_toward_the_incompetent_teacher(setup):
    model, data = setup
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(20_000 + data.seed)  # the bad teacher Bad Teaching builds for this seed
        bad = build_model(data.arch, data.num_outputs).eval()
    cfg = default_config("bad_teaching", "multiclass", lr=0.01, selection="none")
    out, _ = get_method("bad_teaching").unlearn(copy.deepcopy(model), data, cfg)
    assert kl_on(out, bad, data.forget) < 0.8 * kl_on(model, bad, data.forget)


def test_unsir_noise_search_raises_the_distance_it_maximises(setup):
    model, data = setup
    xf, _ = batch(data.forget)
    with torch.no_grad():
        zf = forward(model, xf)
    shape = xf.shape
    cfg = default_config("unsir", "multiclass", noise="uniform", noise_lr=0.05)
    start = torch.rand(shape, generator=torch.Generator().manual_seed(3))
    learned = learn_noise(model, shape, zf, cfg, torch.Generator().manual_seed(3), CPU, True)
    with torch.no_grad():
        assert F.mse_loss(forward(model, learned), zf) > F.mse_loss(forward(model, start), zf)
    clamped = learn_noise(model, shape, zf, default_config("unsir", "multiclass"), torch.Generator().manual_seed(3), CPU, True)
    assert clamped.min() >= 0 and clamped.max() <= 1  # normal noise, clamped to [0, 1] before the update


@pytest.mark.slow
def test_unsir_pairs_retain_and_forget_batches_and_ends_with_the_shorter(setup):
    model, data = setup
    steps = []
    cfg = default_config("unsir", "multiclass", batch_size=8, selection="none")
    get_method("unsir").unlearn(copy.deepcopy(model), data, cfg, on_step=lambda s, m: steps.append(s))
    repair = len(epoch_batches(len(data.retain), 8, 0, 0))
    per_epoch = min(repair, len(epoch_batches(len(data.forget), 8, 0, 0)))
    assert cfg.epochs == 2 and len(steps) == 2 * per_epoch + repair
    cycled = []
    get_method("unsir").unlearn(copy.deepcopy(model), data, default_config("unsir", "multiclass", batch_size=8,
                                selection="none", pairing="cycle"), on_step=lambda s, m: cycled.append(s))
    assert len(cycled) == 2 * repair + repair  # the earlier reading: every retain batch, forget cycled


def test_distill_kl_matches_a_hand_computation():
    s = torch.tensor([[1.0, 0.0, -1.0], [0.5, 0.5, 2.0]])
    t = torch.tensor([[2.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
    temp = 2.0
    ps, pt = F.softmax(s / temp, 1), F.softmax(t / temp, 1)
    by_hand = float((pt * (pt.log() - ps.log())).sum(1).mean()) * temp ** 2
    assert float(distill_kl(s, t, "multiclass", temp)) == pytest.approx(by_hand, rel=1e-6)
    bs, bt = torch.sigmoid(s), torch.sigmoid(t)
    bern = float((bt * (bt.log() - bs.log()) + (1 - bt) * ((1 - bt).log() - (1 - bs).log())).sum(1).mean())
    assert float(distill_kl(s, t, "multilabel")) == pytest.approx(bern, rel=1e-5)
    assert float(distill_kl(s, t, "multilabel", 2.0, "softmax")) == pytest.approx(by_hand, rel=1e-6)


@pytest.mark.parametrize("name", ["finetune", "neggrad", "gli", "neggrad_plus", "random_labels", "salun", "l1_sparse"])
def test_bn_eval_leaves_batchnorm_statistics_unchanged(setup, name):
    model, data = setup
    for bn_eval in (True, False):
        out, _ = get_method(name).unlearn(copy.deepcopy(model), data,
                                       default_config(name, "multiclass", epochs=1, bn_eval=bn_eval, selection="none"))
        same = all(torch.equal(a, b) for a, b in zip(bn_stats(out).values(), bn_stats(model).values(), strict=True))
        assert same == bn_eval, (name, bn_eval)


def test_unlearning_batches_are_augmented_unless_asked_not_to(setup):
    model, data = setup
    idx = torch.arange(8)
    clean, _ = fetch(data.retain, idx, CPU)
    for augment in (True, False):
        run = Run(model, data, default_config("finetune", "multiclass", augment=augment, selection="none"))
        x, _ = run.batch(data.retain, idx)
        assert torch.equal(x, clean) != augment
    a, _ = get_method("finetune").unlearn(copy.deepcopy(model), data, default_config("finetune", "multiclass", epochs=1))
    b, _ = get_method("finetune").unlearn(copy.deepcopy(model), data,
                                       default_config("finetune", "multiclass", epochs=1, augment=False))
    assert not torch.equal(a.fc.weight, b.fc.weight)


STEPPING = [m for m in distinct_methods() if m != "ssd"]  # SSD takes no gradient steps: nothing to select or stop


@pytest.mark.parametrize("name", STEPPING)
def test_every_method_has_paper_selection(setup, name):
    model, data = setup
    cfg = default_config(name, "multiclass", epochs=1, selection="on_test", patience=2)
    data = copy.copy(data)
    _, report = get_method(name).unlearn(copy.deepcopy(model), data, cfg)
    assert report["selection"] == "on_test" and report["selected_step"] >= 1
    assert report["optimizer_steps"] >= report["selected_step"]


class Scripted(Selector):
    """The real selector with its score replaced by a script, to pin the bookkeeping."""

    def __init__(self, data, scores, patience):
        super().__init__("on_test", data, patience)
        self.scores = iter(scores)

    def score(self, model):
        return next(self.scores)


def test_selector_restores_the_best_checkpoint_and_stops_after_patience(setup):
    model, data = setup
    model = copy.deepcopy(model)
    sel = Scripted(data, [0.5, 0.7, 0.6, 0.65, 0.69], patience=3)
    stops, snapshots = [], {}
    for step in range(1, 6):
        with torch.no_grad():
            model.fc.bias.fill_(float(step))
        snapshots[step] = model.fc.bias.clone()
        stops.append(sel.update(step, model))
    assert stops == [False, False, False, False, True]  # three checks without gain after the best (step 2)
    sel.restore_best(model)
    assert torch.equal(model.fc.bias, snapshots[2]) and sel.describe()["selected_step"] == 2



@pytest.mark.slow
def test_gli_authors_loop_moves_batchnorm_statistics_in_batch_one_only(setup):
    model, data = setup
    cfg = default_config("gli", "multiclass", quirks="authors", batch_size=16)
    assert (cfg.bn_eval, cfg.first_batch_train, cfg.recompute_forget, cfg.skip_short_forget, cfg.selection,
            cfg.patience, cfg.momentum) == (True, True, True, True, "on_test", 3, 0.0)
    seen = []
    get_method("gli").unlearn(copy.deepcopy(model), data, cfg, on_step=lambda s, m: seen.append(bn_stats(m)))
    start = bn_stats(model)
    assert len(seen) >= 4  # patience 3: at least the first step and three more
    assert not all(torch.equal(seen[0][k], start[k]) for k in start)  # batch 1 ran in train mode
    for later in seen[1:]:  # eval mode from batch 2 on: the statistics stay as batch 1 left them
        assert all(torch.equal(later[k], seen[0][k]) for k in start)
    honest = []
    get_method("gli").unlearn(copy.deepcopy(model), data, default_config("gli", "multiclass", batch_size=16,
                              selection="none", bn_eval=True), on_step=lambda s, m: honest.append(bn_stats(m)))
    assert all(torch.equal(honest[0][k], start[k]) for k in start)  # without the quirk, batch 1 moves nothing


@pytest.mark.slow
def test_gli_authors_loop_skips_retain_batches_paired_with_a_short_forget_batch(setup):
    model, data = setup
    bs = 16
    retain_batches = epoch_batches(len(data.retain), bs, data.seed, 0)
    forget_sizes, epoch = [], 0
    while len(forget_sizes) < len(retain_batches):  # the cycled forget batches, as Cycle draws them
        forget_sizes += [len(b) for b in epoch_batches(len(data.forget), bs, data.seed + 1, epoch)]
        epoch += 1
    short = sum(n < bs for n in forget_sizes[:len(retain_batches)])
    assert short >= 1
    counts = {}
    for skip in (False, True):
        cfg = default_config("gli", "multiclass", batch_size=bs, selection="none", skip_short_forget=skip)
        _, report = get_method("gli").unlearn(copy.deepcopy(model), data, cfg)
        counts[skip] = report["optimizer_steps"]
    assert counts == {False: len(retain_batches), True: len(retain_batches) - short}


def test_sign_step_diagnostics_tell_distance_led_from_task_led_steps(setup):
    from gli_helpers.unlearning.gli import sign_step_diagnostics
    model, data = setup
    x, y = batch(data.retain)
    xf, _ = batch(data.forget)
    pure = sign_step_diagnostics(model, x, y, xf, weight=0.0, alpha=0.02, task="multiclass")
    assert pure["share_following_distance"] == 1.0 and pure["distance_after"] > pure["distance_before"]
    led = sign_step_diagnostics(model, x, y, xf, weight=1e6, alpha=0.02, task="multiclass")
    assert led["task_loss_after"] < led["task_loss_before"] and led["share_following_distance"] < 0.9


def test_sign_step_diagnostics_leave_batchnorm_statistics_alone_in_train_mode(setup):
    from gli_helpers.unlearning.gli import sign_step_diagnostics
    model, data = setup
    m = copy.deepcopy(model).train()
    before = bn_stats(m)
    x, y = batch(data.retain)
    xf, _ = batch(data.forget)
    sign_step_diagnostics(m, x, y, xf, weight=200.0, alpha=0.01, task="multiclass")
    assert all(torch.equal(before[k], v) for k, v in bn_stats(m).items())


@pytest.mark.parametrize("objective", ["distance", "task"])
def test_gli_objective_ablations_follow_one_term(setup, objective):
    """"distance": every pixel follows the distance term and the distance rises; "task": the task loss falls
    and the distance decides no more pixels than chance would."""
    model, data = setup
    x, y = batch(data.retain)
    xf, _ = batch(data.forget)
    from gli_helpers.unlearning.gli import sign_step_diagnostics
    d = sign_step_diagnostics(model, x, y, xf, alpha=0.02, weight=200.0, task="multiclass", objective=objective)
    if objective == "distance":
        assert d["share_following_distance"] == 1.0 and d["distance_after"] > d["distance_before"]
    else:
        assert d["task_loss_after"] < d["task_loss_before"] and d["share_following_distance"] < 0.75


def test_gli_diagnostics_are_recorded_per_step_without_changing_the_run(setup):
    model, data = setup
    runs = {}
    for diag in (False, True):
        seen = []
        cfg = default_config("gli", "multiclass", quirks="authors", selection="none", diagnostics=diag, max_steps=2,
                             skip_short_forget=False)
        m, _ = get_method("gli").unlearn(copy.deepcopy(model), data, cfg,
                                      on_step=lambda step, m, info=None, seen=seen: seen.append((step, info)))
        runs[diag] = (m.state_dict(), seen)
    plain, diagnosed = runs[False], runs[True]
    assert all(torch.equal(plain[0][k], diagnosed[0][k]) for k in plain[0])  # the same weights and statistics
    assert [s for s, _ in plain[1]] == [1, 2] and all(info is None for _, info in plain[1])
    infos = [info for _, info in diagnosed[1]]
    assert [i["batch"] for i in infos] == [1, 2]
    assert infos[0]["gli_weight"] == 200.0 and infos[1]["gli_weight"] > 200.0
    assert all(0.0 <= i["share_following_distance"] <= 1.0 and i["distance_before"] > 0 for i in infos)


def test_max_steps_stops_every_method(setup):
    model, data = setup
    for name in STEPPING:
        _, report = get_method(name).unlearn(copy.deepcopy(model), data, default_config(name, "multiclass", selection="none",
                                                                             max_steps=2))
        assert report["optimizer_steps"] == 2 and report["stopped_at_max_steps"]
