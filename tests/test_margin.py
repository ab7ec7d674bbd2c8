"""Liquidation-price math: published worked examples, independent root-finding, invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

from heatmap.exchanges import get
from heatmap.margin import (
    bankruptcy_price,
    bybit_liquidation_price,
    cross_liquidation_price,
    funding_shift,
    gate_liquidation_price,
    hyperliquid_liquidation_price,
    initial_margin,
    inverse_liquidation_price,
    liquidation_price,
    maintenance_margin,
    okx_liquidation_price,
    side_sign,
)

BTCUSDT = get("binance-usdm", "BTCUSDT")
BTCUSD_PERP = get("binance-coinm", "BTCUSD_PERP")

# Binance's official cross-margin example (as encoded in freqtrade tests/exchange/test_binance.py,
# test_liquidation_price_binance; see REFERENCE 1.1).
WB = 1_535_443.01
BTC = {"qty": 109.488, "entry": 32_481.98, "mmr": 0.025, "cum": 16_300.0, "mark": 31_967.27}
ETH = {"qty": 3_683.979, "entry": 1_456.84, "mmr": 0.10, "cum": 135_365.0, "mark": 1_335.18}


def _mm(p: dict[str, float]) -> float:
    return p["qty"] * p["mark"] * p["mmr"] - p["cum"]


def _upnl(p: dict[str, float]) -> float:
    return p["qty"] * (p["mark"] - p["entry"])


# ----------------------------------------------------------------------------------------------------------------
# golden examples
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("this", "other", "expected"),
    [(BTC, ETH, 26_316.89), (ETH, BTC, 1_153.26)],
    ids=["BTC", "ETH"],
)
def test_binance_cross_example(this: dict[str, float], other: dict[str, float], expected: float) -> None:
    lp = cross_liquidation_price(
        WB,
        this["qty"],
        this["entry"],
        "long",
        mmr=this["mmr"],
        cum=this["cum"],
        other_maintenance=_mm(other),
        other_unrealized_pnl=_upnl(other),
    )
    assert round(lp, 2) == expected


@pytest.mark.parametrize(("p", "expected"), [(BTC, 18_778.73), (ETH, 1_114.78)], ids=["BTC", "ETH"])
def test_binance_example_treated_as_isolated(p: dict[str, float], expected: float) -> None:
    lp = cross_liquidation_price(WB, p["qty"], p["entry"], "long", mmr=p["mmr"], cum=p["cum"])
    assert round(lp, 2) == expected
    # same position through the isolated formula: margin = initial margin at 4x + the rest as extra margin
    im = initial_margin(p["entry"], p["qty"], 4)
    iso = liquidation_price(
        p["entry"], 4, "long", mmr=p["mmr"], cum=p["cum"], qty=p["qty"], extra_margin=WB - im
    )
    assert iso == pytest.approx(lp, rel=1e-12)


def test_binance_cross_example_with_dated_schedule() -> None:
    """The example's BTC bracket (2.5 %, 16,300) is bracket 4 of the 2021 BTCUSDT table; the selection finds it."""
    sched = get("binance-usdm", "BTCUSDT", date="2021-06-01")
    lp = cross_liquidation_price(
        WB,
        BTC["qty"],
        BTC["entry"],
        "long",
        other_maintenance=_mm(ETH),
        other_unrealized_pnl=_upnl(ETH),
        schedule=sched,
    )
    assert round(lp, 2) == 26_316.89
    assert sched.bracket_index(lp * BTC["qty"]) == 3


def test_bybit_help_centre_example() -> None:
    """Bybit 'Liquidation Price (USDT Contract)': 1 BTC long @ 20,000, 50x, MMR 0.5 % -> IM 400, MM 100, LP 19,700."""
    assert initial_margin(20_000.0, 1.0, 50) == pytest.approx(400.0)
    assert maintenance_margin(20_000.0, 1.0, mmr=0.005) == pytest.approx(100.0)
    assert bybit_liquidation_price(20_000.0, 50, "long", qty=1.0, mmr=0.005) == pytest.approx(19_700.0)
    assert bybit_liquidation_price(20_000.0, 50, "short", qty=1.0, mmr=0.005) == pytest.approx(20_300.0)
    # without deduction Bybit's isolated long is exactly EP*(1 - 1/L + MMR)
    assert bybit_liquidation_price(20_000.0, 50, "long", mmr=0.005) == pytest.approx(
        20_000 * (1 - 1 / 50 + 0.005)
    )


