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

Discretisation (the only approximation; its node counts are :class:`EngineConfig` fields, set with the
``leverage_nodes`` / ``entry_nodes`` arguments of :func:`heatmap.estimate`): triangular entries become the
``entry_nodes`` equal-probability quantile midpoints of the bar's law (``scipy.stats.triang.ppf``); discrete
leverage tiers are kept exactly (every tier at every entry node); a continuous leverage law becomes
``leverage_nodes`` nodes *per entry node*, placed at the exact quantile midpoints of the ``leverage_nodes x
entry_nodes`` finer partition of its probability and stratified over the entry nodes (entry node ``j`` takes
every ``entry_nodes``-th of them, shifted by a fixed permutation of ``j``). The leverage marginal of a bar's
cohorts is then the quantile discretisation with ``leverage_nodes x entry_nodes`` distinct levels at the cost of
``leverage_nodes x entry_nodes`` cohorts, which is what makes the per-bin histogram converge (see the
convergence study in ``docs/methodology.md``). A bar with a point entry (``close``, ``typical``, or a bar with
no range) has one entry node carrying all ``leverage_nodes x entry_nodes`` quantile midpoints, so the cost and
resolution per bar do not depend on the entry mode. With a discrete leverage law and point entries it represents
exactly what the grid engine represents.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from heatmap.engine.base import Bars, EngineConfig, Outputs, engine_bars, size_laws
from heatmap.grid import PriceGrid
from heatmap.leverage import Leverage
from heatmap.margin import funding_shift, inverse_funding_shift, liquidation_price

_SizeNodes = tuple[float, float, float, float, NDArray[np.float64], NDArray[np.float64]]

__all__ = ["LedgerEngine", "entry_quantiles", "leverage_quantiles"]

_FIELDS = ("side", "bar", "entry", "leverage", "qty", "lp", "mmr", "funding")


def entry_quantiles(low: float, mode: float, high: float, n: int) -> NDArray[np.float64]:
    """``n`` equal-probability quantile midpoints [quote] of the triangular law on ``[low, high]`` with mode ``mode``.

    Examples
    --------
    >>> entry_quantiles(0.0, 0.0, 1.0, 2).round(4).tolist()   # ppf(q) = 1 - sqrt(1 - q)
    [0.134, 0.5]
    """
    q = (np.arange(n) + 0.5) / n
    span = high - low
    if span <= 0:
        return np.full(n, float(low))
    return np.asarray(stats.triang.ppf(q, (mode - low) / span, loc=low, scale=span), dtype=np.float64)


def _stride(n: int) -> int:
    """A step coprime with ``n`` near ``n / golden ratio``: ``j -> j * step mod n`` spreads neighbours apart."""
    step = max(1, round(n * 0.6180339887))
    while math.gcd(step, n) != 1:
        step += 1
    return step % n if n > 1 else 0


