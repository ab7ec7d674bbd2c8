"""Exports of a :class:`~heatmap.result.Heatmap`: sparse JSON for dashboards and an ``xarray.Dataset``.

JSON layout (``format = "liquidation-heatmap/sparse-v1"``)::

    {
      "format": "liquidation-heatmap/sparse-v1",
      "units": {"value": "quote notional", "price": "quote", "time": "UTC, bar open, ISO 8601"},
      "times": ["2025-01-01T00:00:00Z", ...],            # snapshot times (T)
      "price_edges": [...],                              # P + 1 band edges
      "prices": [...],                                   # P geometric band centres
      "close": {"times": [...], "values": [...]},         # the price path (every market bar)
      "side": "both", "threshold": 0.0, "precision": 6,
      "long":  [[time_index, price_index, value], ...],   # cells with value > threshold
      "short": [[time_index, price_index, value], ...],
      "model": "Model(...)" or null,
      "meta": {...}                                      # JSON-safe entries of Heatmap.meta
    }

This is the ``[x, y, value]`` triple layout that heatmap widgets of dashboard libraries (ECharts, Highcharts,
Plotly via ``z`` reconstruction) consume, with the axes alongside. :func:`from_json` reads it back.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from heatmap.result import Heatmap
>>> t = pd.date_range("2025-01-01", periods=2, freq="h", tz="UTC")
>>> hm = Heatmap(times=t, price_edges=np.array([90.0, 100.0, 110.0]), long=np.array([[1.0, 0.0], [2.0, 0.0]]),
...              short=np.array([[0.0, 0.0], [0.0, 3.0]]), price=pd.Series([100.0, 101.0], index=t))
>>> import json
>>> json.loads(to_json(hm))["short"]
[[1, 1, 3.0]]
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from heatmap.io.atomic import atomic_write
from heatmap.result import Heatmap

__all__ = ["FORMAT", "from_json", "from_xarray", "to_json", "to_xarray"]

FORMAT = "liquidation-heatmap/sparse-v1"
_UNITS = {"value": "quote notional", "price": "quote", "time": "UTC, bar open, ISO 8601"}


def _iso(times: pd.DatetimeIndex) -> list[str]:
    t = times.tz_convert("UTC") if times.tz is not None else times.tz_localize("UTC")
    return [s.replace("+00:00", "Z") for s in t.map(lambda x: x.isoformat())]


def _round_sig(x: np.ndarray, digits: int | None) -> list[float]:
    """Values rounded to ``digits`` significant digits (decimal rounding via the shortest repr; None: exact)."""
    if digits is None:
        return [float(v) for v in np.asarray(x, dtype=float)]
    fmt = f"{{:.{digits}g}}"
    return [float(fmt.format(v)) for v in np.asarray(x, dtype=float)]


def _json_safe(meta: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in meta.items():
        try:
            json.dumps(v)
        except (TypeError, ValueError):
            continue
        out[str(k)] = v
    return out


def to_json(
    hm: Heatmap,
    path: str | Path | None = None,
    *,
    side: Literal["long", "short", "both"] = "both",
    threshold: float = 0.0,
    precision: int | None = 6,
    indent: int | None = None,
) -> str:
    """Sparse JSON of a heatmap: ``[time_index, price_index, value]`` cells plus the axes.

    Parameters
    ----------
    hm : Heatmap
    path : str or Path, optional
        Also write the JSON there (UTF-8, atomically: a failed write leaves an existing file untouched).
    side : {"long", "short", "both"}
        Which sides to include.
    threshold : float, default 0
        Keep cells with ``abs(value) > threshold`` [quote] (0 drops exactly empty cells and keeps negative ones,
        so that :func:`from_json` gives the heatmap back), >= 0.
    precision : int or None, default 6
        Significant digits of the values (1–17); None writes them exactly. Prices and edges are always exact.
    indent : int, optional
        Pretty-print indentation.

    Returns
    -------
    str
        The JSON text.

    Raises
    ------
    ValueError
        NaN or infinite cells (naming the side, the count and the first cell): JSON has no such numbers and
        dropping them would read back as 0.

    Examples
    --------
    >>> t = pd.date_range("2025-01-01", periods=1, freq="h", tz="UTC")
    >>> hm = Heatmap(times=t, price_edges=np.array([1.0, 2.0, 3.0]), long=np.array([[1.234567, 5.0]]),
    ...              short=np.zeros((1, 2)), price=pd.Series([2.5], index=t))
    >>> json.loads(to_json(hm, side="long", precision=3))["long"]
    [[0, 0, 1.23], [0, 1, 5.0]]
    """
    if side not in ("long", "short", "both"):
        raise ValueError(f"side must be 'long', 'short' or 'both', got {side!r}")
    if not (math.isfinite(threshold) and threshold >= 0):
        raise ValueError(f"threshold must be a finite notional >= 0 [quote], got {threshold!r}")
    if precision is not None and (int(precision) != precision or not 1 <= precision <= 17):
        raise ValueError(
            f"precision must be an integer number of significant digits in 1..17, got {precision!r}"
        )
    edges = np.asarray(hm.price_edges, dtype=float)
    doc: dict[str, Any] = {
        "format": FORMAT,
        "units": _UNITS,
        "times": _iso(hm.times),
        "price_edges": edges.tolist(),
        "prices": hm.centers.tolist(),
        "close": {
            "times": _iso(pd.DatetimeIndex(hm.price.index)),
            "values": np.asarray(hm.price, dtype=float).tolist(),
        },
        "side": side,
        "threshold": float(threshold),
        "precision": None if precision is None else int(precision),
    }
    for s in ("long", "short"):
        if side not in (s, "both"):
            continue
        arr = np.asarray(getattr(hm, s), dtype=float)
        bad = ~np.isfinite(arr)
        if bad.any():
            bt, bp = (int(i[0]) for i in np.nonzero(bad))
            raise ValueError(
                f"{s}: {int(bad.sum())} cells are not finite (first at snapshot {bt}, bin {bp}: {float(arr[bt, bp])!r}); "
                "JSON holds finite notionals only"
            )
        ti, pi = np.nonzero(np.abs(arr) > threshold)
        vals = _round_sig(arr[ti, pi], precision)
        doc[s] = [list(c) for c in zip(ti.tolist(), pi.tolist(), vals, strict=True)]
    doc["model"] = None if hm.model is None else repr(hm.model)
    doc["meta"] = _json_safe(dict(hm.meta))
    text = json.dumps(doc, indent=indent, allow_nan=False)
    if path is not None:
        with atomic_write(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    return text


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a finite number")


def _json_cells(raw: Any, side: str, shape: tuple[int, int], where: str) -> np.ndarray:
    """``[[time_index, price_index, value], ...]`` -> dense array, refusing anything :func:`to_json` never writes."""
    arr = np.zeros(shape)
    try:
        cells = np.asarray(raw, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{where}: {side!r} must be a list of [time_index, price_index, value] ({exc})"
        ) from None
    if cells.size == 0:
        return arr
    if cells.ndim != 2 or cells.shape[1] != 3:
        raise ValueError(
            f"{where}: {side!r} must be a list of [time_index, price_index, value] triples, got shape {cells.shape}"
        )
    bad = ~np.isfinite(cells).all(axis=1) | (cells[:, :2] != np.round(cells[:, :2])).any(axis=1)
    bad |= (cells[:, 0] < 0) | (cells[:, 0] >= shape[0]) | (cells[:, 1] < 0) | (cells[:, 1] >= shape[1])
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"{where}: {side} cell {i} {cells[i].tolist()} is not [integer time index in 0..{shape[0] - 1}, "
            f"integer price index in 0..{shape[1] - 1}, finite value] ({int(bad.sum())} such cells)"
        )
    ti, pi = cells[:, 0].astype(np.int64), cells[:, 1].astype(np.int64)
    if np.unique(ti * shape[1] + pi).size != ti.size:
        raise ValueError(f"{where}: {side} lists the same cell more than once")
    arr[ti, pi] = cells[:, 2]
    return arr


def from_json(source: str | Path) -> Heatmap:
    """Read a heatmap written by :func:`to_json` (JSON text or a path). Missing sides are zero; no model.

    Raises
    ------
    ValueError
        Naming the file (or "JSON text"): not UTF-8 or not JSON (NaN, deep nesting), another format, missing or
        malformed axes, cells that are not integer indices inside the axes with finite values, duplicate cells.
        :class:`heatmap.limits.MemoryLimitError` when the axes ask for arrays over the memory budget.

    Examples
    --------
    >>> t = pd.date_range("2025-01-01", periods=1, freq="h", tz="UTC")
    >>> hm = Heatmap(times=t, price_edges=np.array([1.0, 2.0]), long=np.array([[4.0]]), short=np.zeros((1, 1)),
    ...              price=pd.Series([1.5], index=t))
    >>> from_json(to_json(hm)).long.tolist()
    [[4.0]]
    """
    from heatmap.limits import check_memory

    if isinstance(source, str) and source.lstrip().startswith("{"):
        where, text = "JSON text", source
    else:
        where = str(source)
        try:
            text = Path(source).read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{where}: not UTF-8 text ({exc})") from None
    try:
        doc = json.loads(text, parse_constant=_refuse_constant)
    except (json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise ValueError(f"{where}: not valid JSON ({type(exc).__name__}: {exc})") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(doc).__name__}")
    if doc.get("format") != FORMAT:
        raise ValueError(f"{where}: format: expected {FORMAT!r}, got {doc.get('format')!r}")
    try:
        times = pd.DatetimeIndex(pd.to_datetime(list(doc["times"]), utc=True))
        edges = np.asarray(doc["price_edges"], dtype=float)
        close_values = np.asarray(doc["close"]["values"], dtype=float)
        close_times = pd.DatetimeIndex(pd.to_datetime(list(doc["close"]["times"]), utc=True))
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"{where}: missing or malformed axes ({type(exc).__name__}: {exc})") from None
    if edges.ndim != 1 or edges.size < 2:
        raise ValueError(f"{where}: price_edges must list at least 2 edges, got shape {edges.shape}")
    shape = (len(times), edges.size - 1)
    check_memory(
        2 * shape[0] * shape[1] * 8, what=f"reading {where} ({shape[0]} x {shape[1]})", advice="read less"
    )
    arrays = {s: _json_cells(doc.get(s, []), s, shape, where) for s in ("long", "short")}
    meta = doc.get("meta", {})
    meta = dict(meta) if isinstance(meta, dict) else {}
    meta["source_format"] = FORMAT
    try:
        close = pd.Series(close_values, index=close_times, name="close")
        return Heatmap(
            times=times, price_edges=edges, long=arrays["long"], short=arrays["short"], price=close, meta=meta
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None


def _xarray() -> Any:
    try:
        import xarray as xr
    except ImportError as exc:  # pragma: no cover - exercised with a blocked import in the tests
        raise ImportError(
            "to_xarray needs the optional dependency 'xarray': pip install 'liquidation-heatmap[xarray]'"
        ) from exc
    return xr


def to_xarray(hm: Heatmap) -> Any:
    """An ``xarray.Dataset`` with dims ``time`` × ``price`` (needs the ``xarray`` extra).

    Variables ``long`` and ``short`` [quote notional]; coordinates ``time`` (UTC, stored tz-naive with
    ``attrs["time_zone"] = "UTC"``), ``price`` (band centres), ``price_low`` and ``price_high`` [quote]; the
    close path at the snapshot times as ``close`` [quote]; units per variable in ``attrs["units"]``; the model's
    repr in ``attrs["model"]`` and JSON-safe ``meta`` as ``attrs["meta"]`` (a JSON string).

    Examples
    --------
    >>> t = pd.date_range("2025-01-01", periods=2, freq="h", tz="UTC")
    >>> hm = Heatmap(times=t, price_edges=np.array([90.0, 100.0, 110.0]), long=np.ones((2, 2)),
    ...              short=np.zeros((2, 2)), price=pd.Series([100.0, 101.0], index=t))
    >>> ds = to_xarray(hm)
    >>> dict(ds.sizes), ds["long"].attrs["units"]
    ({'time': 2, 'price': 2}, 'quote notional')
    """
    xr = _xarray()
    times = hm.times.tz_convert("UTC").tz_localize(None) if hm.times.tz is not None else hm.times
    edges = np.asarray(hm.price_edges, dtype=float)
    close = hm.price.reindex(hm.times, method="ffill").to_numpy(dtype=float) if len(hm.price) else None
    data_vars: dict[str, Any] = {
        s: (
            ("time", "price"),
            np.asarray(getattr(hm, s), dtype=float),
            {"units": "quote notional", "long_name": f"{s} liquidation notional per price band"},
        )
        for s in ("long", "short")
    }
    if close is not None:
        data_vars["close"] = ("time", close, {"units": "quote", "long_name": "close price at the snapshot"})
    ds = xr.Dataset(
        data_vars=data_vars,
        coords={
            "time": (
                "time",
                np.asarray(times),
                {"time_zone": "UTC", "long_name": "bar open time (state after close)"},
            ),
            "price": ("price", hm.centers, {"units": "quote", "long_name": "geometric band centre"}),
            "price_low": ("price", edges[:-1], {"units": "quote"}),
            "price_high": ("price", edges[1:], {"units": "quote"}),
        },
        attrs={
            "title": "liquidation heatmap",
            "format": FORMAT,
            "units": "long/short: quote notional per band; prices: quote; time: UTC",
            "model": "" if hm.model is None else repr(hm.model),
            "meta": json.dumps(_json_safe(dict(hm.meta))),
        },
    )
    return ds


def from_xarray(ds: Any, *, price: pd.Series | None = None) -> Heatmap:
    """A :class:`Heatmap` from a Dataset written by :func:`to_xarray` (no model; ``price`` defaults to ``close``).

    Examples
    --------
    >>> t = pd.date_range("2025-01-01", periods=1, freq="h", tz="UTC")
    >>> hm = Heatmap(times=t, price_edges=np.array([1.0, 2.0]), long=np.array([[4.0]]), short=np.zeros((1, 1)),
    ...              price=pd.Series([1.5], index=t))
    >>> from_xarray(to_xarray(hm)).long.tolist()
    [[4.0]]
    """
    times = pd.DatetimeIndex(ds["time"].values).tz_localize("UTC")
    edges = np.concatenate([ds["price_low"].values[:1], ds["price_high"].values]).astype(float)
    if price is None:
        if "close" not in ds:
            raise ValueError("dataset has no 'close' variable; pass price= (the close path)")
        price = pd.Series(ds["close"].values.astype(float), index=times, name="close")
    meta = json.loads(ds.attrs.get("meta", "{}"))
    return Heatmap(
        times=times,
        price_edges=edges,
        long=ds["long"].transpose("time", "price").values,
        short=ds["short"].transpose("time", "price").values,
        price=price,
        meta=meta,
    )
