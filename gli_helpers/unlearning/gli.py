"""GLI, Guided Loss-Increasing (docs/METHODS.md).

For each retain batch (x, y) and a cycled forget batch x_f: K sign-gradient steps move a
perturbation eta so that f(clamp(x + eta)) goes *away* from the forget outputs f(x_f) while the
task loss on y stays low (objective d(z, z_f) - w * L_task(z, y)); then one SGD step on the task
loss of the perturbed images. The weight w grows linearly from w0 to w1 over an epoch's batches.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..data.augment import augment
from ..errors import ConfigError
from ..metrics import task_loss
from ..runtime import forward, to_float
from .common import MethodConfig, Run, loss_of, retain_with_forget, sgd

DISTANCES = ("l2", "l1", "cosine")
# the images the sign steps push the retain outputs away from: the forget batch (GLI), or a control of the same
# size in its place: other retain images (disjoint from the batch), held-out non-member images (the validation
# split: test families no evaluation uses) or uniform noise
PUSH_FROM = ("forget", "retain", "nonmember", "noise")  # catalog.PUSH_FROM lists them for the command line


def distance(z: torch.Tensor, z_f: torch.Tensor, kind: str) -> torch.Tensor:
    """l2: mean squared error; l1: mean absolute error; cosine: minus the mean cosine similarity."""
    if kind == "l2":
        return F.mse_loss(z, z_f)
    if kind == "l1":
        return F.l1_loss(z, z_f)
    if kind == "cosine":
        return -F.cosine_similarity(z, z_f, dim=1).mean()
    raise ConfigError(f"unknown GLI distance {kind!r}; valid: {', '.join(DISTANCES)}.")


def pair_forget(z_f: torch.Tensor, n: int) -> torch.Tensor:
    """Forget logits paired with ``n`` retain images (cycling when the forget batch is smaller)."""
    return z_f.repeat((n + len(z_f) - 1) // len(z_f), 1)[:n]


OBJECTIVES = ("both", "distance", "task")  # the terms of the sign-step objective (ablations: one term alone)


@contextmanager
def _buffers_kept(model):
    """Forward passes inside leave BatchNorm's running statistics as they were (for diagnostics in train mode)."""
    saved = [b.detach().clone() for b in model.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for b, v in zip(model.buffers(), saved, strict=True):
                b.copy_(v)


def gli_perturb(model, x, y, x_f, *, perturbation_steps: int, alpha: float, weight: float, task: str, distance_kind: str = "l2",
                recompute_forget: bool = False, amp: bool = True, objective: str = "both") -> torch.Tensor:
    """The perturbed retain images clamp(x + eta, 0, 1) with |eta|_inf <= perturbation_steps * alpha.

    The forget logits do not depend on eta, so they are computed once (``recompute_forget``
    recomputes them at every step instead: the same result, K more forward passes).
    ``objective``: "both" (d - w * L_task, GLI), "distance" (d alone) or "task" (-w * L_task alone).
    The model's mode is the caller's choice; no parameter gradient is accumulated. ``sign_step_diagnostics``
    takes the first of these steps apart.
    """
    if objective not in OBJECTIVES:
        raise ConfigError(f"unknown GLI objective {objective!r}; valid: {', '.join(OBJECTIVES)}.")

    def forget_logits():
        with torch.no_grad():
            return pair_forget(forward(model, x_f, amp), len(x))

    z_f = None if recompute_forget else forget_logits()
    eta = torch.zeros_like(x)
    for _ in range(perturbation_steps):
        eta.requires_grad_(True)
        z = forward(model, (x + eta).clamp(0, 1), amp)
        goal = _objective(z, forget_logits() if recompute_forget else z_f, y, weight, task, distance_kind, objective)[0]
        (grad,) = torch.autograd.grad(goal, eta)
        eta = (eta.detach() + alpha * grad.sign())
    return (x + eta.detach()).clamp(0, 1)


def _objective(z, z_f, y, weight: float, task: str, distance_kind: str, objective: str):
    """(the sign step's objective, the distance, the task loss)."""
    d, ce = distance(z, z_f, distance_kind), task_loss(z, y, task)
    return (d if objective == "distance" else -weight * ce if objective == "task" else d - weight * ce), d, ce


LABEL = "GLI"  # its name in tables and figures
POSITION = 9  # its row in tables and figures (the paper's order)
# what `tune` searches (kind, low, high; bounds inclusive; "log": log-uniform); the paper's value is always a trial
SEARCH_SPACE = {"lr": ("log", 1e-4, 3e-2), "w1": ("log", 200.0, 20000.0), "perturbation_steps": ("int", 1, 5),
                "alpha": ("log", 0.002, 0.05)}


def sign_step_diagnostics(model, x, y, x_f, *, weight: float, alpha: float, task: str, distance_kind: str = "l2",
                          amp: bool = True, objective: str = "both") -> dict:
    """GLI's first sign step from eta = 0 taken apart, in the model's current mode (BatchNorm's running statistics
    are left as they were): the task weight, the retain task loss and the logit distance to the forget outputs
    before and after the step, and the share of moved pixels whose sign is the one the distance term alone would
    give (1.0: the distance decides every pixel; near 0.5: the task term decides about as often). Shows whether a
    step is adversarial (task loss up) or a fine-tuning aid (down)."""
    with _buffers_kept(model):
        with torch.no_grad():
            z_f = pair_forget(forward(model, x_f, amp), len(x))
        eta = torch.zeros_like(x, requires_grad=True)
        goal, d, ce = _objective(forward(model, (x + eta).clamp(0, 1), amp), z_f, y, weight, task, distance_kind,
                                 objective)
        grad, g_d = torch.autograd.grad(goal, eta, retain_graph=True)[0], torch.autograd.grad(d, eta)[0]
        moved = grad != 0
        follows = ((grad.sign() == g_d.sign()) & moved).sum() / moved.sum().clamp(min=1)
        with torch.no_grad():
            z1 = forward(model, (x + alpha * grad.sign()).clamp(0, 1), amp)
            after_d, after_ce = distance(z1, z_f, distance_kind), task_loss(z1, y, task)
    return {"gli_weight": float(weight), "task_loss_before": float(ce.detach()), "distance_before": float(d.detach()),
            "share_following_distance": float(follows), "task_loss_after": float(after_ce),
            "distance_after": float(after_d)}


# The authors' loop verbatim (Dasol-Choi/Guided_Loss_Increasing, the MUFAC GLI notebook): augmented retain and
# forget batches; batch 1 entirely in train mode (its forward passes, two on the forget batch, update BatchNorm's
# running statistics), eval mode from batch 2 on; the forget logits recomputed at every sign step; a retain batch
# whose forget batch is short skipped; the checkpoint chosen after every batch on test and unseen, patience 3.
AUTHORS = dict(augment=True, bn_eval=True, first_batch_train=True, recompute_forget=True, skip_short_forget=True,
               selection="on_test", patience=3, select_every=1, epochs=1, lr=0.001, momentum=0.0)
QUIRK_SETS = {"none": {}, "authors": AUTHORS}


@dataclass
class GLIConfig(MethodConfig):
    epochs: int = 1
    perturbation_steps: int = 2  # K, the sign steps per batch: 2 for MUFAC, 5 for MUCAC
    alpha: float = 0.01
    distance: str = "l2"
    w0: float = 200.0
    w1: float = 1000.0
    quirks: str = "none"  # "authors": the settings of AUTHORS (each can still be overridden)
    first_batch_train: bool = False  # batch 1 in train mode: its forward passes move BatchNorm statistics
    recompute_forget: bool = False  # forget logits recomputed at every sign step (in the model's current mode)
    skip_short_forget: bool = False  # skip a retain batch whose forget batch is shorter than batch_size
    objective: str = "both"  # the sign step's objective: "both" (GLI), "distance" or "task" alone (ablations)
    push_from: str = "forget"  # what the outputs are pushed away from: PUSH_FROM (all but "forget": controls)
    diagnostics: bool = False  # record the first sign step of each batch taken apart (sign_step_diagnostics)
    QUIRK_SETS = QUIRK_SETS  # the named sets of ``quirks``: settings.resolve applies one (layer 2) and checks it
    POSITIVE = ('perturbation_steps', 'alpha')  # range rules of this class's own fields (not dataclass fields: no annotation)
    NON_NEGATIVE = ('w0', 'w1')

    def __post_init__(self):
        super().__post_init__()
        if self.distance not in DISTANCES:
            raise ConfigError(f"unknown GLI distance {self.distance!r}; valid: {', '.join(DISTANCES)}.")
        if self.quirks not in QUIRK_SETS:
            raise ConfigError(f"unknown GLI quirk set {self.quirks!r}; valid: {', '.join(QUIRK_SETS)}.")
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"unknown GLI objective {self.objective!r}; valid: {', '.join(OBJECTIVES)}.")
        if self.push_from not in PUSH_FROM:
            raise ConfigError(f"unknown GLI push_from {self.push_from!r}; valid: {', '.join(PUSH_FROM)}.")

    @classmethod
    def task_defaults(cls, task, binary):
        if binary:
            return {"perturbation_steps": 5, "w0": 800.0, "w1": 12000.0}
        return {"perturbation_steps": 5} if task == "multilabel" else {}


