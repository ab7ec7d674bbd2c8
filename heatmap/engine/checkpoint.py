"""Estimator checkpoints on disk: the file format, and every check a file passes before it is accepted.

A checkpoint is an ``.npz`` archive (read with ``allow_pickle=False``) of numpy arrays plus one ``meta`` array
holding UTF-8 JSON. :func:`read_checkpoint` validates the container, the metadata (size, nesting depth, JSON
syntax, format name and version, every key with its type and range), then :func:`check_arrays` the arrays
(presence, dtype, shape against the grid and the metadata, finite values, ordered times) and the engine state.
Every failure is a :class:`CheckpointError` naming the file and the culprit; nothing is built before all checks
pass.

Examples
--------
>>> import io, numpy as np
>>> buf = io.BytesIO(); np.save(buf, np.zeros(3)); _ = buf.seek(0)
>>> try:
...     read_checkpoint("x.npz", opener=lambda: buf)
... except CheckpointError as exc:
...     print(exc)
x.npz: not an estimator checkpoint: a single .npy array, expected an .npz archive
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

from heatmap.engine.base import LEDGER_COLUMNS

__all__ = [
    "CHECKPOINT_VERSION",
    "FORMAT",
    "MAX_META_BYTES",
    "MAX_META_DEPTH",
    "CheckpointError",
    "check_arrays",
    "check_state",
    "read_checkpoint",
]

#: Name stored in every checkpoint's metadata.
FORMAT = "liquidation-heatmap estimator checkpoint"
#: Version of the checkpoint format (3: the grid engine's state carries a second within-bin moment per bin,
#: ``state_mom2``; 2: the side split's memory is one carried funding rate). Older formats are refused: their grid
#: state lacks the moment that funding shifts need.
CHECKPOINT_VERSION = 3
#: Largest metadata JSON accepted [bytes], and its deepest nesting (a model is a few levels deep).
MAX_META_BYTES = 4 * 2**20
MAX_META_DEPTH = 32

RESULT_ARRAYS = ("edges", "snap_long", "snap_short", "snap_times", "ledger", "liquidations", "price", "times")
STATE_ARRAYS: dict[str, tuple[str, ...]] = {
    "grid": (
        "mass",
        "mom",
        "mom2",
        "off",
        "tot",
        "bounds",
        "store",
        "scale",
        "order",
        "block_bar",
        "block_entry",
    ),
    "ledger": ("c_side", "c_bar", "c_entry", "c_leverage", "c_qty", "c_lp", "c_mmr", "c_funding", "bar"),
}


class CheckpointError(ValueError):
    """A checkpoint file that cannot be accepted (the message names the file and what is wrong)."""


def _fail(path: Any, what: str) -> CheckpointError:
    return CheckpointError(f"{path}: not an estimator checkpoint: {what}")


def _depth(text: str) -> int:
    """Deepest nesting of JSON arrays/objects in ``text`` (brackets inside strings ignored)."""
    depth = top = 0
    in_str = escape = False
    for ch in text:
        if in_str:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            top = max(top, depth)
        elif ch in "]}":
            depth -= 1
    return top


_INT = (int,)
_NUM = (int, float)
#: key -> (allowed types, required in every version)
_META_KEYS: dict[str, tuple[tuple[type, ...], bool]] = {
    "format": ((str,), True),
    "version": (_INT, True),
    "engine": ((str,), True),
    "snapshot_every": (_INT, True),
    "bins": (_INT, True),
    "user_grid": ((bool,), True),
    "n_bars": (_INT, True),
    "last_time": ((str,), True),
    "last_oi": (_NUM, True),
    "freq": ((str,), True),
    "symbol": ((str, type(None)), True),
    "seconds": (_NUM, True),
    "model": ((dict, type(None)), True),
    "model_repr": ((str,), True),
    "age_blocks": ((int, type(None)), False),
    "resolution": ((int, type(None)), False),
    "leverage_nodes": ((int, type(None)), False),
    "entry_nodes": ((int, type(None)), False),
    "funding_carry": (_NUM, True),
    "reference_price": ((int, float, type(None)), False),
}


def _check_meta(path: Any, meta: Any) -> dict[str, Any]:
    if not isinstance(meta, dict):
        raise _fail(path, f"metadata is a JSON {type(meta).__name__}, expected an object")
    if meta.get("format") != FORMAT:
        raise _fail(path, f"metadata 'format' is {meta.get('format')!r}, expected {FORMAT!r}")
    version = meta.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise _fail(path, f"metadata 'version' is {version!r}, expected an integer")
    if version > CHECKPOINT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {version} is newer than this library's {CHECKPOINT_VERSION}; "
            "upgrade liquidation-heatmap"
        )
    if version < 1:
        raise _fail(path, f"unknown checkpoint format version {version}")
    if version < CHECKPOINT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {version} is older than the version {CHECKPOINT_VERSION} this "
            "library reads (format 3 added the grid engine's second within-bin moment); rerun the estimator "
            "over the bars to rebuild the state"
        )
    for key, (types, required) in _META_KEYS.items():
        if key not in meta:
            if required:
                raise _fail(path, f"metadata key {key!r} is missing")
            continue
        v = meta[key]
        if (isinstance(v, bool) and bool not in types) or not isinstance(v, types):
            raise _fail(path, f"metadata {key!r} is {v!r} ({type(v).__name__}), expected {_names(types)}")
        if isinstance(v, float) and not np.isfinite(v):
            raise _fail(path, f"metadata {key!r} is {v!r}, expected a finite number")
    if meta["engine"] not in STATE_ARRAYS:
        raise _fail(path, f"metadata 'engine' is {meta['engine']!r}, expected 'grid' or 'ledger'")
    for key, low in (("snapshot_every", 1), ("bins", 2), ("n_bars", 1)):
        if meta[key] < low:
            raise _fail(path, f"metadata {key!r} is {meta[key]!r}, expected an integer >= {low}")
    for key in ("last_oi", "seconds"):
        if meta[key] < 0:
            raise _fail(path, f"metadata {key!r} is {meta[key]!r}, expected a number >= 0")
    if meta.get("reference_price") is not None and not meta["reference_price"] > 0:
        raise _fail(path, f"metadata 'reference_price' is {meta['reference_price']!r}, expected a price > 0")
    for key in ("age_blocks", "resolution", "leverage_nodes", "entry_nodes"):
        if meta.get(key) is not None and meta[key] < 1:
            raise _fail(path, f"metadata {key!r} is {meta[key]!r}, expected a positive integer or null")
    return meta


def _names(types: tuple[type, ...]) -> str:
    return " or ".join("null" if t is type(None) else t.__name__ for t in types)


def read_checkpoint(
    path: Any, *, opener: Callable[[], IO[bytes]] | None = None
) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
    """The metadata and arrays of the checkpoint at ``path``, the container and metadata validated.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    CheckpointError
        A file that is not a readable ``.npz`` archive (a single ``.npy`` array, truncated, corrupt), no or
        malformed metadata (not UTF-8 JSON, larger than :data:`MAX_META_BYTES`, nested deeper than
        :data:`MAX_META_DEPTH`, a missing or mistyped key), or a format version this library does not read.
    """
    try:
        with opener() if opener is not None else open(path, "rb") as fh:
            z = np.load(fh, allow_pickle=False)
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise _fail(path, "a single .npy array, expected an .npz archive")
            with z:
                data = {k: z[k] for k in z.files}
    except (FileNotFoundError, CheckpointError):
        raise
    except Exception as exc:
        # a corrupt container fails anywhere in zipfile, zlib or numpy's header parser (BadZipFile, zlib.error,
        # EOFError, ValueError, SyntaxError, tokenize.TokenError, a MemoryError for a huge declared shape, ...):
        # whatever the exception, the file is not a readable checkpoint
        raise CheckpointError(
            f"{path}: not a readable estimator checkpoint (truncated or corrupt): {exc}"
        ) from exc
    if "meta" not in data:
        raise _fail(path, "no metadata array 'meta'")
    raw = data.pop("meta")
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise _fail(path, f"metadata array has dtype {raw.dtype} and shape {raw.shape}, expected 1-D uint8")
    if raw.size > MAX_META_BYTES:
        raise _fail(path, f"metadata of {raw.size:,} bytes exceeds the limit of {MAX_META_BYTES:,}")
    try:
        text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(path, f"metadata is not UTF-8 ({exc})") from exc
    depth = _depth(text)
    if depth > MAX_META_DEPTH:
        raise _fail(
            path, f"metadata JSON is nested {depth} levels deep, more than the limit of {MAX_META_DEPTH}"
        )
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError) as exc:  # ValueError: malformed JSON, or an integer of > 4,300 digits
        raise _fail(path, f"metadata is malformed JSON ({exc})") from exc
    return _check_meta(path, meta), data


def _array(
    path: Any, data: dict[str, NDArray[Any]], name: str, kinds: str, shape: tuple[int | None, ...]
) -> None:
    if name not in data:
        raise _fail(path, f"array {name!r} is missing")
    a = data[name]
    if a.dtype.kind not in kinds:
        raise _fail(
            path, f"array {name!r} has dtype {a.dtype}, expected {'integers' if kinds == 'iu' else 'numbers'}"
        )
    if a.ndim != len(shape) or any(s is not None and s != n for s, n in zip(shape, a.shape, strict=True)):
        want = (
            "("
            + ", ".join("any" if s is None else str(s) for s in shape)
            + ("," if len(shape) == 1 else "")
            + ")"
        )
        raise _fail(path, f"array {name!r} has shape {a.shape}, expected {want}")


def _refuse_cells(
    path: Any, name: str, a: NDArray[Any], bad: NDArray[np.bool_], what: str, *, show: bool
) -> None:
    """Raise naming the array, how many cells are ``what`` and the first of them (with its value if ``show``)."""
    if bad.any():
        first = np.unravel_index(int(np.flatnonzero(bad.ravel())[0]), a.shape)
        value = f"{float(a[first])!r} " if show else ""
        raise _fail(
            path,
            f"array {name!r} holds {int(bad.sum())} {what} value(s) "
            f"(first {value}at index {tuple(int(i) for i in first)})",
        )


def _finite(path: Any, data: dict[str, NDArray[Any]], name: str, *, allow_inf: bool = False) -> None:
    a = data[name]
    bad = np.isnan(a) if allow_inf else ~np.isfinite(a)
    _refuse_cells(path, name, a, bad, "NaN" if allow_inf else "non-finite", show=False)


def _non_negative(path: Any, data: dict[str, NDArray[Any]], name: str, *, positive: bool = False) -> None:
    """Masses, notionals and prices cannot be negative (prices: nor zero); rounding of the order of 1e-9 of the
    array's largest value is accepted as zero."""
    a = np.asarray(data[name], dtype=float)
    if a.size == 0:
        return
    bad = a <= 0 if positive else a < -1e-9 * float(np.abs(a).max())
    _refuse_cells(path, name, a, bad, "non-positive" if positive else "negative", show=True)


