"""Where a grid runs: ``local`` (one process, one unit after another: ``runner.run_benchmark``) or ``ray`` (one Ray
task per unit of work, on this machine or a cluster; docs/CLUSTER.md).

Units: a reference model (role, seed) and a method run (method, seed, procedure). A method's task depends on the
two reference tasks of its seed, so each reference model is trained once and shared, never trained twice at
once. Each task rebuilds its experiment from a ``GridSpec`` (the benchmark is read from its decode cache on the
worker), declares its resources (``threads`` CPU threads; one GPU when the cluster has GPUs), and writes only its
own files: the reference model's folder, or the method's record in configs/. The driver alone merges the rows
into results.csv and trajectories.csv, as they arrive. A task whose worker dies is retried (``retries``) and
resumes from the run folder; a unit that fails is written to errors.csv with its error and the rest goes on.
"""

from __future__ import annotations

import socket
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from .errors import ConfigError, GLIError
from .io import read_csv, write_csv_atomic

ERROR_COLUMNS = ["unit", "benchmark", "arch", "procedure", "method", "seed", "error"]


@dataclass(frozen=True)
class GridSpec:
    """Everything a worker needs to rebuild one seed's experiment (``experiment.prepare``'s arguments)."""

    benchmark: str
    root: str
    run_dir: str
    preset: str
    arch: str = "resnet18"
    overrides: dict = field(default_factory=dict)
    data: object = None  # a DataConfig
    device: str = "auto"
    amp: bool = True
    threads: int = 1

    def __post_init__(self):
        # A worker may run in another directory (Ray Tune starts each trial in its own folder; a cluster node
        # in wherever `ray start` ran): relative paths would find no data and no reference model there.
        object.__setattr__(self, "root", str(Path(self.root).resolve()))
        object.__setattr__(self, "run_dir", str(Path(self.run_dir).resolve()))
        if self.data is not None and self.data.cache_dir is not None:
            object.__setattr__(self, "data", replace(self.data, cache_dir=str(Path(self.data.cache_dir).resolve())))

    def experiment(self, seed: int, device: str | None = None, worker: bool = False):
        """The experiment of ``seed``; in a task (``worker``) torch gets the spec's ``threads``, in the calling
        process its own setting is left alone."""
        from .experiment import prepare
        return prepare(self.benchmark, self.root, self.run_dir, self.preset, self.arch, seed, device=device or self.device,
                       amp=self.amp, progress=False, threads=self.threads if worker else None,
                       overrides=self.overrides or None, data=self.data)


def check_address(address: str | None, timeout: float = 5.0) -> None:
    """An unreachable or malformed Ray address is an error before anything runs (``ray.init`` would wait
    much longer). None or "auto": nothing to check."""
    if not address or address == "auto":
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"--address must be HOST:PORT of a Ray head node (e.g. 10.0.0.5:6379), got {address!r}.")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise ConfigError(f"cannot reach the Ray head node at {address} ({exc}); start it with `ray start --head` "
                          f"there, or leave out --address to run on this machine.") from None


@contextmanager
def ray_session(address: str | None, num_cpus: int | None = None):
    """The one place the package starts Ray: ``ray`` connected to ``address`` (checked first) or to a local cluster
    of ``num_cpus``; a cluster already running in this process is used as it is and left running, one started here
    is shut down on leaving (the engine, the audit and tuning all use this)."""
    import ray
    check_address(address)
    started = not ray.is_initialized()
    if started:
        kwargs = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(num_cpus=num_cpus, **kwargs)
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def running_file(run_dir, role: str, seed: int) -> Path:
    """Where a reference task says which process trains it: ``running/<role>-seed<S>.json`` in the run folder, holding
    the host and process id while the task runs (a unit that hangs can be found and stopped by its id)."""
    return Path(run_dir) / "running" / f"{role}-seed{seed}.json"


def _reference_task(spec: GridSpec, role: str, seed: int, device: str | None):
    import os

    from .io import write_json_atomic
    marker = running_file(spec.run_dir, role, seed)
    write_json_atomic(marker, {"host": socket.gethostname(), "pid": os.getpid(), "role": role, "seed": seed})
    try:
        _, metrics = spec.experiment(seed, device, worker=True).reference(role)
        return {"metrics": {k: v for k, v in metrics.items() if k != "history"}}
    except Exception as exc:  # recorded by the driver; dependent methods are skipped
        return {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
    finally:
        marker.unlink(missing_ok=True)  # a killed task leaves it; its retry writes it again


def _method_task(spec: GridSpec, name: str, cfg, seed: int, procedure: str, preset: str, trajectory_every: int,
                 device: str | None, original_ref: dict, retrained_ref: dict):
    from .runner import common_fields, run_or_reuse, unlearn_data
    if "error" in original_ref or "error" in retrained_ref:
        return {"error": "a reference model of this seed failed: "
                         f"{original_ref.get('error') or retrained_ref.get('error')}"}
    try:
        exp = spec.experiment(seed, device, worker=True)
        original, _ = exp.reference("original")  # trained by its own task: reused here
        common = common_fields(exp, seed, procedure, preset)
        row, traj_rows, record, reused = run_or_reuse(exp, name, cfg, original, retrained_ref["metrics"],
                                                      unlearn_data(exp, seed), common, trajectory_every)
        return {"row": row, "traj_rows": traj_rows, "record": record, "reused": reused}
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}


