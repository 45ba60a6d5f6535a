"""Reading a sealed model from a ModelStore and its code chunks through the EVM state.

Consensus constants: `MODEL_STORE_CODE_HASH` (the canonical ModelStore runtime code, see
`evm_ext/contracts/ModelStore.json`) and `MAX_MODEL_BYTES`. Reading is split into steps so that the
instruction can charge each one before it is done (docs/opcodes.md): `read_store` (the account's code hash
and two storage slots), `verify_chunks` (one account read a chunk: its code hash), `read_model` (the
chunks' code, or the cache) and `decode` (each op's build charged before it is built).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from eth.abc import StateAPI
from eth_typing import Address

from evm_ext.contracts import HEADER_SLOT, ID_SLOT, Header, chunk_address
from evm_ext.model import Model, ModelFormatError, decode_model
from evm_ext.model.format import declared_op_count
from evm_ext.model.identity import CHUNK_PREFIX, CHUNK_SIZE, chunk_count, id_from_code_hashes
from evm_ext.model.ops import OpKind
from evm_ext.vm import gas
from evm_ext.vm.model_cache import ABSENT, MODEL_CACHE, CachedModel

MODEL_STORE_CODE_HASH = bytes.fromhex("8c1b2cdadeedadfe3b9298499376eaa97bfdc6704c9e539ded64aeb9e3dd6952")
MAX_MODEL_BYTES = 32 << 20
STORE_SLOTS = (HEADER_SLOT, ID_SLOT)  # the slots INFER reads; MODELINFO reads HEADER_SLOT only


@dataclass(frozen=True)
class StoreHeader:
    """A sealed ModelStore with a length in (0, MAX_MODEL_BYTES]: what its two slots record."""

    address: Address
    length: int
    input_size: int
    output_size: int
    model_id: bytes

    @property
    def chunks(self) -> int:
        return chunk_count(self.length)


def is_model_store(state: StateAPI, address: Address) -> bool:
    """Whether `address` holds the canonical ModelStore code."""
    return state.get_code_hash(address) == MODEL_STORE_CODE_HASH


def read_header(state: StateAPI, address: Address) -> Header:
    """Slot 0 of a ModelStore, unpacked (length, sealed flag, recorded sizes)."""
    return Header.unpack(state.get_storage(address, HEADER_SLOT))


def read_store(state: StateAPI, address: Address) -> StoreHeader | None:
    """The header of the ModelStore at `address` (slots 0 and 2), or None unless it is sealed with a length
    in (0, MAX_MODEL_BYTES]. The caller checked `is_model_store` and paid for both slots."""
    header = read_header(state, address)
    if not header.sealed or not 0 < header.length <= MAX_MODEL_BYTES:
        return None
    model_id = state.get_storage(address, ID_SLOT).to_bytes(32, "big")
    return StoreHeader(address, header.length, header.input_size, header.output_size, model_id)


def chunk_addresses(store: StoreHeader) -> list[Address]:
    return [Address(chunk_address(store.address, i)) for i in range(store.chunks)]


def verify_chunks(state: StateAPI, store: StoreHeader, addresses: list[Address]) -> bool:
    """Whether the chunk accounts' code hashes commit to the recorded model id (a tampered, missing or
    replaced chunk changes its code hash). Reads one account a chunk, never the code."""
    hashes = [state.get_code_hash(a) for a in addresses]
    return id_from_code_hashes(store.length, hashes) == store.model_id


def read_model(state: StateAPI, store: StoreHeader, addresses: list[Address]) -> CachedModel | bytes:
    """The cached decode of the verified model, or its bytes: the chunks' code without the STOP prefix
    (b"" if a chunk's prefix or size is not the layout's, which `decode` rejects)."""
    cached = MODEL_CACHE.lookup(store.model_id)
    if cached is not ABSENT:
        return cached
    parts = []
    for i, address in enumerate(addresses):
        code = state.get_code(address)
        size = min(CHUNK_SIZE, store.length - i * CHUNK_SIZE)
        if len(code) != size + 1 or code[:1] != CHUNK_PREFIX:
            return b""
        parts.append(code[1:])
    return b"".join(parts)


def matches_record(store: StoreHeader, model: Model | None) -> bool:
    """Whether `model` decoded and has the sizes its store recorded at sealing (MODELINFO reports them)."""
    recorded = (store.input_size, store.output_size)
    return model is not None and (model.input_size, model.output_size) == recorded


def declared_ops(raw: CachedModel | bytes) -> int:
    """The op count the decode charge is priced on (the same on a cache hit as on a miss)."""
    return raw.declared_ops if isinstance(raw, CachedModel) else declared_op_count(raw)


def decode(store: StoreHeader, raw: CachedModel | bytes, charge: Callable[[int], None]) -> Model | None:
    """The decoded model, or None if it does not decode.

    `charge(gas)` is called with each op's build price (`gas.build_gas`) before the op is built; on a
    cache hit, once with their sum, so that the gas is the same."""
    if isinstance(raw, CachedModel):
        charge(raw.build_gas)
        return raw.model
    charged = 0

    def before_build(kind: OpKind) -> None:
        nonlocal charged
        amount = gas.build_gas(kind.name.lower())
        charge(amount)
        charged += amount

    try:
        model: Model | None = decode_model(raw, before_build=before_build)
    except ModelFormatError:
        model = None
    MODEL_CACHE.store(store.model_id, CachedModel(model, declared_op_count(raw), charged), store.length)
    return model
