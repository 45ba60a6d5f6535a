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
from eth_utils import ValidationError, to_checksum_address

from evm_ext import __version__
from nodes import encode
from nodes.accounts import dev_accounts
from nodes.chain import CallRequest, DevChain, TransactionRejected
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
from nodes.logs import LogFilter, block_logs, range_logs

log = logging.getLogger("aievm.node")

MAX_BATCH = 1000
DEFAULT_PRIORITY_FEE = 1_000_000_000
MAX_UINT64 = 1 << 64
MAX_TIME_INCREASE = 1 << 40  # seconds; keeps block timestamps far below 2**64


# Parameter decoding: each raises RpcError(INVALID_PARAMS) with the parameter's name.


def _invalid(what: str, value: Any) -> RpcError:
    return RpcError(INVALID_PARAMS, f"invalid {what}: {str(value)[:80]!r}")


def parse_bytes(value: Any, what: str = "data", size: int | None = None) -> bytes:
    if not isinstance(value, str) or not value.startswith(("0x", "0X")):
        raise _invalid(what, value)
    digits = value[2:]
    if len(digits) % 2:
        digits = "0" + digits
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        raise _invalid(what, value) from None
    if size is not None and len(raw) != size:
        raise _invalid(what, value)
    return raw


def parse_address(value: Any) -> bytes:
    return parse_bytes(value, "address", 20)


def parse_quantity(value: Any, what: str = "quantity") -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if not isinstance(value, str) or not value.startswith(("0x", "0X")) or len(value) > 66:
        raise _invalid(what, value)
    try:
        return int(value[2:], 16)
    except ValueError:
        raise _invalid(what, value) from None


def _param(params: list[Any], index: int, default: Any = ...) -> Any:
    if index < len(params):
        return params[index]
    if default is ...:
        raise RpcError(INVALID_PARAMS, f"missing value for required argument {index}")
    return default


