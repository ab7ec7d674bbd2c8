"""Tests of the synthetic world: determinism, bookkeeping invariants, liquidation and funding mechanics."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from heatmap.leverage import Leverage
from heatmap.market import Market
from heatmap.synthetic import DEFAULTS, World, simulate_world, synthetic_market

MMR = 0.004


@pytest.fixture(scope="module")
def world() -> World:
    return simulate_world(days=20, freq="1h", seed=11)


@pytest.fixture(scope="module")
def cascade_world() -> World:
    # strong impact: cascades happen, every invariant must still hold
    return simulate_world(days=15, freq="30min", seed=5, impact=0.004)


def _oi_from_book(w: World) -> np.ndarray:
    """Open quantity per side in the state after each market bar, from the book's open/close bars."""
    n = len(w.market)
    bk = w.book[w.book["side"] == "long"]
    ob = np.clip(bk["open_bar"].to_numpy(), 0, n)  # opened in warm-up: counted from bar 0
    cb = np.clip(bk["close_bar"].to_numpy(), 0, n)
    q = bk["qty"].to_numpy()
    delta = np.bincount(ob, q, n + 1) - np.bincount(cb, q, n + 1)
    return np.cumsum(delta)[:n]


def _drifted_lp(w: World, book: pd.DataFrame, bars: np.ndarray) -> np.ndarray:
    """Liquidation price of each book row after the settlements up to `bars` (market bar numbers)."""
    is_long = (book["side"] == "long").to_numpy()
    drift = np.where(
        is_long, w.funding_drift["long"].to_numpy()[bars], w.funding_drift["short"].to_numpy()[bars]
    )
    return book["liquidation_price"].to_numpy() + drift - book["entry_drift"].to_numpy()


# ----------------------------------------------------------------------------------------------------------------
# API, determinism, shape
# ----------------------------------------------------------------------------------------------------------------


def test_deterministic_per_seed() -> None:
    a = simulate_world(days=3, freq="1h", seed=3)
    b = simulate_world(days=3, freq="1h", seed=3)
    c = simulate_world(days=3, freq="1h", seed=4)
    pd.testing.assert_frame_equal(a.market.frame, b.market.frame)
    pd.testing.assert_frame_equal(a.liquidations, b.liquidations)
    pd.testing.assert_frame_equal(a.book, b.book)
    assert not np.allclose(a.market.frame["close"], c.market.frame["close"])


def test_synthetic_market_is_the_world_market() -> None:
    m = synthetic_market(days=2, freq="4h", seed=9, long_bias=0.6)
    assert isinstance(m, Market)
    pd.testing.assert_frame_equal(m.frame, simulate_world(2, "4h", 9, long_bias=0.6).market.frame)


def test_market_frame(world: World) -> None:
    f = world.market.frame
    assert len(f) == 20 * 24
    assert world.market.freq == pd.Timedelta("1h")
    assert f.index[0] == pd.Timestamp("2025-01-01", tz="UTC")
    assert f["open"].iloc[0] == pytest.approx(DEFAULTS["start_price"], rel=1e-12)
    # valid OHLC on a continuous path: each bar opens at the previous close
    assert (f["low"] <= f[["open", "close"]].min(axis=1)).all()
    assert (f["high"] >= f[["open", "close"]].max(axis=1)).all()
    np.testing.assert_allclose(f["open"].to_numpy()[1:], f["close"].to_numpy()[:-1], rtol=1e-12)
    assert (f["taker_buy_volume"] <= f["volume"]).all() and (f["volume"] > 0).all()
    assert {"open_interest", "funding_rate", "volume", "taker_buy_volume"} <= set(f.columns)


def test_start_and_price_scale() -> None:
    w = simulate_world(days=1, freq="1h", seed=2, start="2024-03-05 06:00", start_price=3_000.0)
    assert w.market.index[0] == pd.Timestamp("2024-03-05 06:00", tz="UTC")
    assert w.market.frame["open"].iloc[0] == pytest.approx(3_000.0, rel=1e-12)


