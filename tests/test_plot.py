"""Figures (heatmap.plot): figure data, limits and labels, equal figures, PNG size, no pyplot state."""

from __future__ import annotations

import html
import io
import struct
from concurrent.futures import ThreadPoolExecutor

import matplotlib as mpl
import matplotlib.pyplot as plt  # only to check that library code leaves no pyplot figures open
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib import colors as mcolors
from matplotlib import dates as mdates
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import StepPatch

from heatmap.clusters import find_clusters, reachable
from heatmap.io.atomic import OutputPathError
from heatmap.leverage import Leverage
from heatmap.plot import (
    NOTIONAL_LABEL,
    SIDE_COLORS,
    color_limits,
    format_notional,
    format_price_axis,
    new_figure,
    plot_heatmap,
    plot_leverage,
    plot_map,
    png_bytes,
    render_png,
    summary_html,
)
from heatmap.result import Heatmap, Snapshot

T0 = pd.Timestamp("2025-01-01", tz="UTC")
EDGES = np.geomspace(80.0, 125.0, 61)
CENTERS = np.sqrt(EDGES[:-1] * EDGES[1:])


def make_heatmap(T: int = 6, *, zero: bool = False, seed: int = 0) -> Heatmap:
    rng = np.random.default_rng(seed)
    times = pd.date_range(T0, periods=T, freq="1h")
    price = pd.Series(100.0 + np.arange(T, dtype=float), index=times)
    long = np.where(CENTERS[None, :] < 100.0, rng.uniform(1e3, 1e6, (T, CENTERS.size)), 0.0)
    short = np.where(CENTERS[None, :] > 100.0, rng.uniform(1e3, 1e6, (T, CENTERS.size)), 0.0)
    long[:, 5] = 0.0  # an empty band below price
    if zero:
        long, short = np.zeros_like(long), np.zeros_like(short)
    return Heatmap(
        times=times, price_edges=EDGES, long=long, short=short, price=price, meta={"symbol": "TEST"}
    )


def make_snapshot() -> Snapshot:
    z_long = np.exp(-0.5 * (np.log(CENTERS / 95.0) / 0.01) ** 2)
    z_short = np.exp(-0.5 * (np.log(CENTERS / 108.0) / 0.01) ** 2)
    return Snapshot(
        time=T0,
        price_edges=EDGES,
        long=4e6 * z_long / z_long.sum(),
        short=2e6 * z_short / z_short.sum(),
        price=100.0,
    )


@pytest.fixture(autouse=True)
def no_pyplot_figures():
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before, "a pyplot figure was left open"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


# ------------------------------------------------------------------------------------------------ helpers
def test_format_notional():
    assert format_notional(12_345_678) == "$12.3M"
    assert format_notional(1.5e9) == "$1.5B"
    assert format_notional(-2_000) == "-$2.0K"
    assert format_notional(999) == "$999"
    assert format_notional(0) == "$0"
    assert format_notional(3.2e12, currency="") == "3.2T"
    assert format_notional(999_990, digits=1) == "$1.0M"  # rounds up into the next unit, never "$1000.0K"


def test_new_figure_is_pyplot_free_and_sized():
    fig, ax = new_figure((5, 2), dpi=80)
    assert isinstance(fig, Figure) and ax.figure is fig
    assert fig.get_size_inches().tolist() == [5.0, 2.0]
    assert fig.dpi == 80
    with pytest.raises(ValueError, match="size"):
        new_figure((0, 2))
    with pytest.raises(ValueError, match="dpi"):
        new_figure((3, 2), dpi=-1)


def test_format_price_axis():
    fig, ax = new_figure((4, 3))
    ax.set_ylim(40_000, 60_000)
    format_price_axis(ax)
    assert ax.get_ylabel() == "price [USD]"
    assert ax.yaxis.get_major_formatter()(52_000.0, 0) == "52,000"
    format_price_axis(ax, axis="x", label="level")
    assert ax.get_xlabel() == "level"
    with pytest.raises(ValueError, match="axis"):
        format_price_axis(ax, axis="z")  # type: ignore[arg-type]


def test_color_limits_robust_and_degenerate():
    v = np.concatenate([np.zeros(50), np.arange(1.0, 101.0)])
    assert color_limits(v, robust=True) == tuple(np.percentile(np.arange(1.0, 101.0), [2, 98]))
    assert color_limits(v, robust=False) == (1.0, 100.0)
    assert color_limits(np.zeros(4), norm="log") == (1.0, 10.0)
    assert color_limits(np.zeros(4), norm="linear") == (0.0, 1.0)
    lo, hi = color_limits(np.full(3, 5.0), norm="log")
    assert lo < 5.0 < hi
    lo, hi = color_limits(np.full(3, 5e-324), norm="log")  # the smallest subnormal: no zero lower limit
    assert 0 < lo < hi


# ------------------------------------------------------------------------------------------------ heatmap
def visible_cells(hm: Heatmap, ylim: tuple[float, float], side: str = "total") -> np.ndarray:
    """The cells of the bands intersecting ``ylim`` (computed here, independently of heatmap.view)."""
    keep = (EDGES[1:] > ylim[0]) & (EDGES[:-1] < ylim[1])
    long, short = np.asarray(hm.long)[:, keep], np.asarray(hm.short)[:, keep]
    return {"total": long + short, "long": long, "short": short}[side]


