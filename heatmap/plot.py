"""Figures: the time × price heatmap, the one-time liquidation map, leverage laws, file output, Jupyter views.

Everything here builds :class:`matplotlib.figure.Figure` objects directly and renders them with matplotlib's own
canvases: no ``pyplot``, no global figure registry, so the functions are safe in threads, web servers and tests.
Plotting never computes model quantities; what is shown (window, visible cells, colour limits) comes from
:mod:`heatmap.view`, the data from :mod:`heatmap.result` and :mod:`heatmap.clusters`.

Look
----
The heatmap is drawn the way traders read liquidation heatmaps: a black plot area, one perceptually uniform
sequential colormap (``inferno``, black to yellow) for the total liquidation notional, and colour limits taken from
the *visible* cells: the top at their 99th percentile (about 1 % of cells saturate) and a floor at their 40th
percentile, below which cells take the background colour, with a linear scale in between. The model spreads
positions over the whole leverage law, so a long window holds a smooth plateau of low-leverage mass far from price;
coloured from zero (or with a brightening power scale) it reads as one bright wall and the bands near price, the
levels that persist until price crosses them, do not stand out. With the floor the plateau's weaker half goes dark
and the concentrations keep the bright end of the map; the colour bar starts at the floor (its first tick, and a
triangle in the background colour for the cells below it) and the corner note states it. ``vmin=0`` (or
``floor=0``) colours every non-empty cell; ``norm``/``gamma``/``vmax``/``cmap`` override the rest. On top: the
price path, the current price labelled, the largest clusters labelled at the right edge, and a window around the
price path. ``side="long"``/``"short"`` draws one side, ``side="both"`` the two sides as two layers.

Side colours
------------
One convention everywhere (figures, HTML, docs): **long = blue** (:data:`SIDE_COLORS` ``"long"``; liquidated when
price falls, mass below the price) and **short = orange** (liquidated when price rises, mass above). Blue/orange
stays distinguishable under the common colour-vision deficiencies, on white and on the dark plot area.

Text
----
Every label is plain text: titles, labels and annotations are drawn with ``parse_math=False`` and
``usetex=False``, and tick labels escape ``$``, so a symbol such as ``$\\foo$`` or a label "price $51,756" prints
as written.

Examples
--------
>>> import heatmap as lh
>>> hm = lh.estimate(lh.synthetic_market(days=10, freq="1h", seed=7), bins=300)  # doctest: +SKIP
>>> hm.save("heatmap.svg")  # doctest: +SKIP
>>> fig, ax = new_figure((8, 4))
>>> format_notional(12_345_678)
'$12.3M'
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import colors as mcolors
from matplotlib import dates as mdates
from matplotlib import patheffects
from matplotlib import ticker as mticker
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from heatmap.view import FLOOR_PERCENTILE, HeatmapView, SideView, heatmap_view

if TYPE_CHECKING:
    from heatmap.layers import LeverageLayers
    from heatmap.leverage import Leverage
    from heatmap.market import Market
    from heatmap.result import Heatmap, Snapshot

__all__ = [
    "SIDE_COLORS",
    "NOTIONAL_LABEL",
    "FORMATS",
    "new_figure",
    "format_price_axis",
    "format_notional",
    "color_limits",
    "time_edges",
    "plot_heatmap",
    "plot_map",
    "plot_leverage",
    "save_figure",
    "figure_format",
    "plain_text",
    "render_png",
    "png_bytes",
    "summary_html",
]

#: Colours of the two position sides, used by every figure and the HTML: long blue, short orange.
SIDE_COLORS: dict[str, str] = {"long": "#3a8fd9", "short": "#f28e2b"}
#: Colour-bar label of heatmap cells.
NOTIONAL_LABEL = "liquidation notional per band [USD]"
#: File suffixes :func:`save_figure` writes, and matplotlib's format name for each.
FORMATS: dict[str, str] = {".png": "png", ".svg": "svg", ".pdf": "pdf", ".jpg": "jpeg", ".jpeg": "jpeg"}
#: The sequential colormap of total intensity (black at the bottom: the floor and empty cells are the background).
HEATMAP_CMAP = "inferno"
#: Plain text: no mathtext, no TeX (``$`` in a symbol or a price label prints as a dollar sign).
PLAIN: dict[str, Any] = {"parse_math": False, "usetex": False}

_HALO = [patheffects.withStroke(linewidth=2.6, foreground="black")]
_PRICE_STYLE: dict[str, Any] = {
    "color": "white",
    "lw": 1.0,
    "path_effects": [patheffects.withStroke(linewidth=2.2, foreground="black")],
}
_DARK = "#0b0b14"

Norm = Literal["power", "asinh", "log", "linear"]


# ---------------------------------------------------------------------------------------------------- helpers
def new_figure(
    size: tuple[float, float] = (12.0, 6.0),
    *,
    dpi: float = 100.0,
    layout: Literal["constrained", "compressed", "tight"] | None = "constrained",
    nrows: int = 1,
    ncols: int = 1,
    **subplots_kw: Any,
) -> tuple[Figure, Any]:
    """A new Figure with its Axes, built without ``pyplot`` and attached to an Agg canvas.

    Parameters
    ----------
    size : (width, height)
        Figure size [inch].
    dpi : float, default 100
        Resolution [pixel/inch].
    layout : str or None, default "constrained"
        Matplotlib layout engine.
    nrows, ncols : int, default 1
        Grid of axes.
    **subplots_kw
        Passed to :meth:`matplotlib.figure.Figure.subplots` (``sharex``, ``sharey``, ``width_ratios``, ...).

    Returns
    -------
    (Figure, Axes or ndarray of Axes)
        One Axes for a 1 × 1 grid, else the array that ``Figure.subplots`` returns (squeezed).

    Examples
    --------
    >>> fig, ax = new_figure((6, 3))
    >>> fig.get_size_inches().tolist()
    [6.0, 3.0]
    >>> fig, axes = new_figure((8, 3), ncols=2, sharey=True)
    >>> axes.shape
    (2,)
    """
    w, h = _check_size(size)
    if not np.isfinite(dpi) or dpi <= 0:
        raise ValueError(f"dpi must be a positive number [pixel/inch], got {dpi!r}")
    _check_pixels(w, h, dpi)
    for name, n in (("nrows", nrows), ("ncols", ncols)):
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"{name} must be a positive integer, got {n!r}")
    fig = Figure(figsize=(w, h), dpi=dpi, layout=layout)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, **subplots_kw)


def _check_size(size: Any) -> tuple[float, float]:
    try:
        w, h = (float(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be (width, height) in inches, got {size!r}") from None
    if not (np.isfinite(w) and np.isfinite(h) and w > 0 and h > 0):
        raise ValueError(f"size must be two positive numbers [inch], got {size!r}")
    return w, h


#: bytes per figure pixel while drawing: the float64 raster of the map, its float32 copy, RGBA and the Agg canvas
_BYTES_PER_PIXEL = 32
#: Agg draws at most this many pixels on a side
_MAX_PIXELS_A_SIDE = 2**16 - 1


def _check_pixels(w: float, h: float, dpi: float) -> None:
    """A figure of ``w x h`` inches at ``dpi`` fits Agg (65,535 pixels a side) and the memory budget, checked
    before anything is drawn."""
    from heatmap.limits import check_memory

    px_w, px_h = int(np.ceil(w * dpi)), int(np.ceil(h * dpi))
    what = f"a figure of {px_w:,} x {px_h:,} pixels (size=({w:g}, {h:g}) [inch], dpi={dpi:g})"
    advice = "use a smaller size= or dpi= (command line: --size W H, --dpi N)"
    if max(px_w, px_h) > _MAX_PIXELS_A_SIDE:
        raise ValueError(f"{what} is too large: at most {_MAX_PIXELS_A_SIDE:,} pixels a side; {advice}")
    check_memory(px_w * px_h * _BYTES_PER_PIXEL, what=what, advice=advice)


def format_notional(x: float, *, currency: str = "$", digits: int = 1) -> str:
    """Short human form of an amount: ``12_345_678 -> "$12.3M"``, ``950 -> "$950"``, ``-2.5e9 -> "-$2.5B"``.

    Parameters
    ----------
    x : float
        Amount [quote].
    currency : str, default "$"
        Prefix.
    digits : int, default 1
        Decimals after scaling.

    Examples
    --------
    >>> format_notional(12_345_678), format_notional(950), format_notional(-2.5e9), format_notional(1500)
    ('$12.3M', '$950', '-$2.5B', '$1.5K')
    """
    x = float(x)
    if not np.isfinite(x):
        return str(x)
    sign = "-" if x < 0 else ""
    a = abs(x)
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if a >= scale * (1 - 0.5 * 10.0**-digits / 1000):
            return f"{sign}{currency}{a / scale:.{digits}f}{suffix}"
    return f"{sign}{currency}{a:.0f}"


def _fmt_price(p: float) -> str:
    return f"{p:,.0f}" if abs(p) >= 1000 else f"{p:.4g}"


def _tick_text(text: str) -> str:
    """A tick label as plain text: ``$`` escaped (tick labels are parsed for mathtext)."""
    return text.replace("$", r"\$")


def format_price_axis(ax: Axes, *, axis: Literal["x", "y"] = "y", label: str | None = "price [USD]") -> Axes:
    """Thousands separators on a price axis (also for a log scale) and an axis label.

    Examples
    --------
    >>> fig, ax = new_figure((4, 3))
    >>> _ = format_price_axis(ax)
    >>> ax.get_ylabel()
    'price [USD]'
    """
    if axis not in ("x", "y"):
        raise ValueError(f"axis must be 'x' or 'y', got {axis!r}")
    target = ax.yaxis if axis == "y" else ax.xaxis

    def fmt(v: float, _pos: int | None = None) -> str:
        if v == 0 or not np.isfinite(v):
            return "0"
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.4g}"

    if target.get_scale() == "log":
        lo, hi = ax.get_ylim() if axis == "y" else ax.get_xlim()
        if lo > 0 and hi / lo < 4:  # a narrow window: evenly spaced round prices read better than decades
            target.set_major_locator(mticker.MaxNLocator(nbins=7))
        else:
            target.set_major_locator(
                mticker.LogLocator(base=10.0, subs=(1.0, 2.0, 3.0, 5.0, 7.0), numticks=12)
            )
    target.set_major_formatter(mticker.FuncFormatter(fmt))
    target.set_minor_formatter(mticker.NullFormatter())
    if label is not None:
        target.set_label_text(label, **PLAIN)
    return ax


def plain_text(fig: Any) -> Any:
    """Make every label of ``fig`` plain text (no mathtext, no TeX) and return ``fig``.

    Titles, axis labels, annotations, legend entries and figure-level texts get ``parse_math=False`` and
    ``usetex=False``, so a ``$`` in a symbol, a price or a model name prints as written (``$\\foo$`` does not reach
    the mathtext parser). Tick labels keep their formatters, which escape ``$`` themselves.

    Examples
    --------
    >>> fig, ax = new_figure((4, 3))
    >>> _ = ax.set_title(r"$\foo$ at $51,756")
    >>> plain_text(fig).axes[0].title.get_parse_math()
    False
    """
    texts: list[Any] = list(getattr(fig, "texts", []))
    for legend in getattr(fig, "legends", []):
        texts += legend.get_texts()
    for ax in fig.axes:
        texts += [ax.title, getattr(ax, "_left_title", None), getattr(ax, "_right_title", None)]
        texts += [ax.xaxis.label, ax.yaxis.label, *ax.texts]
        legend = ax.get_legend()
        if legend is not None:
            texts += legend.get_texts()
    for t in texts:
        if t is not None:
            t.set_parse_math(False)
            t.set_usetex(False)
    return fig


def _notional_axis(target: Any) -> None:
    target.set_major_formatter(mticker.FuncFormatter(lambda v, _p=None: _tick_text(format_notional(v))))


def color_limits(values: np.ndarray, *, robust: bool = True, norm: Norm = "log") -> tuple[float, float]:
    """Colour limits from the positive cells: 2nd–98th percentile when ``robust``, else min–max [quote].

    All-zero input gives ``(1, 10)`` for ``norm="log"`` and ``(0, 1)`` otherwise; equal limits are widened so a
    norm can always be built. (The heatmap's own limits come from :func:`heatmap.view.heatmap_view`.)

    Examples
    --------
    >>> color_limits(np.arange(1.0, 101.0), robust=False)
    (1.0, 100.0)
    >>> color_limits(np.zeros(3))
    (1.0, 10.0)
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return (1.0, 10.0) if norm == "log" else (0.0, 1.0)
    lo, hi = np.percentile(v, [2, 98]) if robust else (v.min(), v.max())
    lo, hi = float(lo), float(hi)
    if hi <= lo:
        if norm == "log":
            lo, hi = (lo / 2.0 if lo / 2.0 > 0 else lo), float(np.nextafter(max(lo * 2.0, lo), np.inf))
        else:
            lo, hi = 0.0, max(hi, 1.0)
    return lo, hi


def _make_norm(norm: str, vmin: float, vmax: float, gamma: float = 1.0) -> mcolors.Normalize:
    if norm == "power":
        return mcolors.PowerNorm(gamma=gamma, vmin=vmin, vmax=vmax, clip=True)
    if norm == "asinh":
        # linear up to a tenth of the top, logarithmic above: faint bands visible, strong ones separated
        return mcolors.AsinhNorm(linear_width=max(vmax / 10.0, 1e-300), vmin=vmin, vmax=vmax, clip=True)
    if norm == "log":
        lo = vmin if vmin > 0 else vmax / 1e3
        return mcolors.LogNorm(vmin=lo, vmax=vmax, clip=True)
    if norm == "linear":
        return mcolors.Normalize(vmin=vmin, vmax=vmax, clip=True)
    raise ValueError(f"norm: got {norm!r}; allowed are 'power', 'asinh', 'log', 'linear'")


def _layer_cmap(color: str) -> mcolors.Colormap:
    """One side's layer on the dark plot area: transparent at zero, then a dark shade of ``color`` growing to the
    colour itself at the top (lightness and opacity both increase with the value)."""
    rgb = np.array(mcolors.to_rgb(color))
    x = np.linspace(0.0, 1.0, 256)[:, None]
    rgba = np.empty((256, 4))
    rgba[:, :3] = rgb * (0.35 + 0.65 * x)
    rgba[:, 3] = np.clip(x[:, 0] / 0.5, 0.0, 1.0) ** 0.8
    cmap = mcolors.ListedColormap(rgba, name=f"layer_{color}")
    return cmap.with_extremes(bad=(0, 0, 0, 0), under=(0, 0, 0, 0))


def _bar_width(hm: Heatmap) -> pd.Timedelta:
    for idx in (hm.price.index, hm.times):
        if len(idx) >= 2:
            d = pd.Timedelta(pd.Series(pd.DatetimeIndex(idx)).diff().median())
            if d > pd.Timedelta(0):
                return d
    return pd.Timedelta(hours=1)


def _to_num(times: pd.DatetimeIndex) -> np.ndarray:
    t = pd.DatetimeIndex(times)
    if t.tz is not None:
        t = t.tz_convert("UTC").tz_localize(None)
    return np.asarray(mdates.date2num(t.to_numpy(dtype="datetime64[ns]")), dtype=float)


def time_edges(hm: Heatmap, columns: np.ndarray | None = None) -> np.ndarray:
    """Cell edges of the time axis as matplotlib date numbers: the snapshot times and the last one + a bar.

    Snapshot ``i`` (the state after the bar opening at ``times[i]`` closed) spans ``[times[i], times[i+1])``;
    the last spans one bar width (the median spacing of the price path). ``columns`` (increasing snapshot
    positions ending with the last one) keeps only those snapshots, each up to the next one kept.
    """
    times = pd.DatetimeIndex(hm.times)
    if len(times) == 0:
        raise ValueError("the heatmap has no snapshots to draw")
    if columns is not None:
        times = times[np.asarray(columns, dtype=int)]
    edges = times.append(pd.DatetimeIndex([times[-1] + _bar_width(hm)]))
    return _to_num(edges)


def _axes_pixels(ax: Axes) -> tuple[int, int]:
    """Width and height of the axes in display pixels (before layout: the subplot's slot)."""
    bbox = ax.get_position()
    fig: Any = ax.figure
    while not isinstance(fig, Figure):  # a SubFigure: its root figure has the size
        fig = fig.figure
    w_in, h_in = fig.get_size_inches()
    dpi = float(fig.dpi)
    return max(1, int(np.ceil(bbox.width * w_in * dpi))), max(1, int(np.ceil(bbox.height * h_in * dpi)))


def _model_label(model: Any) -> str | None:
    """The model preset's name when the model is one, else its leverage law's name; None without a model."""
    if model is None:
        return None
    from heatmap.model import PRESETS

    for name, make in PRESETS.items():
        try:
            if make() == model:
                return str(name)
        except Exception:  # a preset that cannot be built or compared names nothing
            continue
    law = getattr(model, "leverage", None)
    return f"leverage {getattr(law, 'name', None) or law}" if law is not None else None


def _heatmap_title(hm: Heatmap, view: HeatmapView) -> str:
    parts = [str(v) for v in (hm.meta.get("symbol"), hm.meta.get("venue")) if v]
    parts.append("liquidation heatmap")
    label = _model_label(hm.model)
    if label:
        parts.append(f"model {label}")
    t0, t1 = view.time_edges[0], view.time_edges[-1]
    parts.append(f"{t0:%Y-%m-%d %H:%M} to {t1:%Y-%m-%d %H:%M} UTC")
    return " · ".join(parts)


def _fit_title(text: str, ax: Axes, *, fontsize: float) -> str:
    """Break a " · "-separated title into lines that fit the axes width (about 0.55 em per character)."""
    width_pt = _axes_pixels(ax)[0] / float(ax.figure.dpi) * 72.0
    max_chars = max(12, int(width_pt / (0.55 * fontsize)))
    lines: list[str] = []
    for part in text.split(" · "):
        if lines and len(lines[-1]) + 3 + len(part) <= max_chars:
            lines[-1] += " · " + part
        else:
            lines.append(part)
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ heatmap
def plot_heatmap(
    hm: Heatmap,
    ax: Axes | None = None,
    *,
    side: SideView = "total",
    norm: Norm = "power",
    gamma: float = 1.0,
    cmap: str | mcolors.Colormap | None = None,
    price: bool = True,
    candles: bool | Market = False,
    clusters: bool | int = True,
    colorbar: bool = True,
    yscale: Literal["linear", "log"] = "linear",
    ylim: tuple[float, float] | Literal["auto", "grid"] = "auto",
    within: float | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    floor: float = FLOOR_PERCENTILE,
    max_columns: int | None = None,
    title: str | None = None,
    note: bool = True,
) -> AxesImage:
    """Time × price heatmap of liquidation notional, with the price path, current price and top clusters.

    The visible window, cells and colour limits come from :func:`heatmap.view.heatmap_view`; the regular grid
    is drawn as one image sampled at the axes' pixel resolution (:meth:`HeatmapView.raster`), so drawing six
    months of hourly snapshots costs about as much as drawing one week.

    Parameters
    ----------
    hm : Heatmap
    ax : Axes, optional
        Target axes; a new pyplot-free figure when omitted (``ax.figure`` holds it).
    side : {"total", "long", "short", "both"}, default "total"
        ``"total"``: long + short as one intensity with ``cmap`` (default ``"inferno"``); ``"long"`` /
        ``"short"``: one side with ``cmap``; ``"both"``: the two sides as blue (long) and orange (short)
        layers on one shared colour scale.
    norm : {"power", "asinh", "log", "linear"}, default "power"
        Colour scale: :class:`~matplotlib.colors.PowerNorm` with ``gamma``, :class:`~matplotlib.colors.AsinhNorm`
        (linear up to a tenth of the top), :class:`~matplotlib.colors.LogNorm` (three decades) or linear.
    gamma : float, default 1.0
        Exponent of the power scale between ``vmin`` and ``vmax`` (1: linear; 0.5 brightens faint cells, 2 darkens
        them).
    cmap : str or Colormap, optional
        Colormap of ``"total"`` or of one side (default ``"inferno"``).
    price : bool, default True
        Overlay the close path (white line) plotted at each bar's close time, and the current (last) price as
        a dashed line with its label.
    candles : bool or Market, default False
        Draw the price as candles instead of a line, at most one candle per 8 pixels: from a Market's OHLC, or
        (``True``) from the heatmap's close path (open/high/low/close of the closes in each candle).
    clusters : bool or int, default True
        Label the largest clusters of the last snapshot inside the window at the right edge (``True``: 5; an
        int: that many; clusters need a log-spaced grid).
    colorbar : bool, default True
        Colour bar(s) in $ with K/M/B ticks.
    yscale : {"linear", "log"}, default "linear"
    ylim : (low, high), "auto" or "grid", default "auto"
        Price window [quote]; see :func:`heatmap.view.heatmap_view` (``"auto"``: the price path ± ``within``).
    within : float, optional
        Half-width of the automatic window [fraction of price] (default from the model's leverage law).
    vmin, vmax : float, optional
        Explicit colour limits [quote]; default the ``floor`` and the 99th percentile of the positive visible
        cells.
    floor : float, default 40
        Percentile of the positive visible cells at the bottom of the colour scale [%]; weaker cells take the
        background colour (``0``: colour every non-empty cell). Ignored when ``vmin`` is given.
    max_columns : int, optional
        Image columns (default: the axes' pixel width); time is sampled at the column centres.
    title : str, optional
        Title (default: symbol, venue, model, window).
    note : bool, default True
        A small note in the corner: cell values are model notional on a relative scale, not calibrated to a
        venue's absolute open positions; and the floor, when there is one.

    Returns
    -------
    AxesImage
        The image of the (first) layer: ``get_array()`` holds the pixel raster [quote], ``norm`` the colour scale,
        ``get_label()`` the layer (``"total"``, ``"long"``, ``"short"``); ``image.view`` is the
        :class:`~heatmap.view.HeatmapView` (cells, window, limits). With ``"both"`` the short layer is the next
        entry of ``ax.images``.

    Examples
    --------
    >>> im = plot_heatmap(hm, within=0.15)  # doctest: +SKIP
    >>> im.view.saturated < 0.02, 0.3 < im.view.floored < 0.5  # doctest: +SKIP
    (True, True)
    """
    if yscale not in ("linear", "log"):
        raise ValueError(f"yscale: got {yscale!r}; allowed are 'linear', 'log'")
    if not np.isfinite(gamma) or gamma <= 0:
        raise ValueError(f"gamma: got {gamma!r}; allowed is a positive number (0.5 brightens faint bands)")
    _make_norm(norm, 0.0, 1.0, gamma)  # validates the name
    if max_columns is not None and (not isinstance(max_columns, (int, np.integer)) or max_columns < 1):
        raise ValueError(f"max_columns: got {max_columns!r}; allowed is a positive integer or None")
    if isinstance(cmap, (tuple, list)):
        raise ValueError(f"cmap: got {cmap!r}; allowed is one colormap (side colours are fixed for 'both')")
    n_top = 5 if clusters is True else int(clusters)
    if n_top < 0:
        raise ValueError(f"clusters: got {clusters!r}; allowed is True, False or a number of clusters >= 0")
    view = heatmap_view(hm, side=side, ylim=ylim, within=within, vmin=vmin, vmax=vmax, floor=floor)
    if norm == "log" and view.vmin <= 0 and vmin is not None:
        raise ValueError(f"vmin must be positive with norm='log', got {view.vmin}")
    if ax is None:
        _, ax = new_figure()
    ax.set_yscale(yscale)
    width, height = _axes_pixels(ax)
    if max_columns is not None:
        width = int(max_columns)
    x = _to_num(view.time_edges)
    y0, y1 = view.ylim
    single = mpl.colormaps[cmap] if isinstance(cmap, str) else (cmap or mpl.colormaps[HEATMAP_CMAP])
    images: list[AxesImage] = []
    for layer, values in view.values.items():
        del values
        raster = view.raster(layer, width, height, yscale="linear").astype(np.float32)
        cm = (
            _layer_cmap(SIDE_COLORS[layer])
            if side == "both"
            else single.with_extremes(bad=single(0.0), under=single(0.0))
        )
        image = ax.imshow(
            raster,
            origin="lower",
            extent=(float(x[0]), float(x[-1]), y0, y1),
            aspect="auto",
            interpolation="nearest",
            cmap=cm,
            norm=_make_norm(norm, view.vmin, view.vmax, gamma),
            label=layer,
        )
        image.view = view  # type: ignore[union-attr]
        images.append(image)
    ax.set_facecolor(_DARK if side == "both" else single(0.0))
    ax.set_xlim(float(x[0]), float(x[-1]))
    ax.set_ylim(y0, y1)
    _date_axis(ax)

    if price and len(hm.price):
        _draw_price(ax, view, hm, candles=candles, width=width)
    if n_top > 0:
        _mark_clusters(ax, hm.at(-1), float(x[-1]), top=n_top)
    format_price_axis(ax)
    text = title if title is not None else _fit_title(_heatmap_title(hm, view), ax, fontsize=10)
    ax.set_title(text, loc="left", fontsize=10, **PLAIN)
    if note:
        floor_note = (
            f" · cells under {format_notional(view.vmin)} ({view.floored:.0%} of the window): background"
            if view.vmin > 0
            else ""
        )
        ax.text(
            0.005,
            0.01,
            "relative scale: model notional, not calibrated to venue totals" + floor_note,
            transform=ax.transAxes,
            in_layout=False,  # inside the plot area: it must not shrink the axes of a small figure
            fontsize=7,
            color="0.85",
            va="bottom",
            ha="left",
            **PLAIN,
        )
    if colorbar:
        fig = ax.get_figure()
        assert fig is not None
        for image in images:
            # triangles: below the floor (background colour) and above the top (the top colour); the layers of
            # "both" are transparent under the floor, which a triangle outside the bar cannot show: the floor is
            # their first tick
            extend = "both" if view.vmin > 0 and side != "both" else "max"
            cb = fig.colorbar(
                image, ax=ax, pad=0.01, fraction=0.04 if side == "both" else 0.05, extend=extend
            )
            layer = str(image.get_label())
            cb.set_label(NOTIONAL_LABEL if side != "both" else f"{layer}: {NOTIONAL_LABEL}", **PLAIN)
            cb.ax.set_facecolor(ax.get_facecolor())  # transparent layer colours read as on the plot area
            cb.set_ticks(_colorbar_ticks(view.vmin, view.vmax))
            _notional_axis(cb.ax.yaxis)
            cb.ax.yaxis.set_minor_locator(mticker.NullLocator())
    return images[0]


def _colorbar_ticks(vmin: float, vmax: float) -> list[float]:
    """Round ticks inside ``[vmin, vmax]``, starting with ``vmin`` itself when it is a floor (> 0).

    Examples
    --------
    >>> [round(t) for t in _colorbar_ticks(31.7e6, 80e6)]
    [31700000, 40000000, 50000000, 60000000, 70000000, 80000000]
    """
    ticks = [float(t) for t in mticker.MaxNLocator(nbins=5).tick_values(vmin, vmax) if vmin <= t <= vmax]
    if vmin > 0:  # the floor is labelled; a round tick too close to it would overlap its label
        ticks = [vmin] + [t for t in ticks if t - vmin > 0.08 * (vmax - vmin)]
    return ticks


def _date_axis(ax: Axes) -> None:
    ax.xaxis_date(tz="UTC")
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, show_offset=True))
    ax.set_xlabel("time (UTC)", **PLAIN)


