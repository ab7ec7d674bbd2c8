"""``python -m heatmap aggregate``: several venues or symbols on one liquidation map, written as a PNG.

Each ``--venue NAME=SOURCE[:MODEL]`` is read and estimated with its own model on one common price grid and time
axis (:func:`heatmap.aggregate.estimate_many`); the PNG shows their sum, the aggregate with each venue's share of
liquidation notional below it, or one panel per venue.

Examples
--------
``python -m heatmap aggregate --venue binance=data/binance/ --venue bybit=bybit_bars.csv:coinglass-like
--kind stacked --out agg.png``
"""

from __future__ import annotations

import argparse
import contextlib
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from heatmap.cli.inputs import add_table_options, table_kwargs
from heatmap.cli.jitnote import note_first_compile
from heatmap.cli.render import (
    _fmt_freq,
    _one_line,
    _positive_int,
    _slice,
    add_figure_options,
    add_window_and_model_options,
    build_model,
    check_out_folder,
    cluster_lines,
    cluster_records,
    exit_code,
    market_record,
    print_json,
    write_extras,
)

__all__ = [
    "add_parser",
    "run",
    "VenueSpec",
    "parse_venue",
    "read_venue",
    "binance_folder_files",
    "parse_oi_units",
    "parse_venue_files",
    "parse_schedules",
    "render_multi",
    "venue_inputs",
]

Kind = Literal["total", "stacked", "separate"]

EPILOG = """\
venues (one --venue per venue or symbol):
  --venue NAME=SOURCE[:MODEL]
    NAME    letters, digits, '.', '_' or '-'; unique; labels the layer in the summary and the figure
    SOURCE  a folder of Binance public-data files (https://data.binance.vision, USD-M futures, .csv or .zip):
              <SYMBOL>-<interval>-<date>       klines (one symbol and interval per folder)
              <SYMBOL>-metrics-<date>          open interest (required)
              <SYMBOL>-fundingRate-<month>     funding (optional)
              <SYMBOL>-markPriceKlines-<interval>-<date>   mark price (optional); other files are ignored
            or a generic table (the --csv format of `render`): a .csv/.zip file or a quoted glob pattern,
              header with a time column and open, high, low, close, open_interest
              (in coins, or USD with --oi-unit quote or --oi-unit NAME=quote for one venue)
            or a .parquet table with the same columns (time as a datetime index or column)
    MODEL   a model preset for this venue (default: --model); --leverage, --side-split and
            --split-strength apply to every venue
  --oi NAME=FILE, --funding NAME=FILE, --mark NAME=FILE
    open interest, funding and mark prices of a table venue from files of their own (the inputs of
    `render --oi/--funding/--mark`: Binance files or tables such as CoinGlass/Coinalyze exports); repeat
    an option to add files; a Binance folder or a .parquet table carries its own
  --schedule NAME=EXCHANGE:SYMBOL
    the venue's margin schedule (newest shipped table): binance-usdm:BTCUSDT, binance-usdm:ETHUSDT,
    bybit:BTCUSDT, hyperliquid:BTC, ... (`heatmap.exchanges.available()`); default: the model's.
    Every layer is in quote notional [USD], so they add up; an inverse schedule (binance-coinm:BTCUSD_PERP,
    bybit:BTCUSD) estimates a coin-margined venue in face value.

kinds (--kind):
  total     the aggregate heatmap (sum of the venues) with the first venue's price
  stacked   the aggregate heatmap above each venue's share of liquidation notional over time
  separate  one heatmap per venue on one colour scale, the aggregate last

examples:
  # Binance public data beside a CSV table of another venue, the venues' shares under the aggregate
  python -m heatmap aggregate --venue binance=data/binance-btcusdt/ --venue bybit=bybit_btc_1h.csv \\
      --kind stacked --out agg.png

  # BTC and ETH on one map, each with its own preset and schedule, one panel each, plus HTML of the sum
  python -m heatmap aggregate --venue btc=btc.csv:binance-btc --venue eth=eth.parquet:default \\
      --schedule eth=binance-usdm:ETHUSDT --kind separate --from 2025-01-01 --to 2025-01-31 \\
      --out pair.png --html pair.html

exit status: 0 on success, 2 on bad input (one line on stderr: which venue, file or option, and why)
"""

