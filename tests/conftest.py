"""Project-wide pytest settings. Area-specific fixtures live in each area's own helper modules; the
devnet's `node` and `w3` fixtures (tests/node_fixtures.py) are registered here for every test module."""

from __future__ import annotations

from pathlib import Path

pytest_plugins = ("tests.node_fixtures",)

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
