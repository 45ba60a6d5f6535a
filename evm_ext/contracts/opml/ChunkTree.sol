// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ChunkTree: the Merkle commitment to one tensor (docs/optimistic.md, "Commitment").
/// @notice A tensor's int8 bytes are cut into chunks of CHUNK bytes (the last one shorter); leaf i is
/// keccak256(chunk i); the leaves are padded with bytes32(0) to a power of two and hashed pairwise,
/// keccak256(left ‖ right), up to the root. A one-leaf tree's root is its leaf. The tensor's size is
/// fixed by the model, so the root commits to every byte. `nodes/opml/commitment.py` is the same code.
library ChunkTree {
    /// Output elements (bytes) per chunk: one one-step proof recomputes one chunk.
    uint256 internal constant CHUNK = 32;

    function leafCount(uint256 size) internal pure returns (uint256) {
        return (size + CHUNK - 1) / CHUNK;
    }

    /// The leaves of `tensor`.
    function leaves(bytes memory tensor) internal pure returns (bytes32[] memory out) {
        uint256 n = leafCount(tensor.length);
        out = new bytes32[](n);
        for (uint256 i = 0; i < n; i++) {
            uint256 start = i * CHUNK;
            uint256 len = tensor.length - start < CHUNK ? tensor.length - start : CHUNK;
            bytes32 h;
            assembly ("memory-safe") {
                h := keccak256(add(add(tensor, 32), start), len)
            }
            out[i] = h;
        }
    }

    /// The root of `tensor`'s tree.
    function root(bytes memory tensor) internal pure returns (bytes32) {
        return rootOf(leaves(tensor));
    }

    /// The root over `leaf` hashes (padded with zeros to a power of two). Pairs are hashed in scratch
    /// space and parents overwrite the level in place, so memory grows by one level only.
    function rootOf(bytes32[] memory leaf) internal pure returns (bytes32 h) {
        require(leaf.length > 0, "empty tree");
        uint256 width = 1;
        while (width < leaf.length) width *= 2;
        bytes32[] memory level = new bytes32[](width);
        for (uint256 i = 0; i < leaf.length; i++) level[i] = leaf[i];
        assembly ("memory-safe") {
            let base := add(level, 32)
            for {} gt(width, 1) {} {
                width := shr(1, width)
                for { let i := 0 } lt(i, width) { i := add(i, 1) } {
                    mstore(0, mload(add(base, shl(6, i))))
                    mstore(32, mload(add(base, add(shl(6, i), 32))))
                    mstore(add(base, shl(5, i)), keccak256(0, 64))
                }
            }
            h := mload(base)
        }
    }

    /// Levels of the tree over `n` leaves: the length of every Merkle proof in it.
    function depth(uint256 n) internal pure returns (uint256 d) {
        while ((uint256(1) << d) < n) d++;
    }

    /// Whether `leaf` is leaf `index` of a tree of `n` leaves with root `rootHash`; `proof` lists the
    /// siblings bottom-up and must have exactly depth(n) entries (so no inner node passes as a leaf).
    function verify(bytes32 rootHash, uint256 n, uint256 index, bytes32 leaf, bytes32[] calldata proof)
        internal
        pure
        returns (bool)
    {
        if (index >= n || proof.length != depth(n)) return false;
        bytes32 h = leaf;
        for (uint256 i = 0; i < proof.length; i++) {
            bytes32 sibling = proof[i];
            assembly ("memory-safe") {
                switch and(index, 1)
                case 0 {
                    mstore(0, h)
                    mstore(32, sibling)
                }
                default {
                    mstore(0, sibling)
                    mstore(32, h)
                }
                h := keccak256(0, 64)
            }
            index >>= 1;
        }
        return h == rootHash;
    }
}
