"""Log queries: filter criteria, the logs of a block and of a block range (eth_getLogs, filters,
eth_subscribe("logs"), receipts).

Invariants: log indexes count every log of the block, matched or not (as geth); a range query reads
a block's receipts only when its header's bloom may match (a bloom has no false negatives); the range
is bounded by the chain's head, not by a block count.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from eth.abc import BlockAPI, BlockHeaderAPI, ReceiptAPI
from eth_bloom import BloomFilter

if TYPE_CHECKING:
    from nodes.chain import DevChain


@dataclass(frozen=True)
class LogFilter:
    """eth_getLogs / eth_subscribe("logs") criteria: addresses (empty = any), topics by position."""

    addresses: frozenset[bytes] = frozenset()
    topics: tuple[frozenset[int] | None, ...] = ()

    def matches(self, address: bytes, topics: Sequence[int]) -> bool:
        if self.addresses and address not in self.addresses:
            return False
        if len(self.topics) > len(topics):
            return False
        return all(want is None or topic in want for want, topic in zip(self.topics, topics, strict=False))

    def may_match_bloom(self, bloom: int) -> bool:
        bf = BloomFilter(bloom)
        if self.addresses and not any(a in bf for a in self.addresses):
            return False
        return all(
            want is None or any(t.to_bytes(32, "big") in bf for t in want) for want in self.topics
        )


@dataclass(frozen=True)
class LogEntry:
    """One log with the position it has in the chain."""

    address: bytes
    topics: tuple[int, ...]
    data: bytes
    block_number: int
    block_hash: bytes
    transaction_hash: bytes
    transaction_index: int
    log_index: int


def range_logs(chain: DevChain, first: int, last: int, log_filter: LogFilter) -> list[LogEntry]:
    """The matching logs of canonical blocks first..last (clipped to the head)."""
    found: list[LogEntry] = []
    for number in range(max(first, 0), min(last, chain.head.block_number) + 1):
        header = chain.chaindb.get_canonical_block_header_by_number(number)
        if header.bloom and log_filter.may_match_bloom(header.bloom):
            found.extend(block_logs(chain, header, log_filter))
    return found


def block_logs(
    chain: DevChain,
    header: BlockHeaderAPI,
    log_filter: LogFilter,
    block: BlockAPI | None = None,
    receipts: Iterable[ReceiptAPI] | None = None,
) -> list[LogEntry]:
    """The matching logs of one block (`block`/`receipts` when the caller has them already)."""
    block = block or chain.block(header)
    receipts = chain.receipts(header) if receipts is None else receipts
    found = []
    log_index = 0
    for tx_index, (tx, receipt) in enumerate(zip(block.transactions, receipts, strict=True)):
        for log in receipt.logs:
            if log_filter.matches(log.address, log.topics):
                found.append(
                    LogEntry(
                        log.address, tuple(log.topics), log.data, header.block_number,
                        header.hash, tx.hash, tx_index, log_index,
                    )
                )
            log_index += 1
    return found
