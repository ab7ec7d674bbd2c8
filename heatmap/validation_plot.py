"""Figures of the validation: scores per model, walk-forward series, and stress bars (map vs realized).

Every function returns a :class:`matplotlib.figure.Figure` built without ``pyplot`` (no global state; safe
in servers and tests). Save with ``fig.savefig(path)``.

Examples
--------
>>> fig = plot_scores({"model": report, "range × OI": null_report})  # doctest: +SKIP
>>> fig.savefig("validation_scores.png")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from heatmap.plot import SIDE_COLORS, plain_text

if TYPE_CHECKING:
    from heatmap.result import Snapshot
    from heatmap.validation.metrics import ValidationReport

__all__ = ["plot_scores", "plot_walk_forward", "plot_stress_bars", "stress_bars"]

_COLORS = SIDE_COLORS  # one side colour everywhere: long blue, short orange


def plot_scores(
    reports: Mapping[str, ValidationReport],
    *,
    metrics: Sequence[str] = ("spearman", "partial_skill", "precision_at_10pct"),
    title: str | None = None,
) -> Figure:
    """Grouped bars of the chosen metrics per side for several models, with their confidence intervals.

    Parameters
    ----------
    reports : mapping
        Label → :class:`~heatmap.validation.metrics.ValidationReport` (e.g. default, calibrated, baselines).
    metrics : sequence of str
        Metric names present in the reports' tables.
    title : str, optional

    Returns
    -------
    Figure
    """
    if not reports:
        raise ValueError("reports is empty; pass at least one label → ValidationReport")
    labels = list(reports)
    fig = Figure(figsize=(4.2 * len(metrics), 3.6 + 0.25 * ((len(labels) + 3) // 4)), layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    width = 0.8 / len(labels)
    for ax, metric in zip(axes, metrics, strict=True):
        for j, lab in enumerate(labels):
            t = reports[lab].to_frame()
            for i, side in enumerate(("long", "short")):
                if (side, metric) not in t.index:
                    raise ValueError(f"report {lab!r} has no metric {metric!r} for {side}")
                est, lo, hi = t.loc[(side, metric), ["estimate", "low", "high"]].astype(float)
                x = i + (j - (len(labels) - 1) / 2) * width
                yerr = None if not np.isfinite(lo) else [[est - lo], [hi - est]]
                ax.bar(x, est, width=width * 0.95, color=f"C{j}", label=lab if i == 0 else None)
                if yerr is not None:
                    ax.errorbar(x, est, yerr=yerr, color="k", lw=1, capsize=2)
        ax.set_xticks([0, 1], ["long", "short"])
        ax.axhline(0, color="k", lw=0.6)
        ax.set_title(metric.replace("_", " "))
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncols=min(len(names), 4), fontsize=8)
    if title:
        fig.suptitle(title)
    return plain_text(fig)


def plot_walk_forward(frame: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Predicted vs realized liquidations per bar: percentile ranks over time and a rank scatter, per side.

    Parameters
    ----------
    frame : DataFrame
        Output of :func:`heatmap.validation.walk_forward`.

    Returns
    -------
    Figure
    """
    need = ["predicted_long", "predicted_short", "realized_long", "realized_short"]
    miss = [c for c in need if c not in frame.columns]
    if miss:
        raise ValueError(f"frame is missing columns {miss}")
    fig = Figure(figsize=(11, 5.5), layout="constrained")
    axes = fig.subplots(2, 2, width_ratios=[3, 1])
    for row, side in enumerate(("long", "short")):
        p = frame[f"predicted_{side}"].rank(pct=True)
        y = frame[f"realized_{side}"].rank(pct=True)
        ax = axes[row, 0]
        ax.plot(frame.index, frame[f"realized_{side}"], color="0.4", lw=0.8, label="realized [USD]")
        ax.set_yscale("symlog", linthresh=max(1.0, float(frame[f"realized_{side}"].median())))
        ax2 = ax.twinx()
        ax2.plot(frame.index, frame[f"predicted_{side}"], color=_COLORS[side], lw=0.8, alpha=0.8)
        ax2.set_yscale("symlog", linthresh=max(1.0, float(frame[f"predicted_{side}"].median())))
        ax.set_ylabel(f"{side}: realized (grey)")
        ax2.set_ylabel("predicted [quote]", color=_COLORS[side])
        sc = axes[row, 1]
        sc.scatter(p, y, s=4, color=_COLORS[side], alpha=0.5)
        sc.set_xlabel("predicted (rank pct)")
        sc.set_ylabel("realized (rank pct)")
        sc.set_aspect("equal")
    if title:
        fig.suptitle(title)
    return plain_text(fig)


