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
from heatmap.view import robust_limits  # noqa: E402


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


def test_html_embeds_the_window_of_the_data(tmp_path):
    from heatmap.view import heatmap_view

    hm = _toy_heatmap()
    path = to_html(hm, tmp_path / "hm.html", within=0.1)
    text = path.read_text(encoding="utf-8")
    assert "<script src=" not in text and "http" not in text.split("<script>")[-1]  # offline, no fetches
    data = read_html_data(path)
    assert data["format"] == "liquidation-heatmap/html-v2"
    view = heatmap_view(hm, within=0.1)
    edges = hm.price_edges
    keep = (edges[1:] > view.ylim[0]) & (edges[:-1] < view.ylim[1])
    np.testing.assert_allclose(data["price_edges"], edges[np.r_[keep, False] | np.r_[False, keep]])
    # log codes: every cell within the quantisation step (0.17 %) of the heatmap's value
    np.testing.assert_allclose(data["long"], hm.long[:, keep], rtol=2e-3)
    np.testing.assert_allclose(data["total"], (hm.long + hm.short)[:, keep], rtol=2e-3)
    assert [pd.Timestamp(t) for t in data["times"]] == list(hm.times)
    assert data["note"].startswith("all 50 snapshots shown") and "relative scale" in data["note"]
    # the PNG's limits: floor at the 40th, top at the 99th percentile of the positive displayed cells
    positive = data["total"][data["total"] > 0]
    assert data["vmax"] == pytest.approx(np.percentile(positive, 99), rel=5e-3)
    assert data["vmin"] == pytest.approx(np.percentile(positive, 40), rel=5e-3)
    assert 0 < data["vmin"] < data["vmax"]
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    from heatmap.plot import HEATMAP_CMAP

    assert data["lut"][0] == to_hex(colormaps[HEATMAP_CMAP](0.0)) and len(data["lut"]) >= 32


def test_html_decimates_time_and_bands_and_says_so(tmp_path):
    hm = _toy_heatmap(T=50, P=120)
    data = read_html_data(to_html(hm, tmp_path / "hm.html", max_times=7, max_bins=10, within=0.15))
    T, P = data["shape"]
    assert T <= 7 and P <= 10 and data["time_step"] == 8
    assert data["times"][-1] == hm.times[-1].isoformat()
    assert data["note"].startswith(f"every 8th snapshot shown ({T} of 50)")
    rows = hm.times.get_indexer(pd.DatetimeIndex(data["times"]))
    edges = np.asarray(data["price_edges"])
    inside = (hm.centers > edges[0]) & (hm.centers < edges[-1])
    np.testing.assert_allclose(data["long"].sum(axis=1), hm.long[rows][:, inside].sum(axis=1), rtol=2e-3)


def test_html_layers_by_leverage(tmp_path):
    import heatmap as lh

    market = lh.synthetic_market(days=3, seed=2)
    hm = lh.estimate(market, bins=200)
    data = read_html_data(to_html(hm, tmp_path / "hm.html", market=market))
    assert data["buckets"] == ["<=10x", "10-25x", "25-50x", "50-100x", ">100x"]
    stack = sum(data["layers"][f"lev {b}"] for b in data["buckets"])
    np.testing.assert_allclose(stack, data["total"], rtol=5e-3, atol=1e-6 * data["hi"])


def test_html_title_is_escaped_and_names_the_symbol(tmp_path):
    hm = _toy_heatmap()
    hm = Heatmap(times=hm.times, price_edges=hm.price_edges, long=hm.long, short=hm.short, price=hm.price,
                 meta={"symbol": "<b>$BTC</b>"})  # fmt: skip
    text = to_html(hm, tmp_path / "hm.html").read_text(encoding="utf-8")
    assert "<title>&lt;b&gt;$BTC&lt;/b&gt; · liquidation heatmap" in text
    # markup in the embedded data block: neither "</script>" nor "<!--" can end or bend it
    sym = "<!--x</script><script>alert(1)</script>"
    hm = Heatmap(times=hm.times, price_edges=hm.price_edges, long=hm.long, short=hm.short, price=hm.price,
                 meta={"symbol": sym})  # fmt: skip
    path = to_html(hm, tmp_path / "hostile.html")
    text = path.read_text(encoding="utf-8")
    block = text[text.index('id="liquidation-heatmap-data">') : text.index("</script>")]
    assert "<" not in block.split(">", 1)[1] and "alert(1)</script>" not in text
    assert read_html_data(path)["title"].startswith(sym)


