"""Fine-tuning: continue training on the retain set only (the forget set is simply not seen again)."""

from __future__ import annotations

from dataclasses import dataclass

from .common import MethodConfig, UnlearnData, epoch_batches, fetch, loss_of, sgd, take_step

LABEL = "Fine-tuning"  # its name in tables and figures
POSITION = 2  # its row in tables and figures (the paper's order)


@dataclass
class FinetuneConfig(MethodConfig):
    pass


def train_on_retain(model, params, data: UnlearnData, cfg: MethodConfig, on_step=None, step0: int = 0,
                    frozen=()) -> int:
    """Plain SGD on the task loss over the retain set; ``frozen`` modules stay in eval mode.
    Returns the number of steps taken."""
    opt = sgd(params, cfg)
    step = step0
    model.train()
    for m in frozen:
        m.eval()
    for epoch in range(cfg.epochs):
        for idx in epoch_batches(len(data.retain), cfg.batch_size, data.seed, epoch):
            x, y = fetch(data.retain, idx, data.device)
            loss = loss_of(model, x, y, data.task, data.amp)
            step = take_step(opt, loss, step, model, on_step)
    return step


def unlearn(model, data: UnlearnData, cfg: FinetuneConfig, on_step=None):
    train_on_retain(model, model.parameters(), data, cfg, on_step)
    return model
