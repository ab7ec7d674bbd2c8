"""Per-bar steps of the grid engine as pure functions on arrays (each one separately tested).

Per side the grid engine keeps, per bin, the mass ``q`` [base] (face value [quote] for inverse contracts) and its
first moment ``z`` = mass × mean position inside the bin (in bin units from the bin's lower edge, so
``0 <= z <= q``). A bin's content is treated as sitting at its mean position ``i + z/q``: this is exact for any
number of positions at one level
(discrete leverage tiers entered at one price) and within a bin otherwise. Arrays are 2-D ``(blocks, bins)``:
one row per age block (a single row unless the exit policy needs ages).

Examples
--------
>>> import numpy as np
>>> from heatmap.grid import PriceGrid
>>> g = PriceGrid.log_spaced(50.0, 200.0, bins=4)
>>> q = np.array([[0.0, 1.0, 2.0, 0.0]])
>>> z = np.array([[0.0, 0.5, 0.5, 0.0]])             # bin 2 content sits a quarter into the bin
>>> removed, value = consume_long(q, z, 2.5, g)    # the low is half-way into bin 2: bin 2 survives
>>> removed.tolist(), q.tolist()
([0.0], [[0.0, 1.0, 2.0, 0.0]])
>>> removed, value = consume_long(q, z, 2.2, g)
>>> removed.tolist(), q.tolist()
([2.0], [[0.0, 1.0, 0.0, 0.0]])
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from heatmap.grid import PriceGrid

__all__ = [
    "consume_long",
    "consume_short",
    "level_prices",
    "map_levels",
    "map_uniform",
    "shift_levels",
    "shift_reciprocal",
    "shift_uniform",
    "shift_uniform_reciprocal",
    "take",
    "triangular_bin_masses",
    "triangular_bin_masses_small",
]


def level_prices(
    q: NDArray[np.float64], z: NDArray[np.float64], grid: PriceGrid, a: int = 0
) -> NDArray[np.float64]:
    """Price [quote] of each bin's content (``e_i * exp(h * z/q)``), for bins ``a, a+1, …`` (``e_i`` if empty)."""
    mu = z / np.maximum(q, 1e-300)  # empty bins have z = 0 -> mu = 0
    mu *= grid.log_step
    np.exp(mu, out=mu)
    mu *= grid.edges[a : a + q.shape[-1]]
    return mu


def _value(q: NDArray[np.float64], z: NDArray[np.float64], grid: PriceGrid, a: int) -> float:
    """Quote value ``sum q * level price`` of a block of bins starting at bin ``a``."""
    if q.size == 0:
        return 0.0
    return float((q * level_prices(q, z, grid, a)).sum())


def consume_long(
    q: NDArray[np.float64], z: NDArray[np.float64], x: float, grid: PriceGrid, hi: int | None = None
) -> tuple[NDArray[np.float64], float]:
    """Liquidate long levels at or above fractional bin coordinate ``x`` (the bar's low), in place.

    Bins above the one containing ``x`` are emptied; in that bin the content goes when its mean position is at
    or above ``x``. ``hi`` (exclusive) bounds where long mass may be (speed only).

    Returns
    -------
    removed : ndarray, shape (B,)
        Liquidated mass per row [base].
    value : float
        Liquidated notional ``qty × level`` [quote].
    """
    B, P = q.shape
    hi = P if hi is None else hi
    out = np.zeros(B)
    if x >= hi:
        return out, 0.0
    i = math.floor(x)
    value = 0.0
    a = i + 1 if i >= 0 else 0
    if a < hi:
        qs, zs = q[:, a:hi], z[:, a:hi]
        out += qs.sum(axis=1)
        value += _value(qs, zs, grid, a)
        qs[:] = 0.0
        zs[:] = 0.0
    if 0 <= i < hi:
        qi, zi = q[:, i], z[:, i]
        hit = (qi > 0) & (zi >= (x - i) * qi)
        if hit.any():
            out += np.where(hit, qi, 0.0)
            value += float(sum(_value(qi[r : r + 1], zi[r : r + 1], grid, i) for r in np.flatnonzero(hit)))
            qi[hit] = 0.0
            zi[hit] = 0.0
    return out, value


