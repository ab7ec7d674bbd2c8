"""Resource and value limits: a memory budget checked before large arrays are allocated, and the largest
notional a heatmap cell can hold.

**Memory.** :func:`estimate_memory` predicts the bytes an estimate needs from its sizes (bars, bins, snapshot
stride, engine) and :func:`check_memory` refuses a request over the budget *before* anything is allocated, with
an error naming ``bins`` / ``snapshot_every`` and the bytes needed, instead of minutes of swapping or a bare
``MemoryError``. The budget is :data:`DEFAULT_MEMORY_LIMIT` (4 GiB), or the environment variable
``HEATMAP_MEMORY_LIMIT`` (bytes, or a size such as ``"512MiB"``, ``"8GB"``; ``"none"`` disables the check), or the
``limit=`` argument of the functions here.

**Values.** Snapshot cells are stored as float32, whose largest finite value is about 3.4e38: a notional beyond
:data:`MAX_NOTIONAL` (1e36 [quote], a margin of 300x for the factor between a bar's open interest notional and one
cell) is refused with an error naming the column, the bar and the value (:func:`check_notional_range`).

Examples
--------
>>> format_bytes(estimate_memory(n_bars=72, bins=1000)["total"])
'24.7 MiB'
>>> check_memory(2 * 2**30, what="the estimate", advice="use fewer bins=", limit=2**30)
Traceback (most recent call last):
...
heatmap.limits.MemoryLimitError: the estimate needs about 2.0 GiB (2,147,483,648 bytes), over the memory limit of 1.0 GiB (1,073,741,824 bytes); use fewer bins=, or raise the limit with the environment variable HEATMAP_MEMORY_LIMIT (e.g. HEATMAP_MEMORY_LIMIT=4.0GiB)
"""

from __future__ import annotations

import math
import os
import re
from typing import Any

import numpy as np

from heatmap.market import MarketDataError

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "MAX_NOTIONAL",
    "MEMORY_LIMIT_ENV",
    "MemoryLimitError",
    "check_estimate_memory",
    "check_update_limits",
    "check_memory",
    "check_notional_range",
    "estimate_memory",
    "format_bytes",
    "memory_limit",
    "parse_bytes",
]

#: Environment variable holding the memory budget (bytes or a size such as ``"2GiB"``; ``"none"``: no limit).
MEMORY_LIMIT_ENV = "HEATMAP_MEMORY_LIMIT"
#: Budget [bytes] when neither ``limit=`` nor ``HEATMAP_MEMORY_LIMIT`` is given.
DEFAULT_MEMORY_LIMIT = 4 * 2**30
#: Largest notional [quote] of a bar (open interest x price) or of a cell; float32 cells hold up to ~3.4e38.
MAX_NOTIONAL = 1e36

#: Grid engine: float64 arrays of ``subbins x bins`` per kernel (one kernel per side and leverage law): weights,
#: first and second moments, prefix sums, the interleaved copies, the mixed speculative/passive table and build
#: temporaries. An upper bound of the peak traced by ``tracemalloc`` (≈ 10.5 kB per bin with the default model's
#: two laws and 32 sub-bins, against 12.3 kB estimated; see ``tests/test_limits.py``).
_ARRAYS_PER_KERNEL = 12
#: Ledger engine: float64 fields per cohort and cohorts per bar, side and leverage x entry node (speculative and
#: passive laws).
_COHORT_BYTES = 8 * 8
_COHORTS_PER_NODE = 2

_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "m": 10**6,
    "mb": 10**6,
    "g": 10**9,
    "gb": 10**9,
    "t": 10**12,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_SIZE_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


class MemoryLimitError(ValueError):
    """A request whose arrays would exceed the memory budget (see :func:`memory_limit`)."""


