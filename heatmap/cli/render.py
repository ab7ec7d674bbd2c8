"""``python -m heatmap render``: estimate a liquidation heatmap from market files and write it as a PNG.

Examples
--------
``python -m heatmap render --klines "BTCUSDT-1h-2025-01-*.zip" --metrics "BTCUSDT-metrics-2025-01-*.zip"
--funding BTCUSDT-fundingRate-2025-01.zip --out heatmap.png``
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
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

  # the model calibrated on Binance BTC liquidations (--model presets; --leverage etc. override them)
  python -m heatmap render --csv bars.csv --model binance-btc --out calibrated.png

  # several venues or symbols on one map: see `python -m heatmap aggregate --help`

exit status: 0 on success, 2 on bad input (one line on stderr: which file or option, and why)
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``render`` sub-command and return its parser."""
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
    add_table_options(src, what="--csv")
    add_window_and_model_options(p.add_argument_group("window and model"))
    fig = p.add_argument_group("figure")
    add_figure_options(fig, out="heatmap.png", html="an interactive HTML heatmap")
    fig.add_argument(
        "--map-out", type=Path, default=None, help="also write the liquidation map of the last bar"
    )
    fig.add_argument(
        "--progress",
        choices=("auto", "on", "off"),
        default="auto",
        help="progress bar on stderr: auto shows it for long runs on a terminal (default: auto)",
    )
    return p


# -- options and helpers shared with the ``aggregate`` command ----------------------------------------------------


def add_table_options(group: Any, *, what: str, oi_unit: bool = True) -> None:
    """Add ``--oi-unit`` (unless ``oi_unit`` is False) and ``--assume-utc`` (how generic tables are read)."""
    if oi_unit:
        group.add_argument(
            "--oi-unit",
            choices=("base", "quote"),
            default="base",
            help=f"unit of open_interest in {what}: coins (base) or USD (quote) (default: base)",
        )
    group.add_argument(
        "--assume-utc", action="store_true", help=f"read naive times in {what} as UTC (default: error)"
    )


def add_window_and_model_options(group: Any) -> None:
    """Add the time window, grid, model and engine options to an argument group."""
    from heatmap.leverage import Leverage
    from heatmap.model import PRESETS

    presets = sorted(Leverage.presets())
    models = sorted(PRESETS)
    group.add_argument("--from", dest="start", metavar="TIME", help="first bar (UTC), e.g. 2025-01-01")
    group.add_argument("--to", dest="end", metavar="TIME", help="last bar (UTC, inclusive), e.g. 2025-01-31")
    group.add_argument(
        "--bins", type=_positive_int, default=1000, help="price bins of the grid (default: 1000)"
    )
    group.add_argument(
        "--model",
        choices=models,
        default="default",
        metavar="PRESET",
        help=f"model preset: {', '.join(models)} (default: default); the options below override it",
    )
    group.add_argument(
        "--leverage",
        choices=presets,
        default=None,
        metavar="PRESET",
        help=f"leverage distribution preset: {', '.join(presets)} (default: the model's)",
    )
    group.add_argument(
        "--side-split",
        choices=("even", "candle", "taker", "funding"),
        default=None,
        help="how new open interest is split between speculative longs and shorts (default: the model's)",
    )
    group.add_argument(
        "--split-strength",
        type=float,
        default=None,
        help="strength of the side split in [0, 1] (default: the model's)",
    )
    group.add_argument(
        "--snapshot-every",
        type=_positive_int,
        default=None,
        metavar="N",
        help="keep a snapshot every N bars (default: every bar within the memory budget)",
    )
    group.add_argument("--engine", choices=("grid", "ledger"), default="grid", help="engine (default: grid)")


def add_figure_options(
    group: Any, *, out: str, html: str, size: tuple[float, float] | None = (12.0, 6.0)
) -> None:
    """Add ``--out``, the colour and axis options, ``--clusters``, ``--html``, ``--size``, ``--dpi``, ``--top``."""
    group.add_argument(
        "--out",
        type=Path,
        default=Path(out),
        help=f"figure to write: .png, .svg, .pdf or .jpg (default: {out})",
    )
    group.add_argument(
        "--side",
        choices=("total", "both", "long", "short"),
        default="total",
        help="total intensity, both sides as two layers, or one side (default: total)",
    )
    group.add_argument(
        "--norm",
        choices=("power", "asinh", "log", "linear"),
        default="power",
        help="colour scale of notional (default: power)",
    )
    group.add_argument(
        "--within",
        type=float,
        default=None,
        metavar="FRACTION",
        help="price window: the price path +- this fraction (default: from the leverage law, 0.1-0.3)",
    )
    group.add_argument(
        "--yscale", choices=("linear", "log"), default="linear", help="price axis scale (default: linear)"
    )
    group.add_argument(
        "--clusters",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="label the largest clusters of the last bar (default: on)",
    )
    group.add_argument(
        "--html",
        type=Path,
        default=None,
        help=f"also write {html} as self-contained HTML (hover, zoom; needs the interactive extra)",
    )
    size_help = "depends on --kind" if size is None else f"{size[0]:g} {size[1]:g}"
    group.add_argument(
        "--size",
        type=float,
        nargs=2,
        default=size,
        metavar=("W", "H"),
        help=f"figure size in inches (default: {size_help})",
    )
    group.add_argument("--dpi", type=_positive_int, default=150, help="resolution (default: 150)")
    group.add_argument("--top", type=_positive_int, default=5, help="clusters to print (default: 5)")


