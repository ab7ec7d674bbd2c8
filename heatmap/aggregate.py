"""Aggregated maps across venues and symbols, and batch runs that scale past one process.

* :func:`estimate_many` puts several venues (each with its own contract type, margin schedule and funding)
  on one common price grid and time axis and sums them into an aggregate layer.
* :func:`batch` runs one model over many markets with any ``concurrent.futures``-style executor — a local
  process pool, or a Dask ``distributed.Client`` (the ``dask`` extra) — and can stream each result to disk
  so that the parent process never holds them all.

Memory of one heatmap is ``times × bins × 2 sides × bytes per cell`` (float32: 4 bytes): a year of hourly
snapshots on 1,000 bins is 8,760 × 1,000 × 2 × 4 B = 70 MB.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from heatmap.grid import PriceGrid
from heatmap.result import Heatmap

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from heatmap.market import Market
    from heatmap.model import Model

__all__ = ["MultiHeatmap", "estimate_many", "common_grid", "align", "batch", "memory_bytes"]

StoreFormat = Literal["parquet", "zarr"]


def memory_bytes(times: int, bins: int, *, sides: int = 2, dtype: Any = np.float32) -> int:
    """Bytes held by a heatmap's arrays: ``times × bins × sides × itemsize``.

    Examples
    --------
    >>> memory_bytes(8760, 1000) / 2**20  # a year of hourly snapshots, 1,000 bins, float32 [MiB]
    66.83...
    """
    return int(times) * int(bins) * int(sides) * np.dtype(dtype).itemsize


def common_grid(markets: Iterable[Market], *, bins: int = 1000) -> PriceGrid:
    """One log-spaced grid covering every market's range (with the engine's usual margin)."""
    grids = [PriceGrid.for_market(m, bins=bins) for m in markets]
    if not grids:
        raise ValueError("need at least one market to build a common grid")
    low = min(g.edges[0] for g in grids)
    high = max(g.edges[-1] for g in grids)
    return PriceGrid.log_spaced(low, high, bins)


def align(
    hm: Heatmap, times: pd.DatetimeIndex, *, bar: pd.Timedelta | None = None
) -> tuple[Heatmap, np.ndarray]:
    """Re-index a heatmap onto ``times`` (same price grid).

    At each target time the layer shows its latest snapshot at or before it, but only inside the span the
    venue has data for (``[first snapshot, last snapshot + bar)``); outside, the layer is zero and the
    returned coverage mask is False.

    Returns
    -------
    (Heatmap, ndarray of bool)
    """
    bar = bar if bar is not None else pd.Timedelta(hm.meta.get("freq", 0) or 0)
    pos = hm.times.searchsorted(times, side="right") - 1
    end = hm.times[-1] + (bar if bar > pd.Timedelta(0) else pd.Timedelta(0))
    covered = (pos >= 0) & (times <= end if bar == pd.Timedelta(0) else times < end)
    rows = np.clip(pos, 0, len(hm.times) - 1)
    long = np.where(covered[:, None], hm.long[rows], 0).astype(hm.long.dtype, copy=False)
    short = np.where(covered[:, None], hm.short[rows], 0).astype(hm.short.dtype, copy=False)
    out = Heatmap(
        times=times,
        price_edges=hm.price_edges,
        long=long,
        short=short,
        price=hm.price,
        model=hm.model,
        ledger=hm.ledger,
        liquidations=hm.liquidations,
        meta={**hm.meta, "aligned": True},
    )
    return out, covered


@dataclass(frozen=True, eq=False)
class MultiHeatmap:
    """Per-venue heatmaps on one price grid and time axis, and their sum.

    Attributes
    ----------
    layers : dict[str, Heatmap]
        One layer per venue/symbol name, zero where that venue has no data.
    total : Heatmap
        The aggregate (sum of the layers) [quote].
    coverage : DataFrame
        times × names, True where the venue had data.
    """

    layers: dict[str, Heatmap]
    total: Heatmap
    coverage: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return list(self.layers)

    def share(self) -> pd.DataFrame:
        """Each layer's share of total liquidation notional at each time (NaN where the total is zero)."""
        totals = pd.DataFrame({n: hm.total.sum(axis=1) for n, hm in self.layers.items()})
        return totals.div(totals.sum(axis=1).replace(0.0, np.nan), axis=0)

    def plot(
        self,
        ax: Axes | None = None,
        *,
        kind: Literal["total", "stacked", "separate"] = "total",
        **kwargs: Any,
    ) -> Any:
        """Plot the aggregate heatmap, the layers' shares over time, or one panel per layer.

        ``kind="total"`` draws the aggregate with :func:`heatmap.plot_heatmap` and returns its image;
        ``"stacked"`` draws each layer's share of total notional as a stacked area (returns the artists);
        ``"separate"`` draws one heatmap per layer, titled with its name, on ``fig=`` or on the figure of ``ax``
        (which it clears) or a new figure (returns the images).
        """
        from heatmap.plot import new_figure, plot_heatmap

        if kind == "total":
            return plot_heatmap(self.total, ax=ax, **kwargs)
        if kind == "stacked":
            if ax is None:
                _, ax = new_figure((12, 4))
            share = self.share().fillna(0.0)
            arts = ax.stackplot(share.index, share.T.to_numpy(), labels=list(share.columns))
            ax.set_ylabel("share of liquidation notional")
            ax.set_ylim(0, 1)
            ax.legend(loc="upper left", fontsize="small")
            return arts
        if kind == "separate":
            fig = kwargs.pop("fig", None)
            if fig is None and ax is not None:
                fig = ax.figure
            if fig is None:
                fig, _ = new_figure((12, 3 * len(self.layers)))
            fig.clear()
            axes = fig.subplots(len(self.layers), 1, sharex=True, squeeze=False)[:, 0]
            meshes = []
            for a, (name, hm) in zip(axes, self.layers.items(), strict=True):
                meshes.append(plot_heatmap(hm, ax=a, **kwargs))
                a.set_title(str(name), loc="left", fontsize="medium")
            return meshes
        raise ValueError(f"kind must be 'total', 'stacked' or 'separate', got {kind!r}")

    def to_png(self, path: str | Path, **kwargs: Any) -> Path:
        from heatmap.plot import render_png

        return render_png(self, path, **kwargs)

    def to_html(
        self, path: str | Path, *, markets: Mapping[str, Market] | None = None, **kwargs: Any
    ) -> Path:
        """Write the aggregate as the offline interactive page (:func:`heatmap.interactive.to_html`).

        With ``markets`` (each layer's market, by name) the page gets the leverage-layer toggle, each venue split
        with its own model and the buckets summed (:func:`heatmap.layers.aggregate_leverage_layers_over_time`).
        ``kwargs``: ``side``, ``within``, ``max_times``, ``max_bins``, ``title`` of
        :func:`heatmap.html_page.write_html`.

        Examples
        --------
        >>> multi.to_html("aggregate.html", markets={"binance": m1, "bybit": m2})  # doctest: +SKIP
        """
        from heatmap.html_page import write_html

        split = None
        if markets is not None:
            from heatmap.layers import aggregate_leverage_layers_over_time

            def split(rows: np.ndarray) -> Mapping[str, np.ndarray]:
                return aggregate_leverage_layers_over_time(self, markets, rows)

        return write_html(self.total, path, leverage_split=split, **kwargs)


