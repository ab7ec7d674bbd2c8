"""Dated maintenance-margin schedules (bracket / risk-limit tables) per venue and symbol.

A :class:`MarginSchedule` is one venue's bracket table for one symbol as it was in force from an effective date on.
Tables change over time (Binance re-tiered BTCUSDT several times), so :func:`get` picks the newest table effective on
or before a date. The tables shipped here are written in code from the cited sources; current tables can be loaded
with :func:`from_binance_json` (the ``GET /fapi/v1/leverageBracket`` / ``GET /dapi/v2/leverageBracket`` response) and
:func:`from_ccxt` (``ccxt`` ``fetch_leverage_tiers()`` output).

Units: bracket floors and caps are position notional in quote currency for linear contracts and in coin quantity for
inverse (coin-margined) contracts; ``cum`` (the maintenance amount) is in the margin currency (quote for linear, coin
for inverse). Brackets are half-open intervals ``(floor, cap]`` as Binance publishes them ("50,000 < Position <=
250,000"); a notional of exactly 0 belongs to the first bracket.

Examples
--------
>>> from heatmap.exchanges import get
>>> s = get("binance-usdm", "BTCUSDT")
>>> [float(x) for x in s.lookup(1_000_000.0)]
[0.0065, 950.0, 75.0]
>>> get("binance-usdm", "BTCUSDT", date="2022-01-01").effective.date().isoformat()
'2021-03-18'
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "Brackets",
    "MarginSchedule",
    "available",
    "from_binance_json",
    "from_ccxt",
    "get",
    "load_tiers",
    "VENUES",
]

Venue = Literal["binance-usdm", "binance-coinm", "bybit", "hyperliquid"]
VENUES: tuple[str, ...] = ("binance-usdm", "binance-coinm", "bybit", "hyperliquid")
_CONTRACTS = ("linear", "inverse")
_REL_TOL = 1e-9


def _readonly(name: str, values: ArrayLike) -> NDArray[np.float64]:
    try:
        arr = np.array(values, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: got {values!r}; expected a sequence of numbers") from exc
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-d sequence, got shape {arr.shape}")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class Brackets:
    """Bracket arrays of a schedule, one entry per bracket (read-only numpy arrays).

    Parameters
    ----------
    floor, cap : array-like
        Notional floor and cap of each bracket ([quote] linear, [coin] inverse); brackets are ``(floor, cap]``.
    mmr : array-like
        Maintenance-margin rate [fraction].
    max_leverage : array-like
        Maximum initial leverage allowed in the bracket [-].
    cum : array-like
        Maintenance amount ([quote] linear, [coin] inverse), ``MM = notional*mmr - cum``.
    """

    floor: NDArray[np.float64]
    cap: NDArray[np.float64]
    mmr: NDArray[np.float64]
    max_leverage: NDArray[np.float64]
    cum: NDArray[np.float64]

    def __post_init__(self) -> None:
        for name in ("floor", "cap", "mmr", "max_leverage", "cum"):
            object.__setattr__(self, name, _readonly(name, getattr(self, name)))
        n = len(self.floor)
        if n == 0:
            raise ValueError("brackets: need at least one bracket")
        for name in ("cap", "mmr", "max_leverage", "cum"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"brackets: {name} has {len(getattr(self, name))} entries, floor has {n}")

    def __len__(self) -> int:
        return len(self.floor)


def continuous_cum(floor: ArrayLike, mmr: ArrayLike) -> NDArray[np.float64]:
    """Maintenance amounts that make ``MM = N*mmr - cum`` continuous at every bracket floor.

    ``cum_0 = 0`` and ``cum_n = cum_{n-1} + floor_n * (mmr_n - mmr_{n-1})``.

    Examples
    --------
    >>> continuous_cum([0, 50_000, 600_000], [0.004, 0.005, 0.0065]).tolist()
    [0.0, 50.0, 950.0]
    """
    f = np.asarray(floor, dtype=np.float64)
    m = np.asarray(mmr, dtype=np.float64)
    steps = np.concatenate([[0.0], f[1:] * m[1:] - f[1:] * m[:-1]])
    return np.cumsum(steps)


@dataclass(frozen=True, eq=False)
class MarginSchedule:
    """One venue's maintenance-margin bracket table for one symbol, from an effective date on.

    Construct with :meth:`from_tiers` (or the loaders); direct construction takes a :class:`Brackets`. Validation:
    the first floor is 0, floors are contiguous (``floor_n == cap_{n-1}``), caps exceed floors, MMR is in (0, 1) and
    non-decreasing, max leverage is >= 1, non-increasing and its initial-margin rate ``1/max_leverage`` exceeds the
    MMR, and ``cum`` equals the continuity value ``cum_n = cum_{n-1} + floor_n*(MMR_n - MMR_{n-1})`` (relative
    tolerance 1e-9). Violations raise ``ValueError`` naming the bracket.

    Parameters
    ----------
    venue : str
        Venue key, e.g. ``"binance-usdm"``.
    symbol : str
        Venue symbol, e.g. ``"BTCUSDT"``.
    contract : {"linear", "inverse"}
        Linear: notional in quote; inverse: brackets in coin quantity, margins in coin.
    quote, base : str
        Quote and base currency.
    effective : pandas.Timestamp or None
        First UTC date the table applies to; ``None`` when the source does not say (a table loaded from a file
        without a date): reprs then say "effective date unknown".
    source : str
        Where the numbers come from (URL and/or description).
    brackets : Brackets
        The bracket arrays.
    notes : str
        Caveats (e.g. brackets known to be missing).

    Examples
    --------
    >>> s = MarginSchedule.from_tiers(venue="demo", symbol="XUSDT", contract="linear", quote="USDT", base="X",
    ...     effective="2024-01-01", source="example", tiers=[(0, 10_000, 0.01, 50), (10_000, 50_000, 0.02, 25)])
    >>> s.cum.tolist()
    [0.0, 100.0]
    """

    venue: str
    symbol: str
    contract: Literal["linear", "inverse"]
    quote: str
    base: str
    effective: pd.Timestamp | None
    source: str
    brackets: Brackets
    notes: str = field(default="")

    def __post_init__(self) -> None:
        if self.contract not in _CONTRACTS:
            raise ValueError(f"contract: got {self.contract!r}; allowed are {_CONTRACTS}")
        for name in ("venue", "symbol", "quote", "base", "source"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name}: got {value!r}; expected a non-empty string")
        if not isinstance(self.brackets, Brackets):
            raise ValueError(f"brackets: got {type(self.brackets).__name__}; expected a Brackets instance")
        if self.effective is not None:
            object.__setattr__(self, "effective", _utc_day("effective", self.effective))
        self._validate()

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_tiers(
        cls,
        *,
        venue: str,
        symbol: str,
        contract: Literal["linear", "inverse"],
        quote: str,
        base: str,
        effective: Any,
        source: str,
        tiers: Sequence[Sequence[float | None]],
        notes: str = "",
    ) -> MarginSchedule:
        """Build a schedule from rows ``(floor, cap, mmr, max_leverage[, cum])``.

        A missing or ``None`` ``cum`` is computed from continuity; a given one is checked against it.
        """
        rows = [tuple(t) for t in tiers]
        for i, row in enumerate(rows, start=1):
            if len(row) not in (4, 5):
                raise ValueError(
                    f"tiers: bracket {i} has {len(row)} fields; expected (floor, cap, mmr, max_leverage[, cum])"
                )
        floor = np.array([float(r[0]) for r in rows])  # type: ignore[arg-type]
        mmr = np.array([float(r[2]) for r in rows])  # type: ignore[arg-type]
        computed = continuous_cum(floor, mmr)
        cum = np.array(
            [computed[i] if len(r) == 4 or r[4] is None else float(r[4]) for i, r in enumerate(rows)]
        )
        brackets = Brackets(
            floor=floor,
            cap=np.array([float(r[1]) for r in rows]),  # type: ignore[arg-type]
            mmr=mmr,
            max_leverage=np.array([float(r[3]) for r in rows]),  # type: ignore[arg-type]
            cum=cum,
        )
        return cls(
            venue=venue,
            symbol=symbol,
            contract=contract,
            quote=quote,
            base=base,
            effective=effective,
            source=source,
            brackets=brackets,
            notes=notes,
        )

    def _validate(self) -> None:
        b = self.brackets
        name = f"{self.venue} {self.symbol}"
        if b.floor[0] != 0:
            raise ValueError(f"{name} bracket 1: floor is {b.floor[0]:g}; the first floor must be 0")
        for i in range(len(b)):
            k = i + 1
            if not b.cap[i] > b.floor[i]:
                raise ValueError(f"{name} bracket {k}: cap {b.cap[i]:g} must exceed floor {b.floor[i]:g}")
            if not 0 < b.mmr[i] < 1:
                raise ValueError(f"{name} bracket {k}: mmr {b.mmr[i]:g} must be in (0, 1) (a fraction)")
            if not b.max_leverage[i] >= 1:
                raise ValueError(f"{name} bracket {k}: max_leverage {b.max_leverage[i]:g} must be >= 1")
            if not 1.0 / b.max_leverage[i] > b.mmr[i]:
                raise ValueError(
                    f"{name} bracket {k}: initial-margin rate 1/{b.max_leverage[i]:g} must exceed mmr {b.mmr[i]:g}"
                )
            if i == 0:
                continue
            if b.floor[i] != b.cap[i - 1]:
                raise ValueError(
                    f"{name} bracket {k}: floor {b.floor[i]:g} != cap {b.cap[i - 1]:g} of bracket {k - 1} "
                    "(brackets must be contiguous)"
                )
            if b.mmr[i] < b.mmr[i - 1]:
                raise ValueError(
                    f"{name} bracket {k}: mmr {b.mmr[i]:g} below {b.mmr[i - 1]:g} of bracket {k - 1} "
                    "(must be non-decreasing)"
                )
            if b.max_leverage[i] > b.max_leverage[i - 1]:
                raise ValueError(
                    f"{name} bracket {k}: max_leverage {b.max_leverage[i]:g} above {b.max_leverage[i - 1]:g} of "
                    f"bracket {k - 1} (must be non-increasing)"
                )
        expected = continuous_cum(b.floor, b.mmr)
        for i in range(len(b)):
            tol = _REL_TOL * max(1.0, abs(expected[i]), b.floor[i] * b.mmr[i])
            if not abs(b.cum[i] - expected[i]) <= tol:  # also rejects NaN
                raise ValueError(
                    f"{name} bracket {i + 1}: published cum {b.cum[i]:,.10g} differs from the continuity value "
                    f"{expected[i]:,.10g} (cum_n = cum_(n-1) + floor_n*(mmr_n - mmr_(n-1)))"
                )

    # ---------------------------------------------------------------- arrays
    @property
    def floor(self) -> NDArray[np.float64]:
        """Bracket floors ([quote] linear, [coin] inverse)."""
        return self.brackets.floor

    @property
    def cap(self) -> NDArray[np.float64]:
        """Bracket caps ([quote] linear, [coin] inverse)."""
        return self.brackets.cap

    @property
    def mmr(self) -> NDArray[np.float64]:
        """Maintenance-margin rates [fraction]."""
        return self.brackets.mmr

    @property
    def cum(self) -> NDArray[np.float64]:
        """Maintenance amounts ([quote] linear, [coin] inverse)."""
        return self.brackets.cum

    @property
    def max_leverage(self) -> float:
        """Highest leverage the venue allows for this symbol (first bracket) [-]."""
        return float(self.brackets.max_leverage[0])

    @property
    def effective_text(self) -> str:
        """``"effective 2024-10-24"``, or ``"effective date unknown"`` for a table without a date."""
        return "effective date unknown" if self.effective is None else f"effective {self.effective.date()}"

    @property
    def notional_unit(self) -> str:
        """Currency of floors and caps: the quote for linear, the base coin for inverse schedules."""
        return self.quote if self.contract == "linear" else self.base

    def __len__(self) -> int:
        return len(self.brackets)

    # ---------------------------------------------------------------- lookups
    def bracket_index(self, notional: ArrayLike, *, clip: bool = False) -> NDArray[np.intp]:
        """0-based index of the bracket ``(floor, cap]`` containing each notional.

        Parameters
        ----------
        notional : array-like
            Position notional ([quote] linear, [coin] inverse), >= 0.
        clip : bool, default False
            Map notionals above the last cap to the last bracket instead of raising.

        Returns
        -------
        ndarray of int
            Same shape as ``notional``.

        Examples
        --------
        >>> from heatmap.exchanges import get
        >>> get("binance-usdm", "BTCUSDT").bracket_index([0, 50_000, 50_001]).tolist()
        [0, 0, 1]
        """
        n = np.asarray(notional, dtype=np.float64)
        bad = ~(n >= 0)
        if np.any(bad):
            raise ValueError(f"notional: got {float(n[bad].ravel()[0])!r}; must be >= 0")
        idx = np.searchsorted(self.cap, n, side="left")
        over = idx >= len(self)
        if np.any(over):
            if not clip:
                raise ValueError(
                    f"notional: got {n[over].ravel()[0]:,.6g} {self.notional_unit}, above the last cap "
                    f"{self.cap[-1]:,.6g} of {self.venue} {self.symbol}; pass clip=True to use the last bracket"
                )
            idx = np.minimum(idx, len(self) - 1)
        return idx

    def lookup(
        self, notional: ArrayLike, *, clip: bool = False
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Bracket values at each notional: ``(mmr, cum, max_leverage)`` arrays of the notional's shape.

        Examples
        --------
        >>> from heatmap.exchanges import get
        >>> mmr, cum, lev = get("binance-usdm", "BTCUSDT").lookup([10_000, 5_000_000])
        >>> mmr.tolist(), cum.tolist(), lev.tolist()
        ([0.004, 0.01], [0.0, 11450.0], [125.0, 50.0])
        """
        idx = self.bracket_index(notional, clip=clip)
        return (
            np.asarray(self.mmr[idx]),
            np.asarray(self.cum[idx]),
            np.asarray(self.brackets.max_leverage[idx]),
        )

    def maintenance_margin(self, notional: ArrayLike, *, clip: bool = False) -> NDArray[np.float64]:
        """Maintenance margin ``N*mmr(N) - cum(N)`` at notional ``N`` (margin currency)."""
        n = np.asarray(notional, dtype=np.float64)
        mmr, cum, _ = self.lookup(n, clip=clip)
        return n * mmr - cum

    def to_frame(self) -> pd.DataFrame:
        """Brackets as a DataFrame (columns ``floor, cap, mmr, max_leverage, cum``; index ``bracket`` from 1)."""
        b = self.brackets
        frame = pd.DataFrame(
            {"floor": b.floor, "cap": b.cap, "mmr": b.mmr, "max_leverage": b.max_leverage, "cum": b.cum},
            index=pd.RangeIndex(1, len(b) + 1, name="bracket"),
        )
        frame.attrs.update(
            venue=self.venue,
            symbol=self.symbol,
            contract=self.contract,
            effective=self.effective,
            source=self.source,
        )
        return frame

    def __repr__(self) -> str:
        n = len(self)
        mmr = f"{self.mmr[0]:.4g}" if n == 1 else f"{self.mmr[0]:.4g}-{self.mmr[-1]:.4g}"
        return (
            f"MarginSchedule({self.venue} {self.symbol}, {self.contract}, {self.effective_text}, "
            f"{n} bracket{'s' if n > 1 else ''} up to {self.cap[-1]:,.10g} {self.notional_unit}, "
            f"max {self.max_leverage:g}x, MMR {mmr})"
        )

    def _repr_html_(self) -> str:
        # the repr carries user text (venue, symbol, source): escaped, as are the table's cells
        return f"<p>{html.escape(self.__repr__())}</p>" + self.to_frame().to_html(escape=True)


