"""The run specification: everything a grid, an audit or a tuning search needs to know, in one frozen object.

A ``RunSpec`` is built once, from the command line (``cli.spec_from_args``), from a notebook's parameters
(``notebook.Workspace.spec``) or in Python, and handed unchanged to whichever engine runs it:
``runner.run_benchmark`` (local), ``engine.run_grid_ray`` (Ray), ``engine.run_grid`` (the one its ``engine``
names), ``audit.run_audit`` / ``audit.collect`` / ``audit.collect_ray`` and ``tuning.run_tune``. Each worker
rebuilds its experiment from it (``RunSpec.experiment``). This module imports no torch: a spec that cannot run
is refused before any data is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ConfigError

if TYPE_CHECKING:
    from .data import DataConfig
    from .experiment import Experiment
    from .relearn import Relearn

ENGINES = ("local", "ray")


@dataclass(frozen=True)
class RunSpec:
    """One run: the data, the recipe, the grid and where it runs.

    - data: ``benchmark`` read from ``root`` with ``data`` (a ``DataConfig``: forget set, validation share,
      deduplication, decode cache);
    - recipe: ``preset`` with ``overrides`` (epochs, resolution, ...), ``arch``;
    - grid: ``methods`` x ``seeds`` under ``procedure`` (``unlearning.settings.PROCEDURES``), with per-method
      settings ``method_config`` ({"gli": {"perturbation_steps": 3}}), trajectories every ``trajectory_every``
      steps (0: none), and the relearning test when ``relearn`` (a ``relearn.Relearn``) is given;
    - where: ``run_dir`` (models and results, reused when the configuration matches), ``engine`` ("local" or
      "ray", with ``address`` of a Ray head node), ``threads`` per unit (default: local all cores, Ray 1),
      ``device`` and ``amp``.
    """

    benchmark: str
    root: str
    run_dir: str
    preset: str = "cpu"
    arch: str = "resnet18"
    methods: tuple[str, ...] = ()
    seeds: tuple[int, ...] = (0,)
    procedure: str = "default"
    method_config: dict = field(default_factory=dict)
    overrides: dict = field(default_factory=dict)
    data: DataConfig | None = None
    trajectory_every: int = 5
    relearn: Relearn | None = None
    engine: str = "local"
    address: str | None = None
    threads: int | None = None
    device: str = "auto"
    amp: bool = True
    progress: bool = True

    def __post_init__(self):
        object.__setattr__(self, "root", str(Path(self.root).expanduser()))
        object.__setattr__(self, "run_dir", str(Path(self.run_dir).expanduser()))
        if self.engine == "ray":
            # A Ray task may run in another directory (Ray Tune starts each trial in its own folder; a cluster node
            # in wherever `ray start` ran): relative paths would find no data and no reference model there. The
            # local engine keeps the paths as given (a run's records name its data as the user did).
            object.__setattr__(self, "root", str(Path(self.root).resolve()))
            object.__setattr__(self, "run_dir", str(Path(self.run_dir).resolve()))
            if self.data is not None and self.data.cache_dir is not None:
                object.__setattr__(self, "data", replace(self.data, cache_dir=str(Path(self.data.cache_dir)
                                                                                   .expanduser().resolve())))
        if isinstance(self.methods, str):
            raise ConfigError(f"methods is a list of names, got the string {self.methods!r}; give "
                              f"methods=[{self.methods!r}] or unlearning.parse_methods({self.methods!r}).")
        object.__setattr__(self, "methods", tuple(self.methods))
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        object.__setattr__(self, "method_config", dict(self.method_config or {}))
        object.__setattr__(self, "overrides", {k: v for k, v in (self.overrides or {}).items() if v is not None})
        problems = self.problems()
        if problems:
            raise ConfigError("this run cannot start: " + "; ".join(problems) + ".")

    def problems(self) -> list[str]:
        """What makes this specification impossible, each said with its fix (checked at construction)."""
        from .unlearning.settings import PROCEDURES
        out = []
        if self.engine not in ENGINES:
            out.append(f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.address and self.engine != "ray":
            out.append("an address (--address) is for the Ray engine: add --engine ray or drop it")
        if self.relearn is not None and self.engine != "local":
            out.append("the relearning test (--relearn-steps) runs with the local engine: drop --engine ray, or run "
                       "the relearning test separately with the local engine (finished methods are rerun for it)")
        if not self.seeds:
            out.append("no seeds: give at least one (--seeds 0)")
        if self.procedure not in PROCEDURES:
            out.append(f"unknown procedure {self.procedure!r}; valid: {', '.join(PROCEDURES)}")
        if self.trajectory_every < 0:
            out.append(f"trajectory_every is a number of steps (0 for none), got {self.trajectory_every}")
        if self.threads is not None and self.threads < 1:
            out.append(f"threads must be at least 1, got {self.threads}")
        for key in ("arch", "seed"):
            if key in self.overrides:
                out.append(f"the recipe override {key!r} belongs in the spec's own field (--{key})")
        return out

    def replace(self, **changes) -> RunSpec:
        """A copy with some fields changed (checked again)."""
        return replace(self, **changes)

    def train_config(self, seed: int):
        """The training recipe of ``seed``: the preset with the overrides."""
        from .config import preset
        return preset(self.preset, self.benchmark, arch=self.arch, seed=seed, **self.overrides)

    def experiment(self, seed: int | None = None, device: str | None = None, worker: bool = False) -> Experiment:
        """The experiment of ``seed`` (default: the first seed): the benchmark loaded, the recipe, the device. In a
        Ray task (``worker``) torch gets ``threads`` (default 1); in the calling process the local engine's
        ``threads`` (default: all cores) applies, and a Ray driver leaves torch's setting alone."""
        from .experiment import prepare
        threads = (self.threads or 1) if worker else self.threads if self.engine == "local" else None
        return prepare(self.benchmark, self.root, self.run_dir, self.preset, self.arch,
                       self.seeds[0] if seed is None else seed, device=device or self.device, amp=self.amp,
                       progress=self.progress and not worker, threads=threads, overrides=self.overrides or None,
                       data=self.data)

    def check_experiment(self, exp: Experiment) -> None:
        """An experiment handed to an engine beside this spec (a notebook's, already loaded) must be the one the
        spec describes: the same benchmark, run folder and recipe."""
        from .data import DataConfig
        wanted = self.train_config(exp.cfg.seed)
        mismatch = [what for what, ok in (
            ("benchmark", exp.bench.name == self.benchmark),
            ("run folder", Path(exp.run_dir).resolve() == Path(self.run_dir).resolve()),
            ("training recipe", exp.cfg == wanted),
            ("data options", exp.bench.data_config == (self.data or DataConfig()).to_dict()),
        ) if not ok]
        if mismatch:
            raise ConfigError(f"the experiment given differs from the run specification in its {', '.join(mismatch)} "
                              f"(experiment: {exp.bench.name}, {exp.run_dir}, {exp.cfg.to_dict()}; spec: "
                              f"{self.benchmark}, {self.run_dir}, {wanted.to_dict()}); build both from the same "
                              "parameters, or leave out the experiment and let the spec load it.")


def data_config_from_args(args) -> DataConfig:
    """The command line's data options (--forget-count, --validation-share, --dedup, --cache-dir, ...)."""
    from .data import DataConfig
    return DataConfig(**{k: getattr(args, k, None) for k in ("forget_count", "test_below", "unseen_from", "forget_range",
                                                             "cache_dir")},
                      validation_share=getattr(args, "validation_share", 0.0) or 0.0, dedup=bool(getattr(args, "dedup", False)))


def overrides_from_args(args) -> dict:
    """The recipe overrides of the command line: --epochs, --resolution, --batch-size, --lr and any --set KEY=VALUE."""
    from .config import parse_setting
    overrides = {"epochs": args.epochs, "resolution": args.resolution, "batch_size": args.batch_size, "lr": args.lr}
    for text in getattr(args, "set", None) or []:
        key, value = parse_setting(text)
        overrides[key] = value
    for key in ("arch", "seed"):
        if key in overrides:
            raise ConfigError(f"use --{key} instead of --set {key}=...")
    return overrides
