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

import numpy as np
import pandas as pd

from heatmap._advice import advise, flag
from heatmap.io._files import Source, expand_paths, has_header, iter_texts, numeric, parse_times
from heatmap.market import ALL_COLUMNS, Market, MarketDataError

__all__ = [
    "read_csv_frame",
    "read_csv_market",
    "read_market",
    "read_ohlcv_csv",
    "read_coinglass_market",
    "detect_layout",
    "sniff_sep",
]

_TIME_CANDIDATES = (
    "time",
    "timestamp",
    "open_time",
    "date",
    "datetime",
    "datetime_utc",
    "time_utc",
    "ts",
    "ts_ms",
)
_SEPARATORS = (",", ";", "\t", "|")
_SNIFF_LINES = 20


def sniff_sep(text: str) -> str:
    """The field separator of CSV text: the one of ``, ; tab |`` found equally often (> 0) in the first lines.

    Falls back to ``","`` (a one-column file). Several candidates: the one with the most fields.

    Examples
    --------
    >>> sniff_sep("Date;Open;Close\\n01-01-2024 00:00;42314,0;42503,5\\n")
    ';'
    """
    lines = [line for line in text.splitlines()[:_SNIFF_LINES] if line.strip()]
    best, fields = ",", 0
    for sep in _SEPARATORS:
        counts = {line.count(sep) for line in lines}
        if len(counts) == 1 and (n := counts.pop()) > fields:
            best, fields = sep, n
    return best


def _read_table(text: str, sep: str, where: str) -> pd.DataFrame:
    """CSV text with a header row -> DataFrame with the header's names as written.

    Rows that end in a separator the header lacks do not shift the columns (``index_col=False``), repeated names
    stay repeated (pandas would rename the second ``close`` to ``close.1``). Text that does not parse, an empty
    file and a header without rows raise :class:`MarketDataError` naming ``where``.
    """
    if not text.strip():
        raise MarketDataError(f"{where}: the file is empty (expected a header row and rows of data)")
    try:
        df = pd.read_csv(io.StringIO(text), sep=sep, index_col=False)
        header = pd.read_csv(
            io.StringIO(text), sep=sep, header=None, nrows=1, dtype=str, keep_default_na=False
        ).iloc[0]
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        detail = " ".join(str(exc).split())
        raise MarketDataError(f"{where}: not a readable CSV table ({detail})") from None
    if df.empty:
        raise MarketDataError(f"{where}: the file has a header but no data rows")
    if len(header) == df.shape[1]:
        df.columns = [str(h) if str(h).strip() else str(c) for h, c in zip(header, df.columns, strict=True)]
    return df


def _check_unique(df: pd.DataFrame, where: str, note: str) -> None:
    """A column name that appears twice is an error naming the file (which of the two is meant is unknowable)."""
    repeated = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
    if repeated:
        raise MarketDataError(
            f"{where}: columns {repeated} appear more than once{f' ({note})' if note else ''}; "
            "keep one column of each name"
        )


def describe_sep(sep: str) -> str:
    """``";"`` -> ``"';'"``, ``"\\t"`` -> ``"tab"`` (for messages)."""
    return "tab" if sep == "\t" else repr(sep)


