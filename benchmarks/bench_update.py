"""Streaming benchmark: cost of one 1-minute update on a 1,000-bin Estimator state, and of a checkpoint.

Writes its section of docs/performance.md (between <!-- bench:update --> markers).
Run: ``python benchmarks/bench_update.py`` (``--quick`` prints only).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docs import write_section
from bench_engine import random_walk_market

from heatmap.engine import Estimator
from heatmap.grid import PriceGrid
from heatmap.model import Model

BEGIN, END = "<!-- bench:update -->", "<!-- /bench:update -->"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    warm, n_updates = 1440, (200 if args.quick else 2000)
    market = random_walk_market(warm + n_updates, "1min", seed=3)
    grid = PriceGrid.for_market(market, bins=1000)
    est = Estimator(Model(), grid=grid, snapshot_every=1)
    est.update(market.frame.iloc[:warm])
    frame = market.frame
    times = []
    for i in range(warm, warm + n_updates):
        bar = frame.iloc[i : i + 1]
        t0 = time.perf_counter()
        est.update(bar)
        times.append(time.perf_counter() - t0)
    t = np.array(times) * 1e3
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        path = est.save(Path(tmp) / "state.npz")
        t_save = time.perf_counter() - t0
        size = path.stat().st_size
        t0 = time.perf_counter()
        Estimator.load(path)
        t_load = time.perf_counter() - t0
    lines = [
        BEGIN,
        "## Streaming updates (`benchmarks/bench_update.py`)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"numpy {np.__version__}. `Estimator(Model(), grid=1,000 bins, snapshot_every=1)` primed with one day "
        f"of 1-minute bars, then {n_updates:,} updates of one bar each (a DataFrame row: validation, the "
        "per-bar engine step and the new snapshot).",
        "",
        "| per 1-minute update | median [ms] | 90th pct [ms] | 99th pct [ms] |",
        "|---|---|---|---|",
        f"| `Estimator.update(bar)` | {np.median(t):.2f} | {np.percentile(t, 90):.2f} | "
        f"{np.percentile(t, 99):.2f} |",
        "",
        f"Checkpoint after {warm + n_updates:,} bars: save {t_save * 1e3:.0f} ms, load {t_load * 1e3:.0f} ms, "
        f"{size / 1e6:.1f} MB (`.npz` + JSON metadata). The per-bar engine step itself is ≈ 20 µs "
        "(engine section above); the rest of an update is the fixed cost of validating and appending a new "
        "chunk, which is why the issue's target of well under 1 ms per update is "
        + ("met." if np.median(t) < 1.0 else "**not met** — batch several bars per update where latency matters."),
        END,
    ]
    text = "\n".join(lines)
    print(text)
    if not args.quick:
        write_section(BEGIN, END, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
