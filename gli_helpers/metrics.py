"""The paper's metrics (docs/METHODS.md), plus the retain/forget accuracies needed to read them.

Accuracy, top-2 accuracy, multi-label average accuracy, per-sample losses, the
membership-inference attack (MIA), forgetting score, final score (NoMUS) and the
Jensen-Shannon distance between forget and unseen loss distributions.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.spatial.distance import jensenshannon
from scipy.stats import gaussian_kde
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedShuffleSplit, cross_val_score

from .errors import DataError
from .runtime import forward, to_float


def task_loss(logits: torch.Tensor, labels: torch.Tensor, task: str, reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy (multi-class) or BCE with logits averaged over outputs (multi-label)."""
    if task == "multilabel":
        loss = F.binary_cross_entropy_with_logits(logits, labels.float(), reduction="none").mean(1)
    else:
        loss = F.cross_entropy(logits, labels, reduction="none")
    return loss.mean() if reduction == "mean" else loss


@torch.no_grad()
def predict(model, split, device, batch_size: int = 256, amp: bool = True) -> torch.Tensor:
    """Float32 logits of ``model`` on every image of ``split`` (on the CPU), in eval mode."""
    modes = [(m, m.training) for m in model.modules()]  # restored per module: CF-k keeps frozen blocks in eval
    model.eval()
    out = []
    for lo in range(0, len(split), batch_size):
        out.append(forward(model, to_float(split.images[lo:lo + batch_size], device), amp).cpu())
    for m, mode in modes:
        m.training = mode
    if not out:
        raise DataError("cannot evaluate on an empty split.")
    return torch.cat(out)


def accuracy(logits: torch.Tensor, labels: torch.Tensor, task: str) -> float:
    """Top-1 accuracy; for multi-label, per-attribute accuracy (sigmoid > 0.5) averaged over attributes."""
    if len(labels) == 0:
        return float("nan")
    if task == "multilabel":
        return float(((logits > 0).float() == labels.float()).float().mean())
    return float((logits.argmax(1) == labels).float().mean())


def top2_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    if len(labels) == 0:
        return float("nan")
    return float((logits.topk(2, dim=1).indices == labels[:, None]).any(1).float().mean())


def per_sample_losses(logits: torch.Tensor, labels: torch.Tensor, task: str) -> np.ndarray:
    return task_loss(logits, labels, task, reduction="none").numpy().astype(np.float64)


def mia(member_losses, nonmember_losses, seed: int = 0, n_splits: int = 10, test_size: float = 0.1) -> float:
    """Membership-inference accuracy of a logistic regression on the single loss feature.

    Members (the forget set, label 1) and non-members (unseen, label 0) are balanced by
    shuffling the larger group with a fixed seed and cutting it to the smaller one's size;
    the score is the mean accuracy over ``n_splits`` stratified shuffle splits.
    """
    member, nonmember = np.asarray(member_losses, float), np.asarray(nonmember_losses, float)
    n = min(len(member), len(nonmember))
    if n < n_splits or n < 2:
        raise DataError(f"MIA needs at least {max(n_splits, 2)} samples on each side; got {len(member)} members "
                        f"and {len(nonmember)} non-members. Use a larger forget or unseen set.")
    rng = np.random.default_rng(seed)
    if len(member) > n:
        member = member[rng.permutation(len(member))[:n]]
    if len(nonmember) > n:
        nonmember = nonmember[rng.permutation(len(nonmember))[:n]]
    x = np.concatenate([member, nonmember])[:, None]
    y = np.concatenate([np.ones(n), np.zeros(n)])
    cv = StratifiedShuffleSplit(n_splits=n_splits, test_size=test_size, random_state=seed)
    return float(cross_val_score(LogisticRegression(), x, y, cv=cv, scoring="accuracy").mean())


def forgetting_score(mia_value: float) -> float:
    return abs(mia_value - 0.5)


def final_score(test_acc: float, forgetting: float) -> float:
    """NoMUS: (test accuracy + (1 - 2 * forgetting score)) / 2."""
    return (test_acc + (1 - 2 * forgetting)) / 2


def js_distance(a, b, grid_points: int = 256) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) between KDEs of two loss samples on a shared grid."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
    if hi - lo < 1e-12:
        return 0.0
    grid = np.linspace(lo, hi, grid_points)

    def density(v):
        if np.ptp(v) < 1e-12:
            d = np.exp(-0.5 * ((grid - v[0]) / ((hi - lo) / grid_points)) ** 2)
        else:
            d = gaussian_kde(v)(grid)
        return d / d.sum()

    return float(jensenshannon(density(a), density(b), base=2))


