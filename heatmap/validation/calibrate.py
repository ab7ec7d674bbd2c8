"""Calibrate model assumptions against realized liquidations on a training window; report out of sample.

The objective is a rank score of the walk-forward predictions on the training bars (realized liquidations are
undercounted, so levels cannot be fitted, only ranks). The engine only ever sees bars up to the end of the
training window while calibrating; the out-of-sample report runs the calibrated model over the whole market
and scores the later test window (the state entering the test window is built walk-forward, as in use).

Parameters are named either after a :class:`~heatmap.model.Model` field that takes a number
(``split_strength``, ``turnover``; ``decay_half_life`` is searched in days) or ``leverage.median`` /
``leverage.sigma`` (and ``passive_leverage.median`` / ``passive_leverage.sigma``) for lognormal leverage
distributions.

Examples
--------
>>> cal = calibrate(market, realized, train=("2024-11-13", "2025-03-15"),
...                 test=("2025-03-15", "2025-06-01"))  # doctest: +SKIP
>>> cal.test_report  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.stats import qmc

from heatmap.market import Market
from heatmap.validation.metrics import ValidationReport, partial_skill, score, spearman
from heatmap.validation.protocol import _utc, walk_forward

if TYPE_CHECKING:
    from heatmap.model import Model

__all__ = ["calibrate", "Calibration", "DEFAULT_PARAMS", "build_model", "objective_value"]

#: Parameters searched by default and their bounds.
DEFAULT_PARAMS: dict[str, tuple[float, float]] = {
    "leverage.median": (3.0, 60.0),
    "leverage.sigma": (0.2, 1.5),
    "split_strength": (0.0, 1.0),
    "turnover": (0.0, 1.0),
}

Objective = Literal["spearman", "partial", "mixed"]
_LEV_KEYS = ("leverage", "passive_leverage")


def build_model(base: Model, values: Mapping[str, float]) -> Model:
    """``base`` with the named parameters replaced (see the module docstring for names).

    Examples
    --------
    >>> from heatmap.model import Model  # doctest: +SKIP
    >>> build_model(Model(), {"leverage.median": 20, "leverage.sigma": 0.8}).leverage  # doctest: +SKIP
    """
    from heatmap.leverage import Leverage

    kw: dict[str, Any] = {}
    lev: dict[str, dict[str, float]] = {}
    for name, v in values.items():
        if "." in name:
            field_name, attr = name.split(".", 1)
            if field_name not in _LEV_KEYS or attr not in ("median", "sigma"):
                raise ValueError(
                    f"parameter {name!r}: dotted names must be one of "
                    f"{[f'{k}.{a}' for k in _LEV_KEYS for a in ('median', 'sigma')]}"
                )
            lev.setdefault(field_name, {})[attr] = float(v)
        elif name == "decay_half_life":
            kw[name] = pd.Timedelta(days=float(v))
        else:
            kw[name] = float(v)
    for field_name, spec in lev.items():
        if set(spec) != {"median", "sigma"}:
            # the other parameter comes from the base model, which must then be a lognormal
            current = getattr(base, field_name).to_dict()
            if current.get("family") != "lognormal":
                raise ValueError(
                    f"{field_name}: calibrating only {sorted(spec)} needs a lognormal {field_name} in the base "
                    f"model to take the other parameter from, got {getattr(base, field_name)!r}"
                )
            spec = {**current["params"], **spec}
        kw[field_name] = Leverage.lognormal(median=spec["median"], sigma=spec["sigma"])
    return base.replace(**kw)


def objective_value(frame: pd.DataFrame, objective: Objective) -> float:
    """Mean over both sides of the chosen score of a walk-forward frame (higher is better).

    ``"spearman"``: rank correlation; ``"partial"``: partial skill beyond range × OI; ``"mixed"``: the mean of
    the two. A constant prediction (no variation) scores −1.
    """
    vals = []
    for side, rcol in (("long", "range_down"), ("short", "range_up")):
        p, y = frame[f"predicted_{side}"].to_numpy(), frame[f"realized_{side}"].to_numpy()
        s = spearman(p, y)
        if objective == "spearman":
            v = s
        else:
            ps = partial_skill(p, y, frame[rcol].to_numpy(), frame["oi"].to_numpy())
            v = ps if objective == "partial" else 0.5 * (s + ps)
        vals.append(-1.0 if not np.isfinite(v) else v)
    return float(np.mean(vals))


@dataclass(frozen=True, eq=False)
class Calibration:
    """Result of :func:`calibrate`.

    Attributes
    ----------
    model : Model
        The calibrated model.
    params : dict
        The chosen parameter values.
    objective : str
        Objective that was maximised.
    train, test : (Timestamp, Timestamp)
        Half-open windows ``[start, end)`` of bar open times (``test`` may be None).
    train_score : float
        Objective value on the training window.
    train_report, test_report : ValidationReport
        Full scores on each window (``test_report`` None without a test window).
    history : DataFrame
        Every evaluation: parameter values and objective.
    info : dict
        Optimizer, evaluations, runtime [s], message.
    """

    model: Model
    params: dict[str, float]
    objective: str
    train: tuple[pd.Timestamp, pd.Timestamp]
    test: tuple[pd.Timestamp, pd.Timestamp] | None
    train_score: float
    train_report: ValidationReport
    test_report: ValidationReport | None
    history: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        p = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        return (
            f"Calibration({p}; {self.objective}={self.train_score:.3f} on "
            f"{self.train[0]:%Y-%m-%d}→{self.train[1]:%Y-%m-%d}, {self.info.get('evaluations', '?')} runs)"
        )


def _window(w: Any, name: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    if not (isinstance(w, (tuple, list)) and len(w) == 2):
        raise ValueError(f"{name} must be a (start, end) pair of times, got {w!r}")
    a, b = _utc(w[0]), _utc(w[1])
    if not a < b:
        raise ValueError(f"{name}: start {a} must be before end {b}")
    return a, b


def calibrate(
    market: Market,
    realized: pd.DataFrame,
    *,
    train: tuple[Any, Any],
    test: tuple[Any, Any] | None = None,
    params: Mapping[str, tuple[float, float]] | None = None,
    base: Model | None = None,
    objective: Objective = "mixed",
    method: Literal["differential_evolution", "nelder-mead"] = "differential_evolution",
    maxiter: int = 6,
    popsize: int = 6,
    starts: int = 4,
    bins: int = 500,
    warmup: int | str | pd.Timedelta = "14D",
    freq: str | pd.Timedelta | None = None,
    seed: int = 0,
    n_boot: int = 500,
    callback: Callable[[dict[str, float], float], None] | None = None,
) -> Calibration:
    """Choose model parameters that maximise a rank score on ``train``; score them on ``test``.

    Parameters
    ----------
    market : Market
        Bars covering the warm-up, the training and (optionally) the test window.
    realized : DataFrame
        Realized liquidations per bar, ``long``, ``short`` [quote].
    train : (start, end)
        Training window of bar open times, half-open ``[start, end)``. The engine sees no bar at or after
        ``end`` during the search. The warm-up counts from the market's first bar.
    test : (start, end), optional
        Later window for the out-of-sample report (must start at or after ``train`` ends).
    params : dict, optional
        Name → (low, high) bounds; default :data:`DEFAULT_PARAMS`.
    base : Model, optional
        Model whose other fields are kept (default ``Model()``).
    objective : {"mixed", "spearman", "partial"}, default "mixed"
        Score maximised, averaged over both sides (see :func:`objective_value`).
    method : {"differential_evolution", "nelder-mead"}
        ``differential_evolution`` (seeded, ``maxiter`` generations of ``popsize × len(params)`` runs, no
        polishing) or bounded Nelder-Mead from the best of ``starts`` Latin-hypercube points (``maxiter × 10``
        function evaluations at most).
    maxiter, popsize, starts : int
        Search budget.
    bins : int, default 500
        Price bins of the engine's grid during the search and the reports.
    warmup : int or duration, default "14D"
    freq : str or Timedelta, optional
        Score at this coarser bar length (fine-path engine, see :func:`~heatmap.validation.walk_forward`).
    seed : int, default 0
    n_boot : int, default 500
        Bootstrap resamples of the train/test reports.
    callback : callable, optional
        Called as ``callback(values, objective)`` after each engine run (progress).

    Returns
    -------
    Calibration
    """
    from heatmap.model import Model

    if not isinstance(market, Market):
        raise TypeError(f"market must be a heatmap.market.Market, got {type(market).__name__}")
    if objective not in ("spearman", "partial", "mixed"):
        raise ValueError(f"objective={objective!r}; allowed: 'mixed', 'spearman', 'partial'")
    if method not in ("differential_evolution", "nelder-mead"):
        raise ValueError(f"method={method!r}; allowed: 'differential_evolution', 'nelder-mead'")
    for nm, v in (("maxiter", maxiter), ("popsize", popsize), ("starts", starts)):
        if not (isinstance(v, (int, np.integer)) and v >= 1):
            raise ValueError(f"{nm} must be a positive integer, got {v!r}")
    tr = _window(train, "train")
    te = _window(test, "test") if test is not None else None
    if te is not None and te[0] < tr[1]:
        raise ValueError(f"test starts {te[0]} before train ends {tr[1]}; the windows must not overlap")
    space = dict(DEFAULT_PARAMS if params is None else params)
    if not space:
        raise ValueError("params must name at least one parameter")
    names = list(space)
    bounds = []
    for k in names:
        lo, hi = (float(x) for x in space[k])
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ValueError(f"params[{k!r}] bounds must be finite with low < high, got {space[k]!r}")
        bounds.append((lo, hi))
    base_model = Model() if base is None else base
    train_market = market.iloc[: int(market.index.searchsorted(tr[1], side="left"))]  # bars with open < end
    if len(train_market) < 2:
        raise ValueError(f"the market has no bars before train end {tr[1]}")

    history: list[dict[str, float]] = []
    cache: dict[tuple[float, ...], float] = {}

    def run(x: np.ndarray) -> float:
        x = np.clip(np.asarray(x, dtype=float), [b[0] for b in bounds], [b[1] for b in bounds])
        key = tuple(np.round(x, 10))
        if key in cache:
            return cache[key]
        values = dict(zip(names, (float(v) for v in x), strict=True))
        model = build_model(base_model, values)
        frame = walk_forward(
            train_market, model, realized, bins=bins, warmup=warmup, freq=freq, start=tr[0], end=tr[1]
        )
        val = objective_value(frame, objective)
        cache[key] = -val
        history.append({**values, "objective": val})
        if callback is not None:
            callback(values, val)
        return -val

    build_model(
        base_model, {k: 0.5 * (lo + hi) for k, (lo, hi) in zip(names, bounds, strict=True)}
    )  # fail fast
    t0 = time.perf_counter()
    if method == "differential_evolution":
        res = optimize.differential_evolution(
            run,
            bounds,
            maxiter=maxiter,
            popsize=popsize,
            seed=seed,
            polish=False,
            tol=1e-3,
            init="latinhypercube",
        )
        x_best, message = res.x, str(res.message)
    else:
        lhs = qmc.LatinHypercube(d=len(names), seed=seed).random(starts)
        lo_b, hi_b = np.array(bounds).T
        pts = lo_b + lhs * (hi_b - lo_b)
        vals = [run(p) for p in pts]
        x0 = pts[int(np.argmin(vals))]
        res = optimize.minimize(
            run, x0, method="Nelder-Mead", bounds=bounds, options={"maxfev": 10 * maxiter, "xatol": 1e-3}
        )
        x_best, message = res.x, str(res.message)
    best = dict(zip(names, (float(v) for v in np.clip(x_best, *np.array(bounds).T)), strict=True))
    model = build_model(base_model, best)
    train_frame = walk_forward(
        train_market, model, realized, bins=bins, warmup=warmup, freq=freq, start=tr[0], end=tr[1]
    )
    train_score = objective_value(train_frame, objective)
    train_report = score(train_frame, n_boot=n_boot, seed=seed)
    test_report = None
    if te is not None:
        test_frame = walk_forward(
            market, model, realized, bins=bins, warmup=warmup, freq=freq, start=te[0], end=te[1]
        )
        test_report = score(test_frame, n_boot=n_boot, seed=seed)
    info = {
        "method": method,
        "evaluations": len(history),
        "seconds": time.perf_counter() - t0,
        "message": message,
        "bins": bins,
        "warmup": str(warmup),
        "bounds": dict(zip(names, bounds, strict=True)),
    }
    return Calibration(
        model=model,
        params=best,
        objective=objective,
        train=tr,
        test=te,
        train_score=train_score,
        train_report=train_report,
        test_report=test_report,
        history=pd.DataFrame(history),
        info=info,
    )
