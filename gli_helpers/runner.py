"""The unlearning benchmark's grid: reference models, every method of every seed, metrics and per-iteration
trajectories, written as rows of ``results.csv`` and ``trajectories.csv`` in the run folder (their columns, the
records and the merging are ``records``; the tables ``tables``)."""

from __future__ import annotations

import copy
import dataclasses
import json
import time

import numpy as np
import pandas as pd
import torch

from .errors import ConfigError
from .experiment import REPORTED, Experiment
from .io import write_json_atomic
from .metrics import evaluate, gaps_and_scores, metrics_from_logits, predict
from .records import (
    RESULT_COLUMNS,
    STEP_DIAGNOSTICS,
    TRAJECTORY_COLUMNS,
    finished_record,
    record_path,
    save_relearn_rows,
    save_rows,
)
from .relearn import Relearn, relearn_row, relearned
from .spec import RunSpec
from .unlearning import REFERENCES, UnlearnData, get_method
from .unlearning.common import current_settings
from .unlearning.settings import check_procedure, resolve


class Trajectory:
    """Records metrics every ``every`` steps (and at step 0, and with ``final`` after the method's last step), with the step's
    diagnostics when the method passes some (``info``: recorded at the same steps only, or with
    ``info_every_step`` at every step, the metrics of the steps between evaluations left empty); its own time is
    kept apart from the method's."""

    def __init__(self, exp: Experiment, method: str, seed: int, every: int, retain_sample: int = 512,
                 procedure: str = "default", final: bool = False, info_every_step: bool = False):
        self.exp, self.method, self.seed, self.every, self.procedure = exp, method, seed, every, procedure
        self.final, self.info_every_step, self.evaluated = final, info_every_step, -1
        b = exp.bench
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.permutation(len(b.retain))[:retain_sample])
        self.splits = {"test": b.test, "forget": b.forget, "unseen": b.unseen, "retain": b.retain.subset(keep)}
        self.rows, self.seconds = [], 0.0

    def start(self, model) -> None:
        """Record step 0 (the starting model); its time is not part of the method's run."""
        self(0, model)
        self.seconds = 0.0

    def __call__(self, step: int, model, info: dict | None = None) -> None:
        evaluate_now = self.every > 0 and step % self.every == 0
        self._record(step, model, info, evaluate_now)

    def finish(self, step: int, model) -> None:
        """With ``final``: the model after the method's last step (``step``), unless already recorded."""
        if self.final and self.every > 0 and self.evaluated != step:
            if self.rows and self.rows[-1]["step"] == step:  # that step's diagnostics row gains its metrics
                last = self.rows.pop()
                self._record(step, model, {k: last[k] for k in STEP_DIAGNOSTICS if last.get(k) is not None}, True)
            else:
                self._record(step, model, None, True)

    def _record(self, step: int, model, info: dict | None, evaluate_now: bool) -> None:
        if not evaluate_now and not (self.info_every_step and info):
            return
        start = time.perf_counter()
        e = self.exp
        m = {}
        if evaluate_now:
            logits = {k: predict(model, s, e.device, e.cfg.eval_batch_size, e.amp) for k, s in self.splits.items()}
            m = metrics_from_logits(logits, {k: s.labels for k, s in self.splits.items()}, e.bench.task, self.seed)
        self.rows.append({"benchmark": e.bench.name, "arch": e.cfg.arch, "procedure": self.procedure,
                          "method": self.method, "seed": self.seed,
                          "step": step, **{k: m.get(k) for k in TRAJECTORY_COLUMNS[TRAJECTORY_COLUMNS.index("step") + 1:]},
                          **{k: v for k, v in (info or {}).items() if k in STEP_DIAGNOSTICS}})
        self.evaluated = step if evaluate_now else self.evaluated
        self.seconds += time.perf_counter() - start


def method_quirks(cfg, report: dict) -> list[str]:
    """The labels of what a run did that the honest default does not (the results' ``quirks`` column)."""
    push = getattr(cfg, "push_from", "forget")
    marks = (("authors_loop", getattr(cfg, "quirks", "none") == "authors"), ("bn_eval", cfg.bn_eval),
             ("paper_selection", report.get("selection") == "on_test"), ("clean_batches", not cfg.augment),
             ("no_forget_pass", getattr(cfg, "forget_pass", True) is False), (f"push_from_{push}", push != "forget"))
    return [q for q, on in marks if on]


def unlearn_data(exp: Experiment, seed: int) -> UnlearnData:
    """The methods' inputs; on a GPU the splits move to the device here, once, not batch by batch."""
    b = exp.bench

    def here(split):
        return split.to(exp.device) if split is not None and exp.device.type == "cuda" else split

    return UnlearnData(retain=here(b.retain), forget=here(b.forget), task=b.task, num_outputs=b.num_outputs,
                       arch=exp.cfg.arch, device=exp.device, seed=seed, amp=exp.amp,
                       validation=here(b.splits.get("validation")), test=here(b.test), unseen=here(b.unseen))


