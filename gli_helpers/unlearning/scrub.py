"""SCRUB: a student (starting as the Original) stays close to the frozen Original teacher on retain data
and moves away from it on forget data. Each epoch: a pass over retain minimising
CE + KL(teacher || student) at temperature 4, then a pass over forget maximising the KL."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from ..metrics import task_loss
from ..runtime import forward
from .common import MethodConfig, UnlearnData, distill_kl, epoch_batches, fetch, sgd, take_step

LABEL = "SCRUB"  # its name in tables and figures
POSITION = 6  # its row in tables and figures (the paper's order)


@dataclass
class SCRUBConfig(MethodConfig):
    temperature: float = 4.0
    kl_weight: float = 1.0
    forget_pass: bool = True  # the authors' multi-label runs skipped it (set False to reproduce)


def unlearn(model, data: UnlearnData, cfg: SCRUBConfig, on_step=None):
    teacher = copy.deepcopy(model).eval().requires_grad_(False)
    opt = sgd(model.parameters(), cfg)
    model.train()
    step = 0
    for epoch in range(cfg.epochs):
        passes = [("retain", data.retain)] + ([("forget", data.forget)] if cfg.forget_pass else [])
        for name, split in passes:
            for idx in epoch_batches(len(split), cfg.batch_size, data.seed, epoch):
                x, y = fetch(split, idx, data.device)
                with torch.no_grad():
                    zt = forward(teacher, x, data.amp)
                z = forward(model, x, data.amp)
                kl = distill_kl(z, zt, data.task, cfg.temperature)
                loss = task_loss(z, y, data.task) + cfg.kl_weight * kl if name == "retain" else -kl
                step = take_step(opt, loss, step, model, on_step)
    return model
