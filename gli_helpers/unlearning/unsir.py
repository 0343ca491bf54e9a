"""UNSIR, adapted to instance unlearning (docs/METHODS.md), as the benchmark's notebook runs it.

Stage 1 "impair", ``epochs`` epochs: each epoch pairs retain and forget batches and ends with the
shorter of the two (``pairing="zip"``). For each pair a noise batch, drawn from a standard normal
distribution, is learned (Adam, ``noise_steps`` steps) so that the model's outputs on it are as far as
possible (mean squared error) from its outputs on the forget images; the noise is clamped to [0, 1]
and one SGD step is taken on task loss(noise, retain labels) + task loss(retain). Stage 2 "repair":
``repair_epochs`` of fine-tuning on retain. The earlier reading stays available as options:
``pairing="cycle"`` (every retain batch, the forget set cycled) and ``noise="uniform"`` (uniform
noise in [0, 1), never clamped).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..runtime import forward
from .common import MethodConfig, Run, epoch_batches, loss_of, retain_with_forget, sgd
from .finetune import train_on_retain

LABEL = "UNSIR"  # its name in tables and figures
POSITION = 5  # its row in tables and figures (the paper's order)
# what `tune` searches (kind, low, high; bounds inclusive; "log": log-uniform); the paper's value is always a trial
SEARCH_SPACE = {"lr": ("log", 1e-4, 3e-2), "noise_lr": ("log", 1e-3, 1e-1)}


@dataclass
class UNSIRConfig(MethodConfig):
    epochs: int = 2  # impair epochs
    repair_epochs: int = 1
    noise_steps: int = 5
    noise_lr: float = 0.01
    noise: str = "normal"  # normal (clamped to [0, 1] before the update) | uniform (the earlier reading)
    pairing: str = "zip"  # zip (an epoch ends with the shorter of retain and forget) | cycle (the forget set cycled)
    POSITIVE = ('noise_steps', 'noise_lr')  # range rules of this class's own fields (not dataclass fields: no annotation)
    NON_NEGATIVE = ('repair_epochs',)

    def __post_init__(self):
        super().__post_init__()
        if self.noise not in ("normal", "uniform"):
            raise ConfigError(f"unknown UNSIR noise {self.noise!r}; valid: normal, uniform.")
        if self.pairing not in ("zip", "cycle"):
            raise ConfigError(f"unknown UNSIR pairing {self.pairing!r}; valid: zip, cycle.")


def paired_batches(run: Run):
    """(retain indices, (forget images, forget labels)) for every impair step."""
    cfg, data = run.cfg, run.data
    if cfg.pairing == "cycle":
        for idx, forget, *_ in retain_with_forget(run):
            yield idx, forget
        return
    for epoch in range(cfg.epochs):
        retain = epoch_batches(len(data.retain), cfg.batch_size, data.seed, epoch)
        forget = epoch_batches(len(data.forget), cfg.batch_size, data.seed + 1, epoch)
        for r, f in zip(retain, forget, strict=False):
            yield r, run.batch(data.forget, f)


def learn_noise(model, shape, zf, cfg: UNSIRConfig, generator: torch.Generator, device, amp: bool) -> torch.Tensor:
    """A noise batch whose outputs move away from the forget outputs ``zf`` (the loss it maximises is their
    mean squared distance); returned detached, clamped to [0, 1] for ``noise="normal"``."""
    draw = torch.randn if cfg.noise == "normal" else torch.rand
    noise = draw(shape, generator=generator).to(device).requires_grad_(True)
    opt = torch.optim.Adam([noise], lr=cfg.noise_lr)
    for _ in range(cfg.noise_steps):
        loss = -F.mse_loss(forward(model, noise, amp), zf)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    noise = noise.detach()
    return noise.clamp(0, 1) if cfg.noise == "normal" else noise


def unlearn(run: Run) -> None:
    model, data, cfg = run.model, run.data, run.cfg
    opt = sgd(model.parameters(), cfg)
    g = torch.Generator().manual_seed(data.seed + 17)
    for idx, (xf, _) in paired_batches(run):
        x, y = run.batch(data.retain, idx)
        n = min(len(x), len(xf))
        x, y, xf = x[:n], y[:n], xf[:n]
        model.eval()  # the noise search must not move BatchNorm statistics
        with torch.no_grad():
            zf = forward(model, xf, data.amp)
        noise = learn_noise(model, x.shape, zf, cfg, g, data.device, data.amp)
        run.train_mode()
        loss = loss_of(model, noise, y, data.task, data.amp) + loss_of(model, x, y, data.task, data.amp)
        run.take_step(opt, loss)
    train_on_retain(model, model.parameters(), run, cfg.repair_epochs)
