"""Location skill: are a map's levels where liquidations actually happen?

For every bar with liquidation events on a side, take the map held **before** the bar (the latest snapshot
whose bar closed at or before the bar's open) and restrict it to the part of the bar's range where that side can
be liquidated: longs in ``[low, open]``, shorts in ``[open, high]``. Every long level above the open was crossed
before the bar (it is already gone), so a score over the whole ``[low, high]`` would credit any model for the
trivial fact that longs sit below price. Inside that part, in log price ``x``:

* ``q_model(x)``: the restricted map, normalised to 1 (the map's mass is uniform in log price inside a band,
  partial bands are split linearly, as everywhere in the package);
* ``q_null(x) = 1 / (log b − log a)``: uniform in log price over the same part.

Scores per event, averaged per bar and then over bars (a bar counts once however many events it has):

* **log score** ``log(((1 − ε) q_model + ε q_null) / q_null)`` [nats]. ``ε`` (default 0.01) mixes 1 % of the null
  into the model so that an event in an empty band costs ``log ε ≈ −4.6`` instead of ``−∞``. > 0: the map
  put more probability where events happened than a uniform spread; the uniform map scores exactly 0.
* **CRPS skill** ``1 − mean CRPS_model / mean CRPS_null``, ε-free and proper: CRPS of the event's position
  ``u = (x − log a)/(log b − log a)`` under the model's in-range CDF (piecewise linear, integrated exactly) and
  under the uniform CDF (``u² − u + 1/3``).

Intervals: moving-block bootstrap over the scored bars (in time order), block ``ceil(n^(1/3))``.

Examples
--------
>>> report = location_score(hm, events, market)  # doctest: +SKIP
>>> report.get("long", "log_score")  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from heatmap.market import Market
from heatmap.validation.metrics import block_bootstrap_indices

if TYPE_CHECKING:
    from heatmap.result import Heatmap

__all__ = ["location_score", "location_difference", "LocationReport", "DEFAULT_FLOOR", "bar_scores"]

#: Share of the uniform null mixed into the model's in-range density (keeps empty bands finite).
DEFAULT_FLOOR = 0.01
SIDES = ("long", "short")
METRICS = ("log_score", "crps_skill")


@dataclass(frozen=True)
class LocationReport:
    """Location scores per side (``long``, ``short``, ``both`` = every scored bar-side).

    Attributes
    ----------
    table : DataFrame
        Index ``side``; columns ``log_score, log_low, log_high`` [nats per event, per bar mean then over bars],
        ``crps_skill, crps_low, crps_high`` [-], ``bars`` (scored bars), ``events`` (scored events),
        ``outside`` (events outside their bar's part of the range, not scored), ``empty`` (scored bars where the
        map held no mass in that part: they score 0).
    bars : DataFrame
        One row per scored bar and side: ``time, side, events, log_score, crps_model, crps_null, map_time``.
    events : DataFrame
        One row per scored event: ``time, bar, side, price, u`` (position in the part, log price, 0 = low end),
        ``pit`` (model CDF at the event), ``log_ratio``.
    settings : dict
        ``floor, n_boot, block, seed, confidence, span``.
    """

    table: pd.DataFrame
    bars: pd.DataFrame
    events: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)

    def get(self, side: str, metric: str) -> float:
        """One number, e.g. ``get("long", "log_score")``."""
        return float(self.table.at[side, metric])  # type: ignore[arg-type]

    def to_markdown(self) -> str:
        """A markdown table: estimate [95 % interval] per side, with counts (``n/a``: not computed)."""

        def cell(est: float, lo: float, hi: float) -> str:
            if not np.isfinite(est):
                return "n/a"
            ci = f" [{lo:+.3f}, {hi:+.3f}]" if np.isfinite(lo) and np.isfinite(hi) else ""
            return f"{est:+.3f}{ci}"

        rows = []
        for side, r in self.table.iterrows():
            rows.append(
                f"| {side} | {cell(r.log_score, r.log_low, r.log_high)} | "
                f"{cell(r.crps_skill, r.crps_low, r.crps_high)} | {int(r.bars)} | {int(r.events)} | "
                f"{int(r.outside)} | {int(r.empty)} |"
            )
        head = (
            "| side | log score [nats] | CRPS skill | bars | events | outside | empty bars |\n"
            "|---|---|---|---|---|---|---|\n"
        )
        return head + "\n".join(rows)

    def __repr__(self) -> str:
        return f"LocationReport({self.settings.get('span', '')})\n{self.to_markdown()}"

    def _repr_markdown_(self) -> str:
        return self.to_markdown()


def _check_events(events: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(events, pd.DataFrame):
        raise TypeError(f"events must be a DataFrame (time, side, price); got {type(events).__name__}")
    missing = [c for c in ("time", "side", "price") if c not in events.columns]
    if missing:
        raise ValueError(f"events lack columns {missing}; they need time (UTC), side, price [quote]")
    if "price_source" in events.columns:
        bank = (events["price_source"] == "bankruptcy").to_numpy()
        if bank.any():
            raise ValueError(
                f"events: {int(bank.sum())} rows carry bankruptcy prices (price_source='bankruptcy'); convert them "
                "to liquidation prices first (read_bybit_liquidations(..., price='liquidation') or "
                "heatmap.margin.liquidation_from_bankruptcy)"
            )
    t = events["time"]
    if not pd.api.types.is_datetime64_any_dtype(t.dtype) or getattr(t.dt, "tz", None) is None:
        raise ValueError("events: column 'time' must be tz-aware UTC datetimes")
    bad = ~events["side"].isin(SIDES)
    if bad.any():
        raise ValueError(
            f"events: column 'side' must be 'long' or 'short'; found {events['side'][bad].unique()[:5].tolist()} "
            f"(rows {np.flatnonzero(bad.to_numpy())[:5].tolist()})"
        )
    px = pd.to_numeric(events["price"], errors="coerce").to_numpy(dtype=float)
    badp = ~(np.isfinite(px) & (px > 0))
    if badp.any():
        raise ValueError(
            f"events: column 'price' must be finite and > 0; rows {np.flatnonzero(badp)[:5].tolist()} are not"
        )
    return pd.DataFrame(
        {"time": t.dt.tz_convert("UTC").to_numpy(), "side": events["side"].to_numpy(), "price": px}
    )


def _crps(nodes_u: np.ndarray, cdf: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Exact CRPS of points ``y`` in [0, 1] under a CDF linear between ``(nodes_u, cdf)`` on [0, 1]."""
    du = np.diff(nodes_u)
    f0, f1 = cdf[:-1], cdf[1:]
    int_f2 = float(np.sum(du * (f0 * f0 + f0 * f1 + f1 * f1) / 3.0))
    g = np.concatenate([[0.0], np.cumsum(du * (f0 + f1) / 2.0)])  # ∫_0^u F at the nodes
    k = np.clip(np.searchsorted(nodes_u, y, side="right") - 1, 0, du.size - 1)
    frac = np.divide(y - nodes_u[k], du[k], out=np.zeros_like(y), where=du[k] > 0)
    fy = f0[k] + frac * (f1[k] - f0[k])
    gy = g[k] + (y - nodes_u[k]) * (f0[k] + fy) / 2.0
    return int_f2 - 2.0 * (g[-1] - gy) + (1.0 - y)


