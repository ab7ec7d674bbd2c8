"""Seeded agent-based market with known leverage: ground truth for tests and the default demo data.

:func:`simulate_world` builds a perpetual-futures market bar by bar from traders whose leverage, side mix and
exits are **known**, so that everything an estimator tries to infer (where the liquidation prices sit, how much
is liquidated per bar and side) is available exactly. :func:`synthetic_market` returns only its
:class:`~heatmap.market.Market` and is the package's embedded example data.

The world, per bar (details and realism figures in ``docs/synthetic.md``)
------------------------------------------------------------------------
* **Price.** A log-price path on ``substeps`` sub-steps per bar: Brownian increments whose volatility follows a
  GARCH-like log-volatility process (yesterday's large moves raise today's volatility; persistence set by
  ``vol_half_life`` in calendar time, so every bar length shares the same dynamics) plus compound-Poisson jumps.
  ``daily_vol`` is the total (diffusion + jumps) daily standard deviation of log returns. Bar high/low are the
  extrema of this sub-path, so they are real extrema of the world's price.
* **Contracts.** Every new contract has two sides opened together at the same sub-step price inside the bar: a
  **speculative** side with leverage drawn from ``leverage`` and a **passive** side with leverage drawn from
  ``passive_leverage``. The speculative side is long with probability ``long_bias`` shifted by
  ``trend_following`` x tanh(last day's return / daily_vol) (speculators chase trends). New positions per bar
  replace expected exits and pull open interest toward a slowly wandering target around ``oi_target``.
* **Exits.** A contract lives a geometric number of bars (memoryless hazard, ``turnover`` is the share of open
  contracts closing per day) and both sides close together. When one side is liquidated, the forced order is
  filled by its own counterparty closing, so the contract closes: open interest is always the sum of open
  long positions, which equals the sum of open short positions.
* **Funding.** At every 00/08/16 UTC settlement the rate is
  ``clip(funding_base + funding_sensitivity * imbalance + noise, -cap, cap)`` with ``imbalance`` the (long -
  short)/(long + short) share of open **speculative** positions; the payment moves every isolated liquidation
  price by :func:`heatmap.margin.funding_shift`. Bars longer than 8 h carry the sum of their settlements.
* **Liquidations.** A long is liquidated at the first sub-step where the path is at or below its (funding
  drifted) liquidation price, a short at or above; the event is recorded at that price. With ``impact > 0``
  liquidated notional moves the price further (permanently) within the same sub-step, which can cross more
  positions: a cascade, resolved to its fixed point.

All prices scale with ``start_price``: the world is simulated in units of its own warm-up start price and
rescaled so that the first market bar opens at exactly ``start_price``.

Examples
--------
>>> from heatmap.synthetic import simulate_world
>>> world = simulate_world(days=3, freq="1h", seed=1)
>>> len(world.market), round(float(world.market.frame["open"].iloc[0]))
(72, 60000)
>>> book = world.positions_at(world.market.index[-1])
>>> bool((book.groupby("side")["qty"].sum().round(6) ==
...       round(float(world.market.frame["open_interest"].iloc[-1]), 6)).all())
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from heatmap.margin import funding_shift, liquidation_price
from heatmap.market import Market

__all__ = ["World", "simulate_world", "synthetic_market", "DEFAULTS"]

_DAY = pd.Timedelta(days=1)
_SETTLEMENT = pd.Timedelta(hours=8)
_MIN_FREQ = pd.Timedelta(minutes=1)
_SQRT_2_PI = math.sqrt(2.0 / math.pi)
_OI_TARGET_HALF_LIFE_DAYS = 3.0  # persistence of the wandering open-interest target [day]
_OI_ADJUST_HALF_LIFE_HOURS = 6.0  # how fast new positions close the gap to the target [hour]
_COMPACT_EVERY = 32  # bars between compactions of the working arrays
_NO_ROWS = np.empty(0, np.int64)


class LeverageSampler(Protocol):
    """What the world needs from a leverage distribution (:class:`heatmap.leverage.Leverage` provides it)."""

    @property
    def max_leverage(self) -> float: ...

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray: ...


#: Default values of every world parameter (leverage distributions are built on demand).
DEFAULTS: dict[str, Any] = {
    "leverage": None,  # Leverage.lognormal(median=12, sigma=0.9)
    "passive_leverage": None,  # Leverage.lognormal(median=3, sigma=0.6)
    "long_bias": 0.52,
    "trend_following": 0.15,
    "start_price": 60_000.0,
    "start": "2025-01-01",
    "daily_vol": 0.03,
    "vol_of_vol": 0.35,
    "vol_half_life": 2.0,
    "jump_intensity": 0.5,
    "jump_size": 0.012,
    "turnover": 0.5,
    "exit_elasticity": 1.0,
    "oi_target": 80_000.0,
    "oi_vol": 0.1,
    "volume_per_oi": 3.0,
    "impact": 0.0005,
    "mmr": 0.004,
    "schedule": None,
    "funding_base": 0.0001,
    "funding_sensitivity": 0.0005,
    "funding_noise": 0.00003,
    "funding_cap": None,  # = mmr
    "substeps": 12,
    "cohorts_per_bar": None,  # round(4 * sqrt(bar / 1 h)), clipped to [1, 16]
    "warmup": 5.0,
}


def _default_leverage(median: float, sigma: float) -> LeverageSampler:
    from heatmap.leverage import Leverage

    lev: LeverageSampler = Leverage.lognormal(median=median, sigma=sigma)
    return lev


# ----------------------------------------------------------------------------------------------------------------
# World
# ----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)  # DataFrame fields: identity equality
class World:
    """A simulated market together with its true positions and realized liquidations.

    Attributes
    ----------
    market : Market
        Bars (UTC open times) with ``open, high, low, close`` [quote], ``open_interest`` [base, at the bar's
        close], ``funding_rate`` [fraction, summed over the bar's settlements, 0 elsewhere], ``volume`` and
        ``taker_buy_volume`` [base].
    liquidations : pandas.DataFrame
        One row per liquidated position, in time order: ``time`` (UTC, inside the bar), ``bar`` (the bar's open
        time), ``side`` (``"long"``/``"short"``), ``price`` (its liquidation price at that moment [quote]),
        ``qty`` [base], ``notional`` (= qty x price [quote]), ``pair`` (contract id).
    positions : pandas.DataFrame
        The open positions after the last bar; same columns as :meth:`positions_at`.
    book : pandas.DataFrame
        Every position ever opened (two rows per contract): ``pair``, ``side``, ``speculative``, ``entry_time``,
        ``entry`` [quote], ``leverage`` [-], ``qty`` [base], ``liquidation_price`` (at entry [quote]),
        ``entry_drift`` (the side's cumulative funding shift at entry [quote]), ``open_bar`` and ``close_bar``
        (bar numbers relative to the first market bar; warm-up bars are negative; the position is open in the
        state after bar ``b`` iff ``open_bar <= b < close_bar``), ``close_time`` and ``status``
        (``"open"``, ``"closed"``, ``"liquidated"``).
    funding_drift : pandas.DataFrame
        Per market bar, columns ``long`` and ``short``: cumulative funding shift of liquidation prices since the
        start of the warm-up [quote], including that bar's settlement.
    params : dict
        The truth: every parameter value used (leverage distributions included) plus derived quantities.
    """

    market: Market
    liquidations: pd.DataFrame
    positions: pd.DataFrame
    book: pd.DataFrame
    funding_drift: pd.DataFrame
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.market, Market):
            raise TypeError(f"market must be a heatmap.market.Market, got {type(self.market).__name__}")
        for name in ("liquidations", "positions", "book", "funding_drift"):
            value = getattr(self, name)
            if not isinstance(value, pd.DataFrame):
                raise TypeError(f"{name} must be a pandas DataFrame, got {type(value).__name__}")
        if not self.funding_drift.index.equals(self.market.index):
            raise ValueError("funding_drift: index must equal the market's bar index")

    def __repr__(self) -> str:
        m = self.market
        return (
            f"World({len(m)} bars x {_fmt_freq(m.freq)} from {m.index[0]:%Y-%m-%d %H:%M} UTC, seed {self.params.get('seed')}, "
            f"{len(self.liquidations):,} liquidations, {self.book['pair'].nunique():,} contracts, "
            f"{len(self.positions):,} open positions)"
        )

    def _bar_number(self, t: Any) -> int:
        n = len(self.market)
        if isinstance(t, (int, np.integer)) and not isinstance(t, bool):
            if not -n <= t < n:
                raise ValueError(f"t={t!r} is outside the market's bar positions [-{n}, {n - 1}]")
            return int(t) % n
        ts = pd.Timestamp(t)
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        idx = self.market.index
        pos = idx.get_indexer(pd.DatetimeIndex([ts]))[0]
        if pos < 0:
            raise ValueError(
                f"t={t!r} is not a bar open time of the market (bars every {self.market.freq} from "
                f"{idx[0]} to {idx[-1]})"
            )
        return int(pos)

    def positions_at(self, t: Any) -> pd.DataFrame:
        """The true open book in the state after the bar that opens at ``t`` has closed.

        Parameters
        ----------
        t : timestamp-like or int
            A bar open time of :attr:`market` (naive values are read as UTC), or a bar position (``-1`` is the
            last bar).

        Returns
        -------
        pandas.DataFrame
            One row per open position: ``pair``, ``side``, ``speculative``, ``entry_time``, ``entry`` [quote],
            ``leverage`` [-], ``qty`` [base], ``liquidation_price`` [quote] (funding-drifted up to and including
            bar ``t``).

        Examples
        --------
        >>> w = simulate_world(days=2, freq="4h", seed=3)
        >>> book = w.positions_at("2025-01-02 04:00")
        >>> sorted(book["side"].unique())
        ['long', 'short']
        """
        b = self._bar_number(t)
        return self._book_at(b)

    def _book_at(self, b: int) -> pd.DataFrame:
        bk = self.book
        mask = (bk["open_bar"].to_numpy() <= b) & (bk["close_bar"].to_numpy() > b)
        sub = bk.loc[mask]
        is_long = (sub["side"] == "long").to_numpy()
        drift = np.where(is_long, self.funding_drift["long"].iloc[b], self.funding_drift["short"].iloc[b])
        lp = sub["liquidation_price"].to_numpy() + drift - sub["entry_drift"].to_numpy()
        out = sub[["pair", "side", "speculative", "entry_time", "entry", "leverage", "qty"]].copy()
        out["liquidation_price"] = lp
        return out.reset_index(drop=True)

    def liquidation_map(self, t: Any, price_edges: Any) -> pd.DataFrame:
        """True liquidation notional per price band and side in the state after bar ``t``.

        This is what a heatmap cell estimates: base quantity x liquidation price [quote], summed over the open
        positions whose (funding-drifted) liquidation price lies in ``[price_low, price_high)``.

        Parameters
        ----------
        t : timestamp-like or int
            As for :meth:`positions_at`.
        price_edges : array-like
            Strictly increasing band edges [quote], at least two.

        Returns
        -------
        pandas.DataFrame
            Columns ``price_low``, ``price_high``, ``long``, ``short`` [quote]; positions outside the edges are
            left out.

        Examples
        --------
        >>> w = simulate_world(days=2, freq="1h", seed=0)
        >>> m = w.liquidation_map(-1, [0.0, 1e9])
        >>> bool(abs(m["long"].sum() - (w.positions.query("side == 'long'").eval("qty * liquidation_price")).sum()) < 1)
        True
        """
        edges = np.asarray(price_edges, dtype=float)
        if (
            edges.ndim != 1
            or edges.size < 2
            or not np.all(np.isfinite(edges))
            or not np.all(np.diff(edges) > 0)
        ):
            raise ValueError(
                f"price_edges must be a 1-d, finite, strictly increasing array of at least 2 prices, got {price_edges!r}"
            )
        book = self.positions_at(t)
        out = pd.DataFrame({"price_low": edges[:-1], "price_high": edges[1:]})
        for side in ("long", "short"):
            s = book[book["side"] == side]
            lp = s["liquidation_price"].to_numpy()
            out[side] = np.histogram(lp, bins=edges, weights=s["qty"].to_numpy() * lp)[0]
        return out

    def ledger(self) -> pd.DataFrame:
        """True quantity flows per market bar and side, the counterpart of an estimate's ledger.

        Returns
        -------
        pandas.DataFrame
            Index: the market's bar open times. Columns ``opened_*``, ``closed_*`` (random exits and
            counterparties of liquidated positions), ``liquidated_*`` and ``held_*`` (open after the bar) for
            ``*`` in ``long``, ``short`` [base]. ``held`` changes by ``opened - closed - liquidated`` every bar and
            equals the market's open interest.

        Examples
        --------
        >>> w = simulate_world(days=2, freq="1h", seed=0)
        >>> led = w.ledger()
        >>> bool(((led["held_long"] - w.market.frame["open_interest"]).abs() < 1e-6).all())
        True
        """
        n = len(self.market)
        bk = self.book
        ob = bk["open_bar"].to_numpy()
        cb = bk["close_bar"].to_numpy()
        q = bk["qty"].to_numpy()
        status = bk["status"].to_numpy()
        out = pd.DataFrame(index=self.market.index)
        for side in ("long", "short"):
            on = (bk["side"] == side).to_numpy()

            def per_bar(mask: np.ndarray, bars: np.ndarray) -> np.ndarray:
                return np.bincount(bars[mask], q[mask], n)[:n]

            opened = per_bar(on & (ob >= 0), ob)
            ends = on & (cb >= 0) & (cb < n)
            closed = per_bar(ends & (status == "closed"), cb)
            liquidated = per_bar(ends & (status == "liquidated"), cb)
            held0 = q[on & (ob < 0) & (cb >= 0)].sum()
            out[f"opened_{side}"] = opened
            out[f"closed_{side}"] = closed
            out[f"liquidated_{side}"] = liquidated
            out[f"held_{side}"] = held0 + np.cumsum(opened - closed - liquidated)
        cols = [
            f"{kind}_{side}"
            for kind in ("opened", "closed", "liquidated", "held")
            for side in ("long", "short")
        ]
        return out[cols]

    def liquidations_per_bar(self) -> pd.DataFrame:
        """Realized liquidated notional per market bar and side.

        Returns
        -------
        pandas.DataFrame
            Index: the market's bar open times; columns ``long`` and ``short`` [quote].

        Examples
        --------
        >>> w = simulate_world(days=2, freq="1h", seed=0)
        >>> list(w.liquidations_per_bar().columns)
        ['long', 'short']
        """
        ev = self.liquidations
        table = ev.pivot_table(index="bar", columns="side", values="notional", aggfunc="sum", fill_value=0.0)
        out = pd.DataFrame(index=self.market.index, columns=["long", "short"], dtype=float)
        for side in ("long", "short"):
            col = table[side] if side in table.columns else pd.Series(dtype=float)
            out[side] = col.reindex(self.market.index, fill_value=0.0).to_numpy(dtype=float)
        return out


# ----------------------------------------------------------------------------------------------------------------
# parameters
# ----------------------------------------------------------------------------------------------------------------


def _check_range(name: str, value: Any, low: float, high: float, *, low_open: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} is not a number") from None
    lo_ok = v > low if low_open else v >= low
    if not (math.isfinite(v) or high == math.inf) or not lo_ok or not v <= high or math.isnan(v):
        lb = "(" if low_open else "["
        raise ValueError(f"{name}={value!r} is outside the allowed range {lb}{low}, {high}]")
    return v


def _resolve(days: float, freq: Any, seed: Any, params: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(params) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown world parameter(s) {unknown}; allowed: {sorted(DEFAULTS)}")
    p = {**DEFAULTS, **params}
    out: dict[str, Any] = {}
    out["days"] = _check_range("days", days, 0.0, 3650.0, low_open=True)
    try:
        td = pd.Timedelta(freq)
    except (TypeError, ValueError):
        raise ValueError(f"freq={freq!r} is not a time span (e.g. '1min', '15min', '1h', '1D')") from None
    if not (_MIN_FREQ <= td <= _DAY) or td.value % 1_000_000_000 != 0:
        raise ValueError(f"freq={freq!r} must be a whole number of seconds between 1min and 1D")
    out["freq"] = td
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative integer")
    out["seed"] = int(seed)
    n_bars = int(round(out["days"] * _DAY / td))
    if n_bars < 1:
        raise ValueError(f"days={days!r} with freq={freq!r} gives no bar; need days >= one bar")
    out["n_bars"] = n_bars

    out["long_bias"] = _check_range("long_bias", p["long_bias"], 0.0, 1.0, low_open=True)
    if out["long_bias"] >= 1.0:
        raise ValueError(f"long_bias={p['long_bias']!r} is outside the allowed range (0, 1)")
    out["trend_following"] = _check_range("trend_following", p["trend_following"], 0.0, 0.5)
    out["start_price"] = _check_range("start_price", p["start_price"], 0.0, 1e12, low_open=True)
    try:
        start = pd.Timestamp(p["start"])
    except (TypeError, ValueError):
        raise ValueError(f"start={p['start']!r} is not a timestamp") from None
    out["start"] = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
    out["daily_vol"] = _check_range("daily_vol", p["daily_vol"], 0.0, 0.5, low_open=True)
    out["vol_of_vol"] = _check_range("vol_of_vol", p["vol_of_vol"], 0.0, 1.5)
    out["vol_half_life"] = _check_range("vol_half_life", p["vol_half_life"], 0.0, 365.0, low_open=True)
    out["jump_intensity"] = _check_range("jump_intensity", p["jump_intensity"], 0.0, 100.0)
    out["jump_size"] = _check_range("jump_size", p["jump_size"], 0.0, 0.5)
    jump_var = out["jump_intensity"] * out["jump_size"] ** 2
    if jump_var >= out["daily_vol"] ** 2:
        raise ValueError(
            f"jump_intensity={out['jump_intensity']!r} x jump_size={out['jump_size']!r}^2 = {jump_var:.3g} per day "
            f"is not below daily_vol^2 = {out['daily_vol'] ** 2:.3g}: jumps alone would exceed the total variance"
        )
    out["turnover"] = _check_range("turnover", p["turnover"], 0.0, 1.0, low_open=True)
    if out["turnover"] >= 1.0:
        raise ValueError(f"turnover={p['turnover']!r} is outside the allowed range (0, 1) [share per day]")
    out["exit_elasticity"] = _check_range("exit_elasticity", p["exit_elasticity"], 0.0, 3.0)
    out["oi_target"] = _check_range("oi_target", p["oi_target"], 0.0, 1e12, low_open=True)
    out["oi_vol"] = _check_range("oi_vol", p["oi_vol"], 0.0, 1.0)
    out["volume_per_oi"] = _check_range("volume_per_oi", p["volume_per_oi"], 0.0, 1000.0)
    out["impact"] = _check_range("impact", p["impact"], 0.0, 0.05)
    out["funding_base"] = _check_range("funding_base", p["funding_base"], -0.01, 0.01)
    out["funding_sensitivity"] = _check_range("funding_sensitivity", p["funding_sensitivity"], 0.0, 0.05)
    out["funding_noise"] = _check_range("funding_noise", p["funding_noise"], 0.0, 0.01)
    if p["cohorts_per_bar"] is None:
        p["cohorts_per_bar"] = int(np.clip(round(4.0 * math.sqrt(td / pd.Timedelta(hours=1))), 1, 16))
    for name, lo, hi in (("substeps", 1, 1000), ("cohorts_per_bar", 1, 1000)):
        v = p[name]
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
            raise ValueError(f"{name}={v!r} must be an integer in [{lo}, {hi}]")
        out[name] = int(v)
    out["warmup"] = _check_range("warmup", p["warmup"], 0.0, 365.0)

    schedule = p["schedule"]
    if schedule is not None and "mmr" in params:
        raise ValueError("mmr and schedule are mutually exclusive; pass one of them")
    if schedule is not None:
        for attr in ("mmr", "cum", "max_leverage"):
            if not hasattr(schedule, attr):
                raise ValueError(f"schedule={schedule!r} is not a MarginSchedule (no {attr!r})")
        if getattr(schedule, "contract", "linear") != "linear":
            raise ValueError(f"schedule: contract={schedule.contract!r}; the synthetic world is linear only")
        out["mmr"] = float(np.asarray(schedule.mmr)[0])
    else:
        out["mmr"] = _check_range("mmr", p["mmr"], 0.0, 0.5)
    out["schedule"] = schedule
    cap = out["mmr"] if p["funding_cap"] is None else p["funding_cap"]
    out["funding_cap"] = _check_range("funding_cap", cap, 0.0, 0.05)

    for name, median, sigma in (("leverage", 12.0, 0.9), ("passive_leverage", 3.0, 0.6)):
        lev = p[name] if p[name] is not None else _default_leverage(median, sigma)
        if not callable(getattr(lev, "sample", None)) or not hasattr(lev, "max_leverage"):
            raise ValueError(
                f"{name}={lev!r} must be a heatmap.leverage.Leverage (with .sample and .max_leverage)"
            )
        lmax = float(lev.max_leverage)
        inv_mmr = 1.0 / out["mmr"] if out["mmr"] > 0 else math.inf
        if not lmax < inv_mmr:
            raise ValueError(
                f"{name}: max_leverage={lmax:g} must be below 1/mmr = {inv_mmr:g} (mmr={out['mmr']:g}), "
                "otherwise fresh positions would start at or beyond their liquidation price"
            )
        if schedule is not None and lmax > float(schedule.max_leverage):
            raise ValueError(
                f"{name}: max_leverage={lmax:g} exceeds the schedule's max leverage {float(schedule.max_leverage):g}"
            )
        out[name] = lev
    return out


# ----------------------------------------------------------------------------------------------------------------
# simulation
# ----------------------------------------------------------------------------------------------------------------


def _fmt_freq(td: pd.Timedelta) -> str:
    secs = int(td.total_seconds())
    for unit, size in (("D", 86_400), ("h", 3_600), ("min", 60)):
        if secs % size == 0:
            return f"{secs // size}{unit}"
    return f"{secs}s"


def _settlements_per_bar(times_ns: np.ndarray, bar_ns: int) -> np.ndarray:
    """Number of 00/08/16 UTC settlement instants in each bar's interval [t, t + bar)."""
    period = _SETTLEMENT.value
    return (-((-(times_ns + bar_ns)) // period) - (-((-times_ns) // period))).astype(np.int64)


def _price_path(p: dict[str, Any], n_tot: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Exogenous log-price sub-path (before liquidation impact), shape (n_tot, K+1), and per-bar vol [-]."""
    k = p["substeps"]
    bar_days = p["freq"] / _DAY
    dt = bar_days / k
    lam, js = p["jump_intensity"], p["jump_size"]
    diff_var_day = p["daily_vol"] ** 2 - lam * js**2
    sigma_bar = math.sqrt(diff_var_day * bar_days)
    z = rng.standard_normal((n_tot, k))
    # GARCH-like log-volatility: driven by the previous bar's standardized absolute return.
    shock = np.abs(z.sum(axis=1) / math.sqrt(k))
    eps = (shock - _SQRT_2_PI) / math.sqrt(1.0 - 2.0 / math.pi)
    phi = 0.5 ** (bar_days / p["vol_half_life"])
    s = p["vol_of_vol"]
    drive = np.concatenate([[0.0], eps[:-1]]) * s * math.sqrt(1.0 - phi**2)
    x = lfilter([1.0], [1.0, -phi], drive)  # AR(1) in log volatility, stationary sd = vol_of_vol
    sig = sigma_bar * np.exp(x - s**2)
    inc = (sig[:, None] / math.sqrt(k)) * z - 0.5 * (sig[:, None] ** 2) / k
    if lam > 0 and js > 0:
        n_jumps = rng.poisson(lam * dt, size=(n_tot, k))
        jumps = rng.standard_normal((n_tot, k)) * js * np.sqrt(n_jumps)
        comp = lam * dt * (math.exp(0.5 * js**2) - 1.0)
        inc += jumps - comp
    cum = np.cumsum(inc.ravel()).reshape(n_tot, k)
    path = np.empty((n_tot, k + 1))
    path[:, 1:] = cum
    path[0, 0] = 0.0
    path[1:, 0] = cum[:-1, -1]
    return path, sig


class _Working:
    """Open contracts as parallel arrays (the hot loop touches only these)."""

    __slots__ = ("n", "pid", "key_long", "key_short", "exit_bar", "qty", "spec_long", "dead")

    def __init__(self, capacity: int) -> None:
        self.n = 0
        self.pid = np.empty(capacity, np.int64)
        self.key_long = np.empty(capacity)
        self.key_short = np.empty(capacity)
        self.exit_bar = np.empty(capacity, np.int64)
        self.qty = np.empty(capacity)
        self.spec_long = np.empty(capacity, bool)
        self.dead = np.empty(capacity, bool)

    def append(
        self, pid: np.ndarray, kl: np.ndarray, ks: np.ndarray, ex: np.ndarray, q: np.ndarray, sl: np.ndarray
    ) -> None:
        m = pid.size
        if self.n + m > self.pid.size:
            cap = max(2 * self.pid.size, self.n + m)
            for name in ("pid", "key_long", "key_short", "exit_bar", "qty", "spec_long", "dead"):
                old = getattr(self, name)
                new = np.empty(cap, old.dtype)
                new[: self.n] = old[: self.n]
                setattr(self, name, new)
        sl_ = slice(self.n, self.n + m)
        self.pid[sl_] = pid
        self.key_long[sl_] = kl
        self.key_short[sl_] = ks
        self.exit_bar[sl_] = ex
        self.qty[sl_] = q
        self.spec_long[sl_] = sl
        self.dead[sl_] = False
        self.n += m

    def compact(self, b: int) -> None:
        n = self.n
        keep = np.flatnonzero((self.exit_bar[:n] > b) & ~self.dead[:n])
        m = keep.size
        for name in ("pid", "key_long", "key_short", "exit_bar", "qty", "spec_long", "dead"):
            arr = getattr(self, name)
            arr[:m] = arr[keep]
        self.n = m

    def alive(self, idx: np.ndarray, b: int) -> np.ndarray:
        return idx[(self.exit_bar[idx] > b) & ~self.dead[idx]]


def simulate_world(days: float = 30, freq: str | pd.Timedelta = "1h", seed: int = 0, **params: Any) -> World:
    """Simulate a perpetual-futures market from traders with known leverage.

    Parameters
    ----------
    days : float, default 30
        Length of the market [day] (after the warm-up).
    freq : str or pandas.Timedelta, default "1h"
        Bar length, a whole number of seconds from 1 minute to 1 day.
    seed : int, default 0
        Seed of the :class:`numpy.random.Generator`; equal seeds and parameters give identical worlds.
    **params
        Keyword-only world parameters (defaults in :data:`DEFAULTS`):

        leverage : Leverage, default ``Leverage.lognormal(median=12, sigma=0.9)``
            Leverage of the speculative side of every new contract [-].
        passive_leverage : Leverage, default ``Leverage.lognormal(median=3, sigma=0.6)``
            Leverage of the passive side [-].
        long_bias : float in (0, 1), default 0.52
            Probability that a new contract's speculative side is long, before trend following.
        trend_following : float in [0, 0.5], default 0.15
            Added to ``long_bias`` times tanh(last day's log return / daily_vol); the result is clipped to
            [0.02, 0.98].
        start_price : float > 0, default 60000
            Open of the first market bar [quote].
        start : timestamp-like, default "2025-01-01"
            Open time of the first market bar (UTC).
        daily_vol : float in (0, 0.5], default 0.03
            Unconditional standard deviation of daily log returns, diffusion plus jumps [-].
        vol_of_vol : float in [0, 1.5], default 0.35
            Stationary standard deviation of log volatility [-].
        vol_half_life : float > 0, default 2
            Half-life of volatility shocks [day].
        jump_intensity : float >= 0, default 0.5
            Expected number of price jumps per day [1/day].
        jump_size : float in [0, 0.5], default 0.012
            Standard deviation of a jump's log return [-].
        turnover : float in (0, 1), default 0.5
            Average share of open contracts closed by random exits (and replaced) per day [1/day].
        exit_elasticity : float in [0, 3], default 1
            A contract's exit hazard is proportional to (speculative leverage)^exit_elasticity (normalised to
            average ``turnover``): high-leverage traders hold for shorter times. 0 gives one hazard for all.
        oi_target : float > 0, default 80000
            Level around which open interest wanders [base].
        oi_vol : float in [0, 1], default 0.1
            Standard deviation of the log open-interest target [-] (half-life 3 days).
        volume_per_oi : float >= 0, default 3
            Background traded volume per day as a multiple of open interest (trading that does not change open
            interest), on top of opening, closing and liquidation volume [-].
        impact : float in [0, 0.05], default 0.0005
            Log-price move caused by liquidating 1 % of ``oi_target`` (longs push down, shorts up); 0 disables
            cascades [-]. Values above about 0.005 produce runaway cascades that can wipe out the book.
        mmr : float in [0, 0.5], default 0.004
            Maintenance-margin rate of every position [fraction]. Mutually exclusive with ``schedule``.
        schedule : MarginSchedule, optional
            Bracket table (linear); every position uses its first bracket (small traders).
        funding_base : float, default 0.0001
            Funding rate with balanced speculative demand [fraction per 8 h].
        funding_sensitivity : float, default 0.0005
            Funding rate per unit of speculative imbalance (long - short)/(long + short) [fraction per 8 h].
        funding_noise : float, default 0.00003
            Standard deviation of the premium's noise [fraction per 8 h].
        funding_cap : float, default ``mmr``
            Clamp of each settlement's rate [fraction].
        substeps : int, default 12
            Sub-steps of the intrabar path (entries, extrema and liquidations happen on it).
        cohorts_per_bar : int, optional
            Contracts (each a long and a short cohort) opened per bar. Default ``round(4 * sqrt(bar / 1 h))``
            clipped to [1, 16]: 1 for 1-5 minute bars, 4 for hourly, 16 for daily bars.
        warmup : float >= 0, default 5
            Days simulated before ``start`` (discarded from the market) so the book starts populated [day].

    Returns
    -------
    World

    Raises
    ------
    ValueError
        Naming the parameter, its value and the allowed range, for any bad or unknown parameter.

    Examples
    --------
    >>> w = simulate_world(days=2, freq="15min", seed=42, impact=0.0)
    >>> len(w.market)
    192
    >>> bool((w.liquidations["price"] > 0).all())
    True
    """
    p = _resolve(days, freq, seed, params)
    rng = np.random.default_rng(p["seed"])
    td: pd.Timedelta = p["freq"]
    bar_ns = int(td.value)
    bar_days = td / _DAY
    n = p["n_bars"]
    w = int(round(p["warmup"] / bar_days))
    n_tot = n + w
    k = p["substeps"]
    cpb = p["cohorts_per_bar"]
    m_pairs = n_tot * cpb
    mmr = p["mmr"]
    schedule = p["schedule"]

    times_ns = p["start"].value + (np.arange(n_tot, dtype=np.int64) - w) * bar_ns
    n_settle = _settlements_per_bar(times_ns, bar_ns)

    # --- exogenous draws (order fixed: determinism per seed) -----------------------------------------------
    path, sig = _price_path(p, n_tot, rng)
    epath = np.exp(path, out=path)  # price relative to the warm-up start, before liquidation impact
    elow = epath.min(axis=1)
    ehigh = epath.max(axis=1)

    lev_spec = np.asarray(p["leverage"].sample(m_pairs, rng), dtype=float)
    lev_pass = np.asarray(p["passive_leverage"].sample(m_pairs, rng), dtype=float)
    if lev_spec.shape != (m_pairs,) or lev_pass.shape != (m_pairs,):
        raise ValueError("leverage.sample(n, rng) must return n values")
    sub_j = rng.integers(0, k, size=m_pairs)
    # per contract: raw entry price and the extrema of the rest of its bar after entry (before impact)
    pair_bar = np.repeat(np.arange(n_tot), cpb)
    esuf_min = np.minimum.accumulate(epath[:, ::-1], axis=1)[:, ::-1]  # esuf_min[b, j] = min(epath[b, j:])
    after_min = esuf_min[pair_bar, sub_j + 1]
    del esuf_min
    esuf_max = np.maximum.accumulate(epath[:, ::-1], axis=1)[:, ::-1]
    after_max = esuf_max[pair_bar, sub_j + 1]
    del esuf_max
    entry_raw = epath[pair_bar, sub_j]
    u_side = rng.random(m_pairs)
    # exit hazard per contract: turnover scaled by (speculative leverage)^exit_elasticity, mean-normalised
    tilt = lev_spec ** p["exit_elasticity"]
    tilt /= tilt.mean()
    h_pair = -np.expm1(math.log1p(-p["turnover"]) * tilt * bar_days)
    life = rng.geometric(np.clip(h_pair, 1e-12, 1.0), size=m_pairs).astype(np.int64)
    h_bar = 1.0 - (1.0 - p["turnover"]) ** bar_days
    open_noise = np.exp(0.5 * rng.standard_normal(n_tot) - 0.125)
    funding_eps = rng.standard_normal(n_tot) * p["funding_noise"]
    phi_oi = 0.5 ** (bar_days / _OI_TARGET_HALF_LIFE_DAYS)
    y = lfilter([p["oi_vol"] * math.sqrt(1.0 - phi_oi**2)], [1.0, -phi_oi], rng.standard_normal(n_tot))
    oi_tgt = p["oi_target"] * np.exp(y - 0.5 * p["oi_vol"] ** 2)
    bg_noise = rng.random(n_tot)
    kappa = 1.0 - 0.5 ** (bar_days * 24.0 / _OI_ADJUST_HALF_LIFE_HOURS)

    # liquidation price per unit entry price (a position's LP is proportional to its entry)
    def ratio(lev: np.ndarray, side: str) -> np.ndarray:
        if schedule is not None:
            return np.asarray(liquidation_price(1.0, lev, side, schedule=schedule), dtype=float)
        return np.asarray(liquidation_price(1.0, lev, side, mmr=mmr), dtype=float)

    r_long_spec, r_short_spec = ratio(lev_spec, "long"), ratio(lev_spec, "short")
    r_long_pass, r_short_pass = ratio(lev_pass, "long"), ratio(lev_pass, "short")
    shift_long_per = float(funding_shift(1.0, 1.0, "long", mmr))  # per unit rate and price
    shift_short_per = float(funding_shift(1.0, 1.0, "short", mmr))

    # --- per-contract records (entries and qty are filled in after the loop where they follow from per-bar data)
    pair_life_end = pair_bar + life  # bar at whose start the contract exits, unless liquidated before
    exit_c = np.minimum(pair_life_end, n_tot)
    entry = np.zeros(m_pairs)
    entry_set = np.zeros(m_pairs, bool)  # entries written explicitly (bars with liquidations)
    spec_long = np.zeros(m_pairs, bool)
    end_bar = pair_life_end.copy()
    end_sub = np.zeros(m_pairs, np.int64)
    end_kind = np.zeros(m_pairs, np.int8)  # 0 exit/open, 1 long liquidated, 2 short liquidated

    # --- per-bar records ------------------------------------------------------------------------------------
    o_ = np.empty(n_tot)
    h_ = np.empty(n_tot)
    l_ = np.empty(n_tot)
    c_ = np.empty(n_tot)
    oi_ = np.empty(n_tot)
    fr_ = np.zeros(n_tot)
    cl_ = np.empty(n_tot)
    cs_ = np.empty(n_tot)
    eoff_ = np.empty(n_tot)  # impact factor exp(off) at each bar's open
    qnew_ = np.empty(n_tot)  # quantity opened per bar [base]
    exits_ = np.empty(n_tot)  # quantity closed by random exits per bar [base]
    liq_ = np.zeros(n_tot)  # quantity liquidated per bar [base]
    liq_buy_ = np.zeros(n_tot)  # of which shorts (forced buys) [base]
    exit_qty = np.zeros(n_tot + 1)  # qty of contracts scheduled to exit at the start of bar b
    ev_bar: list[np.ndarray] = []
    ev_sub: list[np.ndarray] = []
    ev_side: list[np.ndarray] = []
    ev_price: list[np.ndarray] = []
    ev_qty: list[np.ndarray] = []
    ev_pid: list[np.ndarray] = []

    wk = _Working(max(1024, 4 * cpb * int(min(n_tot, 3.0 / h_bar))))
    off = 0.0  # cumulative impact on the log price
    c_long = 0.0  # cumulative funding shift of long liquidation prices [price units]
    c_short = 0.0
    oi_run = 0.0
    bars_per_day = max(1, int(round(1.0 / bar_days)))
    log_open = np.empty(n_tot)
    imp = p["impact"] / (0.01 * p["oi_target"])
    cap = p["funding_cap"]
    lb, tf, dv = p["long_bias"], p["trend_following"], p["daily_vol"]

    def kill(idx_w: np.ndarray, side: int, b: int, sub: int, c_side: float, key: np.ndarray) -> float:
        """Liquidate working rows idx_w on `side` (1 long, 2 short); the contracts close; return their qty."""
        pid = wk.pid[idx_w]
        q = wk.qty[idx_w]
        wk.dead[idx_w] = True
        end_bar[pid] = b
        end_sub[pid] = sub
        end_kind[pid] = side
        np.subtract.at(exit_qty, exit_c[pid], q)
        ev_bar.append(np.full(pid.size, b))
        ev_sub.append(np.full(pid.size, sub))
        ev_side.append(np.full(pid.size, side, np.int8))
        ev_price.append(key[idx_w] + c_side)
        ev_qty.append(q)
        ev_pid.append(pid)
        return float(q.sum())

    for b in range(n_tot):
        e_off = math.exp(off)
        eoff_[b] = e_off
        lo0 = math.log(epath[b, 0]) + off
        log_open[b] = lo0
        p_open = epath[b, 0] * e_off
        # 1. exits scheduled for the start of this bar
        exits_b = exit_qty[b]
        exits_[b] = exits_b
        oi_run -= exits_b
        # 2. funding settlement at the bar's open
        if n_settle[b]:
            nn = wk.n
            alive = (wk.exit_bar[:nn] > b) & ~wk.dead[:nn]
            q_alive = wk.qty[:nn][alive]
            sl = wk.spec_long[:nn][alive]
            tot = float(q_alive.sum())
            imb = (2.0 * float(q_alive[sl].sum()) - tot) / tot if tot > 0 else 0.0
            rate1 = min(max(p["funding_base"] + p["funding_sensitivity"] * imb + funding_eps[b], -cap), cap)
            rate = rate1 * int(n_settle[b])
            fr_[b] = rate
            c_long += shift_long_per * rate * p_open
            c_short += shift_short_per * rate * p_open
        cl_[b] = c_long
        cs_[b] = c_short
        # 3. new contracts: replace this bar's exits (noisy) and close part of the gap between the target and
        #    the open interest before those exits, so that the mean level is the target at any bar length
        q_new = max(0.0, exits_b * open_noise[b] + kappa * (oi_tgt[b] - oi_run - exits_b))
        qnew_[b] = q_new
        q_each = q_new / cpb
        i0 = b * cpb
        ids = slice(i0, i0 + cpb)
        r_trail = lo0 - log_open[max(b - bars_per_day, 0)]
        p_long = min(max(lb + tf * math.tanh(r_trail / dv), 0.02), 0.98)
        sl_new = u_side[ids] < p_long
        spec_long[ids] = sl_new
        rl = np.where(sl_new, r_long_spec[ids], r_long_pass[ids])
        rs = np.where(sl_new, r_short_pass[ids], r_short_spec[ids])
        ex_new = pair_life_end[ids]
        np.add.at(exit_qty, exit_c[ids], q_each)

        # 4. does anything get liquidated in this bar?
        low_p = elow[b] * e_off
        high_p = ehigh[b] * e_off
        nn = wk.n
        cand_l = cand_s = _NO_ROWS
        if nn:  # cheap reductions first; most bars liquidate nobody
            if wk.key_long[:nn].max() >= low_p - c_long:
                cand_l = wk.alive(np.flatnonzero(wk.key_long[:nn] >= low_p - c_long), b)
            if wk.key_short[:nn].min() <= high_p - c_short:
                cand_s = wk.alive(np.flatnonzero(wk.key_short[:nn] <= high_p - c_short), b)
        e_new = entry_raw[ids] * e_off
        lpl_new = e_new * rl
        lps_new = e_new * rs
        if (
            cand_l.size == 0
            and cand_s.size == 0
            and not (lpl_new >= after_min[ids] * e_off).any()
            and not (lps_new <= after_max[ids] * e_off).any()
        ):
            o_[b], h_[b], l_[b], c_[b] = p_open, high_p, low_p, epath[b, k] * e_off
            wk.append(np.arange(i0, i0 + cpb), lpl_new - c_long, lps_new - c_short, ex_new, q_each, sl_new)
        else:
            # sequential pass over the sub-steps: cascades, entries at post-impact prices
            jn = sub_j[ids]
            wk.append(
                np.arange(i0, i0 + cpb), np.full(cpb, -np.inf), np.full(cpb, np.inf), ex_new, q_each, sl_new
            )
            new_rows = np.arange(wk.n - cpb, wk.n)
            thr_l, thr_s = low_p, high_p
            lo_p, hi_p = p_open, p_open
            pk = p_open
            for kk in range(k + 1):
                pk = epath[b, kk] * e_off
                lo_p, hi_p = min(lo_p, pk), max(hi_p, pk)
                while True:
                    nn = wk.n
                    if pk < thr_l:
                        thr_l = pk
                        cand_l = wk.alive(np.flatnonzero(wk.key_long[:nn] >= thr_l - c_long), b)
                    if pk > thr_s:
                        thr_s = pk
                        cand_s = wk.alive(np.flatnonzero(wk.key_short[:nn] <= thr_s - c_short), b)
                    cand_l = cand_l[~wk.dead[cand_l]]
                    cand_s = cand_s[~wk.dead[cand_s]]
                    hl = cand_l[wk.key_long[cand_l] + c_long >= pk]
                    hs = cand_s[wk.key_short[cand_s] + c_short <= pk]
                    if hl.size == 0 and hs.size == 0:
                        break
                    ql = qs = 0.0
                    if hl.size:
                        ql = kill(hl, 1, b, kk, c_long, wk.key_long)
                    if hs.size:
                        qs = kill(hs, 2, b, kk, c_short, wk.key_short)
                    liq_[b] += ql + qs
                    liq_buy_[b] += qs
                    oi_run -= ql + qs
                    if imp == 0.0:
                        break
                    off -= imp * (ql - qs)
                    e_off = math.exp(off)
                    pk = epath[b, kk] * e_off
                    lo_p, hi_p = min(lo_p, pk), max(hi_p, pk)
                if kk < k:
                    opening = np.flatnonzero(jn == kk)
                    if opening.size:
                        rows = new_rows[opening]
                        pid = i0 + opening
                        entry[pid] = pk
                        entry_set[pid] = True
                        wk.key_long[rows] = pk * rl[opening] - c_long
                        wk.key_short[rows] = pk * rs[opening] - c_short
                        # new rows become candidates when they are within this bar's thresholds
                        cand_l = np.concatenate([cand_l, rows[wk.key_long[rows] + c_long >= thr_l]])
                        cand_s = np.concatenate([cand_s, rows[wk.key_short[rows] + c_short <= thr_s]])
            o_[b], h_[b], l_[b], c_[b] = p_open, hi_p, lo_p, pk
        oi_run += q_new
        oi_[b] = oi_run
        if (b + 1) % _COMPACT_EVERY == 0:
            wk.compact(b)

    # --- per-contract values that follow from per-bar data ---------------------------------------------------
    entry = np.where(entry_set, entry, entry_raw * eoff_[pair_bar])
    qty = qnew_[pair_bar] / cpb
    lp0_long = entry * np.where(spec_long, r_long_spec, r_long_pass)
    lp0_short = entry * np.where(spec_long, r_short_pass, r_short_spec)
    drift0_long = cl_[pair_bar]
    drift0_short = cs_[pair_bar]

    # --- volume [base]: opening, closing (exits), liquidations, background trading ----------------------------
    exited = (end_kind == 0) & (end_bar < n_tot)
    exits_spec_long = np.bincount(end_bar[exited], (qty * spec_long)[exited], n_tot)
    new_spec_long = np.bincount(pair_bar, qty * spec_long, n_tot)
    r_bar = np.log(c_ / o_)
    bg = (
        p["volume_per_oi"]
        * np.maximum(oi_, 0.0)
        * bar_days
        * (sig / math.sqrt(dv**2 * bar_days))
        * (0.5 + bg_noise)
    )
    buy_share = 0.5 + 0.25 * np.tanh(r_bar / sig)
    vol_ = qnew_ + exits_ + liq_ + bg
    tb_ = new_spec_long + (exits_ - exits_spec_long) + liq_buy_ + bg * buy_share

    return _assemble(
        p,
        w=w,
        n_tot=n_tot,
        times_ns=times_ns,
        bars=(o_, h_, l_, c_, oi_, fr_, vol_, tb_, cl_, cs_, log_open),
        pairs=(
            entry,
            qty,
            spec_long,
            end_bar,
            end_sub,
            end_kind,
            lp0_long,
            lp0_short,
            drift0_long,
            drift0_short,
        ),
        levs=(lev_spec, lev_pass, sub_j),
        events=(ev_bar, ev_sub, ev_side, ev_price, ev_qty, ev_pid),
    )


def _cat(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.empty(0, dtype)


def _assemble(
    p: dict[str, Any],
    *,
    w: int,
    n_tot: int,
    times_ns: np.ndarray,
    bars: tuple[np.ndarray, ...],
    pairs: tuple[np.ndarray, ...],
    levs: tuple[np.ndarray, ...],
    events: tuple[list[np.ndarray], ...],
) -> World:
    o_, h_, l_, c_, oi_, fr_, vol_, tb_, cl_, cs_, log_open = bars
    entry, qty, spec_long, end_bar, end_sub, end_kind, lp0_long, lp0_short, d0_long, d0_short = pairs
    lev_spec, lev_pass, sub_j = levs
    td: pd.Timedelta = p["freq"]
    bar_ns = int(td.value)
    k = p["substeps"]
    scale = p["start_price"] / math.exp(log_open[w])
    mk = slice(w, n_tot)
    index = pd.DatetimeIndex(pd.to_datetime(times_ns[mk], utc=True), name="time")
    frame = pd.DataFrame(
        {
            "open": o_[mk] * scale,
            "high": h_[mk] * scale,
            "low": l_[mk] * scale,
            "close": c_[mk] * scale,
            # the running sum can end a hair below zero when every position is gone: rounding, not data
            "open_interest": np.where(np.abs(oi_[mk]) < 1e-9 * p["oi_target"], 0.0, oi_[mk]),
            "funding_rate": fr_[mk],
            "volume": vol_[mk],
            "taker_buy_volume": np.minimum(tb_[mk], vol_[mk]),
        },
        index=index,
    )
    # exact OHLC consistency after scaling (open/close are path points, high/low their extrema)
    frame["high"] = np.maximum.reduce([frame["high"], frame["open"], frame["close"]])
    frame["low"] = np.minimum.reduce([frame["low"], frame["open"], frame["close"]])
    market = Market.from_frame(frame, symbol="SYNTHUSDT", venue="synthetic", freq=td)

    drift = pd.DataFrame({"long": cl_[mk] * scale, "short": cs_[mk] * scale}, index=index)

    # book: two rows per contract
    m = entry.size
    pid = np.arange(m)
    open_bar = pid // p["cohorts_per_bar"] - w
    close_bar = np.minimum(end_bar, n_tot) - w
    still_open = (end_kind == 0) & (end_bar >= n_tot)
    entry_ns = times_ns[0] + (open_bar + w) * bar_ns + (sub_j * bar_ns) // k
    close_ns = (
        times_ns[0]
        + (close_bar + w) * bar_ns
        + np.where(end_kind > 0, ((2 * end_sub - 1).clip(0) * bar_ns) // (2 * k), 0)
    )
    lev_long = np.where(spec_long, lev_spec, lev_pass)
    lev_short = np.where(spec_long, lev_pass, lev_spec)
    status_long = np.where(still_open, "open", np.where(end_kind == 1, "liquidated", "closed"))
    status_short = np.where(still_open, "open", np.where(end_kind == 2, "liquidated", "closed"))
    entry_times = pd.to_datetime(entry_ns, utc=True)
    close_times = pd.to_datetime(np.where(still_open, np.iinfo(np.int64).min, close_ns), utc=True)
    book = pd.DataFrame(
        {
            "pair": np.concatenate([pid, pid]),
            "side": np.repeat(np.array(["long", "short"]), m),
            "speculative": np.concatenate([spec_long, ~spec_long]),
            "entry_time": entry_times.append(entry_times),
            "entry": np.concatenate([entry, entry]) * scale,
            "leverage": np.concatenate([lev_long, lev_short]),
            "qty": np.concatenate([qty, qty]),
            "liquidation_price": np.concatenate([lp0_long, lp0_short]) * scale,
            "entry_drift": np.concatenate([d0_long, d0_short]) * scale,
            "open_bar": np.concatenate([open_bar, open_bar]),
            "close_bar": np.concatenate([close_bar, close_bar]),
            "close_time": close_times.append(close_times),
            "status": np.concatenate([status_long, status_short]),
        }
    )
    book = book.loc[book["qty"].to_numpy() > 0].reset_index(drop=True)

    ev_bar = _cat(events[0], np.int64)
    ev_sub = _cat(events[1], np.int64)
    ev_side = _cat(events[2], np.int8)
    ev_price = _cat(events[3], float) * scale
    ev_qty = _cat(events[4], float)
    ev_pid = _cat(events[5], np.int64)
    keep = (ev_bar >= w) & (ev_qty > 0)
    ev_bar, ev_sub, ev_side, ev_price, ev_qty, ev_pid = (
        a[keep] for a in (ev_bar, ev_sub, ev_side, ev_price, ev_qty, ev_pid)
    )
    ev_time = times_ns[ev_bar] + ((2 * ev_sub - 1).clip(0) * bar_ns) // (2 * k)
    liquidations = pd.DataFrame(
        {
            "time": pd.to_datetime(ev_time, utc=True),
            "bar": pd.to_datetime(times_ns[ev_bar], utc=True),
            "side": np.where(ev_side == 1, "long", "short"),
            "price": ev_price,
            "qty": ev_qty,
            "notional": ev_qty * ev_price,
            "pair": ev_pid,
        }
    )
    liquidations = liquidations.sort_values(["time", "pair"], kind="stable").reset_index(drop=True)

    params = {key: p[key] for key in p}
    params.update(
        {
            "warmup_bars": w,
            "price_scale": scale,
        }
    )
    world = World(
        market=market,
        liquidations=liquidations,
        positions=pd.DataFrame(),
        book=book,
        funding_drift=drift,
        params=params,
    )
    object.__setattr__(world, "positions", world._book_at(n_tot - w - 1))
    return world


def synthetic_market(
    days: float = 30, freq: str | pd.Timedelta = "1h", seed: int = 0, **params: Any
) -> Market:
    """The market of :func:`simulate_world` (the package's embedded example data).

    Parameters
    ----------
    days, freq, seed, **params
        As for :func:`simulate_world`.

    Returns
    -------
    Market

    Examples
    --------
    >>> m = synthetic_market(days=7, freq="4h", seed=7)
    >>> len(m), str(m.freq)
    (42, '0 days 04:00:00')
    """
    return simulate_world(days, freq, seed, **params).market