@pytest.mark.slow
def test_html_of_six_months_hourly_by_1000_bins_is_small(tmp_path):
    import heatmap as lh

    market = lh.synthetic_market(days=182, freq="1h", seed=7)
    hm = lh.estimate(market, bins=1000)
    assert hm.shape == (182 * 24, 1000)
    size = to_html(hm, tmp_path / "hm.html").stat().st_size
    assert size <= 5e6
    with_layers = to_html(hm, tmp_path / "lev.html", market=market).stat().st_size
    assert with_layers <= 5e6


def test_html_side_validation(tmp_path):
    hm = _toy_heatmap()
    with pytest.raises(ValueError, match="side"):
        to_html(hm, tmp_path / "x.html", side="up")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_times"):
        to_html(hm, tmp_path / "x.html", max_times=1)


def test_figure_traces_hold_log_notional_and_hover_data():
    from heatmap.interactive import figure

    hm = _toy_heatmap(T=8, P=30)
    fig = figure(hm, side="long", norm="log")
    z = np.array(fig.data[0].z, dtype=float)
    expected = np.where(hm.long.T > 0, np.log10(np.where(hm.long.T > 0, hm.long.T, 1.0)), np.nan)
    np.testing.assert_allclose(z, expected)
    custom = np.array(fig.data[0].customdata, dtype=float)
    np.testing.assert_allclose(custom[..., 0], hm.long.T)
    np.testing.assert_allclose(custom[..., 1], hm.short.T)
    assert "$%{customdata[0]:.3~s}" in fig.data[0].hovertemplate and fig.data[0].text is None
    assert all(t.startswith("$") for t in fig.data[0].colorbar.ticktext)
    bars = [t for t in fig.data if t.type == "bar"]
    np.testing.assert_allclose(np.array(bars[0].x, dtype=float), hm.long[-1])
    total = figure(hm)  # the PNG's look: inferno, linear between the floor and the top of the visible cells
    both = hm.long.T + hm.short.T
    np.testing.assert_allclose(np.array(total.data[0].z, dtype=float), np.where(both > 0, both, np.nan))
    floor, top = robust_limits(both)
    assert 0 < floor < top and (total.data[0].zmin, total.data[0].zmax) == (floor, top)
    assert total.data[0].colorscale[-1][1].lower() == "#fcffa4"  # inferno's top
    assert figure(hm, floor=0).data[0].zmin == 0.0
    logged = figure(hm, norm="log")
    assert logged.data[0].zmin == pytest.approx(np.log10(floor)) and logged.data[0].zmax == pytest.approx(
        np.log10(top)
    )


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _screenshot(exe: str, url: str, shot: Path) -> np.ndarray:
    from matplotlib.image import imread

    with tempfile.TemporaryDirectory() as profile:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", "--hide-scrollbars", "--window-size=1200,700",
               "--virtual-time-budget=10000", f"--screenshot={shot}", url]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    if not shot.exists():
        pytest.fail(f"Chromium wrote no screenshot (rc={proc.returncode}): {proc.stderr.decode()[-500:]}")
    return imread(shot)[..., :3]


@pytest.mark.slow
def test_html_renders_in_headless_chromium_and_the_slider_changes_it(tmp_path):
    exe = _chromium()
    if exe is None:
        pytest.skip("no Chromium on this machine (Debian package 'chromium')")
    page = to_html(_toy_heatmap(), tmp_path / "hm.html").resolve().as_uri()
    first = _screenshot(exe, page, tmp_path / "a.png")
    assert first.shape[0] >= 600 and first.shape[1] >= 1100
    plot = first[70:580, 90:1020]  # the plot area
    # a blank page is one colour; the heatmap has the black-to-yellow inferno range and a white price line
    assert plot.std() > 0.05
    yellowish = ((plot[..., 0] > 0.7) & (plot[..., 1] > 0.7) & (plot[..., 2] < 0.4)).mean()
    dark = (plot.sum(axis=-1) < 0.9).mean()
    assert yellowish > 0.002 and dark > 0.05
    # the threshold slider, set through its own input event, changes the picture
    lowered = _screenshot(exe, page + "#threshold=-1.2", tmp_path / "b.png")
    changed = np.abs(lowered[70:580, 90:1020] - plot).max(axis=-1) > 0.1
    assert changed.mean() > 0.2
    # the floor slider at 0 colours the cells under the default floor: fewer black pixels
    no_floor = _screenshot(exe, page + "#floor=0", tmp_path / "d.png")[70:580, 90:1020]
    assert (no_floor.sum(axis=-1) < 0.15).mean() < (plot.sum(axis=-1) < 0.15).mean() - 0.05
    side = _screenshot(exe, page + "#side=long", tmp_path / "c.png")
    assert (np.abs(side[70:580, 90:1020] - plot).max(axis=-1) > 0.1).mean() > 0.05


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
    assert len(data["times"]) > 0 and 2 < len(data["price_edges"]) <= 151  # the window around the price path