def _as_specs(specs: Mapping[str, Any]) -> dict[str, tuple[Market, Model | None]]:
    from heatmap.market import Market

    if not specs:
        raise ValueError("estimate_many needs at least one {name: (market, model)} entry")
    out: dict[str, tuple[Market, Model | None]] = {}
    for name, spec in specs.items():
        if isinstance(spec, Market):
            out[name] = (spec, None)
        elif isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], Market):
            out[name] = (spec[0], spec[1])
        else:
            raise TypeError(
                f"entry {name!r} must be a Market or a (Market, Model) pair, got {type(spec).__name__}"
            )
    return out


def estimate_many(
    specs: Mapping[str, Any],
    *,
    grid: PriceGrid | None = None,
    bins: int = 1000,
    snapshot_every: int | None = None,
    engine: Literal["grid", "ledger"] = "grid",
    executor: Executor | Any | None = None,
) -> MultiHeatmap:
    """Estimate several venues on one price grid and sum them.

    Each venue keeps its own model (contract type, margin schedule, leverage assumptions); the engine
    reports every layer in quote notional (linear: ``qty × LP``; inverse: the positions' face value, with the
    COIN-M liquidation prices and funding), so linear and inverse contracts add up directly.

    Parameters
    ----------
    specs : mapping of name -> (Market, Model or None) or Market
        E.g. ``{"binance": (m1, model_usdm), "bybit": (m2, model_bybit)}``.
    grid : PriceGrid, optional
        Common grid; default covers all markets with ``bins`` bins.
    bins, snapshot_every, engine
        Passed to :func:`heatmap.estimate`.
    executor : concurrent.futures.Executor or dask Client, optional
        Run the venues in parallel; default runs them in this process.

    Returns
    -------
    MultiHeatmap

    Examples
    --------
    >>> import heatmap as lh
    >>> a = lh.synthetic_market(days=5, seed=1)
    >>> b = lh.synthetic_market(days=5, seed=2)
    >>> multi = lh.estimate_many({"a": (a, None), "b": (b, None)}, bins=300)
    >>> sorted(multi.layers)
    ['a', 'b']
    """
    pairs = _as_specs(specs)
    grid = grid if grid is not None else common_grid([m for m, _ in pairs.values()], bins=bins)
    jobs = {name: (m, model) for name, (m, model) in pairs.items()}
    # a module-level function with bound options (not a lambda) so that process pools can pickle it
    job = functools.partial(_estimate_job, grid=grid, snapshot_every=snapshot_every, engine=engine)
    results = _run_all(jobs, job, executor=executor)
    times = pd.DatetimeIndex(sorted(set().union(*(set(hm.times) for hm in results.values()))))
    layers: dict[str, Heatmap] = {}
    coverage = {}
    for name, hm in results.items():
        freq = pairs[name][0].freq
        layers[name], coverage[name] = align(hm, times, bar=freq)
    first = next(iter(layers.values()))
    dtype = np.result_type(*(hm.long.dtype for hm in layers.values()))
    long = np.zeros(first.shape, dtype=dtype)
    short = np.zeros(first.shape, dtype=dtype)
    for hm in layers.values():
        long += hm.long
        short += hm.short
    ref_price = first.price
    total = Heatmap(
        times=times,
        price_edges=grid.edges,
        long=long,
        short=short,
        price=ref_price,
        model=None,
        meta={"aggregate_of": list(layers), "price_reference": next(iter(layers))},
    )
    return MultiHeatmap(layers=layers, total=total, coverage=pd.DataFrame(coverage, index=times))


