"""Readers: the only part of the package that reads market files.

Binance public data (:mod:`heatmap.io.binance`), realized liquidations (:mod:`heatmap.io.liquidations`),
generic and CoinGlass-style CSV tables (:mod:`heatmap.io.frames`) and live data through ccxt
(:mod:`heatmap.io.ccxt`). Names resolve lazily, so ``import heatmap.io`` stays cheap.

Examples
--------
>>> import heatmap.io as hio
>>> m = hio.read_binance(klines="BTCUSDT-1h-2025-01-*.zip", metrics="BTCUSDT-metrics-2025-01-*.zip",
...                      funding="BTCUSDT-fundingRate-2025-01.zip")  # doctest: +SKIP
>>> per_bar = hio.liquidations_per_bar(hio.read_liquidations("forceorder.jsonl"), m)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "read_binance": "heatmap.io.binance",
    "read_binance_klines": "heatmap.io.binance",
    "read_binance_metrics": "heatmap.io.binance",
    "read_binance_funding": "heatmap.io.binance",
    "read_liquidations": "heatmap.io.liquidations",
    "read_bybit_liquidations": "heatmap.io.liquidations",
    "liquidations_per_bar": "heatmap.io.liquidations",
    "read_liquidation_bars": "heatmap.io.liquidations",
    "read_csv_frame": "heatmap.io.frames",
    "read_csv_market": "heatmap.io.frames",
    "read_ohlcv_csv": "heatmap.io.frames",
    "read_coinglass_market": "heatmap.io.frames",
    "fetch_ccxt": "heatmap.io.ccxt",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'heatmap.io' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