def _utc_day(name: str, value: Any) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: got {value!r}; expected a date such as '2024-10-24'") from exc
    if ts is pd.NaT or pd.isna(ts):
        raise ValueError(f"{name}: got {value!r}; expected a date such as '2024-10-24'")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts


# ====================================================================================================================
# shipped tables
# ====================================================================================================================

_FREQTRADE = (
    "Binance GET /fapi/v1/leverageBracket snapshot as committed in freqtrade/freqtrade "
    "freqtrade/exchange/binance_leverage_tiers.json (commit c9ae5e1e9ff25bb55dd61f5e5519f7c479291edb, 2024-10-24); "
    "published cum values recompute exactly"
)

_TABLES: list[MarginSchedule] = [
    MarginSchedule.from_tiers(
        venue="binance-usdm",
        symbol="BTCUSDT",
        contract="linear",
        quote="USDT",
        base="BTC",
        effective="2021-03-18 09:00",
        source=(
            "Binance announcement 'Updates to Leverage and Margin Tiers of Binance Futures Contracts (2021-03-18)', "
            "https://www.binance.com/en/support/announcement/86cf9aa472574b8cb2e05bb751c2a9a6; maintenance amounts as "
            "in highfestiva's reverse-engineered calculator "
            "(https://gist.github.com/highfestiva/b71e76f51eed84d56c1be8ebbcc286b5, 2021-03-26)"
        ),
        tiers=[
            (0, 50_000, 0.004, 125, 0),
            (50_000, 250_000, 0.005, 100, 50),
            (250_000, 1_000_000, 0.01, 50, 1_300),
            (1_000_000, 10_000_000, 0.025, 20, 16_300),
            (10_000_000, 20_000_000, 0.05, 10, 266_300),
            (20_000_000, 50_000_000, 0.10, 5, 1_266_300),
            (50_000_000, 100_000_000, 0.125, 4, 2_516_300),
            (100_000_000, 200_000_000, 0.15, 3, 5_016_300),
            (200_000_000, 300_000_000, 0.25, 2, 25_016_300),
            (300_000_000, 500_000_000, 0.50, 1, 100_016_300),
        ],
        notes="Table used by Binance's published cross-margin example (bracket 4: MMR 2.5 %, cum 16,300).",
    ),
    MarginSchedule.from_tiers(
        venue="binance-usdm",
        symbol="BTCUSDT",
        contract="linear",
        quote="USDT",
        base="BTC",
        effective="2024-10-24",
        source=_FREQTRADE,
        tiers=[
            (0, 50_000, 0.004, 125, 0),
            (50_000, 600_000, 0.005, 100, 50),
            (600_000, 3_000_000, 0.0065, 75, 950),
            (3_000_000, 12_000_000, 0.01, 50, 11_450),
            (12_000_000, 70_000_000, 0.02, 25, 131_450),
            (70_000_000, 100_000_000, 0.025, 20, 481_450),
            (100_000_000, 230_000_000, 0.05, 10, 2_981_450),
            (230_000_000, 480_000_000, 0.10, 5, 14_481_450),
            (480_000_000, 600_000_000, 0.125, 4, 26_481_450),
            (600_000_000, 800_000_000, 0.15, 3, 41_481_450),
            (800_000_000, 1_200_000_000, 0.25, 2, 121_481_450),
            (1_200_000_000, 1_800_000_000, 0.50, 1, 421_481_450),
        ],
        notes="Snapshot date, not the date Binance introduced the table (the table may be older).",
    ),
    MarginSchedule.from_tiers(
        venue="binance-usdm",
        symbol="ETHUSDT",
        contract="linear",
        quote="USDT",
        base="ETH",
        effective="2024-10-24",
        source=_FREQTRADE,
        tiers=[
            (0, 50_000, 0.004, 125, 0),
            (50_000, 600_000, 0.005, 100, 50),
            (600_000, 3_000_000, 0.0065, 75, 950),
            (3_000_000, 12_000_000, 0.01, 50, 11_450),
            (12_000_000, 50_000_000, 0.02, 25, 131_450),
            (50_000_000, 65_000_000, 0.025, 20, 381_450),
            (65_000_000, 150_000_000, 0.05, 10, 2_006_450),
            (150_000_000, 320_000_000, 0.10, 5, 9_506_450),
            (320_000_000, 400_000_000, 0.125, 4, 17_506_450),
            (400_000_000, 530_000_000, 0.15, 3, 27_506_450),
            (530_000_000, 800_000_000, 0.25, 2, 80_506_450),
            (800_000_000, 1_200_000_000, 0.50, 1, 280_506_450),
        ],
        notes="Snapshot date, not the date Binance introduced the table (the table may be older).",
    ),
    MarginSchedule.from_tiers(
        venue="binance-coinm",
        symbol="BTCUSD_PERP",
        contract="inverse",
        quote="USD",
        base="BTC",
        effective="2021-02-05",
        source=(
            "Binance FAQ 'Leverage and Margin in Coin-Margined Futures Contracts' "
            "(https://www.binance.com/en/support/faq/be2c7d9d95b04a7e8044ed02dd7dfe5c, BTCUSD position caps "
            "10/20/30/50/100/200/400 BTC at 125/100/50/20/10/5/4x) and 'How to Calculate Liquidation Price of "
            "COIN-M Futures Contracts' (https://www.binance.com/en/support/faq/ceccfcfb4e3a45e3b48b0b1bb1a8ae46, "
            "2021-02-05: 300 BTC -> MMR 12.5 %, maintenance amount 11.81 BTC; level 5 amount = "
            "50 BTC*(5 % - 2.5 %) + 0.56 BTC = 1.81 BTC)"
        ),
        tiers=[
            (0, 10, 0.004, 125, 0),
            (10, 20, 0.005, 100, 0.01),
            (20, 30, 0.01, 50, 0.11),
            (30, 50, 0.025, 20, 0.56),
            (50, 100, 0.05, 10, 1.81),
            (100, 200, 0.10, 5, 6.81),
            (200, 400, 0.125, 4, 11.81),
        ],
        notes=(
            "Brackets in BTC quantity (position USD notional / price). MMRs of levels 1-4 and 6 are those that make "
            "the FAQ's published amounts (0.56 BTC at level 4, 1.81 at level 5, 11.81 at level 7) continuous; "
            "levels above 400 BTC (3x, 2x, 1x) are not included because their MMRs could not be confirmed. "
            "Effective date is the FAQ's publication date."
        ),
    ),
    MarginSchedule.from_tiers(
        venue="bybit",
        symbol="BTCUSDT",
        contract="linear",
        quote="USDT",
        base="BTC",
        effective="2021-06-01",
        source=(
            "Bybit help centre 'Risk Limit (USDT Contract)' and BTCUSDT risk-limit adjustment (restated at "
            "https://mobie.io/details-of-risk-limit-adjustment-by-bybit): level 1 up to 2,000,000 USDT, maintenance "
            "margin base rate 0.5 %, initial margin 1 % (100x)"
        ),
        tiers=[(0, 2_000_000, 0.005, 100)],
        notes=(
            "Base risk-limit tier only. Bybit computes maintenance margin on the entry value "
            "(use heatmap.margin.bybit_liquidation_price); higher tiers are not included. Effective date approximate."
        ),
    ),
    MarginSchedule.from_tiers(
        venue="bybit",
        symbol="BTCUSD",
        contract="inverse",
        quote="USD",
        base="BTC",
        effective="2022-12-26",
        source=(
            "Bybit API v5 'Get Risk Limit' example response (https://bybit-exchange.github.io/docs/v5/market/"
            "risk-limit): BTCUSD riskLimitValue 150 BTC, maintenanceMargin 0.5 %, initialMargin 1 %, maxLeverage 100"
        ),
        tiers=[(0, 150, 0.005, 100)],
        notes="Base risk-limit tier only; caps in BTC. Effective date is the example's timestamp.",
    ),
    MarginSchedule.from_tiers(
        venue="hyperliquid",
        symbol="BTC",
        contract="linear",
        quote="USDC",
        base="BTC",
        effective="2025-01-01",
        source=(
            "Hyperliquid docs 'Liquidations' (https://hyperliquid.gitbook.io/hyperliquid-docs/trading/liquidations): "
            "maintenance margin is half of the initial margin at max leverage; BTC max leverage 40x -> MMR 1.25 % "
            "(HyENA docs quoting Hyperliquid: ~1.25 % at 40x); same rule in freqtrade's Hyperliquid exchange class"
        ),
        tiers=[(0, float("inf"), 0.0125, 40)],
        notes=(
            "Single tier. Hyperliquid computes maintenance margin on the current notional without a maintenance "
            "amount (use heatmap.margin.hyperliquid_liquidation_price). Effective date approximate; BTC's max "
            "leverage has been 50x at other times and Hyperliquid also publishes notional margin tiers per asset, "
            "which are not included."
        ),
    ),
]


