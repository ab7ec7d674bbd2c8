"""Realized-liquidation readers and per-bar sums (fixtures in the exact forceOrder / liquidationSnapshot layouts)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heatmap.io.frames import read_ohlcv_csv
from heatmap.io.liquidations import (
    EVENT_COLUMNS,
    FORCEORDER_CSV_COLUMNS,
    coin_m_contract_size,
    liquidations_per_bar,
    read_liquidation_bars,
    read_liquidations,
)
from heatmap.market import Market, MarketDataError

FIX = Path(__file__).resolve().parent / "fixtures"
LIQ = FIX / "liquidations"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
T0 = pd.Timestamp("2025-01-01", tz="UTC")

# the fixture events (see make_fixtures.py): symbol, position side, ap, z, time offset
EVENTS = [
    ("BTCUSDT", "long", 93610.2, 0.5, pd.Timedelta("30min")),
    ("BTCUSDT", "short", 94800.5, 0.12, pd.Timedelta("1h") + pd.Timedelta("5ms")),
    ("ETHUSDT", "long", 3310.0, 3.0, pd.Timedelta("2h")),
    ("BTCUSDT", "long", 93100.0, 1.0, pd.Timedelta("3h59min")),
    ("BTCUSDT", "short", 95400.0, 0.25, pd.Timedelta("47h") + pd.Timedelta("1ms")),
]


def market(n: int = 48, freq: str = "1h") -> Market:
    idx = pd.date_range(T0, periods=n, freq=freq, tz="UTC")
    return Market(
        pd.DataFrame({"open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "open_interest": 1.0}, index=idx)
    )


def test_forceorder_json_lines():
    ev = read_liquidations(LIQ / "forceorder.jsonl")
    assert list(ev.columns) == EVENT_COLUMNS
    assert len(ev) == 5
    for row, (sym, side, ap, z, dt) in zip(ev.itertuples(), EVENTS, strict=True):
        assert row.symbol == sym and row.side == side
        assert row.price == ap and row.qty == z and row.notional == pytest.approx(ap * z)
        assert row.time == T0 + dt
        assert row.price_source == "average"
    assert ev["order_price"].iloc[0] == 93500.0


def test_forceorder_flat_csv_matches_json_and_symbol_filter():
    js = read_liquidations(LIQ / "forceorder.jsonl", symbol="BTCUSDT")
    flat = read_liquidations(LIQ / "forceorder_flat.csv", symbol="BTCUSDT")
    assert len(js) == 4
    assert (flat["symbol"] == "BTC").all()  # the dump strips the quote currency; the filter still matches
    pd.testing.assert_frame_equal(js.drop(columns="symbol"), flat.drop(columns="symbol"))
    explicit = read_liquidations(LIQ / "forceorder_flat.csv", format="forceorder-csv", symbol="BTCUSDT")
    pd.testing.assert_frame_equal(flat, explicit)


def test_missing_average_price_policy():
    ev = read_liquidations(LIQ / "forceorder_no_avg.csv")
    assert ev["price_source"].tolist() == ["order", "order"]
    assert ev["price"].tolist() == [93500.0, 94900.0]
    with pytest.raises(MarketDataError, match=r"2 rows have no average fill price.*price='order'"):
        read_liquidations(LIQ / "forceorder_no_avg.csv", price="average")
    with_avg = read_liquidations(LIQ / "forceorder.jsonl", price="order")
    assert with_avg["price"].iloc[0] == 93500.0 and with_avg["price_source"].iloc[0] == "order"


@pytest.mark.parametrize(
    "name",
    ["BTCUSD_PERP-liquidationSnapshot-2025-01-01.csv", "BTCUSD_PERP-liquidationSnapshot-2025-01-01.zip"],
)
def test_coin_m_liquidation_snapshot(name):
    ev = read_liquidations(LIQ / name)
    assert ev["symbol"].tolist() == ["BTCUSD_PERP", "BTCUSD_PERP"]
    assert ev["side"].tolist() == ["long", "short"]
    # inverse contracts: notional = contracts x 100 USD, base qty = notional / fill price
    np.testing.assert_allclose(ev["notional"], [500.0, 1200.0])
    np.testing.assert_allclose(ev["qty"], [500.0 / 93550.0, 1200.0 / 94900.0])
    assert ev["time"].iloc[0] == T0 + pd.Timedelta("10min")
    ev10 = read_liquidations(LIQ / name, contract_size=10.0)
    np.testing.assert_allclose(ev10["notional"], [50.0, 120.0])


def test_coin_m_contract_size():
    assert coin_m_contract_size("BTCUSD_PERP") == 100.0
    assert coin_m_contract_size("ETHUSD_PERP") == 10.0


def test_glob_list_and_duplicates():
    files = [LIQ / "forceorder.jsonl", LIQ / "forceorder.jsonl"]
    with pytest.raises(MarketDataError, match=r"5 exact duplicate rows.*duplicates='drop'"):
        read_liquidations(files)
    assert len(read_liquidations(files, duplicates="drop")) == 5
    both = read_liquidations(str(LIQ / "BTCUSD_PERP-liquidationSnapshot-*.csv"))
    assert len(both) == 2
    assert both["time"].is_monotonic_increasing


def test_format_errors(tmp_path):
    (tmp_path / "x.csv").write_text("a,b,c\n1,2,3\n")
    with pytest.raises(MarketDataError, match="cannot tell the liquidation format"):
        read_liquidations(tmp_path / "x.csv")
    (tmp_path / "y.jsonl").write_text('{"e": "trade"}\n')
    with pytest.raises(MarketDataError, match="not a forceOrder event"):
        read_liquidations(tmp_path / "y.jsonl")
    (tmp_path / "z.csv").write_text("BTC,HOLD,LIMIT,IOC,1,1,1,FILLED,1,1,1735689600000\n")
    with pytest.raises(MarketDataError, match="BUY or SELL"):
        read_liquidations(tmp_path / "z.csv", format="forceorder-csv")
    with pytest.raises(ValueError, match="format='xml'"):
        read_liquidations(tmp_path / "z.csv", format="xml")  # type: ignore[arg-type]


def test_combined_stream_wrapper_and_json_array(tmp_path):
    lines = (LIQ / "forceorder.jsonl").read_text().splitlines()
    wrapped = "\n".join('{"stream": "!forceOrder@arr", "data": ' + ln + "}" for ln in lines)
    (tmp_path / "w.jsonl").write_text(wrapped)
    (tmp_path / "a.json").write_text("[" + ",".join(lines) + "]")
    base = read_liquidations(LIQ / "forceorder.jsonl")
    pd.testing.assert_frame_equal(read_liquidations(tmp_path / "w.jsonl"), base)
    pd.testing.assert_frame_equal(read_liquidations(tmp_path / "a.json"), base)


def test_event_frame_input_validated():
    ev = read_liquidations(LIQ / "forceorder.jsonl")
    again = read_liquidations(ev)
    pd.testing.assert_frame_equal(again, ev)
    bad = ev.assign(side="sell")
    with pytest.raises(MarketDataError, match="'long' or 'short'"):
        read_liquidations(bad)


def test_per_bar_sums_and_bar_assignment():
    ev = read_liquidations(LIQ / "forceorder.jsonl")
    m = market()
    pb = liquidations_per_bar(ev, m)
    assert pb.index.equals(m.index) and list(pb.columns) == ["long", "short"]
    assert pb["long"].iloc[0] == pytest.approx(0.5 * 93610.2)  # 00:30 -> bar 00:00
    assert pb["short"].iloc[1] == pytest.approx(0.12 * 94800.5)  # 01:00:00.005 -> bar 01:00
    assert pb["long"].iloc[2] == pytest.approx(9930.0)  # ETH at exactly 02:00 -> bar 02:00
    assert pb["long"].iloc[3] == pytest.approx(93100.0)  # 03:59 -> bar 03:00
    assert pb["short"].iloc[47] == pytest.approx(0.25 * 95400.0)
    for side in ("long", "short"):
        assert pb[side].sum() == pytest.approx(ev.loc[ev["side"] == side, "notional"].sum())
    assert (pb.drop(index=m.index[[0, 1, 2, 3, 47]]) == 0).all().all()
    only_btc = liquidations_per_bar(ev, m, symbol="BTCUSDT")
    assert only_btc["long"].iloc[2] == 0


def test_per_bar_outside_span():
    ev = read_liquidations(LIQ / "forceorder.jsonl")
    m = market(24)  # the last event (47h) is outside
    with pytest.raises(MarketDataError, match=r"1 liquidations fall outside the market span.*outside='drop'"):
        liquidations_per_bar(ev, m)
    pb = liquidations_per_bar(ev, m, outside="drop")
    assert pb.attrs["outside"] == 1
    assert pb["short"].sum() == pytest.approx(0.12 * 94800.5)
    with pytest.raises(ValueError, match="outside='keep'"):
        liquidations_per_bar(ev, m, outside="keep")  # type: ignore[arg-type]


@settings(max_examples=50, deadline=None)
@given(
    offsets=st.lists(st.integers(min_value=0, max_value=48 * 3600 * 1000 - 1), min_size=0, max_size=40),
    data=st.data(),
)
def test_per_bar_conserves_totals(offsets, data):
    n = len(offsets)
    sides = data.draw(st.lists(st.sampled_from(["long", "short"]), min_size=n, max_size=n))
    notional = data.draw(st.lists(st.floats(0, 1e7), min_size=n, max_size=n))
    ev = pd.DataFrame(
        {
            "time": T0 + pd.to_timedelta(offsets, unit="ms"),
            "side": pd.Series(sides, dtype=object),
            "notional": np.asarray(notional, dtype=float),
        }
    )
    pb = liquidations_per_bar(ev, market(12, "4h"))
    for side in ("long", "short"):
        assert pb[side].sum() == pytest.approx(
            ev.loc[ev["side"] == side, "notional"].sum(), rel=1e-12, abs=1e-6
        )
    # each event sits in the bar [open, open + 4h) containing it
    for t, s, v in zip(ev["time"], sides, notional, strict=True):
        bar = T0 + pd.Timedelta("4h") * ((t - T0) // pd.Timedelta("4h"))
        assert pb.loc[bar, s] >= v - 1e-9


def test_liquidation_bars_table_and_nesting(tmp_path):
    liq = read_liquidation_bars(FIX / "coinglass" / "liq_4h_usd.csv")
    assert list(liq.columns) == ["long", "short"] and len(liq) == 12
    assert liq["long"].iloc[1] == 1_001_000 and liq["short"].iloc[1] == 500_010
    m4 = market(12, "4h")
    pb = liquidations_per_bar(liq, m4)
    pd.testing.assert_frame_equal(pb, liq.set_axis(m4.index), check_freq=False)
    # 4h rows sum into 8h bars
    m8 = market(6, "8h")
    pb8 = liquidations_per_bar(liq, m8)
    assert pb8["long"].iloc[0] == 1_000_000 + 1_001_000
    assert pb8.to_numpy().sum() == pytest.approx(liq.to_numpy().sum())
    # coarser table into finer bars, or missing rows, are errors
    with pytest.raises(MarketDataError, match="do not nest"):
        liquidations_per_bar(liq, market(48, "1h"))
    with pytest.raises(MarketDataError, match="not fully covered"):
        liquidations_per_bar(liq.drop(liq.index[3]), m4)
    with pytest.raises(MarketDataError, match="outside the market span"):
        liquidations_per_bar(liq, market(6, "4h"))
    assert liquidations_per_bar(liq, market(6, "4h"), outside="drop").attrs["outside"] == 6


def test_liquidation_bars_column_choice(tmp_path):
    (tmp_path / "t.csv").write_text("time,a,b\n1735689600000,1,2\n1735704000000,3,4\n")
    with pytest.raises(MarketDataError, match="pass long_col="):
        read_liquidation_bars(tmp_path / "t.csv")
    t = read_liquidation_bars(tmp_path / "t.csv", long_col="a", short_col="b")
    assert t["short"].tolist() == [2.0, 4.0]


# ---------------------------------------------------------------------------------------------------------------
# real data (skipped when ../shared/data is absent)
# ---------------------------------------------------------------------------------------------------------------

FO = DATA / "binance-forceorder-samples"


@pytest.mark.realdata
def test_real_forceorder_samples():
    paulius = FO / "PauliusMinialga-data_streams_for_crypto" / "binance.csv"
    neo = FO / "NeoParth-strategies" / "binance.csv"
    h1 = DATA / "binance-btcusdt-1h" / "BTCUSDT_1h_Cleaned.csv"
    if not (paulius.exists() and neo.exists() and h1.exists()):
        pytest.skip("shared data absent")
    with pytest.raises(MarketDataError, match="exact duplicate rows"):
        read_liquidations(paulius)
    ev = read_liquidations(paulius, duplicates="drop")
    assert ev["time"].min() >= pd.Timestamp("2025-01-26 16:27", tz="UTC")
    assert ev["time"].max() < pd.Timestamp("2025-02-06 15:27", tz="UTC")
    btc = ev.loc[ev["symbol"] == "BTC"]
    assert len(btc) > 20 and (btc["price_source"] == "average").all()
    # every BTC fill price lies inside the matching 1h candle of the perpetual
    c = read_ohlcv_csv(h1, time_col="Date", time_format="%d-%m-%Y %H:%M", assume_utc=True)
    bar = btc["time"].dt.floor("1h")
    assert (
        (btc["price"].to_numpy() >= c.loc[bar, "low"].to_numpy())
        & (btc["price"].to_numpy() <= c.loc[bar, "high"].to_numpy())
    ).all()
    no_avg = read_liquidations(neo)
    assert len(no_avg) == 700 and (no_avg["price_source"] == "order").all()


def test_empty_file_gives_empty_event_frame(tmp_path):
    (tmp_path / "e.jsonl").write_text("")
    ev = read_liquidations(tmp_path / "e.jsonl")
    assert list(ev.columns) == EVENT_COLUMNS and len(ev) == 0
    assert str(ev["time"].dt.tz) == "UTC" and ev["side"].dtype == object
    assert (liquidations_per_bar(ev, market(4)).to_numpy() == 0).all()


# ------------------------------------------------------------------ headed CSVs: columns by name, any order
def _headed(tmp_path: Path, name: str, header: list[str], order: list[int]) -> Path:
    """The flat forceOrder fixture rewritten with ``header`` over its columns taken in ``order``."""
    rows = [ln.split(",") for ln in (LIQ / "forceorder_flat.csv").read_text().splitlines() if ln.strip()]
    out = tmp_path / name
    lines = [",".join(header)] + [",".join(r[i] for i in order) for r in rows]
    out.write_text("\n".join(lines) + "\n")
    return out


FLAT = ["s", "S", "o", "f", "q", "p", "ap", "X", "l", "z", "T"]


@pytest.mark.parametrize(
    "header",
    [
        FLAT,  # the websocket keys
        FORCEORDER_CSV_COLUMNS,  # the names of the event reader
        [
            "symbol",
            "Side",
            "type",
            "timeInForce",
            "origQty",
            "price",
            "averagePrice",
            "status",
            "lastFilledQuantity",
            "executedQty",
            "tradeTime",
        ],
    ],
)
def test_headed_forceorder_csv_is_read_by_name_in_any_order(tmp_path, header):
    want = read_liquidations(LIQ / "forceorder_flat.csv")
    order = [10, 6, 1, 0, 9, 5, 4, 2, 3, 7, 8]  # a shuffled layout
    path = _headed(tmp_path, "headed.csv", [header[i] for i in order], order)
    got = read_liquidations(path)
    pd.testing.assert_frame_equal(got, want)
    assert len(got) == len(want) > 0


def test_headed_csv_may_omit_optional_columns_and_carry_sizes(tmp_path):
    want = read_liquidations(LIQ / "forceorder_flat.csv")
    rows = [ln.split(",") for ln in (LIQ / "forceorder_flat.csv").read_text().splitlines() if ln.strip()]
    text = "symbol,side,price,avgPrice,executedQty,time,usd\n" + "".join(
        f"{r[0]},{r[1]},{r[5]},{r[6]},{r[9]},{r[10]},123.4\n" for r in rows
    )
    (tmp_path / "few.csv").write_text(text)
    got = read_liquidations(tmp_path / "few.csv")
    cols = ["time", "symbol", "side", "price", "qty", "notional", "order_price", "price_source"]
    pd.testing.assert_frame_equal(got[cols], want[cols])


def test_headed_csv_errors_name_the_columns(tmp_path):
    (tmp_path / "u.csv").write_text("symbol,side,price,qty_usd,time\nBTCUSDT,SELL,1,2,1735689600000\n")
    with pytest.raises(MarketDataError, match=r"unknown liquidation columns \['qty_usd'\]"):
        read_liquidations(tmp_path / "u.csv")
    (tmp_path / "m.csv").write_text("symbol,side,price,time\nBTCUSDT,SELL,1,1735689600000\n")
    with pytest.raises(MarketDataError, match=r"lacks the liquidation columns \['original_quantity or"):
        read_liquidations(tmp_path / "m.csv")
    (tmp_path / "r.csv").write_text("symbol,side,p,price,q,time\nBTCUSDT,SELL,1,1,2,1735689600000\n")
    with pytest.raises(MarketDataError, match=r"names the columns \['price'\] more than once"):
        read_liquidations(tmp_path / "r.csv")
    (tmp_path / "w.csv").write_text("symbol,side,price,q,time\nBTCUSDT,SELL,1,2\n")
    with pytest.raises(MarketDataError, match="not a readable CSV|rows have"):
        read_liquidations(tmp_path / "w.csv")


def test_headed_snapshot_without_symbol_takes_it_from_the_file_name(tmp_path):
    text = "side,averagePrice,price,origQty,time\nSELL,93610.2,93500,5,1735691400000\n"
    path = tmp_path / "BTCUSD_PERP-liquidationSnapshot-2025-01-01.csv"
    path.write_text(text)
    ev = read_liquidations(path)
    assert ev["symbol"].tolist() == ["BTCUSD_PERP"] and ev["side"].tolist() == ["long"]
    assert ev["notional"].iloc[0] == pytest.approx(500.0)  # COIN-M: 5 contracts x 100 USD
    assert ev["time"].iloc[0] == T0 + pd.Timedelta("30min")


def test_headed_csv_with_iso_times(tmp_path):
    text = "symbol,side,price,q,time\nBTCUSDT,BUY,95000,0.5,2025-01-01T00:30:00Z\n"
    (tmp_path / "iso.csv").write_text(text)
    ev = read_liquidations(tmp_path / "iso.csv")
    assert ev["time"].iloc[0] == T0 + pd.Timedelta("30min") and ev["side"].iloc[0] == "short"
    (tmp_path / "naive.csv").write_text(text.replace("Z", ""))
    with pytest.raises(MarketDataError, match="no time zone"):
        read_liquidations(tmp_path / "naive.csv")