def weight(cfg: GLIConfig, b: int, n_batches: int) -> float:
    """The task weight of batch ``b`` (from 0) of an epoch: w0 at the first batch, w1 at the last."""
    return cfg.w0 + (cfg.w1 - cfg.w0) * b / max(n_batches - 1, 1)


class Control:
    """The images a control pushes away from, in place of each forget batch and of its size. They come from a
    generator of their own, so the retain batches, their augmentation and the forget cycle (drawn and then set
    aside) are those of the run with the real forget images: the images pushed away from are the one difference."""

    def __init__(self, run: Run, kind: str):
        data = run.data
        if kind == "nonmember" and data.validation is None:
            raise ConfigError("GLI push_from='nonmember' draws from the validation split (held-out test families), "
                              "and this benchmark has none: add --validation-share (e.g. 0.2). The unseen split is "
                              "the MIA's non-member set and is never used for it.")
        self.run, self.kind = run, kind
        self.pool = {"retain": data.retain, "nonmember": data.validation}.get(kind)
        self.generator = torch.Generator().manual_seed(data.seed * 7919 + 307)

    def like(self, xf: torch.Tensor, retain_idx: torch.Tensor) -> torch.Tensor:
        g = self.generator
        if self.kind == "noise":
            return torch.rand(xf.shape, generator=g).to(xf.device)
        candidates = torch.randperm(len(self.pool), generator=g)
        if self.kind == "retain":  # disjoint from the retain batch being perturbed
            candidates = candidates[~torch.isin(candidates, retain_idx.cpu())]
        if len(candidates) < len(xf):
            raise ConfigError(f"GLI push_from={self.kind!r} needs {len(xf)} images per batch and the pool holds "
                              f"{len(candidates)}; use a larger --validation-share or a smaller batch.")
        x = to_float(self.pool.images[candidates[:len(xf)]], self.run.data.device)
        return augment(x, g) if self.run.cfg.augment else x


