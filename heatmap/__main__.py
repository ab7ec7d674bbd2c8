"""``python -m heatmap``."""

from heatmap.cli import main

raise SystemExit(main())
