"""Project-wide pytest settings. Area-specific fixtures live in each area's own helper modules."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
