"""One switch for the compiled kernels: numba when installed and not turned off, the same source in Python else.

The grid engine's kernels (:mod:`heatmap.engine.steps`, :mod:`heatmap.engine.loop`) are plain Python functions
written in the subset numba compiles. :func:`compile_kernels` compiles a module's kernels together (each
compiled kernel calls the compiled versions of the others); :func:`enabled` says whether a run uses them or the
plain functions. Set ``HEATMAP_JIT=0`` (or false/no/off) to run the plain Python source, e.g. in a debugger; it
gives the same numbers, slowly (tests run it on small inputs).

Examples
--------
>>> from heatmap.engine import _jit
>>> isinstance(_jit.HAS_NUMBA, bool) and isinstance(_jit.enabled(), bool)
True
>>> @jit(cache=False)  # functions defined at a prompt have no file to cache to
... def twice(x):
...     return 2.0 * x
>>> float(twice(1.5))
3.0
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import os
import types
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

__all__ = ["HAS_NUMBA", "backend", "compile_kernels", "enabled", "jit"]

_numba: Any
try:
    _numba = importlib.import_module("numba")
except ImportError:  # pragma: no cover - numba is a dependency; kept for platforms without wheels
    _numba = None

#: True when numba can be imported.
HAS_NUMBA = _numba is not None

_SWITCH = {
    "1": True,
    "true": True,
    "yes": True,
    "on": True,
    "0": False,
    "false": False,
    "no": False,
    "off": False,
}

#: Options of every compiled kernel: machine code cached on disk, no GIL held.
OPTIONS: dict[str, Any] = {"cache": True, "nogil": True}


def enabled() -> bool:
    """True when numba is installed and ``HEATMAP_JIT`` (default 1) does not turn it off.

    Raises
    ------
    ValueError
        ``HEATMAP_JIT`` set to something other than 1/0, true/false, yes/no or on/off.
    """
    raw = os.environ.get("HEATMAP_JIT", "1")
    value = _SWITCH.get(raw.strip().lower())
    if value is None:
        raise ValueError(f"HEATMAP_JIT={raw!r}; allowed: 1/0, true/false, yes/no, on/off")
    return HAS_NUMBA and value


def backend() -> str:
    """``"numba"`` or ``"python"``: which form of the kernels a run started now uses."""
    return "numba" if enabled() else "python"


def jit(function: Callable[..., Any] | None = None, **options: Any) -> Any:
    """``numba.njit`` with :data:`OPTIONS` (usable as ``jit(f)`` and ``@jit(...)``); the function itself without
    numba."""

    def wrap(f: Callable[..., Any]) -> Any:
        if _numba is None:  # pragma: no cover - see HAS_NUMBA
            return f
        return _numba.njit(**{**OPTIONS, **options})(f)

    return wrap if function is None else wrap(function)


def compile_kernels(functions: Iterable[Callable[..., Any]]) -> dict[str, Any]:
    """Compiled versions of ``functions`` (keyed by name) that call each other's compiled versions.

    Each function is rebuilt on a copy of its module's globals in which the names of all ``functions`` refer
    to the compiled versions (compiled lazily on first call, machine code cached on disk); the plain functions
    are left untouched. Without numba the plain functions are returned.
    """
    funcs = list(functions)
    if _numba is None:  # pragma: no cover - see HAS_NUMBA
        return {f.__name__: f for f in funcs}
    scope: dict[str, Any] = {}
    for f in funcs:  # the union of the functions' module globals
        scope.update(f.__globals__)
    out: dict[str, Any] = {}
    for f in funcs:
        g = types.FunctionType(f.__code__, scope, f.__name__, f.__defaults__, f.__closure__)
        g.__qualname__ = f.__qualname__
        g.__module__ = f.__module__
        out[f.__name__] = jit(g)
    scope.update(out)
    _drop_stale_cache(funcs, out.values())
    return out


#: Name of the file, beside the cached machine code, that records which source it was compiled from.
STAMP = "heatmap-kernels.sha256"


def _drop_stale_cache(funcs: list[Callable[..., Any]], compiled: Iterable[Any]) -> None:
    """Remove cached machine code of ``funcs`` compiled from other source than today's.

    numba validates a cached function by its own file's time stamp only, but a compiled kernel contains the
    kernels it calls, which may live in another file: after an edit of ``steps.py`` alone, the cached
    ``loop.run_bars`` would still run the old steps. So the digest of all the kernels' source files is kept in
    :data:`STAMP` beside the cache, and when it differs the cache files of those modules are deleted (they are
    rebuilt on first use). Failures to read or write the cache folder leave it as it is.
    """
    files = sorted({str(inspect.getsourcefile(f)) for f in funcs})
    try:
        digest = hashlib.sha256(b"".join(Path(p).read_bytes() for p in files)).hexdigest()
    except OSError:
        return
    stems = {Path(p).stem for p in files}
    folders = {getattr(getattr(d, "_cache", None), "_cache_path", None) for d in compiled}
    for folder in filter(None, folders):
        stamp = Path(folder) / STAMP
        try:
            if stamp.is_file() and stamp.read_text(encoding="ascii") == digest:
                continue
            for entry in Path(folder).iterdir():
                if entry.suffix in (".nbi", ".nbc") and entry.name.split(".", 1)[0] in stems:
                    entry.unlink(missing_ok=True)
            stamp.write_text(digest, encoding="ascii")
        except OSError:
            continue
