"""Estimation engines: the fast grid engine and the exact per-cohort ledger engine, behind one interface.

Public entry points are :func:`estimate` and :class:`Estimator` (re-exported as ``heatmap.estimate`` and
``heatmap.Estimator``).
"""

from __future__ import annotations

from heatmap.engine.estimator import Estimator, estimate, snapshot_stride

__all__ = ["Estimator", "estimate", "snapshot_stride"]
