"""Device choice and the fast paths: bf16 autocast and channels-last on CUDA, sensible threads on CPU."""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path

import torch
from torch import nn

from .errors import ConfigError


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` is CUDA when present, else CPU; ``cpu``/``cuda``/``cuda:N`` force it."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}; use auto, cpu or cuda[:N].") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device cuda was asked for but no CUDA device is available; use --device cpu or auto.")
    return dev


def cpu_budget(cgroup_cpu_max: str | os.PathLike = "/sys/fs/cgroup/cpu.max") -> int:
    """The cores this process may use: the CPUs it is pinned to, capped by a cgroup v2 CPU quota
    ("200000 100000" = 2 cores; "max 100000" = no quota) when the container sets one."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = Path(cgroup_cpu_max).read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota readable: the affinity mask is the budget
    return max(1, cores)


def set_threads(n: int | None = None) -> None:
    """On CPU use one intra-op thread per core this process may use (torch's default counts the host's
    cores, which oversubscribes a container limited to fewer)."""
    torch.set_num_threads(max(1, n if n is not None else cpu_budget()))


def prepare_model(model: nn.Module, device: torch.device, channels_last: bool = True) -> nn.Module:
    """``model`` on ``device``; channels-last memory format on CUDA unless asked not to."""
    model = model.to(device)
    if device.type == "cuda" and channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def autocast(device: torch.device, enabled: bool = True):
    """bf16 autocast on CUDA devices that support it; a no-op elsewhere."""
    if enabled and device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def forward(model: nn.Module, x: torch.Tensor, amp: bool = True) -> torch.Tensor:
    """Float32 logits of ``model`` on ``x``: under bf16 autocast on CUDA (unless ``amp`` is off), a plain call
    elsewhere. Every forward pass of training, evaluation and unlearning goes through here."""
    with autocast(x.device, amp):
        return model(x).float()


def to_float(images_u8: torch.Tensor, device: torch.device, channels_last: bool = True) -> torch.Tensor:
    """uint8 (N, 3, H, W) -> float in [0, 1] on ``device`` (channels-last on CUDA unless asked not to)."""
    x = images_u8.to(device, non_blocking=True).float().div_(255)
    if device.type == "cuda" and channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x
