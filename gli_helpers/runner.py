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

from .errors import ConfigError, DataError
from .experiment import REPORTED, Experiment
from .io import merge_rows, read_csv, read_json, write_csv_atomic, write_json_atomic
from .metrics import evaluate, gaps_and_scores, metrics_from_logits, predict, with_gap_scores
from .unlearning import REFERENCES, UnlearnData, get_method, method_label, method_order
from .unlearning.common import current_settings
from .unlearning.settings import check_procedure, resolve

GAPS = ("test_acc_gap", "retain_acc_gap", "forget_acc_gap", "mia_gap")  # ours - Retrained's
GAP_SCORES = ("avg_gap", "tow")  # from the gaps (metrics.gap_scores): SalUn's Avg. Gap and RUM's tug of war
RESULT_COLUMNS = ["benchmark", "task", "arch", "procedure", "method", "seed", *REPORTED, *GAPS, *GAP_SCORES, "unlearn_seconds",
                  "retrain_seconds", "selection", "quirks", "preset", "data_fingerprint", "method_config"]
# per step: the metrics, the mean task loss per split, and a method's own diagnostics when it records them
# (GLI's ``diagnostics``: the first sign step of the batch taken apart; empty for other methods)
STEP_DIAGNOSTICS = ["batch", "gli_weight", "task_loss_before", "task_loss_after", "distance_before", "distance_after",
                    "share_following_distance"]
TRAJECTORY_COLUMNS = ["benchmark", "arch", "procedure", "method", "seed", "step", "test_acc", "mia", "forgetting_score",
                      "final_score", "retain_acc", "forget_acc", "retain_loss", "forget_loss", "test_loss", "unseen_loss",
                      *STEP_DIAGNOSTICS]


class Trajectory:
    """Records metrics every ``every`` steps (and at step 0), with the step's diagnostics when the method passes
    some (``info``: recorded at the same steps only); its own time is kept apart from the method's."""

    def __init__(self, exp: Experiment, method: str, seed: int, every: int, retain_sample: int = 512,
                 procedure: str = "default"):
        self.exp, self.method, self.seed, self.every, self.procedure = exp, method, seed, every, procedure
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
        if self.every <= 0 or step % self.every:
            return
        start = time.perf_counter()
        e = self.exp
        logits = {k: predict(model, s, e.device, e.cfg.eval_batch_size, e.amp) for k, s in self.splits.items()}
        m = metrics_from_logits(logits, {k: s.labels for k, s in self.splits.items()}, e.bench.task, self.seed)
        self.rows.append({"benchmark": e.bench.name, "arch": e.cfg.arch, "procedure": self.procedure,
                          "method": self.method, "seed": self.seed,
                          "step": step, **{k: m.get(k) for k in TRAJECTORY_COLUMNS[TRAJECTORY_COLUMNS.index("step") + 1:]},
                          **{k: v for k, v in (info or {}).items() if k in STEP_DIAGNOSTICS}})
        self.seconds += time.perf_counter() - start


