"""Per-bar steps of the grid engine on one row of one side (kernels: plain Python in the subset numba compiles).

Per side and row the grid engine keeps an array ``qz`` of shape ``(P, 3)``: per bin the mass ``q`` [base] (face
value [quote] for inverse contracts), its first moment ``z`` = mass × mean position inside the bin and its
second moment ``s`` = mass × mean squared position (positions in bin units from the bin's lower edge, so
``0 <= z <= q`` and ``z²/q <= s <= z``). A bin's level is its mean position ``i + z/q``: exact for any number of
positions at one level (discrete leverage tiers entered at one price) and within a bin otherwise. With the
spread ``s/q - (z/q)²`` a bin's content has a :func:`profile` (a linear density with its mean and variance),
which funding moves (:func:`shift_blocks`) and a bar's extreme cuts (:func:`consume`): a point stays a point,
content spread through its bins keeps its density at the bin edges, so levels do not diffuse over settlements.
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
    "close_nearest",
    "consume",
    "growth",
    "land",
    "level_price",
    "log_ratio",
    "part",
    "profile",
    "put_moments",
    "put_part",
    "shift_blocks",
    "shape",
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


def profile(q: float, z: float, s: float) -> Any:
    """The linear density standing for a bin's content of mass ``q``, moments ``z``, ``s``: ``(u0, u1, b)``.

    The content is taken as spread over ``[u0, u1]`` inside the bin [bin units] with density proportional to
    ``1 + b (t - 1/2)``, ``t = (u - u0) / (u1 - u0)``, ``|b| <= 2``; its mean is always the content's mean. A
    point gives ``u0 = u1``. Content whose uniform block of the same mean and variance (width
    ``sqrt(12 × variance)``) fits inside the bin is that block (``b = 0``): one level or a narrow cluster stays
    narrow. Content that reaches an edge is a linear density anchored at that edge whose mean and variance are
    the content's (when that needs more than the bin: the whole bin, with the slope of the content's mean), so
    content sloping through its bins keeps the density it has at the edges, which is what a funding shift moves
    across them.

    Examples
    --------
    >>> [round(v, 12) for v in profile(2.0, 1.0, 2.0 / 3.0)], profile(1.0, 0.25, 0.0625)   # uniform; a point
    ([0.0, 1.0, 0.0], (0.25, 0.25, 0.0))
    >>> [round(v, 12) for v in profile(1.0, 7 / 12, 5 / 12)]        # density 1/2 + u: its mean 7/12
    [0.0, 1.0, 1.0]
    """
    m = min(max(z / q, 0.0), 1.0)
    return shape(m, s / q - m * m)


def shape(m: float, var: float) -> Any:
    """:func:`profile` of content with mean position ``m`` (in ``[0, 1]``) and variance ``var`` [bin units].

    Examples
    --------
    >>> shape(0.5, 1.0 / 12.0), shape(0.25, 0.0)
    ((0.0, 1.0, 0.0), (0.25, 0.25, 0.0))
    """
    if var <= 0.0:
        return m, m, 0.0
    # does the uniform block of width sqrt(12 var) reach past an edge? (half-width squared: 3 var)
    top = 3.0 * var > (1.0 - m) * (1.0 - m)
    bottom = 3.0 * var > m * m
    if not top and not bottom:
        w = math.sqrt(12.0 * var)
        return m - 0.5 * w, m + 0.5 * w, 0.0
    if top and bottom:
        b = 12.0 * (m - 0.5)
        if -2.0 <= b <= 2.0:
            return 0.0, 1.0, b
        top = m > 0.5  # too lopsided for the whole bin: anchored at the nearer edge
    # distance r from the anchoring edge to the mean; c > 0: denser towards that edge. Mean and variance of the
    # density 1 + c (1/2 - t) on a length L from the edge: r = L (6 - c) / 12, var = L² (12 - c²) / 144.
    r = 1.0 - m if top else m
    phi = var / (r * r) if r > 0.0 else 1.0
    c = (12.0 * phi - math.sqrt(48.0 * (1.0 - 2.0 * phi))) / (2.0 * (1.0 + phi)) if phi < 0.5 else 2.0
    c = min(max(c, -2.0), 2.0)
    length = 12.0 * r / (6.0 - c)
    if length > 1.0:  # the whole bin, with the slope that keeps the mean
        length = 1.0
        c = min(max(6.0 - 12.0 * r, -2.0), 2.0)
    if top:
        return 1.0 - length, 1.0, c
    return 0.0, length, -c


def part(u0: float, u1: float, b: float, x0: float, x1: float) -> Any:
    """Share of a :func:`profile` ``(u0, u1, b)`` (``u1 > u0``) lying in ``[x0, x1]``, with its first and second
    raw moments there: ``(f, f1, f2)``, ``f1 / f`` the part's mean position and ``f2 / f`` its mean square (all in
    the coordinates of ``u0``, ``u1``).

    Examples
    --------
    >>> [round(v, 12) for v in part(0.0, 1.0, 0.0, 0.5, 2.0)]      # the upper half of a uniform bin
    [0.5, 0.375, 0.291666666667]
    >>> [round(v, 12) for v in part(0.0, 1.0, 2.0, 0.5, 1.0)]      # density 2u: 3/4 of it above 1/2
    [0.75, 0.583333333333, 0.46875]
    """
    length = u1 - u0
    inv = 1.0 / length
    t0 = min(max((x0 - u0) * inv, 0.0), 1.0)
    t1 = min(max((x1 - u0) * inv, 0.0), 1.0)
    if t1 <= t0:
        return 0.0, 0.0, 0.0
    alpha = 1.0 - 0.5 * b  # density alpha + b t over t in [0, 1]
    d1 = t1 - t0
    d2 = t1 * t1 - t0 * t0
    d3 = t1 * t1 * t1 - t0 * t0 * t0
    d4 = t1 * t1 * t1 * t1 - t0 * t0 * t0 * t0
    m0 = alpha * d1 + b * d2 / 2.0
    m1 = alpha * d2 / 2.0 + b * d3 / 3.0
    m2 = alpha * d3 / 3.0 + b * d4 / 4.0
    if m0 <= 0.0:
        return 0.0, 0.0, 0.0
    return m0, u0 * m0 + length * m1, u0 * u0 * m0 + 2.0 * u0 * length * m1 + length * length * m2


def put_moments(qz: Any, k: int, mass: float, z: float, s: float) -> None:
    """Add ``mass`` with first moment ``z`` and second moment ``s`` (bin ``k``'s units) to bin ``k`` of ``qz``,
    the moments held to ``0 <= s <= z <= mass`` against rounding.

    Examples
    --------
    >>> import numpy as np
    >>> qz = np.zeros((1, 3))
    >>> put_moments(qz, 0, 2.0, 1.0, 2.0 / 3.0); qz.round(6).tolist()
    [[2.0, 1.0, 0.666667]]
    """
    z = min(max(z, 0.0), mass)
    qz[k, 0] += mass
    qz[k, 1] += z
    qz[k, 2] += min(max(s, 0.0), z)


def land(qz: Any, k: int, mass: float, z: float, s: float, lost: float, first: int, last: int) -> Any:
    """Put ``mass`` with moments ``z``, ``s`` into bin ``k`` when it is on the grid (:func:`put_moments`), else
    count it as lost; returns ``(lost, first, last)`` updated (the lost mass, the first and last bin written).

    Examples
    --------
    >>> import numpy as np
    >>> qz = np.zeros((2, 3))
    >>> land(qz, 1, 2.0, 1.0, 0.5, 0.0, 2, -1), land(qz, 2, 3.0, 0.0, 0.0, 0.0, 1, 1)
    ((0.0, 1, 1), (3.0, 1, 1))
    """
    if 0 <= k < qz.shape[0]:
        put_moments(qz, k, mass, z, s)
        return lost, min(first, k), max(last, k)
    return lost + mass, first, last


def put_part(qz: Any, k: int, mass: float, f: float, f1: float, f2: float) -> None:
    """Add ``mass`` with the mean position ``f1 / f`` and mean square ``f2 / f`` (a :func:`part` in bin ``k``'s
    coordinates, kept inside the bin) to bin ``k`` of ``qz``.

    Examples
    --------
    >>> import numpy as np
    >>> qz = np.zeros((1, 3))
    >>> put_part(qz, 0, 2.0, 0.5, 0.375, 0.291666666667); qz.round(6).tolist()
    [[2.0, 1.5, 1.166667]]
    """
    m = min(max(f1 / f, 0.0), 1.0)
    m2 = min(max(f2 / f, m * m), m)
    qz[k, 0] += mass
    qz[k, 1] += mass * m
    qz[k, 2] += mass * m2


def consume(
    qz: Any, x: float, long: bool, hi: int, lo: int, lower: Any, h: float, inverse: bool, blocks: bool
) -> Any:
    """Liquidate the levels a bar crossed, in place; returns ``(qty, value)`` removed.

    Longs: levels at or above the bar low at position ``x`` (mass only in bins ``[0, hi)``); shorts: at or below
    the bar high at ``x`` (mass only in ``[lo, P)``). Bins beyond the one holding ``x`` are emptied. In that bin,
    with ``blocks`` (continuous leverage laws) the part of the content's :func:`profile` beyond ``x`` goes and
    the rest stays with its own moments; without, the content goes whole when its mean position is crossed (a
    point level). ``value`` is ``qty × level`` [quote] (inverse contracts: the face value itself).

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
        cut = 0 <= i < b
    else:
        a = lo
        b = i if i < P else P
        cut = lo <= i < P
    for j in range(max(a, 0), min(b, P)):
        q = qz[j, 0]
        if q > 0.0:
            qty += q
            value += q if inverse else q * level_price(qz, j, lower, h)
        qz[j, 0] = 0.0
        qz[j, 1] = 0.0
        qz[j, 2] = 0.0
    if cut and qz[i, 0] > 0.0:
        qi = qz[i, 0]
        theta = x - i
        u0, u1, sl = profile(qi, qz[i, 1], qz[i, 2])
        if blocks and u1 > u0:
            # the crossed part of the content's profile goes, the rest stays with its own moments
            g, g1, _ = part(u0, u1, sl, theta, 2.0) if long else part(u0, u1, sl, -1.0, theta)
            gone = qi * g
            if gone > 0.0:
                r, r1, r2 = part(u0, u1, sl, -1.0, theta) if long else part(u0, u1, sl, theta, 2.0)
                if gone >= qi or r <= 0.0:
                    gone = qi
                qty += gone
                value += gone if inverse else gone * lower[i] * growth(h * g1 / g)
                qz[i, 0] = 0.0
                qz[i, 1] = 0.0
                qz[i, 2] = 0.0
                if gone < qi:
                    put_part(qz, i, qi - gone, r, r1, r2)
        elif (long and qz[i, 1] >= theta * qi) or (not long and qz[i, 1] <= theta * qi):
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


def shift_blocks(qz: Any, edges: Any, h: float, d: float, a: int, b: int, inverse: bool) -> Any:
    """Funding shift ``d`` (see :func:`to_position`) of each bin's content by its :func:`profile`, in place.

    Each bin's content is its profile (a linear density with the content's mean and spread); the profile's mean
    moves to its exact new position, its extent by the map's local stretch, and it is split over the bins it
    lands in with the mass, first and second moment of each part. A point level stays a point on its exact
    position; content spread through its bins keeps its density at the bin edges, so nothing diffuses. Mass is
    conserved (the last part takes the remainder). Only bins ``[a, b)`` are read (the side's mass lies there);
    they are visited against the direction of the move, so every bin is read before anything lands in it.
    Returns ``(lost, first, last)``: the mass that left the grid, and the first and last bin holding moved
    mass (``last = -1`` when none).

    Examples
    --------
    >>> import numpy as np
    >>> from heatmap.grid import PriceGrid
    >>> g = PriceGrid.log_spaced(1.0, 16.0, bins=4)
    >>> qz = np.array([[0, 0, 0], [2.0, 1.0, 2.0 / 3.0], [0, 0, 0], [0, 0, 0]])   # uniform through [2, 4)
    >>> shift_blocks(qz, g.edges, g.log_step, 1.0, 0, 4, False)   # mean 2.83 -> 3.83
    (0.0, 1, 2)
    >>> qz[:, 0].round(3).tolist()                       # split between bins 1 and 2, mass kept
    [0.0, 1.171, 0.829, 0.0]
    >>> mean = float((qz[:, 0] * (np.arange(4) + qz[:, 1] / np.maximum(qz[:, 0], 1e-300))).sum() / 2.0)
    >>> round(mean, 12) == round(math.log2(2.0 ** 1.5 + 1.0), 12)   # the mean on its exact position
    True
    >>> qz = np.array([[0, 0, 0], [1.0, 0.5, 0.25], [0, 0, 0], [0, 0, 0]])      # a point at 2.83
    >>> _ = shift_blocks(qz, g.edges, g.log_step, 1.0, 0, 4, False)
    >>> round(level_price(qz, 1, g.edges[:-1], g.log_step), 12), float(qz[1, 2] - qz[1, 1] ** 2 / qz[1, 0])
    (3.828427124746, 0.0)
    """
    P = qz.shape[0]
    lost = 0.0
    first = P
    last = -1
    ja = max(a, 0)
    jb = min(b, P)
    up = (d < 0.0) if inverse else (d > 0.0)  # levels move up: visit the bins from the top
    inv_h = 1.0 / h
    for t in range(jb - ja):
        j = jb - 1 - t if up else ja + t
        q = qz[j, 0]
        if q <= 0.0:
            continue
        m = min(max(qz[j, 1] / q, 0.0), 1.0)
        u0, u1, sl = shape(m, qz[j, 2] / q - m * m)
        qz[j, 0] = 0.0
        qz[j, 1] = 0.0
        qz[j, 2] = 0.0
        price = edges[j] * growth(h * m)
        x = d * price if inverse else d / price
        if x <= -1.0:  # the level leaves (a price <= 0, or an infinite one)
            lost += q
            continue
        c = j + m - log_ratio(x) * inv_h if inverse else j + m + log_ratio(x) * inv_h
        c = max(c, float(j)) if up else min(c, j + 1.0)  # rounding never moves content against the shift
        stretch = 1.0 / (1.0 + x)  # the map's derivative in bin units: p / (p + d); inverse 1 / (1 + d p)
        if (u1 - u0) * stretch <= 1e-12:
            k = min(math.floor(c), j) if not up else math.floor(c)
            u = min(max(c - k, 0.0), 1.0)
            lost, first, last = land(qz, k, q, q * u, q * u * u, lost, first, last)
            continue
        # the profile moves with its mean on the exact new position, stretched by the map
        v0 = c - (m - u0) * stretch
        v1 = c + (u1 - m) * stretch
        if up:
            v0 = max(v0, float(j))
        else:
            v1 = min(v1, j + 1.0)
        k0 = math.floor(v0)
        k1 = max(math.floor(v1), k0)
        if not up:
            k1 = min(k1, j)
            k0 = min(k0, k1)
        span = v1 - v0
        mu = v0 - k0 + span * (0.5 + sl / 12.0)  # the moved profile's mean and mean square in bin k0's units
        mu2 = mu * mu + span * span * (12.0 - sl * sl) / 144.0
        if k1 == k0:  # it lands inside one bin
            lost, first, last = land(qz, k0, q, q * mu, q * mu2, lost, first, last)
            continue
        if k1 == k0 + 1:  # across one edge: the lower part, and the rest as the upper part
            f, f1, f2 = part(v0 - k0, v1 - k0, sl, 0.0, 1.0)
            low = min(q * f, q)
            high = q - low
            z_up = q * (mu - f1)  # the upper part's moments in bin k0's units, then in bin k1's
            s_up = q * (mu2 - f2)
            if low > 0.0:
                lost, first, last = land(qz, k0, low, q * f1, q * f2, lost, first, last)
            if high > 0.0:
                lost, first, last = land(
                    qz, k1, high, z_up - high, s_up - 2.0 * z_up + high, lost, first, last
                )
            continue
        rest = q
        for k in range(k0, k1 + 1):
            f, f1, f2 = part(v0 - k, v1 - k, sl, 0.0, 1.0)
            share = rest if k == k1 else min(q * f, rest)
            rest -= share
            if share <= 0.0:
                continue
            if f > 0.0:
                lost, first, last = land(qz, k, share, share * f1 / f, share * f2 / f, lost, first, last)
            else:  # a rounding remainder beyond the profile's end
                u = min(max(v1 - k, 0.0), 1.0)
                lost, first, last = land(qz, k, share, share * u, share * u * u, lost, first, last)
    return lost, first, last


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
