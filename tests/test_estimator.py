"""Estimator: streaming equals batch, bad chunks leave the state unchanged, checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heatmap.engine import Estimator, estimate, snapshot_stride
from heatmap.grid import PriceGrid
from heatmap.market import Market, MarketDataError
from heatmap.model import Model
from heatmap.synthetic import synthetic_market

MARKET = synthetic_market(days=3, freq="1h", seed=5)
GRID = PriceGrid.for_market(MARKET, bins=300)


def assert_same(a, b) -> None:  # type: ignore[no-untyped-def]
    assert list(a.times) == list(b.times)
    np.testing.assert_array_equal(a.long, b.long)
    np.testing.assert_array_equal(a.short, b.short)
    pd.testing.assert_frame_equal(a.ledger, b.ledger)
    pd.testing.assert_frame_equal(a.liquidations, b.liquidations)
    pd.testing.assert_series_equal(a.price, b.price)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cuts=st.lists(st.integers(min_value=1, max_value=len(MARKET) - 1), max_size=4, unique=True),
    model=st.sampled_from(
        [Model(), Model(exit="oldest", side_split="funding", decay_half_life="1D"), Model(exit="nearest")]
    ),
    every=st.sampled_from([1, 5]),
)
def test_streaming_in_chunks_equals_batch(cuts: list[int], model: Model, every: int) -> None:
    batch = estimate(MARKET, model, grid=GRID, snapshot_every=every)
    est = Estimator(model, grid=GRID, snapshot_every=every)
    bounds = [0, *sorted(cuts), len(MARKET)]
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        part = est.update(MARKET.iloc[a:b])
        assert part.times[-1] == MARKET.index[b - 1]  # the state after the chunk's last bar is returned
        assert len(part.ledger) == b - a
    assert_same(est.heatmap, batch)


def test_update_accepts_a_dataframe() -> None:
    est = Estimator(grid=GRID)
    est.update(MARKET.iloc[:10])
    est.update(MARKET.frame.iloc[10:20])
    assert est.n_bars == 20


@pytest.mark.parametrize(
    ("start", "stop", "match"),
    [(5, 12, "overlaps"), (9, 12, "overlaps"), (11, 14, "gap")],
)
def test_bad_chunks_raise_and_leave_the_state_unchanged(start: int, stop: int, match: str) -> None:
    est = Estimator(grid=GRID)
    est.update(MARKET.iloc[:10])
    before = est.heatmap
    state = {k: np.copy(v) for k, v in est.state.items() if isinstance(v, np.ndarray)}
    with pytest.raises(MarketDataError, match=match) as info:
        est.update(MARKET.iloc[start:stop])
    assert str(MARKET.index[start]) in str(info.value)
    assert est.heatmap is before
    for k, v in est.state.items():
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(v, state[k])
    est.update(MARKET.iloc[10:])  # and it continues normally
    assert_same(est.heatmap, estimate(MARKET, grid=GRID, snapshot_every=1))


def test_grid_grows_when_price_leaves_it() -> None:
    frame = MARKET.frame.iloc[:20].copy()
    est = Estimator(bins=200)
    est.update(Market(frame.iloc[:10]))
    p0 = est.grid.n_bins  # type: ignore[union-attr]
    jump = frame.iloc[10:].copy()
    for col in ("open", "high", "low", "close"):
        jump[col] *= 3.0
    part = est.update(Market(jump))
    assert est.grid.n_bins > p0  # type: ignore[union-attr]
    hm = est.heatmap
    assert hm.long.shape[1] == est.grid.n_bins == part.long.shape[1]  # type: ignore[union-attr]
    assert hm.price_edges[-1] >= jump["high"].max() * 2.5 * (1 - 1e-9)
    led = hm.ledger
    flow = led["opened_long"] - led["liquidated_long"] - led["closed_long"] - led["decayed_long"]
    np.testing.assert_allclose(flow.cumsum(), led["held_long"], rtol=1e-9)


def test_save_load_resumes_exactly(tmp_path: Path) -> None:
    model = Model(exit="oldest", side_split="funding")
    est = Estimator(model, grid=GRID, snapshot_every=3)
    est.update(MARKET.iloc[:30])
    path = est.save(tmp_path / "ckpt.npz")
    assert path.exists() and not list(tmp_path.glob("*.tmp"))
    back = Estimator.load(path)
    assert_same(back.heatmap, est.heatmap)
    back.update(MARKET.iloc[30:])
    assert_same(back.heatmap, estimate(MARKET, model, grid=GRID, snapshot_every=3))
    ledger_est = Estimator(model, grid=GRID, engine="ledger")
    ledger_est.update(MARKET.iloc[:8])
    ledger_est.save(tmp_path / "ledger.npz")
    again = Estimator.load(tmp_path / "ledger.npz", model)
    again.update(MARKET.iloc[8:16])
    assert again.n_bars == 16


def test_load_errors(tmp_path: Path) -> None:
    est = Estimator(Model(), grid=GRID)
    est.update(MARKET.iloc[:5])
    path = est.save(tmp_path / "c.npz")
    with pytest.raises(ValueError, match="model differs"):
        Estimator.load(path, Model(exit="nearest"))
    with pytest.raises(ValueError, match="grid"):
        Estimator.load(path, grid=PriceGrid.log_spaced(1.0, 2.0, 10))
    data = path.read_bytes()
    (tmp_path / "t.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated"):
        Estimator.load(tmp_path / "t.npz")
    import json

    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(bytes(arrays["meta"]).decode())
    meta["version"] = 99
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(tmp_path / "new.npz", **arrays)
    with pytest.raises(ValueError, match="newer"):
        Estimator.load(tmp_path / "new.npz")
    with pytest.raises(ValueError, match="no bars"):
        Estimator().save(tmp_path / "x.npz")


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="engine"):
        Estimator(engine="fast")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="snapshot_every"):
        Estimator(snapshot_every=0)
    with pytest.raises(ValueError, match="bins"):
        Estimator(bins=1)
    with pytest.raises(ValueError, match="age_blocks"):
        Estimator(age_blocks=0)
    with pytest.raises(TypeError, match="Market"):
        estimate(MARKET.frame)  # type: ignore[arg-type]


def test_snapshot_stride_fits_the_budget() -> None:
    assert snapshot_stride(100, 1000) == 1
    k = snapshot_stride(525_600, 1000)
    assert (525_600 / k) * 1000 * 2 * 4 <= 256 * 2**20
    assert (525_600 / (k - 1)) * 1000 * 2 * 4 > 256 * 2**20


def test_ledger_engine_reports_its_cohorts() -> None:
    hm = estimate(MARKET.iloc[:12], Model(entry="close"), grid=GRID, engine="ledger")
    cohorts = hm.meta["cohorts"]
    assert set(cohorts["side"]) == {"long", "short"}
    held = cohorts.groupby("side")["qty"].sum()
    assert held["long"] == pytest.approx(hm.ledger["held_long"].iloc[-1])
    assert held["short"] == pytest.approx(hm.ledger["held_short"].iloc[-1])
    np.testing.assert_allclose(cohorts["notional"], cohorts["qty"] * cohorts["lp"])
