"""CF-k (catastrophic forgetting of the last k blocks): freeze all but the last k blocks, fine-tune on retain.

For ResNets k = 3 means layer3, layer4 and fc train; everything before stays bit-identical
(BatchNorm running statistics included: frozen blocks run in eval mode).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from ..models import blocks
from .common import MethodConfig, Run
from .finetune import train_on_retain

LABEL = "CF-k"  # its name in tables and figures
POSITION = 3  # its row in tables and figures (the paper's order)
# what `tune` searches (kind, low, high; bounds inclusive; "log": log-uniform); the paper's value is always a trial
SEARCH_SPACE = {"lr": ("log", 1e-4, 3e-2), "k": ("int", 1, 4)}


@dataclass
class CFkConfig(MethodConfig):
    k: int = 3
    POSITIVE = ('k',)  # range rules of this class's own fields (not dataclass fields: no annotation)


def split_blocks(model, k: int):
    all_blocks = blocks(model)
    if not 1 <= k <= len(all_blocks):
        raise ConfigError(f"k must be between 1 and {len(all_blocks)} for this model, got {k}.")
    return all_blocks[:-k], all_blocks[-k:]


def train_last_k(model, run: Run) -> None:
    """Fine-tune only the last ``cfg.k`` blocks on retain; the others keep their weights and statistics."""
    frozen, trainable = split_blocks(model, run.cfg.k)
    for _, m in frozen:
        m.requires_grad_(False)
    try:
        train_on_retain(model, [p for _, m in trainable for p in m.parameters()], run, run.cfg.epochs,
                        frozen=[m for _, m in frozen])
    finally:
        model.requires_grad_(True)


def unlearn(run: Run) -> None:
    train_last_k(run.model, run)
