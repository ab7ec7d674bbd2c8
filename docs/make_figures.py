"""Figures of ``docs/gallery.md`` and the README, and the API index ``docs/api.md``.

Run from anywhere:

* ``python docs/make_figures.py`` (or ``figures``) writes ``docs/figures/gallery_*.png`` (palette PNGs, ~100–200 KB
  each) and prints their sizes. The heatmap and map figures use real Binance BTCUSDT data (1h candles, 4h open
  interest) from ``../shared/data`` when the folder is present — the data are read in place, never copied — and
  the seeded synthetic market otherwise; the comparisons with the simulated truth always use the synthetic world.
  Figures are drawn with :mod:`heatmap.plot` (no pyplot), with the library's defaults unless a caption says so.
* ``python docs/make_figures.py api`` regenerates ``docs/api.md`` from the public names: the keys of
  ``heatmap._EXPORTS`` and the exports of ``heatmap.io``, ``heatmap.validation`` and ``heatmap.exchanges``.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import io
import sys
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

import heatmap as lh
from heatmap.plot import SIDE_COLORS, format_notional, format_price_axis, new_figure, plot_map
from heatmap.result import Snapshot

DOCS = Path(__file__).resolve().parent
FIGURES = DOCS / "figures"
DATA = DOCS.parent.parent / "shared" / "data"
DPI = 80
SEED = 7
DAYS = 30


def save(fig: Figure, name: str, *, colors: int = 256) -> Path:
    """Write ``fig`` as an adaptive-palette PNG (small files for the repository)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    buf.seek(0)
    img = Image.open(buf).convert("RGB").quantize(colors=colors, method=Image.Quantize.MEDIANCUT)
    path = FIGURES / f"{name}.png"
    img.save(path, optimize=True)
    print(f"{path.relative_to(FIGURES.parent.parent)}  {path.stat().st_size / 1024:.0f} KiB")
    return path


def true_snapshot(world: lh.World, like: Snapshot) -> Snapshot:
    """The simulated world's open positions after the last bar, binned on ``like``'s grid [quote]."""
    pos = world.positions
    edges = like.price_edges
    out = {}
    for side in ("long", "short"):
        p = pos[pos["side"] == side]
        notional = (p["qty"] * p["liquidation_price"]).to_numpy(float)
        out[side], _ = np.histogram(p["liquidation_price"].to_numpy(float), bins=edges, weights=notional)
    return Snapshot(time=like.time, price_edges=edges, long=out["long"], short=out["short"], price=like.price)


def real_market() -> lh.Market | None:
    """Six months of Binance BTCUSDT hourly bars with 4h open interest, or None without ../shared/data."""
    candles = DATA / "binance-btcusdt-1h" / "BTCUSDT_1h_Cleaned.csv"
    if not (candles.is_file() and (DATA / "coinglass-btc-4h" / "derived").is_dir()):
        return None
    from heatmap.validation.datasets import hourly_market, load_coinglass

    m4, _ = load_coinglass(DATA / "coinglass-btc-4h" / "derived", start="2024-12-01", end="2025-05-31 20:00")
    return hourly_market(m4, candles)