def _dated(table: MarginSchedule) -> pd.Timestamp:
    """The effective date of a shipped table (every shipped table has one)."""
    if table.effective is None:  # pragma: no cover - guarded by test_exchanges
        raise ValueError(f"{table.venue} {table.symbol}: a shipped table needs an effective date")
    return table.effective


def _registry() -> dict[tuple[str, str], list[MarginSchedule]]:
    reg: dict[tuple[str, str], list[MarginSchedule]] = {}
    for table in _TABLES:
        reg.setdefault((table.venue, table.symbol), []).append(table)
    for tables in reg.values():
        tables.sort(key=_dated)
    return reg


_REGISTRY = _registry()


def available() -> pd.DataFrame:
    """Shipped schedules: one row per table with ``venue, symbol, contract, effective, brackets, source``.

    Examples
    --------
    >>> from heatmap.exchanges import available
    >>> "binance-usdm" in set(available()["venue"])
    True
    """
    rows = [
        {
            "venue": t.venue,
            "symbol": t.symbol,
            "contract": t.contract,
            "effective": t.effective,
            "brackets": len(t),
            "source": t.source,
        }
        for tables in _REGISTRY.values()
        for t in tables
    ]
    return pd.DataFrame(rows).sort_values(["venue", "symbol", "effective"], ignore_index=True)


