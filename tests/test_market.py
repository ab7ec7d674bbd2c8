"""Tests for heatmap.market: validation rules, unit conversion, alignment without look-ahead, slicing, resample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heatmap.market import MAX_ABS_FUNDING, Market, MarketDataError


def bars(n: int = 24, freq: str = "1h", start: str = "2025-01-01", **extra: object) -> pd.DataFrame:
    """A valid random-walk bar frame."""
    rng = np.random.default_rng(0)
    idx = pd.date_range(start, periods=n, freq=freq, tz="UTC")
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.r_[100.0, close[:-1]]
    high = np.maximum(open_, close) * 1.005
    low = np.minimum(open_, close) * 0.995
    df = pd.DataFrame(
        {
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "open_interest": np.linspace(1000, 1100, n),
        },
        index=idx,
    )
    for k, v in extra.items():
        df[k] = v
    return df


# ---------------------------------------------------------------------------------------------------------------
# construction and accessors
# ---------------------------------------------------------------------------------------------------------------


def test_valid_frame_round_trips_and_accessors():
    df = bars(24, funding_rate=0.0, volume=5.0, taker_buy_volume=2.0)
    m = Market.from_frame(df, symbol="BTCUSDT", venue="binance")
    assert len(m) == 24
    assert m.freq == pd.Timedelta("1h")
    assert m.symbol == "BTCUSDT" and m.venue == "binance"
    assert str(m.index.tz) == "UTC"
    assert m.has_funding and m.has_taker and not m.has_mark
    np.testing.assert_array_equal(m.close.to_numpy(), df["close"].to_numpy())
    np.testing.assert_array_equal(m.array("open_interest"), df["open_interest"].to_numpy())
    assert m.start == df.index[0] and m.end == df.index[-1] + pd.Timedelta("1h")
    assert "BTCUSDT @ binance" in repr(m) and "24 bars x 1h" in repr(m)


def test_frame_is_a_copy_and_array_is_read_only():
    m = Market(bars(5))
    f = m.frame
    f.iloc[0, 0] = -1.0
    assert m.frame.iloc[0, 0] > 0
    a = m.array("close")
    with pytest.raises(ValueError, match="read-only"):
        a[0] = 1.0


def test_input_frame_not_modified_and_columns_canonical_order():
    df = bars(5, volume=1.0)[["volume", "close", "open_interest", "low", "high", "open"]]
    before = df.copy()
    m = Market(df)
    pd.testing.assert_frame_equal(df, before)
    assert m.columns == ["open", "high", "low", "close", "open_interest", "volume"]


def test_non_utc_timezone_is_converted():
    df = bars(5)
    df.index = df.index.tz_convert("Europe/Berlin")
    m = Market(df)
    assert str(m.index.tz) == "UTC"
    assert m.index[0] == pd.Timestamp("2025-01-01", tz="UTC")


def test_naive_index_error_unless_assume_utc():
    df = bars(5)
    df.index = df.index.tz_localize(None)
    with pytest.raises(MarketDataError, match="naive"):
        Market(df)
    m = Market(df, assume_utc=True)
    assert m.index[0] == pd.Timestamp("2025-01-01", tz="UTC")


def test_market_data_error_is_value_error():
    assert issubclass(MarketDataError, ValueError)


def test_one_bar_market_needs_freq():
    with pytest.raises(MarketDataError, match="pass freq="):
        Market(bars(1))
    assert Market(bars(1), freq="4h").freq == pd.Timedelta("4h")


def test_time_col_and_unit_conversion():
    df = bars(4).reset_index(names="t")
    df["open_interest"] = df["close"] * 10.0  # notional: 10 coins at every bar
    df["funding_rate"] = [0.01, 0.0, -0.02, 0.0]  # percent
    m = Market.from_frame(df, time_col="t", oi_unit="quote", funding_unit="percent")
    np.testing.assert_allclose(m.array("open_interest"), 10.0)
    np.testing.assert_allclose(m.array("funding_rate"), [1e-4, 0, -2e-4, 0])


def test_funding_nan_means_no_settlement():
    df = bars(4, funding_rate=[np.nan, 0.0001, np.nan, np.nan])
    m = Market(df)
    np.testing.assert_array_equal(m.array("funding_rate"), [0, 0.0001, 0, 0])


def test_missing_funding_column_gives_zero_series():
    m = Market(bars(3))
    assert not m.has_funding
    assert (m.funding_rate == 0).all()
    with pytest.raises(AttributeError, match="no 'volume' column"):
        _ = m.volume


# ---------------------------------------------------------------------------------------------------------------
# every validation rule, with its message
# ---------------------------------------------------------------------------------------------------------------


def test_missing_required_columns_lists_what_exists():
    df = bars(3).drop(columns=["open_interest", "low"])
    with pytest.raises(
        MarketDataError, match=r"missing required columns \['low', 'open_interest'\].*has \['open'"
    ):
        Market(df)


def test_unknown_columns_error_or_drop():
    df = bars(3, volume_usd=1.0)
    with pytest.raises(MarketDataError, match=r"unknown columns \['volume_usd'\].*extra_columns='drop'"):
        Market(df)
    assert "volume_usd" not in Market(df, extra_columns="drop").columns


def test_partial_mark_columns_rejected():
    df = bars(3, mark_close=100.0)
    with pytest.raises(MarketDataError, match="mark price needs all of"):
        Market(df)


def test_non_datetime_index():
    df = bars(3).reset_index(drop=True)
    with pytest.raises(MarketDataError, match="must be a DatetimeIndex"):
        Market(df)


def test_non_numeric_column():
    df = bars(3)
    df["close"] = df["close"].astype(str)
    with pytest.raises(MarketDataError, match=r"\['close'\] are not numeric"):
        Market(df)


def test_duplicate_column_names():
    df = bars(3)
    df = pd.concat([df, df[["close"]] * 2], axis=1)  # which 'close' is meant is unknowable
    with pytest.raises(MarketDataError, match=r"columns \['close'\] appear more than once"):
        Market(df)
    with pytest.raises(MarketDataError, match=r"columns \['close'\] appear more than once"):
        Market.from_frame(df)
    from heatmap.engine import Estimator

    est = Estimator(bins=20)
    with pytest.raises(MarketDataError, match=r"columns \['close'\] appear more than once"):
        est.update(df)
    assert est.n_bars == 0


def test_duplicate_index():
    df = bars(5)
    df = pd.concat([df.iloc[:3], df.iloc[2:]])
    with pytest.raises(
        MarketDataError, match=r"duplicate timestamps at 2025-01-01 02:00:00\+00:00 \(1 rows\)"
    ):
        Market(df)


def test_unsorted_index():
    df = bars(5).iloc[[0, 2, 1, 3, 4]]
    with pytest.raises(MarketDataError, match=r"not sorted .* at 2025-01-01 01:00:00\+00:00 \(1 rows\)"):
        Market(df)


def test_gap_in_index():
    df = bars(10).drop(pd.Timestamp("2025-01-01 04:00", tz="UTC"))
    with pytest.raises(
        MarketDataError, match=r"gaps \(1 missing 1h bars\) before 2025-01-01 05:00:00\+00:00.*ffill"
    ):
        Market(df)


def test_irregular_spacing():
    df = bars(4, freq="1h")
    df.index = df.index[:3].append(pd.DatetimeIndex([df.index[3] - pd.Timedelta("30min")]))
    with pytest.raises(MarketDataError, match="irregular spacing"):
        Market(df, freq="1h")


def test_high_below_low():
    df = bars(6)
    df.iloc[[1, 3], df.columns.get_loc("high")] = df["low"].iloc[[1, 3]] - 1
    with pytest.raises(
        MarketDataError, match=r"column 'high': high < low at 2025-01-01 01:00.*03:00.*\(2 rows\)"
    ):
        Market(df)


@pytest.mark.parametrize("col", ["open", "close"])
def test_open_close_outside_range(col):
    df = bars(6)
    df.iloc[2, df.columns.get_loc(col)] = df["high"].iloc[2] * 1.01
    with pytest.raises(
        MarketDataError, match=rf"column '{col}': {col} outside \[low, high\] at 2025-01-01 02:00"
    ):
        Market(df)


def test_nan_price_and_non_positive_price():
    df = bars(6)
    df.iloc[1, df.columns.get_loc("low")] = np.nan
    with pytest.raises(MarketDataError, match=r"column 'low': NaN or infinite price at 2025-01-01 01:00"):
        Market(df)
    df = bars(6)
    df.iloc[2, :4] = [0.0, 0.0, 0.0, 0.0]
    with pytest.raises(MarketDataError, match=r"column 'open': non-positive price"):
        Market(df)


def test_negative_and_nan_open_interest():
    df = bars(6)
    df.iloc[4, df.columns.get_loc("open_interest")] = -1.0
    with pytest.raises(MarketDataError, match=r"column 'open_interest': negative open interest .* 04:00"):
        Market(df)
    df = bars(6)
    df.iloc[5, df.columns.get_loc("open_interest")] = np.nan
    with pytest.raises(
        MarketDataError, match=r"column 'open_interest': NaN or infinite open interest .* 05:00"
    ):
        Market(df)


def test_absurd_funding_hints_percent():
    df = bars(6, funding_rate=0.0)
    df.iloc[2, df.columns.get_loc("funding_rate")] = 0.01 * 100  # 1 % given as 1.0
    with pytest.raises(MarketDataError, match=r"absurd funding rate.*funding_unit='percent'"):
        Market(df)
    df.iloc[2, df.columns.get_loc("funding_rate")] = MAX_ABS_FUNDING  # boundary allowed
    Market(df)


def test_negative_volume_and_taker_above_volume():
    df = bars(4, volume=1.0, taker_buy_volume=0.5)
    df.iloc[1, df.columns.get_loc("volume")] = -1
    with pytest.raises(MarketDataError, match="column 'volume': NaN, infinite or negative volume"):
        Market(df)
    df = bars(4, volume=1.0, taker_buy_volume=0.5)
    df.iloc[3, df.columns.get_loc("taker_buy_volume")] = 2.0
    with pytest.raises(MarketDataError, match="taker_buy_volume > volume at 2025-01-01 03:00"):
        Market(df)


def test_mark_price_rules():
    df = bars(4)
    for c in ("open", "high", "low", "close"):
        df[f"mark_{c}"] = df[c]
    assert Market(df).has_mark
    df.iloc[0, df.columns.get_loc("mark_high")] = df["mark_low"].iloc[0] - 1
    with pytest.raises(MarketDataError, match="column 'mark_high': mark_high < mark_low"):
        Market(df)


def test_many_offenders_shows_five_and_count():
    df = bars(20)
    df["open_interest"] = -1.0
    with pytest.raises(MarketDataError) as info:
        Market(df)
    msg = str(info.value)
    assert msg.count("2025-01-01") == 5
    assert "(20 rows)" in msg


def test_all_problems_reported_together():
    df = bars(6)
    df.iloc[1, df.columns.get_loc("open_interest")] = -1.0
    df.iloc[2, df.columns.get_loc("high")] = 1.0
    with pytest.raises(MarketDataError) as info:
        Market(df)
    assert len(info.value.problems) >= 2


def test_option_validation():
    with pytest.raises(ValueError, match="fill_gaps='bfill'"):
        Market(bars(3), fill_gaps="bfill")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="oi_unit='usd'"):
        Market.from_frame(bars(3), oi_unit="usd")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="funding_unit='bps'"):
        Market.from_frame(bars(3), funding_unit="bps")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------------------
# explicit gap filling
# ---------------------------------------------------------------------------------------------------------------


def test_fill_gaps_ffill():
    df = bars(8, volume=3.0, funding_rate=0.0001, long_short_ratio=1.5)
    gone = df.index[[3, 4]]
    m = Market(df.drop(gone), fill_gaps="ffill")
    assert len(m) == 8
    f = m.frame
    prev_close = df["close"].iloc[2]
    for t in gone:
        assert (f.loc[t, ["open", "high", "low", "close"]] == prev_close).all()
        assert f.loc[t, "open_interest"] == df["open_interest"].iloc[2]
        assert f.loc[t, "volume"] == 0 and f.loc[t, "funding_rate"] == 0
        assert f.loc[t, "long_short_ratio"] == 1.5
    # untouched rows stay identical
    pd.testing.assert_frame_equal(f.drop(gone), Market(df).frame.drop(gone))


# ---------------------------------------------------------------------------------------------------------------
# slicing
# ---------------------------------------------------------------------------------------------------------------


def test_time_slicing_and_iloc():
    m = Market(bars(72), symbol="X")
    day2 = m["2025-01-02"]
    assert len(day2) == 24 and day2.index[0] == pd.Timestamp("2025-01-02", tz="UTC")
    assert day2.symbol == "X" and day2.freq == m.freq
    s = m["2025-01-01 12:00":"2025-01-02 11:00"]
    assert len(s) == 24
    assert m.slice(pd.Timestamp("2025-01-03", tz="UTC")).index[0] == pd.Timestamp("2025-01-03", tz="UTC")
    assert m.slice(end="2025-01-01 05:00").index[-1] == pd.Timestamp("2025-01-01 05:00", tz="UTC")
    sub = m.iloc[10:20]
    assert len(sub) == 10 and sub.index[0] == m.index[10]
    pd.testing.assert_series_equal(m["close"], m.frame["close"])
    with pytest.raises(TypeError, match="iloc"):
        m[1:3]
    with pytest.raises(ValueError, match="step"):
        m.iloc[::2]


def test_slice_accepts_non_utc_bounds():
    m = Market(bars(48))
    s = m.slice(pd.Timestamp("2025-01-01 02:00", tz="Europe/Berlin"), None)  # = 01:00 UTC
    assert s.index[0] == pd.Timestamp("2025-01-01 01:00", tz="UTC")


# ---------------------------------------------------------------------------------------------------------------
# resample
# ---------------------------------------------------------------------------------------------------------------


def test_resample_matches_independent_aggregation():
    n = 48
    df = bars(n, start="2025-01-01 02:00", volume=np.arange(1, n + 1, dtype=float), taker_buy_volume=0.5)
    df["funding_rate"] = 0.0
    df.iloc[6::8, df.columns.get_loc("funding_rate")] = 1e-4  # 08:00, 16:00, 00:00 settlements
    for c in ("open", "high", "low", "close"):
        df[f"mark_{c}"] = df[c]
    m = Market(df)
    r = m.resample("4h")
    # 02:00 and 03:00 form a partial 00:00 bar -> dropped; bars start 04:00
    assert r.index[0] == pd.Timestamp("2025-01-01 04:00", tz="UTC")
    assert r.freq == pd.Timedelta("4h")
    f = r.frame
    for k, t in enumerate(r.index):
        chunk = df.loc[t : t + pd.Timedelta("3h")]
        assert len(chunk) == 4
        assert f["open"].iloc[k] == chunk["open"].iloc[0]
        assert f["high"].iloc[k] == chunk["high"].max()
        assert f["low"].iloc[k] == chunk["low"].min()
        assert f["close"].iloc[k] == chunk["close"].iloc[-1]
        assert f["mark_close"].iloc[k] == chunk["close"].iloc[-1]
        assert f["open_interest"].iloc[k] == chunk["open_interest"].iloc[-1]
        assert f["volume"].iloc[k] == chunk["volume"].sum()
        assert f["funding_rate"].iloc[k] == pytest.approx(chunk["funding_rate"].sum())
    # full coarse bars only; sums over the covered span preserved
    covered = df.loc[r.index[0] : r.index[-1] + pd.Timedelta("3h")]
    assert f["volume"].sum() == covered["volume"].sum()
    with pytest.raises(MarketDataError, match="not fully covered"):
        m.resample("4h", partial="error")
    with pytest.raises(ValueError, match="whole multiple"):
        m.resample("90min")


def test_resampled_market_passes_validation():
    r = Market(bars(48, volume=1.0)).resample("8h")
    Market(r.frame, freq=r.freq)  # re-validating raises nothing


# ---------------------------------------------------------------------------------------------------------------
# from_frames alignment
# ---------------------------------------------------------------------------------------------------------------


def test_from_frames_oi_asof_bar_close_and_funding_in_bar():
    candles = bars(6, freq="1h")[["open", "high", "low", "close"]]
    idx = candles.index
    # OI observed every 5 minutes from 00:00 to 06:00 with value = minutes since start
    t = pd.date_range("2025-01-01", "2025-01-01 06:00", freq="5min", tz="UTC")
    oi = pd.Series((t - t[0]).total_seconds() / 60, index=t)
    funding = pd.Series(
        [1e-4, 2e-4, 3e-4],
        index=pd.DatetimeIndex(
            ["2025-01-01 01:00", "2025-01-01 01:59:59.999", "2025-01-01 04:00:00.008"], tz="UTC"
        ),
    )
    m = Market.from_frames(candles, open_interest=oi, funding=funding)
    # bar at t takes OI observed at its close t+1h
    np.testing.assert_array_equal(m.array("open_interest"), [60, 120, 180, 240, 300, 360])
    # settlements at s go to the bar [t, t+1h) containing s
    np.testing.assert_allclose(m.array("funding_rate"), [0, 3e-4, 0, 0, 3e-4, 0])
    assert m.index.equals(idx)


def test_from_frames_settlement_on_boundary_goes_to_next_bar():
    candles = bars(3, freq="8h")[["open", "high", "low", "close"]]
    oi = pd.Series(1.0, index=candles.index + pd.Timedelta("8h"))
    fr = pd.Series([0.001], index=[candles.index[1]])  # exactly at bar 1 open = bar 0 close
    m = Market.from_frames(candles, open_interest=oi, funding=fr)
    np.testing.assert_array_equal(m.array("funding_rate"), [0, 0.001, 0])


def test_from_frames_intersection_trims_edges_and_errors_inside():
    candles = bars(10)[["open", "high", "low", "close"]]
    oi = pd.Series(5.0, index=candles.index[3:8] + pd.Timedelta("1h"))
    m = Market.from_frames(candles, open_interest=oi)
    assert m.index[0] == candles.index[3] and m.index[-1] == candles.index[7]
    with pytest.raises(MarketDataError, match="open_interest"):
        Market.from_frames(candles, open_interest=oi, span="candles")
    holey = oi.drop(oi.index[2])
    with pytest.raises(
        MarketDataError, match=r"no observation younger than one bar at the bar close.* at 2025-01-01 05:00"
    ):
        Market.from_frames(candles, open_interest=holey)


def test_from_frames_stale_oi_tolerance():
    candles = bars(4, freq="1h")[["open", "high", "low", "close"]]
    oi = pd.Series([1.0, 2.0], index=pd.DatetimeIndex(["2025-01-01 01:00", "2025-01-01 02:00"], tz="UTC"))
    # bars 2 and 3 close at 03:00 and 04:00: observation at 02:00 is 1h and 2h old
    m = Market.from_frames(candles, open_interest=oi, oi_max_age="3h", span="candles")
    np.testing.assert_array_equal(m.array("open_interest"), [1, 2, 2, 2])
    # default: the observation must be made inside (open, close]; bars 2 and 3 have none and are trimmed
    m = Market.from_frames(candles, open_interest=oi)
    assert len(m) == 2


def test_from_frames_units_mark_and_metrics_frame():
    candles = bars(4)[["open", "high", "low", "close"]].assign(volume=2.0, taker_buy_volume=1.0, junk="x")
    obs = pd.DataFrame(
        {"open_interest": candles["close"].to_numpy() * 3, "long_short_ratio": 1.2},
        index=candles.index + candles.index.freq,
    )
    mark = candles[["open", "high", "low", "close"]] * 1.0001
    fr = pd.Series([0.01], index=[candles.index[2]])
    m = Market.from_frames(
        candles, open_interest=obs, funding=fr, mark=mark, oi_unit="quote", funding_unit="percent"
    )
    np.testing.assert_allclose(m.array("open_interest"), 3.0)
    np.testing.assert_allclose(m.array("funding_rate"), [0, 0, 1e-4, 0])
    assert m.has_mark and m.has_taker and "long_short_ratio" in m.columns
    np.testing.assert_allclose(m.array("mark_close"), candles["close"] * 1.0001)


def test_from_frames_funding_percent_guard():
    candles = bars(4)[["open", "high", "low", "close"]]
    oi = pd.Series(1.0, index=candles.index + pd.Timedelta("1h"))
    fr = pd.Series([0.1], index=[candles.index[1]])  # 0.1 % given as fraction: 10 %
    with pytest.raises(MarketDataError, match="absurd funding"):
        Market.from_frames(candles, open_interest=oi, funding=fr)


_hours = st.integers(min_value=0, max_value=23)


@settings(max_examples=60, deadline=None)
@given(
    cut=st.integers(min_value=1, max_value=23),
    oi_seed=st.integers(0, 2**16),
    f_seed=st.integers(0, 2**16),
    oi_step=st.sampled_from(["5min", "15min", "1h", "37min"]),
    f_step=st.sampled_from(["1h", "4h", "8h", "3h17min"]),
)
def test_from_frames_no_look_ahead(cut, oi_seed, f_seed, oi_step, f_step):
    """Changing OI/funding observed after a bar's close never changes that bar (or any earlier one)."""
    candles = bars(24, freq="1h")[["open", "high", "low", "close"]]
    t_oi = pd.date_range("2024-12-31 23:00", "2025-01-02", freq=oi_step, tz="UTC")
    t_f = pd.date_range("2024-12-31 20:00:00.005", "2025-01-02", freq=f_step, tz="UTC")
    r1, r2 = np.random.default_rng(oi_seed), np.random.default_rng(f_seed)
    oi = pd.Series(r1.uniform(1, 10, len(t_oi)), index=t_oi)
    fr = pd.Series(r2.uniform(-1e-3, 1e-3, len(t_f)), index=t_f)
    kw = {"oi_max_age": "2h", "span": "candles"}
    base = Market.from_frames(candles, open_interest=oi, funding=fr, **kw)
    # the bar 'cut-1' closes at t_close; perturb everything observed strictly after it
    t_close = candles.index[cut - 1] + pd.Timedelta("1h")
    oi2, fr2 = oi.copy(), fr.copy()
    oi2[oi2.index > t_close] = r1.uniform(1, 10, int((oi2.index > t_close).sum()))
    fr2[fr2.index >= t_close] = r2.uniform(-1e-3, 1e-3, int((fr2.index >= t_close).sum()))
    other = Market.from_frames(candles, open_interest=oi2, funding=fr2, **kw)
    pd.testing.assert_frame_equal(base.frame.iloc[:cut], other.frame.iloc[:cut])


