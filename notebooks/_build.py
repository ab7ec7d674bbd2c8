"""Write notebooks 01–03 from the cell sources below (``python notebooks/_run.py`` then executes every notebook
and stores its outputs with small palette PNGs, so they read on GitHub).

Run from anywhere: ``python notebooks/_build.py && python notebooks/_run.py``. Edit the cells here, not the
``.ipynb`` files.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = """\
%matplotlib inline
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

import heatmap as lh
from heatmap.plot import SIDE_COLORS, format_notional, new_figure"""


# "how to read this for a trade": the same two cells in 01 and 02
TRADE_CODE = """\
near = snap.clusters(top=8, within=0.10)
near = near.assign(away=near["distance"].abs()).sort_values("away").drop(columns="away")
print(f"price {snap.price:,.0f}; long/short imbalance within 5 %: {snap.imbalance(within=0.05):+.2f} "
      "(+1: only longs, -1: only shorts)")
cum = snap.cumulative()
for move in (-0.05, -0.02, 0.02, 0.05):
    side, col = ("long", "cum_long") if move < 0 else ("short", "cum_short")
    level = snap.price * (1 + move)
    row = cum[(cum["price_low"] <= level) & (cum["price_high"] > level)]
    print(f"a move to {level:,.0f} ({move:+.0%}) would liquidate {format_notional(float(row[col].iloc[0]))} of {side}s")
near"""

TRADE_TEXT = """\
### How to read this for a trade

* **Nearest pools.** The table lists the largest clusters within 10 % of price, nearest first: price level, side,
  distance and notional. Price tends to be drawn to large pools and to move fast through them (forced orders
  add to the move: see `notebooks/04_cascades`). The nearest long pool below and short pool above bracket the
  move most likely to trigger forced selling or buying.
* **Which side is heavier.** The imbalance compares long and short notional within 5 % of price: positive means
  more long liquidations below than short ones above, so a drop would liquidate more than an equal rise. The
  lines above say how much a move of 2 % or 5 % either way would liquidate (the cumulative curves of the map).
* **What "relative" means.** Cells are *model* notional: open interest spread over an assumed leverage law, not
  positions read from the exchange. Compare levels and sides with each other, and one time with another, not
  the dollar amounts with a venue's totals; the leverage buckets show how much of a pool rests on high leverage,
  the part most sensitive to that assumption (`notebooks/03_leverage_assumptions`)."""

# --------------------------------------------------------------------------------------------------------------
QUICKSTART = [
    new_markdown_cell(
        """\
# Quick start: a liquidation heatmap in five lines

`liquidation-heatmap` estimates **where leveraged perpetual-futures positions would be force-liquidated**,
from candles and open interest. Every bar, new open interest is split between longs and shorts, spread over a
*leverage distribution*, and turned into liquidation prices with the exchange's exact margin formula; levels
that price crosses are consumed. The result is a time × price map of liquidation notional [USD].

This notebook uses the built-in **synthetic market** (a seeded agent-based simulation), so it needs no data."""
    ),
    new_code_cell(SETUP),
    new_markdown_cell("## 1. A market: candles and open interest"),
    new_code_cell(
        """\
market = lh.synthetic_market(days=30, freq="1h", seed=7)
print(len(market), "bars from", market.start, "to", market.end, "| columns:", market.columns)
market.frame.head()"""
    ),
    new_markdown_cell(
        """\
## 2. Estimate

`lh.estimate(market, model)` runs the engine bar by bar. `Model()` holds the assumptions; the most important
is the leverage distribution (here the `default` preset: lognormal, median 12×)."""
    ),
    new_code_cell(
        """\
model = lh.Model(leverage=lh.Leverage.preset("default"))
hm = lh.estimate(market, model, bins=600)
hm"""
    ),
    new_markdown_cell(
        """\
## 3. The heatmap

Time on x, price on y, the price path in white, the current price dashed. Colour is the **total** liquidation
notional per price band (longs + shorts), black to yellow, on a linear scale from a floor (the 40th percentile of
the visible cells; weaker cells stay black, so the far plateau of low-leverage positions does not drown the bands
near price) to the 99th percentile: bright bands are where many positions would be liquidated. The window is the price path ± the distance at which
the leverage law puts most liquidations; the largest clusters are labelled at the right edge."""
    ),
    new_code_cell(
        """\
fig, ax = new_figure((12, 5.5))
hm.plot(ax=ax)
fig"""
    ),
    new_markdown_cell(
        """\
`side="both"` splits the sides: **long** positions (liquidated when price falls, below the price) in blue,
**short** positions (liquidated when price rises, above it) in orange — the same colours in every figure:"""
    ),
    new_code_cell(
        """\
