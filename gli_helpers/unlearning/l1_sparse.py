"""l1-sparse (Jia et al., "Model Sparsity Can Simplify Machine Unlearning", NeurIPS 2023): fine-tuning on the
retain set with an l1 penalty on all weights, alpha_e x sum |w|, whose weight decays linearly over the run
(alpha_e = alpha x (1 - e / epochs) in epoch e, as in the authors' public code). alpha = 1e-4, the value of the
public CIFAR-10 scripts."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .common import MethodConfig, Run, epoch_batches, loss_of, sgd

LABEL = "l1-sparse"  # its name in tables and figures
POSITION = 8.2  # its row in tables and figures
# what `tune` searches (kind, low, high; bounds inclusive; "log": log-uniform); the default is always a trial
SEARCH_SPACE = {"lr": ("log", 1e-4, 3e-2), "epochs": ("int", 1, 4), "alpha": ("log", 1e-6, 1e-3)}


@dataclass
class L1SparseConfig(MethodConfig):
    alpha: float = 1e-4  # the l1 weight of the first epoch

    NON_NEGATIVE = ("alpha",)  # range rules of this class's own fields (not dataclass fields: no annotation)


def l1_norm(params) -> torch.Tensor:
    return sum(p.abs().sum() for p in params)


def unlearn(run: Run) -> None:
    model, data, cfg = run.model, run.data, run.cfg
    params = [p for p in model.parameters() if p.requires_grad]
    opt = sgd(params, cfg)
    run.train_mode()
    weights = run.report.setdefault("l1_weights", [])  # the weight of each epoch begun, kept if selection stops early
    for epoch in range(cfg.epochs):
        alpha = cfg.alpha * (1 - epoch / cfg.epochs)
        weights.append(alpha)
        for idx in epoch_batches(len(data.retain), cfg.batch_size, data.seed, epoch):
            x, y = run.batch(data.retain, idx)
            run.take_step(opt, loss_of(model, x, y, data.task, data.amp) + alpha * l1_norm(params))
