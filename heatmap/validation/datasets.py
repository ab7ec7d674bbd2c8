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

__all__ = ["load_coinglass", "hourly_market", "COINGLASS_FILES"]

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


def hourly_market(market_4h: Market, candles: str | Path | pd.DataFrame) -> Market:
    """A 1h market along the 4h one: 1h candles, open interest and funding known only at 4h resolution.

    * Candles: Binance BTCUSDT perpetual 1h OHLCV (``Date`` as ``DD-MM-YYYY HH:MM`` UTC, ``Volume`` [base]), or a
      DataFrame with ``open, high, low, close, volume`` indexed by UTC hour.
    * Open interest is observed at each 4h close only: the last hour of every 4h bar carries the 4h close OI,
      the other hours keep the previous 4h close (the engine then opens/closes the 4h ΔOI after the last hour's
      consumption, as the 4h engine does, and never earlier than the data exist).
    * Funding settles in the hour that opens at the settlement time.

    Parameters
    ----------
    market_4h : Market
        From :func:`load_coinglass`.
    candles : path or DataFrame

    Returns
    -------
    Market
        1h bars covering the 4h market exactly.
    """
    if isinstance(candles, pd.DataFrame):
        c = candles
    else:
        from heatmap.io.frames import read_ohlcv_csv

        c = read_ohlcv_csv(candles, time_col="Date", time_format="%d-%m-%Y %H:%M", assume_utc=True)
    f4 = market_4h.frame
    step = market_4h.freq
    c = c.loc[f4.index[0] : f4.index[-1] + step - pd.Timedelta("1h")]
    expected = pd.date_range(f4.index[0], f4.index[-1] + step - pd.Timedelta("1h"), freq="1h")
    if not c.index.equals(expected):
        raise ValueError(
            f"candles must cover every hour of the 4h market ({expected[0]} → {expected[-1]}); "
            f"got {len(c)} of {len(expected)} hours"
        )
    last_hour = pd.DatetimeIndex(f4.index) + (step - pd.Timedelta("1h"))
    close_oi = pd.Series(f4["open_interest"].to_numpy(), index=last_hour)
    oi = close_oi.reindex(c.index)
    oi.iloc[0] = f4["open_interest"].iloc[0] if np.isnan(oi.iloc[0]) else oi.iloc[0]
    oi = oi.ffill()
    df = c[["open", "high", "low", "close"]].astype(float).copy()
    if "volume" in c:
        df["volume"] = c["volume"].astype(float)
    df["open_interest"] = oi.to_numpy()
    if "funding_rate" in f4:
        fr = pd.Series(0.0, index=c.index)
        settled = f4["funding_rate"][f4["funding_rate"] != 0]
        fr.loc[settled.index] = settled.to_numpy()
        df["funding_rate"] = fr.to_numpy()
    return Market(df, symbol=market_4h.symbol, venue=market_4h.venue, freq="1h")


def _utc(t: Any) -> pd.Timestamp:
    ts = pd.Timestamp(t)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
