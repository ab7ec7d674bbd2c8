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


# ------------------------------------------------------------------ the within-bin profile the shift moves
def _content(density, a: float = 0.0, b: float = 1.0) -> tuple[float, float, float]:
    """Mass, first and second moment of ``density`` on ``[a, b]`` (inside one bin), by quadrature."""
    from scipy.integrate import quad

    return tuple(quad(lambda u, k=k: u**k * density(u), a, b, epsabs=1e-14)[0] for k in range(3))  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("density", "a", "b", "want"),
    [
        (lambda u: 1.0, 0.0, 1.0, (0.0, 1.0, 0.0)),  # uniform through the bin
        (lambda u: 0.5 + u, 0.0, 1.0, (0.0, 1.0, 1.0)),  # sloping through the bin
        (lambda u: 2.0 - 2.0 * u, 0.0, 1.0, (0.0, 1.0, -2.0)),  # falling to 0 at the top
        (lambda u: u - 0.4, 0.4, 1.0, (0.4, 1.0, 2.0)),  # rising from 0, anchored at the top
        (lambda u: 1.0 + (0.3 - u), 0.0, 0.3, (0.0, 0.3, -0.3 / 1.15)),  # anchored at the bottom
        (lambda u: 1.0, 0.2, 0.45, (0.2, 0.45, 0.0)),  # a narrow block inside the bin
    ],
)
def test_profile_recovers_linear_densities(
    density, a: float, b: float, want: tuple[float, float, float]
) -> None:
    from heatmap.engine.steps import profile

    q, z, s = _content(density, a, b)
    u0, u1, slope = profile(q, z, s)
    # (a density falling to 0 at an edge is where the solve is a square root of a near-zero: ~1e-8)
    assert (u0, u1) == pytest.approx(want[:2], abs=1e-7)
    assert slope == pytest.approx(want[2], abs=1e-6)


def test_profile_keeps_the_mean_and_variance_of_any_content() -> None:
    from heatmap.engine.steps import part, profile

    rng = np.random.default_rng(4)
    for _ in range(2_000):
        pts = rng.random(rng.integers(1, 6))
        w = rng.random(pts.size)
        q, z, s = w.sum(), (w * pts).sum(), (w * pts**2).sum()
        u0, u1, slope = profile(q, z, s)
        assert 0.0 <= u0 <= u1 <= 1.0 and -2.0 <= slope <= 2.0
        if u1 - u0 < 1e-9:
            assert u0 == pytest.approx(z / q, abs=1e-9)
            continue
        f, f1, f2 = part(u0, u1, slope, -1.0, 2.0)
        assert f == pytest.approx(1.0, abs=1e-12)
        assert f1 == pytest.approx(z / q, abs=1e-9)  # the mean, always
        var, pvar = s / q - (z / q) ** 2, f2 - f1**2
        lo = min(z / q, 1 - z / q)
        if 12 * var <= 4 * lo * lo:  # the uniform block fits: it is the profile, spread included
            assert (slope, pvar) == pytest.approx((0.0, var), rel=1e-6, abs=1e-12)
        else:  # content reaching an edge: a density that reaches it too (linear densities: the test above)
            assert u0 == 0.0 or u1 == 1.0


@pytest.mark.parametrize("slope", [-2.0, -0.7, 0.0, 1.3, 2.0])
def test_part_integrates_the_profile(slope: float) -> None:
    from scipy.integrate import quad

    from heatmap.engine.steps import part

    u0, u1 = 0.15, 0.85
    dens = lambda u: (1.0 + slope * ((u - u0) / (u1 - u0) - 0.5)) / (u1 - u0)  # noqa: E731
    for x0, x1 in ((0.0, 1.0), (0.3, 0.6), (0.5, 2.0), (-1.0, 0.2), (0.9, 1.0)):
        want = [
            quad(lambda u, k=k: u**k * dens(u), max(x0, u0), min(x1, u1))[0] if x1 > u0 and x0 < u1 else 0.0
            for k in range(3)
        ]
        assert part(u0, u1, slope, x0, x1) == pytest.approx(want, abs=1e-12)


def test_a_shift_moves_piecewise_linear_content_exactly() -> None:
    """Content whose density is linear inside every bin (here a tent over six bins, its kinks on bin edges) is
    what the profile represents exactly, so a settlement must put the exact integral of the moved density into
    each bin. A uniform block per bin (the earlier representation) misplaced 1.3 % of it in this one move."""
    from heatmap.engine.steps import shift_blocks

    g = PriceGrid.log_spaced(10_000.0, 200_000.0, bins=1000)
    qz = np.zeros((g.n_bins, 3))
    ramp = lambda u: np.maximum(0.0, 3.0 - np.abs(u - 500.0))  # noqa: E731  density per bin unit
    for j in range(497, 503):
        qz[j] = _content(lambda u, j=j: ramp(j + u))
    d = 37.0  # [quote]: a move of a few tenths of a bin near 45,000
    shift_blocks(qz, g.edges, g.log_step, d, 0, g.n_bins, False)
    # exact: the level at position u moves to the position of price(u) + d
    pos = lambda p: np.log(p / g.edges[0]) / g.log_step  # noqa: E731
    price = lambda u: g.edges[0] * np.exp(g.log_step * u)  # noqa: E731
    grid_u = np.linspace(497.0, 503.0, 600_001)
    new_u = pos(price(grid_u) + d)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (ramp(grid_u[1:]) + ramp(grid_u[:-1])) * np.diff(grid_u))])
    want = np.diff(np.interp(np.arange(g.n_bins + 1), new_u, cdf, left=0.0, right=cdf[-1]))
    assert np.abs(qz[:, 0] - want).sum() / want.sum() < 1e-6
