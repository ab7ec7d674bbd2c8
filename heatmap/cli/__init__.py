"""Command line: ``python -m heatmap <command> …``.

Each command lives in its own module exposing ``add_parser(subparsers) -> ArgumentParser`` (the sub-parser it
registered) and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import zipfile
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from heatmap._version import __version__

# command module names, in the order they appear in --help
_COMMANDS = ("demo", "render", "aggregate", "liqprice", "cascade", "validate")


class Parser(argparse.ArgumentParser):
    """``ArgumentParser`` that reads ``-3%``, ``-1.5k`` and ``-20x`` as values (not options) and reports a bad flag
    as one line on stderr with exit status 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # argparse's own rule is r"^-\d+$|^-\d*\.\d+$": widen it to the human forms of heatmap.cli.forms
        self._negative_number_matcher = re.compile(
            r"^-(\d[\d_,]*\.?\d*|\.\d+)(e[+-]?\d+)?\s*(%|k|m|bn|b|t|x)?$", re.I
        )

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m heatmap",
        description="Estimate where leveraged perpetual-futures positions get liquidated.",
    )
    parser.add_argument("--version", action="version", version=f"liquidation-heatmap {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="command", parser_class=Parser)
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
    return run_command(args.run, args)


#: errors a user can cause with inputs and options (files, values, disk): one line and exit status 2
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, KeyError, TypeError, zipfile.BadZipFile)


def one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line (its type name when it has none)."""
    text = " ".join(str(exc).split())
    if isinstance(exc, OSError) and exc.filename is not None and str(exc.filename) not in text:
        text = f"{exc.filename}: {text}"
    if isinstance(exc, zipfile.BadZipFile):
        text = f"not a readable zip archive ({text})"
    return text or type(exc).__name__


def run_command(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run ``command(args)``; an anticipated error (:data:`USER_ERRORS`) prints ``error: …`` as one line on stderr
    (and nothing else) and gives exit code 2. On success, warnings are printed after the output as one
    ``note: …`` line each on stderr (stdout stays the report, or pure JSON with ``--json``)."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            code = int(command(args) or 0)
        except USER_ERRORS as exc:
            print(f"error: {one_line(exc)}", file=sys.stderr)
            return 2
    _notes(caught)
    return code


def _notes(caught: list[Any]) -> None:
    seen: set[str] = set()
    for w in caught:
        text = " ".join(str(w.message).split())
        if text not in seen and not issubclass(w.category, DeprecationWarning):
            seen.add(text)
            print(f"note: {text}", file=sys.stderr)