def _candle_frame(
    hm: Heatmap, candles: bool | Market, n: int, span: tuple[pd.Timestamp, pd.Timestamp]
) -> pd.DataFrame:
    """OHLC of at most ``n`` candles (open time index) from a Market or from the close path, inside ``span``."""
    from heatmap.market import Market

    if isinstance(candles, Market):
        f = candles.frame[["open", "high", "low", "close"]].astype(float)
    else:
        c = hm.price.astype(float)
        f = pd.DataFrame({"open": c.shift(1).fillna(c), "high": c, "low": c, "close": c})
        f[["high", "low"]] = np.c_[np.maximum(f["open"], c), np.minimum(f["open"], c)]
    f = f.loc[(f.index >= span[0]) & (f.index < span[1])]
    if not len(f):
        raise ValueError(f"candles: no bars between {span[0]} and {span[1]}, the span of the heatmap")
    k = max(1, int(np.ceil(len(f) / max(n, 1))))
    groups = np.arange(len(f)) // k
    g = f.groupby(groups)
    out = pd.DataFrame(
        {
            "open": g["open"].first().to_numpy(),
            "high": g["high"].max().to_numpy(),
            "low": g["low"].min().to_numpy(),
            "close": g["close"].last().to_numpy(),
        },
        index=pd.DatetimeIndex(f.index[::k]),
    )
    out.attrs["bars_per_candle"] = k
    return out


