"""ModelStore: the compiled contract, its storage layout and the upload plan used by deployers.

Storage layout (consensus with the INFER fork, docs/model-storage.md): slot 0 owner, slot 1 length,
slot 2 sealed flag, slot 3 keccak-256 of the model bytes, slot `DATA_BASE + i` model word `i`
(bytes `[32 i, 32 i + 32)`, big-endian, last word zero-padded).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector, keccak

OWNER_SLOT = 0
LENGTH_SLOT = 1
SEALED_SLOT = 2
HASH_SLOT = 3
DATA_BASE = int.from_bytes(keccak((4).to_bytes(32, "big")), "big")

# Upper bounds of the gas used by ModelStore transactions (each checked by tests/test_vm_model_store.py).
WRITE_TX_GAS = 60_000  # intrinsic 21000 + calldata head + dispatch + `length` SSTORE + event
WRITE_WORD_GAS = 23_000  # SSTORE of a fresh slot (22100) + 32 calldata bytes (512) + loop
SEAL_TX_GAS = 100_000  # intrinsic + 3 SSTOREs + event
SEAL_WORD_GAS = 2_200  # cold SLOAD (2100) + loop + memory

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


def data_words(data: bytes) -> list[int]:
    """The storage words holding `data`: word i is bytes [32 i, 32 i + 32), zero-padded at the end."""
    padded = data + b"\x00" * (-len(data) % 32)
    return [int.from_bytes(padded[i : i + 32], "big") for i in range(0, len(padded), 32)]


def sealed_storage(data: bytes, owner: bytes) -> dict[int, int]:
    """The storage of a ModelStore owned by `owner` holding `data`, sealed (e.g. for a genesis alloc)."""
    words = data_words(data)
    storage = {
        OWNER_SLOT: int.from_bytes(owner, "big"),
        LENGTH_SLOT: len(data),
        SEALED_SLOT: 1,
        HASH_SLOT: int.from_bytes(keccak(data), "big"),
    }
    storage.update({DATA_BASE + i: word for i, word in enumerate(words) if word})
    return storage


def upload_plan(data: bytes, gas_budget: int) -> list[tuple[int, bytes]]:
    """Split `data` into `(offset, chunk)` writes whose transactions each need at most `gas_budget` gas.

    Offsets are 32-byte aligned; rewriting a chunk is idempotent, so a deployer can resume after a
    failure by re-sending the remaining (or all) chunks, then call `seal()` (`seal_gas(len(data))`).
    """
    if not data:
        raise ValueError("cannot upload an empty model")
    words_per_tx = (gas_budget - WRITE_TX_GAS) // WRITE_WORD_GAS
    if words_per_tx < 1:
        raise ValueError(f"gas budget {gas_budget} is below one write ({WRITE_TX_GAS + WRITE_WORD_GAS} gas)")
    step = 32 * words_per_tx
    return [(offset, data[offset : offset + step]) for offset in range(0, len(data), step)]


def write_gas(chunk_size: int) -> int:
    """Upper bound of the gas of `write(offset, chunk)` for a chunk of `chunk_size` bytes."""
    return WRITE_TX_GAS + WRITE_WORD_GAS * -(-chunk_size // 32)


def seal_gas(length: int) -> int:
    """Upper bound of the gas of `seal()` for a model of `length` bytes (hashes every stored word)."""
    words = -(-length // 32)
    return SEAL_TX_GAS + SEAL_WORD_GAS * words + 3 * words + words * words // 512


def write_calldata(offset: int, chunk: bytes) -> bytes:
    """ABI-encoded calldata of `write(uint256 offset, bytes chunk)`."""
    return function_signature_to_4byte_selector("write(uint256,bytes)") + encode(
        ["uint256", "bytes"], [offset, chunk]
    )


def seal_calldata() -> bytes:
    """ABI-encoded calldata of `seal()`."""
    return function_signature_to_4byte_selector("seal()")
