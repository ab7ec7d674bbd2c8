"""``estimate`` and the streaming :class:`Estimator`: one engine path for batch and incremental runs.

:func:`estimate` is a thin wrapper: ``Estimator(model, ...).update(market)`` and return ``.heatmap``. The
estimator keeps its state as plain numpy arrays plus JSON-able metadata, so it can be checkpointed with
:meth:`Estimator.save` and resumed with :meth:`Estimator.load`; feeding a market in chunks gives exactly the
batch result (same grid, same snapshot stride).

Examples
--------
>>> import numpy as np, pandas as pd
>>> from heatmap.market import Market
>>> from heatmap.grid import PriceGrid
>>> idx = pd.date_range("2025-01-01", periods=4, freq="1h", tz="UTC")
>>> m = Market(pd.DataFrame({"open": [100.0, 101, 99, 100], "high": [101.0, 102, 100, 101],
...                          "low": [99.0, 98, 97, 99], "close": [101.0, 99, 100, 100],
...                          "open_interest": [10.0, 12, 11, 11]}, index=idx))
>>> hm = estimate(m, bins=200)
>>> hm.shape
(4, 200)
>>> bool(np.allclose(hm.ledger["held_long"], m.frame["open_interest"]))
True
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from heatmap.engine.base import LEDGER_COLUMNS, Bars, EngineConfig, Outputs, decay_factor
from heatmap.grid import DEFAULT_MARGIN, PriceGrid
from heatmap.market import Market, MarketDataError
from heatmap.result import Heatmap

if TYPE_CHECKING:
    from heatmap.model import Model

__all__ = ["CHECKPOINT_VERSION", "MEMORY_BUDGET", "Estimator", "estimate", "snapshot_stride"]

EngineName = Literal["grid", "ledger"]

#: Bytes the snapshot arrays of :func:`estimate` may take by default (float32, both sides).
MEMORY_BUDGET = 256 * 2**20
#: Version of the :meth:`Estimator.save` checkpoint format.
CHECKPOINT_VERSION = 1
#: Bars of history kept to compute the speculative share of the next chunk (so chunks equal the batch run).
SHARE_CONTEXT = 256
_PROGRESS_CHUNK = 8192
#: Extra factor a default grid grows by beyond what new prices need (see :meth:`Estimator.update`).
GROWTH_HEADROOM = 1.25
#: Age blocks of the grid engine for the "oldest" and "profitable" exits (see :class:`EngineConfig`).
DEFAULT_AGE_BLOCKS = 256


def snapshot_stride(n_bars: int, bins: int, *, budget: int = MEMORY_BUDGET) -> int:
    """Smallest stride ``k`` such that ``ceil(n_bars / k)`` snapshots of ``bins`` bins (2 sides, float32) fit.

    Examples
    --------
    >>> snapshot_stride(8_760, 1_000)
    1
    >>> snapshot_stride(525_600, 1_000)
    16
    """
    if n_bars <= 0:
        return 1
    per_row = 2 * 4 * max(int(bins), 1)
    rows = max(budget // per_row, 1)
    return max(1, math.ceil(n_bars / rows))


def _default_model() -> Model:
    from heatmap.model import Model

    return Model()


def _resolve_config(
    model: Model, freq: pd.Timedelta, age_blocks: int | None, *, reference_price: float | None = None
) -> EngineConfig:
    """The engine configuration of ``model``.

    The contract type comes from the schedule (``schedule.contract``). Inverse brackets are in coin: a
    position-size node of face value ``N`` [quote] takes the bracket of the coin notional ``N / reference_price``
    [coin] and is stored in coin (see :class:`EngineConfig`), so inverse models with ``position_size`` need
    ``reference_price`` [quote].
    """
    schedule = model.resolved_schedule()
    contract = schedule.contract
    mmr = float(np.asarray(schedule.mmr)[0])
    sizes: tuple[tuple[float, float, float, float, float], ...] = ()
    if model.position_size is not None and contract == "inverse":
        if reference_price is None or not (math.isfinite(reference_price) and reference_price > 0):
            raise ValueError(
                f"reference_price: got {reference_price!r}; an inverse schedule with position_size needs a price "
                "> 0 [quote] to convert sizes [quote] to the coin notional its brackets are in"
            )
        ref = float(reference_price)

        class _InCoin:  # the schedule looked up at quote notionals converted to coin
            @staticmethod
            def lookup(notional: Any, *, clip: bool = False) -> Any:
                return schedule.lookup(np.asarray(notional, dtype=float) / ref, clip=clip)

        sizes = tuple(
            (w, m, cr * ref, ml, n / ref) for w, m, cr, ml, n in _size_nodes(model.position_size, _InCoin)
        )
        mmr = float(sum(w * m for w, m, *_ in sizes))
    elif model.position_size is not None:
        sizes = _size_nodes(model.position_size, schedule)
        # funding moves every level of a bin together: use the size-weighted bracket rate for the shift
        mmr = float(sum(w * m for w, m, *_ in sizes))
    max_lev = float(schedule.max_leverage)
    lev = model.leverage
    passive = model.passive_leverage
    if model.max_leverage_from_schedule:
        if lev.max_leverage > max_lev:
            lev = lev.truncate(max_lev)
        if passive.max_leverage > max_lev:
            passive = passive.truncate(max_lev)
    if age_blocks is None:
        age_blocks = DEFAULT_AGE_BLOCKS if model.exit in ("oldest", "profitable") else 1
    return EngineConfig(
        leverage=lev,
        passive_leverage=passive,
        mmr=mmr,
        entry=model.entry,
        exit=model.exit,
        decay=decay_factor(model.decay_half_life, freq),
        age_blocks=int(age_blocks),
        sizes=sizes,
        contract=contract,
    )


#: Nodes used to discretise a continuous position-size distribution.
SIZE_NODES = 12


def _size_nodes(dist: Any, schedule: Any) -> tuple[tuple[float, float, float, float, float], ...]:
    """Discretise a position-size law [quote] and look up each node's bracket at its entry notional."""
    from heatmap.leverage import Leverage

    if isinstance(dist, Leverage):
        nodes, weights = dist.discretize(SIZE_NODES)
    else:
        q = (np.arange(SIZE_NODES) + 0.5) / SIZE_NODES
        nodes, weights = np.asarray(dist.ppf(q), dtype=float), np.full(SIZE_NODES, 1.0 / SIZE_NODES)
    nodes = np.asarray(nodes, dtype=float)
    weights = np.asarray(weights, dtype=float)
    if np.any(~np.isfinite(nodes)) or np.any(nodes <= 0):
        raise ValueError(
            f"position_size: nodes must be finite positive notionals [quote], got {nodes.tolist()}"
        )
    mmr, cum, max_lev = schedule.lookup(nodes, clip=True)
    return tuple(
        (float(w), float(m), float(c) / float(n), float(ml), float(n))
        for w, m, c, ml, n in zip(
            weights, np.atleast_1d(mmr), np.atleast_1d(cum), np.atleast_1d(max_lev), nodes, strict=True
        )
        if w > 0
    )