def _draw_price(ax: Axes, view: HeatmapView, hm: Heatmap, *, candles: bool | Market, width: int) -> None:
    width_t = _bar_width(hm)
    x = _to_num(view.time_edges)
    if candles is not False:
        ohlc = _candle_frame(hm, candles, max(1, width // 8), (view.time_edges[0], view.time_edges[-1]))
        k = int(ohlc.attrs["bars_per_candle"])
        t = _to_num(pd.DatetimeIndex(ohlc.index))
        step = float(_to_num(pd.DatetimeIndex([ohlc.index[0] + width_t * k]))[0] - t[0])
        mid = t + step / 2
        o, h, lo_, c = (ohlc[col].to_numpy(dtype=float) for col in ("open", "high", "low", "close"))
        colors = ["#e8e8e8" if up else "#7a7a8c" for up in c >= o]
        ax.vlines(mid, lo_, h, colors=colors, lw=0.8, zorder=3)
        body_lo, body_hi = np.minimum(o, c), np.maximum(o, c)
        ax.bar(mid, body_hi - body_lo, bottom=body_lo, width=step * 0.7, color=colors, lw=0, zorder=3)
    else:
        close_times = pd.DatetimeIndex(hm.price.index) + width_t
        xs = _to_num(close_times)
        keep = (xs >= x[0]) & (xs <= x[-1] + 1e-9)
        if keep.any():
            ax.plot(xs[keep], hm.price.to_numpy(dtype=float)[keep], zorder=3, **_PRICE_STYLE)
    last = float(hm.price.iloc[-1])
    lo, hi = ax.get_ylim()
    if lo <= last <= hi:
        ax.axhline(last, color="white", lw=0.8, ls=(0, (4, 3)), alpha=0.9, zorder=3)
        ax.annotate(  # at the left edge: the right edge holds the cluster labels
            f"price {_fmt_price(last)}",
            (0.0, last),
            xycoords=("axes fraction", "data"),
            xytext=(4, 3),
            textcoords="offset points",
            va="bottom",
            ha="left",
            fontsize=8,
            color="white",
            path_effects=_HALO,
            zorder=4,
            **PLAIN,
        )


def _clusters_of(snapshot: Snapshot, *, top: int, within: float | None) -> pd.DataFrame | None:
    """Top clusters, or None when the grid is not log-spaced (cluster smoothing needs a log grid)."""
    from heatmap.clusters import find_clusters
    from heatmap.density import log_step

    try:
        log_step(snapshot.price_edges)
    except ValueError:
        return None
    return find_clusters(snapshot, top=top, within=within)


def _mark_clusters(ax: Axes, snapshot: Snapshot, x_right: float, *, top: int) -> None:
    lo, hi = ax.get_ylim()
    within = max(hi / snapshot.price - 1.0, 1.0 - lo / snapshot.price)
    found = _clusters_of(snapshot, top=top, within=min(within, 0.99))
    if found is None or not len(found):
        return
    for row in found.to_dict("records"):
        p = float(row["price"])
        if not lo <= p <= hi:
            continue
        color = SIDE_COLORS[str(row["side"])]
        ax.plot([x_right], [p], marker="<", color=color, mec="black", mew=0.6, ms=7, clip_on=False, zorder=5)
        ax.annotate(
            f"{_fmt_price(p)}  {format_notional(float(row['notional']))}",
            (x_right, p),
            xytext=(-10, 0),
            textcoords="offset points",
            ha="right",
            va="center",
            fontsize=8,
            color="white",
            path_effects=_HALO,
            zorder=5,
            **PLAIN,
        )


# ------------------------------------------------------------------------------------------- liquidation map
def _side_ramp(side: str, n: int) -> list[tuple[float, float, float]]:
    """``n`` shades of a side's colour, light (low leverage) to dark (high leverage)."""
    rgb = np.array(mcolors.to_rgb(SIDE_COLORS[side]))
    out = []
    for f in np.linspace(-0.55, 0.45, n) if n > 1 else [0.0]:
        c = rgb + (1.0 - rgb) * (-f) if f < 0 else rgb * (1.0 - f)
        out.append(tuple(float(v) for v in np.clip(c, 0.0, 1.0)))
    return out  # type: ignore[return-value]


def plot_map(
    snapshot: Snapshot,
    ax: Axes | None = None,
    *,
    cumulative: bool = True,
    top: int = 5,
    within: float | None = None,
    layers: LeverageLayers | None = None,
) -> Axes:
    """The one-time "liquidation map": notional per price band, long below price and short above.

    Price is on the vertical axis (as in the heatmap) and notional on the horizontal one. Bars show the
    *reachable* notional per band (:func:`heatmap.clusters.reachable`: longs below the price, shorts above; mass
    already crossed is not drawn), long in blue and short in orange. With ``layers`` (from
    :func:`heatmap.layers.leverage_layers`) the bars are stacked by leverage bucket, lightest = lowest leverage.
    Cumulative curves (notional liquidated if price moves to each level, from
    :func:`heatmap.clusters.cumulative`) go on a secondary horizontal axis at the top, scaled to stay inside the
    frame. The current price is a dashed line with its label; the ``top`` largest clusters are labelled with their
    price and notional (clusters need a log-spaced grid, as every :class:`~heatmap.grid.PriceGrid` is).

    Parameters
    ----------
    snapshot : Snapshot
    ax : Axes, optional
        Target axes; a new pyplot-free figure when omitted.
    cumulative : bool, default True
        Draw the cumulative curves on a twin axis.
    top : int, default 5
        Clusters to annotate (0: none).
    within : float, optional
        Show only prices within this fraction of the current price (0.1 = ±10 %) and annotate clusters there;
        default: the range holding 99 % of the reachable mass (at least ±2 %).
    layers : LeverageLayers, optional
        The snapshot split by leverage bucket; stacks the bars by bucket.

    Returns
    -------
    Axes
        The bars' axes: ``ax.patches`` holds the bars as filled :class:`~matplotlib.patches.StepPatch` (one per
        side, or one per side and bucket with ``layers``, labelled ``"long <=10x"`` ...; each bucket's patch spans
        from the previous bucket's top). The cumulative curves, when drawn, are on a twin axes sharing the price
        axis (the last of ``ax.figure.axes``).

    Examples
    --------
    >>> ax = plot_map(hm.at(-1), within=0.15)  # doctest: +SKIP
    >>> ax.figure.savefig("map.png")  # doctest: +SKIP
    """
    from heatmap.clusters import cumulative as cumulative_map

    if not isinstance(top, (int, np.integer)) or top < 0:
        raise ValueError(f"top must be a non-negative integer, got {top!r}")
    if within is not None and (not np.isfinite(within) or not 0 < within < 1):
        raise ValueError(f"within must be a fraction of price in (0, 1), got {within!r}")
    edges = np.asarray(snapshot.price_edges, dtype=float)
    if layers is not None and (
        layers.price_edges.shape != edges.shape or not np.allclose(layers.price_edges, edges)
    ):
        raise ValueError("layers: their price grid differs from the snapshot's; split this snapshot")
    if ax is None:
        _, ax = new_figure((8.0, 7.0))
    table = cumulative_map(snapshot)
    p = float(snapshot.price)
    long = table["long"].to_numpy(dtype=float)
    short = table["short"].to_numpy(dtype=float)

    for s, vals in (("long", long), ("short", short)):
        if layers is None:
            ax.stairs(vals, edges, orientation="horizontal", fill=True, color=SIDE_COLORS[s], alpha=0.9,
                      label=f"{s} (reachable)")  # fmt: skip
            continue
        split = np.asarray(getattr(layers, s), dtype=float)
        total = split.sum(axis=0)
        # the reachable part of each band, shared by the buckets as the band's whole mass is
        ratio = np.divide(vals, total, out=np.zeros_like(vals), where=total > 0)
        stacked = np.cumsum(split * ratio[None, :], axis=0)
        base = np.zeros_like(vals)
        for label, color, top_b in zip(
            layers.labels, _side_ramp(s, len(layers.labels)), stacked, strict=True
        ):
            ax.stairs(top_b, edges, baseline=base, orientation="horizontal", fill=True, color=color,
                      label=f"{s} {label}")  # fmt: skip
            base = top_b
    ax.axhline(p, color="black", ls="--", lw=1.0)
    ax.annotate(
        f"price {_fmt_price(p)}",
        (1.0, p),
        xycoords=("axes fraction", "data"),
        xytext=(-4, 3),
        textcoords="offset points",
        ha="right",
        va="bottom",
        fontsize=8,
        path_effects=[patheffects.withStroke(linewidth=2.5, foreground="white")],
        **PLAIN,
    )

    if within is not None:
        y0, y1 = p * (1 - within), p * (1 + within)
    else:
        mass = long + short
        y0, y1 = p * 0.98, p * 1.02
        if mass.sum() > 0:
            cum = np.cumsum(mass) / mass.sum()
            i0 = int(np.searchsorted(cum, 0.005))
            i1 = int(np.searchsorted(cum, 0.995))
            y0, y1 = min(y0, edges[i0]), max(y1, edges[min(i1 + 1, edges.size - 1)])
    y0, y1 = max(y0, edges[0]), min(y1, edges[-1])
    ax.set_ylim(y0, y1)
    inside = (edges[1:] > y0) & (edges[:-1] < y1)
    peak = float(max(long[inside].max(initial=0.0), short[inside].max(initial=0.0)))
    ax.set_xlim(0.0, peak * (1.35 if top > 0 else 1.1) if peak > 0 else 1.0)  # room for labels
    format_price_axis(ax)
    ax.set_xlabel(NOTIONAL_LABEL, **PLAIN)
    ax.xaxis.set_major_locator(mticker.MaxNLocator(nbins=4))
    _notional_axis(ax.xaxis)
    symbol = snapshot.meta.get("symbol")
    head = f"{symbol} · " if symbol else ""
    by = " · by leverage" if layers is not None else ""
    ax.set_title(f"{head}liquidation map at {snapshot.time:%Y-%m-%d %H:%M} UTC{by}", loc="left", fontsize=10,
                 **PLAIN)  # fmt: skip

    handles, labels = ax.get_legend_handles_labels()
    if cumulative:
        twin = ax.twiny()
        cl = table["cum_long"].to_numpy(dtype=float)
        cs = table["cum_short"].to_numpy(dtype=float)
        below = edges[:-1] < p
        above = edges[1:] > p
        # cum_long is the notional liquidated if price falls to price_low; cum_short if it rises to price_high
        kw: dict[str, Any] = {
            "lw": 1.6,
            "path_effects": [patheffects.withStroke(linewidth=3, foreground="white")],
        }
        curves = {
            "long": (np.append(cl[below], 0.0), np.append(edges[:-1][below], p)),
            "short": (np.insert(cs[above], 0, 0.0), np.insert(edges[1:][above], 0, p)),
        }
        for s, (xs, ys) in curves.items():
            twin.plot(xs, ys, color=SIDE_COLORS[s], ls="-" if s == "long" else (0, (5, 1.5)),
                      label=f"cumulative {s}", **kw)  # fmt: skip
        # the limit covers both curves over the whole visible price range, up to where they cross its edges
        top_c = max(_visible_reach(xs, ys, y0, y1) for xs, ys in curves.values())
        twin.set_xlim(0.0, top_c * 1.1 if top_c > 0 else 1.0)
        twin.set_ylim(y0, y1)
        twin.set_xlabel("cumulative liquidation notional [USD]", **PLAIN)
        twin.xaxis.set_major_locator(mticker.MaxNLocator(nbins=4))
        _notional_axis(twin.xaxis)
        h2, l2 = twin.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
        legend_ax = twin
    else:
        legend_ax = ax

    if top > 0:
        found = _clusters_of(snapshot, top=int(top), within=within)
        if found is not None:
            for row in found.to_dict("records"):
                c = float(row["price"])
                if not y0 <= c <= y1:
                    continue
                vals = long if row["side"] == "long" else short
                j = int(np.clip(np.searchsorted(edges, c, side="right") - 1, 0, vals.size - 1))
                ax.annotate(
                    f"{_fmt_price(c)}  {format_notional(float(row['notional']))}",
                    (float(vals[j]), c),
                    xytext=(6, 0),
                    textcoords="offset points",
                    va="center",
                    fontsize=8,
                    color=SIDE_COLORS[str(row["side"])],
                    path_effects=[patheffects.withStroke(linewidth=2.5, foreground="white")],
                    **PLAIN,
                )
    # outside the frame, on the right: inside it would cover the bars, the curves or the labels near price
    legend = legend_ax.legend(
        handles,
        labels,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=7,
        frameon=False,
        borderaxespad=0.0,
    )
    for t in legend.get_texts():
        t.set_parse_math(False)
    return ax


def _visible_reach(xs: np.ndarray, ys: np.ndarray, y0: float, y1: float) -> float:
    """Largest ``x`` of the polyline ``(xs, ys)`` (``ys`` increasing) drawn between ``y0`` and ``y1``: its vertices
    inside and the points where it crosses ``y0`` and ``y1`` (0 when no part of it is inside).

    Examples
    --------
    >>> _visible_reach(np.array([10.0, 4.0, 0.0]), np.array([80.0, 95.0, 100.0]), 90.0, 110.0)
    6.0
    """
    if ys.size == 0 or ys[-1] < y0 or ys[0] > y1:
        return 0.0
    inside = xs[(ys >= y0) & (ys <= y1)]
    ends = [float(np.interp(y, ys, xs)) for y in (y0, y1) if ys[0] <= y <= ys[-1]]
    return float(max([*inside.tolist(), *ends], default=0.0))


# ------------------------------------------------------------------------------------------------ leverage
def plot_leverage(
    leverage: Leverage,
    ax: Axes | None = None,
    *,
    view: Literal["leverage", "margin"] = "leverage",
    label: str | None = None,
    color: str | None = None,
) -> Axes:
    """Distribution of leverage: pdf (or pmf atoms) on ``ax`` and the cdf on a twin axis.

    Parameters
    ----------
    leverage : Leverage
    ax : Axes, optional
    view : {"leverage", "margin"}, default "leverage"
        ``"leverage"``: ``L`` on a log axis; ``"margin"``: margin fraction ``u = 1/L`` [fraction] with
        density ``f_L(1/u) / u²`` and cdf ``P(1/L <= u)``.
    label : str, optional
        Legend label (default: the distribution's description).
    color : str, optional

    Returns
    -------
    Axes
        The density axes (the cdf twin shares its x axis).

    Examples
    --------
    >>> from heatmap.leverage import Leverage
    >>> ax = plot_leverage(Leverage.tiers({10: 0.5, 100: 0.5}))
    >>> ax.get_xlabel()
    'leverage L'
    """
    if view not in ("leverage", "margin"):
        raise ValueError(f"view must be 'leverage' or 'margin', got {view!r}")
    if ax is None:
        _, ax = new_figure((8.0, 4.5))
    color = color or SIDE_COLORS["long"]
    label = label or (leverage.name or leverage.family or leverage.kind)
    a, b = float(leverage.min_leverage), float(leverage.max_leverage)
    grid_l = np.geomspace(a, b, 600)
    atoms = np.asarray(leverage._atoms(), dtype=float)
    twin = ax.twinx()

    if view == "leverage":
        xs = grid_l
        cdf = leverage.cdf(xs)
        if not leverage.is_discrete:
            ax.plot(xs, leverage.pdf(xs), color=color, lw=1.8, label=f"{label}: pdf")
            ax.set_ylabel("density [1/leverage]")
        if atoms.size:
            pm = leverage.pmf(atoms)
            ax_atoms = ax if leverage.is_discrete else twin
            ax_atoms.vlines(atoms, 0, pm, color=color, lw=3, alpha=0.7, label=f"{label}: pmf")
            if leverage.is_discrete:
                ax.set_ylabel("probability")
        twin.step(xs, cdf, where="post", color=color, lw=1.2, ls="--", alpha=0.8, label=f"{label}: cdf")
        ax.set_xscale("log")
        ax.set_xlabel("leverage L")
        ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _p=None: f"{v:g}×"))
    else:
        us = np.sort(1.0 / grid_l)
        cdf = leverage.margin_fraction_cdf(us)
        if not leverage.is_discrete:
            ax.plot(us, leverage.pdf(1.0 / us) / us**2, color=color, lw=1.8, label=f"{label}: pdf")
            ax.set_ylabel("density [1/fraction]")
        if atoms.size:
            pm = leverage.pmf(atoms)
            ax_atoms = ax if leverage.is_discrete else twin
            ax_atoms.vlines(1.0 / atoms, 0, pm, color=color, lw=3, alpha=0.7, label=f"{label}: pmf")
            if leverage.is_discrete:
                ax.set_ylabel("probability")
        twin.step(us, cdf, where="post", color=color, lw=1.2, ls="--", alpha=0.8, label=f"{label}: cdf")
        ax.set_xscale("log")
        ax.set_xlabel("margin fraction u = 1/L")
        ax.xaxis.set_major_formatter(mticker.PercentFormatter(xmax=1.0, decimals=None))
    ax.set_ylim(bottom=0)
    twin.set_ylim(0, 1.02)
    twin.set_ylabel("cumulative probability")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = twin.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper right" if view == "leverage" else "upper left")
    plain_text(ax.figure)
    return ax


