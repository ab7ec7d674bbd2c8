"""Interactive exploration: a self-contained HTML heatmap with hover, and Jupyter widgets.

Both need the ``interactive`` extra (``pip install "liquidation-heatmap[interactive]"``: plotly, ipywidgets).
The HTML file embeds plotly.js and the data, so it opens offline without a server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from heatmap.view import FLOOR_PERCENTILE, robust_limits

if TYPE_CHECKING:
    from heatmap.market import Market
    from heatmap.model import Model
    from heatmap.result import Heatmap

__all__ = ["to_html", "figure", "explore", "Explorer", "reduce_for_display"]

Norm = Literal["log", "linear"]
SideOrBoth = Literal["long", "short", "both"]

# the side colours of heatmap.plot.SIDE_COLORS (long blue, short orange), light to dark
_LONG_SCALE = [[0.0, "#d6e8f7"], [0.6, "#3a8fd9"], [1.0, "#123f6b"]]
_SHORT_SCALE = [[0.0, "#fde5cc"], [0.6, "#f28e2b"], [1.0, "#7a3c06"]]


def _require_plotly() -> Any:
    try:
        import plotly.graph_objects as go
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "interactive HTML needs plotly: pip install 'liquidation-heatmap[interactive]'"
        ) from exc
    return go


@dataclass(frozen=True)
class DisplayGrid:
    """A heatmap reduced to a size a browser draws quickly (mass-preserving in price)."""

    times: pd.DatetimeIndex
    price_edges: np.ndarray
    long: np.ndarray
    short: np.ndarray
    price: np.ndarray  # close at each displayed time [quote]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def centers(self) -> np.ndarray:
        return np.sqrt(self.price_edges[:-1] * self.price_edges[1:])


def reduce_for_display(hm: Heatmap, *, max_times: int = 600, max_bins: int = 500) -> DisplayGrid:
    """Subsample snapshots and merge adjacent price bands so the figure stays light.

    Snapshots are states, not flows, so time is subsampled (every k-th snapshot, always keeping the last);
    price bands are merged by summing ``f`` adjacent bands, which preserves each snapshot's total notional
    (the last few bands are dropped only when they hold no mass in any kept snapshot; otherwise they are
    merged into a final shorter group).

    Parameters
    ----------
    hm : Heatmap
    max_times, max_bins : int
        Upper bounds on displayed snapshots and price bands.

    Examples
    --------
    >>> import heatmap as lh
    >>> hm = lh.estimate(lh.synthetic_market(days=5, seed=1), bins=400)
    >>> reduce_for_display(hm, max_bins=100).long.shape[1] <= 100
    True
    """
    if max_times < 1 or max_bins < 1:
        raise ValueError(f"max_times and max_bins must be >= 1, got {max_times} and {max_bins}")
    T, P = hm.shape
    step = max(1, int(np.ceil(T / max_times)))
    rows = np.arange(T - 1, -1, -step)[::-1]
    factor = max(1, int(np.ceil(P / max_bins)))
    starts = np.arange(0, P, factor)
    long = np.add.reduceat(np.asarray(hm.long[rows], dtype=float), starts, axis=1)
    short = np.add.reduceat(np.asarray(hm.short[rows], dtype=float), starts, axis=1)
    edges = np.append(hm.price_edges[starts], hm.price_edges[-1])
    times = hm.times[rows]
    price = hm.price.reindex(times, method="ffill").to_numpy(dtype=float)
    return DisplayGrid(times, edges, long, short, price, meta={"time_step": step, "bin_factor": factor})


def _z(values: np.ndarray, norm: Norm) -> np.ndarray:
    z = np.where(values > 0, values, np.nan)
    if norm == "log":
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.log10(z)
    return z


def _dollar_colorbar(title: str, zmin: float, zmax: float, norm: Norm, **extra: Any) -> dict[str, Any]:
    """A colour bar with $ K/M/B tick labels (at decades for ``norm="log"``, where z is log10 of the value)."""
    from heatmap.plot import format_notional

    if norm == "log":
        vals = 10.0 ** np.arange(np.ceil(zmin), np.floor(zmax) + 1)
        return {"title": title, "tickvals": np.log10(vals).tolist(),
                "ticktext": [format_notional(v) for v in vals], **extra}  # fmt: skip
    return {"title": title, "tickprefix": "$", "tickformat": ".3~s", **extra}


def figure(
    hm: Heatmap,
    *,
    side: SideOrBoth | Literal["total"] = "total",
    norm: Norm = "linear",
    floor: float = FLOOR_PERCENTILE,
    max_times: int = 600,
    max_bins: int = 500,
) -> Any:
    """A plotly ``Figure``: time × price heatmap with the price path, and the liquidation map at the last time.

    The look of the PNG (:meth:`Heatmap.plot <heatmap.result.Heatmap.plot>`): ``side="total"`` draws long +
    short as one intensity in ``inferno`` on black, on a linear scale from a floor (the ``floor`` percentile of
    the non-empty displayed bands; below it is background) to their 99th percentile
    (:func:`heatmap.view.robust_limits`); ``"both"`` draws longs in blues and shorts in oranges. ``norm="log"``
    colours ``log10`` of the notional between the same limits. Hover read-outs come from one ``hovertemplate``
    and ``customdata`` (long, short, distance from price), not per-cell text; colour bars are in $.

    Parameters
    ----------
    hm : Heatmap
    side : {"total", "both", "long", "short"}
    norm : {"linear", "log"}
    floor : float, default :data:`heatmap.view.FLOOR_PERCENTILE`
        Percentile of the non-empty bands at the bottom of the colour scale [%]; 0 for none.
    max_times, max_bins : int
        Display reduction; see :func:`reduce_for_display`.

    Examples
    --------
    >>> fig = figure(lh.estimate(lh.synthetic_market(days=5)))  # doctest: +SKIP
    >>> fig.show()  # doctest: +SKIP
    """
    if side not in ("total", "both", "long", "short"):
        raise ValueError(f"side must be 'total', 'both', 'long' or 'short', got {side!r}")
    if norm not in ("log", "linear"):
        raise ValueError(f"norm must be 'log' or 'linear', got {norm!r}")
    go = _require_plotly()
    from plotly.subplots import make_subplots

    from heatmap.plot import SIDE_COLORS

    grid = reduce_for_display(hm, max_times=max_times, max_bins=max_bins)
    dist = (grid.centers[:, None] / grid.price[None, :] - 1.0) * 100.0
    custom = np.stack([grid.long.T, grid.short.T, dist], axis=-1)
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        column_widths=[0.78, 0.22],
        horizontal_spacing=0.01,
        subplot_titles=("Estimated liquidation levels", "Map at the last time"),
    )
    unit = "USD per band"
    layers = {"total": grid.long + grid.short} if side == "total" else {}
    if side in ("both", "long"):
        layers["long"] = grid.long
    if side in ("both", "short"):
        layers["short"] = grid.short
    zmin, zmax = _limits(np.concatenate([v.ravel() for v in layers.values()]), norm, floor)
    hover = (
        "%{x}<br>band %{y:,.0f}<br>long $%{customdata[0]:.3~s} · short $%{customdata[1]:.3~s}"
        "<br>%{customdata[2]:+.2f}% from price<extra></extra>"
    )
    for k, (name, values) in enumerate(layers.items()):
        scale = {"total": "Inferno", "long": _LONG_SCALE, "short": _SHORT_SCALE}[name]
        fig.add_trace(
            go.Heatmap(
                x=grid.times,
                y=grid.centers,
                z=_z(values.T, norm),
                customdata=custom,
                hovertemplate=hover,
                colorscale=scale,
                name=f"{name} liquidations",
                colorbar=_dollar_colorbar(f"{name} [{unit}]", zmin, zmax, norm, x=1.02 + 0.08 * k, len=0.9),
                hoverongaps=False,
                zmin=zmin,
                zmax=zmax,
            ),
            row=1,
            col=1,
        )
    fig.add_trace(
        go.Scatter(
            x=grid.times,
            y=grid.price,
            mode="lines",
            line={"color": "white", "width": 1.2},
            name="close",
            hovertemplate="%{x}<br>close %{y:,.2f}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    for name, values in (("long", grid.long), ("short", grid.short)):
        fig.add_trace(
            go.Bar(
                x=values[-1],
                y=grid.centers,
                orientation="h",
                marker_color=SIDE_COLORS[name],
                name=f"{name} (map)",
                hovertemplate=f"%{{y:,.0f}}: $%{{x:.3~s}}<extra>{name}</extra>",
            ),
            row=1,
            col=2,
        )
    symbol = hm.meta.get("symbol")
    fig.update_layout(
        barmode="overlay",
        bargap=0,
        template="plotly_white",
        plot_bgcolor="#0b0b14" if side == "both" else "#000004",  # inferno's bottom: the floor is background
        height=650,
        showlegend=False,
        title=f"{symbol + ' · ' if symbol else ''}liquidation heatmap ({hm.times[0]:%Y-%m-%d} to {hm.times[-1]:%Y-%m-%d})",
        yaxis_title="price [USD]",
        xaxis2_title="notional [USD]",
        xaxis2={"tickprefix": "$", "tickformat": ".2~s"},
    )
    fig.update_yaxes(range=list(_price_window(grid)))
    return fig


def _limits(values: np.ndarray, norm: Norm, floor: float) -> tuple[float, float]:
    """Colour limits: the PNG's floor and top (:func:`heatmap.view.robust_limits`), as log10 for ``"log"``."""
    bottom, top = robust_limits(values, floor=floor)
    if norm == "log":
        v = values[np.isfinite(values) & (values > 0)]
        low = bottom if bottom > 0 else (float(v.min()) if v.size else top / 1e3)
        return (float(np.log10(low)), float(np.log10(top)))
    return (bottom, top)


