"""``liq-price`` command: direct ``run()`` calls and the ``python -m heatmap`` entry point."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from heatmap.cli import liqprice
from heatmap.exchanges import get
from heatmap.margin import bybit_liquidation_price, liquidation_price


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    registered = liqprice.add_parser(sub)
    assert isinstance(registered, argparse.ArgumentParser)
    return parser.parse_args(["liq-price", *argv])


def test_run_prints_all_fields(capsys: pytest.CaptureFixture[str]) -> None:
    args = _args("--side", "short", "--entry", "100000", "--leverage", "20", "--qty", "50")
    assert liqprice.run(args) == 0
    text = capsys.readouterr().out
    expected = liquidation_price(100_000.0, 20, "short", qty=50.0, schedule=get("binance-usdm", "BTCUSDT"))
    for needle in (
        f"{expected:,.2f}",
        "bankruptcy price    105,000.00",
        "bracket             4 (table effective 2024-10-24)",
        "MMR                 1.0000%",
        "maintenance amount  11,450 USDT",
        f"{(expected / 100_000 - 1) * 100:+.3f} %",
    ):
        assert needle in text


def test_json_output_and_dated_table(capsys: pytest.CaptureFixture[str]) -> None:
    args = _args(
        "--side",
        "long",
        "--entry",
        "32481.98",
        "--leverage",
        "20",
        "--qty",
        "100",
        "--date",
        "2021-06-01",
        "--json",
    )
    assert liqprice.run(args) == 0
    out = json.loads(capsys.readouterr().out)
    sched = get("binance-usdm", "BTCUSDT", date="2021-06-01")
    assert out["schedule_effective"] == "2021-03-18"
    assert out["liquidation_price"] == pytest.approx(
        liquidation_price(32481.98, 20, "long", qty=100.0, schedule=sched)
    )
    assert (out["bracket"], out["mmr"], out["maintenance_amount"]) == (4, 0.025, 16_300.0)
    assert out["distance_pct"] == pytest.approx((out["liquidation_price"] / 32481.98 - 1) * 100)


def test_explicit_mmr_and_other_venues() -> None:
    out = liqprice.compute(_args("--side", "long", "--entry", "100", "--leverage", "10", "--mmr", "0.01"))
    assert out["liquidation_price"] == pytest.approx(100 * 0.9 / 0.99) and out["bracket"] is None
    out = liqprice.compute(
        _args("--venue", "bybit", "--side", "long", "--entry", "20000", "--leverage", "50", "--qty", "1")
    )
    assert out["liquidation_price"] == pytest.approx(19_700.0)
    assert out["liquidation_price"] == bybit_liquidation_price(20_000.0, 50, "long", qty=1.0, mmr=0.005)
    out = liqprice.compute(
        _args(
            "--venue",
            "hyperliquid",
            "--symbol",
            "BTC",
            "--side",
            "short",
            "--entry",
            "100000",
            "--leverage",
            "40",
        )
    )
    assert out["mmr"] == 0.0125 and out["liquidation_price"] == pytest.approx(100_000 * 1.025 / 1.0125)
    out = liqprice.compute(
        _args(
            "--venue",
            "binance-coinm",
            "--symbol",
            "BTCUSD_PERP",
            "--side",
            "long",
            "--entry",
            "30000",
            "--leverage",
            "4",
            "--qty",
            "9000000",
        )
    )  # 300 BTC
    assert out["contract"] == "inverse" and out["margin_unit"] == "BTC"
    assert out["bracket"] == 7 and out["maintenance_amount"] == pytest.approx(11.81)


def test_long_at_1x_never(capsys: pytest.CaptureFixture[str]) -> None:
    liqprice.run(_args("--side", "long", "--entry", "100", "--leverage", "1"))
    text = capsys.readouterr().out
    assert "never (long at <= 1x)" in text and "distance from entry n/a" in text


def test_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match=r"150x .* 125x .* --no-check-max-leverage"):
        liqprice.compute(_args("--side", "long", "--entry", "100000", "--leverage", "150"))
    out = liqprice.compute(
        _args("--side", "long", "--entry", "100000", "--leverage", "150", "--no-check-max-leverage")
    )
    assert 0 < out["liquidation_price"] < 100_000
    with pytest.raises(ValueError, match="--cum: needs --mmr"):
        liqprice.compute(_args("--side", "long", "--entry", "100", "--leverage", "5", "--cum", "3"))
    with pytest.raises(ValueError, match="symbol"):
        liqprice.compute(_args("--symbol", "NOPE", "--side", "long", "--entry", "100", "--leverage", "5"))
    with pytest.raises(SystemExit):  # argparse: "expected a leverage > 0"
        _args("--side", "long", "--entry", "100", "--leverage", "0")


def _dispatcher_works() -> bool:
    proc = subprocess.run(
        [sys.executable, "-m", "heatmap", "--help"], capture_output=True, text=True, check=False
    )
    return proc.returncode == 0 and "liq-price" in proc.stdout


def test_subprocess_entry_point() -> None:
    if not _dispatcher_works():
        pytest.skip("python -m heatmap dispatcher not available")
    cmd = [
        sys.executable,
        "-m",
        "heatmap",
        "liq-price",
        "--side",
        "long",
        "--entry",
        "100000",
        "--leverage",
        "50",
        "--json",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    out = json.loads(proc.stdout)
    assert out["liquidation_price"] == pytest.approx(100_000 * (1 - 1 / 50) / (1 - 0.004))
    bad = subprocess.run([*cmd[:-1], "--leverage", "500"], capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "500x" in bad.stderr
