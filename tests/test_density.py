"""Smoothing, normalisations, interval masses and the KDE reference (heatmap.density)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from heatmap.density import (
    bin_cohorts,
    kde_bins,
    log_step,
    mass_between,
    normalize,
    sigma_bins,
    smooth,
    smooth_array,
)
from heatmap.result import Heatmap, Snapshot

T0 = pd.Timestamp("2025-01-01", tz="UTC")


def snap(long, short, edges=None, price=100.0, **kw):
    long = np.asarray(long, float)
    if edges is None:
        edges = np.geomspace(50.0, 200.0, long.size + 1)
    return Snapshot(time=T0, price_edges=edges, long=long, short=np.asarray(short, float), price=price, **kw)


def heatmap_from(long, short, edges):
    times = pd.date_range(T0, periods=long.shape[0], freq="h")
    return Heatmap(
        times=times,
        price_edges=edges,
        long=long,
        short=short,
        price=pd.Series(np.full(len(times), 100.0), index=times),
    )


# -- geometry -------------------------------------------------------------------------------------------------
def test_log_step_and_sigma_bins():
    edges = 100.0 * np.exp(0.002 * np.arange(101))
    assert log_step(edges) == pytest.approx(0.002)
    # 1 % of price -> log(1.01)/0.002 bins
    assert sigma_bins(0.01, edges) == pytest.approx(np.log(1.01) / 0.002)


def test_log_step_rejects_linear_grid():
    with pytest.raises(ValueError, match="log-spaced"):
        log_step(np.linspace(50, 150, 11))


def test_sigma_bins_rejects_negative():
    with pytest.raises(ValueError, match="bandwidth"):
        sigma_bins(-0.01, np.geomspace(1, 2, 5))


def test_mass_between_log_linear_interpolation():
    edges = np.array([1.0, np.e, np.e**2])
    vals = np.array([10.0, 20.0])
    # half of the first band in log-price, plus a quarter of the second
    assert float(mass_between(edges, vals, np.exp(0.5), np.exp(1.25))) == pytest.approx(5.0 + 5.0)
    assert float(mass_between(edges, vals, 0.1, 100.0)) == pytest.approx(30.0)  # beyond grid clipped
    assert float(mass_between(edges, vals, 3.0, 2.0)) == 0.0  # reversed interval


# -- smoothing ------------------------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(
    values=arrays(np.float64, st.integers(5, 120), elements=st.floats(0, 1e9)),
    bandwidth=st.floats(0.0, 0.2),
)
def test_smoothing_preserves_mass_and_sign(values, bandwidth):
    edges = np.geomspace(50.0, 200.0, values.size + 1)
    s = snap(values, values[::-1], edges=edges)
    out = smooth(s, bandwidth=bandwidth)
    assert out.long.sum() == pytest.approx(values.sum(), rel=1e-9, abs=1e-6)
    assert out.short.sum() == pytest.approx(values.sum(), rel=1e-9, abs=1e-6)
    assert np.all(out.long >= -1e-9 * max(values.max(), 1.0))


def test_smoothing_edge_mass_stays_on_grid():
    x = np.zeros(100)
    x[0] = 5.0
    x[-1] = 7.0
    y = smooth_array(x, 10.0)
    assert y.sum() == pytest.approx(12.0)
    # left spike keeps its mass on the left half
    assert y[:50].sum() == pytest.approx(5.0, rel=1e-6)


def test_smoothing_matches_gaussian_in_log_price():
    # a point mass in the middle becomes N(log p0, log(1+bw)) integrated over bands
    from scipy import stats

    edges = np.geomspace(50.0, 200.0, 1001)
    x = np.zeros(1000)
    x[500] = 1.0
    bw = 0.02
    out = smooth(snap(x, np.zeros(1000), edges=edges), bandwidth=bw)
    centre = np.log(np.sqrt(edges[500] * edges[501]))
    expected = np.diff(stats.norm.cdf(np.log(edges), loc=centre, scale=np.log1p(bw)))
    assert np.abs(out.long - expected).sum() < 2e-3


def test_smooth_heatmap_rowwise_and_meta():
    edges = np.geomspace(50.0, 200.0, 41)
    rng = np.random.default_rng(0)
    long = rng.random((3, 40))
    hm = heatmap_from(long, long * 2, edges)
    out = smooth(hm, bandwidth=0.05)
    assert isinstance(out, Heatmap)
    np.testing.assert_allclose(out.long.sum(axis=1), long.sum(axis=1))
    np.testing.assert_allclose(out.short.sum(axis=1), 2 * long.sum(axis=1))
    # rows are smoothed independently
    single = smooth(heatmap_from(long[1:2], long[1:2], edges), bandwidth=0.05)
    np.testing.assert_allclose(out.long[1], single.long[0])
    assert out.meta["smoothing_bandwidth"] == 0.05


def test_snapshot_smooth_method_delegates():
    edges = np.geomspace(50.0, 200.0, 41)
    s = snap(np.eye(40)[10], np.eye(40)[30], edges=edges)
    np.testing.assert_allclose(s.smooth(bandwidth=0.03).long, smooth(s, bandwidth=0.03).long)


# -- KDE reference --------------------------------------------------------------------------------------------
def test_binned_smoothing_agrees_with_weighted_kde():
    rng = np.random.default_rng(42)
    n = 400
    lp = np.exp(rng.normal(np.log(92.0), 0.03, n))
    notional = rng.lognormal(10, 1, n)
    cohorts = pd.DataFrame(
        {"side": "long", "liquidation_price": lp, "qty": notional / lp, "notional": notional}
    )
    edges = np.geomspace(60.0, 140.0, 801)  # log step ~1e-3
    bw = 0.01
    binned = bin_cohorts(cohorts, edges, side="long")
    smoothed = smooth(snap(binned, np.zeros(800), edges=edges), bandwidth=bw).long
    ref = kde_bins(cohorts, edges, side="long", bandwidth=bw)
    total = notional.sum()
    assert ref.sum() == pytest.approx(total, rel=1e-6)
    l1 = np.abs(smoothed - ref).sum() / total
    assert l1 < 0.01
    # and the agreement is not trivial: a different bandwidth is far away
    other = kde_bins(cohorts, edges, side="long", bandwidth=3 * bw)
    assert np.abs(smoothed - other).sum() / total > 0.1


def test_kde_single_cohort_and_validation():
    c = pd.DataFrame({"side": ["short"], "liquidation_price": [110.0], "notional": [3.0]})
    edges = np.geomspace(80.0, 140.0, 301)
    m = kde_bins(c, edges, side="short", bandwidth=0.01)
    assert m.sum() == pytest.approx(3.0)
    assert kde_bins(c, edges, side="long", bandwidth=0.01).sum() == 0.0
    with pytest.raises(ValueError, match="bandwidth"):
        kde_bins(c, edges, side="short", bandwidth=0.0)
    with pytest.raises(ValueError, match="missing column"):
        bin_cohorts(c.drop(columns="notional"), edges, side="short")
    with pytest.raises(ValueError, match="side"):
        bin_cohorts(c, edges, side="both")  # type: ignore[arg-type]


# -- normalisations -------------------------------------------------------------------------------------------
def test_normalize_kinds_on_snapshot():
    s = snap([0.0, 2.0, 4.0, 0.0], [0.0, 0.0, 1.0, 1.0], edges=np.geomspace(80, 120, 5))
    np.testing.assert_array_equal(normalize(s, "usd").long, s.long)
    rel = normalize(s, "relative")
    np.testing.assert_allclose(rel.long, [0, 0.5, 1, 0])
    np.testing.assert_allclose(rel.short, [0, 0, 0.25, 0.25])
    z = normalize(s, "zscore")
    allv = np.concatenate([s.long, s.short])
    np.testing.assert_allclose(z.long, (s.long - allv.mean()) / allv.std())
    both = np.concatenate([z.long, z.short])
    assert both.mean() == pytest.approx(0, abs=1e-12)
    assert both.std() == pytest.approx(1)
    pct = normalize(s, "percentile")
    # positive cells: 2, 4, 1, 1 -> ranks (max-ties) 3, 4, 2, 2 of 4
    np.testing.assert_allclose(pct.long, [0, 0.75, 1.0, 0])
    np.testing.assert_allclose(pct.short, [0, 0, 0.5, 0.5])
    assert pct.meta["normalization"] == "percentile"
    assert s.normalize("relative").long.max() == 1.0


def test_normalize_all_zero_is_zero():
    s = snap(np.zeros(4), np.zeros(4), edges=np.geomspace(80, 120, 5))
    for kind in ("relative", "zscore", "percentile"):
        assert not normalize(s, kind).long.any()


def test_normalize_heatmap_scopes():
    edges = np.geomspace(80, 120, 4)
    long = np.array([[1.0, 2.0, 0.0], [4.0, 0.0, 8.0]])
    hm = heatmap_from(long, np.zeros_like(long), edges)
    glob = normalize(hm, "relative")
    np.testing.assert_allclose(glob.long, long / 8.0)
    per = normalize(hm, "relative", scope="snapshot")
    np.testing.assert_allclose(per.long, [[0.5, 1.0, 0.0], [0.5, 0.0, 1.0]])
    z = normalize(hm, "zscore")
    allv = np.concatenate([long.ravel(), np.zeros(6)])
    np.testing.assert_allclose(z.long, (long - allv.mean()) / allv.std())


def test_normalize_rejects_unknown():
    s = snap(np.ones(4), np.ones(4), edges=np.geomspace(80, 120, 5))
    with pytest.raises(ValueError, match="kind must be one of"):
        normalize(s, "log")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="scope"):
        normalize(s, "usd", scope="row")  # type: ignore[arg-type]
