"""Per-bar steps of the grid engine as pure functions on arrays (each one separately tested).

Mass is base quantity per price bin. Arrays are 2-D ``(blocks, bins)``: one row per age block (a single row
unless the exit policy needs ages), so that every step applies to all blocks at once.

Examples
--------
>>> import numpy as np
>>> from heatmap.grid import PriceGrid
>>> g = PriceGrid.log_spaced(50.0, 200.0, bins=4)
>>> m = np.array([[0.0, 1.0, 1.0, 0.0]])
>>> removed = consume_long(m, g.position(100.0 * np.exp(0.5 * g.log_step)))   # low in the middle of bin 2
>>> removed.round(6).tolist(), m.round(6).tolist()
([0.5], [[0.0, 1.0, 0.5, 0.0]])
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from heatmap.grid import PriceGrid

__all__ = [
    "consume_long",
    "consume_short",
    "shift_mass",
    "take_from_bottom",
    "take_from_top",
    "triangular_bin_masses",
]


def shift_mass(mass: NDArray[np.float64], grid: PriceGrid, shift: float) -> NDArray[np.float64]:
    """Move every level by ``shift`` [quote] in place (a funding settlement); returns mass pushed off the grid.

    The cumulative mass ``C`` at the edges is linear in log-price inside a bin; after the shift the cumulative
    mass at edge ``e`` is ``C(e - shift)``, read by that interpolation. Mass is conserved exactly: what leaves
    the grid (below ``e_0`` or above ``e_P``) is returned per row.

    Parameters
    ----------
    mass : ndarray, shape (B, P)
        Mass per bin [base], modified in place.
    grid : PriceGrid
    shift : float
        Price change of every level [quote] (positive: up).

    Returns
    -------
    ndarray, shape (B,)
        Mass that left the grid [base].

    Examples
    --------
    >>> g = PriceGrid.log_spaced(1.0, 4.0, bins=2)
    >>> m = np.array([[1.0, 0.0]])
    >>> shift_mass(m, g, 1.0).tolist(), m.tolist()     # [1, 2) -> [2, 3): the whole bin [2, 4) in log terms
    ([0.0], [[0.0, 1.0]])
    """
    if shift == 0.0:
        return np.zeros(mass.shape[0])
    edges = grid.edges
    P = grid.n_bins
    src = edges - shift
    pos = np.full(src.shape, -1.0)
    ok = src > 0
    pos[ok] = grid.position(src[ok])
    pos = np.clip(pos, 0.0, float(P))
    k = np.minimum(np.floor(pos).astype(np.intp), P - 1)
    frac = pos - k
    cum = np.zeros((mass.shape[0], P + 1))
    np.cumsum(mass, axis=1, out=cum[:, 1:])
    total = cum[:, -1].copy()
    new_cum = cum[:, k] + frac * (cum[:, k + 1] - cum[:, k])
    mass[:] = np.diff(new_cum, axis=1)
    np.clip(mass, 0.0, None, out=mass)
    return np.asarray(total - mass.sum(axis=1))


def consume_long(mass: NDArray[np.float64], x: float, hi: int | None = None) -> NDArray[np.float64]:
    """Remove long mass at or above fractional bin coordinate ``x`` (the bar's low) in place.

    The bin containing ``x`` loses the share of its log-width above ``x``. ``hi`` (exclusive) bounds where mass
    may be (speed only). Returns the removed mass per row [base].
    """
    B, P = mass.shape
    hi = P if hi is None else hi
    if x >= hi:
        return np.zeros(B)
    i = math.floor(x)
    out = np.zeros(B)
    a = max(i + 1, 0)
    if a < hi:
        seg = mass[:, a:hi]
        out += seg.sum(axis=1)
        seg[:] = 0.0
    if 0 <= i < hi:
        part = mass[:, i] * (i + 1 - x)
        mass[:, i] -= part
        out += part
    return out


def consume_short(mass: NDArray[np.float64], x: float, lo: int = 0) -> NDArray[np.float64]:
    """Remove short mass at or below fractional bin coordinate ``x`` (the bar's high) in place."""
    B, P = mass.shape
    if x < lo:
        return np.zeros(B)
    i = math.floor(x)
    out = np.zeros(B)
    b = min(i, P)
    if lo < b:
        seg = mass[:, lo:b]
        out += seg.sum(axis=1)
        seg[:] = 0.0
    if lo <= i < P:
        part = mass[:, i] * (x - i)
        mass[:, i] -= part
        out += part
    return out


def take_from_top(row: NDArray[np.float64], amount: float) -> float:
    """Remove up to ``amount`` [base] from the highest bins of a 1-D ``row`` in place; returns what was taken."""
    return _take(row[::-1], amount)


def take_from_bottom(row: NDArray[np.float64], amount: float) -> float:
    """Remove up to ``amount`` [base] from the lowest bins of a 1-D ``row`` in place; returns what was taken."""
    return _take(row, amount)


def _take(row: NDArray[np.float64], amount: float) -> float:
    if amount <= 0.0:
        return 0.0
    cum = np.cumsum(row)
    total = float(cum[-1]) if cum.size else 0.0
    if amount >= total:
        row[:] = 0.0
        return total
    k = int(np.searchsorted(cum, amount, side="left"))
    before = float(cum[k - 1]) if k > 0 else 0.0
    row[:k] = 0.0
    row[k] -= amount - before
    if row[k] < 0.0:
        row[k] = 0.0
    return amount


def triangular_bin_masses(
    grid: PriceGrid, low: float, mode: float, high: float
) -> tuple[int, NDArray[np.float64]]:
    """Probabilities of a triangular law on ``[low, high]`` with mode ``mode`` (in price) per grid bin.

    Returns ``(j0, w)``: ``w[k]`` is the probability of bin ``j0 + k`` (CDF differences at the edges, exact).

    Examples
    --------
    >>> g = PriceGrid.log_spaced(1.0, 16.0, bins=4)
    >>> j0, w = triangular_bin_masses(g, 1.0, 1.0, 4.0)
    >>> j0, w.round(6).tolist()
    (0, [0.555556, 0.444444])
    """
    pos_lo = float(grid.position(low))
    pos_hi = float(grid.position(high))
    j0 = max(0, math.floor(pos_lo))
    j1 = min(grid.n_bins - 1, max(j0, math.ceil(pos_hi) - 1))
    if j1 < j0:
        return j0, np.zeros(0)
    x = np.clip(grid.edges[j0 : j1 + 2], low, high)
    span = high - low
    if span <= 0:
        w = np.zeros(j1 - j0 + 1)
        w[0] = 1.0
        return j0, w
    left = mode - low
    right = high - mode
    cdf = np.where(
        x <= mode,
        np.divide((x - low) ** 2, span * left, out=np.zeros_like(x), where=left > 0),
        1.0 - np.divide((high - x) ** 2, span * right, out=np.zeros_like(x), where=right > 0),
    )
    return j0, np.diff(cdf)
