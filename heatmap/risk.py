"""Risk of one position against a liquidation map: its liquidation price, what lies before it, and the shock
that reaches it once liquidation cascades are included.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from heatmap.result import Snapshot
>>> from heatmap.cascade import DepthCurve
>>> edges = np.geomspace(50.0, 150.0, 1001)
>>> long = np.where(edges[1:] <= 100.0, 2e6, 0.0)
>>> snap = Snapshot(time=pd.Timestamp("2025-01-01", tz="UTC"), price_edges=edges, long=long,
...                 short=np.zeros(1000), price=100.0)
>>> r = position_risk(snap, entry=100.0, leverage=10, side="long", depth=DepthCurve(c0=1e9, gamma=1.0))
>>> round(r.liquidation_price, 2), round(r.distance, 4)
(90.36, -0.0964)
>>> bool(0 < -r.shock_to_liquidation < 0.0964)
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
from scipy import optimize

from heatmap.cascade import ImpactModel, default_depth, liquidated_within, simulate_cascade
from heatmap.clusters import find_clusters
from heatmap.margin import liquidation_price
from heatmap.result import Snapshot

if TYPE_CHECKING:
    from heatmap.exchanges import MarginSchedule

__all__ = ["PositionRisk", "position_risk"]


@dataclass(frozen=True, eq=False)
class PositionRisk:
    """Result of :func:`position_risk`.

    Attributes
    ----------
    side : {"long", "short"}
    entry : float
        Entry price [quote].
    leverage : float
        [-].
    qty : float or None
        Size [base] (None: a small position, first bracket).
    price : float
        Current price of the snapshot [quote].
    liquidation_price : float
        Exact liquidation price from :func:`heatmap.margin.liquidation_price` [quote].
    distance : float
        ``liquidation_price / price − 1`` [fraction] (negative for longs).
    notional_before : float
        Liquidation notional of the same side between price and the liquidation price [quote]: what is forced
        to trade before this position is hit.
    clusters : DataFrame
        Clusters of that side between price and the liquidation price (:func:`heatmap.find_clusters` rows).
    shock_to_liquidation : float
        Smallest exogenous move [fraction] whose cascade reaches the liquidation price (signed like ``distance``;
        NaN when the liquidation price lies beyond ``max_move``).
    cascade_amplification : float
        ``distance / shock_to_liquidation`` [-]: how much the book shortens the way (1 = no help from cascades).
    depth : ImpactModel
        The impact model used.
    """

    side: Literal["long", "short"]
    entry: float
    leverage: float
    qty: float | None
    price: float
    liquidation_price: float
    distance: float
    notional_before: float
    clusters: pd.DataFrame = field(repr=False)
    shock_to_liquidation: float
    cascade_amplification: float
    depth: Any = field(repr=False)

    def __post_init__(self) -> None:
        if self.side not in ("long", "short"):
            raise ValueError(f"side must be 'long' or 'short', got {self.side!r}")
        if not (math.isfinite(self.price) and self.price > 0):
            raise ValueError(f"price must be positive, got {self.price!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain values; ``clusters`` as a list of records, ``depth`` as its repr."""
        return {
            "side": self.side,
            "entry": self.entry,
            "leverage": self.leverage,
            "qty": self.qty,
            "price": self.price,
            "liquidation_price": self.liquidation_price,
            "distance": self.distance,
            "notional_before": self.notional_before,
            "clusters": self.clusters.to_dict(orient="records"),
            "shock_to_liquidation": self.shock_to_liquidation,
            "cascade_amplification": self.cascade_amplification,
            "depth": repr(self.depth),
        }

    def __repr__(self) -> str:
        shock = (
            "beyond max_move"
            if math.isnan(self.shock_to_liquidation)
            else f"{self.shock_to_liquidation:+.2%}"
        )
        return (
            f"PositionRisk({self.side} {self.leverage:g}x from {self.entry:,.2f}: liquidation at "
            f"{self.liquidation_price:,.2f} ({self.distance:+.2%} from {self.price:,.2f}); "
            f"{self.notional_before:,.0f} [quote] of {self.side}s liquidate first in {len(self.clusters)} "
            f"cluster(s); shock needed with cascades {shock})"
        )


