"""PriceGrid: log spacing, indexing, coverage of a market, growth without moving mass."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heatmap.grid import DEFAULT_MARGIN, PriceGrid
from heatmap.market import Market


def _market(lows: list[float], highs: list[float]) -> Market:
    n = len(lows)
    idx = pd.date_range("2025-01-01", periods=n, freq="1h", tz="UTC")
    close = [(lo + hi) / 2 for lo, hi in zip(lows, highs, strict=True)]
    return Market(
        pd.DataFrame(
            {"open": close, "high": highs, "low": lows, "close": close, "open_interest": [1.0] * n}, index=idx
        )
    )


def test_log_spaced_edges_are_geometric() -> None:
    g = PriceGrid.log_spaced(100.0, 400.0, bins=4)
    assert g.n_bins == 4
    assert g.edges[0] == 100.0 and g.edges[-1] == 400.0
    np.testing.assert_allclose(g.edges[1:] / g.edges[:-1], math.sqrt(2.0), rtol=1e-12)
    assert g.log_step == pytest.approx(math.log(4.0) / 4)
    np.testing.assert_allclose(g.centers, np.sqrt(g.edges[:-1] * g.edges[1:]))
    assert not g.edges.flags.writeable


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"low": 0.0, "high": 1.0, "bins": 10}, "low"),
        ({"low": 2.0, "high": 1.0, "bins": 10}, "high"),
        ({"low": 1.0, "high": 2.0, "bins": 0}, "bins"),
        ({"low": 1.0, "high": float("inf"), "bins": 10}, "high"),
    ],
)
def test_log_spaced_rejects_bad_input(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        PriceGrid.log_spaced(**kwargs)  # type: ignore[arg-type]


def test_edges_must_be_log_spaced() -> None:
    with pytest.raises(ValueError, match="log-spaced"):
        PriceGrid(np.array([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="increasing"):
        PriceGrid(np.array([1.0, 2.0, 2.0]))


def test_index_of_convention() -> None:
    g = PriceGrid.log_spaced(1.0, 16.0, bins=4)
    assert g.index_of([0.99, 1.0, 1.99, 2.0, 15.9, 16.0, 100.0]).tolist() == [-1, 0, 0, 1, 3, 4, 4]
    with pytest.raises(ValueError, match="NaN"):
        g.index_of([np.nan])


@settings(max_examples=50, deadline=None)
@given(st.floats(min_value=1.0, max_value=1e5), st.floats(min_value=1.0, max_value=1e5))
def test_position_and_index_agree(low: float, x: float) -> None:
    g = PriceGrid.log_spaced(low, low * 50.0, bins=97)
    p = low * (1.0 + x / 2e3)
    i = int(g.index_of(p))
    if 0 <= i < g.n_bins:
        assert g.edges[i] <= p < g.edges[i + 1]
        assert math.floor(float(g.position(p)) + 1e-9) in (i, i + 1)


def test_for_market_covers_range_with_margin() -> None:
    m = _market([90.0, 80.0], [110.0, 120.0])
    g = PriceGrid.for_market(m, bins=300)
    assert g.edges[0] == pytest.approx(80.0 / DEFAULT_MARGIN)
    assert g.edges[-1] == pytest.approx(120.0 * DEFAULT_MARGIN)
    with pytest.raises(ValueError, match="margin"):
        PriceGrid.for_market(m, margin=1.0)


def test_extend_keeps_old_edges_and_step() -> None:
    g = PriceGrid.log_spaced(100.0, 200.0, bins=10)
    g2 = g.extend(50.0, 450.0)
    off = g.offset_in(g2)
    np.testing.assert_allclose(g2.edges[off : off + g.n_bins + 1], g.edges, rtol=1e-12)
    assert g2.log_step == pytest.approx(g.log_step, rel=1e-12)
    assert g2.edges[0] <= 50.0 * (1 + 1e-9) and g2.edges[-1] >= 450.0 * (1 - 1e-9)
    # whole bins only: not more than one bin of overshoot on each side
    assert g2.edges[0] * math.exp(g.log_step) > 50.0
    assert g2.edges[-1] * math.exp(-g.log_step) < 450.0
    assert g.extend(120.0, 150.0) is g
    with pytest.raises(ValueError, match="sub-grid"):
        PriceGrid.log_spaced(1.0, 2.0, 10).offset_in(PriceGrid.log_spaced(1.01, 2.02, 10))


def test_dict_round_trip_and_equality() -> None:
    g = PriceGrid.log_spaced(10.0, 1000.0, bins=50)
    assert PriceGrid.from_dict(g.to_dict()) == g
    assert g != PriceGrid.log_spaced(10.0, 1000.0, bins=51)
    assert "50 bins" in repr(g)
