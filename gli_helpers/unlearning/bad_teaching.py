"""Bad Teaching: the student (starting as the Original) is distilled towards the Original ("good" teacher) on
retain data and towards a randomly initialised ("bad") teacher on forget data."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from ..models import build_model
from ..runtime import forward
from .common import MethodConfig, Run, distill_kl, retain_with_forget, sgd

LABEL = "Bad Teaching"  # its name in tables and figures
POSITION = 7  # its row in tables and figures (the paper's order)
# what `tune` searches (kind, low, high; bounds inclusive; "log": log-uniform); the paper's value is always a trial
SEARCH_SPACE = {"lr": ("log", 1e-4, 3e-2), "temperature": ("float", 0.5, 4.0)}


@dataclass
class BadTeachingConfig(MethodConfig):
    epochs: int = 1
    temperature: float = 1.0
    POSITIVE = ('temperature',)  # range rules of this class's own fields (not dataclass fields: no annotation)


def unlearn(run: Run) -> None:
    model, data, cfg = run.model, run.data, run.cfg
    good = copy.deepcopy(model).eval().requires_grad_(False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(20_000 + data.seed)
        bad = build_model(data.arch, data.num_outputs)
    bad = bad.to(data.device).eval().requires_grad_(False)
    opt = sgd(model.parameters(), cfg)
    run.train_mode()
    for idx, (xf, _), *_ in retain_with_forget(run):
        x, _ = run.batch(data.retain, idx)
        with torch.no_grad():
            zg, zb = forward(good, x, data.amp), forward(bad, xf, data.amp)
        z = forward(model, torch.cat([x, xf]), data.amp)
        loss = distill_kl(z[:len(x)], zg, data.task, cfg.temperature) + \
            distill_kl(z[len(x):], zb, data.task, cfg.temperature)
        run.take_step(opt, loss)
