"""Walk-forward validation on Binance BTC (4h realized liquidations): the numbers and figures of docs/validation.md.

Reads ../shared/data in place (never copied). Windows (bar open times, UTC, half-open):

* warm-up: 2024-11-13 20:00 → 2024-11-27 20:00 (14 days, not scored)
* train:   2024-11-27 20:00 → 2025-03-15 00:00
* test:    2025-03-15 00:00 → 2025-06-01 00:00 (out of sample: never seen by the calibration)

Usage::

    python benchmarks/run_validation.py --ablations --figures docs/figures   # tables -> docs/validation.md
    python benchmarks/run_validation.py --calibrate     # re-run the count-only calibration first (≈ 3-5 min)

Writes the marked sections ``validation:results`` (and ``validation:ablations`` with ``--ablations``) of
docs/validation.md (``--no-write``: print only); ``--figures`` writes ``validation_*.png``. The headline tables
(count skill against the path-aware null, location skill) come from ``benchmarks/run_location.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _docs import write_section

from heatmap.calibrated import CALIBRATED, PREVIOUS_BINANCE_BTC, calibrated_model
from heatmap.engine import estimate
from heatmap.model import Model
from heatmap.validation import baselines
from heatmap.validation.calibrate import calibrate
from heatmap.validation.datasets import hourly_market, load_coinglass
from heatmap.validation.metrics import compare, markdown_table, score, spearman_difference
from heatmap.validation.protocol import fixed_grid, walk_forward

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "validation.md"
DATA = ROOT.parent / "shared" / "data"
COINGLASS = DATA / "coinglass-btc-4h" / "derived"
CANDLES = DATA / "binance-btcusdt-1h" / "BTCUSDT_1h_Cleaned.csv"
END = "2025-05-31 20:00"
TRAIN = ("2024-11-13 20:00", "2025-03-15 00:00")
TEST = ("2025-03-15 00:00", "2025-06-01 00:00")
WARMUP = "14D"
BINS = 800
SEARCH = {
    "leverage.median": (3.0, 60.0),
    "leverage.sigma": (0.2, 1.5),
    "passive_leverage.median": (1.5, 10.0),
    "passive_leverage.sigma": (0.2, 1.0),
    "split_strength": (0.0, 1.0),
    "turnover": (0.0, 0.5),
}
METRICS = ("spearman", "spearman_vs_null", "partial_skill", "precision_at_10pct")


def _frame_with(frame: pd.DataFrame, pred: pd.DataFrame) -> pd.DataFrame:
    f = frame.copy()
    f["predicted_long"] = pred["long"].reindex(f.index).to_numpy()
    f["predicted_short"] = pred["short"].reindex(f.index).to_numpy()
    return f


def frames_for(m4, m1, realized, models: dict[str, tuple[Model, str]], window) -> dict[str, pd.DataFrame]:
    """Walk-forward frames of every model and baseline on one window."""
    out: dict[str, pd.DataFrame] = {}
    for name, (model, res) in models.items():
        if res == "1h":
            out[name] = walk_forward(
                m1, model, realized, bins=BINS, warmup=WARMUP, freq="4h", start=window[0], end=window[1]
            )
        else:
            out[name] = walk_forward(
                m4, model, realized, bins=BINS, warmup=WARMUP, start=window[0], end=window[1]
            )
    ref = next(iter(out.values()))
    out["range × OI (null)"] = _frame_with(ref, baselines.range_oi(m4))
    out["range × OI, 1h path"] = _frame_with(ref, baselines.range_oi(m1, freq="4h"))
    out["fixed tiers 10/25/50/100x"] = _frame_with(ref, baselines.fixed_tiers(m4))
    out["fixed tiers, equal weights"] = _frame_with(
        ref, baselines.fixed_tiers(m4, tiers=baselines.EQUAL_TIERS)
    )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--calibrate", action="store_true", help="re-run the calibration (prints the CALIBRATED entry)"
    )
    ap.add_argument("--maxiter", type=int, default=5)
    ap.add_argument("--popsize", type=int, default=5)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--figures", type=Path, help="write validation_*.png here")
    ap.add_argument("--ablations", action="store_true", help="one-feature-off table for the calibrated model")
    ap.add_argument("--no-write", action="store_true", help="print only; do not rewrite docs/validation.md")
    args = ap.parse_args(argv)
    out: list[str] = []

    def emit(text: str = "") -> None:
        print(text)
        out.append(text)

    if not COINGLASS.is_dir() or not CANDLES.is_file():
        print(f"data not found under {DATA}; nothing to do", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    m4, realized = load_coinglass(COINGLASS, end=END)
    m1 = hourly_market(m4, CANDLES)
    print(f"market: {m4}\nhourly: {m1}\n")

    if args.calibrate:
        cal = calibrate(
            m1, realized, train=TRAIN, test=TEST, params=SEARCH, base=Model(), objective="mixed",
            maxiter=args.maxiter, popsize=args.popsize, bins=500, warmup=WARMUP, freq="4h", seed=0, n_boot=200,
        )  # fmt: skip
        print(cal)
        print("params:", {k: round(v, 4) for k, v in cal.params.items()})
        print("model dict:", cal.model.to_dict())
        print(f"runtime {cal.info['seconds']:.0f} s, {cal.info['evaluations']} engine runs\n")
        calibrated = cal.model
        cal4 = calibrate(
            m4, realized, train=TRAIN, test=TEST, params=SEARCH, base=Model(), objective="mixed",
            maxiter=args.maxiter, popsize=args.popsize, bins=500, warmup=WARMUP, seed=0, n_boot=200,
        )  # fmt: skip
        print("4h engine:", cal4)
        print("params:", {k: round(v, 4) for k, v in cal4.params.items()})
        calibrated_4h = cal4.model
    else:
        calibrated = calibrated_model("binance-btc")
        calibrated_4h = calibrated_model("binance-btc-4h")
    entry = CALIBRATED["binance-btc"]
    print(f"calibrated preset: {entry['calibrated_on']}; window {entry['window']}\n")

    models = {
        "default Model(), 4h": (Model(), "4h"),
        "default Model(), 1h path": (Model(), "1h"),
        "calibrated (1h preset) on 4h bars": (calibrated, "4h"),
        "calibrated for 4h, 4h": (calibrated_4h, "4h"),
        "calibrated, 1h path": (calibrated, "1h"),
        f"previous preset ({PREVIOUS_BINANCE_BTC}), 1h path": (
            calibrated_model(f"binance-btc-{PREVIOUS_BINANCE_BTC}"),
            "1h",
        ),
    }
    reports: dict[str, dict[str, object]] = {}
    all_frames = {}
    for wname, window in (("test", TEST), ("train", TRAIN)):
        frames = frames_for(m4, m1, realized, models, window)
        all_frames[wname] = frames
        reps = {k: score(f, n_boot=args.n_boot, seed=0) for k, f in frames.items()}
        reports[wname] = reps
        ref = next(iter(frames.values()))
        emit(
            f"### {wname}: {len(ref)} bars, {ref.index[0]:%Y-%m-%d %H:%M} → {ref.index[-1]:%Y-%m-%d %H:%M} UTC\n"
        )
        for side in ("long", "short"):
            emit(f"**{side}**\n")
            emit(markdown_table(compare(reps, side=side, metrics=METRICS), index_name="model"))
            emit()
        path_null = baselines.range_oi(m1, freq="4h")
        rows = {}
        for k in models:
            cells = {}
            for side in ("long", "short"):
                dd, lo, hi = spearman_difference(frames[k], path_null, side=side, n_boot=args.n_boot)
                cells[f"{side}: Spearman − path-aware null"] = f"{dd:+.3f} [{lo:+.3f}, {hi:+.3f}]"
            rows[k] = cells
        emit("paired difference against the path-aware null (range × OI summed over the 1h bars)\n")
        emit(markdown_table(pd.DataFrame.from_dict(rows, orient="index"), index_name="model"))
        emit()
        d = pd.DataFrame.from_dict(
            {
                k: {
                    "direction accuracy": f"{r.get('both', 'direction'):.2f}",
                    "bars with a call": int(r.to_frame().loc[("both", "direction"), "n"]),
                }
                for k, r in reps.items()
            },
            orient="index",
        )
        emit(markdown_table(d, index_name="model"))
        emit()

    if args.ablations:
        emit("### ablations (test window, calibrated model on the 1h path, one change at a time)\n")
        rows = {}
        variants = {
            "calibrated": calibrated,
            "turnover = 0": calibrated.replace(turnover=0.0),
            "side_split = even": calibrated.replace(side_split="even"),
            "side_split = funding": calibrated.replace(side_split="funding"),
            "funding drift off": calibrated.replace(funding=False),
            "entry = close": calibrated.replace(entry="close"),
            "exit = oldest": calibrated.replace(exit="oldest"),
            "exit = nearest": calibrated.replace(exit="nearest"),
            "decay half-life 7 days": calibrated.replace(decay_half_life="7D"),
            "leverage = fixed tiers": calibrated.replace(leverage=Model.preset("coinglass-like").leverage),
        }
        for name, model in variants.items():
            for res, mk in (("1h path", m1), ("4h", m4)):
                f = walk_forward(mk, model, realized, bins=BINS, warmup=WARMUP, start=TEST[0], end=TEST[1],
                                 freq="4h" if res == "1h path" else None)  # fmt: skip
                r = score(f, n_boot=0)
                rows[(name, res)] = {
                    "Spearman long": f"{r.get('long', 'spearman'):.3f}",
                    "Spearman short": f"{r.get('short', 'spearman'):.3f}",
                    "partial long": f"{r.get('long', 'partial_skill'):.3f}",
                    "partial short": f"{r.get('short', 'partial_skill'):.3f}",
                }
        tab = pd.DataFrame.from_dict(rows, orient="index")
        tab.index = [f"{a} ({b})" for a, b in tab.index]
        emit(markdown_table(tab, index_name="variant"))
        emit()

    if not args.no_write:
        abl = "\n".join(out).find("### ablations")
        tables = "\n".join(out) if abl < 0 else "\n".join(out)[:abl]
        write_section(
            "<!-- validation:results -->",
            "<!-- /validation:results -->",
            "<!-- validation:results -->\n" + tables.strip() + "\n<!-- /validation:results -->",
            DOC,
        )
        if abl >= 0:
            write_section(
                "<!-- validation:ablations -->",
                "<!-- /validation:ablations -->",
                "<!-- validation:ablations -->\n"
                + "\n".join(out)[abl:].strip()
                + "\n<!-- /validation:ablations -->",
                DOC,
            )
        print(f"wrote {DOC}")

    if args.figures is not None:
        from heatmap.validation_plot import plot_scores, plot_stress_bars, plot_walk_forward, stress_bars

        args.figures.mkdir(parents=True, exist_ok=True)
        keep = ["calibrated, 1h path", "calibrated for 4h, 4h", "default Model(), 4h", "range × OI (null)",
                "range × OI, 1h path", "fixed tiers 10/25/50/100x"]  # fmt: skip
        for wname in ("train", "test"):
            fig = plot_scores(
                {k: reports[wname][k] for k in keep}, title=f"{wname} window: walk-forward scores"
            )  # type: ignore[misc]
            fig.savefig(args.figures / f"validation_scores_{wname}.png", dpi=100)
        test_frame = all_frames["test"]["calibrated, 1h path"]
        fig = plot_walk_forward(
            test_frame, title="test window, calibrated model on the 1h path vs realized (4h)"
        )
        fig.savefig(args.figures / "validation_walkforward.png", dpi=100)
        # stress bars: largest realized bars of the test window, the map before each bar (4h engine, same model)
        bars = stress_bars(all_frames["test"]["calibrated for 4h, 4h"], n=4)
        hm = estimate(m4, calibrated_4h, grid=fixed_grid(m4, bins=BINS), snapshot_every=1)
        snaps = [hm.at(int(np.searchsorted(hm.times, t)) - 1) for t in bars.index]
        fig = plot_stress_bars(
            snaps, bars, m4.frame, title="stress bars (test window): map before the bar vs realized"
        )
        fig.savefig(args.figures / "validation_stress.png", dpi=100)
        print(f"figures written to {args.figures}")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