def check_arrays(path: Any, meta: dict[str, Any], data: dict[str, NDArray[Any]]) -> int:
    """Check the result arrays against each other and the metadata; return the number of bins ``P``."""
    _array(path, data, "edges", "f", (None,))
    _finite(path, data, "edges")
    P = data["edges"].size - 1
    if P < 2 or np.any(np.diff(data["edges"]) <= 0) or data["edges"][0] <= 0:
        raise _fail(path, f"array 'edges' ({data['edges'].size} values) is not an increasing positive grid")
    n = int(meta["n_bars"])
    k = n // int(meta["snapshot_every"])
    for name, kinds, shape in (
        ("snap_long", "f", (k, P)),
        ("snap_short", "f", (k, P)),
        ("snap_times", "iu", (k,)),
        ("ledger", "f", (n, len(LEDGER_COLUMNS))),
        ("liquidations", "f", (n, 2)),
        ("price", "f", (n,)),
        ("times", "iu", (n,)),
    ):
        _array(path, data, name, kinds, shape)
        if kinds == "f":
            _finite(path, data, name)
            _non_negative(path, data, name, positive=name == "price")
    times = data["times"]
    if np.any(np.diff(times) <= 0):
        raise _fail(path, "array 'times' is not strictly increasing")
    if not np.isin(data["snap_times"], times).all():
        raise _fail(path, "array 'snap_times' holds times that are not bar times")
    return P


