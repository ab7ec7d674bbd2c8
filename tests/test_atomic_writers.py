"""Every output writer is atomic: on a full disk (RLIMIT_FSIZE in a subprocess) the previous file or store is
left exactly as it was and no temporary file is left behind; JSON keeps negative cells and refuses NaN."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from heatmap.export import from_json, to_json
from heatmap.io.atomic import OutputPathError
from heatmap.result import Heatmap

needs_fsize = pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="needs RLIMIT_FSIZE")

_SETUP = """
import resource, signal
import numpy as np, pandas as pd
from heatmap.result import Heatmap
t = pd.date_range("2025-01-01", periods=200, freq="h", tz="UTC")
rng = np.random.default_rng(0)
hm = Heatmap(times=t, price_edges=np.geomspace(50.0, 150.0, 301), long=rng.random((200, 300)),
             short=rng.random((200, 300)), price=pd.Series(np.full(200, 100.0), index=t))
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4000, 4000))
try:
    {call}
except OSError as exc:
    print("OSError", exc.errno)
"""


def _run_full_disk(call: str) -> subprocess.CompletedProcess[str]:
    code = textwrap.dedent(_SETUP).replace("{call}", call)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy())


def _small() -> Heatmap:
    t = pd.date_range("2025-01-01", periods=2, freq="h", tz="UTC")
    return Heatmap(
        times=t,
        price_edges=np.array([90.0, 100.0, 110.0]),
        long=np.array([[1.0, -2.0], [0.0, 3.0]]),
        short=np.zeros((2, 2)),
        price=pd.Series([100.0, 101.0], index=t),
    )


@needs_fsize
@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("map.json", "from heatmap.export import to_json; to_json(hm, {target!r})"),
        ("map.html", "from heatmap.interactive import to_html; to_html(hm, {target!r})"),
    ],
)
def test_file_writers_on_full_disk_keep_old_file(tmp_path, name, call):
    if name.endswith(".html"):
        pytest.importorskip("plotly")
    target = tmp_path / name
    target.write_text("good")
    out = _run_full_disk(call.format(target=str(target)))
    assert "OSError" in out.stdout, out.stderr
    assert target.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == [name]


@needs_fsize
def test_store_overwrite_on_full_disk_keeps_old_store(tmp_path):
    from heatmap.io.store import read_heatmap, write_heatmap

    path = write_heatmap(_small(), tmp_path / "s.heatmap")
    before = {p.name: p.read_bytes() for p in path.iterdir()}
    out = _run_full_disk(
        "from heatmap.io.store import write_heatmap; "
        f"write_heatmap(hm, {str(path)!r}, sparse=False, overwrite=True)"
    )
    assert "OSError" in out.stdout, out.stderr
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["s.heatmap"]
    np.testing.assert_array_equal(read_heatmap(path).long, _small().long)


def test_json_keeps_negative_cells_and_refuses_nan(tmp_path):
    hm = _small()
    np.testing.assert_array_equal(from_json(to_json(hm)).long, hm.long)
    nan = Heatmap(
        times=hm.times,
        price_edges=hm.price_edges,
        long=np.array([[1.0, np.nan], [0.0, 3.0]]),
        short=hm.short,
        price=hm.price,
    )
    target = tmp_path / "x.json"
    target.write_text("old")
    with pytest.raises(ValueError, match=r"long: 1 cells are not finite \(first at snapshot 0, bin 1: nan\)"):
        to_json(nan, target)
    assert target.read_text() == "old"


def test_json_to_a_directory_is_named(tmp_path):
    with pytest.raises(OutputPathError, match="is a directory"):
        to_json(_small(), tmp_path)


def test_margin_schedule_html_repr_is_escaped():
    from heatmap.exchanges import MarginSchedule

    s = MarginSchedule.from_tiers(
        venue="<b>venue</b>",
        symbol="<script>alert(1)</script>$\\foo$",
        contract="linear",
        quote="USDT",
        base="X",
        effective="2024-01-01",
        source="<img src=x onerror=alert(2)>",
        tiers=[(0, 10_000, 0.01, 50)],
    )
    out = s._repr_html_()
    assert "<script>" not in out and "<b>" not in out and "<img" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out and "&lt;b&gt;venue&lt;/b&gt;" in out


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d.update(long=[[0, 0.5, 1.0]]),
            r"long cell 0 \[0\.0, 0\.5, 1\.0\] is not \[integer time index",
        ),
        (lambda d: d.update(long=[[-1, 0, 1.0]]), r"long cell 0 .* in 0\.\.1"),
        (lambda d: d.update(short=[[0, 9, 1.0]]), r"short cell 0 .*integer price index in 0\.\.1"),
        (
            lambda d: d.update(long=[[0, 0], [1, 1], [0, 1]]),
            r"'long' must be a list of .* triples, got shape \(3, 2\)",
        ),
        (lambda d: d.update(long=[[0, 0, 1.0], [0, 0, 2.0]]), "same cell more than once"),
        (lambda d: d.pop("price_edges"), r"missing or malformed axes \(KeyError"),
        (lambda d: d.update(format="other"), "format: expected"),
    ],
)
def test_from_json_refuses_what_to_json_never_writes(tmp_path, edit, message):
    import json

    doc = json.loads(to_json(_small()))
    edit(doc)
    path = tmp_path / "map.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=message) as err:
        from_json(path)
    assert str(path) in str(err.value)


def test_from_json_refuses_nan_deep_nesting_and_bytes(tmp_path):
    text = to_json(_small()).replace("[0, 1, -2.0]", "[0, 1, NaN]")
    assert "NaN" in text
    with pytest.raises(ValueError, match=r"JSON text: not valid JSON .*NaN is not a finite number"):
        from_json(text)
    deep = tmp_path / "deep.json"
    deep.write_text('{"format": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ValueError, match=r"deep\.json: not valid JSON \(RecursionError"):
        from_json(deep)
    raw = tmp_path / "raw.json"
    raw.write_bytes(b"\xff\xfe{}")
    with pytest.raises(ValueError, match=r"raw\.json: not UTF-8"):
        from_json(raw)
