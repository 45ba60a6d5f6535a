"""Shared fixtures of the INFER fork tests: a real py-evm MiningChain on an in-memory AtomicDB.

`InferChain(vm_class, accounts)` starts from a genesis with a funded sender and the given accounts
(code, storage and nonce, e.g. a sealed ModelStore and its chunks from `store_accounts`); `send()` applies a
signed transaction and returns (gas used, computation).
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

from evm_ext.contracts import HEADER_SLOT, ID_SLOT, Header, chunk_address, model_store, sealed_accounts
from evm_ext.model import Model, load_model
from evm_ext.model.builder import mlp
from evm_ext.model.identity import chunk_count, id_from_code_hashes
from evm_ext.vm import gas
from evm_ext.vm.bytecode import assemble

SENDER_KEY = keys.PrivateKey(b"\x01" * 32)
SENDER = SENDER_KEY.public_key.to_canonical_address()
GAS_LIMIT = 60_000_000
GAS_PRICE = 10**10


def address(label: str) -> bytes:
    """A deterministic 20-byte address for a test account."""
    return keccak(label.encode())[:20]


def store_accounts(model: Model, store: bytes | None = None, owner: bytes = SENDER) -> dict[bytes, dict]:
    """Genesis accounts of a sealed ModelStore at `store` (default STORE) holding `model`, and its chunks."""
    return sealed_accounts(model.encode(), store or STORE, owner, model.input_size, model.output_size)


class InferChain:
    """A MiningChain on `vm_class` whose genesis holds `accounts` ({address: {code, storage, nonce}})."""

    def __init__(self, vm_class: type, accounts: dict[bytes, dict] | None = None) -> None:
        chain_class = MiningChain.configure(vm_configuration=((0, vm_class),), chain_id=1337)
        genesis = {SENDER: {"balance": 10**26, "nonce": 0, "code": b"", "storage": {}}}
        for addr, account in (accounts or {}).items():
            genesis[addr] = {"balance": 0, "nonce": account.get("nonce", 1), "code": account.get("code", b""),
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


def failing_accounts(model: Model) -> dict[str, tuple[dict[bytes, dict], str]]:
    """name -> (genesis accounts, the last gas step that applies: 'store' (the store account), 'slots'
    (its two slots), 'chunks' (every chunk account) or 'decode' (copy and decode too), docs/opcodes.md)."""
    raw = model.encode()
    good = store_accounts(model)
    chunk0 = chunk_address(STORE, 0)
    sizes = (model.input_size, model.output_size)

    def with_header(header: Header) -> dict[bytes, dict]:
        accounts = {a: dict(v, storage=dict(v["storage"])) for a, v in good.items()}
        accounts[STORE]["storage"][HEADER_SLOT] = header.pack()
        return accounts

    def recorded(data: bytes, codes: list[bytes] | None = None) -> dict[bytes, dict]:
        """A sealed store whose chunks hold `data` (or the given codes), its id computed from those codes."""
        accounts = sealed_accounts(data, STORE, SENDER, *sizes)
        if codes is not None:
            for i, code in enumerate(codes):
                accounts[chunk_address(STORE, i)]["code"] = code
            accounts[STORE]["storage"][ID_SLOT] = int.from_bytes(
                id_from_code_hashes(len(data), [keccak(c) for c in codes]), "big")
        return accounts

    tampered = {**good, chunk0: {"code": good[chunk0]["code"][:-1] + b"\x01"}}
    missing_chunk = {a: v for a, v in good.items() if a != chunk0}
    return {
        "missing": ({}, "store"),
        "wrong code hash": ({STORE: {**good[STORE], "code": model_store().runtime + b"\x00"}}, "store"),
        "unsealed": (with_header(Header(len(raw), False, *sizes)), "slots"),
        "empty": (with_header(Header(0, True, *sizes)), "slots"),
        "tampered chunk": (tampered, "chunks"),
        "missing chunk": (missing_chunk, "chunks"),
        "chunk without STOP": (recorded(raw, [b"\x01" + raw]), "decode"),
        "malformed": (recorded(bytes(range(256)) * 2), "decode"),
        "truncated": (recorded(raw[:-7]), "decode"),
        "wrong recorded sizes": (sealed_accounts(raw, STORE, SENDER, sizes[0] + 1, sizes[1]), "decode"),
    }


def infer_steps(model: Model, memory: int = 0, decoded: bool = False) -> list[tuple[str, int]]:
    """The documented gas steps (docs/opcodes.md) of a successful INFER on `model` at STORE, each (reason
    as py-evm reports it, gas): cold accesses, and unless `decoded` (earlier in the transaction) copy,
    decode and one build per op."""
    raw = model.encode()
    n = chunk_count(len(raw))
    steps = [("INFER", gas.G_INFER)] + ([("memory", memory)] if memory else [])
    if decoded:
        steps += [("INFER: warm account", gas.WARM_STORAGE_READ_COST)]
        steps += [("INFER: warm slot", gas.WARM_STORAGE_READ_COST)] * 2
    else:
        steps += [("INFER: cold account", gas.COLD_ACCOUNT_ACCESS_COST)]
        steps += [("INFER: cold slot", gas.COLD_SLOAD_COST)] * 2
    if not decoded:
        steps += [("INFER: chunk: cold account", gas.COLD_ACCOUNT_ACCESS_COST)] * n
        steps += [("INFER: copy", gas.copy_gas(len(raw))),
                  ("INFER: decode", gas.decode_gas(len(raw), len(model.ops)))]
        steps += [("INFER: build", gas.build_gas(op.kind.name.lower())) for op in model.ops]
    return [*steps, ("INFER: compute", gas.compute_gas(model.op_costs()))]


def expected_infer_gas(model: Model, memory: int = 0, decoded: bool = False) -> int:
    """The documented formula (docs/gas.md) for a successful INFER."""
    return sum(amount for _, amount in infer_steps(model, memory, decoded))
