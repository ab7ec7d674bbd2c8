"""The input options every data-reading command shares, and the one function that turns them into a Market.

``render``, ``cascade`` and ``validate`` take the same flags (``aggregate`` takes the table-reading ones for
each ``--venue``); each flag is named like the argument of :func:`heatmap.io.frames.read_market` it sets
(``--time-format`` <-> ``time_format``), so advice in error messages applies to both.

Examples
--------
>>> import argparse
>>> p = argparse.ArgumentParser()
>>> add_input_options(p)
>>> args = p.parse_args(["--candles", "bars.csv", "--oi-unit", "quote", "--rename", "Date=time"])
>>> args.oi_unit, parse_renames(args.rename)
('quote', {'Date': 'time'})
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = [
    "add_input_options",
    "add_table_options",
    "table_kwargs",
    "market_from_args",
    "parse_renames",
    "parse_sep",
    "coinglass_files",
    "INPUTS_EPILOG",
]

INPUTS_EPILOG = """\
inputs:
  --candles FILE...  bars: Binance klines (data.binance.vision, .csv or .zip, with or without header) or any
                     table with a header, a time column and open, high, low, close (optional volume [coins],
                     quote_volume / volume_usd [USD]); a table may also hold every Market column
                     (open_interest, funding_rate, ...) and then needs nothing else
  --oi FILE...       open interest: Binance metrics files, or a table (CoinGlass, Coinalyze, ...); --oi-col
                     names the value column (default: open_interest, sum_open_interest, oi, close_oi or
                     close); a 'close' column is the value at the end of its row's period
  --funding FILE...  Binance fundingRate files, or a table of settled rates (--funding-unit percent for
                     CoinGlass/Coinalyze tables)
  --mark FILE...     mark-price klines (Binance markPriceKlines or an OHLC table)
  --coinglass-dir D  a folder of CoinGlass-style 4h tables: price_*.csv, oi_*coin*.csv (coins),
                     funding_*pct*.csv (percent)
  time columns: epoch seconds, milliseconds or microseconds (told apart by magnitude) or ISO 8601 text are
  read without options; other text needs --time-format (a strftime pattern such as "%d-%m-%Y %H:%M",
  read as UTC unless it has %z). The separator is sniffed among , ; tab | unless --sep is given.
  Magnitudes are checked against their units (open interest vs price and traded volume, funding percent vs
  fraction); --no-check-units turns this off for data that is right although it looks wrong.