@pytest.mark.parametrize("freq", ["1min", "5min", "15min", "1h", "4h", "12h", "1D"])
def test_frequencies(freq: str) -> None:
    days = 1 if pd.Timedelta(freq) < pd.Timedelta("1h") else 12
    w = simulate_world(days=days, freq=freq, seed=1)
    assert len(w.market) == round(days * pd.Timedelta("1D") / pd.Timedelta(freq))
    assert w.market.freq == pd.Timedelta(freq)
    np.testing.assert_allclose(
        w.market.frame["open_interest"].to_numpy(), _oi_from_book(w), rtol=1e-9, atol=1e-6
    )


# ----------------------------------------------------------------------------------------------------------------
# bookkeeping invariants
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["world", "cascade_world"])
def test_open_interest_equals_open_positions_every_bar(name: str, request: pytest.FixtureRequest) -> None:
    w: World = request.getfixturevalue(name)
    oi = w.market.frame["open_interest"].to_numpy()
    np.testing.assert_allclose(oi, _oi_from_book(w), rtol=1e-9)
    for b in (0, len(oi) // 3, len(oi) - 1):
        book = w.positions_at(w.market.index[b])
        per_side = book.groupby("side")["qty"].sum()
        np.testing.assert_allclose(per_side[["long", "short"]].to_numpy(), [oi[b], oi[b]], rtol=1e-9)


@pytest.mark.parametrize("name", ["world", "cascade_world"])
def test_mass_conservation_per_bar(name: str, request: pytest.FixtureRequest) -> None:
    """OI change = opened - closed - liquidated, with liquidations taken from the event table."""
    w: World = request.getfixturevalue(name)
    n = len(w.market)
    oi = w.market.frame["open_interest"].to_numpy()
    bk = w.book
    for side in ("long", "short"):
        s = bk[bk["side"] == side]
        opened = np.bincount(s["open_bar"].clip(lower=0), s["qty"], n + 1)[:n]
        opened[0] -= s.loc[s["open_bar"] < 0, "qty"].sum()  # warm-up positions were already open
        closed_rows = s[(s["status"] == "closed") & (s["close_bar"] < n) & (s["close_bar"] >= 0)]
        closed = np.bincount(closed_rows["close_bar"], closed_rows["qty"], n)
        ev = w.liquidations[w.liquidations["side"] == side]
        bar_no = w.market.index.get_indexer(pd.DatetimeIndex(ev["bar"]))
        liquidated = np.bincount(bar_no, ev["qty"], n)
        prev = np.concatenate([[oi[0] - (opened[0] - closed[0] - liquidated[0])], oi[:-1]])
        np.testing.assert_allclose(oi - prev, opened - closed - liquidated, atol=1e-6 * oi.max())
        # the warm-up book at the start: positions opened before bar 0 and still open after the warm-up
        pre = s[(s["open_bar"] < 0) & (s["close_bar"] >= 0)]["qty"].sum()
        assert prev[0] == pytest.approx(pre, rel=1e-9)


def test_liquidation_events_match_book(world: World) -> None:
    ev = world.liquidations
    assert list(ev.columns[:6]) == ["time", "bar", "side", "price", "qty", "notional"]
    bk = world.book.set_index(["pair", "side"])
    rows = bk.loc[list(zip(ev["pair"], ev["side"], strict=True))]
    assert (rows["status"] == "liquidated").all()
    np.testing.assert_allclose(rows["qty"].to_numpy(), ev["qty"].to_numpy())
    np.testing.assert_allclose(ev["notional"], ev["qty"] * ev["price"])
    assert (ev["time"] >= ev["bar"]).all() and (ev["time"] < ev["bar"] + world.market.freq).all()
    assert ev["time"].is_monotonic_increasing
    # a contract's other side is closed at the same moment (the forced order's counterparty)
    other = bk.loc[list(zip(ev["pair"], np.where(ev["side"] == "long", "short", "long"), strict=True))]
    assert (other["status"] == "closed").all()


def test_liquidations_per_bar(world: World) -> None:
    per_bar = world.liquidations_per_bar()
    assert per_bar.index.equals(world.market.index)
    assert list(per_bar.columns) == ["long", "short"]
    for side in ("long", "short"):
        total = world.liquidations.loc[world.liquidations["side"] == side, "notional"].sum()
        assert per_bar[side].sum() == pytest.approx(total, rel=1e-12)
        assert total > 0  # both sides get liquidated in 20 days at 3 % daily volatility


# ----------------------------------------------------------------------------------------------------------------
# liquidation mechanics
# ----------------------------------------------------------------------------------------------------------------


def test_fresh_liquidation_prices_follow_the_closed_form(world: World) -> None:
    bk = world.book
    e, lev = bk["entry"].to_numpy(), bk["leverage"].to_numpy()
    long_ = (bk["side"] == "long").to_numpy()
    expected = np.where(long_, e * (1 - 1 / lev) / (1 - MMR), e * (1 + 1 / lev) / (1 + MMR))
    np.testing.assert_allclose(bk["liquidation_price"], expected, rtol=1e-12)


@pytest.mark.parametrize("name", ["world", "cascade_world"])
def test_every_liquidation_was_crossed(name: str, request: pytest.FixtureRequest) -> None:
    w: World = request.getfixturevalue(name)
    f = w.market.frame
    ev = w.liquidations
    low = f["low"].reindex(pd.DatetimeIndex(ev["bar"])).to_numpy()
    high = f["high"].reindex(pd.DatetimeIndex(ev["bar"])).to_numpy()
    long_ = (ev["side"] == "long").to_numpy()
    assert (ev.loc[long_, "price"].to_numpy() >= low[long_] * (1 - 1e-12)).all()
    assert (ev.loc[~long_, "price"].to_numpy() <= high[~long_] * (1 + 1e-12)).all()
    # the recorded price is the position's funding-drifted liquidation price at that bar
    bk = w.book.set_index(["pair", "side"])
    rows = bk.loc[list(zip(ev["pair"], ev["side"], strict=True))].reset_index()
    bar_no = w.market.index.get_indexer(pd.DatetimeIndex(ev["bar"]))
    np.testing.assert_allclose(_drifted_lp(w, rows, bar_no), ev["price"].to_numpy(), rtol=1e-9)


@pytest.mark.parametrize("name", ["world", "cascade_world"])
def test_no_missed_liquidation(name: str, request: pytest.FixtureRequest) -> None:
    """Every position open after bar b and opened before it was never touched during bar b."""
    w: World = request.getfixturevalue(name)
    f = w.market.frame
    for b in np.linspace(1, len(f) - 1, 25).astype(int):
        book = w.positions_at(f.index[b])
        old = book[book["entry_time"] < f.index[b]]
        long_ = (old["side"] == "long").to_numpy()
        lp = old["liquidation_price"].to_numpy()
        assert (lp[long_] < f["low"].iloc[b]).all()
        assert (lp[~long_] > f["high"].iloc[b]).all()


def test_positions_at_is_funding_drifted(world: World) -> None:
    t = world.market.index[-1]
    book = world.positions_at(t)
    pd.testing.assert_frame_equal(book, world.positions)
    assert set(book.columns) >= {
        "entry_time",
        "side",
        "entry",
        "leverage",
        "qty",
        "liquidation_price",
        "speculative",
    }
    raw = world.book.set_index(["pair", "side"]).loc[list(zip(book["pair"], book["side"], strict=True))]
    drift = np.where(
        book["side"] == "long", world.funding_drift["long"].iloc[-1], world.funding_drift["short"].iloc[-1]
    )
    np.testing.assert_allclose(
        book["liquidation_price"].to_numpy(),
        raw["liquidation_price"].to_numpy() + drift - raw["entry_drift"].to_numpy(),
    )
    with pytest.raises(ValueError, match="not a bar open time"):
        world.positions_at(t + pd.Timedelta("30min"))


def test_impact_only_changes_the_path_after_the_first_liquidation() -> None:
    # no warm-up, so that the two worlds share their history up to the first liquidation
    calm = simulate_world(days=10, freq="1h", seed=4, impact=0.0, warmup=0.0)
    hot = simulate_world(days=10, freq="1h", seed=4, impact=0.003, warmup=0.0)
    first = min(calm.liquidations["bar"].min(), hot.liquidations["bar"].min())
    before = calm.market.index < first
    assert before.sum() > 0
    pd.testing.assert_frame_equal(calm.market.frame[before], hot.market.frame[before])
    assert not np.allclose(calm.market.frame["close"], hot.market.frame["close"])


def test_cascade_moves_price_with_the_liquidated_side() -> None:
    """With impact, long liquidations push the bar's close down relative to the no-impact world."""
    # no warm-up, so that the two worlds share their history up to the first liquidation
    calm = simulate_world(days=10, freq="1h", seed=4, impact=0.0, warmup=0.0)
    hot = simulate_world(days=10, freq="1h", seed=4, impact=0.003, warmup=0.0)
    first_bar = min(calm.liquidations["bar"].min(), hot.liquidations["bar"].min())
    ev = hot.liquidations[hot.liquidations["bar"] == first_bar]
    calm_ev = calm.liquidations[calm.liquidations["bar"] == first_bar]
    net = ev.loc[ev["side"] == "short", "qty"].sum() - ev.loc[ev["side"] == "long", "qty"].sum()
    assert net != 0
    move = np.log(hot.market.frame.loc[first_bar, "close"] / calm.market.frame.loc[first_bar, "close"])
    assert np.sign(move) == np.sign(net)
    # at least as much is liquidated with impact (the impact only extends the move)
    assert ev["qty"].sum() >= calm_ev["qty"].sum() * (1 - 1e-12)


# ----------------------------------------------------------------------------------------------------------------
# funding
# ----------------------------------------------------------------------------------------------------------------


def test_funding_settles_at_00_08_16_and_shifts_liquidation_prices(world: World) -> None:
    f = world.market.frame
    settle = f.index.hour.isin([0, 8, 16])
    assert (f.loc[~settle, "funding_rate"] == 0).all()
    assert (f.loc[settle, "funding_rate"] != 0).all()
    cap = MMR
    assert (f["funding_rate"].abs() <= cap).all()
    # LP shifts: d(LP_long) = f P/(1 - m), d(LP_short) = f P/(1 + m), P = bar open (the mark at settlement)
    d_long = np.diff(world.funding_drift["long"].to_numpy())
    d_short = np.diff(world.funding_drift["short"].to_numpy())
    rate, p = f["funding_rate"].to_numpy()[1:], f["open"].to_numpy()[1:]
    np.testing.assert_allclose(d_long, rate * p / (1 - MMR), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(d_short, rate * p / (1 + MMR), rtol=1e-9, atol=1e-9)


def test_funding_is_clamped() -> None:
    w = simulate_world(days=10, freq="1h", seed=2, funding_sensitivity=0.05, funding_cap=0.0002)
    rates = w.market.frame["funding_rate"]
    rates = rates[rates != 0]
    assert (rates.abs() <= 0.0002 * (1 + 1e-12)).all()
    assert np.isclose(rates.abs(), 0.0002).any()  # the clamp binds


def test_funding_follows_speculative_imbalance() -> None:
    long_heavy = simulate_world(
        days=10, freq="4h", seed=2, long_bias=0.8, trend_following=0.0, funding_noise=0.0
    )
    short_heavy = simulate_world(
        days=10, freq="4h", seed=2, long_bias=0.2, trend_following=0.0, funding_noise=0.0
    )
    assert long_heavy.market.frame["funding_rate"].sum() > 0 > short_heavy.market.frame["funding_rate"].sum()


def test_daily_bars_sum_three_settlements() -> None:
    w = simulate_world(
        days=6, freq="1D", seed=3, funding_sensitivity=0.0, funding_noise=0.0, funding_base=0.0001
    )
    np.testing.assert_allclose(w.market.frame["funding_rate"], 3 * 0.0001)


# ----------------------------------------------------------------------------------------------------------------
# the truth: leverage and side mix
# ----------------------------------------------------------------------------------------------------------------


def test_speculative_leverage_is_the_known_distribution(world: World) -> None:
    lev = Leverage.lognormal(median=12, sigma=0.9)
    spec = world.book.loc[world.book["speculative"], "leverage"].to_numpy()
    assert stats.kstest(spec, lambda x: lev.cdf(x)).pvalue > 1e-3
    passive = world.book.loc[~world.book["speculative"], "leverage"].to_numpy()
    assert stats.kstest(passive, lambda x: Leverage.lognormal(median=3, sigma=0.6).cdf(x)).pvalue > 1e-3


def test_custom_leverage_and_side_mix() -> None:
    tiers = Leverage.tiers({10: 0.5, 50: 0.5})
    w = simulate_world(days=5, freq="1h", seed=8, leverage=tiers, long_bias=0.7, trend_following=0.0)
    spec = w.book[w.book["speculative"]]
    assert set(np.unique(spec["leverage"])) == {10.0, 50.0}
    n_long = int((spec["side"] == "long").sum())
    assert stats.binomtest(n_long, len(spec), 0.7).pvalue > 1e-3
    assert w.params["leverage"] is tiers and w.params["long_bias"] == 0.7


def test_every_contract_has_two_sides(world: World) -> None:
    bk = world.book
    assert (bk.groupby("pair")["side"].nunique() == 2).all()
    assert (bk.groupby("pair")["speculative"].sum() == 1).all()
    g = bk.groupby("pair")
    assert (g["entry"].nunique() == 1).all() and (g["qty"].nunique() == 1).all()


# ----------------------------------------------------------------------------------------------------------------
# validation of parameters
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"freq": "30s"}, "freq"),
        ({"freq": "2D"}, "freq"),
        ({"freq": "banana"}, "freq"),
        ({"days": 0}, "days"),
        ({"days": -1}, "days"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"long_bias": 1.0}, "long_bias"),
        ({"daily_vol": 0.0}, "daily_vol"),
        ({"turnover": 1.5}, "turnover"),
        ({"oi_target": -5}, "oi_target"),
        ({"impact": -0.1}, "impact"),
        ({"mmr": 0.6}, "mmr"),
        ({"substeps": 0}, "substeps"),
        ({"cohorts_per_bar": 2.5}, "cohorts_per_bar"),
        ({"start": "not a date"}, "start"),
        ({"jump_intensity": 50.0, "jump_size": 0.1}, "jump"),
        ({"leverage": 12}, "leverage"),
        ({"mmr": 0.01}, "max_leverage"),  # 125x is beyond 1/mmr = 100
        ({"levrage": 3}, "unknown world parameter"),
    ],
)
def test_bad_parameters(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        simulate_world(**{"days": 1, **kwargs})


# ----------------------------------------------------------------------------------------------------------------
# property test: invariants over random worlds
# ----------------------------------------------------------------------------------------------------------------


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31),
    freq=st.sampled_from(["5min", "1h", "6h"]),
    impact=st.sampled_from([0.0, 0.001, 0.01]),
    long_bias=st.floats(0.2, 0.8),
    median=st.floats(3.0, 60.0),
)
def test_invariants_hold_for_random_worlds(
    seed: int, freq: str, impact: float, long_bias: float, median: float
) -> None:
    days = 1 if freq == "5min" else 6
    w = simulate_world(
        days=days,
        freq=freq,
        seed=seed,
        impact=impact,
        long_bias=long_bias,
        leverage=Leverage.lognormal(median=median, sigma=0.8),
    )
    f = w.market.frame
    np.testing.assert_allclose(f["open_interest"].to_numpy(), _oi_from_book(w), rtol=1e-9, atol=1e-6)
    ev = w.liquidations
    low = f["low"].reindex(pd.DatetimeIndex(ev["bar"])).to_numpy()
    high = f["high"].reindex(pd.DatetimeIndex(ev["bar"])).to_numpy()
    long_ = (ev["side"] == "long").to_numpy()
    assert (ev["price"].to_numpy()[long_] >= low[long_] * (1 - 1e-12)).all()
    assert (ev["price"].to_numpy()[~long_] <= high[~long_] * (1 + 1e-12)).all()
    book = w.positions
    old = book[book["entry_time"] < f.index[-1]]
    lo = old["side"] == "long"
    assert (old.loc[lo, "liquidation_price"] < f["low"].iloc[-1]).all()
    assert (old.loc[~lo, "liquidation_price"] > f["high"].iloc[-1]).all()