#: per-venue file options -> what they hold (read_market's open_interest, funding, mark)
_VENUE_FILES = {
    "oi": "open interest (Binance metrics or a table; --oi-col, --oi-time-col, --oi-max-age apply)",
    "funding": "funding (Binance fundingRate files or a table; --funding-unit applies)",
    "mark": "mark-price klines",
}
_NAME = re.compile(r"[A-Za-z0-9._-]+")
_BINANCE_FILE = re.compile(
    r"^(?P<symbol>[A-Z0-9_]+)-(?:(?P<kind>metrics|fundingRate)|markPriceKlines-(?P<mark>\w+)|(?P<interval>\d+[smhdwM]))"
    r"-\d{4}-\d{2}(?:-\d{2})?\.(?:csv|zip)$"
)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``aggregate`` sub-command and return its parser."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "aggregate",
        help="several venues or symbols on one liquidation map (sum, shares, or one panel each) as a PNG",
        description=(
            "Read several venues (Binance public-data folders or generic tables), estimate each with its own "
            "model on one common price grid and time axis, and write the aggregated heatmap as a PNG. "
            "Prints each venue's span and totals, the aggregate's totals and its largest clusters."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = p.add_argument_group("inputs")
    src.add_argument(
        "--venue",
        action="append",
        required=True,
        metavar="NAME=SOURCE[:MODEL]",
        help="one venue or symbol: a Binance public-data folder or a table, optionally with a model preset",
    )
    src.add_argument(
        "--schedule",
        action="append",
        default=[],
        metavar="NAME=EXCHANGE:SYMBOL",
        help="margin schedule of a venue from heatmap.exchanges, e.g. bybit=bybit:BTCUSDT "
        "(default: the model's, Binance USD-M BTCUSDT)",
    )
    src.add_argument(
        "--oi-unit",
        action="append",
        default=[],
        metavar="[NAME=]UNIT",
        help="unit of open_interest in tables: base (coins) or quote (USD, divided by the close); "
        "NAME=UNIT for one venue, UNIT for every table (default: base)",
    )
    for flag, what in _VENUE_FILES.items():
        src.add_argument(
            f"--{flag}",
            action="append",
            default=[],
            metavar="NAME=FILE",
            help=f"{what} of a table venue, beside its candles (repeatable; quoted globs allowed)",
        )
    add_table_options(src, oi_unit=False)
    win = p.add_argument_group("window and model")
    add_window_and_model_options(win)
    win.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        metavar="N",
        help="estimate up to N venues at once in a process pool (default: 1, in this process)",
    )
    fig = p.add_argument_group("figure")
    fig.add_argument(
        "--kind",
        choices=("total", "stacked", "separate"),
        default="total",
        help="total: the aggregate; stacked: with the venues' shares below; separate: one panel per venue "
        "(default: total)",
    )
    add_figure_options(
        fig, out="aggregate.png", html="the aggregate heatmap with its leverage layers", size=None
    )
    fig.add_argument(
        "--map-out",
        type=Path,
        default=None,
        help="also write the aggregate liquidation map of the last bar (all venues summed, stacked by leverage "
        "bucket)",
    )
    return p


# -- venue specifications ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VenueSpec:
    """One ``--venue NAME=SOURCE[:MODEL]`` argument, parsed.

    Attributes
    ----------
    name : str
        Layer name (letters, digits, ``.``, ``_``, ``-``).
    source : str
        Folder of Binance public-data files, or a table path / glob pattern.
    model : str or None
        Model preset for this venue; None takes ``--model``.

    Examples
    --------
    >>> parse_venue("bybit=bars/bybit.csv:coinglass-like")
    VenueSpec(name='bybit', source='bars/bybit.csv', model='coinglass-like')
    """

    name: str
    source: str
    model: str | None = None

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(
                f"--venue: name {self.name!r} must be letters, digits, '.', '_' or '-' (NAME=SOURCE[:MODEL])"
            )
        if not self.source:
            raise ValueError(f"--venue {self.name}: empty SOURCE (NAME=SOURCE[:MODEL])")
        if self.model is not None:
            from heatmap.model import PRESETS

            if self.model not in PRESETS:
                raise ValueError(
                    f"--venue {self.name}: unknown model preset {self.model!r}; available are {sorted(PRESETS)}"
                )


