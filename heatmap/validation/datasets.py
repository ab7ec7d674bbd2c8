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

__all__ = ["load_coinglass", "hourly_market", "daily_oi_market", "COINGLASS_FILES"]

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


def daily_oi_market(
    candles: str | Path | pd.DataFrame,
    open_interest: str | Path | pd.DataFrame,
    *,
    funding: str | Path | pd.DataFrame | None = None,
    start: Any = None,
    end: Any = None,
    settlements: tuple[int, ...] = (0, 8, 16),
    symbol: str = "BTCUSDT",
    venue: str = "binance",
) -> Market:
    """A 1h market from 1h candles and **daily** open interest and funding, without look-ahead.

    * Candles: Binance 1h OHLCV (``Date`` as ``DD-MM-YYYY HH:MM`` UTC, ``Volume`` [base]) or a DataFrame with
      ``open, high, low, close, volume`` indexed by UTC hour.
    * Open interest: daily rows (``timestamp`` = UTC day, ``close_oi`` [quote] = the open interest at the day's
      close; ``open_interest`` [quote] = at its open), as in Coinalyze's daily export. The day's close enters only
      in the day's **last hour** (23:00), converted to base units with that hour's close; the other hours keep
      the previous day's close (the first day starts from its opening value, known at its start). The engine
      opens and closes the day's ΔOI after the 23:00 bar's consumption, never earlier than the data exist.
    * Funding: daily rows (``timestamp``, ``close_rate`` [percent per settlement]). Every settlement hour of day
      D (``settlements``, UTC hours; Binance: 0, 8, 16) carries the close rate of day D − 1, the latest value
      published before it (the day's own rates are not known at its 08:00 and 16:00 settlements).

    Parameters
    ----------
    candles, open_interest, funding : path or DataFrame
    start, end : timestamp-like, optional
        First and last candle (UTC, inclusive). Every day in between needs an open-interest row.
    settlements : tuple of int
        Funding settlement hours (UTC).
    symbol, venue : str

    Returns
    -------
    Market
        1h bars with ``open_interest`` [base], ``volume`` [base] and ``funding_rate`` [fraction per settlement].

    Examples
    --------
    >>> m = daily_oi_market("BTCUSDT_1h_Cleaned.csv", "bitcoin_open_interest.csv",
    ...                     funding="bitcoin_funding_rate.csv", start="2024-01-01")  # doctest: +SKIP
    """
    from heatmap.io.frames import read_csv_frame, read_ohlcv_csv

    if isinstance(candles, pd.DataFrame):
        c = candles
    else:
        c = read_ohlcv_csv(candles, time_col="Date", time_format="%d-%m-%Y %H:%M", assume_utc=True)
    if start is not None or end is not None:
        c = c.loc[None if start is None else _utc(start) : None if end is None else _utc(end)]
    if c.empty:
        raise ValueError(f"candles: no hours in [{start}, {end}]")
    hours = pd.DatetimeIndex(c.index)

    def read(path: Any) -> pd.DataFrame:
        return read_csv_frame(path, time_col="timestamp", assume_utc=True)

    oi = _daily(open_interest, read, "open_interest", ("close_oi", "open_interest"))
    days = pd.DatetimeIndex(hours.normalize().unique())
    need = days.difference(oi.index)
    if len(need):
        raise ValueError(
            f"open_interest: no daily row for {len(need)} days of the candles (first: {need[0].date()}); "
            f"it covers {oi.index[0].date()} -> {oi.index[-1].date()}"
        )
    for col in ("close_oi", "open_interest"):
        bad = ~(np.isfinite(oi[col].to_numpy(dtype=float)) & (oi[col].to_numpy(dtype=float) >= 0))
        if bad.any():
            raise ValueError(
                f"open_interest: column {col!r} must be finite and >= 0 on days {list(oi.index[bad][:5].date)}"
            )
    last = hours[hours.hour == 23]
    base = pd.Series(np.nan, index=c.index)
    base.loc[last] = oi["close_oi"].reindex(last.normalize()).to_numpy(dtype=float) / c["close"].loc[
        last
    ].to_numpy(dtype=float)
    if np.isnan(base.iloc[0]):
        base.iloc[0] = float(oi.loc[c.index[0].normalize(), "open_interest"]) / float(c["open"].iloc[0])
    base = base.ffill()
    df = c[["open", "high", "low", "close"]].astype(float).copy()
    if "volume" in c:
        df["volume"] = c["volume"].astype(float)
    df["open_interest"] = base.to_numpy()
    if funding is not None:
        fr_day = _daily(funding, read, "funding", ("close_rate",))["close_rate"].astype(float) / 100.0
        prev = fr_day.reindex(days - pd.Timedelta("1D"))
        if prev.isna().any():
            miss = days[prev.isna().to_numpy()]
            raise ValueError(
                f"funding: no close rate for the day before {len(miss)} candle days (first: {miss[0].date()})"
            )
        rate = pd.Series(0.0, index=c.index)
        settle = hours[np.isin(hours.hour, settlements) & (hours.minute == 0)]
        rate.loc[settle] = prev.reindex(settle.normalize() - pd.Timedelta("1D")).to_numpy()
        df["funding_rate"] = rate.to_numpy()
    return Market(df, symbol=symbol, venue=venue, freq="1h")


def _daily(src: Any, reader: Any, what: str, cols: tuple[str, ...]) -> pd.DataFrame:
    frame = src if isinstance(src, pd.DataFrame) else reader(src)
    if not isinstance(frame.index, pd.DatetimeIndex):
        if "timestamp" not in frame.columns:
            raise ValueError(f"{what}: needs a 'timestamp' column (UTC day) or a UTC DatetimeIndex")
        frame = frame.set_index(pd.to_datetime(frame["timestamp"], utc=True))
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: lacks columns {missing}; it has {list(frame.columns)}")
    idx = pd.DatetimeIndex(frame.index)
    idx = idx if idx.tz is not None else idx.tz_localize("UTC")
    out = frame.set_axis(idx.tz_convert("UTC").normalize())
    if out.index.has_duplicates:
        raise ValueError(f"{what}: duplicate days {list(out.index[out.index.duplicated()][:5].date)}")
    return out.sort_index()