def _score_part(
    log_edges: np.ndarray, mass: np.ndarray, a: float, b: float, y: np.ndarray, floor: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:
    """Log ratios, CRPS (model, null) and PIT of log prices ``y`` inside ``[a, b]`` under the restricted map."""
    width = b - a
    i0 = int(np.searchsorted(log_edges, a, side="right"))
    i1 = int(np.searchsorted(log_edges, b, side="left"))
    nodes = np.concatenate([[a], log_edges[i0:i1], [b]])
    bins = np.arange(i0 - 1, i1)  # band of each segment (-1 or P: off the grid, no mass)
    on = (bins >= 0) & (bins < mass.size)
    dens = np.zeros(bins.size)
    dens[on] = mass[bins[on]] / np.diff(log_edges)[bins[on]]  # mass per unit log price
    seg = dens * np.diff(nodes)
    total = float(seg.sum())
    u_nodes = (nodes - a) / width
    u_nodes[-1] = 1.0
    u = (y - a) / width
    empty = not total > 0
    if empty:
        cdf = u_nodes.copy()
        ratio = np.ones(y.size)
    else:
        cdf = np.concatenate([[0.0], np.cumsum(seg)]) / total
        cdf[-1] = 1.0
        k = np.clip(np.searchsorted(nodes, y, side="right") - 1, 0, seg.size - 1)
        ratio = dens[k] * width / total
    log_ratio = np.log((1.0 - floor) * ratio + floor)
    crps_model = _crps(u_nodes, cdf, u)
    crps_null = u * u - u + 1.0 / 3.0
    kk = np.clip(np.searchsorted(u_nodes, u, side="right") - 1, 0, u_nodes.size - 2)
    du = u_nodes[kk + 1] - u_nodes[kk]
    frac = np.divide(u - u_nodes[kk], du, out=np.zeros_like(u), where=du > 0)
    pit = cdf[kk] + frac * (cdf[kk + 1] - cdf[kk])
    return log_ratio, crps_model, crps_null, pit, empty


def bar_scores(
    heatmap: Heatmap,
    events: pd.DataFrame,
    market: Market,
    *,
    floor: float = DEFAULT_FLOOR,
    start: Any = None,
    end: Any = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, dict[str, int]]]:
    """Per-bar and per-event location scores (the work of :func:`location_score`, without the bootstrap).

    Returns
    -------
    (bars, scored_events, counts)
        See :class:`LocationReport`; ``counts[side]`` holds ``outside`` and ``empty``, plus ``no_map`` (events
        in bars before the heatmap's first usable snapshot, not scored) and ``off_market`` (events outside the
        market's bars or the ``start``/``end`` window).
    """
    if not isinstance(market, Market):
        raise TypeError(f"market must be a heatmap.market.Market, got {type(market).__name__}")
    if not (isinstance(floor, (int, float)) and 0.0 < float(floor) < 1.0):
        raise ValueError(f"floor: got {floor!r}; allowed is a share in (0, 1), e.g. {DEFAULT_FLOOR}")
    ev = _check_events(events)
    idx = market.index
    freq = market.freq
    t_ns = pd.DatetimeIndex(ev["time"]).as_unit("ns").asi8
    pos = np.searchsorted(idx.as_unit("ns").asi8, t_ns, side="right") - 1
    inside = (pos >= 0) & (t_ns < idx[-1].value + freq.value)
    bar_open = idx[np.clip(pos, 0, None)]
    if start is not None:
        inside &= bar_open >= _utc(start)
    if end is not None:
        inside &= bar_open < _utc(end)
    counts = {s: {"outside": 0, "empty": 0, "no_map": 0, "off_market": 0} for s in SIDES}
    for s in SIDES:
        counts[s]["off_market"] = int(((~inside) & (ev["side"].to_numpy() == s)).sum())
    ev = ev.loc[inside].assign(bar=pos[inside])
    snaps = pd.DatetimeIndex(heatmap.times)
    log_edges = np.log(np.asarray(heatmap.price_edges, dtype=float))
    o, h, low = market.array("open"), market.array("high"), market.array("low")
    bar_rows: list[dict[str, Any]] = []
    ev_parts: list[pd.DataFrame] = []
    for (bar, side), grp in ev.groupby(["bar", "side"], sort=True):
        t0 = idx[int(bar)]
        j = int(snaps.searchsorted(t0 - freq, side="right")) - 1
        if j < 0:
            counts[str(side)]["no_map"] += len(grp)
            continue
        if side == "long":
            a, b, mass = np.log(low[bar]), np.log(o[bar]), heatmap.long[j]
        else:
            a, b, mass = np.log(o[bar]), np.log(h[bar]), heatmap.short[j]
        y = np.log(grp["price"].to_numpy())
        ok = (y >= a) & (y <= b) & (b > a)
        counts[str(side)]["outside"] += int((~ok).sum())
        if not ok.any():
            continue
        y = y[ok]
        lr, cm, cn, pit, empty = _score_part(log_edges, np.asarray(mass, dtype=float), a, b, y, float(floor))
        counts[str(side)]["empty"] += int(empty)
        bar_rows.append(
            {
                "time": t0,
                "side": side,
                "events": int(y.size),
                "log_score": float(lr.mean()),
                "crps_model": float(cm.mean()),
                "crps_null": float(cn.mean()),
                "map_time": snaps[j],
            }
        )
        ev_parts.append(
            pd.DataFrame(
                {
                    "time": grp["time"].to_numpy()[ok],
                    "bar": t0,
                    "side": side,
                    "price": np.exp(y),
                    "u": (y - a) / (b - a),
                    "pit": pit,
                    "log_ratio": lr,
                }
            )
        )
    bars = pd.DataFrame(
        bar_rows, columns=["time", "side", "events", "log_score", "crps_model", "crps_null", "map_time"]
    )
    scored = (
        pd.concat(ev_parts, ignore_index=True)
        if ev_parts
        else pd.DataFrame(columns=["time", "bar", "side", "price", "u", "pit", "log_ratio"])
    )
    return bars, scored, counts


