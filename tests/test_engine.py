"""Grid engine: kernels, steps and per-bar invariants (mass ledger, consumption, funding, tier levels)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from heatmap.engine import estimate
from heatmap.engine.kernels import build_kernel, lp_ratio_cdf
from heatmap.engine.steps import (
    close_nearest,
    consume,
    level_price,
    profile,
    shift_blocks,
    shift_levels,
    triangular,
)
from heatmap.grid import PriceGrid
from heatmap.leverage import Leverage
from heatmap.margin import funding_shift, liquidation_price
from heatmap.market import Market
from heatmap.model import Model
from heatmap.synthetic import synthetic_market

MMR = 0.004


def _bars(rows: list[tuple[float, float, float, float, float]], funding: list[float] | None = None) -> Market:
    idx = pd.date_range("2025-01-01", periods=len(rows), freq="1h", tz="UTC")
    df = pd.DataFrame(rows, columns=["open", "high", "low", "close", "open_interest"], index=idx)
    if funding is not None:
        df["funding_rate"] = funding
    return Market(df)


def _simple(**kw: object) -> Model:
    base: dict[str, object] = {
        "leverage": Leverage.tiers({10: 0.5, 50: 0.5}),
        "passive_leverage": Leverage.tiers({10: 0.5, 50: 0.5}),
        "side_split": "even",
        "entry": "close",
        "turnover": 0.0,
    }
    base.update(kw)
    return Model(**base)  # type: ignore[arg-type]


# -- kernels ------------------------------------------------------------------------------------------------------
def test_lp_ratio_cdf_matches_the_formula() -> None:
    lev = Leverage.lognormal(median=12, sigma=0.9)
    L = np.array([2.0, 5.0, 12.0, 40.0])
    for side in ("long", "short"):
        k = liquidation_price(1.0, L, side, mmr=MMR)
        # P(LP/E <= k(L)) = P(L' <= L) for longs (levels rise with leverage), P(L' >= L) for shorts
        got = lp_ratio_cdf(lev, side, MMR, np.log(k))  # type: ignore[arg-type]
        want = lev.cdf(L) if side == "long" else lev.sf(L)
        np.testing.assert_allclose(got, want, atol=1e-9)


@pytest.mark.parametrize("side", ["long", "short"])
@pytest.mark.parametrize("lev", [Leverage.lognormal(median=12, sigma=0.9), Leverage.tiers({3: 0.2, 25: 0.8})])
def test_kernel_rows_are_cdf_differences(side: str, lev: Leverage) -> None:
    h = 0.003
    k = build_kernel(lev, side, mmr=MMR, log_step=h, span=2000)  # type: ignore[arg-type]
    assert k.weights.min() >= 0
    # row 0 (entry at a bin edge): mass of bin o is G((o+1)h) - G(oh); the table covers all but levels more
    # than `span` bins away (off any grid)
    o = np.arange(k.offset, k.offset + k.weights.shape[1])
    G = lp_ratio_cdf(lev, side, MMR, np.append(o, o[-1] + 1) * h)  # type: ignore[arg-type]
    np.testing.assert_allclose(k.weights[0], np.diff(G), atol=1e-9)
    assert G[-1] == pytest.approx(1.0)
    assert k.weights[0].sum() + k.never == pytest.approx(1.0, abs=1e-4)
    # first moments lie inside the bins
    assert np.all(k.moments <= k.weights + 1e-15) and np.all(k.moments >= 0)


def test_long_leverage_one_is_never_liquidated() -> None:
    k = build_kernel(Leverage.tiers({1: 0.25, 10: 0.75}), "long", mmr=MMR, log_step=0.01, span=500)
    assert k.never == pytest.approx(0.25)
    np.testing.assert_allclose(k.weights.sum(axis=1), 0.75)


# -- steps --------------------------------------------------------------------------------------------------------
def _bin_levels(qz: np.ndarray, g: PriceGrid) -> np.ndarray:
    """Level price of each bin's content (one row ``(P, 3)``)."""
    return np.array([level_price(qz, j, g.edges, g.log_step) for j in range(qz.shape[0])])