def parse_bytes(text: str | int | float) -> int:
    """A size in bytes: an integer, or a number with a unit (``kB``, ``MB``, ``GB``, ``KiB``, ``MiB``, ``GiB``, ...).

    Examples
    --------
    >>> parse_bytes("512MiB"), parse_bytes("2 GB"), parse_bytes(1e6)
    (536870912, 2000000000, 1000000)
    """
    if isinstance(text, bool):
        raise ValueError(f"a size in bytes is a number or a string such as '2GiB', got {text!r}")
    if isinstance(text, (int, float, np.integer, np.floating)):
        value, unit = float(text), ""
    else:
        m = _SIZE_RE.match(str(text))
        if m is None or m.group(2).lower() not in _UNITS:
            raise ValueError(
                f"a size in bytes is a number with an optional unit (B, kB, MB, GB, KiB, MiB, GiB), got {text!r}"
            )
        value, unit = float(m.group(1)), m.group(2).lower()
    n = value * _UNITS[unit]
    if not (math.isfinite(n) and n > 0):
        raise ValueError(f"a size in bytes must be finite and > 0, got {text!r}")
    return int(n)


def memory_limit(limit: int | str | None = None) -> int:
    """The memory budget [bytes]: ``limit`` if given, else ``HEATMAP_MEMORY_LIMIT``, else 4 GiB.

    ``"none"`` (argument or variable) means no limit (returned as a very large number).

    Examples
    --------
    >>> memory_limit("1GiB")
    1073741824
    """
    source = "limit"
    if limit is None:
        env = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
        if not env:
            return DEFAULT_MEMORY_LIMIT
        limit, source = env, MEMORY_LIMIT_ENV
    if isinstance(limit, str) and limit.strip().lower() in ("none", "off", "inf", "unlimited"):
        return 2**62
    try:
        return parse_bytes(limit)
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from None


def format_bytes(n: float) -> str:
    """``1536`` -> ``'1.5 KiB'``.

    Examples
    --------
    >>> format_bytes(3 * 2**30)
    '3.0 GiB'
    """
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def check_memory(nbytes: float, *, what: str, advice: str, limit: int | str | None = None) -> None:
    """Raise :class:`MemoryLimitError` when ``nbytes`` exceeds the budget (nothing is allocated here).

    Parameters
    ----------
    nbytes : float
        Bytes the request needs.
    what : str
        The request, e.g. ``"estimate with bins=1000000"``.
    advice : str
        What to change, e.g. ``"use fewer bins="``.
    limit : int or str, optional
        Budget; default :func:`memory_limit`.
    """
    budget = memory_limit(limit)
    if nbytes > budget:
        raise MemoryLimitError(
            f"{what} needs about {format_bytes(nbytes)} ({int(nbytes):,} bytes), over the memory limit of "
            f"{format_bytes(budget)} ({budget:,} bytes); {advice}, or raise the limit with the environment "
            f"variable {MEMORY_LIMIT_ENV} (e.g. {MEMORY_LIMIT_ENV}={format_bytes(2 * nbytes).replace(' ', '')})"
        )


