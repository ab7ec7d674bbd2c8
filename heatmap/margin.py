"""Exact liquidation-price formulas of perpetual-futures venues, vectorised with numpy broadcasting.

Notation used throughout (see ``docs/margin.md`` for derivations and sources):

* ``s`` side sign, +1 for a long position, -1 for a short one (:func:`side_sign`);
* ``Q`` absolute position size: base quantity [base] for linear contracts, USD notional [USD] for inverse ones;
* ``EP`` entry price [quote]; ``L`` selected leverage [-]; ``MMR`` maintenance-margin rate [fraction];
* ``cum`` maintenance amount of the bracket ("quick-calculation amount"; [quote] linear, [coin] inverse);
* ``WB`` wallet balance backing the position (isolated: the position's margin).

The maintenance margin of Binance-style schedules is ``MM(N) = N * MMR(N) - cum(N)`` where ``N`` is the position
notional *at the mark price*; with continuous ``cum`` this is the upper envelope of the bracket lines, so the bracket
that applies at liquidation is the one containing the liquidation notional ``LP * Q`` (linear) or ``Q / LP``
(inverse). :func:`liquidation_price` finds it the way Binance documents: compute the price for every bracket and keep
the first that is consistent with its own notional.

Conventions: a long position whose liquidation price would be <= 0 can never be liquidated and gets ``0.0``; a short
position that can never be liquidated (inverse contracts at leverage <= 1) gets ``inf``. Scalar inputs give a
``float``, array inputs an ``ndarray`` of the broadcast shape.

Examples
--------
>>> from heatmap.margin import liquidation_price
>>> round(liquidation_price(20_000.0, 50, "long", mmr=0.004), 2)
19678.71
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:
    from heatmap.exchanges import MarginSchedule

__all__ = [
    "bankruptcy_price",
    "bybit_liquidation_price",
    "cross_liquidation_price",
    "funding_shift",
    "gate_liquidation_price",
    "hyperliquid_liquidation_price",
    "initial_margin",
    "inverse_funding_shift",
    "inverse_liquidation_price",
    "liquidation_from_bankruptcy",
    "liquidation_price",
    "maintenance_margin",
    "okx_liquidation_price",
    "side_sign",
]

Contract = Literal["linear", "inverse"]
FloatOrArray = Any  # float for scalar inputs, NDArray[np.float64] otherwise

_DEFAULT_MMR = 0.004
_CONTRACTS = ("linear", "inverse")


# --------------------------------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------------------------------


def side_sign(side: ArrayLike) -> NDArray[np.float64]:
    """Convert position sides to numbers: ``+1.0`` for long, ``-1.0`` for short.

    Parameters
    ----------
    side : str, int, float or array-like of those
        ``"long"``/``"short"`` (case-insensitive) or ``+1``/``-1``.

    Returns
    -------
    ndarray of float
        Same shape as ``side`` (0-d for a scalar), values in {+1, -1}.

    Raises
    ------
    ValueError
        If any element is not one of the allowed values.

    Examples
    --------
    >>> side_sign(["long", "short", 1, -1]).tolist()
    [1.0, -1.0, 1.0, -1.0]
    """
    arr = np.asarray(side)
    if arr.dtype.kind == "U" and isinstance(side, (list, tuple)):
        arr = np.array(side, dtype=object)  # keep mixed ["long", -1] elements as given
    if arr.dtype.kind == "O" and all(isinstance(x, str) for x in arr.ravel()):
        arr = arr.astype(str)
    if arr.dtype.kind == "U":
        key = np.char.lower(np.char.strip(arr))
        out = np.select([key == "long", key == "short"], [1.0, -1.0], default=np.nan)
        bad = np.isnan(out)
        if np.any(bad):
            raise ValueError(
                f"side: got {arr[bad].ravel()[0].item()!r}; allowed are 'long', 'short', +1 or -1"
            )
        return out
    if arr.dtype.kind in "SO":
        flat = arr.ravel()
        res = np.empty(flat.shape, dtype=np.float64)
        for i, item in enumerate(flat):
            res[i] = _one_side(item)
        return res.reshape(arr.shape)
    if arr.dtype.kind in "iuf":
        vals = arr.astype(np.float64)
        bad = ~np.isin(vals, (1.0, -1.0))
        if np.any(bad):
            raise ValueError(
                f"side: got {arr[bad].ravel()[0].item()!r}; allowed are 'long', 'short', +1 or -1"
            )
        return vals
    if arr.dtype.kind == "b":
        raise ValueError("side: got a boolean; allowed are 'long', 'short', +1 or -1")
    raise ValueError(f"side: got {side!r}; allowed are 'long', 'short', +1 or -1")


def _one_side(item: object) -> float:
    if isinstance(item, str):
        key = item.strip().lower()
        if key == "long":
            return 1.0
        if key == "short":
            return -1.0
    elif isinstance(item, (int, float, np.integer, np.floating)) and not isinstance(item, (bool, np.bool_)):
        if item == 1:
            return 1.0
        if item == -1:
            return -1.0
    raise ValueError(f"side: got {item!r}; allowed are 'long', 'short', +1 or -1")


def _out(x: NDArray[np.float64]) -> FloatOrArray:
    return float(x) if np.ndim(x) == 0 else x


def _as_float(name: str, value: ArrayLike) -> NDArray[np.float64]:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: got {value!r}; expected a number or array of numbers") from exc
    if np.any(np.isnan(arr)):
        raise ValueError(f"{name}: contains NaN; expected finite numbers")
    return arr


def _positive(name: str, value: ArrayLike, *, allow_inf: bool = False) -> NDArray[np.float64]:
    arr = _as_float(name, value)
    bad = ~(arr > 0) | (~np.isfinite(arr) if not allow_inf else np.zeros(arr.shape, bool))
    if np.any(bad):
        raise ValueError(f"{name}: got {float(arr[bad].ravel()[0])!r}; must be > 0 and finite")
    return arr


def _nonneg(name: str, value: ArrayLike) -> NDArray[np.float64]:
    arr = _as_float(name, value)
    bad = ~(arr >= 0) | ~np.isfinite(arr)
    if np.any(bad):
        raise ValueError(f"{name}: got {float(arr[bad].ravel()[0])!r}; must be >= 0 and finite")
    return arr


def _mmr(value: ArrayLike | None) -> NDArray[np.float64]:
    """The maintenance-margin rate; ``None`` (not given) is the default 0.4 % (Binance BTCUSDT's first bracket)."""
    arr = _as_float("mmr", _DEFAULT_MMR if value is None else value)
    bad = ~((arr >= 0) & (arr < 1))
    if np.any(bad):
        raise ValueError(
            f"mmr: got {float(arr[bad].ravel()[0])!r}; must be in [0, 1) (a fraction, not percent)"
        )
    return arr


def _contract(contract: str) -> None:
    if contract not in _CONTRACTS:
        raise ValueError(f"contract: got {contract!r}; allowed are {_CONTRACTS}")


def _check_schedule(
    schedule: MarginSchedule, contract: str, mmr: ArrayLike | None, cum: ArrayLike | None
) -> None:
    if schedule.contract != contract:
        raise ValueError(
            f"schedule: {schedule.venue} {schedule.symbol} is a {schedule.contract!r} schedule but "
            f"contract={contract!r}; pass contract={schedule.contract!r}"
        )
    if mmr is not None or cum is not None:
        given = ", ".join(f"{k}={v!r}" for k, v in (("mmr", mmr), ("cum", cum)) if v is not None)
        raise ValueError(
            f"mmr/cum: {given} given next to schedule={schedule.venue} {schedule.symbol}; the schedule's brackets "
            "set both, so give either the schedule or explicit mmr/cum (whatever their value), not both"
        )


def _entry_notional(
    entry: NDArray[np.float64], qty: NDArray[np.float64] | None, contract: str
) -> NDArray[np.float64]:
    """Position notional at entry in the schedule's unit ([quote] linear, [coin] inverse)."""
    if qty is None:
        return np.zeros_like(entry)
    return qty * entry if contract == "linear" else qty / entry


def _check_leverage(
    leverage: NDArray[np.float64],
    schedule: MarginSchedule,
    notional: NDArray[np.float64],
) -> None:
    lev_max = schedule.lookup(notional, clip=True)[2]
    lev_b, max_b = np.broadcast_arrays(leverage, lev_max)
    bad = lev_b > max_b * (1 + 1e-12)
    if np.any(bad):
        i = np.flatnonzero(bad.ravel())[0]
        n = float(np.broadcast_to(notional, bad.shape).ravel()[i])
        where = (
            "in the first bracket"
            if n == 0
            else f"at a position notional of {n:,.6g} {schedule.notional_unit}"
        )
        raise ValueError(
            f"leverage: got {lev_b.ravel()[i]:g}x but {schedule.venue} {schedule.symbol} allows at most "
            f"{max_b.ravel()[i]:g}x {where}; pass check_max_leverage=False to compute anyway"
        )


# --------------------------------------------------------------------------------------------------------------------
# margins
# --------------------------------------------------------------------------------------------------------------------


def initial_margin(
    entry: ArrayLike, qty: ArrayLike, leverage: ArrayLike, *, contract: Contract = "linear"
) -> FloatOrArray:
    """Initial margin of a fresh isolated position, ``notional / L``.

    Parameters
    ----------
    entry : array-like
        Entry price [quote], > 0.
    qty : array-like
        Position size: base quantity [base] for linear, USD notional [USD] for inverse contracts; > 0.
    leverage : array-like
        Selected leverage [-], > 0.
    contract : {"linear", "inverse"}
        Linear: margin in quote, ``Q*EP/L``. Inverse: margin in coin, ``Q/(EP*L)``.

    Returns
    -------
    float or ndarray
        Initial margin [quote] (linear) or [coin] (inverse).

    Examples
    --------
    >>> initial_margin(20_000.0, 1.0, 50)
    400.0
    """
    _contract(contract)
    ep = _positive("entry", entry)
    q = _positive("qty", qty)
    lev = _positive("leverage", leverage)
    return _out(q * ep / lev if contract == "linear" else q / (ep * lev))


def maintenance_margin(
    mark_price: ArrayLike,
    qty: ArrayLike,
    *,
    mmr: ArrayLike | None = None,
    cum: ArrayLike | None = None,
    schedule: MarginSchedule | None = None,
    contract: Contract = "linear",
) -> FloatOrArray:
    """Maintenance margin ``N*MMR - cum`` with ``N`` the notional at the mark price.

    Parameters
    ----------
    mark_price : array-like
        Mark price [quote], > 0.
    qty : array-like
        Base quantity [base] (linear) or USD notional [USD] (inverse), > 0.
    mmr, cum : array-like, optional
        Maintenance-margin rate [fraction] and maintenance amount ([quote] linear, [coin] inverse); used when no
        ``schedule`` is given (default 0.004 and 0); next to a ``schedule`` any explicit value is an error, as in :func:`liquidation_price`.
    schedule : MarginSchedule, optional
        Bracket table; the bracket is chosen by the notional ``N`` (``Q*P`` [quote] linear, ``Q/P`` [coin] inverse).
    contract : {"linear", "inverse"}

    Returns
    -------
    float or ndarray
        Maintenance margin [quote] (linear) or [coin] (inverse).

    Examples
    --------
    >>> maintenance_margin(20_000.0, 1.0, mmr=0.005)
    100.0
    """
    _contract(contract)
    p = _positive("mark_price", mark_price)
    q = _positive("qty", qty)
    n = q * p if contract == "linear" else q / p
    if schedule is not None:
        _check_schedule(schedule, contract, mmr, cum)
        m, c, _ = schedule.lookup(n)
    else:
        m, c = _mmr(mmr), _as_float("cum", 0.0 if cum is None else cum)
    return _out(n * m - c)


# --------------------------------------------------------------------------------------------------------------------
# Binance-style isolated liquidation price (linear and inverse)
# --------------------------------------------------------------------------------------------------------------------


def _linear_lp(
    ep: NDArray[np.float64],
    s: NDArray[np.float64],
    margin_per_qty: NDArray[np.float64],
    mmr: NDArray[np.float64],
    cum_per_qty: NDArray[np.float64],
) -> NDArray[np.float64]:
    # equity(P) = WB + s*Q*(P - EP) = Q*P*MMR - cum  =>  P = (WB + cum - s*Q*EP) / (Q*(MMR - s))
    return (margin_per_qty + cum_per_qty - s * ep) / (mmr - s)


def _inverse_lp(
    ep: NDArray[np.float64],
    s: NDArray[np.float64],
    wb: NDArray[np.float64],
    q: NDArray[np.float64] | None,
    mmr: NDArray[np.float64],
    cum: NDArray[np.float64],
) -> NDArray[np.float64]:
    # equity(P) = WB + s*Q*(1/EP - 1/P) = (Q/P)*MMR - cum  =>  P = Q*(MMR + s) / (WB + cum + s*Q/EP).
    # Written per unit of Q: wb and cum are [coin per USD of notional] when q is None.
    if q is None:
        num = mmr + s
        den = wb + cum + s / ep
    else:
        num = q * (mmr + s)
        den = wb + cum + s * q / ep
    with np.errstate(divide="ignore", invalid="ignore"):
        lp = num / den
    # a short whose denominator is >= 0 has no positive root: it can never be liquidated
    return np.where(lp > 0, lp, np.where(s > 0, 0.0, np.inf))


def _finish(lp: NDArray[np.float64], s: NDArray[np.float64]) -> NDArray[np.float64]:
    lp = np.where((s > 0) & (lp <= 0), 0.0, lp)
    return np.where((s < 0) & ~(lp > 0), np.inf, lp)


def _select_bracket(
    lp_b: NDArray[np.float64],
    notional_b: NDArray[np.float64],
    schedule: MarginSchedule,
    s: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """Pick, per element, the first bracket whose liquidation notional lies in (floor, cap].

    ``lp_b`` and ``notional_b`` have a trailing bracket axis. If no bracket is consistent (a long that can never be
    liquidated, a notional beyond the last cap, or floating-point ties at a boundary) the envelope rule is used:
    longs take the highest, shorts the lowest per-bracket price, which is the root of the continuous piecewise-linear
    maintenance-margin equation.
    """
    floor = schedule.floor
    cap = schedule.cap
    rel = 1e-12
    ok = (notional_b >= floor * (1 - rel)) & (notional_b <= cap * (1 + rel))
    ok &= np.isfinite(lp_b) & (lp_b > 0)
    any_ok = ok.any(axis=-1)
    first = np.argmax(ok, axis=-1)
    long_env = np.argmax(np.where(np.isnan(lp_b), -np.inf, lp_b), axis=-1)
    short_env = np.argmin(np.where(np.isnan(lp_b), np.inf, lp_b), axis=-1)
    envelope = np.where(s > 0, long_env, short_env)
    idx = np.where(any_ok, first, envelope)
    lp = np.take_along_axis(lp_b, idx[..., None], axis=-1)[..., 0]
    return lp, idx


def liquidation_price(
    entry: ArrayLike,
    leverage: ArrayLike,
    side: ArrayLike,
    *,
    mmr: ArrayLike | None = None,
    cum: ArrayLike | None = None,
    contract: Contract = "linear",
    qty: ArrayLike | None = None,
    schedule: MarginSchedule | None = None,
    extra_margin: ArrayLike = 0.0,
    check_max_leverage: bool = True,
) -> FloatOrArray:
    """Liquidation price of a fresh isolated position (Binance USDⓈ-M / COIN-M formula).

    The position's margin is its initial margin ``notional/L`` plus ``extra_margin``. Linear (USDⓈ-M):

    ``LP = (WB + cum - s*Q*EP) / (Q*MMR - s*Q)``, i.e. ``LP_long = (EP*(1-1/L) - (cum+extra)/Q) / (1-MMR)`` and
    ``LP_short = (EP*(1+1/L) + (cum+extra)/Q) / (1+MMR)``.

    Inverse (COIN-M) delegates to :func:`inverse_liquidation_price`.

    Parameters
    ----------
    entry : array-like
        Entry price [quote], > 0.
    leverage : array-like
        Selected leverage [-], > 0 (fractional leverage is allowed; a long at ``L <= 1`` is never liquidated).
    side : str, int or array-like
        ``"long"``/``"short"`` or ``+1``/``-1`` (see :func:`side_sign`).
    mmr : array-like, optional
        Maintenance-margin rate [fraction]; not given means 0.004 (Binance BTCUSDT's first bracket). With a
        ``schedule`` any explicit value is an error, 0.004 included: the brackets set the rate.
    cum : array-like, optional
        Maintenance amount [quote] (linear) or [coin] (inverse), default 0; needs ``qty`` when non-zero. Like
        ``mmr``, an error next to a ``schedule``.
    contract : {"linear", "inverse"}
        Linear: ``qty`` in base units, prices and margins in quote. Inverse: ``qty`` is the USD notional, margins in
        coin, schedule brackets in coin.
    qty : array-like, optional
        Position size (> 0). ``None`` means a vanishingly small position: the ``cum``/``extra_margin`` terms
        vanish and, with a schedule, the first bracket applies.
    schedule : MarginSchedule, optional
        Bracket table (see :mod:`heatmap.exchanges`). The bracket is the one valid **at the liquidation notional**:
        the price is computed for every bracket and the first consistent one is kept (Binance's documented rule).
        Mutually exclusive with explicit ``mmr``/``cum``.
    extra_margin : array-like, default 0
        Margin added on top of the initial margin ([quote] linear, [coin] inverse); needs ``qty`` when non-zero.
    check_max_leverage : bool, default True
        With a schedule, raise if ``leverage`` exceeds the max leverage of the bracket of the entry notional.

    Returns
    -------
    float or ndarray
        Liquidation price [quote]. ``0.0`` for longs that can never be liquidated, ``inf`` for such shorts.

    Raises
    ------
    ValueError
        On non-positive entry/leverage/qty, an MMR outside [0, 1), an unknown side or contract, ``cum`` or
        ``extra_margin`` without ``qty``, leverage above the schedule's limit, or a schedule of the wrong kind.

    Examples
    --------
    >>> round(liquidation_price(100_000.0, 10, "short"), 2)
    109561.75
    >>> from heatmap.exchanges import get
    >>> round(liquidation_price(100_000.0, 20, "long", qty=50.0, schedule=get("binance-usdm", "BTCUSDT")), 2)
    95728.28
    """
    _contract(contract)
    if contract == "inverse":
        return inverse_liquidation_price(
            entry,
            leverage,
            side,
            qty=qty,
            mmr=mmr,
            cum=cum,
            schedule=schedule,
            extra_margin=extra_margin,
            check_max_leverage=check_max_leverage,
        )
    ep = _positive("entry", entry)
    lev = _positive("leverage", leverage)
    s = side_sign(side)
    extra = _nonneg("extra_margin", extra_margin)
    q = None if qty is None else _positive("qty", qty)
    if q is None and np.any(extra != 0):
        raise ValueError("extra_margin: a non-zero extra margin needs qty (the position size)")
    if schedule is None:
        m = _mmr(mmr)
        c = _nonneg("cum", 0.0 if cum is None else cum)
        if q is None and np.any(c != 0):
            raise ValueError("cum: a non-zero maintenance amount needs qty (the position size)")
        margin_per_qty = ep / lev + (0.0 if q is None else extra / q)
        cum_per_qty = c if q is None else c / q
        return _out(_finish(_linear_lp(ep, s, margin_per_qty, m, cum_per_qty), s))

    _check_schedule(schedule, "linear", mmr, cum)
    if check_max_leverage:
        _check_leverage(lev, schedule, _entry_notional(ep, q, "linear"))
    if q is None:
        lp = _linear_lp(ep, s, ep / lev, np.asarray(schedule.mmr[0]), np.asarray(0.0))
        return _out(_finish(lp, s))
    ep_b, s_b, lev_b, q_b, x_b = (a[..., None] for a in np.broadcast_arrays(ep, s, lev, q, extra))
    lp_b = _linear_lp(ep_b, s_b, ep_b / lev_b + x_b / q_b, schedule.mmr, schedule.cum / q_b)
    lp, _ = _select_bracket(lp_b, lp_b * q_b, schedule, s_b[..., 0])
    return _out(_finish(lp, np.broadcast_to(s, lp.shape)))


def inverse_liquidation_price(
    entry: ArrayLike,
    leverage: ArrayLike,
    side: ArrayLike,
    *,
    qty: ArrayLike | None = None,
    mmr: ArrayLike | None = None,
    cum: ArrayLike | None = None,
    schedule: MarginSchedule | None = None,
    extra_margin: ArrayLike = 0.0,
    check_max_leverage: bool = True,
) -> FloatOrArray:
    """Liquidation price of a fresh isolated inverse (coin-margined) position, Binance COIN-M formula.

    With ``Q`` the USD notional, ``WB = Q/(EP*L) + extra`` [coin] and maintenance margin ``(Q/P)*MMR - cum`` [coin],
    the equity ``WB + s*Q*(1/EP - 1/P)`` reaches the maintenance margin at

    ``LP = Q*(MMR + s) / (WB + cum + s*Q/EP)``; for ``qty=None``: ``LP_long = EP*(1+MMR)/(1+1/L)``,
    ``LP_short = EP*(1-MMR)/(1-1/L)``.

    Parameters
    ----------
    entry : array-like
        Entry price [USD], > 0.
    leverage : array-like
        Selected leverage [-], > 0. Shorts at ``L <= 1`` are never liquidated (``inf``).
    side : str, int or array-like
        ``"long"``/``"short"`` or ``+1``/``-1``.
    qty : array-like, optional
        USD notional ``contracts * contract_size`` [USD], > 0. ``None``: vanishingly small position.
    mmr, cum : array-like, optional
        Maintenance-margin rate [fraction] and maintenance amount [coin], used without ``schedule`` (default 0.004 and 0); next to a ``schedule`` any explicit value is an error, as in :func:`liquidation_price`.
    schedule : MarginSchedule, optional
        Inverse schedule with brackets in coin quantity; the bracket valid at the liquidation notional ``Q/LP`` is
        selected as in :func:`liquidation_price`.
    extra_margin : array-like
        Extra isolated margin [coin].
    check_max_leverage : bool
        Raise if leverage exceeds the schedule's limit at the entry notional ``Q/EP`` [coin].

    Returns
    -------
    float or ndarray
        Liquidation price [USD].

    Examples
    --------
    >>> round(inverse_liquidation_price(20_000.0, 50, "long", mmr=0.004), 2)
    19686.27
    """
    ep = _positive("entry", entry)
    lev = _positive("leverage", leverage)
    s = side_sign(side)
    extra = _nonneg("extra_margin", extra_margin)
    q = None if qty is None else _positive("qty", qty)
    if q is None and np.any(extra != 0):
        raise ValueError("extra_margin: a non-zero extra margin needs qty (the USD notional)")
    if schedule is None:
        m = _mmr(mmr)
        c = _nonneg("cum", 0.0 if cum is None else cum)
        if q is None and np.any(c != 0):
            raise ValueError("cum: a non-zero maintenance amount needs qty (the USD notional)")
        if q is None:
            lp = _inverse_lp(ep, s, 1.0 / (ep * lev), None, m, c)
        else:
            lp = _inverse_lp(ep, s, q / (ep * lev) + extra, q, m, c)
        return _out(_finish(lp, s))

    _check_schedule(schedule, "inverse", mmr, cum)
    if check_max_leverage:
        _check_leverage(lev, schedule, _entry_notional(ep, q, "inverse"))
    if q is None:
        lp = _inverse_lp(ep, s, 1.0 / (ep * lev), None, np.asarray(schedule.mmr[0]), np.asarray(0.0))
        return _out(_finish(lp, s))
    ep_b, s_b, lev_b, q_b, x_b = (a[..., None] for a in np.broadcast_arrays(ep, s, lev, q, extra))
    lp_b = _inverse_lp(ep_b, s_b, q_b / (ep_b * lev_b) + x_b, q_b, schedule.mmr, schedule.cum)
    with np.errstate(divide="ignore"):
        notional_b = q_b / lp_b
    lp, _ = _select_bracket(lp_b, notional_b, schedule, s_b[..., 0])
    return _out(_finish(lp, np.broadcast_to(s, lp.shape)))


def bankruptcy_price(
    entry: ArrayLike,
    leverage: ArrayLike,
    side: ArrayLike,
    *,
    contract: Contract = "linear",
    qty: ArrayLike | None = None,
    extra_margin: ArrayLike = 0.0,
) -> FloatOrArray:
    """Price at which the isolated margin of a fresh position is exhausted (equity = 0).

    Linear: ``EP*(1 - s/L) - s*extra/Q``. Inverse: ``EP / (1 + s/L + s*extra*EP/Q)``. This is the liquidation price
    with ``MMR = cum = 0``.

    Parameters
    ----------
    entry, leverage, side, contract, qty, extra_margin
        As in :func:`liquidation_price`.

    Returns
    -------
    float or ndarray
        Bankruptcy price [quote]; ``0.0`` for longs that cannot go bankrupt, ``inf`` for such shorts.

    Examples
    --------
    >>> bankruptcy_price(20_000.0, 50, "long")
    19600.0
    """
    _contract(contract)
    kwargs: dict[str, Any] = {"mmr": 0.0, "qty": qty, "extra_margin": extra_margin}
    if contract == "inverse":
        return inverse_liquidation_price(entry, leverage, side, **kwargs)
    return liquidation_price(entry, leverage, side, **kwargs)


def liquidation_from_bankruptcy(
    price: ArrayLike,
    side: ArrayLike,
    *,
    schedule: MarginSchedule | None = None,
    mmr: ArrayLike | None = None,
    qty: ArrayLike | None = None,
) -> FloatOrArray:
    """Liquidation (trigger) price of an isolated linear position from its bankruptcy price.

    Venues such as Bybit publish the **bankruptcy** price of a liquidated position (where its isolated margin is
    exhausted), not the price that triggered the liquidation. With equity ``s*Q*(P - BP)`` and the maintenance
    margin charged on the position value at the mark price, ``MM = Q*P*MMR - cum``, liquidation happens at

    ``LP = (s*BP - cum/Q) / (s - MMR)``, i.e. ``LP_long = (BP - cum/Q)/(1 - MMR)`` and
    ``LP_short = (BP + cum/Q)/(1 + MMR)``,

    the exact inverse of :func:`bankruptcy_price` and :func:`liquidation_price` (a round trip
    ``liquidation_price(E, L) == liquidation_from_bankruptcy(bankruptcy_price(E, L))`` holds for every entry and
    leverage). Venues that charge maintenance margin on the *entry* value (Bybit's help-centre formula,
    :func:`bybit_liquidation_price`) put the trigger at ``BP + s*EP*MMR`` instead; the two differ by
    ``MMR*|EP - BP| - MMR^2*BP/(1 -+ MMR)``, at most ``MMR/L`` of price (0.005 % at 100x, 0.05 % at 10x with
    MMR 0.5 %), and the entry price is not known from a liquidation record.

    Parameters
    ----------
    price : array-like
        Bankruptcy price [quote], > 0.
    side : str, int or array-like
        Side of the liquidated position, ``"long"``/``"short"`` or ``+1``/``-1``.
    schedule : MarginSchedule, optional
        Linear bracket table (:mod:`heatmap.exchanges`, e.g. ``get("bybit", "BTCUSDT")``). With ``qty`` the bracket
        is the one containing the liquidation notional ``LP*Q`` (computed for every bracket, first consistent one
        kept, as in :func:`liquidation_price`); without ``qty`` the first bracket applies.
    mmr : array-like, optional
        Maintenance-margin rate [fraction] with no maintenance amount, instead of a schedule.
    qty : array-like, optional
        Position size [base], > 0; needed to pick a bracket above the first.

    Returns
    -------
    float or ndarray
        Liquidation price [quote].

    Raises
    ------
    ValueError
        Neither or both of ``schedule`` and ``mmr``, an inverse schedule, a non-positive price or qty, an MMR outside
        [0, 1), an unknown side.

    Examples
    --------
    Bybit BTCUSDT first tier (MMR 0.5 %):

    >>> round(liquidation_from_bankruptcy(49_306.3, "long", mmr=0.005), 2)
    49554.07
    >>> round(liquidation_from_bankruptcy(49_306.3, "short", mmr=0.005), 2)
    49061.0
    """
    if (schedule is None) == (mmr is None):
        raise ValueError(
            "schedule/mmr: give exactly one, e.g. mmr=0.005 (Bybit BTCUSDT first tier) or "
            "schedule=heatmap.exchanges.get('bybit', 'BTCUSDT')"
        )
    bp = _positive("price", price)
    s = side_sign(side)
    q = None if qty is None else _positive("qty", qty)
    if schedule is None:
        m = _mmr(mmr)
        return _out(_finish((s * bp) / (s - m), np.broadcast_to(s, np.broadcast(bp, s, m).shape)))
    if schedule.contract != "linear":
        raise ValueError(
            f"schedule: {schedule.venue} {schedule.symbol} is an {schedule.contract!r} schedule; "
            "liquidation_from_bankruptcy handles linear contracts"
        )
    if q is None:
        lp = (s * bp) / (s - schedule.mmr[0])
        return _out(_finish(lp, np.broadcast_to(s, np.broadcast(bp, s).shape)))
    bp_b, s_b, q_b = (a[..., None] for a in np.broadcast_arrays(bp, s, q))
    lp_b = (s_b * bp_b - schedule.cum / q_b) / (s_b - schedule.mmr)
    lp, _ = _select_bracket(lp_b, lp_b * q_b, schedule, s_b[..., 0])
    return _out(_finish(lp, np.broadcast_to(s, lp.shape)))


# --------------------------------------------------------------------------------------------------------------------
# cross margin
# --------------------------------------------------------------------------------------------------------------------


def cross_liquidation_price(
    wallet_balance: ArrayLike,
    qty: ArrayLike,
    entry: ArrayLike,
    side: ArrayLike,
    *,
    mmr: ArrayLike | None = None,
    cum: ArrayLike | None = None,
    other_maintenance: ArrayLike = 0.0,
    other_unrealized_pnl: ArrayLike = 0.0,
    schedule: MarginSchedule | None = None,
) -> FloatOrArray:
    """Binance USDⓈ-M one-way **cross**-margin liquidation price of one position.

    ``LP = (WB - TMM1 + UPNL1 + cum - s*Q*EP) / (Q*MMR - s*Q)`` where ``WB`` is the cross wallet balance, ``TMM1`` the
    maintenance margin and ``UPNL1`` the unrealized PnL (at mark) of all *other* cross positions. With
    ``other_maintenance = other_unrealized_pnl = 0`` and ``WB`` the isolated margin this is the isolated formula.

    Parameters
    ----------
    wallet_balance : array-like
        Cross wallet balance [quote].
    qty : array-like
        Absolute position size [base], > 0.
    entry : array-like
        Entry price [quote], > 0.
    side : str, int or array-like
        ``"long"``/``"short"`` or ``+1``/``-1``.
    mmr, cum : array-like, optional
        Bracket of this position (used without ``schedule``) (default 0.004 and 0); next to a ``schedule`` any explicit value is an error, as in :func:`liquidation_price`.
    other_maintenance : array-like
        ``TMM1``, maintenance margin of the other positions [quote].
    other_unrealized_pnl : array-like
        ``UPNL1``, unrealized PnL of the other positions [quote].
    schedule : MarginSchedule, optional
        Linear schedule; the bracket valid at the liquidation notional is used.

    Returns
    -------
    float or ndarray
        Liquidation price [quote] (0.0 / inf when the position cannot be liquidated).

    Examples
    --------
    Binance's published cross example (BTCUSDT long next to an ETHUSDT long):

    >>> eth_mm = 3683.979 * 1335.18 * 0.10 - 135365
    >>> eth_pnl = 3683.979 * (1335.18 - 1456.84)
    >>> round(cross_liquidation_price(1535443.01, 109.488, 32481.98, "long", mmr=0.025, cum=16300,
    ...                               other_maintenance=eth_mm, other_unrealized_pnl=eth_pnl), 2)
    26316.89
    """
    wb = _as_float("wallet_balance", wallet_balance)
    q = _positive("qty", qty)
    ep = _positive("entry", entry)
    s = side_sign(side)
    tmm = _as_float("other_maintenance", other_maintenance)
    upnl = _as_float("other_unrealized_pnl", other_unrealized_pnl)
    free = wb - tmm + upnl
    if schedule is None:
        m = _mmr(mmr)
        c = _nonneg("cum", 0.0 if cum is None else cum)
        return _out(_finish(_linear_lp(ep, s, free / q, m, c / q), s))
    _check_schedule(schedule, "linear", mmr, cum)
    ep_b, s_b, q_b, f_b = (a[..., None] for a in np.broadcast_arrays(ep, s, q, free))
    lp_b = _linear_lp(ep_b, s_b, f_b / q_b, schedule.mmr, schedule.cum / q_b)
    lp, _ = _select_bracket(lp_b, lp_b * q_b, schedule, s_b[..., 0])
    return _out(_finish(lp, np.broadcast_to(s, lp.shape)))


# --------------------------------------------------------------------------------------------------------------------
# other venues
# --------------------------------------------------------------------------------------------------------------------


def bybit_liquidation_price(
    entry: ArrayLike,
    leverage: ArrayLike,
    side: ArrayLike,
    *,
    mmr: ArrayLike = 0.005,
    mm_deduction: ArrayLike = 0.0,
    contract: Contract = "linear",
    qty: ArrayLike | None = None,
    extra_margin: ArrayLike = 0.0,
) -> FloatOrArray:
    """Bybit isolated-margin liquidation price (maintenance margin on the **entry** value).

    Linear (USDT contracts): ``IM = Q*EP/L``, ``MM = Q*EP*MMR - deduction`` and
    ``LP = EP - s*(IM - MM + extra)/Q``; without deduction ``LP_long = EP*(1 - 1/L + MMR)`` exactly.
    Inverse: ``PV = Q/EP`` [coin], ``IM = PV/L``, ``MM = PV*MMR - deduction``,
    ``LP = Q / (PV + s*(IM - MM + extra))``.

    Parameters
    ----------
    entry, leverage, side
        As in :func:`liquidation_price`.
    mmr : array-like, default 0.005
        Maintenance-margin rate of the position's risk-limit tier [fraction].
    mm_deduction : array-like, default 0
        Maintenance-margin deduction of the tier ([quote] linear, [coin] inverse); needs ``qty`` when non-zero.
    contract : {"linear", "inverse"}
    qty : array-like, optional
        Base quantity (linear) or USD notional (inverse).
    extra_margin : array-like
        Margin added to the position ([quote] linear, [coin] inverse).

    Returns
    -------
    float or ndarray
        Liquidation price [quote].

    Examples
    --------
    Bybit's help-centre example: 1 BTC long at 20,000 USDT, 50x, MMR 0.5 %:

    >>> bybit_liquidation_price(20_000.0, 50, "long", qty=1.0, mmr=0.005)
    19700.0
    """
    _contract(contract)
    ep = _positive("entry", entry)
    lev = _positive("leverage", leverage)
    s = side_sign(side)
    m = _mmr(mmr)
    ded = _nonneg("mm_deduction", mm_deduction)
    extra = _nonneg("extra_margin", extra_margin)
    q = None if qty is None else _positive("qty", qty)
    if q is None and (np.any(ded != 0) or np.any(extra != 0)):
        raise ValueError("mm_deduction/extra_margin: non-zero values need qty (the position size)")
    if contract == "linear":
        # per unit of base quantity
        buffer = ep / lev - ep * m + (0.0 if q is None else (ded + extra) / q)
        return _out(_finish(ep - s * buffer, s))
    # inverse, per USD of notional when q is None
    pv = 1.0 / ep
    buffer = pv / lev - pv * m + (0.0 if q is None else (ded + extra) / q)
    den = pv + s * buffer
    with np.errstate(divide="ignore"):
        lp = np.where(den > 0, 1.0 / den, np.inf)
    return _out(_finish(lp, s))


def hyperliquid_liquidation_price(
    entry: ArrayLike,
    leverage: ArrayLike,
    side: ArrayLike,
    *,
    max_leverage: ArrayLike = 40.0,
    qty: ArrayLike | None = None,
    extra_margin: ArrayLike = 0.0,
    check_max_leverage: bool = True,
) -> FloatOrArray:
    """Hyperliquid isolated liquidation price.

    Hyperliquid's documented form is ``LP = P - s*margin_available/Q/(1 - s*l)`` with ``l = 1/maintenance_leverage``
    and ``margin_available = margin - maintenance margin at P``; the maintenance margin is half of the initial margin
    at the asset's max leverage, ``MMR = 1/(2*max_leverage)``. For a fresh position (``P = EP``, margin
    ``Q*EP/L + extra``) this gives ``LP = (EP*(1 - s/L) - s*extra/Q) / (1 - s*MMR)``.

    Parameters
    ----------
    entry, leverage, side
        As in :func:`liquidation_price`.
    max_leverage : array-like, default 40
        Max leverage of the asset (BTC: 40x), sets ``MMR = 1/(2*max_leverage)``.
    qty : array-like, optional
        Position size [base]; needed for ``extra_margin``.
    extra_margin : array-like
        Margin added to the isolated position [USDC].
    check_max_leverage : bool
        Raise if ``leverage > max_leverage``.

    Returns
    -------
    float or ndarray
        Liquidation price [USDC].

    Examples
    --------
    >>> round(hyperliquid_liquidation_price(100_000.0, 20, "long"), 2)
    96202.53
    """
    lev = _positive("leverage", leverage)
    lmax = _positive("max_leverage", max_leverage)
    if check_max_leverage and np.any(lev > lmax):
        bad_l, bad_m = np.broadcast_arrays(lev, lmax)
        i = np.flatnonzero((bad_l > bad_m).ravel())[0]
        raise ValueError(
            f"leverage: got {bad_l.ravel()[i]:g}x but max_leverage is {bad_m.ravel()[i]:g}x; "
            "pass check_max_leverage=False to compute anyway"
        )
    return liquidation_price(entry, lev, side, mmr=0.5 / lmax, qty=qty, extra_margin=extra_margin)


def gate_liquidation_price(
    entry: ArrayLike,
    leverage: ArrayLike,
    side: ArrayLike,
    *,
    mmr: ArrayLike,
    taker_fee: ArrayLike = 0.00075,
    contract: Contract = "linear",
    qty: ArrayLike | None = None,
    extra_margin: ArrayLike = 0.0,
) -> FloatOrArray:
    """Gate isolated liquidation price: the maintenance rate is increased by the taker fee of the closing order.

    Gate's help page "Liquidation Price / Bankruptcy Price" (gate.io/help/futures/futures/27724, as quoted in
    freqtrade's ``Exchange.dry_run_liquidation_price``) gives, for linear contracts,
    ``LP = (EP -+ Margin/Multiplier/Size) / (1 -+ (MMR + taker))`` (upper sign long), and Gate support gives for
    inverse contracts ``LP = Size*EP*(1 +- (MMR + taker)) / (Size +- Margin*EP)``. Both equal the Binance formula with
    ``cum = 0`` and the rate ``MMR + taker``, which is how this function computes them.

    Parameters
    ----------
    entry, leverage, side, contract, qty, extra_margin
        As in :func:`liquidation_price` (``Margin`` = initial margin ``notional/L`` + ``extra_margin``).
    mmr : array-like
        Maintenance-margin rate of the position's risk-limit tier [fraction]; no default (see the contract specs).
    taker_fee : array-like, default 0.00075
        Taker fee rate [fraction] (0.075 % per Gate support's reply, 2023).

    Returns
    -------
    float or ndarray
        Liquidation price [quote].

    Examples
    --------
    >>> round(gate_liquidation_price(100_000.0, 20, "long", mmr=0.005), 2)
    95549.41
    """
    rate = _mmr(np.asarray(mmr, dtype=np.float64) + _nonneg("taker_fee", taker_fee))
    return liquidation_price(
        entry, leverage, side, mmr=rate, contract=contract, qty=qty, extra_margin=extra_margin
    )


def okx_liquidation_price(
    entry: ArrayLike,
    leverage: ArrayLike,
    side: ArrayLike,
    *,
    mmr: ArrayLike,
    taker_fee: ArrayLike,
    contract: Contract = "linear",
    qty: ArrayLike | None = None,
    extra_margin: ArrayLike = 0.0,
) -> FloatOrArray:
    """OKX isolated liquidation price (margin ratio = 100 % with the liquidation fee in the requirement).

    OKX's isolated margin ratio is ``(margin + upl) / (notional_at_mark * (MMR + taker_fee))`` (USDT-margined; coin
    margined with ``notional = face*contracts/mark``), and a position is liquidated when it falls to 100 % (OKX
    support "Introduction to the isolated mode", article 360053909592, cited in freqtrade). Setting the ratio to 1
    gives the Binance formula with ``cum = 0`` and the rate ``MMR + taker_fee``; for coin-margined longs
    ``LP = (1 + MMR + fee) / (1/EP + margin/(face*contracts))``.

    Parameters
    ----------
    entry, leverage, side, contract, qty, extra_margin
        As in :func:`liquidation_price`.
    mmr : array-like
        Maintenance-margin rate of the position's tier [fraction].
    taker_fee : array-like
        Taker fee rate of the account [fraction].

    Returns
    -------
    float or ndarray
        Liquidation price [quote].

    Examples
    --------
    >>> round(okx_liquidation_price(100_000.0, 20, "short", mmr=0.004, taker_fee=0.0005), 2)
    104529.62
    """
    rate = _mmr(np.asarray(mmr, dtype=np.float64) + _nonneg("taker_fee", taker_fee))
    return liquidation_price(
        entry, leverage, side, mmr=rate, contract=contract, qty=qty, extra_margin=extra_margin
    )


# --------------------------------------------------------------------------------------------------------------------
# funding
# --------------------------------------------------------------------------------------------------------------------


def funding_shift(rate: ArrayLike, mark_price: ArrayLike, side: ArrayLike, mmr: ArrayLike) -> FloatOrArray:
    """Move of an isolated linear position's liquidation price when one funding payment is settled into its margin.

    The payment ``-s*Q*P*f`` changes ``WB`` in ``LP = (WB + cum - s*Q*EP)/(Q*(MMR - s))``, so
    ``dLP = s*f*P/(s - MMR)``: ``+f*P/(1 - MMR)`` for longs and ``+f*P/(1 + MMR)`` for shorts. With ``f > 0`` longs
    pay and their liquidation price rises toward the price; shorts receive and theirs rises away from it.

    Parameters
    ----------
    rate : array-like
        Funding rate of the settlement [fraction, per interval], positive when longs pay.
    mark_price : array-like
        Mark price at settlement [quote], > 0.
    side : str, int or array-like
        ``"long"``/``"short"`` or ``+1``/``-1``.
    mmr : array-like
        Maintenance-margin rate of the position's bracket [fraction].

    Returns
    -------
    float or ndarray
        Signed change of the liquidation price [quote].

    Examples
    --------
    >>> round(funding_shift(0.0001, 100_000.0, "long", 0.004), 4)
    10.0402
    """
    f = _as_float("rate", rate)
    p = _positive("mark_price", mark_price)
    s = side_sign(side)
    m = _mmr(mmr)
    return _out(s * f * p / (s - m))


def inverse_funding_shift(
    rate: ArrayLike, mark_price: ArrayLike, side: ArrayLike, mmr: ArrayLike
) -> FloatOrArray:
    """Move of an isolated inverse position's *reciprocal* liquidation price ``1/LP`` at one funding settlement.

    An inverse position of face value ``Q`` [USD] pays ``s*f*Q/P`` [coin] at mark ``P`` (its coin notional times the
    rate), settled into ``WB`` in ``1/LP = (WB + cum + s*Q/EP) / (Q*(MMR + s))`` (see
    :func:`inverse_liquidation_price`), so ``d(1/LP) = -f / (P*(1 + s*MMR))``: ``-f/(P*(1 + MMR))`` for longs and
    ``-f/(P*(1 - MMR))`` for shorts. The move does not depend on ``Q``, ``EP`` or ``L``: funding shifts every
    inverse level of a side by the same amount in reciprocal price (for linear contracts, by the same amount in
    price, :func:`funding_shift`). With ``f > 0`` longs pay and their liquidation price rises toward the price;
    shorts receive and theirs rises away from it.

    Parameters
    ----------
    rate : array-like
        Funding rate of the settlement [fraction, per interval], positive when longs pay.
    mark_price : array-like
        Mark price at settlement [quote], > 0.
    side : str, int or array-like
        ``"long"``/``"short"`` or ``+1``/``-1``.
    mmr : array-like
        Maintenance-margin rate of the position's bracket [fraction].

    Returns
    -------
    float or ndarray
        Signed change of ``1/LP`` [1/quote]; the new level is ``1 / (1/LP + d)`` (a short whose ``1/LP`` falls to
        or below 0 can no longer be liquidated).

    Examples
    --------
    >>> d = inverse_funding_shift(0.0001, 100_000.0, "long", 0.004)
    >>> lp = inverse_liquidation_price(100_000.0, 20, "long", mmr=0.004)
    >>> round(lp, 2), round(1.0 / (1.0 / lp + d), 2)     # the long's level rises by ~ f * LP**2 / (P * (1 + MMR))
    (95619.05, 95628.16)
    """
    f = _as_float("rate", rate)
    p = _positive("mark_price", mark_price)
    s = side_sign(side)
    m = _mmr(mmr)
    return _out(-f / (p * (1.0 + s * m)))
