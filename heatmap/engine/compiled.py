"""The grid engine's per-bar loop compiled with numba (optional ``fast`` extra).

:meth:`GridEngine.run_python <heatmap.engine.grid.GridEngine.run_python>` is the reference: a Python loop over
bars with a handful of numpy operations each, whose fixed cost per bar (≈ 20-90 µs) dominates runs on hourly or
finer bars. This module runs the same steps — funding shift, consumption, reconciliation with open interest,
turnover, decay, snapshot — as one compiled function over the whole chunk: :func:`_loop` for one row (the
``"proportional"`` and ``"nearest"`` exits), :func:`_loop_blocks` for age blocks (the ``"oldest"`` and
``"profitable"`` exits, or ``age_blocks > 1``), linear and inverse contracts alike. The two implementations are
independent codes of the same equations and are tested to agree to rounding (``tests/test_compiled.py``): only
the order of floating-point sums differs, and with age blocks the compiled snapshot prices a bin's content at
the blocks' mass-weighted mean level (relative error at most ``h²/8``, 5·10⁻⁷ at a log step of 0.2 %) instead
of block by block.

The compiled loop is used automatically when numba is installed (``pip install "liquidation-heatmap[fast]"``);
set the environment variable ``HEATMAP_JIT=0`` to force the Python loop. The first call compiles the loop
(≈ 10-15 s) and caches the machine code on disk for later processes.

Examples
--------
>>> from heatmap.engine import compiled
>>> isinstance(compiled.available(), bool)
True
"""

from __future__ import annotations

import importlib
import math
import os
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from heatmap.engine.base import engine_bars

if TYPE_CHECKING:
    from heatmap.engine.base import Bars, Outputs
    from heatmap.engine.grid import GridEngine
    from heatmap.engine.kernels import Kernel

__all__ = ["available", "run", "supports"]

_numba: Any
try:  # optional dependency
    _numba = importlib.import_module("numba")
except ImportError:  # pragma: no cover - exercised when the extra is not installed
    _numba = None

_EXITS = {"proportional": 0, "nearest": 1, "oldest": 2, "profitable": 3}


_SWITCH = {
    "1": True,
    "true": True,
    "yes": True,
    "on": True,
    "0": False,
    "false": False,
    "no": False,
    "off": False,
}


def available() -> bool:
    """True when numba is installed and the compiled loop is not turned off (``HEATMAP_JIT=0``).

    Raises
    ------
    ValueError
        ``HEATMAP_JIT`` set to something other than 1/0, true/false, yes/no or on/off.
    """
    raw = os.environ.get("HEATMAP_JIT", "1")
    value = _SWITCH.get(raw.strip().lower())
    if value is None:
        raise ValueError(f"HEATMAP_JIT={raw!r}; allowed: 1/0, true/false, yes/no, on/off")
    return _numba is not None and value


def supports(engine: GridEngine) -> bool:
    """Whether :func:`run` can advance ``engine`` (else its Python loop runs).

    Needs numba. Every exit and contract is supported; the ``"oldest"`` and ``"profitable"`` exits need age
    blocks (``age_blocks > 1``, their default).
    """
    c = engine.config
    return available() and (engine.blocks or c.exit in ("proportional", "nearest"))


def _kernel_pack(engine: GridEngine) -> tuple[NDArray[Any], ...]:
    """The four kernels (side × speculative/passive) as padded arrays, cached on the engine.

    The cache is keyed by the kernel objects themselves (not their ids, which Python may reuse after a regrid).
    """
    kernels = (engine.k_spec["long"], engine.k_pass["long"], engine.k_spec["short"], engine.k_pass["short"])
    cached = getattr(engine, "_compiled_pack", None)
    if cached is not None and all(a is b for a, b in zip(cached[0], kernels, strict=True)):
        return cached[1]
    ks: list[list[Kernel]] = [[engine.k_spec[s], engine.k_pass[s]] for s in ("long", "short")]
    S = ks[0][0].weights.shape[0]
    n = max(k.weights.shape[1] for row in ks for k in row)
    na = max((0 if k.atoms is None else k.atoms.size) for row in ks for k in row) or 1
    kz = np.zeros((2, 2, S, n, 2))
    cum = np.zeros((2, 2, S, n + 1))
    kzu = np.zeros((2, 2, n, 2))
    cumu = np.zeros((2, 2, n + 1))
    klen = np.zeros((2, 2), np.int64)
    koff = np.zeros((2, 2), np.int64)
    atoms = np.zeros((2, 2, na))
    aw = np.zeros((2, 2, na))
    alen = np.full((2, 2), -1, np.int64)  # -1: no atoms (continuous law)
    for si in range(2):
        for ki in range(2):
            k = ks[si][ki]
            m = k.weights.shape[1]
            klen[si, ki] = m
            koff[si, ki] = k.offset
            kz[si, ki, :, :m, 0] = k.weights
            kz[si, ki, :, :m, 1] = k.moments
            cum[si, ki, :, : m + 1] = k.cumw
            kzu[si, ki, :m, 0] = k.uniform
            kzu[si, ki, :m, 1] = k.moments_uniform
            cumu[si, ki, : m + 1] = k.cumu
            if k.atoms is not None and k.atom_weights is not None:
                alen[si, ki] = k.atoms.size
                atoms[si, ki, : k.atoms.size] = k.atoms
                aw[si, ki, : k.atoms.size] = k.atom_weights
    pack = (kz, cum, kzu, cumu, klen, koff, atoms, aw, alen)
    engine._compiled_pack = (kernels, pack)  # type: ignore[attr-defined]
    return pack


