"""The per-example audit (``python -m gli_helpers audit``): N Retrained models (seeds 0..N-1) and, per method, N
unlearning runs from one shared Original (seed 0, unlearning seeds 0..N-1); the logit-scaled confidence of every
forget example under every model; then F, the competition's final score and a held-out LiRA-style attack per
method (audit_metrics).

Each (model, seed) is one unit of work, written at once to ``<run>/audit_units/<name>-seed<S>.json`` (confidences,
accuracies, the population MIA, its configuration) and reused when its configuration and data are unchanged, so
an audit resumes where it stopped and a larger N reuses the smaller one's units. Reference models live in the run
folder as for ``run`` and are shared with it. A method's configuration is set as for ``run`` (a procedure,
``--method-config``); off the honest procedure its units and rows are named ``<method>-<procedure>``
(``unit_name``), and a unit is never replaced by a run of another configuration: that is an error.

Rows that make the numbers readable: ``original`` (the Original as its own N "unlearned" models: the floor) and
``retrained_vs_retrained`` (the Retrained models split in two halves: the best F reachable with N/2 models); each
method is also scored at N/2 (``f_half``: its first N/2 runs against the first N/2 Retrained models), the number
to set beside that row. F from different N are never comparable: every row carries its N.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .audit_metrics import bootstrap_intervals, competition_score, forgetting_quality, lira, logit_scaled_confidence
from .errors import ConfigError, GLIError
from .io import merge_rows, read_csv, read_json, write_csv_atomic, write_json_atomic
from .metrics import metrics_from_logits, predict
from .runner import method_configs, unlearn_data, with_seed
from .unlearning import REFERENCES, get_method
from .unlearning.common import current_settings
from .unlearning.settings import PROCEDURES

AUDIT_COLUMNS = ["benchmark", "arch", "method", "n_models", "f", "final_score_competition", "f_half", "n_half",
                 "attack_acc", "attack_auc", "tpr_at_1pct_fpr", "retain_acc", "test_acc", "retain_acc_retrained",
                 "test_acc_retrained", "mia", "forgetting_score", "median_epsilon", "share_epsilon_capped",
                 "seconds", "method_config"]
AUDIT_PROCEDURES = ("honest", "authors")  # the final model, or the authors' choice per step on test and unseen


def unit_path(run_dir: Path, name: str, seed: int) -> Path:
    return Path(run_dir) / "audit_units" / f"{name}-seed{seed}.json"


def _score(model, exp, seed: int) -> dict:
    """Confidences of the forget examples, retain/test accuracy and the population MIA of one model."""
    b = exp.bench
    logits = {k: predict(model, b.splits[k], exp.device, exp.cfg.eval_batch_size, exp.amp)
              for k in ("forget", "retain", "test", "unseen")}
    m = metrics_from_logits(logits, {k: b.splits[k].labels for k in logits}, b.task, seed)
    conf = logit_scaled_confidence(logits["forget"].numpy(), b.forget.labels.numpy(), b.task)
    return {"forget_conf": conf.tolist(), **{k: m[k] for k in ("retain_acc", "test_acc", "mia", "forgetting_score")}}


def _identity(exp) -> dict:
    return {"benchmark": exp.bench.name, "train_config": {**exp.cfg.to_dict(), "seed": None},
            "data_fingerprint": exp.bench.fingerprint("train"), "forget_fingerprint": exp.bench.fingerprint("forget")}


def check_run_folder(exp) -> None:
    """The run folder's audit.json must describe this benchmark, recipe and data (else: a clear error, nothing
    touched); a new folder gets one."""
    path = Path(exp.run_dir) / "audit.json"
    ident = _identity(exp)
    if path.is_file():
        old = read_json(path)
        if old != ident:
            diff = sorted(k for k in ident if old.get(k) != ident[k])
            raise ConfigError(f"{exp.run_dir} holds an audit of another configuration (differs in {', '.join(diff)}); "
                              f"give another --out, or the same benchmark, preset and data options.")
    else:
        write_json_atomic(path, ident)


def _unit(exp, name: str, seed: int, method_config: dict | None, make_model, log) -> dict:
    path = unit_path(exp.run_dir, name, seed)
    ident = {**_identity(exp), "name": name, "seed": seed, "method_config": method_config}
    if path.is_file():
        rec = read_json(path)
        stored = {k: rec.get(k) for k in ident}
        stored["method_config"] = current_settings(stored["method_config"])  # records from before a rename match
        if stored == {**ident, "method_config": current_settings(method_config)}:
            return rec
        if stored["method_config"] != current_settings(method_config):  # the run folder already checked recipe and data
            raise ConfigError(f"{path} holds {name} seed {seed} run with another configuration; give another --out "
                              f"(or move that file away) to audit this one.")
    start = time.perf_counter()
    try:
        model = make_model()
    except GLIError:
        raise
    except Exception as exc:  # a method that fails on one seed: say which; every finished unit stays on disk
        raise GLIError(f"audit unit {name} seed {seed} failed: {type(exc).__name__}: {exc}. The finished units are "
                       f"kept in {path.parent}; fix the cause and run the same command again to resume.") from exc
    rec = {**ident, **_score(model, exp, seed), "seconds": time.perf_counter() - start}
    write_json_atomic(path, rec)
    log(f"audit unit {name} seed {seed}: retain {rec['retain_acc']:.4f} test {rec['test_acc']:.4f}")
    return rec


def unit_name(method: str, procedure: str = "honest") -> str:
    """How a method's units and rows are named: the method, or ``<method>-<procedure>`` off the honest procedure."""
    return method if procedure == "honest" else f"{method}-{procedure}"


