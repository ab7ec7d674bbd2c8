"""Write docs/figures/interactive.png: the interactive HTML heatmap rendered by headless Chromium.

Run from the repository root: ``python docs/make_interactive_screenshot.py`` (needs Debian's ``chromium``).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import heatmap as lh

HERE = Path(__file__).resolve().parent


def main() -> Path:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        raise SystemExit("needs Chromium (Debian package 'chromium')")
    market = lh.synthetic_market(days=30, freq="1h", seed=7)
    hm = lh.estimate(market, bins=600)
    out = HERE / "figures" / "interactive.png"
    with tempfile.TemporaryDirectory() as tmp:
        page = hm.to_html(Path(tmp) / "heatmap.html", market=market)
        subprocess.run(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp}/profile",
             "--hide-scrollbars", "--window-size=1160,660", "--virtual-time-budget=8000",
             f"--screenshot={out}", page.resolve().as_uri()],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    return out


if __name__ == "__main__":
    print(main())
