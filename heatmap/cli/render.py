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

from heatmap.cli.forms import LEVERAGE_HELP, leverage_spec
from heatmap.cli.forms import positive_int as _positive_int
from heatmap.cli.inputs import INPUTS_EPILOG, add_input_options, market_from_args
from heatmap.cli.jitnote import note_first_compile

__all__ = ["add_parser", "run"]

EPILOG = (
    """\
examples:
  # Binance 1h candles with CoinGlass 4-hourly open interest in coins
  python -m heatmap render --candles BTCUSDT_1h_Cleaned.csv --time-col Date --time-format "%d-%m-%Y %H:%M" \\
      --oi oi_binance_stablecoinmargined_btc_4h_coinunits.csv --oi-col close --oi-unit base --oi-max-age 4h \\
      --symbol BTCUSDT --out btc.png

  # one month of Binance public data with open interest and funding
  python -m heatmap render --candles "BTCUSDT-1h-2025-01-*.zip" --oi "BTCUSDT-metrics-2025-01-*.zip" \\
      --funding BTCUSDT-fundingRate-2025-01.zip --out btc.png

  # a table holding every column, one week (--to 2025-01-08 includes that whole day), long side only
  python -m heatmap render --candles bars.csv --from 2025-01-01 --to 2025-01-08 --side long --out week.png

  # the fixed-tier assumption of commercial maps; or every speculative position at 20x
  python -m heatmap render --candles bars.csv --leverage coinglass --side-split even --out tiers.png
  python -m heatmap render --candles bars.csv --leverage 20x --out 20x.png

  # the model calibrated on Binance BTC liquidations (--model presets; --leverage etc. override them)
  python -m heatmap render --coinglass-dir ../shared/data/coinglass-btc-4h/derived --model binance-btc-4h

  # several venues or symbols on one map: see `python -m heatmap aggregate --help`

"""
    + INPUTS_EPILOG
    + """
exit status: 0 on success, 2 on bad input (one line on stderr: which file or option, and why)
"""
)


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
    add_input_options(p)
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
        type=leverage_spec,
        default=None,
        metavar="SPEC",
        help="leverage of the speculative side: "
        + LEVERAGE_HELP.format(presets=", ".join(presets))
        + " (default: the model's)",
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
    group.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def build_model(args: argparse.Namespace, preset: str | None = None) -> Any:
    """The :class:`~heatmap.model.Model` of ``preset`` (default ``args.model``) with the explicit overrides.

    ``--leverage``, ``--side-split`` and ``--split-strength`` replace the preset's value only when given.
    """
    from heatmap.model import Model

    model = Model.preset(preset if preset is not None else args.model)
    changes: dict[str, Any] = {}
    if args.leverage is not None:
        changes["leverage"] = (
            leverage_spec(args.leverage) if isinstance(args.leverage, str) else args.leverage
        )
    if args.side_split is not None:
        changes["side_split"] = args.side_split
    if args.split_strength is not None:
        changes["split_strength"] = args.split_strength
    return model.replace(**changes) if changes else model


def check_out_folder(path: Path | None, option: str) -> None:
    """Check an output path before any work (:func:`heatmap.io.atomic.check_output_path`); errors name ``option``."""
    from heatmap.io.atomic import check_output_path

    if path is None:
        return
    try:
        check_output_path(path)
    except OSError as exc:
        raise OSError(f"{option}: {exc}") from None


def cluster_records(snap: Any, top: int) -> list[dict[str, Any]]:
    """The ``top`` largest clusters of a snapshot as plain records (rank, side, price, band, distance, notional)."""
    frame = snap.clusters(top=top)
    keys = ("rank", "side", "price", "price_low", "price_high", "distance", "notional")
    return [
        {k: (int(r[k]) if k == "rank" else str(r[k]) if k == "side" else float(r[k])) for k in keys}
        for r in frame.to_dict("records")
    ]


