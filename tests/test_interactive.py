"""Interactive HTML heatmap and explorer callbacks."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from heatmap.result import Heatmap

plotly = pytest.importorskip("plotly")

from heatmap.interactive import read_html_data, reduce_for_display, to_html  # noqa: E402


def _toy_heatmap(T: int = 50, P: int = 120, seed: int = 0) -> Heatmap:
    rng = np.random.default_rng(seed)
    times = pd.date_range("2025-01-01", periods=T, freq="1h", tz="UTC")
    edges = np.geomspace(50_000, 70_000, P + 1)
    centers = np.sqrt(edges[:-1] * edges[1:])
    close = 60_000 * np.exp(np.cumsum(rng.normal(0, 0.003, T)))
    long = np.where(centers[None, :] < close[:, None] * 0.995, rng.gamma(1.0, 1e5, (T, P)), 0.0)
    short = np.where(centers[None, :] > close[:, None] * 1.005, rng.gamma(1.0, 1e5, (T, P)), 0.0)
    return Heatmap(
        times=times, price_edges=edges, long=long, short=short, price=pd.Series(close, index=times)
    )


def test_reduce_for_display_preserves_mass_and_keeps_last():
    hm = _toy_heatmap(T=50, P=120)
    grid = reduce_for_display(hm, max_times=7, max_bins=25)
    assert grid.long.shape[0] <= 7 and grid.long.shape[1] <= 25
    assert grid.times[-1] == hm.times[-1]
    rows = hm.times.get_indexer(grid.times)
    np.testing.assert_allclose(grid.long.sum(axis=1), hm.long[rows].sum(axis=1))
    np.testing.assert_allclose(grid.short.sum(axis=1), hm.short[rows].sum(axis=1))
    assert grid.price_edges[0] == hm.price_edges[0] and grid.price_edges[-1] == hm.price_edges[-1]
    assert np.all(np.diff(grid.price_edges) > 0)


def test_reduce_for_display_identity_when_small():
    hm = _toy_heatmap(T=10, P=20)
    grid = reduce_for_display(hm)
    np.testing.assert_array_equal(grid.long, hm.long)
    np.testing.assert_array_equal(grid.price_edges, hm.price_edges)


def test_reduce_for_display_rejects_bad_sizes():
    with pytest.raises(ValueError, match="max_times"):
        reduce_for_display(_toy_heatmap(), max_times=0)


def test_html_embeds_the_data(tmp_path):
    hm = _toy_heatmap()
    path = to_html(hm, tmp_path / "hm.html")
    text = path.read_text(encoding="utf-8")
    assert "plotly" in text.lower() and "<script src=" not in text  # plotly.js inline, works offline
    data = read_html_data(path)
    assert data["format"] == "liquidation-heatmap/html-v1"
    np.testing.assert_allclose(np.array(data["long"]), hm.long)
    np.testing.assert_allclose(np.array(data["short"]), hm.short)
    np.testing.assert_allclose(np.array(data["price_edges"]), hm.price_edges)
    assert [pd.Timestamp(t) for t in data["times"]] == list(hm.times)


def test_html_side_and_norm_validation(tmp_path):
    hm = _toy_heatmap()
    with pytest.raises(ValueError, match="side"):
        to_html(hm, tmp_path / "x.html", side="up")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="norm"):
        to_html(hm, tmp_path / "x.html", norm="sqrt")  # type: ignore[arg-type]


def test_figure_traces_hold_log_notional():
    from heatmap.interactive import figure

    hm = _toy_heatmap(T=8, P=30)
    fig = figure(hm, side="long", norm="log")
    z = np.array(fig.data[0].z, dtype=float)
    expected = np.where(hm.long.T > 0, np.log10(np.where(hm.long.T > 0, hm.long.T, 1.0)), np.nan)
    np.testing.assert_allclose(z, expected)
    bars = [t for t in fig.data if t.type == "bar"]
    np.testing.assert_allclose(np.array(bars[0].x, dtype=float), hm.long[-1])


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.mark.slow
def test_html_renders_in_headless_chromium(tmp_path):
    exe = _chromium()
    if exe is None:
        pytest.skip("no Chromium on this machine (Debian package 'chromium')")
    hm = _toy_heatmap()
    page = to_html(hm, tmp_path / "hm.html")
    shot = tmp_path / "shot.png"
    with tempfile.TemporaryDirectory() as profile:
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--hide-scrollbars",
            "--window-size=1200,700",
            "--virtual-time-budget=8000",
            f"--screenshot={shot}",
            page.resolve().as_uri(),
        ]
        proc = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    if not shot.exists():
        pytest.fail(f"Chromium wrote no screenshot (rc={proc.returncode}): {proc.stderr.decode()[-500:]}")
    from matplotlib.image import imread

    img = imread(shot)
    assert img.shape[0] >= 600 and img.shape[1] >= 1100
    rgb = img[..., :3]
    # a blank page is one colour; the heatmap has blues, oranges and a black line
    assert rgb.std() > 0.05
    blue = (rgb[..., 2] > rgb[..., 0] + 0.2).mean()
    orange = (rgb[..., 0] > rgb[..., 2] + 0.2).mean()
    assert blue > 0.01 and orange > 0.01


def test_explorer_callbacks_reestimate_only_when_needed():
    pytest.importorskip("heatmap.engine")
    from heatmap.interactive import Explorer
    from heatmap.synthetic import synthetic_market

    market = synthetic_market(days=5, freq="1h", seed=2)
    ex = Explorer(market=market, bins=200)
    first = ex.recompute()
    assert isinstance(first, Heatmap)
    same = ex.recompute(time=0, norm="linear")
    assert same is first  # view-only controls do not re-estimate
    changed = ex.recompute(median=50.0)
    assert changed is not first

    # higher leverage puts long levels closer to price
    def mean_distance(hm: Heatmap) -> float:
        snap = hm.at(-1)
        w = snap.long
        return float(np.sum(w * (snap.price - snap.centers)) / w.sum())

    assert mean_distance(changed) < mean_distance(first)
    with pytest.raises(ValueError, match="unknown explorer parameters"):
        ex.recompute(colour="red")


def test_explorer_draws_on_a_figure():
    pytest.importorskip("heatmap.engine")
    from matplotlib.figure import Figure

    from heatmap.interactive import Explorer
    from heatmap.synthetic import synthetic_market

    ex = Explorer(market=synthetic_market(days=3, freq="1h", seed=4), bins=150)
    fig = Figure()
    ex.draw(fig)
    assert len(fig.axes) >= 2


def test_cli_render_writes_html(tmp_path):
    import sys

    fix = Path(__file__).resolve().parent / "fixtures" / "render"
    out, page = tmp_path / "hm.png", tmp_path / "hm.html"
    r = subprocess.run(
        [sys.executable, "-m", "heatmap", "render", "--csv", str(fix / "bars.csv"), "--bins", "150",
         "--out", str(out), "--html", str(page), "--progress", "off", "--size", "4", "3", "--dpi", "40"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    data = read_html_data(page)
    assert len(data["times"]) > 0 and len(data["price_edges"]) == 151
