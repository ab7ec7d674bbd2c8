"""Figure benchmark: the default PNG of six months of hourly bars × 1,000 bins, other formats and the HTML page.

Input: Binance BTCUSDT 1h candles with 4h open interest from ``../shared/data`` (2024-12-01 to 2025-05-31) when the
folder is present, else the seeded synthetic market of the same length. Times are the fastest of ``REPEAT`` runs,
as wall-clock and as process CPU time (the machine is shared: CPU time is what the code costs).

Writes its section of docs/performance.md (between <!-- bench:plot --> markers).
Run: ``python benchmarks/bench_plot.py`` (``--quick`` prints only).
"""

from __future__ import annotations

import argparse
import inspect
import io
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docs import write_section

import heatmap as lh
from heatmap.plot import new_figure, plot_heatmap, render_png, save_figure
from heatmap.view import heatmap_view

BEGIN, END = "<!-- bench:plot -->", "<!-- /bench:plot -->"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
START, STOP = "2024-12-01", "2025-05-31 20:00"
BINS = 1000
REPEAT = 5
TARGET_S = 0.5


def market() -> tuple[lh.Market, str]:
    """Six months of hourly bars: the real BTCUSDT set when present, else the synthetic market."""
    candles = DATA / "binance-btcusdt-1h" / "BTCUSDT_1h_Cleaned.csv"
    if candles.is_file() and (DATA / "coinglass-btc-4h" / "derived").is_dir():
        from heatmap.validation.datasets import hourly_market, load_coinglass

        m4, _ = load_coinglass(DATA / "coinglass-btc-4h" / "derived", start=START, end=STOP)
        return hourly_market(m4, candles), "Binance BTCUSDT 1h candles, 4h open interest (../shared/data)"
    return lh.synthetic_market(
        days=182, freq="1h", seed=7
    ), "synthetic market (seed 7; ../shared/data absent)"


def fastest(fn: Callable[[], Any], repeat: int = REPEAT) -> tuple[float, float]:
    """(wall, CPU) seconds: the fastest of ``repeat`` runs of each."""
    wall, cpu = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return min(wall), min(cpu)


