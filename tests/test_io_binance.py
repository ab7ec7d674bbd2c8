"""Binance public-data readers on fixture files in the exact published layouts (csv, zip, header or not, ms/us)."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from heatmap.io._files import epoch_to_utc, expand_paths
from heatmap.io.binance import (
    read_binance,
    read_binance_funding,
    read_binance_klines,
    read_binance_metrics,
    symbol_from_filename,
)
from heatmap.market import Market, MarketDataError

FIX = Path(__file__).resolve().parent / "fixtures" / "binance"
T0 = pd.Timestamp("2025-01-01", tz="UTC")
KLINES = str(FIX / "BTCUSDT-1h-2025-01-0*")
METRICS = str(FIX / "BTCUSDT-metrics-2025-01-0*")
FUNDING = FIX / "BTCUSDT-fundingRate-2025-01.csv"


def oi(minute: int) -> float:
    """The fixture's open interest [BTC] at a minute since 2025-01-01 00:00 UTC (see make_fixtures.py)."""
    return 80000 + 0.5 * minute


def test_epoch_units_by_magnitude():
    t = epoch_to_utc([1735689600, 1735689600000, 1735689600000000, 1735689600000000000])
    assert (t == T0).all()
    # sub-millisecond digits survive (no float rounding)
    assert epoch_to_utc([1750713736477])[0] == pd.Timestamp("2025-06-23 21:22:16.477", tz="UTC")
    assert epoch_to_utc([1735689600123456])[0].microsecond == 123456


def test_expand_paths_glob_list_and_missing():
    assert [p.name for p in expand_paths(KLINES)] == [
        "BTCUSDT-1h-2025-01-01.csv",
        "BTCUSDT-1h-2025-01-02.zip",
    ]
    with pytest.raises(FileNotFoundError, match="no file matches"):
        expand_paths(str(FIX / "nothing-*.csv"))
    with pytest.raises(FileNotFoundError, match="no such file"):
        expand_paths(FIX / "nothing.csv")
    with pytest.raises(ValueError, match="empty list"):
        expand_paths([])


def test_symbol_from_filename():
    assert symbol_from_filename("x/BTCUSDT-1h-2025-01-01.zip") == "BTCUSDT"
    assert symbol_from_filename("BTCUSD_PERP-liquidationSnapshot-2025-01-01.csv") == "BTCUSD_PERP"
    assert symbol_from_filename("klines.csv") is None


def test_klines_csv_with_header_and_zip_without_header_in_microseconds():
    k = read_binance_klines(KLINES)
    assert len(k) == 48
    assert k.index.equals(pd.date_range(T0, periods=48, freq="1h", name="time"))
    first = k.iloc[0]
    assert (first["open"], first["high"], first["low"], first["close"]) == (
        94000.0,
        94055.5,
        93955.6,
        94000.0,
    )
    assert first["volume"] == 1000.0 and first["taker_buy_volume"] == 480.0 and first["count"] == 40000
    assert first["close_time"] == T0 + pd.Timedelta("1h") - pd.Timedelta("1ms")
    # the zipped day is in microseconds: its close_time keeps the extra digits
    assert k["close_time"].iloc[24] == T0 + pd.Timedelta("25h") - pd.Timedelta("1us")


def test_klines_list_equals_glob_and_header_is_optional(tmp_path):
    files = sorted(FIX.glob("BTCUSDT-1h-2025-01-0*"))
    pd.testing.assert_frame_equal(read_binance_klines(files), read_binance_klines(KLINES))
    # the same CSV without its header row reads identically
    text = (FIX / "BTCUSDT-1h-2025-01-01.csv").read_text().split("\n", 1)[1]
    (tmp_path / "BTCUSDT-1h-2025-01-01.csv").write_text(text)
    pd.testing.assert_frame_equal(
        read_binance_klines(tmp_path / "BTCUSDT-1h-2025-01-01.csv"), read_binance_klines(files[0])
    )
    # and a zip with a header reads like the csv
    with zipfile.ZipFile(tmp_path / "h.zip", "w") as zf:
        zf.write(files[0], "BTCUSDT-1h-2025-01-01.csv")
    pd.testing.assert_frame_equal(read_binance_klines(tmp_path / "h.zip"), read_binance_klines(files[0]))


def test_klines_duplicates_error_or_drop():
    f = FIX / "BTCUSDT-1h-2025-01-01.csv"
    with pytest.raises(MarketDataError, match=r"24 exact duplicate rows .*duplicates='drop'"):
        read_binance_klines([f, f])
    assert len(read_binance_klines([f, f], duplicates="drop")) == 24


