"""``python -m heatmap cascade``: how far a price shock would cascade through the latest liquidation map.

Examples
--------
``python -m heatmap cascade --shock -0.03``  (synthetic market, 60 days, seed 7)
``python -m heatmap cascade --shock 5% --candles 'BTCUSDT-1h-2025-*.zip' --oi 'BTCUSDT-metrics-2025-*.zip'``
``python -m heatmap cascade --shock -3% --depth-c0 200m --delta0 1% --gamma 0.6 --stress 2``
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

import numpy as np
import pandas as pd

from heatmap.cli.forms import amount, move, positive_int
from heatmap.cli.inputs import add_input_options, market_from_args
from heatmap.cli.jitnote import note_first_compile
from heatmap.market import _fmt_td

__all__ = ["add_parser", "compute", "run"]


def _positive(text: str) -> float:
    value = amount(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
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
        "--shock", type=move, required=True, help="exogenous move, e.g. -3%% or -0.03 for a 3 %% drop"
    )
    src = p.add_argument_group("synthetic market (unless --candles or --coinglass-dir is given)")
    src.add_argument("--days", type=positive_int, default=60, help="synthetic: days of bars (default: 60)")
    src.add_argument("--freq", default="1h", help="synthetic: bar length (default: 1h)")
    src.add_argument("--seed", type=int, default=7, help="synthetic: seed (default: 7)")
    src.add_argument("--bins", type=positive_int, default=1000, help="price bins (default: 1000)")
    add_input_options(p, title="market files")
    dp = p.add_argument_group(
        "depth (default: DepthCurve.from_market: book within --delta0 = --book-share x daily volume)"
    )
    dp.add_argument(
        "--depth-c0", type=_positive, default=None, help="notional absorbed by a --delta0 move [quote]"
    )
    dp.add_argument(
        "--delta0",
        type=_positive_move,
        default=0.01,
        help="reference move of --depth-c0, e.g. 1%% (default: 0.01)",
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
        type=move,
        nargs="+",
        default=None,
        help="shocks of the fragility table (default: -10 %% .. +10 %% in 1 %% steps)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    return p


def _positive_move(text: str) -> float:
    value = move(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive move such as 1% or 0.01, got {text!r}")
    return value


def _market(args: argparse.Namespace) -> tuple[Any, str]:
    if any([args.candles, args.oi, args.funding, args.mark, args.coinglass_dir]):
        market, source = market_from_args(args)
        return market, f"{source}: {len(market)} bars of {_fmt_td(market.freq)}"
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
    note_first_compile()
    snap = estimate(market, bins=args.bins).at(-1)
    depth = _depth(args, market)
    result = simulate_cascade(snap, args.shock, depth=depth, max_move=args.max_move)
    shocks = args.shocks if args.shocks else np.round(np.arange(-10, 11) * 0.01, 4)
    shocks = [s for s in shocks if abs(s) < args.max_move]
    table = fragility_curve(snap, shocks, depth=depth, max_move=args.max_move)
    return {"source": source, "snapshot": snap, "depth": depth, "result": result, "fragility": table}


def _format_table(table: pd.DataFrame) -> str:
    from heatmap.plot import format_notional

    out = pd.DataFrame(
        {
            "shock": table["shock"].map(lambda x: f"{x:+.1%}"),
            "final move": table["final_move"].map(lambda x: f"{x:+.2%}"),
            "liquidated long": table["liquidated_long"].map(format_notional),
            "liquidated short": table["liquidated_short"].map(format_notional),
            "amplification": table["amplification"].map(lambda x: "n/a" if math.isnan(x) else f"x{x:.2f}"),
            "runaway": table["runaway"].map(lambda x: "RUNAWAY" if x else ""),
        }
    )
    return out.to_string(index=False)


def _depth_dict(depth: Any) -> dict[str, Any]:
    """The depth model as plain values: its kind and parameters."""
    from dataclasses import asdict

    return {"kind": type(depth).__name__, **{k: float(v) for k, v in asdict(depth).items()}}


def _depth_text(depth: Any) -> str:
    from heatmap.plot import format_notional

    d = _depth_dict(depth)
    stress = "" if d["stress"] == 1 else f", depth divided by {d['stress']:g} (stress)"
    if d["kind"] == "DepthCurve":
        return (
            f"depth: {format_notional(d['c0'])} absorbed by a {d['delta0']:.2%} move, growing as "
            f"(move/{d['delta0']:.2%})^{d['gamma']:g}{stress}"
        )
    return (
        f"depth: square-root impact {d['Y']:g} x sigma {d['sigma']:.2%} x sqrt(Q / {format_notional(d['volume'])} "
        f"daily volume){stress}"
    )


def _cascade_text(res: Any) -> str:
    from heatmap.plot import format_notional

    amp = "n/a" if math.isnan(res.amplification) else f"x{res.amplification:.2f}"
    how = (
        "RUNAWAY (beyond --max-move)"
        if res.runaway
        else f"converged in {res.iterations} iterations"
        if res.converged
        else f"not converged after {res.iterations} iterations"
    )
    return (
        f"cascade: shock {res.shock:+.2%} -> move {res.move:+.2%} (amplification {amp}); price "
        f"{res.price:,.2f} -> {res.final_price:,.2f}; liquidated long {format_notional(res.liquidated_long)}, "
        f"short {format_notional(res.liquidated_short)}; {how}"
    )


def run(args: argparse.Namespace) -> int:
    """Print the cascade result and the fragility table; return the exit status."""
    from heatmap.plot import format_notional

    out = compute(args)
    snap, res, table = out["snapshot"], out["result"], out["fragility"]
    if args.json:
        cascade = res.to_dict()
        cascade["depth"] = _depth_dict(out["depth"])
        print(
            json.dumps(
                {
                    "source": out["source"],
                    "time": snap.time.isoformat(),
                    "price": snap.price,
                    "liquidation_notional": {k: float(v) for k, v in snap.total.items()},
                    "depth": _depth_dict(out["depth"]),
                    "cascade": cascade,
                    "fragility": table.to_dict(orient="records"),
                },
                default=float,
            )
        )
        return 0
    total = snap.total
    print(out["source"])
    print(
        f"liquidation map at {snap.time:%Y-%m-%d %H:%M} UTC, price {snap.price:,.2f}: long "
        f"{format_notional(total['long'])} below, short {format_notional(total['short'])} above "
        f"({len(snap.price_edges) - 1} bins)"
    )
    print(_depth_text(out["depth"]))
    print(_cascade_text(res))
    print()
    print("fragility curve")
    print(_format_table(table))
    return 0
