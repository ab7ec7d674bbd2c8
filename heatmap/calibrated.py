"""Calibrated model assumptions, shipped as data.

Each entry holds a :meth:`Model.to_dict <heatmap.model.Model.to_dict>` description (``"model"``) and where it
came from, and is scored out of sample in ``docs/validation.md``.

``binance-btc`` (recommended)
    Binance BTC perpetuals, calibrated **jointly on how much and where** by ``benchmarks/calibrate_joint.py``:

    * *how much*: CoinGlass Binance BTC 4h long/short liquidations (all BTC pairs, USD) as the target, engine on
      Binance BTCUSDT perpetual 1h candles with Binance stablecoin-margined BTC open interest (4h, at each 4h
      close) and 8h funding; the mixed rank objective (mean over sides of (Spearman + partial skill beyond
      range × OI)/2) on the bars before 2025-03-15;
    * *where*: 20,000 Bybit BTCUSDT liquidation events of 2024-02-12 → 2024-03-20 (bankruptcy prices converted
      to liquidation prices), scored by :func:`heatmap.validation.location_score` against the map held before
      each hour, engine on Binance BTCUSDT 1h candles with Coinalyze daily open interest entering at each day's
      close; the worse side's mean of log score and CRPS skill. The last ten days of the recording
      (2024-03-20 → 2024-03-30) and the count bars from 2025-03-15 on were never used.

    Objective: location + count − 5 × (shortfall of count skill below the previous preset's); seeded
    differential evolution over a two-part leverage law (a share of lognormal σ 0.3 around a high median, the
    rest lognormal σ 0.8 around a low median), the side-split strength and the turnover, then a Nelder-Mead
    polish and the entry/exit choices one at a time. *When to use it:* BTC (or similar large-cap) perpetual maps
    on 1h bars with a ``volume`` column (the turnover step needs it). It is a ranking and location calibration:
    the absolute notional is not calibrated. The high-leverage share describes the positions that get
    liquidated within hours of opening (high by selection), not the leverage of all open interest.

``binance-btc-2026-11-25``
    The previous ``binance-btc``: the count-only calibration (same count objective and window, lognormal
    leverage median/σ, passive median/σ, split strength and turnover searched). Kept for comparison and
    reproducibility; on the location score it is worse than ``Model()`` (docs/validation.md).

``binance-btc-4h``
    The same calibration with the engine on the 4h bars only, for users without finer candles. Out of sample it
    ties the range × OI null in Spearman and keeps positive partial skill (docs/validation.md).

Examples
--------
>>> model = calibrated_model("binance-btc")  # doctest: +SKIP
>>> model.turnover  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from heatmap.model import Model

__all__ = ["CALIBRATED", "calibrated_model", "PREVIOUS_BINANCE_BTC"]

#: Date suffix of the previous ``binance-btc`` entry, kept as ``"binance-btc-<date>"``.
PREVIOUS_BINANCE_BTC = "2026-11-25"

CALIBRATED: dict[str, dict[str, Any]] = {
    "binance-btc": {
        # jointly calibrated on how much (count skill) and where (location skill); Model.to_dict() form
        "model": {
            "leverage": {
                "kind": "mixture",
                "parts": [
                    {
                        "kind": "continuous",
                        "family": "lognormal",
                        "params": {"median": 124.3, "sigma": 0.3},
                        "dist": "lognorm",
                        "args": [0.3],
                        "kwds": {"scale": 124.3},
                        "min_leverage": 1.0,
                        "max_leverage": 125.0,
                    },
                    {
                        "kind": "continuous",
                        "family": "lognormal",
                        "params": {"median": 12.46, "sigma": 0.8},
                        "dist": "lognorm",
                        "args": [0.8],
                        "kwds": {"scale": 12.46},
                        "min_leverage": 1.0,
                        "max_leverage": 125.0,
                    },
                ],
                "weights": [0.2188, 0.7812],
            },
            "passive_leverage": {
                "kind": "continuous",
                "family": "lognormal",
                "params": {"median": 4.535, "sigma": 0.619},
                "dist": "lognorm",
                "args": [0.619],
                "kwds": {"scale": 4.535},
                "min_leverage": 1.0,
                "max_leverage": 125.0,
            },
            "side_split": "candle",
            "split_strength": 0.1247,
            "entry": "triangular",
            "exit": "proportional",
            "funding": True,
            "turnover": 0.6,
            "decay_half_life": None,
        },
        "calibrated_on": (
            "how much: CoinGlass Binance BTC 4h long/short liquidations (all BTC pairs, USD), engine on Binance "
            "BTCUSDT perpetual 1h candles with Binance stablecoin-margined BTC open interest (4h, at each 4h close) "
            "and 8h funding; where: Bybit BTCUSDT liquidation events (bankruptcy prices converted to liquidation "
            "prices, first tier MMR 0.5 %) against the map held before each hour, engine on Binance BTCUSDT 1h "
            "candles with Coinalyze daily open interest entering at each day's close and the previous day's funding"
        ),
        "window": (
            "count: 2024-11-27 20:00 -> 2025-03-15 00:00 UTC (warm-up from 2024-11-13 20:00); location: "
            "2024-02-12 -> 2024-03-20 UTC (engine from 2024-01-01)"
        ),
        "test_window": (
            "count: 2025-03-15 00:00 -> 2025-06-01 00:00 UTC; location: 2024-03-20 -> 2024-03-30 UTC (never used)"
        ),
        "objective": (
            "min over sides of (location log score + CRPS skill)/2 + count (mean over sides of (Spearman + partial "
            "skill)/2) - 5 x max(0, previous preset's count - count)"
        ),
        "search": {
            "high.share": (0.05, 0.95),
            "high.median (sigma 0.3)": (30.0, 125.0),
            "low.median (sigma 0.8)": (2.0, 30.0),
            "split_strength": (0.0, 1.0),
            "turnover": (0.0, 0.6),
        },
        "method": (
            "benchmarks/calibrate_joint.py --family mixture: scipy differential_evolution maxiter=6, popsize=6, "
            "seed=0, no polish (210 runs), then Nelder-Mead (40 runs) from its best, then entry and exit one at a "
            "time (triangular, proportional kept); turnover ends at its search bound 0.6. A one-part lognormal "
            "search (median, sigma, passive median, split strength, turnover) reached a lower training objective "
            "(0.679 vs 0.693). Engine grids: 500 bins (count), 1,500 bins over open/2 .. open*2 (location)"
        ),
        "date": "2026-12-04",
    },
    "binance-btc-2026-11-25": {
        # the "binance-btc" preset until the joint count + location calibration replaced it
        # Model.to_dict() form (defaults for the keys left out: schedule=None -> Binance USD-M BTCUSDT brackets)
        "model": {
            "leverage": {
                "kind": "continuous",
                "family": "lognormal",
                "params": {"median": 21.59, "sigma": 0.392},
                "dist": "lognorm",
                "args": [0.392],
                "kwds": {"scale": 21.59},
                "min_leverage": 1.0,
                "max_leverage": 125.0,
            },
            "passive_leverage": {
                "kind": "continuous",
                "family": "lognormal",
                "params": {"median": 4.535, "sigma": 0.619},
                "dist": "lognorm",
                "args": [0.619],
                "kwds": {"scale": 4.535},
                "min_leverage": 1.0,
                "max_leverage": 125.0,
            },
            "side_split": "candle",
            "split_strength": 0.3155,
            "entry": "triangular",
            "exit": "proportional",
            "funding": True,
            "turnover": 0.2488,
            "decay_half_life": None,
        },
        "calibrated_on": (
            "CoinGlass Binance BTC 4h long/short liquidations (all BTC pairs, USD) as the target; engine run on "
            "Binance BTCUSDT perpetual 1h candles with Binance stablecoin-margined BTC open interest (4h, placed at "
            "each 4h close) and BTCUSDT 8h funding; volume from the 1h candles"
        ),
        "window": "2024-11-27 20:00 -> 2025-03-15 00:00 UTC (scored; warm-up from 2024-11-13 20:00)",
        "test_window": "2025-03-15 00:00 -> 2025-06-01 00:00 UTC (out of sample)",
        "objective": "mixed: mean over long/short of (Spearman + partial skill beyond range x OI) / 2",
        "search": {
            "leverage.median": (3.0, 60.0),
            "leverage.sigma": (0.2, 1.5),
            "passive_leverage.median": (1.5, 10.0),
            "passive_leverage.sigma": (0.2, 1.0),
            "split_strength": (0.0, 1.0),
            "turnover": (0.0, 0.5),
        },
        "method": "scipy differential_evolution, maxiter=5, popsize=5, seed=0, no polish (180 engine runs, 500 bins)",
        "date": "2026-11-25",
    },
    "binance-btc-4h": {
        # the same search with the engine on the 4h bars only (no 1h path)
        "model": {
            "leverage": {
                "kind": "continuous",
                "family": "lognormal",
                "params": {"median": 30.68, "sigma": 0.3677},
                "dist": "lognorm",
                "args": [0.3677],
                "kwds": {"scale": 30.68},
                "min_leverage": 1.0,
                "max_leverage": 125.0,
            },
            "passive_leverage": {
                "kind": "continuous",
                "family": "lognormal",
                "params": {"median": 3.672, "sigma": 0.7677},
                "dist": "lognorm",
                "args": [0.7677],
                "kwds": {"scale": 3.672},
                "min_leverage": 1.0,
                "max_leverage": 125.0,
            },
            "side_split": "candle",
            "split_strength": 0.6233,
            "entry": "triangular",
            "exit": "proportional",
            "funding": True,
            "turnover": 0.063,
            "decay_half_life": None,
        },
        "calibrated_on": (
            "CoinGlass Binance BTC 4h long/short liquidations (all BTC pairs, USD) as the target; engine run on the "
            "Binance BTCUSDT perpetual 4h bars (CoinGlass OHLC and volume), Binance stablecoin-margined BTC open "
            "interest and BTCUSDT 8h funding"
        ),
        "window": "2024-11-27 20:00 -> 2025-03-15 00:00 UTC (scored; warm-up from 2024-11-13 20:00)",
        "test_window": "2025-03-15 00:00 -> 2025-06-01 00:00 UTC (out of sample)",
        "objective": "mixed: mean over long/short of (Spearman + partial skill beyond range x OI) / 2",
        "search": "as binance-btc",
        "method": "scipy differential_evolution, maxiter=5, popsize=5, seed=0, no polish (180 engine runs, 500 bins)",
        "date": "2026-11-25",
    },
}


def calibrated_model(name: str = "binance-btc") -> Model:
    """The :class:`~heatmap.model.Model` of a calibrated entry.

    Parameters
    ----------
    name : str
        A key of :data:`CALIBRATED`.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the available ones).
    """
    from heatmap.model import Model

    if name not in CALIBRATED:
        raise ValueError(f"name: unknown calibrated model {name!r}; available are {sorted(CALIBRATED)}")
    return Model.from_dict(CALIBRATED[name]["model"])
