"""The liquidation map split by leverage bucket (≤10x, 10–25x, 25–50x, 50–100x, >100x).

The engine keeps one mass per side and price band, not per leverage: a band holds positions of many leverages
opened at many prices. The split is recomputed on demand with the public :func:`heatmap.estimate` API, one run
per bucket, so no engine keeps (or pays for) a leverage axis:

1. For each bucket ``(a, b]`` the model's speculative and passive leverage laws are restricted to the bucket
   (:meth:`Leverage.truncate`), the market is estimated up to the snapshot's time on the snapshot's own grid, and
   the last state is kept: ``run_b`` = the map if every position had a leverage in the bucket.
2. The bucket's weight is its probability under the laws, ``w_b = (P_spec(a < L <= b) + P_passive(a < L <= b)) / 2``
   (new open interest is split between a speculative and a passive side).
3. In every band, the snapshot's notional is shared in proportion to ``w_b · run_b`` (by ``w_b`` alone in a
   band no run reaches); the layers therefore add up to the snapshot exactly, whatever the engine did.

When the engine is linear in the law — open interest only grows, no turnover, no decay — step 3 changes nothing
and each layer is exactly ``w_b · run_b`` (tested). Otherwise the proportional closes and turnover make the runs
an approximation of the split, not of the total, which stays the snapshot's.

Examples
--------
>>> import heatmap as lh
>>> market = lh.synthetic_market(days=5, seed=1)
>>> snap = lh.estimate(market, bins=300).at(-1)
>>> layers = leverage_layers(snap, market)
>>> layers.labels
('<=10x', '10-25x', '25-50x', '50-100x', '>100x')
>>> bool(np.allclose(layers.long.sum(axis=0), snap.long))
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from heatmap.aggregate import MultiHeatmap
    from heatmap.leverage import Leverage
    from heatmap.market import Market
    from heatmap.model import Model
    from heatmap.result import Heatmap, Snapshot

__all__ = [
    "LEVERAGE_BUCKETS",
    "LeverageLayers",
    "leverage_layers",
    "leverage_layers_over_time",
    "aggregate_leverage_layers_over_time",
    "bucket_labels",
]

#: Upper bounds of the default leverage buckets: ≤10x, 10–25x, 25–50x, 50–100x, >100x.
LEVERAGE_BUCKETS: tuple[float, ...] = (10.0, 25.0, 50.0, 100.0)


def bucket_labels(bounds: Sequence[float]) -> tuple[str, ...]:
    """Labels of the buckets cut at ``bounds``: ``(10, 25) -> ("<=10x", "10-25x", ">25x")``.

    Examples
    --------
    >>> bucket_labels((10, 25))
    ('<=10x', '10-25x', '>25x')
    """
    b = [float(x) for x in bounds]
    inner = [f"{lo:g}-{hi:g}x" for lo, hi in zip(b[:-1], b[1:], strict=True)]
    return (f"<={b[0]:g}x", *inner, f">{b[-1]:g}x")


@dataclass(frozen=True)
class LeverageLayers:
    """A snapshot's liquidation notional split by leverage bucket.

    Attributes
    ----------
    time : Timestamp
        The snapshot's time.
    price : float
        Its current price [quote].
    price_edges : ndarray, shape (P+1,)
        Band edges [quote].
    labels : tuple of str
        Bucket labels, lowest leverage first.
    bounds : tuple of float
        Upper bounds of all buckets but the last [leverage].
    long, short : ndarray, shape (B, P)
        Notional per bucket and band [quote]; ``long.sum(axis=0)`` is the snapshot's ``long``.
    weights : ndarray, shape (B,)
        Bucket probabilities ``w_b`` used for the split (sum to 1).
    """

    time: pd.Timestamp
    price: float
    price_edges: np.ndarray
    labels: tuple[str, ...]
    bounds: tuple[float, ...]
    long: np.ndarray
    short: np.ndarray
    weights: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: ``bucket, side, price_low, price_high, notional`` (zero cells dropped)."""
        parts = []
        for side in ("long", "short"):
            vals = getattr(self, side)
            b, p = np.nonzero(vals)
            parts.append(
                pd.DataFrame(
                    {
                        "bucket": np.asarray(self.labels, dtype=object)[b],
                        "side": side,
                        "price_low": self.price_edges[:-1][p],
                        "price_high": self.price_edges[1:][p],
                        "notional": vals[b, p],
                    }
                )
            )
        return pd.concat(parts, ignore_index=True)


def _restricted(law: Leverage, lo: float, hi: float) -> Leverage | None:
    """``law`` conditioned on ``lo < L <= hi``, or None when the law has no mass there."""
    p = _bucket_probability(law, lo, hi)
    if p <= 0:
        return None
    lo_open = float(np.nextafter(lo, np.inf)) if lo > law.min_leverage else None
    return law.truncate(min(hi, law.max_leverage), min_leverage=lo_open)


