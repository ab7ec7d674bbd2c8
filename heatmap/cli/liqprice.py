"""``python -m heatmap liq-price``: exact liquidation price of one isolated position on a venue.

Examples
--------
``python -m heatmap liq-price --venue binance-usdm --symbol BTCUSDT --side long --entry 100000 --leverage 50``
``python -m heatmap liq-price --venue binance-coinm --symbol BTCUSD_PERP --side short --entry 60000 --leverage 20
--qty 600000``  (inverse: ``--qty`` is the USD notional)
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from heatmap.exchanges import VENUES, get
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
    p.add_argument("--venue", default="binance-usdm", choices=VENUES, help="venue (default: %(default)s)")
    p.add_argument("--symbol", default="BTCUSDT", help="venue symbol (default: %(default)s)")
    p.add_argument("--side", required=True, choices=("long", "short"), help="position side")
    p.add_argument("--entry", required=True, type=float, help="entry price [quote]")
    p.add_argument("--leverage", required=True, type=float, help="selected leverage, > 0")
    p.add_argument(
        "--qty",
        type=float,
        default=None,
        help="position size: base quantity (linear) or USD notional (inverse); omit for a small position",
    )
    p.add_argument("--date", default=None, help="use the bracket table in force on this date (YYYY-MM-DD)")
    p.add_argument("--mmr", type=float, default=None, help="override: maintenance-margin rate (fraction)")
    p.add_argument("--cum", type=float, default=None, help="override: maintenance amount (with --mmr)")
    p.add_argument(
        "--extra-margin", type=float, default=0.0, help="margin added on top of the initial margin"
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
    schedule = get(args.venue, args.symbol, date=args.date)
    contract = schedule.contract
    qty = args.qty
    entry, lev, side = args.entry, args.leverage, args.side
    extra = args.extra_margin
    explicit = args.mmr is not None
    mmr_given: float = float(args.mmr) if explicit else 0.0
    cum_given: float = float(args.cum or 0.0)

    if args.venue == "bybit":
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
    elif args.venue == "hyperliquid":
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
        "schedule_effective": schedule.effective.date().isoformat(),
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


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return "never (no finite liquidation price)"
    return f"{x:,.2f}"


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
        else f"{out['bracket']} (table effective {out['schedule_effective']})"
    )
    lines = [
        f"venue               {out['venue']} {out['symbol']} ({out['contract']})",
        f"position            {out['side']} {out['leverage']:g}x @ {out['entry']:,.2f}"
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
