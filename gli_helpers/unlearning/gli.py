"""GLI, Guided Loss-Increasing (SPEC section 2).

For each retain batch (x, y) and a cycled forget batch x_f: K sign-gradient steps move a
perturbation eta so that f(clamp(x + eta)) goes *away* from the forget outputs f(x_f) while the
task loss on y stays low (objective d(z, z_f) - w * L_task(z, y)); then one SGD step on the task
loss of the perturbed images. The weight w grows linearly from w0 to w1 over an epoch's batches.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..metrics import task_loss
from ..runtime import forward
from .common import MethodConfig, UnlearnData, fetch, loss_of, retain_with_forget, sgd, take_step
from .selection import MODES, Selector

DISTANCES = ("l2", "l1", "cosine")


def distance(z: torch.Tensor, z_f: torch.Tensor, kind: str) -> torch.Tensor:
    """l2: mean squared error; l1: mean absolute error; cosine: minus the mean cosine similarity."""
    if kind == "l2":
        return F.mse_loss(z, z_f)
    if kind == "l1":
        return F.l1_loss(z, z_f)
    if kind == "cosine":
        return -F.cosine_similarity(z, z_f, dim=1).mean()
    raise ConfigError(f"unknown GLI distance {kind!r}; valid: {', '.join(DISTANCES)}.")


def gli_perturb(model, x, y, x_f, *, perturbation_steps: int, alpha: float, weight: float, task: str, distance_kind: str = "l2",
                recompute_forget: bool = False, amp: bool = True) -> torch.Tensor:
    """The perturbed retain images clamp(x + eta, 0, 1) with |eta|_inf <= perturbation_steps * alpha.

    The forget logits do not depend on eta, so they are computed once (``recompute_forget``
    recomputes them at every step instead: the same result, K more forward passes).
    The model's mode is the caller's choice; no parameter gradient is accumulated.
    """
    def forget_logits():
        with torch.no_grad():
            z_f = forward(model, x_f, amp)
        # pair each retain image with a forget image (cycling when the forget batch is smaller)
        return z_f.repeat((len(x) + len(z_f) - 1) // len(z_f), 1)[:len(x)]

    z_f = None if recompute_forget else forget_logits()
    eta = torch.zeros_like(x)
    for _ in range(perturbation_steps):
        eta.requires_grad_(True)
        z = forward(model, (x + eta).clamp(0, 1), amp)
        zf_now = forget_logits() if recompute_forget else z_f
        objective = distance(z, zf_now, distance_kind) - weight * task_loss(z, y, task)
        (grad,) = torch.autograd.grad(objective, eta)
        eta = (eta.detach() + alpha * grad.sign())
    return (x + eta.detach()).clamp(0, 1)


LABEL = "GLI"  # its name in tables and figures
POSITION = 9  # its row in tables and figures (the paper's order)


@dataclass
class GLIConfig(MethodConfig):
    epochs: int = 1
    perturbation_steps: int = 2  # K, the sign steps per batch: 2 for MUFAC, 5 for MUCAC
    alpha: float = 0.01
    distance: str = "l2"
    w0: float = 200.0
    w1: float = 1000.0
    bn_eval: bool = False  # quirk of the authors' runs: BatchNorm frozen in eval mode throughout
    selection: str = "auto"  # auto (validation when the benchmark has one, else none) | none | validation | paper
    patience: int = 3
    select_every: int = 1

    def __post_init__(self):
        super().__post_init__()
        if self.distance not in DISTANCES:
            raise ConfigError(f"unknown GLI distance {self.distance!r}; valid: {', '.join(DISTANCES)}.")
        if self.selection not in MODES:
            raise ConfigError(f"unknown GLI selection {self.selection!r}; valid: {', '.join(MODES)}.")

    @classmethod
    def task_defaults(cls, task, young):
        if young:
            return {"perturbation_steps": 5, "w0": 800.0, "w1": 12000.0}
        return {"perturbation_steps": 5} if task == "multilabel" else {}


def unlearn(model, data: UnlearnData, cfg: GLIConfig, on_step=None):
    opt = sgd(model.parameters(), cfg)
    selector = Selector(cfg.selection, data, cfg.patience, cfg.select_every)
    step = 0
    for idx, (xf, _), b, n_batches in retain_with_forget(data, cfg):
        x, y = fetch(data.retain, idx, data.device)
        w = cfg.w0 + (cfg.w1 - cfg.w0) * b / max(n_batches - 1, 1)
        model.eval()  # perturbation search: BatchNorm statistics must not see the forget batch
        x_adv = gli_perturb(model, x, y, xf, perturbation_steps=cfg.perturbation_steps, alpha=cfg.alpha, weight=w, task=data.task,
                            distance_kind=cfg.distance, amp=data.amp)
        model.train(not cfg.bn_eval)
        loss = loss_of(model, x_adv, y, data.task, data.amp)
        step = take_step(opt, loss, step, model, on_step)
        if selector.update(step, model):
            break
    selector.restore_best(model)
    data.report.update(selector.describe(), optimizer_steps=step)
    return model

