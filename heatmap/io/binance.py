"""Readers for Binance public-data files (https://data.binance.vision).

Every reader takes a path, a glob pattern or a list of them; each file may be the ``.csv`` or the ``.zip`` that
Binance publishes, with or without a header row. Epoch timestamps are read as milliseconds or microseconds by
magnitude (Binance moved some datasets to microseconds in 2025).

File layouts (``futures/um/daily/<dataset>/<SYMBOL>/...``):

* ``klines``, ``markPriceKlines``, ``premiumIndexKlines``, ``indexPriceKlines`` (12 columns):
  ``open_time, open, high, low, close, volume, close_time, quote_volume, count, taker_buy_volume,
  taker_buy_quote_volume, ignore``
* ``metrics`` (5-minute rows): ``create_time, symbol, sum_open_interest, sum_open_interest_value,
  count_toptrader_long_short_ratio, sum_toptrader_long_short_ratio, count_long_short_ratio,
  sum_taker_long_short_vol_ratio`` (``create_time`` is ``YYYY-MM-DD HH:MM:SS`` UTC)
* ``fundingRate`` (monthly): ``calc_time, funding_interval_hours, last_funding_rate``

Examples
--------
>>> from heatmap.io.binance import read_binance
>>> m = read_binance(klines="BTCUSDT-1h-2025-01-*.zip", metrics="BTCUSDT-metrics-2025-01-*.zip",
...                  funding="BTCUSDT-fundingRate-2025-01.zip")  # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import pandas as pd

from heatmap.io._files import (
    Source,
    check_duplicates,
    epoch_to_utc,
    expand_paths,
    iter_texts,
    numeric,
    parse_times,
    read_csv_text,
)
from heatmap.market import Market, MarketDataError

__all__ = [
    "KLINE_COLUMNS",
    "METRICS_COLUMNS",
    "FUNDING_COLUMNS",
    "read_binance_klines",
    "read_binance_metrics",
    "read_binance_funding",
    "read_binance",
    "symbol_from_filename",
]

KLINE_COLUMNS = [
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
]
METRICS_COLUMNS = [
    "create_time",
    "symbol",
    "sum_open_interest",
    "sum_open_interest_value",
    "count_toptrader_long_short_ratio",
    "sum_toptrader_long_short_ratio",
    "count_long_short_ratio",
    "sum_taker_long_short_vol_ratio",
]
FUNDING_COLUMNS = ["calc_time", "funding_interval_hours", "last_funding_rate"]

_SYMBOL_RE = re.compile(r"^([A-Z0-9]+(?:_[A-Z0-9]+)?)-")


def symbol_from_filename(path: str | Path) -> str | None:
    """``"BTCUSDT-1h-2025-01-02.zip"`` -> ``"BTCUSDT"``; ``"BTCUSD_PERP-liquidationSnapshot-..."`` -> ``"BTCUSD_PERP"``."""
    m = _SYMBOL_RE.match(Path(str(path).split("!")[0]).name)
    return m.group(1) if m else None


_SOURCE = "_source"


def _read_all(
    source: Source,
    names: list[str],
    what: str,
    convert: Callable[[pd.DataFrame, str], pd.DataFrame],
    *,
    optional: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Read every file (and zip member) into ``names`` by header or position, ``convert`` each part (so that
    errors name the file), and stack them with a ``_source`` column naming the file of every row."""
    paths = expand_paths(source, what=what)
    parts = []
    for p in paths:
        for where, text in iter_texts(p):
            part = convert(read_csv_text(text, names=names, where=where, optional=optional), where)
            part[_SOURCE] = where
            parts.append(part)
    return pd.concat(parts, ignore_index=True)


def _finish(
    df: pd.DataFrame, *, duplicates: Literal["error", "drop"], what: str, time_name: str
) -> pd.DataFrame:
    """Drop or refuse exact duplicates, index by ``time`` (sorted) and refuse times that differ in value."""
    df = check_duplicates(df, duplicates=duplicates, where=what, source_col=_SOURCE)
    df = df.sort_values("time", kind="stable")
    dup = df["time"].duplicated(keep=False).to_numpy()
    if dup.any():
        shown = ", ".join(str(x) for x in df["time"][dup].unique()[:5])
        files = sorted(set(df[_SOURCE][dup]))[:4]
        raise MarketDataError(
            f"{what}: {int(dup.sum())} rows share {time_name} with different values: {shown} (in {files})"
        )
    out = df.drop(columns=[_SOURCE]).set_index("time")
    out.index = pd.DatetimeIndex(out.index).rename("time")
    return out


_KLINE_NUMERIC = [
    "open",
    "high",
    "low",
    "close",
    "volume",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
]


def _klines_part(raw: pd.DataFrame, where: str) -> pd.DataFrame:
    df = numeric(raw, _KLINE_NUMERIC, where=where)
    out = df[_KLINE_NUMERIC].copy()
    out.insert(5, "close_time", epoch_to_utc(df["close_time"], where=f"{where} close_time"))
    out.insert(0, "time", epoch_to_utc(df["open_time"], where=f"{where} open_time"))
    return out


