"""``python -m heatmap validate``: walk-forward scores of a model against realized liquidations.

Examples
--------
.. code-block:: console

    $ python -m heatmap validate --coinglass-dir ../shared/data/coinglass-btc-4h/derived \\
          --train-until 2025-03-15 --out validation.png
    $ python -m heatmap validate --market bars.csv --liquidations liq.csv --model default
    $ python -m heatmap validate --events bybit_BTCUSDT_liquidations.csv \\
          --candles-1h BTCUSDT_1h.csv --daily-oi bitcoin_open_interest.csv --daily-funding bitcoin_funding_rate.csv \\
          --start 2024-01-01 --end "2024-03-31 23:00"
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from heatmap.cli.inputs import add_input_options
from heatmap.cli.jitnote import note_first_compile

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``validate`` sub-command and return its parser."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "validate",
        help="score a model walk-forward against realized liquidations (vs range x OI and fixed tiers)",
        description=(
            "Walk-forward validation: for every bar, the liquidations predicted from the state before the bar vs "
            "the realized ones, scored by rank (Spearman, Kendall), partial skill beyond the range x OI null, "
            "precision of the top decile and direction accuracy, next to the range x OI null and the fixed-tier "
            "model of common maps."
        ),
    )
    add_input_options(p, title="market (either --coinglass-dir, or --candles [--oi ...] and --liquidations)")
    src = p.add_argument_group("realized liquidations")
    src.add_argument(
        "--market", type=Path, help="the same as --candles with one table holding every Market column"
    )
    src.add_argument("--liquidations", type=Path, help="CSV of per-bar long/short liquidations [quote]")
    src.add_argument(
        "--candles-1h",
        type=Path,
        help="with --coinglass-dir: Binance 1h candles CSV; the engine then runs on the 1h path and is scored per 4h",
    )
    loc = p.add_argument_group(
        "where: location skill of liquidation events (--events with --market, or --candles-1h and --daily-oi)"
    )
    loc.add_argument(
        "--events",
        type=Path,
        help=(
            "liquidation events: a Bybit recording (ts_ms, side, qty, bankruptcy price; converted to liquidation "
            "prices with Bybit's BTCUSDT schedule) or Binance forceOrder files; scores where the map's levels are"
        ),
    )
    loc.add_argument(
        "--daily-oi", type=Path, help="daily open interest (timestamp, open_interest, close_oi [quote])"
    )
    loc.add_argument("--daily-funding", type=Path, help="daily funding (timestamp, close_rate [percent])")
    loc.add_argument(
        "--span",
        type=float,
        default=2.0,
        help="grid half-width factor around the first open (default: %(default)s)",
    )
    loc.add_argument(
        "--floor",
        type=float,
        default=0.01,
        help="share of the uniform null mixed into the map (default: %(default)s)",
    )
    src.add_argument("--start", help="first bar (UTC), e.g. 2024-11-13")
    src.add_argument("--end", help="last bar (UTC), e.g. 2025-05-31 20:00")
    p.add_argument(
        "--model",
        default="calibrated",
        choices=["calibrated", "default"],
        help=(
            "calibrated: the shipped binance-btc assumptions (binance-btc with --candles-1h, binance-btc-4h "
            "otherwise); default: Model() (default: %(default)s)"
        ),
    )
    p.add_argument(
        "--train-until",
        help="score only bars from this time on (out of sample); with --calibrate, calibrate on bars before it",
    )
    p.add_argument(
        "--calibrate", action="store_true", help="calibrate on the bars before --train-until first"
    )
    p.add_argument("--maxiter", type=int, default=4, help="calibration generations (default: %(default)s)")
    p.add_argument("--bins", type=int, default=800, help="price bins (default: 800; 1500 with --events)")
    p.add_argument(
        "--warmup", default="14D", help="leading bars not scored, e.g. 14D or 84 (default: %(default)s)"
    )
    p.add_argument("--n-boot", type=int, default=300, help="bootstrap resamples (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="write the score figure (PNG) here")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    return p


def _load(args: argparse.Namespace) -> tuple[Any, Any]:
    if args.coinglass_dir is not None:
        if args.market is not None or args.candles or args.liquidations is not None:
            raise ValueError(
                "give either --coinglass-dir, or --candles/--market and --liquidations, not both"
            )
        from heatmap.validation.datasets import load_coinglass

        return load_coinglass(args.coinglass_dir, start=args.start, end=args.end)
    if args.market is not None:
        if args.candles:
            raise ValueError("give either --market or --candles, not both")
        args.candles = [str(args.market)]
    if not args.candles or args.liquidations is None:
        raise ValueError("need --coinglass-dir, or --candles (with --oi ...) and --liquidations")
    from heatmap.cli.inputs import market_from_args
    from heatmap.io.liquidations import liquidations_per_bar

    market, _ = market_from_args(args)
    if args.start is not None or args.end is not None:
        market = market.slice(args.start, args.end)
    realized = liquidations_per_bar(_liquidation_bars(args.liquidations), market, outside="drop")
    return market, realized


def _liquidation_bars(path: str) -> Any:
    """``read_liquidation_bars``; a file of single liquidation events gets an error that points to ``--events``."""
    from heatmap.io.liquidations import read_bybit_liquidations, read_liquidation_bars, read_liquidations
    from heatmap.market import MarketDataError

    try:
        return read_liquidation_bars(path)
    except MarketDataError as err:
        for reader in (read_liquidations, read_bybit_liquidations):
            try:
                n = len(reader(path))
            except Exception:  # not an event file either: the first error stands
                continue
            raise MarketDataError(
                f"{path}: --liquidations takes liquidation totals per bar (time, long, short), but this file holds "
                f"{n:,} single liquidation events; give it as --events {path} to score where liquidations happen"
            ) from err
        raise


def _warmup(text: str) -> int | str:
    return int(text) if text.strip().isdigit() else text


def _location(args: argparse.Namespace) -> int:
    from heatmap.engine import estimate
    from heatmap.io.liquidations import read_bybit_liquidations, read_liquidations
    from heatmap.model import Model
    from heatmap.validation.location import location_score
    from heatmap.validation.protocol import _utc, fixed_grid, warmup_bars

    if args.coinglass_dir is not None or args.liquidations is not None or args.calibrate:
        raise ValueError(
            "--events scores locations; it does not combine with --coinglass-dir, --liquidations or --calibrate"
        )
    if args.market is not None:
        from heatmap.io.frames import read_csv_market

        market = read_csv_market(args.market)
        if args.start is not None or args.end is not None:
            market = market.slice(args.start, args.end)
    elif args.candles_1h is not None and args.daily_oi is not None:
        from heatmap.validation.datasets import daily_oi_market

        market = daily_oi_market(
            args.candles_1h, args.daily_oi, funding=args.daily_funding, start=args.start, end=args.end
        )
    else:
        raise ValueError("--events needs the market: --market bars.csv, or --candles-1h with --daily-oi")
    with open(args.events, encoding="utf-8") as fh:
        head = fh.readline().lower()
    if "ts_ms" in head:
        events = read_bybit_liquidations(args.events, price="liquidation")
    else:
        events = read_liquidations(args.events)
    if args.model == "calibrated":
        model = Model.preset("binance-btc")
    else:
        model = Model()
    bins = 1500 if args.bins == 800 else args.bins
    grid = fixed_grid(market, bins=bins, span=args.span)
    warm = market.index[warmup_bars(market, _warmup(args.warmup))]
    start = max(warm, _utc(args.train_until)) if args.train_until else warm
    hm = estimate(market, model, grid=grid, snapshot_every=1)
    rep = location_score(
        hm, events, market, floor=args.floor, start=start, n_boot=args.n_boot, seed=args.seed
    )
    print(
        f"{market}\n{len(events)} events; map before each bar ({args.model} model, {bins} bins); bars from {start}"
    )
    print(rep.to_markdown())
    print(
        "log score: mean log(q_model/q_uniform) per event, per bar then over bars [nats]; CRPS skill vs uniform"
    )
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the validation and print the tables; returns the exit code."""
    if getattr(args, "events", None) is not None:
        return _location(args)
    from heatmap.validation import baselines
    from heatmap.validation.metrics import score
    from heatmap.validation.protocol import _utc, walk_forward

    if args.out is not None:
        from heatmap.cli.render import check_out_folder

        check_out_folder(args.out, "--out")
    market, realized = _load(args)
    engine_market, freq = market, None
    if getattr(args, "candles_1h", None) is not None:
        if args.coinglass_dir is None:
            raise ValueError("--candles-1h needs --coinglass-dir")
        from heatmap.validation.datasets import hourly_market

        engine_market, freq = hourly_market(market, args.candles_1h), market.freq
    warmup = _warmup(args.warmup)
    start = _utc(args.train_until) if args.train_until else None
    if args.calibrate:
        if start is None:
            raise ValueError("--calibrate needs --train-until (the end of the training window)")
        from heatmap.validation.calibrate import calibrate

        cal = calibrate(
            engine_market,
            realized,
            train=(market.index[0], start),
            maxiter=args.maxiter,
            bins=min(args.bins, 500),
            warmup=warmup,
            freq=freq,
            seed=args.seed,
            n_boot=0,
        )
        if not args.json:
            print(cal)
        model = cal.model
    elif args.model == "calibrated":
        from heatmap.calibrated import calibrated_model

        # calibrated for the engine's bar length: the 1h-path entry with --candles-1h, else the 4h one
        model = calibrated_model("binance-btc" if freq is not None else "binance-btc-4h")
    else:
        from heatmap.model import Model

        model = Model()

    note_first_compile()
    frame = walk_forward(
        engine_market, model, realized, bins=args.bins, warmup=warmup, start=start, freq=freq
    )
    index = frame.index
    reports = {"model": score(frame, n_boot=args.n_boot, seed=args.seed)}
    refs = {"range x OI": baselines.range_oi(market), "fixed tiers": baselines.fixed_tiers(market)}
    if freq is not None:
        refs["range x OI, 1h path"] = baselines.range_oi(engine_market, freq=freq)
    for name, pred in refs.items():
        f = frame.copy()
        f["predicted_long"] = pred["long"].reindex(index).to_numpy()
        f["predicted_short"] = pred["short"].reindex(index).to_numpy()
        reports[name] = score(f, n_boot=args.n_boot, seed=args.seed)
    if args.out is not None:
        from heatmap.plot import save_figure
        from heatmap.validation_plot import plot_scores

        fig = plot_scores(reports, title=f"walk-forward scores, {index[0]:%Y-%m-%d} -> {index[-1]:%Y-%m-%d}")
        save_figure(fig, args.out, dpi=110)
    if args.json:
        from heatmap.cli.render import print_json

        print_json(
            {
                "bars": len(frame),
                "start": index[0],
                "end": index[-1],
                "scores": {name: _score_rows(rep) for name, rep in reports.items()},
                "wrote": [] if args.out is None else [str(args.out)],
            }
        )
        return 0
    print(f"scored {len(frame)} bars {index[0]:%Y-%m-%d %H:%M} -> {index[-1]:%Y-%m-%d %H:%M} UTC")
    for name, rep in reports.items():
        print(f"\n## {name}\n{rep.to_markdown()}")
    if args.out is not None:
        print(f"\nwrote {args.out}")
    return 0


def _score_rows(report: Any) -> list[dict[str, Any]]:
    """A ValidationReport's table as records: side, metric, estimate, low, high, n."""
    table = report.to_frame().reset_index()
    table.columns = ["side", "metric", *table.columns[2:]]
    return [
        {k: (v if k in ("side", "metric") else float(v)) for k, v in row.items()}
        for row in table.to_dict("records")
    ]
