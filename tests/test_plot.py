"""Figures (heatmap.plot): figure data, limits and labels, equal figures, PNG size, no pyplot state."""

from __future__ import annotations

import html
import io
import struct
from concurrent.futures import ThreadPoolExecutor

import matplotlib.pyplot as plt  # only to check that library code leaves no pyplot figures open
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib import colors as mcolors
from matplotlib import dates as mdates
from matplotlib.collections import QuadMesh
from matplotlib.figure import Figure
from matplotlib.patches import StepPatch

from heatmap.clusters import find_clusters, reachable
from heatmap.leverage import Leverage
from heatmap.plot import (
    NOTIONAL_LABEL,
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
    time_edges,
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
def test_mesh_holds_values_and_normalisation():
    hm = make_heatmap()
    fig, ax = new_figure()
    mesh = plot_heatmap(hm, ax=ax, side="long", norm="linear", robust=False, colorbar=False)
    assert isinstance(mesh, QuadMesh)
    arr = mesh.get_array()
    expected = np.ma.masked_less_equal(np.asarray(hm.long), 0.0).T
    np.testing.assert_array_equal(np.ma.getmaskarray(arr), np.ma.getmaskarray(expected))
    np.testing.assert_allclose(arr.compressed(), expected.compressed())
    positive = hm.long[hm.long > 0]
    assert isinstance(mesh.norm, mcolors.Normalize) and not isinstance(mesh.norm, mcolors.LogNorm)
    assert mesh.norm.vmin == positive.min() and mesh.norm.vmax == positive.max()
    normed = mesh.norm(arr)
    np.testing.assert_allclose(
        normed.compressed(), (expected.compressed() - positive.min()) / (positive.max() - positive.min())
    )


def test_log_norm_robust_limits_shared_by_both_sides():
    hm = make_heatmap()
    fig, ax = new_figure()
    mesh = plot_heatmap(hm, ax=ax, side="both")
    meshes = [c for c in ax.collections if isinstance(c, QuadMesh)]
    assert [m.get_label() for m in meshes] == ["long", "short"]
    assert mesh is meshes[0]
    values = np.concatenate([hm.long.ravel(), hm.short.ravel()])
    lo, hi = np.percentile(values[values > 0], [2, 98])
    for m in meshes:
        assert isinstance(m.norm, mcolors.LogNorm)
        assert m.norm.vmin == pytest.approx(lo) and m.norm.vmax == pytest.approx(hi)
    short_t = np.asarray(hm.short).T
    np.testing.assert_allclose(
        meshes[1].norm(meshes[1].get_array()).compressed(),
        np.clip((np.log(short_t[short_t > 0]) - np.log(lo)) / (np.log(hi) - np.log(lo)), 0, 1),
    )
    # long layer is blue, short layer orange, empty cells transparent
    long_rgba = meshes[0].cmap(1.0)
    short_rgba = meshes[1].cmap(1.0)
    assert long_rgba[2] > long_rgba[0] and short_rgba[0] > short_rgba[2]
    assert meshes[0].cmap.get_bad()[3] == 0.0


def test_power_norm_and_explicit_limits():
    hm = make_heatmap()
    fig, ax = new_figure()
    mesh = plot_heatmap(hm, ax=ax, side="short", norm="power", vmin=1e4, vmax=5e5, colorbar=False)
    assert isinstance(mesh.norm, mcolors.PowerNorm) and mesh.norm.gamma == 0.5
    assert (mesh.norm.vmin, mesh.norm.vmax) == (1e4, 5e5)


def test_axes_time_edges_limits_and_labels():
    hm = make_heatmap(T=6)
    fig, ax = new_figure()
    plot_heatmap(hm, ax=ax, ylim="grid")
    x = time_edges(hm)
    expected = mdates.date2num(pd.date_range("2025-01-01", periods=7, freq="1h").to_numpy())
    np.testing.assert_allclose(x, expected)
    assert ax.get_xlim() == pytest.approx((expected[0], expected[-1]))
    assert ax.get_ylim() == pytest.approx((EDGES[0], EDGES[-1]))
    assert ax.get_xlabel() == "time (UTC)" and ax.get_ylabel() == "price [USD]"
    cbar_labels = [a.get_ylabel() for a in fig.axes[1:]]
    assert cbar_labels == [f"long: {NOTIONAL_LABEL}", f"short: {NOTIONAL_LABEL}"]
    # price path drawn at each bar's close time
    (line,) = ax.get_lines()
    np.testing.assert_allclose(line.get_xdata(), expected[1:])
    np.testing.assert_allclose(line.get_ydata(), hm.price.to_numpy())


def test_single_side_colorbar_label_and_log_yscale():
    hm = make_heatmap()
    fig, ax = new_figure()
    plot_heatmap(hm, ax=ax, side="long", yscale="log", price=False, ylim=(90.0, 110.0))
    assert ax.get_yscale() == "log"
    assert ax.get_ylim() == pytest.approx((90.0, 110.0))
    assert [a.get_ylabel() for a in fig.axes[1:]] == [NOTIONAL_LABEL]
    assert not ax.get_lines()


def test_auto_ylim_covers_price_and_stays_in_grid():
    hm = make_heatmap()
    fig, ax = new_figure()
    plot_heatmap(hm, ax=ax)
    lo, hi = ax.get_ylim()
    assert EDGES[0] <= lo <= hm.price.min() * 0.97 + 1e-9
    assert hm.price.max() * 1.03 - 1e-9 <= hi <= EDGES[-1]


def test_all_zero_and_single_snapshot_do_not_crash():
    fig, ax = new_figure()
    mesh = plot_heatmap(make_heatmap(zero=True), ax=ax)
    assert mesh.get_array().mask.all()
    hm1 = make_heatmap(T=1)
    fig, ax = new_figure()
    plot_heatmap(hm1, ax=ax, clusters=True)
    x0, x1 = ax.get_xlim()
    assert x1 - x0 == pytest.approx(1 / 24)  # one bar; with a single price point the width falls back to 1 h
    assert len(png_bytes(hm1)) > 0


def test_clusters_are_marked_at_the_right_edge():
    hm = make_heatmap()
    fig, ax = new_figure()
    plot_heatmap(hm, ax=ax, clusters=True, ylim="grid")
    found = find_clusters(hm.at(-1), top=5)
    texts = [t.get_text() for t in ax.texts]
    assert len(found) > 0 and len(texts) == len(found)
    for p in found["price"]:
        assert any(t.startswith(f"{p:.4g}") for t in texts)


def test_bad_options_are_rejected():
    hm = make_heatmap()
    fig, ax = new_figure()
    with pytest.raises(ValueError, match="side"):
        plot_heatmap(hm, ax=ax, side="up")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="norm"):
        plot_heatmap(hm, ax=ax, norm="sqrt")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="yscale"):
        plot_heatmap(hm, ax=ax, yscale="symlog")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ylim"):
        plot_heatmap(hm, ax=ax, ylim=(110.0, 90.0))
    with pytest.raises(ValueError, match="vmax"):
        plot_heatmap(hm, ax=ax, vmin=10.0, vmax=1.0)
    bad = Heatmap(
        times=hm.times, price_edges=EDGES, long=-np.asarray(hm.long), short=hm.short, price=hm.price
    )
    with pytest.raises(ValueError, match="non-negative"):
        plot_heatmap(bad, ax=ax)


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
        assert_figures_equal(lambda ax: hm.plot(ax=ax), lambda ax: hm.plot(ax=ax, norm="linear"))


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
        f"{p:.4g}  {format_notional(n)}" for p, n in zip(found["price"], found["notional"], strict=True)
    )
    twin = fig.axes[-1]
    assert twin is not ax and twin.get_xlabel() == "cumulative liquidation notional [USD]"
    cum_long, cum_short = twin.get_lines()
    assert max(cum_long.get_xdata()) == pytest.approx(4e6, rel=1e-6)  # all long mass is reachable below 100
    assert max(cum_short.get_xdata()) == pytest.approx(2e6, rel=1e-6)


