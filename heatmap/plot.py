"""Figures: the time × price heatmap, the one-time liquidation map, leverage laws, PNG rendering, Jupyter views.

Everything here builds :class:`matplotlib.figure.Figure` objects directly and renders them with the Agg canvas:
no ``pyplot``, no global figure registry, so the functions are safe in threads, web servers and tests. Plotting
never computes model quantities; it only draws what :mod:`heatmap.result` and :mod:`heatmap.clusters` hold.

Colour scheme
-------------
Long positions (liquidated when price falls, mass mostly **below** the price path) are drawn in blue, short
positions (liquidated when price rises, mass mostly **above**) in orange. Blue/orange is the pair that stays
distinguishable under the common colour-vision deficiencies. With ``side="both"`` each side is a single-hue
colormap whose lightness *and* opacity grow with the notional ("Blues" and "Oranges", both monotone in
lightness), drawn as two transparent layers, so where both sides overlap the colours mix instead of one side
hiding or cancelling the other (a signed diverging scheme would cancel them). One side alone uses ``viridis``
(perceptually uniform, colour-blind safe). Both sides always share one colour scale, so equal colour intensity
means equal notional.

Examples
--------
>>> import heatmap as lh
>>> hm = lh.estimate(lh.synthetic_market(days=10, freq="1h", seed=7), bins=300)  # doctest: +SKIP
>>> lh.render_png(hm, "heatmap.png")  # doctest: +SKIP
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
from matplotlib.collections import QuadMesh
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from heatmap.leverage import Leverage
    from heatmap.result import Heatmap, Snapshot

__all__ = [
    "SIDE_COLORS",
    "NOTIONAL_LABEL",
    "new_figure",
    "format_price_axis",
    "format_notional",
    "color_limits",
    "time_edges",
    "plot_heatmap",
    "plot_map",
    "plot_leverage",
    "render_png",
    "png_bytes",
    "summary_html",
]

#: Colours of the two position sides (colour-blind-safe blue/orange pair).
SIDE_COLORS: dict[str, str] = {"long": "#2166ac", "short": "#e66101"}
#: Colour-bar label of heatmap cells.
NOTIONAL_LABEL = "liquidation notional per band [USD]"

_SIDE_CMAPS = {"long": "Blues", "short": "Oranges"}
_PRICE_STYLE: dict[str, Any] = {
    "color": "black",
    "lw": 1.0,
    "path_effects": [patheffects.withStroke(linewidth=2.4, foreground="white")],
}

Norm = Literal["log", "linear", "power"]


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
        target.set_major_locator(mticker.LogLocator(base=10.0, subs=(1.0, 2.0, 3.0, 5.0, 7.0), numticks=12))
    target.set_major_formatter(mticker.FuncFormatter(fmt))
    target.set_minor_formatter(mticker.NullFormatter())
    if label is not None:
        target.set_label_text(label)
    return ax


def _notional_axis(target: Any) -> None:
    target.set_major_formatter(mticker.FuncFormatter(lambda v, _p=None: format_notional(v)))


def color_limits(values: np.ndarray, *, robust: bool = True, norm: Norm = "log") -> tuple[float, float]:
    """Colour limits from the positive cells: 2nd–98th percentile when ``robust``, else min–max [quote].

    All-zero input gives ``(1, 10)`` for ``norm="log"`` and ``(0, 1)`` otherwise; equal limits are widened so a
    norm can always be built.

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


def _make_norm(norm: str, vmin: float, vmax: float) -> mcolors.Normalize:
    if norm == "log":
        return mcolors.LogNorm(vmin=vmin, vmax=vmax, clip=True)
    if norm == "linear":
        return mcolors.Normalize(vmin=vmin, vmax=vmax, clip=True)
    if norm == "power":
        return mcolors.PowerNorm(gamma=0.5, vmin=vmin, vmax=vmax, clip=True)
    raise ValueError(f"norm must be 'log', 'linear' or 'power', got {norm!r}")


