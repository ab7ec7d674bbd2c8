"""Execute every notebook and store its outputs, with figures as small palette PNGs, so they read on GitHub.

Run from anywhere after editing a ``_build*.py`` script: ``python notebooks/_run.py [name ...]``. Each notebook
runs top to bottom in this folder (as Jupyter would) with the ``python3`` kernel; real data come from
``HEATMAP_DATA`` or ``../shared/data`` when present. Images are re-encoded with a 128-colour adaptive palette
(about a fifth of the size), execution timestamps are dropped so re-running changes only what changed.
"""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path

import nbclient
import nbformat
from PIL import Image

HERE = Path(__file__).resolve().parent
COLORS = 128
TIMEOUT = 600  # per cell [s]


def small_png(data: str) -> str:
    """A base64 PNG re-encoded with an adaptive palette."""
    img = Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")
    out = io.BytesIO()
    img.quantize(colors=COLORS, method=Image.Quantize.MEDIANCUT).save(out, format="png", optimize=True)
    return base64.b64encode(out.getvalue()).decode("ascii")


def run(path: Path) -> Path:
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=TIMEOUT, resources={"metadata": {"path": str(HERE)}}
    ).execute()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        for out in cell.outputs:
            if "data" in out and "image/png" in out["data"]:
                out["data"]["image/png"] = small_png(out["data"]["image/png"])
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return path


def main(names: list[str]) -> None:
    paths = [HERE / f"{n}.ipynb" for n in names] if names else sorted(HERE.glob("*.ipynb"))
    for p in paths:
        out = run(p)
        print(f"{out.name}  {out.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main(sys.argv[1:])
