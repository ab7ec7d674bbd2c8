"""fetch_ccxt with a fake exchange object: paging, rate-limit spacing, retries of transient errors (no network)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from heatmap.io.ccxt import fetch_ccxt
from heatmap.market import MarketDataError

T0_MS = 1735689600000  # 2025-01-01 00:00 UTC
H = 3_600_000


class NetworkError(Exception):
    """Stands in for ccxt.NetworkError (matched by class name)."""


class RateLimitExceeded(NetworkError):
    pass


class BadSymbol(Exception):
    pass


class FakeExchange:
    """Serves 1h candles, hourly OI and 8h funding for 2025-01-01..03 with a page limit of 10 rows."""

    id = "fakeex"
    rateLimit = 200  # ms
    enableRateLimit = False
    has = {"fetchOpenInterestHistory": True, "fetchFundingRateHistory": True}
    page = 10

    def __init__(self, failures: list[Exception] | None = None, oi_amount: bool = True):
        self.failures = list(failures or [])
        self.oi_amount = oi_amount
        self.calls: list[tuple[str, int | None]] = []

    def _fail(self) -> None:
        if self.failures:
            raise self.failures.pop(0)

    def parse_timeframe(self, tf: str) -> int:
        return {"1h": 3600, "4h": 14400}[tf]

    def fetch_ohlcv(self, symbol, timeframe, since=None, limit=None, params=None):
        self.calls.append(("ohlcv", since))
        self._fail()
        start = max(since, T0_MS)
        rows = []
        for k in range(min(limit, self.page)):
            t = start + k * H
            if t >= T0_MS + 72 * H:
                break
            i = (t - T0_MS) // H
            c = 100.0 + i
            rows.append([t, c - 0.5, c + 1, c - 1, c, 10.0])
        return rows

    def fetch_open_interest_history(self, symbol, timeframe="1h", since=None, limit=None, params=None):
        self.calls.append(("oi", since))
        self._fail()
        rows = []
        for k in range(min(limit, self.page)):
            t = since + k * H
            if t > T0_MS + 72 * H:
                break
            i = (t - T0_MS) // H
            amt = 5000.0 + i
            rows.append(
                {
                    "timestamp": t,
                    "openInterestAmount": amt if self.oi_amount else None,
                    "openInterestValue": amt * (100.0 + i - 1),  # close of the bar that ends at t
                }
            )
        return rows

    def fetch_funding_rate_history(self, symbol, since=None, limit=None, params=None):
        self.calls.append(("funding", since))
        self._fail()
        out = []
        for j in range(9):
            t = T0_MS + j * 8 * H + 3
            if t >= since:
                out.append({"timestamp": t, "fundingRate": 1e-4 * (j + 1)})
        return out[: min(limit, 4)]


def test_paging_alignment_and_sleep_spacing():
    ex = FakeExchange()
    slept: list[float] = []
    m = fetch_ccxt(
        ex, "BTC/USDT:USDT", "1h", since="2025-01-01", until="2025-01-03", limit=50, sleep=slept.append
    )
    assert len(m) == 48 and m.venue == "fakeex" and m.symbol == "BTC/USDT:USDT"
    assert m.index[0] == pd.Timestamp("2025-01-01", tz="UTC")
    np.testing.assert_array_equal(m.array("close"), 100.0 + np.arange(48))
    # OI of bar k is the observation at its close (k+1)h
    np.testing.assert_array_equal(m.array("open_interest"), 5000.0 + np.arange(1, 49))
    fr = m.array("funding_rate")
    assert np.flatnonzero(fr).tolist() == [0, 8, 16, 24, 32, 40]
    np.testing.assert_allclose(fr[[0, 8]], [1e-4, 2e-4])
    # pages of 10 rows: 5 candle requests; every call after the first waits rateLimit
    assert sum(1 for c in ex.calls if c[0] == "ohlcv") == 5
    assert slept == [0.2] * (len(ex.calls) - 1)


def test_retries_transient_errors_and_raises_others():
    ex = FakeExchange(failures=[NetworkError("timeout"), RateLimitExceeded("429")])
    slept: list[float] = []
    m = fetch_ccxt(
        ex, "BTC/USDT:USDT", "1h", since="2025-01-01", until="2025-01-01 05:00", sleep=slept.append
    )
    assert len(m) == 5
    assert 0.5 in slept and 1.0 in slept  # back-off max(rateLimit, 0.5 s) x 2**attempt
    with pytest.raises(BadSymbol):
        fetch_ccxt(
            FakeExchange(failures=[BadSymbol("nope")]),
            "X",
            "1h",
            since=T0_MS,
            until=T0_MS + 5 * H,
            sleep=lambda s: None,
        )
    with pytest.raises(NetworkError):
        fetch_ccxt(
            FakeExchange(failures=[NetworkError("a")] * 3),
            "X",
            "1h",
            since=T0_MS,
            until=T0_MS + 5 * H,
            max_retries=2,
            sleep=lambda s: None,
        )


def test_self_throttled_exchange_is_not_slept_between_calls():
    ex = FakeExchange()
    ex.enableRateLimit = True
    slept: list[float] = []
    fetch_ccxt(ex, "X", "1h", since=T0_MS, until=T0_MS + 24 * H, sleep=slept.append)
    assert slept == []


def test_open_interest_value_converted_with_close():
    ex = FakeExchange(oi_amount=False)
    m = fetch_ccxt(ex, "X", "1h", since=T0_MS, until=T0_MS + 24 * H, sleep=lambda s: None)
    np.testing.assert_allclose(m.array("open_interest"), 5000.0 + np.arange(1, 25))


def test_argument_errors():
    ex = FakeExchange()
    with pytest.raises(ValueError, match="since is required"):
        fetch_ccxt(ex, "X", "1h")
    with pytest.raises(ValueError, match="must be after"):
        fetch_ccxt(ex, "X", "1h", since="2025-01-02", until="2025-01-01")
    with pytest.raises(ValueError, match="limit=0"):
        fetch_ccxt(ex, "X", "1h", since="2025-01-01", limit=0)
    ex.has = {"fetchOpenInterestHistory": False}
    with pytest.raises(MarketDataError, match="no open interest history"):
        fetch_ccxt(ex, "X", "1h", since=T0_MS, until=T0_MS + 5 * H, sleep=lambda s: None)
