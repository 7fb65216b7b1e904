"""DeLong's test for correlated ROC curves (istvt.metrics.delong, paired_auc_test)."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from istvt.metrics import curve_metrics, delong, paired_auc_test

# pROC's worked example (Robin et al. 2011, pROC's documentation of roc.test): the aSAH
# data (Turck et al. 2010, 113 patients with subarachnoid haemorrhage; outcome "Poor" =
# 1, 41 of them), s100b (a biomarker) against wfns (a 5-level clinical score, so ties).
# pROC prints: "DeLong's test for two correlated ROC curves ... Z = -2.209,
# p-value = 0.02718 ... AUC of roc1 0.7313686, AUC of roc2 0.8236789".
ASAH_Y = [
    0, 0, 0, 0, 1, 1, 0, 1, 0, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0,
    0, 0, 1, 0, 1, 0, 0, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 1, 0, 0, 0,
    0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0,
    0,
]  # fmt: skip
ASAH_S100B = [
    0.13, 0.14, 0.1, 0.04, 0.13, 0.1, 0.47, 0.16, 0.18, 0.1, 0.12, 0.1, 0.44, 0.71,
    0.04, 0.08, 0.49, 0.04, 0.07, 0.33, 0.09, 0.09, 0.07, 0.11, 0.07, 0.17, 0.07, 0.11,
    0.13, 0.19, 0.05, 0.16, 0.41, 0.14, 0.34, 0.35, 0.48, 0.09, 0.96, 0.25, 0.5, 0.46,
    0.16, 0.07, 0.43, 0.45, 0.11, 0.08, 0.09, 0.86, 0.52, 0.08, 0.06, 0.13, 2.07, 0.1,
    0.14, 0.15, 0.07, 0.06, 0.77, 0.05, 0.09, 0.3, 0.03, 0.09, 0.04, 0.23, 0.7, 0.09,
    0.27, 0.71, 0.08, 0.26, 0.08, 0.16, 0.09, 0.13, 0.1, 0.08, 0.11, 0.33, 0.11, 0.28,
    0.07, 0.1, 0.32, 0.22, 0.07, 0.05, 0.24, 0.38, 0.1, 0.15, 0.08, 0.14, 0.1, 0.07,
    0.04, 0.19, 0.56, 0.14, 0.58, 0.32, 0.82, 0.74, 0.15, 0.47, 0.17, 0.44, 0.15, 0.5,
    0.48,
]  # fmt: skip
ASAH_WFNS = [
    1, 1, 1, 1, 3, 2, 5, 4, 1, 2, 5, 2, 5, 5, 1, 2, 5, 2, 2, 5, 2, 1, 1, 1, 1, 2, 1, 2,
    1, 1, 3, 4, 2, 1, 4, 5, 4, 1, 4, 2, 5, 5, 1, 1, 2, 4, 1, 1, 2, 5, 5, 2, 1, 2, 5, 1,
    2, 2, 2, 1, 5, 1, 1, 2, 5, 2, 1, 4, 5, 2, 4, 4, 1, 4, 1, 2, 1, 4, 2, 1, 2, 3, 2, 4,
    2, 1, 4, 5, 1, 1, 5, 4, 2, 2, 1, 1, 1, 3, 1, 2, 5, 2, 2, 5, 5, 5, 2, 4, 4, 5, 1, 1,
    1,
]  # fmt: skip


def test_reproduces_procs_worked_example():
    y = np.array(ASAH_Y)
    assert (len(y), int(y.sum())) == (113, 41)
    out = paired_auc_test(y, ASAH_S100B, ASAH_WFNS)
    assert out["auc_a"] == pytest.approx(0.7313686, abs=5e-8)
    assert out["auc_b"] == pytest.approx(0.8236789, abs=5e-8)
    assert out["z"] == pytest.approx(-2.209, abs=5e-4)
    assert out["p"] == pytest.approx(0.02718, abs=5e-6)
    assert out["diff_lo"] < out["diff"] < out["diff_hi"] < 0  # significant at 5 %


def _brute_force(labels, scores):
    """The structural components of DeLong et al. from the pairwise kernel, O(m n)."""
    pos, neg = scores[:, labels == 1], scores[:, labels == 0]
    psi = (pos[:, :, None] > neg[:, None, :]) + 0.5 * (pos[:, :, None] == neg[:, None, :])
    v10, v01 = psi.mean(axis=2), psi.mean(axis=1)
    m, n = pos.shape[1], neg.shape[1]
    return psi.mean(axis=(1, 2)), np.cov(v10) / m + np.cov(v01) / n


def test_matches_the_pairwise_definition_with_ties():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 60)
    scores = np.vstack(
        [
            rng.random(60) + 0.6 * labels,
            np.round(rng.random(60) + 0.2 * labels, 1),  # many ties
            rng.integers(0, 3, 60).astype(float),
        ]
    )
    aucs, cov = delong(labels, scores)
    ref_aucs, ref_cov = _brute_force(labels, scores)
    np.testing.assert_allclose(aucs, ref_aucs, atol=1e-12)
    np.testing.assert_allclose(cov, ref_cov, atol=1e-12)
    np.testing.assert_allclose(aucs, [roc_auc_score(labels, s) for s in scores], atol=1e-12)


def test_a_model_against_itself_and_against_a_constant():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 40)
    model = rng.random(40) + 0.8 * labels
    same = paired_auc_test(labels, model, model.copy())
    assert (same["diff"], same["p"], same["diff_lo"], same["diff_hi"]) == (0.0, 1.0, 0.0, 0.0)
    constant = paired_auc_test(labels, model, np.full(40, 0.5))
    assert constant["auc_b"] == 0.5
    assert constant["p"] < 1e-4 and constant["diff_lo"] > 0


def test_pooled_over_seeds_uses_every_seed_and_their_correlation():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 80)
    signal = labels + rng.normal(0, 0.8, 80)
    seeds_a = np.vstack([signal + rng.normal(0, 0.3, 80) for _ in range(3)])
    seeds_b = np.vstack([signal + rng.normal(0, 1.5, 80) for _ in range(3)])
    pooled = paired_auc_test(labels, seeds_a, seeds_b)
    per_seed = [paired_auc_test(labels, a, b) for a, b in zip(seeds_a, seeds_b, strict=True)]
    assert pooled["diff"] == pytest.approx(np.mean([r["diff"] for r in per_seed]))
    assert pooled["auc_a"] == pytest.approx(np.mean([roc_auc_score(labels, s) for s in seeds_a]))
    # averaging three seeds narrows the interval, though less than sqrt(3): the seeds
    # score the same videos, so their errors are correlated
    width = pooled["diff_hi"] - pooled["diff_lo"]
    widths = [r["diff_hi"] - r["diff_lo"] for r in per_seed]
    assert width < np.mean(widths)
    assert width > np.mean(widths) / np.sqrt(3)


def test_the_variance_agrees_with_a_paired_bootstrap():
    rng = np.random.default_rng(2)
    labels = np.r_[np.ones(60), np.zeros(60)].astype(int)
    a = labels + rng.normal(0, 1.0, 120)
    b = 0.5 * a + labels * 0.2 + rng.normal(0, 0.8, 120)
    out = paired_auc_test(labels, a, b)
    se = (out["diff_hi"] - out["diff_lo"]) / (2 * 1.959964)
    diffs = []
    for _ in range(2000):  # resampling reals and fakes separately, as DeLong conditions
        idx = np.r_[rng.integers(0, 60, 60), 60 + rng.integers(0, 60, 60)]
        y = labels[idx]
        diffs.append(curve_metrics(y, a[idx])[0] - curve_metrics(y, b[idx])[0])
    assert se == pytest.approx(np.std(diffs), rel=0.1)


def test_refuses_bad_input():
    with pytest.raises(ValueError, match="both classes"):
        delong([1, 1, 1], [[0.1, 0.2, 0.3]])
    with pytest.raises(ValueError, match="0/1"):
        delong([1, 2, 0, 0], [[0.1, 0.2, 0.3, 0.4]])
    with pytest.raises(ValueError, match="do not match"):
        delong([1, 0, 1, 0], [[0.1, 0.2, 0.3]])
