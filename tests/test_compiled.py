"""The grid engine's one loop run by both backends on the same inputs: compiled (numba) and plain Python.

:mod:`heatmap.engine.loop` is one source; ``HEATMAP_JIT=0`` runs it uncompiled. The two runs must give the same
numbers: per-bar ledgers and predicted liquidations to ~1e-11 relative (numba may fuse or reorder floating-point
operations), snapshots (float32) to float32 rounding. Each test checks which backend ran. The uncompiled loop is
slow (a Python statement per bin), so the inputs are small.
"""

from __future__ import annotations

import numpy as np
import pytest

from heatmap.engine import _jit, estimate, loop
from heatmap.engine.estimator import Estimator
from heatmap.exchanges import get
from heatmap.grid import PriceGrid
from heatmap.leverage import Leverage
from heatmap.market import Market
from heatmap.model import Model
from heatmap.result import Heatmap
from heatmap.synthetic import synthetic_market

pytest.importorskip("numba")


@pytest.fixture(scope="module")
def market() -> Market:
    return synthetic_market(days=4, freq="1h", seed=5)


@pytest.fixture(scope="module")
def grid(market: Market) -> PriceGrid:
    return PriceGrid.for_market(market, bins=120)


def _with_marks(market: Market) -> Market:
    f = market.frame.copy()
    rng = np.random.default_rng(0)
    basis = 1.0 + rng.normal(0.0, 2e-4, len(f))
    for c in ("open", "high", "low", "close"):
        f["mark_" + c] = f[c] * basis
    f["mark_high"] = f[["mark_open", "mark_high", "mark_close"]].max(axis=1)
    f["mark_low"] = f[["mark_open", "mark_low", "mark_close"]].min(axis=1)
    return Market(f)


def _backend_of(market: Market, model: Model, grid: PriceGrid, **kw: object) -> tuple[Heatmap, str | None]:
    est = Estimator(model, grid=grid, **kw)  # type: ignore[arg-type]
    hm = est.update(market)
    return est.heatmap, est._engine.backend if hm is not None else None


def run_both(
    monkeypatch: pytest.MonkeyPatch, market: Market, model: Model, grid: PriceGrid, **kw: object
) -> tuple[Heatmap, Heatmap]:
    """The same estimate by the compiled loop and by the plain-Python loop (checking which one ran)."""
    monkeypatch.setenv("HEATMAP_JIT", "1")
    fast, which = _backend_of(market, model, grid, **kw)
    assert which == "numba"
    monkeypatch.setenv("HEATMAP_JIT", "0")
    ref, which = _backend_of(market, model, grid, **kw)
    assert which == "python"
    return fast, ref


def assert_agree(fast: Heatmap, ref: Heatmap) -> None:
    assert list(fast.times) == list(ref.times)
    for side in ("long", "short"):
        a, b = getattr(fast, side), getattr(ref, side)
        scale = max(float(np.abs(b).max()), 1e-300)
        np.testing.assert_allclose(a, b, rtol=0, atol=2e-6 * scale)
    assert fast.ledger is not None and ref.ledger is not None
    lr = ref.ledger.to_numpy()
    np.testing.assert_allclose(fast.ledger.to_numpy(), lr, rtol=0, atol=1e-11 * np.abs(lr).max())
    assert fast.liquidations is not None and ref.liquidations is not None
    qr = ref.liquidations.to_numpy()
    np.testing.assert_allclose(fast.liquidations.to_numpy(), qr, rtol=0, atol=1e-11 * max(qr.max(), 1e-300))


COINM = get("binance-coinm", "BTCUSD_PERP")
TIERS = {
    "leverage": Leverage.tiers({10: 0.4, 25: 0.4, 100: 0.2}),
    "passive_leverage": Leverage.tiers({3: 1.0}),
}

CASES = [
    {},
    {"entry": "close"},
    {"entry": "typical", "turnover": 0.3},
    {"exit": "nearest"},
    {"exit": "nearest", "turnover": 0.5, "entry": "close"},
    {"decay_half_life": "12h"},
    {"funding": False, "side_split": "candle", "split_strength": 1.0},
    {"side_split": "taker", "split_strength": 0.6},
    {"passive_leverage": Leverage.lognormal(median=12, sigma=0.9)},  # same law on both: one kernel per side
    {**TIERS, "entry": "close"},
    {**TIERS, "entry": "triangular"},
    {**TIERS, "entry": "close", "exit": "nearest", "decay_half_life": "1D"},
    {"leverage": Leverage.tiers({20: 1.0}), "entry": "close"},  # discrete speculative, continuous passive
    {"position_size": Leverage.tiers({2_000.0: 0.5, 800_000.0: 0.3, 20_000_000.0: 0.2})},
    # inverse (coin-margined): face-value mass, funding in reciprocal price
    {"schedule": COINM},
    {"schedule": COINM, "exit": "nearest", "entry": "typical", "turnover": 0.3, "decay_half_life": "1D"},
    {**TIERS, "schedule": COINM, "entry": "close"},
    {**TIERS, "schedule": COINM, "entry": "triangular", "exit": "nearest"},
    {"schedule": COINM, "position_size": Leverage.tiers({50_000.0: 0.5, 8_000_000.0: 0.5})},
    # age blocks: each bar's openings in their own row (the two oldest merge when all rows are used)
    {"exit": "oldest"},
    {"exit": "profitable", "entry": "close", "decay_half_life": "1D", "turnover": 0.3},
    {"exit": "oldest", "age_blocks": 8},  # rows merge
    {"exit": "nearest", "age_blocks": 8},
    {"exit": "proportional", "age_blocks": 100, "turnover": 0.3},
    {**TIERS, "entry": "close", "exit": "profitable"},
    {**TIERS, "entry": "triangular", "age_blocks": 100},
    {"schedule": COINM, "exit": "oldest"},
    {**TIERS, "schedule": COINM, "entry": "close", "exit": "nearest", "age_blocks": 100},
]