def _estimate_job(
    market: Market, model: Model | None, grid: PriceGrid, snapshot_every: int | None, engine: str
) -> Heatmap:
    from heatmap.engine import estimate

    return estimate(market, model, grid=grid, snapshot_every=snapshot_every, engine=engine)  # type: ignore[arg-type]


def _run_all(
    jobs: Mapping[str, tuple[Any, ...]], fn: Callable[..., Any], *, executor: Executor | Any | None
) -> dict[str, Any]:
    if executor is None:
        return {name: fn(*args) for name, args in jobs.items()}
    futures = {name: executor.submit(fn, *args) for name, args in jobs.items()}
    return {name: fut.result() for name, fut in futures.items()}


# -- batch ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchItem:
    """Summary of one market's run in :func:`batch` (the heatmap itself, or where it was written)."""

    name: str
    snapshots: int
    bins: int
    total_long: float
    total_short: float
    path: Path | None = None
    heatmap: Heatmap | None = None


def _store_target(out: str | Path, name: str, fmt: StoreFormat) -> Path:
    from heatmap.io.store import store_path

    return store_path(out, name, suffix=".zarr" if fmt == "zarr" else ".heatmap")


def _batch_job(
    name: str,
    market: Market,
    model: Model | None,
    bins: int,
    snapshot_every: int | None,
    out: str | None,
    fmt: StoreFormat,
    sparse: bool,
    keep: bool,
    overwrite: bool = False,
) -> BatchItem:
    from heatmap.engine import estimate
    from heatmap.io.store import write_heatmap

    hm = estimate(market, model, bins=bins, snapshot_every=snapshot_every)
    last = hm.total.iloc[-1]
    path = None
    if out is not None:
        path = write_heatmap(
            hm, _store_target(out, name, fmt), format=fmt, sparse=sparse, overwrite=overwrite
        )
    return BatchItem(
        name=name,
        snapshots=len(hm.times),
        bins=hm.shape[1],
        total_long=float(last["long"]),
        total_short=float(last["short"]),
        path=path,
        heatmap=hm if keep else None,
    )