def _lx0(g: PriceGrid) -> float:
    return math.log(g.edges[0])


def test_funding_shift_moves_a_level_by_exactly_the_formula() -> None:
    g = PriceGrid.log_spaced(10_000.0, 200_000.0, bins=2000)
    lp = np.array([55_000.0, 58_123.4])
    qz = np.zeros((g.n_bins, 3))
    idx = g.index_of(lp)
    qz[idx, 0] = [2.0, 3.0]
    qz[idx, 1] = qz[idx, 0] * (g.position(lp) - idx)
    qz[idx, 2] = qz[idx, 0] * (g.position(lp) - idx) ** 2
    d = float(funding_shift(0.0005, 60_000.0, "long", MMR))
    lost, first, last = shift_levels(qz, g.edges, g.log_step, d, 0, g.n_bins, False)
    assert lost == 0.0
    assert qz[:, 0].sum() == pytest.approx(5.0, rel=1e-15)
    nz = np.flatnonzero(qz[:, 0])
    assert (first, last) == (nz[0], nz[-1])
    np.testing.assert_allclose(_bin_levels(qz, g)[nz], lp + d, rtol=1e-12)


def test_funding_shift_conserves_mass_and_reports_what_leaves() -> None:
    g = PriceGrid.log_spaced(100.0, 200.0, bins=50)
    rng = np.random.default_rng(0)
    for _ in range(3):
        qz = rng.random((50, 3))
        qz[:, 1] *= qz[:, 0]
        qz[:, 2] = qz[:, 1] ** 2 / qz[:, 0]
        total = qz[:, 0].sum()
        lost, _, _ = shift_levels(qz, g.edges, g.log_step, 30.0, 0, 50, False)
        assert qz[:, 0].sum() + lost == pytest.approx(total, rel=1e-12)
        assert lost > 0  # levels above 170 left the top
        assert np.all((qz[:, 1] >= 0) & (qz[:, 1] <= qz[:, 0] + 1e-15))


def test_consumption_removes_everything_crossed() -> None:
    g = PriceGrid.log_spaced(50.0, 200.0, bins=100)
    rng = np.random.default_rng(1)
    for _ in range(2):
        qz = rng.random((100, 3))
        qz[:, 1] *= qz[:, 0]
        qz[:, 2] = qz[:, 1] ** 2 / qz[:, 0]  # points
        lo = 97.3
        removed, value = consume(qz, float(g.position(lo)), True, 100, 0, g.edges, g.log_step, False, True)
        assert np.all(_bin_levels(qz, g)[qz[:, 0] > 0] < lo)
        assert value > removed * lo  # every liquidated level was >= the low
        qs = rng.random((100, 3))
        qs[:, 1] *= qs[:, 0]
        qs[:, 2] = qs[:, 1] ** 2 / qs[:, 0]
        hi = 120.0
        removed, value = consume(qs, float(g.position(hi)), False, 100, 0, g.edges, g.log_step, False, True)
        assert np.all(_bin_levels(qs, g)[qs[:, 0] > 0] > hi)
        assert value <= removed * hi


def test_nearest_closes_take_from_the_top_and_the_bottom() -> None:
    qz = np.array([[[1.0, 0.5, 0.25], [2.0, 1.0, 0.5], [3.0, 1.5, 0.75]]])  # one row, three bins
    order, keep = np.array([0, 0]), np.zeros(3)
    taken, removed = close_nearest(qz, order, 1, 0, 3, 2.5, False, keep)
    assert taken == 2.5 and removed.tolist() == [2.5]
    np.testing.assert_allclose(qz[0, :, 0], [0.0, 0.5, 3.0])
    np.testing.assert_allclose(qz[0, :, 1], [0.0, 0.25, 1.5])
    np.testing.assert_allclose(qz[0, :, 2], [0.0, 0.125, 0.75])
    taken, removed = close_nearest(qz, order, 1, 0, 3, 10.0, True, keep)
    assert taken == pytest.approx(3.5) and qz[0, :, 0].sum() == 0
    # two rows: the cut is found on the bins' sums and applied to both rows alike
    qz = np.array([[[1.0, 0.5, 0.25], [1.0, 0.5, 0.25]], [[3.0, 1.5, 0.75], [1.0, 0.5, 0.25]]])
    taken, removed = close_nearest(qz, np.array([0, 1, 0]), 2, 0, 2, 1.0, True, np.zeros(2))
    assert taken == 1.0
    np.testing.assert_allclose(qz[:, :, 0], [[1.0, 0.5], [3.0, 0.5]])
    np.testing.assert_allclose(removed, [0.5, 0.5])


