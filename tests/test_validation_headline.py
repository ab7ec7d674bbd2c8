"""The committed headline numbers (docs/validation.md, README.md) are what the code computes today.

Recomputes the count table (1h path against the path-aware null, test window) and the location tables (event
window, test and training parts) with ``benchmarks/validation_headline.py`` and compares every number with the
marked sections written by ``benchmarks/run_location.py``, to ±0.005. Skipped when ../shared/data is absent.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import run_location  # noqa: E402
import validation_headline as vh  # noqa: E402

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.slow,
    pytest.mark.skipif(not vh.available(), reason="../shared/data is absent"),
]
TOL = 0.005


def _section(path: Path, name: str) -> str:
    text = path.read_text(encoding="utf-8")
    begin, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    assert begin in text and end in text, f"{path.name} has no {name} section; run benchmarks/run_location.py"
    return text[text.index(begin) : text.index(end) + len(end)]


def _same(committed: str, fresh: str) -> None:
    a, b = vh.numbers(committed), vh.numbers(fresh)
    assert a.size == b.size, "the table's shape changed; rerun benchmarks/run_location.py"
    bad = np.flatnonzero(np.abs(a - b) > TOL)
    assert bad.size == 0, (
        f"{bad.size} numbers drifted by more than {TOL} (first: committed {a[bad[0]]}, now {b[bad[0]]}); "
        "rerun benchmarks/run_location.py"
    )


@pytest.fixture(scope="module")
def tables():
    count = vh.count_table()
    test, _ = vh.location_table(vh.LOC_TEST)
    train, _ = vh.location_table(vh.LOC_TRAIN)
    return count, test, train


def test_count_headline_matches_the_docs(tables):
    count, _, _ = tables
    _same(_section(run_location.DOC, "validation:count"), run_location.count_section(count))


def test_location_tables_match_the_docs(tables):
    _, test, train = tables
    _same(_section(run_location.DOC, "validation:where"), run_location.where_section(test, train))


def test_readme_headline_matches(tables):
    count, test, _ = tables
    _same(_section(run_location.README, "validation:headline"), run_location.headline_section(count, test))