def test_schedule_uses_its_first_bracket() -> None:
    from heatmap.exchanges import get
    from heatmap.margin import liquidation_price

    sched = get("binance-usdm", "BTCUSDT")
    w = simulate_world(days=3, freq="1h", seed=6, schedule=sched)
    bk = w.book
    expected = liquidation_price(
        bk["entry"].to_numpy(), bk["leverage"].to_numpy(), bk["side"].to_numpy(), mmr=float(sched.mmr[0])
    )
    np.testing.assert_allclose(bk["liquidation_price"], expected, rtol=1e-12)
    assert w.params["mmr"] == float(sched.mmr[0])
    with pytest.raises(ValueError, match="mutually exclusive"):
        simulate_world(days=1, schedule=sched, mmr=0.004)


def test_liquidation_map_bins_the_true_book(world: World) -> None:
    book = world.positions_at(-1)
    price = world.market.frame["close"].iloc[-1]
    edges = np.linspace(0.7 * price, 1.3 * price, 121)
    lm = world.liquidation_map(world.market.index[-1], edges)
    assert len(lm) == 120
    np.testing.assert_allclose(lm["price_low"], edges[:-1])
    for side in ("long", "short"):
        s = book[book["side"] == side]
        lp = s["liquidation_price"].to_numpy()
        inside = (lp >= edges[0]) & (lp < edges[-1])
        assert lm[side].sum() == pytest.approx((s["qty"].to_numpy() * lp)[inside].sum(), rel=1e-12)
        # every band holds exactly the positions whose price lies in it (checked on the fullest band)
        j = int(lm[side].to_numpy().argmax())
        in_band = (lp >= edges[j]) & (lp < edges[j + 1])
        assert lm[side].iloc[j] == pytest.approx((s["qty"].to_numpy() * lp)[in_band].sum(), rel=1e-12)
    # longs are liquidated below the price, shorts above
    assert lm.loc[lm["price_low"] > price, "long"].sum() == 0
    assert lm.loc[lm["price_high"] < price, "short"].sum() == 0
    with pytest.raises(ValueError, match="price_edges"):
        world.liquidation_map(-1, [2.0, 1.0])


