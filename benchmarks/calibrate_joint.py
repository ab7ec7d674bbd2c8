"""Joint calibration of the recommended preset: how much (count skill) and where (location skill).

Training data only:

* count: the mixed rank objective of ``heatmap.validation.calibrate`` (mean over sides of (Spearman + partial
  skill)/2) on the Binance BTC 4h realized liquidations, engine on the 1h path, bars before 2025-03-15;
* location: the Bybit events of 2024-02-12 → 2024-03-20 (the last ten days of the recording are the test part
  and are never scored here).

Objective (maximised): ``min over sides of (log score + CRPS skill)/2 + count − 5 · max(0, count_ref − count)``,
with ``count_ref`` the count objective of the previous preset: location must improve on its worse side without
giving up count skill. Search: scipy differential evolution (seeded, small population) over the leverage
law's median and σ, the passive side's median, the side-split strength and the turnover.

Usage::

    python benchmarks/calibrate_joint.py            # prints the CALIBRATED entry (≈ 5 min on a shared core)
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import validation_headline as vh
from scipy import optimize

from heatmap.model import Model
from heatmap.validation.calibrate import build_model, objective_value

SEARCH = {
    "leverage.median": (10.0, 125.0),
    "leverage.sigma": (0.2, 1.5),
    "passive_leverage.median": (1.5, 10.0),
    "split_strength": (0.0, 1.0),
    "turnover": (0.0, 0.6),
}
#: a two-part leverage law: a high-leverage share (lognormal, σ 0.3) over a broad low-leverage body (σ 0.8)
SEARCH_MIXTURE = {
    "high.share": (0.05, 0.95),
    "high.median": (30.0, 125.0),
    "low.median": (2.0, 30.0),
    "split_strength": (0.0, 1.0),
    "turnover": (0.0, 0.6),
}
COUNT_BINS = 500


def mixture_model(base: Model, values: dict[str, float]) -> Model:
    """``base`` with a two-part lognormal leverage law (see :data:`SEARCH_MIXTURE`)."""
    from heatmap.leverage import Leverage

    w = values["high.share"]
    lev = Leverage.mixture(
        [
            Leverage.lognormal(median=values["high.median"], sigma=0.3),
            Leverage.lognormal(median=values["low.median"], sigma=0.8),
        ],
        [w, 1.0 - w],
    )
    return base.replace(leverage=lev, split_strength=values["split_strength"], turnover=values["turnover"])


def terms(model: Model) -> tuple[float, float, dict[str, float]]:
    """(count objective, location objective, details) on the training data."""
    count = objective_value(vh.count_frame(model, vh.COUNT_TRAIN, bins=COUNT_BINS), "mixed")
    t = vh.location_report(model, vh.LOC_TRAIN, n_boot=0).table
    per_side = {s: 0.5 * (t.loc[s, "log_score"] + t.loc[s, "crps_skill"]) for s in ("long", "short")}
    details = {f"{s}_{m}": float(t.loc[s, m]) for s in ("long", "short") for m in ("log_score", "crps_skill")}
    return count, float(min(per_side.values())), details


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--maxiter", type=int, default=6)
    ap.add_argument("--popsize", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--family", choices=["lognormal", "mixture"], default="lognormal")
    ap.add_argument("--polish", type=int, default=0, help="Nelder-Mead evaluations after the search")
    ap.add_argument(
        "--x0", type=json.loads, help="JSON of start values: skip the global search and only polish from them"
    )
    args = ap.parse_args(argv)
    if not vh.available():
        print(f"data not found under {vh.DATA}", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    base = Model.preset(f"binance-btc-{__import__('heatmap.calibrated').calibrated.PREVIOUS_BINANCE_BTC}")
    count_ref, loc_ref, det_ref = terms(base)
    print(f"previous preset: count {count_ref:.4f}, location {loc_ref:+.4f} {det_ref}", flush=True)
    search = SEARCH if args.family == "lognormal" else SEARCH_MIXTURE
    make = build_model if args.family == "lognormal" else mixture_model
    names = list(search)
    bounds = [search[k] for k in names]
    seen: list[tuple[float, dict[str, float], float, float]] = []

    def run(x: np.ndarray) -> float:
        values = dict(zip(names, map(float, x), strict=True))
        try:
            count, loc, _ = terms(make(base, values))
        except ValueError as exc:  # an invalid model (e.g. no mass below the schedule's max leverage)
            print("invalid", values, exc, flush=True)
            return 10.0
        j = loc + count - 5.0 * max(0.0, count_ref - count)
        seen.append((j, values, count, loc))
        if len(seen) % 10 == 0:
            best = max(seen, key=lambda r: r[0])
            print(
                f"{len(seen)} runs, best {best[0]:.4f} count {best[2]:.4f} loc {best[3]:+.4f} {best[1]}",
                flush=True,
            )
        return -j

    if args.x0 is None:
        res = optimize.differential_evolution(
            run, bounds, maxiter=args.maxiter, popsize=args.popsize, seed=args.seed, polish=False, tol=1e-6
        )
        x = res.x
    else:
        x = np.array([float(args.x0[k]) for k in names])
    if args.polish:
        res = optimize.minimize(
            run, x, method="Nelder-Mead", bounds=bounds, options={"maxfev": args.polish, "xatol": 1e-3}
        )
        x = res.x if res.fun <= run(x) else x
    values = dict(zip(names, map(float, x), strict=True))
    model = make(base, values)
    # categorical choices, one at a time, on the same training objective
    for field, options in (
        ("entry", ("triangular", "typical", "close")),
        ("exit", ("proportional", "oldest")),
    ):
        scored = {}
        for opt in options:
            c, lo, _ = terms(model.replace(**{field: opt}))
            scored[opt] = lo + c - 5.0 * max(0.0, count_ref - c)
        print(f"{field}: " + ", ".join(f"{k} {v:.4f}" for k, v in scored.items()), flush=True)
        model = model.replace(**{field: max(scored, key=lambda k: scored[k])})
    count, loc, det = terms(model)
    print(f"\nbest: {values}\ncount {count:.4f} (previous {count_ref:.4f}), location {loc:+.4f} {det}")
    print("model dict:", model.to_dict())
    print(f"{len(seen)} evaluations, {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