def test_bybit_inverse_matches_definition() -> None:
    q, ep, lev, m = 10_000.0, 20_000.0, 25, 0.005
    pv = q / ep
    im, mm = pv / lev, pv * m
    assert bybit_liquidation_price(ep, lev, "long", mmr=m, qty=q, contract="inverse") == pytest.approx(
        q / (pv + (im - mm))
    )
    assert bybit_liquidation_price(ep, lev, "short", mmr=m, qty=q, contract="inverse") == pytest.approx(
        q / (pv - (im - mm))
    )


def test_binance_coinm_faq_maintenance_amount() -> None:
    """COIN-M FAQ: a 300 BTC BTCUSD position has MMR 12.5 % and maintenance amount 11.81 BTC; MA_5 = 1.81 BTC."""
    mmr, cum, _ = BTCUSD_PERP.lookup(300.0)
    assert float(mmr) == 0.125
    assert float(cum) == pytest.approx(11.81)
    assert BTCUSD_PERP.cum[4] == pytest.approx(50 * (0.05 - 0.025) + 0.56)
    # maintenance margin of 300 BTC of notional (USD notional at a price P is 300*P)
    price = 40_000.0
    assert maintenance_margin(price, 300 * price, schedule=BTCUSD_PERP, contract="inverse") == pytest.approx(
        300 * 0.125 - 11.81
    )


def test_hyperliquid_mmr_is_half_initial_margin_at_max_leverage() -> None:
    ep = 100_000.0
    for lev in (5.0, 20.0, 40.0):
        expected = ep * (1 - 1 / lev) / (1 - 1 / 80)
        assert hyperliquid_liquidation_price(ep, lev, "long") == pytest.approx(expected)
        assert hyperliquid_liquidation_price(ep, lev, "short") == pytest.approx(
            ep * (1 + 1 / lev) / (1 + 1 / 80)
        )
    # documented form: LP = P - s*margin_available/Q/(1 - s*l), margin_available = margin - MM at entry
    q, lev, l_ = 2.0, 10.0, 1 / 80
    avail = q * ep / lev - q * ep * l_
    assert hyperliquid_liquidation_price(ep, lev, "short", qty=q) == pytest.approx(ep + avail / q / (1 + l_))
    with pytest.raises(ValueError, match="max_leverage is 40x"):
        hyperliquid_liquidation_price(ep, 50, "long")


def test_gate_formulas_as_published() -> None:
    """Gate: linear (EP -+ Margin/Size)/(1 -+ (MMR+taker)); inverse Size*EP*(1 +- (MMR+taker))/(Size +- Margin*EP)."""
    ep, lev, m, fee, size, extra = 2_000.0, 10.0, 0.005, 0.00075, 4.0, 25.0
    margin = size * ep / lev + extra
    r = m + fee
    assert gate_liquidation_price(ep, lev, "long", mmr=m, qty=size, extra_margin=extra) == pytest.approx(
        (ep - margin / size) / (1 - r)
    )
    assert gate_liquidation_price(ep, lev, "short", mmr=m, qty=size, extra_margin=extra) == pytest.approx(
        (ep + margin / size) / (1 + r)
    )
    usd, coin_margin = 50_000.0, 50_000.0 / (ep * lev)
    kw = {"mmr": m, "qty": usd, "contract": "inverse"}
    assert gate_liquidation_price(ep, lev, "long", **kw) == pytest.approx(
        usd * ep * (1 + r) / (usd + coin_margin * ep)
    )
    assert gate_liquidation_price(ep, lev, "short", **kw) == pytest.approx(
        usd * ep * (1 - r) / (usd - coin_margin * ep)
    )


def test_okx_margin_ratio_is_one_at_liquidation() -> None:
    ep, lev, m, fee, q = 60_000.0, 25.0, 0.004, 0.0005, 3.0
    for side in ("long", "short"):
        s = side_sign(side)
        lp = okx_liquidation_price(ep, lev, side, mmr=m, taker_fee=fee, qty=q)
        ratio = (q * ep / lev + s * q * (lp - ep)) / (q * lp * (m + fee))
        assert ratio == pytest.approx(1.0, rel=1e-12)
    # coin-margined long: (1 + MMR + fee) / (1/EP + margin/(face*contracts))
    usd = 100 * 20  # 20 contracts of 100 USD
    margin = usd / (ep * lev)
    assert okx_liquidation_price(
        ep, lev, "long", mmr=m, taker_fee=fee, qty=usd, contract="inverse"
    ) == pytest.approx((1 + m + fee) / (1 / ep + margin / usd))
    with pytest.raises(ValueError, match="mmr"):
        okx_liquidation_price(ep, lev, "long", mmr=0.9, taker_fee=0.2)