def estimate_memory(
    n_bars: int,
    bins: int,
    *,
    snapshot_every: int = 1,
    engine: str = "grid",
    age_blocks: int = 1,
    subbins: int = 32,
    resolution: int = 2,
    distinct_kernels: bool = True,
    leverage_nodes: int = 64,
    entry_nodes: int = 16,
    snapshot_bytes: int = 4,
) -> dict[str, int]:
    """Bytes an estimate of ``n_bars`` bars on ``bins`` bins needs at its peak, by part.

    Parameters
    ----------
    n_bars, bins : int
        Bars processed and price bins.
    snapshot_every : int
        Snapshot stride [bars].
    engine : {"grid", "ledger"}
    age_blocks, subbins : int
        Grid engine: age blocks (state rows per side) and sub-bins of the kernels.
    resolution : int
        Grid engine: store bins per price bin (2 for the default model; the state and kernels scale with it).
    distinct_kernels : bool
        Grid engine: the passive leverage law differs from the speculative one (two kernel sets per side).
    leverage_nodes, entry_nodes : int
        Ledger engine discretisation (cohorts per bar and side).
    snapshot_bytes : int
        Bytes per stored snapshot cell (4: float32).

    Returns
    -------
    dict
        ``snapshots`` (stored rows and the result's copy), ``bars`` (per-bar tables), ``engine`` (state and
        kernels) and ``total`` [bytes].

    Examples
    --------
    >>> m = estimate_memory(n_bars=8_760, bins=1_000)
    >>> format_bytes(m["snapshots"]), format_bytes(m["total"])
    ('133.7 MiB', '159.8 MiB')
    """
    n = max(int(n_bars), 0)
    P = max(int(bins), 1)
    rows = math.ceil(n / max(int(snapshot_every), 1)) + 1
    snapshots = 2 * rows * 2 * P * snapshot_bytes  # stored rows + the Heatmap handed out, both sides
    bars = n * (14 + 2 + 3) * 8 * 2  # ledger, liquidations, price/time tables and their result copies
    if engine == "ledger":
        cohorts = n * 2 * _COHORTS_PER_NODE * leverage_nodes * entry_nodes
        eng = cohorts * _COHORT_BYTES * 2 + 4 * P * 8
    else:
        kernels = 2 * (2 if distinct_kernels else 1)  # per side, the speculative and the passive law
        Q = P * max(int(resolution), 1)  # store bins
        state = 2 * max(int(age_blocks), 1) * Q * 3 * 8  # mass and two moments per side, block and bin
        eng = state + kernels * _ARRAYS_PER_KERNEL * int(subbins) * Q * 8
    total = snapshots + bars + eng
    return {"snapshots": snapshots, "bars": bars, "engine": eng, "total": total}