def _c(x: NDArray[Any]) -> NDArray[np.float64]:
    # one array type for the compiled function (C-contiguous, writeable float64): no re-compilation per layout
    return np.require(x, np.float64, ["C", "W"])


def run(engine: GridEngine, bars: Bars, out: Outputs) -> None:
    """Advance ``engine`` over ``bars`` with the compiled loop (see :func:`supports`)."""
    c = engine.config
    g = engine.grid
    bars = engine_bars(bars, c)  # inverse contracts: open interest and turnover as face value [quote]
    rows = np.ascontiguousarray(out.snap_rows, dtype=np.int64)
    if engine.blocks:
        _run_blocks(engine, bars, out, rows)
        return
    scale = np.array(engine.scale, dtype=np.float64)
    bounds = np.array([engine.hi, engine.lo], dtype=np.int64)
    off = np.ascontiguousarray(engine.off[:, 0])
    tot = np.ascontiguousarray(engine.tot[:, 0])
    qz = engine.qz[:, 0]  # (2, P, 2) view of the single row
    entry_code = {"close": 0, "typical": 0, "triangular": 1}[c.entry]
    _loop(
        qz,
        scale,
        off,
        tot,
        bounds,
        g.edges,
        float(engine.h),
        float(engine.lx0),
        int(c.subbins),
        float(c.mmr),
        bool(engine.point_levels),
        entry_code,
        _EXITS[c.exit],
        float(c.decay),
        bool(engine.same_kernels),
        c.contract == "inverse",
        *_kernel_pack(engine),
        *_bar_arrays(bars),
        rows,
        out.ledger,
        out.liquidations,
        out.snap_long,
        out.snap_short,
    )
    engine.scale = [float(scale[0]), float(scale[1])]
    engine.hi, engine.lo = int(bounds[0]), int(bounds[1])
    engine.off[:, 0] = off
    engine.tot[:, 0] = tot
    engine.bar += len(bars)


def _bar_arrays(bars: Bars) -> tuple[NDArray[np.float64], ...]:
    return tuple(
        _c(x)
        for x in (
            bars.funding,
            bars.funding_price,
            bars.cons_low,
            bars.cons_high,
            bars.oi,
            bars.long_share,
            bars.turnover,
            bars.entry,
            bars.low,
            bars.high,
            bars.close,
        )
    )


def _run_blocks(engine: GridEngine, bars: Bars, out: Outputs, rows: NDArray[np.int64]) -> None:
    c = engine.config
    B = engine.qz.shape[1]
    qz4 = np.require(engine.qz, np.float64, ["C", "W"])
    off2 = np.require(engine.off, np.float64, ["C", "W"])
    tot2 = np.require(engine.tot, np.float64, ["C", "W"])
    order = np.zeros(B + 1, np.int64)
    order[: len(engine.order)] = engine.order
    n_order = np.array([len(engine.order)], np.int64)
    block_bar = np.require(engine.block_bar, np.int64, ["C", "W"])
    block_entry = np.require(engine.block_entry, np.float64, ["C", "W"])
    bounds = np.array([engine.hi, engine.lo], dtype=np.int64)
    _loop_blocks(
        qz4,
        off2,
        tot2,
        bounds,
        order,
        n_order,
        block_bar,
        block_entry,
        int(engine.bar),
        engine.grid.edges,
        float(engine.h),
        float(engine.lx0),
        int(c.subbins),
        float(c.mmr),
        bool(engine.point_levels),
        {"close": 0, "typical": 0, "triangular": 1}[c.entry],
        _EXITS[c.exit],
        float(c.decay),
        bool(engine.same_kernels),
        c.contract == "inverse",
        *_kernel_pack(engine),
        *_bar_arrays(bars),
        rows,
        out.ledger,
        out.liquidations,
        out.snap_long,
        out.snap_short,
    )
    if qz4 is not engine.qz:
        engine._set_storage(qz4)
    engine.off, engine.tot = off2, tot2
    engine.block_bar, engine.block_entry = block_bar, block_entry
    engine.order = [int(r) for r in order[: int(n_order[0])]]
    engine.hi, engine.lo = int(bounds[0]), int(bounds[1])
    engine.bar += len(bars)


# ----------------------------------------------------------------------------------------------------------------
# the compiled functions (compiled on first use, machine code cached on disk)
# ----------------------------------------------------------------------------------------------------------------

if _numba is not None:
    _njit = _numba.njit(cache=True, nogil=True)
else:  # pragma: no cover - plain Python functions, never called (supports() is False without numba)

    def _njit(f: Any) -> Any:
        return f


@_njit
def _rescale(qz: Any, scale: Any, si: int, factor: float) -> None:
    sc = scale[si] * factor
    if sc < 1e-200:  # fold the scale into the arrays before it underflows
        qz[si] *= sc
        sc = 1.0
    scale[si] = sc