# ----------------------------------------------------------------------------------------------------------------
# closed forms and independent root finding
# ----------------------------------------------------------------------------------------------------------------


def test_linear_closed_forms() -> None:
    ep, lev, m, c, q, x = 50_000.0, 20.0, 0.005, 50.0, 3.0, 100.0
    long_ = (ep * (1 - 1 / lev) - (c + x) / q) / (1 - m)
    short = (ep * (1 + 1 / lev) + (c + x) / q) / (1 + m)
    got = liquidation_price(ep, lev, ["long", "short"], mmr=m, cum=c, qty=q, extra_margin=x)
    np.testing.assert_allclose(got, [long_, short], rtol=1e-13)


def test_inverse_closed_forms() -> None:
    ep, lev, m = 20_000.0, 50.0, 0.004
    assert inverse_liquidation_price(ep, lev, "long", mmr=m) == pytest.approx(ep * (1 + m) / (1 + 1 / lev))
    assert inverse_liquidation_price(ep, lev, "short", mmr=m) == pytest.approx(ep * (1 - m) / (1 - 1 / lev))
    # with qty the formula is scale-free when cum = extra = 0
    assert liquidation_price(ep, lev, "long", mmr=m, qty=1e6, contract="inverse") == pytest.approx(
        ep * (1 + m) / (1 + 1 / lev)
    )


def test_bankruptcy_price() -> None:
    assert bankruptcy_price(20_000.0, 50, "long") == pytest.approx(19_600.0)
    assert bankruptcy_price(20_000.0, 50, "short") == pytest.approx(20_400.0)
    assert bankruptcy_price(20_000.0, 50, "long", contract="inverse") == pytest.approx(20_000 / 1.02)
    assert bankruptcy_price(20_000.0, 1, "short", contract="inverse") == np.inf
    # equity at the bankruptcy price is zero
    bp = bankruptcy_price(30_000.0, 7, "short", qty=2.0, extra_margin=500.0)
    assert 2.0 * 30_000 / 7 + 500.0 - 2.0 * (bp - 30_000) == pytest.approx(0.0, abs=1e-8)


def _root_linear(ep: float, lev: float, s: int, q: float, extra: float = 0.0) -> float:
    wb = q * ep / lev + extra

    def gap(p: float) -> float:
        return wb + s * q * (p - ep) - float(BTCUSDT.maintenance_margin(q * p, clip=True))

    lo, hi = (1e-9, ep) if s > 0 else (ep, 50 * ep)
    return brentq(gap, lo, hi, xtol=1e-10, rtol=1e-14)


def _root_inverse(ep: float, lev: float, s: int, q: float) -> float:
    wb = q / (ep * lev)

    def gap(p: float) -> float:
        return wb + s * q * (1 / ep - 1 / p) - float(BTCUSD_PERP.maintenance_margin(q / p, clip=True))

    lo, hi = (ep / 50, ep) if s > 0 else (ep, 50 * ep)
    return brentq(gap, lo, hi, xtol=1e-10, rtol=1e-14)


@pytest.mark.parametrize("qty", [0.01, 0.6, 8.0, 40.0, 150.0, 900.0, 2_500.0, 9_000.0])
@pytest.mark.parametrize("side", [1, -1])
def test_schedule_lp_solves_maintenance_equation_linear(qty: float, side: int) -> None:
    """Bracket selection agrees with brute-force root finding of equity(P) = MM(Q*P) on the bracket table."""
    ep = 60_000.0
    lev = float(BTCUSDT.lookup(qty * ep)[2])  # the highest leverage allowed at this size
    for L in (lev, max(1.5, lev / 3)):
        got = liquidation_price(ep, L, side, qty=qty, schedule=BTCUSDT)
        assert got == pytest.approx(_root_linear(ep, L, side, qty), rel=1e-10)