# ------------------------------------------------------------------------------------------------ rendering
def _draw(obj: Any, *, size: tuple[float, float], dpi: float, **plot_kwargs: Any) -> Figure:
    from heatmap.leverage import Leverage
    from heatmap.result import Heatmap, Snapshot

    if isinstance(obj, Figure):
        if plot_kwargs:
            raise ValueError(f"plot options {sorted(plot_kwargs)} cannot be applied to an existing Figure")
        return obj
    fig, ax = new_figure(size, dpi=dpi)
    if isinstance(obj, Heatmap):
        plot_heatmap(obj, ax=ax, **plot_kwargs)
    elif isinstance(obj, Snapshot):
        plot_map(obj, ax=ax, **plot_kwargs)
    elif isinstance(obj, Leverage):
        plot_leverage(obj, ax=ax, **plot_kwargs)
    elif callable(getattr(obj, "plot", None)):
        obj.plot(ax=ax, **plot_kwargs)
    else:
        raise TypeError(
            f"cannot render {type(obj).__name__}: expected a Heatmap, Snapshot, Leverage, matplotlib Figure "
            "or an object with a plot(ax=...) method"
        )
    return fig


def figure_format(path: str | Path) -> str:
    """Matplotlib's format name for the suffix of ``path`` (``.png``, ``.svg``, ``.pdf``, ``.jpg``/``.jpeg``).

    Raises
    ------
    ValueError
        For any other suffix (or none), naming the path and the allowed suffixes.

    Examples
    --------
    >>> figure_format("map.SVG"), figure_format("a/b.jpg")
    ('svg', 'jpeg')
    """
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        allowed = ", ".join(FORMATS)
        raise ValueError(
            f"cannot write {str(path)!r}: unknown figure type {suffix or '(no suffix)'!r}; allowed are {allowed}"
        )
    return FORMATS[suffix]


