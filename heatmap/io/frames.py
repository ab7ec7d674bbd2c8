"""Generic CSV readers and convenience readers for common derived tables (CoinGlass-style 4h, OHLCV CSVs).

Examples
--------
>>> from heatmap.io.frames import read_coinglass_market
>>> m = read_coinglass_market(price="price_binance_btcusdt_4h.csv",
...                           open_interest="oi_binance_stablecoinmargined_btc_4h_coinunits.csv",
...                           funding="funding_binance_btcusdt_8h_pct.csv")  # doctest: +SKIP
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Literal

import pandas as pd

from heatmap.io._files import Source, expand_paths, iter_texts, parse_times
from heatmap.market import Market, MarketDataError

__all__ = ["read_csv_frame", "read_csv_market", "read_ohlcv_csv", "read_coinglass_market"]

_TIME_CANDIDATES = ("time", "timestamp", "open_time", "date", "datetime", "datetime_utc")


def read_csv_frame(
    path: Source,
    *,
    time_col: str = "auto",
    time_format: str = "auto",
    assume_utc: bool = False,
    rename: Mapping[str, str] | None = None,
    lowercase: bool = True,
) -> pd.DataFrame:
    """Read CSV files with a header into a DataFrame indexed by UTC time.

    Parameters
    ----------
    path : path, glob or list of them
        ``.csv`` or ``.zip`` files with a header row; several files are concatenated.
    time_col : str
        Time column; ``"auto"`` takes the first of ``time, timestamp, open_time, date, datetime, datetime_utc``
        (after lower-casing).
    time_format : str
        ``"auto"`` (epoch numbers with the unit chosen by magnitude, or ISO 8601 strings), ``"s"``, ``"ms"``,
        ``"us"``, ``"ns"`` or a ``strftime`` pattern such as ``"%d-%m-%Y %H:%M"``.
    assume_utc : bool
        Naive datetimes (no offset) are an error unless this is set.
    rename : mapping, optional
        Column renames applied after lower-casing, e.g. ``{"sum_open_interest": "open_interest"}``.
    lowercase : bool
        Lower-case and strip column names.

    Returns
    -------
    pandas.DataFrame
        Index ``time`` (UTC, sorted), the other columns as read (numeric where they parse).

    Examples
    --------
    >>> df = read_csv_frame("BTCUSDT_1h_Cleaned.csv", time_col="date", time_format="%d-%m-%Y %H:%M",
    ...                     assume_utc=True)  # doctest: +SKIP
    """
    parts = []
    for p in expand_paths(path, what="path"):
        for _, text in iter_texts(p):
            parts.append(pd.read_csv(io.StringIO(text)))
    df = pd.concat(parts, ignore_index=True)
    if lowercase:
        df.columns = [str(c).strip().lower() for c in df.columns]
    if rename:
        df = df.rename(columns=dict(rename))
    if time_col == "auto":
        found = [c for c in _TIME_CANDIDATES if c in df.columns]
        if not found:
            raise MarketDataError(f"no time column among {list(df.columns)}; pass time_col=")
        time_col = found[0]
    elif lowercase:
        time_col = time_col.strip().lower()
    if time_col not in df.columns:
        raise MarketDataError(f"time_col={time_col!r} is not a column; the file has {list(df.columns)}")
    t = parse_times(df[time_col], time_format=time_format, assume_utc=assume_utc, where=f"{path} {time_col}")
    out = df.drop(columns=[time_col])
    out.index = t.rename("time")
    return out.sort_index(kind="stable")


def read_csv_market(
    path: Source,
    *,
    time_col: str = "auto",
    time_format: str = "auto",
    assume_utc: bool = False,
    rename: Mapping[str, str] | None = None,
    oi_unit: Literal["base", "quote"] = "base",
    funding_unit: Literal["fraction", "percent"] = "fraction",
    symbol: str | None = None,
    venue: str | None = None,
    freq: str | pd.Timedelta | None = None,
    fill_gaps: Literal["ffill"] | None = None,
    extra_columns: Literal["error", "drop"] = "drop",
) -> Market:
    """Read one table that already holds a Market's columns (after ``rename``) and validate it.

    The file must have bar open times and ``open, high, low, close, open_interest`` (optional Market columns are
    used when present). Columns that are not Market columns are dropped by default (``extra_columns``).

    Examples
    --------
    >>> m = read_csv_market("bars.csv", time_col="time", rename={"oi_usd": "open_interest"},
    ...                     oi_unit="quote")  # doctest: +SKIP
    """
    df = read_csv_frame(
        path, time_col=time_col, time_format=time_format, assume_utc=assume_utc, rename=rename
    )
    return Market.from_frame(
        df,
        oi_unit=oi_unit,
        funding_unit=funding_unit,
        symbol=symbol,
        venue=venue,
        freq=freq,
        fill_gaps=fill_gaps,
        extra_columns=extra_columns,
    )


def read_ohlcv_csv(
    path: Source,
    *,
    time_col: str = "auto",
    time_format: str = "auto",
    assume_utc: bool = False,
    rename: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Read candles (``open, high, low, close`` and optional ``volume`` [base]) indexed by UTC bar open time.

    The result feeds :meth:`Market.from_frames <heatmap.market.Market.from_frames>` together with an open
    interest series. Other columns are dropped.

    Examples
    --------
    The Binance BTCUSDT 1h CSV with ``Date`` as ``DD-MM-YYYY HH:MM`` (UTC):

    >>> candles = read_ohlcv_csv("BTCUSDT_1h_Cleaned.csv", time_col="Date", time_format="%d-%m-%Y %H:%M",
    ...                          assume_utc=True)  # doctest: +SKIP
    """
    df = read_csv_frame(
        path, time_col=time_col, time_format=time_format, assume_utc=assume_utc, rename=rename
    )
    need = ["open", "high", "low", "close"]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise MarketDataError(f"{path}: missing columns {missing}; the file has {list(df.columns)}")
    keep = need + [c for c in ("volume", "taker_buy_volume") if c in df.columns]
    return df[keep].astype(float)