def test_default_heatmap_is_total_intensity_on_a_dark_floored_scale():
    hm = make_heatmap()
    fig, ax = new_figure()
    im = plot_heatmap(hm, ax=ax)
    assert isinstance(im, AxesImage) and im.get_label() == "total" and len(ax.images) == 1
    view = im.view
    cells = visible_cells(hm, ax.get_ylim())
    np.testing.assert_allclose(view.values["total"], cells)
    # colour limits: the 40th and 99th percentiles of the positive visible cells, linear in between
    positive = cells[cells > 0]
    assert isinstance(im.norm, mcolors.PowerNorm) and im.norm.gamma == 1.0
    assert im.norm.vmin == pytest.approx(np.percentile(positive, 40))
    assert im.norm.vmax == pytest.approx(np.percentile(positive, 99))
    # about 1 % of the visible cells saturate; the empty ones and the weaker 40 % of the rest are background
    assert view.saturated == pytest.approx(np.mean(cells >= im.norm.vmax))
    assert 0 < view.saturated <= 0.02
    assert view.floored == pytest.approx(np.mean(cells <= im.norm.vmin))
    assert 0.35 <= view.floored <= 0.55
    # one perceptually uniform sequential map, black at the bottom: the plot area is its darkest colour
    assert im.cmap.name.startswith("inferno")
    assert ax.get_facecolor() == pytest.approx(mpl.colormaps["inferno"](0.0))
    assert im.cmap.get_under() == pytest.approx(ax.get_facecolor())
    assert sum(mcolors.to_rgb(ax.get_facecolor())) < 0.1


def wall_heatmap(T: int = 120) -> Heatmap:
    """The shape that made a bright wall: a smooth plateau of low-leverage mass 6–25 % from price over the whole
    window, and four bands 2–4 % from price that persist (until price would cross them), 1.5× the plateau."""
    rng = np.random.default_rng(3)
    edges = np.geomspace(60.0, 160.0, 401)
    centers = np.sqrt(edges[:-1] * edges[1:])
    times = pd.date_range(T0, periods=T, freq="1h")
    price = pd.Series(100.0 * (1 + 0.003 * np.sin(np.arange(T) / 7.0)), index=times)
    d = np.abs(np.log(centers / 100.0))
    plateau = np.where((d > 0.06) & (d < 0.25), 1e6 * rng.uniform(0.85, 1.0, (T, centers.size)), 0.0)
    plateau += np.where(d <= 0.06, 2e5 * rng.uniform(0.5, 1.0, (T, centers.size)), 0.0)
    bands = np.zeros(centers.size)
    for level in (96.0, 97.5, 102.5, 104.0):
        bands[np.argmin(np.abs(centers - level))] = 1.5e6
    total = plateau + bands[None, :]
    below = centers[None, :] < price.to_numpy()[:, None]
    return Heatmap(
        times=times,
        price_edges=edges,
        long=np.where(below, total, 0.0),
        short=np.where(below, 0.0, total),
        price=price,
        meta={"symbol": "WALL"},
    )


def test_default_colours_do_not_draw_a_wall():
    """On a plateau-dominated window the default lights up the near-price bands, not the plateau: a regression
    to a scale from zero (or a brightening power scale) fails here."""
    hm = wall_heatmap()
    fig, ax = new_figure()
    im = plot_heatmap(hm, ax=ax, ylim=(70.0, 140.0), colorbar=False)
    cells = im.view.values["total"]
    shade = np.asarray(im.norm(cells))  # position on the colour scale, 0 = background, 1 = top colour
    centers = np.sqrt(im.view.price_edges[:-1] * im.view.price_edges[1:])
    band = np.isin(
        np.arange(centers.size), [np.argmin(np.abs(centers - lv)) for lv in (96.0, 97.5, 102.5, 104.0)]
    )
    plateau = (np.abs(np.log(centers / 100.0)) > 0.06)[None, :] & (cells > 0)
    assert np.all(shade[:, band] >= 0.9)  # the persistent near-price bands take the top colours
    assert np.median(shade[plateau]) <= 0.35  # the plateau stays dark
    assert np.mean(shade >= 0.5) <= 0.10  # at most a tenth of the window is drawn in the bright half
    assert 0.35 <= im.view.floored <= 0.6  # a sizeable share is background, not all of it
    assert im.view.saturated <= 0.10
    # the former default (from zero, power 0.5) on the same cells: the plateau was brighter than mid-scale
    fig, ax = new_figure()
    old = plot_heatmap(hm, ax=ax, ylim=(70.0, 140.0), colorbar=False, vmin=0.0, gamma=0.5)
    assert np.median(np.asarray(old.norm(cells))[plateau]) > 0.7


def test_floor_options_and_overrides():
    from heatmap.view import heatmap_view, robust_limits

    hm = make_heatmap()
    cells = heatmap_view(hm).values["total"]
    fig, ax = new_figure()
    none = plot_heatmap(hm, ax=ax, floor=0, colorbar=False)
    assert none.norm.vmin == 0.0 and none.view.floored == pytest.approx(np.mean(cells == 0))
    fig, ax = new_figure()
    half = plot_heatmap(hm, ax=ax, floor=50, colorbar=False)
    assert half.norm.vmin == pytest.approx(np.percentile(cells[cells > 0], 50))
    fig, ax = new_figure()
    explicit = plot_heatmap(hm, ax=ax, vmin=1e4, floor=80, colorbar=False)
    assert explicit.norm.vmin == 1e4  # an explicit vmin wins over the floor
    fig, ax = new_figure()
    low_top = plot_heatmap(hm, ax=ax, vmax=np.percentile(cells[cells > 0], 10), colorbar=False)
    assert low_top.norm.vmin == 0.0  # a top below the floor: colour from zero rather than fail
    assert robust_limits(np.full(50, 3.0)) == (0.0, 3.0)  # one distinct value: no floor
    for bad in (-1, 99, 120, "40"):
        with pytest.raises(ValueError, match="floor"):
            plot_heatmap(hm, ax=ax, floor=bad)


def test_colorbar_and_note_show_the_floor():
    hm = make_heatmap()
    fig, ax = new_figure()
    im = plot_heatmap(hm, ax=ax)
    fig.canvas.draw()
    (cax,) = fig.axes[1:]
    ticks = cax.get_yticks()
    assert ticks[0] == pytest.approx(im.norm.vmin) and ticks[-1] <= im.norm.vmax
    labels = [t.get_text() for t in cax.get_yticklabels()]
    assert labels[0] == "\\" + format_notional(im.norm.vmin)
    assert fig.axes[0].images[0].colorbar.extend == "both"  # triangles: background below, top colour above
    note = [t.get_text() for t in ax.texts if t.get_text().startswith("relative scale")]
    assert (
        note
        and f"cells under {format_notional(im.norm.vmin)} ({im.view.floored:.0%} of the window)" in note[0]
    )
    fig, ax = new_figure()
    im = plot_heatmap(hm, ax=ax, floor=0)
    assert im.colorbar.extend == "max"
    assert not any("cells under" in t.get_text() for t in ax.texts)


