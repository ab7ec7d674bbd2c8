"""One line before the first compilation of the engine: the command line says why the first run waits.

The library stays quiet (``progress=True`` is its only output); the command line checks numba's on-disk cache
of the compiled loop and, when there is none for this source yet, prints the line below on stderr.

Examples
--------
>>> note_first_compile("ledger")  # the ledger engine is never compiled: nothing to say
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["note_first_compile", "compile_pending", "NOTE"]

NOTE = "compiling the engine once, ~15 s; cached afterwards"


def compile_pending() -> bool:
    """True when the compiled loop will be compiled in this process (numba present, no valid cache entry)."""
    from heatmap.engine import _jit, loop

    try:
        if _jit.backend() != "numba":
            return False
        # numba's index of cached machine code for the loop; empty when missing or stale (source changed)
        dispatcher: Any = loop._COMPILED["run_bars"]
        index = dispatcher._cache._cache_file._load_index()
    except Exception:  # numba internals differ between versions: then say nothing rather than guess
        return False
    return not index


def note_first_compile(engine: str = "grid") -> None:
    """Print :data:`NOTE` on stderr when ``engine`` is the grid engine and its compiled loop is not cached."""
    if engine == "grid" and compile_pending():
        print(NOTE, file=sys.stderr, flush=True)
