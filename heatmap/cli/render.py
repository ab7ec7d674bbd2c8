"""``python -m heatmap render``: estimate a liquidation heatmap from market files and write it as a PNG.

Examples
--------
``python -m heatmap render --klines "BTCUSDT-1h-2025-01-*.zip" --metrics "BTCUSDT-metrics-2025-01-*.zip"
--funding BTCUSDT-fundingRate-2025-01.zip --out heatmap.png``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run"]

EPILOG = """\
inputs (one of):
  Binance public data (https://data.binance.vision, USD-M futures), .csv or .zip, with or without header;
  paths or quoted glob patterns, several allowed:
    --klines    futures/um/.../klines/<SYMBOL>/<interval>/   12 columns: open_time, open, high, low, close,
                volume, close_time, quote_volume, count, taker_buy_volume, taker_buy_quote_volume, ignore
    --metrics   futures/um/daily/metrics/<SYMBOL>/           5-minute rows with sum_open_interest [coins]
    --funding   futures/um/monthly/fundingRate/<SYMBOL>/     calc_time, funding_interval_hours, last_funding_rate
    --mark      futures/um/.../markPriceKlines/<SYMBOL>/<interval>/   same layout as klines (optional)
  or a generic table:
    --csv       header with a time column (time, timestamp, open_time, date or datetime; epoch s/ms/us or
                ISO 8601 with offset) and open, high, low, close, open_interest [coins]; optional funding_rate
                [fraction], volume, taker_buy_volume [coins], mark_open/high/low/close

examples:
  # one month of BTCUSDT 1h candles with open interest and funding
  python -m heatmap render --klines "BTCUSDT-1h-2025-01-*.zip" --metrics "BTCUSDT-metrics-2025-01-*.zip" \\
      --funding BTCUSDT-fundingRate-2025-01.zip --out btc.png

  # a generic table, one week, only long liquidations on a power colour scale, plus the map of the last bar
  python -m heatmap render --csv bars.csv --from 2025-01-01 --to 2025-01-08 --side long --norm power \\
      --out week.png --map-out map.png

  # the fixed-tier assumption of commercial maps, even side split
  python -m heatmap render --csv bars.csv --leverage coinglass --side-split even --out tiers.png

exit status: 0 on success, 2 on bad input (one line on stderr: which file or option, and why)
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``render`` sub-command and return its parser."""
    from heatmap.leverage import Leverage

    presets = sorted(Leverage.presets())
    p: argparse.ArgumentParser = subparsers.add_parser(
        "render",
        help="estimate a heatmap from Binance public-data files or a CSV table and write a PNG",
        description=(
            "Read candles and open interest (Binance public-data files or one generic CSV table), estimate "
            "where leveraged positions would be liquidated, and write the time x price heatmap as a PNG. "
            "Prints the totals and the largest clusters near the last price."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = p.add_argument_group("inputs")
    src.add_argument("--klines", nargs="+", metavar="PATH", help="Binance kline files or glob patterns")
    src.add_argument("--metrics", nargs="+", metavar="PATH", help="Binance metrics files (open interest)")
    src.add_argument("--funding", nargs="+", metavar="PATH", help="Binance fundingRate files")
    src.add_argument("--mark", nargs="+", metavar="PATH", help="Binance markPriceKlines files (optional)")
    src.add_argument("--csv", nargs="+", metavar="PATH", help="generic table(s) with the Market columns")
    src.add_argument(
        "--oi-unit",
        choices=("base", "quote"),
        default="base",
        help="unit of open_interest in --csv: coins (base) or USD (quote) (default: base)",
    )
    src.add_argument(
        "--assume-utc", action="store_true", help="read naive times in --csv as UTC (default: error)"
    )

    win = p.add_argument_group("window and model")
    win.add_argument("--from", dest="start", metavar="TIME", help="first bar (UTC), e.g. 2025-01-01")
    win.add_argument("--to", dest="end", metavar="TIME", help="last bar (UTC, inclusive), e.g. 2025-01-31")
    win.add_argument(
        "--bins", type=_positive_int, default=1000, help="price bins of the grid (default: 1000)"
    )
    win.add_argument(
        "--leverage",
        choices=presets,
        default="default",
        metavar="PRESET",
        help=f"leverage distribution preset: {', '.join(presets)} (default: default)",
    )
    win.add_argument(
        "--side-split",
        choices=("even", "candle", "taker", "funding"),
        default="candle",
        help="how new open interest is split between speculative longs and shorts (default: candle)",
    )
    win.add_argument(
        "--split-strength",
        type=float,
        default=None,
        help="strength of the side split in [0, 1] (default: the model's)",
    )
    win.add_argument(
        "--snapshot-every",
        type=_positive_int,
        default=None,
        metavar="N",
        help="keep a snapshot every N bars (default: every bar within the memory budget)",
    )
    win.add_argument("--engine", choices=("grid", "ledger"), default="grid", help="engine (default: grid)")

    fig = p.add_argument_group("figure")
    fig.add_argument(
        "--out", type=Path, default=Path("heatmap.png"), help="PNG to write (default: heatmap.png)"
    )
    fig.add_argument(
        "--side", choices=("both", "long", "short"), default="both", help="sides to draw (default: both)"
    )
    fig.add_argument(
        "--norm",
        choices=("log", "linear", "power"),
        default="log",
        help="colour scale of notional (default: log)",
    )
    fig.add_argument(
        "--yscale", choices=("linear", "log"), default="linear", help="price axis scale (default: linear)"
    )
    fig.add_argument("--clusters", action="store_true", help="mark the largest clusters of the last bar")
    fig.add_argument(
        "--map-out", type=Path, default=None, help="also write the liquidation map of the last bar"
    )
    fig.add_argument(
        "--html",
        type=Path,
        default=None,
        help="also write a self-contained interactive HTML heatmap (hover, zoom; needs the interactive extra)",
    )
    fig.add_argument(
        "--size",
        type=float,
        nargs=2,
        default=(12.0, 6.0),
        metavar=("W", "H"),
        help="figure size in inches (default: 12 6)",
    )
    fig.add_argument("--dpi", type=_positive_int, default=150, help="resolution (default: 150)")
    fig.add_argument("--top", type=_positive_int, default=5, help="clusters to print (default: 5)")
    fig.add_argument(
        "--progress",
        choices=("auto", "on", "off"),
        default="auto",
        help="progress bar on stderr: auto shows it for long runs on a terminal (default: auto)",
    )
    return p


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _fmt_freq(freq: Any) -> str:
    seconds = int(freq.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _read_market(args: argparse.Namespace) -> Any:
    from heatmap.io.binance import read_binance
    from heatmap.io.frames import read_csv_market

    binance = [args.klines, args.metrics, args.funding, args.mark]
    if args.csv and any(binance):
        raise ValueError("give either --csv or the Binance files (--klines ...), not both")
    if args.csv:
        try:
            return read_csv_market(args.csv, oi_unit=args.oi_unit, assume_utc=args.assume_utc)
        except ValueError as exc:
            raise ValueError(f"--csv {' '.join(args.csv)}: {_one_line(exc)}") from exc
    if not args.klines:
        raise ValueError("no input: give --klines (with --metrics for open interest) or --csv")
    if not args.metrics:
        raise ValueError("--metrics is required with --klines: the heatmap needs open interest")
    return read_binance(klines=args.klines, metrics=args.metrics, funding=args.funding, mark=args.mark)


def _slice(market: Any, start: str | None, end: str | None) -> Any:
    import pandas as pd

    def ts(text: str | None, name: str) -> pd.Timestamp | None:
        if text is None:
            return None
        try:
            t = pd.Timestamp(text)
        except ValueError:
            raise ValueError(
                f"{name} {text!r} is not a time; use e.g. 2025-01-31 or 2025-01-31T12:00Z"
            ) from None
        return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")

    a, b = ts(start, "--from"), ts(end, "--to")
    if a is None and b is None:
        return market
    if a is not None and b is not None and b < a:
        raise ValueError(f"--to {end} is before --from {start}")
    out = market.slice(a, b)
    if len(out) < 2:
        raise ValueError(
            f"the window --from {start} --to {end} holds {len(out)} bars; the data span "
            f"{market.start} to {market.end}"
        )
    return out


def run(args: argparse.Namespace) -> int:
    """Run ``render``; returns the process exit code (2 on bad input)."""
    try:
        return _run(args)
    except (ValueError, FileNotFoundError, KeyError, TypeError) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from heatmap.engine import estimate
    from heatmap.leverage import Leverage
    from heatmap.model import Model
    from heatmap.plot import format_notional, render_png

    out = Path(args.out)
    if not out.parent.exists():
        raise FileNotFoundError(f"--out: folder {str(out.parent)!r} does not exist")
    if args.map_out is not None and not Path(args.map_out).parent.exists():
        raise FileNotFoundError(f"--map-out: folder {str(Path(args.map_out).parent)!r} does not exist")
    market = _slice(_read_market(args), args.start, args.end)
    options: dict[str, Any] = {"leverage": Leverage.preset(args.leverage), "side_split": args.side_split}
    if args.split_strength is not None:
        options["split_strength"] = args.split_strength
    model = Model(**options)
    if args.progress == "auto":
        progress = sys.stderr.isatty() and len(market) * args.bins > 5_000_000
    else:
        progress = args.progress == "on"
    hm = estimate(
        market,
        model,
        bins=args.bins,
        snapshot_every=args.snapshot_every,
        engine=args.engine,
        progress=progress,
    )
    snap = hm.at(-1)
    total = snap.total
    print(
        f"{market.symbol or 'market'}: {len(market)} bars of {_fmt_freq(market.freq)} "
        f"from {market.start} to {market.end}; "
        f"{hm.shape[0]} snapshots x {hm.shape[1]} bins"
    )
    print(
        f"last price {snap.price:,.2f}; liquidation notional long {format_notional(total['long'])}, "
        f"short {format_notional(total['short'])}"
    )
    clusters = snap.clusters(top=args.top)
    for row in clusters.to_dict("records"):
        print(
            f"  #{int(row['rank'])} {row['side']:>5} {float(row['price']):>14,.2f}  "
            f"{float(row['distance']):+7.2%}  {format_notional(float(row['notional']))}"
        )
    size = (float(args.size[0]), float(args.size[1]))
    render_png(
        hm,
        out,
        dpi=args.dpi,
        size=size,
        side=args.side,
        norm=args.norm,
        yscale=args.yscale,
        clusters=args.clusters,
    )
    print(f"wrote {out}")
    if args.map_out is not None:
        render_png(snap, args.map_out, dpi=args.dpi, size=(8.0, 7.0))
        print(f"wrote {args.map_out}")
    if args.html is not None:
        from heatmap.interactive import to_html

        to_html(hm, args.html, side=args.side, norm="linear" if args.norm == "linear" else "log")
        print(f"wrote {args.html}")
    return 0
