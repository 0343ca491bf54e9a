"""Where a grid runs: ``local`` (one process, one unit after another: ``runner.run_benchmark``) or ``ray`` (one Ray
task per unit of work, on this machine or a cluster; docs/CLUSTER.md).

Units: a reference model (role, seed) and a method run (method, seed, procedure). A method's task depends on the
two reference tasks of its seed, so each reference model is trained once and shared, never trained twice at
once. Each task rebuilds its experiment from the run's ``spec.RunSpec`` (the benchmark is read from its decode cache on the
worker), declares its resources (``threads`` CPU threads; one GPU when the cluster has GPUs), and writes only its
own files: the reference model's folder, or the method's record in configs/. The driver alone merges the rows
into results.csv and trajectories.csv, as they arrive. A task whose worker dies is retried (``retries``) and
resumes from the run folder; a unit that fails is written to errors.csv with its error and the rest goes on.
"""

from __future__ import annotations

import socket
import traceback
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from .errors import ConfigError, GLIError
from .io import read_csv, write_csv_atomic
from .spec import RunSpec

ERROR_COLUMNS = ["unit", "benchmark", "arch", "procedure", "method", "seed", "error"]


def run_grid(spec: RunSpec, log=print) -> pd.DataFrame:
    """The spec's grid on the engine it names (``spec.engine``): ``runner.run_benchmark`` or ``run_grid_ray``."""
    if spec.engine == "ray":
        return run_grid_ray(spec, log)
    from .runner import run_benchmark
    return run_benchmark(spec, log)


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


def _reference_task(spec: RunSpec, role: str, seed: int, device: str | None):
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


def _method_task(spec: RunSpec, name: str, cfg, seed: int, device: str | None, original_ref: dict, retrained_ref: dict):
    from .runner import common_fields, run_or_reuse, unlearn_data
    if "error" in original_ref or "error" in retrained_ref:
        return {"error": "a reference model of this seed failed: "
                         f"{original_ref.get('error') or retrained_ref.get('error')}"}
    try:
        exp = spec.experiment(seed, device, worker=True)
        original, _ = exp.reference("original")  # trained by its own task: reused here
        row, traj_rows, record, reused = run_or_reuse(exp, name, cfg, original, retrained_ref["metrics"],
                                                      unlearn_data(exp, seed), common_fields(exp, spec),
                                                      spec.trajectory_every)
        return {"row": row, "traj_rows": traj_rows, "record": record, "reused": reused}
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}


def run_grid_ray(spec: RunSpec, log=print, num_cpus: int | None = None, retries: int = 2) -> pd.DataFrame:
    """The grid of ``runner.run_benchmark`` as Ray tasks, on the cluster at ``spec.address`` (default: a local one
    of ``num_cpus``); the same rows, files and resumption. Returns this call's result rows; failed units are in
    errors.csv (and make the call raise GLIError after the rest has finished)."""
    from .records import RESULT_COLUMNS, save_rows
    from .runner import common_fields, log_line, method_configs, rows_of_references, with_seed
    if spec.engine != "ray":
        raise ConfigError(f"run_grid_ray runs a spec of the Ray engine; this one names {spec.engine!r} "
                          "(spec.replace(engine='ray'), or engine.run_grid for the engine it names).")
    procedure, seeds = spec.procedure, spec.seeds
    check_address(spec.address)
    exp0 = spec.experiment(seeds[0], "cpu")  # checks the data and the recipe here, before any task starts
    configs = method_configs(exp0, list(spec.methods), spec.method_config, procedure)
    out = Path(spec.run_dir)
    out.mkdir(parents=True, exist_ok=True)
    with ray_session(spec.address, num_cpus) as ray:
        gpu = ray.cluster_resources().get("GPU", 0) > 0
        device = "cuda" if gpu else "cpu"
        opts = dict(num_cpus=spec.threads or 1, num_gpus=1 if gpu else 0, max_retries=retries)
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
                pending[method.remote(spec, name, cfg, seed, device, o, r)] = \
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
                    ref_rows = rows_of_references(exp_s, common_fields(exp_s, spec), ref_metrics[("original", seed)],
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
