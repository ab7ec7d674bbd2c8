"""Live data through ccxt (optional extra ``live``: ``pip install liquidation-heatmap[live]``).

:func:`fetch_ccxt` pages through ``fetch_ohlcv``, ``fetch_open_interest_history`` and
``fetch_funding_rate_history`` of a ccxt exchange and builds a :class:`~heatmap.market.Market` with the same
no-look-ahead alignment as :meth:`Market.from_frames <heatmap.market.Market.from_frames>`. Transient errors
(ccxt ``NetworkError`` and its subclasses such as ``RateLimitExceeded``, recognised by class name so ccxt is
not imported unless an exchange *name* is given) are retried with exponential back-off; between calls the reader
waits ``exchange.rateLimit`` milliseconds unless the exchange throttles itself (``enableRateLimit``).

Examples
--------
>>> from heatmap.io.ccxt import fetch_ccxt
>>> m = fetch_ccxt("binanceusdm", "BTC/USDT:USDT", "1h", since="2025-01-01", until="2025-01-08")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from heatmap.market import Market, MarketDataError

__all__ = ["fetch_ccxt", "TRANSIENT_ERRORS"]

#: ccxt exception class names that are retried (``NetworkError`` covers the others in ccxt's hierarchy; the
#: names are listed so that duck-typed exceptions outside ccxt are recognised too).
TRANSIENT_ERRORS = frozenset(
    {
        "NetworkError",
        "RateLimitExceeded",
        "DDoSProtection",
        "RequestTimeout",
        "ExchangeNotAvailable",
        "OnMaintenance",
    }
)


def _is_transient(exc: BaseException) -> bool:
    return any(cls.__name__ in TRANSIENT_ERRORS for cls in type(exc).__mro__)


def _to_ms(t: Any, name: str) -> int | None:
    if t is None:
        return None
    if isinstance(t, (int, np.integer)) and not isinstance(t, bool):
        return int(t)
    ts = pd.Timestamp(t)
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    if ts is pd.NaT:
        raise ValueError(f"{name}={t!r} is not a time")
    return int(ts.tz_convert("UTC").value // 1_000_000)


def _timeframe_ms(exchange: Any, timeframe: str) -> int:
    parse = getattr(exchange, "parse_timeframe", None)
    if callable(parse):
        return int(parse(timeframe)) * 1000
    units = {"m": "min", "h": "h", "d": "D", "w": "W"}
    if not timeframe or timeframe[-1] not in units or not timeframe[:-1].isdigit():
        raise ValueError(f"timeframe={timeframe!r}; expected e.g. '1m', '5m', '1h', '4h', '1d'")
    return int(pd.Timedelta(f"{timeframe[:-1]}{units[timeframe[-1]]}").value // 1_000_000)


class _Caller:
    """Calls exchange methods with rate-limit spacing and retries of transient errors."""

    def __init__(self, exchange: Any, max_retries: int, sleep: Callable[[float], None]):
        self.exchange = exchange
        self.max_retries = max_retries
        self.sleep = sleep
        self.delay = float(getattr(exchange, "rateLimit", 0) or 0) / 1000.0  # [s]
        self.self_throttled = bool(getattr(exchange, "enableRateLimit", False))
        self.calls = 0

    def __call__(self, method: str, *args: Any, **kwargs: Any) -> Any:
        fn = getattr(self.exchange, method)
        for attempt in range(self.max_retries + 1):
            if self.calls and not self.self_throttled and self.delay > 0:
                self.sleep(self.delay)
            self.calls += 1
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                if not _is_transient(exc) or attempt == self.max_retries:
                    raise
                self.sleep(max(self.delay, 0.5) * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover


def _page(
    call: _Caller,
    method: str,
    since: int,
    until: int,
    step: int,
    stamp: Callable[[Any], int],
    make_args: Callable[[int], tuple[tuple[Any, ...], dict[str, Any]]],
) -> list[Any]:
    out: list[Any] = []
    cursor = since
    while cursor < until:
        args, kwargs = make_args(cursor)
        batch = call(method, *args, **kwargs) or []
        if not batch:
            break
        stamps = [stamp(r) for r in batch]
        out.extend(r for r, s in zip(batch, stamps, strict=True) if since <= s < until)
        last = max(stamps)
        if last < cursor:
            break
        cursor = last + step
    return out


def fetch_ccxt(
    exchange: Any,
    symbol: str,
    timeframe: str = "1h",
    since: Any = None,
    until: Any = None,
    *,
    limit: int = 500,
    funding: bool = True,
    max_retries: int = 5,
    sleep: Callable[[float], None] = time.sleep,
    params: dict[str, Any] | None = None,
) -> Market:
    """Fetch candles, open interest and funding through ccxt and build a Market.

    Parameters
    ----------
    exchange : ccxt exchange object or str
        E.g. ``ccxt.binanceusdm()``; a name such as ``"binanceusdm"`` imports ccxt lazily and creates one with
        ``enableRateLimit=True``.
    symbol : str
        Unified ccxt symbol, e.g. ``"BTC/USDT:USDT"``.
    timeframe : str
        Bar length (``"1m"``, ``"1h"``, ``"4h"``, ...); open interest is requested at the same period.
    since, until : str, Timestamp or int [ms]
        Half-open span ``[since, until)`` of bar open times; ``until`` defaults to now. ``since`` is required.
    limit : int
        Page size per request.
    funding : bool
        Also fetch the funding history (when the exchange has it).
    max_retries : int
        Retries per request for transient errors (back-off ``max(rateLimit, 0.5 s) x 2**attempt``).
    sleep : callable
        Sleep function [s] (tests pass a recorder).
    params : dict, optional
        Extra exchange-specific ``params`` passed to every request.

    Returns
    -------
    Market
        ``open_interest`` [base] from ``openInterestAmount`` (or ``openInterestValue`` [quote] divided by the
        bar close when the amount is missing); ``funding_rate`` [fraction] at each settlement's bar.

    Examples
    --------
    >>> import ccxt  # doctest: +SKIP
    >>> m = fetch_ccxt(ccxt.binanceusdm(), "BTC/USDT:USDT", "4h", since="2025-01-01")  # doctest: +SKIP
    """
    if isinstance(exchange, str):
        try:
            ccxt = importlib.import_module("ccxt")
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("fetch_ccxt needs ccxt: pip install 'liquidation-heatmap[live]'") from exc
        if not hasattr(ccxt, exchange):
            raise ValueError(f"exchange={exchange!r} is not a ccxt exchange id")
        exchange = getattr(ccxt, exchange)({"enableRateLimit": True})
    if not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit={limit!r} must be a positive integer")
    if not isinstance(max_retries, int) or max_retries < 0:
        raise ValueError(f"max_retries={max_retries!r} must be an integer >= 0")
    since_ms = _to_ms(since, "since")
    if since_ms is None:
        raise ValueError("since is required (a time or epoch milliseconds)")
    until_ms = _to_ms(until, "until")
    if until_ms is None:
        until_ms = int(pd.Timestamp.now(tz="UTC").value // 1_000_000)
    if until_ms <= since_ms:
        raise ValueError(f"until={until!r} must be after since={since!r}")
    tf = _timeframe_ms(exchange, timeframe)
    extra = dict(params or {})
    has = getattr(exchange, "has", {}) or {}
    call = _Caller(exchange, max_retries, sleep)

    rows = _page(
        call,
        "fetch_ohlcv",
        since_ms,
        until_ms,
        tf,
        lambda r: int(r[0]),
        lambda c: ((symbol, timeframe), {"since": c, "limit": limit, "params": extra}),
    )
    if not rows:
        raise MarketDataError(f"fetch_ohlcv returned no candles for {symbol} {timeframe} since {since}")
    arr = np.asarray([r[:6] for r in rows], dtype=float)
    t = pd.to_datetime(arr[:, 0].astype("int64"), unit="ms", utc=True)
    candles = pd.DataFrame(arr[:, 1:6], index=t, columns=["open", "high", "low", "close", "volume"])
    candles = candles[~candles.index.duplicated(keep="last")].sort_index()

    if has.get("fetchOpenInterestHistory") is False or not hasattr(exchange, "fetch_open_interest_history"):
        raise MarketDataError(f"{getattr(exchange, 'id', exchange)!s} has no open interest history")
    oi_rows = _page(
        call,
        "fetch_open_interest_history",
        since_ms,
        until_ms + tf,  # the last bar's close observation
        tf,
        lambda r: int(r["timestamp"]),
        lambda c: ((symbol, timeframe), {"since": c, "limit": limit, "params": extra}),
    )
    if not oi_rows:
        raise MarketDataError(f"fetch_open_interest_history returned nothing for {symbol} {timeframe}")
    oi_t = pd.to_datetime([int(r["timestamp"]) for r in oi_rows], unit="ms", utc=True)
    amount = np.array(
        [np.nan if r.get("openInterestAmount") is None else r["openInterestAmount"] for r in oi_rows], float
    )
    value = np.array(
        [np.nan if r.get("openInterestValue") is None else r["openInterestValue"] for r in oi_rows], float
    )
    oi_unit = "base"
    if np.isnan(amount).all():
        if np.isnan(value).all():
            raise MarketDataError(
                "open interest history has neither openInterestAmount nor openInterestValue"
            )
        amount, oi_unit = value, "quote"
    oi = pd.Series(amount, index=oi_t, name="open_interest")
    oi = oi[~oi.index.duplicated(keep="last")]

    fr = None
    if (
        funding
        and has.get("fetchFundingRateHistory") is not False
        and hasattr(exchange, "fetch_funding_rate_history")
    ):
        f_rows = _page(
            call,
            "fetch_funding_rate_history",
            since_ms,
            until_ms,
            1,
            lambda r: int(r["timestamp"]),
            lambda c: ((symbol,), {"since": c, "limit": limit, "params": extra}),
        )
        if f_rows:
            fr = pd.Series(
                [float(r["fundingRate"]) for r in f_rows],
                index=pd.to_datetime([int(r["timestamp"]) for r in f_rows], unit="ms", utc=True),
                name="funding_rate",
            )
            fr = fr[~fr.index.duplicated(keep="last")]
    return Market.from_frames(
        candles,
        open_interest=oi,
        funding=fr,
        oi_unit=oi_unit,  # type: ignore[arg-type]
        symbol=symbol,
        venue=str(getattr(exchange, "id", None) or "") or None,
    )