@_njit
def _consume(
    qz: Any, si: int, x: float, hi: int, lo: int, lower: Any, h: float, P: int, inverse: bool
) -> Any:
    """Liquidate levels crossed by a bar (long: at/above ``x``; short: at/below); (qty, value) unscaled.

    Inverse contracts: the mass is face value [quote], which is also the value.
    """
    i = math.floor(x)
    qty = 0.0
    value = 0.0
    if si == 0:
        a = i + 1 if i >= 0 else 0
        b = hi
        part = 0 <= i < b
    else:
        a = lo
        b = i if i < P else P
        part = lo <= i < P
    for j in range(a, b):
        q = qz[si, j, 0]
        if q > 0.0:
            qty += q
            value += q if inverse else q * math.exp(h * (qz[si, j, 1] / q)) * lower[j]
        qz[si, j, 0] = 0.0
        qz[si, j, 1] = 0.0
    if part:
        qi = qz[si, i, 0]
        zi = qz[si, i, 1]
        theta = (x - i) * qi  # the bin's content goes when its mean level is crossed
        if qi > 0.0 and ((si == 0 and zi >= theta) or (si == 1 and zi <= theta)):
            qty += qi
            value += qi if inverse else qi * lower[i] * math.exp(h * zi / qi)
            qz[si, i, 0] = 0.0
            qz[si, i, 1] = 0.0
    return qty, value


@_njit
def _place(
    qz: Any, si: int, start: int, tab: Any, cumw: Any, n: int, amount: float, scale_si: float, P: int
) -> Any:
    """Add ``amount * tab[:n]`` at bins ``start …``; returns (placed, first bin, end bin) of what landed."""
    t0 = -start if start < 0 else 0
    t1 = P - start if start + n > P else n
    if t1 <= t0:
        return 0.0, 0, -1
    f = amount / scale_si
    for t in range(t0, t1):
        qz[si, start + t, 0] += tab[t, 0] * f
        qz[si, start + t, 1] += tab[t, 1] * f
    return amount * (cumw[t1] - cumw[t0]), start + t0, start + t1


@_njit
def _shift_levels(
    qz: Any, si: int, edges: Any, lx0: float, h: float, P: int, d: float, a: int, b: int, inverse: bool
) -> Any:
    """Move the levels of side ``si`` in bins ``[a, b)`` by ``d`` as points (inverse: ``1/p`` by ``d``).

    Returns (unscaled mass that left the grid, first and last bin holding moved mass; -1 when none).
    """
    a = max(a, 0)
    b = min(b, P)
    n = 0
    for j in range(a, b):
        if qz[si, j, 0] > 0.0:
            n += 1
    if n == 0:
        return 0.0, P, -1
    qq = np.empty(n)
    vv = np.empty(n)
    k = 0
    for j in range(a, b):
        q = qz[si, j, 0]
        if q > 0.0:
            p = edges[j] * math.exp(h * (qz[si, j, 1] / q))
            if inverse:  # 1/p moves by d; a level whose reciprocal reaches 0 can no longer be reached
                r = 1.0 / p + d
                price = 1.0 / r if r > 0.0 else -1.0
            else:
                price = p + d
            qq[k] = q
            vv[k] = (math.log(price) - lx0) / h if price > 0.0 else -1.0
            qz[si, j, 0] = 0.0
            qz[si, j, 1] = 0.0
            k += 1
    lost = 0.0
    cmin = P
    cmax = -1
    for k in range(n):
        v = vv[k]
        c = math.floor(v)
        if 0 <= c < P:
            qz[si, c, 0] += qq[k]
            qz[si, c, 1] += qq[k] * min(max(v - c, 0.0), 1.0)
            cmin = min(cmin, c)
            cmax = max(cmax, c)
        else:
            lost += qq[k]
    return lost, cmin, cmax


@_njit
def _shift_uniform(
    qz: Any, si: int, edges: Any, lx0: float, h: float, P: int, d: float, inverse: bool
) -> float:
    """Funding shift of content uniform in log price inside its bins (cumulative-mass interpolation)."""
    cum = np.empty(P + 1)
    cum[0] = 0.0
    for j in range(P):
        cum[j + 1] = cum[j] + qz[si, j, 0]
    total = cum[P]
    prev = 0.0
    kept = 0.0
    for e in range(P + 1):
        if inverse:  # the edge receives what sat at 1/(1/e - d); nothing below infinity when that is <= 0
            r = 1.0 / edges[e] - d
            src = 1.0 / r if r > 0.0 else math.inf
        else:
            src = edges[e] - d
        pos = (math.log(src) - lx0) / h if src > 0.0 else -1.0
        pos = min(max(pos, 0.0), float(P))
        k = min(math.floor(pos), P - 1)
        frac = pos - k
        c = cum[k] + frac * (cum[k + 1] - cum[k])
        if e > 0:
            q = c - prev
            if q < 0.0:
                q = 0.0
            qz[si, e - 1, 0] = q
            qz[si, e - 1, 1] = 0.5 * q
            kept += q
        prev = c
    return total - kept


@_njit
def _take(qz: Any, si: int, a: int, b: int, amount: float, from_top: bool) -> float:
    """Remove up to ``amount`` (unscaled) from the highest (``from_top``) or lowest bins of ``[a, b)``."""
    if amount <= 0.0:
        return 0.0
    total = 0.0
    for t in range(b - a):  # summed in the order of removal, like the reference's cumulative sum
        total += qz[si, b - 1 - t if from_top else a + t, 0]
    if amount >= total:
        for j in range(a, b):
            qz[si, j, 0] = 0.0
            qz[si, j, 1] = 0.0
        return total
    before = 0.0
    for t in range(b - a):
        j = b - 1 - t if from_top else a + t
        q = qz[si, j, 0]
        if before + q >= amount:
            keep = (q - (amount - before)) / q if q > 0.0 else 0.0
            keep = min(max(keep, 0.0), 1.0)
            qz[si, j, 0] = q * keep
            qz[si, j, 1] *= keep
            return amount
        before += q
        qz[si, j, 0] = 0.0
        qz[si, j, 1] = 0.0
    return amount


