"""The model's identity hash and its code-chunk layout (docs/model-storage.md).

On chain a model's bytes are cut into chunks of CHUNK_SIZE bytes (the last one shorter); chunk i is the
runtime code of a data contract, `0x00 (STOP) ‖ bytes[i*CHUNK_SIZE : (i+1)*CHUNK_SIZE]`, so that the code
can never execute and every chunk fits EIP-170's 24,576-byte code limit. The identity is

    model_id(data) = keccak256(uint256(len(data)) ‖ keccak256(code_0) ‖ … ‖ keccak256(code_{n-1}))

a commitment over the chunks' code hashes: ModelStore.seal() computes it on chain from EXTCODEHASH (32
bytes a chunk, never the model's bytes), INFER recomputes it from the chunk accounts' code hashes, and
`aievm model inspect` / `deploy` compute it off chain from the file. It is a pure function of the bytes:
equal models have equal ids, and the layout is fixed, so the id does not depend on how it was uploaded.
"""

from __future__ import annotations

from eth_utils import keccak

CHUNK_SIZE = 24_575  # EIP-170 max code size (24,576) minus the STOP prefix
CHUNK_PREFIX = b"\x00"  # STOP: a chunk's code halts at once if anything calls it


def chunk_count(length: int) -> int:
    """Number of chunks of a model of `length` bytes."""
    return -(-length // CHUNK_SIZE)


def chunks(data: bytes) -> list[bytes]:
    """The model bytes of each chunk, in order (every chunk but the last is CHUNK_SIZE bytes)."""
    return [data[i : i + CHUNK_SIZE] for i in range(0, len(data), CHUNK_SIZE)]


def chunk_code(chunk: bytes) -> bytes:
    """The runtime code of the data contract that holds `chunk`."""
    return CHUNK_PREFIX + chunk


def id_from_code_hashes(length: int, code_hashes: list[bytes]) -> bytes:
    """The identity of a model of `length` bytes whose chunk codes have these keccak-256 hashes."""
    return keccak(length.to_bytes(32, "big") + b"".join(code_hashes))


def model_id(data: bytes) -> bytes:
    """The identity hash of the model bytes `data` (see the module docstring)."""
    return id_from_code_hashes(len(data), [keccak(chunk_code(c)) for c in chunks(data)])
