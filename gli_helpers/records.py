"""A run folder's records: the columns of ``results.csv`` and ``trajectories.csv``, each method run's record in
``configs/`` (and when it can be reused), merging rows into the files, bringing old files up to date, and exporting
a run's numbers. The grid that produces them is ``runner``; the tables made from them are ``tables``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .errors import ConfigError, DataError
from .experiment import REPORTED, Experiment
from .io import merge_rows, read_csv, read_json, write_csv_atomic, write_json_atomic
from .metrics import with_gap_scores
from .unlearning.common import current_settings

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


def _merge(path: Path, new: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Replace the rows of ``new``'s (keys) in an existing file, keep every other row (``io.merge_rows``)."""
    if not path.exists():
        return new
    old = read_csv(path)
    if "procedure" in keys and "procedure" not in old.columns:  # written before procedures existed
        old.insert(old.columns.get_loc("arch") + 1 if "arch" in old.columns else 0, "procedure", "default")
    return merge_rows(old, new, keys)


RESULT_KEYS = ["benchmark", "arch", "procedure", "method", "seed"]


def record_path(out: Path, name: str, seed: int, procedure: str) -> Path:
    suffix = "" if procedure == "default" else f"-{procedure}"
    return out / "configs" / f"{name}-seed{seed}{suffix}.json"