def _price_window(grid: DisplayGrid, mass: float = 0.98) -> tuple[float, float]:
    """Price range holding ``mass`` of all notional, widened to include the price path."""
    total = (grid.long + grid.short).sum(axis=0)
    c = grid.centers
    if total.sum() <= 0:
        return (float(grid.price.min()) * 0.9, float(grid.price.max()) * 1.1)
    cdf = np.cumsum(total) / total.sum()
    lo = float(c[min(int(np.searchsorted(cdf, (1 - mass) / 2)), c.size - 1)])
    hi = float(c[min(int(np.searchsorted(cdf, 1 - (1 - mass) / 2)), c.size - 1)])
    return (min(lo, float(grid.price.min())) * 0.98, max(hi, float(grid.price.max())) * 1.02)


def to_html(
    hm: Heatmap,
    path: str | Path,
    *,
    market: Market | None = None,
    side: SideOrBoth | Literal["total"] = "total",
    within: float | None = None,
    max_times: int = 1000,
    max_bins: int = 400,
    title: str | None = None,
) -> Path:
    """Write a self-contained interactive HTML heatmap (opens offline, no server, no plotting library).

    A canvas page of about 1–2 MB for six months of hourly snapshots × 1,000 bins: the look of the PNG, hover
    read-outs in $ ("$606K") with the distance from price, brightness and threshold sliders, a side toggle and,
    with ``market``, a leverage-layer toggle; see :mod:`heatmap.html_page`. The displayed data are embedded as
    ``<script type="application/json" id="liquidation-heatmap-data">`` (:func:`read_html_data` decodes them).

    Parameters
    ----------
    hm : Heatmap
    path : str or Path
        Output file (``.html``).
    market : Market, optional
        The market of ``hm``: adds the leverage-layer toggle (one extra estimate per bucket).
    side : {"total", "long", "short", "both"}, default "total"
        Layer shown first.
    within, max_times, max_bins, title
        See :func:`heatmap.html_page.write_html`.

    Returns
    -------
    Path

    Examples
    --------
    >>> import heatmap as lh
    >>> hm = lh.estimate(lh.synthetic_market(days=10, seed=3))
    >>> hm.to_html("heatmap.html")  # doctest: +SKIP
    """
    from heatmap.html_page import write_html

    return write_html(
        hm, path, market=market, side=side, within=within, max_times=max_times, max_bins=max_bins, title=title
    )


