"""Walk-forward protocol, calibration and the validate command: no look-ahead, ground truth on the synthetic
world, and the real Binance BTC 4h data when ../shared/data is present."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from heatmap.leverage import Leverage
from heatmap.market import Market
from heatmap.model import Model
from heatmap.synthetic import simulate_world
from heatmap.validation import baselines
from heatmap.validation.calibrate import build_model, calibrate, objective_value
from heatmap.validation.metrics import FRAME_COLUMNS, score, spearman
from heatmap.validation.protocol import align_realized, fixed_grid, walk_forward, warmup_bars

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
COINGLASS = DATA / "coinglass-btc-4h" / "derived"


@pytest.fixture(scope="module")
def world():
    return simulate_world(days=40, freq="4h", seed=3, cohorts_per_bar=24)


def _truth(world) -> Model:
    p = world.params
    return Model(leverage=p["leverage"], passive_leverage=p["passive_leverage"])


def test_frame_layout_and_warmup(world):
    realized = world.liquidations_per_bar()
    f = walk_forward(world.market, _truth(world), realized, bins=300, warmup="5D")
    assert list(f.columns) == list(FRAME_COLUMNS)
    assert len(f) == len(world.market) - 30 and f.index[0] == world.market.index[30]
    assert (f[["predicted_long", "predicted_short"]].to_numpy() >= 0).all()
    np.testing.assert_allclose(f.realized_long, realized.long.iloc[30:])
    o, lo = world.market.array("open")[30:], world.market.array("low")[30:]
    np.testing.assert_allclose(f.range_down, (o - lo) / o)
    np.testing.assert_allclose(f.oi, world.market.array("open_interest")[29:-1])
    g = walk_forward(
        world.market, _truth(world), realized, bins=300, warmup=30, start="2025-01-20", end="2025-01-25"
    )
    assert g.index[0] == pd.Timestamp("2025-01-20", tz="UTC") and len(g) == 30


def test_no_look_ahead_future_perturbation(world):
    """Changing every bar after t leaves every prediction up to t unchanged."""
    m, realized = world.market, world.liquidations_per_bar()
    model = _truth(world).replace(turnover=0.2)
    base = walk_forward(m, model, realized, bins=300, warmup=0)
    t = 150
    fr = m.frame.copy()
    scale = np.r_[np.ones(t + 1), np.linspace(1.1, 0.7, len(fr) - t - 1)]
    for c in ("open", "high", "low", "close"):
        fr[c] = fr[c] * scale
    fr.iloc[t + 1 :, fr.columns.get_loc("open_interest")] *= 1.5
    fr.iloc[t + 1 :, fr.columns.get_loc("volume")] *= 3.0
    if "funding_rate" in fr:
        fr.iloc[t + 1 :, fr.columns.get_loc("funding_rate")] = 0.0005
    if "taker_buy_volume" in fr:
        fr["taker_buy_volume"] = np.minimum(fr["taker_buy_volume"], fr["volume"])
    moved = walk_forward(Market(fr, symbol=m.symbol), model, realized, bins=300, warmup=0)
    cols = ["predicted_long", "predicted_short"]
    pd.testing.assert_frame_equal(base[cols].iloc[: t + 1], moved[cols].iloc[: t + 1])
    assert not np.allclose(base[cols].iloc[t + 1 :], moved[cols].iloc[t + 1 :])


def test_grid_comes_from_the_first_bar_only(world):
    g = fixed_grid(world.market, bins=100, span=2.0)
    o0 = world.market.array("open")[0]
    assert g.low == pytest.approx(o0 / 2) and g.high == pytest.approx(o0 * 2)
    with pytest.raises(ValueError, match="span"):
        fixed_grid(world.market, span=1.0)


def test_realized_alignment_errors(world):
    m = world.market
    realized = world.liquidations_per_bar()
    with pytest.raises(ValueError, match="no value for 1 market bars"):
        align_realized(realized.drop(realized.index[5]), m)
    out = align_realized(realized.drop(realized.index[5]), m, missing="drop")
    assert out.iloc[5].isna().all()
    with pytest.raises(ValueError, match="missing columns"):
        align_realized(realized.rename(columns={"long": "longs"}), m)
    with pytest.raises(ValueError, match="warmup"):
        warmup_bars(m, len(m))
    assert warmup_bars(m, "1D") == 6


def test_truth_beats_wrong_models_on_the_synthetic_world(world):
    """Ground truth: the world's own leverage laws rank the bars better than wrong assumptions and the null."""
    realized = world.liquidations_per_bar()
    truth = walk_forward(world.market, _truth(world), realized, bins=400, warmup="5D")
    tiers = walk_forward(world.market, Model.preset("coinglass-like"), realized, bins=400, warmup="5D")
    high = _truth(world).replace(
        leverage=Leverage.lognormal(median=50, sigma=0.3),
        passive_leverage=Leverage.lognormal(median=40, sigma=0.3),
    )
    too_high = walk_forward(world.market, high, realized, bins=400, warmup="5D")
    null = truth.copy()
    rn = baselines.range_oi(world.market).reindex(null.index)
    null["predicted_long"], null["predicted_short"] = rn.long, rn.short
    s_truth = objective_value(truth, "spearman")
    assert s_truth > objective_value(tiers, "spearman") + 0.04
    assert s_truth > objective_value(null, "spearman") + 0.04
    assert s_truth > objective_value(too_high, "spearman")
    rep = score(truth, n_boot=100)
    assert rep.to_frame().loc[("long", "partial_skill"), "low"] > 0
    assert rep.to_frame().loc[("short", "partial_skill"), "low"] > 0


