"""Log-spaced price grid on which the engines keep position mass.

On a log grid a multiplicative move is a shift: a position entered at ``E`` with liquidation price ``E * k``
lands ``log(k) / log_step`` bins away from its entry bin wherever ``E`` is. That is what lets the fast engine
use one precomputed liquidation-price kernel for every bar.

Examples
--------
>>> from heatmap.grid import PriceGrid
>>> g = PriceGrid.log_spaced(100.0, 400.0, bins=2)
>>> g.edges.round(9).tolist()
[100.0, 200.0, 400.0]
>>> g.index_of([150.0, 399.0, 50.0]).tolist()
[0, 1, -1]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:
    from heatmap.market import Market

__all__ = ["DEFAULT_MARGIN", "PriceGrid"]

#: Default multiplicative margin of :meth:`PriceGrid.for_market` around the market's price range. A long at
#: leverage ``L`` sits at about ``E * (1 - 1/L)``: a factor 2.5 below the lowest low keeps every long of
#: leverage >= 1.67x on the grid; a short's level is at most ``2 E / (1 + MMR) < 2.5 E``, so every short is on it.
DEFAULT_MARGIN = 2.5


def _readonly(a: NDArray[np.float64]) -> NDArray[np.float64]:
    a = np.array(a, dtype=np.float64)
    a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class PriceGrid:
    """Log-spaced price bins.

    Parameters
    ----------
    edges : array-like, shape (P+1,)
        Bin edges [quote]: positive, strictly increasing and log-spaced (constant ratio between neighbours,
        to a relative tolerance of 1e-9). Build it with :meth:`log_spaced` or :meth:`for_market`.

    Attributes
    ----------
    edges : ndarray, shape (P+1,)
        Edges [quote] (read-only).
    centers : ndarray, shape (P,)
        Geometric bin centres ``sqrt(e_i e_{i+1})`` [quote].
    log_step : float
        ``log(e_{i+1} / e_i)`` [natural-log units].
    n_bins : int
        ``P``.

    Examples
    --------
    >>> g = PriceGrid.log_spaced(1_000.0, 4_000.0, bins=200)
    >>> g.n_bins, round(g.log_step, 6)
    (200, 0.006931)
    """

    edges: NDArray[np.float64]

    def __post_init__(self) -> None:
        e = np.asarray(self.edges, dtype=np.float64)
        if e.ndim != 1 or e.size < 2:
            raise ValueError(f"edges must be a 1-D array of at least 2 prices, got shape {e.shape}")
        if not np.all(np.isfinite(e)) or np.any(e <= 0):
            bad = e[~(np.isfinite(e) & (e > 0))][0]
            raise ValueError(f"edges must be finite and > 0 [quote], got {bad!r}")
        steps = np.diff(np.log(e))
        if np.any(steps <= 0):
            i = int(np.argmax(steps <= 0))
            raise ValueError(
                f"edges must be strictly increasing; edge {i + 1} ({e[i + 1]!r}) <= edge {i} ({e[i]!r})"
            )
        # rounding of log() is absolute (~eps * |log e|): with millions of bins it exceeds a relative 1e-9
        atol = 64 * np.finfo(np.float64).eps * max(1.0, float(np.abs(np.log(e[[0, -1]])).max()))
        if not np.allclose(steps, steps.mean(), rtol=1e-9, atol=atol):
            raise ValueError(
                "edges must be log-spaced (constant ratio); log steps range "
                f"[{steps.min():.6g}, {steps.max():.6g}]; use PriceGrid.log_spaced"
            )
        object.__setattr__(self, "edges", _readonly(e))
        object.__setattr__(self, "_log_step", float((math.log(e[-1]) - math.log(e[0])) / (e.size - 1)))

    # -- constructors -----------------------------------------------------------------------------------------
    @classmethod
    def log_spaced(cls, low: float, high: float, bins: int = 1000) -> PriceGrid:
        """``bins`` log-spaced bins from ``low`` to ``high`` [quote].

        Examples
        --------
        >>> PriceGrid.log_spaced(10.0, 1000.0, bins=2).edges.round(9).tolist()
        [10.0, 100.0, 1000.0]
        """
        if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
            raise ValueError(f"bins must be a positive integer, got {bins!r}")
        from heatmap.limits import check_memory

        # edges, their logs and log steps while the grid is checked: 4 float64 arrays
        check_memory(32 * (int(bins) + 1), what=f"a price grid of bins={int(bins)}", advice="use fewer bins=")
        lo, hi = float(low), float(high)
        if not (math.isfinite(lo) and lo > 0):
            raise ValueError(f"low must be a finite price > 0 [quote], got {low!r}")
        if not (math.isfinite(hi) and hi > lo):
            raise ValueError(f"high must be a finite price > low ({lo!r}) [quote], got {high!r}")
        edges = np.exp(np.linspace(math.log(lo), math.log(hi), int(bins) + 1))
        edges[0], edges[-1] = lo, hi
        return cls(edges)

    @classmethod
    def for_market(cls, market: Market, bins: int = 1000, *, margin: float = DEFAULT_MARGIN) -> PriceGrid:
        """A grid covering ``[min low / margin, max high * margin]`` of ``market`` (mark prices included).

        Parameters
        ----------
        market : Market
            The bars to cover.
        bins : int, default 1000
            Number of bins.
        margin : float, default 2.5
            Multiplicative margin (> 1) below the lowest low and above the highest high; see
            :data:`DEFAULT_MARGIN` for why 2.5.

        Examples
        --------
        >>> import pandas as pd
        >>> from heatmap.market import Market
        >>> idx = pd.date_range("2025-01-01", periods=2, freq="1h", tz="UTC")
        >>> m = Market(pd.DataFrame({"open": [100.0, 100], "high": [110.0, 100], "low": [90.0, 100],
        ...                          "close": [100.0, 100], "open_interest": [1.0, 1]}, index=idx))
        >>> g = PriceGrid.for_market(m, bins=100)
        >>> round(float(g.edges[0]), 6), round(float(g.edges[-1]), 6)
        (36.0, 275.0)
        """
        if not (isinstance(margin, (int, float)) and math.isfinite(margin) and margin > 1):
            raise ValueError(f"margin must be a finite factor > 1, got {margin!r}")
        lows = [market.array("low")]
        highs = [market.array("high")]
        if "mark_low" in market.columns:
            lows.append(market.array("mark_low"))
            highs.append(market.array("mark_high"))
        lo = float(min(a.min() for a in lows)) / margin
        hi = float(max(a.max() for a in highs)) * margin
        return cls.log_spaced(lo, hi, bins)

    # -- geometry ---------------------------------------------------------------------------------------------
    @property
    def n_bins(self) -> int:
        """Number of bins ``P``."""
        return int(self.edges.size - 1)

    @property
    def log_step(self) -> float:
        """Width of every bin in natural-log price."""
        return self._log_step  # type: ignore[attr-defined]

    @property
    def centers(self) -> NDArray[np.float64]:
        """Geometric bin centres [quote]."""
        return np.sqrt(self.edges[:-1] * self.edges[1:])

    @property
    def low(self) -> float:
        """Lowest edge [quote]."""
        return float(self.edges[0])

    @property
    def high(self) -> float:
        """Highest edge [quote]."""
        return float(self.edges[-1])

    def position(self, prices: ArrayLike) -> NDArray[np.float64]:
        """Fractional bin coordinate ``(log p - log e_0) / log_step`` (bin ``i`` spans ``[i, i+1)``)."""
        p = np.asarray(prices, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (np.log(p) - math.log(self.edges[0])) / self.log_step

    def index_of(self, prices: ArrayLike) -> NDArray[np.intp]:
        """Bin index of each price: ``i`` with ``e_i <= p < e_{i+1}``; ``-1`` below the grid, ``P`` at/above the top.

        Examples
        --------
        >>> g = PriceGrid.log_spaced(1.0, 4.0, bins=2)
        >>> g.index_of([0.5, 1.0, 2.0, 3.9, 4.0]).tolist()
        [-1, 0, 1, 1, 2]
        """
        p = np.asarray(prices, dtype=np.float64)
        if np.any(np.isnan(p)):
            raise ValueError("prices contain NaN")
        return np.searchsorted(self.edges, p, side="right").astype(np.intp) - 1

    def contains(self, low: float, high: float) -> bool:
        """True when ``[low, high]`` lies inside the grid."""
        return bool(self.edges[0] <= low and high <= self.edges[-1])

    # -- growth -----------------------------------------------------------------------------------------------
    def extend(self, low: float, high: float) -> PriceGrid:
        """A grid with whole bins of the same log step added until it covers ``[low, high]``.

        Existing edges are kept exactly (to floating point), so mass on the old grid maps onto the new one by
        an index offset (:meth:`offset_in`) without moving.

        Examples
        --------
        >>> g = PriceGrid.log_spaced(100.0, 400.0, bins=2)
        >>> g2 = g.extend(60.0, 400.0)
        >>> g2.n_bins, g.offset_in(g2), round(float(g2.edges[0]), 6)
        (3, 1, 50.0)
        """
        lo, hi = float(low), float(high)
        if not (math.isfinite(lo) and lo > 0 and math.isfinite(hi) and hi >= lo):
            raise ValueError(f"extend needs finite 0 < low <= high [quote], got low={low!r}, high={high!r}")
        h = self.log_step
        l0, l1 = math.log(self.edges[0]), math.log(self.edges[-1])
        below = max(0, math.ceil((l0 - math.log(lo)) / h - 1e-9))
        above = max(0, math.ceil((math.log(hi) - l1) / h - 1e-9))
        if below == 0 and above == 0:
            return self
        new_lo = np.exp(l0 - h * np.arange(below, 0, -1))
        new_hi = np.exp(l1 + h * np.arange(1, above + 1))
        return PriceGrid(np.concatenate([new_lo, self.edges, new_hi]))

    def offset_in(self, other: PriceGrid) -> int:
        """Index of this grid's first bin in ``other`` (a grid obtained by :meth:`extend`)."""
        if not math.isclose(other.log_step, self.log_step, rel_tol=1e-9):
            raise ValueError(f"grids have different log steps ({self.log_step!r} vs {other.log_step!r})")
        k = (math.log(self.edges[0]) - math.log(other.edges[0])) / self.log_step
        off = round(k)
        if abs(k - off) > 1e-6 or off < 0 or off + self.n_bins > other.n_bins:
            raise ValueError("this grid is not a sub-grid of other (use PriceGrid.extend to grow a grid)")
        return int(off)

    # -- serialisation ----------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-able description ``{"low", "high", "bins"}`` (rebuilt exactly by :meth:`from_dict`)."""
        return {"low": float(self.edges[0]), "high": float(self.edges[-1]), "bins": self.n_bins}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PriceGrid:
        """Inverse of :meth:`to_dict`."""
        return cls.log_spaced(float(data["low"]), float(data["high"]), int(data["bins"]))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PriceGrid):
            return NotImplemented
        return self.edges.shape == other.edges.shape and bool(np.array_equal(self.edges, other.edges))

    def __hash__(self) -> int:
        return hash((self.n_bins, float(self.edges[0]), float(self.edges[-1])))

    def __repr__(self) -> str:
        return (
            f"PriceGrid({self.n_bins} bins, {self.edges[0]:,.6g}–{self.edges[-1]:,.6g}, "
            f"step {100 * math.expm1(self.log_step):.3g} %)"
        )