def test_positions_at_accepts_bar_positions(world: World) -> None:
    pd.testing.assert_frame_equal(world.positions_at(-1), world.positions)
    pd.testing.assert_frame_equal(world.positions_at(3), world.positions_at(world.market.index[3]))
    with pytest.raises(ValueError, match="outside"):
        world.positions_at(len(world.market))


def test_stylized_facts_of_the_price() -> None:
    """A year of hourly bars: ~3 % daily volatility, fat tails, clustered volatility, uncorrelated returns."""
    f = simulate_world(days=365, freq="1h", seed=21, impact=0.0).market.frame
    r = np.log(f["close"]).diff().dropna().to_numpy()
    daily = np.log(f["close"].resample("1D").last()).diff().dropna()
    assert 0.022 < daily.std() < 0.04
    assert stats.kurtosis(r) > 1.0
    a = np.abs(r)
    assert np.corrcoef(a[:-24], a[24:])[0, 1] > 0.05
    assert abs(np.corrcoef(r[:-1], r[1:])[0, 1]) < 0.05
    calm = simulate_world(days=365, freq="1h", seed=21, impact=0.0, vol_of_vol=0.0, jump_intensity=0.0).market
    rc = np.log(calm.frame["close"]).diff().dropna().to_numpy()
    ac = np.abs(rc)
    assert abs(np.corrcoef(ac[:-24], ac[24:])[0, 1]) < 0.03  # no clustering without the volatility process
    assert abs(stats.kurtosis(rc)) < 0.3


