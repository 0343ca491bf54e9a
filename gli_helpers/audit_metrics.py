"""Per-example unlearning audits (docs/AUDIT.md): the NeurIPS 2023 unlearning competition's forgetting quality F
and a LiRA-style likelihood-ratio attack, from the logit-scaled confidence of every forget example under N
retrained and N unlearned models.

Choices, stated once:
- Confidence: ln p_y - ln sum_{j != y} p_j (softmax in float64 after subtracting the max logit, 1e-45 inside the
  logs), as the competition's code. Multi-label (independent sigmoid outputs): the mean over outputs of the signed
  logit (z for a positive label, -z for a negative one), which is each output's ln p - ln (1 - p).
- Decision rules for epsilon: the competition code's two families, single thresholds and intervals whose width is
  within 2.0 of the peakier sample's range (an interval predicts that sample), with every threshold at the pooled
  sample values, evaluated exactly (the empirical rates change only there; the code walks a grid of 0.01 over
  the same families, so the two agree when the grid resolves the samples). As there: the rule
  is dropped when exactly one of FPR and FNR is 0; FPR = FNR = 0 gives infinity; epsilon is capped at 50 and set to
  50 when the smaller sample's range is below 1% of the larger's. Two constant samples: 0 when equal, 50 apart.
- Score bins: H = 2^-floor(2 epsilon) for epsilon < ceil(ln(N - 1)), else 0 (the code's rule; the report ended
  the bins at 6.5 for N = 512). N = 2 has no bin (F = 0): the estimator runs but says nothing.
"""

from __future__ import annotations

import numpy as np

DELTA = 1e-5
EPSILON_CAP = 50.0


