"""A process-wide LRU cache of decoded sealed models, keyed by model id.

INFER verifies, before it reads the cache, that the chunk accounts' code hashes commit to the store's
recorded model id (`model_store.verify_chunks`); code is stored by its hash, so the id determines the
bytes (on every chain in the process). A hit skips reading the chunks' code and decoding; a miss does both.
Invalid models are cached too (model None). The cache never changes a result or a gas amount: gas prices
the miss (tests run with `enabled` on and off and compare every gas figure).
It is bounded by the total length of the cached models and by an entry count.
"""

from __future__ import annotations

from dataclasses import dataclass

from lru import LRU

from evm_ext.model import Model

ABSENT = object()  # sentinel: no entry


@dataclass(frozen=True)
class CachedModel:
    """A decode result: the model (None if invalid), the op count its decode was charged for and the sum
    of the build charges it made (`gas.build_gas` per op built)."""

    model: Model | None
    declared_ops: int
    build_gas: int


class ModelCache:
    """LRU of `CachedModel` by model id, holding at most `byte_budget` model bytes."""

    def __init__(self, byte_budget: int, capacity: int) -> None:
        self.enabled = True
        self.byte_budget = byte_budget
        self.cached_bytes = 0
        self._sizes: dict[bytes, int] = {}
        self._entries = LRU(capacity, callback=self._evicted)

    def lookup(self, model_id: bytes) -> CachedModel | object:
        """The cached entry for `model_id`, or `ABSENT` (also when disabled)."""
        if not self.enabled:
            return ABSENT
        return self._entries.get(model_id, ABSENT)

    def store(self, model_id: bytes, entry: CachedModel, length: int) -> None:
        """Cache `entry` (of a model of `length` bytes), evicting the least recent."""
        if not self.enabled or model_id in self._entries:
            return
        self._sizes[model_id] = length
        self._entries[model_id] = entry
        self.cached_bytes += length
        while self.cached_bytes > self.byte_budget and len(self._entries) > 1:
            self._evicted(*self._entries.popitem(least_recent=True))

    def _evicted(self, model_id: bytes, _entry: CachedModel) -> None:
        self.cached_bytes -= self._sizes.pop(model_id, 0)

    def clear(self) -> None:
        self._entries.clear()
        self._sizes.clear()
        self.cached_bytes = 0

    def __len__(self) -> int:
        return len(self._entries)


MODEL_CACHE = ModelCache(byte_budget=32 << 20, capacity=1024)