def get(venue: Venue | str, symbol: str, date: Any = None) -> MarginSchedule:
    """The shipped schedule of ``venue``/``symbol`` in force on ``date`` (newest if ``date`` is None).

    Parameters
    ----------
    venue : {"binance-usdm", "binance-coinm", "bybit", "hyperliquid"}
    symbol : str
        Venue symbol (case-insensitive), e.g. ``"BTCUSDT"``, ``"BTCUSD_PERP"``, ``"BTC"``.
    date : str, datetime-like, optional
        Picks the newest table effective on or before this date (UTC).

    Raises
    ------
    ValueError
        Unknown venue or symbol, or a date before the oldest table; the message lists what exists.

    Examples
    --------
    >>> get("binance-usdm", "BTCUSDT").max_leverage
    125.0
    """
    if venue not in VENUES:
        raise ValueError(f"venue: got {venue!r}; allowed are {VENUES}")
    key = (str(venue), str(symbol).upper())
    if key not in _REGISTRY:
        have = sorted(s for v, s in _REGISTRY if v == venue)
        raise ValueError(f"symbol: no schedule for {symbol!r} on {venue}; available: {have}")
    tables = _REGISTRY[key]
    if date is None:
        return tables[-1]
    when = _utc_day("date", date)
    valid = [t for t in tables if _dated(t).normalize() <= when]  # compared by UTC day
    if not valid:
        dates = [_dated(t).date().isoformat() for t in tables]
        raise ValueError(
            f"date: {when.date()} is before the oldest {venue} {key[1]} schedule; effective dates: {dates}"
        )
    return valid[-1]


