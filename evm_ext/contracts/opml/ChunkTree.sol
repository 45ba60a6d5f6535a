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

    /// The root over `leaf` hashes (padded with zeros to a power of two; consumed as scratch space).
    function rootOf(bytes32[] memory leaf) internal pure returns (bytes32) {
        require(leaf.length > 0, "empty tree");
        uint256 width = 1;
        while (width < leaf.length) width *= 2;
        bytes32[] memory level = new bytes32[](width);
        for (uint256 i = 0; i < leaf.length; i++) level[i] = leaf[i];
        while (width > 1) {
            width /= 2;
            for (uint256 i = 0; i < width; i++) {
                level[i] = keccak256(abi.encodePacked(level[2 * i], level[2 * i + 1]));
            }
        }
        return level[0];
    }
}
