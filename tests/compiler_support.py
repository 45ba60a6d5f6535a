"""Shared parts of the compiler tests: a real py-evm chain (deploy artifacts, transact, call) and a
tiny real model for INFER."""

from __future__ import annotations

import numpy as np
from eth.chains.base import MiningChain
from eth.db.atomic import AtomicDB
from eth.tools.builder.chain import build, disable_pow_check, fork_at, genesis
from eth.vm.forks import PragueVM
from eth.vm.spoof import SpoofTransaction
from eth_abi import decode, encode
from eth_keys import keys
from eth_utils import function_abi_to_4byte_selector

from evm_ext.model import Model
from evm_ext.model.ops import FullyConnected, Requant, Value
from solidity_patch import link_bytecode

_KEY = keys.PrivateKey(b"\x01" * 32)
GAS_LIMIT = 30_000_000
TX_GAS = 10_000_000


class Chain:
    """One funded sender on a fresh chain of `vm_class` (PragueVM unless given)."""

    def __init__(self, vm_class=PragueVM, accounts: dict[bytes, dict] | None = None):
        self.sender = _KEY.public_key.to_canonical_address()
        state = {self.sender: {"balance": 10**24, "nonce": 0, "code": b"", "storage": {}}}
        for address, account in (accounts or {}).items():
            state[address] = {"balance": 0, "nonce": 1, "code": b"", "storage": {}, **account}
        self.chain = build(
            MiningChain,
            fork_at(vm_class)(0),
            disable_pow_check(),
            genesis(
                db=AtomicDB(),
                params={
                    "gas_limit": GAS_LIMIT,
                    "difficulty": 0,
                    "nonce": b"\0" * 8,
                    "timestamp": 1_700_000_000,
                },
                state=state,
            ),
        )

    def _unsigned(self, to: bytes, data: bytes):
        nonce = self.chain.get_vm().state.get_nonce(self.sender)
        return self.chain.create_unsigned_transaction(
            nonce=nonce, gas_price=10**10, gas=TX_GAS, to=to, value=0, data=data
        )

    def transact(self, to: bytes, data: bytes):
        _, receipt, computation = self.chain.apply_transaction(
            self._unsigned(to, data).as_signed_transaction(_KEY)
        )
        self.chain.mine_block()
        return computation

    def deploy(
        self, artifact: dict, args: tuple[list, list] = ([], []), libraries: dict | None = None
    ) -> bytes:
        """Deploy `artifact` with constructor arguments `args` = (types, values); return its address."""
        bytecode = link_bytecode(artifact["bytecode"], artifact["linkReferences"], libraries or {})
        data = bytes.fromhex(bytecode[2:]) + encode(*args)
        computation = self.transact(b"", data)
        assert computation.is_success, computation.error
        return computation.msg.storage_address

    def call(self, address: bytes, abi: list, fn: str, *args, transact: bool = False):
        """Call function `fn` of the contract at `address` (by ABI); return the decoded outputs."""
        entry = next(e for e in abi if e.get("type") == "function" and e["name"] == fn)
        types = [i["type"] for i in entry["inputs"]]
        data = function_abi_to_4byte_selector(entry) + encode(types, list(args))
        if transact:
            computation = self.transact(address, data)
            computation.raise_if_error()
            output = computation.output
        else:
            tx = SpoofTransaction(self._unsigned(address, data), from_=self.sender)
            output = self.chain.get_transaction_result(tx, self.chain.header)
        return decode([o["type"] for o in entry["outputs"]], output)


def tiny_model(inputs: int = 16, outputs: int = 10, seed: int = 7) -> Model:
    """A one-layer int8 classifier with fixed random weights (a real model of the engine)."""
    rng = np.random.default_rng(seed)
    source = Value((inputs,), 0.05, 0)
    requant = Requant(0.1, 0, -128, 127, np.full(outputs, 1 << 30, np.uint32), np.full(outputs, 37, np.uint8))
    weight = rng.integers(-127, 128, (outputs, inputs), dtype=np.int8)
    bias = rng.integers(-500, 500, outputs, dtype=np.int32)
    return Model(source, [FullyConnected((0,), [source], weight, bias, requant)])