def _write(fig: Figure, path: str | Path, fmt: str, dpi: float) -> Path:
    """Save through matplotlib's own writer for ``fmt`` into a temporary file, then replace ``path``."""
    from heatmap.io.atomic import atomic_write, check_output_path

    out = check_output_path(path)
    plain_text(fig)
    # zlib level 1: a quarter of the encoding time of the default level for a ~20 % larger PNG
    extra: dict[str, Any] = {"pil_kwargs": {"compress_level": 1}} if fmt == "png" else {}
    with atomic_write(out, "wb") as fh:
        fig.savefig(fh, format=fmt, dpi=dpi, **extra)
    return out


def save_figure(
    obj: Any,
    path: str | Path,
    *,
    dpi: float = 150,
    size: tuple[float, float] = (12.0, 6.0),
    **plot_kwargs: Any,
) -> Path:
    """Draw ``obj`` and write it in the format of the suffix of ``path``: PNG, SVG, PDF or JPEG.

    Matplotlib's own writer of each format is used (vector SVG/PDF with the heatmap image embedded, not PNG
    bytes under another name). The file is written atomically: a failed save leaves an existing file intact.

    Parameters
    ----------
    obj : Heatmap, Snapshot, Leverage, Figure or any object with ``plot(ax=...)``
        Heatmaps are drawn by :func:`plot_heatmap`, snapshots by :func:`plot_map`, leverage laws by
        :func:`plot_leverage`; a Figure is saved as it is (its own size).
    path : str or Path
        Output file: ``.png``, ``.svg``, ``.pdf``, ``.jpg`` or ``.jpeg``; its folder must exist.
    dpi : float, default 150
        Resolution [pixel/inch] (of the whole figure for PNG/JPEG, of the embedded image for SVG/PDF).
    size : (width, height), default (12, 6)
        Figure size [inch].
    **plot_kwargs
        Passed to the plotting function.

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        For an unknown suffix (before anything is drawn).

    Examples
    --------
    >>> save_figure(hm, "heatmap.pdf", within=0.15)  # doctest: +SKIP
    PosixPath('heatmap.pdf')
    """
    return _render(obj, path, figure_format(path), dpi=dpi, size=size, **plot_kwargs)


