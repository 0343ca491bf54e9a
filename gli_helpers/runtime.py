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


class CroppedConv2d(nn.Conv2d):
    """A ``Conv2d`` that, on an input so small that some kernel taps only ever meet the zero padding, convolves with
    the taps that meet the image instead, without padding.

    It is the same layer: every output sums the same products (the dropped taps multiply zeros), and the dropped
    taps get a zero gradient both ways, so outputs and gradients agree with the plain layer to float32 rounding.
    It applies when the layer has one output position (e.g. a 3x3 convolution with padding 1 on a 1x1 map, or
    with stride 2 on a 2x2 map: ResNet18's layer4 at 32 px, layer3 at 16 px). There oneDNN's CPU kernels are
    slow for the padded form, on AVX2 most (docs/PERFORMANCE.md, section 9); the cropped form is a plain matrix
    product. The parameters, their names and shapes are untouched: checkpoints stay plain torchvision ones."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        crop = _cropped_window(self, x.shape[-2:])
        if crop is None:
            return super().forward(x)
        (r0, r1), (c0, c1) = crop
        return nn.functional.conv2d(x, self.weight[:, :, r0:r1, c0:c1], self.bias, 1, 0, 1, self.groups)


def _cropped_window(conv: nn.Conv2d, size) -> tuple | None:
    """The rows and columns of ``conv``'s kernel that meet an input of ``size`` when the layer has a single output
    position and zero padding; None when the plain layer must run (several outputs, dilation, other padding)."""
    if conv.padding_mode != "zeros" or isinstance(conv.padding, str) or conv.dilation != (1, 1):
        return None
    window = []
    for n, k, s, p in zip(size, conv.kernel_size, conv.stride, conv.padding, strict=True):
        if (n + 2 * p - k) // s + 1 != 1 or n + p > k:  # several output positions, or taps beyond the image
            return None
        window.append((p, p + n))  # kernel taps p .. p+n-1 meet input rows 0 .. n-1
    if all(hi - lo == k for (lo, hi), k in zip(window, conv.kernel_size, strict=True)):
        return None  # nothing to drop
    return tuple(window)


def crop_padding_taps(model: nn.Module) -> nn.Module:
    """Make every plain ``Conv2d`` of ``model`` a ``CroppedConv2d`` in place (same parameters and state dict)."""
    for m in model.modules():
        if type(m) is nn.Conv2d:
            m.__class__ = CroppedConv2d
    return model


def prepare_model(model: nn.Module, device: torch.device, channels_last: bool = True, crop_taps: bool = True) -> nn.Module:
    """``model`` on ``device``; channels-last memory format on CUDA unless asked not to; on the CPU, convolutions
    whose padding-only taps can be dropped exactly run cropped (``CroppedConv2d``) unless ``crop_taps`` is off."""
    model = model.to(device)
    if device.type == "cuda" and channels_last:
        model = model.to(memory_format=torch.channels_last)
    if device.type == "cpu" and crop_taps:
        crop_padding_taps(model)
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


def shuffled_batches(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """One shuffled epoch of ``n`` examples as index batches, drawn from ``generator``; a last batch of one image
    is dropped (BatchNorm cannot train on it). Training and every unlearning method batch through this."""
    perm = torch.randperm(n, generator=generator)
    out = [perm[i:i + batch_size] for i in range(0, n, batch_size)]
    if len(out) > 1 and len(out[-1]) < 2:
        out.pop()
    return out