@_njit
def _triangular(edges: Any, lx0: float, inv_h: float, P: int, low: float, mode: float, high: float, ew: Any):
    """Triangular entry law over the grid bins; fills ``ew`` and returns (j0, count)."""
    span = high - low
    j0 = math.floor((math.log(low) - lx0) * inv_h)
    j1 = max(j0, math.ceil((math.log(high) - lx0) * inv_h) - 1)
    left = span * (mode - low)
    right = span * (high - mode)
    if j0 >= 0 and j1 < P and edges[j0] <= low and high <= edges[j1 + 1]:
        prev = 0.0
        for k in range(j1 - j0):
            x = min(max(edges[j0 + 1 + k], low), high)
            if x <= mode:
                cdf = (x - low) ** 2 / left if left > 0 else 0.0
            else:
                cdf = 1.0 - (high - x) ** 2 / right if right > 0 else 1.0
            ew[k] = cdf - prev
            prev = cdf
        ew[j1 - j0] = 1.0 - prev
        return j0, j1 - j0 + 1
    j0 = max(0, j0)
    j1 = min(P - 1, max(j0, j1))
    if j1 < j0:
        return j0, 0
    prev = 0.0
    for k in range(j1 - j0 + 2):
        x = min(max(edges[j0 + k], low), high)
        if x <= mode:
            cdf = (x - low) ** 2 / left if left > 0 else 0.0
        else:
            cdf = 1.0 - (high - x) ** 2 / right if right > 0 else 1.0
        if k > 0:
            ew[k - 1] = cdf - prev
        prev = cdf
    return j0, j1 - j0 + 1


@_njit
def _spread(
    qz: Any,
    si: int,
    j0: int,
    ew: Any,
    ne: int,
    amount: float,
    shares: Any,
    nparts: int,
    kzu: Any,
    klen: Any,
    koff: Any,
    scale_si: float,
    v: Any,
) -> Any:
    """Entries spread over bins ``j0 … j0+ne-1`` (masses ``ew``): the side's kernels mixed once, then convolved.

    Returns (amount opened, amount placed on the grid, first bin, end bin) like the point placement.
    """
    P = qz.shape[1]
    lo_o = koff[si, 0]
    hi_o = koff[si, 0] + klen[si, 0]
    for ki in range(1, nparts):
        lo_o = min(lo_o, koff[si, ki])
        hi_o = max(hi_o, koff[si, ki] + klen[si, ki])
    m = hi_o - lo_o
    v[:m] = 0.0
    for ki in range(nparts):
        c = (amount if nparts == 1 else amount * shares[ki]) / scale_si
        if c <= 0.0:
            continue
        a = koff[si, ki] - lo_o
        for t in range(klen[si, ki]):
            v[a + t, 0] += c * kzu[si, ki, t, 0]
            v[a + t, 1] += c * kzu[si, ki, t, 1]
    amt = 0.0
    for i in range(ne):
        if ew[i] > 0.0:
            amt += amount * ew[i]
        else:
            ew[i] = 0.0
    start = j0 + lo_o
    n_out = m + ne - 1
    t0 = -start if start < 0 else 0
    t1 = P - start if start + n_out > P else n_out
    placed = 0.0
    for t in range(t0, t1):
        sq = 0.0
        sz = 0.0
        for i in range(max(0, t - m + 1), min(ne, t + 1)):
            e = ew[i]
            sq += e * v[t - i, 0]
            sz += e * v[t - i, 1]
        qz[si, start + t, 0] += sq
        qz[si, start + t, 1] += sz
        placed += sq
    if t1 <= t0:
        return amt, 0.0, 0, -1
    return amt, placed * scale_si, start + t0, start + t1


@_njit
def _book(
    si: int, amt: float, placed: float, first: int, end: int, off: Any, tot: Any, hi: int, lo: int
) -> Any:
    """Account an opening of ``amt`` of which ``placed`` landed in bins ``[first, end)``: returns (hi, lo)."""
    if end > first:
        if si == 0:
            hi = max(hi, end)
        else:
            lo = min(lo, first)
    if amt > placed:
        off[si] += amt - placed
    tot[si] += amt
    return hi, lo


@_njit
def _flows(target: float, held_l: float, held_s: float, tv: float) -> Any:
    """Closes and opens per side that reconcile the book with open interest, plus turnover ``tv``."""
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


@_njit
def _entries(
    entry_code: int,
    edges: Any,
    lx0: float,
    inv_h: float,
    P: int,
    low: float,
    close: float,
    high: float,
    point: float,
    ew: Any,
) -> Any:
    """This bar's entries: (spread, first bin, bins, point position); triangular masses written to ``ew``."""
    if entry_code == 1 and high > low:
        j0, ne = _triangular(edges, lx0, inv_h, P, low, close, high, ew)
        return True, j0, ne, 0.0
    p = point if entry_code == 0 else close
    return False, 0, 0, (math.log(p) - lx0) * inv_h


