"""EU-k (exact unlearning of the last k blocks): re-initialise the last k blocks to fresh weights, freeze the
rest, and train on retain. (The paper's Algorithm 6 restores them from the initial model instead; this is
EU-k's definition; docs/METHODS.md.)"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..models import blocks, build_model
from .cf_k import train_last_k
from .common import MethodConfig, Run

LABEL = "EU-k"  # its name in tables and figures
POSITION = 8  # its row in tables and figures (the paper's order)
# what `tune` searches (kind, low, high; bounds inclusive; "log": log-uniform); the paper's value is always a trial
SEARCH_SPACE = {"lr": ("log", 1e-4, 3e-2), "k": ("int", 1, 4)}


@dataclass
class EUkConfig(MethodConfig):
    k: int = 3
    POSITIVE = ('k',)  # range rules of this class's own fields (not dataclass fields: no annotation)


def reinitialize_last(model, arch: str, num_outputs: int, k: int, seed: int) -> None:
    """Copy freshly initialised weights (the architecture's own init, seeded) into the last k blocks."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(10_000 + seed)
        fresh = build_model(arch, num_outputs)
    device = next(model.parameters()).device
    for (_, target), (_, source) in zip(blocks(model)[-k:], blocks(fresh.to(device))[-k:], strict=False):
        target.load_state_dict(source.state_dict())


def unlearn(run: Run) -> None:
    model, data, cfg = run.model, run.data, run.cfg
    reinitialize_last(model, data.arch, data.num_outputs, cfg.k, data.seed)
    train_last_k(model, run)
