"""Calibrated model assumptions, shipped as data.

Each entry holds a :meth:`Model.to_dict <heatmap.model.Model.to_dict>` description (``"model"``) and where it
came from. They are produced by ``benchmarks/run_validation.py --calibrate`` (:func:`heatmap.validation.calibrate`)
and scored out of sample in ``docs/validation.md``.

``binance-btc``
    Binance BTC perpetuals (BTCUSDT and the other BTC pairs whose liquidations CoinGlass aggregates), calibrated
    on CoinGlass 4h long/short liquidations with the engine run on Binance BTCUSDT **1h** candles (open interest
    and funding at their 4h/8h resolution). Objective: mean over both sides of (Spearman + partial skill
    beyond range × OI) / 2 on the training window; differential evolution, seeded.
    *When to use it:* BTC (or similar large-cap) perpetual maps on 1h-4h bars with a ``volume`` column (the
    turnover step needs it). It is a ranking calibration: realized liquidations are undercounted, so the
    model's absolute notional is not calibrated. Run it on 1h bars where you can: on 4h bars it is only
    marginally better than the range × OI null (see docs/validation.md).

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
