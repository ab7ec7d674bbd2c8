"""The walk-forward protocol: per-bar predicted against realized liquidations, with no look-ahead.

For every bar t the engine holds the state after bar t−1 (built from bars < t only). Inside bar t, in the
engine's order:

1. *Funding* settled at bar t is applied. The rate settles at a bar boundary and is published (as the
   predicted/next funding rate) during the period before it, so it is known at the bar's open; using it is not
   look-ahead.
2. *Consumption* — the prediction: long positions whose liquidation price lies inside the range the bar
   traversed on the long side (from the previous levels down to the bar's low) and short positions with
   liquidation price up to the bar's high are liquidated. Their notional [quote] is the predicted liquidation
   of bar t. This is a *conditional* forecast: given the bar's price path (its low and high), how much was
   sitting there. The range × OI null gets the same conditioning, so the comparison is fair.
3. Only then does bar t's open-interest change open and close positions, which affects bars > t only.

No data after bar t enters the prediction of bar t: the price grid is fixed from the first bar's open (not
from the whole market's range), and a test perturbs every bar after t and checks the predictions up to t are
unchanged.

Examples
--------
>>> from heatmap.synthetic import simulate_world  # doctest: +SKIP
>>> w = simulate_world(days=60, freq="4h", seed=1)  # doctest: +SKIP
>>> frame = walk_forward(w.market, Model(), w.liquidations_per_bar())  # doctest: +SKIP
>>> score(frame)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from heatmap.market import Market
from heatmap.validation.baselines import oi_before

if TYPE_CHECKING:
    from heatmap.grid import PriceGrid
    from heatmap.model import Model

__all__ = ["walk_forward", "fixed_grid", "align_realized", "warmup_bars", "coarse_labels"]


def fixed_grid(market: Market, *, bins: int = 800, span: float = 3.0) -> PriceGrid:
    """A log-spaced price grid from ``open₀ / span`` to ``open₀ · span`` [quote].

    Built from the first bar's open only, so that changing later bars cannot change the grid (a grid fitted to
    the whole market's range would leak the future's range into every prediction, if only through geometry).

    Parameters
    ----------
    market : Market
    bins : int, default 800
        Number of log-spaced bins.
    span : float, default 3.0
        Multiplicative half-width (> 1). Prices leaving the grid are handled by the engine's off-grid ledger.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2025-01-01", periods=2, freq="4h", tz="UTC")
    >>> m = Market(pd.DataFrame({"open": [100.0, 100], "high": [110.0, 100], "low": [90.0, 100],
    ...                          "close": [100.0, 100], "open_interest": [1.0, 1]}, index=idx))
    >>> g = fixed_grid(m, bins=10, span=2.0)
    >>> round(g.low, 6), round(g.high, 6)
    (50.0, 200.0)
    """
    from heatmap.grid import PriceGrid

    if not (isinstance(span, (int, float)) and np.isfinite(span) and span > 1):
        raise ValueError(f"span must be a finite factor > 1, got {span!r}")
    o0 = float(market.array("open")[0])
    return PriceGrid.log_spaced(o0 / span, o0 * span, bins)


def warmup_bars(market: Market, warmup: int | str | pd.Timedelta) -> int:
    """Number of leading bars covered by ``warmup`` (an int of bars or a duration such as ``"14D"``)."""
    if isinstance(warmup, bool):
        raise ValueError(f"warmup must be a number of bars or a duration, got {warmup!r}")
    if isinstance(warmup, (int, np.integer)):
        n = int(warmup)
    else:
        try:
            td = pd.Timedelta(warmup)
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"warmup={warmup!r} is neither a number of bars nor a duration like '14D'"
            ) from exc
        n = int(np.ceil(td / market.freq))
    if not 0 <= n < len(market):
        raise ValueError(f"warmup covers {n} bars; it must be in [0, {len(market) - 1}] for this market")
    return n


def align_realized(
    realized: pd.DataFrame, market: Market, *, missing: Literal["error", "drop"] = "error"
) -> pd.DataFrame:
    """Realized liquidations per market bar (columns ``long``, ``short`` [quote]) on the market's index.

    ``realized`` must be indexed by bar open time (UTC) at the market's bar length (use
    :func:`heatmap.io.liquidations.liquidations_per_bar` to aggregate events or finer bars first). Rows outside
    the market are ignored. Market bars without a realized row raise (``missing="error"``) or get NaN and are
    left out of scoring (``missing="drop"``).

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2025-01-01", periods=2, freq="4h", tz="UTC")
    >>> m = Market(pd.DataFrame({"open": [100.0, 100], "high": [110.0, 100], "low": [90.0, 100],
    ...                          "close": [100.0, 100], "open_interest": [1.0, 1]}, index=idx))
    >>> align_realized(pd.DataFrame({"long": [1.0, 2], "short": [0.0, 3]}, index=idx), m).short.tolist()
    [0.0, 3.0]
    """
    if not isinstance(realized, pd.DataFrame):
        raise TypeError(
            f"realized must be a DataFrame with columns long, short; got {type(realized).__name__}"
        )
    miss = [c for c in ("long", "short") if c not in realized.columns]
    if miss:
        raise ValueError(f"realized is missing columns {miss}; it needs 'long' and 'short' [quote]")
    if missing not in ("error", "drop"):
        raise ValueError(f"missing={missing!r}; allowed: 'error', 'drop'")
    if not isinstance(realized.index, pd.DatetimeIndex) or realized.index.tz is None:
        raise ValueError("realized must be indexed by UTC bar open times (a tz-aware DatetimeIndex)")
    if realized.index.has_duplicates:
        raise ValueError("realized has duplicate bar times")
    vals = realized[["long", "short"]].astype(float)
    if (vals < 0).to_numpy().any():
        raise ValueError("realized liquidations must be non-negative [quote]")
    out = vals.reindex(market.index)
    gaps = out.isna().any(axis=1)
    if gaps.any() and missing == "error":
        first = ", ".join(str(t) for t in out.index[gaps.to_numpy()][:5])
        raise ValueError(
            f"realized has no value for {int(gaps.sum())} market bars (first: {first}); align it with "
            "heatmap.io.liquidations.liquidations_per_bar, slice the market, or pass missing='drop'"
        )
    return out


def walk_forward(
    market: Market,
    model: Model | None,
    realized: pd.DataFrame,
    *,
    bins: int = 800,
    warmup: int | str | pd.Timedelta = "14D",
    span: float = 3.0,
    grid: PriceGrid | None = None,
    engine: Literal["grid", "ledger"] = "grid",
    missing: Literal["error", "drop"] = "error",
    start: Any = None,
    end: Any = None,
    freq: str | pd.Timedelta | None = None,
) -> pd.DataFrame:
    """Per-bar walk-forward predictions next to realized liquidations.

    Runs the engine once over the whole market (it streams bar by bar; see the module docstring for why no bar
    sees its future) and tabulates, for every scored bar, what the state before the bar had between the
    previous levels and the bar's low (longs) and high (shorts).

    Parameters
    ----------
    market : Market
    model : Model or None
        The assumptions (``None``: the engine's default model).
    realized : DataFrame
        Realized liquidations per bar (``long``, ``short`` [quote]), see :func:`align_realized`.
    bins : int, default 800
        Price bins of the grid (ignored when ``grid`` is given).
    warmup : int or duration, default "14D"
        Leading bars (or time) that build the state and are not scored.
    span : float, default 3.0
        Half-width factor of the default grid, see :func:`fixed_grid`.
    grid : PriceGrid, optional
        Explicit grid. It must not be derived from bars after the first (that would leak the future).
    engine : {"grid", "ledger"}, default "grid"
    missing : {"error", "drop"}, default "error"
        Bars without realized values: raise, or leave them out.
    start, end : timestamp-like, optional
        Score only bars with open time in ``[start, end)`` (the state is still built from the first bar).
    freq : str or Timedelta, optional
        Score at this coarser bar length (e.g. ``"4h"`` realized liquidations with a ``"1h"`` market): the
        engine runs on the fine bars (so positions opened inside a coarse bar can be liquidated inside it, along
        the fine price path), predictions are summed per coarse bar, and range/OI columns come from
        :meth:`Market.resample <heatmap.market.Market.resample>`. ``warmup``, ``start``, ``end`` then refer to
        coarse bars.

    Returns
    -------
    DataFrame
        Index ``time`` (bar open, UTC); columns ``predicted_long, predicted_short`` [quote],
        ``realized_long, realized_short`` [quote], ``range_down = (open − low)/open`` and
        ``range_up = (high − open)/open`` [-], ``oi`` (open interest before the bar [base]).
    """
    from heatmap.engine import estimate

    if not isinstance(market, Market):
        raise TypeError(f"market must be a heatmap.market.Market, got {type(market).__name__}")
    if engine not in ("grid", "ledger"):
        raise ValueError(f"engine={engine!r}; allowed: 'grid', 'ledger'")
    if grid is None:
        grid = fixed_grid(market, bins=bins, span=span)
    hm = estimate(market, model, grid=grid, snapshot_every=max(1, len(market)), engine=engine)
    if hm.liquidations is None:
        raise RuntimeError(
            "the engine returned no per-bar liquidations; walk_forward needs Heatmap.liquidations"
        )
    pred = hm.liquidations.reindex(market.index)
    if freq is not None:
        coarse = market.resample(freq)
        labels = coarse_labels(market.index, coarse)
        pred = pred.groupby(labels).sum().reindex(coarse.index)
        market = coarse
    n_warm = warmup_bars(market, warmup)
    real = align_realized(realized, market, missing=missing)
    o, h, low = market.array("open"), market.array("high"), market.array("low")
    frame = pd.DataFrame(
        {
            "predicted_long": pred["long"].to_numpy(dtype=float),
            "predicted_short": pred["short"].to_numpy(dtype=float),
            "realized_long": real["long"].to_numpy(),
            "realized_short": real["short"].to_numpy(),
            "range_down": np.maximum(o - low, 0.0) / o,
            "range_up": np.maximum(h - o, 0.0) / o,
            "oi": oi_before(market),
        },
        index=market.index.rename("time"),
    )
    frame = frame.iloc[n_warm:]
    if start is not None or end is not None:
        ix = frame.index
        keep = np.ones(len(ix), dtype=bool)
        if start is not None:
            keep &= ix >= _utc(start)
        if end is not None:
            keep &= ix < _utc(end)
        frame = frame.loc[keep]
    frame = frame.dropna()
    if frame.empty:
        raise ValueError(
            "no bars left to score after warm-up, the start/end window and missing realized values"
        )
    return frame


def coarse_labels(fine: pd.DatetimeIndex, coarse: Market) -> pd.DatetimeIndex:
    """The open time of the coarse bar holding each fine bar (NaT for fine bars outside the coarse market).

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2025-01-01", periods=4, freq="1h", tz="UTC")
    >>> m = Market(pd.DataFrame({"open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "open_interest": 1.0},
    ...                         index=idx))
    >>> [str(t.hour) for t in coarse_labels(idx, m.resample("2h"))]
    ['0', '0', '2', '2']
    """
    pos = coarse.index.searchsorted(fine, side="right") - 1
    starts = coarse.index[np.clip(pos, 0, None)]
    ok = (pos >= 0) & (fine < starts + coarse.freq)
    return pd.DatetimeIndex(starts).where(ok)


def _utc(t: Any) -> pd.Timestamp:
    ts = pd.Timestamp(t)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