def location_score(
    heatmap: Heatmap,
    events: pd.DataFrame,
    market: Market,
    *,
    floor: float = DEFAULT_FLOOR,
    start: Any = None,
    end: Any = None,
    n_boot: int = 1000,
    block: int | None = None,
    seed: int | None = 0,
    confidence: float = 0.95,
) -> LocationReport:
    """Score where a map's levels are against realized liquidation prices (see the module docstring).

    Parameters
    ----------
    heatmap : Heatmap
        The estimate on ``market`` with a snapshot for every bar (``estimate(..., snapshot_every=1)``); the map
        of bar t is the latest snapshot at or before ``t − freq`` (the state after the previous bar).
    events : DataFrame
        Liquidation events with ``time`` (UTC), ``side`` (liquidated position) and ``price``, the
        **liquidation** price [quote] (convert bankruptcy prices first; rows marked
        ``price_source="bankruptcy"`` raise).
    market : Market
        The bars the heatmap was estimated on (their open, low, high delimit the scored parts).
    floor : float, default 0.01
        Share ε of the uniform null mixed into the model density (the log score's floor: ``log ε`` per event
        in an empty band).
    start, end : timestamp-like, optional
        Score bars with open time in ``[start, end)``.
    n_boot : int, default 1000
        Block-bootstrap resamples over scored bars (0: no intervals).
    block : int, optional
        Block length [bars], default ``ceil(n^(1/3))``.
    seed : int, optional
    confidence : float, default 0.95

    Returns
    -------
    LocationReport

    Examples
    --------
    >>> import heatmap as lh, pandas as pd
    >>> m = lh.synthetic_market(days=20, freq="1h", seed=1)
    >>> hm = lh.estimate(m, lh.Model(), snapshot_every=1)
    >>> t = m.index[-5] + pd.Timedelta("10min")
    >>> ev = pd.DataFrame({"time": [t], "side": ["long"], "price": [m.frame.low.iloc[-5] * 1.0001]})
    >>> rep = location_score(hm, ev, m, n_boot=0)
    >>> int(rep.table.loc["long", "events"])
    1
    """
    if n_boot < 0:
        raise ValueError(f"n_boot: got {n_boot}; allowed is an integer >= 0")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence: got {confidence}; allowed is a number in (0, 1)")
    bars, scored, counts = bar_scores(heatmap, events, market, floor=floor, start=start, end=end)
    alpha = (1.0 - confidence) / 2.0
    rows = []
    used_block = block
    for side in (*SIDES, "both"):
        sub = bars if side == "both" else bars.loc[bars["side"] == side]
        sub = sub.sort_values("time", kind="stable")
        n = len(sub)
        c = counts if side == "both" else {side: counts[side]}
        outside = sum(v["outside"] for v in c.values())
        empty = sum(v["empty"] for v in c.values())
        row: dict[str, Any] = {
            "bars": n,
            "events": int(sub["events"].sum()),
            "outside": outside,
            "empty": empty,
        }
        if n == 0:
            row.update(
                {
                    k: np.nan
                    for k in ("log_score", "log_low", "log_high", "crps_skill", "crps_low", "crps_high")
                }
            )
            rows.append((side, row))
            continue
        ls = sub["log_score"].to_numpy()
        cm, cn = sub["crps_model"].to_numpy(), sub["crps_null"].to_numpy()
        row["log_score"] = float(ls.mean())
        row["crps_skill"] = float(1.0 - cm.mean() / cn.mean())
        lo_l = hi_l = lo_c = hi_c = np.nan
        if n_boot and n > 1:
            ix, blk = _resamples(n, block, n_boot, seed)
            used_block = blk if block is None else block
            bl = ls[ix].mean(axis=1)
            bc = 1.0 - cm[ix].mean(axis=1) / cn[ix].mean(axis=1)
            lo_l, hi_l = np.quantile(bl, [alpha, 1 - alpha])
            lo_c, hi_c = np.quantile(bc, [alpha, 1 - alpha])
        row.update(
            {
                "log_low": float(lo_l),
                "log_high": float(hi_l),
                "crps_low": float(lo_c),
                "crps_high": float(hi_c),
            }
        )
        rows.append((side, row))
    cols = [
        "log_score",
        "log_low",
        "log_high",
        "crps_skill",
        "crps_low",
        "crps_high",
        "bars",
        "events",
        "outside",
        "empty",
    ]
    table = pd.DataFrame([r for _, r in rows], index=pd.Index([s for s, _ in rows], name="side"))[cols]
    span = ""
    if len(bars):
        span = f"{bars['time'].min():%Y-%m-%d %H:%M} → {bars['time'].max():%Y-%m-%d %H:%M}"
    settings = {
        "floor": float(floor),
        "n_boot": n_boot,
        "block": used_block,
        "seed": seed,
        "confidence": confidence,
        "span": span,
        "no_map": {s: counts[s]["no_map"] for s in SIDES},
        "off_market": {s: counts[s]["off_market"] for s in SIDES},
    }
    return LocationReport(table=table, bars=bars, events=scored, settings=settings)