def test_triangular_bin_masses_match_scipy() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from scipy import stats

    g = PriceGrid.log_spaced(90.0, 120.0, bins=300)
    ew = np.zeros(g.n_bins + 1)

    @settings(max_examples=200, deadline=None)
    @given(st.floats(91.0, 110.0), st.floats(0.0, 1.0), st.floats(1e-6, 0.08))
    def check(low: float, where: float, width: float) -> None:
        high = low * (1 + width)
        mode = low + where * (high - low)
        j0, n = triangular(g.edges, _lx0(g), 1 / g.log_step, low, mode, high, ew)
        law = stats.triang((mode - low) / (high - low), loc=low, scale=high - low)
        want = np.diff(law.cdf(np.clip(g.edges[j0 : j0 + n + 1], low, high)))
        want[0] += law.cdf(g.edges[j0])
        assert n >= 1 and ew[:n].sum() == pytest.approx(1.0)
        np.testing.assert_allclose(ew[:n], want, atol=1e-9)

    check()


# -- whole engine ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def market() -> Market:
    return synthetic_market(days=6, freq="1h", seed=3)


@pytest.mark.parametrize(
    "model",
    [
        Model(),
        Model(exit="nearest", entry="close"),
        Model(exit="oldest", decay_half_life="2D"),
        Model(exit="profitable", funding=False, entry="typical"),
    ],
    ids=["default", "nearest", "oldest-decay", "profitable"],
)
def test_mass_ledger_closes_every_bar(market: Market, model: Model) -> None:
    hm = estimate(market, model, bins=600)
    led = hm.ledger
    assert led is not None
    for s in ("long", "short"):
        flow = led[f"opened_{s}"] - led[f"liquidated_{s}"] - led[f"closed_{s}"] - led[f"decayed_{s}"]
        held = led[f"held_{s}"].to_numpy()
        dheld = np.diff(np.concatenate([[0.0], held]))
        np.testing.assert_allclose(flow.to_numpy(), dheld, atol=1e-7 * held.max())
        assert (led[[f"opened_{s}", f"liquidated_{s}", f"closed_{s}", f"decayed_{s}"]] >= -1e-9).all().all()
        assert (led[f"offgrid_{s}"] <= held + 1e-9).all()
        # grid mass + off-grid mass = held
        on_grid = (getattr(hm, s) / _levels(hm, s)).sum(axis=1)
        np.testing.assert_allclose(on_grid + led[f"offgrid_{s}"].to_numpy(), held, rtol=hm.meta["log_step"])
    if model.decay_half_life is None:
        # without decay the model's book equals the open interest on both sides after every bar
        oi = market.frame["open_interest"].to_numpy()
        np.testing.assert_allclose(led["held_long"], oi, rtol=1e-12)
        np.testing.assert_allclose(led["held_short"], oi, rtol=1e-12)


def _levels(hm: object, side: str) -> np.ndarray:
    # cells hold qty x level price with the level inside the bin: dividing by the centre is within a bin of exact
    return np.asarray(hm.centers)  # type: ignore[attr-defined]


def test_no_mass_left_beyond_a_bars_extremes(market: Market) -> None:
    """After a bar, no position opened before it has a long level >= its low or a short level <= its high."""
    from heatmap.engine import Estimator

    est = Estimator(Model(entry="close", funding=True), bins=800, age_blocks=64)
    frame = market.frame
    for t in range(40):
        est.update(market.iloc[t : t + 1])
        eng = est._engine
        st = eng.state
        live = st.order[: st.ints[2]]
        older = live[st.block_bar[live] < t]  # rows opened before bar t
        for side, bound in ((0, frame["low"].iloc[t]), (1, frame["high"].iloc[t])):
            _, levels = eng.levels(side, older)
            if side == 0:
                assert np.all(levels < bound)
            else:
                assert np.all(levels > bound)


