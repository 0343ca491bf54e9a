"""Random Labels: train on the retain set together with the forget images relabelled at random among the wrong
labels, so that the forget images' own labels stop being predicted (as in SalUn's public code, where it is called
RL: the forget and retain images are mixed in one shuffled loader).

Multi-class: each forget image gets a class drawn uniformly among the classes other than its own. Multi-label:
each forget image gets an attribute vector drawn uniformly among the 2^K - 1 vectors other than its own (at least
one attribute flipped). The labels are drawn once per run from the run's seed; the loss is the task loss
(cross-entropy, or binary cross-entropy averaged over the outputs)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .common import MethodConfig, Run, epoch_batches, loss_of, sgd

LABEL = "Random Labels"  # its name in tables and figures
POSITION = 8.3  # its row in tables and figures (the field's baselines come after the paper's)
# what `tune` searches (kind, low, high; bounds inclusive; "log": log-uniform); the default is always a trial
SEARCH_SPACE = {"lr": ("log", 1e-4, 3e-2), "epochs": ("int", 1, 4)}


@dataclass
class RandomLabelsConfig(MethodConfig):
    pass


def wrong_labels(labels: torch.Tensor, task: str, num_outputs: int, generator: torch.Generator) -> torch.Tensor:
    """A label per image drawn uniformly among the labels that are not its own."""
    n = len(labels)
    if task == "multilabel":
        if num_outputs > 62:
            raise ValueError(f"random wrong attribute vectors need at most 62 outputs, got {num_outputs}")
        flips = torch.randint(1, 2 ** num_outputs, (n,), generator=generator)  # a non-zero XOR mask
        bits = (flips[:, None] >> torch.arange(num_outputs)) & 1
        return (labels.cpu().long() ^ bits).to(labels.dtype)
    shift = torch.randint(1, num_outputs, (n,), generator=generator)
    return ((labels.cpu() + shift) % num_outputs).to(labels.dtype)


def forget_targets(data) -> torch.Tensor:
    """The wrong labels a run with ``data`` trains the forget images towards (drawn once, from the run's seed)."""
    return wrong_labels(data.forget.labels, data.task, data.num_outputs,
                        torch.Generator().manual_seed(data.seed * 7919 + 503)).to(data.forget.labels.device)


def train_with_random_labels(run: Run, params) -> None:
    """Epochs over retain and forget mixed in one shuffle, the forget images with wrong labels; SGD on ``params``."""
    model, data, cfg = run.model, run.data, run.cfg
    relabelled = forget_targets(data)
    n_retain = len(data.retain)
    opt = sgd(params, cfg)
    run.train_mode()
    for epoch in range(cfg.epochs):
        for idx in epoch_batches(n_retain + len(data.forget), cfg.batch_size, data.seed, epoch):
            r, f = idx[idx < n_retain], idx[idx >= n_retain] - n_retain
            parts = []
            if len(r):
                parts.append(run.batch(data.retain, r))
            if len(f):
                xf, _ = run.batch(data.forget, f)
                parts.append((xf, relabelled[f.to(relabelled.device)]))
            x, y = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
            run.take_step(opt, loss_of(model, x, y, data.task, data.amp))


def unlearn(run: Run) -> None:
    train_with_random_labels(run, run.model.parameters())