def consume_short(
    q: NDArray[np.float64], z: NDArray[np.float64], x: float, grid: PriceGrid, lo: int = 0
) -> tuple[NDArray[np.float64], float]:
    """Liquidate short levels at or below fractional bin coordinate ``x`` (the bar's high), in place.

    Mirror of :func:`consume_long`: bins below the one containing ``x`` are emptied, that bin's content goes when
    its mean position is at or below ``x``.
    """
    B, P = q.shape
    out = np.zeros(B)
    if x < lo:
        return out, 0.0
    i = math.floor(x)
    value = 0.0
    b = i if i < P else P
    if lo < b:
        qs, zs = q[:, lo:b], z[:, lo:b]
        out += qs.sum(axis=1)
        value += _value(qs, zs, grid, lo)
        qs[:] = 0.0
        zs[:] = 0.0
    if lo <= i < P:
        qi, zi = q[:, i], z[:, i]
        hit = (qi > 0) & (zi <= (x - i) * qi)
        if hit.any():
            out += np.where(hit, qi, 0.0)
            value += float(sum(_value(qi[r : r + 1], zi[r : r + 1], grid, i) for r in np.flatnonzero(hit)))
            qi[hit] = 0.0
            zi[hit] = 0.0
    return out, value


def shift_levels(
    q: NDArray[np.float64],
    z: NDArray[np.float64],
    grid: PriceGrid,
    shift: float,
    bounds: list[int] | None = None,
) -> NDArray[np.float64]:
    """Move every level by ``shift`` [quote] in place (a funding settlement); returns the mass pushed off the grid.

    Each bin's content moves from its level ``p`` to ``p + shift`` (re-binned with its new within-bin position),
    so mass is conserved exactly and a single level moves exactly by the formula. What lands at a price <= 0 or
    outside the grid is returned per row (it is kept off the grid by the engine). ``bounds`` (``[a, b]``, in/out)
    restricts the work to bins ``a … b-1`` (where all the mass is) and is updated to the bins holding mass after
    the shift.

    Examples
    --------
    >>> g = PriceGrid.log_spaced(1.0, 4.0, bins=2)
    >>> q, z = np.array([[1.0, 0.0]]), np.array([[0.0, 0.0]])      # one level at 1.0
    >>> shift_levels(q, z, g, 1.5).tolist(), q.tolist()             # -> 2.5, in bin [2, 4)
    ([0.0], [[0.0, 1.0]])
    >>> round(float(level_prices(q, z, g)[0, 1]), 12)
    2.5
    """
    if shift == 0.0:
        return np.zeros(q.shape[0])
    return map_levels(q, z, grid, lambda p: p + shift, bounds)


def shift_uniform(
    q: NDArray[np.float64], z: NDArray[np.float64], grid: PriceGrid, shift: float
) -> NDArray[np.float64]:
    """Funding shift for content spread through its bins (continuous leverage laws), in place.

    Each bin's content is taken as uniform in log price across the bin; the cumulative mass at edge ``e`` after
    the shift is the cumulative mass at ``e - shift`` before (linear in log price inside a bin), so mass is
    conserved exactly and moved by the formula on average. Moments are reset to the bin middle (uniform content).
    Moving points instead (:func:`shift_levels`) is exact for discrete levels but makes continuous content clump
    into every other bin over many settlements. Returns the mass pushed off the grid per row.

    Examples
    --------
    >>> g = PriceGrid.log_spaced(1.0, 4.0, bins=2)
    >>> q, z = np.array([[1.0, 0.0]]), np.array([[0.5, 0.0]])
    >>> shift_uniform(q, z, g, 1.0).tolist(), q.round(6).tolist()   # [1, 2) -> [2, 3): all in bin [2, 4)
    ([0.0], [[0.0, 1.0]])
    """
    if shift == 0.0:
        return np.zeros(q.shape[0])
    return map_uniform(q, z, grid, lambda e: e - shift)


def _reciprocal_forward(d: float) -> Callable[[NDArray[np.float64]], NDArray[np.float64]]:
    def forward(p: NDArray[np.float64]) -> NDArray[np.float64]:
        r = 1.0 / p + d
        return np.divide(1.0, r, out=np.full(r.shape, np.inf), where=r > 0)

    return forward


def map_levels(
    q: NDArray[np.float64],
    z: NDArray[np.float64],
    grid: PriceGrid,
    forward: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    bounds: list[int] | None = None,
) -> NDArray[np.float64]:
    """Move every level ``p`` to ``forward(p)`` [quote] in place; returns the mass pushed off the grid per row.

    The general form of :func:`shift_levels` for any increasing price map (a level that ``forward`` sends to a
    non-finite or non-positive price, or outside the grid, leaves the grid). Mass is conserved exactly and a
    single level lands exactly on ``forward(p)``. ``bounds`` as in :func:`shift_levels`.

    Examples
    --------
    >>> g = PriceGrid.log_spaced(1.0, 4.0, bins=2)
    >>> q, z = np.array([[1.0, 0.0]]), np.array([[0.0, 0.0]])      # one level at 1.0
    >>> map_levels(q, z, g, lambda p: 2.5 * p).tolist(), q.tolist()
    ([0.0], [[0.0, 1.0]])
    >>> round(float(level_prices(q, z, g)[0, 1]), 12)
    2.5
    """
    B, P = q.shape
    lost = np.zeros(B)
    a, b = (0, P) if bounds is None else (max(bounds[0], 0), min(bounds[1], P))
    rows, cols = np.nonzero(q[:, a:b] > 0)
    cols = cols + a
    if rows.size == 0:
        return lost
    qq = q[rows, cols]
    price = np.asarray(
        forward(grid.edges[cols] * np.exp(grid.log_step * (z[rows, cols] / qq))), dtype=np.float64
    )
    ok = np.isfinite(price) & (price > 0)
    v = np.full(price.shape, -1.0)
    v[ok] = grid.position(price[ok])
    idx = np.floor(v).astype(np.int64)
    inside = ok & (idx >= 0) & (idx < P)
    np.add.at(lost, rows[~inside], qq[~inside])
    q[rows, cols] = 0.0
    z[rows, cols] = 0.0
    r, c = rows[inside], idx[inside]
    np.add.at(q, (r, c), qq[inside])
    np.add.at(z, (r, c), qq[inside] * np.clip(v[inside] - c, 0.0, 1.0))
    if bounds is not None and c.size:
        bounds[0], bounds[1] = int(c.min()), int(c.max()) + 1
    return lost


