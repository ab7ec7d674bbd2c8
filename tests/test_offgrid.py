"""Levels beyond the price grid keep their place: streaming a market out of a user-given grid equals the batch.

A stream on a user grid grows the grid bar by bar as price leaves it; the batch run grows it once, over all
bars. Positions opened while their liquidation level lay beyond the grid must be liquidated when price reaches
that level later, exactly as in the batch run (issue: 60 hourly bars rallying 100 -> 125 on a 95-110 grid, 5x
tiers: the batch liquidates 119,521 of shorts, the stream used to liquidate nothing). Both engines.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heatmap.engine import Estimator, estimate
from heatmap.grid import PriceGrid
from heatmap.leverage import Leverage
from heatmap.market import Market
from heatmap.model import Model
from heatmap.result import Heatmap

GRID = PriceGrid.log_spaced(95.0, 110.0, 300)


def _trend(n: int, move: float, seed: int = 0, noise: float = 0.0, funding: float = 0.0) -> Market:
    """``n`` hourly bars from 100 with total log move ``move`` (plus noise), constant open interest."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2025-01-01", periods=n, freq="1h", tz="UTC")
    close = 100.0 * np.exp(np.linspace(0.0, move, n) + np.cumsum(rng.normal(0.0, noise, n)))
    open_ = np.r_[100.0, close[:-1]]
    frame = pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * 1.001,
            "low": np.minimum(open_, close) * 0.999,
            "close": close,
            "open_interest": 1000.0 * np.exp(rng.normal(0.0, noise, n).cumsum()),
            "funding_rate": np.where(np.arange(n) % 8 == 0, funding, 0.0),
        },
        index=idx,
    )
    return Market(frame)


def _stream(market: Market, model: Model, engine: str, cuts: list[int]) -> Heatmap:
    est = Estimator(model, grid=GRID, engine=engine)  # type: ignore[arg-type]
    bounds = [0, *sorted(set(cuts)), len(market)]
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        if b > a:
            est.update(market.iloc[a:b])
    return est.heatmap


def _assert_same(stream: Heatmap, batch: Heatmap) -> None:
    assert stream.liquidations is not None and batch.liquidations is not None
    want = batch.liquidations.to_numpy()
    # to rounding: when the grid grows, the store's edges are recomputed and a bin's spread s/q - m² is a
    # difference of nearly equal numbers; where a bin's profile is near a density that vanishes at one end the
    # profile's shape moves with the square root of that rounding, so the share of a bin a bar consumes differs
    # in the last ~8 digits (ledger and liquidations alike); lost or misplaced mass would be O(1)
    np.testing.assert_allclose(
        stream.liquidations.to_numpy(), want, rtol=1e-6, atol=1e-6 * max(want.max(), 1)
    )
    assert stream.ledger is not None and batch.ledger is not None
    # every column but "offgrid", which counts what lies beyond the grid of its time (smaller in the stream)
    cols = [c for c in batch.ledger.columns if not c.startswith("offgrid")]
    led = batch.ledger[cols].to_numpy()
    np.testing.assert_allclose(stream.ledger[cols].to_numpy(), led, rtol=1e-6, atol=1e-6 * np.abs(led).max())
    # the last map on the batch's grid (the stream's grid grew to the same extent)
    assert stream.price_edges.size == batch.price_edges.size
    for side in ("long", "short"):
        a, b = getattr(stream, side)[-1], getattr(batch, side)[-1]
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * max(float(b.max()), 1.0))


def _balances(hm: Heatmap) -> None:
    assert hm.ledger is not None
    led = hm.ledger
    for s in ("long", "short"):
        flow = led[f"opened_{s}"] - led[f"liquidated_{s}"] - led[f"closed_{s}"] - led[f"decayed_{s}"]
        held = led[f"held_{s}"].to_numpy()
        np.testing.assert_allclose(np.cumsum(flow.to_numpy()), held, rtol=1e-9, atol=1e-9 * held.max())


FIVE = Model(leverage=Leverage.tiers({5: 1.0}), passive_leverage=Leverage.tiers({5: 1.0}))


@pytest.mark.parametrize("engine", ["grid", "ledger"])
def test_the_issue_repro_streams_like_the_batch(engine: str) -> None:
    market = _trend(60, float(np.log(1.25)))
    batch = estimate(market, FIVE, grid=GRID, engine=engine)  # type: ignore[arg-type]
    stream = _stream(market, FIVE, engine, list(range(1, 60)))  # bar by bar
    assert batch.liquidations is not None and stream.liquidations is not None
    short = float(stream.liquidations["short"].sum())
    assert short == pytest.approx(119_521, rel=1e-4)  # 5x shorts opened near 100, liquidated near 119.5
    assert short == pytest.approx(float(batch.liquidations["short"].sum()), rel=1e-12)
    _assert_same(stream, batch)
    _balances(stream)


@settings(max_examples=25, deadline=None)
@given(
    move=st.floats(-0.45, 0.45).filter(lambda m: abs(m) > 0.2),  # leaves the grid, by up to 50 %
    seed=st.integers(0, 1000),
    cuts=st.lists(st.integers(1, 47), max_size=6),
    continuous=st.booleans(),
    funding=st.sampled_from([0.0, 3e-4, -3e-4]),
    entry=st.sampled_from(["close", "triangular"]),
    engine=st.sampled_from(["grid", "ledger"]),
)
def test_streams_that_leave_the_grid_equal_the_batch(
    move: float, seed: int, cuts: list[int], continuous: bool, funding: float, entry: str, engine: str
) -> None:
    market = _trend(48, move, seed, noise=0.004, funding=funding)
    lev = Leverage.lognormal(median=8, sigma=0.5) if continuous else Leverage.tiers({3: 0.3, 5: 0.4, 10: 0.3})
    model = Model(leverage=lev, passive_leverage=Leverage.tiers({4: 1.0}), entry=entry)  # type: ignore[arg-type]
    batch = estimate(market, model, grid=GRID, engine=engine)  # type: ignore[arg-type]
    stream = _stream(market, model, engine, cuts)
    assert stream.price_edges.size > GRID.n_bins + 1  # the grid grew
    _assert_same(stream, batch)
    _balances(stream)