def unlearn(run: Run) -> None:
    model, data, cfg = run.model, run.data, run.cfg
    opt = sgd(model.parameters(), cfg)
    control = None if cfg.push_from == "forget" else Control(run, cfg.push_from)
    done = 0
    for idx, (xf, _), b, n_batches in retain_with_forget(run):
        if cfg.skip_short_forget and len(xf) < cfg.batch_size:
            continue
        x, y = run.batch(data.retain, idx)
        if control is not None:
            xf = control.like(xf, idx)
        first_in_train = cfg.first_batch_train and done == 0
        # perturbation search: in eval mode so that BatchNorm statistics do not see the forget batch
        # (the authors' first batch runs it in train mode)
        model.train(first_in_train)
        w = weight(cfg, b, n_batches)
        if cfg.diagnostics:
            run.note(batch=b + 1, **sign_step_diagnostics(model, x, y, xf, weight=w, alpha=cfg.alpha, task=data.task,
                                                          distance_kind=cfg.distance, amp=data.amp, objective=cfg.objective))
        x_adv = gli_perturb(model, x, y, xf, perturbation_steps=cfg.perturbation_steps, alpha=cfg.alpha, weight=w,
                            task=data.task, distance_kind=cfg.distance, recompute_forget=cfg.recompute_forget,
                            amp=data.amp, objective=cfg.objective)
        if first_in_train:
            model.train()
        else:
            run.train_mode()
        run.take_step(opt, loss_of(model, x_adv, y, data.task, data.amp))
        done += 1