def method_configs(exp: Experiment, methods: list[str], overrides: dict, procedure: str) -> dict:
    """Every method's configuration, built (and so checked) before anything trains."""
    return configs_for_task(exp.bench.task, exp.bench.spec.binary, methods, overrides, procedure)


def check_method_configs(benchmark: str, methods: list[str], overrides: dict, procedure: str) -> dict:
    """``method_configs`` from the benchmark's name alone, so that a wrong method setting is refused before any
    data is read."""
    from .data import get_benchmark
    spec = get_benchmark(benchmark)
    return configs_for_task(spec.task, spec.binary, methods, overrides, procedure)


def configs_for_task(task: str, binary: bool, methods: list[str], overrides: dict, procedure: str) -> dict:
    """Every method's configuration from the layers of ``unlearning.settings`` (contradictions refused)."""
    check_procedure(procedure)
    for name in overrides:
        get_method(name)
    idle = [name for name in overrides if name not in methods]
    if idle:  # validated and then silently ignored would hide a mistyped --methods
        raise ConfigError(f"--method-config sets {', '.join(idle)}, which this run does not include (methods: "
                          f"{', '.join(methods)}); add {'them' if len(idle) > 1 else 'it'} to --methods or drop "
                          "those settings.")
    return {name: resolve(get_method(name), task, binary, procedure, overrides.get(name, {}))
            for name in methods if name not in REFERENCES}


def reference_rows(exp: Experiment, common: dict):
    """Train or reuse the Original and Retrained models of this seed; their result rows."""
    original, m_orig = exp.reference("original")
    _, m_retr = exp.reference("retrained")
    return original, m_retr, rows_of_references(exp, common, m_orig, m_retr)


def rows_of_references(exp: Experiment, common: dict, m_orig: dict, m_retr: dict) -> list[dict]:
    """The result rows of the Original and Retrained models from their metrics."""
    return [{**common, "method": name, **{k: m.get(k) for k in REPORTED}, **gaps_and_scores(m, m_retr),
             "retrain_seconds": m_retr["train_seconds"], "unlearn_seconds": 0.0 if name == "original" else m["train_seconds"],
             "selection": "", "quirks": "", "method_config": json.dumps(exp.cfg.to_dict())}
            for name, m in (("original", m_orig), ("retrained", m_retr))]


def common_fields(exp: Experiment, spec: RunSpec) -> dict:
    """The columns every result row of one seed (``exp``'s) shares."""
    return {"benchmark": exp.bench.name, "task": exp.bench.task, "arch": exp.cfg.arch, "seed": exp.cfg.seed,
            "procedure": spec.procedure, "preset": spec.preset, "data_fingerprint": exp.bench.fingerprint("train")}


def run_or_reuse(exp: Experiment, name: str, cfg, original, m_retr: dict, inputs: UnlearnData, common: dict,
                 trajectory_every: int, relearn: Relearn | None = None) -> tuple[dict, list[dict], dict, bool]:
    """One method of one seed: reused from its record when finished with this configuration and data (and, with
    ``relearn``, relearned with that budget), else run and its record written. (row, trajectory rows, record,
    reused); the caller merges the rows into the CSV files."""
    path = record_path(exp.run_dir, name, common["seed"], common["procedure"])
    record = finished_record(path, cfg, exp, common["data_fingerprint"])
    if record is not None and (relearn is None or (record.get("relearn") or {}).get("spec") == relearn.to_dict()):
        return current_settings(record["row"]), [], record, True  # a record from before a rename reads as today's
    row, traj_rows, record = run_method(exp, name, cfg, original, m_retr, inputs, common, trajectory_every,
                                        relearn=relearn)
    write_json_atomic(path, record)
    return row, traj_rows, record, False


def log_line(seed: int, name: str, record: dict, reused: bool) -> str:
    m = record["metrics"]
    return (f"seed {seed} {name:>12}: test_acc {m['test_acc']:.4f} forgetting {m['forgetting_score']:.4f} "
            f"final {m['final_score']:.4f} ({record['unlearn_seconds']:.1f} s{', reused' if reused else ''})")