def evaluate(model, bench, device, batch_size: int = 256, seed: int = 0, amp: bool = True,
             splits=("test", "forget", "retain", "unseen")) -> dict:
    """Every metric of one model on a benchmark: test_acc, top2_acc (multi-class), mia, forgetting_score,
    final_score, retain_acc, forget_acc, js_distance, and validation_acc when that split exists."""
    logits = {s: predict(model, bench.splits[s], device, batch_size, amp) for s in splits if s in bench.splits}
    if "validation" in bench.splits and "validation" not in logits:
        logits["validation"] = predict(model, bench.splits["validation"], device, batch_size, amp)
    return metrics_from_logits(logits, {s: bench.splits[s].labels for s in logits}, bench.task, seed)


def metrics_from_logits(logits: dict, labels: dict, task: str, seed: int = 0) -> dict:
    out = {}
    if "test" in logits:
        out["test_acc"] = accuracy(logits["test"], labels["test"], task)
        if task == "multiclass" and logits["test"].shape[1] > 2:
            out["top2_acc"] = top2_accuracy(logits["test"], labels["test"])
    if "forget" in logits and "unseen" in logits:
        lf = per_sample_losses(logits["forget"], labels["forget"], task)
        lu = per_sample_losses(logits["unseen"], labels["unseen"], task)
        out["mia"] = mia(lf, lu, seed=seed)
        out["forgetting_score"] = forgetting_score(out["mia"])
        out["js_distance"] = js_distance(lf, lu)
        out["forget_loss"], out["unseen_loss"] = float(lf.mean()), float(lu.mean())
        if "test_acc" in out:
            out["final_score"] = final_score(out["test_acc"], out["forgetting_score"])
    for s in ("retain", "forget", "validation", "unseen"):
        if s in logits:
            out[f"{s}_acc"] = accuracy(logits[s], labels[s], task)
    for s in ("retain", "test"):
        if s in logits:
            out[f"{s}_loss"] = float(per_sample_losses(logits[s], labels[s], task).mean())
    return out


def gaps_to_reference(metrics: dict, reference: dict, keys=("test_acc", "retain_acc", "forget_acc", "mia")) -> dict:
    """Differences to the Retrained model (the practical target): ``<key>_gap`` = ours - reference."""
    return {f"{k}_gap": metrics[k] - reference[k] for k in keys if k in metrics and k in reference}


def gaps_and_scores(metrics: dict, reference: dict) -> dict:
    """The gaps to the Retrained model and, from them, ``avg_gap`` and ``tow``: what a results row holds."""
    gaps = gaps_to_reference(metrics, reference)
    return {**gaps, **gap_scores(gaps)}


AVG_GAP_KEYS = ("forget_acc_gap", "retain_acc_gap", "test_acc_gap", "mia_gap")
TOW_KEYS = ("forget_acc_gap", "retain_acc_gap", "test_acc_gap")


def gap_scores(gaps: dict) -> dict:
    """Two one-number summaries of the distance to the Retrained model, as the field's benchmarks report them:
    ``avg_gap``, the mean absolute gap of forget, retain and test accuracy and the MIA (SalUn's "Avg. Gap", with
    this package's MIA in place of SalUn's MIA-efficacy; 0 is the Retrained model, lower is better), and ``tow``,
    the product of 1 - |gap| over forget, retain and test accuracy (RUM's "tug of war"; 1 is the Retrained model,
    higher is better). Empty when a gap is missing or not a number."""
    def number(k):
        v = gaps.get(k)
        return None if v is None or v != v else float(v)
    avg, tow = [number(k) for k in AVG_GAP_KEYS], [number(k) for k in TOW_KEYS]
    if None in avg:
        return {}
    out = {"avg_gap": sum(abs(v) for v in avg) / len(avg)}
    product = 1.0
    for v in tow:
        product *= 1.0 - abs(v)
    return {**out, "tow": product}


def with_gap_scores(frame):
    """A results frame with ``avg_gap`` and ``tow`` computed from its stored gap columns for every row that has
    them (rows without a Retrained model stay empty); the stored columns are not changed."""
    import pandas as pd
    if not set(AVG_GAP_KEYS) <= set(frame.columns):
        return frame
    scores = pd.DataFrame([gap_scores(r) for r in frame[list(AVG_GAP_KEYS)].to_dict("records")], index=frame.index,
                          columns=["avg_gap", "tow"])
    out = frame.copy()
    at = list(out.columns).index("mia_gap") + 1
    for name in ("tow", "avg_gap"):
        if name in out.columns:
            out[name] = scores[name]
        else:
            out.insert(at, name, scores[name])
    return out
