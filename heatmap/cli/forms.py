"""Human forms of command-line values: ``100k``, ``1.5m``, ``$95,000``, ``50x``, ``LONG``, ``-3%``, leverage specs.

Each parser is an ``argparse`` ``type=`` callable: it returns the value or raises ``ArgumentTypeError`` with a
message that shows the accepted forms.

Examples
--------
>>> amount("100k"), amount("1.5m"), amount("$95,000.5"), amount("150 USDT")
(100000.0, 1500000.0, 95000.5, 150.0)
>>> leverage_number("50x"), side("LONG"), move("-3%"), move("-0.03")
(50.0, 'long', -0.03, -0.03)
>>> leverage_spec("tiers:10=.4,25=.3,50=.2,100=.1").nodes
(10.0, 25.0, 50.0, 100.0)
"""

from __future__ import annotations

import argparse
import math
import re
from typing import Any

__all__ = [
    "amount",
    "positive_amount",
    "leverage_number",
    "side",
    "move",
    "positive_int",
    "leverage_spec",
    "LEVERAGE_HELP",
]

_SUFFIX = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "bn": 1e9, "t": 1e12}
_AMOUNT = re.compile(
    r"^\s*([+-]?)\s*\$?\s*([0-9][0-9_,]*\.?[0-9]*(?:e[+-]?\d+)?|\.[0-9]+(?:e[+-]?\d+)?)\s*(k|m|bn|b|t)?"
    r"\s*(?:usdt|usdc|usd|\$)?\s*$"
)

LEVERAGE_HELP = (
    "a preset name ({presets}); a number N or Nx: every speculative position at N x (the same as tiers:N=1); "
    "lognormal:median=M,sigma=S[,max=X]; gamma:mean=M,shape=K[,max=X]; or tiers:L1=P1,L2=P2,... "
    "(probabilities summing to 1, e.g. tiers:10=.4,25=.3,50=.2,100=.1)"
)


def amount(text: str) -> float:
    """A finite number with optional ``$``, thousands separators, ``k``/``m``/``b``/``t`` suffix and a
    trailing ``USDT``/``USDC``/``USD`` (any case): ``"150 USDT"``, ``"$1.5M"``, ``"95,000"``."""
    match = _AMOUNT.match(str(text).lower())
    if match is None:
        raise argparse.ArgumentTypeError(
            f"expected a number such as 95000, 95,000, $95k, 1.5m or 2e9, got {text!r}"
        )
    sign, digits, suffix = match.groups()
    value = float(digits.replace(",", "").replace("_", "")) * _SUFFIX[suffix or ""]
    value = -value if sign == "-" else value
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_amount(text: str) -> float:
    """:func:`amount` that must be > 0."""
    value = amount(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def leverage_number(text: str) -> float:
    """A leverage: ``20``, ``20x``, ``20X`` or ``x20`` (> 0)."""
    cleaned = str(text).strip().lower()
    cleaned = cleaned[:-1] if cleaned.endswith("x") else cleaned[1:] if cleaned.startswith("x") else cleaned
    try:
        value = float(cleaned)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a leverage such as 20, 20x or 12.5x, got {text!r}"
        ) from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a leverage > 0, got {text!r}")
    return value


def side(text: str) -> str:
    """``long``/``short`` in any case (``LONG``, ``Long``); ``buy``/``sell`` are not accepted (ambiguous)."""
    value = str(text).strip().lower()
    if value not in ("long", "short"):
        raise argparse.ArgumentTypeError(f"expected long or short (any case), got {text!r}")
    return value


def move(text: str) -> float:
    """A relative price move in (-1, 1): a fraction (``-0.03``) or a percentage (``-3%``, ``+5 %``)."""
    raw = str(text).strip()
    percent = raw.endswith("%")
    try:
        value = float(raw.rstrip("%").strip().replace(" ", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a relative move such as -0.03 or -3%, got {text!r}"
        ) from None
    value = value / 100.0 if percent else value
    if not (math.isfinite(value) and -1 < value < 1):
        raise argparse.ArgumentTypeError(
            f"expected a relative move in (-1, 1) = (-100%, 100%), got {text!r}"
            + ("" if percent else " (write -3% or -0.03 for a 3 % drop)")
        )
    return value


def positive_int(text: str) -> int:
    """A positive integer; ``1k``-style suffixes are accepted when the value is whole."""
    try:
        value = amount(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if not (value >= 1 and value == int(value)):
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(value)


def _params(body: str, spec: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in body.split(","))):
        key, eq, value = part.partition("=")
        if not eq:
            raise argparse.ArgumentTypeError(f"{spec!r}: expected NAME=VALUE, got {part!r}")
        try:
            out[key.strip().lower()] = (
                leverage_number(value) if key.strip().lower() != "sigma" else float(value)
            )
        except (argparse.ArgumentTypeError, ValueError):
            raise argparse.ArgumentTypeError(f"{spec!r}: {key.strip()}={value!r} is not a number") from None
    return out


def leverage_spec(text: str) -> Any:
    """A :class:`~heatmap.leverage.Leverage` from a preset name, a number or a family spec (see ``LEVERAGE_HELP``)."""
    from heatmap.leverage import Leverage

    spec = str(text).strip()
    if spec in Leverage.presets():
        return Leverage.preset(spec)
    family, colon, body = spec.partition(":")
    family = family.strip().lower()
    try:
        if not colon:
            try:
                number = leverage_number(spec)
            except argparse.ArgumentTypeError:
                number = None
            if number is not None:
                return Leverage.tiers({number: 1.0})
        if family == "tiers":
            tiers: dict[float, float] = {}
            for part in filter(None, (p.strip() for p in body.split(","))):
                lev, eq, prob = part.partition("=")
                if not eq:
                    raise argparse.ArgumentTypeError(f"{spec!r}: expected LEVERAGE=PROBABILITY, got {part!r}")
                tiers[leverage_number(lev)] = float(prob)
            return Leverage.tiers(tiers)
        params = _params(body, spec)
        top = params.pop("max", 125.0)
        if family == "lognormal" and set(params) == {"median", "sigma"}:
            return Leverage.lognormal(median=params["median"], sigma=params["sigma"], max_leverage=top)
        if family == "gamma" and set(params) == {"mean", "shape"}:
            return Leverage.gamma(mean=params["mean"], shape=params["shape"], max_leverage=top)
    except argparse.ArgumentTypeError as exc:
        if str(exc).startswith(repr(spec)):
            raise
        raise argparse.ArgumentTypeError(f"{spec!r}: {exc}") from None
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{spec!r}: {exc}") from None
    presets = ", ".join(sorted(Leverage.presets()))
    raise argparse.ArgumentTypeError(f"{spec!r}: expected {LEVERAGE_HELP.format(presets=presets)}")
