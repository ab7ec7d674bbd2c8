"""Every notebook in notebooks/ runs top to bottom (nbclient, kernel python3, cwd notebooks/); each is committed
with its outputs (small palette PNGs, no errors) so it reads on GitHub; notebooks 01–03 match their generator
script."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
TIMEOUT = 300  # per cell [s]; a generous bound so a loaded machine does not fail the run


def _kernel_available(name: str = "python3") -> str | None:
    """None when the kernel can be started, else the reason it cannot."""
    try:
        from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    except ImportError as exc:  # pragma: no cover - part of the test extra
        return f"jupyter_client is not installed ({exc})"
    try:
        KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        return f"no Jupyter kernel named {name!r} (pip install ipykernel)"
    return None


def test_notebooks_exist():
    names = {p.stem for p in PATHS}
    assert {"01_quickstart", "02_binance_btc", "03_leverage_assumptions"} <= names


MAX_PNG = 150 * 1024  # bytes per figure
MAX_NOTEBOOK = 2 * 1024 * 1024  # bytes per notebook file


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_committed_with_small_outputs(path):
    import base64

    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert path.stat().st_size <= MAX_NOTEBOOK, f"{path.name} is too large; run python notebooks/_run.py"
    images = 0
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        assert cell.execution_count is not None, (
            f"{path.name} cell {i} was not run; run python notebooks/_run.py"
        )
        for out in cell.outputs:
            assert out.output_type != "error", f"{path.name} cell {i} stored an error: {out.get('evalue')}"
            png = out.get("data", {}).get("image/png")
            if png:
                images += 1
                data = base64.b64decode(png)
                assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) <= MAX_PNG, f"{path.name} cell {i}"
    if path.stem != "05_validation":  # 05 reports tables
        assert images >= 1, f"{path.name} shows no figure"
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1)), f"{path.name} was not run top to bottom in one go"


def test_trade_reading_sections():
    for name in ("01_quickstart", "02_binance_btc"):
        nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        assert "How to read this for a trade" in text
        for words in ("Nearest pools", "Which side is heavier", 'What "relative" means'):
            assert words in text, f"{name}: {words}"


def test_generator_matches_committed_notebooks():
    spec = importlib.util.spec_from_file_location("_nb_build", NOTEBOOKS / "_build.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    for name, cells in (
        ("01_quickstart", build.QUICKSTART),
        ("02_binance_btc", build.BINANCE),
        ("03_leverage_assumptions", build.LEVERAGE),
    ):
        committed = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        assert [c.source for c in committed.cells] == [c.source for c in cells], (
            f"{name}.ipynb differs from notebooks/_build.py; run python notebooks/_build.py"
        )


@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_executes(path):
    reason = _kernel_available()
    if reason:
        pytest.skip(reason)
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=TIMEOUT, resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    client.execute()  # raises CellExecutionError with the failing cell and traceback
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    warnings = [
        o.text
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "stream" and o.name == "stderr" and "Warning" in o.text
    ]
    assert not warnings, f"{path.name} emitted warnings: {warnings}"


@pytest.mark.slow
def test_binance_notebook_falls_back_to_synthetic_without_data(tmp_path):
    reason = _kernel_available()
    if reason:
        pytest.skip(reason)
    nbclient = pytest.importorskip("nbclient")
    where = tmp_path / "repo" / "notebooks"  # ../../shared/data does not exist from here
    where.mkdir(parents=True)
    nb = nbformat.read(NOTEBOOKS / "02_binance_btc.ipynb", as_version=4)
    nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=TIMEOUT, resources={"metadata": {"path": str(where)}}
    ).execute()
    text = "".join(
        o.text for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "stream"
    )
    assert "using the synthetic market instead" in text
    assert "SYNTHUSDT" in text
