"""Results of an estimate: the time × price :class:`Heatmap` and the one-time :class:`Snapshot`.

Both are frozen containers of arrays. Analytics (clusters, smoothing, exports) and figures live in their own
modules; the methods here are thin conveniences that delegate to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from heatmap.model import Model

Side = Literal["long", "short"]
SideOrBoth = Literal["long", "short", "both"]

__all__ = ["Heatmap", "Snapshot"]


def _as_edges(edges: Any) -> np.ndarray:
    arr = np.asarray(edges, dtype=float)
    if arr.ndim != 1 or arr.size < 2:
        raise ValueError(f"price_edges must be a 1-D array of at least 2 edges, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError("price_edges must be finite and positive [quote]")
    if np.any(np.diff(arr) <= 0):
        bad = int(np.argmax(np.diff(arr) <= 0))
        raise ValueError(
            f"price_edges must be strictly increasing; edge {bad + 1} ({arr[bad + 1]}) <= {arr[bad]}"
        )
    return arr


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.flags.writeable:
        a = a.view()
        a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class Snapshot:
    """Estimated liquidation map at one time.

    Parameters
    ----------
    time : pandas.Timestamp
        Bar open time (UTC); the map is the state after that bar closed.
    price_edges : ndarray, shape (P+1,)
        Increasing price-band edges [quote].
    long, short : ndarray, shape (P,)
        Liquidation notional [quote] of long / short positions whose liquidation price lies in each band.
    price : float
        Close price of the bar [quote] (the "current price" of the map).
    model : Model, optional
        The assumptions that produced it.
    cohorts : DataFrame, optional
        Explicit position cohorts (ledger engine only): ``side, liquidation_price, qty, notional, ...``.

    Examples
    --------
    >>> import numpy as np
    >>> snap = Snapshot(time=pd.Timestamp("2025-01-01", tz="UTC"), price_edges=np.array([90.0, 100.0, 110.0]),
    ...                 long=np.array([5.0, 0.0]), short=np.array([0.0, 3.0]), price=100.0)
    >>> snap.total
    {'long': 5.0, 'short': 3.0}
    """

    time: pd.Timestamp
    price_edges: np.ndarray
    long: np.ndarray
    short: np.ndarray
    price: float
    model: Model | None = None
    cohorts: pd.DataFrame | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        edges = _as_edges(self.price_edges)
        object.__setattr__(self, "price_edges", _readonly(edges))
        for name in ("long", "short"):
            arr = np.asarray(getattr(self, name), dtype=float)
            if arr.shape != (edges.size - 1,):
                raise ValueError(
                    f"{name} must have shape ({edges.size - 1},) to match price_edges, got {arr.shape}"
                )
            object.__setattr__(self, name, _readonly(arr))
        if not np.isfinite(self.price) or self.price <= 0:
            raise ValueError(f"price must be a positive finite number [quote], got {self.price!r}")
        object.__setattr__(self, "time", pd.Timestamp(self.time))

    # -- geometry ---------------------------------------------------------------------------------------------
    @property
    def centers(self) -> np.ndarray:
        """Geometric centres of the price bands [quote]."""
        return np.sqrt(self.price_edges[:-1] * self.price_edges[1:])

    @property
    def total(self) -> dict[str, float]:
        """Total liquidation notional per side [quote]."""
        return {"long": float(self.long.sum()), "short": float(self.short.sum())}

    def side(self, side: Side) -> np.ndarray:
        """The array of one side (``"long"`` or ``"short"``)."""
        if side not in ("long", "short"):
            raise ValueError(f"side must be 'long' or 'short', got {side!r}")
        return self.long if side == "long" else self.short

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: ``price_low, price_high, price, long, short, distance`` (distance from price, fraction)."""
        c = self.centers
        return pd.DataFrame(
            {
                "price_low": self.price_edges[:-1],
                "price_high": self.price_edges[1:],
                "price": c,
                "long": self.long,
                "short": self.short,
                "distance": c / self.price - 1.0,
            }
        )

    # -- analytics (delegating) -------------------------------------------------------------------------------
    def cumulative(self) -> pd.DataFrame:
        """Cumulative long liquidations from price downward and shorts from price upward (the "liquidation map")."""
        from heatmap.clusters import cumulative

        return cumulative(self)

    def clusters(self, **kwargs: Any) -> pd.DataFrame:
        """Liquidation clusters; see :func:`heatmap.find_clusters`."""
        from heatmap.clusters import find_clusters

        return find_clusters(self, **kwargs)

    def imbalance(self, within: float = 0.05) -> float:
        """(long − short) / (long + short) of notional within ``within`` (fraction) of price."""
        from heatmap.clusters import imbalance

        return imbalance(self, within=within)

    def magnet(self, within: float = 0.1) -> pd.Series | None:
        """The largest cluster within ``within`` (fraction) of price, or None."""
        from heatmap.clusters import magnet

        return magnet(self, within=within)

    def normalize(self, kind: Literal["usd", "relative", "zscore", "percentile"] = "usd") -> Snapshot:
        """A copy with both sides normalised; see :func:`heatmap.density.normalize`."""
        from heatmap.density import normalize

        return normalize(self, kind)

    def by_leverage(self, market: Any, **kwargs: Any) -> Any:
        """The map split by leverage bucket (≤10x … >100x); see :func:`heatmap.layers.leverage_layers`."""
        from heatmap.layers import leverage_layers

        return leverage_layers(self, market, **kwargs)

    def smooth(self, bandwidth: float = 0.005) -> Snapshot:
        """A mass-preserving smoothed copy; ``bandwidth`` is a fraction of price (0.005 = 0.5 %)."""
        from heatmap.density import smooth

        return smooth(self, bandwidth=bandwidth)

    # -- figures (delegating) ---------------------------------------------------------------------------------
    def plot(self, ax: Axes | None = None, **kwargs: Any) -> Any:
        """Liquidation map figure; see :func:`heatmap.plot_map`."""
        from heatmap.plot import plot_map

        return plot_map(self, ax=ax, **kwargs)

    def to_png(self, path: str | Path, **kwargs: Any) -> Path:
        """Write the liquidation-map figure to ``path`` as PNG; see :func:`heatmap.render_png`."""
        from heatmap.plot import render_png

        return render_png(self, path, **kwargs)

    def save(self, path: str | Path, **kwargs: Any) -> Path:
        """Write the liquidation-map figure as .png, .svg, .pdf or .jpg (by suffix); see
        :func:`heatmap.plot.save_figure`."""
        from heatmap.plot import save_figure

        return save_figure(self, path, **kwargs)

    def _repr_png_(self) -> bytes:
        from heatmap.plot import png_bytes

        return png_bytes(self)

    def _repr_html_(self) -> str:
        from heatmap.plot import summary_html

        return summary_html(self)

    def __repr__(self) -> str:
        t = self.total
        return (
            f"Snapshot(time={self.time}, price={self.price:,.2f}, bins={self.long.size}, "
            f"long={t['long']:,.0f}, short={t['short']:,.0f})"
        )


