"""Estimator: streaming equals batch, bad chunks leave the state unchanged, checkpoints."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heatmap.engine import Estimator, estimate, snapshot_stride
from heatmap.engine.checkpoint import CHECKPOINT_VERSION, CheckpointError
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
    ledger_est = Estimator(model, grid=GRID, engine="ledger", leverage_nodes=6, entry_nodes=5)
    ledger_est.update(MARKET.iloc[:8])
    ledger_est.save(tmp_path / "ledger.npz")
    again = Estimator.load(tmp_path / "ledger.npz", model)
    assert (again.leverage_nodes, again.entry_nodes) == (6, 5)  # the node counts are part of the checkpoint
    again.update(MARKET.iloc[8:16])
    ledger_est.update(MARKET.iloc[8:16])
    assert again.n_bars == 16
    assert_same(again.heatmap, ledger_est.heatmap)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"leverage_nodes": 0, "engine": "ledger"}, "leverage_nodes: got 0; allowed is a positive integer"),
        ({"entry_nodes": 2.5, "engine": "ledger"}, "entry_nodes: got 2.5; allowed is a positive integer"),
        ({"entry_nodes": 8}, "entry_nodes: got 8 with engine='grid'; node counts are for engine='ledger'"),
    ],
)
def test_node_counts_are_checked(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Estimator(**kwargs)


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
    hm = estimate(
        MARKET.iloc[:12], Model(entry="close"), grid=GRID, engine="ledger", leverage_nodes=8, entry_nodes=8
    )
    cohorts = hm.meta["cohorts"]
    assert set(cohorts["side"]) == {"long", "short"}
    held = cohorts.groupby("side")["qty"].sum()
    assert held["long"] == pytest.approx(hm.ledger["held_long"].iloc[-1])
    assert held["short"] == pytest.approx(hm.ledger["held_short"].iloc[-1])
    np.testing.assert_allclose(cohorts["notional"], cohorts["qty"] * cohorts["lp"])


# -- one-bar updates ----------------------------------------------------------------------------------------------

SHORT = MARKET.iloc[:36]
_f = SHORT.frame
MARKED = SHORT.with_columns(  # mark prices a little off the trade prices, still a valid OHLC
    mark_open=_f["open"] * 1.001,
    mark_high=_f["high"] * 1.002,
    mark_low=_f["low"] * 0.999,
    mark_close=_f["close"] * 1.0005,
)
SHORT_GRID = PriceGrid.for_market(MARKED, bins=200)
STREAM_MODELS = [
    Model(),  # candle split, triangular entries, funding, turnover on volume
    Model(side_split="taker", entry="typical", exit="oldest"),
    Model(side_split="funding", exit="oldest", decay_half_life="1D", split_strength=1.0),
    Model(side_split="even", funding=False, turnover=0.0, exit="nearest", entry="close"),
]


def _one_bar(market: Market, i: int, form: str) -> Any:
    """Bar ``i`` of ``market`` as a one-row Market, DataFrame, Series or mapping."""
    if form == "market":
        return market.iloc[i : i + 1]
    frame = market.frame
    if form == "frame":
        return frame.iloc[i : i + 1]
    if form == "series":
        return frame.iloc[i]
    row = frame.iloc[i]
    return {"time": row.name, **{str(k): float(v) for k, v in row.items()}}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    model=st.sampled_from(STREAM_MODELS),
    market=st.sampled_from([SHORT, MARKED]),
    every=st.sampled_from([1, 4]),
    first=st.integers(min_value=2, max_value=20),
    forms=st.lists(st.sampled_from(["frame", "series", "mapping", "market"]), min_size=1, max_size=4),
)
def test_one_bar_updates_equal_batch(
    model: Model, market: Market, every: int, first: int, forms: list[str]
) -> None:
    batch = estimate(market, model, grid=SHORT_GRID, snapshot_every=every)
    est = Estimator(model, grid=SHORT_GRID, snapshot_every=every)
    est.update(market.frame.iloc[:first])
    for i in range(first, len(market)):
        part = est.update(_one_bar(market, i, forms[i % len(forms)]))
        assert list(part.times) == [market.index[i]]  # the state after the new bar
        np.testing.assert_array_equal(part.long[-1], est.heatmap.long[-1])
        assert part.ledger.index[0] == market.index[i] and len(part.liquidations) == 1
    np.testing.assert_array_equal(est.grid.edges, batch.price_edges)  # type: ignore[union-attr]
    assert_same(est.heatmap, batch)
    assert est.n_bars == len(market)


def test_default_grid_is_the_grid_for_the_first_bars() -> None:
    est = Estimator(bins=123)
    est.update(MARKED.frame.iloc[:5])
    assert est.grid == PriceGrid.for_market(MARKED.iloc[:5], bins=123)


@settings(max_examples=40, deadline=None)
@given(
    side_split=st.sampled_from(["even", "candle", "taker", "funding"]),
    strength=st.sampled_from([0.0, 0.3, 1.0]),
    cuts=st.lists(st.integers(min_value=1, max_value=59), max_size=5, unique=True),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_array_share_equals_the_model_function(
    side_split: str, strength: float, cuts: list[int], seed: int
) -> None:
    from heatmap.model import long_share_arrays, speculative_long_share

    rng = np.random.default_rng(seed)
    n = 60
    o, c = rng.uniform(90, 110, n), rng.uniform(90, 110, n)
    h = np.maximum(o, c) + rng.choice([0.0, 0.0, 1.0, 5.0], n)
    lo = np.minimum(o, c) - rng.choice([0.0, 1.0, 5.0], n)
    lo[::7] = h[::7] = o[::7] = c[::7]  # dojis with no range
    v = rng.choice([0.0, 1.0, 10.0], n) * rng.uniform(0, 1, n)
    f = np.where(rng.uniform(size=n) < 0.15, rng.normal(0, 1e-4, n), 0.0)
    cols = {
        "open": o,
        "high": h,
        "low": lo,
        "close": c,
        "volume": v,
        "taker_buy_volume": v * rng.uniform(size=n),
        "funding_rate": f,
    }
    model = Model(side_split=side_split, split_strength=strength)  # type: ignore[arg-type]
    expected = speculative_long_share(pd.DataFrame(cols), side_split, strength)  # type: ignore[arg-type]
    got, carry = [], 0.0
    bounds = [0, *sorted(cuts), n]
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        part, carry = long_share_arrays(
            {k: x[a:b] for k, x in cols.items()},
            b - a,
            model.side_split,
            model.split_strength,
            carry=carry,
        )
        got.append(part)
    np.testing.assert_array_equal(np.concatenate(got), expected)
    settled = f[f != 0]
    assert carry == (settled[-1] if side_split == "funding" and settled.size else 0.0)


def test_share_needs_its_columns() -> None:
    est = Estimator(Model(side_split="taker"), grid=GRID)
    frame = MARKET.frame.drop(columns=["taker_buy_volume"])
    with pytest.raises(ValueError, match="needs the column 'taker_buy_volume'"):
        est.update(frame.iloc[:3])
    assert est.n_bars == 0 and est.freq is None and est.state == {"bars": 0}
    est.update(MARKET.iloc[:3])
    assert est.n_bars == 3


def _bad(i: int, **changes: float) -> pd.DataFrame:
    row = MARKET.frame.iloc[i : i + 1].copy()
    for k, v in changes.items():
        row[k] = v
    return row


def _snapshot_state(est: Estimator) -> dict[str, object]:
    return {
        k: (np.copy(v) if isinstance(v, np.ndarray) else v.copy() if isinstance(v, pd.DataFrame) else v)
        for k, v in est.state.items()
    }


def _assert_state_equal(est: Estimator, before: dict[str, object]) -> None:
    after = est.state
    assert after.keys() == before.keys()
    for k, v in before.items():
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(after[k], v)
        elif isinstance(v, pd.DataFrame):
            pd.testing.assert_frame_equal(after[k], v)
        else:
            assert after[k] == v, k


@pytest.mark.parametrize("form", ["frame", "series", "mapping"])
@pytest.mark.parametrize(
    ("changes", "column", "rule"),
    [
        ({"close": np.nan}, "close", "NaN or infinite price"),
        ({"high": 1.0}, "high", "high < low"),
        ({"low": -5.0}, "low", "non-positive price"),
        ({"close": 1e9}, "close", "close outside [low, high]"),
        ({"open_interest": -1.0}, "open_interest", "negative open interest"),
        ({"open_interest": np.inf}, "open_interest", "NaN or infinite open interest"),
        ({"funding_rate": 0.5}, "funding_rate", "absurd funding rate"),
        ({"volume": -1.0}, "volume", "negative volume"),
        ({"taker_buy_volume": 1e12}, "taker_buy_volume", "taker_buy_volume > volume"),
    ],
)
def test_bad_single_bars_raise_like_market_and_leave_the_state_unchanged(
    form: str, changes: dict[str, float], column: str, rule: str
) -> None:
    est = Estimator(Model(side_split="funding"), grid=GRID)
    est.update(MARKET.iloc[:10])
    before, hm = _snapshot_state(est), est.heatmap
    row = _bad(10, **changes)
    bar = {"frame": row, "series": row.iloc[0], "mapping": {"time": row.index[0], **row.iloc[0].to_dict()}}[
        form
    ]
    with pytest.raises(MarketDataError) as info:
        est.update(bar)  # type: ignore[arg-type]
    message = str(info.value)
    assert f"column {column!r}" in message and rule in message and str(MARKET.index[10]) in message
    with pytest.raises(MarketDataError) as reference:
        Market(row, freq=MARKET.freq)
    assert message == str(reference.value)  # one set of rules and messages
    _assert_state_equal(est, before)
    assert est.heatmap is hm and est.n_bars == 10
    for i in range(10, len(MARKET)):  # and it continues normally
        est.update(_one_bar(MARKET, i, form))
    assert_same(est.heatmap, estimate(MARKET, Model(side_split="funding"), grid=GRID, snapshot_every=1))


@pytest.mark.parametrize("form", ["frame", "series", "mapping", "market"])
@pytest.mark.parametrize(("i", "match"), [(9, "overlaps"), (3, "overlaps"), (11, "gap"), (12, "gap")])
def test_single_bars_out_of_sequence_raise_and_leave_the_state_unchanged(
    form: str, i: int, match: str
) -> None:
    est = Estimator(grid=GRID)
    est.update(MARKET.iloc[:10])
    before, hm = _snapshot_state(est), est.heatmap
    with pytest.raises(MarketDataError, match=match) as info:
        est.update(_one_bar(MARKET, i, form))
    assert str(info.value).startswith(f"bar {MARKET.index[i]} ")
    assert str(MARKET.index[10]) in str(info.value)  # the bar it expected
    _assert_state_equal(est, before)
    assert est.heatmap is hm


def test_duplicate_and_unsorted_bars_in_a_chunk() -> None:
    est = Estimator(grid=GRID)
    est.update(MARKET.iloc[:10])
    before = _snapshot_state(est)
    frame = MARKET.frame
    for chunk, match in [
        (
            pd.concat([frame.iloc[10:12], frame.iloc[11:12]]),
            re.escape(f"duplicate timestamps at {MARKET.index[11]}"),
        ),
        (frame.iloc[[10, 12, 11]], "not sorted"),
        (frame.iloc[[10, 11, 13]], "gaps"),
    ]:
        with pytest.raises(MarketDataError, match=match) as info:
            est.update(chunk)
        with pytest.raises(MarketDataError) as reference:
            Market(chunk, freq=MARKET.freq)
        assert str(info.value) == str(reference.value)
        _assert_state_equal(est, before)


def test_unusual_bars_take_the_market_path() -> None:
    frame = MARKET.frame
    batch = estimate(MARKET.iloc[:14], grid=GRID, snapshot_every=1)
    est = Estimator(grid=GRID)
    est.update(frame.iloc[:10])
    paris = frame.iloc[10:11].tz_convert("Europe/Paris")  # converted to UTC like Market does
    est.update(paris)
    est.update(frame.iloc[11:12][frame.columns[::-1]])  # any column order
    mixed = frame.iloc[12:13].copy()
    mixed["volume"] = mixed["volume"].astype(object)  # numbers in an object column: Market decides
    with pytest.raises(MarketDataError, match="not numeric"):
        est.update(mixed)
    est.update(frame.iloc[12:13])
    row = {"time": str(MARKET.index[13]), **frame.iloc[13].to_dict()}  # a time string is parsed
    est.update(row)
    assert_same(est.heatmap, batch)
    with pytest.raises(MarketDataError, match="naive"):
        est.update(frame.iloc[14:15].tz_localize(None))
    with pytest.raises(MarketDataError, match="unknown columns"):
        est.update(frame.iloc[14:15].assign(extra=1.0))
    with pytest.raises(MarketDataError, match="Series bar needs its open time"):
        est.update(frame.iloc[14].rename(None))
    with pytest.raises(MarketDataError, match="'time' entry"):
        est.update(frame.iloc[14].to_dict())
    with pytest.raises(MarketDataError, match="not a timestamp"):
        est.update({"time": "soon", **frame.iloc[14].to_dict()})
    with pytest.raises(MarketDataError, match="not a timestamp"):
        est.update(frame.iloc[14].rename("next week"))
    with pytest.raises(TypeError, match="Series or mapping"):
        est.update([1.0, 2.0])  # type: ignore[arg-type]
    assert est.n_bars == 14


def test_first_update_of_one_bar_needs_a_frequency() -> None:
    est = Estimator(grid=GRID)
    with pytest.raises(MarketDataError, match="cannot infer the bar frequency"):
        est.update(MARKET.frame.iloc[0])
    assert est.freq is None
    est.update(MARKET.iloc[0:1])  # a Market knows its bar length
    est.update(MARKET.frame.iloc[1])
    assert est.n_bars == 2 and est.freq == MARKET.freq


def test_results_handed_out_are_not_changed_by_later_updates() -> None:
    est = Estimator(grid=GRID, snapshot_every=2)
    est.update(MARKET.iloc[:5])
    hm = est.heatmap
    assert est.heatmap is hm  # cached
    long, ledger = hm.long.copy(), hm.ledger.copy()
    for i in range(5, 40):
        est.update(MARKET.frame.iloc[i])
    np.testing.assert_array_equal(hm.long, long)
    pd.testing.assert_frame_equal(hm.ledger, ledger)
    assert est.heatmap is not hm and len(est.heatmap.ledger) == 40


def test_grid_growth_during_one_bar_updates() -> None:
    frame = MARKET.frame.iloc[:30].copy()
    for col in ("open", "high", "low", "close"):
        frame.iloc[20:, frame.columns.get_loc(col)] *= 3.0
    est = Estimator(bins=150, snapshot_every=2)
    est.update(frame.iloc[:10])
    for i in range(10, 20):
        est.update(frame.iloc[i])
    old_grid, old = est.grid, est.heatmap
    assert old_grid is not None
    for i in range(20, 30):
        part = est.update(frame.iloc[i])
    assert est.grid is not None and est.grid.n_bins > old_grid.n_bins
    off = old_grid.offset_in(est.grid)
    hm = est.heatmap
    # stored snapshots move onto the grown grid unchanged (zeros in the new bins)
    grown = np.zeros((len(old), est.grid.n_bins), dtype=np.float32)
    grown[:, off : off + old_grid.n_bins] = old.long
    np.testing.assert_array_equal(hm.long[: len(old)], grown)
    np.testing.assert_array_equal(hm.long[-1], part.long[-1])
    assert hm.price_edges[-1] >= frame["high"].max() * 2.5 * (1 - 1e-9)
    led = hm.ledger
    flow = led["opened_long"] - led["liquidated_long"] - led["closed_long"] - led["decayed_long"]
    np.testing.assert_allclose(flow.cumsum(), led["held_long"], rtol=1e-9)


def test_save_load_after_one_bar_updates(tmp_path: Path) -> None:
    model = Model(side_split="funding", exit="oldest", split_strength=1.0)
    market = MARKET
    est = Estimator(model, grid=GRID, snapshot_every=3)
    est.update(market.iloc[:5])
    for i in range(5, 31):
        est.update(market.frame.iloc[i])
    assert est.state["funding_carry"] != 0  # a settled rate is carried
    back = Estimator.load(est.save(tmp_path / "c.npz"))
    assert_same(back.heatmap, est.heatmap)
    _assert_state_equal(back, _snapshot_state(est))
    for i in range(31, len(market)):
        back.update(market.frame.iloc[i])
        est.update(market.frame.iloc[i])
    batch = estimate(market, model, grid=GRID, snapshot_every=3)
    assert_same(back.heatmap, batch)
    assert_same(est.heatmap, batch)


@pytest.mark.parametrize("version", [1, 2])
def test_older_checkpoint_formats_are_refused_by_name(tmp_path: Path, version: int) -> None:
    """Format 3 added the grid state's second within-bin moment: older files cannot be resumed, and the error
    names the version found and the one this library reads."""
    import json

    est = Estimator(Model(), grid=GRID)
    est.update(MARKET.iloc[:20])
    path = est.save(tmp_path / "v3.npz")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(bytes(arrays["meta"]).decode())
    assert meta["version"] == CHECKPOINT_VERSION == 3
    meta["version"] = version
    del arrays["state_mom2"]
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(tmp_path / "old.npz", **arrays)
    with pytest.raises(CheckpointError, match=f"format version {version} is older than the version 3"):
        Estimator.load(tmp_path / "old.npz")


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**16),
    n=st.integers(min_value=1, max_value=8),
    column=st.sampled_from(
        ["open", "high", "low", "close", "open_interest", "funding_rate", "volume", "taker_buy_volume"]
    ),
    value=st.sampled_from([np.nan, np.inf, -np.inf, -1.0, 0.0, 1e9, 0.5, 1e-6]),
    shift=st.sampled_from([0, 0, 0, 1, -1, 2, 30]),  # minutes added to one open time
)
def test_validate_arrays_equals_market(seed: int, n: int, column: str, value: float, shift: int) -> None:
    from heatmap.market import validate_arrays

    rng = np.random.default_rng(seed)
    start = int(rng.integers(0, len(MARKET) - n))
    frame = MARKET.frame.iloc[start : start + n].copy()
    frame.iloc[int(rng.integers(0, n)), frame.columns.get_loc(column)] = value
    index = frame.index.as_unit("ns").asi8.copy()
    index[int(rng.integers(0, n))] += shift * 60 * 10**9
    frame.index = pd.DatetimeIndex(index.view("M8[ns]"), tz="UTC", name="time")
    freq = None if rng.uniform() < 0.5 and n > 1 else MARKET.freq
    arrays = {c: frame[c].to_numpy(copy=True) for c in frame.columns}
    try:
        # the row rules; the unit plausibility guard (check_units) judges a whole market's medians, not bars
        expected = Market(frame, freq=freq, check_units=False)
    except MarketDataError as exc:
        with pytest.raises(MarketDataError) as info:
            validate_arrays(arrays, index, freq=freq)
        assert str(info.value) == str(exc)
    else:
        assert validate_arrays(arrays, index, freq=freq) == expected.freq
        for c in frame.columns:
            np.testing.assert_array_equal(arrays[c], expected.array(c))


def test_first_streamed_bars_are_checked_for_unit_mistakes_like_a_market():
    """Open interest in USD given as coins: the first update refuses it as Market does; check_units=False opts out."""
    from heatmap.synthetic import synthetic_market

    frame = synthetic_market(days=2, freq="1h", seed=5).frame.copy()
    frame["open_interest"] *= frame["close"]  # a USD notional in the coin column
    with pytest.raises(MarketDataError, match="look like a quote"):
        Market(frame)
    berlin = frame.iloc[:5].tz_convert("Europe/Berlin")  # the slow path: Market's full treatment
    for bars in (frame.iloc[:5], berlin):
        est = Estimator(bins=100)
        with pytest.raises(MarketDataError, match=r"look like a quote.*\n.*check_units=False"):
            est.update(bars)
        assert est.n_bars == 0
    est = Estimator(bins=100, check_units=False)
    est.update(frame.iloc[:5])
    est.update(frame.iloc[5])
    assert est.n_bars == 6
