"""Tests for heatmap.model: validation of every field, presets, serialisation, the speculative side split."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from heatmap.exchanges import get
from heatmap.leverage import Leverage
from heatmap.model import CANDLE_SHARPNESS, PRESETS, TAKER_SHARPNESS, Model, speculative_long_share


# ---------------------------------------------------------------------------------------------- construction
def test_defaults() -> None:
    m = Model()
    assert m.leverage == Leverage.preset("default")
    assert m.passive_leverage == Leverage.lognormal(median=3, sigma=0.6)
    assert (m.side_split, m.entry, m.exit) == ("candle", "triangular", "proportional")
    assert m.funding is True and m.max_leverage_from_schedule is True
    assert m.decay_half_life is None and m.schedule is None and m.position_size is None
    assert 0 <= m.split_strength <= 1 and m.turnover >= 0


def test_keyword_only_and_frozen() -> None:
    with pytest.raises(TypeError):
        Model(Leverage.preset("default"))  # type: ignore[misc]
    m = Model()
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.turnover = 1.0  # type: ignore[misc]


def test_passive_leverage_is_conservative() -> None:
    """The passive side must sit well below the speculative default (documented: median 3x, 90 % below ~6.5x)."""
    m = Model()
    base = stats.lognorm(0.6, scale=3.0)  # truncated at 1x: quantile of F(1) + 0.9 (1 - F(1))
    q90 = base.ppf(base.cdf(1) + 0.9 * (1 - base.cdf(1)))
    assert float(m.passive_leverage.quantile(0.9)) == pytest.approx(q90, rel=1e-9)
    assert 6.4 < q90 < 6.6
    assert m.passive_leverage.mean() < m.leverage.mean() / 3


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("leverage", 12, "heatmap.Leverage"),
        ("leverage", stats.lognorm(0.9, scale=12), "heatmap.Leverage"),
        ("passive_leverage", None, "heatmap.Leverage"),
        ("side_split", "volume", "allowed are"),
        ("split_strength", 1.5, r"\[0, 1\]"),
        ("split_strength", -0.1, r"\[0, 1\]"),
        ("split_strength", float("nan"), r"\[0, 1\]"),
        ("split_strength", "0.5", r"\[0, 1\]"),
        ("split_strength", True, r"\[0, 1\]"),
        ("entry", "open", "allowed are"),
        ("exit", "fifo", "allowed are"),
        ("funding", "yes", "True or False"),
        ("funding", 1, "True or False"),
        ("turnover", -0.01, ">= 0"),
        ("turnover", float("inf"), ">= 0"),
        ("turnover", None, ">= 0"),
        ("decay_half_life", "soon", "not a duration"),
        ("decay_half_life", "-1D", "positive duration"),
        ("decay_half_life", "0s", "positive duration"),
        ("decay_half_life", 7, "pandas.Timedelta"),
        ("schedule", "binance-usdm", "MarginSchedule"),
        ("position_size", 10_000.0, "position_size"),
        ("position_size", stats.norm(0, 1), "notional <= 0"),
        ("max_leverage_from_schedule", "no", "True or False"),
    ],
)
def test_every_field_is_validated_with_name_value_and_allowed(
    field: str, value: object, allowed: str
) -> None:
    with pytest.raises(ValueError, match=allowed) as err:
        Model(**{field: value})
    assert field in str(err.value)
    if isinstance(value, (str, float)) and not (isinstance(value, float) and math.isnan(value)):
        assert repr(value) in str(err.value) or str(value) in str(err.value)


def test_decay_half_life_parsing() -> None:
    assert Model(decay_half_life="7D").decay_half_life == pd.Timedelta(days=7)
    assert Model(decay_half_life=dt.timedelta(hours=12)).decay_half_life == pd.Timedelta(hours=12)
    assert Model(decay_half_life=pd.Timedelta("36h")).decay_half_life == pd.Timedelta(hours=36)


def test_accepts_schedule_and_position_size() -> None:
    sched = get("binance-usdm", "BTCUSDT")
    m = Model(schedule=sched, position_size=stats.lognorm(2.0, scale=20_000))
    assert m.resolved_schedule() is sched
    assert Model().resolved_schedule().max_leverage == 125.0
    assert (
        Model(position_size=Leverage.tiers({5_000: 0.7, 250_000: 0.3})).position_size.max_leverage == 250_000
    )


# ---------------------------------------------------------------------------------------------- replace and presets
def test_replace_revalidates_and_rejects_unknown_fields() -> None:
    m = Model().replace(turnover=0.2, entry="close")
    assert (m.turnover, m.entry) == (0.2, "close")
    with pytest.raises(ValueError, match="turnover"):
        Model().replace(turnover=-1)
    with pytest.raises(ValueError, match="unknown field"):
        Model().replace(leverage_mean=5)


def test_presets() -> None:
    assert Model.preset("default") == Model()
    cg = Model.preset("coinglass-like")
    assert cg.leverage == Leverage.preset("coinglass")
    assert (cg.side_split, cg.split_strength, cg.entry, cg.funding, cg.turnover) == (
        "candle",
        1.0,
        "close",
        False,
        0,
    )
    btc = Model.preset("binance-btc")
    from heatmap.calibrated import calibrated_model

    assert btc == calibrated_model("binance-btc")
    with pytest.raises(ValueError, match="unknown model preset"):
        Model.preset("binance-eth")


def test_presets_registry_accepts_new_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PRESETS, "calibrated-test", lambda: Model(turnover=0.3))
    assert Model.preset("calibrated-test").turnover == 0.3


# ---------------------------------------------------------------------------------------------- serialisation, display
def _full_model() -> Model:
    return Model(
        leverage=Leverage.mixture(
            [Leverage.gamma(mean=20, shape=1.2), Leverage.tiers({100: 1.0})], [0.9, 0.1]
        ),
        passive_leverage=Leverage.from_scipy(stats.weibull_min(1.5, loc=1, scale=3), max_leverage=20),
        side_split="funding",
        split_strength=0.8,
        entry="typical",
        exit="oldest",
        funding=False,
        turnover=0.1,
        decay_half_life="10D",
        schedule=get("binance-usdm", "BTCUSDT"),
        position_size=stats.lognorm(2.0, scale=20_000),
        max_leverage_from_schedule=False,
    )


@pytest.mark.parametrize("build", [Model, _full_model, lambda: Model.preset("coinglass-like")])
def test_to_dict_round_trip_through_json(build) -> None:  # type: ignore[no-untyped-def]
    m = build()
    d = m.to_dict()
    back = Model.from_dict(json.loads(json.dumps(d)))
    assert back.to_dict() == d
    assert back.leverage == m.leverage and back.passive_leverage == m.passive_leverage
    if m.schedule is not None:
        assert back.schedule is not None
        np.testing.assert_array_equal(back.schedule.mmr, m.schedule.mmr)
        np.testing.assert_array_equal(back.schedule.cum, m.schedule.cum)
        assert back.schedule.effective == m.schedule.effective
    if m.position_size is not None:
        assert float(back.position_size.cdf(30_000)) == float(m.position_size.cdf(30_000))
    if m.schedule is None:
        assert back == m


def test_from_dict_rejects_unknown_keys_and_unserialisable_sizes() -> None:
    with pytest.raises(ValueError, match="unknown key"):
        Model.from_dict({"levrage": {}})

    class Sizes:
        def cdf(self, x: float) -> float:
            return 1.0

    with pytest.raises(ValueError, match="cannot be serialised"):
        Model(position_size=Sizes()).to_dict()


def test_repr_and_describe() -> None:
    assert repr(Model()) == "Model()"
    r = repr(Model(entry="close", decay_half_life="7D", leverage=Leverage.preset("coinglass")))
    assert (
        r == "Model(leverage=Leverage.preset('coinglass'), entry='close', decay_half_life='7 days 00:00:00')"
    )
    text = _full_model().describe()
    for piece in ("funding", "oldest", "typical", "binance-usdm BTCUSDT", "10 days", "0.1 of bar volume"):
        assert piece in text


# ---------------------------------------------------------------------------------------------- speculative_long_share
def _bars(o, h, lo, c, **extra) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    idx = pd.date_range("2025-01-01", periods=len(o), freq="1h", tz="UTC")
    return pd.DataFrame({"open": o, "high": h, "low": lo, "close": c, **extra}, index=idx, dtype=float)


ohlc = st.tuples(st.floats(1, 1e5), st.floats(0, 1), st.floats(0, 1), st.floats(0, 0.2)).map(
    lambda t: (t[0], t[3], t[1], t[2])
)  # base, range, position of open, position of close


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(ohlc, min_size=1, max_size=30),
    strength=st.floats(0, 1),
    side_split=st.sampled_from(["even", "candle", "taker", "funding"]),
    seed=st.integers(0, 2**16),
)
def test_share_bounds(rows, strength: float, side_split: str, seed: int) -> None:  # type: ignore[no-untyped-def]
    base = np.array([r[0] for r in rows])
    rng_ = base * np.array([r[1] for r in rows])
    low, high = base, base + rng_
    o = low + rng_ * np.array([r[2] for r in rows])
    c = low + rng_ * np.array([r[3] for r in rows])
    g = np.random.default_rng(seed)
    vol = g.uniform(0, 10, len(rows)) * (g.random(len(rows)) > 0.1)
    df = _bars(
        o,
        high,
        low,
        c,
        volume=vol,
        taker_buy_volume=vol * g.random(len(rows)),
        funding_rate=np.where(g.random(len(rows)) < 0.3, g.normal(0, 1e-4, len(rows)), 0.0),
    )
    s = speculative_long_share(df, side_split, strength)  # type: ignore[arg-type]
    assert s.shape == (len(rows),)
    assert np.all((s >= 0) & (s <= 1))
    assert np.all(np.abs(s - 0.5) <= 0.5 * strength + 1e-15)


def test_candle_share_is_monotone_in_close_and_matches_formula() -> None:
    closes = np.linspace(90, 110, 41)
    n = closes.size
    df = _bars(np.full(n, 100.0), np.full(n, 110.0), np.full(n, 90.0), closes)
    s = speculative_long_share(df, "candle", 0.7)
    assert np.all(np.diff(s) > 0)
    b = (closes - 100) / 20
    np.testing.assert_allclose(s, 0.5 + 0.35 * np.tanh(CANDLE_SHARPNESS * b) / np.tanh(CANDLE_SHARPNESS))
    assert s[n // 2] == 0.5  # doji splits evenly
    full = speculative_long_share(_bars([90.0, 110], [110.0, 110], [90.0, 90], [110.0, 90]), "candle", 1.0)
    np.testing.assert_allclose(full, [1.0, 0.0])  # full-range bodies at strength 1: all one side
    flat = speculative_long_share(_bars([100.0], [100.0], [100.0], [100.0]), "candle", 1.0)
    assert flat.tolist() == [0.5]


def test_strength_zero_and_even_give_half() -> None:
    df = _bars([90.0, 110], [110.0, 110], [90.0, 90], [110.0, 90])
    assert speculative_long_share(df, "candle", 0.0).tolist() == [0.5, 0.5]
    assert speculative_long_share(df, "even", 1.0).tolist() == [0.5, 0.5]


def test_taker_share_formula_and_missing_columns() -> None:
    vol = np.array([10.0, 10, 10, 0])
    tb = np.array([5.0, 5.5, 2.0, 0])
    df = _bars([1.0] * 4, [1.0] * 4, [1.0] * 4, [1.0] * 4, volume=vol, taker_buy_volume=tb)
    s = speculative_long_share(df, "taker", 1.0)
    i = np.array([0.0, 0.1, -0.6, 0.0])
    np.testing.assert_allclose(s, 0.5 + 0.5 * np.tanh(TAKER_SHARPNESS * i) / np.tanh(TAKER_SHARPNESS))
    assert s[1] > 0.5 > s[2] and s[3] == 0.5
    with pytest.raises(ValueError, match="needs the column 'taker_buy_volume'"):
        speculative_long_share(_bars([1.0], [1.0], [1.0], [1.0], volume=[1.0]), "taker", 0.5)
    with pytest.raises(ValueError, match="NaN"):
        speculative_long_share(
            _bars([1.0], [1.0], [1.0], [1.0], volume=[np.nan], taker_buy_volume=[1.0]), "taker", 1
        )


def test_funding_share_uses_last_known_rate_without_look_ahead() -> None:
    f = np.array([0.0, 0.0, 1e-4, 0.0, 0.0, -2e-4, 0.0, np.nan])
    n = f.size
    df = _bars([1.0] * n, [1.0] * n, [1.0] * n, [1.0] * n, funding_rate=f)
    s = speculative_long_share(df, "funding", 0.6)
    np.testing.assert_allclose(s, [0.5, 0.5, 0.8, 0.8, 0.8, 0.2, 0.2, 0.2])
    for t in range(n):  # changing the future never changes the past
        g = f.copy()
        g[t + 1 :] = 5e-4
        df2 = _bars([1.0] * n, [1.0] * n, [1.0] * n, [1.0] * n, funding_rate=g)
        np.testing.assert_array_equal(speculative_long_share(df2, "funding", 0.6)[: t + 1], s[: t + 1])
    with pytest.raises(ValueError, match="funding_rate"):
        speculative_long_share(_bars([1.0], [1.0], [1.0], [1.0]), "funding", 0.5)


def test_share_accepts_market_and_validates_arguments() -> None:
    from heatmap.market import Market

    df = _bars([90.0, 110], [110.0, 110], [90.0, 90], [110.0, 90])
    df["open_interest"] = [5.0, 6.0]
    market = Market(df)
    np.testing.assert_allclose(speculative_long_share(market, "candle", 1.0), [1.0, 0.0])
    with pytest.raises(ValueError, match="side_split"):
        speculative_long_share(df, "colour", 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="strength"):
        speculative_long_share(df, "candle", 1.2)
    with pytest.raises(ValueError, match="sharpness"):
        speculative_long_share(df, "candle", 1.0, sharpness=0)
    with pytest.raises(ValueError, match="frame"):
        speculative_long_share(np.zeros((2, 4)), "candle", 1.0)


def test_leverage_must_have_mass_below_schedule_maximum() -> None:
    from heatmap.exchanges import MarginSchedule

    small = MarginSchedule.from_tiers(
        venue="demo",
        symbol="XUSDT",
        contract="linear",
        quote="USDT",
        base="X",
        effective="2024-01-01",
        source="test",
        tiers=[(0, 10_000, 0.01, 20)],
    )
    with pytest.raises(
        ValueError, match=r"leverage: .* no mass at or below the schedule's maximum leverage 20x"
    ):
        Model(leverage=Leverage.tiers({50: 0.5, 100: 0.5}), schedule=small)
    ok = Model(leverage=Leverage.tiers({50: 0.5, 100: 0.5}), schedule=small, max_leverage_from_schedule=False)
    assert ok.schedule is small
    assert Model(leverage=Leverage.tiers({10: 0.5, 100: 0.5}), schedule=small).schedule is small