def method_of(name: str) -> str:
    """The method a unit name runs (``unit_name``'s inverse)."""
    base, _, suffix = name.rpartition("-")
    return base if base and suffix in PROCEDURES else name


def _build(exp, name: str, seed: int, cfg):
    """The model of one unit: a Retrained model, the Original (seed 0), or a method run from it (unlearning seed)."""
    exp0 = with_seed(exp, 0)
    if name == "retrained":
        return with_seed(exp, seed).reference("retrained")[0]
    original = exp0.reference("original")[0]
    if name == "original":
        return original
    torch.manual_seed(seed)
    return get_method(method_of(name)).unlearn(copy.deepcopy(original), unlearn_data(exp0, seed), cfg)[0]


def _plan(exp, methods: list[str], n_models: int, procedure: str = "honest",
          overrides: dict | None = None) -> tuple[list[tuple], dict]:
    """Check the request; the units in order (name, seed, configuration) and each unit name's configuration.
    ``procedure`` (unlearning.settings.PROCEDURES, "default" excepted) and ``overrides`` ({method: {setting: value}}) set the
    methods' configurations as for ``run``."""
    if n_models < 2:
        raise ConfigError(f"--models must be at least 2 (two groups of models to compare), got {n_models}.")
    bad = [m for m in methods if m in REFERENCES]
    if bad:
        raise ConfigError(f"the audit runs unlearning methods; {bad} are its reference rows already.")
    if procedure not in AUDIT_PROCEDURES:
        raise ConfigError(f"the audit's procedure is one of {', '.join(AUDIT_PROCEDURES)}, got {procedure!r} (its "
                          f"units need a fixed rule for the model they keep).")
    configs = {unit_name(m, procedure): cfg  # every configuration built (and so checked) before anything runs
               for m, cfg in method_configs(exp, methods, overrides or {}, procedure).items()}
    plan = [("retrained", s, None) for s in range(n_models)] + [("original", 0, None)]
    plan += [(m, s, cfg) for m, cfg in configs.items() for s in range(n_models)]
    return plan, configs


def _grouped(results: dict, names: list[str], n_models: int) -> dict[str, list[dict]]:
    units = {"retrained": [results[("retrained", s)] for s in range(n_models)],
             "original": [results[("original", 0)]] * n_models}  # one model: no unlearning, the same scores N times
    units.update({m: [results[(m, s)] for s in range(n_models)] for m in names})
    return units


def audit_procedure(spec) -> str:
    """The audit's procedure: the spec's, where a spec left at "default" means the honest one (the audit keeps the
    final model of every unit; the command line's default too)."""
    return "honest" if spec.procedure == "default" else spec.procedure


