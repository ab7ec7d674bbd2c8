"""Write and read heatmaps on disk: a Parquet directory (pandas) or Zarr (through xarray).

A Parquet store is a directory holding ``cells.parquet`` (``time_index, price_index, long, short`` as
float32; only non-zero cells when ``sparse``), ``price.parquet`` (the close path) and ``axes.json`` (format
version, snapshot times, price edges, shape). Writes go to a temporary directory that is renamed into place,
so a crash never leaves a half-written store under the final name.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from heatmap.result import Heatmap

__all__ = ["write_heatmap", "read_heatmap", "STORE_VERSION"]

STORE_VERSION = 1


def _replace_dir(tmp: Path, final: Path) -> None:
    if final.exists():
        old = final.with_name(final.name + ".old")
        if old.exists():
            shutil.rmtree(old)
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old)
    else:
        os.replace(tmp, final)


def write_heatmap(
    hm: Heatmap, path: str | Path, *, format: Literal["parquet", "zarr"] = "parquet", sparse: bool = True
) -> Path:
    """Write ``hm`` to ``path`` (a directory); returns the path.

    Parameters
    ----------
    hm : Heatmap
    path : str or Path
    format : {"parquet", "zarr"}
        Zarr needs the ``xarray`` extra (xarray and zarr).
    sparse : bool
        Parquet: keep only cells where either side is non-zero.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=final.name + ".", suffix=".tmp", dir=final.parent))
    try:
        if format == "zarr":
            from heatmap.export import to_xarray

            shutil.rmtree(tmp)
            to_xarray(hm).to_zarr(tmp, mode="w")
        elif format == "parquet":
            T, P = hm.shape
            long = np.asarray(hm.long, dtype=np.float32)
            short = np.asarray(hm.short, dtype=np.float32)
            if sparse:
                ti, pi = np.nonzero((long != 0) | (short != 0))
            else:
                ti, pi = np.divmod(np.arange(T * P), P)
            cells = pd.DataFrame(
                {
                    "time_index": ti.astype(np.int32),
                    "price_index": pi.astype(np.int32),
                    "long": long[ti, pi],
                    "short": short[ti, pi],
                }
            )
            cells.to_parquet(tmp / "cells.parquet", index=False)
            hm.price.rename("close").to_frame().to_parquet(tmp / "price.parquet")
            axes = {
                "format": "liquidation-heatmap/store",
                "version": STORE_VERSION,
                "shape": [T, P],
                "times": [t.isoformat() for t in hm.times],
                "price_edges": hm.price_edges.tolist(),
                "sparse": sparse,
                "meta": {k: v for k, v in hm.meta.items() if isinstance(v, (str, int, float, bool))},
            }
            (tmp / "axes.json").write_text(json.dumps(axes), encoding="utf-8")
        else:
            raise ValueError(f"format must be 'parquet' or 'zarr', got {format!r}")
        _replace_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def read_heatmap(path: str | Path) -> Heatmap:
    """Read a heatmap written by :func:`write_heatmap` (Parquet or Zarr, detected from the directory)."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"no heatmap store at {path}")
    axes_file = path / "axes.json"
    if not axes_file.exists():
        import xarray as xr

        ds = xr.open_zarr(path)
        edges = np.append(ds["price_low"].to_numpy(), ds["price_high"].to_numpy()[-1])
        return Heatmap(
            times=pd.DatetimeIndex(ds["time"].to_numpy()).tz_localize("UTC"),
            price_edges=edges,
            long=ds["long"].to_numpy(),
            short=ds["short"].to_numpy(),
            price=ds["close"].to_series().tz_localize("UTC") if "close" in ds else pd.Series(dtype=float),
        )
    axes = json.loads(axes_file.read_text(encoding="utf-8"))
    if axes.get("format") != "liquidation-heatmap/store":
        raise ValueError(f"{axes_file} is not a liquidation-heatmap store")
    if int(axes.get("version", 0)) > STORE_VERSION:
        raise ValueError(
            f"{path} was written by a newer version (store format {axes['version']} > {STORE_VERSION}); upgrade"
        )
    T, P = axes["shape"]
    cells = pd.read_parquet(path / "cells.parquet")
    long = np.zeros((T, P), dtype=np.float32)
    short = np.zeros((T, P), dtype=np.float32)
    ti = cells["time_index"].to_numpy()
    pi = cells["price_index"].to_numpy()
    long[ti, pi] = cells["long"].to_numpy()
    short[ti, pi] = cells["short"].to_numpy()
    price = pd.read_parquet(path / "price.parquet")["close"]
    return Heatmap(
        times=pd.DatetimeIndex([pd.Timestamp(t) for t in axes["times"]]),
        price_edges=np.asarray(axes["price_edges"]),
        long=long,
        short=short,
        price=price,
        meta=dict(axes.get("meta", {})),
    )
