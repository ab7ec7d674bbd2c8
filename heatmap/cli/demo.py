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

from heatmap.cli.forms import positive_int as _positive_int
from heatmap.cli.jitnote import note_first_compile

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
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    return p


def run(args: argparse.Namespace) -> int:
    """Run the demo; returns the process exit code."""
    from heatmap.cli.render import check_out_folder, cluster_lines, cluster_records, market_record, print_json
    from heatmap.engine import estimate
    from heatmap.plot import format_notional
    from heatmap.synthetic import synthetic_market

    out = Path(args.out)
    check_out_folder(out, "--out")
    t0 = time.perf_counter()
    market = synthetic_market(days=args.days, freq=args.freq, seed=args.seed)
    t1 = time.perf_counter()
    note_first_compile()
    hm = estimate(market, bins=args.bins)
    t2 = time.perf_counter()
    snap = hm.at(-1)
    total = snap.total
    clusters = cluster_records(snap, args.top)
    hm.save(out)
    t3 = time.perf_counter()
    seconds = {"simulate": t1 - t0, "estimate": t2 - t1, "render": t3 - t2, "total": t3 - t0}
    if args.json:
        print_json(
            {
                "market": market_record(market),
                "seed": args.seed,
                "snapshots": hm.shape[0],
                "bins": hm.shape[1],
                "time": snap.time,
                "price": snap.price,
                "liquidation_notional": {"long": float(total["long"]), "short": float(total["short"])},
                "clusters": clusters,
                "wrote": [str(out)],
                "seconds": seconds,
            }
        )
        return 0
    print(
        f"synthetic market: {len(market)} bars of {args.freq} (seed {args.seed}), last price {snap.price:,.2f}; "
        f"{hm.shape[0]} snapshots x {hm.shape[1]} bins"
    )
    print(
        f"liquidation notional at the last bar: long {format_notional(total['long'])} below the price, "
        f"short {format_notional(total['short'])} above"
    )
    print("\n".join(cluster_lines(clusters, args.top)))
    print(
        f"wrote {out}  (simulate {seconds['simulate']:.2f} s, estimate {seconds['estimate']:.2f} s, "
        f"render {seconds['render']:.2f} s, total {seconds['total']:.2f} s)"
    )
    return 0
