"""Print the shortcut-error tables of ``docs/margin.md`` (Markdown) from the exact liquidation-price formula.

Run from the repository root: ``python docs/make_margin_table.py``. The output is pasted verbatim into
``docs/margin.md`` between the ``<!-- shortcut-table -->`` markers; ``tests/test_margin.py`` checks that the pasted
text is what this script prints.

The exact price is :func:`heatmap.margin.liquidation_price` with the default schedule
``heatmap.exchanges.get("binance-usdm", "BTCUSDT")`` (bracket selected at the liquidation notional). Errors are
``shortcut - exact`` in % of the entry price and as a share of the exact liquidation distance ``|exact - entry|``
(positive = the shortcut puts the level closer to the entry than it really is, for either side).
"""

from __future__ import annotations

import numpy as np

from heatmap.exchanges import get
from heatmap.margin import liquidation_price

ENTRY = 100_000.0
LEVERAGES = (5, 10, 20, 50, 75, 100, 125)


def shortcuts(entry: float, lev: float, mmr: float, s: int) -> dict[str, float]:
    """The three common approximations, written for a long and mirrored for a short."""
    return {
        "E(1-1/L)": entry * (1 - s / lev),
        "E(1-1/L+MMR)": entry * (1 - s * (1 / lev - mmr)),
        "E(1-1/L+MMR/L)": entry * (1 - s * (1 / lev - mmr / lev)),
    }


def table(side: str, qty: float) -> str:
    """One Markdown table for ``side`` and position size ``qty`` [BTC] at ``ENTRY``."""
    sched = get("binance-usdm", "BTCUSDT")
    s = 1 if side == "long" else -1
    names = list(shortcuts(1.0, 2.0, 0.0, s))
    head = (
        "| L | exact LP | distance | "
        + " | ".join(f"{n}: % of price / share of distance" for n in names)
        + " |"
    )
    rows = [head, "|" + "---|" * (3 + len(names))]
    for lev in LEVERAGES:
        max_lev = float(sched.lookup(qty * ENTRY)[2])
        if lev > max_lev:
            rows.append(f"| {lev}x | not allowed (max {max_lev:g}x at this size) |" + " |" * (1 + len(names)))
            continue
        exact = liquidation_price(ENTRY, lev, side, qty=qty, schedule=sched)
        mmr = float(sched.mmr[sched.bracket_index(qty * exact)])
        dist = abs(exact - ENTRY)
        cells = []
        for approx in shortcuts(ENTRY, lev, mmr, s).values():
            closer = s * (approx - exact)  # > 0: shortcut level lies between the exact level and the entry
            cells.append(f"{closer / ENTRY:+.3%} / {closer / dist:+.1%}")
        rows.append(f"| {lev}x | {exact:,.2f} | {dist / ENTRY:.3%} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    np.set_printoptions(suppress=True)
    small = 0.01
    print(
        f"Long, {small:g} BTC at {ENTRY:,.0f} USDT (notional {small * ENTRY:,.0f} USDT, bracket 1: MMR 0.4 %, cum 0):"
    )
    print()
    print(table("long", small))
    print()
    print(f"Short, {small:g} BTC at {ENTRY:,.0f} USDT:")
    print()
    print(table("short", small))
    print()
    big = 20.0
    print(
        f"Long, {big:g} BTC at {ENTRY:,.0f} USDT (notional {big * ENTRY:,.0f} USDT; MMR of the bracket at liquidation):"
    )
    print()
    print(table("long", big))


if __name__ == "__main__":
    main()