# ====================================================================================================================
# loaders
# ====================================================================================================================


def _load_json(obj_or_path: Any) -> Any:
    if isinstance(obj_or_path, (str, Path)):
        path = Path(obj_or_path)
        try:
            with path.open(encoding="utf-8-sig") as fh:  # a byte-order mark (Windows editors) is fine
                return json.load(fh)
        except OSError as exc:
            raise ValueError(f"obj_or_path: cannot read {str(path)!r}: {exc}") from exc
        except (ValueError, RecursionError) as exc:  # JSON syntax, not UTF-8, too deep, an over-long integer
            raise ValueError(f"{str(path)!r} is not a JSON file: {type(exc).__name__}: {exc}") from None
    return obj_or_path


def from_binance_json(
    obj_or_path: Any,
    *,
    symbol: str,
    effective: Any = None,
    source: str | None = None,
) -> MarginSchedule:
    """Schedule from a Binance ``leverageBracket`` response (parsed JSON or a path to a JSON file).

    Accepts the USDⓈ-M ``GET /fapi/v1/leverageBracket`` format (``notionalFloor``/``notionalCap``, linear,
    venue ``"binance-usdm"``) and the COIN-M ``GET /dapi/v2/leverageBracket`` format (``qtylFloor``/``qtyCap`` in coin,
    inverse, venue ``"binance-coinm"``), either as the list of all symbols or one symbol's object. The published
    ``cum`` values are checked against continuity. A ``notionalCoef`` (per-user multiplier) is rejected because the
    brackets would not be the venue's default table.

    Parameters
    ----------
    obj_or_path : list, dict, str or Path
        The parsed response or a path to it.
    symbol : str
        Symbol to extract, e.g. ``"BTCUSDT"``.
    effective : date-like, optional
        Date the table was retrieved / in force. Default ``None``: the response carries no date, so the
        schedule says "effective date unknown" (today's date would be a guess).
    source : str, optional
        Description of the origin; default names the endpoint.

    Examples
    --------
    >>> obj = [{"symbol": "XUSDT", "brackets": [
    ...     {"bracket": 1, "initialLeverage": 50, "notionalCap": 5000, "notionalFloor": 0,
    ...      "maintMarginRatio": 0.01, "cum": 0.0}]}]
    >>> from_binance_json(obj, symbol="XUSDT").max_leverage
    50.0
    """
    data = _load_json(obj_or_path)
    entries = [data] if isinstance(data, Mapping) else list(data)
    want = symbol.upper()
    match = [
        e
        for e in entries
        if isinstance(e, Mapping) and str(e.get("symbol", e.get("pair", ""))).upper() == want
    ]
    if not match:
        have = [str(e.get("symbol", e.get("pair"))) for e in entries if isinstance(e, Mapping)]
        raise ValueError(
            f"symbol: {symbol!r} not in the response; it has {len(have)} symbols; similar: {_similar(symbol, have)}"
        )
    entry = match[0]
    if "notionalCoef" in entry and float(entry["notionalCoef"]) != 1.0:
        raise ValueError(
            f"notionalCoef: the response carries a per-user multiplier {entry['notionalCoef']!r}; "
            "these are not the venue's default brackets"
        )
    raw = sorted(entry["brackets"], key=lambda b: int(b["bracket"]))
    if not raw:
        raise ValueError(f"brackets: {symbol!r} has no brackets")
    inverse = "qtyCap" in raw[0]
    floor_key, cap_key = ("qtylFloor", "qtyCap") if inverse else ("notionalFloor", "notionalCap")
    if inverse and floor_key not in raw[0]:
        floor_key = "qtyFloor"
    tiers = [
        (
            float(b[floor_key]),
            float(b[cap_key]),
            float(b["maintMarginRatio"]),
            float(b["initialLeverage"]),
            float(b["cum"]) if "cum" in b else None,
        )
        for b in raw
    ]
    endpoint = "GET /dapi/v2/leverageBracket" if inverse else "GET /fapi/v1/leverageBracket"
    base, quote = _split_binance_symbol(want, inverse)
    return MarginSchedule.from_tiers(
        venue="binance-coinm" if inverse else "binance-usdm",
        symbol=want,
        contract="inverse" if inverse else "linear",
        quote=quote,
        base=base,
        effective=effective,
        source=source or f"Binance {endpoint} response",
        tiers=tiers,
    )