def test_raster_shows_the_cell_under_each_pixel():
    hm = make_heatmap(T=6)
    fig, ax = new_figure()
    im = plot_heatmap(hm, ax=ax, side="long", ylim=(85.0, 115.0), max_columns=12, colorbar=False)
    arr = im.get_array()
    h, w = arr.shape
    assert w == 12 and h > 50
    t = mdates.date2num(pd.date_range("2025-01-01", periods=7, freq="1h").tz_localize(None).to_numpy())
    for r, c in [(0, 0), (h - 1, 11), (h // 2, 5), (h // 3, 7)]:
        x = t[0] + (c + 0.5) * (t[-1] - t[0]) / w
        y = 85.0 + (r + 0.5) * 30.0 / h
        i = int(np.searchsorted(t, x, side="right") - 1)
        j = int(np.searchsorted(EDGES, y, side="right") - 1)
        assert arr[r, c] == pytest.approx(hm.long[i, j]), (r, c)
    assert im.get_extent() == pytest.approx((t[0], t[-1], 85.0, 115.0))


def test_window_follows_the_price_path_and_the_leverage_law():
    from heatmap.model import Model
    from heatmap.view import WINDOW_BOUNDS, heatmap_view, window_distance

    base = make_heatmap()
    d = window_distance(Model())
    lev = Model().leverage
    assert d == pytest.approx(min(max(1 / float(lev.quantile(0.2)) - 0.004, 0.1), 0.3))
    assert WINDOW_BOUNDS[0] <= d <= WINDOW_BOUNDS[1]
    hm = Heatmap(
        times=base.times, price_edges=EDGES, long=base.long, short=base.short, price=base.price, model=Model()
    )
    v = heatmap_view(hm)
    lo, hi = hm.price.min(), hm.price.max()
    assert v.ylim == pytest.approx((max(lo * (1 - d), EDGES[0]), min(hi * (1 + d), EDGES[-1])))
    assert v.distance == pytest.approx(d)
    fig, ax = new_figure()
    plot_heatmap(hm, ax=ax, within=0.1)
    assert ax.get_ylim() == pytest.approx((lo * 0.9, hi * 1.1))
    fig, ax = new_figure()
    plot_heatmap(base, ax=ax, ylim="grid")
    assert ax.get_ylim() == pytest.approx((EDGES[0], EDGES[-1]))
    fig, ax = new_figure()
    plot_heatmap(base, ax=ax, ylim=(90.0, 110.0), yscale="log")
    assert ax.get_ylim() == pytest.approx((90.0, 110.0)) and ax.get_yscale() == "log"
    assert heatmap_view(base).distance == 0.2  # no model: ±20 %


def test_both_sides_are_blue_and_orange_layers_on_one_scale():
    hm = make_heatmap()
    fig, ax = new_figure()
    im = plot_heatmap(hm, ax=ax, side="both")
    assert [i.get_label() for i in ax.images] == ["long", "short"] and im is ax.images[0]
    lo_hi = {(i.norm.vmin, i.norm.vmax) for i in ax.images}
    cells = np.concatenate([visible_cells(hm, ax.get_ylim(), s).ravel() for s in ("long", "short")])
    assert len(lo_hi) == 1
    assert lo_hi.pop() == pytest.approx(tuple(np.percentile(cells[cells > 0], [40, 99])))
    long_top, short_top = ax.images[0].cmap(1.0), ax.images[1].cmap(1.0)
    assert long_top[2] > long_top[0] and short_top[0] > short_top[2]  # blue, orange
    assert ax.images[0].cmap(0.0)[3] == 0.0  # empty cells transparent
    assert ax.images[0].cmap(1.0)[:3] == pytest.approx(mcolors.to_rgb(SIDE_COLORS["long"]))
    assert ax.images[1].cmap(1.0)[:3] == pytest.approx(mcolors.to_rgb(SIDE_COLORS["short"]))
    assert all(i.colorbar.extend == "max" for i in ax.images)  # no transparent floor triangle
    assert all(a.get_yticks()[0] == pytest.approx(im.norm.vmin) for a in fig.axes[1:])  # the floor is a tick
    cbar_labels = [a.get_ylabel() for a in fig.axes[1:]]
    assert cbar_labels == [f"long: {NOTIONAL_LABEL}", f"short: {NOTIONAL_LABEL}"]


@pytest.mark.parametrize(("norm", "kind"), [("asinh", mcolors.AsinhNorm), ("log", mcolors.LogNorm),
                                            ("linear", mcolors.Normalize)])  # fmt: skip
def test_other_norms_and_explicit_limits(norm, kind):
    hm = make_heatmap()
    fig, ax = new_figure()
    im = plot_heatmap(hm, ax=ax, side="short", norm=norm, vmin=1e4, vmax=5e5, colorbar=False)
    assert type(im.norm) is kind and (im.norm.vmin, im.norm.vmax) == (1e4, 5e5)
    fig, ax = new_figure()
    im = plot_heatmap(hm, ax=ax, norm="log", colorbar=False)
    assert im.norm.vmin == pytest.approx(im.view.vmin) and im.view.vmin > 0  # from the floor
    fig, ax = new_figure()
    im = plot_heatmap(hm, ax=ax, norm="log", floor=0, colorbar=False)
    assert im.norm.vmin == pytest.approx(im.norm.vmax / 1e3)  # without a floor: three decades below the top


def test_colorbar_reads_dollars_with_units():
    hm = make_heatmap()
    fig, ax = new_figure()
    plot_heatmap(hm, ax=ax)
    fig.canvas.draw()
    (cax,) = fig.axes[1:]
    assert cax.get_ylabel() == NOTIONAL_LABEL
    labels = [t.get_text() for t in cax.get_yticklabels() if t.get_text()]
    assert labels and all(lab.startswith("\\$") for lab in labels)
    assert any(lab.endswith("K") for lab in labels)


def test_title_note_price_and_current_price_label():
    from heatmap.model import Model

    base = make_heatmap(T=6)
    hm = Heatmap(
        times=base.times,
        price_edges=EDGES,
        long=base.long,
        short=base.short,
        price=base.price,
        model=Model(),
        meta={"symbol": "BTCUSDT", "venue": "binance"},
    )
    fig, ax = new_figure((14, 6))
    plot_heatmap(hm, ax=ax, clusters=False)
    title = ax.get_title(loc="left")
    assert title.startswith("BTCUSDT · binance · liquidation heatmap · model default")
    assert "2025-01-01 00:00 to 2025-01-01 06:00 UTC" in title
    texts = [t.get_text() for t in ax.texts]
    assert any(t.startswith("relative scale") for t in texts)
    assert "price 105" in texts  # the last close, labelled
    expected = mdates.date2num(pd.date_range("2025-01-01", periods=7, freq="1h").tz_localize(None).to_numpy())
    path, current = ax.get_lines()
    np.testing.assert_allclose(path.get_xdata(), expected[1:])  # each close at its bar's close time
    np.testing.assert_allclose(path.get_ydata(), hm.price.to_numpy())
    assert list(current.get_ydata()) == [105.0, 105.0]
    assert ax.get_xlabel() == "time (UTC)" and ax.get_ylabel() == "price [USD]"
    fig, ax = new_figure()
    plot_heatmap(hm, ax=ax, note=False, price=False, clusters=False, title="mine")
    assert not ax.texts and not ax.get_lines() and ax.get_title(loc="left") == "mine"


def test_plain_text_labels_survive_dollar_signs():
    base = make_heatmap()
    hm = Heatmap(
        times=base.times, price_edges=EDGES, long=base.long, short=base.short, price=base.price,
        meta={"symbol": r"$\foo$ price $51,756"},
    )  # fmt: skip
    data = png_bytes(hm, dpi=30, size=(8, 4))  # mathtext would raise on \foo
    assert png_size(data) == (240, 120)
    fig, ax = new_figure()
    plot_heatmap(hm, ax=ax)
    title = ax.title if ax.get_title() else ax._left_title  # the left title holds the text
    assert ax.get_title(loc="left").startswith(r"$\foo$ price $51,756")
    assert not title.get_parse_math() and not title.get_usetex()


def test_candles_from_the_close_path_and_from_a_market():
    from heatmap.synthetic import synthetic_market

    hm = make_heatmap(T=6)
    fig, ax = new_figure((4, 3), dpi=40)  # 4 * 40 / 8 = 20 candles at most: one per bar here
    plot_heatmap(hm, ax=ax, candles=True, clusters=False, colorbar=False)
    bodies = [p for p in ax.patches]
    assert len(bodies) == 6
    wicks = ax.collections[0].get_segments()
    closes = hm.price.to_numpy()
    opens = np.r_[closes[0], closes[:-1]]
    np.testing.assert_allclose([s[:, 1].max() for s in wicks], np.maximum(opens, closes))
    market = synthetic_market(days=2, freq="1h", seed=3)
    t = market.frame.index
    hm2 = Heatmap(times=t, price_edges=EDGES, long=np.zeros((len(t), 60)), short=np.ones((len(t), 60)),
                  price=market.frame["close"])  # fmt: skip
    fig, ax = new_figure((4, 3), dpi=10)  # about 30 axes pixels / 8: at most 3 candles
    plot_heatmap(hm2, ax=ax, candles=market, clusters=False, colorbar=False, ylim="grid")
    wicks = ax.collections[0].get_segments()
    n_max = int(ax.get_position().width * 40) // 8
    k = int(np.ceil(len(market) / n_max))
    assert len(wicks) == int(np.ceil(len(market) / k)) <= n_max
    assert wicks[0][:, 1].max() == pytest.approx(market.frame["high"].iloc[:k].max())
    assert wicks[0][:, 1].min() == pytest.approx(market.frame["low"].iloc[:k].min())


def test_all_zero_and_single_snapshot_do_not_crash():
    fig, ax = new_figure()
    im = plot_heatmap(make_heatmap(zero=True), ax=ax)
    assert np.nanmax(im.get_array().filled(0.0)) == 0.0 and im.norm.vmax == 1.0
    hm1 = make_heatmap(T=1)
    fig, ax = new_figure()
    plot_heatmap(hm1, ax=ax, clusters=True)
    x0, x1 = ax.get_xlim()
    assert x1 - x0 == pytest.approx(1 / 24)  # one bar; with a single price point the width falls back to 1 h
    assert len(png_bytes(hm1)) > 0


def test_clusters_are_labelled_at_the_right_edge():
    hm = make_heatmap()
    fig, ax = new_figure()
    plot_heatmap(hm, ax=ax, clusters=3, ylim="grid", note=False, price=False)
    found = find_clusters(hm.at(-1), top=3, within=0.99)
    texts = [t.get_text() for t in ax.texts]
    inside = [p for p in found["price"] if EDGES[0] <= p <= EDGES[-1]]
    assert len(found) > 0 and len(texts) == len(inside)
    for p in inside:
        assert any(t.startswith(f"{p:.4g}") for t in texts)


def test_bad_options_are_rejected():
    hm = make_heatmap()
    fig, ax = new_figure()
    for kwargs, word in [
        ({"side": "up"}, "side"),
        ({"norm": "sqrt"}, "norm"),
        ({"yscale": "symlog"}, "yscale"),
        ({"ylim": (110.0, 90.0)}, "ylim"),
        ({"ylim": "wide"}, "ylim"),
        ({"within": 1.5}, "within"),
        ({"within": 0.0}, "within"),
        ({"vmin": 10.0, "vmax": 1.0}, "vmax"),
        ({"gamma": 0.0}, "gamma"),
        ({"max_columns": 0}, "max_columns"),
        ({"clusters": -1}, "clusters"),
        ({"cmap": ("Blues", "Reds")}, "cmap"),
    ]:
        with pytest.raises(ValueError, match=word):
            plot_heatmap(hm, ax=ax, **kwargs)
    bad = Heatmap(
        times=hm.times, price_edges=EDGES, long=-np.asarray(hm.long), short=hm.short, price=hm.price
    )
    with pytest.raises(ValueError, match="non-negative"):
        plot_heatmap(bad, ax=ax)


def test_cmap_choice_for_total_and_one_side():
    hm = make_heatmap()
    fig, ax = new_figure()
    assert plot_heatmap(hm, ax=ax, side="long", cmap="cividis", colorbar=False).cmap.name.startswith(
        "cividis"
    )
    fig, ax = new_figure()
    assert plot_heatmap(hm, ax=ax, cmap="magma", colorbar=False).cmap.name.startswith("magma")


def assert_figures_equal(draw_test, draw_ref):
    """Draw two figures and compare their rendered pixels exactly (what ``check_figures_equal`` does, without
    writing ``result_images/`` into the working directory)."""
    images = []
    for draw in (draw_test, draw_ref):
        fig, ax = new_figure((6, 4), dpi=60)
        draw(ax)
        fig.canvas.draw()
        images.append(np.asarray(fig.canvas.buffer_rgba()).copy())
    assert images[0].shape == images[1].shape
    np.testing.assert_array_equal(images[0], images[1])


def test_method_and_function_draw_equal_heatmaps():
    hm = make_heatmap()
    assert_figures_equal(
        lambda ax: hm.plot(ax=ax, norm="power", clusters=True),
        lambda ax: plot_heatmap(hm, ax=ax, norm="power", clusters=True),
    )


def test_method_and_function_draw_equal_maps():
    snap = make_snapshot()
    assert_figures_equal(
        lambda ax: snap.plot(ax=ax, within=0.15), lambda ax: plot_map(snap, ax=ax, within=0.15)
    )


def test_figure_comparison_can_fail():
    hm = make_heatmap()
    with pytest.raises(AssertionError):
        assert_figures_equal(lambda ax: hm.plot(ax=ax), lambda ax: hm.plot(ax=ax, norm="asinh"))


# ------------------------------------------------------------------------------------------------ map
def test_map_bars_price_line_clusters_and_cumulative():
    snap = make_snapshot()
    fig, ax = new_figure()
    out = plot_map(snap, ax=ax, within=0.2, top=2)
    assert out is ax
    steps = [p for p in ax.patches if isinstance(p, StepPatch)]
    assert len(steps) == 2
    np.testing.assert_allclose(steps[0].get_data().values, reachable(snap, "long"))
    np.testing.assert_allclose(steps[1].get_data().values, reachable(snap, "short"))
    np.testing.assert_allclose(steps[0].get_data().edges, EDGES)
    assert ax.get_ylim() == pytest.approx((80.0, 120.0))
    assert ax.get_xlabel() == NOTIONAL_LABEL
    hlines = [ln for ln in ax.get_lines() if np.allclose(ln.get_ydata(), 100.0)]
    assert hlines, "current price line missing"
    texts = sorted(t.get_text() for t in ax.texts)
    found = find_clusters(snap, top=2, within=0.2)
    assert sorted(found["side"]) == ["long", "short"]
    assert texts == sorted(
        [f"{p:.4g}  {format_notional(n)}" for p, n in zip(found["price"], found["notional"], strict=True)]
        + ["price 100"]
    )
    twin = fig.axes[-1]
    assert twin is not ax and twin.get_xlabel() == "cumulative liquidation notional [USD]"
    cum_long, cum_short = twin.get_lines()
    assert max(cum_long.get_xdata()) == pytest.approx(4e6, rel=1e-6)  # all long mass is reachable below 100
    assert max(cum_short.get_xdata()) == pytest.approx(2e6, rel=1e-6)


def curve_overflow(fig, ax) -> float:
    """How far the cumulative curves reach past the right edge of their axes inside the visible price range
    (sampled densely along each drawn line) [fraction of the axis width]; <= 0 when they stay inside."""
    twin = fig.axes[-1]
    y0, y1 = ax.get_ylim()
    x_max = twin.get_xlim()[1]
    worst = -np.inf
    for line in twin.get_lines():
        xs, ys = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
        order = np.argsort(ys)
        grid = np.linspace(max(y0, ys.min()), min(y1, ys.max()), 4001)
        worst = max(worst, float(np.interp(grid, ys[order], xs[order]).max()) / x_max - 1.0)
    return worst


def test_map_curves_stay_inside_the_frame_on_a_coarse_grid():
    """Bands of ~5 %: the curves cross the window's edges between two vertices, far beyond the last vertex
    inside; the secondary axis must cover both sides up to those crossings."""
    edges = np.geomspace(50.0, 200.0, 31)
    centers = np.sqrt(edges[:-1] * edges[1:])
    snap = Snapshot(
        time=T0,
        price_edges=edges,
        long=np.where(centers < 100.0, 1e6, 0.0),
        short=np.where(centers > 100.0, 3e5, 0.0),
        price=100.0,
    )
    for within in (0.07, 0.12, 0.2, 0.33):
        fig, ax = new_figure((8, 6))
        plot_map(snap, ax=ax, within=within)
        assert curve_overflow(fig, ax) <= 0.0, within
        assert curve_overflow(fig, ax) >= -0.2, within  # and the longer curve uses most of the width
    # both sides count: the short side is the longer one here
    fig, ax = new_figure((8, 6))
    swapped = Snapshot(time=T0, price_edges=edges, long=snap.short, short=snap.long * 0 + np.where(
        centers > 100.0, 1e6, 0.0), price=100.0)  # fmt: skip
    plot_map(swapped, ax=ax, within=0.12)
    assert -0.2 <= curve_overflow(fig, ax) <= 0.0


def test_map_without_cumulative_or_clusters_and_validation():
    snap = make_snapshot()
    fig, ax = new_figure()
    plot_map(snap, ax=ax, cumulative=False, top=0)
    assert fig.axes == [ax] and [t.get_text() for t in ax.texts] == ["price 100"]
    with pytest.raises(ValueError, match="within"):
        plot_map(snap, within=1.5)
    with pytest.raises(ValueError, match="top"):
        plot_map(snap, top=-1)


def test_map_of_empty_snapshot():
    snap = Snapshot(time=T0, price_edges=EDGES, long=np.zeros(60), short=np.zeros(60), price=100.0)
    ax = plot_map(snap)
    assert ax.get_xlim() == (0.0, 1.0)


# ------------------------------------------------------------------------------------------------ leverage
def test_leverage_tiers_pmf_and_cdf():
    lev = Leverage.tiers({10: 0.4, 50: 0.6})
    fig, ax = new_figure()
    plot_leverage(lev, ax=ax)
    (stems,) = ax.collections
    segs = stems.get_segments()
    assert [s[1].tolist() for s in segs] == [[10.0, 0.4], [50.0, 0.6]]
    twin = fig.axes[-1]
    (cdf,) = twin.get_lines()
    np.testing.assert_allclose(cdf.get_ydata(), lev.cdf(cdf.get_xdata()))
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "leverage L"


def test_leverage_continuous_and_margin_view():
    lev = Leverage.lognormal(median=10, sigma=0.7)
    fig, ax = new_figure()
    plot_leverage(lev, ax=ax, view="margin")
    (pdf,) = ax.get_lines()
    u = pdf.get_xdata()
    np.testing.assert_allclose(pdf.get_ydata(), lev.pdf(1 / u) / u**2)
    # the margin-fraction density integrates to one
    assert np.trapezoid(pdf.get_ydata(), u) == pytest.approx(1.0, abs=5e-3)
    assert ax.get_xlabel() == "margin fraction u = 1/L"
    with pytest.raises(ValueError, match="view"):
        plot_leverage(lev, view="odds")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------ PNG
@pytest.mark.parametrize(("size", "dpi"), [((12, 6), 50), ((4, 3), 100)])
def test_render_png_has_requested_pixels(tmp_path, size, dpi):
    out = render_png(make_heatmap(), tmp_path / "hm.png", size=size, dpi=dpi, norm="linear")
    assert out == tmp_path / "hm.png"
    assert png_size(out.read_bytes()) == (size[0] * dpi, size[1] * dpi)


def test_render_png_of_all_kinds(tmp_path):
    class Custom:
        def plot(self, ax):
            ax.plot([0, 1], [1, 0])

    fig, ax = new_figure((3, 2), dpi=50)
    ax.plot([0, 1])
    objs = {
        "snap": make_snapshot(),
        "lev": Leverage.tiers({10: 1.0}),
        "custom": Custom(),
        "fig": fig,
    }
    for name, obj in objs.items():
        out = render_png(obj, tmp_path / f"{name}.png", size=(4, 2), dpi=40)
        expected = (
            (120, 80) if name == "fig" else (160, 80)
        )  # a Figure keeps its size (3 x 2 in), takes the dpi
        assert png_size(out.read_bytes()) == expected, name
    with pytest.raises(TypeError, match="cannot render"):
        render_png(object(), tmp_path / "x.png")
    with pytest.raises(OutputPathError, match="does not exist"):
        render_png(make_snapshot(), tmp_path / "missing" / "x.png")
    with pytest.raises(ValueError, match="plot options"):
        render_png(fig, tmp_path / "f.png", side="long")


def test_repr_png_and_html_of_results():
    hm = make_heatmap()
    assert png_size(hm._repr_png_()) == (1000, 500)
    snap = make_snapshot()
    assert png_size(snap._repr_png_()) == (1000, 500)
    text = hm._repr_html_()
    assert "<table>" in text and "6" in text and "60" in text
    assert format_notional(hm.at(-1).total["long"]) in text
    stext = summary_html(snap)
    assert "$4.0M" in stext and "$2.0M" in stext and "largest clusters" in stext
    assert "100.00" in stext
    assert summary_html("<b>") == "<pre>&#x27;&lt;b&gt;&#x27;</pre>"


def test_rendering_in_threads_matches_serial():
    hm = make_heatmap()
    serial = png_bytes(hm, dpi=40, size=(4, 2))
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: png_bytes(hm, dpi=40, size=(4, 2)), range(6)))
    assert all(r == serial for r in results)


