"""Interactive exploration: a self-contained HTML heatmap with hover, and Jupyter widgets.

Both need the ``interactive`` extra (``pip install "liquidation-heatmap[interactive]"``: plotly, ipywidgets).
The HTML file embeds plotly.js and the data, so it opens offline without a server.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from heatmap.market import Market
    from heatmap.model import Model
    from heatmap.result import Heatmap

__all__ = ["to_html", "figure", "explore", "Explorer", "reduce_for_display"]

Norm = Literal["log", "linear"]
SideOrBoth = Literal["long", "short", "both"]

_DATA_ID = "liquidation-heatmap-data"
_LONG_SCALE = [[0.0, "#deebf7"], [0.5, "#4292c6"], [1.0, "#08306b"]]
_SHORT_SCALE = [[0.0, "#fee6ce"], [0.5, "#f16913"], [1.0, "#7f2704"]]


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


def _hover_text(grid: DisplayGrid) -> np.ndarray:
    """Per-cell hover strings, shape (bins, times)."""
    c = grid.centers
    dist = (c[:, None] / grid.price[None, :] - 1.0) * 100.0
    lo = grid.price_edges[:-1][:, None]
    hi = grid.price_edges[1:][:, None]
    t = np.asarray(grid.times.strftime("%Y-%m-%d %H:%M UTC"))[None, :]
    text = np.char.add(
        np.char.add(np.char.add(t, "<br>band "), np.char.mod("%.2f", np.broadcast_to(lo, dist.shape))),
        np.char.add(" – ", np.char.mod("%.2f", np.broadcast_to(hi, dist.shape))),
    )
    text = np.char.add(text, np.char.add("<br>long $", np.char.mod("%.4g", grid.long.T)))
    text = np.char.add(text, np.char.add("<br>short $", np.char.mod("%.4g", grid.short.T)))
    text = np.char.add(text, np.char.add("<br>distance ", np.char.mod("%+.2f%%", dist)))
    return text


def _z(values: np.ndarray, norm: Norm) -> np.ndarray:
    z = np.where(values > 0, values, np.nan)
    if norm == "log":
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.log10(z)
    return z


def figure(
    hm: Heatmap,
    *,
    side: SideOrBoth = "both",
    norm: Norm = "log",
    max_times: int = 600,
    max_bins: int = 500,
) -> Any:
    """A plotly ``Figure``: time × price heatmap with the price path, and the liquidation map at the last time.

    Long liquidation levels are drawn in blues and short levels in oranges (at any time they occupy disjoint
    price ranges: longs below price, shorts above). Colour is ``log10`` of the band's notional when
    ``norm="log"``.

    Parameters
    ----------
    hm : Heatmap
    side : {"both", "long", "short"}
    norm : {"log", "linear"}
    max_times, max_bins : int
        Display reduction; see :func:`reduce_for_display`.
    """
    if side not in ("both", "long", "short"):
        raise ValueError(f"side must be 'both', 'long' or 'short', got {side!r}")
    if norm not in ("log", "linear"):
        raise ValueError(f"norm must be 'log' or 'linear', got {norm!r}")
    go = _require_plotly()
    from plotly.subplots import make_subplots

    grid = reduce_for_display(hm, max_times=max_times, max_bins=max_bins)
    text = _hover_text(grid)
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        column_widths=[0.78, 0.22],
        horizontal_spacing=0.01,
        subplot_titles=("Estimated liquidation levels", "Map at hovered time"),
    )
    unit = "log10 USD" if norm == "log" else "USD"
    zmin, zmax = _robust_limits(grid, norm)
    sides = ("long", "short") if side == "both" else (side,)
    for name in sides:
        values = grid.long if name == "long" else grid.short
        fig.add_trace(
            go.Heatmap(
                x=grid.times,
                y=grid.centers,
                z=_z(values.T, norm),
                text=text,
                hoverinfo="text",
                colorscale=_LONG_SCALE if name == "long" else _SHORT_SCALE,
                name=f"{name} liquidations",
                colorbar={
                    "title": f"{name} [{unit}]",
                    "x": 1.02 if name == "long" else 1.10,
                    "len": 0.45,
                    "y": 0.25 if name == "long" else 0.75,
                },
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
            line={"color": "black", "width": 1.2},
            name="close",
            hovertemplate="%{x}<br>close %{y:,.2f}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    for name, values, colour in (("long", grid.long, "#2171b5"), ("short", grid.short, "#d94801")):
        fig.add_trace(
            go.Bar(
                x=values[-1],
                y=grid.centers,
                orientation="h",
                marker_color=colour,
                name=f"{name} (map)",
                hovertemplate=f"%{{y:,.2f}}: $%{{x:,.0f}}<extra>{name}</extra>",
            ),
            row=1,
            col=2,
        )
    fig.update_layout(
        barmode="overlay",
        bargap=0,
        template="plotly_white",
        height=650,
        showlegend=False,
        title=f"Liquidation heatmap ({hm.times[0]:%Y-%m-%d} → {hm.times[-1]:%Y-%m-%d})",
        yaxis_title="price [quote]",
        xaxis2_title="notional [USD]",
    )
    fig.update_yaxes(range=list(_price_window(grid)))
    return fig


def _robust_limits(grid: DisplayGrid, norm: Norm) -> tuple[float, float]:
    """Colour limits from the non-zero cells: 99.5th percentile on top, at most 3 decades below it (log)."""
    values = np.concatenate([grid.long.ravel(), grid.short.ravel()])
    values = values[values > 0]
    if values.size == 0:
        return (0.0, 1.0)
    hi = float(np.percentile(values, 99.5))
    lo = float(np.percentile(values, 2.0))
    if norm == "log":
        top = float(np.log10(hi))
        return (max(float(np.log10(lo)), top - 3.0), top)
    return (0.0, hi)


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


def _payload(grid: DisplayGrid) -> dict[str, Any]:
    """The data embedded in the HTML (read by the hover script and by tests)."""
    return {
        "format": "liquidation-heatmap/html-v1",
        "times": [t.isoformat() for t in grid.times],
        "price_edges": grid.price_edges.tolist(),
        "price": grid.price.tolist(),
        "long": grid.long.tolist(),
        "short": grid.short.tolist(),
        "time_step": grid.meta["time_step"],
        "bin_factor": grid.meta["bin_factor"],
    }


# Connects hovering on the heatmap to the map panel: reads the embedded JSON and restyles the two bar traces.
_HOVER_SCRIPT = """
(function() {
  var gd = document.getElementById('{plot_id}');
  var data = JSON.parse(document.getElementById('__DATA_ID__').textContent);
  var nBars = gd.data.length;
  gd.on('plotly_hover', function(ev) {
    var p = ev.points[0];
    if (!p || p.curveNumber >= nBars - 2) { return; }
    var i = p.pointIndex;
    if (Array.isArray(i)) { i = i[1]; }
    if (i === undefined || i < 0 || i >= data.long.length) { return; }
    Plotly.restyle(gd, {x: [data.long[i], data.short[i]]}, [nBars - 2, nBars - 1]);
    Plotly.relayout(gd, {'annotations[1].text': 'Map at ' + data.times[i].replace('T', ' ').slice(0, 16)});
  });
})();
""".replace("__DATA_ID__", _DATA_ID)


def to_html(
    hm: Heatmap,
    path: str | Path,
    *,
    side: SideOrBoth = "both",
    norm: Norm = "log",
    max_times: int = 600,
    max_bins: int = 500,
) -> Path:
    """Write a self-contained interactive HTML heatmap (opens offline, no server).

    Hovering a cell shows time, price band, long/short notional and distance from price, and redraws the
    liquidation-map panel for that time; zoom and pan with the mouse. plotly.js is embedded in the file, and
    so is the displayed data as JSON (``<script type="application/json" id="liquidation-heatmap-data">``).

    Parameters
    ----------
    hm : Heatmap
    path : str or Path
        Output file (``.html``).
    side, norm, max_times, max_bins
        See :func:`figure`.

    Returns
    -------
    Path

    Examples
    --------
    >>> import heatmap as lh
    >>> hm = lh.estimate(lh.synthetic_market(days=10, seed=3))
    >>> hm.to_html("heatmap.html")  # doctest: +SKIP
    """
    import plotly.io as pio

    from heatmap.io.atomic import atomic_write

    fig = figure(hm, side=side, norm=norm, max_times=max_times, max_bins=max_bins)
    grid = reduce_for_display(hm, max_times=max_times, max_bins=max_bins)
    page = pio.to_html(
        fig,
        include_plotlyjs=True,
        full_html=True,
        post_script=_HOVER_SCRIPT,
        config={"scrollZoom": True, "displaylogo": False},
    )
    blob = json.dumps(_payload(grid), separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    data_tag = f'<script type="application/json" id="{_DATA_ID}">{blob}</script>'
    # the data must precede plotly's script so the hover hook finds it
    page = page.replace("<body>", "<body>\n" + data_tag, 1)
    out = Path(path)
    with atomic_write(out, "w", encoding="utf-8") as fh:  # a failed write keeps an existing file
        fh.write(page)
    return out


def read_html_data(path: str | Path) -> dict[str, Any]:
    """The data embedded by :func:`to_html` (arrays as lists)."""
    text = Path(path).read_text(encoding="utf-8")
    start_tag = f'<script type="application/json" id="{_DATA_ID}">'
    i = text.find(start_tag)
    if i < 0:
        raise ValueError(f"{path} has no embedded liquidation-heatmap data")
    j = text.find("</script>", i)
    return json.loads(html.unescape(text[i + len(start_tag) : j]))


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
