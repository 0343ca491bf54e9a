"""Small helpers that keep the notebooks thin: path resolution and one-line set-up."""

from __future__ import annotations

from pathlib import Path

from .experiment import Experiment, prepare


def project_root() -> Path:
    """The folder holding ``notebooks/`` and ``pyproject.toml``: found upwards from the working directory
    (JupyterLab runs notebooks inside ``notebooks/``, papermill from wherever it was called)."""
    here = Path.cwd().resolve()
    for p in (here, *here.parents):
        if (p / "pyproject.toml").is_file() and (p / "gli_helpers").is_dir():
            return p
    return here


def resolve(path) -> Path | None:
    """A path relative to the project root (absolute paths are kept; None stays None)."""
    if path is None:
        return None
    p = Path(path).expanduser()
    return p if p.is_absolute() else project_root() / p


def setup(benchmark: str, data_root, preset: str, arch: str, seed: int, run_dir, *, device: str = "auto",
          validation_share: float = 0.0, cache_dir=None, progress: bool = True, **overrides) -> Experiment:
    """``prepare`` with notebook conventions: paths relative to the project root, overrides by keyword."""
    return prepare(benchmark, resolve(data_root), resolve(run_dir), preset, arch, seed, device=device,
                   progress=progress, overrides=overrides or None, validation_share=validation_share,
                   cache_dir=resolve(cache_dir))
