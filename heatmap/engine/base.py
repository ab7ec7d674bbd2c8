"""What both engines share: the resolved configuration, the per-bar inputs, the output buffers, the interface.

An engine (:class:`Engine`) is a stateful object with ``run(bars, out)`` that advances its state over a chunk of
bars and writes the per-bar ledger, predicted liquidations and the requested snapshots; ``state_arrays()`` /
``load_state_arrays()`` expose its state as plain numpy arrays for checkpoints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from heatmap.leverage import Leverage

if TYPE_CHECKING:
    from heatmap.grid import PriceGrid

__all__ = [
    "DEFAULT_ENTRY_NODES",
    "DEFAULT_LEVERAGE_NODES",
    "LEDGER_COLUMNS",
    "Bars",
    "Engine",
    "EngineConfig",
    "Outputs",
    "engine_bars",
]

Entry = Literal["close", "typical", "triangular"]
Exit = Literal["proportional", "oldest", "profitable", "nearest"]
Contract = Literal["linear", "inverse"]

#: Ledger engine discretisation (see :mod:`heatmap.engine.ledger`): continuous-law leverage nodes per entry node
#: and entry nodes per spread bar, chosen from the convergence study in ``docs/methodology.md``.
DEFAULT_LEVERAGE_NODES = 64
DEFAULT_ENTRY_NODES = 128

#: Per-bar mass-ledger columns in the engine's mass unit ([base] for linear contracts, face value [quote] for
#: inverse ones, see :func:`engine_bars`): flows ``opened, liquidated, closed, decayed`` and stocks ``offgrid,
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
    resolution : int
        Store-grid bins per price-grid bin of the grid engine (snapshots sum them). A bin keeps its content's
        mass, mean and spread only, so levels that share a bin move with funding as one profile; finer store
        bins keep more of them apart (see ``docs/methodology.md`` §3).
    leverage_nodes, entry_nodes : int
        Discretisation of the ledger engine: nodes of a continuous leverage law per entry node, and entry nodes
        of a triangular (spread) bar (see :mod:`heatmap.engine.ledger`).
    sizes : tuple of (weight, mmr, cum_over_notional, max_leverage, notional)
        Position-size nodes (from ``Model.position_size``): each size's bracket (taken at the entry notional) and
        leverage cap. Empty: every position in the first bracket with ``cum = 0`` (the default). ``notional`` and
        ``cum`` are in the bracket table's unit: [quote] for linear contracts, [coin] for inverse ones (a node is
        a position of that coin notional at entry, i.e. face value ``notional * entry`` [quote]).
    contract : {"linear", "inverse"}, default "linear"
        Linear (USDⓈ-margined): the engines' mass is base quantity [base] and a cell holds ``qty * LP`` [quote].
        Inverse (coin-margined): the mass is face value ``Q`` [quote] (constant in price), a cell holds ``Q``,
        liquidation prices follow the COIN-M form and funding moves levels in reciprocal price (see
        ``docs/methodology.md``).
    """

    leverage: Leverage
    passive_leverage: Leverage
    mmr: float
    entry: Entry = "close"
    exit: Exit = "proportional"
    decay: float = 1.0
    age_blocks: int = 1
    subbins: int = 32
    resolution: int = 1
    leverage_nodes: int = DEFAULT_LEVERAGE_NODES
    entry_nodes: int = DEFAULT_ENTRY_NODES
    sizes: tuple[tuple[float, float, float, float, float], ...] = ()
    contract: Contract = "linear"

    def __post_init__(self) -> None:
        if self.contract not in ("linear", "inverse"):
            raise ValueError(f"contract must be 'linear' or 'inverse', got {self.contract!r}")
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
    oi: NDArray[np.float64]  # open interest at bar close [base] (engine mass unit after engine_bars)
    long_share: NDArray[np.float64]  # speculative share of new long positions [fraction]
    turnover: NDArray[np.float64]  # turnover quantity opened and closed in the bar [base] (idem)

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


class Engine(Protocol):
    """What the estimator needs of an engine (the grid engine and the ledger engine implement it)."""

    name: str
    config: EngineConfig
    grid: PriceGrid

    def run(self, bars: Bars, out: Outputs) -> None:
        """Advance the state over ``bars``, writing per-bar ledger, liquidations and snapshots into ``out``."""

    def regrid(self, grid: PriceGrid) -> None:
        """Move the state onto ``grid``, an extension of the current grid (:meth:`PriceGrid.extend`)."""

    def snapshot(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Current liquidation notional per bin [quote]: (long, short)."""

    def state_arrays(self) -> dict[str, NDArray[Any]]:
        """The state as plain numpy arrays (checkpoints)."""

    def load_state_arrays(self, arrays: dict[str, NDArray[Any]]) -> None:
        """Restore :meth:`state_arrays` (arrays already checked against the grid by the caller)."""

    def fork(self) -> Engine:
        """An engine whose state advances independently of this one (read-only parts such as kernels may be
        shared); :meth:`heatmap.Estimator.update` runs on a fork and commits it, so a failure leaves this one."""


def engine_bars(bars: Bars, config: EngineConfig) -> Bars:
    """``bars`` with open interest and turnover in the engine's mass unit for ``config.contract``.

        Linear contracts: unchanged (base quantity [base]). Inverse contracts: the engines count face value ``Q``
        [quote] (an inverse position's quote notional, constant in price), so open interest at the bar's close
        becomes ``oi * close`` [quote] (the face value a venue reports in contracts, which the market data divides
        by the same price to state it in coins) and the turnover opened at the entry price becomes
        ``turnover * entry`` [quote].

        Examples
        --------
        >>> import numpy as np
        >>> from heatmap.leverage import Leverage

    if TYPE_CHECKING:
        from heatmap.grid import PriceGrid
        >>> one = np.ones(1)
        >>> b = Bars(time=np.zeros(1, np.int64), low=one, high=one, close=np.array([50.0]), cons_low=one,
        ...          cons_high=one, entry=np.array([40.0]), funding=0 * one, funding_price=one,
        ...          oi=np.array([2.0]), long_share=one, turnover=np.array([0.5]))
        >>> cfg = EngineConfig(Leverage.tiers({10: 1.0}), Leverage.tiers({10: 1.0}), 0.004, contract="inverse")
        >>> inv = engine_bars(b, cfg)
        >>> float(inv.oi[0]), float(inv.turnover[0])
        (100.0, 20.0)
    """
    if config.contract == "linear":
        return bars
    fields = dict(bars.__dict__)
    fields["oi"] = bars.oi * bars.close
    fields["turnover"] = bars.turnover * bars.entry
    return Bars(**fields)


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