@pytest.mark.parametrize("coins", [0.5, 15.0, 25.0, 45.0, 90.0, 180.0, 300.0])
@pytest.mark.parametrize("side", [1, -1])
def test_schedule_lp_solves_maintenance_equation_inverse(coins: float, side: int) -> None:
    ep = 30_000.0
    q = coins * ep  # USD notional
    lev = float(BTCUSD_PERP.lookup(coins)[2])
    for L in (lev, max(1.5, lev / 2)):
        got = liquidation_price(ep, L, side, qty=q, schedule=BTCUSD_PERP, contract="inverse")
        assert got == pytest.approx(_root_inverse(ep, L, side, q), rel=1e-10)


def test_bracket_at_liquidation_differs_from_entry_bracket() -> None:
    """A short whose notional crosses a floor between entry and liquidation uses the higher bracket."""
    ep, q, lev = 50_000.0, 0.95, 10.0  # entry notional 47,500 (bracket 1), at LP ~ 52,040 (bracket 2)
    lp = liquidation_price(ep, lev, "short", qty=q, schedule=BTCUSDT)
    assert BTCUSDT.bracket_index(ep * q) == 0
    assert BTCUSDT.bracket_index(lp * q) == 1
    expected = (ep * (1 + 1 / lev) + 50.0 / q) / (1 + 0.005)
    assert lp == pytest.approx(expected)


def test_bracket_choice_equals_envelope() -> None:
    """First consistent bracket == max (long) / min (short) of the per-bracket prices (MM is the lines' envelope)."""
    rng = np.random.default_rng(3)
    ep = rng.uniform(10_000, 100_000, 400)
    q = np.exp(rng.uniform(np.log(0.001), np.log(20_000), 400))
    lev = rng.uniform(1.0, 1.0 / BTCUSDT.lookup(q * ep, clip=True)[0] / 1.05)
    s = rng.choice([-1, 1], 400)
    got = liquidation_price(ep, lev, s, qty=q, schedule=BTCUSDT, check_max_leverage=False)
    e, L, qq, ss = ep[:, None], lev[:, None], q[:, None], s[:, None]
    per = (e / L + BTCUSDT.cum / qq - ss * e) / (BTCUSDT.mmr - ss)  # LP of every bracket's line
    env = np.where(s > 0, per.max(axis=1), per.min(axis=1))
    env = np.where((s > 0) & (env <= 0), 0.0, env)
    np.testing.assert_allclose(got, env, rtol=1e-12)


# ----------------------------------------------------------------------------------------------------------------
# conventions and errors
# ----------------------------------------------------------------------------------------------------------------


def test_long_at_or_below_1x_never_liquidates() -> None:
    assert liquidation_price(50_000.0, 1, "long") == 0.0
    assert liquidation_price(50_000.0, 0.5, "long") == 0.0
    assert liquidation_price(50_000.0, 1, "short") == pytest.approx(50_000 * 2 / 1.004)
    assert inverse_liquidation_price(50_000.0, 1, "short") == np.inf
    assert inverse_liquidation_price(50_000.0, 1, "long") == pytest.approx(50_000 * 1.004 / 2)


def test_scalar_and_broadcast_shapes() -> None:
    assert isinstance(liquidation_price(1.0, 2.0, "long"), float)
    out = liquidation_price(np.array([[100.0], [200.0]]), np.array([5.0, 10.0, 20.0]), "short")
    assert out.shape == (2, 3)
    sides = liquidation_price(100.0, 10.0, np.array([1, -1, 1]))
    assert sides[0] < 100 < sides[1] and sides[0] == sides[2]
    sched = liquidation_price(
        np.full((2, 2), 100.0), 10.0, "long", qty=np.array([1.0, 1e6]), schedule=BTCUSDT
    )
    assert sched.shape == (2, 2)


def test_side_sign() -> None:
    np.testing.assert_array_equal(side_sign(["long", "SHORT", 1, -1.0]), [1, -1, 1, -1])
    assert side_sign("short").shape == ()
    np.testing.assert_array_equal(side_sign(np.array([["long"], [" Short "]])), [[1.0], [-1.0]])
    import pandas as pd

    np.testing.assert_array_equal(side_sign(pd.Series(["short", "long"])), [-1.0, 1.0])
    np.testing.assert_array_equal(side_sign(np.array([1, -1, 1], dtype=np.int8)), [1.0, -1.0, 1.0])
    for bad in ("buy", 0, 2, ["long", "flat"], np.array(["long", "x"]), [0.5], True, None, b"long"):
        with pytest.raises(ValueError, match="side"):
            side_sign(bad)  # type: ignore[arg-type]