"""


def add_table_options(group: Any, *, oi_unit: bool = True) -> None:
    """How tables are read: ``--time-col``, ``--time-format``, ``--sep``, ``--rename``, ``--oi-col``, units, ages.

    ``oi_unit=False`` leaves ``--oi-unit`` to the caller (``aggregate`` takes it per venue).
    """
    group.add_argument(
        "--time-col", default="auto", metavar="NAME", help="time column of --candles (default: auto)"
    )
    group.add_argument(
        "--time-format",
        default="auto",
        metavar="FMT",
        help="time format: auto (epoch s/ms/us or ISO 8601), s, ms, us, or a strftime pattern such as "
        "'%%d-%%m-%%Y %%H:%%M' (read as UTC unless it has %%z)",
    )
    group.add_argument(
        "--sep",
        type=parse_sep,
        default=None,
        metavar="SEP",
        help="field separator: , ; tab | (default: sniffed)",
    )
    group.add_argument(
        "--rename",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="rename a column of --candles, e.g. --rename oi_usd=open_interest (repeatable)",
    )
    group.add_argument(
        "--oi-col", default="auto", metavar="NAME", help="value column of --oi (default: auto)"
    )
    group.add_argument(
        "--oi-time-col", default="auto", metavar="NAME", help="time column of --oi (default: auto)"
    )
    if oi_unit:
        group.add_argument(
            "--oi-unit",
            choices=("base", "quote", "contracts"),
            default="base",
            help="unit of the open interest: coins (base), a USD notional (quote) or contracts "
            "(with --contract-size) (default: base)",
        )
    group.add_argument(
        "--contract-size",
        type=float,
        default=None,
        metavar="COINS",
        help="coins per contract (--oi-unit contracts)",
    )
    group.add_argument(
        "--oi-max-age",
        default=None,
        metavar="AGE",
        help="oldest open-interest observation a bar may use, e.g. 4h for 4-hourly open interest under 1h "
        "candles (default: just under one bar)",
    )
    group.add_argument(
        "--funding-unit",
        choices=("fraction", "percent"),
        default="fraction",
        help="unit of a funding table (default: fraction; CoinGlass and Coinalyze publish percent)",
    )
    group.add_argument(
        "--fill-gaps",
        choices=("ffill",),
        default=None,
        help="insert flat bars for missing candles (explicit repair)",
    )
    group.add_argument(
        "--assume-utc", action="store_true", help="read naive ISO times as UTC (default: error)"
    )
    group.add_argument(
        "--no-check-units",
        dest="check_units",
        action="store_false",
        help="skip the plausibility check of open-interest and funding magnitudes against their units",
    )


def add_input_options(parser: Any, *, title: str = "inputs") -> None:
    """Add the file options (``--candles``, ``--oi``, ``--funding``, ``--mark``, ``--coinglass-dir``), the
    table options of :func:`add_table_options`, ``--symbol`` and ``--venue`` as one argument group."""
    group = parser.add_argument_group(title)
    group.add_argument(
        "--candles",
        "--klines",
        "--csv",
        dest="candles",
        nargs="+",
        metavar="FILE",
        help="candles: Binance klines or a table (paths or quoted globs; --klines and --csv are the same)",
    )
    group.add_argument(
        "--oi",
        "--metrics",
        dest="oi",
        nargs="+",
        metavar="FILE",
        help="open interest: Binance metrics or a table",
    )
    group.add_argument(
        "--funding", nargs="+", metavar="FILE", help="funding: Binance fundingRate files or a table"
    )
    group.add_argument("--mark", nargs="+", metavar="FILE", help="mark-price klines (optional)")
    group.add_argument(
        "--coinglass-dir", type=Path, default=None, metavar="DIR", help="folder of CoinGlass-style 4h tables"
    )
    add_table_options(group)
    group.add_argument(
        "--symbol", default=None, help="instrument name, e.g. BTCUSDT (default: from a Binance file name)"
    )
    group.add_argument("--venue", default=None, help="exchange name, e.g. binance")


def parse_sep(text: str) -> str:
    """``--sep`` value: one character, or ``tab`` / ``\\t``."""
    if text in ("tab", "\\t", "\t"):
        return "\t"
    if len(text) != 1:
        raise argparse.ArgumentTypeError(f"expected one character such as , ; | or 'tab', got {text!r}")
    return text


def parse_renames(texts: list[str]) -> dict[str, str]:
    """``["Date=time", "oi_usd=open_interest"]`` -> ``{"Date": "time", "oi_usd": "open_interest"}``."""
    out: dict[str, str] = {}
    for text in texts:
        old, eq, new = text.partition("=")
        if not (eq and old.strip() and new.strip()):
            raise ValueError(f"--rename {text!r}: expected OLD=NEW, e.g. --rename oi_usd=open_interest")
        if old.strip() in out:
            raise ValueError(f"--rename: column {old.strip()!r} is renamed twice")
        out[old.strip()] = new.strip()
    return out


def table_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The :func:`heatmap.io.frames.read_market` keyword arguments set by :func:`add_table_options`."""
    return {
        "time_col": args.time_col,
        "time_format": args.time_format,
        "sep": args.sep,
        "rename": parse_renames(args.rename),
        "oi_col": args.oi_col,
        "oi_time_col": args.oi_time_col,
        "contract_size": args.contract_size,
        "oi_max_age": args.oi_max_age,
        "funding_unit": args.funding_unit,
        "fill_gaps": args.fill_gaps,
        "assume_utc": args.assume_utc,
        "check_units": args.check_units,
    }