def test_klines_conflicting_rows_and_bad_layout(tmp_path):
    lines = (FIX / "BTCUSDT-1h-2025-01-01.csv").read_text().splitlines()
    changed = lines[1].replace("94055.5", "94056.5")
    (tmp_path / "a.csv").write_text("\n".join([*lines[:2], changed]) + "\n")
    with pytest.raises(MarketDataError, match="share an open time with different values"):
        read_binance_klines(tmp_path / "a.csv")
    (tmp_path / "b.csv").write_text("1735689600000,1,2,3\n")
    with pytest.raises(MarketDataError, match="expected 12 columns"):
        read_binance_klines(tmp_path / "b.csv")
    (tmp_path / "c.csv").write_text(lines[1].replace("94055.5", "abc") + "\n")
    with pytest.raises(MarketDataError, match=r"column 'high' has 1 non-numeric values, e.g. \['abc'\]"):
        read_binance_klines(tmp_path / "c.csv")


def test_metrics_csv_and_zip():
    mt = read_binance_metrics(METRICS)
    assert len(mt) == 576
    assert mt.index[0] == T0 and mt.index[-1] == T0 + pd.Timedelta("47h55min")
    assert mt.loc[T0 + pd.Timedelta("1h"), "open_interest"] == oi(60)
    assert mt.loc[T0 + pd.Timedelta("25h"), "open_interest"] == oi(1500)
    assert mt["long_short_ratio"].iloc[1] == pytest.approx(1.501)
    assert (mt["symbol"] == "BTCUSDT").all()


def test_funding_csv_and_zip_identical():
    a = read_binance_funding(FUNDING)
    b = read_binance_funding(FIX / "BTCUSDT-fundingRate-2025-01.zip")
    pd.testing.assert_frame_equal(a, b)
    assert a["funding_rate"].tolist() == [0.0001, 0.00012345, -0.00005, 0.0003, 0.0001, 0.000075]
    assert a.index[1] == T0 + pd.Timedelta("8h") + pd.Timedelta("4ms")
    assert (a["funding_interval_hours"] == 8).all()


def test_read_binance_builds_aligned_market():
    m = read_binance(
        klines=KLINES, metrics=METRICS, funding=FUNDING, mark=FIX / "BTCUSDT-markPriceKlines-1h-2025-01.csv"
    )
    assert isinstance(m, Market)
    assert m.symbol == "BTCUSDT" and m.venue == "binance"
    assert len(m) == 48 and m.freq == pd.Timedelta("1h")
    assert m.has_mark and m.has_funding and m.has_taker
    # OI of bar k = observation at its close (k+1)h; the last bar takes 23:55 (5 minutes before its close)
    expected = [oi(60 * (k + 1)) for k in range(47)] + [oi(2875)]
    np.testing.assert_array_equal(m.array("open_interest"), expected)
    # settlements at 00:00, 08:00.004, 16:00.008, 24:00, 32:00.004, 40:00.008 -> bars 0, 8, 16, 24, 32, 40
    fr = m.array("funding_rate")
    assert np.flatnonzero(fr).tolist() == [0, 8, 16, 24, 32, 40]
    assert fr[8] == 0.00012345
    np.testing.assert_allclose(m.array("mark_close") - m.array("close"), 1.5, atol=1e-9)
    assert m.array("long_short_ratio")[0] == pytest.approx(
        1.5 + 0.001 * 12
    )  # 01:00 row is the 13th of the day


def test_from_binance_classmethod_delegates():
    a = Market.from_binance(klines=KLINES, metrics=METRICS, funding=FUNDING)
    b = read_binance(klines=KLINES, metrics=METRICS, funding=FUNDING)
    assert a.equals(b)
    assert not a.has_mark


def test_read_binance_needs_open_interest():
    with pytest.raises(MarketDataError, match="open_interest: not given"):
        read_binance(klines=KLINES)
    with pytest.raises(ValueError, match="either metrics= or open_interest="):
        read_binance(klines=KLINES, metrics=METRICS, open_interest=pd.Series(dtype=float))


def test_read_binance_gap_in_klines_is_an_error(tmp_path):
    shutil.copy(FIX / "BTCUSDT-1h-2025-01-02.zip", tmp_path)
    with pytest.raises(MarketDataError, match="gaps"):
        # day 1 missing hour 05:00
        lines = (FIX / "BTCUSDT-1h-2025-01-01.csv").read_text().splitlines()
        (tmp_path / "BTCUSDT-1h-2025-01-01.csv").write_text("\n".join(lines[:6] + lines[7:]) + "\n")
        read_binance(klines=str(tmp_path / "BTCUSDT-1h-*"), metrics=METRICS)
    m = read_binance(klines=str(tmp_path / "BTCUSDT-1h-*"), metrics=METRICS, fill_gaps="ffill")
    assert len(m) == 48
