"""Figures and numbers of docs/analytics.md: ``python docs/make_analytics_figures.py``.

Synthetic world (60 days, 1 h, seed 7), default model, depth from volume (``DepthCurve.from_market``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from heatmap.cascade import DepthCurve, fragility_curve, simulate_cascade
from heatmap.cascade_plot import plot_cascade, plot_fragility
from heatmap.density import bin_cohorts
from heatmap.engine import estimate
from heatmap.result import Snapshot
from heatmap.synthetic import simulate_world

OUT = Path(__file__).resolve().parent / "figures"


def main() -> None:
    world = simulate_world(days=60, freq="1h", seed=7)
    market = world.market
    snap = estimate(market, bins=1000).at(-1)
    book = world.positions_at(market.index[-1])
    book["notional"] = book["qty"] * book["liquidation_price"]
    e = snap.price_edges
    true = Snapshot(
        time=snap.time,
        price_edges=e,
        long=bin_cohorts(book, e, side="long"),
        short=bin_cohorts(book, e, side="short"),
        price=snap.price,
    )
    depth = DepthCurve.from_market(market)

    fig = Figure(figsize=(12, 4.2), layout="constrained")
    a1, a2 = fig.subplots(1, 2)
    plot_cascade(snap, simulate_cascade(snap, 0.05, depth=depth), ax=a1)
    shocks = [s for s in np.round(np.arange(-10, 11) * 0.01, 3) if s]
    est = fragility_curve(snap, shocks, depth=depth)
    tru = fragility_curve(true, shocks, depth=depth)
    plot_fragility(est, ax=a2, title="Fragility: estimated map (lines) vs true book (squares)")
    a2.plot(
        100 * tru["shock"], 100 * tru["final_move"], "s", ms=4, mfc="none", color="0.2", label="true book"
    )
    a2.legend(loc="upper left", fontsize="small", frameon=False)
    OUT.mkdir(exist_ok=True)
    fig.savefig(OUT / "analytics_cascade.png", dpi=110)

    table = pd.DataFrame(
        {
            "shock": est["shock"],
            "estimated move": est["final_move"],
            "true-book move": tru["final_move"],
            "estimated amp.": est["amplification"],
            "true amp.": tru["amplification"],
        }
    )
    print(depth)
    print(table.loc[table["shock"].abs().isin([0.03, 0.05, 0.1])].to_string(index=False, float_format="%.4f"))


if __name__ == "__main__":
    main()