def test_calibration_tiny_budget_runs_and_reports_out_of_sample(world):
    realized = world.liquidations_per_bar()
    idx = world.market.index
    cal = calibrate(
        world.market,
        realized,
        train=(idx[0], idx[150]),
        test=(idx[150], idx[-1] + world.market.freq),
        params={"leverage.median": (2.0, 40.0), "leverage.sigma": (0.3, 1.2)},
        base=_truth(world),
        objective="spearman",
        method="nelder-mead",
        maxiter=1,
        starts=3,
        bins=200,
        warmup="5D",
        n_boot=20,
    )
    assert set(cal.params) == {"leverage.median", "leverage.sigma"}
    assert 2.0 <= cal.params["leverage.median"] <= 40.0
    assert len(cal.history) == cal.info["evaluations"] >= 3
    assert cal.train_score == pytest.approx(cal.history["objective"].max(), abs=1e-9)
    assert cal.test_report is not None and cal.test_report.n_bars == len(idx) - 150
    assert "Calibration(" in repr(cal)
    with pytest.raises(ValueError, match="overlap"):
        calibrate(world.market, realized, train=(idx[0], idx[150]), test=(idx[100], idx[200]))
    with pytest.raises(ValueError, match="dotted"):
        build_model(Model(), {"leverage.mean": 3.0})
    # one lognormal parameter alone takes the other from the base model
    assert build_model(Model(), {"leverage.median": 30.0}).leverage.to_dict()["params"] == {
        "median": 30.0,
        "sigma": Model().leverage.to_dict()["params"]["sigma"],
    }
    with pytest.raises(ValueError, match="needs a lognormal"):
        build_model(Model.preset("coinglass-like"), {"leverage.median": 30.0})


# --- real data ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real():
    if not COINGLASS.is_dir():
        pytest.skip("../shared/data/coinglass-btc-4h is absent")
    from heatmap.validation.datasets import load_coinglass

    return load_coinglass(COINGLASS, end="2025-05-31 20:00")


@pytest.mark.realdata
def test_real_data_null_and_fixed_tiers_reproduce_known_values(real):
    market, realized = real
    n = baselines.range_oi(market).iloc[1:]
    assert spearman(n.long, realized.long.iloc[1:]) == pytest.approx(0.78, abs=0.01)
    assert spearman(n.short, realized.short.iloc[1:]) == pytest.approx(0.69, abs=0.015)
    ft = baselines.fixed_tiers(market).iloc[84:]
    assert spearman(ft.long, realized.long.iloc[84:]) == pytest.approx(0.61, abs=0.02)
    assert spearman(ft.short, realized.short.iloc[84:]) == pytest.approx(0.53, abs=0.02)


@pytest.mark.realdata
def test_cli_validate_on_real_data(real, tmp_path):
    if not (DATA / "binance-btcusdt-1h" / "BTCUSDT_1h_Cleaned.csv").is_file():
        pytest.skip("../shared/data/binance-btcusdt-1h is absent")
    out = tmp_path / "v.png"
    proc = subprocess.run(
        [sys.executable, "-m", "heatmap", "validate", "--coinglass-dir", str(COINGLASS), "--end", "2025-05-31 20:00",
         "--candles-1h", str(DATA / "binance-btcusdt-1h" / "BTCUSDT_1h_Cleaned.csv"),
         "--train-until", "2025-03-15", "--model", "default", "--bins", "300", "--n-boot", "20", "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "## range x OI, 1h path" in proc.stdout and "| spearman |" in proc.stdout
    assert "scored 468 bars 2025-03-15 00:00" in proc.stdout
    assert out.stat().st_size > 1000
