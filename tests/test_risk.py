"""Position risk (heatmap.risk)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from heatmap.cascade import DepthCurve, simulate_cascade
from heatmap.margin import liquidation_price
from heatmap.result import Snapshot
from heatmap.risk import PositionRisk, position_risk

T0 = pd.Timestamp("2025-01-01", tz="UTC")
H = 0.0005


def uniform(rho_long=0.0, rho_short=0.0, price=100.0):
    n = int(0.9 / H)
    edges = price * np.exp(H * np.arange(-n, n + 1))
    below = edges[1:] <= price * (1 + 1e-12)
    return Snapshot(
        time=T0,
        price_edges=edges,
        long=np.where(below, rho_long * H, 0.0),
        short=np.where(~below, rho_short * H, 0.0),
        price=price,
    )


def test_liquidation_price_distance_and_mass_before():
    snap = uniform(rho_long=1e9)
    r = position_risk(snap, entry=100.0, leverage=10, side="long", depth=DepthCurve(c0=1e12))
    assert isinstance(r, PositionRisk)
    assert r.liquidation_price == pytest.approx(
        100.0 * (1 - 1 / 10) / (1 - 0.004)
    )  # Binance isolated, no cum
    assert r.liquidation_price == pytest.approx(float(liquidation_price(100.0, 10, "long", mmr=0.004)))
    assert r.distance == pytest.approx(r.liquidation_price / 100.0 - 1)
    assert r.notional_before == pytest.approx(1e9 * math.log(100.0 / r.liquidation_price), rel=1e-9)


def test_schedule_and_qty_select_bracket():
    from heatmap.exchanges import get

    sched = get("binance-usdm", "BTCUSDT")
    snap = uniform(rho_short=1e9, price=60_000.0)
    big = position_risk(
        snap, entry=60_000.0, leverage=5, side="short", qty=100.0, schedule=sched, depth=DepthCurve(c0=1e12)
    )
    expected = float(liquidation_price(60_000.0, 5, "short", qty=100.0, schedule=sched))
    assert big.liquidation_price == pytest.approx(expected)
    small = position_risk(
        snap, entry=60_000.0, leverage=5, side="short", qty=0.01, schedule=sched, depth=DepthCurve(c0=1e12)
    )
    # a larger position sits in a higher-MMR bracket: liquidated sooner
    assert big.liquidation_price < small.liquidation_price


def test_inverse_contract_uses_the_inverse_formula():
    snap = uniform(rho_short=1e9, price=60_000.0)
    r = position_risk(
        snap,
        entry=60_000.0,
        leverage=20,
        side="short",
        contract="inverse",
        qty=600_000.0,
        depth=DepthCurve(c0=1e12),
    )
    # COIN-M short of Q USD: margin Q/(EP L) + PnL Q(1/p - 1/EP) = MMR Q/p  ->  p = EP (1 - MMR) / (1 - 1/L)
    assert r.liquidation_price == pytest.approx(60_000.0 * (1 - 0.004) / (1 - 1 / 20))
    expected = float(liquidation_price(60_000.0, 20, "short", contract="inverse", qty=600_000.0, mmr=0.004))
    assert r.liquidation_price == pytest.approx(expected)
    linear = position_risk(snap, entry=60_000.0, leverage=20, side="short", depth=DepthCurve(c0=1e12))
    assert r.liquidation_price != pytest.approx(linear.liquidation_price, rel=1e-6)


def test_clusters_between_price_and_liquidation():
    edges = np.geomspace(60.0, 140.0, 2001)
    c = np.sqrt(edges[:-1] * edges[1:])
    long = sum(np.exp(-0.5 * (np.log(c / lvl) / 0.004) ** 2) * 1e6 for lvl in (95.0, 85.0))
    snap = Snapshot(time=T0, price_edges=edges, long=long, short=np.zeros(2000), price=100.0)
    r = position_risk(snap, entry=100.0, leverage=10, side="long", depth=DepthCurve(c0=1e12))
    assert r.clusters["price"].round().tolist() == [95.0]
    assert set(r.clusters["side"]) == {"long"}


def test_without_liquidations_the_shock_is_the_distance():
    snap = uniform(rho_long=0.0, rho_short=1e9)
    r = position_risk(snap, entry=100.0, leverage=20, side="long", depth=DepthCurve(c0=1e6))
    assert r.shock_to_liquidation == pytest.approx(r.distance, abs=1e-5)
    assert r.cascade_amplification == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("leverage", [5, 10, 25])
def test_shock_matches_closed_form_with_linear_impact(leverage):
    # density rho per log unit, impact k*Q: the cascade from eps reaches m iff eps >= m - a*ln(1/(1-m)), a = k*rho
    rho, k = 2e8, 1e-9  # a = 0.2
    a = k * rho
    snap = uniform(rho_long=rho)
    depth = DepthCurve(c0=1 / k, delta0=1.0, gamma=1.0)
    r = position_risk(snap, entry=100.0, leverage=leverage, side="long", depth=depth, xtol=1e-9)
    m = -r.distance
    assert -r.shock_to_liquidation == pytest.approx(m - a * math.log(1 / (1 - m)), abs=1e-6)
    assert r.cascade_amplification > 1
    # and it is the smallest such shock
    reach = simulate_cascade(snap, r.shock_to_liquidation, depth=depth, tol=1e-12, max_iter=100_000)
    assert abs(reach.move) >= m - 1e-6
    short_of = simulate_cascade(snap, r.shock_to_liquidation + 1e-4, depth=depth, tol=1e-12, max_iter=100_000)
    assert abs(short_of.move) < m


def test_short_side_and_runaway_book():
    # so much short mass that any push runs away: a tiny shock is enough
    snap = uniform(rho_short=1e10)
    r = position_risk(
        snap, entry=100.0, leverage=10, side="short", depth=DepthCurve(c0=1e9, delta0=1.0, gamma=1.0)
    )
    assert r.distance > 0 and r.shock_to_liquidation > 0
    assert r.shock_to_liquidation < 1e-4


def test_beyond_max_move_and_errors():
    snap = uniform(rho_long=1e8)
    r = position_risk(snap, entry=100.0, leverage=1.5, side="long", depth=DepthCurve(c0=1e12), max_move=0.2)
    assert math.isnan(r.shock_to_liquidation)
    assert "beyond max_move" in repr(r)
    with pytest.raises(ValueError, match="already be liquidated"):
        position_risk(snap, entry=120.0, leverage=20, side="long")
    with pytest.raises(ValueError, match="side"):
        position_risk(snap, entry=100.0, leverage=10, side="both")  # type: ignore[arg-type]


def test_to_dict_and_repr():
    snap = uniform(rho_long=1e8)
    r = position_risk(snap, entry=100.0, leverage=10, side="long", depth=DepthCurve(c0=1e10))
    d = r.to_dict()
    assert d["liquidation_price"] == r.liquidation_price and isinstance(d["clusters"], list)
    assert "long 10x" in repr(r)
    with pytest.raises(AttributeError):
        r.distance = 0.0  # type: ignore[misc]
