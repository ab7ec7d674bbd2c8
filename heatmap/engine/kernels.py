"""Liquidation-price kernels on the log-price grid, computed exactly from a leverage distribution's CDF.

For a fresh isolated linear position (Binance USDⓈ-M form) with margin fraction ``u = 1/L`` and the bracket
``(m, cum = 0)`` of a small position, the liquidation price is a fixed multiple of the entry price:

* long:  ``LP / E = k_long(u)  = (1 - u) / (1 - m)``  (``u >= 1``, i.e. ``L <= 1``: never liquidated);
* short: ``LP / E = k_short(u) = (1 + u) / (1 + m)``.

So ``y = log(LP/E)`` has a distribution that does not depend on ``E``, with CDF

* long:  ``G(y) = P(L <= 1 / (1 - (1 - m) e^y))`` (``= 1`` when ``(1 - m) e^y >= 1``),
* short: ``G(y) = P(1/L <= (1 + m) e^y - 1)``,

both read off :meth:`Leverage.cdf` / :meth:`Leverage.margin_fraction_cdf` without ever evaluating a density.

Inverse (coin-margined, Binance COIN-M form: face value ``Q`` [USD], margin ``Q u / E`` and maintenance
``m Q / P - cum`` [coin]) positions have ratios that are again independent of ``E``:

* long:  ``LP / E = (1 + m) / (1 + u + c)`` (always > 0: the collateral falls with the price),
* short: ``LP / E = (1 - m) / (1 - u - c)`` (``u + c >= 1``, e.g. ``L <= 1``: never liquidated),

with ``c = cum E / Q`` the maintenance amount over the coin notional at entry, so

* long:  ``G(y) = P(L <= 1 / ((1 + m) e^-y - 1 - c))`` (``= 1`` when ``(1 + m) e^-y <= 1 + c``),
* short: ``G(y) = P(1/L <= 1 - c - (1 - m) e^-y)`` (tends to ``P(u < 1 - c) <= 1``: the rest is never liquidated).
On a grid of log step ``h``, an entry at fractional bin coordinate ``j + theta`` puts the mass
``G((o + 1 - theta) h) - G((o - theta) h)`` into the bin ``j + o``. :func:`build_kernel` tabulates that for
``theta = s / S`` (``s = 0 … S-1``): entries are placed to within ``h / (2 S)`` of their price, and the table is
the same at every entry bin.

Examples
--------
>>> from heatmap.leverage import Leverage
>>> k = build_kernel(Leverage.tiers({10: 1.0}), "long", mmr=0.004, log_step=0.01, span=200)
>>> o = int(k.weights[0].argmax()) + k.offset          # bin offset of the 10x level for an entry at a bin edge
>>> import math
>>> o == math.floor(math.log(0.9 / 0.996) / 0.01)
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from heatmap.leverage import Leverage

__all__ = ["DEFAULT_SUBBINS", "Kernel", "build_kernel", "combine_kernels", "lp_ratio", "lp_ratio_cdf"]

#: Sub-bin positions per bin at which point entries are resolved (entries land within ``h / (2 S)``).
DEFAULT_SUBBINS = 32


def lp_ratio_cdf(
    leverage: Leverage,
    side: Literal["long", "short"],
    mmr: float,
    y: NDArray[np.float64],
    cum_ratio: float = 0.0,
    *,
    contract: Literal["linear", "inverse"] = "linear",
) -> NDArray[np.float64]:
    """``P(log(LP/E) <= y)`` over positions that *can* be liquidated plus, for linear longs, those that never can.

    For linear longs the value at ``y -> -inf`` is ``P(L <= 1)``: the never-liquidated mass (kept off the grid).
    For inverse shorts the value at ``y -> +inf`` is ``P(u < 1 - cum_ratio)``: the rest is never liquidated.

    Parameters
    ----------
    leverage : Leverage
        Leverage distribution [dimensionless].
    side : {"long", "short"}
    mmr : float
        Maintenance-margin rate [fraction] of the bracket.
    y : ndarray
        Log price ratios.
    cum_ratio : float, default 0
        ``cum / N``: the bracket's maintenance amount over the position's entry notional in the bracket's unit
        ([quote] linear, [coin] inverse; 0 for small positions).
    contract : {"linear", "inverse"}, default "linear"
        Liquidation-price form (see the module docstring).

    Examples
    --------
    >>> from heatmap.leverage import Leverage
    >>> lev = Leverage.tiers({10: 0.5, 20: 0.5})
    >>> y = np.log(np.array([0.9, 0.95, 0.96]) / 0.996)
    >>> lp_ratio_cdf(lev, "long", 0.004, y).tolist()   # 10x at 0.9/0.996, 20x at 0.95/0.996
    [0.5, 1.0, 1.0]
    >>> y = np.log(np.array([1.004 / 1.1, 1.004 / 1.05, 1.0]))
    >>> lp_ratio_cdf(lev, "long", 0.004, y, contract="inverse").tolist()  # inverse: 10x at 1.004/1.1
    [0.5, 1.0, 1.0]
    """
    y = np.asarray(y, dtype=np.float64)
    if contract == "inverse":
        return _inverse_cdf(leverage, side, mmr, y, cum_ratio)
    if contract != "linear":
        raise ValueError(f"contract must be 'linear' or 'inverse', got {contract!r}")
    if side == "long":
        v = 1.0 - cum_ratio - (1.0 - mmr) * np.exp(y)
        pos = v > 0
        lev = np.divide(1.0, v, out=np.full(y.shape, np.inf), where=pos)
        # exact atoms: 1/v may round just below a tier leverage; nudge by a relative 1e-12
        out = np.where(pos, leverage.cdf(lev * (1.0 + 1e-12)), 1.0)
        return np.asarray(out, dtype=np.float64)
    if side == "short":
        u = (1.0 + mmr) * np.exp(y) - 1.0 - cum_ratio
        return np.asarray(leverage.margin_fraction_cdf(u * (1.0 + 1e-12)), dtype=np.float64)
    raise ValueError(f"side must be 'long' or 'short', got {side!r}")


def _inverse_cdf(
    leverage: Leverage, side: str, mmr: float, y: NDArray[np.float64], cum_ratio: float
) -> NDArray[np.float64]:
    if side == "long":
        # LP/E <= e^y  <=>  1 + u + c >= (1 + m) e^-y  <=>  L <= 1/v with v = (1 + m) e^-y - 1 - c
        v = (1.0 + mmr) * np.exp(-y) - 1.0 - cum_ratio
        pos = v > 0
        lev = np.divide(1.0, v, out=np.full(y.shape, np.inf), where=pos)
        out = np.where(pos, leverage.cdf(lev * (1.0 + 1e-12)), 1.0)
        return np.asarray(out, dtype=np.float64)
    if side == "short":
        # LP/E <= e^y  <=>  1 - u - c >= (1 - m) e^-y  <=>  u <= 1 - c - (1 - m) e^-y
        w = 1.0 - cum_ratio - (1.0 - mmr) * np.exp(-y)
        # u = 1 - c itself is never liquidated (LP infinite), even where w rounds to 1 - c
        w = np.minimum(w * (1.0 + 1e-12), (1.0 - cum_ratio) * (1.0 - 1e-12))
        return np.asarray(leverage.margin_fraction_cdf(w), dtype=np.float64)
    raise ValueError(f"side must be 'long' or 'short', got {side!r}")


def lp_ratio(
    leverage: NDArray[np.float64] | float,
    side: Literal["long", "short"],
    mmr: float,
    cum_ratio: float = 0.0,
    *,
    contract: Literal["linear", "inverse"] = "linear",
) -> NDArray[np.float64]:
    """``LP / E`` of fresh isolated positions at ``leverage`` (``nan`` where they can never be liquidated).

    Linear: ``(1 - u - c)/(1 - m)`` (long), ``(1 + u + c)/(1 + m)`` (short); inverse: ``(1 + m)/(1 + u + c)``
    (long), ``(1 - m)/(1 - u - c)`` (short), with ``u = 1/L`` and ``c`` = ``cum_ratio``.

    Examples
    --------
    >>> lp_ratio(np.array([1.0, 10.0]), "long", 0.0).tolist(), lp_ratio(2.0, "short", 0.0, contract="inverse")
    ([nan, 0.9], array(2.))
    """
    u = 1.0 / np.asarray(leverage, dtype=np.float64)
    if contract == "linear":
        k = (1.0 - u - cum_ratio) / (1.0 - mmr) if side == "long" else (1.0 + u + cum_ratio) / (1.0 + mmr)
    elif contract == "inverse":
        if side == "long":
            k = (1.0 + mmr) / (1.0 + u + cum_ratio)
        else:
            den = 1.0 - u - cum_ratio
            k = np.divide(1.0 - mmr, den, out=np.full(np.shape(den), np.nan), where=den > 0)
    else:
        raise ValueError(f"contract must be 'linear' or 'inverse', got {contract!r}")
    return np.where(k > 0, k, np.nan)


@dataclass(frozen=True, eq=False)
class Kernel:
    """Bin masses (and within-bin first and second moments) of the liquidation price relative to the entry bin.

    Attributes
    ----------
    weights : ndarray, shape (S, n)
        ``weights[s, t]`` is the share of positions entered at bin coordinate ``j + s/S`` whose liquidation
        price lies in bin ``j + offset + t``.
    moments : ndarray, shape (S, n)
        First moment of that mass in bin units from the bin's lower edge (``moments / weights`` is the mean
        position inside the bin, in [0, 1]).
    moments2 : ndarray, shape (S, n)
        Second moment of that mass about the bin's lower edge [bin units squared] (the spread inside the bin, which
        funding shifts carry; see :func:`heatmap.engine.steps.profile`).
    uniform, moments_uniform, moments2_uniform : ndarray, shape (n,)
        The same for entries spread uniformly (in log-price) over the entry bin (averages of the ``S`` rows).
    offset : int
        Bin offset of column 0.
    never : float
        Share that can never be liquidated (linear longs, inverse shorts at leverage <= 1).
    cumw, cumu : ndarray
        Prefix sums of ``weights`` (per row, leading 0) and ``uniform`` for O(1) off-grid accounting.
    atoms, atom_weights : ndarray or None
        For discrete leverage laws: liquidation-price offsets ``log(LP/E) / h`` [bins] of the liquidable atoms and
        their probabilities, used to place point entries exactly.
    """

    weights: NDArray[np.float64]
    moments: NDArray[np.float64]
    moments2: NDArray[np.float64]
    uniform: NDArray[np.float64]
    moments_uniform: NDArray[np.float64]
    moments2_uniform: NDArray[np.float64]
    offset: int
    never: float
    cumw: NDArray[np.float64]
    cumu: NDArray[np.float64]
    atoms: NDArray[np.float64] | None = None
    atom_weights: NDArray[np.float64] | None = None

    @classmethod
    def from_tables(
        cls,
        weights: NDArray[np.float64],
        moments: NDArray[np.float64],
        moments2: NDArray[np.float64],
        offset: int,
        never: float,
        atoms: NDArray[np.float64] | None = None,
        atom_weights: NDArray[np.float64] | None = None,
    ) -> Kernel:
        """The kernel of these ``(S, n)`` tables, with its uniform-entry rows and prefix sums derived from them."""
        uni = weights.mean(axis=0)
        return cls(
            weights=weights,
            moments=moments,
            moments2=moments2,
            uniform=uni,
            moments_uniform=moments.mean(axis=0),
            moments2_uniform=moments2.mean(axis=0),
            offset=int(offset),
            never=never,
            cumw=np.concatenate([np.zeros((weights.shape[0], 1)), np.cumsum(weights, axis=1)], axis=1),
            cumu=np.concatenate([[0.0], np.cumsum(uni)]),
            atoms=atoms,
            atom_weights=atom_weights,
        )

    @property
    def subbins(self) -> int:
        """``S``."""
        return int(self.weights.shape[0])


def _atoms(
    leverage: Leverage,
    side: str,
    mmr: float,
    h: float,
    cum_ratio: float = 0.0,
    contract: str = "linear",
) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
    nodes, w = leverage.discretize()
    nodes, w = np.asarray(nodes, dtype=np.float64), np.asarray(w, dtype=np.float64)
    if contract == "inverse":
        k = lp_ratio(nodes, side, mmr, cum_ratio, contract="inverse")  # type: ignore[arg-type]
        ok = np.isfinite(k)
        return np.log(k[ok]) / h, w[ok], float(w[~ok].sum())
    if side == "long":
        k = (1.0 - 1.0 / nodes - cum_ratio) / (1.0 - mmr)
        ok = k > 0
        never = float(w[~ok].sum())
        return np.log(k[ok]) / h, w[ok], never
    k = (1.0 + 1.0 / nodes + cum_ratio) / (1.0 + mmr)
    return np.log(k) / h, w, 0.0


def build_kernel(
    leverage: Leverage,
    side: Literal["long", "short"],
    *,
    mmr: float,
    log_step: float,
    span: int,
    subbins: int = DEFAULT_SUBBINS,
    cum_ratio: float = 0.0,
    contract: Literal["linear", "inverse"] = "linear",
) -> Kernel:
    """Tabulate the liquidation-price kernel of one side on a grid of log step ``log_step``.

    Bin masses are CDF differences (:func:`lp_ratio_cdf`); within-bin first and second moments come from the same
    CDF on a lattice of ``S`` points per bin (``moment = mass - integral of (G - G(bin start))``,
    ``second = mass - 2 × integral of u (G - G(bin start))``, trapezoid rule).
    Discrete laws are tabulated from their atoms exactly.

    Parameters
    ----------
    leverage : Leverage
        Leverage distribution (already truncated at the schedule's max leverage).
    side : {"long", "short"}
    mmr : float
        Maintenance-margin rate [fraction] (first bracket: positions too small for ``cum`` to matter).
    log_step : float
        Grid log step ``h``.
    span : int
        Offsets beyond ``±span`` bins are not tabulated (they are off any grid of ``span - 1`` bins); their mass
        counts as off-grid.
    subbins : int, default 32
        ``S``, sub-bin entry positions.
    cum_ratio : float, default 0
        ``cum / N`` of the bracket for positions of entry notional ``N`` (see :func:`lp_ratio_cdf`).
    contract : {"linear", "inverse"}, default "linear"
        Liquidation-price form (see the module docstring).

    Returns
    -------
    Kernel
    """
    if side not in ("long", "short"):
        raise ValueError(f"side must be 'long' or 'short', got {side!r}")
    if not (0.0 <= mmr < 1.0):
        raise ValueError(f"mmr must be in [0, 1), got {mmr!r}")
    if not (math.isfinite(log_step) and log_step > 0):
        raise ValueError(f"log_step must be > 0, got {log_step!r}")
    if contract not in ("linear", "inverse"):
        raise ValueError(f"contract must be 'linear' or 'inverse', got {contract!r}")
    h, S = float(log_step), int(subbins)
    theta = np.arange(S) / S
    atoms: NDArray[np.float64] | None
    atom_w: NDArray[np.float64] | None
    if leverage.is_discrete:
        y, wa, never = _atoms(leverage, side, mmr, h, cum_ratio, contract)
        keep = (y > -span) & (y < span)
        y, wa = y[keep], wa[keep]
        if y.size == 0:
            y, wa = np.zeros(1), np.zeros(1)
        pos = theta[:, None] + y[None, :]
        o = np.floor(pos).astype(np.int64)
        o_lo, o_hi = int(o.min()), int(o.max())
        n = o_hi - o_lo + 1
        w = np.zeros((S, n))
        z = np.zeros((S, n))
        rows = np.repeat(np.arange(S), y.size)
        cols = (o - o_lo).ravel()
        np.add.at(w, (rows, cols), np.tile(wa, S))
        np.add.at(z, (rows, cols), np.tile(wa, S) * (pos - o).ravel())
        z2 = np.zeros((S, n))
        np.add.at(z2, (rows, cols), np.tile(wa, S) * ((pos - o) ** 2).ravel())
        atoms, atom_w = y, wa
    else:
        if contract == "inverse":
            o_lo, o_hi, never = _inverse_bounds(leverage, side, mmr, h, span, cum_ratio)
        elif side == "long":
            top = -math.log1p(-mmr)  # log k_long at u = 0
            o_lo, o_hi = -span, math.floor(top / h) + 1
            u_max = 1.0 / leverage.min_leverage
            if u_max + cum_ratio < 1.0:
                lowest = math.log((1.0 - u_max - cum_ratio) / (1.0 - mmr))
                o_lo = max(o_lo, math.floor(lowest / h) - 1)
        else:
            bottom = math.log((1.0 + 1.0 / leverage.max_leverage + cum_ratio) / (1.0 + mmr))
            o_lo = math.floor(bottom / h) - 1
            o_hi = max(o_lo + 1, min(span, math.ceil(math.log((2.0 + cum_ratio) / (1.0 + mmr)) / h) + 1))
        if contract == "linear":
            never = (
                float(lp_ratio_cdf(leverage, "long", mmr, np.array([-np.inf]), cum_ratio)[0])
                if side == "long"
                else 0.0
            )
        n = o_hi - o_lo + 1
        # G on the fine lattice v = m / S (bin units, relative to the entry bin's lower edge)
        m0 = o_lo * S - (S - 1)
        m = np.arange(m0, (o_hi + 1) * S + 1)
        Gf = lp_ratio_cdf(
            leverage, side, mmr, np.asarray(m * (h / S), dtype=np.float64), cum_ratio, contract=contract
        )
        trap = np.concatenate([[0.0], np.cumsum(0.5 * (Gf[1:] + Gf[:-1]) / S)])
        # the same for v G (lattice index k: v = k / S), for the second moments
        vG = (np.arange(Gf.size) / S) * Gf
        trap1 = np.concatenate([[0.0], np.cumsum(0.5 * (vG[1:] + vG[:-1]) / S)])
        # row s (entry at j + s/S): bin o of the LP spans v in [o, o + 1) -> lattice m in [o S - s, o S - s + S]
        a = (np.arange(o_lo, o_hi + 1)[None, :] * S - np.arange(S)[:, None]) - m0
        b = a + S
        w = Gf[b] - Gf[a]
        z = w - ((trap[b] - trap[a]) - Gf[a])
        # int_0^1 u^2 dG = w - 2 int_0^1 u (G - G(start)) du, u = v - a / S the position inside the bin
        first = (trap1[b] - trap1[a]) - (a / S) * (trap[b] - trap[a])
        z2 = w - 2.0 * (first - 0.5 * Gf[a])
        w = np.clip(w, 0.0, None)
        z = np.clip(z, 0.0, w)
        z2 = np.clip(z2, np.divide(z * z, w, out=np.zeros_like(w), where=w > 0), z)
        atoms, atom_w = None, None
    # trim columns that carry no mass (tiers give a kernel of a few bins)
    nz = np.flatnonzero(w.max(axis=0) > 0.0)
    if nz.size:
        w, z, z2 = w[:, nz[0] : nz[-1] + 1], z[:, nz[0] : nz[-1] + 1], z2[:, nz[0] : nz[-1] + 1]
        o_lo += int(nz[0])
    return Kernel.from_tables(w, z, z2, int(o_lo), never, atoms, atom_w)


def _inverse_bounds(
    leverage: Leverage, side: str, mmr: float, h: float, span: int, c: float
) -> tuple[int, int, float]:
    """Offset range ``(o_lo, o_hi)`` [bins] holding an inverse kernel's mass, and its never-liquidated share."""
    u_min = 1.0 / leverage.max_leverage
    u_max = 1.0 / leverage.min_leverage
    if side == "long":  # LP/E = (1 + m)/(1 + u + c) falls with u
        top = math.log((1.0 + mmr) / (1.0 + u_min + c))
        lowest = math.log((1.0 + mmr) / (1.0 + u_max + c)) if math.isfinite(u_max) else -math.inf
        o_hi = min(span, math.floor(top / h) + 1)
        o_lo = max(-span, math.floor(lowest / h) - 1) if math.isfinite(lowest) else -span
        return min(o_lo, o_hi - 1), o_hi, 0.0
    # short: LP/E = (1 - m)/(1 - u - c) rises with u, without bound as u -> 1 - c
    never = 1.0 - float(leverage.margin_fraction_cdf(np.array([(1.0 - c) * (1.0 - 1e-12)]))[0])
    if u_min + c >= 1.0:  # nothing can be liquidated
        return 0, 1, never
    bottom = math.log((1.0 - mmr) / (1.0 - u_min - c))
    o_lo = max(-span, math.floor(bottom / h) - 1)
    if u_max + c < 1.0:
        o_hi = min(span, math.ceil(math.log((1.0 - mmr) / (1.0 - u_max - c)) / h) + 1)
    else:
        o_hi = span
    return o_lo, max(o_lo + 1, o_hi), never


def combine_kernels(parts: list[tuple[float, Kernel]]) -> Kernel:
    """The mixture ``sum w_i K_i`` of kernels on the same grid (e.g. one per position-size node).

    Examples
    --------
    >>> from heatmap.leverage import Leverage
    >>> a = build_kernel(Leverage.tiers({10: 1.0}), "long", mmr=0.004, log_step=0.01, span=100)
    >>> b = build_kernel(Leverage.tiers({20: 1.0}), "long", mmr=0.01, log_step=0.01, span=100)
    >>> k = combine_kernels([(0.5, a), (0.5, b)])
    >>> float(k.weights[0].sum()), len(k.atoms)
    (1.0, 2)
    """
    if len(parts) == 1 and parts[0][0] == 1.0:
        return parts[0][1]
    lo = min(k.offset for _, k in parts)
    hi = max(k.offset + k.weights.shape[1] for _, k in parts)
    S = parts[0][1].weights.shape[0]
    w = np.zeros((S, hi - lo))
    z = np.zeros((S, hi - lo))
    z2 = np.zeros((S, hi - lo))
    for wt, k in parts:
        a = k.offset - lo
        w[:, a : a + k.weights.shape[1]] += wt * k.weights
        z[:, a : a + k.weights.shape[1]] += wt * k.moments
        z2[:, a : a + k.weights.shape[1]] += wt * k.moments2
    never = float(sum(wt * k.never for wt, k in parts))
    atoms: NDArray[np.float64] | None = None
    atom_w: NDArray[np.float64] | None = None
    if all(k.atoms is not None and k.atom_weights is not None for _, k in parts):
        atoms = np.concatenate([np.asarray(k.atoms) for _, k in parts])
        atom_w = np.concatenate([wt * np.asarray(k.atom_weights) for wt, k in parts])
    return Kernel.from_tables(w, z, z2, int(lo), never, atoms, atom_w)