def read_csv_frame(
    path: Source,
    *,
    time_col: str = "auto",
    time_format: str = "auto",
    assume_utc: bool = False,
    rename: Mapping[str, str] | None = None,
    lowercase: bool = True,
    sep: str | None = None,
) -> pd.DataFrame:
    """Read CSV files with a header into a DataFrame indexed by UTC time.

    Parameters
    ----------
    path : path, glob or list of them
        ``.csv`` or ``.zip`` files with a header row; several files are concatenated.
    time_col : str
        Time column; ``"auto"`` takes the first of ``time, timestamp, open_time, date, datetime, datetime_utc,
        time_utc, ts, ts_ms`` (after lower-casing).
    time_format : str
        ``"auto"`` (epoch numbers with the unit chosen by magnitude — seconds, milliseconds or microseconds —
        or ISO 8601 strings), ``"s"``, ``"ms"``, ``"us"``, ``"ns"`` or a ``strftime`` pattern such as
        ``"%d-%m-%Y %H:%M"``. A pattern without ``%z`` reads the times as UTC (the pattern states that the text
        carries no zone).
    assume_utc : bool
        Naive ISO datetimes (no offset) are an error unless this is set.
    rename : mapping, optional
        Column renames ``{old: new}`` applied after lower-casing (both names are compared lower-cased), e.g.
        ``{"sum_open_interest": "open_interest"}``.
    lowercase : bool
        Lower-case and strip column names.
    sep : str, optional
        Field separator; ``None`` sniffs it per file among ``, ; tab |`` (:func:`sniff_sep`).

    Returns
    -------
    pandas.DataFrame
        Index ``time`` (UTC, sorted), the other columns as read (numeric where they parse).

    Raises
    ------
    MarketDataError
        No or an unknown time column, times that do not parse (the message names the file and column and
        suggests a ``time_format`` when one common pattern fits), a rename of a column that does not exist, text
        that is not a CSV table, an empty file or a header without rows, a column name that appears twice (after
        lower-casing and ``rename``). Rows that end in a separator the header lacks are read without shifting.

    Examples
    --------
    >>> df = read_csv_frame("BTCUSDT_1h_Cleaned.csv", time_col="Date",
    ...                     time_format="%d-%m-%Y %H:%M")  # doctest: +SKIP
    """
    parts = []
    seps: set[str] = set()
    paths = expand_paths(path, what="path")
    for p in paths:
        for name, text in iter_texts(p):
            used = sep if sep is not None else sniff_sep(text)
            seps.add(used)
            part = _read_table(text, used, name)
            if lowercase:
                part.columns = [str(c).strip().lower() for c in part.columns]
            _check_unique(part, name, "names compared lower-cased" if lowercase else "")
            parts.append(part)
    where = paths[0].name if len(paths) == 1 else f"{paths[0].name} (+{len(paths) - 1} files)"
    found = ", ".join(describe_sep(x) for x in sorted(seps))
    sep_note = f"read with separator {found}" + ("" if sep is not None else " (sniffed)")
    df = pd.concat(parts, ignore_index=True)
    if len(df.columns) == 1:
        inside = [c for c in _SEPARATORS if c in str(df.columns[0])]
        hint = (
            f"the header holds {describe_sep(inside[0])}: {advise('sep', inside[0])}"
            if inside
            else f"if the fields are separated by another character, {advise('sep')}"
        )
        raise MarketDataError(f"{where}: one column {str(df.columns[0])!r} {sep_note}; {hint}")
    if rename:
        odd = [f"{k!r}: {v!r}" for k, v in rename.items() if not (isinstance(k, str) and isinstance(v, str))]
        if odd:
            raise TypeError(f"rename maps column names to column names (strings), got {{{', '.join(odd)}}}")
        wanted = {(k.strip().lower() if lowercase else k): v for k, v in rename.items()}
        unknown = [k for k in wanted if k not in df.columns]
        if unknown:
            raise MarketDataError(
                f"{where}: rename of {unknown}: no such column; the file has {list(df.columns)} ({sep_note})"
            )
        df = df.rename(columns=wanted)
        _check_unique(df, where, "after rename")
    if time_col == "auto":
        found_cols = [c for c in _TIME_CANDIDATES if c in df.columns]
        if not found_cols:
            raise MarketDataError(
                f"{where}: no time column among {list(df.columns)} ({sep_note}); {advise('time_col')}"
            )
        time_col = found_cols[0]
    elif lowercase:
        time_col = time_col.strip().lower()
    if time_col not in df.columns:
        raise MarketDataError(
            f"{where}: time_col={time_col!r} (--time-col) is not a column; the file has {list(df.columns)} "
            f"({sep_note})"
        )
    pattern = time_format not in ("auto", "s", "ms", "us", "ns")
    utc = assume_utc or (pattern and "%z" not in time_format and "%Z" not in time_format)
    t = parse_times(
        df[time_col], time_format=time_format, assume_utc=utc, where=f"{where} column {time_col!r}"
    )
    out = df.drop(columns=[time_col])
    out.index = t.rename("time")
    out = out.sort_index(kind="stable")
    out.attrs["source"] = where
    return out


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
    where = df.attrs.get("source", str(path))
    df = numeric(df, [c for c in df.columns if c in ALL_COLUMNS], where=where)
    try:
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
    except MarketDataError as exc:
        raise MarketDataError([f"{where}: {p}" for p in exc.problems]) from None


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
    return numeric(df[keep], keep, where=df.attrs.get("source", str(path)))


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