@_njit
def _open_side(
    qz: Any,
    off: Any,
    tot: Any,
    si: int,
    amount: float,
    ws: float,
    spread: bool,
    j0: int,
    ew: Any,
    ne: int,
    xe: float,
    S: int,
    same: bool,
    kz: Any,
    cum: Any,
    kzu: Any,
    cumu: Any,
    klen: Any,
    koff: Any,
    atoms: Any,
    aw: Any,
    alen: Any,
    scale_si: float,
    vbuf: Any,
    shares: Any,
    hi: int,
    lo: int,
) -> Any:
    """Open ``amount`` on side ``si`` (speculative share ``ws``) into ``qz``; returns the new (hi, lo)."""
    P = qz.shape[1]
    nparts = 1 if same else 2
    shares[0] = 1.0 if same else ws
    shares[1] = 1.0 - ws
    if spread:
        amt, placed, first, end = _spread(
            qz, si, j0, ew, ne, amount, shares, nparts, kzu, klen, koff, scale_si, vbuf
        )
        return _book(si, amt, placed, first, end, off, tot, hi, lo)
    for ki in range(nparts):
        part = amount * shares[ki]
        if same:
            part = amount
        elif shares[ki] <= 0.0:
            continue
        placed = 0.0
        first = P
        end = -1
        if alen[si, ki] >= 0:  # discrete law: exact point levels
            for m in range(alen[si, ki]):
                pos = xe + atoms[si, ki, m]
                c = math.floor(pos)
                if 0 <= c < P:
                    qa = part * aw[si, ki, m]
                    qs = qa / scale_si
                    qz[si, c, 0] += qs
                    qz[si, c, 1] += qs * (pos - c)
                    placed += qa
                    first = min(first, c)
                    end = max(end, c + 1)
        else:
            j = math.floor(xe)
            s = int(np.rint((xe - j) * S))
            if s == S:
                j += 1
                s = 0
            pl, a0, a1 = _place(
                qz, si, j + koff[si, ki], kz[si, ki, s], cum[si, ki, s], klen[si, ki], part, scale_si, P
            )
            if a1 > a0:
                placed = pl
                first = a0
                end = a1
        hi, lo = _book(si, part, placed, first, end, off, tot, hi, lo)
    return hi, lo


@_njit
def _mix_buffer(klen: Any, koff: Any) -> Any:
    """Scratch space for one side's mixed kernels (the widest offset range of a side's two kernels)."""
    span = 0
    for si in range(2):
        lo = min(koff[si, 0], koff[si, 1])
        span = max(span, max(koff[si, 0] + klen[si, 0], koff[si, 1] + klen[si, 1]) - lo)
    return np.zeros((span, 2))


@_njit
def _ledger_row(
    row: Any,
    op_l: float,
    liq_l: float,
    cl_l: float,
    dec_l: float,
    off_l: float,
    held_l: float,
    op_s: float,
    liq_s: float,
    cl_s: float,
    dec_s: float,
    off_s: float,
    held_s: float,
) -> None:
    """One bar's mass ledger in ``LEDGER_COLUMNS`` order."""
    row[0] = op_l
    row[1] = liq_l
    row[2] = cl_l
    row[3] = dec_l
    row[4] = off_l
    row[5] = held_l
    row[6] = op_s
    row[7] = liq_s
    row[8] = cl_s
    row[9] = dec_s
    row[10] = off_s
    row[11] = held_s