def figures() -> None:
    """Write every gallery figure."""
    FIGURES.mkdir(exist_ok=True)
    world = lh.simulate_world(days=DAYS, freq="1h", seed=SEED)
    real = real_market()
    market = real if real is not None else lh.synthetic_market(days=182, freq="1h", seed=SEED)
    print("heatmap figures from", "real BTCUSDT data" if real is not None else "the synthetic market")
    hm = lh.estimate(market, lh.Model(), bins=1000)

    # 1. the default heatmap (README figure): total intensity, window from the leverage law, top clusters
    fig, ax = new_figure((12, 6), dpi=DPI)
    hm.plot(ax=ax)
    save(fig, "gallery_heatmap")

    # 2. the last 30 days, both sides as layers, candles
    n = 24 * 30
    hm30 = lh.Heatmap(
        times=hm.times[-n:],
        price_edges=hm.price_edges,
        long=hm.long[-n:],
        short=hm.short[-n:],
        price=hm.price.iloc[-n:],
        model=hm.model,
        meta=hm.meta,
    )
    fig, ax = new_figure((12, 6), dpi=DPI)
    hm30.plot(ax=ax, side="both", candles=market)
    save(fig, "gallery_heatmap_sides")

    # 3. the liquidation map of the last bar, stacked by leverage bucket
    snap = hm.at(-1)
    fig, ax = new_figure((10, 6.5), dpi=DPI)
    plot_map(snap, ax=ax, within=0.12, layers=snap.by_leverage(market))
    save(fig, "gallery_map")

    # 4. estimate vs the simulated truth at the last bar (synthetic world)
    sim = lh.estimate(world.market, lh.Model(), bins=600)
    ssnap = sim.at(-1)
    truth = true_snapshot(world, ssnap)
    fig, axes = new_figure((11, 5.5), dpi=DPI, ncols=2, sharey=True)
    plot_map(ssnap, ax=axes[0], within=0.2, top=3, cumulative=False)
    axes[0].set_title("estimate (synthetic world)", loc="left")
    plot_map(truth, ax=axes[1], within=0.2, top=3, cumulative=False)
    axes[1].set_title("truth (simulated positions)", loc="left")
    axes[1].set_ylabel("")
    axes[0].get_legend().remove()
    save(fig, "gallery_truth")

    # 5. leverage presets
    names = ["default", "coinglass", "hyperliquid-2025", "bitmex-2019"]
    fig, axes = new_figure((10, 5.5), dpi=DPI, nrows=2, ncols=2)
    for a, name in zip(axes.ravel(), names, strict=True):
        lh.plot_leverage(lh.Leverage.preset(name), ax=a)
        a.set_title(name, loc="left")
    save(fig, "gallery_leverage")

    # 6. the same market under four leverage assumptions (maps at the last bar)
    fig, axes = new_figure((12, 5), dpi=DPI, ncols=4, sharey=True)
    for a, name in zip(axes, names, strict=True):
        s = lh.estimate(market, lh.Model(leverage=lh.Leverage.preset(name)), bins=600).at(-1)
        plot_map(s, ax=a, within=0.2, top=2, cumulative=False)
        a.set_title(name, loc="left")
        a.get_legend().remove()
        a.xaxis.set_major_locator(__import__("matplotlib.ticker").ticker.MaxNLocator(nbins=2))
        a.set_xlabel("")
        if a is not axes[0]:
            a.set_ylabel("")
    fig.supxlabel("liquidation notional per band [USD]", fontsize=10)
    save(fig, "gallery_leverage_maps")

    # 7. totals over time per side (a reusable-helper example: format_notional on an axis)
    fig, ax = new_figure((10, 3.2), dpi=DPI)
    tot = hm.total
    for side in ("long", "short"):
        ax.plot(tot.index, tot[side], color=SIDE_COLORS[side], label=f"{side} notional on the map")
    ax.yaxis.set_major_formatter(lambda v, _p=None: format_notional(v).replace("$", r"\$"))
    ax2 = ax.twinx()
    ax2.plot(hm.price.index, hm.price.to_numpy(), color="black", lw=0.8, label="price")
    format_price_axis(ax2)
    ax.legend(loc="upper left", fontsize=8)
    save(fig, "gallery_totals")


