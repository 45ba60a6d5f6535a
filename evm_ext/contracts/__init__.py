"""ModelStore: the compiled contract, its layout and the upload plan used by deployers.

Layout (consensus with the INFER fork, docs/model-storage.md): chunk i of the model is the data contract
the store created with nonce i + 1, runtime code `0x00 ‖ bytes[i*CHUNK_SIZE : (i+1)*CHUNK_SIZE]`;
slot 0 packs length (bits 0-63), sealed flag (64-71), inputSize (72-135) and outputSize (136-199);
slot 1 the owner; slot 2 the model id (`evm_ext.model.identity.model_id`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from eth._utils.address import generate_contract_address
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

from evm_ext.model.identity import CHUNK_SIZE, chunk_code, chunk_count, chunks, model_id

HEADER_SLOT = 0
OWNER_SLOT = 1
ID_SLOT = 2
MAX_LENGTH = 32 << 20  # ModelStore.MAX_LENGTH, the fork's MAX_MODEL_BYTES

# Upper bounds of the gas of ModelStore transactions (each checked by tests/test_vm_model_store.py).
DEPLOY_GAS = 1_500_000
APPEND_TX_GAS = 120_000  # intrinsic 21,000 + CREATE 32,000 + dispatch, `length` SSTORE, event
APPEND_BYTE_GAS = 220  # code deposit 200 + calldata 16 + init code and memory, per byte
SEAL_TX_GAS = 120_000  # intrinsic + 3 SSTOREs + event
SEAL_CHUNK_GAS = 3_100  # cold EXTCODEHASH 2,600 + address derivation and loop (3,050 measured)

ARTIFACT_PATH = Path(__file__).resolve().parent / "ModelStore.json"


@dataclass(frozen=True)
class ModelStoreArtifact:
    """The committed ModelStore build: `runtime_code_hash` is pinned by the fork as a consensus constant."""

    abi: list[dict]
    bytecode: bytes
    runtime: bytes
    runtime_code_hash: bytes


@cache
def model_store() -> ModelStoreArtifact:
    """The ModelStore artifact (`ModelStore.json`, rebuilt by `python -m evm_ext.contracts.build`)."""
    raw = json.loads(ARTIFACT_PATH.read_text())
    return ModelStoreArtifact(
        abi=raw["abi"],
        bytecode=bytes.fromhex(raw["bytecode"][2:]),
        runtime=bytes.fromhex(raw["runtime"][2:]),
        runtime_code_hash=bytes.fromhex(raw["runtimeCodeHash"][2:]),
    )


@dataclass(frozen=True)
class Header:
    """ModelStore slot 0, unpacked."""

    length: int
    sealed: bool
    input_size: int
    output_size: int

    @classmethod
    def unpack(cls, word: int) -> Header:
        mask = (1 << 64) - 1
        return cls(word & mask, (word >> 64) & 0xFF != 0, (word >> 72) & mask, (word >> 136) & mask)

    def pack(self) -> int:
        return self.length | int(self.sealed) << 64 | self.input_size << 72 | self.output_size << 136


def chunk_address(store: bytes, index: int) -> bytes:
    """The address of chunk `index` of the ModelStore at `store` (its CREATE with nonce index + 1)."""
    return generate_contract_address(store, index + 1)


def sealed_accounts(data: bytes, store: bytes, owner: bytes, input_size: int, output_size: int) -> dict:
    """Genesis accounts ({address: {code, storage, nonce}}) of a sealed ModelStore at `store` holding `data`
    with its chunks: exactly the state an upload through the contract leaves (a test checks it)."""
    header = Header(len(data), True, input_size, output_size)
    accounts = {store: {"code": model_store().runtime, "nonce": chunk_count(len(data)) + 1, "storage": {
        OWNER_SLOT: int.from_bytes(owner, "big"), HEADER_SLOT: header.pack(),
        ID_SLOT: int.from_bytes(model_id(data), "big")}}}
    for i, chunk in enumerate(chunks(data)):
        accounts[chunk_address(store, i)] = {"code": chunk_code(chunk), "nonce": 1, "storage": {}}
    return accounts


def upload_plan(data: bytes) -> list[bytes]:
    """The chunks to `append`, in order (an interrupted upload resumes at the store's `chunkCount()`)."""
    if not data:
        raise ValueError("cannot upload an empty model")
    if len(data) > MAX_LENGTH:
        raise ValueError(f"the model has {len(data):,} bytes; ModelStore holds at most {MAX_LENGTH:,}")
    return chunks(data)


def append_gas(size: int) -> int:
    """Upper bound of the gas of `append(data)` for a chunk of `size` bytes (under 5.6M for a full one)."""
    return APPEND_TX_GAS + APPEND_BYTE_GAS * size


def seal_gas(length: int) -> int:
    """Upper bound of the gas of `seal()` for a model of `length` bytes: one EXTCODEHASH a chunk, memory
    for the hashes (3.6M gas for a 32 MiB model)."""
    words = chunk_count(length) + 1
    return SEAL_TX_GAS + SEAL_CHUNK_GAS * chunk_count(length) + 3 * words + words * words // 512


def append_calldata(chunk: bytes) -> bytes:
    """ABI-encoded calldata of `append(bytes data)`."""
    return function_signature_to_4byte_selector("append(bytes)") + encode(["bytes"], [chunk])


def seal_calldata(expected_id: bytes, input_size: int, output_size: int) -> bytes:
    """ABI-encoded calldata of `seal(bytes32 expectedId, uint64 inSize, uint64 outSize)`."""
    return function_signature_to_4byte_selector("seal(bytes32,uint64,uint64)") + encode(
        ["bytes32", "uint64", "uint64"], [expected_id, input_size, output_size]
    )


__all__ = [
    "CHUNK_SIZE",
    "DEPLOY_GAS",
    "HEADER_SLOT",
    "ID_SLOT",
    "MAX_LENGTH",
    "OWNER_SLOT",
    "Header",
    "ModelStoreArtifact",
    "append_calldata",
    "append_gas",
    "chunk_address",
    "model_store",
    "seal_calldata",
    "seal_gas",
    "sealed_accounts",
    "upload_plan",
]
