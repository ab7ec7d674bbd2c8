"""Plausibility of magnitudes: open interest and funding in the unit they were declared in.

A table read with the wrong unit passes every row-wise rule (positive, finite, ordered) and still draws nonsense:
open interest in USD read as coins makes a $10 B market a $10^15 one. These checks compare magnitudes that cannot
both be right and name the unit mistake that explains them. They return messages; :class:`heatmap.market.Market`
raises them as one :class:`~heatmap.market.MarketDataError` (``check_units=True`` by default,
``check_units=False`` / ``--no-check-units`` turns them off).

Rules (medians over the bars, so single outliers do not decide)
----------------------------------------------------------------
* **Open-interest notional against the price level.** ``open_interest [base] x close [quote]`` above
  :data:`MAX_OI_NOTIONAL` ($1 trillion, several times the open interest of all crypto perpetuals together) is
  not a single contract's open interest.
* **Open interest against traded volume.** With a ``volume`` column: the ratio ``r`` of open interest to daily
  traded volume (both [base]) lies in :data:`OI_VOLUME_RANGE` for real perpetuals (Binance BTCUSDT ≈ 0.45). When
  ``r`` is outside and the other unit would put it inside (``r / close`` if the values were a quote notional,
  ``r x close`` if they were coins read as quote) and the notional is implausible for the unit read
  (above :data:`QUOTE_AS_BASE_NOTIONAL` or below :data:`BASE_AS_QUOTE_NOTIONAL`), the unit is reported.
* **Funding.** With at least three settlements, the median absolute rate of the bars with a settlement above :data:`MAX_MEDIAN_FUNDING`
  (0.25 % per settlement, ≈ 270 % a year) is a percent value read as a fraction; below
  :data:`MIN_MEDIAN_FUNDING` after a percent conversion it is a fraction read as percent.

Examples
--------
>>> import numpy as np, pandas as pd
>>> bars = {"close": np.full(48, 100_000.0), "open_interest": np.full(48, 8e9), "volume": np.full(48, 8_000.0)}
>>> print(unit_problems(bars, pd.Timedelta("1h"))[0])  # doctest: +ELLIPSIS
column 'open_interest': median 8e+09 read as coins [base] is a notional of 8e+14 [quote] ...
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from heatmap._advice import advise

__all__ = [
    "unit_problems",
    "MAX_OI_NOTIONAL",
    "OI_VOLUME_RANGE",
    "QUOTE_AS_BASE_NOTIONAL",
    "BASE_AS_QUOTE_NOTIONAL",
    "MAX_MEDIAN_FUNDING",
    "MIN_MEDIAN_FUNDING",
]

MAX_OI_NOTIONAL: float = 1e12
"""Largest plausible open-interest notional of one contract [quote]."""
OI_VOLUME_RANGE: tuple[float, float] = (0.01, 50.0)
"""Plausible open interest / daily traded volume (both [base])."""
QUOTE_AS_BASE_NOTIONAL: float = 5e10
"""With ``r`` too high: a notional above this [quote] is read as a quote notional taken for coins."""
BASE_AS_QUOTE_NOTIONAL: float = 1e8
"""With ``r`` too low: a notional below this [quote] is read as coins taken for a quote notional."""
MAX_MEDIAN_FUNDING: float = 0.0025
"""Largest plausible median |funding rate| per settlement bar [fraction]."""
MIN_MEDIAN_FUNDING: float = 2e-6
"""Smallest plausible median |funding rate| per settlement bar after a percent conversion [fraction]."""

_OFF = advise("check_units", False)
_MIN_SETTLEMENTS = 3


def _g(x: float) -> str:
    return f"{x:.3g}"


def unit_problems(
    arrays: Mapping[str, Any],
    freq: pd.Timedelta,
    *,
    oi_unit: str | None = None,
    funding_unit: str | None = None,
) -> list[str]:
    """Messages for magnitudes that point at a unit mistake (empty when everything is plausible).

    Parameters
    ----------
    arrays : mapping of column name to array
        Market columns after unit conversion (``close`` [quote], ``open_interest`` [base], optional ``volume``
        [base] and ``funding_rate`` [fraction]).
    freq : pandas.Timedelta
        Bar length (to turn bar volume into daily volume).
    oi_unit, funding_unit : str, optional
        The units the source was declared in (``"base"``/``"quote"``, ``"fraction"``/``"percent"``), when known;
        they make the advice precise.

    Returns
    -------
    list of str
        One message per implausible quantity, naming the column, the magnitude, the likely mistake and the
        argument / flag that fixes it.
    """
    out: list[str] = []
    close = np.asarray(arrays["close"], dtype=float)
    oi = np.asarray(arrays["open_interest"], dtype=float)
    ok = np.isfinite(close) & np.isfinite(oi) & (close > 0)
    if ok.any():
        out += _oi_problems(oi[ok], close[ok], arrays, ok, freq, oi_unit)
    if "funding_rate" in arrays:
        out += _funding_problems(np.asarray(arrays["funding_rate"], dtype=float), funding_unit)
    return out


def _oi_problems(
    oi: np.ndarray,
    close: np.ndarray,
    arrays: Mapping[str, Any],
    ok: np.ndarray,
    freq: pd.Timedelta,
    unit: str | None,
) -> list[str]:
    med_oi = float(np.median(oi))
    med_close = float(np.median(close))
    notional = float(np.median(oi * close))
    peak = notional  # the median, so that a single extreme bar does not decide
    read = {"quote": "read as a quote notional", "contracts": "read as contracts"}.get(
        unit or "", "read as coins"
    )
    quote_fix = advise("oi_unit", "quote")
    base_fix = advise("oi_unit", "base")
    ratio = None
    if "volume" in arrays:
        vol = np.asarray(arrays["volume"], dtype=float)[ok]
        vol = vol[np.isfinite(vol)]
        daily = float(np.median(vol)) * (pd.Timedelta("1D") / freq) if vol.size else 0.0
        if daily > 0:
            ratio = med_oi / daily
    lo, hi = OI_VOLUME_RANGE
    versus = "" if ratio is None else f", {_g(ratio)} times the daily traded volume"
    head = (
        f"column 'open_interest': median {_g(med_oi)} {read} [base] is a notional of {_g(notional)} [quote] "
        f"at the median close {_g(med_close)}{versus}"
    )
    if unit != "quote":
        if peak > MAX_OI_NOTIONAL or (
            ratio is not None
            and ratio > hi
            and lo <= ratio / med_close <= hi
            and notional > QUOTE_AS_BASE_NOTIONAL
        ):
            return [
                f"{head}; the values look like a quote (USD) notional read as coins: {quote_fix}; "
                f"if they are right, {_OFF}"
            ]
    if unit != "base" and ratio is not None and ratio < lo and lo <= ratio * med_close <= hi:
        if notional < BASE_AS_QUOTE_NOTIONAL:
            return [
                f"{head}; the values look like coins read as a quote notional (divided by the price): "
                f"{base_fix}; if they are right, {_OFF}"
            ]
    if peak > MAX_OI_NOTIONAL:
        return [
            f"{head}; no single contract holds more than {_g(MAX_OI_NOTIONAL)} [quote]: check the column "
            f"({advise('oi_col')}) and its unit (oi_unit= / --oi-unit); if it is right, {_OFF}"
        ]
    return []


def _funding_problems(rate: np.ndarray, unit: str | None) -> list[str]:
    f = np.abs(rate[np.isfinite(rate) & (rate != 0)])
    if f.size < _MIN_SETTLEMENTS:  # one rate is judged by the row rule (MAX_ABS_FUNDING) alone
        return []
    med = float(np.median(f))
    where = f"column 'funding_rate': median |rate| {med:.3g} per settlement bar ({med:.4%})"
    if med > MAX_MEDIAN_FUNDING and unit != "percent":
        return [
            f"{where} is implausibly high for a fraction; the values look like percent read as a fraction: "
            f"{advise('funding_unit', 'percent')}; if they are right, {_OFF}"
        ]
    if med < MIN_MEDIAN_FUNDING and unit == "percent":
        return [
            f"{where} after dividing by 100 is implausibly low; the values look like a fraction read as percent: "
            f"{advise('funding_unit', 'fraction')}; if they are right, {_OFF}"
        ]
    return []
