"""The devnet-only JSON-RPC methods (evm_*, anvil_*, hardhat_*): mining and time, snapshots, state
cheats, impersonation, chain parameters, the transaction pool, state dumps.

Semantics follow Anvil and Hardhat Network; where the two differ the docstring says which one is
followed. A mixin of RpcHandler: it uses the handler's `chain`, `pool`, `automine`, `impersonated`.
"""

from __future__ import annotations

from typing import Any

from nodes import encode
from nodes.chain import DevChain
from nodes.errors import INVALID_PARAMS, RpcError
from nodes.params import invalid, param, parse_address, parse_bytes, parse_quantity
from nodes.state_dump import dump_state, load_state

MAX_UINT64 = 1 << 64
MAX_TIME_INCREASE = 1 << 40  # seconds; keeps block timestamps far below 2**64
MAX_MINE_BLOCKS = 100_000  # one request mines at most this many blocks (each is a real block)


class DevMethods:
    chain: DevChain
    pool: list
    automine: bool
    impersonated: set[bytes]
    auto_impersonate: bool

    def mine_pool(self) -> None:  # provided by RpcHandler
        raise NotImplementedError

    # Mining and time

    def _mine_blocks(self, count: int, interval: int | None, timestamp: int | None = None) -> None:
        """`count` blocks, the first with the queued transactions; with `interval`, each block's
        timestamp is the previous one's plus `interval` (Hardhat's hardhat_mine, Anvil's anvil_mine)."""
        if count > MAX_MINE_BLOCKS:
            raise RpcError(INVALID_PARAMS, f"at most {MAX_MINE_BLOCKS} blocks per request, asked for {count}")
        for i in range(count):
            if i == 0 and self.pool and timestamp is None:
                self.mine_pool()
                continue
            if i > 0 and interval is not None:
                timestamp = self.chain.head.timestamp + interval
            self.chain.mine([], timestamp)

    def evm_mine(self, params: list[Any]) -> str:
        """evm_mine(), evm_mine(timestamp) or evm_mine({timestamp, blocks}) (ganache/ethers form)."""
        arg = param(params, 0, None)
        blocks = 1
        if isinstance(arg, dict):
            blocks = parse_quantity(arg.get("blocks", 1), "blocks")
            arg = arg.get("timestamp")
        timestamp = parse_quantity(arg, "timestamp") if arg is not None else None
        if timestamp is not None and timestamp >= MAX_UINT64:
            raise invalid("timestamp", arg)
        if timestamp is not None and self.pool:
            self.chain.next_timestamp = timestamp
            timestamp = None
        self._mine_blocks(blocks, 1 if timestamp is not None else None, timestamp)
        return "0x0"

    def anvil_mine(self, params: list[Any]) -> None:
        """anvil_mine(count = 1, interval): `interval` seconds between the blocks when given."""
        count = parse_quantity(param(params, 0, 1), "block count")
        self._mine_blocks(count, self._interval(param(params, 1, 0)))
        return None

    def hardhat_mine(self, params: list[Any]) -> bool:
        """hardhat_mine(count = 1, interval = 1)."""
        count = parse_quantity(param(params, 0, 1), "block count")
        self._mine_blocks(count, self._interval(param(params, 1, 1)))
        return True

    @staticmethod
    def _interval(value: Any) -> int | None:
        """Seconds between mined blocks; 0 (what viem sends by default) means none: each block is
        timestamped as usual, a second or more after its parent (timestamps must increase)."""
        interval = parse_quantity(value, "interval")
        if interval >= MAX_TIME_INCREASE:
            raise invalid("interval", value)
        return interval or None

    def evm_increaseTime(self, params: list[Any]) -> str:
        seconds = parse_quantity(param(params, 0), "seconds")
        if seconds >= MAX_TIME_INCREASE:
            raise invalid("seconds", seconds)
        return encode.quantity(self.chain.increase_time(seconds))

    def evm_setNextBlockTimestamp(self, params: list[Any]) -> None:
        """The next block's timestamp; later blocks go on from it (as both Anvil and Hardhat)."""
        timestamp = parse_quantity(param(params, 0), "timestamp")
        if timestamp <= self.chain.head.timestamp or timestamp >= MAX_UINT64:
            raise RpcError(
                INVALID_PARAMS,
                f"timestamp {timestamp} must be after the latest block's {self.chain.head.timestamp}",
            )
        self.chain.next_timestamp = timestamp
        return None

    def evm_setAutomine(self, params: list[Any]) -> bool:
        enabled = param(params, 0)
        if not isinstance(enabled, bool):
            raise invalid("automine flag", enabled)
        self.automine = enabled
        if enabled and self.pool:
            self.mine_pool()
        return True

    def anvil_getAutomine(self, params: list[Any]) -> bool:
        return self.automine

    # Snapshots and reset

    def evm_snapshot(self, params: list[Any]) -> str:
        return encode.quantity(self.chain.snapshot())

    def evm_revert(self, params: list[Any]) -> bool:
        self.pool.clear()
        return self.chain.revert(parse_quantity(param(params, 0), "snapshot id"))

    def anvil_reset(self, params: list[Any]) -> bool:
        """Back to genesis. Forking (a `forking` / `jsonRpcUrl` option) is not supported."""
        options = param(params, 0, None)
        if options:
            raise RpcError(INVALID_PARAMS, "this node cannot fork another chain; call reset with no options")
        self.pool.clear()
        self.chain.reset()
        return True

    # State cheats

    def anvil_setBalance(self, params: list[Any]) -> bool:
        target = parse_address(param(params, 0))
        balance = parse_quantity(param(params, 1), "balance")
        self.chain.modify_state(lambda state: state.set_balance(target, balance))
        return True

    def anvil_setCode(self, params: list[Any]) -> bool:
        target = parse_address(param(params, 0))
        code = parse_bytes(param(params, 1), "code")
        self.chain.modify_state(lambda state: state.set_code(target, code))
        return True

    def anvil_setStorageAt(self, params: list[Any]) -> bool:
        target = parse_address(param(params, 0))
        slot = parse_quantity(param(params, 1), "storage slot")
        value = int.from_bytes(parse_bytes(param(params, 2), "storage value", 32), "big")
        self.chain.modify_state(lambda state: state.set_storage(target, slot, value))
        return True

    def anvil_setNonce(self, params: list[Any]) -> bool:
        target = parse_address(param(params, 0))
        nonce = parse_quantity(param(params, 1), "nonce")
        if nonce >= MAX_UINT64:
            raise invalid("nonce", nonce)
        self.chain.modify_state(lambda state: state.set_nonce(target, nonce))
        return True

    # Impersonation

    def anvil_impersonateAccount(self, params: list[Any]) -> bool:
        """eth_sendTransaction from this address works without its key until stopped."""
        self.impersonated.add(parse_address(param(params, 0)))
        return True

    def anvil_stopImpersonatingAccount(self, params: list[Any]) -> bool:
        self.impersonated.discard(parse_address(param(params, 0)))
        return True

    def anvil_autoImpersonateAccount(self, params: list[Any]) -> bool:
        enabled = param(params, 0)
        if not isinstance(enabled, bool):
            raise invalid("auto-impersonate flag", enabled)
        self.auto_impersonate = enabled
        return True

    # Chain parameters

    def evm_setBlockGasLimit(self, params: list[Any]) -> bool:
        limit = parse_quantity(param(params, 0), "gas limit")
        if not 21_000 <= limit < MAX_UINT64:
            raise RpcError(INVALID_PARAMS, f"block gas limit {limit} must be at least 21000")
        self.chain.block_gas_limit = limit
        return True

    def anvil_setCoinbase(self, params: list[Any]) -> bool:
        self.chain.coinbase = parse_address(param(params, 0))
        return True

    def anvil_setNextBlockBaseFeePerGas(self, params: list[Any]) -> bool:
        fee = parse_quantity(param(params, 0), "base fee")
        if fee >= MAX_UINT64:
            raise invalid("base fee", fee)
        self.chain.next_base_fee = fee
        return True

    def hardhat_setPrevRandao(self, params: list[Any]) -> bool:
        """The next block's PREVRANDAO (its header's mixHash), a 32-byte value."""
        self.chain.next_prev_randao = parse_bytes(param(params, 0), "prevrandao", 32)
        return True

    # Transaction pool

    def txpool_status(self, params: list[Any]) -> dict[str, str]:
        """Queued transactions are all `pending` (executable in order); none is held back as `queued`."""
        return {"pending": encode.quantity(len(self.pool)), "queued": "0x0"}

    def txpool_content(self, params: list[Any]) -> dict[str, dict]:
        pending: dict[str, dict[str, Any]] = {}
        for tx in self.pool:
            by_nonce = pending.setdefault(encode.address(tx.sender), {})
            by_nonce[str(tx.nonce)] = encode.transaction_json(tx, None, None)
        return {"pending": pending, "queued": {}}

    def _drop(self, params: list[Any]) -> bytes | None:
        tx_hash = parse_bytes(param(params, 0), "transaction hash", 32)
        kept = [tx for tx in self.pool if tx.hash != tx_hash]
        dropped = len(kept) != len(self.pool)
        self.pool[:] = kept
        return tx_hash if dropped else None

    def anvil_dropTransaction(self, params: list[Any]) -> str | None:
        """Remove a queued transaction; its hash, or null if it was not queued (Anvil)."""
        dropped = self._drop(params)
        return None if dropped is None else encode.data(dropped)

    def hardhat_dropTransaction(self, params: list[Any]) -> bool:
        """Remove a queued transaction; whether it was queued (Hardhat)."""
        return self._drop(params) is not None

    # State dumps

    def anvil_dumpState(self, params: list[Any]) -> str:
        """The whole pending state as a hex blob for anvil_loadState (this node's format, not Anvil's)."""
        return encode.data(dump_state(self.chain))

    def anvil_loadState(self, params: list[Any]) -> bool:
        """Replace the pending state by a blob of anvil_dumpState; no block is mined."""
        load_state(self.chain, parse_bytes(param(params, 0), "state"))
        return True

    hardhat_setBalance = anvil_setBalance
    hardhat_setCode = anvil_setCode
    hardhat_setStorageAt = anvil_setStorageAt
    hardhat_setNonce = anvil_setNonce
    hardhat_impersonateAccount = anvil_impersonateAccount
    hardhat_stopImpersonatingAccount = anvil_stopImpersonatingAccount
    hardhat_setCoinbase = anvil_setCoinbase
    hardhat_setNextBlockBaseFeePerGas = anvil_setNextBlockBaseFeePerGas
    hardhat_reset = anvil_reset
    hardhat_getAutomine = anvil_getAutomine
    anvil_setNextBlockTimestamp = evm_setNextBlockTimestamp
    anvil_setAutomine = evm_setAutomine
    anvil_increaseTime = evm_increaseTime
    anvil_snapshot = evm_snapshot
    anvil_revert = evm_revert
    anvil_setBlockGasLimit = evm_setBlockGasLimit