def parse_venue(text: str) -> VenueSpec:
    """Parse ``NAME=SOURCE[:MODEL]``.

    The part after the last ``:`` is a model preset when it holds no ``/``, ``\\`` or ``.`` (so a path such
    as ``C:\\data\\bars.csv`` keeps its drive letter); anything else is part of SOURCE.
    """
    if "=" not in text:
        raise ValueError(f"--venue {text!r}: expected NAME=SOURCE[:MODEL], e.g. binance=data/binance/")
    name, rest = text.split("=", 1)
    source, model = rest, None
    head, sep, tail = rest.rpartition(":")
    if sep and head and not set(tail) & set("/\\.") and not Path(rest).exists():
        source, model = head, tail
    return VenueSpec(name=name.strip(), source=source, model=model)


def binance_folder_files(folder: Path) -> dict[str, list[Path]]:
    """Sort the Binance public-data files of a folder into ``klines``, ``metrics``, ``funding`` and ``mark``.

    Files are recognised by their Binance names (``BTCUSDT-1h-2025-01-01.zip``,
    ``BTCUSDT-metrics-2025-01-01.zip``, ``BTCUSDT-fundingRate-2025-01.zip``,
    ``BTCUSDT-markPriceKlines-1h-2025-01-01.zip``); other files are ignored.

    Raises
    ------
    ValueError
        No klines or no metrics files, or files of more than one symbol or kline interval.
    """
    files: dict[str, list[Path]] = {"klines": [], "metrics": [], "funding": [], "mark": []}
    symbols: set[str] = set()
    intervals: set[str] = set()
    for path in sorted(folder.iterdir()):
        match = _BINANCE_FILE.match(path.name)
        if match is None or not path.is_file():
            continue
        symbols.add(match["symbol"])
        if match["interval"]:
            intervals.add(match["interval"])
            files["klines"].append(path)
        elif match["mark"]:
            files["mark"].append(path)
        else:
            files["metrics" if match["kind"] == "metrics" else "funding"].append(path)
    where = f"folder {str(folder)!r}"
    if len(symbols) > 1:
        raise ValueError(
            f"{where} holds files of several symbols {sorted(symbols)}; use one folder per symbol"
        )
    if len(intervals) > 1:
        raise ValueError(f"{where} holds klines of several intervals {sorted(intervals)}; keep one")
    if not files["klines"]:
        raise ValueError(f"{where} has no Binance klines files (<SYMBOL>-<interval>-<date>.zip or .csv)")
    if not files["metrics"]:
        raise ValueError(
            f"{where} has no Binance metrics files (<SYMBOL>-metrics-<date>.zip): no open interest"
        )
    return files


def _read_parquet_market(path: Path, *, oi_unit: str, assume_utc: bool) -> Any:
    import pandas as pd

    from heatmap.market import Market

    df = pd.read_parquet(path)
    if isinstance(df.index, pd.DatetimeIndex):
        return Market.from_frame(
            df,
            oi_unit=oi_unit,  # type: ignore[arg-type]
            assume_utc=assume_utc,
            symbol=None,
            extra_columns="drop",
        )
    lower = {str(c).strip().lower(): c for c in df.columns}
    found = [c for c in ("time", "timestamp", "open_time", "date", "datetime") if c in lower]
    if not found:
        raise ValueError(f"no time column or datetime index; columns are {list(df.columns)}")
    df = df.rename(columns={v: k for k, v in lower.items()})
    if not pd.api.types.is_datetime64_any_dtype(df[found[0]]):
        raise ValueError(f"time column {found[0]!r} holds {df[found[0]].dtype}, expected datetimes")
    return Market.from_frame(
        df,
        oi_unit=oi_unit,  # type: ignore[arg-type]
        assume_utc=assume_utc,
        time_col=found[0],
        extra_columns="drop",
    )


