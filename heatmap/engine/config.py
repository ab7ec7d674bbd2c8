"""``Model`` + market -> :class:`~heatmap.engine.base.EngineConfig`: every assumption resolved in one place.

:func:`resolve_config` is the only function that reads a :class:`~heatmap.model.Model` for the engines: the margin
schedule (contract type, first-bracket rate, maximum leverage), position-size nodes and their brackets, the
decay per bar of the market's bar length, the grid engine's age blocks and the ledger engine's node counts.
The per-bar side split is :func:`heatmap.model.long_share_arrays` (one implementation for batch and streams).

Examples
--------
>>> import pandas as pd
>>> from heatmap.model import Model
>>> cfg = resolve_config(Model(decay_half_life="1D"), pd.Timedelta("12h"))
>>> cfg.contract, cfg.entry, round(cfg.decay, 6), cfg.age_blocks
('linear', 'triangular', 0.707107, 1)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from heatmap.engine.base import (
    DEFAULT_ENTRY_NODES,
    DEFAULT_LEVERAGE_NODES,
    Engine,
    EngineConfig,
    decay_factor,
)

if TYPE_CHECKING:
    from heatmap.grid import PriceGrid
    from heatmap.model import Model

__all__ = [
    "DEFAULT_AGE_BLOCKS",
    "DEFAULT_ENTRY_NODES",
    "DEFAULT_LEVERAGE_NODES",
    "SIZE_NODES",
    "default_resolution",
    "make_engine",
    "resolve_config",
]

#: Age blocks of the grid engine for the "oldest" and "profitable" exits (see :class:`EngineConfig`).
DEFAULT_AGE_BLOCKS = 256
#: Nodes used to discretise a continuous position-size distribution.
SIZE_NODES = 12


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: got {value!r}; allowed is a positive integer or None")
    return int(value)


def resolve_config(
    model: Model,
    freq: pd.Timedelta,
    age_blocks: int | None = None,
    *,
    reference_price: float | None = None,
    leverage_nodes: int | None = None,
    entry_nodes: int | None = None,
    resolution: int | None = None,
) -> EngineConfig:
    """The engine configuration of ``model`` for bars of length ``freq``.

    Parameters
    ----------
    model : Model
    freq : pandas.Timedelta
        Bar length (turns ``decay_half_life`` into a share kept per bar).
    age_blocks : int, optional
        Grid engine age blocks; default 1, or :data:`DEFAULT_AGE_BLOCKS` for the "oldest"/"profitable" exits.
    reference_price : float, optional
        [quote] Inverse schedules with ``position_size``: the price converting sizes [quote] to the coin
        notional the brackets are in (the estimator uses the first bar's close).
    leverage_nodes, entry_nodes : int, optional
        Ledger engine discretisation (default :data:`DEFAULT_LEVERAGE_NODES`, :data:`DEFAULT_ENTRY_NODES`).
    resolution : int, optional
        Grid engine store bins per price bin; default :func:`default_resolution`.

    Notes
    -----
    The contract type comes from the schedule (``schedule.contract``). Inverse brackets are in coin: a
    position-size node of face value ``N`` [quote] takes the bracket of the coin notional ``N / reference_price``
    [coin] and is stored in coin (see :class:`EngineConfig`).
    """
    schedule = model.resolved_schedule()
    contract = schedule.contract
    mmr = float(np.asarray(schedule.mmr)[0])
    sizes: tuple[tuple[float, float, float, float, float], ...] = ()
    if model.position_size is not None and contract == "inverse":
        if reference_price is None or not (math.isfinite(reference_price) and reference_price > 0):
            raise ValueError(
                f"reference_price: got {reference_price!r}; an inverse schedule with position_size needs a price "
                "> 0 [quote] to convert sizes [quote] to the coin notional its brackets are in"
            )
        ref = float(reference_price)

        class _InCoin:  # the schedule looked up at quote notionals converted to coin
            @staticmethod
            def lookup(notional: Any, *, clip: bool = False) -> Any:
                return schedule.lookup(np.asarray(notional, dtype=float) / ref, clip=clip)

        sizes = tuple(
            (w, m, cr * ref, ml, n / ref) for w, m, cr, ml, n in _size_nodes(model.position_size, _InCoin)
        )
        mmr = float(sum(w * m for w, m, *_ in sizes))
    elif model.position_size is not None:
        sizes = _size_nodes(model.position_size, schedule)
        # funding moves every level of a bin together: use the size-weighted bracket rate for the shift
        mmr = float(sum(w * m for w, m, *_ in sizes))
    max_lev = float(schedule.max_leverage)
    lev = model.leverage
    passive = model.passive_leverage
    if model.max_leverage_from_schedule:
        if lev.max_leverage > max_lev:
            lev = lev.truncate(max_lev)
        if passive.max_leverage > max_lev:
            passive = passive.truncate(max_lev)
    if age_blocks is None:
        age_blocks = DEFAULT_AGE_BLOCKS if model.exit in ("oldest", "profitable") else 1
    if resolution is None:
        resolution = default_resolution(model)
    return EngineConfig(
        leverage=lev,
        passive_leverage=passive,
        mmr=mmr,
        entry=model.entry,
        exit=model.exit,
        decay=decay_factor(model.decay_half_life, freq),
        age_blocks=_positive_int("age_blocks", age_blocks),
        resolution=_positive_int("resolution", resolution),
        leverage_nodes=DEFAULT_LEVERAGE_NODES
        if leverage_nodes is None
        else _positive_int("leverage_nodes", leverage_nodes),
        entry_nodes=DEFAULT_ENTRY_NODES if entry_nodes is None else _positive_int("entry_nodes", entry_nodes),
        sizes=sizes,
        contract=contract,
    )


def default_resolution(model: Model) -> int:
    """Store bins per price bin of the grid engine: 2 when funding moves content spread through the bins (a
    continuous leverage law and ``funding=True``), else 1.

    Funding moves each bin's content by its mass, mean and spread; levels of different bars that share a bin
    move as one profile, an error that adds up over settlements and halves (or better) with every halving of
    the bin (measured in ``docs/methodology.md`` §3). Discrete laws are moved as exact points, and without
    funding nothing moves.

    Examples
    --------
    >>> from heatmap.model import Model
    >>> default_resolution(Model()), default_resolution(Model(funding=False))
    (2, 1)
    """
    continuous = not (model.leverage.is_discrete and model.passive_leverage.is_discrete)
    return 2 if continuous and model.funding else 1


def make_engine(name: str, config: EngineConfig, grid: PriceGrid) -> Engine:
    """A fresh engine ``name`` (``"grid"`` or ``"ledger"``) for ``config`` on ``grid``."""
    if name == "grid":
        from heatmap.engine.grid_engine import GridEngine

        return GridEngine(config, grid)
    if name == "ledger":
        from heatmap.engine.ledger import LedgerEngine

        return LedgerEngine(config, grid)
    raise ValueError(f"engine: got {name!r}; allowed are 'grid' and 'ledger'")


def _size_nodes(dist: Any, schedule: Any) -> tuple[tuple[float, float, float, float, float], ...]:
    """Discretise a position-size law [quote] and look up each node's bracket at its entry notional."""
    from heatmap.leverage import Leverage

    if isinstance(dist, Leverage):
        nodes, weights = dist.discretize(SIZE_NODES)
    else:
        q = (np.arange(SIZE_NODES) + 0.5) / SIZE_NODES
        nodes, weights = np.asarray(dist.ppf(q), dtype=float), np.full(SIZE_NODES, 1.0 / SIZE_NODES)
    nodes = np.asarray(nodes, dtype=float)
    weights = np.asarray(weights, dtype=float)
    if np.any(~np.isfinite(nodes)) or np.any(nodes <= 0):
        raise ValueError(
            f"position_size: nodes must be finite positive notionals [quote], got {nodes.tolist()}"
        )
    mmr, cum, max_lev = schedule.lookup(nodes, clip=True)
    return tuple(
        (float(w), float(m), float(c) / float(n), float(ml), float(n))
        for w, m, c, ml, n in zip(
            weights, np.atleast_1d(mmr), np.atleast_1d(cum), np.atleast_1d(max_lev), nodes, strict=True
        )
        if w > 0
    )
