"""Liquidation clusters, the cumulative liquidation map, imbalance and magnet levels of a snapshot.

Only the side that the price can still reach counts: long positions liquidate when price falls, so long mass is
taken **below** the current price; shorts **above** it. Positions whose levels price has already crossed no
longer exist, so mass on the wrong side of price (an artefact of binning or of a coarse estimate) is ignored
here. Inside a band mass is uniform in log-price (the band containing the price is split at the price).

Examples
--------
>>> import numpy as np, pandas as pd
>>> from heatmap.result import Snapshot
>>> edges = np.geomspace(80.0, 120.0, 401)
>>> x = np.log(np.sqrt(edges[:-1] * edges[1:]))
>>> long = 1e6 * np.exp(-0.5 * ((x - np.log(95.0)) / 0.004) ** 2)
>>> snap = Snapshot(time=pd.Timestamp("2025-01-01", tz="UTC"), price_edges=edges, long=long,
...                 short=np.zeros(400), price=100.0)
>>> cl = find_clusters(snap)
>>> round(float(cl["price"].iloc[0]), 1), cl["side"].iloc[0]
(95.0, 'long')
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from scipy import signal

from heatmap.density import mass_between, sigma_bins, smooth_array
from heatmap.result import Snapshot

__all__ = ["CLUSTER_COLUMNS", "cumulative", "find_clusters", "imbalance", "magnet", "reachable"]

CLUSTER_COLUMNS = ("side", "price", "price_low", "price_high", "notional", "distance", "prominence", "rank")


def reachable(snapshot: Snapshot, side: Literal["long", "short"]) -> np.ndarray:
    """Bin masses of ``side`` that price can still reach: longs below price, shorts above [quote].

    The band that contains the price keeps the log-fraction of its mass on the reachable side.

    Examples
    --------
    >>> s = Snapshot(time=pd.Timestamp("2025-01-01", tz="UTC"), price_edges=np.array([90.0, 100.0, 110.0]),
    ...              long=np.array([4.0, 4.0]), short=np.array([1.0, 1.0]), price=100.0)
    >>> reachable(s, "long").tolist(), reachable(s, "short").tolist()
    ([4.0, 0.0], [0.0, 1.0])
    """
    values = np.asarray(snapshot.side(side), dtype=float)
    lo, hi = snapshot.price_edges[:-1], snapshot.price_edges[1:]
    if side == "long":
        return mass_between(snapshot.price_edges, values, lo, np.minimum(hi, snapshot.price))
    return mass_between(snapshot.price_edges, values, np.maximum(lo, snapshot.price), hi)


def cumulative(snapshot: Snapshot) -> pd.DataFrame:
    """The cumulative liquidation map: notional liquidated if price moves to each band.

    Parameters
    ----------
    snapshot : Snapshot

    Returns
    -------
    DataFrame
        One row per band: ``price_low, price_high, price`` (geometric centre) [quote], ``distance`` (centre / price
        − 1) [fraction], ``long``, ``short`` (reachable band mass) [quote], ``cum_long`` — long notional liquidated
        if price falls to ``price_low`` (0 for bands above price) — and ``cum_short`` — short notional liquidated
        if price rises to ``price_high`` (0 below price) [quote].

    Examples
    --------
    >>> s = Snapshot(time=pd.Timestamp("2025-01-01", tz="UTC"), price_edges=np.array([80.0, 90.0, 100.0, 110.0]),
    ...              long=np.array([1.0, 2.0, 0.0]), short=np.array([0.0, 0.0, 3.0]), price=100.0)
    >>> cumulative(s)[["cum_long", "cum_short"]].to_numpy().tolist()
    [[3.0, 0.0], [2.0, 0.0], [0.0, 3.0]]
    """
    edges = snapshot.price_edges
    lo, hi = edges[:-1], edges[1:]
    p = snapshot.price
    cum_long = np.where(lo < p, mass_between(edges, snapshot.long, lo, p), 0.0)
    cum_short = np.where(hi > p, mass_between(edges, snapshot.short, p, hi), 0.0)
    centers = snapshot.centers
    return pd.DataFrame(
        {
            "price_low": lo,
            "price_high": hi,
            "price": centers,
            "distance": centers / p - 1.0,
            "long": reachable(snapshot, "long"),
            "short": reachable(snapshot, "short"),
            "cum_long": cum_long,
            "cum_short": cum_short,
        }
    )


def imbalance(snapshot: Snapshot, within: float = 0.05) -> float:
    """``(L − S) / (L + S)`` of the notional within ``within`` of price.

    ``L`` is the long notional between ``price·(1 − within)`` and price, ``S`` the short notional between price
    and ``price·(1 + within)`` [quote]. +1: only longs nearby (downside fuel); −1: only shorts. NaN when both
    are 0.

    Parameters
    ----------
    snapshot : Snapshot
    within : float, default 0.05
        Distance from price [fraction], in (0, 1).

    Examples
    --------
    >>> s = Snapshot(time=pd.Timestamp("2025-01-01", tz="UTC"), price_edges=np.array([90.0, 100.0, 110.0]),
    ...              long=np.array([3.0, 0.0]), short=np.array([0.0, 1.0]), price=100.0)
    >>> imbalance(s, within=0.1)
    0.5
    """
    _check_within(within, allow_none=False)
    p = snapshot.price
    L = float(mass_between(snapshot.price_edges, snapshot.long, p * (1 - within), p))
    S = float(mass_between(snapshot.price_edges, snapshot.short, p, p * (1 + within)))
    return (L - S) / (L + S) if L + S > 0 else float("nan")


def _check_within(within: float | None, *, allow_none: bool) -> None:
    if within is None and allow_none:
        return
    if within is None or not np.isfinite(within) or not 0 < within < 1:
        raise ValueError(f"within must be a fraction of price in (0, 1), got {within!r}")


def _index_to_price(log_edges: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Price at fractional sample position ``x`` (bin i spans [i − 0.5, i + 0.5]) [quote]."""
    return np.exp(np.interp(np.asarray(x) + 0.5, np.arange(log_edges.size), log_edges))


