"""Liquidation cascades: how far a price shock travels once the liquidations it triggers hit the book.

Liquidations are forced market orders. A shock ``ε`` (relative price move; ε < 0 down, ε > 0 up) crosses the
liquidation levels between the price ``P`` and ``P·(1 + ε)``; their notional ``Q`` is sold (longs) or bought
(shorts) at market and moves the price further by ``impact(Q)``, which crosses more levels. The final move is the
smallest fixed point

    ``|d*| = |ε| + impact(liq(|d*|))``

where ``liq(m)`` is the reachable notional of the liquidated side within a move ``m`` of price (longs between
``P·(1 − m)`` and ``P``, shorts between ``P`` and ``P·(1 + m)``; mass uniform in log-price inside each band).
``g(m) = |ε| + impact(liq(m))`` is non-decreasing, so iterating ``m ← g(m)`` from ``m = |ε|`` climbs
monotonically to the smallest fixed point (Tarski / Kleene): :func:`simulate_cascade`.

Impact (depth) models, both with a ``stress`` factor (depth multiplied by ``1/stress``):

* :class:`DepthCurve` — the notional the book absorbs within a relative move ``δ`` is ``C(δ) = c0·(δ/δ0)^γ``
  (γ ≈ 0.5–0.7 is reported for crypto and equity books), so a market order of notional ``Q`` moves the price by
  ``δ(Q) = δ0·(Q/c0)^(1/γ)``. γ = 1 is linear impact.
* :class:`SqrtImpact` — the square-root law ``δ(Q) = Y·σ·√(Q/V)`` with daily volatility σ and daily traded
  notional V (Y ≈ 0.5–1). In depth-curve terms this is γ = 2 (``Q = V·(δ/(Yσ))²``).

Examples
--------
>>> import numpy as np, pandas as pd
>>> from heatmap.result import Snapshot
>>> edges = np.geomspace(50.0, 150.0, 1001)
>>> long = np.where(edges[1:] <= 100.0, 1e6, 0.0)          # 1e6 [quote] per band below price
>>> snap = Snapshot(time=pd.Timestamp("2025-01-01", tz="UTC"), price_edges=edges, long=long,
...                 short=np.zeros(1000), price=100.0)
>>> res = simulate_cascade(snap, -0.02, depth=DepthCurve(c0=5e8, delta0=0.01, gamma=1.0))
>>> res.converged, bool(res.move < -0.02)
(True, True)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from heatmap.density import mass_between
from heatmap.result import Snapshot

if TYPE_CHECKING:
    from heatmap.market import Market

__all__ = [
    "CascadeResult",
    "DepthCurve",
    "ImpactModel",
    "SqrtImpact",
    "default_depth",
    "fragility_curve",
    "liquidated_within",
    "market_liquidity",
    "simulate_cascade",
]

DEFAULT_DEPTH_SHARE = 0.05
"""Default ±1 % depth as a share of the snapshot's total liquidation notional (both sides) [-]."""


@runtime_checkable
class ImpactModel(Protocol):
    """Anything with ``impact(notional) -> relative price move`` (non-decreasing, impact(0) = 0)."""

    def impact(self, notional: Any) -> Any: ...