def test_map_without_cumulative_or_clusters_and_validation():
    snap = make_snapshot()
    fig, ax = new_figure()
    plot_map(snap, ax=ax, cumulative=False, top=0)
    assert fig.axes == [ax] and not ax.texts
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
    with pytest.raises(FileNotFoundError, match="does not exist"):
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
    assert not ax.texts
    assert "largest clusters" not in summary_html(snap) and "$2.0M" in summary_html(snap)


def test_max_columns_draws_every_kth_snapshot_and_the_last():
    hm = make_heatmap(T=10)
    fig, ax = new_figure()
    mesh = plot_heatmap(hm, ax=ax, side="short", max_columns=4, ylim="grid", colorbar=False)
    cols = [0, 3, 6, 9]  # k = ceil(10 / 4) = 3, plus the last (already included)
    arr = mesh.get_array()
    assert arr.shape == (60, 4)
    np.testing.assert_allclose(arr.filled(0.0), np.asarray(hm.short)[cols].T)
    edges = mdates.date2num(
        pd.DatetimeIndex([*hm.times[cols], hm.times[-1] + pd.Timedelta("1h")]).tz_localize(None)
    )
    assert ax.get_xlim() == pytest.approx((edges[0], edges[-1]))
    fig, ax = new_figure()
    assert plot_heatmap(make_heatmap(T=11), ax=ax, max_columns=4, colorbar=False).get_array().shape == (60, 5)
    fig, ax = new_figure()
    assert plot_heatmap(hm, ax=ax, max_columns=None, colorbar=False).get_array().shape == (60, 10)
    with pytest.raises(ValueError, match="max_columns"):
        plot_heatmap(hm, ax=ax, max_columns=0)


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


def test_cmap_choices():
    hm = make_heatmap()
    fig, ax = new_figure()
    plot_heatmap(hm, ax=ax, cmap=("Greens", "Purples"), colorbar=False)
    long_mesh, short_mesh = (c for c in ax.collections if isinstance(c, QuadMesh))
    assert long_mesh.cmap(1.0)[1] > long_mesh.cmap(1.0)[0]  # green dominant at the dark end
    assert short_mesh.cmap.name == "Purples_layer"
    fig, ax = new_figure()
    assert plot_heatmap(hm, ax=ax, side="long", cmap="cividis", colorbar=False).cmap.name == "cividis"
    with pytest.raises(ValueError, match="pair"):
        plot_heatmap(hm, ax=ax, cmap="viridis")
    with pytest.raises(ValueError, match="one colormap"):
        plot_heatmap(hm, ax=ax, side="short", cmap=("Blues", "Reds"))
