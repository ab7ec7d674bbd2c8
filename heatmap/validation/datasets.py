"""The standard validation data set: Binance BTC 4h bars and realized liquidations from CoinGlass-style tables.

Files (as derived from CoinGlass API history, one CSV each, ``time`` in ms = bar open, UTC):

* ``price_binance_btcusdt_4h.csv`` — BTCUSDT perpetual OHLC [quote] and ``volume_usd`` [quote];
* ``oi_binance_stablecoinmargined_btc_4h_coinunits.csv`` — open-interest OHLC [base] (the close is the OI at the
  bar's close);
* ``funding_binance_btcusdt_8h_pct.csv`` — funding rate per 8 h period [percent]; the close is the settled rate,
  placed at the period's end;
* ``liq_binance_allBTCpairs_4h_usd.csv`` — long/short liquidations per 4h bar [quote], all Binance BTC pairs.

Only the readers in :mod:`heatmap.io` touch the files. The volume column becomes ``volume`` [base] by dividing
by the bar's typical price ``(high + low + close)/3`` (an approximation: the exact base volume is not in the file).

Examples
--------
>>> market, realized = load_coinglass("../shared/data/coinglass-btc-4h/derived")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from heatmap.market import Market

__all__ = ["load_coinglass", "COINGLASS_FILES"]

COINGLASS_FILES = {
    "price": "price_binance_btcusdt_4h.csv",
    "open_interest": "oi_binance_stablecoinmargined_btc_4h_coinunits.csv",
    "funding": "funding_binance_btcusdt_8h_pct.csv",
    "liquidations": "liq_binance_allBTCpairs_4h_usd.csv",
}


def load_coinglass(
    directory: str | Path,
    *,
    start: Any = None,
    end: Any = None,
    volume: bool = True,
    funding: bool = True,
) -> tuple[Market, pd.DataFrame]:
    """Market and realized liquidations per bar from a directory of the CoinGlass-style 4h files.

    Parameters
    ----------
    directory : path
        Folder holding the files of :data:`COINGLASS_FILES`.
    start, end : timestamp-like, optional
        Keep bars with open time in ``[start, end]``. By default the market spans the bars where price, open
        interest and liquidations all exist.
    volume : bool, default True
        Add ``volume`` [base] from ``volume_usd`` (see the module docstring).
    funding : bool, default True
        Read the funding file (bars before its first row get rate 0).

    Returns
    -------
    (Market, DataFrame)
        The market and realized liquidations aligned to its bars (``long``, ``short`` [quote]).
    """
    from heatmap.io.frames import read_coinglass_market, read_csv_frame
    from heatmap.io.liquidations import liquidations_per_bar, read_liquidation_bars

    d = Path(directory)
    missing = [f for k, f in COINGLASS_FILES.items() if not (d / f).is_file() and (funding or k != "funding")]
    if missing:
        raise FileNotFoundError(f"{d}: missing {missing}")
    liq = read_liquidation_bars(d / COINGLASS_FILES["liquidations"])
    lo = liq.index[0] if start is None else _utc(start)
    hi = liq.index[-1] if end is None else _utc(end)
    market = read_coinglass_market(
        price=d / COINGLASS_FILES["price"],
        open_interest=d / COINGLASS_FILES["open_interest"],
        funding=d / COINGLASS_FILES["funding"] if funding else None,
        oi_unit="base",
        start=lo,
        end=hi,
    )
    if volume:
        px = read_csv_frame(d / COINGLASS_FILES["price"])
        if "volume_usd" not in px.columns:
            raise ValueError(f"{COINGLASS_FILES['price']}: no volume_usd column; pass volume=False")
        f = market.frame
        vq = px["volume_usd"].astype(float).reindex(f.index)
        if vq.isna().any():
            raise ValueError(f"volume_usd missing for {int(vq.isna().sum())} market bars; pass volume=False")
        typical = (f["high"] + f["low"] + f["close"]) / 3.0
        market = market.with_columns(volume=np.asarray(vq / typical, dtype=float))
    realized = liquidations_per_bar(liq, market, outside="drop")
    return market, realized


def _utc(t: Any) -> pd.Timestamp:
    ts = pd.Timestamp(t)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