@_njit
def _loop(
    qz: Any,
    scale: Any,
    off: Any,
    tot: Any,
    bounds: Any,
    edges: Any,
    h: float,
    lx0: float,
    S: int,
    mmr: float,
    point_levels: bool,
    entry_code: int,
    exit_code: int,
    decay: float,
    same: bool,
    inverse: bool,
    kz: Any,
    cum: Any,
    kzu: Any,
    cumu: Any,
    klen: Any,
    koff: Any,
    atoms: Any,
    aw: Any,
    alen: Any,
    fr: Any,
    fp: Any,
    clo: Any,
    chi: Any,
    oi: Any,
    share: Any,
    turn: Any,
    ent: Any,
    blo: Any,
    bhi: Any,
    bcl: Any,
    rows: Any,
    ledger: Any,
    liq: Any,
    snapL: Any,
    snapS: Any,
) -> None:
    P = edges.size - 1
    inv_h = 1.0 / h
    lower = edges[:-1]
    hi = bounds[0]
    lo = bounds[1]
    ew = np.empty(P + 1)
    vbuf = _mix_buffer(klen, koff)
    amounts = np.empty(2)
    shares = np.empty(2)
    for t in range(fr.size):
        # 1. funding settlement
        f = fr[t]
        if f != 0.0:
            price = fp[t]
            for si in range(2):
                sgn = 1.0 if si == 0 else -1.0
                # linear: every level moves by the same dollar amount; inverse: by the same amount in 1/price
                d = -f / (price * (1.0 + sgn * mmr)) if inverse else sgn * f * price / (sgn - mmr)
                if point_levels:
                    a0, b0 = (0, hi) if si == 0 else (lo, P)
                    lost, cmin, cmax = _shift_levels(qz, si, edges, lx0, h, P, d, a0, b0, inverse)
                    off[si] += lost * scale[si]
                    if cmax >= 0:
                        if si == 0:
                            hi = cmax + 1
                        else:
                            lo = cmin
                else:
                    off[si] += _shift_uniform(qz, si, edges, lx0, h, P, d, inverse) * scale[si]
                    if si == 0:
                        hi = P
                    else:
                        lo = 0
        # 2. consumption
        x = (math.log(clo[t]) - lx0) * inv_h
        liq_q_l = 0.0
        liq_v_l = 0.0
        if x < hi:
            q, v = _consume(qz, 0, x, hi, lo, lower, h, P, inverse)
            liq_q_l = q * scale[0]
            liq_v_l = v * scale[0]
            tot[0] -= liq_q_l
            hi = max(math.floor(x) + 1, 0)
        y = (math.log(chi[t]) - lx0) * inv_h
        liq_q_s = 0.0
        liq_v_s = 0.0
        if y >= lo:
            q, v = _consume(qz, 1, y, hi, lo, lower, h, P, inverse)
            liq_q_s = q * scale[1]
            liq_v_s = v * scale[1]
            tot[1] -= liq_q_s
            lo = min(math.floor(y), P)
        liq[t, 0] = liq_v_l
        liq[t, 1] = liq_v_s
        # 3. reconcile with open interest, turnover
        held_l = tot[0]
        held_s = tot[1]
        cl_l, cl_s, op_l, op_s = _flows(oi[t], held_l, held_s, turn[t])
        for si in range(2):
            amount = cl_l if si == 0 else cl_s
            held = held_l if si == 0 else held_s
            if amount <= 0.0:
                continue
            if amount >= held:
                a, b = (0, hi) if si == 0 else (lo, P)
                for j in range(a, b):
                    qz[si, j, 0] = 0.0
                    qz[si, j, 1] = 0.0
                off[si] = 0.0
                tot[si] = 0.0
                scale[si] = 1.0
            elif exit_code == 0:
                keep = 1.0 - amount / held
                _rescale(qz, scale, si, keep)
                off[si] *= keep
                tot[si] *= keep
            else:  # nearest: long levels nearest to price are the highest, short ones the lowest
                a, b = (0, hi) if si == 0 else (lo, P)
                sc = scale[si]
                taken = _take(qz, si, a, b, amount / sc, si == 0) * sc
                tot[si] -= taken
                rest = amount - taken
                if rest > 0.0 and off[si] > 0.0:
                    frac = min(rest / off[si], 1.0)
                    tot[si] -= off[si] * frac
                    off[si] *= 1.0 - frac
        # openings
        if op_l > 0.0 or op_s > 0.0:
            w = share[t]
            amounts[0] = op_l
            amounts[1] = op_s
            spread, j0, ne, xe = _entries(
                entry_code, edges, lx0, inv_h, P, blo[t], bcl[t], bhi[t], ent[t], ew
            )
            for si in range(2):
                if amounts[si] > 0.0:
                    hi, lo = _open_side(
                        qz,
                        off,
                        tot,
                        si,
                        amounts[si],
                        w if si == 0 else 1.0 - w,
                        spread,
                        j0,
                        ew,
                        ne,
                        xe,
                        S,
                        same,
                        kz,
                        cum,
                        kzu,
                        cumu,
                        klen,
                        koff,
                        atoms,
                        aw,
                        alen,
                        scale[si],
                        vbuf,
                        shares,
                        hi,
                        lo,
                    )
        # 4. decay
        dec_l = 0.0
        dec_s = 0.0
        if decay < 1.0:
            dec_l = tot[0] * (1.0 - decay)
            dec_s = tot[1] * (1.0 - decay)
            _rescale(qz, scale, 0, decay)
            _rescale(qz, scale, 1, decay)
            off[0] *= decay
            off[1] *= decay
            tot[0] *= decay
            tot[1] *= decay
        # 5. ledger and snapshot
        _ledger_row(
            ledger[t], op_l, liq_q_l, cl_l, dec_l, off[0], tot[0], op_s, liq_q_s, cl_s, dec_s, off[1], tot[1]
        )
        k = rows[t]
        if k >= 0:  # notional = mass x level price, per side (long mass lies below hi, short mass from lo)
            for si in range(2):
                sc = scale[si]
                snap = snapL if si == 0 else snapS
                a, b = (0, min(hi, P)) if si == 0 else (max(lo, 0), P)
                for j in range(P):
                    q = qz[si, j, 0] if a <= j < b else 0.0
                    if q <= 0.0:
                        snap[k, j] = 0.0
                    elif inverse:  # a cell holds the face value [quote] itself
                        snap[k, j] = q * sc
                    else:
                        snap[k, j] = q * sc * lower[j] * math.exp(h * (qz[si, j, 1] / q))
    bounds[0] = hi
    bounds[1] = lo


# -- age blocks ("oldest" / "profitable" exits, or age_blocks > 1) ---------------------------------------------


@_njit
def _new_block(
    qz4: Any,
    off2: Any,
    tot2: Any,
    order: Any,
    n: int,
    block_bar: Any,
    block_entry: Any,
    bar: int,
    entry: float,
) -> Any:
    """A fresh row for this bar's openings (dropping empty rows, merging the two oldest when all are used).

    Returns (row, new length of ``order``).
    """
    B = qz4.shape[1]
    m = 0
    for k in range(n):
        r = order[k]
        if tot2[0, r] > 0.0 or tot2[1, r] > 0.0:
            order[m] = r
            m += 1
        else:
            qz4[:, r] = 0.0
            off2[:, r] = 0.0
            tot2[:, r] = 0.0
    n = m
    if n >= B:
        r0 = order[0]
        r1 = order[1]
        w0 = tot2[0, r0] + tot2[1, r0]
        w1 = tot2[0, r1] + tot2[1, r1]
        if w0 + w1 > 0:
            block_entry[r1] = (w0 * block_entry[r0] + w1 * block_entry[r1]) / (w0 + w1)
        for si in range(2):
            qz4[si, r1] += qz4[si, r0]
            off2[si, r1] += off2[si, r0]
            tot2[si, r1] += tot2[si, r0]
        qz4[:, r0] = 0.0
        off2[:, r0] = 0.0
        tot2[:, r0] = 0.0
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
    block_bar[r] = bar
    block_entry[r] = entry
    return r, n + 1