def _similar(symbol: str, names: list[str]) -> list[str]:
    """Up to eight listed symbols close to ``symbol`` (difflib), or the first eight."""
    import difflib

    want = symbol.replace("/", "").upper()
    close = difflib.get_close_matches(want, sorted(set(names)), n=8, cutoff=0.6)
    return close or sorted(set(names))[:8]


def _split_binance_symbol(symbol: str, inverse: bool) -> tuple[str, str]:
    if inverse:
        pair = symbol.split("_")[0]
        return (pair[:-3], "USD") if pair.endswith("USD") else (pair, "USD")
    for quote in ("USDT", "USDC", "BUSD", "FDUSD", "BTC", "ETH"):
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)], quote
    return symbol, "USDT"


def _ccxt_key_to_symbol(key: str) -> str:
    """``"BTC/USDT:USDT"`` -> ``"BTCUSDT"``; dated futures ``"BTC/USDT:USDT-241227"`` -> ``"BTCUSDT_241227"``."""
    market, _, settle = key.partition(":")
    _, _, expiry = settle.partition("-")
    return market.replace("/", "").upper() + (f"_{expiry}" if expiry else "")


def from_ccxt(
    tiers: Any,
    *,
    symbol: str,
    venue: str = "binance-usdm",
    effective: Any = None,
    source: str | None = None,
) -> MarginSchedule:
    """Schedule from ``ccxt`` ``fetch_leverage_tiers()`` output (parsed or a path to a JSON dump).

    Parameters
    ----------
    tiers : dict, list or path
        ``{"BTC/USDT:USDT": [{"tier", "minNotional", "maxNotional", "maintenanceMarginRate", "maxLeverage",
        "info"}, ...], ...}``, or one symbol's list of tiers.
    symbol : str
        ccxt symbol (``"BTC/USDT:USDT"``) or venue symbol (``"BTCUSDT"``).
    venue : str
        Venue key stored in the schedule.
    effective : date-like, optional
        Date of the snapshot. Default ``None``: ccxt output carries no date, so the schedule says "effective
        date unknown".
    source : str, optional
        Description of the origin.

    Notes
    -----
    A market settled in its base currency (``"BTC/USD:BTC"``) is inverse, otherwise linear. ``cum`` is taken from
    ``info["cum"]`` when present (and checked), else computed from continuity.

    Examples
    --------
    >>> t = {"X/USDT:USDT": [{"tier": 1, "minNotional": 0, "maxNotional": 5000, "maintenanceMarginRate": 0.01,
    ...                       "maxLeverage": 50, "info": {"cum": "0"}}]}
    >>> from_ccxt(t, symbol="XUSDT").symbol
    'XUSDT'
    """
    data = _load_json(tiers)
    key: str
    if isinstance(data, Mapping):
        upper = {str(k).upper(): k for k in data}
        if symbol in data or symbol.upper() in upper:
            key = symbol if symbol in data else upper[symbol.upper()]
        else:
            keys = [k for k in data if _ccxt_key_to_symbol(k) == symbol.replace("/", "").upper()]
            if not keys:
                raise ValueError(
                    f"symbol: {symbol!r} not found among {len(data)} symbols; "
                    f"similar: {_similar(symbol, [_ccxt_key_to_symbol(k) for k in data])}"
                )
            if len(keys) > 1:
                raise ValueError(
                    f"symbol: {symbol!r} matches several markets {sorted(keys)}; pass the ccxt symbol"
                )
            key = keys[0]
        rows = data[key]
    elif isinstance(data, Iterable):
        key = symbol
        rows = list(data)
    else:
        raise ValueError(f"tiers: got {type(data).__name__}; expected a dict of lists or a list of tiers")
    if not rows:
        raise ValueError(f"tiers: {symbol!r} has no tiers")
    rows = sorted(rows, key=lambda r: float(r.get("tier", 0)))
    market, _, settle = key.partition(":")
    base, _, quote = market.partition("/")
    inverse = bool(settle) and settle == base
    parsed = []
    for r in rows:
        info = r.get("info") or {}
        cum = info.get("cum")
        parsed.append(
            (
                float(r["minNotional"]),
                float(r["maxNotional"]),
                float(r["maintenanceMarginRate"]),
                float(r["maxLeverage"]),
                None if cum is None else float(cum),
            )
        )
    return MarginSchedule.from_tiers(
        venue=venue,
        symbol=_ccxt_key_to_symbol(key) if "/" in key else key.upper(),
        contract="inverse" if inverse else "linear",
        quote=quote or "USDT",
        base=base or key,
        effective=effective,
        source=source or f"ccxt fetch_leverage_tiers() output for {key}",
        tiers=parsed,
    )