def read_html_data(path: str | Path) -> dict[str, Any]:
    """The data embedded by :func:`to_html`, layers decoded to arrays; see :func:`heatmap.html_page.read_html_data`."""
    from heatmap.html_page import read_html_data as read

    return read(path)


# -- Jupyter widgets -------------------------------------------------------------------------------------------


@dataclass
class Explorer:
    """State and callbacks behind :func:`explore`, usable (and tested) without widgets.

    ``params`` holds ``median``, ``sigma``, ``preset`` (a :meth:`heatmap.Leverage.preset` name or ``None`` to use
    median/sigma), ``side_split``, ``split_strength``, ``turnover``, ``norm`` and ``time`` (snapshot position).
    """

    market: Market
    model: Model | None = None
    bins: int = 600
    params: dict[str, Any] = field(default_factory=dict)
    heatmap: Heatmap | None = None

    def __post_init__(self) -> None:
        from heatmap.model import Model

        base = self.model if self.model is not None else Model()
        self.model = base
        defaults = {
            "preset": None,
            "median": float(base.leverage.quantile(0.5)),
            "sigma": 0.9,
            "side_split": base.side_split,
            "split_strength": float(base.split_strength),
            "turnover": float(base.turnover),
            "norm": "log",
            "time": -1,
        }
        self.params = {**defaults, **self.params}

    def build_model(self) -> Model:
        """The model for the current parameters."""
        from heatmap.leverage import Leverage

        p = self.params
        lev = (
            Leverage.preset(p["preset"])
            if p["preset"]
            else Leverage.lognormal(median=p["median"], sigma=p["sigma"])
        )
        assert self.model is not None
        return self.model.replace(
            leverage=lev,
            side_split=p["side_split"],
            split_strength=p["split_strength"],
            turnover=p["turnover"],
        )

    def recompute(self, **changes: Any) -> Heatmap:
        """Update parameters and re-estimate (the time and norm controls do not re-estimate)."""
        from heatmap.engine import estimate

        unknown = set(changes) - set(self.params)
        if unknown:
            raise ValueError(f"unknown explorer parameters {sorted(unknown)}; allowed: {sorted(self.params)}")
        model_keys = {"preset", "median", "sigma", "side_split", "split_strength", "turnover"}
        needs_estimate = self.heatmap is None or bool(model_keys & set(changes))
        self.params.update(changes)
        if needs_estimate:
            self.heatmap = estimate(self.market, self.build_model(), bins=self.bins)
        assert self.heatmap is not None
        return self.heatmap

    def draw(self, fig: Any) -> None:
        """Redraw a matplotlib Figure: heatmap on the left, the map at the selected time on the right."""
        from heatmap.plot import plot_heatmap, plot_map

        hm = self.heatmap if self.heatmap is not None else self.recompute()
        fig.clear()
        ax_hm, ax_map = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 1]})
        plot_heatmap(hm, ax=ax_hm, norm=self.params["norm"], colorbar=False)
        snap = hm.at(int(self.params["time"]))
        ax_hm.axvline(snap.time, color="0.3", lw=0.8, ls="--")
        plot_map(snap, ax=ax_map)