def _render(obj: Any, path: str | Path, fmt: str, *, dpi: float, size: Any, **plot_kwargs: Any) -> Path:
    if not np.isfinite(dpi) or dpi <= 0:
        raise ValueError(f"dpi must be a positive number [pixel/inch], got {dpi!r}")
    fig = _draw(obj, size=_check_size(size), dpi=dpi, **plot_kwargs)
    return _write(fig, path, fmt, dpi)


def render_png(
    obj: Any,
    path: str | Path,
    *,
    dpi: float = 150,
    size: tuple[float, float] = (12.0, 6.0),
    **plot_kwargs: Any,
) -> Path:
    """Draw ``obj`` and write it as a PNG of ``size × dpi`` pixels (no pyplot; thread safe; atomic).

    ``path`` may have any name except another figure type's suffix (``.svg``, ``.pdf``, ``.jpg``): use
    :func:`save_figure` for those. Otherwise as :func:`save_figure`.

    Examples
    --------
    >>> render_png(hm, "heatmap.png", side="long", norm="asinh")  # doctest: +SKIP
    PosixPath('heatmap.png')
    """
    suffix = Path(path).suffix.lower()
    if suffix in FORMATS and FORMATS[suffix] != "png":
        raise ValueError(
            f"cannot write PNG bytes to {str(path)!r}: its suffix {suffix!r} names another format; "
            "use save(...) / save_figure(...), which writes the format of the suffix"
        )
    return _render(obj, path, "png", dpi=dpi, size=size, **plot_kwargs)