def test_documentation_figures(tmp_path: Path) -> None:
    """The docs script still runs and writes small PNGs; its statistics are finite."""
    script = Path(__file__).resolve().parents[1] / "docs" / "make_synthetic_figures.py"
    spec = importlib.util.spec_from_file_location("make_synthetic_figures", script)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    paths = mod.make_figures(tmp_path, seed=1)
    assert [p.name for p in paths] == [
        "synthetic_market.png",
        "synthetic_liquidations.png",
        "synthetic_book.png",
        "synthetic_stylized.png",
    ]
    for p in paths:
        data = p.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and 5_000 < len(data) < 200_000
    table = mod.realism_table(days=10, seeds=(0, 1))
    assert list(table.index) == [0, 1, "mean"]
    assert np.isfinite(table.to_numpy(dtype=float)).all()
    assert "| daily_vol |" in mod.markdown(table)


def test_trend_following_speculators() -> None:
    """Speculators open long more often after the price rose over the last day."""
    w = simulate_world(days=60, freq="1h", seed=13, trend_following=0.4, long_bias=0.5)
    close = w.market.frame["open"]
    r_1d = np.log(close / close.shift(24))
    spec = w.book[w.book["speculative"] & (w.book["open_bar"] >= 24)]
    bar_of = w.market.index[spec["open_bar"].to_numpy()]
    is_long = (spec["side"] == "long").to_numpy(dtype=float)
    rho = stats.spearmanr(r_1d.reindex(bar_of).to_numpy(), is_long)[0]
    assert rho > 0.2
    flat = simulate_world(days=60, freq="1h", seed=13, trend_following=0.0, long_bias=0.5)
    spec0 = flat.book[flat.book["speculative"] & (flat.book["open_bar"] >= 24)]
    c0 = flat.market.frame["open"]
    r0 = np.log(c0 / c0.shift(24)).reindex(flat.market.index[spec0["open_bar"].to_numpy()]).to_numpy()
    assert abs(stats.spearmanr(r0, (spec0["side"] == "long").to_numpy(dtype=float))[0]) < 0.1


