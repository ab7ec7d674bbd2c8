"""One wording for advice in error messages: the Python argument and the command-line flag that fix a problem.

Every reader argument has a flag of the same name on the command line (``time_format`` <-> ``--time-format``),
so a message that suggests a fix names both, and the user can act on it wherever the error came from.

Examples
--------
>>> advise("time_format", "%d-%m-%Y %H:%M")
"pass time_format='%d-%m-%Y %H:%M' (command line: --time-format '%d-%m-%Y %H:%M')"
>>> advise("assume_utc", True)
'pass assume_utc=True (command line: --assume-utc)'
>>> advise("check_units", False)
'pass check_units=False (command line: --no-check-units)'
"""

from __future__ import annotations

import shlex
from typing import Any

__all__ = ["advise", "flag"]

#: arguments whose command-line form is a switch rather than ``--name value``
_SWITCHES: dict[tuple[str, Any], str] = {
    ("assume_utc", True): "--assume-utc",
    ("check_units", False): "--no-check-units",
    ("check_max_leverage", False): "--no-check-max-leverage",
}

_UNSET = object()


def flag(argument: str) -> str:
    """The command-line flag of a Python argument: ``"oi_max_age"`` -> ``"--oi-max-age"``."""
    return "--" + argument.replace("_", "-")


def advise(argument: str, value: Any = _UNSET) -> str:
    """``"pass arg=value (command line: --arg value)"``; without ``value`` only the names are given."""
    if value is _UNSET:
        return f"pass {argument}= (command line: {flag(argument)})"
    switch = _SWITCHES.get((argument, value)) if isinstance(value, bool) else None
    if switch is not None:
        return f"pass {argument}={value!r} (command line: {switch})"
    shown = value if isinstance(value, str) else repr(value)
    return f"pass {argument}={value!r} (command line: {flag(argument)} {shlex.quote(str(shown))})"
