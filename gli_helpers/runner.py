"""The unlearning benchmark: reference models, every method, metrics and per-iteration trajectories,
written as rows of ``results.csv`` and ``trajectories.csv`` in the run folder."""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .errors import DataError
from .experiment import REPORTED, Experiment
from .io import write_csv_atomic, write_json_atomic
from .metrics import evaluate, gaps_to_reference, metrics_from_logits, predict
from .unlearning import REFERENCES, UnlearnData, default_config, get_method, method_order

GAPS = ("test_acc_gap", "retain_acc_gap", "forget_acc_gap", "mia_gap")  # ours - Retrained's
RESULT_COLUMNS = ["benchmark", "task", "arch", "method", "seed", *REPORTED, *GAPS, "unlearn_seconds", "retrain_seconds",
                  "selection", "quirks", "preset", "data_fingerprint", "method_config"]
TRAJECTORY_COLUMNS = ["benchmark", "arch", "method", "seed", "step", "test_acc", "mia", "forgetting_score",
                      "final_score", "retain_acc", "forget_acc"]


class Trajectory:
    """Records metrics every ``every`` steps (and at step 0); its own time is kept apart from the method's."""

    def __init__(self, exp: Experiment, method: str, seed: int, every: int, retain_sample: int = 512):
        self.exp, self.method, self.seed, self.every = exp, method, seed, every
        b = exp.bench
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.permutation(len(b.retain))[:retain_sample])
        self.splits = {"test": b.test, "forget": b.forget, "unseen": b.unseen, "retain": b.retain.subset(keep)}
        self.rows, self.seconds = [], 0.0

    def start(self, model) -> None:
        """Record step 0 (the starting model); its time is not part of the method's run."""
        self(0, model)
        self.seconds = 0.0

    def __call__(self, step: int, model) -> None:
        if self.every <= 0 or step % self.every:
            return
        start = time.perf_counter()
        e = self.exp
        logits = {k: predict(model, s, e.device, e.cfg.eval_batch_size, e.amp) for k, s in self.splits.items()}
        m = metrics_from_logits(logits, {k: s.labels for k, s in self.splits.items()}, e.bench.task, self.seed)
        self.rows.append({"benchmark": e.bench.name, "arch": e.cfg.arch, "method": self.method, "seed": self.seed,
                          "step": step, **{k: m.get(k) for k in TRAJECTORY_COLUMNS[5:]}})
        self.seconds += time.perf_counter() - start


