"""Reference predictors that any liquidation heatmap has to beat.

* :func:`range_oi` — the "range × OI" null: the bigger the move through the bar and the more open interest, the
  more gets liquidated. It knows nothing about where positions sit.
* :func:`fixed_tiers` — the cohort model of the common open-source liquidation maps, implemented independently
  of the engine: a few fixed leverages with fixed weights, the whole ΔOI on one side chosen by candle colour,
  liquidation price ``E·(1 ∓ 1/L)``, no funding, levels removed when crossed.

Both return per-bar predictions (columns ``long`` and ``short``) under the same protocol as the engine: the
prediction for bar t depends only on bars before t and on bar t's own open/high/low (the conditioning path).

Examples
--------
>>> import pandas as pd
>>> from heatmap.market import Market
>>> idx = pd.date_range("2025-01-01", periods=3, freq="4h", tz="UTC")
>>> m = Market(pd.DataFrame({"open": [100.0, 100, 95], "high": [101.0, 100, 120], "low": [99.0, 80, 95],
...                          "close": [100.0, 95, 110], "open_interest": [10.0, 12, 12]}, index=idx))
>>> range_oi(m).round(3).iloc[1].tolist()
[2.0, 0.0]
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from heatmap.market import Market

__all__ = ["range_oi", "fixed_tiers", "oi_before", "COMMON_TIERS", "EQUAL_TIERS"]

#: Leverage → weight of the common open-source maps (10/25/50/100x).
COMMON_TIERS: dict[float, float] = {10.0: 0.35, 25.0: 0.25, 50.0: 0.25, 100.0: 0.15}
#: The same leverages with equal weights.
EQUAL_TIERS: dict[float, float] = {10.0: 0.25, 25.0: 0.25, 50.0: 0.25, 100.0: 0.25}


def _check_market(market: Market) -> None:
    if not isinstance(market, Market):
        raise TypeError(f"market must be a heatmap.market.Market, got {type(market).__name__}")


def oi_before(market: Market) -> np.ndarray:
    """Open interest before each bar [base]: the previous bar's close OI (the first bar uses its own).

    The first bar has no predecessor; its own close OI stands in (documented; walk-forward scoring skips the
    warm-up bars anyway).
    """
    _check_market(market)
    oi = market.array("open_interest")
    out = np.empty_like(oi)
    out[0] = oi[0]
    out[1:] = oi[:-1]
    return out


def range_oi(market: Market, *, freq: str | pd.Timedelta | None = None) -> pd.DataFrame:
    """The range × OI null per bar.

    ``long = (open − low)/open × OI``, ``short = (high − open)/open × OI`` with OI the open interest before the
    bar (:func:`oi_before`) [base]. Units are base coins "exposed to the move"; only ranks matter.

    Parameters
    ----------
    market : Market
    freq : str or Timedelta, optional
        Path-aware version for a coarser bar length: the fine bars' values summed per coarse bar (the coarse
        bar's traversed path rather than only its extreme), indexed like ``market.resample(freq)``.

    Returns
    -------
    DataFrame
        Columns ``long``, ``short``, indexed like the market (or the resampled market).

    Examples
    --------
    >>> import pandas as pd
    >>> from heatmap.market import Market
    >>> idx = pd.date_range("2025-01-01", periods=2, freq="4h", tz="UTC")
    >>> m = Market(pd.DataFrame({"open": [100.0, 100], "high": [110.0, 100], "low": [95.0, 90],
    ...                          "close": [100.0, 95], "open_interest": [10.0, 20]}, index=idx))
    >>> range_oi(m)["short"].round(6).tolist()
    [1.0, 0.0]
    """
    _check_market(market)
    o, h, low = market.array("open"), market.array("high"), market.array("low")
    oi = oi_before(market)
    out = pd.DataFrame(
        {"long": np.maximum(o - low, 0.0) / o * oi, "short": np.maximum(h - o, 0.0) / o * oi},
        index=market.index,
    )
    if freq is None:
        return out
    from heatmap.validation.protocol import coarse_labels

    coarse = market.resample(freq)
    return out.groupby(coarse_labels(market.index, coarse)).sum().reindex(coarse.index)


def fixed_tiers(
    market: Market,
    *,
    tiers: dict[float, float] | None = None,
    split: Literal["candle", "even"] = "candle",
    closes: Literal["none", "proportional"] = "none",
    entry: Literal["close", "typical"] = "close",
) -> pd.DataFrame:
    """Predicted liquidations of the fixed-tier cohort model used by common open-source maps.

    For every bar, in order:

    1. *Consumption* (the prediction of this bar): long levels ``≥ low`` and short levels ``≤ high`` are
       liquidated and removed; their notional ``qty × level`` [quote] is the bar's prediction.
    2. *Open/close*: ΔOI > 0 opens ``ΔOI`` [base] at the entry price, all on the long side for a green candle
       (close ≥ open) and all on the short side for a red one (``split="candle"``; ``"even"`` puts half on
       each), spread over the tiers; each tier's level is ``E·(1 − 1/L)`` for longs and ``E·(1 + 1/L)`` for
       shorts. ΔOI < 0 is ignored (``closes="none"``, what the common maps do: levels only disappear when
       crossed) or closes that many coins proportionally across all open levels (``"proportional"``).
       No funding, no maintenance margin.

    Written as a plain loop over bars with numpy arrays of levels, independent of the engine.

    Parameters
    ----------
    market : Market
    tiers : dict, optional
        Leverage → weight; weights are normalised to sum to 1. Default :data:`COMMON_TIERS`
        (10/25/50/100x with .35/.25/.25/.15).
    split : {"candle", "even"}, default "candle"
    closes : {"none", "proportional"}, default "none"
    entry : {"close", "typical"}, default "close"
        Entry price of the bar's new positions: the close or ``(high + low + close)/3``.

    Returns
    -------
    DataFrame
        Columns ``long``, ``short`` [quote], indexed like the market.

    Examples
    --------
    >>> import pandas as pd
    >>> from heatmap.market import Market
    >>> idx = pd.date_range("2025-01-01", periods=2, freq="4h", tz="UTC")
    >>> m = Market(pd.DataFrame({"open": [100.0, 100], "high": [100.0, 100], "low": [99.0, 80],
    ...                          "close": [100.0, 95], "open_interest": [0.0, 0.0]}, index=idx))
    >>> fixed_tiers(m, tiers={10: 1.0}).long.tolist()  # nothing open before, nothing predicted
    [0.0, 0.0]
    """
    _check_market(market)
    tiers = dict(COMMON_TIERS if tiers is None else tiers)
    if not tiers:
        raise ValueError("tiers must hold at least one leverage")
    lev = np.array(list(tiers.keys()), dtype=float)
    w = np.array(list(tiers.values()), dtype=float)
    if np.any(~np.isfinite(lev)) or np.any(lev <= 1.0):
        raise ValueError(f"tier leverages must be finite and > 1, got {lev.tolist()}")
    if np.any(~np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"tier weights must be finite, non-negative and not all zero, got {w.tolist()}")
    if split not in ("candle", "even"):
        raise ValueError(f"split={split!r}; allowed: 'candle', 'even'")
    if closes not in ("proportional", "none"):
        raise ValueError(f"closes={closes!r}; allowed: 'proportional', 'none'")
    if entry not in ("close", "typical"):
        raise ValueError(f"entry={entry!r}; allowed: 'close', 'typical'")
    w = w / w.sum()

    o, h, low, c = (market.array(k) for k in ("open", "high", "low", "close"))
    oi = market.array("open_interest")
    doi = np.diff(oi, prepend=oi[0])
    e = c if entry == "close" else (h + low + c) / 3.0
    n = len(market)
    pred_long = np.zeros(n)
    pred_short = np.zeros(n)
    # levels per side: price [quote] and quantity [base]; grown in chunks
    lvl = {s: np.empty(0) for s in ("long", "short")}
    qty = {s: np.empty(0) for s in ("long", "short")}
    for t in range(n):
        # 1. consumption from the state before bar t
        hit = lvl["long"] >= low[t]
        if hit.any():
            pred_long[t] = float(np.sum(qty["long"][hit] * lvl["long"][hit]))
            lvl["long"], qty["long"] = lvl["long"][~hit], qty["long"][~hit]
        hit = lvl["short"] <= h[t]
        if hit.any():
            pred_short[t] = float(np.sum(qty["short"][hit] * lvl["short"][hit]))
            lvl["short"], qty["short"] = lvl["short"][~hit], qty["short"][~hit]
        # 2. open / close on ΔOI
        d = doi[t]
        if d > 0:
            if split == "even":
                shares = {"long": 0.5, "short": 0.5}
            else:
                green = c[t] >= o[t]
                shares = {"long": 1.0 if green else 0.0, "short": 0.0 if green else 1.0}
            for side, sign in (("long", -1.0), ("short", 1.0)):
                if shares[side] > 0:
                    lvl[side] = np.concatenate([lvl[side], e[t] * (1.0 + sign / lev)])
                    qty[side] = np.concatenate([qty[side], d * shares[side] * w])
        elif d < 0 and closes == "proportional":
            held = qty["long"].sum() + qty["short"].sum()
            if held > 0:
                keep = max(0.0, 1.0 - (-d) / held)
                qty["long"] = qty["long"] * keep
                qty["short"] = qty["short"] * keep
    return pd.DataFrame({"long": pred_long, "short": pred_short}, index=market.index)
