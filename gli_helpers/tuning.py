"""``python -m gli_helpers tune``: every method's main settings searched with the same number of trials (Ray Tune
with its Optuna searcher), each trial scored on the validation split only, then the chosen configuration and the
paper's run once on the test protocol and reported side by side.

- The search space of each method is declared beside it (``SEARCH_SPACE`` in its module); the paper's configuration
  is always the first trial.
- A trial unlearns the shared Original (seed 0) with the honest procedure (the final model, BatchNorm trains) and
  scores the final score on the validation split: accuracy there, and the MIA of forget against validation losses;
  test and unseen never enter the choice.
- Results: tune.csv (every trial: its configuration, validation score, which one is the paper's and which was
  chosen, the search space and the evaluation splits it was scored on) and results.csv rows of procedure
  ``honest`` (the paper's configuration) and ``tuned`` (the chosen one).
- tune.csv is written after each method; a method whose K trials are already there (same space, same splits) is
  not searched again, so a stopped search resumes at the next method.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pandas as pd
import torch

from .errors import ConfigError, GLIError
from .io import merge_rows, read_csv, write_csv_atomic

KINDS = ("log", "float", "int")
TEXT_COLUMNS = {"config": str, "search_space": str, "eval_fingerprint": str}  # JSON and hex: never parsed as numbers
TUNE_COLUMNS = ["benchmark", "arch", "method", "trial", "validation_score", "paper_config", "chosen", "config",
                "search_space", "eval_fingerprint"]


def check_space(name: str, space: dict, config_class) -> None:
    """A search space must name settings the method has, with a known kind and low <= high."""
    from dataclasses import fields
    known = {f.name for f in fields(config_class)}
    unknown = sorted(set(space) - known)
    if unknown:
        raise ConfigError(f"the search space of {name} names setting(s) {unknown} it does not have; valid: {sorted(known)}.")
    for key, (kind, low, high) in space.items():
        if kind not in KINDS or not low <= high or (kind == "log" and low <= 0):
            raise ConfigError(f"{name}'s search space for {key}: ({kind!r}, {low}, {high}) is not a valid range "
                              f"(kinds: {', '.join(KINDS)}; low <= high; log needs low > 0).")


def _distribution(kind: str, low, high):
    from ray import tune
    if kind == "log":
        return tune.loguniform(low, high)
    if kind == "int":
        return tune.randint(int(low), int(high) + 1)  # Ray's upper bound is exclusive
    return tune.uniform(low, high)


def _trial(config: dict, spec, name: str, base: dict, device: str):
    from .runner import unlearn_data
    from .train import load_saved
    from .unlearning import default_config, get_method
    from .unlearning.selection import Selector
    exp = spec.experiment(0, device, worker=True)
    loaded = load_saved(exp.run_dir, "original", exp.bench, exp.cfg, exp.device)  # trained by the caller, never here
    if loaded is None:
        raise GLIError(f"a tuning trial found no Original model in {exp.run_dir}; the calling process saves it there "
                       "before any trial starts, so every node must see the run folder at the same path (docs/CLUSTER.md).")
    original = loaded[0]
    b = exp.bench
    cfg = default_config(name, b.task, b.spec.binary, **{**base, **config})
    data = unlearn_data(exp, 0)
    torch.manual_seed(0)
    model, _ = get_method(name).unlearn(copy.deepcopy(original), data, cfg)
    return {"validation_score": Selector("validation", data).score(model)}


def run_tune(spec, trials: int, log=print):
    """Search each of ``spec``'s methods (``trials`` trials, the paper's first) with Ray Tune on the cluster at
    ``spec.address`` (default: a local one), write tune.csv, then run the paper's and the chosen configuration on
    the test protocol (results.csv rows ``honest`` and ``tuned``), seed 0. Returns tune.csv's rows."""
    from .engine import check_address, ray_session
    from .records import save_rows
    from .runner import common_fields, log_line, rows_of_references, run_or_reuse, unlearn_data
    from .unlearning import REFERENCES, default_config, get_method
    from .unlearning.settings import PROCEDURES
    methods = list(spec.methods)
    if spec.engine != "ray":
        raise ConfigError(f"tune runs its trials on Ray; give a spec with engine='ray' (this one names {spec.engine!r}).")
    if spec.method_config or spec.procedure not in ("default", "honest"):
        raise ConfigError("tune searches from the honest procedure at each method's paper settings; a run's own "
                          f"procedure ({spec.procedure!r}) or method settings ({spec.method_config or 'none'}) have no "
                          "place in it: drop them.")
    if trials < 1:
        raise ConfigError(f"--trials must be at least 1 (the paper's configuration is the first trial), got {trials}.")
    bad = [m for m in methods if m in REFERENCES]
    if bad:
        raise ConfigError(f"tune searches unlearning methods; {bad} have nothing to tune.")
    for m in methods:
        method = get_method(m)
        check_space(m, method.search_space, method.config_class)
    check_address(spec.address)
    exp = spec.experiment(0, "cpu")
    b = exp.bench
    if "validation" not in b.splits:
        raise ConfigError("tune scores every trial on the validation split, which this benchmark does not have: give "
                          "--validation-share (e.g. 0.2: a fifth of the test families held out).")
    base = PROCEDURES["honest"]
    paper = {m: default_config(m, b.task, b.spec.binary, **base) for m in methods}
    out = Path(spec.run_dir)
    out.mkdir(parents=True, exist_ok=True)
    original, m_orig = exp.reference("original")  # trained once here, read by every trial
    _, m_retr = exp.reference("retrained")
    for procedure in ("honest", "tuned"):  # the reference rows beside both procedures' method rows
        save_rows(out, rows_of_references(exp, {**common_fields(exp, spec), "procedure": procedure}, m_orig, m_retr),
                  [])
    with ray_session(spec.address, None) as ray:
        from ray import tune
        from ray.tune.search.optuna import OptunaSearch
        gpu = ray.cluster_resources().get("GPU", 0) > 0
        device = "cuda" if gpu else "cpu"
        rows, path, eval_key = [], out / "tune.csv", b.evaluation_fingerprint
        for m in methods:
            space = get_method(m).search_space
            first = {k: getattr(paper[m], k) for k in space}
            space_key = json.dumps(space, sort_keys=True)
            done = _finished_trials(path, m, trials, space_key, eval_key)
            if done is not None:
                log(f"tune {m}: {trials} trials reused from {path}")
            else:
                searcher = OptunaSearch(points_to_evaluate=[first], seed=0)
                resources = {"cpu": spec.threads or 1, **({"gpu": 1} if gpu else {})}
                tuner = tune.Tuner(
                    tune.with_resources(tune.with_parameters(_trial, spec=spec, name=m, base=base, device=device),
                                        resources),
                    param_space={k: _distribution(*v) for k, v in space.items()},
                    tune_config=tune.TuneConfig(metric="validation_score", mode="max", num_samples=trials,
                                                search_alg=searcher),
                    run_config=tune.RunConfig(name=m, storage_path=str((out / "tune_trials").resolve()), verbose=0))
                grid = tuner.fit()
                errors = [r.error for r in grid if r.error]
                if errors:
                    log(f"tune {m}: {len(errors)} trial(s) failed, e.g. {errors[0]}")
                done = [({k: _python_number(v) for k, v in r.config.items()}, r.metrics.get("validation_score"))
                        for r in grid if not r.error]  # in trial order
            best = max(range(len(done)), key=lambda i: done[i][1]) if done else None
            mine = [{"benchmark": b.name, "arch": exp.cfg.arch, "method": m, "trial": i, "validation_score": score,
                     "paper_config": _is_paper_config(config, first), "chosen": i == best,
                     "config": json.dumps(config, sort_keys=True), "search_space": space_key,
                     "eval_fingerprint": eval_key} for i, (config, score) in enumerate(done)]
            rows += mine
            write_csv_atomic(path, _merged(path, pd.DataFrame(mine, columns=TUNE_COLUMNS), [m]))  # kept at once
            if best is None:
                continue
            log(f"tune {m}: best validation score {done[best][1]:.4f} with {done[best][0]}")
            splits = unlearn_data(exp, 0)
            for procedure, cfg in (("honest", paper[m]), ("tuned", default_config(m, b.task, b.spec.binary,
                                                                                  **{**base, **done[best][0]}))):
                common = {**common_fields(exp, spec), "procedure": procedure}
                row, traj, record, reused = run_or_reuse(exp, m, cfg, original, m_retr, splits, common, 0)
                if not reused:
                    save_rows(out, [row], traj)
                log(log_line(0, f"{m} ({procedure})", record, reused))
        return pd.DataFrame(rows, columns=TUNE_COLUMNS)