def _merge(path: Path, new: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Replace the rows of ``new``'s (keys) in an existing file, keep every other row (``io.merge_rows``)."""
    if not path.exists():
        return new
    old = read_csv(path)
    if "procedure" in keys and "procedure" not in old.columns:  # written before procedures existed
        old.insert(old.columns.get_loc("arch") + 1 if "arch" in old.columns else 0, "procedure", "default")
    return merge_rows(old, new, keys)


def method_quirks(cfg, report: dict) -> list[str]:
    """The labels of what a run did that the honest default does not (the results' ``quirks`` column)."""
    marks = (("authors_loop", getattr(cfg, "quirks", "none") == "authors"), ("bn_eval", cfg.bn_eval),
             ("paper_selection", report.get("selection") == "on_test"), ("clean_batches", not cfg.augment),
             ("no_forget_pass", getattr(cfg, "forget_pass", True) is False))
    return [q for q, on in marks if on]


def unlearn_data(exp: Experiment, seed: int) -> UnlearnData:
    """The methods' inputs; on a GPU the splits move to the device here, once, not batch by batch."""
    b = exp.bench

    def here(split):
        return split.to(exp.device) if split is not None and exp.device.type == "cuda" else split

    return UnlearnData(retain=here(b.retain), forget=here(b.forget), task=b.task, num_outputs=b.num_outputs,
                       arch=exp.cfg.arch, device=exp.device, seed=seed, amp=exp.amp,
                       validation=here(b.splits.get("validation")), test=here(b.test), unseen=here(b.unseen))


RESULT_KEYS = ["benchmark", "arch", "procedure", "method", "seed"]


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


def common_fields(exp: Experiment, seed: int, procedure: str, preset_name: str) -> dict:
    """The columns every result row of one seed shares."""
    return {"benchmark": exp.bench.name, "task": exp.bench.task, "arch": exp.cfg.arch, "seed": seed,
            "procedure": procedure, "preset": preset_name, "data_fingerprint": exp.bench.fingerprint("train")}


def run_or_reuse(exp: Experiment, name: str, cfg, original, m_retr: dict, inputs: UnlearnData, common: dict,
                 trajectory_every: int) -> tuple[dict, list[dict], dict, bool]:
    """One method of one seed: reused from its record when finished with this configuration and data, else run and
    its record written. (row, trajectory rows, record, reused); the caller merges the rows into the CSV files."""
    path = record_path(exp.run_dir, name, common["seed"], common["procedure"])
    record = finished_record(path, cfg, exp, common["data_fingerprint"])
    if record is not None:
        from .unlearning.selection import OLD_MODES
        row = dict(record["row"])
        row["selection"] = OLD_MODES.get(row.get("selection"), row.get("selection"))  # a record from before a rename
        return row, [], record, True
    row, traj_rows, record = run_method(exp, name, cfg, original, m_retr, inputs, common, trajectory_every)
    write_json_atomic(path, record)
    return row, traj_rows, record, False


def log_line(seed: int, name: str, record: dict, reused: bool) -> str:
    m = record["metrics"]
    return (f"seed {seed} {name:>12}: test_acc {m['test_acc']:.4f} forgetting {m['forgetting_score']:.4f} "
            f"final {m['final_score']:.4f} ({record['unlearn_seconds']:.1f} s{', reused' if reused else ''})")


def record_path(out: Path, name: str, seed: int, procedure: str) -> Path:
    suffix = "" if procedure == "default" else f"-{procedure}"
    return out / "configs" / f"{name}-seed{seed}{suffix}.json"


def finished_record(path: Path, cfg, exp: Experiment, fingerprint: str) -> dict | None:
    """The record of a method run that already finished with this exact configuration and data, if any."""
    if not path.is_file():
        return None
    rec = read_json(path)
    same = (_as_current(type(cfg), rec.get("method_config")) == cfg.to_dict() and rec.get("train_config") == exp.cfg.to_dict()
            and rec.get("data_fingerprint") == fingerprint and _same_evaluation(rec, exp.bench) and "row" in rec)
    return rec if same else None


def _same_evaluation(rec: dict, bench) -> bool:
    """Whether a record's numbers were computed on this benchmark's evaluation splits (a validation share, for
    one, changes the test split while the train split stays). Records from before the evaluation fingerprint
    are judged by their data options."""
    if "eval_fingerprint" in rec:
        return rec["eval_fingerprint"] == bench.evaluation_fingerprint
    def options(d):
        return {k: v for k, v in (d or {}).items() if k != "cache_dir"}
    return options(rec.get("data_config")) == options(bench.data_config)


def _as_current(config_class, stored) -> dict | None:
    """A stored method configuration as the current class writes it: a setting added since then takes its
    default, which is the behaviour the stored run had. None when it no longer fits the class."""
    try:
        return config_class(**current_settings(stored)).to_dict()
    except (TypeError, ConfigError):
        return None


def run_method(exp: Experiment, name: str, cfg, original, m_retr: dict | None, inputs: UnlearnData, common: dict,
               trajectory_every: int):
    """Unlearn ``name`` from a copy of the Original model; (result row, trajectory rows, record). Without the
    Retrained model's metrics (``m_retr`` None) the row has no gaps to it."""
    seed = common["seed"]
    model = copy.deepcopy(original)
    traj = Trajectory(exp, name, seed, trajectory_every, procedure=common["procedure"])
    traj.start(model)
    torch.manual_seed(seed)
    start = time.perf_counter()
    model, report = get_method(name).unlearn(model, inputs, cfg, on_step=traj)
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
    return row, traj.rows, record


def in_column_order(frame: pd.DataFrame) -> pd.DataFrame:
    """RESULT_COLUMNS first, in their order, then any other column the file holds."""
    first = [c for c in RESULT_COLUMNS if c in frame.columns]
    return frame[first + [c for c in frame.columns if c not in first]]


def upgraded(frame: pd.DataFrame) -> pd.DataFrame:
    """Results rows as the current package writes them: ``avg_gap`` and ``tow`` from the stored gaps (where there
    are gaps), and the selection's current name (``paper`` is now ``on_test``); no other value changes."""
    from .unlearning.selection import OLD_MODES
    out = with_gap_scores(frame)
    if "selection" in out.columns:
        out = out.assign(selection=out.selection.replace(OLD_MODES))
    return in_column_order(out)


def upgrade_results(path) -> dict:
    """Rewrite a stored results.csv as ``upgraded`` (atomically): what changed, as counts."""
    path = Path(path)
    frame = read_csv(path)
    if not {"benchmark", "method", "seed"} <= set(frame.columns):
        raise DataError(f"{path} is not a results table (no benchmark, method and seed columns); give a results.csv "
                        "written by python -m gli_helpers run.")
    new = upgraded(frame)
    renamed = int((frame.selection != new.selection).sum()) if "selection" in frame.columns else 0
    write_csv_atomic(path, new)
    return {"rows": len(new), "with_gap_scores": int(new["avg_gap"].notna().sum()) if "avg_gap" in new else 0,
            "selection_renamed": renamed}


def save_rows(out: Path, rows: list[dict], traj_rows: list[dict]) -> None:
    """Merge rows into results.csv and trajectories.csv (replacing rows with the same keys), atomically."""
    if rows:
        new = pd.DataFrame(rows, columns=RESULT_COLUMNS)
        write_csv_atomic(out / "results.csv", upgraded(_merge(out / "results.csv", new, RESULT_KEYS)))
    if traj_rows:
        new = pd.DataFrame(traj_rows, columns=TRAJECTORY_COLUMNS)
        write_csv_atomic(out / "trajectories.csv", _merge(out / "trajectories.csv", new, [*RESULT_KEYS, "step"]))


def with_seed(exp: Experiment, seed: int) -> Experiment:
    return dataclasses.replace(exp, cfg=dataclasses.replace(exp.cfg, seed=seed))


def run_benchmark(exp: Experiment, methods: list[str], seeds: list[int], trajectory_every: int = 5,
                  method_overrides: dict | None = None, preset_name: str = "", log=print,
                  procedure: str = "default") -> pd.DataFrame:
    """For each seed: train (or reuse) the references, then run every method, each from the same Original.

    ``method_overrides`` maps a method name to configuration overrides (e.g. {"gli": {"perturbation_steps": 3}});
    ``procedure`` (``unlearning.settings.PROCEDURES``) applies the same settings to every method. Each finished
    method is written at once to results.csv, trajectories.csv and configs/, and a later call with the same
    configuration and data reuses it instead of running it again, so an interrupted run resumes where it stopped.
    Returns this call's result rows (results.csv keeps the rows of other methods, seeds and procedures)."""
    configs = method_configs(exp, methods, method_overrides or {}, procedure)
    out = exp.run_dir
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for seed in seeds:
        exp_s = with_seed(exp, seed)
        common = common_fields(exp_s, seed, procedure, preset_name)
        original, m_retr, refs = reference_rows(exp_s, common)
        save_rows(out, refs, [])
        rows += refs
        splits = unlearn_data(exp_s, seed)  # on a GPU: moved to the device once per seed, shared by the methods
        for name, cfg in configs.items():
            row, traj_rows, record, reused = run_or_reuse(exp_s, name, cfg, original, m_retr, splits, common,
                                                          trajectory_every)
            if not reused:
                save_rows(out, [row], traj_rows)
            rows.append(row)
            log(log_line(seed, name, record, reused))
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def summary_table(results: pd.DataFrame, metrics=("test_acc", "top2_acc", "forgetting_score", "final_score",
                                                  "retain_acc", "forget_acc", "unlearn_seconds")) -> pd.DataFrame:
    """Mean and sample standard deviation (ddof 1; 0 for a single seed) over seeds, one row per method, in the
    paper's order."""
    cols = [m for m in metrics if m in results and results[m].notna().any()]
    g = results.groupby("method")[cols]
    table = g.mean().join(g.std(ddof=1).fillna(0.0).add_suffix("_std"))
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


EXPORTED = ["results.csv", "trajectories.csv", "errors.csv", "tune.csv", "audit.csv", "audit_examples.csv", "audit.json"]


MERGED_ON_EXPORT = {"results.csv": RESULT_KEYS, "trajectories.csv": [*RESULT_KEYS, "step"]}


def export_results(run_dir, dest) -> list[str]:
    """Copy the numbers of a run (results, trajectories, errors, the tuning log, the audit's tables, configurations,
    reference-model metrics) to ``dest``; never the checkpoints, the images or anything else from the dataset.
    ``results.csv`` and ``trajectories.csv`` are merged into those ``dest`` already holds (``io.merge_rows``): rows
    of methods, seeds or procedures this run folder does not have are kept, so exporting a run that added methods
    to a committed folder drops nothing."""
    import shutil

    run_dir, dest = Path(run_dir), Path(dest)
    if not (run_dir / "results.csv").is_file() and not (run_dir / "audit.csv").is_file():
        raise DataError(f"{run_dir} holds neither results.csv nor audit.csv; run the benchmark first (python -m "
                        f"gli_helpers run, tune or audit).")
    copied = []
    extra = [*run_dir.glob("configs/*.json"), *run_dir.glob("*-seed*/metrics.json")]
    for rel in [*EXPORTED, *sorted(p.relative_to(run_dir).as_posix() for p in extra)]:
        if (run_dir / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            if rel in MERGED_ON_EXPORT and (dest / rel).is_file():
                merged = merge_rows(read_csv(dest / rel), read_csv(run_dir / rel), MERGED_ON_EXPORT[rel])
                write_csv_atomic(dest / rel, upgraded(merged) if rel == "results.csv" else merged)
            else:
                shutil.copyfile(run_dir / rel, dest / rel)
            copied.append(rel)
    return copied


def procedure_table(results: pd.DataFrame, metric: str = "final_score", base: str = "honest",
                    other: str = "authors") -> pd.DataFrame:
    """One row per method: ``metric`` under each procedure as mean, standard deviation (ddof 1) and a 95%
    t-interval over seeds, and the gap ``other`` - ``base`` of the means (what the other procedure buys)."""
    from scipy import stats
    if "procedure" not in results.columns:
        raise DataError("these results have no procedure column; run with --procedure honest and --procedure authors.")
    rows = {}
    for (method, procedure), g in results.groupby(["method", "procedure"]):
        v = g[metric].dropna().to_numpy(dtype=float)
        half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan")
        row = rows.setdefault(method, {})
        row.update({f"{procedure} mean": v.mean(), f"{procedure} std": v.std(ddof=1) if len(v) > 1 else float("nan"),
                    f"{procedure} ci95": half, f"{procedure} seeds": len(v)})
    table = pd.DataFrame.from_dict(rows, orient="index")
    if f"{base} mean" in table and f"{other} mean" in table:
        table[f"{other} - {base}"] = table[f"{other} mean"] - table[f"{base} mean"]
    return table.loc[method_order(table.index)]


def main_procedure(frame: pd.DataFrame, prefer=("default", "honest")) -> pd.DataFrame:
    """The rows of one procedure (the first of ``prefer`` present, else the first in the file), so that tables
    and figures never average rows of different procedures; files without a procedure column are returned as they are."""
    if "procedure" not in frame.columns or frame.empty:
        return frame
    present = list(dict.fromkeys(frame.procedure.fillna("default")))
    chosen = next((p for p in prefer if p in present), present[0])
    return frame[frame.procedure.fillna("default") == chosen]


def procedure_markdown(results: pd.DataFrame, metric: str = "final_score", base: str = "honest",
                       other: str = "authors") -> str:
    """``procedure_table`` as a Markdown table: mean ± standard deviation [95% interval] per procedure, the gap,
    and each procedure's rank of the method among the distinct unlearning methods (references and GLI's distance
    variants, which are GLI with one setting pinned, are not ranked); then the Avg Gap to the Retrained model per
    procedure the same way, ranked from the lowest."""
    from .unlearning import METHODS
    results = with_gap_scores(results)
    t = procedure_table(results, metric, base, other)
    procs = [p for p in (base, other) if f"{p} mean" in t]
    methods = [m for m in t.index if m not in ("original", "retrained") and not (m in METHODS and METHODS[m].fixed)]
    ranks = {p: t.loc[methods, f"{p} mean"].rank(ascending=False, method="min") for p in procs}
    gaps = procedure_table(results, "avg_gap", base, other) if "avg_gap" in results and results.avg_gap.notna().any() \
        else None  # Avg Gap: lower is better, ranked so
    gap_ranks = {p: gaps.loc[methods, f"{p} mean"].rank(ascending=True, method="min") for p in procs} \
        if gaps is not None else {}

    def cell(t, ranks, m, p):
        mean, sd, ci, n = (t.at[m, f"{p} {k}"] for k in ("mean", "std", "ci95", "seeds"))
        if pd.isna(mean):
            return "-"
        spread = f" ± {sd:.4f} [{mean - ci:.4f}, {mean + ci:.4f}]" if n > 1 else " (1 seed)"
        rank = f" (#{int(ranks[p][m])})" if m in methods else ""
        return f"{mean:.4f}{spread}{rank}"
    gap = f"{other} - {base}"
    gap_heads = [f"{p} Avg Gap" for p in procs] if gaps is not None else []
    lines = [f"| method | {' | '.join(procs)} | {gap} |" + "".join(f" {h} |" for h in gap_heads),
             "|---" * (len(procs) + 2 + len(gap_heads)) + "|"]
    for m in t.index:
        g = t.at[m, gap] if gap in t else float("nan")
        extra = "".join(f" {cell(gaps, gap_ranks, m, p)} |" for p in procs) if gaps is not None else ""
        lines.append(f"| {method_label(m)} | " + " | ".join(cell(t, ranks, m, p) for p in procs) + f" | {g:+.4f} |"
                     + extra)
    return "\n".join(lines) + "\n"