# -- one market from separate candle, open-interest, funding and mark files ---------------------------------------

Layout = Literal["klines", "metrics", "funding", "table"]
_LAYOUT_HEADERS: dict[str, Layout] = {"open_time": "klines", "create_time": "metrics", "calc_time": "funding"}
_LAYOUT_FIELDS: dict[int, Layout] = {12: "klines", 8: "metrics", 3: "funding"}
_OI_COLUMNS = ("open_interest", "sum_open_interest", "oi", "openinterest", "close_oi", "oi_close")
_QUOTE_VOLUME = ("quote_volume", "volume_usd", "volume_quote")
_FUNDING_COLUMNS = ("funding_rate", "last_funding_rate", "fundingrate", "rate", "close_rate")


def detect_layout(path: Source) -> Layout:
    """The layout of the first file of ``path``: a Binance public-data file or a generic table.

    Binance files are recognised by their header's first field (``open_time`` klines, ``create_time`` metrics,
    ``calc_time`` fundingRate) or, without header, by their field count (12, 8, 3) and numeric first field.

    Examples
    --------
    >>> detect_layout("BTCUSDT-1h-2025-01-01.zip")  # doctest: +SKIP
    'klines'
    """
    first = expand_paths(path, what="path")[0]
    text = next(iter_texts(first))[1]
    line = next((x for x in text.splitlines() if x.strip()), "")
    fields = [f.strip().strip('"').lower() for f in line.split(",")]
    if fields[0] in _LAYOUT_HEADERS:
        return _LAYOUT_HEADERS[fields[0]]
    if not has_header(text) and len(fields) in _LAYOUT_FIELDS:
        return _LAYOUT_FIELDS[len(fields)]
    return "table"


#: the argument (and command-line flag) that takes each Binance file kind
_ROLE_OF = {
    "klines": "candles= (--candles), or mark= (--mark) for mark-price klines",
    "metrics": "open_interest= (--oi)",
    "funding": "funding= (--funding)",
}
#: the Binance file kind each argument accepts (any argument also takes a generic table), and what it holds
_KIND_OF = {"open_interest": "metrics", "funding": "funding", "mark": "klines"}
_HOLDS = {"open_interest": "open interest", "funding": "funding rates", "mark": "mark prices"}


def _check_roles(
    *, candles: tuple[Source, str], open_interest: Source | None, funding: Source | None, mark: Source | None
) -> dict[str, Source | pd.DataFrame | None]:
    """Refuse a Binance file given for another role (klines as open interest: its ``close`` would be read as
    coins); return the Binance sources by role."""
    binance: dict[str, Source | pd.DataFrame | None] = {}
    if candles[1] != "table":
        binance["candles"] = candles[0]
    for role, source in (("open_interest", open_interest), ("funding", funding), ("mark", mark)):
        if source is None:
            continue
        kind = detect_layout(source)
        if kind == "table":
            continue
        if kind != _KIND_OF[role]:
            name = expand_paths(source, what=role)[0].name
            raise MarketDataError(
                f"{role}: {name} is a Binance {kind} file, not {_HOLDS[role]}; pass it as {_ROLE_OF[kind]}"
            )
        binance[role] = source
    return binance


