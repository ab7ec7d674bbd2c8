"""``python -m heatmap demo``: simulate the synthetic world, estimate its heatmap, write a PNG (no files needed).

Examples
--------
``python -m heatmap demo --out heatmap.png --days 60 --freq 1h --seed 7``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``demo`` sub-command and return its parser."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help="estimate a heatmap of the built-in synthetic market and write a PNG",
        description=(
            "Simulate the seeded synthetic market (traders with known leverage), estimate its liquidation "
            "heatmap with the default model, write the figure and print the largest clusters near the last price."
        ),
    )
    p.add_argument(
        "--out", type=Path, default=Path("heatmap.png"), help="PNG to write (default: heatmap.png)"
    )
    p.add_argument("--days", type=_positive_int, default=60, help="days of bars to simulate (default: 60)")
    p.add_argument("--freq", default="1h", help="bar length, e.g. 15min, 1h, 4h (default: 1h)")
    p.add_argument("--seed", type=int, default=7, help="random seed of the synthetic world (default: 7)")
    p.add_argument("--bins", type=_positive_int, default=1000, help="price bins of the grid (default: 1000)")
    p.add_argument("--top", type=_positive_int, default=5, help="clusters to print (default: 5)")
    return p


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    """Run the demo; returns the process exit code."""
    from heatmap.engine import estimate
    from heatmap.synthetic import synthetic_market

    t0 = time.perf_counter()
    market = synthetic_market(days=args.days, freq=args.freq, seed=args.seed)
    t1 = time.perf_counter()
    hm = estimate(market, bins=args.bins)
    t2 = time.perf_counter()
    snap = hm.at(-1)
    print(
        f"synthetic market: {len(market)} bars of {args.freq} (seed {args.seed}), last price {snap.price:,.2f}; "
        f"{hm.shape[0]} snapshots x {hm.shape[1]} bins"
    )
    total = snap.total
    print(
        f"liquidation notional at the last bar: long {total['long']:,.0f}, short {total['short']:,.0f} [quote]"
    )
    clusters = snap.clusters(top=args.top)
    if len(clusters):
        print(f"largest clusters near the last price (top {args.top}):")
        print(clusters.to_string(index=False))
    else:
        print("no clusters found near the last price")
    out = Path(args.out)
    try:
        hm.save(out)
    except ModuleNotFoundError as exc:  # plotting is an optional part of the installation
        if exc.name != "heatmap.plot":
            raise
        print("error: PNG rendering needs heatmap.plot, which is not available in this installation")
        return 1
    t3 = time.perf_counter()
    print(
        f"wrote {out}  (simulate {t1 - t0:.2f} s, estimate {t2 - t1:.2f} s, render {t3 - t2:.2f} s, "
        f"total {t3 - t0:.2f} s)"
    )
    return 0