def explore(market: Market, model: Model | None = None, *, bins: int = 600) -> Any:
    """Explore a market's heatmap in Jupyter with widgets.

    Controls: time slider, leverage preset or median and spread, side split and its strength, turnover and
    colour normalisation. Changing an assumption re-estimates (milliseconds for a month of hourly bars) and
    redraws. Without ipywidgets installed it returns a static figure of the default view and says so.

    Parameters
    ----------
    market : Market
    model : Model, optional
        Starting assumptions (default ``Model()``).
    bins : int
        Price bins of the estimate.

    Returns
    -------
    ipywidgets.VBox, or a matplotlib Figure when ipywidgets is missing.
    """
    from matplotlib.figure import Figure

    state = Explorer(market=market, model=model, bins=bins)
    state.recompute()
    try:
        import ipywidgets as w
    except ImportError:
        import warnings

        warnings.warn(
            "ipywidgets is not installed: showing a static figure. "
            "pip install 'liquidation-heatmap[interactive]' for the interactive explorer.",
            stacklevel=2,
        )
        fig = Figure(figsize=(13, 6))
        state.draw(fig)
        return fig

    from heatmap.leverage import Leverage

    assert state.heatmap is not None
    out = w.Output()
    controls: dict[str, Any] = {
        "time": w.IntSlider(
            value=len(state.heatmap) - 1, min=0, max=len(state.heatmap) - 1, description="time"
        ),
        "preset": w.Dropdown(
            options=[("median/sigma", None)] + [(n, n) for n in Leverage.presets()],
            value=None,
            description="leverage",
        ),
        "median": w.FloatLogSlider(
            value=state.params["median"], base=10, min=0, max=2, description="median L"
        ),
        "sigma": w.FloatSlider(
            value=state.params["sigma"], min=0.05, max=2.0, step=0.05, description="spread"
        ),
        "side_split": w.Dropdown(
            options=["even", "candle", "taker", "funding"],
            value=state.params["side_split"],
            description="side split",
        ),
        "split_strength": w.FloatSlider(
            value=state.params["split_strength"], min=0, max=1, step=0.05, description="strength"
        ),
        "turnover": w.FloatSlider(
            value=state.params["turnover"], min=0, max=1, step=0.01, description="turnover"
        ),
        "norm": w.ToggleButtons(options=["log", "linear"], value="log", description="colour"),
    }

    def render() -> None:
        from IPython.display import display

        fig = Figure(figsize=(13, 6))
        state.draw(fig)
        out.clear_output(wait=True)
        with out:
            display(fig)

    def on_change(name: str) -> Callable[[dict[str, Any]], None]:
        def handler(change: dict[str, Any]) -> None:
            try:
                state.recompute(**{name: change["new"]})
            except ValueError as exc:  # e.g. taker split on a market without taker volume
                with out:
                    print(f"error: {exc}")
                return
            controls["time"].max = len(state.heatmap or []) - 1
            render()

        return handler

    for name, widget in controls.items():
        widget.observe(on_change(name), names="value")
    render()
    return w.VBox([w.HBox(list(controls.values())[:4]), w.HBox(list(controls.values())[4:]), out])