def _positive(name: str, value: float, *, upper: float | None = None) -> None:
    if not (isinstance(value, (int, float, np.floating, np.integer)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    if upper is not None and value > upper:
        raise ValueError(f"{name} must be in (0, {upper}], got {value!r}")


def _daily_scales(market: Market, window: pd.Timedelta | str | None) -> tuple[float, float]:
    """Daily traded notional [quote] and daily log-return volatility [-] over the last ``window`` of bars."""
    frame = market.frame
    if window is not None:
        frame = frame.loc[frame.index >= frame.index[-1] - pd.Timedelta(window)]
    if "volume" not in frame.columns:
        raise ValueError("market has no 'volume' column [base]; give the depth model explicitly")
    if len(frame) < 3:
        raise ValueError(
            f"need at least 3 bars in the window to estimate volume and volatility, got {len(frame)}"
        )
    bars_per_day = pd.Timedelta(days=1) / market.freq
    notional = (frame["volume"] * frame["close"]).to_numpy(float)
    volume = float(np.mean(notional) * bars_per_day)
    rets = np.diff(np.log(frame["close"].to_numpy(float)))
    sigma = float(np.std(rets, ddof=1) * math.sqrt(bars_per_day))
    if not volume > 0:
        raise ValueError(f"market volume over the window is {volume!r}; cannot scale depth from it")
    if not sigma > 0:
        raise ValueError("market closes are constant over the window; cannot estimate volatility")
    return volume, sigma


def market_liquidity(market: Market, *, window: pd.Timedelta | str | None = "30D") -> dict[str, float]:
    """Daily traded notional ``V`` [quote] and daily volatility ``σ`` [-] of a market's last ``window``.

    ``V`` = mean over bars of ``volume·close`` × bars per day; ``σ`` = standard deviation of close-to-close log
    returns × √(bars per day). Needs the ``volume`` column [base].

    Examples
    --------
    >>> from heatmap.synthetic import synthetic_market
    >>> liq = market_liquidity(synthetic_market(days=10, freq="1h", seed=1))
    >>> sorted(liq)
    ['sigma', 'volume']
    """
    v, s = _daily_scales(market, window)
    return {"volume": v, "sigma": s}


@dataclass(frozen=True)
class DepthCurve:
    """Power-law order-book depth: notional absorbable within a relative move δ is ``c0·(δ/δ0)^γ / stress``.

    Parameters
    ----------
    c0 : float
        Notional absorbed by a move of ``delta0`` [quote], > 0.
    delta0 : float, default 0.01
        Reference move [fraction], in (0, 1].
    gamma : float, default 0.6
        Depth exponent [-], in (0, 2] (0.5–0.7 in published order-book studies; 1 is linear impact).
    stress : float, default 1
        Depth divided by ``stress`` [-], > 0 (2 = half the depth, e.g. books thinning in a sell-off).

    Examples
    --------
    >>> d = DepthCurve(c0=1e8, delta0=0.01, gamma=0.5)
    >>> round(d.impact(4e8), 6)            # 0.01 * 4**2
    0.16
    >>> round(float(d.depth(0.0025)), 1)    # inverse: 1e8 * 0.25**0.5
    50000000.0
    """

    c0: float
    delta0: float = 0.01
    gamma: float = 0.6
    stress: float = 1.0

    def __post_init__(self) -> None:
        _positive("c0", self.c0)
        _positive("delta0", self.delta0, upper=1.0)
        _positive("gamma", self.gamma, upper=2.0)
        _positive("stress", self.stress)

    def depth(self, delta: Any) -> Any:
        """Notional absorbable within a relative move ``delta`` [quote]."""
        d = np.asarray(delta, dtype=float)
        out = self.c0 / self.stress * (np.maximum(d, 0.0) / self.delta0) ** self.gamma
        return float(out) if out.ndim == 0 else out

    def impact(self, notional: Any) -> Any:
        """Relative price move [fraction] caused by a market order of ``notional`` [quote]."""
        q = np.asarray(notional, dtype=float)
        out = self.delta0 * (np.maximum(q, 0.0) * self.stress / self.c0) ** (1.0 / self.gamma)
        return float(out) if out.ndim == 0 else out

    def with_stress(self, stress: float) -> DepthCurve:
        """A copy with ``stress`` replaced."""
        return replace(self, stress=stress)

    @classmethod
    def from_market(
        cls,
        market: Market,
        *,
        gamma: float = 0.6,
        delta0: float = 0.01,
        book_share: float = 0.05,
        window: pd.Timedelta | str | None = "30D",
        stress: float = 1.0,
    ) -> DepthCurve:
        """A depth curve scaled on the market's traded volume.

        Assumption: the liquidity met within ``delta0`` of price during a cascade is ``book_share`` of a day's
        traded notional ``V`` (:func:`market_liquidity`), i.e. ``c0 = book_share · V``. The resting ±1 % book of
        large perpetuals is of the order of 1 % of daily volume (a few hundred million USD against tens of
        billions); a cascade lasts minutes, during which the book is refilled several times, hence the default
        effective 5 %. Use ``book_share=0.01`` for the instantaneous worst case, measured depth as ``c0`` when
        available, and ``stress`` > 1 for books that thin out in fast markets. These are assumptions, not
        measurements.

        Examples
        --------
        >>> from heatmap.synthetic import synthetic_market
        >>> m = synthetic_market(days=10, freq="1h", seed=1)
        >>> d = DepthCurve.from_market(m)
        >>> bool(np.isclose(d.c0, 0.05 * market_liquidity(m)["volume"]))
        True
        """
        _positive("book_share", book_share)
        volume, _ = _daily_scales(market, window)
        return cls(c0=book_share * volume, delta0=delta0, gamma=gamma, stress=stress)


@dataclass(frozen=True)
class SqrtImpact:
    """Square-root impact: a market order of notional ``Q`` moves the price by ``Y·σ·√(Q·stress/V)``.

    Parameters
    ----------
    Y : float
        Dimensionless prefactor [-], > 0 (≈ 0.5–1 empirically).
    sigma : float
        Daily volatility of log returns [-], > 0.
    volume : float
        Daily traded notional [quote], > 0.
    stress : float, default 1
        Depth divided by ``stress`` (equivalently volume) [-], > 0.

    Examples
    --------
    >>> round(SqrtImpact(Y=1.0, sigma=0.03, volume=1e10).impact(1e8), 6)   # 0.03 * sqrt(0.01)
    0.003
    """

    Y: float
    sigma: float
    volume: float
    stress: float = 1.0

    def __post_init__(self) -> None:
        _positive("Y", self.Y)
        _positive("sigma", self.sigma)
        _positive("volume", self.volume)
        _positive("stress", self.stress)

    def impact(self, notional: Any) -> Any:
        """Relative price move [fraction] caused by a market order of ``notional`` [quote]."""
        q = np.asarray(notional, dtype=float)
        out = self.Y * self.sigma * np.sqrt(np.maximum(q, 0.0) * self.stress / self.volume)
        return float(out) if out.ndim == 0 else out

    def with_stress(self, stress: float) -> SqrtImpact:
        """A copy with ``stress`` replaced."""
        return replace(self, stress=stress)

    @classmethod
    def from_market(
        cls, market: Market, *, Y: float = 1.0, window: pd.Timedelta | str | None = "30D", stress: float = 1.0
    ) -> SqrtImpact:
        """``σ`` and ``V`` from the market's last ``window`` (:func:`market_liquidity`); ``Y`` as given.

        The square-root law describes orders executed over the day against replenishing liquidity; a burst of
        forced market orders meets only the resting book, which is much thinner. Read it as the mild end of the
        range (cascades are rarely amplified under it) and :meth:`DepthCurve.from_market` as the instantaneous
        view.

        Examples
        --------
        >>> from heatmap.synthetic import synthetic_market
        >>> m = synthetic_market(days=10, freq="1h", seed=1)
        >>> s, liq = SqrtImpact.from_market(m), market_liquidity(m)
        >>> bool(np.isclose(s.impact(liq["volume"]), liq["sigma"]))   # a day's volume moves price by one sigma
        True
        """
        volume, sigma = _daily_scales(market, window)
        return cls(Y=Y, sigma=sigma, volume=volume, stress=stress)


def default_depth(snapshot: Snapshot) -> DepthCurve:
    """The depth used when none is given: ±1 % absorbs 5 % of the snapshot's liquidation notional.

    A scale-free placeholder (γ = 0.6, δ0 = 1 %, ``c0 = 0.05 × (long + short total)`` [quote]). Every open
    position has one liquidation level, so the total is about twice the open-interest notional, and with daily
    volume of one to two times that notional this matches :meth:`DepthCurve.from_market`'s 5 % of daily volume.
    It only sets an order of magnitude; prefer :meth:`DepthCurve.from_market` or measured book depth.
    """
    total = snapshot.total["long"] + snapshot.total["short"]
    if not total > 0:
        raise ValueError("snapshot holds no liquidation notional; give depth= explicitly")
    return DepthCurve(c0=DEFAULT_DEPTH_SHARE * total, delta0=0.01, gamma=0.6)


def liquidated_within(snapshot: Snapshot, move: float | np.ndarray) -> np.ndarray:
    """Notional liquidated by a price move ``move`` [quote].

    ``move < 0``: long notional between ``P·(1 + move)`` and ``P``; ``move > 0``: short notional between ``P`` and
    ``P·(1 + move)``. Inside a band, mass is uniform in log-price.

    Examples
    --------
    >>> s = Snapshot(time=pd.Timestamp("2025-01-01", tz="UTC"), price_edges=np.array([90.0, 100.0, 110.0]),
    ...              long=np.array([6.0, 0.0]), short=np.array([0.0, 4.0]), price=100.0)
    >>> liquidated_within(s, np.array([-0.1, 0.1])).tolist()
    [6.0, 4.0]
    """
    m = np.asarray(move, dtype=float)
    p = snapshot.price
    target = p * (1.0 + m)
    down = mass_between(snapshot.price_edges, snapshot.long, target, p)
    up = mass_between(snapshot.price_edges, snapshot.short, p, target)
    return np.where(m < 0, down, np.where(m > 0, up, 0.0))


@dataclass(frozen=True, eq=False)
class CascadeResult:
    """Outcome of :func:`simulate_cascade`.

    Attributes
    ----------
    shock : float
        Exogenous move ε [fraction].
    move : float
        Final move d* [fraction] (same sign as ε; ``±max_move`` when runaway).
    path : tuple of float
        Iterates of the move, from ε to d* [fraction].
    liquidated_long, liquidated_short : float
        Notional liquidated within d* [quote].
    amplification : float
        d*/ε [-] (NaN for ε = 0).
    converged : bool
        The residual ``|d*| − |ε| − impact(liq(d*))`` fell below ``tol`` (False when runaway).
    runaway : bool
        The cascade reached ``max_move``: the book (with this depth) does not stop it within the range.
    iterations : int
    residual : float
        ``|ε| + impact(liq(|d*|)) − |d*|`` at the final iterate [fraction].
    price : float
        Price before the shock [quote].
    depth : ImpactModel
        The impact model used.
    max_move : float
    """

    shock: float
    move: float
    path: tuple[float, ...]
    liquidated_long: float
    liquidated_short: float
    amplification: float
    converged: bool
    runaway: bool
    iterations: int
    residual: float
    price: float
    depth: Any = field(repr=False)
    max_move: float = 0.5

    def __post_init__(self) -> None:
        if not math.isfinite(self.shock) or not math.isfinite(self.move):
            raise ValueError(f"shock and move must be finite, got {self.shock!r}, {self.move!r}")
        if self.shock != 0 and np.sign(self.move) != np.sign(self.shock):
            raise ValueError(f"move {self.move!r} must have the sign of shock {self.shock!r}")

    @property
    def final_price(self) -> float:
        """Price after the cascade [quote]."""
        return self.price * (1.0 + self.move)

    @property
    def liquidated(self) -> float:
        """Total liquidated notional [quote]."""
        return self.liquidated_long + self.liquidated_short

    @property
    def status(self) -> str:
        if self.runaway:
            return f"RUNAWAY: reached max_move {self.max_move:.0%} after {self.iterations} iterations"
        if self.converged:
            return f"converged in {self.iterations} iterations"
        return f"NOT converged after {self.iterations} iterations (residual {self.residual:.2e})"

    def to_dict(self) -> dict[str, Any]:
        """Plain values (``path`` as a list, ``depth`` as its repr)."""
        out = {k: v for k, v in asdict(self).items() if k != "depth"}
        out["path"] = list(self.path)
        out["depth"] = repr(self.depth)
        out["final_price"] = self.final_price
        return out

    def __repr__(self) -> str:
        side = "long" if self.shock < 0 else "short"
        liq = self.liquidated_long if self.shock < 0 else self.liquidated_short
        amp = "n/a" if math.isnan(self.amplification) else f"x{self.amplification:.2f}"
        return (
            f"CascadeResult(shock {self.shock:+.2%} -> move {self.move:+.2%} ({amp}), "
            f"price {self.price:,.2f} -> {self.final_price:,.2f}, liquidated {side} {liq:,.0f} [quote]; "
            f"{self.status})"
        )


def simulate_cascade(
    snapshot: Snapshot,
    shock: float,
    *,
    depth: ImpactModel | None = None,
    max_move: float = 0.5,
    tol: float = 1e-6,
    max_iter: int = 200,
) -> CascadeResult:
    """Final move of a price shock once the liquidations it triggers are executed against the book.

    Parameters
    ----------
    snapshot : Snapshot
        Liquidation map (longs below price liquidate on the way down, shorts above on the way up).
    shock : float
        Exogenous relative move ε [fraction], with ``|ε| < max_move`` (negative: down, longs liquidate).
    depth : DepthCurve, SqrtImpact or ImpactModel, optional
        Impact model; default :func:`default_depth` (a rough scale-free placeholder).
    max_move : float, default 0.5
        Largest move considered [fraction], in (0, 1); reaching it is reported as a runaway.
    tol : float, default 1e-6
        Convergence tolerance on the fixed-point residual [fraction].
    max_iter : int, default 200

    Returns
    -------
    CascadeResult

    Examples
    --------
    >>> s = Snapshot(time=pd.Timestamp("2025-01-01", tz="UTC"), price_edges=np.geomspace(50, 150, 501),
    ...              long=np.zeros(500), short=np.zeros(500) + 1.0, price=100.0)
    >>> simulate_cascade(s, -0.03, depth=DepthCurve(c0=1e6)).move   # no longs: no amplification
    -0.03
    """
    if not math.isfinite(shock):
        raise ValueError(f"shock must be a finite relative move, got {shock!r}")
    if not (math.isfinite(max_move) and 0 < max_move < 1):
        raise ValueError(f"max_move must be a fraction in (0, 1), got {max_move!r}")
    if abs(shock) >= max_move:
        raise ValueError(f"|shock| must be below max_move={max_move}, got shock={shock!r}")
    if not (math.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a positive number, got {tol!r}")
    if int(max_iter) != max_iter or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    model = default_depth(snapshot) if depth is None else depth
    if not isinstance(model, ImpactModel):
        raise TypeError(f"depth must have an impact(notional) method, got {type(model).__name__}")
    sign = -1.0 if shock < 0 else 1.0
    eps = abs(shock)

    def g(m: float) -> float:
        return eps + float(model.impact(float(liquidated_within(snapshot, sign * m))))

    m = eps
    path = [m]
    converged = runaway = False
    residual = 0.0
    iterations = 0
    if eps == 0:
        converged = True
    else:
        for iterations in range(1, int(max_iter) + 1):  # noqa: B007
            gm = g(m)
            residual = gm - m
            if residual <= tol:
                converged = True
                break
            if gm >= max_move:
                m = max_move
                path.append(m)
                runaway = True
                residual = g(m) - m
                break
            m = gm
            path.append(m)
    liq = float(liquidated_within(snapshot, sign * m)) if m > 0 else 0.0
    move = sign * m
    return CascadeResult(
        shock=float(shock),
        move=float(move),
        path=tuple(float(sign * x) for x in path),
        liquidated_long=liq if sign < 0 else 0.0,
        liquidated_short=liq if sign > 0 else 0.0,
        amplification=float(move / shock) if shock != 0 else float("nan"),
        converged=converged,
        runaway=runaway,
        iterations=iterations,
        residual=float(residual),
        price=float(snapshot.price),
        depth=model,
        max_move=float(max_move),
    )


FRAGILITY_COLUMNS = (
    "shock",
    "final_move",
    "liquidated_long",
    "liquidated_short",
    "amplification",
    "runaway",
    "converged",
)


def fragility_curve(
    snapshot: Snapshot,
    shocks: Any = None,
    *,
    depth: ImpactModel | None = None,
    max_move: float = 0.5,
    tol: float = 1e-6,
    max_iter: int = 200,
) -> pd.DataFrame:
    """:func:`simulate_cascade` over a range of shocks.

    Parameters
    ----------
    snapshot : Snapshot
    shocks : array-like, optional
        Relative moves [fraction]; default ``±(0.5 %, 1 %, …, 10 %)`` (40 shocks).
    depth, max_move, tol, max_iter
        As in :func:`simulate_cascade` (the default depth is computed once).

    Returns
    -------
    DataFrame
        ``shock, final_move`` [fraction], ``liquidated_long, liquidated_short`` [quote], ``amplification`` [-],
        ``runaway``, ``converged`` (bool); one row per shock, sorted by shock.

    Examples
    --------
    >>> s = Snapshot(time=pd.Timestamp("2025-01-01", tz="UTC"), price_edges=np.geomspace(50, 150, 501),
    ...              long=np.ones(500), short=np.ones(500), price=100.0)
    >>> fragility_curve(s, [-0.02, 0.02], depth=DepthCurve(c0=1e3)).shape
    (2, 7)
    """
    if shocks is None:
        grid = np.arange(1, 21) * 0.005
        shocks = np.concatenate([-grid[::-1], grid])
    arr = np.sort(np.asarray(shocks, dtype=float).ravel())
    model = default_depth(snapshot) if depth is None else depth
    rows = []
    for eps in arr:
        r = simulate_cascade(snapshot, float(eps), depth=model, max_move=max_move, tol=tol, max_iter=max_iter)
        rows.append(
            (r.shock, r.move, r.liquidated_long, r.liquidated_short, r.amplification, r.runaway, r.converged)
        )
    frame = pd.DataFrame(rows, columns=list(FRAGILITY_COLUMNS))
    return frame.astype({"runaway": bool, "converged": bool})