def stress_bars(frame: pd.DataFrame, *, n: int = 4) -> pd.DataFrame:
    """The ``n`` bars with the largest realized liquidations (long + short) of a walk-forward frame.

    Returns the frame's rows (sorted by time) plus ``realized_total`` and the percentile ranks
    ``rank_predicted_long`` … of each bar within the whole frame.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    f = frame.copy()
    f["realized_total"] = f["realized_long"] + f["realized_short"]
    for c in ("predicted_long", "predicted_short", "realized_long", "realized_short"):
        f[f"rank_{c}"] = f[c].rank(pct=True)
    return f.nlargest(n, "realized_total").sort_index()


def plot_stress_bars(
    snapshots: Sequence[Snapshot],
    bars: pd.DataFrame,
    market_frame: pd.DataFrame,
    *,
    window: float = 0.12,
    title: str | None = None,
) -> Figure:
    """Map-vs-realized panels for stress bars: the predicted map before each bar and the range the bar crossed.

    Each panel shows the long (left, negative) and short (right) liquidation notional per price band of the
    state before the bar, the bar's open/low/high, and in the title the realized and predicted liquidations of
    the bar as percentile ranks within the validation window (realized totals are undercounted, so ranks are
    the comparable quantity).

    Parameters
    ----------
    snapshots : sequence of Snapshot
        The state before each bar (the snapshot of the previous bar).
    bars : DataFrame
        Rows of :func:`stress_bars` (same order as ``snapshots``).
    market_frame : DataFrame
        ``Market.frame`` (for each bar's open, high, low).
    window : float, default 0.12
        Price window shown around the open (fraction).
    title : str, optional

    Returns
    -------
    Figure
    """
    if len(snapshots) != len(bars):
        raise ValueError(f"need one snapshot per bar, got {len(snapshots)} snapshots and {len(bars)} bars")
    k = len(bars)
    if k == 0:
        raise ValueError("bars is empty")
    fig = Figure(figsize=(3.6 * k, 4.6), layout="constrained")
    axes = fig.subplots(1, k, squeeze=False)[0]
    for ax, snap, (t, row) in zip(axes, snapshots, bars.iterrows(), strict=True):
        t = pd.Timestamp(t)  # type: ignore[arg-type]
        bar = market_frame.loc[t]
        o = float(bar["open"])
        c = snap.centers
        sel = (c > o * (1 - window)) & (c < o * (1 + window))
        h = np.diff(snap.price_edges)[sel]
        ax.barh(c[sel], -np.asarray(snap.long)[sel] / 1e6, height=h, color=_COLORS["long"], label="long [M]")
        ax.barh(
            c[sel], np.asarray(snap.short)[sel] / 1e6, height=h, color=_COLORS["short"], label="short [M]"
        )
        ax.axhspan(float(bar["low"]), o, color=_COLORS["long"], alpha=0.12)
        ax.axhspan(o, float(bar["high"]), color=_COLORS["short"], alpha=0.12)
        ax.axhline(o, color="k", lw=0.8)
        ax.axvline(0, color="k", lw=0.5)
        ax.set_ylim(o * (1 - window), o * (1 + window))
        ax.set_xlabel("notional before the bar [M quote]")
        ax.set_title(
            f"{t:%Y-%m-%d %H:%M}\nrealized L {row['realized_long'] / 1e6:,.0f}M "
            f"(p{100 * row['rank_realized_long']:.0f}) S {row['realized_short'] / 1e6:,.0f}M "
            f"(p{100 * row['rank_realized_short']:.0f})\npredicted pct L p{100 * row['rank_predicted_long']:.0f}"
            f" S p{100 * row['rank_predicted_short']:.0f}",
            fontsize=8,
        )
    axes[0].set_ylabel("price [quote]")
    axes[0].legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(title)
    return plain_text(fig)