@_njit
def _close_blocks(
    qz4: Any,
    off2: Any,
    tot2: Any,
    order: Any,
    n: int,
    block_entry: Any,
    si: int,
    amount: float,
    held: float,
    exit_code: int,
    price: float,
    a: int,
    b: int,
) -> None:
    """Close ``amount`` of side ``si`` over age blocks by the exit policy (rows in ``order``, oldest first)."""
    B = qz4.shape[1]
    if amount >= held:
        for r in range(B):
            for j in range(a, b):
                qz4[si, r, j, 0] = 0.0
                qz4[si, r, j, 1] = 0.0
            off2[si, r] = 0.0
            tot2[si, r] = 0.0
        return
    if exit_code == 0:  # proportional
        keep = 1.0 - amount / held
        for r in range(B):
            for j in range(a, b):
                qz4[si, r, j, 0] *= keep
                qz4[si, r, j, 1] *= keep
            off2[si, r] *= keep
            tot2[si, r] *= keep
        return
    if exit_code == 1:  # nearest: the cut on the column sums, applied to every block
        w = max(b - a, 0)
        col = np.zeros(w)
        for r in range(B):
            for j in range(w):
                col[j] += qz4[si, r, a + j, 0]
        keepv = np.zeros(w)
        total = 0.0
        for t in range(w):  # summed in the order of removal, like the reference's cumulative sum
            total += col[w - 1 - t if si == 0 else t]
        taken = total
        if amount < total:
            taken = amount
            before = 0.0
            for t in range(w):
                j = w - 1 - t if si == 0 else t
                q = col[j]
                if before + q >= amount:
                    kq = (q - (amount - before)) / q if q > 0.0 else 0.0
                    kq = min(max(kq, 0.0), 1.0)
                    keepv[j] = kq * q / q if q > 0.0 else 0.0
                    # the remaining bins on the far side keep everything
                    for u in range(t + 1, w):
                        keepv[w - 1 - u if si == 0 else u] = 1.0
                    break
                before += q
        for r in range(B):
            removed = 0.0
            for j in range(w):
                q = qz4[si, r, a + j, 0]
                removed += q * (1.0 - keepv[j])
                qz4[si, r, a + j, 0] = q * keepv[j]
                qz4[si, r, a + j, 1] *= keepv[j]
            tot2[si, r] -= removed
        rest = amount - taken
        if rest > 0.0:  # from the off-grid mass, proportionally over blocks
            total_off = 0.0
            for r in range(B):
                total_off += off2[si, r]
            if total_off > 0:
                frac = min(rest / total_off, 1.0)
                for r in range(B):
                    tot2[si, r] -= off2[si, r] * frac
                    off2[si, r] *= 1.0 - frac
        return
    # oldest first, or most profitable (by the block's mean entry) first
    ids = order[:n].copy()
    if exit_code == 3:
        sgn = 1.0 if si == 0 else -1.0
        gain = np.empty(n)
        for k in range(n):
            gain[k] = -(sgn * (price / block_entry[ids[k]] - 1.0))
        ids = ids[np.argsort(gain, kind="mergesort")]
    rem = amount
    for k in range(n):
        rid = ids[k]
        avail = tot2[si, rid]
        if avail <= 0.0:
            continue
        take_r = avail if rem >= avail else rem
        keep_r = 1.0 - take_r / avail
        for j in range(a, b):
            qz4[si, rid, j, 0] *= keep_r
            qz4[si, rid, j, 1] *= keep_r
        off2[si, rid] *= keep_r
        tot2[si, rid] -= take_r
        rem -= take_r
        if rem <= 0.0:
            break