def position_risk(
    snapshot: Snapshot,
    *,
    entry: float,
    leverage: float,
    side: Literal["long", "short"],
    qty: float | None = None,
    schedule: MarginSchedule | None = None,
    mmr: float = 0.004,
    contract: Literal["linear", "inverse"] = "linear",
    depth: ImpactModel | None = None,
    max_move: float = 0.5,
    xtol: float = 1e-6,
) -> PositionRisk:
    """How far a position is from liquidation on this map, and how small a shock gets it there.

    Parameters
    ----------
    snapshot : Snapshot
        Liquidation map at the time of interest (its ``price`` is the current price).
    entry : float
        Entry price [quote], > 0.
    leverage : float
        Leverage [-], > 0.
    side : {"long", "short"}
    qty : float, optional
        Size [base]; with ``schedule`` selects the bracket (Binance's rule at the liquidation notional).
    schedule : MarginSchedule, optional
        Bracket table (e.g. ``heatmap.exchanges.get("binance-usdm", "BTCUSDT")``); otherwise ``mmr`` is used.
    mmr : float, default 0.004
        Maintenance-margin rate [fraction] without a schedule.
    contract : {"linear", "inverse"}, default "linear"
        Inverse (coin-margined) contracts take ``qty`` as the USD notional (see :mod:`heatmap.margin`).
    depth : ImpactModel, optional
        Impact model for the cascade (default :func:`heatmap.cascade.default_depth`).
    max_move : float, default 0.5
        Largest move searched [fraction], in (0, 1).
    xtol : float, default 1e-6
        Tolerance of the shock search [fraction].

    Returns
    -------
    PositionRisk

    Raises
    ------
    ValueError
        For bad inputs (see :func:`heatmap.margin.liquidation_price`), or when the position would already be
        liquidated at the snapshot's price.

    Notes
    -----
    The cascade's final move is non-decreasing in the shock, so the smallest shock that reaches the
    liquidation price is the root of ``|d*(ε)| − |distance|`` on ``[0, |distance|]``, found with
    :func:`scipy.optimize.brentq` (the function can jump where a cascade starts running; brentq then converges
    to the jump).
    """
    if side not in ("long", "short"):
        raise ValueError(f"side must be 'long' or 'short', got {side!r}")
    if not (math.isfinite(max_move) and 0 < max_move < 1):
        raise ValueError(f"max_move must be a fraction in (0, 1), got {max_move!r}")
    if schedule is not None:
        lp = float(liquidation_price(entry, leverage, side, qty=qty, schedule=schedule, contract=contract))
    else:
        lp = float(liquidation_price(entry, leverage, side, mmr=mmr, qty=qty, contract=contract))
    price = snapshot.price
    sign = -1.0 if side == "long" else 1.0
    if lp <= 0 or not math.isfinite(lp):
        distance = -1.0 if side == "long" else math.inf
    else:
        distance = lp / price - 1.0
    if sign * distance <= 0:
        raise ValueError(
            f"the {side} position (liquidation price {lp:,.2f}) would already be liquidated at the snapshot "
            f"price {price:,.2f}"
        )
    model = default_depth(snapshot) if depth is None else depth
    reach = abs(distance)
    if math.isfinite(distance):
        notional_before = float(liquidated_within(snapshot, distance))
    else:
        notional_before = float(snapshot.total["short"])
    low, high = (lp, price) if side == "long" else (price, lp)
    cl = find_clusters(snapshot, side=side)
    cl = cl.loc[(cl["price"] >= low) & (cl["price"] <= high)].reset_index(drop=True)

    if reach >= max_move:
        shock = math.nan
    else:

        def gap(eps: float) -> float:
            r = simulate_cascade(snapshot, sign * eps, depth=model, max_move=max_move, max_iter=10_000)
            return abs(r.move) - reach

        # gap(0) = -reach < 0 (no shock, no move) and gap(reach) >= 0 (the shock alone gets there)
        root = float(optimize.brentq(gap, 0.0, reach, xtol=xtol))
        if gap(root) < 0:  # at a jump brentq may stop just below it
            root = min(root + 2 * xtol, reach)
        shock = sign * root
    amp = distance / shock if shock and not math.isnan(shock) else math.nan
    return PositionRisk(
        side=side,
        entry=float(entry),
        leverage=float(leverage),
        qty=None if qty is None else float(qty),
        price=float(price),
        liquidation_price=lp,
        distance=float(distance),
        notional_before=notional_before,
        clusters=cl,
        shock_to_liquidation=shock,
        cascade_amplification=float(amp),
        depth=model,
    )