def collect(spec, n_models: int, log=print, experiment=None) -> dict[str, list[dict]]:
    """Every unit of the audit of ``spec`` (a ``spec.RunSpec``: its methods, procedure and method settings; seeds
    0..``n_models``-1) trained, run or reused in this process: {name: [unit per seed]}, names 'retrained', 'original'
    and the methods' unit names (``unit_name``). ``experiment``: the spec's, when the caller has it loaded."""
    if experiment is not None:
        spec.check_experiment(experiment)
    exp = with_seed(experiment, 0) if experiment is not None else spec.experiment(0)
    plan, configs = _plan(exp, list(spec.methods), n_models, audit_procedure(spec), spec.method_config)
    Path(exp.run_dir).mkdir(parents=True, exist_ok=True)
    check_run_folder(exp)
    results = {}
    for name, seed, cfg in plan:
        results[(name, seed)] = _unit(exp, name, seed, cfg and cfg.to_dict(),
                                      lambda n=name, s=seed, c=cfg: _build(exp, n, s, c), log)
    return _grouped(results, list(configs), n_models)


def _unit_task(spec, name: str, seed: int, cfg, device: str, *after):
    try:
        exp = spec.experiment(0, device, worker=True)
        return _unit(exp, name, seed, cfg and cfg.to_dict(), lambda: _build(exp, name, seed, cfg), lambda *a: None)
    except Exception as exc:  # reported by the driver; the other units go on
        return {"error": str(exc)}


def collect_ray(spec, n_models: int, log=print, retries: int = 2) -> dict[str, list[dict]]:
    """``collect`` with one Ray task per unit, on the cluster at ``spec.address`` (default: a local one); the
    methods' units wait for the Original's, so it is trained once. A failing unit is reported after every other
    unit has finished and been saved."""
    from .engine import check_address, ray_session
    check_address(spec.address)
    exp = spec.experiment(0, "cpu")
    plan, configs = _plan(exp, list(spec.methods), n_models, audit_procedure(spec), spec.method_config)
    Path(exp.run_dir).mkdir(parents=True, exist_ok=True)
    check_run_folder(exp)
    with ray_session(spec.address, None) as ray:
        gpu = ray.cluster_resources().get("GPU", 0) > 0
        task = ray.remote(_unit_task).options(num_cpus=spec.threads or 1, num_gpus=1 if gpu else 0,
                                              max_retries=retries)
        device = "cuda" if gpu else "cpu"
        original = task.remote(spec, "original", 0, None, device)
        refs = {("original", 0): original}
        for name, seed, cfg in plan:
            if name != "original":
                refs[(name, seed)] = task.remote(spec, name, seed, cfg, device, *([original] if cfg else []))
        results = dict(zip(refs, ray.get(list(refs.values())), strict=True))
    failed = {k: v["error"] for k, v in results.items() if "error" in v}
    for (name, seed), rec in results.items():
        if "error" not in rec:
            log(f"audit unit {name} seed {seed}: retain {rec['retain_acc']:.4f} test {rec['test_acc']:.4f}")
    if failed:
        (name, seed), err = next(iter(failed.items()))
        raise GLIError(f"{len(failed)} audit unit(s) failed, e.g. {name} seed {seed}: {err}. The finished units are kept "
                       f"in {Path(exp.run_dir) / 'audit_units'}; fix the cause and run the same command again to resume.")
    return _grouped(results, list(configs), n_models)


def distinct_units(group: list[dict]) -> list[dict]:
    """The distinct units of a group (the Original's row repeats one unit N times)."""
    return list({id(u): u for u in group}.values())


def _conf(units: list[dict]) -> np.ndarray:
    return np.array([u["forget_conf"] for u in units])


