"""Fine-tuning: continue training on the retain set only (the forget set is simply not seen again)."""

from __future__ import annotations

from dataclasses import dataclass

from .common import MethodConfig, Run, epoch_batches, loss_of, sgd

LABEL = "Fine-tuning"  # its name in tables and figures
POSITION = 2  # its row in tables and figures (the paper's order)
# what `tune` searches (kind, low, high; bounds inclusive; "log": log-uniform); the paper's value is always a trial
SEARCH_SPACE = {"lr": ("log", 1e-4, 3e-2), "epochs": ("int", 1, 4)}


@dataclass
class FinetuneConfig(MethodConfig):
    pass


def train_on_retain(model, params, run: Run, epochs: int, frozen=()) -> None:
    """Plain SGD on the task loss over ``epochs`` of the retain set; ``frozen`` modules stay in eval mode."""
    data, cfg = run.data, run.cfg
    opt = sgd(params, cfg)
    run.train_mode(frozen)
    for epoch in range(epochs):
        for idx in epoch_batches(len(data.retain), cfg.batch_size, data.seed, epoch):
            x, y = run.batch(data.retain, idx)
            run.take_step(opt, loss_of(model, x, y, data.task, data.amp))


def unlearn(run: Run) -> None:
    train_on_retain(run.model, run.model.parameters(), run, run.cfg.epochs)