@_njit
def _loop_blocks(
    qz4: Any,
    off2: Any,
    tot2: Any,
    bounds: Any,
    order: Any,
    n_order: Any,
    block_bar: Any,
    block_entry: Any,
    bar0: int,
    edges: Any,
    h: float,
    lx0: float,
    S: int,
    mmr: float,
    point_levels: bool,
    entry_code: int,
    exit_code: int,
    decay: float,
    same: bool,
    inverse: bool,
    kz: Any,
    cum: Any,
    kzu: Any,
    cumu: Any,
    klen: Any,
    koff: Any,
    atoms: Any,
    aw: Any,
    alen: Any,
    fr: Any,
    fp: Any,
    clo: Any,
    chi: Any,
    oi: Any,
    share: Any,
    turn: Any,
    ent: Any,
    blo: Any,
    bhi: Any,
    bcl: Any,
    rows: Any,
    ledger: Any,
    liq: Any,
    snapL: Any,
    snapS: Any,
) -> None:
    """:func:`_loop` with each bar's openings in their own row (age block) of ``qz4`` ``(2, B, P, 2)``."""
    P = edges.size - 1
    inv_h = 1.0 / h
    lower = edges[:-1]
    hi = bounds[0]
    lo = bounds[1]
    n = n_order[0]
    ew = np.empty(P + 1)
    amounts = np.empty(2)
    shares = np.empty(2)
    vbuf = _mix_buffer(klen, koff)
    colq = np.empty(P)
    colz = np.empty(P)
    for t in range(fr.size):
        # 1. funding settlement, block by block
        f = fr[t]
        if f != 0.0:
            price = fp[t]
            for si in range(2):
                sgn = 1.0 if si == 0 else -1.0
                d = -f / (price * (1.0 + sgn * mmr)) if inverse else sgn * f * price / (sgn - mmr)
                a0, b0 = (0, hi) if si == 0 else (lo, P)
                gmin = P
                gmax = -1
                for k in range(n):
                    r = order[k]
                    if point_levels:
                        lost, cmin, cmax = _shift_levels(qz4[:, r], si, edges, lx0, h, P, d, a0, b0, inverse)
                        if cmax >= 0:
                            gmin = min(gmin, cmin)
                            gmax = max(gmax, cmax)
                    else:
                        lost = _shift_uniform(qz4[:, r], si, edges, lx0, h, P, d, inverse)
                    off2[si, r] += lost
                if not point_levels:
                    if si == 0:
                        hi = P
                    else:
                        lo = 0
                elif gmax >= 0:
                    if si == 0:
                        hi = gmax + 1
                    else:
                        lo = gmin
        # 2. consumption
        x = (math.log(clo[t]) - lx0) * inv_h
        liq_q_l = 0.0
        liq_v_l = 0.0
        if x < hi:
            for k in range(n):
                r = order[k]
                q, v = _consume(qz4[:, r], 0, x, hi, lo, lower, h, P, inverse)
                tot2[0, r] -= q
                liq_q_l += q
                liq_v_l += v
            hi = max(math.floor(x) + 1, 0)
        y = (math.log(chi[t]) - lx0) * inv_h
        liq_q_s = 0.0
        liq_v_s = 0.0
        if y >= lo:
            for k in range(n):
                r = order[k]
                q, v = _consume(qz4[:, r], 1, y, hi, lo, lower, h, P, inverse)
                tot2[1, r] -= q
                liq_q_s += q
                liq_v_s += v
            lo = min(math.floor(y), P)
        liq[t, 0] = liq_v_l
        liq[t, 1] = liq_v_s
        # 3. reconcile with open interest, turnover; closes by the exit policy
        held_l = tot2[0].sum()
        held_s = tot2[1].sum()
        cl_l, cl_s, op_l, op_s = _flows(oi[t], held_l, held_s, turn[t])
        if cl_l > 0.0:
            _close_blocks(qz4, off2, tot2, order, n, block_entry, 0, cl_l, held_l, exit_code, bcl[t], 0, hi)
        if cl_s > 0.0:
            _close_blocks(qz4, off2, tot2, order, n, block_entry, 1, cl_s, held_s, exit_code, bcl[t], lo, P)
        # openings, into a fresh row
        if op_l > 0.0 or op_s > 0.0:
            e = (blo[t] + bhi[t] + bcl[t]) / 3.0 if entry_code == 1 else ent[t]
            r, n = _new_block(qz4, off2, tot2, order, n, block_bar, block_entry, bar0 + t, e)
            w = share[t]
            amounts[0] = op_l
            amounts[1] = op_s
            spread, j0, ne, xe = _entries(
                entry_code, edges, lx0, inv_h, P, blo[t], bcl[t], bhi[t], ent[t], ew
            )
            for si in range(2):
                if amounts[si] > 0.0:
                    hi, lo = _open_side(
                        qz4[:, r],
                        off2[:, r],
                        tot2[:, r],
                        si,
                        amounts[si],
                        w if si == 0 else 1.0 - w,
                        spread,
                        j0,
                        ew,
                        ne,
                        xe,
                        S,
                        same,
                        kz,
                        cum,
                        kzu,
                        cumu,
                        klen,
                        koff,
                        atoms,
                        aw,
                        alen,
                        1.0,
                        vbuf,
                        shares,
                        hi,
                        lo,
                    )
        # 4. decay
        dec_l = 0.0
        dec_s = 0.0
        if decay < 1.0:
            dec_l = tot2[0].sum() * (1.0 - decay)
            dec_s = tot2[1].sum() * (1.0 - decay)
            for si in range(2):
                a, b = (0, hi) if si == 0 else (lo, P)
                for k in range(n):
                    r = order[k]
                    for j in range(a, b):
                        qz4[si, r, j, 0] *= decay
                        qz4[si, r, j, 1] *= decay
                    off2[si, r] *= decay
                    tot2[si, r] *= decay
        # 5. ledger and snapshot
        _ledger_row(
            ledger[t],
            op_l,
            liq_q_l,
            cl_l,
            dec_l,
            off2[0].sum(),
            tot2[0].sum(),
            op_s,
            liq_q_s,
            cl_s,
            dec_s,
            off2[1].sum(),
            tot2[1].sum(),
        )
        k = rows[t]
        if k >= 0:
            # a bin's content over all blocks at its mass-weighted mean level (relative error <= h^2 / 8)
            for si in range(2):
                a, b = (0, min(hi, P)) if si == 0 else (max(lo, 0), P)
                snap = snapL if si == 0 else snapS
                colq[:] = 0.0
                colz[:] = 0.0
                for kk in range(n):
                    r = order[kk]
                    for j in range(a, b):
                        colq[j] += qz4[si, r, j, 0]
                        colz[j] += qz4[si, r, j, 1]
                for j in range(P):
                    q = colq[j] if a <= j < b else 0.0
                    if q <= 0.0:
                        snap[k, j] = 0.0
                    elif inverse:
                        snap[k, j] = q
                    else:
                        snap[k, j] = q * lower[j] * math.exp(h * (colz[j] / q))
    bounds[0] = hi
    bounds[1] = lo
    n_order[0] = n