def location_difference(
    a: LocationReport,
    b: LocationReport,
    *,
    n_boot: int = 1000,
    block: int | None = None,
    seed: int | None = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Report ``a`` minus report ``b`` on the same bars, with paired block-bootstrap intervals.

    Both reports must score the same events on the same market (e.g. two models' heatmaps); bars are paired by
    time and side and resampled together, so the interval reflects the difference, not each score's spread.

    Returns
    -------
    DataFrame
        Index ``side`` (``long``, ``short``, ``both``); columns ``log_score, log_low, log_high`` (difference of
        the log scores [nats]) and ``crps_skill, crps_low, crps_high`` (difference of the CRPS skills), ``bars``.

    Examples
    --------
    >>> location_difference(location_score(hm_a, ev, m), location_score(hm_b, ev, m))  # doctest: +SKIP
    """
    if n_boot < 1:
        raise ValueError(f"n_boot: got {n_boot}; allowed is an integer >= 1")
    keys = ["time", "side"]
    m = a.bars.merge(b.bars, on=keys, suffixes=("_a", "_b"), how="inner").sort_values("time", kind="stable")
    if len(m) != len(a.bars) or len(m) != len(b.bars):
        raise ValueError(
            f"the reports score different bars ({len(a.bars)} and {len(b.bars)}, {len(m)} shared); score the "
            "same events on the same market"
        )
    alpha = (1.0 - confidence) / 2.0
    rows = {}
    for side in (*SIDES, "both"):
        sub = m if side == "both" else m.loc[m["side"] == side]
        n = len(sub)
        row: dict[str, float] = {"bars": float(n)}
        if n == 0:
            rows[side] = row
            continue
        la, lb = sub["log_score_a"].to_numpy(), sub["log_score_b"].to_numpy()
        ca, cb = sub["crps_model_a"].to_numpy(), sub["crps_model_b"].to_numpy()
        cn = sub["crps_null_a"].to_numpy()
        row["log_score"] = float(la.mean() - lb.mean())
        row["crps_skill"] = float((cb.mean() - ca.mean()) / cn.mean())
        ix, _ = _resamples(n, block, n_boot, seed)
        dl = la[ix].mean(axis=1) - lb[ix].mean(axis=1)
        dc = (cb[ix].mean(axis=1) - ca[ix].mean(axis=1)) / cn[ix].mean(axis=1)
        row["log_low"], row["log_high"] = (float(q) for q in np.quantile(dl, [alpha, 1 - alpha]))
        row["crps_low"], row["crps_high"] = (float(q) for q in np.quantile(dc, [alpha, 1 - alpha]))
        rows[side] = row
    cols = ["log_score", "log_low", "log_high", "crps_skill", "crps_low", "crps_high", "bars"]
    out = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=cols)
    out.index.name = "side"
    return out


def _resamples(n: int, block: int | None, n_boot: int, seed: int | None) -> tuple[np.ndarray, int]:
    """Moving-block bootstrap rows over ``n`` bars in time order (block ``ceil(n^(1/3))`` unless given)."""
    blk = min(n, max(1, int(np.ceil(n ** (1.0 / 3.0)))) if block is None else int(block))
    return block_bootstrap_indices(n, block=blk, n_boot=n_boot, seed=seed), blk


def _utc(t: Any) -> pd.Timestamp:
    ts = pd.Timestamp(t)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