def _value_column(
    df: pd.DataFrame, col: str, candidates: tuple[str, ...], *, what: str, arg: str, where: str
) -> str:
    """The value column of a series table: ``col`` or, for ``"auto"``, the one candidate present (or ``close``)."""
    if col != "auto":
        name = col.strip().lower()
        if name not in df.columns:
            raise MarketDataError(
                f"{where}: {arg}={col!r} ({flag(arg)}) is not a column; the file has {list(df.columns)}"
            )
        return name
    found = [c for c in candidates if c in df.columns]
    if len(found) == 1:
        return found[0]
    if not found and "close" in df.columns:
        return "close"
    listed = f"several candidates {found}" if found else f"no {what} column (looked for {list(candidates)})"
    raise MarketDataError(f"{where}: {listed}; the file has {list(df.columns)}; {advise(arg)}")


def _period_end_shift(df: pd.DataFrame, col: str) -> pd.Timedelta:
    """Rows of OHLC-style tables are periods labelled by their start: a ``close`` value belongs to the end."""
    if "close" not in col or len(df) < 2:
        return pd.Timedelta(0)
    steps = np.diff(pd.DatetimeIndex(df.index).asi8)
    steps = steps[steps > 0]
    return pd.Timedelta(int(steps.min()), unit="ns") if steps.size else pd.Timedelta(0)


def _series_table(
    source: Source,
    *,
    col: str,
    time_col: str,
    time_format: str,
    sep: str | None,
    assume_utc: bool,
    candidates: tuple[str, ...],
    what: str,
    arg: str,
) -> pd.Series:
    """One value column of a generic table, indexed by the time the value holds (period end for ``close``)."""
    paths = expand_paths(source, what=what)
    where = paths[0].name
    try:
        df = read_csv_frame(paths, time_col=time_col, time_format="auto", assume_utc=assume_utc, sep=sep)
    except MarketDataError:
        if time_format == "auto":
            raise
        df = read_csv_frame(paths, time_col=time_col, time_format=time_format, assume_utc=assume_utc, sep=sep)
    name = _value_column(df, col, candidates, what=what, arg=arg, where=where)
    values = numeric(df[[name]], [name], where=f"{where} column {name!r}")[name]
    values.index = values.index + _period_end_shift(df, name)
    return values.rename(what)


