"""Clusters, cumulative map, imbalance and magnet (heatmap.clusters)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import erf

from heatmap.clusters import CLUSTER_COLUMNS, cumulative, find_clusters, imbalance, magnet, reachable
from heatmap.result import Snapshot

T0 = pd.Timestamp("2025-01-01", tz="UTC")
EDGES = np.geomspace(70.0, 130.0, 1201)
CENTERS = np.sqrt(EDGES[:-1] * EDGES[1:])


def bump(level, notional, width=0.004):
    """A Gaussian bump in log-price holding ``notional`` [quote] in total."""
    z = np.log(CENTERS / level) / width
    dens = np.where(np.abs(z) < 6, np.exp(-0.5 * z**2), 0.0)  # truncated: no 1e-40 tails across the price
    return notional * dens / dens.sum()


def make(long, short, price=100.0):
    return Snapshot(time=T0, price_edges=EDGES, long=long, short=short, price=price)


@pytest.fixture
def two_sided():
    long = bump(95.0, 3e6) + bump(88.0, 5e6)
    short = bump(104.0, 2e6) + bump(112.0, 1e6)
    return make(long, short)


def test_finds_known_clusters_with_mass_and_bands(two_sided):
    cl = find_clusters(two_sided)
    assert list(cl.columns) == list(CLUSTER_COLUMNS)
    assert len(cl) == 4
    assert cl["notional"].is_monotonic_decreasing
    assert cl["rank"].tolist() == [1, 2, 3, 4]
    expected = {("long", 88.0): 5e6, ("long", 95.0): 3e6, ("short", 104.0): 2e6, ("short", 112.0): 1e6}
    for (side, level), notional in expected.items():
        row = cl.loc[(cl["side"] == side) & (np.abs(cl["price"] - level) < 0.3)]
        assert len(row) == 1, (side, level)
        r = row.iloc[0]
        assert r["price_low"] < r["price"] < r["price_high"]
        # the band is the full width at half maximum of the smoothed bump (sd = hypot(width, log1p(bandwidth)))
        sd = np.hypot(0.004, np.log1p(0.0025))
        half = np.log(r["price_high"] / r["price_low"]) / 2
        assert half == pytest.approx(np.sqrt(2 * np.log(2)) * sd, rel=0.02)
        # and holds the raw bump's mass inside +-half: erf(half / (sd_raw * sqrt 2))
        assert r["notional"] == pytest.approx(notional * erf(half / (0.004 * np.sqrt(2))), rel=0.01)


def test_side_filter_within_top(two_sided):
    assert set(find_clusters(two_sided, side="long")["side"]) == {"long"}
    near = find_clusters(two_sided, within=0.06)
    assert sorted(near["price"].round().tolist()) == [95.0, 104.0]
    top = find_clusters(two_sided, top=1)
    assert len(top) == 1 and top["price"].iloc[0] == pytest.approx(88.0, abs=0.3)


def test_wrong_side_mass_is_ignored():
    # longs above price and shorts below price cannot be liquidated by reaching them
    s = make(long=bump(106.0, 1e6), short=bump(94.0, 1e6))
    assert find_clusters(s).empty
    assert cumulative(s)[["cum_long", "cum_short"]].to_numpy().max() == 0.0
    assert np.isnan(imbalance(s))
    assert magnet(s) is None


def test_cluster_against_the_price_is_found():
    # long mass rising up to the current price still forms a cluster (edge of the reachable region)
    long = np.where(CENTERS < 100.0, np.exp(np.log(CENTERS / 100.0) / 0.01), 0.0)
    cl = find_clusters(make(long, np.zeros_like(long)))
    assert len(cl) == 1 and cl["side"].iloc[0] == "long"
    assert cl["price_high"].iloc[0] <= 100.0 + 1e-9


def test_min_prominence_controls_small_peaks():
    long = bump(95.0, 1e6) + bump(90.0, 2e4)
    s = make(long, np.zeros_like(long))
    assert len(find_clusters(s)) == 1  # 2 % bump below the 5 % default
    assert len(find_clusters(s, min_prominence=0.0)) == 2
    assert len(find_clusters(s, min_prominence=1e12)) == 0


def test_no_mass_gives_empty_typed_frame():
    cl = find_clusters(make(np.zeros(1200), np.zeros(1200)))
    assert cl.empty and list(cl.columns) == list(CLUSTER_COLUMNS)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"side": "up"}, "side"),
        ({"within": 1.5}, "within"),
        ({"top": 0}, "top"),
        ({"min_prominence": -1.0}, "min_prominence"),
        ({"rel_height": 0.0}, "rel_height"),
    ],
)
def test_find_clusters_validates(two_sided, kw, match):
    with pytest.raises(ValueError, match=match):
        find_clusters(two_sided, **kw)


def test_snapshot_methods_delegate(two_sided):
    pd.testing.assert_frame_equal(two_sided.clusters(top=2), find_clusters(two_sided, top=2))
    pd.testing.assert_frame_equal(two_sided.cumulative(), cumulative(two_sided))
    assert two_sided.imbalance(0.1) == imbalance(two_sided, within=0.1)


def test_cumulative_hand_example():
    edges = np.array([80.0, 90.0, 100.0, 110.0, 120.0])
    s = Snapshot(
        time=T0,
        price_edges=edges,
        long=np.array([1.0, 2.0, 0.0, 0.0]),
        short=np.array([0.0, 0.0, 3.0, 4.0]),
        price=100.0,
    )
    c = cumulative(s)
    assert c["cum_long"].tolist() == [3.0, 2.0, 0.0, 0.0]
    assert c["cum_short"].tolist() == [0.0, 0.0, 3.0, 7.0]


def test_cumulative_splits_band_at_price_in_log_space():
    edges = np.array([90.0, 110.0])
    s = Snapshot(time=T0, price_edges=edges, long=np.array([10.0]), short=np.array([10.0]), price=100.0)
    frac_below = np.log(100 / 90) / np.log(110 / 90)
    c = cumulative(s)
    assert c["cum_long"].iloc[0] == pytest.approx(10 * frac_below)
    assert c["cum_short"].iloc[0] == pytest.approx(10 * (1 - frac_below))
    np.testing.assert_allclose(reachable(s, "long"), [10 * frac_below])


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), price=st.floats(75.0, 125.0))
def test_cumulative_is_monotone_and_totals_reachable(seed, price):
    rng = np.random.default_rng(seed)
    s = make(rng.random(1200) * 1e3, rng.random(1200) * 1e3, price=price)
    c = cumulative(s)
    below = c.loc[c["price_low"] < price]
    above = c.loc[c["price_high"] > price]
    assert below["cum_long"].is_monotonic_decreasing  # rows go up in price
    assert above["cum_short"].is_monotonic_increasing
    assert c["cum_long"].max() == pytest.approx(c["long"].sum())
    assert c["cum_short"].max() == pytest.approx(c["short"].sum())
    assert c["long"].sum() + c["short"].sum() <= s.long.sum() + s.short.sum() + 1e-6


def test_imbalance_values():
    edges = np.geomspace(80, 120, 401)
    c = np.sqrt(edges[:-1] * edges[1:])
    p = edges[200]  # price on a band edge
    long = np.where(c < p, 1.0, 0.0)
    short = np.where(c > p, 1.0, 0.0)
    s = Snapshot(time=T0, price_edges=edges, long=long * 3, short=short, price=p)
    # within 5 %: longs on log-width log(1/0.95), shorts on log(1.05)
    L = 3 * np.log(1 / 0.95) / np.diff(np.log(edges))[0]
    S = np.log(1.05) / np.diff(np.log(edges))[0]
    assert imbalance(s, within=0.05) == pytest.approx((L - S) / (L + S), rel=1e-6)
    with pytest.raises(ValueError, match="within"):
        imbalance(s, within=0.0)


def test_magnet_is_largest_within(two_sided):
    m = magnet(two_sided, within=0.07)
    assert m["price"] == pytest.approx(95.0, abs=0.3)  # 3e6 long beats 2e6 short at 104
    far = magnet(two_sided, within=0.2)
    assert far["price"] == pytest.approx(88.0, abs=0.3)
    assert two_sided.magnet(within=0.07)["price"] == m["price"]
    assert magnet(two_sided, within=0.01) is None


def test_bands_of_adjacent_clusters_do_not_overlap():
    # two bumps on a broad hump: half-prominence widths would both span the hump
    hump = bump(92.0, 5e7, width=0.04)
    long = hump + bump(95.0, 3e6, width=0.003) + bump(89.0, 3e6, width=0.003)
    cl = find_clusters(make(long, np.zeros_like(long)), min_prominence=0.0).sort_values("price")
    assert len(cl) >= 2
    lows, highs = cl["price_low"].to_numpy(), cl["price_high"].to_numpy()
    assert (lows[1:] >= highs[:-1] - 1e-9).all()
    total = float(cl["notional"].sum())
    assert total <= long[CENTERS < 100.0].sum() * (1 + 1e-9)
