"""Skill scores of predicted against realized liquidations per bar.

Reported liquidations are undercounted (Binance publishes at most one liquidation order per symbol per second), so
every score here is a **rank** or **relative** measure: Spearman and Kendall rank correlation, precision of the
top-decile bars, *partial skill* beyond the "range × OI" null, direction accuracy of the long/short imbalance,
and, for event-level data, the log score of realized liquidation prices under a predicted price density.

Confidence intervals come from a seeded moving-block bootstrap over bars (liquidations cluster in time, so
resampling single bars would understate the uncertainty).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> realized = rng.lognormal(size=300)
>>> round(spearman(realized, realized), 3)
1.0
>>> lo, hi = wilson_interval(8, 10)
>>> round(lo, 3), round(hi, 3)
(0.49, 0.943)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

if TYPE_CHECKING:
    from heatmap.result import Snapshot

__all__ = [
    "spearman",
    "kendall",
    "wilson_interval",
    "precision_at_k",
    "partial_skill",
    "null_residual",
    "direction_accuracy",
    "log_score",
    "block_bootstrap_indices",
    "score",
    "ValidationReport",
    "FRAME_COLUMNS",
    "compare",
    "markdown_table",
    "spearman_difference",
]

#: Columns of a walk-forward frame (see :func:`heatmap.validation.walk_forward`).
FRAME_COLUMNS: tuple[str, ...] = (
    "predicted_long",
    "predicted_short",
    "realized_long",
    "realized_short",
    "range_down",
    "range_up",
    "oi",
)

_SIDES = ("long", "short")


# ------------------------------------------------------------------------------------------------------------
# elementary scores
# ------------------------------------------------------------------------------------------------------------


def _vec(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(
            f"{name} has {int(np.sum(~np.isfinite(a)))} non-finite values; drop or fill them first"
        )
    return a


def _pair(
    a: Any, b: Any, names: tuple[str, str] = ("predicted", "realized")
) -> tuple[np.ndarray, np.ndarray]:
    x, y = _vec(a, names[0]), _vec(b, names[1])
    if x.shape != y.shape:
        raise ValueError(f"{names[0]} and {names[1]} must have the same length, got {x.size} and {y.size}")
    if x.size < 3:
        raise ValueError(f"need at least 3 bars to score, got {x.size}")
    return x, y


def _rank_corr_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman correlation of each row of ``x`` with the same row of ``y`` (2-D, ties averaged)."""
    rx = stats.rankdata(x, axis=-1)
    ry = stats.rankdata(y, axis=-1)
    rx = rx - rx.mean(axis=-1, keepdims=True)
    ry = ry - ry.mean(axis=-1, keepdims=True)
    num = np.sum(rx * ry, axis=-1)
    den = np.sqrt(np.sum(rx * rx, axis=-1) * np.sum(ry * ry, axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return np.asarray(out)


def spearman(predicted: Any, realized: Any) -> float:
    """Spearman rank correlation (ties averaged); NaN when either input is constant.

    Parameters
    ----------
    predicted, realized : array_like, shape (n,)
        Per-bar values (any monotone unit; only ranks matter).

    Returns
    -------
    float
        Rank correlation in [−1, 1].

    Examples
    --------
    >>> spearman([1, 2, 3, 4], [10, 20, 30, 40])
    1.0
    """
    x, y = _pair(predicted, realized)
    return float(_rank_corr_rows(x[None, :], y[None, :])[0])


def kendall(predicted: Any, realized: Any) -> float:
    """Kendall's tau-b rank correlation (:func:`scipy.stats.kendalltau`); NaN when an input is constant.

    Examples
    --------
    >>> kendall([1, 2, 3, 4], [4, 3, 2, 1])
    -1.0
    """
    x, y = _pair(predicted, realized)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(stats.kendalltau(x, y).statistic)


def wilson_interval(successes: int, trials: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion.

    ``(p̂ + z²/2n ± z·sqrt(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n)`` with ``z`` the normal quantile of
    ``(1 + confidence)/2`` (Wilson 1927; Brown, Cai & DasGupta 2001), computed by
    ``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")``.

    Parameters
    ----------
    successes, trials : int
        ``0 ≤ successes ≤ trials``, ``trials ≥ 1``.
    confidence : float, default 0.95
        Two-sided coverage in (0, 1).

    Returns
    -------
    (low, high) : tuple of float

    Examples
    --------
    >>> tuple(round(v, 4) for v in wilson_interval(8, 10))
    (0.4902, 0.9433)
    """
    k, n = int(successes), int(trials)
    if n < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    if not 0 <= k <= n:
        raise ValueError(f"successes must be in [0, trials={n}], got {successes}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    lo = 0.0 if k == 0 else max(0.0, ci.low)  # exact endpoints (the formula gives them up to rounding)
    hi = 1.0 if k == n else min(1.0, ci.high)
    return float(lo), float(hi)


def _top_mask(x: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask of the ``k`` largest values (stable: ties broken by position, earlier first)."""
    order = np.argsort(-x, kind="stable")
    mask = np.zeros(x.size, dtype=bool)
    mask[order[:k]] = True
    return mask


def precision_at_k(
    predicted: Any, realized: Any, *, top: float = 0.1, confidence: float = 0.95
) -> tuple[float, float, float, int]:
    """Share of the model's top-``top`` bars that are also among the realized top-``top`` bars.

    With ``k = ceil(top · n)`` bars flagged by the prediction, precision = hits / k, where a hit is a flagged bar
    that is among the ``k`` largest realized bars. A random ranking scores ``top`` on average.

    Parameters
    ----------
    predicted, realized : array_like, shape (n,)
    top : float, default 0.1
        Fraction of bars flagged (0.1 = top decile), in (0, 1].
    confidence : float, default 0.95
        Coverage of the Wilson interval.

    Returns
    -------
    (precision, low, high, k) : tuple
        Precision, its Wilson interval and the number of flagged bars.

    Examples
    --------
    >>> p, lo, hi, k = precision_at_k(range(100), range(100))
    >>> p, k
    (1.0, 10)
    """
    x, y = _pair(predicted, realized)
    if not 0.0 < top <= 1.0:
        raise ValueError(f"top must be in (0, 1], got {top}")
    k = max(1, int(np.ceil(top * x.size)))
    hits = int(np.sum(_top_mask(x, k) & _top_mask(y, k)))
    lo, hi = wilson_interval(hits, k, confidence=confidence)
    return hits / k, lo, hi, k


def _normal_scores(x: np.ndarray) -> np.ndarray:
    """Normal scores ``Φ⁻¹((rank − ½)/n)`` along the last axis (ties averaged)."""
    n = x.shape[-1]
    return np.asarray(stats.norm.ppf((stats.rankdata(x, axis=-1) - 0.5) / n))


def _design(range_frac: np.ndarray, oi: np.ndarray) -> np.ndarray:
    """Null regressors along the last axis: ``1, z, z², z³, w`` (z, w: normal scores of range and OI)."""
    z = _normal_scores(range_frac)
    w = _normal_scores(oi)
    return np.stack([np.ones_like(z), z, z * z, z * z * z, w], axis=-1)


def _residual(y: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Least-squares residual of ``y`` (..., n) on ``X`` (..., n, k), batched over leading axes."""
    XtX = np.einsum("...ni,...nj->...ij", X, X)
    Xty = np.einsum("...ni,...n->...i", X, y)
    k = X.shape[-1]
    coef = np.linalg.solve(XtX + 1e-10 * np.eye(k), Xty[..., None])[..., 0]
    return np.asarray(y - np.einsum("...ni,...i->...n", X, coef))


def null_residual(realized: Any, range_frac: Any, oi: Any) -> np.ndarray:
    """What the range × OI null leaves unexplained in the realized liquidations (rank scale).

    The normal scores of realized liquidations are regressed (least squares) on a cubic in the normal scores of
    the bar's range and a linear term in the normal scores of open interest; the residual is returned. Working
    with normal scores makes the regression indifferent to the undercount of realized liquidations (any
    monotone distortion), to bars with zero range, and to the non-linear (convex) link between range and
    liquidations that a log-linear fit would leave in the residual.

    Parameters
    ----------
    realized : array_like, shape (n,)
        Realized liquidations per bar [quote].
    range_frac : array_like, shape (n,)
        The bar's traversed range on that side as a fraction of the open [-] (``(open−low)/open`` for longs).
    oi : array_like, shape (n,)
        Open interest before the bar [base].

    Returns
    -------
    ndarray, shape (n,)

    Examples
    --------
    >>> import numpy as np
    >>> r = np.linspace(0.001, 0.05, 50); oi = np.full(50, 9e4)
    >>> bool(np.abs(null_residual(r * oi, r, oi)).max() < 1e-6)
    True
    """
    y = _vec(realized, "realized")
    r = _vec(range_frac, "range_frac")
    o = _vec(oi, "oi")
    if not (y.size == r.size == o.size):
        raise ValueError(
            f"realized, range_frac and oi must have equal lengths, got {y.size}, {r.size}, {o.size}"
        )
    return _residual(_normal_scores(y), _design(r, o))


def partial_skill(predicted: Any, realized: Any, range_frac: Any, oi: Any) -> float:
    """Rank correlation of the prediction with what the range × OI null leaves unexplained.

    ``spearman(predicted, null_residual(realized, range_frac, oi))``: ≈ 0 when the prediction carries no
    information beyond the bar's range and open interest (e.g. when it *is* the null), > 0 when it ranks the
    bars the null gets wrong.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> r, oi, extra = rng.uniform(0.001, 0.05, 500), rng.uniform(8e4, 1e5, 500), rng.lognormal(size=500)
    >>> realized = r * oi * extra
    >>> abs(partial_skill(r * oi, realized, r, oi)) < 0.1, partial_skill(r * oi * extra, realized, r, oi) > 0.5
    (True, True)
    """
    x, _ = _pair(predicted, realized)
    return spearman(x, null_residual(realized, range_frac, oi))


def direction_accuracy(
    predicted_long: Any,
    predicted_short: Any,
    realized_long: Any,
    realized_short: Any,
    *,
    confidence: float = 0.95,
) -> tuple[float, float, float, int]:
    """Share of bars where sign(predicted long − short) equals sign(realized long − short).

    Bars where either difference is exactly zero are left out (no direction to call).

    Returns
    -------
    (accuracy, low, high, n) : tuple
        Accuracy, Wilson interval and the number of bars used.

    Examples
    --------
    >>> direction_accuracy([2, 0, 3], [1, 1, 0], [5, 1, 9], [1, 4, 2])[0]
    1.0
    """
    pl, ps = _pair(predicted_long, predicted_short, ("predicted_long", "predicted_short"))
    rl, rs = _pair(realized_long, realized_short, ("realized_long", "realized_short"))
    if pl.size != rl.size:
        raise ValueError(f"predicted and realized must have the same length, got {pl.size} and {rl.size}")
    dp, dr = np.sign(pl - ps), np.sign(rl - rs)
    use = (dp != 0) & (dr != 0)
    n = int(use.sum())
    if n == 0:
        return float("nan"), float("nan"), float("nan"), 0
    hits = int(np.sum(dp[use] == dr[use]))
    lo, hi = wilson_interval(hits, n, confidence=confidence)
    return hits / n, lo, hi, n


def log_score(
    snapshot_density: Snapshot | tuple[Any, Any],
    event_prices: Any,
    *,
    side: Literal["long", "short", "both"] = "both",
    floor: float | None = None,
) -> float:
    """Mean log predictive density [log(1/quote)] of realized liquidation prices under a predicted map.

    The map's notional per price band is normalised to a probability and divided by the band width, so the
    density is per unit price [1/quote]; each event scores ``log density(band containing its price)``. Higher
    is better; compare models on the same events and the same grid.

    Parameters
    ----------
    snapshot_density : Snapshot or (price_edges, mass)
        A :class:`~heatmap.result.Snapshot` (the side(s) chosen by ``side``) or a pair of band edges (P+1,)
        [quote] and non-negative mass per band (P,).
    event_prices : array_like
        Prices of realized liquidation events [quote].
    side : {"both", "long", "short"}, default "both"
        Which side of a Snapshot to use (ignored for an explicit pair).
    floor : float, optional
        Density floor [1/quote] for bands with no predicted mass and events off the grid. Without it such
        events make the score ``-inf`` (the honest value; pass a floor to compare models that leave gaps).

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> round(log_score((np.array([0.0 + 1, 2, 3]), np.array([1.0, 3.0])), [1.5, 2.5, 2.5]), 4)
    -0.6539
    """
    if isinstance(snapshot_density, tuple):
        edges, mass = (np.asarray(a, dtype=float) for a in snapshot_density)
    else:
        snap = snapshot_density
        edges = np.asarray(snap.price_edges, dtype=float)
        if side == "both":
            mass = np.asarray(snap.long, dtype=float) + np.asarray(snap.short, dtype=float)
        elif side in _SIDES:
            mass = np.asarray(snap.side(side), dtype=float)
        else:
            raise ValueError(f"side must be 'long', 'short' or 'both', got {side!r}")
    if edges.ndim != 1 or mass.shape != (edges.size - 1,):
        raise ValueError(f"mass must have shape ({edges.size - 1},) to match price_edges, got {mass.shape}")
    if np.any(np.diff(edges) <= 0):
        raise ValueError("price_edges must be strictly increasing")
    if np.any(mass < 0) or not np.all(np.isfinite(mass)):
        raise ValueError("mass must be finite and non-negative")
    total = float(mass.sum())
    if total <= 0:
        raise ValueError("the predicted map has no mass; a density needs a positive total")
    if floor is not None and not floor > 0:
        raise ValueError(f"floor must be a positive density [1/quote], got {floor}")
    prices = _vec(event_prices, "event_prices")
    if prices.size == 0:
        raise ValueError("event_prices is empty")
    dens = mass / total / np.diff(edges)
    idx = np.searchsorted(edges, prices, side="right") - 1
    inside = (idx >= 0) & (idx < dens.size)
    d = np.zeros(prices.size)
    d[inside] = dens[idx[inside]]
    if floor is not None:
        d = np.maximum(d, floor)
    with np.errstate(divide="ignore"):
        return float(np.mean(np.log(d)))


# ------------------------------------------------------------------------------------------------------------
# bootstrap and the report
# ------------------------------------------------------------------------------------------------------------


def block_bootstrap_indices(n: int, *, block: int, n_boot: int, seed: int | None = 0) -> np.ndarray:
    """Row indices of moving-block bootstrap resamples (Künsch 1989).

    Each resample concatenates ``ceil(n / block)`` blocks of ``block`` consecutive rows whose start is drawn
    uniformly from ``0 … n − block``, cut to length ``n``.

    Returns
    -------
    ndarray of int, shape (n_boot, n)

    Examples
    --------
    >>> idx = block_bootstrap_indices(10, block=3, n_boot=2, seed=0)
    >>> idx.shape, bool(((idx[:, 1] - idx[:, 0]) == 1).all())
    ((2, 10), True)
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not 1 <= block <= n:
        raise ValueError(f"block must be in [1, n={n}], got {block}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    rng = np.random.default_rng(seed)
    n_blocks = -(-n // block)
    starts = rng.integers(0, n - block + 1, size=(n_boot, n_blocks))
    idx = (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(n_boot, -1)
    return np.asarray(idx[:, :n])


def _check_frame(frame: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame from walk_forward, got {type(frame).__name__}")
    missing = [c for c in FRAME_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"frame is missing columns {missing}; a walk-forward frame has {list(FRAME_COLUMNS)}"
        )
    sub = frame.loc[:, list(FRAME_COLUMNS)].astype(float)
    bad = ~np.isfinite(sub.to_numpy()).all(axis=1)
    if bad.any():
        raise ValueError(
            f"frame has {int(bad.sum())} rows with NaN/inf in {list(FRAME_COLUMNS)}; drop them first"
        )
    if len(sub) < 10:
        raise ValueError(f"need at least 10 bars to score, got {len(sub)}")
    return sub


def _batched_partial(pred: np.ndarray, realized: np.ndarray, rng_: np.ndarray, oi: np.ndarray) -> np.ndarray:
    """partial_skill on each row of 2-D inputs."""
    return _rank_corr_rows(pred, _residual(_normal_scores(realized), _design(rng_, oi)))


@dataclass(frozen=True, eq=False)
class ValidationReport:
    """Scores of one walk-forward frame.

    Parameters
    ----------
    table : DataFrame
        One row per (side, metric) with columns ``estimate, low, high, n`` (``low``/``high``: the confidence
        interval: block bootstrap for correlations and partial skill, Wilson for precision and direction).
    n_bars : int
        Bars scored.
    settings : dict
        ``n_boot, block, seed, top, confidence`` and the scored time span.
    """

    table: pd.DataFrame
    n_bars: int
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        need = {"estimate", "low", "high", "n"}
        if not need <= set(self.table.columns):
            raise ValueError(f"table needs columns {sorted(need)}, got {list(self.table.columns)}")

    def to_frame(self) -> pd.DataFrame:
        """The table (a copy), indexed by ``(side, metric)``."""
        return self.table.copy()

    def get(self, side: str, metric: str) -> float:
        """Point estimate of one metric, e.g. ``report.get("long", "spearman")``."""
        return float(self.table.at[(side, metric), "estimate"])  # type: ignore[arg-type]

    def wide(self) -> pd.DataFrame:
        """Metrics as rows, sides as columns, cells ``"0.78 [0.74, 0.82]"``."""
        t = self.table
        cells = [
            f"{e:.3f}" + ("" if not np.isfinite(lo) else f" [{lo:.3f}, {hi:.3f}]")
            for e, lo, hi in zip(t["estimate"], t["low"], t["high"], strict=True)
        ]
        s = pd.Series(cells, index=t.index)
        w = s.unstack(level=0)
        metrics = list(t.index.get_level_values(1))
        order = list(dict.fromkeys(metrics))
        return w.reindex(index=order, columns=[c for c in ("long", "short", "both") if c in w.columns])

    def to_markdown(self) -> str:
        """GitHub-flavoured markdown table of :meth:`wide`."""
        w = self.wide().fillna("")
        head = "| metric | " + " | ".join(w.columns) + " |"
        sep = "|---|" + "---|" * len(w.columns)
        rows = [f"| {m} | " + " | ".join(str(v) for v in w.loc[m]) + " |" for m in w.index]
        return "\n".join([head, sep, *rows])

    def __repr__(self) -> str:
        span = self.settings.get("span", "")
        return (
            f"ValidationReport({self.n_bars} bars {span}".rstrip()
            + ")\n"
            + self.wide().fillna("").to_string()
        )

    def _repr_markdown_(self) -> str:
        return self.to_markdown()


def score(
    frame: pd.DataFrame,
    *,
    n_boot: int = 500,
    block: int | None = None,
    seed: int | None = 0,
    top: float = 0.1,
    confidence: float = 0.95,
) -> ValidationReport:
    """Score a walk-forward frame per side, with block-bootstrap confidence intervals.

    Per side (``long`` uses ``predicted_long, realized_long, range_down``; ``short`` uses the ``_short`` columns
    and ``range_up``): ``spearman``, ``kendall``, ``partial_skill`` (:func:`partial_skill`),
    ``precision_at_10pct`` (:func:`precision_at_k` with ``top``; Wilson interval), ``null_spearman`` (the
    Spearman of the range × OI null itself) and ``spearman_vs_null`` (the difference, with a paired bootstrap
    interval: both correlations are computed on the same resampled bars). For ``both``: ``direction`` accuracy
    (:func:`direction_accuracy`; Wilson interval).

    Parameters
    ----------
    frame : DataFrame
        Output of :func:`heatmap.validation.walk_forward` (or any frame with :data:`FRAME_COLUMNS`).
    n_boot : int, default 500
        Bootstrap resamples (0 disables the bootstrap intervals).
    block : int, optional
        Block length [bars] of the moving-block bootstrap. Default ``ceil(n ** (1/3))``.
    seed : int, optional, default 0
        Seed of the bootstrap.
    top : float, default 0.1
        Share of bars flagged by precision@k.
    confidence : float, default 0.95
        Two-sided coverage of every interval.

    Returns
    -------
    ValidationReport

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> n = 200
    >>> f = pd.DataFrame({"range_down": rng.uniform(0, .05, n), "range_up": rng.uniform(0, .05, n),
    ...                   "oi": rng.uniform(8e4, 9e4, n)})
    >>> f["realized_long"] = f.range_down * f.oi * rng.lognormal(size=n)
    >>> f["realized_short"] = f.range_up * f.oi * rng.lognormal(size=n)
    >>> f["predicted_long"], f["predicted_short"] = f.realized_long, f.realized_short
    >>> score(f, n_boot=50).get("long", "spearman")
    1.0
    """
    sub = _check_frame(frame)
    n = len(sub)
    if n_boot < 0:
        raise ValueError(f"n_boot must be >= 0, got {n_boot}")
    if block is None:
        block = max(1, int(np.ceil(n ** (1.0 / 3.0))))
    if not 1 <= block <= n:
        raise ValueError(f"block must be in [1, n={n}], got {block}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    alpha = (1.0 - confidence) / 2.0
    idx = block_bootstrap_indices(n, block=block, n_boot=n_boot, seed=seed) if n_boot else None

    def ci(samples: np.ndarray) -> tuple[float, float]:
        s = samples[np.isfinite(samples)]
        if s.size < 2:
            return float("nan"), float("nan")
        return float(np.quantile(s, alpha)), float(np.quantile(s, 1.0 - alpha))

    rows: list[tuple[str, str, float, float, float, int]] = []
    for side, rcol in (("long", "range_down"), ("short", "range_up")):
        p = sub[f"predicted_{side}"].to_numpy()
        y = sub[f"realized_{side}"].to_numpy()
        r = sub[rcol].to_numpy()
        oi = sub["oi"].to_numpy()
        null = r * oi
        est = {
            "spearman": spearman(p, y),
            "kendall": kendall(p, y),
            "partial_skill": partial_skill(p, y, r, oi),
            "null_spearman": spearman(null, y),
        }
        prec, plo, phi, k = precision_at_k(p, y, top=top, confidence=confidence)
        bounds: dict[str, tuple[float, float]] = {m: (float("nan"), float("nan")) for m in est}
        if idx is not None:
            P, Y, R, O = p[idx], y[idx], r[idx], oi[idx]
            bounds["spearman"] = ci(_rank_corr_rows(P, Y))
            bounds["null_spearman"] = ci(_rank_corr_rows(R * O, Y))
            bounds["partial_skill"] = ci(_batched_partial(P, Y, R, O))
            kt = np.array(
                [
                    stats.kendalltau(P[b], Y[b]).statistic if np.ptp(P[b]) > 0 else np.nan
                    for b in range(len(P))
                ]
            )
            bounds["kendall"] = ci(kt)
        for m in ("spearman", "kendall", "partial_skill"):
            rows.append((side, m, est[m], *bounds[m], n))
        rows.append(
            (side, "precision_at_10pct" if top == 0.1 else f"precision_at_{top:g}", prec, plo, phi, k)
        )
        rows.append((side, "null_spearman", est["null_spearman"], *bounds["null_spearman"], n))
        diff = (float("nan"), float("nan"))
        if idx is not None:
            diff = ci(_rank_corr_rows(P, Y) - _rank_corr_rows(R * O, Y))
        rows.append((side, "spearman_vs_null", est["spearman"] - est["null_spearman"], *diff, n))
    acc, alo, ahi, na = direction_accuracy(
        sub["predicted_long"], sub["predicted_short"], sub["realized_long"], sub["realized_short"],
        confidence=confidence,
    )  # fmt: skip
    rows.append(("both", "direction", acc, alo, ahi, na))
    table = pd.DataFrame(rows, columns=["side", "metric", "estimate", "low", "high", "n"]).set_index(
        ["side", "metric"]
    )
    span = ""
    if isinstance(frame.index, pd.DatetimeIndex) and len(frame.index):
        span = f"{frame.index[0]:%Y-%m-%d %H:%M} → {frame.index[-1]:%Y-%m-%d %H:%M}"
    settings = {
        "n_boot": n_boot,
        "block": block,
        "seed": seed,
        "top": top,
        "confidence": confidence,
        "span": span,
    }
    return ValidationReport(table=table, n_bars=n, settings=settings)


def compare(
    reports: Mapping[str, ValidationReport],
    *,
    side: Literal["long", "short"],
    metrics: Sequence[str] = ("spearman", "kendall", "partial_skill", "precision_at_10pct"),
    digits: int = 2,
) -> pd.DataFrame:
    """One side's metrics for several reports: rows are the reports, cells ``"0.78 [0.74, 0.82]"``.

    Examples
    --------
    >>> compare({"model": report, "null": null_report}, side="long")  # doctest: +SKIP
    """
    if side not in _SIDES:
        raise ValueError(f"side must be 'long' or 'short', got {side!r}")
    out: dict[str, dict[str, str]] = {}
    for label, rep in reports.items():
        t = rep.table
        row = {}
        for m in metrics:
            if (side, m) not in t.index:
                raise ValueError(f"report {label!r} has no metric {m!r} for side {side!r}")
            e, lo, hi = (float(t.at[(side, m), c]) for c in ("estimate", "low", "high"))  # type: ignore[arg-type]
            cell = f"{e:.{digits}f}"
            if np.isfinite(lo):
                cell += f" [{lo:.{digits}f}, {hi:.{digits}f}]"
            row[m] = cell
        out[label] = row
    return pd.DataFrame.from_dict(out, orient="index")


def markdown_table(frame: pd.DataFrame, *, index_name: str = "") -> str:
    """A DataFrame as a GitHub-flavoured markdown table (no extra dependency)."""
    head = f"| {index_name} | " + " | ".join(str(c) for c in frame.columns) + " |"
    sep = "|---|" + "---|" * len(frame.columns)
    rows = [
        f"| {i} | " + " | ".join(str(v) for v in r) + " |"
        for i, r in zip(frame.index, frame.to_numpy(), strict=True)
    ]
    return "\n".join([head, sep, *rows])


def spearman_difference(
    frame: pd.DataFrame,
    reference: pd.DataFrame,
    *,
    side: Literal["long", "short"],
    n_boot: int = 1000,
    block: int | None = None,
    seed: int | None = 0,
    confidence: float = 0.95,
) -> tuple[float, float, float]:
    """Spearman(model) − Spearman(reference) on the same bars, with a paired moving-block bootstrap interval.

    Parameters
    ----------
    frame : DataFrame
        Walk-forward frame of the model (``predicted_<side>``, ``realized_<side>``).
    reference : DataFrame
        Another predictor per bar (column ``long``/``short``, e.g. :func:`~heatmap.validation.baselines.range_oi`),
        aligned on ``frame.index``.
    side : {"long", "short"}

    Returns
    -------
    (difference, low, high) : tuple of float

    Examples
    --------
    >>> spearman_difference(frame, baselines.range_oi(market, freq="4h"), side="long")  # doctest: +SKIP
    """
    if side not in _SIDES:
        raise ValueError(f"side must be 'long' or 'short', got {side!r}")
    p = _vec(frame[f"predicted_{side}"], f"predicted_{side}")
    y = _vec(frame[f"realized_{side}"], f"realized_{side}")
    ref = reference[side].reindex(frame.index)
    if ref.isna().any():
        raise ValueError(f"reference has no value for {int(ref.isna().sum())} bars of the frame")
    q = ref.to_numpy(dtype=float)
    n = p.size
    if block is None:
        block = max(1, int(np.ceil(n ** (1.0 / 3.0))))
    est = spearman(p, y) - spearman(q, y)
    idx = block_bootstrap_indices(n, block=block, n_boot=n_boot, seed=seed)
    d = _rank_corr_rows(p[idx], y[idx]) - _rank_corr_rows(q[idx], y[idx])
    d = d[np.isfinite(d)]
    alpha = (1.0 - confidence) / 2.0
    return float(est), float(np.quantile(d, alpha)), float(np.quantile(d, 1.0 - alpha))
