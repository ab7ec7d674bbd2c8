"""Value ranges: prices and notionals beyond what a float32 heatmap cell holds are refused by column and bar
before the estimator changes; notionals below the limit stay finite."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import heatmap as lh
from heatmap.limits import MAX_NOTIONAL
from heatmap.market import Market, MarketDataError


@pytest.fixture(scope="module")
def market():
    return lh.synthetic_market(days=3, freq="1h", seed=1)


def _scaled(market: Market, price: float = 1.0, oi: float = 1.0) -> Market:
    df = market.frame.copy()
    for c in ("open", "high", "low", "close"):
        df[c] = df[c] * price
    df["open_interest"] = df["open_interest"] * oi
    return Market(df, check_units=False)  # implausible on purpose: the range check is under test


def test_prices_beyond_a_cell_are_refused_by_name(market):
    huge = _scaled(market, price=1e300 / float(market.frame["high"].max()))
    est = lh.Estimator(bins=200)
    with pytest.raises(
        MarketDataError,
        match=r"bars: high = [\d.]+e\+(299|300) \[quote\] at bar 2025-01-01 00:00:00\+00:00 exceeds the largest",
    ):
        est.update(huge)
    assert est.n_bars == 0 and est.grid is None
    rich = _scaled(
        market, oi=2 * MAX_NOTIONAL / float((market.frame["high"] * market.frame["open_interest"]).max())
    )
    with pytest.raises(MarketDataError, match=r"open_interest x high = .* exceeds the largest notional"):
        lh.estimate(rich, bins=200)


def test_large_but_holdable_notionals_stay_finite(market):
    big = _scaled(market, price=1e26 / float(market.frame["high"].max()), oi=1e4)
    hm = lh.estimate(big, bins=200)
    assert np.isfinite(hm.long).all() and np.isfinite(hm.short).all()
    assert float(hm.total.iloc[-1].sum()) > 0
    pd.testing.assert_index_equal(hm.times, lh.estimate(market, bins=200).times)


def test_one_streamed_bar_beyond_the_range_leaves_the_state(market):
    est = lh.Estimator(bins=200)
    est.update(market.iloc[:48])
    before = est.heatmap
    row = market.frame.iloc[48].copy()
    for c in ("open", "high", "low", "close"):
        row[c] = row[c] * 1e40
    with pytest.raises(MarketDataError, match=r"high = .* at bar 2025-01-03 00:00:00\+00:00 exceeds"):
        est.update(row)
    assert est.n_bars == 48
    np.testing.assert_array_equal(est.heatmap.long, before.long)
    est.update(market.frame.iloc[48])  # the next valid bar continues exactly
    assert est.n_bars == 49


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (None, "9999-12-31", r"end: '9999-12-31' is outside the range of times a market can hold"),
        ("1500-01-01", None, r"start: '1500-01-01' is outside the range of times a market can hold"),
    ],
)
def test_window_bounds_beyond_the_datetime_range_are_named(market, start, end, message):
    from heatmap.market import time_bounds

    with pytest.raises(ValueError, match=message):
        time_bounds(start, end)
    with pytest.raises(ValueError, match=message):
        market.slice(start, end)


def test_command_line_window_beyond_the_datetime_range_is_one_line(tmp_path, capsys):
    from pathlib import Path

    from heatmap.cli import main

    bars = Path(__file__).resolve().parent / "fixtures" / "render" / "bars.csv"
    out = tmp_path / "map.png"
    assert (
        main(["render", "--candles", str(bars), "--bins", "20", "--to", "9999-12-31", "--out", str(out)]) == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --to '9999-12-31'")
    assert not any(tmp_path.iterdir())
