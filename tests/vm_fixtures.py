"""Shared fixtures of the INFER fork tests: a real py-evm MiningChain on an in-memory AtomicDB.

`InferChain(vm_class, accounts)` starts from a genesis with a funded sender and the given accounts
(code + storage, e.g. a sealed ModelStore built by `evm_ext.contracts.sealed_storage`); `send()` applies a
signed transaction and returns (receipt, computation).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from eth._utils.address import generate_contract_address
from eth.abc import ComputationAPI, StateAPI
from eth.chains.base import MiningChain
from eth.db.atomic import AtomicDB
from eth_keys import keys
from eth_utils import keccak

from benchmarks.calibrate_gas import mlp
from evm_ext.contracts import DATA_BASE, SEALED_SLOT, model_store, sealed_storage
from evm_ext.model import Model, load_model
from evm_ext.vm.bytecode import assemble

SENDER_KEY = keys.PrivateKey(b"\x01" * 32)
SENDER = SENDER_KEY.public_key.to_canonical_address()
GAS_LIMIT = 60_000_000
GAS_PRICE = 10**10


def address(label: str) -> bytes:
    """A deterministic 20-byte address for a test account."""
    return keccak(label.encode())[:20]


def model_store_account(data: bytes, owner: bytes = SENDER) -> dict:
    """Genesis account of a sealed ModelStore holding `data`."""
    return {"code": model_store().runtime, "storage": sealed_storage(data, owner)}


class InferChain:
    """A MiningChain on `vm_class` whose genesis holds `accounts` ({address: {code, storage}})."""

    def __init__(self, vm_class: type, accounts: dict[bytes, dict] | None = None) -> None:
        chain_class = MiningChain.configure(vm_configuration=((0, vm_class),), chain_id=1337)
        genesis = {SENDER: {"balance": 10**26, "nonce": 0, "code": b"", "storage": {}}}
        for addr, account in (accounts or {}).items():
            genesis[addr] = {"balance": 0, "nonce": 1, "code": account.get("code", b""),
                             "storage": account.get("storage", {})}
        params = {"difficulty": 0, "gas_limit": GAS_LIMIT, "timestamp": 1, "coinbase": b"\x00" * 20}
        self.chain = chain_class.from_genesis(AtomicDB(), params, genesis)
        self.nonce = 0
        self.block_gas_used = 0

    def send(self, to: bytes, data: bytes = b"", gas: int = 10_000_000) -> tuple[int, ComputationAPI]:
        """Apply a legacy transaction from SENDER in the pending block; return (its gas used, computation)."""
        vm = self.chain.get_vm()
        tx = vm.create_unsigned_transaction(nonce=self.nonce, gas_price=GAS_PRICE, gas=gas, to=to, value=0,
                                            data=data).as_signed_transaction(SENDER_KEY)
        self.nonce += 1
        _, receipt, computation = self.chain.apply_transaction(tx)
        gas_used, self.block_gas_used = receipt.gas_used - self.block_gas_used, receipt.gas_used
        return gas_used, computation

    def deploy(self, init_code: bytes, gas: int = 5_000_000) -> bytes:
        """Create a contract from SENDER, return its address."""
        new_address = generate_contract_address(SENDER, self.nonce)
        _, computation = self.send(b"", init_code, gas)
        assert computation.is_success, computation.error
        return new_address

    @property
    def state(self) -> StateAPI:
        """The state after the transactions sent so far."""
        return self.chain.get_vm().state


# Probe contracts (hand-assembled). Memory: [0, 32) success flag, [32, 64) gas INFER used, [64, ...) output
# area, then the input (copied from calldata).
OUT = 64
PROBE_OVERHEAD = 5 * 3 + 2  # the five PUSHes of INFER's arguments and the second GAS, between the two GAS


def input_offset(out_size: int) -> int:
    return OUT + -(-out_size // 32) * 32


def infer_probe(model: bytes, in_size: int, out_size: int, out_offset: int = OUT) -> bytes:
    """Copies calldata to the input area, runs INFER(model, IN, in_size, out_offset, out_size) between two
    GAS, returns [success, gas used by INFER, the output area]."""
    in_offset = input_offset(out_size)
    return assemble(
        "CALLDATASIZE", 0, in_offset, "CALLDATACOPY",
        "GAS", out_size, out_offset, in_size, in_offset, model, "INFER", "GAS",
        "SWAP1", 0, "MSTORE", "SWAP1", "SUB", PROBE_OVERHEAD, "SWAP1", "SUB", 32, "MSTORE",
        OUT + out_size, 0, "RETURN",
    )


def modelinfo_probe(model: bytes) -> bytes:
    """Returns [MODELINFO(model), gas used by MODELINFO]."""
    return assemble("GAS", model, "MODELINFO", "GAS", "SWAP1", 0, "MSTORE",
                    "SWAP1", "SUB", 3 + 2, "SWAP1", "SUB", 32, "MSTORE", 64, 0, "RETURN")


def static_caller(target: bytes) -> bytes:
    """STATICCALLs `target` with this call's calldata; returns [call success, target's return data]."""
    return assemble(
        "CALLDATASIZE", 0, 0, "CALLDATACOPY",
        0, 0, "CALLDATASIZE", 0, target, "GAS", "STATICCALL", 0, "MSTORE",
        "RETURNDATASIZE", 0, 32, "RETURNDATACOPY", "RETURNDATASIZE", 32, "ADD", 0, "RETURN",
    )


def parse_probe(output: bytes) -> tuple[int, int, bytes]:
    """(success, INFER gas, output area) from an infer_probe's return data."""
    return int.from_bytes(output[:32], "big"), int.from_bytes(output[32:64], "big"), output[64:]