def _layer_cmap(base: str | mcolors.Colormap) -> mcolors.Colormap:
    """Single-hue colormap whose opacity grows with the value (light end transparent), for composited layers."""
    source = mpl.colormaps[base] if isinstance(base, str) else base
    rgba = source(np.linspace(0.3, 1.0, 256))
    rgba[:, 3] = np.linspace(0.35, 1.0, 256)
    cmap = mcolors.ListedColormap(rgba, name=f"{source.name}_layer")
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
    positions ending with the last one) draws only those snapshots, each up to the next one drawn.
    """
    times = pd.DatetimeIndex(hm.times)
    if len(times) == 0:
        raise ValueError("the heatmap has no snapshots to draw")
    if columns is not None:
        times = times[np.asarray(columns, dtype=int)]
    edges = times.append(pd.DatetimeIndex([times[-1] + _bar_width(hm)]))
    return _to_num(edges)


def _columns(n: int, max_columns: int | None) -> np.ndarray | None:
    """Every k-th snapshot position (and the last) when there are more than ``max_columns``; else None."""
    if max_columns is None or n <= max_columns:
        return None
    k = -(-n // max_columns)
    return np.unique(np.r_[np.arange(0, n, k), n - 1])


def _auto_ylim(hm: Heatmap, mass: np.ndarray, t0: pd.Timestamp, t1: pd.Timestamp) -> tuple[float, float]:
    """Price range of the central 80 % of the drawn mass, widened to the price path ± 3 %, inside the grid."""
    edges = hm.price_edges
    lo, hi = float(edges[0]), float(edges[-1])
    per_bin = mass.sum(axis=0)
    total = per_bin.sum()
    ranges = []
    if total > 0:
        cum = np.cumsum(per_bin) / total
        i0 = int(np.searchsorted(cum, 0.10))
        i1 = int(np.searchsorted(cum, 0.90))
        ranges.append((edges[i0], edges[min(i1 + 1, edges.size - 1)]))
    path = hm.price.loc[(hm.price.index >= t0) & (hm.price.index <= t1)] if len(hm.price) else hm.price
    if len(path):
        ranges.append((float(path.min()) * 0.97, float(path.max()) * 1.03))
    if not ranges:
        return lo, hi
    a = min(r[0] for r in ranges)
    b = max(r[1] for r in ranges)
    return max(lo, a), min(hi, b)


# ------------------------------------------------------------------------------------------------ heatmap
def plot_heatmap(
    hm: Heatmap,
    ax: Axes | None = None,
    *,
    side: Literal["both", "long", "short"] = "both",
    norm: Norm = "log",
    robust: bool = True,
    cmap: str | mcolors.Colormap | tuple[str | mcolors.Colormap, str | mcolors.Colormap] | None = None,
    price: bool = True,
    clusters: bool = False,
    colorbar: bool = True,
    yscale: Literal["linear", "log"] = "linear",
    ylim: tuple[float, float] | Literal["auto", "grid"] = "auto",
    vmin: float | None = None,
    vmax: float | None = None,
    max_columns: int | None = 2000,
) -> QuadMesh:
    """Time × price heatmap of liquidation notional, with the price path on top.

    Cells are drawn with :meth:`~matplotlib.axes.Axes.pcolormesh` on time edges (the snapshot times plus one bar
    width, as matplotlib dates) and the price-band edges. Empty cells are transparent (masked).

    Parameters
    ----------
    hm : Heatmap
    ax : Axes, optional
        Target axes; a new pyplot-free figure when omitted (``ax.figure`` holds it).
    side : {"both", "long", "short"}, default "both"
        ``"both"`` composites long (blue) and short (orange) layers on one shared colour scale; see the module
        notes. One side alone uses ``cmap`` (default ``"viridis"``).
    norm : {"log", "linear", "power"}, default "log"
        Colour scale: :class:`~matplotlib.colors.LogNorm`, linear, or :class:`~matplotlib.colors.PowerNorm`
        with ``gamma=0.5``.
    robust : bool, default True
        Colour limits from the 2nd–98th percentile of the non-zero cells (as seaborn's ``robust``) instead of
        their min–max. Values outside are clipped to the end colours.
    cmap : str, Colormap or (long, short) pair, optional
        Colormap of a single side (default ``"viridis"``); with ``side="both"`` a pair of light-to-dark
        single-hue colormaps for the long and short layers (default ``("Blues", "Oranges")``).
    price : bool, default True
        Overlay the close price path (black with a white halo), plotted at each bar's close time.
    clusters : bool, default False
        Mark the five largest clusters of the last snapshot (:func:`heatmap.clusters.find_clusters`; log-spaced
        grids only) at the right edge with their price and notional.
    colorbar : bool, default True
        Add colour bar(s) labelled ``"liquidation notional per band [USD]"`` (one per side with ``"both"``).
    yscale : {"linear", "log"}, default "linear"
    ylim : (low, high), "auto" or "grid", default "auto"
        Price limits [quote]. ``"auto"``: the range holding the central 80 % of the drawn mass (summed over
        time), widened to the price path ± 3 %; ``"grid"``: the whole price grid.
    vmin, vmax : float, optional
        Explicit colour limits [quote]; override ``robust``.
    max_columns : int or None, default 2000
        With more snapshots than this, draw every ``k``-th one and the last (``k = ceil(T / max_columns)``),
        each spanning up to the next one drawn — as if estimated with ``snapshot_every=k``; a figure has fewer
        pixel columns than that anyway. ``None`` draws every snapshot.

    Returns
    -------
    QuadMesh
        The mesh of ``side``; with ``side="both"`` the long mesh (the short one is the next entry of
        ``ax.collections``; both carry their side as ``get_label()``). ``mesh.get_array()`` holds the cell values
        [quote] with zeros masked, ``mesh.norm`` the colour scale.

    Examples
    --------
    >>> mesh = plot_heatmap(hm, side="long", norm="log")  # doctest: +SKIP
    >>> mesh.axes.figure.savefig("long.png")  # doctest: +SKIP
    """
    if side not in ("both", "long", "short"):
        raise ValueError(f"side must be 'both', 'long' or 'short', got {side!r}")
    if yscale not in ("linear", "log"):
        raise ValueError(f"yscale must be 'linear' or 'log', got {yscale!r}")
    _make_norm(norm, 1.0, 10.0)  # validates the name
    if ax is None:
        _, ax = new_figure()
    sides: list[Literal["long", "short"]] = ["long", "short"] if side == "both" else [side]
    if max_columns is not None and (not isinstance(max_columns, (int, np.integer)) or max_columns < 1):
        raise ValueError(f"max_columns must be a positive integer or None, got {max_columns!r}")
    cols = _columns(len(hm.times), max_columns)
    arrays = {
        s: np.asarray(getattr(hm, s) if cols is None else getattr(hm, s)[cols], dtype=float) for s in sides
    }
    for s, a in arrays.items():
        if np.any(a < 0) or not np.all(np.isfinite(a)):
            raise ValueError(f"{s} notional must be finite and non-negative to be drawn")
    stacked = np.concatenate([a.ravel() for a in arrays.values()])
    lo, hi = color_limits(stacked, robust=robust, norm=norm)
    lo = lo if vmin is None else float(vmin)
    hi = hi if vmax is None else float(vmax)
    if hi <= lo:
        raise ValueError(f"vmax ({hi}) must be greater than vmin ({lo})")
    if norm == "log" and lo <= 0:
        raise ValueError(f"vmin must be positive with norm='log', got {lo}")

    pair: tuple[str | mcolors.Colormap, str | mcolors.Colormap] = (_SIDE_CMAPS["long"], _SIDE_CMAPS["short"])
    single: str | mcolors.Colormap = "viridis"
    if side == "both":
        if cmap is not None:
            if not isinstance(cmap, (tuple, list)) or len(cmap) != 2:
                raise ValueError(
                    f"cmap with side='both' must be a (long, short) pair of colormaps, got {cmap!r}"
                )
            pair = (cmap[0], cmap[1])
    else:
        if isinstance(cmap, (tuple, list)):
            raise ValueError(f"cmap with side={side!r} must be one colormap, got {cmap!r}")
        if cmap is not None:
            single = cmap
    x = time_edges(hm, cols)
    y = np.asarray(hm.price_edges, dtype=float)
    meshes: list[QuadMesh] = []
    for s in sides:
        values = np.ma.masked_less_equal(arrays[s], 0.0)
        if side == "both":
            cm: str | mcolors.Colormap = _layer_cmap(pair[0] if s == "long" else pair[1])
        else:
            cm = single
        mesh = ax.pcolormesh(
            x, y, values.T, cmap=cm, norm=_make_norm(norm, lo, hi), shading="flat", rasterized=True, label=s
        )
        meshes.append(mesh)

    ax.set_xlim(x[0], x[-1])
    ax.xaxis_date(tz="UTC")
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel("time (UTC)")
    t0 = pd.Timestamp(mdates.num2date(x[0]))
    t1 = pd.Timestamp(mdates.num2date(x[-1]))

    if price and len(hm.price):
        width = _bar_width(hm)
        close_times = pd.DatetimeIndex(hm.price.index) + width
        path = hm.price.loc[(close_times >= t0) & (close_times <= t1)]
        if len(path):
            ax.plot(_to_num(pd.DatetimeIndex(path.index) + width), path.to_numpy(dtype=float), **_PRICE_STYLE)

    ax.set_yscale(yscale)
    if isinstance(ylim, str):
        if ylim == "grid":
            ax.set_ylim(float(y[0]), float(y[-1]))
        elif ylim == "auto":
            mass = np.sum([arrays[s] for s in sides], axis=0)
            ax.set_ylim(*_auto_ylim(hm, mass, t0, t1))
        else:
            raise ValueError(f"ylim must be (low, high), 'auto' or 'grid', got {ylim!r}")
    else:
        y_lo, y_hi = (float(v) for v in ylim)
        if not 0 < y_lo < y_hi:
            raise ValueError(f"ylim must be 0 < low < high [quote], got {ylim!r}")
        ax.set_ylim(y_lo, y_hi)
    format_price_axis(ax)
    both_label = "long (blue) and short (orange)" if cmap is None else "long and short"
    label = {"both": f"{both_label} liquidations", "long": "long liquidations"}.get(
        side, "short liquidations"
    )
    ax.set_title(f"{hm.meta.get('symbol', '') + ' ' if hm.meta.get('symbol') else ''}{label}", loc="left")

    if clusters and len(hm):
        _mark_clusters(ax, hm.at(-1), x[-1], top=5)

    if colorbar:
        fig = ax.figure
        for mesh, s in zip(meshes, sides, strict=True):
            cb = fig.colorbar(mesh, ax=ax, pad=0.01, fraction=0.04 if side == "both" else 0.05)
            cb.set_label(f"{s}: {NOTIONAL_LABEL}" if side == "both" else NOTIONAL_LABEL)
            if norm != "log":
                cb.ax.yaxis.set_major_locator(mticker.MaxNLocator(nbins=5))
                _notional_axis(cb.ax.yaxis)
    return meshes[0]


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
    found = _clusters_of(snapshot, top=top, within=None)
    if found is None or not len(found):
        return
    lo, hi = ax.get_ylim()
    for row in found.to_dict("records"):
        p = float(row["price"])
        if not lo <= p <= hi:
            continue
        ax.plot([x_right], [p], marker="<", color=SIDE_COLORS[str(row["side"])], ms=7, clip_on=False)
        ax.annotate(
            f"{_fmt_price(p)}  {format_notional(float(row['notional']))}",
            (x_right, p),
            xytext=(-10, 0),
            textcoords="offset points",
            ha="right",
            va="center",
            fontsize=8,
            color="black",
            path_effects=[patheffects.withStroke(linewidth=2.5, foreground="white")],
        )


# ------------------------------------------------------------------------------------------- liquidation map
def plot_map(
    snapshot: Snapshot,
    ax: Axes | None = None,
    *,
    cumulative: bool = True,
    top: int = 5,
    within: float | None = None,
) -> Axes:
    """The one-time "liquidation map": notional per price band, long below price and short above.

    Price is on the vertical axis (as in the heatmap) and notional on the horizontal one. Bars show the
    *reachable* notional per band (:func:`heatmap.clusters.reachable`: longs below the price, shorts above; mass
    already crossed is not drawn). Cumulative curves (notional liquidated if price moves to each level, from
    :func:`heatmap.clusters.cumulative`) go on a twin horizontal axis at the top. The current price is a dashed
    line; the ``top`` largest clusters are annotated with their price and notional (clusters need a log-spaced
    grid, as every :class:`~heatmap.grid.PriceGrid` is; other grids are drawn without annotations).

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

    Returns
    -------
    Axes
        The bars' axes: ``ax.patches`` holds the long and short bars (two filled
        :class:`~matplotlib.patches.StepPatch`, labels ``"long ..."`` / ``"short ..."``). The cumulative curves,
        when drawn, are on a twin axes sharing the price axis (the last of ``ax.figure.axes``).

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
    if ax is None:
        _, ax = new_figure((8.0, 7.0))
    table = cumulative_map(snapshot)
    edges = np.asarray(snapshot.price_edges, dtype=float)
    p = float(snapshot.price)
    long = table["long"].to_numpy(dtype=float)
    short = table["short"].to_numpy(dtype=float)

    for s, vals in (("long", long), ("short", short)):
        ax.stairs(
            vals,
            edges,
            orientation="horizontal",
            fill=True,
            color=SIDE_COLORS[s],
            alpha=0.85,
            label=f"{s} liquidations (reachable)",
        )
    ax.axhline(p, color="black", ls="--", lw=1.0, label=f"price {p:,.2f}")

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
    ax.set_xlabel(NOTIONAL_LABEL)
    ax.xaxis.set_major_locator(mticker.MaxNLocator(nbins=4))
    _notional_axis(ax.xaxis)
    ax.set_title(f"liquidation map at {snapshot.time:%Y-%m-%d %H:%M} UTC", loc="left")

    if cumulative:
        twin = ax.twiny()
        cl = table["cum_long"].to_numpy(dtype=float)
        cs = table["cum_short"].to_numpy(dtype=float)
        below = edges[:-1] < p
        above = edges[1:] > p
        # cum_long is the notional liquidated if price falls to price_low; cum_short if it rises to price_high
        twin.plot(
            np.append(cl[below], 0.0),
            np.append(edges[:-1][below], p),
            color=SIDE_COLORS["long"],
            lw=1.6,
            label="cumulative long",
        )
        twin.plot(
            np.insert(cs[above], 0, 0.0),
            np.insert(edges[1:][above], 0, p),
            color=SIDE_COLORS["short"],
            lw=1.6,
            label="cumulative short",
        )
        reach_l = float(cl[below & (edges[:-1] >= y0)].max(initial=0.0))
        reach_s = float(cs[above & (edges[1:] <= y1)].max(initial=0.0))
        top_c = max(reach_l, reach_s)
        twin.set_xlim(0.0, top_c * 1.05 if top_c > 0 else 1.0)
        twin.set_ylim(y0, y1)
        twin.set_xlabel("cumulative liquidation notional [USD]")
        twin.xaxis.set_major_locator(mticker.MaxNLocator(nbins=4))
        _notional_axis(twin.xaxis)

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
                )
    ax.legend(loc="lower right", fontsize=8)
    return ax


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
    return ax


