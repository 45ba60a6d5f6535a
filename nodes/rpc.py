"""The JSON-RPC methods of the devnet, independent of the transport.

`RpcHandler.handle(payload)` takes a decoded JSON value (one request or a batch) and returns the
JSON value to send back (None for notifications only). Every failure becomes a JSON-RPC error object
with a standard code; nothing a client sends can raise out of `handle`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from eth.abc import BlockHeaderAPI, SignedTransactionAPI, StateAPI
from eth.constants import CREATE_CONTRACT_ADDRESS
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_hash.auto import keccak
from eth_utils import ValidationError, to_checksum_address

from evm_ext import __version__
from nodes import encode
from nodes.accounts import dev_accounts
from nodes.chain import DevChain, TransactionRejected
from nodes.errors import (
    EXECUTION_REVERTED,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    TRANSACTION_REJECTED,
    ExecutionReverted,
    RpcError,
    error_message,
    error_response,
)
from nodes.filters import FilterMethods
from nodes.logs import LogFilter, block_logs, range_logs
from nodes.params import (
    invalid,
    param,
    parse_address,
    parse_bytes,
    parse_call_request,
    parse_log_filter,
    parse_quantity,
)
from nodes.rpc_debug import DebugMethods
from nodes.rpc_dev import DevMethods
from nodes.signing import SigningMethods

log = logging.getLogger("aievm.node")

MAX_BATCH = 1000
DEFAULT_PRIORITY_FEE = 1_000_000_000
CLIENT_NAME = "anvil-compatible"  # hardhat-network-helpers accept a version starting "anvil" (see docs)


_NAMESPACES = ("web3", "net", "eth", "evm", "anvil", "hardhat", "personal", "debug", "txpool")


class RpcHandler(DevMethods, FilterMethods, SigningMethods, DebugMethods):
    """Dispatches JSON-RPC requests to a DevChain. Not thread-safe (the chain is not).

    `accounts` are the node's own (eth_accounts, eth_sendTransaction, the signing methods); a sender
    in `impersonated` can send without a key: its transactions are signed by a stand-in key derived
    from its address (so that two senders never share a transaction hash) and executed as its.
    """

    def __init__(
        self, chain: DevChain, *, automine: bool = True, accounts: tuple[LocalAccount, ...] | None = None
    ) -> None:
        self.chain = chain
        self.automine = automine
        self.pool: list[SignedTransactionAPI] = []
        self.accounts = {bytes.fromhex(a.address[2:]): a for a in (accounts or dev_accounts())}
        self.impersonated: set[bytes] = set()
        self.auto_impersonate = False
        self.pending_listeners: list[Callable[[bytes], None]] = []
        FilterMethods.__init__(self)
        self.methods: dict[str, Callable[[list[Any]], Any]] = {
            name: getattr(self, name)
            for name in dir(self)
            if name.split("_", 1)[0] in _NAMESPACES and "_" in name
        }

    # Entry point

    def handle(self, payload: Any) -> Any:
        if isinstance(payload, list):
            if not payload:
                return error_response(None, RpcError(INVALID_REQUEST, "empty batch"))
            if len(payload) > MAX_BATCH:
                return error_response(None, RpcError(INVALID_REQUEST, f"batch larger than {MAX_BATCH}"))
            responses = [r for r in (self.handle_one(p) for p in payload) if r is not None]
            return responses or None
        return self.handle_one(payload)

    def handle_one(self, request: Any) -> dict[str, Any] | None:
        if not isinstance(request, dict):
            return error_response(None, RpcError(INVALID_REQUEST, "a request must be a JSON object"))
        request_id = request.get("id")
        method = request.get("method")
        params = request.get("params") or []
        if request.get("jsonrpc") != "2.0" or not isinstance(method, str):
            return error_response(request_id, RpcError(INVALID_REQUEST, "expected jsonrpc 2.0 and a method"))
        if not isinstance(params, list):
            return error_response(request_id, RpcError(INVALID_PARAMS, "params must be an array"))
        try:
            result = self.call(method, params)
        except RpcError as exc:
            return error_response(request_id, exc)
        if "id" not in request:
            return None
        return {"jsonrpc": "2.0", "id": request_id, "result": result}

    def call(self, method: str, params: list[Any]) -> Any:
        function = self.methods.get(method)
        if function is None:
            raise RpcError(METHOD_NOT_FOUND, f"the method {method} does not exist/is not available")
        try:
            return function(params)
        except RpcError:
            raise
        except ExecutionReverted as exc:
            raise RpcError(EXECUTION_REVERTED, str(exc), encode.data(exc.data)) from None
        except TransactionRejected as exc:
            raise RpcError(TRANSACTION_REJECTED, str(exc)) from None
        except (ValidationError, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            raise RpcError(INVALID_PARAMS, f"invalid params: {exc}") from None
        except Exception as exc:  # a bug: report it, keep serving
            log.exception("internal error in %s", method)
            raise RpcError(INTERNAL_ERROR, f"internal error: {type(exc).__name__}: {exc}") from None

    # Helpers

    def _header(self, tag: Any) -> BlockHeaderAPI:
        """A block tag, number or {blockHash|blockNumber} object -> canonical header (or error)."""
        header: BlockHeaderAPI | None
        if isinstance(tag, dict):
            if "blockHash" in tag:
                header = self.chain.header_by_hash(parse_bytes(tag["blockHash"], "block hash", 32))
                if header is None:
                    raise RpcError(TRANSACTION_REJECTED, "header not found")
                return header
            tag = tag.get("blockNumber")
        if tag in ("latest", "pending", "safe", "finalized", None):  # pending state: _state
            return self.chain.head
        if tag == "earliest":
            number = 0
        else:
            number = parse_quantity(tag, "block number")
        header = self.chain.header_by_number(number)
        if header is None:
            raise RpcError(TRANSACTION_REJECTED, "header not found")
        return header

    def _state(self, params: list[Any], index: int) -> StateAPI:
        tag = param(params, index, "latest")
        if tag == "pending":
            return self.chain.pending_state(self.pool)
        return self.chain.state_at(self._header(tag))

    def _next_base_fee(self) -> int:
        if self.chain.next_base_fee is not None:
            return self.chain.next_base_fee
        head = self.chain.head
        child = self.chain.vm_class.create_header_from_parent(head, timestamp=head.timestamp + 1)
        return child.base_fee_per_gas

    def _pending_nonce(self, sender: bytes) -> int:
        nonce = self.chain.state_at(self.chain.head).get_nonce(sender)
        return nonce + sum(1 for tx in self.pool if tx.sender == sender)

    def submit(self, tx: SignedTransactionAPI, impersonated: bytes | None = None) -> str:
        """Validate and include (automine) or queue a signed transaction; returns its hash."""
        self.chain.validate_transaction(tx, impersonated)
        for listener in self.pending_listeners:
            listener(tx.hash)
        if self.automine:
            self.chain.mine([tx])
        else:
            self.pool.append(tx)
        return encode.data(tx.hash)

    def mine_pool(self) -> None:
        """Mine the queued transactions into one block, leaving out those that became invalid."""
        pending, self.pool = self.pool, []
        self.chain.mine(pending, skip_invalid=True)

    # web3 / net

    def web3_clientVersion(self, params: list[Any]) -> str:
        """"anvil-compatible/aievm/v<version>/<fork>": the node names itself and the RPC dialect it
        speaks; hardhat-network-helpers run against a version that starts with "anvil"."""
        return f"{CLIENT_NAME}/aievm/v{__version__}/{self.chain.fork}"

    def net_version(self, params: list[Any]) -> str:
        return str(self.chain.chain_id)

    def net_listening(self, params: list[Any]) -> bool:
        return True

    def eth_chainId(self, params: list[Any]) -> str:
        return encode.quantity(self.chain.chain_id)

    def eth_syncing(self, params: list[Any]) -> bool:
        return False

    def eth_blockNumber(self, params: list[Any]) -> str:
        return encode.quantity(self.chain.head.block_number)

    def eth_accounts(self, params: list[Any]) -> list[str]:
        return [a.address for a in self.accounts.values()]

    def eth_coinbase(self, params: list[Any]) -> str:
        return encode.address(self.chain.coinbase)

    def eth_mining(self, params: list[Any]) -> bool:
        return self.automine

    # State

    def eth_getBalance(self, params: list[Any]) -> str:
        return encode.quantity(self._state(params, 1).get_balance(parse_address(param(params, 0))))

    def eth_getTransactionCount(self, params: list[Any]) -> str:
        sender = parse_address(param(params, 0))
        if param(params, 1, "latest") == "pending":
            return encode.quantity(self._pending_nonce(sender))
        return encode.quantity(self._state(params, 1).get_nonce(sender))

    def eth_getCode(self, params: list[Any]) -> str:
        return encode.data(self._state(params, 1).get_code(parse_address(param(params, 0))))

    def eth_getStorageAt(self, params: list[Any]) -> str:
        slot = parse_quantity(param(params, 1), "storage slot")
        value = self._state(params, 2).get_storage(parse_address(param(params, 0)), slot)
        return encode.topic(value)

    def _call_state(self, tag: Any) -> StateAPI | None:
        """The pending state for the `pending` tag while transactions are queued, else None."""
        return self.chain.pending_state(self.pool) if tag == "pending" and self.pool else None

    def eth_call(self, params: list[Any]) -> str:
        request = parse_call_request(param(params, 0), param(params, 2, None))
        tag = param(params, 1, "latest")
        computation = self.chain.call(request, self._header(tag), self._call_state(tag))
        if computation.is_error:
            raise ExecutionReverted(error_message(computation), bytes(computation.output))
        return encode.data(computation.output)

    def eth_estimateGas(self, params: list[Any]) -> str:
        request = parse_call_request(param(params, 0), param(params, 2, None))
        tag = param(params, 1, "latest")
        return encode.quantity(self.chain.estimate_gas(request, self._header(tag), self._call_state(tag)))

    # Fees

    def eth_gasPrice(self, params: list[Any]) -> str:
        return encode.quantity(self._next_base_fee() + DEFAULT_PRIORITY_FEE)

    def eth_maxPriorityFeePerGas(self, params: list[Any]) -> str:
        return encode.quantity(DEFAULT_PRIORITY_FEE)

    def eth_feeHistory(self, params: list[Any]) -> dict[str, Any]:
        count = min(parse_quantity(param(params, 0), "block count"), 1024)
        newest = self._header(param(params, 1, "latest")).block_number
        percentiles = param(params, 2, None) or []
        if not isinstance(percentiles, list) or not all(
            isinstance(p, int | float) and 0 <= p <= 100 for p in percentiles
        ):
            raise invalid("reward percentiles", percentiles)
        oldest = max(newest - count + 1, 0)
        base_fees, ratios, rewards = [], [], []
        for number in range(oldest, newest + 1):
            header = self.chain.header_by_number(number)
            base_fees.append(encode.quantity(getattr(header, "base_fee_per_gas", 0)))
            ratios.append(header.gas_used / header.gas_limit)
            if percentiles:
                tips = sorted(
                    encode.effective_gas_price(tx, header) - header.base_fee_per_gas
                    for tx in self.chain.block(header).transactions
                )
                rewards.append(
                    [encode.quantity(tips[min(int(len(tips) * p / 100), len(tips) - 1)] if tips else 0)
                     for p in percentiles]
                )
        next_header = self.chain.vm_class.create_header_from_parent(
            self.chain.header_by_number(newest), timestamp=self.chain.head.timestamp + 1
        )
        base_fees.append(encode.quantity(next_header.base_fee_per_gas))
        result: dict[str, Any] = {
            "oldestBlock": encode.quantity(oldest),
            "baseFeePerGas": base_fees,
            "gasUsedRatio": ratios,
        }
        if percentiles:
            result["reward"] = rewards
        return result

    # Transactions

    def eth_sendRawTransaction(self, params: list[Any]) -> str:
        return self.submit(self.chain.decode_raw_transaction(parse_bytes(param(params, 0))))

    def eth_sendTransaction(self, params: list[Any]) -> str:
        obj = param(params, 0)
        request = parse_call_request(obj)
        account = self.accounts.get(request.sender)
        impersonated = None
        if account is None and (self.auto_impersonate or request.sender in self.impersonated):
            impersonated = request.sender
            account = Account.from_key(keccak(b"aievm impersonation stand-in key" + request.sender))
        if account is None:
            raise RpcError(
                TRANSACTION_REJECTED,
                f"unknown account {to_checksum_address(request.sender)}: not one of eth_accounts; "
                "impersonate it first (anvil_impersonateAccount) or send a signed transaction",
            )
        fields: dict[str, Any] = {
            "chainId": self.chain.chain_id,
            "nonce": parse_quantity(obj["nonce"]) if "nonce" in obj else self._pending_nonce(request.sender),
            "value": request.value,
            "data": request.data,
            "gas": request.gas or self.chain.estimate_gas(request, self.chain.head),
        }
        if request.to != CREATE_CONTRACT_ADDRESS:
            fields["to"] = request.to
        if "gasPrice" in obj:
            fields["gasPrice"] = request.gas_price
        else:
            priority = parse_quantity(obj.get("maxPriorityFeePerGas", DEFAULT_PRIORITY_FEE))
            fields["maxPriorityFeePerGas"] = priority
            max_fee = obj.get("maxFeePerGas")
            fields["maxFeePerGas"] = (
                parse_quantity(max_fee) if max_fee is not None else 2 * self._next_base_fee() + priority
            )
        raw = Account.sign_transaction(fields, account.key).raw_transaction
        return self.submit(self.chain.decode_raw_transaction(raw), impersonated)

    def eth_getTransactionByHash(self, params: list[Any]) -> dict[str, Any] | None:
        tx_hash = parse_bytes(param(params, 0), "transaction hash", 32)
        location = self.chain.transaction_location(tx_hash)
        if location is None:
            pending = [tx for tx in self.pool if tx.hash == tx_hash]
            return encode.transaction_json(pending[0], None, None) if pending else None
        header, index = location
        return encode.transaction_json(self.chain.block(header).transactions[index], header, index)

    def eth_getTransactionReceipt(self, params: list[Any]) -> dict[str, Any] | None:
        location = self.chain.transaction_location(parse_bytes(param(params, 0), "transaction hash", 32))
        if location is None:
            return None
        header, index = location
        block = self.chain.block(header)
        receipts = self.chain.receipts(header)
        logs = block_logs(self.chain, header, LogFilter(), block, receipts)
        return encode.receipt_json(block, receipts, index, logs)

    # Blocks

    def _block_json(self, header: BlockHeaderAPI | None, full: Any) -> dict[str, Any] | None:
        if header is None:
            return None
        if not isinstance(full, bool):
            raise invalid("full transactions flag", full)
        return encode.block_json(self.chain.block(header), full)

    def eth_getBlockByNumber(self, params: list[Any]) -> dict[str, Any] | None:
        tag = param(params, 0)
        if tag == "pending":
            return self._pending_block_json(param(params, 1, False))
        try:
            header = self._header(tag)
        except RpcError as exc:
            if exc.code != TRANSACTION_REJECTED:
                raise
            header = None
        return self._block_json(header, param(params, 1, False))

    def eth_getBlockByHash(self, params: list[Any]) -> dict[str, Any] | None:
        header = self.chain.header_by_hash(parse_bytes(param(params, 0), "block hash", 32))
        return self._block_json(header, param(params, 1, False))

    def _pending_block_json(self, full: Any) -> dict[str, Any]:
        """The block the queued transactions would go into (as geth: no hash, nonce or miner yet)."""
        if not isinstance(full, bool):
            raise invalid("full transactions flag", full)
        head = self.chain.head
        block = encode.block_json(self.chain.block(head), False)
        block.update({
            "number": encode.quantity(head.block_number + 1),
            "parentHash": encode.data(head.hash),
            "hash": None, "nonce": None, "miner": None,
            "baseFeePerGas": encode.quantity(self._next_base_fee()),
            "gasUsed": "0x0",
            "timestamp": encode.quantity(max(head.timestamp + 1, self.chain.next_timestamp or 0)),
            "transactions": [
                encode.transaction_json(tx, None, None) if full else encode.data(tx.hash) for tx in self.pool
            ],
        })
        return block

    def _block_by(self, params: list[Any]) -> BlockHeaderAPI | None:
        """The header a ByHash/ByNumber getter names (None if there is none)."""
        key = param(params, 0)
        if isinstance(key, str) and len(key) == 66:
            return self.chain.header_by_hash(parse_bytes(key, "block hash", 32))
        try:
            return self._header(key)
        except RpcError as exc:
            if exc.code != TRANSACTION_REJECTED:
                raise
            return None

    def eth_getBlockTransactionCountByHash(self, params: list[Any]) -> str | None:
        header = self._block_by(params)
        return None if header is None else encode.quantity(len(self.chain.block(header).transactions))

    def eth_getTransactionByBlockHashAndIndex(self, params: list[Any]) -> dict[str, Any] | None:
        header = self._block_by(params)
        index = parse_quantity(param(params, 1), "transaction index")
        if header is None:
            return None
        transactions = self.chain.block(header).transactions
        if index >= len(transactions):
            return None
        return encode.transaction_json(transactions[index], header, index)

    def eth_getUncleCountByBlockHash(self, params: list[Any]) -> str | None:
        return None if self._block_by(params) is None else "0x0"

    def eth_getUncleByBlockHashAndIndex(self, params: list[Any]) -> None:
        parse_quantity(param(params, 1), "uncle index")
        return None

    def eth_getBlockReceipts(self, params: list[Any]) -> list[dict[str, Any]] | None:
        header = self._block_by(params)
        if header is None:
            return None
        block, receipts = self.chain.block(header), self.chain.receipts(header)
        logs = block_logs(self.chain, header, LogFilter(), block, receipts)
        return [encode.receipt_json(block, receipts, i, logs) for i in range(len(receipts))]

    eth_getBlockTransactionCountByNumber = eth_getBlockTransactionCountByHash
    eth_getTransactionByBlockNumberAndIndex = eth_getTransactionByBlockHashAndIndex
    eth_getUncleCountByBlockNumber = eth_getUncleCountByBlockHash
    eth_getUncleByBlockNumberAndIndex = eth_getUncleByBlockHashAndIndex

    # Logs

    def eth_getLogs(self, params: list[Any]) -> list[dict[str, Any]]:
        criteria = param(params, 0)
        if not isinstance(criteria, dict):
            raise invalid("filter", criteria)
        log_filter = parse_log_filter(criteria)
        if "blockHash" in criteria:
            header = self.chain.header_by_hash(parse_bytes(criteria["blockHash"], "block hash", 32))
            if header is None:
                raise RpcError(TRANSACTION_REJECTED, "unknown block")
            return [encode.log_json(e) for e in block_logs(self.chain, header, log_filter)]
        first = self._header(criteria.get("fromBlock", "latest")).block_number
        last = self._header(criteria.get("toBlock", "latest")).block_number
        return [encode.log_json(e) for e in range_logs(self.chain, first, last, log_filter)]