def build_model(args: argparse.Namespace, preset: str | None = None) -> Any:
    """The :class:`~heatmap.model.Model` of ``preset`` (default ``args.model``) with the explicit overrides.

    ``--leverage``, ``--side-split`` and ``--split-strength`` replace the preset's value only when given.
    """
    from heatmap.leverage import Leverage
    from heatmap.model import Model

    model = Model.preset(preset if preset is not None else args.model)
    changes: dict[str, Any] = {}
    if args.leverage is not None:
        changes["leverage"] = Leverage.preset(args.leverage)
    if args.side_split is not None:
        changes["side_split"] = args.side_split
    if args.split_strength is not None:
        changes["split_strength"] = args.split_strength
    return model.replace(**changes) if changes else model


def check_out_folder(path: Path | None, option: str) -> None:
    """Raise ``FileNotFoundError`` naming ``option`` when the folder of an output path does not exist."""
    if path is not None and not Path(path).parent.exists():
        raise FileNotFoundError(f"{option}: folder {str(Path(path).parent)!r} does not exist")


def read_table_market(paths: Any, *, oi_unit: str, assume_utc: bool, what: str) -> Any:
    """Read a generic table (CSV/zip paths or globs) into a Market; errors are prefixed with ``what``."""
    from heatmap.io.frames import read_csv_market

    try:
        return read_csv_market(paths, oi_unit=oi_unit, assume_utc=assume_utc)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ValueError(f"{what}: {_one_line(exc)}") from exc


def print_clusters(snap: Any, top: int) -> None:
    """Print the ``top`` largest clusters of a snapshot, one line each."""
    from heatmap.plot import format_notional

    for row in snap.clusters(top=top).to_dict("records"):
        print(
            f"  #{int(row['rank'])} {row['side']:>5} {float(row['price']):>14,.2f}  "
            f"{float(row['distance']):+7.2%}  {format_notional(float(row['notional']))}"
        )


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

    binance = [args.klines, args.metrics, args.funding, args.mark]
    if args.csv and any(binance):
        raise ValueError("give either --csv or the Binance files (--klines ...), not both")
    if args.csv:
        return read_table_market(
            args.csv, oi_unit=args.oi_unit, assume_utc=args.assume_utc, what=f"--csv {' '.join(args.csv)}"
        )
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
        window = " ".join(f"{opt} {v}" for opt, v in (("--from", start), ("--to", end)) if v is not None)
        raise ValueError(
            f"the window {window} holds {len(out)} bars; the data span {market.start} to {market.end}"
        )
    return out


def run(args: argparse.Namespace) -> int:
    """Run ``render``; returns the process exit code (2 on bad input)."""
    return exit_code(_run, args)


def exit_code(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run ``command(args)``; bad input (ValueError, FileNotFoundError, KeyError, TypeError) prints one line
    ``error: …`` on stderr and gives exit code 2."""
    try:
        return command(args)
    except (ValueError, FileNotFoundError, KeyError, TypeError) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from heatmap.engine import estimate
    from heatmap.plot import figure_format, format_notional, save_figure

    out = Path(args.out)
    check_out_folder(out, "--out")
    figure_format(out)  # an unknown suffix fails before the estimate
    if args.map_out is not None:
        figure_format(args.map_out)
    check_out_folder(args.map_out, "--map-out")
    check_out_folder(args.html, "--html")
    market = _slice(_read_market(args), args.start, args.end)
    model = build_model(args)
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
    print_clusters(snap, args.top)
    size = (float(args.size[0]), float(args.size[1]))
    save_figure(
        hm,
        out,
        dpi=args.dpi,
        size=size,
        side=args.side,
        norm=args.norm,
        yscale=args.yscale,
        clusters=args.clusters,
        within=args.within,
    )
    print(f"wrote {out}")
    write_extras(snap, hm, args)
    return 0


def write_html(hm: Any, path: Path, *, side: str, norm: str) -> None:
    """Write ``hm`` as interactive HTML (:func:`heatmap.interactive.to_html`; ``power`` is drawn as ``log``)."""
    from heatmap.interactive import to_html

    side = "both" if side == "total" else side
    to_html(hm, path, side=side, norm="linear" if norm == "linear" else "log")  # type: ignore[arg-type]


def write_extras(snap: Any, hm: Any, args: argparse.Namespace) -> None:
    """The optional outputs of ``render`` and ``aggregate``: the last bar's map (``--map-out``) and ``--html``."""
    from heatmap.plot import save_figure

    if args.map_out is not None:
        save_figure(snap, args.map_out, dpi=args.dpi, size=(8.0, 7.0))
        print(f"wrote {args.map_out}")
    if args.html is not None:
        write_html(hm, args.html, side=args.side, norm=args.norm)
        print(f"wrote {args.html}")
