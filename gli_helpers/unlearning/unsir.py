"""UNSIR, adapted to instance unlearning (SPEC section 3).

Stage 1 "impair": for each (retain, forget) batch pair learn a noise batch (Adam, 5 steps) whose
outputs are as far as possible from the forget images' outputs, then take one SGD step on
task loss(noise, retain labels) + task loss(retain). Stage 2 "repair": fine-tune on retain.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..runtime import forward
from .common import MethodConfig, UnlearnData, fetch, loss_of, retain_with_forget, sgd, take_step
from .finetune import train_on_retain

LABEL = "UNSIR"  # its name in tables and figures
POSITION = 5  # its row in tables and figures (the paper's order)


@dataclass
class UNSIRConfig(MethodConfig):
    epochs: int = 1  # impair epochs
    repair_epochs: int = 1
    noise_steps: int = 5
    noise_lr: float = 0.01


def unlearn(model, data: UnlearnData, cfg: UNSIRConfig, on_step=None):
    opt = sgd(model.parameters(), cfg)
    g = torch.Generator().manual_seed(data.seed + 17)
    step = 0
    for idx, (xf, _), *_ in retain_with_forget(data, cfg):
        x, y = fetch(data.retain, idx, data.device)
        n = min(len(x), len(xf))
        x, y, xf = x[:n], y[:n], xf[:n]
        model.eval()  # the noise search must not move BatchNorm statistics
        with torch.no_grad():
            zf = forward(model, xf, data.amp)
        noise = torch.rand(x.shape, generator=g).to(data.device).requires_grad_(True)
        nopt = torch.optim.Adam([noise], lr=cfg.noise_lr)
        for _ in range(cfg.noise_steps):
            loss = -F.mse_loss(forward(model, noise, data.amp), zf)
            nopt.zero_grad(set_to_none=True)
            loss.backward()
            nopt.step()
        model.train()
        loss = loss_of(model, noise.detach(), y, data.task, data.amp) + \
            loss_of(model, x, y, data.task, data.amp)
        step = take_step(opt, loss, step, model, on_step)
    repair = UNSIRConfig(epochs=cfg.repair_epochs, lr=cfg.lr, momentum=cfg.momentum, batch_size=cfg.batch_size)
    train_on_retain(model, model.parameters(), data, repair, on_step, step0=step)
    return model
