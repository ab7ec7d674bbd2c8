"""Per-bar steps of the grid engine on one row of one side (kernels: plain Python in the subset numba compiles).

Per side and row the grid engine keeps an array ``qz`` of shape ``(P, 3)``: per bin the mass ``q`` [base] (face
value [quote] for inverse contracts), its first moment ``z`` = mass × mean position inside the bin and its
second moment ``s`` = mass × mean squared position (positions in bin units from the bin's lower edge, so
``0 <= z <= q`` and ``z²/q <= s <= z``). A bin's level is its mean position ``i + z/q``: exact for any number of
positions at one level (discrete leverage tiers entered at one price) and within a bin otherwise. The spread
``s/q - (z/q)²`` lets funding move a bin's content as a block of its own width (:func:`shift_blocks`): a point
stays a point and content spread through its bins stays spread, so levels do not diffuse over settlements.
The per-bar loop (:mod:`heatmap.engine.loop`) calls these functions compiled (numba) or as they are;
``tests/test_engine.py`` runs them on small examples.

Positions are fractional bin coordinates ``(log p - log e_0) / h`` of a grid with edges ``e`` and log step
``h``; ``lower = edges[:-1]``.

Examples
--------
>>> import numpy as np
>>> from heatmap.grid import PriceGrid
>>> g = PriceGrid.log_spaced(50.0, 200.0, bins=4)
>>> qz = np.array([[0, 0, 0], [1.0, 0.5, 0.25], [2.0, 0.5, 0.125], [0, 0, 0]])  # bin 2: a point a quarter in
>>> consume(qz, 2.5, True, 4, 0, g.edges[:-1], g.log_step, False, True)[0]   # the low half-way into bin 2
0.0
>>> float(consume(qz, 2.2, True, 4, 0, g.edges[:-1], g.log_step, False, True)[0]), qz[:, 0].tolist()
(2.0, [0.0, 1.0, 0.0, 0.0])
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "block",
    "close_nearest",
    "consume",
    "growth",
    "level_price",
    "log_ratio",
    "put_piece",
    "shift_blocks",
    "shift_levels",
    "to_position",
    "triangular",
]


def growth(x: float) -> float:
    """``exp(x)`` (a price ratio within a bin): a Taylor polynomial for ``|x| < 0.02`` (relative error below
    3e-16, i.e. to rounding), ``math.exp`` beyond.

    Examples
    --------
    >>> abs(growth(0.01) / math.exp(0.01) - 1.0) < 1e-15, growth(1.0) == math.exp(1.0)
    (True, True)
    """
    if -0.02 < x < 0.02:
        return 1.0 + x * (
            1.0 + x * (0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0 + x / 720.0))))
        )
    return math.exp(x)


def log_ratio(x: float) -> float:
    """``log(1 + x)``: a series for ``|x| < 1e-3`` (error below 1e-19), ``math.log1p`` beyond (-inf at -1).

    Examples
    --------
    >>> abs(log_ratio(1e-4) - math.log1p(1e-4)) < 1e-20, log_ratio(0.5) == math.log1p(0.5)
    (True, True)
    """
    if -1e-3 < x < 1e-3:
        return x * (1.0 - x * (0.5 - x * (1.0 / 3.0 - x * (0.25 - x * 0.2))))
    if x <= -1.0:
        return -math.inf
    return math.log1p(x)


def level_price(qz: Any, j: int, lower: Any, h: float) -> float:
    """Price [quote] of the content of bin ``j`` (at its mean position; the lower edge if empty).

    Examples
    --------
    >>> import numpy as np
    >>> round(level_price(np.array([[2.0, 1.0]]), 0, np.array([100.0]), math.log(1.21)), 9)   # half-way: 110
    110.0
    """
    q = qz[j, 0]
    if q <= 0.0:
        return float(lower[j])
    return float(lower[j] * growth(h * (qz[j, 1] / q)))


def to_position(u: float, price: float, h: float, inverse: bool, d: float) -> float:
    """Fractional bin position of the level at position ``u`` (price ``price``) moved by a funding shift ``d``;
    -1 when it leaves (a price <= 0 or an infinite one).

    Linear contracts: the price moves to ``price + d`` [quote]; inverse contracts: ``1/price`` moves by ``d``
    [1/quote] (a level whose reciprocal reaches 0 can never be reached again).

    Examples
    --------
    >>> round(to_position(0.0, 100.0, math.log(1.1), False, 10.0), 12)   # 100 -> 110: one bin up
    1.0
    """
    if inverse:  # 1/p + d = (1 + d p)/p: the price is divided by 1 + d p
        x = d * price
        return u - log_ratio(x) / h if x > -1.0 else -1.0
    x = d / price
    return u + log_ratio(x) / h if x > -1.0 else -1.0


def block(q: float, z: float, s: float) -> Any:
    """The uniform block standing for a bin's content of mass ``q``, moments ``z``, ``s``: ``(mean, width)``
    inside the bin [bin units], the width ``sqrt(12 × variance)`` (a point: 0, content uniform through the bin: 1)
    kept inside the bin.

    Examples
    --------
    >>> [round(v, 12) for v in block(2.0, 1.0, 2.0 / 3.0)], block(1.0, 0.25, 0.0625)  # uniform; a point
    ([0.5, 1.0], (0.25, 0.0))
    """
    m = min(max(z / q, 0.0), 1.0)
    var = s / q - m * m
    w = math.sqrt(12.0 * var) if var > 0.0 else 0.0
    return m, min(w, 2.0 * min(m, 1.0 - m))


def put_piece(qz: Any, k: int, mass: float, a: float, b: float) -> None:
    """Add ``mass`` spread uniformly over ``[a, b]`` (positions inside bin ``k``, ``0 <= a <= b <= 1``) to bin
    ``k`` of ``qz``, with its first and second moments.

    Examples
    --------
    >>> import numpy as np
    >>> qz = np.zeros((1, 3))
    >>> put_piece(qz, 0, 3.0, 0.0, 1.0); qz.tolist()
    [[3.0, 1.5, 1.0]]
    """
    qz[k, 0] += mass
    qz[k, 1] += mass * 0.5 * (a + b)
    qz[k, 2] += mass * (a * a + a * b + b * b) / 3.0


def consume(
    qz: Any, x: float, long: bool, hi: int, lo: int, lower: Any, h: float, inverse: bool, blocks: bool
) -> Any:
    """Liquidate the levels a bar crossed, in place; returns ``(qty, value)`` removed.

    Longs: levels at or above the bar low at position ``x`` (mass only in bins ``[0, hi)``); shorts: at or below
    the bar high at ``x`` (mass only in ``[lo, P)``). Bins beyond the one holding ``x`` are emptied. In that bin,
    with ``blocks`` (continuous leverage laws) the part of the content's block (:func:`block`) beyond ``x`` goes
    and the rest stays as the block's remaining part; without, the content goes whole when its mean position is
    crossed (a point level). ``value`` is ``qty × level`` [quote] (inverse contracts: the face value itself).

    Examples
    --------
    >>> import numpy as np
    >>> from heatmap.grid import PriceGrid
    >>> g = PriceGrid.log_spaced(1.0, 2.0, bins=1)
    >>> qz = np.array([[2.0, 1.0, 2.0 / 3.0]])                       # uniform through the bin
    >>> qty, _ = consume(qz, 0.25, True, 1, 0, g.edges[:-1], g.log_step, False, True)
    >>> round(float(qty), 12), qz.round(6).tolist()                   # the low a quarter in: 3/4 goes
    (1.5, [[0.5, 0.0625, 0.010417]])
    """
    P = qz.shape[0]
    i = math.floor(x)
    qty = 0.0
    value = 0.0
    if long:
        a = i + 1 if i >= 0 else 0
        b = hi
        part = 0 <= i < b
    else:
        a = lo
        b = i if i < P else P
        part = lo <= i < P
    for j in range(max(a, 0), min(b, P)):
        q = qz[j, 0]
        if q > 0.0:
            qty += q
            value += q if inverse else q * level_price(qz, j, lower, h)
        qz[j, 0] = 0.0
        qz[j, 1] = 0.0
        qz[j, 2] = 0.0
    if part and qz[i, 0] > 0.0:
        qi = qz[i, 0]
        theta = x - i
        m, w = block(qi, qz[i, 1], qz[i, 2])
        if blocks and w > 0.0:
            u0 = m - 0.5 * w
            u1 = m + 0.5 * w
            # the crossed part [c0, c1] of the block goes; [r0, r1] stays
            c0, c1, r0, r1 = (
                (max(theta, u0), u1, u0, max(theta, u0)) if long else (u0, min(theta, u1), min(theta, u1), u1)
            )
            gone = qi * (c1 - c0) / w
            if gone > 0.0:
                if gone >= qi or r1 <= r0:
                    gone = qi
                qty += gone
                value += gone if inverse else gone * lower[i] * growth(h * 0.5 * (c0 + c1))
                qz[i, 0] = 0.0
                qz[i, 1] = 0.0
                qz[i, 2] = 0.0
                if gone < qi:
                    put_piece(qz, i, qi - gone, r0, r1)
        elif (long and m >= theta) or (not long and m <= theta):
            # the bin's content goes when its mean level is crossed
            qty += qi
            value += qi if inverse else qi * level_price(qz, i, lower, h)
            qz[i, 0] = 0.0
            qz[i, 1] = 0.0
            qz[i, 2] = 0.0
    return qty, value


def shift_levels(qz: Any, edges: Any, h: float, d: float, a: int, b: int, inverse: bool) -> Any:
    """Move the content of bins ``[a, b)`` as points by a funding shift ``d`` (see :func:`to_position`), in place.

    Mass is conserved and a single level lands exactly on its moved price. Returns ``(lost, first, last)``: the
    mass that left the grid, and the first and last bin holding moved mass (``last = -1`` when none).

    Examples
    --------
    >>> import numpy as np
    >>> from heatmap.grid import PriceGrid
    >>> g = PriceGrid.log_spaced(1.0, 4.0, bins=2)
    >>> qz = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])            # one level at 1.0
    >>> shift_levels(qz, g.edges, g.log_step, 1.5, 0, 2, False)  # -> 2.5, in bin [2, 4)
    (0.0, 1, 1)
    >>> round(level_price(qz, 1, g.edges[:-1], g.log_step), 12)
    2.5
    """
    P = qz.shape[0]
    a = max(a, 0)
    b = min(b, P)
    n = 0
    for j in range(a, b):
        if qz[j, 0] > 0.0:
            n += 1
    if n == 0:
        return 0.0, P, -1
    qq = np.empty(n)
    vv = np.empty(n)
    k = 0
    for j in range(a, b):
        q = qz[j, 0]
        if q > 0.0:
            qq[k] = q
            m = qz[j, 1] / q
            vv[k] = to_position(j + m, edges[j] * growth(h * m), h, inverse, d)
            qz[j, 0] = 0.0
            qz[j, 1] = 0.0
            qz[j, 2] = 0.0
            k += 1
    lost = 0.0
    first = P
    last = -1
    for k in range(n):
        v = vv[k]
        c = math.floor(v)
        if 0 <= c < P:
            u = min(max(v - c, 0.0), 1.0)
            qz[c, 0] += qq[k]
            qz[c, 1] += qq[k] * u
            qz[c, 2] += qq[k] * u * u
            first = min(first, c)
            last = max(last, c)
        else:
            lost += qq[k]
    return lost, first, last


def shift_blocks(qz: Any, edges: Any, h: float, d: float, inverse: bool, out: Any) -> float:
    """Funding shift ``d`` (see :func:`to_position`) of each bin's content as a uniform block, in place.

    Each bin's content is the block of :func:`block` (its mean, and the width that matches its spread); the
    block's mean moves to its exact new position, its width by the map's local stretch, and the block is split
    over the bins it lands in with the mass, first and second moment of each part. A point level stays a point
    on its exact position; content uniform through its bins stays uniform; nothing diffuses. Mass is conserved
    (the last part of a block takes its remainder). ``out`` is scratch space of shape ``(P, 3)``. Returns the
    mass that left the grid.

    Examples
    --------
    >>> import numpy as np
    >>> from heatmap.grid import PriceGrid
    >>> g = PriceGrid.log_spaced(1.0, 16.0, bins=4)
    >>> qz = np.array([[0, 0, 0], [2.0, 1.0, 2.0 / 3.0], [0, 0, 0], [0, 0, 0]])   # uniform through [2, 4)
    >>> shift_blocks(qz, g.edges, g.log_step, 1.0, False, np.empty((4, 3)))   # mean 2.83 -> 3.83
    0.0
    >>> qz[:, 0].round(3).tolist()                       # split between bins 1 and 2, mass kept
    [0.0, 1.171, 0.829, 0.0]
    >>> mean = float((qz[:, 0] * (np.arange(4) + qz[:, 1] / np.maximum(qz[:, 0], 1e-300))).sum() / 2.0)
    >>> round(mean, 12) == round(math.log2(2.0 ** 1.5 + 1.0), 12)   # the block's mean on its exact position
    True
    >>> qz = np.array([[0, 0, 0], [1.0, 0.5, 0.25], [0, 0, 0], [0, 0, 0]])      # a point at 2.83
    >>> _ = shift_blocks(qz, g.edges, g.log_step, 1.0, False, np.empty((4, 3)))
    >>> round(level_price(qz, 1, g.edges[:-1], g.log_step), 12), float(qz[1, 2] - qz[1, 1] ** 2 / qz[1, 0])
    (3.828427124746, 0.0)
    """
    P = qz.shape[0]
    out[:, :] = 0.0
    lost = 0.0
    for j in range(P):
        q = qz[j, 0]
        if q <= 0.0:
            continue
        m, w = block(q, qz[j, 1], qz[j, 2])
        price = edges[j] * growth(h * m)
        x = d * price if inverse else d / price
        if x <= -1.0:  # the level leaves (a price <= 0, or an infinite one)
            lost += q
            continue
        c = j + m - log_ratio(x) / h if inverse else j + m + log_ratio(x) / h
        width = w / (1.0 + x)  # the map's derivative in bin units: p / (p + d); inverse 1 / (1 + d p)
        if width <= 1e-12:
            k = math.floor(c)
            if 0 <= k < P:
                u = min(max(c - k, 0.0), 1.0)
                put_piece(out, k, q, u, u)
            else:
                lost += q
            continue
        u0 = c - 0.5 * width
        u1 = c + 0.5 * width
        k0 = math.floor(u0)
        k1 = max(math.floor(u1), k0)
        rest = q
        for k in range(k0, k1 + 1):
            a = max(u0, float(k))
            b = min(u1, k + 1.0)
            part = rest if k == k1 else min(q * (b - a) / width, rest)
            rest -= part
            if 0 <= k < P:
                put_piece(out, k, part, min(max(a - k, 0.0), 1.0), min(max(b - k, 0.0), 1.0))
            else:
                lost += part
    for j in range(P):
        qz[j, 0] = out[j, 0]
        qz[j, 1] = out[j, 1]
        qz[j, 2] = out[j, 2]
    return lost


def close_nearest(
    qz: Any, order: Any, n: int, a: int, b: int, amount: float, from_top: bool, keep: Any
) -> Any:
    """Close ``amount`` (stored units) from the levels nearest to price, over the rows ``order[:n]`` of ``qz``.

    ``qz`` is one side's ``(B, P, 3)`` table; its mass lies in bins ``[a, b)``. Long levels nearest to price are
    the highest (``from_top``), short ones the lowest. The cut is found on the bins' sums over rows and applied
    to every row alike (the bin where the amount runs out keeps its remaining share). ``keep`` is scratch space
    of length ``P``. Returns ``(taken, removed per row)`` with ``removed`` of length ``B``.
    """
    B = qz.shape[0]
    w = max(b - a, 0)
    removed = np.zeros(B)
    total = 0.0
    for t in range(w):  # summed in the order of removal
        j = b - 1 - t if from_top else a + t
        for k in range(n):
            total += qz[order[k], j, 0]
    taken = min(amount, total)
    before = 0.0
    cut = w
    for t in range(w):
        j = b - 1 - t if from_top else a + t
        q = 0.0
        for k in range(n):
            q += qz[order[k], j, 0]
        if before + q >= taken and taken < total:
            keep[j] = min(max((q - (taken - before)) / q, 0.0), 1.0) if q > 0.0 else 0.0
            cut = t
            break
        keep[j] = 0.0
        before += q
    for t in range(cut + 1, w):  # the far side keeps everything
        keep[b - 1 - t if from_top else a + t] = 1.0
    for k in range(n):
        r = order[k]
        for j in range(a, b):
            q = qz[r, j, 0]
            removed[r] += q * (1.0 - keep[j])
            qz[r, j, 0] = q * keep[j]
            qz[r, j, 1] *= keep[j]
            qz[r, j, 2] *= keep[j]
    return taken, removed


def triangular(edges: Any, lx0: float, inv_h: float, low: float, mode: float, high: float, ew: Any) -> Any:
    """Probabilities of the triangular law on ``[low, high]`` with mode ``mode`` (in price) per grid bin.

    Writes the probabilities of bins ``j0 … j0 + n - 1`` into ``ew[:n]`` (CDF differences at the edges, exact)
    and returns ``(j0, n)``; bins beyond the grid are left out.

    Examples
    --------
    >>> import numpy as np
    >>> from heatmap.grid import PriceGrid
    >>> g = PriceGrid.log_spaced(1.0, 16.0, bins=4)
    >>> ew = np.zeros(5)
    >>> j0, n = triangular(g.edges, 0.0, 1 / g.log_step, 1.0, 1.0, 4.0, ew)
    >>> j0, ew[:n].round(6).tolist()
    (0, [0.555556, 0.444444])
    """
    P = edges.size - 1
    span = high - low
    j0 = math.floor((math.log(low) - lx0) * inv_h)
    j1 = max(j0, math.ceil((math.log(high) - lx0) * inv_h) - 1)
    left = span * (mode - low)
    right = span * (high - mode)
    inside = j0 >= 0 and j1 < P and edges[j0] <= low and high <= edges[j1 + 1]
    if not inside:  # clip to the grid (and correct float edge cases of the logs)
        j0 = max(0, j0)
        j1 = min(P - 1, max(j0, j1))
        if j1 < j0:
            return j0, 0
    prev = 0.0
    for k in range(1 if inside else 0, j1 - j0 + 2):
        x = min(max(edges[j0 + k], low), high)
        if k == j1 - j0 + 1 and inside:
            cdf = 1.0
        elif x <= mode:
            cdf = (x - low) ** 2 / left if left > 0 else 0.0
        else:
            cdf = 1.0 - (high - x) ** 2 / right if right > 0 else 1.0
        if k > 0:
            ew[k - 1] = cdf - prev
        prev = cdf
    return j0, j1 - j0 + 1
