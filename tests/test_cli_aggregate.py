"""``python -m heatmap aggregate``: several venues on one map, from synthetic tables and Binance-format files."""

from __future__ import annotations

import argparse
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from heatmap.cli import main
from heatmap.cli.aggregate import VenueSpec, binance_folder_files, parse_venue, read_venue
from heatmap.synthetic import synthetic_market

FIX = Path(__file__).resolve().parent / "fixtures" / "render"
BINANCE_FILES = (
    "BTCUSDT-1h-2025-01-01.csv",
    "BTCUSDT-metrics-2025-01-01.csv",
    "BTCUSDT-fundingRate-2025-01.csv",
    "BTCUSDT-markPriceKlines-1h-2025-01-01.csv",
)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def png_colours(path: Path) -> int:
    """Number of distinct RGB colours of a PNG (a blank or one-colour figure has very few)."""
    from matplotlib.image import imread

    rgb = (imread(path)[..., :3] * 255).astype(np.uint8).reshape(-1, 3)
    return len(np.unique(rgb, axis=0))


def write_table(
    path: Path, *, seed: int, start: str = "2025-01-01", days: float = 2, scale: float = 1.0
) -> Path:
    """A synthetic market written as a generic CSV table (epoch-ms times) or Parquet (datetime column)."""
    m = synthetic_market(days=days, seed=seed)
    frame = m.frame.copy()
    frame.index = frame.index - frame.index[0] + pd.Timestamp(start, tz="UTC")
    frame[["open", "high", "low", "close"]] *= scale
    table = frame.reset_index()
    if path.suffix == ".parquet":
        table.to_parquet(path, index=False)
    else:
        table["time"] = table["time"].astype("int64") // 10**6  # epoch milliseconds
        table.to_csv(path, index=False)
    return path


@pytest.fixture
def binance_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "binance"
    folder.mkdir()
    for name in BINANCE_FILES:
        shutil.copy(FIX / name, folder / name)
    (folder / "BTCUSDT-1h-2025-01-01.zip.CHECKSUM").write_text("0" * 64)  # ignored: not a data file
    (folder / "notes.txt").write_text("downloaded from data.binance.vision")
    return folder


