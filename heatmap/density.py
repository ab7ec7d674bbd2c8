"""Densities on the log-price grid: smoothing, normalisations, interval masses and a KDE reference.

All functions work on the bin masses of a :class:`~heatmap.result.Snapshot` (or :class:`~heatmap.result.Heatmap`):
each cell holds the liquidation notional [quote] of the positions whose liquidation price lies in the band. Inside
a band the mass is taken as uniform in log-price, which is what :func:`mass_between` interpolates.

Smoothing is a Gaussian in log-price (the grid built by :class:`heatmap.grid.PriceGrid` is log-spaced, so the
kernel is shift-invariant in bins). The kernel is renormalised per source bin at the grid's ends, so the total
mass is preserved exactly: mass that would leave the grid is redistributed inside it in proportion to the
kernel.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from heatmap.result import Snapshot
>>> edges = np.geomspace(80.0, 120.0, 201)
>>> long = np.where(np.abs(np.arange(200) - 60) < 3, 10.0, 0.0)
>>> snap = Snapshot(time=pd.Timestamp("2025-01-01", tz="UTC"), price_edges=edges, long=long,
...                 short=np.zeros(200), price=100.0)
>>> smoothed = smooth(snap, bandwidth=0.01)
>>> round(smoothed.total["long"], 6) == round(snap.total["long"], 6)
True
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal, TypeVar, overload

import numpy as np
import pandas as pd
from scipy import ndimage, stats

from heatmap.result import Heatmap, Snapshot

__all__ = [
    "NORMALIZATIONS",
    "bin_cohorts",
    "kde_bins",
    "log_step",
    "mass_between",
    "normalize",
    "sigma_bins",
    "smooth",
    "smooth_array",
]

Normalization = Literal["usd", "relative", "zscore", "percentile"]
NORMALIZATIONS: tuple[str, ...] = ("usd", "relative", "zscore", "percentile")
R = TypeVar("R", Snapshot, Heatmap)

_LOG_UNIFORM_RTOL = 1e-6


def log_step(price_edges: np.ndarray) -> float:
    """The constant log-width of the bands of a log-spaced grid [log quote].

    Parameters
    ----------
    price_edges : ndarray, shape (P+1,)
        Increasing price-band edges [quote].

    Returns
    -------
    float
        ``log(edges[i+1] / edges[i])``, the same for every band.

    Raises
    ------
    ValueError
        If the edges are not log-spaced (relative spread of the log-steps above 1e-6): a Gaussian in bins is
        only a Gaussian in log-price on such a grid.

    Examples
    --------
    >>> round(log_step(np.geomspace(1.0, np.e, 11)), 12)
    0.1
    """
    steps = np.diff(np.log(np.asarray(price_edges, dtype=float)))
    h = float(steps.mean())
    if not np.allclose(steps, h, rtol=_LOG_UNIFORM_RTOL, atol=0.0):
        raise ValueError(
            "price_edges must be log-spaced for log-price smoothing; log-steps range "
            f"{steps.min():.6g}..{steps.max():.6g} (build the grid with PriceGrid.log_spaced or np.geomspace)"
        )
    return h


def sigma_bins(bandwidth: float, price_edges: np.ndarray) -> float:
    """Kernel standard deviation in bins for a bandwidth given as a fraction of price.

    ``sigma_log = log(1 + bandwidth)`` [log quote] and ``sigma_bins = sigma_log / log_step``.

    Parameters
    ----------
    bandwidth : float
        Gaussian standard deviation as a fraction of price [-] (0.005 = 0.5 %), >= 0.
    price_edges : ndarray
        Log-spaced edges [quote].

    Examples
    --------
    >>> edges = np.geomspace(100.0, 100.0 * np.exp(0.1), 101)   # log step 0.001
    >>> round(sigma_bins(np.expm1(0.005), edges), 6)
    5.0
    """
    if not np.isfinite(bandwidth) or bandwidth < 0:
        raise ValueError(f"bandwidth must be a finite fraction of price >= 0, got {bandwidth!r}")
    return float(np.log1p(bandwidth) / log_step(price_edges))


def smooth_array(values: np.ndarray, sigma: float, *, axis: int = -1) -> np.ndarray:
    """Mass-preserving Gaussian smoothing of bin masses along ``axis`` (sigma in bins).

    Uses :func:`scipy.ndimage.gaussian_filter1d` with ``mode="constant"`` and renormalises every source bin by
    the part of its kernel that stays on the grid: ``out = G(x / G(1))`` with the symmetric filter ``G``. Each
    bin's mass is therefore spread over the grid in proportion to the kernel and the sum is unchanged.

    Parameters
    ----------
    values : ndarray
        Bin masses (any shape).
    sigma : float
        Kernel standard deviation [bins], >= 0 (0 returns a copy).
    axis : int
        Axis of the price bins.

    Examples
    --------
    >>> x = np.zeros(50); x[0] = 1.0
    >>> y = smooth_array(x, 3.0)
    >>> round(float(y.sum()), 12), bool(y[1] > 0)
    (1.0, True)
    """
    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma must be a finite number of bins >= 0, got {sigma!r}")
    x = np.asarray(values, dtype=float)
    if int(4.0 * sigma + 0.5) == 0 or x.size == 0:
        # scipy's kernel radius (truncate=4) is 0 bins: the filter is the identity
        return x.copy()
    n = x.shape[axis]
    kept = ndimage.gaussian_filter1d(np.ones(n), sigma, mode="constant", cval=0.0)
    shape = [1] * x.ndim
    shape[axis] = n
    return ndimage.gaussian_filter1d(x / kept.reshape(shape), sigma, axis=axis, mode="constant", cval=0.0)


@overload
def smooth(obj: Snapshot, *, bandwidth: float = ...) -> Snapshot: ...
@overload
def smooth(obj: Heatmap, *, bandwidth: float = ...) -> Heatmap: ...
def smooth(obj: Snapshot | Heatmap, *, bandwidth: float = 0.005) -> Snapshot | Heatmap:
    """A smoothed copy: Gaussian in log-price with standard deviation ``bandwidth`` (fraction of price).

    Mass-preserving per side (and per snapshot for a Heatmap); see :func:`smooth_array`.

    Parameters
    ----------
    obj : Snapshot or Heatmap
        On a log-spaced grid.
    bandwidth : float, default 0.005
        Kernel standard deviation as a fraction of price [-] (0.005 = 0.5 %).

    Returns
    -------
    Snapshot or Heatmap
        Same type, ``meta["smoothing_bandwidth"]`` set.

    Examples
    --------
    >>> edges = np.geomspace(90.0, 110.0, 101)
    >>> s = Snapshot(time=pd.Timestamp("2025-01-01", tz="UTC"), price_edges=edges, long=np.eye(100)[30],
    ...              short=np.zeros(100), price=100.0)
    >>> round(float(smooth(s, bandwidth=0.01).long.sum()), 12)
    1.0
    """
    sig = sigma_bins(bandwidth, obj.price_edges)
    out = {side: smooth_array(getattr(obj, side), sig, axis=-1) for side in ("long", "short")}
    meta = {**obj.meta, "smoothing_bandwidth": float(bandwidth)}
    return replace(obj, long=out["long"], short=out["short"], meta=meta)


def _normalize_array(x: np.ndarray, kind: str) -> np.ndarray:
    """Normalise a stack ``x`` of shape (..., 2, P) over its last two axes (both sides together)."""
    if kind == "usd":
        return x.copy()
    if kind == "relative":
        m = x.max(axis=(-2, -1), keepdims=True)
        return np.divide(x, m, out=np.zeros_like(x), where=m > 0)
    if kind == "zscore":
        mu = x.mean(axis=(-2, -1), keepdims=True)
        sd = x.std(axis=(-2, -1), keepdims=True)
        return np.divide(x - mu, sd, out=np.zeros_like(x), where=sd > 0)
    # percentile: rank of each positive cell among the positive cells (weak, ties take the max rank)
    flat = x.reshape(*x.shape[:-2], -1)
    out = np.zeros_like(flat)
    pos = flat > 0
    for idx in np.ndindex(flat.shape[:-1]):
        row, mask = flat[idx], pos[idx]
        n = int(mask.sum())
        if n:
            out[idx][mask] = stats.rankdata(row[mask], method="max") / n
    return out.reshape(x.shape)


@overload
def normalize(
    obj: Snapshot, kind: Normalization = ..., *, scope: Literal["all", "snapshot"] = ...
) -> Snapshot: ...
@overload
def normalize(
    obj: Heatmap, kind: Normalization = ..., *, scope: Literal["all", "snapshot"] = ...
) -> Heatmap: ...
def normalize(
    obj: Snapshot | Heatmap,
    kind: Normalization = "usd",
    *,
    scope: Literal["all", "snapshot"] = "all",
) -> Snapshot | Heatmap:
    """A copy with both sides normalised together.

    Parameters
    ----------
    obj : Snapshot or Heatmap
    kind : {"usd", "relative", "zscore", "percentile"}
        ``"usd"``: the quote notional unchanged [quote]. ``"relative"``: divided by the largest cell (0–1; an
        all-zero map stays 0). ``"zscore"``: ``(x − mean) / std`` over all cells of both sides (a constant map
        gives 0). ``"percentile"``: the fraction of positive cells whose value is <= this cell's (0–1]; empty
        cells are 0.
    scope : {"all", "snapshot"}, default "all"
        For a Heatmap: statistics over the whole time × price array (``"all"``, colours comparable over time)
        or per snapshot row (``"snapshot"``). Ignored for a Snapshot.

    Returns
    -------
    Snapshot or Heatmap
        Same type with ``meta["normalization"] = kind``.

    Examples
    --------
    >>> s = Snapshot(time=pd.Timestamp("2025-01-01", tz="UTC"), price_edges=np.array([90.0, 100.0, 110.0]),
    ...              long=np.array([4.0, 0.0]), short=np.array([0.0, 2.0]), price=100.0)
    >>> normalize(s, "relative").short.tolist()
    [0.0, 0.5]
    """
    if kind not in NORMALIZATIONS:
        raise ValueError(f"kind must be one of {NORMALIZATIONS}, got {kind!r}")
    if scope not in ("all", "snapshot"):
        raise ValueError(f"scope must be 'all' or 'snapshot', got {scope!r}")
    stack = np.stack([np.asarray(obj.long, dtype=float), np.asarray(obj.short, dtype=float)], axis=-2)
    if isinstance(obj, Heatmap):
        if scope == "all":
            # (T, 2, P) -> (2, T*P) treated as one map
            t = stack.shape[0]
            joint = np.moveaxis(stack, 0, 1).reshape(2, -1)
            res = np.moveaxis(_normalize_array(joint, kind).reshape(2, t, -1), 0, 1)
        else:
            res = _normalize_array(stack, kind)
        long, short = res[:, 0, :], res[:, 1, :]
    else:
        res = _normalize_array(stack, kind)
        long, short = res[0], res[1]
    meta = {**obj.meta, "normalization": kind}
    return replace(obj, long=long, short=short, meta=meta)


def mass_between(
    price_edges: np.ndarray, values: np.ndarray, low: float | np.ndarray, high: float | np.ndarray
) -> np.ndarray:
    """Mass of ``values`` between prices ``low`` and ``high``, uniform in log-price inside each band.

    Parameters
    ----------
    price_edges : ndarray, shape (P+1,)
        Increasing edges [quote].
    values : ndarray, shape (P,)
        Bin masses (e.g. notional [quote]).
    low, high : float or ndarray
        Interval ends [quote] (broadcast together); ``high < low`` gives 0. Mass outside the grid is 0.

    Returns
    -------
    ndarray
        Mass in each interval (same units as ``values``).

    Examples
    --------
    >>> float(mass_between(np.array([1.0, 4.0]), np.array([10.0]), 1.0, 2.0))   # half the log-width
    5.0
    """
    edges = np.asarray(price_edges, dtype=float)
    cdf = np.concatenate([[0.0], np.cumsum(np.asarray(values, dtype=float))])
    loge = np.log(edges)
    lo = np.log(np.clip(np.asarray(low, dtype=float), edges[0], edges[-1]))
    hi = np.log(np.clip(np.asarray(high, dtype=float), edges[0], edges[-1]))
    return np.maximum(np.interp(hi, loge, cdf) - np.interp(lo, loge, cdf), 0.0)


def bin_cohorts(
    cohorts: pd.DataFrame,
    price_edges: np.ndarray,
    *,
    side: Literal["long", "short"],
    weight: str = "notional",
) -> np.ndarray:
    """Histogram of ledger cohorts' liquidation prices on the bands, weighted by ``weight`` [quote].

    Parameters
    ----------
    cohorts : DataFrame
        Columns ``side``, ``liquidation_price`` [quote] and ``weight`` (default ``notional``).
    price_edges : ndarray
        Band edges [quote].
    side : {"long", "short"}

    Examples
    --------
    >>> c = pd.DataFrame({"side": ["long", "long"], "liquidation_price": [95.0, 96.0], "notional": [1.0, 2.0]})
    >>> bin_cohorts(c, np.array([90.0, 100.0, 110.0]), side="long").tolist()
    [3.0, 0.0]
    """
    sel = _select_cohorts(cohorts, side, weight)
    hist, _ = np.histogram(
        sel["liquidation_price"], bins=np.asarray(price_edges, dtype=float), weights=sel[weight]
    )
    return hist.astype(float)


def _select_cohorts(cohorts: pd.DataFrame, side: str, weight: str) -> pd.DataFrame:
    if side not in ("long", "short"):
        raise ValueError(f"side must be 'long' or 'short', got {side!r}")
    missing = {"side", "liquidation_price", weight} - set(cohorts.columns)
    if missing:
        raise ValueError(f"cohorts is missing column(s) {sorted(missing)}; has {list(cohorts.columns)}")
    sel = cohorts.loc[cohorts["side"] == side, ["liquidation_price", weight]]
    lp = sel["liquidation_price"].to_numpy(float)
    ok = np.isfinite(lp) & (lp > 0)
    return sel.loc[ok]


def kde_bins(
    cohorts: pd.DataFrame,
    price_edges: np.ndarray,
    *,
    side: Literal["long", "short"],
    bandwidth: float,
    weight: str = "notional",
) -> np.ndarray:
    """Weighted Gaussian KDE of cohorts' log liquidation prices, integrated over the bands [quote].

    An independent reference for :func:`smooth`: :class:`scipy.stats.gaussian_kde` on ``log(liquidation_price)``
    with weights ``weight``, kernel standard deviation ``log(1 + bandwidth)`` in log-price, each band's mass
    obtained with ``integrate_box_1d`` and scaled by the total weight. Mass beyond the grid is not returned.

    Parameters
    ----------
    cohorts : DataFrame
        ``side``, ``liquidation_price`` [quote], ``weight``.
    price_edges : ndarray
        Band edges [quote].
    side : {"long", "short"}
    bandwidth : float
        Kernel standard deviation as a fraction of price [-], > 0.

    Returns
    -------
    ndarray, shape (P,)
        Notional per band [quote].

    Examples
    --------
    >>> c = pd.DataFrame({"side": ["long"] * 2, "liquidation_price": [95.0, 97.0], "notional": [1.0, 1.0]})
    >>> m = kde_bins(c, np.geomspace(80, 120, 81), side="long", bandwidth=0.01)
    >>> round(float(m.sum()), 6)
    2.0
    """
    if not np.isfinite(bandwidth) or bandwidth <= 0:
        raise ValueError(f"bandwidth must be a positive fraction of price, got {bandwidth!r}")
    sel = _select_cohorts(cohorts, side, weight)
    edges = np.asarray(price_edges, dtype=float)
    w = sel[weight].to_numpy(float)
    if len(sel) == 0 or w.sum() <= 0:
        return np.zeros(edges.size - 1)
    x = np.log(sel["liquidation_price"].to_numpy(float))
    sigma = float(np.log1p(bandwidth))
    if len(x) == 1 or np.ptp(x) == 0:
        # gaussian_kde needs a non-degenerate sample; a single point is one Gaussian
        cdf = stats.norm.cdf(np.log(edges), loc=x[0], scale=sigma)
        return np.diff(cdf) * w.sum()
    kde = stats.gaussian_kde(x, weights=w)
    # gaussian_kde's kernel sd = factor * weighted sd of the data; choose the factor for the wanted sd
    kde.set_bandwidth(bw_method=sigma / float(np.sqrt(kde.covariance[0, 0] / kde.factor**2)))
    loge = np.log(edges)
    mass = np.array([kde.integrate_box_1d(a, b) for a, b in zip(loge[:-1], loge[1:], strict=True)])
    return mass * w.sum()
