"""JSON and xarray exports (heatmap.export)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest

from heatmap.export import FORMAT, from_json, from_xarray, to_json, to_xarray
from heatmap.result import Heatmap


@pytest.fixture
def hm():
    rng = np.random.default_rng(7)
    bars = pd.date_range("2025-03-01", periods=12, freq="h", tz="UTC")
    times = bars[::3]
    edges = np.geomspace(80.0, 120.0, 51)
    long = rng.gamma(0.3, 1e6, (4, 50)) * (rng.random((4, 50)) < 0.4)
    short = rng.gamma(0.3, 1e6, (4, 50)) * (rng.random((4, 50)) < 0.4)
    price = pd.Series(100 + rng.standard_normal(12), index=bars)
    return Heatmap(
        times=times,
        price_edges=edges,
        long=long,
        short=short,
        price=price,
        meta={"engine": "grid", "bins": 50, "not_json": object()},
    )


def test_json_structure_and_sparse_cells(hm):
    doc = json.loads(to_json(hm))
    assert doc["format"] == FORMAT
    assert doc["times"][0] == "2025-03-01T00:00:00Z" and len(doc["times"]) == 4
    assert len(doc["price_edges"]) == 51 and len(doc["prices"]) == 50
    assert doc["units"]["value"] == "quote notional"
    assert doc["meta"] == {"engine": "grid", "bins": 50}  # non-JSON entries dropped
    for side in ("long", "short"):
        cells = np.array(doc[side])
        arr = getattr(hm, side)
        assert len(cells) == int((arr > 0).sum())
        ti, pi = cells[:, 0].astype(int), cells[:, 1].astype(int)
        np.testing.assert_allclose(cells[:, 2], arr[ti, pi], rtol=1e-5)


def test_json_round_trip_exact_with_full_precision(hm, tmp_path):
    path = tmp_path / "hm.json"
    text = to_json(hm, path, precision=None)
    assert path.read_text(encoding="utf-8") == text
    back = from_json(path)
    pd.testing.assert_index_equal(back.times, hm.times, check_freq=False)
    np.testing.assert_array_equal(back.price_edges, hm.price_edges)
    np.testing.assert_array_equal(back.long, hm.long)
    np.testing.assert_array_equal(back.short, hm.short)
    pd.testing.assert_series_equal(back.price, hm.price, check_names=False, check_freq=False)
    np.testing.assert_array_equal(
        from_json(to_json(hm, precision=17)).long, hm.long
    )  # 17 digits are exact too


def test_json_precision_threshold_side(hm):
    doc = json.loads(to_json(hm, side="short", threshold=1e6, precision=3))
    assert "long" not in doc
    vals = np.array([c[2] for c in doc["short"]])
    assert (vals > 1e6).all()
    assert len(vals) == int((hm.short > 1e6).sum())
    # three significant digits
    for v in vals:
        assert float(f"{v:.3g}") == v
    back = from_json(json.dumps(doc))
    assert not back.long.any()
    np.testing.assert_allclose(back.short[hm.short > 1e6], hm.short[hm.short > 1e6], rtol=5e-3)


@pytest.mark.parametrize(
    ("kw", "match"),
    [({"side": "up"}, "side"), ({"threshold": -1.0}, "threshold"), ({"precision": 0}, "precision")],
)
def test_json_validation(hm, kw, match):
    with pytest.raises(ValueError, match=match):
        to_json(hm, **kw)


def test_from_json_rejects_other_formats():
    with pytest.raises(ValueError, match="format"):
        from_json(json.dumps({"format": "something-else"}))


@pytest.mark.parametrize(
    ("times", "message"),
    [
        (lambda t: [None] * len(t), r"times: 4 snapshot times are missing \(NaT\)"),
        (lambda t: t[::-1], r"times must increase; snapshot 1 \(.*\) is not after"),
        (lambda t: [t[0]] * len(t), r"times must increase; snapshot 1"),
    ],
)
def test_from_json_refuses_missing_or_unordered_times(hm, tmp_path, times, message):
    doc = json.loads(to_json(hm))
    doc["times"] = times(doc["times"])
    path = tmp_path / "map.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=rf"map\.json: {message}"):
        from_json(path)
    with pytest.raises(ValueError, match=message):
        Heatmap(
            times=pd.DatetimeIndex(pd.to_datetime(doc["times"], utc=True)),
            price_edges=hm.price_edges,
            long=hm.long,
            short=hm.short,
            price=hm.price,
        )


def test_heatmap_method_delegates(hm):
    assert hm.to_json(precision=4) == to_json(hm, precision=4)


def test_xarray_dataset_and_round_trip(hm):
    ds = to_xarray(hm)
    assert dict(ds.sizes) == {"time": 4, "price": 50}
    assert set(ds.data_vars) == {"long", "short", "close"}
    assert ds["long"].attrs["units"] == "quote notional"
    np.testing.assert_array_equal(ds["price_low"].values, hm.price_edges[:-1])
    np.testing.assert_array_equal(ds["price_high"].values, hm.price_edges[1:])
    np.testing.assert_allclose(ds["price"].values, hm.centers)
    np.testing.assert_array_equal(ds["long"].values, hm.long)
    # close at snapshot times = the price path at those bars
    np.testing.assert_array_equal(ds["close"].values, hm.price.loc[hm.times].to_numpy())
    assert ds["time"].attrs["time_zone"] == "UTC"
    assert json.loads(ds.attrs["meta"]) == {"engine": "grid", "bins": 50}
    # selection by price works as users expect
    assert float(ds["long"].sel(price=100.0, method="nearest").sum()) >= 0
    back = from_xarray(ds)
    pd.testing.assert_index_equal(back.times, hm.times, check_freq=False)
    np.testing.assert_allclose(back.price_edges, hm.price_edges, rtol=1e-15)
    np.testing.assert_array_equal(back.short, hm.short)
    assert hm.to_xarray().identical(ds)


def test_xarray_netcdf_like_round_trip_through_dict(hm):
    import xarray as xr

    ds = to_xarray(hm)
    again = xr.Dataset.from_dict(ds.to_dict())
    np.testing.assert_array_equal(from_xarray(again).long, hm.long)


def test_xarray_missing_gives_clear_error(hm, monkeypatch):
    monkeypatch.setitem(sys.modules, "xarray", None)
    with pytest.raises(ImportError, match=r"liquidation-heatmap\[xarray\]"):
        to_xarray(hm)