def read_market(
    candles: Source,
    *,
    open_interest: Source | None = None,
    funding: Source | None = None,
    mark: Source | None = None,
    time_col: str = "auto",
    time_format: str = "auto",
    sep: str | None = None,
    rename: Mapping[str, str] | None = None,
    oi_col: str = "auto",
    oi_time_col: str = "auto",
    oi_unit: Literal["base", "quote", "contracts"] = "base",
    contract_size: float | None = None,
    oi_max_age: str | pd.Timedelta | None = None,
    funding_unit: Literal["fraction", "percent"] = "fraction",
    fill_gaps: Literal["ffill"] | None = None,
    symbol: str | None = None,
    venue: str | None = None,
    assume_utc: bool = False,
    check_units: bool = True,
) -> Market:
    """Build a Market from the files users have: candles plus optional open interest, funding and mark price.

    Each argument takes a path, a glob pattern or a list of them (``.csv`` or ``.zip``); every file is either a
    Binance public-data file (klines, metrics, fundingRate, markPriceKlines — recognised by header or field
    count, see :func:`detect_layout`) or a generic table with a header. The command line's ``--candles``,
    ``--oi``, ``--funding`` and ``--mark`` (and the flags named like the arguments below) call this function.

    Parameters
    ----------
    candles : path, glob or list
        Bars: Binance klines, or a table with a time column and ``open, high, low, close`` (optional
        ``volume`` [base], or ``quote_volume`` / ``volume_usd`` [quote] divided by the close; ``taker_buy_volume``). Without
        ``open_interest`` the table must hold an ``open_interest`` column (and may hold every Market column).
    open_interest : path, glob or list, optional
        Binance metrics files, or a table of open interest: the value column is ``oi_col`` and the time column
        ``oi_time_col``. A column whose name contains ``close`` (CoinGlass / Coinalyze OHLC tables) is the value at
        the **end** of its row's period (time + the table's step); other columns hold at the row's time.
    funding : path, glob or list, optional
        Binance fundingRate files (fractions), or a table of settled rates (``funding_rate``,
        ``last_funding_rate``, ``rate``, ``close_rate`` or ``close``; a ``close`` value settles at the period end).
    mark : path, glob or list, optional
        Binance markPriceKlines, or a table with ``open, high, low, close`` of the mark price.
    time_col, time_format, sep, rename
        How the candle table is read (:func:`read_csv_frame`); ``time_format`` is also tried on the other
        tables when their times are not epoch numbers or ISO 8601. ``rename`` maps ``{old: new}`` column names.
    oi_col, oi_time_col : str
        Value and time column of a generic open-interest table (``"auto"``: see above).
    oi_unit : {"base", "quote", "contracts"}
        Unit of the open interest: coins, a quote notional (divided by the bar close), or contracts (times
        ``contract_size`` [base per contract]).
    contract_size : float, optional
        Base units per contract, for ``oi_unit="contracts"``.
    oi_max_age : str or Timedelta, optional
        Oldest open-interest observation a bar may use (e.g. ``"4h"`` for 4-hourly open interest under hourly
        candles); default just under one bar (see :meth:`Market.from_frames`).
    funding_unit : {"fraction", "percent"}
        Unit of a generic funding table (Binance files are fractions).
    fill_gaps : {None, "ffill"}
        Insert flat bars for missing candles (explicit repair).
    symbol, venue : str, optional
        Names; ``symbol`` defaults to the one in a Binance file name.
    assume_utc : bool
        Read naive ISO times as UTC.
    check_units : bool
        Plausibility of magnitudes for the declared units (:mod:`heatmap.plausibility`).

    Returns
    -------
    Market
        The bars covered by every given series (:meth:`Market.from_frames`, ``span="intersection"``).

    Examples
    --------
    Binance 1h candles (``Date`` as ``DD-MM-YYYY HH:MM``) with CoinGlass 4h open interest in coins:

    >>> d = "../shared/data/"
    >>> m = read_market(d + "binance-btcusdt-1h/BTCUSDT_1h_Cleaned.csv", time_col="Date",
    ...                 time_format="%d-%m-%Y %H:%M",
    ...                 open_interest=d + "coinglass-btc-4h/derived/oi_binance_stablecoinmargined_btc_4h_coinunits.csv",
    ...                 oi_col="close", oi_unit="base", oi_max_age="4h", symbol="BTCUSDT")  # doctest: +SKIP
    """
    from heatmap.io.binance import (
        _one_symbol,
        read_binance_funding,
        read_binance_klines,
        read_binance_metrics,
        symbol_from_filename,
    )

    if oi_unit not in ("base", "quote", "contracts"):
        raise ValueError(f"oi_unit={oi_unit!r} (--oi-unit); allowed: 'base', 'quote', 'contracts'")
    if funding_unit not in ("fraction", "percent"):
        raise ValueError(f"funding_unit={funding_unit!r} (--funding-unit); allowed: 'fraction', 'percent'")
    if oi_unit == "contracts" and (contract_size is None or not contract_size > 0):
        raise ValueError(
            f"oi_unit='contracts' needs the size of one contract in coins: {advise('contract_size', 0.001)}"
        )
    if oi_unit != "contracts" and contract_size is not None:
        raise ValueError(
            f"contract_size= (--contract-size) applies to oi_unit='contracts' only, got {oi_unit!r}"
        )

    def table(source: Source, fmt: str) -> pd.DataFrame:
        df = read_csv_frame(
            source, time_col=time_col, time_format=fmt, assume_utc=assume_utc, rename=rename, sep=sep
        )
        quote = [c for c in _QUOTE_VOLUME if c in df.columns]
        if "volume" not in df.columns and quote and "close" in df.columns:
            df["volume"] = pd.to_numeric(df[quote[0]], errors="coerce") / pd.to_numeric(
                df["close"], errors="coerce"
            )
        return df

    kind = detect_layout(candles)
    if kind == "klines":
        bars = read_binance_klines(candles)
        symbol = symbol or symbol_from_filename(expand_paths(candles, what="candles")[0])
    elif kind == "table":
        bars = table(candles, time_format)
    else:
        raise MarketDataError(
            f"candles: {expand_paths(candles, what='candles')[0].name} is a Binance {kind} file, not candles; "
            f"pass it as {'open_interest= (--oi)' if kind == 'metrics' else 'funding= (--funding)'}"
        )
    binance = _check_roles(candles=(candles, kind), open_interest=open_interest, funding=funding, mark=mark)
    _one_symbol(binance)  # Binance files of two symbols (e.g. ETHUSDT metrics under BTCUSDT klines)
    unit: Literal["base", "quote"] = "quote" if oi_unit == "quote" else "base"
    missing = [c for c in ("open", "high", "low", "close") if c not in bars.columns]
    if missing:
        raise MarketDataError(
            f"{expand_paths(candles, what='candles')[0].name}: missing columns {missing}; the file has "
            f"{list(bars.columns)}; rename the columns that hold them (rename= / --rename OLD=NEW)"
        )
    if open_interest is None and "open_interest" not in bars.columns:
        raise MarketDataError(
            f"{expand_paths(candles, what='candles')[0].name}: no open interest: the candles have no "
            f"'open_interest' column ({list(bars.columns)}); give the open-interest file as open_interest= "
            "(command line: --oi FILE), or rename the column that holds it (rename= / --rename OLD=open_interest)"
        )
    if open_interest is None and funding is None and mark is None:
        if oi_unit == "contracts" and "open_interest" in bars.columns:
            bars["open_interest"] = pd.to_numeric(bars["open_interest"], errors="coerce") * float(
                contract_size or 0
            )
        numeric_bars = numeric(bars, [c for c in bars.columns if c in ALL_COLUMNS], where="candles")
        return Market.from_frame(
            numeric_bars,
            oi_unit=unit,
            funding_unit=funding_unit,
            symbol=symbol,
            venue=venue,
            fill_gaps=fill_gaps,
            extra_columns="drop",
            check_units=check_units,
        )
    bars = numeric(bars, [c for c in bars.columns if c in ALL_COLUMNS], where="candles")
    oi: pd.Series | pd.DataFrame | None = None
    if open_interest is not None:
        if detect_layout(open_interest) == "metrics":
            mt = read_binance_metrics(open_interest)
            oi = mt[["open_interest", "long_short_ratio"]]
        else:
            oi = _series_table(
                open_interest,
                col=oi_col,
                time_col=oi_time_col,
                time_format=time_format,
                sep=sep,
                assume_utc=assume_utc,
                candidates=_OI_COLUMNS,
                what="open_interest",
                arg="oi_col",
            )
        if oi_unit == "contracts":
            oi = oi * float(contract_size or 0)
    fr: pd.Series | None = None
    if funding is not None:
        if detect_layout(funding) == "funding":
            if funding_unit == "percent":
                raise MarketDataError(
                    "funding: Binance fundingRate files hold fractions; drop funding_unit='percent' (--funding-unit)"
                )
            fr = read_binance_funding(funding)["funding_rate"]
        else:
            fr = _series_table(
                funding,
                col="auto",
                time_col="auto",
                time_format=time_format,
                sep=sep,
                assume_utc=assume_utc,
                candidates=_FUNDING_COLUMNS,
                what="funding_rate",
                arg="funding_col",
            )
    mk: pd.DataFrame | None = None
    if mark is not None:
        mk = read_binance_klines(mark) if detect_layout(mark) == "klines" else table(mark, time_format)
        mk = numeric(mk, [c for c in ("open", "high", "low", "close") if c in mk.columns], where="mark")
    return Market.from_frames(
        bars,
        open_interest=oi,
        funding=fr,
        mark=mk,
        oi_unit=unit,
        funding_unit=funding_unit,
        oi_max_age=oi_max_age,
        symbol=symbol,
        venue=venue,
        fill_gaps=fill_gaps,
        check_units=check_units,
    )