def test_tier_leverage_reproduces_the_fixed_leverage_map() -> None:
    tiers = {10: 0.35, 25: 0.25, 50: 0.25, 100: 0.15}
    lev = Leverage.tiers(tiers)
    close = 101_234.5
    rows = [(close, close, close, close, 1000.0)]
    g = PriceGrid.log_spaced(20_000.0, 300_000.0, bins=3000)
    hm = estimate(_bars(rows * 2), _simple(leverage=lev, passive_leverage=lev), grid=g)
    for side in ("long", "short"):
        want = np.zeros(g.n_bins)
        for L, w in tiers.items():
            lp = float(liquidation_price(close, L, side, mmr=MMR))
            want[int(g.index_of(lp))] += 1000.0 * w * lp
        np.testing.assert_allclose(getattr(hm, side)[0], want, rtol=2e-6)


def test_funding_settlement_moves_the_map_by_the_formula() -> None:
    close = 50_000.0
    rate = 0.0004
    rows = [(close, close, close, close, 10.0)] * 2
    g = PriceGrid.log_spaced(10_000.0, 150_000.0, bins=5000)
    model = _simple(leverage=Leverage.tiers({20: 1.0}), passive_leverage=Leverage.tiers({20: 1.0}))
    hm = estimate(_bars(rows, funding=[0.0, rate]), model, grid=g)
    for side in ("long", "short"):
        lp0 = float(liquidation_price(close, 20, side, mmr=MMR))
        lp1 = lp0 + float(funding_shift(rate, close, side, MMR))
        before, after = getattr(hm, side)[0], getattr(hm, side)[1]
        assert before.sum() == pytest.approx(10 * lp0, rel=1e-6)
        assert after.sum() == pytest.approx(10 * lp1, rel=1e-6)  # cells hold qty x the moved level
        assert int(np.flatnonzero(after)[0]) == int(g.index_of(lp1))


def test_liquidated_notional_is_qty_times_level() -> None:
    lev = Leverage.tiers({20: 1.0})
    rows = [(100.0, 100, 100, 100, 5.0), (100.0, 100, 90.0, 92.0, 5.0)]
    g = PriceGrid.log_spaced(30.0, 300.0, bins=2000)
    hm = estimate(_bars(rows), _simple(leverage=lev, passive_leverage=lev), grid=g)
    lp = float(liquidation_price(100.0, 20, "long", mmr=MMR))
    assert hm.liquidations["long"].iloc[1] == pytest.approx(5.0 * lp, rel=1e-9)
    assert hm.ledger is not None
    assert hm.ledger["liquidated_long"].iloc[1] == pytest.approx(5.0)
    # OI unchanged: the liquidated longs are replaced by new ones at the close (reconciliation to OI)
    assert hm.ledger["opened_long"].iloc[1] == pytest.approx(5.0)


def test_open_interest_fall_closes_net_of_liquidations() -> None:
    lev = Leverage.tiers({20: 1.0})
    rows = [(100.0, 100, 100, 100, 10.0), (100.0, 100, 90.0, 92.0, 4.0)]
    g = PriceGrid.log_spaced(30.0, 300.0, bins=2000)
    hm = estimate(_bars(rows), _simple(leverage=lev, passive_leverage=lev), grid=g)
    led = hm.ledger
    assert led is not None
    # longs: 10 liquidated, OI 4 -> 4 reopened; shorts: 6 closed
    assert led["liquidated_long"].iloc[1] == pytest.approx(10.0)
    assert led["opened_long"].iloc[1] == pytest.approx(4.0)
    assert led["closed_short"].iloc[1] == pytest.approx(6.0)
    assert led["opened_short"].iloc[1] == pytest.approx(0.0)