def _bucket_probability(law: Leverage, lo: float, hi: float) -> float:
    c = np.asarray(law.cdf(np.array([lo, min(hi, law.max_leverage)])), dtype=float)
    below = 0.0 if lo < law.min_leverage else float(c[0])
    return max(float(c[1]) - below, 0.0)


def _check_buckets(buckets: Sequence[float]) -> np.ndarray:
    b = np.asarray(buckets, dtype=float)
    if b.ndim != 1 or b.size < 1 or not np.all(np.isfinite(b)) or np.any(b <= 1) or np.any(np.diff(b) <= 0):
        raise ValueError(
            f"buckets: got {list(buckets)!r}; allowed are increasing leverages above 1, e.g. (10, 25)"
        )
    return b


def _bucket_runs(
    bars: Market,
    model: Model,
    edges: np.ndarray,
    bounds: np.ndarray,
    rows: np.ndarray | pd.DatetimeIndex,
    snapshot_every: int,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per bucket: the estimate with the laws restricted to the bucket, at snapshot ``rows`` (B, R, P) per side,
    and the bucket weights ``w_b`` (normalised).

    ``rows`` are snapshot positions, or times: then each takes the last snapshot at or before it (as
    :func:`heatmap.aggregate.align` does)."""
    from heatmap.engine import estimate
    from heatmap.grid import PriceGrid

    grid = PriceGrid(np.asarray(edges, dtype=float))
    cuts = np.r_[1.0, bounds, np.inf]
    shape = (cuts.size - 1, rows.size, edges.size - 1)
    runs = {s: np.zeros(shape) for s in ("long", "short")}
    weights = np.zeros(cuts.size - 1)
    for i, (lo, hi) in enumerate(zip(cuts[:-1], cuts[1:], strict=True)):
        spec = _restricted(model.leverage, lo, hi)
        passive = _restricted(model.passive_leverage, lo, hi)
        weights[i] = 0.5 * (
            _bucket_probability(model.leverage, lo, hi) + _bucket_probability(model.passive_leverage, lo, hi)
        )
        if spec is None and passive is None:
            continue
        sub = model.replace(
            leverage=spec if spec is not None else passive,
            passive_leverage=passive if passive is not None else spec,
        )
        hm = estimate(bars, sub, grid=grid, snapshot_every=snapshot_every)
        at = rows
        if isinstance(rows, pd.DatetimeIndex):
            at = np.clip(hm.times.searchsorted(rows, side="right") - 1, 0, len(hm.times) - 1)
        for s in ("long", "short"):
            runs[s][i] = np.asarray(getattr(hm, s)[at], dtype=float)
    return runs, (weights / weights.sum() if weights.sum() > 0 else weights)


def _share(runs: np.ndarray, weights: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``target`` (..., P) shared by bucket in proportion to ``w_b · run_b`` (by ``w_b`` where no run reaches)."""
    weighted = runs * weights.reshape((-1,) + (1,) * (runs.ndim - 1))
    total = weighted.sum(axis=0)
    fallback = np.broadcast_to(weights.reshape((-1,) + (1,) * (runs.ndim - 1)), weighted.shape)
    # a band no bucket run reaches (rare: the runs differ from the full run only through closes) is
    # shared by the bucket weights, so the layers always add up to the snapshot
    share = np.where(total > 0, weighted / np.where(total > 0, total, 1.0), fallback)
    return share * target[None]


def leverage_layers(
    snapshot: Snapshot, market: Market, *, buckets: Sequence[float] = LEVERAGE_BUCKETS
) -> LeverageLayers:
    """Split a snapshot's map by leverage bucket, re-estimating ``market`` once per bucket.

    Parameters
    ----------
    snapshot : Snapshot
        From :meth:`Heatmap.at`; its ``model`` (``Model()`` when None), time and grid are used.
    market : Market
        The market the snapshot was estimated from (bars up to the snapshot's time are used).
    buckets : sequence of float, default (10, 25, 50, 100)
        Increasing upper bounds of the buckets but the last [leverage]; the last bucket is everything above.

    Returns
    -------
    LeverageLayers

    Raises
    ------
    ValueError
        For bucket bounds that are not increasing numbers above 1, or a market with no bar at the snapshot's
        time.
    """
    from heatmap.model import Model

    b = _check_buckets(buckets)
    model = snapshot.model if snapshot.model is not None else Model()
    bars = market.slice(None, snapshot.time)
    if len(bars) == 0 or bars.frame.index[-1] != snapshot.time:
        raise ValueError(
            f"market has no bar at the snapshot's time {snapshot.time}; give the market the snapshot came from"
        )
    edges = np.asarray(snapshot.price_edges, dtype=float)
    runs, weights = _bucket_runs(bars, model, edges, b, np.array([-1]), len(bars))
    out = {s: _share(runs[s][:, 0], weights, np.asarray(getattr(snapshot, s), dtype=float)) for s in runs}
    return LeverageLayers(
        time=snapshot.time,
        price=float(snapshot.price),
        price_edges=edges,
        labels=bucket_labels(b.tolist()),
        bounds=tuple(float(x) for x in b),
        long=out["long"],
        short=out["short"],
        weights=weights,
    )


def leverage_layers_over_time(
    hm: Heatmap,
    market: Market,
    rows: Sequence[int] | np.ndarray,
    *,
    buckets: Sequence[float] = LEVERAGE_BUCKETS,
) -> dict[str, np.ndarray]:
    """The split of :func:`leverage_layers` at several snapshots of ``hm`` at once (one estimate per bucket).

    Parameters
    ----------
    hm : Heatmap
        Estimated from ``market`` (its model, grid and snapshot stride are used).
    market : Market
    rows : sequence of int
        Snapshot positions of ``hm``.
    buckets : sequence of float, default (10, 25, 50, 100)

    Returns
    -------
    dict
        ``"long"``, ``"short"``: arrays (buckets, rows, bins) [quote] that add up over buckets to ``hm``'s rows;
        ``"weights"``: the bucket weights; ``"labels"``: the bucket labels.
    """
    from heatmap.model import Model

    b = _check_buckets(buckets)
    r = np.asarray(rows, dtype=int)
    model = hm.model if hm.model is not None else Model()
    bars = market.slice(None, hm.times[-1])
    if len(bars) == 0 or bars.frame.index[-1] != hm.times[-1] or bars.frame.index[0] > hm.times[0]:
        raise ValueError(
            "market does not span the heatmap's snapshots; give the market the heatmap came from"
        )
    every = int(hm.meta.get("snapshot_every") or 1)
    runs, weights = _bucket_runs(bars, model, np.asarray(hm.price_edges, dtype=float), b, r, every)
    out: dict[str, np.ndarray] = {
        s: _share(runs[s], weights, np.asarray(getattr(hm, s)[r], dtype=float)) for s in runs
    }
    out["weights"] = weights
    out["labels"] = np.asarray(bucket_labels(b.tolist()), dtype=object)
    return out


def aggregate_leverage_layers_over_time(
    multi: MultiHeatmap,
    markets: Mapping[str, Market],
    rows: Sequence[int] | np.ndarray,
    *,
    buckets: Sequence[float] = LEVERAGE_BUCKETS,
) -> dict[str, np.ndarray]:
    """The leverage split of an aggregate (:attr:`MultiHeatmap.total`) at its snapshot ``rows``.

    Each venue is split on its own, with its own model (one extra estimate per bucket and venue, on the common
    grid, as in :func:`leverage_layers_over_time`), and the venues' buckets are summed; at a time a venue has no
    data its layer is zero, so the buckets add up to the aggregate's rows exactly.

    Parameters
    ----------
    multi : MultiHeatmap
        From :func:`heatmap.estimate_many`.
    markets : mapping of str to Market
        The market of every layer of ``multi``, by name.
    rows : sequence of int
        Snapshot positions of ``multi.total``.
    buckets : sequence of float, default (10, 25, 50, 100)

    Returns
    -------
    dict
        ``"long"``, ``"short"``: arrays (buckets, rows, bins) [quote] adding up over buckets to the aggregate's
        rows; ``"weights"``: each bucket's share of the split notional over these rows; ``"labels"``.

    Examples
    --------
    >>> import heatmap as lh
    >>> a, b = lh.synthetic_market(days=3, seed=1), lh.synthetic_market(days=3, seed=2)
    >>> multi = lh.estimate_many({"a": a, "b": b}, bins=200)
    >>> split = aggregate_leverage_layers_over_time(multi, {"a": a, "b": b}, [0, -1])
    >>> bool(np.allclose(split["long"].sum(axis=0), multi.total.long[[0, -1]], rtol=1e-6))
    True
    """
    from heatmap.model import Model

    b = _check_buckets(buckets)
    total = multi.total
    r = np.asarray(rows, dtype=int)
    missing = [name for name in multi.layers if name not in markets]
    if missing:
        raise ValueError(f"markets: no market for the layers {missing}; give every layer's market by name")
    times = pd.DatetimeIndex(total.times[r])
    edges = np.asarray(total.price_edges, dtype=float)
    out = {s: np.zeros((b.size + 1, r.size, edges.size - 1)) for s in ("long", "short")}
    for name, layer in multi.layers.items():
        target = {s: np.asarray(getattr(layer, s)[r], dtype=float) for s in out}
        if not any(t.any() for t in target.values()):
            continue
        model = layer.model if layer.model is not None else Model()
        every = int(layer.meta.get("snapshot_every") or 1)
        # the venue's whole market, as estimate_many ran it: the runs' snapshots are the layer's
        runs, weights = _bucket_runs(markets[name], model, edges, b, times, every)
        for s in out:
            out[s] += _share(runs[s], weights, target[s])
    mass = out["long"].sum(axis=(1, 2)) + out["short"].sum(axis=(1, 2))
    result: dict[str, np.ndarray] = dict(out)
    result["weights"] = mass / mass.sum() if mass.sum() > 0 else mass
    result["labels"] = np.asarray(bucket_labels(b.tolist()), dtype=object)
    return result
