"""Figures for cascades: the fragility curve and the fixed-point (cobweb) diagram of one cascade.

pyplot-free: figures are :class:`matplotlib.figure.Figure` objects (safe in servers and threads); pass ``ax`` to
draw into an existing axes.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from heatmap.result import Snapshot
>>> from heatmap.cascade import DepthCurve, fragility_curve
>>> edges = np.geomspace(50.0, 150.0, 1001)
>>> snap = Snapshot(time=pd.Timestamp("2025-01-01", tz="UTC"), price_edges=edges, long=np.full(1000, 1e6),
...                 short=np.full(1000, 1e6), price=100.0)
>>> fig = plot_fragility(fragility_curve(snap, depth=DepthCurve(c0=2e8)))
>>> len(fig.axes)
1
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from heatmap.cascade import CascadeResult, liquidated_within
from heatmap.plot import SIDE_COLORS, plain_text

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from heatmap.result import Snapshot

__all__ = ["plot_cascade", "plot_fragility"]

_LONG = SIDE_COLORS["long"]  # longs liquidate on the way down (one side colour everywhere)
_SHORT = SIDE_COLORS["short"]


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        fig = ax.figure
        assert isinstance(fig, Figure)
        return fig, ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def plot_fragility(frame: pd.DataFrame, ax: Axes | None = None, *, title: str | None = None) -> Figure:
    """Final move against shock (a :func:`heatmap.fragility_curve` table), with the no-cascade diagonal.

    Points above the diagonal (in magnitude) are amplified by liquidations; runaway shocks (the cascade reached
    ``max_move``) are marked with crosses.

    Parameters
    ----------
    frame : DataFrame
        Columns ``shock, final_move, runaway`` [fraction] (from :func:`heatmap.fragility_curve`).
    ax : Axes, optional
        Draw into this axes; a new figure otherwise.
    title : str, optional

    Returns
    -------
    Figure
    """
    missing = {"shock", "final_move", "runaway"} - set(frame.columns)
    if missing:
        raise ValueError(f"frame is missing column(s) {sorted(missing)}; pass a fragility_curve() table")
    fig, ax = _axes(ax, (6.4, 4.2))
    f = frame.sort_values("shock")
    x = 100 * f["shock"].to_numpy(float)
    y = 100 * f["final_move"].to_numpy(float)
    run = f["runaway"].to_numpy(bool)
    lim = float(np.nanmax(np.abs(x))) if x.size else 1.0
    ax.plot([-lim, lim], [-lim, lim], ls="--", color="0.5", lw=1, label="no cascade (final = shock)")
    for mask, color, label in (
        (x < 0, _LONG, "down: longs liquidated"),
        (x > 0, _SHORT, "up: shorts liquidated"),
    ):
        ax.plot(x[mask], y[mask], marker="o", ms=3.5, color=color, lw=1.5, label=label)
    if run.any():
        ax.plot(x[run], y[run], ls="none", marker="x", ms=8, mew=2, color="black", label="runaway (max move)")
    ax.axhline(0, color="0.85", lw=0.8, zorder=0)
    ax.axvline(0, color="0.85", lw=0.8, zorder=0)
    ax.set_xlabel("shock [% of price]")
    ax.set_ylabel("final move after cascade [% of price]")
    ax.set_title(title or "Fragility curve")
    ax.legend(loc="upper left", fontsize="small", frameon=False)
    return plain_text(fig)


def plot_cascade(
    snapshot: Snapshot, result: CascadeResult, ax: Axes | None = None, *, title: str | None = None
) -> Figure:
    """Fixed-point diagram of one cascade: ``g(m) = |ε| + impact(liq(m))`` against the diagonal, with the path.

    The cascade starts at ``m = |ε|`` and steps ``m ← g(m)`` (the staircase) until ``g`` meets the diagonal
    (the final move d*) or ``max_move`` is reached (runaway).

    Parameters
    ----------
    snapshot : Snapshot
        The map the cascade ran on.
    result : CascadeResult
        From :func:`heatmap.simulate_cascade` on ``snapshot``.
    ax : Axes, optional
    title : str, optional

    Returns
    -------
    Figure
    """
    fig, ax = _axes(ax, (6.4, 4.2))
    sign = -1.0 if result.shock < 0 else 1.0
    eps = abs(result.shock)
    top = max(abs(result.move) * 1.4, eps * 2, 0.01)
    top = min(top, result.max_move)
    m = np.linspace(0.0, top, 400)
    g = eps + np.asarray(result.depth.impact(liquidated_within(snapshot, sign * m)), dtype=float)
    color = _LONG if sign < 0 else _SHORT
    ax.plot(100 * m, 100 * m, ls="--", color="0.5", lw=1, label="diagonal |d| = m")
    ax.plot(100 * m, 100 * g, color=color, lw=1.8, label="|ε| + impact(liquidated within m)")
    path = np.abs(np.asarray(result.path, dtype=float))
    if path.size > 1:
        # staircase: (m_k, m_k) -> (m_k, m_{k+1}) -> (m_{k+1}, m_{k+1})
        xs = np.repeat(path, 2)[:-1]
        ys = np.repeat(path, 2)[1:]
        ax.plot(100 * xs, 100 * ys, color="black", lw=1, alpha=0.8, label="iteration path")
    ax.plot([100 * eps], [100 * eps], "o", color="black", ms=5)
    ax.plot(
        [100 * abs(result.move)],
        [100 * abs(result.move)],
        "*",
        color=color,
        ms=12,
        mec="black",
        label=f"final move {result.move:+.2%}" + (" (runaway)" if result.runaway else ""),
    )
    ax.set_xlim(0, 100 * top)
    ax.set_ylim(0, 100 * max(top, float(np.nanmax(g))) * 1.02)
    ax.set_xlabel("move m [% of price]")
    ax.set_ylabel("move after liquidations [% of price]")
    side = "longs" if sign < 0 else "shorts"
    ax.set_title(
        title or f"Cascade from a {result.shock:+.1%} shock ({side} liquidated, x{result.amplification:.2f})"
    )
    ax.legend(loc="upper left", fontsize="small", frameon=False)
    return plain_text(fig)