def test_input_errors() -> None:
    with pytest.raises(ValueError, match="leverage"):
        liquidation_price(100.0, 0.0, "long")
    with pytest.raises(ValueError, match="leverage"):
        liquidation_price(100.0, -5.0, "long")
    with pytest.raises(ValueError, match="entry"):
        liquidation_price(-1.0, 5.0, "long")
    with pytest.raises(ValueError, match="mmr"):
        liquidation_price(100.0, 5.0, "long", mmr=1.5)
    with pytest.raises(ValueError, match="cum"):
        liquidation_price(100.0, 5.0, "long", cum=10.0)
    with pytest.raises(ValueError, match="extra_margin"):
        liquidation_price(100.0, 5.0, "long", extra_margin=10.0)
    with pytest.raises(ValueError, match="contract"):
        liquidation_price(100.0, 5.0, "long", contract="quanto")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not both"):
        liquidation_price(100.0, 5.0, "long", mmr=0.01, schedule=BTCUSDT)
    with pytest.raises(ValueError, match="'linear' schedule"):
        liquidation_price(100.0, 5.0, "long", qty=1.0, schedule=BTCUSDT, contract="inverse")


def test_leverage_above_bracket_max() -> None:
    with pytest.raises(ValueError, match=r"got 150x .* at most 125x"):
        liquidation_price(100_000.0, 150, "long", schedule=BTCUSDT)
    with pytest.raises(ValueError, match=r"got 100x .* at most 75x"):
        liquidation_price(100_000.0, 100, "long", qty=10.0, schedule=BTCUSDT)  # 1M notional: bracket 3
    lp = liquidation_price(100_000.0, 100, "long", qty=10.0, schedule=BTCUSDT, check_max_leverage=False)
    assert 0 < lp < 100_000.0


# ----------------------------------------------------------------------------------------------------------------
# funding
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("side", ["long", "short"])
@pytest.mark.parametrize("rate", [0.0001, -0.0003])
def test_funding_shift_equals_lp_change_after_settlement(side: str, rate: float) -> None:
    ep, lev, q, m, mark, extra = 60_000.0, 15.0, 2.0, 0.004, 61_500.0, 3_000.0
    s = side_sign(side)
    payment = s * q * mark * rate  # paid out of the position's margin
    before = liquidation_price(ep, lev, side, mmr=m, qty=q, extra_margin=extra)
    after = liquidation_price(ep, lev, side, mmr=m, qty=q, extra_margin=extra - payment)
    assert funding_shift(rate, mark, side, m) == pytest.approx(after - before, rel=1e-9)


def test_funding_shift_signs_and_formula() -> None:
    f, p, m = 0.0001, 100_000.0, 0.005
    assert funding_shift(f, p, "long", m) == pytest.approx(f * p / (1 - m))
    assert funding_shift(f, p, "short", m) == pytest.approx(f * p / (1 + m))
    assert funding_shift(-f, p, "long", m) < 0 < funding_shift(f, p, "long", m)
    assert funding_shift(-f, p, "short", m) < 0 < funding_shift(f, p, "short", m)
    np.testing.assert_allclose(funding_shift([f, f], p, [1, -1], m), [f * p / (1 - m), f * p / (1 + m)])
    # 30 days of 0.01 %/8h move a long's level by about 0.90 % of price (REFERENCE 1.5)
    assert 90 * funding_shift(f, p, "long", 0.004) / p == pytest.approx(0.00904, abs=5e-5)


# ----------------------------------------------------------------------------------------------------------------
# properties
# ----------------------------------------------------------------------------------------------------------------

entries = st.floats(100.0, 200_000.0)
leverages = st.floats(1.05, 125.0)
mmrs = st.floats(0.0, 0.05)
qtys = st.floats(1e-4, 5_000.0)


@settings(max_examples=200, deadline=None)
@given(ep=entries, lev=leverages, m=mmrs)
def test_long_below_entry_below_short(ep: float, lev: float, m: float) -> None:
    m = min(m, 0.5 / lev)  # maintenance below initial margin
    for contract in ("linear", "inverse"):
        lo = liquidation_price(ep, lev, "long", mmr=m, contract=contract)  # type: ignore[arg-type]
        hi = liquidation_price(ep, lev, "short", mmr=m, contract=contract)  # type: ignore[arg-type]
        assert lo < ep < hi