def png_bytes(
    obj: Any, *, dpi: float = 100, size: tuple[float, float] = (10.0, 5.0), **plot_kwargs: Any
) -> bytes:
    """The PNG of :func:`render_png` as bytes (used for Jupyter's ``_repr_png_``).

    Examples
    --------
    >>> from heatmap.leverage import Leverage
    >>> png_bytes(Leverage.tiers({10: 1.0}))[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
    """
    fig = plain_text(_draw(obj, size=_check_size(size), dpi=dpi, **plot_kwargs))
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------------- HTML
_LEFT = "style='text-align:left'"


def _rows_html(rows: Sequence[tuple[str, str]]) -> str:
    return "".join(
        f"<tr><th {_LEFT}>{html.escape(k)}</th><td {_LEFT}>{html.escape(v)}</td></tr>" for k, v in rows
    )


def _clusters_html(snapshot: Snapshot, top: int = 5) -> str:
    found = _clusters_of(snapshot, top=top, within=None)
    if found is None or not len(found):
        return ""
    head = "<tr><th>rank</th><th>side</th><th>price</th><th>distance</th><th>notional</th></tr>"
    body = "".join(
        f"<tr><td>{int(r['rank'])}</td><td>{html.escape(str(r['side']))}</td><td>{float(r['price']):,.2f}</td>"
        f"<td>{float(r['distance']):+.1%}</td><td>{format_notional(float(r['notional']))}</td></tr>"
        for r in found.to_dict("records")
    )
    return f"<table><caption style='text-align:left'>largest clusters</caption>{head}{body}</table>"


