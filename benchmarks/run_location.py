"""Headline validation: how much (count skill, 1h path vs the path-aware null) and where (location skill).

Recomputes every number of the marked sections ``validation:count``, ``validation:where`` in docs/validation.md
and ``validation:headline`` in README.md, and (with ``--figures``) the figures of the "Where" section. Reads
../shared/data in place. ≈ 30 s on a shared core.

Usage::

    python benchmarks/run_location.py                         # tables -> docs/validation.md, README.md
    python benchmarks/run_location.py --figures docs/figures  # and the figures
    python benchmarks/calibrate_joint.py                      # re-run the joint calibration of the preset
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import validation_headline as vh
from _docs import write_section

from heatmap.calibrated import CALIBRATED

DOC = vh.ROOT / "docs" / "validation.md"
README = vh.ROOT / "README.md"


def _side_margin(cell: str) -> tuple[float, float, float]:
    est, lo, hi = vh.numbers(cell)
    return float(est), float(lo), float(hi)


def _ci_text(x: tuple[float, float, float]) -> str:
    return f"{x[0]:+.3f} [{x[1]:+.3f}, {x[2]:+.3f}]"


def _verdict(x: tuple[float, float, float]) -> str:
    if x[1] > 0:
        return "ahead, interval above 0"
    if x[2] < 0:
        return "behind, interval below 0"
    return ("ahead" if x[0] > 0 else "behind") + ", interval includes 0"


def count_section(table: pd.DataFrame) -> str:
    w = vh.COUNT_TEST
    rec = next(iter(table.index))
    cl = _side_margin(table.loc[rec, "long: − path-aware null"])
    cs = _side_margin(table.loc[rec, "short: − path-aware null"])
    v = {side: _verdict(x) for side, x in (("long", cl), ("short", cs))}
    return "\n".join(
        [
            "<!-- validation:count -->",
            f"Test window (out of sample) {w[0][:10]} → {w[1][:10]}, 4h realized liquidations, engine on the 1h path; "
            "Spearman per side and the paired difference against the **path-aware null** (range × OI summed over "
            f"the 1h bars) with 95 % block-bootstrap intervals ({vh.N_BOOT} resamples). Measured margin of the "
            f"recommended preset: long {_ci_text(cl)} ({v['long']}), short {_ci_text(cs)} ({v['short']}).",
            "",
            vh.markdown(table),
            "<!-- /validation:count -->",
        ]
    )


def _where_verdict(test: pd.DataFrame) -> str:
    rec = next(iter(test.index))
    parts = []
    for metric in ("log score", "CRPS skill"):
        above = [s for s in ("long", "short") if _side_margin(test.loc[rec, f"{s} {metric}"])[1] > 0]
        below = [s for s in ("long", "short") if s not in above]
        text = f"{metric}: interval above 0 on " + (" and ".join(above) if above else "neither side")
        if below and above:
            text += f", includes 0 on {below[0]}"
        parts.append(text)
    d = test.attrs["differences"]
    wins = []
    for name, row in d.iterrows():
        ok = all(_side_margin(row[c])[1] > 0 for c in d.columns)
        wins.append(f"{name.split('− ')[1]}: {'every' if ok else 'not every'} paired interval above 0")
    return (
        "Verdict on the test part — the recommended preset against the uniform null: "
        + "; ".join(parts)
        + ". Against the other maps (both sides, both scores): "
        + "; ".join(wins)
        + "."
    )


def where_section(test: pd.DataFrame, train: pd.DataFrame) -> str:
    c_test, c_train = test.attrs["counts"], train.attrs["counts"]
    o_test = test.attrs["outside"]
    return "\n".join(
        [
            "<!-- validation:where -->",
            _where_verdict(test),
            "",
            f"**Test part** {vh.LOC_TEST[0][:10]} → 2024-03-30 (never used to tune anything): long "
            f"{c_test['long bars / events']}, short {c_test['short bars / events']} bars / events "
            f"(events outside their part of the bar, not scored: {o_test['long']} long, {o_test['short']} short).",
            "",
            vh.markdown(test),
            "",
            "Paired differences on the same test hours (block bootstrap over hours):",
            "",
            vh.markdown(test.attrs["differences"], index_name="difference"),
            "",
            f"**Training part** {vh.LOC_TRAIN[0][:10]} → {vh.LOC_TRAIN[1][:10]}: long "
            f"{c_train['long bars / events']}, short {c_train['short bars / events']} bars / events.",
            "",
            vh.markdown(train),
            "",
            vh.markdown(train.attrs["differences"], index_name="difference"),
            "<!-- /validation:where -->",
        ]
    )


def headline_section(count: pd.DataFrame, test: pd.DataFrame) -> str:
    rec = next(iter(count.index))
    cl = _side_margin(count.loc[rec, "long: − path-aware null"])
    cs = _side_margin(count.loc[rec, "short: − path-aware null"])
    ll = _side_margin(test.loc[rec, "long log score"])
    ls = _side_margin(test.loc[rec, "short log score"])
    kl = _side_margin(test.loc[rec, "long CRPS skill"])
    ks = _side_margin(test.loc[rec, "short CRPS skill"])
    d = test.attrs["differences"]
    vs_default = d.loc[[i for i in d.index if "Model()" in i][0]]
    vs_tiers = d.loc[[i for i in d.index if "fixed tiers" in i][0]]
    inside = [s for s, x in (("long", ll), ("short", ls)) if not x[1] > 0]
    caveat = (
        f" (interval{'s' if len(inside) > 1 else ''} including 0 on the {' and '.join(inside)} side"
        f"{'s' if len(inside) > 1 else ''})"
        if inside
        else ""
    )

    def pair(row: pd.Series) -> str:
        return f"{_ci_text(_side_margin(row['long log score']))} / {_ci_text(_side_margin(row['short log score']))}"

    return "\n".join(
        [
            "<!-- validation:headline -->",
            "* **Validated, with the numbers published** (`docs/validation.md`, written by "
            "`benchmarks/run_location.py`). *How much*, against the fair reference (range × OI summed over the "
            'same 1h path): the recommended `Model.preset("binance-btc")` ranks 4h Binance BTC liquidation bars '
            f"with a Spearman margin of {_ci_text(cl)} (long) and {_ci_text(cs)} (short), out of sample "
            f"({vh.COUNT_TEST[0][:10]} → {vh.COUNT_TEST[1][:10]}). *Where*: each Bybit BTCUSDT liquidation's price, "
            "scored against the map held before its hour over the part of the hour's range where that side can "
            "be liquidated, on ten held-out days: log score against a uniform spread "
            f"{_ci_text(ll)} (long) and {_ci_text(ls)} (short) nats per event{caveat}, CRPS skill "
            f"{_ci_text(kl)} / {_ci_text(ks)}; paired on the same hours its log-score margin over `Model()` is "
            f"{pair(vs_default)} nats, over fixed 10/25/50/100x tiers {pair(vs_tiers)}. "
            "Absolute levels are not calibrated: read the map in relative terms.",
            "<!-- /validation:headline -->",
        ]
    )


def figures(outdir: Path, reports: dict[str, dict[str, object]]) -> None:
    """Events over the map for a few days, the per-bar score series and the PIT histograms."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    from heatmap.engine import estimate
    from heatmap.plot import HEATMAP_CMAP, SIDE_COLORS, format_notional, format_price_axis
    from heatmap.validation.protocol import fixed_grid

    market, events = vh.event_data()
    names = list(vh.models())
    rec, default, tiers = names[0], names[1], names[4]
    model = vh.models()[rec]
    hm = estimate(
        market, model, grid=fixed_grid(market, bins=vh.LOC_BINS, span=vh.LOC_SPAN), snapshot_every=1
    )  # type: ignore[arg-type]
    # 1. events over the map held before each hour, three test days
    t0, t1 = pd.Timestamp("2024-03-20", tz="UTC"), pd.Timestamp("2024-03-23", tz="UTC")
    idx = market.index  # type: ignore[attr-defined]
    sel = (idx >= t0) & (idx < t1)
    pos = np.flatnonzero(sel)
    before = pos - 1  # the map held before each bar
    f = market.frame.loc[sel]  # type: ignore[attr-defined]
    lo, hi = f["low"].min() * 0.97, f["high"].max() * 1.03
    edges = hm.price_edges
    keep = (edges[:-1] >= lo) & (edges[1:] <= hi)
    ke = np.concatenate([edges[:-1][keep], [edges[1:][keep][-1]]])
    fig = Figure(figsize=(11, 5.5), facecolor="#111", layout="constrained")
    ax = fig.add_subplot(facecolor="black")
    tt = np.concatenate([idx[pos], [idx[pos[-1]] + pd.Timedelta("1h")]])
    z = (hm.long[before][:, keep] + hm.short[before][:, keep]) / np.diff(np.log(ke))
    # the library's look: linear from a floor (40th percentile of the cells, drawn as background) to the 99th
    floor, top = np.quantile(z[z > 0], [0.4, 0.99])
    mesh = ax.pcolormesh(
        tt, ke, np.where(z >= floor, z, np.nan).T, cmap=HEATMAP_CMAP, norm=Normalize(floor, top, clip=True)
    )
    ax.vlines(idx[pos] + pd.Timedelta("30min"), f["low"], f["high"], color="#9a9a9a", lw=1.0, zorder=2)
    ev = events.loc[(events.time >= t0) & (events.time < t1)]
    for side, col in SIDE_COLORS.items():
        e = ev.loc[ev.side == side]
        ax.scatter(
            e.time, e.price, s=6, color=col, label=f"{side} liquidations (Bybit, liquidation price)", zorder=3
        )
    ax.set_yscale("log")
    ax.set_ylim(lo, hi)
    format_price_axis(ax, label="price [USDT]")
    ax.yaxis.label.set_color("w")
    ax.set_title(f'{rec}: map held before each hour (density per log price) and the liquidations of the hour',
                 color="w", fontsize=10)  # fmt: skip
    ax.tick_params(colors="w", which="both")
    leg = ax.legend(loc="upper left", fontsize=8, facecolor="#222", edgecolor="#444", markerscale=2.5)
    for text in leg.get_texts():
        text.set_color("w")
    cb = fig.colorbar(mesh, ax=ax, pad=0.01, fraction=0.04, extend="max")
    cb.set_label("liquidation notional per unit log price [USDT]", color="w")
    cb.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_notional(v, currency="")))
    cb.ax.tick_params(colors="w")
    fig.savefig(outdir / "validation_where_days.png", dpi=100, facecolor=fig.get_facecolor())

    # 2. per-bar score series (daily means of the per-bar log score), whole event window
    fig = Figure(figsize=(11, 5))
    axs = fig.subplots(2, 1, sharex=True)
    for ax, side in zip(axs, ("long", "short"), strict=True):
        for name, col in ((rec, "C2"), (default, "C0"), (tiers, "C3")):
            parts = [reports[w][name].bars for w in ("train", "test")]  # type: ignore[attr-defined]
            b = pd.concat(parts)
            b = b.loc[b.side == side].set_index("time")["log_score"]
            daily = b.groupby(b.index.floor("1D")).mean()
            ax.plot(daily.index, daily.to_numpy(), color=col, lw=1.0, marker=".", ms=4, label=name)
        ax.axhline(0, color="k", lw=0.8)
        ax.axvspan(pd.Timestamp(vh.LOC_TEST[0], tz="UTC"), pd.Timestamp("2024-03-31", tz="UTC"), color="0.9")
        ax.set_ylabel(f"{side}: log score\n[nats, daily mean]")
    axs[0].legend(fontsize=8, ncol=3)
    axs[0].set_title("location score per bar (daily means; shaded: test part)")
    fig.savefig(outdir / "validation_where_scores.png", dpi=100)

    # 3. PIT / where events fall in the part versus where the map said
    fig = Figure(figsize=(11, 4.2))
    axs = fig.subplots(1, 3)
    bins = np.linspace(0, 1, 11)
    ev_all = {n: pd.concat([reports[w][n].events for w in ("train", "test")]) for n in (rec, default, tiers)}  # type: ignore[attr-defined]
    e = ev_all[rec]
    for side, col in SIDE_COLORS.items():
        u = e.loc[e.side == side, "u"].to_numpy(dtype=float)
        # 0 = the far end of the part (low for longs, high for shorts), 1 = the open
        pos_u = 1 - u if side == "long" else u
        axs[0].hist(pos_u, bins=bins, density=True, histtype="step", color=col, lw=1.5, label=side)
    axs[0].axhline(1, color="k", ls=":", lw=1)
    axs[0].set_title("where events fall in the part\n(0 = open, 1 = bar's extreme; uniform = 1)", fontsize=9)
    axs[0].legend(fontsize=8)
    for ax, side in zip(axs[1:], ("long", "short"), strict=True):
        for name, col in ((rec, "C2"), (default, "C0"), (tiers, "C3")):
            x = ev_all[name]
            pit = x.loc[x.side == side, "pit"].to_numpy(dtype=float)
            ax.hist(pit, bins=bins, density=True, histtype="step", color=col, lw=1.5, label=name)
        ax.axhline(1, color="k", ls=":", lw=1)
        ax.set_title(f"{side}: PIT of event prices under the map\n(flat = reliable)", fontsize=9)
    axs[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(outdir / "validation_where_pit.png", dpi=100)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--figures", type=Path, help="write validation_where_*.png here")
    ap.add_argument("--no-write", action="store_true", help="print only; do not rewrite docs and README")
    args = ap.parse_args(argv)
    if not vh.available():
        print(f"data not found under {vh.DATA}; nothing to do", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    count = vh.count_table()
    test, rep_test = vh.location_table(vh.LOC_TEST)
    train, rep_train = vh.location_table(vh.LOC_TRAIN)
    sections = [count_section(count), where_section(test, train)]
    headline = headline_section(count, test)
    for s in (*sections, headline):
        print(s, "\n")
    entry = CALIBRATED[vh.RECOMMENDED]
    print(f"recommended preset: {entry['calibrated_on']}")
    if not args.no_write:
        write_section("<!-- validation:count -->", "<!-- /validation:count -->", sections[0], DOC)
        write_section("<!-- validation:where -->", "<!-- /validation:where -->", sections[1], DOC)
        write_section("<!-- validation:headline -->", "<!-- /validation:headline -->", headline, README)
        print(f"wrote {DOC.name} and {README.name}")
    if args.figures is not None:
        args.figures.mkdir(parents=True, exist_ok=True)
        figures(args.figures, {"train": rep_train, "test": rep_test})
        print(f"figures written to {args.figures}")
    print(f"total {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