def read_venue(spec: VenueSpec, *, oi_unit: str = "base", assume_utc: bool = False, **table: Any) -> Any:
    """Read the market of one venue: a Binance public-data folder, a ``.parquet`` table or CSV/zip tables.

    ``table`` holds further :func:`heatmap.io.frames.read_market` options for tables (``time_col``,
    ``time_format``, ``sep``, ``rename``, ``open_interest``, ``funding``, ``mark``, ``fill_gaps``,
    ``check_units``, ...). Errors name the venue: ``--venue NAME: <what is wrong>``.
    """
    from heatmap.io.binance import read_binance
    from heatmap.io.frames import read_market

    what = f"--venue {spec.name}"
    path = Path(spec.source).expanduser()
    own = [f"--{flag} {spec.name}=..." for flag, key in _READ_KEYS.items() if table.get(key)]
    try:
        if own and (path.is_dir() or path.suffix.lower() == ".parquet"):
            kind = "a Binance folder" if path.is_dir() else "a .parquet table"
            raise ValueError(
                f"{', '.join(own)}: {spec.source!r} is {kind}, which carries its own open interest, funding and "
                "mark prices; separate files go with a CSV/zip table of candles"
            )
        if path.is_dir():
            files = binance_folder_files(path)
            return read_binance(
                klines=files["klines"],
                metrics=files["metrics"],
                funding=files["funding"] or None,
                mark=files["mark"] or None,
                venue=spec.name,
            )
        if path.suffix.lower() == ".parquet":
            if not path.is_file():
                raise FileNotFoundError(f"no such file {spec.source!r}")
            return _read_parquet_market(path, oi_unit=oi_unit, assume_utc=assume_utc)
    except (ValueError, FileNotFoundError) as exc:
        raise type(exc)(f"{what}: {_one_line(exc)}") from exc
    try:
        return read_market(spec.source, oi_unit=oi_unit, assume_utc=assume_utc, **table)  # type: ignore[arg-type]
    except (ValueError, FileNotFoundError) as exc:
        raise type(exc)(f"{what}: {_one_line(exc)}") from exc


_READ_KEYS = {"oi": "open_interest", "funding": "funding", "mark": "mark"}


def parse_venue_files(texts: list[str], *, flag: str, names: list[str]) -> dict[str, list[str]]:
    """Parse repeatable ``--FLAG NAME=FILE`` options into venue name -> files (in the order given).

    Examples
    --------
    >>> parse_venue_files(["bybit=oi_a.csv", "bybit=oi_b.csv"], flag="oi", names=["binance", "bybit"])
    {'bybit': ['oi_a.csv', 'oi_b.csv']}
    """
    out: dict[str, list[str]] = {}
    for text in texts:
        name, eq, file = text.partition("=")
        if not (eq and name.strip() and file.strip()):
            raise ValueError(f"--{flag} {text!r}: expected NAME=FILE, e.g. --{flag} bybit=bybit_{flag}.csv")
        if name.strip() not in names:
            raise ValueError(f"--{flag} {text!r}: no --venue named {name.strip()!r}; venues are {names}")
        out.setdefault(name.strip(), []).append(file.strip())
    return out


def parse_schedules(texts: list[str], *, names: list[str]) -> dict[str, Any]:
    """Parse ``--schedule NAME=EXCHANGE:SYMBOL`` options into venue name -> shipped margin schedule.

    The newest shipped table of :func:`heatmap.exchanges.get` is used. Errors name the option and list what
    exists.

    Examples
    --------
    >>> parse_schedules(["bybit=bybit:BTCUSDT"], names=["bybit"])["bybit"].venue
    'bybit'
    """
    from heatmap.exchanges import get

    out: dict[str, Any] = {}
    for text in texts:
        name, eq, rest = text.partition("=")
        exchange, colon, symbol = rest.partition(":")
        if not (eq and colon and name and exchange and symbol):
            raise ValueError(f"--schedule {text!r}: expected NAME=EXCHANGE:SYMBOL, e.g. bybit=bybit:BTCUSDT")
        if name not in names:
            raise ValueError(f"--schedule {text!r}: no --venue named {name!r}; venues are {names}")
        if name in out:
            raise ValueError(f"--schedule: venue {name!r} is given twice")
        try:
            out[name] = get(exchange, symbol)
        except ValueError as exc:
            raise ValueError(f"--schedule {text!r}: {_one_line(exc)}") from exc
    return out