def read_binance_klines(
    source: Source,
    *,
    duplicates: Literal["error", "drop"] = "error",
) -> pd.DataFrame:
    """Read Binance kline files (trade, mark-price, premium-index or index-price klines).

    Parameters
    ----------
    source : path, glob pattern, or list of them
        ``.csv`` or ``.zip`` files in the 12-column kline layout. With a header row the columns are taken by
        name (any order; ``ignore`` may be absent); without one by position.
    duplicates : {"error", "drop"}
        Exact duplicate rows (overlapping daily and monthly files) raise, or are dropped explicitly.

    Returns
    -------
    pandas.DataFrame
        Index ``time`` (UTC bar open), columns ``open, high, low, close`` [quote], ``volume`` [base],
        ``close_time`` (UTC), ``quote_volume`` [quote], ``count``, ``taker_buy_volume`` [base],
        ``taker_buy_quote_volume`` [quote]; sorted by time. Duplicate open times with different values raise.

    Raises
    ------
    MarketDataError
        Naming the file (and zip member): unreadable or truncated zip, no CSV member, not UTF-8, empty or
        header-only file, a header that does not name the kline columns, wrong column count, non-numeric cells,
        bad epochs; duplicates name the files involved.

    Examples
    --------
    >>> k = read_binance_klines("BTCUSDT-1h-2025-01-*.zip")  # doctest: +SKIP
    """
    df = _read_all(source, KLINE_COLUMNS, "klines", _klines_part, optional=("ignore",))
    return _finish(df, duplicates=duplicates, what="klines", time_name="an open time")


def _metrics_part(raw: pd.DataFrame, where: str) -> pd.DataFrame:
    df = numeric(raw, METRICS_COLUMNS[2:], where=where)
    t = parse_times(df["create_time"], where=f"{where} create_time", assume_utc=True)
    return pd.DataFrame(
        {
            "time": t,
            "symbol": df["symbol"].astype(str).to_numpy(),
            "open_interest": df["sum_open_interest"].to_numpy(),
            "open_interest_value": df["sum_open_interest_value"].to_numpy(),
            "top_trader_account_ratio": df["count_toptrader_long_short_ratio"].to_numpy(),
            "top_trader_position_ratio": df["sum_toptrader_long_short_ratio"].to_numpy(),
            "long_short_ratio": df["count_long_short_ratio"].to_numpy(),
            "taker_buy_sell_ratio": df["sum_taker_long_short_vol_ratio"].to_numpy(),
        }
    )


def read_binance_metrics(source: Source, *, duplicates: Literal["error", "drop"] = "error") -> pd.DataFrame:
    """Read Binance ``metrics`` files (5-minute open interest and long/short ratios).

    Columns are taken by header name when the file has a header (any order), else by position.

    Returns
    -------
    pandas.DataFrame
        Index ``time`` (UTC observation time ``create_time``), columns ``symbol``, ``open_interest`` [base]
        (``sum_open_interest``), ``open_interest_value`` [quote], ``top_trader_account_ratio``
        (``count_toptrader_long_short_ratio``), ``top_trader_position_ratio`` (``sum_toptrader_long_short_ratio``),
        ``long_short_ratio`` (``count_long_short_ratio``, all accounts), ``taker_buy_sell_ratio``
        (``sum_taker_long_short_vol_ratio``). Empty cells become NaN.

    Examples
    --------
    >>> metrics = read_binance_metrics("BTCUSDT-metrics-2025-01-*.zip")  # doctest: +SKIP
    """
    df = _read_all(source, METRICS_COLUMNS, "metrics", _metrics_part)
    return _finish(df, duplicates=duplicates, what="metrics", time_name="a create_time")


def _funding_part(raw: pd.DataFrame, where: str) -> pd.DataFrame:
    df = numeric(raw, ["funding_interval_hours", "last_funding_rate"], where=where)
    return pd.DataFrame(
        {
            "time": epoch_to_utc(df["calc_time"], where=f"{where} calc_time"),
            "funding_rate": df["last_funding_rate"].to_numpy(),
            "funding_interval_hours": df["funding_interval_hours"].to_numpy(),
        }
    )


def read_binance_funding(source: Source, *, duplicates: Literal["error", "drop"] = "error") -> pd.DataFrame:
    """Read Binance ``fundingRate`` files (columns by header name when there is a header, else by position).

    Returns
    -------
    pandas.DataFrame
        Index ``time`` (UTC settlement time ``calc_time``), columns ``funding_rate`` [fraction]
        (``last_funding_rate``) and ``funding_interval_hours``.

    Examples
    --------
    >>> fr = read_binance_funding("BTCUSDT-fundingRate-2025-01.zip")  # doctest: +SKIP
    """
    df = _read_all(source, FUNDING_COLUMNS, "fundingRate", _funding_part)
    df = check_duplicates(df, duplicates=duplicates, where="fundingRate", source_col=_SOURCE)
    out = df.drop(columns=[_SOURCE]).set_index("time").sort_index(kind="stable")
    out.index = pd.DatetimeIndex(out.index).rename("time")
    return out