def _empty() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=float) for c in CLUSTER_COLUMNS})
    frame["side"] = frame["side"].astype(object)
    frame["rank"] = frame["rank"].astype(int)
    return frame


def find_clusters(
    snapshot: Snapshot,
    *,
    side: Literal["long", "short", "both"] = "both",
    min_prominence: float | None = None,
    within: float | None = None,
    top: int | None = None,
    bandwidth: float = 0.0025,
    rel_height: float = 0.5,
) -> pd.DataFrame:
    """Liquidation clusters: peaks of the lightly smoothed reachable mass, with their bands.

    Each side's reachable mass (longs below price, shorts above; see :func:`reachable`) is smoothed in log-price
    (``bandwidth``), peaks are found with :func:`scipy.signal.find_peaks` and their bands with
    :func:`scipy.signal.peak_widths` at ``rel_height`` of the prominence, cut at the lowest point between
    adjacent peaks so that bands never overlap. A cluster's notional is the raw (unsmoothed) reachable notional
    integrated over its band.

    Parameters
    ----------
    snapshot : Snapshot
        On a log-spaced grid (when ``bandwidth > 0``).
    side : {"long", "short", "both"}
    min_prominence : float, optional
        Minimum peak prominence of the smoothed per-bin mass [quote per band]. Default: 5 % of the largest
        smoothed bin of that side.
    within : float, optional
        Keep clusters whose centre is within this distance of price [fraction], in (0, 1).
    top : int, optional
        Keep the ``top`` largest clusters (by notional, over both sides).
    bandwidth : float, default 0.0025
        Light smoothing before peak finding, kernel sd as a fraction of price [-]; 0 disables it.
    rel_height : float, default 0.5
        Height (fraction of prominence) where the band is measured (0.5: full width at half prominence).

    Returns
    -------
    DataFrame
        ``side, price`` (peak centre) [quote], ``price_low, price_high`` (band) [quote], ``notional`` (band
        integral) [quote], ``distance`` (price / current − 1) [fraction], ``prominence`` [quote per band],
        ``rank`` (1 = largest notional); sorted by notional, descending.

    Examples
    --------
    >>> edges = np.geomspace(80.0, 120.0, 401)
    >>> c = np.sqrt(edges[:-1] * edges[1:])
    >>> short = np.exp(-0.5 * ((np.log(c / 104.0)) / 0.003) ** 2)
    >>> s = Snapshot(time=pd.Timestamp("2025-01-01", tz="UTC"), price_edges=edges, long=np.zeros(400),
    ...              short=short, price=100.0)
    >>> find_clusters(s, side="short")[["side", "rank"]].values.tolist()
    [['short', 1]]
    """
    if side not in ("long", "short", "both"):
        raise ValueError(f"side must be 'long', 'short' or 'both', got {side!r}")
    _check_within(within, allow_none=True)
    if top is not None and (int(top) != top or top < 1):
        raise ValueError(f"top must be a positive integer, got {top!r}")
    if min_prominence is not None and (not np.isfinite(min_prominence) or min_prominence < 0):
        raise ValueError(f"min_prominence must be a finite notional >= 0 [quote], got {min_prominence!r}")
    if not 0 < rel_height <= 1:
        raise ValueError(f"rel_height must be in (0, 1], got {rel_height!r}")
    sig = sigma_bins(bandwidth, snapshot.price_edges) if bandwidth > 0 else 0.0
    log_edges = np.log(snapshot.price_edges)
    sides: list[Literal["long", "short"]] = ["long", "short"] if side == "both" else [side]
    frames = []
    for s in sides:
        raw = reachable(snapshot, s)
        sm = smooth_array(raw, sig) if sig > 0 else raw
        # smoothing leaks across the current price; positions beyond it do not exist
        sm = np.where(reachable_mask(snapshot, s), sm, 0.0)
        peak_max = float(sm.max()) if sm.size else 0.0
        if peak_max <= 0:
            continue
        prom = 0.05 * peak_max if min_prominence is None else float(min_prominence)
        # pad with zeros so maxima at the grid ends or against the current price count as peaks
        padded = np.concatenate([[0.0], sm, [0.0]])
        peaks, props = signal.find_peaks(padded, prominence=(prom if prom > 0 else None, None))
        if peaks.size == 0:
            continue
        widths = signal.peak_widths(
            padded,
            peaks,
            rel_height=rel_height,
            prominence_data=(props["prominences"], props["left_bases"], props["right_bases"]),
        )
        left = np.clip(widths[2] - 1, -0.5, raw.size - 0.5)
        right = np.clip(widths[3] - 1, -0.5, raw.size - 0.5)
        idx = peaks - 1
        # neighbouring clusters do not share mass: cut bands at the lowest point between adjacent peaks
        for k in range(idx.size - 1):
            a, b = idx[k], idx[k + 1]
            valley = a + int(np.argmin(sm[a : b + 1]))
            right[k] = min(right[k], valley)
            left[k + 1] = max(left[k + 1], valley)
        p_lo = _index_to_price(log_edges, left)
        p_hi = _index_to_price(log_edges, right)
        centre = snapshot.centers[idx]
        # the band containing the price is cut at the price
        if s == "long":
            p_hi, centre = np.minimum(p_hi, snapshot.price), np.minimum(centre, snapshot.price)
        else:
            p_lo, centre = np.maximum(p_lo, snapshot.price), np.maximum(centre, snapshot.price)
        notional = mass_between(snapshot.price_edges, raw, p_lo, p_hi)
        frames.append(
            pd.DataFrame(
                {
                    "side": s,
                    "price": centre,
                    "price_low": p_lo,
                    "price_high": p_hi,
                    "notional": notional,
                    "distance": centre / snapshot.price - 1.0,
                    "prominence": props["prominences"],
                }
            )
        )
    if not frames:
        return _empty()
    out = pd.concat(frames, ignore_index=True)
    if within is not None:
        out = out.loc[out["distance"].abs() <= within]
    out = out.sort_values("notional", ascending=False, kind="stable", ignore_index=True)
    if top is not None:
        out = out.head(int(top))
    out["rank"] = np.arange(1, len(out) + 1, dtype=int)
    return out.loc[:, list(CLUSTER_COLUMNS)].reset_index(drop=True)