def test_png_is_readable_image():
    from matplotlib import image as mimage

    data = png_bytes(make_snapshot(), dpi=30, size=(5, 4))
    img = mimage.imread(io.BytesIO(data), format="png")
    assert img.shape[:2] == (120, 150)


def test_linear_grid_snapshot_draws_without_cluster_annotations():
    edges = np.linspace(80.0, 120.0, 41)
    snap = Snapshot(
        time=T0,
        price_edges=edges,
        long=np.r_[np.ones(20), np.zeros(20)] * 1e5,
        short=np.r_[np.zeros(20), np.ones(20)] * 1e5,
        price=100.0,
    )
    ax = plot_map(snap)
    assert [t.get_text() for t in ax.texts] == ["price 100"]  # the current price only, no clusters
    assert "largest clusters" not in summary_html(snap) and "$2.0M" in summary_html(snap)


def test_summary_lists_model_and_engine():
    from heatmap.model import Model

    base = make_heatmap()
    hm = Heatmap(
        times=base.times,
        price_edges=EDGES,
        long=base.long,
        short=base.short,
        price=base.price,
        model=Model(side_split="even"),
        meta={"engine": "ledger"},
    )
    text = summary_html(hm)
    for label, value in (("leverage", str(Model().leverage)), ("side split", "even"), ("engine", "ledger")):
        assert f"<th style='text-align:left'>{label}</th><td style='text-align:left'>" in text
        assert html.escape(value) in text
    empty = Heatmap(
        times=base.times[:0], price_edges=EDGES, long=base.long[:0], short=base.short[:0], price=base.price
    )
    assert "current price" not in summary_html(empty) and ">0<" in summary_html(empty)


