"""Heatmap stores: only this library's stores are opened, replaced or deleted; crafted Zarr metadata with object
types or pickle codecs is refused before anything is decoded."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest

from heatmap.aggregate import batch
from heatmap.io.store import StoreError, read_heatmap, store_kind, write_heatmap
from heatmap.limits import MemoryLimitError
from heatmap.result import Heatmap
from heatmap.synthetic import synthetic_market


def _hm(scale: float = 1.0) -> Heatmap:
    t = pd.date_range("2025-01-01", periods=3, freq="h", tz="UTC")
    long = scale * np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0], [4.0, 5.0, 0.0]])
    return Heatmap(
        times=t,
        price_edges=np.array([90.0, 95.0, 100.0, 105.0]),
        long=long,
        short=long[::-1].copy(),
        price=pd.Series([100.0, 101.0, 99.0], index=t, name="close"),
    )


def _tree(root):
    return sorted(
        (str(p.relative_to(root)), p.read_bytes() if p.is_file() else None) for p in root.rglob("*")
    )


# -- replacing and deleting --------------------------------------------------------------------------------------
def test_existing_directory_that_is_not_a_store_is_refused(tmp_path):
    target = tmp_path / "results"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    before = _tree(tmp_path)
    for overwrite in (False, True):
        with pytest.raises(
            FileExistsError, match=r"results exists and is not a heatmap store.*nothing was changed"
        ):
            write_heatmap(_hm(), target, overwrite=overwrite)
    assert _tree(tmp_path) == before
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileExistsError, match="is not a heatmap store"):
        write_heatmap(_hm(), empty, overwrite=True)
    f = tmp_path / "file.heatmap"
    f.write_text("x")
    with pytest.raises(FileExistsError, match=r"file\.heatmap exists and is a file"):
        write_heatmap(_hm(), f, overwrite=True)
    assert f.read_text() == "x"


def test_store_with_extra_files_is_not_replaced(tmp_path):
    path = write_heatmap(_hm(), tmp_path / "s")
    (path / "my-analysis.ipynb").write_text("{}")
    assert store_kind(path) is None
    with pytest.raises(FileExistsError, match="not a heatmap store"):
        write_heatmap(_hm(2.0), path, overwrite=True)
    assert (path / "my-analysis.ipynb").read_text() == "{}"


@pytest.mark.parametrize("fmt", ["parquet", "zarr"])
def test_existing_store_needs_overwrite(tmp_path, fmt):
    if fmt == "zarr":
        pytest.importorskip("xarray")
        pytest.importorskip("zarr")
    sibling = tmp_path / "s.old"  # a user's folder that looks like a backup name: never touched
    sibling.mkdir()
    (sibling / "data.csv").write_text("1,2")
    path = write_heatmap(_hm(), tmp_path / "s", format=fmt)
    assert store_kind(path) == fmt
    before = _tree(path)
    with pytest.raises(FileExistsError, match="existing heatmap store; pass overwrite=True"):
        write_heatmap(_hm(2.0), path, format=fmt)
    assert _tree(path) == before
    write_heatmap(_hm(2.0), path, format=fmt, overwrite=True)
    np.testing.assert_allclose(read_heatmap(path).long, _hm(2.0).long)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s", "s.old"]
    assert (sibling / "data.csv").read_text() == "1,2"


def test_non_finite_cells_are_refused_before_writing(tmp_path):
    hm = _hm()
    bad = Heatmap(
        times=hm.times,
        price_edges=hm.price_edges,
        long=np.where(hm.long > 4, 1e39, hm.long),
        short=hm.short,
        price=hm.price,
    )
    with pytest.raises(
        ValueError, match=r"long: 1 cells are not finite in float32 \(first at snapshot 2, bin 1"
    ):
        write_heatmap(bad, tmp_path / "x")
    assert list(tmp_path.iterdir()) == []


def test_batch_refuses_existing_non_store_before_computing(tmp_path):
    m = synthetic_market(days=1, freq="1h", seed=1)
    (tmp_path / "b.heatmap").mkdir()
    (tmp_path / "b.heatmap" / "precious.txt").write_text("keep")
    before = _tree(tmp_path)
    with pytest.raises(FileExistsError, match=r"b\.heatmap exists and is not a heatmap store"):
        batch({"a": m, "b": m}, workers=1, bins=50, out=tmp_path, overwrite=True)
    assert _tree(tmp_path) == before  # 'a' was not written either
    items = batch({"a": m}, workers=1, bins=50, out=tmp_path)
    with pytest.raises(FileExistsError, match="pass overwrite=True"):
        batch({"a": m}, workers=1, bins=50, out=tmp_path)
    again = batch({"a": m}, workers=1, bins=50, out=tmp_path, overwrite=True)
    assert again["a"].path == items["a"].path


# -- reading -------------------------------------------------------------------------------------------------------
def test_unrecognised_directory_is_not_opened(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "data.bin").write_bytes(b"\x00")
    with pytest.raises(StoreError, match=r"x is not a heatmap store written by write_heatmap"):
        read_heatmap(tmp_path / "x")
    with pytest.raises(FileNotFoundError):
        read_heatmap(tmp_path / "missing")


def _cells_store(tmp_path, cells: pd.DataFrame):
    path = write_heatmap(_hm(), tmp_path / "s")
    cells.to_parquet(path / "cells.parquet", index=False)
    return path


@pytest.mark.parametrize(
    ("ti", "pi", "long", "message"),
    [
        (-1, 0, 1.0, r"time_index = -1, outside 0\.\.2"),
        (3, 0, 1.0, r"time_index = 3, outside 0\.\.2"),
        (0, -2, 1.0, r"price_index = -2, outside 0\.\.2"),
        (0, 7, 1.0, r"price_index = 7, outside 0\.\.2"),
        (0, 0, np.nan, r"long = nan"),
    ],
)
def test_cells_outside_the_axes_are_refused(tmp_path, ti, pi, long, message):
    cells = pd.DataFrame(
        {
            "time_index": np.array([1, ti], dtype=np.int32),
            "price_index": np.array([1, pi], dtype=np.int32),
            "long": np.array([1.0, long], dtype=np.float32),
            "short": np.zeros(2, dtype=np.float32),
        }
    )
    path = _cells_store(tmp_path, cells)
    with pytest.raises(StoreError, match=rf"s: cells\.parquet row 1 has {message}"):
        read_heatmap(path)


def test_duplicate_and_float_indices_are_refused(tmp_path):
    dup = pd.DataFrame({"time_index": [1, 1], "price_index": [2, 2], "long": [1.0, 2.0], "short": [0.0, 0.0]})
    with pytest.raises(StoreError, match="same cell more than once"):
        read_heatmap(_cells_store(tmp_path / "a", dup))
    flt = dup.assign(time_index=[0.5, 1.0])
    with pytest.raises(StoreError, match="'time_index' must hold integers"):
        read_heatmap(_cells_store(tmp_path / "b", flt))


def test_axes_that_ask_for_huge_arrays_are_refused(tmp_path, monkeypatch):
    path = write_heatmap(_hm(), tmp_path / "s")
    axes = json.loads((path / "axes.json").read_text())
    axes["shape"] = [10**6, 10**6]
    axes["times"] = ["2025-01-01T00:00:00+00:00"] * 10**6
    axes["price_edges"] = list(np.geomspace(1, 2, 10**6 + 1))
    (path / "axes.json").write_text(json.dumps(axes))
    with pytest.raises(
        MemoryLimitError, match=r"reading .*s \(1000000 snapshots x 1000000 bins\) needs about 7\.3 TiB"
    ):
        read_heatmap(path)
    axes["shape"] = [3, "3"]
    (path / "axes.json").write_text(json.dumps(axes))
    with pytest.raises(StoreError, match="shape must be two integers"):
        read_heatmap(path)


# -- zarr: code in metadata ----------------------------------------------------------------------------------------
class _Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _crafted_v2(root, marker, *, in_consolidated_only: bool = False):
    """A Zarr v2 store written by hand: recognised attributes, an object array behind the pickle filter."""
    root.mkdir()
    (root / ".zgroup").write_text(json.dumps({"zarr_format": 2}))
    attrs = {"store_format": "liquidation-heatmap/store", "title": "liquidation heatmap"}
    (root / ".zattrs").write_text(json.dumps(attrs))
    evil = {
        "shape": [1],
        "chunks": [1],
        "dtype": "|O",
        "fill_value": None,
        "order": "C",
        "filters": [{"id": "pickle", "protocol": 5}],
        "compressor": None,
        "zarr_format": 2,
    }
    benign = dict(evil, dtype="<f8", filters=None)
    (root / "long").mkdir()
    (root / "long" / ".zarray").write_text(json.dumps(benign if in_consolidated_only else evil))
    (root / "long" / ".zattrs").write_text(json.dumps({"_ARRAY_DIMENSIONS": ["time"]}))
    (root / "long" / "0").write_bytes(pickle.dumps(np.array([_Payload(marker)], dtype=object), protocol=5))
    if in_consolidated_only:
        meta = {
            "zarr_consolidated_format": 1,
            "metadata": {".zgroup": {"zarr_format": 2}, ".zattrs": attrs, "long/.zarray": evil},
        }
        (root / ".zmetadata").write_text(json.dumps(meta))


@pytest.mark.parametrize("consolidated", [False, True])
def test_crafted_pickle_store_is_refused_and_nothing_runs(tmp_path, monkeypatch, consolidated):
    marker = tmp_path / "PWNED"
    store = tmp_path / "evil.zarr"
    _crafted_v2(store, marker, in_consolidated_only=consolidated)
    assert store_kind(store) == "zarr"
    xr = pytest.importorskip("xarray")

    def forbidden(*args, **kwargs):
        raise AssertionError("xr.open_zarr must not be reached")

    monkeypatch.setattr(xr, "open_zarr", forbidden)
    with pytest.raises(StoreError, match=r"evil\.zarr.*data type '\|O' is not a plain numeric"):
        read_heatmap(store)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("codecs", [{"name": "bytes"}, {"name": "numcodecs.pickle"}], "codec 'numcodecs.pickle'"),
        ("codecs", [{"name": "vlen-bytes"}], "codec 'vlen-bytes'"),
        ("data_type", "string", "data type 'string'"),
        (
            "codecs",
            [{"name": "sharding_indexed", "configuration": {"codecs": [{"name": "numcodecs.pickle"}]}}],
            "codec 'numcodecs.pickle'",
        ),
    ],
)
def test_crafted_v3_metadata_is_refused(tmp_path, field, value, message):
    store = tmp_path / "evil.zarr"
    store.mkdir()
    (store / "zarr.json").write_text(
        json.dumps(
            {
                "zarr_format": 3,
                "node_type": "group",
                "attributes": {"store_format": "liquidation-heatmap/store"},
            }
        )
    )
    arr = {
        "zarr_format": 3,
        "node_type": "array",
        "shape": [1],
        "data_type": "float64",
        "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
        "fill_value": 0,
    }
    arr[field] = value
    (store / "long").mkdir()
    (store / "long" / "zarr.json").write_text(json.dumps(arr))
    with pytest.raises(StoreError, match=message):
        read_heatmap(store)


def test_v2_filter_on_numeric_array_is_refused(tmp_path):
    store = tmp_path / "evil.zarr"
    _crafted_v2(store, tmp_path / "m")
    meta = json.loads((store / "long" / ".zarray").read_text())
    meta["dtype"] = "<f8"
    (store / "long" / ".zarray").write_text(json.dumps(meta))
    with pytest.raises(StoreError, match="codec 'pickle' in 'filters' is not allowed"):
        read_heatmap(store)


def test_zarr_round_trip_and_legacy_store(tmp_path):
    pytest.importorskip("xarray")
    pytest.importorskip("zarr")
    from heatmap.export import to_xarray

    path = write_heatmap(_hm(), tmp_path / "a.zarr", format="zarr")
    back = read_heatmap(path)
    np.testing.assert_allclose(back.long, _hm().long)
    legacy = tmp_path / "legacy.zarr"
    to_xarray(_hm()).to_zarr(
        legacy, zarr_format=2
    )  # written by an earlier version: no store_format attribute
    assert store_kind(legacy) == "zarr"
    np.testing.assert_allclose(read_heatmap(legacy).short, _hm().short)
    other = tmp_path / "other.zarr"
    to_xarray(_hm()).assign_attrs(title="something else").to_zarr(other, zarr_format=2)
    with pytest.raises(StoreError, match="not a heatmap store"):
        read_heatmap(other)


def test_more_cells_than_the_axes_hold_is_refused_before_reading(tmp_path):
    n = 3 * 3 + 1
    cells = pd.DataFrame(
        {
            "time_index": np.zeros(n, dtype=np.int32),
            "price_index": np.zeros(n, dtype=np.int32),
            "long": np.ones(n, dtype=np.float32),
            "short": np.zeros(n, dtype=np.float32),
        }
    )
    path = _cells_store(tmp_path, cells)
    with pytest.raises(StoreError, match=r"cells\.parquet has 10 rows, more than the 3 x 3 cells"):
        read_heatmap(path)
    (path / "cells.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(StoreError, match=r"s: cannot read the store"):
        read_heatmap(path)


# -- axes.json and price.parquet edited by hand --------------------------------------------------------------------
def _edit_axes(path, **changes):
    axes = json.loads((path / "axes.json").read_text())
    axes.update(changes)
    (path / "axes.json").write_text(json.dumps(axes))


@pytest.mark.parametrize(
    ("times", "message"),
    [
        ([None, None, None], r"times must be ISO 8601 strings, got None"),
        ([1, 2, 3], r"times must be ISO 8601 strings, got 1"),
        (["2025-01-01T00:00Z", "2025-01-01T00:00Z", "2025-01-01T02:00Z"], r"time 1 .* is not after"),
        (["2025-01-01T02:00Z", "2025-01-01T01:00Z", "2025-01-01T00:00Z"], r"snapshot times must increase"),
        (["2025-01-01T00:00Z", "NaT", "2025-01-01T02:00Z"], r"1 snapshot times are missing"),
    ],
)
def test_axes_with_bad_times_are_refused(tmp_path, times, message):
    path = write_heatmap(_hm(), tmp_path / "s")
    _edit_axes(path, times=times)
    before = _tree(tmp_path)
    with pytest.raises(StoreError, match=rf"s[/\\]axes\.json: .*{message}"):
        read_heatmap(path)
    assert _tree(tmp_path) == before


def test_naive_times_in_axes_read_as_utc(tmp_path):
    path = write_heatmap(_hm(), tmp_path / "s")
    _edit_axes(path, times=["2025-01-01T00:00:00", "2025-01-01T01:00:00", "2025-01-01T02:00:00"])
    assert str(read_heatmap(path).times.tz) == "UTC"


def test_axes_json_with_an_over_long_integer_is_refused(tmp_path):
    path = write_heatmap(_hm(), tmp_path / "s")
    text = (path / "axes.json").read_text().replace('"version": 1', '"version": 1' + "0" * 5000)
    (path / "axes.json").write_text(text)
    with pytest.raises(StoreError, match=r"s is not a heatmap store"):
        read_heatmap(path)
    with pytest.raises(FileExistsError, match=r"s exists and is not a heatmap store"):
        write_heatmap(_hm(), path, overwrite=True)
    assert (path / "axes.json").read_text() == text


def test_non_numeric_close_prices_are_refused(tmp_path):
    path = write_heatmap(_hm(), tmp_path / "s")
    pd.read_parquet(path / "price.parquet").assign(close="x").to_parquet(path / "price.parquet")
    with pytest.raises(StoreError, match=r"price\.parquet: the close prices must be numbers"):
        read_heatmap(path)
