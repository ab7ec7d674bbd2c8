"""What a heatmap figure shows: the price window, the visible cells, robust colour limits and the pixel raster.

The numbers behind :func:`heatmap.plot.plot_heatmap`, kept apart from the drawing so they can be computed and
tested without a figure (as seaborn keeps its statistics apart from its artists).

* **Window.** Around the price path, as far as the leverage law puts fresh liquidations: a position of leverage
  ``L`` is liquidated about ``1/L`` from its entry, so the distance holding the liquidation levels of a share
  ``coverage`` of new positions is ``1 / L_q`` with ``L_q`` the ``1 − coverage`` quantile of the model's leverage
  law. The distance is kept within ``[0.10, 0.30]`` (±10–30 % of price); without a model it is 0.20.
* **Colour limits.** From the visible cells only (snapshots drawn × bands inside the window): the top is the
  99th percentile of the positive visible cells, so about 1 % of them sit at the top of the scale, and the
  bottom (the *floor*) is their 40th percentile, so the weaker 40 % are drawn in the background colour. The
  model spreads every position's level over the leverage law, so most of a long window is a smooth plateau of
  low-leverage mass; colouring it from zero draws a bright wall in which the bands near price (the levels that
  persist until price crosses them) do not stand out. Above the floor the scale is linear.
* **Raster.** The regular log-price grid is sampled at the centre of every output pixel (nearest cell in time
  and price), which is exactly what a cell-by-cell mesh would show at that resolution, at the cost of one
  gather.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from heatmap.result import Heatmap
>>> t = pd.date_range("2025-01-01", periods=3, freq="1h", tz="UTC")
>>> edges = np.geomspace(50.0, 200.0, 101)
>>> hm = Heatmap(times=t, price_edges=edges, long=np.ones((3, 100)), short=np.zeros((3, 100)),
...              price=pd.Series([100.0, 101.0, 99.0], index=t))
>>> v = heatmap_view(hm, within=0.1)
>>> [round(x, 1) for x in v.ylim]
[89.1, 111.1]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from heatmap.model import Model
    from heatmap.result import Heatmap

__all__ = ["HeatmapView", "heatmap_view", "window_distance", "robust_limits", "SideView", "FLOOR_PERCENTILE"]

SideView = Literal["total", "long", "short", "both"]
#: Share of fresh positions whose liquidation levels the default window holds.
COVERAGE = 0.8
#: Bounds of the default half-width of the window [fraction of price].
WINDOW_BOUNDS = (0.10, 0.30)
#: Percentile of the positive visible cells used as the top of the colour scale.
TOP_PERCENTILE = 99.0
#: Percentile of the positive visible cells used as the bottom of the colour scale (weaker cells: background).
FLOOR_PERCENTILE = 40.0


def window_distance(model: Model | None, *, coverage: float = COVERAGE) -> float:
    """Half-width of the default price window [fraction of price] from the model's leverage law.

    ``1 / L_q − m`` with ``L_q`` the ``1 − coverage`` quantile of ``model.leverage`` and ``m`` the model's
    maintenance margin rate when it has one (0.004 otherwise), kept within :data:`WINDOW_BOUNDS`; 0.20 without
    a model.

    Examples
    --------
    >>> import heatmap as lh
    >>> round(window_distance(lh.Model()), 3)
    0.173
    >>> window_distance(None)
    0.2
    """
    if not 0 < coverage < 1:
        raise ValueError(f"coverage must be in (0, 1), got {coverage!r}")
    law = getattr(model, "leverage", None)
    if law is None:
        return 0.20
    mmr = getattr(model, "mmr", None)
    m = float(mmr) if isinstance(mmr, (int, float)) and 0 <= float(mmr) < 0.5 else 0.004
    q = float(np.asarray(law.quantile(1.0 - coverage)))
    d = 1.0 / max(q, 1.0) - m
    lo, hi = WINDOW_BOUNDS
    return float(min(max(d, lo), hi))


def robust_limits(
    values: np.ndarray, *, percentile: float = TOP_PERCENTILE, floor: float = FLOOR_PERCENTILE
) -> tuple[float, float]:
    """``(bottom, top)``: the ``floor`` and ``percentile`` percentiles of the positive finite values [quote].

    ``floor=0`` gives a bottom of 0; a bottom that would not be below the top (too few distinct values) is 0.
    Without positive values the limits are ``(0, 1)``.

    Parameters
    ----------
    values : ndarray
        Cells [quote].
    percentile : float, default :data:`TOP_PERCENTILE`
        Percentile of the positive values at the top of the scale [%].
    floor : float, default :data:`FLOOR_PERCENTILE`
        Percentile of the positive values at the bottom of the scale [%], in ``[0, percentile)``.

    Examples
    --------
    >>> robust_limits(np.r_[np.zeros(10), np.arange(1.0, 101.0)])
    (40.6, 99.01)
    >>> robust_limits(np.arange(1.0, 101.0), floor=0)
    (0.0, 99.01)
    """
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile: got {percentile!r}; allowed is a percentile in (0, 100]")
    if not isinstance(floor, (int, float, np.integer, np.floating)) or not 0 <= floor < percentile:
        raise ValueError(
            f"floor: got {floor!r}; allowed is a percentile in [0, {percentile:g}) (0: no floor)"
        )
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return 0.0, 1.0
    bottom, top = (float(x) for x in np.percentile(v, [floor, percentile]))
    if top <= 0:
        top = float(v.max())
    if floor == 0 or bottom >= top:
        bottom = 0.0
    return bottom, top


@dataclass(frozen=True)
class HeatmapView:
    """The visible part of a heatmap and its colour limits.

    Attributes
    ----------
    times : DatetimeIndex
        Snapshot times of the visible columns.
    time_edges : DatetimeIndex
        Their cell edges (length ``len(times) + 1``; the last is the last snapshot + one bar).
    price_edges : ndarray
        Edges of the bands that intersect the window [quote].
    values : dict[str, ndarray]
        Cells drawn per layer, shape (times, bands) [quote]: ``"total"`` (long + short), or one side, or both.
    ylim : (float, float)
        Price window [quote].
    vmin, vmax : float
        Colour limits [quote]: cells at or below ``vmin`` are drawn in the background colour, cells at or above
        ``vmax`` in the top colour.
    distance : float or None
        Half-width of the automatic window [fraction of price] (None for explicit or whole-grid windows).
    """

    times: pd.DatetimeIndex
    time_edges: pd.DatetimeIndex
    price_edges: np.ndarray
    values: dict[str, np.ndarray]
    ylim: tuple[float, float]
    vmin: float
    vmax: float
    distance: float | None

    @property
    def saturated(self) -> float:
        """Share of the visible cells at or above ``vmax`` (the top colour) [fraction]."""
        n = sum(v.size for v in self.values.values())
        if n == 0:
            return 0.0
        return float(sum(int(np.count_nonzero(v >= self.vmax)) for v in self.values.values()) / n)

    @property
    def floored(self) -> float:
        """Share of the visible cells at or below ``vmin`` (empty or under the floor: the background) [fraction]."""
        n = sum(v.size for v in self.values.values())
        if n == 0:
            return 0.0
        return float(sum(int(np.count_nonzero(v <= self.vmin)) for v in self.values.values()) / n)

    def raster(self, layer: str, width: int, height: int, *, yscale: str = "linear") -> np.ndarray:
        """The layer sampled at ``height × width`` pixel centres, rows from the bottom of the window [quote].

        Pixel rows are equally spaced in price (``yscale="linear"``) or in log price (``"log"``); columns are
        equally spaced in time. Each pixel takes the cell that contains its centre (NaN outside the cells).
        """
        if width < 1 or height < 1:
            raise ValueError(f"raster size must be positive, got {width} × {height}")
        vals = self.values[layer]
        t = self.time_edges.asi8.astype(float)
        xc = t[0] + (np.arange(width) + 0.5) * (t[-1] - t[0]) / width
        ti = np.searchsorted(t, xc, side="right") - 1
        y0, y1 = self.ylim
        fy = (np.arange(height) + 0.5) / height
        yc = y0 * (y1 / y0) ** fy if yscale == "log" else y0 + fy * (y1 - y0)
        pi = np.searchsorted(self.price_edges, yc, side="right") - 1
        ok_p = (pi >= 0) & (pi < self.price_edges.size - 1)
        ok_t = (ti >= 0) & (ti < len(self.times))
        out = np.full((height, width), np.nan)
        if vals.size:
            block = vals[np.clip(ti, 0, len(self.times) - 1)][:, np.clip(pi, 0, vals.shape[1] - 1)].T
            out = np.where(ok_p[:, None] & ok_t[None, :], block, np.nan)
        return out


def _bar(hm: Heatmap) -> pd.Timedelta:
    for idx in (hm.price.index, hm.times):
        if len(idx) >= 2:
            d = pd.Timedelta(pd.Series(pd.DatetimeIndex(idx)).diff().median())
            if d > pd.Timedelta(0):
                return d
    return pd.Timedelta(hours=1)


def heatmap_view(
    hm: Heatmap,
    *,
    side: SideView = "total",
    ylim: tuple[float, float] | Literal["auto", "grid"] = "auto",
    within: float | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    floor: float = FLOOR_PERCENTILE,
) -> HeatmapView:
    """The window, visible cells and colour limits of the default heatmap figure.

    Parameters
    ----------
    hm : Heatmap
    side : {"total", "long", "short", "both"}, default "total"
        ``"total"`` draws long + short as one intensity; ``"both"`` keeps the sides as two layers.
    ylim : (low, high), "auto" or "grid", default "auto"
        Price window [quote]. ``"auto"``: the price path's range widened by ``within`` (default
        :func:`window_distance` of the model) on each side; ``"grid"``: the whole grid.
    within : float, optional
        Half-width of the automatic window [fraction of price], in (0, 1).
    vmin, vmax : float, optional
        Explicit colour limits [quote]; default the ``floor`` and the 99th percentile of the positive visible
        cells (:func:`robust_limits`).
    floor : float, default :data:`FLOOR_PERCENTILE` (40)
        Percentile of the positive visible cells at the bottom of the scale [%]: weaker cells are drawn in the
        background colour. ``0`` colours every non-empty cell; an explicit ``vmin`` takes precedence.

    Returns
    -------
    HeatmapView
    """
    if side not in ("total", "long", "short", "both"):
        raise ValueError(f"side: got {side!r}; allowed are 'total', 'long', 'short', 'both'")
    if within is not None:
        w = float(within)
        if not np.isfinite(w) or not 0 < w < 1:
            raise ValueError(f"within: got {within!r}; allowed is a fraction of price in (0, 1), e.g. 0.2")
    if len(hm.times) == 0:
        raise ValueError("the heatmap has no snapshots to draw")
    edges = np.asarray(hm.price_edges, dtype=float)
    times = pd.DatetimeIndex(hm.times)
    t_edges = times.append(pd.DatetimeIndex([times[-1] + _bar(hm)]))
    distance: float | None = None
    if isinstance(ylim, str):
        if ylim == "grid":
            y0, y1 = float(edges[0]), float(edges[-1])
        elif ylim == "auto":
            distance = float(within) if within is not None else window_distance(hm.model)
            path = hm.price.loc[(hm.price.index >= t_edges[0] - _bar(hm)) & (hm.price.index < t_edges[-1])]
            path = path if len(path) else hm.price
            if len(path):
                lo_p, hi_p = float(path.min()), float(path.max())
            else:
                lo_p = hi_p = float(np.sqrt(edges[0] * edges[-1]))
            y0, y1 = max(lo_p * (1 - distance), float(edges[0])), min(hi_p * (1 + distance), float(edges[-1]))
            if y1 <= y0:  # the path lies outside the grid: show the grid
                y0, y1 = float(edges[0]), float(edges[-1])
        else:
            raise ValueError(f"ylim: got {ylim!r}; allowed are (low, high), 'auto' or 'grid'")
    else:
        try:
            y0, y1 = (float(v) for v in ylim)
        except (TypeError, ValueError):
            raise ValueError(
                f"ylim: got {ylim!r}; allowed are (low, high) [quote], 'auto' or 'grid'"
            ) from None
        if not (np.isfinite(y0) and np.isfinite(y1) and 0 < y0 < y1):
            raise ValueError(f"ylim: got {ylim!r}; allowed is 0 < low < high [quote]")
    inside = np.flatnonzero((edges[1:] > y0) & (edges[:-1] < y1))
    i0, i1 = (int(inside[0]), int(inside[-1]) + 1) if inside.size else (0, 0)
    layers: dict[str, np.ndarray] = {}
    for s in ("long", "short"):
        a = np.asarray(getattr(hm, s)[:, i0:i1], dtype=float)
        if a.size and (not np.all(np.isfinite(a)) or np.any(a < 0)):
            raise ValueError(f"{s} notional must be finite and non-negative to be drawn")
        layers[s] = a
    if side == "total":
        values = {"total": layers["long"] + layers["short"]}
    elif side == "both":
        values = layers
    else:
        values = {side: layers[side]}
    lo, hi = robust_limits(np.concatenate([v.ravel() for v in values.values()]), floor=floor)
    hi = hi if vmax is None else float(vmax)
    if vmin is not None:
        lo = float(vmin)
    elif lo >= hi:  # an explicit top below the floor: colour from zero
        lo = 0.0
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        raise ValueError(f"vmax ({hi}) must be greater than vmin ({lo})")
    return HeatmapView(
        times=times,
        time_edges=t_edges,
        price_edges=edges[i0 : i1 + 1] if i1 > i0 else edges[:0],
        values=values,
        ylim=(float(y0), float(y1)),
        vmin=float(lo),
        vmax=float(hi),
        distance=distance,
    )
