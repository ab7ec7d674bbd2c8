"""Dated margin schedules: shipped tables, validation, lookups and loaders."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from heatmap.exchanges import (
    Brackets,
    MarginSchedule,
    available,
    continuous_cum,
    from_binance_json,
    from_ccxt,
    get,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CCXT_TIERS = DATA / "binance-leverage-tiers" / "freqtrade" / "exchange" / "binance_leverage_tiers.json"


def _tiers(**overrides: object) -> MarginSchedule:
    kw: dict[str, object] = {
        "venue": "demo",
        "symbol": "XUSDT",
        "contract": "linear",
        "quote": "USDT",
        "base": "X",
        "effective": "2024-01-01",
        "source": "test",
        "tiers": [(0, 10_000, 0.01, 50), (10_000, 50_000, 0.02, 25), (50_000, 200_000, 0.05, 10)],
    }
    kw.update(overrides)
    return MarginSchedule.from_tiers(**kw)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------------------------
# shipped tables
# ----------------------------------------------------------------------------------------------------------------


def test_default_btcusdt_is_2024_table() -> None:
    s = get("binance-usdm", "BTCUSDT")
    assert s.effective == pd.Timestamp("2024-10-24", tz="UTC")
    assert len(s) == 12
    assert s.max_leverage == 125.0
    frame = s.to_frame()
    assert list(frame.columns) == ["floor", "cap", "mmr", "max_leverage", "cum"]
    assert frame.loc[5].tolist() == [12e6, 70e6, 0.02, 25.0, 131_450.0]
    assert frame.loc[12].tolist() == [1.2e9, 1.8e9, 0.5, 1.0, 421_481_450.0]


def test_dated_lookup_picks_newest_on_or_before() -> None:
    assert get("binance-usdm", "BTCUSDT", date="2021-03-18").cap[1] == 250_000
    assert get("binance-usdm", "BTCUSDT", date=pd.Timestamp("2024-10-23")).cap[1] == 250_000
    assert get("binance-usdm", "btcusdt", date="2024-10-24").cap[1] == 600_000
    assert get("binance-usdm", "BTCUSDT", date="2030-01-01").cap[1] == 600_000
    with pytest.raises(ValueError, match=r"before the oldest .* \['2021-03-18', '2024-10-24'\]"):
        get("binance-usdm", "BTCUSDT", date="2020-01-01")


def test_get_errors_list_what_exists() -> None:
    with pytest.raises(ValueError, match="venue: got 'ftx'.*binance-usdm"):
        get("ftx", "BTCUSDT")
    with pytest.raises(ValueError, match=r"no schedule for 'DOGEUSDT'.*'BTCUSDT', 'ETHUSDT'"):
        get("binance-usdm", "DOGEUSDT")
    with pytest.raises(ValueError, match="date"):
        get("binance-usdm", "BTCUSDT", date="not a date")


def test_every_shipped_table_is_valid_and_listed() -> None:
    table = available()
    assert list(table.columns) == ["venue", "symbol", "contract", "effective", "brackets", "source"]
    assert {"binance-usdm", "binance-coinm", "bybit", "hyperliquid"} <= set(table["venue"])
    for row in table.itertuples():
        s = get(row.venue, row.symbol, date=row.effective)
        assert s.effective == row.effective
        np.testing.assert_allclose(s.cum, continuous_cum(s.floor, s.mmr), rtol=1e-12, atol=1e-9)


def test_hyperliquid_and_coinm_tables() -> None:
    hl = get("hyperliquid", "BTC")
    assert hl.max_leverage == 40 and float(hl.mmr[0]) == 0.0125 == 0.5 / 40
    assert int(hl.bracket_index(1e12)) == 0  # single open-ended tier
    cm = get("binance-coinm", "BTCUSD_PERP")
    assert cm.contract == "inverse" and cm.notional_unit == "BTC"


@pytest.mark.skipif(not CCXT_TIERS.exists(), reason="shared data absent")
def test_ethusdt_table_matches_snapshot() -> None:
    raw = json.loads(CCXT_TIERS.read_text())
    for key, sym in (("ETH/USDT:USDT", "ETHUSDT"), ("BTC/USDT:USDT", "BTCUSDT")):
        shipped = get("binance-usdm", sym, date="2024-10-24").to_frame()
        expected = pd.DataFrame(
            {
                "floor": [t["minNotional"] for t in raw[key]],
                "cap": [t["maxNotional"] for t in raw[key]],
                "mmr": [t["maintenanceMarginRate"] for t in raw[key]],
                "max_leverage": [t["maxLeverage"] for t in raw[key]],
                "cum": [float(t["info"]["cum"]) for t in raw[key]],
            }
        )
        np.testing.assert_allclose(shipped.to_numpy(), expected.to_numpy(), rtol=1e-12)


# ----------------------------------------------------------------------------------------------------------------
# lookups
# ----------------------------------------------------------------------------------------------------------------


def test_bracket_index_half_open_intervals() -> None:
    s = get("binance-usdm", "BTCUSDT")
    idx = s.bracket_index(np.array([0.0, 1.0, 50_000.0, 50_000.01, 600_000.0, 1.8e9]))
    assert idx.tolist() == [0, 0, 0, 1, 1, 11]
    assert s.bracket_index([[10.0, 1e8]]).shape == (1, 2)
    with pytest.raises(ValueError, match="above the last cap"):
        s.bracket_index(2e9)
    assert int(s.bracket_index(2e9, clip=True)) == 11
    with pytest.raises(ValueError, match="notional"):
        s.bracket_index(-1.0)


def test_lookup_and_maintenance_margin_continuous() -> None:
    s = get("binance-usdm", "BTCUSDT")
    mmr, cum, lev = s.lookup([10_000.0, 5e6])
    assert mmr.tolist() == [0.004, 0.01] and cum.tolist() == [0, 11_450] and lev.tolist() == [125, 50]
    floors = s.floor[1:]
    below = s.maintenance_margin(floors)  # floors belong to the lower bracket
    above = s.maintenance_margin(floors * (1 + 1e-12))
    np.testing.assert_allclose(below, above, rtol=1e-9)


def test_repr_and_frozen() -> None:
    s = get("binance-usdm", "BTCUSDT")
    text = repr(s)
    assert "binance-usdm BTCUSDT" in text and "2024-10-24" in text and "125x" in text
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.symbol = "X"  # type: ignore[misc]
    with pytest.raises(ValueError):
        s.mmr[0] = 0.5


# ----------------------------------------------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------------------------------------------


def test_cum_recomputed_and_checked() -> None:
    assert _tiers().cum.tolist() == [0.0, 100.0, 1_600.0]
    ok = _tiers(tiers=[(0, 10_000, 0.01, 50, 0), (10_000, 50_000, 0.02, 25, 100)])
    assert ok.cum.tolist() == [0, 100]
    with pytest.raises(ValueError, match=r"bracket 2: published cum 120 differs .* 100"):
        _tiers(tiers=[(0, 10_000, 0.01, 50, 0), (10_000, 50_000, 0.02, 25, 120)])


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        ([(5, 10_000, 0.01, 50)], "bracket 1: floor is 5"),
        ([(0, 10_000, 0.01, 50), (12_000, 50_000, 0.02, 25)], "bracket 2: floor 12000 != cap 10000"),
        ([(0, 10_000, 0.02, 25), (10_000, 50_000, 0.01, 25)], "bracket 2: mmr 0.01 below"),
        ([(0, 10_000, 0.01, 25), (10_000, 50_000, 0.02, 40)], "bracket 2: max_leverage 40 above"),
        ([(0, 10_000, 0.03, 50)], "bracket 1: initial-margin rate 1/50 must exceed mmr 0.03"),
        ([(0, 10_000, 1.5, 1)], "bracket 1: mmr 1.5"),
        ([(0, 10_000, 0.01, 0.5)], "bracket 1: max_leverage 0.5"),
        ([(0, 0, 0.01, 50)], "bracket 1: cap 0 must exceed floor 0"),
        ([(0, 10_000, 0.01)], "bracket 1 has 3 fields"),
    ],
)
def test_invalid_tables_name_the_bracket(tiers: list[tuple[float, ...]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _tiers(tiers=tiers)


def test_invalid_fields() -> None:
    with pytest.raises(ValueError, match="contract"):
        _tiers(contract="quanto")
    with pytest.raises(ValueError, match="effective"):
        _tiers(effective="someday")
    with pytest.raises(ValueError, match="symbol"):
        _tiers(symbol="")
    with pytest.raises(ValueError, match="cap has 1 entries"):
        Brackets(floor=[0, 1], cap=[1], mmr=[0.1, 0.2], max_leverage=[5, 4], cum=[0, 0.1])


# ----------------------------------------------------------------------------------------------------------------
# loaders
# ----------------------------------------------------------------------------------------------------------------

_BINANCE_RESPONSE = [
    {
        "symbol": "ETHUSDT",
        "brackets": [
            {
                "bracket": 2,
                "initialLeverage": 50,
                "notionalCap": 100_000,
                "notionalFloor": 10_000,
                "maintMarginRatio": 0.01,
                "cum": 35.0,
            },
            {
                "bracket": 1,
                "initialLeverage": 75,
                "notionalCap": 10_000,
                "notionalFloor": 0,
                "maintMarginRatio": 0.0065,
                "cum": 0.0,
            },
        ],
    },
    {"symbol": "BTCUSDT", "brackets": []},
]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "RecursionError"),
        ('{"a": ' + "1" * 5000 + "}", "ValueError: Exceeds the limit"),
        (b"\xff\xfe[\x00]\x00", "UnicodeDecodeError"),
        ("{bad", "JSONDecodeError"),
    ],
)
def test_bracket_files_that_are_not_json_are_named(tmp_path: Path, content, message) -> None:
    path = tmp_path / "brackets.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ValueError, match=rf"'.*brackets\.json' is not a JSON file: {message}"):
        from_binance_json(path, symbol="ETHUSDT")
    assert [p.name for p in tmp_path.iterdir()] == ["brackets.json"]


def test_bracket_file_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "brackets.json"
    path.write_text(json.dumps(_BINANCE_RESPONSE), encoding="utf-8-sig")
    assert from_binance_json(path, symbol="ETHUSDT").mmr.tolist() == [0.0065, 0.01]


def test_from_binance_json_list_dict_and_path(tmp_path: Path) -> None:
    s = from_binance_json(_BINANCE_RESPONSE, symbol="ethusdt", effective="2025-01-02")
    assert (s.venue, s.symbol, s.contract, s.quote, s.base) == (
        "binance-usdm",
        "ETHUSDT",
        "linear",
        "USDT",
        "ETH",
    )
    assert s.cap.tolist() == [10_000, 100_000] and s.cum.tolist() == [0, 35]
    assert s.effective == pd.Timestamp("2025-01-02", tz="UTC")
    one = from_binance_json(_BINANCE_RESPONSE[0], symbol="ETHUSDT")
    assert one.effective is None and "effective date unknown" in repr(one)  # the response carries no date
    path = tmp_path / "brackets.json"
    path.write_text(json.dumps(_BINANCE_RESPONSE))
    assert from_binance_json(str(path), symbol="ETHUSDT").mmr.tolist() == [0.0065, 0.01]
    with pytest.raises(ValueError, match="'SOLUSDT' not in the response"):
        from_binance_json(_BINANCE_RESPONSE, symbol="SOLUSDT")
    with pytest.raises(ValueError, match="no brackets"):
        from_binance_json(_BINANCE_RESPONSE, symbol="BTCUSDT")
    with pytest.raises(ValueError, match="cannot read"):
        from_binance_json(tmp_path / "missing.json", symbol="ETHUSDT")
    bad = json.loads(json.dumps(_BINANCE_RESPONSE[0]))
    bad["brackets"][0]["cum"] = 40.0
    with pytest.raises(ValueError, match="bracket 2: published cum 40"):
        from_binance_json(bad, symbol="ETHUSDT")
    with pytest.raises(ValueError, match="notionalCoef"):
        from_binance_json({**_BINANCE_RESPONSE[0], "notionalCoef": 1.5}, symbol="ETHUSDT")


def test_from_binance_json_coinm_format() -> None:
    obj = {
        "symbol": "BTCUSD_PERP",
        "brackets": [
            {
                "bracket": 1,
                "initialLeverage": 125,
                "qtyCap": 50,
                "qtylFloor": 0,
                "maintMarginRatio": 0.004,
                "cum": 0.0,
            },
            {
                "bracket": 2,
                "initialLeverage": 100,
                "qtyCap": 100,
                "qtylFloor": 50,
                "maintMarginRatio": 0.005,
                "cum": 0.05,
            },
        ],
    }
    s = from_binance_json(obj, symbol="BTCUSD_PERP")
    assert (s.venue, s.contract, s.base, s.quote, s.notional_unit) == (
        "binance-coinm",
        "inverse",
        "BTC",
        "USD",
        "BTC",
    )
    assert s.cum.tolist() == [0.0, 0.05]
    # v1 per-pair response and the "qtyFloor" spelling used by the portfolio-margin endpoint
    v1 = {"pair": "BTCUSD", "brackets": [{**b, "qtyFloor": b["qtylFloor"]} for b in obj["brackets"]]}
    for b in v1["brackets"]:
        del b["qtylFloor"]
    s1 = from_binance_json([v1], symbol="btcusd")
    assert s1.symbol == "BTCUSD" and s1.floor.tolist() == [0, 50] and s1.contract == "inverse"


def test_from_ccxt_small() -> None:
    tiers = {
        "BTC/USD:BTC": [
            {
                "tier": 1,
                "minNotional": 0,
                "maxNotional": 5,
                "maintenanceMarginRate": 0.004,
                "maxLeverage": 125,
                "info": {},
            },
            {
                "tier": 2,
                "minNotional": 5,
                "maxNotional": 10,
                "maintenanceMarginRate": 0.005,
                "maxLeverage": 100,
                "info": {},
            },
        ]
    }
    s = from_ccxt(tiers, symbol="BTCUSD", venue="binance-coinm", effective="2024-01-01")
    assert s.contract == "inverse" and s.symbol == "BTCUSD"
    np.testing.assert_allclose(s.cum, [0, 0.005])
    assert from_ccxt(tiers["BTC/USD:BTC"], symbol="BTCUSD").cum[1] == pytest.approx(0.005)
    with pytest.raises(ValueError, match="'ETHUSD' not found"):
        from_ccxt(tiers, symbol="ETHUSD")
    both = {**tiers, "BTC/USD:USD": tiers["BTC/USD:BTC"]}
    with pytest.raises(ValueError, match="matches several markets"):
        from_ccxt(both, symbol="BTCUSD")
    assert from_ccxt(both, symbol="BTC/USD:USD").contract == "linear"
    with pytest.raises(ValueError, match="published cum nan"):
        _tiers(tiers=[(0, 10_000, 0.01, 50, float("nan"))])


@pytest.mark.realdata
@pytest.mark.skipif(not CCXT_TIERS.exists(), reason="shared data absent")
def test_from_ccxt_all_real_symbols_validate() -> None:
    """All 349 Binance USDⓈ-M tables of the 2024-10 snapshot validate, and published cum recomputes."""
    raw = json.loads(CCXT_TIERS.read_text())
    assert len(raw) == 349
    for key in raw:
        s = from_ccxt(CCXT_TIERS if key == "BTC/USDT:USDT" else raw, symbol=key, effective="2024-10-24")
        published = np.array([float(t["info"]["cum"]) for t in raw[key]])
        np.testing.assert_allclose(s.cum, published, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(continuous_cum(s.floor, s.mmr), published, rtol=1e-9, atol=1e-6)
        assert s.contract == "linear"
    btc = from_ccxt(raw, symbol="BTCUSDT", effective="2024-10-24")
    np.testing.assert_array_equal(
        btc.to_frame().to_numpy(), get("binance-usdm", "BTCUSDT").to_frame().to_numpy()
    )