def run_grid_ray(spec: GridSpec, methods: list[str], seeds: list[int], trajectory_every: int = 5,
                 method_overrides: dict | None = None, procedure: str = "default", preset_name: str = "",
                 address: str | None = None, num_cpus: int | None = None, retries: int = 2, log=print) -> pd.DataFrame:
    """The grid of ``runner.run_benchmark`` as Ray tasks; the same rows, files and resumption. Returns this call's
    result rows; failed units are in errors.csv (and make the call raise GLIError after the rest has finished)."""
    from .records import RESULT_COLUMNS, save_rows
    from .runner import common_fields, log_line, method_configs, rows_of_references, with_seed
    exp0 = spec.experiment(seeds[0], "cpu")  # checks the data and the recipe here, before any task starts
    configs = method_configs(exp0, methods, method_overrides or {}, procedure)
    out = Path(spec.run_dir)
    out.mkdir(parents=True, exist_ok=True)
    with ray_session(address, num_cpus) as ray:
        gpu = ray.cluster_resources().get("GPU", 0) > 0
        device = "cuda" if gpu else "cpu"
        opts = dict(num_cpus=spec.threads, num_gpus=1 if gpu else 0, max_retries=retries)
        reference = ray.remote(_reference_task).options(**opts)
        method = ray.remote(_method_task).options(**opts)
        pending, refs_of = {}, {}
        for seed in seeds:
            o = reference.remote(spec, "original", seed, device)
            r = reference.remote(spec, "retrained", seed, device)
            refs_of[seed] = (o, r)
            pending[o] = ("reference", "original", seed)
            pending[r] = ("reference", "retrained", seed)
            for name, cfg in configs.items():
                pending[method.remote(spec, name, cfg, seed, procedure, preset_name, trajectory_every, device, o, r)] = \
                    ("method", name, seed)
        rows, errors, ref_metrics = [], [], {}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            kind, name, seed = pending.pop(done[0])
            result = ray.get(done[0])
            if "error" in result:
                errors.append({"unit": kind, "benchmark": spec.benchmark, "arch": spec.arch, "procedure": procedure,
                               "method": name, "seed": seed, "error": result["error"]})
                log(f"seed {seed} {name:>12}: FAILED ({result['error']})")
                continue
            if kind == "reference":
                ref_metrics[(name, seed)] = result["metrics"]
                if ("original", seed) in ref_metrics and ("retrained", seed) in ref_metrics:
                    exp_s = with_seed(exp0, seed)
                    common = common_fields(exp_s, seed, procedure, preset_name)
                    ref_rows = rows_of_references(exp_s, common, ref_metrics[("original", seed)],
                                                  ref_metrics[("retrained", seed)])
                    save_rows(out, ref_rows, [])
                    rows += ref_rows
                continue
            if not result["reused"]:
                save_rows(out, [result["row"]], result["traj_rows"])
            rows.append(result["row"])
            log(log_line(seed, name, result["record"], result["reused"]))
        _write_errors(out, errors, procedure)
        if errors:
            raise GLIError(f"{len(errors)} unit(s) failed (see {out / 'errors.csv'}); every other unit finished and is "
                           f"in results.csv. Fix the cause and run the same command again: finished units are reused.")
        table = pd.DataFrame(rows, columns=RESULT_COLUMNS)
        return table.sort_values(["seed", "method"], key=_order_key).reset_index(drop=True) if len(table) else table


def _order_key(col: pd.Series):
    if col.name == "method":
        from .unlearning import method_order
        order = {m: i for i, m in enumerate(method_order(col.unique()))}
        return col.map(order)
    return col


def _write_errors(out: Path, errors: list[dict], procedure: str) -> None:
    """errors.csv holds the failures of the latest call of each procedure (earlier ones of it are cleared)."""
    path = out / "errors.csv"
    old = read_csv(path) if path.is_file() else pd.DataFrame(columns=ERROR_COLUMNS)
    keep = old[old.procedure != procedure]
    new = pd.concat([keep, pd.DataFrame(errors, columns=ERROR_COLUMNS)], ignore_index=True)
    if len(new):
        write_csv_atomic(path, new)
    elif path.is_file():
        path.unlink()
