"""Shared pytest set-up: docstring examples print numpy scalars as plain numbers (``2.0``, not ``np.float64(2.0)``);
property tests draw the same examples on every run (``HYPOTHESIS_PROFILE=explore`` draws new ones)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pytest
from _pytest.doctest import DoctestItem
from hypothesis import settings

# a test run is repeatable (CI sees the examples a developer saw); exploring for new counterexamples is a choice
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

# scripts that write test fixtures are not tests (and two of them share a name)
collect_ignore_glob = ["tests/fixtures/*"]


@pytest.fixture(autouse=True)
def _plain_scalars_in_docstring_examples(request: pytest.FixtureRequest) -> Iterator[None]:
    if isinstance(request.node, DoctestItem):
        with np.printoptions(legacy="1.25"):
            yield
    else:
        yield
