"""Polling filters: eth_newFilter, eth_newBlockFilter, eth_newPendingTransactionFilter,
eth_getFilterChanges, eth_getFilterLogs, eth_uninstallFilter (ethers v6 `contract.on()` over HTTP,
web3.py `create_filter`).

A filter remembers the next block number it has not reported; a poll reports the canonical blocks
from there to the head (so a revert to an earlier snapshot moves it back to the new head rather than
reporting blocks that are gone). Filters not polled for FILTER_TIMEOUT seconds are removed (as geth),
and at most MAX_FILTERS exist at once (the least recently polled goes first).
A mixin of RpcHandler (uses its `chain`, `pending_listeners`).
"""

from __future__ import annotations

import itertools
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from nodes import encode
from nodes.chain import DevChain
from nodes.errors import INVALID_PARAMS, RpcError
from nodes.logs import LogFilter, range_logs
from nodes.params import invalid, param, parse_log_filter, parse_quantity

FILTER_TIMEOUT = 300.0
MAX_FILTERS = 1000
MAX_PENDING_HASHES = 10_000


@dataclass
class _Filter:
    kind: str  # "logs" | "blocks" | "pending"
    next_block: int
    log_filter: LogFilter = LogFilter()
    from_block: int | None = None  # logs: the criteria's explicit range
    to_block: int | None = None
    pending: list[bytes] = field(default_factory=list)
    polled: float = field(default_factory=time.monotonic)


class FilterMethods:
    chain: DevChain
    pending_listeners: list

    def __init__(self) -> None:
        self._filters: OrderedDict[str, _Filter] = OrderedDict()
        self._filter_ids = itertools.count(1)
        self.pending_listeners.append(self._on_pending)

    def _install(self, new: _Filter) -> str:
        now = time.monotonic()
        for stale in [k for k, f in self._filters.items() if now - f.polled > FILTER_TIMEOUT]:
            del self._filters[stale]
        while len(self._filters) >= MAX_FILTERS:
            self._filters.popitem(last=False)
        filter_id = encode.quantity(next(self._filter_ids) + (1 << 64))
        self._filters[filter_id] = new
        return filter_id

    def _filter(self, params: list[Any]) -> tuple[str, _Filter]:
        filter_id = param(params, 0)
        found = self._filters.get(filter_id) if isinstance(filter_id, str) else None
        if found is None:
            raise RpcError(INVALID_PARAMS, "filter not found")  # geth's wording
        found.polled = time.monotonic()
        self._filters.move_to_end(filter_id)
        return filter_id, found

    def _on_pending(self, tx_hash: bytes) -> None:
        for pending in (f for f in self._filters.values() if f.kind == "pending"):
            pending.pending.append(tx_hash)
            del pending.pending[:-MAX_PENDING_HASHES]

    def _block_number(self, tag: Any) -> int | None:
        if tag in (None, "latest", "pending", "safe", "finalized"):
            return None
        return 0 if tag == "earliest" else parse_quantity(tag, "block number")

    def eth_newFilter(self, params: list[Any]) -> str:
        criteria = param(params, 0)
        if not isinstance(criteria, dict) or "blockHash" in criteria:
            raise invalid("filter (fromBlock, toBlock, address, topics)", criteria)
        from_block = self._block_number(criteria.get("fromBlock"))
        head = self.chain.head.block_number
        return self._install(_Filter(
            "logs",
            next_block=head + 1 if from_block is None else from_block,
            log_filter=parse_log_filter(criteria),
            from_block=from_block,
            to_block=self._block_number(criteria.get("toBlock")),
        ))

    def eth_newBlockFilter(self, params: list[Any]) -> str:
        return self._install(_Filter("blocks", next_block=self.chain.head.block_number + 1))

    def eth_newPendingTransactionFilter(self, params: list[Any]) -> str:
        return self._install(_Filter("pending", next_block=0))

    def eth_getFilterChanges(self, params: list[Any]) -> list[Any]:
        _, found = self._filter(params)
        if found.kind == "pending":
            hashes, found.pending = found.pending, []
            return [encode.data(h) for h in hashes]
        head = self.chain.head.block_number
        first = min(found.next_block, head + 1)
        last = head if found.to_block is None else min(head, found.to_block)
        found.next_block = max(first, last + 1)
        if found.kind == "blocks":
            return [encode.data(self.chain.header_by_number(n).hash) for n in range(first, last + 1)]
        return [encode.log_json(e) for e in range_logs(self.chain, first, last, found.log_filter)]

    def eth_getFilterLogs(self, params: list[Any]) -> list[dict[str, Any]]:
        _, found = self._filter(params)
        if found.kind != "logs":
            raise RpcError(INVALID_PARAMS, "eth_getFilterLogs needs a log filter (eth_newFilter)")
        head = self.chain.head.block_number
        first = head if found.from_block is None else found.from_block
        last = head if found.to_block is None else found.to_block
        return [encode.log_json(e) for e in range_logs(self.chain, first, last, found.log_filter)]

    def eth_uninstallFilter(self, params: list[Any]) -> bool:
        filter_id = param(params, 0)
        return self._filters.pop(filter_id, None) is not None if isinstance(filter_id, str) else False
