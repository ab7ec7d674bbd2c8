"""Reference engine: explicit position cohorts and the exact venue formulas (slow, obviously right).

A cohort is ``(bar, side, entry, leverage, qty, liquidation price, mmr)``: every bar opens one cohort per entry
node × leverage node × {speculative, passive} and side. Liquidation prices come from
:func:`heatmap.margin.liquidation_price`, funding moves them by :func:`heatmap.margin.funding_shift`, a cohort is
liquidated whole when the bar's low (long) or high (short) reaches its level, and exits act on cohorts in the
order the policy defines. Snapshots histogram ``qty × LP`` [quote] into the grid bins by the exact level.

Inverse (coin-margined) contracts: ``qty`` is face value ``Q`` [quote] (open interest and turnover converted by
:func:`heatmap.engine.base.engine_bars`), liquidation prices come from the COIN-M formula
(:func:`heatmap.margin.inverse_liquidation_price`), funding moves ``1/LP`` by
:func:`heatmap.margin.inverse_funding_shift`, and snapshots histogram ``Q`` itself (the quote notional of an
inverse position does not depend on the price).

Continuous leverage laws are discretised with :meth:`Leverage.discretize` (``leverage_nodes`` nodes) and
triangular entries with ``entry_nodes`` equal-probability quantile midpoints per bar. With a discrete leverage
law and point entries it represents exactly what the grid engine represents, which is what the agreement tests
compare.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from heatmap.engine.base import Bars, EngineConfig, Outputs, engine_bars, size_laws
from heatmap.grid import PriceGrid
from heatmap.leverage import Leverage
from heatmap.margin import funding_shift, inverse_funding_shift, liquidation_price

__all__ = ["LedgerEngine", "triangular_quantiles"]

_FIELDS = ("side", "bar", "entry", "leverage", "qty", "lp", "mmr", "funding")


def triangular_quantiles(low: float, mode: float, high: float, n: int) -> NDArray[np.float64]:
    """``n`` equal-probability quantile midpoints of the triangular law on ``[low, high]`` with mode ``mode``.

    Examples
    --------
    >>> triangular_quantiles(0.0, 0.0, 1.0, 2).round(4).tolist()   # ppf(q) = 1 - sqrt(1 - q)
    [0.134, 0.5]
    """
    q = (np.arange(n) + 0.5) / n
    span = high - low
    if span <= 0:
        return np.full(n, float(low))
    c = (mode - low) / span
    left = q < c
    out = np.where(
        left,
        low + np.sqrt(np.clip(q * span * (mode - low), 0.0, None)),
        high - np.sqrt(np.clip((1.0 - q) * span * (high - mode), 0.0, None)),
    )
    return np.asarray(out, dtype=np.float64)


def _nodes(lev: Leverage, n: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    nodes, w = lev.discretize(n)
    return np.asarray(nodes, dtype=np.float64), np.asarray(w, dtype=np.float64)


class LedgerEngine:
    """Cohort engine state and per-bar loop (use through :class:`heatmap.Estimator` with ``engine="ledger"``)."""

    name = "ledger"

    def __init__(self, config: EngineConfig, grid: PriceGrid) -> None:
        self.config = config
        self.grid = grid
        self.spec = self._laws(config.leverage)
        self.passive = self._laws(config.passive_leverage)
        self.same = config.passive_leverage == config.leverage
        self.c: dict[str, NDArray[Any]] = {
            "side": np.zeros(0, np.int8),
            "bar": np.zeros(0, np.int64),
            **{k: np.zeros(0) for k in ("entry", "leverage", "qty", "lp", "mmr", "funding")},
        }
        self.bar = 0

    def _laws(
        self, lev: Leverage
    ) -> list[tuple[float, float, float, float, NDArray[np.float64], NDArray[np.float64]]]:
        """Per position-size node: ``(weight, mmr, cum, notional, leverage nodes, leverage weights)``."""
        return [
            (w, m, cr * n, n, *_nodes(law, self.config.leverage_nodes))
            for w, m, cr, law, n in size_laws(self.config, lev)
        ]

    # -- state ------------------------------------------------------------------------------------------------
    def regrid(self, grid: PriceGrid) -> None:
        self.grid = grid

    def state_arrays(self) -> dict[str, NDArray[Any]]:
        return {**{f"c_{k}": v for k, v in self.c.items()}, "bar": np.array([self.bar], dtype=np.int64)}

    def load_state_arrays(self, arrays: dict[str, NDArray[Any]]) -> None:
        self.c = {k: np.array(arrays[f"c_{k}"]) for k in _FIELDS}
        self.bar = int(arrays["bar"][0])

    def cohorts(self) -> dict[str, NDArray[Any]]:
        """Live cohorts (copies): side (0 long, 1 short), bar, entry, leverage, qty [base] (inverse: face value
        [quote]), lp [quote], mmr, funding (cumulative ``s * f * P`` [quote per unit of base])."""
        return {k: v.copy() for k, v in self.c.items()}

    def _binned(self) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        c, P = self.c, self.grid.n_bins
        idx = self.grid.index_of(c["lp"])
        on = (idx >= 0) & (idx < P) & (c["lp"] > 0)
        inverse = self.config.contract == "inverse"
        out: list[NDArray[np.float64]] = []
        for s in (0, 1):
            m = on & (c["side"] == s)
            value = c["qty"][m] if inverse else c["qty"][m] * c["lp"][m]
            out.append(np.bincount(idx[m], weights=value, minlength=P)[:P].astype(np.float64))
        offgrid = np.array([c["qty"][~on & (c["side"] == s)].sum() for s in (0, 1)])
        return out[0], out[1], offgrid

    def snapshot(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Current liquidation notional per bin [quote] (long, short)."""
        lo, sh, _ = self._binned()
        return lo, sh

    # -- per-bar loop -----------------------------------------------------------------------------------------
    def run(self, bars: Bars, out: Outputs) -> None:
        cfg = self.config
        bars = engine_bars(bars, cfg)
        inverse = cfg.contract == "inverse"
        for t in range(len(bars)):
            c = self.c
            live_long = c["side"] == 0
            # 1. funding: exact per-cohort shift (longs with LP <= 0 can never be liquidated and stay there)
            f = bars.funding[t]
            if f != 0.0 and c["qty"].size and inverse:
                # 1/LP moves by the same amount for every cohort of a side; a short whose 1/LP reaches 0 can
                # no longer be liquidated (LP = inf, kept there), a long's 1/LP at or below 0 means liquidated
                side = np.where(live_long, 1.0, -1.0)
                movable = np.isfinite(c["lp"])
                d = inverse_funding_shift(f, bars.funding_price[t], side, c["mmr"])
                with np.errstate(divide="ignore"):
                    r = 1.0 / c["lp"] + d
                    c["lp"] = np.where(
                        movable, np.where(r > 0, 1.0 / np.where(r > 0, r, 1.0), np.inf), c["lp"]
                    )
                c["funding"] = c["funding"] + side * f * bars.funding_price[t]
            elif f != 0.0 and c["qty"].size:
                movable = c["lp"] > 0
                side = np.where(live_long, 1.0, -1.0)
                d = funding_shift(f, bars.funding_price[t], side, c["mmr"])
                c["lp"] = np.where(movable, c["lp"] + d, c["lp"])
                c["funding"] = c["funding"] + side * f * bars.funding_price[t]
                # a long pushed to or below zero by funding received is out of reach like any long below the grid
            # 2. consumption
            hit_l = live_long & (c["lp"] > 0) & (c["lp"] >= bars.cons_low[t])
            hit_s = ~live_long & (c["lp"] <= bars.cons_high[t])
            liq_q = [float(c["qty"][hit_l].sum()), float(c["qty"][hit_s].sum())]
            if inverse:  # the liquidated quote notional of an inverse position is its face value
                out.liquidations[t] = liq_q
            else:
                out.liquidations[t, 0] = float((c["qty"][hit_l] * c["lp"][hit_l]).sum())
                out.liquidations[t, 1] = float((c["qty"][hit_s] * c["lp"][hit_s]).sum())
            c["qty"] = np.where(hit_l | hit_s, 0.0, c["qty"])
            # 3. reconcile with open interest, turnover
            opened = [0.0, 0.0]
            closed = [0.0, 0.0]
            for s in (0, 1):
                held = float(c["qty"][c["side"] == s].sum())
                net = bars.oi[t] - held
                cl = -net if net < 0 else 0.0
                op = net if net > 0 else 0.0
                tv = bars.turnover[t]
                if tv > 0:
                    tk = min(tv, held - cl)
                    cl += tk
                    op += tk
                if cl > 0:
                    self._close(s, cl, held, bars.close[t])
                opened[s], closed[s] = op, cl
            self._open(bars, t, opened)
            # 4. decay
            decayed = [0.0, 0.0]
            if cfg.decay < 1.0:
                c = self.c
                for s in (0, 1):
                    decayed[s] = float(c["qty"][c["side"] == s].sum()) * (1.0 - cfg.decay)
                c["qty"] = c["qty"] * cfg.decay
            # compaction
            keep = self.c["qty"] > 0
            if not keep.all():
                self.c = {k: v[keep] for k, v in self.c.items()}
            # 5. ledger and snapshot
            lo, sh, offgrid = self._binned()
            c = self.c
            for s in (0, 1):
                held = float(c["qty"][c["side"] == s].sum())
                out.ledger[t, 6 * s : 6 * s + 6] = (
                    opened[s],
                    liq_q[s],
                    closed[s],
                    decayed[s],
                    offgrid[s],
                    held,
                )
            k = out.snap_rows[t]
            if k >= 0:
                out.snap_long[k] = lo
                out.snap_short[k] = sh
            self.bar += 1

    # -- helpers ----------------------------------------------------------------------------------------------
    def _close(self, s: int, amount: float, held: float, price: float) -> None:
        c = self.c
        mine = c["side"] == s
        qty = c["qty"].copy()
        if amount >= held:
            qty[mine] = 0.0
            c["qty"] = qty
            return
        mode = self.config.exit
        if mode == "proportional":
            qty[mine] *= 1.0 - amount / held
            c["qty"] = qty
            return
        idx = np.flatnonzero(mine & (qty > 0))
        sgn = 1.0 if s == 0 else -1.0
        if mode == "oldest":
            key = c["bar"][idx].astype(np.float64)
        elif mode == "profitable":
            key = -sgn * (price / c["entry"][idx] - 1.0)
        else:  # nearest: highest long level / lowest short level first (never-liquidated longs, LP 0, last)
            key = -sgn * c["lp"][idx]
        order = np.argsort(key, kind="stable")
        idx, key = idx[order], key[order]
        # groups of equal key are closed proportionally
        bounds = np.flatnonzero(np.diff(key) != 0) + 1
        rem = amount
        for g in np.split(idx, bounds):
            gsum = float(qty[g].sum())
            if gsum <= 0:
                continue
            take = min(rem, gsum)
            qty[g] *= 1.0 - take / gsum
            rem -= take
            if rem <= 0:
                break
        c["qty"] = qty

    def _open(self, bars: Bars, t: int, amounts: list[float]) -> None:
        cfg = self.config
        if cfg.entry == "triangular" and bars.high[t] > bars.low[t]:
            e = triangular_quantiles(bars.low[t], bars.close[t], bars.high[t], cfg.entry_nodes)
        else:
            e = np.array([bars.entry[t] if cfg.entry != "triangular" else bars.close[t]])
        we = np.full(e.size, 1.0 / e.size)
        new: dict[str, list[NDArray[Any]]] = {k: [] for k in _FIELDS}
        w_long = bars.long_share[t]
        for s, amount in ((0, amounts[0]), (1, amounts[1])):
            if amount <= 0:
                continue
            ws = w_long if s == 0 else 1.0 - w_long
            parts = [(self.spec, 1.0)] if self.same else [(self.spec, ws), (self.passive, 1.0 - ws)]
            for laws, share in parts:
                if share <= 0:
                    continue
                for w_size, mmr, cum, notional, nodes, wl in laws:
                    E2, L2 = np.meshgrid(e, nodes, indexing="ij")
                    E, L = E2.ravel(), L2.ravel()
                    W = (np.outer(we, wl) * amount * share * w_size).ravel()
                    side = "long" if s == 0 else "short"
                    if notional > 0 and cfg.contract == "inverse":
                        # a position of coin notional N at entry: face value N * E, the bracket's cum [coin]
                        lp = liquidation_price(
                            E, L, side, mmr=mmr, cum=cum, qty=notional * E, contract="inverse"
                        )
                    elif notional > 0:  # a position of this entry notional: qty = N / E, the bracket's cum
                        lp = liquidation_price(E, L, side, mmr=mmr, cum=cum, qty=notional / E)
                    else:
                        lp = liquidation_price(E, L, side, mmr=mmr, contract=cfg.contract)
                    self._append(new, s, E, L, W, np.asarray(lp, dtype=np.float64), mmr)
        if new["qty"]:
            self.c = {k: np.concatenate([self.c[k], *new[k]]) for k in _FIELDS}

    def _append(
        self,
        new: dict[str, list[NDArray[Any]]],
        s: int,
        E: NDArray[np.float64],
        L: NDArray[np.float64],
        W: NDArray[np.float64],
        lp: NDArray[np.float64],
        mmr: float,
    ) -> None:
        new["side"].append(np.full(E.size, s, np.int8))
        new["bar"].append(np.full(E.size, self.bar, np.int64))
        new["entry"].append(E)
        new["leverage"].append(L)
        new["qty"].append(W)
        new["lp"].append(lp)
        new["mmr"].append(np.full(E.size, mmr))
        new["funding"].append(np.zeros(E.size))