def run_method(exp: Experiment, name: str, cfg, original, m_retr: dict | None, inputs: UnlearnData, common: dict,
               trajectory_every: int, trajectory: dict | None = None, relearn: Relearn | None = None):
    """Unlearn ``name`` from a copy of the Original model; (result row, trajectory rows, record). Without the
    Retrained model's metrics (``m_retr`` None) the row has no gaps to it. ``trajectory``: further options of
    ``Trajectory`` (``final``, ``info_every_step``). With ``relearn`` the unlearned model is then fine-tuned
    on the retain set with that budget and the record's ``relearn`` holds its metrics (``relearn.relearned``)."""
    seed = common["seed"]
    model = copy.deepcopy(original)
    traj = Trajectory(exp, name, seed, trajectory_every, procedure=common["procedure"], **(trajectory or {}))
    traj.start(model)
    torch.manual_seed(seed)
    start = time.perf_counter()
    model, report = get_method(name).unlearn(model, inputs, cfg, on_step=traj)
    traj.finish(report["optimizer_steps"], model)
    seconds = time.perf_counter() - start - traj.seconds
    m = evaluate(model, exp.bench, exp.device, exp.cfg.eval_batch_size, seed=seed, amp=exp.amp)
    row = {**common, "method": name, **{k: m.get(k) for k in REPORTED}, **gaps_and_scores(m, m_retr or {}),
           "unlearn_seconds": seconds, "retrain_seconds": (m_retr or {}).get("train_seconds"),
           "selection": report.get("selection", ""), "quirks": ";".join(method_quirks(cfg, report)),
           "method_config": json.dumps(cfg.to_dict())}
    record = {"method": name, "seed": seed, "procedure": common["procedure"], "method_config": cfg.to_dict(),
              "report": report, "train_config": exp.cfg.to_dict(), "benchmark": exp.bench.name,
              "benchmark_options": exp.bench.options, "data_config": exp.bench.data_config, "source": exp.bench.source,
              "source_fingerprint": exp.bench.source_fingerprint, "data_fingerprint": common["data_fingerprint"],
              "eval_fingerprint": exp.bench.evaluation_fingerprint, "metrics": m, "unlearn_seconds": seconds, "row": row}
    if relearn is not None:
        record["relearn"] = {"spec": relearn.to_dict(), "metrics": relearned(model, exp, inputs, relearn)[1]}
    return row, traj.rows, record


def with_seed(exp: Experiment, seed: int) -> Experiment:
    return dataclasses.replace(exp, cfg=dataclasses.replace(exp.cfg, seed=seed))


def run_benchmark(spec: RunSpec, log=print, experiment: Experiment | None = None) -> pd.DataFrame:
    """The local engine: for each of the spec's seeds, train (or reuse) the references, then run every method of
    the spec, each from the same Original, under its procedure and method settings.

    Each finished method is written at once to results.csv, trajectories.csv and configs/, and a later call with
    the same configuration and data reuses it instead of running it again, so an interrupted run resumes where it
    stopped. With ``spec.relearn`` also the relearning test (``relearn``) of every method and of both reference
    models, written to relearn.csv. ``experiment``: the spec's experiment when the caller has already loaded it
    (a notebook's; checked against the spec). Returns this call's result rows (results.csv keeps the rows of
    other methods, seeds and procedures)."""
    if experiment is not None:
        spec.check_experiment(experiment)
    exp = experiment or spec.experiment()
    configs = method_configs(exp, list(spec.methods), spec.method_config, spec.procedure)
    out = exp.run_dir
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for seed in spec.seeds:
        exp_s = with_seed(exp, seed)
        common = common_fields(exp_s, spec)
        original, m_retr, refs = reference_rows(exp_s, common)
        save_rows(out, refs, [])
        rows += refs
        splits = unlearn_data(exp_s, seed)  # on a GPU: moved to the device once per seed, shared by the methods
        if spec.relearn is not None:
            save_relearn_rows(out, reference_relearn_rows(exp_s, common, splits, spec.relearn, original, refs))
        for name, cfg in configs.items():
            row, traj_rows, record, reused = run_or_reuse(exp_s, name, cfg, original, m_retr, splits, common,
                                                          spec.trajectory_every, spec.relearn)
            if not reused:
                save_rows(out, [row], traj_rows)
            if spec.relearn is not None:
                save_relearn_rows(out, [relearn_row(common, name, record["metrics"], record["relearn"]["metrics"],
                                                    spec.relearn)])
            rows.append(row)
            log(log_line(seed, name, record, reused))
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def reference_relearn_rows(exp: Experiment, common: dict, inputs: UnlearnData, spec: Relearn, original,
                           refs: list[dict]) -> list[dict]:
    """The relearning test of the Original and the Retrained model (the yardstick: what the same budget brings
    back for a model that never saw the forget images); "before" is each one's results row (``refs``)."""
    models = {"original": original, "retrained": exp.reference("retrained")[0]}
    return [relearn_row(common, r["method"], r, relearned(models[r["method"]], exp, inputs, spec)[1], spec) for r in refs]


