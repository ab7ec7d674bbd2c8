"""Write and read heatmaps on disk: a Parquet directory (pandas) or Zarr (through xarray).

A Parquet store is a directory holding ``cells.parquet`` (``time_index, price_index, long, short`` as
float32; only non-zero cells when ``sparse``), ``price.parquet`` (the close path) and ``axes.json`` (format
``"liquidation-heatmap/store"``, version, snapshot times, price edges, shape). A Zarr store carries the same
format in its root attributes (``store_format``).

Safety rules:

* Writes go to a temporary directory beside the target that is renamed into place, so a crash never leaves a
  half-written store under the final name.
* A writer never deletes what it did not create: an existing path that is not a store of this library is
  refused, and an existing store is replaced only with ``overwrite=True``.
* :func:`read_heatmap` opens only a directory recognised as a store of this library. Before a Zarr store is
  handed to ``xarray`` every metadata document in it (``.zarray``, ``.zmetadata``, ``zarr.json``, ...) is
  inspected: object, string or structured data types and any filter or codec outside a fixed list of
  compressors (``pickle``, ``json2``, ``msgpack2``, ``vlen-*``, ...) are refused, so no data file can run code.
* Names given to :func:`store_path` (and :func:`heatmap.aggregate.batch`) are single path components that stay
  inside the output directory.

Examples
--------
>>> import tempfile, numpy as np, pandas as pd
>>> from heatmap.result import Heatmap
>>> t = pd.date_range("2025-01-01", periods=2, freq="h", tz="UTC")
>>> hm = Heatmap(times=t, price_edges=np.array([90.0, 100.0, 110.0]), long=np.ones((2, 2)),
...              short=np.zeros((2, 2)), price=pd.Series([100.0, 101.0], index=t))
>>> path = write_heatmap(hm, tempfile.mkdtemp() + "/btc.heatmap")
>>> read_heatmap(path).long.tolist()
[[1.0, 1.0], [1.0, 1.0]]
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from heatmap.limits import check_memory
from heatmap.result import Heatmap

__all__ = [
    "STORE_FORMAT",
    "STORE_VERSION",
    "StoreError",
    "check_store_target",
    "read_heatmap",
    "store_kind",
    "store_path",
    "validate_name",
    "write_heatmap",
]

STORE_VERSION = 1
#: Format tag of both store kinds (``axes.json`` of a Parquet store, root attribute ``store_format`` of Zarr).
STORE_FORMAT = "liquidation-heatmap/store"
_PARQUET_FILES = frozenset({"axes.json", "cells.parquet", "price.parquet"})
#: Largest metadata document read from a store [bytes].
_MAX_METADATA_BYTES = 64 * 2**20
_ZARR_METADATA = frozenset({".zarray", ".zattrs", ".zgroup", ".zmetadata", "zarr.json"})
#: Compressors and checksums a store may use (no pickle, json, msgpack, vlen or other object codecs).
_SAFE_CODECS = frozenset(
    {
        "blosc",
        "zstd",
        "lz4",
        "zlib",
        "gzip",
        "bz2",
        "lzma",
        "crc32",
        "crc32c",
        "adler32",
        "fletcher32",
        "shuffle",
        "bytes",
        "endian",
        "transpose",
        "sharding_indexed",
        "numcodecs.zstd",
        "numcodecs.blosc",
        "numcodecs.lz4",
        "numcodecs.zlib",
        "numcodecs.gzip",
        "numcodecs.bz2",
        "numcodecs.lzma",
        "numcodecs.crc32",
        "numcodecs.crc32c",
        "numcodecs.adler32",
        "numcodecs.fletcher32",
        "numcodecs.shuffle",
    }
)
_SAFE_V3_TYPES = frozenset(
    {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64"}
)
_SAFE_V2_DTYPE = re.compile(r"^[<>|=]?(?:[fiub][1248]|[Mm]8\[[a-zA-Z]+\])$")


class StoreError(ValueError):
    """A directory that is not a readable, safe heatmap store, or a store that does not match its axes."""


# -- names and targets -------------------------------------------------------------------------------------------
def validate_name(name: object, *, what: str = "name") -> str:
    """A store or market name usable as one file name: non-empty, no separators, not ``.``/``..``, not absolute.

    Examples
    --------
    >>> validate_name("BTCUSDT")
    'BTCUSDT'
    >>> validate_name("../escaped")
    Traceback (most recent call last):
    ...
    ValueError: name '../escaped' must be a plain file name: it contains a path separator
    """
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a string, got {type(name).__name__} {name!r}")
    problem = None
    if not name.strip():
        problem = "it is empty"
    elif "\x00" in name:
        problem = "it contains a NUL character"
    elif any(ord(c) < 32 or ord(c) == 127 for c in name):
        problem = "it contains a control character"
    elif os.path.isabs(name) or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        problem = "it is an absolute path"
    elif any(sep in name for sep in ("/", "\\", os.sep, os.altsep or "/")):
        problem = "it contains a path separator"
    elif name in (".", "..") or name.strip(". ") == "":
        problem = "it is '.' or '..'"
    if problem:
        raise ValueError(f"{what} {name!r} must be a plain file name: {problem}")
    return name


def store_path(out: str | os.PathLike[str], name: str, *, suffix: str = "") -> Path:
    """``out / (name + suffix)`` after :func:`validate_name`, checked to resolve inside ``out``.

    Examples
    --------
    >>> store_path("runs", "BTCUSDT", suffix=".heatmap").as_posix()
    'runs/BTCUSDT.heatmap'
    """
    validate_name(name)
    base = Path(out)
    target = base / f"{name}{suffix}"
    root = base.resolve()
    resolved = target.resolve()
    if resolved.parent != root:
        raise ValueError(f"name {name!r} resolves to {resolved}, outside the output folder {root}")
    return target


def _read_json(path: Path, what: str) -> Any:
    try:
        size = path.stat().st_size
        if size > _MAX_METADATA_BYTES:
            raise StoreError(f"{path}: {what} of {size:,} bytes is larger than any store writes")
        return json.loads(path.read_bytes().decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError, JSONDecodeError, an over-long integer
        raise StoreError(f"{path}: {what} is not valid JSON ({type(exc).__name__}: {exc})") from None


def _zarr_root_attrs(path: Path) -> dict[str, Any] | None:
    v3 = path / "zarr.json"
    if v3.is_file():
        doc = _read_json(v3, "Zarr metadata")
        attrs = doc.get("attributes") if isinstance(doc, dict) else None
        return attrs if isinstance(attrs, dict) else {}
    v2 = path / ".zattrs"
    if v2.is_file() or (path / ".zgroup").is_file():
        doc = _read_json(v2, "Zarr attributes") if v2.is_file() else {}
        return doc if isinstance(doc, dict) else {}
    return None


def store_kind(path: str | os.PathLike[str]) -> Literal["parquet", "zarr"] | None:
    """``"parquet"`` or ``"zarr"`` for a directory written by :func:`write_heatmap`, else None.

    A Parquet store has an ``axes.json`` with ``format = "liquidation-heatmap/store"`` and no files besides its
    own three; a Zarr store has the root attribute ``store_format = "liquidation-heatmap/store"`` (or, from
    earlier versions, ``title = "liquidation heatmap"`` and the sparse-export ``format``).
    """
    from heatmap.export import FORMAT as EXPORT_FORMAT

    p = Path(path)
    if p.is_symlink() or not p.is_dir():
        return None
    axes = p / "axes.json"
    if axes.is_file():
        try:
            doc = _read_json(axes, "axes.json")
        except StoreError:
            return None
        entries = {e.name for e in p.iterdir()}
        if isinstance(doc, dict) and doc.get("format") == STORE_FORMAT and entries <= _PARQUET_FILES:
            return "parquet"
        return None
    try:
        attrs = _zarr_root_attrs(p)
    except StoreError:
        return None
    if attrs is None:
        return None
    if attrs.get("store_format") == STORE_FORMAT or (
        attrs.get("title") == "liquidation heatmap" and attrs.get("format") == EXPORT_FORMAT
    ):
        return "zarr"
    return None


def check_store_target(final: Path, *, overwrite: bool) -> None:
    """Refuse to write a store at ``final`` when something other than a store is there (or a store, without
    ``overwrite``): :class:`FileExistsError` naming the path. Nothing is changed."""
    if final.is_symlink():
        raise FileExistsError(f"{final} is a symbolic link; refusing to replace it (choose another path)")
    if not final.exists():
        return
    if not final.is_dir():
        raise FileExistsError(f"{final} exists and is a file, not a heatmap store; nothing was changed")
    if store_kind(final) is None:
        raise FileExistsError(
            f"{final} exists and is not a heatmap store (no store metadata, or files that a store does not hold); "
            "refusing to replace it, nothing was changed: choose a new path"
        )
    if not overwrite:
        raise FileExistsError(f"{final} is an existing heatmap store; pass overwrite=True to replace it")


def _replace_dir(tmp: Path, final: Path) -> None:
    """Move ``tmp`` to ``final``; an existing ``final`` goes aside under a fresh name and is removed after."""
    if not final.exists():
        os.replace(tmp, final)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".old", dir=final.parent))
    os.replace(final, aside)
    try:
        os.replace(tmp, final)
    except BaseException:
        os.replace(aside, final)
        raise
    shutil.rmtree(aside, ignore_errors=True)


# -- writing -----------------------------------------------------------------------------------------------------
def write_heatmap(
    hm: Heatmap,
    path: str | Path,
    *,
    format: Literal["parquet", "zarr"] = "parquet",
    sparse: bool = True,
    overwrite: bool = False,
) -> Path:
    """Write ``hm`` to ``path`` (a directory); returns the path.

    Parameters
    ----------
    hm : Heatmap
    path : str or Path
        The store directory. Its parent folders are created when missing.
    format : {"parquet", "zarr"}
        Zarr needs the ``xarray`` extra (xarray and zarr).
    sparse : bool
        Parquet: keep only cells where either side is non-zero.
    overwrite : bool, default False
        Replace an existing store of this library at ``path``. Anything else at ``path`` (a file, a directory
        that is not a store) is never replaced.

    Raises
    ------
    FileExistsError
        ``path`` exists and is not a store, or is a store and ``overwrite`` is False; nothing is changed.
    ValueError
        Non-finite cells (float32 storage holds what the heatmap holds, or refuses).
    """
    if format not in ("parquet", "zarr"):
        raise ValueError(f"format must be 'parquet' or 'zarr', got {format!r}")
    final = Path(path)
    check_store_target(final, overwrite=overwrite)
    for side in ("long", "short"):
        arr = np.asarray(getattr(hm, side))
        with np.errstate(over="ignore", invalid="ignore"):
            bad = ~np.isfinite(arr.astype(np.float32))
        if bad.any():
            bt, bp = (int(i[0]) for i in np.nonzero(bad))
            raise ValueError(
                f"{side}: {int(bad.sum())} cells are not finite in float32 (first at snapshot {bt}, bin {bp}: "
                f"{float(arr[bt, bp])!r}); a store holds finite notionals below 3.4e38 [quote]"
            )
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        if format == "zarr":
            from heatmap.export import to_xarray

            shutil.rmtree(tmp)
            ds = to_xarray(hm)
            ds.attrs["store_format"] = STORE_FORMAT
            ds.attrs["store_version"] = STORE_VERSION
            ds.to_zarr(tmp, mode="w-", consolidated=False)
        else:
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
                "format": STORE_FORMAT,
                "version": STORE_VERSION,
                "shape": [T, P],
                "times": [t.isoformat() for t in hm.times],
                "price_edges": hm.price_edges.tolist(),
                "sparse": sparse,
                "meta": {
                    k: v
                    for k, v in hm.meta.items()
                    if isinstance(v, (str, int, bool)) or (isinstance(v, float) and math.isfinite(v))
                },
            }
            with open(tmp / "axes.json", "w", encoding="utf-8") as fh:
                json.dump(axes, fh, allow_nan=False)
                fh.flush()
                os.fsync(fh.fileno())
        _replace_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


# -- reading -----------------------------------------------------------------------------------------------------
def _codec_name(spec: Any) -> str | None:
    if isinstance(spec, dict):
        name = spec.get("id", spec.get("name"))
        return str(name) if name is not None else ""
    if isinstance(spec, str):
        return spec
    return ""


def _check_metadata(doc: Any, where: str, depth: int = 0) -> None:
    """Refuse object/string/structured dtypes and non-allow-listed codecs anywhere in a Zarr metadata document."""
    if depth > 64:
        raise StoreError(f"{where}: metadata nested deeper than any store writes")
    if isinstance(doc, list):
        for item in doc:
            _check_metadata(item, where, depth + 1)
        return
    if not isinstance(doc, dict):
        return
    if "dtype" in doc:
        dt = doc["dtype"]
        if not (isinstance(dt, str) and _SAFE_V2_DTYPE.match(dt)):
            raise StoreError(
                f"{where}: data type {dt!r} is not a plain numeric or datetime type; heatmap stores hold numbers "
                "only (object, string and structured types can run code through their codecs)"
            )
    if "data_type" in doc:
        dt = doc["data_type"]
        if not (isinstance(dt, str) and dt in _SAFE_V3_TYPES):
            raise StoreError(
                f"{where}: data type {dt!r} is not a plain numeric type; heatmap stores hold numbers only"
            )
    for key in ("compressor", "filters", "codecs", "index_codecs", "compressors", "serializer"):
        if key not in doc or doc[key] is None:
            continue
        specs = doc[key] if isinstance(doc[key], list) else [doc[key]]
        for spec in specs:
            name = _codec_name(spec)
            if name not in _SAFE_CODECS:
                raise StoreError(
                    f"{where}: codec {name!r} in {key!r} is not allowed (allowed: compressors and checksums such "
                    f"as blosc, zstd, zlib, gzip, crc32c); refusing to open the store"
                )
    for key, value in doc.items():
        if key == "attributes" or key.endswith(".zattrs"):
            continue  # user attributes: free-form text, never interpreted as codecs
        _check_metadata(value, where, depth + 1)


def _check_zarr_safe(path: Path) -> None:
    for root, dirs, files in os.walk(path, followlinks=False):
        for name in dirs + files:
            full = Path(root) / name
            if full.is_symlink():
                raise StoreError(f"{full}: a store holds no symbolic links; refusing to open {path}")
        for name in files:
            if name in _ZARR_METADATA and name != ".zattrs":  # attributes are free text, never decoded
                full = Path(root) / name
                _check_metadata(_read_json(full, "Zarr metadata"), str(full))


def _store_error(path: Path, exc: BaseException) -> StoreError:
    return StoreError(f"{path}: cannot read the store ({type(exc).__name__}: {exc})")


def _check_cells(cells: pd.DataFrame, T: int, P: int, where: Path) -> None:
    need = ["time_index", "price_index", "long", "short"]
    missing = [c for c in need if c not in cells.columns]
    if missing:
        raise StoreError(f"{where}: cells.parquet lacks columns {missing}")
    for c in ("time_index", "price_index"):
        if not pd.api.types.is_integer_dtype(cells[c].dtype):
            raise StoreError(f"{where}: cells.parquet column {c!r} must hold integers, got {cells[c].dtype}")
    for c, n in (("time_index", T), ("price_index", P)):
        v = cells[c].to_numpy()
        bad = (v < 0) | (v >= n)
        if bad.any():
            i = int(np.argmax(bad))
            raise StoreError(
                f"{where}: cells.parquet row {i} has {c} = {int(v[i])}, outside 0..{n - 1} "
                f"({int(bad.sum())} such rows)"
            )
    for c in ("long", "short"):
        v = cells[c].to_numpy(dtype=float)
        bad = ~np.isfinite(v)
        if bad.any():
            i = int(np.argmax(bad))
            raise StoreError(
                f"{where}: cells.parquet row {i} has {c} = {float(v[i])!r} ({int(bad.sum())} non-finite)"
            )
    key = cells["time_index"].to_numpy(dtype=np.int64) * P + cells["price_index"].to_numpy(dtype=np.int64)
    if np.unique(key).size != key.size:
        raise StoreError(f"{where}: cells.parquet lists the same cell more than once")


def _check_times(times: pd.DatetimeIndex, where: Path) -> pd.DatetimeIndex:
    """Snapshot times as a store holds them: no missing ones, strictly increasing, UTC (naive ones read as UTC)."""
    if times.hasnans:
        raise StoreError(f"{where}: {int(np.count_nonzero(times.isna()))} snapshot times are missing")
    if len(times) > 1 and not (times[1:] > times[:-1]).all():
        i = int(np.argmax(~(times[1:] > times[:-1]))) + 1
        raise StoreError(
            f"{where}: snapshot times must increase; time {i} ({times[i]}) is not after {times[i - 1]}"
        )
    return times.tz_localize("UTC") if times.tz is None else times.tz_convert("UTC")


def _check_price(price: pd.Series, where: Path) -> None:
    if not pd.api.types.is_numeric_dtype(price.dtype) or not isinstance(price.index, pd.DatetimeIndex):
        raise StoreError(
            f"{where}: the close prices must be numbers indexed by time, got {price.dtype} values indexed by "
            f"{type(price.index).__name__}"
        )


def _read_parquet_store(path: Path) -> Heatmap:
    axes_file = path / "axes.json"
    axes = _read_json(axes_file, "axes.json")
    version = axes.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise StoreError(f"{axes_file}: version must be an integer, got {version!r}")
    if version > STORE_VERSION:
        raise StoreError(
            f"{path} was written by a newer version (store format {version} > {STORE_VERSION}); upgrade"
        )
    shape = axes.get("shape")
    if not (
        isinstance(shape, list)
        and len(shape) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)
    ):
        raise StoreError(f"{axes_file}: shape must be two integers >= 0, got {shape!r}")
    T, P = shape
    times, edges = axes.get("times"), axes.get("price_edges")
    if not isinstance(times, list) or len(times) != T:
        raise StoreError(f"{axes_file}: times must list {T} snapshot times (shape {shape})")
    if not isinstance(edges, list) or len(edges) != P + 1:
        raise StoreError(f"{axes_file}: price_edges must list {P + 1} edges (shape {shape})")
    check_memory(
        2 * T * P * 4, what=f"reading {path} ({T} snapshots x {P} bins)", advice="read a smaller store"
    )
    try:
        import pyarrow.parquet as pq

        rows = pq.ParquetFile(path / "cells.parquet").metadata.num_rows
    except (ImportError, OSError, ValueError) as exc:
        raise _store_error(path, exc) from None
    if rows > T * P:
        raise StoreError(
            f"{path}: cells.parquet has {rows:,} rows, more than the {T} x {P} cells of its axes"
        )
    try:
        cells = pd.read_parquet(path / "cells.parquet")
        price = pd.read_parquet(path / "price.parquet")["close"]
        bad = [t for t in times if not isinstance(t, str)][:1]
        if bad:
            raise StoreError(f"{axes_file}: times must be ISO 8601 strings, got {bad[0]!r}")
        time_index = pd.DatetimeIndex([pd.Timestamp(t) for t in times])
    except StoreError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise _store_error(path, exc) from None
    time_index = _check_times(time_index, axes_file)
    _check_price(price, path / "price.parquet")
    _check_cells(cells, T, P, path)
    long = np.zeros((T, P), dtype=np.float32)
    short = np.zeros((T, P), dtype=np.float32)
    ti = cells["time_index"].to_numpy()
    pi = cells["price_index"].to_numpy()
    long[ti, pi] = cells["long"].to_numpy()
    short[ti, pi] = cells["short"].to_numpy()
    meta = axes.get("meta", {})
    try:
        return Heatmap(
            times=time_index,
            price_edges=np.asarray(edges, dtype=float),
            long=long,
            short=short,
            price=price,
            meta=dict(meta) if isinstance(meta, dict) else {},
        )
    except (ValueError, TypeError) as exc:
        raise _store_error(path, exc) from None


def _read_zarr_store(path: Path) -> Heatmap:
    _check_zarr_safe(path)
    import xarray as xr

    try:
        ds = xr.open_zarr(path, consolidated=False)  # the per-array metadata checked above
        missing = [v for v in ("long", "short", "price_low", "price_high", "time") if v not in ds.variables]
        if missing:
            raise StoreError(f"{path}: the Zarr store lacks variables {missing}")
        for v in ("long", "short"):
            if ds[v].dims != ("time", "price") or ds[v].dtype.kind != "f":
                raise StoreError(
                    f"{path}: variable {v!r} must be float with dims (time, price), got {ds[v].dtype} {ds[v].dims}"
                )
        T, P = ds.sizes["time"], ds.sizes["price"]
        check_memory(
            2 * T * P * 8, what=f"reading {path} ({T} snapshots x {P} bins)", advice="read a smaller store"
        )
        edges = np.append(ds["price_low"].to_numpy(), ds["price_high"].to_numpy()[-1:])
        long, short = ds["long"].to_numpy(), ds["short"].to_numpy()
        for name, arr in (("long", long), ("short", short)):
            if not np.isfinite(arr).all():
                raise StoreError(
                    f"{path}: variable {name!r} holds {int((~np.isfinite(arr)).sum())} non-finite cells"
                )
        times = _check_times(pd.DatetimeIndex(ds["time"].to_numpy()), path)
        price = (
            ds["close"].to_series().tz_localize("UTC")
            if "close" in ds
            else pd.Series(dtype=float, name="close", index=pd.DatetimeIndex([], tz="UTC"))
        )
        _check_price(price, path)
        meta: dict[str, Any] = {}
        with contextlib.suppress(ValueError, TypeError, RecursionError):
            loaded = json.loads(ds.attrs.get("meta", "{}"))
            meta = loaded if isinstance(loaded, dict) else {}
        return Heatmap(times=times, price_edges=edges, long=long, short=short, price=price, meta=meta)
    except StoreError:
        raise
    except (OSError, ValueError, KeyError, TypeError, IndexError, OverflowError) as exc:
        raise _store_error(path, exc) from None


def read_heatmap(path: str | Path) -> Heatmap:
    """Read a heatmap written by :func:`write_heatmap` (Parquet or Zarr, detected from the directory).

    Raises
    ------
    FileNotFoundError
        No directory at ``path``.
    StoreError
        A directory that is not a store of this library, a Zarr store with object/string data types or codecs
        outside the allowed compressors (checked on the metadata before anything is decoded), or a store whose
        cells do not fit its axes (negative or out-of-range indices, non-finite values, duplicate cells), snapshot
        times that are not ISO strings, missing or not increasing, close prices that are not numbers, metadata
        that is not valid JSON.
    """
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"no heatmap store at {path}")
    kind = store_kind(path)
    if kind is None:
        raise StoreError(
            f"{path} is not a heatmap store written by write_heatmap (no axes.json with format "
            f"{STORE_FORMAT!r}, and no Zarr root with store_format {STORE_FORMAT!r}); refusing to open it"
        )
    if kind == "parquet":
        return _read_parquet_store(path)
    return _read_zarr_store(path)
