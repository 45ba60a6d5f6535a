"""The models/<name>/metrics.json files: one JSON object of sections ("float" from training, "quantized"
from models.build), written with sorted keys so re-runs give minimal diffs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def update_metrics(path: Path, section: str, values: dict[str, Any]) -> None:
    """Set `section` of the metrics JSON file at `path` (other sections are kept)."""
    metrics = json.loads(path.read_text()) if path.exists() else {}
    metrics[section] = values
    path.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