def _one_symbol(sources: dict[str, Source | pd.DataFrame | None]) -> str | None:
    """The symbol in the names of every given file (``BTCUSDT-1h-...``); files of two symbols are an error."""
    seen: dict[str, list[str]] = {}
    for what, source in sources.items():
        if source is None or isinstance(source, pd.DataFrame):
            continue
        for p in expand_paths(source, what=what):
            sym = symbol_from_filename(p)
            if sym is not None:
                seen.setdefault(sym, []).append(f"{what} {p.name}")
    if len(seen) > 1:
        shown = "; ".join(f"{sym}: {', '.join(files[:2])}" for sym, files in seen.items())
        raise MarketDataError(f"the files name {len(seen)} symbols ({shown}); give one symbol's files")
    return next(iter(seen), None)


def read_binance(
    *,
    klines: Source | pd.DataFrame,
    metrics: Source | pd.DataFrame | None = None,
    funding: Source | pd.DataFrame | None = None,
    mark: Source | pd.DataFrame | None = None,
    open_interest: pd.Series | pd.DataFrame | None = None,
    symbol: str | None = None,
    venue: str = "binance",
    span: Literal["intersection", "candles"] = "intersection",
    oi_max_age: str | pd.Timedelta | None = None,
    fill_gaps: Literal["ffill"] | None = None,
    duplicates: Literal["error", "drop"] = "error",
) -> Market:
    """Build a :class:`~heatmap.market.Market` from Binance public-data files.

    Alignment follows :meth:`Market.from_frames <heatmap.market.Market.from_frames>`: each bar takes the last
    ``metrics`` open interest observed at or before its close (within ``oi_max_age``, default under one bar),
    funding settlements go to the bar whose ``[open, open + freq)`` contains ``calc_time``, and mark-price klines
    must cover the same bars.

    Parameters
    ----------
    klines : path, glob, list or DataFrame
        Trade klines (``.../klines/<SYMBOL>/<interval>/``); a DataFrame as returned by :func:`read_binance_klines`.
    metrics : path, glob, list or DataFrame, optional
        ``metrics`` files (open interest [base] and ``long_short_ratio``). Either this or ``open_interest``.
    funding : path, glob, list or DataFrame, optional
        ``fundingRate`` files.
    mark : path, glob, list or DataFrame, optional
        ``markPriceKlines`` of the same interval.
    open_interest : Series or DataFrame, optional
        Open interest observations [base] from elsewhere, indexed by observation time.
    symbol : str, optional
        Defaults to the symbol in the klines file name (``BTCUSDT-1h-...``).
    venue, span, oi_max_age, fill_gaps
        See :meth:`Market.from_frames <heatmap.market.Market.from_frames>`.
    duplicates : {"error", "drop"}
        Exact duplicate rows across files.

    Returns
    -------
    Market

    Examples
    --------
    >>> m = read_binance(klines="data/BTCUSDT-1h-2025-01-*.zip", metrics="data/BTCUSDT-metrics-2025-01-*.zip",
    ...                  funding="data/BTCUSDT-fundingRate-2025-01.zip")  # doctest: +SKIP
    """
    file_symbol = _one_symbol({"klines": klines, "metrics": metrics, "funding": funding, "mark": mark})
    if isinstance(klines, pd.DataFrame):
        candles = klines
    else:
        candles = read_binance_klines(klines, duplicates=duplicates)
    if symbol is None:
        symbol = file_symbol
    if metrics is not None and open_interest is not None:
        raise ValueError("give either metrics= or open_interest=, not both")
    oi: pd.Series | pd.DataFrame | None = open_interest
    if metrics is not None:
        mt = (
            metrics
            if isinstance(metrics, pd.DataFrame)
            else read_binance_metrics(metrics, duplicates=duplicates)
        )
        held = sorted(set(mt["symbol"].astype(str))) if "symbol" in mt.columns else []
        expected = file_symbol if file_symbol is not None else (held[0] if held else None)
        other = [h for h in held if h != expected]
        if other:
            raise MarketDataError(
                f"metrics: rows of symbol {other[:3]} in the metrics of {expected!r}; give one symbol's files"
            )
        oi = mt[[c for c in ("open_interest", "long_short_ratio") if c in mt.columns]]
    fr = None
    if funding is not None:
        fr = (
            funding
            if isinstance(funding, pd.DataFrame)
            else read_binance_funding(funding, duplicates=duplicates)
        )
    mk = None
    if mark is not None:
        mk = mark if isinstance(mark, pd.DataFrame) else read_binance_klines(mark, duplicates=duplicates)
    return Market.from_frames(
        candles,
        open_interest=oi,
        funding=fr,
        mark=mk,
        oi_max_age=oi_max_age,
        span=span,
        symbol=symbol,
        venue=venue,
        fill_gaps=fill_gaps,
    )
