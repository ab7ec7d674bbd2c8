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
import time as time_module
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from heatmap.engine.base import LEDGER_COLUMNS, Bars, Engine, EngineConfig, Outputs
from heatmap.engine.checkpoint import (
    CHECKPOINT_VERSION,
    FORMAT,
    CheckpointError,
    check_arrays,
    check_state,
    read_checkpoint,
)
from heatmap.engine.config import make_engine, resolve_config
from heatmap.engine.ledger import LedgerEngine
from heatmap.grid import DEFAULT_MARGIN, PriceGrid
from heatmap.io.atomic import atomic_write
from heatmap.limits import check_update_limits
from heatmap.market import ALL_COLUMNS, Market, MarketDataError, validate_arrays
from heatmap.model import long_share_arrays, warn_ineffective
from heatmap.result import Heatmap

if TYPE_CHECKING:
    from heatmap.model import Model

__all__ = [
    "CHECKPOINT_VERSION",
    "MEMORY_BUDGET",
    "CheckpointError",
    "Estimator",
    "estimate",
    "snapshot_stride",
]

EngineName = Literal["grid", "ledger"]

#: Bytes the snapshot arrays of :func:`estimate` may take by default (float32, both sides).
MEMORY_BUDGET = 256 * 2**20
_PROGRESS_CHUNK = 8192
#: Extra factor a default grid grows by beyond what new prices need (see :meth:`Estimator.update`).
GROWTH_HEADROOM = 1.25


#: largest ``snapshot_every`` (bar counts are int64; a larger stride only ever keeps the last state anyway)
_MAX_STRIDE = 2**62


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


_UTC_NS = pd.DatetimeTZDtype("ns", "UTC")
_LEDGER_INDEX = pd.Index(list(LEDGER_COLUMNS))
_LIQ_INDEX = pd.Index(["long", "short"])
_REAL = (int, float, np.integer, np.floating)


def _time_index(time: NDArray[np.int64]) -> pd.DatetimeIndex:
    """``DatetimeIndex`` named ``time`` (UTC, ns) of int64 times [ns since the epoch]."""
    return pd.DatetimeIndex(np.asarray(time, dtype=np.int64).view("M8[ns]"), dtype=_UTC_NS, name="time")


def _is_utc(index: Any) -> bool:
    """A UTC ``DatetimeIndex`` or ``Timestamp`` (what Market would not have to convert)."""
    if not isinstance(index, (pd.DatetimeIndex, pd.Timestamp)):
        return False
    return index.tz is not None and str(index.tz) == "UTC"


def _open_time(when: Any) -> pd.DatetimeIndex:
    """One bar's open time as an index (checked by Market like any index); unreadable times are an error."""
    try:
        return pd.DatetimeIndex([when])
    except (ValueError, TypeError) as exc:
        raise MarketDataError(f"bar: open time {when!r} is not a timestamp (UTC bar open time)") from exc


def _frame_arrays(frame: pd.DataFrame) -> tuple[dict[str, NDArray[np.float64]], NDArray[np.int64]] | None:
    """Float64 column arrays and int64 [ns] open times of a plain numeric UTC frame; None for anything else."""
    if not _is_utc(frame.index):
        return None
    cols = frame.columns.tolist()
    if len(set(cols)) != len(cols) or not all(isinstance(c, str) for c in cols):
        return None
    values = frame.to_numpy()
    if values.dtype.kind not in "fiub":
        return None
    columns = np.array(values.T, dtype=np.float64, order="C")  # one contiguous row per column
    index = frame.index
    assert isinstance(index, pd.DatetimeIndex)
    time = (index if index.unit == "ns" else index.as_unit("ns")).asi8
    return dict(zip(cols, columns, strict=True)), time


