"""Model settings that cannot act on a market are said (IneffectiveSettingWarning); mmr/cum next to a schedule."""

from __future__ import annotations

import warnings

import pytest

import heatmap as lh
from heatmap.exchanges import get
from heatmap.margin import inverse_liquidation_price, liquidation_price, maintenance_margin
from heatmap.model import IneffectiveSettingWarning, Model


def market(
    *, drop: tuple[str, ...] = (), symbol: str | None = "BTCUSDT", venue: str | None = "binance"
) -> lh.Market:
    frame = lh.synthetic_market(days=2, seed=3).frame.drop(columns=list(drop))
    return lh.Market(frame, symbol=symbol, venue=venue)


def test_settings_without_effect_are_listed():
    full = market()
    assert Model().ineffective(full) == []
    bare = market(drop=("volume", "taker_buy_volume", "funding_rate"))
    messages = Model().ineffective(bare)
    assert len(messages) == 2
    assert messages[0].startswith("turnover=0.05 has no effect: the market has no 'volume' column")
    assert messages[1].startswith("funding=True has no effect") and "funding=False" in messages[1]
    assert Model(turnover=0.0, funding=False).ineffective(bare) == []  # saying what is meant silences them


@pytest.mark.parametrize(
    ("symbol", "schedule", "warns"),
    [
        ("ETHUSDT", None, True),  # the default BTCUSDT brackets under an ETH market
        ("BTCUSDT", None, False),
        ("BTCUSD_PERP", None, False),  # same asset, other quote: compared by base asset
        ("ETHUSDT", get("binance-usdm", "ETHUSDT"), False),
        ("BTCUSDT", get("binance-usdm", "ETHUSDT"), True),
        (None, get("binance-usdm", "ETHUSDT"), False),  # no symbol: nothing to compare
    ],
)
def test_schedule_for_another_asset(symbol, schedule, warns):
    msgs = Model(schedule=schedule).ineffective(market(symbol=symbol))
    assert any(m.startswith("schedule:") for m in msgs) is warns
    if warns:
        assert symbol in msgs[0] and "exchanges.get" in msgs[0]


def test_warn_ineffective_issues_one_warning_per_setting():
    from heatmap.model import warn_ineffective

    bare = market(drop=("volume", "taker_buy_volume"), symbol="ETHUSDT")
    with pytest.warns(IneffectiveSettingWarning) as caught:
        warn_ineffective(Model(), bare)
    texts = [str(w.message) for w in caught if w.category is IneffectiveSettingWarning]
    assert len(texts) == 2 and texts[0].startswith("turnover") and texts[1].startswith("schedule")
    with warnings.catch_warnings():
        warnings.simplefilter("error", IneffectiveSettingWarning)
        warn_ineffective(Model(turnover=0.0, schedule=get("binance-usdm", "ETHUSDT")), bare)


def test_synthetic_world_is_not_compared_with_the_default_schedule():
    assert Model().ineffective(lh.synthetic_market(days=1)) == []


def test_cli_prints_settings_as_notes_after_the_output(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    bars = Path(__file__).parent / "fixtures" / "render" / "bars.csv"
    r = subprocess.run(
        [sys.executable, "-m", "heatmap", "render", "--candles", str(bars), "--bins", "60", "--dpi", "20",
         "--size", "4", "2", "--out", str(tmp_path / "x.png")],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "note: funding=True has no effect" in r.stderr  # bars.csv has no funding column


# -- mmr=None: an explicit rate next to a schedule is refused whatever its value -----------------------------------


@pytest.mark.parametrize("mmr", [0.004, 0.01, 0.0])
def test_explicit_mmr_next_to_a_schedule_is_an_error_whatever_its_value(mmr):
    sched = get("binance-usdm", "BTCUSDT")
    with pytest.raises(ValueError, match=rf"mmr={mmr!r} given next to schedule=binance-usdm BTCUSDT"):
        liquidation_price(100_000.0, 20, "long", mmr=mmr, schedule=sched)
    with pytest.raises(ValueError, match="not both"):
        maintenance_margin(100_000.0, 1.0, mmr=mmr, schedule=sched)
    with pytest.raises(ValueError, match="not both"):
        inverse_liquidation_price(60_000.0, 20, "long", mmr=mmr, schedule=get("binance-coinm", "BTCUSD_PERP"))


def test_cum_zero_next_to_a_schedule_is_an_error_and_defaults_are_unchanged():
    sched = get("binance-usdm", "BTCUSDT")
    with pytest.raises(ValueError, match="cum=0.0 given"):
        liquidation_price(100_000.0, 20, "long", cum=0.0, schedule=sched)
    # not given: 0.4 % and no maintenance amount, exactly as an explicit mmr=0.004
    assert liquidation_price(100_000.0, 20, "long") == liquidation_price(
        100_000.0, 20, "long", mmr=0.004, cum=0
    )
    assert liquidation_price(100_000.0, 20, "long") == pytest.approx(100_000 * (1 - 1 / 20) / (1 - 0.004))
    # with only the schedule, its first bracket (0.4 % for BTCUSDT) applies to a small position
    assert liquidation_price(100_000.0, 20, "long", schedule=sched) == liquidation_price(
        100_000.0, 20, "long"
    )


def test_estimate_and_estimator_warn_on_the_first_bars_only():
    bare = market(drop=("volume", "taker_buy_volume", "funding_rate"))
    with pytest.warns(IneffectiveSettingWarning) as caught:
        lh.estimate(bare, bins=100)
    texts = [str(w.message) for w in caught if w.category is IneffectiveSettingWarning]
    assert len(texts) == 2 and texts[0].startswith("turnover") and texts[1].startswith("funding")
    est = lh.Estimator(Model(funding=False), bins=100)
    frame = bare.frame
    with pytest.warns(IneffectiveSettingWarning, match="turnover") as first:
        est.update(frame.iloc[:10])  # a DataFrame: its columns are compared
    assert [w for w in first if w.category is IneffectiveSettingWarning][0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error", IneffectiveSettingWarning)
        est.update(frame.iloc[10:20])  # later bars: said once already
        lh.estimate(bare, Model(turnover=0.0, funding=False), bins=100)  # saying what is meant: silent
