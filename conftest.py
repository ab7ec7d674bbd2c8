"""Shared pytest set-up: docstring examples print numpy scalars as plain numbers (``2.0``, not ``np.float64(2.0)``)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from _pytest.doctest import DoctestItem

# scripts that write test fixtures are not tests (and two of them share a name)
collect_ignore_glob = ["tests/fixtures/*"]


@pytest.fixture(autouse=True)
def _plain_scalars_in_docstring_examples(request: pytest.FixtureRequest) -> Iterator[None]:
    if isinstance(request.node, DoctestItem):
        with np.printoptions(legacy="1.25"):
            yield
    else:
        yield
