"""What both engines share: the resolved configuration, the per-bar inputs and the output buffers.

An engine is a stateful object with ``run(bars, snap, out)`` that advances its state over a chunk of bars and
writes the per-bar ledger, predicted liquidations and the requested snapshots; ``state_arrays()`` /
``load_state_arrays()`` expose its state as plain numpy arrays for checkpoints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from heatmap.leverage import Leverage

__all__ = ["LEDGER_COLUMNS", "Bars", "EngineConfig", "Outputs"]

Entry = Literal["close", "typical", "triangular"]
Exit = Literal["proportional", "oldest", "profitable", "nearest"]

#: Per-bar mass-ledger columns [base]: flows ``opened, liquidated, closed, decayed`` and stocks ``offgrid,
#: held`` (after the bar) per side; ``opened - liquidated - closed - decayed = held - held_before``.
LEDGER_COLUMNS = tuple(
    f"{k}_{side}"
    for side in ("long", "short")
    for k in ("opened", "liquidated", "closed", "decayed", "offgrid", "held")
)


@dataclass(frozen=True)
class EngineConfig:
    """Assumptions resolved into what the engines need.

    Attributes
    ----------
    leverage, passive_leverage : Leverage
        Speculative and passive leverage laws, truncated at the schedule's max leverage.
    mmr : float
        Maintenance-margin rate [fraction] of the schedule's first bracket (small positions, ``cum = 0``).
    entry, exit : str
        Entry-price spread and exit policy (see :class:`heatmap.model.Model`).
    decay : float
        Share of positions kept per bar by the decay step (1: no decay).
    age_blocks : int
        Age blocks of the grid engine: bars' openings are kept in separate rows (merging the two oldest when
        all are used). Needed by the ``"oldest"`` / ``"profitable"`` exits; with more blocks than bars the grid
        engine keeps every bar's levels apart and reproduces the ledger engine on discrete leverage exactly.
    subbins : int
        Sub-bin entry resolution of the grid kernels.
    leverage_nodes, entry_nodes : int
        Discretisation of the ledger engine (continuous leverage laws; triangular entries).
    sizes : tuple of (weight, mmr, cum_over_notional, max_leverage, notional)
        Position-size nodes (from ``Model.position_size``): each size's bracket (taken at the entry notional) and
        leverage cap. Empty: every position in the first bracket with ``cum = 0`` (the default).
    """

    leverage: Leverage
    passive_leverage: Leverage
    mmr: float
    entry: Entry = "close"
    exit: Exit = "proportional"
    decay: float = 1.0
    age_blocks: int = 1
    subbins: int = 32
    leverage_nodes: int = 64
    entry_nodes: int = 16
    sizes: tuple[tuple[float, float, float, float, float], ...] = ()

    def __post_init__(self) -> None:
        if self.entry not in ("close", "typical", "triangular"):
            raise ValueError(f"entry must be 'close', 'typical' or 'triangular', got {self.entry!r}")
        if self.exit not in ("proportional", "oldest", "profitable", "nearest"):
            raise ValueError(
                f"exit must be 'proportional', 'oldest', 'profitable' or 'nearest', got {self.exit!r}"
            )
        if not (0.0 < self.decay <= 1.0):
            raise ValueError(f"decay (share kept per bar) must be in (0, 1], got {self.decay!r}")
        if not (0.0 <= self.mmr < 1.0):
            raise ValueError(f"mmr must be in [0, 1), got {self.mmr!r}")
        for i, node in enumerate(self.sizes):
            if len(node) != 5 or not (node[0] > 0 and 0 <= node[1] < 1 and node[2] >= 0 and node[3] >= 1):
                raise ValueError(
                    f"sizes[{i}] = {node!r}: expected (weight > 0, mmr in [0, 1), cum/N >= 0, max lev >= 1, N)"
                )
        for name in ("age_blocks", "subbins", "leverage_nodes", "entry_nodes"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")


@dataclass
class Bars:
    """Per-bar inputs of a chunk (all arrays of length n, float64)."""

    time: NDArray[np.int64]  # bar open time [ns since epoch, UTC]
    low: NDArray[np.float64]  # trade low [quote]
    high: NDArray[np.float64]
    close: NDArray[np.float64]
    cons_low: NDArray[np.float64]  # low used for consumption (mark when present) [quote]
    cons_high: NDArray[np.float64]
    entry: NDArray[np.float64]  # point entry price (close or typical) [quote]
    funding: NDArray[np.float64]  # funding rate settled in the bar [fraction] (0 when funding is off)
    funding_price: NDArray[np.float64]  # mark (or trade) open [quote]
    oi: NDArray[np.float64]  # open interest at bar close [base]
    long_share: NDArray[np.float64]  # speculative share of new long positions [fraction]
    turnover: NDArray[np.float64]  # turnover quantity opened and closed in the bar [base]

    def __len__(self) -> int:
        return int(self.time.size)

    def slice(self, a: int, b: int) -> Bars:
        return Bars(**{k: v[a:b] for k, v in self.__dict__.items()})


@dataclass
class Outputs:
    """Buffers an engine fills for one chunk."""

    ledger: NDArray[np.float64]  # (n, 12), LEDGER_COLUMNS
    liquidations: NDArray[np.float64]  # (n, 2) [quote] long, short
    snap_long: NDArray[Any]  # (k, P) [quote]
    snap_short: NDArray[Any]
    snap_rows: NDArray[np.intp]  # (n,) row of the snapshot to write after bar i, or -1

    @classmethod
    def allocate(cls, n: int, snap_mask: NDArray[np.bool_], bins: int, dtype: Any = np.float32) -> Outputs:
        rows = np.full(n, -1, dtype=np.intp)
        k = int(snap_mask.sum())
        rows[snap_mask] = np.arange(k)
        return cls(
            ledger=np.zeros((n, len(LEDGER_COLUMNS))),
            liquidations=np.zeros((n, 2)),
            snap_long=np.zeros((k, bins), dtype=dtype),
            snap_short=np.zeros((k, bins), dtype=dtype),
            snap_rows=rows,
        )


def decay_factor(half_life: Any, freq: Any) -> float:
    """Share kept per bar for a half-life (``None``: 1)."""
    if half_life is None:
        return 1.0
    import pandas as pd

    hl = pd.Timedelta(half_life)
    if hl <= pd.Timedelta(0):
        raise ValueError(f"decay_half_life must be a positive duration, got {half_life!r}")
    return float(math.exp(-math.log(2.0) * (pd.Timedelta(freq) / hl)))


def size_laws(config: EngineConfig, leverage: Leverage) -> list[tuple[float, float, float, Leverage, float]]:
    """Per position-size node: ``(weight, mmr, cum/N, leverage law capped at the bracket, notional N)``."""
    if not config.sizes:
        return [(1.0, config.mmr, 0.0, leverage, 0.0)]
    out = []
    for w, mmr, c, max_lev, notional in config.sizes:
        lev = leverage
        if lev.max_leverage > max_lev:
            try:
                lev = lev.truncate(max_lev)
            except ValueError:  # no tier inside the cap: such positions take the cap
                lev = lev.truncate(max_lev, excess="cap")
        out.append((w, mmr, c, lev, notional))
    return out
