"""Cascade simulator, depth models and fragility curve (heatmap.cascade)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import lambertw

from heatmap.cascade import (
    FRAGILITY_COLUMNS,
    CascadeResult,
    DepthCurve,
    SqrtImpact,
    default_depth,
    fragility_curve,
    liquidated_within,
    market_liquidity,
    simulate_cascade,
)
from heatmap.density import bin_cohorts
from heatmap.result import Snapshot

T0 = pd.Timestamp("2025-01-01", tz="UTC")


def uniform_log_snapshot(rho_long, rho_short=0.0, price=100.0, h=0.001, span=0.9):
    """Density ``rho`` [quote per unit log-price] on a grid with ``price`` on an edge."""
    n = int(round(span / h))
    edges = price * np.exp(h * np.arange(-n, n + 1))
    below = edges[1:] <= price * (1 + 1e-12)
    return Snapshot(
        time=T0,
        price_edges=edges,
        long=np.where(below, rho_long * h, 0.0),
        short=np.where(~below, rho_short * h, 0.0),
        price=price,
    )


def random_snapshot(seed, price=100.0):
    rng = np.random.default_rng(seed)
    edges = np.geomspace(40.0, 250.0, 801)
    return Snapshot(
        time=T0, price_edges=edges, long=rng.gamma(0.5, 1e6, 800), short=rng.gamma(0.5, 1e6, 800), price=price
    )


# -- depth models -----------------------------------------------------------------------------------------------
def test_depth_curve_inverse_pair_and_stress():
    d = DepthCurve(c0=2e8, delta0=0.01, gamma=0.6)
    for delta in (0.001, 0.01, 0.07):
        assert d.impact(d.depth(delta)) == pytest.approx(delta)
    assert d.impact(2e8) == pytest.approx(0.01)
    # stress 2 halves the depth: the same notional needs half the book -> impact of twice the notional
    assert d.with_stress(2.0).impact(1e8) == pytest.approx(d.impact(2e8))
    assert d.with_stress(2.0).depth(0.01) == pytest.approx(1e8)
    np.testing.assert_allclose(d.impact(np.array([0.0, 2e8])), [0.0, 0.01])


def test_sqrt_impact_formula_and_stress():
    s = SqrtImpact(Y=0.8, sigma=0.04, volume=5e9)
    assert s.impact(5e7) == pytest.approx(0.8 * 0.04 * math.sqrt(0.01))
    assert s.with_stress(4.0).impact(5e7) == pytest.approx(2 * s.impact(5e7))


@pytest.mark.parametrize(
    ("cls", "kw", "match"),
    [
        (DepthCurve, {"c0": 0.0}, "c0"),
        (DepthCurve, {"c0": 1.0, "gamma": 3.0}, "gamma"),
        (DepthCurve, {"c0": 1.0, "delta0": 1.5}, "delta0"),
        (DepthCurve, {"c0": 1.0, "stress": -1.0}, "stress"),
        (SqrtImpact, {"Y": 1.0, "sigma": float("nan"), "volume": 1.0}, "sigma"),
    ],
)
def test_depth_validation(cls, kw, match):
    with pytest.raises(ValueError, match=match):
        cls(**kw)


def test_from_market_scales():
    from heatmap.synthetic import synthetic_market

    m = synthetic_market(days=12, freq="1h", seed=5)
    liq = market_liquidity(m, window="10D")
    f = m.frame.loc[m.frame.index >= m.frame.index[-1] - pd.Timedelta("10D")]
    assert liq["volume"] == pytest.approx(float((f["volume"] * f["close"]).mean() * 24))
    assert liq["sigma"] == pytest.approx(float(np.diff(np.log(f["close"])).std(ddof=1) * math.sqrt(24)))
    d = DepthCurve.from_market(m, gamma=0.7, book_share=0.02, window="10D", stress=3.0)
    assert (d.c0, d.delta0, d.gamma, d.stress) == pytest.approx((0.02 * liq["volume"], 0.01, 0.7, 3.0))
    s = SqrtImpact.from_market(m, Y=0.7, window="10D")
    assert (s.sigma, s.volume, s.Y) == pytest.approx((liq["sigma"], liq["volume"], 0.7))
    # the square-root law is a power-law depth curve with gamma = 2 anchored at one sigma
    as_curve = DepthCurve(c0=liq["volume"] / 0.7**2, delta0=liq["sigma"], gamma=2.0)
    q = np.array([1e6, 1e8, 1e10])
    np.testing.assert_allclose(as_curve.impact(q), s.impact(q))


def test_from_market_needs_volume():
    from heatmap.synthetic import synthetic_market

    m = synthetic_market(days=3, freq="1h", seed=1)
    from heatmap.market import Market

    no_vol = Market.from_frame(m.frame.drop(columns=["volume", "taker_buy_volume"]))
    with pytest.raises(ValueError, match="volume"):
        DepthCurve.from_market(no_vol)


# -- simulator ----------------------------------------------------------------------------------------------------
def test_liquidated_within_sides():
    s = uniform_log_snapshot(1e6, 2e6)
    assert float(liquidated_within(s, -0.05)) == pytest.approx(1e6 * -math.log(0.95))
    assert float(liquidated_within(s, 0.05)) == pytest.approx(2e6 * math.log(1.05))
    assert float(liquidated_within(s, 0.0)) == 0.0


@pytest.mark.parametrize("shock", [-0.03, 0.02])
def test_no_liquidations_means_no_amplification(shock):
    s = Snapshot(
        time=T0, price_edges=np.geomspace(50, 200, 301), long=np.zeros(300), short=np.zeros(300), price=100.0
    )
    r = simulate_cascade(s, shock, depth=DepthCurve(c0=1e3))
    assert r.move == shock
    assert r.amplification == 1.0
    assert r.converged and not r.runaway
    assert r.liquidated == 0.0


def test_matches_lambert_w_closed_form():
    # uniform density rho per log unit below price, linear impact k*Q:  m = eps + k*rho*ln(1/(1-m)).
    # With u = 1 - m: u - a*ln(u) = 1 - eps, smallest m <-> largest u = -a W_{-1}(-exp(-(1-eps)/a)/a).
    rho, k = 5e8, 1e-10  # a = 0.05
    a = k * rho
    s = uniform_log_snapshot(rho)
    depth = DepthCurve(c0=1.0 / k, delta0=1.0, gamma=1.0)
    for eps in (0.01, 0.03, 0.1):
        u = float(np.real(-a * lambertw(-np.exp(-(1 - eps) / a) / a, k=-1)))
        r = simulate_cascade(s, -eps, depth=depth, tol=1e-12, max_iter=10_000)
        assert r.converged
        assert r.move == pytest.approx(-(1 - u), rel=1e-9)
        assert r.liquidated_long == pytest.approx(rho * -math.log(u), rel=1e-9)
        assert r.path[0] == -eps and all(np.diff(r.path) <= 0)  # monotone down


def test_runaway_when_no_fixed_point():
    # a = 2 > 1: g(m) = eps + a ln(1/(1-m)) > m for every m, no fixed point at all
    s = uniform_log_snapshot(2e10)
    r = simulate_cascade(s, -0.01, depth=DepthCurve(c0=1e10, delta0=1.0, gamma=1.0), max_move=0.5)
    assert r.runaway and not r.converged
    assert r.move == -0.5
    assert "RUNAWAY" in repr(r)
    assert r.to_dict()["runaway"] is True


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    shock=st.floats(-0.2, 0.2).filter(lambda x: abs(x) > 1e-4),
    c0=st.floats(1e7, 1e10),
    factor=st.floats(1.0, 10.0),
    gamma=st.sampled_from([0.5, 0.6, 1.0, 2.0]),
)
def test_fixed_point_and_more_depth_never_moves_further(seed, shock, c0, factor, gamma):
    s = random_snapshot(seed)
    thin = simulate_cascade(s, shock, depth=DepthCurve(c0=c0, gamma=gamma), max_iter=5000)
    deep = simulate_cascade(s, shock, depth=DepthCurve(c0=c0 * factor, gamma=gamma), max_iter=5000)
    assert abs(deep.move) <= abs(thin.move) + 1e-12
    assert abs(thin.move) >= abs(shock)
    for r in (thin, deep):
        if r.converged:
            liq = float(liquidated_within(s, r.move))
            assert abs(abs(r.move) - abs(shock) - r.depth.impact(liq)) < 1e-6
        else:
            assert r.runaway and abs(r.move) == r.max_move


def test_result_is_frozen_and_reprs():
    s = uniform_log_snapshot(1e8, 1e8)
    r = simulate_cascade(s, 0.02, depth=DepthCurve(c0=1e9))
    assert isinstance(r, CascadeResult)
    with pytest.raises(AttributeError):
        r.move = 0.0  # type: ignore[misc]
    assert r.liquidated_long == 0.0 and r.liquidated_short > 0
    assert "short" in repr(r) and "converged" in repr(r)
    d = r.to_dict()
    assert d["final_price"] == pytest.approx(100.0 * (1 + r.move))


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"shock": 0.6}, "max_move"),
        ({"shock": float("nan")}, "shock"),
        ({"shock": -0.01, "max_move": 1.5}, "max_move"),
        ({"shock": -0.01, "tol": 0.0}, "tol"),
        ({"shock": -0.01, "max_iter": 0}, "max_iter"),
    ],
)
def test_simulate_validates(kw, match):
    with pytest.raises(ValueError, match=match):
        simulate_cascade(uniform_log_snapshot(1e6), depth=DepthCurve(c0=1e9), **kw)


def test_default_depth_scale():
    s = uniform_log_snapshot(1e6, 1e6)
    d = default_depth(s)
    assert d.c0 == pytest.approx(0.05 * (s.total["long"] + s.total["short"]))
    empty = Snapshot(time=T0, price_edges=np.array([1.0, 2.0]), long=[0.0], short=[0.0], price=1.5)
    with pytest.raises(ValueError, match="depth"):
        simulate_cascade(empty, -0.01)


def test_fragility_curve_table():
    s = random_snapshot(1)
    depth = DepthCurve(c0=5e9)
    f = fragility_curve(s, [0.03, -0.01, -0.03], depth=depth)
    assert list(f.columns) == list(FRAGILITY_COLUMNS)
    assert f["shock"].tolist() == [-0.03, -0.01, 0.03]
    r = simulate_cascade(s, -0.03, depth=depth)
    assert f.loc[0, "final_move"] == r.move and f.loc[0, "liquidated_long"] == r.liquidated_long
    assert (f["amplification"] >= 1).all()
    # bigger shocks in the same direction never end closer to the price
    down = fragility_curve(s, -np.linspace(0.005, 0.2, 12), depth=depth).sort_values("shock", ascending=False)
    assert down["final_move"].is_monotonic_decreasing
    assert len(fragility_curve(s, depth=depth)) == 40


# -- agreement with the agent-based world's own impact law ----------------------------------------------------------
@pytest.fixture(scope="module")
def world_book():
    from heatmap.synthetic import simulate_world

    w = simulate_world(days=20, freq="1h", seed=3, impact=0.004, cohorts_per_bar=16)
    t = w.market.index[-1]
    book = w.positions_at(t)
    book["notional"] = book["qty"] * book["liquidation_price"]
    price = float(w.market.frame["close"].iloc[-1])
    edges = np.geomspace(price * 0.3, price * 1.7, 6001)
    snap = Snapshot(
        time=t,
        price_edges=edges,
        long=bin_cohorts(book, edges, side="long"),
        short=bin_cohorts(book, edges, side="short"),
        price=price,
    )
    return w, book, snap


def discrete_cascade(book, price, shock, impact_of_notional):
    """Step by step on the discrete book: liquidate crossed positions, move the price, repeat."""
    side, sign = ("long", -1.0) if shock < 0 else ("short", 1.0)
    sub = book.loc[book["side"] == side]
    lp = sub["liquidation_price"].to_numpy()
    notional = sub["notional"].to_numpy()
    dead = np.zeros(lp.size, bool)
    move = shock
    while True:
        target = price * (1 + move)
        crossed = (lp >= target) & (lp <= price) if sign < 0 else (lp <= target) & (lp >= price)
        if not (crossed & ~dead).any():
            return move, notional[dead].sum()
        dead |= crossed
        move = shock + sign * impact_of_notional(notional[dead].sum())


@pytest.mark.parametrize("c0", [2e8, 4e8])
@pytest.mark.parametrize("shock", [-0.01, -0.02, -0.03, -0.05, 0.02, 0.05])
def test_binned_book_matches_step_by_step_cascade(world_book, shock, c0):
    _, book, snap = world_book
    depth = DepthCurve(c0=c0, delta0=0.01, gamma=0.6)
    r = simulate_cascade(snap, shock, depth=depth, tol=1e-10, max_iter=5000)
    move, liq = discrete_cascade(book, snap.price, shock, depth.impact)
    if abs(move) >= r.max_move:
        assert r.runaway and abs(r.move) == r.max_move
        return
    assert r.converged
    # the binned book (mass spread over each band) differs from the discrete one by about one position's jump
    assert r.move == pytest.approx(move, abs=2e-4)
    assert r.liquidated == pytest.approx(liq, abs=book["notional"].max())


@pytest.mark.parametrize("shock", [-0.02, -0.03, -0.04, 0.02, 0.03, 0.04])
def test_amplification_matches_world_impact_law(world_book, shock):
    """The world shifts log-price by impact x liquidated qty / (1 % of oi_target); our fixed point must agree."""
    w, book, snap = world_book
    imp = w.params["impact"] / (0.01 * w.params["oi_target"])  # log-move per base unit
    P = snap.price
    side, sign = ("long", -1.0) if shock < 0 else ("short", 1.0)
    sub = book.loc[book["side"] == side]
    lp, qty = sub["liquidation_price"].to_numpy(), sub["qty"].to_numpy()
    dead = np.zeros(lp.size, bool)
    x = math.log1p(shock)
    while True:  # the world's rule: kill what the path crossed, shift the log price, repeat
        crossed = lp >= P * math.exp(x) if sign < 0 else lp <= P * math.exp(x)
        if not (crossed & ~dead).any():
            break
        dead |= crossed
        x = math.log1p(shock) + sign * imp * qty[dead].sum()
    world_amp = math.expm1(x) / shock
    # the same law in our units: quote notional Q ~ qty * P moves the price by impact * Q / (1 % oi_target * P)
    depth = DepthCurve(c0=0.01 * w.params["oi_target"] * P, delta0=w.params["impact"], gamma=1.0)
    r = simulate_cascade(snap, shock, depth=depth, tol=1e-10, max_iter=5000)
    assert world_amp > 1.05  # the world's book does cascade here
    # log-price vs relative moves (log(1+d) = d - d^2/2 + ...) and qty*P vs qty*liquidation price differ at
    # second order in the move: allow half the move as relative error on top of 2 %
    assert r.amplification == pytest.approx(world_amp, rel=0.02 + 0.5 * abs(r.move))


# -- command line -------------------------------------------------------------------------------------------------
def test_cli_cascade_subprocess_json():
    import json
    import subprocess
    import sys

    cmd = [
        sys.executable,
        "-m",
        "heatmap",
        "cascade",
        "--shock",
        "-0.03",
        "--days",
        "10",
        "--bins",
        "300",
        "--shocks",
        "-0.05",
        "-0.03",
        "0.03",
        "--json",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=300)
    doc = json.loads(out.stdout)
    assert doc["cascade"]["shock"] == -0.03
    assert doc["cascade"]["move"] <= -0.03
    assert [row["shock"] for row in doc["fragility"]] == [-0.05, -0.03, 0.03]
    assert doc["depth"]["kind"] == "DepthCurve" and doc["depth"]["gamma"] == 0.6


def test_cli_cascade_text_and_errors(capsys):
    from heatmap.cli import main

    assert (
        main(
            [
                "cascade",
                "--shock",
                "0.02",
                "--days",
                "10",
                "--bins",
                "300",
                "--depth-c0",
                "1e9",
                "--gamma",
                "1",
                "--shocks",
                "0.01",
                "0.02",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "cascade: shock +2.00% -> move" in text and "fragility curve" in text
    assert "depth: $1.0B absorbed by a 1.00% move, growing as (move/1.00%)^1" in text
    assert "Result(" not in text and "Curve(" not in text  # no raw reprs
    assert main(["cascade", "--shock", "0.6", "--days", "10"]) == 2
    assert "max-move" in capsys.readouterr().err
    assert main(["cascade", "--shock", "-0.01", "--klines", "x.zip"]) == 2
    assert "no such file 'x.zip'" in capsys.readouterr().err


# -- figures --------------------------------------------------------------------------------------------------------
def test_plot_fragility_draws_the_table():
    from matplotlib.figure import Figure

    from heatmap.cascade_plot import plot_fragility

    s = uniform_log_snapshot(2e10, 2e9)
    f = fragility_curve(s, [-0.04, -0.02, 0.02, 0.04], depth=DepthCurve(c0=1e10, delta0=1.0, gamma=1.0))
    assert f["runaway"].any() and not f["runaway"].all()
    fig = plot_fragility(f)
    assert isinstance(fig, Figure)
    lines = {ln.get_label(): ln for ln in fig.axes[0].get_lines()}
    down = lines["down: longs liquidated"]
    np.testing.assert_allclose(down.get_xdata(), [-4.0, -2.0])
    np.testing.assert_allclose(down.get_ydata(), 100 * f["final_move"].to_numpy()[:2])
    np.testing.assert_allclose(lines["runaway (max move)"].get_xdata(), 100 * f.loc[f["runaway"], "shock"])
    # drawing into a given axes returns its figure
    other = Figure()
    ax = other.add_subplot()
    assert plot_fragility(f, ax=ax) is other
    with pytest.raises(ValueError, match="fragility_curve"):
        plot_fragility(f.drop(columns="runaway"))


def test_plot_cascade_cobweb_ends_on_the_fixed_point():
    from heatmap.cascade_plot import plot_cascade

    s = uniform_log_snapshot(5e8)
    r = simulate_cascade(s, -0.03, depth=DepthCurve(c0=1e10, delta0=1.0, gamma=1.0), tol=1e-12)
    fig = plot_cascade(s, r)
    lines = {ln.get_label(): ln for ln in fig.axes[0].get_lines()}
    path = lines["iteration path"]
    xs, ys = np.asarray(path.get_xdata()), np.asarray(path.get_ydata())
    assert (xs[0], ys[0]) == pytest.approx((3.0, 3.0))
    assert (xs[-1], ys[-1]) == pytest.approx((100 * abs(r.move), 100 * abs(r.move)))
    # the g-curve passes through the final move on the diagonal
    g = lines["|ε| + impact(liquidated within m)"]
    gx, gy = np.asarray(g.get_xdata()), np.asarray(g.get_ydata())
    assert np.interp(100 * abs(r.move), gx, gy) == pytest.approx(100 * abs(r.move), abs=1e-3)
