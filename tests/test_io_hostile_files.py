"""Readers on hostile and damaged files: every error is a MarketDataError naming the file (and zip member),
columns are taken by header name, and only CSV/JSON members of a zip are read."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd
import pytest

from heatmap.io.binance import read_binance_funding, read_binance_klines, read_binance_metrics
from heatmap.io.liquidations import read_liquidations
from heatmap.market import MarketDataError

FIX = Path(__file__).resolve().parent / "fixtures" / "binance"
KLINE_CSV = FIX / "BTCUSDT-1h-2025-01-01.csv"
KLINE_ZIP = FIX / "BTCUSDT-1h-2025-01-02.zip"
LIQ = Path(__file__).resolve().parent / "fixtures" / "liquidations"


def _reorder(text: str, order: list[int]) -> str:
    rows = [line.split(",") for line in text.strip().splitlines()]
    return "\n".join(",".join(r[i] for i in order) for r in rows) + "\n"


def test_header_in_another_order_is_read_by_name(tmp_path):
    text = KLINE_CSV.read_text()
    n = len(text.splitlines()[0].split(","))
    order = [0, 4, 2, 3, 1, *range(5, n)]  # open and close swapped, with their header names
    (tmp_path / "BTCUSDT-1h-2025-01-01.csv").write_text(_reorder(text, order))
    got = read_binance_klines(tmp_path / "BTCUSDT-1h-2025-01-01.csv")
    pd.testing.assert_frame_equal(got, read_binance_klines(KLINE_CSV))
    # upper case, spaces and quotes in the header do not matter; a missing 'ignore' column is allowed
    lines = text.splitlines()
    head = ",".join(f' "{h.upper()}" ' for h in lines[0].split(",")[:-1])
    body = [",".join(line.split(",")[:-1]) for line in lines[1:]]
    (tmp_path / "b.csv").write_text("\n".join([head, *body]) + "\n")
    pd.testing.assert_frame_equal(read_binance_klines(tmp_path / "b.csv"), read_binance_klines(KLINE_CSV))


def test_header_with_unknown_or_missing_columns_is_named(tmp_path):
    text = KLINE_CSV.read_text().replace("close_time", "closing_time", 1)
    f = tmp_path / "k.csv"
    f.write_text(text)
    with pytest.raises(
        MarketDataError, match=r"k\.csv: the header .*missing \['close_time'\].*unknown \['closing_time'\]"
    ):
        read_binance_klines(f)
    g = tmp_path / "g.csv"
    g.write_text(KLINE_CSV.read_text().replace("high", "open", 1))
    with pytest.raises(MarketDataError, match=r"g\.csv: the header names columns \['open'\] more than once"):
        read_binance_klines(g)


def test_metrics_and_funding_headers_by_name(tmp_path):
    m = FIX / "BTCUSDT-metrics-2025-01-01.csv"
    text = m.read_text()
    order = [0, 1, 3, 2, 4, 5, 7, 6]  # open interest and its value swapped, two ratios swapped
    (tmp_path / "m.csv").write_text(_reorder(text, order))
    pd.testing.assert_frame_equal(read_binance_metrics(tmp_path / "m.csv"), read_binance_metrics(m))
    f = FIX / "BTCUSDT-fundingRate-2025-01.csv"
    (tmp_path / "f.csv").write_text(_reorder(f.read_text(), [2, 0, 1]))
    pd.testing.assert_frame_equal(read_binance_funding(tmp_path / "f.csv"), read_binance_funding(f))


def test_zip_reads_only_csv_members(tmp_path):
    z = tmp_path / "BTCUSDT-1h-2025-01-01.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(KLINE_CSV, "BTCUSDT-1h-2025-01-01.csv")
        zf.writestr("README.txt", "this archive holds klines\n")
        zf.writestr("BTCUSDT-1h-2025-01-01.csv.CHECKSUM", "abc123  BTCUSDT-1h-2025-01-01.csv\n")
        zf.writestr("__MACOSX/._BTCUSDT-1h-2025-01-01.csv", b"\x00\x05\x16\x07")
    pd.testing.assert_frame_equal(read_binance_klines(z), read_binance_klines(KLINE_CSV))


def test_zip_without_csv_member_is_named(tmp_path):
    z = tmp_path / "only-readme.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("README", "nothing here")
    with pytest.raises(
        MarketDataError, match=r"only-readme\.zip: the zip archive holds no CSV or JSON file.*README"
    ):
        read_binance_klines(z)
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w"):
        pass
    with pytest.raises(MarketDataError, match=r"empty\.zip: .*no CSV or JSON file \(it is empty\)"):
        read_binance_klines(empty)


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated_zip_is_named(tmp_path, keep):
    data = KLINE_ZIP.read_bytes()
    z = tmp_path / "BTCUSDT-1h-2025-01-02.zip"
    z.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(MarketDataError, match=r"BTCUSDT-1h-2025-01-02\.zip.*(truncated|damaged)") as err:
        read_binance_klines(z)
    assert str(z) in str(err.value)


def test_corrupt_member_is_named_with_member(tmp_path):
    z = tmp_path / "c.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(KLINE_CSV, "inner.csv")
    raw = bytearray(z.read_bytes())
    start = raw.index(b"inner.csv") + len("inner.csv") + 10  # inside the compressed stream
    for i in range(start, start + 40):
        raw[i] ^= 0xFF
    z.write_bytes(bytes(raw))
    with pytest.raises(MarketDataError, match=r"c\.zip!inner\.csv: cannot be extracted"):
        read_binance_klines(z)


def test_non_utf8_bytes_are_named_with_line(tmp_path):
    lines = KLINE_CSV.read_bytes().splitlines()
    lines[3] = lines[3].replace(b"0,", b"\xe9,", 1)
    f = tmp_path / "latin.csv"
    f.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(MarketDataError, match=r"latin\.csv: not UTF-8 text \(byte 0xe9 .* line 4\)"):
        read_binance_klines(f)
    z = tmp_path / "latin.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(f, "member.csv")
    with pytest.raises(MarketDataError, match=r"latin\.zip!member\.csv: not UTF-8"):
        read_binance_klines(z)
    with pytest.raises(MarketDataError, match=r"latin\.csv: not UTF-8"):
        read_liquidations(f)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ("\n\n  \n", "the file is empty"),
        (KLINE_CSV.read_text().splitlines()[0] + "\n", "the file has a header but no data rows"),
    ],
)
def test_empty_and_header_only_files_are_named(tmp_path, content, message):
    good = tmp_path / "good.csv"
    good.write_text(KLINE_CSV.read_text())
    bad = tmp_path / "BTCUSDT-1h-2025-01-03.csv"
    bad.write_text(content)
    with pytest.raises(MarketDataError, match=rf"BTCUSDT-1h-2025-01-03\.csv: {message}"):
        read_binance_klines([good, bad])
    assert good.read_text() == KLINE_CSV.read_text()  # nothing else touched


def test_errors_after_parsing_name_the_file(tmp_path):
    lines = KLINE_CSV.read_text().splitlines()
    f = tmp_path / "second.csv"
    f.write_text("\n".join([lines[0], lines[1], lines[2].replace("94", "x9", 1)]) + "\n")
    with pytest.raises(MarketDataError, match=r"second\.csv: column 'open' has 1 non-numeric"):
        read_binance_klines([KLINE_CSV, f])
    g = tmp_path / "epoch.csv"
    g.write_text("\n".join([lines[0], "1e30" + lines[1][13:]]) + "\n")
    with pytest.raises(MarketDataError, match=r"epoch\.csv open_time: timestamp 1e\+30 \(row 1\) is outside"):
        read_binance_klines(g)
    h = tmp_path / "ragged.csv"
    h.write_text("\n".join([lines[0], lines[1], lines[2] + ",extra,fields"]) + "\n")
    with pytest.raises(MarketDataError, match=r"ragged\.csv: not a readable CSV table"):
        read_binance_klines(h)


def test_duplicates_across_files_name_the_files(tmp_path):
    a = tmp_path / "a.csv"
    a.write_text(KLINE_CSV.read_text())
    with pytest.raises(MarketDataError, match=r"24 exact duplicate rows in \[") as caught:
        read_binance_klines([KLINE_CSV, a])
    # both files are named (in path order, which depends on where the checkout and the temporary folder are)
    assert str(a) in str(caught.value) and str(KLINE_CSV) in str(caught.value)
    lines = KLINE_CSV.read_text().splitlines()
    b = tmp_path / "b.csv"
    b.write_text("\n".join([lines[0], lines[1].replace("94055.5", "94056.5")]) + "\n")
    with pytest.raises(MarketDataError, match=r"share an open time with different values.*b\.csv"):
        read_binance_klines([KLINE_CSV, b])


def test_liquidation_json_and_csv_errors_name_the_file(tmp_path):
    j = tmp_path / "bad.json"
    j.write_text('[{"o": {"s": "BTCUSDT"}')
    with pytest.raises(MarketDataError, match=r"bad\.json: not a JSON array"):
        read_liquidations(j)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(MarketDataError, match=r"deep\.json"):
        read_liquidations(deep)
    for name, text in (
        ("big.jsonl", '{"e": "forceOrder", "o": {"T": ' + "1" * 5000 + "}}\n"),
        ("big.json", "[" + "1" * 5000 + "]"),
    ):
        (tmp_path / name).write_text(text)  # an integer of more digits than Python converts
        with pytest.raises(MarketDataError, match=rf"{name.replace('.', '[.]')}: .*Exceeds the limit"):
            read_liquidations(tmp_path / name)
    src = (LIQ / "BTCUSD_PERP-liquidationSnapshot-2025-01-01.csv").read_text().splitlines()
    c = tmp_path / "BTCUSD_PERP-liquidationSnapshot-2025-01-02.csv"
    c.write_text("\n".join([*src[:2], src[2] + ",1,2,3"]) + "\n")
    with pytest.raises(MarketDataError, match=r"liquidationSnapshot-2025-01-02\.csv: not a readable CSV"):
        read_liquidations(c)
    header_only = tmp_path / "BTCUSD_PERP-liquidationSnapshot-2025-01-03.csv"
    header_only.write_text(src[0] + "\n")
    assert read_liquidations(header_only).empty  # a day without liquidations


def test_folders_and_oversized_files_are_named(tmp_path, monkeypatch):
    (tmp_path / "sub.csv").mkdir()
    with pytest.raises(FileNotFoundError, match=r"klines: '.*' is a folder, not a file"):
        read_binance_klines(tmp_path)
    f = tmp_path / "k.csv"
    f.write_text(KLINE_CSV.read_text())
    pd.testing.assert_frame_equal(
        read_binance_klines(str(tmp_path / "*.csv")), read_binance_klines(KLINE_CSV)
    )
    monkeypatch.setenv("HEATMAP_MEMORY_LIMIT", "1kB")
    with pytest.raises(MarketDataError, match=r"k\.csv: [\d,]+ bytes, over the memory limit of 1,000 bytes"):
        read_binance_klines(f)
    z = tmp_path / "k.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.csv", "0" * 100_000)
    with pytest.raises(
        MarketDataError, match=r"k\.zip!big\.csv: expands to 100,000 bytes, over the memory limit"
    ):
        read_binance_klines(z)


def test_pipes_devices_empty_names_and_odd_list_items_are_named(tmp_path):
    import os

    fifo = tmp_path / "live.csv"
    os.mkfifo(fifo)  # reading it would block forever
    with pytest.raises(FileNotFoundError, match=r"klines: '.*live\.csv' is not a regular file"):
        read_binance_klines(fifo)
    with pytest.raises(FileNotFoundError, match=r"klines: '/dev/null' is not a regular file"):
        read_binance_klines("/dev/null")
    with pytest.raises(FileNotFoundError, match=r"klines: the file name is empty"):
        read_binance_klines("")
    with pytest.raises(TypeError, match=r"klines: None in the list is not a path \(NoneType\)"):
        read_binance_klines([KLINE_CSV, None])
    pd.testing.assert_frame_equal(read_binance_klines(os.fsencode(KLINE_CSV)), read_binance_klines(KLINE_CSV))
    assert [p.name for p in tmp_path.iterdir()] == ["live.csv"]


def test_files_of_two_symbols_are_refused(tmp_path):
    from heatmap.io.binance import read_binance

    eth = tmp_path / "ETHUSDT-metrics-2025-01-01.csv"
    eth.write_text((FIX / "BTCUSDT-metrics-2025-01-01.csv").read_text())
    with pytest.raises(
        MarketDataError, match=r"the files name 2 symbols \(BTCUSDT: klines BTCUSDT-1h.*ETHUSDT: metrics"
    ):
        read_binance(klines=KLINE_CSV, metrics=eth)
    # a metrics file renamed to the right symbol but holding another one's rows
    text = (FIX / "BTCUSDT-metrics-2025-01-01.csv").read_text().replace(",BTCUSDT,", ",ETHUSDT,")
    renamed = tmp_path / "BTCUSDT-metrics-2025-01-01.csv"
    renamed.write_text(text)
    with pytest.raises(
        MarketDataError, match=r"metrics: rows of symbol \['ETHUSDT'\] in the metrics of 'BTCUSDT'"
    ):
        read_binance(klines=KLINE_CSV, metrics=renamed)


def test_old_mac_line_endings_read_like_unix(tmp_path):
    f = tmp_path / "cr.csv"
    f.write_bytes(KLINE_CSV.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r"))
    pd.testing.assert_frame_equal(read_binance_klines(f), read_binance_klines(KLINE_CSV))


# -- generic tables (read_csv_frame / read_csv_market) -----------------------------------------------------------
BARS_CSV = Path(__file__).resolve().parent / "fixtures" / "render" / "bars.csv"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        (BARS_CSV.read_text().splitlines()[0] + "\n", "the file has a header but no data rows"),
        (
            BARS_CSV.read_text() + "1735862400000,1,2,3,4,5,6,7\n",
            "not a readable CSV table .*Expected 7 fields",
        ),
        (BARS_CSV.read_text() + '"1735862400000,1,2\n', "not a readable CSV table .*EOF inside string"),
        (BARS_CSV.read_text().replace("volume", "Close", 1), r"columns \['close'\] appear more than once"),
        (
            BARS_CSV.read_text().replace("volume", "open_interest", 1),
            r"columns \['open_interest'\] appear more",
        ),
        (
            BARS_CSV.read_text().replace("94000.0", '"94,000.0"', 1),
            r"column 'open' has 1 non-numeric .*94,000",
        ),
        (BARS_CSV.read_text().replace("94019.3", "nan", 1), r"column 'close': NaN or infinite price"),
    ],
)
def test_generic_table_errors_name_the_file(tmp_path, content, message):
    from heatmap.io.frames import read_csv_market

    bad = tmp_path / "my-bars.csv"
    bad.write_text(content)
    with pytest.raises(MarketDataError, match=rf"my-bars\.csv: {message}"):
        read_csv_market(bad)
    assert bad.read_text() == content  # nothing touched


def test_generic_table_rename_onto_an_existing_column_is_named():
    from heatmap.io.frames import read_csv_market

    with pytest.raises(
        MarketDataError, match=r"bars\.csv: columns \['close'\] appear more than once \(after rename"
    ):
        read_csv_market(BARS_CSV, rename={"volume": "close"})


def test_generic_table_rows_ending_in_a_separator_do_not_shift_columns(tmp_path):
    from heatmap.io.frames import read_csv_frame

    lines = BARS_CSV.read_text().splitlines()
    f = tmp_path / "trailing.csv"
    f.write_text("\n".join([lines[0], *(line + "," for line in lines[1:])]) + "\n")
    pd.testing.assert_frame_equal(read_csv_frame(f), read_csv_frame(BARS_CSV), check_like=True)


# -- files given for the wrong role (read_market, the command line's --candles/--oi/--funding/--mark) -------------
RENDER = Path(__file__).resolve().parent / "fixtures" / "render"


@pytest.mark.parametrize(
    ("role", "name", "message"),
    [
        (
            "open_interest",
            "BTCUSDT-1h-2025-01-01.csv",
            r"open_interest: .* is a Binance klines file, not open interest",
        ),
        (
            "funding",
            "BTCUSDT-metrics-2025-01-01.csv",
            r"funding: .* is a Binance metrics file, not funding rates",
        ),
        ("mark", "BTCUSDT-fundingRate-2025-01.csv", r"mark: .* is a Binance funding file, not mark prices"),
    ],
)
def test_binance_file_given_for_another_role_is_named(role, name, message):
    from heatmap.io.frames import read_market

    kw = {"open_interest": RENDER / "BTCUSDT-metrics-2025-01-01.csv", role: RENDER / name}
    with pytest.raises(MarketDataError, match=rf"{message}; pass it as "):
        read_market(RENDER / "BTCUSDT-1h-2025-01-01.csv", **kw)


def test_binance_files_of_another_symbol_are_refused(tmp_path):
    from heatmap.io.frames import read_market

    eth = tmp_path / "ETHUSDT-metrics-2025-01-01.csv"
    eth.write_text((RENDER / "BTCUSDT-metrics-2025-01-01.csv").read_text().replace("BTCUSDT", "ETHUSDT"))
    with pytest.raises(
        MarketDataError, match=r"2 symbols .*ETHUSDT: open_interest ETHUSDT-metrics-2025-01-01\.csv"
    ):
        read_market(RENDER / "BTCUSDT-1h-2025-01-01.csv", open_interest=eth)
    assert [p.name for p in tmp_path.iterdir()] == [eth.name]


def test_ohlcv_table_with_thousands_separators_is_named(tmp_path):
    from heatmap.io.frames import read_ohlcv_csv

    f = tmp_path / "ohlcv.csv"
    f.write_text(BARS_CSV.read_text().replace("94000.0", '"94,000.0"', 1))
    with pytest.raises(
        MarketDataError, match=r"ohlcv\.csv: column 'open' has 1 non-numeric values, e\.g\. \['94,000\.0'\]"
    ):
        read_ohlcv_csv(f)


def test_rename_with_names_that_are_not_strings_is_named():
    from heatmap.io.frames import read_csv_frame

    with pytest.raises(
        TypeError, match=r"rename maps column names to column names \(strings\), got \{1: 'x'\}"
    ):
        read_csv_frame(BARS_CSV, rename={1: "x"})
