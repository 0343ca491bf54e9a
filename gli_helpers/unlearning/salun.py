"""SalUn (Fan et al., "SalUn: Empowering Machine Unlearning via Gradient-based Weight Saliency", ICLR 2024):
Random Labels on the salient weights only.

The saliency mask: the gradient of the forget set's task loss at the Original weights (summed over the forget
batches, the model in eval mode so that BatchNorm's statistics stay), its magnitude ranked over all weights of the
network together, and the top ``share`` of them kept (0.5, the share of SalUn's public example). Then Random Labels
(``random_labels``) with the gradient of every weight outside the mask set to zero, so that those weights end
bit-identical to the Original's (plain SGD without weight decay: a zero gradient leaves a weight as it was)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .common import MethodConfig, Run, epoch_batches, loss_of
from .random_labels import train_with_random_labels

LABEL = "SalUn"  # its name in tables and figures
POSITION = 8.4  # its row in tables and figures
# what `tune` searches (kind, low, high; bounds inclusive; "log": log-uniform); the default is always a trial
SEARCH_SPACE = {"lr": ("log", 1e-4, 3e-2), "epochs": ("int", 1, 4), "share": ("float", 0.1, 0.9)}


@dataclass
class SalUnConfig(MethodConfig):
    share: float = 0.5  # the share of weights updated: the largest forget-gradient magnitudes

    POSITIVE = ("share",)  # range rules of this class's own fields (not dataclass fields: no annotation)

    def __post_init__(self):
        super().__post_init__()
        if not 0 < self.share <= 1:
            from ..errors import ConfigError
            raise ConfigError(f"SalUn's share must lie in (0, 1], got {self.share!r}.")


def saliency_masks(run: Run) -> list[torch.Tensor]:
    """One boolean mask per parameter: True for the top ``share`` of forget-loss gradient magnitudes network-wide."""
    model, data, cfg = run.model, run.data, run.cfg
    params = [p for p in model.parameters() if p.requires_grad]
    was_training = model.training
    model.eval()
    model.zero_grad(set_to_none=True)
    for idx in epoch_batches(len(data.forget), cfg.batch_size, data.seed + 1, 0):
        x, y = run.batch(data.forget, idx)
        loss_of(model, x, y, data.task, data.amp).backward()
    magnitude = torch.cat([p.grad.detach().abs().flatten() if p.grad is not None
                           else torch.zeros(p.numel(), device=p.device) for p in params])
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    keep = torch.zeros(len(magnitude), dtype=torch.bool, device=magnitude.device)
    keep[torch.topk(magnitude, max(1, round(cfg.share * len(magnitude)))).indices] = True
    return [m.view_as(p) for m, p in zip(keep.split([p.numel() for p in params]), params, strict=True)]


def unlearn(run: Run) -> None:
    params = [p for p in run.model.parameters() if p.requires_grad]
    masks = saliency_masks(run)
    # recorded before the steps: a run that checkpoint selection stops early keeps it
    run.report["masked_share"] = float(sum(int(m.sum()) for m in masks) / sum(m.numel() for m in masks))
    hooks = [p.register_hook(lambda g, m=m: g * m) for p, m in zip(params, masks, strict=True)]
    try:
        train_with_random_labels(run, params)
    finally:
        for h in hooks:
            h.remove()