def batch(
    markets: Mapping[str, Market],
    model: Model | None = None,
    *,
    executor: Executor | Any | None = None,
    workers: int | None = None,
    bins: int = 1000,
    snapshot_every: int | None = None,
    out: str | Path | None = None,
    format: StoreFormat = "parquet",
    sparse: bool = True,
    progress: bool = False,
    overwrite: bool = False,
) -> dict[str, BatchItem]:
    """Run one model over many markets, in parallel, optionally streaming results to disk.

    Parameters
    ----------
    markets : mapping of name -> Market
    model : Model, optional
    executor : concurrent.futures.Executor or dask.distributed.Client, optional
        Where to run. Default: a local :class:`~concurrent.futures.ProcessPoolExecutor` with ``workers``
        processes (``workers=1`` runs in this process). A Dask ``Client`` runs the same function on a cluster.
    workers : int, optional
        Size of the default process pool (default: CPU count).
    bins, snapshot_every
        Passed to :func:`heatmap.estimate`.
    out : path, optional
        Directory: each market's heatmap is written there by the worker that computed it
        (``<name>.heatmap`` Parquet directory, or ``<name>.zarr`` with the ``xarray`` extra) and only a
        summary comes back, so memory stays bounded by one market per worker.
    format : {"parquet", "zarr"}
    sparse : bool
        Parquet only: store only non-zero cells.
    progress : bool
        tqdm progress bar over finished markets.
    overwrite : bool, default False
        Replace existing stores of this library under ``out``. A path there that is not such a store (a file,
        another directory) is never replaced: the batch refuses before computing anything.

    Returns
    -------
    dict of name -> BatchItem (with ``heatmap`` when ``out`` is None, else ``path``)
    """
    if format not in ("parquet", "zarr"):
        raise ValueError(f"format must be 'parquet' or 'zarr', got {format!r}")
    if not markets:
        raise ValueError("batch needs at least one market")
    keep = out is None
    if out is not None:
        from heatmap.io.store import check_store_target

        targets = {name: _store_target(out, name, format) for name in markets}  # names checked first
        for target in targets.values():
            check_store_target(target, overwrite=overwrite)
        Path(out).mkdir(parents=True, exist_ok=True)
    args = {
        name: (
            name,
            m,
            model,
            bins,
            snapshot_every,
            None if out is None else str(out),
            format,
            sparse,
            keep,
            overwrite,
        )
        for name, m in markets.items()
    }
    own_pool = None
    if executor is None:
        n = workers if workers is not None else (os.cpu_count() or 1)
        if n > 1 and len(markets) > 1:
            own_pool = ProcessPoolExecutor(max_workers=n)
            executor = own_pool
    try:
        if executor is None:
            results = {}
            iterator: Iterable[str] = markets
            if progress:
                from tqdm.auto import tqdm

                iterator = tqdm(list(markets), desc="markets")
            for name in iterator:
                results[name] = _batch_job(*args[name])
            return results
        futures = {name: executor.submit(_batch_job, *a) for name, a in args.items()}
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(futures), desc="markets")
            out_items = {}
            for name, fut in futures.items():
                out_items[name] = fut.result()
                bar.update(1)
            bar.close()
            return out_items
        return {name: fut.result() for name, fut in futures.items()}
    finally:
        if own_pool is not None:
            own_pool.shutdown()
