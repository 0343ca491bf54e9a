"""Near-duplicate images by perceptual hash (DCT hash of a 32x32 grey thumbnail, 64 bits)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

_PRIORITY = ("test", "validation", "unseen", "forget", "retain")  # who keeps an image shared by two splits


def phash(images: torch.Tensor) -> np.ndarray:
    """64-bit perceptual hashes (uint64) of uint8 images (N, 3, H, W)."""
    grey = images.float().mean(1, keepdim=True)
    small = F.interpolate(grey, size=(32, 32), mode="area")[:, 0].double()
    n = torch.arange(32, dtype=torch.float64)
    dct = torch.cos(torch.pi / 32 * (n[None, :] + 0.5) * n[:, None])  # DCT-II basis
    coef = (dct @ small @ dct.T)[:, :8, :8].reshape(len(images), 64)
    bits = (coef > coef[:, 1:].median(dim=1, keepdim=True).values).numpy()
    return np.packbits(bits, axis=1).view(">u8").ravel().astype(np.uint64)


def _popcount(x: np.ndarray) -> np.ndarray:
    return np.unpackbits(x.view(np.uint8).reshape(*x.shape, 8), axis=-1).sum(-1)


def find_duplicates(hashes: np.ndarray, max_distance: int = 0) -> list[tuple[int, int]]:
    """All index pairs (i < j) whose hashes differ in at most ``max_distance`` bits."""
    if max_distance == 0:
        first, pairs = {}, []
        for j, h in enumerate(hashes.tolist()):
            for i in first.get(h, []):
                pairs.append((i, j))
            first.setdefault(h, []).append(j)
        return pairs
    pairs = []
    for lo in range(0, len(hashes), 1024):
        block = hashes[lo:lo + 1024]
        dist = _popcount(block[:, None] ^ hashes[None, :])
        for a, j in zip(*np.nonzero(dist <= max_distance), strict=False):
            i = lo + a
            if i < j:
                pairs.append((int(i), int(j)))
    return pairs


def duplicate_report(hashes_by_split: dict[str, np.ndarray], max_distance: int = 0) -> tuple[dict, dict]:
    """Count duplicate pairs within and across splits, and choose which images to drop.

    Returns (report, drop) where drop maps split -> sorted indices to remove: of every pair the
    copy in the lower-priority split goes (test and unseen are kept intact; a retain copy of a
    forget image goes), and within a split the later copy goes.
    """
    names = [n for n in _PRIORITY if n in hashes_by_split]
    owner = np.concatenate([[k] * len(hashes_by_split[n]) for k, n in enumerate(names)]).astype(int)
    local = np.concatenate([np.arange(len(hashes_by_split[n])) for n in names]).astype(int)
    allh = np.concatenate([hashes_by_split[n] for n in names]) if names else np.zeros(0, np.uint64)
    report, drop = {}, {n: set() for n in names}
    for i, j in find_duplicates(allh, max_distance):
        a, b = sorted((owner[i], owner[j]))
        key = names[a] if a == b else f"{names[a]}/{names[b]}"
        report[key] = report.get(key, 0) + 1
        loser = j if owner[j] >= owner[i] else i  # j comes later in priority order, or later in the same split
        drop[names[owner[loser]]].add(int(local[loser]))
    return report, {n: sorted(v) for n, v in drop.items()}