def _ohlc_file(path: Source, what: str) -> pd.DataFrame:
    df = read_csv_frame(path, time_col="time", time_format="auto")
    if "close" not in df.columns:
        raise MarketDataError(
            f"{what}: expected an OHLC table with a 'close' column; the file has {list(df.columns)}"
        )
    if df.index.has_duplicates:
        raise MarketDataError(f"{what}: duplicate times in {path}")
    return df


def read_coinglass_market(
    *,
    price: Source,
    open_interest: Source,
    funding: Source | None = None,
    oi_unit: Literal["base", "quote"] = "base",
    funding_unit: Literal["fraction", "percent"] = "percent",
    funding_interval: str | pd.Timedelta = "8h",
    funding_time: Literal["close", "open"] = "close",
    symbol: str | None = "BTCUSDT",
    venue: str | None = "binance",
    span: Literal["intersection", "candles"] = "intersection",
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
) -> Market:
    """Build a Market from CoinGlass-style OHLC history tables (``time`` in ms = bar open, UTC).

    * ``price``: ``time, open, high, low, close[, volume_usd]`` [quote] (``volume_usd`` is not used).
    * ``open_interest``: OI OHLC per bar; the **close** is the open interest at the bar's close
      (observation time ``time + bar``). ``oi_unit="base"`` for coin units, ``"quote"`` for USD (divided by the
      bar's close price).
    * ``funding``: funding-rate OHLC per funding period (``funding_unit="percent"`` by default, as CoinGlass
      publishes). The close is taken as the rate settled at the period's end, ``time + funding_interval``
      (``funding_time="close"``); ``funding_time="open"`` places it at ``time`` instead. Placing it at the end
      can never use information before it exists. Bars before the first funding row get 0.

    Parameters
    ----------
    price, open_interest, funding : path, glob or list
        CSV files.
    oi_unit, funding_unit, funding_interval, funding_time
        Units and timing, see above.
    symbol, venue, span
        See :meth:`Market.from_frames <heatmap.market.Market.from_frames>`.
    start, end : str or Timestamp, optional
        Keep bars with open time in ``[start, end]`` (inclusive label slice).

    Returns
    -------
    Market

    Examples
    --------
    The Binance BTC 4h validation market (2024-11-13 20:00 -> 2025-05-31 20:00 UTC):

    >>> d = "../shared/data/coinglass-btc-4h/derived/"
    >>> m = read_coinglass_market(price=d + "price_binance_btcusdt_4h.csv",
    ...                           open_interest=d + "oi_binance_stablecoinmargined_btc_4h_coinunits.csv",
    ...                           funding=d + "funding_binance_btcusdt_8h_pct.csv", oi_unit="base",
    ...                           end="2025-05-31 20:00")  # doctest: +SKIP
    """
    if funding_time not in ("close", "open"):
        raise ValueError(f"funding_time={funding_time!r}; allowed: 'close', 'open'")
    px = _ohlc_file(price, "price")
    candles = px[["open", "high", "low", "close"]].astype(float)
    if len(candles) < 2:
        raise MarketDataError("price: need at least two bars to infer the bar length")
    step = pd.Series(candles.index).diff().dropna()
    bar = step.min()
    oi = _ohlc_file(open_interest, "open_interest")
    oi_obs = pd.Series(oi["close"].astype(float).to_numpy(), index=oi.index + bar, name="open_interest")
    fr = None
    if funding is not None:
        fd = _ohlc_file(funding, "funding")
        shift = pd.Timedelta(funding_interval) if funding_time == "close" else pd.Timedelta(0)
        fr = pd.Series(fd["close"].astype(float).to_numpy(), index=fd.index + shift, name="funding_rate")
    m = Market.from_frames(
        candles,
        open_interest=oi_obs,
        funding=fr,
        oi_unit=oi_unit,
        funding_unit=funding_unit,
        span=span,
        symbol=symbol,
        venue=venue,
    )
    if start is not None or end is not None:
        m = m.slice(start, end)
    return m
