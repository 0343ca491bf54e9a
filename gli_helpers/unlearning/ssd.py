"""SSD, selective synaptic dampening (Foster et al., "Fast Machine Unlearning Without Retraining Through Selective
Synaptic Dampening", AAAI 2024): no gradient steps; the parameters far more important to the forget set than to
the training set are scaled down.

Importance is the diagonal of the Fisher information, estimated as each batch's squared gradient of the task loss
averaged over batches, on the images without augmentation (as the authors' code reads them for unlearning) and with
the model in eval mode, so BatchNorm's statistics stay: ``forget`` on the forget set,
``global`` on the whole training set (retain and forget). A parameter with forget > alpha x global is multiplied by
min(dampening x global / forget, 1); every other parameter is left exactly as it was. alpha = 10 and dampening
(the paper's lambda) = 1 are the paper's values for ResNet18."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .common import MethodConfig, Run, epoch_batches, fetch, loss_of

LABEL = "SSD"  # its name in tables and figures
POSITION = 8.5  # its row in tables and figures
# what `tune` searches (kind, low, high; bounds inclusive; "log": log-uniform); the default is always a trial
SEARCH_SPACE = {"alpha": ("log", 1.0, 100.0), "dampening": ("log", 0.1, 10.0)}


@dataclass
class SSDConfig(MethodConfig):
    epochs: int = 1  # not used: SSD takes no gradient steps
    alpha: float = 10.0  # selection: forget importance above alpha x global importance
    dampening: float = 1.0  # the paper's lambda: the scale is min(dampening x global / forget, 1)

    POSITIVE = ("alpha", "dampening")  # range rules of this class's own fields (not dataclass fields: no annotation)


def importances(run: Run, splits) -> list[torch.Tensor]:
    """Per parameter, the mean over batches of the squared gradient of the task loss on ``splits``."""
    model, data, cfg = run.model, run.data, run.cfg
    params = [p for p in model.parameters() if p.requires_grad]
    total = [torch.zeros_like(p) for p in params]
    batches = 0
    for offset, split in enumerate(splits):
        for idx in epoch_batches(len(split), cfg.batch_size, data.seed + offset, 0):
            x, y = fetch(split, idx, data.device)  # clean images, whatever the procedure's augmentation
            model.zero_grad(set_to_none=True)
            loss_of(model, x, y, data.task, data.amp).backward()
            for t, p in zip(total, params, strict=True):
                if p.grad is not None:
                    t += p.grad.detach() ** 2
            batches += 1
    model.zero_grad(set_to_none=True)
    return [t / max(batches, 1) for t in total]


def unlearn(run: Run) -> None:
    model, data, cfg = run.model, run.data, run.cfg
    was_training = model.training
    model.eval()
    forget = importances(run, [data.forget])
    global_ = importances(run, [data.retain, data.forget])
    model.train(was_training)
    # SSD takes no gradient steps, so checkpoint selection has nothing to choose: its model is the dampened one
    dampened = 0
    with torch.no_grad():
        for p, f, g in zip([p for p in model.parameters() if p.requires_grad], forget, global_, strict=True):
            chosen = f > cfg.alpha * g
            scale = (cfg.dampening * g / f.clamp(min=torch.finfo(f.dtype).tiny)).clamp(max=1.0)
            p[chosen] = p[chosen] * scale[chosen]
            dampened += int(chosen.sum())
    total = sum(p.numel() for p in model.parameters() if p.requires_grad)
    run.report["dampened_share"] = dampened / total
