"""The commitment to one inference: a Merkle tree per tensor, a hash over the tensors' roots.

Same code as `evm_ext/contracts/opml/ChunkTree.sol` (the on-chain side); invariants:
- a tensor's int8 bytes are cut into chunks of CHUNK bytes (the last one shorter); leaf i is
  keccak(chunk i); the leaves are padded with 32 zero bytes to a power of two and hashed pairwise,
  keccak(left ‖ right); a one-leaf tree's root is its leaf;
- value 0 is the model input, value k + 1 the output of op k (0-based), the last value the model output;
- the submission's `root` is keccak(root(value 0) ‖ root(value 1) ‖ ... ‖ root(value n)).
"""

from __future__ import annotations

from eth_utils import keccak

CHUNK = 32  # bytes (int8 elements) per chunk = per one-step proof; ChunkTree.CHUNK
ZERO = b"\x00" * 32


def leaf_count(size: int) -> int:
    return -(-size // CHUNK)


def leaves(tensor: bytes) -> list[bytes]:
    """The leaf hashes of a tensor's bytes."""
    return [keccak(tensor[i : i + CHUNK]) for i in range(0, len(tensor), CHUNK)]


def _levels(leaf: list[bytes]) -> list[list[bytes]]:
    """Every level of the padded tree, leaves first, root last."""
    if not leaf:
        raise ValueError("a tensor has at least one byte")
    width = 1
    while width < len(leaf):
        width *= 2
    level = leaf + [ZERO] * (width - len(leaf))
    levels = [level]
    while len(level) > 1:
        level = [keccak(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
        levels.append(level)
    return levels


def root_of(leaf: list[bytes]) -> bytes:
    return _levels(leaf)[-1][0]


def tensor_root(tensor: bytes) -> bytes:
    return root_of(leaves(tensor))


def proof(leaf: list[bytes], index: int) -> list[bytes]:
    """The siblings of leaf `index`, bottom-up (ChunkTree.verify)."""
    path = []
    for level in _levels(leaf)[:-1]:
        path.append(level[index ^ 1])
        index //= 2
    return path


def commitment_root(value_roots: list[bytes]) -> bytes:
    return keccak(b"".join(value_roots))
