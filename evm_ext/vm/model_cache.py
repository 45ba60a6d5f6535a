"""A process-wide LRU cache of parsed sealed models, keyed by what makes a sealed model immutable.

Key: (address, code hash, committed storage root, recorded keccak-256, length). An account with the canonical
ModelStore code can no longer change its storage once sealed, so the key determines the bytes (also across
chains in one process, and for a genesis whose recorded hash is wrong); a miss reads and verifies them.
Invalid models are cached too (as None) so a corrupt model cannot make every INFER re-read its storage.
The cache is bounded by the total length of the cached models (so evicting a big model takes as many bytes
of other models, each paid for at SSTORE prices when uploaded) and by an entry count.
The cache never changes a result or a gas amount (tests run both with `enabled` on and off).

It also holds sealed-model headers (`model_store.read_header`), keyed by (address, committed storage
root) and used only for an account with no storage write in the current state: its slots are then
those of the committed root, so the key determines them.
"""

from __future__ import annotations

from typing import Any

from lru import LRU

from evm_ext.model import Model

CacheKey = tuple[bytes, bytes, bytes, bytes, int]
HeaderKey = tuple[bytes, bytes]
ABSENT = object()  # sentinel: no entry


class ModelCache:
    """LRU of `Model | None` (None: invalid model) holding at most `byte_budget` model bytes."""

    def __init__(self, byte_budget: int, capacity: int) -> None:
        self.enabled = True
        self.byte_budget = byte_budget
        self.cached_bytes = 0
        self._entries = LRU(capacity, callback=self._evicted)
        self._headers = LRU(4 * capacity)

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

    def lookup_header(self, key: HeaderKey) -> Any:
        """The cached header (or None: not a valid sealed model) for `key`, or `ABSENT`."""
        return self._headers.get(key, ABSENT) if self.enabled else ABSENT

    def store_header(self, key: HeaderKey, header: Any) -> None:
        if self.enabled:
            self._headers[key] = header

    def clear(self) -> None:
        self._entries.clear()
        self._headers.clear()
        self.cached_bytes = 0

    def __len__(self) -> int:
        return len(self._entries)


MODEL_CACHE = ModelCache(byte_budget=32 << 20, capacity=1024)
