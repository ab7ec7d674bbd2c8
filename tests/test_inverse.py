"""Inverse (coin-margined) contracts in both engines.

The kernel ratios are checked against :func:`heatmap.margin.inverse_liquidation_price` (the venue formula,
derived separately in ``margin.py``), the funding move against the equity equation solved by hand in this file,
the two engines against each other where the grid is exact, and the mixed linear/inverse aggregate against the
face value the inverse layer holds.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.stats import wasserstein_distance

from heatmap.aggregate import estimate_many
from heatmap.engine import estimate
from heatmap.engine.base import Bars, EngineConfig, Outputs, engine_bars
from heatmap.engine.config import resolve_config
from heatmap.engine.estimator import Estimator
from heatmap.engine.grid_engine import GridEngine
from heatmap.engine.kernels import build_kernel, lp_ratio, lp_ratio_cdf
from heatmap.engine.ledger import LedgerEngine
from heatmap.engine.steps import level_price, shift_blocks, shift_levels
from heatmap.exchanges import get
from heatmap.grid import PriceGrid
from heatmap.leverage import Leverage
from heatmap.margin import inverse_funding_shift, inverse_liquidation_price
from heatmap.market import Market
from heatmap.model import Model
from heatmap.result import Heatmap
from heatmap.synthetic import synthetic_market

COINM = get("binance-coinm", "BTCUSD_PERP")
MMR = float(COINM.mmr[0])  # 0.4 %
SIDES = ("long", "short")


# ------------------------------------------------------------------------------------------------- kernels


@settings(max_examples=200, deadline=None)
@given(
    lev=st.floats(1.0, 150.0),
    mmr=st.floats(0.0, 0.2),
    side=st.sampled_from(SIDES),
    entry=st.floats(10.0, 1e6),
    face=st.floats(1e3, 1e8),
    cum=st.floats(0.0, 5.0),
)
def test_inverse_ratio_matches_the_venue_formula(
    lev: float, mmr: float, side: str, entry: float, face: float, cum: float
) -> None:
    """``LP/E`` of the kernels = COIN-M liquidation price / entry, with ``cum_ratio = cum * E / Q``."""
    c = cum * entry / face
    den = 1.0 + 1.0 / lev + c if side == "long" else 1.0 - 1.0 / lev - c
    assume(abs(den) > 1e-9)  # a short at the edge of never being liquidated: both sides are ill-conditioned
    want = inverse_liquidation_price(entry, lev, side, mmr=mmr, cum=cum, qty=face) / entry
    got = float(lp_ratio(lev, side, mmr, c, contract="inverse"))  # type: ignore[arg-type]
    if math.isinf(want):  # a short that can never be liquidated
        assert side == "short" and math.isnan(got)
    else:
        assert got == pytest.approx(want, rel=1e-12 / min(1.0, abs(den)))


def test_closed_forms_and_limits() -> None:
    """``(1+m)/(1+u)`` long, ``(1-m)/(1-u)`` short; 1x longs at ``(1+m)/2``, 1x shorts never."""
    lev = np.array([1.0, 2.0, 10.0, 125.0])
    u = 1.0 / lev
    np.testing.assert_allclose(
        lp_ratio(lev, "long", MMR, contract="inverse"), (1 + MMR) / (1 + u), rtol=1e-15
    )
    short = lp_ratio(lev, "short", MMR, contract="inverse")
    assert np.isnan(short[0])
    np.testing.assert_allclose(short[1:], (1 - MMR) / (1 - u[1:]), rtol=1e-15)
    assert inverse_liquidation_price(100.0, 1.0, "long", mmr=MMR) == pytest.approx(100 * (1 + MMR) / 2)
    assert math.isinf(inverse_liquidation_price(100.0, 1.0, "short", mmr=MMR))


@pytest.mark.parametrize("side", SIDES)
def test_tier_kernel_atoms_sit_at_the_venue_levels(side: str) -> None:
    lev = Leverage.tiers({1: 0.25, 10: 0.25, 50: 0.5})
    h = 0.001
    k = build_kernel(lev, side, mmr=MMR, log_step=h, span=5000, contract="inverse")  # type: ignore[arg-type]
    assert k.atoms is not None and k.atom_weights is not None
    levels = {L: inverse_liquidation_price(1.0, L, side, mmr=MMR) for L in (1.0, 10.0, 50.0)}
    want = sorted(math.log(v) / h for v in levels.values() if math.isfinite(v))
    np.testing.assert_allclose(sorted(k.atoms), want, rtol=1e-12)
    # the 1x short is never liquidated: its weight is the kernel's never share; inverse longs always are
    assert k.never == pytest.approx(0.25 if side == "short" else 0.0)
    assert k.weights[0].sum() + k.never == pytest.approx(1.0)


@pytest.mark.parametrize("side", SIDES)
def test_continuous_kernel_bins_match_sampled_venue_levels(side: str) -> None:
    """Bin masses of a continuous law = histogram of the venue formula over many leverage quantiles."""
    lev = Leverage.lognormal(median=12, sigma=0.9)
    h = 0.002
    k = build_kernel(lev, side, mmr=MMR, log_step=h, span=3000, contract="inverse")  # type: ignore[arg-type]
    q = (np.arange(200_000) + 0.5) / 200_000
    lp = inverse_liquidation_price(1.0, np.asarray(lev.quantile(q)), side, mmr=MMR)
    ok = np.isfinite(lp)
    bins = np.floor(np.log(lp[ok]) / h).astype(int)  # entry at a bin edge: row 0 of the kernel
    hist = np.bincount(bins - k.offset, minlength=k.weights.shape[1])[: k.weights.shape[1]] / q.size
    # Kolmogorov distance of the binned laws (the quantile nodes resolve 1/200,000 of probability)
    assert np.abs(np.cumsum(hist) - np.cumsum(k.weights[0])).max() <= 2e-5
    beyond = float((bins - k.offset >= k.weights.shape[1]).sum()) / q.size  # past the span: off any grid
    assert k.weights[0].sum() + k.never + beyond == pytest.approx(1.0, abs=2e-5)
    assert k.never == pytest.approx(1.0 - ok.mean(), abs=1e-5)


def test_cdf_is_monotone_and_bounded() -> None:
    lev = Leverage.mixture([Leverage.tiers({1: 1.0}), Leverage.gamma(mean=20, shape=2.0)], [0.2, 0.8])
    y = np.linspace(-3, 3, 2001)
    for side in SIDES:
        g = lp_ratio_cdf(lev, side, MMR, y, 0.0, contract="inverse")  # type: ignore[arg-type]
        assert np.all(np.diff(g) >= -1e-15) and g.min() >= 0.0 and g.max() <= 1.0
    short = lp_ratio_cdf(lev, "short", MMR, np.array([50.0]), contract="inverse")
    assert float(short[0]) == pytest.approx(0.8)  # the 1x shorts (20 %) are never liquidated
    with pytest.raises(ValueError, match="contract"):
        lp_ratio_cdf(lev, "long", MMR, y, contract="quanto")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------- funding


def _lp_after_funding(
    entry: float, lev: float, side: str, mmr: float, payments: list[tuple[float, float]]
) -> float:
    """Solve ``WB + s*Q*(1/EP - 1/P) = m*Q/P`` for ``P`` after paying ``s*f*Q/F`` per settlement (Q = 1)."""
    s = 1.0 if side == "long" else -1.0
    wb = 1.0 / (entry * lev) - sum(s * f / price for f, price in payments)
    den = wb + s / entry
    return (mmr + s) / den if den * (mmr + s) > 0 else math.inf


@settings(max_examples=200, deadline=None)
@given(
    lev=st.floats(1.5, 125.0),
    side=st.sampled_from(SIDES),
    f=st.floats(-0.003, 0.003),
    mark=st.floats(50.0, 2e5),
)
def test_inverse_funding_shift_solves_the_equity_equation(
    lev: float, side: str, f: float, mark: float
) -> None:
    entry = 100.0
    lp0 = inverse_liquidation_price(entry, lev, side, mmr=MMR)
    d = inverse_funding_shift(f, mark, side, MMR)
    want = _lp_after_funding(entry, lev, side, MMR, [(f, mark)])
    assert 1.0 / lp0 + d == pytest.approx(1.0 / want, rel=1e-9, abs=1e-15)


def test_shift_reciprocal_moves_a_level_exactly_and_conserves_mass() -> None:
    g = PriceGrid.log_spaced(50.0, 200.0, bins=300)
    qz = np.zeros((300, 3))
    p0 = 95.6190476
    i = int(g.index_of([p0])[0])
    u = g.position([p0])[0] - i
    qz[i] = 3.0, 3.0 * u, 3.0 * u * u
    d = inverse_funding_shift(0.003, 100.0, "long", MMR)
    lost, first, last = shift_levels(qz, g.edges, g.log_step, d, 0, 300, True)
    assert lost == 0.0 and qz[:, 0].sum() == pytest.approx(3.0, rel=1e-15)
    j = int(np.flatnonzero(qz[:, 0])[0])
    assert first == last == j
    assert level_price(qz, j, g.edges, g.log_step) == pytest.approx(1.0 / (1.0 / p0 + d), rel=1e-12)


def test_a_level_whose_reciprocal_reaches_zero_leaves_the_grid() -> None:
    g = PriceGrid.log_spaced(1.0, 4.0, bins=2)
    qz = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])  # one level at 1.0
    assert shift_levels(qz, g.edges, g.log_step, -0.6, 0, 2, True) == (0.0, 1, 1)  # 1/p: 1 -> 0.4
    assert level_price(qz, 1, g.edges, g.log_step) == pytest.approx(2.5, rel=1e-12)
    assert shift_levels(qz, g.edges, g.log_step, -0.5, 0, 2, True)[0] == 1.0  # 1/p -> -0.1: never again


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    shift=st.floats(-0.02, 0.02).filter(lambda x: abs(x) > 1e-9),
    uniform=st.booleans(),
)
def test_reciprocal_shifts_conserve_mass(seed: int, shift: float, uniform: bool) -> None:
    """On-grid mass after + what left the grid = mass before."""
    rng = np.random.default_rng(seed)
    g = PriceGrid.log_spaced(20.0, 500.0, bins=200)
    qz = np.zeros((200, 3))
    qz[:, 0] = rng.exponential(size=200) * (rng.random(200) < 0.3)
    qz[:, 1] = qz[:, 0] * rng.random(200)
    qz[:, 2] = qz[:, 1] * (qz[:, 1] / np.maximum(qz[:, 0], 1e-300) + rng.random(200) * 0.2)
    qz[:, 2] = np.minimum(qz[:, 2], qz[:, 1])
    before = qz[:, 0].sum()
    if uniform:
        lost = shift_blocks(qz, g.edges, g.log_step, shift, 0, 200, True)[0]
    else:
        lost = shift_levels(qz, g.edges, g.log_step, shift, 0, 200, True)[0]
    assert qz[:, 0].sum() + lost == pytest.approx(before, rel=1e-12)
    assert lost >= -1e-12 * before and np.all(qz[:, 1] >= 0) and np.all(qz[:, 1] <= qz[:, 0] * (1 + 1e-12))
    assert np.all(qz[:, 2] >= 0) and np.all(qz[:, 2] <= qz[:, 1] * (1 + 1e-12))


def test_a_null_shift_leaves_uniform_content_in_place() -> None:
    g = PriceGrid.log_spaced(20.0, 500.0, bins=200)
    rng = np.random.default_rng(3)
    qz = np.zeros((200, 3))
    qz[:, 0] = rng.exponential(size=200) * (rng.random(200) < 0.3)
    qz[:, 1] = 0.5 * qz[:, 0]
    qz[:, 2] = qz[:, 0] / 3.0
    before = qz.copy()
    shift_blocks(qz, g.edges, g.log_step, 1e-300, 0, 200, False)
    np.testing.assert_allclose(qz, before, atol=1e-12)


def _bars(market: Market, model: Model) -> Bars:
    f = market.frame
    n = len(f)
    return Bars(
        time=pd.DatetimeIndex(f.index).asi8.astype(np.int64),
        low=f["low"].to_numpy(float),
        high=f["high"].to_numpy(float),
        close=f["close"].to_numpy(float),
        cons_low=f["low"].to_numpy(float),
        cons_high=f["high"].to_numpy(float),
        entry=f["close"].to_numpy(float),
        funding=f["funding_rate"].fillna(0.0).to_numpy(float) if model.funding else np.zeros(n),
        funding_price=f["open"].to_numpy(float),
        oi=f["open_interest"].to_numpy(float),
        long_share=np.full(n, 0.5),
        turnover=np.zeros(n),
    )


def _tiny(rows: list[tuple[float, float, float, float, float]], funding: list[float]) -> Market:
    idx = pd.date_range("2025-01-01", periods=len(rows), freq="1h", tz="UTC")
    df = pd.DataFrame(rows, columns=["open", "high", "low", "close", "open_interest"], index=idx)
    df["funding_rate"] = funding
    return Market(df)


def _tier_model(**kw: object) -> Model:
    base: dict[str, object] = {
        "leverage": Leverage.tiers({20: 1.0}),
        "passive_leverage": Leverage.tiers({20: 1.0}),
        "side_split": "even",
        "entry": "close",
        "turnover": 0.0,
        "schedule": COINM,
    }
    base.update(kw)
    return Model(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("engine", ["grid", "ledger"])
@pytest.mark.parametrize("funding", [True, False])
def test_a_funding_settlement_moves_inverse_levels_by_the_derived_amount(engine: str, funding: bool) -> None:
    """A 20x long at 100 sits at 100*(1+m)/1.05 = 95.619 and a short at 100*(1-m)/0.95 = 104.842. A settlement
    of f = 0.3 % at mark 100 moves them to 1/(1/LP - f/(100(1 -+ m))): 95.893 and 105.176. A bar with low 95.75
    and high 105.0 then liquidates the long only with funding and the short only without."""
    lp_long = _lp_after_funding(100.0, 20.0, "long", MMR, [(0.003, 100.0)])
    lp_short = _lp_after_funding(100.0, 20.0, "short", MMR, [(0.003, 100.0)])
    assert 95.75 < lp_long < 95.9 and 105.0 < lp_short < 105.2
    m = _tiny(
        [
            (100.0, 100.5, 99.5, 100.0, 10.0),
            (100.0, 100.5, 99.5, 100.0, 10.0),
            (100.0, 105.0, 95.75, 100.0, 10.0),
        ],
        [0.0, 0.003, 0.0],
    )
    grid = PriceGrid.log_spaced(50.0, 200.0, bins=2000)
    hm = estimate(m, _tier_model(funding=funding), grid=grid, engine=engine)  # type: ignore[arg-type]
    assert hm.liquidations is not None
    face = 10.0 * 100.0  # open interest 10 coins at 100: face value 1,000 USD per side
    liq = hm.liquidations.iloc[2]
    assert liq["long"] == pytest.approx(face if funding else 0.0)
    assert liq["short"] == pytest.approx(0.0 if funding else face)
    # the exact levels after the settlement, read from each engine's state
    model = _tier_model(funding=funding)
    cfg = EngineConfig(model.leverage, model.passive_leverage, MMR, entry="close", contract="inverse")
    two = Market(m.frame.iloc[:2])
    bars = _bars(two, model)
    want_l = lp_long if funding else inverse_liquidation_price(100.0, 20.0, "long", mmr=MMR)
    want_s = lp_short if funding else inverse_liquidation_price(100.0, 20.0, "short", mmr=MMR)
    eng: GridEngine | LedgerEngine
    if engine == "ledger":
        eng = LedgerEngine(cfg, grid)
        eng.run(bars, Outputs.allocate(2, np.zeros(2, bool), grid.n_bins))
        c = eng.cohorts()
        assert c["lp"][c["side"] == 0].tolist() == pytest.approx([want_l], rel=1e-12)
        assert c["lp"][c["side"] == 1].tolist() == pytest.approx([want_s], rel=1e-12)
        assert c["qty"].tolist() == pytest.approx([face, face], rel=1e-12)  # face value [quote]
    else:
        eng = GridEngine(cfg, grid)
        eng.run(bars, Outputs.allocate(2, np.zeros(2, bool), grid.n_bins))
        for si, want in ((0, want_l), (1, want_s)):
            mass, price = eng.levels(si)
            assert mass.tolist() == pytest.approx([face], rel=1e-12)
            assert price.tolist() == pytest.approx([want], rel=1e-12)


# ------------------------------------------------------------------------------------------------- engines


@pytest.fixture(scope="module")
def market() -> Market:
    return synthetic_market(days=6, freq="1h", seed=11)


@pytest.fixture(scope="module")
def grid(market: Market) -> PriceGrid:
    return PriceGrid.for_market(market, bins=1000)


def l1(a: Heatmap, b: Heatmap) -> np.ndarray:
    d = np.abs(a.long - b.long).sum(axis=1) + np.abs(a.short - b.short).sum(axis=1)
    return np.asarray(d / (b.long.sum(axis=1) + b.short.sum(axis=1)))


TIERS: dict[str, Any] = {"leverage": Leverage.tiers({25: 1.0}), "passive_leverage": Leverage.tiers({3: 1.0})}
CASES: list[dict[str, Any]] = [
    {},
    {"funding": False},
    {"exit": "oldest"},
    {"exit": "profitable"},
    {"decay_half_life": "1D"},
    {"side_split": "candle", "split_strength": 1.0},
    {"entry": "typical", "turnover": 0.2, "exit": "profitable", "decay_half_life": "12h"},
]


@pytest.mark.parametrize(
    "case", CASES, ids=[",".join(f"{k}={v}" for k, v in c.items()) or "base" for c in CASES]
)
def test_engines_agree_on_inverse_contracts(market: Market, grid: PriceGrid, case: dict) -> None:
    model = Model(
        **{"entry": "close", "side_split": "even", "turnover": 0.0, "schedule": COINM, **TIERS, **case}
    )
    fast = estimate(market, model, grid=grid, age_blocks=len(market) + 1)
    ref = estimate(market, model, grid=grid, engine="ledger")
    assert list(fast.times) == list(ref.times)
    assert l1(fast, ref).max() <= 1e-6
    assert fast.ledger is not None and ref.ledger is not None
    scale = float((market.frame["open_interest"] * market.frame["close"]).max())
    np.testing.assert_allclose(fast.ledger.to_numpy(), ref.ledger.to_numpy(), atol=1e-9 * scale)
    assert fast.liquidations is not None and ref.liquidations is not None
    liq_scale = float(ref.liquidations.to_numpy().max())
    np.testing.assert_allclose(
        fast.liquidations.to_numpy(), ref.liquidations.to_numpy(), atol=1e-6 * liq_scale
    )


@pytest.mark.parametrize("funding", [False, True])
def test_engines_agree_on_discretised_continuous_leverage(
    market: Market, grid: PriceGrid, funding: bool
) -> None:
    discrete: dict[str, Any] = {
        "leverage": Leverage.tiers(
            dict(zip(*Leverage.lognormal(median=12, sigma=0.9).discretize(32), strict=True))
        ),
        "passive_leverage": Leverage.tiers(
            dict(zip(*Leverage.lognormal(median=3, sigma=0.6).discretize(8), strict=True))
        ),
    }
    model = Model(
        entry="close", side_split="candle", turnover=0.0, funding=funding, schedule=COINM, **discrete
    )
    fast = estimate(market, model, grid=grid, age_blocks=len(market) + 1)
    ref = estimate(market, model, grid=grid, engine="ledger")
    assert fast.ledger is not None and ref.ledger is not None
    scale = float((market.frame["open_interest"] * market.frame["close"]).max())
    np.testing.assert_allclose(fast.ledger.to_numpy(), ref.ledger.to_numpy(), atol=1e-6 * scale)
    if not funding:
        assert l1(fast, ref).max() <= 1e-6
        return
    # with funding, levels of one bar that share a bin move together (at their mean level): they stay within a
    # fraction of a bin of the ledger's exact levels
    x = np.arange(grid.n_bins)
    for side in SIDES:
        a, b = getattr(fast, side), getattr(ref, side)
        w1 = max(wasserstein_distance(x, x, a[t] + 1e-300, b[t] + 1e-300) for t in range(0, len(a), 12))
        assert w1 <= 0.25  # bins


@pytest.mark.parametrize("engine", ["grid", "ledger"])
def test_mass_ledger_is_face_value(market: Market, grid: PriceGrid, engine: str) -> None:
    """Held mass = open interest [base] x close = face value [quote] (then one bar of decay, half-life 2 days);
    the flows add up; cells hold the on-grid face value (snapshot total = held - off-grid)."""
    model = Model(schedule=COINM, decay_half_life=pd.Timedelta("2D"), turnover=0.1)
    nodes = (
        {"leverage_nodes": 8, "entry_nodes": 8} if engine == "ledger" else {}
    )  # bookkeeping: coarse is enough
    hm = estimate(market, model, grid=grid, engine=engine, **nodes)  # type: ignore[arg-type]
    led = hm.ledger
    assert led is not None
    face = (market.frame["open_interest"] * market.frame["close"]).to_numpy()
    for side in SIDES:
        held = led[f"held_{side}"].to_numpy()
        np.testing.assert_allclose(held, face * 0.5 ** (1 / 48), rtol=1e-9)  # after the bar's decay
        flow = (
            led[f"opened_{side}"] - led[f"liquidated_{side}"] - led[f"closed_{side}"] - led[f"decayed_{side}"]
        )
        np.testing.assert_allclose(flow.to_numpy()[1:], np.diff(held), atol=1e-6 * face.max())
        on_grid = (held - led[f"offgrid_{side}"].to_numpy())[-1]
        assert float(getattr(hm, side)[-1].sum()) == pytest.approx(on_grid, rel=1e-5)


def test_inverse_model_differs_from_linear(market: Market, grid: PriceGrid) -> None:
    """The same assumptions on a linear and an inverse schedule give different maps (levels and units)."""
    lin = estimate(market, Model(**TIERS, funding=False), grid=grid)
    inv = estimate(market, Model(**TIERS, funding=False, schedule=COINM), grid=grid)
    # long levels of inverse contracts sit above the linear ones ((1+m)/(1+u) > (1-u)/(1-m))
    centers = grid.centers
    mean_l = [float((h.long[-1] * centers).sum() / h.long[-1].sum()) for h in (lin, inv)]
    assert mean_l[1] > mean_l[0]


# ------------------------------------------------------------------------------------------------- size nodes


def test_inverse_size_nodes_take_coin_brackets(market: Market) -> None:
    """Sizes [quote] are looked up in the coin brackets at the reference price; grid and ledger then agree."""
    model = Model(
        **TIERS,
        schedule=COINM,
        funding=False,
        entry="close",
        side_split="even",
        turnover=0.0,
        position_size=Leverage.tiers({50_000.0: 0.5, 1_500_000.0: 0.3, 8_000_000.0: 0.2}),
    )
    with pytest.raises(ValueError, match="reference_price"):
        resolve_config(model, market.freq, None)
    cfg = resolve_config(model, market.freq, len(market) + 1, reference_price=100_000.0)
    assert cfg.contract == "inverse"
    coin = [n for *_, n in cfg.sizes]
    np.testing.assert_allclose(coin, [0.5, 15.0, 80.0])  # USD / 100,000 USD per coin
    mmr, cum, _ = COINM.lookup(np.array(coin))
    np.testing.assert_allclose([s[1] for s in cfg.sizes], mmr)
    np.testing.assert_allclose([s[2] for s in cfg.sizes], cum / np.array(coin))
    # several sizes give several levels per bar; on a grid fine enough that no two share a bin, the engines
    # agree exactly (on coarse grids levels sharing a bin are liquidated together, as in the linear tests)
    fine = PriceGrid.for_market(market, bins=16_000)
    bars = _bars(market, model)
    mask = np.ones(len(bars), bool)
    outs = []
    for eng in (GridEngine(cfg, fine), LedgerEngine(cfg, fine)):
        out = Outputs.allocate(len(bars), mask, fine.n_bins, dtype=np.float64)
        eng.run(bars, out)
        outs.append(out)
    a, b = outs
    np.testing.assert_allclose(a.ledger, b.ledger, atol=1e-9 * float(engine_bars(bars, cfg).oi.max()))
    d = np.abs(a.snap_long - b.snap_long).sum(1) + np.abs(a.snap_short - b.snap_short).sum(1)
    assert (d / (b.snap_long.sum(1) + b.snap_short.sum(1))).max() <= 1e-6


def test_estimate_with_inverse_sizes_uses_the_first_close_and_survives_a_checkpoint(
    market: Market, tmp_path: Path
) -> None:
    model = Model(schedule=COINM, position_size=Leverage.tiers({50_000.0: 0.5, 8_000_000.0: 0.5}))
    grid = PriceGrid.for_market(market, bins=400)
    hm = estimate(market, model, grid=grid, snapshot_every=1)
    first = float(market.frame["close"].iloc[0])
    expected = resolve_config(model, market.freq, None, reference_price=first)
    est = Estimator(model, grid=grid, snapshot_every=1)
    est.update(market.iloc[:30])
    assert est._config == expected
    est.save(tmp_path / "inv.npz")
    back = Estimator.load(tmp_path / "inv.npz")
    assert back._config == expected
    back.update(market.iloc[30:])
    np.testing.assert_array_equal(back.heatmap.long, hm.long)
    np.testing.assert_array_equal(back.heatmap.short, hm.short)


def test_engine_config_rejects_unknown_contract() -> None:
    with pytest.raises(ValueError, match="contract"):
        EngineConfig(Leverage.tiers({10: 1.0}), Leverage.tiers({10: 1.0}), 0.004, contract="quanto")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------- aggregate


def test_estimate_many_mixes_linear_and_inverse_in_quote() -> None:
    lin_m = synthetic_market(days=4, freq="1h", seed=5)
    inv_m = synthetic_market(days=4, freq="1h", seed=6)
    multi = estimate_many(
        {"usdm": (lin_m, Model(**TIERS)), "coinm": (inv_m, Model(**TIERS, schedule=COINM))}, bins=800
    )
    for side in SIDES:
        total = getattr(multi.total, side)
        parts = sum(getattr(hm, side) for hm in multi.layers.values())
        np.testing.assert_allclose(total, parts, rtol=1e-6)
    # each layer is in quote: the inverse layer holds its face value (open interest x close, per side), the
    # linear layer base qty x level; both compared with independent quantities
    inv = multi.layers["coinm"]
    face = float(inv_m.frame["open_interest"].iloc[-1] * inv_m.frame["close"].iloc[-1])
    assert inv.ledger is not None
    for side in SIDES:
        off = float(inv.ledger[f"offgrid_{side}"].iloc[-1])
        assert float(getattr(inv, side)[-1].sum()) == pytest.approx(face - off, rel=1e-5)
        assert off < 0.05 * face
    lin = multi.layers["usdm"]
    oi = float(lin_m.frame["open_interest"].iloc[-1])
    price = float(lin_m.frame["close"].iloc[-1])
    # a linear long's quote notional is qty x LP, below qty x price (levels below the price)
    assert 0.5 * oi * price < float(lin.long[-1].sum()) < oi * price


def test_inverse_runs_stream_exactly(market: Market, grid: PriceGrid) -> None:
    """Chunks equal the batch run (the compiled loop, when numba is installed, takes inverse engines too)."""
    from heatmap.engine.estimator import Estimator

    model = Model(schedule=COINM)
    cfg = resolve_config(model, market.freq, None)
    assert cfg.contract == "inverse"
    batch = estimate(market, model, grid=grid)
    est = Estimator(model, grid=grid)
    est.update(market.frame.iloc[:50])
    est.update(market.frame.iloc[50:])
    np.testing.assert_array_equal(est.heatmap.long, batch.long)
    np.testing.assert_array_equal(est.heatmap.short, batch.short)


def test_ledger_cohorts_of_an_inverse_run_hold_face_value(market: Market) -> None:
    hm = estimate(market.iloc[:36], Model(**TIERS, schedule=COINM, entry="close"), bins=300, engine="ledger")
    c = hm.at(-1).cohorts
    assert c is not None
    np.testing.assert_array_equal(c["notional"], c["qty"])  # face value [quote], constant in price
    on = (c["liquidation_price"] >= hm.price_edges[0]) & (c["liquidation_price"] < hm.price_edges[-1])
    for side in SIDES:
        sub = c[on & (c["side"] == side)]
        assert float(sub["notional"].sum()) == pytest.approx(float(getattr(hm.at(-1), side).sum()), rel=1e-6)