def cluster_lines(records: list[dict[str, Any]], top: int) -> list[str]:
    """A formatted table of cluster records, and a line saying why fewer than ``top`` were found."""
    from heatmap.plot import format_notional

    if not records:
        return [
            "no liquidation cluster stands out near the last price (no peak of at least 5 % of the largest bin)"
        ]
    head = f"largest clusters near the last price (top {top}):"
    rows = [("rank", "side", "price", "band", "distance", "notional")]
    for r in records:
        rows.append(
            (
                f"#{r['rank']}",
                r["side"],
                f"{r['price']:,.2f}",
                f"{r['price_low']:,.2f} - {r['price_high']:,.2f}",
                f"{r['distance']:+.2%}",
                format_notional(r["notional"]),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [head] + ["  " + "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    if len(records) < top:
        lines.append(
            f"  only {len(records)} of {top}: the map has no further separate peak of at least 5 % of its "
            "largest bin on either side of price"
        )
    return lines


def print_clusters(snap: Any, top: int) -> None:
    """Print the ``top`` largest clusters of a snapshot as a table (see :func:`cluster_lines`)."""
    print("\n".join(cluster_lines(cluster_records(snap, top), top)))


def print_json(doc: dict[str, Any]) -> None:
    """One JSON object on stdout (numbers as floats, times as ISO 8601)."""
    import json

    def default(x: Any) -> Any:
        return x.isoformat() if hasattr(x, "isoformat") else str(x) if isinstance(x, Path) else float(x)

    print(json.dumps(doc, default=default))


def market_record(market: Any) -> dict[str, Any]:
    """The span of a market as plain values."""
    return {
        "symbol": market.symbol,
        "venue": market.venue,
        "bars": len(market),
        "freq": _fmt_freq(market.freq),
        "start": market.start,
        "end": market.end,
        "columns": market.columns,
    }


def _fmt_freq(freq: Any) -> str:
    seconds = int(freq.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _one_line(exc: BaseException) -> str:
    from heatmap.cli import one_line

    return one_line(exc)


def _slice(market: Any, start: str | None, end: str | None) -> Any:
    """``--from`` / ``--to`` as in :func:`heatmap.market.time_bounds`: a date covers that whole day."""
    from heatmap.market import time_bounds

    if start is None and end is None:
        return market
    for flag, value in (("--from", start), ("--to", end)):
        try:
            time_bounds(value)
        except ValueError:
            raise ValueError(
                f"{flag} {value!r} is not a time; use e.g. 2025-01-31 (the whole day) or 2025-01-31T12:00Z (an instant)"
            ) from None
    try:
        out = market.slice(start, end)
    except ValueError:
        raise ValueError(f"--to {end} is before --from {start}") from None
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
    """Run ``command(args)`` with :func:`heatmap.cli.run_command` (bad input: one line on stderr, exit code 2)."""
    from heatmap.cli import run_command

    return run_command(command, args)


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
    market, source = market_from_args(args)
    market = _slice(market, args.start, args.end)
    model = build_model(args)
    if args.progress == "auto":
        progress = sys.stderr.isatty() and len(market) * args.bins > 5_000_000
    else:
        progress = args.progress == "on"
    note_first_compile(args.engine)
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
    clusters = cluster_records(snap, args.top)
    if not args.json:
        print(
            f"{market.symbol or 'market'}: {len(market)} bars of {_fmt_freq(market.freq)} "
            f"from {market.start} to {market.end}; "
            f"{hm.shape[0]} snapshots x {hm.shape[1]} bins"
        )
        print(
            f"last price {snap.price:,.2f}; liquidation notional long {format_notional(total['long'])}, "
            f"short {format_notional(total['short'])}"
        )
        print("\n".join(cluster_lines(clusters, args.top)))
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
    written = [out, *write_extras(snap, hm, args, market=market)]
    if args.json:
        print_json(
            {
                "source": source,
                "market": market_record(market),
                "snapshots": hm.shape[0],
                "bins": hm.shape[1],
                "time": snap.time,
                "price": snap.price,
                "liquidation_notional": {"long": float(total["long"]), "short": float(total["short"])},
                "clusters": clusters,
                "wrote": [str(p) for p in written],
            }
        )
    else:
        for path in written:
            print(f"wrote {path}")
    return 0


def write_extras(
    snap: Any,
    hm: Any,
    args: argparse.Namespace,
    *,
    market: Any = None,
    multi: Any = None,
    markets: Any = None,
) -> list[Path]:
    """The optional outputs of ``render`` and ``aggregate``: the last bar's map (``--map-out``) and ``--html``.

    With the ``market`` of ``hm`` (``render``), or the ``multi`` heatmap ``hm`` is the total of and its
    ``markets`` (``aggregate``), the map is stacked by leverage bucket and the page gets the leverage layers
    (the page has its own brightness and threshold sliders, so ``--norm`` only matters for the PNG). Returns
    the paths written.
    """
    from heatmap.interactive import to_html
    from heatmap.plot import save_figure

    written = []
    within = getattr(args, "within", None)
    if args.map_out is not None:
        layers = None
        if multi is not None and markets is not None:
            layers = _aggregate_layers_at_last(snap, multi, markets)
        elif market is not None:
            layers = snap.by_leverage(market)
        save_figure(snap, args.map_out, dpi=args.dpi, size=(8.0, 7.0), layers=layers)
        written.append(Path(args.map_out))
    if args.html is not None:
        if multi is not None:
            multi.to_html(args.html, markets=markets, side=args.side, within=within)
        else:
            to_html(hm, args.html, side=args.side, within=within, market=market)
        written.append(Path(args.html))
    return written


def _aggregate_layers_at_last(snap: Any, multi: Any, markets: Any) -> Any:
    """The aggregate's last map split by leverage bucket (venues split on their own, buckets summed)."""
    import numpy as np

    from heatmap.layers import LEVERAGE_BUCKETS, LeverageLayers, aggregate_leverage_layers_over_time

    split = aggregate_leverage_layers_over_time(multi, markets, [len(multi.total.times) - 1])
    return LeverageLayers(
        time=snap.time,
        price=float(snap.price),
        price_edges=np.asarray(snap.price_edges, dtype=float),
        labels=tuple(str(x) for x in split["labels"]),
        bounds=tuple(float(x) for x in LEVERAGE_BUCKETS),
        long=split["long"][:, 0],
        short=split["short"][:, 0],
        weights=split["weights"],
    )
