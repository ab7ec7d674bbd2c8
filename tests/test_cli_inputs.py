"""The shared command-line inputs: files as users have them (formats of ../shared/data), human forms, tier files."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from heatmap.cli.forms import amount, leverage_number, leverage_spec, move, side
from heatmap.io.frames import read_market, sniff_sep
from heatmap.market import MarketDataError

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
H1 = DATA / "binance-btcusdt-1h" / "BTCUSDT_1h_Cleaned.csv"
CG = DATA / "coinglass-btc-4h" / "derived"
TIERS = DATA / "binance-leverage-tiers" / "freqtrade" / "exchange" / "binance_leverage_tiers.json"
needs_data = pytest.mark.skipif(not (H1.is_file() and CG.is_dir()), reason="../shared/data is absent")
needs_tiers = pytest.mark.skipif(not TIERS.is_file(), reason="../shared/data is absent")


def cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "heatmap", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
        check=False,
    )


# -- generated files in the formats of ../shared/data ----------------------------------------------------------


def hourly_candles(n: int = 96, *, start: str = "2025-01-01") -> pd.DataFrame:
    t = pd.date_range(start, periods=n, freq="1h", tz="UTC")
    k = np.arange(n)
    close = 94_000 + 300 * np.sin(k / 5) + 5 * k
    open_ = np.r_[94_000.0, close[:-1]]
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) + 40,
            "low": np.minimum(open_, close) - 35,
            "close": close,
            "volume": 8_000 + 100 * (k % 5),
        },
        index=t,
    )


def write_binance_1h_cleaned(path: Path, df: pd.DataFrame, *, sep: str = ",") -> Path:
    """The layout of BTCUSDT_1h_Cleaned.csv: Date as DD-MM-YYYY HH:MM, capitalised columns."""
    out = pd.DataFrame(
        {
            "Date": df.index.strftime("%d-%m-%Y %H:%M"),
            "Open": df["open"],
            "High": df["high"],
            "Low": df["low"],
            "Close": df["close"],
            "Volume": df["volume"],
        }
    )
    out.to_csv(path, index=False, sep=sep)
    return path


def write_coinglass_oi(path: Path, df: pd.DataFrame, values: np.ndarray) -> Path:
    """The layout of the CoinGlass derived 4h OHLC tables: time (ms), datetime_utc, open..close, snapshot."""
    t = df.index[::4]
    v = np.asarray(values, dtype=float)[: len(t)]
    out = pd.DataFrame(
        {
            "time": t.asi8 // 1_000_000,
            "datetime_utc": t.strftime("%Y-%m-%d %H:%M:%S+00:00"),
            "open": v,
            "high": v * 1.001,
            "low": v * 0.999,
            "close": v,
            "snapshot": 20250520,
        }
    )
    out.to_csv(path, index=False)
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    df = hourly_candles()
    n4 = len(df) // 4
    coins = 90_000 + 50 * np.arange(n4)
    return {
        "candles": write_binance_1h_cleaned(tmp_path / "BTCUSDT_1h_Cleaned.csv", df),
        "candles_semicolon": write_binance_1h_cleaned(tmp_path / "semicolon.csv", df, sep=";"),
        "oi_coins": write_coinglass_oi(tmp_path / "oi_4h_coinunits.csv", df, coins),
        "oi_usd": write_coinglass_oi(tmp_path / "oi_4h_usd.csv", df, coins * df["close"].to_numpy()[::4]),
    }


def test_read_market_aligns_4h_close_oi_under_1h_candles(files):
    m = read_market(
        files["candles"],
        time_col="Date",
        time_format="%d-%m-%Y %H:%M",
        open_interest=files["oi_coins"],
        oi_col="close",
        oi_max_age="4h",
        symbol="BTCUSDT",
    )
    # the close of the 4h row opening at 00:00 holds at 04:00: the 1h bar 03:00-04:00 is the first it fits
    assert m.start == pd.Timestamp("2025-01-01 03:00", tz="UTC")
    oi = m.frame["open_interest"]
    assert oi.iloc[0] == 90_000  # the 00:00 row's close, observed at 04:00
    assert oi.loc["2025-01-01 04:00"] == 90_000 and oi.loc["2025-01-01 07:00"] == 90_050  # no look-ahead
    assert m.symbol == "BTCUSDT"


def test_usd_oi_read_as_coins_is_named_with_both_fixes(files):
    with pytest.raises(MarketDataError) as err:
        read_market(files["candles"], time_col="Date", time_format="%d-%m-%Y %H:%M",
                    open_interest=files["oi_usd"], oi_col="close", oi_max_age="4h")  # fmt: skip
    text = str(err.value)
    assert "column 'open_interest'" in text and "quote (USD) notional read as coins" in text
    assert "oi_unit='quote' (command line: --oi-unit quote)" in text and "--no-check-units" in text
    m = read_market(files["candles"], time_col="Date", time_format="%d-%m-%Y %H:%M", oi_unit="quote",
                    open_interest=files["oi_usd"], oi_col="close", oi_max_age="4h")  # fmt: skip
    np.testing.assert_allclose(m.frame["open_interest"].iloc[0], 90_000 * 94_000 / m.frame["close"].iloc[0])
    off = read_market(files["candles"], time_col="Date", time_format="%d-%m-%Y %H:%M", check_units=False,
                      open_interest=files["oi_usd"], oi_col="close", oi_max_age="4h")  # fmt: skip
    assert off.frame["open_interest"].iloc[0] > 1e9  # the opt-out reads the values as given


def test_coins_read_as_quote_and_percent_funding_are_named(files, tmp_path):
    with pytest.raises(MarketDataError, match=r"coins read as a quote notional.*oi_unit='base'"):
        read_market(files["candles"], time_col="Date", time_format="%d-%m-%Y %H:%M", oi_unit="quote",
                    open_interest=files["oi_coins"], oi_col="close", oi_max_age="4h")  # fmt: skip
    t = pd.date_range("2025-01-01", periods=12, freq="8h", tz="UTC")
    pd.DataFrame({"time": t.asi8 // 1_000_000, "close": 0.01}).to_csv(tmp_path / "f.csv", index=False)
    kw = dict(time_col="Date", time_format="%d-%m-%Y %H:%M", open_interest=files["oi_coins"], oi_max_age="4h")
    with pytest.raises(
        MarketDataError, match=r"funding_rate.*percent read as a fraction.*--funding-unit percent"
    ):
        read_market(files["candles"], funding=tmp_path / "f.csv", **kw)
    m = read_market(files["candles"], funding=tmp_path / "f.csv", funding_unit="percent", **kw)
    assert m.frame["funding_rate"].max() == pytest.approx(1e-4)


def test_separator_is_sniffed_and_named(files, tmp_path):
    m = read_market(files["candles_semicolon"], time_col="Date", time_format="%d-%m-%Y %H:%M",
                    open_interest=files["oi_coins"], oi_max_age="4h")  # fmt: skip
    assert len(m) > 80
    assert sniff_sep("a|b|c\n1|2|3\n") == "|" and sniff_sep("a\tb\n1\t2\n") == "\t"
    with pytest.raises(MarketDataError, match=r"one column.*read with separator ','.*holds ';'.*--sep ';'"):
        read_market(files["candles_semicolon"], sep=",", time_col="Date")


def test_folder_given_as_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="is a folder, not a file"):
        read_market(tmp_path)


# -- the command line ---------------------------------------------------------------------------------------------


def test_render_with_separate_oi_file_and_bad_unit(files, tmp_path):
    args = ["render", "--candles", files["candles"], "--time-col", "Date", "--time-format", "%d-%m-%Y %H:%M",
            "--oi-col", "close", "--oi-max-age", "4h", "--symbol", "BTCUSDT", "--bins", "150", "--dpi", "30",
            "--size", "4", "2", "--progress", "off"]  # fmt: skip
    ok = cli(*args, "--oi", files["oi_coins"], "--out", tmp_path / "x.png")
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "x.png").stat().st_size > 0 and "BTCUSDT: 93 bars of 1h" in ok.stdout
    bad = cli(*args, "--oi", files["oi_usd"], "--oi-unit", "base", "--out", tmp_path / "y.png")
    assert bad.returncode == 2 and not (tmp_path / "y.png").exists()
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and "--oi-unit quote" in lines[0] and "$" not in bad.stdout


def test_bad_flags_and_values_are_one_line(tmp_path, files):
    folder = tmp_path / "dir.png"
    folder.mkdir()
    broken = tmp_path / "tiers.json"
    broken.write_text('{"BTC/USDT:USDT": [')
    zipped = tmp_path / "BTCUSDT-1h-2025-01-01.zip"
    zipped.write_bytes(b"PK\x03\x04 truncated")
    for args, text in (
        (["render", "--candles", files["candles"], "--sep", "ab"], "expected one character"),
        (
            ["render", "--candles", files["candles"], "--leverage", "lognormal:median=20"],
            "expected a preset name",
        ),
        (["liq-price", "--side", "sideways", "--entry", "1", "--leverage", "2"], "expected long or short"),
        (["liq-price", "--side", "long", "--entry", "abc", "--leverage", "2"], "expected a number"),
        (["cascade", "--shock", "-300%"], "expected a relative move in (-1, 1)"),
        (
            ["render", "--candles", files["candles"], "--time-col", "Date", "--out", tmp_path / "x.png"],
            "time_format=",
        ),
        (
            [
                "render",
                "--candles",
                files["candles"],
                "--oi",
                files["oi_coins"],
                "--time-col",
                "Date",
                "--time-format",
                "%d-%m-%Y %H:%M",
                "--oi-max-age",
                "4h",
                "--out",
                folder,
            ],
            "dir.png",
        ),
        (["render", "--candles", files["candles"], "--bogus"], "unrecognized arguments: --bogus"),
        (
            ["liq-price", "--tiers", broken, "--side", "long", "--entry", "1", "--leverage", "2"],
            "not a JSON file",
        ),
        (["render", "--candles", zipped, "--out", tmp_path / "x.png"], "zip"),
    ):
        r = cli(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and text in lines[0], (args, lines)


@needs_data
def test_done_when_render_binance_candles_with_coinglass_oi(tmp_path):
    """The first "done when" command of the issue, as written (run from the project root)."""
    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "x.png"
    cmd = ["render", "--candles", "../shared/data/binance-btcusdt-1h/BTCUSDT_1h_Cleaned.csv", "--time-col", "Date",
           "--time-format", "%d-%m-%Y %H:%M", "--oi",
           "../shared/data/coinglass-btc-4h/derived/oi_binance_stablecoinmargined_btc_4h_coinunits.csv",
           "--oi-col", "close", "--oi-unit", "base", "--oi-max-age", "4h", "--symbol", "BTCUSDT"]  # fmt: skip
    ok = cli(*cmd, "--out", out, cwd=root)
    assert ok.returncode == 0, ok.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "BTCUSDT: 4777 bars of 1h from 2024-11-13 23:00:00+00:00" in ok.stdout
    docs = " ".join((root / "docs" / "data.md").read_text().split())
    assert ok.stdout.splitlines()[0] in docs  # docs/data.md §6a shows this very line
    for usd in ("oi_binance_coinmargined_btc_4h_usd.csv", "oi_allexchanges_btc_4h_usd.csv"):
        cmd[8] = f"../shared/data/coinglass-btc-4h/derived/{usd}"
        bad = cli(*cmd, "--out", tmp_path / "y.png", cwd=root)
        lines = bad.stderr.strip().splitlines()
        assert bad.returncode == 2 and len(lines) == 1, bad.stderr
        assert "quote (USD) notional read as coins" in lines[0] and "--oi-unit quote" in lines[0]
        if usd.startswith("oi_binance"):
            assert lines[0] in docs  # ... and this error line


@needs_data
def test_guards_stay_quiet_on_the_shared_data():
    """Every legitimate combination of the shared files reads without a unit complaint."""
    oi = CG / "oi_binance_stablecoinmargined_btc_4h_coinunits.csv"
    kw = dict(time_col="Date", time_format="%d-%m-%Y %H:%M", oi_col="close", oi_max_age="4h")
    read_market(H1, open_interest=oi, funding=CG / "funding_binance_btcusdt_8h_pct.csv", funding_unit="percent",
                **kw)  # fmt: skip
    for usd in ("oi_binance_coinmargined_btc_4h_usd.csv", "oi_allexchanges_btc_4h_usd.csv"):
        read_market(H1, open_interest=CG / usd, oi_unit="quote", **kw)
    read_market(CG / "price_binance_btcusdt_4h.csv", open_interest=oi, oi_col="close")
    daily = DATA / "coinalyze-btc-daily"
    out = daily / "Bitcoin_derivatives" / "output"
    spot = daily / "ml_models" / "input-output" / "btc_D.csv"
    read_market(spot, open_interest=out / "bitcoin_open_interest.csv", oi_col="close_oi", oi_unit="quote",
                funding=out / "bitcoin_funding_rate.csv", funding_unit="percent", rename={"datetime_utc": "time"},
                assume_utc=True)  # fmt: skip
    read_market(spot, open_interest=oi, oi_col="close", oi_max_age="1D", rename={"datetime_utc": "time"})


@needs_tiers
def test_done_when_liq_price_from_the_tier_file():
    r = cli("liq-price", "--tiers", TIERS, "--symbol", "SOLUSDT", "--side", "LONG", "--entry", "150",
            "--leverage", "20x")  # fmt: skip
    assert r.returncode == 0, r.stderr
    table = json.loads(TIERS.read_text())["SOL/USDT:USDT"]
    mmr = table[0]["maintenanceMarginRate"]
    expected = 150 * (1 - 1 / 20) / (1 - mmr)  # isolated linear long, first bracket, no maintenance amount
    assert f"liquidation price   {expected:,.5f}" in r.stdout
    assert "effective date unknown" in r.stdout
    j = cli("liq-price", "--tiers", TIERS, "--symbol", "eth/usdt:usdt", "--side", "Short", "--entry", "2.5k",
            "--leverage", "x10", "--qty", "100", "--json")  # fmt: skip
    out = json.loads(j.stdout)
    assert out["symbol"] == "ETHUSDT" and out["schedule_effective"] is None and out["entry"] == 2500
    miss = cli("liq-price", "--tiers", TIERS, "--symbol", "SOLUSD", "--side", "long", "--entry", "1",
               "--leverage", "2")  # fmt: skip
    assert miss.returncode == 2 and "SOLUSDT" in miss.stderr  # similar symbols are listed


# -- human forms -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100k", 1e5),
        ("1.5m", 1.5e6),
        ("$95,000", 95_000.0),
        ("2e9", 2e9),
        ("-3k", -3000.0),
        ("1bn", 1e9),
        ("150 USDT", 150.0),
        ("1.5kusd", 1500.0),
        ("$1.5M", 1.5e6),
    ],
)
def test_amounts(text, value):
    assert amount(text) == value


@pytest.mark.parametrize(
    ("text", "value"), [("-3%", -0.03), ("+5 %", 0.05), ("-0.03", -0.03), ("0.5%", 0.005)]
)
def test_moves(text, value):
    assert move(text) == pytest.approx(value)


def test_sides_leverage_and_rejections():
    assert side("LONG") == "long" and side("Short") == "short"
    assert leverage_number("50x") == leverage_number("50X") == leverage_number("x50") == 50.0
    for parse, text in (
        (side, "buy"),
        (move, "-1.5"),
        (move, "150%"),
        (leverage_number, "0x"),
        (amount, "1.2.3"),
        (amount, "150 BTC"),
        (amount, "USDT"),
    ):
        with pytest.raises(argparse.ArgumentTypeError):
            parse(text)


def test_leverage_specs():
    from heatmap.leverage import Leverage

    assert leverage_spec("20x") == Leverage.tiers({20: 1.0})
    assert leverage_spec("coinglass") == Leverage.preset("coinglass")
    assert leverage_spec("lognormal:median=20,sigma=0.6") == Leverage.lognormal(median=20, sigma=0.6)
    assert leverage_spec("gamma:mean=15,shape=2,max=50") == Leverage.gamma(mean=15, shape=2, max_leverage=50)
    tiers = leverage_spec("tiers:10=.4,25=.3,50=.2,100=.1")
    assert tiers == Leverage.tiers({10: 0.4, 25: 0.3, 50: 0.2, 100: 0.1})
    for bad in ("tiers:10=.5,25=.3", "lognormal:median=20", "weibull:k=1", "tiers:10"):
        with pytest.raises(argparse.ArgumentTypeError):
            leverage_spec(bad)


# -- the same time window in Python and on the command line -------------------------------------------------------


def test_date_only_end_is_the_whole_day_in_python_and_cli(files, tmp_path):
    import datetime

    from heatmap.market import time_bounds

    m = read_market(files["candles"], time_col="Date", time_format="%d-%m-%Y %H:%M",
                    open_interest=files["oi_coins"], oi_max_age="4h")  # fmt: skip
    day = m.slice(None, "2025-01-02")
    assert day.index[-1] == pd.Timestamp("2025-01-02 23:00", tz="UTC")
    assert m["2025-01-01":"2025-01-02"].equals(day) and m.slice(None, datetime.date(2025, 1, 2)).equals(day)
    instant = m.slice(None, "2025-01-02 00:00")
    assert instant.index[-1] == pd.Timestamp("2025-01-02 00:00", tz="UTC")
    assert m.slice(None, pd.Timestamp("2025-01-02")).equals(instant)  # a Timestamp is an instant
    assert time_bounds("2025-01", None)[0] == pd.Timestamp("2025-01-01", tz="UTC")
    with pytest.raises(ValueError, match="is before start"):
        time_bounds("2025-01-03", "2025-01-02")
    r = cli("render", "--candles", files["candles"], "--time-col", "Date", "--time-format", "%d-%m-%Y %H:%M",
            "--oi", files["oi_coins"], "--oi-max-age", "4h", "--to", "2025-01-02", "--bins", "100", "--dpi", "20",
            "--size", "4", "2", "--json", "--out", tmp_path / "w.png")  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["market"]["bars"] == len(day) and doc["market"]["end"] == "2025-01-03T00:00:00+00:00"


# -- every command answers --json ----------------------------------------------------------------------------------


def test_every_command_prints_json(files, tmp_path):
    common = ["--candles", files["candles"], "--time-col", "Date", "--time-format", "%d-%m-%Y %H:%M",
              "--oi", files["oi_coins"], "--oi-max-age", "4h"]  # fmt: skip
    runs = {
        "render": ["render", *common, "--bins", "100", "--dpi", "20", "--size", "4", "2", "--top", "3",
                   "--out", tmp_path / "r.png"],
        "demo": ["demo", "--days", "3", "--bins", "100", "--out", tmp_path / "d.png"],
        "cascade": ["cascade", "--shock", "-2%", *common, "--bins", "100", "--shocks", "-1%", "1%"],
        "liq-price": ["liq-price", "--side", "long", "--entry", "100k", "--leverage", "20x"],
        "aggregate": ["aggregate", "--venue", f"a={tmp_path / 'bars.csv'}", "--bins", "100", "--dpi", "20",
                      "--size", "4", "2", "--out", tmp_path / "a.png"],
    }  # fmt: skip
    m = read_market(files["candles"], time_col="Date", time_format="%d-%m-%Y %H:%M",
                    open_interest=files["oi_coins"], oi_max_age="4h")  # fmt: skip
    m.frame.reset_index().assign(time=lambda f: f["time"].astype("int64") // 10**6).to_csv(
        tmp_path / "bars.csv", index=False
    )
    for name, args in runs.items():
        r = cli(*args, "--json")
        assert r.returncode == 0, (name, r.stderr)
        doc = json.loads(r.stdout)  # stdout is one JSON object and nothing else
        assert isinstance(doc, dict), name
    render = json.loads(cli(*runs["render"], "--json").stdout)
    assert render["market"]["bars"] == 93 and render["clusters"] and len(render["clusters"]) <= 3
    assert {"rank", "side", "price", "price_low", "price_high", "distance", "notional"} <= set(
        render["clusters"][0]
    )


def test_text_output_is_formatted_with_the_n_asked_for(tmp_path):
    r = cli("demo", "--days", "3", "--bins", "150", "--top", "9", "--out", tmp_path / "d.png")
    assert r.returncode == 0, r.stderr
    assert "largest clusters near the last price (top 9):" in r.stdout
    rows = [line for line in r.stdout.splitlines() if line.strip().startswith("#")]
    assert 1 <= len(rows) <= 9 and all("$" in line and "%" in line for line in rows)
    if len(rows) < 9:
        assert f"only {len(rows)} of 9" in r.stdout
    assert "e+0" not in r.stdout  # no raw float reprs


# -- one line on the first compilation -----------------------------------------------------------------------------


def test_first_compilation_is_announced_once(tmp_path):
    pytest.importorskip("numba")
    import os

    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache"), "HEATMAP_JIT": "1"}
    args = [
        sys.executable,
        "-m",
        "heatmap",
        "demo",
        "--days",
        "2",
        "--bins",
        "80",
        "--out",
        str(tmp_path / "d.png"),
    ]
    first = subprocess.run(args, capture_output=True, text=True, env=env, timeout=900, check=False)
    assert first.returncode == 0, first.stderr
    from heatmap.cli.jitnote import NOTE

    assert first.stderr.count(NOTE) == 1
    again = subprocess.run(args, capture_output=True, text=True, env=env, timeout=900, check=False)
    assert again.returncode == 0 and NOTE not in again.stderr
    ledger = cli("render", "--candles", Path(__file__).parent / "fixtures" / "render" / "bars.csv", "--engine",
                 "ledger", "--bins", "60", "--dpi", "20", "--size", "4", "2", "--out", tmp_path / "l.png")  # fmt: skip
    assert NOTE not in ledger.stderr  # the ledger engine is never compiled


# -- --coinglass-dir for render, the table options for aggregate ---------------------------------------------------


@needs_data
def test_render_reads_a_coinglass_folder(tmp_path):
    r = cli("render", "--coinglass-dir", CG, "--from", "2025-05-01", "--bins", "120", "--dpi", "20", "--size", "4",
            "2", "--json", "--out", tmp_path / "c.png")  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["market"]["freq"] == "4h" and "funding_rate" in doc["market"]["columns"]
    assert doc["market"]["start"] == "2025-05-01T00:00:00+00:00"
    assert "price_binance_btcusdt_4h.csv" in doc["source"]


def test_aggregate_reads_tables_with_the_table_options(files, tmp_path):
    df = hourly_candles()
    semi = tmp_path / "venue.csv"
    out = pd.DataFrame(
        {
            "Date": df.index.strftime("%d-%m-%Y %H:%M"),
            "O": df["open"], "H": df["high"], "L": df["low"], "C": df["close"],
            "OI_USD": 90_000 * df["close"],
        }
    )  # fmt: skip
    out.to_csv(semi, sep=";", index=False)
    r = cli("aggregate", "--venue", f"x={semi}", "--venue", f"y={semi}", "--time-col", "Date", "--time-format",
            "%d-%m-%Y %H:%M", "--rename", "O=open", "--rename", "H=high", "--rename", "L=low", "--rename",
            "C=close", "--rename", "OI_USD=open_interest", "--oi-unit", "quote", "--bins", "80", "--dpi", "20",
            "--json", "--out", tmp_path / "agg.png")  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [v["name"] for v in doc["venues"]] == ["x", "y"] and doc["venues"][0]["bars"] == 96
    bad = cli("aggregate", "--venue", f"x={semi}", "--time-col", "Date", "--out", tmp_path / "agg.png")
    assert (
        bad.returncode == 2
        and "--venue x: venue.csv column 'date'" in bad.stderr
        and "--time-format" in bad.stderr
    )
