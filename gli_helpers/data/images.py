"""Decode a dataset's images once into a uint8 tensor, cached on disk by source fingerprint and resolution."""

from __future__ import annotations

import io
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ..errors import DataError
from ..io import atomic_path, stable_hash, write_json_atomic
from .source import Source


def default_cache_dir() -> Path:
    return Path(os.environ.get("GLI_CACHE_DIR", Path.home() / ".cache" / "gli_helpers"))


def _decode(data: bytes, where: str, resolution: int) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as im:
            im = im.convert("RGB")
            if im.size != (resolution, resolution):
                im = im.resize((resolution, resolution), Image.BILINEAR, reducing_gap=None)
            return np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise DataError(f"cannot decode image {where} ({exc}). The file is corrupt or not an image: "
                        "replace it, or remove its row from the label file.") from exc


def decode_images(source: Source, paths: list[str], resolution: int, source_fingerprint: str,
                  cache_dir: str | os.PathLike | None = None, progress: bool = False) -> tuple[torch.Tensor, dict]:
    """Return (images as uint8 N x 3 x R x R, info) for ``paths`` in order.

    The first call decodes every image (in threads: PIL releases the GIL) and writes
    ``<cache_dir>/<key>.npy``; later calls with the same source content, paths and
    resolution load that file instead. ``info`` says which happened and how long it took.
    """
    if resolution < 8:
        raise DataError(f"resolution {resolution} is too small; use at least 8 pixels.")
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = stable_hash("images-v1", source_fingerprint, resolution, paths)[:24]
    npy, meta = cache_dir / f"{key}.npy", cache_dir / f"{key}.json"
    start = time.perf_counter()
    if npy.exists() and meta.exists():
        try:
            arr = np.load(npy)
            if arr.shape == (len(paths), resolution, resolution, 3):
                return (torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous(),
                        {"cached": True, "seconds": time.perf_counter() - start, "cache_file": str(npy)})
        except (OSError, ValueError):
            pass  # an unreadable cache is rebuilt below, never trusted
    arr = np.empty((len(paths), resolution, resolution, 3), dtype=np.uint8)

    def work(i):
        arr[i] = _decode(blobs[i], source.describe(paths[i]), resolution)

    chunk = 2048
    it = range(0, len(paths), chunk)
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc=f"decoding {len(paths)} images", unit="chunk")
    with ThreadPoolExecutor(max_workers=max(1, min(8, os.cpu_count() or 1))) as pool:
        for lo in it:
            idx = range(lo, min(lo + chunk, len(paths)))
            blobs = {i: source.read(paths[i]) for i in idx}
            list(pool.map(work, idx))
    cache_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(npy) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, arr)
    write_json_atomic(meta, {"source_fingerprint": source_fingerprint, "resolution": resolution,
                             "images": len(paths), "source": str(source.path)})
    return (torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous(),
            {"cached": False, "seconds": time.perf_counter() - start, "cache_file": str(npy)})