def logit_scaled_confidence(logits, labels, task: str = "multiclass") -> np.ndarray:
    """Per example: ln p_y - ln(1 - p_y) (multi-class), or the mean signed logit over outputs (multi-label)."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels)
    if task == "multilabel":
        return np.where(y > 0.5, z, -z).mean(axis=1)
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    rows = np.arange(len(z))
    correct = p[rows, y]
    wrong = p.sum(axis=1) - correct
    return np.log(correct + 1e-45) - np.log(wrong + 1e-45)


WIDTH_BUFFER = 2.0  # interval widths within this of the peakier sample's range (the competition's code)


def _rates(pos: np.ndarray, neg: np.ndarray):
    """FPR and FNR of every single-threshold rule (positive if f >= t) and every interval rule (the peakier
    sample if l <= f <= r, the width within WIDTH_BUFFER of that sample's range), at the pooled sample values."""
    values = np.unique(np.concatenate([pos, neg]))
    t = np.append(values, np.inf)
    fnr = [(pos[:, None] < t).mean(0)]
    fpr = [(neg[:, None] >= t).mean(0)]
    inner, outer = (pos, neg) if np.ptp(pos) < np.ptp(neg) else (neg, pos)
    lo, hi = np.triu_indices(len(values))
    left, right = values[lo], values[hi]
    fits = np.abs((right - left) - np.ptp(inner)) <= WIDTH_BUFFER
    left, right = left[fits], right[fits]

    def inside(s):
        return ((s[:, None] >= left) & (s[:, None] <= right)).mean(0)

    fnr.append(1 - inside(inner))
    fpr.append(inside(outer))
    return np.concatenate(fpr), np.concatenate(fnr)


def example_epsilon(a, b, delta: float = DELTA) -> float:
    """The epsilon of one forget example from its scores under two groups of models (unlearned, retrained)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ra, rb = np.ptp(a), np.ptp(b)
    large, small = max(ra, rb), min(ra, rb)
    if large == 0:
        return 0.0 if a[0] == b[0] else EPSILON_CAP
    if small / large < 0.01:
        return EPSILON_CAP
    pos, neg = (a, b) if np.median(a) > np.median(b) else (b, a)
    fpr, fnr = _rates(pos, neg)
    if np.any((fpr == 0) & (fnr == 0)):
        return EPSILON_CAP
    keep = (fpr > 0) & (fnr > 0)
    if not keep.any():
        return 0.0
    fpr, fnr = fpr[keep], fnr[keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        eps = np.fmax(np.log(1 - delta - fpr) - np.log(fnr), np.log(1 - delta - fnr) - np.log(fpr))
    eps = eps[~np.isnan(eps)]  # ln of 1 - delta - 1 < 0 where a rate is 1
    return float(np.clip(eps.max(), 0.0, EPSILON_CAP)) if eps.size else 0.0


def epsilons(unlearned: np.ndarray, retrained: np.ndarray) -> np.ndarray:
    """Per-example epsilon; both arrays are [models, examples] with the same number of models."""
    unlearned, retrained = np.asarray(unlearned), np.asarray(retrained)
    if unlearned.shape != retrained.shape:
        raise ValueError(f"the two groups must hold the same models x examples, got {unlearned.shape} and "
                         f"{retrained.shape}.")
    if unlearned.shape[0] < 2:
        raise ValueError(f"a per-example audit needs at least 2 models per group, got {unlearned.shape[0]}.")
    return np.array([example_epsilon(unlearned[:, s], retrained[:, s]) for s in range(unlearned.shape[1])])


def max_epsilon(n_models: int) -> float:
    """The largest epsilon that N models can show (the last score bin ends there): ceil(ln(N - 1))."""
    return float(np.ceil(np.log(n_models - 1))) if n_models > 2 else 0.0


def example_scores(eps: np.ndarray, n_models: int) -> np.ndarray:
    """H per example: 2^-floor(2 epsilon) (bins 0.5 wide) below max_epsilon(N), else 0."""
    eps = np.asarray(eps, dtype=np.float64)
    return np.where(eps < max_epsilon(n_models), 2.0 ** -np.floor(2 * eps), 0.0)


def forgetting_quality(unlearned: np.ndarray, retrained: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(F, epsilon per example, H per example): F is the mean of H over the forget set, in [0, 1]."""
    eps = epsilons(unlearned, retrained)
    h = example_scores(eps, np.asarray(unlearned).shape[0])
    return float(h.mean()), eps, h


def competition_score(f: float, retain_u: float, retain_r: float, test_u: float, test_r: float) -> float:
    """F * (RA_U / RA_R) * (TA_U / TA_R), the mean retain and test accuracy of each group (ratios not capped)."""
    return f * (retain_u / retain_r) * (test_u / test_r)


def lira(unlearned: np.ndarray, retrained: np.ndarray, min_std: float = 1e-3) -> dict:
    """A LiRA-style attack telling unlearned (IN) from retrained (OUT) models example by example, with held-out
    targets: for each pair i, Gaussians are fitted per example to the other N - 1 unlearned and N - 1 retrained
    scores (means, per-example standard deviations floored at ``min_std``), and the log-likelihood ratio is computed
    for U_i's and R_i's own scores. Pooled over pairs and examples: accuracy max_t 1 - (FPR + FNR) / 2 (0.5: the
    attack cannot tell them apart), AUC, TPR at 1% FPR; per example, the mean ratio of U_i minus that of R_i."""
    u, r = np.asarray(unlearned, dtype=np.float64), np.asarray(retrained, dtype=np.float64)
    n = u.shape[0]
    if n < 3:
        raise ValueError(f"the held-out attack needs at least 3 models per group (2 to fit, 1 target), got {n}.")
    stats_u, stats_r = np.empty_like(u), np.empty_like(r)
    for i in range(n):
        rest = np.arange(n) != i
        mu_in, sd_in = u[rest].mean(0), np.maximum(u[rest].std(0, ddof=1), min_std)
        mu_out, sd_out = r[rest].mean(0), np.maximum(r[rest].std(0, ddof=1), min_std)
        for target, out in ((u[i], stats_u), (r[i], stats_r)):
            out[i] = (_log_normal(target, mu_in, sd_in) - _log_normal(target, mu_out, sd_out))
    scores = np.concatenate([stats_u.ravel(), stats_r.ravel()])
    member = np.concatenate([np.ones(stats_u.size), np.zeros(stats_r.size)])
    acc, auc, tpr_low = _roc_summary(scores, member)
    return {"attack_acc": acc, "attack_auc": auc, "tpr_at_1pct_fpr": tpr_low,
            "example_gap": stats_u.mean(0) - stats_r.mean(0)}


def _log_normal(x, mu, sd):
    return -0.5 * ((x - mu) / sd) ** 2 - np.log(sd)


def _roc_summary(scores: np.ndarray, member: np.ndarray, low_fpr: float = 0.01) -> tuple[float, float, float]:
    """Best balanced accuracy over thresholds, AUC (ties counted half) and TPR at ``low_fpr``."""
    order = np.argsort(-scores, kind="stable")
    s, m = scores[order], member[order]
    last = np.r_[np.diff(s) != 0, True]  # thresholds between distinct scores only (ties move together)
    tp, fp = np.cumsum(m)[last], np.cumsum(1 - m)[last]
    tpr, fpr = np.r_[0.0, tp / m.sum()], np.r_[0.0, fp / (1 - m).sum()]
    acc = float(np.max(1 - (fpr + 1 - tpr) / 2))
    auc = float(np.trapezoid(tpr, fpr))
    tpr_low = float(tpr[fpr <= low_fpr].max())
    return acc, auc, tpr_low


def bootstrap_intervals(unlearned: np.ndarray, retrained: np.ndarray, h: np.ndarray, samples: int = 200,
                        seed: int = 0, level: float = 0.95) -> dict:
    """Percentile intervals of F and of the attack's accuracy over forget examples resampled with replacement
    (the models stay fixed): {f_lo, f_hi, attack_acc_lo, attack_acc_hi}. ``h``: the H of each example."""
    rng = np.random.default_rng(seed)
    n_examples = len(h)
    fs, accs = [], []
    for _ in range(samples):
        idx = rng.integers(0, n_examples, n_examples)
        fs.append(h[idx].mean())
        if unlearned.shape[0] >= 3:
            accs.append(lira(unlearned[:, idx], retrained[:, idx])["attack_acc"])
    q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
    f_lo, f_hi = np.percentile(fs, q)
    acc_lo, acc_hi = np.percentile(accs, q) if accs else (np.nan, np.nan)
    return {"f_lo": float(f_lo), "f_hi": float(f_hi), "attack_acc_lo": float(acc_lo), "attack_acc_hi": float(acc_hi)}
