"""NegGrad: gradient ascent on the forget loss, one ascent step per retain batch on a cycled forget batch.
The retain data is not in the loss (it only sets the number of steps)."""

from __future__ import annotations

from dataclasses import dataclass

from .common import Cycle, MethodConfig, UnlearnData, epoch_batches, loss_of, sgd, take_step


@dataclass
class NegGradConfig(MethodConfig):
    pass


def unlearn(model, data: UnlearnData, cfg: NegGradConfig, on_step=None):
    opt = sgd(model.parameters(), cfg)
    forget = Cycle(data.forget, cfg.batch_size, data.seed, data.device)
    model.train()
    step = 0
    for epoch in range(cfg.epochs):
        for _ in epoch_batches(len(data.retain), cfg.batch_size, data.seed, epoch):
            xf, yf = forget.next()
            loss = -loss_of(model, xf, yf, data.task, data.device, data.amp)
            step = take_step(opt, loss, step, model, on_step)
    return model
