"""Funding settlements move levels without diffusing them, in both engines and both contract forms.

A narrow continuous leverage law (a single level, well inside one bin) is opened once and then carried through
1,000 funding settlements of mixed sign at a constant price (nothing is liquidated). Its exact position is
computed independently, by applying :func:`heatmap.margin.funding_shift` (linear) or
:func:`heatmap.margin.inverse_funding_shift` (inverse, in reciprocal price) once per settlement to the level's
liquidation price. Every bin holding the level's notional at the end (beyond a millionth of it: the law's far
tails) must lie within one bin of it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from heatmap.engine import estimate
from heatmap.exchanges import get
from heatmap.grid import PriceGrid
from heatmap.leverage import Leverage
from heatmap.margin import funding_shift, inverse_funding_shift, inverse_liquidation_price, liquidation_price
from heatmap.market import Market
from heatmap.model import Model

SETTLEMENTS = 1_000
PRICE = 100.0
LEVERAGE = 10.0


def _market() -> tuple[Market, np.ndarray]:
    rng = np.random.default_rng(15)
    rates = np.r_[0.0, rng.uniform(-1e-4, 1.4e-4, SETTLEMENTS)]  # mixed signs, a net drift
    idx = pd.date_range("2025-01-01", periods=SETTLEMENTS + 1, freq="1h", tz="UTC")
    df = pd.DataFrame(
        {"open": PRICE, "high": PRICE, "low": PRICE, "close": PRICE, "open_interest": 10.0}, index=idx
    )
    df["funding_rate"] = rates
    return Market(df), rates


@pytest.mark.parametrize("engine", ["grid", "ledger"])
@pytest.mark.parametrize("contract", ["linear", "inverse"])
def test_one_level_stays_within_a_bin_after_1000_settlements(engine: str, contract: str) -> None:
    market, rates = _market()
    law = Leverage.lognormal(median=LEVERAGE, sigma=0.0005)  # continuous, narrower than a bin
    schedule = get("binance-coinm", "BTCUSD_PERP") if contract == "inverse" else None
    model = Model(
        leverage=law,
        passive_leverage=law,
        side_split="even",
        entry="close",
        turnover=0.0,
        **({"schedule": schedule} if schedule is not None else {}),
    )
    grid = PriceGrid.log_spaced(50.0, 200.0, bins=2000)
    hm = estimate(market, model, grid=grid, engine=engine, snapshot_every=len(market))  # type: ignore[arg-type]
    for side in ("long", "short"):
        if contract == "inverse":
            assert schedule is not None
            mmr = float(schedule.mmr[0])
            lp = float(inverse_liquidation_price(PRICE, LEVERAGE, side, mmr=mmr))
            recip = 1.0 / lp
            for f in rates[1:]:
                recip += float(inverse_funding_shift(f, PRICE, side, mmr))
            want = 1.0 / recip
        else:
            mmr = 0.004  # the default schedule's first bracket
            want = float(liquidation_price(PRICE, LEVERAGE, side, mmr=mmr))
            for f in rates[1:]:
                want += float(funding_shift(f, PRICE, side, mmr))
        row = getattr(hm, side)[-1]
        held = np.flatnonzero(row > 1e-6 * row.sum())  # (the law's far tails aside)
        assert held.size > 0
        j = int(grid.index_of([want])[0])
        # the level drifted by many bins, and its notional is within one bin of where it must be
        assert abs(j - int(grid.index_of([float(liquidation_price(PRICE, LEVERAGE, side, mmr=mmr))])[0])) > 5
        assert held.min() >= j - 1 and held.max() <= j + 1, (side, held, j)