def map_uniform(
    q: NDArray[np.float64],
    z: NDArray[np.float64],
    grid: PriceGrid,
    backward: Callable[[NDArray[np.float64]], NDArray[np.float64]],
) -> NDArray[np.float64]:
    """Move content spread through its bins by an increasing price map, in place (general :func:`shift_uniform`).

    ``backward(e)`` is the price that the map sends to ``e`` (its inverse; ``+inf`` where nothing below infinity
    maps to ``e``, ``<= 0`` where everything above 0 maps above ``e``). The cumulative mass at each new edge is
    the old cumulative mass at its source (linear in log price inside a bin), so mass is conserved exactly and
    what leaves the grid is returned per row. Moments are reset to the bin middle.

    Examples
    --------
    >>> g = PriceGrid.log_spaced(1.0, 4.0, bins=2)
    >>> q, z = np.array([[1.0, 0.0]]), np.array([[0.5, 0.0]])
    >>> map_uniform(q, z, g, lambda e: e / 2.0).tolist(), q.round(6).tolist()   # [1, 2) -> [2, 4)
    ([0.0], [[0.0, 1.0]])
    """
    B, P = q.shape
    src = np.asarray(backward(grid.edges), dtype=np.float64)
    pos = np.full(src.shape, -1.0)
    ok = src > 0  # False for nan and <= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        pos[ok] = grid.position(src[ok])
    pos = np.clip(pos, 0.0, float(P))
    k = np.minimum(np.floor(pos).astype(np.intp), P - 1)
    frac = pos - k
    cum = np.zeros((B, P + 1))
    np.cumsum(q, axis=1, out=cum[:, 1:])
    total = cum[:, -1].copy()
    new_cum = cum[:, k] + frac * (cum[:, k + 1] - cum[:, k])
    q[:] = np.clip(np.diff(new_cum, axis=1), 0.0, None)
    z[:] = 0.5 * q
    return np.asarray(total - q.sum(axis=1))


def shift_reciprocal(
    q: NDArray[np.float64],
    z: NDArray[np.float64],
    grid: PriceGrid,
    shift: float,
    bounds: list[int] | None = None,
) -> NDArray[np.float64]:
    """Move every level ``p`` so that ``1/p`` changes by ``shift`` [1/quote], in place (inverse-contract funding).

    A level whose reciprocal falls to or below 0 can no longer be reached and leaves the grid (returned per row
    with whatever leaves through the edges). Exact for point levels; see :func:`map_levels`.

    Examples
    --------
    >>> g = PriceGrid.log_spaced(1.0, 4.0, bins=2)
    >>> q, z = np.array([[1.0, 0.0]]), np.array([[0.0, 0.0]])      # one level at 1.0
    >>> shift_reciprocal(q, z, g, -0.6).tolist(), q.tolist()        # 1/p: 1 -> 0.4, p -> 2.5
    ([0.0], [[0.0, 1.0]])
    >>> round(float(level_prices(q, z, g)[0, 1]), 12)
    2.5
    >>> shift_reciprocal(q, z, g, -0.5).tolist()                    # 1/p: 0.4 -> -0.1: never reached again
    [1.0]
    """
    if shift == 0.0:
        return np.zeros(q.shape[0])
    return map_levels(q, z, grid, _reciprocal_forward(shift), bounds)