def parse_oi_units(texts: list[str], *, specs: list[VenueSpec]) -> dict[str, str]:
    """Parse ``--oi-unit [NAME=]UNIT`` options into venue name -> ``"base"`` or ``"quote"``.

    A bare unit sets every table venue; ``NAME=UNIT`` one venue (it wins over a bare unit). A unit for a
    Binance folder is an error: its metrics files are in coins.

    Examples
    --------
    >>> specs = [VenueSpec("a", "a.csv"), VenueSpec("b", "b.csv")]
    >>> parse_oi_units(["quote", "b=base"], specs=specs)
    {'a': 'quote', 'b': 'base'}
    """
    names = [spec.name for spec in specs]
    default, own = "base", {}
    for text in texts:
        name, eq, unit = text.rpartition("=")
        if unit not in ("base", "quote") or (eq and not name):
            raise ValueError(f"--oi-unit {text!r}: expected base, quote, NAME=base or NAME=quote")
        if not eq:
            default = unit
        elif name not in names:
            raise ValueError(f"--oi-unit {text!r}: no --venue named {name!r}; venues are {names}")
        elif name in own:
            raise ValueError(f"--oi-unit: venue {name!r} is given twice")
        else:
            own[name] = unit
    for spec in specs:
        if spec.name in own and Path(spec.source).expanduser().is_dir():
            raise ValueError(
                f"--oi-unit {spec.name}={own[spec.name]}: {spec.name} is a Binance folder, whose metrics are in coins"
            )
    return {name: own.get(name, default) for name in names}


def _check_common_time(markets: dict[str, Any]) -> None:
    """Raise when the venues' spans ``[first open, last close)`` have no instant in common."""
    spans = {name: (m.start, m.end) for name, m in markets.items()}
    start = max(a for a, _ in spans.values())
    end = min(b for _, b in spans.values())
    if start >= end:
        described = ", ".join(f"{n} {a} to {b}" for n, (a, b) in spans.items())
        raise ValueError(f"the venues share no time: {described}; pick venues (or --from/--to) that overlap")


# -- run ---------------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    """Run ``aggregate``; returns the process exit code (2 on bad input)."""
    return exit_code(_run, args)


def venue_inputs(args: argparse.Namespace) -> tuple[list[VenueSpec], dict[str, Any], dict[str, Any]]:
    """The parsed ``--venue`` options, each venue's market (within ``--from``/``--to``) and model.

    Raises
    ------
    ValueError
        Repeated names, a bad ``--schedule``, a window without bars, or venues that share no time.
    """
    specs = [parse_venue(text) for text in args.venue]
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise ValueError(f"--venue: the name {spec.name!r} is given twice; names must be unique")
        seen.add(spec.name)
    schedules = parse_schedules(args.schedule, names=[spec.name for spec in specs])
    units = parse_oi_units(args.oi_unit, specs=specs)
    names = [spec.name for spec in specs]
    files = {
        key: parse_venue_files(getattr(args, flag), flag=flag, names=names)
        for flag, key in _READ_KEYS.items()
    }
    markets: dict[str, Any] = {}
    models: dict[str, Any] = {}
    for spec in specs:
        table = table_kwargs(args)
        del table["assume_utc"]
        for key, per_venue in files.items():
            table[key] = per_venue.get(spec.name)
        market = read_venue(spec, oi_unit=units[spec.name], assume_utc=args.assume_utc, **table)
        try:
            markets[spec.name] = _slice(market, args.start, args.end)
        except ValueError as exc:
            raise ValueError(f"--venue {spec.name}: {_one_line(exc)}") from exc
        models[spec.name] = build_model(args, spec.model)
        if spec.name in schedules:
            models[spec.name] = models[spec.name].replace(schedule=schedules[spec.name])
    _check_common_time(markets)
    return specs, markets, models


