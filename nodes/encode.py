"""JSON-RPC encodings of blocks, transactions, receipts and logs (the shapes geth and Anvil return).

Quantities are minimal hex ("0x0", "0x1a"), byte strings are 0x-prefixed hex, absent fields null.
"""

from __future__ import annotations

import functools
from typing import Any

import rlp
from eth._utils.address import generate_contract_address
from eth.abc import BlockAPI, BlockHeaderAPI, ReceiptAPI, SignedTransactionAPI
from eth.constants import CREATE_CONTRACT_ADDRESS
from eth_utils import to_checksum_address

from nodes.logs import LogEntry


def quantity(value: int) -> str:
    return hex(value)


def data(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def address(value: bytes) -> str:
    return _checksummed(bytes(value))


@functools.lru_cache(maxsize=4096)
def _checksummed(value: bytes) -> str:
    """EIP-55 form (a keccak per call, and the same few addresses recur in every receipt)."""
    return to_checksum_address(value)


def topic(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


def header_json(header: BlockHeaderAPI) -> dict[str, Any]:
    """The header fields of a block object (as an eth_subscribe newHeads notification)."""
    out: dict[str, Any] = {
        "number": quantity(header.block_number),
        "hash": data(header.hash),
        "parentHash": data(header.parent_hash),
        "nonce": data(header.nonce),
        "mixHash": data(header.mix_hash),
        "sha3Uncles": data(header.uncles_hash),
        "logsBloom": data(header.bloom.to_bytes(256, "big")),
        "transactionsRoot": data(header.transaction_root),
        "stateRoot": data(header.state_root),
        "receiptsRoot": data(header.receipt_root),
        "miner": address(header.coinbase),
        "difficulty": quantity(header.difficulty),
        "totalDifficulty": "0x0",
        "extraData": data(header.extra_data),
        "gasLimit": quantity(header.gas_limit),
        "gasUsed": quantity(header.gas_used),
        "timestamp": quantity(header.timestamp),
    }
    optional = {
        "baseFeePerGas": ("base_fee_per_gas", quantity),
        "withdrawalsRoot": ("withdrawals_root", data),
        "blobGasUsed": ("blob_gas_used", quantity),
        "excessBlobGas": ("excess_blob_gas", quantity),
        "parentBeaconBlockRoot": ("parent_beacon_block_root", data),
        "requestsHash": ("requests_hash", data),
    }
    for key, (attr, fmt) in optional.items():
        if hasattr(header, attr):
            out[key] = fmt(getattr(header, attr))
    return out


def block_json(block: BlockAPI, full_transactions: bool) -> dict[str, Any]:
    out = header_json(block.header)
    out["size"] = quantity(len(rlp.encode(block)))
    out["uncles"] = []
    out["withdrawals"] = []
    if full_transactions:
        out["transactions"] = [
            transaction_json(tx, block.header, i) for i, tx in enumerate(block.transactions)
        ]
    else:
        out["transactions"] = [data(tx.hash) for tx in block.transactions]
    return out


def effective_gas_price(tx: SignedTransactionAPI, header: BlockHeaderAPI) -> int:
    """What the sender paid per gas: gasPrice, or min(maxFee, baseFee + maxPriorityFee)."""
    if tx.type_id is None or tx.type_id == 1:
        return tx.gas_price
    base_fee = getattr(header, "base_fee_per_gas", 0)
    return min(tx.max_fee_per_gas, base_fee + tx.max_priority_fee_per_gas)


def transaction_json(
    tx: SignedTransactionAPI, header: BlockHeaderAPI | None, index: int | None
) -> dict[str, Any]:
    """A transaction object; header/index are None for a transaction still in the pool."""
    out: dict[str, Any] = {
        "hash": data(tx.hash),
        "blockHash": data(header.hash) if header else None,
        "blockNumber": quantity(header.block_number) if header else None,
        "transactionIndex": quantity(index) if index is not None else None,
        "from": address(tx.sender),
        "to": None if tx.to == CREATE_CONTRACT_ADDRESS else address(tx.to),
        "nonce": quantity(tx.nonce),
        "gas": quantity(tx.gas),
        "value": quantity(tx.value),
        "input": data(tx.data),
        "type": quantity(tx.type_id or 0),
        "r": quantity(tx.r),
        "s": quantity(tx.s),
    }
    if tx.chain_id is not None:
        out["chainId"] = quantity(tx.chain_id)
    if tx.type_id is None:
        out["v"] = quantity(tx.v)
        out["gasPrice"] = quantity(tx.gas_price)
        return out
    out["v"] = quantity(tx.y_parity)
    out["yParity"] = quantity(tx.y_parity)
    out["accessList"] = [
        {"address": address(addr), "storageKeys": [topic(slot) for slot in slots]}
        for addr, slots in tx.access_list
    ]
    if tx.type_id == 1:
        out["gasPrice"] = quantity(tx.gas_price)
    else:
        out["maxFeePerGas"] = quantity(tx.max_fee_per_gas)
        out["maxPriorityFeePerGas"] = quantity(tx.max_priority_fee_per_gas)
        out["gasPrice"] = quantity(effective_gas_price(tx, header) if header else tx.max_fee_per_gas)
    return out


def log_json(log: LogEntry) -> dict[str, Any]:
    return {
        "address": address(log.address),
        "topics": [topic(t) for t in log.topics],
        "data": data(log.data),
        "blockNumber": quantity(log.block_number),
        "blockHash": data(log.block_hash),
        "transactionHash": data(log.transaction_hash),
        "transactionIndex": quantity(log.transaction_index),
        "logIndex": quantity(log.log_index),
        "removed": False,
    }


def receipt_json(
    block: BlockAPI, receipts: tuple[ReceiptAPI, ...], index: int, logs: list[LogEntry]
) -> dict[str, Any]:
    """The receipt of transaction `index` of `block`; `logs` are that block's logs (all of them)."""
    tx = block.transactions[index]
    receipt = receipts[index]
    previous = receipts[index - 1].gas_used if index else 0
    header = block.header
    creates = tx.to == CREATE_CONTRACT_ADDRESS
    return {
        "transactionHash": data(tx.hash),
        "transactionIndex": quantity(index),
        "blockHash": data(header.hash),
        "blockNumber": quantity(header.block_number),
        "from": address(tx.sender),
        "to": None if creates else address(tx.to),
        "cumulativeGasUsed": quantity(receipt.gas_used),
        "gasUsed": quantity(receipt.gas_used - previous),
        "effectiveGasPrice": quantity(effective_gas_price(tx, header)),
        "contractAddress": address(generate_contract_address(tx.sender, tx.nonce)) if creates else None,
        "logs": [log_json(log) for log in logs if log.transaction_index == index],
        "logsBloom": data(receipt.bloom.to_bytes(256, "big")),
        "status": quantity(receipt.state_root == b"\x01"),
        "type": quantity(tx.type_id or 0),
    }