@settings(max_examples=200, deadline=None)
@given(ep=entries, lev=st.floats(1.05, 120.0), bump=st.floats(1.001, 5.0), q=qtys)
def test_lp_moves_toward_entry_as_leverage_rises(ep: float, lev: float, bump: float, q: float) -> None:
    lev2 = lev * bump
    kw = {"qty": q, "schedule": BTCUSDT, "check_max_leverage": False}
    assert liquidation_price(ep, lev2, "long", **kw) >= liquidation_price(ep, lev, "long", **kw)
    assert liquidation_price(ep, lev2, "short", **kw) <= liquidation_price(ep, lev, "short", **kw)


@settings(max_examples=200, deadline=None)
@given(ep=entries, lev=st.floats(1.05, 100.0), q=qtys, grow=st.floats(1.0, 1_000.0))
def test_higher_bracket_never_moves_lp_away(ep: float, lev: float, q: float, grow: float) -> None:
    """A larger position (same leverage) sits in the same or a higher bracket; its LP is never farther away."""
    kw = {"schedule": BTCUSDT, "check_max_leverage": False}
    q2 = q * grow
    rtol = 1e-12
    assert liquidation_price(ep, lev, "long", qty=q2, **kw) >= liquidation_price(
        ep, lev, "long", qty=q, **kw
    ) * (1 - rtol)
    assert liquidation_price(ep, lev, "short", qty=q2, **kw) <= liquidation_price(
        ep, lev, "short", qty=q, **kw
    ) * (1 + rtol)


@settings(max_examples=200, deadline=None)
@given(ep=entries, lev=st.floats(2.0, 125.0), m=st.floats(0.0, 0.05))
def test_linear_and_inverse_agree_to_first_order(ep: float, lev: float, m: float) -> None:
    eps = 1 / lev + m
    for side in ("long", "short"):
        lin = liquidation_price(ep, lev, side, mmr=m)
        inv = liquidation_price(ep, lev, side, mmr=m, contract="inverse")
        first = ep * (1 - side_sign(side) * (1 / lev - m))
        assert abs(lin - first) / ep <= 3 * eps**2
        assert abs(inv - first) / ep <= 3 * eps**2


@settings(max_examples=300, deadline=None)
@given(ep=entries, q=qtys, u=st.floats(0.0, 1.0), side=st.sampled_from([1, -1]))
def test_selected_bracket_is_consistent(ep: float, q: float, u: float, side: int) -> None:
    """The bracket whose MMR/cum produced LP contains the liquidation notional LP*Q (within [floor, cap])."""
    max_lev = float(BTCUSDT.lookup(q * ep, clip=True)[2])
    lev = 1.0 + u * (max_lev - 1.0) if max_lev > 1 else 1.0
    lp = liquidation_price(ep, lev, side, qty=q, schedule=BTCUSDT, check_max_leverage=False)
    if lp <= 0 or lp * q > BTCUSDT.cap[-1]:
        return
    idx = int(BTCUSDT.bracket_index(lp * q))
    m, c = BTCUSDT.mmr[idx], BTCUSDT.cum[idx]
    direct = liquidation_price(ep, lev, side, mmr=m, cum=c, qty=q)
    assert lp == pytest.approx(direct, rel=1e-9)
    assert BTCUSDT.floor[idx] * (1 - 1e-9) <= lp * q <= BTCUSDT.cap[idx] * (1 + 1e-9)


def test_docs_shortcut_table_is_current() -> None:
    """docs/margin.md contains exactly what docs/make_margin_table.py prints."""
    import contextlib
    import importlib.util
    import io
    from pathlib import Path

    docs = Path(__file__).resolve().parents[1] / "docs"
    if not (docs / "make_margin_table.py").exists():
        pytest.skip("docs not present (installed package)")
    spec = importlib.util.spec_from_file_location("make_margin_table", docs / "make_margin_table.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        module.main()
    text = (docs / "margin.md").read_text(encoding="utf-8")
    pasted = text.split("<!-- shortcut-table -->\n", 1)[1].split("<!-- /shortcut-table -->", 1)[0]
    assert pasted == buf.getvalue()
