"""liquidation-heatmap: where leveraged perpetual-futures positions get liquidated.

Exact venue liquidation-price math, leverage as fitted distributions, two engines that agree, and walk-forward
validation against realized liquidations.

Examples
--------
>>> import heatmap as lh
>>> market = lh.synthetic_market(days=10, freq="1h", seed=7)
>>> hm = lh.estimate(market, lh.Model(leverage=lh.Leverage.lognormal(median=12, sigma=0.9)))
>>> snap = hm.at(-1)
"""

from __future__ import annotations

import importlib
from typing import Any

from heatmap._version import __version__

# Public name -> submodule that defines it. Names resolve on first access, so `import heatmap` stays fast and
# optional parts (plotting, validation) are only imported when used.
_EXPORTS: dict[str, str] = {
    # margin math and schedules
    "liquidation_price": "heatmap.margin",
    "bankruptcy_price": "heatmap.margin",
    "initial_margin": "heatmap.margin",
    "maintenance_margin": "heatmap.margin",
    "cross_liquidation_price": "heatmap.margin",
    "funding_shift": "heatmap.margin",
    "inverse_funding_shift": "heatmap.margin",
    "side_sign": "heatmap.margin",
    "inverse_liquidation_price": "heatmap.margin",
    "bybit_liquidation_price": "heatmap.margin",
    "hyperliquid_liquidation_price": "heatmap.margin",
    "gate_liquidation_price": "heatmap.margin",
    "okx_liquidation_price": "heatmap.margin",
    "MarginSchedule": "heatmap.exchanges",
    # market data
    "Market": "heatmap.market",
    "validate_arrays": "heatmap.market",
    "MarketDataError": "heatmap.market",
    "simulate_world": "heatmap.synthetic",
    "synthetic_market": "heatmap.synthetic",
    "World": "heatmap.synthetic",
    "read_liquidations": "heatmap.io",
    "liquidations_per_bar": "heatmap.io",
    "read_coinglass_market": "heatmap.io",
    # model
    "Leverage": "heatmap.leverage",
    "Model": "heatmap.model",
    "PriceGrid": "heatmap.grid",
    "estimate": "heatmap.engine",
    "Estimator": "heatmap.engine",
    "Heatmap": "heatmap.result",
    "Snapshot": "heatmap.result",
    # analytics
    "find_clusters": "heatmap.clusters",
    "smooth": "heatmap.density",
    "position_risk": "heatmap.risk",
    "DepthCurve": "heatmap.cascade",
    "SqrtImpact": "heatmap.cascade",
    "simulate_cascade": "heatmap.cascade",
    "fragility_curve": "heatmap.cascade",
    "CascadeResult": "heatmap.cascade",
    "PositionRisk": "heatmap.risk",
    "plot_fragility": "heatmap.cascade_plot",
    "plot_cascade": "heatmap.cascade_plot",
    # figures
    "plot_heatmap": "heatmap.plot",
    "plot_map": "heatmap.plot",
    "plot_leverage": "heatmap.plot",
    "render_png": "heatmap.plot",
    "save_figure": "heatmap.plot",
    # scale-out
    "estimate_many": "heatmap.aggregate",
    "batch": "heatmap.aggregate",
    "MultiHeatmap": "heatmap.aggregate",
    "explore": "heatmap.interactive",
}

_SUBMODULES = {
    "margin",
    "exchanges",
    "market",
    "io",
    "synthetic",
    "leverage",
    "model",
    "grid",
    "engine",
    "result",
    "density",
    "clusters",
    "cascade",
    "risk",
    "validation",
    "plot",
    "export",
    "aggregate",
    "interactive",
    "cascade_plot",
    "validation_plot",
    "calibrated",
}

__all__ = ["__version__", *sorted(_EXPORTS), *sorted(_SUBMODULES)]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        module = importlib.import_module(f"heatmap.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'heatmap' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