def _merge(path: Path, new: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Replace the rows of ``new``'s (keys) in an existing file, keep every other row."""
    if path.exists():
        old = pd.read_csv(path)
        if set(keys) <= set(old.columns):
            mask = old.set_index(keys).index.isin(new.set_index(keys).index)
            new = pd.concat([old[~mask], new], ignore_index=True)
    return new


def unlearn_data(exp: Experiment, seed: int) -> UnlearnData:
    """The methods' inputs; on a GPU the splits move to the device here, once, not batch by batch."""
    b = exp.bench

    def here(split):
        return split.to(exp.device) if split is not None and exp.device.type == "cuda" else split

    return UnlearnData(retain=here(b.retain), forget=here(b.forget), task=b.task, num_outputs=b.num_outputs,
                       arch=exp.cfg.arch, device=exp.device, seed=seed, amp=exp.amp,
                       validation=here(b.splits.get("validation")), test=here(b.test), unseen=here(b.unseen))


def run_benchmark(exp: Experiment, methods: list[str], seeds: list[int], trajectory_every: int = 5,
                  method_overrides: dict | None = None, preset_name: str = "", log=print) -> pd.DataFrame:
    """Train/reuse the references for each seed, run ``methods``, write results and trajectories.

    ``method_overrides`` maps a method name to configuration overrides (e.g. {"gli": {"perturbation_steps": 3}}).
    Returns this call's result rows (results.csv keeps rows of earlier calls for other methods/seeds).
    """
    young = exp.bench.spec.binary
    method_overrides = method_overrides or {}
    for name in [*methods, *method_overrides]:  # refuse an unknown method or setting before anything trains
        if name not in REFERENCES:
            default_config(name, exp.bench.task, young, **method_overrides.get(name, {}))
    out = exp.run_dir
    out.mkdir(parents=True, exist_ok=True)
    rows, traj_rows = [], []
    base = exp
    for seed in seeds:
        exp = dataclasses.replace(base, cfg=dataclasses.replace(base.cfg, seed=seed))
        original, m_orig = exp.reference("original")
        retrained, m_retr = exp.reference("retrained")
        retrain_seconds = m_retr["train_seconds"]
        common = {"benchmark": exp.bench.name, "task": exp.bench.task, "arch": exp.cfg.arch, "seed": seed,
                  "retrain_seconds": retrain_seconds, "preset": preset_name,
                  "data_fingerprint": exp.bench.fingerprint("train")}
        for name, m in (("original", m_orig), ("retrained", m_retr)):  # the reference rows, always
            rows.append({**common, "method": name, **{k: m.get(k) for k in REPORTED}, **gaps_to_reference(m, m_retr),
                         "unlearn_seconds": 0.0 if name == "original" else m["train_seconds"],
                         "selection": "", "quirks": "", "method_config": json.dumps(exp.cfg.to_dict())})
        splits = unlearn_data(exp, seed)  # on a GPU: moved to the device once per seed, shared by the methods
        for name in methods:
            if name in REFERENCES:
                continue
            method = get_method(name)
            cfg = default_config(name, exp.bench.task, young, **method_overrides.get(name, {}))
            model = copy.deepcopy(original)
            data = dataclasses.replace(splits, report={})  # each method's own report
            traj = Trajectory(exp, name, seed, trajectory_every)
            traj.start(model)
            torch.manual_seed(seed)
            start = time.perf_counter()
            model = method.unlearn(model, data, cfg, on_step=traj)
            seconds = time.perf_counter() - start - traj.seconds
            m = evaluate(model, exp.bench, exp.device, exp.cfg.eval_batch_size, seed=seed, amp=exp.amp)
            quirks = [q for q, on in (("bn_eval", getattr(cfg, "bn_eval", False)),
                                      ("paper_selection", data.report.get("selection") == "paper"),
                                      ("no_forget_pass", getattr(cfg, "forget_pass", True) is False)) if on]
            row = {**common, "method": name, **{k: m.get(k) for k in REPORTED}, **gaps_to_reference(m, m_retr),
                   "unlearn_seconds": seconds,
                   "selection": data.report.get("selection", ""), "quirks": ";".join(quirks),
                   "method_config": json.dumps(cfg.to_dict())}
            rows.append(row)
            traj_rows += traj.rows
            write_json_atomic(out / "configs" / f"{name}-seed{seed}.json",
                              {"method": name, "seed": seed, "method_config": cfg.to_dict(), "report": data.report,
                               "train_config": exp.cfg.to_dict(), "benchmark": exp.bench.name,
                               "benchmark_options": exp.bench.options, "data_config": exp.bench.data_config,
                               "source": exp.bench.source,
                               "source_fingerprint": exp.bench.source_fingerprint,
                               "data_fingerprint": common["data_fingerprint"], "metrics": m,
                               "unlearn_seconds": seconds})
            log(f"seed {seed} {name:>12}: test_acc {m['test_acc']:.4f} forgetting {m['forgetting_score']:.4f} "
                f"final {m['final_score']:.4f} ({seconds:.1f} s)")
    result = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    write_csv_atomic(out / "results.csv", _merge(out / "results.csv", result, ["benchmark", "arch", "method", "seed"]))
    if traj_rows:
        traj = pd.DataFrame(traj_rows, columns=TRAJECTORY_COLUMNS)
        write_csv_atomic(out / "trajectories.csv",
                         _merge(out / "trajectories.csv", traj, ["benchmark", "arch", "method", "seed", "step"]))
    return result


def summary_table(results: pd.DataFrame, metrics=("test_acc", "top2_acc", "forgetting_score", "final_score",
                                                  "retain_acc", "forget_acc", "unlearn_seconds")) -> pd.DataFrame:
    """Mean and standard deviation over seeds, one row per method, in the paper's order."""
    cols = [m for m in metrics if m in results and results[m].notna().any()]
    g = results.groupby("method")[cols]
    table = g.mean().join(g.std(ddof=0).add_suffix("_std"))
    table["seeds"] = results.groupby("method").size()
    return table.loc[method_order(table.index)]


def format_table(table: pd.DataFrame) -> str:
    lines = []
    metrics = [c for c in table.columns if not c.endswith("_std") and c != "seeds"]
    lines.append(f"{'method':>14} " + " ".join(f"{m:>17}" for m in metrics))
    for name, r in table.iterrows():
        cells = [f"{r[m]:.4f} ± {r[m + '_std']:.4f}" if m != "unlearn_seconds" else f"{r[m]:9.1f} ± {r[m + '_std']:.1f}"
                 for m in metrics]
        lines.append(f"{name:>14} " + " ".join(f"{c:>17}" for c in cells))
    return "\n".join(lines)


def export_results(run_dir, dest) -> list[str]:
    """Copy the numbers of a run (results, trajectories, configurations, reference-model metrics) to ``dest``;
    never the checkpoints, the images or anything else from the dataset."""
    import shutil

    run_dir, dest = Path(run_dir), Path(dest)
    if not (run_dir / "results.csv").is_file():
        raise DataError(f"{run_dir / 'results.csv'} does not exist; run the benchmark first (python -m gli_helpers run).")
    copied = []
    extra = [*run_dir.glob("configs/*.json"), *run_dir.glob("*-seed*/metrics.json")]
    for rel in ["results.csv", "trajectories.csv", *sorted(p.relative_to(run_dir).as_posix() for p in extra)]:
        if (run_dir / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(run_dir / rel, dest / rel)
            copied.append(rel)
    return copied
