// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

interface IModelStore {
    function length() external view returns (uint256);
    function isSealed() external view returns (bool);
    function read(uint256 offset, uint256 size) external view returns (bytes memory);
}

/// @title ModelCode: the bytes of a sealed model, read from its ModelStore.
/// @notice The only place that knows where a ModelStore keeps its bytes.
library ModelCode {
    /// The whole model. Callers check the store's code hash and seal first (OpmlGame.submit).
    function load(address store) internal view returns (bytes memory) {
        IModelStore s = IModelStore(store);
        return s.read(0, s.length());
    }
}
