"""``python -m heatmap render`` as a subprocess on Binance-format and generic fixture files."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

FIX = Path(__file__).resolve().parent / "fixtures" / "render"
KLINES = FIX / "BTCUSDT-1h-2025-01-01.csv"
METRICS = FIX / "BTCUSDT-metrics-2025-01-01.csv"
FUNDING = FIX / "BTCUSDT-fundingRate-2025-01.csv"
MARK = FIX / "BTCUSDT-markPriceKlines-1h-2025-01-01.csv"


def render(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "heatmap", "render", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        check=False,
    )


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_binance_files_to_png_and_map(tmp_path):
    out, map_out = tmp_path / "hm.png", tmp_path / "map.png"
    r = render(
        "--klines", KLINES, "--metrics", METRICS, "--funding", FUNDING, "--mark", MARK,
        "--bins", "200", "--out", out, "--map-out", map_out, "--size", "6", "3", "--dpi", "50",
        "--clusters", "--progress", "off",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert png_size(out) == (300, 150)
    assert png_size(map_out) == (400, 350)
    assert "BTCUSDT: 48 bars of 1h" in r.stdout
    assert "200 bins" in r.stdout and f"wrote {out}" in r.stdout
    assert "#1" in r.stdout  # the largest cluster is listed


def test_generic_csv_with_window_and_options(tmp_path):
    out = tmp_path / "week.png"
    r = render(
        "--csv", FIX / "bars.csv", "--from", "2025-01-01T12:00Z", "--to", "2025-01-02", "--bins", "150",
        "--side", "long", "--norm", "power", "--leverage", "coinglass", "--side-split", "even",
        "--snapshot-every", "3", "--engine", "ledger", "--out", out, "--dpi", "40", "--progress", "on",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert png_size(out) == (480, 240)
    # --to 2025-01-02 is that whole day: 12 bars of the 1st and 24 of the 2nd
    assert "market: 36 bars of 1h from 2025-01-01 12:00:00+00:00 to 2025-01-03 00:00:00+00:00" in r.stdout
    assert "12 snapshots x 150 bins" in r.stdout  # every third bar; the last one is one of them
    assert "it/s" in r.stderr or "%" in r.stderr  # the progress bar went to stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--csv", FIX / "bars_no_oi.csv"], "no open interest"),
        (["--klines", FIX / "nothere.csv", "--metrics", METRICS], "no such file"),
        (["--klines", KLINES], "command line: --oi FILE"),
        ([], "no input"),
        (["--oi", METRICS], "--oi/--funding/--mark need --candles"),
        (["--csv", FIX / "bars.csv", "--from", "2030-01-01"], "holds 0 bars"),
        (["--csv", FIX / "bars.csv", "--from", "yesterday-ish"], "--from 'yesterday-ish' is not a time"),
        (["--csv", FIX / "bars.csv", "--from", "2025-01-02", "--to", "2025-01-01"], "is before --from"),
        (["--csv", FIX / "bars.csv", "--side-split", "taker"], "taker"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, args, message):
    r = render(*args, "--out", tmp_path / "x.png")
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert message in lines[0]
    assert not (tmp_path / "x.png").exists()


def test_missing_output_folder_is_an_error(tmp_path):
    r = render("--csv", FIX / "bars.csv", "--out", tmp_path / "no" / "x.png")
    assert r.returncode == 2 and "does not exist" in r.stderr


def test_argument_errors_come_from_argparse(tmp_path):
    r = render("--csv", FIX / "bars.csv", "--bins", "0", "--out", tmp_path / "x.png")
    assert r.returncode == 2 and "expected a positive integer" in r.stderr
    r = render("--csv", FIX / "bars.csv", "--leverage", "nope", "--out", tmp_path / "x.png")
    assert r.returncode == 2 and "expected a preset name" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_help_documents_inputs_and_examples():
    r = subprocess.run(
        [sys.executable, "-m", "heatmap", "render", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 0
    for text in (
        "--klines",
        "--metrics",
        "--candles",
        "--oi-max-age",
        "--time-format",
        "--no-check-units",
        "--csv",
        "examples:",
        "exit status",
    ):
        assert text in r.stdout


def test_csv_options_in_process(tmp_path, capsys):
    """Naive ISO times need --assume-utc; --oi-unit quote divides USD open interest by the close."""
    import pandas as pd

    from heatmap.cli import main

    bars = pd.read_csv(FIX / "bars.csv")
    bars["time"] = pd.to_datetime(bars["time"], unit="ms").dt.strftime("%Y-%m-%d %H:%M:%S")
    bars["open_interest"] = bars["open_interest"] * bars["close"]  # USD
    path = tmp_path / "naive.csv"
    bars.to_csv(path, index=False)
    out = tmp_path / "x.png"
    assert main(["render", "--csv", str(path), "--out", str(out), "--bins", "100", "--progress", "off"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: naive.csv column 'time'") and "--assume-utc" in err
    code = main(
        ["render", "--csv", str(path), "--assume-utc", "--oi-unit", "quote", "--out", str(out), "--bins", "100",
         "--dpi", "20", "--size", "4", "2", "--progress", "off"]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert png_size(out) == (80, 40)
    assert "market: 48 bars of 1h" in capsys.readouterr().out


def test_model_preset_with_overrides_in_process(tmp_path, capsys):
    """--model picks a preset; --leverage/--side-split/--split-strength override only what they name."""
    from heatmap.cli import main
    from heatmap.engine import estimate
    from heatmap.io.frames import read_csv_market
    from heatmap.model import Model
    from heatmap.plot import format_notional

    out = tmp_path / "x.png"
    base = ["render", "--csv", str(FIX / "bars.csv"), "--bins", "120", "--out", str(out), "--dpi", "20",
            "--size", "4", "2", "--progress", "off"]  # fmt: skip
    market = read_csv_market(FIX / "bars.csv")
    printed: set[str] = set()
    for extra, model in [
        (["--model", "coinglass-like"], Model.preset("coinglass-like")),
        (
            ["--model", "coinglass-like", "--split-strength", "0.25"],
            Model.preset("coinglass-like").replace(split_strength=0.25),
        ),
        ([], Model()),
    ]:
        assert main([*base, *extra]) == 0
        stdout = capsys.readouterr().out
        total = estimate(market, model, bins=120).at(-1).total
        assert f"long {format_notional(total['long'])}, short {format_notional(total['short'])}" in stdout
        printed.add(next(line for line in stdout.splitlines() if line.startswith("last price")))
    assert len(printed) == 3  # the three models give three different maps
    r = render("--csv", FIX / "bars.csv", "--model", "nope", "--out", tmp_path / "y.png")
    assert r.returncode == 2 and "invalid choice: 'nope'" in r.stderr


def test_out_suffix_chooses_the_format_and_unknown_suffixes_fail_early(tmp_path, capsys):
    from heatmap.cli import main

    base = ["render", "--csv", str(FIX / "bars.csv"), "--bins", "100", "--dpi", "20", "--size", "4", "2",
            "--progress", "off"]  # fmt: skip
    for suffix, magic in ((".svg", b"<?xml"), (".pdf", b"%PDF-"), (".jpg", b"\xff\xd8\xff")):
        out = tmp_path / f"hm{suffix}"
        assert main([*base, "--out", str(out), "--within", "0.1"]) == 0, capsys.readouterr().err
        assert out.read_bytes().startswith(magic)
        assert f"wrote {out}" in capsys.readouterr().out
    assert main([*base, "--out", str(tmp_path / "hm.bmp")]) == 2
    captured = capsys.readouterr()
    assert "unknown figure type '.bmp'" in captured.err and ".png, .svg, .pdf, .jpg" in captured.err
    assert "market:" not in captured.out  # refused before reading and estimating
    assert not (tmp_path / "hm.bmp").exists()
    assert main([*base, "--out", str(tmp_path / "hm.png"), "--within", "2"]) == 2
    assert "within" in capsys.readouterr().err