fig, ax = new_figure((12, 4.5))
hm.plot(ax=ax, side="both", within=0.12)
fig"""
    ),
    new_markdown_cell(
        """\
## 4. The liquidation map now

`hm.at(-1)` is the last snapshot. Its map shows notional per band (longs below the price, shorts above),
stacked by leverage bucket (`snap.by_leverage(market)`: ≤10x … >100x, lighter = lower leverage), the
cumulative notional that a move to each level would liquidate, and the largest clusters."""
    ),
    new_code_cell(
        """\
snap = hm.at(-1)
fig, ax = new_figure((9, 6.5))
snap.plot(ax=ax, within=0.15, layers=snap.by_leverage(market))
fig"""
    ),
    new_code_cell(TRADE_CODE),
    new_markdown_cell(TRADE_TEXT),
    new_markdown_cell(
        """\
## 5. Files

`hm.save(path)` writes the figure in the format of the suffix (`.png`, `.svg`, `.pdf`, `.jpg`) without
`pyplot` (safe in scripts and servers); `hm.to_html(path)` writes the interactive page. The same figure is
available from the command line: `python -m heatmap demo --out heatmap.png`."""
    ),
    new_code_cell(
        """\
folder = Path(tempfile.mkdtemp())
for name in ("heatmap.png", "heatmap.svg", "heatmap.html"):
    out = hm.to_html(folder / name) if name.endswith(".html") else hm.save(folder / name, dpi=100)
    print(out.name, out.stat().st_size // 1024, "KiB")
hm.to_frame().head()"""
    ),
]

# --------------------------------------------------------------------------------------------------------------
BINANCE = [
    new_markdown_cell(
        """\
# Binance BTCUSDT: a heatmap from real candles and open interest

Inputs, all public:

* Binance USDⓈ-M **BTCUSDT perpetual 1h candles**;
* Binance **BTC open interest** (stablecoin-margined, in BTC) every **4h**, and the **8h funding rate**, from
  CoinGlass history tables;
* Binance **long/short liquidations** per 4h (CoinGlass), to look at the estimate against what happened.

The files are read in place from `../shared/data` beside the repository (they are not redistributed). When
the folder is absent the notebook falls back to the **synthetic market** and says so."""
    ),
    new_code_cell(SETUP),
    new_code_cell(
        """\
# the data folder: the HEATMAP_DATA environment variable, else ../shared/data beside the repository
DATA = Path(os.environ.get("HEATMAP_DATA") or Path.cwd().resolve().parent.parent / "shared" / "data")
CANDLES = DATA / "binance-btcusdt-1h" / "BTCUSDT_1h_Cleaned.csv"
CG = DATA / "coinglass-btc-4h" / "derived"
REAL = CANDLES.is_file() and (CG / "oi_binance_stablecoinmargined_btc_4h_coinunits.csv").is_file()
START, END = "2025-03-01", "2025-05-31 23:00"
print("real data" if REAL else f"NOTE: {DATA} not found - using the synthetic market instead")"""
    ),
    new_markdown_cell(
        """\
## 1. Read and align

* `read_ohlcv_csv` reads the candles (`Date` as `DD-MM-YYYY HH:MM`, UTC).
* Open interest is an **observation**: the 4h row labelled `t` closes at `t + 4h`, so its close is known only
  then. `Market.from_frames` gives each 1h bar the last observation made at or before the bar's close — no
  look-ahead; `oi_max_age="4h"` accepts readings up to 4 hours old.
* Funding is an **event**: the CoinGlass 8h row labelled `t` settles at `t + 8h` (percent)."""
    ),
    new_code_cell(
        """\
if REAL:
    from heatmap.io import read_csv_frame, read_ohlcv_csv

    candles = read_ohlcv_csv(CANDLES, time_col="Date", time_format="%d-%m-%Y %H:%M", assume_utc=True)
    oi4 = read_csv_frame(CG / "oi_binance_stablecoinmargined_btc_4h_coinunits.csv")
    oi = pd.Series(oi4["close"].to_numpy(float), index=oi4.index + pd.Timedelta("4h"))  # observed at the close
    fr8 = read_csv_frame(CG / "funding_binance_btcusdt_8h_pct.csv")
    funding = pd.Series(fr8["close"].to_numpy(float), index=fr8.index + pd.Timedelta("8h"))  # settled at the end
    market = lh.Market.from_frames(
        candles.loc[START:END], open_interest=oi, funding=funding, funding_unit="percent",
        oi_max_age="4h", symbol="BTCUSDT", venue="binance",
    )
else:
    market = lh.synthetic_market(days=90, freq="1h", seed=7)
print(market.symbol, len(market), "bars", market.start, "->", market.end)
market.frame.describe().T[["mean", "min", "max"]]"""
    ),
    new_markdown_cell("## 2. Estimate and draw"),
    new_code_cell(
        """\
hm = lh.estimate(market, lh.Model(), bins=600)
hm"""
    ),
    new_code_cell(
        """\
fig, ax = new_figure((13, 6))
hm.plot(ax=ax)
fig"""
    ),
    new_code_cell(
        """\
snap = hm.at(-1)
fig, ax = new_figure((9, 6.5))
snap.plot(ax=ax, within=0.12, layers=snap.by_leverage(market))
fig"""
    ),
    new_code_cell(TRADE_CODE),
    new_markdown_cell(TRADE_TEXT),
    new_markdown_cell(
        """\
## 3. Against realized liquidations

The engine also reports what it predicts was liquidated inside each bar (`hm.liquidations`, from the state
before the bar). Summed to 4h it can be set against Binance's reported liquidations. Binance publishes at most
one liquidation per symbol per second, so the reported totals are undercounts: compare **ranks**, not dollars,
and against the "range × OI" null (a bar's adverse range times open interest), which any map has to beat.
(`notebooks/05_validation` does this properly, walk-forward and against baselines.)"""
    ),
    new_code_cell(
        """\
if REAL:
    from heatmap.io import read_liquidation_bars

    realized = read_liquidation_bars(CG / "liq_binance_allBTCpairs_4h_usd.csv")
    predicted = hm.liquidations.resample("4h").sum()
    both = predicted.add_suffix("_model").join(realized.add_suffix("_realized"), how="inner")
    both = both[(both.index >= market.start) & (both.index + pd.Timedelta("4h") <= market.end + market.freq)]
    # the "range x OI" null: (open - low)/open x OI for longs, (high - open)/open x OI for shorts, per 4h bar
    b4 = market.frame.resample("4h").agg({"open": "first", "high": "max", "low": "min", "open_interest": "last"})
    null = pd.DataFrame({"long": (b4["open"] - b4["low"]) / b4["open"] * b4["open_interest"],
                         "short": (b4["high"] - b4["open"]) / b4["open"] * b4["open_interest"]}).reindex(both.index)
    for side in ("long", "short"):
        rho = both[f"{side}_model"].corr(both[f"{side}_realized"], method="spearman")
        rho0 = null[side].corr(both[f"{side}_realized"], method="spearman")
        print(f"{side:5s}: Spearman over {len(both)} 4h bars: model {rho:.2f}, range x OI null {rho0:.2f}")
    fig, axes = new_figure((12, 5), nrows=2, sharex=True)
    for ax, side, color in zip(axes, ("long", "short"), (SIDE_COLORS["long"], SIDE_COLORS["short"])):
        ax.plot(both.index, both[f"{side}_model"].rank(pct=True).rolling(6).mean(), color=color, label="model")
        ax.plot(both.index, both[f"{side}_realized"].rank(pct=True).rolling(6).mean(), color="0.2", lw=0.9,
                ls=":", label="realized (Binance)")
        ax.set_ylabel(f"{side}: percentile rank\\n(24h mean)")
        ax.legend(ncol=2, fontsize=8, loc="upper right")
    display(fig)
else:
    print("synthetic market: see notebooks/05_validation for the comparison with the simulated ground truth")"""
    ),
]

# --------------------------------------------------------------------------------------------------------------
LEVERAGE = [
    new_markdown_cell(
        """\
# Leverage assumptions: how the map depends on them

Nobody publishes the leverage of open positions, so the heatmap rests on an assumed **leverage distribution**
and an assumed **side split** of new open interest. This notebook shows how much each moves the map, and how
to fit a distribution to leverage samples with `Leverage.fit`."""
    ),
    new_code_cell(SETUP),
    new_markdown_cell(
        """\
## 1. Presets

`Leverage.presets()` lists the built-in distributions with their sources. A liquidation sits at about
`1/L − MMR` from entry, so high-leverage mass lands close to price and low-leverage mass far away."""
    ),
    new_code_cell(
        """\
for name, text in lh.Leverage.presets().items():
    print(f"{name:20s} {text[:110]}")"""
    ),
    new_code_cell(
        """\
names = ["default", "coinglass", "hyperliquid-2025", "bitmex-2019"]
fig, axes = new_figure((13, 7), nrows=2, ncols=2)
for ax, name in zip(axes.ravel(), names):
    lh.plot_leverage(lh.Leverage.preset(name), ax=ax)
    ax.set_title(name, loc="left")
fig"""
    ),
    new_markdown_cell(
        """\
## 2. Same market, different leverage

One synthetic month, four leverage assumptions. The table gives, at the last bar, the notional within 5 % of
price and the distance of the largest cluster on each side."""
    ),
    new_code_cell(
        """\
market = lh.synthetic_market(days=30, freq="1h", seed=7)
maps = {name: lh.estimate(market, lh.Model(leverage=lh.Leverage.preset(name)), bins=500) for name in names}

rows = []
for name, hm in maps.items():
    snap = hm.at(-1)
    cum = snap.cumulative()
    near = cum[cum["distance"].abs() <= 0.05]
    cl = snap.clusters(top=10)
    first = {s: cl[cl["side"] == s].head(1) for s in ("long", "short")}
    rows.append({
        "leverage": name,
        "long within 5 %": near["long"].sum(),
        "short within 5 %": near["short"].sum(),
        "largest long cluster": float(first["long"]["distance"].iloc[0]) if len(first["long"]) else np.nan,
        "largest short cluster": float(first["short"]["distance"].iloc[0]) if len(first["short"]) else np.nan,
    })
pd.DataFrame(rows).set_index("leverage").style.format(
    {"long within 5 %": "{:,.0f}", "short within 5 %": "{:,.0f}",
     "largest long cluster": "{:+.1%}", "largest short cluster": "{:+.1%}"})"""
    ),
    new_code_cell(
        """\
fig, axes = new_figure((14, 6), ncols=4, sharey=True)
for ax, (name, hm) in zip(axes, maps.items()):
    hm.at(-1).plot(ax=ax, within=0.2, top=3, cumulative=False)
    ax.set_title(name, loc="left")
    ax.get_legend().remove()
fig"""
    ),
    new_markdown_cell(
        """\
Fixed tiers (`coinglass`) put all mass on four distances, giving sharp bands; continuous laws smear it.
Low-leverage populations (`hyperliquid-2025`) push the mass far from price.

## 3. Side split

New open interest has a long and a short side; the model decides how much of it is *speculative* (the
position whose liquidation we map) on each side: `even`, from the `candle` (up-candles open more longs),
from `taker` buy volume, or from `funding`."""
    ),
    new_code_cell(
        """\
rows = []
splits = {}
for split in ("even", "candle", "taker", "funding"):
    hm = lh.estimate(market, lh.Model(side_split=split), bins=500)
    splits[split] = hm
    t = hm.at(-1).total
    rows.append({"side split": split, "long": t["long"], "short": t["short"],
                 "imbalance within 5 %": hm.at(-1).imbalance(within=0.05)})
pd.DataFrame(rows).set_index("side split").style.format("{:,.0f}", subset=["long", "short"]).format(
    "{:+.2f}", subset=["imbalance within 5 %"])"""
    ),
    new_code_cell(
        """\
fig, axes = new_figure((13, 7), nrows=2, sharex=True)
for ax, split in zip(axes, ("even", "candle")):
    splits[split].plot(ax=ax, norm="power", colorbar=False)
    ax.set_title(f"side split: {split}", loc="left")
fig"""
    ),
    new_markdown_cell(
        """\
## 4. Fitting a leverage distribution

`Leverage.fit` is a (weighted) maximum-likelihood fit of a truncated family. Here the samples are the
positions of the synthetic world, whose true leverage law is known, weighted by notional."""
    ),
    new_code_cell(
        """\
world = lh.simulate_world(days=20, freq="1h", seed=3)
book = world.book[world.book["speculative"]]
weights = book["qty"] * book["entry"]
fitted = lh.Leverage.fit(book["leverage"], "lognormal", weights=weights, max_leverage=125)
truth = world.params["leverage"]
print("truth :", truth)
print("fitted:", fitted)
fig, ax = new_figure((9, 4))
lh.plot_leverage(truth, ax=ax, label="truth", color="0.4")
lh.plot_leverage(fitted, ax=ax, label="fitted", color="#e66101")
fig"""
    ),
    new_code_cell(
        """\
hm_true = lh.estimate(world.market, lh.Model(leverage=truth), bins=500)
hm_fit = lh.estimate(world.market, lh.Model(leverage=fitted), bins=500)
a, b = hm_true.at(-1), hm_fit.at(-1)
print("relative L1 distance of the last maps:",
      (np.abs(a.long - b.long).sum() + np.abs(a.short - b.short).sum()) / (a.long.sum() + a.short.sum()))"""
    ),
]


def write(name: str, cells: list) -> Path:
    for i, cell in enumerate(cells):
        cell["id"] = f"{name[:2]}-{i:02d}"  # stable ids: rebuilding does not change the files
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    path = HERE / f"{name}.ipynb"
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return path


def main() -> None:
    for name, cells in (
        ("01_quickstart", QUICKSTART),
        ("02_binance_btc", BINANCE),
        ("03_leverage_assumptions", LEVERAGE),
    ):
        print("wrote", write(name, cells))


if __name__ == "__main__":
    main()