def former_mesh(hm: lh.Heatmap) -> None:
    """The former default drawing, for comparison: two rasterized pcolormesh layers (long, short) of every bin
    of the grid at ≤ 2,000 snapshot columns, written as the same PNG."""
    fig, ax = new_figure((12.0, 6.0), dpi=150)
    k = -(-len(hm.times) // 2000)
    rows = np.unique(np.r_[np.arange(0, len(hm.times), k), len(hm.times) - 1])
    x = np.r_[rows, len(hm.times)].astype(float)
    for side in ("long", "short"):
        values = np.asarray(getattr(hm, side))[rows]
        ax.pcolormesh(
            x, hm.price_edges, np.ma.masked_less_equal(values, 0).T, shading="flat", rasterized=True
        )
    fig.savefig(io.BytesIO(), format="png", dpi=150)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="print only, do not rewrite docs/performance.md")
    args = parser.parse_args()
    mk, source = market()
    hm = lh.estimate(mk, lh.Model(), bins=BINS)  # warm-up (compiles or loads the engine)
    t_est, c_est = fastest(lambda: lh.estimate(mk, lh.Model(), bins=BINS), repeat=3)
    sig = inspect.signature(render_png).parameters
    size, dpi = sig["size"].default, sig["dpi"].default
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        render_png(hm, out / "w.png")  # warm-up (fonts, colormaps)
        t_png, c_png = fastest(lambda: hm.to_png(out / "hm.png"))
        t_view, c_view = fastest(lambda: heatmap_view(hm))

        def build() -> None:
            fig, ax = new_figure(size, dpi=dpi)
            plot_heatmap(hm, ax=ax)

        t_build, c_build = fastest(build)
        png_kb = (out / "hm.png").stat().st_size / 1024
        t_svg, c_svg = fastest(lambda: save_figure(hm, out / "hm.svg"), repeat=2)
        t_pdf, c_pdf = fastest(lambda: save_figure(hm, out / "hm.pdf"), repeat=2)
        svg_kb, pdf_kb = ((out / f"hm.{s}").stat().st_size / 1024 for s in ("svg", "pdf"))
        t_mesh, c_mesh = fastest(lambda: former_mesh(hm), repeat=1)
        t_html, _ = fastest(lambda: hm.to_html(out / "hm.html"), repeat=1)
        t_lev, _ = fastest(lambda: hm.to_html(out / "lev.html", market=mk), repeat=1)
        html_mb = (out / "hm.html").stat().st_size / 1e6
        lev_mb = (out / "lev.html").stat().st_size / 1e6
    view = heatmap_view(hm)
    path = hm.price
    lo, hi = view.ylim[0] / float(path.min()) - 1, view.ylim[1] / float(path.max()) - 1
    load = os.getloadavg()[0]
    T, P = hm.shape
    met = "met" if c_png <= TARGET_S else "NOT met"
    text = f"""{BEGIN}
## Figures (`benchmarks/bench_plot.py`)

Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, numpy {np.__version__}, matplotlib {__import__("matplotlib").__version__}; 1-minute load average {load:.1f} during the run (the machine was shared, so wall-clock times are inflated; CPU time is what the code costs). Input: {source}, {T:,} hourly bars × {P:,} bins, default `Model()`. Fastest of {REPEAT} runs unless noted.

| step | wall [s] | CPU [s] | output |
|---|---|---|---|
| `estimate` (engine, for scale) | {t_est:.2f} | {c_est:.2f} | {T:,} × {P:,} cells per side |
| **default PNG**: `hm.to_png(path)` ({size[0]:g} × {size[1]:g} in at {dpi} dpi) | {t_png:.2f} | **{c_png:.2f}** | {png_kb:,.0f} KiB |
| of which: window, visible cells, colour limits (`heatmap_view`) | {t_view:.3f} | {c_view:.3f} | |
| of which: building the figure (raster, overlays, colour bar) | {t_build:.3f} | {c_build:.3f} | |
| `hm.save("x.svg")` (fastest of 2) | {t_svg:.2f} | {c_svg:.2f} | {svg_kb:,.0f} KiB |
| `hm.save("x.pdf")` (fastest of 2) | {t_pdf:.2f} | {c_pdf:.2f} | {pdf_kb:,.0f} KiB |
| the former default drawing: two rasterized `pcolormesh` layers of ≤ 2,000 columns × all bins (one run) | {t_mesh:.2f} | {c_mesh:.2f} | |
| `hm.to_html(path)` (one run) | {t_html:.2f} | | {html_mb:.2f} MB |
| `hm.to_html(path, market=market)`, with the leverage layers (5 extra estimates; one run) | {t_lev:.2f} | | {lev_mb:.2f} MB |

Target: the default PNG of this run in ≤ {TARGET_S} s: {met} ({c_png:.2f} s of CPU). The heatmap is one image sampled at the axes' pixel resolution (nearest cell per pixel in time and price), so its cost follows the figure's pixels, not the {T * P:,} cells; the rest is matplotlib's text layout and the PNG encoder (zlib level 1). Default view of this run: price window {view.ylim[0]:,.0f}–{view.ylim[1]:,.0f} ({-lo:.0%} below the lowest close, {hi:.0%} above the highest; half-width {view.distance:.3f} from the leverage law), colour top {view.vmax / 1e6:,.1f} M per band, {view.saturated:.1%} of the visible cells at the top of the scale, colour floor {view.vmin / 1e6:,.1f} M per band with {view.floored:.1%} of the visible cells under it (drawn as background). The HTML page holds the window as compressed 16-bit log codes and draws it on a canvas (no plotting library embedded).

Rerun: `python benchmarks/bench_plot.py` (rewrites this section only; `--quick` prints it).
{END}"""
    print(text)
    if not args.quick:
        write_section(BEGIN, END, text)


if __name__ == "__main__":
    main()
