"""Command line: ``python -m heatmap <command> …``.

Each command lives in its own module exposing ``add_parser(subparsers) -> ArgumentParser`` (the sub-parser it
registered) and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from heatmap._version import __version__

# command module names, in the order they appear in --help
_COMMANDS = ("demo", "render", "aggregate", "liqprice", "cascade", "validate")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m heatmap",
        description="Estimate where leveraged perpetual-futures positions get liquidated.",
    )
    parser.add_argument("--version", action="version", version=f"liquidation-heatmap {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="command")
    for name in _COMMANDS:
        try:
            module = importlib.import_module(f"heatmap.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"heatmap.cli.{name}":
                continue
            raise
        sub_parser = module.add_parser(sub)
        if sub_parser is not None:
            sub_parser.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    try:
        return int(args.run(args) or 0)
    except (ValueError, FileNotFoundError, KeyError) as exc:
        # user errors: one clear line, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
