"""Checkpoints: weights + configuration + data fingerprint + metrics, written atomically, loaded safely."""

from __future__ import annotations

from pathlib import Path

import torch

from .errors import CheckpointError
from .io import atomic_path

FORMAT = "gli-checkpoint-v1"


def save_checkpoint(path, model, *, arch: str, num_outputs: int, data_fingerprint: str, config: dict,
                    metrics: dict | None = None, extra: dict | None = None) -> None:
    payload = {"format": FORMAT, "arch": arch, "num_outputs": int(num_outputs), "data_fingerprint": data_fingerprint,
               "config": config, "metrics": metrics or {}, "extra": extra or {},
               "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path, *, arch: str | None = None, num_outputs: int | None = None,
                    data_fingerprint: str | None = None) -> dict:
    """Load with ``weights_only=True``; refuse a checkpoint of another architecture, head size or data."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; train the model first (python -m gli_helpers train).")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: say so, never execute it (and never advise to)
        raise CheckpointError(f"cannot read checkpoint {path}: the file is damaged or not a checkpoint "
                              f"({type(exc).__name__}). Delete it and train again.") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a gli_helpers checkpoint ({FORMAT}).")
    for key, want in (("arch", arch), ("num_outputs", num_outputs), ("data_fingerprint", data_fingerprint)):
        if want is not None and ckpt[key] != want:
            raise CheckpointError(f"checkpoint {path} was made with {key}={ckpt[key]!r}, but {want!r} is expected: "
                                  "it belongs to another configuration or dataset. Use another run folder, or "
                                  "delete the checkpoint to train again.")
    return ckpt