_UNITS = {"": 1.0, "K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=-1e15, max_value=1e15, allow_nan=False))
def test_format_notional_reads_back_within_rounding(x):
    text = format_notional(x)
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("-").removeprefix("$")
    unit = body[-1] if body[-1] in "KMBT" else ""
    value = sign * float(body[: len(body) - len(unit)]) * _UNITS[unit]
    assert abs(value - x) <= 0.05 * _UNITS[unit] + 0.5 + 1e-9 * abs(x)
    # the shortest unit that keeps the number below 1000 (except trillions)
    assert float(body[: len(body) - len(unit)]) < 1000 or unit == "T"


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(min_value=0.0, max_value=1e12, allow_nan=False), min_size=1, max_size=50),
    st.booleans(),
    st.sampled_from(["log", "linear", "power"]),
)
def test_color_limits_are_ordered_and_inside_the_positive_values(values, robust, norm):
    v = np.asarray(values)
    lo, hi = color_limits(v, robust=robust, norm=norm)
    assert lo < hi
    pos = v[v > 0]
    if pos.size and pos.min() < pos.max():
        assert pos.min() <= lo and hi <= pos.max()
    if norm == "log":
        assert lo > 0


# ------------------------------------------------------------------------------------------------ saving
@pytest.mark.parametrize(
    ("suffix", "magic"),
    [
        (".png", b"\x89PNG"),
        (".svg", b"<?xml"),
        (".pdf", b"%PDF-"),
        (".jpg", b"\xff\xd8\xff"),
        (".JPEG", b"\xff\xd8\xff"),
    ],
)
def test_save_writes_the_format_of_the_suffix(tmp_path, suffix, magic):
    hm = make_heatmap()
    out = hm.save(tmp_path / f"hm{suffix}", dpi=30, size=(6, 3))
    data = out.read_bytes()
    assert data.startswith(magic)
    if suffix == ".svg":
        assert b"<svg" in data[:2000] and b"<image" in data  # vector frame, the heatmap embedded as an image
    snap_out = make_snapshot().save(tmp_path / f"map{suffix}", dpi=30)
    assert snap_out.read_bytes().startswith(magic)


