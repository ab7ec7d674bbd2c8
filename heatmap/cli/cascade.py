"""``python -m heatmap cascade``: how far a price shock would cascade through the latest liquidation map.

Examples
--------
``python -m heatmap cascade --shock -0.03``  (synthetic market, 60 days, seed 7)
``python -m heatmap cascade --shock 0.05 --klines 'BTCUSDT-1h-2025-*.zip' --metrics 'BTCUSDT-metrics-2025-*.zip'``
``python -m heatmap cascade --shock -0.03 --depth-c0 2e8 --delta0 0.01 --gamma 0.6 --stress 2``
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["add_parser", "compute", "run"]


def _fraction(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or not -1 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a relative move in (-1, 1), got {text!r}")
    return value


def _positive(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``cascade`` sub-command and return its parser."""
    p = subparsers.add_parser(
        "cascade",
        help="liquidation-cascade simulation on the latest liquidation map",
        description=(
            "Estimate the liquidation map at the last bar (synthetic market by default, or Binance public-data "
            "files), then solve the cascade fixed point d* = shock + impact(liquidated notional within d*) for "
            "one shock and print the fragility table over a range of shocks. Moves are fractions of price."
        ),
    )
    p.add_argument(
        "--shock", type=_fraction, required=True, help="exogenous move, e.g. -0.03 for a 3 %% drop"
    )
    src = p.add_argument_group("market (synthetic unless --klines is given)")
    src.add_argument("--days", type=_positive_int, default=60, help="synthetic: days of bars (default: 60)")
    src.add_argument("--freq", default="1h", help="synthetic: bar length (default: 1h)")
    src.add_argument("--seed", type=int, default=7, help="synthetic: seed (default: 7)")
    src.add_argument("--klines", nargs="+", default=None, help="Binance kline files (paths or globs)")
    src.add_argument("--metrics", nargs="+", default=None, help="Binance metrics files (open interest)")
    src.add_argument("--funding", nargs="+", default=None, help="Binance funding-rate files (optional)")
    src.add_argument("--bins", type=_positive_int, default=1000, help="price bins (default: 1000)")
    dp = p.add_argument_group(
        "depth (default: DepthCurve.from_market: book within --delta0 = --book-share x daily volume)"
    )
    dp.add_argument(
        "--depth-c0", type=_positive, default=None, help="notional absorbed by a --delta0 move [quote]"
    )
    dp.add_argument(
        "--delta0", type=_positive, default=0.01, help="reference move of --depth-c0 (default: 0.01)"
    )
    dp.add_argument("--gamma", type=_positive, default=0.6, help="depth exponent (default: 0.6)")
    dp.add_argument(
        "--book-share",
        type=_positive,
        default=0.05,
        help="default depth: share of daily traded notional absorbed within --delta0 (default: 0.05)",
    )
    dp.add_argument(
        "--sqrt", action="store_true", help="square-root impact Y*sigma*sqrt(Q/V) from the market"
    )
    dp.add_argument("--Y", type=_positive, default=1.0, help="square-root prefactor (default: 1)")
    dp.add_argument("--stress", type=_positive, default=1.0, help="depth divided by this factor (default: 1)")
    p.add_argument("--max-move", type=_positive, default=0.5, help="runaway threshold (default: 0.5)")
    p.add_argument(
        "--shocks",
        type=_fraction,
        nargs="+",
        default=None,
        help="shocks of the fragility table (default: -10 %% .. +10 %% in 1 %% steps)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    return p


def _market(args: argparse.Namespace) -> tuple[Any, str]:
    if args.klines:
        if not args.metrics:
            raise ValueError("--klines needs --metrics (open interest)")
        from heatmap.market import Market

        market = Market.from_binance(klines=args.klines, metrics=args.metrics, funding=args.funding)
        return market, f"Binance files: {len(market)} bars of {market.freq}"
    from heatmap.synthetic import synthetic_market

    market = synthetic_market(days=args.days, freq=args.freq, seed=args.seed)
    return market, f"synthetic market: {len(market)} bars of {args.freq} (seed {args.seed})"


def _depth(args: argparse.Namespace, market: Any) -> Any:
    from heatmap.cascade import DepthCurve, SqrtImpact

    if args.depth_c0 is not None:
        return DepthCurve(c0=args.depth_c0, delta0=args.delta0, gamma=args.gamma, stress=args.stress)
    if args.sqrt:
        return SqrtImpact.from_market(market, Y=args.Y, stress=args.stress)
    return DepthCurve.from_market(
        market, gamma=args.gamma, delta0=args.delta0, book_share=args.book_share, stress=args.stress
    )


def compute(args: argparse.Namespace) -> dict[str, Any]:
    """Run the estimate and the cascade; return the printed quantities as a dict."""
    from heatmap.cascade import fragility_curve, simulate_cascade
    from heatmap.engine import estimate

    if abs(args.shock) >= args.max_move:
        raise ValueError(f"--shock: |{args.shock}| must be below --max-move {args.max_move}")
    market, source = _market(args)
    snap = estimate(market, bins=args.bins).at(-1)
    depth = _depth(args, market)
    result = simulate_cascade(snap, args.shock, depth=depth, max_move=args.max_move)
    shocks = args.shocks if args.shocks else np.round(np.arange(-10, 11) * 0.01, 4)
    shocks = [s for s in shocks if abs(s) < args.max_move]
    table = fragility_curve(snap, shocks, depth=depth, max_move=args.max_move)
    return {"source": source, "snapshot": snap, "depth": depth, "result": result, "fragility": table}


def _format_table(table: pd.DataFrame) -> str:
    out = pd.DataFrame(
        {
            "shock": table["shock"].map(lambda x: f"{x:+.1%}"),
            "final move": table["final_move"].map(lambda x: f"{x:+.2%}"),
            "liq. long [quote]": table["liquidated_long"].map(lambda x: f"{x:,.0f}"),
            "liq. short [quote]": table["liquidated_short"].map(lambda x: f"{x:,.0f}"),
            "amplification": table["amplification"].map(lambda x: "n/a" if math.isnan(x) else f"x{x:.2f}"),
            "runaway": table["runaway"].map(lambda x: "RUNAWAY" if x else ""),
        }
    )
    return out.to_string(index=False)


def run(args: argparse.Namespace) -> int:
    """Print the cascade result and the fragility table; return the exit status."""
    out = compute(args)
    snap, res, table = out["snapshot"], out["result"], out["fragility"]
    if args.json:
        print(
            json.dumps(
                {
                    "source": out["source"],
                    "time": snap.time.isoformat(),
                    "price": snap.price,
                    "depth": repr(out["depth"]),
                    "cascade": res.to_dict(),
                    "fragility": table.to_dict(orient="records"),
                },
                default=float,
            )
        )
        return 0
    print(out["source"])
    print(f"liquidation map at {snap.time} (price {snap.price:,.2f}): {snap!r}")
    print(f"depth: {out['depth']!r}")
    print(res)
    print()
    print("fragility curve")
    print(_format_table(table))
    return 0
