"""Compiled (numba) per-bar loop of the grid engine: placeholder until the compiled loop lands."""

from __future__ import annotations

from typing import Any


def supports(engine: Any) -> bool:
    """Whether the compiled loop can run ``engine``'s configuration (else the Python loop runs)."""
    return False


def run(engine: Any, bars: Any, out: Any) -> None:  # pragma: no cover - not reachable while supports() is False
    raise NotImplementedError
