"""Figures and realism statistics of the synthetic world for ``docs/synthetic.md``.

Run ``python docs/make_synthetic_figures.py`` from the repository root: it writes ``docs/figures/synthetic_*.png``
and prints the realism table in Markdown. Figures use :class:`matplotlib.figure.Figure` (Agg canvas), never
pyplot.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import dates as mdates
from matplotlib.figure import Figure

from heatmap.plot import SIDE_COLORS
from heatmap.synthetic import World, simulate_world

FIGURES = Path(__file__).resolve().parent / "figures"
SEEDS = (0, 1, 2, 3, 4)


def realism_table(*, days: float = 60, freq: str = "1h", seeds: tuple[int, ...] = SEEDS) -> pd.DataFrame:
    """Summary statistics of default worlds, one row per seed plus the mean.

    Columns: ``daily_vol`` (std of daily log returns [-]), ``excess_kurtosis`` (of bar returns [-]),
    ``absret_acf_1d`` (autocorrelation of absolute bar returns at a one-day lag [-]), ``funding_mean`` and
    ``funding_p05``/``funding_p95`` [fraction per 8 h], ``oi_cv`` (std/mean of open interest [-]),
    ``turnover_per_day`` (closed + liquidated quantity per day / mean OI [-]), ``liq_share_per_day``
    (liquidated notional per day / mean OI notional [-]), ``liq_long_share`` (long share of liquidated notional
    [-]), ``volume_per_oi`` (daily volume / mean OI [-]).
    """
    rows = {}
    for seed in seeds:
        w = simulate_world(days=days, freq=freq, seed=seed)
        rows[seed] = _stats(w)
    out = pd.DataFrame(rows).T
    out.index.name = "seed"
    out.loc["mean"] = out.mean()
    return out


def _stats(w: World) -> dict[str, float]:
    f = w.market.frame
    per_day = pd.Timedelta("1D") / w.market.freq
    days = len(f) / per_day
    r = np.log(f["close"]).diff().dropna()
    daily = np.log(f["close"].resample("1D").last()).diff().dropna()
    a = r.abs().to_numpy()
    lag = int(round(per_day))
    fr = f["funding_rate"][f["funding_rate"] != 0]
    oi = f["open_interest"]
    bk = w.book
    n = len(f)
    closed = bk[(bk["side"] == "long") & (bk["close_bar"] >= 0) & (bk["close_bar"] < n)]["qty"].sum()
    liq = w.liquidations_per_bar()
    liq_total = liq.to_numpy().sum()
    return {
        "daily_vol": float(daily.std()),
        "excess_kurtosis": float(r.kurt()),
        "absret_acf_1d": float(np.corrcoef(a[:-lag], a[lag:])[0, 1]),
        "funding_mean": float(fr.mean()),
        "funding_p05": float(fr.quantile(0.05)),
        "funding_p95": float(fr.quantile(0.95)),
        "oi_cv": float(oi.std() / oi.mean()),
        "turnover_per_day": float(closed / days / oi.mean()),
        "liq_share_per_day": float(liq_total / days / (oi * f["close"]).mean()),
        "liq_long_share": float(liq["long"].sum() / liq_total),
        "volume_per_oi": float(f["volume"].sum() / days / oi.mean()),
    }


def _price_panel(w: World) -> Figure:
    f = w.market.frame
    fig = Figure(figsize=(8, 5.5), dpi=80, layout="constrained")
    ax1, ax2, ax3 = fig.subplots(3, 1, sharex=True, height_ratios=[3, 1.4, 1.4])
    ax1.fill_between(f.index, f["low"], f["high"], color="0.8", lw=0, label="bar low-high")
    ax1.plot(f.index, f["close"], lw=0.8, color="k", label="close")
    liq = w.liquidations
    for side, color, marker in (("long", SIDE_COLORS["long"], "v"), ("short", SIDE_COLORS["short"], "^")):
        ev = liq[liq["side"] == side]
        size = 4 + 60 * np.sqrt(ev["notional"] / max(liq["notional"].max(), 1.0))
        ax1.scatter(
            ev["time"], ev["price"], s=size, c=color, marker=marker, alpha=0.5, lw=0, label=f"{side} liq."
        )
    ax1.set_ylabel("price [quote]")
    ax1.legend(loc="upper left", fontsize=7, ncols=4)
    ax1.set_title(
        "Synthetic world (60 days, 1 h, seed 7): price, liquidations, open interest, funding", fontsize=9
    )
    ax2.plot(f.index, f["open_interest"] / 1e3, color="tab:blue", lw=0.9)
    ax2.set_ylabel("OI [k base]")
    fr = f["funding_rate"][f["funding_rate"] != 0]
    ax3.bar(fr.index, fr * 1e4, width=pd.Timedelta("6h"), color=np.where(fr > 0, "tab:red", "tab:green"))
    ax3.set_ylabel("funding [bp/8h]")
    return fig


def _liquidations_panel(w: World) -> Figure:
    per_bar = w.liquidations_per_bar()
    daily = per_bar.resample("1D").sum() / 1e6
    fig = Figure(figsize=(8, 3), dpi=80, layout="constrained")
    ax = fig.subplots()
    ax.bar(daily.index, daily["short"], width=0.8, color=SIDE_COLORS["short"], label="shorts liquidated")
    ax.bar(daily.index, -daily["long"], width=0.8, color=SIDE_COLORS["long"], label="longs liquidated")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_ylabel("notional per day [M quote]")
    ax.legend(fontsize=7)
    ax.set_title("Realized liquidations per day (longs below zero)", fontsize=9)
    return fig


def _book_panel(w: World) -> Figure:
    t = w.market.index[-1]
    book = w.positions_at(t)
    price = float(w.market.frame["close"].iloc[-1])
    fig = Figure(figsize=(8, 3.2), dpi=80, layout="constrained")
    ax = fig.subplots()
    edges = np.linspace(0.6 * price, 1.4 * price, 161)
    for side, color in (("long", SIDE_COLORS["long"]), ("short", SIDE_COLORS["short"])):
        s = book[book["side"] == side]
        parts = [s[s["speculative"]], s[~s["speculative"]]]
        ax.hist(
            [part["liquidation_price"] for part in parts],
            bins=edges,
            weights=[part["qty"] * part["liquidation_price"] / 1e6 for part in parts],
            stacked=True,
            color=[color, color],
            alpha=0.9,
            label=[f"{side} (speculative)", f"{side} (passive, light)"],
        )
        # passive part drawn lighter
        for patch in ax.patches[-len(edges) + 1 :]:
            patch.set_alpha(0.35)
    ax.axvline(price, color="k", lw=1, label="price")
    ax.set_xlabel("liquidation price [quote]")
    ax.set_ylabel("notional per band [M quote]")
    ax.legend(fontsize=7, ncols=5)
    ax.set_title(
        f"True liquidation levels of the open book at {t:%Y-%m-%d %H:%M} UTC (±40 % of price)", fontsize=9
    )
    return fig


def _stylized_panel(w: World) -> Figure:
    f = w.market.frame
    r = np.log(f["close"]).diff().dropna().to_numpy()
    z = (r - r.mean()) / r.std()
    fig = Figure(figsize=(8, 3), dpi=80, layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    bins = np.linspace(-6, 6, 61)
    ax1.hist(z, bins=bins, density=True, color="0.5", label="bar returns")
    x = np.linspace(-6, 6, 200)
    ax1.plot(x, np.exp(-0.5 * x**2) / np.sqrt(2 * np.pi), color="k", lw=1, label="normal")
    ax1.set_yscale("log")
    ax1.set_ylim(1e-4, 1)
    ax1.set_xlabel("standardized 1 h log return")
    ax1.legend(fontsize=7)
    ax1.set_title("Fat tails (jumps, stochastic volatility)", fontsize=9)
    a = np.abs(r)
    lags = np.arange(1, 24 * 7 + 1)
    acf_abs = [np.corrcoef(a[:-k], a[k:])[0, 1] for k in lags]
    acf_raw = [np.corrcoef(r[:-k], r[k:])[0, 1] for k in lags]
    ax2.plot(lags / 24, acf_abs, color="tab:blue", lw=1, label="|return|")
    ax2.plot(lags / 24, acf_raw, color="0.6", lw=0.8, label="return")
    ax2.axhline(0, color="k", lw=0.5)
    ax2.set_xlabel("lag [day]")
    ax2.set_ylabel("autocorrelation")
    ax2.legend(fontsize=7)
    ax2.set_title("Volatility clustering", fontsize=9)
    return fig


def make_figures(out_dir: Path = FIGURES, *, seed: int = 7) -> list[Path]:
    """Write the ``synthetic_*.png`` figures of ``docs/synthetic.md`` and return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    w = simulate_world(days=60, freq="1h", seed=seed)
    long_w = simulate_world(days=365, freq="1h", seed=seed)
    figures = {
        "synthetic_market.png": _price_panel(w),
        "synthetic_liquidations.png": _liquidations_panel(w),
        "synthetic_book.png": _book_panel(w),
        "synthetic_stylized.png": _stylized_panel(long_w),
    }
    paths = []
    for name, fig in figures.items():
        path = out_dir / name
        for ax in fig.axes:  # concise date ticks: full dates overlap at this width
            if isinstance(ax.xaxis.get_major_formatter(), mdates.AutoDateFormatter):
                locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
                ax.xaxis.set_major_locator(locator)
                ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        fig.savefig(path, dpi=80)
        paths.append(path)
    return paths


def markdown(table: pd.DataFrame) -> str:
    """The realism table as Markdown (statistics as rows, seeds as columns)."""
    t = table.T
    head = "| statistic | " + " | ".join(str(c) for c in t.columns) + " |"
    rule = "|---|" + "---:|" * len(t.columns)
    body = ["| " + str(i) + " | " + " | ".join(f"{v:.3g}" for v in row) + " |" for i, row in t.iterrows()]
    return "\n".join([head, rule, *body])


if __name__ == "__main__":
    for path in make_figures():
        print(path)
    print(markdown(realism_table()))