@dataclass(frozen=True, eq=False)
class Heatmap:
    """Estimated liquidation notional on a time × price grid.

    Parameters
    ----------
    times : DatetimeIndex, length T
        Snapshot times (UTC bar open times; each row is the state after that bar closed), strictly increasing
        (a missing or repeated time is a ``ValueError``).
    price_edges : ndarray, shape (P+1,)
        Increasing price-band edges [quote].
    long, short : ndarray, shape (T, P)
        Liquidation notional [quote] of long / short positions per band at each snapshot time.
    price : Series
        Close price path [quote] at every market bar (for overlays), UTC index.
    model : Model, optional
        The assumptions.
    ledger : DataFrame, optional
        Per-bar mass ledger [base] (face value [quote] for inverse contracts): ``opened_long, liquidated_long,
        closed_long, decayed_long, offgrid_long, held_long`` and the same for ``short``.
    liquidations : DataFrame, optional
        Per-bar predicted liquidated notional [quote], columns ``long`` and ``short`` (what the model says was
        liquidated inside each bar, from the state before it).
    meta : dict
        Engine, grid and run information.
    """

    times: pd.DatetimeIndex
    price_edges: np.ndarray
    long: np.ndarray
    short: np.ndarray
    price: pd.Series
    model: Model | None = None
    ledger: pd.DataFrame | None = None
    liquidations: pd.DataFrame | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        edges = _as_edges(self.price_edges)
        object.__setattr__(self, "price_edges", _readonly(edges))
        times = pd.DatetimeIndex(self.times)
        if times.hasnans:
            raise ValueError(f"times: {int(np.count_nonzero(times.isna()))} snapshot times are missing (NaT)")
        if len(times) > 1 and not (times[1:] > times[:-1]).all():
            i = int(np.argmax(~(times[1:] > times[:-1]))) + 1
            raise ValueError(f"times must increase; snapshot {i} ({times[i]}) is not after {times[i - 1]}")
        object.__setattr__(self, "times", times)
        shape = (len(times), edges.size - 1)
        for name in ("long", "short"):
            arr = np.asarray(getattr(self, name))
            if arr.shape != shape:
                raise ValueError(f"{name} must have shape {shape} (times × bins), got {arr.shape}")
            object.__setattr__(self, name, _readonly(arr))
        if not isinstance(self.price, pd.Series):
            raise TypeError(f"price must be a pandas Series of closes, got {type(self.price).__name__}")

    # -- geometry ---------------------------------------------------------------------------------------------
    @property
    def centers(self) -> np.ndarray:
        """Geometric centres of the price bands [quote]."""
        return np.sqrt(self.price_edges[:-1] * self.price_edges[1:])

    @property
    def shape(self) -> tuple[int, int]:
        """(times, bins)."""
        return (self.long.shape[0], self.long.shape[1])

    @property
    def total(self) -> pd.DataFrame:
        """Total liquidation notional per side at each snapshot time [quote] (columns ``long``, ``short``)."""
        return pd.DataFrame(
            {"long": self.long.sum(axis=1, dtype=float), "short": self.short.sum(axis=1, dtype=float)},
            index=self.times,
        )

    def _position(self, t: int | str | pd.Timestamp) -> int:
        if isinstance(t, (int, np.integer)):
            n = len(self.times)
            if not -n <= int(t) < n:
                raise IndexError(f"snapshot position {t} out of range for {n} snapshots")
            return int(t) % n
        ts = pd.Timestamp(t)
        if ts.tzinfo is None:
            raise ValueError(f"time {t!r} is naive; give a UTC time (e.g. '2025-01-01T00:00Z')")
        pos = int(self.times.searchsorted(ts, side="right")) - 1
        if pos < 0:
            raise KeyError(f"{ts} is before the first snapshot {self.times[0]}")
        return pos

    def at(self, t: int | str | pd.Timestamp) -> Snapshot:
        """The snapshot at integer position ``t`` or at the latest snapshot time ≤ timestamp ``t``.

        With the ledger engine the last snapshot also carries the live cohorts (``Snapshot.cohorts``).
        """
        i = self._position(t)
        time = self.times[i]
        price = float(self.price.asof(time) if time >= self.price.index[0] else self.price.iloc[0])  # type: ignore[arg-type]
        # the ledger engine keeps its live cohorts after the latest bar only: they belong to the last snapshot
        cohorts = self.meta.get("cohorts")
        if isinstance(cohorts, pd.DataFrame) and i == len(self.times) - 1 and time == self.price.index[-1]:
            cohorts = cohorts.rename(columns={"lp": "liquidation_price"})
        else:
            cohorts = None
        return Snapshot(
            time=time,
            price_edges=self.price_edges,
            long=np.asarray(self.long[i], dtype=float),
            short=np.asarray(self.short[i], dtype=float),
            price=price,
            model=self.model,
            meta={"position": i, **{k: self.meta[k] for k in ("symbol", "venue") if self.meta.get(k)}},
            cohorts=cohorts,
        )

    def __len__(self) -> int:
        return len(self.times)

    def to_frame(self, *, dropzero: bool = True) -> pd.DataFrame:
        """Tidy table: ``time, price_low, price_high, side, notional`` [quote] (zero cells dropped by default)."""
        T, P = self.shape
        parts = []
        for side in ("long", "short"):
            vals = np.asarray(getattr(self, side), dtype=float).ravel()
            ti, pi = np.divmod(np.arange(T * P), P)
            keep = vals != 0 if dropzero else slice(None)
            parts.append(
                pd.DataFrame(
                    {
                        "time": self.times[ti[keep]],
                        "price_low": self.price_edges[:-1][pi[keep]],
                        "price_high": self.price_edges[1:][pi[keep]],
                        "side": side,
                        "notional": vals[keep],
                    }
                )
            )
        out = pd.concat(parts, ignore_index=True)
        out["side"] = pd.Categorical(out["side"], categories=["long", "short"])
        return out.sort_values(["time", "side", "price_low"], ignore_index=True)

    def to_xarray(self) -> Any:
        """An ``xarray.Dataset`` with coordinates and units (needs the ``xarray`` extra)."""
        from heatmap.export import to_xarray

        return to_xarray(self)

    def to_json(self, path: str | Path | None = None, **kwargs: Any) -> str:
        """Sparse ``[time_index, price_index, value]`` cells with the axes, as JSON; see :mod:`heatmap.export`."""
        from heatmap.export import to_json

        return to_json(self, path, **kwargs)

    # -- figures (delegating) ---------------------------------------------------------------------------------
    def plot(self, ax: Axes | None = None, **kwargs: Any) -> Any:
        """Time × price heatmap with the price path; see :func:`heatmap.plot_heatmap`."""
        from heatmap.plot import plot_heatmap

        return plot_heatmap(self, ax=ax, **kwargs)

    def to_png(self, path: str | Path, **kwargs: Any) -> Path:
        """Write the heatmap figure to ``path`` as PNG; see :func:`heatmap.render_png`."""
        from heatmap.plot import render_png

        return render_png(self, path, **kwargs)

    def save(self, path: str | Path, **kwargs: Any) -> Path:
        """Write the heatmap figure as .png, .svg, .pdf or .jpg (by suffix); see :func:`heatmap.plot.save_figure`.

        Examples
        --------
        >>> hm.save("btc.svg", within=0.15)  # doctest: +SKIP
        PosixPath('btc.svg')
        """
        from heatmap.plot import save_figure

        return save_figure(self, path, **kwargs)

    def to_html(self, path: str | Path, **kwargs: Any) -> Path:
        """Self-contained interactive HTML heatmap (needs the ``interactive`` extra)."""
        from heatmap.interactive import to_html

        return to_html(self, path, **kwargs)

    def _repr_png_(self) -> bytes:
        from heatmap.plot import png_bytes

        return png_bytes(self)

    def _repr_html_(self) -> str:
        from heatmap.plot import summary_html

        return summary_html(self)

    def __repr__(self) -> str:
        T, P = self.shape
        span = f"{self.times[0]} → {self.times[-1]}" if T else "empty"
        return (
            f"Heatmap({T} snapshots × {P} bins, {span}, "
            f"prices {self.price_edges[0]:,.2f}–{self.price_edges[-1]:,.2f})"
        )
