"""A process-wide LRU cache of parsed sealed models, keyed by what makes a sealed model immutable.

Key: (address, code hash, committed storage root, recorded keccak-256, length). An account with the canonical
ModelStore code can no longer change its storage once sealed, so the key determines the bytes (also across
chains in one process, and for a genesis whose recorded hash is wrong); a miss reads and verifies them.
Invalid models are cached too (as None) so a corrupt model cannot make every INFER re-read its storage.
The cache never changes a result or a gas amount (tests run both with `enabled` on and off).
"""

from __future__ import annotations

from lru import LRU

from evm_ext.model import Model

CacheKey = tuple[bytes, bytes, bytes, bytes, int]
ABSENT = object()  # sentinel: no entry


class ModelCache:
    """LRU of `Model | None` (None: invalid model) with an on/off switch."""

    def __init__(self, capacity: int) -> None:
        self.enabled = True
        self._entries = LRU(capacity)

    def lookup(self, key: CacheKey) -> Model | None | object:
        """The cached entry for `key`, or `ABSENT` (also when disabled)."""
        if not self.enabled:
            return ABSENT
        return self._entries.get(key, ABSENT)

    def store(self, key: CacheKey, model: Model | None) -> None:
        if self.enabled:
            self._entries[key] = model

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


MODEL_CACHE = ModelCache(capacity=32)