def _venue_line(spec: VenueSpec, market: Any, model: Any, multi: Any, last_share: Any, default: str) -> str:
    """One summary line: the venue's data span, model, schedule and last-bar totals with its share."""
    import math

    from heatmap.plot import format_notional

    line = (
        f"  {spec.name}: {market.symbol or 'market'}, {len(market)} bars of {_fmt_freq(market.freq)} "
        f"from {market.start} to {market.end}; model {spec.model or default}"
    )
    if model.schedule is not None:
        line += f", schedule {model.schedule.venue} {model.schedule.symbol}"
    if not bool(multi.coverage[spec.name].iloc[-1]):
        return line + "; no data at the last time"
    last = multi.layers[spec.name].total.iloc[-1]
    line += f"; long {format_notional(float(last['long']))}, short {format_notional(float(last['short']))}"
    share = float(last_share[spec.name])
    return line if math.isnan(share) else line + f" ({share:.1%} of the total)"


def _run(args: argparse.Namespace) -> int:
    from heatmap.aggregate import estimate_many
    from heatmap.plot import format_notional

    out = Path(args.out)
    check_out_folder(out, "--out")
    check_out_folder(args.map_out, "--map-out")
    check_out_folder(args.html, "--html")
    specs, markets, models = venue_inputs(args)
    workers = min(args.workers, len(markets))
    with ProcessPoolExecutor(max_workers=workers) if workers > 1 else contextlib.nullcontext() as pool:
        note_first_compile(args.engine)
        multi = estimate_many(
            {name: (markets[name], models[name]) for name in markets},
            bins=args.bins,
            snapshot_every=args.snapshot_every,
            engine=args.engine,
            executor=pool,
        )
    total = multi.total
    last_share = multi.share().iloc[-1]
    snap = total.at(-1)
    clusters = cluster_records(snap, args.top)
    if not args.json:
        print(
            f"aggregate of {len(markets)} venue{'s' if len(markets) > 1 else ''}: {total.shape[0]} snapshots x "
            f"{total.shape[1]} bins from {total.times[0]} to {total.times[-1]}"
        )
        for spec in specs:
            print(_venue_line(spec, markets[spec.name], models[spec.name], multi, last_share, args.model))
        print(
            f"last price {snap.price:,.2f} ({specs[0].name}); aggregate liquidation notional long "
            f"{format_notional(snap.total['long'])}, short {format_notional(snap.total['short'])}"
        )
        print("\n".join(cluster_lines(clusters, args.top)))
    render_multi(
        multi,
        out,
        kind=args.kind,
        size=None if args.size is None else (float(args.size[0]), float(args.size[1])),
        dpi=args.dpi,
        side=args.side,
        norm=args.norm,
        yscale=args.yscale,
        clusters=args.clusters,
    )
    written = [out, *write_extras(snap, total, args, multi=multi, markets=markets)]
    if not args.json:
        for path in written:
            print(f"wrote {path}")
        return 0
    venues = []
    for spec in specs:
        row = {"name": spec.name, "model": spec.model or args.model, **market_record(markets[spec.name])}
        layer = multi.layers[spec.name].total.iloc[-1]
        row["liquidation_notional"] = {"long": float(layer["long"]), "short": float(layer["short"])}
        row["share"] = None if pd.isna(last_share[spec.name]) else float(last_share[spec.name])
        venues.append(row)
    print_json(
        {
            "venues": venues,
            "snapshots": total.shape[0],
            "bins": total.shape[1],
            "time": snap.time,
            "price": snap.price,
            "liquidation_notional": {"long": float(snap.total["long"]), "short": float(snap.total["short"])},
            "clusters": clusters,
            "wrote": [str(p) for p in written],
        }
    )
    return 0