def _share(model: Model, frame: pd.DataFrame) -> NDArray[np.float64]:
    from heatmap.model import speculative_long_share

    out = np.asarray(speculative_long_share(frame, model.side_split, model.split_strength), dtype=np.float64)
    if out.shape != (len(frame),):
        raise ValueError(f"speculative_long_share returned shape {out.shape}, expected ({len(frame)},)")
    return out


class Estimator:
    """Incremental liquidation-map estimator.

    Parameters
    ----------
    model : Model, optional
        Assumptions (``Model()`` when omitted).
    grid : PriceGrid, optional
        Price grid. Default: :meth:`PriceGrid.for_market` of the first bars (``bins`` bins), grown with
        :meth:`PriceGrid.extend` when later prices come within a factor 2.5 of its edges (with a further 25 %
        head room). A given grid is only grown when prices leave it. Growing never moves stored mass.
    bins : int, default 1000
        Bins of the default grid.
    snapshot_every : int, optional
        Keep the state after every ``k``-th bar (global bar positions ``k-1, 2k-1, …``); default 1. The latest
        bar is always in :attr:`heatmap`.
    engine : {"grid", "ledger"}, default "grid"
        Fast grid engine or the exact per-cohort reference (slow).
    progress : bool, default False
        Show a tqdm progress bar during :meth:`update`.
    age_blocks : int, optional
        Grid engine only: keep the openings of up to this many bars in separate rows (default 1, or 256 for
        the ``"oldest"``/``"profitable"`` exits). More blocks keep levels of different bars apart (no merging
        inside a bin) at a cost proportional to the number of blocks.

    Examples
    --------
    >>> from heatmap.synthetic import synthetic_market
    >>> from heatmap.grid import PriceGrid
    >>> market = synthetic_market(days=4, freq="1h", seed=1)
    >>> grid = PriceGrid.for_market(market, bins=300)
    >>> est = Estimator(grid=grid)
    >>> part = est.update(market.iloc[:48])
    >>> part = est.update(market.iloc[48:])
    >>> full = estimate(market, grid=grid)
    >>> bool(np.array_equal(est.heatmap.long, full.long))
    True
    """

    def __init__(
        self,
        model: Model | None = None,
        *,
        grid: PriceGrid | None = None,
        bins: int = 1000,
        snapshot_every: int | None = None,
        engine: EngineName = "grid",
        progress: bool = False,
        age_blocks: int | None = None,
    ) -> None:
        if age_blocks is not None and (
            isinstance(age_blocks, bool) or not isinstance(age_blocks, (int, np.integer)) or age_blocks < 1
        ):
            raise ValueError(f"age_blocks must be a positive integer or None, got {age_blocks!r}")
        self.age_blocks = None if age_blocks is None else int(age_blocks)
        if engine not in ("grid", "ledger"):
            raise ValueError(f"engine must be 'grid' or 'ledger', got {engine!r}")
        if snapshot_every is not None and (
            isinstance(snapshot_every, bool)
            or not isinstance(snapshot_every, (int, np.integer))
            or snapshot_every < 1
        ):
            raise ValueError(f"snapshot_every must be a positive integer or None, got {snapshot_every!r}")
        if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 2:
            raise ValueError(f"bins must be an integer >= 2, got {bins!r}")
        if grid is not None and not isinstance(grid, PriceGrid):
            raise TypeError(f"grid must be a PriceGrid, got {type(grid).__name__}")
        self.model = model if model is not None else _default_model()
        self.bins = int(bins)
        self.snapshot_every = int(snapshot_every or 1)
        self.engine_name: str = engine
        self.progress = bool(progress)
        self._user_grid = grid is not None
        self.grid: PriceGrid | None = grid
        self._engine: Any = None
        self._config: EngineConfig | None = None
        self.freq: pd.Timedelta | None = None
        self.symbol: str | None = None
        self.n_bars = 0
        self.last_time: pd.Timestamp | None = None
        self.last_oi: float | None = None
        self._context: pd.DataFrame | None = None
        # stored results: snapshot chunks (with the bin count of the grid they were taken on), per-bar tables
        self._snaps: list[tuple[int, NDArray[Any], NDArray[Any]]] = []
        self._snap_times: list[NDArray[np.int64]] = []
        self._ledger: list[NDArray[np.float64]] = []
        self._liq: list[NDArray[np.float64]] = []
        self._price: list[NDArray[np.float64]] = []
        self._times: list[NDArray[np.int64]] = []
        self._cache: Heatmap | None = None
        self._seconds = 0.0

    # -- input ------------------------------------------------------------------------------------------------
    def _as_market(self, bars: Market | pd.DataFrame) -> Market:
        if isinstance(bars, Market):
            return bars
        if isinstance(bars, pd.DataFrame):
            return Market(bars, freq=self.freq)
        raise TypeError(f"update() takes a Market or a DataFrame of bars, got {type(bars).__name__}")

    def _check_continuity(self, market: Market) -> None:
        if self.last_time is None or self.freq is None:
            return
        if market.freq != self.freq:
            raise MarketDataError(f"bar length {market.freq} differs from the estimator's {self.freq}")
        first = market.index[0]
        expected = self.last_time + self.freq
        if first <= self.last_time:
            raise MarketDataError(
                f"bar {first} overlaps or precedes the last processed bar {self.last_time}; "
                f"the next bar must open at {expected}"
            )
        if first != expected:
            raise MarketDataError(
                f"bar {first} leaves a gap after the last processed bar {self.last_time}; expected {expected}"
            )

    def _prepare(self, market: Market) -> Bars:
        model = self.model
        frame = market.frame
        n = len(frame)
        low, high, close = (frame[c].to_numpy(np.float64) for c in ("low", "high", "close"))
        has_mark = "mark_low" in frame
        cons_low = frame["mark_low"].to_numpy(np.float64) if has_mark else low
        cons_high = frame["mark_high"].to_numpy(np.float64) if has_mark else high
        entry_mode = model.entry
        entry = (low + high + close) / 3.0 if entry_mode == "typical" else close
        if model.funding and "funding_rate" in frame:
            funding = frame["funding_rate"].to_numpy(np.float64)
        else:
            funding = np.zeros(n)
        funding_price = frame["mark_open" if has_mark else "open"].to_numpy(np.float64)
        turnover = float(model.turnover)
        if turnover > 0 and "volume" in frame:  # the model documents: ignored without a volume column
            turn = turnover * frame["volume"].to_numpy(np.float64)
        else:
            turn = np.zeros(n)
        ctx = frame if self._context is None else pd.concat([self._context, frame])
        share = _share(model, ctx)[-n:]
        tail = ctx.iloc[-SHARE_CONTEXT:]
        if (
            "funding_rate" in ctx
            and len(ctx) > SHARE_CONTEXT
            and not (tail["funding_rate"].fillna(0) != 0).any()
        ):
            settled = ctx["funding_rate"].fillna(0).to_numpy() != 0
            if settled.any():  # the "funding" side split carries the last settled rate forward
                last = int(np.flatnonzero(settled)[-1])
                tail = pd.concat([ctx.iloc[last : last + 1], tail])
        self._next_context = tail
        return Bars(
            time=pd.DatetimeIndex(frame.index).asi8.astype(np.int64),
            low=low,
            high=high,
            close=close,
            cons_low=cons_low,
            cons_high=cons_high,
            entry=entry,
            funding=funding,
            funding_price=funding_price,
            oi=frame["open_interest"].to_numpy(np.float64),
            long_share=np.clip(share, 0.0, 1.0),
            turnover=turn,
        )

    def _make_engine(self, grid: PriceGrid) -> Any:
        assert self._config is not None
        if self.engine_name == "grid":
            from heatmap.engine.grid import GridEngine

            return GridEngine(self._config, grid)
        from heatmap.engine.ledger import LedgerEngine

        return LedgerEngine(self._config, grid)

    def _ensure_grid(self, market: Market, bars: Bars) -> None:
        lo = float(min(bars.cons_low.min(), bars.low.min()))
        hi = float(max(bars.cons_high.max(), bars.high.max()))
        if self.grid is None:
            self.grid = PriceGrid.for_market(market, bins=self.bins)
            return
        if self._user_grid:
            need_lo, need_hi = lo, hi
        else:
            need_lo, need_hi = lo / DEFAULT_MARGIN, hi * DEFAULT_MARGIN
        if need_lo < self.grid.edges[0] or need_hi > self.grid.edges[-1]:
            if (
                not self._user_grid
            ):  # head room, so that a trending stream does not regrid at every new extreme
                need_lo, need_hi = need_lo / GROWTH_HEADROOM, need_hi * GROWTH_HEADROOM
            new = self.grid.extend(min(need_lo, self.grid.edges[0]), max(need_hi, self.grid.edges[-1]))
            off = self.grid.offset_in(new)
            if self._engine is not None:
                self._engine.regrid(new)
            pad = ((0, 0), (off, new.n_bins - self.grid.n_bins - off))
            self._snaps = [(new.n_bins, np.pad(lr, pad), np.pad(sr, pad)) for _, lr, sr in self._snaps]
            self._cache = None
            self.grid = new

    # -- public -----------------------------------------------------------------------------------------------
    def update(self, bars: Market | pd.DataFrame) -> Heatmap:
        """Process new bars (continuing exactly after the last processed one); return their snapshots.

        Parameters
        ----------
        bars : Market or DataFrame
            The next bars. Their first bar must open one bar length after the last processed bar.

        Returns
        -------
        Heatmap
            Snapshots taken in these bars (stride ``snapshot_every``) plus the state after the last new bar,
            with the ledger and predicted liquidations of every new bar.

        Raises
        ------
        MarketDataError
            Overlapping, out-of-order or gapped bars (the message names the first bad timestamp); the state is
            left unchanged.
        """
        market = self._as_market(bars)
        self._check_continuity(market)
        t0 = time.perf_counter()
        if self.freq is None:
            self.freq = market.freq
            self.symbol = market.symbol
        if self._config is None:
            self._config = _resolve_config(self.model, market.freq, self.age_blocks)
        prepared = self._prepare(market)
        self._ensure_grid(market, prepared)
        assert self.grid is not None
        if self._engine is None:
            self._engine = self._make_engine(self.grid)
        n = len(prepared)
        g = self.n_bars + np.arange(n)
        k = self.snapshot_every
        mask = (g + 1) % k == 0
        out = Outputs.allocate(n, mask, self.grid.n_bins)
        if self.progress:
            from tqdm.auto import tqdm

            with tqdm(total=n, unit="bar", desc=f"estimate ({self.engine_name})") as bar:
                for a in range(0, n, _PROGRESS_CHUNK):
                    b = min(n, a + _PROGRESS_CHUNK)
                    sub = Outputs(
                        ledger=out.ledger[a:b],
                        liquidations=out.liquidations[a:b],
                        snap_long=out.snap_long,
                        snap_short=out.snap_short,
                        snap_rows=out.snap_rows[a:b],
                    )
                    self._engine.run(prepared.slice(a, b), sub)
                    bar.update(b - a)
        else:
            self._engine.run(prepared, out)
        # commit
        self._context = self._next_context
        self.n_bars += n
        self.last_time = market.index[-1]
        self.last_oi = float(prepared.oi[-1])
        P = self.grid.n_bins
        self._snaps.append((P, out.snap_long, out.snap_short))
        self._snap_times.append(prepared.time[mask])
        self._ledger.append(out.ledger)
        self._liq.append(out.liquidations)
        self._price.append(prepared.close.copy())
        self._times.append(prepared.time)
        self._cache = None
        self._seconds += time.perf_counter() - t0
        live = None if mask[-1] else self._engine.snapshot()
        times = prepared.time[mask]
        long_rows, short_rows = out.snap_long, out.snap_short
        if live is not None:
            times = np.append(times, prepared.time[-1])
            long_rows = np.vstack([long_rows, live[0].astype(np.float32)[None]])
            short_rows = np.vstack([short_rows, live[1].astype(np.float32)[None]])
        return self._assemble(
            times, long_rows, short_rows, prepared.time, prepared.close, out.ledger, out.liquidations
        )

    def _assemble(
        self,
        snap_times: NDArray[np.int64],
        long_rows: NDArray[Any],
        short_rows: NDArray[Any],
        bar_times: NDArray[np.int64],
        close: NDArray[np.float64],
        ledger: NDArray[np.float64],
        liq: NDArray[np.float64],
    ) -> Heatmap:
        assert self.grid is not None
        idx = pd.DatetimeIndex(pd.to_datetime(bar_times, utc=True), name="time")
        cfg = self._config
        extra: dict[str, Any] = {}
        if self.engine_name == "ledger" and self._engine is not None:
            # the live cohorts after the latest bar (side 0 long / 1 short, qty [base], lp [quote], ...)
            cohorts = pd.DataFrame(self._engine.cohorts())
            cohorts["side"] = np.where(cohorts["side"] == 0, "long", "short")
            cohorts["notional"] = cohorts["qty"] * cohorts["lp"]
            extra["cohorts"] = cohorts
        return Heatmap(
            times=pd.DatetimeIndex(pd.to_datetime(snap_times, utc=True), name="time"),
            price_edges=self.grid.edges,
            long=long_rows,
            short=short_rows,
            price=pd.Series(close, index=idx, name="close"),
            model=self.model,
            ledger=pd.DataFrame(ledger, index=idx, columns=list(LEDGER_COLUMNS)),
            liquidations=pd.DataFrame(liq, index=idx, columns=["long", "short"]),
            meta={
                "engine": self.engine_name,
                "bins": self.grid.n_bins,
                "log_step": self.grid.log_step,
                "snapshot_every": self.snapshot_every,
                "bars": int(self.n_bars),
                "seconds": self._seconds,
                "mmr": None if cfg is None else cfg.mmr,
                "symbol": self.symbol,
                "units": {"long": "quote", "short": "quote", "ledger": "base", "liquidations": "quote"},
                **extra,
            },
        )

    @property
    def heatmap(self) -> Heatmap:
        """The result so far: every stored snapshot (padded onto the current grid) plus the latest state."""
        if self._cache is not None:
            return self._cache
        if self.grid is None or self._engine is None:
            raise ValueError("no bars processed yet; call update() first")
        P = self.grid.n_bins
        longs, shorts = [], []
        for p0, lr, sr in self._snaps:
            if p0 == P:
                longs.append(lr)
                shorts.append(sr)
            else:  # pragma: no cover - chunks are padded when the grid grows
                raise RuntimeError("stored snapshots do not match the grid")
        times = np.concatenate(self._snap_times)
        if len(longs) == 1:  # no copy of a single chunk's snapshots
            L, Sh = longs[0], shorts[0]
        else:
            L = np.concatenate(longs) if longs else np.zeros((0, P), np.float32)
            Sh = np.concatenate(shorts) if shorts else np.zeros((0, P), np.float32)
        bar_times = np.concatenate(self._times)
        if (self.n_bars % self.snapshot_every) != 0:
            live = self._engine.snapshot()
            times = np.append(times, bar_times[-1])
            L = np.vstack([L, live[0].astype(np.float32)[None]])
            Sh = np.vstack([Sh, live[1].astype(np.float32)[None]])
        hm = self._assemble(
            times,
            L,
            Sh,
            bar_times,
            np.concatenate(self._price),
            np.concatenate(self._ledger),
            np.concatenate(self._liq),
        )
        self._cache = hm
        return hm

    @property
    def state(self) -> dict[str, Any]:
        """Engine state as plain numpy arrays plus metadata (bars processed, last bar, previous open interest)."""
        if self._engine is None:
            return {"bars": 0}
        arrays = self._engine.state_arrays()
        ledger = np.concatenate(self._ledger) if self._ledger else np.zeros((0, len(LEDGER_COLUMNS)))
        return {
            **arrays,
            "grid": self.grid,
            "bars": self.n_bars,
            "last_time": self.last_time,
            "previous_oi": self.last_oi,
            "ledger": pd.DataFrame(ledger, columns=list(LEDGER_COLUMNS)),
        }

    # -- checkpoints ------------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write a checkpoint (``.npz`` of numpy arrays + JSON metadata), atomically (temp file + ``os.replace``).

        The checkpoint holds the engine state and every stored result, so :meth:`load` followed by
        :meth:`update` continues exactly as if the estimator had never stopped.
        """
        if self._engine is None or self.grid is None:
            raise ValueError("nothing to save: no bars processed yet")
        path = Path(path)
        hm = self.heatmap
        n_snap = sum(len(x) for x in self._snap_times)
        arrays: dict[str, NDArray[Any]] = {f"state_{k}": v for k, v in self._engine.state_arrays().items()}
        arrays.update(
            edges=self.grid.edges,
            snap_long=np.asarray(hm.long[:n_snap]),
            snap_short=np.asarray(hm.short[:n_snap]),
            snap_times=np.concatenate(self._snap_times),
            ledger=np.concatenate(self._ledger),
            liquidations=np.concatenate(self._liq),
            price=np.concatenate(self._price),
            times=np.concatenate(self._times),
        )
        ctx = self._context
        ctx_cols: list[str] = []
        if ctx is not None:
            ctx_cols = [str(c) for c in ctx.columns]
            arrays["context_index"] = pd.DatetimeIndex(ctx.index).asi8.astype(np.int64)
            arrays["context_values"] = ctx.to_numpy(np.float64)
        model_dict = self.model.to_dict() if hasattr(self.model, "to_dict") else None
        meta = {
            "format": "liquidation-heatmap estimator checkpoint",
            "version": CHECKPOINT_VERSION,
            "engine": self.engine_name,
            "age_blocks": self.age_blocks,
            "snapshot_every": self.snapshot_every,
            "bins": self.bins,
            "user_grid": self._user_grid,
            "n_bars": self.n_bars,
            "last_time": None if self.last_time is None else self.last_time.isoformat(),
            "last_oi": self.last_oi,
            "freq": None if self.freq is None else str(self.freq),
            "symbol": self.symbol,
            "seconds": self._seconds,
            "model": model_dict,
            "model_repr": repr(self.model),
            "context_columns": ctx_cols,
        }
        arrays["meta"] = np.frombuffer(json.dumps(meta, default=str).encode(), dtype=np.uint8)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return path

    @classmethod
    def load(
        cls, path: str | Path, model: Model | None = None, *, grid: PriceGrid | None = None
    ) -> Estimator:
        """Resume from a :meth:`save` checkpoint.

        Parameters
        ----------
        path : str or Path
        model : Model, optional
            Must equal the checkpoint's model when given; otherwise the stored model is rebuilt.
        grid : PriceGrid, optional
            Must equal the checkpoint's grid when given.

        Raises
        ------
        ValueError
            Truncated or foreign file, a checkpoint from a newer format version, or a model/grid that differs
            from the checkpoint's.
        """
        path = Path(path)
        try:
            with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except FileNotFoundError:
            raise
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
            raise ValueError(
                f"{path}: not a readable estimator checkpoint (truncated or corrupt): {exc}"
            ) from exc
        if "meta" not in data:
            raise ValueError(f"{path}: not an estimator checkpoint (no metadata)")
        meta = json.loads(bytes(data["meta"]).decode())
        version = int(meta.get("version", -1))
        if version > CHECKPOINT_VERSION:
            raise ValueError(
                f"{path}: checkpoint format version {version} is newer than this library's "
                f"{CHECKPOINT_VERSION}; upgrade liquidation-heatmap"
            )
        if version < 1:
            raise ValueError(f"{path}: unknown checkpoint format version {version}")
        if model is None:
            if meta.get("model") is None:
                raise ValueError(f"{path}: the checkpoint's model cannot be rebuilt; pass model=")
            from heatmap.model import Model

            model = Model.from_dict(meta["model"])
        elif repr(model) != meta["model_repr"]:
            raise ValueError(
                f"{path}: model differs from the checkpoint's.\n  checkpoint: {meta['model_repr']}\n  given:      {model!r}"
            )
        stored_grid = PriceGrid(data["edges"])
        if grid is not None and grid != stored_grid:
            raise ValueError(f"{path}: grid {grid!r} differs from the checkpoint's {stored_grid!r}")
        est = cls(
            model,
            grid=stored_grid,
            bins=int(meta["bins"]),
            snapshot_every=int(meta["snapshot_every"]),
            engine=meta["engine"],
            age_blocks=meta.get("age_blocks"),
        )
        est._user_grid = bool(meta["user_grid"])
        est.freq = pd.Timedelta(meta["freq"])
        est.symbol = meta["symbol"]
        est.n_bars = int(meta["n_bars"])
        est.last_time = pd.Timestamp(meta["last_time"])
        est.last_oi = meta["last_oi"]
        est._seconds = float(meta["seconds"])
        est._config = _resolve_config(model, est.freq, est.age_blocks)
        est._engine = est._make_engine(stored_grid)
        est._engine.load_state_arrays({k[6:]: v for k, v in data.items() if k.startswith("state_")})
        est._snaps = [(stored_grid.n_bins, data["snap_long"], data["snap_short"])]
        est._snap_times = [data["snap_times"]]
        est._ledger = [data["ledger"]]
        est._liq = [data["liquidations"]]
        est._price = [data["price"]]
        est._times = [data["times"]]
        if meta["context_columns"]:
            est._context = pd.DataFrame(
                data["context_values"],
                index=pd.DatetimeIndex(pd.to_datetime(data["context_index"], utc=True), name="time"),
                columns=meta["context_columns"],
            )
        return est


def estimate(
    market: Market,
    model: Model | None = None,
    *,
    bins: int = 1000,
    grid: PriceGrid | None = None,
    snapshot_every: int | None = None,
    engine: EngineName = "grid",
    progress: bool = False,
    age_blocks: int | None = None,
) -> Heatmap:
    """Estimate the liquidation heatmap of ``market`` under ``model``.

    Per bar: funding shift, consumption of crossed levels, open/close on the open-interest change (and
    turnover), decay, snapshot. See ``docs/methodology.md``.

    Parameters
    ----------
    market : Market
        Bars with open interest [base] (and optional funding, mark prices, volume).
    model : Model, optional
        Assumptions (``Model()`` when omitted).
    bins : int, default 1000
        Bins of the default grid (:meth:`PriceGrid.for_market`).
    grid : PriceGrid, optional
        Explicit grid.
    snapshot_every : int, optional
        Snapshot stride in bars. Default: every bar while the snapshots (float32, both sides) stay under
        :data:`MEMORY_BUDGET` (256 MiB), else the smallest stride that fits; the last bar is always included.
    engine : {"grid", "ledger"}, default "grid"
    progress : bool, default False
        Show a tqdm progress bar.
    age_blocks : int, optional
        Grid engine age blocks (see :class:`Estimator`).

    Returns
    -------
    Heatmap
        Liquidation notional [quote] per snapshot and bin, per-bar ledger [base] and predicted liquidations
        [quote].
    """
    if not isinstance(market, Market):
        raise TypeError(f"market must be a heatmap.Market, got {type(market).__name__}")
    if snapshot_every is None:
        P = grid.n_bins if grid is not None else bins
        snapshot_every = snapshot_stride(len(market), P)
    est = Estimator(
        model,
        grid=grid,
        bins=bins,
        snapshot_every=snapshot_every,
        engine=engine,
        progress=progress,
        age_blocks=age_blocks,
    )
    est.update(market)
    return est.heatmap