def finished_record(path: Path, cfg, exp: Experiment, fingerprint: str) -> dict | None:
    """The record of a method run that already finished with this exact configuration and data, if any."""
    if not path.is_file():
        return None
    rec = read_json(path)
    same = (as_current(type(cfg), rec.get("method_config")) == cfg.to_dict() and rec.get("train_config") == exp.cfg.to_dict()
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


def as_current(config_class, stored) -> dict | None:
    """A stored method configuration as the current class writes it: a setting added since then takes its
    default, which is the behaviour the stored run had. None when it no longer fits the class."""
    try:
        return config_class(**current_settings(stored)).to_dict()
    except (TypeError, ConfigError):
        return None


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


def save_relearn_rows(out: Path, rows: list[dict]) -> None:
    """Merge relearning rows (``relearn``) into relearn.csv, replacing those of the same model, atomically."""
    from .relearn import COLUMNS
    path = out / "relearn.csv"
    write_csv_atomic(path, _merge(path, pd.DataFrame(rows, columns=COLUMNS), RESULT_KEYS))


EXPORTED = ["results.csv", "trajectories.csv", "relearn.csv", "errors.csv", "tune.csv", "audit.csv", "audit_examples.csv",
            "audit.json"]


MERGED_ON_EXPORT = {"results.csv": RESULT_KEYS, "trajectories.csv": [*RESULT_KEYS, "step"], "relearn.csv": RESULT_KEYS,
                    "tune.csv": ["benchmark", "arch", "method", "trial"],
                    "audit.csv": ["benchmark", "arch", "method", "n_models"],
                    "audit_examples.csv": ["method", "n_models", "example"]}


REFERENCE_METHODS = ("original", "retrained")
AUDIT_REFERENCE_ROWS = ("original", "retrained_vs_retrained")  # the audit's rows of the reference models alone
AUDIT_KEYS = MERGED_ON_EXPORT["audit.csv"]


def _changed_references(stored: pd.DataFrame, new: pd.DataFrame, roles=REFERENCE_METHODS, keys=RESULT_KEYS,
                        group=("benchmark", "arch", "seed"), metrics=REPORTED) -> list[dict]:
    """The reference rows (methods in ``roles``) of ``new`` that ``stored`` holds under the same ``keys`` with other
    ``metrics``, while it also holds rows of other methods of the same ``group`` (a run's seed; an audit's benchmark
    and arch) that ``new`` does not have: rows measured against the stored models. Each entry names the key, the
    largest difference, its column and those dependent methods."""
    keys, group = ([k for k in ks if k in stored.columns and k in new.columns] for ks in (keys, group))
    metrics = [c for c in metrics if c in stored.columns and c in new.columns]
    changed = []
    for _, row in new[new.method.isin(roles)].iterrows():
        same = (stored[keys] == row[keys]).all(axis=1)
        if not same.any():
            continue
        diff = (stored.loc[same, metrics].astype(float) - row[metrics].astype(float)).abs().max()
        if not (diff > 1e-9).any():
            continue
        of_group = stored[(stored[group] == row[group]).all(axis=1) & ~stored.method.isin(roles)]
        dependents = sorted(set(of_group.method) - set(new[(new[group] == row[group]).all(axis=1)].method))
        if dependents:
            changed.append({"key": {k: row[k] for k in keys}, "column": diff.idxmax(), "difference": float(diff.max()),
                            "dependents": dependents})
    return changed


def _changed_audit_references(stored: pd.DataFrame, new: pd.DataFrame) -> list[dict]:
    """``_changed_references`` for an audit: its reference rows (the Original alone, Retrained vs Retrained) against
    the audited methods of that benchmark and arch (a method is read against both rows), on every number but the
    time."""
    numbers = set(stored.select_dtypes("number").columns) & set(new.select_dtypes("number").columns)
    metrics = [c for c in stored.columns if c in numbers and c not in (*AUDIT_KEYS, "seconds")]
    return _changed_references(stored, new, AUDIT_REFERENCE_ROWS, AUDIT_KEYS, ("benchmark", "arch"), metrics)


def _refuse(what: str, dest: Path, lines: str, aside: str) -> None:
    raise DataError(f"this {what}'s reference models are not the ones {dest} holds: {lines}. Nothing was written. "
                    "Export with references='keep' (--references keep) to keep the stored reference rows and write "
                    f"this run's {aside}, or references='replace' (--references replace) to replace them.")


def export_results(run_dir, dest, references: str | None = None) -> list[str]:
    """Copy the numbers of a run (results, trajectories, errors, the tuning log, the audit's tables, configurations,
    reference-model metrics) to ``dest``; never the checkpoints, the images or anything else from the dataset.
    The tables of rows (results, trajectories, relearning, the tuning log, the audit's tables) are merged into those
    ``dest`` already holds (``io.merge_rows``): rows of methods, seeds, procedures or trials this run folder does
    not have are kept, so exporting a run that added methods to a committed folder drops nothing.

    A run whose Original or Retrained model of a seed has other numbers than the one ``dest`` holds, where ``dest``
    also holds methods of that seed this run does not (measured against the stored models), is refused unless
    ``references`` says what to do: ``"keep"`` keeps the stored reference rows and their ``metrics.json``, and
    writes this run's beside them as ``metrics-rerun.json`` (the run's method rows keep the gaps they were measured
    with); ``"replace"`` replaces them. An audit's reference rows (the Original alone, Retrained vs Retrained) are
    checked the same way against the audited methods ``dest`` holds; ``"keep"`` keeps the stored ones and writes
    the run's to ``audit-rerun.csv`` and ``audit_examples-rerun.csv``, the rows its methods were measured against."""
    import shutil

    if references not in (None, "keep", "replace"):
        raise ConfigError(f"references={references!r}: use 'keep' or 'replace' (or leave it unset).")
    run_dir, dest = Path(run_dir), Path(dest)
    if not (run_dir / "results.csv").is_file() and not (run_dir / "audit.csv").is_file():
        raise DataError(f"{run_dir} holds neither results.csv nor audit.csv; run the benchmark first (python -m "
                        f"gli_helpers run, tune or audit).")
    kept = []  # (role, arch, seed) of the stored reference models kept in place of this run's
    if (run_dir / "results.csv").is_file() and (dest / "results.csv").is_file() and references != "replace":
        changed = _changed_references(read_csv(dest / "results.csv"), read_csv(run_dir / "results.csv"))
        if changed and references is None:
            seen = {}  # one line per model: the procedures' rows of one model carry the same numbers
            for c in changed:
                seen.setdefault((c["key"]["method"], c["key"]["seed"]), c)
            lines = "; ".join(f"{role} of seed {seed}: {c['column']} differs by {c['difference']:.4f}, and {dest} "
                              f"holds {len(c['dependents'])} method(s) measured against the stored one "
                              f"({', '.join(c['dependents'])})" for (role, seed), c in seen.items())
            _refuse("run", dest, lines, "metrics beside them as metrics-rerun.json")
        kept = sorted({(c["key"]["method"], c["key"].get("arch"), int(c["key"]["seed"])) for c in changed})
    audit_kept = False  # the stored audit reference rows kept in place of this run's
    if (run_dir / "audit.csv").is_file() and (dest / "audit.csv").is_file() and references != "replace":
        changed = _changed_audit_references(read_csv(dest / "audit.csv"), read_csv(run_dir / "audit.csv"))
        if changed and references is None:
            lines = "; ".join(f"{c['key']['method']} at N = {c['key']['n_models']}: {c['column']} differs by "
                              f"{c['difference']:.4f}, and {dest} holds {len(c['dependents'])} audited method(s) "
                              f"measured against the stored models ({', '.join(c['dependents'])})" for c in changed)
            _refuse("audit", dest, lines, "rows to audit-rerun.csv and audit_examples-rerun.csv (its models' metrics "
                    "as metrics-rerun.json)")
        audit_kept = bool(changed)
        if audit_kept:  # every reference model of the audit was trained again: keep the stored records of each
            kept = sorted({*kept, *(_model_key(p.parent.name) for p in run_dir.glob("*-seed*/metrics.json")
                                    if p.parent.name.split("-")[0] in REFERENCE_METHODS
                                    and (dest / p.parent.name / "metrics.json").is_file()
                                    and read_json(p).get("metrics")
                                    != read_json(dest / p.parent.name / "metrics.json").get("metrics"))})
    copied = []
    extra = [*run_dir.glob("configs/*.json"), *run_dir.glob("*-seed*/metrics.json")]
    for rel in [*EXPORTED, *sorted(p.relative_to(run_dir).as_posix() for p in extra)]:
        if (run_dir / rel).is_file():
            target = rel
            if any(rel == f"{role}-{arch}-seed{seed}/metrics.json" for role, arch, seed in kept):
                target = rel.replace("metrics.json", "metrics-rerun.json")
            (dest / target).parent.mkdir(parents=True, exist_ok=True)
            if rel in MERGED_ON_EXPORT and (dest / rel).is_file():
                new = read_csv(run_dir / rel)
                if kept and {"method", "seed"} <= set(new.columns):  # the tables that hold reference rows
                    drop = pd.Series(False, index=new.index)
                    for role, arch, seed in kept:
                        drop |= (new.method == role) & (new.seed == seed) & (
                            new.arch == arch if "arch" in new.columns else True)
                    new = new[~drop]
                if audit_kept and rel in ("audit.csv", "audit_examples.csv"):  # the run's reference rows beside
                    aside = rel.replace(".csv", "-rerun.csv")
                    rerun = new[new.method.isin(AUDIT_REFERENCE_ROWS)]
                    if (dest / aside).is_file():
                        rerun = merge_rows(read_csv(dest / aside), rerun, MERGED_ON_EXPORT[rel])
                    write_csv_atomic(dest / aside, rerun)
                    copied.append(aside)
                    new = new[~new.method.isin(AUDIT_REFERENCE_ROWS)]
                merged = merge_rows(read_csv(dest / rel), new, MERGED_ON_EXPORT[rel])
                write_csv_atomic(dest / rel, upgraded(merged) if rel == "results.csv" else merged)
            elif rel.endswith(".json"):
                record = read_json(run_dir / rel)
                if isinstance(record, dict) and isinstance(record.get("source"), str):
                    record["source"] = Path(record["source"]).name
                write_json_atomic(dest / target, record)
            else:
                shutil.copyfile(run_dir / rel, dest / target)
            copied.append(target)
    return copied


def _model_key(folder: str) -> tuple[str, str, int]:
    """("retrained", "resnet18", 3) from a reference model's folder name, retrained-resnet18-seed3."""
    role, rest = folder.split("-", 1)
    arch, seed = rest.rsplit("-seed", 1)
    return role, arch, int(seed)

