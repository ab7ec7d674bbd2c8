"""Metrics and baselines of heatmap.validation on constructed cases with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from heatmap.market import Market
from heatmap.validation import baselines
from heatmap.validation.metrics import (
    ValidationReport,
    block_bootstrap_indices,
    direction_accuracy,
    kendall,
    log_score,
    null_residual,
    partial_skill,
    precision_at_k,
    score,
    spearman,
    wilson_interval,
)


def _frame(n: int = 400, seed: int = 0, extra_sd: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    f = pd.DataFrame(
        {
            "range_down": rng.lognormal(np.log(0.01), 0.8, n),
            "range_up": rng.lognormal(np.log(0.01), 0.8, n),
            "oi": rng.uniform(7e4, 1e5, n),
        },
        index=pd.date_range("2025-01-01", periods=n, freq="4h", tz="UTC"),
    )
    f["extra_long"] = rng.lognormal(0, extra_sd, n)
    f["extra_short"] = rng.lognormal(0, extra_sd, n)
    f["realized_long"] = f.range_down * f.oi * f.extra_long
    f["realized_short"] = f.range_up * f.oi * f.extra_short
    return f


# --- rank correlations ---------------------------------------------------------------------------------------


def test_perfect_and_reversed_ranking():
    x = np.arange(50.0)
    assert spearman(x, x**3) == pytest.approx(1.0)
    assert spearman(x, -x) == pytest.approx(-1.0)
    assert kendall(x, np.exp(x / 10)) == pytest.approx(1.0)
    assert kendall(x, -x) == pytest.approx(-1.0)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=5, max_size=40), st.integers(0, 10_000))
def test_spearman_matches_scipy(xs, seed):
    x = np.array(xs)
    y = np.random.default_rng(seed).permutation(x) + np.random.default_rng(seed + 1).normal(size=x.size)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        assert np.isnan(spearman(x, y))
    else:
        assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)


def test_constant_prediction_is_nan_not_zero():
    assert np.isnan(spearman(np.ones(10), np.arange(10.0)))
    assert np.isnan(kendall(np.ones(10), np.arange(10.0)))


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="same length"):
        spearman([1, 2, 3], [1, 2, 3, 4])
    with pytest.raises(ValueError, match="non-finite"):
        spearman([1, np.nan, 3], [1, 2, 3])
    with pytest.raises(ValueError, match="at least 3"):
        spearman([1, 2], [1, 2])


# --- Wilson --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("k,n", [(0, 10), (3, 10), (8, 10), (10, 10), (27, 120), (1, 1)])
def test_wilson_matches_scipy_binomtest(k, n):
    ref = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(ref.low, abs=1e-12)
    assert hi == pytest.approx(ref.high, abs=1e-12)


def test_wilson_published_value():
    # Newcombe (1998), Statistics in Medicine 17:857, Table I: 81/263 -> Wilson 0.2553 to 0.3662
    lo, hi = wilson_interval(81, 263)
    assert (round(lo, 4), round(hi, 4)) == (0.2553, 0.3662)


def test_wilson_validation():
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(11, 10)
    with pytest.raises(ValueError, match="trials"):
        wilson_interval(0, 0)


# --- precision@k, direction ------------------------------------------------------------------------------------


def test_precision_at_k_perfect_random_and_inverse():
    y = np.random.default_rng(3).lognormal(size=1000)
    p, lo, hi, k = precision_at_k(y, y)
    assert (p, k) == (1.0, 100) and lo > 0.95
    p, *_ = precision_at_k(-y, y)
    assert p == 0.0
    rand = [precision_at_k(np.random.default_rng(s).random(1000), y)[0] for s in range(40)]
    assert np.mean(rand) == pytest.approx(0.1, abs=0.02)


def test_direction_accuracy_counts_and_skips_ties():
    acc, lo, hi, n = direction_accuracy([2, 1, 0, 5], [1, 2, 0, 1], [3, 1, 1, 0], [1, 3, 2, 1])
    # bar 3 skipped (predicted tie); bars 1, 2 right, bar 4 wrong
    assert n == 3 and acc == pytest.approx(2 / 3)
    assert (lo, hi) == pytest.approx(wilson_interval(2, 3))


# --- partial skill -------------------------------------------------------------------------------------------


def test_null_residual_is_zero_when_realized_is_a_function_of_range():
    f = _frame()
    # any monotone (here convex, with an undercount) function of the range alone leaves no residual
    realized = 0.3 * f.range_down**2 * 9e4
    res = null_residual(realized, f.range_down, f.oi)
    assert np.abs(res).max() < 1e-8
    # a factor the null does not see stays in the residual
    res = null_residual(realized * f.extra_long, f.range_down, f.oi)
    assert spearman(res, f.extra_long) > 0.5


def test_partial_skill_zero_for_null_positive_for_extra_signal():
    f = _frame(n=1500, seed=5)
    null = f.range_down * f.oi
    assert abs(partial_skill(null, f.realized_long, f.range_down, f.oi)) < 0.08
    informed = null * f.extra_long**0.7
    assert partial_skill(informed, f.realized_long, f.range_down, f.oi) > 0.5
    # the null's Spearman is high, yet it has no partial skill: the two scores measure different things
    assert spearman(null, f.realized_long) > 0.5


# --- log score -------------------------------------------------------------------------------------------------


def test_log_score_known_value_and_floor():
    edges, mass = np.array([1.0, 2.0, 4.0]), np.array([1.0, 1.0])
    # density: 0.5/1 in [1,2), 0.5/2 in [2,4)
    assert log_score((edges, mass), [1.5, 3.0]) == pytest.approx(np.mean(np.log([0.5, 0.25])))
    assert log_score((edges, mass), [5.0]) == -np.inf
    assert log_score((edges, mass), [5.0], floor=1e-6) == pytest.approx(np.log(1e-6))
    # putting the mass where the events are scores higher
    assert log_score((edges, np.array([3.0, 1.0])), [1.5]) > log_score((edges, mass), [1.5])


def test_log_score_from_snapshot_sides():
    from heatmap.result import Snapshot

    snap = Snapshot(
        time=pd.Timestamp("2025-01-01", tz="UTC"),
        price_edges=np.array([90.0, 100.0, 110.0]),
        long=np.array([5.0, 0.0]),
        short=np.array([0.0, 5.0]),
        price=100.0,
    )
    assert log_score(snap, [95.0], side="long") == pytest.approx(np.log(0.1))
    assert log_score(snap, [95.0], side="both") == pytest.approx(np.log(0.05))
    assert log_score(snap, [95.0], side="short") == -np.inf


# --- bootstrap and report ------------------------------------------------------------------------------------


def test_block_bootstrap_indices_are_blocks_and_seeded():
    a = block_bootstrap_indices(100, block=7, n_boot=20, seed=1)
    b = block_bootstrap_indices(100, block=7, n_boot=20, seed=1)
    assert a.shape == (20, 100) and np.array_equal(a, b)
    assert a.min() >= 0 and a.max() <= 99
    steps = np.diff(a[:, :7], axis=1)  # the first block is consecutive rows
    assert np.all(steps == 1)
    with pytest.raises(ValueError, match="block"):
        block_bootstrap_indices(5, block=6, n_boot=1)


def test_score_report_perfect_prediction_and_null():
    f = _frame()
    f["predicted_long"], f["predicted_short"] = f.realized_long, f.realized_short
    rep = score(f, n_boot=100, seed=2)
    assert isinstance(rep, ValidationReport)
    assert rep.get("long", "spearman") == pytest.approx(1.0)
    assert rep.get("short", "precision_at_10pct") == 1.0
    assert rep.get("both", "direction") == 1.0
    t = rep.to_frame()
    assert {"estimate", "low", "high", "n"} <= set(t.columns)
    row = t.loc[("long", "partial_skill")]
    assert row.low <= row.estimate <= row.high and row.low > 0.5
    md = rep.to_markdown()
    assert md.startswith("| metric | long | short | both |") and "partial_skill" in md
    assert "spearman" in repr(rep)

    g = f.copy()
    g["predicted_long"], g["predicted_short"] = g.range_down * g.oi, g.range_up * g.oi
    rep0 = score(g, n_boot=200, seed=2)
    row = rep0.to_frame().loc[("long", "partial_skill")]
    assert row.low < 0.0 < row.high  # the null has no skill beyond itself
    assert rep0.get("long", "spearman") == pytest.approx(rep0.get("long", "null_spearman"))


def test_score_bootstrap_interval_covers_truth_and_is_seeded():
    f = _frame(n=600, seed=9)
    f["predicted_long"] = f.realized_long * np.random.default_rng(1).lognormal(0, 1.5, len(f))
    f["predicted_short"] = f.realized_short
    a = score(f, n_boot=150, seed=4).to_frame()
    b = score(f, n_boot=150, seed=4).to_frame()
    pd.testing.assert_frame_equal(a, b)
    lo, est, hi = a.loc[("long", "spearman"), ["low", "estimate", "high"]]
    assert lo < est < hi and hi - lo < 0.2


def test_score_rejects_bad_frames():
    f = _frame(n=50)
    with pytest.raises(ValueError, match="missing columns"):
        score(f)
    f["predicted_long"] = f["predicted_short"] = 1.0
    f.iloc[3, f.columns.get_loc("oi")] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        score(f)


# --- baselines ---------------------------------------------------------------------------------------------------


def _market(rows: list[tuple[float, float, float, float, float]]) -> Market:
    idx = pd.date_range("2025-01-01", periods=len(rows), freq="4h", tz="UTC")
    return Market(pd.DataFrame(rows, columns=["open", "high", "low", "close", "open_interest"], index=idx))


def test_range_oi_uses_oi_before_the_bar():
    m = _market([(100, 110, 90, 100, 10), (100, 120, 80, 100, 50)])
    r = baselines.range_oi(m)
    assert r.long.tolist() == pytest.approx([0.1 * 10, 0.2 * 10])
    assert r.short.tolist() == pytest.approx([0.1 * 10, 0.2 * 10])


def test_fixed_tiers_hand_computed():
    # bar 0: first bar, no ΔOI
    # bar 1: +10 coins, green -> longs at 100*(1-1/10)=90 (w .5) and 100*(1-1/50)=98 (w .5)
    # bar 2: low 97 crosses 98 -> 5 coins × 98; red with +4 -> shorts at 97*(1+1/10)=106.7 and 97*1.02=98.94
    # bar 3: high 100 crosses 98.94 -> 2 × 98.94; low 89 crosses 90 -> 5 × 90
    m = _market(
        [(99, 100, 99, 100, 0), (99, 100, 99, 100, 10), (100, 100, 97, 97, 14), (97, 100, 89, 95, 14)]
    )
    p = baselines.fixed_tiers(m, tiers={10: 1, 50: 1})
    assert p.long.tolist() == pytest.approx([0, 0, 5 * 98, 5 * 90])
    assert p.short.tolist() == pytest.approx([0, 0, 0, 2 * 98.94])


def test_fixed_tiers_no_look_ahead_and_options():
    rng = np.random.default_rng(0)
    n = 200
    c = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    o = np.r_[100, c[:-1]]
    h = np.maximum(o, c) * (1 + rng.uniform(0, 0.01, n))
    lo = np.minimum(o, c) * (1 - rng.uniform(0, 0.01, n))
    oi = 1000 + np.cumsum(rng.normal(0, 10, n))
    m = _market(list(zip(o, h, lo, c, oi, strict=True)))
    base = baselines.fixed_tiers(m)
    rows = np.array(list(zip(o, h, lo, c, oi, strict=True)))
    rows[120:, :4] *= 1.3
    rows[120:, 4] *= 2
    moved = baselines.fixed_tiers(_market([tuple(r) for r in rows]))
    pd.testing.assert_frame_equal(base.iloc[:120], moved.iloc[:120])
    prop = baselines.fixed_tiers(m, closes="proportional", split="even", entry="typical")
    assert (prop.to_numpy() >= 0).all() and prop.sum().sum() < base.sum().sum() * 2
    with pytest.raises(ValueError, match="tier leverages"):
        baselines.fixed_tiers(m, tiers={1.0: 1.0})
    with pytest.raises(ValueError, match="closes"):
        baselines.fixed_tiers(m, closes="all")  # type: ignore[arg-type]


def test_spearman_difference_paired_interval():
    from heatmap.validation.metrics import spearman_difference

    f = _frame(n=500, seed=4)
    f["predicted_long"] = f.realized_long
    f["predicted_short"] = f.realized_short
    ref = pd.DataFrame({"long": f.range_down * f.oi, "short": f.range_up * f.oi}, index=f.index)
    d, lo, hi = spearman_difference(f, ref, side="long", n_boot=200)
    assert d == pytest.approx(1.0 - spearman(ref.long, f.realized_long))
    assert 0 < lo <= d <= hi
    same = ref.rename(columns={"long": "predicted_long", "short": "predicted_short"})
    g = f.copy()
    g[["predicted_long", "predicted_short"]] = same.to_numpy()
    assert spearman_difference(g, ref, side="short", n_boot=50) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="no value"):
        spearman_difference(f, ref.iloc[:-1], side="long")


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 5000), st.data(), st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_contains_the_estimate_and_narrows_with_confidence(n, data, conf):
    k = data.draw(st.integers(0, n))
    lo, hi = wilson_interval(k, n, confidence=conf)
    assert 0.0 <= lo <= k / n <= hi <= 1.0
    lo2, hi2 = wilson_interval(k, n, confidence=conf / 2)
    assert lo <= lo2 + 1e-12 and hi2 <= hi + 1e-12


def test_log_score_rejects_bad_maps():
    edges = np.array([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="no mass"):
        log_score((edges, np.zeros(2)), [1.5])
    with pytest.raises(ValueError, match="non-negative"):
        log_score((edges, np.array([1.0, -1.0])), [1.5])
    with pytest.raises(ValueError, match="shape"):
        log_score((edges, np.ones(3)), [1.5])
    with pytest.raises(ValueError, match="floor"):
        log_score((edges, np.ones(2)), [1.5], floor=0.0)
