"""SCRUB: a student (starting as the Original) stays close to the frozen Original teacher on retain data
and moves away from it on forget data. Each epoch: a pass over retain minimising
CE + KL(teacher || student) at temperature 4, then a pass over forget maximising the KL."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from ..errors import ConfigError
from ..metrics import task_loss
from ..runtime import forward
from .common import MethodConfig, Run, distill_kl, epoch_batches, sgd

LABEL = "SCRUB"  # its name in tables and figures
POSITION = 6  # its row in tables and figures (the paper's order)
# what `tune` searches (kind, low, high; bounds inclusive; "log": log-uniform); the paper's value is always a trial
SEARCH_SPACE = {"lr": ("log", 1e-4, 3e-2), "epochs": ("int", 1, 4), "kl_weight": ("log", 0.1, 10.0)}


@dataclass
class SCRUBConfig(MethodConfig):
    temperature: float = 4.0
    kl_weight: float = 1.0
    forget_pass: bool = True  # the benchmark's multi-label runs skipped it (the multi-label default)
    multilabel_kl: str = "bernoulli"  # multi-label KL: per-output Bernoulli, or "softmax" over the outputs (the benchmark's)
    POSITIVE = ('temperature',)  # range rules of this class's own fields (not dataclass fields: no annotation)
    NON_NEGATIVE = ('kl_weight',)

    def __post_init__(self):
        super().__post_init__()
        if self.multilabel_kl not in ("bernoulli", "softmax"):
            raise ConfigError(f"unknown multilabel_kl {self.multilabel_kl!r}; valid: bernoulli, softmax.")

    @classmethod
    def task_defaults(cls, task, binary):
        # As the benchmark ran multi-label SCRUB: no forget (max) pass, a softmax KL over the three outputs.
        return {"forget_pass": False, "multilabel_kl": "softmax"} if task == "multilabel" else {}


def unlearn(run: Run) -> None:
    model, data, cfg = run.model, run.data, run.cfg
    teacher = copy.deepcopy(model).eval().requires_grad_(False)
    opt = sgd(model.parameters(), cfg)
    run.train_mode()
    for epoch in range(cfg.epochs):
        passes = [("retain", data.retain)] + ([("forget", data.forget)] if cfg.forget_pass else [])
        for name, split in passes:
            for idx in epoch_batches(len(split), cfg.batch_size, data.seed, epoch):
                x, y = run.batch(split, idx)
                with torch.no_grad():
                    zt = forward(teacher, x, data.amp)
                z = forward(model, x, data.amp)
                kl = distill_kl(z, zt, data.task, cfg.temperature, cfg.multilabel_kl)
                loss = task_loss(z, y, data.task) + cfg.kl_weight * kl if name == "retain" else -kl
                run.take_step(opt, loss)