_COINGLASS_PATTERNS = {
    "price": ("price_*.csv",),
    "open_interest": ("oi_*coin*units*.csv", "oi_*coin*.csv"),
    "funding": ("funding_*pct*.csv", "funding_*.csv"),
}


def coinglass_files(folder: Path) -> dict[str, Path | None]:
    """Find the price, open-interest (coin units) and funding (percent) tables of a CoinGlass-style folder.

    Each kind takes the one file matching its patterns (price ``price_*.csv``; open interest
    ``oi_*coin*units*.csv``, else ``oi_*coin*.csv`` without ``usd`` in the name; funding ``funding_*pct*.csv``).
    Funding is optional.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise FileNotFoundError(f"--coinglass-dir {str(folder)!r} {what}")
    out: dict[str, Path | None] = {}
    for kind, patterns in _COINGLASS_PATTERNS.items():
        hits: list[Path] = []
        for pattern in patterns:
            hits = sorted(
                p for p in folder.glob(pattern) if "usd" not in p.name.lower() or kind != "open_interest"
            )
            if hits:
                break
        if len(hits) > 1:
            raise ValueError(
                f"--coinglass-dir {str(folder)!r}: several {kind} tables {[p.name for p in hits]}; "
                "pass the files with --candles / --oi / --funding instead"
            )
        if not hits and kind != "funding":
            raise FileNotFoundError(
                f"--coinglass-dir {str(folder)!r}: no {kind} table ({' or '.join(patterns)}); "
                f"the folder has {sorted(p.name for p in folder.iterdir())[:12]}"
            )
        out[kind] = hits[0] if hits else None
    return out


def market_from_args(args: argparse.Namespace) -> tuple[Any, str]:
    """Read the market the input options describe; returns ``(market, one-line description of the source)``.

    Raises
    ------
    ValueError, FileNotFoundError
        No input, conflicting inputs, or anything the readers reject (messages name the file and the flag).
    """
    from heatmap.io.frames import read_market

    kwargs = table_kwargs(args)
    kwargs.update(oi_unit=args.oi_unit, symbol=args.symbol, venue=args.venue)
    files = [args.candles, args.oi, args.funding, args.mark]
    if args.coinglass_dir is not None:
        if any(files):
            raise ValueError("give either --coinglass-dir or --candles/--oi/--funding/--mark, not both")
        found = coinglass_files(args.coinglass_dir)
        kwargs.update(
            oi_col="close" if args.oi_col == "auto" else args.oi_col,
            funding_unit="percent",
            symbol=args.symbol or "BTCUSDT",
            venue=args.venue or "binance",
        )
        price = found["price"]
        assert price is not None  # coinglass_files raises when it is missing
        market = read_market(price, open_interest=found["open_interest"], funding=found["funding"], **kwargs)
        names = ", ".join(p.name for p in found.values() if p is not None)
        return market, f"CoinGlass tables {names}"
    if not args.candles:
        if any(files):
            raise ValueError("--oi/--funding/--mark need --candles (the bars)")
        raise ValueError("no input: give --candles (with --oi for open interest) or --coinglass-dir")
    market = read_market(args.candles, open_interest=args.oi, funding=args.funding, mark=args.mark, **kwargs)
    parts = [f"candles {_files(args.candles)}"]
    for flag, value in (("open interest", args.oi), ("funding", args.funding), ("mark", args.mark)):
        if value:
            parts.append(f"{flag} {_files(value)}")
    return market, "; ".join(parts)


def _files(paths: list[str]) -> str:
    names = [Path(p).name for p in paths]
    return names[0] if len(names) == 1 else f"{names[0]} (+{len(names) - 1})"
