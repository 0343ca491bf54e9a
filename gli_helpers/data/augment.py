"""Train-time augmentation on batched tensors (docs/METHODS.md, "The recipes"): flip, affine (shear 10, scale 0.8-1.2),
colour jitter 0.2/0.2/0.2. Runs on whatever device the batch is on; never goes through PIL."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def augment(x: torch.Tensor, generator: torch.Generator | None = None, shear_deg: float = 10.0,
            scale: tuple[float, float] = (0.8, 1.2), jitter: float = 0.2) -> torch.Tensor:
    """Augment a float batch (N, C, H, W) in [0, 1]; each image gets its own random parameters."""
    n, dev = x.shape[0], x.device

    def rand(*shape):
        return torch.rand(*shape, generator=generator).to(dev)

    flip = rand(n) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    s = scale[0] + (scale[1] - scale[0]) * rand(n)
    sh = torch.tan(math.radians(shear_deg) * (2 * rand(n) - 1))
    theta = torch.zeros(n, 2, 3, device=dev, dtype=x.dtype)
    # inverse map (output -> input): scale by 1/s, shear along x
    theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 1] = 1 / s, -sh / s, 1 / s
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if jitter > 0:
        b = 1 + jitter * (2 * rand(n, 1, 1, 1) - 1)
        c = 1 + jitter * (2 * rand(n, 1, 1, 1) - 1)
        sat = 1 + jitter * (2 * rand(n, 1, 1, 1) - 1)
        x = (x * b).clamp(0, 1)
        grey = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
        x = ((x - grey.mean((2, 3), keepdim=True)) * c + grey.mean((2, 3), keepdim=True)).clamp(0, 1)
        grey = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
        x = ((x - grey) * sat + grey).clamp(0, 1)
    return x
