// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

interface IModelStore {
    function length() external view returns (uint64);
    function isSealed() external view returns (bool);
    function chunkCount() external view returns (uint256);
    function chunk(uint256 index) external view returns (address);
}

/// @title ModelCode: the bytes of a sealed model, read from its ModelStore's code chunks.
/// @notice Chunk i is a data contract whose runtime code is 0x00 (STOP) ‖ model bytes
/// [i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE) (docs/model-storage.md), read with EXTCODECOPY from offset 1:
/// 2,600 gas per cold chunk account, 3 gas per word and the memory. Callers check the store's code hash
/// and seal first (OpmlGame.submit): a sealed canonical ModelStore's chunks never change.
library ModelCode {
    uint256 internal constant CHUNK_SIZE = 24575;

    /// The whole model.
    function load(address store) internal view returns (bytes memory m) {
        IModelStore s = IModelStore(store);
        uint256 length = s.length();
        uint256 n = s.chunkCount();
        m = new bytes(length);
        for (uint256 i = 0; i < n; i++) {
            address chunk = s.chunk(i);
            uint256 start = i * CHUNK_SIZE;
            uint256 size = length - start < CHUNK_SIZE ? length - start : CHUNK_SIZE;
            assembly ("memory-safe") {
                extcodecopy(chunk, add(add(m, 32), start), 1, size)
            }
        }
    }
}