def summarize(units: dict[str, list[dict]], benchmark: str, arch: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(audit rows per method, per-example rows per method and forget example)."""
    retr = units["retrained"]
    n = len(retr)
    half = n // 2
    r_conf = _conf(retr)
    ra_r, ta_r = np.mean([u["retain_acc"] for u in retr]), np.mean([u["test_acc"] for u in retr])
    rows, examples = [], []

    def row(name, group, u_conf, ref_conf, config=None):
        f, eps, h = forgetting_quality(u_conf, ref_conf)
        ra_u, ta_u = np.mean([u["retain_acc"] for u in group]), np.mean([u["test_acc"] for u in group])
        attack = lira(u_conf, ref_conf) if len(u_conf) >= 3 else {"attack_acc": np.nan, "attack_auc": np.nan,
                                                                    "tpr_at_1pct_fpr": np.nan, "example_gap": np.nan}
        at_half = half >= 2 and name != "retrained_vs_retrained"  # that row is at N/2 already
        f_half = forgetting_quality(u_conf[:half], ref_conf[:half])[0] if at_half else np.nan
        rows.append({"benchmark": benchmark, "arch": arch, "method": name, "n_models": len(u_conf), "f": f,
                     "final_score_competition": competition_score(f, ra_u, ra_r, ta_u, ta_r), "f_half": f_half,
                     "n_half": half, **{k: attack[k] for k in ("attack_acc", "attack_auc", "tpr_at_1pct_fpr")},
                     "retain_acc": ra_u, "test_acc": ta_u, "retain_acc_retrained": ra_r, "test_acc_retrained": ta_r,
                     "mia": np.mean([u["mia"] for u in group]),
                     "forgetting_score": np.mean([u["forgetting_score"] for u in group]),
                     "median_epsilon": float(np.median(eps)), "share_epsilon_capped": float((eps >= 50).mean()),
                     "seconds": float(sum(u.get("seconds", 0.0) for u in distinct_units(group))),
                     "method_config": "" if config is None else json.dumps(config, sort_keys=True)})
        examples.append(pd.DataFrame({"method": name, "n_models": len(u_conf), "example": np.arange(u_conf.shape[1]),
                                      "epsilon": eps, "h": h, "lira_gap": attack["example_gap"],
                                      "conf_unlearned": u_conf.mean(0), "conf_reference": ref_conf.mean(0)}))

    row("original", units["original"], _conf(units["original"]), r_conf)
    if half >= 2:
        row("retrained_vs_retrained", retr[half:2 * half], r_conf[half:2 * half], r_conf[:half])
    for name, group in units.items():
        if name not in ("retrained", "original"):
            row(name, group, _conf(group), r_conf, group[0]["method_config"])
    return pd.DataFrame(rows, columns=AUDIT_COLUMNS), pd.concat(examples, ignore_index=True)


def with_intervals(units: dict[str, list[dict]], table: pd.DataFrame, examples: pd.DataFrame, samples: int = 200,
                   seed: int = 0) -> pd.DataFrame:
    """``table`` with bootstrap intervals over forget examples for F and the attack's accuracy (f_lo, f_hi,
    attack_acc_lo, attack_acc_hi), each row's groups of models as in ``summarize``."""
    r = _conf(units["retrained"])
    half = len(r) // 2
    rows = []
    for _, row in table.iterrows():
        m = row.method
        u, ref = (r[half:2 * half], r[:half]) if m == "retrained_vs_retrained" else (_conf(units[m]), r)
        h = examples[(examples.method == m) & (examples.n_models == row.n_models)].sort_values("example").h.to_numpy()
        rows.append({**row.to_dict(), **bootstrap_intervals(u, ref, h, samples, seed)})
    return pd.DataFrame(rows)


def check_bootstrap(samples: int) -> None:
    if samples < 0:
        raise ConfigError(f"--bootstrap is a number of resamples (0 for none), got {samples}.")


def run_audit(spec, n_models: int, log=print, bootstrap: int = 0, experiment=None) -> pd.DataFrame:
    """Collect every unit of ``spec``'s audit on the engine it names (``collect`` or ``collect_ray``), then write
    audit.csv and audit_examples.csv to the run folder; returns the audit rows. ``bootstrap`` > 0 adds 95%
    intervals over forget examples (f_lo, f_hi, attack_acc_lo, attack_acc_hi) from that many resamples. A
    method's rows are named by ``unit_name`` (its procedure)."""
    check_bootstrap(bootstrap)
    if spec.engine == "ray":
        if experiment is not None:
            raise ConfigError("an experiment is handed to the local audit only; the Ray engine's tasks load their own "
                              "(leave out experiment=, or use a spec with engine='local').")
        units = collect_ray(spec, n_models, log)
    else:
        units = collect(spec, n_models, log, experiment)
    table, examples = summarize(units, spec.benchmark, spec.arch)
    if bootstrap:
        table = with_intervals(units, table, examples, bootstrap)
    out = Path(spec.run_dir)
    write_csv_atomic(out / "audit.csv", _merged(out / "audit.csv", table))
    write_csv_atomic(out / "audit_examples.csv", _merged(out / "audit_examples.csv", examples))
    return table


def _merged(path: Path, new: pd.DataFrame) -> pd.DataFrame:
    """``new`` plus the rows of an earlier call for other (method, N): an audit of fewer methods loses nothing.
    The file keeps its order: a (method, N) already there is replaced in place, a new one goes last."""
    return merge_rows(read_csv(path) if path.is_file() else None, new, ["method", "n_models"])