def summary_html(obj: Any) -> str:
    """Short HTML summary for Jupyter: times, bins, totals per side, current price and the top clusters.

    Examples
    --------
    >>> import pandas as pd
    >>> from heatmap.result import Snapshot
    >>> s = Snapshot(time=pd.Timestamp("2025-01-01", tz="UTC"), price_edges=np.array([90.0, 100.0, 111.0]),
    ...              long=np.array([5e6, 0.0]), short=np.array([0.0, 3e6]), price=100.0)
    >>> "$5.0M" in summary_html(s)
    True
    """
    from heatmap.result import Heatmap, Snapshot

    if isinstance(obj, Heatmap):
        T, P = obj.shape
        name = "Heatmap"
        rows: list[tuple[str, str]] = [
            ("snapshots", f"{T:,}" + (f"  ({obj.times[0]} → {obj.times[-1]})" if T else "")),
            ("price bins", f"{P:,}  ({obj.price_edges[0]:,.2f} – {obj.price_edges[-1]:,.2f})"),
        ]
        if obj.model is not None:
            leverage = getattr(obj.model, "leverage", None)
            rows.append(("leverage", str(leverage) if leverage is not None else str(obj.model)))
            split = getattr(obj.model, "side_split", None)
            if split is not None:
                rows.append(("side split", str(split)))
        if obj.meta.get("engine"):
            rows.append(("engine", str(obj.meta["engine"])))
        snap = obj.at(-1) if T else None
    elif isinstance(obj, Snapshot):
        name = "Snapshot"
        rows = [
            ("time", str(obj.time)),
            ("price bins", f"{obj.long.size:,}  ({obj.price_edges[0]:,.2f} – {obj.price_edges[-1]:,.2f})"),
        ]
        snap = obj
    else:
        return f"<pre>{html.escape(repr(obj))}</pre>"
    extra = ""
    if snap is not None:
        t = snap.total
        rows += [
            ("current price", f"{snap.price:,.2f}" + (f"  (at {snap.time})" if name == "Heatmap" else "")),
            ("long notional", format_notional(t["long"])),
            ("short notional", format_notional(t["short"])),
        ]
        extra = _clusters_html(snap)
    return f"<div><strong>{name}</strong><table>{_rows_html(rows)}</table>{extra}</div>"
