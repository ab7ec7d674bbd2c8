"""Build notebooks/05_validation.ipynb: ``python notebooks/_build_05.py`` (then ``python notebooks/_run.py`` stores its outputs)."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

CELLS = [
    new_markdown_cell(
        """# 05 — Validation against realized liquidations

A liquidation heatmap makes a testable claim: when price moves through a level, the positions sitting there
are liquidated. This notebook scores that claim **walk-forward**: for every bar, the liquidations the model
predicts from the state *before* the bar (positions whose liquidation price lies inside the range the bar
traversed) against the liquidations that were reported.

* Reported liquidations are undercounted (Binance publishes at most one liquidation order per symbol per second),
  so everything is scored **by rank**.
* Two references: the **range × OI null** (`(open − low)/open × OI` for longs, `(high − open)/open × OI` for
  shorts — it knows nothing about where positions sit) and the **fixed-tier model** of common open-source maps.
* **Partial skill**: rank correlation of the prediction with what the null leaves unexplained. It is ≈ 0 for the
  null itself; > 0 means the map knows something the bar's size does not.

Data: Binance BTC 4h liquidations, open interest and funding (CoinGlass) with Binance BTCUSDT 1h candles, read
in place from `../shared/data` when it exists; otherwise a synthetic world with known positions (clearly
labelled below). See `docs/validation.md` for the full tables."""
    ),
    new_code_cell(
        """import os
from pathlib import Path

import numpy as np
import pandas as pd

from heatmap.model import Model
from heatmap.validation import baselines
from heatmap.validation.metrics import compare, score
from heatmap.validation.protocol import walk_forward

# the data folder: the HEATMAP_DATA environment variable, else ../shared/data beside the repository
candidates = [Path(os.environ["HEATMAP_DATA"])] if os.environ.get("HEATMAP_DATA") else [
    Path.cwd() / ".." / ".." / "shared" / "data", Path.cwd() / ".." / "shared" / "data"]
DATA = next((p.resolve() for p in candidates if (p / "coinglass-btc-4h" / "derived").is_dir()), None)
REAL = DATA is not None
if REAL:
    from heatmap.validation.datasets import hourly_market, load_coinglass

    market, realized = load_coinglass(DATA / "coinglass-btc-4h" / "derived", end="2025-05-31 20:00")
    hourly = hourly_market(market, DATA / "binance-btcusdt-1h" / "BTCUSDT_1h_Cleaned.csv")
    TRAIN, TEST = ("2024-11-13 20:00", "2025-03-15"), ("2025-03-15", "2025-06-01")
    print("REAL DATA: Binance BTC, 4h liquidations (CoinGlass) + 1h candles")
else:
    from heatmap.synthetic import simulate_world

    world = simulate_world(days=90, freq="1h", seed=5, cohorts_per_bar=12)
    hourly = world.market
    market = hourly.resample("4h")
    realized = world.liquidations_per_bar()
    realized = realized.groupby(realized.index.floor("4h")).sum().reindex(market.index)
    idx = market.index
    TRAIN, TEST = (idx[0], idx[len(idx) * 2 // 3]), (idx[len(idx) * 2 // 3], idx[-1] + market.freq)
    print("NOTE: ../shared/data not found -> SYNTHETIC world with known positions (numbers are not the real ones)")
print(market)"""
    ),
    new_markdown_cell(
        """## The walk-forward frame

One row per scored 4h bar. `predicted_*` come from the engine's state before the bar; with `freq="4h"` the
engine runs on the 1h path and its hourly predictions are summed per 4h bar (positions opened early in a 4h
bar can be liquidated later in the same bar, as in reality)."""
    ),
    new_code_cell(
        """from heatmap.calibrated import calibrated_model

calibrated = calibrated_model("binance-btc")  # calibrated with the engine on the 1h path
calibrated_4h = calibrated_model("binance-btc-4h")  # calibrated with the engine on 4h bars
frames = {
    "default, 4h": walk_forward(market, Model(), realized, start=TEST[0], end=TEST[1]),
    "calibrated for 4h, 4h": walk_forward(market, calibrated_4h, realized, start=TEST[0], end=TEST[1]),
    "calibrated, 1h path": walk_forward(hourly, calibrated, realized, freq="4h", start=TEST[0], end=TEST[1]),
}
ref = frames["default, 4h"]
for name, pred in {
    "range × OI (null)": baselines.range_oi(market),
    "fixed tiers": baselines.fixed_tiers(market),
}.items():
    f = ref.copy()
    f["predicted_long"] = pred["long"].reindex(f.index).to_numpy()
    f["predicted_short"] = pred["short"].reindex(f.index).to_numpy()
    frames[name] = f
ref.head()"""
    ),
    new_markdown_cell(
        "## Scores on the test window (out of sample), with 95 % block-bootstrap / Wilson intervals"
    ),
    new_code_cell(
        """reports = {k: score(f, n_boot=300, seed=0) for k, f in frames.items()}
metrics = ("spearman", "spearman_vs_null", "partial_skill", "precision_at_10pct")
display(compare(reports, side="long", metrics=metrics))
display(compare(reports, side="short", metrics=metrics))"""
    ),
    new_code_cell("""reports["calibrated, 1h path"]"""),
    new_code_cell(
        """from heatmap.validation_plot import plot_scores, plot_walk_forward

plot_scores(reports, title="test window")"""
    ),
    new_code_cell("""plot_walk_forward(frames["calibrated, 1h path"])"""),
    new_markdown_cell(
        """## Stress bars: the map before the largest liquidation bars

For the four bars with the largest realized liquidations in the test window: the long (left) and short (right)
liquidation notional of the state before the bar, the range the bar traversed (shaded) and, in the title,
realized and predicted liquidations as percentile ranks within the window."""
    ),
    new_code_cell(
        """from heatmap.engine import estimate
from heatmap.validation.protocol import fixed_grid
from heatmap.validation_plot import plot_stress_bars, stress_bars

bars = stress_bars(frames["calibrated for 4h, 4h"], n=4)
hm = estimate(market, calibrated_4h, grid=fixed_grid(market, bins=800), snapshot_every=1)
snaps = [hm.at(int(np.searchsorted(hm.times, t)) - 1) for t in bars.index]
plot_stress_bars(snaps, bars, market.frame)"""
    ),
    new_markdown_cell(
        """## Calibration (tiny budget here)

`calibrate` searches leverage and side-split parameters on the training window only (the engine never sees a
bar after it) and scores the result on the test window. The shipped `heatmap/calibrated.py` came from
`benchmarks/run_validation.py --calibrate` with a larger budget."""
    ),
    new_code_cell(
        """from heatmap.validation.calibrate import calibrate

cal = calibrate(
    market, realized, train=TRAIN, test=TEST,
    params={"leverage.median": (3.0, 60.0), "turnover": (0.0, 0.5)},
    method="nelder-mead", starts=3, maxiter=1, bins=400, n_boot=100,
)
print(cal)
compare({"train": cal.train_report, "test": cal.test_report}, side="long", metrics=("spearman", "partial_skill"))"""
    ),
]


def build() -> nbformat.NotebookNode:
    nb = new_notebook(cells=CELLS)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


if __name__ == "__main__":
    out = HERE / "05_validation.ipynb"
    nbformat.write(build(), out)
    print(f"wrote {out}")
