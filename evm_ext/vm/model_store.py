"""Reading a sealed model from a ModelStore account through the EVM state (what SLOAD sees).

Consensus constants: `MODEL_STORE_CODE_HASH` (the canonical ModelStore runtime code, see
`evm_ext/contracts/ModelStore.json`) and `MAX_MODEL_BYTES`. Reading is split in two so that the
interpreter can charge the per-word gas between them: `read_header` (a fixed number of slots) and
`load_model` (all data words, or the cache).
"""

from __future__ import annotations

from dataclasses import dataclass

from eth.abc import StateAPI
from eth_typing import Address
from eth_utils import keccak

from evm_ext.contracts import DATA_BASE, HASH_SLOT, LENGTH_SLOT, SEALED_SLOT
from evm_ext.model import Model, ModelFormatError, decode_model
from evm_ext.vm.model_cache import ABSENT, MODEL_CACHE

MODEL_STORE_CODE_HASH = bytes.fromhex("c3d05404c2140ac87a64700758511dcd5082a349410ef1174a3db3bc3442f4ca")
MAX_MODEL_BYTES = 1 << 22


@dataclass(frozen=True)
class ModelHeader:
    """A sealed ModelStore account with a length in (0, MAX_MODEL_BYTES] and its recorded keccak-256."""

    address: Address
    length: int
    recorded_hash: bytes


def read_header(state: StateAPI, address: Address) -> ModelHeader | None:
    """The header of the model at `address`, or None if it is not a sealed ModelStore of a valid length.

    Cached (`MODEL_CACHE`) while the account has no storage write in this state: then its slots are those
    of its committed storage root, which the key holds.
    """
    if state.get_code_hash(address) != MODEL_STORE_CODE_HASH:
        return None
    written = address in state._account_db._dirty_accounts
    key = None if written else (address, _committed_storage_root(state, address))
    header = ABSENT if key is None else MODEL_CACHE.lookup_header(key)
    if header is ABSENT:
        header = _read_header_slots(state, address)
        if key is not None:
            MODEL_CACHE.store_header(key, header)
    return header


def _read_header_slots(state: StateAPI, address: Address) -> ModelHeader | None:
    if state.get_storage(address, SEALED_SLOT) == 0:
        return None
    length = state.get_storage(address, LENGTH_SLOT)
    if not 0 < length <= MAX_MODEL_BYTES:
        return None
    return ModelHeader(address, length, state.get_storage(address, HASH_SLOT).to_bytes(32, "big"))


def read_model_bytes(state: StateAPI, address: Address, length: int) -> bytes:
    """The first `length` bytes stored in the data words of `address`."""
    words = -(-length // 32)
    raw = b"".join(state.get_storage(address, DATA_BASE + i).to_bytes(32, "big") for i in range(words))
    return raw[:length]


def load_model(state: StateAPI, header: ModelHeader) -> Model | None:
    """The decoded model, or None if its bytes do not hash to the recorded keccak-256 or do not decode."""
    key = (
        header.address,
        MODEL_STORE_CODE_HASH,
        _committed_storage_root(state, header.address),
        header.recorded_hash,
        header.length,
    )
    model = MODEL_CACHE.lookup(key)
    if model is ABSENT:
        raw = read_model_bytes(state, header.address, header.length)
        model = verify_and_decode(raw, header.recorded_hash)
        MODEL_CACHE.store(key, model)
    return model


def _committed_storage_root(state: StateAPI, address: Address) -> bytes:
    """The account's storage root as last committed (py-evm updates it when the block's state root is made).

    With the recorded hash it pins the bytes: after sealing, ModelStore storage never changes, and the
    sealing write set is covered by the recorded keccak-256, so a stale root cannot alias other bytes; a
    genesis whose recorded hash does not match its bytes has its own root, so it cannot alias a valid one.
    py-evm exposes this (and the set of accounts written in this state, `_dirty_accounts`) only on its
    account database (pinned py-evm version).
    """
    return state._account_db._get_storage_root(address)


def verify_and_decode(raw: bytes, recorded_hash: bytes) -> Model | None:
    """The model encoded by `raw`, or None if keccak(raw) is not `recorded_hash` or `raw` does not decode."""
    if keccak(raw) != recorded_hash:
        return None
    try:
        return decode_model(raw)
    except ModelFormatError:
        return None
