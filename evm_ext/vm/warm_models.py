"""The models decoded in the current transaction: INFER's warm rule (docs/gas.md, "Cold and warm").

EIP-2929 keeps an access set per transaction, journaled with the state: a frame that reverts forgets what
it accessed. The decoded-model set follows the same semantics, so that a second INFER on the same model
in the same transaction may skip the copy and decode charges (the node holds the decoded model for the
rest of the transaction, whatever its cross-transaction cache does, and reads none of its chunks again):

- `snapshot()` opens a frame, `commit()` merges it into its parent, `revert()` forgets what it added;
- `lock_changes()` (the end of a transaction) forgets everything.

Entries are keyed by the ModelStore address; a sealed store never changes, so an entry stays valid.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_typing import Address

from evm_ext.model import Model


@dataclass(frozen=True)
class WarmModel:
    """A model decoded in this transaction: the decoded model, or None if it did not decode (a second INFER
    then fails without re-decoding)."""

    model: Model | None


class WarmModels:
    """A journaled set of decoded models: frames keyed by the state's checkpoints."""

    def __init__(self) -> None:
        self._entries: dict[Address, WarmModel] = {}
        self._frames: list[tuple[object, list[Address]]] = []

    def get(self, store: Address) -> WarmModel | None:
        return self._entries.get(store)

    def add(self, store: Address, entry: WarmModel) -> None:
        if store not in self._entries:
            self._entries[store] = entry
            if self._frames:
                self._frames[-1][1].append(store)

    def open(self, checkpoint: object) -> None:
        self._frames.append((checkpoint, []))

    def commit(self, checkpoint: object) -> None:
        added = self._pop(checkpoint)
        if self._frames:
            self._frames[-1][1].extend(added)

    def revert(self, checkpoint: object) -> None:
        for store in self._pop(checkpoint):
            self._entries.pop(store, None)

    def clear(self) -> None:
        self._entries.clear()
        self._frames.clear()

    def _pop(self, checkpoint: object) -> list[Address]:
        """Remove the frames down to and including `checkpoint`'s; the addresses they added."""
        added: list[Address] = []
        while self._frames:
            frame, stores = self._frames.pop()
            added.extend(stores)
            if frame == checkpoint:
                break
        return added