@pytest.mark.parametrize("name", ["world", "cascade_world"])
def test_ledger(name: str, request: pytest.FixtureRequest) -> None:
    w: World = request.getfixturevalue(name)
    led = w.ledger()
    oi = w.market.frame["open_interest"].to_numpy()
    n = len(oi)
    for side in ("long", "short"):
        np.testing.assert_allclose(led[f"held_{side}"], oi, rtol=1e-9, atol=1e-9 * oi.max())
        # liquidated quantity per bar agrees with the independently recorded events
        ev = w.liquidations[w.liquidations["side"] == side]
        bar_no = w.market.index.get_indexer(pd.DatetimeIndex(ev["bar"]))
        np.testing.assert_allclose(led[f"liquidated_{side}"], np.bincount(bar_no, ev["qty"], n), rtol=1e-12)
        assert (led[[f"opened_{side}", f"closed_{side}"]] >= 0).all().all()
    # every contract has two sides: both sides open and end together
    np.testing.assert_allclose(led["opened_long"], led["opened_short"])
    np.testing.assert_allclose(
        led["closed_long"] + led["liquidated_long"], led["closed_short"] + led["liquidated_short"]
    )


@pytest.mark.parametrize("freq", ["1h", "1D"])
def test_open_interest_wanders_around_its_target(freq: str) -> None:
    w = simulate_world(days=120, freq=freq, seed=17, oi_target=50_000.0)
    oi = w.market.frame["open_interest"]
    assert 0.8 < oi.mean() / 50_000.0 < 1.2
    assert oi.std() / oi.mean() > 0.02  # it does wander


def test_repr_is_short(world: World) -> None:
    text = repr(world)
    assert text.startswith("World(480 bars x 1h from 2025-01-01 00:00 UTC, seed 11,") and len(text) < 200
