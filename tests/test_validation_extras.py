"""Scoring at a coarser bar, the hourly data set builder, the calibrated presets, figures and the CLI."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from heatmap.calibrated import CALIBRATED, calibrated_model
from heatmap.model import Model
from heatmap.synthetic import simulate_world
from heatmap.validation import baselines
from heatmap.validation.datasets import hourly_market
from heatmap.validation.metrics import score
from heatmap.validation.protocol import coarse_labels, walk_forward


@pytest.fixture(scope="module")
def world():
    return simulate_world(days=30, freq="1h", seed=11, cohorts_per_bar=8)


def _realized_4h(world) -> pd.DataFrame:
    r = world.liquidations_per_bar()
    return r.groupby(r.index.floor("4h")).sum()


def test_freq_sums_fine_predictions_into_coarse_bars(world):
    fine = walk_forward(world.market, Model(), world.liquidations_per_bar(), bins=300, warmup=0)
    coarse = walk_forward(world.market, Model(), _realized_4h(world), bins=300, warmup=0, freq="4h")
    assert coarse.index.freq is None or coarse.index[1] - coarse.index[0] == pd.Timedelta("4h")
    summed = fine[["predicted_long", "predicted_short"]].groupby(fine.index.floor("4h")).sum()
    pd.testing.assert_frame_equal(
        coarse[["predicted_long", "predicted_short"]],
        summed.reindex(coarse.index),
        check_names=False,
        check_freq=False,
    )
    m4 = world.market.resample("4h")
    np.testing.assert_allclose(coarse.range_down, (m4.array("open") - m4.array("low")) / m4.array("open"))


def test_path_aware_null_sums_the_fine_bars(world):
    fine = baselines.range_oi(world.market)
    path = baselines.range_oi(world.market, freq="4h")
    assert path.long.iloc[0] == pytest.approx(fine.long.iloc[:4].sum())
    assert len(path) == len(world.market.resample("4h"))
    labels = coarse_labels(world.market.index, world.market.resample("4h"))
    assert labels[5] == world.market.index[4]


def test_hourly_market_places_open_interest_at_the_4h_close(world):
    m1 = world.market
    m4 = m1.resample("4h")
    candles = m1.frame[["open", "high", "low", "close", "volume"]]
    h = hourly_market(m4, candles)
    oi4 = m4.array("open_interest")
    oi1 = h.array("open_interest")
    assert len(h) == 4 * len(m4)
    np.testing.assert_allclose(oi1[3::4], oi4)  # last hour of each 4h bar: the 4h close OI
    np.testing.assert_allclose(oi1[4::4], oi4[:-1])  # the next hours keep it until the next 4h close
    np.testing.assert_allclose(oi1[5::4], oi4[:-1])
    with pytest.raises(ValueError, match="cover every hour"):
        hourly_market(m4, candles.iloc[:-1])


def test_calibrated_entries_build_models_and_are_documented():
    for name, entry in CALIBRATED.items():
        for key in ("model", "calibrated_on", "window", "test_window", "objective"):
            assert key in entry, (name, key)
        assert "PLACEHOLDER" not in str(entry)
        model = calibrated_model(name)
        assert isinstance(model, Model)
        assert model.to_dict()["turnover"] == entry["model"]["turnover"]
    with pytest.raises(ValueError, match="available"):
        calibrated_model("nope")


def test_figures_are_pyplot_free_and_carry_the_data(world):
    from heatmap.engine import estimate
    from heatmap.validation.protocol import fixed_grid
    from heatmap.validation_plot import plot_scores, plot_stress_bars, plot_walk_forward, stress_bars

    m4 = world.market.resample("4h")
    realized = _realized_4h(world)
    f = walk_forward(m4, Model(), realized, bins=300, warmup=6)
    rep = score(f, n_boot=30)
    fig = plot_scores({"model": rep, "again": rep}, metrics=("spearman",))
    assert isinstance(fig, Figure)
    heights = sorted(round(p.get_height(), 6) for p in fig.axes[0].patches)
    want = sorted(round(rep.get(s, "spearman"), 6) for s in ("long", "short"))
    assert heights == sorted(want * 2)
    assert isinstance(plot_walk_forward(f), Figure)
    bars = stress_bars(f, n=2)
    total = f.realized_long + f.realized_short
    assert set(bars.index) == set(total.nlargest(2).index)
    hm = estimate(m4, Model(), grid=fixed_grid(m4, bins=300), snapshot_every=1)
    snaps = [hm.at(int(np.searchsorted(hm.times, t)) - 1) for t in bars.index]
    fig = plot_stress_bars(snaps, bars, m4.frame)
    assert len(fig.axes) == 2 and bars.index[0].strftime("%Y-%m-%d") in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="one snapshot per bar"):
        plot_stress_bars(snaps[:1], bars, m4.frame)


def test_cli_validate_on_files(world, tmp_path):
    m4 = world.market.resample("4h")
    mf = m4.frame.reset_index()
    mf["time"] = mf["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    mf[["time", "open", "high", "low", "close", "open_interest", "volume"]].to_csv(
        tmp_path / "bars.csv", index=False
    )
    r = _realized_4h(world).reindex(m4.index).reset_index(names="time")
    r["time"] = r["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    r.rename(columns={"long": "long_usd", "short": "short_usd"}).to_csv(tmp_path / "liq.csv", index=False)
    out = tmp_path / "scores.png"
    proc = subprocess.run(
        [sys.executable, "-m", "heatmap", "validate", "--market", str(tmp_path / "bars.csv"), "--liquidations",
         str(tmp_path / "liq.csv"), "--model", "default", "--warmup", "5D", "--bins", "300", "--n-boot", "20",
         "--train-until", str(m4.index[100]), "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"scored {len(m4) - 100} bars" in proc.stdout
    assert "## range x OI" in proc.stdout and "## fixed tiers" in proc.stdout
    assert out.stat().st_size > 1000
    bad = subprocess.run(
        [sys.executable, "-m", "heatmap", "validate", "--market", str(tmp_path / "bars.csv")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 2 and "--liquidations" in bad.stderr


def test_cli_validate_points_event_files_to_events(tmp_path, capsys):
    """A file of single liquidation events given as per-bar totals: exit 2 with one line naming --events."""
    from heatmap.cli import main
    from heatmap.synthetic import synthetic_market

    f = synthetic_market(days=2, freq="1h", seed=1).frame.reset_index()
    f["time"] = f["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    f.to_csv(tmp_path / "bars.csv", index=False)
    (tmp_path / "bybit.csv").write_text(
        "ts_ms,time_utc,symbol,side,position,qty,price\n"
        "1707756340999,2024-02-12 16:45:40.999+00:00,BTCUSDT,Sell,short,0.5,50000.0\n"
    )
    order = '{"o":{"s":"BTCUSDT","S":"SELL","q":"0.014","p":"9910","ap":"9910","X":"FILLED","T":%d}}\n'
    (tmp_path / "orders.jsonl").write_text("".join(order % (1568014460893 + i) for i in range(3)))
    for name, n in (("bybit.csv", 1), ("orders.jsonl", 3)):
        path = tmp_path / name
        rc = main(
            ["validate", "--market", str(tmp_path / "bars.csv"), "--liquidations", str(path), "--bins", "100"]
        )
        err = capsys.readouterr().err
        assert rc == 2 and f"holds {n:,} single liquidation events" in err and f"--events {path}" in err
    # a per-bar file with a broken header keeps its own error
    (tmp_path / "bad.csv").write_text("when,x\n2024-01-01,1\n")
    rc = main(
        ["validate", "--market", str(tmp_path / "bars.csv"), "--liquidations", str(tmp_path / "bad.csv")]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "--events" not in err
