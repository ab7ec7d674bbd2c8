"""docs/performance.md's figure section is the output of benchmarks/bench_plot.py for the current defaults."""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

from heatmap.plot import render_png
from heatmap.view import FLOOR_PERCENTILE, TOP_PERCENTILE, window_distance

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def section() -> str:
    text = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    begin, end = "<!-- bench:plot -->", "<!-- /bench:plot -->"
    assert begin in text and end in text, "run python benchmarks/bench_plot.py"
    return text[text.index(begin) : text.index(end)]


def test_performance_section_describes_the_current_default_png():
    import bench_plot

    doc = section()
    sig = inspect.signature(render_png).parameters
    size, dpi = sig["size"].default, sig["dpi"].default
    assert f"`hm.to_png(path)` ({size[0]:g} × {size[1]:g} in at {dpi} dpi)" in doc
    assert f"× {bench_plot.BINS:,} bins" in doc
    assert f"≤ {bench_plot.TARGET_S} s" in doc
    cpu = float(re.search(r"\*\*default PNG\*\*.*?\| \*\*([0-9.]+)\*\* \|", doc).group(1))
    assert ("met (" in doc) == (cpu <= bench_plot.TARGET_S)


def test_performance_section_reports_the_window_rule_in_force():
    import heatmap as lh

    doc = section()
    d = float(re.search(r"half-width ([0-9.]+) from the leverage law", doc).group(1))
    assert abs(d - window_distance(lh.Model())) < 5e-4
    saturated = float(re.search(r"([0-9.]+)% of the visible cells at the top", doc).group(1))
    assert saturated <= 100 - TOP_PERCENTILE + 0.5
    floored = float(re.search(r"with ([0-9.]+)% of the visible cells under it", doc).group(1))
    assert abs(floored - FLOOR_PERCENTILE) <= 1.0


def test_gallery_states_the_colour_limits_in_force():
    text = (ROOT / "docs" / "gallery.md").read_text(encoding="utf-8")
    assert f"the **floor** is their {FLOOR_PERCENTILE:.0f}th percentile" in text
    assert f"The top is their {TOP_PERCENTILE:.0f}th percentile" in text
    from heatmap.plot import HEATMAP_CMAP

    assert f"colormap (`{HEATMAP_CMAP}`" in text