def render_multi(
    multi: Any,
    path: str | Path,
    *,
    kind: Kind = "total",
    size: tuple[float, float] | None = None,
    dpi: float = 150,
    **plot_kwargs: Any,
) -> Path:
    """Write a :class:`~heatmap.aggregate.MultiHeatmap` as a figure (format by suffix).

    Parameters
    ----------
    multi : MultiHeatmap
    path : str or Path
        Figure to write (.png, .svg, .pdf, .jpg); its folder must exist.
    kind : {"total", "stacked", "separate"}
        ``"total"``: the aggregate heatmap; ``"stacked"``: the aggregate above each layer's share of
        liquidation notional (:meth:`MultiHeatmap.plot` ``kind="stacked"``); ``"separate"``: one heatmap per
        layer on the colour scale of the aggregate, the aggregate last.
    size : (width, height), optional
        Figure size [inch]; default 12 × 6, 12 × 8 for ``"stacked"``, 12 × 3 per panel for ``"separate"``.
    dpi : float
        Resolution [pixel/inch].
    **plot_kwargs
        Passed to :func:`heatmap.plot.plot_heatmap` (``side``, ``norm``, ``yscale``, ``clusters``, ...).

    Returns
    -------
    Path

    Examples
    --------
    >>> render_multi(multi, "agg.png", kind="stacked", norm="power")  # doctest: +SKIP
    PosixPath('agg.png')
    """
    from heatmap.plot import new_figure, plot_heatmap, save_figure
    from heatmap.view import heatmap_view

    if kind not in ("total", "stacked", "separate"):
        raise ValueError(f"kind must be 'total', 'stacked' or 'separate', got {kind!r}")
    if kind == "total":
        return save_figure(multi.total, path, dpi=dpi, size=size or (12.0, 6.0), **plot_kwargs)
    if kind == "stacked":
        fig, (top, bottom) = new_figure(
            size or (12.0, 8.0), dpi=dpi, nrows=2, sharex=True, height_ratios=(3, 1)
        )
        plot_heatmap(multi.total, ax=top, **plot_kwargs)
        top.set_title(f"aggregate of {', '.join(multi.names)}: {top.get_title(loc='left')}", loc="left")
        top.set_xlabel("")
        _plot_shares(multi, bottom)
        # the colour bars narrow the heatmap only: give the share strip the same horizontal extent
        fig.canvas.draw()
        fig.set_layout_engine("none")
        upper, lower = top.get_position(), bottom.get_position()
        bottom.set_position((upper.x0, lower.y0, upper.width, lower.height))
        return save_figure(fig, path, dpi=dpi)
    panels = [*multi.layers.items(), ("aggregate", multi.total)]
    fig, axes = new_figure(
        size or (12.0, 3.0 * len(panels)), dpi=dpi, nrows=len(panels), sharex=True, squeeze=False
    )
    # every panel on the colour scale of the aggregate's visible window
    view = heatmap_view(
        multi.total,
        side=plot_kwargs.get("side", "total"),
        ylim=plot_kwargs.get("ylim", "auto"),
        within=plot_kwargs.get("within"),
    )
    vmin, vmax = view.vmin, view.vmax
    for ax, (name, hm) in zip(axes[:, 0], panels, strict=True):
        plot_heatmap(hm, ax=ax, **{"vmin": vmin, "vmax": vmax, **plot_kwargs})
        ax.set_title(f"{name}: {ax.get_title(loc='left')}", loc="left")
        if ax is not axes[-1, 0]:
            ax.set_xlabel("")
    return save_figure(fig, path, dpi=dpi)


def _plot_shares(multi: Any, ax: Any) -> None:
    """Each layer's share of total notional as stacked steps, each spanning its bar like the heatmap columns."""
    import matplotlib.dates as mdates
    import numpy as np

    from heatmap.plot import time_edges

    share = multi.share().fillna(0.0)
    x = time_edges(multi.total)
    values = share.T.to_numpy(dtype=float)
    values = np.concatenate([values, values[:, -1:]], axis=1)  # the last bar spans to its close
    ax.stackplot(x, values, labels=list(share.columns), step="post")
    ax.set_xlim(x[0], x[-1])
    ax.xaxis_date(tz="UTC")
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of notional")
    ax.set_xlabel("time (UTC)")
    ax.legend(loc="upper left", fontsize="small", ncols=min(len(share.columns), 6))
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