def leverage_quantiles(
    law: Leverage, n: int, per_entry: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Leverage nodes ``(per_entry, k)`` and weights ``(per_entry, k)`` (each row sums to 1) of ``law``.

    Discrete parts keep their tiers exactly (the same in every row). A continuous part of weight ``w`` is cut
    into ``n * per_entry`` equal-probability cells whose quantile midpoints are dealt to the rows in strides:
    row ``j`` takes cells ``k * per_entry + sigma(j)`` (``k < n``), each of weight ``w / n``, with ``sigma`` a
    fixed permutation, so every row is a stratified ``n``-node sample of the law and all rows together are its
    ``n * per_entry``-node quantile discretisation.

    Examples
    --------
    >>> nodes, w = leverage_quantiles(Leverage.tiers({10: 0.5, 50: 0.5}), 8, per_entry=3)
    >>> nodes.shape, nodes[2].tolist(), w[2].tolist()
    ((3, 2), [10.0, 50.0], [0.5, 0.5])
    >>> nodes, w = leverage_quantiles(Leverage.lognormal(median=10, sigma=0.5), 4, per_entry=2)
    >>> nodes.shape, float(w.sum(axis=1)[0])
    ((2, 4), 1.0)
    """
    parts = [(1.0, law)] if law.kind != "mixture" else list(zip(law.weights, law.parts, strict=True))
    rows_n: list[NDArray[np.float64]] = []
    rows_w: list[NDArray[np.float64]] = []
    sigma = (np.arange(per_entry) * _stride(per_entry)) % per_entry
    for weight, part in parts:
        if part.is_discrete:
            nodes, w = part.discretize(n)
            rows_n.append(np.tile(np.asarray(nodes, dtype=np.float64), (per_entry, 1)))
            rows_w.append(np.tile(float(weight) * np.asarray(w, dtype=np.float64), (per_entry, 1)))
            continue
        cells = np.arange(n)[None, :] * per_entry + sigma[:, None]
        rows_n.append(np.asarray(part.quantile((cells + 0.5) / (n * per_entry)), dtype=np.float64))
        rows_w.append(np.full((per_entry, n), float(weight) / n))
    return np.concatenate(rows_n, axis=1), np.concatenate(rows_w, axis=1)


class LedgerEngine:
    """Cohort engine state and per-bar loop (use through :class:`heatmap.Estimator` with ``engine="ledger"``)."""

    name = "ledger"

    def __init__(self, config: EngineConfig, grid: PriceGrid) -> None:
        self.config = config
        self.grid = grid
        self.same = config.passive_leverage == config.leverage
        # per entry-node count (1: point entries, entry_nodes: a spread bar): the laws' nodes per size node
        self._tables: dict[tuple[bool, int], list[_SizeNodes]] = {}
        self.c: dict[str, NDArray[Any]] = {
            "side": np.zeros(0, np.int8),
            "bar": np.zeros(0, np.int64),
            **{k: np.zeros(0) for k in ("entry", "leverage", "qty", "lp", "mmr", "funding")},
        }
        self.bar = 0

    def _laws(self, passive: bool, per_entry: int) -> list[_SizeNodes]:
        """Per position-size node: ``(weight, mmr, cum, notional, leverage nodes, leverage weights)``, the nodes
        and weights of shape ``(per_entry, k)`` (see :func:`leverage_quantiles`)."""
        key = (passive, per_entry)
        if key not in self._tables:
            cfg = self.config
            lev = cfg.passive_leverage if passive else cfg.leverage
            # a bar's cohorts carry leverage_nodes x entry_nodes levels of a continuous law, whatever the entries
            n_lev = cfg.leverage_nodes * cfg.entry_nodes // per_entry
            self._tables[key] = [
                (w, m, cr * n, n, *leverage_quantiles(law, n_lev, per_entry))
                for w, m, cr, law, n in size_laws(cfg, lev)
            ]
        return self._tables[key]

    # -- state ------------------------------------------------------------------------------------------------
    def regrid(self, grid: PriceGrid) -> None:
        self.grid = grid

    def state_arrays(self) -> dict[str, NDArray[Any]]:
        return {**{f"c_{k}": v for k, v in self.c.items()}, "bar": np.array([self.bar], dtype=np.int64)}

    def load_state_arrays(self, arrays: dict[str, NDArray[Any]]) -> None:
        self.c = {k: np.array(arrays[f"c_{k}"]) for k in _FIELDS}
        self.bar = int(arrays["bar"][0])

    def fork(self) -> LedgerEngine:
        """A copy whose cohorts advance independently (the node tables are shared)."""
        clone = copy.copy(self)
        clone.c = dict(self.c)  # the loop replaces arrays in the dict, never writes into them
        return clone

    def cohorts(self) -> dict[str, NDArray[Any]]:
        """Live cohorts (copies): side (0 long, 1 short), bar, entry, leverage, qty [base] (inverse: face value
        [quote]), lp [quote], mmr, funding (cumulative ``s * f * P`` [quote per unit of base])."""
        return {k: v.copy() for k, v in self.c.items()}

    def _offgrid(self) -> NDArray[np.float64]:
        """Mass per side [engine unit] whose level is not on the grid (beyond an edge, or a long at LP <= 0)."""
        c, edges = self.c, self.grid.edges
        off = ~((c["lp"] >= edges[0]) & (c["lp"] < edges[-1]))
        return np.array([c["qty"][off & (c["side"] == s)].sum() for s in (0, 1)])

    def snapshot(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Current liquidation notional per bin [quote] (long, short): ``qty x LP`` (inverse: ``qty``) by level."""
        c, P = self.c, self.grid.n_bins
        idx = self.grid.index_of(c["lp"])
        on = (idx >= 0) & (idx < P)
        inverse = self.config.contract == "inverse"
        out: list[NDArray[np.float64]] = []
        for s in (0, 1):
            m = on & (c["side"] == s)
            value = c["qty"][m] if inverse else c["qty"][m] * c["lp"][m]
            out.append(np.bincount(idx[m], weights=value, minlength=P)[:P].astype(np.float64))
        return out[0], out[1]

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
            offgrid = self._offgrid()
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
                out.snap_long[k], out.snap_short[k] = self.snapshot()
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
            e = entry_quantiles(bars.low[t], bars.close[t], bars.high[t], cfg.entry_nodes)
        else:
            e = np.array([bars.entry[t] if cfg.entry != "triangular" else bars.close[t]])
        new: dict[str, list[NDArray[Any]]] = {k: [] for k in _FIELDS}
        w_long = bars.long_share[t]
        for s, amount in ((0, amounts[0]), (1, amounts[1])):
            if amount <= 0:
                continue
            ws = w_long if s == 0 else 1.0 - w_long
            parts = [(False, 1.0)] if self.same else [(False, ws), (True, 1.0 - ws)]
            for passive, share in parts:
                if share <= 0:
                    continue
                for w_size, mmr, cum, notional, nodes, wl in self._laws(passive, e.size):
                    # entry node j carries its own row of leverage nodes, each with weight wl / e.size
                    E = np.repeat(e, nodes.shape[1])
                    L = nodes.ravel()
                    W = wl.ravel() * (amount * share * w_size / e.size)
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
