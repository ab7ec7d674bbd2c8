"""The ``demo`` command end to end, as a subprocess (synthetic data, no files needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_demo_writes_a_png_and_reports_clusters(tmp_path: Path) -> None:
    out = tmp_path / "demo.png"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "heatmap",
            "demo",
            "--out",
            str(out),
            "--days",
            "5",
            "--bins",
            "300",
            "--seed",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.exists() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "120 bars" in proc.stdout
    assert "clusters" in proc.stdout
    assert "total" in proc.stdout


def test_demo_rejects_bad_arguments() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "heatmap", "demo", "--days", "0"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode != 0
    assert "positive integer" in proc.stderr
