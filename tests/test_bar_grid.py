"""Bar-grid inference: a mistimed bar is named (with how far off it is), never shrinks the bar length, and never
draws the advice to fill gaps that filling would invent."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from heatmap.market import Market, MarketDataError, validate_arrays


def _bars(n: int = 72, freq: str = "1h") -> pd.DataFrame:
    idx = pd.date_range("2025-01-01", periods=n, freq=freq, tz="UTC")
    return pd.DataFrame(
        {"open": 100.0, "high": 101.0, "low": 99.0, "close": 100.0, "open_interest": 1.0}, index=idx
    )


def _move(df: pd.DataFrame, row: int, by: str) -> pd.DataFrame:
    out = df.copy()
    idx = out.index.tolist()
    idx[row] = idx[row] + pd.Timedelta(by)
    out.index = pd.DatetimeIndex(idx)
    return out


@pytest.mark.parametrize("fill_gaps", [None, "ffill"])
def test_half_hour_off_keeps_the_hourly_bar_and_names_the_row(fill_gaps):
    df = _move(_bars(), 5, "30min")
    with pytest.raises(MarketDataError) as err:
        Market(df, fill_gaps=fill_gaps)
    msg = str(err.value)
    assert (
        "1 timestamp off the 1h bar grid, first 2025-01-01 05:30:00+00:00 (30min after the bar opening at "
        "2025-01-01 05:00:00+00:00)" in msg
    )
    assert "30min bars" not in msg and "missing" not in msg  # no 30-min bar length, no invented bars
    assert "pass fill_gaps='ffill'" not in msg
    assert len(df) == 72  # the input is untouched


def test_one_minute_late_is_one_named_row():
    df = _move(_bars(), 5, "1min")
    with pytest.raises(
        MarketDataError,
        match=r"1 timestamp off the 1h bar grid, first 2025-01-01 05:01:00\+00:00 \(1min after the bar opening "
        r"at 2025-01-01 05:00:00\+00:00\), all at 2025-01-01 05:01:00\+00:00 \(1 rows\)",
    ) as err:
        Market(df)
    assert "irregular" in str(err.value) and "118" not in str(err.value)
    early = _move(_bars(), 5, "-1min")
    with pytest.raises(
        MarketDataError, match=r"04:59:00\+00:00 \(1min before the bar opening at 2025-01-01 05:00"
    ):
        Market(early)


def test_explicit_freq_and_first_row_off_grid():
    df = _move(_bars(10), 0, "10min")
    with pytest.raises(MarketDataError, match=r"first 2025-01-01 00:10:00\+00:00 \(10min after"):
        Market(df, freq="1h")
    t = _bars(10).index.as_unit("ns").asi8.copy()
    t[3] += 60 * 10**9
    arrays = {
        c: np.full(10, v)
        for c, v in dict(open=100.0, high=101.0, low=99.0, close=100.0, open_interest=1.0).items()
    }
    with pytest.raises(MarketDataError, match=r"first 2025-01-01 03:01:00\+00:00"):
        validate_arrays(arrays, t)


def test_real_gaps_still_suggest_ffill_and_fill_exactly():
    df = _bars(12).drop(pd.Timestamp("2025-01-01 04:00", tz="UTC"))
    with pytest.raises(
        MarketDataError, match=r"gaps \(1 missing 1h bars\) before 2025-01-01 05:00.*fill_gaps='ffill'"
    ):
        Market(df)
    assert len(Market(df, fill_gaps="ffill")) == 12


def test_gaps_and_mistimed_rows_are_told_apart():
    df = _move(_bars(12).drop(pd.Timestamp("2025-01-01 08:00", tz="UTC")), 3, "5min")
    with pytest.raises(MarketDataError) as err:
        Market(df)
    msg = str(err.value)
    assert "first 2025-01-01 03:05:00+00:00" in msg
    assert "gaps (1 missing 1h bars) before 2025-01-01 09:00:00+00:00" in msg
    assert "once the off-grid rows are fixed" in msg


def test_gappy_data_keeps_the_smallest_step():
    # 4h bars with most bars present: bar length 4h; a frame where no step is the majority keeps the smallest
    df = _bars(10, "4h").iloc[[0, 1, 3, 4, 6, 9]]
    with pytest.raises(MarketDataError, match=r"gaps \(4 missing 4h bars\)"):
        Market(df)


@pytest.mark.parametrize("change", ["off_grid", "missing", "nan"])
def test_mark_kline_missing_inside_the_span_is_named(change):
    bars = _bars(24)
    candles, oi = bars.drop(columns=["open_interest"]), bars["open_interest"]
    mark = candles[["open", "high", "low", "close"]].copy()
    if change == "off_grid":
        mark = _move(mark, 5, "1min")
    elif change == "missing":
        mark = mark.drop(mark.index[5])
    else:
        mark.iloc[5, 0] = np.nan
    with pytest.raises(
        MarketDataError,
        match=r"'mark': no mark-price kline opening with the candle bar .* at 2025-01-01 05:00",
    ):
        Market.from_frames(candles, open_interest=oi, mark=mark)
