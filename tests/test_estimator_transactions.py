"""``Estimator.update`` is transactional: a failure or interrupt at any step leaves the committed state intact.

Each test injects an exception (or ``KeyboardInterrupt``) into one step of an update, checks that the estimator's
state and result are exactly what they were, then resumes and checks the result equals an uninterrupted run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from heatmap.engine import estimator as est_mod
from heatmap.engine.estimator import Estimator
from heatmap.engine.grid_engine import GridEngine
from heatmap.engine.ledger import LedgerEngine
from heatmap.grid import PriceGrid
from heatmap.market import Market
from heatmap.synthetic import synthetic_market

MARKET: Market = synthetic_market(days=3, freq="1h", seed=5)
SPLIT = 40


def _grid(market: Market) -> PriceGrid:
    """A user grid around the first bars only: the later bars leave it, so the update also grows the grid."""
    f = market.frame.iloc[:SPLIT]
    rest = market.frame.iloc[SPLIT:]
    assert rest["high"].max() > f["high"].max() or rest["low"].min() < f["low"].min()
    return PriceGrid.log_spaced(float(f["low"].min()) * 0.8, float(f["high"].max()), 300)


def _state(est: Estimator) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in est.state.items():
        out[k] = v.copy() if hasattr(v, "copy") else v
    hm = est.heatmap
    out["hm"] = (hm.long.copy(), hm.short.copy(), list(hm.times), hm.price_edges.copy())
    out["attrs"] = (est.n_bars, est.last_time, est.last_oi, est.grid, est.freq)
    return out


def _same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=k)
        elif k == "ledger":
            assert x.equals(y)
        elif k == "hm":
            for u, v in zip(x, y, strict=True):
                np.testing.assert_array_equal(np.asarray(u), np.asarray(v), err_msg=k)
        else:
            assert x == y, k


def _boom(exc: type[BaseException]) -> Callable[..., Any]:
    def wrap(orig: Callable[..., Any]) -> Callable[..., Any]:
        def f(*args: Any, **kwargs: Any) -> Any:
            orig(*args, **kwargs)  # the step does its work (mutating what it was given) ... then fails
            raise exc("injected")

        return f

    return wrap


STEPS: list[tuple[str, Any, str]] = [
    ("engine run (grid)", GridEngine, "run"),
    ("engine run (ledger)", LedgerEngine, "run"),
    ("grid growth", GridEngine, "regrid"),
    ("live snapshot", GridEngine, "snapshot"),
    ("append rows", est_mod._Rows, "appended"),
    ("assemble result", Estimator, "_assemble"),
    ("fork engine", GridEngine, "fork"),
    ("allocate outputs", est_mod.Outputs, "allocate"),
]


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
@pytest.mark.parametrize(("step", "owner", "name"), STEPS, ids=[s[0] for s in STEPS])
def test_failed_update_leaves_state_and_resumes_exactly(
    monkeypatch: pytest.MonkeyPatch, step: str, owner: Any, name: str, exc: type[BaseException]
) -> None:
    engine = "ledger" if "ledger" in step else "grid"
    kw: dict[str, Any] = {"engine": engine, "snapshot_every": 7}
    if engine == "ledger":
        kw.update(leverage_nodes=4, entry_nodes=4)
    grid = _grid(MARKET)
    ref = Estimator(grid=grid, **kw)
    ref.update(MARKET.iloc[:SPLIT])
    ref.update(MARKET.iloc[SPLIT:])

    est = Estimator(grid=grid, **kw)
    est.update(MARKET.iloc[:SPLIT])
    before = _state(est)
    orig = getattr(owner, name)
    if isinstance(owner, type) and isinstance(owner.__dict__.get(name), classmethod):
        func = orig.__func__
        monkeypatch.setattr(owner, name, classmethod(_boom(exc)(func)))
    else:
        monkeypatch.setattr(owner, name, _boom(exc)(orig))
    with pytest.raises(exc, match="injected"):
        est.update(MARKET.iloc[SPLIT:])
    monkeypatch.undo()
    _same(_state(est), before)
    est.update(MARKET.iloc[SPLIT:])
    a, b = est.heatmap, ref.heatmap
    np.testing.assert_array_equal(a.long, b.long)
    np.testing.assert_array_equal(a.short, b.short)
    np.testing.assert_array_equal(a.price_edges, b.price_edges)
    assert a.ledger is not None and b.ledger is not None and a.ledger.equals(b.ledger)
    assert list(a.times) == list(b.times)


def test_every_injected_step_is_reached() -> None:
    """The injection points above are real: each is called by an update of the same kind (no silent no-op)."""
    calls: dict[str, int] = {}
    restore = []
    for label, owner, name in STEPS:
        orig = getattr(owner, name)
        is_cm = isinstance(owner, type) and isinstance(owner.__dict__.get(name), classmethod)
        func = orig.__func__ if is_cm else orig

        def counted(*a: Any, _f: Any = func, _l: str = label, **k: Any) -> Any:
            calls[_l] = calls.get(_l, 0) + 1
            return _f(*a, **k)

        restore.append((owner, name, owner.__dict__[name] if isinstance(owner, type) else orig))
        setattr(owner, name, classmethod(counted) if is_cm else counted)
    try:
        for engine in ("grid", "ledger"):
            kw: dict[str, Any] = {"engine": engine, "snapshot_every": 7}
            if engine == "ledger":
                kw.update(leverage_nodes=4, entry_nodes=4)
            est = Estimator(grid=_grid(MARKET), **kw)
            est.update(MARKET.iloc[:SPLIT])
            est.update(MARKET.iloc[SPLIT:])
    finally:
        for owner, name, orig in restore:
            setattr(owner, name, orig)
    assert set(calls) == {s[0] for s in STEPS}
