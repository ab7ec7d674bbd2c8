"""Validated market data: OHLC, open interest, funding and optional mark price / taker volume per bar.

A :class:`Market` wraps a :class:`pandas.DataFrame` whose index holds the UTC **open times** of regularly spaced
bars. Every model in the package reads its inputs from a ``Market``; the readers in :mod:`heatmap.io` and the
synthetic world only produce them.

Columns and units
-----------------
========================  ========================================================================  =========
column                    meaning                                                                   unit
========================  ========================================================================  =========
``open high low close``   trade-price OHLC of the bar (required)                                    [quote]
``open_interest``         open interest at the bar's close (required)                               [base]
``funding_rate``          sum of funding rates settled inside the bar's interval, 0 elsewhere       [fraction]
``mark_open`` ...         mark-price OHLC (all four or none)                                        [quote]
``volume``                traded volume                                                             [base]
``taker_buy_volume``      taker-buy part of ``volume``                                              [base]
``long_short_ratio``      long/short account ratio at the bar's close (NaN allowed)                 [-]
========================  ========================================================================  =========

Validation never repairs data silently; the opt-in ``fill_gaps="ffill"`` is the only repair and it is explicit.
Bad input raises :class:`MarketDataError` naming the column, the rule, the first offending timestamps (at most
five) and how many rows break it.

Examples
--------
>>> import pandas as pd
>>> idx = pd.date_range("2025-01-01", periods=3, freq="1h", tz="UTC")
>>> df = pd.DataFrame({"open": [100.0, 101, 102], "high": [102.0, 103, 104], "low": [99.0, 100, 101],
...                    "close": [101.0, 102, 103], "open_interest": [10.0, 11, 12]}, index=idx)
>>> m = Market.from_frame(df, symbol="BTCUSDT", venue="binance")
>>> len(m), m.freq
(3, Timedelta('0 days 01:00:00'))
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from heatmap._advice import advise

if TYPE_CHECKING:  # pragma: no cover
    from os import PathLike

__all__ = [
    "MarketDataError",
    "Market",
    "REQUIRED_COLUMNS",
    "OPTIONAL_COLUMNS",
    "MARK_COLUMNS",
    "MAX_ABS_FUNDING",
    "validate_arrays",
    "time_bounds",
]

REQUIRED_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "open_interest")
MARK_COLUMNS: tuple[str, ...] = ("mark_open", "mark_high", "mark_low", "mark_close")
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "funding_rate",
    *MARK_COLUMNS,
    "volume",
    "taker_buy_volume",
    "long_short_ratio",
)
ALL_COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

#: Largest plausible funding rate per settlement [fraction]. Binance caps BTCUSDT at 0.375 %/8h and altcoins at
#: 2-3 %; anything above 5 % is almost certainly a percent value passed as a fraction.
MAX_ABS_FUNDING: float = 0.05

_MAX_SHOWN = 5


class MarketDataError(ValueError):
    """Market data that breaks a validation rule.

    The message names the column, the rule, up to five offending timestamps and how many rows break it.
    ``problems`` holds one message per broken rule.
    """

    def __init__(self, problems: str | list[str]):
        self.problems: list[str] = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


# ----------------------------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------------------------


#: Labels of rows in messages: a pandas index, or bar open times as int64 [ns since epoch, UTC].
Labels = pd.Index | np.ndarray

#: ``int64`` value of ``NaT``.
_NAT = np.iinfo(np.int64).min


def _fmt_times(index: Labels, mask: np.ndarray) -> str:
    mask = np.asarray(mask, dtype=bool)
    if isinstance(index, np.ndarray):  # only the shown rows become timestamps
        bad: Any = pd.DatetimeIndex(index[mask].astype("M8[ns]")).tz_localize("UTC")
    else:
        bad = index[mask]
    shown = ", ".join(str(t) for t in bad[:_MAX_SHOWN])
    more = f", ... ({len(bad)} rows)" if len(bad) > _MAX_SHOWN else f" ({len(bad)} rows)"
    return shown + more


def _problem(column: str, rule: str, index: Labels, mask: np.ndarray) -> str:
    return f"column {column!r}: {rule} at {_fmt_times(index, mask)}"


def _to_timedelta(freq: str | pd.Timedelta | pd.DateOffset | None) -> pd.Timedelta | None:
    if freq is None:
        return None
    try:
        value: Any = pd.tseries.frequencies.to_offset(freq) if isinstance(freq, str) else freq
        td = pd.Timedelta(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"freq={freq!r} is not a fixed time span (e.g. '1h', '4h', pd.Timedelta)") from exc
    if td <= pd.Timedelta(0):
        raise ValueError(f"freq={freq!r} must be a positive time span")
    return td


def _utc_index(index: pd.Index, *, assume_utc: bool) -> pd.DatetimeIndex:
    """Return ``index`` as a tz-UTC ``DatetimeIndex`` [ns]; naive is an error unless ``assume_utc``."""
    if not isinstance(index, pd.DatetimeIndex):
        raise MarketDataError(
            f"index: must be a DatetimeIndex of bar open times (UTC), got {type(index).__name__} "
            f"of dtype {index.dtype}; set the time column as index (readers in heatmap.io do this)"
        )
    if index.tz is None:
        if not assume_utc:
            raise MarketDataError(
                "index: timestamps are naive (no time zone); localise them "
                f"(df.index = df.index.tz_localize('UTC')) or {advise('assume_utc', True)}"
            )
        index = index.tz_localize("UTC")
    elif str(index.tz) != "UTC":
        index = index.tz_convert("UTC")
    return index.as_unit("ns")


def _column_problems(columns: list[Any], extra_columns: str = "error") -> list[str]:
    """Rules on the column names: Market columns once each, required ones present, no unknown ones, mark prices
    all or none."""
    problems: list[str] = []
    repeated = sorted({str(c) for c in columns if c in ALL_COLUMNS and columns.count(c) > 1})
    if repeated:
        problems.append(f"columns {repeated} appear more than once; keep one column of each name")
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        problems.append(
            f"missing required columns {missing}; the frame has {[str(c) for c in columns]}"
            f" (required: {list(REQUIRED_COLUMNS)})"
        )
    extra = [c for c in columns if c not in ALL_COLUMNS]
    if extra and extra_columns == "error":
        problems.append(
            f"unknown columns {[str(c) for c in extra]}; allowed: {list(ALL_COLUMNS)} "
            "(rename them, or pass extra_columns='drop')"
        )
    marks = [c for c in MARK_COLUMNS if c in columns]
    if marks and len(marks) != len(MARK_COLUMNS):
        problems.append(f"mark price needs all of {list(MARK_COLUMNS)}, got only {marks}")
    return problems


def _index_problems(time: np.ndarray, labels: Labels | None = None) -> list[str]:
    """Rules on the bar open times ``time`` [int64 ns, UTC]: no NaT, no duplicates, sorted."""
    labels = time if labels is None else labels
    problems: list[str] = []
    nat = time == _NAT
    if nat.any():
        problems.append(f"index: {int(nat.sum())} missing timestamps (NaT)")
        return problems
    if len(time) < 2:
        return problems
    step = np.diff(time)
    if (step > 0).all():
        return problems
    order = np.argsort(time, kind="stable")  # equal times keep their order: the first one is not a duplicate
    ordered = time[order]
    dup = np.empty(len(time), dtype=bool)
    dup[order] = np.r_[False, ordered[1:] == ordered[:-1]]
    if dup.any():
        problems.append(f"index: duplicate timestamps at {_fmt_times(labels, dup)}")
    dec = np.r_[False, step < 0]
    if dec.any():
        problems.append(
            f"index: not sorted (timestamp earlier than the previous one) at {_fmt_times(labels, dec)}"
        )
    return problems


def _off_grid(time: np.ndarray, freq: pd.Timedelta) -> np.ndarray:
    """Rows whose open time is not on the bar grid: ``time mod freq`` differs from its most common value."""
    if len(time) == 0:
        return np.zeros(0, dtype=bool)
    resid = np.mod(time, freq.value)
    values, counts = np.unique(resid, return_counts=True)
    return np.asarray(resid != values[int(np.argmax(counts))])


def _off_grid_problem(time: np.ndarray, freq: pd.Timedelta, labels: Labels | None = None) -> str | None:
    """The rows off the bar grid, naming the first one and how far it is from the bar it falls in, or None."""
    off = _off_grid(time, freq)
    if not off.any():
        return None
    labels = time if labels is None else labels
    i = int(np.argmax(off))
    anchor = int(np.mod(time[~off][0], freq.value)) if (~off).any() else 0
    late = int(np.mod(time[i] - anchor, freq.value))
    if 2 * late <= freq.value:
        where = f"{_fmt_td(pd.Timedelta(late, unit='ns'))} after the bar opening at {pd.Timestamp(int(time[i]) - late, tz='UTC')}"
    else:
        early = freq.value - late
        where = f"{_fmt_td(pd.Timedelta(early, unit='ns'))} before the bar opening at {pd.Timestamp(int(time[i]) + early, tz='UTC')}"
    first = _fmt_times(labels, np.arange(len(time)) == i).rsplit(" (", 1)[0]
    n = int(off.sum())
    return (
        f"index: irregular spacing: {n} timestamp{'s' if n > 1 else ''} off the {_fmt_td(freq)} bar grid, first "
        f"{first} ({where}), all at {_fmt_times(labels, off)}; correct or drop these rows (fill_gaps cannot "
        "repair them)"
    )


def _spacing_problems(time: np.ndarray, freq: pd.Timedelta, labels: Labels | None = None) -> list[str]:
    """Rules on the steps between sorted bar open times ``time`` [int64 ns]: every time on the bar grid of
    ``freq`` (the first off-grid row is named), no gaps between the rows on it."""
    if len(time) < 2:
        return []
    labels = time if labels is None else labels
    problems = []
    off_problem = _off_grid_problem(time, freq, labels)
    if off_problem is not None:
        problems.append(off_problem)
    on = np.flatnonzero(~_off_grid(time, freq))
    f = freq.value
    # bars missing between neighbouring on-grid rows, less the off-grid rows between them (mistimed, not missing)
    short = np.diff(time[on]) // f - 1 - (np.diff(on) - 1)
    gap = np.zeros(len(time), dtype=bool)
    gap[on[1:][short > 0]] = True
    if gap.any():
        missing = int(short[short > 0].sum())
        advice = (
            f"; to insert flat bars explicitly, {advise('fill_gaps', 'ffill')}"
            if off_problem is None
            else " (once the off-grid rows are fixed, fill_gaps='ffill' can insert flat bars)"
        )
        problems.append(
            f"index: gaps ({missing} missing {_fmt_td(freq)} bars) before {_fmt_times(labels, gap)}{advice}"
        )
    return problems


def _infer_freq(time: np.ndarray) -> pd.Timedelta:
    """The bar length: the smallest step between bars, unless one step is the majority (then that one, and rows
    off its grid are reported as such instead of shrinking the bar length to fit them)."""
    step = np.diff(time)
    step = step[step > 0]
    if step.size == 0:
        raise MarketDataError(
            "index: cannot infer the bar frequency from fewer than two distinct timestamps; pass freq="
        )
    values, counts = np.unique(step, return_counts=True)
    modal = int(values[int(np.argmax(counts))])
    if 2 * int(counts.max()) > step.size:
        return pd.Timedelta(modal, unit="ns")
    return pd.Timedelta(int(step.min()), unit="ns")


def _ffill_gaps(frame: pd.DataFrame, freq: pd.Timedelta) -> pd.DataFrame:
    """Insert the missing bars of a sorted, de-duplicated frame: flat bars at the previous close."""
    full = pd.date_range(frame.index[0], frame.index[-1], freq=freq)
    if len(full) == len(frame):
        return frame
    out = frame.reindex(full)
    new = out["close"].isna().to_numpy() & ~full.isin(frame.index)
    prev_close = out["close"].ffill()
    for col in ("open", "high", "low", "close"):
        out.loc[new, col] = prev_close[new]
    if all(c in out for c in MARK_COLUMNS):
        prev_mark = out["mark_close"].ffill()
        for col in MARK_COLUMNS:
            out.loc[new, col] = prev_mark[new]
    for col in ("open_interest", "long_short_ratio"):
        if col in out:
            out.loc[new, col] = out[col].ffill()[new]
    for col in ("volume", "taker_buy_volume", "funding_rate"):
        if col in out:
            out.loc[new, col] = 0.0
    return out


def _bar_problems(
    arrays: dict[str, np.ndarray], time: np.ndarray, freq: pd.Timedelta, labels: Labels | None = None
) -> list[str]:
    """Spacing and row-wise rules of bars with a valid index; NaN funding becomes 0 in ``arrays`` (no settlement)."""
    labels = time if labels is None else labels
    problems = _spacing_problems(time, freq, labels)
    if "funding_rate" in arrays:
        f = arrays["funding_rate"]
        arrays["funding_rate"] = np.where(np.isnan(f), 0.0, f)
    return problems + _value_problems(arrays, labels)


def _value_problems(frame: Any, idx: Labels) -> list[str]:
    """Row-wise rules, vectorised over whole columns (``frame``: DataFrame or mapping of column arrays)."""
    problems: list[str] = []

    def col(name: str) -> np.ndarray:
        return np.asarray(frame[name], dtype=float)

    price_groups = [("open", "high", "low", "close")]
    if "mark_close" in frame:
        price_groups.append(MARK_COLUMNS)  # type: ignore[arg-type]
    for o, h, l, c in price_groups:
        vals = {n: col(n) for n in (o, h, l, c)}
        for n, v in vals.items():
            bad = ~np.isfinite(v)
            if bad.any():
                problems.append(_problem(n, "NaN or infinite price", idx, bad))
            bad = np.isfinite(v) & (v <= 0)
            if bad.any():
                problems.append(_problem(n, "non-positive price (must be > 0)", idx, bad))
        with np.errstate(invalid="ignore"):
            hl = vals[h] < vals[l]
            if hl.any():
                problems.append(_problem(h, f"{h} < {l}", idx, hl))
            lo, hi = vals[l], vals[h]
            for n in (o, c):
                out = ((vals[n] < lo) | (vals[n] > hi)) & ~hl
                if out.any():
                    problems.append(_problem(n, f"{n} outside [{l}, {h}]", idx, out))

    oi = col("open_interest")
    bad = ~np.isfinite(oi)
    if bad.any():
        problems.append(_problem("open_interest", "NaN or infinite open interest", idx, bad))
    with np.errstate(invalid="ignore"):
        bad = oi < 0
    if bad.any():
        problems.append(_problem("open_interest", "negative open interest (must be >= 0)", idx, bad))

    if "funding_rate" in frame:
        f = col("funding_rate")
        bad = np.isinf(f)
        if bad.any():
            problems.append(_problem("funding_rate", "infinite funding rate", idx, bad))
        with np.errstate(invalid="ignore"):
            bad = np.abs(f) > MAX_ABS_FUNDING
        if bad.any():
            problems.append(
                _problem(
                    "funding_rate",
                    f"absurd funding rate (|f| > {MAX_ABS_FUNDING:.0%} per settlement; "
                    f"was percent passed as fraction? {advise('funding_unit', 'percent')})",
                    idx,
                    bad,
                )
            )
    for name in ("volume", "taker_buy_volume"):
        if name in frame:
            v = col(name)
            bad = ~np.isfinite(v) | (v < 0)
            if bad.any():
                problems.append(_problem(name, "NaN, infinite or negative volume (must be >= 0)", idx, bad))
    if "volume" in frame and "taker_buy_volume" in frame:
        v, t = col("volume"), col("taker_buy_volume")
        with np.errstate(invalid="ignore"):
            bad = t > v * (1 + 1e-9) + 1e-12
        if bad.any():
            problems.append(_problem("taker_buy_volume", "taker_buy_volume > volume", idx, bad))
    if "long_short_ratio" in frame:
        r = col("long_short_ratio")
        with np.errstate(invalid="ignore"):
            bad = np.isinf(r) | (r < 0)
        if bad.any():
            problems.append(_problem("long_short_ratio", "infinite or negative ratio", idx, bad))
    return problems


def validate_arrays(
    arrays: dict[str, np.ndarray], time: np.ndarray, *, freq: pd.Timedelta | None = None
) -> pd.Timedelta:
    """Check bars given as column arrays against the rules of :class:`Market` (the same code and messages).

    The array form of ``Market(frame, freq=freq)`` for callers that already hold numpy arrays (streaming
    updates of one bar): column names, index (no NaT, duplicates or disorder), spacing and every row-wise value
    rule. Unknown columns are an error. NaN funding rates become 0 in ``arrays`` (in place, as in Market).

    Parameters
    ----------
    arrays : dict of str to ndarray
        Float64 column arrays of equal length, keyed by Market column names.
    time : ndarray of int64
        Bar open times [ns since the epoch, UTC].
    freq : pandas.Timedelta, optional
        Bar length; inferred from ``time`` when omitted.

    Returns
    -------
    pandas.Timedelta
        The bar length.

    Raises
    ------
    MarketDataError
        When any rule is broken (the message names the column, the rule and the first offending timestamps).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> t = pd.date_range("2025-01-01", periods=2, freq="1h", tz="UTC").as_unit("ns").asi8
    >>> bars = {"open": np.array([1.0, 2]), "high": np.array([2.0, 3]), "low": np.array([1.0, 1]),
    ...         "close": np.array([2.0, 2]), "open_interest": np.array([5.0, -1])}
    >>> validate_arrays(bars, t)
    Traceback (most recent call last):
    ...
    heatmap.market.MarketDataError: column 'open_interest': negative open interest (must be >= 0) at 2025-01-01 01:00:00+00:00 (1 rows)
    """
    problems = _column_problems(list(arrays))
    if problems:
        raise MarketDataError(problems)
    time = np.asarray(time, dtype=np.int64)
    problems = _index_problems(time)
    if problems:
        raise MarketDataError(problems)
    if len(time) == 0:
        raise MarketDataError("index: the frame has no rows")
    td = _infer_freq(time) if freq is None else freq
    problems = _bar_problems(arrays, time, td)
    if problems:
        raise MarketDataError(problems)
    return td


class _ILoc:
    __slots__ = ("_m",)

    def __init__(self, market: Market):
        self._m = market

    def __getitem__(self, key: slice) -> Market:
        if not isinstance(key, slice):
            raise TypeError(f"Market.iloc takes a slice of bar positions, got {type(key).__name__}")
        if key.step not in (None, 1):
            raise ValueError(
                f"Market.iloc: step={key.step!r} is not allowed (bars must stay contiguous); use resample"
            )
        return self._m._derive(self._m._frame.iloc[key])


# ----------------------------------------------------------------------------------------------------------------
# Market
# ----------------------------------------------------------------------------------------------------------------


class Market:
    """Validated bar data of one perpetual contract.

    Parameters
    ----------
    frame : pandas.DataFrame
        Index: UTC ``DatetimeIndex`` of bar open times, strictly increasing, evenly spaced. Columns: ``open, high,
        low, close`` [quote], ``open_interest`` [base]; optional ``funding_rate`` [fraction], ``mark_open,
        mark_high, mark_low, mark_close`` [quote], ``volume``, ``taker_buy_volume`` [base], ``long_short_ratio``.
    symbol, venue : str, optional
        Instrument and exchange names (informational, e.g. ``"BTCUSDT"``, ``"binance"``).
    freq : str or pandas.Timedelta, optional
        Bar length. Inferred as the smallest timestamp step when omitted (needed for one-bar markets).
    assume_utc : bool, default False
        Treat a naive index as UTC. Tz-aware indexes in another zone are converted to UTC.
    fill_gaps : {None, "ffill"}, default None
        ``None``: missing bars are an error. ``"ffill"``: insert flat bars (O=H=L=C = previous close, open
        interest and long/short ratio carried forward, volume and funding 0).
    extra_columns : {"error", "drop"}, default "error"
        What to do with columns that are not Market columns.
    check_units : bool, default True
        Check that magnitudes are plausible for their units (open interest in coins against price level and
        traded volume, funding as a fraction; see :mod:`heatmap.plausibility`). ``False`` turns the check off
        for data that is right although it looks like a unit mistake.

    Raises
    ------
    MarketDataError
        When any rule is broken; the message lists every broken rule.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2025-01-01", periods=2, freq="4h", tz="UTC")
    >>> m = Market(pd.DataFrame({"open": [1.0, 2], "high": [2.0, 3], "low": [1.0, 1], "close": [2.0, 2],
    ...                          "open_interest": [5.0, 6]}, index=idx))
    >>> m.freq
    Timedelta('0 days 04:00:00')
    """

    __slots__ = ("_frame", "_freq", "symbol", "venue")

    _frame: pd.DataFrame
    _freq: pd.Timedelta
    symbol: str | None
    venue: str | None

    def __init__(
        self,
        frame: pd.DataFrame,
        *,
        symbol: str | None = None,
        venue: str | None = None,
        freq: str | pd.Timedelta | None = None,
        assume_utc: bool = False,
        fill_gaps: Literal["ffill"] | None = None,
        extra_columns: Literal["error", "drop"] = "error",
        check_units: bool = True,
    ) -> None:
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
        if fill_gaps not in (None, "ffill"):
            raise ValueError(f"fill_gaps={fill_gaps!r}; allowed: None, 'ffill'")
        if extra_columns not in ("error", "drop"):
            raise ValueError(f"extra_columns={extra_columns!r}; allowed: 'error', 'drop'")
        td = _to_timedelta(freq)

        problems = _column_problems(list(frame.columns), extra_columns)
        if problems:
            raise MarketDataError(problems)

        keep = [c for c in ALL_COLUMNS if c in frame.columns]
        index = _utc_index(frame.index, assume_utc=assume_utc)
        non_numeric = [c for c in keep if not pd.api.types.is_numeric_dtype(frame[c].dtype)]
        if non_numeric:
            raise MarketDataError(
                f"columns {non_numeric} are not numeric (dtypes {[str(frame[c].dtype) for c in non_numeric]}); "
                "convert them with pd.to_numeric first"
            )
        arrays = {c: frame[c].to_numpy(dtype=np.float64, copy=True) for c in keep}

        problems = _index_problems(index.asi8, index)
        if problems:
            raise MarketDataError(problems)
        if len(index) == 0:
            raise MarketDataError("index: the frame has no rows")
        if td is None:
            td = _infer_freq(index.asi8)
        off_grid = _off_grid_problem(index.asi8, td, index)
        if fill_gaps == "ffill" and off_grid is not None:  # filling would drop them: refuse first
            raise MarketDataError([off_grid])
        if fill_gaps == "ffill":
            data = _ffill_gaps(pd.DataFrame(arrays, index=index.rename("time")), td)
            data.index.name = "time"
            arrays = {c: data[c].to_numpy(dtype=np.float64, copy=True) for c in keep}
            index = pd.DatetimeIndex(data.index).as_unit("ns")
        problems = _bar_problems(arrays, index.asi8, td, index)
        if problems:
            raise MarketDataError(problems)
        data = pd.DataFrame(arrays, index=index.rename("time"))
        self._frame = data
        self._freq = td
        self.symbol = symbol
        self.venue = venue
        if check_units:
            self._check_units()

    def _check_units(self, oi_unit: str | None = None, funding_unit: str | None = None) -> None:
        """Raise :class:`MarketDataError` when magnitudes point at a unit mistake (:mod:`heatmap.plausibility`).

        ``oi_unit`` / ``funding_unit`` are the units the source was declared in, when known.
        """
        from heatmap.plausibility import unit_problems

        arrays = {c: self._frame[c].to_numpy() for c in self._frame.columns}
        problems = unit_problems(arrays, self._freq, oi_unit=oi_unit, funding_unit=funding_unit)
        if problems:
            raise MarketDataError(problems)

    # -- construction -------------------------------------------------------------------------------------------

    @classmethod
    def _trusted(
        cls, frame: pd.DataFrame, freq: pd.Timedelta, symbol: str | None = None, venue: str | None = None
    ) -> Market:
        """Wrap an already validated frame without checks (slicing, resampling)."""
        self = object.__new__(cls)
        self._frame = frame
        self._freq = freq
        self.symbol = symbol
        self.venue = venue
        return self

    def _derive(self, frame: pd.DataFrame) -> Market:
        return Market._trusted(frame, self._freq, self.symbol, self.venue)

    @classmethod
    def from_frame(
        cls,
        df: pd.DataFrame,
        *,
        oi_unit: Literal["base", "quote"] = "base",
        funding_unit: Literal["fraction", "percent"] = "fraction",
        symbol: str | None = None,
        venue: str | None = None,
        freq: str | pd.Timedelta | None = None,
        time_col: str | None = None,
        assume_utc: bool = False,
        fill_gaps: Literal["ffill"] | None = None,
        extra_columns: Literal["error", "drop"] = "error",
        check_units: bool = True,
    ) -> Market:
        """Validate a DataFrame whose columns already have Market names, converting units explicitly.

        Parameters
        ----------
        df : pandas.DataFrame
            Bars indexed by open time (or with the open time in ``time_col``).
        oi_unit : {"base", "quote"}
            ``"quote"``: ``open_interest`` is a notional [quote] and is divided by the bar's ``close`` [quote]
            to give coins [base].
        funding_unit : {"fraction", "percent"}
            ``"percent"``: ``funding_rate`` is divided by 100.
        symbol, venue, freq, assume_utc, fill_gaps, extra_columns, check_units
            See :class:`Market`; the unit check knows the declared ``oi_unit`` and ``funding_unit``.
        time_col : str, optional
            Column holding the bar open times (``datetime64`` values, used as the index).

        Returns
        -------
        Market

        Examples
        --------
        >>> import pandas as pd
        >>> df = pd.DataFrame({"time": pd.date_range("2025-01-01", periods=2, freq="1h", tz="UTC"),
        ...     "open": [100.0, 100], "high": [100.0, 100], "low": [100.0, 100], "close": [100.0, 100],
        ...     "open_interest": [1e6, 2e6], "funding_rate": [0.01, 0.0]})
        >>> m = Market.from_frame(df, time_col="time", oi_unit="quote", funding_unit="percent")
        >>> m.frame["open_interest"].tolist(), m.frame["funding_rate"].tolist()
        ([10000.0, 20000.0], [0.0001, 0.0])
        """
        if oi_unit not in ("base", "quote"):
            raise ValueError(f"oi_unit={oi_unit!r}; allowed: 'base' (coins), 'quote' (notional)")
        if funding_unit not in ("fraction", "percent"):
            raise ValueError(f"funding_unit={funding_unit!r}; allowed: 'fraction', 'percent'")
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
        out = df
        if time_col is not None:
            if time_col not in df.columns:
                raise MarketDataError(
                    f"time_col={time_col!r} is not a column; the frame has {list(df.columns)}"
                )
            out = df.set_index(time_col)
        if oi_unit == "quote" or (funding_unit == "percent" and "funding_rate" in out):
            out = out.copy()
            if oi_unit == "quote" and "open_interest" in out and "close" in out:
                out["open_interest"] = out["open_interest"].astype(float) / out["close"].astype(float)
            if funding_unit == "percent" and "funding_rate" in out:
                out["funding_rate"] = out["funding_rate"].astype(float) / 100.0
        market = cls(
            out,
            symbol=symbol,
            venue=venue,
            freq=freq,
            assume_utc=assume_utc,
            fill_gaps=fill_gaps,
            extra_columns=extra_columns,
            check_units=False,
        )
        if check_units:
            market._check_units(oi_unit, funding_unit)
        return market

    @classmethod
    def from_frames(
        cls,
        candles: pd.DataFrame,
        *,
        open_interest: pd.Series | pd.DataFrame | None = None,
        funding: pd.Series | pd.DataFrame | None = None,
        mark: pd.DataFrame | None = None,
        oi_unit: Literal["base", "quote"] = "base",
        funding_unit: Literal["fraction", "percent"] = "fraction",
        oi_max_age: str | pd.Timedelta | None = None,
        span: Literal["intersection", "candles"] = "intersection",
        symbol: str | None = None,
        venue: str | None = None,
        freq: str | pd.Timedelta | None = None,
        assume_utc: bool = False,
        fill_gaps: Literal["ffill"] | None = None,
        check_units: bool = True,
    ) -> Market:
        """Align series of different frequencies onto the candle bars **without look-ahead**.

        Alignment rules (bar ``[t, t + freq)`` labelled ``t``):

        * **Open interest** (and ``long_short_ratio``) are *observations*: the bar takes the last observation
          made at or before the bar's close ``t + freq`` (``merge_asof``, backward). An observation older than
          ``oi_max_age`` counts as missing; by default it must be younger than one bar, i.e. made inside
          ``(t, t + freq]``. NaN open-interest readings are not observations.
        * **Funding** is an *event*: a settlement at time ``s`` is added to the bar whose half-open interval
          ``[t, t + freq)`` contains ``s``; several settlements in one bar are summed; bars without a
          settlement get 0. A settlement at exactly ``t + freq`` belongs to the *next* bar.
        * **Mark** OHLC must have exactly the candle bars (same open times); missing bars are an error.

        Parameters
        ----------
        candles : pandas.DataFrame
            Index: bar open times. Columns ``open, high, low, close`` [quote]; optional ``volume``,
            ``taker_buy_volume`` [base]; other columns are ignored. An ``open_interest`` column is used when
            ``open_interest`` is not given.
        open_interest : pandas.Series or DataFrame, optional
            Indexed by observation time. A Series is open interest; a DataFrame may hold ``open_interest`` and
            ``long_short_ratio``.
        funding : pandas.Series or DataFrame, optional
            Funding rates indexed by settlement time (a DataFrame must hold ``funding_rate``).
        mark : pandas.DataFrame, optional
            Mark-price klines with ``open, high, low, close`` indexed by open time.
        oi_unit : {"base", "quote"}
            ``"quote"`` divides the open interest [quote] by the bar close [quote].
        funding_unit : {"fraction", "percent"}
            ``"percent"`` divides funding by 100.
        oi_max_age : str or pandas.Timedelta, optional
            Largest allowed age (inclusive) of the OI observation at the bar close; default just under one bar.
        span : {"intersection", "candles"}
            ``"intersection"``: keep the bars from the first to the last bar covered by every given series
            (leading/trailing bars without OI are trimmed, interior ones are an error). ``"candles"``: keep every
            candle; uncovered bars are an error.
        symbol, venue, freq, assume_utc, fill_gaps, check_units
            See :class:`Market` (``fill_gaps`` applies to the candles before alignment; the unit check knows the
            declared ``oi_unit`` and ``funding_unit``).

        Returns
        -------
        Market

        Examples
        --------
        >>> import pandas as pd
        >>> idx = pd.date_range("2025-01-01", periods=3, freq="1h", tz="UTC")
        >>> candles = pd.DataFrame({"open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0}, index=idx)
        >>> oi = pd.Series([5.0, 6.0, 7.0], index=idx + pd.Timedelta("1h"))   # observed at each bar close
        >>> fr = pd.Series([0.0001], index=[pd.Timestamp("2025-01-01 01:00", tz="UTC")])
        >>> m = Market.from_frames(candles, open_interest=oi, funding=fr)
        >>> m.frame["funding_rate"].tolist()
        [0.0, 0.0001, 0.0]
        """
        for name, val, allowed in (
            ("oi_unit", oi_unit, ("base", "quote")),
            ("funding_unit", funding_unit, ("fraction", "percent")),
            ("span", span, ("intersection", "candles")),
        ):
            if val not in allowed:
                raise ValueError(f"{name}={val!r}; allowed: {', '.join(map(repr, allowed))}")
        if not isinstance(candles, pd.DataFrame):
            raise TypeError(f"candles must be a pandas DataFrame, got {type(candles).__name__}")
        price_cols = ["open", "high", "low", "close"]
        missing = [c for c in price_cols if c not in candles.columns]
        if missing:
            raise MarketDataError(
                f"candles: missing required columns {missing}; the frame has {[str(c) for c in candles.columns]}"
            )
        keep = [c for c in (*price_cols, "volume", "taker_buy_volume") if c in candles.columns]
        if open_interest is None:
            if "open_interest" not in candles.columns:
                raise MarketDataError(
                    "open_interest: not given and the candles have no 'open_interest' column "
                    f"(columns: {[str(c) for c in candles.columns]})"
                )
            keep.append("open_interest")
        # Validate the candle bars on their own first (index, spacing, prices); OI is filled in afterwards.
        base = candles[keep].copy()
        if "open_interest" not in base:
            base["open_interest"] = 0.0
        cm = cls(base, freq=freq, assume_utc=assume_utc, fill_gaps=fill_gaps, check_units=False)
        td = cm.freq
        bars = cm._frame.copy()
        idx = bars.index
        close_t = idx + td
        covered = np.ones(len(idx), dtype=bool)
        oi_covered = covered.copy()
        oi_hint, age_text = "", ""

        if open_interest is not None:
            obs = _as_frame(open_interest, "open_interest", ("open_interest", "long_short_ratio"))
            obs.index = _utc_index(obs.index, assume_utc=assume_utc)
            # a NaN reading is no observation (the age limit then decides whether an older one may stand in)
            obs = obs.loc[obs["open_interest"].notna()].sort_index()
            dup = np.asarray(obs.index.duplicated())
            if dup.any():
                raise MarketDataError(
                    _problem("open_interest", "duplicate observation times", obs.index, dup)
                )
            max_age = _to_timedelta(oi_max_age) or (td - pd.Timedelta(1, unit="ns"))
            left = pd.DataFrame({"close_time": close_t.as_unit("ns")})
            right = obs.reset_index(names="obs_time")
            right["obs_time"] = right["obs_time"].dt.as_unit("ns")
            merged = pd.merge_asof(
                left,
                right,
                left_on="close_time",
                right_on="obs_time",
                direction="backward",
                tolerance=max_age,
            )
            oi_vals = merged["open_interest"].to_numpy(dtype=float)
            oi_covered = np.isfinite(oi_vals)
            covered &= oi_covered
            oi_hint = _oi_age_hint(obs.index, max_age, td)
            age_text = "younger than one bar" if oi_max_age is None else f"at most {_fmt_td(max_age)} old"
            bars["open_interest"] = oi_vals
            if "long_short_ratio" in merged:
                bars["long_short_ratio"] = merged["long_short_ratio"].to_numpy(dtype=float)

        if mark is not None:
            if not isinstance(mark, pd.DataFrame):
                raise TypeError(f"mark must be a DataFrame of mark-price klines, got {type(mark).__name__}")
            mmiss = [c for c in price_cols if c not in mark.columns]
            if mmiss:
                raise MarketDataError(f"mark: missing columns {mmiss}; the frame has {list(mark.columns)}")
            mk = mark[price_cols].copy()
            mk.index = _utc_index(mk.index, assume_utc=assume_utc)
            if mk.index.has_duplicates:
                dup = np.asarray(mk.index.duplicated())
                raise MarketDataError(_problem("mark", "duplicate timestamps", mk.index, dup))
            mk = mk.reindex(idx)
            covered &= mk.notna().all(axis=1).to_numpy()
            for c in price_cols:
                bars[f"mark_{c}"] = mk[c].to_numpy(dtype=float)

        if span == "intersection":
            if not covered.any():
                raise MarketDataError(
                    "open_interest/mark: no candle bar is covered by every given series "
                    f"(candles {idx[0]} -> {idx[-1]}"
                    + (f"; {oi_hint}" if open_interest is not None else "")
                    + ")"
                )
            first = int(np.argmax(covered))
            last = len(covered) - int(np.argmax(covered[::-1]))
            bars = bars.iloc[first:last]
            oi_covered = oi_covered[first:last]
            idx = bars.index
            close_t = idx + td
        if open_interest is not None and not oi_covered.all():
            raise MarketDataError(
                _problem(
                    "open_interest",
                    f"no observation {age_text} at the bar close ({oi_hint})",
                    idx,
                    ~oi_covered,
                )
            )
        if mark is not None:
            mark_missing = bars[[f"mark_{c}" for c in price_cols]].isna().any(axis=1).to_numpy()
            if mark_missing.any():
                raise MarketDataError(
                    _problem(
                        "mark",
                        "no mark-price kline opening with the candle bar (missing, or off the candles' grid)",
                        idx,
                        mark_missing,
                    )
                )

        if funding is not None:
            fr = _as_frame(funding, "funding_rate", ("funding_rate",))
            fr.index = _utc_index(fr.index, assume_utc=assume_utc)
            fr = fr.dropna()
            s_i8 = fr.index.asi8
            pos = np.searchsorted(idx.asi8, s_i8, side="right") - 1
            inside = (pos >= 0) & (s_i8 < close_t.asi8[np.clip(pos, 0, None)])
            summed = np.zeros(len(idx))
            np.add.at(summed, pos[inside], fr["funding_rate"].to_numpy(dtype=float)[inside])
            if funding_unit == "percent":
                summed = summed / 100.0
            bars["funding_rate"] = summed

        if oi_unit == "quote":
            bars["open_interest"] = bars["open_interest"] / bars["close"]
        market = cls(bars, symbol=symbol, venue=venue, freq=td, check_units=False)
        if check_units:
            market._check_units(oi_unit, funding_unit)
        return market

    @classmethod
    def from_binance(
        cls,
        *,
        klines: str | PathLike[str] | Iterable[str | PathLike[str]] | pd.DataFrame,
        metrics: str | PathLike[str] | Iterable[str | PathLike[str]] | pd.DataFrame | None = None,
        funding: str | PathLike[str] | Iterable[str | PathLike[str]] | pd.DataFrame | None = None,
        mark: str | PathLike[str] | Iterable[str | PathLike[str]] | pd.DataFrame | None = None,
        **kwargs: Any,
    ) -> Market:
        """Build a Market from Binance public-data files (data.binance.vision); see :func:`heatmap.io.read_binance`.

        Examples
        --------
        >>> m = Market.from_binance(klines="BTCUSDT-1h-2025-01-*.zip",
        ...                         metrics="BTCUSDT-metrics-2025-01-*.zip",
        ...                         funding="BTCUSDT-fundingRate-2025-01.zip")  # doctest: +SKIP
        """
        from heatmap.io.binance import read_binance

        return read_binance(klines=klines, metrics=metrics, funding=funding, mark=mark, **kwargs)

    # -- access -------------------------------------------------------------------------------------------------

    @property
    def frame(self) -> pd.DataFrame:
        """A copy of the validated data (index ``time``, UTC bar open times)."""
        return self._frame.copy()

    @property
    def freq(self) -> pd.Timedelta:
        """Bar length."""
        return self._freq

    @property
    def index(self) -> pd.DatetimeIndex:
        """UTC bar open times."""
        return self._frame.index  # type: ignore[return-value]

    @property
    def columns(self) -> list[str]:
        """Columns present, in canonical order."""
        return list(self._frame.columns)

    @property
    def start(self) -> pd.Timestamp:
        """Open time of the first bar."""
        return self._frame.index[0]

    @property
    def end(self) -> pd.Timestamp:
        """Close time of the last bar (open of the last bar + ``freq``)."""
        return self._frame.index[-1] + self._freq

    def __len__(self) -> int:
        return len(self._frame)

    def array(self, column: str) -> np.ndarray:
        """Read-only float64 view of one column (no copy), e.g. ``market.array("close")``."""
        if column not in self._frame:
            raise KeyError(f"column {column!r} not in this market; present: {self.columns}")
        a = self._frame[column].to_numpy(dtype=np.float64)
        a = a.view()
        a.flags.writeable = False
        return a

    def _series(self, column: str) -> pd.Series:
        if column not in self._frame:
            raise AttributeError(f"this market has no {column!r} column; present: {self.columns}")
        return self._frame[column].copy()

    open = property(lambda self: self._series("open"), doc="Bar open [quote].")
    high = property(lambda self: self._series("high"), doc="Bar high [quote].")
    low = property(lambda self: self._series("low"), doc="Bar low [quote].")
    close = property(lambda self: self._series("close"), doc="Bar close [quote].")
    open_interest = property(
        lambda self: self._series("open_interest"), doc="Open interest at bar close [base]."
    )
    volume = property(lambda self: self._series("volume"), doc="Volume [base].")
    taker_buy_volume = property(lambda self: self._series("taker_buy_volume"), doc="Taker-buy volume [base].")
    long_short_ratio = property(
        lambda self: self._series("long_short_ratio"), doc="Long/short account ratio."
    )

    @property
    def funding_rate(self) -> pd.Series:
        """Funding settled inside each bar [fraction]; zeros when the market has no funding column."""
        if "funding_rate" in self._frame:
            return self._frame["funding_rate"].copy()
        return pd.Series(0.0, index=self._frame.index, name="funding_rate")

    @property
    def has_mark(self) -> bool:
        """True when mark-price OHLC columns are present."""
        return "mark_close" in self._frame

    @property
    def has_funding(self) -> bool:
        """True when a ``funding_rate`` column is present."""
        return "funding_rate" in self._frame

    @property
    def has_taker(self) -> bool:
        """True when both ``volume`` and ``taker_buy_volume`` are present."""
        return "taker_buy_volume" in self._frame and "volume" in self._frame

    @property
    def mark_close(self) -> pd.Series:
        """Mark close [quote] when present, else the trade close."""
        return self._series("mark_close" if self.has_mark else "close")

    # -- slicing ------------------------------------------------------------------------------------------------

    @property
    def iloc(self) -> _ILoc:
        """Positional slicing of bars: ``market.iloc[10:20]`` -> Market."""
        return _ILoc(self)

    def slice(self, start: Any = None, end: Any = None) -> Market:
        """Bars whose open time lies in ``[start, end]`` (both ends inclusive).

        The bounds follow :func:`time_bounds`, the rule of the command line's ``--from`` / ``--to``: a date
        without a time (``"2025-05-31"``, a ``datetime.date``, or a month ``"2025-05"`` / year ``"2025"``) covers
        that whole period, so ``end="2025-05-31"`` keeps every bar opening on that day; a datetime
        (``"2025-05-31 12:00"``, a ``pandas.Timestamp``) is that instant. Naive bounds are UTC.

        Examples
        --------
        >>> import pandas as pd
        >>> idx = pd.date_range("2025-05-30", periods=72, freq="1h", tz="UTC")
        >>> m = Market(pd.DataFrame({"open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "open_interest": 1.0},
        ...                         index=idx))
        >>> len(m.slice("2025-05-31", "2025-05-31")), len(m.slice(None, "2025-05-31 00:00"))
        (24, 25)
        """
        a, b = time_bounds(start, end)
        return self._derive(self._frame.loc[a:b])

    def __getitem__(self, key: Any) -> Any:
        """``market["2025-01":"2025-02"]`` -> Market (time slice); ``market["close"]`` -> Series copy."""
        if isinstance(key, slice):
            if key.step is not None:
                raise ValueError("Market time slicing takes no step; use resample")
            if isinstance(key.start, int) or isinstance(key.stop, int):
                raise TypeError("integer slices are ambiguous on Market; use market.iloc[a:b]")
            return self.slice(key.start, key.stop)
        if isinstance(key, str):
            if key in self._frame.columns:
                return self._frame[key].copy()
            return self.slice(key, key)
        raise TypeError(f"Market[...] takes a time slice or a column name, got {type(key).__name__}")

    def __iter__(self) -> Any:
        raise TypeError("Market is not iterable; use market.frame or market.iloc")

    # -- transforms ---------------------------------------------------------------------------------------------

    def resample(self, freq: str | pd.Timedelta, *, partial: Literal["drop", "error"] = "drop") -> Market:
        """Aggregate to a coarser bar length.

        OHLC (trade and mark): first / max / min / last; ``open_interest`` and ``long_short_ratio``: last
        (the value at the coarse bar's close); ``volume``, ``taker_buy_volume`` and ``funding_rate``: sums.
        Coarse bars are aligned to midnight UTC (pandas ``origin="start_day"``, e.g. 4h bars open at 0, 4, 8, ...).

        Parameters
        ----------
        freq : str or pandas.Timedelta
            New bar length; a whole multiple of the current one.
        partial : {"drop", "error"}
            Coarse bars at the ends that are not fully covered by fine bars are dropped, or raise.

        Examples
        --------
        >>> import pandas as pd
        >>> idx = pd.date_range("2025-01-01", periods=4, freq="1h", tz="UTC")
        >>> m = Market(pd.DataFrame({"open": [1.0, 2, 3, 4], "high": [2.0, 3, 4, 5], "low": [1.0, 2, 3, 4],
        ...     "close": [2.0, 3, 4, 5], "open_interest": [1.0, 2, 3, 4], "volume": 1.0}, index=idx))
        >>> r = m.resample("2h")
        >>> r.frame[["open", "high", "close", "open_interest", "volume"]].to_numpy().tolist()
        [[1.0, 3.0, 3.0, 2.0, 2.0], [3.0, 5.0, 5.0, 4.0, 2.0]]
        """
        if partial not in ("drop", "error"):
            raise ValueError(f"partial={partial!r}; allowed: 'drop', 'error'")
        td = _to_timedelta(freq)
        assert td is not None
        if td.value % self._freq.value != 0 or td < self._freq:
            raise ValueError(
                f"freq={freq!r} must be a whole multiple of the market's bar length {self._freq}"
            )
        agg: dict[str, str] = {}
        for c in self._frame.columns:
            if c in ("open", "mark_open"):
                agg[c] = "first"
            elif c in ("high", "mark_high"):
                agg[c] = "max"
            elif c in ("low", "mark_low"):
                agg[c] = "min"
            elif c in ("close", "mark_close", "open_interest", "long_short_ratio"):
                agg[c] = "last"
            else:
                agg[c] = "sum"
        r = self._frame.resample(td, origin="start_day", label="left", closed="left")
        out = r.agg(agg)
        n = r["close"].count()
        need = td.value // self._freq.value
        incomplete = (n != need).to_numpy()
        if incomplete.any():
            if partial == "error":
                raise MarketDataError(
                    _problem(
                        "index",
                        f"coarse {td} bars not fully covered by {self._freq} bars",
                        out.index,
                        incomplete,
                    )
                )
            out = out.loc[~incomplete]
        out.index.name = "time"
        return Market._trusted(out[self._frame.columns], td, self.symbol, self.venue)

    def with_columns(self, **columns: Any) -> Market:
        """A validated copy with columns added or replaced, e.g. ``market.with_columns(funding_rate=rates)``."""
        df = self._frame.copy()
        for k, v in columns.items():
            df[k] = v
        return Market(df, symbol=self.symbol, venue=self.venue, freq=self._freq)

    # -- comparison / display -----------------------------------------------------------------------------------

    def equals(self, other: object) -> bool:
        """Same bars, columns, values, frequency, symbol and venue."""
        return (
            isinstance(other, Market)
            and self._freq == other._freq
            and self.symbol == other.symbol
            and self.venue == other.venue
            and self._frame.equals(other._frame)
        )

    def __repr__(self) -> str:
        name = self.symbol or "?"
        if self.venue:
            name += f" @ {self.venue}"
        n = len(self._frame)
        if n == 0:
            return f"<Market {name}: 0 bars x {_fmt_td(self._freq)}>"
        c = self._frame["close"]
        oi = self._frame["open_interest"]
        opt = [col for col in self._frame.columns if col not in REQUIRED_COLUMNS]
        return (
            f"<Market {name}: {n} bars x {_fmt_td(self._freq)}, "
            f"{self.start:%Y-%m-%d %H:%M} -> {self.end:%Y-%m-%d %H:%M} UTC, "
            f"close {c.min():,.6g}..{c.max():,.6g}, OI {oi.min():,.6g}..{oi.max():,.6g} [base]"
            + (f", optional: {', '.join(opt)}" if opt else "")
            + ">"
        )


def _fmt_td(td: pd.Timedelta) -> str:
    s = int(td.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if s % size == 0:
            return f"{s // size}{unit}"
    return str(td)


def _oi_age_hint(obs_times: pd.DatetimeIndex, max_age: pd.Timedelta, bar: pd.Timedelta) -> str:
    """Advice on ``oi_max_age`` from the spacing of the open-interest observations."""
    from heatmap._advice import advise

    if len(obs_times) == 0:
        return "the open-interest series is empty"
    span = f"observations {obs_times[0]} -> {obs_times[-1]}"
    if len(obs_times) < 2:
        return span
    step = pd.Timedelta(int(np.median(np.diff(obs_times.asi8))), unit="ns")
    if step > max_age and step > bar:
        return f"{span}, one every {_fmt_td(step)}; to use each for the bars until the next, " + advise(
            "oi_max_age", _fmt_td(step)
        )
    return span


#: date-only text and the period it covers: year, month, day
_PERIODS = (
    (re.compile(r"^\d{4}$"), pd.DateOffset(years=1)),
    (re.compile(r"^\d{4}-\d{1,2}$"), pd.DateOffset(months=1)),
    (re.compile(r"^(\d{4}-\d{1,2}-\d{1,2}|\d{4}/\d{1,2}/\d{1,2}|\d{8})$"), pd.DateOffset(days=1)),
)


def time_bounds(start: Any = None, end: Any = None) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """UTC instants ``[a, b]`` of an inclusive time window given as dates or datetimes.

    A date without a time covers its whole period: ``"2025-05-31"`` (or ``datetime.date(2025, 5, 31)``) as
    ``end`` is the last instant of that day, ``"2025-05"`` of that month, ``"2025"`` of that year; as ``start``
    it is the period's first instant. A datetime (text with a time, ``datetime.datetime``, ``pandas.Timestamp``)
    is that instant. Naive values are UTC; others are converted. The same rule serves :meth:`Market.slice`,
    ``market["2025-05-01":"2025-05-31"]`` and the command line's ``--from`` / ``--to``.

    Raises
    ------
    ValueError
        A value that is not a time, or ``end`` before ``start``.

    Examples
    --------
    >>> time_bounds("2025-05-01", "2025-05-31")
    (Timestamp('2025-05-01 00:00:00+0000', tz='UTC'), Timestamp('2025-05-31 23:59:59.999999999+0000', tz='UTC'))
    >>> time_bounds(None, "2025-05-31 12:00")[1]
    Timestamp('2025-05-31 12:00:00+0000', tz='UTC')
    """
    a, b = _bound(start, "start", end=False), _bound(end, "end", end=True)
    if a is not None and b is not None and b < a:
        raise ValueError(f"end {end!r} is before start {start!r}")
    return a, b


def _bound(value: Any, name: str, *, end: bool) -> pd.Timestamp | None:
    import datetime as dt

    if value is None:
        return None
    period: pd.DateOffset | None = None
    if isinstance(value, str):
        text = value.strip()
        period = next((p for rx, p in _PERIODS if rx.match(text)), None)
    elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        period = pd.DateOffset(days=1)
    try:
        ts = pd.Timestamp(value.strip() if isinstance(value, str) else value)
    except (ValueError, TypeError):
        raise ValueError(
            f"{name}: {value!r} is not a time; use e.g. 2025-01-31 (the whole day) or 2025-01-31T12:00Z"
        ) from None
    if ts is pd.NaT or pd.isna(ts):
        raise ValueError(f"{name}: {value!r} is not a time")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    try:
        if end and period is not None:
            ts = ts + period - pd.Timedelta(1, unit="ns")
        return ts.as_unit("ns")
    except (OverflowError, ValueError):  # OutOfBoundsDatetime is a ValueError
        raise ValueError(
            f"{name}: {value!r} is outside the range of times a market can hold (1677-09-22 to 2262-04-11)"
        ) from None


def _as_frame(
    obj: pd.Series | pd.DataFrame | Mapping[str, Any], name: str, allowed: tuple[str, ...]
) -> pd.DataFrame:
    if isinstance(obj, pd.Series):
        return pd.DataFrame({name: obj.to_numpy(dtype=float)}, index=obj.index)
    if isinstance(obj, pd.DataFrame):
        cols = [c for c in allowed if c in obj.columns]
        if name not in cols:
            raise MarketDataError(
                f"{name}: the frame has no {name!r} column; it has {[str(c) for c in obj.columns]}"
            )
        return pd.DataFrame({c: obj[c].to_numpy(dtype=float) for c in cols}, index=obj.index)
    raise TypeError(f"{name} must be a pandas Series or DataFrame, got {type(obj).__name__}")
