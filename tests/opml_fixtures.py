"""Shared helpers of tests/test_opml_*.py: the opml contracts on py-evm's stock CancunVM (no INFER).

`PlainChain` is a MiningChain on `eth.vm.forks.CancunVM` (the unmodified fork: opcode 0xC0 is invalid
there), so everything run on it runs on an EVM without INFER. Calls are real transactions.
"""

from __future__ import annotations

from typing import Any

from eth._utils.address import generate_contract_address
from eth.chains.base import MiningChain
from eth.db.atomic import AtomicDB
from eth.vm.forks import CancunVM
from eth_keys import keys
from web3 import Web3

from evm_ext.contracts.opml import artifacts

GAS_LIMIT = 60_000_000
KEYS = [keys.PrivateKey(bytes([i + 1]) * 32) for i in range(3)]
ADDRESSES = [k.public_key.to_canonical_address() for k in KEYS]


class PlainChain:
    """A stock-Cancun MiningChain with three funded accounts and `accounts` (e.g. a sealed ModelStore and
    its chunks, `evm_ext.contracts.sealed_accounts`); one block per transaction. `vm_class` replaces the
    stock fork only where a test needs INFER (the InferOneStep verifier)."""

    def __init__(self, accounts: dict[bytes, dict] | None = None, vm_class: type = CancunVM) -> None:
        chain_class = MiningChain.configure(vm_configuration=((0, vm_class),), chain_id=1337)
        genesis = {a: {"balance": 10**24, "nonce": 0, "code": b"", "storage": {}} for a in ADDRESSES}
        for address, account in (accounts or {}).items():
            genesis[address] = {"balance": 0, "nonce": account.get("nonce", 1), "code": account["code"],
                                "storage": account["storage"]}
        params = {"difficulty": 0, "gas_limit": GAS_LIMIT, "timestamp": 1, "coinbase": b"\x00" * 20}
        self.chain = chain_class.from_genesis(AtomicDB(), params, genesis)
        self.nonces = [0, 0, 0]

    def send(self, to: bytes, data: bytes, sender: int = 0, value: int = 0, gas: int = 29_000_000):
        """Apply and mine one transaction; returns (gas used, computation)."""
        vm = self.chain.get_vm()
        tx = vm.create_unsigned_transaction(
            nonce=self.nonces[sender], gas_price=10**9 * 2, gas=gas, to=to, value=value, data=data
        ).as_signed_transaction(KEYS[sender])
        self.nonces[sender] += 1
        _, receipt, computation = self.chain.apply_transaction(tx)
        self.chain.mine_block()
        return receipt.gas_used, computation

    def deploy(self, name: str, *args: Any, sender: int = 0) -> bytes:
        art = artifacts()[name]
        data = Web3().eth.contract(abi=art.abi, bytecode=art.bytecode).constructor(*args).data_in_transaction
        address = generate_contract_address(ADDRESSES[sender], self.nonces[sender])
        _, computation = self.send(b"", bytes.fromhex(data[2:]), sender)
        assert computation.is_success, computation.error
        return address

    def mine(self, blocks: int) -> None:
        for _ in range(blocks):
            self.chain.mine_block()

    @property
    def block(self) -> int:
        return self.chain.get_canonical_head().block_number + 1  # the block the next transaction lands in

    def balance(self, address: bytes) -> int:
        return self.chain.get_vm().state.get_balance(address)


def encode(name: str, fn: str, *args: Any) -> bytes:
    data = Web3().eth.contract(abi=artifacts()[name].abi).encode_abi(fn, args=list(args))
    return bytes.fromhex(data[2:])


def decode(name: str, fn: str, output: bytes) -> Any:
    contract = Web3().eth.contract(abi=artifacts()[name].abi)
    (abi,) = [e for e in contract.abi if e.get("name") == fn]
    from eth_abi import decode as abi_decode

    values = abi_decode([o["type"] for o in abi["outputs"]], output)
    return values[0] if len(values) == 1 else values