def check_estimate_memory(
    n_bars: int,
    bins: int,
    *,
    snapshot_every: int | None = None,
    limit: int | str | None = None,
    **kwargs: Any,
) -> dict[str, int]:
    """Refuse an estimate whose arrays would exceed the memory budget; return :func:`estimate_memory`.

    The error names ``bins`` and ``snapshot_every`` and the bytes needed; with ``snapshot_every=None`` only the
    engine part is checked (the default stride of :func:`heatmap.estimate` keeps snapshots inside their own
    budget).

    Examples
    --------
    >>> check_estimate_memory(72, 10**6, limit="1GiB")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    heatmap.limits.MemoryLimitError: an estimate with bins=1000000 (72 bars, snapshot_every=1, grid engine) needs ...
    """
    k = 1 if snapshot_every is None else int(snapshot_every)
    parts = estimate_memory(n_bars, bins, snapshot_every=k, **kwargs)
    budget = memory_limit(limit)
    if parts["total"] <= budget:
        return parts
    # the total is affine in bins: the largest count that fits at this stride
    one, two = (estimate_memory(n_bars, b, snapshot_every=k, **kwargs)["total"] for b in (1, 2))
    fits = max(0, (budget - (one - (two - one))) // (two - one))
    engine_name = kwargs.get("engine", "grid")
    what = f"an estimate with bins={int(bins)} ({int(n_bars)} bars, snapshot_every={k}, {engine_name} engine)"
    if parts["engine"] > parts["snapshots"]:
        advice = f"the engine alone needs {format_bytes(parts['engine'])}; use at most bins={fits:,}"
    else:
        advice = (
            f"the snapshots alone need {format_bytes(parts['snapshots'])}; use a larger snapshot_every= or at "
            f"most bins={fits:,}"
        )
    check_memory(parts["total"], what=what, advice=advice, limit=budget)
    return parts


def check_notional_range(values: dict[str, Any], *, times: Any = None, what: str = "bars") -> None:
    """Refuse prices and notionals a heatmap cell cannot hold (see :data:`MAX_NOTIONAL`): MarketDataError.

    Parameters
    ----------
    values : dict of str -> array
        Per-bar columns; uses ``high`` (and ``mark_high``) [quote] and ``open_interest`` [base].
    times : array of int64 [ns] or DatetimeIndex, optional
        Bar open times, to name the first offending bar.
    what : str
        Name of the input in the message.

    Examples
    --------
    >>> check_notional_range({"high": np.array([1e30]), "open_interest": np.array([1e8])})
    Traceback (most recent call last):
    ...
    heatmap.market.MarketDataError: bars: open_interest x high = 1e+38 [quote] at bar 0 exceeds the largest notional a heatmap cell holds (1e+36 [quote], float32 cells); express open interest or prices in larger units
    """
    if "high" not in values or np.size(values["high"]) == 0:
        return
    # the common case first, on Python floats (one-bar updates stay cheap); NaN falls through to the masks
    top = float(np.asarray(values["high"]).max())
    if "mark_high" in values:
        top = max(top, float(np.asarray(values["mark_high"]).max()))
    oi_in = np.asarray(values["open_interest"]) if "open_interest" in values else None
    size = 1.0 if oi_in is None else max(float(oi_in.max()), -float(oi_in.min()))
    if top * max(size, 1.0) <= MAX_NOTIONAL:
        return
    high = np.asarray(values["high"], dtype=np.float64)
    if "mark_high" in values:
        high = np.maximum(high, np.asarray(values["mark_high"], dtype=np.float64))
    oi = np.asarray(values.get("open_interest", np.ones_like(high)), dtype=np.float64)
    checks = [("high", high)]
    if "open_interest" in values:
        with np.errstate(over="ignore", invalid="ignore"):
            checks.append(("open_interest x high", np.abs(oi) * high))
    for label, arr in checks:
        bad = ~(arr <= MAX_NOTIONAL)
        bad &= ~np.isnan(arr)
        if bad.any():
            i = int(np.argmax(bad))
            where = f"bar {i}"
            if times is not None:
                import pandas as pd

                t = np.asarray(times)
                stamp = pd.Timestamp(int(t[i]), tz="UTC") if t.dtype.kind in "iu" else pd.Timestamp(t[i])
                where = f"bar {stamp}"
            raise MarketDataError(
                f"{what}: {label} = {arr[i]:.3g} [quote] at {where} exceeds the largest notional a heatmap cell "
                f"holds ({MAX_NOTIONAL:.0e} [quote], float32 cells); express open interest or prices in larger units"
            )


def check_update_limits(
    arrays: dict[str, Any],
    time: Any,
    *,
    bins: int,
    n_bars: int,
    snapshot_every: int,
    engine: str,
    config: Any,
    limit: int | str | None = None,
) -> None:
    """The checks :meth:`heatmap.Estimator.update` runs before it changes or allocates anything.

    Parameters
    ----------
    arrays : dict of str -> array
        The new bars' columns (``high``, ``open_interest``, ...).
    time : array of int64
        Their open times [ns, UTC].
    bins : int
        Bins of the grid (the current one, or the one about to be built).
    n_bars : int
        Bars processed once these are.
    snapshot_every : int
        Snapshot stride [bars].
    engine : {"grid", "ledger"}
    config : EngineConfig
        Supplies ``age_blocks``, ``subbins``, ``leverage_nodes``, ``entry_nodes`` and the two leverage laws.
    limit : int or str, optional
        Memory budget (default :func:`memory_limit`).

    Raises
    ------
    MarketDataError
        A price or open-interest notional beyond :data:`MAX_NOTIONAL`.
    MemoryLimitError
        Arrays over the memory budget (the message names ``bins``, ``snapshot_every`` and the bytes).
    """
    check_notional_range(arrays, times=time)
    sizes: dict[str, Any] = {
        "engine": engine,
        "age_blocks": getattr(config, "age_blocks", 1),
        "subbins": getattr(config, "subbins", 32),
        "resolution": getattr(config, "resolution", 1),
        "leverage_nodes": getattr(config, "leverage_nodes", 64),
        "entry_nodes": getattr(config, "entry_nodes", 16),
    }
    budget = memory_limit(limit)
    if estimate_memory(n_bars, bins, snapshot_every=snapshot_every, **sizes)["total"] <= budget:
        return  # fits even with two kernel sets: no need to compare the leverage laws
    distinct = getattr(config, "passive_leverage", None) != getattr(config, "leverage", None)
    check_estimate_memory(
        n_bars, bins, snapshot_every=snapshot_every, limit=budget, distinct_kernels=distinct, **sizes
    )