def test_mark_prices_drive_consumption() -> None:
    lev = Leverage.tiers({20: 1.0})
    idx = pd.date_range("2025-01-01", periods=2, freq="1h", tz="UTC")
    df = pd.DataFrame(
        {
            "open": [100.0, 100],
            "high": [100.0, 100],
            "low": [100.0, 90.0],  # a wick in the trade price ...
            "close": [100.0, 100],
            "open_interest": [1.0, 1.0],
            "mark_open": [100.0, 100],
            "mark_high": [100.0, 100],
            "mark_low": [100.0, 99.0],  # ... that the mark price did not follow
            "mark_close": [100.0, 100],
        },
        index=idx,
    )
    hm = estimate(Market(df), _simple(leverage=lev, passive_leverage=lev), bins=500)
    assert hm.liquidations["long"].iloc[1] == 0.0


def test_snapshot_stride_and_last_bar(market: Market) -> None:
    hm = estimate(market, Model(), bins=200, snapshot_every=10)
    assert len(hm.times) == math.ceil(len(market) / 10) + (0 if len(market) % 10 == 0 else 0)
    assert hm.times[-1] == market.index[-1]
    assert hm.times[0] == market.index[9]
    full = estimate(market, Model(), bins=200, snapshot_every=1)
    np.testing.assert_array_equal(hm.long[0], full.long[9])
    assert list(full.times) == list(market.index)


def test_progress_bar_gives_the_same_result(market: Market, monkeypatch: pytest.MonkeyPatch) -> None:
    import heatmap.engine.estimator as est_mod

    monkeypatch.setattr(est_mod, "_PROGRESS_CHUNK", 50)  # several chunks through the progress path
    hm = estimate(market, Model(), bins=100, progress=True, snapshot_every=7)
    plain = estimate(market, Model(), bins=100, snapshot_every=7)
    assert hm.shape == plain.shape
    np.testing.assert_array_equal(hm.long, plain.long)
    np.testing.assert_array_equal(hm.short, plain.short)


def test_ledger_engine_mass_ledger_closes(market: Market) -> None:
    model = Model(exit="nearest", decay_half_life="1D")  # bookkeeping only: coarse nodes suffice
    hm = estimate(market.iloc[:48], model, bins=300, engine="ledger", leverage_nodes=8, entry_nodes=8)
    led = hm.ledger
    assert led is not None
    for s in ("long", "short"):
        flow = led[f"opened_{s}"] - led[f"liquidated_{s}"] - led[f"closed_{s}"] - led[f"decayed_{s}"]
        held = led[f"held_{s}"].to_numpy()
        np.testing.assert_allclose(flow.cumsum().to_numpy(), held, atol=1e-6 * held.max())


def test_position_sizes_use_their_brackets() -> None:
    """A size distribution mixes brackets: each node's level is Binance's, bracket at the liquidation notional."""
    from heatmap.exchanges import get

    schedule = get("binance-usdm", "BTCUSDT")
    close = 60_000.0
    rows = [(close, close, close, close, 100.0)] * 2
    g = PriceGrid.log_spaced(20_000.0, 200_000.0, bins=4000)
    lev = Leverage.tiers({20: 1.0})
    sizes = Leverage.tiers({5_000.0: 0.6, 5_000_000.0: 0.4})
    hm = estimate(_bars(rows), _simple(leverage=lev, passive_leverage=lev, position_size=sizes), grid=g)
    for side in ("long", "short"):
        want = np.zeros(g.n_bins)
        for notional, w in ((5_000.0, 0.6), (5_000_000.0, 0.4)):
            lp = float(liquidation_price(close, 20, side, qty=notional / close, schedule=schedule))
            want[int(g.index_of(lp))] += 100.0 * w * lp
        np.testing.assert_allclose(getattr(hm, side)[0], want, rtol=1e-6)
    # big positions are capped at their bracket's max leverage (50x in the 3M-12M bracket)
    capped = estimate(
        _bars(rows),
        _simple(leverage=Leverage.tiers({100: 1.0}), passive_leverage=lev, position_size=sizes),
        grid=g,
    )
    assert capped.long[0].sum() > 0


