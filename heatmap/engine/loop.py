"""The grid engine's per-bar loop, written once (plain Python in the subset numba compiles).

:func:`run_bars` advances the engine state over a chunk of bars: funding shift, consumption, reconciliation
with open interest (closes by the exit policy, openings with the kernels), turnover, decay, ledger row and
snapshot. Its state is one table ``qz`` ``(2, B, P, 3)`` per side × row × bin × (mass, first and second moment) (see
:mod:`heatmap.engine.steps`): a single row (``B = 1``) for the ``"proportional"`` and ``"nearest"`` exits, one
row per age block (each bar's openings in a fresh row, the two oldest merged when all are used) for the
``"oldest"`` and ``"profitable"`` exits. The single row is the ``B = 1`` case of the same loop.

The arrays are passed in five documented structures (:class:`State`, :class:`Params`, :class:`Kernels`,
:class:`BarInputs`, :class:`Out`). :func:`run` calls the compiled loop (numba) or, with ``HEATMAP_JIT=0`` or
without numba, the same functions as plain Python (:mod:`heatmap.engine._jit`).

The state lives on a *store* grid: the price grid plus margins on both sides (see
:class:`heatmap.engine.grid_engine.GridEngine`). Levels in the margins keep their position, so when the price
grid grows over them they are where a run on the larger grid would have put them; snapshots read the window of
the price grid.

Examples
--------
>>> from heatmap.engine import loop
>>> loop.backend() in ("numba", "python")
True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from heatmap.engine import _jit
from heatmap.engine.steps import (
    close_nearest,
    consume,
    growth,
    land,
    level_price,
    log_ratio,
    part,
    profile,
    put_moments,
    put_part,
    shape,
    shift_blocks,
    shift_levels,
    to_position,
    triangular,
)

__all__ = ["BarInputs", "Kernels", "Out", "Params", "State", "backend", "read_side", "run", "run_bars"]

#: ``Params.exit_code`` of each exit policy.
EXIT_CODES = {"proportional": 0, "nearest": 1, "oldest": 2, "profitable": 3}
#: ``Params.entry_code``: 0 a point entry at ``BarInputs.entry``, 1 triangular over the bar's range.
ENTRY_CODES = {"close": 0, "typical": 0, "triangular": 1}


class State(NamedTuple):
    """The engine state (arrays updated in place by :func:`run_bars`).

    Attributes
    ----------
    qz : ndarray, shape (2, B, P, 3)
        Per side (long, short), row and store bin: mass, first and second moment (see
        :mod:`heatmap.engine.steps`), divided by the side's ``scale``.
    scale : ndarray, shape (2,)
        Per side, the factor of the stored table (proportional closes and decay only change it).
    off : ndarray, shape (2, B)
        Mass held without a level on the store grid (long leverage <= 1, levels beyond the margins) [base]
        (inverse contracts: face value [quote]).
    tot : ndarray, shape (2, B)
        Mass held (``qz`` mass × scale + ``off``).
    ints : ndarray of int64, shape (4,)
        ``hi`` (long mass only in bins ``[0, hi)``), ``lo`` (short mass only in ``[lo, P)``), the number of live
        rows, bars processed.
    order : ndarray of int64, shape (B + 1,)
        Live rows from oldest to newest (``order[:ints[2]]``; ``[0]`` for a single row).
    block_bar, block_entry : ndarray, shape (B,)
        Opening bar and mean entry price [quote] of each row (age blocks).
    """

    qz: NDArray[np.float64]
    scale: NDArray[np.float64]
    off: NDArray[np.float64]
    tot: NDArray[np.float64]
    ints: NDArray[np.int64]
    order: NDArray[np.int64]
    block_bar: NDArray[np.int64]
    block_entry: NDArray[np.float64]


class Params(NamedTuple):
    """The resolved configuration on the store grid.

    Attributes
    ----------
    edges : ndarray, shape (P + 1,)
        Store-grid edges [quote].
    h, lx0 : float
        Log step and ``log(edges[0])``.
    w0, wn : int
        The price grid's first bin in the store grid and the store bins it spans (the snapshot window).
    res : int
        Store bins per price-grid bin (a snapshot bin sums ``res`` store bins).
    subbins : int
        Sub-bin entry positions of the kernels.
    mmr : float
        Maintenance-margin rate of the funding shift [fraction].
    decay : float
        Share kept per bar.
    entry_code, exit_code : int
        :data:`ENTRY_CODES`, :data:`EXIT_CODES`.
    point_levels : bool
        Discrete leverage laws: funding moves bin contents as points and a crossed bin goes when its mean level is
        crossed (else bin contents are blocks of their own width, moved and consumed as such).
    same : bool
        Speculative and passive kernels are the same.
    inverse : bool
        Inverse contract (mass is face value; funding moves ``1/p``).
    """

    edges: NDArray[np.float64]
    h: float
    lx0: float
    w0: int
    wn: int
    res: int
    subbins: int
    mmr: float
    decay: float
    entry_code: int
    exit_code: int
    point_levels: bool
    same: bool
    inverse: bool


class Kernels(NamedTuple):
    """The four liquidation-price kernels (side × speculative/passive), padded to a common width ``n``.

    Attributes
    ----------
    kz : ndarray, shape (2, 2, S, n, 3)
        Interleaved weights, first and second moments per entry sub-bin (:class:`heatmap.engine.kernels.Kernel`).
    cum : ndarray, shape (2, 2, S, n + 1)
        Prefix sums of the weights (what lands in a range of bins, O(1)).
    kzu : ndarray, shape (2, 2, n, 3); cumu : ndarray, shape (2, 2, n + 1)
        The same for entries uniform inside the entry bin.
    klen, koff : ndarray of int64, shape (2, 2)
        Width and bin offset of each kernel.
    atoms, aw : ndarray, shape (2, 2, m)
        Discrete laws: exact level offsets [bins] and their weights.
    alen : ndarray of int64, shape (2, 2)
        Number of atoms, -1 for a continuous law.
    """

    kz: NDArray[np.float64]
    cum: NDArray[np.float64]
    kzu: NDArray[np.float64]
    cumu: NDArray[np.float64]
    klen: NDArray[np.int64]
    koff: NDArray[np.int64]
    atoms: NDArray[np.float64]
    aw: NDArray[np.float64]
    alen: NDArray[np.int64]


class BarInputs(NamedTuple):
    """Per-bar inputs of a chunk (:class:`heatmap.engine.base.Bars` in the engine's mass unit), float64."""

    funding: NDArray[np.float64]
    funding_price: NDArray[np.float64]
    cons_low: NDArray[np.float64]
    cons_high: NDArray[np.float64]
    oi: NDArray[np.float64]
    long_share: NDArray[np.float64]
    turnover: NDArray[np.float64]
    entry: NDArray[np.float64]
    low: NDArray[np.float64]
    high: NDArray[np.float64]
    close: NDArray[np.float64]


class Out(NamedTuple):
    """Output buffers (:class:`heatmap.engine.base.Outputs`): snapshot row per bar (-1: none), the ledger
    ``(n, 12)``, predicted liquidations ``(n, 2)`` [quote] and snapshots ``(k, wn)`` [quote]."""

    rows: NDArray[np.int64]
    ledger: NDArray[np.float64]
    liquidations: NDArray[np.float64]
    snap_long: NDArray[Any]
    snap_short: NDArray[Any]


# -- pieces of the loop ------------------------------------------------------------------------------------------


def rescale(qz: Any, scale: Any, si: int, factor: float) -> None:
    """Multiply side ``si`` by ``factor`` lazily (folding the scale into the table before it underflows)."""
    sc = scale[si] * factor
    if sc < 1e-200:
        qz[si] *= sc
        sc = 1.0
    scale[si] = sc


def flows(target: float, held_l: float, held_s: float, tv: float) -> Any:
    """Closes and openings per side that reconcile the book with open interest, plus turnover ``tv``.

    Returns ``(close long, close short, open long, open short)``.
    """
    net_l = target - held_l
    net_s = target - held_s
    cl_l = -net_l if net_l < 0 else 0.0
    cl_s = -net_s if net_s < 0 else 0.0
    op_l = net_l if net_l > 0 else 0.0
    op_s = net_s if net_s > 0 else 0.0
    if tv > 0.0:
        tl = min(tv, held_l - cl_l)
        ts = min(tv, held_s - cl_s)
        cl_l += tl
        op_l += tl
        cl_s += ts
        op_s += ts
    return cl_l, cl_s, op_l, op_s


def book(
    si: int, amt: float, placed: float, first: int, end: int, off: Any, tot: Any, hi: int, lo: int
) -> Any:
    """Account an opening of ``amt`` of which ``placed`` landed in bins ``[first, end)``: the rest is held
    without a level; returns the side bounds ``(hi, lo)`` widened to the new mass."""
    if end > first:
        if si == 0:
            hi = max(hi, end)
        else:
            lo = min(lo, first)
    if amt > placed:
        off[si] += amt - placed
    tot[si] += amt
    return hi, lo


def place(qz: Any, start: int, tab: Any, cumw: Any, n: int, amount: float, scale_si: float) -> Any:
    """Add ``amount * tab[:n]`` (mass, moments) at bins ``start …`` of one row; returns ``(placed, first, end)``
    of what landed on the grid."""
    P = qz.shape[0]
    t0 = -start if start < 0 else 0
    t1 = P - start if start + n > P else n
    if t1 <= t0:
        return 0.0, 0, -1
    f = amount / scale_si
    for t in range(t0, t1):
        qz[start + t, 0] += tab[t, 0] * f
        qz[start + t, 1] += tab[t, 1] * f
        qz[start + t, 2] += tab[t, 2] * f
    return amount * (cumw[t1] - cumw[t0]), start + t0, start + t1


def spread(
    qz: Any,
    si: int,
    j0: int,
    ew: Any,
    ne: int,
    amount: float,
    shares: Any,
    nparts: int,
    kn: Kernels,
    sc: float,
    v: Any,
) -> Any:
    """Entries spread over bins ``j0 … j0+ne-1`` (masses ``ew``, uniform inside each bin): the side's
    continuous kernels mixed once, then convolved (discrete laws: :func:`spread_atoms`).

    Returns (amount opened, amount placed on the grid, first bin, end bin).
    """
    P = qz.shape[0]
    klen, koff, kzu = kn.klen, kn.koff, kn.kzu
    lo_o = koff[si, 0]
    hi_o = koff[si, 0] + klen[si, 0]
    for ki in range(1, nparts):
        lo_o = min(lo_o, koff[si, ki])
        hi_o = max(hi_o, koff[si, ki] + klen[si, ki])
    m = hi_o - lo_o
    v[0, :m] = 0.0
    v[1, :m] = 0.0
    v[2, :m] = 0.0
    share = 0.0  # of the continuous parts (discrete parts: spread_atoms)
    for ki in range(nparts):
        if kn.alen[si, ki] >= 0:
            continue
        c = (amount if nparts == 1 else amount * shares[ki]) / sc
        share += 1.0 if nparts == 1 else shares[ki]
        if c <= 0.0:
            continue
        a = koff[si, ki] - lo_o
        for t in range(klen[si, ki]):
            v[0, a + t] += c * kzu[si, ki, t, 0]
            v[1, a + t] += c * kzu[si, ki, t, 1]
            v[2, a + t] += c * kzu[si, ki, t, 2]
    amt = 0.0
    for i in range(ne):
        if ew[i] > 0.0:
            amt += amount * share * ew[i]
        else:
            ew[i] = 0.0
    start = j0 + lo_o
    n_out = m + ne - 1
    t0 = -start if start < 0 else 0
    t1 = P - start if start + n_out > P else n_out
    if t1 <= t0:
        return amt, 0.0, 0, -1
    # the convolution, entry bin by entry bin, straight into the grid's bins [t0, t1) (long inner loops; whole-bin
    # moves keep the in-bin moments)
    placed = 0.0
    for i in range(ne):
        e = ew[i]
        if e > 0.0:
            ta = max(t0 - i, 0)
            tb = min(t1 - i, m)
            base = start + i
            for t in range(ta, tb):
                qz[base + t, 0] += e * v[0, t]
                qz[base + t, 1] += e * v[1, t]
                qz[base + t, 2] += e * v[2, t]
                placed += e * v[0, t]
    return amt, placed * sc, start + t0, start + t1


def entry_cdf(u: float, lx0: float, h: float, low: float, mode: float, high: float) -> float:
    """CDF of the triangular entry law on ``[low, high]`` with mode ``mode`` [quote] at bin position ``u``."""
    p = math.exp(lx0 + h * u)
    if p <= low:
        return 0.0
    if p >= high:
        return 1.0
    if p <= mode:
        return (p - low) ** 2 / ((high - low) * (mode - low))
    return 1.0 - (high - p) ** 2 / ((high - low) * (high - mode))


def spread_atoms(
    qz: Any,
    si: int,
    ki: int,
    low: float,
    mode: float,
    high: float,
    amount: float,
    pr: Params,
    kn: Kernels,
    sc: float,
) -> Any:
    """Entries triangular over ``[low, high]`` (mode ``mode``) with a discrete leverage law: exact bin masses.

    Each atom's levels are the entries shifted by its offset ``y`` [bins] (``log(LP/E)`` is fixed per atom), so
    their CDF is the entry CDF ``F(u - y)``: bin ``k`` gets ``F(k+1-y) - F(k-y)``, the first moment
    ``G(k+1) - ∫_k^{k+1} G`` and the second ``G(k+1) - 2 ∫_k^{k+1} (u - k) G`` (Simpson's rule between the law's
    kinks, where ``G`` is smooth; ``G`` here is ``F`` less its value at ``k``). Returns
    ``(placed, first, end)`` like :func:`place`.
    """
    P = qz.shape[0]
    lx0, h = pr.lx0, pr.h
    ul = (math.log(low) - lx0) / h
    um = (math.log(mode) - lx0) / h
    uh = (math.log(high) - lx0) / h
    placed = 0.0
    first = P
    end = -1
    for m in range(kn.alen[si, ki]):
        y = kn.atoms[si, ki, m]
        a = amount * kn.aw[si, ki, m]
        if a <= 0.0:
            continue
        k0 = max(math.floor(ul + y), 0)
        k1 = min(math.floor(uh + y), P - 1)
        g0 = entry_cdf(k0 - y, lx0, h, low, mode, high)
        for k in range(k0, k1 + 1):
            g1 = entry_cdf(k + 1 - y, lx0, h, low, mode, high)
            q = g1 - g0
            if q > 0.0:
                # integral of G over the bin, piecewise between the kinks at ul + y, um + y, uh + y
                integral = 0.0
                integral1 = 0.0
                x0 = float(k)
                for knot in (ul + y, um + y, uh + y, k + 1.0):
                    x1 = min(max(knot, float(k)), k + 1.0)
                    if x1 > x0:
                        xm = 0.5 * (x0 + x1)
                        gm = entry_cdf(xm - y, lx0, h, low, mode, high) - g0
                        ga = entry_cdf(x0 - y, lx0, h, low, mode, high) - g0
                        gb = entry_cdf(x1 - y, lx0, h, low, mode, high) - g0
                        integral += (x1 - x0) * (ga + 4.0 * gm + gb) / 6.0
                        integral1 += (x1 - x0) * ((x0 - k) * ga + 4.0 * (xm - k) * gm + (x1 - k) * gb) / 6.0
                        x0 = x1
                z = min(max(q - integral, 0.0), q)
                z2 = min(max(q - 2.0 * integral1, z * z / q), z)
                qz[k, 0] += a * q / sc
                qz[k, 1] += a * z / sc
                qz[k, 2] += a * z2 / sc
                placed += a * q
                first = min(first, k)
                end = max(end, k + 1)
            g0 = g1
    return placed, first, end


def open_side(
    qz: Any,
    off: Any,
    tot: Any,
    si: int,
    amount: float,
    ws: float,
    spread_entry: bool,
    j0: int,
    ew: Any,
    ne: int,
    xe: float,
    low: float,
    mode: float,
    high: float,
    pr: Params,
    kn: Kernels,
    sc: float,
    vbuf: Any,
    shares: Any,
    hi: int,
    lo: int,
) -> Any:
    """Open ``amount`` on side ``si`` (speculative share ``ws``) into one row ``qz`` ``(P, 2)`` (with its
    ``off``/``tot`` of shape ``(2,)``); returns the new ``(hi, lo)``."""
    P = qz.shape[0]
    nparts = 1 if pr.same else 2
    shares[0] = 1.0 if pr.same else ws
    shares[1] = 1.0 - ws
    if spread_entry:
        if kn.alen[si, 0] < 0 or (nparts == 2 and kn.alen[si, 1] < 0):  # continuous parts
            amt, placed, first, end = spread(qz, si, j0, ew, ne, amount, shares, nparts, kn, sc, vbuf)
            hi, lo = book(si, amt, placed, first, end, off, tot, hi, lo)
        for ki in range(nparts):  # discrete parts
            part = amount if pr.same else amount * shares[ki]
            if kn.alen[si, ki] >= 0 and part > 0.0:
                placed, first, end = spread_atoms(qz, si, ki, low, mode, high, part, pr, kn, sc)
                hi, lo = book(si, part, placed, first, end, off, tot, hi, lo)
        return hi, lo
    S = pr.subbins
    for ki in range(nparts):
        part = amount if pr.same else amount * shares[ki]
        if part <= 0.0:
            continue
        placed = 0.0
        first = P
        end = -1
        if kn.alen[si, ki] >= 0:  # discrete law: exact point levels
            for m in range(kn.alen[si, ki]):
                pos = xe + kn.atoms[si, ki, m]
                c = math.floor(pos)
                if 0 <= c < P:
                    qa = part * kn.aw[si, ki, m]
                    qs = qa / sc
                    qz[c, 0] += qs
                    qz[c, 1] += qs * (pos - c)
                    qz[c, 2] += qs * (pos - c) ** 2
                    placed += qa
                    first = min(first, c)
                    end = max(end, c + 1)
        else:
            j = math.floor(xe)
            s = int(np.rint((xe - j) * S))
            if s == S:
                j += 1
                s = 0
            pl, a0, a1 = place(
                qz, j + kn.koff[si, ki], kn.kz[si, ki, s], kn.cum[si, ki, s], kn.klen[si, ki], part, sc
            )
            if a1 > a0:
                placed = pl
                first = a0
                end = a1
        hi, lo = book(si, part, placed, first, end, off, tot, hi, lo)
    return hi, lo


def mix_buffer(klen: Any, koff: Any, P: int) -> Any:
    """Scratch space of :func:`spread`: one side's mixed kernels (mass and two moments; the widest offset range
    of a side's two kernels)."""
    span = 0
    for si in range(2):
        lo = min(koff[si, 0], koff[si, 1])
        span = max(span, max(koff[si, 0] + klen[si, 0], koff[si, 1] + klen[si, 1]) - lo)
    return np.zeros((3, span + 1))


def new_block(st: State, n: int, bar: int, entry: float) -> Any:
    """A fresh row for this bar's openings (dropping empty rows, merging the two oldest when all are used).

    Returns ``(row, new number of live rows)``.
    """
    qz, off, tot, order = st.qz, st.off, st.tot, st.order
    B = qz.shape[1]
    m = 0
    for k in range(n):
        r = order[k]
        if tot[0, r] > 0.0 or tot[1, r] > 0.0:
            order[m] = r
            m += 1
        else:
            qz[:, r] = 0.0
            off[:, r] = 0.0
            tot[:, r] = 0.0
    n = m
    if n >= B:
        r0 = order[0]
        r1 = order[1]
        w0 = tot[0, r0] + tot[1, r0]
        w1 = tot[0, r1] + tot[1, r1]
        if w0 + w1 > 0:
            st.block_entry[r1] = (w0 * st.block_entry[r0] + w1 * st.block_entry[r1]) / (w0 + w1)
        for si in range(2):
            qz[si, r1] += qz[si, r0]
            off[si, r1] += off[si, r0]
            tot[si, r1] += tot[si, r0]
        qz[:, r0] = 0.0
        off[:, r0] = 0.0
        tot[:, r0] = 0.0
        for k in range(n - 1):
            order[k] = order[k + 1]
        n -= 1
    used = np.zeros(B, np.bool_)
    for k in range(n):
        used[order[k]] = True
    r = 0
    while used[r]:
        r += 1
    order[n] = r
    st.block_bar[r] = bar
    st.block_entry[r] = entry
    return r, n + 1


def close_side(
    st: State,
    si: int,
    amount: float,
    held: float,
    exit_code: int,
    price: float,
    n: int,
    a: int,
    b: int,
    keep: Any,
) -> None:
    """Close ``amount`` of side ``si`` (mass in bins ``[a, b)``) by the exit policy."""
    qz, off, tot, scale, order = st.qz, st.off, st.tot, st.scale, st.order
    B = qz.shape[1]
    if amount >= held:
        for r in range(B):
            for j in range(a, b):
                qz[si, r, j, 0] = 0.0
                qz[si, r, j, 1] = 0.0
                qz[si, r, j, 2] = 0.0
            off[si, r] = 0.0
            tot[si, r] = 0.0
        scale[si] = 1.0
        return
    if exit_code == 0 or (B == 1 and exit_code >= 2):  # proportional (and the block exits on one row)
        f = 1.0 - amount / held
        rescale(qz, scale, si, f)
        for r in range(B):
            off[si, r] *= f
            tot[si, r] *= f
        return
    if exit_code == 1:  # nearest: long levels nearest to price are the highest, short ones the lowest
        sc = scale[si]
        taken, removed = close_nearest(qz[si], order, n, a, b, amount / sc, si == 0, keep)
        for r in range(B):
            tot[si, r] -= removed[r] * sc
        rest = amount - taken * sc
        if rest > 0.0:  # from the mass held without a level, proportionally over rows
            total_off = 0.0
            for r in range(B):
                total_off += off[si, r]
            if total_off > 0:
                frac = min(rest / total_off, 1.0)
                for r in range(B):
                    tot[si, r] -= off[si, r] * frac
                    off[si, r] *= 1.0 - frac
        return
    # oldest first, or most profitable (by the row's mean entry) first
    ids = order[:n].copy()
    if exit_code == 3:
        sgn = 1.0 if si == 0 else -1.0
        gain = np.empty(n)
        for k in range(n):
            gain[k] = -(sgn * (price / st.block_entry[ids[k]] - 1.0))
        ids = ids[np.argsort(gain, kind="mergesort")]
    rem = amount
    for k in range(n):
        rid = ids[k]
        avail = tot[si, rid]
        if avail <= 0.0:
            continue
        take_r = avail if rem >= avail else rem
        f = 1.0 - take_r / avail
        for j in range(a, b):
            qz[si, rid, j, 0] *= f
            qz[si, rid, j, 1] *= f
            qz[si, rid, j, 2] *= f
        off[si, rid] *= f
        tot[si, rid] -= take_r
        rem -= take_r
        if rem <= 0.0:
            break


def read_side(
    st: State, pr: Params, si: int, n: int, hi: int, lo: int, colq: Any, colz: Any, dst: Any
) -> float:
    """Liquidation notional of side ``si`` per bin of the price-grid window into ``dst`` [quote]: a store bin's
    mass (summed over rows) × its level price (mass-weighted mean over rows), summed over the ``res`` store bins
    of each price bin; inverse contracts: the face value.

    ``colq``, ``colz`` are scratch space of the store's length. Returns the mass held on the store grid outside
    the window (:func:`margin_mass`).
    """
    qz, order = st.qz, st.order
    P = qz.shape[2]
    w0, wn = pr.w0, pr.wn
    a, b = (0, min(hi, P)) if si == 0 else (max(lo, 0), P)
    a = max(a, w0)  # the window's part of the side's bins
    b = min(b, w0 + wn)
    if n == 1:  # one row (the fast default): read it where it is
        colq = qz[si, order[0], :, 0]
        colz = qz[si, order[0], :, 1]
    else:
        colq[a:b] = 0.0
        colz[a:b] = 0.0
        for k in range(n):
            r = order[k]
            for j in range(a, b):
                colq[j] += qz[si, r, j, 0]
                colz[j] += qz[si, r, j, 1]
    sc = st.scale[si]
    lower = pr.edges
    dst[:] = 0.0
    res = pr.res
    for j in range(max(a, w0), min(b, w0 + wn)):
        q = colq[j]
        if q <= 0.0:
            continue
        if pr.inverse:
            dst[(j - w0) // res] += q * sc
        else:
            dst[(j - w0) // res] += q * sc * lower[j] * growth(pr.h * (colz[j] / q))
    return margin_mass(st, pr, si, n, hi, lo)


def margin_mass(st: State, pr: Params, si: int, n: int, hi: int, lo: int) -> float:
    """Mass of side ``si`` held in the store grid's margins (outside the price-grid window) × scale."""
    qz, order = st.qz, st.order
    P = qz.shape[2]
    a, b = (0, min(hi, P)) if si == 0 else (max(lo, 0), P)
    s = 0.0
    for k in range(n):
        r = order[k]
        for j in range(a, min(b, pr.w0)):
            s += qz[si, r, j, 0]
        for j in range(max(a, pr.w0 + pr.wn), b):
            s += qz[si, r, j, 0]
    return s * st.scale[si]


# -- the loop ----------------------------------------------------------------------------------------------------


def run_bars(st: State, pr: Params, kn: Kernels, bars: BarInputs, out: Out) -> None:
    """Advance the state ``st`` over ``bars``, filling ``out`` (the grid engine's one per-bar loop)."""
    qz, scale, off, tot, order = st.qz, st.scale, st.off, st.tot, st.order
    B = qz.shape[1]
    P = qz.shape[2]
    edges = pr.edges
    h = pr.h
    lx0 = pr.lx0
    inv_h = 1.0 / h
    lower = edges[:-1]
    inverse = pr.inverse
    hi = st.ints[0]
    lo = st.ints[1]
    n = st.ints[2]
    bar0 = st.ints[3]
    ew = np.empty(P + 1)
    shares = np.empty(2)
    vbuf = mix_buffer(kn.klen, kn.koff, P)
    colq = np.empty(P)
    colz = np.empty(P)
    flow = np.zeros((2, 4))  # per side: opened, liquidated, closed, decayed in this bar
    for t in range(bars.funding.size):
        # 1. funding settlement: linear, every level of a side moves by the same dollar amount; inverse, by the
        # same amount in 1/price
        f = bars.funding[t]
        if f != 0.0:
            price = bars.funding_price[t]
            for si in range(2):
                sgn = 1.0 if si == 0 else -1.0
                d = -f / (price * (1.0 + sgn * pr.mmr)) if inverse else sgn * f * price / (sgn - pr.mmr)
                a0, b0 = (0, hi) if si == 0 else (lo, P)
                first = P
                last = -1
                for k in range(n):
                    r = order[k]
                    if pr.point_levels:
                        lost, c0, c1 = shift_levels(qz[si, r], edges, h, d, a0, b0, inverse)
                    else:
                        lost, c0, c1 = shift_blocks(qz[si, r], edges, h, d, a0, b0, inverse)
                    if c1 >= 0:
                        first = min(first, c0)
                        last = max(last, c1)
                    off[si, r] += lost * scale[si]
                if last >= 0:
                    if si == 0:
                        hi = last + 1
                    else:
                        lo = first
        # 2. consumption: longs at/above the low, shorts at/below the high
        for si in range(2):
            x = (math.log(bars.cons_low[t] if si == 0 else bars.cons_high[t]) - lx0) * inv_h
            sq = 0.0
            sv = 0.0
            if (si == 0 and x < hi) or (si == 1 and x >= lo):
                for k in range(n):
                    r = order[k]
                    q, v = consume(qz[si, r], x, si == 0, hi, lo, lower, h, inverse, not pr.point_levels)
                    tot[si, r] -= q * scale[si]
                    sq += q
                    sv += v
                if si == 0:
                    hi = max(math.floor(x) + 1, 0)
                else:
                    lo = min(math.floor(x), P)
            flow[si, 1] = sq * scale[si]
            out.liquidations[t, si] = sv * scale[si]
        # 3. reconcile with open interest, turnover; closes by the exit policy
        held_l = tot[0].sum()
        held_s = tot[1].sum()
        cl_l, cl_s, op_l, op_s = flows(bars.oi[t], held_l, held_s, bars.turnover[t])
        flow[0, 0] = op_l
        flow[1, 0] = op_s
        flow[0, 2] = cl_l
        flow[1, 2] = cl_s
        if cl_l > 0.0:
            close_side(st, 0, cl_l, held_l, pr.exit_code, bars.close[t], n, 0, hi, colq)
        if cl_s > 0.0:
            close_side(st, 1, cl_s, held_s, pr.exit_code, bars.close[t], n, lo, P, colq)
        if op_l > 0.0 or op_s > 0.0:
            r = 0
            if B > 1:  # openings into a fresh row
                e = (
                    (bars.low[t] + bars.high[t] + bars.close[t]) / 3.0
                    if pr.entry_code == 1
                    else bars.entry[t]
                )
                r, n = new_block(st, n, bar0 + t, e)
            spread_entry = pr.entry_code == 1 and bars.high[t] > bars.low[t]
            j0 = 0
            ne = 0
            xe = 0.0
            if spread_entry:
                j0, ne = triangular(edges, lx0, inv_h, bars.low[t], bars.close[t], bars.high[t], ew)
            else:
                p = bars.entry[t] if pr.entry_code == 0 else bars.close[t]
                xe = (math.log(p) - lx0) * inv_h
            w = bars.long_share[t]
            for si in range(2):
                if flow[si, 0] > 0.0:
                    hi, lo = open_side(
                        qz[si, r],
                        off[:, r],
                        tot[:, r],
                        si,
                        flow[si, 0],
                        w if si == 0 else 1.0 - w,
                        spread_entry,
                        j0,
                        ew,
                        ne,
                        xe,
                        bars.low[t],
                        bars.close[t],
                        bars.high[t],
                        pr,
                        kn,
                        scale[si],
                        vbuf,
                        shares,
                        hi,
                        lo,
                    )
        # 4. decay
        for si in range(2):
            flow[si, 3] = 0.0
            if pr.decay < 1.0:
                flow[si, 3] = tot[si].sum() * (1.0 - pr.decay)
                rescale(qz, scale, si, pr.decay)
                for r in range(B):
                    off[si, r] *= pr.decay
                    tot[si, r] *= pr.decay
        # 5. ledger and snapshot
        k = out.rows[t]
        for si in range(2):
            if k >= 0:
                snap = out.snap_long[k] if si == 0 else out.snap_short[k]
                outside = read_side(st, pr, si, n, hi, lo, colq, colz, snap)
            else:
                outside = margin_mass(st, pr, si, n, hi, lo)
            for c in range(4):
                out.ledger[t, 6 * si + c] = flow[si, c]
            out.ledger[t, 6 * si + 4] = off[si].sum() + outside
            out.ledger[t, 6 * si + 5] = tot[si].sum()
    st.ints[0] = hi
    st.ints[1] = lo
    st.ints[2] = n
    st.ints[3] = bar0 + bars.funding.size


# -- dispatch ----------------------------------------------------------------------------------------------------

_KERNELS: tuple[Callable[..., Any], ...] = (
    growth,
    log_ratio,
    level_price,
    to_position,
    shape,
    profile,
    part,
    put_moments,
    land,
    put_part,
    consume,
    shift_levels,
    shift_blocks,
    close_nearest,
    triangular,
    rescale,
    flows,
    book,
    place,
    spread,
    entry_cdf,
    spread_atoms,
    open_side,
    mix_buffer,
    new_block,
    close_side,
    read_side,
    margin_mass,
    run_bars,
)
_PLAIN: dict[str, Callable[..., Any]] = {f.__name__: f for f in _KERNELS}
_COMPILED: dict[str, Callable[..., Any]] = _jit.compile_kernels(_KERNELS)


def backend() -> str:
    """``"numba"`` when :func:`run` uses the compiled loop, ``"python"`` when it runs the plain functions."""
    return _jit.backend()


def run(st: State, pr: Params, kn: Kernels, bars: BarInputs, out: Out) -> str:
    """:func:`run_bars`, compiled when :func:`heatmap.engine._jit.enabled`; returns the backend that ran."""
    which = backend()
    (_COMPILED if which == "numba" else _PLAIN)["run_bars"](st, pr, kn, bars, out)
    return which


def read(st: State, pr: Params, si: int) -> NDArray[np.float64]:
    """:func:`read_side` for one side of the current state (a snapshot outside the loop)."""
    P = st.qz.shape[2]
    dst = np.zeros(pr.wn // pr.res)
    fn = _COMPILED["read_side"] if backend() == "numba" else _PLAIN["read_side"]
    fn(st, pr, si, int(st.ints[2]), int(st.ints[0]), int(st.ints[1]), np.empty(P), np.empty(P), dst)
    return dst
