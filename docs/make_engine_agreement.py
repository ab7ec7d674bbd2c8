"""Convergence of the ledger engine and its agreement with the grid engine: writes ``docs/methodology.md``.

Run from the repository root: ``python docs/make_engine_agreement.py`` (about ten minutes). It rewrites the section
between ``<!-- agreement:start -->`` and ``<!-- agreement:end -->``; ``tests/test_engine_agreement.py`` recomputes
the cheap rows and checks they match what is written there.

Scenario: ``synthetic_market(days=2, freq="1h", seed=11)`` (48 hourly bars, six funding settlements), the default ``Model()`` with the tier
law ``{10x: .35, 25x: .25, 50x: .25, 100x: .15}`` (continuous passive law, triangular entries, candle split,
funding, turnover 0.05), grids ``PriceGrid.for_market(market, bins=P)``. Distances are L1 over both sides of the
last snapshot, as a share of the reference's notional there.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from heatmap.engine import estimate
from heatmap.grid import PriceGrid
from heatmap.leverage import Leverage
from heatmap.market import Market
from heatmap.model import Model
from heatmap.result import Heatmap
from heatmap.synthetic import synthetic_market

DOC = Path(__file__).resolve().parent / "methodology.md"
BEGIN, END = "<!-- agreement:start -->", "<!-- agreement:end -->"
TIERS = Leverage.tiers({10: 0.35, 25: 0.25, 50: 0.25, 100: 0.15})
#: Refinements (leverage nodes per entry node, entry nodes per bar), each doubling both.
LADDER = ((4, 8), (8, 16), (16, 32), (32, 64), (64, 128), (128, 256), (256, 512))
BINS = (600, 1000)
#: Model variants for the breakdown of the remaining grid-ledger distance (each on top of the default model).
VARIANTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("default model, tier law", {}),
    ("funding off", {"funding": False}),
    ("point entries at the close", {"entry": "close"}),
    ("funding off, point entries", {"funding": False, "entry": "close"}),
)


def market() -> Market:
    return synthetic_market(days=2, freq="1h", seed=11)


def model(**changes: Any) -> Model:
    return Model(leverage=TIERS, **changes)


def l1_last(a: Heatmap, b: Heatmap) -> float:
    """L1 distance of the last snapshots (both sides) over the notional of ``b`` there [fraction]."""
    d = np.abs(a.long[-1] - b.long[-1]).sum() + np.abs(a.short[-1] - b.short[-1]).sum()
    return float(d / (b.long[-1].sum() + b.short[-1].sum()))


def ledger(m: Market, mdl: Model, grid: PriceGrid, nodes: tuple[int, int]) -> Heatmap:
    return estimate(
        m,
        mdl,
        grid=grid,
        engine="ledger",
        snapshot_every=len(m),
        leverage_nodes=nodes[0],
        entry_nodes=nodes[1],
    )


def ladder(m: Market, bins: int, rungs: tuple[tuple[int, int], ...] = LADDER) -> list[dict[str, Any]]:
    """Per refinement: L1 to the previous refinement and to the grid engine, seconds."""
    grid = PriceGrid.for_market(m, bins=bins)
    mdl = model()
    fast = estimate(m, mdl, grid=grid)
    rows: list[dict[str, Any]] = []
    prev: Heatmap | None = None
    for nodes in rungs:
        t0 = time.perf_counter()
        ref = ledger(m, mdl, grid, nodes)
        rows.append(
            {
                "bins": bins,
                "nodes": nodes,
                "step": None if prev is None else l1_last(prev, ref),
                "grid": l1_last(fast, ref),
                "seconds": time.perf_counter() - t0,
            }
        )
        prev = ref
    return rows


def residual(rows: list[dict[str, Any]], bins: int) -> tuple[float, float]:
    """For one grid: the ratio of the last two refinement steps, and the finest reference's estimated distance
    to its limit (the last step over the ratio minus one, as for a geometric series) [fraction]."""
    steps = [r["step"] for r in rows if r["bins"] == bins and r["step"] is not None]
    ratio = steps[-2] / steps[-1]
    return ratio, steps[-1] / (ratio - 1.0)


def render(rows: list[dict[str, Any]], variants: list[tuple[str, float, float]]) -> str:
    lines = [
        BEGIN,
        "| bins | leverage nodes x entry nodes | L1 to the previous refinement | L1 grid vs ledger | ledger [s] |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        step = "" if r["step"] is None else f"{100 * r['step']:.2f} %"
        lines.append(
            f"| {r['bins']} | {r['nodes'][0]} x {r['nodes'][1]} | {step} | {100 * r['grid']:.2f} % "
            f"| {r['seconds']:.1f} |"
        )
    if variants:
        finest = f"{LADDER[-1][0]} x {LADDER[-1][1]}"
        res = [residual(rows, b) for b in BINS]
        grid = [r["grid"] for b in BINS for r in rows if r["bins"] == b and r["nodes"] == LADDER[-1]]
        lines += [
            "",
            f"The last doubling of both node counts shrank the ledger's step by a factor of {res[0][0]:.1f} "
            f"({BINS[0]} bins) and {res[1][0]:.1f} ({BINS[1]:,} bins), so the {finest} reference is within "
            f"about {100 * res[0][1]:.2f} % and {100 * res[1][1]:.2f} % L1 of its limit (the last step over the "
            f"ratio minus one). The grid engine with the default model is {100 * grid[0]:.2f} % ({BINS[0]} bins) "
            f"and {100 * grid[1]:.2f} % ({BINS[1]:,} bins) from it.",
            "",
            f"Grid engine against the finest ledger ({finest} nodes), by model variant:",
            "",
            "| model | L1 at 600 bins | L1 at 1,000 bins |",
            "|---|---:|---:|",
        ]
        lines += [f"| {name} | {100 * a:.2f} % | {100 * b:.2f} % |" for name, a, b in variants]
    lines.append(END)
    return "\n".join(lines)


#: The grid engine on grids ``k`` times finer, summed back to the grid: what remains is the grid's resolution.
FINER = (2, 4, 16)


def summed(m: Market, mdl: Model, grid: PriceGrid, k: int) -> Any:
    """The grid engine's last snapshot on a grid ``k`` times finer than ``grid``, summed back to ``grid``'s bins
    (an object with the ``long`` and ``short`` rows that :func:`l1_last` reads)."""
    fine = PriceGrid.log_spaced(float(grid.edges[0]), float(grid.edges[-1]), bins=grid.n_bins * k)
    hm = estimate(m, mdl, grid=fine, snapshot_every=len(m), resolution=1)
    P = grid.n_bins
    return SimpleNamespace(**{s: getattr(hm, s)[-1:].reshape(1, P, k).sum(-1) for s in ("long", "short")})


def variants(m: Market) -> list[tuple[str, float, float]]:
    out = []
    refs: dict[int, Heatmap] = {}
    for name, changes in VARIANTS:
        mdl = model(**changes)
        d = []
        for bins in BINS:
            grid = PriceGrid.for_market(m, bins=bins)
            ref = ledger(m, mdl, grid, LADDER[-1])
            if not changes:
                refs[bins] = ref
            d.append(l1_last(estimate(m, mdl, grid=grid), ref))
        out.append((name, d[0], d[1]))
    d = [l1_last(summed(m, model(), PriceGrid.for_market(m, bins=b), 1), refs[b]) for b in BINS]
    out.append(("default model, `resolution=1` (one store bin per price bin)", d[0], d[1]))
    for k in FINER:
        d = [l1_last(summed(m, model(), PriceGrid.for_market(m, bins=b), k), refs[b]) for b in BINS]
        out.append((f"default model, `resolution=1` on {k}x finer bins summed back", d[0], d[1]))
    return out


#: Other synthetic markets ``(days, seed)`` for the resolution check against the 16x finer grid.
OTHER_MARKETS = ((2, 3), (6, 11), (6, 5), (14, 7), (30, 2))


def other_markets() -> list[tuple[int, int, list[float]]]:
    """Per market: L1 of ``resolution=1`` and of the default (600, then 1,000 bins) against the grid engine on 16x
    finer bins summed back."""
    out = []
    for days, seed in OTHER_MARKETS:
        m = synthetic_market(days=days, freq="1h", seed=seed)
        row = []
        for bins in BINS:
            grid = PriceGrid.for_market(m, bins=bins)
            ref = summed(m, model(), grid, 16)
            row += [l1_last(summed(m, model(), grid, 1), ref)]
            row += [l1_last(estimate(m, model(), grid=grid, snapshot_every=len(m)), ref)]
        out.append((days, seed, row))
    return out


def render_other(rows: list[tuple[int, int, list[float]]]) -> list[str]:
    lines = [
        "",
        "Other markets (`synthetic_market(days, seed=...)`, default model with the tier law), against the grid "
        "engine on 16x finer bins summed back:",
        "",
        "| days | seed | 600 bins, `resolution=1` | 600 bins, default | 1,000 bins, `resolution=1` "
        "| 1,000 bins, default |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {d} | {s} | " + " | ".join(f"{100 * v:.2f} %" for v in r) + " |" for d, s, r in rows]
    return lines


def write(text: str, doc: Path = DOC) -> None:
    body = doc.read_text(encoding="utf-8")
    body = body[: body.index(BEGIN)] + text + body[body.index(END) + len(END) :]
    doc.write_text(body, encoding="utf-8")


def main() -> None:
    m = market()
    rows = [r for bins in BINS for r in ladder(m, bins)]
    text = render(rows, variants(m))
    text = text.replace(END, "\n".join([*render_other(other_markets()), END]))
    write(text)
    print(text)


if __name__ == "__main__":
    main()