def test_block_funding_shift_conserves_mass_and_moves_the_mean_exactly() -> None:
    g = PriceGrid.log_spaced(10_000.0, 200_000.0, bins=1500)
    rng = np.random.default_rng(2)
    qz = np.zeros((g.n_bins, 3))
    qz[600:900, 0] = rng.random(300)
    qz[:, 1] = 0.5 * qz[:, 0]
    qz[:, 2] = qz[:, 0] / 3.0  # uniform through each bin
    total = qz[:, 0].sum()
    d = float(funding_shift(0.0003, 60_000.0, "short", MMR))
    # every bin's mean moves to its exact new level: the mass-weighted mean price moves by d (to rounding)
    price = lambda q: float((q[:, 0] * _bin_levels(q, g)).sum() / q[:, 0].sum())  # noqa: E731
    before = price(qz)
    lost = shift_blocks(qz, g.edges, g.log_step, d, 0, g.n_bins, False)[0]
    assert lost == 0.0
    assert qz[:, 0].sum() == pytest.approx(total, rel=1e-12)
    assert price(qz) - before == pytest.approx(d, rel=2e-3)
    assert np.all(qz[610:890, 0] > 0)  # no empty bins inside the band
    # content uniform through its bins stays uniform: equal masses keep equal masses, each bin spread through
    qz[:] = 0.0
    qz[600:900] = 1.0, 0.5, 1.0 / 3.0
    shift_blocks(qz, g.edges, g.log_step, d, 0, g.n_bins, False)
    np.testing.assert_allclose(qz[610:890, 0], 1.0, rtol=2e-3)
    width = np.array([np.subtract(*profile(*qz[j])[1::-1]) for j in range(610, 890)])
    assert width.min() > 0.99


def test_block_funding_shifts_keep_a_point_a_point() -> None:
    g = PriceGrid.log_spaced(10_000.0, 200_000.0, bins=1500)
    lp = 55_123.0
    qz = np.zeros((g.n_bins, 3))
    j = int(g.index_of([lp])[0])
    u = float(g.position([lp])[0]) - j
    qz[j] = 2.0, 2.0 * u, 2.0 * u * u
    want = lp
    for _ in range(500):
        d = float(funding_shift(0.0004, 60_000.0, "long", MMR))
        shift_blocks(qz, g.edges, g.log_step, d, 0, g.n_bins, False)
        want += d
    nz = np.flatnonzero(qz[:, 0])
    assert nz.size == 1 and qz[nz[0], 0] == 2.0
    assert _bin_levels(qz, g)[nz[0]] == pytest.approx(want, rel=1e-9)


def test_continuous_leverage_maps_have_no_empty_stripes() -> None:
    """Many funding settlements must not clump continuous content into every other bin."""
    market = synthetic_market(days=30, freq="1h", seed=7)
    hm = estimate(market, Model(), bins=1000)
    row = hm.short[-1]
    price = float(market.frame["close"].iloc[-1])
    deep = (hm.centers > 1.15 * price) & (hm.centers < 1.4 * price)
    band = row[deep]
    assert band.min() > 0.2 * np.median(band)


def test_last_snapshot_of_the_ledger_engine_carries_its_cohorts(market: Market) -> None:
    hm = estimate(
        market.iloc[:48], Model(entry="close"), bins=300, engine="ledger", leverage_nodes=8, entry_nodes=8
    )
    last = hm.at(-1)
    assert last.cohorts is not None and hm.at(0).cohorts is None
    c = last.cohorts
    assert {"side", "liquidation_price", "qty", "notional"} <= set(c.columns)
    # the cohorts binned on the grid are the last snapshot
    edges = hm.price_edges
    for side, row in (("long", last.long), ("short", last.short)):
        sub = c[
            (c["side"] == side) & (c["liquidation_price"] >= edges[0]) & (c["liquidation_price"] < edges[-1])
        ]
        binned = np.bincount(
            np.searchsorted(edges, sub["liquidation_price"], side="right") - 1,
            weights=sub["notional"],
            minlength=len(edges) - 1,
        )
        np.testing.assert_allclose(binned, row, rtol=1e-5, atol=1e-6 * row.max())
    assert estimate(market.iloc[:48], Model(), bins=300).at(-1).cohorts is None  # grid engine: no cohorts
