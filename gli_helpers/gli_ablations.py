"""Where the published GLI number comes from: GLI variants run batch by batch from one Original model.

Each variant starts from the same Original and seed, runs the first ``batches`` optimizer steps without
checkpoint selection, and records the metrics and each split's mean loss after every ``eval_every`` batches
(and after the last), and the first sign step of every batch taken apart (GLI's ``diagnostics``). With
``eval_every`` 1 the authors' own selection (the best final score on test and unseen after every batch,
patience 3) is then read off each trajectory, so one run shows both the path and what that rule would keep.
A control (``push_from``) replaces the images the sign steps push away from (other retain images, held-out
non-members, noise) and keeps everything else of its variant; it is named ``<variant>+push_<kind>``.
Written to ``out``: trajectories.csv (a ``variant`` column), summary.csv, configs/<variant>.json; a variant whose
configuration, recipe and data are unchanged is reused, so an interrupted call resumes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .catalog import GLI_VARIANTS
from .errors import ConfigError
from .experiment import retrained_metrics
from .io import read_csv, read_json, write_csv_atomic, write_json_atomic
from .metrics import gaps_to_reference
from .records import as_current
from .runner import run_method, unlearn_data
from .unlearning import default_config
from .unlearning.gli import PUSH_FROM, GLIConfig

VARIANTS = GLI_VARIANTS  # name -> GLI settings on top of the authors' loop (catalog.py)
SUMMARY_AT = ("test_acc", "mia", "final_score", "retain_acc", "forget_acc", "retain_loss", "forget_loss", "test_loss",
              "unseen_loss")
# gaps to the Retrained model after the last batch: every summarised metric but the final score, where it has them
# (the trajectory's retain loss and accuracy are on a fixed sample of the retain set, the Retrained model's on all)
GAPS_AT = tuple(k for k in SUMMARY_AT if k != "final_score")


def variant_names(variants: list[str], push_from: list[str]) -> dict[str, dict]:
    """Each variant crossed with each source of the images pushed away from: name -> GLI settings."""
    bad = [p for p in push_from if p not in PUSH_FROM]
    if bad:
        raise ConfigError(f"unknown push_from {', '.join(bad)}; valid: {', '.join(PUSH_FROM)}.")
    return {(v if p == "forget" else f"{v}+push_{p}"): (VARIANTS[v] if p == "forget" else {**VARIANTS[v], "push_from": p})
            for v in variants for p in push_from}


def variant_config(name: str, settings: dict, task: str, binary: bool, batches: int):
    """GLI in the authors' loop with ``settings``, no checkpoint selection, diagnostics on, ``batches`` steps."""
    base = {} if settings.get("quirks") == "none" else {"quirks": "authors"}
    return default_config("gli", task, binary, **{**base, **settings, "selection": "none", "diagnostics": True,
                                                   "max_steps": batches})


def paper_selection(traj: pd.DataFrame, patience: int = 3) -> int:
    """The step the authors' rule keeps: after every batch the final score on test/unseen; the best so far is
    kept and the run stops after ``patience`` batches without a gain (the Original, step 0, is not a candidate)."""
    best, best_step, bad = -np.inf, 0, 0
    for step, score in traj.loc[traj.step > 0, ["step", "final_score"]].itertuples(index=False):
        if score > best:
            best, best_step, bad = score, int(step), 0
        else:
            bad += 1
            if bad >= patience:
                break
    return best_step


def summarize(traj: pd.DataFrame, retrained: dict | None = None) -> pd.DataFrame:
    """Per variant: the metrics at the start, after the last batch and at the authors' selection; the median
    ratio of the retain task loss after/before the first sign step (> 1: the step is adversarial) and the mean
    share of pixels the distance term decides; with ``retrained``, the last batch's gaps to the Retrained model
    (``<key>_gap_last`` = the variant's - Retrained's, for GAPS_AT)."""
    rows = []
    for name, t in traj.groupby("variant", sort=False):
        t = t.sort_values("step")
        steps = t[t.step > 0]
        t = t.dropna(subset=["final_score"])  # the evaluated steps (diagnostics are kept for every batch)
        every_batch = len(t) == t.step.max() + 1
        pick = paper_selection(t) if every_batch else None  # the authors' rule needs every batch evaluated
        start, last = (t[t.step == s].iloc[0] for s in (0, t.step.max()))
        chosen = t[t.step == pick].iloc[0] if every_batch else pd.Series(np.nan, index=t.columns)
        row = {"variant": name, "batches": int(t.step.max()), "evaluations": len(t) - 1,
               "selected_step": np.nan if pick is None else pick,
               "step_loss_ratio": float(np.median(steps.task_loss_after / steps.task_loss_before)),
               "share_following_distance": float(steps.share_following_distance.mean()),
               "distance_ratio": float(np.median(steps.distance_after / steps.distance_before))}
        for k in SUMMARY_AT:
            row |= {f"{k}_start": start[k], f"{k}_last": last[k], f"{k}_selected": chosen[k]}
        row |= {f"{k}_last": v for k, v in gaps_to_reference(last, retrained or {}, GAPS_AT).items()}
        rows.append(row)
    return pd.DataFrame(rows)


MARKDOWN_HEADER = ("| variant | test acc / MIA at start | at the end | retain loss | test loss | step loss ratio (median) | "
                   "distance ratio (median) | share of pixels the distance decides | authors' selection: step (final "
                   "score) |\n" + "|---" * 9 + "|")


