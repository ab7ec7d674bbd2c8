"""Realized liquidations: read exchange liquidation records and sum them per market bar.

Event frames (:func:`read_liquidations`) have one row per liquidation order::

    time [UTC]  symbol  side ("long"/"short")  price [quote]  qty [base]  notional [quote]  order_price  price_source

``side`` is the side of the **liquidated position**: a SELL liquidation order closes a long (``"long"``), a BUY
order closes a short (``"short"``). ``price`` is the average fill price (where the liquidation happened);
``order_price`` is the order's limit price, which Binance sets near the bankruptcy price.

Binance publishes at most one liquidation per symbol per second, so the totals undercount; compare them with
model output by rank or relative size.

Examples
--------
>>> from heatmap.io.liquidations import read_liquidations, liquidations_per_bar
>>> events = read_liquidations("forceorder.jsonl", symbol="BTCUSDT")  # doctest: +SKIP
>>> per_bar = liquidations_per_bar(events, market)  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from heatmap.io._files import (
    Source,
    check_duplicates,
    epoch_to_utc,
    expand_paths,
    iter_texts,
    numeric,
    parse_times,
)
from heatmap.io.binance import symbol_from_filename
from heatmap.market import Market, MarketDataError

if TYPE_CHECKING:
    from heatmap.exchanges import MarginSchedule

__all__ = [
    "EVENT_COLUMNS",
    "FORCEORDER_CSV_COLUMNS",
    "SNAPSHOT_COLUMNS",
    "read_liquidations",
    "read_bybit_liquidations",
    "liquidations_per_bar",
    "read_liquidation_bars",
    "coin_m_contract_size",
]

EVENT_COLUMNS = ["time", "symbol", "side", "price", "qty", "notional", "order_price", "price_source"]

#: Columns of the flat forceOrder CSV dumps (no header): the ``o`` fields of the websocket message in order,
#: optionally followed by a computed USD size (ignored).
FORCEORDER_CSV_COLUMNS = [
    "symbol",
    "side",
    "order_type",
    "time_in_force",
    "original_quantity",
    "price",
    "average_price",
    "order_status",
    "last_fill_quantity",
    "accumulated_fill_quantity",
    "time",
]
#: Columns of Binance ``liquidationSnapshot`` files (data.binance.vision, ``futures/cm/daily/liquidationSnapshot``).
SNAPSHOT_COLUMNS = [
    "time",
    "side",
    "order_type",
    "time_in_force",
    "original_quantity",
    "price",
    "average_price",
    "order_status",
    "last_fill_quantity",
    "accumulated_fill_quantity",
]
_WS_KEYS = {
    "s": "symbol",
    "S": "side",
    "o": "order_type",
    "f": "time_in_force",
    "q": "original_quantity",
    "p": "price",
    "ap": "average_price",
    "X": "order_status",
    "l": "last_fill_quantity",
    "z": "accumulated_fill_quantity",
    "T": "time",
}

Format = Literal["auto", "forceorder-json", "forceorder-csv", "liquidation-snapshot", "events"]
_INVERSE_RE = re.compile(r"^[A-Z0-9]+USD_(PERP|\d{6})$")


def coin_m_contract_size(symbol: str) -> float:
    """USD face value of one Binance COIN-M contract: 100 for BTC, 10 for every other coin [quote].

    Examples
    --------
    >>> coin_m_contract_size("BTCUSD_PERP"), coin_m_contract_size("ETHUSD_250627")
    (100.0, 10.0)
    """
    return 100.0 if symbol.upper().startswith("BTCUSD") else 10.0


def _detect(text: str, where: str) -> str:
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        return "forceorder-json"
    first = stripped.splitlines()[0] if stripped else ""
    fields = [f.strip().strip('"').lower() for f in first.split(",")]
    header = _header_fields(text)
    if header is not None:
        # a header is read by name: a symbol column means forceOrder rows, none a liquidationSnapshot file
        names = _header_names(header, where)
        return "forceorder-csv" if "symbol" in names else "liquidation-snapshot"
    if len(fields) >= 2 and fields[1] in ("buy", "sell"):
        # headerless: snapshot rows start with an epoch time, forceOrder rows with the symbol
        return "liquidation-snapshot" if fields[0].replace(".", "", 1).isdigit() else "forceorder-csv"
    raise MarketDataError(
        f"{where}: cannot tell the liquidation format from the first line {first[:120]!r}; pass format="
    )


def _parse_json(text: str, where: str) -> pd.DataFrame:
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            items = json.loads(stripped)
        except (ValueError, RecursionError) as exc:  # syntax, nesting, an over-long integer
            raise MarketDataError(f"{where}: not a JSON array of forceOrder messages: {exc}") from None
    else:
        items = []
        for n, line in enumerate(stripped.splitlines(), 1):
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except (ValueError, RecursionError) as exc:  # syntax, nesting, an over-long integer
                raise MarketDataError(f"{where}: line {n} is not JSON: {exc}") from None
    rows = []
    for n, msg in enumerate(items, 1):
        if isinstance(msg, dict) and "data" in msg and isinstance(msg["data"], dict):
            msg = msg["data"]  # combined-stream wrapper {"stream": ..., "data": {...}}
        if not (isinstance(msg, dict) and isinstance(msg.get("o"), dict)):
            raise MarketDataError(
                f"{where}: message {n} is not a forceOrder event (no 'o' object): {str(msg)[:120]}"
            )
        o = msg["o"]
        missing = [k for k in ("s", "S", "q", "p", "T") if k not in o]
        if missing:
            raise MarketDataError(f"{where}: message {n} lacks fields {missing} in 'o'")
        rows.append({name: o.get(key) for key, name in _WS_KEYS.items()})
    return pd.DataFrame(rows, columns=FORCEORDER_CSV_COLUMNS, dtype=object)


#: Other spellings of the columns in headers (Binance REST ``allForceOrders`` fields and common exports),
#: after camelCase -> snake_case.
_ALIASES = {
    "orig_qty": "original_quantity",
    "original_qty": "original_quantity",
    "executed_qty": "accumulated_fill_quantity",
    "filled_accumulated_quantity": "accumulated_fill_quantity",
    "order_filled_accumulated_quantity": "accumulated_fill_quantity",
    "last_filled_quantity": "last_fill_quantity",
    "order_last_filled_quantity": "last_fill_quantity",
    "avg_price": "average_price",
    "type": "order_type",
    "status": "order_status",
    "trade_time": "time",
    "order_trade_time": "time",
    "timestamp": "time",
}
#: Header columns that are read past: sizes some collectors compute from the fields above.
_IGNORED = frozenset({"usd", "usd_size", "notional", "notional_usd", "value"})
_QUANTITIES = ("original_quantity", "accumulated_fill_quantity")
#: Columns a headed file of each format must name (plus one of the quantities).
_REQUIRED = {
    "forceorder-csv": ("symbol", "side", "price", "time"),
    "liquidation-snapshot": ("side", "price", "time"),
}


def _header_fields(text: str) -> list[str] | None:
    """The fields of the first non-empty line when it is a header (it names a ``side``/``S`` column), else None."""
    for line in text.splitlines():
        if line.strip():
            fields = next(csv.reader([line]))
            if any(f.strip().strip('"') == "S" or _snake(f.strip().strip('"')) == "side" for f in fields):
                return [f.strip().strip('"') for f in fields]
            return None
    return None


def _snake(name: str) -> str:
    """``"averagePrice"``, ``"Average Price"``, ``"average-price"`` -> ``"average_price"``."""
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name.strip())
    return re.sub(r"[\s\-]+", "_", s).lower()


def _header_names(fields: list[str], where: str) -> list[str | None]:
    """Canonical column name per header field (None: a column read past); unknown or repeated names raise.

    Accepted: the websocket keys (``s, S, o, f, q, p, ap, X, l, z, T``, case-sensitive), the names of
    :data:`FORCEORDER_CSV_COLUMNS` in snake or camel case, the aliases in ``_ALIASES``, and ``_IGNORED`` sizes.
    """
    out: list[str | None] = []
    unknown = []
    for f in fields:
        if f in _WS_KEYS:
            out.append(_WS_KEYS[f])
            continue
        s = _snake(f)
        if s in FORCEORDER_CSV_COLUMNS:
            out.append(s)
        elif s in _ALIASES:
            out.append(_ALIASES[s])
        elif s in _IGNORED:
            out.append(None)
        else:
            unknown.append(f)
    if unknown:
        raise MarketDataError(
            f"{where}: unknown liquidation columns {unknown} in the header {fields}; known: "
            f"{', '.join(FORCEORDER_CSV_COLUMNS)} (or the websocket keys {', '.join(_WS_KEYS)}), "
            f"aliases {', '.join(sorted(_ALIASES))}; read past: {', '.join(sorted(_IGNORED))}"
        )
    named = [n for n in out if n is not None]
    repeated = sorted({n for n in named if named.count(n) > 1})
    if repeated:
        raise MarketDataError(f"{where}: the header {fields} names the columns {repeated} more than once")
    return out


def _parse_csv(text: str, fmt: str, where: str) -> pd.DataFrame:
    """Rows of a forceOrder or liquidationSnapshot CSV as text columns named as in ``FORCEORDER_CSV_COLUMNS``.

    With a header the columns are taken by name in any order (see :func:`_header_names`); without one by
    position (:data:`FORCEORDER_CSV_COLUMNS` plus an optional trailing size, or :data:`SNAPSHOT_COLUMNS`).
    """
    header = _header_fields(text)
    try:
        df = pd.read_csv(
            io.StringIO(text),
            header=None,
            skiprows=0 if header is None else 1,
            dtype=str,
            skip_blank_lines=True,
        )
    except pd.errors.EmptyDataError:  # a header without rows: no liquidations in the file
        df = pd.DataFrame(columns=range(len(header or ())), dtype=object)
    except pd.errors.ParserError as exc:
        raise MarketDataError(f"{where}: not a readable CSV table ({' '.join(str(exc).split())})") from None
    if header is None:
        names = FORCEORDER_CSV_COLUMNS if fmt == "forceorder-csv" else SNAPSHOT_COLUMNS
        extra_ok = 1 if fmt == "forceorder-csv" else 0
        if not (len(names) <= df.shape[1] <= len(names) + extra_ok):
            raise MarketDataError(
                f"{where}: expected {len(names)} columns ({', '.join(names)}), found {df.shape[1]}"
            )
        df = df.iloc[:, : len(names)]
        df.columns = names
    else:
        canon = _header_names(header, where)
        if df.shape[1] != len(header):
            raise MarketDataError(
                f"{where}: the header names {len(header)} columns but the rows have {df.shape[1]} fields"
            )
        present = {n for n in canon if n is not None}
        missing = [n for n in _REQUIRED[fmt] if n not in present]
        if not present.intersection(_QUANTITIES):
            missing.append(" or ".join(_QUANTITIES))
        if missing:
            raise MarketDataError(f"{where}: the header {header} lacks the liquidation columns {missing}")
        df = df.loc[:, [n is not None for n in canon]]
        df.columns = [n for n in canon if n is not None]
    for n in FORCEORDER_CSV_COLUMNS:
        if n not in df.columns:
            df[n] = None
    return df[FORCEORDER_CSV_COLUMNS].astype(object)


def _normalise(
    raw: pd.DataFrame,
    *,
    where: str,
    price: Literal["average_or_order", "average", "order"],
    contract_size: float | None,
    inverse: bool,
) -> pd.DataFrame:
    raw = raw.replace({"None": None, "null": None, "": None})
    df = numeric(
        raw,
        ["original_quantity", "price", "average_price", "last_fill_quantity", "accumulated_fill_quantity"],
        where=where,
    )
    side_raw = df["side"].astype(str).str.upper().str.strip()
    bad = ~side_raw.isin(["BUY", "SELL"])
    if bad.any():
        raise MarketDataError(
            f"{where}: column 'side' must be BUY or SELL, found {side_raw[bad].unique()[:5].tolist()}"
        )
    side = np.where(side_raw == "SELL", "long", "short")
    order_price = df["price"].to_numpy(dtype=float)
    avg = df["average_price"].to_numpy(dtype=float)
    has_avg = np.isfinite(avg) & (avg > 0)
    if price == "average":
        if not has_avg.all():
            raise MarketDataError(
                f"{where}: {int((~has_avg).sum())} rows have no average fill price; "
                "pass price='average_or_order' or price='order'"
            )
        px, source = avg, np.full(len(df), "average")
    elif price == "order":
        px, source = order_price, np.full(len(df), "order")
    else:
        px = np.where(has_avg, avg, order_price)
        source = np.where(has_avg, "average", "order")
    qty = df["accumulated_fill_quantity"].to_numpy(dtype=float)
    no_fill = ~np.isfinite(qty)
    qty = np.where(no_fill, df["original_quantity"].to_numpy(dtype=float), qty)
    if not np.isfinite(px).all() or (px <= 0).any():
        raise MarketDataError(
            f"{where}: {int((~(np.isfinite(px) & (px > 0))).sum())} rows have no positive price"
        )
    if not np.isfinite(qty).all() or (qty < 0).any():
        raise MarketDataError(
            f"{where}: {int((~(np.isfinite(qty) & (qty >= 0))).sum())} rows have no valid quantity"
        )
    if inverse:
        if contract_size is None:
            raise ValueError(f"{where}: contract_size is needed for inverse (COIN-M) contracts")
        notional = qty * contract_size  # contracts x USD face value
        base = notional / px
    else:
        base = qty * (contract_size or 1.0)
        notional = base * px
    return pd.DataFrame(
        {
            "time": parse_times(pd.Series(raw["time"].to_numpy()), where=f"{where} time"),
            "symbol": raw["symbol"].astype(str).to_numpy(),
            "side": side,
            "price": px,
            "qty": base,
            "notional": notional,
            "order_price": order_price,
            "price_source": source,
        }
    )


def _check_events(df: pd.DataFrame, where: str) -> pd.DataFrame:
    need = ["time", "side", "notional"]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise MarketDataError(f"{where}: event frame lacks columns {missing}; it has {list(df.columns)}")
    out = df.copy()
    if not pd.api.types.is_datetime64_any_dtype(out["time"].dtype):
        out["time"] = parse_times(out["time"], where=f"{where} time")
    elif getattr(out["time"].dt, "tz", None) is None:
        raise MarketDataError(f"{where}: column 'time' is naive; localise it to UTC")
    else:
        out["time"] = out["time"].dt.tz_convert("UTC")
    bad = ~out["side"].isin(["long", "short"])
    if bad.any():
        raise MarketDataError(
            f"{where}: column 'side' must be 'long' or 'short', found {out['side'][bad].unique()[:5].tolist()}"
        )
    n = pd.to_numeric(out["notional"], errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(n).all() or (n < 0).any():
        raise MarketDataError(f"{where}: column 'notional' must be finite and >= 0")
    out["notional"] = n
    return out


def read_liquidations(
    path_or_frame: Source | pd.DataFrame,
    *,
    format: Format = "auto",
    symbol: str | None = None,
    price: Literal["average_or_order", "average", "order"] = "average_or_order",
    duplicates: Literal["error", "drop"] = "error",
    contract_size: float | None = None,
) -> pd.DataFrame:
    """Read liquidation orders into an event frame.

    Parameters
    ----------
    path_or_frame : path, glob, list of them, or DataFrame
        Files (``.csv``, ``.json``/``.jsonl`` or ``.zip``) or an event frame with at least ``time, side,
        notional`` (validated and returned sorted).
    format : {"auto", "forceorder-json", "forceorder-csv", "liquidation-snapshot", "events"}
        ``forceorder-json``: websocket ``forceOrder`` messages, one JSON object per line (or a JSON array;
        combined-stream ``{"stream", "data"}`` wrappers accepted). ``forceorder-csv``: the ``o`` fields as flat
        CSV (without header: ``s,S,o,f,q,p,ap,X,l,z,T`` and optionally a trailing USD size).
        ``liquidation-snapshot``: Binance ``liquidationSnapshot`` files (symbol from the file name). A CSV with a
        header is read **by column name, in any order**: the websocket keys (``S``, ``ap``, ...), the names of
        :data:`FORCEORDER_CSV_COLUMNS` in snake or camel case (``average_price``, ``averagePrice``), REST names
        (``origQty``, ``executedQty``, ``avgPrice``, ``status``, ``type``); ``usd``/``notional`` size columns are
        read past, any other name is an error. ``time`` may be epoch numbers (any unit) or ISO 8601 with a zone.
        ``auto`` decides from each file's first line (a headed file with a ``symbol`` column is forceOrder rows).
    symbol : str, optional
        Keep only this symbol. A row whose symbol had the quote stripped (``"BTC"`` in some dumps) matches
        ``"BTCUSDT"`` too.
    price : {"average_or_order", "average", "order"}
        ``price`` column: the average fill price ``ap``; where a row has none (``None``/0), the order price
        ``p`` (``price_source`` records which) -- or strictly one of them (``"average"`` raises when missing).
    duplicates : {"error", "drop"}
        Exact duplicate rows (collectors often write a message twice) raise, or are dropped explicitly.
    contract_size : float, optional
        For COIN-M (inverse) symbols such as ``BTCUSD_PERP`` the quantity is in contracts of this USD face value
        (default from :func:`coin_m_contract_size`). For linear symbols quantities are in base units.

    Returns
    -------
    pandas.DataFrame
        Columns ``time`` (UTC), ``symbol``, ``side`` (liquidated position: SELL -> ``"long"``, BUY ->
        ``"short"``), ``price`` [quote], ``qty`` [base], ``notional`` [quote] = qty x price (for inverse
        contracts: contracts x face value), ``order_price`` [quote], ``price_source``; sorted by time.

    Examples
    --------
    >>> ev = read_liquidations("forceorder/*.jsonl", symbol="BTCUSDT")  # doctest: +SKIP
    >>> ev.groupby("side")["notional"].sum()  # doctest: +SKIP
    """
    allowed = ("auto", "forceorder-json", "forceorder-csv", "liquidation-snapshot", "events")
    if format not in allowed:
        raise ValueError(f"format={format!r}; allowed: {', '.join(map(repr, allowed))}")
    if price not in ("average_or_order", "average", "order"):
        raise ValueError(f"price={price!r}; allowed: 'average_or_order', 'average', 'order'")
    if duplicates not in ("error", "drop"):
        raise ValueError(f"duplicates={duplicates!r}; allowed: 'error', 'drop'")
    if contract_size is not None and not contract_size > 0:
        raise ValueError(f"contract_size={contract_size!r} must be > 0")

    if isinstance(path_or_frame, pd.DataFrame):
        if format not in ("auto", "events"):
            raise ValueError(f"format={format!r} applies to files; a DataFrame must be an event frame")
        ev = _check_events(path_or_frame, "events")
        ev = check_duplicates(ev, duplicates=duplicates, where="events")
    else:
        parts = []
        for p in expand_paths(path_or_frame, what="liquidations"):
            for where, text in iter_texts(p):
                if not text.strip():
                    continue
                fmt = _detect(text, where) if format == "auto" else format
                if fmt == "forceorder-json":
                    raw = _parse_json(text, where)
                    inverse = False
                elif fmt == "forceorder-csv":
                    raw = _parse_csv(text, fmt, where)
                    if raw["symbol"].isna().any():
                        raise MarketDataError(
                            f"{where}: {int(raw['symbol'].isna().sum())} rows have no symbol"
                        )
                    inverse = False
                elif fmt == "liquidation-snapshot":
                    raw = _parse_csv(text, fmt, where)
                    named = bool(raw["symbol"].notna().all()) and not raw.empty
                    if named:
                        syms = raw["symbol"].astype(str).unique()
                        if len({bool(_INVERSE_RE.match(x)) for x in syms}) > 1:
                            raise MarketDataError(
                                f"{where}: mixes linear and inverse symbols {syms[:5].tolist()}; one file per kind"
                            )
                        sym: str | None = str(syms[0])
                    else:
                        sym = symbol_from_filename(Path(where.split("!")[-1])) or symbol_from_filename(p)
                    if sym is None:
                        raise MarketDataError(
                            f"{where}: liquidationSnapshot files carry the symbol in their name "
                            "(SYMBOL-liquidationSnapshot-YYYY-MM-DD.csv); rename the file"
                        )
                    if not named:
                        raw["symbol"] = sym
                    inverse = bool(_INVERSE_RE.match(sym))
                else:
                    raise ValueError("format='events' applies to DataFrames only")
                if raw.empty:
                    continue
                raw = check_duplicates(raw, duplicates=duplicates, where=where)
                cs = contract_size
                inv = inverse
                if inv and cs is None:
                    cs = coin_m_contract_size(str(raw["symbol"].iloc[0]))
                parts.append(_normalise(raw, where=where, price=price, contract_size=cs, inverse=inv))
        if not parts:
            text_cols = ("symbol", "side", "price_source")
            empty = {c: pd.Series(dtype=object if c in text_cols else float) for c in EVENT_COLUMNS}
            empty["time"] = pd.Series(pd.DatetimeIndex([], tz="UTC").as_unit("ns"))
            return pd.DataFrame(empty)
        ev = pd.concat(parts, ignore_index=True)
        ev = check_duplicates(ev, duplicates=duplicates, where="liquidations (across files)")
    if symbol is not None:
        s = ev["symbol"].astype(str)
        ev = ev.loc[(s == symbol) | ((s + "USDT") == symbol)]
    return ev.sort_values("time", kind="stable").reset_index(drop=True)


BYBIT_COLUMNS = ["ts_ms", "side", "qty", "price"]


def read_bybit_liquidations(
    path: Source,
    *,
    symbol: str | None = None,
    price: Literal["bankruptcy", "liquidation"] = "bankruptcy",
    schedule: MarginSchedule | None = None,
    duplicates: Literal["error", "drop"] = "error",
) -> pd.DataFrame:
    """Read a recording of Bybit's public ``liquidation`` websocket topic into an event frame.

    One row per liquidation with at least ``ts_ms`` (ms since epoch, UTC), ``side`` (Bybit's ``Buy`` = a **long**
    position was liquidated, ``Sell`` = a short), ``qty`` [base] and ``price`` [quote], which is the position's
    **bankruptcy** price, not the trade or trigger price; ``symbol`` and ``position`` (``long``/``short``) are
    used when present (a ``position`` that contradicts ``side`` is an error).

    Parameters
    ----------
    path : path, glob or list of them
        CSV files (plain or ``.zip``) with a header.
    symbol : str, optional
        Keep only this symbol.
    price : {"bankruptcy", "liquidation"}, default "bankruptcy"
        ``price`` column of the result: the recorded bankruptcy price, or the liquidation (trigger) price of an
        isolated position from :func:`heatmap.margin.liquidation_from_bankruptcy` with ``schedule`` and each
        event's size (the bracket of its notional). ``price_source`` says which; ``order_price`` always holds
        the recorded bankruptcy price.
    schedule : MarginSchedule, optional
        For ``price="liquidation"``; default ``heatmap.exchanges.get("bybit", "BTCUSDT")`` (MMR 0.5 % up to
        2,000,000 USDT).
    duplicates : {"error", "drop"}
        Exact duplicate rows raise, or are dropped.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`read_liquidations`: ``time`` (UTC), ``symbol``, ``side`` (liquidated position),
        ``price`` [quote], ``qty`` [base], ``notional = qty x price`` [quote], ``order_price`` (bankruptcy price
        [quote]), ``price_source`` (``"bankruptcy"`` or ``"liquidation"``); sorted by time.

    Examples
    --------
    >>> ev = read_bybit_liquidations("bybit_BTCUSDT_liquidations_*.csv", price="liquidation")  # doctest: +SKIP
    >>> ev.groupby("side")["notional"].sum()  # doctest: +SKIP
    """
    if price not in ("bankruptcy", "liquidation"):
        raise ValueError(f"price={price!r}; allowed: 'bankruptcy', 'liquidation'")
    if schedule is not None and price != "liquidation":
        raise ValueError("schedule applies to price='liquidation' only")
    parts = []
    for p in expand_paths(path, what="Bybit liquidations"):
        for where, text in iter_texts(p):
            if not text.strip():
                continue
            raw = pd.read_csv(io.StringIO(text), dtype=str, skip_blank_lines=True)
            raw.columns = [str(c).strip().lower() for c in raw.columns]
            missing = [c for c in BYBIT_COLUMNS if c not in raw.columns]
            if missing:
                raise MarketDataError(
                    f"{where}: Bybit liquidation file lacks columns {missing}; it has {list(raw.columns)}"
                )
            raw = check_duplicates(raw, duplicates=duplicates, where=where)
            parts.append(_bybit_events(raw, where))
    if not parts:
        raise MarketDataError(f"{path}: no Bybit liquidation rows found")
    ev = pd.concat(parts, ignore_index=True)
    ev = check_duplicates(ev, duplicates=duplicates, where="Bybit liquidations (across files)")
    if symbol is not None:
        ev = ev.loc[ev["symbol"].astype(str) == symbol]
    if price == "liquidation":
        from heatmap.exchanges import get
        from heatmap.margin import liquidation_from_bankruptcy

        sched = get("bybit", "BTCUSDT") if schedule is None else schedule
        lp = liquidation_from_bankruptcy(
            ev["order_price"].to_numpy(), ev["side"].to_numpy(), schedule=sched, qty=ev["qty"].to_numpy()
        )
        ev = ev.assign(price=np.asarray(lp, dtype=float), price_source="liquidation")
    return ev.sort_values("time", kind="stable").reset_index(drop=True)


def _bybit_events(raw: pd.DataFrame, where: str) -> pd.DataFrame:
    df = numeric(raw, ["ts_ms", "qty", "price"], where=where)
    side_raw = df["side"].astype(str).str.strip().str.capitalize()
    bad = ~side_raw.isin(["Buy", "Sell"])
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())[:5].tolist()
        raise MarketDataError(
            f"{where}: column 'side' must be Buy or Sell, found {df['side'][bad].unique()[:5].tolist()} "
            f"(rows {rows})"
        )
    side = np.where(side_raw == "Buy", "long", "short")
    if "position" in df.columns:
        pos = df["position"].astype(str).str.strip().str.lower().to_numpy()
        clash = pos != side
        if clash.any():
            rows = np.flatnonzero(clash)[:5].tolist()
            raise MarketDataError(
                f"{where}: column 'position' contradicts 'side' (Buy = long, Sell = short) in "
                f"{int(clash.sum())} rows, e.g. rows {rows}"
            )
    px = df["price"].to_numpy(dtype=float)
    qty = df["qty"].to_numpy(dtype=float)
    for name, v in (("price", px), ("qty", qty)):
        bad_v = ~(np.isfinite(v) & (v > 0))
        if bad_v.any():
            rows = np.flatnonzero(bad_v)[:5].tolist()
            raise MarketDataError(
                f"{where}: column {name!r} must be finite and > 0; {int(bad_v.sum())} rows are not "
                f"(rows {rows}, values {v[bad_v][:5].tolist()})"
            )
    sym = df["symbol"].astype(str).to_numpy() if "symbol" in df.columns else np.full(len(df), "BTCUSDT")
    return pd.DataFrame(
        {
            "time": epoch_to_utc(df["ts_ms"], unit="ms", where=f"{where} ts_ms"),
            "symbol": sym,
            "side": side,
            "price": px,
            "qty": qty,
            "notional": qty * px,
            "order_price": px,
            "price_source": "bankruptcy",
        }
    )


def _bar_positions(times: pd.DatetimeIndex, market: Market) -> tuple[np.ndarray, np.ndarray]:
    """Bar position of each time (bar ``[open, open + freq)`` containing it) and an inside-span mask."""
    idx = market.index.asi8
    t = times.as_unit("ns").asi8
    if len(idx) == 0:
        return np.zeros(len(t), dtype=np.int64), np.zeros(len(t), dtype=bool)
    pos = np.searchsorted(idx, t, side="right") - 1
    inside = (pos >= 0) & (t < idx[-1] + market.freq.value)
    return np.clip(pos, 0, None), inside


def liquidations_per_bar(
    data: pd.DataFrame,
    market: Market,
    *,
    outside: Literal["error", "drop"] = "error",
    symbol: str | None = None,
) -> pd.DataFrame:
    """Realized liquidation notional per market bar [quote], by side of the liquidated position.

    Parameters
    ----------
    data : pandas.DataFrame
        Either an event frame (columns ``time``, ``side``, ``notional``, as from :func:`read_liquidations`):
        each event goes to the bar whose ``[open, open + freq)`` contains its time; or a per-bar table indexed
        by bar open time with columns ``long`` and ``short`` [quote] (as from :func:`read_liquidation_bars`)
        whose bar length divides the market's: its rows are summed into the market bars, and every market bar
        must be fully covered.
    market : Market
        The bars to align to.
    outside : {"error", "drop"}
        Events or rows outside the market's span raise, or are dropped; the number dropped is in
        ``result.attrs["outside"]``.
    symbol : str, optional
        Keep only events of this symbol (event frames only; see :func:`read_liquidations`).

    Returns
    -------
    pandas.DataFrame
        Index = ``market.index``, columns ``long``, ``short`` [quote]; bars without an event are 0.

    Examples
    --------
    >>> import pandas as pd
    >>> from heatmap.market import Market
    >>> idx = pd.date_range("2025-01-01", periods=2, freq="1h", tz="UTC")
    >>> m = Market(pd.DataFrame({"open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "open_interest": 1.0},
    ...                         index=idx))
    >>> ev = pd.DataFrame({"time": pd.to_datetime(["2025-01-01 00:30", "2025-01-01 01:00"], utc=True),
    ...                    "side": ["long", "short"], "notional": [5.0, 7.0]})
    >>> liquidations_per_bar(ev, m).to_numpy().tolist()
    [[5.0, 0.0], [0.0, 7.0]]
    """
    if outside not in ("error", "drop"):
        raise ValueError(f"outside={outside!r}; allowed: 'error', 'drop'")
    if not isinstance(market, Market):
        raise TypeError(f"market must be a Market, got {type(market).__name__}")
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be an event frame or a per-bar DataFrame, got {type(data).__name__}")
    n = len(market)
    out = np.zeros((n, 2))
    if {"time", "side", "notional"} <= set(data.columns):
        ev = _check_events(data, "events")
        if symbol is not None:
            if "symbol" not in ev.columns:
                raise MarketDataError("events: symbol= given but the frame has no 'symbol' column")
            s = ev["symbol"].astype(str)
            ev = ev.loc[(s == symbol) | ((s + "USDT") == symbol)]
        pos, inside = _bar_positions(pd.DatetimeIndex(ev["time"]), market)
        dropped = int((~inside).sum())
        if dropped and outside == "error":
            times = pd.DatetimeIndex(ev["time"])[~inside]
            raise MarketDataError(
                f"events: {dropped} liquidations fall outside the market span "
                f"[{market.index[0] if n else None}, {market.end if n else None}), first: "
                f"{', '.join(str(t) for t in times[:5])}; pass outside='drop' to drop them"
            )
        col = np.where(ev["side"].to_numpy() == "long", 0, 1)
        np.add.at(out, (pos[inside], col[inside]), ev["notional"].to_numpy(dtype=float)[inside])
    elif {"long", "short"} <= set(data.columns):
        if symbol is not None:
            raise ValueError("symbol= applies to event frames, not per-bar tables")
        if not isinstance(data.index, pd.DatetimeIndex) or data.index.tz is None:
            raise MarketDataError(
                "per-bar liquidations: the index must be a tz-aware DatetimeIndex of bar open times"
            )
        tab = data[["long", "short"]].sort_index()
        t = tab.index.tz_convert("UTC").as_unit("ns")
        if t.has_duplicates:
            raise MarketDataError("per-bar liquidations: duplicate bar times")
        vals = tab.to_numpy(dtype=float)
        if not np.isfinite(vals).all() or (vals < 0).any():
            raise MarketDataError("per-bar liquidations: values must be finite and >= 0")
        step = np.diff(t.asi8)
        f_tab = int(step.min()) if step.size else market.freq.value
        if market.freq.value % f_tab != 0 or (n and ((t.asi8 - market.index.asi8[0]) % f_tab != 0).any()):
            raise MarketDataError(
                f"per-bar liquidations: bars of {pd.Timedelta(f_tab, unit='ns')} do not nest in the market's "
                f"{market.freq} bars"
            )
        pos, inside = _bar_positions(t, market)
        dropped = int((~inside).sum())
        if dropped and outside == "error":
            raise MarketDataError(
                f"per-bar liquidations: {dropped} rows fall outside the market span, first: "
                f"{', '.join(str(x) for x in t[~inside][:5])}; pass outside='drop' to drop them"
            )
        np.add.at(out, pos[inside], vals[inside])
        count = np.bincount(pos[inside], minlength=n)
        need = market.freq.value // f_tab
        short = count != need
        if short.any():
            shown = ", ".join(str(x) for x in market.index[short][:5])
            raise MarketDataError(
                f"per-bar liquidations: {int(short.sum())} market bars are not fully covered by the table "
                f"(missing rows are unknown, not zero), first: {shown}"
            )
    else:
        raise MarketDataError(
            f"data must have columns time, side, notional (events) or long, short (per bar); it has {list(data.columns)}"
        )
    res = pd.DataFrame(out, index=market.index.copy(), columns=["long", "short"])
    res.attrs["outside"] = dropped
    return res


def read_liquidation_bars(
    path: Source,
    *,
    time_col: str = "auto",
    long_col: str = "auto",
    short_col: str = "auto",
    time_format: str = "auto",
    assume_utc: bool = False,
) -> pd.DataFrame:
    """Read an aggregated per-bar liquidation table (e.g. CoinGlass 4h long/short liquidation USD).

    Parameters
    ----------
    path : path, glob or list
        CSV (or zip of CSV) files.
    time_col : str
        Bar open time column; ``"auto"`` picks the first of ``time``, ``timestamp``, ``open_time``, ``date``.
    long_col, short_col : str
        Value columns; ``"auto"`` picks the unique numeric column whose name contains ``long`` / ``short``
        (and not ``ratio``).
    time_format, assume_utc
        See :func:`heatmap.io.frames.read_csv_frame`.

    Returns
    -------
    pandas.DataFrame
        Index ``time`` (UTC bar open), columns ``long``, ``short`` in the file's unit (CoinGlass: USD [quote]).

    Examples
    --------
    >>> liq = read_liquidation_bars("liq_binance_allBTCpairs_4h_usd.csv")  # doctest: +SKIP
    >>> liquidations_per_bar(liq, market)  # doctest: +SKIP
    """
    from heatmap.io.frames import read_csv_frame

    df = read_csv_frame(path, time_col=time_col, time_format=time_format, assume_utc=assume_utc)

    def pick(word: str, given: str) -> str:
        if given != "auto":
            if given not in df.columns:
                raise MarketDataError(
                    f"{word}_col={given!r} is not a column; the file has {list(df.columns)}"
                )
            return given
        hits = [
            c
            for c in df.columns
            if word in str(c).lower()
            and "ratio" not in str(c).lower()
            and pd.api.types.is_numeric_dtype(df[c].dtype)
        ]
        if len(hits) != 1:
            raise MarketDataError(
                f"cannot choose the {word} column among {list(df.columns)}; pass {word}_col="
            )
        return hits[0]

    lc, sc = pick("long", long_col), pick("short", short_col)
    out = pd.DataFrame(
        {"long": df[lc].to_numpy(dtype=float), "short": df[sc].to_numpy(dtype=float)}, index=df.index
    )
    if out.index.has_duplicates:
        raise MarketDataError("per-bar liquidations: duplicate bar times")
    return out