def reachable_mask(snapshot: Snapshot, side: Literal["long", "short"]) -> np.ndarray:
    """Bands with any part on the reachable side of price (below it for longs, above it for shorts)."""
    if side == "long":
        return snapshot.price_edges[:-1] < snapshot.price
    return snapshot.price_edges[1:] > snapshot.price


def magnet(snapshot: Snapshot, within: float = 0.1, **kwargs: object) -> pd.Series | None:
    """The largest cluster (by notional) within ``within`` of price, or None.

    Parameters
    ----------
    snapshot : Snapshot
    within : float, default 0.1
        Distance from price [fraction], in (0, 1).
    **kwargs
        Passed to :func:`find_clusters` (e.g. ``side``, ``bandwidth``).

    Returns
    -------
    Series or None
        A row of :func:`find_clusters`.

    Examples
    --------
    >>> edges = np.geomspace(80.0, 120.0, 401)
    >>> c = np.sqrt(edges[:-1] * edges[1:])
    >>> long = np.exp(-0.5 * (np.log(c / 97.0) / 0.003) ** 2)
    >>> s = Snapshot(time=pd.Timestamp("2025-01-01", tz="UTC"), price_edges=edges, long=long,
    ...              short=np.zeros(400), price=100.0)
    >>> round(float(magnet(s, within=0.05)["price"]))
    97
    """
    _check_within(within, allow_none=False)
    cl = find_clusters(snapshot, within=within, **kwargs)  # type: ignore[arg-type]
    if cl.empty:
        return None
    return cl.iloc[0]