def test_from_frames_requires_oi():
    candles = bars(4)[["open", "high", "low", "close"]]
    with pytest.raises(MarketDataError, match="open_interest: not given"):
        Market.from_frames(candles)


def test_equals_and_with_columns():
    m = Market(bars(5))
    assert m.equals(Market(bars(5)))
    m2 = m.with_columns(funding_rate=0.0001)
    assert m2.has_funding and not m.equals(m2)
    with pytest.raises(MarketDataError, match="absurd"):
        m.with_columns(funding_rate=1.0)


def test_pickle_round_trip_and_lazy_export():
    import pickle

    import heatmap

    m = Market(bars(6, funding_rate=0.0), symbol="X", venue="v")
    assert pickle.loads(pickle.dumps(m)).equals(m)
    assert heatmap.Market is Market and heatmap.MarketDataError is MarketDataError


def test_from_frames_converts_other_time_zones_of_observations():
    candles = bars(4)[["open", "high", "low", "close"]]
    oi = pd.Series(
        [1.0, 2.0, 3.0, 4.0], index=(candles.index + pd.Timedelta("1h")).tz_convert("America/New_York")
    )
    m = Market.from_frames(candles, open_interest=oi)
    np.testing.assert_array_equal(m.array("open_interest"), [1, 2, 3, 4])
    naive = pd.Series([1.0], index=pd.DatetimeIndex(["2025-01-01 01:00"]))
    with pytest.raises(MarketDataError, match="naive"):
        Market.from_frames(candles, open_interest=naive)


def test_empty_slice_keeps_frequency():
    m = Market(bars(5))
    e = m["2026-01-01":"2026-02-01"]
    assert len(e) == 0 and e.freq == m.freq
    assert "0 bars" in repr(e)
