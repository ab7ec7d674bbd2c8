"""Generic CSV readers and the CoinGlass-style Market builder (fixtures; real files when present)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

import heatmap.io as hio
from heatmap.io.binance import read_binance_klines
from heatmap.io.frames import read_coinglass_market, read_csv_frame, read_csv_market, read_ohlcv_csv
from heatmap.io.liquidations import liquidations_per_bar, read_liquidation_bars
from heatmap.market import MarketDataError

FIX = Path(__file__).resolve().parent / "fixtures"
CG = FIX / "coinglass"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
T0 = pd.Timestamp("2025-01-01", tz="UTC")


def test_lazy_package_exports():
    assert hio.read_coinglass_market is read_coinglass_market
    assert "fetch_ccxt" in dir(hio)
    with pytest.raises(AttributeError):
        _ = hio.no_such_reader


def test_ohlcv_dayfirst_matches_binance_klines():
    c = read_ohlcv_csv(
        FIX / "ohlcv_1h_dayfirst.csv", time_col="Date", time_format="%d-%m-%Y %H:%M", assume_utc=True
    )
    k = read_binance_klines(str(FIX / "binance" / "BTCUSDT-1h-2025-01-0*"))
    assert list(c.columns) == ["open", "high", "low", "close", "volume"]
    pd.testing.assert_frame_equal(c, k[c.columns], check_freq=False, check_names=False)


def test_naive_times_need_assume_utc_and_format(tmp_path):
    # a strftime pattern without %z states the text has no zone: read as UTC
    c = read_ohlcv_csv(FIX / "ohlcv_1h_dayfirst.csv", time_col="Date", time_format="%d-%m-%Y %H:%M")
    assert str(c.index.tz) == "UTC"
    # without a pattern the error names the column and suggests the one pattern that fits, in both forms
    with pytest.raises(MarketDataError, match=r"ohlcv_1h_dayfirst.csv column 'date'.*time_format='%d-%m-%Y %H:%M' "
                       r"\(command line: --time-format '%d-%m-%Y %H:%M'\)"):  # fmt: skip
        read_ohlcv_csv(FIX / "ohlcv_1h_dayfirst.csv", time_col="Date", assume_utc=True)
    (tmp_path / "naive.csv").write_text("time,x\n2025-01-01 00:00,1\n2025-01-01 01:00,2\n")
    with pytest.raises(
        MarketDataError, match=r"no time zone.*assume_utc=True \(command line: --assume-utc\)"
    ):
        read_csv_frame(tmp_path / "naive.csv")


def test_read_csv_frame_auto_time_and_iso(tmp_path):
    df = read_csv_frame(CG / "price_4h.csv")  # 'time' in ms picked automatically
    assert df.index[0] == T0 and df.index[1] == T0 + pd.Timedelta("4h")
    (tmp_path / "iso.csv").write_text("datetime,x\n2025-01-01T02:00:00+02:00,1\n")
    iso = read_csv_frame(tmp_path / "iso.csv")
    assert iso.index[0] == T0
    (tmp_path / "none.csv").write_text("a,b\n1,2\n")
    with pytest.raises(MarketDataError, match="no time column"):
        read_csv_frame(tmp_path / "none.csv")


def test_read_csv_market_with_rename_and_units(tmp_path):
    idx = pd.date_range(T0, periods=4, freq="1h")
    df = pd.DataFrame(
        {
            "time": (idx.asi8 // 1_000_000),
            "Open": 100.0,
            "High": 101.0,
            "Low": 99.0,
            "Close": [100.0, 100.5, 100.2, 100.0],
            "oi_usd": [1e6, 1.005e6, 1.002e6, 1e6],
            "funding_pct": [0.01, 0, 0, 0],
            "note": "x",
        }
    )
    df.to_csv(tmp_path / "bars.csv", index=False)
    m = read_csv_market(
        tmp_path / "bars.csv",
        rename={"oi_usd": "open_interest", "funding_pct": "funding_rate"},
        oi_unit="quote",
        funding_unit="percent",
        symbol="X",
    )
    np.testing.assert_allclose(m.array("open_interest"), 10000.0)
    assert m.array("funding_rate")[0] == pytest.approx(1e-4)
    assert "note" not in m.columns and m.symbol == "X"
    with pytest.raises(MarketDataError, match="unknown columns"):
        read_csv_market(tmp_path / "bars.csv", rename={"oi_usd": "open_interest"}, extra_columns="error")


def test_coinglass_market_from_fixtures():
    m = read_coinglass_market(
        price=CG / "price_4h.csv", open_interest=CG / "oi_4h_coin.csv", funding=CG / "funding_8h_pct.csv"
    )
    price = pd.read_csv(CG / "price_4h.csv")
    oi = pd.read_csv(CG / "oi_4h_coin.csv")
    assert len(m) == 12 and m.freq == pd.Timedelta("4h") and m.symbol == "BTCUSDT"
    np.testing.assert_array_equal(m.array("close"), price["close"])
    # the OI row's close is the open interest at that bar's close
    np.testing.assert_array_equal(m.array("open_interest"), oi["close"])
    # funding rows at 0, 8, 16, 24, 32 h settle at the end of their 8h period: bars 8h, 16h, ... (= rows 2, 4, ...)
    fr = m.array("funding_rate")
    assert np.flatnonzero(fr).tolist() == [2, 4, 6, 8, 10]
    np.testing.assert_allclose(fr[[2, 4, 6, 8, 10]], [1e-4, 1.2e-4, -5e-5, 3e-4, 1e-4])
    at_open = read_coinglass_market(
        price=CG / "price_4h.csv",
        open_interest=CG / "oi_4h_coin.csv",
        funding=CG / "funding_8h_pct.csv",
        funding_time="open",
    )
    assert np.flatnonzero(at_open.array("funding_rate")).tolist() == [0, 2, 4, 6, 8]


def test_coinglass_market_oi_in_usd_and_slicing():
    coin = read_coinglass_market(price=CG / "price_4h.csv", open_interest=CG / "oi_4h_coin.csv")
    usd = read_coinglass_market(
        price=CG / "price_4h.csv", open_interest=CG / "oi_4h_usd.csv", oi_unit="quote"
    )
    np.testing.assert_allclose(usd.array("open_interest"), coin.array("open_interest"), rtol=1e-12)
    part = read_coinglass_market(
        price=CG / "price_4h.csv",
        open_interest=CG / "oi_4h_coin.csv",
        start="2025-01-01 08:00",
        end="2025-01-02 00:00",
    )
    assert part.index[0] == T0 + pd.Timedelta("8h") and part.index[-1] == T0 + pd.Timedelta("1D")


def test_coinglass_percent_passed_as_fraction_is_caught(tmp_path):
    # a 0.3 % settlement (the BTCUSDT cap is 0.375 %) read as a fraction is 30 % per settlement
    text = (CG / "funding_8h_pct.csv").read_text().replace(",0.03,0.03,0.03,0.03,", ",0.3,0.3,0.3,0.3,")
    (tmp_path / "f.csv").write_text(text)
    kw = {"price": CG / "price_4h.csv", "open_interest": CG / "oi_4h_coin.csv", "funding": tmp_path / "f.csv"}
    with pytest.raises(
        MarketDataError, match=r"absurd funding rate .* at 2025-01-02 08:00:00\+00:00 \(1 rows\)"
    ):
        read_coinglass_market(**kw, funding_unit="fraction")
    assert read_coinglass_market(**kw).array("funding_rate").max() == pytest.approx(0.003)


# ---------------------------------------------------------------------------------------------------------------
# real data
# ---------------------------------------------------------------------------------------------------------------

DERIVED = DATA / "coinglass-btc-4h" / "derived"


@pytest.mark.realdata
def test_real_coinglass_btc_4h_market_and_realized_liquidations():
    files = [
        DERIVED / n
        for n in (
            "price_binance_btcusdt_4h.csv",
            "oi_binance_stablecoinmargined_btc_4h_coinunits.csv",
            "funding_binance_btcusdt_8h_pct.csv",
            "liq_binance_allBTCpairs_4h_usd.csv",
        )
    ]
    if not all(f.exists() for f in files):
        pytest.skip("shared data absent")
    m = read_coinglass_market(price=files[0], open_interest=files[1], funding=files[2], oi_unit="base")
    assert m.index[0] == pd.Timestamp("2024-11-13 20:00", tz="UTC")
    assert m.index[-1] == pd.Timestamp("2025-05-31 20:00", tz="UTC")
    assert len(m) == 1195 and m.freq == pd.Timedelta("4h")
    oi = m.array("open_interest")
    assert 60_000 < oi.min() and oi.max() < 120_000  # BTC
    fr = m.array("funding_rate")
    assert (np.abs(fr) < 0.003).all() and (
        fr != 0
    ).sum() > 500  # a settlement every other bar from 2024-11-21
    liq = liquidations_per_bar(read_liquidation_bars(files[3]), m)
    assert liq.index.equals(m.index) and (liq.to_numpy() >= 0).all()
    # published fact: Spearman(long liq, (open-low)/open x OI) ~ 0.78, (short, (high-open)/open x OI) ~ 0.69
    f = m.frame
    rho_long = spearmanr(liq["long"], (f["open"] - f["low"]) / f["open"] * f["open_interest"])[0]
    rho_short = spearmanr(liq["short"], (f["high"] - f["open"]) / f["open"] * f["open_interest"])[0]
    assert rho_long == pytest.approx(0.78, abs=0.03)
    assert rho_short == pytest.approx(0.69, abs=0.03)


@pytest.mark.realdata
def test_real_binance_1h_csv():
    path = DATA / "binance-btcusdt-1h" / "BTCUSDT_1h_Cleaned.csv"
    if not path.exists():
        pytest.skip("shared data absent")
    c = read_ohlcv_csv(path, time_col="Date", time_format="%d-%m-%Y %H:%M", assume_utc=True)
    assert c.index[0] == pd.Timestamp("2024-01-01", tz="UTC")
    assert len(c) == 12408 and not c.index.has_duplicates
    # resampled to 4h it matches the CoinGlass 4h futures candles (SOURCE.md: ~100 % identical highs)
    price4 = DERIVED / "price_binance_btcusdt_4h.csv"
    if price4.exists():
        p4 = read_csv_frame(price4)
        h4 = c["high"].resample("4h").max()
        common = h4.index.intersection(p4.index)
        assert len(common) > 3000
        assert (h4.loc[common] == p4.loc[common, "high"]).mean() > 0.99