# ------------------------------------------------------------------------------------------------ API index
#: module -> the document that explains it (first existing one is linked)
MODULE_DOCS: dict[str, tuple[str, ...]] = {
    "heatmap.margin": ("margin.md",),
    "heatmap.exchanges": ("margin.md",),
    "heatmap.market": ("data.md",),
    "heatmap.io": ("data.md",),
    "heatmap.synthetic": ("synthetic.md",),
    "heatmap.leverage": ("leverage.md",),
    "heatmap.model": ("methodology.md", "architecture.md"),
    "heatmap.grid": ("methodology.md", "architecture.md"),
    "heatmap.engine": ("methodology.md", "architecture.md"),
    "heatmap.result": ("architecture.md",),
    "heatmap.clusters": ("analytics.md",),
    "heatmap.density": ("analytics.md",),
    "heatmap.risk": ("analytics.md",),
    "heatmap.cascade": ("analytics.md",),
    "heatmap.export": ("analytics.md",),
    "heatmap.plot": ("gallery.md",),
    "heatmap.aggregate": ("performance.md", "architecture.md"),
    "heatmap.interactive": ("gallery.md",),
    "heatmap.validation": ("validation.md",),
}


def _doc_for(module: str) -> str:
    for prefix in sorted(MODULE_DOCS, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            for name in MODULE_DOCS[prefix]:
                if (DOCS / name).is_file():
                    return name
    return "architecture.md"


def _summary(obj: object) -> str:
    doc = inspect.getdoc(obj) or ""
    first = doc.strip().split("\n\n")[0].replace("\n", " ").strip()
    return first.replace("|", "\\|") or "(no docstring)"


def _rows(prefix: str, names: list[str], resolve: dict[str, str] | None) -> list[str]:
    rows = []
    for name in names:
        module_name = resolve[name] if resolve is not None else prefix
        try:
            obj = getattr(importlib.import_module(module_name), name)
        except (ImportError, AttributeError) as exc:
            rows.append(f"| `{prefix}.{name}` | *not importable: {exc}* | |")
            continue
        where = getattr(obj, "__module__", None) or module_name
        if inspect.ismodule(obj):
            where = obj.__name__
        doc = _doc_for(where if where.startswith("heatmap") else module_name)
        rows.append(f"| `{prefix}.{name}` | {_summary(obj)} | [{doc}]({doc}) |")
    return rows


def api() -> Path:
    """Regenerate ``docs/api.md``."""
    import heatmap
    import heatmap.exchanges
    import heatmap.io
    import heatmap.validation

    lines = [
        "# API index",
        "",
        "Every public name, one line each, with the document that explains it. Generated by "
        "`python docs/make_figures.py api` from the package itself (do not edit by hand).",
        "",
    ]
    sections: list[tuple[str, str, list[str], dict[str, str] | None]] = [
        ("`heatmap`", "heatmap", sorted(heatmap._EXPORTS), heatmap._EXPORTS),
        ("`heatmap.io` — readers", "heatmap.io", sorted(heatmap.io._EXPORTS), heatmap.io._EXPORTS),
        ("`heatmap.validation`", "heatmap.validation", sorted(heatmap.validation.__all__), None),
        (
            "`heatmap.exchanges` — margin schedules",
            "heatmap.exchanges",
            sorted(heatmap.exchanges.__all__),
            None,
        ),
    ]
    for title, prefix, names, resolve in sections:
        lines += [f"## {title}", "", "| name | what | docs |", "|---|---|---|"]
        lines += _rows(prefix, names, resolve)
        lines.append("")
    lines += [
        "## Command line",
        "",
        "`python -m heatmap <command> --help` documents each command: "
        + ", ".join(f"`{c}`" for c in _commands())
        + ".",
        "",
    ]
    path = DOCS / "api.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {path}")
    return path


def _commands() -> list[str]:
    from heatmap.cli import _COMMANDS

    return [c for c in _COMMANDS if importlib.util.find_spec(f"heatmap.cli.{c}") is not None]


def main(argv: list[str]) -> None:
    what = argv[0] if argv else "figures"
    if what not in ("figures", "api", "all"):
        raise SystemExit(f"usage: python docs/make_figures.py [figures|api|all], got {what!r}")
    if what in ("figures", "all"):
        figures()
    if what in ("api", "all"):
        api()


if __name__ == "__main__":
    main(sys.argv[1:])
