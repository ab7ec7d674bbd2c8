"""Shared by the benchmark scripts: rewrite one marked section of docs/performance.md."""

from __future__ import annotations

from pathlib import Path

from heatmap.io.atomic import atomic_write

DOC = Path(__file__).resolve().parents[1] / "docs" / "performance.md"


def write_section(begin: str, end: str, text: str, doc_path: Path = DOC) -> None:
    """Replace the text between ``begin`` and ``end`` markers (inclusive) by ``text``, or append it."""
    doc = doc_path.read_text(encoding="utf-8")
    if begin in doc:
        doc = doc[: doc.index(begin)] + text + doc[doc.index(end) + len(end) :]
    else:
        doc = doc.rstrip() + "\n\n" + text + "\n"
    with atomic_write(doc_path, "w") as fh:
        fh.write(doc)
