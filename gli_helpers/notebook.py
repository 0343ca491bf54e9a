"""What every notebook shares, so that none copies it: path resolution, the run and figure folders, and the
experiment of a benchmark, architecture and seed under the notebook's parameters."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .data import DataConfig
from .experiment import Experiment, prepare
from .spec import RunSpec


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


@dataclass
class Workspace:
    """A notebook's parameters in one object: ``ws = Workspace(BENCHMARK, DATA_ROOT, PRESET, RUN_DIR, FIG_DIR, ...)``
    creates the run and figure folders (paths relative to the project root) and ``ws.experiment(arch, seed)``
    loads the benchmark and recipe (another benchmark, data folder or run folder by keyword)."""

    benchmark: str
    data_root: str
    preset: str
    run_dir: Path
    fig_dir: Path | None = None
    device: str = "auto"
    validation_share: float = 0.0
    cache_dir: str | None = None
    progress: bool = True

    def __post_init__(self):
        self.validation_share = self.validation_share or 0.0  # a notebook parameter left at None: none held out
        self.run_dir = resolve(self.run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.fig_dir is not None:
            self.fig_dir = resolve(self.fig_dir)
            self.fig_dir.mkdir(parents=True, exist_ok=True)

    def experiment(self, arch: str, seed: int, benchmark: str | None = None, data_root=None, run_dir=None,
                   **overrides) -> Experiment:
        return setup(benchmark or self.benchmark, data_root or self.data_root, self.preset, arch, seed,
                     run_dir or self.run_dir, device=self.device, validation_share=self.validation_share,
                     cache_dir=self.cache_dir, progress=self.progress, **overrides)

    def spec(self, arch: str, **fields) -> RunSpec:
        """The run specification of this workspace for ``arch``: its benchmark, data, preset, run folder and device,
        with the grid's fields (``methods``, ``seeds``, ``procedure``, ``method_config``, ``trajectory_every``, ...)
        by keyword; hand it to ``runner.run_benchmark`` or ``audit.run_audit`` (with ``experiment=`` the
        workspace's experiment of the same arch, already loaded)."""
        data = DataConfig(validation_share=self.validation_share or 0.0,
                          cache_dir=None if self.cache_dir is None else str(resolve(self.cache_dir)))
        return RunSpec(self.benchmark, str(resolve(self.data_root)), str(self.run_dir), self.preset, arch, data=data,
                       device=self.device, progress=self.progress, **fields)

    def figure(self, name: str, arch: str, benchmark: str | None = None) -> Path:
        """Where a figure of this benchmark and architecture goes: ``<fig_dir>/<benchmark>_<arch>_<name>.png``."""
        return (self.fig_dir or self.run_dir) / f"{benchmark or self.benchmark}_{arch}_{name}.png"