def markdown_table(summary: pd.DataFrame) -> str:
    """The README's ablation table from summary.csv: the header, then one line per variant."""
    def pair(r, at):
        return f"{r[f'test_acc_{at}']:.3f} / {r[f'mia_{at}']:.3f}"

    def selected(r):  # not read off a trajectory evaluated every few batches only
        return "-" if pd.isna(r.selected_step) else f"{int(r.selected_step)} ({r.final_score_selected:.3f})"
    lines = []
    for _, r in summary.iterrows():
        lines.append(f"| {r.variant} | {pair(r, 'start')} | {pair(r, 'last')} | {r.retain_loss_start:.2f} -> "
                     f"{r.retain_loss_last:.2f} | {r.test_loss_start:.2f} -> {r.test_loss_last:.2f} | "
                     f"{r.step_loss_ratio:.2f} | {r.distance_ratio:.2f} | {r.share_following_distance:.2f} | "
                     f"{selected(r)} |")
    return "\n".join([MARKDOWN_HEADER, *lines])


def run_gli_ablations(exp, out, variants: list[str] | None = None, batches: int = 45, retrained: bool = True,
                      log=print, eval_every: int = 1, push_from: list[str] = ("forget",)) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run each variant (default: all of VARIANTS), crossed with each of ``push_from`` (``variant_names``), from
    ``exp``'s Original model (trained or reused in its run folder) for ``batches`` steps, evaluated after every
    ``eval_every`` batches and the last; write trajectories.csv, summary.csv (of every variant ``out`` holds) and
    the configurations to ``out``.
    With ``retrained=False`` the Retrained model is not trained: the summary has gaps to it only when the run folder
    already holds it; a later call with ``retrained=True`` reuses every finished variant and adds them.
    Returns (summary, the trajectories of these variants)."""
    chosen = list(VARIANTS) if variants is None else variants
    unknown = [n for n in chosen if n not in VARIANTS]
    if unknown:
        raise ConfigError(f"unknown GLI variant(s) {unknown}; valid: {', '.join(VARIANTS)}.")
    if batches < 1:
        raise ConfigError(f"--batches must be at least 1, got {batches}.")
    if eval_every < 1:
        raise ConfigError(f"--eval-every must be at least 1 (evaluate after every batch), got {eval_every}.")
    settings = variant_names(chosen, list(push_from))
    names = list(settings)
    b = exp.bench
    configs = {n: variant_config(n, settings[n], b.task, b.spec.binary, batches) for n in names}  # checked first
    out = Path(out)
    original, m_orig = exp.reference("original")
    m_retr = exp.reference("retrained")[1] if retrained else retrained_metrics(exp)
    m_retr = None if m_retr is None else _scalar_metrics(m_retr)
    seed = exp.cfg.seed
    common = {"benchmark": b.name, "task": b.task, "arch": exp.cfg.arch, "seed": seed, "procedure": "ablation",
              "preset": "", "data_fingerprint": b.fingerprint("train")}
    splits = unlearn_data(exp, seed)
    path_traj = out / "trajectories.csv"
    done = read_csv(path_traj) if path_traj.exists() else pd.DataFrame(columns=["variant"])
    for name, cfg in configs.items():
        path = out / "configs" / f"{name}.json"
        record = {"variant": name, "settings": settings[name], "eval_every": eval_every, "method_config": cfg.to_dict(),
                  "train_config": exp.cfg.to_dict(), "data_config": b.data_config, "data_fingerprint":
                  common["data_fingerprint"], "original_metrics": _scalar_metrics(m_orig), "retrained_metrics": m_retr}
        if path.is_file() and (name == done.variant).any() and _same_variant_run(old := read_json(path), record):
            if m_retr is not None and old.get("retrained_metrics") is None:  # run before the Retrained existed
                write_json_atomic(path, {**old, "retrained_metrics": m_retr})
            log(f"{name}: reused")
            continue
        row, traj_rows, rec = run_method(exp, "gli", cfg, original, m_retr, splits, common, trajectory_every=eval_every,
                                         trajectory={"final": True, "info_every_step": True})
        t = pd.DataFrame(traj_rows).assign(variant=name)
        done = pd.concat([done[done.variant != name], t], ignore_index=True)
        write_csv_atomic(path_traj, done)
        write_json_atomic(path, {**record, "report": rec["report"], "unlearn_seconds": rec["unlearn_seconds"],
                                 "final_metrics": _scalar_metrics(rec["metrics"])})
        log(f"{name}: {len(t) - 1} batches, test_acc {row['test_acc']:.4f} mia {row['mia']:.4f} "
            f"({rec['unlearn_seconds']:.0f} s)")
    write_csv_atomic(out / "summary.csv", summarize(done, m_retr))  # every variant the folder holds
    traj = done[done.variant.isin(names)]
    return summarize(traj, m_retr), traj


def _scalar_metrics(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool)) and k != "reused"}


def _same_variant_run(old: dict, new: dict) -> bool:
    """A record of the same run: a GLI setting added since it was written reads as its default (which it ran
    with), and a record from before ``eval_every`` was evaluated after every batch."""
    keys = ("settings", "train_config", "data_config", "data_fingerprint")
    return (json.dumps([old.get(k) for k in keys], sort_keys=True) == json.dumps([new.get(k) for k in keys], sort_keys=True)
            and as_current(GLIConfig, old.get("method_config")) == new["method_config"]
            and old.get("eval_every", 1) == new["eval_every"])

