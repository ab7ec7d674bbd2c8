"""Fast engine: per-side position mass on the log-price grid, shift-invariant liquidation-price kernels.

State per side: ``mass`` ``(B, P)`` [base] (face value [quote] for inverse contracts; one row, or one row per
age block for the ``"oldest"`` and ``"profitable"`` exits) with its within-bin first moment ``mom`` (see
:mod:`heatmap.engine.steps`), ``off`` ``(B,)`` mass held off the grid (long leverage <= 1, levels beyond the
edges), ``tot`` ``(B,)`` = row mass + off. Per bar: funding shift, consumption, reconciliation with open
interest (closes by the exit policy, opens with the kernels), turnover, decay, snapshot — a handful of numpy
slice operations on the grid; the bins that can hold long mass are bounded above by ``hi`` and those that can
hold short mass below by ``lo``, so consumption only touches the bins the bar actually crossed.

See ``docs/methodology.md`` for the equations and :mod:`heatmap.engine.ledger` for the exact reference.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from heatmap.engine import compiled
from heatmap.engine.base import Bars, EngineConfig, Outputs, engine_bars, size_laws
from heatmap.engine.kernels import Kernel, build_kernel, combine_kernels
from heatmap.engine.steps import (
    consume_long,
    consume_short,
    level_prices,
    shift_levels,
    shift_reciprocal,
    shift_uniform,
    shift_uniform_reciprocal,
    take,
    triangular_bin_masses,
    triangular_bin_masses_small,
)
from heatmap.grid import PriceGrid
from heatmap.leverage import Leverage

__all__ = ["GridEngine"]

_SIDES = ("long", "short")


class GridEngine:
    """Grid engine state and per-bar loop (use through :class:`heatmap.Estimator`)."""

    name = "grid"

    def __init__(self, config: EngineConfig, grid: PriceGrid) -> None:
        self.config = config
        self.grid = grid
        B = config.age_blocks
        self.blocks = B > 1
        P = grid.n_bins
        self._set_storage(np.zeros((2, B, P, 2)))
        # single row: the stored arrays are the true mass divided by scale[side] (proportional closes and decay
        # only change the scale)
        self.scale = [1.0, 1.0]
        self.off = np.zeros((2, B))
        self.tot = np.zeros((2, B))
        self.hi = 0  # long mass only in bins [0, hi)
        self.lo = P  # short mass only in bins [lo, P)
        # age blocks: row ids from oldest to newest, their opening bar and mean entry price
        self.order: list[int] = [] if self.blocks else [0]
        self.block_bar = np.full(B, -1, dtype=np.int64)
        self.block_entry = np.zeros(B)
        self.bar = 0  # bars processed
        self._zbuf: tuple[NDArray[Any], NDArray[Any]] | None = None  # snapshot moments (reused)
        self._build()

    def _set_storage(self, qz: NDArray[np.float64]) -> None:
        # mass and first moment interleaved per bin, so a kernel is added with one multiply and one add
        self.qz = qz
        self.mass = qz[..., 0]
        self.mom = qz[..., 1]

    # -- kernels ----------------------------------------------------------------------------------------------
    def _build(self) -> None:
        c, g = self.config, self.grid
        span = g.n_bins + 2
        kw: dict[str, Any] = {"log_step": g.log_step, "span": span, "subbins": c.subbins}
        if c.contract != "linear":
            kw["contract"] = c.contract
        self.inverse = c.contract == "inverse"

        def kernel(lev: Leverage, side: str) -> Kernel:
            # one kernel per position-size node (its bracket and leverage cap), mixed by the size weights
            parts = [
                (w, build_kernel(law, side, mmr=m, cum_ratio=cr, **kw))  # type: ignore[arg-type]
                for w, m, cr, law, _ in size_laws(c, lev)
            ]
            return combine_kernels(parts)

        self.k_spec = {s: kernel(c.leverage, s) for s in _SIDES}
        same = c.passive_leverage == c.leverage
        self.k_pass = self.k_spec if same else {s: kernel(c.passive_leverage, s) for s in _SIDES}

        self.same_kernels = same
        # discrete leverage: every bin holds a few exact levels, moved as points by funding; continuous laws
        # spread content through the bins and are moved as such (see steps.shift_uniform)
        self.point_levels = bool(c.leverage.is_discrete and c.passive_leverage.is_discrete)
        n = max(k.weights.shape[1] for k in (*self.k_spec.values(), *self.k_pass.values()))
        self.buf = np.empty(n + g.n_bins + 2)
        self.buf2 = np.empty((n + g.n_bins + 2, 2))
        self.flat = self.buf2.reshape(-1)  # the same memory, flat (gemv output)
        # interleaved (mass, moment) tables per kernel, keyed by id
        self.kz = {
            id(k): np.ascontiguousarray(np.stack([k.weights, k.moments], axis=-1))
            for k in (*self.k_spec.values(), *self.k_pass.values())
        }
        # speculative and passive tables of one side on a common offset range: one matmul mixes them per bar
        self.pair: dict[int, tuple[int, NDArray[np.float64], NDArray[np.float64]]] = {}
        self.pair_u: dict[int, tuple[int, NDArray[np.float64], NDArray[np.float64]]] = {}
        if not same:
            for si, side in enumerate(_SIDES):
                ks, kp = self.k_spec[side], self.k_pass[side]
                if ks.atoms is not None or kp.atoms is not None:
                    continue
                lo = min(ks.offset, kp.offset)
                hi = max(ks.offset + ks.weights.shape[1], kp.offset + kp.weights.shape[1])
                table = np.zeros((c.subbins, hi - lo, 2, 2))
                for ki, k in enumerate((ks, kp)):
                    a = k.offset - lo
                    n_k = k.weights.shape[1]
                    table[:, a : a + n_k, 0, ki] = k.weights
                    table[:, a : a + n_k, 1, ki] = k.moments
                cum = np.concatenate(
                    [np.zeros((c.subbins, 1, 2)), np.cumsum(table[:, :, 0, :], axis=1)], axis=1
                )
                # rows (bin, q|z) flattened: a gemv with the (spec, passive) amounts
                self.pair[si] = (lo, np.ascontiguousarray(table.reshape(c.subbins, -1, 2)), cum)
                uni = table.mean(axis=0)  # entries uniform inside the entry bin
                cum_u = np.concatenate([np.zeros((1, 2)), np.cumsum(uni[:, 0, :], axis=0)])
                self.pair_u[si] = (lo, np.ascontiguousarray(uni.reshape(-1, 2)), cum_u)
        self.mix = np.zeros(2)
        self.kzu = {
            id(k): np.ascontiguousarray(np.stack([k.uniform, k.moments_uniform], axis=-1))
            for k in (*self.k_spec.values(), *self.k_pass.values())
        }
        self.P = g.n_bins
        self.lower = np.array(g.edges[:-1])
        self.lower_list = self.lower.tolist()
        self.lx0 = math.log(g.edges[0])
        self.h = g.log_step

    def regrid(self, grid: PriceGrid) -> None:
        """Move the state onto ``grid`` (an extension of the current grid, see :meth:`PriceGrid.extend`)."""
        off = self.grid.offset_in(grid)
        P0, P = self.grid.n_bins, grid.n_bins
        new = np.zeros((2, self.mass.shape[1], P, 2))
        new[:, :, off : off + P0] = self.qz
        self._set_storage(new)
        self.hi += off
        self.lo = self.lo + off if self.lo < P0 else P
        self.grid = grid
        self._build()

    # -- state ------------------------------------------------------------------------------------------------
    def state_arrays(self) -> dict[str, NDArray[Any]]:
        return {
            "mass": np.ascontiguousarray(self.mass),
            "mom": np.ascontiguousarray(self.mom),
            "off": self.off,
            "tot": self.tot,
            "bounds": np.array([self.hi, self.lo, self.bar], dtype=np.int64),
            "scale": np.array(self.scale),
            "order": np.array(self.order, dtype=np.int64),
            "block_bar": self.block_bar,
            "block_entry": self.block_entry,
        }

    def load_state_arrays(self, arrays: dict[str, NDArray[Any]]) -> None:
        if arrays["mass"].shape != self.mass.shape:
            raise ValueError(f"state mass has shape {arrays['mass'].shape}, expected {self.mass.shape}")
        self._set_storage(np.stack([arrays["mass"], arrays["mom"]], axis=-1).astype(np.float64))
        self.off = np.array(arrays["off"], dtype=np.float64)
        self.tot = np.array(arrays["tot"], dtype=np.float64)
        self.hi, self.lo, self.bar = (int(x) for x in arrays["bounds"])
        self.scale = [float(x) for x in arrays["scale"]]
        self.order = [int(x) for x in arrays["order"]]
        self.block_bar = np.array(arrays["block_bar"], dtype=np.int64)
        self.block_entry = np.array(arrays["block_entry"], dtype=np.float64)

    def _values(self, si: int) -> NDArray[np.float64]:
        P = self.P
        a, b = (0, min(self.hi, P)) if si == 0 else (max(self.lo, 0), P)
        out = np.zeros(P)
        if b > a and self.inverse:  # inverse: a cell holds the face value [quote] itself
            q = self.mass[si, :, a:b]
            out[a:b] = q[0] if q.shape[0] == 1 else q.sum(axis=0)
            out[a:b] *= self.scale[si]
        elif b > a:
            q, z = self.mass[si, :, a:b], self.mom[si, :, a:b]
            v = q * level_prices(q, z, self.grid, a)
            out[a:b] = v[0] if v.shape[0] == 1 else v.sum(axis=0)
            out[a:b] *= self.scale[si]
        return out

    def snapshot(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Current liquidation notional per bin [quote] (long, short): mass × level price (inverse: face value)."""
        return self._values(0), self._values(1)

    # -- per-bar loop -----------------------------------------------------------------------------------------
    def run(self, bars: Bars, out: Outputs) -> None:
        """Process ``bars``, writing per-bar tables and snapshots into ``out`` (compiled loop when available)."""
        if compiled.supports(self):
            compiled.run(self, bars, out)
        else:
            self.run_python(bars, out)

    def run_python(self, bars: Bars, out: Outputs) -> None:
        """The per-bar loop in Python (the reference for :mod:`heatmap.engine.compiled`).

        Inverse contracts (``config.contract == "inverse"``): open interest and turnover are taken as face value
        (:func:`heatmap.engine.base.engine_bars`), funding moves levels in reciprocal price and liquidated
        notional is the face value liquidated.
        """
        c = self.config
        bars = engine_bars(bars, c)
        inverse = self.inverse
        grid = self.grid
        P = grid.n_bins
        h, lx0 = self.h, self.lx0
        inv_h = 1.0 / h
        S = c.subbins
        mass, mom, off, tot = self.mass, self.mom, self.off, self.tot
        single = not self.blocks
        kL, kS = self.k_spec["long"], self.k_spec["short"]
        pL, pS = self.k_pass["long"], self.k_pass["short"]
        decay = c.decay
        entry_mode = c.entry
        exit_mode = c.exit
        log = math.log
        ledger, liq = out.ledger, out.liquidations
        snapL, snapS = out.snap_long, out.snap_short
        # python floats: element access and scalar arithmetic are much cheaper than on numpy scalars
        fr, fp = bars.funding.tolist(), bars.funding_price.tolist()
        clo, chi = bars.cons_low.tolist(), bars.cons_high.tolist()
        oi, share, turn = bars.oi.tolist(), bars.long_share.tolist(), bars.turnover.tolist()
        ent, blo, bhi, bcl = bars.entry.tolist(), bars.low.tolist(), bars.high.tolist(), bars.close.tolist()
        rows = out.snap_rows.tolist()
        mmr = c.mmr
        sc = self.scale
        written: list[int] = []
        zL = zS = snapL
        if single and len(snapL):
            shape = (*snapL.shape, 2)  # (mass, moment) per bin, as stored
            if self._zbuf is None or self._zbuf[0].shape != shape:
                self._zbuf = (np.zeros(shape, np.float32), np.zeros(shape, np.float32))
            zL, zS = self._zbuf
        edges_list = grid.edges.tolist()
        for t in range(len(bars)):
            # 1. funding settlement: every level moves by the same dollar amount (mass conserved; off-grid -> off);
            # inverse contracts: by the same amount in reciprocal price
            f = fr[t]
            if f != 0.0 and inverse:
                price = fp[t]
                for si, sgn in ((0, 1.0), (1, -1.0)):
                    d = -f / (price * (1.0 + sgn * mmr))
                    if self.point_levels:
                        bd = [0, self.hi] if si == 0 else [self.lo, P]
                        off[si] += shift_reciprocal(mass[si], mom[si], grid, d, bd) * sc[si]
                    else:
                        off[si] += shift_uniform_reciprocal(mass[si], mom[si], grid, d) * sc[si]
                        bd = [0, P]
                    if si == 0:
                        self.hi = bd[1]
                    else:
                        self.lo = bd[0]
            elif f != 0.0:
                price = fp[t]
                bl = [0, self.hi]
                bs = [self.lo, P]
                for si, sgn, bd in ((0, 1.0, bl), (1, -1.0, bs)):
                    d = sgn * f * price / (sgn - mmr)
                    if self.point_levels:
                        off[si] += shift_levels(mass[si], mom[si], grid, d, bd) * sc[si]
                    else:
                        off[si] += shift_uniform(mass[si], mom[si], grid, d) * sc[si]
                        bd[0], bd[1] = 0, P
                self.hi = bl[1]
                self.lo = bs[0]
            # 2. consumption: longs at/above the low, shorts at/below the high
            x = (log(clo[t]) - lx0) * inv_h
            liq_q_l = liq_v_l = 0.0
            if x < self.hi:
                if single:
                    liq_q_l, liq_v_l = self._consume_single(0, x)
                    tot[0, 0] -= liq_q_l
                else:
                    removed, liq_v_l = consume_long(mass[0], mom[0], x, grid, self.hi)
                    tot[0] -= removed
                    liq_q_l = float(removed.sum())
                    if inverse:
                        liq_v_l = liq_q_l
                self.hi = max(math.floor(x) + 1, 0)
            y = (log(chi[t]) - lx0) * inv_h
            liq_q_s = liq_v_s = 0.0
            if y >= self.lo:
                if single:
                    liq_q_s, liq_v_s = self._consume_single(1, y)
                    tot[1, 0] -= liq_q_s
                else:
                    removed, liq_v_s = consume_short(mass[1], mom[1], y, grid, self.lo)
                    tot[1] -= removed
                    liq_q_s = float(removed.sum())
                    if inverse:
                        liq_v_s = liq_q_s
                self.lo = min(math.floor(y), P)
            liq[t, 0] = liq_v_l
            liq[t, 1] = liq_v_s
            # 3. reconcile with open interest: opened - closed = OI_t - held after liquidations (per side)
            target = oi[t]
            tv = turn[t]
            held_l = float(tot[0, 0]) if single else float(tot[0].sum())
            held_s = float(tot[1, 0]) if single else float(tot[1].sum())
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
            if cl_l > 0.0:
                self._close(0, cl_l, held_l, exit_mode, bcl[t])
            if cl_s > 0.0:
                self._close(1, cl_s, held_s, exit_mode, bcl[t])
            if op_l > 0.0 or op_s > 0.0:
                r = 0 if single else self._new_block(bars, t)
                w = share[t]
                if entry_mode == "triangular" and bhi[t] > blo[t]:
                    small = triangular_bin_masses_small(edges_list, lx0, inv_h, blo[t], bcl[t], bhi[t])
                    if small is not None:
                        j0, ew_list = small
                        ew = np.array(ew_list)
                    else:
                        j0, ew = triangular_bin_masses(grid, blo[t], bcl[t], bhi[t])
                    self._add_spread(0, r, j0, ew, op_l, w, kL, pL)
                    self._add_spread(1, r, j0, ew, op_s, 1.0 - w, kS, pS)
                else:
                    p = ent[t] if entry_mode != "triangular" else bcl[t]
                    xe = (log(p) - lx0) * inv_h
                    self._add_point(0, r, xe, S, op_l, w, kL, pL)
                    self._add_point(1, r, xe, S, op_s, 1.0 - w, kS, pS)
            # 4. decay
            dec_l = dec_s = 0.0
            if decay < 1.0:
                dec_l = float(tot[0].sum()) * (1.0 - decay)
                dec_s = float(tot[1].sum()) * (1.0 - decay)
                if single:
                    self._rescale(0, decay)
                    self._rescale(1, decay)
                else:
                    hi, lo = self.hi, self.lo
                    if hi > 0:
                        self.qz[0, :, :hi] *= decay
                    if lo < P:
                        self.qz[1, :, lo:] *= decay
                off *= decay
                tot *= decay
            # 5. ledger and snapshot
            if single:
                ledger[t] = (
                    op_l,
                    liq_q_l,
                    cl_l,
                    dec_l,
                    off[0, 0],
                    tot[0, 0],
                    op_s,
                    liq_q_s,
                    cl_s,
                    dec_s,
                    off[1, 0],
                    tot[1, 0],
                )
            else:
                ledger[t] = (
                    op_l,
                    liq_q_l,
                    cl_l,
                    dec_l,
                    off[0].sum(),
                    tot[0].sum(),
                    op_s,
                    liq_q_s,
                    cl_s,
                    dec_s,
                    off[1].sum(),
                    tot[1].sum(),
                )
            k = rows[t]
            if k >= 0:
                if single:  # store mass and moment now, convert to notional for all rows at once below
                    np.multiply(self.qz[0, 0], sc[0], out=zL[k], casting="same_kind")
                    np.multiply(self.qz[1, 0], sc[1], out=zS[k], casting="same_kind")
                    written.append(k)
                else:
                    snapL[k] = self._values(0)
                    snapS[k] = self._values(1)
            self.bar += 1
        if written:
            self._finish_snapshots(snapL, zL, written)
            self._finish_snapshots(snapS, zS, written)

    def _finish_snapshots(self, snap: NDArray[Any], zs: NDArray[Any], written: list[int]) -> None:
        """Rows of (mass, moment) -> notional ``mass x level price`` (inverse: the face value), vectorised."""
        lower = self.grid.edges.astype(np.float32)[:-1]
        h = np.float32(self.h)
        idx = np.asarray(written)
        if self.inverse:
            snap[idx] = zs[idx][..., 0]
            return
        for a in range(0, idx.size, 256):
            rows = idx[a : a + 256]
            qz = zs[rows]
            q = qz[..., 0]
            mu = qz[..., 1] / np.maximum(q, np.float32(1e-30))
            mu *= h
            np.exp(mu, out=mu)
            mu *= lower
            mu *= q
            snap[rows] = mu

    # -- helpers ----------------------------------------------------------------------------------------------
    def _consume_single(self, si: int, x: float) -> tuple[float, float]:
        """Single-row :func:`steps.consume_long` / :func:`steps.consume_short`: (qty [base], notional [quote]).

        Inverse contracts: (face value [quote], the same face value as notional [quote]).
        """
        qz = self.qz[si, 0]
        P = self.P
        i = math.floor(x)
        qty = value = 0.0
        if si == 0:
            a, b = (i + 1 if i >= 0 else 0), self.hi
            part = 0 <= i < b
        else:
            a, b = self.lo, (i if i < P else P)
            part = self.lo <= i < P
        if a < b:
            seg = qz[a:b]
            q = seg[:, 0]
            qty = float(q.sum())
            if qty > 0.0:
                mu = seg[:, 1] / np.maximum(q, 1e-300)
                mu *= self.h
                np.exp(mu, out=mu)
                value = float(np.dot(q * mu, self.lower[a:b]))
            seg[:] = 0.0
        if part:
            qi, zi = qz[i]
            theta = (x - i) * qi  # the bin's content goes when its mean level is crossed
            if qi > 0.0 and (zi >= theta if si == 0 else zi <= theta):
                qty += qi
                value += qi * self.lower_list[i] * math.exp(self.h * zi / qi)
                qz[i] = 0.0
        sc = self.scale[si]
        if self.inverse:
            return qty * sc, qty * sc
        return qty * sc, value * sc

    def _add_point(
        self, si: int, r: int, xe: float, S: int, amount: float, w: float, ks: Kernel, kp: Kernel
    ) -> None:
        if amount <= 0.0:
            return
        pair = self.pair.get(si)
        if pair is not None:
            j = math.floor(xe)
            s = round((xe - j) * S)
            if s == S:
                j += 1
                s = 0
            self._place_pair(si, r, j + pair[0], pair[1][s], pair[2][s], amount * w, amount * (1.0 - w))
            return
        parts = ((ks, 1.0),) if self.same_kernels else ((ks, w), (kp, 1.0 - w))
        for k, share in parts:
            if share <= 0.0:
                continue
            a = amount * share
            if k.atoms is not None and k.atom_weights is not None:
                self._place_atoms(si, r, xe + k.atoms, k.atom_weights, a)
                continue
            j = math.floor(xe)
            s = round((xe - j) * S)
            if s == S:
                j += 1
                s = 0
            self._place_kz(si, r, j + k.offset, self.kz[id(k)][s], k.cumw[s], a)

    def _add_spread(
        self,
        si: int,
        r: int,
        j0: int,
        ew: NDArray[np.float64],
        amount: float,
        w: float,
        ks: Kernel,
        kp: Kernel,
    ) -> None:
        """Entries spread over bins ``j0 …`` with probabilities ``ew`` (uniform in log price inside each bin)."""
        if amount <= 0.0:
            return
        pair = self.pair_u.get(si)
        if pair is not None and ew.size <= 4:
            off0, table, cum = pair
            for i in range(ew.size):
                e = ew[i]
                if e > 0.0:
                    self._place_pair(si, r, j0 + i + off0, table, cum, amount * w * e, amount * (1.0 - w) * e)
            return
        if pair is not None:  # wide bar: mix the two kernels once (gemv), then convolve with the entry masses
            off0, table, _ = pair
            mix = self.mix
            inv = 1.0 / self.scale[si]
            mix[0] = amount * w * inv
            mix[1] = amount * (1.0 - w) * inv
            v = (table @ mix).reshape(-1, 2)
            cq = np.convolve(ew, v[:, 0])
            cz = np.convolve(ew, v[:, 1])
            start = j0 + off0
            P = self.P
            n = cq.size
            t0 = -start if start < 0 else 0
            t1 = P - start if start + n > P else n
            placed = 0.0
            if t1 > t0:
                seg = self.qz[si, r, start + t0 : start + t1]
                seg[:, 0] += cq[t0:t1]
                seg[:, 1] += cz[t0:t1]
                placed = float(cq[t0:t1].sum()) * self.scale[si]
            self._book(si, r, amount, placed, start + t0, start + t1)
            return
        parts = ((ks, 1.0),) if self.same_kernels else ((ks, w), (kp, 1.0 - w))
        for k, share in parts:
            if share <= 0.0:
                continue
            a = amount * share
            if ew.size <= 4:  # a narrow bar: one kernel add per entry bin
                kzu = self.kzu[id(k)]
                for i in range(ew.size):
                    if ew[i] > 0.0:
                        self._place_kz(si, r, j0 + i + k.offset, kzu, k.cumu, a * ew[i])
                continue
            conv = np.convolve(ew, k.uniform)
            cz = np.convolve(ew, k.moments_uniform)
            cum = np.concatenate([[0.0], np.cumsum(conv)])
            self._place(si, r, j0 + k.offset, conv, cz, cum, a)

    def _book(self, si: int, r: int, amount: float, placed: float, first: int, end: int) -> None:
        """Account an opening of ``amount`` of which ``placed`` landed in bins ``[first, end)`` (none if empty):
        widen the side's bounds, keep the rest off the grid, add the amount to the row's held mass."""
        if end > first:
            if si == 0:
                if end > self.hi:
                    self.hi = end
            elif first < self.lo:
                self.lo = first
        if amount > placed:
            self.off[si, r] += amount - placed
        self.tot[si, r] += amount

    def _place_atoms(
        self, si: int, r: int, pos: NDArray[np.float64], w: NDArray[np.float64], amount: float
    ) -> None:
        """Add point levels at fractional bin coordinates ``pos`` with weights ``amount * w`` (exact)."""
        P = self.grid.n_bins
        idx = np.floor(pos).astype(np.int64)
        ok = (idx >= 0) & (idx < P)
        placed = 0.0
        first, end = 0, 0
        if ok.any():
            i = idx[ok]
            q = amount * w[ok]
            qs = q / self.scale[si]
            np.add.at(self.mass[si, r], i, qs)
            np.add.at(self.mom[si, r], i, qs * (pos[ok] - i))
            placed = float(q.sum())
            first, end = int(i.min()), int(i.max()) + 1
        self._book(si, r, amount, placed, first, end)

    def _place_kz(
        self, si: int, r: int, start: int, wz: NDArray[np.float64], cumw: NDArray[np.float64], amount: float
    ) -> None:
        """Add ``amount * wz`` (interleaved mass, moment) at bins ``start …``; the rest goes off the grid."""
        P = self.P
        n = wz.shape[0]
        t0 = -start if start < 0 else 0
        t1 = P - start if start + n > P else n
        placed = 0.0
        if t1 > t0:
            buf = self.buf2[: t1 - t0]
            np.multiply(wz[t0:t1], amount / self.scale[si], out=buf)
            seg = self.qz[si, r, start + t0 : start + t1]
            seg += buf
            placed = amount * (cumw[t1] - cumw[t0])
        self._book(si, r, amount, placed, start + t0, start + t1)

    def _place_pair(
        self,
        si: int,
        r: int,
        start: int,
        table: NDArray[np.float64],
        cum: NDArray[np.float64],
        a_spec: float,
        a_pass: float,
    ) -> None:
        """Add speculative and passive kernel tables (``table``: rows bin×(q, z), columns spec/passive) at ``start``."""
        P = self.P
        n = table.shape[0] // 2
        t0 = -start if start < 0 else 0
        t1 = P - start if start + n > P else n
        amount = a_spec + a_pass
        placed = 0.0
        if t1 > t0:
            mix = self.mix
            inv = 1.0 / self.scale[si]
            mix[0] = a_spec * inv
            mix[1] = a_pass * inv
            m = t1 - t0
            np.dot(table[2 * t0 : 2 * t1], mix, out=self.flat[: 2 * m])
            seg = self.qz[si, r, start + t0 : start + t1]
            seg += self.buf2[:m]
            placed = a_spec * (cum[t1, 0] - cum[t0, 0]) + a_pass * (cum[t1, 1] - cum[t0, 1])
        self._book(si, r, amount, placed, start + t0, start + t1)

    def _place(
        self,
        si: int,
        r: int,
        start: int,
        w: NDArray[np.float64],
        z: NDArray[np.float64],
        cumw: NDArray[np.float64],
        amount: float,
    ) -> None:
        """Add ``amount * w`` (moments ``amount * z``) at bins ``start …``; the rest goes off the grid."""
        P = self.grid.n_bins
        n = w.size
        t0 = -start if start < 0 else 0
        t1 = P - start if start + n > P else n
        placed = 0.0
        if t1 > t0:
            buf = self.buf[: t1 - t0]
            np.multiply(w[t0:t1], amount / self.scale[si], out=buf)
            self.mass[si, r, start + t0 : start + t1] += buf
            np.multiply(z[t0:t1], amount / self.scale[si], out=buf)
            self.mom[si, r, start + t0 : start + t1] += buf
            placed = amount * float(cumw[t1] - cumw[t0])
        self._book(si, r, amount, placed, start + t0, start + t1)

    def _rescale(self, si: int, factor: float) -> None:
        """Multiply the (single-row) mass of a side by ``factor`` lazily."""
        sc = self.scale[si] * factor
        if sc < 1e-200:  # fold the scale into the arrays before it underflows
            self.qz[si] *= sc
            sc = 1.0
        self.scale[si] = sc

    def _close(self, si: int, amount: float, held: float, mode: str, price: float) -> None:
        if mode == "proportional" and not self.blocks and amount < held:  # the common case: O(1)
            keep = 1.0 - amount / held
            self._rescale(si, keep)
            self.off[si, 0] *= keep
            self.tot[si, 0] *= keep
            return
        mass, mom, off, tot = self.mass[si], self.mom[si], self.off[si], self.tot[si]
        P = self.grid.n_bins
        a, b = (0, self.hi) if si == 0 else (self.lo, P)
        if amount >= held:
            mass[:, a:b] = 0.0
            mom[:, a:b] = 0.0
            off[:] = 0.0
            tot[:] = 0.0
            self.scale[si] = 1.0
            return
        if mode == "proportional":
            keep = 1.0 - amount / held
            if not self.blocks:
                self._rescale(si, keep)
            elif b > a:
                self.qz[si, :, a:b] *= keep
            off *= keep
            tot *= keep
            return
        if mode == "nearest":
            # long levels nearest to price are the highest, short ones the lowest; off-grid mass goes last
            if mass.shape[0] == 1:
                sc = self.scale[si]
                taken = take(mass[0, a:b], mom[0, a:b], amount / sc, from_top=si == 0) * sc
                tot[0] -= taken
            else:  # across age blocks: find the cut on the column sums, apply it to every block
                col = mass[:, a:b].sum(axis=0)
                before = col.copy()
                taken = take(col, np.zeros_like(col), amount, from_top=si == 0)
                keep = np.divide(col, before, out=np.zeros_like(col), where=before > 0)
                removed = (mass[:, a:b] * (1.0 - keep)).sum(axis=1)
                mass[:, a:b] *= keep
                mom[:, a:b] *= keep
                tot -= removed
            rest = amount - taken
            if rest > 0.0:  # from the off-grid mass, proportionally over blocks
                total_off = float(off.sum())
                if total_off > 0:
                    frac = min(rest / total_off, 1.0)
                    tot -= off * frac
                    off *= 1.0 - frac
            return
        # block exits: oldest first, or most profitable (by the block's mean entry) first
        order = list(self.order)
        if mode == "profitable":
            sgn = 1.0 if si == 0 else -1.0
            gain = sgn * (price / self.block_entry[order] - 1.0)
            order = [order[k] for k in np.argsort(-gain, kind="stable")]
        rem = amount
        for rid in order:
            avail = tot[rid]
            if avail <= 0.0:
                continue
            take_r = avail if rem >= avail else rem
            keep = 1.0 - take_r / avail
            if b > a:
                mass[rid, a:b] *= keep
                mom[rid, a:b] *= keep
            off[rid] *= keep
            tot[rid] -= take_r
            rem -= take_r
            if rem <= 0.0:
                break

    def _new_block(self, bars: Bars, t: int) -> int:
        """A fresh row for this bar's openings (merging the two oldest blocks when all rows are used)."""
        B = self.mass.shape[1]
        live = [r for r in self.order if self.tot[0, r] > 0.0 or self.tot[1, r] > 0.0]
        for r in set(self.order) - set(live):
            self.mass[:, r] = 0.0
            self.mom[:, r] = 0.0
            self.off[:, r] = 0.0
            self.tot[:, r] = 0.0
        self.order = live
        if len(self.order) >= B:
            r0, r1 = self.order[0], self.order[1]
            w0 = self.tot[:, r0].sum()
            w1 = self.tot[:, r1].sum()
            if w0 + w1 > 0:
                self.block_entry[r1] = (w0 * self.block_entry[r0] + w1 * self.block_entry[r1]) / (w0 + w1)
            for arr in (self.mass, self.mom, self.off, self.tot):
                arr[:, r1] += arr[:, r0]
                arr[:, r0] = 0.0
            self.order.pop(0)
        used = set(self.order)
        r = next(i for i in range(B) if i not in used)
        self.order.append(r)
        self.block_bar[r] = self.bar
        if self.config.entry == "triangular":
            self.block_entry[r] = (bars.low[t] + bars.high[t] + bars.close[t]) / 3.0
        else:
            self.block_entry[r] = bars.entry[t]
        return r
