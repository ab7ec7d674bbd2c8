"""Store and batch names: one plain path component each, resolved inside the output folder; a bad name is
refused before anything is computed or written."""

from __future__ import annotations

import pytest

from heatmap.aggregate import batch
from heatmap.io.store import store_path, validate_name
from heatmap.synthetic import synthetic_market


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("../escaped", "path separator"),
        ("/tmp/abs", "absolute path"),
        ("a/b", "path separator"),
        ("a\\b", "path separator"),
        ("..", "'.' or '..'"),
        (".", "'.' or '..'"),
        ("", "empty"),
        ("  ", "empty"),
        ("x\x00y", "NUL"),
        ("line\nbreak", "control character"),
    ],
)
def test_bad_names_are_refused(name, problem, tmp_path):
    with pytest.raises(ValueError, match=problem):
        validate_name(name)
    out = tmp_path / "out"
    m = synthetic_market(days=1, freq="1h", seed=1)
    with pytest.raises(ValueError, match=problem):
        batch({name: m}, workers=1, bins=50, out=out)
    assert list(tmp_path.iterdir()) == []  # nothing written, not even the output folder


def test_store_path_stays_inside(tmp_path):
    assert store_path(tmp_path, "BTCUSDT", suffix=".heatmap") == tmp_path / "BTCUSDT.heatmap"
    (tmp_path / "link.heatmap").symlink_to(tmp_path.parent)
    with pytest.raises(ValueError, match="outside the output folder"):
        store_path(tmp_path, "link", suffix=".heatmap")
    with pytest.raises(TypeError, match="must be a string"):
        validate_name(3)


@pytest.mark.parametrize("name", ["BTCUSDT", "BTCUSD_PERP", "a..b", "ETH.v2", "sol usdt"])
def test_plain_names_are_accepted(name, tmp_path):
    assert validate_name(name) == name
    assert store_path(tmp_path, name, suffix=".zarr") == tmp_path / f"{name}.zarr"