def test_save_refuses_unknown_suffixes_before_drawing(tmp_path):
    hm = make_heatmap()
    for name in ("hm.bmp", "hm", "hm.png.txt"):
        with pytest.raises(ValueError, match=r"unknown figure type .*allowed are \.png, \.svg, \.pdf, \.jpg"):
            hm.save(tmp_path / name)
    assert not list(tmp_path.iterdir())
    with pytest.raises(ValueError, match="use save"):
        hm.to_png(tmp_path / "hm.svg")  # PNG bytes under an SVG name would mislead
    assert render_png(hm, tmp_path / "hm.anything", dpi=20).read_bytes().startswith(b"\x89PNG")


def test_failed_save_leaves_the_old_file_intact(tmp_path, monkeypatch):
    hm = make_heatmap()
    out = tmp_path / "hm.png"
    out.write_bytes(b"old good figure")

    def broken(self, fname, **kwargs):
        fname.write(b"half a fig")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(OSError, match="No space"):
        hm.save(out)
    with pytest.raises(OSError, match="No space"):
        hm.to_png(out)
    assert out.read_bytes() == b"old good figure"
    assert [p.name for p in tmp_path.iterdir()] == ["hm.png"]  # no temporary file left behind


# ---------------------------------------------------------------------------------------------- real data
@pytest.mark.slow
@pytest.mark.realdata
def test_default_view_of_six_months_of_real_hourly_btc():
    from pathlib import Path

    import heatmap as lh
    from heatmap.validation.datasets import hourly_market, load_coinglass

    data = Path(__file__).resolve().parents[2] / "shared" / "data"
    candles = data / "binance-btcusdt-1h" / "BTCUSDT_1h_Cleaned.csv"
    if not candles.is_file() or not (data / "coinglass-btc-4h" / "derived").is_dir():
        pytest.skip("../shared/data is absent")
    m4, _ = load_coinglass(data / "coinglass-btc-4h" / "derived", start="2024-12-01", end="2025-05-31 20:00")
    market = hourly_market(m4, candles)
    assert len(market) >= 24 * 180
    hm = lh.estimate(market, lh.Model(), bins=1000)
    fig, ax = new_figure((12, 6), dpi=100)
    im = hm.plot(ax=ax)
    lo, hi = ax.get_ylim()
    path = hm.price
    assert lo >= path.min() * 0.65 and hi <= path.max() * 1.35  # within ±35 % of the price path
    assert im.view.saturated <= 0.10
    assert 0.3 <= im.view.floored <= 0.6  # the weaker plateau is background, not a bright wall
    assert np.mean(np.asarray(im.norm(im.view.values["total"])) >= 0.5) <= 0.25
    assert ax.get_title(loc="left").startswith("BTCUSDT")
    # the liquidation map of the last bar by leverage (the gallery figure): curves inside the frame
    snap = hm.at(-1)
    for within in (0.12, None):
        fig, ax = new_figure((10, 6.5), dpi=80)
        plot_map(snap, ax=ax, within=within, layers=snap.by_leverage(market))
        assert curve_overflow(fig, ax) <= 0.0