def memory_cost(size_bytes: int) -> int:
    """Yellow paper memory cost of `size_bytes` (rounded up to words): 3 w + w^2 / 512."""
    words = -(-size_bytes // 32)
    return 3 * words + words * words // 512


# Models and inputs shared by the tests.
ROOT = Path(__file__).resolve().parents[1]
MNIST_MLP = load_model(ROOT / "models/mnist_mlp/mnist_mlp.aiem")
SMALL = mlp((16, 8, 4), seed=3)  # built in code: tests/test_vm_infer.py pins its gas as a literal
STORE = address("store")
PROBE = address("probe")


def random_inputs(model: Model, count: int, seed: int = 0) -> list[bytes]:
    """`count` random int8 inputs of `model`."""
    rng = np.random.default_rng(seed)
    return [rng.integers(-128, 128, model.input_size, dtype=np.int8).tobytes() for _ in range(count)]


def mnist_inputs(count: int) -> list[bytes]:
    """The first `count` MNIST test images, quantized for the shipped MLP."""
    images = np.load(ROOT / "models/data/mnist_test_images.npy")[:count].reshape(count, -1)
    return [MNIST_MLP.encode_input(image.astype(np.float64) / 255.0) for image in images]


def failing_accounts(model: Model) -> dict[str, tuple[dict | None, str]]:
    """name -> (account at STORE, which gas steps apply: 'header' = steps 1-3, 'words' = steps 1-3 and 5)."""
    raw = model.encode()
    runtime = model_store().runtime
    owner = b"\x01" * 20
    unsealed = sealed_storage(raw, owner) | {SEALED_SLOT: 0}
    garbage = bytes(range(256)) * 2
    tampered = sealed_storage(raw, owner)
    tampered[DATA_BASE + 3] ^= 1
    return {
        "missing": (None, "header"),
        "unsealed": ({"code": runtime, "storage": unsealed}, "header"),
        "wrong code hash": ({"code": runtime + b"\x00", "storage": sealed_storage(raw, owner)}, "header"),
        "empty": ({"code": runtime, "storage": {SEALED_SLOT: 1}}, "header"),
        "malformed": ({"code": runtime, "storage": sealed_storage(garbage, owner)}, "words"),
        "truncated": ({"code": runtime, "storage": sealed_storage(raw[:-7], owner)}, "words"),
        "hash mismatch": ({"code": runtime, "storage": tampered}, "words"),
    }
