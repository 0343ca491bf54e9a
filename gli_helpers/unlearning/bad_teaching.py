"""Bad Teaching: the student (starting as the Original) is distilled towards the Original ("good" teacher) on
retain data and towards a randomly initialised ("bad") teacher on forget data."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from ..models import build_model
from .common import Cycle, MethodConfig, UnlearnData, distill_kl, epoch_batches, fetch, sgd, take_step


@dataclass
class BadTeachingConfig(MethodConfig):
    epochs: int = 1
    temperature: float = 1.0


def unlearn(model, data: UnlearnData, cfg: BadTeachingConfig, on_step=None):
    good = copy.deepcopy(model).eval().requires_grad_(False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(20_000 + data.seed)
        bad = build_model(data.arch, data.num_outputs)
    bad = bad.to(data.device).eval().requires_grad_(False)
    opt = sgd(model.parameters(), cfg)
    forget = Cycle(data.forget, cfg.batch_size, data.seed, data.device)
    model.train()
    step = 0
    for epoch in range(cfg.epochs):
        for idx in epoch_batches(len(data.retain), cfg.batch_size, data.seed, epoch):
            x, _ = fetch(data.retain, idx, data.device)
            xf, _ = forget.next()
            with torch.no_grad():
                zg, zb = good(x).float(), bad(xf).float()
            z = model(torch.cat([x, xf])).float()
            loss = distill_kl(z[:len(x)], zg, data.task, cfg.temperature) + \
                distill_kl(z[len(x):], zb, data.task, cfg.temperature)
            step = take_step(opt, loss, step, model, on_step)
    return model
