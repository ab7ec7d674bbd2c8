"""Fast engine: per-side position mass on a log-price grid, shift-invariant liquidation-price kernels.

:class:`GridEngine` holds the state and the kernels; its per-bar loop is :func:`heatmap.engine.loop.run_bars`
(compiled with numba, or the same source in plain Python). State per side: mass and within-bin first and second
moments per bin and row (one row, or one per age block for the ``"oldest"`` and ``"profitable"`` exits), mass held without
a level, mass held (see :class:`heatmap.engine.loop.State`).

**Store grid.** The state lives on the price grid extended by :data:`MARGIN` (a factor 2 in price) on both
sides, with the same log step, or ``resolution`` times finer (:attr:`EngineConfig.resolution`: snapshots sum
the store bins of each price bin). Positions whose liquidation level lies beyond the price grid keep their level
there: when the price grid grows (a streamed market leaving a user-given grid) they are already in place, and
streaming in chunks gives the batch result. Only levels beyond the margins (long leverage <= 1, longs below half
the grid's lower edge, shorts above twice its upper edge) are held without a level. Snapshots read the window
of the price grid; the ledger's ``offgrid`` column counts everything outside it.

See ``docs/methodology.md`` for the equations and :mod:`heatmap.engine.ledger` for the exact reference.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from heatmap.engine import loop
from heatmap.engine.base import Bars, EngineConfig, Outputs, engine_bars, size_laws
from heatmap.engine.kernels import Kernel, build_kernel, combine_kernels
from heatmap.grid import PriceGrid
from heatmap.leverage import Leverage

__all__ = ["MARGIN", "GridEngine", "refined", "store_grid"]

#: Margin of the store grid beyond each end of the price grid [log price]: a factor 2.
MARGIN = math.log(2.0)

_SIDES = ("long", "short")


def refined(grid: PriceGrid, resolution: int) -> PriceGrid:
    """``grid`` with every bin cut into ``resolution`` bins of equal log width (its own edges kept exactly).

    Examples
    --------
    >>> refined(PriceGrid.log_spaced(100.0, 400.0, bins=2), 2).edges.round(6).tolist()
    [100.0, 141.421356, 200.0, 282.842712, 400.0]
    """
    if resolution == 1:
        return grid
    e = grid.edges
    step = grid.log_step / resolution
    fine = np.exp(np.log(e[:-1])[:, None] + step * np.arange(resolution)[None, :])
    fine[:, 0] = e[:-1]
    return PriceGrid(np.concatenate([fine.ravel(), e[-1:]]))


def store_grid(
    grid: PriceGrid, below: int | None = None, above: int | None = None, resolution: int = 1
) -> PriceGrid:
    """``grid`` at ``resolution`` store bins per bin (:func:`refined`), extended by :data:`MARGIN` on both sides
    (or by ``below`` / ``above`` whole store bins).

    Examples
    --------
    >>> g = PriceGrid.log_spaced(100.0, 200.0, bins=10)
    >>> s = store_grid(g)
    >>> s.n_bins, g.offset_in(s), round(float(s.edges[0]), 9), round(float(s.edges[-1]), 9)
    (30, 10, 50.0, 400.0)
    >>> store_grid(g, resolution=2).n_bins
    60
    """
    fine = refined(grid, resolution)
    h = fine.log_step
    lo = math.log(grid.edges[0]) - (MARGIN if below is None else below * h)
    hi = math.log(grid.edges[-1]) + (MARGIN if above is None else above * h)
    return fine.extend(math.exp(lo), math.exp(hi))


class GridEngine:
    """Grid engine state, kernels and per-bar loop (use through :class:`heatmap.Estimator`).

    Attributes
    ----------
    backend : str or None
        ``"numba"`` or ``"python"``: how the last :meth:`run` ran its loop (None before the first).
    """

    name = "grid"

    def __init__(self, config: EngineConfig, grid: PriceGrid) -> None:
        self.config = config
        self.grid = grid
        self.store = store_grid(grid, resolution=config.resolution)
        B = config.age_blocks
        P = self.store.n_bins
        self.state = loop.State(
            qz=np.zeros((2, B, P, 3)),
            scale=np.ones(2),
            off=np.zeros((2, B)),
            tot=np.zeros((2, B)),
            ints=np.array([0, P, 1 if B == 1 else 0, 0], dtype=np.int64),
            order=np.zeros(B + 1, dtype=np.int64),
            block_bar=np.full(B, -1, dtype=np.int64),
            block_entry=np.zeros(B),
        )
        self.backend: str | None = None
        self._build()

    # -- kernels ----------------------------------------------------------------------------------------------
    def _build(self) -> None:
        c, s = self.config, self.store
        kw: dict[str, Any] = {"log_step": s.log_step, "span": s.n_bins + 2, "subbins": c.subbins}
        if c.contract != "linear":
            kw["contract"] = c.contract

        def kernel(lev: Leverage, side: str) -> Kernel:
            # one kernel per position-size node (its bracket and leverage cap), mixed by the size weights
            parts = [
                (w, build_kernel(law, side, mmr=m, cum_ratio=cr, **kw))  # type: ignore[arg-type]
                for w, m, cr, law, _ in size_laws(c, lev)
            ]
            return combine_kernels(parts)

        k_spec = {side: kernel(c.leverage, side) for side in _SIDES}
        same = c.passive_leverage == c.leverage
        k_pass = k_spec if same else {side: kernel(c.passive_leverage, side) for side in _SIDES}
        self.kernels = _pack([[k_spec[side], k_pass[side]] for side in _SIDES])
        self.params = loop.Params(
            edges=np.ascontiguousarray(s.edges, dtype=np.float64),
            h=float(s.log_step),
            lx0=float(math.log(s.edges[0])),
            w0=int(refined(self.grid, c.resolution).offset_in(s)),
            wn=int(self.grid.n_bins * c.resolution),
            res=int(c.resolution),
            subbins=int(c.subbins),
            mmr=float(c.mmr),
            decay=float(c.decay),
            entry_code=loop.ENTRY_CODES[c.entry],
            exit_code=loop.EXIT_CODES[c.exit],
            # discrete leverage: every bin holds a few exact levels, moved and consumed as points; continuous laws
            # spread content through the bins, moved and consumed as blocks of its width
            point_levels=bool(c.leverage.is_discrete and c.passive_leverage.is_discrete),
            same=bool(same),
            inverse=c.contract == "inverse",
        )

    def regrid(self, grid: PriceGrid) -> None:
        """Move the state onto ``grid`` (an extension of the current grid, see :meth:`PriceGrid.extend`)."""
        want = store_grid(grid, resolution=self.config.resolution)
        new = self.store.extend(
            min(want.edges[0], self.store.edges[0]), max(want.edges[-1], self.store.edges[-1])
        )
        self._move(new)
        self.grid = grid
        self._build()

    def _move(self, new: PriceGrid) -> None:
        """Put the state on the store grid ``new`` (an extension of the current one)."""
        off = self.store.offset_in(new)
        st = self.state
        P0, P = self.store.n_bins, new.n_bins
        if P != P0:
            qz = np.zeros((2, st.qz.shape[1], P, 3))
            qz[:, :, off : off + P0] = st.qz
            hi, lo = int(st.ints[0]), int(st.ints[1])
            ints = st.ints.copy()
            ints[0] = hi + off
            ints[1] = lo + off if lo < P0 else P
            self.state = st._replace(qz=qz, ints=ints)
        self.store = new

    # -- state ------------------------------------------------------------------------------------------------
    def _margins(self) -> tuple[int, int]:
        """Bins of the store grid below and above the price grid."""
        k = self.config.resolution
        w0 = refined(self.grid, k).offset_in(self.store)
        return w0, self.store.n_bins - w0 - self.grid.n_bins * k

    def state_arrays(self) -> dict[str, NDArray[Any]]:
        """The state as plain arrays (a checkpoint; see :meth:`load_state_arrays`)."""
        st = self.state
        return {
            "mass": np.ascontiguousarray(st.qz[..., 0]),
            "mom": np.ascontiguousarray(st.qz[..., 1]),
            "mom2": np.ascontiguousarray(st.qz[..., 2]),
            "off": st.off.copy(),
            "tot": st.tot.copy(),
            "bounds": np.array([st.ints[0], st.ints[1], st.ints[3]], dtype=np.int64),
            "store": np.array(self._margins(), dtype=np.int64),
            "scale": st.scale.copy(),
            "order": st.order[: int(st.ints[2])].copy(),
            "block_bar": st.block_bar.copy(),
            "block_entry": st.block_entry.copy(),
        }

    def load_state_arrays(self, arrays: dict[str, NDArray[Any]]) -> None:
        """Restore a state saved by :meth:`state_arrays` (on the same price grid)."""
        below, above = (int(x) for x in arrays["store"])
        if (below, above) != self._margins():
            self._move(store_grid(self.grid, below, above, self.config.resolution))
            self._build()
        st = self.state
        if arrays["mass"].shape != st.qz.shape[:-1]:
            raise ValueError(f"state mass has shape {arrays['mass'].shape}, expected {st.qz.shape[:-1]}")
        order = np.zeros_like(st.order)
        n = int(arrays["order"].size)
        order[:n] = arrays["order"]
        hi, lo, bar = (int(x) for x in arrays["bounds"])
        self.state = loop.State(
            qz=np.ascontiguousarray(
                np.stack([arrays["mass"], arrays["mom"], arrays["mom2"]], axis=-1), dtype=np.float64
            ),
            scale=np.array(arrays["scale"], dtype=np.float64),
            off=np.array(arrays["off"], dtype=np.float64),
            tot=np.array(arrays["tot"], dtype=np.float64),
            ints=np.array([hi, lo, n, bar], dtype=np.int64),
            order=order,
            block_bar=np.array(arrays["block_bar"], dtype=np.int64),
            block_entry=np.array(arrays["block_entry"], dtype=np.float64),
        )

    def fork(self) -> GridEngine:
        """A copy whose state advances independently (kernels and parameters, read-only, shared)."""
        clone = copy.copy(self)
        clone.state = loop.State(*(a.copy() for a in self.state))
        return clone

    def levels(
        self, side: int, rows: NDArray[np.int64] | None = None
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Mass [base] (inverse: face value [quote]) and level price [quote] of every non-empty bin and row of
        ``side`` (0 long, 1 short) on the store grid; ``rows`` restricts to some rows (default: all)."""
        qz = self.state.qz[side] if rows is None else self.state.qz[side][np.asarray(rows, dtype=np.int64)]
        q, z = qz[..., 0], qz[..., 1]
        r, j = np.nonzero(q > 0)
        price = self.store.edges[j] * np.exp(self.store.log_step * z[r, j] / q[r, j])
        return q[r, j] * self.state.scale[side], price

    def snapshot(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Current liquidation notional per price-grid bin [quote] (long, short): mass × level price (inverse:
        face value)."""
        return loop.read(self.state, self.params, 0), loop.read(self.state, self.params, 1)

    # -- per-bar loop -----------------------------------------------------------------------------------------
    def run(self, bars: Bars, out: Outputs) -> None:
        """Process ``bars``, writing per-bar tables and snapshots into ``out`` (see :mod:`heatmap.engine.loop`).

        Inverse contracts (``config.contract == "inverse"``): open interest and turnover are taken as face value
        (:func:`heatmap.engine.base.engine_bars`).
        """
        b = engine_bars(bars, self.config)
        inputs = loop.BarInputs(
            *(
                np.require(x, np.float64, ["C"])
                for x in (
                    b.funding,
                    b.funding_price,
                    b.cons_low,
                    b.cons_high,
                    b.oi,
                    b.long_share,
                    b.turnover,
                    b.entry,
                    b.low,
                    b.high,
                    b.close,
                )
            )
        )
        buffers = loop.Out(
            rows=np.require(out.snap_rows, np.int64, ["C"]),
            ledger=out.ledger,
            liquidations=out.liquidations,
            snap_long=out.snap_long,
            snap_short=out.snap_short,
        )
        self.backend = loop.run(self.state, self.params, self.kernels, inputs, buffers)


def _pack(ks: list[list[Kernel]]) -> loop.Kernels:
    """The four kernels (side × speculative/passive) as padded arrays."""
    S = ks[0][0].weights.shape[0]
    n = max(k.weights.shape[1] for row in ks for k in row)
    na = max((0 if k.atoms is None else k.atoms.size) for row in ks for k in row) or 1
    kz = np.zeros((2, 2, S, n, 3))
    cum = np.zeros((2, 2, S, n + 1))
    kzu = np.zeros((2, 2, n, 3))
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
            kz[si, ki, :, :m, 2] = k.moments2
            cum[si, ki, :, : m + 1] = k.cumw
            kzu[si, ki, :m, 0] = k.uniform
            kzu[si, ki, :m, 1] = k.moments_uniform
            kzu[si, ki, :m, 2] = k.moments2_uniform
            cumu[si, ki, : m + 1] = k.cumu
            if k.atoms is not None and k.atom_weights is not None:
                alen[si, ki] = k.atoms.size
                atoms[si, ki, : k.atoms.size] = k.atoms
                aw[si, ki, : k.atoms.size] = k.atom_weights
    return loop.Kernels(kz, cum, kzu, cumu, klen, koff, atoms, aw, alen)