def shift_uniform_reciprocal(
    q: NDArray[np.float64], z: NDArray[np.float64], grid: PriceGrid, shift: float
) -> NDArray[np.float64]:
    """Reciprocal-price shift (``1/p -> 1/p + shift``) of content spread through its bins, in place.

    The continuous-law counterpart of :func:`shift_reciprocal` (see :func:`map_uniform`, :func:`shift_uniform`).

    Examples
    --------
    >>> g = PriceGrid.log_spaced(1.0, 4.0, bins=2)
    >>> q, z = np.array([[1.0, 0.0]]), np.array([[0.5, 0.0]])
    >>> lost = shift_uniform_reciprocal(q, z, g, -0.5)   # 1/p in (0.5, 1] -> (0, 0.5]: [1, 2) -> [2, inf)
    >>> q.round(6).tolist(), round(float(lost[0]), 6)    # what sat in [1, 4/3] stays below 4
    ([[0.0, 0.415037]], 0.584963)
    """
    if shift == 0.0:
        return np.zeros(q.shape[0])
    # the edge e receives what sat at 1/(1/e - shift) (beyond infinity, i.e. nothing, when 1/e - shift <= 0)
    return map_uniform(q, z, grid, _reciprocal_forward(-shift))


def take(q: NDArray[np.float64], z: NDArray[np.float64], amount: float, *, from_top: bool) -> float:
    """Remove up to ``amount`` [base] from the highest (``from_top``) or lowest bins of 1-D ``q`` (and ``z``).

    Returns what was taken. The bin where the amount runs out keeps its remaining share (``z`` scaled alike).

    Examples
    --------
    >>> q, z = np.array([1.0, 2.0, 3.0]), np.array([0.5, 1.0, 1.5])
    >>> take(q, z, 4.0, from_top=True), q.tolist(), z.tolist()
    (4.0, [1.0, 1.0, 0.0], [0.5, 0.5, 0.0])
    """
    if amount <= 0.0:
        return 0.0
    qv, zv = (q[::-1], z[::-1]) if from_top else (q, z)
    cum = np.cumsum(qv)
    total = float(cum[-1]) if cum.size else 0.0
    if amount >= total:
        qv[:] = 0.0
        zv[:] = 0.0
        return total
    k = int(np.searchsorted(cum, amount, side="left"))
    before = float(cum[k - 1]) if k > 0 else 0.0
    qv[:k] = 0.0
    zv[:k] = 0.0
    keep = (qv[k] - (amount - before)) / qv[k] if qv[k] > 0 else 0.0
    keep = min(max(keep, 0.0), 1.0)
    qv[k] *= keep
    zv[k] *= keep
    return amount


def triangular_bin_masses_small(
    edges: list[float], lx0: float, inv_h: float, low: float, mode: float, high: float, max_bins: int = 16
) -> tuple[int, list[float]] | None:
    """:func:`triangular_bin_masses` on python floats for a bar spanning at most ``max_bins`` bins, else None.

    ``edges`` is the grid's edge list, ``lx0 = log(edges[0])``, ``inv_h = 1 / log_step`` (cheap per bar).

    Examples
    --------
    >>> g = PriceGrid.log_spaced(1.0, 16.0, bins=4)
    >>> j0, w = triangular_bin_masses_small(g.edges.tolist(), 0.0, 1 / g.log_step, 1.0, 1.0, 4.0)
    >>> j0, [round(x, 6) for x in w]
    (0, [0.555556, 0.444444])
    """
    span = high - low
    if span <= 0:
        return None
    P = len(edges) - 1
    j0 = math.floor((math.log(low) - lx0) * inv_h)
    j1 = max(j0, math.ceil((math.log(high) - lx0) * inv_h) - 1)
    if j0 < 0 or j1 >= P or j1 - j0 >= max_bins:
        return None
    if not (edges[j0] <= low and high <= edges[j1 + 1]):  # float edge cases of the logs
        return None
    out = []
    prev = 0.0
    left = span * (mode - low)
    right = span * (high - mode)
    for e in edges[j0 + 1 : j1 + 1]:
        x = min(max(e, low), high)
        if x <= mode:
            cdf = (x - low) ** 2 / left if left > 0 else 0.0
        else:
            cdf = 1.0 - (high - x) ** 2 / right if right > 0 else 1.0
        out.append(cdf - prev)
        prev = cdf
    out.append(1.0 - prev)
    return j0, out


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
    span = high - low
    if (
        0 < span and j1 - j0 <= 3 and grid.edges[j0] <= low and high <= grid.edges[j1 + 1]
    ):  # narrow bar: the same formula on python floats (much cheaper per bar)
        edges = grid.edges
        vals = []
        for e in edges[j0 + 1 : j1 + 1].tolist():
            x = min(max(e, low), high)
            if x <= mode:
                vals.append((x - low) ** 2 / (span * (mode - low)) if mode > low else 0.0)
            else:
                vals.append(1.0 - (high - x) ** 2 / (span * (high - mode)) if high > mode else 1.0)
        cdf_in = [0.0, *vals, 1.0]
        return j0, np.diff(np.array(cdf_in))
    x = np.clip(grid.edges[j0 : j1 + 2], low, high)
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
