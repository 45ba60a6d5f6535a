"""The compile cache: finished compilations stored as JSON, keyed by everything that decides them.

The key is the SHA-256 of the pipeline version, the compiler build, the settings and every source unit
(the main file and all it imports), so an edit to any imported file is a miss. Entries are written
atomically (temp file + rename); an unreadable entry counts as a miss and is overwritten.
Location: `$AIEVM_CACHE_DIR`, else `~/.cache/aievm/solc`.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path


def cache_dir() -> Path:
    env = os.environ.get("AIEVM_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "aievm" / "solc"


def cache_key(parts: dict) -> str:
    """A stable hash of a JSON-serialisable description of a compilation."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def load(key: str) -> dict | None:
    try:
        return json.loads((cache_dir() / key[:2] / f"{key}.json").read_text())
    except (OSError, ValueError):
        return None


def store(key: str, value: dict) -> None:
    """Best effort: an unwritable cache directory only costs the next compile its speed."""
    folder = cache_dir() / key[:2]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(value, f)
        os.replace(tmp, folder / f"{key}.json")
    except OSError:
        return
