"""Location skill: bankruptcy -> liquidation price, the Bybit reader, the daily-OI market and location_score."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate

from heatmap.exchanges import get
from heatmap.io.liquidations import read_bybit_liquidations
from heatmap.margin import bankruptcy_price, liquidation_from_bankruptcy, liquidation_price
from heatmap.market import Market, MarketDataError
from heatmap.result import Heatmap
from heatmap.validation.datasets import daily_oi_market
from heatmap.validation.location import _crps, location_score

# ---------------------------------------------------------------------------------------------- bankruptcy price


def test_liquidation_from_bankruptcy_worked_example():
    # Bybit BTCUSDT first tier m = 0.5 %: long LP = BP/(1 - m), short LP = BP/(1 + m)
    assert liquidation_from_bankruptcy(50_000.0, "long", mmr=0.005) == pytest.approx(50_000 / 0.995)
    assert liquidation_from_bankruptcy(50_000.0, "short", mmr=0.005) == pytest.approx(50_000 / 1.005)
    sched = get("bybit", "BTCUSDT")
    assert liquidation_from_bankruptcy(50_000.0, "long", schedule=sched) == pytest.approx(50_000 / 0.995)


@pytest.mark.parametrize("side", ["long", "short"])
def test_round_trip_with_the_package_formulas_across_brackets(side):
    # independent derivation: liquidation_price(E, L) from entry, bankruptcy_price(E, L) from entry; the
    # conversion must map the second onto the first, in every Binance bracket (sizes up to 300 BTC)
    sched = get("binance-usdm", "BTCUSDT")
    entry = np.array([20_000.0, 60_000.0, 100_000.0])[:, None, None]
    lev = np.array([2.0, 5.0, 10.0, 20.0])[None, :, None]
    qty = np.array([0.01, 1.0, 10.0, 50.0, 150.0])[None, None, :]
    lp = liquidation_price(entry, lev, side, qty=qty, schedule=sched, check_max_leverage=False)
    bp = bankruptcy_price(entry, lev, side, qty=qty)
    back = liquidation_from_bankruptcy(bp, side, schedule=sched, qty=qty)
    ok = np.isfinite(lp) & (lp > 0)
    np.testing.assert_allclose(back[ok], lp[ok], rtol=1e-12)
    # several brackets were exercised
    n = (lp * qty)[ok]
    assert len(np.unique(sched.bracket_index(n, clip=True))) >= 3


def test_liquidation_from_bankruptcy_bad_input():
    with pytest.raises(ValueError, match="schedule/mmr"):
        liquidation_from_bankruptcy(1.0, "long")
    with pytest.raises(ValueError, match="schedule/mmr"):
        liquidation_from_bankruptcy(1.0, "long", mmr=0.005, schedule=get("bybit", "BTCUSDT"))
    with pytest.raises(ValueError, match="inverse"):
        liquidation_from_bankruptcy(1.0, "long", schedule=get("binance-coinm", "BTCUSD_PERP"))
    with pytest.raises(ValueError, match="price"):
        liquidation_from_bankruptcy(-1.0, "long", mmr=0.005)
    with pytest.raises(ValueError, match="side"):
        liquidation_from_bankruptcy(1.0, "up", mmr=0.005)


# ---------------------------------------------------------------------------------------------- Bybit reader

BYBIT_CSV = """ts_ms,time_utc,symbol,side,position,qty,price
1707756340999,2024-02-12 16:45:40.999+00:00,BTCUSDT,Sell,short,0.5,50000.0
1707756333999,2024-02-12 16:45:33.999+00:00,BTCUSDT,Buy,long,2.0,49306.3
"""


def test_read_bybit_liquidations(tmp_path):
    p = tmp_path / "bybit.csv"
    p.write_text(BYBIT_CSV)
    ev = read_bybit_liquidations(p)
    assert list(ev.columns) == [
        "time",
        "symbol",
        "side",
        "price",
        "qty",
        "notional",
        "order_price",
        "price_source",
    ]
    assert ev["side"].tolist() == ["long", "short"]  # sorted by time; Buy = a long was liquidated
    assert ev["time"].iloc[0] == pd.Timestamp("2024-02-12 16:45:33.999", tz="UTC")
    assert ev["notional"].tolist() == pytest.approx([2.0 * 49306.3, 0.5 * 50000.0])
    assert set(ev["price_source"]) == {"bankruptcy"}
    lq = read_bybit_liquidations(p, price="liquidation")
    assert lq["price"].tolist() == pytest.approx([49306.3 / 0.995, 50000.0 / 1.005])
    assert lq["order_price"].tolist() == ev["price"].tolist()
    assert set(lq["price_source"]) == {"liquidation"}


def test_read_bybit_liquidations_bad_rows(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text(BYBIT_CSV.replace("Sell,short", "Sell,long"))
    with pytest.raises(MarketDataError, match="contradicts"):
        read_bybit_liquidations(p)
    p.write_text(BYBIT_CSV.replace("Sell,short", "Hold,short"))
    with pytest.raises(MarketDataError, match="Buy or Sell"):
        read_bybit_liquidations(p)
    p.write_text(BYBIT_CSV.replace(",0.5,", ",-0.5,"))
    with pytest.raises(MarketDataError, match="qty"):
        read_bybit_liquidations(p)
    p.write_text("ts_ms,side,qty\n1,Buy,1\n")
    with pytest.raises(MarketDataError, match="price"):
        read_bybit_liquidations(p)


# ---------------------------------------------------------------------------------------------- daily-OI market


def _candles(days=3, start="2024-01-01"):
    idx = pd.date_range(start, periods=24 * days, freq="1h", tz="UTC")
    close = 100.0 + np.arange(len(idx)) * 0.1
    return pd.DataFrame(
        {"open": close - 0.05, "high": close + 0.5, "low": close - 0.5, "close": close, "volume": 10.0},
        index=idx,
    )


def _daily(days=4, start="2023-12-31"):
    idx = pd.date_range(start, periods=days, freq="1D", tz="UTC")
    oi = pd.DataFrame({"open_interest": 1000.0 + 10 * np.arange(days), "close_oi": 2000.0 + 100 * np.arange(days)},
                      index=idx)  # fmt: skip
    fr = pd.DataFrame({"close_rate": 0.01 * (1 + np.arange(days))}, index=idx)
    return oi, fr


def test_daily_oi_market_enters_at_the_days_close_only():
    c = _candles()
    oi, fr = _daily()
    m = daily_oi_market(c, oi, funding=fr)
    f = m.frame
    # first hours: the first day's opening OI; the day's close OI only from the 23:00 bar on
    assert f.open_interest.iloc[0] == pytest.approx(
        oi.loc[pd.Timestamp("2024-01-01", tz="UTC"), "open_interest"] / c.open.iloc[0]
    )
    assert f.open_interest.iloc[22] == f.open_interest.iloc[0]
    assert f.open_interest.iloc[23] == pytest.approx(
        oi.loc[pd.Timestamp("2024-01-01", tz="UTC"), "close_oi"] / c.close.iloc[23]
    )
    assert f.open_interest.iloc[46] == f.open_interest.iloc[23]
    # funding at 0/8/16 UTC with the previous day's close rate [percent -> fraction]
    fr_day = f.funding_rate[f.funding_rate != 0]
    assert list(fr_day.index.hour[:3]) == [0, 8, 16]
    assert fr_day.iloc[0] == pytest.approx(fr.loc[pd.Timestamp("2023-12-31", tz="UTC"), "close_rate"] / 100)
    assert fr_day.iloc[3] == pytest.approx(fr.loc[pd.Timestamp("2024-01-01", tz="UTC"), "close_rate"] / 100)


def test_daily_oi_market_no_look_ahead():
    c = _candles()
    oi, fr = _daily()
    base = daily_oi_market(c, oi, funding=fr).frame
    oi2, fr2 = oi.copy(), fr.copy()
    oi2.loc[oi2.index[1:], "close_oi"] *= 3.0  # change 2024-01-01's close and later days
    fr2.loc[fr2.index[1:], "close_rate"] *= 3.0
    alt = daily_oi_market(c, oi2, funding=fr2).frame
    cut = pd.Timestamp("2024-01-01 23:00", tz="UTC")
    pd.testing.assert_frame_equal(base.loc[base.index < cut], alt.loc[alt.index < cut])
    assert not base.loc[cut:].equals(alt.loc[cut:])


def test_daily_oi_market_missing_day():
    c = _candles()
    oi, fr = _daily()
    with pytest.raises(ValueError, match="open_interest: no daily row"):
        daily_oi_market(c, oi.drop(oi.index[2]))
    with pytest.raises(ValueError, match="funding: no close rate"):
        daily_oi_market(c, oi, funding=fr.drop(fr.index[0]))


# ---------------------------------------------------------------------------------------------- location score


def _setup(long_map, short_map, n_bars=3):
    """A market with bars [low=90, open=100, high=110] and a heatmap on 20 log-spaced bands 80..125."""
    idx = pd.date_range("2024-01-01", periods=n_bars, freq="1h", tz="UTC")
    market = Market(
        pd.DataFrame(
            {"open": 100.0, "high": 110.0, "low": 90.0, "close": 100.0, "open_interest": 1.0}, index=idx
        )
    )
    edges = np.geomspace(80.0, 125.0, 21)
    T = n_bars
    lm = np.tile(long_map(edges), (T, 1))
    sm = np.tile(short_map(edges), (T, 1))
    hm = Heatmap(times=idx, price_edges=edges, long=lm, short=sm, price=market.frame["close"])
    return market, hm, edges


def _uniform(edges):
    return np.diff(np.log(edges))  # uniform in log price


def _events(market, prices, side, bar=2):
    t = market.index[bar] + pd.Timedelta("20min")
    return pd.DataFrame({"time": [t] * len(prices), "side": side, "price": prices})


def test_uniform_map_scores_zero():
    market, hm, _ = _setup(_uniform, _uniform)
    ev = pd.concat([_events(market, [91.0, 95.0, 99.0], "long"), _events(market, [101.0, 108.0], "short")])
    rep = location_score(hm, ev, market, n_boot=0)
    for side in ("long", "short"):
        assert rep.get(side, "log_score") == pytest.approx(0.0, abs=1e-12)
        assert rep.get(side, "crps_skill") == pytest.approx(0.0, abs=1e-12)
    assert int(rep.table.loc["long", "events"]) == 3 and int(rep.table.loc["short", "events"]) == 2


def test_right_map_scores_above_zero_wrong_map_below():
    def near_low(edges):  # long mass only in the bands just above 90, short mass just below 110
        c = np.sqrt(edges[:-1] * edges[1:])
        return ((c > 89) & (c < 93)).astype(float)

    def near_open(edges):  # inside both parts, at the open: far from the events
        c = np.sqrt(edges[:-1] * edges[1:])
        return ((c > 96) & (c < 104)).astype(float)

    def near_high(edges):
        c = np.sqrt(edges[:-1] * edges[1:])
        return ((c > 106) & (c < 110)).astype(float)

    ev = pd.concat([_events(_setup(_uniform, _uniform)[0], [90.5, 91.0, 92.0], "long"),
                    _events(_setup(_uniform, _uniform)[0], [107.0, 108.5], "short")])  # fmt: skip
    market, right, _ = _setup(near_low, near_high)
    _, wrong, _ = _setup(near_open, near_open)
    good = location_score(right, ev, market, n_boot=0)
    bad = location_score(wrong, ev, market, n_boot=0)
    for side in ("long", "short"):
        assert good.get(side, "log_score") > 0.5
        assert good.get(side, "crps_skill") > 0.3
        assert bad.get(side, "log_score") < -1.0
        assert bad.get(side, "crps_skill") < 0.0
    # an event in an empty band costs log(floor) at most
    assert bad.get("long", "log_score") >= np.log(0.01) - 1e-12
    # a map with no mass at all in the part says nothing about where: the bar scores 0 and is counted
    _, none, _ = _setup(lambda e: np.zeros(e.size - 1), _uniform)
    rep = location_score(none, ev, market, n_boot=0)
    assert rep.get("long", "log_score") == 0.0 and int(rep.table.loc["long", "empty"]) == 1


def test_uses_the_map_held_before_the_bar_and_counts_outside_events():
    market, hm, edges = _setup(_uniform, _uniform)
    c = np.sqrt(edges[:-1] * edges[1:])
    long = np.array(hm.long)
    long[2] = ((c > 89) & (c < 93)).astype(float)  # the state after bar 2 "knows" bar 2: must not be used
    hm2 = Heatmap(times=hm.times, price_edges=edges, long=long, short=hm.short, price=hm.price)
    ev = _events(market, [91.0, 105.0, 85.0], "long")  # 105 above the open, 85 below the low: not scored
    rep = location_score(hm2, ev, market, n_boot=0)
    assert rep.get("long", "log_score") == pytest.approx(0.0, abs=1e-12)
    assert int(rep.table.loc["long", "outside"]) == 2
    assert rep.bars["map_time"].iloc[0] == market.index[1]
    # events in the first bar have no map before them
    rep0 = location_score(hm2, _events(market, [91.0], "long", bar=0), market, n_boot=0)
    assert rep0.settings["no_map"]["long"] == 1 and int(rep0.table.loc["long", "bars"]) == 0


def test_per_bar_then_over_bars_and_bootstrap():
    def near_low(edges):
        c = np.sqrt(edges[:-1] * edges[1:])
        return ((c > 89) & (c < 93)).astype(float) + 0.01 * _uniform(edges)

    market, hm, _ = _setup(near_low, _uniform, n_bars=40)
    rng = np.random.default_rng(0)
    parts = [_events(market, rng.uniform(90.2, 92.5, 1 + b % 4), "long", bar=b) for b in range(1, 40)]
    rep = location_score(hm, pd.concat(parts), market, n_boot=200, seed=1)
    per_bar = rep.bars.loc[rep.bars.side == "long", "log_score"]
    assert rep.get("long", "log_score") == pytest.approx(per_bar.mean())
    assert rep.get("long", "log_low") <= rep.get("long", "log_score") <= rep.get("long", "log_high")
    assert rep.get("long", "log_low") > 0
    assert len(rep.events) == sum(len(p) for p in parts)
    assert ((rep.events.pit >= 0) & (rep.events.pit <= 1)).all()


def test_crps_is_exact():
    rng = np.random.default_rng(3)
    nodes = np.concatenate([[0.0], np.sort(rng.uniform(0, 1, 6)), [1.0]])
    cdf = np.concatenate([[0.0], np.sort(rng.uniform(0, 1, 6)), [1.0]])
    for y in (0.0, 0.13, 0.5, 0.97, 1.0):

        def f(u, y=y):
            return (np.interp(u, nodes, cdf) - (u >= y)) ** 2

        ref = integrate.quad(f, 0, 1, points=[*nodes[1:-1], y], limit=200)[0]
        assert _crps(nodes, cdf, np.array([y]))[0] == pytest.approx(ref, abs=1e-9)
    # uniform CDF: u^2 - u + 1/3
    assert _crps(np.array([0.0, 1.0]), np.array([0.0, 1.0]), np.array([0.3]))[0] == pytest.approx(
        0.09 - 0.3 + 1 / 3
    )


def test_location_score_bad_input():
    market, hm, _ = _setup(_uniform, _uniform)
    ev = _events(market, [91.0], "long")
    with pytest.raises(ValueError, match="bankruptcy"):
        location_score(hm, ev.assign(price_source="bankruptcy"), market)
    with pytest.raises(ValueError, match="side"):
        location_score(hm, ev.assign(side="up"), market)
    with pytest.raises(ValueError, match="floor"):
        location_score(hm, ev, market, floor=0.0)
    with pytest.raises(ValueError, match="lack columns"):
        location_score(hm, ev.drop(columns="price"), market)


# ---------------------------------------------------------------------------------------------- CLI


def test_cli_validate_events(tmp_path):
    import subprocess
    import sys

    from heatmap.synthetic import synthetic_market

    m = synthetic_market(days=12, freq="1h", seed=5)
    mf = m.frame.reset_index()
    mf["time"] = mf["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    mf[["time", "open", "high", "low", "close", "open_interest", "volume"]].to_csv(
        tmp_path / "bars.csv", index=False
    )
    # Bybit-style events: a long in the lower part and a short in the upper part of late bars (bankruptcy prices)
    rows = []
    for i in range(200, 280, 3):
        t0 = m.index[i]
        o, lo, hi = m.frame.open.iloc[i], m.frame.low.iloc[i], m.frame.high.iloc[i]
        ms = int(t0.value // 1_000_000) + 600_000
        rows.append((ms, "Buy", 0.1, (lo + 0.3 * (o - lo)) * 0.995))
        rows.append((ms + 1000, "Sell", 0.1, (hi - 0.3 * (hi - o)) * 1.005))
    pd.DataFrame(rows, columns=["ts_ms", "side", "qty", "price"]).to_csv(tmp_path / "events.csv", index=False)
    proc = subprocess.run(
        [sys.executable, "-m", "heatmap", "validate", "--events", str(tmp_path / "events.csv"), "--market",
         str(tmp_path / "bars.csv"), "--model", "default", "--warmup", "5D", "--bins", "400", "--n-boot", "20"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "| long |" in proc.stdout and "| short |" in proc.stdout and "CRPS skill" in proc.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "heatmap", "validate", "--events", str(tmp_path / "events.csv")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode != 0 and "--market" in bad.stderr


def test_location_difference_is_paired():
    def near_low(edges):
        c = np.sqrt(edges[:-1] * edges[1:])
        return ((c > 89) & (c < 93)).astype(float) + 0.01 * _uniform(edges)

    market, good_hm, _ = _setup(near_low, _uniform, n_bars=30)
    _, flat_hm, _ = _setup(_uniform, _uniform, n_bars=30)
    rng = np.random.default_rng(2)
    ev = pd.concat([_events(market, rng.uniform(90.2, 92.5, 3), "long", bar=b) for b in range(1, 30)])
    a = location_score(good_hm, ev, market, n_boot=0)
    b = location_score(flat_hm, ev, market, n_boot=0)
    from heatmap.validation.location import location_difference

    d = location_difference(a, b, n_boot=200)
    assert d.loc["long", "log_score"] == pytest.approx(
        a.get("long", "log_score") - b.get("long", "log_score")
    )
    assert d.loc["long", "crps_skill"] == pytest.approx(
        a.get("long", "crps_skill") - b.get("long", "crps_skill")
    )
    assert d.loc["long", "log_low"] > 0 and d.loc["long", "crps_low"] > 0
    with pytest.raises(ValueError, match="different bars"):
        location_difference(a, location_score(flat_hm, ev.iloc[3:], market, n_boot=0))


# ---------------------------------------------------------------------------------------------- real data

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.mark.realdata
def test_bybit_recording_facts():
    src = DATA / "bybit-btcusdt-liquidations-2024"
    candles_path = DATA / "binance-btcusdt-1h" / "BTCUSDT_1h_Cleaned.csv"
    if not src.is_dir() or not candles_path.is_file():
        pytest.skip("../shared/data is absent")
    from heatmap.io.frames import read_ohlcv_csv

    raw = read_bybit_liquidations(src / "*.csv")
    conv = read_bybit_liquidations(src / "*.csv", price="liquidation")
    assert len(raw) == 24_597
    c = read_ohlcv_csv(candles_path, time_col="Date", time_format="%d-%m-%Y %H:%M", assume_utc=True)
    hour = raw["time"].dt.floor("1h")
    lo, hi = c["low"].reindex(hour).to_numpy(), c["high"].reindex(hour).to_numpy()

    def outside(px, mask):
        return float(((px < lo) | (px > hi))[mask].mean())

    every = np.ones(len(raw), dtype=bool)
    # SOURCE.md: 58 % of raw (bankruptcy) prices outside the hour's range (measured here: 54 %, hour of the
    # recorder's stamp); 3.2 % long / 0.6 % short after conversion (measured: 3.1 % / 0.7 %)
    assert outside(raw["price"].to_numpy(), every) > 0.5
    is_long = (conv["side"] == "long").to_numpy()
    assert outside(conv["price"].to_numpy(), is_long) == pytest.approx(0.031, abs=0.002)
    assert outside(conv["price"].to_numpy(), ~is_long) == pytest.approx(0.007, abs=0.002)
