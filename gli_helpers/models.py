"""The three architectures the paper uses, from torchvision, trained from scratch (no downloads)."""

from __future__ import annotations

import torchvision
from torch import nn

from .catalog import ARCHS  # the light list the command line shows
from .errors import ConfigError


def build_model(arch: str, num_outputs: int) -> nn.Module:
    """A randomly initialised ``arch`` with a ``num_outputs`` head (8 MUFAC, 3 MUCAC, 2 binary)."""
    if arch not in ARCHS:
        raise ConfigError(f"unknown architecture {arch!r}; valid: {', '.join(ARCHS)}.")
    if num_outputs < 1:
        raise ConfigError(f"num_outputs must be positive, got {num_outputs}.")
    return getattr(torchvision.models, arch)(weights=None, num_classes=num_outputs)


def blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The model's top-level blocks in forward order; CF-k and EU-k act on the last k of them.

    ResNets: stem, layer1..layer4, fc. EfficientNet: features.0 .. features.8, classifier.
    """
    if isinstance(model, torchvision.models.ResNet):
        stem = nn.ModuleList([model.conv1, model.bn1])
        return [("stem", stem)] + [(f"layer{i}", getattr(model, f"layer{i}")) for i in range(1, 5)] + [("fc", model.fc)]
    if isinstance(model, torchvision.models.EfficientNet):
        return [(f"features.{i}", m) for i, m in enumerate(model.features)] + [("classifier", model.classifier)]
    raise ConfigError(f"no block structure known for {type(model).__name__}; use one of {', '.join(ARCHS)}.")
