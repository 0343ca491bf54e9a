"""The per-example audit's estimators on samples with known answers (docs/AUDIT.md)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from gli_helpers.audit_metrics import (
    EPSILON_CAP,
    competition_score,
    epsilons,
    example_epsilon,
    example_scores,
    forgetting_quality,
    lira,
    logit_scaled_confidence,
    max_epsilon,
)


def groups(shift, n=16, examples=200, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(shift, 1, (n, examples)), rng.normal(0, 1, (n, examples))


def test_logit_scaled_confidence_by_hand_and_stable_for_large_logits():
    logits = np.array([[2.0, 0.0, -1.0], [1000.0, 0.0, 0.0]])
    p = np.exp(logits[0]) / np.exp(logits[0]).sum()
    got = logit_scaled_confidence(logits, np.array([0, 1]))
    assert got[0] == pytest.approx(np.log(p[0]) - np.log(p[1] + p[2]))
    assert got[1] == pytest.approx(np.log(1e-45))  # p_y underflows to 0: the 1e-45 keeps it finite (the code's floor)
    ml = logit_scaled_confidence(np.array([[2.0, -3.0]]), np.array([[1, 0]]), "multilabel")
    assert ml[0] == pytest.approx((2.0 + 3.0) / 2)  # mean over outputs of ln p - ln(1 - p) of the true value


def test_identical_groups_score_far_above_shifted_ones_and_separated_ones_score_zero():
    f_same, eps_same, _ = forgetting_quality(*groups(0.0))
    f_shift, eps_shift, _ = forgetting_quality(*groups(2.0))
    f_apart, eps_apart, h_apart = forgetting_quality(*groups(20.0))
    assert np.median(eps_same) < np.median(eps_shift) < max_epsilon(16)
    assert f_same > 3 * f_shift and f_same > 0.1
    assert (eps_apart == EPSILON_CAP).all() and f_apart == 0.0 and (h_apart == 0).all()


def test_epsilon_grows_with_the_shift_and_is_symmetric_in_the_groups():
    medians = [np.median(epsilons(*groups(s))) for s in (0.0, 1.0, 2.0, 3.0)]
    assert medians == sorted(medians) and medians[-1] > medians[0] + 0.8
    u, r = groups(0.7)
    assert np.array_equal(epsilons(u, r), epsilons(r, u))


def test_constant_samples_ties_and_two_models():
    assert example_epsilon([1.0, 1.0, 1.0], [1.0, 1.0, 1.0]) == 0.0  # the same constant: no difference
    assert example_epsilon([1.0, 1.0, 1.0], [2.0, 2.0, 2.0]) == EPSILON_CAP
    assert example_epsilon([1.0, 1.0, 1.0], [0.0, 1.0, 2.0]) == EPSILON_CAP  # one peaky sample: the code's rule
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division by zero, no log of zero leaks out
        tied = example_epsilon([0.0, 1.0, 1.0, 2.0], [0.0, 1.0, 2.0, 2.0])
        f2, eps2, h2 = forgetting_quality(np.array([[0.0, 1.0], [1.0, 2.0]]), np.array([[0.5, 1.0], [1.5, 3.0]]))
    assert 0.0 <= tied < EPSILON_CAP
    assert max_epsilon(2) == 0.0 and f2 == 0.0 and (h2 == 0).all()  # N = 2 shows nothing: no score bin
    with pytest.raises(ValueError, match="at least 2 models"):
        epsilons(np.zeros((1, 3)), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="same models x examples"):
        epsilons(np.zeros((4, 3)), np.zeros((5, 3)))


def test_score_bins_and_final_score():
    h = example_scores(np.array([0.0, 0.49, 0.5, 1.2, 2.99, 3.0, 50.0]), 16)  # max epsilon ceil(ln 15) = 3
    assert h.tolist() == [1.0, 1.0, 0.5, 0.25, 1 / 32, 0.0, 0.0]
    assert competition_score(0.5, 0.9, 1.0, 0.4, 0.5) == pytest.approx(0.5 * 0.9 * 0.8)


def test_lira_cannot_tell_identical_groups_and_tells_separated_ones():
    same = lira(*groups(0.0))
    apart = lira(*groups(3.0))
    assert 0.45 < same["attack_acc"] < 0.56 and 0.45 < same["attack_auc"] < 0.57 and same["tpr_at_1pct_fpr"] < 0.05
    assert apart["attack_acc"] > 0.9 and apart["attack_auc"] > 0.95 and apart["tpr_at_1pct_fpr"] > 0.3
    assert apart["example_gap"].shape == (200,) and (apart["example_gap"] > 0).mean() > 0.95
    const = lira(np.ones((4, 5)), np.zeros((4, 5)))  # constant scores: the floored spread, no division by zero
    assert const["attack_acc"] == 1.0
    with pytest.raises(ValueError, match="at least 3 models"):
        lira(np.zeros((2, 3)), np.zeros((2, 3)))