def load_tiers(
    obj_or_path: Any, *, symbol: str, effective: Any = None, source: str | None = None
) -> MarginSchedule:
    """Schedule of ``symbol`` from a file of either format: Binance ``leverageBracket`` or ccxt tiers.

    A dict keyed by ccxt symbols (``"BTC/USDT:USDT"``) is read with :func:`from_ccxt`; a list of objects with
    ``symbol`` and ``brackets`` (or one such object) with :func:`from_binance_json`. ``symbol`` is the venue
    symbol (``"SOLUSDT"``, case-insensitive) or a ccxt symbol. Without ``effective`` the schedule's date is
    unknown (neither format carries one).

    Raises
    ------
    ValueError
        Unreadable file, a format that is neither, or a symbol the file does not list (the message shows
        similar symbols).

    Examples
    --------
    >>> s = load_tiers("../shared/data/binance-leverage-tiers/freqtrade/exchange/binance_leverage_tiers.json",
    ...                symbol="SOLUSDT")  # doctest: +SKIP
    >>> s.effective_text  # doctest: +SKIP
    'effective date unknown'
    """
    data = _load_json(obj_or_path)
    name = str(obj_or_path) if isinstance(obj_or_path, (str, Path)) else "tiers"
    origin = source or (f"{Path(name).name}" if isinstance(obj_or_path, (str, Path)) else None)
    try:
        if isinstance(data, Mapping) and "brackets" not in data:
            return from_ccxt(
                data, symbol=symbol, effective=effective, source=origin and f"ccxt leverage tiers in {origin}"
            )
        if isinstance(data, (list, Mapping)):
            return from_binance_json(
                data,
                symbol=symbol,
                effective=effective,
                source=origin and f"Binance leverageBracket in {origin}",
            )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{name}: not a Binance leverageBracket or ccxt tiers table ({exc!r})") from exc
    raise ValueError(
        f"{name}: expected a Binance leverageBracket list or a ccxt fetch_leverage_tiers() dict, "
        f"got {type(data).__name__}"
    )
