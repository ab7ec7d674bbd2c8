"""The grid engine's store resolution: ``resolution=k`` store bins per price bin, summed by the snapshots.

A run at ``resolution=2`` on a grid is the run at ``resolution=1`` on that grid with every bin cut in two
(:func:`heatmap.engine.grid_engine.refined`: the same store grid), read back in pairs. The default is 2 exactly
when funding moves continuous-law content (:func:`heatmap.engine.config.default_resolution`); checkpoints keep
the resolution their state was built with.
"""

from __future__ import annotations

import numpy as np
import pytest

from heatmap.engine import Estimator, estimate
from heatmap.engine.config import default_resolution
from heatmap.engine.grid_engine import refined
from heatmap.grid import PriceGrid
from heatmap.leverage import Leverage
from heatmap.model import Model
from heatmap.synthetic import synthetic_market


@pytest.fixture(scope="module")
def market():
    return synthetic_market(days=4, freq="1h", seed=3)


@pytest.mark.parametrize("model", [Model(), Model(entry="close", exit="nearest"), Model(funding=False)])
def test_resolution_two_is_the_refined_grid_read_in_pairs(market, model: Model) -> None:
    grid = PriceGrid.for_market(market, bins=300)
    two = estimate(market, model, grid=grid, resolution=2)
    fine = estimate(market, model, grid=refined(grid, 2), resolution=1)
    for side in ("long", "short"):
        a = getattr(two, side)
        b = getattr(fine, side).reshape(len(fine.times), grid.n_bins, 2).sum(axis=-1)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * float(b.max()))
    assert two.ledger is not None and fine.ledger is not None
    np.testing.assert_allclose(two.ledger.to_numpy(), fine.ledger.to_numpy(), rtol=1e-9, atol=1e-9)
    assert two.liquidations is not None and fine.liquidations is not None
    np.testing.assert_allclose(two.liquidations.to_numpy(), fine.liquidations.to_numpy(), rtol=1e-9)


def test_default_resolution() -> None:
    tiers = Leverage.tiers({10: 0.5, 50: 0.5})
    assert default_resolution(Model()) == 2  # continuous laws, funding on
    assert default_resolution(Model(funding=False)) == 1  # nothing moves
    assert default_resolution(Model(leverage=tiers, passive_leverage=tiers)) == 1  # points move exactly
    assert default_resolution(Model(leverage=tiers)) == 2  # the passive law is continuous


def test_the_default_is_closer_to_a_finer_grid(market) -> None:
    """What the default buys: the map at 600 bins against the grid engine on 16x finer bins summed back."""
    grid = PriceGrid.for_market(market, bins=600)
    model = Model(leverage=Leverage.tiers({10: 0.35, 25: 0.25, 50: 0.25, 100: 0.15}))
    fine = estimate(market, model, grid=refined(grid, 16), resolution=1, snapshot_every=len(market))
    ref = [fine.long[-1].reshape(-1, 16).sum(-1), fine.short[-1].reshape(-1, 16).sum(-1)]

    def dist(res: int) -> float:
        hm = estimate(market, model, grid=grid, resolution=res, snapshot_every=len(market))
        d = np.abs(hm.long[-1] - ref[0]).sum() + np.abs(hm.short[-1] - ref[1]).sum()
        return float(d / (ref[0].sum() + ref[1].sum()))

    assert dist(2) < 0.5 * dist(1)


def test_checkpoints_keep_their_resolution(market, tmp_path) -> None:
    grid = PriceGrid.for_market(market, bins=200)
    batch = estimate(market, grid=grid, resolution=1)
    est = Estimator(grid=grid, resolution=1)
    est.update(market.iloc[:40])
    est.save(tmp_path / "a.npz")
    resumed = Estimator.load(tmp_path / "a.npz")  # the default would be 2: the file says 1
    resumed.update(market.iloc[40:])
    np.testing.assert_array_equal(resumed.heatmap.long, batch.long)
    est2 = Estimator(grid=grid)
    est2.update(market.iloc[:40])
    est2.save(tmp_path / "b.npz")
    again = Estimator.load(tmp_path / "b.npz")
    again.update(market.iloc[40:])
    np.testing.assert_array_equal(again.heatmap.short, estimate(market, grid=grid).short)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_resolution(bad) -> None:
    with pytest.raises(ValueError, match="resolution"):
        Estimator(resolution=bad)


def test_resolution_is_for_the_grid_engine() -> None:
    with pytest.raises(ValueError, match="engine='grid'"):
        Estimator(engine="ledger", resolution=2)