def _python_number(v):
    return v.item() if hasattr(v, "item") else v


def _is_paper_config(config: dict, first: dict) -> bool:
    return all(abs(float(config[k]) - float(v)) <= 1e-12 * max(1.0, abs(float(v))) for k, v in first.items())


def read_tune(path) -> pd.DataFrame:
    """tune.csv with its JSON and fingerprint columns kept as text."""
    return read_csv(path, dtype=TEXT_COLUMNS)


def _finished_trials(path: Path, method: str, trials: int, space_key: str, eval_key: str) -> list[tuple] | None:
    """The (config, score) of ``method``'s trials in tune.csv, in trial order, when all ``trials`` of them ran
    in this search space on these evaluation splits; else None (the method is searched again)."""
    if not path.is_file():
        return None
    old = read_tune(path)
    if "search_space" not in old.columns:
        return None
    mine = old[old.method == method].sort_values("trial")
    if len(mine) != trials or (mine.search_space != space_key).any() or (mine.eval_fingerprint != eval_key).any():
        return None
    return [(json.loads(c), float(v)) for c, v in zip(mine.config, mine.validation_score, strict=True)]


def _merged(path: Path, new: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    """tune.csv keeps the trials of methods this call did not search."""
    old = read_tune(path) if path.is_file() else None
    if old is not None:  # every trial of a method searched again is replaced, even where this call ran fewer
        old = old[~old.method.isin(methods)]
    return merge_rows(old, new, ["method", "trial"] if "trial" in new.columns else ["method"])
