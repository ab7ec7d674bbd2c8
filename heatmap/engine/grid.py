"""Fast engine: per-side position mass on the log-price grid, shift-invariant liquidation-price kernels.

State per side: ``mass`` ``(B, P)`` [base] (one row, or one row per age block for the ``"oldest"`` and
``"profitable"`` exits), ``off`` ``(B,)`` mass held off the grid (long leverage <= 1, levels beyond the
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

from heatmap.engine.base import Bars, EngineConfig, Outputs
from heatmap.engine.kernels import Kernel, build_kernel
from heatmap.engine.steps import shift_mass, take_from_bottom, take_from_top, triangular_bin_masses
from heatmap.grid import PriceGrid

__all__ = ["GridEngine"]

_SIDES = ("long", "short")


class GridEngine:
    """Grid engine state and per-bar loop (use through :class:`heatmap.Estimator`)."""

    name = "grid"

    def __init__(self, config: EngineConfig, grid: PriceGrid) -> None:
        self.config = config
        self.grid = grid
        self.blocks = config.exit in ("oldest", "profitable")
        B = config.max_blocks if self.blocks else 1
        P = grid.n_bins
        self.mass = np.zeros((2, B, P))
        self.off = np.zeros((2, B))
        self.tot = np.zeros((2, B))
        self.hi = 0  # long mass only in bins [0, hi)
        self.lo = P  # short mass only in bins [lo, P)
        # age blocks: row ids from oldest to newest, their opening bar and mean entry price
        self.order: list[int] = [] if self.blocks else [0]
        self.block_bar = np.full(B, -1, dtype=np.int64)
        self.block_entry = np.zeros(B)
        self.bar = 0  # bars processed
        self._build()

    # -- kernels ----------------------------------------------------------------------------------------------
    def _build(self) -> None:
        c, g = self.config, self.grid
        span = g.n_bins + 2
        kw: dict[str, Any] = {"mmr": c.mmr, "log_step": g.log_step, "span": span, "subbins": c.subbins}
        self.k_spec = {s: build_kernel(c.leverage, s, **kw) for s in _SIDES}  # type: ignore[arg-type]
        same = c.passive_leverage == c.leverage
        self.k_pass = (
            self.k_spec if same else {s: build_kernel(c.passive_leverage, s, **kw) for s in _SIDES}  # type: ignore[arg-type]
        )
        self.same_kernels = same
        n = max(k.weights.shape[1] for k in (*self.k_spec.values(), *self.k_pass.values()))
        self.buf = np.empty(n + g.n_bins + 2)
        self.centers = g.centers
        self.lx0 = math.log(g.edges[0])
        self.h = g.log_step

    def regrid(self, grid: PriceGrid) -> None:
        """Move the state onto ``grid`` (an extension of the current grid, see :meth:`PriceGrid.extend`)."""
        off = self.grid.offset_in(grid)
        P0, P = self.grid.n_bins, grid.n_bins
        new = np.zeros((2, self.mass.shape[1], P))
        new[:, :, off : off + P0] = self.mass
        self.mass = new
        self.hi += off
        self.lo = self.lo + off if self.lo < P0 else P
        self.grid = grid
        self._build()

    # -- state ------------------------------------------------------------------------------------------------
    def state_arrays(self) -> dict[str, NDArray[Any]]:
        return {
            "mass": self.mass,
            "off": self.off,
            "tot": self.tot,
            "bounds": np.array([self.hi, self.lo, self.bar], dtype=np.int64),
            "order": np.array(self.order, dtype=np.int64),
            "block_bar": self.block_bar,
            "block_entry": self.block_entry,
        }

    def load_state_arrays(self, arrays: dict[str, NDArray[Any]]) -> None:
        if arrays["mass"].shape != self.mass.shape:
            raise ValueError(f"state mass has shape {arrays['mass'].shape}, expected {self.mass.shape}")
        self.mass = np.array(arrays["mass"], dtype=np.float64)
        self.off = np.array(arrays["off"], dtype=np.float64)
        self.tot = np.array(arrays["tot"], dtype=np.float64)
        self.hi, self.lo, self.bar = (int(x) for x in arrays["bounds"])
        self.order = [int(x) for x in arrays["order"]]
        self.block_bar = np.array(arrays["block_bar"], dtype=np.int64)
        self.block_entry = np.array(arrays["block_entry"], dtype=np.float64)

    def snapshot(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Current liquidation notional per bin [quote] (long, short)."""
        m = self.mass.sum(axis=1)
        return m[0] * self.centers, m[1] * self.centers

    # -- per-bar loop -----------------------------------------------------------------------------------------
    def run(self, bars: Bars, out: Outputs) -> None:
        c = self.config
        P = self.grid.n_bins
        h, lx0 = self.h, self.lx0
        inv_h = 1.0 / h
        centers = self.centers
        S = c.subbins
        mass, off, tot = self.mass, self.off, self.tot
        mL, mS = mass[0], mass[1]
        single = not self.blocks
        rowL, rowS = mL[0], mS[0]
        kL, kS = self.k_spec["long"], self.k_spec["short"]
        pL, pS = self.k_pass["long"], self.k_pass["short"]
        same = self.same_kernels
        decay = c.decay
        entry_mode = c.entry
        exit_mode = c.exit
        log = math.log
        ledger, liq = out.ledger, out.liquidations
        rows = out.snap_rows
        snapL, snapS = out.snap_long, out.snap_short
        fr, fp = bars.funding, bars.funding_price
        clo, chi = bars.cons_low, bars.cons_high
        oi, share, turn = bars.oi, bars.long_share, bars.turnover
        ent, blo, bhi, bcl = bars.entry, bars.low, bars.high, bars.close
        mmr = c.mmr
        for t in range(len(bars)):
            # 1. funding settlement: dollar shift of every level, mass conserved (what leaves the grid -> off)
            f = fr[t]
            if f != 0.0:
                price = fp[t]
                for si, sgn in ((0, 1.0), (1, -1.0)):
                    d = sgn * f * price / (sgn - mmr)
                    off[si] += shift_mass(mass[si], self.grid, d)
                self.hi, self.lo = P, 0
            # 2. consumption: longs at/above the low, shorts at/below the high (partial bin split in log price)
            hi, lo = self.hi, self.lo
            x = (log(clo[t]) - lx0) * inv_h
            liq_q_l = 0.0
            liq_v_l = 0.0
            if x < hi:
                i = math.floor(x)
                a = i + 1 if i >= 0 else 0
                if a < hi:
                    if single:
                        seg = rowL[a:hi]
                        q = seg.sum()
                        liq_v_l = float(seg @ centers[a:hi])
                        liq_q_l = float(q)
                        tot[0, 0] -= q
                        seg[:] = 0.0
                    else:
                        seg2 = mL[:, a:hi]
                        qr = seg2.sum(axis=1)
                        liq_v_l = float(seg2.sum(axis=0) @ centers[a:hi])
                        liq_q_l = float(qr.sum())
                        tot[0] -= qr
                        seg2[:] = 0.0
                if 0 <= i < hi:
                    fr_i = i + 1 - x
                    part = mL[:, i] * fr_i
                    mL[:, i] -= part
                    tot[0] -= part
                    pq = float(part.sum())
                    liq_q_l += pq
                    liq_v_l += pq * math.exp(lx0 + h * 0.5 * (x + i + 1))
                self.hi = hi = max(min(hi, i + 1), 0)
            y = (log(chi[t]) - lx0) * inv_h
            liq_q_s = 0.0
            liq_v_s = 0.0
            if y >= lo:
                i = math.floor(y)
                b = i if i < P else P
                if lo < b:
                    if single:
                        seg = rowS[lo:b]
                        q = seg.sum()
                        liq_v_s = float(seg @ centers[lo:b])
                        liq_q_s = float(q)
                        tot[1, 0] -= q
                        seg[:] = 0.0
                    else:
                        seg2 = mS[:, lo:b]
                        qr = seg2.sum(axis=1)
                        liq_v_s = float(seg2.sum(axis=0) @ centers[lo:b])
                        liq_q_s = float(qr.sum())
                        tot[1] -= qr
                        seg2[:] = 0.0
                if lo <= i < P:
                    fr_i = y - i
                    part = mS[:, i] * fr_i
                    mS[:, i] -= part
                    tot[1] -= part
                    pq = float(part.sum())
                    liq_q_s += pq
                    liq_v_s += pq * math.exp(lx0 + h * 0.5 * (y + i))
                self.lo = lo = min(max(lo, i), P)
            liq[t, 0] = liq_v_l
            liq[t, 1] = liq_v_s
            # 3. reconcile with open interest: opened - closed = OI_t - held after liquidations (per side)
            target = oi[t]
            tv = turn[t]
            held_l = float(tot[0].sum()) if not single else float(tot[0, 0])
            held_s = float(tot[1].sum()) if not single else float(tot[1, 0])
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
            # close by the exit policy
            if cl_l > 0.0:
                self._close(0, cl_l, held_l, exit_mode, bcl[t])
            if cl_s > 0.0:
                self._close(1, cl_s, held_s, exit_mode, bcl[t])
            # open with the kernels (entry at a point, or spread over the bar)
            if op_l > 0.0 or op_s > 0.0:
                r = 0 if single else self._new_block(bars, t)
                w = share[t]
                if entry_mode == "triangular" and bhi[t] > blo[t]:
                    j0, ew = triangular_bin_masses(self.grid, blo[t], bcl[t], bhi[t])
                    self._add_spread(0, r, j0, ew, op_l, w, kL, pL, same)
                    self._add_spread(1, r, j0, ew, op_s, 1.0 - w, kS, pS, same)
                else:
                    p = ent[t] if entry_mode != "triangular" else bcl[t]
                    xe = (log(p) - lx0) * inv_h
                    j = math.floor(xe)
                    s = round((xe - j) * S)
                    if s == S:
                        j += 1
                        s = 0
                    self._add_point(0, r, j, s, op_l, w, kL, pL, same)
                    self._add_point(1, r, j, s, op_s, 1.0 - w, kS, pS, same)
            # 4. decay
            dec_l = dec_s = 0.0
            if decay < 1.0:
                dec_l = float(tot[0].sum()) * (1.0 - decay)
                dec_s = float(tot[1].sum()) * (1.0 - decay)
                hi, lo = self.hi, self.lo
                if hi > 0:
                    mL[:, :hi] *= decay
                if lo < P:
                    mS[:, lo:] *= decay
                off *= decay
                tot *= decay
            # 5. ledger and snapshot
            row = ledger[t]
            row[0] = op_l
            row[1] = liq_q_l
            row[2] = cl_l
            row[3] = dec_l
            row[4] = off[0].sum()
            row[5] = tot[0].sum()
            row[6] = op_s
            row[7] = liq_q_s
            row[8] = cl_s
            row[9] = dec_s
            row[10] = off[1].sum()
            row[11] = tot[1].sum()
            k = rows[t]
            if k >= 0:
                if single:
                    np.multiply(rowL, centers, out=snapL[k], casting="same_kind")
                    np.multiply(rowS, centers, out=snapS[k], casting="same_kind")
                else:
                    np.multiply(mL.sum(axis=0), centers, out=snapL[k], casting="same_kind")
                    np.multiply(mS.sum(axis=0), centers, out=snapS[k], casting="same_kind")
            self.bar += 1

    # -- helpers ----------------------------------------------------------------------------------------------
    def _add_point(
        self, si: int, r: int, j: int, s: int, amount: float, w: float, ks: Kernel, kp: Kernel, same: bool
    ) -> None:
        if amount <= 0.0:
            return
        if same:
            self._place(si, r, j + ks.offset, ks.weights[s], ks.cumw[s], amount)
        else:
            if w > 0.0:
                self._place(si, r, j + ks.offset, ks.weights[s], ks.cumw[s], amount * w)
            if w < 1.0:
                self._place(si, r, j + kp.offset, kp.weights[s], kp.cumw[s], amount * (1.0 - w))

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
        same: bool,
    ) -> float:
        if amount <= 0.0:
            return 0.0
        parts = ((ks, 1.0),) if same else ((ks, w), (kp, 1.0 - w))
        for k, share in parts:
            if share <= 0.0:
                continue
            conv = np.convolve(ew, k.uniform)
            cum = np.concatenate([[0.0], np.cumsum(conv)])
            self._place(si, r, j0 + k.offset, conv, cum, amount * share)
        return amount

    def _place(
        self, si: int, r: int, start: int, w: NDArray[np.float64], cumw: NDArray[np.float64], amount: float
    ) -> None:
        """Add ``amount * w`` at bins ``start ...``; the part outside the grid (or never liquidated) goes off-grid."""
        P = self.grid.n_bins
        n = w.size
        t0 = -start if start < 0 else 0
        t1 = P - start if start + n > P else n
        placed = 0.0
        if t1 > t0:
            buf = self.buf[: t1 - t0]
            np.multiply(w[t0:t1], amount, out=buf)
            self.mass[si, r, start + t0 : start + t1] += buf
            placed = amount * float(cumw[t1] - cumw[t0])
            if si == 0:
                if start + t1 > self.hi:
                    self.hi = start + t1
            elif start + t0 < self.lo:
                self.lo = start + t0
        if amount > placed:
            self.off[si, r] += amount - placed
        self.tot[si, r] += amount

    def _close(self, si: int, amount: float, held: float, mode: str, price: float) -> None:
        mass, off, tot = self.mass[si], self.off[si], self.tot[si]
        P = self.grid.n_bins
        a, b = (0, self.hi) if si == 0 else (self.lo, P)
        if amount >= held:
            mass[:, a:b] = 0.0
            off[:] = 0.0
            tot[:] = 0.0
            return
        if mode == "proportional":
            keep = 1.0 - amount / held
            if b > a:
                mass[:, a:b] *= keep
            off *= keep
            tot *= keep
            return
        if mode == "nearest":
            # long levels nearest to price are the highest, short ones the lowest; off-grid mass goes last
            row = mass[0]
            taken = take_from_top(row[a:b], amount) if si == 0 else take_from_bottom(row[a:b], amount)
            rest = amount - taken
            if rest > 0.0:
                off[0] -= min(rest, off[0])
            tot[0] -= amount
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
            take = avail if rem >= avail else rem
            keep = 1.0 - take / avail
            if b > a:
                mass[rid, a:b] *= keep
            off[rid] *= keep
            tot[rid] -= take
            rem -= take
            if rem <= 0.0:
                break

    def _new_block(self, bars: Bars, t: int) -> int:
        """A fresh row for this bar's openings (merging the two oldest blocks when all rows are used)."""
        B = self.mass.shape[1]
        used = set(self.order)
        # drop blocks that are empty on both sides
        self.order = [r for r in self.order if self.tot[0, r] > 0.0 or self.tot[1, r] > 0.0]
        for r in used - set(self.order):
            self.mass[:, r] = 0.0
            self.off[:, r] = 0.0
            self.tot[:, r] = 0.0
        if len(self.order) >= B:
            r0, r1 = self.order[0], self.order[1]
            w0 = self.tot[:, r0].sum()
            w1 = self.tot[:, r1].sum()
            if w0 + w1 > 0:
                self.block_entry[r1] = (w0 * self.block_entry[r0] + w1 * self.block_entry[r1]) / (w0 + w1)
            self.mass[:, r1] += self.mass[:, r0]
            self.off[:, r1] += self.off[:, r0]
            self.tot[:, r1] += self.tot[:, r0]
            self.mass[:, r0] = 0.0
            self.off[:, r0] = 0.0
            self.tot[:, r0] = 0.0
            self.order.pop(0)
        free = sorted(set(range(B)) - set(self.order))
        r = free[0]
        self.order.append(r)
        self.block_bar[r] = self.bar
        if self.config.entry == "triangular":
            self.block_entry[r] = (bars.low[t] + bars.high[t] + bars.close[t]) / 3.0
        else:
            self.block_entry[r] = bars.entry[t] if self.config.entry != "triangular" else bars.close[t]
        return r
