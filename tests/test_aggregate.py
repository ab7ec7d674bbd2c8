"""Aggregated maps across venues, batch runs and on-disk stores."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from heatmap.aggregate import align, batch, estimate_many, memory_bytes
from heatmap.io.store import read_heatmap, write_heatmap
from heatmap.synthetic import synthetic_market


@pytest.fixture(scope="module")
def markets():
    a = synthetic_market(days=6, freq="1h", seed=1)
    b = synthetic_market(days=6, freq="1h", seed=2)
    return a, b


def test_aggregate_is_sum_of_layers(markets):
    a, b = markets
    multi = estimate_many({"a": (a, None), "b": (b, None)}, bins=300)
    np.testing.assert_allclose(multi.total.long, multi.layers["a"].long + multi.layers["b"].long)
    np.testing.assert_allclose(multi.total.short, multi.layers["a"].short + multi.layers["b"].short)
    assert multi.coverage.all().all()
    share = multi.share()
    np.testing.assert_allclose(share.sum(axis=1).to_numpy(), 1.0)


def test_venue_with_partial_data(markets):
    a, b = markets
    late = b[b.index[48] :]
    multi = estimate_many({"a": a, "late": late}, bins=300)
    cov = multi.coverage["late"]
    assert not cov.iloc[:48].any() and cov.iloc[48:].all()
    assert np.all(multi.layers["late"].long[:48] == 0)
    np.testing.assert_allclose(multi.total.long[:48], multi.layers["a"].long[:48])


def test_align_outside_span_is_zero(markets):
    from heatmap.engine import estimate

    a, _ = markets
    hm = estimate(a[: a.index[24]], bins=200)
    times = a.index
    out, covered = align(hm, times, bar=a.freq)
    assert covered.sum() == len(hm.times)
    assert np.all(out.long[~covered] == 0)


def test_executor_matches_serial(markets):
    a, b = markets
    serial = estimate_many({"a": a, "b": b}, bins=200)
    with ThreadPoolExecutor(2) as ex:
        parallel = estimate_many({"a": a, "b": b}, bins=200, executor=ex)
    np.testing.assert_array_equal(serial.total.long, parallel.total.long)


def test_dask_and_local_give_identical_results(markets, tmp_path):
    distributed = pytest.importorskip("distributed")
    a, b = markets
    local = batch({"a": a, "b": b}, workers=1, bins=200)
    with distributed.Client(
        processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
    ) as client:
        remote = batch({"a": a, "b": b}, executor=client, bins=200)
    for name in ("a", "b"):
        np.testing.assert_array_equal(local[name].heatmap.long, remote[name].heatmap.long)


def test_batch_streams_to_parquet_and_reads_back(markets, tmp_path):
    a, b = markets
    items = batch({"a": a, "b": b}, workers=1, bins=200, out=tmp_path)
    for item in items.values():
        assert item.heatmap is None and item.path is not None
        back = read_heatmap(item.path)
        assert back.shape[1] == 200
        assert back.total.iloc[-1]["long"] == pytest.approx(item.total_long, rel=1e-5)


def test_store_roundtrip_dense_and_sparse(markets, tmp_path):
    from heatmap.engine import estimate

    hm = estimate(markets[0], bins=150)
    for sparse in (True, False):
        path = write_heatmap(hm, tmp_path / f"s{sparse}", sparse=sparse)
        back = read_heatmap(path)
        np.testing.assert_allclose(back.long, hm.long.astype(np.float32))
        np.testing.assert_array_equal(back.times, hm.times)
        np.testing.assert_allclose(back.price_edges, hm.price_edges)


def test_store_rejects_newer_version(markets, tmp_path):
    import json

    from heatmap.engine import estimate

    path = write_heatmap(estimate(markets[0], bins=100), tmp_path / "x")
    meta = json.loads((path / "axes.json").read_text())
    meta["version"] = 99
    (path / "axes.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="newer version"):
        read_heatmap(path)


def test_memory_formula():
    assert memory_bytes(8760, 1000) == 8760 * 1000 * 2 * 4
    assert memory_bytes(10, 10, dtype=np.float64) == 1600


def test_bad_specs():
    with pytest.raises(ValueError, match="at least one"):
        estimate_many({})
    with pytest.raises(TypeError, match="Market"):
        estimate_many({"x": 3})


@pytest.mark.parametrize("kind", ["total", "stacked", "separate"])
def test_plot_kinds_draw_and_write_png(markets, tmp_path, kind):
    import matplotlib.image as mpimg
    from matplotlib.figure import Figure

    multi = estimate_many({"a": markets[0], "b": markets[1]}, bins=200)
    fig = Figure(figsize=(8, 6))
    ax = fig.add_subplot()
    out = multi.plot(ax=ax, kind=kind)
    if kind == "separate":  # one titled panel per layer, on the given axes' figure
        assert len(out) == 2
        assert [a.get_title(loc="left") for a in fig.axes if a.get_title(loc="left")] == ["a", "b"]
    path = multi.to_png(tmp_path / f"{kind}.png", kind=kind)
    img = mpimg.imread(path)
    assert img.shape[0] > 100 and img.shape[1] > 100
    assert len(np.unique(img.reshape(-1, img.shape[-1])[::37], axis=0)) > 20  # a drawn picture, not a blank
