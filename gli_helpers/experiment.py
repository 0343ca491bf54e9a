"""One experiment = a benchmark, a training recipe, a device and a run folder; used by the CLI and notebooks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from .config import TrainConfig, preset
from .data import Benchmark, DataConfig, load_benchmark
from .io import read_json
from .metrics import gaps_to_reference
from .runtime import pick_device, set_threads
from .spec import data_config_from_args, overrides_from_args
from .train import ROLES, model_folder, train_or_load

REPORTED = ("test_acc", "top2_acc", "mia", "forgetting_score", "final_score", "retain_acc", "forget_acc")


@dataclass
class Experiment:
    bench: Benchmark
    cfg: TrainConfig
    device: torch.device
    run_dir: Path
    amp: bool = True
    progress: bool = True

    def reference(self, role: str):
        """(model, metrics) of the Original or Retrained model, trained once and then reused."""
        return train_or_load(self.run_dir, role, self.bench, self.cfg, self.device, progress=self.progress, amp=self.amp)


def prepare(benchmark: str, root, run_dir, preset_name: str = "cpu", arch: str = "resnet18", seed: int = 0, *,
            device: str = "auto", amp: bool = True, progress: bool = True, threads: int | None = None,
            overrides: dict | None = None, data: DataConfig | None = None, **data_options) -> Experiment:
    """Load the benchmark at the preset's resolution and pick the device. ``data`` (a DataConfig) or its
    fields as keywords (forget_count, forget_range, validation_share, dedup, cache_dir, ...) choose the data."""
    dev = pick_device(device)
    if dev.type == "cpu":
        set_threads(threads)
    cfg = preset(preset_name, benchmark, arch=arch, seed=seed, **(overrides or {}))
    bench = load_benchmark(benchmark, root, cfg.resolution, data, progress=progress, **data_options)
    return Experiment(bench, cfg, dev, Path(run_dir), amp, progress)


def experiment_from_args(args, seed: int | None = None) -> Experiment:
    """The command line's experiment (every subcommand builds it here): the benchmark with its data options, the
    preset with its overrides, the architecture, the seed (``args.seed`` unless given), device, precision and
    threads."""
    return prepare(args.benchmark, args.root, args.out, args.preset, args.arch, args.seed if seed is None else seed,
                   device=args.device, amp=not args.no_amp, progress=not args.quiet,
                   threads=getattr(args, "threads", None), overrides=overrides_from_args(args),
                   data=data_config_from_args(args))


def train_reference(args) -> dict:
    """The ``train`` command: train or reuse one reference model and return its reported metrics."""
    exp = experiment_from_args(args)
    _, metrics = exp.reference(args.role)
    out = {"benchmark": exp.bench.name, "role": args.role, "arch": exp.cfg.arch, "preset": args.preset,
           "seed": exp.cfg.seed, "data_fingerprint": exp.bench.fingerprint(ROLES[args.role]),
           "reused": metrics["reused"], "run_dir": str(exp.run_dir / model_folder(args.role, exp.cfg))}
    out.update({k: metrics[k] for k in REPORTED if k in metrics})
    out["js_distance"] = metrics.get("js_distance")  # forget vs unseen loss distributions
    out["train_seconds"] = metrics.get("train_seconds")
    if args.role == "original":
        retrained = retrained_metrics(exp)
        if retrained is not None:
            out["gaps_to_retrained"] = gaps_to_reference(metrics, retrained)
    return out


def retrained_metrics(exp: Experiment) -> dict | None:
    """The metrics of the Retrained model of this experiment's configuration and data, if the run folder has it."""
    path = exp.run_dir / model_folder("retrained", exp.cfg) / "metrics.json"
    if not path.is_file():
        return None
    record = read_json(path)
    if record.get("config") != exp.cfg.to_dict() or record.get("data_fingerprint") != exp.bench.fingerprint("retain"):
        return None
    if record["metrics"].get("eval_fingerprint") != exp.bench.evaluation_fingerprint:  # measured on other splits
        return None
    return record["metrics"]