# ------------------------------------------------------------------------------------------------ rendering
def _draw(obj: Any, *, size: tuple[float, float], dpi: float, **plot_kwargs: Any) -> Figure:
    from heatmap.leverage import Leverage
    from heatmap.result import Heatmap, Snapshot

    if isinstance(obj, Figure):
        if plot_kwargs:
            raise ValueError(f"plot options {sorted(plot_kwargs)} cannot be applied to an existing Figure")
        if obj.canvas is None or not isinstance(obj.canvas, FigureCanvasAgg):
            FigureCanvasAgg(obj)
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


def render_png(
    obj: Any,
    path: str | Path,
    *,
    dpi: float = 150,
    size: tuple[float, float] = (12.0, 6.0),
    **plot_kwargs: Any,
) -> Path:
    """Draw ``obj`` and write it as a PNG of ``size × dpi`` pixels (Agg canvas; no pyplot; thread safe).

    Parameters
    ----------
    obj : Heatmap, Snapshot, Leverage, Figure or any object with ``plot(ax=...)``
        Heatmaps are drawn by :func:`plot_heatmap`, snapshots by :func:`plot_map`, leverage laws by
        :func:`plot_leverage`; a Figure is saved as it is (its own size).
    path : str or Path
        Output file; its folder must exist.
    dpi : float, default 150
        Resolution [pixel/inch].
    size : (width, height), default (12, 6)
        Figure size [inch].
    **plot_kwargs
        Passed to the plotting function.

    Returns
    -------
    Path

    Examples
    --------
    >>> render_png(hm, "heatmap.png", side="long", norm="power")  # doctest: +SKIP
    PosixPath('heatmap.png')
    """
    out = Path(path)
    if not out.parent.exists():
        raise FileNotFoundError(f"folder {str(out.parent)!r} of the output path does not exist")
    if not np.isfinite(dpi) or dpi <= 0:
        raise ValueError(f"dpi must be a positive number [pixel/inch], got {dpi!r}")
    fig = _draw(obj, size=_check_size(size), dpi=dpi, **plot_kwargs)
    fig.savefig(out, format="png", dpi=dpi)
    return out


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
    fig = _draw(obj, size=_check_size(size), dpi=dpi, **plot_kwargs)
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
