"""Model: the frozen, validated configuration of every assumption an estimate makes.

A :class:`Model` says which leverage the speculative and the passive side of each new contract use, how new open
interest is split between sides, where in the bar positions enter, how they leave, and which exchange margin
schedule applies. It holds no data and computes nothing heavy; the engines read it.

The one formula that lives here is :func:`speculative_long_share`, the per-bar share of new *long* open interest
that is speculative (leveraged with :attr:`Model.leverage`); the rest of the new longs — and the complementary
share of new shorts — get :attr:`Model.passive_leverage`.

Examples
--------
>>> from heatmap.leverage import Leverage
>>> m = Model(leverage=Leverage.lognormal(median=12, sigma=0.9), entry="close")
>>> m.replace(turnover=0.1).turnover
0.1
>>> Model.from_dict(m.to_dict()) == m
True
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np
import pandas as pd
from scipy import stats

from heatmap.leverage import Leverage

if TYPE_CHECKING:
    from heatmap.exchanges import MarginSchedule

__all__ = [
    "Model",
    "IneffectiveSettingWarning",
    "warn_ineffective",
    "PRESETS",
    "long_share_arrays",
    "speculative_long_share",
    "CANDLE_SHARPNESS",
    "TAKER_SHARPNESS",
    "DEFAULT_TURNOVER",
]

SideSplit = Literal["even", "candle", "taker", "funding"]
Entry = Literal["close", "typical", "triangular"]
Exit = Literal["proportional", "oldest", "profitable", "nearest"]

CANDLE_SHARPNESS = 5.0
"""``κ`` of the candle split: ``d = tanh(κ·b)/tanh(κ)`` with ``b`` the body as a fraction of the range."""
TAKER_SHARPNESS = 10.0
"""``κ`` of the taker split: ``d = tanh(κ·i)/tanh(κ)`` with ``i`` the taker buy/sell imbalance in [−1, 1]."""
DEFAULT_TURNOVER = 0.05
"""Default share of bar volume that opens new positions and closes as many old ones (see :class:`Model`)."""


def _default_leverage() -> Leverage:
    return Leverage.preset("default")


def _default_passive() -> Leverage:
    return Leverage.lognormal(median=3.0, sigma=0.6, max_leverage=125.0)


def _is_real(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name}: got {value!r}; allowed are {list(allowed)}")


def _schedule_type() -> type | None:
    try:
        from heatmap.exchanges import MarginSchedule
    except ImportError:  # pragma: no cover - exchanges ships with the package
        return None
    return MarginSchedule


@dataclass(frozen=True, kw_only=True, repr=False)
class Model:
    """All assumptions of a liquidation-heatmap estimate (frozen, keyword-only, validated).

    Parameters
    ----------
    leverage : Leverage, default ``Leverage.preset("default")``
        Leverage of the *speculative* side of new open interest (notional-weighted).
    passive_leverage : Leverage, default lognormal median 3x, sigma 0.6, <= 125x
        Leverage of the other side of each new contract — market makers, basis/carry traders and hedgers who take
        the opposite side of speculative flow. They run low, often cross-margined effective leverage (Binance
        2019: institutions, 81 % of volume, use <= 20x; Hyperliquid 2025: 85 % of OI at <= 7x, 36 % at <= 3x),
        so their levels sit far from price and barely shape the map near it: median 3x, 90 % below ≈ 6.5x.
    side_split : {"even", "candle", "taker", "funding"}, default "candle"
        How the engine decides, per bar, which side of new open interest is speculative; see
        :func:`speculative_long_share` for the exact mapping.
    split_strength : float in [0, 1], default 0.5
        0 = even split in every bar; 1 = the signal can make all speculative OI one side.
    entry : {"close", "typical", "triangular"}, default "triangular"
        Entry prices within a bar: the close, the typical price ``(H + L + C)/3``, or a triangular density on
        ``[low, high]`` with mode at the close.
    exit : {"proportional", "oldest", "profitable", "nearest"}, default "proportional"
        Which positions a fall in open interest closes.
    funding : bool, default True
        Drift liquidation prices with settled funding.
    turnover : float >= 0, default 0.05
        Share of each bar's traded volume [base] that opens new positions at this bar's prices and closes as many
        old ones (open interest unchanged). Ignored when the market has no ``volume`` column. The default 0.05
        with Binance BTCUSDT's daily volume ≈ 2.2 × Binance stablecoin-margined BTC open interest (median day,
        Nov 2024 – May 2025) replaces ≈ 11 % of open interest a day: a mean position life of ≈ 9 days.
    decay_half_life : pandas.Timedelta, str or None, default None
        Half-life of silent exits (positions re-margined, hedged or closed elsewhere); strings like ``"7D"``
        are parsed with :class:`pandas.Timedelta`. ``None`` = no decay.
    schedule : MarginSchedule or None, default None
        Maintenance-margin brackets; ``None`` means Binance USDⓈ-M BTCUSDT
        (``heatmap.exchanges.get("binance-usdm", "BTCUSDT")``, see :meth:`resolved_schedule`).
    position_size : distribution or None, default None
        Distribution of position notional [quote] used to mix margin brackets: a frozen continuous
        ``scipy.stats`` distribution (e.g. ``stats.lognorm(2.0, scale=20_000)``) or a :class:`Leverage` used as
        a generic distribution (e.g. ``Leverage.tiers({5_000: 0.7, 250_000: 0.3})`` for discrete sizes).
        ``None`` = every position in the first bracket.
    max_leverage_from_schedule : bool, default True
        Truncate both leverage distributions at the schedule's maximum leverage.

    Examples
    --------
    >>> Model().side_split, Model().entry
    ('candle', 'triangular')
    >>> Model(split_strength=2.0)
    Traceback (most recent call last):
    ...
    ValueError: split_strength: got 2.0; allowed is a number in [0, 1]
    """

    leverage: Leverage = field(default_factory=_default_leverage)
    passive_leverage: Leverage = field(default_factory=_default_passive)
    side_split: SideSplit = "candle"
    split_strength: float = 0.5
    entry: Entry = "triangular"
    exit: Exit = "proportional"
    funding: bool = True
    turnover: float = DEFAULT_TURNOVER
    decay_half_life: pd.Timedelta | None = None
    schedule: MarginSchedule | None = None
    position_size: Any = None
    max_leverage_from_schedule: bool = True

    def __post_init__(self) -> None:
        for name in ("leverage", "passive_leverage"):
            value = getattr(self, name)
            if not isinstance(value, Leverage):
                raise ValueError(
                    f"{name}: got {value!r}; allowed is a heatmap.Leverage (e.g. Leverage.preset(...))"
                )
        _choice("side_split", self.side_split, get_args(SideSplit))
        if not _is_real(self.split_strength) or not 0.0 <= float(self.split_strength) <= 1.0:
            raise ValueError(f"split_strength: got {self.split_strength!r}; allowed is a number in [0, 1]")
        object.__setattr__(self, "split_strength", float(self.split_strength))
        _choice("entry", self.entry, get_args(Entry))
        _choice("exit", self.exit, get_args(Exit))
        for name in ("funding", "max_leverage_from_schedule"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name}: got {getattr(self, name)!r}; allowed is True or False")
            object.__setattr__(self, name, bool(getattr(self, name)))
        if not _is_real(self.turnover) or not math.isfinite(float(self.turnover)) or float(self.turnover) < 0:
            raise ValueError(f"turnover: got {self.turnover!r}; allowed is a finite number >= 0")
        object.__setattr__(self, "turnover", float(self.turnover))
        object.__setattr__(self, "decay_half_life", _half_life(self.decay_half_life))
        if self.schedule is not None:
            cls = _schedule_type()
            if cls is not None and not isinstance(self.schedule, cls):
                raise ValueError(
                    f"schedule: got {type(self.schedule).__name__}; allowed is None or a heatmap.MarginSchedule "
                    "(e.g. heatmap.exchanges.get('binance-usdm', 'BTCUSDT'))"
                )
            if self.max_leverage_from_schedule:
                top = float(self.schedule.max_leverage)
                for name in ("leverage", "passive_leverage"):
                    lev = getattr(self, name)
                    if float(lev.cdf(top)) <= 0.0:
                        raise ValueError(
                            f"{name}: {lev!r} has no mass at or below the schedule's maximum leverage {top:g}x "
                            f"({self.schedule.venue} {self.schedule.symbol}); allowed are laws with mass <= {top:g}x, "
                            "or pass max_leverage_from_schedule=False"
                        )
        _check_position_size(self.position_size)

    # ------------------------------------------------------------------ convenience
    def replace(self, **changes: Any) -> Model:
        """A copy with ``changes`` applied and validated again.

        Examples
        --------
        >>> Model().replace(entry="close").entry
        'close'
        """
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ValueError(f"replace: unknown field(s) {unknown}; allowed are {sorted(names)}")
        return dataclasses.replace(self, **changes)

    @classmethod
    def preset(cls, name: str) -> Model:
        """A named model from :data:`PRESETS` (``"default"``, ``"coinglass-like"``, ...).

        Examples
        --------
        >>> Model.preset("coinglass-like").entry
        'close'
        """
        if name not in PRESETS:
            raise ValueError(f"name: unknown model preset {name!r}; available are {sorted(PRESETS)}")
        return PRESETS[name]()

    def ineffective(
        self, market: Any = None, *, columns: Any = None, symbol: str | None = None, venue: str | None = None
    ) -> list[str]:
        """Settings that have no effect on (or do not fit) ``market``: one message each, empty when all apply.

        * ``turnover > 0`` without a ``volume`` column (turnover is a share of traded volume);
        * ``funding=True`` without a ``funding_rate`` column (nothing to drift by);
        * a margin schedule for another asset than ``market.symbol`` — also the default schedule (Binance
          USDⓈ-M BTCUSDT) under a market of another coin. Symbols are compared by base asset (``BTCUSDT``,
          ``BTCUSD_PERP`` and ``BTC`` match). Markets without a symbol, and the synthetic world (venue
          ``"synthetic"``, priced with the first BTCUSDT bracket by construction), are not compared.

        :func:`heatmap.estimate` and :meth:`Estimator.update <heatmap.engine.Estimator.update>` issue these as
        :class:`IneffectiveSettingWarning` on the first bars; turn a warning off by choosing the setting that
        says what is meant (``turnover=0``, ``funding=False``, ``schedule=exchanges.get(...)``) or with
        :func:`warnings.filterwarnings`, or make it an error with ``warnings.simplefilter("error",
        IneffectiveSettingWarning)``.

        Parameters
        ----------
        market : Market, optional
            The market (its columns, symbol and venue are used).
        columns, symbol, venue : optional
            The same facts without a Market (column names of streamed bars).

        Examples
        --------
        >>> import heatmap as lh
        >>> m = lh.synthetic_market(days=2).frame.drop(columns=["volume", "taker_buy_volume"])
        >>> Model().ineffective(lh.Market(m, symbol="ETHUSDT"))[0]  # doctest: +ELLIPSIS
        "turnover=0.05 has no effect: the market has no 'volume' column..."
        """
        if market is not None:
            columns, symbol, venue = market.columns, market.symbol, market.venue
        have = set(columns or ())
        out = []
        if self.turnover > 0 and "volume" not in have:
            out.append(
                f"turnover={self.turnover:g} has no effect: the market has no 'volume' column (turnover is a share "
                "of traded volume); pass turnover=0 to say so, or give candles with volume"
            )
        if self.funding and "funding_rate" not in have:
            out.append(
                "funding=True has no effect: the market has no 'funding_rate' column; pass funding=False to say "
                "so, or give funding rates (funding= / --funding)"
            )
        if symbol and venue != "synthetic":
            schedule = self.resolved_schedule()
            if _base_asset(schedule.symbol) != _base_asset(symbol):
                default = " (the default)" if self.schedule is None else ""
                out.append(
                    f"schedule: the margin brackets are {schedule.venue} {schedule.symbol}{default} but the market is "
                    f"{symbol}; pass schedule=heatmap.exchanges.get(...) or exchanges.load_tiers(file, "
                    f"symbol={symbol!r}) for its own brackets"
                )
        return out

    def resolved_schedule(self) -> MarginSchedule:
        """The schedule in force: :attr:`schedule`, or Binance USDⓈ-M BTCUSDT when it is ``None``."""
        if self.schedule is not None:
            return self.schedule
        from heatmap.exchanges import get

        return get("binance-usdm", "BTCUSDT")

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable description (used by checkpoints); :meth:`from_dict` rebuilds it.

        Raises
        ------
        ValueError
            When ``position_size`` is an object this module cannot describe (only scipy.stats families and
            :class:`Leverage` serialise).
        """
        return {
            "leverage": self.leverage.to_dict(),
            "passive_leverage": self.passive_leverage.to_dict(),
            "side_split": self.side_split,
            "split_strength": self.split_strength,
            "entry": self.entry,
            "exit": self.exit,
            "funding": self.funding,
            "turnover": self.turnover,
            "decay_half_life": None if self.decay_half_life is None else self.decay_half_life.isoformat(),
            "schedule": None if self.schedule is None else _schedule_to_dict(self.schedule),
            "position_size": _size_to_dict(self.position_size),
            "max_leverage_from_schedule": self.max_leverage_from_schedule,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Model:
        """Rebuild a :class:`Model` from :meth:`to_dict` output (missing keys take their defaults)."""
        if not isinstance(data, Mapping):
            raise ValueError(f"model description must be a mapping, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"model description has unknown key(s) {unknown}; allowed are {sorted(names)}")
        kw: dict[str, Any] = dict(data)
        for name in ("leverage", "passive_leverage"):
            if name in kw:
                kw[name] = Leverage.from_dict(kw[name])
        if kw.get("schedule") is not None:
            kw["schedule"] = _schedule_from_dict(kw["schedule"])
        if kw.get("position_size") is not None:
            kw["position_size"] = _size_from_dict(kw["position_size"])
        return cls(**kw)

    # ------------------------------------------------------------------ display
    def _changed(self) -> list[tuple[str, Any]]:
        default = _defaults()
        out = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in ("schedule", "position_size"):
                if value is not None:
                    out.append((f.name, value))
            elif value != getattr(default, f.name):
                out.append((f.name, value))
        return out

    def __repr__(self) -> str:
        parts = []
        for name, value in self._changed():
            if name == "decay_half_life" and value is not None:
                parts.append(f"{name}={str(value)!r}")
            elif name == "schedule":
                parts.append(f"schedule=<{value.venue} {value.symbol} {value.effective_text}>")
            else:
                parts.append(f"{name}={value!r}")
        return f"Model({', '.join(parts)})"

    def describe(self) -> str:
        """Multi-line human-readable summary of every assumption.

        Examples
        --------
        >>> print(Model().describe().splitlines()[0])
        Model assumptions
        """
        sched = (
            "Binance USDⓈ-M BTCUSDT (default)"
            if self.schedule is None
            else f"{self.schedule.venue} {self.schedule.symbol}, {self.schedule.effective_text}"
        )
        lines = [
            "Model assumptions",
            f"  leverage (speculative)  {self.leverage!r}",
            f"  passive leverage        {self.passive_leverage!r}",
            f"  side split              {self.side_split}, strength {self.split_strength:g}",
            f"  entry / exit            {self.entry} / {self.exit}",
            f"  funding drift           {'on' if self.funding else 'off'}",
            f"  turnover                {self.turnover:g} of bar volume",
            f"  decay half-life         {self.decay_half_life if self.decay_half_life is not None else 'none'}",
            f"  margin schedule         {sched}"
            + (", max leverage from schedule" if self.max_leverage_from_schedule else ""),
            f"  position size           {'first bracket' if self.position_size is None else self.position_size}",
        ]
        return "\n".join(lines)


class IneffectiveSettingWarning(UserWarning):
    """A :class:`Model` setting has no effect on the market it is applied to (see :meth:`Model.ineffective`)."""


def warn_ineffective(model: Model, market: Any = None, *, stacklevel: int = 3, **facts: Any) -> None:
    """Issue :meth:`Model.ineffective` messages as :class:`IneffectiveSettingWarning` (one per setting).

    ``stacklevel`` as in :func:`warnings.warn` (the default 3 points at the caller of the function that calls
    this one).
    """
    import warnings

    for message in model.ineffective(market, **facts):
        warnings.warn(message, IneffectiveSettingWarning, stacklevel=stacklevel)


_QUOTES = ("USDT", "USDC", "BUSD", "FDUSD", "TUSD", "USD")


def _base_asset(symbol: str) -> str:
    """``"BTCUSDT"``, ``"BTCUSD_PERP"``, ``"BTC/USDT:USDT"``, ``"BTC"`` -> ``"BTC"``."""
    s = str(symbol).upper().split("/")[0].split("_")[0].split(":")[0]
    s = s.removesuffix("-PERP").removesuffix("PERP")
    for quote in _QUOTES:
        if s.endswith(quote) and len(s) > len(quote):
            return s[: -len(quote)]
    return s


# ---------------------------------------------------------------------- field helpers
def _half_life(value: Any) -> pd.Timedelta | None:
    if value is None:
        return None
    if not isinstance(value, (str, pd.Timedelta, _dt.timedelta, np.timedelta64)):
        raise ValueError(
            f"decay_half_life: got {value!r}; allowed is None, a pandas.Timedelta or a string such as '7D'"
        )
    try:
        td = pd.Timedelta(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"decay_half_life: got {value!r}, which is not a duration ({exc})") from exc
    if td is pd.NaT or pd.isna(td) or td <= pd.Timedelta(0):
        raise ValueError(f"decay_half_life: got {value!r}; allowed is a positive duration or None")
    return td


def _check_position_size(value: Any) -> None:
    if value is None:
        return
    if not callable(getattr(value, "cdf", None)):
        raise ValueError(
            f"position_size: got {value!r}; allowed is None, a frozen scipy.stats distribution of notional "
            "[quote] or a Leverage used as a distribution"
        )
    if isinstance(value, Leverage):
        return
    dist = getattr(value, "dist", None)
    if isinstance(dist, stats.rv_continuous):
        below = float(value.cdf(0.0))
        if below > 0:
            raise ValueError(
                f"position_size: {value!r} puts probability {below:.3g} on notional <= 0 [quote]"
            )


def _size_to_dict(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, Leverage):
        return {"kind": "leverage", "leverage": value.to_dict()}
    dist = getattr(value, "dist", None)
    if isinstance(dist, stats.rv_continuous) and isinstance(getattr(stats, dist.name, None), type(dist)):
        return {
            "kind": "scipy",
            "dist": dist.name,
            "args": [float(a) for a in value.args],
            "kwds": {k: float(v) for k, v in value.kwds.items()},
        }
    raise ValueError(
        f"position_size: {value!r} cannot be serialised (use a scipy.stats family or a Leverage)"
    )


def _size_from_dict(data: Mapping[str, Any]) -> Any:
    kind = data.get("kind")
    if kind == "leverage":
        return Leverage.from_dict(data["leverage"])
    if kind == "scipy":
        dist = getattr(stats, str(data["dist"]), None)
        if not isinstance(dist, stats.rv_continuous):
            raise ValueError(f"position_size: unknown scipy.stats distribution {data['dist']!r}")
        return dist(*data.get("args", ()), **data.get("kwds", {}))
    raise ValueError(f"position_size: description kind must be 'leverage' or 'scipy', got {kind!r}")


def _schedule_to_dict(schedule: MarginSchedule) -> dict[str, Any]:
    b = schedule.brackets
    tiers = [
        [float(f), float(c), float(m), float(x), float(k)]
        for f, c, m, x, k in zip(b.floor, b.cap, b.mmr, b.max_leverage, b.cum, strict=True)
    ]
    return {
        "venue": schedule.venue,
        "symbol": schedule.symbol,
        "contract": schedule.contract,
        "quote": schedule.quote,
        "base": schedule.base,
        "effective": None if schedule.effective is None else schedule.effective.isoformat(),
        "source": schedule.source,
        "notes": schedule.notes,
        "tiers": tiers,
    }


def _schedule_from_dict(data: Mapping[str, Any]) -> MarginSchedule:
    from heatmap.exchanges import MarginSchedule

    kw = dict(data)
    kw["tiers"] = [tuple(row) for row in kw["tiers"]]
    return MarginSchedule.from_tiers(**kw)


# ---------------------------------------------------------------------- side split
def _sharpen(x: np.ndarray, kappa: float) -> np.ndarray:
    """``tanh(κx)/tanh(κ)``: odd, monotone, maps [−1, 1] onto [−1, 1]."""
    return np.tanh(kappa * x) / math.tanh(kappa)


def _column(frame: pd.DataFrame, name: str, side_split: str) -> np.ndarray:
    if name not in frame.columns:
        raise ValueError(
            f"side_split={side_split!r} needs the column {name!r}, which the market does not have "
            f"(columns: {list(frame.columns)}); use side_split='candle' or 'even'"
        )
    values = np.asarray(frame[name], dtype=float)
    bad = ~np.isfinite(values)
    if name == "funding_rate":
        return values  # NaN = no settlement in the bar
    if bad.any():
        raise ValueError(
            f"column {name!r} has {int(bad.sum())} NaN/infinite values (first at {frame.index[bad][0]})"
        )
    return values


def speculative_long_share(
    frame: Any,
    side_split: SideSplit,
    strength: float,
    *,
    sharpness: float | None = None,
) -> np.ndarray:
    """Per-bar share ``s`` in [0, 1] of new *long* open interest that is speculative.

    New open interest ΔOI opens ΔOI long and ΔOI short. A share ``s`` of the new longs and ``1 − s`` of the new
    shorts take the speculative leverage; the rest take the passive leverage. Every mode computes a direction
    ``d`` in [−1, 1] per bar and returns ``s = 0.5 + 0.5 · strength · d``:

    * ``"even"``: ``d = 0``.
    * ``"candle"``: ``b = (close − open)/(high − low)`` (0 when ``high == low``), ``d = tanh(κ·b)/tanh(κ)`` with
      ``κ = CANDLE_SHARPNESS = 5``. The candle colour decides the side (aggressive buyers push the close up and
      are the ones opening leveraged longs); a body of 10 % of the range gives ``d ≈ 0.46``, 40 % gives ``d ≈ 0.96``, and a
      doji splits evenly, so tiny bodies do not flip all new OI.
    * ``"taker"``: imbalance ``i = (2·taker_buy_volume − volume)/volume`` (0 when ``volume == 0``),
      ``d = tanh(κ·i)/tanh(κ)`` with ``κ = TAKER_SHARPNESS = 10`` (hourly BTC imbalances are a few percent;
      ``|i| = 0.1`` gives ``|d| ≈ 0.76``). Needs ``volume`` and ``taker_buy_volume``.
    * ``"funding"``: ``d = sign(f)`` of the last non-zero funding rate settled at or before the bar (forward
      filled; no look-ahead; ``d = 0`` before the first settlement). Positive funding means longs pay, i.e. longs
      are the crowded, leveraged side.

    Parameters
    ----------
    frame : pandas.DataFrame or Market
        Bars with ``open, high, low, close`` (candle), ``volume, taker_buy_volume`` (taker) or ``funding_rate``
        (funding) columns. A :class:`~heatmap.market.Market` is accepted (its ``.frame`` is used).
    side_split : {"even", "candle", "taker", "funding"}
    strength : float in [0, 1]
        0 gives 0.5 everywhere; 1 lets a full signal put all speculative OI on one side.
    sharpness : float, optional
        Overrides ``κ`` for ``"candle"`` / ``"taker"`` (> 0).

    Returns
    -------
    ndarray, shape (n_bars,)
        ``s`` per bar [fraction].

    Examples
    --------
    >>> bars = pd.DataFrame({"open": [90.0, 110, 100, 100], "high": [110.0, 110, 110, 100],
    ...                      "low": [90.0, 90, 90, 100], "close": [110.0, 90, 102, 100]})
    >>> speculative_long_share(bars, "candle", 1.0).round(3).tolist()
    [1.0, 0.0, 0.731, 0.5]
    """
    df = getattr(frame, "frame", frame)
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"frame: got {type(frame).__name__}; allowed is a pandas.DataFrame or a Market")
    _choice("side_split", side_split, get_args(SideSplit))
    columns = {k: _column(df, k, side_split) for k in SPLIT_COLUMNS[side_split]}
    share, _ = long_share_arrays(columns, len(df), side_split, strength, sharpness=sharpness)
    return share


#: Columns each side split reads (see :func:`speculative_long_share`).
SPLIT_COLUMNS: dict[str, tuple[str, ...]] = {
    "even": (),
    "candle": ("open", "high", "low", "close"),
    "taker": ("volume", "taker_buy_volume"),
    "funding": ("funding_rate",),
}


def long_share_arrays(
    columns: Mapping[str, np.ndarray],
    n: int,
    side_split: SideSplit,
    strength: float,
    *,
    sharpness: float | None = None,
    carry: float = 0.0,
) -> tuple[np.ndarray, float]:
    """:func:`speculative_long_share` of ``n`` bars given as column arrays, continuing a stream.

    The one implementation of the side split (the DataFrame form calls it). Only ``"funding"`` has memory:
    ``carry`` is the last non-zero funding rate settled before these bars [fraction] (0 before the first), and
    the carry after them is returned, so bars fed in chunks give the batch result bit for bit.

    Returns
    -------
    share : ndarray, shape (n,)
        Speculative long share per bar [fraction].
    carry : float
        Last non-zero funding rate settled so far (``"funding"``; ``carry`` unchanged otherwise).

    Examples
    --------
    >>> f = np.array([0.0, 1e-4, np.nan, 0.0])
    >>> share, carry = long_share_arrays({"funding_rate": f}, 4, "funding", 1.0, carry=-1e-4)
    >>> share.tolist(), carry
    ([0.0, 1.0, 1.0, 1.0], 0.0001)
    """
    _choice("side_split", side_split, get_args(SideSplit))
    if not _is_real(strength) or not 0.0 <= float(strength) <= 1.0:
        raise ValueError(f"strength: got {strength!r}; allowed is a number in [0, 1]")
    if sharpness is not None and (not _is_real(sharpness) or not float(sharpness) > 0):
        raise ValueError(f"sharpness: got {sharpness!r}; allowed is a number > 0 or None")
    for name in SPLIT_COLUMNS[side_split]:
        if name not in columns:
            raise ValueError(
                f"side_split={side_split!r} needs the column {name!r}, which the market does not have "
                f"(columns: {list(columns)}); use side_split='candle' or 'even'"
            )
    if side_split == "even":
        d = np.zeros(n)
    elif side_split == "candle":
        o, h, lo, c = (np.asarray(columns[k], dtype=float) for k in SPLIT_COLUMNS["candle"])
        rng = h - lo
        b = np.divide(c - o, rng, out=np.zeros(n), where=rng > 0)
        d = _sharpen(np.clip(b, -1.0, 1.0), CANDLE_SHARPNESS if sharpness is None else float(sharpness))
    elif side_split == "taker":
        v = np.asarray(columns["volume"], dtype=float)
        tb = np.asarray(columns["taker_buy_volume"], dtype=float)
        i = np.divide(2.0 * tb - v, v, out=np.zeros(n), where=v > 0)
        d = _sharpen(np.clip(i, -1.0, 1.0), TAKER_SHARPNESS if sharpness is None else float(sharpness))
    else:  # sign of the last settled rate, carried forward (no look-ahead)
        f = np.asarray(columns["funding_rate"], dtype=float)
        settled = np.isfinite(f) & (f != 0)
        pos = np.where(settled, np.arange(n), -1)
        np.maximum.accumulate(pos, out=pos)
        last = np.where(pos >= 0, f[np.maximum(pos, 0)], carry)
        d = np.sign(last)
        if n:
            carry = float(last[-1])
    return np.clip(0.5 + 0.5 * float(strength) * d, 0.0, 1.0), carry


# ---------------------------------------------------------------------- presets
def _coinglass_like() -> Model:
    return Model(
        leverage=Leverage.preset("coinglass"),
        side_split="candle",
        split_strength=1.0,
        entry="close",
        funding=False,
        turnover=0.0,
    )


PRESETS: dict[str, Callable[[], Model]] = {
    "default": Model,
    "coinglass-like": _coinglass_like,
    "binance-btc": lambda: _calibrated("binance-btc"),
    "binance-btc-4h": lambda: _calibrated("binance-btc-4h"),
    "binance-btc-2026-11-25": lambda: _calibrated("binance-btc-2026-11-25"),
}
"""Named models: name -> factory. Other modules register calibrated models here (e.g. ``PRESETS["x"] = f``).

``default``
    :class:`Model` with every default.
``binance-btc`` / ``binance-btc-4h``
    Calibrated on Binance BTC liquidations (see :mod:`heatmap.calibrated` and ``docs/validation.md``): the
    engine run on the 1h path, or on 4h bars. ``binance-btc-2026-11-25`` is the previous ``binance-btc`` entry.
``coinglass-like``
    The fixed-tier picture of commercial maps: ``Leverage.preset("coinglass")`` tiers, new OI speculative on the
    side of the candle colour (``split_strength=1``), entry at the close, no funding drift, no turnover.
"""


def _calibrated(name: str) -> Model:
    from heatmap.calibrated import calibrated_model

    return calibrated_model(name)


def _defaults() -> Model:
    global _DEFAULT_MODEL
    if _DEFAULT_MODEL is None:
        _DEFAULT_MODEL = Model()
    return _DEFAULT_MODEL


_DEFAULT_MODEL: Model | None = None
