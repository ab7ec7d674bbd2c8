"""Benchmark of the synthetic world generator.

Run ``python benchmarks/bench_synthetic.py``: times :func:`heatmap.simulate_world` (best of ``--repeat`` runs)
for 60 days of hourly bars and 30 days of 1-minute bars, and prints Markdown table rows
``| case | bars | contracts | liquidations | best [s] | bars/s |`` for ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import platform
import time

from heatmap.synthetic import simulate_world

CASES: list[tuple[str, float, str]] = [
    ("simulate_world 60 d x 1 h", 60, "1h"),
    ("simulate_world 365 d x 1 h", 365, "1h"),
    ("simulate_world 30 d x 1 min", 30, "1min"),
]


def run(repeat: int = 3) -> list[str]:
    """Time every case; return the Markdown rows (header first)."""
    rows = [
        "| case | bars | contracts | liquidations | best [s] | bars/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, days, freq in CASES:
        best = float("inf")
        world = None
        for _ in range(repeat):
            t0 = time.perf_counter()
            world = simulate_world(days=days, freq=freq, seed=0)
            best = min(best, time.perf_counter() - t0)
        assert world is not None
        n = len(world.market)
        rows.append(
            f"| {name} | {n:,} | {world.book['pair'].nunique():,} | {len(world.liquidations):,} | "
            f"{best:.2f} | {n / best:,.0f} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (best is reported)")
    args = parser.parse_args()
    print(f"<!-- {platform.python_implementation()} {platform.python_version()}, {platform.machine()} -->")
    for row in run(args.repeat):
        print(row)


if __name__ == "__main__":
    main()