class _Rows:
    """Rows appended into a geometrically grown array (amortised O(1) per row), without changing this object.

    :meth:`appended` returns a new ``_Rows`` that may share the buffer: it only writes past ``n``, so this
    object's rows (and views of them handed out) never change, and an update that fails before committing its
    new rows leaves the old ones intact.
    """

    __slots__ = ("_buf", "n")

    def __init__(self, buf: NDArray[Any], n: int | None = None) -> None:
        self._buf = buf
        self.n = len(buf) if n is None else n

    @classmethod
    def empty(cls, dtype: Any, width: int | None = None) -> _Rows:
        return cls(np.empty((0,) if width is None else (0, width), dtype=dtype))

    @property
    def data(self) -> NDArray[Any]:
        return self._buf[: self.n]

    def appended(self, rows: NDArray[Any]) -> _Rows:
        k = len(rows)
        if self.n == 0 and self._buf.shape[1:] == rows.shape[1:] and self._buf.dtype == rows.dtype:
            return _Rows(rows, k)  # the first chunk is adopted without a copy
        end = self.n + k
        buf = self._buf
        if end > len(buf):
            cap = max(end, len(buf) * 3 // 2, 64)
            buf = np.empty((cap, *buf.shape[1:]), dtype=buf.dtype)
            buf[: self.n] = self._buf[: self.n]
        buf[self.n : end] = rows
        return _Rows(buf, end)

    def padded(self, left: int, right: int) -> _Rows:
        """Zero columns added on both sides (snapshots when the grid grows)."""
        return _Rows(np.pad(self.data, ((0, 0), (left, right))))


@dataclass(frozen=True)
class _State:
    """Everything :meth:`Estimator.update` changes, replaced as one object when an update commits."""

    grid: PriceGrid | None
    snap_long: _Rows
    snap_short: _Rows
    engine: Engine | None = None
    config: EngineConfig | None = None
    freq: pd.Timedelta | None = None
    symbol: str | None = None
    n_bars: int = 0
    last_time: pd.Timestamp | None = None
    last_oi: float | None = None
    #: the side split's memory: last non-zero funding rate settled so far [fraction] (0: none yet)
    funding_carry: float = 0.0
    reference_price: float | None = None
    seconds: float = 0.0
    snap_times: _Rows = field(default_factory=lambda: _Rows.empty(np.int64))
    ledger: _Rows = field(default_factory=lambda: _Rows.empty(np.float64, len(LEDGER_COLUMNS)))
    liq: _Rows = field(default_factory=lambda: _Rows.empty(np.float64, 2))
    price: _Rows = field(default_factory=lambda: _Rows.empty(np.float64))
    times: _Rows = field(default_factory=lambda: _Rows.empty(np.int64))

    @classmethod
    def initial(cls, grid: PriceGrid | None) -> _State:
        width = grid.n_bins if grid is not None else 0
        return cls(grid, _Rows.empty(np.float32, width), _Rows.empty(np.float32, width))


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
    leverage_nodes, entry_nodes : int, optional
        Ledger engine only: nodes of a continuous leverage law per entry node (default 64) and entry nodes per
        bar for triangular entries (default 128); see :mod:`heatmap.engine.ledger` and the convergence study in
        ``docs/methodology.md``. The cost per bar is proportional to their product.
    resolution : int, optional
        Grid engine only: store bins per price-grid bin (snapshots sum them). Default
        :func:`heatmap.engine.config.default_resolution`: 2 when funding moves continuous-law content, else 1.
        Funding moves each bin's content by its mean and spread, so levels that share a bin move together;
        finer store bins keep them apart (about 3x closer to the exact reference per doubling, measured in
        ``docs/methodology.md`` §3) at a cost proportional to the store's bins.
    check_units : bool, default True
        Check the first update's bars for magnitudes that point at a unit mistake (open interest in quote or
        contracts instead of coins, funding in percent; :func:`heatmap.plausibility.unit_problems`, the check of
        :class:`Market`) when they come as a DataFrame, Series or mapping (a :class:`Market` was checked when it
        was built). Later updates are not checked.

    Notes
    -----
    One-bar updates are cheap (a fraction of a millisecond on a 1,000-bin grid, see ``docs/performance.md``):
    a bar given as a DataFrame row, a Series or a mapping is checked with :func:`heatmap.market.validate_arrays`
    (the rules and messages of :class:`Market`) without building a Market, results are appended to
    geometrically grown arrays, and the side-split share needs no history beyond the last settled funding rate.

    Examples
    --------
    >>> from heatmap.synthetic import synthetic_market
    >>> from heatmap.grid import PriceGrid
    >>> market = synthetic_market(days=4, freq="1h", seed=1)
    >>> grid = PriceGrid.for_market(market, bins=300)
    >>> est = Estimator(grid=grid)
    >>> part = est.update(market.iloc[:48])
    >>> for i in range(48, len(market)):       # one bar at a time: a row of the frame
    ...     part = est.update(market.frame.iloc[i])
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
        leverage_nodes: int | None = None,
        entry_nodes: int | None = None,
        check_units: bool = True,
        resolution: int | None = None,
    ) -> None:
        for name, v in (("leverage_nodes", leverage_nodes), ("entry_nodes", entry_nodes)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1):
                raise ValueError(f"{name}: got {v!r}; allowed is a positive integer or None")
            if v is not None and engine != "ledger":
                raise ValueError(
                    f"{name}: got {v!r} with engine={engine!r}; node counts are for engine='ledger'"
                )
        self.leverage_nodes = None if leverage_nodes is None else int(leverage_nodes)
        self.entry_nodes = None if entry_nodes is None else int(entry_nodes)
        if age_blocks is not None and (
            isinstance(age_blocks, bool) or not isinstance(age_blocks, (int, np.integer)) or age_blocks < 1
        ):
            raise ValueError(f"age_blocks must be a positive integer or None, got {age_blocks!r}")
        self.age_blocks = None if age_blocks is None else int(age_blocks)
        if resolution is not None and (
            isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or resolution < 1
        ):
            raise ValueError(f"resolution must be a positive integer or None, got {resolution!r}")
        if resolution is not None and engine != "grid":
            raise ValueError(
                f"resolution: got {resolution!r} with engine={engine!r}; it is for engine='grid'"
            )
        self.resolution = None if resolution is None else int(resolution)
        if engine not in ("grid", "ledger"):
            raise ValueError(f"engine must be 'grid' or 'ledger', got {engine!r}")
        if snapshot_every is not None and (
            isinstance(snapshot_every, bool)
            or not isinstance(snapshot_every, (int, np.integer))
            or not 1 <= snapshot_every <= _MAX_STRIDE
        ):
            raise ValueError(
                f"snapshot_every must be a positive integer (at most 2**62) or None, got {snapshot_every!r}"
            )
        if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 2:
            raise ValueError(f"bins must be an integer >= 2, got {bins!r}")
        if grid is not None and not isinstance(grid, PriceGrid):
            raise TypeError(f"grid must be a PriceGrid, got {type(grid).__name__}")
        self.model = model if model is not None else _default_model()
        self.bins = int(bins)
        self.snapshot_every = int(snapshot_every or 1)
        self.engine_name: str = engine
        self.progress = bool(progress)
        self.check_units = bool(check_units)
        self._user_grid = grid is not None
        # everything an update changes, replaced in one assignment when it commits (see update)
        self._s = _State.initial(grid)
        self._cache: tuple[_State, Heatmap] | None = None

    # -- state (read-only views of the committed state) ----------------------------------------------------------
    @property
    def grid(self) -> PriceGrid | None:
        """The price grid (``None`` before the first update with a default grid)."""
        return self._s.grid

    @property
    def n_bars(self) -> int:
        """Bars processed."""
        return self._s.n_bars

    @property
    def freq(self) -> pd.Timedelta | None:
        """Bar length (``None`` before the first update)."""
        return self._s.freq

    @property
    def symbol(self) -> str | None:
        return self._s.symbol

    @property
    def last_time(self) -> pd.Timestamp | None:
        """Open time of the last processed bar (UTC)."""
        return self._s.last_time

    @property
    def last_oi(self) -> float | None:
        """Open interest after the last processed bar [base]."""
        return self._s.last_oi

    @property
    def _engine(self) -> Engine | None:
        return self._s.engine

    @property
    def _config(self) -> EngineConfig | None:
        return self._s.config

    # -- input ------------------------------------------------------------------------------------------------
    def _bar_arrays(
        self, bars: Any
    ) -> tuple[dict[str, NDArray[np.float64]], NDArray[np.int64], pd.Timedelta, str | None]:
        """Validated float64 column arrays (Market column order), int64 [ns] open times, bar length, symbol."""
        if isinstance(bars, Market):
            arrays = {c: bars.array(c) for c in bars.columns}
            return arrays, pd.DatetimeIndex(bars.index).as_unit("ns").asi8, bars.freq, bars.symbol
        if isinstance(bars, pd.DataFrame):
            fast = _frame_arrays(bars)
            if fast is None:  # anything unusual (time zone, dtypes, column labels): Market's full treatment
                return self._bar_arrays(Market(bars, freq=self.freq, check_units=False))
            arrays, time = fast
        elif isinstance(bars, pd.Series):
            when = bars.name
            if not isinstance(when, (pd.Timestamp, datetime, np.datetime64, str)) or pd.isna(when):
                raise MarketDataError(
                    f"bar: a Series bar needs its open time (UTC) as its name, as in frame.iloc[i]; got {when!r}"
                )
            names = bars.index.tolist()
            if (
                isinstance(when, pd.Timestamp)
                and _is_utc(when)
                and bars.dtype.kind in "fiub"
                and len(set(names)) == len(names)
                and all(isinstance(c, str) for c in names)
            ):
                values = bars.to_numpy(dtype=np.float64)
                arrays = {c: values[j : j + 1].copy() for j, c in enumerate(names)}
                time = np.array([when.value], dtype=np.int64)
            else:
                row = pd.DataFrame([bars.to_numpy()], columns=bars.index, index=_open_time(when))
                return self._bar_arrays(row.infer_objects())
        elif isinstance(bars, Mapping):
            if "time" not in bars:
                raise MarketDataError(
                    "bar: a mapping bar needs a 'time' entry (bar open time, UTC) besides its columns; "
                    f"got keys {[str(k) for k in bars]}"
                )
            when = bars["time"]
            fields = {k: v for k, v in bars.items() if k != "time"}
            if (
                isinstance(when, pd.Timestamp)
                and _is_utc(when)
                and all(isinstance(k, str) for k in fields)
                and all(isinstance(v, _REAL) for v in fields.values())
            ):
                arrays = {k: np.array([v], dtype=np.float64) for k, v in fields.items()}
                time = np.array([when.value], dtype=np.int64)
            else:
                row = pd.DataFrame({k: [v] for k, v in fields.items()}, index=_open_time(when))
                return self._bar_arrays(row)
        else:
            raise TypeError(
                "update() takes a Market, a DataFrame of bars, or one bar as a Series or mapping, "
                f"got {type(bars).__name__}"
            )
        freq = validate_arrays(arrays, time, freq=self.freq)
        arrays = {c: arrays[c] for c in ALL_COLUMNS if c in arrays}
        return arrays, time, freq, None

    def _check_continuity(self, time: NDArray[np.int64], freq: pd.Timedelta) -> None:
        if self.last_time is None or self.freq is None:
            return
        if freq != self.freq:
            raise MarketDataError(f"bar length {freq} differs from the estimator's {self.freq}")
        first, last = int(time[0]), self.last_time.value
        expected = last + self.freq.value
        if first == expected:
            return
        when, next_bar = pd.Timestamp(first, tz="UTC"), pd.Timestamp(expected, tz="UTC")
        if first <= last:
            raise MarketDataError(
                f"bar {when} overlaps or precedes the last processed bar {self.last_time}; "
                f"the next bar must open at {next_bar}"
            )
        raise MarketDataError(
            f"bar {when} leaves a gap after the last processed bar {self.last_time}; expected {next_bar}"
        )

    def _prepare(self, arrays: dict[str, NDArray[np.float64]], time: NDArray[np.int64]) -> tuple[Bars, float]:
        model = self.model
        n = len(time)
        low, high, close = arrays["low"], arrays["high"], arrays["close"]
        has_mark = "mark_low" in arrays
        cons_low = arrays["mark_low"] if has_mark else low
        cons_high = arrays["mark_high"] if has_mark else high
        entry = (low + high + close) / 3.0 if model.entry == "typical" else close
        if model.funding and "funding_rate" in arrays:
            funding = arrays["funding_rate"]
        else:
            funding = np.zeros(n)
        funding_price = arrays["mark_open" if has_mark else "open"]
        turnover = float(model.turnover)
        if turnover > 0 and "volume" in arrays:  # the model documents: ignored without a volume column
            turn = turnover * arrays["volume"]
        else:
            turn = np.zeros(n)
        share, carry = long_share_arrays(
            arrays, n, model.side_split, model.split_strength, carry=self._s.funding_carry
        )
        if share.shape != (n,):
            raise ValueError(f"the side-split share has shape {share.shape}, expected ({n},)")
        bars = Bars(
            time=time,
            low=low,
            high=high,
            close=close,
            cons_low=cons_low,
            cons_high=cons_high,
            entry=entry,
            funding=funding,
            funding_price=funding_price,
            oi=arrays["open_interest"],
            long_share=np.clip(share, 0.0, 1.0),
            turnover=turn,
        )
        return bars, carry

    def _resolve(self, freq: pd.Timedelta, reference_price: float | None) -> EngineConfig:
        return resolve_config(
            self.model,
            freq,
            self.age_blocks,
            reference_price=reference_price,
            leverage_nodes=self.leverage_nodes,
            entry_nodes=self.entry_nodes,
            resolution=self.resolution,
        )

    def _grown_grid(self, bars: Bars) -> tuple[PriceGrid, tuple[int, int] | None]:
        """The grid these bars need and the columns ``(left, right)`` it adds to the current one (None: same)."""
        lo = float(min(bars.cons_low.min(), bars.low.min()))
        hi = float(max(bars.cons_high.max(), bars.high.max()))
        grid = self.grid
        if grid is None:  # PriceGrid.for_market of the first bars
            return PriceGrid.log_spaced(lo / DEFAULT_MARGIN, hi * DEFAULT_MARGIN, self.bins), None
        if self._user_grid:
            need_lo, need_hi = lo, hi
        else:
            need_lo, need_hi = lo / DEFAULT_MARGIN, hi * DEFAULT_MARGIN
        if need_lo >= grid.edges[0] and need_hi <= grid.edges[-1]:
            return grid, None
        if not self._user_grid:  # head room, so that a trending stream does not regrid at every new extreme
            need_lo, need_hi = need_lo / GROWTH_HEADROOM, need_hi * GROWTH_HEADROOM
        new = grid.extend(min(need_lo, grid.edges[0]), max(need_hi, grid.edges[-1]))
        off = grid.offset_in(new)
        return new, (off, new.n_bins - grid.n_bins - off)

    # -- public -----------------------------------------------------------------------------------------------
    def update(self, bars: Market | pd.DataFrame | pd.Series | Mapping[str, Any]) -> Heatmap:
        """Process new bars (continuing exactly after the last processed one); return their snapshots.

        Parameters
        ----------
        bars : Market, DataFrame, Series or mapping
            The next bars. Their first bar must open one bar length after the last processed bar. A DataFrame
            is checked with the rules of :class:`Market`. One bar may also be given as a Series whose name is
            its open time (a row ``frame.iloc[i]``) or as a mapping of column values with a ``"time"`` entry
            (e.g. ``{"time": pd.Timestamp("2025-01-01 00:05", tz="UTC"), "open": ..., ...}``).

        Returns
        -------
        Heatmap
            Snapshots taken in these bars (stride ``snapshot_every``) plus the state after the last new bar,
            with the ledger and predicted liquidations of every new bar.

        Raises
        ------
        MarketDataError
            Bars that break a rule of :class:`Market`, or overlapping, out-of-order or gapped bars (the message
            names the first bad timestamp); the state is left unchanged.
        """
        arrays, time, freq, symbol = self._bar_arrays(bars)
        self._check_continuity(time, freq)
        t0 = time_module.perf_counter()
        old = self._s
        # inverse schedules look position sizes [quote] up in coin at the first bar's close (kept for the run)
        ref = old.reference_price if old.reference_price is not None else float(arrays["close"][0])
        config = old.config or self._resolve(freq, ref)
        prepared, carry = self._prepare(arrays, time)
        check_update_limits(  # values a float32 cell holds, and memory, before anything is allocated
            arrays,
            time,
            bins=old.grid.n_bins if old.grid is not None else self.bins,
            n_bars=old.n_bars + len(time),
            snapshot_every=self.snapshot_every,
            engine=self.engine_name,
            config=config,
        )
        if old.n_bars == 0 and self.check_units and not isinstance(bars, Market):
            from heatmap.plausibility import unit_problems

            problems = unit_problems(arrays, freq)
            if problems:
                raise MarketDataError(problems + ["pass check_units=False to Estimator to accept the values"])
        if old.n_bars == 0:
            # settings that do nothing on these bars (no volume for turnover, ...): said once
            if isinstance(bars, Market):
                warn_ineffective(self.model, bars)
            else:
                warn_ineffective(self.model, columns=list(arrays), symbol=symbol)
        # the input is valid: the new state is built aside (the committed one is never written) ...
        grid, pad = self._grown_grid(prepared)
        snap_long, snap_short = old.snap_long, old.snap_short
        if old.grid is None:
            snap_long = snap_short = _Rows.empty(np.float32, grid.n_bins)
        if old.engine is None:
            engine = make_engine(self.engine_name, config, grid)
        else:
            engine = old.engine.fork()
            if pad is not None:
                engine.regrid(grid)
        if pad is not None:
            snap_long, snap_short = snap_long.padded(*pad), snap_short.padded(*pad)
        n = len(prepared)
        g = old.n_bars + np.arange(n)
        k = self.snapshot_every
        mask = (g + 1) % k == 0
        out = Outputs.allocate(n, mask, grid.n_bins)
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
                    engine.run(prepared.slice(a, b), sub)
                    bar.update(b - a)
        else:
            engine.run(prepared, out)
        snap_times = time if mask.all() else time[mask]
        new = _State(
            grid=grid,
            engine=engine,
            config=config,
            freq=old.freq if old.freq is not None else freq,
            symbol=old.symbol if old.freq is not None else symbol,
            n_bars=old.n_bars + n,
            last_time=pd.Timestamp(int(time[-1]), tz="UTC"),
            last_oi=float(prepared.oi[-1]),
            funding_carry=carry,
            reference_price=ref,
            seconds=old.seconds + time_module.perf_counter() - t0,
            snap_long=snap_long.appended(out.snap_long),
            snap_short=snap_short.appended(out.snap_short),
            snap_times=old.snap_times.appended(snap_times),
            ledger=old.ledger.appended(out.ledger),
            liq=old.liq.appended(out.liquidations),
            price=old.price.appended(prepared.close),
            times=old.times.appended(time),
        )
        long_rows, short_rows = out.snap_long, out.snap_short
        if not mask[-1]:  # the state after the last new bar
            live = engine.snapshot()
            snap_times = np.append(snap_times, time[-1])
            long_rows = np.vstack([long_rows, live[0].astype(np.float32)[None]])
            short_rows = np.vstack([short_rows, live[1].astype(np.float32)[None]])
        result = self._assemble(
            new, snap_times, long_rows, short_rows, time, prepared.close, out.ledger, out.liquidations
        )
        # ... and committed in one step
        self._s = new
        return result

    def _assemble(
        self,
        st: _State,
        snap_times: NDArray[np.int64],
        long_rows: NDArray[Any],
        short_rows: NDArray[Any],
        bar_times: NDArray[np.int64],
        close: NDArray[np.float64],
        ledger: NDArray[np.float64],
        liq: NDArray[np.float64],
    ) -> Heatmap:
        assert st.grid is not None
        idx = _time_index(bar_times)
        same = snap_times is bar_times or (
            len(snap_times) == len(bar_times) and np.array_equal(snap_times, bar_times)
        )
        cfg = st.config
        extra: dict[str, Any] = {}
        if isinstance(st.engine, LedgerEngine):
            # the live cohorts after the latest bar (side 0 long / 1 short, qty [base], lp [quote], ...)
            cohorts = pd.DataFrame(st.engine.cohorts())
            cohorts["side"] = np.where(cohorts["side"] == 0, "long", "short")
            inverse = cfg is not None and cfg.contract == "inverse"  # qty is then the face value [quote]
            cohorts["notional"] = cohorts["qty"] if inverse else cohorts["qty"] * cohorts["lp"]
            extra["cohorts"] = cohorts
        return Heatmap(
            times=idx if same else _time_index(snap_times),
            price_edges=st.grid.edges,
            long=long_rows,
            short=short_rows,
            price=pd.Series(close, index=idx, name="close", copy=True),
            model=self.model,
            ledger=pd.DataFrame(ledger, index=idx, columns=_LEDGER_INDEX, copy=True),
            liquidations=pd.DataFrame(liq, index=idx, columns=_LIQ_INDEX, copy=True),
            meta={
                "engine": self.engine_name,
                "bins": st.grid.n_bins,
                "log_step": st.grid.log_step,
                "snapshot_every": self.snapshot_every,
                "bars": int(st.n_bars),
                "seconds": st.seconds,
                "mmr": None if cfg is None else cfg.mmr,
                "symbol": st.symbol,
                "units": {
                    "long": "quote",
                    "short": "quote",
                    # the engines' mass unit: face value [quote] for inverse contracts
                    "ledger": "quote" if cfg is not None and cfg.contract == "inverse" else "base",
                    "liquidations": "quote",
                },
                **extra,
            },
        )

    @property
    def heatmap(self) -> Heatmap:
        """The result so far: every stored snapshot (on the current grid) plus the latest state."""
        st = self._s
        if self._cache is not None and self._cache[0] is st:
            return self._cache[1]
        if st.grid is None or st.engine is None:
            raise ValueError("no bars processed yet; call update() first")
        times = st.snap_times.data
        L, Sh = st.snap_long.data, st.snap_short.data
        if L.shape[1] != st.grid.n_bins:  # pragma: no cover - snapshots are padded when the grid grows
            raise RuntimeError("stored snapshots do not match the grid")
        bar_times = st.times.data
        if (st.n_bars % self.snapshot_every) != 0:
            live = st.engine.snapshot()
            times = np.append(times, bar_times[-1])
            L = np.vstack([L, live[0].astype(np.float32)[None]])
            Sh = np.vstack([Sh, live[1].astype(np.float32)[None]])
        hm = self._assemble(st, times, L, Sh, bar_times, st.price.data, st.ledger.data, st.liq.data)
        self._cache = (st, hm)
        return hm

    @property
    def state(self) -> dict[str, Any]:
        """Engine state as plain numpy arrays plus metadata (bars processed, last bar, previous open interest)."""
        st = self._s
        if st.engine is None:
            return {"bars": 0}
        arrays = st.engine.state_arrays()
        return {
            **arrays,
            "grid": st.grid,
            "bars": st.n_bars,
            "last_time": st.last_time,
            "previous_oi": st.last_oi,
            "funding_carry": st.funding_carry,
            "ledger": pd.DataFrame(st.ledger.data, columns=_LEDGER_INDEX, copy=True),
        }

    # -- checkpoints ------------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write a checkpoint (``.npz`` of numpy arrays + JSON metadata), atomically (temp file + ``os.replace``).

        The checkpoint holds the engine state and every stored result, so :meth:`load` followed by
        :meth:`update` continues exactly as if the estimator had never stopped.
        """
        st = self._s
        if st.engine is None or st.grid is None:
            raise ValueError("nothing to save: no bars processed yet")
        path = Path(path)
        arrays: dict[str, NDArray[Any]] = {f"state_{k}": v for k, v in st.engine.state_arrays().items()}
        arrays.update(
            edges=st.grid.edges,
            snap_long=st.snap_long.data,
            snap_short=st.snap_short.data,
            snap_times=st.snap_times.data,
            ledger=st.ledger.data,
            liquidations=st.liq.data,
            price=st.price.data,
            times=st.times.data,
        )
        model_dict = self.model.to_dict() if hasattr(self.model, "to_dict") else None
        meta = {
            "format": FORMAT,
            "version": CHECKPOINT_VERSION,
            "engine": self.engine_name,
            "age_blocks": self.age_blocks,
            # the resolved value: the state's shape depends on it, whatever the default becomes
            "resolution": (
                st.config.resolution
                if st.config is not None and self.engine_name == "grid"
                else self.resolution
            ),
            "leverage_nodes": self.leverage_nodes,
            "entry_nodes": self.entry_nodes,
            "snapshot_every": self.snapshot_every,
            "bins": self.bins,
            "user_grid": self._user_grid,
            "n_bars": st.n_bars,
            "last_time": None if st.last_time is None else st.last_time.isoformat(),
            "last_oi": st.last_oi,
            "freq": None if st.freq is None else str(st.freq),
            "symbol": st.symbol,
            "seconds": st.seconds,
            "model": model_dict,
            "model_repr": repr(self.model),
            "funding_carry": st.funding_carry,
            "reference_price": st.reference_price,
        }
        arrays["meta"] = np.frombuffer(json.dumps(meta, default=str).encode(), dtype=np.uint8)
        with atomic_write(path, "wb") as fh:
            np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]
        return path

    @classmethod
    def load(
        cls, path: str | Path, model: Model | None = None, *, grid: PriceGrid | None = None
    ) -> Estimator:
        """Resume from a :meth:`save` checkpoint of this format version (:data:`CHECKPOINT_VERSION`).

        Parameters
        ----------
        path : str or Path
        model : Model, optional
            Must equal the checkpoint's model when given; otherwise the stored model is rebuilt.
        grid : PriceGrid, optional
            Must equal the checkpoint's grid when given.

        Raises
        ------
        FileNotFoundError
            No file at ``path``.
        CheckpointError
            (a ``ValueError``) Anything that makes the file unacceptable, checked before anything is built: not
            an ``.npz`` archive, truncated or corrupt, missing or malformed metadata (JSON syntax, size, depth,
            key types), an older or newer format version, missing arrays, shapes that do not match the grid or the bar
            count, non-finite values in the results or the engine state, or a model/grid that differs from the
            checkpoint's. The message names the file and the culprit.
        """
        meta, data = read_checkpoint(path)
        P = check_arrays(path, meta, data)
        if model is None:
            if meta["model"] is None:
                raise CheckpointError(f"{path}: the checkpoint's model cannot be rebuilt; pass model=")
            from heatmap.model import Model

            try:
                model = Model.from_dict(meta["model"])
            except (ValueError, TypeError, KeyError) as exc:
                raise CheckpointError(f"{path}: metadata 'model' cannot be rebuilt: {exc}") from exc
        elif repr(model) != meta["model_repr"]:
            raise CheckpointError(
                f"{path}: model differs from the checkpoint's.\n  checkpoint: {meta['model_repr']}\n"
                f"  given:      {model!r}"
            )
        try:
            stored_grid = PriceGrid(data["edges"])
        except ValueError as exc:
            raise CheckpointError(f"{path}: array 'edges' is not a price grid: {exc}") from exc
        if grid is not None and grid != stored_grid:
            raise CheckpointError(f"{path}: grid {grid!r} differs from the checkpoint's {stored_grid!r}")
        try:
            freq = pd.Timedelta(meta["freq"])
            last_time = pd.Timestamp(meta["last_time"]).as_unit("ns")
        except (ValueError, TypeError) as exc:
            raise CheckpointError(f"{path}: metadata 'freq' or 'last_time' is not a time: {exc}") from exc
        if not freq > pd.Timedelta(0) or last_time.tz is None:
            raise CheckpointError(
                f"{path}: metadata 'freq' {meta['freq']!r} must be positive and 'last_time' "
                f"{meta['last_time']!r} a UTC time"
            )
        if last_time.value != int(data["times"][-1]):
            raise CheckpointError(
                f"{path}: metadata 'last_time' {meta['last_time']} is not the last bar time "
                f"{pd.Timestamp(int(data['times'][-1]), tz='UTC')}"
            )
        try:
            est = cls(
                model,
                grid=stored_grid,
                bins=meta["bins"],
                snapshot_every=meta["snapshot_every"],
                engine=meta["engine"],
                age_blocks=meta.get("age_blocks"),
                leverage_nodes=meta.get("leverage_nodes"),
                entry_nodes=meta.get("entry_nodes"),
                # files written before the setting existed hold a state at one store bin per price bin
                resolution=meta.get("resolution", 1) if meta["engine"] == "grid" else None,
            )
            reference_price = meta.get("reference_price")
            config = est._resolve(freq, reference_price)
        except ValueError as exc:
            raise CheckpointError(f"{path}: the checkpoint's settings are not valid: {exc}") from exc
        check_state(path, meta["engine"], data, P * config.resolution, config.age_blocks)
        carry = float(meta["funding_carry"])
        engine = make_engine(est.engine_name, config, stored_grid)
        engine.load_state_arrays({k[6:]: v for k, v in data.items() if k.startswith("state_")})
        est._user_grid = bool(meta["user_grid"])
        est._s = _State(
            grid=stored_grid,
            engine=engine,
            config=config,
            freq=freq,
            symbol=meta["symbol"],
            n_bars=int(meta["n_bars"]),
            last_time=last_time,
            last_oi=float(meta["last_oi"]),
            funding_carry=carry,
            reference_price=reference_price,
            seconds=float(meta["seconds"]),
            snap_long=_Rows(data["snap_long"].astype(np.float32, copy=False)),
            snap_short=_Rows(data["snap_short"].astype(np.float32, copy=False)),
            snap_times=_Rows(data["snap_times"].astype(np.int64, copy=False)),
            ledger=_Rows(data["ledger"].astype(np.float64, copy=False)),
            liq=_Rows(data["liquidations"].astype(np.float64, copy=False)),
            price=_Rows(data["price"].astype(np.float64, copy=False)),
            times=_Rows(data["times"].astype(np.int64, copy=False)),
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
    leverage_nodes: int | None = None,
    entry_nodes: int | None = None,
    resolution: int | None = None,
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
    leverage_nodes, entry_nodes : int, optional
        Ledger engine discretisation (see :class:`Estimator`).
    resolution : int, optional
        Grid engine store bins per price bin (see :class:`Estimator`).

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
        leverage_nodes=leverage_nodes,
        entry_nodes=entry_nodes,
        resolution=resolution,
    )
    est.update(market)
    return est.heatmap
