"""Ground-truth recovery on the synthetic world, whose true positions are known.

Metric: 1-Wasserstein distance in log-price (``scipy.stats.wasserstein_distance`` with qty weights) between the
estimated and the true per-side distribution of liquidation prices within [price/2, 2·price] (the part of the
map that matters; positions at leverage ~1 sit at arbitrarily low prices). Tolerances: with the world's own
assumptions <= 0.12 (longs) and <= 0.05 (shorts) in log-price, and at most half the distance of a mis-specified
model (100x everywhere, or the common fixed tiers).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import wasserstein_distance

from heatmap.engine import estimate
from heatmap.leverage import Leverage
from heatmap.model import Model
from heatmap.synthetic import World, simulate_world


@pytest.fixture(scope="module")
def world() -> World:
    return simulate_world(days=20, freq="1h", seed=4)


def distances(world: World, model: Model) -> dict[str, list[float]]:
    m = world.market
    hm = estimate(m, model, bins=1000)
    logc = np.log(hm.centers)
    out: dict[str, list[float]] = {"long": [], "short": []}
    for t in (-193, -97, -1):  # 12, 16 and 20 days in
        book = world.positions_at(m.index[t])
        price = float(m.frame["close"].iloc[t])
        keep = (hm.centers > price / 2) & (hm.centers < 2 * price)
        for side in ("long", "short"):
            lp = book["liquidation_price"]
            b = book[(book["side"] == side) & (lp > price / 2) & (lp < 2 * price)]
            est_qty = getattr(hm, side)[t] / hm.centers
            out[side].append(
                wasserstein_distance(
                    np.log(b["liquidation_price"]), logc[keep], b["qty"], est_qty[keep] + 1e-300
                )
            )
    return out


def test_true_assumptions_recover_the_true_map(world: World) -> None:
    p = world.params
    truth = Model(
        leverage=Leverage.lognormal(median=12, sigma=0.9),
        passive_leverage=Leverage.lognormal(median=3, sigma=0.6),
        side_split="even",
        entry="triangular",
        exit="proportional",  # the world's exits are memoryless
        funding=True,
        turnover=float(p["turnover"]) / float(p["volume_per_oi"]),  # daily exit share / (daily volume / OI)
    )
    good = distances(world, truth)
    assert max(good["long"]) <= 0.12
    assert max(good["short"]) <= 0.05
    for wrong_lev in (Leverage.tiers({100: 1.0}), Leverage.tiers({10: 0.35, 25: 0.25, 50: 0.25, 100: 0.15})):
        bad = distances(world, truth.replace(leverage=wrong_lev, passive_leverage=wrong_lev))
        for side in ("long", "short"):
            assert np.all(np.array(good[side]) <= 0.5 * np.array(bad[side]))