# ------------------------------------------------------------------------------------------ leverage layers
def linear_market():
    """Open interest only grows and price stays within ±0.4 %, closer than any level of leverage <= 75x: nothing
    is liquidated or closed, so the engine is linear in the leverage law."""
    from heatmap.market import Market

    t = pd.date_range(T0, periods=48, freq="1h")
    close = 100.0 * (1 + 0.003 * np.sin(np.arange(48) / 5.0))
    open_ = np.r_[100.0, close[:-1]]
    frame = pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * 1.0005,
            "low": np.minimum(open_, close) * 0.9995,
            "close": close,
            "open_interest": 1000.0 + 10.0 * np.arange(48),
        },
        index=t,
    )
    return Market(frame, symbol="LIN", freq="1h")


def test_layers_add_up_to_the_snapshot_and_are_exact_for_a_linear_engine():
    import heatmap as lh
    from heatmap.grid import PriceGrid
    from heatmap.layers import leverage_layers

    market = linear_market()
    tiers = lh.Leverage.tiers({5: 0.5, 20: 0.3, 75: 0.2})
    model = lh.Model(leverage=tiers, passive_leverage=tiers, turnover=0.0, side_split="even", funding=False)
    hm = lh.estimate(market, model, bins=400)
    snap = hm.at(-1)
    layers = leverage_layers(snap, market)
    assert layers.labels == ("<=10x", "10-25x", "25-50x", "50-100x", ">100x")
    np.testing.assert_allclose(layers.weights, [0.5, 0.3, 0.0, 0.2, 0.0])
    np.testing.assert_allclose(layers.long.sum(axis=0), snap.long, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(layers.short.sum(axis=0), snap.short, rtol=1e-9, atol=1e-6)
    # each layer is the run with only that tier, weighted by its probability (derived independently here)
    grid = PriceGrid(np.asarray(snap.price_edges))
    for k, (lev, w) in enumerate([(5, 0.5), (20, 0.3), (75, 0.2)]):
        only = lh.Leverage.tiers({lev: 1.0})
        run = lh.estimate(market, model.replace(leverage=only, passive_leverage=only), grid=grid).at(-1)
        b = [0, 1, 3][k]
        np.testing.assert_allclose(layers.long[b], w * run.long, rtol=1e-6, atol=1e-3 * run.long.max())
        np.testing.assert_allclose(layers.short[b], w * run.short, rtol=1e-6, atol=1e-3 * run.short.max())
    assert not layers.long[2].any() and not layers.long[4].any()
    frame = layers.to_frame()
    assert set(frame["bucket"]) == {"<=10x", "10-25x", "50-100x"}
    assert frame["notional"].sum() == pytest.approx(snap.long.sum() + snap.short.sum())


def test_layers_validation():
    import heatmap as lh
    from heatmap.layers import leverage_layers

    market = linear_market()
    snap = lh.estimate(market, bins=200).at(-1)
    with pytest.raises(ValueError, match="buckets"):
        leverage_layers(snap, market, buckets=(25, 10))
    with pytest.raises(ValueError, match="buckets"):
        leverage_layers(snap, market, buckets=(0.5,))
    with pytest.raises(ValueError, match="no bar at the snapshot"):
        leverage_layers(snap, market.slice(None, market.frame.index[10]))


def test_map_stacks_bars_by_leverage_bucket():
    import heatmap as lh
    from heatmap.layers import leverage_layers

    market = linear_market()
    hm = lh.estimate(market, bins=300)
    snap = hm.at(-1)
    layers = leverage_layers(snap, market)
    fig, ax = new_figure((9, 6))
    plot_map(snap, ax=ax, layers=layers, within=0.3)
    steps = [p for p in ax.patches if isinstance(p, StepPatch)]
    assert [p.get_label() for p in steps] == [f"{s} {b}" for s in ("long", "short") for b in layers.labels]
    # the top of the last bucket is the reachable map; each bucket starts where the previous ended
    np.testing.assert_allclose(steps[4].get_data().values, reachable(snap, "long"), rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(steps[9].get_data().values, reachable(snap, "short"), rtol=1e-9, atol=1e-6)
    for a, b in zip(steps[:4], steps[1:5], strict=True):
        np.testing.assert_allclose(b.get_data().baseline, a.get_data().values)
    # long shades get darker with leverage; one hue per side
    lum = [sum(p.get_facecolor()[:3]) for p in steps[:5]]
    assert lum == sorted(lum, reverse=True)
    assert ax.get_title(loc="left").startswith("LIN · liquidation map at") and "by leverage" in ax.get_title(
        loc="left"
    )
    # the cumulative curves stay inside the frame horizontally
    assert curve_overflow(fig, ax) <= 0.0
    other = lh.estimate(market, bins=100).at(-1)
    with pytest.raises(ValueError, match="grid"):
        plot_map(other, layers=layers)


def test_every_saved_figure_has_plain_text_labels(tmp_path):
    from heatmap.plot import plain_text, save_figure

    fig, ax = new_figure((4, 3), dpi=40)
    ax.plot([1, 2], [3, 4], label=r"$\foo$ model")
    ax.set_title(r"$\foo$ price $51,756", loc="left")
    ax.set_xlabel("$x")
    ax.annotate("$1 $2", (1.5, 3.5))
    ax.legend()
    save_figure(fig, tmp_path / "f.png")  # mathtext would raise on \foo
    texts = [ax._left_title, ax.xaxis.label, *ax.texts, *ax.get_legend().get_texts()]
    assert all(not t.get_parse_math() and not t.get_usetex() for t in texts)
    assert ax.get_title(loc="left") == r"$\foo$ price $51,756"
    snap = make_snapshot()
    snap = Snapshot(time=snap.time, price_edges=EDGES, long=snap.long, short=snap.short, price=51_756.0 / 500,
                    meta={"symbol": r"$\foo$"})  # fmt: skip
    assert snap.save(tmp_path / "map.svg", dpi=30).read_bytes().startswith(b"<?xml")
    lev = Leverage.tiers({10: 1.0})
    object.__setattr__(lev, "name", r"$\bar$ law")
    ax = plot_leverage(lev)
    assert all(not t.get_parse_math() for t in ax.get_legend().get_texts())
    assert plain_text(ax.figure) is ax.figure