@pytest.mark.parametrize("case", CASES, ids=[",".join(map(str, c)) or "default" for c in CASES])
def test_both_backends_agree(
    monkeypatch: pytest.MonkeyPatch, market: Market, grid: PriceGrid, case: dict
) -> None:
    case = dict(case)
    blocks = case.pop("age_blocks", None)
    model = Model(**{"leverage": Leverage.lognormal(median=12, sigma=0.9), **case})
    fast, ref = run_both(monkeypatch, market, model, grid, snapshot_every=1, age_blocks=blocks)
    assert_agree(fast, ref)
    assert float(ref.long.sum()) > 0 and float(ref.short.sum()) > 0  # a real comparison


def test_agreement_with_mark_prices_and_strided_snapshots(
    monkeypatch: pytest.MonkeyPatch, market: Market, grid: PriceGrid
) -> None:
    fast, ref = run_both(monkeypatch, _with_marks(market), Model(), grid, snapshot_every=7)
    assert_agree(fast, ref)


def test_agreement_when_price_leaves_the_grid(monkeypatch: pytest.MonkeyPatch, market: Market) -> None:
    """A narrow user grid: kernels, entries and funding shifts clip at the edges; off-grid mass must agree."""
    close = market.frame["close"]
    tight = PriceGrid.log_spaced(float(close.quantile(0.2)), float(close.quantile(0.8)), bins=80)
    f = market.frame
    inside = (f["low"] > tight.edges[0]) & (f["high"] < tight.edges[-1])
    sub = market.iloc[: int(np.argmin(inside.to_numpy())) or len(market)]
    fast, ref = run_both(monkeypatch, sub, Model(), tight)
    assert_agree(fast, ref)
    assert ref.ledger is not None
    assert float(ref.ledger["offgrid_long"].max()) > 0  # the case is exercised


def test_streaming_through_the_compiled_loop_equals_batch(
    monkeypatch: pytest.MonkeyPatch, market: Market, grid: PriceGrid
) -> None:
    monkeypatch.setenv("HEATMAP_JIT", "1")
    full = estimate(market, Model(exit="nearest"), grid=grid, snapshot_every=1)
    est = Estimator(Model(exit="nearest"), grid=grid, snapshot_every=1)
    for a, b in ((0, 1), (1, 40), (40, 41), (41, 70), (70, len(market))):
        est.update(market.iloc[a:b])
    np.testing.assert_array_equal(est.heatmap.long, full.long)
    np.testing.assert_array_equal(est.heatmap.short, full.short)
    assert est.heatmap.ledger is not None and full.ledger is not None
    np.testing.assert_array_equal(est.heatmap.ledger.to_numpy(), full.ledger.to_numpy())


def test_the_switch_selects_the_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEATMAP_JIT", "1")
    assert _jit.enabled() and loop.backend() == "numba"
    monkeypatch.setenv("HEATMAP_JIT", "0")
    assert not _jit.enabled() and loop.backend() == "python"


def test_a_growing_grid_repacks_the_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    """A default grid grows when a trend nears its edge; both backends use the new grid's kernels."""
    m = synthetic_market(days=6, freq="1h", seed=2)
    f = m.frame.copy()
    trend = np.exp(np.linspace(0.0, 0.5, len(f)))  # +65 %: the first bars' grid cannot hold it
    for c in ("open", "high", "low", "close"):
        f[c] = f[c] * trend
    market = Market(f)
    results = []
    for jit in ("1", "0"):
        monkeypatch.setenv("HEATMAP_JIT", jit)
        est = Estimator(Model(), bins=100, snapshot_every=1)
        for a in range(0, len(market), 24):
            est.update(market.iloc[a : a + 24])
        results.append(est.heatmap)
    fast, ref = results
    assert fast.shape[1] > 100  # the grid grew
    assert_agree(fast, ref)


def test_a_misspelt_switch_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEATMAP_JIT", "of")
    with pytest.raises(ValueError, match="HEATMAP_JIT='of'"):
        _jit.enabled()
    monkeypatch.setenv("HEATMAP_JIT", " Off ")
    assert not _jit.enabled()


def test_an_edit_of_a_called_kernel_is_not_hidden_by_the_cache(tmp_path) -> None:
    """numba checks a cached function against its own file only; a kernel that calls a kernel in another file
    must still see that file's edits (the cache is dropped when any kernel source changes)."""
    import os
    import subprocess
    import sys
    import textwrap

    (tmp_path / "inner_mod.py").write_text("def inner(x):\n    return x + 1.0\n")
    (tmp_path / "outer_mod.py").write_text(
        "from inner_mod import inner\n\ndef outer(x):\n    return 2.0 * inner(x)\n"
    )
    run = textwrap.dedent(
        """
        import inner_mod, outer_mod
        from heatmap.engine._jit import compile_kernels
        k = compile_kernels([inner_mod.inner, outer_mod.outer])
        print(k["outer"](1.0))
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}

    def outer() -> str:
        out = subprocess.run(
            [sys.executable, "-c", run], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    assert outer() == "4.0"
    assert outer() == "4.0"  # from the cache
    assert any(p.suffix == ".nbi" for p in (tmp_path / "__pycache__").iterdir())
    stamp = os.stat(tmp_path / "outer_mod.py")
    (tmp_path / "inner_mod.py").write_text("def inner(x):\n    return x + 5.0\n")
    os.utime(
        tmp_path / "outer_mod.py", ns=(stamp.st_atime_ns, stamp.st_mtime_ns)
    )  # the caller's file untouched
    assert outer() == "12.0"
