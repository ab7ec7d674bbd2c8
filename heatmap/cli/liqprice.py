"""``python -m heatmap liq-price``: exact liquidation price of one isolated position on a venue.

Examples
--------
``python -m heatmap liq-price --venue binance-usdm --symbol BTCUSDT --side long --entry 100k --leverage 50x``
``python -m heatmap liq-price --tiers binance_leverage_tiers.json --symbol SOLUSDT --side LONG --entry 150
--leverage 20x``  (any symbol of a Binance ``leverageBracket`` or ccxt ``fetch_leverage_tiers`` file)
``python -m heatmap liq-price --venue binance-coinm --symbol BTCUSD_PERP --side short --entry 60000 --leverage 20
--qty 600000``  (inverse: ``--qty`` is the USD notional)
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from heatmap.cli.forms import leverage_number, positive_amount, side
from heatmap.exchanges import VENUES, get, load_tiers
from heatmap.margin import (
    bankruptcy_price,
    bybit_liquidation_price,
    hyperliquid_liquidation_price,
    liquidation_price,
)

__all__ = ["add_parser", "compute", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``liq-price`` sub-command on an ``argparse`` sub-parsers object and return its parser."""
    p = subparsers.add_parser(
        "liq-price",
        help="liquidation price of one isolated position",
        description=(
            "Exact liquidation price of a fresh isolated position (margin = notional/leverage + extra margin), "
            "using the venue's dated bracket table. Prices in quote currency."
        ),
    )
    p.add_argument(
        "--venue",
        default=None,
        choices=VENUES,
        help="venue of the shipped bracket tables (default: binance-usdm; with --tiers: the file's)",
    )
    p.add_argument("--symbol", default="BTCUSDT", help="venue symbol, any case (default: %(default)s)")
    p.add_argument(
        "--tiers",
        default=None,
        metavar="FILE",
        help="bracket table file: a Binance leverageBracket JSON or ccxt fetch_leverage_tiers() output; "
        "any symbol it lists (its effective date is unknown unless --date is given)",
    )
    p.add_argument("--side", required=True, type=side, help="position side: long or short (any case)")
    p.add_argument(
        "--entry", required=True, type=positive_amount, help="entry price [quote], e.g. 150, 95,000, 100k"
    )
    p.add_argument(
        "--leverage", required=True, type=leverage_number, help="selected leverage, e.g. 20 or 20x"
    )
    p.add_argument(
        "--qty",
        type=positive_amount,
        default=None,
        help="position size: base quantity (linear) or USD notional (inverse), e.g. 2.5 or 600k; "
        "omit for a small position",
    )
    p.add_argument(
        "--date",
        default=None,
        help="shipped tables: the one in force on this date (YYYY-MM-DD); with --tiers: the file's date",
    )
    p.add_argument("--mmr", type=float, default=None, help="override: maintenance-margin rate (fraction)")
    p.add_argument("--cum", type=float, default=None, help="override: maintenance amount (with --mmr)")
    p.add_argument(
        "--extra-margin", type=positive_or_zero, default=0.0, help="margin added on top of the initial margin"
    )
    p.add_argument(
        "--no-check-max-leverage",
        dest="check_max_leverage",
        action="store_false",
        help="compute even if leverage exceeds the bracket's maximum",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    return p


def compute(args: argparse.Namespace) -> dict[str, Any]:
    """Compute the numbers printed by :func:`run` (a dict, for programmatic use)."""
    try:
        return _compute(args)
    except ValueError as exc:
        raise ValueError(str(exc).replace("check_max_leverage=False", "--no-check-max-leverage")) from exc


def _compute(args: argparse.Namespace) -> dict[str, Any]:
    if args.cum is not None and args.mmr is None:
        raise ValueError("--cum: needs --mmr (an explicit maintenance-margin rate)")
    if args.tiers is not None:
        schedule = load_tiers(args.tiers, symbol=args.symbol, effective=args.date)
        if args.venue is not None and args.venue != schedule.venue:
            raise ValueError(f"--venue {args.venue}: the --tiers file holds a {schedule.venue} table")
    else:
        schedule = get(args.venue or "binance-usdm", args.symbol, date=args.date)
    venue = schedule.venue
    contract = schedule.contract
    qty = args.qty
    entry, lev, side = args.entry, args.leverage, args.side
    extra = args.extra_margin
    explicit = args.mmr is not None
    mmr_given: float = float(args.mmr) if explicit else 0.0
    cum_given: float = float(args.cum or 0.0)

    if venue == "bybit":
        notional = 0.0 if qty is None else (qty * entry if contract == "linear" else qty / entry)
        idx = int(schedule.bracket_index(notional, clip=not args.check_max_leverage))
        mmr = mmr_given if explicit else float(schedule.mmr[idx])
        cum = cum_given if explicit else float(schedule.cum[idx])
        max_lev = float(schedule.brackets.max_leverage[idx])
        if args.check_max_leverage and not explicit and lev > max_lev:
            raise ValueError(
                f"leverage: got {lev:g}x but {schedule.venue} {schedule.symbol} allows at most {max_lev:g}x here; "
                "pass --no-check-max-leverage to compute anyway"
            )
        lp = bybit_liquidation_price(
            entry,
            lev,
            side,
            mmr=mmr,
            mm_deduction=cum if qty is not None else 0.0,
            contract=contract,
            qty=qty,
            extra_margin=extra,
        )
    elif venue == "hyperliquid":
        if explicit:
            raise ValueError(
                "--mmr: Hyperliquid's maintenance rate is fixed by max leverage (1/(2*max_leverage))"
            )
        lmax = schedule.max_leverage
        lp = hyperliquid_liquidation_price(
            entry,
            lev,
            side,
            max_leverage=lmax,
            qty=qty,
            extra_margin=extra,
            check_max_leverage=args.check_max_leverage,
        )
        idx, mmr, cum = 0, 0.5 / lmax, 0.0
    else:
        if explicit:
            lp = liquidation_price(
                entry, lev, side, mmr=mmr_given, cum=cum_given, contract=contract, qty=qty, extra_margin=extra
            )
        else:
            lp = liquidation_price(
                entry,
                lev,
                side,
                contract=contract,
                qty=qty,
                schedule=schedule,
                extra_margin=extra,
                check_max_leverage=args.check_max_leverage,
            )
        if qty is None or not (0 < lp < math.inf):
            idx = 0
        else:
            n = qty * lp if contract == "linear" else qty / lp
            idx = int(schedule.bracket_index(n, clip=True))
        mmr = mmr_given if explicit else float(schedule.mmr[idx])
        cum = cum_given if explicit else float(schedule.cum[idx])

    bp = bankruptcy_price(entry, lev, side, contract=contract, qty=qty, extra_margin=extra)
    distance = (lp - entry) / entry * 100 if math.isfinite(lp) else math.inf
    return {
        "venue": schedule.venue,
        "symbol": schedule.symbol,
        "contract": contract,
        "schedule_effective": None if schedule.effective is None else schedule.effective.date().isoformat(),
        "schedule_source": schedule.source,
        "side": side,
        "entry": entry,
        "leverage": lev,
        "qty": qty,
        "liquidation_price": float(lp),
        "bankruptcy_price": float(bp),
        "bracket": None if explicit else idx + 1,
        "mmr": float(mmr),
        "maintenance_amount": float(cum),
        "margin_unit": schedule.quote if contract == "linear" else schedule.base,
        "distance_pct": float(distance),
    }


def positive_or_zero(text: str) -> float:
    """A margin amount >= 0 (human forms as in :func:`heatmap.cli.forms.amount`)."""
    from heatmap.cli.forms import amount

    value = amount(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _fmt(x: float) -> str:
    """A price with at least two decimals and eight significant digits (0.0123456, 143.21608)."""
    if not math.isfinite(x):
        return "never (no finite liquidation price)"
    digits = 2 if x == 0 else max(2, 7 - math.floor(math.log10(abs(x))))
    return f"{x:,.{digits}f}"


def run(args: argparse.Namespace) -> int:
    """Print the liquidation price, bankruptcy price, bracket, MMR, maintenance amount and distance; return 0."""
    out = compute(args)
    if args.json:
        print(json.dumps(out))
        return 0
    lp = out["liquidation_price"]
    never = out["side"] == "long" and lp <= 0
    bracket = (
        "explicit --mmr"
        if out["bracket"] is None
        else f"{out['bracket']} (table "
        + (
            "effective date unknown"
            if out["schedule_effective"] is None
            else f"effective {out['schedule_effective']}"
        )
        + ")"
    )
    lines = [
        f"venue               {out['venue']} {out['symbol']} ({out['contract']})",
        f"position            {out['side']} {out['leverage']:g}x @ {_fmt(out['entry'])}"
        + ("" if out["qty"] is None else f", qty {out['qty']:g}"),
        f"liquidation price   {'never (long at <= 1x)' if never else _fmt(lp)}",
        f"bankruptcy price    {_fmt(out['bankruptcy_price'])}",
        f"bracket             {bracket}",
        f"MMR                 {out['mmr']:.4%}",
        f"maintenance amount  {out['maintenance_amount']:,.8g} {out['margin_unit']}",
        f"distance from entry {'n/a' if never else format(out['distance_pct'], '+.3f') + ' %'}",
    ]
    print("\n".join(lines))
    return 0
