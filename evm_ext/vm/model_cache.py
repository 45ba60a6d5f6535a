"""A process-wide LRU cache of parsed sealed models, keyed by what makes a sealed model immutable.

Key: (address, code hash, committed storage root, recorded keccak-256, length). An account with the canonical
ModelStore code can no longer change its storage once sealed, so the key determines the bytes (also across
chains in one process, and for a genesis whose recorded hash is wrong); a miss reads and verifies them.
Invalid models are cached too (as None) so a corrupt model cannot make every INFER re-read its storage.
The cache is bounded by the total length of the cached models (so evicting a big model takes as many bytes
of other models, each paid for at SSTORE prices when uploaded) and by an entry count.
The cache never changes a result or a gas amount (tests run both with `enabled` on and off).
"""

from __future__ import annotations

from lru import LRU

from evm_ext.model import Model

CacheKey = tuple[bytes, bytes, bytes, bytes, int]
ABSENT = object()  # sentinel: no entry


class ModelCache:
    """LRU of `Model | None` (None: invalid model) holding at most `byte_budget` model bytes."""

    def __init__(self, byte_budget: int, capacity: int) -> None:
        self.enabled = True
        self.byte_budget = byte_budget
        self.cached_bytes = 0
        self._entries = LRU(capacity, callback=self._evicted)

    def lookup(self, key: CacheKey) -> Model | None | object:
        """The cached entry for `key`, or `ABSENT` (also when disabled)."""
        if not self.enabled:
            return ABSENT
        return self._entries.get(key, ABSENT)

    def store(self, key: CacheKey, model: Model | None) -> None:
        """Cache `model` (the key's last item is the model's length in bytes), evicting the least recent."""
        if not self.enabled or key in self._entries:
            return
        self._entries[key] = model
        self.cached_bytes += key[-1]
        while self.cached_bytes > self.byte_budget and len(self._entries) > 1:
            self._evicted(*self._entries.popitem(least_recent=True))

    def _evicted(self, key: CacheKey, _model: Model | None) -> None:
        self.cached_bytes -= key[-1]

    def clear(self) -> None:
        self._entries.clear()
        self.cached_bytes = 0

    def __len__(self) -> int:
        return len(self._entries)


MODEL_CACHE = ModelCache(byte_budget=32 << 20, capacity=1024)