def aggregate(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "heatmap", "aggregate", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_binance_folder_and_table_to_png(tmp_path, binance_dir):
    """The real entry point: a Binance public-data folder beside a CSV table of another venue."""
    table = write_table(tmp_path / "bybit.csv", seed=3, scale=1.5)  # ~90,000 like the Binance fixture
    out, map_out = tmp_path / "agg.png", tmp_path / "map.png"
    r = aggregate(
        "--venue", f"binance={binance_dir}", "--venue", f"bybit={table}:coinglass-like",
        "--bins", "200", "--out", out, "--size", "6", "3", "--dpi", "50", "--clusters", "--map-out", map_out,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert png_size(out) == (300, 150)
    assert png_size(map_out) == (400, 350) and png_colours(map_out) > 20
    assert f"wrote {map_out}" in r.stdout
    assert png_colours(out) > 50
    assert "aggregate of 2 venues: 48 snapshots x 200 bins" in r.stdout
    lines = r.stdout.splitlines()
    binance = next(line for line in lines if line.startswith("  binance: "))
    bybit = next(line for line in lines if line.startswith("  bybit: "))
    assert "BTCUSDT, 48 bars of 1h" in binance and "model default" in binance
    assert "48 bars of 1h" in bybit and "model coinglass-like" in bybit
    assert "of the total" in binance and "(binance); aggregate liquidation notional" in r.stdout
    assert "#1" in r.stdout and f"wrote {out}" in r.stdout


def test_summary_matches_the_library(tmp_path):
    """What the command prints is what estimate_many gives for the same markets and models."""
    from heatmap.aggregate import estimate_many
    from heatmap.exchanges import get
    from heatmap.model import Model
    from heatmap.plot import format_notional

    a = write_table(tmp_path / "a.csv", seed=1)
    b = write_table(tmp_path / "b.parquet", seed=2, scale=0.5)
    out = tmp_path / "x.png"
    args = ["aggregate", "--venue", f"a={a}", "--venue", f"b={b}:coinglass-like", "--bins", "150"]
    args += ["--split-strength", "0.8", "--schedule", "b=bybit:BTCUSDT"]
    args += ["--out", str(out), "--dpi", "20", "--size", "4", "2"]
    code, stdout = _main(args)
    assert code == 0
    assert "model coinglass-like, schedule bybit BTCUSDT; " in stdout and "model default; " in stdout
    markets = {
        "a": read_venue(VenueSpec("a", str(a))),
        "b": read_venue(VenueSpec("b", str(b))),
    }
    models = {
        "a": Model(split_strength=0.8),
        "b": Model.preset("coinglass-like").replace(split_strength=0.8, schedule=get("bybit", "BTCUSDT")),
    }
    multi = estimate_many({n: (markets[n], models[n]) for n in markets}, bins=150)
    last = multi.total.at(-1).total
    assert f"long {format_notional(last['long'])}, short {format_notional(last['short'])}" in stdout
    for name in ("a", "b"):
        layer = multi.layers[name].total.iloc[-1]
        share = multi.share()[name].iloc[-1]
        expected = (
            f"long {format_notional(float(layer['long']))}, short {format_notional(float(layer['short']))}"
        )
        assert f"{expected} ({share:.1%} of the total)" in stdout
    # the per-venue preset and the shared override matter: other models print other totals
    multi_default = estimate_many({n: (markets[n], None) for n in markets}, bins=150)
    other = multi_default.total.at(-1).total
    assert format_notional(other["long"]) != format_notional(last["long"]) or format_notional(
        other["short"]
    ) != format_notional(last["short"])


def _main(args: list[str]) -> tuple[int, str]:
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(args)
    return code, buf.getvalue()


@pytest.mark.parametrize(
    ("kind", "size"), [("total", (600, 300)), ("stacked", (600, 400)), ("separate", (600, 450))]
)
def test_kinds_write_distinct_figures(tmp_path, kind, size):
    a = write_table(tmp_path / "a.csv", seed=1)
    b = write_table(tmp_path / "b.csv", seed=2, scale=1.2)
    out = tmp_path / f"{kind}.png"
    code, stdout = _main(
        ["aggregate", "--venue", f"a={a}", "--venue", f"b={b}", "--kind", kind, "--bins", "120",
         "--dpi", "50", "--out", str(out)]
    )  # fmt: skip
    assert code == 0 and f"wrote {out}" in stdout
    # default sizes: 12 x 6, 12 x 8 with the share strip, 12 x 3 per panel (two venues and the aggregate)
    assert png_size(out) == size
    assert png_colours(out) > 50


def test_stacked_and_separate_draw_what_they_say(tmp_path):
    """Stacked adds a share strip aligned with the heatmap; separate has one panel per venue and the sum."""
    from heatmap.aggregate import estimate_many
    from heatmap.cli.aggregate import render_multi

    a = synthetic_market(days=2, seed=1)
    b = synthetic_market(days=2, seed=2)
    multi = estimate_many({"a": a, "b": b}, bins=100)
    shares = multi.share()
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    calls: list[object] = []

    import heatmap.plot as hplot

    original = hplot.save_figure

    def spy(obj, path, **kwargs):
        calls.append(obj)
        return original(obj, path, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(hplot, "save_figure", spy)
        render_multi(multi, tmp_path / "s.png", kind="stacked", dpi=30)
        render_multi(multi, tmp_path / "p.png", kind="separate", dpi=30, side="long")
    stacked, separate = calls
    top, strip = stacked.axes[0], stacked.axes[1]
    assert top.get_title(loc="left").startswith("aggregate of a, b: ")
    assert strip.get_ylim() == (0.0, 1.0)
    # the strip spans the heatmap's columns exactly (same x range and same horizontal extent on the figure)
    assert strip.get_xlim() == top.get_xlim()
    assert strip.get_position().x0 == pytest.approx(top.get_position().x0)
    assert strip.get_position().width == pytest.approx(top.get_position().width)
    heat_axes = [ax for ax in separate.axes if ax.get_title(loc="left")]
    assert [ax.get_title(loc="left").split(":")[0] for ax in heat_axes] == ["a", "b", "aggregate"]
    norms = {(m.norm.vmin, m.norm.vmax) for ax in heat_axes for m in ax.images if m.get_label() == "long"}
    assert len(norms) == 1 and len(heat_axes) == 3  # one colour scale for every panel
    with pytest.raises(ValueError, match="kind must be"):
        render_multi(multi, tmp_path / "x.png", kind="pie")  # type: ignore[arg-type]


def test_window_and_partial_coverage(tmp_path):
    """--from/--to apply to every venue; a venue without data at the last time says so."""
    a = write_table(tmp_path / "a.csv", seed=1, start="2025-01-01", days=3)
    early = write_table(tmp_path / "early.csv", seed=2, start="2024-12-31", days=2)  # ends 2025-01-02 00:00
    out = tmp_path / "x.png"
    code, stdout = _main(
        ["aggregate", "--venue", f"a={a}", "--venue", f"early={early}", "--from", "2025-01-01",
         "--to", "2025-01-02T12:00Z", "--bins", "100", "--dpi", "20", "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    assert "  a: market, 37 bars of 1h" in stdout
    assert "  early: market, 24 bars of 1h" in stdout
    early_line = next(line for line in stdout.splitlines() if line.startswith("  early: "))
    assert early_line.endswith("no data at the last time")


def test_html_of_the_aggregate(tmp_path):
    pytest.importorskip("plotly")
    from heatmap.interactive import read_html_data

    a = write_table(tmp_path / "a.csv", seed=1)
    b = write_table(tmp_path / "b.csv", seed=2)
    html = tmp_path / "agg.html"
    code, stdout = _main(
        ["aggregate", "--venue", f"a={a}", "--venue", f"b={b}", "--bins", "80", "--dpi", "20",
         "--out", str(tmp_path / "x.png"), "--html", str(html)]
    )  # fmt: skip
    assert code == 0 and f"wrote {html}" in stdout
    assert html.stat().st_size > 10_000
    data = read_html_data(html)  # the embedded heatmap data reads back, with the leverage layers
    assert data["buckets"] == ["<=10x", "10-25x", "25-50x", "50-100x", ">100x"]
    levels = sum(data["layers"][f"lev {b}"] for b in data["buckets"])
    np.testing.assert_allclose(levels, data["layers"]["total"], rtol=0.02, atol=1e-6 * data["hi"])
    for b in data["buckets"]:  # each layer on its own colour limits
        lo, hi = data["limits"][f"lev {b}"]
        assert 0 <= lo < hi <= data["layers"][f"lev {b}"].max() * 1.01


def test_aggregate_leverage_split_adds_up_per_venue():
    """The aggregate's buckets sum to its rows exactly; a venue alone gives that venue's own split."""
    import heatmap as lh
    from heatmap.layers import aggregate_leverage_layers_over_time, leverage_layers_over_time

    a = synthetic_market(days=3, seed=1)
    b = synthetic_market(days=2, seed=2)  # ends a day earlier: zero in the aggregate's last day
    models = {"a": lh.Model(), "b": lh.Model.preset("coinglass-like")}
    multi = lh.estimate_many({"a": (a, models["a"]), "b": (b, models["b"])}, bins=120)
    rows = np.array([0, 30, len(multi.total.times) - 1])
    split = aggregate_leverage_layers_over_time(multi, {"a": a, "b": b}, rows)
    for s in ("long", "short"):
        np.testing.assert_allclose(split[s].sum(axis=0), getattr(multi.total, s)[rows], rtol=1e-5, atol=1e-3)
    alone = lh.estimate_many({"a": (a, models["a"])}, bins=120)
    own = leverage_layers_over_time(alone.layers["a"], a, rows)
    mine = aggregate_leverage_layers_over_time(alone, {"a": a}, rows)
    np.testing.assert_allclose(mine["long"], own["long"], rtol=1e-6, atol=1e-3)
    with pytest.raises(ValueError, match=r"no market for the layers \['b'\]"):
        aggregate_leverage_layers_over_time(multi, {"a": a}, rows)


@pytest.mark.parametrize(
    ("venues", "extra", "message"),
    [
        (["binance"], [], "expected NAME=SOURCE[:MODEL]"),
        (["=a.csv"], [], "name '' must be letters"),
        (["a b=a.csv"], [], "name 'a b' must be letters"),
        (["a=a.csv:nope"], [], "unknown model preset 'nope'"),
        (["a=missing.csv"], [], "--venue a: path: no such file 'missing.csv'"),
        (["a=missing.parquet"], [], "--venue a: no such file"),
        (["a=a.csv", "a=b.csv"], [], "the name 'a' is given twice"),
        (["a=a.csv", "late=late.csv"], [], "the venues share no time"),
        (["a=a.csv", "next=next.csv"], [], "the venues share no time"),
        (["a=a.csv"], ["--from", "2030-01-01"], "--venue a: the window --from 2030-01-01 holds 0 bars"),
        (["a=bad.csv"], [], "--venue a: bad.csv: missing columns ['open', 'high', 'low']"),
        (["a=empty"], [], "has no Binance klines files"),
        (["a=a.csv"], ["--schedule", "a=bybit"], "--schedule 'a=bybit': expected NAME=EXCHANGE:SYMBOL"),
        (["a=a.csv"], ["--schedule", "b=bybit:BTCUSDT"], "no --venue named 'b'; venues are ['a']"),
        (
            ["a=a.csv"],
            ["--schedule", "a=bybit:BTCUSDT", "--schedule", "a=bybit:BTCUSDT"],
            "'a' is given twice",
        ),
        (["a=a.csv"], ["--schedule", "a=okx:BTCUSDT"], "--schedule 'a=okx:BTCUSDT': venue: got 'okx'"),
        (["a=a.csv"], ["--schedule", "a=bybit:DOGEUSDT"], "no schedule for 'DOGEUSDT' on bybit"),
        (["a=a.csv"], ["--oi-unit", "usd"], "--oi-unit 'usd': expected base, quote, NAME=base or NAME=quote"),
        (["a=a.csv"], ["--oi-unit", "=quote"], "--oi-unit '=quote': expected base"),
        (["a=a.csv"], ["--oi-unit", "b=quote"], "--oi-unit 'b=quote': no --venue named 'b'"),
        (["a=a.csv"], ["--oi-unit", "a=quote", "--oi-unit", "a=base"], "--oi-unit: venue 'a' is given twice"),
        (["a=empty"], ["--oi-unit", "a=quote"], "a is a Binance folder, whose metrics are in coins"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, monkeypatch, venues, extra, message):
    monkeypatch.chdir(tmp_path)
    write_table(tmp_path / "a.csv", seed=1)
    write_table(tmp_path / "b.csv", seed=2)
    write_table(tmp_path / "late.csv", seed=2, start="2025-02-01")
    write_table(tmp_path / "next.csv", seed=2, start="2025-01-03")  # opens when the last bar of a.csv closes
    pd.DataFrame({"time": [1, 2], "close": [1.0, 2.0]}).to_csv(tmp_path / "bad.csv", index=False)
    (tmp_path / "empty").mkdir()
    out = tmp_path / "x.png"
    args = ["aggregate"]
    for v in venues:
        args += ["--venue", v]
    code = main([*args, *extra, "--bins", "50", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert message in lines[0]
    assert not out.exists()


def test_missing_output_folder_and_argparse_errors(tmp_path, capsys):
    a = write_table(tmp_path / "a.csv", seed=1)
    assert main(["aggregate", "--venue", f"a={a}", "--out", str(tmp_path / "no" / "x.png")]) == 2
    assert "--out: cannot write" in capsys.readouterr().err
    assert main(["aggregate", "--venue", f"a={a}", "--html", str(tmp_path / "no" / "x.html")]) == 2
    assert "--html: cannot write" in capsys.readouterr().err
    assert main(["aggregate", "--venue", f"a={a}", "--map-out", str(tmp_path / "no" / "m.png")]) == 2
    assert "--map-out: cannot write" in capsys.readouterr().err
    for bad in (["--kind", "pie"], ["--model", "nope"], []):
        with pytest.raises(SystemExit) as info:
            main(["aggregate", *(["--venue", f"a={a}"] if bad else []), *bad])
        assert info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'pie'" in err and "invalid choice: 'nope'" in err
    assert "the following arguments are required: --venue" in err


def test_parse_venue():
    assert parse_venue("binance=data/binance/") == VenueSpec("binance", "data/binance/")
    assert parse_venue("bybit=b.csv:binance-btc-4h") == VenueSpec("bybit", "b.csv", "binance-btc-4h")
    assert parse_venue("eth=eth-*.csv") == VenueSpec("eth", "eth-*.csv")
    # a drive letter or a path after the colon is not a model
    assert parse_venue(r"a=C:\data\bars.csv") == VenueSpec("a", r"C:\data\bars.csv")
    assert parse_venue("a=x:/data/bars.csv") == VenueSpec("a", "x:/data/bars.csv")
    with pytest.raises(ValueError, match="unknown model preset 'b'"):
        parse_venue("a=x:b")
    with pytest.raises(ValueError, match="empty SOURCE"):
        parse_venue("a=")


def test_parse_venue_keeps_an_existing_path_with_a_colon(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bars:default").write_text("x")
    assert parse_venue("a=bars:default") == VenueSpec("a", "bars:default")


def test_binance_folder_files(tmp_path, binance_dir):
    files = binance_folder_files(binance_dir)
    assert {k: [p.name for p in v] for k, v in files.items()} == {
        "klines": ["BTCUSDT-1h-2025-01-01.csv"],
        "metrics": ["BTCUSDT-metrics-2025-01-01.csv"],
        "funding": ["BTCUSDT-fundingRate-2025-01.csv"],
        "mark": ["BTCUSDT-markPriceKlines-1h-2025-01-01.csv"],
    }
    market = read_venue(VenueSpec("binance", str(binance_dir)))
    assert market.symbol == "BTCUSDT" and market.venue == "binance" and len(market) == 48
    assert market.has_funding and market.has_mark
    shutil.copy(FIX / "BTCUSDT-1h-2025-01-01.csv", binance_dir / "BTCUSDT-4h-2025-01-01.csv")
    with pytest.raises(ValueError, match=r"several intervals \['1h', '4h'\]"):
        binance_folder_files(binance_dir)
    (binance_dir / "BTCUSDT-4h-2025-01-01.csv").unlink()
    shutil.copy(FIX / "BTCUSDT-metrics-2025-01-01.csv", binance_dir / "ETHUSDT-metrics-2025-01-01.csv")
    with pytest.raises(ValueError, match=r"several symbols \['BTCUSDT', 'ETHUSDT'\]"):
        binance_folder_files(binance_dir)
    for path in binance_dir.glob("*metrics*"):
        path.unlink()
    with pytest.raises(ValueError, match="no Binance metrics files"):
        binance_folder_files(binance_dir)


def test_parquet_and_csv_tables_read_alike(tmp_path):
    csv = write_table(tmp_path / "a.csv", seed=4)
    parquet = write_table(tmp_path / "a.parquet", seed=4)
    from_csv = read_venue(VenueSpec("a", str(csv)))
    from_parquet = read_venue(VenueSpec("a", str(parquet)))
    pd.testing.assert_frame_equal(from_csv.frame, from_parquet.frame, check_freq=False)
    # a datetime index works too; epoch numbers in Parquet are refused with the column named
    indexed = tmp_path / "i.parquet"
    from_csv.frame.to_parquet(indexed)
    pd.testing.assert_frame_equal(
        read_venue(VenueSpec("i", str(indexed))).frame, from_csv.frame, check_freq=False
    )
    numbers = tmp_path / "n.parquet"
    pd.read_csv(csv).to_parquet(numbers, index=False)
    with pytest.raises(ValueError, match="--venue n: time column 'time' holds int64, expected datetimes"):
        read_venue(VenueSpec("n", str(numbers)))


def test_help_documents_venues_kinds_and_exit_status():
    r = subprocess.run(
        [sys.executable, "-m", "heatmap", "aggregate", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 0
    for text in (
        "--venue NAME=SOURCE[:MODEL]",
        "metrics",
        "--kind",
        "stacked",
        "separate",
        "examples:",
        "exit status",
    ):
        assert text in r.stdout
    top = subprocess.run(
        [sys.executable, "-m", "heatmap", "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    assert "aggregate" in top.stdout


def test_namespace_models_follow_the_preset_and_overrides():
    from heatmap.cli.render import build_model
    from heatmap.leverage import Leverage
    from heatmap.model import Model

    ns = argparse.Namespace(model="default", leverage=None, side_split=None, split_strength=None)
    assert build_model(ns) == Model()
    assert build_model(ns, "coinglass-like") == Model.preset("coinglass-like")
    ns = argparse.Namespace(model="coinglass-like", leverage="default", side_split="even", split_strength=0.2)
    assert build_model(ns) == Model.preset("coinglass-like").replace(
        leverage=Leverage.preset("default"), side_split="even", split_strength=0.2
    )


def test_common_time_needs_one_shared_instant():
    from heatmap.cli.aggregate import _check_common_time

    a = synthetic_market(
        days=2, seed=1
    )  # bars open 2025-01-01 00:00 ... 2025-01-02 23:00, last close 01-03 00:00
    frame = synthetic_market(days=1, seed=2).frame
    touching = frame.set_axis(frame.index + (a.end - frame.index[0]))
    overlapping = frame.set_axis(touching.index - pd.Timedelta("1h"))
    from heatmap.market import Market

    _check_common_time({"a": a, "b": Market.from_frame(overlapping)})  # the last bar of a is shared
    with pytest.raises(ValueError, match="the venues share no time: a 2025-01-01 00:00:00"):
        _check_common_time({"a": a, "b": Market.from_frame(touching)})


def test_workers_give_the_same_map(tmp_path):
    """--workers 2 estimates the venues in a process pool; the summary and the figure are the same."""
    a = write_table(tmp_path / "a.csv", seed=1)
    b = write_table(tmp_path / "b.csv", seed=2)
    outputs = []
    for workers in ("1", "2"):
        out = tmp_path / f"w{workers}.png"
        code, stdout = _main(
            ["aggregate", "--venue", f"a={a}", "--venue", f"b={b}", "--bins", "100", "--dpi", "30",
             "--workers", workers, "--out", str(out)]
        )  # fmt: skip
        assert code == 0
        outputs.append((stdout.replace(str(out), "OUT"), out.read_bytes()))
    assert outputs[0][0] == outputs[1][0]
    assert outputs[0][1] == outputs[1][1]


def test_venue_inputs_wire_presets_overrides_and_schedules(tmp_path):
    from heatmap.cli import build_parser
    from heatmap.cli.aggregate import venue_inputs
    from heatmap.exchanges import get
    from heatmap.leverage import Leverage
    from heatmap.model import Model

    a = write_table(tmp_path / "a.csv", seed=1, days=3)
    b = write_table(tmp_path / "b.csv", seed=2)
    args = build_parser().parse_args(
        ["aggregate", "--venue", f"a={a}", "--venue", f"b={b}:coinglass-like", "--model", "binance-btc",
         "--leverage", "institutional", "--schedule", "b=bybit:BTCUSDT", "--from", "2025-01-02"]
    )  # fmt: skip
    specs, markets, models = venue_inputs(args)
    assert [s.name for s in specs] == ["a", "b"]
    assert len(markets["a"]) == 48 and len(markets["b"]) == 24  # the window applies to every venue
    assert models["a"] == Model.preset("binance-btc").replace(leverage=Leverage.preset("institutional"))
    assert models["b"] == Model.preset("coinglass-like").replace(
        leverage=Leverage.preset("institutional"), schedule=get("bybit", "BTCUSDT")
    )


@given(
    name=st.from_regex(r"[A-Za-z0-9._-]{1,12}", fullmatch=True),
    source=st.from_regex(r"(/[a-z0-9_]{1,8}){1,3}(\.csv|\.parquet|/)", fullmatch=True),
    model=st.none() | st.sampled_from(["default", "coinglass-like", "binance-btc", "binance-btc-4h"]),
)
def test_parse_venue_round_trip(name, source, model):
    text = f"{name}={source}" + ("" if model is None else f":{model}")
    assert parse_venue(text) == VenueSpec(name, source, model)


def test_open_interest_unit_per_venue(tmp_path):
    """A venue whose table holds open interest in USD reads like the same table in coins."""
    from heatmap.cli import build_parser
    from heatmap.cli.aggregate import parse_oi_units, venue_inputs

    coins = write_table(tmp_path / "coins.csv", seed=5)
    table = pd.read_csv(coins)
    table["open_interest"] *= table["close"]  # USD
    usd = tmp_path / "usd.csv"
    table.to_csv(usd, index=False)
    args = build_parser().parse_args(
        ["aggregate", "--venue", f"c={coins}", "--venue", f"u={usd}", "--oi-unit", "u=quote"]
    )
    _, markets, _ = venue_inputs(args)
    np.testing.assert_allclose(markets["u"].open_interest, markets["c"].open_interest, rtol=1e-12)
    specs = [VenueSpec("a", "a.csv"), VenueSpec("b", "b.csv")]
    assert parse_oi_units([], specs=specs) == {"a": "base", "b": "base"}
    assert parse_oi_units(["quote"], specs=specs) == {"a": "quote", "b": "quote"}
    assert parse_oi_units(["a=quote"], specs=specs) == {"a": "quote", "b": "base"}
    assert parse_oi_units(["b=base", "quote"], specs=specs) == {"a": "quote", "b": "base"}


def test_real_binance_usdm_and_coinm_open_interest(tmp_path):
    """Binance BTC 4h: USDⓈ-M (coins) and COIN-M (USD, inverse schedule) open interest as two venues."""
    data = Path(__file__).resolve().parents[2] / "shared" / "data" / "coinglass-btc-4h" / "derived"
    if not data.is_dir():
        pytest.skip("../shared/data is absent")
    price = pd.read_csv(data / "price_binance_btcusdt_4h.csv")[["time", "open", "high", "low", "close"]]
    for name, file in (("usdm", "oi_binance_stablecoinmargined_btc_4h_coinunits.csv"),
                       ("coinm", "oi_binance_coinmargined_btc_4h_usd.csv")):  # fmt: skip
        oi = pd.read_csv(data / file)[["time", "close"]].rename(columns={"close": "open_interest"})
        price.merge(oi, on="time").to_csv(tmp_path / f"{name}.csv", index=False)
    out = tmp_path / "agg.png"
    code, stdout = _main(
        ["aggregate", "--venue", f"usdm={tmp_path / 'usdm.csv'}", "--venue", f"coinm={tmp_path / 'coinm.csv'}",
         "--oi-unit", "coinm=quote", "--schedule", "coinm=binance-coinm:BTCUSD_PERP", "--from", "2025-04-01",
         "--bins", "300", "--kind", "stacked", "--dpi", "40", "--out", str(out)]
    )  # fmt: skip
    assert code == 0 and png_colours(out) > 50
    usdm = pd.read_csv(tmp_path / "usdm.csv").iloc[-1]
    coinm = pd.read_csv(tmp_path / "coinm.csv").iloc[-1]
    oi_share = coinm["open_interest"] / (coinm["open_interest"] + usdm["open_interest"] * usdm["close"])
    line = next(line for line in stdout.splitlines() if line.startswith("  coinm: "))
    assert "schedule binance-coinm BTCUSD_PERP" in line
    share = float(line.rsplit("(", 1)[1].split("%")[0]) / 100
    # the same model on both venues: each venue's share of liquidation notional follows its share of open interest
    assert 0.5 * oi_share < share < 2 * oi_share


def test_open_interest_and_funding_files_per_venue(tmp_path, binance_dir):
    """--oi/--funding NAME=FILE give a candles table the columns it lacks; the venue equals the full table."""
    from heatmap.cli import build_parser
    from heatmap.cli.aggregate import parse_venue_files, venue_inputs

    full = write_table(tmp_path / "full.csv", seed=6)
    table = pd.read_csv(full)
    table.drop(columns=["open_interest", "funding_rate"]).to_csv(tmp_path / "candles.csv", index=False)
    oi = table[["time", "open_interest"]].copy()
    oi["time"] += 3_600_000  # an observation of open interest is stamped at the bar's close
    oi.to_csv(tmp_path / "oi.csv", index=False)
    table[["time", "funding_rate"]].to_csv(tmp_path / "funding.csv", index=False)
    common = ["aggregate", "--venue", f"full={full}", "--venue", f"split={tmp_path / 'candles.csv'}"]
    args = build_parser().parse_args(
        [*common, "--oi", f"split={tmp_path / 'oi.csv'}", "--funding", f"split={tmp_path / 'funding.csv'}"]
    )
    _, markets, _ = venue_inputs(args)
    pd.testing.assert_frame_equal(markets["split"].frame, markets["full"].frame, check_like=True)
    # without the open-interest file the candles alone are refused, naming the venue
    with pytest.raises(ValueError, match="--venue split: .*open_interest"):
        venue_inputs(build_parser().parse_args(common))
    with pytest.raises(ValueError, match=r"--oi 'nope=oi.csv': no --venue named 'nope'"):
        parse_venue_files(["nope=oi.csv"], flag="oi", names=["full", "split"])
    with pytest.raises(ValueError, match="expected NAME=FILE"):
        parse_venue_files(["oi.csv"], flag="oi", names=["full"])
    folder = build_parser().parse_args(
        ["aggregate", "--venue", f"b={binance_dir}", "--oi", f"b={tmp_path / 'oi.csv'}"]
    )
    with pytest.raises(ValueError, match="--oi b=...: .* is a Binance folder, which carries its own"):
        venue_inputs(folder)
    out = tmp_path / "agg.png"
    run = aggregate(*common[1:], "--oi", f"split={tmp_path / 'oi.csv'}", "--out", out, "--bins", "120")
    assert run.returncode == 0, run.stderr
    assert out.stat().st_size > 0 and "split:" in run.stdout
