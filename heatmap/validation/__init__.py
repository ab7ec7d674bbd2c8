"""Walk-forward validation against realized liquidations: protocol, scores, baselines and calibration.

* :func:`walk_forward` — per-bar predicted vs realized liquidations, no look-ahead.
* :func:`score` — rank skill, partial skill beyond the range × OI null, precision@k, direction accuracy,
  block-bootstrap intervals (:class:`ValidationReport`).
* :mod:`~heatmap.validation.baselines` — the range × OI null and the fixed-tier model of common maps.
* :func:`calibrate` — choose model assumptions on a training window, report out of sample.
* :func:`location_score` — where: realized liquidation prices against the map held before their bar
  (:class:`LocationReport`).
"""

from __future__ import annotations

from heatmap.validation import baselines
from heatmap.validation.calibrate import Calibration, calibrate
from heatmap.validation.location import LocationReport, location_difference, location_score
from heatmap.validation.metrics import (
    ValidationReport,
    block_bootstrap_indices,
    direction_accuracy,
    kendall,
    log_score,
    partial_skill,
    precision_at_k,
    score,
    spearman,
    spearman_difference,
    wilson_interval,
)
from heatmap.validation.protocol import walk_forward

__all__ = [
    "walk_forward",
    "score",
    "location_score",
    "location_difference",
    "LocationReport",
    "calibrate",
    "Calibration",
    "baselines",
    "ValidationReport",
    "spearman",
    "kendall",
    "wilson_interval",
    "precision_at_k",
    "partial_skill",
    "direction_accuracy",
    "log_score",
    "block_bootstrap_indices",
    "spearman_difference",
]