def check_state(path: Any, engine: str, data: dict[str, NDArray[Any]], P: int, blocks: int) -> None:
    """Check the saved engine state (``state_*`` arrays) of ``engine`` against the grid (``P`` bins)."""
    names = {k[6:]: v for k, v in data.items() if k.startswith("state_")}
    st = {f"state_{k}": v for k, v in names.items()}

    def arr(name: str, kinds: str, shape: tuple[int | None, ...], *, allow_inf: bool = False) -> None:
        _array(path, st, f"state_{name}", kinds, shape)
        if kinds == "f":
            _finite(path, st, f"state_{name}", allow_inf=allow_inf)

    if engine == "grid":
        # the state lives on the price grid plus ``store`` = (below, above) margin bins
        arr("store", "iu", (2,))
        below, above = (int(x) for x in names["store"])
        if below < 0 or above < 0:
            raise _fail(path, f"array 'state_store' {names['store'].tolist()} must be non-negative")
        P = P + below + above
        arr("mass", "f", (2, blocks, P))
        arr("mom", "f", (2, blocks, P))
        arr("mom2", "f", (2, blocks, P))
        arr("off", "f", (2, blocks))
        arr("tot", "f", (2, blocks))
        for name in ("mass", "mom", "mom2", "off", "tot"):
            _non_negative(path, st, f"state_{name}")
        arr("bounds", "iu", (3,))
        arr("scale", "f", (2,))
        arr("order", "iu", (None,))
        arr("block_bar", "iu", (blocks,))
        arr("block_entry", "f", (blocks,))
        hi, lo, _ = (int(x) for x in names["bounds"])
        if not (0 <= hi <= P and 0 <= lo <= P):
            raise _fail(
                path, f"array 'state_bounds' {names['bounds'].tolist()} is outside the store grid's {P} bins"
            )
        if np.any(names["scale"] <= 0):
            raise _fail(path, f"array 'state_scale' {names['scale'].tolist()} must be positive")
        order = names["order"]
        if (
            order.size > blocks
            or np.any((order < 0) | (order >= blocks))
            or np.unique(order).size != order.size
        ):
            raise _fail(
                path, f"array 'state_order' {order.tolist()[:8]} is not a set of block rows < {blocks}"
            )
        return
    arr("c_qty", "f", (None,))
    n = names["c_qty"].size
    for name, kinds in (
        ("c_side", "iu"),
        ("c_bar", "iu"),
        ("c_entry", "f"),
        ("c_leverage", "f"),
        ("c_mmr", "f"),
        ("c_funding", "f"),
    ):
        arr(name, kinds, (n,))
    arr("c_lp", "f", (n,), allow_inf=True)  # inverse shorts out of reach sit at LP = inf
    arr("bar", "iu", (1,))
    if np.any((names["c_side"] != 0) & (names["c_side"] != 1)):
        raise _fail(path, "array 'state_c_side' holds values other than 0 (long) and 1 (short)")
    if np.any(names["c_qty"] < 0):
        raise _fail(path, "array 'state_c_qty' holds negative quantities")