class RpcHandler:
    """Dispatches JSON-RPC requests to a DevChain. Not thread-safe (the chain is not)."""

    def __init__(self, chain: DevChain, *, automine: bool = True) -> None:
        self.chain = chain
        self.automine = automine
        self.pool: list[SignedTransactionAPI] = []
        self.accounts = {bytes.fromhex(a.address[2:]): a for a in dev_accounts()}
        self.methods: dict[str, Callable[[list[Any]], Any]] = {
            name: getattr(self, name)
            for name in dir(self)
            if name.split("_", 1)[0] in ("web3", "net", "eth", "evm", "anvil", "hardhat") and "_" in name
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
        if tag in ("latest", "pending", "safe", "finalized", None):
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
        return self.chain.state_at(self._header(_param(params, index, "latest")))

    def _call_request(self, obj: Any) -> CallRequest:
        if not isinstance(obj, dict):
            raise _invalid("transaction object", obj)
        raw_data = obj.get("input", obj.get("data"))
        gas_price = obj.get("gasPrice", obj.get("maxFeePerGas"))
        return CallRequest(
            sender=parse_address(obj["from"]) if obj.get("from") else b"\x00" * 20,
            to=parse_address(obj["to"]) if obj.get("to") else CREATE_CONTRACT_ADDRESS,
            value=parse_quantity(obj.get("value", 0), "value"),
            data=parse_bytes(raw_data) if raw_data is not None else b"",
            gas=parse_quantity(obj["gas"], "gas") if obj.get("gas") is not None else None,
            gas_price=parse_quantity(gas_price, "gasPrice") if gas_price is not None else 0,
        )

    def _next_base_fee(self) -> int:
        head = self.chain.head
        child = self.chain.vm_class.create_header_from_parent(head, timestamp=head.timestamp + 1)
        return child.base_fee_per_gas

    def _pending_nonce(self, sender: bytes) -> int:
        nonce = self.chain.state_at(self.chain.head).get_nonce(sender)
        return nonce + sum(1 for tx in self.pool if tx.sender == sender)

    def submit(self, tx: SignedTransactionAPI) -> str:
        """Validate and include (automine) or queue a signed transaction; returns its hash."""
        self.chain.validate_transaction(tx)
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
        return f"aievm/{__version__}/{self.chain.fork}"

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
        return [a.address for a in dev_accounts()]

    # State

    def eth_getBalance(self, params: list[Any]) -> str:
        return encode.quantity(self._state(params, 1).get_balance(parse_address(_param(params, 0))))

    def eth_getTransactionCount(self, params: list[Any]) -> str:
        sender = parse_address(_param(params, 0))
        if _param(params, 1, "latest") == "pending":
            return encode.quantity(self._pending_nonce(sender))
        return encode.quantity(self._state(params, 1).get_nonce(sender))

    def eth_getCode(self, params: list[Any]) -> str:
        return encode.data(self._state(params, 1).get_code(parse_address(_param(params, 0))))

    def eth_getStorageAt(self, params: list[Any]) -> str:
        slot = parse_quantity(_param(params, 1), "storage slot")
        value = self._state(params, 2).get_storage(parse_address(_param(params, 0)), slot)
        return encode.topic(value)

    def eth_call(self, params: list[Any]) -> str:
        request = self._call_request(_param(params, 0))
        computation = self.chain.call(request, self._header(_param(params, 1, "latest")))
        if computation.is_error:
            raise ExecutionReverted(error_message(computation), bytes(computation.output))
        return encode.data(computation.output)

    def eth_estimateGas(self, params: list[Any]) -> str:
        request = self._call_request(_param(params, 0))
        return encode.quantity(self.chain.estimate_gas(request, self._header(_param(params, 1, "latest"))))

    # Fees

    def eth_gasPrice(self, params: list[Any]) -> str:
        return encode.quantity(self._next_base_fee() + DEFAULT_PRIORITY_FEE)

    def eth_maxPriorityFeePerGas(self, params: list[Any]) -> str:
        return encode.quantity(DEFAULT_PRIORITY_FEE)

    def eth_feeHistory(self, params: list[Any]) -> dict[str, Any]:
        count = min(parse_quantity(_param(params, 0), "block count"), 1024)
        newest = self._header(_param(params, 1, "latest")).block_number
        percentiles = _param(params, 2, None) or []
        if not isinstance(percentiles, list) or not all(
            isinstance(p, int | float) and 0 <= p <= 100 for p in percentiles
        ):
            raise _invalid("reward percentiles", percentiles)
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
        return self.submit(self.chain.decode_raw_transaction(parse_bytes(_param(params, 0))))

    def eth_sendTransaction(self, params: list[Any]) -> str:
        obj = _param(params, 0)
        request = self._call_request(obj)
        account = self.accounts.get(request.sender)
        if account is None:
            raise RpcError(TRANSACTION_REJECTED, f"unknown account {to_checksum_address(request.sender)}")
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
        return self.submit(self.chain.decode_raw_transaction(raw))

    def eth_getTransactionByHash(self, params: list[Any]) -> dict[str, Any] | None:
        tx_hash = parse_bytes(_param(params, 0), "transaction hash", 32)
        location = self.chain.transaction_location(tx_hash)
        if location is None:
            pending = [tx for tx in self.pool if tx.hash == tx_hash]
            return encode.transaction_json(pending[0], None, None) if pending else None
        header, index = location
        return encode.transaction_json(self.chain.block(header).transactions[index], header, index)

    def eth_getTransactionReceipt(self, params: list[Any]) -> dict[str, Any] | None:
        location = self.chain.transaction_location(parse_bytes(_param(params, 0), "transaction hash", 32))
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
            raise _invalid("full transactions flag", full)
        return encode.block_json(self.chain.block(header), full)

    def eth_getBlockByNumber(self, params: list[Any]) -> dict[str, Any] | None:
        tag = _param(params, 0)
        try:
            header = self._header(tag)
        except RpcError as exc:
            if exc.code != TRANSACTION_REJECTED:
                raise
            header = None
        return self._block_json(header, _param(params, 1, False))

    def eth_getBlockByHash(self, params: list[Any]) -> dict[str, Any] | None:
        header = self.chain.header_by_hash(parse_bytes(_param(params, 0), "block hash", 32))
        return self._block_json(header, _param(params, 1, False))

    # Logs

    def eth_getLogs(self, params: list[Any]) -> list[dict[str, Any]]:
        criteria = _param(params, 0)
        if not isinstance(criteria, dict):
            raise _invalid("filter", criteria)
        log_filter = parse_log_filter(criteria)
        if "blockHash" in criteria:
            header = self.chain.header_by_hash(parse_bytes(criteria["blockHash"], "block hash", 32))
            if header is None:
                raise RpcError(TRANSACTION_REJECTED, "unknown block")
            return [encode.log_json(e) for e in block_logs(self.chain, header, log_filter)]
        first = self._header(criteria.get("fromBlock", "latest")).block_number
        last = self._header(criteria.get("toBlock", "latest")).block_number
        return [encode.log_json(e) for e in range_logs(self.chain, first, last, log_filter)]

    # Dev methods

    def evm_mine(self, params: list[Any]) -> str:
        arg = _param(params, 0, None)
        if isinstance(arg, dict):
            arg = arg.get("timestamp")
        timestamp = parse_quantity(arg, "timestamp") if arg is not None else None
        if timestamp is not None and timestamp >= MAX_UINT64:
            raise _invalid("timestamp", arg)
        if self.pool:
            self.mine_pool()
        else:
            self.chain.mine([], timestamp)
        return "0x0"

    def evm_snapshot(self, params: list[Any]) -> str:
        return encode.quantity(self.chain.snapshot())

    def evm_revert(self, params: list[Any]) -> bool:
        self.pool.clear()
        return self.chain.revert(parse_quantity(_param(params, 0), "snapshot id"))

    def evm_increaseTime(self, params: list[Any]) -> str:
        seconds = parse_quantity(_param(params, 0), "seconds")
        if seconds >= MAX_TIME_INCREASE:
            raise _invalid("seconds", seconds)
        return encode.quantity(self.chain.increase_time(seconds))

    def evm_setAutomine(self, params: list[Any]) -> bool:
        enabled = _param(params, 0)
        if not isinstance(enabled, bool):
            raise _invalid("automine flag", enabled)
        self.automine = enabled
        return True

    def anvil_setBalance(self, params: list[Any]) -> bool:
        target = parse_address(_param(params, 0))
        balance = parse_quantity(_param(params, 1), "balance")
        self.chain.modify_state(lambda state: state.set_balance(target, balance))
        return True

    def anvil_setCode(self, params: list[Any]) -> bool:
        target = parse_address(_param(params, 0))
        code = parse_bytes(_param(params, 1), "code")
        self.chain.modify_state(lambda state: state.set_code(target, code))
        return True

    def anvil_setStorageAt(self, params: list[Any]) -> bool:
        target = parse_address(_param(params, 0))
        slot = parse_quantity(_param(params, 1), "storage slot")
        value = int.from_bytes(parse_bytes(_param(params, 2), "storage value", 32), "big")
        self.chain.modify_state(lambda state: state.set_storage(target, slot, value))
        return True

    def anvil_setNonce(self, params: list[Any]) -> bool:
        target = parse_address(_param(params, 0))
        nonce = parse_quantity(_param(params, 1), "nonce")
        if nonce >= MAX_UINT64:
            raise _invalid("nonce", nonce)
        self.chain.modify_state(lambda state: state.set_nonce(target, nonce))
        return True

    hardhat_setBalance = anvil_setBalance
    hardhat_setCode = anvil_setCode
    hardhat_setStorageAt = anvil_setStorageAt
    hardhat_setNonce = anvil_setNonce
    anvil_mine = evm_mine
    hardhat_mine = evm_mine


def parse_log_filter(criteria: dict[str, Any]) -> LogFilter:
    """{address, topics} of eth_getLogs / eth_subscribe("logs") -> LogFilter."""
    addresses = criteria.get("address")
    if addresses is None:
        address_set: frozenset[bytes] = frozenset()
    elif isinstance(addresses, list):
        address_set = frozenset(parse_address(a) for a in addresses)
    else:
        address_set = frozenset([parse_address(addresses)])
    topics = criteria.get("topics") or []
    if not isinstance(topics, list) or len(topics) > 4:
        raise _invalid("topics", topics)
    parsed: list[frozenset[int] | None] = []
    for position in topics:
        if position is None:
            parsed.append(None)
        elif isinstance(position, list):  # any of these; an empty list matches anything (as geth)
            values = frozenset(int.from_bytes(parse_bytes(t, "topic", 32), "big") for t in position)
            parsed.append(values or None)
        else:
            parsed.append(frozenset([int.from_bytes(parse_bytes(position, "topic", 32), "big")]))
    return LogFilter(address_set, tuple(parsed))
