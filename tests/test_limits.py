"""Memory guard and value ranges: oversized requests are refused before anything is allocated, with an error
naming bins / snapshot_every and the bytes; notionals beyond what a float32 cell holds are refused by name."""

from __future__ import annotations

import re
import tracemalloc

import numpy as np
import pytest

import heatmap as lh
from heatmap.grid import PriceGrid
from heatmap.limits import (
    DEFAULT_MEMORY_LIMIT,
    MAX_NOTIONAL,
    MEMORY_LIMIT_ENV,
    MemoryLimitError,
    check_estimate_memory,
    estimate_memory,
    memory_limit,
    parse_bytes,
)


@pytest.fixture(scope="module")
def market():
    return lh.synthetic_market(days=3, freq="1h", seed=1)


@pytest.fixture(autouse=True)
def _no_env_limit(monkeypatch):
    monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)


@pytest.mark.parametrize("bins", [10**6, 10**7, 10**9])
def test_huge_bins_are_refused_before_allocating(market, bins):
    tracemalloc.start()
    try:
        with pytest.raises(MemoryLimitError) as err:
            lh.estimate(market, bins=bins)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    msg = str(err.value)
    assert f"bins={bins}" in msg and "snapshot_every=" in msg and "72 bars" in msg
    assert "bytes), over the memory limit of 4.0 GiB" in msg and MEMORY_LIMIT_ENV in msg
    assert "use at most bins=" in msg
    assert peak < 50 * 2**20  # refused from the sizes alone: nothing of the requested size was allocated


def test_suggested_bins_fit():
    with pytest.raises(MemoryLimitError, match=r"use at most bins=[\d,]+") as err:
        check_estimate_memory(72, 10**6, snapshot_every=1, limit="1GiB")
    fits = int(re.search(r"use at most bins=([\d,]+)", str(err.value)).group(1).replace(",", ""))
    assert estimate_memory(72, fits)["total"] <= 2**30 < estimate_memory(72, fits + 1)["total"]


def test_snapshots_over_budget_name_snapshot_every():
    with pytest.raises(
        MemoryLimitError, match=r"snapshot_every=1.*the snapshots alone need .*larger snapshot_every="
    ):
        check_estimate_memory(2_000_000, 1000, snapshot_every=1, limit="2GiB")
    assert check_estimate_memory(2_000_000, 1000, snapshot_every=100, limit="2GiB")["total"] < 2 * 2**30


def test_streaming_estimator_is_refused_and_unchanged(market):
    est = lh.Estimator(bins=10**7)
    with pytest.raises(MemoryLimitError, match="bins=10000000"):
        est.update(market)
    assert est.n_bars == 0 and est.grid is None and est.last_time is None


def test_environment_variable_sets_the_budget(market, monkeypatch):
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "1MiB")
    with pytest.raises(MemoryLimitError, match=r"over the memory limit of 1\.0 MiB \(1,048,576 bytes\)"):
        lh.estimate(market, bins=200)
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "none")
    assert memory_limit() > 2**60
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "lots")
    with pytest.raises(ValueError, match=rf"{MEMORY_LIMIT_ENV}: a size in bytes .* got 'lots'"):
        memory_limit()
    monkeypatch.delenv(MEMORY_LIMIT_ENV)
    assert memory_limit() == DEFAULT_MEMORY_LIMIT


@pytest.mark.parametrize(
    ("size", "dpi", "error", "message"),
    [
        ((12.0, 6.0), 100_000, ValueError, r"1,200,000 x 600,000 pixels .*dpi=100000\) is too large"),
        ((1e6, 1e6), 150, ValueError, r"size=\(1e\+06, 1e\+06\) \[inch\].* is too large"),
        (
            (300.0, 300.0),
            200,
            MemoryLimitError,
            r"60,000 x 60,000 pixels .* needs about .*--size W H, --dpi N",
        ),
    ],
)
def test_oversized_figures_are_refused_before_drawing(tmp_path, size, dpi, error, message):
    hm = lh.estimate(lh.synthetic_market(days=1, freq="1h", seed=1), bins=20)
    (tmp_path / "old.png").write_bytes(b"old")
    for write in (hm.to_png, hm.save, hm.at(-1).to_png):
        with pytest.raises(error, match=message):
            write(tmp_path / "old.png", size=size, dpi=dpi)
    assert [p.name for p in tmp_path.iterdir()] == ["old.png"]
    assert (tmp_path / "old.png").read_bytes() == b"old"


def test_snapshot_stride_beyond_int64_is_refused():
    with pytest.raises(ValueError, match=r"snapshot_every must be a positive integer \(at most 2\*\*62\)"):
        lh.Estimator(snapshot_every=10**20)


def test_parse_bytes():
    assert parse_bytes("1.5GiB") == 3 * 2**29
    assert parse_bytes("250 MB") == 250 * 10**6
    assert parse_bytes(4096) == 4096
    for bad in ("-1", "0", "1 parsec", "", True):
        with pytest.raises(ValueError):
            parse_bytes(bad)


def test_estimate_bounds_the_traced_peak(market):
    lh.estimate(market, bins=200)  # compile / warm caches first
    bins = 4000
    tracemalloc.start()
    try:
        hm = lh.estimate(market, bins=bins)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    predicted = estimate_memory(len(market), bins, snapshot_every=hm.meta["snapshot_every"])["total"]
    assert peak <= predicted <= 3 * peak


def test_grid_of_millions_of_bins_is_log_spaced():
    g = PriceGrid.log_spaced(1_000.0, 400_000.0, 10**7)
    assert g.n_bins == 10**7
    with pytest.raises(ValueError, match="log-spaced"):
        PriceGrid(np.array([1.0, 2.0, 3.0, 4.0]))
    with pytest.raises(MemoryLimitError, match="a price grid of bins=1000000000000"):
        PriceGrid.log_spaced(1.0, 2.0, 10**12)


def test_docs_state_the_limits_the_code_uses():
    from pathlib import Path

    from heatmap.limits import format_bytes

    text = " ".join((Path(__file__).resolve().parents[1] / "docs" / "scaling.md").read_text().split())
    per_bin = estimate_memory(0, 1000)["engine"] // 1000
    assert f"take {per_bin:,} B per bin with the default model" in text
    assert f"`bins=10**6` on 72 bars needs about {format_bytes(estimate_memory(72, 10**6)['total'])}" in text
    assert f"The budget is {format_bytes(DEFAULT_MEMORY_LIMIT)};" in text
    assert f"exceeds {MAX_NOTIONAL:.0e} [quote]" in text
